/*
 * storage/item.h — one cached entry: key, value and metadata in a single
 * allocation.
 *
 * Layout: the fixed header below, then the optional fields the flags name,
 * in this order (the cluster's version, absolute expiry, memcached client
 * flags), then key bytes, then value bytes. Optional fields cost nothing
 * when absent, so a key without a TTL is 8 bytes smaller, and single-node
 * mode (no versions) pays nothing for the version field.
 *
 * A tombstone (ITEM_F_TOMB) is a versioned delete: key, version and expiry
 * (the end of its grace), no value. Only the store sees one; every read
 * treats it as absent.
 *
 * Items are immutable once linked into the table: a write builds a new item
 * and swaps it in, so a pinned item never changes under its reader.
 */
#ifndef STORAGE_ITEM_H
#define STORAGE_ITEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

enum item_type {
    ITEM_STRING = 0,
};

enum {
    ITEM_F_EXPIRE = 1 << 0,  /* int64 expire_ms present */
    ITEM_F_MCFLAGS = 1 << 1, /* uint32 memcached client flags present */
    ITEM_F_LINKED = 1 << 2,  /* in the hash table (owned by it) */
    ITEM_F_VERSION = 1 << 3, /* uint64 version present: the first optional field */
    ITEM_F_TOMB = 1 << 4,    /* a tombstone: a versioned delete, no value, invisible to reads */
    /* Store-internal, never set on a linked item: the version field holds a
     * floor, and linking stamps the real version above it. */
    ITEM_F_STAMP = 1 << 5,
    /* memcached's stale item: invalidated by `md <key> I` (or stored over
     * by `ms ... I` with an older CAS); the next `mg` may win its recache */
    ITEM_F_STALE = 1 << 6,
};

/* What reads did to a linked item (struct item's `seen`, set atomically
 * after linking, never copied to a replacement): memcached's "fetched"
 * (the `h` flag) and "a recache token went out" (`W`, then `Z`). */
enum {
    ITEM_SEEN_FETCHED = 1 << 0,
    ITEM_SEEN_WON = 1 << 1,
};

struct item {
    struct item *next;      /* hash chain */
    uint32_t klen;
    uint32_t vlen;
    uint32_t atime;         /* LRU clock: low 32 bits of ms, compared mod 2^32 */
    _Atomic uint16_t refs;  /* pins, plus one while linked */
    uint8_t flags;          /* ITEM_F_* */
    _Atomic uint8_t seen;   /* ITEM_SEEN_*; the only type is a string */
    char data[];            /* [version][expire_ms][mcflags] key value */
};

static inline size_t
item_opt_size(uint8_t flags)
{
    return ((flags & ITEM_F_VERSION) ? 8 : 0) + ((flags & ITEM_F_EXPIRE) ? 8 : 0) +
           ((flags & ITEM_F_MCFLAGS) ? 4 : 0);
}

/* The item's version, 0 when it has none. */
static inline uint64_t
item_version(const struct item *it)
{
    uint64_t v;

    if (!(it->flags & ITEM_F_VERSION)) {
        return 0;
    }
    memcpy(&v, it->data, sizeof v);
    return v;
}

static inline const char *
item_key(const struct item *it)
{
    return it->data + item_opt_size(it->flags);
}

static inline const char *
item_value(const struct item *it)
{
    return item_key(it) + it->klen;
}

/* Absolute expiry in Unix ms, or -1 when the item has none. */
static inline int64_t
item_expire_ms(const struct item *it)
{
    int64_t t;

    if (!(it->flags & ITEM_F_EXPIRE)) {
        return -1;
    }
    memcpy(&t, it->data + ((it->flags & ITEM_F_VERSION) ? 8 : 0), sizeof t);
    return t;
}

/* Memcached client flags, 0 when the item has none. */
static inline uint32_t
item_mcflags(const struct item *it)
{
    uint32_t v = 0;

    if (it->flags & ITEM_F_MCFLAGS) {
        memcpy(&v, it->data + item_opt_size(it->flags & (ITEM_F_VERSION | ITEM_F_EXPIRE)),
               sizeof v);
    }
    return v;
}

/* The LRU clock (with `seen`) is a field written after linking. Readers elsewhere
 * may look at it without the shard lock, so touch it atomically. */
static inline void
item_touch(struct item *it, int64_t now_ms)
{
    __atomic_store_n(&it->atime, (uint32_t)now_ms, __ATOMIC_RELAXED);
}

static inline uint32_t
item_atime(const struct item *it)
{
    return __atomic_load_n(&it->atime, __ATOMIC_RELAXED);
}

/* The client flags with the stale mark above them (STORE_MC_STALE): the
 * memcached state a copy of the item carries to a replica. */
#define STORE_MC_STALE (1ull << 32)
static inline uint64_t
item_mcmeta(const struct item *it)
{
    return item_mcflags(it) | ((it->flags & ITEM_F_STALE) ? STORE_MC_STALE : 0);
}

/* Drop a pin taken by a store lookup; frees the item when it was the last
 * reference. Sets *it = NULL. Safe from any thread. */
void item_release(struct item **it);

/* The hash the store and the disk tier file a key under: XXH3, and with
 * slot_of given (a cluster) the key's slot (14 bits) in place of bits 2..15.
 * The store then picks a key's shard by its slot, so a slot's keys can be
 * listed from one shard (the slot index, store_slot_scan), and the disk
 * tier's fingerprint, which keeps bits 2..63, still tells a cold key's
 * slot. The other 50 bits are XXH3's: a fingerprint is still 62 bits of
 * which key it is, since the slot is a function of the key. */
typedef uint16_t (*key_slot_fn)(const char *key, size_t klen);
#define KEY_HASH_SLOT_SHIFT 2
#define KEY_HASH_SLOT_BITS 14
#define KEY_HASH_SLOT_MASK (((1ull << KEY_HASH_SLOT_BITS) - 1) << KEY_HASH_SLOT_SHIFT)

static inline uint64_t
key_hash_of(const char *key, size_t klen, key_slot_fn slot_of)
{
    uint64_t h = XXH3_64bits(key, klen);

    if (slot_of == NULL) {
        return h;
    }
    return (h & ~KEY_HASH_SLOT_MASK) | ((uint64_t)slot_of(key, klen) << KEY_HASH_SLOT_SHIFT);
}

static inline unsigned
key_hash_slot(uint64_t hash)
{
    return (unsigned)((hash & KEY_HASH_SLOT_MASK) >> KEY_HASH_SLOT_SHIFT);
}

#endif
