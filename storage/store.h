/*
 * storage/store.h — the in-memory keyspace: items in a sharded hash table,
 * memory accounting, eviction under maxmemory, lazy and active expiry.
 *
 * Knows nothing of sockets, the protocol or the cluster. Every operation that
 * reads and changes a key is atomic under that key's shard lock, so commands
 * such as INCR, APPEND or SET ... GET need no lock of their own. Multi-key
 * operations lock the shards they touch in ascending order.
 *
 * Thread safety: every function may be called from any thread at once,
 * except create/destroy.
 *
 * Time: every call that can see expiry takes `now_ms` (Unix time in
 * milliseconds) from the caller, so one command sees one instant and tests
 * can drive the clock.
 */
#ifndef STORAGE_STORE_H
#define STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/item.h"

enum store_status {
    STORE_OK = 0,
    STORE_ENOENT = -1,     /* no such key (or an XX condition failed) */
    STORE_EEXIST = -2,     /* the key exists (an NX condition failed) */
    STORE_ENOTNUM = -3,    /* value is not an integer or out of range */
    STORE_EOVERFLOW = -4,  /* increment or decrement would overflow */
    STORE_ENOTFLOAT = -5,  /* value is not a valid float */
    STORE_ENANINF = -6,    /* increment would produce NaN or Infinity */
    STORE_ENOMEM = -7,     /* over maxmemory and nothing could be evicted */
    STORE_ETOOBIG = -8,    /* the string would exceed max_value_len */
    STORE_ENOTSET = -9,    /* a condition (GT/LT/NX/XX) held the change back */
    STORE_ECONFLICT = -10, /* a replica holds a write the incoming one never saw */
};

const char *store_strerror(enum store_status st);

enum store_policy {
    STORE_ALLKEYS_LRU = 0,
    STORE_VOLATILE_LRU,
    STORE_ALLKEYS_RANDOM,
    STORE_VOLATILE_RANDOM,
    STORE_VOLATILE_TTL,
    STORE_NOEVICTION,
};

/* Redis's names ("allkeys-lru", ...). Returns -1 for an unknown name. */
int store_policy_parse(const char *name);
const char *store_policy_name(enum store_policy p);

struct tier; /* storage/tier.h: the disk tier */

struct store_config {
    unsigned shards;          /* power of two; 0 means 256 */
    uint64_t maxmemory;       /* bytes of dataset; 0 = no limit */
    enum store_policy policy;
    unsigned samples;         /* maxmemory-samples; 0 means 5 */
    uint64_t max_value_len;   /* proto-max-bulk-len; 0 means 512 MiB */
    /* Disk tier (storage/tier.h), or NULL: evicted items go to it instead
     * of away, and misses ask it. Borrowed: the caller destroys it after
     * the store. Cold keys count in store_dbsize and their index in
     * used_bytes, and store_scan and store_random_key visit them too. */
    struct tier *tier;
    /* The key's cluster slot, or NULL (no cluster): with it, the slot
     * index (store_slot_scan, store_slot_count) works. The tier must be
     * given the same (tier_config.slot_of). */
    key_slot_fn slot_of;
};

struct store; /* opaque */

struct store *store_create(const struct store_config *cfg);
void store_destroy(struct store **st); /* sets *st = NULL */

void store_set_maxmemory(struct store *st, uint64_t bytes);
void store_set_policy(struct store *st, enum store_policy p);
void store_set_samples(struct store *st, unsigned samples);
void store_set_max_value_len(struct store *st, uint64_t bytes);

/* ---- reads ---------------------------------------------------------------
 * A lookup returns NULL or an item pinned for the caller, who must release
 * it with item_release(); its bytes stay valid even if the key is
 * overwritten, deleted or evicted meanwhile. An expired key is deleted on
 * access (lazy expiry) and reads as absent. A successful lookup refreshes the
 * key's LRU clock. */
struct item *store_get(struct store *st, const char *key, size_t klen,
                       int64_t now_ms);
/* As store_get, but leaves the LRU clock alone (TYPE, TTL, OBJECT...). */
struct item *store_peek(struct store *st, const char *key, size_t klen,
                        int64_t now_ms);
bool store_exists(struct store *st, const char *key, size_t klen,
                  int64_t now_ms);
/* Exists, and refreshes the LRU clock (TOUCH). */
bool store_touch(struct store *st, const char *key, size_t klen,
                 int64_t now_ms);

/* ---- writes -------------------------------------------------------------- */

enum {
    STORE_SET_NX = 1 << 0,      /* only if absent */
    STORE_SET_XX = 1 << 1,      /* only if present */
    STORE_SET_KEEPTTL = 1 << 2, /* keep the old expiry */
    STORE_SET_GET = 1 << 3,     /* return the old item in *old */
};

/* SET with Redis's options. expire_ms: absolute Unix ms, or 0 for none
 * (with KEEPTTL the old expiry wins). An expire_ms <= now_ms deletes the key
 * and counts as success. With STORE_SET_GET, *old receives the pinned old
 * item (NULL if there was none) whether or not the set happened.
 * Returns STORE_OK; STORE_EEXIST (NX failed) or STORE_ENOENT (XX failed),
 * nothing written; STORE_ENOMEM; STORE_ETOOBIG if klen or vlen does not fit
 * 32 bits (item lengths are uint32_t). */
enum store_status store_set(struct store *st, const char *key, size_t klen,
                            const void *val, size_t vlen, int flags,
                            int64_t expire_ms, int64_t now_ms,
                            struct item **old);

/* Set several keys at once, atomically with respect to other store calls
 * (every shard involved is locked). With nx, nothing is written if any key
 * exists (STORE_EEXIST). Later duplicates of a key win, as in MSET. */
enum store_status store_mset(struct store *st, size_t n,
                             const char *const *keys, const size_t *klens,
                             const void *const *vals, const size_t *vlens,
                             bool nx, int64_t now_ms);

/* Returns true if the key existed (and is now gone). */
bool store_del(struct store *st, const char *key, size_t klen, int64_t now_ms);

/* Remove the key and return it pinned (GETDEL); NULL if absent. */
struct item *store_getdel(struct store *st, const char *key, size_t klen,
                          int64_t now_ms);

/* GETEX: return the pinned item and, when flags say so, change its expiry:
 * STORE_EXPIRE_PERSIST removes it, otherwise expire_ms > 0 sets it
 * (expire_ms <= now_ms deletes the key after reading it). */
#define STORE_EXPIRE_PERSIST (-1)
struct item *store_getex(struct store *st, const char *key, size_t klen,
                         int64_t expire_ms, int64_t now_ms);

/* INCRBY/DECRBY on a decimal string value (absent counts as 0). The stored
 * value stays a string, "%lld"-formatted. */
enum store_status store_incr(struct store *st, const char *key, size_t klen,
                             int64_t delta, int64_t *result, int64_t now_ms);

/* INCRBYFLOAT: result written to out (at least STORE_FLOAT_STR_MAX bytes,
 * NUL-terminated; *outlen excludes the NUL) formatted as Redis does
 * ("%.17Lf", trailing zeros and a trailing '.' trimmed, "-0" as "0"). */
#define STORE_FLOAT_STR_MAX 5120 /* Redis's MAX_LONG_DOUBLE_CHARS */
enum store_status store_incr_float(struct store *st, const char *key,
                                   size_t klen, long double delta, char *out,
                                   size_t *outlen, int64_t now_ms);

/* APPEND; *newlen is the length after. */
enum store_status store_append(struct store *st, const char *key, size_t klen,
                               const void *val, size_t vlen, size_t *newlen,
                               int64_t now_ms);

/* SETRANGE: zero-pads up to offset. With vlen == 0 nothing is created or
 * grown; *newlen is the current length (0 when absent). STORE_ETOOBIG when
 * offset + vlen exceeds max_value_len. */
enum store_status store_setrange(struct store *st, const char *key,
                                 size_t klen, uint64_t offset, const void *val,
                                 size_t vlen, size_t *newlen, int64_t now_ms);

/* memcached's storage commands (text and meta), under the key's shard
 * lock. SET, ADD, REPLACE and CAS write val with the client flags (0: the
 * item carries no flags field) and expiry (absolute ms, 0 = none; a past
 * one is stored and reads as expired, as in memcached); APPEND and PREPEND
 * keep the item's flags and expiry, and refuse (STORE_ETOOBIG) a value
 * that would grow past max_vlen. CAS compares `cas` with the item's
 * version; APPEND and PREPEND compare a nonzero one. With stale_ok (meta's
 * I), a CAS older than the item's still stores, the new item marked stale
 * and keeping the old one's expiry. Returns STORE_OK (stored; *version,
 * when given, is the new item's), STORE_EEXIST (ADD: present; a CAS that
 * differs), STORE_ENOENT (REPLACE, APPEND, PREPEND, CAS: absent),
 * STORE_ENOMEM, STORE_ETOOBIG. */
enum store_mc_mode {
    STORE_MC_SET, STORE_MC_ADD, STORE_MC_REPLACE, STORE_MC_APPEND, STORE_MC_PREPEND, STORE_MC_CAS,
};
struct store_mc_set {
    enum store_mc_mode mode;
    const void *val;
    size_t vlen;
    uint64_t mcmeta;      /* client flags (| STORE_MC_STALE: stored stale) */
    int64_t expire_ms;
    uint64_t cas;
    bool stale_ok;
    size_t max_vlen;      /* APPEND, PREPEND: 0 = the store's own bound; else
                           * for an item without client flags, 4 less with */
};
enum store_status store_mc_store(struct store *st, const char *key, size_t klen,
                                 const struct store_mc_set *op, uint64_t *version, int64_t now_ms);

/* memcached's incr/decr (and meta's ma): a decimal value as strtoull reads
 * it, 64-bit unsigned, wrapping up and stopping at 0 down; a shorter result
 * is padded with spaces to the old length, as memcached's in-place rewrite
 * leaves it. Flags stay; the expiry too, unless set_expire. A nonzero cas
 * must equal the item's version (else STORE_EEXIST). An absent key is
 * STORE_ENOENT, or with vivify is created holding `initial` (not counted
 * from) expiring at vivify_expire_ms. STORE_ENOTNUM, STORE_ENOMEM. */
struct store_mc_arith {
    bool incr;
    uint64_t delta;
    uint64_t cas;
    bool set_expire;
    int64_t expire_ms;
    bool vivify;
    uint64_t initial;
    int64_t vivify_expire_ms;
};
enum store_status store_mc_incr(struct store *st, const char *key, size_t klen,
                                const struct store_mc_arith *op, uint64_t *result,
                                uint64_t *version, int64_t now_ms);

/* meta's md: delete the key, or with invalidate mark it stale (a new
 * version, the same value, the expiry set when expire_ms >= 0). With
 * has_cas, cas must equal the item's version (else STORE_EEXIST). STORE_ENOENT
 * when absent. */
enum store_status store_mc_delete(struct store *st, const char *key, size_t klen, bool has_cas,
                                  uint64_t cas, bool invalidate, int64_t expire_ms, int64_t now_ms);

/* ---- expiry ---------------------------------------------------------------*/

enum {
    STORE_EXP_NX = 1 << 0, /* only when the key has no expiry */
    STORE_EXP_XX = 1 << 1, /* only when it has one */
    STORE_EXP_GT = 1 << 2, /* only when later than the current one (none = infinite) */
    STORE_EXP_LT = 1 << 3, /* only when earlier (none = infinite) */
};

/* EXPIRE family with an absolute time. when_ms <= now_ms deletes the key.
 * Returns STORE_OK (set or deleted), STORE_ENOENT (no key), STORE_ENOTSET
 * (a condition held it back). */
enum store_status store_expire(struct store *st, const char *key, size_t klen,
                               int64_t when_ms, int flags, int64_t now_ms);

/* PERSIST: STORE_OK if an expiry was removed, STORE_ENOENT if no key,
 * STORE_ENOTSET if it had none. */
enum store_status store_persist(struct store *st, const char *key, size_t klen,
                                int64_t now_ms);

/* Absolute expiry in ms; -1 if the key has none, -2 if it does not exist. */
int64_t store_expire_time(struct store *st, const char *key, size_t klen,
                          int64_t now_ms);

/* ---- versions (cluster replication) --------------------------------------
 * Off until store_set_versions gives a clock. When on, every item a local
 * write links (SET family, MSET, MSETNX, INCR family, APPEND, SETRANGE,
 * GETEX/EXPIRE/PERSIST changes, RENAME's destination, a disk-tier promotion
 * keeps the version it had) carries version = clock(ctx, v_old) where v_old is
 * the version of the entry it replaces (0 when none); every key a local
 * write removes (DEL/UNLINK via store_del, GETDEL, RENAME's source, SET or
 * EXPIRE with a time already past) leaves a tombstone with version
 * clock(ctx, v_old) that expires tombstone_grace_ms later and is then
 * dropped like an expired key. Expiry by time and eviction leave no
 * tombstone (replicas expire alike by absolute time). Tombstones are invisible to
 * every read, EXISTS, TTL, DBSIZE, SCAN, KEYS, RANDOMKEY and the keys /
 * volatile_keys counts, count in used memory (eviction may drop them), and
 * are never written to the disk tier (evicting one just drops it). A local
 * write that finds a tombstone treats the key as absent but takes the
 * tombstone's version as v_old. Turning versions off (clock NULL) leaves
 * existing versions and tombstones in place.
 *
 * With a disk tier and versions on, SET, MSET, DEL and RENAME's destination
 * read a cold key's copy (as SET NX does) to learn its version. */
typedef uint64_t store_clock_fn(void *ctx, uint64_t floor); /* returns a version > floor; may be called under a shard lock, from any thread */
/* ctx is borrowed until versions are turned off and no call is running.
 * tombstone_grace_ms is kept even when clock is NULL: store_apply's
 * tombstones use it too (0, the value before any call, makes them expire
 * 1 ms after now_ms). */
void store_set_versions(struct store *st, store_clock_fn *clock, void *ctx, uint64_t tombstone_grace_ms);

/* The key's current entry, tombstone included, pinned for the caller (NULL
 * when absent or expired); reads a cold key from the disk tier (promoting it,
 * as store_get does). Leaves the LRU clock alone. */
struct item *store_peek_entry(struct store *st, const char *key, size_t klen, int64_t now_ms);

/* Start loading the memory lookups of these keys will touch (their hash
 * buckets and first items), so a batch of lookups overlaps its cache
 * misses instead of taking them one after another. At most
 * STORE_PREFETCH_MAX keys are looked at. */
#define STORE_PREFETCH_MAX 64
struct store_key {
    const char *p;
    size_t len;
};
void store_prefetch_keys(struct store *st, size_t n, const struct store_key *keys);

/* A read of a pinned item (store_peek_entry's) counts as a use for
 * eviction, as store_get's does. */
void store_touch_item(struct item *it, int64_t now_ms);

/* Install a replica's copy if `version` is greater than the current
 * entry's version (absent = 0): a value (tomb false; expire_ms absolute Unix
 * ms, 0 = none) or a tombstone (tomb true; val ignored; it expires
 * tombstone_grace_ms after now_ms). A value whose expire_ms <= now_ms is
 * installed as a tombstone. Works whether or not versions are on. The new item has no memcached flags
 * (store_apply_if takes them).
 * Returns STORE_OK when installed, STORE_ENOTSET when the current entry's
 * version is >= version (nothing changes), STORE_ENOMEM, STORE_ETOOBIG.
 * *cur and *prev (either may be NULL) receive the key's version after and
 * before the call. */
enum store_status store_apply(struct store *st, const char *key, size_t klen,
                              const void *val, size_t vlen, int64_t expire_ms,
                              bool tomb, uint64_t version, int64_t now_ms, uint64_t *cur,
                              uint64_t *prev);

/* store_apply under a condition on the version held (have), checked and
 * applied under the shard's lock:
 *   STORE_IF_NEWER    version > have (store_apply);
 *   STORE_IF_FOLLOWS  a read-modify-write made over version `base`: as
 *                     NEWER, but STORE_ECONFLICT when have is neither base
 *                     nor older than it nor version itself (a write made
 *                     without seeing have, which a later repair would let
 *                     one of the two silently overwrite);
 *   STORE_IF_REPLACES have == base, whatever the order: a coordinator
 *                     withdrawing its write `base` that lost a conflict,
 *                     putting back the winner's copy. Else STORE_ENOTSET. */
enum store_guard { STORE_IF_NEWER, STORE_IF_FOLLOWS, STORE_IF_REPLACES };
enum store_status store_apply_if(struct store *st, const char *key, size_t klen,
                                 const void *val, size_t vlen, int64_t expire_ms,
                                 uint64_t mcmeta, bool tomb,
                                 uint64_t version, enum store_guard guard, uint64_t base,
                                 int64_t now_ms, uint64_t *cur, uint64_t *prev);

/* ---- keyspace ------------------------------------------------------------ */

/* RENAME/RENAMENX: moves value and expiry. src == dst is allowed (a no-op
 * that still needs src to exist; with nx it returns STORE_EEXIST).
 * STORE_ENOENT if src is absent, STORE_EEXIST if nx and dst exists. */
enum store_status store_rename(struct store *st, const char *src, size_t slen,
                               const char *dst, size_t dlen, bool nx,
                               int64_t now_ms);

uint64_t store_dbsize(struct store *st);
/* Number of keys with an expiry. */
uint64_t store_volatile_count(struct store *st);
/* With versions on, every version up to `floor` is flushed too:
 * store_apply_if refuses them afterwards (STORE_ENOTSET), so a replica's
 * copy written before the flush and still on its way cannot bring a key
 * back. The caller's clock must already be past the floor (hlc_flush_floor). */
void store_flush(struct store *st, uint64_t floor);
/* How many store_flush calls there have been: a copy fetched before one
 * (a slot move's page) must not be installed after it. */
uint64_t store_flushes(struct store *st);

/* Called with each key under its shard lock: copy what you need, do not call
 * back into the store. Expired keys are skipped (and not reported).
 * With a disk tier, a cold key comes as a temporary item holding its key and
 * expiry but no value (vlen 0), valid only during the call and with no lock
 * held. */
typedef void (*store_key_fn)(void *ctx, const struct item *it);

/* SCAN: visit about `count` buckets' worth of keys starting at cursor and
 * return the next cursor (0 when done). Every key present for the whole
 * iteration is visited at least once, even if the table grows or shrinks
 * between calls; a key may be visited twice. A full iteration with nothing
 * changing meanwhile visits every key exactly once (KEYS).
 * With a disk tier the walk reads the cold keys' blocks too (about
 * 1 + count/64 blocks a call; cursors stay below 2^56): the order and what
 * it guarantees when keys move between memory and disk are explained at
 * store_scan in store.c. */
uint64_t store_scan(struct store *st, uint64_t cursor, size_t count,
                    store_key_fn fn, void *ctx, int64_t now_ms);

/* The slot index (store_config.slot_of set; otherwise both do nothing).
 * store_slot_scan visits the slot's keys in memory (tombstones too when
 * tombs) in about `count` buckets of its shard per call, starting at cursor,
 * and returns the next cursor (0 when done), with SCAN's guarantees; cold
 * keys are not visited (tier_slot_scan). store_slot_count counts the
 * slot's live keys, cold ones included. Both walk the slot's shard (a
 * shards-th of the keyspace), not all of it. */
uint64_t store_slot_scan(struct store *st, unsigned slot, uint64_t cursor, size_t count, bool tombs,
                         store_key_fn fn, void *ctx, int64_t now_ms);
uint64_t store_slot_count(struct store *st, unsigned slot, int64_t now_ms);

/* Visit one random live key; false if the store is empty. With a disk
 * tier, a cold key is chosen only when memory holds no key. */
bool store_random_key(struct store *st, store_key_fn fn, void *ctx,
                      int64_t now_ms);

/* Bytes the key costs (item allocation plus its share of the index), or -1. */
int64_t store_memory_usage(struct store *st, const char *key, size_t klen,
                           int64_t now_ms);

/* ---- background work ----------------------------------------------------- */

/* One active-expiry pass over shards first, first+step, first+2*step, ...:
 * each samples keys with an expiry, deletes the expired ones and repeats
 * while more than a quarter of a sample had expired, stopping after
 * budget_us microseconds. Returns the number of keys deleted. */
uint64_t store_active_expire(struct store *st, unsigned first, unsigned step,
                             uint64_t budget_us, int64_t now_ms);

/* True when the dataset is over maxmemory (cheap: one atomic load).
 * With noeviction, Redis refuses every write that may add memory from then
 * on, whatever its size; the server asks this before such commands. */
bool store_over_maxmemory(struct store *st);

/* Evict until the dataset fits maxmemory (after a lowered limit). Bounded
 * by max_keys per call, so a caller can spread the work over ticks. Returns
 * the number evicted. */
uint64_t store_evict_some(struct store *st, uint64_t max_keys, int64_t now_ms);

struct store_stats {
    uint64_t keys;          /* live keys (may include not-yet-reaped expired) */
    uint64_t volatile_keys; /* keys with an expiry */
    uint64_t tombstones;    /* tombstones held in memory (not in keys) */
    uint64_t used_bytes;    /* items plus index: what maxmemory bounds */
    uint64_t item_bytes;    /* allocations of items alone */
    uint64_t index_bytes;   /* bucket arrays and shard structures */
    uint64_t payload_bytes; /* sum of key and value lengths */
    uint64_t evicted_keys;
    uint64_t expired_keys;  /* lazily or actively */
    uint64_t maxmemory;
};
void store_stats(struct store *st, struct store_stats *out);

/* Disk tier: hand every key in memory to the tier and wait until it is on
 * disk (SHUTDOWN, SIGTERM), so a restart serves them all. The keys stay in
 * memory. No-op without a tier. Call with no other store calls running. */
void store_spill(struct store *st);
/* The tier attached at create, or NULL (for INFO). */
struct tier *store_tier(struct store *st);
/* Disk tier: true when reading the key would wait for the device: not in
 * memory nor in the write queue, and its block not in the page cache (see
 * tier_cold). Never blocks on I/O. */
bool store_cold(struct store *st, const char *key, size_t klen, int64_t now_ms);
/* Disk tier: bring the block holding the key's cold copy into the page
 * cache, without any store lock (reader threads). See tier_prefetch. */
void store_prefetch(struct store *st, const char *key, size_t klen);
void store_reset_stats(struct store *st); /* evicted and expired counters */

#endif
