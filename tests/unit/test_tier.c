/*
 * tests/unit/test_tier.c — the disk tier (storage/tier.c) behind the store:
 * eviction to disk and reads back, DEL/overwrite/expiry of cold keys
 * without reads, warm restart (index rebuild), reclaim when the tier is
 * full, torn and corrupt segments, and a full disk.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"
#include "storage/tier.h"
#include "cluster/slots.h"
#include "tests/unit/tier_fixture.h"



TestSuite(tier, .init = fixture_setup, .fini = fixture_teardown, .timeout = 60);

/* Values are a function of the key's number: checked without storing them.
 * Odd keys are text-like, even ones pseudo-random. */
static size_t
value_of(int i, char *buf, size_t cap)
{
    uint32_t x = (uint32_t)i * 2654435761u + 1;
    size_t n = 100 + x % 900;

    cr_assert(lt(sz, n, cap));
    for (size_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[k] = (i & 1) ? "the quick brown fox jumps "[k % 26] : (char)x;
    }
    return n;
}

static void
put(int i)
{
    char key[32], val[2048];
    size_t n = value_of(i, val, sizeof val);

    snprintf(key, sizeof key, "key:%d", i);
    cr_assert(eq(int, store_set(st, key, strlen(key), val, n, 0, 0, NOW, NULL), STORE_OK));
}

/* 1 present and intact, 0 absent; fails on a wrong value. */
static int
check(int i)
{
    char key[32], val[2048];
    size_t n = value_of(i, val, sizeof val);
    struct item *it;

    snprintf(key, sizeof key, "key:%d", i);
    it = store_get(st, key, strlen(key), NOW);
    if (it == NULL) {
        return 0;
    }
    cr_assert(eq(u32, it->vlen, (uint32_t)n), "key:%d", i);
    cr_assert(eq(int, memcmp(item_value(it), val, n), 0), "key:%d", i);
    item_release(&it);
    return 1;
}

static void
wait_queue_empty(void)
{
    struct tier_stats ts;

    for (int i = 0; i < 500; i++) {
        tier_stats(tier, &ts);
        if (ts.queue_bytes == 0) {
            return;
        }
        usleep(10000);
    }
}

Test(tier, evicted_keys_move_to_disk_and_read_back_identical)
{
    struct store_stats ss;
    struct tier_stats ts;

    open_all(256 << 10, 64 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    store_stats(st, &ss);
    cr_assert(le(u64, ss.used_bytes, 256 << 10), "memory stays bounded");
    cr_assert(eq(u64, store_dbsize(st), 3000), "cold keys count");
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, check(i), 1), "key:%d", i);
    }
    tier_stats(tier, &ts);
    cr_assert(gt(u64, ts.disk_reads + ts.queue_hits, 0));
    cr_assert(gt(u64, ts.promotions, 0));
    cr_assert(eq(u64, ts.read_errors, 0));
    cr_assert(eq(u64, ts.refused, 0));
    cr_assert(gt(dbl, (double)ts.raw_bytes_written / (double)ts.disk_bytes_written, 1.2),
              "half the values are text: they compress");
    store_stats(st, &ss);
    cr_assert(eq(u64, ss.evicted_keys, 0), "nothing was lost");
}

Test(tier, del_overwrite_and_expiry_of_cold_keys_do_not_read)
{
    struct tier_stats before, after;
    struct item *it;

    open_all(128 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(int, store_set(st, "ttl", 3, "v", 1, 0, NOW + 1500, NOW, NULL), STORE_OK));
    for (int i = 0; i < 2000; i++) {
        put(i);
    }
    wait_queue_empty();
    tier_stats(tier, &before);
    cr_assert(store_del(st, "key:1", 5, NOW), "DEL of a cold key answers 1");
    cr_assert(not(store_del(st, "key:1", 5, NOW)));
    cr_assert(eq(int, store_set(st, "key:2", 5, "new", 3, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(store_exists(st, "key:3", 5, NOW), "EXISTS from the index");
    cr_assert(not(store_exists(st, "ttl", 3, NOW + 5000)), "expired while cold");
    tier_stats(tier, &after);
    cr_assert(eq(u64, after.disk_reads, before.disk_reads), "no disk read");
    cr_assert(eq(u64, after.queue_hits, before.queue_hits));
    cr_assert(eq(ptr, store_get(st, "key:1", 5, NOW), NULL));
    it = store_get(st, "key:2", 5, NOW);
    cr_assert(not(eq(ptr, it, NULL)));
    cr_assert(eq(int, memcmp(item_value(it), "new", 3), 0));
    item_release(&it);
    cr_assert(eq(u64, store_dbsize(st), 2000 - 1 + 1 - 1), "ttl gone, key:1 gone");
}

Test(tier, read_modify_write_on_a_cold_key_sees_its_value)
{
    int64_t v = 0;

    open_all(128 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(int, store_set(st, "counter", 7, "41", 2, 0, 0, NOW, NULL), STORE_OK));
    for (int i = 0; i < 2000; i++) {
        put(i);
    }
    wait_queue_empty();
    cr_assert(eq(int, store_incr(st, "counter", 7, 1, &v, NOW), STORE_OK));
    cr_assert(eq(i64, v, 42));
    cr_assert(eq(int, store_expire(st, "key:5", 5, NOW + 60000, 0, NOW), STORE_OK));
    cr_assert(eq(i64, store_expire_time(st, "key:5", 5, NOW), NOW + 60000));
    cr_assert(eq(int, check(5), 1));
}

Test(tier, a_clean_restart_serves_every_key_with_its_ttl)
{
    open_all(256 << 10, 64 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    cr_assert(eq(int, store_set(st, "ttl", 3, "v", 1, 0, 4102444800000LL, NOW, NULL), STORE_OK));
    cr_assert(store_del(st, "key:7", 5, NOW));
    close_all();

    open_all(256 << 10, 64 << 20, 1 << 20);
    if (getenv("TIER_DEBUG")) {
        for (int i = 0; i < 3000; i++) {
            if (check(i) != (i != 7)) fprintf(stderr, "missing key:%d\n", i);
        }
        fprintf(stderr, "ttl %lld\n", (long long)store_expire_time(st, "ttl", 3, NOW));
    }
    cr_assert(eq(u64, store_dbsize(st), 3000), "rebuilt from the segments");
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, check(i), i == 7 ? 0 : 1), "key:%d", i);
    }
    cr_assert(eq(i64, store_expire_time(st, "ttl", 3, NOW), 4102444800000LL));
    close_all();
    /* and again: promoted-and-unchanged keys are not lost by a second cycle */
    open_all(256 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(u64, store_dbsize(st), 3000));
    cr_assert(eq(int, check(2999), 1));
}

Test(tier, reclaim_keeps_the_tier_within_its_size_and_counts_evictions)
{
    struct tier_stats ts;
    struct store_stats ss;
    uint64_t dbsize_before;
    int present = 0;

    /* 4 segments of 64 KiB: far less than the ~1.5 MB written */
    open_all(192 << 10, 256 << 10, 64 << 10);
    for (int i = 0; i < 3000; i++) {
        put(i);
        if (i >= 50 && i % 10 == 0) {
            check(i - 50); /* some keys are read while cold: kept longer */
        }
    }
    wait_queue_empty();
    tier_stats(tier, &ts);
    cr_assert(gt(u64, ts.reclaimed_segments, 0));
    cr_assert(gt(u64, ts.evicted, 0));
    cr_assert(le(u64, ts.disk_bytes, 256 << 10), "within disk-max-bytes");
    store_stats(st, &ss);
    cr_assert(ge(u64, ss.evicted_keys, ts.evicted), "counted as evictions");
    /* reads promote keys and so evict others to the full tier, whose
     * reclaim keeps dropping keys during the loop: DBSIZE is compared with
     * what the loop can find before it starts (no key is added meanwhile) */
    dbsize_before = store_dbsize(st);
    for (int i = 0; i < 3000; i++) {
        present += check(i); /* absent or intact, never wrong */
    }
    cr_assert(le(u64, (uint64_t)present, dbsize_before), "DBSIZE counts every key read");
    cr_assert(le(u64, store_dbsize(st), dbsize_before));
    cr_assert(gt(int, present, 0));
}

static int
list_segments(char names[][400], int cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while ((de = readdir(d)) != NULL && n < cap) {
        if (strncmp(de->d_name, "seg-", 4) == 0) {
            snprintf(names[n++], 400, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    return n;
}

Test(tier, torn_and_corrupt_segments_lose_only_the_damaged_records)
{
    char names[64][400];
    struct tier_stats ts;
    int n, present = 0;

    open_all(128 << 10, 64 << 20, 256 << 10);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    close_all();
    n = list_segments(names, 64);
    cr_assert(ge(int, n, 3));
    for (int s = 0; s < n; s++) {
        struct stat sb;
        int fd = open(names[s], O_RDWR);

        cr_assert(ge(int, fd, 0));
        fstat(fd, &sb);
        if (s == 0) {
            /* torn: the tail of a block never made it */
            cr_assert(eq(int, ftruncate(fd, sb.st_size - 100), 0));
        } else if (s == 1) {
            char junk[64];

            memset(junk, 0x5a, sizeof junk);
            cr_assert(eq(int, (int)pwrite(fd, junk, sizeof junk, sb.st_size / 2), (int)sizeof junk));
        }
        close(fd);
    }
    if (n > 3) {
        unlink(names[2]); /* a missing segment */
    }
    open_all(128 << 10, 64 << 20, 256 << 10);
    tier_stats(tier, &ts);
    cr_assert(ge(u64, ts.torn_segments + ts.bad_blocks, 2), "both damages seen");
    for (int i = 0; i < 3000; i++) {
        present += check(i);
    }
    cr_assert(gt(int, present, 3000 / 2), "the rest is served (%d)", present);
    tier_stats(tier, &ts);
    cr_assert(eq(u64, ts.read_errors, 0), "damage was caught at rebuild");
}

Test(tier, a_corrupt_block_found_at_read_time_is_a_miss_not_a_crash)
{
    char names[64][400];
    struct tier_stats ts;
    int n, present = 0;

    open_all(128 << 10, 64 << 20, 1 << 20);
    for (int i = 0; i < 2000; i++) {
        put(i);
    }
    wait_queue_empty();
    n = list_segments(names, 64);
    for (int s = 0; s < n; s++) {
        int fd = open(names[s], O_RDWR);
        char junk[4096];
        struct stat sb;

        fstat(fd, &sb);
        memset(junk, 0xa5, sizeof junk);
        if (sb.st_size > 20000) {
            cr_assert(eq(int, (int)pwrite(fd, junk, sizeof junk, 10000), (int)sizeof junk));
        }
        close(fd);
    }
    for (int i = 0; i < 2000; i++) {
        present += check(i);
    }
    tier_stats(tier, &ts);
    cr_assert(gt(u64, ts.read_errors, 0));
    cr_assert(gt(int, present, 1500));
}

Test(tier, a_full_disk_falls_back_to_plain_eviction)
{
    struct rlimit rl = {.rlim_cur = 200 << 10, .rlim_max = RLIM_INFINITY};
    struct tier_stats ts;
    int present = 0;

    /* RLIMIT_FSIZE makes writes past 200 KiB fail (EFBIG), as a full disk
     * would (ENOSPC): both are write errors to the tier */
    signal(SIGXFSZ, SIG_IGN);
    open_all(192 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &rl), 0));
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    wait_queue_empty();
    tier_stats(tier, &ts);
    cr_assert(gt(u64, ts.write_errors, 0));
    for (int i = 0; i < 3000; i++) {
        present += check(i);
    }
    cr_assert(gt(int, present, 100), "what was written is served");
    cr_assert(eq(int, store_set(st, "after", 5, "x", 1, 0, 0, NOW, NULL), STORE_OK));
}

/* The segment files out of the page cache (written back first). */
static void
drop_cache(void)
{
    char path[512];
    struct dirent *de;
    DIR *d = opendir(dir);

    cr_assert(not(eq(ptr, d, NULL)));
    while ((de = readdir(d)) != NULL) {
        int fd;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        fd = open(path, O_RDONLY);
        if (fd >= 0) {
            (void)fdatasync(fd);
            (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    closedir(d);
}

/* store_cold says whether a read would wait for the device; store_prefetch
 * (what the reader threads call) brings the block into the page cache. */
Test(tier, store_cold_and_store_prefetch)
{
    open_all(128 << 10, 64 << 20, 1 << 20);
    for (int i = 0; i < 2000; i++) {
        put(i);
    }
    wait_queue_empty();
    cr_assert(not(store_cold(st, "key:1999", 8, NOW)), "in memory");
    cr_assert(not(store_cold(st, "nosuchkey", 9, NOW)), "absent");
    cr_assert(not(store_cold(st, "key:0", 5, NOW)), "on disk, but just written: cached");
    drop_cache();
    cr_assert(store_cold(st, "key:0", 5, NOW), "on disk and not cached");
    store_prefetch(st, "key:0", 5);
    cr_assert(not(store_cold(st, "key:0", 5, NOW)), "prefetched");
    store_prefetch(st, "nosuchkey", 9); /* nothing to do */
    cr_assert(eq(int, check(0), 1));
    cr_assert(not(store_cold(st, "key:0", 5, NOW)), "promoted");
    cr_assert(store_del(st, "key:10", 6, NOW));
    store_prefetch(st, "key:10", 6); /* gone meanwhile: nothing to do */
    cr_assert(not(store_cold(st, "key:10", 6, NOW)));
}

/* ---- versions ------------------------------------------------------------ */

static uint64_t
clock_floor_plus_one(void *ctx, uint64_t floor)
{
    (void)ctx;
    return floor + 1;
}

static uint64_t
version_of(const char *k)
{
    struct item *it = store_peek_entry(st, k, strlen(k), NOW);
    uint64_t v = it != NULL ? item_version(it) : 0;

    item_release(&it);
    return v;
}

/* Write enough other keys that the earlier ones are evicted to disk. */
static void
push_out(void)
{
    for (int i = 0; i < 2000; i++) {
        put(i);
    }
    wait_queue_empty();
}

static uint64_t
promotions(void)
{
    struct tier_stats ts;

    tier_stats(tier, &ts);
    return ts.promotions;
}

Test(tier, a_cold_key_keeps_its_version_when_read_back)
{
    uint64_t cur, p;

    open_all(128 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(int, store_apply(st, "rep", 3, "value", 5, 0, false, 1ull << 40, NOW, &cur, NULL),
                 STORE_OK));
    push_out();
    p = promotions();
    cr_assert(eq(u64, version_of("rep"), 1ull << 40));
    cr_assert(eq(u64, promotions(), p + 1), "read back from disk by the peek");
    cr_assert(eq(int, store_apply(st, "rep", 3, "old", 3, 0, false, 5, NOW, &cur, NULL),
                 STORE_ENOTSET));
    cr_assert(eq(u64, cur, 1ull << 40));
}

Test(tier, an_older_apply_is_refused_against_a_cold_copy)
{
    uint64_t cur = 0, p;
    struct item *it;

    open_all(128 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(int, store_apply(st, "rep", 3, "new", 3, 0, false, 500, NOW, &cur, NULL), STORE_OK));
    push_out();
    p = promotions();
    cr_assert(eq(int, store_apply(st, "rep", 3, "old", 3, 0, false, 400, NOW, &cur, NULL),
                 STORE_ENOTSET));
    cr_assert(eq(u64, promotions(), p + 1), "compared with the copy on disk");
    cr_assert(eq(u64, cur, 500));
    it = store_get(st, "rep", 3, NOW);
    cr_assert(not(eq(ptr, it, NULL)));
    cr_assert(eq(int, memcmp(item_value(it), "new", 3), 0));
    item_release(&it);
}

Test(tier, local_writes_and_deletes_of_cold_keys_go_above_their_version)
{
    uint64_t cur, p;

    open_all(128 << 10, 64 << 20, 1 << 20);
    store_set_versions(st, clock_floor_plus_one, NULL, 60000);
    cr_assert(eq(int, store_apply(st, "w", 1, "v", 1, 0, false, 700, NOW, &cur, NULL), STORE_OK));
    cr_assert(eq(int, store_apply(st, "d", 1, "v", 1, 0, false, 900, NOW, &cur, NULL), STORE_OK));
    cr_assert(eq(int, store_apply(st, "r", 1, "v", 1, 0, false, 300, NOW, &cur, NULL), STORE_OK));
    cr_assert(eq(int, store_set(st, "s", 1, "v", 1, 0, 0, NOW, NULL), STORE_OK));
    push_out();
    p = promotions();
    cr_assert(eq(int, store_set(st, "w", 1, "x", 1, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(eq(u64, promotions(), p + 1), "w was cold");
    cr_assert(eq(u64, version_of("w"), 701), "a plain SET reads the cold version");
    cr_assert(store_del(st, "d", 1, NOW), "DEL of a cold key answers 1");
    cr_assert(eq(u64, version_of("d"), 901), "its tombstone is above it");
    cr_assert(eq(ptr, store_get(st, "d", 1, NOW), NULL));
    cr_assert(eq(int, store_rename(st, "s", 1, "r", 1, false, NOW), STORE_OK));
    cr_assert(eq(u64, version_of("r"), 301), "RENAME's destination above its cold copy");
}

Test(tier, versions_survive_a_warm_restart)
{
    uint64_t cur;

    open_all(256 << 10, 64 << 20, 1 << 20);
    store_set_versions(st, clock_floor_plus_one, NULL, 60000);
    cr_assert(eq(int, store_apply(st, "rep", 3, "value", 5, 0, false, 123456789012ull, NOW,
                                  &cur, NULL), STORE_OK));
    cr_assert(eq(int, store_set(st, "local", 5, "v", 1, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(eq(int, store_set(st, "plain", 5, "v", 1, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(eq(int, store_set(st, "plain", 5, "w", 1, 0, 0, NOW, NULL), STORE_OK));
    close_all();

    open_all(256 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(u64, version_of("rep"), 123456789012ull));
    cr_assert(eq(u64, version_of("local"), 1));
    cr_assert(eq(u64, version_of("plain"), 2));
    cr_assert(eq(u64, store_dbsize(st), 3));
}

Test(tier, a_tombstone_is_never_written_to_disk_and_the_value_stays_deleted)
{
    struct store_stats ss;
    struct tier_stats a, b;

    open_all(128 << 10, 64 << 20, 1 << 20);
    store_set_versions(st, clock_floor_plus_one, NULL, 60000);
    cr_assert(eq(int, store_set(st, "gone", 4, "value", 5, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(store_del(st, "gone", 4, NOW));
    store_stats(st, &ss);
    cr_assert(eq(u64, ss.tombstones, 1));
    tier_stats(tier, &a);
    push_out();
    store_stats(st, &ss);
    cr_assert(eq(u64, ss.tombstones, 0), "evicted: dropped");
    cr_assert(eq(ptr, store_peek_entry(st, "gone", 4, NOW), NULL), "not on disk either");
    tier_stats(tier, &b);
    cr_assert(eq(u64, b.promotions, a.promotions));
    /* spill and restart: it stays deleted */
    cr_assert(eq(int, store_set(st, "gone2", 5, "value", 5, 0, 0, NOW, NULL), STORE_OK));
    cr_assert(store_del(st, "gone2", 5, NOW));
    close_all();
    open_all(128 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(ptr, store_peek_entry(st, "gone", 4, NOW), NULL));
    cr_assert(eq(ptr, store_peek_entry(st, "gone2", 5, NOW), NULL));
    cr_assert(eq(u64, store_dbsize(st), 2000));
}

/* With the cluster's slots the hash the index is rebuilt with must be the
 * store's: every key reads back after a restart, and a slot's cold keys
 * are counted from the index. */
Test(tier, with_slots_a_restart_serves_every_key_and_counts_a_slots_cold_keys)
{
    char key[32];
    unsigned slot = slots_keyslot("key:1", 5);
    uint64_t in_slot = 0;

    fixture_slots = true;
    open_all(256 << 10, 64 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
        snprintf(key, sizeof key, "key:%d", i);
        in_slot += slots_keyslot(key, strlen(key)) == slot;
    }
    cr_assert(gt(u64, tier_cold_keys(tier), 1000), "most keys went to disk");
    cr_assert(eq(u64, store_slot_count(st, slot, NOW), in_slot));
    close_all();

    open_all(256 << 10, 64 << 20, 1 << 20);
    cr_assert(eq(u64, store_dbsize(st), 3000));
    cr_assert(eq(u64, tier_slot_count(tier, slot, NOW), in_slot), "all cold after the restart");
    cr_assert(eq(u64, store_slot_count(st, slot, NOW), in_slot));
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, check(i), 1), "key:%d", i);
    }
    cr_assert(eq(u64, store_slot_count(st, slot, NOW), in_slot), "promoted keys are not counted twice");
    fixture_slots = false;
}
