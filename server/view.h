/*
 * server/view.h — the cluster view workers route by: the members, their
 * health, and every slot's preference list, published by the main thread
 * (cluster.c) as one immutable object behind an atomic pointer.
 *
 * A command loads the current view once and uses it for its whole run
 * without a lock; a retired view stays readable for VIEW_GRACE_MS after it
 * is replaced, and for as long as anyone holds a pin (view_pin), so
 * asynchronous work (a replicated write waiting for acks, a long SCAN) pins
 * the view it started with and releases it when done.
 */
#ifndef SERVER_VIEW_H
#define SERVER_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/membership.h"
#include "cluster/ring.h"
#include "cluster/slots.h"

struct view_member {
    char id[MBR_ID_LEN + 1];
    char addr[MBR_ADDR_MAX];
    uint16_t port, bus_port;
    enum mbr_state state;
    uint64_t incarnation;
};

struct view {
    size_t n;
    struct view_member *m;  /* sorted by id */
    int self;
    size_t ring_members;    /* members on the ring (not left) */
    uint64_t epoch;         /* increases with every view published */
    /* Each slot's preference list, members' indexes in m, nearest first:
     * the first N replicate the slot, the rest are stand-in candidates. */
    uint8_t npref[CLUSTER_SLOTS];
    uint16_t pref[CLUSTER_SLOTS][RING_MAX_REPLICAS];
    _Atomic int pins;
    struct view *retired_next;
    int64_t retired_ms;
};

struct view *view_get(void);
/* Keep v readable past its grace until view_release. Owner: any thread. */
struct view *view_pin(struct view *v);
void view_release(struct view **v);

/* Up: on the ring and not known dead (a suspect still counts, so a short
 * stall costs no failover; a dead link fails over at once anyway). */
static inline bool
view_up(const struct view *v, int i)
{
    return i >= 0 && v->m[i].state != MBR_DEAD && v->m[i].state != MBR_LEFT;
}

static inline size_t
view_count(const struct view *v, enum mbr_state st)
{
    size_t n = 0;

    for (size_t i = 0; i < v->n; i++) {
        n += v->m[i].state == st;
    }
    return n;
}

/* The member owning the slot with N = 1 (the first of its list), or -1. */
static inline int
view_owner(const struct view *v, uint16_t slot)
{
    return v->npref[slot] ? v->pref[slot][0] : -1;
}

#endif
