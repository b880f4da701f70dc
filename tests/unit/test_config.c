/*
 * tests/unit/test_config.c — the option table: parsing of every type, the
 * config file with its error reports, the command line, and formatting for
 * CONFIG GET.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

static void
setup(void)
{
    config_setup();
}

static void
teardown(void)
{
    config_teardown();
}

TestSuite(config, .init = setup, .fini = teardown);

static char *
write_temp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof path, "/tmp/rc-config-XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(eq(sz, (size_t)write(fd, text, strlen(text)), strlen(text)));
    close(fd);
    return path;
}

Test(config, starts_with_redis_defaults)
{
    char buf[256];

    cr_assert(eq(i64, config_num(OPT_PORT), 6379));
    cr_assert(eq(i64, config_num(OPT_MAXCLIENTS), 10000));
    cr_assert(eq(i64, config_num(OPT_PROTO_MAX_BULK_LEN), 512LL * 1024 * 1024));
    cr_assert(eq(i64, config_num(OPT_CLIENT_QUERY_BUFFER_LIMIT), 1024LL * 1024 * 1024));
    config_str(OPT_BIND, buf, sizeof buf);
    cr_assert(eq(str, buf, "127.0.0.1"));
    config_format(OPT_MAXMEMORY_POLICY, buf, sizeof buf);
    cr_assert(eq(str, buf, "allkeys-lru"));
    config_format(OPT_CLIENT_OUTPUT_BUFFER_LIMIT, buf, sizeof buf);
    cr_assert(eq(str, buf, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"));
}

Test(config, parses_memory_units_as_redis_does)
{
    unsigned long long v;

    cr_assert(eq(int, config_parse_bytes("100", &v), 0));
    cr_assert(eq(u64, v, 100));
    cr_assert(eq(int, config_parse_bytes("1k", &v), 0));
    cr_assert(eq(u64, v, 1000));
    cr_assert(eq(int, config_parse_bytes("1kb", &v), 0));
    cr_assert(eq(u64, v, 1024));
    cr_assert(eq(int, config_parse_bytes("2MB", &v), 0));
    cr_assert(eq(u64, v, 2 * 1024 * 1024));
    cr_assert(eq(int, config_parse_bytes("1gb", &v), 0));
    cr_assert(eq(u64, v, 1024ULL * 1024 * 1024));
    cr_assert(eq(int, config_parse_bytes("1g", &v), 0));
    cr_assert(eq(u64, v, 1000000000ULL));
    cr_assert(eq(int, config_parse_bytes("-1", &v), -1));
    cr_assert(eq(int, config_parse_bytes("1tb", &v), -1));
    cr_assert(eq(int, config_parse_bytes("mb", &v), -1));
    cr_assert(eq(int, config_parse_bytes("", &v), -1));
    cr_assert(eq(int, config_parse_bytes("99999999999999999999gb", &v), -1));
}

Test(config, rejects_bad_values_with_redis_reasons)
{
    char err[256];

    cr_assert(eq(int, config_set(OPT_PORT, "70000", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument must be between 0 and 65535 inclusive"));
    cr_assert(eq(int, config_set(OPT_PORT, "12a", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument couldn't be parsed into an integer"));
    cr_assert(eq(int, config_set(OPT_DAEMONIZE, "maybe", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument must be 'yes' or 'no'"));
    cr_assert(eq(int, config_set(OPT_MAXMEMORY, "lots", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument must be a memory value"));
    cr_assert(eq(int, config_set(OPT_MAXMEMORY_POLICY, "lfu", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument(s) must be one of the following: allkeys-lru, volatile-lru, "
                           "allkeys-random, volatile-random, volatile-ttl, noeviction"));
    cr_assert(eq(int, config_set(OPT_STORE_SHARDS, "100", false, err, sizeof err), -1));
    cr_assert(eq(str, err, "argument must be a power of two"));
    cr_assert(eq(int, config_set(OPT_PORT, "7000", true, err, sizeof err), -1));
    cr_assert(eq(str, err, "can't set immutable config"));
    /* The failed sets changed nothing. */
    cr_assert(eq(i64, config_num(OPT_PORT), 6379));
    cr_assert(eq(i64, config_num(OPT_MAXMEMORY), 0));
}

Test(config, accepts_case_insensitive_names_and_values)
{
    char err[256], buf[64];

    cr_assert(eq(int, config_lookup("MaxMemory", 9), OPT_MAXMEMORY));
    cr_assert(eq(int, config_lookup("nonsense", 8), -1));
    cr_assert(eq(int, config_set(OPT_MAXMEMORY_POLICY, "NOEVICTION", true, err, sizeof err), 0));
    config_format(OPT_MAXMEMORY_POLICY, buf, sizeof buf);
    cr_assert(eq(str, buf, "noeviction"));
    cr_assert(eq(int, config_set(OPT_APPENDONLY, "NO", true, err, sizeof err), 0));
}

Test(config, refuses_persistence_it_cannot_do)
{
    char err[256];

    cr_assert(eq(int, config_set(OPT_SAVE, "", false, err, sizeof err), 0));
    cr_assert(eq(int, config_set(OPT_SAVE, "900 1", false, err, sizeof err), -1));
    cr_assert(eq(int, config_set(OPT_APPENDONLY, "yes", false, err, sizeof err), -1));
}

Test(config, parses_output_buffer_limits_per_class)
{
    char err[256], buf[256];
    unsigned long long hard, soft;
    long long secs;

    cr_assert(eq(int, config_set(OPT_CLIENT_OUTPUT_BUFFER_LIMIT, "normal 1mb 512kb 10", true,
                                 err, sizeof err), 0));
    config_cobl_normal(&hard, &soft, &secs);
    cr_assert(eq(u64, hard, 1024 * 1024));
    cr_assert(eq(u64, soft, 512 * 1024));
    cr_assert(eq(i64, secs, 10));
    config_format(OPT_CLIENT_OUTPUT_BUFFER_LIMIT, buf, sizeof buf);
    cr_assert(eq(str, buf, "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"));
    cr_assert(eq(int, config_set(OPT_CLIENT_OUTPUT_BUFFER_LIMIT, "normal 1 2", true, err, sizeof err), -1));
    cr_assert(eq(int, config_set(OPT_CLIENT_OUTPUT_BUFFER_LIMIT, "bogus 1 2 3", true, err, sizeof err), -1));
    config_cobl_normal(&hard, &soft, &secs);
    cr_assert(eq(u64, hard, 1024 * 1024));
}

Test(config, loads_a_file_then_the_command_line)
{
    char *path = write_temp("# comment\n\n  port 7001\nmaxmemory 100mb\r\n"
                            "bind \"127.0.0.1\" ::1\nloglevel warning\n");
    char *argv[] = { "--port", "7002", "--maxmemory-policy", "volatile-ttl", "--save", "" };
    char err[2048], buf[64];

    cr_assert(eq(int, config_load(path, 6, argv, err, sizeof err), 0), "%s", err);
    cr_assert(eq(i64, config_num(OPT_PORT), 7002));
    cr_assert(eq(i64, config_num(OPT_MAXMEMORY), 100LL * 1024 * 1024));
    config_str(OPT_BIND, buf, sizeof buf);
    cr_assert(eq(str, buf, "127.0.0.1 ::1"));
    config_format(OPT_MAXMEMORY_POLICY, buf, sizeof buf);
    cr_assert(eq(str, buf, "volatile-ttl"));
    unlink(path);
}

Test(config, names_file_line_and_reason_of_a_bad_directive)
{
    char *path = write_temp("port 7001\nmaxmemory 10mb\nfrobnicate yes\n");
    char err[2048];

    cr_assert(eq(int, config_load(path, 0, NULL, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, path), NULL)), "%s", err);
    cr_assert(not(eq(ptr, strstr(err, "at line 3"), NULL)), "%s", err);
    cr_assert(not(eq(ptr, strstr(err, ">>> 'frobnicate yes'"), NULL)), "%s", err);
    cr_assert(not(eq(ptr, strstr(err, "Bad directive or wrong number of arguments"), NULL)), "%s", err);
    unlink(path);
}

Test(config, reports_a_bad_value_and_unbalanced_quotes)
{
    char *path = write_temp("timeout -5\n");
    char err[2048];

    cr_assert(eq(int, config_load(path, 0, NULL, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, "at line 1"), NULL)), "%s", err);
    cr_assert(not(eq(ptr, strstr(err, "argument must be between 0 and 2147483647 inclusive"), NULL)), "%s", err);
    unlink(path);
    path = write_temp("requirepass \"secret\n");
    cr_assert(eq(int, config_load(path, 0, NULL, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, "Unbalanced quotes"), NULL)), "%s", err);
    unlink(path);
}

Test(config, rejects_bad_command_line_arguments)
{
    char *bad_name[] = { "--no-such-thing", "1" };
    char *bad_value[] = { "--port", "http" };
    char *no_dashes[] = { "port", "7000" };
    char err[2048];

    cr_assert(eq(int, config_load(NULL, 2, bad_name, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, "--no-such-thing"), NULL)), "%s", err);
    cr_assert(eq(int, config_load(NULL, 2, bad_value, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, "couldn't be parsed into an integer"), NULL)), "%s", err);
    cr_assert(eq(int, config_load(NULL, 2, no_dashes, err, sizeof err), -1));
}

Test(config, reports_a_missing_file)
{
    char err[2048];

    cr_assert(eq(int, config_load("/nonexistent/ringcache.conf", 0, NULL, err, sizeof err), -1));
    cr_assert(not(eq(ptr, strstr(err, "can't open config file"), NULL)), "%s", err);
}

static int applied;

static void
count_apply(enum config_id id)
{
    (void)id;
    applied++;
}

Test(config, calls_the_apply_hook_on_change_only_when_valid)
{
    char err[256];

    applied = 0;
    config_on_change(OPT_MAXMEMORY, count_apply);
    cr_assert(eq(int, config_set(OPT_MAXMEMORY, "1mb", true, err, sizeof err), 0));
    cr_assert(eq(int, config_set(OPT_MAXMEMORY, "x", true, err, sizeof err), -1));
    cr_assert(eq(int, applied, 1));
}

/* conf/ringcache.conf documents every directive: it must load, and name each
 * one, so the sample file cannot drift from the table. */
Test(config, sample_file_loads_and_names_every_directive)
{
    char err[2048], line[512];
    FILE *f;
    bool seen[OPT__COUNT] = { false };

    cr_assert(eq(int, config_load(SRCDIR "/conf/ringcache.conf", 0, NULL, err, sizeof err), 0),
              "%s", err);
    f = fopen(SRCDIR "/conf/ringcache.conf", "r");
    cr_assert(not(eq(ptr, f, NULL)));
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strcspn(line, " \n");
        int id = line[0] == '#' ? -1 : config_lookup(line, n);
        if (id >= 0) {
            seen[id] = true;
        }
    }
    fclose(f);
    for (int i = 0; i < OPT__COUNT; i++) {
        cr_expect(seen[i], "conf/ringcache.conf does not set %s", config_name((enum config_id)i));
    }
}
