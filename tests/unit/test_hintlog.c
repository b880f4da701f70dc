/*
 * tests/unit/test_hintlog.c — hinted-handoff logs (storage/hintlog.c):
 * round trips, batching and resumption, ack and delete, restart, and damage:
 * a log cut at every length inside its last record, or with any one byte of
 * a record changed, loses only that record and never crashes.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/hintlog.h"

#define T1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T2 "0123456789abcdef0123456789abcdef01234567"
#define NOW 1700000000000LL
#define MAXREC 256

static char base[64];
static char dir[96];
static struct hintlog *hl;

struct got_rec {
    char key[64];
    size_t klen;
    char val[256];
    size_t vlen;
    int64_t expire_ms, created_ms;
    uint64_t version, parent;
    bool tomb;
};

struct got {
    size_t n;
    struct got_rec r[MAXREC];
};

static void
collect(void *ctx, const struct hint_rec *r)
{
    struct got *g = ctx;
    struct got_rec *o;

    cr_assert(lt(sz, g->n, MAXREC));
    cr_assert(le(sz, r->klen, sizeof o->key));
    cr_assert(le(sz, r->vlen, sizeof o->val));
    o = &g->r[g->n++];
    memcpy(o->key, r->key, r->klen);
    o->klen = r->klen;
    if (!r->tomb) {
        memcpy(o->val, r->val, r->vlen);
    }
    o->vlen = r->tomb ? 0 : r->vlen;
    o->expire_ms = r->expire_ms;
    o->created_ms = r->created_ms;
    o->version = r->version;
    o->parent = r->parent;
    o->tomb = r->tomb;
}

static struct hint_rec
rec(const char *key, const char *val, int64_t created)
{
    return (struct hint_rec){.key = key, .klen = strlen(key), .val = val,
                             .vlen = val ? strlen(val) : 0, .tomb = val == NULL,
                             .version = 100, .parent = 99,
                             .created_ms = created};
}

static void
put(const char *target, const char *key, const char *val)
{
    struct hint_rec r = rec(key, val, NOW);

    cr_assert(eq(int, hintlog_append(hl, target, &r), HINT_OK));
}

static bool
got_key(const struct got *g, size_t i, const char *key)
{
    return i < g->n && g->r[i].klen == strlen(key) &&
           memcmp(g->r[i].key, key, g->r[i].klen) == 0;
}

/* Everything from *off to the end in one read. */
static long
read_all(const char *target, uint64_t *off, struct got *g)
{
    return hintlog_read(hl, target, off, SIZE_MAX, 0, collect, g);
}

static void
path_of(const char *target, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.hints", dir, target);
}

static bool
log_exists(const char *target)
{
    char p[160];
    struct stat sb;

    path_of(target, p, sizeof p);
    return stat(p, &sb) == 0;
}

static off_t
log_size(const char *target)
{
    char p[160];
    struct stat sb;

    path_of(target, p, sizeof p);
    cr_assert(eq(int, stat(p, &sb), 0));
    return sb.st_size;
}

static void
reopen(uint64_t max_bytes)
{
    char err[256];

    hintlog_close(&hl);
    cr_assert(eq(ptr, hl, NULL));
    hl = hintlog_open(dir, max_bytes, err, sizeof err);
    cr_assert(not(eq(ptr, hl, NULL)), "%s", err);
}

static void
setup(void)
{
    char err[256];

    snprintf(base, sizeof base, "tmp-rc-hints-XXXXXX");
    cr_assert(not(eq(ptr, mkdtemp(base), NULL)));
    snprintf(dir, sizeof dir, "%s/hints", base); /* made by hintlog_open */
    hl = hintlog_open(dir, 0, err, sizeof err);
    cr_assert(not(eq(ptr, hl, NULL)), "%s", err);
}

static void
teardown(void)
{
    char cmd[128];

    hintlog_close(&hl);
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", base);
    }
}

TestSuite(hintlog, .init = setup, .fini = teardown, .timeout = 60);

Test(hintlog, round_trips_values_and_tombstones_with_every_field)
{
    struct hint_rec v = {.key = "user:1", .klen = 6, .val = "hello\0world", .vlen = 11,
                         .expire_ms = NOW + 5000, .version = 0x1122334455667788ull,
                         .parent = 42, .created_ms = NOW};
    struct hint_rec d = {.key = "user:2", .klen = 6, .val = "ignored", .vlen = 7,
                         .tomb = true, .version = 7, .parent = 6, .created_ms = NOW + 1};
    struct got g = {0};
    uint64_t off = 0;

    cr_assert(eq(int, hintlog_append(hl, T1, &v), HINT_OK));
    cr_assert(eq(int, hintlog_append(hl, T1, &d), HINT_OK));
    cr_assert(eq(long, read_all(T1, &off, &g), 2));
    cr_assert(eq(u64, off, (uint64_t)log_size(T1)));
    cr_assert(got_key(&g, 0, "user:1"));
    cr_assert(eq(sz, g.r[0].vlen, 11));
    cr_assert(eq(int, memcmp(g.r[0].val, "hello\0world", 11), 0));
    cr_assert(eq(i64, g.r[0].expire_ms, NOW + 5000));
    cr_assert(eq(u64, g.r[0].version, 0x1122334455667788ull));
    cr_assert(eq(u64, g.r[0].parent, 42));
    cr_assert(eq(i64, g.r[0].created_ms, NOW));
    cr_assert(not(g.r[0].tomb));
    cr_assert(got_key(&g, 1, "user:2"));
    cr_assert(g.r[1].tomb);
    cr_assert(eq(sz, g.r[1].vlen, 0));
    cr_assert(eq(u64, g.r[1].version, 7));
    cr_assert(eq(u64, g.r[1].parent, 6));
    cr_assert(eq(i64, g.r[1].created_ms, NOW + 1));
    /* the tombstone's value was not written */
    cr_assert(eq(i64, log_size(T1), 2 * HINT_REC_HDR_SIZE + 6 + 11 + 6));
    /* at the end: nothing more, offset unchanged */
    cr_assert(eq(long, read_all(T1, &off, &g), 0));
    cr_assert(eq(u64, off, (uint64_t)log_size(T1)));
}

Test(hintlog, keeps_several_targets_apart)
{
    char ids[4][HINT_TARGET_LEN + 1];
    struct got g1 = {0}, g2 = {0};
    uint64_t o1 = 0, o2 = 0;
    size_t n;
    bool both;

    put(T1, "a1", "x");
    put(T2, "b1", "y");
    put(T1, "a2", "x");
    put(T2, "b2", NULL);
    n = hintlog_targets(hl, ids, 4);
    cr_assert(eq(sz, n, 2));
    both = (strcmp(ids[0], T1) == 0 && strcmp(ids[1], T2) == 0) ||
           (strcmp(ids[0], T2) == 0 && strcmp(ids[1], T1) == 0);
    cr_assert(both);
    cr_assert(eq(sz, hintlog_targets(hl, ids, 1), 1));
    cr_assert(eq(long, read_all(T1, &o1, &g1), 2));
    cr_assert(eq(long, read_all(T2, &o2, &g2), 2));
    cr_assert(got_key(&g1, 0, "a1") && got_key(&g1, 1, "a2"));
    cr_assert(got_key(&g2, 0, "b1") && got_key(&g2, 1, "b2"));
    cr_assert(g2.r[1].tomb);
}

Test(hintlog, rejects_bad_targets_and_records_over_the_bounds)
{
    struct hint_rec r = rec("k", "v", NOW);
    struct got g = {0};
    uint64_t off = 0;

    cr_assert(eq(int, hintlog_append(hl, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r),
                 HINT_EINVAL));
    cr_assert(eq(int, hintlog_append(hl, "abc", &r), HINT_EINVAL));
    cr_assert(eq(int, hintlog_append(hl, T1 "0", &r), HINT_EINVAL));
    cr_assert(eq(int, hintlog_append(hl, "../aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &r),
                 HINT_EINVAL));
    /* bounds are checked before the bytes are touched */
    r.klen = (size_t)HINT_KEY_MAX + 1;
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_EINVAL));
    r = rec("k", "v", NOW);
    r.vlen = (size_t)HINT_VAL_MAX + 1;
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_EINVAL));
    cr_assert(not(log_exists(T1)));
    cr_assert(eq(long, hintlog_read(hl, "zz", &off, 100, 0, collect, &g), HINT_EINVAL));
    put(T1, "k", "v");
    off = (uint64_t)log_size(T1) + 1;
    cr_assert(eq(long, read_all(T1, &off, &g), HINT_EINVAL));
    off = 0;
    cr_assert(eq(long, read_all(T2, &off, &g), 0)); /* no log: nothing */
    cr_assert(eq(str, (char *)hint_strerror(HINT_EFULL), "hint logs are full"));
}

Test(hintlog, reads_in_small_batches_resuming_at_the_offset)
{
    struct got g = {0};
    uint64_t off = 0, last = 0;
    char key[16];
    long n;
    int calls = 0;

    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(T1, key, "value");
    }
    /* max_bytes 1: one record a call */
    while ((n = hintlog_read(hl, T1, &off, 1, 0, collect, &g)) > 0) {
        cr_assert(eq(long, n, 1));
        cr_assert(gt(u64, off, last));
        last = off;
        calls++;
    }
    cr_assert(eq(long, n, 0));
    cr_assert(eq(int, calls, 10));
    cr_assert(eq(sz, g.n, 10));
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(got_key(&g, (size_t)i, key));
    }
    /* a batch of about three records' bytes */
    g.n = 0;
    off = 0;
    cr_assert(eq(long, hintlog_read(hl, T1, &off, 3 * (HINT_REC_HDR_SIZE + 7), 0, collect, &g), 3));
    cr_assert(eq(long, read_all(T1, &off, &g), 7));
    cr_assert(eq(sz, g.n, 10));
    cr_assert(got_key(&g, 3, "k3"));
}

Test(hintlog, ack_at_the_end_deletes_the_log_and_ack_before_it_keeps_it)
{
    struct got g = {0};
    struct hintlog_stats s;
    uint64_t off = 0, last;
    char ids[2][HINT_TARGET_LEN + 1];

    put(T1, "k1", "v");
    put(T1, "k2", "v");
    cr_assert(eq(long, hintlog_read(hl, T1, &off, 1, 0, collect, &g), 1));
    hintlog_ack(hl, T1, off, 1);
    cr_assert(log_exists(T1));
    cr_assert(eq(i64, log_size(T1), 2 * (HINT_REC_HDR_SIZE + 3)));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 1));
    cr_assert(eq(u64, s.replayed, 1));
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    hintlog_ack(hl, T1, off, 1);
    cr_assert(not(log_exists(T1)));
    cr_assert(eq(sz, hintlog_targets(hl, ids, 2), 0));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 0));
    cr_assert(eq(u64, s.bytes, 0));
    cr_assert(eq(u64, s.replayed, 2));
    /* a new hint starts a new file, read from its start by offset 0 ... */
    put(T1, "k3", "v");
    cr_assert(log_exists(T1));
    last = off;
    off = 0;
    g.n = 0;
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    cr_assert(got_key(&g, 0, "k3"));
    /* ... and by the offset a replayer kept across the ack: the stream goes on */
    off = last;
    g.n = 0;
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    cr_assert(got_key(&g, 0, "k3"));
    cr_assert(eq(u64, off, last + HINT_REC_HDR_SIZE + 3));
    hintlog_ack(hl, T1, off, 1);
    cr_assert(not(log_exists(T1)));
    off = last;
    cr_assert(eq(long, read_all(T1, &off, &g), 0));
    cr_assert(eq(u64, off, last));
}

struct replay {
    struct got g;
    int appended;
};

/* Appends while a replay's callback runs: the read holds no lock then. */
static void
append_during(void *ctx, const struct hint_rec *r)
{
    struct replay *rp = ctx;
    char key[16];

    collect(&rp->g, r);
    snprintf(key, sizeof key, "late%d", rp->appended++);
    put(T1, key, "v");
}

Test(hintlog, appends_during_a_replay_are_read_next_time_and_keep_the_log)
{
    struct replay rp = {0};
    uint64_t off = 0;
    long n;

    put(T1, "k1", "v");
    put(T1, "k2", "v");
    n = read_all(T1, &off, (struct got *)&rp.g);
    cr_assert(eq(long, n, 2));
    rp.g.n = 0;
    off = 0;
    n = hintlog_read(hl, T1, &off, SIZE_MAX, 0, append_during, &rp);
    cr_assert(eq(long, n, 2)); /* the snapshot's end, not the new one */
    cr_assert(eq(int, rp.appended, 2));
    hintlog_ack(hl, T1, off, (uint64_t)n);
    cr_assert(log_exists(T1)); /* the end moved: kept */
    rp.g.n = 0;
    cr_assert(eq(long, read_all(T1, &off, &rp.g), 2));
    cr_assert(got_key(&rp.g, 0, "late0") && got_key(&rp.g, 1, "late1"));
    hintlog_ack(hl, T1, off, 2);
    cr_assert(not(log_exists(T1)));
}

Test(hintlog, a_reopen_sees_every_record_and_rebuilds_the_counters)
{
    struct hintlog_stats before, after;
    struct got g = {0};
    uint64_t off = 0;
    char key[16];

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(i % 2 ? T1 : T2, key, i % 3 ? "value" : NULL);
    }
    hintlog_stats(hl, &before);
    cr_assert(eq(u64, before.pending, 20));
    reopen(0);
    hintlog_stats(hl, &after);
    cr_assert(eq(u64, after.pending, 20));
    cr_assert(eq(u64, after.bytes, before.bytes));
    cr_assert(eq(u64, after.bytes, (uint64_t)(log_size(T1) + log_size(T2))));
    cr_assert(eq(u64, after.corrupt, 0));
    cr_assert(eq(long, read_all(T1, &off, &g), 10));
    for (int i = 1, j = 0; i < 20; i += 2, j++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(got_key(&g, (size_t)j, key));
        cr_assert(eq(int, g.r[j].tomb, i % 3 == 0));
    }
    /* appends go on after the old records */
    put(T1, "k20", "v");
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    cr_assert(got_key(&g, 10, "k20"));
}

static char *
slurp(const char *target, size_t *len)
{
    char p[160];
    FILE *f;
    char *buf;

    path_of(target, p, sizeof p);
    *len = (size_t)log_size(target);
    buf = malloc(*len);
    cr_assert(not(eq(ptr, buf, NULL)));
    f = fopen(p, "rb");
    cr_assert(not(eq(ptr, f, NULL)));
    cr_assert(eq(sz, fread(buf, 1, *len, f), *len));
    fclose(f);
    return buf;
}

static void
spill(const char *target, const char *buf, size_t len)
{
    char p[160];
    int fd;

    path_of(target, p, sizeof p);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(long, (long)write(fd, buf, len), (long)len));
    close(fd);
}

Test(hintlog, a_torn_tail_at_any_length_loses_only_the_last_record)
{
    size_t len, first;
    char *img;

    put(T1, "k1", "first value");
    put(T1, "k2", "second value");
    first = (size_t)log_size(T1);
    put(T1, "k3", "the last value, torn");
    hintlog_close(&hl);
    img = slurp(T1, &len);
    for (size_t cut = first + 1; cut < len; cut++) {
        struct got g = {0};
        struct hintlog_stats s;
        uint64_t off = 0;

        spill(T1, img, cut);
        reopen(0);
        hintlog_stats(hl, &s);
        cr_assert(eq(u64, s.pending, 2), "cut at %zu", cut);
        cr_assert(eq(u64, s.bytes, first));
        cr_assert(eq(i64, log_size(T1), (off_t)first), "cut at %zu", cut);
        cr_assert(eq(long, read_all(T1, &off, &g), 2), "cut at %zu", cut);
        cr_assert(got_key(&g, 0, "k1") && got_key(&g, 1, "k2"));
        /* and the log keeps working */
        put(T1, "k4", "after the cut");
        cr_assert(eq(long, read_all(T1, &off, &g), 1), "cut at %zu", cut);
        cr_assert(got_key(&g, 2, "k4"));
        reopen(0);
        off = 0;
        g.n = 0;
        cr_assert(eq(long, read_all(T1, &off, &g), 3), "cut at %zu", cut);
        hintlog_close(&hl);
    }
    free(img);
    reopen(0);
}

/* The records of img that were delivered must be whole originals, in
 * order; the damaged one never is. */
static void
check_damaged_read(const struct got *g, size_t pos)
{
    cr_assert(ge(sz, g->n, 1), "byte %zu", pos);
    cr_assert(got_key(g, 0, "k1"), "byte %zu", pos);
    cr_assert(eq(int, memcmp(g->r[0].val, "first value", 11), 0));
    cr_assert(le(sz, g->n, 2), "byte %zu", pos);
    if (g->n == 2) {
        cr_assert(got_key(g, 1, "k3"), "byte %zu", pos);
        cr_assert(eq(sz, g->r[1].vlen, 11));
        cr_assert(eq(int, memcmp(g->r[1].val, "third value", 11), 0));
    }
}

Test(hintlog, a_changed_byte_anywhere_in_a_record_is_detected_and_skipped)
{
    size_t len, lo, hi;
    char *img;

    put(T1, "k1", "first value");
    lo = (size_t)log_size(T1);
    put(T1, "k2", "second value");
    hi = (size_t)log_size(T1);
    put(T1, "k3", "third value");
    hintlog_close(&hl);
    img = slurp(T1, &len);
    for (size_t pos = lo; pos < hi; pos++) {
        static const unsigned char flips[] = {0x01, 0x80, 0xff};

        for (size_t f = 0; f < sizeof flips; f++) {
            struct got g = {0};
            struct hintlog_stats s;
            uint64_t off = 0;
            char p[160];
            int fd;

            /* damage found by a read, while the log is open */
            spill(T1, img, len);
            reopen(0);
            path_of(T1, p, sizeof p);
            fd = open(p, O_WRONLY);
            cr_assert(ge(int, fd, 0));
            img[pos] ^= (char)flips[f];
            cr_assert(eq(long, (long)pwrite(fd, img + pos, 1, (off_t)pos), 1));
            close(fd);
            cr_assert(ge(long, read_all(T1, &off, &g), 1));
            check_damaged_read(&g, pos);
            cr_assert(eq(u64, off, len), "byte %zu", pos);
            hintlog_stats(hl, &s);
            cr_assert(eq(u64, s.corrupt, 1), "byte %zu", pos);
            /* a second pass does not count it again */
            off = 0;
            g.n = 0;
            read_all(T1, &off, &g);
            hintlog_stats(hl, &s);
            cr_assert(eq(u64, s.corrupt, 1), "byte %zu", pos);

            /* the same damage found by the index at open */
            reopen(0);
            off = 0;
            g.n = 0;
            read_all(T1, &off, &g);
            check_damaged_read(&g, pos);
            hintlog_stats(hl, &s);
            cr_assert(eq(u64, s.corrupt, 1), "byte %zu", pos);
            put(T1, "k4", "v");
            cr_assert(eq(long, read_all(T1, &off, &g), 1), "byte %zu", pos);
            hintlog_close(&hl);
            img[pos] ^= (char)flips[f];
        }
    }
    free(img);
    reopen(0);
}

/* A header whose checksum holds but which claims far more bytes than the
 * file has: treated as a torn tail, never allocated for. */
static void
forge_huge_vlen(char *hdr)
{
    uint32_t vlen = 500u << 20, h;

    for (int i = 0; i < 4; i++) {
        hdr[12 + i] = (char)(vlen >> (8 * i));
    }
    h = XXH32(hdr, 56, 0x48494e54u);
    for (int i = 0; i < 4; i++) {
        hdr[56 + i] = (char)(h >> (8 * i));
    }
}

Test(hintlog, a_forged_length_is_never_trusted)
{
    struct got g = {0};
    struct hintlog_stats s;
    uint64_t off = 0;
    char *img, p[160];
    size_t len;
    int fd;

    put(T1, "k1", "v");
    put(T1, "k2", "v");
    hintlog_close(&hl);
    img = slurp(T1, &len);
    forge_huge_vlen(img + HINT_REC_HDR_SIZE + 3);
    spill(T1, img, len);
    /* found by the index at open: cut after k1 */
    reopen(0);
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.corrupt, 1));
    cr_assert(eq(i64, log_size(T1), HINT_REC_HDR_SIZE + 3));
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    cr_assert(got_key(&g, 0, "k1"));
    /* found by a read: skips to the end, and the log goes on */
    put(T1, "k3", "v");
    put(T1, "k4", "v");
    path_of(T1, p, sizeof p);
    fd = open(p, O_WRONLY);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(long, (long)pwrite(fd, img + HINT_REC_HDR_SIZE + 3, HINT_REC_HDR_SIZE,
                                    (off_t)off), (long)HINT_REC_HDR_SIZE));
    close(fd);
    cr_assert(eq(long, read_all(T1, &off, &g), 0));
    cr_assert(eq(u64, off, (uint64_t)log_size(T1)));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.corrupt, 2));
    put(T1, "k5", "v");
    cr_assert(eq(long, read_all(T1, &off, &g), 1));
    cr_assert(got_key(&g, 1, "k5"));
    free(img);
}

Test(hintlog, max_bytes_refuses_appends_and_counts_them_dropped)
{
    struct hint_rec r = rec("k", "v", NOW);
    uint64_t one = HINT_REC_HDR_SIZE + 2;
    struct hintlog_stats s;

    hintlog_set_max_bytes(hl, 3 * one);
    put(T1, "k", "v");
    put(T2, "k", "v");
    put(T1, "k", "v");
    cr_assert(eq(int, hintlog_append(hl, T2, &r), HINT_EFULL));
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_EFULL));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.dropped, 2));
    cr_assert(eq(u64, s.pending, 3));
    cr_assert(eq(u64, s.bytes, 3 * one));
    cr_assert(eq(i64, log_size(T1) + log_size(T2), (off_t)(3 * one)));
    /* a reopen keeps the bound over what is already there */
    reopen(3 * one);
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_EFULL));
    hintlog_set_max_bytes(hl, 4 * one);
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_OK));
}

Test(hintlog, records_older_than_the_window_are_dropped_and_counted_once)
{
    struct hint_rec r;
    struct got g = {0};
    struct hintlog_stats s;
    uint64_t off = 0;

    r = rec("old1", "v", NOW - 3000);
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_OK));
    r = rec("new", "v", NOW);
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_OK));
    r = rec("old2", "v", NOW - 2000);
    cr_assert(eq(int, hintlog_append(hl, T1, &r), HINT_OK));
    cr_assert(eq(long, hintlog_read(hl, T1, &off, SIZE_MAX, NOW - 1000, collect, &g), 1));
    cr_assert(got_key(&g, 0, "new"));
    cr_assert(eq(u64, off, (uint64_t)log_size(T1)));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.dropped, 2));
    off = 0;
    cr_assert(eq(long, hintlog_read(hl, T1, &off, SIZE_MAX, NOW - 1000, collect, &g), 1));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.dropped, 2));
    /* the whole log was seen: acking its end deletes it, old records too */
    hintlog_ack(hl, T1, off, 1);
    cr_assert(not(log_exists(T1)));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 0));
    cr_assert(eq(u64, s.replayed, 1));
}

Test(hintlog, drop_deletes_a_targets_log_and_counts_its_pending_hints)
{
    struct hintlog_stats s;
    struct got g = {0};
    uint64_t off = 0;
    char ids[2][HINT_TARGET_LEN + 1];

    put(T1, "k1", "v");
    put(T1, "k2", "v");
    put(T2, "k3", "v");
    cr_assert(eq(long, hintlog_read(hl, T1, &off, 1, 0, collect, &g), 1));
    hintlog_ack(hl, T1, off, 1);
    hintlog_drop(hl, T1);
    cr_assert(not(log_exists(T1)));
    cr_assert(log_exists(T2));
    cr_assert(eq(sz, hintlog_targets(hl, ids, 2), 1));
    cr_assert(eq(str, ids[0], T2));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.dropped, 1));
    cr_assert(eq(u64, s.pending, 1));
    cr_assert(eq(u64, s.bytes, (uint64_t)log_size(T2)));
    off = 0;
    cr_assert(eq(long, read_all(T1, &off, &g), 0));
    hintlog_drop(hl, T1); /* already gone: nothing */
    reopen(0);
    cr_assert(eq(sz, hintlog_targets(hl, ids, 2), 1));
}

Test(hintlog, stats_follow_appends_acks_and_a_restart)
{
    struct hintlog_stats s;
    struct got g = {0};
    uint64_t off = 0;

    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending + s.bytes + s.replayed + s.dropped + s.corrupt, 0));
    put(T1, "k1", "v");
    put(T1, "k2", "v");
    put(T2, "k3", NULL);
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 3));
    cr_assert(eq(u64, s.bytes, 3 * HINT_REC_HDR_SIZE + 2 + 2 + 2 + 2));
    cr_assert(eq(long, read_all(T1, &off, &g), 2));
    hintlog_ack(hl, T1, off, 2);
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 1));
    cr_assert(eq(u64, s.replayed, 2));
    cr_assert(eq(u64, s.bytes, HINT_REC_HDR_SIZE + 2));
    reopen(0);
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 1));
    cr_assert(eq(u64, s.bytes, HINT_REC_HDR_SIZE + 2));
    cr_assert(eq(u64, s.replayed, 0)); /* counters are per process */
}

#define WRITERS 2
#define PER_WRITER 400

static void *
writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    char key[32];

    for (int i = 0; i < PER_WRITER; i++) {
        struct hint_rec r;

        snprintf(key, sizeof key, "w%d-%d", w, i);
        r = rec(key, "some value", NOW);
        if (hintlog_append(hl, T1, &r) != HINT_OK) {
            return (void *)1;
        }
    }
    return NULL;
}

struct order {
    int next[WRITERS];
    long bad;
};

static void
check_order(void *ctx, const struct hint_rec *r)
{
    struct order *o = ctx;
    char key[32];
    int w, i;

    if (r->klen >= sizeof key) {
        o->bad++;
        return;
    }
    memcpy(key, r->key, r->klen);
    key[r->klen] = '\0';
    if (sscanf(key, "w%d-%d", &w, &i) != 2 || w < 0 || w >= WRITERS ||
        i != o->next[w]) {
        o->bad++;
        return;
    }
    o->next[w]++;
}

Test(hintlog, a_replay_racing_appends_and_acks_delivers_every_hint_once_in_order)
{
    pthread_t th[WRITERS];
    struct order o = {{0}};
    struct hintlog_stats s;
    uint64_t off = 0;
    long n;
    void *ret;

    for (int w = 0; w < WRITERS; w++) {
        cr_assert(eq(int, pthread_create(&th[w], NULL, writer, (void *)(intptr_t)w), 0));
    }
    /* replay in small batches, acking each, while the writers run */
    for (int round = 0; round < 2000; round++) {
        n = hintlog_read(hl, T1, &off, 300, 0, check_order, &o);
        cr_assert(ge(long, n, 0));
        hintlog_ack(hl, T1, off, (uint64_t)n);
    }
    for (int w = 0; w < WRITERS; w++) {
        cr_assert(eq(int, pthread_join(th[w], &ret), 0));
        cr_assert(eq(ptr, ret, NULL));
    }
    do {
        n = hintlog_read(hl, T1, &off, 300, 0, check_order, &o);
        cr_assert(ge(long, n, 0));
        hintlog_ack(hl, T1, off, (uint64_t)n);
    } while (n > 0);
    cr_assert(eq(long, o.bad, 0));
    for (int w = 0; w < WRITERS; w++) {
        cr_assert(eq(int, o.next[w], PER_WRITER));
    }
    cr_assert(not(log_exists(T1)));
    hintlog_stats(hl, &s);
    cr_assert(eq(u64, s.pending, 0));
    cr_assert(eq(u64, s.bytes, 0));
    cr_assert(eq(u64, s.replayed, WRITERS * PER_WRITER));
    cr_assert(eq(u64, s.corrupt, 0));
}
