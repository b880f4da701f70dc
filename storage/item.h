/*
 * storage/item.h — one cached entry: key, value and metadata in a single
 * allocation.
 *
 * Layout: the fixed header below, then the optional fields the flags name,
 * in this order (absolute expiry, memcached client flags), then key bytes,
 * then value bytes. Optional fields cost nothing when absent, so a key
 * without a TTL is 8 bytes smaller; the cluster's version and the disk
 * tier's state will be further optional fields in the same way.
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

enum item_type {
    ITEM_STRING = 0,
};

enum {
    ITEM_F_EXPIRE = 1 << 0,  /* int64 expire_ms present */
    ITEM_F_MCFLAGS = 1 << 1, /* uint32 memcached client flags present */
    ITEM_F_LINKED = 1 << 2,  /* in the hash table (owned by it) */
};

struct item {
    struct item *next;      /* hash chain */
    uint32_t klen;
    uint32_t vlen;
    uint32_t atime;         /* LRU clock: low 32 bits of ms, compared mod 2^32 */
    _Atomic uint16_t refs;  /* pins, plus one while linked */
    uint8_t flags;          /* ITEM_F_* */
    uint8_t type;           /* enum item_type */
    char data[];            /* [expire_ms][mcflags] key value */
};

static inline size_t
item_opt_size(uint8_t flags)
{
    return ((flags & ITEM_F_EXPIRE) ? 8 : 0) + ((flags & ITEM_F_MCFLAGS) ? 4 : 0);
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
    memcpy(&t, it->data, sizeof t);
    return t;
}

/* Drop a pin taken by a store lookup; frees the item when it was the last
 * reference. Sets *it = NULL. Safe from any thread. */
void item_release(struct item **it);

#endif
