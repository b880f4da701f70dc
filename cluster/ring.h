/*
 * cluster/ring.h — the consistent-hash ring: which members replicate each
 * of the CLUSTER_SLOTS slots, and in what order (the slot's preference list).
 *
 * Dynamo's strategy 3: the key space is cut into Q = 16384 equal partitions
 * (the slots of cluster/slots.h), spread over members by virtual-node
 * tokens. Every node derives the same table from the membership alone (ids
 * and vnodes): no coordinator, no stored assignment. It does no IO, keeps no
 * clock, knows nothing of member health (a dead member stays on the ring; the
 * caller skips it) and starts no threads.
 *
 * ---- placement, exactly (every node must compute the same) ----------------
 *
 * The ring is the 64-bit unsigned integers, clockwise = increasing, wrapping
 * from 2^64 - 1 to 0. XXH64 is xxHash's 64-bit hash taken as a number (its
 * value does not depend on the machine's byte order).
 *
 *   Tokens.  A member whose id is the 40 lowercase hex characters id[0..40)
 *            owns vnodes tokens:  token(id, i) = XXH64(id, 40, seed = i)
 *            for i = 0 .. vnodes - 1 (the id's ASCII bytes, no terminator).
 *   Probes.  Slot s has RING_PROBES fixed positions on the ring:
 *            probe(s, k) = XXH64({ s >> 8, s & 0xff }, 2, seed = k)
 *            for k = 0 .. RING_PROBES - 1 (the slot as two big-endian bytes).
 *   Distance of member m from slot s: the smallest clockwise distance,
 *            (token - probe) mod 2^64, from any probe of s to any token of m;
 *            a token exactly at a probe is at distance 0.
 *   Preference list of s: the members in increasing distance, ties (two
 *            tokens at one point, or equal distances from two probes) going
 *            to the bytewise smaller id; its first entry is the primary.
 *
 * Put another way: walkers start at each of the slot's probes and step
 * clockwise in lockstep; members join the list in the order the walkers first
 * reach one of their tokens. With RING_PROBES = 1 this is the classic ring
 * walk. Several probes are what makes 128 tokens enough for balance: with one
 * position per slot, a member's share is the sum of the random arcs ending at
 * its tokens (relative spread about 1/sqrt(vnodes), 9% at 128), whatever the
 * token hash; with many probes the nearest token after any probe wins, a
 * contest every token enters alike whatever its arc, so shares follow token
 * counts (multi-probe consistent hashing, Appleton & O'Reilly 2015). See
 * ring.c for figures.
 *
 * Because a member's distance from a slot depends only on its own tokens,
 * adding a member only inserts it into preference lists (pushing the last
 * entry out), removing one only deletes it (the next member in line fills
 * the end), and the table does not depend on the order members were added
 * in.
 *
 * ---- ownership and threads -------------------------------------------------
 *
 * The ring copies ids; handles are the caller's small integers, returned by
 * lookups and never interpreted. Lookups answer from the table made by the
 * last ring_build: adding or removing members changes nothing they return
 * until the next build.
 *
 * Thread safety: none inside. Callers serialize the writers (add, remove,
 * build, destroy) against everything else. Lookups on a built ring
 * (ring_preference, ring_member_slots, ring_member_count, ring_vnodes) are
 * read-only and may run concurrently with each other. To change membership
 * under readers, build a new ring and swap a pointer.
 */
#ifndef CLUSTER_RING_H
#define CLUSTER_RING_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/slots.h"

#define RING_ID_LEN 40          /* hex characters in a member id */
#define RING_MAX_REPLICAS 5     /* longest preference list kept per slot */
#define RING_VNODES_DEFAULT 128 /* tokens per member */
#define RING_VNODES_MAX 4096
#define RING_PROBES 21          /* positions per slot; part of the placement */

enum ring_status {
    RING_OK = 0,
    RING_EINVAL = -1, /* id is not exactly 40 lowercase hex characters */
    RING_EEXIST = -2, /* a member has that id or that handle already */
    RING_ENOENT = -3, /* no member has that id */
    RING_ENOMEM = -4, /* out of memory; the ring is unchanged */
};

const char *ring_strerror(enum ring_status st);

struct ring; /* opaque */

/* An empty ring. vnodes 0 means RING_VNODES_DEFAULT; every node of a cluster
 * must use the same value, as it is part of the placement. Returns NULL when
 * vnodes exceeds RING_VNODES_MAX or memory runs out. */
struct ring *ring_create(unsigned vnodes);
void ring_destroy(struct ring **r); /* sets *r = NULL; NULL is fine */

unsigned ring_vnodes(const struct ring *r);

/* Add a member: id is a NUL-terminated string of RING_ID_LEN lowercase hex
 * characters, copied; handle is any value no other member has. Costs
 * O(vnodes log vnodes + members * vnodes). */
enum ring_status ring_member_add(struct ring *r, const char *id,
                                 uint32_t handle);

/* Remove the member with this id. Costs O(members * vnodes). */
enum ring_status ring_member_remove(struct ring *r, const char *id);

/* Members now, including changes not yet built. */
size_t ring_member_count(const struct ring *r);

/* Recompute every slot's preference list, up to RING_MAX_REPLICAS long, from
 * the current members, so lookups are O(1). Costs O(members * vnodes) plus
 * CLUSTER_SLOTS * RING_PROBES short walks (expected O(1) tokens each): some
 * tens of milliseconds, whether 3 or 1000 members. Cannot fail: the memory
 * it needs was reserved by ring_member_add. */
void ring_build(struct ring *r);

/* Copy the first min(n, RING_MAX_REPLICAS, members at the last build)
 * handles of slot's preference list into out, primary first, all distinct,
 * and return how many. Before any build, or with no members, returns 0.
 * slot must be below CLUSTER_SLOTS. */
size_t ring_preference(const struct ring *r, uint16_t slot, size_t n,
                       uint32_t *out);

/* The slots whose preference list holds handle at an index below n (n = 1:
 * the slots it is primary for; n = 3 with 3 replicas: all it stores), as of
 * the last build. Writes them to out in increasing order and returns how
 * many; out must have room for CLUSTER_SLOTS entries. */
size_t ring_member_slots(const struct ring *r, uint32_t handle, size_t n,
                         uint16_t *out);

#endif /* CLUSTER_RING_H */
