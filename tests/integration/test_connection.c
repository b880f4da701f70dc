/*
 * tests/integration/test_connection.c — connection commands over RESP2:
 * PING, ECHO, QUIT, SELECT, HELLO (RESP2 form; RESP3 bytes are checked in
 * test_protocol.c), RESET and the CLIENT subcommands (ID, SETNAME, GETNAME,
 * LIST, INFO, SETINFO, KILL, HELP), plus unknown commands and subcommands.
 * AUTH lives in test_auth.c.
 */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>

TestSuite(connection, .init = harness_setup, .fini = harness_teardown, .timeout = 30);

static long long
client_id(redisContext *c)
{
    redisReply *r = harness_cmd(c, "CLIENT ID");
    long long id;

    cr_assert(eq(int, r->type, REDIS_REPLY_INTEGER));
    id = r->integer;
    freeReplyObject(r);
    return id;
}

/* The "name=value" field of a CLIENT LIST/INFO line, copied into out. */
static bool
client_field(const char *line, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);

    for (const char *p = line; p != NULL && *p != '\0' && *p != '\n';) {
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t len = strcspn(p + nlen + 1, " \n");

            snprintf(out, cap, "%.*s", (int)len, p + nlen + 1);
            return true;
        }
        p = strchr(p, ' ');
        p = p != NULL ? p + 1 : NULL;
    }
    return false;
}

/* True once the connection is closed by the server. */
static bool
connection_is_closed(redisContext *c)
{
    redisReply *r = redisCommand(c, "PING");

    if (r != NULL) {
        freeReplyObject(r);
        return false;
    }
    return true;
}

/* ---- PING / ECHO / QUIT / SELECT ------------------------------------------------ */

Test(connection, ping_replies_pong_or_echoes_its_argument)
{
    expect_status(rc, "PONG", "PING");
    expect_bulk(rc, "hello world", "PING %s", "hello world");
    expect_bulk(rc, "", "PING %s", "");
    expect_error(rc, "ERR wrong number of arguments for 'ping' command", "PING a b");
}

Test(connection, echo_returns_its_argument_byte_for_byte)
{
    redisReply *r;

    expect_bulk(rc, "hi", "ECHO hi");
    expect_bulk(rc, "", "ECHO %s", "");
    r = harness_cmd(rc, "ECHO %b", "a\0\r\nb", (size_t)5);
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(sz, r->len, 5));
    cr_assert(eq(int, memcmp(r->str, "a\0\r\nb", 5), 0));
    freeReplyObject(r);
    expect_error(rc, "ERR wrong number of arguments for 'echo' command", "ECHO");
    expect_error(rc, "ERR wrong number of arguments for 'echo' command", "ECHO a b");
}

Test(connection, quit_replies_ok_and_closes_the_connection)
{
    expect_ok(rc, "QUIT");
    cr_assert(connection_is_closed(rc));
}

Test(connection, quit_ignores_extra_arguments)
{
    expect_ok(rc, "QUIT now please");
    cr_assert(connection_is_closed(rc));
}

Test(connection, select_accepts_only_database_zero)
{
    expect_ok(rc, "SELECT 0");
    expect_error(rc, "ERR DB index is out of range", "SELECT 1");
    expect_error(rc, "ERR DB index is out of range", "SELECT -1");
    expect_error(rc, "ERR DB index is out of range", "SELECT 16");
    expect_error(rc, "ERR value is not an integer or out of range", "SELECT abc");
    expect_error(rc, "ERR value is not an integer or out of range", "SELECT 0x0");
    expect_error(rc, "ERR value is not an integer or out of range",
                 "SELECT 9999999999999999999999");
    expect_error(rc, "ERR wrong number of arguments for 'select' command", "SELECT 0 0");
}

Test(connection, unknown_commands_name_themselves_and_their_first_arguments)
{
    expect_error(rc, "ERR unknown command 'NOSUCH', with args beginning with: ", "NOSUCH");
    expect_error(rc, "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b c' ",
                 "NOSUCH a %s", "b c");
    expect_error(rc, "ERR unknown command 'hset', with args beginning with: 'h' 'f' 'v' ",
                 "hset h f v");
    expect_error(rc, "ERR unknown command 'lpush', with args beginning with: 'l' 'a' ",
                 "lpush l a");
    expect_error(rc, "ERR unknown command 'multi', with args beginning with: ", "multi");
}

Test(connection, commands_of_other_types_and_features_are_unknown)
{
    static const char *const cmds[] = {
        "sadd",  "zadd",    "xadd",   "pfadd",     "getbit", "setbit", "object", "multi",
        "exec",  "watch",   "subscribe", "publish", "eval",  "lcs",    "copy",   "move",
        "debug",   "save",   "bgsave",    "monitor", "acl",   "dump",   "sort",
        "swapdb", "lpush",  "hget",   "sinter",
    };

    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char want[128];

        snprintf(want, sizeof want, "ERR unknown command '%s', with args beginning with: 'k' ",
                 cmds[i]);
        expect_error(rc, want, "%s k", cmds[i]);
    }
}

Test(connection, unknown_command_errors_show_at_most_128_bytes_of_arguments)
{
    char a50[51], a200[201], want[512];

    memset(a50, 'x', 50);
    a50[50] = '\0';
    memset(a200, 'y', 200);
    a200[200] = '\0';
    snprintf(want, sizeof want,
             "ERR unknown command 'nosuch', with args beginning with: '%s' '%s' '%.22s' ", a50,
             a50, a50);
    expect_error(rc, want, "nosuch %s %s %s %s %s", a50, a50, a50, a50, a50);
    snprintf(want, sizeof want, "ERR unknown command 'nosuch', with args beginning with: '%.128s' ",
             a200);
    expect_error(rc, want, "nosuch %s", a200);
    snprintf(want, sizeof want, "ERR unknown command '%.128s', with args beginning with: ", a200);
    expect_error(rc, want, a200);
    snprintf(want, sizeof want, "ERR unknown subcommand '%.128s'. Try CLIENT HELP.", a200);
    expect_error(rc, want, "CLIENT %s", a200);
}

Test(connection, the_connection_survives_errors)
{
    expect_error(rc, "ERR unknown command 'NOSUCH', with args beginning with: ", "NOSUCH");
    expect_error(rc, "ERR wrong number of arguments for 'get' command", "GET");
    expect_status(rc, "PONG", "PING");
}

/* ---- HELLO (RESP2) -------------------------------------------------------------- */

Test(connection, hello_describes_the_server_as_redis_7)
{
    long long id = client_id(rc);
    redisReply *r = harness_cmd(rc, "HELLO");

    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 14));
    cr_assert(eq(str, elem_str(r, 0), "server"));
    cr_assert(eq(str, elem_str(r, 1), "redis"));
    cr_assert(eq(str, elem_str(r, 2), "version"));
    cr_assert(eq(str, elem_str(r, 3), "7.0.15"));
    cr_assert(eq(str, elem_str(r, 4), "proto"));
    cr_assert(eq(int, elem(r, 5)->type, REDIS_REPLY_INTEGER));
    cr_assert(eq(i64, elem(r, 5)->integer, 2));
    cr_assert(eq(str, elem_str(r, 6), "id"));
    cr_assert(eq(i64, elem(r, 7)->integer, id));
    cr_assert(eq(str, elem_str(r, 8), "mode"));
    cr_assert(eq(str, elem_str(r, 9), "standalone"));
    cr_assert(eq(str, elem_str(r, 10), "role"));
    cr_assert(eq(str, elem_str(r, 11), "master"));
    cr_assert(eq(str, elem_str(r, 12), "modules"));
    cr_assert(eq(int, elem(r, 13)->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, elem(r, 13)->elements, 0));
    freeReplyObject(r);
}

Test(connection, hello_2_setname_names_the_connection)
{
    redisReply *r = harness_cmd(rc, "HELLO 2 SETNAME myname");

    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 14));
    freeReplyObject(r);
    expect_bulk(rc, "myname", "CLIENT GETNAME");
}

Test(connection, hello_rejects_bad_versions_and_options)
{
    expect_error(rc, "NOPROTO unsupported protocol version", "HELLO 4");
    expect_error(rc, "NOPROTO unsupported protocol version", "HELLO 1");
    expect_error(rc, "NOPROTO unsupported protocol version", "HELLO 0");
    expect_error(rc, "ERR Protocol version is not an integer or out of range", "HELLO abc");
    expect_error(rc, "ERR Syntax error in HELLO option 'foo'", "HELLO 2 foo");
    expect_error(rc, "ERR Syntax error in HELLO option 'AUTH'", "HELLO 2 AUTH onlyuser");
    expect_error(rc, "ERR Syntax error in HELLO option 'auth'", "hello 2 auth onlyuser");
    expect_error(rc, "ERR Syntax error in HELLO option 'SETNAME'", "HELLO 2 SETNAME");
    expect_error(rc, "ERR Client names cannot contain spaces, newlines or special characters.",
                 "HELLO 2 SETNAME %s", "a b");
    expect_nil(rc, "CLIENT GETNAME");
}

/* ---- RESET ---------------------------------------------------------------------- */

Test(connection, reset_forgets_the_name_and_keeps_the_id)
{
    long long id = client_id(rc);

    expect_ok(rc, "CLIENT SETNAME before");
    expect_status(rc, "RESET", "RESET");
    expect_nil(rc, "CLIENT GETNAME");
    expect_int(rc, id, "CLIENT ID");
    expect_error(rc, "ERR wrong number of arguments for 'reset' command", "RESET now");
}

Test(connection, reset_keeps_the_data)
{
    expect_ok(rc, "SET k v");
    expect_status(rc, "RESET", "RESET");
    expect_bulk(rc, "v", "GET k");
}

/* ---- CLIENT ID / SETNAME / GETNAME ---------------------------------------------- */

Test(connection, client_ids_are_unique_and_increasing)
{
    /* Each connection is served before the next one opens, so each was
     * established later than the one before: ids must grow. */
    long long a = client_id(rc);
    redisContext *c2 = harness_connect(srv);
    long long b = client_id(c2);
    redisContext *c3 = harness_connect(srv);
    long long c = client_id(c3);

    cr_assert(a > 0);
    cr_assert(a < b && b < c, "ids %lld %lld %lld", a, b, c);
    cr_assert(eq(i64, client_id(rc), a));
    redisFree(c2);
    redisFree(c3);
}

Test(connection, client_setname_and_getname)
{
    expect_nil(rc, "CLIENT GETNAME");
    expect_ok(rc, "CLIENT SETNAME worker-1");
    expect_bulk(rc, "worker-1", "CLIENT GETNAME");
    expect_ok(rc, "client setname %s", "ab~c");
    expect_bulk(rc, "ab~c", "CLIENT GETNAME");
    expect_ok(rc, "CLIENT SETNAME %s", "");
    expect_nil(rc, "CLIENT GETNAME");
}

Test(connection, client_setname_refuses_spaces_and_control_characters)
{
    expect_ok(rc, "CLIENT SETNAME good");
    expect_error(rc, "ERR Client names cannot contain spaces, newlines or special characters.",
                 "CLIENT SETNAME %s", "a b");
    expect_error(rc, "ERR Client names cannot contain spaces, newlines or special characters.",
                 "CLIENT SETNAME %s", "a\nb");
    expect_error(rc, "ERR Client names cannot contain spaces, newlines or special characters.",
                 "CLIENT SETNAME %b", "a\x01", (size_t)2);
    expect_bulk(rc, "good", "CLIENT GETNAME");
}

Test(connection, client_subcommands_check_their_arity)
{
    expect_error(rc, "ERR wrong number of arguments for 'client' command", "CLIENT");
    expect_error(rc, "ERR wrong number of arguments for 'client|id' command", "CLIENT ID x");
    expect_error(rc, "ERR wrong number of arguments for 'client|getname' command",
                 "CLIENT GETNAME x");
    expect_error(rc, "ERR wrong number of arguments for 'client|setname' command",
                 "CLIENT SETNAME");
    expect_error(rc, "ERR wrong number of arguments for 'client|info' command", "CLIENT INFO x");
    expect_error(rc, "ERR wrong number of arguments for 'client|kill' command", "CLIENT KILL");
    expect_error(rc, "ERR wrong number of arguments for 'client|help' command", "CLIENT HELP x");
    expect_error(rc, "ERR unknown subcommand 'foo'. Try CLIENT HELP.", "CLIENT foo");
    expect_error(rc, "ERR unknown subcommand 'FOO'. Try CLIENT HELP.", "client FOO bar");
}

Test(connection, client_help_lists_the_subcommands)
{
    redisReply *r = harness_cmd(rc, "CLIENT HELP");

    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(r->elements > 5);
    cr_assert(eq(int, elem(r, 0)->type, REDIS_REPLY_STATUS));
    cr_assert(eq(str, elem_str(r, 0),
                 "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    freeReplyObject(r);
}

/* ---- CLIENT LIST / INFO --------------------------------------------------------- */

/* The fields of a Redis 7.0 CLIENT LIST line, in order. */
static const char *const client_fields[] = {
    "id",   "addr",      "laddr",    "fd",        "name",    "age",  "idle", "flags",
    "db",   "sub",       "psub",     "ssub",      "multi",   "qbuf", "qbuf-free",
    "argv-mem", "multi-mem", "rbs",  "rbp",       "obl",     "oll",  "omem", "tot-mem",
    "events", "cmd",     "user",     "redir",     "resp",
};

static void
check_client_line(const char *line)
{
    const char *p = line;

    for (size_t i = 0; i < sizeof client_fields / sizeof *client_fields; i++) {
        size_t n = strlen(client_fields[i]);

        cr_assert(strncmp(p, client_fields[i], n) == 0 && p[n] == '=',
                  "field %zu should be %s in: %s", i, client_fields[i], line);
        p = strchr(p, ' ');
        if (p == NULL) {
            cr_assert(eq(sz, i + 1, sizeof client_fields / sizeof *client_fields),
                      "line ends early: %s", line);
            break;
        }
        p++;
    }
}

Test(connection, client_info_describes_this_connection)
{
    long long id = client_id(rc);
    char want[64], field[256];
    redisReply *r;

    expect_ok(rc, "CLIENT SETNAME me");
    r = harness_cmd(rc, "CLIENT INFO");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    check_client_line(r->str);
    cr_assert(eq(chr, r->str[r->len - 1], '\n'), "CLIENT INFO ends with a newline");
    snprintf(want, sizeof want, "%lld", id);
    cr_assert(client_field(r->str, "id", field, sizeof field));
    cr_assert(eq(str, field, want));
    cr_assert(client_field(r->str, "name", field, sizeof field));
    cr_assert(eq(str, field, "me"));
    cr_assert(client_field(r->str, "addr", field, sizeof field));
    cr_assert(eq(int, strncmp(field, "127.0.0.1:", 10), 0), "addr=%s", field);
    cr_assert(client_field(r->str, "laddr", field, sizeof field));
    snprintf(want, sizeof want, "127.0.0.1:%d", srv->port);
    cr_assert(eq(str, field, want));
    cr_assert(client_field(r->str, "db", field, sizeof field));
    cr_assert(eq(str, field, "0"));
    cr_assert(client_field(r->str, "flags", field, sizeof field));
    cr_assert(eq(str, field, "N"));
    cr_assert(client_field(r->str, "cmd", field, sizeof field));
    cr_assert(eq(str, field, "client|info"));
    cr_assert(client_field(r->str, "resp", field, sizeof field));
    cr_assert(eq(str, field, "2"));
    cr_assert(client_field(r->str, "user", field, sizeof field));
    cr_assert(eq(str, field, "default"));
    freeReplyObject(r);
}

Test(connection, client_list_has_one_line_per_connection)
{
    redisContext *c2 = harness_connect(srv);
    long long id1 = client_id(rc), id2 = client_id(c2);
    char field[64], want[64];
    int lines = 0;
    bool saw1 = false, saw2 = false;
    redisReply *r;

    expect_ok(c2, "CLIENT SETNAME second");
    expect_ok(c2, "SET k v");
    r = harness_cmd(rc, "CLIENT LIST");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    for (char *line = r->str; *line != '\0';) {
        char *nl = strchr(line, '\n');

        cr_assert(nl != NULL, "every line ends with a newline");
        *nl = '\0';
        check_client_line(line);
        cr_assert(client_field(line, "id", field, sizeof field));
        if (atoll(field) == id1) {
            saw1 = true;
            cr_assert(client_field(line, "cmd", field, sizeof field));
            cr_assert(eq(str, field, "client|list"));
        } else if (atoll(field) == id2) {
            saw2 = true;
            cr_assert(client_field(line, "name", field, sizeof field));
            cr_assert(eq(str, field, "second"));
            cr_assert(client_field(line, "cmd", field, sizeof field));
            cr_assert(eq(str, field, "set"));
        }
        lines++;
        line = nl + 1;
    }
    cr_assert(eq(int, lines, 2));
    cr_assert(saw1 && saw2);
    freeReplyObject(r);
    snprintf(want, sizeof want, "id=%lld ", id2);
    r = harness_cmd(rc, "CLIENT LIST ID %lld", id2);
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(int, strncmp(r->str, want, strlen(want)), 0), "%s", r->str);
    cr_assert(eq(int, r->str[r->len - 1], '\n'));
    cr_assert(eq(ptr, strchr(r->str, '\n'), r->str + r->len - 1), "exactly one line");
    freeReplyObject(r);
    redisFree(c2);
}

Test(connection, client_list_id_filters_by_id)
{
    redisContext *c2 = harness_connect(srv);
    long long id1 = client_id(rc), id2 = client_id(c2);
    redisReply *r = harness_cmd(rc, "CLIENT LIST ID %lld 99999 %lld", id1, id2);
    int lines = 0;

    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    for (const char *p = r->str; (p = strchr(p, '\n')) != NULL; p++) {
        lines++;
    }
    cr_assert(eq(int, lines, 2));
    freeReplyObject(r);
    expect_bulk(rc, "", "CLIENT LIST ID 99999");
    expect_bulk(rc, "", "CLIENT LIST ID -1");
    expect_bulk(rc, "", "CLIENT LIST ID 0");
    expect_error(rc, "ERR Invalid client ID", "CLIENT LIST ID abc");
    expect_error(rc, "ERR syntax error", "CLIENT LIST ID");
    redisFree(c2);
}

Test(connection, client_list_type_filters_by_class)
{
    redisReply *r = harness_cmd(rc, "CLIENT LIST TYPE normal");

    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(int, strncmp(r->str, "id=", 3), 0));
    freeReplyObject(r);
    expect_bulk(rc, "", "CLIENT LIST TYPE pubsub");
    expect_bulk(rc, "", "CLIENT LIST TYPE replica");
    expect_bulk(rc, "", "CLIENT LIST TYPE master");
    expect_error(rc, "ERR Unknown client type 'foo'", "CLIENT LIST TYPE foo");
    expect_error(rc, "ERR syntax error", "CLIENT LIST TYPE normal foo");
    expect_error(rc, "ERR syntax error", "CLIENT LIST foo");
}

Test(connection, client_list_counts_age_and_idle_in_seconds)
{
    redisContext *c2 = harness_connect(srv);
    long long id2 = client_id(c2);
    char field[64];
    redisReply *r;

    harness_sleep_ms(1100);
    r = harness_cmd(rc, "CLIENT LIST ID %lld", id2);
    cr_assert(client_field(r->str, "idle", field, sizeof field), "%s", r->str);
    cr_assert(atoi(field) >= 1, "idle=%s", field);
    cr_assert(client_field(r->str, "age", field, sizeof field));
    cr_assert(atoi(field) >= 1, "age=%s", field);
    freeReplyObject(r);
    redisFree(c2);
}

Test(connection, client_setinfo_records_library_name_and_version)
{
    char field[64];
    redisReply *r;

    expect_ok(rc, "CLIENT SETINFO LIB-NAME mylib");
    expect_ok(rc, "CLIENT SETINFO lib-ver 1.2.3");
    expect_error(rc, "ERR Unrecognized option 'foo'", "CLIENT SETINFO foo 1");
    r = harness_cmd(rc, "CLIENT INFO");
    cr_assert(client_field(r->str, "lib-name", field, sizeof field), "%s", r->str);
    cr_assert(eq(str, field, "mylib"));
    cr_assert(client_field(r->str, "lib-ver", field, sizeof field));
    cr_assert(eq(str, field, "1.2.3"));
    freeReplyObject(r);
}

/* ---- CLIENT KILL ---------------------------------------------------------------- */

Test(connection, client_kill_id_closes_that_connection)
{
    redisContext *victim = harness_connect(srv);
    long long id = client_id(victim);

    expect_int(rc, 1, "CLIENT KILL ID %lld", id);
    cr_assert(connection_is_closed(victim));
    expect_int(rc, 0, "CLIENT KILL ID %lld", id);
    expect_status(rc, "PONG", "PING");
    redisFree(victim);
}

Test(connection, client_kill_skips_the_caller_unless_skipme_no)
{
    long long me = client_id(rc);

    expect_int(rc, 0, "CLIENT KILL ID %lld", me);
    expect_int(rc, 0, "CLIENT KILL ID %lld SKIPME yes", me);
    expect_status(rc, "PONG", "PING");
    expect_int(rc, 1, "CLIENT KILL ID %lld SKIPME no", me);
    cr_assert(connection_is_closed(rc));
}

Test(connection, client_kill_old_form_takes_an_address)
{
    redisContext *victim = harness_connect(srv);
    char addr[64];
    redisReply *r = harness_cmd(victim, "CLIENT INFO");

    cr_assert(client_field(r->str, "addr", addr, sizeof addr));
    freeReplyObject(r);
    expect_ok(rc, "CLIENT KILL %s", addr);
    cr_assert(connection_is_closed(victim));
    expect_error(rc, "ERR No such client", "CLIENT KILL %s", addr);
    expect_error(rc, "ERR No such client", "CLIENT KILL 1.2.3.4:5");
    redisFree(victim);
}

Test(connection, client_kill_addr_and_laddr_filter)
{
    redisContext *v1 = harness_connect(srv);
    redisContext *v2 = harness_connect(srv);
    char addr[64];
    redisReply *r = harness_cmd(v1, "CLIENT INFO");

    cr_assert(client_field(r->str, "addr", addr, sizeof addr));
    freeReplyObject(r);
    expect_status(v2, "PONG", "PING");
    expect_int(rc, 1, "CLIENT KILL ADDR %s", addr);
    cr_assert(connection_is_closed(v1));
    expect_int(rc, 0, "CLIENT KILL ADDR 1.2.3.4:5");
    /* Every client shares the listening address: all but the caller go. */
    expect_int(rc, 1, "CLIENT KILL LADDR 127.0.0.1:%d", srv->port);
    cr_assert(connection_is_closed(v2));
    expect_status(rc, "PONG", "PING");
    redisFree(v1);
    redisFree(v2);
}

Test(connection, client_kill_type_normal_kills_the_other_clients)
{
    redisContext *v1 = harness_connect(srv);
    redisContext *v2 = harness_connect(srv);

    expect_status(v1, "PONG", "PING");
    expect_status(v2, "PONG", "PING");
    expect_int(rc, 2, "CLIENT KILL TYPE normal");
    cr_assert(connection_is_closed(v1));
    cr_assert(connection_is_closed(v2));
    expect_status(rc, "PONG", "PING");
    redisFree(v1);
    redisFree(v2);
}

Test(connection, client_kill_user_kills_the_users_other_connections)
{
    redisContext *victim = harness_connect(srv);

    expect_status(victim, "PONG", "PING");
    expect_int(rc, 1, "CLIENT KILL USER default");
    cr_assert(connection_is_closed(victim));
    redisFree(victim);
}

Test(connection, client_kill_filters_must_all_match)
{
    redisContext *victim = harness_connect(srv);
    long long id = client_id(victim);
    char addr[64];
    redisReply *r = harness_cmd(victim, "CLIENT INFO");

    cr_assert(client_field(r->str, "addr", addr, sizeof addr));
    freeReplyObject(r);
    expect_int(rc, 0, "CLIENT KILL ID %lld ADDR 1.2.3.4:5", id);
    expect_int(rc, 0, "CLIENT KILL ID %lld TYPE pubsub", id);
    expect_status(victim, "PONG", "PING");
    expect_int(rc, 1, "CLIENT KILL ID %lld ADDR %s TYPE normal", id, addr);
    cr_assert(connection_is_closed(victim));
    redisFree(victim);
}

Test(connection, client_kill_rejects_bad_filters)
{
    expect_error(rc, "ERR client-id should be greater than 0", "CLIENT KILL ID abc");
    expect_error(rc, "ERR syntax error", "CLIENT KILL ADDR 1.2.3.4:5 SKIPME");
    expect_error(rc, "ERR syntax error", "CLIENT KILL ADDR 1.2.3.4:5 SKIPME maybe");
    expect_error(rc, "ERR syntax error", "CLIENT KILL ID 1 ID");
    expect_error(rc, "ERR syntax error", "CLIENT KILL MAXAGE 100");
    expect_error(rc, "ERR No such client", "CLIENT KILL foo");
    expect_int(rc, 0, "CLIENT KILL ID 999999");
    expect_int(rc, 0, "CLIENT KILL SKIPME yes");
}

Test(connection, a_killed_client_counts_in_info)
{
    redisContext *victim = harness_connect(srv);

    expect_status(victim, "PONG", "PING"); /* the server has surely accepted it */
    cr_assert(eq(i64, harness_wait_clients(rc, 2), 2));
    expect_int(rc, 1, "CLIENT KILL ID %lld", client_id(victim));
    cr_assert(connection_is_closed(victim));
    redisFree(victim);
    cr_assert(eq(i64, harness_wait_clients(rc, 1), 1));
}
