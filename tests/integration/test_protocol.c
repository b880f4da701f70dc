/*
 * tests/integration/test_protocol.c — the wire, byte for byte, over raw
 * sockets: pipelining (10k commands in one write), requests split at every
 * byte, inline commands and their quoting, protocol errors (reply, then
 * close), and RESP3 after HELLO 3 (hiredis 0.14 cannot parse RESP3, so these
 * compare exact bytes). Limits (sizes, buffers, clients) live in
 * test_limits.c.
 */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int fd = -1;

static void
setup(void)
{
    harness_setup();
    fd = harness_raw_connect(srv);
}

static void
teardown(void)
{
    if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    harness_teardown();
}

TestSuite(protocol, .init = setup, .fini = teardown, .timeout = 30);

/* Send a request and expect exactly these reply bytes. */
#define exchange(req, want)                   \
    do {                                      \
        harness_raw_send_str(fd, (req));      \
        raw_expect(fd, want);                 \
    } while (0)

/* ---- pipelining ----------------------------------------------------------------- */

Test(protocol, ten_thousand_pipelined_commands_in_one_write_get_their_replies_in_order)
{
    enum { N = 10000 };
    static const char cmd[] = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n";
    size_t cap = N * (sizeof cmd - 1), wcap = (size_t)N * 16, wlen = 0;
    char *req = malloc(cap), *want = malloc(wcap), *got = malloc(wcap);

    for (int i = 0; i < N; i++) {
        memcpy(req + (size_t)i * (sizeof cmd - 1), cmd, sizeof cmd - 1);
        wlen += (size_t)snprintf(want + wlen, wcap - wlen, ":%d\r\n", i + 1);
    }
    harness_raw_send(fd, req, cap);
    cr_assert(eq(sz, harness_raw_read(fd, got, wlen, 10000), wlen), "replies missing");
    cr_assert(eq(int, memcmp(got, want, wlen), 0), "replies out of order or wrong");
    free(req);
    free(want);
    free(got);
    expect_bulk(rc, "10000", "GET counter");
}

Test(protocol, a_mixed_pipeline_keeps_order_across_commands)
{
    char req[65536], want[65536];
    size_t rlen = 0, wlen = 0;

    for (int i = 0; i < 500; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "k%d", i);

        rlen += (size_t)snprintf(req + rlen, sizeof req - rlen,
                                 "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n"
                                 "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n"
                                 "*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n"
                                 "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n",
                                 klen, key, klen, key, klen, key, klen, key);
        wlen += (size_t)snprintf(want + wlen, sizeof want - wlen,
                                 "+OK\r\n$1\r\nv\r\n:1\r\n$-1\r\n");
    }
    harness_raw_send(fd, req, rlen);
    harness_raw_expect_at(__FILE__, __LINE__, fd, want, wlen);
}

Test(protocol, a_request_split_at_every_byte_is_still_one_request)
{
    static const char req[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";

    for (size_t i = 0; i < sizeof req - 1; i++) {
        harness_raw_send(fd, req + i, 1);
        harness_sleep_ms(2);
    }
    raw_expect(fd, "+OK\r\n");
    exchange("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", "$5\r\nvalue\r\n");
}

Test(protocol, replies_to_a_pipeline_split_mid_bulk_arrive_whole)
{
    harness_raw_send_str(fd, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01234");
    harness_sleep_ms(50);
    harness_raw_send_str(fd, "56789\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI");
    harness_sleep_ms(50);
    harness_raw_send_str(fd, "NG\r\n");
    raw_expect(fd, "+OK\r\n$10\r\n0123456789\r\n+PONG\r\n");
}

Test(protocol, a_large_value_crosses_many_reads_and_writes)
{
    size_t len = 4 << 20;
    char *val = malloc(len);
    redisReply *r;

    for (size_t i = 0; i < len; i++) {
        val[i] = (char)(i * 7);
    }
    expect_ok(rc, "SET big %b", val, len);
    r = harness_cmd(rc, "GET big");
    cr_assert(eq(sz, r->len, len));
    cr_assert(eq(int, memcmp(r->str, val, len), 0));
    freeReplyObject(r);
    free(val);
}

Test(protocol, empty_and_negative_multibulks_are_ignored)
{
    exchange("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
}

Test(protocol, bytes_after_a_bulk_payload_are_skipped_up_to_crlf)
{
    /* Redis trusts the length and drops the two bytes that should be CRLF. */
    exchange("*1\r\n$4\r\nPINGxx", "+PONG\r\n");
}

Test(protocol, quit_in_a_pipeline_stops_at_quit)
{
    harness_raw_send_str(fd, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n"
                             "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    raw_expect(fd, "+PONG\r\n+OK\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    expect_int(rc, 0, "EXISTS k");
}

/* ---- inline commands ------------------------------------------------------------ */

Test(protocol, inline_commands_work)
{
    exchange("PING\r\n", "+PONG\r\n");
    exchange("SET k v\r\nGET k\r\n", "+OK\r\n$1\r\nv\r\n");
    exchange("ping\n", "+PONG\r\n");
}

Test(protocol, inline_commands_accept_bare_newlines_and_skip_empty_lines)
{
    exchange("PING\nPING\n", "+PONG\r\n+PONG\r\n");
    exchange("\r\n\r\n\nPING\r\n", "+PONG\r\n");
    exchange("   \r\nPING   x  \r\n", "$1\r\nx\r\n");
}

Test(protocol, inline_commands_honour_quotes_and_escapes)
{
    exchange("SET k \"hello world\"\r\nGET k\r\n", "+OK\r\n$11\r\nhello world\r\n");
    exchange("ECHO \"a\\x41\\n\"\r\n", "$3\r\naA\n\r\n");
    exchange("ECHO 'a\\x41'\r\n", "$5\r\na\\x41\r\n");
    exchange("ECHO \"\"\r\n", "$0\r\n\r\n");
}

Test(protocol, inline_unbalanced_quotes_are_a_protocol_error)
{
    exchange("SET k \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
}

Test(protocol, inline_closing_quote_must_end_the_argument)
{
    exchange("SET k \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
}

Test(protocol, inline_and_multibulk_requests_mix_in_one_pipeline)
{
    exchange("SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nINCR a\r\n", "+OK\r\n$1\r\n1\r\n:2\r\n");
}

/* ---- protocol errors: exact reply, then the connection closes ---------------------- */

static void
expect_protocol_error(const char *req, const char *want, size_t wlen)
{
    harness_raw_send_str(fd, req);
    harness_raw_expect_at(__FILE__, __LINE__, fd, want, wlen);
    cr_assert(harness_raw_closed_within(fd, 2000), "connection still open after: %s", want);
    /* The server itself is fine. */
    expect_status(rc, "PONG", "PING");
}
#define protocol_error(req, want) expect_protocol_error((req), (want), sizeof(want) - 1)

Test(protocol, a_bad_multibulk_length_is_a_protocol_error)
{
    protocol_error("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

Test(protocol, a_multibulk_length_with_junk_is_a_protocol_error)
{
    protocol_error("*1x\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

Test(protocol, a_plus_signed_multibulk_length_is_a_protocol_error)
{
    protocol_error("*+1\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

Test(protocol, a_multibulk_count_over_int_max_is_a_protocol_error)
{
    protocol_error("*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

Test(protocol, a_missing_dollar_is_a_protocol_error)
{
    protocol_error("*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n");
}

Test(protocol, a_simple_string_inside_a_request_is_a_protocol_error)
{
    protocol_error("*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
}

Test(protocol, a_bad_bulk_length_is_a_protocol_error)
{
    protocol_error("*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

Test(protocol, a_negative_bulk_length_is_a_protocol_error)
{
    protocol_error("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

Test(protocol, a_bulk_length_with_a_sign_or_leading_zero_is_a_protocol_error)
{
    protocol_error("*1\r\n$+4\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

Test(protocol, a_bulk_length_with_a_leading_zero_is_a_protocol_error)
{
    protocol_error("*1\r\n$04\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

Test(protocol, replies_before_a_protocol_error_are_still_sent)
{
    protocol_error("*1\r\n$4\r\nPING\r\nPING\r\n*1\r\nx\r\n",
                   "+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n");
}

/* ---- RESP3 ---------------------------------------------------------------------- */

static long long
raw_client_id(void)
{
    char reply[64];
    long long id = -1;

    harness_raw_send_str(fd, "CLIENT ID\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    cr_assert(eq(int, sscanf(reply, ":%lld", &id), 1), "%s", reply);
    return id;
}

Test(protocol, hello_3_replies_with_a_resp3_map)
{
    long long id = raw_client_id();
    char want[512];

    snprintf(want, sizeof want,
             "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
             "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:%lld\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
             id);
    harness_raw_send_str(fd, "HELLO 3\r\n");
    harness_raw_expect_at(__FILE__, __LINE__, fd, want, strlen(want));
}

Test(protocol, resp3_replies_use_null_and_maps)
{
    exchange("HELLO 3\r\n", "%7\r\n");
    {
        char rest[512];

        /* The rest of the HELLO map. */
        size_t n = 0;

        for (int i = 0; i < 14; i++) {
            n += harness_raw_read_reply(fd, rest, sizeof rest);
        }
        cr_assert(n > 0);
    }
    exchange("GET nokey\r\n", "_\r\n");
    exchange("SET k v\r\n", "+OK\r\n");
    exchange("MGET k nokey\r\n", "*2\r\n$1\r\nv\r\n_\r\n");
    exchange("INCR n\r\n", ":1\r\n");
    exchange("CONFIG GET maxmemory\r\n", "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    exchange("INCRBYFLOAT f 1.5\r\n", "$3\r\n1.5\r\n");
    exchange("CLIENT GETNAME\r\n", "_\r\n");
    exchange("MEMORY USAGE nokey\r\n", "_\r\n");
    exchange("COMMAND INFO nosuch\r\n", "*1\r\n_\r\n");
    exchange("SET k v XX GET\r\n", "$1\r\nv\r\n");
    exchange("SET k2 v NX GET\r\n", "_\r\n");
    exchange("GETDEL nokey\r\n", "_\r\n");
    exchange("nosuch\r\n", "-ERR unknown command 'nosuch', with args beginning with: \r\n");
}

Test(protocol, resp3_config_get_with_several_names_is_one_map)
{
    char reply[1024];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    harness_raw_send_str(fd, "CONFIG GET maxmemory-policy maxmemory-samples\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    cr_assert(eq(int, strncmp(reply, "%2\r\n", 4), 0), "%s", reply);
    cr_assert(strstr(reply, "$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n") != NULL, "%s",
              reply);
    cr_assert(strstr(reply, "$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n") != NULL, "%s", reply);
}

Test(protocol, hello_3_setname_names_the_connection)
{
    char reply[1024];

    exchange("HELLO 3 SETNAME proto3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    exchange("CLIENT GETNAME\r\n", "$6\r\nproto3\r\n");
    exchange("HELLO 4\r\n", "-NOPROTO unsupported protocol version\r\n");
    exchange("GET nokey\r\n", "_\r\n"); /* still RESP3 */
}

Test(protocol, hello_2_switches_back_to_resp2)
{
    char reply[1024];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    exchange("GET nokey\r\n", "_\r\n");
    harness_raw_send_str(fd, "HELLO 2\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    cr_assert(eq(int, strncmp(reply, "*14\r\n", 5), 0), "%s", reply);
    exchange("GET nokey\r\n", "$-1\r\n");
    exchange("CONFIG GET maxmemory\r\n", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
}

Test(protocol, reset_switches_back_to_resp2)
{
    char reply[1024];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    exchange("RESET\r\n", "+RESET\r\n");
    exchange("GET nokey\r\n", "$-1\r\n");
}

Test(protocol, client_info_reports_the_protocol_version)
{
    char reply[2048];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    harness_raw_send_str(fd, "CLIENT INFO\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    /* A verbatim string of format txt in RESP3. */
    cr_assert(eq(chr, reply[0], '='), "%s", reply);
    cr_assert(strstr(reply, "\r\ntxt:id=") != NULL, "%s", reply);
    cr_assert(strstr(reply, " resp=3") != NULL, "%s", reply);
}

Test(protocol, resp3_info_is_a_verbatim_string)
{
    char reply[16384];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    harness_raw_send_str(fd, "INFO keyspace\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    cr_assert(eq(str, reply, "=16\r\ntxt:# Keyspace\r\n\r\n"));
}

Test(protocol, resp3_scan_and_slowlog_keep_their_array_shapes)
{
    char reply[4096];

    exchange("HELLO 3\r\n", "%7\r\n");
    for (int i = 0; i < 14; i++) {
        harness_raw_read_reply(fd, reply, sizeof reply);
    }
    exchange("SET k v\r\n", "+OK\r\n");
    exchange("SCAN 0 COUNT 100\r\n", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    exchange("SLOWLOG GET 0\r\n", "*0\r\n");
    exchange("TIME 1\r\n", "-ERR wrong number of arguments for 'time' command\r\n");
}
