/*
 * storage/store.c — the in-memory keyspace: a sharded chained hash table of
 * immutable, reference-counted items, with exact memory accounting,
 * approximate-LRU eviction under maxmemory, and lazy plus active expiry.
 *
 * It does not know about sockets, RESP, the cluster or the disk tier; the
 * server turns the store_status codes into client errors.
 *
 * Locking: one (adaptive) mutex per shard, held only for the chain work of a
 * single call. Multi-key calls (MSET, RENAME) lock their shards in ascending
 * order. Eviction takes shard locks one at a time and never while the caller
 * holds one, so no call ever waits for a lock while holding another out of
 * order. The only store-wide shared writes are the atomic used-bytes total
 * (for the maxmemory check) and the eviction cursor.
 *
 * Items: one malloc per key (24-byte header, optional 8-byte version and
 * 8-byte expiry, key, value). A write never changes a linked item; it
 * builds a new one and swaps it into the chain, so a reader holding a pin
 * (refs) sees stable bytes.
 * The table owns one reference; the last item_release() frees.
 *
 * Measured overhead (tests/unit/test_store.c, "reports_the_per_key_overhead",
 * jemalloc 5.3, 256 shards, 100k keys of 16 B with 100 B values):
 * (used_bytes - payload_bytes) / keys = 54.8 B, with or without a TTL:
 *   24 B header + 20 B jemalloc rounding (140 B -> 160 B size class), or
 *   24 B header + 8 B expiry + 12 B rounding (148 B -> 160 B), plus
 *   10.5 B of bucket array (8 B a slot; 512 slots for ~390 keys a shard)
 *   and 0.3 B of shard structures.
 * With versions on (cluster replication) the item carries 8 more bytes
 * (148 B -> 160 B, 156 B with a TTL -> 160 B): the same 54.8 B here
 * ("reports_the_per_key_overhead_with_versions"); other sizes pay up to 8 B,
 * or a size class when the 8 B cross one.
 * Redis 7 spends about 88 B for the same key (dictEntry, key sds, robj and
 * value sds, each rounded by jemalloc, plus its bucket), ~44 B more with a
 * TTL (an entry in the expires dict).
 */
#include "storage/store.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <xxhash.h>

#include "storage/tier.h"

#define SHARDS_DEFAULT 256u
#define SHARDS_MAX 65536u
#define SHARD_MIN_BUCKETS 8u
#define SAMPLES_DEFAULT 5u
#define SAMPLES_MAX 64u
#define MAX_VALUE_DEFAULT (512ull * 1024 * 1024)
#define EXPIRE_SAMPLE 20u                     /* keys with a TTL per round */
#define EXPIRE_WALK (EXPIRE_SAMPLE * 20u)     /* buckets looked at per round */
#define CACHE_LINE 64

struct shard {
    _Alignas(CACHE_LINE) pthread_mutex_t lock; /* no false sharing between shards */
    struct item **buckets;
    uint64_t mask;          /* buckets - 1 */
    uint64_t keys;          /* tombstones not included */
    uint64_t volatile_keys;
    uint64_t tombs;         /* tombstones (all have an expiry) */
    uint64_t item_bytes;    /* malloc_usable_size of linked items */
    uint64_t index_bytes;   /* malloc_usable_size of buckets */
    uint64_t payload_bytes; /* klen + vlen of linked items */
    uint64_t evicted;
    uint64_t expired;
    uint64_t expire_cursor; /* next bucket for active expiry */
};

struct store {
    struct shard *shards;
    unsigned nshards;
    unsigned shard_bits;
    unsigned shard_shift, bucket_shift; /* see shard_of */
    key_slot_fn slot_of;  /* slots on (a cluster), or NULL: see key_hash_of */
    uint64_t fixed_bytes; /* this struct and the shard array */
    _Atomic uint64_t maxmemory;
    _Atomic int policy;
    _Atomic unsigned samples;
    _Atomic uint64_t max_value_len;
    struct tier *tier;    /* disk tier, or NULL: see "disk tier hooks" below */
    /* Versions (see "versions" below): clock NULL = off. ctx is stored
     * before clock is published, so a reader that sees a clock sees its ctx. */
    _Atomic(store_clock_fn *) clock;
    void *_Atomic clock_ctx;
    /* Versions up to this one were flushed (store_flush): a replica's copy
     * that was on its way is refused, or it would outlive the flush. */
    _Atomic uint64_t floor;
    _Atomic int64_t tomb_grace_ms;
    /* Written on every write from every thread: keep it off the line that
     * holds the read-mostly settings above. */
    _Alignas(CACHE_LINE) _Atomic uint64_t used_bytes;
    _Atomic unsigned evict_cursor;
    _Atomic uint64_t flushes; /* store_flush calls: see store_flushes */
};

/* ---- small helpers ------------------------------------------------------- */

static _Thread_local uint64_t rng_state;

static uint64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: eviction and RANDOMKEY only need cheap, per-thread, decent
 * randomness, not a shared generator that every thread would contend on. */
static uint64_t
rng_next(void)
{
    uint64_t x = rng_state;

    if (x == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)ts.tv_sec << 32);
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64 mix */
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        x ^= x >> 31;
        if (x == 0) {
            x = 0x9e3779b97f4a7c15ull;
        }
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t
rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

static inline uint64_t
key_hash(const struct store *st, const char *key, size_t klen)
{
    return key_hash_of(key, klen, st->slot_of);
}

/* Without slots the hash's low bits pick the shard and the bits above them
 * the bucket. With slots (key_hash_of) the slot's low bits pick the shard,
 * so a slot's keys share one, and the bucket comes from the XXH3 bits above
 * the slot, so a slot holding most keys still fills its shard's buckets
 * evenly. */
static inline struct shard *
shard_of(struct store *st, uint64_t hash)
{
    return &st->shards[(hash >> st->shard_shift) & (st->nshards - 1)];
}

static inline uint64_t
bucket_of(const struct store *st, const struct shard *sh, uint64_t hash)
{
    return (hash >> st->bucket_shift) & sh->mask;
}

static inline void
shard_lock(struct shard *sh)
{
    pthread_mutex_lock(&sh->lock);
}

static inline void
shard_unlock(struct shard *sh)
{
    pthread_mutex_unlock(&sh->lock);
}

static inline void
used_add(struct store *st, int64_t delta)
{
    atomic_fetch_add_explicit(&st->used_bytes, (uint64_t)delta,
                              memory_order_relaxed);
}

static inline uint64_t
max_value_len(struct store *st)
{
    uint64_t m = atomic_load_explicit(&st->max_value_len, memory_order_relaxed);

    /* item lengths are 32-bit */
    return m > UINT32_MAX ? UINT32_MAX : m;
}

/* ---- items --------------------------------------------------------------- */

static inline size_t
item_usize(const struct item *it)
{
    return malloc_usable_size((void *)it);
}

static inline bool
item_has_expire(const struct item *it)
{
    return (it->flags & ITEM_F_EXPIRE) != 0;
}

static inline bool
item_expired(const struct item *it, int64_t now_ms)
{
    /* As Redis (keyIsExpired): a key still lives at its expiry instant. */
    return item_has_expire(it) && item_expire_ms(it) < now_ms;
}

/* 0 when the item has no expiry: the "none" value item_create() takes. */
static inline int64_t
item_expire_or0(const struct item *it)
{
    return item_has_expire(it) ? item_expire_ms(it) : 0;
}

static inline bool
item_is_tomb(const struct item *it)
{
    return (it->flags & ITEM_F_TOMB) != 0;
}

static inline char *
item_value_mut(struct item *it)
{
    return (char *)item_value(it);
}

/* A new unlinked item holding the key, with room for vlen value bytes the
 * caller fills in. expire_ms > 0 adds the expiry field; memcached flags carry
 * over from `carry` when it has them (modifications keep them, SET does not).
 * vflags is 0 (no version) or ITEM_F_VERSION with ITEM_F_TOMB and/or
 * ITEM_F_STAMP, the field then holding `version` (a floor with STAMP).
 * NULL when out of memory or a length does not fit 32 bits. */
static struct item *
item_create_mc(const char *key, size_t klen, size_t vlen, int64_t expire_ms,
               uint64_t mcmeta, uint32_t atime, uint8_t vflags, uint64_t version)
{
    uint32_t mc = (uint32_t)mcmeta;
    uint8_t flags = vflags | ((mcmeta & STORE_MC_STALE) ? ITEM_F_STALE : 0);
    struct item *it;
    char *p;

    if (klen > UINT32_MAX || vlen > UINT32_MAX) {
        return NULL;
    }
    if (expire_ms > 0) {
        flags |= ITEM_F_EXPIRE;
    }
    if (mc != 0) {
        flags |= ITEM_F_MCFLAGS; /* none: no field, the item is 4 bytes smaller */
    }
    it = malloc(sizeof *it + item_opt_size(flags) + klen + vlen);
    if (it == NULL) {
        return NULL;
    }
    it->next = NULL;
    it->klen = (uint32_t)klen;
    it->vlen = (uint32_t)vlen;
    it->atime = atime;
    atomic_init(&it->refs, 1);
    it->flags = flags;
    atomic_init(&it->seen, 0);
    p = it->data;
    if (flags & ITEM_F_VERSION) {
        memcpy(p, &version, sizeof version);
        p += sizeof version;
    }
    if (flags & ITEM_F_EXPIRE) {
        memcpy(p, &expire_ms, sizeof expire_ms);
        p += sizeof expire_ms;
    }
    if (flags & ITEM_F_MCFLAGS) {
        memcpy(p, &mc, sizeof mc);
        p += sizeof mc;
    }
    memcpy(p, key, klen);
    return it;
}

/* item_create_mc with what a modification keeps of `carry` (NULL: none):
 * memcached's flags and stale mark, and what reads did to it (fetched, a
 * recache token out), as memcached keeps them when it changes an item in
 * place (touch, incr). */
static struct item *
item_create_v(const char *key, size_t klen, size_t vlen, int64_t expire_ms,
              const struct item *carry, uint32_t atime, uint8_t vflags,
              uint64_t version)
{
    struct item *it = item_create_mc(key, klen, vlen, expire_ms,
                                     carry != NULL ? item_mcmeta(carry) : 0, atime, vflags,
                                     version);

    if (it != NULL && carry != NULL) {
        atomic_init(&it->seen, atomic_load(&carry->seen));
    }
    return it;
}

/* Versions on: the version field every local write's item carries, stamped
 * when linked (do_link). Off: none, so the item is no bigger than before. */
static inline uint8_t
local_vflags(struct store *st)
{
    return atomic_load_explicit(&st->clock, memory_order_relaxed) != NULL
               ? ITEM_F_VERSION | ITEM_F_STAMP
               : 0;
}

/* A local write's new item (see item_create_v). */
static inline struct item *
item_create(struct store *st, const char *key, size_t klen, size_t vlen,
            int64_t expire_ms, const struct item *carry, uint32_t atime)
{
    return item_create_v(key, klen, vlen, expire_ms, carry, atime,
                         local_vflags(st), 0);
}

/* The same key and value with another expiry (0 = none). */
static struct item *
item_copy_expire(struct store *st, const struct item *it, int64_t expire_ms,
                 int64_t now_ms)
{
    struct item *n = item_create(st, item_key(it), it->klen, it->vlen, expire_ms,
                                 it, (uint32_t)now_ms);

    if (n != NULL) {
        memcpy(item_value_mut(n), item_value(it), it->vlen);
    }
    return n;
}

static inline void
item_pin(struct item *it)
{
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
}

void
item_release(struct item **itp)
{
    struct item *it;

    if (itp == NULL || (it = *itp) == NULL) {
        return;
    }
    *itp = NULL;
    /* acq_rel: the freeing thread must see every other holder's reads done */
    if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1) {
        free(it);
    }
}

/* ---- table (caller holds the shard lock: do_ prefix) -------------------- */

static int64_t
do_count_in(struct shard *sh, const struct item *it)
{
    size_t u = item_usize(it);

    if (item_is_tomb(it)) {
        sh->tombs++;
    } else {
        sh->keys++;
        sh->volatile_keys += item_has_expire(it);
    }
    sh->item_bytes += u;
    sh->payload_bytes += (uint64_t)it->klen + it->vlen;
    return (int64_t)u;
}

static int64_t
do_count_out(struct shard *sh, const struct item *it)
{
    size_t u = item_usize(it);

    if (item_is_tomb(it)) {
        sh->tombs--;
    } else {
        sh->keys--;
        sh->volatile_keys -= item_has_expire(it);
    }
    sh->item_bytes -= u;
    sh->payload_bytes -= (uint64_t)it->klen + it->vlen;
    return -(int64_t)u;
}

/* The slot of the key's tombstone in its bucket, or NULL. */
static struct item **
do_find_tomb(struct store *st, struct shard *sh, uint64_t hash,
             const struct item *like)
{
    struct item **slot = &sh->buckets[bucket_of(st, sh, hash)];

    for (; *slot != NULL; slot = &(*slot)->next) {
        struct item *it = *slot;

        if (item_is_tomb(it) && it->klen == like->klen &&
            memcmp(item_key(it), item_key(like), it->klen) == 0) {
            return slot;
        }
    }
    return NULL;
}

/* Link `it` in place of the item at *slot, or, when slot is NULL, in place
 * of the key's tombstone or at the head of its bucket (do_find reads a
 * tombstone as absent, so writers pass NULL for it). The replaced item loses
 * the table's reference. A local write's item (ITEM_F_STAMP) gets its
 * version here, above both its floor and the replaced entry's. */
static void
do_link(struct store *st, struct shard *sh, struct item **slot,
        struct item *it, uint64_t hash)
{
    int64_t delta;

    if (slot == NULL && sh->tombs > 0) {
        slot = do_find_tomb(st, sh, hash, it);
    }
    if (it->flags & ITEM_F_STAMP) {
        store_clock_fn *clock = atomic_load_explicit(&st->clock, memory_order_acquire);
        uint64_t v = item_version(it);

        if (slot != NULL && item_version(*slot) > v) {
            v = item_version(*slot);
        }
        if (clock != NULL) {
            v = clock(atomic_load_explicit(&st->clock_ctx, memory_order_relaxed), v);
        }
        memcpy(it->data, &v, sizeof v); /* the version is the first field */
        it->flags &= (uint8_t)~ITEM_F_STAMP;
    }
    delta = do_count_in(sh, it);

    if (st->tier != NULL) {
        /* disk tier hook: the key's value changes, so a copy on disk (cold,
         * or the clean twin of a promoted item) is stale from now on */
        tier_forget(st->tier, hash, item_key(it), it->klen);
    }

    if (slot != NULL) {
        struct item *old = *slot;

        it->next = old->next;
        *slot = it;
        delta += do_count_out(sh, old);
        item_release(&old);
    } else {
        struct item **head = &sh->buckets[bucket_of(st, sh, hash)];

        it->next = *head;
        *head = it;
    }
    used_add(st, delta);
}

/* Unlink the item at *slot. Never resizes, so chain walks can unlink as they
 * go; whoever walks calls do_resize() once before unlocking. */
static void
do_unlink(struct store *st, struct shard *sh, struct item **slot)
{
    struct item *it = *slot;

    if (st->tier != NULL && !item_is_tomb(it)) {
        /* disk tier hook: deleted or expired, so its disk twin goes too
         * (eviction to the tier does not come through here; a tombstone's
         * key was forgotten when it was linked) */
        tier_forget(st->tier, key_hash(st, item_key(it), it->klen), item_key(it),
                    it->klen);
    }
    *slot = it->next;
    used_add(st, do_count_out(sh, it));
    item_release(&it);
}

/* Two passes so the misses overlap: every bucket first (the table read
 * without its lock, relaxed: a table being replaced only makes the
 * prefetch useless, and a prefetch never faults), then under the lock,
 * every chain's first item. */
void
store_prefetch_keys(struct store *st, size_t n, const struct store_key *keys)
{
    uint64_t h[STORE_PREFETCH_MAX];

    n = n < STORE_PREFETCH_MAX ? n : STORE_PREFETCH_MAX;
    for (size_t i = 0; i < n; i++) {
        struct shard *sh;
        struct item **b;

        h[i] = key_hash(st, keys[i].p, keys[i].len);
        sh = shard_of(st, h[i]);
        b = __atomic_load_n(&sh->buckets, __ATOMIC_RELAXED);
        /* an address, not a pointer into the table: with a table and mask
         * caught mid-replacement it may lie outside it */
        __builtin_prefetch((const void *)((uintptr_t)b + sizeof *b *
                                          ((h[i] >> st->bucket_shift) &
                                           __atomic_load_n(&sh->mask, __ATOMIC_RELAXED))));
    }
    for (size_t i = 0; i < n; i++) {
        struct shard *sh = shard_of(st, h[i]);
        struct item *head;

        shard_lock(sh);
        head = sh->buckets[bucket_of(st, sh, h[i])];
        shard_unlock(sh);
        if (head != NULL) {
            __builtin_prefetch(head); /* only an address: it may be freed by now */
        }
    }
}

/* The slot holding the key's entry, tombstone included, or NULL. An
 * expired item met here is deleted (lazy expiry) and reads as absent. */
static struct item **
do_find_entry(struct store *st, struct shard *sh, uint64_t hash,
              const char *key, size_t klen, int64_t now_ms)
{
    struct item **slot = &sh->buckets[bucket_of(st, sh, hash)];

    for (; *slot != NULL; slot = &(*slot)->next) {
        struct item *it = *slot;

        if (it->klen == klen && memcmp(item_key(it), key, klen) == 0) {
            if (item_expired(it, now_ms)) {
                sh->expired += !item_is_tomb(it);
                do_unlink(st, sh, slot);
                return NULL;
            }
            return slot;
        }
    }
    return NULL;
}

/* The slot holding the key's item, or NULL: a tombstone reads as absent. */
static inline struct item **
do_find(struct store *st, struct shard *sh, uint64_t hash, const char *key,
        size_t klen, int64_t now_ms)
{
    struct item **slot = do_find_entry(st, sh, hash, key, klen, now_ms);

    return slot != NULL && item_is_tomb(*slot) ? NULL : slot;
}

static inline int64_t
tomb_expire(struct store *st, int64_t now_ms)
{
    int64_t t = now_ms + atomic_load_explicit(&st->tomb_grace_ms, memory_order_relaxed);

    return t > 0 ? t : 1; /* a tombstone always expires */
}

/* A local write removes the item at *slot (DEL, GETDEL, RENAME's source,
 * a past expiry): with versions on, a tombstone above its version takes its
 * place; otherwise, or if even that small item cannot be had, it just goes.
 * Not for expiry and eviction, which leave no tombstone. */
static void
do_remove(struct store *st, struct shard *sh, struct item **slot,
          uint64_t hash, int64_t now_ms)
{
    const struct item *old = *slot;
    struct item *t = NULL;

    if (atomic_load_explicit(&st->clock, memory_order_relaxed) != NULL) {
        t = item_create_v(item_key(old), old->klen, 0, tomb_expire(st, now_ms),
                          NULL, (uint32_t)now_ms,
                          ITEM_F_VERSION | ITEM_F_TOMB | ITEM_F_STAMP,
                          item_version(old));
    }
    if (t == NULL) {
        do_unlink(st, sh, slot);
        return;
    }
    do_link(st, sh, slot, t, hash);
}

/* The same for a key with no entry here (a write born expired on a member
 * that lacks the key): with versions on a tombstone still goes in, so the
 * delete replicates and wins over the copies other members hold. */
static void
do_remove_absent(struct store *st, struct shard *sh, const char *key, size_t klen,
                 uint64_t hash, int64_t now_ms)
{
    struct item *t;

    if (atomic_load_explicit(&st->clock, memory_order_relaxed) == NULL) {
        return;
    }
    t = item_create_v(key, klen, 0, tomb_expire(st, now_ms), NULL, (uint32_t)now_ms,
                      ITEM_F_VERSION | ITEM_F_TOMB | ITEM_F_STAMP, 0);
    if (t != NULL) {
        do_link(st, sh, NULL, t, hash); /* over the key's tombstone, if any */
    }
}

/* A full rehash of one shard under its lock. Shards keep tables small
 * (a 256th of the keyspace), so this is a short pause for one shard rather
 * than Redis's incremental two-table dance on every operation. Allocation
 * failure keeps the old table: chains get longer, nothing breaks. */
static void
do_rehash(struct store *st, struct shard *sh, uint64_t nbuckets)
{
    struct item **nb = calloc(nbuckets, sizeof *nb);
    uint64_t nmask = nbuckets - 1;
    int64_t delta;

    if (nb == NULL) {
        return;
    }
    for (uint64_t b = 0; b <= sh->mask; b++) {
        struct item *it = sh->buckets[b];

        while (it != NULL) {
            struct item *next = it->next;
            uint64_t nbk = (key_hash(st, item_key(it), it->klen) >> st->bucket_shift) & nmask;

            it->next = nb[nbk];
            nb[nbk] = it;
            it = next;
        }
    }
    delta = (int64_t)malloc_usable_size(nb) - (int64_t)sh->index_bytes;
    free(sh->buckets);
    __atomic_store_n(&sh->buckets, nb, __ATOMIC_RELAXED); /* store_prefetch reads them unlocked */
    __atomic_store_n(&sh->mask, nmask, __ATOMIC_RELAXED);
    sh->index_bytes = malloc_usable_size(nb);
    used_add(st, delta);
}

/* ---- eviction ------------------------------------------------------------ */

static bool
policy_is_volatile(int p)
{
    return p == STORE_VOLATILE_LRU || p == STORE_VOLATILE_RANDOM ||
           p == STORE_VOLATILE_TTL;
}

/* Larger is a better victim. An expired key is always the best. */
static uint64_t
victim_score(const struct item *it, int policy, int64_t now_ms)
{
    if (item_expired(it, now_ms)) {
        return UINT64_MAX;
    }
    switch (policy) {
    case STORE_ALLKEYS_LRU:
    case STORE_VOLATILE_LRU:
        /* wraps correctly for idle times under 49 days */
        return (uint32_t)((uint32_t)now_ms - item_atime(it));
    case STORE_VOLATILE_TTL:
        return (uint64_t)INT64_MAX - (uint64_t)item_expire_ms(it);
    default:
        return rng_next() >> 1;
    }
}

/* Sample `samples` eligible items from random buckets (each bucket's whole
 * chain counts, as in Redis's dictGetSomeKeys) and return the slot of the
 * best victim. When random probes find nothing (a sparse table, or few keys
 * with a TTL), walk the table from a random bucket so that any eligible key
 * that exists is found. */
static struct item **
do_pick_victim(struct store *st, struct shard *sh, int policy, int64_t now_ms)
{
    bool vol = policy_is_volatile(policy);
    unsigned want = atomic_load_explicit(&st->samples, memory_order_relaxed);
    struct item **best = NULL;
    uint64_t best_score = 0;
    unsigned seen = 0;

    for (unsigned probes = 0; seen < want && probes < want * 16; probes++) {
        struct item **slot = &sh->buckets[rng_next() & sh->mask];

        for (; *slot != NULL && seen < want; slot = &(*slot)->next) {
            uint64_t score;

            if (vol && !item_has_expire(*slot)) {
                continue;
            }
            seen++;
            score = victim_score(*slot, policy, now_ms);
            if (best == NULL || score > best_score) {
                best = slot;
                best_score = score;
            }
        }
    }
    if (best == NULL) {
        uint64_t start = rng_next();

        for (uint64_t i = 0; i <= sh->mask && best == NULL; i++) {
            struct item **slot = &sh->buckets[(start + i) & sh->mask];

            for (; *slot != NULL; slot = &(*slot)->next) {
                if (!vol || item_has_expire(*slot)) {
                    best = slot;
                    break;
                }
            }
        }
    }
    return best;
}

static bool
over_limit(struct store *st, uint64_t need)
{
    uint64_t max = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);

    /* disk tier hook: the cold keys' index is RAM the dataset costs too */
    if (max != 0 && st->tier != NULL) {
        need += tier_ram_bytes(st->tier);
    }
    return max != 0 &&
           atomic_load_explicit(&st->used_bytes, memory_order_relaxed) + need > max;
}

/* Disk tier hook: evict the item at *slot into the tier instead of freeing
 * it. The tier pins it until it is written (and serves reads from it
 * meanwhile), so unlinking here loses nothing; only when the tier refuses
 * (queue full, disk failing) is this a plain eviction. Not do_unlink: that
 * would tell the tier to forget the key it was just given. */
static void
do_evict_to_tier(struct store *st, struct shard *sh, struct item **slot)
{
    struct item *it = *slot;

    if (tier_put(st->tier, key_hash(st, item_key(it), it->klen), it, false) ==
        TIER_PUT_REFUSED) {
        sh->evicted++;
    }
    *slot = it->next;
    used_add(st, do_count_out(sh, it));
    item_release(&it);
}

bool
store_over_maxmemory(struct store *st)
{
    return over_limit(st, 0);
}

/* Evict one key of this shard per the policy; false if none qualifies. */
static bool
do_evict_one(struct store *st, struct shard *sh, int policy, int64_t now_ms)
{
    struct item **victim = NULL;

    if (policy == STORE_NOEVICTION) {
        return false;
    }
    /* tombstones have an expiry, so every policy may drop them */
    if (sh->tombs > 0 ||
        (policy_is_volatile(policy) ? sh->volatile_keys > 0 : sh->keys > 0)) {
        victim = do_pick_victim(st, sh, policy, now_ms);
    }
    if (victim == NULL) {
        return false;
    }
    if (item_is_tomb(*victim)) {
        do_unlink(st, sh, victim); /* never to the disk tier; not a key */
        return true;
    }
    if (st->tier != NULL && !item_expired(*victim, now_ms)) {
        do_evict_to_tier(st, sh, victim); /* disk tier hook */
        return true;
    }
    if (item_expired(*victim, now_ms)) {
        sh->expired++;
    } else {
        sh->evicted++;
    }
    do_unlink(st, sh, victim);
    return true;
}

/* Grow at a load above 1, shrink below 1/8 back to a load near 1/2; the gap
 * keeps a key count hovering at a boundary from rehashing back and forth.
 *
 * A bigger bucket array is memory too, and maxmemory is a hard cap: when the
 * growth does not fit, a load up to 2 just means longer chains; past that,
 * the shard pays for the growth by evicting its own keys (which needs no
 * other lock). Only if nothing is evictable does the table stay small. */
static void
do_resize(struct store *st, struct shard *sh, int64_t now_ms)
{
    uint64_t n = sh->mask + 1;
    uint64_t entries = sh->keys + sh->tombs; /* what the chains hold */

    if (entries > n) {
        uint64_t extra = n * sizeof *sh->buckets;
        int policy = atomic_load_explicit(&st->policy, memory_order_relaxed);

        if (over_limit(st, extra)) {
            if (entries <= 2 * n) {
                return;
            }
            while (over_limit(st, extra) && do_evict_one(st, sh, policy, now_ms)) {
            }
            entries = sh->keys + sh->tombs;
            if (over_limit(st, extra) || entries <= n) {
                return;
            }
        }
        do_rehash(st, sh, n * 2);
    } else if (n > SHARD_MIN_BUCKETS && entries < n / 8) {
        uint64_t target = SHARD_MIN_BUCKETS;

        while (target < entries * 2) {
            target *= 2;
        }
        do_rehash(st, sh, target);
    }
}

/* Evict one key per the policy; false when nothing can be evicted. Shards
 * are tried round-robin from a shared cursor so concurrent evictors spread
 * out; a second, in-order pass makes sure a lone evictable key is found even
 * when other evictors moved the cursor past it. */
static bool
evict_one(struct store *st, int64_t now_ms)
{
    int policy = atomic_load_explicit(&st->policy, memory_order_relaxed);

    if (policy == STORE_NOEVICTION) {
        return false;
    }
    for (unsigned tries = 0; tries < 2 * st->nshards; tries++) {
        unsigned i = tries < st->nshards
                         ? atomic_fetch_add_explicit(&st->evict_cursor, 1,
                                                     memory_order_relaxed)
                         : tries - st->nshards;
        struct shard *sh = &st->shards[i & (st->nshards - 1)];
        bool done;

        shard_lock(sh);
        done = do_evict_one(st, sh, policy, now_ms);
        if (done) {
            do_resize(st, sh, now_ms);
        }
        shard_unlock(sh);
        if (done) {
            return true;
        }
    }
    return false;
}

/* Evict until `need` more bytes fit. Called with no shard lock held. */
static enum store_status
make_room(struct store *st, uint64_t need, int64_t now_ms)
{
    if (atomic_load_explicit(&st->policy, memory_order_relaxed) == STORE_NOEVICTION) {
        /* As Redis: writes go in while the dataset is within maxmemory,
         * the one that crosses it included; once over, every write that
         * needs memory is refused until something is deleted. */
        return over_limit(st, 0) ? STORE_ENOMEM : STORE_OK;
    }
    if (st->tier != NULL && over_limit(st, need)) {
        /* disk tier hook: let the writer catch up, so what we evict next
         * is queued for disk rather than refused and lost */
        tier_wait_room(st->tier);
    }
    while (over_limit(st, need)) {
        if (need > atomic_load_explicit(&st->maxmemory, memory_order_relaxed) ||
            !evict_one(st, now_ms)) {
            return STORE_ENOMEM;
        }
    }
    return STORE_OK;
}

uint64_t
store_evict_some(struct store *st, uint64_t max_keys, int64_t now_ms)
{
    uint64_t n = 0;

    while (n < max_keys && over_limit(st, 0) && evict_one(st, now_ms)) {
        n++;
    }
    return n;
}

/* ---- disk tier hooks ------------------------------------------------------
 * With a tier attached (store_config.tier), memory holds the hot keys and
 * the tier the evicted ones. Every hook is behind `st->tier != NULL`, so
 * with the tier off the store does exactly what it did before.
 *
 * Invariant, under the key's shard lock: a key is in memory, or cold in the
 * tier, or both when it was promoted and not changed since (the tier's
 * copy is then a clean twin, which do_link/do_unlink drop on any change).
 * Operations that need the old value use do_find_warm, which brings a cold
 * key back into memory under the shard lock first, so every
 * read-modify-write, GETEX, GETDEL, EXPIRE ... works on cold keys unchanged.
 * Plain SET and DEL never read the disk: do_link/do_unlink and store_del
 * only forget the cold copy. The read is synchronous on the caller's thread
 * (one pread of one compressed block plus its decompression; measured in
 * bench/RESULTS.md), holding only this key's shard lock. */

/* do_find_entry, and on a miss, the key's cold copy read back and linked
 * (keeping the version it had). A tombstone in memory masks the disk. */
static struct item **
do_find_warm_entry(struct store *st, struct shard *sh, uint64_t hash,
                   const char *key, size_t klen, int64_t now_ms)
{
    struct item **slot = do_find_entry(st, sh, hash, key, klen, now_ms);
    int policy = atomic_load_explicit(&st->policy, memory_order_relaxed);
    struct tier_value v;
    struct item *it;

    if (slot != NULL || st->tier == NULL) {
        return slot;
    }
    if (tier_read(st->tier, hash, key, klen, now_ms, true, &v) != 1) {
        return NULL;
    }
    /* memcached flags are not restored: nothing sets them yet */
    it = item_create_v(key, klen, v.vlen, v.expire_ms, NULL, (uint32_t)now_ms,
                       v.version != 0 ? ITEM_F_VERSION : 0, v.version);
    if (it == NULL) {
        tier_unpromote(st->tier, hash); /* stays cold: served next time */
        tier_value_release(&v);
        return NULL;
    }
    memcpy(item_value_mut(it), v.val, v.vlen);
    tier_value_release(&v);
    /* Room from this shard only (the one lock we hold), before linking so
     * the victim cannot be the item we return; a GET-only load would
     * otherwise grow memory past maxmemory one promotion at a time. */
    while (over_limit(st, item_usize(it)) && do_evict_one(st, sh, policy, now_ms)) {
    }
    /* linked without do_link: the tier keeps its now clean twin */
    slot = &sh->buckets[bucket_of(st, sh, hash)];
    it->next = *slot;
    *slot = it;
    used_add(st, do_count_in(sh, it));
    return slot;
}

/* do_find_warm_entry, a tombstone read as absent. */
static struct item **
do_find_warm(struct store *st, struct shard *sh, uint64_t hash,
             const char *key, size_t klen, int64_t now_ms)
{
    struct item **slot = do_find_warm_entry(st, sh, hash, key, klen, now_ms);

    return slot != NULL && item_is_tomb(*slot) ? NULL : slot;
}

/* With versions on, a write that replaces or removes a key needs the
 * version of a cold copy too, so even a plain SET or DEL reads it. */
static inline bool
versions_on(struct store *st)
{
    return atomic_load_explicit(&st->clock, memory_order_relaxed) != NULL;
}

/* Does a cold copy exist (for NX checks)? Reads only in the last second of
 * a key's TTL, where the index's rounded expiry cannot tell. */
static bool
do_cold_exists(struct store *st, struct shard *sh, uint64_t hash,
               const char *key, size_t klen, int64_t now_ms, bool touch)
{
    int r;

    if (st->tier == NULL) {
        return false;
    }
    r = tier_has(st->tier, hash, now_ms, touch);
    return r > 0 || (r < 0 && do_find_warm(st, sh, hash, key, klen, now_ms) != NULL);
}

struct tier *
store_tier(struct store *st)
{
    return st->tier;
}

bool
store_cold(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h;
    struct shard *sh;
    bool mem;

    if (st->tier == NULL) {
        return false;
    }
    h = key_hash(st, key, klen);
    /* the index first: almost every key it does not call cold is settled
     * without the shard lock */
    if (!tier_cold(st->tier, h, now_ms)) {
        return false;
    }
    sh = shard_of(st, h);
    shard_lock(sh);
    mem = do_find(st, sh, h, key, klen, now_ms) != NULL;
    shard_unlock(sh);
    return !mem;
}

void
store_prefetch(struct store *st, const char *key, size_t klen)
{
    if (st->tier != NULL) {
        tier_prefetch(st->tier, key_hash(st, key, klen));
    }
}

void
store_spill(struct store *st)
{
    if (st->tier == NULL) {
        return;
    }
    for (unsigned i = 0; i < st->nshards; i++) {
        struct shard *sh = &st->shards[i];

        shard_lock(sh);
        for (uint64_t b = 0; b <= sh->mask; b++) {
            for (struct item *it = sh->buckets[b]; it != NULL; it = it->next) {
                if (item_is_tomb(it)) {
                    continue; /* never written to the disk tier */
                }
                if (!item_has_expire(it) || item_expire_ms(it) > (int64_t)time(NULL) * 1000) {
                    tier_put(st->tier, key_hash(st, item_key(it), it->klen), it, true);
                }
            }
        }
        shard_unlock(sh);
    }
    tier_sync(st->tier);
}

/* ---- lifecycle and settings ---------------------------------------------- */

static const char *const policy_names[] = {
    [STORE_ALLKEYS_LRU] = "allkeys-lru",
    [STORE_VOLATILE_LRU] = "volatile-lru",
    [STORE_ALLKEYS_RANDOM] = "allkeys-random",
    [STORE_VOLATILE_RANDOM] = "volatile-random",
    [STORE_VOLATILE_TTL] = "volatile-ttl",
    [STORE_NOEVICTION] = "noeviction",
};

int
store_policy_parse(const char *name)
{
    for (size_t i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *
store_policy_name(enum store_policy p)
{
    if ((unsigned)p >= sizeof policy_names / sizeof policy_names[0]) {
        return "unknown";
    }
    return policy_names[p];
}

const char *
store_strerror(enum store_status st)
{
    switch (st) {
    case STORE_OK:        return "ok";
    case STORE_ENOENT:    return "no such key";
    case STORE_EEXIST:    return "key exists";
    case STORE_ENOTNUM:   return "value is not an integer or out of range";
    case STORE_EOVERFLOW: return "increment or decrement would overflow";
    case STORE_ENOTFLOAT: return "value is not a valid float";
    case STORE_ENANINF:   return "increment would produce NaN or Infinity";
    case STORE_ENOMEM:    return "over maxmemory and nothing to evict";
    case STORE_ETOOBIG:   return "string exceeds maximum allowed size";
    case STORE_ENOTSET:   return "condition not met";
    case STORE_ECONFLICT: return "a concurrent write is held";
    }
    return "unknown store status";
}

void
store_set_maxmemory(struct store *st, uint64_t bytes)
{
    atomic_store(&st->maxmemory, bytes);
}

void
store_set_policy(struct store *st, enum store_policy p)
{
    atomic_store(&st->policy, (int)p);
}

void
store_set_samples(struct store *st, unsigned samples)
{
    if (samples == 0) {
        samples = SAMPLES_DEFAULT;
    }
    atomic_store(&st->samples, samples > SAMPLES_MAX ? SAMPLES_MAX : samples);
}

void
store_set_max_value_len(struct store *st, uint64_t bytes)
{
    atomic_store(&st->max_value_len, bytes ? bytes : MAX_VALUE_DEFAULT);
}

struct store *
store_create(const struct store_config *cfg)
{
    static const struct store_config defaults = {0};
    unsigned n = SHARDS_DEFAULT;
    size_t stsize = (sizeof(struct store) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
    struct store *st;
    uint64_t used;

    if (cfg == NULL) {
        cfg = &defaults;
    }
    if (cfg->shards != 0) {
        n = 1;
        while (n < cfg->shards && n < SHARDS_MAX) {
            n *= 2;
        }
    }
    if (cfg->slot_of != NULL && n > 1u << KEY_HASH_SLOT_BITS) {
        n = 1u << KEY_HASH_SLOT_BITS; /* shard_of takes the slot's bits only */
    }
    st = aligned_alloc(CACHE_LINE, stsize);
    if (st == NULL) {
        return NULL;
    }
    memset(st, 0, stsize);
    st->shards = aligned_alloc(CACHE_LINE, n * sizeof(struct shard));
    if (st->shards == NULL) {
        free(st);
        return NULL;
    }
    memset(st->shards, 0, n * sizeof(struct shard));
    st->nshards = n;
    while ((1u << st->shard_bits) < n) {
        st->shard_bits++;
    }
    st->slot_of = cfg->slot_of;
    st->shard_shift = st->slot_of != NULL ? KEY_HASH_SLOT_SHIFT : 0;
    st->bucket_shift = st->slot_of != NULL ? KEY_HASH_SLOT_SHIFT + KEY_HASH_SLOT_BITS : st->shard_bits;
    st->fixed_bytes = malloc_usable_size(st) + malloc_usable_size(st->shards);
    used = st->fixed_bytes;

    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    /* critical sections are a chain walk: spin briefly before sleeping */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (unsigned i = 0; i < n; i++) {
        struct shard *sh = &st->shards[i];

        sh->buckets = calloc(SHARD_MIN_BUCKETS, sizeof *sh->buckets);
        if (sh->buckets == NULL) {
            for (unsigned j = 0; j < i; j++) {
                pthread_mutex_destroy(&st->shards[j].lock);
                free(st->shards[j].buckets);
            }
            pthread_mutexattr_destroy(&attr);
            free(st->shards);
            free(st);
            return NULL;
        }
        pthread_mutex_init(&sh->lock, &attr);
        sh->mask = SHARD_MIN_BUCKETS - 1;
        sh->index_bytes = malloc_usable_size(sh->buckets);
        used += sh->index_bytes;
    }
    pthread_mutexattr_destroy(&attr);
    atomic_init(&st->used_bytes, used);
    atomic_init(&st->maxmemory, cfg->maxmemory);
    atomic_init(&st->policy, (int)cfg->policy);
    atomic_init(&st->evict_cursor, 0);
    st->tier = cfg->tier; /* disk tier hook */
    store_set_samples(st, cfg->samples);
    store_set_max_value_len(st, cfg->max_value_len);
    return st;
}

void
store_destroy(struct store **stp)
{
    struct store *st;

    if (stp == NULL || (st = *stp) == NULL) {
        return;
    }
    *stp = NULL;
    for (unsigned i = 0; i < st->nshards; i++) {
        struct shard *sh = &st->shards[i];

        for (uint64_t b = 0; b <= sh->mask; b++) {
            struct item *it = sh->buckets[b];

            while (it != NULL) {
                struct item *next = it->next;

                item_release(&it); /* pinned items live on with their pins */
                it = next;
            }
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(st->shards);
    free(st);
}

/* ---- reads --------------------------------------------------------------- */

static struct item *
lookup_pin(struct store *st, const char *key, size_t klen, int64_t now_ms,
           bool touch)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    struct item *it = NULL;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot != NULL) {
        it = *slot;
        item_pin(it);
        if (touch) {
            item_touch(it, now_ms);
        }
    } else {
        do_resize(st, sh, now_ms); /* a lazy expiry may have emptied the shard */
    }
    shard_unlock(sh);
    return it;
}

struct item *
store_get(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    return lookup_pin(st, key, klen, now_ms, true);
}

struct item *
store_peek(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    return lookup_pin(st, key, klen, now_ms, false);
}

static bool
lookup_exists(struct store *st, const char *key, size_t klen, int64_t now_ms,
              bool touch)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;

    bool cold = false;

    shard_lock(sh);
    slot = do_find_entry(st, sh, h, key, klen, now_ms);
    if (slot != NULL && item_is_tomb(*slot)) {
        do_resize(st, sh, now_ms);
        shard_unlock(sh);
        return false; /* a tombstone masks any disk copy too */
    }
    if (slot != NULL && touch) {
        item_touch(*slot, now_ms);
    }
    if (slot == NULL) {
        /* disk tier hook: the index answers without reading */
        cold = do_cold_exists(st, sh, h, key, klen, now_ms, touch);
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return slot != NULL || cold;
}

bool
store_exists(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    return lookup_exists(st, key, klen, now_ms, false);
}

bool
store_touch(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    return lookup_exists(st, key, klen, now_ms, true);
}

/* ---- writes -------------------------------------------------------------- */

enum store_status
store_set(struct store *st, const char *key, size_t klen, const void *val,
          size_t vlen, int flags, int64_t expire_ms, int64_t now_ms,
          struct item **old)
{
    bool keepttl = (flags & STORE_SET_KEEPTTL) != 0;
    bool drop = !keepttl && expire_ms != 0 && expire_ms <= now_ms;
    enum store_status rc = STORE_OK;
    struct item *nit = NULL;
    struct item **slot;
    struct item *cur;
    struct shard *sh;
    uint64_t h;

    if (old != NULL && (flags & STORE_SET_GET)) {
        *old = NULL;
    }
    if (klen > UINT32_MAX || vlen > UINT32_MAX) {
        return STORE_ETOOBIG;
    }
    /* Build the item and make room before taking the lock: the critical
     * section is then only the chain walk and the swap. */
    if (!drop) {
        nit = item_create(st, key, klen, vlen, keepttl ? 0 : expire_ms, NULL,
                          (uint32_t)now_ms);
        if (nit == NULL) {
            return STORE_ENOMEM;
        }
        memcpy(item_value_mut(nit), val, vlen);
        if (make_room(st, item_usize(nit), now_ms) != STORE_OK) {
            free(nit);
            return STORE_ENOMEM;
        }
    }

    h = key_hash(st, key, klen);
    sh = shard_of(st, h);
    shard_lock(sh);
    /* disk tier hook: a plain SET overwrites a cold key without reading it
     * (do_link forgets the cold copy); conditions and GET need the old one */
    slot = (flags & (STORE_SET_NX | STORE_SET_XX | STORE_SET_GET | STORE_SET_KEEPTTL)) ||
                   drop || versions_on(st)
               ? do_find_warm(st, sh, h, key, klen, now_ms)
               : do_find(st, sh, h, key, klen, now_ms);
    cur = slot != NULL ? *slot : NULL;
    if (cur != NULL && old != NULL && (flags & STORE_SET_GET)) {
        item_pin(cur);
        *old = cur;
    }
    if ((flags & STORE_SET_NX) && cur != NULL) {
        rc = STORE_EEXIST;
    } else if ((flags & STORE_SET_XX) && cur == NULL) {
        rc = STORE_ENOENT;
    } else if (drop) {
        if (slot != NULL) {
            do_remove(st, sh, slot, h, now_ms);
        }
    } else {
        if (keepttl && cur != NULL && item_has_expire(cur)) {
            /* rare: the expiry field changes the layout, so rebuild */
            struct item *k = item_copy_expire(st, nit, item_expire_ms(cur), now_ms);

            if (k == NULL) {
                rc = STORE_ENOMEM;
                goto out;
            }
            free(nit);
            nit = k;
        }
        do_link(st, sh, slot, nit, h);
        nit = NULL;
    }
out:
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    free(nit); /* never linked, never shared */
    return rc;
}

enum store_status
store_mset(struct store *st, size_t n, const char *const *keys,
           const size_t *klens, const void *const *vals, const size_t *vlens,
           bool nx, int64_t now_ms)
{
    enum store_status rc = STORE_OK;
    struct item **items = NULL;
    uint64_t *hashes = NULL;
    bool *involved = NULL;
    uint64_t need = 0;

    if (n == 0) {
        return STORE_OK;
    }
    items = calloc(n, sizeof *items);
    hashes = malloc(n * sizeof *hashes);
    involved = calloc(st->nshards, sizeof *involved);
    if (items == NULL || hashes == NULL || involved == NULL) {
        rc = STORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (klens[i] > UINT32_MAX || vlens[i] > UINT32_MAX) {
            rc = STORE_ETOOBIG;
            goto out;
        }
        items[i] = item_create(st, keys[i], klens[i], vlens[i], 0, NULL, (uint32_t)now_ms);
        if (items[i] == NULL) {
            rc = STORE_ENOMEM;
            goto out;
        }
        memcpy(item_value_mut(items[i]), vals[i], vlens[i]);
        need += item_usize(items[i]);
        hashes[i] = key_hash(st, keys[i], klens[i]);
        involved[hashes[i] & (st->nshards - 1)] = true;
    }
    rc = make_room(st, need, now_ms);
    if (rc != STORE_OK) {
        goto out;
    }

    /* ascending shard order: the one lock order every multi-key call uses */
    for (unsigned s = 0; s < st->nshards; s++) {
        if (involved[s]) {
            shard_lock(&st->shards[s]);
        }
    }
    for (size_t i = 0; nx && i < n; i++) {
        struct shard *sh = shard_of(st, hashes[i]);

        if (do_find(st, sh, hashes[i], keys[i], klens[i], now_ms) != NULL ||
            do_cold_exists(st, sh, hashes[i], keys[i], klens[i], now_ms, false)) {
            rc = STORE_EEXIST;
            break;
        }
    }
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        struct shard *sh = shard_of(st, hashes[i]);
        /* versions on: a cold copy's version is the floor (warm) */
        struct item **slot =
            versions_on(st) ? do_find_warm(st, sh, hashes[i], keys[i], klens[i], now_ms)
                            : do_find(st, sh, hashes[i], keys[i], klens[i], now_ms);

        /* a later duplicate finds and replaces the earlier one */
        do_link(st, sh, slot, items[i], hashes[i]);
        items[i] = NULL;
        do_resize(st, sh, now_ms); /* slots are re-found per key, so safe here */
    }
    for (unsigned s = 0; s < st->nshards; s++) {
        if (involved[s]) {
            do_resize(st, &st->shards[s], now_ms);
            shard_unlock(&st->shards[s]);
        }
    }
out:
    for (size_t i = 0; items != NULL && i < n; i++) {
        free(items[i]);
    }
    free(items);
    free(hashes);
    free(involved);
    return rc;
}

bool
store_del(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;

    bool cold = false;

    shard_lock(sh);
    /* versions on: a cold key's tombstone needs its version (warm) */
    slot = versions_on(st) ? do_find_warm(st, sh, h, key, klen, now_ms)
                           : do_find(st, sh, h, key, klen, now_ms);
    if (slot != NULL) {
        do_remove(st, sh, slot, h, now_ms);
    } else if (st->tier != NULL) {
        cold = tier_forget(st->tier, h, key, klen); /* disk tier hook: no read */
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return slot != NULL || cold;
}

struct item *
store_getdel(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    struct item *it = NULL;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot != NULL) {
        it = *slot;
        item_pin(it);
        do_remove(st, sh, slot, h, now_ms);
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return it;
}

struct item *
store_getex(struct store *st, const char *key, size_t klen, int64_t expire_ms,
            int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    struct item *it = NULL;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot != NULL) {
        it = *slot;
        item_pin(it); /* the caller gets the value as read, before the change */
        item_touch(it, now_ms);
        if (expire_ms == STORE_EXPIRE_PERSIST) {
            if (item_has_expire(it)) {
                struct item *n = item_copy_expire(st, it, 0, now_ms);

                if (n != NULL) {
                    do_link(st, sh, slot, n, h);
                }
            }
        } else if (expire_ms > 0 && expire_ms <= now_ms) {
            do_remove(st, sh, slot, h, now_ms);
        } else if (expire_ms > 0) {
            struct item *n = item_copy_expire(st, it, expire_ms, now_ms);

            if (n != NULL) {
                do_link(st, sh, slot, n, h);
            }
        }
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return it;
}

/* Read-modify-write: `fn` sees the current item (NULL if absent) under the
 * shard lock and may build a replacement in *out. If the replacement does
 * not fit maxmemory, the lock is dropped, room is made, and fn runs again on
 * whatever the key then holds (make room first, never evict under a lock). */
typedef enum store_status (*rmw_fn)(struct store *st, void *arg,
                                    const char *key, size_t klen,
                                    const struct item *old, int64_t now_ms,
                                    struct item **out);

/* What an rmw_fn puts in *out to delete the key. */
static struct item rmw_delete_mark;
#define RMW_DELETE (&rmw_delete_mark)

/* store_rmw, and the replacement's version in *version (when given). */
static enum store_status
store_rmw_v(struct store *st, const char *key, size_t klen, int64_t now_ms,
            rmw_fn fn, void *arg, uint64_t *version)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    bool room_made = false;

    for (;;) {
        struct item *nit = NULL;
        struct item **slot;
        enum store_status rc;

        shard_lock(sh);
        slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier: _warm */
        rc = fn(st, arg, key, klen, slot != NULL ? *slot : NULL, now_ms, &nit);
        if (rc == STORE_OK && nit != NULL && nit != RMW_DELETE && item_expired(nit, now_ms)) {
            free(nit); /* born expired (memcached's negative exptime): a delete */
            nit = RMW_DELETE;
        }
        if (rc == STORE_OK && nit == RMW_DELETE && slot != NULL) {
            do_remove(st, sh, slot, h, now_ms);
        } else if (rc == STORE_OK && nit == RMW_DELETE) {
            do_remove_absent(st, sh, key, klen, h, now_ms);
        } else if (rc == STORE_OK && nit != NULL) {
            size_t need = item_usize(nit);

            if (!room_made && over_limit(st, need)) {
                do_resize(st, sh, now_ms);
                shard_unlock(sh);
                free(nit);
                room_made = true;
                if (make_room(st, need, now_ms) != STORE_OK) {
                    return STORE_ENOMEM;
                }
                continue;
            }
            do_link(st, sh, slot, nit, h);
            if (version != NULL) {
                *version = item_version(nit); /* stamped by do_link */
            }
        }
        do_resize(st, sh, now_ms);
        shard_unlock(sh);
        return rc;
    }
}

static enum store_status
store_rmw(struct store *st, const char *key, size_t klen, int64_t now_ms,
          rmw_fn fn, void *arg)
{
    return store_rmw_v(st, key, klen, now_ms, fn, arg, NULL);
}

/* Redis's string2ll: optional '-', no '+', no spaces, no leading zeros
 * except "0" itself, must fit in 64 bits. */
static bool
parse_i64(const char *s, size_t len, int64_t *out)
{
    uint64_t v;
    size_t i = 0;
    bool neg = false;

    if (len == 0 || len >= 21) {
        return false;
    }
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        if (++i == len) {
            return false;
        }
    }
    if (s[i] < '1' || s[i] > '9') {
        return false;
    }
    v = (uint64_t)(s[i++] - '0');
    for (; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v;
    }
    return true;
}

/* Redis's string2ld: strtold over the whole string, no leading space, no
 * NaN, no overflow or underflow to zero. (Like Redis, a NUL byte ends the
 * parse early and is accepted.) */
static bool
parse_ld(const char *s, size_t len, long double *out)
{
    char buf[STORE_FLOAT_STR_MAX];
    long double v;
    char *end;

    if (len == 0 || len >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r') || *end != '\0' ||
        (errno == ERANGE &&
         (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Redis's ld2string(LD_STR_HUMAN): fixed notation, 17 decimals, trailing
 * zeros and a bare '.' removed, "-0" as "0". v is finite. */
static size_t
format_ld(char *out, long double v)
{
    int n = snprintf(out, STORE_FLOAT_STR_MAX, "%.17Lf", v);
    size_t l;

    if (n < 0 || (size_t)n >= STORE_FLOAT_STR_MAX) {
        out[0] = '\0';
        return 0;
    }
    l = (size_t)n;
    if (memchr(out, '.', l) != NULL) {
        while (out[l - 1] == '0') {
            l--;
        }
        if (out[l - 1] == '.') {
            l--;
        }
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    out[l] = '\0';
    return l;
}

/* A replacement for `old` (or a new key) holding vlen bytes, keeping the
 * expiry and memcached flags as Redis keeps them across INCR and APPEND. */
static struct item *
item_rebuild(struct store *st, const char *key, size_t klen, size_t vlen,
             const struct item *old, int64_t now_ms)
{
    return item_create(st, key, klen, vlen, old != NULL ? item_expire_or0(old) : 0,
                       old, (uint32_t)now_ms);
}

struct incr_arg {
    int64_t delta;
    int64_t result;
};

static enum store_status
incr_apply(struct store *st, void *arg, const char *key, size_t klen,
           const struct item *old, int64_t now_ms, struct item **out)
{
    struct incr_arg *a = arg;
    int64_t v = 0;
    char buf[24];
    int n;

    if (old != NULL && !parse_i64(item_value(old), old->vlen, &v)) {
        return STORE_ENOTNUM;
    }
    if ((a->delta < 0 && v < 0 && a->delta < INT64_MIN - v) ||
        (a->delta > 0 && v > 0 && a->delta > INT64_MAX - v)) {
        return STORE_EOVERFLOW;
    }
    v += a->delta;
    n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    *out = item_rebuild(st, key, klen, (size_t)n, old, now_ms);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    memcpy(item_value_mut(*out), buf, (size_t)n);
    a->result = v;
    return STORE_OK;
}

enum store_status
store_incr(struct store *st, const char *key, size_t klen, int64_t delta,
           int64_t *result, int64_t now_ms)
{
    struct incr_arg a = {.delta = delta};
    enum store_status rc = store_rmw(st, key, klen, now_ms, incr_apply, &a);

    if (rc == STORE_OK && result != NULL) {
        *result = a.result;
    }
    return rc;
}

struct incr_float_arg {
    long double delta;
    char *out;
    size_t outlen;
};

static enum store_status
incr_float_apply(struct store *st, void *arg, const char *key, size_t klen,
                 const struct item *old, int64_t now_ms, struct item **out)
{
    struct incr_float_arg *a = arg;
    long double v = 0;

    if (old != NULL && !parse_ld(item_value(old), old->vlen, &v)) {
        return STORE_ENOTFLOAT;
    }
    v += a->delta;
    if (isnan(v) || isinf(v)) {
        return STORE_ENANINF;
    }
    a->outlen = format_ld(a->out, v);
    *out = item_rebuild(st, key, klen, a->outlen, old, now_ms);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    memcpy(item_value_mut(*out), a->out, a->outlen);
    return STORE_OK;
}

enum store_status
store_incr_float(struct store *st, const char *key, size_t klen,
                 long double delta, char *out, size_t *outlen, int64_t now_ms)
{
    struct incr_float_arg a = {.delta = delta, .out = out};
    enum store_status rc = store_rmw(st, key, klen, now_ms, incr_float_apply, &a);

    if (rc == STORE_OK && outlen != NULL) {
        *outlen = a.outlen;
    }
    return rc;
}

struct append_arg {
    const void *val;
    size_t vlen;
    size_t newlen;
};

static enum store_status
append_apply(struct store *st, void *arg, const char *key, size_t klen,
             const struct item *old, int64_t now_ms, struct item **out)
{
    struct append_arg *a = arg;
    size_t olen = old != NULL ? old->vlen : 0;
    uint64_t max = max_value_len(st);

    if (a->vlen > max || olen > max - a->vlen) {
        return STORE_ETOOBIG;
    }
    a->newlen = olen + a->vlen;
    if (old != NULL && a->vlen == 0) {
        return STORE_OK; /* nothing changes: skip the copy */
    }
    *out = item_rebuild(st, key, klen, a->newlen, old, now_ms);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    if (olen != 0) {
        memcpy(item_value_mut(*out), item_value(old), olen);
    }
    if (a->vlen != 0) {
        memcpy(item_value_mut(*out) + olen, a->val, a->vlen);
    }
    return STORE_OK;
}

enum store_status
store_append(struct store *st, const char *key, size_t klen, const void *val,
             size_t vlen, size_t *newlen, int64_t now_ms)
{
    struct append_arg a = {.val = val, .vlen = vlen};
    enum store_status rc = store_rmw(st, key, klen, now_ms, append_apply, &a);

    if (rc == STORE_OK && newlen != NULL) {
        *newlen = a.newlen;
    }
    return rc;
}

/* ---- memcached's storage and arithmetic -----------------------------------*/

static enum store_status
mc_store_apply(struct store *st, void *arg, const char *key, size_t klen,
               const struct item *old, int64_t now_ms, struct item **out)
{
    const struct store_mc_set *a = arg;
    size_t olen = old != NULL ? old->vlen : 0;
    int64_t expire_ms = a->expire_ms;
    uint64_t mcmeta = a->mcmeta;
    bool carry_won = false;
    char *v;

    switch (a->mode) {
    case STORE_MC_ADD:
        if (old != NULL) {
            return STORE_EEXIST;
        }
        break;
    case STORE_MC_REPLACE:
        if (old == NULL) {
            return STORE_ENOENT;
        }
        break;
    case STORE_MC_APPEND:
    case STORE_MC_PREPEND:
        if (old == NULL) {
            return STORE_ENOENT;
        }
        if (a->cas != 0 && item_version(old) != a->cas) {
            return STORE_EEXIST;
        }
        break;
    case STORE_MC_CAS:
        if (old == NULL) {
            return STORE_ENOENT;
        }
        if (item_version(old) != a->cas) {
            if (!a->stale_ok || a->cas > item_version(old)) {
                return STORE_EEXIST;
            }
            /* an older CAS under meta's I: stored, stale, as memcached */
            expire_ms = item_expire_or0(old);
            mcmeta |= STORE_MC_STALE;
            carry_won = (atomic_load(&old->seen) & ITEM_SEEN_WON) != 0;
        }
        break;
    default:
        break;
    }
    if (a->mode == STORE_MC_APPEND || a->mode == STORE_MC_PREPEND) {
        /* the item keeps its flags and expiry; the request's are ignored */
        size_t max = a->max_vlen != 0 && a->max_vlen < max_value_len(st) ? a->max_vlen
                                                                         : max_value_len(st);

        if (a->max_vlen != 0 && item_mcflags(old) != 0) {
            max = max > 4 ? max - 4 : 0; /* memcached's flags field */
        }

        if (a->vlen > max || olen > max - a->vlen) {
            return STORE_ETOOBIG;
        }
        *out = item_rebuild(st, key, klen, olen + a->vlen, old, now_ms);
        if (*out == NULL) {
            return STORE_ENOMEM;
        }
        /* memcached appends into a new item: not stale, not yet read */
        (*out)->flags &= (uint8_t)~ITEM_F_STALE;
        atomic_store(&(*out)->seen, 0);
        v = item_value_mut(*out);
        memcpy(v + (a->mode == STORE_MC_APPEND ? 0 : a->vlen), item_value(old), olen);
        memcpy(v + (a->mode == STORE_MC_APPEND ? olen : 0), a->val, a->vlen);
        return STORE_OK;
    }
    *out = item_create_mc(key, klen, a->vlen, expire_ms, mcmeta, (uint32_t)now_ms,
                          local_vflags(st), 0);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    if (carry_won) {
        atomic_store(&(*out)->seen, ITEM_SEEN_WON);
    }
    memcpy(item_value_mut(*out), a->val, a->vlen);
    return STORE_OK;
}

enum store_status
store_mc_store(struct store *st, const char *key, size_t klen, const struct store_mc_set *op,
               uint64_t *version, int64_t now_ms)
{
    if (op->vlen > max_value_len(st)) {
        return STORE_ETOOBIG;
    }
    return store_rmw_v(st, key, klen, now_ms, mc_store_apply, (void *)op, version);
}

struct mc_incr_arg {
    const struct store_mc_arith *op;
    uint64_t result;
};

/* The item holding the decimal digits of v, padded with spaces to pad. */
static struct item *
mc_number_item(struct store *st, const char *key, size_t klen, uint64_t v, size_t pad,
               const struct item *old, int64_t expire_ms, int64_t now_ms)
{
    char digits[24];
    size_t n = (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t len = n < pad ? pad : n;
    struct item *it = item_create(st, key, klen, len, expire_ms, old, (uint32_t)now_ms);

    if (it != NULL) {
        memcpy(item_value_mut(it), digits, n);
        memset(item_value_mut(it) + n, ' ', len - n);
    }
    return it;
}

static enum store_status
mc_incr_apply(struct store *st, void *arg, const char *key, size_t klen,
              const struct item *old, int64_t now_ms, struct item **out)
{
    struct mc_incr_arg *a = arg;
    const struct store_mc_arith *op = a->op;
    char buf[256], *end;
    unsigned long long v;

    if (old == NULL) {
        if (!op->vivify) {
            return STORE_ENOENT;
        }
        a->result = op->initial;
        *out = mc_number_item(st, key, klen, op->initial, 0, NULL, op->vivify_expire_ms, now_ms);
        return *out != NULL ? STORE_OK : STORE_ENOMEM;
    }
    if (op->cas != 0 && item_version(old) != op->cas) {
        return STORE_EEXIST; /* memcached checks the CAS first */
    }
    /* memcached's safe_strtoull over the value: strtoull's syntax, then a
     * blank or the end (its data always ends in CRLF) */
    if (old->vlen == 0 || old->vlen >= sizeof buf) {
        return STORE_ENOTNUM;
    }
    memcpy(buf, item_value(old), old->vlen);
    buf[old->vlen] = '\0';
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf ||
        (*end != '\0' && !isspace((unsigned char)*end)) ||
        ((long long)v < 0 && memchr(buf, '-', old->vlen) != NULL)) {
        return STORE_ENOTNUM;
    }
    if (op->incr) {
        v += op->delta; /* wraps at 2^64, as memcached */
    } else {
        v = op->delta > v ? 0 : v - op->delta;
    }
    a->result = v;
    /* memcached rewrites a value in place when the number fits, padding
     * with spaces: a decrement from 10 reads back "9 " */
    *out = mc_number_item(st, key, klen, v, old->vlen, old,
                          op->set_expire ? op->expire_ms : item_expire_or0(old), now_ms);
    return *out != NULL ? STORE_OK : STORE_ENOMEM;
}

enum store_status
store_mc_incr(struct store *st, const char *key, size_t klen, const struct store_mc_arith *op,
              uint64_t *result, uint64_t *version, int64_t now_ms)
{
    struct mc_incr_arg a = { .op = op };
    enum store_status rc = store_rmw_v(st, key, klen, now_ms, mc_incr_apply, &a, version);

    if (rc == STORE_OK && result != NULL) {
        *result = a.result;
    }
    return rc;
}

struct mc_delete_arg {
    bool has_cas, invalidate;
    uint64_t cas;
    int64_t expire_ms;
};

static enum store_status
mc_delete_apply(struct store *st, void *arg, const char *key, size_t klen,
                const struct item *old, int64_t now_ms, struct item **out)
{
    struct mc_delete_arg *a = arg;

    if (old == NULL) {
        return STORE_ENOENT;
    }
    if (a->has_cas && item_version(old) != a->cas) {
        return STORE_EEXIST;
    }
    if (!a->invalidate) {
        *out = RMW_DELETE;
        return STORE_OK;
    }
    /* a new version, stale, with no recache token sent yet */
    *out = item_create_mc(key, klen, old->vlen, a->expire_ms >= 0 ? a->expire_ms : item_expire_or0(old),
                          item_mcflags(old) | STORE_MC_STALE, (uint32_t)now_ms, local_vflags(st), 0);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    memcpy(item_value_mut(*out), item_value(old), old->vlen);
    return STORE_OK;
}

enum store_status
store_mc_delete(struct store *st, const char *key, size_t klen, bool has_cas, uint64_t cas,
                bool invalidate, int64_t expire_ms, int64_t now_ms)
{
    struct mc_delete_arg a = { has_cas, invalidate, cas, expire_ms };

    return store_rmw(st, key, klen, now_ms, mc_delete_apply, &a);
}

struct setrange_arg {
    uint64_t offset;
    const void *val;
    size_t vlen;
    size_t newlen;
};

static enum store_status
setrange_apply(struct store *st, void *arg, const char *key, size_t klen,
               const struct item *old, int64_t now_ms, struct item **out)
{
    struct setrange_arg *a = arg;
    size_t olen = old != NULL ? old->vlen : 0;
    uint64_t max = max_value_len(st);
    size_t end;
    char *v;

    /* as Redis: an empty write neither creates nor grows, and wins over
     * the size check */
    if (a->vlen == 0) {
        a->newlen = olen;
        return STORE_OK;
    }
    if (a->offset > max || a->vlen > max - a->offset) {
        return STORE_ETOOBIG;
    }
    end = (size_t)a->offset + a->vlen;
    a->newlen = end > olen ? end : olen;
    *out = item_rebuild(st, key, klen, a->newlen, old, now_ms);
    if (*out == NULL) {
        return STORE_ENOMEM;
    }
    v = item_value_mut(*out);
    if (olen != 0) {
        memcpy(v, item_value(old), olen);
    }
    if (a->offset > olen) {
        memset(v + olen, 0, (size_t)a->offset - olen);
    }
    memcpy(v + a->offset, a->val, a->vlen);
    return STORE_OK;
}

enum store_status
store_setrange(struct store *st, const char *key, size_t klen, uint64_t offset,
               const void *val, size_t vlen, size_t *newlen, int64_t now_ms)
{
    struct setrange_arg a = {.offset = offset, .val = val, .vlen = vlen};
    enum store_status rc = store_rmw(st, key, klen, now_ms, setrange_apply, &a);

    if (rc == STORE_OK && newlen != NULL) {
        *newlen = a.newlen;
    }
    return rc;
}

/* ---- expiry -------------------------------------------------------------- */

enum store_status
store_expire(struct store *st, const char *key, size_t klen, int64_t when_ms,
             int flags, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    enum store_status rc = STORE_OK;
    struct item **slot;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot == NULL) {
        rc = STORE_ENOENT;
    } else {
        int64_t cur = item_expire_ms(*slot); /* -1: none, an infinite TTL */

        /* Redis 7.0 expireGenericCommand: conditions before the past check */
        if (((flags & STORE_EXP_NX) && cur != -1) ||
            ((flags & STORE_EXP_XX) && cur == -1) ||
            ((flags & STORE_EXP_GT) && (cur == -1 || when_ms <= cur)) ||
            ((flags & STORE_EXP_LT) && cur != -1 && when_ms >= cur)) {
            rc = STORE_ENOTSET;
        } else if (when_ms <= now_ms) {
            do_remove(st, sh, slot, h, now_ms);
        } else {
            struct item *n = item_copy_expire(st, *slot, when_ms, now_ms);

            if (n == NULL) {
                rc = STORE_ENOMEM;
            } else {
                do_link(st, sh, slot, n, h);
            }
        }
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return rc;
}

enum store_status
store_persist(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    enum store_status rc = STORE_OK;
    struct item **slot;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot == NULL) {
        rc = STORE_ENOENT;
    } else if (!item_has_expire(*slot)) {
        rc = STORE_ENOTSET;
    } else {
        struct item *n = item_copy_expire(st, *slot, 0, now_ms);

        if (n == NULL) {
            rc = STORE_ENOMEM;
        } else {
            do_link(st, sh, slot, n, h);
        }
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return rc;
}

int64_t
store_expire_time(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    int64_t t = -2;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot != NULL) {
        t = item_expire_ms(*slot);
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return t;
}

uint64_t
store_active_expire(struct store *st, unsigned first, unsigned step,
                    uint64_t budget_us, int64_t now_ms)
{
    uint64_t start = mono_us();
    uint64_t deleted = 0;
    bool out_of_time = false;

    if (step == 0) {
        step = 1;
    }
    for (uint64_t i = first; i < st->nshards && !out_of_time; i += step) {
        struct shard *sh = &st->shards[i];

        shard_lock(sh);
        while (sh->volatile_keys + sh->tombs > 0) { /* tombstones expire too */
            unsigned sampled = 0, expired = 0;

            /* A bounded walk from the cursor: sparse TTLs cost at most
             * EXPIRE_WALK buckets a round, never a whole-table scan. */
            for (unsigned w = 0; w < EXPIRE_WALK && sampled < EXPIRE_SAMPLE; w++) {
                struct item **slot = &sh->buckets[sh->expire_cursor & sh->mask];

                sh->expire_cursor = (sh->expire_cursor + 1) & sh->mask;
                while (*slot != NULL) {
                    struct item *it = *slot;

                    if (!item_has_expire(it)) {
                        slot = &it->next;
                        continue;
                    }
                    sampled++;
                    if (item_expire_ms(it) <= now_ms) {
                        bool key = !item_is_tomb(it); /* a tombstone is no key */

                        do_unlink(st, sh, slot);
                        sh->expired += key;
                        deleted += key;
                        expired++;
                    } else {
                        slot = &it->next;
                    }
                }
            }
            /* one clock read per round of up to EXPIRE_WALK buckets */
            if (mono_us() - start >= budget_us) {
                out_of_time = true;
                break;
            }
            if (expired * 4 <= sampled) {
                break; /* a quarter or less had expired: not worth another */
            }
        }
        do_resize(st, sh, now_ms);
        shard_unlock(sh);
    }
    return deleted;
}

/* ---- versions (cluster replication) ---------------------------------------
 * Every local write's item is built with a version field (ITEM_F_STAMP:
 * zero, or a floor) before the lock is taken, and do_link stamps it with
 * clock(ctx, v_old) once the entry it replaces, tombstone included, is known
 * under the lock. Local removals go through do_remove, which links a
 * tombstone; expiry and eviction call do_unlink and leave none. A tombstone
 * counts in sh->tombs, never in keys or volatile_keys, and lookups (do_find,
 * do_find_warm) read it as absent; do_link replaces it when a writer passes
 * no slot. With versions off none of this runs: item_create adds no field,
 * do_remove is do_unlink, and do_link's extra work is one branch on a
 * tombstone count that stays 0 unless store_apply linked one. */

void
store_set_versions(struct store *st, store_clock_fn *clock, void *ctx,
                   uint64_t tombstone_grace_ms)
{
    atomic_store(&st->tomb_grace_ms,
                 tombstone_grace_ms > INT64_MAX / 2 ? INT64_MAX / 2
                                                    : (int64_t)tombstone_grace_ms);
    if (clock != NULL) {
        atomic_store(&st->clock_ctx, ctx);
    }
    atomic_store_explicit(&st->clock, clock, memory_order_release);
}

struct item *
store_peek_entry(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    struct item *it = NULL;

    shard_lock(sh);
    slot = do_find_warm_entry(st, sh, h, key, klen, now_ms);
    if (slot != NULL) {
        it = *slot;
        item_pin(it);
    } else {
        do_resize(st, sh, now_ms); /* a lazy expiry may have emptied the shard */
    }
    shard_unlock(sh);
    return it;
}

void
store_touch_item(struct item *it, int64_t now_ms)
{
    item_touch(it, now_ms);
}

enum store_status
store_apply(struct store *st, const char *key, size_t klen, const void *val,
            size_t vlen, int64_t expire_ms, bool tomb, uint64_t version,
            int64_t now_ms, uint64_t *cur, uint64_t *prev)
{
    return store_apply_if(st, key, klen, val, vlen, expire_ms, 0, tomb, version, STORE_IF_NEWER,
                          0, now_ms, cur, prev);
}

enum store_status
store_apply_if(struct store *st, const char *key, size_t klen, const void *val, size_t vlen,
               int64_t expire_ms, uint64_t mcmeta, bool tomb, uint64_t version, enum store_guard guard,
               uint64_t base, int64_t now_ms, uint64_t *cur, uint64_t *prev)
{
    enum store_status rc = STORE_OK;
    struct item **slot;
    struct item *nit;
    struct shard *sh;
    uint64_t h, have;

    if (version <= atomic_load_explicit(&st->floor, memory_order_relaxed)) {
        return STORE_ENOTSET; /* written before a flush */
    }
    if (!tomb && expire_ms > 0 && expire_ms <= now_ms) {
        tomb = true; /* expired on arrival: what is left is its delete */
    }
    if (tomb) {
        vlen = 0;
    }
    if (klen > UINT32_MAX || vlen > max_value_len(st)) {
        return STORE_ETOOBIG;
    }
    if (tomb) {
        nit = item_create_v(key, klen, 0, tomb_expire(st, now_ms), NULL,
                            (uint32_t)now_ms, ITEM_F_VERSION | ITEM_F_TOMB, version);
    } else {
        nit = item_create_mc(key, klen, vlen, expire_ms > 0 ? expire_ms : 0, mcmeta,
                             (uint32_t)now_ms, ITEM_F_VERSION, version);
    }
    if (nit == NULL) {
        return STORE_ENOMEM;
    }
    if (vlen != 0) {
        memcpy(item_value_mut(nit), val, vlen);
    }
    if (make_room(st, item_usize(nit), now_ms) != STORE_OK) {
        free(nit);
        return STORE_ENOMEM;
    }

    h = key_hash(st, key, klen);
    sh = shard_of(st, h);
    shard_lock(sh);
    slot = do_find_warm_entry(st, sh, h, key, klen, now_ms); /* cold versions count */
    have = slot != NULL ? item_version(*slot) : 0;
    if (prev != NULL) {
        *prev = have;
    }
    if (guard == STORE_IF_FOLLOWS && have > base && have != version) {
        rc = STORE_ECONFLICT;
    } else if (guard == STORE_IF_REPLACES ? have != base || version == have : version <= have) {
        rc = STORE_ENOTSET;
    } else {
        do_link(st, sh, slot, nit, h);
        nit = NULL;
        have = version;
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    free(nit); /* never linked, never shared */
    if (cur != NULL) {
        *cur = have;
    }
    return rc;
}

/* ---- keyspace ------------------------------------------------------------ */

enum store_status
store_rename(struct store *st, const char *src, size_t slen, const char *dst,
             size_t dlen, bool nx, int64_t now_ms)
{
    uint64_t hs = key_hash(st, src, slen), hd = key_hash(st, dst, dlen);
    struct shard *ss = shard_of(st, hs), *sd = shard_of(st, hd);
    enum store_status rc = STORE_OK;
    struct item **sslot;
    uint64_t dfloor = 0;

    /* ascending shard order, as every multi-key call */
    shard_lock(ss < sd ? ss : sd);
    if (ss != sd) {
        shard_lock(ss < sd ? sd : ss);
    }
    if (versions_on(st) && st->tier != NULL) {
        /* dst's version, cold copy included, is the floor of the moved
         * item's; read it first: reading src may evict dst again */
        struct item **d = do_find_warm_entry(st, sd, hd, dst, dlen, now_ms);

        dfloor = d != NULL ? item_version(*d) : 0;
    }
    sslot = do_find_warm(st, ss, hs, src, slen, now_ms); /* disk tier hook: _warm */
    if (sslot == NULL) {
        rc = STORE_ENOENT;
    } else if (slen == dlen && memcmp(src, dst, slen) == 0) {
        rc = nx ? STORE_EEXIST : STORE_OK;
    } else if (nx && (do_find(st, sd, hd, dst, dlen, now_ms) != NULL ||
                      /* disk tier hook; no read: sslot must stay valid */
                      (st->tier != NULL && tier_has(st->tier, hd, now_ms, false) != 0))) {
        rc = STORE_EEXIST;
    } else {
        const struct item *old = *sslot;
        /* keeps the expiry and, like Redis's moved object, the LRU clock */
        struct item *n = item_create_v(dst, dlen, old->vlen, item_expire_or0(old),
                                       old, item_atime(old), local_vflags(st), dfloor);

        if (n == NULL) {
            rc = STORE_ENOMEM;
        } else {
            memcpy(item_value_mut(n), item_value(old), old->vlen);
            do_remove(st, ss, sslot, hs, now_ms);
            /* find dst only now: unlinking src can free the item whose
             * next field was dst's slot (a tombstone replacing src keeps
             * the chain, but without versions src just goes) */
            do_link(st, sd, do_find(st, sd, hd, dst, dlen, now_ms), n, hd);
        }
    }
    do_resize(st, ss, now_ms);
    if (ss != sd) {
        do_resize(st, sd, now_ms);
        shard_unlock(ss < sd ? sd : ss);
    }
    shard_unlock(ss < sd ? ss : sd);
    return rc;
}

uint64_t
store_dbsize(struct store *st)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < st->nshards; i++) {
        shard_lock(&st->shards[i]);
        n += st->shards[i].keys;
        shard_unlock(&st->shards[i]);
    }
    if (st->tier != NULL) {
        n += tier_cold_keys(st->tier); /* disk tier hook */
    }
    return n;
}

uint64_t
store_volatile_count(struct store *st)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < st->nshards; i++) {
        shard_lock(&st->shards[i]);
        n += st->shards[i].volatile_keys;
        shard_unlock(&st->shards[i]);
    }
    return n;
}

/* One shard at a time: writers to other shards may run meanwhile, so this is
 * not an atomic snapshot of the keyspace (Redis's FLUSHALL is). */
void
store_flush(struct store *st, uint64_t floor)
{
    if (atomic_load_explicit(&st->clock, memory_order_acquire) != NULL) {
        uint64_t f = atomic_load(&st->floor);

        while (f < floor && !atomic_compare_exchange_weak(&st->floor, &f, floor)) {
        }
    }
    atomic_fetch_add_explicit(&st->flushes, 1, memory_order_relaxed);
    for (unsigned i = 0; i < st->nshards; i++) {
        struct shard *sh = &st->shards[i];

        shard_lock(sh);
        for (uint64_t b = 0; b <= sh->mask; b++) {
            while (sh->buckets[b] != NULL) {
                do_unlink(st, sh, &sh->buckets[b]);
            }
        }
        do_resize(st, sh, 0); /* only shrinks: the shard is empty */
        shard_unlock(sh);
    }
    if (st->tier != NULL) {
        tier_flush_all(st->tier); /* disk tier hook */
    }
}

/* Redis's dictScan: increment the reversed bucket cursor, so the order
 * survives the table doubling or halving between calls (a bucket's keys
 * only move to buckets that share its low bits). */
static uint64_t
cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

/* The memory part of SCAN (all of it without a tier). With a tier, a key
 * with a clean twin in a block below twin_before was reported by the disk
 * walk and is skipped (see store_scan). */
static uint64_t
scan_memory(struct store *st, uint64_t cursor, size_t count, store_key_fn fn,
            void *ctx, int64_t now_ms, uint64_t twin_before)
{
    uint64_t si = cursor & (st->nshards - 1);
    uint64_t v = cursor >> st->shard_bits;
    size_t limit = count ? count : 1;
    size_t hard = limit > SIZE_MAX / 10 ? SIZE_MAX : limit * 10;
    size_t visited = 0, emitted = 0;
    bool done = false;

    /* Stop after `count` buckets, or keep going (up to 10x) until a key was
     * found, so a sparse table does not return many empty pages. */
#define SCAN_ENOUGH (visited >= limit && (emitted > 0 || visited >= hard))
    while (si < st->nshards && !done) {
        struct shard *sh = &st->shards[si];

        shard_lock(sh);
        if (sh->keys == 0) {
            v = 0; /* nothing in it that could be present for the whole scan */
        } else {
            uint64_t mask = sh->mask;

            do {
                struct item **slot = &sh->buckets[v & mask];

                while (*slot != NULL) {
                    struct item *it = *slot;

                    if (item_expired(it, now_ms)) {
                        sh->expired += !item_is_tomb(it);
                        do_unlink(st, sh, slot);
                        continue;
                    }
                    if (item_is_tomb(it)) {
                        slot = &it->next; /* invisible to SCAN and KEYS */
                        continue;
                    }
                    if (st->tier == NULL ||
                        !tier_twin(st->tier, key_hash(st, item_key(it), it->klen),
                                   twin_before)) {
                        fn(ctx, it); /* disk tier hook: twins come from disk */
                        emitted++;
                    }
                    slot = &it->next;
                }
                visited++;
                v = cursor_next(v, mask);
            } while (v != 0 && !SCAN_ENOUGH);
            do_resize(st, sh, now_ms);
        }
        shard_unlock(sh);
        if (v != 0) {
            return si | (v << st->shard_bits); /* shard + shards * v */
        }
        si++;
        done = SCAN_ENOUGH;
    }
#undef SCAN_ENOUGH
    return si >= st->nshards ? 0 : si;
}

/* ---- SCAN with the disk tier (disk tier hook) ------------------------------
 * A walk has three parts, and the cursor says which (its top bits; all of
 * it stays below 2^56, as the cluster keeps the member in the low 8 bits):
 *
 *   D  SCAN_DISK | pos            blocks on disk, oldest first (tier_scan)
 *   M  SCAN_MEM | e1 << 32 | mc   memory (scan_memory's cursor mc), with
 *                                 e1 = the low 22 bits of where D ended
 *   C  SCAN_DISK | SCAN_MEM | pos blocks written since D ended, then the
 *                                 write queue
 *
 * Who reports a key, when nothing moves: a key only on disk, or in memory
 * with a clean twin on disk (the tier's "also in memory" bit) that D read,
 * is reported by D; a key only in memory by M; a key waiting in the write
 * queue by C (or by D/C once written). So KEYS lists every key exactly
 * once. M leaves to the disk walk only twins in blocks D read (below where
 * D ended): a twin still queued, or written since, is met only by C, after
 * M, when the key may have changed and lost it; M reports such a key, and
 * C may again (a key read back from the write queue just before a KEYS can
 * be listed twice).
 *
 * Why D before M: every way a key enters the disk appends (an eviction is
 * written at the head, reclaim and compaction rewrite into the head), and
 * D and C read in append order, so a key that goes to disk at any time
 * during the walk is met by D or C. A key leaving the disk for memory is
 * the case a disk-after-memory order would lose (promoted and changed
 * after its bucket was walked, before its block was read); here, if it
 * leaves before D reads its block, it is in memory for M; if after, D
 * already reported it. A key read back without a change keeps its entry
 * (a clean twin), which D reports either way, and an unchanged key evicted
 * again keeps that same entry: M skips only twins D read, so a twin is
 * never lost by being evicted between D and M. Every single move of a key during the
 * walk is covered, and keys may be reported twice (moved forward by
 * reclaim, evicted after M reported them). Not covered: a key that moves
 * twice, evicted during M before its bucket and then changed in memory
 * after it, before C; and positions wrap if more than 2^22 blocks (64 GiB
 * at 16 KiB) are written during M, or if memory needs more than 32 bits of
 * cursor (4 G buckets). Each call reads about 1 + count/64 blocks. */
#define SCAN_DISK (1ull << 55)
#define SCAN_MEM (1ull << 54)
#define SCAN_POS_MASK (SCAN_MEM - 1)
#define SCAN_E1_SHIFT 32
#define SCAN_E1_MASK ((1ull << 22) - 1)
#define SCAN_MC_MASK ((1ull << SCAN_E1_SHIFT) - 1)

struct cold_report {
    store_key_fn fn;
    void *ctx;
};

/* A cold key as a temporary item: key and expiry, no value (vlen 0). */
static void
report_cold(void *arg, const char *key, uint32_t klen, int64_t expire_ms)
{
    struct cold_report *cr = arg;
    _Alignas(max_align_t) char small[sizeof(struct item) + 8 + 256];
    size_t need = sizeof(struct item) + 8 + klen;
    struct item *it = need <= sizeof small ? (struct item *)small : malloc(need);

    if (it == NULL) {
        return;
    }
    memset(it, 0, sizeof *it);
    it->klen = klen;
    it->refs = 1;
    if (expire_ms > 0) {
        it->flags = ITEM_F_EXPIRE;
        memcpy(it->data, &expire_ms, sizeof expire_ms);
    }
    memcpy(it->data + item_opt_size(it->flags), key, klen);
    cr->fn(cr->ctx, it);
    if (it != (struct item *)small) {
        free(it);
    }
}

uint64_t
store_scan(struct store *st, uint64_t cursor, size_t count, store_key_fn fn,
           void *ctx, int64_t now_ms)
{
    struct cold_report cr = {fn, ctx};
    size_t blocks = 1 + (count ? count : 1) / 64;
    uint64_t phase = cursor & (SCAN_DISK | SCAN_MEM);
    uint64_t pos, e1, mc, end;

    if (st->tier == NULL) {
        return scan_memory(st, cursor, count, fn, ctx, now_ms, 0);
    }
    if (cursor == 0 || phase == SCAN_DISK) {
        pos = cursor & SCAN_POS_MASK;
        if (!tier_scan(st->tier, &pos, blocks, false, report_cold, &cr, now_ms)) {
            return SCAN_DISK | (pos & SCAN_POS_MASK);
        }
        return SCAN_MEM | ((pos & SCAN_E1_MASK) << SCAN_E1_SHIFT); /* M from 0 */
    }
    if (phase == (SCAN_DISK | SCAN_MEM)) {
        pos = cursor & SCAN_POS_MASK;
    } else {
        /* M (or a cursor this store never returned: walked as M) */
        /* where D ended: the latest position with those low bits */
        e1 = (cursor >> SCAN_E1_SHIFT) & SCAN_E1_MASK;
        end = tier_scan_end(st->tier);
        pos = ((end - e1) & SCAN_E1_MASK) <= end ? end - ((end - e1) & SCAN_E1_MASK) : 0;
        mc = scan_memory(st, cursor & SCAN_MC_MASK, count, fn, ctx, now_ms, pos);
        if (mc != 0) {
            return SCAN_MEM | (e1 << SCAN_E1_SHIFT) | (mc & SCAN_MC_MASK);
        }
        /* C starts where D ended (pos) */
    }
    if (!tier_scan(st->tier, &pos, blocks, true, report_cold, &cr, now_ms)) {
        return SCAN_DISK | SCAN_MEM | (pos & SCAN_POS_MASK);
    }
    return 0;
}

/* ---- the slot index --------------------------------------------------------
 * With slots on, a slot's keys all sit in one shard (shard_of), so a slot
 * is listed by walking that shard alone: 1/shards of the keyspace (64 slots
 * share a shard with 256 shards), never all of it, and with no per-key
 * cost in memory. The cursor is the shard walk's (scan_memory's v), so
 * it survives a resize between calls as SCAN's does. */
uint64_t
store_slot_scan(struct store *st, unsigned slot, uint64_t cursor, size_t count, bool tombs,
                store_key_fn fn, void *ctx, int64_t now_ms)
{
    struct shard *sh;
    uint64_t v = cursor;
    size_t visited = 0;

    if (st->slot_of == NULL) {
        return 0;
    }
    sh = shard_of(st, (uint64_t)slot << KEY_HASH_SLOT_SHIFT);
    shard_lock(sh);
    do {
        struct item **it = &sh->buckets[v & sh->mask];

        while (*it != NULL) {
            if (item_expired(*it, now_ms)) {
                sh->expired += !item_is_tomb(*it);
                do_unlink(st, sh, it);
                continue;
            }
            if (st->slot_of(item_key(*it), (*it)->klen) == slot &&
                (tombs || !item_is_tomb(*it))) {
                fn(ctx, *it);
            }
            it = &(*it)->next;
        }
        v = cursor_next(v, sh->mask);
    } while (v != 0 && ++visited < (count ? count : 1));
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return v;
}

uint64_t
store_flushes(struct store *st)
{
    return atomic_load_explicit(&st->flushes, memory_order_relaxed);
}

uint64_t
store_slot_count(struct store *st, unsigned slot, int64_t now_ms)
{
    struct shard *sh;
    uint64_t n = 0;

    if (st->slot_of == NULL) {
        return 0;
    }
    sh = shard_of(st, (uint64_t)slot << KEY_HASH_SLOT_SHIFT);
    shard_lock(sh);
    for (uint64_t b = 0; b <= sh->mask; b++) {
        for (struct item *it = sh->buckets[b]; it != NULL; it = it->next) {
            n += !item_is_tomb(it) && !item_expired(it, now_ms) &&
                 st->slot_of(item_key(it), it->klen) == slot;
        }
    }
    shard_unlock(sh);
    if (st->tier != NULL) {
        n += tier_slot_count(st->tier, slot, now_ms); /* disk tier hook */
    }
    return n;
}

/* Keys (tombstones are not) in the chain at b. */
static uint64_t
do_chain_keys(struct shard *sh, uint64_t b)
{
    uint64_t n = 0;

    for (struct item *it = sh->buckets[b]; it != NULL; it = it->next) {
        n += !item_is_tomb(it);
    }
    return n;
}

/* A random bucket holding keys, and a random key in its chain; the shard
 * has keys. */
static struct item **
do_random_slot(struct shard *sh)
{
    struct item **slot = NULL;
    uint64_t len = 0, pick;

    for (unsigned probes = 0; probes < 64 && len == 0; probes++) {
        uint64_t b = rng_next() & sh->mask;

        if (sh->buckets[b] != NULL && (len = do_chain_keys(sh, b)) > 0) {
            slot = &sh->buckets[b];
        }
    }
    if (len == 0) {
        uint64_t start = rng_next();

        for (uint64_t i = 0; i <= sh->mask; i++) {
            uint64_t b = (start + i) & sh->mask;

            if (sh->buckets[b] != NULL && (len = do_chain_keys(sh, b)) > 0) {
                slot = &sh->buckets[b];
                break;
            }
        }
    }
    pick = rng_next() % len;
    for (;;) {
        if (!item_is_tomb(*slot) && pick-- == 0) {
            return slot;
        }
        slot = &(*slot)->next;
    }
}

bool
store_random_key(struct store *st, store_key_fn fn, void *ctx, int64_t now_ms)
{
    /* Each failed round deletes an expired key, so this ends. */
    for (;;) {
        unsigned start = (unsigned)rng_next();
        struct shard *sh = NULL;
        struct item **slot;

        for (unsigned k = 0; k < st->nshards; k++) {
            struct shard *c = &st->shards[(start + k) & (st->nshards - 1)];

            shard_lock(c);
            if (c->keys > 0) {
                sh = c;
                break;
            }
            shard_unlock(c);
        }
        if (sh == NULL) {
            /* disk tier hook: memory is empty; any cold key will do */
            struct cold_report cr = {fn, ctx};

            return st->tier != NULL &&
                   tier_random_key(st->tier, report_cold, &cr, now_ms);
        }
        slot = do_random_slot(sh);
        if (item_expired(*slot, now_ms)) {
            do_unlink(st, sh, slot);
            sh->expired++;
            do_resize(st, sh, now_ms);
            shard_unlock(sh);
            continue;
        }
        fn(ctx, *slot);
        shard_unlock(sh);
        return true;
    }
}

int64_t
store_memory_usage(struct store *st, const char *key, size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(st, key, klen);
    struct shard *sh = shard_of(st, h);
    struct item **slot;
    int64_t bytes = -1;

    shard_lock(sh);
    slot = do_find_warm(st, sh, h, key, klen, now_ms); /* disk tier hook: _warm */
    if (slot != NULL) {
        bytes = (int64_t)(item_usize(*slot) + sh->index_bytes / sh->keys);
    }
    do_resize(st, sh, now_ms);
    shard_unlock(sh);
    return bytes;
}

void
store_stats(struct store *st, struct store_stats *out)
{
    memset(out, 0, sizeof *out);
    out->index_bytes = st->fixed_bytes;
    for (unsigned i = 0; i < st->nshards; i++) {
        struct shard *sh = &st->shards[i];

        shard_lock(sh);
        out->keys += sh->keys;
        out->volatile_keys += sh->volatile_keys;
        out->tombstones += sh->tombs;
        out->item_bytes += sh->item_bytes;
        out->index_bytes += sh->index_bytes;
        out->payload_bytes += sh->payload_bytes;
        out->evicted_keys += sh->evicted;
        out->expired_keys += sh->expired;
        shard_unlock(sh);
    }
    if (st->tier != NULL) {
        /* disk tier hook: its index is dataset RAM; keys it had to drop
         * (reclaim, disk errors) are evictions */
        struct tier_stats ts;

        tier_stats(st->tier, &ts);
        out->index_bytes += ts.ram_bytes;
        out->evicted_keys += ts.evicted;
    }
    out->used_bytes = out->item_bytes + out->index_bytes;
    out->maxmemory = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);
}

void
store_reset_stats(struct store *st)
{
    for (unsigned i = 0; i < st->nshards; i++) {
        shard_lock(&st->shards[i]);
        st->shards[i].evicted = 0;
        st->shards[i].expired = 0;
        shard_unlock(&st->shards[i]);
    }
}
