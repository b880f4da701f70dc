/*
 * cluster/version.c — the hybrid logical clock; see version.h.
 */
#include "cluster/version.h"

#include <ctype.h>

void
hlc_init(struct hlc *h, const char *member_id)
{
    unsigned tag = 0;

    /* The first three hex digits: ids are random, so are their prefixes. */
    for (int i = 0; i < 3 && member_id[i] != '\0'; i++) {
        int c = tolower((unsigned char)member_id[i]);
        tag = (tag << 4) | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    atomic_init(&h->last, 0);
    h->tag = (uint16_t)(tag & ((1u << VERSION_TAG_BITS) - 1));
}

uint64_t
hlc_next(struct hlc *h, uint64_t floor, int64_t now_ms)
{
    int64_t ms = now_ms - VERSION_EPOCH_MS;
    uint64_t phys = ms > 0 ? (uint64_t)ms << VERSION_LOGICAL_BITS : 0;
    uint64_t last = atomic_load_explicit(&h->last, memory_order_relaxed);
    uint64_t t;

    do {
        t = phys;
        if (last + 1 > t) {
            t = last + 1;
        }
        if ((floor >> VERSION_TAG_BITS) + 1 > t) {
            t = (floor >> VERSION_TAG_BITS) + 1;
        }
    } while (!atomic_compare_exchange_weak_explicit(&h->last, &last, t, memory_order_relaxed,
                                                    memory_order_relaxed));
    return ((t << VERSION_TAG_BITS) | h->tag) & VERSION_MAX;
}

uint64_t
version_through_ms(int64_t ms)
{
    int64_t rel = ms - VERSION_EPOCH_MS;

    if (rel < 0) {
        return 0;
    }
    return ((((uint64_t)rel + 1) << (VERSION_LOGICAL_BITS + VERSION_TAG_BITS)) - 1) & VERSION_MAX;
}

uint64_t
hlc_flush_floor(struct hlc *h, int64_t now_ms)
{
    uint64_t v = hlc_next(h, version_through_ms(now_ms), now_ms);

    return ((v >> VERSION_TAG_BITS) << VERSION_TAG_BITS) - 1;
}

void
hlc_observe(struct hlc *h, uint64_t seen)
{
    uint64_t t = seen >> VERSION_TAG_BITS;
    uint64_t last = atomic_load_explicit(&h->last, memory_order_relaxed);

    while (last < t && !atomic_compare_exchange_weak_explicit(&h->last, &last, t,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

int64_t
version_ms(uint64_t v)
{
    return (int64_t)(v >> (VERSION_TAG_BITS + VERSION_LOGICAL_BITS)) + VERSION_EPOCH_MS;
}

unsigned
version_tag(uint64_t v)
{
    return (unsigned)(v & ((1u << VERSION_TAG_BITS) - 1));
}

enum version_rel
version_compare(uint64_t cur, uint64_t incoming, uint64_t parent)
{
    if (incoming == cur) {
        return VERSION_SAME;
    }
    if (incoming < cur) {
        return VERSION_OLDER;
    }
    /* cur is neither what the coordinator replaced nor older than it */
    return cur > parent ? VERSION_CONCURRENT : VERSION_NEWER;
}
