/*
 * cluster/coord.h — the replica coordinator: for one key, which members a
 * write goes to, which replicas a read asks, when the quorum (W of N, R of
 * N) is reached, when to give up, where hints and repairs go.
 *
 * Sans-IO: no sockets, clocks or threads. The caller describes the key's
 * members (its preference list, then the members after it on the ring, each
 * with whether the view says it is up), starts a coordination, and feeds it
 * each member's answer (or failure) and the deadline; every call returns the
 * actions to carry out. The same code runs under the server's loops and under
 * the simulator in tests/unit/test_coord.c.
 *
 * Members are named by their index in the array given to coord_init; the
 * coordinator itself is one of the first n (it applied a write, or read its
 * own copy, before starting: it is the first ack).
 *
 * Write (Dynamo's sloppy quorum):
 *  - each other replica that is up is sent the write (COORD_PUT);
 *  - a replica that is down, or whose send fails (a broken link fails at
 *    once), is covered by the next up member past the first n that covers
 *    nobody yet: a stand-in, sent the write with a hint naming the replica
 *    (COORD_HINT); it counts toward W like a replica;
 *  - with no stand-in left, the coordinator keeps the hint itself
 *    (COORD_KEEP_HINT). That does not count toward W: a write held by one
 *    machine is not on W machines;
 *  - COORD_DONE comes once: ok as soon as W acks (self included) are in, or
 *    not ok when that can no longer happen or the deadline passes. Answers
 *    after DONE still count (coord_acks, for WAIT); at the deadline every
 *    member that has not answered gets a kept hint, so the write reaches it
 *    later whether or not the first copy arrived (replays are idempotent).
 *
 * Read (also the read a read-modify-write does before applying):
 *  - R - 1 other replicas that are up are asked for their version (the
 *    value only if newer than the coordinator's, which the caller's message
 *    carries: a digest read); one that fails is replaced by the next up
 *    replica not asked yet. Never more than R - 1 are outstanding;
 *  - DONE ok when R answers (self included) are in, naming the member with
 *    the newest version (best; the coordinator's own index when its copy is
 *    newest), then one COORD_REPAIR per answering member (self included)
 *    that holds an older version, to be sent the newest off the reply path;
 *  - DONE not ok when no replica is left to ask, or at the deadline.
 */
#ifndef CLUSTER_COORD_H
#define CLUSTER_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COORD_MAX 16 /* members described: replicas and stand-in candidates */
/* Most actions one call returns; size the caller's array with it. */
#define COORD_MAX_ACTS (2 * COORD_MAX + 1)

enum coord_kind { COORD_WRITE, COORD_READ };

enum coord_act_kind {
    COORD_PUT,       /* send the write to member `to`, a replica */
    COORD_HINT,      /* send the write to stand-in `to`, hinted for `owner` */
    COORD_KEEP_HINT, /* keep a hint for `owner` here */
    COORD_GET,       /* ask replica `to` for its version (value if newer) */
    COORD_REPAIR,    /* send the newest version to `to` (may be self) */
    COORD_DONE,      /* the outcome: ok, with acks answers in; best (reads) */
};

struct coord_act {
    enum coord_act_kind kind;
    uint8_t to, owner, best;
    bool ok;
    uint8_t acks;
};

struct coord_member {
    bool up; /* the view's opinion: not dead */
};

struct coord {
    enum coord_kind kind;
    uint8_t n, need, self, nm;
    uint8_t acks;
    bool done, expired;
    uint8_t best;
    uint64_t best_version;
    struct {
        bool up;
        uint8_t state;   /* idle, sent, answered, failed */
        uint8_t owner;   /* whose copy this member holds: itself, or the
                          * replica it stands in for */
        bool covered;    /* a replica whose copy went elsewhere (hint) */
        uint64_t version;
    } m[COORD_MAX];
};

/* m[0..nm): the preference list (the first n are the replicas), then stand-in
 * candidates in ring order; nm <= COORD_MAX, self < n, 1 <= need <= n.
 * self_version: the version of the coordinator's own copy (reads; 0 when it
 * has none). */
void coord_init(struct coord *co, enum coord_kind kind, const struct coord_member *m,
                size_t nm, size_t self, size_t n, size_t need, uint64_t self_version);

/* A read whose coordinator's own copy may lack acknowledged writes (its
 * memory was emptied by a restart and is being refilled): the copy still
 * competes for newest and is repaired, but R answers must come from other
 * replicas. Call before coord_start. */
void coord_self_uncounted(struct coord *co);

/* Each returns how many actions it wrote to out (room for COORD_MAX_ACTS). */
size_t coord_start(struct coord *co, struct coord_act *out);
/* Member `from` answered (ok, holding `version`), or its send failed (!ok).
 * Answers from members not asked, or a second answer, are ignored. */
size_t coord_on_reply(struct coord *co, size_t from, bool ok, uint64_t version,
                      struct coord_act *out);
/* Member `from` refused the write: it holds a write this one never saw (a
 * read-modify-write that raced another coordinator's). It does not count,
 * and gets no hint: a hint would deliver the write it refused. */
size_t coord_on_refusal(struct coord *co, size_t from, struct coord_act *out);
/* The answers are slow (a paused member is not yet known dead): a read asks
 * one more replica not asked yet, if any is up (a speculative retry, as
 * Cassandra's), and still finishes at R answers. Writes already went to
 * every replica; nothing changes for them. */
size_t coord_on_slow(struct coord *co, struct coord_act *out);
/* The deadline passed. */
size_t coord_on_timeout(struct coord *co, struct coord_act *out);

/* Answers in so far, self included (WAIT counts them after DONE). */
unsigned coord_acks(const struct coord *co);
/* Member i holds the write or read answered (self included). */
bool coord_acked(const struct coord *co, size_t i);
/* True when no answer is outstanding: the caller may free it. */
bool coord_finished(const struct coord *co);

#endif
