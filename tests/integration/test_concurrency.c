/*
 * tests/integration/test_concurrency.c — many clients at once against one
 * server: exact totals from concurrent INCR/INCRBY/APPEND/INCRBYFLOAT,
 * exactly one SETNX winner, a SET/GET/DEL/EXPIRE mix with no unexpected
 * reply, SCAN and FLUSHALL racing writers, and clients that vanish in the
 * middle of a request or with unread replies.
 *
 * Client threads use hiredis directly (Criterion asserts only on the main
 * thread) and report the first unexpected reply through struct outcome.
 */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(concurrency, .init = harness_setup, .fini = harness_teardown, .timeout = 40);

/* What the client threads saw. */
struct outcome {
    atomic_int errors;
    pthread_mutex_t lock;
    char first[256];
};

static struct outcome out = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
report(const char *fmt, ...)
{
    va_list ap;

    if (atomic_fetch_add(&out.errors, 1) == 0) {
        pthread_mutex_lock(&out.lock);
        va_start(ap, fmt);
        vsnprintf(out.first, sizeof out.first, fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&out.lock);
    }
}

static void
expect_no_thread_errors(void)
{
    int n = atomic_load(&out.errors);

    cr_assert(eq(int, n, 0), "%d unexpected replies in client threads, first: %s", n, out.first);
}

static redisContext *
thread_connect(void)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);

    if (c == NULL || c->err) {
        report("connect: %s", c ? c->errstr : "out of memory");
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Run fn(i) on n threads and wait for all of them. */
static void
run_threads(int n, void *(*fn)(void *))
{
    pthread_t *t = calloc((size_t)n, sizeof *t);

    for (long i = 0; i < n; i++) {
        cr_assert(eq(int, pthread_create(&t[i], NULL, fn, (void *)i), 0));
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    free(t);
}

/* Read a batch of pipelined replies, each expected to be an integer. */
static void
drain_integers(redisContext *c, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        redisReply *r;

        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            report("%s: connection error %s", what, c->errstr);
            return;
        }
        if (r->type != REDIS_REPLY_INTEGER) {
            report("%s: reply type %d (%s)", what, r->type, r->str ? r->str : "");
        }
        freeReplyObject(r);
    }
}

/* ---- exact totals --------------------------------------------------------------- */

enum { INCR_THREADS = 50, INCRS = 2000, BATCH = 100, SHARED_KEYS = 5 };

static void *
incr_worker(void *arg)
{
    long id = (long)arg;
    redisContext *c = thread_connect();

    if (c == NULL) {
        return NULL;
    }
    for (int done = 0; done < INCRS; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            redisAppendCommand(c, "INCR counter:%d", (int)((id + done + i) % SHARED_KEYS));
        }
        drain_integers(c, BATCH, "INCR");
    }
    redisFree(c);
    return NULL;
}

Test(concurrency, fifty_clients_incrementing_shared_keys_lose_no_update)
{
    long long total = 0;

    run_threads(INCR_THREADS, incr_worker);
    expect_no_thread_errors();
    for (int k = 0; k < SHARED_KEYS; k++) {
        redisReply *r = harness_cmd(rc, "GET counter:%d", k);

        cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
        cr_assert(eq(i64, atoll(r->str), INCR_THREADS * INCRS / SHARED_KEYS), "counter:%d = %s",
                  k, r->str);
        total += atoll(r->str);
        freeReplyObject(r);
    }
    cr_assert(eq(i64, total, (long long)INCR_THREADS * INCRS));
}

static void *
incrby_worker(void *arg)
{
    long id = (long)arg;
    redisContext *c = thread_connect();

    if (c == NULL) {
        return NULL;
    }
    /* Thread id adds id+1 a thousand times and subtracts 1 five hundred times. */
    for (int i = 0; i < 1000; i++) {
        redisAppendCommand(c, "INCRBY sum %ld", id + 1);
        if (i % 2 == 0) {
            redisAppendCommand(c, "DECRBY sum 1");
        }
    }
    drain_integers(c, 1500, "INCRBY");
    redisFree(c);
    return NULL;
}

Test(concurrency, concurrent_incrby_and_decrby_sum_exactly)
{
    long long want = 0;

    run_threads(20, incrby_worker);
    expect_no_thread_errors();
    for (int id = 0; id < 20; id++) {
        want += 1000LL * (id + 1) - 500;
    }
    {
        char buf[32];

        snprintf(buf, sizeof buf, "%lld", want);
        expect_bulk(rc, buf, "GET sum");
    }
}

static void *
append_worker(void *arg)
{
    redisContext *c = thread_connect();

    (void)arg;
    if (c == NULL) {
        return NULL;
    }
    for (int i = 0; i < 1000; i++) {
        redisAppendCommand(c, "APPEND log x");
    }
    drain_integers(c, 1000, "APPEND");
    redisFree(c);
    return NULL;
}

Test(concurrency, concurrent_appends_are_all_kept)
{
    run_threads(10, append_worker);
    expect_no_thread_errors();
    expect_int(rc, 10000, "STRLEN log");
}

static void *
float_worker(void *arg)
{
    redisContext *c = thread_connect();

    (void)arg;
    if (c == NULL) {
        return NULL;
    }
    for (int i = 0; i < 500; i++) {
        redisAppendCommand(c, "INCRBYFLOAT f 0.5");
    }
    for (int i = 0; i < 500; i++) {
        redisReply *r;

        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            report("INCRBYFLOAT: %s", c->errstr);
            break;
        }
        if (r->type != REDIS_REPLY_STRING) {
            report("INCRBYFLOAT: reply type %d", r->type);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

Test(concurrency, concurrent_incrbyfloat_sums_exactly)
{
    run_threads(10, float_worker);
    expect_no_thread_errors();
    expect_bulk(rc, "2500", "GET f");
}

static atomic_int setnx_winners;

static void *
setnx_worker(void *arg)
{
    long id = (long)arg;
    redisContext *c = thread_connect();
    redisReply *r;

    if (c == NULL) {
        return NULL;
    }
    r = redisCommand(c, "SETNX lock owner-%ld", id);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        report("SETNX: bad reply");
    } else if (r->integer == 1) {
        atomic_fetch_add(&setnx_winners, 1);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

Test(concurrency, exactly_one_of_fifty_setnx_wins)
{
    run_threads(50, setnx_worker);
    expect_no_thread_errors();
    cr_assert(eq(int, atomic_load(&setnx_winners), 1));
}

/* ---- a mixed workload ------------------------------------------------------------- */

static void *
mix_worker(void *arg)
{
    long id = (long)arg;
    unsigned seed = (unsigned)id * 7919u + 1;
    redisContext *c = thread_connect();

    if (c == NULL) {
        return NULL;
    }
    for (int i = 0; i < 2000; i++) {
        int key = rand_r(&seed) % 100, op = rand_r(&seed) % 6;
        redisReply *r;

        switch (op) {
        case 0:
            r = redisCommand(c, "SET k%d v:%ld:%d", key, id, i);
            if (r != NULL && !(r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)) {
                report("SET: type %d", r->type);
            }
            break;
        case 1:
            r = redisCommand(c, "GET k%d", key);
            if (r != NULL && r->type != REDIS_REPLY_NIL &&
                !(r->type == REDIS_REPLY_STRING && strncmp(r->str, "v:", 2) == 0)) {
                report("GET: type %d %s", r->type, r->str ? r->str : "");
            }
            break;
        case 2:
            r = redisCommand(c, "DEL k%d", key);
            if (r != NULL && !(r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 1)) {
                report("DEL: type %d", r->type);
            }
            break;
        case 3:
            r = redisCommand(c, "PEXPIRE k%d %d", key, 1 + rand_r(&seed) % 50);
            if (r != NULL && !(r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 1)) {
                report("PEXPIRE: type %d", r->type);
            }
            break;
        case 4:
            r = redisCommand(c, "SET k%d v:%ld:%d PX %d", key, id, i, 1 + rand_r(&seed) % 50);
            if (r != NULL && r->type != REDIS_REPLY_STATUS) {
                report("SET PX: type %d", r->type);
            }
            break;
        default:
            r = redisCommand(c, "TTL k%d", key);
            if (r != NULL && !(r->type == REDIS_REPLY_INTEGER && r->integer >= -2)) {
                report("TTL: type %d", r->type);
            }
            break;
        }
        if (r == NULL) {
            report("op %d: connection error %s", op, c->errstr);
            break;
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

Test(concurrency, a_set_get_del_expire_mix_gives_only_expected_replies)
{
    run_threads(16, mix_worker);
    expect_no_thread_errors();
    /* Every surviving key still holds a well-formed value. */
    for (int k = 0; k < 100; k++) {
        redisReply *r = harness_cmd(rc, "GET k%d", k);

        cr_assert(r->type == REDIS_REPLY_NIL ||
                      (r->type == REDIS_REPLY_STRING && strncmp(r->str, "v:", 2) == 0),
                  "k%d: type %d", k, r->type);
        freeReplyObject(r);
    }
}

/* ---- racing whole-keyspace commands ------------------------------------------------ */

static atomic_bool stop_writers;

static void *
writer_worker(void *arg)
{
    long id = (long)arg;
    redisContext *c = thread_connect();
    int i = 0;

    if (c == NULL) {
        return NULL;
    }
    while (!atomic_load(&stop_writers) && i < 200000) {
        for (int j = 0; j < 50; j++, i++) {
            redisAppendCommand(c, "SET w:%ld:%d v", id, i % 5000);
        }
        for (int j = 0; j < 50; j++) {
            redisReply *r;

            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                report("SET: %s", c->errstr);
                redisFree(c);
                return NULL;
            }
            if (r->type != REDIS_REPLY_STATUS) {
                report("SET: type %d", r->type);
            }
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

Test(concurrency, scan_completes_while_writers_run)
{
    pthread_t writers[4];
    unsigned long long cursor = 0;
    int calls = 0;

    for (int i = 0; i < 2000; i++) {
        expect_ok(rc, "SET base:%d v", i);
    }
    atomic_store(&stop_writers, false);
    for (long i = 0; i < 4; i++) {
        cr_assert(eq(int, pthread_create(&writers[i], NULL, writer_worker, (void *)i), 0));
    }
    {
        static unsigned char seen[2000];

        do {
            redisReply *r = harness_cmd(rc, "SCAN %llu COUNT 100", cursor);

            cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
            cursor = strtoull(elem_str(r, 0), NULL, 10);
            for (size_t i = 0; i < elem(r, 1)->elements; i++) {
                int id;

                if (sscanf(elem_str(elem(r, 1), i), "base:%d", &id) == 1) {
                    seen[id] = 1;
                }
            }
            freeReplyObject(r);
            calls++;
            cr_assert(calls < 100000, "SCAN did not finish");
        } while (cursor != 0);
        atomic_store(&stop_writers, true);
        for (int i = 0; i < 4; i++) {
            pthread_join(writers[i], NULL);
        }
        for (int i = 0; i < 2000; i++) {
            cr_assert(seen[i], "SCAN missed base:%d", i);
        }
    }
    expect_no_thread_errors();
}

Test(concurrency, flushall_while_writers_run_leaves_a_working_server)
{
    pthread_t writers[4];

    atomic_store(&stop_writers, false);
    for (long i = 0; i < 4; i++) {
        cr_assert(eq(int, pthread_create(&writers[i], NULL, writer_worker, (void *)i), 0));
    }
    for (int i = 0; i < 20; i++) {
        expect_ok(rc, "FLUSHALL");
        harness_sleep_ms(10);
    }
    atomic_store(&stop_writers, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(writers[i], NULL);
    }
    expect_no_thread_errors();
    expect_ok(rc, "FLUSHALL");
    expect_int(rc, 0, "DBSIZE");
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GET k");
}

/* ---- clients that vanish ---------------------------------------------------------- */

static void *
vanishing_worker(void *arg)
{
    long id = (long)arg;
    static const char partial[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nabcdef";
    static const char half_header[] = "*3\r\n$3\r\nSE";
    char pipeline[20 * 10];
    size_t plen = 0;

    for (int i = 0; i < 20; i++) {
        plen += (size_t)snprintf(pipeline + plen, sizeof pipeline - plen, "GET big\r\n");
    }
    for (int round = 0; round < 30; round++) {
        struct harness_server s = *srv;
        int fd;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
        struct linger lg = {1, 0};

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            report("connect: round %d", round);
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        switch ((round + id) % 4) {
        case 0: /* mid-bulk */
            send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL);
            break;
        case 1: /* mid-header */
            send(fd, half_header, sizeof half_header - 1, MSG_NOSIGNAL);
            break;
        case 2: /* replies pending, never read, connection reset */
            send(fd, pipeline, plen, MSG_NOSIGNAL);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            break;
        default: /* a complete command, gone before the reply */
            send(fd, "INCR vanished\r\n", 15, MSG_NOSIGNAL);
            break;
        }
        if (round % 3 == 0) {
            harness_sleep_ms(1);
        }
        close(fd);
    }
    return NULL;
}

Test(concurrency, the_server_survives_clients_vanishing_mid_request)
{
    char *big = malloc(256 * 1024);

    memset(big, 'b', 256 * 1024);
    expect_ok(rc, "SET big %b", big, (size_t)256 * 1024);
    free(big);
    run_threads(10, vanishing_worker);
    expect_no_thread_errors();
    cr_assert(eq(int, harness_server_wait_exit(srv, 0), 0), "the server died");
    expect_status(rc, "PONG", "PING");
    expect_int(rc, 0, "EXISTS k"); /* the half-sent SETs never ran */
    expect_int(rc, 256 * 1024, "STRLEN big");
    /* Every vanished client is eventually reaped. */
    cr_assert(eq(i64, harness_wait_clients(rc, 1), 1));
}

static void *
ping_worker(void *arg)
{
    redisContext *c = thread_connect();
    redisReply *r;

    (void)arg;
    if (c == NULL) {
        return NULL;
    }
    r = redisCommand(c, "PING");
    if (r == NULL || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
        report("PING: bad reply");
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    /* Stay connected for a moment so that all are open together. */
    harness_sleep_ms(200);
    redisFree(c);
    return NULL;
}

Test(concurrency, two_hundred_simultaneous_connections_are_served)
{
    run_threads(200, ping_worker);
    expect_no_thread_errors();
    cr_assert(harness_info_ll(rc, "stats", "total_connections_received") >= 200);
}
