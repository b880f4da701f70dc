/*
 * tests/unit/test_tier_scan.c — SCAN, KEYS and RANDOMKEY with the disk tier
 * (store_scan / store_random_key over memory and storage/tier.c): every
 * key visited, KEYS exactly once, deleted/overwritten/expired cold keys,
 * keys moving between memory and disk during a scan, and RANDOMKEY when
 * only cold keys exist.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "storage/segment.h"
#include "storage/store.h"
#include "storage/tier.h"
#include "tests/unit/tier_fixture.h"

#define MAXK 8000
/* the cursor's part bits (store.c): D = disk, M = memory, C = catch-up */
#define CUR_DISK (1ull << 55)
#define CUR_MEM (1ull << 54)


TestSuite(tier_scan, .init = fixture_setup, .fini = fixture_teardown, .timeout = 60);

static size_t
value_of(int i, char *buf)
{
    uint32_t x = (uint32_t)i * 2654435761u + 1;
    size_t n = 100 + x % 900;

    for (size_t k = 0; k < n; k++) {
        buf[k] = "the quick brown fox jumps "[(k + (size_t)i) % 26];
    }
    return n;
}

static void
put_ttl(int i, int64_t expire_ms)
{
    char key[32], val[1024];
    size_t n = value_of(i, val);

    snprintf(key, sizeof key, "key:%d", i);
    cr_assert(eq(int, store_set(st, key, strlen(key), val, n, 0, expire_ms, NOW, NULL),
                 STORE_OK));
}

static void
put(int i)
{
    put_ttl(i, 0);
}

static bool
is_cold(int i)
{
    char key[32];

    snprintf(key, sizeof key, "key:%d", i);
    return tier_has(tier, XXH3_64bits(key, strlen(key)), NOW, false) == 1;
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

struct seen {
    int n[MAXK];
    int other; /* keys not named key:<i> */
    int total;
    int bad;   /* temporary items that are not well formed */
};

static struct seen seen;

static void
count_key(void *ctx, const struct item *it)
{
    struct seen *s = ctx;
    char buf[64];
    int i;

    s->total++;
    if (it->klen == 0 || it->klen >= sizeof buf) {
        s->bad++;
        return;
    }
    memcpy(buf, item_key(it), it->klen);
    buf[it->klen] = '\0';
    if (sscanf(buf, "key:%d", &i) == 1 && i >= 0 && i < MAXK) {
        s->n[i]++;
    } else {
        s->other++;
    }
}

/* A whole SCAN; fails if it does not end or a cursor leaves 56 bits. */
static void
full_scan(size_t count, int64_t now)
{
    uint64_t cur = 0;
    int calls = 0;

    memset(&seen, 0, sizeof seen);
    do {
        cur = store_scan(st, cur, count, count_key, &seen, now);
        cr_assert(lt(u64, cur, 1ull << 56), "cursor fits the cluster's 56 bits");
        cr_assert(lt(int, ++calls, 200000), "the scan ends");
    } while (cur != 0);
    cr_assert(eq(int, seen.bad, 0));
}

static int
count_cold(int n)
{
    int cold = 0;

    for (int i = 0; i < n; i++) {
        cold += is_cold(i);
    }
    return cold;
}

Test(tier_scan, a_full_scan_visits_every_key_in_memory_and_on_disk)
{
    open_all(256 << 10, 256 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    cr_assert(gt(int, count_cold(3000), 2000), "most keys are cold");
    cr_assert(eq(u64, store_dbsize(st), 3000));
    full_scan(10, NOW);
    for (int i = 0; i < 3000; i++) {
        cr_assert(ge(int, seen.n[i], 1), "key:%d visited", i);
    }
    cr_assert(eq(int, seen.other, 0));
}

Test(tier_scan, keys_lists_every_key_exactly_once)
{
    open_all(256 << 10, 256 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    /* right away: the writer is still emptying the queue */
    full_scan(1024, NOW);
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, seen.n[i], 1), "key:%d listed once (queue draining)", i);
    }
    cr_assert(eq(int, seen.total, 3000));
    /* read some cold keys back: they are in memory with a clean twin on
     * disk, and their promotion evicts others */
    for (int i = 0; i < 3000; i += 7) {
        struct item *it;
        char key[32];

        snprintf(key, sizeof key, "key:%d", i);
        it = store_get(st, key, strlen(key), NOW);
        cr_assert(not(eq(ptr, it, NULL)), "key:%d", i);
        item_release(&it);
    }
    {
        struct tier_stats ts;

        tier_stats(tier, &ts);
        cr_assert(gt(u64, ts.index_entries, ts.cold_keys), "some keys have twins");
    }
    /* (a key read back while still queued may be listed twice: store.c) */
    wait_queue_empty();
    full_scan(1024, NOW);
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, seen.n[i], 1), "key:%d listed once (twins)", i);
    }
    full_scan(10, NOW);
    for (int i = 0; i < 3000; i++) {
        cr_assert(eq(int, seen.n[i], 1), "key:%d listed once (small pages)", i);
    }
    cr_assert(eq(int, seen.total, 3000));
    cr_assert(eq(u64, store_dbsize(st), 3000));
}

Test(tier_scan, deleted_overwritten_and_expired_cold_keys)
{
    int del_cold = 0, over_cold = 0, exp_cold = 0;

    open_all(256 << 10, 256 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put_ttl(i, i % 10 == 3 ? NOW + 5000 : 0);
    }
    wait_queue_empty();
    for (int i = 0; i < 3000; i++) {
        char key[32];
        bool cold = is_cold(i);

        snprintf(key, sizeof key, "key:%d", i);
        if (i % 10 == 1) {
            del_cold += cold;
            cr_assert(store_del(st, key, strlen(key), NOW), "key:%d", i);
        } else if (i % 10 == 2) {
            over_cold += cold;
            cr_assert(eq(int, store_set(st, key, strlen(key), "new", 3, 0, 0, NOW, NULL),
                         STORE_OK));
        } else if (i % 10 == 4 && cold) {
            size_t len;

            /* promoted and changed */
            over_cold++;
            cr_assert(eq(int, store_append(st, key, strlen(key), "+", 1, &len, NOW),
                         STORE_OK));
        } else if (i % 10 == 3) {
            exp_cold += cold;
        }
    }
    cr_assert(gt(int, del_cold, 150));
    cr_assert(gt(int, over_cold, 300));
    cr_assert(gt(int, exp_cold, 150));
    /* more keys: the overwritten ones go back to disk, their old records
     * stay behind as dead copies */
    for (int i = 3000; i < 5000; i++) {
        put(i);
    }
    wait_queue_empty();
    full_scan(10, NOW + 10000);
    for (int i = 0; i < 5000; i++) {
        int want = (i < 3000 && (i % 10 == 1 || i % 10 == 3)) ? 0 : 1;

        cr_assert(eq(int, seen.n[i], want), "key:%d listed %d times, want %d", i,
                  seen.n[i], want);
    }
    cr_assert(eq(int, seen.other, 0));
    cr_assert(eq(u64, store_dbsize(st), 5000 - 600), "expired cold keys were dropped");
}

Test(tier_scan, keys_moving_during_a_scan_are_still_visited)
{
    uint64_t cur = 0;
    int calls = 0, g = 0, a = 0, d = 0, fresh = 0;
    int moves_disk = 0, moves_mem = 0, moves_catchup = 0;
    static bool cold0[3000];
    static int gl[3000], al[3000];
    int ng = 0, na = 0;

    open_all(256 << 10, 256 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    wait_queue_empty();
    for (int i = 0; i < 3000; i++) {
        cold0[i] = is_cold(i);
        if (cold0[i] && i % 5 == 0) {
            gl[ng++] = i; /* to be read back (promoted, unchanged) */
        } else if (cold0[i] && i % 5 == 1) {
            al[na++] = i; /* to be promoted and changed (APPEND), once */
        }
    }
    cr_assert(gt(int, ng, 300));
    cr_assert(gt(int, na, 300));
    memset(&seen, 0, sizeof seen);
    do {
        char key[32];
        size_t len;
        struct item *it;

        cur = store_scan(st, cur, 10, count_key, &seen, NOW);
        cr_assert(lt(int, ++calls, 200000));
        if (cur == 0) {
            break;
        }
        if ((cur & (CUR_DISK | CUR_MEM)) == CUR_DISK) {
            moves_disk++;
        } else if ((cur & (CUR_DISK | CUR_MEM)) == CUR_MEM) {
            moves_mem++;
        } else {
            moves_catchup++;
        }
        /* a cold key read back */
        snprintf(key, sizeof key, "key:%d", gl[g++ % ng]);
        it = store_get(st, key, strlen(key), NOW);
        cr_assert(not(eq(ptr, it, NULL)), "%s", key);
        item_release(&it);
        /* a cold key changed */
        if (a < na) {
            snprintf(key, sizeof key, "key:%d", al[a++]);
            cr_assert(eq(int, store_append(st, key, strlen(key), "+", 1, &len, NOW),
                         STORE_OK));
        }
        /* a key deleted (no promise either way) and new keys, which evict */
        if (d < 3000) {
            while (d < 3000 && d % 5 != 4) {
                d++;
            }
            if (d < 3000) {
                snprintf(key, sizeof key, "key:%d", d++);
                store_del(st, key, strlen(key), NOW);
            }
        }
        for (int k = 0; k < 2 && fresh < MAXK - 3000; k++) {
            put(3000 + fresh++);
        }
    } while (cur != 0);
    cr_assert(gt(int, moves_disk, 50), "keys moved while disk was walked");
    cr_assert(gt(int, moves_mem, 5), "keys moved while memory was walked");
    cr_assert(gt(int, a, 300));
    for (int i = 0; i < 3000; i++) {
        if (i % 5 != 4) {
            cr_assert(ge(int, seen.n[i], 1), "key:%d (%s at the start) visited", i,
                      cold0[i] ? "cold" : "in memory");
        }
    }
    cr_assert(eq(int, seen.bad, 0));
    fprintf(stderr, "tier_scan: %d calls (%d disk, %d memory, %d catch-up)\n", calls,
            moves_disk, moves_mem, moves_catchup);
}

/* The hard order case: a key that went to disk after the disk walk ended,
 * is read back (a clean twin in memory) before memory is walked, and is
 * changed after memory was walked: memory must not leave it to the
 * catch-up walk, which no longer finds it. */
Test(tier_scan, a_key_spilled_after_the_disk_walk_read_back_then_changed_is_visited)
{
    static bool was_mem[3000];
    int picked[40], np = 0, calls = 0;
    uint64_t cur = 0;

    open_all(256 << 10, 256 << 20, 1 << 20);
    for (int i = 0; i < 3000; i++) {
        put(i);
    }
    wait_queue_empty();
    for (int i = 0; i < 3000; i++) {
        was_mem[i] = !is_cold(i);
    }
    memset(&seen, 0, sizeof seen);
    do { /* the disk part */
        cur = store_scan(st, cur, 10, count_key, &seen, NOW);
        cr_assert(lt(int, ++calls, 100000));
    } while ((cur & (CUR_DISK | CUR_MEM)) == CUR_DISK);
    cr_assert(eq(u64, cur & (CUR_DISK | CUR_MEM), CUR_MEM), "memory is next");
    /* memory goes to disk, behind the disk walk */
    store_set_maxmemory(st, 16 << 10);
    store_evict_some(st, 100000, NOW);
    wait_queue_empty();
    store_set_maxmemory(st, 256 << 10);
    for (int i = 0; i < 3000 && np < 40; i++) {
        if (was_mem[i] && is_cold(i)) {
            struct item *it;
            char key[32];

            picked[np++] = i;
            snprintf(key, sizeof key, "key:%d", i);
            it = store_get(st, key, strlen(key), NOW); /* a clean twin */
            cr_assert(not(eq(ptr, it, NULL)));
            item_release(&it);
        }
    }
    cr_assert(eq(int, np, 40));
    do { /* memory */
        cur = store_scan(st, cur, 10, count_key, &seen, NOW);
        cr_assert(lt(int, ++calls, 100000));
    } while ((cur & (CUR_DISK | CUR_MEM)) == CUR_MEM);
    for (int k = 0; k < np; k++) { /* changed: the twins are gone */
        char key[32];
        size_t len;

        snprintf(key, sizeof key, "key:%d", picked[k]);
        cr_assert(eq(int, store_append(st, key, strlen(key), "+", 1, &len, NOW), STORE_OK));
    }
    while (cur != 0) {
        cur = store_scan(st, cur, 10, count_key, &seen, NOW);
        cr_assert(lt(int, ++calls, 100000));
    }
    for (int k = 0; k < np; k++) {
        cr_assert(ge(int, seen.n[picked[k]], 1), "key:%d visited", picked[k]);
    }
    for (int i = 0; i < 3000; i++) {
        cr_assert(ge(int, seen.n[i], 1), "key:%d visited", i);
    }
}

/* A block can hold a key twice (written, overwritten and written again
 * before the block was full): the walk reports it once, as a read finds
 * its last record. The segment is written by hand and the index rebuilt. */
Test(tier_scan, a_key_twice_in_one_block_is_reported_once)
{
    static uint8_t raw[4096], blk[8192];
    uint8_t hdr[SEG_HDR_SIZE];
    struct seg_header sh = {.id = 1, .created_ms = NOW, .seg_size = 1 << 20,
                            .version = SEG_FORMAT_VERSION};
    struct seg_record r[4] = {
        {.key = "key:1", .klen = 5, .val = "old", .vlen = 3},
        {.key = "key:2", .klen = 5, .val = "two", .vlen = 3},
        {.key = "key:1", .klen = 5, .val = "new", .vlen = 3},
        {.key = "key:3", .klen = 5, .val = "three", .vlen = 5},
    };
    size_t ulen = 0, blen = 0;
    char path[128];
    struct item *it;
    FILE *f;

    for (int i = 0; i < 4; i++) {
        ulen += seg_record_encode(&r[i], raw + ulen);
    }
    cr_assert(eq(int, seg_block_pack(raw, ulen, 4, 0, NULL, blk, sizeof blk, &blen), SEG_OK));
    seg_header_encode(&sh, hdr);
    snprintf(path, sizeof path, "%s/seg-%012d.rcs", dir, 1);
    f = fopen(path, "wb");
    cr_assert(not(eq(ptr, f, NULL)));
    cr_assert(eq(sz, fwrite(hdr, 1, sizeof hdr, f), sizeof hdr));
    cr_assert(eq(sz, fwrite(blk, 1, blen, f), blen));
    fclose(f);
    open_all(256 << 10, 256 << 20, 1 << 20);
    cr_assert(eq(u64, store_dbsize(st), 3));
    full_scan(10, NOW);
    cr_assert(eq(int, seen.n[1], 1));
    cr_assert(eq(int, seen.n[2], 1));
    cr_assert(eq(int, seen.n[3], 1));
    cr_assert(eq(int, seen.total, 3));
    it = store_get(st, "key:1", 5, NOW);
    cr_assert(not(eq(ptr, it, NULL)));
    cr_assert(eq(int, memcmp(item_value(it), "new", 3), 0));
    item_release(&it);
}

static void
copy_key(void *ctx, const struct item *it)
{
    char *buf = ctx;

    cr_assert(lt(u32, it->klen, 64u));
    memcpy(buf, item_key(it), it->klen);
    buf[it->klen] = '\0';
}

Test(tier_scan, randomkey_returns_a_cold_key_when_memory_is_empty)
{
    char key[64], first[64];
    bool differs = false;
    int i;

    open_all(256 << 10, 256 << 20, 1 << 20);
    for (i = 0; i < 500; i++) {
        put(i);
    }
    close_all();
    open_all(256 << 10, 256 << 20, 1 << 20); /* memory empty, the index rebuilt from disk */
    cr_assert(eq(u64, store_dbsize(st), 500));
    cr_assert(eq(int, count_cold(500), 500), "every key cold");
    cr_assert(store_random_key(st, copy_key, first, NOW));
    cr_assert(eq(int, sscanf(first, "key:%d", &i), 1), "%s", first);
    cr_assert(lt(int, i, 500));
    for (int k = 0; k < 50; k++) {
        cr_assert(store_random_key(st, copy_key, key, NOW));
        cr_assert(eq(int, sscanf(key, "key:%d", &i), 1), "%s", key);
        differs |= strcmp(key, first) != 0;
    }
    cr_assert(differs, "random, not always the same key");
    /* a rebuilt tier is walked too, each key once */
    full_scan(1024, NOW);
    for (i = 0; i < 500; i++) {
        cr_assert(eq(int, seen.n[i], 1), "key:%d", i);
    }
    /* only a few live keys left among dead blocks still come back */
    for (i = 0; i < 500; i++) {
        if (i != 123) {
            snprintf(key, sizeof key, "key:%d", i);
            cr_assert(store_del(st, key, strlen(key), NOW));
        }
    }
    cr_assert(store_random_key(st, copy_key, key, NOW));
    cr_assert(eq(str, key, "key:123"));
    store_flush(st, 0);
    cr_assert(not(store_random_key(st, copy_key, key, NOW)), "empty store");
}
