/*
 * cluster/membership.c — SWIM membership and failure detection as a pure
 * state machine, its wire codec, and nodes.conf.
 *
 * It keeps a table of members sorted by id, decides whom to probe and when,
 * and merges what peers say by SWIM's precedence rules. It does not open
 * sockets, read clocks, sleep or draw entropy: time and randomness come from
 * the caller, and everything it wants done comes back as actions in a
 * struct mbr_out. The ring, the bus and nodes.conf on disk are the callers'.
 */
#include "cluster/membership.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROBES 128 /* in flight: fanout (at most 16) times 6 rounds */
#define MAX_RELAYS 64  /* PINGREQs we are serving; oldest overwritten */
#define MAX_SEEDS 16
#define PROBE_DEADLINE_MULT 3 /* direct wait, then twice that for 4 hops */

/* ===========================================================================
 * Names and validation shared by the codec, the state machine and conf
 * ======================================================================== */

static const char *const state_names[MBR_STATE_COUNT] = {
    [MBR_JOINING] = "joining", [MBR_ALIVE] = "alive",
    [MBR_SUSPECT] = "suspect", [MBR_DEAD] = "dead",
    [MBR_LEAVING] = "leaving", [MBR_LEFT] = "left",
};

const char *
mbr_strerror(enum mbr_status st)
{
    switch (st) {
    case MBR_OK: return "ok";
    case MBR_EPROTO: return "malformed membership message or nodes.conf line";
    case MBR_ETOOBIG: return "membership limit exceeded";
    case MBR_ENOMEM: return "out of memory";
    case MBR_EINVAL: return "invalid argument";
    case MBR_ESTATE: return "not allowed in this membership state";
    }
    return "unknown membership status";
}

const char *
mbr_state_name(enum mbr_state s)
{
    if ((unsigned)s >= MBR_STATE_COUNT) {
        return "?";
    }
    return state_names[s];
}

int
mbr_state_parse(const char *name, size_t len)
{
    for (int i = 0; i < MBR_STATE_COUNT; i++) {
        if (strlen(state_names[i]) == len && memcmp(state_names[i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

bool
mbr_id_valid(const char *id, size_t len)
{
    if (id == NULL || len != MBR_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* An IPv4 or IPv6 literal: names are resolved by the server, never here. */
static bool
addr_valid(const char *p, size_t len)
{
    char tmp[MBR_ADDR_MAX];
    unsigned char bin[16];

    if (len == 0 || len >= sizeof tmp || memchr(p, '\0', len) != NULL) {
        return false;
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    return inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1;
}

/* Canonical unsigned decimal: digits only, no sign, no leading zero. */
static bool
parse_u64(const char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool
parse_incarnation(const char *p, size_t len, uint64_t *out)
{
    return parse_u64(p, len, out) && *out <= MBR_MAX_INCARNATION;
}

/* One more, saturating: see MBR_MAX_INCARNATION. */
static uint64_t
inc_next(uint64_t inc)
{
    return inc < MBR_MAX_INCARNATION ? inc + 1 : MBR_MAX_INCARNATION;
}

static bool
parse_port(const char *p, size_t len, uint16_t *out)
{
    uint64_t v;

    if (!parse_u64(p, len, &v) || v == 0 || v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

static size_t
format_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        dst[i] = tmp[n - 1 - i];
    }
    return n;
}

static bool
state_valid(enum mbr_state s)
{
    return (unsigned)s < MBR_STATE_COUNT;
}

/* States a node announces about itself: it is answering, so it is up. */
static bool
state_healthy(enum mbr_state s)
{
    return s == MBR_JOINING || s == MBR_ALIVE || s == MBR_LEAVING;
}

/* SWIM's order at an equal incarnation: alive < suspect < dead, and left,
 * which only the member itself says, above all. */
static int
state_rank(enum mbr_state s)
{
    switch (s) {
    case MBR_SUSPECT: return 1;
    case MBR_DEAD: return 2;
    case MBR_LEFT: return 3;
    default: return 0;
    }
}

static bool
overrides(enum mbr_state old_st, uint64_t old_inc, enum mbr_state new_st,
          uint64_t new_inc)
{
    if (new_inc != old_inc) {
        return new_inc > old_inc;
    }
    return state_rank(new_st) > state_rank(old_st);
}

static bool
record_valid(const struct mbr_record *r)
{
    return mbr_id_valid(r->id, strnlen(r->id, sizeof r->id)) &&
           addr_valid(r->addr, strnlen(r->addr, sizeof r->addr)) && r->port != 0 &&
           r->bus_port != 0 && state_valid(r->state) &&
           r->incarnation <= MBR_MAX_INCARNATION;
}

/* ===========================================================================
 * Message codec
 * ======================================================================== */

static const struct {
    const char *name;
    bool has_seq; /* seq and target follow the name */
} msg_table[] = {
    [MBR_MSG_PING] = { "GOSSIP.PING", true },
    [MBR_MSG_ACK] = { "GOSSIP.ACK", true },
    [MBR_MSG_PINGREQ] = { "GOSSIP.PINGREQ", true },
    [MBR_MSG_JOIN] = { "GOSSIP.JOIN", false },
    [MBR_MSG_SYNC] = { "GOSSIP.SYNC", false },
    [MBR_MSG_SYNCACK] = { "GOSSIP.SYNCACK", false },
    [MBR_MSG_UPDATE] = { "GOSSIP.UPDATE", false },
};
#define MSG_FIRST MBR_MSG_PING
#define MSG_LAST MBR_MSG_UPDATE

static bool
msg_type_valid(enum mbr_msg_type t)
{
    return (int)t >= MSG_FIRST && (int)t <= MSG_LAST;
}

const char *
mbr_msg_name(enum mbr_msg_type t)
{
    return msg_type_valid(t) ? msg_table[t].name : "?";
}

/* A node speaks for itself only while it answers: never suspect or dead. */
static bool
sender_state_valid(enum mbr_state s)
{
    return state_healthy(s) || s == MBR_LEFT;
}

/* The rules the decoder enforces, for messages built by hand or by us. */
static bool
msg_valid(const struct mbr_msg *msg)
{
    if (!msg_type_valid(msg->type) || msg->nrecords == 0 ||
        msg->nrecords > MBR_MAX_RECORDS || msg->records == NULL) {
        return false;
    }
    if (msg_table[msg->type].has_seq &&
        !mbr_id_valid(msg->target, strnlen(msg->target, sizeof msg->target))) {
        return false;
    }
    for (size_t i = 0; i < msg->nrecords; i++) {
        if (!record_valid(&msg->records[i])) {
            return false;
        }
    }
    return sender_state_valid(msg->records[0].state);
}

enum mbr_status
mbr_msg_encode(const struct mbr_msg *msg, struct resp_arg *argv, size_t argv_cap,
               char *buf, size_t buf_cap, size_t *argc)
{
    size_t n = 0, used = 0;

    if (msg == NULL || !msg_valid(msg)) {
        return MBR_EINVAL;
    }
    if (argv_cap < MBR_ENCODE_ARGC(msg->nrecords) ||
        buf_cap < MBR_ENCODE_BUF(msg->nrecords)) {
        return MBR_ETOOBIG;
    }
#define PUT(ptr, l) (argv[n].p = (ptr), argv[n].len = (l), n++)
#define PUT_NUM(v) (PUT(buf + used, format_u64(buf + used, (v))), used += argv[n - 1].len)
    PUT(msg_table[msg->type].name, strlen(msg_table[msg->type].name));
    if (msg_table[msg->type].has_seq) {
        PUT_NUM(msg->seq);
        PUT(msg->target, (size_t)MBR_ID_LEN);
    }
    for (size_t i = 0; i < msg->nrecords; i++) {
        const struct mbr_record *r = &msg->records[i];
        PUT(r->id, (size_t)MBR_ID_LEN);
        PUT(r->addr, strlen(r->addr));
        PUT_NUM(r->port);
        PUT_NUM(r->bus_port);
        PUT(state_names[r->state], strlen(state_names[r->state]));
        PUT_NUM(r->incarnation);
        PUT_NUM(r->age_ms);
    }
#undef PUT_NUM
#undef PUT
    *argc = n;
    return MBR_OK;
}

static bool
decode_record(const struct resp_arg *a, struct mbr_record *r)
{
    int st;

    if (!mbr_id_valid(a[0].p, a[0].len) || !addr_valid(a[1].p, a[1].len) ||
        !parse_port(a[2].p, a[2].len, &r->port) ||
        !parse_port(a[3].p, a[3].len, &r->bus_port) ||
        (st = mbr_state_parse(a[4].p, a[4].len)) < 0 ||
        !parse_incarnation(a[5].p, a[5].len, &r->incarnation) ||
        !parse_u64(a[6].p, a[6].len, &r->age_ms)) {
        return false;
    }
    memcpy(r->id, a[0].p, MBR_ID_LEN);
    r->id[MBR_ID_LEN] = '\0';
    memcpy(r->addr, a[1].p, a[1].len);
    r->addr[a[1].len] = '\0';
    r->state = (enum mbr_state)st;
    return true;
}

enum mbr_status
mbr_msg_decode(const struct resp_arg *argv, size_t argc, struct mbr_msg *msg,
               struct mbr_record *recs, size_t cap)
{
    enum mbr_msg_type type = 0;
    size_t fixed, n;

    /* Whatever the outcome, msg->records is the caller's buffer: a caller
     * that frees msg->records after a failure frees recs, never NULL. */
    memset(msg, 0, sizeof *msg);
    msg->records = recs;
    if (argv == NULL || argc == 0) {
        return MBR_EPROTO;
    }
    for (int t = MSG_FIRST; t <= MSG_LAST; t++) {
        size_t l = strlen(msg_table[t].name);
        if (argv[0].len == l && strncasecmp(argv[0].p, msg_table[t].name, l) == 0) {
            type = (enum mbr_msg_type)t;
            break;
        }
    }
    if (type == 0) {
        return MBR_EPROTO;
    }
    fixed = msg_table[type].has_seq ? 3 : 1;
    /* Count before looking at any record, so a huge argc costs nothing. */
    if (argc < fixed + 7 || (argc - fixed) % 7 != 0) {
        return MBR_EPROTO;
    }
    n = (argc - fixed) / 7;
    if (n > MBR_MAX_RECORDS || n > cap) {
        return MBR_ETOOBIG;
    }
    msg->type = type;
    if (fixed == 3) {
        if (!parse_u64(argv[1].p, argv[1].len, &msg->seq) ||
            !mbr_id_valid(argv[2].p, argv[2].len)) {
            return MBR_EPROTO;
        }
        memcpy(msg->target, argv[2].p, MBR_ID_LEN);
    }
    for (size_t i = 0; i < n; i++) {
        if (!decode_record(argv + fixed + 7 * i, &recs[i])) {
            return MBR_EPROTO;
        }
    }
    if (!sender_state_valid(recs[0].state)) {
        return MBR_EPROTO;
    }
    msg->nrecords = n;
    return MBR_OK;
}

/* ===========================================================================
 * Action list
 * ======================================================================== */

/* Records of all messages share one array that may move as it grows, so an
 * action keeps an offset and mbr_out_at() turns it into a pointer. */
struct out_item {
    struct mbr_action a;
    size_t rec_off;
};

struct mbr_out {
    struct out_item *v;
    size_t n, cap;
    struct mbr_record *recs;
    size_t nrec, reccap;
    size_t lost;
};

struct mbr_out *
mbr_out_create(void)
{
    return calloc(1, sizeof(struct mbr_out));
}

void
mbr_out_destroy(struct mbr_out **out)
{
    if (out == NULL || *out == NULL) {
        return;
    }
    free((*out)->v);
    free((*out)->recs);
    free(*out);
    *out = NULL;
}

void
mbr_out_clear(struct mbr_out *out)
{
    out->n = 0;
    out->nrec = 0;
    out->lost = 0;
}

size_t
mbr_out_count(const struct mbr_out *out)
{
    return out->n;
}

size_t
mbr_out_lost(const struct mbr_out *out)
{
    return out->lost;
}

const struct mbr_action *
mbr_out_at(struct mbr_out *out, size_t i)
{
    struct out_item *it;

    if (i >= out->n) {
        return NULL;
    }
    it = &out->v[i];
    if (it->a.kind == MBR_ACT_SEND) {
        it->a.send.msg.records = out->recs + it->rec_off;
    }
    return &it->a;
}

static struct out_item *
out_push(struct mbr_out *out)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        struct out_item *v = realloc(out->v, cap * sizeof *v);
        if (v == NULL) {
            out->lost++;
            return NULL;
        }
        out->v = v;
        out->cap = cap;
    }
    memset(&out->v[out->n], 0, sizeof out->v[0]);
    return &out->v[out->n++];
}

/* Room for one more record of the message being built (the last action). */
static struct mbr_record *
out_record(struct mbr_out *out)
{
    if (out->nrec == out->reccap) {
        size_t cap = out->reccap ? out->reccap * 2 : 64;
        struct mbr_record *r = realloc(out->recs, cap * sizeof *r);
        if (r == NULL) {
            return NULL;
        }
        out->recs = r;
        out->reccap = cap;
    }
    out->v[out->n - 1].a.send.msg.nrecords++;
    return &out->recs[out->nrec++];
}

/* Drop the message being built: a lost message, which gossip tolerates. */
static void
out_abort(struct mbr_out *out)
{
    struct out_item *it = &out->v[out->n - 1];

    out->nrec = it->rec_off;
    out->n--;
    out->lost++;
}

/* ===========================================================================
 * The state machine
 * ======================================================================== */

struct peer {
    struct mbr_member m;
    unsigned bcast_left; /* piggyback transmissions still owed */
};

struct probe {
    char target[MBR_ID_LEN + 1];
    uint64_t seq;
    int64_t sent_ms;
    bool indirect; /* the PINGREQs went out */
};

struct relay {
    bool used;
    char requester[MBR_ID_LEN + 1];
    char req_addr[MBR_ADDR_MAX];
    uint16_t req_bus_port;
    uint64_t req_seq;
    char target[MBR_ID_LEN + 1];
    uint64_t seq; /* of our PING to the target */
    int64_t expires_ms;
};

/* An address to join through. A join is retried to every seed until some
 * member sends its table (joined), and to a seed that has not answered
 * itself for SEED_PATIENCE_MS: a MEET from a member already in a cluster
 * must reach the met address, whatever the members it knows send. */
#define SEED_PATIENCE_MS 60000
struct seed {
    char addr[MBR_ADDR_MAX];
    uint16_t bus_port;
    int64_t unanswered_until; /* 0: it has answered */
};

typedef char id_buf[MBR_ID_LEN + 1];

struct mbr {
    struct mbr_config cfg;
    char self_id[MBR_ID_LEN + 1];

    struct peer *peers; /* sorted by id, ourselves included */
    size_t n, cap;

    id_buf *order; /* probe order: a shuffled pass over the members */
    size_t order_n, order_pos, order_cap;

    struct probe probes[MAX_PROBES];
    size_t nprobes;
    struct relay relays[MAX_RELAYS];
    size_t relay_next;
    struct seed seeds[MAX_SEEDS];
    size_t nseeds;
    bool joined; /* some node sent us its table since mbr_join */

    uint64_t seq;
    uint64_t rng;
    int64_t next_round_ms, next_sync_ms, next_reconnect_ms, next_join_ms;
    struct mbr_metrics metrics;
};

/* ---- randomness ----------------------------------------------------------*/

static uint64_t
splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rnd(struct mbr *m)
{
    return m->cfg.random ? m->cfg.random(m->cfg.random_ctx) : splitmix64(&m->rng);
}

/* Uniform enough in [0, n) for n far below 2^64. */
static size_t
rnd_below(struct mbr *m, size_t n)
{
    return n ? (size_t)(rnd(m) % n) : 0;
}

/* ---- the table -----------------------------------------------------------*/

/* Index of id, or of where it would go (with *found false). */
static size_t
peer_search(const struct mbr *m, const char *id, bool *found)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->peers[mid].m.id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static struct peer *
peer_find(const struct mbr *m, const char *id)
{
    bool found;
    size_t i = peer_search(m, id, &found);

    return found ? &m->peers[i] : NULL;
}

/* Always there: created with the table, never removed. */
static struct peer *
self_peer(const struct mbr *m)
{
    return peer_find(m, m->self_id);
}

static struct peer *
peer_insert(struct mbr *m, const char *id)
{
    bool found;
    size_t i = peer_search(m, id, &found);

    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct peer *p = realloc(m->peers, cap * sizeof *p);
        if (p == NULL) {
            return NULL;
        }
        m->peers = p;
        m->cap = cap;
    }
    memmove(&m->peers[i + 1], &m->peers[i], (m->n - i) * sizeof m->peers[0]);
    m->n++;
    memset(&m->peers[i], 0, sizeof m->peers[0]);
    memcpy(m->peers[i].m.id, id, MBR_ID_LEN + 1);
    return &m->peers[i];
}

static void
peer_remove(struct mbr *m, struct peer *p)
{
    size_t i = (size_t)(p - m->peers);

    memmove(&m->peers[i], &m->peers[i + 1], (m->n - i - 1) * sizeof m->peers[0]);
    m->n--;
}

/* SWIM disseminates each update lambda * log(n) times; this is
 * memberlist's retransmit_mult * ceil(log10(n + 1)). */
static unsigned
retransmit_limit(const struct mbr *m)
{
    unsigned digits = 0;

    for (size_t x = m->n; x > 0; x /= 10) {
        digits++;
    }
    return m->cfg.retransmit_mult * (digits ? digits : 1);
}

/* Push-pull costs a whole table, so big clusters do it less often
 * (memberlist's scaling: one more interval per doubling past 32). */
static int64_t
sync_interval(const struct mbr *m)
{
    int64_t mult = 1;

    for (size_t x = 32; x < m->n; x *= 2) {
        mult++;
    }
    return mult * (int64_t)m->cfg.sync_interval_ms;
}

static void
emit(const struct mbr *m, struct mbr_out *out, enum mbr_event_kind kind,
     const struct mbr_member *mem, enum mbr_state old_state, uint64_t old_inc)
{
    struct out_item *it = out_push(out);

    if (it == NULL) {
        return;
    }
    it->a.kind = MBR_ACT_EVENT;
    it->a.event.kind = kind;
    it->a.event.myself = strcmp(mem->id, m->self_id) == 0;
    it->a.event.member = *mem;
    it->a.event.old_state = old_state;
    it->a.event.old_incarnation = old_inc;
}

static bool
probe_eligible(const struct mbr *m, const struct mbr_member *p)
{
    return p->state != MBR_DEAD && p->state != MBR_LEFT &&
           strcmp(p->id, m->self_id) != 0;
}

/* SWIM 4.3: a new member goes to a random place in the rest of this pass,
 * so it is probed within one pass like everyone else. */
static void
order_add(struct mbr *m, const char *id)
{
    size_t j;

    if (m->order_n == m->order_cap) {
        size_t cap = m->order_cap ? m->order_cap * 2 : 16;
        id_buf *o = realloc(m->order, cap * sizeof *o);
        if (o == NULL) {
            return; /* it joins the next pass instead */
        }
        m->order = o;
        m->order_cap = cap;
    }
    memcpy(m->order[m->order_n], id, MBR_ID_LEN + 1);
    j = m->order_pos + rnd_below(m, m->order_n - m->order_pos + 1);
    if (j != m->order_n) {
        id_buf tmp;
        memcpy(tmp, m->order[j], sizeof tmp);
        memcpy(m->order[j], m->order[m->order_n], sizeof tmp);
        memcpy(m->order[m->order_n], tmp, sizeof tmp);
    }
    m->order_n++;
}

static void
order_rebuild(struct mbr *m)
{
    m->order_n = 0;
    m->order_pos = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (probe_eligible(m, &m->peers[i].m)) {
            order_add(m, m->peers[i].m.id);
        }
    }
}

static bool
probe_pending(const struct mbr *m, const char *id)
{
    for (size_t i = 0; i < m->nprobes; i++) {
        if (strcmp(m->probes[i].target, id) == 0) {
            return true;
        }
    }
    return false;
}

static struct peer *
next_probe_target(struct mbr *m)
{
    bool rebuilt = false;

    for (;;) {
        if (m->order_pos >= m->order_n) {
            if (rebuilt) {
                return NULL;
            }
            order_rebuild(m);
            rebuilt = true;
            continue;
        }
        struct peer *p = peer_find(m, m->order[m->order_pos++]);
        if (p != NULL && probe_eligible(m, &p->m) && !probe_pending(m, p->m.id)) {
            return p;
        }
    }
}

/* ---- building messages ---------------------------------------------------*/

static void
record_of(const struct mbr_member *p, int64_t now, struct mbr_record *r)
{
    memcpy(r->id, p->id, sizeof r->id);
    memcpy(r->addr, p->addr, sizeof r->addr);
    r->port = p->port;
    r->bus_port = p->bus_port;
    r->state = p->state;
    r->incarnation = p->incarnation;
    r->age_ms = 0;
    if ((p->state == MBR_DEAD || p->state == MBR_LEFT) && now > p->changed_ms) {
        r->age_ms = (uint64_t)(now - p->changed_ms);
    }
}

enum body {
    BODY_GOSSIP, /* our record, the recipient's if we doubt it, news */
    BODY_SELF,   /* our record only */
    BODY_TABLE,  /* every member: push-pull */
};

/* Queue one message to to_id (NULL: a bare address). With BODY_GOSSIP the
 * recipient's own record rides along when we think it suspect or dead, so
 * it hears at once and refutes, then the least-sent news (SWIM). */
static void
send_msg(struct mbr *m, struct mbr_out *out, const char *to_id, const char *addr,
         uint16_t bus_port, enum mbr_msg_type type, uint64_t seq,
         const char *target, enum body body, int64_t now)
{
    struct out_item *it = out_push(out);
    struct mbr_record *r;
    struct peer *self = self_peer(m), *dest = NULL;

    if (it == NULL) {
        return;
    }
    it->a.kind = MBR_ACT_SEND;
    it->rec_off = out->nrec;
    if (to_id != NULL) {
        memcpy(it->a.send.to_id, to_id, MBR_ID_LEN + 1);
        dest = peer_find(m, to_id);
    }
    memcpy(it->a.send.to_addr, addr, strnlen(addr, MBR_ADDR_MAX - 1));
    it->a.send.to_bus_port = bus_port;
    it->a.send.msg.type = type;
    it->a.send.msg.seq = seq;
    if (target != NULL) {
        memcpy(it->a.send.msg.target, target, MBR_ID_LEN + 1);
    }

    if ((r = out_record(out)) == NULL) {
        goto fail;
    }
    record_of(&self->m, now, r);

    if (body == BODY_TABLE) {
        for (size_t i = 0; i < m->n; i++) {
            if (&m->peers[i] == self) {
                continue;
            }
            if ((r = out_record(out)) == NULL) {
                goto fail;
            }
            record_of(&m->peers[i].m, now, r);
        }
    } else if (body == BODY_GOSSIP) {
        struct peer *pick[64];
        size_t npick = 0, max = m->cfg.max_piggyback < 64 ? m->cfg.max_piggyback : 64;

        if (dest != NULL && dest != self &&
            (dest->m.state == MBR_SUSPECT || dest->m.state == MBR_DEAD)) {
            if ((r = out_record(out)) == NULL) {
                goto fail;
            }
            record_of(&dest->m, now, r);
        }
        /* Keep the max most-owed updates, sorted by insertion. */
        for (size_t i = 0; i < m->n; i++) {
            struct peer *p = &m->peers[i];
            size_t j;
            if (p->bcast_left == 0 || p == self || p == dest) {
                continue;
            }
            if (npick == max && (max == 0 || pick[max - 1]->bcast_left >= p->bcast_left)) {
                continue;
            }
            j = npick < max ? npick++ : max - 1;
            while (j > 0 && pick[j - 1]->bcast_left < p->bcast_left) {
                pick[j] = pick[j - 1];
                j--;
            }
            pick[j] = p;
        }
        for (size_t i = 0; i < npick; i++) {
            if ((r = out_record(out)) == NULL) {
                goto fail;
            }
            record_of(&pick[i]->m, now, r);
            pick[i]->bcast_left--;
        }
    }
    return;
fail:
    out_abort(out);
}

static void
send_to_peer(struct mbr *m, struct mbr_out *out, const struct peer *p,
             enum mbr_msg_type type, uint64_t seq, const char *target,
             enum body body, int64_t now)
{
    send_msg(m, out, p->m.id, p->m.addr, p->m.bus_port, type, seq, target, body, now);
}

/* ---- merging what others say ---------------------------------------------*/

static void
set_state(struct mbr *m, struct peer *p, enum mbr_state st, int64_t now,
          struct mbr_out *out)
{
    struct mbr_member old = p->m;

    p->m.state = st;
    p->m.changed_ms = now;
    p->bcast_left = retransmit_limit(m);
    emit(m, out, MBR_EV_CHANGED, &p->m, old.state, old.incarnation);
}

/* Someone says something about us. If it is news at our incarnation or
 * above, outrank it (SWIM's refutation), keeping our own state: the next
 * message we send carries the new incarnation first. */
static void
merge_self(struct mbr *m, const struct mbr_record *r, struct mbr_out *out)
{
    struct peer *s = self_peer(m);
    struct mbr_member old = s->m;
    bool elsewhere = strcmp(r->addr, s->m.addr) != 0 || r->port != s->m.port ||
                     r->bus_port != s->m.bus_port;

    if (r->incarnation < s->m.incarnation ||
        (r->incarnation == s->m.incarnation && r->state == s->m.state && !elsewhere) ||
        r->incarnation == MBR_MAX_INCARNATION) {
        return;
    }
    /* Our id at another address: an old life of ours (outrank it) or a
     * misconfigured twin (counted, so an operator can tell). */
    if (elsewhere) {
        m->metrics.id_conflicts++;
    }
    s->m.incarnation = r->incarnation + 1;
    m->metrics.refutations++;
    emit(m, out, MBR_EV_CHANGED, &s->m, old.state, old.incarnation);
}

static void
merge(struct mbr *m, const struct mbr_record *r, int64_t now, struct mbr_out *out)
{
    struct peer *p;
    uint64_t age = 0;
    int64_t since;

    if (strcmp(r->id, m->self_id) == 0) {
        merge_self(m, r, out);
        return;
    }
    if (r->state == MBR_DEAD) {
        age = r->age_ms < m->cfg.node_forget_timeout_ms ? r->age_ms
                                                         : m->cfg.node_forget_timeout_ms;
    } else if (r->state == MBR_LEFT) {
        age = r->age_ms < m->cfg.left_ttl_ms ? r->age_ms : m->cfg.left_ttl_ms;
    }
    since = now - (int64_t)age;

    p = peer_find(m, r->id);
    if (p == NULL) {
        /* Do not learn of a member only to forget it at once: this also
         * keeps late copies of old news from bringing the forgotten back. */
        if ((r->state == MBR_DEAD && age >= m->cfg.node_forget_timeout_ms) ||
            (r->state == MBR_LEFT && age >= m->cfg.left_ttl_ms)) {
            return;
        }
        if (m->n >= m->cfg.max_members || (p = peer_insert(m, r->id)) == NULL) {
            m->metrics.records_dropped++;
            return;
        }
        memcpy(p->m.addr, r->addr, sizeof p->m.addr);
        p->m.port = r->port;
        p->m.bus_port = r->bus_port;
        p->m.state = r->state;
        p->m.incarnation = r->incarnation;
        p->m.changed_ms = since;
        p->bcast_left = retransmit_limit(m);
        if (probe_eligible(m, &p->m)) {
            order_add(m, p->m.id);
        }
        emit(m, out, MBR_EV_ADDED, &p->m, p->m.state, p->m.incarnation);
        return;
    }
    if (!overrides(p->m.state, p->m.incarnation, r->state, r->incarnation)) {
        return;
    }
    struct mbr_member old = p->m;
    memcpy(p->m.addr, r->addr, sizeof p->m.addr);
    p->m.port = r->port;
    p->m.bus_port = r->bus_port;
    p->m.state = r->state;
    p->m.incarnation = r->incarnation;
    /* A fresh suspicion (even at a new incarnation) gets a fresh timer. */
    if (old.state != r->state || !state_healthy(r->state)) {
        p->m.changed_ms = since;
    }
    p->bcast_left = retransmit_limit(m);
    if (!probe_eligible(m, &old) && probe_eligible(m, &p->m)) {
        order_add(m, p->m.id); /* back from the dead */
    }
    emit(m, out, MBR_EV_CHANGED, &p->m, old.state, old.incarnation);
}

/* ---- probes --------------------------------------------------------------*/

static void
start_probe(struct mbr *m, struct peer *p, int64_t now, struct mbr_out *out)
{
    struct probe *pr;

    if (m->nprobes == MAX_PROBES) {
        return;
    }
    pr = &m->probes[m->nprobes++];
    memcpy(pr->target, p->m.id, sizeof pr->target);
    pr->seq = ++m->seq;
    pr->sent_ms = now;
    pr->indirect = false;
    m->metrics.pings_sent++;
    send_to_peer(m, out, p, MBR_MSG_PING, pr->seq, p->m.id, BODY_GOSSIP, now);
}

/* The direct wait is over: ask k random answering members to try too, and
 * ping once more ourselves (a lost packet is the likeliest cause). */
static void
probe_indirect(struct mbr *m, struct probe *pr, int64_t now, struct mbr_out *out)
{
    struct peer *target = peer_find(m, pr->target);
    struct peer *pick[16];
    size_t k = m->cfg.indirect_probes < 16 ? m->cfg.indirect_probes : 16, seen = 0;

    pr->indirect = true;
    if (target == NULL) {
        return;
    }
    send_to_peer(m, out, target, MBR_MSG_PING, pr->seq, pr->target, BODY_GOSSIP, now);
    /* Reservoir sampling: k distinct helpers in one pass. */
    for (size_t i = 0; i < m->n; i++) {
        struct peer *p = &m->peers[i];
        if (p == target || !state_healthy(p->m.state) ||
            strcmp(p->m.id, m->self_id) == 0) {
            continue;
        }
        if (seen < k) {
            pick[seen] = p;
        } else {
            size_t j = rnd_below(m, seen + 1);
            if (j < k) {
                pick[j] = p;
            }
        }
        seen++;
    }
    for (size_t i = 0; i < seen && i < k; i++) {
        m->metrics.pingreqs_sent++;
        send_to_peer(m, out, pick[i], MBR_MSG_PINGREQ, pr->seq, pr->target,
                     BODY_GOSSIP, now);
    }
}

static void
probe_failed(struct mbr *m, const struct probe *pr, int64_t now, struct mbr_out *out)
{
    struct peer *p = peer_find(m, pr->target);

    m->metrics.probes_failed++;
    if (p != NULL && state_healthy(p->m.state)) {
        m->metrics.suspicions++;
        set_state(m, p, MBR_SUSPECT, now, out);
    }
}

static void
probes_expire(struct mbr *m, int64_t now, struct mbr_out *out)
{
    int64_t t = m->cfg.probe_timeout_ms;

    for (size_t i = 0; i < m->nprobes;) {
        struct probe *pr = &m->probes[i];
        if (now - pr->sent_ms >= PROBE_DEADLINE_MULT * t) {
            struct probe done = *pr;
            m->probes[i] = m->probes[--m->nprobes];
            probe_failed(m, &done, now, out);
            continue;
        }
        if (!pr->indirect && now - pr->sent_ms >= t) {
            probe_indirect(m, pr, now, out);
        }
        i++;
    }
}

/* Suspects that ran out of time die; the long dead and old tombstones are
 * forgotten. */
static void
members_expire(struct mbr *m, int64_t now, struct mbr_out *out)
{
    for (size_t i = m->n; i-- > 0;) {
        struct peer *p = &m->peers[i];
        int64_t age = now - p->m.changed_ms;

        if (p->m.state == MBR_SUSPECT && age >= (int64_t)m->cfg.failure_detect_ms) {
            m->metrics.deaths++;
            set_state(m, p, MBR_DEAD, now, out);
        } else if ((p->m.state == MBR_DEAD &&
                    age >= (int64_t)m->cfg.node_forget_timeout_ms) ||
                   (p->m.state == MBR_LEFT && age >= (int64_t)m->cfg.left_ttl_ms)) {
            struct mbr_member gone = p->m;
            m->metrics.forgotten++;
            peer_remove(m, p);
            emit(m, out, MBR_EV_REMOVED, &gone, gone.state, gone.incarnation);
        }
    }
}

/* A uniformly random member that is dead (dead) or worth probing (!dead). */
static struct peer *
random_peer(struct mbr *m, bool dead)
{
    size_t seen = 0;
    struct peer *pick = NULL;

    for (size_t i = 0; i < m->n; i++) {
        struct peer *p = &m->peers[i];
        bool ok = dead ? p->m.state == MBR_DEAD : probe_eligible(m, &p->m);
        if (ok && rnd_below(m, ++seen) == 0) {
            pick = p;
        }
    }
    return pick;
}

/* ---- public entry points -------------------------------------------------*/

static bool
member_valid(const struct mbr_member *s)
{
    return mbr_id_valid(s->id, strnlen(s->id, sizeof s->id)) &&
           addr_valid(s->addr, strnlen(s->addr, sizeof s->addr)) && s->port != 0 &&
           s->bus_port != 0 && state_valid(s->state);
}

struct mbr *
mbr_create(const struct mbr_config *cfg, const struct mbr_member *self,
           int64_t now_ms)
{
    struct mbr *m;
    struct peer *s;

    if (self == NULL || !member_valid(self) ||
        (self->state != MBR_JOINING && self->state != MBR_ALIVE)) {
        return NULL;
    }
    if ((m = calloc(1, sizeof *m)) == NULL) {
        return NULL;
    }
    if (cfg != NULL) {
        m->cfg = *cfg;
    }
#define DEFAULT(f, v) (m->cfg.f = m->cfg.f ? m->cfg.f : (v))
    DEFAULT(gossip_interval_ms, 100);
    DEFAULT(probe_timeout_ms, 200);
    DEFAULT(failure_detect_ms, 1000);
    DEFAULT(node_forget_timeout_ms, 4ULL * 3600 * 1000);
    DEFAULT(fanout, 3);
    DEFAULT(indirect_probes, 3);
    DEFAULT(max_piggyback, 8);
    DEFAULT(retransmit_mult, 4);
    DEFAULT(sync_interval_ms, 1000);
    DEFAULT(join_retry_ms, 500);
    DEFAULT(left_ttl_ms, 60000);
    DEFAULT(max_members, 1024);
#undef DEFAULT
    if (m->cfg.max_members > MBR_MAX_RECORDS ||
        m->cfg.node_forget_timeout_ms > INT64_MAX / 2 || m->cfg.left_ttl_ms > INT64_MAX / 2) {
        free(m);
        return NULL;
    }
    m->rng = m->cfg.seed;
    memcpy(m->self_id, self->id, MBR_ID_LEN);
    if ((s = peer_insert(m, m->self_id)) == NULL) {
        free(m);
        return NULL;
    }
    s->m = *self;
    s->m.id[MBR_ID_LEN] = '\0';
    s->m.changed_ms = now_ms;
    /* Spread the first rounds so nodes started together do not probe and
     * sync in lockstep. */
    m->next_round_ms = now_ms + (int64_t)rnd_below(m, m->cfg.gossip_interval_ms);
    m->next_sync_ms = now_ms + (int64_t)rnd_below(m, m->cfg.sync_interval_ms);
    m->next_reconnect_ms = now_ms + (int64_t)rnd_below(m, m->cfg.sync_interval_ms);
    m->next_join_ms = now_ms;
    return m;
}

void
mbr_destroy(struct mbr **m)
{
    if (m == NULL || *m == NULL) {
        return;
    }
    free((*m)->peers);
    free((*m)->order);
    free(*m);
    *m = NULL;
}

int64_t
mbr_next_tick_ms(const struct mbr *m)
{
    int64_t next = m->next_round_ms;

    if (self_peer(m)->m.state == MBR_LEFT) {
        return INT64_MAX;
    }
    for (size_t i = 0; i < m->nprobes; i++) {
        const struct probe *pr = &m->probes[i];
        int64_t t = pr->sent_ms + (int64_t)m->cfg.probe_timeout_ms *
                                      (pr->indirect ? PROBE_DEADLINE_MULT : 1);
        next = t < next ? t : next;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct peer *p = &m->peers[i];
        if (p->m.state == MBR_SUSPECT) {
            int64_t t = p->m.changed_ms + (int64_t)m->cfg.failure_detect_ms;
            next = t < next ? t : next;
        }
    }
    return next;
}

enum mbr_status
mbr_tick(struct mbr *m, int64_t now, struct mbr_out *out)
{
    size_t lost = out->lost;

    if (self_peer(m)->m.state == MBR_LEFT) {
        return MBR_OK;
    }
    probes_expire(m, now, out);
    members_expire(m, now, out);

    if (now >= m->next_round_ms) {
        int64_t iv = m->cfg.gossip_interval_ms;
        /* Keep the cadence, but never owe a burst of rounds after a stall. */
        m->next_round_ms = now - m->next_round_ms < iv ? m->next_round_ms + iv : now + iv;
        for (unsigned i = 0; i < m->cfg.fanout; i++) {
            struct peer *p = next_probe_target(m);
            if (p == NULL) {
                break;
            }
            start_probe(m, p, now, out);
        }
        if (now >= m->next_sync_ms) {
            struct peer *p = random_peer(m, false);
            m->next_sync_ms = now + sync_interval(m);
            if (p != NULL) {
                m->metrics.syncs_sent++;
                send_to_peer(m, out, p, MBR_MSG_SYNC, 0, NULL, BODY_TABLE, now);
            }
        }
        /* A partition leaves each side thinking the other dead, and nobody
         * probes the dead: try one now and then, and let it refute. */
        if (now >= m->next_reconnect_ms) {
            struct peer *p = random_peer(m, true);
            m->next_reconnect_ms = now + sync_interval(m);
            if (p != NULL) {
                m->metrics.syncs_sent++;
                send_to_peer(m, out, p, MBR_MSG_SYNC, 0, NULL, BODY_TABLE, now);
            }
        }
        if (m->nseeds > 0 && now >= m->next_join_ms) {
            m->next_join_ms = now + m->cfg.join_retry_ms;
            for (size_t i = 0; i < m->nseeds; i++) {
                if (!m->joined || now < m->seeds[i].unanswered_until) {
                    send_msg(m, out, NULL, m->seeds[i].addr, m->seeds[i].bus_port,
                             MBR_MSG_JOIN, 0, NULL, BODY_SELF, now);
                }
            }
        }
    }
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

static void
handle_ack(struct mbr *m, const struct mbr_msg *msg, int64_t now, struct mbr_out *out)
{
    for (size_t i = 0; i < m->nprobes; i++) {
        if (m->probes[i].seq == msg->seq && strcmp(m->probes[i].target, msg->target) == 0) {
            m->probes[i] = m->probes[--m->nprobes];
            m->metrics.acks_received++;
            return;
        }
    }
    for (size_t i = 0; i < MAX_RELAYS; i++) {
        struct relay *rl = &m->relays[i];
        if (rl->used && rl->seq == msg->seq && strcmp(rl->target, msg->target) == 0) {
            rl->used = false;
            if (now <= rl->expires_ms) {
                send_msg(m, out, rl->requester, rl->req_addr, rl->req_bus_port,
                         MBR_MSG_ACK, rl->req_seq, rl->target, BODY_GOSSIP, now);
            }
            return;
        }
    }
}

static void
handle_pingreq(struct mbr *m, const struct mbr_msg *msg, int64_t now,
               struct mbr_out *out)
{
    const struct mbr_record *from = &msg->records[0];
    struct peer *target;
    struct relay *rl;

    if (strcmp(msg->target, m->self_id) == 0) {
        send_msg(m, out, from->id, from->addr, from->bus_port, MBR_MSG_ACK, msg->seq,
                 m->self_id, BODY_GOSSIP, now);
        return;
    }
    target = peer_find(m, msg->target);
    if (target == NULL || target->m.state == MBR_LEFT) {
        return;
    }
    /* A fixed ring: a flood of PINGREQs overwrites old relays rather than
     * growing anything. */
    rl = &m->relays[m->relay_next++ % MAX_RELAYS];
    rl->used = true;
    memcpy(rl->requester, from->id, sizeof rl->requester);
    memcpy(rl->req_addr, from->addr, sizeof rl->req_addr);
    rl->req_bus_port = from->bus_port;
    rl->req_seq = msg->seq;
    memcpy(rl->target, msg->target, sizeof rl->target);
    rl->seq = ++m->seq;
    rl->expires_ms = now + PROBE_DEADLINE_MULT * (int64_t)m->cfg.probe_timeout_ms;
    send_to_peer(m, out, target, MBR_MSG_PING, rl->seq, rl->target, BODY_GOSSIP, now);
}

enum mbr_status
mbr_receive(struct mbr *m, const char *from_id, const struct mbr_msg *msg,
            int64_t now, struct mbr_out *out)
{
    const struct mbr_record *from;
    size_t lost = out->lost;

    if (msg == NULL || !msg_valid(msg) ||
        (from_id != NULL && strncmp(from_id, msg->records[0].id, MBR_ID_LEN + 1) != 0)) {
        m->metrics.messages_rejected++;
        return MBR_EPROTO;
    }
    from = &msg->records[0];
    if (strcmp(from->id, m->self_id) == 0) {
        /* Our own id from the wire: a loop or a twin; never act on it. */
        m->metrics.id_conflicts++;
        return MBR_OK;
    }
    m->metrics.messages_received++;
    for (size_t i = 0; i < m->nseeds; i++) {
        if (m->seeds[i].bus_port == from->bus_port && strcmp(m->seeds[i].addr, from->addr) == 0) {
            m->seeds[i].unanswered_until = 0;
        }
    }
    for (size_t i = 0; i < msg->nrecords; i++) {
        merge(m, &msg->records[i], now, out);
    }

    switch (msg->type) {
    case MBR_MSG_PING:
        /* A ping meant for a previous owner of our address goes unanswered,
         * so its sender suspects that member, as it should. */
        if (strcmp(msg->target, m->self_id) == 0) {
            send_msg(m, out, from->id, from->addr, from->bus_port, MBR_MSG_ACK,
                     msg->seq, m->self_id, BODY_GOSSIP, now);
        }
        break;
    case MBR_MSG_ACK:
        handle_ack(m, msg, now, out);
        break;
    case MBR_MSG_PINGREQ:
        handle_pingreq(m, msg, now, out);
        break;
    case MBR_MSG_JOIN:
    case MBR_MSG_SYNC:
        send_msg(m, out, from->id, from->addr, from->bus_port, MBR_MSG_SYNCACK, 0,
                 NULL, BODY_TABLE, now);
        break;
    case MBR_MSG_SYNCACK:
        m->joined = true;
        break;
    case MBR_MSG_UPDATE:
        break;
    }
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

enum mbr_status
mbr_join(struct mbr *m, const char *addr, uint16_t bus_port, int64_t now,
         struct mbr_out *out)
{
    struct peer *self = self_peer(m);
    struct seed *sd = NULL;
    size_t lost = out->lost;

    if (addr == NULL || !addr_valid(addr, strnlen(addr, MBR_ADDR_MAX)) || bus_port == 0) {
        return MBR_EINVAL;
    }
    if (self->m.state == MBR_LEFT) {
        return MBR_ESTATE;
    }
    if (strcmp(addr, self->m.addr) == 0 && bus_port == self->m.bus_port) {
        return MBR_OK;
    }
    for (size_t i = 0; i < m->nseeds; i++) {
        if (strcmp(m->seeds[i].addr, addr) == 0 && m->seeds[i].bus_port == bus_port) {
            sd = &m->seeds[i];
        }
    }
    if (sd == NULL) {
        if (m->nseeds == MAX_SEEDS) {
            return MBR_ETOOBIG;
        }
        sd = &m->seeds[m->nseeds++];
        snprintf(sd->addr, sizeof sd->addr, "%s", addr);
        sd->bus_port = bus_port;
    }
    m->joined = false;
    sd->unanswered_until = now + SEED_PATIENCE_MS;
    m->next_join_ms = now + m->cfg.join_retry_ms;
    send_msg(m, out, NULL, sd->addr, sd->bus_port, MBR_MSG_JOIN, 0, NULL, BODY_SELF, now);
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

enum mbr_status
mbr_set_state(struct mbr *m, enum mbr_state st, int64_t now, struct mbr_out *out)
{
    struct peer *self = self_peer(m);
    struct mbr_member old = self->m;

    if (!state_healthy(st)) {
        return MBR_EINVAL;
    }
    if (self->m.state == MBR_LEFT) {
        return MBR_ESTATE;
    }
    if (st == self->m.state) {
        return MBR_OK;
    }
    /* A new incarnation, so the change outranks our old record everywhere;
     * it rides first in every message we send. */
    self->m.state = st;
    self->m.incarnation = inc_next(self->m.incarnation);
    self->m.changed_ms = now;
    emit(m, out, MBR_EV_CHANGED, &self->m, old.state, old.incarnation);
    return MBR_OK;
}

enum mbr_status
mbr_leave(struct mbr *m, int64_t now, struct mbr_out *out)
{
    struct peer *self = self_peer(m);
    struct mbr_member old = self->m;
    size_t lost = out->lost;

    if (self->m.state == MBR_LEFT) {
        return MBR_ESTATE;
    }
    self->m.state = MBR_LEFT;
    self->m.incarnation = inc_next(self->m.incarnation);
    self->m.changed_ms = now;
    emit(m, out, MBR_EV_CHANGED, &self->m, old.state, old.incarnation);
    /* Tell everyone directly: we stop probing, so piggybacking alone would
     * reach only those who still ping us. */
    for (size_t i = 0; i < m->n; i++) {
        if (probe_eligible(m, &m->peers[i].m)) {
            send_to_peer(m, out, &m->peers[i], MBR_MSG_UPDATE, 0, NULL, BODY_SELF, now);
        }
    }
    m->nprobes = 0;
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

enum mbr_status
mbr_forget(struct mbr *m, const char *id, int64_t now, struct mbr_out *out)
{
    struct peer *p = peer_find(m, id);
    size_t lost = out->lost;

    if (p == NULL || p == self_peer(m)) {
        return MBR_EINVAL;
    }
    if (p->m.state != MBR_LEFT) {
        /* A tombstone at the member's own incarnation: gossip carries it
         * everywhere (left outranks dead), and a member that is in fact
         * alive refutes it with a higher incarnation and stays. */
        set_state(m, p, MBR_LEFT, now, out);
    }
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

enum mbr_status
mbr_load(struct mbr *m, const struct mbr_member *members, size_t n, size_t myself,
         int64_t now, struct mbr_out *out)
{
    size_t lost = out->lost;

    for (size_t i = 0; i < n; i++) {
        if (!member_valid(&members[i])) {
            return MBR_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct mbr_member *mm = &members[i];
        if (i == myself || strcmp(mm->id, m->self_id) == 0) {
            struct peer *self = self_peer(m);
            if (mm->incarnation >= self->m.incarnation) {
                struct mbr_member old = self->m;
                self->m.incarnation = inc_next(mm->incarnation);
                emit(m, out, MBR_EV_CHANGED, &self->m, old.state, old.incarnation);
            }
            continue;
        }
        struct mbr_record r = { 0 };
        memcpy(r.id, mm->id, sizeof r.id);
        memcpy(r.addr, mm->addr, sizeof r.addr);
        r.port = mm->port;
        r.bus_port = mm->bus_port;
        r.state = mm->state;
        r.incarnation = mm->incarnation;
        merge(m, &r, now, out);
    }
    return out->lost > lost ? MBR_ENOMEM : MBR_OK;
}

size_t
mbr_member_count(const struct mbr *m)
{
    return m->n;
}

bool
mbr_member_at(const struct mbr *m, size_t i, struct mbr_member *out)
{
    if (i >= m->n) {
        return false;
    }
    *out = m->peers[i].m;
    return true;
}

bool
mbr_member_find(const struct mbr *m, const char *id, struct mbr_member *out)
{
    struct peer *p;

    if (id == NULL || !mbr_id_valid(id, strnlen(id, MBR_ID_LEN + 1))) {
        return false;
    }
    if ((p = peer_find(m, id)) == NULL) {
        return false;
    }
    *out = p->m;
    return true;
}

void
mbr_self(const struct mbr *m, struct mbr_member *out)
{
    *out = self_peer(m)->m;
}

void
mbr_metrics_get(const struct mbr *m, struct mbr_metrics *out)
{
    *out = m->metrics;
}

/* ===========================================================================
 * nodes.conf
 * ======================================================================== */

size_t
mbr_conf_format(const struct mbr *m, char *buf, size_t cap)
{
    size_t len = 0;

    if (cap > 0) {
        buf[0] = '\0';
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct mbr_member *p = &m->peers[i].m;
        char line[160];
        int l = snprintf(line, sizeof line, "%s %s:%u@%u %s%s %llu\n", p->id, p->addr,
                         (unsigned)p->port, (unsigned)p->bus_port,
                         strcmp(p->id, m->self_id) == 0 ? "myself," : "",
                         state_names[p->state], (unsigned long long)p->incarnation);
        /* Whole lines only, so a cut file never parses as a shorter one
         * with a torn last member. */
        if (len + (size_t)l < cap) {
            memcpy(buf + len, line, (size_t)l + 1);
        } else if (len < cap) {
            buf[len] = '\0';
            cap = len; /* nothing after a cut line either */
        }
        len += (size_t)l;
    }
    return len;
}

/* Split "ip:port@bus" at the '@' and at the last ':' before it. */
static bool
conf_parse_addr(const char *p, size_t len, struct mbr_member *out)
{
    const char *at = memchr(p, '@', len), *colon = NULL;

    if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - p) - 1) != NULL) {
        return false;
    }
    for (const char *q = p; q < at; q++) {
        if (*q == ':') {
            colon = q;
        }
    }
    if (colon == NULL || !addr_valid(p, (size_t)(colon - p)) ||
        !parse_port(colon + 1, (size_t)(at - colon - 1), &out->port) ||
        !parse_port(at + 1, len - (size_t)(at - p) - 1, &out->bus_port)) {
        return false;
    }
    memcpy(out->addr, p, (size_t)(colon - p));
    out->addr[colon - p] = '\0';
    return true;
}

#define CONF_MAX_TOKENS 4

enum mbr_status
mbr_conf_parse(const char *text, size_t len, struct mbr_member *members, size_t cap,
               size_t *count, size_t *myself, unsigned *err_line)
{
    const char *p = text, *end = text + len;
    unsigned line_no = 0;
    size_t n = 0;
    bool have_myself = false;

    *count = 0;
    *err_line = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *tok[CONF_MAX_TOKENS];
        size_t toklen[CONF_MAX_TOKENS], ntok = 0;
        struct mbr_member mm = { 0 };
        bool me = false;
        int st;

        line_no++;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        for (const char *q = p; q < le;) {
            while (q < le && (*q == ' ' || *q == '\t')) {
                q++;
            }
            if (q == le) {
                break;
            }
            if (ntok == CONF_MAX_TOKENS) {
                ntok++; /* one too many is enough to know */
                break;
            }
            tok[ntok] = q;
            while (q < le && *q != ' ' && *q != '\t') {
                q++;
            }
            toklen[ntok] = (size_t)(q - tok[ntok]);
            ntok++;
        }
        p = eol ? eol + 1 : end;
        if (ntok == 0 || tok[0][0] == '#') {
            continue;
        }
        if (ntok != CONF_MAX_TOKENS || !mbr_id_valid(tok[0], toklen[0]) ||
            !conf_parse_addr(tok[1], toklen[1], &mm)) {
            goto bad;
        }
        if (toklen[2] > 7 && memcmp(tok[2], "myself,", 7) == 0) {
            me = true;
            tok[2] += 7;
            toklen[2] -= 7;
        }
        if ((st = mbr_state_parse(tok[2], toklen[2])) < 0 ||
            !parse_incarnation(tok[3], toklen[3], &mm.incarnation)) {
            goto bad;
        }
        memcpy(mm.id, tok[0], MBR_ID_LEN);
        mm.state = (enum mbr_state)st;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(members[i].id, mm.id) == 0) {
                goto bad;
            }
        }
        if (me && have_myself) {
            goto bad;
        }
        if (n == cap) {
            *err_line = line_no;
            return MBR_ETOOBIG;
        }
        if (me) {
            have_myself = true;
            *myself = n;
        }
        members[n++] = mm;
    }
    if (!have_myself) {
        return MBR_EPROTO; /* *err_line 0: the file as a whole */
    }
    *count = n;
    return MBR_OK;
bad:
    *err_line = line_no;
    return MBR_EPROTO;
}
