/*
 * tests/integration/test_limits.c — what keeps one client or one dataset
 * from taking the server down: proto-max-bulk-len, huge multibulk counts,
 * the inline and query buffer limits (the connection is closed), maxclients,
 * output backpressure from a client that does not read (memory stays
 * bounded, others are still served), client-output-buffer-limit, timeout,
 * and maxmemory with eviction policies and the OOM error.
 */
#include "tests/integration/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each test starts its own server with the limits it needs. */
TestSuite(limits, .fini = harness_teardown, .timeout = 40);

/* Send as much of buf as the peer takes within timeout_ms, ignoring errors
 * (the server may close the connection mid-way); returns bytes sent. */
static size_t
send_some(int fd, const char *buf, size_t len, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    size_t sent = 0;

    while (sent < len && harness_now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        ssize_t n;

        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        if (pfd.revents & (POLLERR | POLLHUP)) {
            break;
        }
        n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        sent += (size_t)n;
    }
    return sent;
}

/* ---- request sizes -------------------------------------------------------------- */

Test(limits, a_bulk_longer_than_proto_max_bulk_len_is_a_protocol_error)
{
    int fd;

    harness_setup_with("--proto-max-bulk-len", "1mb", NULL);
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    raw_expect(fd, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
    expect_status(rc, "PONG", "PING");
}

Test(limits, a_bulk_of_exactly_proto_max_bulk_len_is_accepted)
{
    size_t len = 1 << 20;
    char *val = malloc(len);

    harness_setup_with("--proto-max-bulk-len", "1mb", NULL);
    memset(val, 'x', len);
    expect_ok(rc, "SET k %b", val, len);
    expect_int(rc, (long long)len, "STRLEN k");
    free(val);
}

Test(limits, proto_max_bulk_len_can_be_lowered_at_run_time)
{
    int fd;

    harness_setup();
    expect_ok(rc, "CONFIG SET proto-max-bulk-len 1mb");
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "*2\r\n$4\r\nECHO\r\n$2000000\r\n");
    raw_expect(fd, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
}

/* By design ringcache keeps Redis 6's limit of 1024*1024 arguments (Redis 7.0
 * allows up to INT_MAX); see redis-compat-tests/KNOWN_DIFFERENCES.md. */
Test(limits, a_multibulk_of_exactly_a_million_arguments_is_accepted)
{
    enum { N = 1048576 };
    static const char head[] = "*1048576\r\n$6\r\nEXISTS\r\n";
    static const char arg[] = "$1\r\nk\r\n";
    size_t len = sizeof head - 1 + (size_t)(N - 1) * (sizeof arg - 1);
    char *req = malloc(len), *p = req;
    int fd;

    harness_setup();
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    for (int i = 1; i < N; i++, p += sizeof arg - 1) {
        memcpy(p, arg, sizeof arg - 1);
    }
    fd = harness_raw_connect(srv);
    cr_assert(eq(sz, send_some(fd, req, len, 10000), len), "the server stopped reading");
    raw_expect(fd, ":0\r\n");
    close(fd);
    free(req);
}

Test(limits, a_multibulk_of_more_than_a_million_arguments_is_a_protocol_error)
{
    int fd;

    harness_setup();
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "*1048577\r\n");
    raw_expect(fd, "-ERR Protocol error: invalid multibulk length\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
    expect_status(rc, "PONG", "PING");
}

Test(limits, an_inline_request_over_64k_is_a_protocol_error)
{
    char *junk = malloc(70000);
    int fd;

    harness_setup();
    memset(junk, 'x', 70000);
    fd = harness_raw_connect(srv);
    send_some(fd, junk, 70000, 2000);
    raw_expect(fd, "-ERR Protocol error: too big inline request\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
    free(junk);
    expect_status(rc, "PONG", "PING");
}

Test(limits, a_client_over_the_query_buffer_limit_is_disconnected)
{
    size_t len = 1500000;
    char *req = malloc(len + 64);
    int n, fd;

    harness_setup_with("--client-query-buffer-limit", "1mb", NULL);
    n = snprintf(req, 64, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    memset(req + n, 'x', len);
    fd = harness_raw_connect(srv);
    send_some(fd, req, (size_t)n + len, 3000);
    cr_assert(harness_raw_closed_within(fd, 3000), "the client was not disconnected");
    close(fd);
    free(req);
    expect_int(rc, 0, "EXISTS k");
    expect_status(rc, "PONG", "PING");
}

Test(limits, a_long_pipeline_of_small_commands_is_not_a_big_query)
{
    /* 2 MB of requests, far over a 1 MB query buffer limit, are fine: they
     * are consumed as they are processed. */
    enum { N = 60000 };
    static const char cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    size_t len = N * (sizeof cmd - 1);
    char *req = malloc(len), *replies = malloc(N * 5);
    int fd;

    harness_setup_with("--client-query-buffer-limit", "1mb", NULL);
    for (int i = 0; i < N; i++) {
        memcpy(req + (size_t)i * (sizeof cmd - 1), cmd, sizeof cmd - 1);
    }
    fd = harness_raw_connect(srv);
    /* Read while writing, so neither side's socket buffers stall. */
    {
        size_t sent = 0, got = 0;
        long long deadline = harness_now_ms() + 10000;

        fcntl(fd, F_SETFL, O_NONBLOCK);
        while (got < (size_t)N * 5 && harness_now_ms() < deadline) {
            ssize_t k;

            if (sent < len) {
                k = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
                if (k > 0) {
                    sent += (size_t)k;
                }
            }
            k = recv(fd, replies + got, (size_t)N * 5 - got, 0);
            if (k > 0) {
                got += (size_t)k;
            } else if (k == 0) {
                break;
            } else {
                harness_sleep_ms(1);
            }
        }
        cr_assert(eq(sz, got, (size_t)N * 5), "got %zu of %d replies", got / 5, N);
        for (int i = 0; i < N; i++) {
            cr_assert(eq(int, memcmp(replies + (size_t)i * 5, "+OK\r\n", 5), 0));
        }
    }
    close(fd);
    free(req);
    free(replies);
}

/* ---- maxclients ----------------------------------------------------------------- */

Test(limits, maxclients_refuses_the_extra_client_with_an_error)
{
    int extra[2], over;

    harness_setup_with("--maxclients", "3", NULL);
    for (int i = 0; i < 2; i++) {
        extra[i] = harness_raw_connect(srv);
        harness_raw_send_str(extra[i], "PING\r\n");
        raw_expect(extra[i], "+PONG\r\n");
    }
    over = harness_raw_connect(srv);
    raw_expect(over, "-ERR max number of clients reached\r\n");
    cr_assert(harness_raw_closed_within(over, 2000));
    close(over);
    cr_assert(eq(i64, harness_wait_info(rc, "stats", "rejected_connections", 1, 1000), 1));
    /* A slot frees up when a client leaves. */
    close(extra[0]);
    cr_assert(eq(i64, harness_wait_clients(rc, 2), 2));
    over = harness_raw_connect(srv);
    harness_raw_send_str(over, "PING\r\n");
    raw_expect(over, "+PONG\r\n");
    close(over);
    close(extra[1]);
}

/* 10,000 idle connections (Redis's default maxclients) cost a bounded
 * amount each and do not slow the others: a client that keeps working gets
 * its answers meanwhile. The server inherits the raised descriptor limit,
 * as it would from systemd's LimitNOFILE. */
Test(limits, ten_thousand_idle_connections_cost_little_each_and_block_nobody)
{
    enum { IDLE = 10000 };
    static int fds[IDLE];
    struct rlimit rl;
    long long rss_before, rss_after;
    redisReply *r;

    cr_assert(eq(int, getrlimit(RLIMIT_NOFILE, &rl), 0));
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < IDLE + 200) {
        cr_skip_test("the hard descriptor limit (%llu) is under %d", (unsigned long long)rl.rlim_max,
                     IDLE + 200);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < IDLE + 200) {
        rl.rlim_cur = IDLE + 200;
        cr_assert(eq(int, setrlimit(RLIMIT_NOFILE, &rl), 0), "setrlimit: %s", strerror(errno));
    }
    harness_setup_with("--maxclients", "10100", NULL);
    rss_before = harness_server_rss(srv);
    for (int i = 0; i < IDLE; i++) {
        fds[i] = harness_raw_connect(srv);
        if (i % 1000 == 999) {
            r = harness_cmd(rc, "PING");
            cr_assert(eq(str, r->str, "PONG"), "with %d idle", i + 1);
            freeReplyObject(r);
        }
    }
    cr_assert(eq(i64, harness_wait_clients(rc, IDLE + 1), IDLE + 1));
    rss_after = harness_server_rss(srv);
    cr_log_info("limits: %d idle connections: RSS %lld -> %lld KB, %lld B each", IDLE,
                rss_before >> 10, rss_after >> 10, (rss_after - rss_before) / IDLE);
    /* an idle connection keeps no buffers (about 1 KB each measured here):
     * one 16 KB read buffer kept per connection would fail this */
    cr_assert(lt(i64, (rss_after - rss_before) / IDLE, 10240));
    for (int i = 0; i < IDLE; i++) {
        close(fds[i]);
    }
    cr_assert(eq(i64, harness_wait_clients(rc, 1), 1));
    r = harness_cmd(rc, "PING");
    cr_assert(eq(str, r->str, "PONG"));
    freeReplyObject(r);
}

Test(limits, maxclients_can_be_changed_at_run_time)
{
    int fd;

    harness_setup();
    expect_ok(rc, "CONFIG SET maxclients 1");
    fd = harness_raw_connect(srv);
    raw_expect(fd, "-ERR max number of clients reached\r\n");
    close(fd);
    expect_ok(rc, "CONFIG SET maxclients 10");
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "PING\r\n");
    raw_expect(fd, "+PONG\r\n");
    close(fd);
}

/* ---- output backpressure ----------------------------------------------------------- */

Test(limits, a_client_that_does_not_read_cannot_grow_the_server_without_bound)
{
    enum { GETS = 2000 };
    size_t vlen = 1 << 20;
    char *val = malloc(vlen), *req = malloc(GETS * 16), head[32];
    long long rss_before, rss_after;
    size_t rlen = 0;
    int fd;

    harness_setup();
    memset(val, 'b', vlen);
    expect_ok(rc, "SET big %b", val, vlen);
    rss_before = harness_server_rss(srv);
    for (int i = 0; i < GETS; i++) {
        rlen += (size_t)snprintf(req + rlen, 16, "GET big\r\n");
    }
    /* 2000 x 1 MB of replies if it were all buffered; the client never reads. */
    fd = harness_raw_connect(srv);
    send_some(fd, req, rlen, 1000);
    harness_sleep_ms(500);
    rss_after = harness_server_rss(srv);
    cr_assert(rss_after - rss_before < 256LL << 20, "RSS grew from %lld MB to %lld MB",
              rss_before >> 20, rss_after >> 20);
    /* Everyone else is still served. */
    expect_status(rc, "PONG", "PING");
    expect_int(rc, (long long)vlen, "STRLEN big");
    {
        redisContext *c2 = harness_connect(srv);

        expect_ok(c2, "SET other v");
        expect_bulk(c2, "v", "GET other");
        redisFree(c2);
    }
    /* And the slow client gets correct replies once it reads. */
    snprintf(head, sizeof head, "$%zu\r\n", vlen);
    for (int i = 0; i < 3; i++) {
        char *got = malloc(vlen + 64);
        size_t hl = strlen(head);

        cr_assert(eq(sz, harness_raw_read(fd, got, hl + vlen + 2, 5000), hl + vlen + 2));
        cr_assert(eq(int, memcmp(got, head, hl), 0));
        cr_assert(eq(int, memcmp(got + hl, val, vlen), 0));
        free(got);
    }
    close(fd);
    free(val);
    free(req);
}

Test(limits, a_reply_bigger_than_the_output_buffer_hard_limit_disconnects)
{
    size_t vlen = 3 << 20;
    char *val = malloc(vlen);
    int fd;

    harness_setup_with("--client-output-buffer-limit", "normal 2mb 0 0", NULL);
    memset(val, 'b', vlen);
    expect_ok(rc, "SET big %b", val, vlen);
    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "GET big\r\nPING\r\n");
    cr_assert(harness_raw_closed_within(fd, 5000), "the client was not disconnected");
    close(fd);
    expect_status(rc, "PONG", "PING");
    free(val);
}

/* By design (unlike Redis, which would disconnect it at once): a client that
 * stops reading is paused once it has 1 MiB of unsent replies, so with a
 * 2 MB hard limit it stays connected, the server's memory stays bounded, and
 * it gets every reply, in order, once it reads. */
Test(limits, a_paused_slow_reader_stays_connected_and_gets_every_reply_in_order)
{
    enum { GETS = 20 };
    size_t vlen = 1 << 20;
    char *val = malloc(vlen), *got = malloc(vlen + 64), req[GETS * 16], head[32];
    long long rss_before;
    size_t rlen = 0, hl;
    int fd;

    harness_setup_with("--client-output-buffer-limit", "normal 2mb 0 0", NULL);
    for (size_t i = 0; i < vlen; i++) {
        val[i] = (char)('a' + i % 26);
    }
    expect_ok(rc, "SET big %b", val, vlen);
    rss_before = harness_server_rss(srv);
    for (int i = 0; i < GETS; i++) {
        rlen += (size_t)snprintf(req + rlen, 16, "GET big\r\n");
    }
    rlen += (size_t)snprintf(req + rlen, 16, "PING\r\n");
    fd = harness_raw_connect(srv);
    send_some(fd, req, rlen, 1000);
    harness_sleep_ms(500); /* not reading */
    cr_assert(harness_server_rss(srv) - rss_before < 64LL << 20, "RSS grew by %lld MB",
              (harness_server_rss(srv) - rss_before) >> 20);
    expect_status(rc, "PONG", "PING");
    snprintf(head, sizeof head, "$%zu\r\n", vlen);
    hl = strlen(head);
    for (int i = 0; i < GETS; i++) {
        cr_assert(eq(sz, harness_raw_read(fd, got, hl + vlen + 2, 5000), hl + vlen + 2),
                  "reply %d cut short: was the client disconnected?", i);
        cr_assert(eq(int, memcmp(got, head, hl), 0), "reply %d header", i);
        cr_assert(eq(int, memcmp(got + hl, val, vlen), 0), "reply %d body", i);
        cr_assert(eq(int, memcmp(got + hl + vlen, "\r\n", 2), 0));
    }
    raw_expect(fd, "+PONG\r\n");
    close(fd);
    free(val);
    free(got);
}

/* ---- timeout -------------------------------------------------------------------- */

Test(limits, timeout_closes_idle_clients_only)
{
    int idle;
    long long start;

    harness_setup_with("--timeout", "1", NULL);
    idle = harness_raw_connect(srv);
    harness_raw_send_str(idle, "PING\r\n");
    raw_expect(idle, "+PONG\r\n");
    start = harness_now_ms();
    /* rc stays busy while idle waits. */
    while (harness_now_ms() - start < 2500) {
        expect_status(rc, "PONG", "PING");
        harness_sleep_ms(200);
    }
    cr_assert(harness_raw_closed_within(idle, 2000), "the idle client is still connected");
    cr_assert(harness_now_ms() - start >= 900, "closed before the timeout");
    close(idle);
    expect_status(rc, "PONG", "PING");
}

Test(limits, timeout_zero_never_closes)
{
    int idle;

    harness_setup();
    idle = harness_raw_connect(srv);
    harness_sleep_ms(1500);
    harness_raw_send_str(idle, "PING\r\n");
    raw_expect(idle, "+PONG\r\n");
    close(idle);
}

/* ---- maxmemory ------------------------------------------------------------------ */

#define OOM "OOM command not allowed when used memory > 'maxmemory'."

Test(limits, noeviction_refuses_writes_with_oom_and_keeps_serving_reads)
{
    char val[1024];
    int ok = 0;
    redisReply *r = NULL;

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "noeviction", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 20000; i++) {
        r = harness_cmd(rc, "SET key:%d %b", i, val, sizeof val);
        if (r->type != REDIS_REPLY_STATUS) {
            break;
        }
        ok++;
        freeReplyObject(r);
        r = NULL;
    }
    cr_assert(r != NULL, "20000 KB of SETs never hit a 2 MB maxmemory");
    cr_assert(eq(int, r->type, REDIS_REPLY_ERROR));
    cr_assert(eq(str, r->str, OOM));
    freeReplyObject(r);
    cr_assert(ok > 100, "only %d keys fit in 2 MB", ok);
    expect_int(rc, ok, "DBSIZE");
    cr_assert(eq(i64, harness_info_ll(rc, "stats", "evicted_keys"), 0));
    /* Non-denyoom commands still run; writes that add data do not. */
    expect_int(rc, (long long)sizeof val, "STRLEN key:0");
    expect_error(rc, OOM, "INCR counter");
    expect_error(rc, OOM, "APPEND key:0 more");
    expect_int(rc, 1, "EXPIRE key:0 100");
    expect_int(rc, 1, "DEL key:0");
    /* Freeing memory makes room again. */
    expect_ok(rc, "FLUSHALL");
    expect_ok(rc, "SET after flush");
}

Test(limits, noeviction_keeps_used_memory_dataset_near_maxmemory)
{
    char val[1024];

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "noeviction", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 20000; i++) {
        redisReply *r = harness_cmd(rc, "SET key:%d %b", i, val, sizeof val);
        bool full = r->type == REDIS_REPLY_ERROR;

        freeReplyObject(r);
        if (full) {
            break;
        }
    }
    /* One write may cross the line, no more. */
    cr_assert(harness_info_ll(rc, "memory", "used_memory_dataset") <= (2 << 20) + 64 * 1024,
              "used_memory_dataset %lld", harness_info_ll(rc, "memory", "used_memory_dataset"));
}

Test(limits, allkeys_lru_evicts_to_stay_under_maxmemory)
{
    char val[1024];

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 5000; i++) {
        expect_ok(rc, "SET key:%d %b", i, val, sizeof val);
    }
    {
        redisReply *r = harness_cmd(rc, "DBSIZE");
        long long n = r->integer;

        freeReplyObject(r);
        cr_assert(n < 5000 && n > 100, "DBSIZE %lld", n);
        cr_assert(eq(i64, harness_info_ll(rc, "stats", "evicted_keys"), 5000 - n));
    }
    cr_assert(harness_info_ll(rc, "memory", "used_memory_dataset") <= (2 << 20) + 64 * 1024);
    expect_int(rc, (long long)sizeof val, "STRLEN key:4999"); /* the newest key is there */
}

Test(limits, allkeys_lru_prefers_evicting_keys_not_used_recently)
{
    char val[1024];
    int old_alive = 0, new_alive = 0;

    harness_setup_with("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru",
                       "--maxmemory-samples", "10", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 1000; i++) {
        expect_ok(rc, "SET old:%d %b", i, val, sizeof val);
    }
    harness_sleep_ms(1100); /* Redis's LRU clock ticks in seconds */
    for (int i = 0; i < 4000; i++) {
        expect_ok(rc, "SET new:%d %b", i, val, sizeof val);
    }
    for (int i = 0; i < 1000; i++) {
        redisReply *r = harness_cmd(rc, "EXISTS old:%d", i);

        old_alive += (int)r->integer;
        freeReplyObject(r);
        r = harness_cmd(rc, "EXISTS new:%d", 3000 + i);
        new_alive += (int)r->integer;
        freeReplyObject(r);
    }
    cr_assert(old_alive < new_alive / 2, "old keys alive %d, newest keys alive %d", old_alive,
              new_alive);
}

Test(limits, volatile_lru_only_evicts_keys_with_a_ttl)
{
    char val[1024];
    int persistent = 0;
    redisReply *r = NULL;

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 500; i++) {
        expect_ok(rc, "SET vol:%d %b EX 1000", i, val, sizeof val);
    }
    /* Persistent keys push the volatile ones out, then hit OOM. */
    for (int i = 0; i < 20000; i++) {
        r = harness_cmd(rc, "SET p:%d %b", i, val, sizeof val);
        if (r->type != REDIS_REPLY_STATUS) {
            break;
        }
        persistent++;
        freeReplyObject(r);
        r = NULL;
    }
    cr_assert(r != NULL, "never ran out of memory");
    cr_assert(eq(str, r->str, OOM));
    freeReplyObject(r);
    for (int i = 0; i < persistent; i++) {
        r = harness_cmd(rc, "EXISTS p:%d", i);
        cr_assert(eq(i64, r->integer, 1), "persistent key p:%d was evicted", i);
        freeReplyObject(r);
    }
    cr_assert(harness_info_ll(rc, "stats", "evicted_keys") > 0);
}

Test(limits, volatile_ttl_evicts_the_soonest_to_expire_first)
{
    char val[1024];
    int short_alive = 0, long_alive = 0;

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "volatile-ttl",
                       "--maxmemory-samples", "10", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 1500; i++) {
        expect_ok(rc, "SET short:%d %b EX 1000", i, val, sizeof val);
        expect_ok(rc, "SET long:%d %b EX 100000", i, val, sizeof val);
    }
    for (int i = 0; i < 1500; i++) {
        redisReply *r = harness_cmd(rc, "EXISTS short:%d", i);

        short_alive += (int)r->integer;
        freeReplyObject(r);
        r = harness_cmd(rc, "EXISTS long:%d", i);
        long_alive += (int)r->integer;
        freeReplyObject(r);
    }
    cr_assert(short_alive + long_alive < 3000, "nothing was evicted");
    cr_assert(short_alive < long_alive, "short-lived alive %d, long-lived alive %d", short_alive,
              long_alive);
}

Test(limits, allkeys_random_evicts_something)
{
    char val[1024];

    harness_setup_with("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random", NULL);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 4000; i++) {
        expect_ok(rc, "SET key:%d %b", i, val, sizeof val);
    }
    cr_assert(harness_info_ll(rc, "stats", "evicted_keys") > 0);
}

Test(limits, lowering_maxmemory_at_run_time_evicts_on_the_next_write)
{
    char val[1024];
    long long before, after;
    redisReply *r;

    harness_setup();
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 3000; i++) {
        expect_ok(rc, "SET key:%d %b", i, val, sizeof val);
    }
    expect_ok(rc, "CONFIG SET maxmemory-policy allkeys-lru maxmemory 1mb");
    expect_ok(rc, "SET trigger v");
    r = harness_cmd(rc, "DBSIZE");
    before = 3001;
    after = r->integer;
    freeReplyObject(r);
    cr_assert(after < before / 2, "DBSIZE %lld after lowering maxmemory", after);
    cr_assert(harness_info_ll(rc, "memory", "used_memory_dataset") <= (1 << 20) + 64 * 1024);
}

/* The server's virtual size in bytes (VmSize), which counts memory reserved
 * but never touched, unlike RSS. */
static long long
server_vmsize(const struct harness_server *s)
{
    char path[64], line[256];
    long long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    f = fopen(path, "r");
    cr_assert(not(eq(ptr, f, NULL)));
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmSize: %lld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    cr_assert(gt(i64, kb, 0));
    return kb * 1024;
}

/* Cap the server's address space at what it has now plus extra, so that a
 * reservation it should not make fails inside it (where the kernel's
 * overcommit would otherwise grant it). False under the sanitizers, whose
 * shadow mappings make the address space meaningless. */
static bool
cap_address_space(const struct harness_server *s, long long extra)
{
    long long vm = server_vmsize(s);
    struct rlimit rl;

    if (vm > (1ll << 40)) {
        return false;
    }
    rl.rlim_cur = rl.rlim_max = (rlim_t)(vm + extra);
    cr_assert(eq(int, prlimit(s->pid, RLIMIT_AS, &rl, NULL), 0), "prlimit: %s", strerror(errno));
    return true;
}

/* A 20-byte header announcing a 400 MB bulk costs the server nothing until
 * the bytes arrive: eight of them neither grow it nor stop it. */
Test(limits, announcing_huge_bulks_reserves_nothing_ahead_of_the_data)
{
    enum { CONNS = 8 };
    static const char hdr[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nsome data";
    int fds[CONNS];
    long long before;

    harness_setup_with("--proto-max-bulk-len", "1gb", NULL);
    before = server_vmsize(srv);
    cap_address_space(srv, 1ll << 30); /* less than the 3.2 GB announced */
    for (int i = 0; i < CONNS; i++) {
        fds[i] = harness_raw_connect(srv);
        harness_raw_send(fds[i], hdr, sizeof hdr - 1);
    }
    harness_sleep_ms(300);
    expect_status(rc, "PONG", "PING");
    cr_assert(not(harness_server_wait_exit(srv, 0)), "the server exited");
    cr_assert(lt(i64, server_vmsize(srv) - before, 256ll << 20),
              "the server reserved the announced bulks: VmSize grew by %lld bytes",
              server_vmsize(srv) - before);
    cr_assert(lt(i64, harness_server_rss(srv), 128ll << 20));
    for (int i = 0; i < CONNS; i++) {
        close(fds[i]);
    }
    expect_status(rc, "PONG", "PING");
}

/* When the query buffer cannot grow, the client gets an error and is
 * closed; the server goes on serving the others. */
Test(limits, a_query_buffer_that_cannot_grow_is_an_error_not_an_exit)
{
    static const char hdr[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n";
    size_t chunk = 1 << 20;
    char *junk = malloc(chunk), reply[256];
    long long t0;
    int fd;

    harness_setup_with("--proto-max-bulk-len", "1gb", NULL);
    if (!cap_address_space(srv, 200ll << 20)) {
        free(junk);
        cr_skip_test("the address space cannot be capped under the sanitizers");
    }
    memset(junk, 'x', chunk);
    fd = harness_raw_connect(srv);
    harness_raw_send(fd, hdr, sizeof hdr - 1);
    t0 = harness_now_ms();
    /* until the server gives up on the buffer (about 200 MB in) */
    for (size_t sent = 0; sent < 400000000 && harness_now_ms() - t0 < 20000;) {
        size_t n = send_some(fd, junk, chunk, 1000);

        if (n < chunk) {
            break;
        }
        sent += n;
    }
    cr_assert(not(harness_server_wait_exit(srv, 0)), "the server exited");
    harness_raw_read_reply(fd, reply, sizeof reply);
    cr_assert(eq(int, reply[0], '-'), "got %s", reply);
    cr_assert(harness_raw_closed_within(fd, 3000));
    close(fd);
    expect_status(rc, "PONG", "PING");
    expect_int(rc, 0, "EXISTS k");
    free(junk);
}
