/*
 * tests/integration/test_disk_tier.c — the disk tier against a real server:
 * 1 GB of distinct keys through a 32 MB memory tier, read back byte for
 * byte, a clean restart that serves them all again, and a kill -9 in the
 * middle of writes after which every key the rebuilt index holds is intact.
 *
 * Values are generated from the key's number, so they are checked without
 * being kept: odd keys are text-like (words), even keys random bytes;
 * lengths run from 100 B to 10 KB.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define BATCH 512

static char dir[64];

static void
make_dir(void)
{
    /* Under the build tree, not /tmp: the tests drop segment pages from the
     * page cache, which a tmpfs /tmp would ignore. */
    snprintf(dir, sizeof dir, "tmp-rc-disk-XXXXXX");
    cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
}

static void
remove_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
}

static uint64_t
mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t
value_of(long i, char *buf)
{
    static const char *const words[] = {"cache", "ring", "node", "value", "the", "of",
                                        "segment", "disk", "memory", "key", "and", "zstd"};
    uint64_t x = mix((uint64_t)i + 1);
    size_t n = 100 + x % 10001, k = 0;

    if (i & 1) {
        while (k < n) {
            const char *w = words[(x = mix(x)) % 12];
            size_t l = strlen(w);

            for (size_t j = 0; j < l && k < n; j++) {
                buf[k++] = w[j];
            }
            if (k < n) {
                buf[k++] = ' ';
            }
        }
    } else {
        for (; k < n; k += 8) {
            x = mix(x);
            memcpy(buf + k, &x, n - k < 8 ? n - k : 8);
        }
    }
    return n;
}

/* Pipelined SETs of keys [from, to); returns total value bytes. */
static uint64_t
write_keys(redisContext *c, long from, long to)
{
    static char val[10200];
    uint64_t bytes = 0;

    for (long b = from; b < to; b += BATCH) {
        long end = b + BATCH < to ? b + BATCH : to;

        for (long i = b; i < end; i++) {
            size_t n = value_of(i, val);

            redisAppendCommand(c, "SET key:%ld %b", i, val, n);
            bytes += n;
        }
        for (long i = b; i < end; i++) {
            redisReply *r = NULL;

            cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK), "SET key:%ld: %s", i, c->errstr);
            cr_assert(eq(int, r->type, REDIS_REPLY_STATUS), "SET key:%ld: %s", i,
                      r->type == REDIS_REPLY_ERROR ? r->str : "?");
            freeReplyObject(r);
        }
    }
    return bytes;
}

/* Pipelined GETs: every key must be present and byte-identical unless
 * allow_missing; returns how many were present. */
static long
read_keys(redisContext *c, long from, long to, bool allow_missing)
{
    static char val[10200];
    long present = 0;

    for (long b = from; b < to; b += BATCH) {
        long end = b + BATCH < to ? b + BATCH : to;

        for (long i = b; i < end; i++) {
            redisAppendCommand(c, "GET key:%ld", i);
        }
        for (long i = b; i < end; i++) {
            redisReply *r = NULL;
            size_t n = value_of(i, val);

            cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK), "GET key:%ld: %s", i, c->errstr);
            if (r->type == REDIS_REPLY_NIL && allow_missing) {
                freeReplyObject(r);
                continue;
            }
            cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "GET key:%ld type %d", i, r->type);
            cr_assert(eq(sz, r->len, n), "key:%ld length", i);
            cr_assert(eq(int, memcmp(r->str, val, n), 0), "key:%ld bytes", i);
            present++;
            freeReplyObject(r);
        }
    }
    return present;
}

static struct harness_server *
start(void)
{
    return harness_server_start("--dir", dir, "--maxmemory", "32mb", "--disk-tier", "yes",
                                "--disk-max-bytes", "4gb", "--segment-size", "64mb", NULL);
}

TestSuite(disk_tier, .fini = harness_teardown, .timeout = 170);

Test(disk_tier, a_gigabyte_through_32mb_reads_back_and_survives_a_clean_restart)
{
    struct harness_server *s;
    redisContext *c;
    uint64_t bytes = 0;
    long n = 0;
    long long t0 = harness_now_ms();

    make_dir();
    s = start();
    c = harness_connect(s);
    /* about 200k keys of 5 KB on average */
    while (bytes < (1ull << 30)) {
        bytes += write_keys(c, n, n + 10 * BATCH);
        n += 10 * BATCH;
    }
    fprintf(stderr, "disk_tier: wrote %ld keys, %llu bytes in %lld ms\n", n,
            (unsigned long long)bytes, harness_now_ms() - t0);
    cr_assert(le(i64, harness_info_ll(c, "memory", "used_memory_dataset"), 32ll << 20));
    cr_assert(eq(i64, harness_info_ll(c, "stats", "evicted_keys"), 0), "nothing dropped");
    t0 = harness_now_ms();
    cr_assert(eq(i64, (long long)read_keys(c, 0, n, false), (long long)n));
    fprintf(stderr, "disk_tier: read back in %lld ms, compression ratio %lld%%\n",
            harness_now_ms() - t0,
            harness_info_ll(c, "storage", "disk_raw_bytes_written") * 100 /
                harness_info_ll(c, "storage", "disk_bytes_written"));
    cr_assert(eq(i64, harness_info_ll(c, "storage", "disk_read_errors"), 0));
    {
        redisReply *r = harness_cmd(c, "DBSIZE");

        cr_assert(eq(i64, r->integer, n));
        freeReplyObject(r);
    }
    redisFree(c);

    t0 = harness_now_ms();
    cr_assert(harness_exited_zero(harness_server_stop(&s)), "SIGTERM flushes and exits 0");
    s = start();
    fprintf(stderr, "disk_tier: stop + restart in %lld ms\n", harness_now_ms() - t0);
    c = harness_connect(s);
    cr_assert(eq(i64, harness_info_ll(c, "storage", "disk_keys"), n), "rebuilt index");
    t0 = harness_now_ms();
    cr_assert(eq(i64, (long long)read_keys(c, 0, n, false), (long long)n));
    fprintf(stderr, "disk_tier: read back after restart in %lld ms\n", harness_now_ms() - t0);
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
}

Test(disk_tier, after_kill_9_every_key_the_index_holds_reads_back_intact)
{
    struct harness_server *s;
    redisContext *c;
    long present;
    redisReply *r;
    long long dbsize;

    make_dir();
    s = start();
    c = harness_connect(s);
    write_keys(c, 0, 30000); /* ~150 MB: the writer is busy when it dies */
    kill(s->pid, SIGKILL);
    harness_server_stop(&s);
    redisFree(c);

    s = start();
    c = harness_connect(s);
    r = harness_cmd(c, "DBSIZE");
    dbsize = r->integer;
    freeReplyObject(r);
    present = read_keys(c, 0, 30000, true);
    fprintf(stderr, "disk_tier: after kill -9, %lld keys indexed, %ld read back\n", dbsize, present);
    cr_assert(gt(i64, (long long)present, 15000), "what reached disk is served");
    cr_assert(eq(i64, (long long)present, dbsize), "every indexed key reads back");
    cr_assert(eq(i64, harness_info_ll(c, "storage", "disk_read_errors"), 0));
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
}

Test(disk_tier, cold_keys_answer_del_ttl_exists_and_info_storage)
{
    struct harness_server *s;
    redisContext *c;

    make_dir();
    s = harness_server_start("--dir", dir, "--maxmemory", "2mb", "--disk-tier", "yes", NULL);
    c = harness_connect(s);
    expect_ok(c, "SET ttlkey hello EX 1000");
    write_keys(c, 0, 3000);
    cr_assert(gt(i64, harness_info_ll(c, "storage", "disk_keys"), 1000));
    expect_int(c, 1, "EXISTS key:1");
    expect_int(c, 1, "DEL key:1");
    expect_nil(c, "GET key:1");
    expect_ok(c, "SET key:2 new");
    expect_bulk(c, "new", "GET key:2");
    {
        redisReply *r = harness_cmd(c, "TTL ttlkey");

        cr_assert(gt(i64, r->integer, 990));
        freeReplyObject(r);
    }
    expect_bulk(c, "hello", "GET ttlkey");
    expect_ok(c, "FLUSHALL");
    expect_int(c, 0, "DBSIZE");
    expect_nil(c, "GET key:5");
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
}

/* KEYS * and a whole SCAN list every key written, cold ones included; KEYS
 * each exactly once. */
Test(disk_tier, keys_and_scan_list_cold_keys)
{
    enum { N = 3000 };
    static int seen[N];
    struct harness_server *s;
    redisContext *c;
    redisReply *r;
    char cursor[32] = "0";
    int calls = 0;

    make_dir();
    s = harness_server_start("--dir", dir, "--maxmemory", "2mb", "--disk-tier", "yes", NULL);
    c = harness_connect(s);
    write_keys(c, 0, N);
    cr_assert(gt(i64, harness_info_ll(c, "storage", "disk_keys"), 1000), "most keys are cold");

    r = harness_cmd(c, "KEYS *");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, (size_t)N), "KEYS lists each key once");
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < r->elements; i++) {
        int k = -1;

        cr_assert(eq(int, sscanf(r->element[i]->str, "key:%d", &k), 1), "%s", r->element[i]->str);
        cr_assert(k >= 0 && k < N, "%s", r->element[i]->str);
        cr_assert(eq(int, seen[k]++, 0), "key:%d listed twice", k);
    }
    freeReplyObject(r);

    r = harness_cmd(c, "KEYS key:12*");
    cr_assert(eq(sz, r->elements, (size_t)111), "KEYS with a pattern"); /* 12, 120-129, 1200-1299 */
    freeReplyObject(r);

    memset(seen, 0, sizeof seen);
    do {
        r = harness_cmd(c, "SCAN %s COUNT 50", cursor);
        cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
        cr_assert(eq(sz, r->elements, (size_t)2));
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            int k = -1;

            cr_assert(eq(int, sscanf(r->element[1]->element[i]->str, "key:%d", &k), 1));
            cr_assert(k >= 0 && k < N);
            seen[k]++;
        }
        freeReplyObject(r);
        cr_assert(lt(int, ++calls, 100000), "SCAN ends");
    } while (strcmp(cursor, "0") != 0);
    for (int k = 0; k < N; k++) {
        cr_assert(ge(int, seen[k], 1), "SCAN missed key:%d", k);
    }
    r = harness_cmd(c, "RANDOMKEY");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    freeReplyObject(r);
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
}

/* Push the segment files out of the page cache (written back first), so
 * that reading a cold key has to wait for the device. */
static void
drop_segment_cache(redisContext *c)
{
    char path[512];
    struct dirent *de;
    DIR *d;

    harness_wait_info(c, "storage", "disk_queue_bytes", 0, 5000);
    d = opendir(dir);
    cr_assert(not(eq(ptr, d, NULL)));
    while ((de = readdir(d)) != NULL) {
        int fd;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        (void)fdatasync(fd);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
}

/* Cold keys read by reader threads: pipelined replies keep request order,
 * commands after a cold read run after it (a GET then SET of the same key
 * sees the old value), a client leaving with reads in flight harms no one,
 * and INFO storage counts the reads. */
Test(disk_tier, cold_reads_off_the_loop_keep_order_and_survive_disconnects)
{
    enum { N = 4000, HOT = 50 };
    static char val[10200];
    struct harness_server *s;
    redisContext *c;
    redisReply *r;
    int fd;

    make_dir();
    s = harness_server_start("--dir", dir, "--maxmemory", "2mb", "--disk-tier", "yes",
                             "--io-threads", "1", NULL);
    c = harness_connect(s);
    write_keys(c, 0, N);
    for (int h = 0; h < HOT; h++) {
        r = harness_cmd(c, "SET hot:%d h%d", h, h);
        freeReplyObject(r);
    }
    cr_assert(gt(i64, harness_info_ll(c, "storage", "disk_keys"), N / 2), "most keys are cold");
    drop_segment_cache(c);

    /* (a) order: cold GET, hot GET, SET, and for every 7th key GET/SET/GET */
    for (long i = 0; i < N / 2; i++) {
        redisAppendCommand(c, "GET key:%ld", i);
        redisAppendCommand(c, "GET hot:%ld", i % HOT);
        redisAppendCommand(c, "SET new:%ld v%ld", i, i);
        if (i % 7 == 0) {
            redisAppendCommand(c, "SET key:%ld changed%ld", i, i);
            redisAppendCommand(c, "GET key:%ld", i);
        }
    }
    for (long i = 0; i < N / 2; i++) {
        size_t n = value_of(i, val);
        char want[32];

        cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK), "GET key:%ld: %s", i, c->errstr);
        cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "GET key:%ld type %d", i, r->type);
        cr_assert(eq(sz, r->len, n), "key:%ld length", i);
        cr_assert(eq(int, memcmp(r->str, val, n), 0), "key:%ld bytes", i);
        freeReplyObject(r);
        cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK));
        snprintf(want, sizeof want, "h%ld", i % HOT);
        cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "GET hot:%ld type %d", i % HOT, r->type);
        cr_assert(eq(str, r->str, want), "hot:%ld after key:%ld", i % HOT, i);
        freeReplyObject(r);
        cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK));
        cr_assert(eq(int, r->type, REDIS_REPLY_STATUS), "SET new:%ld", i);
        freeReplyObject(r);
        if (i % 7 == 0) {
            cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK));
            cr_assert(eq(int, r->type, REDIS_REPLY_STATUS), "SET key:%ld", i);
            freeReplyObject(r);
            cr_assert(eq(int, redisGetReply(c, (void **)&r), REDIS_OK));
            snprintf(want, sizeof want, "changed%ld", i);
            cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
            cr_assert(eq(str, r->str, want), "GET key:%ld after its SET", i);
            freeReplyObject(r);
        }
    }
    expect_bulk(c, "v1999", "GET new:1999");

    /* (c) the reads went to reader threads */
    cr_assert(gt(i64, harness_info_ll(c, "storage", "disk_async_commands"), 0));
    cr_assert(gt(i64, harness_info_ll(c, "storage", "disk_async_reads"), 0));
    fprintf(stderr, "disk_tier: %lld cold GETs waited for readers, %.0f us on average\n",
            harness_info_ll(c, "storage", "disk_async_commands"),
            (double)harness_info_ll(c, "storage", "disk_async_wait_avg_us"));

    /* (b) a client that leaves with cold reads in flight */
    drop_segment_cache(c);
    for (int round = 0; round < 3; round++) {
        static char cmd[64 * 700];
        size_t len = 0;

        fd = harness_raw_connect(s);
        for (long i = N / 2 + round * 600; i < N / 2 + round * 600 + 600; i++) {
            len += (size_t)snprintf(cmd + len, sizeof cmd - len, "GET key:%ld\r\n", i);
        }
        harness_raw_send(fd, cmd, len);
        close(fd);
    }
    expect_status(c, "PONG", "PING");
    cr_assert(eq(i64, (long long)read_keys(c, N / 2, N, false), (long long)(N / 2)));
    cr_assert(eq(i64, harness_wait_clients(c, 1), 1));
    cr_assert(eq(i64, harness_info_ll(c, "storage", "disk_read_errors"), 0));
    redisFree(c);
    cr_assert(harness_exited_zero(harness_server_stop(&s)));
    remove_dir();
}

/* A value larger than the whole write queue (4 MiB at maxmemory 0): SHUTDOWN
 * writes it out and exits, and the restarted server serves it. */
Test(disk_tier, shutdown_spills_a_value_larger_than_the_write_queue_and_exits)
{
    enum { BIG = 5 << 20 };
    char *big = malloc(BIG);
    struct harness_server *s;
    redisContext *c;
    redisReply *r;

    cr_assert(not(eq(ptr, big, NULL)));
    for (size_t i = 0; i < BIG; i++) {
        big[i] = (char)('a' + (mix(i / 64) % 26));
    }
    make_dir();
    s = harness_server_start("--dir", dir, "--disk-tier", "yes", NULL);
    c = harness_connect(s);
    r = harness_cmd(c, "SET big %b", big, (size_t)BIG);
    cr_assert(eq(int, r->type, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    r = redisCommand(c, "SHUTDOWN");
    cr_assert(eq(ptr, r, NULL), "SHUTDOWN replied");
    cr_assert(harness_server_wait_exit(s, 10000), "SHUTDOWN finishes");
    cr_assert(harness_exited_zero(s->exit_status));
    redisFree(c);
    harness_server_stop(&s);

    s = harness_server_start("--dir", dir, "--disk-tier", "yes", NULL);
    c = harness_connect(s);
    r = harness_cmd(c, "GET big");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "the big value survived the restart");
    cr_assert(eq(sz, r->len, (size_t)BIG));
    cr_assert(eq(int, memcmp(r->str, big, BIG), 0));
    freeReplyObject(r);
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
    free(big);
}

/* Evicting a value larger than the write queue spills it (it goes in alone
 * when the queue is empty) instead of dropping it. */
Test(disk_tier, eviction_spills_a_value_larger_than_the_write_queue)
{
    enum { BIG = 5 << 20 };
    char *big = malloc(BIG);
    struct harness_server *s;
    redisContext *c;
    redisReply *r;

    cr_assert(not(eq(ptr, big, NULL)));
    memset(big, 'x', BIG);
    make_dir();
    s = harness_server_start("--dir", dir, "--disk-tier", "yes", "--maxmemory", "7mb", NULL);
    c = harness_connect(s);
    big[0] = '1';
    r = harness_cmd(c, "SET big1 %b", big, (size_t)BIG);
    cr_assert(eq(int, r->type, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    big[0] = '2';
    r = harness_cmd(c, "SET big2 %b", big, (size_t)BIG); /* evicts big1 */
    cr_assert(eq(int, r->type, REDIS_REPLY_STATUS));
    freeReplyObject(r);
    cr_assert(eq(i64, harness_info_ll(c, "stats", "evicted_keys"), 0), "nothing dropped");
    cr_assert(eq(i64, harness_info_ll(c, "storage", "disk_refused"), 0));
    r = harness_cmd(c, "GET big1");
    big[0] = '1';
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING), "big1 was spilled, not dropped");
    cr_assert(eq(sz, r->len, (size_t)BIG));
    cr_assert(eq(int, memcmp(r->str, big, BIG), 0));
    freeReplyObject(r);
    redisFree(c);
    harness_server_stop(&s);
    remove_dir();
    free(big);
}
