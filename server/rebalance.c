/*
 * server/rebalance.c — slot moves; see rebalance.h.
 *
 * A member pulls every slot it newly replicates from a member that held it:
 *   when   (a) once its view first shares slots with other members, if its
 *          store was empty at start (a new member, or one whose memory a
 *          restart emptied): every slot it replicates; (b) whenever a new
 *          view puts it on a slot's first N that the previous view did not;
 *   whom   the live members of the slot's first N + 1 other than itself:
 *          with this member taken off the ring, the list closes up, so they
 *          are the slot's N holders from before. One after another, N - W +
 *          1 of them (or as many as are up): an acknowledged write is on W
 *          of the N, so at least one of those holds it, even when it was
 *          this member's copy that a restart lost. Until then the slot is
 *          incomplete here: quorum reads do not count this copy;
 *   how    RC.SLOTSCAN pages through the source's slot index, entries with
 *          their versions, expiries and tombstones, and each is installed
 *          with store_apply, which keeps the newer version, so a write that
 *          reaches this member meanwhile is never undone by an older copy.
 *          Without versions (replicas 1) an entry is installed only where
 *          the key is absent, for the same reason.
 * Throttled by rebalance-max-bytes-per-sec, with PULL_PARALLEL slots in
 * flight; a failed request leaves its slot pending, to be asked again
 * (from the same cursor, so a restarted source only repeats a page).
 *
 * Not yet (the rebalancing issue): the placement switches before the data
 * has moved, so a read at R = 1 of a moved key may miss until its slot is
 * pulled; cold keys (disk tier) are not streamed; old holders keep their
 * copies.
 */
#include "server/rebalance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/reply.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/log.h"
#include "server/replicate.h"
#include "server/server.h"
#include "server/view.h"
#include "storage/store.h"

#define PULL_PARALLEL 8
/* One RC.SLOTSCAN reply: about this many bytes or entries at most. */
#define PAGE_BYTES (256 * 1024)
#define PAGE_ENTRIES 1024
/* An entry of a page: key, version, expire, value (nil: tombstone), mcmeta
 * (memcached's client flags, and 1 << 32 when stale). */
#define PAGE_FIELDS 5
#define PAGE_BUCKETS 64

enum { SLOT_DONE = 0, SLOT_PENDING, SLOT_ASKED };

static struct {
    bool fresh;     /* the store was empty at start */
    bool rejoining; /* nodes.conf listed other members: it was in a cluster */
    bool seeded;    /* (a) has run */
    bool stopping;  /* teardown: answers that fail now start nothing */
    uint8_t state[CLUSTER_SLOTS];
    uint64_t cursor[CLUSTER_SLOTS];
    uint64_t flushes[CLUSTER_SLOTS]; /* store_flushes when the page was asked */
    uint8_t passes[CLUSTER_SLOTS];   /* sources pulled whole */
    _Atomic size_t pending; /* read by INFO on any thread */
    size_t asked, next;
    struct view *last; /* pinned: the view the pending set last compared with */
    int64_t window_ms;
    uint64_t window_bytes;
    _Atomic uint64_t slots_moved, keys_received, bytes_received;
    /* read by workers: the slots whose copy here may lack acknowledged
     * writes (pending, or every slot while a fresh store is not seeded) */
    _Atomic uint64_t incomplete[CLUSTER_SLOTS / 64];
    _Atomic bool unseeded;
} rb;

static void
mark(uint16_t slot, bool incomplete)
{
    uint64_t bit = UINT64_C(1) << (slot % 64);

    if (incomplete) {
        atomic_fetch_or_explicit(&rb.incomplete[slot / 64], bit, memory_order_relaxed);
    } else {
        atomic_fetch_and_explicit(&rb.incomplete[slot / 64], ~bit, memory_order_relaxed);
    }
}

bool
rebalance_slot_incomplete(uint16_t slot)
{
    return atomic_load_explicit(&rb.unseeded, memory_order_relaxed) ||
           (atomic_load_explicit(&rb.incomplete[slot / 64], memory_order_relaxed) >>
                (slot % 64) & 1);
}

/* ---- the source: RC.SLOTSCAN ---------------------------------------------------------*/

struct page {
    struct resp_buf b;
    size_t n;
};

static void
page_add(void *ctx, const struct item *it)
{
    struct page *p = ctx;

    resp_add_bulk(&p->b, item_key(it), it->klen);
    resp_add_int(&p->b, (int64_t)item_version(it));
    resp_add_int(&p->b, item_expire_ms(it) > 0 ? item_expire_ms(it) : 0);
    if (it->flags & ITEM_F_TOMB) {
        resp_add_null(&p->b, RESP2);
    } else {
        resp_add_bulk(&p->b, item_value(it), it->vlen);
    }
    resp_add_int(&p->b, (long long)item_mcmeta(it));
    p->n++;
}

void
rebalance_bus_slotscan(struct client *c, int argc, const struct resp_arg *argv)
{
    long long slot, cursor;
    struct page p = { 0 };
    uint64_t cur;

    if (argc != 3 || !arg_ll(&argv[1], &slot) || slot < 0 || slot >= CLUSTER_SLOTS ||
        !arg_ll(&argv[2], &cursor)) {
        reply_error(c, "ERR malformed RC.SLOTSCAN");
        return;
    }
    c->now_ms = now_ms();
    resp_buf_init(&p.b);
    cur = (uint64_t)cursor;
    do {
        cur = store_slot_scan(server.store, (unsigned)slot, cur, PAGE_BUCKETS, true, page_add, &p,
                              c->now_ms);
    } while (cur != 0 && p.b.len < PAGE_BYTES && p.n < PAGE_ENTRIES);
    resp_add_array(&c->out, 1 + PAGE_FIELDS * p.n);
    resp_add_int(&c->out, (int64_t)cur);
    resp_add_raw(&c->out, p.b.data, p.b.len);
    resp_buf_deinit(&p.b);
}

/* ---- the puller (main thread) --------------------------------------------------------*/

static bool
in_first(const struct view *v, uint16_t slot, size_t n, int m)
{
    for (size_t i = 0; i < n && i < v->npref[slot]; i++) {
        if (v->pref[slot][i] == m) {
            return true;
        }
    }
    return false;
}

/* gate: the slot is incomplete here until pulled (see rebalance.h) */
static void
want(uint16_t slot, bool gate)
{
    if (rb.state[slot] == SLOT_DONE) {
        rb.state[slot] = SLOT_PENDING;
        rb.cursor[slot] = 0;
        rb.passes[slot] = 0;
        rb.pending++;
        mark(slot, gate);
    }
}

/* The slot's skip-th live holder other than us, -1 past the last. */
static int
source_of(const struct view *v, uint16_t slot, size_t n, unsigned skip)
{
    for (size_t i = 0; i <= n && i < v->npref[slot]; i++) {
        int m = v->pref[slot][i];

        if (m != v->self && view_up(v, m) && skip-- == 0) {
            return m;
        }
    }
    return -1;
}

/* Install one entry of a page; false when the page is malformed. */
static bool
install(const struct resp_arg *el, int64_t now)
{
    struct resp_arg key, val;
    long long ver, exp, mcflags;
    bool tomb = !repl_reply_bulk(&el[3], &val);

    if (!repl_reply_bulk(&el[0], &key) || !repl_reply_ll(&el[1], &ver) ||
        !repl_reply_ll(&el[2], &exp) || !repl_reply_ll(&el[4], &mcflags) || (tomb && ver == 0)) {
        return false;
    }
    if (ver == 0) {
        struct store_mc_set op = { .mode = STORE_MC_ADD, .val = val.p, .vlen = val.len,
                                   .mcmeta = (uint64_t)mcflags, .expire_ms = exp };

        store_mc_store(server.store, key.p, key.len, &op, NULL, now);
    } else {
        store_apply_if(server.store, key.p, key.len, tomb ? NULL : val.p, tomb ? 0 : val.len, exp,
                       (uint64_t)mcflags, tomb, (uint64_t)ver, STORE_IF_NEWER, 0, now, NULL, NULL);
    }
    return true;
}

static void pull_more(void);
static void compare_views(struct view *v);

/* The pending set follows the view as soon as it changes, not at the next
 * tick: a page asked for under the last view is not installed once the
 * slot is no longer ours (N = 1 would hold a second copy). */
static void
view_sync(void)
{
    struct view *v = view_get();

    if (rb.last == NULL || v->epoch != rb.last->epoch) {
        compare_views(v);
    }
}

static void
pull_done(void *ctx, const char *reply, size_t len)
{
    uint16_t slot = (uint16_t)(uintptr_t)ctx;
    long n = reply != NULL ? resp_reply_elements(reply, len, NULL, 0) : -1;
    struct resp_arg *el = n >= 1 && (n - 1) % PAGE_FIELDS == 0 ? malloc((size_t)n * sizeof *el) : NULL;
    long long cursor;
    int64_t now = now_ms();
    long i;

    rb.asked--;
    if (!rb.stopping) {
        view_sync();
    }
    if (rb.stopping || rb.state[slot] != SLOT_ASKED) {
        free(el);
        return; /* dropped by a view change meanwhile */
    }
    rb.state[slot] = SLOT_PENDING; /* unless this page completes it */
    if (rb.flushes[slot] != store_flushes(server.store)) {
        free(el); /* a FLUSHALL since it was asked: the page would bring keys back */
        rb.cursor[slot] = 0;
        return;
    }
    if (el == NULL || resp_reply_elements(reply, len, el, (size_t)n) != n ||
        !repl_reply_ll(&el[0], &cursor)) {
        free(el);
        return; /* failed or refused: asked again from the same cursor */
    }
    for (i = 1; i < n && install(&el[i], now); i += PAGE_FIELDS) {
        atomic_fetch_add_explicit(&rb.keys_received, 1, memory_order_relaxed);
    }
    free(el);
    atomic_fetch_add_explicit(&rb.bytes_received, len, memory_order_relaxed);
    rb.window_bytes += len;
    if (i < n) {
        log_msg(LOG_WARNING, "rebalance: a malformed page of slot %u; asking again", slot);
        return;
    }
    rb.cursor[slot] = (uint64_t)cursor;
    if (cursor == 0) {
        struct view *v = view_get();
        struct repl_levels lv;

        repl_levels(NULL, v, &lv);
        rb.passes[slot]++;
        if (rb.passes[slot] < lv.n - lv.w + 1 &&
            source_of(v, slot, lv.n, rb.passes[slot]) >= 0) {
            pull_more(); /* the next source, from its start */
            return;
        }
        rb.state[slot] = SLOT_DONE;
        rb.pending--;
        mark(slot, false);
        atomic_fetch_add_explicit(&rb.slots_moved, 1, memory_order_relaxed);
    }
    pull_more();
}

/* Ask for more pages while within the parallelism and this second's bytes. */
static void
pull_more(void)
{
    struct view *v = view_get();
    struct repl_levels lv;
    int64_t now = now_ms();
    uint64_t limit = (uint64_t)config_num(OPT_REBALANCE_MAX_BYTES_PER_SEC);
    char snum[8], cnum[24];

    view_sync();
    v = view_get();
    if (now - rb.window_ms >= 1000) {
        rb.window_ms = now;
        rb.window_bytes = 0;
    }
    repl_levels(NULL, v, &lv);
    for (size_t k = 0; k < CLUSTER_SLOTS && rb.pending > rb.asked && rb.asked < PULL_PARALLEL &&
                       (limit == 0 || rb.window_bytes < limit);
         k++) {
        uint16_t slot = (uint16_t)((rb.next + k) % CLUSTER_SLOTS);
        int src;
        struct bus_link *l;

        if (rb.state[slot] != SLOT_PENDING ||
            (src = source_of(v, slot, lv.n, rb.passes[slot])) < 0 ||
            (l = cluster_main_link(&v->m[src])) == NULL) {
            continue;
        }
        struct resp_arg argv[3] = {
            { "RC.SLOTSCAN", 11 },
            { snum, (size_t)snprintf(snum, sizeof snum, "%u", slot) },
            { cnum, (size_t)snprintf(cnum, sizeof cnum, "%llu", (unsigned long long)rb.cursor[slot]) },
        };
        if (bus_link_send(l, 3, argv, now + config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS), pull_done,
                          (void *)(uintptr_t)slot)) {
            rb.state[slot] = SLOT_ASKED;
            rb.flushes[slot] = store_flushes(server.store);
            rb.asked++;
            rb.next = (size_t)slot + 1;
        }
    }
}

/* The slots this view gives us that the last one did not (b), or, once,
 * every slot we replicate (a). */
static void
compare_views(struct view *v)
{
    struct repl_levels lv;

    repl_levels(NULL, v, &lv);
    if (!rb.seeded && v->ring_members > 1) {
        rb.seeded = true;
        for (uint16_t s = 0; rb.fresh && s < CLUSTER_SLOTS; s++) {
            if (in_first(v, s, lv.n, v->self)) {
                want(s, rb.rejoining);
            }
        }
        atomic_store(&rb.unseeded, false);
    } else if (rb.last != NULL && rb.last->ring_members > 1) {
        struct repl_levels lo;

        int was = -1; /* our index in the last view (indexes follow ids) */

        repl_levels(NULL, rb.last, &lo);
        for (size_t i = 0; i < rb.last->n; i++) {
            if (strcmp(rb.last->m[i].id, v->m[v->self].id) == 0) {
                was = (int)i;
            }
        }
        for (uint16_t s = 0; s < CLUSTER_SLOTS; s++) {
            if (in_first(v, s, lv.n, v->self) && !in_first(rb.last, s, lo.n, was)) {
                want(s, true);
            }
        }
    }
    for (uint16_t s = 0; s < CLUSTER_SLOTS; s++) {
        if (rb.state[s] != SLOT_DONE && !in_first(v, s, lv.n, v->self)) {
            rb.state[s] = SLOT_DONE; /* no longer ours: an answer in flight is dropped */
            rb.pending--;
            mark(s, false);
        }
    }
    view_release(&rb.last);
    rb.last = view_pin(v);
}

void
rebalance_setup(bool rejoining)
{
    rb.rejoining = rejoining;
    memset(rb.state, 0, sizeof rb.state);
    rb.pending = rb.asked = 0;
    rb.fresh = store_dbsize(server.store) == 0;
    for (size_t i = 0; i < CLUSTER_SLOTS / 64; i++) {
        atomic_store(&rb.incomplete[i], 0);
    }
    atomic_store(&rb.unseeded, rb.fresh && rejoining);
    rb.seeded = false;
    rb.stopping = false;
    view_sync(); /* a rejoining member's nodes.conf view: its pending set from the start */
}

void
rebalance_teardown(void)
{
    rb.stopping = true;
    view_release(&rb.last);
}

void
rebalance_main_tick(int64_t now)
{
    (void)now;
    pull_more();
}

void
rebalance_info(struct resp_buf *b)
{
    info_add(b, "rebalance_slots_pending:%zu", cluster_enabled() ? rb.pending : 0);
    info_add(b, "rebalance_slots_moved:%llu", (unsigned long long)atomic_load(&rb.slots_moved));
    info_add(b, "rebalance_keys_received:%llu", (unsigned long long)atomic_load(&rb.keys_received));
    info_add(b, "rebalance_bytes_received:%llu",
             (unsigned long long)atomic_load(&rb.bytes_received));
}
