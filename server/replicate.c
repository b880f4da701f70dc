/*
 * server/replicate.c — replication's I/O side; see replicate.h. The
 * decisions (who is sent what, when a quorum is reached, hints, repairs)
 * are cluster/coord.c's; this file turns its actions into bus requests,
 * store calls and hint-log appends, and its outcomes into replies.
 *
 * A coordinated command (struct rop) goes through up to two phases, each a
 * coordination per key:
 *   read   read-modify-writes and reads with R > 1: ask R - 1 replicas for
 *          their version (the value only if newer than ours), install the
 *          newest copy here, repair stale replicas off the reply path;
 *   write  after the command ran here: send each changed key's new entry
 *          (value or tombstone, with its version) to the other replicas, or
 *          hinted to stand-ins, and answer once W copies hold it.
 * Plain SET, SETEX, PSETEX and MSET skip the read: they overwrite whatever
 * is there, and their version orders them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include <event2/event.h>

#include "cluster/coord.h"
#include "resp/reply.h"
#include "cluster/slots.h"
#include "cluster/version.h"
#include "resp/mcreader.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/log.h"
#include "server/memcache.h"
#include "server/rebalance.h"
#include "server/replicate.h"
#include "server/server.h"
#include "server/view.h"
#include "storage/hintlog.h"
#include "storage/store.h"

#define REPLAY_BATCH_BYTES (256 * 1024)
/* A read still waiting this long asks one more replica (a member that
 * stopped answering is not known dead for failure-detect-ms). The worker's
 * cron (hz) is the granularity. */
#define REPL_SLOW_MS 50

static struct {
    bool on;
    struct hlc hlc;
    struct hintlog *hints;
    bool versions_on;
    int64_t grace_ms;
    /* counters, bumped from any worker */
    _Atomic uint64_t writes, write_failures, reads, read_failures, read_repairs, conflicts,
        hints_sent, hints_kept, forwards_failed_over, rmw_reads, withdrawn, forwards_unsure;
} rp;

/* ---- levels ---------------------------------------------------------------*/

void
repl_levels(const struct client *c, const struct view *v, struct repl_levels *out)
{
    repl_levels_for(c != NULL ? c->cons_kind : CONS_DEFAULT, c != NULL ? c->cons_r : 0,
                    c != NULL ? c->cons_w : 0, v, out);
}

void
repl_levels_for(unsigned kind, unsigned cons_r, unsigned cons_w, const struct view *v,
                struct repl_levels *out)
{
    unsigned n = (unsigned)config_num(OPT_REPLICAS);
    unsigned r = (unsigned)config_num(OPT_READ_QUORUM), w = (unsigned)config_num(OPT_WRITE_QUORUM);

    if (v != NULL && n > v->ring_members) {
        n = (unsigned)v->ring_members;
    }
    if (n > RING_MAX_REPLICAS) {
        n = RING_MAX_REPLICAS;
    }
    if (n < 1) {
        n = 1;
    }
    switch (kind) {
    case CONS_ONE:
        r = w = 1;
        break;
    case CONS_QUORUM:
        r = w = n / 2 + 1;
        break;
    case CONS_ALL:
        r = w = n;
        break;
    case CONS_EXPLICIT:
        r = cons_r;
        w = cons_w;
        break;
    default:
        break;
    }
    out->n = n;
    out->r = r > n ? n : r < 1 ? 1 : r;
    out->w = w > n ? n : w < 1 ? 1 : w;
}

int
repl_coordinator(const struct view *v, uint16_t slot, bool write, unsigned n)
{
    size_t np = v->npref[slot] < n ? v->npref[slot] : n;

    if (!write) {
        for (size_t i = 0; i < np; i++) {
            if (v->pref[slot][i] == v->self) {
                return v->self;
            }
        }
    }
    for (size_t i = 0; i < np; i++) {
        if (view_up(v, v->pref[slot][i])) {
            return v->pref[slot][i];
        }
    }
    return -1;
}

bool
repl_replicates_all(const struct view *v, int m, unsigned n, const struct command *cmd,
                    int argc, const struct resp_arg *argv)
{
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;

    for (int i = cmd->first_key; i > 0 && i <= last && i < argc; i += cmd->step) {
        uint16_t slot = slots_keyslot(argv[i].p, argv[i].len);
        size_t np = v->npref[slot] < n ? v->npref[slot] : n;
        bool in = false;

        for (size_t k = 0; k < np; k++) {
            in |= v->pref[slot][k] == m;
        }
        if (!in) {
            return false;
        }
    }
    return true;
}

bool
repl_listing_begin(struct repl_listing *l)
{
    struct repl_levels lv;

    l->v = NULL;
    if (!cluster_enabled()) {
        return false;
    }
    l->v = view_get();
    repl_levels(NULL, l->v, &lv);
    l->n = lv.n;
    if (lv.n <= 1) {
        l->v = NULL;
        return false;
    }
    /* a KEYS over a large disk tier can outlast the view's grace */
    view_pin(l->v);
    return true;
}

void
repl_listing_end(struct repl_listing *l)
{
    view_release(&l->v);
}

bool
repl_listing_has(const struct repl_listing *l, const char *key, size_t klen)
{
    return repl_coordinator(l->v, slots_keyslot(key, klen), true, l->n) == l->v->self;
}

/* ---- the wire form of an entry --------------------------------------------*/

struct entry {
    uint64_t version;
    int64_t expire_ms; /* 0 = none */
    uint64_t mcmeta;   /* memcached's client flags and stale mark, 0 = none */
    bool tomb, present;
    const char *val;
    size_t vlen;
    char *own;         /* a fetched copy's bytes */
    struct item *it;   /* or the local item, pinned */
};

static void
entry_clear(struct entry *e)
{
    item_release(&e->it);
    free(e->own);
    memset(e, 0, sizeof *e);
}

/* The key's entry here, tombstones included. */
static void
entry_local(struct entry *e, const char *key, size_t klen, int64_t now)
{
    entry_clear(e);
    e->it = store_peek_entry(server.store, key, klen, now);
    if (e->it != NULL) {
        int64_t x = item_expire_ms(e->it);

        e->present = true;
        e->version = item_version(e->it);
        e->tomb = (e->it->flags & ITEM_F_TOMB) != 0;
        e->expire_ms = x > 0 && !e->tomb ? x : 0;
        e->val = item_value(e->it);
        e->vlen = e->it->vlen;
        e->mcmeta = item_mcmeta(e->it);
    }
}

/* argv for RC.PUT / RC.HINT of an entry: ... expire [value [mcmeta]]
 * (flags only when there are some); nums holds the numbers' text. */
static int
entry_argv(struct resp_arg *a, char nums[4][24], const char *owner, const char *key, size_t klen,
           const struct entry *e, uint64_t parent)
{
    int n = 0;

    if (owner != NULL) {
        a[n++] = (struct resp_arg){ "RC.HINT", 7 };
        a[n++] = (struct resp_arg){ owner, strlen(owner) };
    } else {
        a[n++] = (struct resp_arg){ "RC.PUT", 6 };
    }
    a[n++] = (struct resp_arg){ key, klen };
    a[n++] = (struct resp_arg){ nums[0], resp_i64_to_str(nums[0], (int64_t)e->version) };
    a[n++] = (struct resp_arg){ nums[1], resp_i64_to_str(nums[1], (int64_t)parent) };
    a[n++] = (struct resp_arg){ nums[2], resp_i64_to_str(nums[2], e->expire_ms) };
    if (!e->tomb) {
        a[n++] = (struct resp_arg){ e->val, e->vlen };
        if (e->mcmeta != 0) {
            a[n++] = (struct resp_arg){ nums[3], resp_i64_to_str(nums[3], e->mcmeta) };
        }
    }
    return n;
}

static void
hint_keep(const char *owner, const char *key, size_t klen, const struct entry *e, uint64_t parent,
          int64_t now)
{
    struct hint_rec r = { .key = key, .klen = klen, .val = e->val, .vlen = e->vlen,
                          .expire_ms = e->expire_ms, .version = e->version, .parent = parent,
                          .tomb = e->tomb, .created_ms = now, .mcmeta = e->mcmeta };

    if (rp.hints == NULL || hintlog_append(rp.hints, owner, &r) != HINT_OK) {
        log_msg(LOG_VERBOSE, "replication: a hint for %.40s was not kept", owner);
        return;
    }
    atomic_fetch_add_explicit(&rp.hints_kept, 1, memory_order_relaxed);
}

/* ---- a coordinated command --------------------------------------------------*/

enum { PH_READ, PH_WRITE };
enum { K_READ, K_BLIND, K_RMW };

struct rkey {
    const char *key;
    size_t klen;
    uint16_t slot;
    uint16_t stripe;          /* its write lock (keylock) */
    bool active, done;
    struct coord co;
    uint16_t who[COORD_MAX];  /* coordinator index -> view member */
    uint64_t parent;          /* the version the write replaced */
    struct entry best;        /* read: the newest copy seen; write: what is sent */
    /* A read-modify-write's: the entry it was made over (pinned), put back
     * if the write fails (lost); the owners whose hints wait for the
     * outcome (a bit each). */
    struct entry was;
    bool lost;
    uint32_t hints;
};

struct rop {
    struct client *c;
    const struct command *cmd;
    struct view *v;           /* pinned */
    bus_reply_fn *fn;
    void *ctx;
    enum resp_proto proto;
    unsigned n, w;
    bool write;               /* the command may change its keys */
    bool get;                 /* GET: answered from the read phase's copy */
    bool open;                /* in its read phase: later commands on its keys wait (order) */
    unsigned r;
    int kind, phase;
    int argc;
    struct resp_arg *argv;
    char *argbuf;
    int nkeys, pending;       /* keys whose coordination phase is not done */
    unsigned inflight;        /* bus requests not answered */
    bool failed, replied;
    unsigned fail_acks, fail_need;
    int64_t deadline, slow_at;
    bool hedged;
    bool locked;              /* holds its keys' write locks (keylock) */
    bool waiting;             /* queued for one (keywait) */
    uint16_t wait_stripe;
    struct rop *wait_next;
    struct event *retry;      /* runs it again when woken */
    struct resp_buf reply;
    struct rop *next, *prev;  /* the worker's ops, oldest first */
    struct rkey keys[];
};

struct rreq {
    struct rop *op;
    uint16_t k;
    uint8_t idx;
};

/* This worker's ops by deadline (every op gets the same timeout, so
 * creation order is deadline order). An op lives on its client's worker. */
static _Thread_local struct {
    struct rop *head, *tail;
} ops;

static int
classify(const struct command *cmd, int argc, const struct resp_arg *argv)
{
    if (!(cmd->flags & CMD_WRITE)) {
        return K_READ;
    }
    if (strcmp(cmd->name, "setex") == 0 || strcmp(cmd->name, "psetex") == 0 ||
        strcmp(cmd->name, "mset") == 0 ||
        (strcmp(cmd->name, "mc.store") == 0 && argc > 2 && arg_is(&argv[2], "set"))) {
        return K_BLIND;
    }
    if (strcmp(cmd->name, "mc.ms") == 0 && argc > 3) {
        /* a meta set in set mode, no CAS: a plain overwrite */
        struct mc_meta m;

        if (mc_meta_parse(MC_MS, argv[3].p, argv[3].len, true, &m) == NULL &&
            (m.mode == 0 || m.mode == 'S') && !mc_meta_has(&m, 'C')) {
            return K_BLIND;
        }
    }
    if (strcmp(cmd->name, "set") == 0) {
        for (int i = 3; i < argc; i++) {
            if (arg_is(&argv[i], "nx") || arg_is(&argv[i], "xx") || arg_is(&argv[i], "get") ||
                arg_is(&argv[i], "keepttl")) {
                return K_RMW;
            }
        }
        return K_BLIND;
    }
    return K_RMW;
}

static void op_maybe_free(struct rop *op);
static void op_step(struct rop *op);
static void op_start(struct rop *op);
struct fwd;
static void fwd_start(struct fwd *f);
static bool order_hold(struct client *c, struct rop *op, struct fwd *f, const struct command *cmd,
                       int argc, const struct resp_arg *argv);
static void order_open(struct client *c, struct rop *op, struct fwd *f);
static void order_done(struct client *c, const void *unit);

/* ---- one worker's read-modify-writes of a key at a time ----------------------
 * Two read-modify-writes of one key coordinated here by two worker threads
 * send their copies on two links, so a replica may get the second first and
 * refuse it: its parent is not what the replica holds (racing INCRs of one
 * counter through 8 connections answered NOREPLICAS). One worker's copies
 * share its links, which keep their order, and its ops run one callback at
 * a time. So a key's read-modify-writes apply here from one worker at a
 * time: a stripe (keys share them by hash) is held by one worker, by as
 * many of its ops as want it, from their local apply to the end of their
 * write phase. An op of another worker queues, marks the stripe wanted
 * (the holder then takes no new ops on it, so it drains) and is woken, on
 * its own worker, when the count falls to 0. Then a replica that
 * acknowledged the last holder's copies holds the next one's parent. Blind
 * writes take no stripe (a replica orders them by version). */
#define KEYLOCK_STRIPES 4096
#define KEYLOCK_QUEUES 64
#define KL_COUNT 0xffffu            /* holding ops */
#define KL_OWNER(v) ((v) >> 16 & 0xffu) /* holding worker + 1, 0 = free */
#define KL_WANTED (1u << 24)        /* another worker's op waits */
static _Atomic uint32_t keylock[KEYLOCK_STRIPES];
static struct {
    pthread_mutex_t mu;
    struct rop *head; /* by wait_next */
} keywait[KEYLOCK_QUEUES];

/* Key k is the first of the op's keys on its stripe. */
static bool
stripe_first(const struct rop *op, int k)
{
    for (int j = 0; j < k; j++) {
        if (op->keys[j].stripe == op->keys[k].stripe) {
            return false;
        }
    }
    return true;
}

/* Wake the writes waiting for a stripe (each runs again on its worker). */
static void
stripe_wake(uint16_t stripe)
{
    struct rop **pp;

    pthread_mutex_lock(&keywait[stripe % KEYLOCK_QUEUES].mu);
    for (pp = &keywait[stripe % KEYLOCK_QUEUES].head; *pp != NULL;) {
        struct rop *w = *pp;

        if (w->wait_stripe == stripe) {
            *pp = w->wait_next;
            w->waiting = false;
            event_active(w->retry, EV_TIMEOUT, 0); /* thread-safe: evthread */
        } else {
            pp = &w->wait_next;
        }
    }
    pthread_mutex_unlock(&keywait[stripe % KEYLOCK_QUEUES].mu);
}

/* The stripe can be taken by worker `me` (+ 1) in state v. */
static bool
stripe_takeable(uint32_t v, uint32_t me)
{
    return KL_OWNER(v) == 0 || (KL_OWNER(v) == me && !(v & KL_WANTED) && (v & KL_COUNT) < KL_COUNT);
}

static bool
stripe_take(uint16_t stripe, uint32_t me)
{
    uint32_t v = atomic_load_explicit(&keylock[stripe], memory_order_relaxed);

    while (stripe_takeable(v, me)) {
        uint32_t n = KL_OWNER(v) == 0 ? me << 16 | 1 : v + 1;

        if (atomic_compare_exchange_weak_explicit(&keylock[stripe], &v, n, memory_order_acquire,
                                                  memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

/* Only the holding worker gives back, so its count cannot rise meanwhile. */
static void
stripe_give(uint16_t stripe)
{
    uint32_t v = atomic_load_explicit(&keylock[stripe], memory_order_relaxed), n;

    do {
        n = (v & KL_COUNT) == 1 ? 0 : v - 1;
    } while (!atomic_compare_exchange_weak_explicit(&keylock[stripe], &v, n, memory_order_release,
                                                    memory_order_relaxed));
    if (n == 0 && (v & KL_WANTED)) {
        stripe_wake(stripe);
    }
}

static void
op_unlock_first(struct rop *op, int n)
{
    for (int k = 0; k < n; k++) {
        if (stripe_first(op, k)) {
            stripe_give(op->keys[k].stripe);
        }
    }
}

/* All of the op's stripes, or none and the one found taken in *busy. */
static bool
op_lock(struct rop *op, uint16_t *busy)
{
    uint32_t me = (uint32_t)op->c->w->idx + 1;

    for (int k = 0; k < op->nkeys; k++) {
        if (stripe_first(op, k) && !stripe_take(op->keys[k].stripe, me)) {
            op_unlock_first(op, k);
            *busy = op->keys[k].stripe;
            return false;
        }
    }
    op->locked = true;
    return true;
}

static void
op_unlock(struct rop *op)
{
    if (op->locked) {
        op->locked = false;
        op_unlock_first(op, op->nkeys);
    }
}

static void
op_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rop *op = arg;

    (void)fd;
    (void)what;
    op_step(op);
    op_maybe_free(op);
}

/* Queue the op for stripe; if it was freed meanwhile, it runs again now. */
static void
op_wait_lock(struct rop *op, uint16_t stripe)
{
    if (op->retry == NULL &&
        (op->retry = event_new(op->c->w->base, -1, 0, op_retry_cb, op)) == NULL) {
        op->failed = true; /* out of memory: fails as a timeout would */
        op_step(op);
        return;
    }
    pthread_mutex_lock(&keywait[stripe % KEYLOCK_QUEUES].mu);
    op->wait_stripe = stripe;
    op->waiting = true;
    op->wait_next = keywait[stripe % KEYLOCK_QUEUES].head;
    keywait[stripe % KEYLOCK_QUEUES].head = op;
    pthread_mutex_unlock(&keywait[stripe % KEYLOCK_QUEUES].mu);
    {
        uint32_t me = (uint32_t)op->c->w->idx + 1;
        uint32_t v = atomic_load_explicit(&keylock[stripe], memory_order_acquire);

        /* mark it wanted, unless it became takeable: then run again now */
        while (!stripe_takeable(v, me) && !(v & KL_WANTED) &&
               !atomic_compare_exchange_weak_explicit(&keylock[stripe], &v, v | KL_WANTED,
                                                      memory_order_acq_rel, memory_order_acquire)) {
        }
        if (stripe_takeable(v, me)) {
            stripe_wake(stripe); /* us included */
        }
    }
}

static void
op_reply(struct rop *op)
{
    char msg[160];

    if (op->replied) {
        return;
    }
    op->replied = true;
    op_unlock(op); /* its write phase is over */
    if (op->failed) {
        int n = snprintf(msg, sizeof msg,
                         op->phase == PH_WRITE
                             ? "-NOREPLICAS Not enough good replicas to write: %u of %u acknowledged (it may have reached some)\r\n"
                             : "-NOREPLICAS Not enough good replicas to read: %u of %u answered\r\n",
                         op->fail_acks, op->fail_need);
        atomic_fetch_add_explicit(op->phase == PH_WRITE ? &rp.write_failures : &rp.read_failures, 1,
                                  memory_order_relaxed);
        op->fn(op->ctx, msg, (size_t)n);
    } else {
        op->fn(op->ctx, op->reply.data + op->reply.pos, resp_buf_pending(&op->reply));
    }
}

static void send_done(void *ctx, const char *reply, size_t len);

static bool
op_send(struct rop *op, int k, int idx, int argc, const struct resp_arg *argv)
{
    struct rkey *rk = &op->keys[k];
    const struct view_member *m = &op->v->m[rk->who[idx]];
    struct bus_link *l = cluster_worker_link(op->c->w, m);
    struct rreq *rq = malloc(sizeof *rq);

    rq->op = op;
    rq->k = (uint16_t)k;
    rq->idx = (uint8_t)idx;
    /* the bus deadline is past the op's own: the op times out first */
    if (l == NULL || !bus_link_send(l, argc, argv, op->deadline + 1000, send_done, rq)) {
        free(rq);
        return false;
    }
    op->inflight++;
    return true;
}

static void key_acts(struct rop *op, int k, size_t n, const struct coord_act *acts);
static void key_settle(struct rop *op, int k);

/* A send that could not even be queued fails at once. */
static void
send_or_fail(struct rop *op, int k, int idx, int argc, const struct resp_arg *argv)
{
    if (!op_send(op, k, idx, argc, argv)) {
        struct coord_act acts[COORD_MAX_ACTS];
        key_acts(op, k, coord_on_reply(&op->keys[k].co, (size_t)idx, false, 0, acts), acts);
    }
}

static void
key_acts(struct rop *op, int k, size_t n, const struct coord_act *acts)
{
    struct rkey *rk = &op->keys[k];

    for (size_t i = 0; i < n; i++) {
        const struct coord_act *a = &acts[i];
        const struct view_member *to = &op->v->m[rk->who[a->to]];
        struct resp_arg argv[8];
        char nums[4][24], ver[24];
        int argc;

        switch (a->kind) {
        case COORD_PUT:
            argc = entry_argv(argv, nums, NULL, rk->key, rk->klen, &rk->best, rk->parent);
            if (op->kind == K_RMW) {
                /* made from what the read found: refused where another
                 * coordinator's write, unseen here, got in first */
                argv[0] = (struct resp_arg){ "RC.PUTIF", 8 };
            }
            send_or_fail(op, k, a->to, argc, argv);
            break;
        case COORD_HINT:
            argc = entry_argv(argv, nums, op->v->m[rk->who[a->owner]].id, rk->key, rk->klen,
                              &rk->best, rk->parent);
            atomic_fetch_add_explicit(&rp.hints_sent, 1, memory_order_relaxed);
            send_or_fail(op, k, a->to, argc, argv);
            break;
        case COORD_KEEP_HINT:
            if (op->kind == K_RMW && !rk->done) {
                rk->hints |= 1u << a->owner; /* key_settle keeps it if it succeeds */
                break;
            }
            if (op->kind == K_RMW && rk->lost) {
                break; /* withdrawn: its hint would bring it back */
            }
            hint_keep(op->v->m[rk->who[a->owner]].id, rk->key, rk->klen, &rk->best, rk->parent,
                      op->c->now_ms);
            break;
        case COORD_GET:
            argv[0] = (struct resp_arg){ "RC.GET", 6 };
            argv[1] = (struct resp_arg){ rk->key, rk->klen };
            argv[2] = (struct resp_arg){ ver, resp_i64_to_str(ver, (int64_t)rk->co.m[rk->co.self].version) };
            send_or_fail(op, k, a->to, 3, argv);
            break;
        case COORD_REPAIR:
            atomic_fetch_add_explicit(&rp.read_repairs, 1, memory_order_relaxed);
            if (a->to == rk->co.self) {
                if (rk->best.present) {
                    store_apply_if(server.store, rk->key, rk->klen, rk->best.val, rk->best.vlen,
                                   rk->best.expire_ms, rk->best.mcmeta, rk->best.tomb,
                                   rk->best.version, STORE_IF_NEWER, 0, op->c->now_ms, NULL, NULL);
                }
            } else if (rk->best.present) {
                /* off the reply path: nobody waits for its answer */
                struct bus_link *l = cluster_worker_link(op->c->w, to);
                argc = entry_argv(argv, nums, NULL, rk->key, rk->klen, &rk->best, 0);
                if (l != NULL) {
                    bus_link_send(l, argc, argv, op->c->now_ms + 1000, NULL, NULL);
                }
            }
            break;
        case COORD_DONE:
            rk->done = true;
            rk->lost = !a->ok && rk->co.kind == COORD_WRITE;
            if (rk->co.kind == COORD_WRITE) {
                key_settle(op, k);
            }
            op->pending--;
            if (!a->ok && !op->failed) {
                op->failed = true;
                op->fail_acks = a->acks;
                op->fail_need = rk->co.need;
            }
            break;
        }
    }
}

bool
repl_reply_ll(const struct resp_arg *el, long long *out)
{
    struct resp_arg digits = { el->p + 1, el->len - 3 };

    return el->len >= 4 && el->p[0] == ':' && arg_ll(&digits, out);
}

bool
repl_reply_bulk(const struct resp_arg *el, struct resp_arg *out)
{
    const char *body = el->len >= 4 && el->p[0] == '$' && el->p[1] != '-'
                           ? memchr(el->p, '\n', el->len) : NULL;

    if (body == NULL || (size_t)(++body - el->p) + 2 > el->len) {
        return false;
    }
    *out = (struct resp_arg){ body, el->len - (size_t)(body - el->p) - 2 };
    return true;
}

/* Parse RC.GET's answer into the key's newest copy. */
static bool
parse_get(const char *reply, size_t len, uint64_t *version, struct entry *e)
{
    struct resp_arg el[4];
    long n = resp_reply_elements(reply, len, el, 4);
    long long v, x, f = 0;

    if (n != 1 && n != 3 && n != 4) {
        return false;
    }
    if (!repl_reply_ll(&el[0], &v)) {
        return false;
    }
    *version = (uint64_t)v;
    if (n >= 3 && e != NULL) {
        struct resp_arg body;

        if (!repl_reply_ll(&el[1], &x) || (n == 4 && !repl_reply_ll(&el[3], &f))) {
            return false;
        }
        entry_clear(e);
        e->present = true;
        e->version = (uint64_t)v;
        e->expire_ms = x;
        e->mcmeta = (uint64_t)f;
        e->tomb = !repl_reply_bulk(&el[2], &body);
        if (!e->tomb) {
            e->vlen = body.len;
            e->own = malloc(e->vlen ? e->vlen : 1);
            memcpy(e->own, body.p, e->vlen);
            e->val = e->own;
        }
    }
    return true;
}

/* A read-modify-write's write phase is over. Succeeded: the hints it held
 * back are kept. Failed: it is withdrawn. Its copies (ours, and any replica
 * that took it) would otherwise outlive the failure and, newer by the total
 * order, overwrite at the next repair or hint replay a write acknowledged
 * meanwhile by the other side of a partition, or by the replica that
 * refused it: an acknowledged INCR lost. Every replica still holding our
 * version, ourselves included, gets the entry it was made over back
 * (RC.REPLACE, guarded: a later write is never undone), sent on the link
 * its write went by, so after it. Not reached: a stand-in's hint (none with
 * N members), and a key that was absent (there is no older entry). */
static void
key_settle(struct rop *op, int k)
{
    struct rkey *rk = &op->keys[k];
    struct resp_arg argv[8];
    char nums[4][24];
    int argc;

    if (op->kind != K_RMW) {
        return;
    }
    if (!rk->lost) {
        for (size_t i = 0; i < COORD_MAX; i++) {
            if (rk->hints >> i & 1) {
                hint_keep(op->v->m[rk->who[i]].id, rk->key, rk->klen, &rk->best, rk->parent,
                          op->c->now_ms);
            }
        }
        rk->hints = 0;
        return;
    }
    rk->hints = 0;
    if (!rk->was.present) {
        return;
    }
    atomic_fetch_add_explicit(&rp.withdrawn, 1, memory_order_relaxed);
    store_apply_if(server.store, rk->key, rk->klen, rk->was.val, rk->was.vlen, rk->was.expire_ms,
                   rk->was.mcmeta, rk->was.tomb, rk->was.version, STORE_IF_REPLACES, rk->best.version,
                   op->c->now_ms, NULL, NULL);
    argc = entry_argv(argv, nums, NULL, rk->key, rk->klen, &rk->was, rk->best.version);
    argv[0] = (struct resp_arg){ "RC.REPLACE", 10 };
    for (size_t i = 0; i < rk->co.n; i++) {
        struct bus_link *l;

        if (i != rk->co.self && (l = cluster_worker_link(op->c->w, &op->v->m[rk->who[i]])) != NULL) {
            bus_link_send(l, argc, argv, op->c->now_ms + 1000, NULL, NULL);
        }
    }
}

static void
send_done(void *ctx, const char *reply, size_t len)
{
    struct rreq *rq = ctx;
    struct rop *op = rq->op;
    struct rkey *rk = &op->keys[rq->k];
    struct coord_act acts[COORD_MAX_ACTS];
    uint64_t version = 0;
    bool ok = reply != NULL && len > 0 && reply[0] != '-', refused = false;

    op->inflight--;
    if (ok && op->phase == PH_READ && rk->co.kind == COORD_READ) {
        struct entry fetched = { 0 };

        ok = parse_get(reply, len, &version, &fetched);
        if (ok && fetched.present && version > rk->co.best_version) {
            entry_clear(&rk->best);
            rk->best = fetched;
        } else {
            entry_clear(&fetched);
        }
    } else if (ok && reply[0] == '*') {
        refused = true; /* RC.PUTIF: the replica holds a write this one never saw */
    } else if (ok && reply[0] == ':') {
        struct resp_arg el = { reply, len };
        long long v;
        version = repl_reply_ll(&el, &v) && v > 0 ? (uint64_t)v : 0;
    }
    if (version != 0) {
        hlc_observe(&rp.hlc, version);
    }
    {
        int k = rq->k, idx = rq->idx;
        free(rq);
        key_acts(op, k, refused ? coord_on_refusal(&rk->co, (size_t)idx, acts)
                                : coord_on_reply(&rk->co, (size_t)idx, ok, version, acts), acts);
    }
    op_step(op);
    op_maybe_free(op);
}

/* Set up key k's coordination of the given kind. */
static void
key_begin(struct rop *op, int k, enum coord_kind kind, size_t need, uint64_t self_version)
{
    struct rkey *rk = &op->keys[k];
    struct coord_member m[COORD_MAX];
    size_t np = op->v->npref[rk->slot], self = 0;
    struct coord_act acts[COORD_MAX_ACTS];

    for (size_t i = 0; i < np; i++) {
        rk->who[i] = op->v->pref[rk->slot][i];
        m[i].up = view_up(op->v, rk->who[i]);
        if (rk->who[i] == op->v->self) {
            self = i;
        }
    }
    coord_init(&rk->co, kind, m, np, self, op->n, need, self_version);
    if (kind == COORD_READ && rebalance_slot_incomplete(rk->slot)) {
        coord_self_uncounted(&rk->co);
    }
    rk->active = true;
    rk->done = false;
    op->pending++;
    key_acts(op, k, coord_start(&rk->co, acts), acts);
}

/* Run the command here, capturing its reply. */
static void
op_execute(struct rop *op)
{
    struct client *c = op->c;

    for (int k = 0; op->write && k < op->nkeys; k++) {
        struct rkey *rk = &op->keys[k];

        entry_local(&rk->was, rk->key, rk->klen, c->now_ms);
        rk->parent = rk->was.version;
        if (op->kind != K_RMW) {
            entry_clear(&rk->was); /* a blind write is not withdrawn */
        }
    }
    commands_run_captured(c, op->proto, op->argc, op->argv, &op->reply);
}

/* GET's answer is the newest copy the read phase found, already in hand
 * (ours, pinned, or a replica's, just installed here): no second lookup and
 * no command run. Counted and touched as cmd_get does. Only strings exist,
 * so there is no type to check. */
static void
op_answer_get(struct rop *op)
{
    struct entry *e = &op->keys[0].best;
    struct client *c = op->c;

    commands_account(c, op->cmd, op->argc, op->argv, 0, false);
    if (e->present && !e->tomb && (e->expire_ms == 0 || e->expire_ms > c->now_ms)) {
        STAT_INC(c->w, keyspace_hits);
        if (e->it != NULL) {
            store_touch_item(e->it, c->now_ms);
        }
        resp_add_bulk(&op->reply, e->val, e->vlen);
    } else {
        STAT_INC(c->w, keyspace_misses);
        resp_add_null(&op->reply, op->proto);
    }
}

/* A read-modify-write has applied here (or failed): later commands of its
 * connection on its keys may start. */
static void
op_close(struct rop *op)
{
    if (op->open) {
        op->open = false;
        order_done(op->c, op);
    }
}

/* Advance the op when its current phase is over on every key. */
static void
op_step(struct rop *op)
{
    if (op->pending > 0 || op->replied) {
        return;
    }
    if (op->failed) {
        op_close(op);
        op_reply(op);
        return;
    }
    if (op->phase == PH_READ) {
        if (op->get) {
            op_answer_get(op);
            op_close(op);
            op_reply(op);
            return;
        }
        if (op->kind == K_RMW && !op->locked) {
            uint16_t busy;

            if (op->waiting) {
                return; /* woken when its stripe is free */
            }
            if (!op_lock(op, &busy)) {
                op_wait_lock(op, busy); /* another of its keys is on its way */
                return;
            }
        }
        /* every key's newest copy is installed here (REPAIR to self) */
        op_execute(op);
        if (op->kind == K_READ) {
            op_close(op);
            op_reply(op);
            return;
        }
        op->phase = PH_WRITE;
        for (int k = 0; k < op->nkeys; k++) {
            struct rkey *rk = &op->keys[k];

            entry_clear(&rk->best);
            entry_local(&rk->best, rk->key, rk->klen, op->c->now_ms);
            if (rk->best.version != rk->parent && rk->best.present) {
                atomic_fetch_add_explicit(&rp.writes, 1, memory_order_relaxed);
                key_begin(op, k, COORD_WRITE, op->w, rk->best.version);
            }
        }
        /* applied here and its new copies taken: commands held behind it
         * may run */
        op_close(op);
        op_step(op);
        return;
    }
    op_reply(op);
}

static void
op_unlink(struct rop *op)
{
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        ops.head = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    } else {
        ops.tail = op->prev;
    }
}

static void
op_maybe_free(struct rop *op)
{
    struct client *c = op->c;

    if (!op->replied || op->inflight > 0) {
        return;
    }
    for (int k = 0; k < op->nkeys; k++) {
        if (op->keys[k].active && !coord_finished(&op->keys[k].co)) {
            return;
        }
    }
    if (c->last_write_op == op) {
        /* WAIT after this op sees its final count */
        unsigned acks = 0;
        for (int k = 0; k < op->nkeys; k++) {
            unsigned a = op->keys[k].active ? coord_acks(&op->keys[k].co) : op->w;
            acks = k == 0 || a < acks ? a : acks;
        }
        c->last_write_acks = acks;
        c->last_write_op = NULL;
    }
    op_unlink(op);
    if (op->retry != NULL) {
        event_free(op->retry);
    }
    for (int k = 0; k < op->nkeys; k++) {
        entry_clear(&op->keys[k].best);
        entry_clear(&op->keys[k].was);
    }
    resp_buf_deinit(&op->reply);
    view_release(&op->v);
    free(op->argv);
    free(op->argbuf);
    free(op);
    client_wait_done(c);
}

static struct rop *op_new(struct client *c, const struct command *cmd, int argc,
                          const struct resp_arg *argv, unsigned r, unsigned w, bus_reply_fn *fn,
                          void *ctx);

void
repl_call(struct client *c, const struct command *cmd, int argc, const struct resp_arg *argv,
          unsigned r, unsigned w, bus_reply_fn *fn, void *ctx)
{
    struct rop *op = op_new(c, cmd, argc, argv, r, w, fn, ctx);

    if (!order_hold(c, op, NULL, cmd, argc, argv)) {
        op_start(op);
    }
}

/* The op for a command, not started. */
static struct rop *
op_new(struct client *c, const struct command *cmd, int argc, const struct resp_arg *argv,
       unsigned r, unsigned w, bus_reply_fn *fn, void *ctx)
{
    int first = cmd->first_key, last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int nkeys = 0;
    size_t bytes = 0;
    struct rop *op;
    char *p;

    for (int i = first; i > 0 && i <= last && i < argc; i += cmd->step) {
        nkeys++;
    }
    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    op = calloc(1, sizeof *op + (size_t)nkeys * sizeof op->keys[0]);
    op->argv = malloc((size_t)argc * sizeof *op->argv);
    op->argbuf = malloc(bytes ? bytes : 1);
    p = op->argbuf;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        op->argv[i] = (struct resp_arg){ p, argv[i].len };
        p += argv[i].len;
    }
    op->argc = argc;
    op->c = c;
    op->cmd = cmd;
    op->v = view_pin(view_get());
    op->write = (cmd->flags & CMD_WRITE) != 0;
    op->fn = fn;
    op->ctx = ctx;
    op->proto = c->proto;
    op->w = w;
    {
        struct repl_levels lv;
        repl_levels(NULL, op->v, &lv);
        op->n = lv.n;
    }
    op->kind = classify(cmd, argc, argv);
    op->nkeys = nkeys;
    op->r = r;
    c->waiting++; /* the op runs the command on c, maybe later */
    for (int i = first, k = 0; k < nkeys; i += cmd->step, k++) {
        op->keys[k].key = op->argv[i].p;
        op->keys[k].klen = op->argv[i].len;
        op->keys[k].slot = slots_keyslot(op->argv[i].p, op->argv[i].len);
        op->keys[k].stripe =
            (uint16_t)(XXH3_64bits(op->argv[i].p, op->argv[i].len) % KEYLOCK_STRIPES);
    }
    op->get = r > 1 && strcmp(cmd->name, "get") == 0;
    if (cmd->flags & CMD_WRITE) {
        c->last_write_op = op;
        c->last_write_acks = 0;
    }
    return op;
}

/* Run the op: its read phase, or at once the command and its write phase. */
static void
op_start(struct rop *op)
{
    struct client *c = op->c;

    /* now, not the command's arrival: a failed-over forward or a held
     * command starts late */
    c->now_ms = now_ms();
    op->deadline = c->now_ms + config_num(OPT_QUORUM_TIMEOUT_MS);
    op->slow_at = c->now_ms + REPL_SLOW_MS;
    op->prev = ops.tail;
    if (ops.tail != NULL) {
        ops.tail->next = op;
    } else {
        ops.head = op;
    }
    ops.tail = op;
    op->phase = PH_READ;
    if (op->r > 1 && op->kind != K_BLIND) {
        if (op->kind == K_RMW) {
            atomic_fetch_add_explicit(&rp.rmw_reads, 1, memory_order_relaxed);
            /* it writes after reading: later commands on its keys wait */
            op->open = true;
            order_open(c, op, NULL);
        } else {
            atomic_fetch_add_explicit(&rp.reads, 1, memory_order_relaxed);
            /* a write sent after it must not reach the replicas it asks
             * first: the write waits for its answer */
            op->open = true;
            order_open(c, op, NULL);
        }
        for (int k = 0; k < op->nkeys; k++) {
            struct entry e = { 0 };
            entry_local(&e, op->keys[k].key, op->keys[k].klen, c->now_ms);
            op->keys[k].best = e; /* the newest seen so far: ours */
            key_begin(op, k, COORD_READ, op->r, e.version);
        }
    }
    op_step(op);
    op_maybe_free(op);
}

void
repl_worker_cron(int64_t now)
{
    for (struct rop *op = ops.head, *next; op != NULL && op->slow_at <= now; op = next) {
        next = op->next;
        if (op->hedged || op->phase != PH_READ) {
            continue;
        }
        op->hedged = true;
        for (int k = 0; k < op->nkeys; k++) {
            struct coord_act acts[COORD_MAX_ACTS];

            if (op->keys[k].active && !op->keys[k].done) {
                key_acts(op, k, coord_on_slow(&op->keys[k].co, acts), acts);
            }
        }
    }

    for (struct rop *op = ops.head, *next; op != NULL && op->deadline <= now; op = next) {
        next = op->next;
        for (int k = 0; k < op->nkeys; k++) {
            struct rkey *rk = &op->keys[k];
            struct coord_act acts[COORD_MAX_ACTS];

            if (rk->active && !rk->co.expired) {
                key_acts(op, k, coord_on_timeout(&rk->co, acts), acts);
            }
        }
        op_step(op);
        op_maybe_free(op);
    }
}

/* ---- forwarding to the coordinator ------------------------------------------*/

struct fwd {
    struct client *c;
    struct view *v;            /* pinned */
    const struct command *cmd;
    int argc;
    struct resp_arg *argv;     /* RC.CALL proto r w deadline, then the command */
    char *argbuf, nums[4][24];
    uint16_t slot;
    unsigned n, r, w;
    int tried[RING_MAX_REPLICAS], ntried;
    int to;                    /* the coordinator chosen first */
    bus_reply_fn *fn;
    void *ctx;
};

static void fwd_try(struct fwd *f);
static void fwd_done(void *ctx, const char *reply, size_t len);

/* ---- a connection's order ------------------------------------------------------
 * A client's pipelined commands run concurrently once routed: coordinated
 * here (an rop) or forwarded to their coordinator (a fwd). Redis runs them
 * one after another, so a command must not start while an earlier command
 * of the same connection that writes one of its keys is not done: a
 * read-modify-write here still in its read phase (a blind write applies at
 * once), or a write forwarded and not answered yet; nor may a write start
 * while an earlier quorum read of its keys waits for replicas, which the
 * write could reach first. Such a command is held,
 * and so is everything the connection sends after it until it starts:
 * held commands start in order once nothing unfinished touches the first
 * one's keys. Keys compare by hash: a collision only holds a command
 * needlessly. Owner: the client's worker. */

struct repl_unit {
    struct repl_unit *next;
    struct rop *op;            /* the command: one of op and f */
    struct fwd *f;
    bool write;                /* reads hold only writes back */
    int nh;
    uint64_t h[];              /* its keys' hashes */
};

static struct repl_unit *
unit_new(struct rop *op, struct fwd *f, const struct command *cmd, int argc,
         const struct resp_arg *argv)
{
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key, n = 0;
    struct repl_unit *u;

    for (int i = cmd->first_key; i > 0 && i <= last && i < argc; i += cmd->step) {
        n++;
    }
    u = malloc(sizeof *u + (size_t)n * sizeof u->h[0]);
    u->next = NULL;
    u->op = op;
    u->f = f;
    u->write = (cmd->flags & CMD_WRITE) != 0;
    u->nh = 0;
    for (int i = cmd->first_key; i > 0 && i <= last && i < argc; i += cmd->step) {
        u->h[u->nh++] = XXH3_64bits(argv[i].p, argv[i].len);
    }
    return u;
}

/* Many keys (a large MSET) compare as sharing: holding a command needlessly
 * is safe, and the comparison stays small. */
#define UNIT_MAX_COMPARE 32

static bool
units_share(const struct repl_unit *list, const struct repl_unit *u)
{
    for (const struct repl_unit *o = list; o != NULL; o = o->next) {
        if (!o->write && !u->write) {
            continue; /* two reads: either order answers the same */
        }
        if (o->nh > UNIT_MAX_COMPARE || u->nh > UNIT_MAX_COMPARE) {
            return true;
        }
        for (int i = 0; i < o->nh; i++) {
            for (int j = 0; j < u->nh; j++) {
                if (o->h[i] == u->h[j]) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* Hold the command (true) if an earlier, unfinished write of c's touches
 * its keys, or if anything of c's is held already (held commands start in
 * order: one waiting on a key keeps the connection's later ones behind it,
 * as Redis runs a connection's commands one at a time); else the caller
 * starts it. A member's bus connection is not ordered: the forwarding
 * member already orders each client's commands, and a call held here could
 * start past the deadline its forwarder gave it. */
static bool
order_hold(struct client *c, struct rop *op, struct fwd *f, const struct command *cmd, int argc,
           const struct resp_arg *argv)
{
    struct repl_unit *u, **tail;

    if ((c->flags & CLIENT_BUS) || (c->repl_open == NULL && c->repl_held == NULL)) {
        return false; /* the common case: nothing to compare */
    }
    u = unit_new(op, f, cmd, argc, argv);
    if (c->repl_held == NULL && !units_share(c->repl_open, u)) {
        free(u);
        return false;
    }
    for (tail = &c->repl_held; *tail != NULL; tail = &(*tail)->next) {
    }
    *tail = u;
    return true;
}

/* A write that has started and is not done: commands after it on its keys
 * wait for order_done. */
static void
order_open(struct client *c, struct rop *op, struct fwd *f)
{
    struct repl_unit *u;

    if (c->flags & CLIENT_BUS) {
        return;
    }
    u = op != NULL ? unit_new(op, NULL, op->cmd, op->argc, op->argv)
                   : unit_new(NULL, f, f->cmd, f->argc - 5, f->argv + 5);

    u->next = c->repl_open;
    c->repl_open = u;
}

/* unit (an rop or fwd) is done: start held commands from the first, while
 * no unfinished write touches the first's keys. Starting one may finish
 * others at once (a failed send): the outer call goes on, the inner ones
 * only unlink. */
static void
order_done(struct client *c, const void *unit)
{
    for (struct repl_unit **pp = &c->repl_open; *pp != NULL; pp = &(*pp)->next) {
        struct repl_unit *u = *pp;
        if (u->op == unit || u->f == unit) {
            *pp = u->next;
            free(u);
            break;
        }
    }
    if (c->repl_releasing) {
        return;
    }
    c->repl_releasing = true;
    while (c->repl_held != NULL && !units_share(c->repl_open, c->repl_held)) {
        struct repl_unit *u = c->repl_held;

        c->repl_held = u->next;
        if (u->op != NULL) {
            op_start(u->op);
        } else {
            fwd_start(u->f);
        }
        free(u);
    }
    c->repl_releasing = false;
}

/* Each attempt gets a fresh call deadline; the link waits for the answer
 * that long plus the coordinator's quorum timeout. */
static bool
fwd_send(struct fwd *f, struct bus_link *l)
{
    int64_t now = now_ms(), call_ms = config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS);

    if (l == NULL) {
        return false;
    }
    f->argv[4].len = resp_i64_to_str(f->nums[3], now + call_ms);
    return bus_link_send(l, f->argc, f->argv, now + call_ms + config_num(OPT_QUORUM_TIMEOUT_MS),
                         fwd_done, f);
}

/* The forward is over: its client stops waiting for it (which may free a
 * client that has gone), then the forward goes. */
static void
fwd_end(struct fwd *f)
{
    if (f->cmd->flags & CMD_WRITE) {
        order_done(f->c, f);
    }
    client_wait_done(f->c);
    view_release(&f->v);
    free(f->argv);
    free(f->argbuf);
    free(f);
}

static void
fwd_done(void *ctx, const char *reply, size_t len)
{
    struct fwd *f = ctx;

    if (reply == NULL && len != BUS_UNSENT &&
        classify(f->cmd, f->argc - 5, f->argv + 5) == K_RMW) {
        /* it may have run there: run again elsewhere, an INCR would count
         * twice (a blind write or a read repeats harmlessly) */
        static const char err[] =
            "-NOREPLICAS The coordinator did not answer: the write may have been applied\r\n";
        atomic_fetch_add_explicit(&rp.forwards_unsure, 1, memory_order_relaxed);
        f->fn(f->ctx, err, sizeof err - 1);
        fwd_end(f);
        return;
    }
    if (reply == NULL) {
        /* the link broke (a reset at once for a killed member), the
         * deadline passed, or the request never left: the next replica
         * coordinates */
        atomic_fetch_add_explicit(&rp.forwards_failed_over, 1, memory_order_relaxed);
        fwd_try(f);
        return;
    }
    if ((f->cmd->flags & CMD_WRITE) && reply[0] != '-') {
        /* the coordinator answered after W copies: at least that many */
        f->c->last_write_op = NULL;
        f->c->last_write_acks = f->w;
    }
    f->fn(f->ctx, reply, len);
    fwd_end(f);
}

static void
fwd_try(struct fwd *f)
{
    struct view *v = f->v;
    size_t np = v->npref[f->slot] < f->n ? v->npref[f->slot] : f->n;

    for (size_t i = 0; i < np; i++) {
        int m = v->pref[f->slot][i];
        bool tried = false;

        for (int t = 0; t < f->ntried; t++) {
            tried |= f->tried[t] == m;
        }
        if (tried || !view_up(v, m)) {
            continue;
        }
        f->tried[f->ntried++] = m;
        if (m == v->self) {
            /* it had its turn: it starts now, in the forward's place, not
             * behind what the connection sent after it */
            op_start(op_new(f->c, f->cmd, f->argc - 5, f->argv + 5, f->r, f->w, f->fn, f->ctx));
            fwd_end(f);
            return;
        }
        struct bus_link *l = cluster_worker_link(f->c->w, &v->m[m]);
        if (fwd_send(f, l)) {
            return;
        }
    }
    {
        static const char err[] = "-CLUSTERDOWN Hash slot not served\r\n";
        f->fn(f->ctx, err, sizeof err - 1);
    }
    fwd_end(f);
}

void
repl_forward(struct client *c, struct view *v, int to, uint16_t slot, const struct command *cmd,
             int argc, const struct resp_arg *argv, unsigned r, unsigned w, bus_reply_fn *fn,
             void *ctx)
{
    struct fwd *f = calloc(1, sizeof *f);
    struct repl_levels lv;
    size_t bytes = 0;
    char *p;

    repl_levels(c, v, &lv);
    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    f->c = c;
    f->v = view_pin(v);
    f->cmd = cmd;
    f->slot = slot;
    f->n = lv.n;
    f->r = r;
    f->w = w;
    f->fn = fn;
    f->ctx = ctx;
    f->argc = argc + 5;
    f->argv = malloc((size_t)f->argc * sizeof *f->argv);
    f->argbuf = malloc(bytes ? bytes : 1);
    f->argv[0] = (struct resp_arg){ "RC.CALL", 7 };
    f->nums[0][0] = (char)('0' + c->proto);
    f->argv[1] = (struct resp_arg){ f->nums[0], 1 };
    f->argv[2] = (struct resp_arg){ f->nums[1], resp_i64_to_str(f->nums[1], r) };
    f->argv[3] = (struct resp_arg){ f->nums[2], resp_i64_to_str(f->nums[2], w) };
    /* The coordinator refuses the call past this time, when we may have
     * given up on it and run it elsewhere: a call that sat in a paused
     * member's socket must not run when the member wakes, with a version
     * newer than what the client wrote since. */
    f->argv[4] = (struct resp_arg){ f->nums[3], resp_i64_to_str(f->nums[3], now_ms() +
                                                                config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS)) };
    p = f->argbuf;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        f->argv[5 + i] = (struct resp_arg){ p, argv[i].len };
        p += argv[i].len;
    }
    f->to = to;
    c->waiting++;
    if (cmd->flags & CMD_WRITE) {
        c->last_write_op = NULL;
        c->last_write_acks = 0;
    }
    if (!order_hold(c, NULL, f, cmd, argc, argv)) {
        fwd_start(f);
    }
}

static void
fwd_start(struct fwd *f)
{
    struct view *v = f->v;

    if (f->cmd->flags & CMD_WRITE) {
        order_open(f->c, NULL, f); /* done when answered (fwd_end) */
    }
    /* the chosen coordinator first, then the rest of the list in order */
    if (f->to >= 0 && f->to != v->self) {
        struct bus_link *l = cluster_worker_link(f->c->w, &v->m[f->to]);
        f->tried[f->ntried++] = f->to;
        if (fwd_send(f, l)) {
            return;
        }
    }
    fwd_try(f);
}

/* ---- the replica side of the bus ---------------------------------------------*/

static bool
arg_u64(const struct resp_arg *a, uint64_t *out)
{
    long long v;

    if (!arg_ll(a, &v) || v < 0) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

struct bus_slot {
    struct client *c;
    struct reply_slot *slot;
};

/* A bus client's reply, in its request order. */
static void
bus_slot_done(void *ctx, const char *reply, size_t len)
{
    struct bus_slot *bs = ctx;

    resp_add_raw(&bs->slot->buf, reply, len);
    if (client_wait_done(bs->c)) {
        client_slot_done(bs->c, bs->slot);
        client_wake(bs->c);
    }
    free(bs);
}

void
repl_bus_call(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct command *cmd;
    long long r, w, deadline;
    struct view *v = view_get();
    struct repl_levels lv;
    struct bus_slot *bs;

    if (argc < 6 || argv[1].len != 1 || (argv[1].p[0] != '2' && argv[1].p[0] != '3') ||
        !arg_ll(&argv[2], &r) || !arg_ll(&argv[3], &w) || r < 1 || w < 1 || r > 5 || w > 5 ||
        !arg_ll(&argv[4], &deadline) ||
        (cmd = commands_lookup(argv[5].p, argv[5].len)) == NULL || cmd->first_key <= 0 ||
        argc - 5 <= cmd->first_key) {
        reply_error(c, "ERR malformed RC.CALL");
        return;
    }
    if (now_ms() > deadline) {
        /* the forwarder has given up on it and may have run it elsewhere */
        reply_error(c, "TRYAGAIN The call's deadline passed before it ran");
        return;
    }
    repl_levels(NULL, v, &lv);
    if (!repl_replicates_all(v, v->self, lv.n, cmd, argc - 5, argv + 5)) {
        /* our views disagree on placement; the forwarder tries no further */
        reply_error(c, "TRYAGAIN This member does not replicate the keys' slots");
        return;
    }
    bs = malloc(sizeof *bs);
    bs->c = c;
    bs->slot = client_slot_push(c);
    c->waiting++;
    {
        enum resp_proto saved = c->proto;
        c->proto = (enum resp_proto)(argv[1].p[0] - '0');
        repl_call(c, cmd, argc - 5, argv + 5, (unsigned)r, (unsigned)w, bus_slot_done, bs);
        c->proto = saved;
    }
}

/* RC.PUT, RC.PUTIF and RC.REPLACE key version parent expire [value [mcmeta]]: a
 * replica write; a read-modify-write's, refused (answered *1 :<version
 * held>, an array where an ack is an integer) when this member holds a
 * write it was not made over; a lost write's withdrawal (parent: the
 * version withdrawn). */
void
repl_bus_put(struct client *c, int argc, const struct resp_arg *argv)
{
    enum store_guard guard = arg_is(&argv[0], "rc.putif")     ? STORE_IF_FOLLOWS
                             : arg_is(&argv[0], "rc.replace") ? STORE_IF_REPLACES
                                                              : STORE_IF_NEWER;
    uint64_t ver, parent, cur = 0, prev = 0, mcflags = 0;
    long long exp;

    if (argc < 5 || argc > 7 || !arg_u64(&argv[2], &ver) || !arg_u64(&argv[3], &parent) ||
        !arg_ll(&argv[4], &exp) || ver == 0 || (argc == 7 && !arg_u64(&argv[6], &mcflags))) {
        reply_error(c, "ERR malformed RC.PUT");
        return;
    }
    c->now_ms = now_ms();
    hlc_observe(&rp.hlc, ver);
    switch (store_apply_if(server.store, argv[1].p, argv[1].len, argc >= 6 ? argv[5].p : NULL,
                           argc >= 6 ? argv[5].len : 0, exp, mcflags, argc == 5, ver,
                           guard, parent,
                           c->now_ms, &cur, &prev)) {
    case STORE_ENOMEM:
        reply_error(c, ERR_OOM);
        return;
    case STORE_ETOOBIG: /* not held here: no ack */
        reply_error(c, "ERR value is larger than this replica's proto-max-bulk-len");
        return;
    case STORE_ECONFLICT:
        atomic_fetch_add_explicit(&rp.conflicts, 1, memory_order_relaxed);
        resp_add_array(&c->out, 1);
        resp_add_int(&c->out, (int64_t)cur);
        return;
    default:
        break;
    }
    /* held a version the coordinator never saw: two writes met here */
    if (guard == STORE_IF_NEWER && version_compare(prev, ver, parent) == VERSION_CONCURRENT) {
        atomic_fetch_add_explicit(&rp.conflicts, 1, memory_order_relaxed);
    }
    resp_add_int(&c->out, (int64_t)cur);
}

void
repl_bus_get(struct client *c, int argc, const struct resp_arg *argv)
{
    uint64_t have;
    struct entry e = { 0 };

    if (argc != 3 || !arg_u64(&argv[2], &have)) {
        reply_error(c, "ERR malformed RC.GET");
        return;
    }
    if (rebalance_slot_incomplete(slots_keyslot(argv[1].p, argv[1].len))) {
        /* an empty answer here could hide an acknowledged write: the
         * coordinator asks another replica */
        reply_error(c, "LOADING This member is still receiving the key's slot");
        return;
    }
    c->now_ms = now_ms();
    entry_local(&e, argv[1].p, argv[1].len, c->now_ms);
    if (e.version <= have) {
        resp_add_array(&c->out, 1);
        resp_add_int(&c->out, (int64_t)e.version);
    } else {
        resp_add_array(&c->out, e.mcmeta != 0 ? 4 : 3);
        resp_add_int(&c->out, (int64_t)e.version);
        resp_add_int(&c->out, e.expire_ms);
        if (e.tomb) {
            resp_add_null(&c->out, RESP2);
        } else {
            resp_add_bulk(&c->out, e.val, e.vlen);
        }
        if (e.mcmeta != 0) {
            resp_add_int(&c->out, e.mcmeta);
        }
    }
    entry_clear(&e);
}

void
repl_bus_hint(struct client *c, int argc, const struct resp_arg *argv)
{
    uint64_t ver, parent, mcflags = 0;
    long long exp;
    char owner[HINT_TARGET_LEN + 1];
    struct hint_rec r;

    if (argc < 6 || argc > 8 || argv[1].len != HINT_TARGET_LEN || !arg_u64(&argv[3], &ver) ||
        !arg_u64(&argv[4], &parent) || !arg_ll(&argv[5], &exp) ||
        (argc == 8 && !arg_u64(&argv[7], &mcflags))) {
        reply_error(c, "ERR malformed RC.HINT");
        return;
    }
    memcpy(owner, argv[1].p, HINT_TARGET_LEN);
    owner[HINT_TARGET_LEN] = '\0';
    r = (struct hint_rec){ .key = argv[2].p, .klen = argv[2].len,
                           .val = argc >= 7 ? argv[6].p : NULL, .vlen = argc >= 7 ? argv[6].len : 0,
                           .expire_ms = exp, .version = ver, .parent = parent, .tomb = argc == 6,
                           .created_ms = now_ms(), .mcmeta = mcflags };
    hlc_observe(&rp.hlc, ver);
    if (rp.hints == NULL || hintlog_append(rp.hints, owner, &r) != HINT_OK) {
        reply_error(c, "ERR hint not kept");
        return;
    }
    atomic_fetch_add_explicit(&rp.hints_kept, 1, memory_order_relaxed);
    reply_ok(c);
}

/* ---- WAIT ------------------------------------------------------------------*/

static unsigned
op_acks(const struct rop *op)
{
    unsigned acks = 0;

    for (int k = 0; k < op->nkeys; k++) {
        unsigned a = op->keys[k].active ? coord_acks(&op->keys[k].co) : op->w;
        acks = k == 0 || a < acks ? a : acks;
    }
    return acks;
}

void
repl_wait(struct client *c, long long numreplicas)
{
    struct rop *op = c->last_write_op;
    unsigned acks = op != NULL ? op_acks(op) : c->last_write_acks;

    (void)numreplicas;
    resp_add_int(&c->out, acks > 0 ? (int64_t)acks - 1 : 0);
}

/* ---- hints: replay (main thread) ---------------------------------------------*/

#define MAX_REPLAYS 256

struct replay {
    char target[HINT_TARGET_LEN + 1];
    uint64_t offset, batch_start;
    unsigned inflight, sent;
    bool failed;
};

static struct {
    struct replay r[MAX_REPLAYS];
    size_t n;
    int64_t last_ms;
    struct bus_link *link; /* for the batch being read */
} rpl;

static void
replay_done(void *ctx, const char *reply, size_t len)
{
    struct replay *r = ctx;

    r->inflight--;
    if (reply == NULL || len == 0 || reply[0] != ':') {
        r->failed = true;
    }
}

static void
replay_rec(void *ctx, const struct hint_rec *h)
{
    struct replay *r = ctx;
    struct entry e = { .version = h->version, .expire_ms = h->expire_ms, .tomb = h->tomb,
                       .present = true, .val = h->val, .vlen = h->vlen, .mcmeta = h->mcmeta };
    struct resp_arg argv[8];
    char nums[4][24];
    int argc = entry_argv(argv, nums, NULL, h->key, h->klen, &e, h->parent);

    r->sent++;
    if (rpl.link != NULL &&
        bus_link_send(rpl.link, argc, argv, now_ms() + config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS),
                      replay_done, r)) {
        r->inflight++;
    } else {
        r->failed = true;
    }
}

static struct replay *
replay_of(const char *target)
{
    for (size_t i = 0; i < rpl.n; i++) {
        if (strcmp(rpl.r[i].target, target) == 0) {
            return &rpl.r[i];
        }
    }
    if (rpl.n == MAX_REPLAYS) {
        return NULL;
    }
    memset(&rpl.r[rpl.n], 0, sizeof rpl.r[0]);
    memcpy(rpl.r[rpl.n].target, target, HINT_TARGET_LEN + 1);
    return &rpl.r[rpl.n++];
}

/* One batch a target at a time, 256 KiB every 100 ms at most: a returning
 * member is caught up without being flooded. */
static void
replay_tick(int64_t now)
{
    char (*targets)[HINT_TARGET_LEN + 1] = malloc(MAX_REPLAYS * sizeof *targets);
    size_t nt = hintlog_targets(rp.hints, targets, MAX_REPLAYS);
    struct view *v = view_get();
    int64_t window = config_num(OPT_HINT_WINDOW);

    for (size_t t = 0; t < nt; t++) {
        int m = -1;
        struct replay *r;

        for (size_t i = 0; i < v->n; i++) {
            if (strcmp(v->m[i].id, targets[t]) == 0) {
                m = (int)i;
            }
        }
        if (m < 0 || v->m[m].state == MBR_LEFT) {
            hintlog_drop(rp.hints, targets[t]); /* it left for good */
            continue;
        }
        if (!view_up(v, m) || m == v->self || (r = replay_of(targets[t])) == NULL ||
            r->inflight > 0) {
            continue;
        }
        if (r->sent > 0) {
            if (r->failed) {
                r->offset = r->batch_start; /* again, later */
            } else {
                hintlog_ack(rp.hints, r->target, r->offset, r->sent);
            }
            r->sent = 0;
            r->failed = false;
            continue;
        }
        rpl.link = cluster_main_link(&v->m[m]);
        r->batch_start = r->offset;
        if (hintlog_read(rp.hints, r->target, &r->offset, REPLAY_BATCH_BYTES, now - window,
                         replay_rec, r) == 0) {
            hintlog_ack(rp.hints, r->target, r->offset, 0); /* nothing left: deleted */
        }
        rpl.link = NULL;
    }
    free(targets);
}

/* ---- setup, the clock, INFO ------------------------------------------------------*/

static uint64_t
clock_next(void *ctx, uint64_t floor)
{
    (void)ctx;
    return hlc_next(&rp.hlc, floor, now_ms());
}

uint64_t
repl_flush_floor(int64_t now)
{
    return rp.on ? hlc_flush_floor(&rp.hlc, now) : version_through_ms(now);
}

/* Versions are on while N may exceed 1: with replicas 1 the store is as in a
 * single server (no version field, no tombstones), unless the memcached
 * port needs them for CAS values. */
static void
versions_sync(void)
{
    bool want = config_num(OPT_REPLICAS) > 1 || memcache_enabled();
    int64_t grace = config_num(OPT_TOMBSTONE_GRACE);

    if (want != rp.versions_on || (want && grace != rp.grace_ms)) {
        store_set_versions(server.store, want ? clock_next : NULL, NULL, (uint64_t)grace);
        rp.versions_on = want;
        rp.grace_ms = grace;
    }
}

int
repl_setup(const char *member_id, bool rejoining)
{
    char err[256];

    hlc_init(&rp.hlc, member_id);
    for (size_t i = 0; i < KEYLOCK_QUEUES; i++) {
        pthread_mutex_init(&keywait[i].mu, NULL);
    }
    rp.hints = hintlog_open("hints", (uint64_t)config_num(OPT_HINT_MAX_BYTES), err, sizeof err);
    if (rp.hints == NULL) {
        log_msg(LOG_WARNING, "replication: cannot open the hint logs under hints/: %s", err);
        return -1;
    }
    rp.on = true;
    versions_sync();
    rebalance_setup(rejoining);
    return 0;
}

void
repl_teardown(void)
{
    if (rp.on) {
        hintlog_close(&rp.hints);
        rp.on = false;
    }
}

void
repl_main_tick(int64_t now)
{
    if (!rp.on || now - rpl.last_ms < 100) {
        return;
    }
    rpl.last_ms = now;
    versions_sync();
    hintlog_set_max_bytes(rp.hints, (uint64_t)config_num(OPT_HINT_MAX_BYTES));
    replay_tick(now);
    rebalance_main_tick(now);
}

void
repl_info(struct resp_buf *b)
{
    struct repl_levels lv;
    struct hintlog_stats hs = { 0 };

    repl_levels(NULL, cluster_enabled() ? view_get() : NULL, &lv);
    if (rp.hints != NULL) {
        hintlog_stats(rp.hints, &hs);
    }
    info_add(b, "replicas:%u", cluster_enabled() ? lv.n : 1);
    info_add(b, "write_quorum:%u", cluster_enabled() ? lv.w : 1);
    info_add(b, "read_quorum:%u", cluster_enabled() ? lv.r : 1);
#define RI(name, field) info_add(b, name ":%llu", (unsigned long long)atomic_load(&rp.field))
    RI("repl_writes", writes);
    RI("repl_write_failures", write_failures);
    RI("repl_reads", reads);
    RI("repl_read_failures", read_failures);
    RI("repl_rmw_reads", rmw_reads);
    RI("read_repairs", read_repairs);
    RI("version_conflicts", conflicts);
    RI("repl_writes_withdrawn", withdrawn);
    RI("repl_forwards_unsure", forwards_unsure);
    RI("forwards_failed_over", forwards_failed_over);
    RI("hints_sent", hints_sent);
    RI("hints_kept", hints_kept);
#undef RI
    info_add(b, "hints_pending:%llu", (unsigned long long)hs.pending);
    info_add(b, "hints_bytes:%llu", (unsigned long long)hs.bytes);
    info_add(b, "hints_replayed:%llu", (unsigned long long)hs.replayed);
    info_add(b, "hints_dropped:%llu", (unsigned long long)hs.dropped);
    rebalance_info(b);
}
