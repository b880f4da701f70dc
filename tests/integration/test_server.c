/*
 * tests/integration/test_server.c — the server commands of a real server:
 * INFO (sections, keyspace, stats), CONFIG GET/SET/RESETSTAT/HELP (globs,
 * multi-pair validation, units, error texts), SLOWLOG, TIME, COMMAND
 * (COUNT/INFO/DOCS/LIST/HELP, and every command of server/commands.h) and
 * SHUTDOWN making the process exit 0. Memory limits live in test_limits.c.
 */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(server, .init = harness_setup, .fini = harness_teardown, .timeout = 30);

/* INFO as one string the caller frees. */
static char *
info(const char *section)
{
    redisReply *r = section != NULL ? harness_cmd(rc, "INFO %s", section) : harness_cmd(rc, "INFO");
    char *s;

    cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "INFO reply type %d", r->type);
    s = strdup(r->str);
    freeReplyObject(r);
    return s;
}

/* ---- INFO ----------------------------------------------------------------------- */

Test(server, info_server_says_redis_7_0_15_on_our_port)
{
    char *s = info("server");
    char want[64];

    cr_assert(eq(int, strncmp(s, "# Server\r\n", 10), 0), "%s", s);
    cr_assert(strstr(s, "\r\nredis_version:7.0.15\r\n") != NULL, "%s", s);
    cr_assert(strstr(s, "\r\nredis_mode:standalone\r\n") != NULL, "%s", s);
    snprintf(want, sizeof want, "\r\ntcp_port:%d\r\n", srv->port);
    cr_assert(strstr(s, want) != NULL, "%s", s);
    snprintf(want, sizeof want, "\r\nprocess_id:%d\r\n", (int)srv->pid);
    cr_assert(strstr(s, want) != NULL, "%s", s);
    cr_assert(strstr(s, "# Clients") == NULL, "only the asked section");
    free(s);
}

Test(server, info_lists_the_default_sections_in_redis_order)
{
    static const char *const sections[] = {
        "# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Persistence\r\n", "# Stats\r\n",
        "# Replication\r\n", "# CPU\r\n", "# Cluster\r\n", "# Keyspace\r\n",
    };
    char *s = info(NULL);
    const char *p = s;

    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        const char *q = strstr(p, sections[i]);

        cr_assert(q != NULL, "missing or out of order: %s", sections[i]);
        p = q + 1;
    }
    free(s);
    s = info("default");
    cr_assert(strstr(s, "# Keyspace\r\n") != NULL);
    free(s);
    s = info("all");
    cr_assert(strstr(s, "# Server\r\n") != NULL && strstr(s, "# Keyspace\r\n") != NULL);
    free(s);
}

Test(server, info_takes_several_sections_in_any_case)
{
    char *s = info("CLIENTS");

    cr_assert(eq(int, strncmp(s, "# Clients\r\nconnected_clients:", 29), 0), "%s", s);
    free(s);
    {
        redisReply *r = harness_cmd(rc, "INFO server clients");

        cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
        cr_assert(strstr(r->str, "# Server\r\n") != NULL);
        cr_assert(strstr(r->str, "# Clients\r\n") != NULL);
        cr_assert(strstr(r->str, "# Memory\r\n") == NULL);
        freeReplyObject(r);
    }
}

Test(server, info_of_an_unknown_section_is_empty)
{
    expect_bulk(rc, "", "INFO foo");
}

Test(server, info_keyspace_counts_keys_and_volatile_keys)
{
    char *s = info("keyspace");

    cr_assert(eq(str, s, "# Keyspace\r\n"));
    free(s);
    expect_ok(rc, "SET a 1");
    expect_ok(rc, "SET b 2 EX 100");
    s = info("keyspace");
    cr_assert(eq(int, strncmp(s, "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=", 41), 0), "%s", s);
    free(s);
}

Test(server, info_stats_counts_hits_misses_and_expired_keys)
{
    expect_ok(rc, "CONFIG RESETSTAT");
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GET k");
    expect_nil(rc, "GET nope");
    freeReplyObject(harness_cmd(rc, "MGET k nope")); /* one hit, one miss */
    expect_ok(rc, "SET e v PX 10");
    harness_sleep_ms(50);
    expect_nil(rc, "GET e");
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "keyspace_hits"), 2));
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "keyspace_misses"), 3));
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "expired_keys"), 1));
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "evicted_keys"), 0));
}

Test(server, info_stats_counts_commands_connections_and_errors)
{
    redisContext *c2;

    expect_ok(rc, "CONFIG RESETSTAT");
    expect_status(rc, "PONG", "PING");
    expect_error(rc, "ERR wrong number of arguments for 'get' command", "GET");
    c2 = harness_connect(srv);
    expect_status(c2, "PONG", "PING");
    redisFree(c2);
    /* RESETSTAT and the two PINGs: the rejected GET and the running INFO
     * do not count. */
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "total_commands_processed"), 3));
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "total_connections_received"), 1));
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "total_error_replies"), 1));
}

Test(server, config_resetstat_zeroes_the_counters)
{
    expect_nil(rc, "GET nope");
    cr_assert(harness_info_ll(rc, "stats", "keyspace_misses") >= 1);
    expect_ok(rc, "CONFIG RESETSTAT");
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "keyspace_misses"), 0));
    expect_error(rc, "ERR wrong number of arguments for 'config|resetstat' command",
                 "CONFIG RESETSTAT now");
}

Test(server, info_clients_counts_connections)
{
    redisContext *c2 = harness_connect(srv);

    expect_status(c2, "PONG", "PING");
    cr_assert(eq(i64, harness_wait_clients(rc, 2), 2));
    cr_assert(eq(i64, harness_info_ll(rc, "clients", "maxclients"), 10000));
    redisFree(c2);
}

Test(server, info_memory_grows_with_the_dataset)
{
    long long before = harness_info_ll(rc, "memory", "used_memory_dataset");
    long long after;
    char val[1000];

    memset(val, 'v', sizeof val);
    for (int i = 0; i < 1000; i++) {
        expect_ok(rc, "SET key:%d %b", i, val, sizeof val);
    }
    after = harness_info_ll(rc, "memory", "used_memory_dataset");
    cr_assert(after - before >= 1000 * 1000, "used_memory_dataset %lld -> %lld", before, after);
    cr_assert(harness_info_ll(rc, "memory", "used_memory") > 0);
    cr_assert(eq(i64, harness_info_ll(rc, "memory", "maxmemory"), 0));
    expect_ok(rc, "FLUSHALL");
    cr_assert(harness_info_ll(rc, "memory", "used_memory_dataset") < after - 900 * 1000);
}

Test(server, info_commandstats_and_errorstats_count_calls)
{
    char *s;

    expect_ok(rc, "CONFIG RESETSTAT");
    expect_nil(rc, "GET a");
    expect_nil(rc, "GET b");
    expect_error(rc, "ERR wrong number of arguments for 'get' command", "GET");
    s = info("commandstats");
    cr_assert(eq(int, strncmp(s, "# Commandstats\r\n", 16), 0), "%s", s);
    cr_assert(strstr(s, "\r\ncmdstat_get:calls=2,") != NULL, "%s", s);
    free(s);
    s = info("errorstats");
    cr_assert(eq(int, strncmp(s, "# Errorstats\r\nerrorstat_ERR:count=1\r\n", 37), 0), "%s", s);
    free(s);
}

/* ---- CONFIG GET ----------------------------------------------------------------- */

Test(server, config_get_returns_name_value_pairs)
{
    redisReply *r = harness_cmd(rc, "CONFIG GET maxmemory");

    expect_bulks(r, "maxmemory", "0");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET maxmemory-policy");
    expect_bulks(r, "maxmemory-policy", "allkeys-lru");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET port");
    {
        char port[16];

        snprintf(port, sizeof port, "%d", srv->port);
        expect_bulks(r, "port", port);
    }
    freeReplyObject(r);
}

Test(server, config_get_reports_the_defaults)
{
    static const char *const pairs[][2] = {
        {"timeout", "0"},
        {"tcp-keepalive", "300"},
        {"maxclients", "10000"},
        {"maxmemory-samples", "5"},
        {"proto-max-bulk-len", "536870912"},
        {"client-query-buffer-limit", "1073741824"},
        {"client-output-buffer-limit",
         "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
        {"slowlog-log-slower-than", "10000"},
        {"slowlog-max-len", "128"},
        {"hz", "10"},
        {"databases", "1"},
        {"save", ""},
        {"appendonly", "no"},
        {"requirepass", ""},
        {"bind", "127.0.0.1"},
        {"io-threads", "2"},
    };

    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        redisReply *r = harness_cmd(rc, "CONFIG GET %s", pairs[i][0]);

        expect_bulks(r, pairs[i][0], pairs[i][1]);
        freeReplyObject(r);
    }
}

Test(server, config_get_matches_globs)
{
    redisReply *r = harness_cmd(rc, "CONFIG GET maxmemory*");
    bool mm = false, policy = false, samples = false;

    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements % 2, 0));
    for (size_t i = 0; i < r->elements; i += 2) {
        const char *name = elem_str(r, i);

        cr_assert(eq(int, strncmp(name, "maxmemory", 9), 0), "%s", name);
        mm |= strcmp(name, "maxmemory") == 0;
        policy |= strcmp(name, "maxmemory-policy") == 0;
        samples |= strcmp(name, "maxmemory-samples") == 0;
    }
    cr_assert(mm && policy && samples);
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET maxmemory-polic?");
    expect_bulks(r, "maxmemory-policy", "allkeys-lru");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET *");
    cr_assert(r->elements >= 2 * 20, "CONFIG GET * returned %zu elements", r->elements);
    freeReplyObject(r);
}

Test(server, config_get_takes_several_patterns_without_duplicates)
{
    redisReply *r = harness_cmd(rc, "CONFIG GET hz maxmemory-samples");

    cr_assert(eq(sz, r->elements, 4));
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET maxmemory maxmemory max*ory");
    expect_bulks(r, "maxmemory", "0");
    freeReplyObject(r);
}

Test(server, config_get_of_unknown_names_is_empty)
{
    expect_array_len(rc, 0, "CONFIG GET nosuch");
    expect_array_len(rc, 0, "CONFIG GET nosuch*");
    expect_error(rc, "ERR wrong number of arguments for 'config|get' command", "CONFIG GET");
}

Test(server, config_get_is_case_insensitive)
{
    redisReply *r = harness_cmd(rc, "CONFIG GET MAXMEMORY");

    expect_bulks(r, "MAXMEMORY", "0");
    freeReplyObject(r);
}

/* ---- CONFIG SET ----------------------------------------------------------------- */

Test(server, config_set_changes_what_config_get_reports)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET maxmemory 1gb");
    r = harness_cmd(rc, "CONFIG GET maxmemory");
    expect_bulks(r, "maxmemory", "1073741824");
    freeReplyObject(r);
    expect_ok(rc, "CONFIG SET maxmemory 1GB");
    r = harness_cmd(rc, "CONFIG GET maxmemory");
    expect_bulks(r, "maxmemory", "1073741824");
    freeReplyObject(r);
    expect_ok(rc, "CONFIG SET maxmemory 100k");
    r = harness_cmd(rc, "CONFIG GET maxmemory");
    expect_bulks(r, "maxmemory", "100000");
    freeReplyObject(r);
    cr_assert(eq(i64, harness_info_ll(rc, "memory", "maxmemory"), 100000));
    expect_ok(rc, "CONFIG SET maxmemory 0");
}

Test(server, config_set_accepts_any_case_for_names_and_enums)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET MaxMemory-Policy NOEVICTION");
    r = harness_cmd(rc, "CONFIG GET maxmemory-policy");
    expect_bulks(r, "maxmemory-policy", "noeviction");
    freeReplyObject(r);
    expect_ok(rc, "CONFIG SET loglevel VERBOSE");
    r = harness_cmd(rc, "CONFIG GET loglevel");
    expect_bulks(r, "loglevel", "verbose");
    freeReplyObject(r);
}

Test(server, config_set_sets_several_pairs_at_once)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET timeout 10 hz 20");
    r = harness_cmd(rc, "CONFIG GET timeout");
    expect_bulks(r, "timeout", "10");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET hz");
    expect_bulks(r, "hz", "20");
    freeReplyObject(r);
}

Test(server, config_set_applies_nothing_if_any_pair_is_bad)
{
    redisReply *r;

    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be "
                 "parsed into an integer",
                 "CONFIG SET timeout 5 hz abc");
    expect_error(rc, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
                 "CONFIG SET timeout 5 nosuch 1");
    r = harness_cmd(rc, "CONFIG GET timeout");
    expect_bulks(r, "timeout", "0");
    freeReplyObject(r);
}

Test(server, config_set_rejects_duplicates_and_unknown_names)
{
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate "
                 "parameter",
                 "CONFIG SET timeout 10 timeout 20");
    expect_error(rc, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
                 "CONFIG SET nosuch 1");
    expect_error(rc, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
                 "CONFIG SET hz 10 nosuch 1");
}

Test(server, config_set_needs_name_value_pairs)
{
    expect_error(rc, "ERR wrong number of arguments for 'config|set' command", "CONFIG SET");
    expect_error(rc, "ERR wrong number of arguments for 'config|set' command",
                 "CONFIG SET requirepass");
    expect_error(rc, "ERR syntax error", "CONFIG SET maxmemory 1mb maxmemory");
}

Test(server, config_set_validates_values_with_redis_texts)
{
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must "
                 "be a memory value",
                 "CONFIG SET maxmemory 1.5mb");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must "
                 "be a memory value",
                 "CONFIG SET maxmemory -1");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be "
                 "between 0 and 2147483647 inclusive",
                 "CONFIG SET timeout 2147483648");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'tcp-keepalive') - argument "
                 "couldn't be parsed into an integer",
                 "CONFIG SET tcp-keepalive abc");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                 "argument must be between 1048576 and 9223372036854775807 inclusive",
                 "CONFIG SET proto-max-bulk-len 1000");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') "
                 "- argument must be between 1048576 and 9223372036854775807 inclusive",
                 "CONFIG SET client-query-buffer-limit 1000");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must "
                 "be between 1 and 1000000 inclusive",
                 "CONFIG SET maxclients 0");
}

Test(server, config_set_refuses_unknown_enum_values)
{
    redisReply *r = harness_cmd(rc, "CONFIG SET maxmemory-policy foo");
    static const char prefix[] = "ERR CONFIG SET failed (possibly related to argument "
                                 "'maxmemory-policy') - argument(s) must be one of the following: ";

    cr_assert(eq(int, r->type, REDIS_REPLY_ERROR));
    cr_assert(eq(int, strncmp(r->str, prefix, sizeof prefix - 1), 0), "%s", r->str);
    cr_assert(strstr(r->str, "allkeys-lru") != NULL && strstr(r->str, "noeviction") != NULL);
    freeReplyObject(r);
}

Test(server, config_set_refuses_immutable_directives)
{
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set "
                 "immutable config",
                 "CONFIG SET databases 16");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set "
                 "immutable config",
                 "CONFIG SET io-threads 4");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set "
                 "immutable config",
                 "CONFIG SET daemonize yes");
}

Test(server, config_set_only_accepts_no_persistence)
{
    expect_ok(rc, "CONFIG SET appendonly no");
    expect_ok(rc, "CONFIG SET save %s", "");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'appendonly') - ringcache "
                 "does not write an AOF: only appendonly no is accepted",
                 "CONFIG SET appendonly yes");
}

Test(server, config_set_client_output_buffer_limit_parses_classes)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET client-output-buffer-limit %s", "normal 1mb 512kb 10");
    r = harness_cmd(rc, "CONFIG GET client-output-buffer-limit");
    expect_bulks(r, "client-output-buffer-limit",
                 "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    freeReplyObject(r);
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') "
                 "- Wrong number of arguments in buffer limit configuration.",
                 "CONFIG SET client-output-buffer-limit %s", "normal 1mb 512kb");
    expect_error(rc,
                 "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') "
                 "- Invalid client class specified in buffer limit configuration.",
                 "CONFIG SET client-output-buffer-limit %s", "foo 1 1 1");
}

Test(server, config_checks_its_subcommand)
{
    redisReply *r;

    expect_error(rc, "ERR wrong number of arguments for 'config' command", "CONFIG");
    expect_error(rc, "ERR unknown subcommand 'foo'. Try CONFIG HELP.", "CONFIG foo");
    expect_error(rc, "ERR wrong number of arguments for 'config|help' command", "CONFIG HELP x");
    r = harness_cmd(rc, "CONFIG HELP");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(str, elem_str(r, 0),
                 "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    freeReplyObject(r);
}

/* ---- SLOWLOG -------------------------------------------------------------------- */

Test(server, slowlog_records_every_command_at_threshold_zero)
{
    redisReply *r, *e;

    expect_ok(rc, "CONFIG SET slowlog-log-slower-than 0");
    expect_ok(rc, "SLOWLOG RESET");
    expect_ok(rc, "CLIENT SETNAME logger");
    expect_ok(rc, "SET k v");
    r = harness_cmd(rc, "SLOWLOG GET 1");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 1));
    e = elem(r, 0);
    cr_assert(eq(sz, e->elements, 6));
    cr_assert(eq(int, elem(e, 0)->type, REDIS_REPLY_INTEGER)); /* id */
    cr_assert(eq(int, elem(e, 1)->type, REDIS_REPLY_INTEGER)); /* unix time */
    cr_assert(elem(e, 1)->integer > 1600000000);
    cr_assert(eq(int, elem(e, 2)->type, REDIS_REPLY_INTEGER)); /* microseconds */
    cr_assert(elem(e, 2)->integer >= 0);
    expect_bulks(elem(e, 3), "SET", "k", "v");
    cr_assert(eq(int, strncmp(elem_str(e, 4), "127.0.0.1:", 10), 0));
    cr_assert(eq(str, elem_str(e, 5), "logger"));
    freeReplyObject(r);
    /* RESET, SETNAME, SET and the GET above. */
    expect_int(rc, 4, "SLOWLOG LEN");
}

Test(server, slowlog_ids_grow_and_newest_comes_first)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET slowlog-log-slower-than 0");
    expect_ok(rc, "SET a 1");
    expect_ok(rc, "SET b 2");
    r = harness_cmd(rc, "SLOWLOG GET 2");
    cr_assert(eq(sz, r->elements, 2));
    cr_assert(elem(elem(r, 0), 0)->integer > elem(elem(r, 1), 0)->integer);
    expect_bulks(elem(elem(r, 0), 3), "SET", "b", "2");
    expect_bulks(elem(elem(r, 1), 3), "SET", "a", "1");
    freeReplyObject(r);
}

Test(server, slowlog_get_validates_its_count)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET slowlog-log-slower-than 0");
    for (int i = 0; i < 15; i++) {
        expect_ok(rc, "SET k%d v", i);
    }
    expect_array_len(rc, 10, "SLOWLOG GET");
    expect_array_len(rc, 0, "SLOWLOG GET 0");
    r = harness_cmd(rc, "SLOWLOG GET -1");
    cr_assert(r->elements >= 17, "SLOWLOG GET -1 returned %zu", r->elements);
    freeReplyObject(r);
    expect_error(rc, "ERR count should be greater than or equal to -1", "SLOWLOG GET -2");
    expect_error(rc, "ERR count should be greater than or equal to -1", "SLOWLOG GET x");
    expect_error(rc,
                 "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
                 "SLOWLOG GET 1 2");
    expect_error(rc,
                 "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.",
                 "slowlog get 1 2");
}

Test(server, slowlog_max_len_keeps_the_newest_entries)
{
    redisReply *r;

    expect_ok(rc, "CONFIG SET slowlog-log-slower-than 0");
    expect_ok(rc, "CONFIG SET slowlog-max-len 2");
    expect_ok(rc, "SET a 1");
    expect_ok(rc, "SET b 2");
    expect_ok(rc, "SET c 3");
    expect_int(rc, 2, "SLOWLOG LEN");
    r = harness_cmd(rc, "SLOWLOG GET");
    cr_assert(eq(sz, r->elements, 2));
    expect_bulks(elem(elem(r, 0), 3), "SLOWLOG", "LEN");
    expect_bulks(elem(elem(r, 1), 3), "SET", "c", "3");
    freeReplyObject(r);
}

Test(server, slowlog_threshold_minus_one_logs_nothing)
{
    expect_ok(rc, "CONFIG SET slowlog-log-slower-than -1");
    expect_ok(rc, "SLOWLOG RESET");
    expect_ok(rc, "SET k v");
    expect_int(rc, 0, "SLOWLOG LEN");
}

Test(server, slowlog_default_threshold_skips_fast_commands)
{
    expect_ok(rc, "SLOWLOG RESET");
    for (int i = 0; i < 100; i++) {
        expect_ok(rc, "SET k%d v", i);
    }
    expect_int(rc, 0, "SLOWLOG LEN");
}

Test(server, slowlog_truncates_long_arguments_and_argument_lists)
{
    char big[200], *argv[40];
    size_t lens[40];
    redisReply *r, *args;

    memset(big, 'x', sizeof big);
    expect_ok(rc, "CONFIG SET slowlog-log-slower-than 0");
    expect_ok(rc, "SET k %b", big, sizeof big);
    r = harness_cmd(rc, "SLOWLOG GET 1");
    args = elem(elem(r, 0), 3);
    cr_assert(eq(sz, args->elements, 3));
    cr_assert(eq(sz, elem(args, 2)->len, 128 + strlen("... (72 more bytes)")));
    cr_assert(eq(str, elem_str(args, 2) + 128, "... (72 more bytes)"));
    freeReplyObject(r);

    argv[0] = "MSET";
    lens[0] = 4;
    for (int i = 1; i < 40; i++) {
        argv[i] = "a";
        lens[i] = 1;
    }
    r = redisCommandArgv(rc, 40, (const char **)argv, lens);
    cr_assert(r != NULL);
    freeReplyObject(r); /* odd pair count: an error, still logged */
    r = harness_cmd(rc, "SLOWLOG GET 1");
    args = elem(elem(r, 0), 3);
    cr_assert(eq(sz, args->elements, 32));
    cr_assert(eq(str, elem_str(args, 0), "MSET"));
    cr_assert(eq(str, elem_str(args, 31), "... (9 more arguments)"));
    freeReplyObject(r);
}

Test(server, slowlog_checks_its_subcommand)
{
    redisReply *r;

    expect_error(rc, "ERR wrong number of arguments for 'slowlog' command", "SLOWLOG");
    expect_error(rc, "ERR unknown subcommand 'foo'. Try SLOWLOG HELP.", "SLOWLOG foo");
    expect_error(rc, "ERR wrong number of arguments for 'slowlog|len' command", "SLOWLOG LEN x");
    expect_error(rc, "ERR wrong number of arguments for 'slowlog|reset' command",
                 "SLOWLOG RESET x");
    r = harness_cmd(rc, "SLOWLOG HELP");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(str, elem_str(r, 0),
                 "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    freeReplyObject(r);
}

/* ---- TIME ----------------------------------------------------------------------- */

Test(server, time_returns_seconds_and_microseconds_of_now)
{
    struct timeval tv;
    redisReply *r = harness_cmd(rc, "TIME");
    long long secs, usecs;

    gettimeofday(&tv, NULL);
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 2));
    cr_assert(eq(int, elem(r, 0)->type, REDIS_REPLY_STRING));
    cr_assert(eq(int, elem(r, 1)->type, REDIS_REPLY_STRING));
    secs = atoll(elem_str(r, 0));
    usecs = atoll(elem_str(r, 1));
    cr_assert(llabs(secs - (long long)tv.tv_sec) <= 2, "TIME %lld vs %ld", secs, (long)tv.tv_sec);
    cr_assert(usecs >= 0 && usecs < 1000000, "usecs %lld", usecs);
    freeReplyObject(r);
    expect_error(rc, "ERR wrong number of arguments for 'time' command", "TIME 1");
}

/* ---- COMMAND -------------------------------------------------------------------- */

/* Every top-level command of server/commands.h this suite covers (the
 * cluster container belongs to the cluster tests). */
static const char *const all_commands[] = {
    "ping",     "echo",     "quit",     "select",   "hello",      "auth",     "client",
    "reset",    "command",  "get",      "set",      "setnx",      "setex",    "psetex",
    "getset",   "getdel",   "getex",    "mget",     "mset",       "msetnx",   "incr",
    "decr",     "incrby",   "decrby",   "incrbyfloat", "append",  "strlen",   "getrange",
    "substr",   "setrange", "del",      "unlink",   "exists",     "type",     "expire",
    "pexpire",  "expireat", "pexpireat", "ttl",     "pttl",       "expiretime", "pexpiretime",
    "persist",  "touch",    "keys",     "scan",     "randomkey",  "rename",   "renamenx",
    "dbsize",   "flushdb",  "flushall", "memory",   "info",       "config",   "time",
    "slowlog",  "shutdown",
};
#define NCOMMANDS (sizeof all_commands / sizeof *all_commands)

/* Every subcommand of server/commands.h this suite covers. */
static const char *const all_subcommands[] = {
    "client|id",      "client|setname",  "client|getname",    "client|list",   "client|info",
    "client|setinfo", "client|kill",     "client|help",       "config|get",    "config|set",
    "config|resetstat", "config|help",   "command|count",     "command|info",  "command|docs",
    "command|list",   "command|help",    "slowlog|get",       "slowlog|len",   "slowlog|reset",
    "slowlog|help",   "memory|usage",    "memory|help",
};
#define NSUBCOMMANDS (sizeof all_subcommands / sizeof *all_subcommands)

static bool
listed(const redisReply *list, const char *name)
{
    for (size_t j = 0; j < list->elements; j++) {
        if (strcmp(elem_str(list, j), name) == 0) {
            return true;
        }
    }
    return false;
}

Test(server, command_count_list_and_command_agree_on_every_command)
{
    redisReply *count, *list, *all;
    size_t subs = 0;

    /* The table may grow (cluster commands arrive with clustering): the
     * views must agree, and every command above must be there. COMMAND COUNT
     * and COMMAND count top-level commands; COMMAND LIST adds subcommands. */
    count = harness_cmd(rc, "COMMAND COUNT");
    cr_assert(eq(int, count->type, REDIS_REPLY_INTEGER));
    cr_assert(count->integer >= (long long)NCOMMANDS, "COMMAND COUNT %lld", count->integer);
    list = harness_cmd(rc, "COMMAND LIST");
    cr_assert(eq(int, list->type, REDIS_REPLY_ARRAY));
    for (size_t i = 0; i < NCOMMANDS; i++) {
        cr_assert(listed(list, all_commands[i]), "COMMAND LIST lacks %s", all_commands[i]);
    }
    for (size_t i = 0; i < NSUBCOMMANDS; i++) {
        cr_assert(listed(list, all_subcommands[i]), "COMMAND LIST lacks %s", all_subcommands[i]);
    }
    for (size_t j = 0; j < list->elements; j++) {
        subs += strchr(elem_str(list, j), '|') != NULL;
    }
    cr_assert(eq(sz, list->elements - subs, (size_t)count->integer));
    freeReplyObject(list);
    all = harness_cmd(rc, "COMMAND");
    cr_assert(eq(int, all->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, all->elements, (size_t)count->integer));
    for (size_t i = 0; i < all->elements; i++) {
        cr_assert(eq(sz, elem(all, i)->elements, 10), "COMMAND entry %zu", i);
    }
    freeReplyObject(all);
    freeReplyObject(count);
}

Test(server, every_listed_command_is_known_to_the_dispatcher)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        redisReply *r = harness_cmd(rc, "COMMAND INFO %s", all_commands[i]);

        cr_assert(eq(sz, r->elements, 1));
        cr_assert(eq(int, elem(r, 0)->type, REDIS_REPLY_ARRAY), "%s", all_commands[i]);
        cr_assert(eq(str, elem_str(elem(r, 0), 0), (char *)all_commands[i]));
        freeReplyObject(r);
    }
}

/* COMMAND INFO's fixed part: name, arity, flags, first, last, step. */
static void
check_command_info(const redisReply *e, const char *name, long long arity,
                   const char *const *flags, size_t nflags, long long first, long long last,
                   long long step)
{
    cr_assert(eq(sz, e->elements, 10), "%s", name);
    cr_assert(eq(str, elem_str(e, 0), (char *)name));
    cr_assert(eq(i64, elem(e, 1)->integer, arity), "%s arity", name);
    cr_assert(eq(sz, elem(e, 2)->elements, nflags), "%s flag count", name);
    for (size_t i = 0; i < nflags; i++) {
        cr_assert(eq(int, elem(elem(e, 2), i)->type, REDIS_REPLY_STATUS));
        cr_assert(eq(str, elem_str(elem(e, 2), i), (char *)flags[i]), "%s flag %zu", name,
                  i);
    }
    cr_assert(eq(i64, elem(e, 3)->integer, first), "%s first key", name);
    cr_assert(eq(i64, elem(e, 4)->integer, last), "%s last key", name);
    cr_assert(eq(i64, elem(e, 5)->integer, step), "%s step", name);
}

Test(server, command_info_reports_arity_and_key_positions)
{
    redisReply *r = harness_cmd(rc, "COMMAND INFO get mset GET");

    cr_assert(eq(sz, r->elements, 3));
    check_command_info(elem(r, 0), "get", 2, (const char *const[]){"readonly", "fast"}, 2, 1,
                       1, 1);
    check_command_info(elem(r, 1), "mset", -3, (const char *const[]){"write", "denyoom"}, 2,
                       1, -1, 2);
    check_command_info(elem(r, 2), "get", 2, (const char *const[]){"readonly", "fast"}, 2, 1,
                       1, 1);
    freeReplyObject(r);
}

Test(server, command_info_lists_subcommands_of_containers)
{
    redisReply *r = harness_cmd(rc, "COMMAND INFO memory");
    redisReply *subs;
    bool usage = false;

    cr_assert(eq(sz, r->elements, 1));
    cr_assert(eq(i64, elem(elem(r, 0), 1)->integer, -2));
    subs = elem(elem(r, 0), 9);
    cr_assert(eq(int, subs->type, REDIS_REPLY_ARRAY));
    for (size_t i = 0; i < subs->elements; i++) {
        if (strcmp(elem_str(elem(subs, i), 0), "memory|usage") == 0) {
            usage = true;
            cr_assert(eq(i64, elem(elem(subs, i), 1)->integer, -3));
            cr_assert(eq(i64, elem(elem(subs, i), 3)->integer, 2));
        }
    }
    cr_assert(usage, "memory|usage missing from COMMAND INFO memory");
    freeReplyObject(r);
}

static void
check_categories(const redisReply *e, const char *const *cats, size_t n)
{
    const redisReply *c = elem(e, 6);

    cr_assert(eq(sz, c->elements, n), "%s: %zu categories", elem_str(e, 0), c->elements);
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(str, elem_str(c, i), (char *)cats[i]), "%s category %zu",
                  elem_str(e, 0), i);
    }
}

Test(server, command_info_reports_redis_flags_and_categories)
{
    redisReply *r = harness_cmd(rc, "COMMAND INFO get set append ping del");

    check_categories(elem(r, 0), (const char *const[]){"@read", "@string", "@fast"}, 3);
    check_categories(elem(r, 1), (const char *const[]){"@write", "@string", "@slow"}, 3);
    check_command_info(elem(r, 2), "append", 3,
                       (const char *const[]){"write", "denyoom", "fast"}, 3, 1, 1, 1);
    check_categories(elem(r, 2), (const char *const[]){"@write", "@string", "@fast"}, 3);
    check_command_info(elem(r, 3), "ping", -1, (const char *const[]){"fast"}, 1, 0, 0, 0);
    check_categories(elem(r, 3), (const char *const[]){"@fast", "@connection"}, 2);
    check_categories(elem(r, 4), (const char *const[]){"@keyspace", "@write", "@slow"}, 3);
    freeReplyObject(r);
}

Test(server, command_info_replies_nil_for_unknown_commands)
{
    redisReply *r = harness_cmd(rc, "COMMAND INFO nosuch get");
    int fd;

    cr_assert(eq(sz, r->elements, 2));
    cr_assert(eq(int, elem(r, 0)->type, REDIS_REPLY_NIL));
    cr_assert(eq(int, elem(r, 1)->type, REDIS_REPLY_ARRAY));
    freeReplyObject(r);
    /* Byte-exact: a null bulk string, as Redis sends in RESP2. */
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "COMMAND INFO nosuch\r\n");
    raw_expect(fd, "*1\r\n$-1\r\n");
    close(fd);
}

Test(server, command_docs_describes_commands)
{
    redisReply *r = harness_cmd(rc, "COMMAND DOCS get");
    redisReply *doc;
    bool summary = false, since = false, group = false;

    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 2));
    cr_assert(eq(str, elem_str(r, 0), "get"));
    doc = elem(r, 1);
    for (size_t i = 0; i + 1 < doc->elements; i += 2) {
        const char *k = elem_str(doc, i);

        if (strcmp(k, "summary") == 0) {
            summary = elem(doc, i + 1)->len > 0;
        } else if (strcmp(k, "since") == 0) {
            since = strcmp(elem_str(doc, i + 1), "1.0.0") == 0;
        } else if (strcmp(k, "group") == 0) {
            group = strcmp(elem_str(doc, i + 1), "string") == 0;
        }
    }
    cr_assert(summary && since && group);
    freeReplyObject(r);
    expect_array_len(rc, 0, "COMMAND DOCS nosuch");
}

Test(server, command_list_filters_by_pattern)
{
    redisReply *r = harness_cmd(rc, "COMMAND LIST FILTERBY PATTERN get*");

    expect_bulk_set(r, "get", "getset", "getdel", "getex", "getrange");
    freeReplyObject(r);
    r = harness_cmd(rc, "COMMAND LIST FILTERBY PATTERN config*");
    expect_bulk_set(r, "config", "config|get", "config|set", "config|resetstat", "config|help");
    freeReplyObject(r);
    expect_error(rc, "ERR syntax error", "COMMAND LIST FILTERBY PATTERN");
    expect_error(rc, "ERR syntax error", "COMMAND LIST FILTERBY foo x");
}

Test(server, command_list_filters_by_module_and_aclcat)
{
    redisReply *r;

    expect_array_len(rc, 0, "COMMAND LIST FILTERBY MODULE x");
    r = harness_cmd(rc, "COMMAND LIST FILTERBY ACLCAT keyspace");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY), "type %d", r->type);
    cr_assert(eq(sz, r->elements, 22), "%zu @keyspace commands", r->elements);
    freeReplyObject(r);
}

Test(server, command_checks_its_subcommand)
{
    redisReply *r;

    expect_error(rc, "ERR unknown subcommand 'foo'. Try COMMAND HELP.", "COMMAND foo");
    expect_error(rc, "ERR wrong number of arguments for 'command|count' command",
                 "COMMAND COUNT x");
    r = harness_cmd(rc, "COMMAND HELP");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(str, elem_str(r, 0),
                 "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    freeReplyObject(r);
}

/* Every command and subcommand, with one argument too few (or too many for
 * fixed arities): the dispatcher's error names it as Redis does. */
Test(server, every_command_checks_its_arity)
{
    static const struct {
        const char *send, *name;
    } cases[] = {
        {"ECHO", "echo"},           {"SELECT", "select"},       {"AUTH", "auth"},
        {"CLIENT", "client"},       {"RESET x", "reset"},       {"GET", "get"},
        {"SET k", "set"},           {"SETNX k", "setnx"},       {"SETEX k 10", "setex"},
        {"PSETEX k 10", "psetex"},  {"GETSET k", "getset"},     {"GETDEL", "getdel"},
        {"GETEX", "getex"},         {"MGET", "mget"},           {"MSET k", "mset"},
        {"MSETNX k", "msetnx"},     {"INCR", "incr"},           {"DECR a b", "decr"},
        {"INCRBY k", "incrby"},     {"DECRBY k", "decrby"},     {"INCRBYFLOAT k", "incrbyfloat"},
        {"APPEND k", "append"},     {"STRLEN", "strlen"},       {"GETRANGE k 0", "getrange"},
        {"SUBSTR k 0", "substr"},   {"SETRANGE k 0", "setrange"}, {"DEL", "del"},
        {"UNLINK", "unlink"},       {"EXISTS", "exists"},       {"TYPE", "type"},
        {"EXPIRE k", "expire"},     {"PEXPIRE k", "pexpire"},   {"EXPIREAT k", "expireat"},
        {"PEXPIREAT k", "pexpireat"}, {"TTL", "ttl"},           {"PTTL", "pttl"},
        {"EXPIRETIME", "expiretime"}, {"PEXPIRETIME", "pexpiretime"}, {"PERSIST", "persist"},
        {"TOUCH", "touch"},         {"KEYS", "keys"},           {"SCAN", "scan"},
        {"RANDOMKEY x", "randomkey"}, {"RENAME k", "rename"},   {"RENAMENX k", "renamenx"},
        {"DBSIZE x", "dbsize"},     {"MEMORY", "memory"},       {"CONFIG", "config"},
        {"TIME x", "time"},         {"SLOWLOG", "slowlog"},     {"CLIENT ID x", "client|id"},
        {"CLIENT SETNAME", "client|setname"}, {"CLIENT GETNAME x", "client|getname"},
        {"CLIENT INFO x", "client|info"}, {"CLIENT KILL", "client|kill"},
        {"CLIENT HELP x", "client|help"}, {"CONFIG GET", "config|get"},
        {"CONFIG SET k", "config|set"}, {"CONFIG RESETSTAT x", "config|resetstat"},
        {"CONFIG HELP x", "config|help"}, {"COMMAND COUNT x", "command|count"},
        {"COMMAND HELP x", "command|help"}, {"SLOWLOG LEN x", "slowlog|len"},
        {"SLOWLOG RESET x", "slowlog|reset"}, {"SLOWLOG HELP x", "slowlog|help"},
        {"MEMORY USAGE", "memory|usage"}, {"MEMORY HELP x", "memory|help"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[128];

        snprintf(want, sizeof want, "ERR wrong number of arguments for '%s' command",
                 cases[i].name);
        expect_error(rc, want, cases[i].send);
    }
    expect_status(rc, "PONG", "PING");
}

/* ---- startup configuration ---------------------------------------------------- */

/* A config file in TMPDIR; the caller unlinks path. */
static void
write_conf(char *path, size_t cap, const char *text)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(path, cap, "%s/ringcache-integ-conf-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(eq(sz, (size_t)write(fd, text, strlen(text)), strlen(text)));
    close(fd);
}

Test(server, a_config_file_sets_directives_and_the_command_line_overrides_it)
{
    char path[256];
    redisReply *r;

    harness_teardown();
    write_conf(path, sizeof path,
               "# a comment\n"
               "maxmemory 5mb\n"
               "\n"
               "maxmemory-policy noeviction\n"
               "slowlog-max-len 7\n");
    harness_setup_with(path, "--slowlog-max-len", "9", NULL);
    unlink(path);
    r = harness_cmd(rc, "CONFIG GET maxmemory");
    expect_bulks(r, "maxmemory", "5242880");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET maxmemory-policy");
    expect_bulks(r, "maxmemory-policy", "noeviction");
    freeReplyObject(r);
    r = harness_cmd(rc, "CONFIG GET slowlog-max-len");
    expect_bulks(r, "slowlog-max-len", "9");
    freeReplyObject(r);
}

Test(server, a_bad_directive_value_stops_the_server_at_startup)
{
    char out[4096];
    int status = harness_server_run_to_exit(out, sizeof out, "--maxmemory", "abc", NULL);

    cr_assert(status != -1, "the server did not exit");
    cr_assert(harness_exited_nonzero(status), "status 0x%x", status);
    cr_assert(strstr(out, "FATAL CONFIG FILE ERROR") != NULL, "%s", out);
    cr_assert(strstr(out, "argument must be a memory value") != NULL, "%s", out);
}

/* nodes.conf is replaced whole (written, fsynced, renamed), so a crash
 * leaves the old or the new; one damaged by hand or by the disk stops the
 * member with the line (it used to crash tearing down a half-made
 * cluster), rather than rejoining under a made-up identity. An empty one
 * (touch nodes.conf) starts a new member, as in Redis. */
Test(server, a_damaged_nodes_conf_stops_a_cluster_member_at_startup)
{
    char out[4096], dir[] = "/tmp/ringcache-nodesconf-XXXXXX", path[300], bus[16];
    FILE *f;
    int status;

    {
        /* the bus port defaults to the client port + 10000, past 65535 for
         * the harness's ephemeral ports: name a free one */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                  getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
        snprintf(bus, sizeof bus, "%d", ntohs(sa.sin_port));
        close(fd);
    }
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nodes.conf", dir);
    f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("0123 not a member line\n\x01\xff garbage\n", f);
    fclose(f);
    status = harness_server_run_to_exit(out, sizeof out, "--cluster-enabled", "yes", "--dir", dir,
                                        "--cluster-bus-port", bus, NULL);
    cr_assert(status != -1, "the server did not exit");
    cr_assert(harness_exited_nonzero(status), "status 0x%x", status);
    cr_assert(strstr(out, "nodes.conf is corrupt at line 1") != NULL, "%s", out);
    cr_assert(strstr(out, "move it away to start as a new member") != NULL, "%s", out);
    f = fopen(path, "w");
    fclose(f);
    {
        struct harness_server *m = harness_server_start("--cluster-enabled", "yes", "--dir", dir,
                                                        "--cluster-bus-port", bus, NULL);
        redisContext *c = harness_connect(m);
        redisReply *r = harness_cmd(c, "CLUSTER MYID");

        cr_assert(eq(sz, r->len, 40), "an empty nodes.conf: a new member");
        freeReplyObject(r);
        redisFree(c);
        cr_assert(harness_exited_zero(harness_server_stop(&m)));
    }
    unlink(path);
    rmdir(dir);
}

Test(server, an_unknown_directive_stops_the_server_at_startup)
{
    char out[4096], path[256];
    int status = harness_server_run_to_exit(out, sizeof out, "--nosuch", "1", NULL);

    cr_assert(harness_exited_nonzero(status), "status 0x%x", status);
    cr_assert(strstr(out, "Bad directive or wrong number of arguments") != NULL, "%s", out);
    write_conf(path, sizeof path, "maxmemory 1mb\nnosuch-directive yes\n");
    status = harness_server_run_to_exit(out, sizeof out, path, NULL);
    unlink(path);
    cr_assert(harness_exited_nonzero(status), "status 0x%x", status);
    cr_assert(strstr(out, "line 2") != NULL, "%s", out);
    cr_assert(strstr(out, "nosuch-directive") != NULL, "%s", out);
}

/* ---- SHUTDOWN ------------------------------------------------------------------- */


Test(server, shutdown_makes_the_process_exit_zero)
{
    redisReply *r = redisCommand(rc, "SHUTDOWN");

    /* No reply: the connection just closes. */
    cr_assert(r == NULL, "SHUTDOWN replied");
    cr_assert(harness_server_wait_exit(srv, 5000), "the server is still running");
    cr_assert(harness_exited_zero(srv->exit_status), "status 0x%x", srv->exit_status);
}

Test(server, shutdown_nosave_now_force_exit_zero_too)
{
    redisReply *r = redisCommand(rc, "SHUTDOWN NOSAVE NOW FORCE");

    cr_assert(r == NULL);
    cr_assert(harness_server_wait_exit(srv, 5000));
    cr_assert(harness_exited_zero(srv->exit_status), "status 0x%x", srv->exit_status);
}

Test(server, sigterm_makes_the_process_exit_zero)
{
    int status = harness_server_stop(&srv);

    cr_assert(harness_exited_zero(status), "status 0x%x", status);
}

Test(server, shutdown_abort_without_a_shutdown_is_an_error)
{
    expect_error(rc, "ERR No shutdown in progress.", "SHUTDOWN ABORT");
    expect_status(rc, "PONG", "PING");
}

Test(server, shutdown_rejects_contradictory_flags)
{
    expect_error(rc, "ERR syntax error", "SHUTDOWN foo");
    expect_error(rc, "ERR syntax error", "SHUTDOWN ABORT NOW");
    expect_error(rc, "ERR syntax error", "SHUTDOWN NOSAVE ABORT");
    expect_error(rc, "ERR syntax error", "SHUTDOWN NOSAVE SAVE");
    expect_status(rc, "PONG", "PING");
    cr_assert(harness_server_wait_exit(srv, 0) == false, "the server exited");
}
