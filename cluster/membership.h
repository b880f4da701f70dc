/*
 * cluster/membership.h — one node's view of the cluster: who the members
 * are, where they listen, and whether they are alive, by SWIM-style gossip
 * and failure detection.
 *
 * Sans-IO: no sockets, clocks, threads or randomness of its own. The caller
 * feeds events (a tick, a decoded message, a join or leave request) with the
 * current time in milliseconds, and gets back a list of actions: messages to
 * send, to a member by id or to a bare address, and events to act on (a
 * member was added, changed state, or was forgotten: rebuild the ring, save
 * nodes.conf). The same code runs under the server's event loop and under
 * the deterministic simulator in tests/unit/test_membership.c.
 *
 * Protocol (SWIM, Das et al. 2002, with the usual extensions):
 *  - Every gossip interval a node probes `fanout` members, taken round-robin
 *    from a shuffled list so every member is probed within a bounded time.
 *    A probe is a PING answered by an ACK. With no ACK after
 *    probe_timeout_ms, the node repeats the PING and asks `indirect_probes`
 *    other members to PINGREQ it on its behalf; with no ACK by any path after
 *    3 * probe_timeout_ms, the target becomes `suspect`.
 *  - A suspect that does not refute within failure_detect_ms becomes `dead`.
 *    A node that hears it is suspected or dead raises its incarnation and
 *    announces itself again; news at a higher incarnation always wins, and
 *    at an equal incarnation alive < suspect < dead < left.
 *  - Every message carries the sender's own record first, then up to
 *    `max_piggyback` recent changes, each sent about retransmit_mult *
 *    ceil(log10(n + 1)) times (infection-style dissemination). A message to
 *    a member we think suspect or dead also carries that record, so the
 *    member hears of it at once and can refute.
 *  - Every sync interval a node exchanges its whole table with one random
 *    member (push-pull), and every sync interval it also tries one random
 *    `dead` member, so a joining node learns everything and a healed
 *    partition merges again.
 *  - `dead` is a temporary failure (Dynamo): the member stays in the table
 *    and on the ring until it has been dead for node_forget_timeout_ms.
 *    `left` is a tombstone: off the ring at once, kept for left_ttl_ms so
 *    old rumours cannot bring the member back, then forgotten.
 *  - A node joins by sending JOIN to a seed's address, before it knows the
 *    seed's id; the seed answers with its whole table. JOIN is retried until
 *    a table arrives.
 *
 * Wire form: a message is an array of byte strings (the bus frames it as a
 * RESP array), first the message name (matched without regard to case, as
 * RESP commands are):
 *
 *   GOSSIP.PING    <seq> <target-id> <record> [<record>...]
 *   GOSSIP.ACK     <seq> <target-id> <record> [<record>...]
 *   GOSSIP.PINGREQ <seq> <target-id> <record> [<record>...]
 *   GOSSIP.JOIN    <record> [<record>...]
 *   GOSSIP.SYNC    <record> [<record>...]
 *   GOSSIP.SYNCACK <record> [<record>...]
 *   GOSSIP.UPDATE  <record> [<record>...]
 *
 * where <record> is seven strings: id ip port bus-port state incarnation
 * age-ms, and the first record is the sender's own. For ACK the target is
 * the member whose liveness is acknowledged (not always the sender: an ACK
 * relayed for a PINGREQ names the probed member). age-ms says how long ago a
 * `dead` or `left` member reached that state, by the sender's clock, so all
 * nodes forget it at about the same time without synchronized clocks.
 * JOIN and SYNC are answered with a SYNCACK carrying the whole table;
 * UPDATE is one-way (a leaving node's goodbye).
 *
 * Thread safety: a struct mbr is driven by one thread at a time (the bus
 * loop); the codec and nodes.conf functions are pure and may be called from
 * any thread.
 */
#ifndef CLUSTER_MEMBERSHIP_H
#define CLUSTER_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/reader.h" /* struct resp_arg: the bus hands us its argv */

enum mbr_status {
    MBR_OK = 0,
    MBR_EPROTO = -1,  /* malformed message, or a bad nodes.conf line */
    MBR_ETOOBIG = -2, /* a bound was exceeded: records, buffer, table */
    MBR_ENOMEM = -3,  /* allocation failed; see mbr_out for what was lost */
    MBR_EINVAL = -4,  /* the caller passed a bad id, address, port or state */
    MBR_ESTATE = -5,  /* not allowed now (e.g. after this node has left) */
};

const char *mbr_strerror(enum mbr_status st);

/* ---- limits ---------------------------------------------------------------
 * Wire bounds, enforced by the decoder whatever the peer says. */
#define MBR_ID_LEN 40       /* lowercase hex, as Redis Cluster node ids */
#define MBR_ADDR_MAX 46     /* INET6_ADDRSTRLEN, NUL included */
#define MBR_MAX_RECORDS 4096 /* records in one message */
/* Incarnations stop here, far below where adding one could wrap: a record
 * above it is malformed, and a rumour at it can no longer be refuted. */
#define MBR_MAX_INCARNATION ((uint64_t)INT64_MAX)
#define MBR_MAX_ARGS (3 + 7 * MBR_MAX_RECORDS)

/* ---- members --------------------------------------------------------------
 * joining, alive and leaving are what a node says of itself (its lifecycle:
 * joining takes writes but is not counted for reads while it fetches its
 * slots; leaving hands its slots over). suspect and dead are what others
 * conclude. left is final. The ring includes every state but left. */
enum mbr_state {
    MBR_JOINING = 0,
    MBR_ALIVE,
    MBR_SUSPECT,
    MBR_DEAD,
    MBR_LEAVING,
    MBR_LEFT,
};
#define MBR_STATE_COUNT 6

/* "joining", "alive", ... as on the wire and in nodes.conf. */
const char *mbr_state_name(enum mbr_state s);
/* -1 for an unknown name. */
int mbr_state_parse(const char *name, size_t len);

struct mbr_member {
    char id[MBR_ID_LEN + 1];
    char addr[MBR_ADDR_MAX]; /* an IPv4 or IPv6 literal */
    uint16_t port;           /* client port */
    uint16_t bus_port;       /* cluster bus port */
    enum mbr_state state;
    uint64_t incarnation;
    int64_t changed_ms;      /* local time the state last changed */
};

/* True for 40 lowercase hex characters (len bytes, no NUL needed). */
bool mbr_id_valid(const char *id, size_t len);

/* ---- messages -------------------------------------------------------------*/
enum mbr_msg_type {
    MBR_MSG_PING = 1,
    MBR_MSG_ACK,
    MBR_MSG_PINGREQ,
    MBR_MSG_JOIN,
    MBR_MSG_SYNC,
    MBR_MSG_SYNCACK,
    MBR_MSG_UPDATE,
};

/* "GOSSIP.PING", ... */
const char *mbr_msg_name(enum mbr_msg_type t);

struct mbr_record {
    char id[MBR_ID_LEN + 1];
    char addr[MBR_ADDR_MAX];
    uint16_t port;
    uint16_t bus_port;
    enum mbr_state state;
    uint64_t incarnation;
    uint64_t age_ms; /* dead, left: ms since then, by the sender's clock */
};

struct mbr_msg {
    enum mbr_msg_type type;
    uint64_t seq;                 /* PING, ACK, PINGREQ */
    char target[MBR_ID_LEN + 1];  /* PING, ACK, PINGREQ */
    size_t nrecords;              /* >= 1; records[0] is the sender */
    struct mbr_record *records;   /* see the owner's comment */
};

/* Room that encoding a message of n records needs. */
#define MBR_ENCODE_ARGC(n) (3 + 7 * (size_t)(n))
#define MBR_ENCODE_BUF(n) (24 + 64 * (size_t)(n))

/* Encode msg as an argument vector. argv[] points into msg (ids, addresses)
 * and into buf (numbers), so it is valid while both are; nothing is
 * allocated. MBR_ETOOBIG if argv_cap or buf_cap is below what
 * MBR_ENCODE_ARGC / MBR_ENCODE_BUF give for msg->nrecords; MBR_EINVAL if msg
 * breaks the rules the decoder enforces (so we never send what we would
 * refuse). */
enum mbr_status mbr_msg_encode(const struct mbr_msg *msg,
                               struct resp_arg *argv, size_t argv_cap,
                               char *buf, size_t buf_cap, size_t *argc);

/* Decode argv[0..argc) into msg, copying into recs[0..cap): whatever the
 * outcome msg->records == recs (so a caller may free msg->records after a
 * failure), on MBR_OK nothing borrows from argv, and on failure
 * msg->nrecords is 0. Never allocates.
 * MBR_EPROTO for anything malformed (unknown name, wrong arity, a bad id,
 * address, port, state or number, a first record that is not a live
 * sender); MBR_ETOOBIG for more than cap or MBR_MAX_RECORDS records. */
enum mbr_status mbr_msg_decode(const struct resp_arg *argv, size_t argc,
                               struct mbr_msg *msg, struct mbr_record *recs,
                               size_t cap);

/* ---- actions --------------------------------------------------------------
 * Every call that can act appends to a caller-owned action list, which the
 * caller drains and clears. */
enum mbr_action_kind {
    MBR_ACT_SEND = 1,
    MBR_ACT_EVENT,
};

enum mbr_event_kind {
    MBR_EV_ADDED = 1,  /* a member became known (any state) */
    MBR_EV_CHANGED,    /* state, incarnation or address changed */
    MBR_EV_REMOVED,    /* forgotten: dead too long, or a left tombstone */
};

struct mbr_send {
    /* The member the message is for, or "" for a bare address (JOIN to a
     * seed). to_addr and to_bus_port are always set. */
    char to_id[MBR_ID_LEN + 1];
    char to_addr[MBR_ADDR_MAX];
    uint16_t to_bus_port;
    struct mbr_msg msg; /* records owned by the action list */
};

struct mbr_event {
    enum mbr_event_kind kind;
    bool myself;                /* about this node (save nodes.conf) */
    struct mbr_member member;   /* as it is now (as it was, for REMOVED) */
    enum mbr_state old_state;   /* CHANGED: before */
    uint64_t old_incarnation;   /* CHANGED: before */
};

struct mbr_action {
    enum mbr_action_kind kind;
    union {
        struct mbr_send send;
        struct mbr_event event;
    };
};

struct mbr_out; /* opaque */

struct mbr_out *mbr_out_create(void);
void mbr_out_destroy(struct mbr_out **out); /* sets *out = NULL */
/* Forget the actions; keeps the memory for the next call. */
void mbr_out_clear(struct mbr_out *out);
size_t mbr_out_count(const struct mbr_out *out);
/* The i-th action in the order they happened, valid until the list is
 * cleared or appended to. */
const struct mbr_action *mbr_out_at(struct mbr_out *out, size_t i);
/* Actions that could not be appended for lack of memory since the last
 * clear. Lost sends are covered by retries and gossip; after a lost event,
 * rebuild from mbr_member_at(). */
size_t mbr_out_lost(const struct mbr_out *out);

/* ---- metrics --------------------------------------------------------------
 * For INFO and /metrics, shaped like the server's tables (name, description).
 * The options are the server's (server/config.h: gossip-interval-ms,
 * failure-detect-ms, node-forget-timeout), passed in struct mbr_config. */
#define MBR_METRICS(X)                                                        \
    X(pings_sent, "direct probes sent")                                       \
    X(pingreqs_sent, "indirect probe requests sent")                          \
    X(acks_received, "ACKs that completed one of our probes")                 \
    X(probes_failed, "probes with no ACK by any path")                        \
    X(suspicions, "members this node marked suspect")                         \
    X(refutations, "times this node raised its incarnation to refute")        \
    X(deaths, "members this node declared dead")                              \
    X(forgotten, "members removed from the table")                            \
    X(syncs_sent, "whole-table exchanges started")                            \
    X(messages_received, "messages accepted by mbr_receive")                  \
    X(messages_rejected, "messages refused by mbr_receive")                   \
    X(records_dropped, "records ignored because the table was full")          \
    X(id_conflicts, "records claiming our id from another address")

struct mbr_metrics {
#define X(name, desc) uint64_t name;
    MBR_METRICS(X)
#undef X
};

/* Zero fields take the default, which match server/config.h's directives
 * where it has one (gossip-interval-ms, failure-detect-ms,
 * node-forget-timeout); the rest have no directive yet. Defaults and why:
 *  gossip_interval_ms 100: a probe round 10 times a second finds a crash in
 *    a 10-node cluster within a round or two, for 3 small messages a round.
 *  probe_timeout_ms 200: far above a LAN round trip, but an event loop
 *    busy for tens of ms must not look dead; a probe fails after 600 ms.
 *  failure_detect_ms 1000: how long a suspect has to refute. A refutation
 *    needs the rumour to reach the suspect and the news to come back, which
 *    the simulator measures at a few hundred ms even at 20% loss (300 ms
 *    let a live node die once in 10 minutes there; 500 ms never did, in
 *    11 runs at 20-25% loss). 1000 ms is twice that, and a crash is seen dead by everyone
 *    in about 1.7 s;
 *    requests meet a dead replica only until then, and quorums cover it.
 *    Raise it for clusters of hundreds of nodes or lossier networks.
 *  node_forget_timeout_ms 4 h: dead is a temporary failure; forgetting a
 *    member moves its slots (rebalancing), so wait out reboots and
 *    maintenance, and longer than the usual 3 h hint window.
 *  fanout 3, indirect_probes 3: SWIM's k = 3; with fanout 3 every member
 *    is probed by about 3 others a round, so a rumour reaches a suspect
 *    (and its refutation comes back) quickly.
 *  max_piggyback 8, retransmit_mult 4: memberlist's figures for the lambda
 *    of SWIM's lambda * log(n) retransmissions.
 *  sync_interval_ms 1000: a push-pull and a dead-member retry a second
 *    (scaled up past 32 members), which bounds join and heal times.
 *  join_retry_ms 500, left_ttl_ms 60000, max_members 1024.
 * fanout and indirect_probes are capped at 16, max_piggyback at 64. */
struct mbr_config {
    uint32_t gossip_interval_ms;
    uint32_t probe_timeout_ms;
    uint32_t failure_detect_ms;
    uint64_t node_forget_timeout_ms;
    unsigned fanout;
    unsigned indirect_probes;
    unsigned max_piggyback;
    unsigned retransmit_mult;
    uint32_t sync_interval_ms;
    uint32_t join_retry_ms;
    uint64_t left_ttl_ms;
    unsigned max_members;       /* at most MBR_MAX_RECORDS */
    /* Randomness: random(random_ctx) when set, else a PRNG seeded with seed
     * (give each node its own seed). */
    uint64_t (*random)(void *ctx);
    void *random_ctx;
    uint64_t seed;
};

/* ---- the state machine ----------------------------------------------------*/
struct mbr; /* opaque */

/* self: this node's id, address, ports, incarnation (from nodes.conf + 1
 * after a restart, or 0) and state (joining or alive). cfg may be NULL.
 * NULL on a bad self, a bad cfg, or no memory. */
struct mbr *mbr_create(const struct mbr_config *cfg,
                       const struct mbr_member *self, int64_t now_ms);
void mbr_destroy(struct mbr **m); /* sets *m = NULL */

/* Periodic work; call at least every gossip interval (mbr_next_tick_ms
 * says when). Probes, probe timeouts, suspect -> dead, forgetting, pushes
 * and join retries. */
enum mbr_status mbr_tick(struct mbr *m, int64_t now_ms, struct mbr_out *out);
int64_t mbr_next_tick_ms(const struct mbr *m); /* INT64_MAX after leaving */

/* A decoded message. from_id is the id the bus knows for the connection,
 * or NULL when it knows none; when given it must be the sender's.
 * MBR_EPROTO if the message breaks the rules (the caller may close the
 * link); nothing changed then. A message that claims our own id is ignored
 * and counted (id_conflicts). msg is only read during the call. */
enum mbr_status mbr_receive(struct mbr *m, const char *from_id,
                            const struct mbr_msg *msg, int64_t now_ms,
                            struct mbr_out *out);

/* Join through a seed known only by address (the server resolves names and
 * turns cluster-seeds' client port into a bus port). May be called for
 * several seeds; JOIN is retried to every seed until some node answers
 * with its table. A seed equal to our own address is ignored. */
enum mbr_status mbr_join(struct mbr *m, const char *addr, uint16_t bus_port,
                         int64_t now_ms, struct mbr_out *out);

/* Announce a new lifecycle state of our own: joining, alive or leaving.
 * MBR_EINVAL for another state, MBR_ESTATE after mbr_leave. */
enum mbr_status mbr_set_state(struct mbr *m, enum mbr_state st,
                              int64_t now_ms, struct mbr_out *out);

/* Depart for good: we become `left` at a higher incarnation, tell every
 * member we know directly, and from then on only answer (so stragglers
 * learn it); mbr_tick does nothing more. The server may stop after one
 * more gossip interval. */
enum mbr_status mbr_leave(struct mbr *m, int64_t now_ms, struct mbr_out *out);

/* CLUSTER FORGET: mark another member `left` here, at its current
 * incarnation, so gossip removes it everywhere (off the ring at once,
 * forgotten after left_ttl_ms). A member that is alive refutes and stays.
 * MBR_EINVAL for an unknown id or our own. */
enum mbr_status mbr_forget(struct mbr *m, const char *id, int64_t now,
                           struct mbr_out *out);

/* Seed the table from nodes.conf (mbr_conf_parse) after a restart. The
 * record marked myself only raises our incarnation past the saved one, so
 * a node restarted with an old nodes.conf still outranks its last words.
 * Others are taken as saved (a saved suspect counts from now_ms). Emits
 * ADDED events. */
enum mbr_status mbr_load(struct mbr *m, const struct mbr_member *members,
                         size_t n, size_t myself, int64_t now_ms,
                         struct mbr_out *out);

/* ---- the view -------------------------------------------------------------
 * Members sorted by id, this node included, left tombstones included. */
size_t mbr_member_count(const struct mbr *m);
/* Copy the i-th member; false when i is out of range. */
bool mbr_member_at(const struct mbr *m, size_t i, struct mbr_member *out);
bool mbr_member_find(const struct mbr *m, const char *id,
                     struct mbr_member *out);
void mbr_self(const struct mbr *m, struct mbr_member *out);
void mbr_metrics_get(const struct mbr *m, struct mbr_metrics *out);

/* ---- nodes.conf -----------------------------------------------------------
 * One member a line, like Redis's nodes.conf:
 *
 *   # comment
 *   <id> <ip>:<port>@<bus-port> [myself,]<state> <incarnation>
 *
 * The IPv6 form is "::1:7000@17000" (the port follows the last colon).
 * Blank lines and lines starting with '#' are skipped. */

/* Write the table into buf (NUL-terminated, at most cap bytes with the
 * NUL), as snprintf: returns the length the whole text needs, excluding the
 * NUL, so a return >= cap means it was cut. */
size_t mbr_conf_format(const struct mbr *m, char *buf, size_t cap);

/* Parse text[0..len) into members[0..cap). On MBR_OK, *count members and
 * *myself the index of the one marked myself. On MBR_EPROTO (a malformed
 * line, a duplicate id, two myself lines) or MBR_ETOOBIG (more than cap
 * members), *err_line is the line at fault, counting from 1, or 0 when the
 * whole file is at fault (no myself line). changed_ms is set to 0. */
enum mbr_status mbr_conf_parse(const char *text, size_t len,
                               struct mbr_member *members, size_t cap,
                               size_t *count, size_t *myself,
                               unsigned *err_line);

#endif
