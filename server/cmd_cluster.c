/*
 * server/cmd_cluster.c — the CLUSTER commands (INFO, MYID, NODES, SLOTS,
 * SHARDS, KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT, MEET, FORGET) and the
 * connection commands of the replicated cluster: CONSISTENCY (this
 * connection's R and W), WAIT, READONLY and READWRITE. They read the
 * published view (view.h); cluster.c owns membership and routing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/slots.h"
#include "resp/reply.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/replicate.h"
#include "server/server.h"
#include "server/view.h"
#include "storage/store.h"

static void
reply_levels(struct client *c)
{
    struct repl_levels lv;

    repl_levels(c, cluster_enabled() ? view_get() : NULL, &lv);
    if (!cluster_enabled()) {
        lv.n = lv.r = lv.w = 1;
    }
    resp_add_map(&c->out, c->proto, 3);
    resp_add_bulk_cstr(&c->out, "replicas");
    resp_add_int(&c->out, lv.n);
    resp_add_bulk_cstr(&c->out, "read-quorum");
    resp_add_int(&c->out, lv.r);
    resp_add_bulk_cstr(&c->out, "write-quorum");
    resp_add_int(&c->out, lv.w);
}

/* CONSISTENCY [ONE | QUORUM | ALL | DEFAULT | <R> <W>]: Cassandra's levels
 * for this connection; the reply is what they mean now (capped at N). */
void
cmd_consistency(struct client *c, int argc, const struct resp_arg *argv)
{
    long long r, w;

    if (argc == 2) {
        if (arg_is(&argv[1], "one")) {
            c->cons_kind = CONS_ONE;
        } else if (arg_is(&argv[1], "quorum")) {
            c->cons_kind = CONS_QUORUM;
        } else if (arg_is(&argv[1], "all")) {
            c->cons_kind = CONS_ALL;
        } else if (arg_is(&argv[1], "default")) {
            c->cons_kind = CONS_DEFAULT;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    } else if (argc == 3) {
        if (!arg_ll(&argv[1], &r) || !arg_ll(&argv[2], &w) || r < 1 || w < 1 ||
            r > RING_MAX_REPLICAS || w > RING_MAX_REPLICAS) {
            reply_error(c, "ERR read and write quorums must be integers from 1 to 5");
            return;
        }
        c->cons_kind = CONS_EXPLICIT;
        c->cons_r = (uint8_t)r;
        c->cons_w = (uint8_t)w;
    } else if (argc != 1) {
        reply_errorf(c, ERR_ARITY_FMT, "consistency");
        return;
    }
    atomic_store_explicit(&c->pub.cons, c->cons_kind | (unsigned)c->cons_r << 8 |
                          (unsigned)c->cons_w << 16, memory_order_relaxed);
    reply_levels(c);
}

void
cmd_wait(struct client *c, int argc, const struct resp_arg *argv)
{
    long long num, timeout;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[1], &num, NULL) ||
        !arg_ll_or_reply(c, &argv[2], &timeout, "ERR timeout is not an integer or out of range")) {
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    if (!cluster_enabled()) {
        resp_add_int(&c->out, 0);
        return;
    }
    repl_wait(c, num);
}

static void
set_readonly(struct client *c, bool on)
{
    if (!cluster_enabled()) {
        reply_error(c, "ERR This instance has cluster support disabled");
        return;
    }
    c->readonly = on;
    reply_ok(c);
}

void
cmd_readonly(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    set_readonly(c, true);
}

void
cmd_readwrite(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    set_readonly(c, false);
}

static bool
cluster_required(struct client *c)
{
    if (!cluster_enabled()) {
        reply_error(c, "ERR This instance has cluster support disabled");
        return false;
    }
    return true;
}

static const char *
node_flags(const struct view *v, size_t i)
{
    static const char *const with_self[] = { "myself,master", "myself,master", "myself,master,fail?",
                                             "myself,master,fail", "myself,master", "myself,master,noaddr" };
    static const char *const others[] = { "master", "master", "master,fail?", "master,fail",
                                          "master", "master,noaddr" };

    return (int)i == v->self ? with_self[v->m[i].state] : others[v->m[i].state];
}

void
cmd_cluster_info(struct client *c, int argc, const struct resp_arg *argv)
{
    struct view *v;
    char text[1024];
    size_t served = 0, fail = 0, pfail = 0;
    uint64_t sent, received;
    int n;

    (void)argc;
    (void)argv;
    if (!cluster_required(c)) {
        return;
    }
    v = view_get();
    cluster_bus_stats(&sent, &received);
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        int o = view_owner(v, (uint16_t)s);
        served += o >= 0;
        fail += o >= 0 && v->m[o].state == MBR_DEAD;
        pfail += o >= 0 && v->m[o].state == MBR_SUSPECT;
    }
    n = snprintf(text, sizeof text,
                 "cluster_state:%s\r\ncluster_slots_assigned:%zu\r\ncluster_slots_ok:%zu\r\n"
                 "cluster_slots_pfail:%zu\r\ncluster_slots_fail:%zu\r\ncluster_known_nodes:%zu\r\n"
                 "cluster_size:%zu\r\ncluster_current_epoch:%llu\r\ncluster_my_epoch:%llu\r\n"
                 "cluster_stats_messages_sent:%llu\r\ncluster_stats_messages_received:%llu\r\n"
                 "total_cluster_links_buffer_limit_exceeded:0\r\n",
                 fail == 0 && served == CLUSTER_SLOTS ? "ok" : "fail", served,
                 served - fail - pfail, pfail, fail, v->n,
                 v->n - view_count(v, MBR_LEFT), (unsigned long long)v->m[v->self].incarnation,
                 (unsigned long long)v->m[v->self].incarnation,
                 (unsigned long long)sent, (unsigned long long)received);
    resp_add_verbatim(&c->out, c->proto, "txt", text, (size_t)n);
}

void
cmd_cluster_myid(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    if (cluster_required(c)) {
        struct view *v = view_get();
        resp_add_bulk_cstr(&c->out, v->m[v->self].id);
    }
}

void
cmd_cluster_keyslot(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    if (cluster_required(c)) {
        resp_add_int(&c->out, slots_keyslot(argv[2].p, argv[2].len));
    }
}

/* Contiguous runs of slots with the same owner. */
static int
next_range(const struct view *v, int from, int *end)
{
    int o = view_owner(v, (uint16_t)from);

    *end = from;
    while (*end + 1 < CLUSTER_SLOTS && view_owner(v, (uint16_t)(*end + 1)) == o) {
        (*end)++;
    }
    return o;
}

/* The first n entries of two slots' lists are the same. */
static bool
same_replicas(const struct view *v, int a, int b, size_t n)
{
    size_t na = v->npref[a] < n ? v->npref[a] : n, nb = v->npref[b] < n ? v->npref[b] : n;

    return na == nb && memcmp(v->pref[a], v->pref[b], na * sizeof v->pref[a][0]) == 0;
}

/* Contiguous runs of slots with the same replicas in the same order. */
static void
next_replica_range(const struct view *v, int from, int *end, size_t n)
{
    *end = from;
    while (*end + 1 < CLUSTER_SLOTS && same_replicas(v, from, *end + 1, n)) {
        (*end)++;
    }
}

static size_t
cluster_n(const struct view *v)
{
    struct repl_levels lv;

    repl_levels(NULL, v, &lv);
    return lv.n;
}

static void
slots_node(struct client *c, const struct view_member *m)
{
    resp_add_array(&c->out, 4);
    resp_add_bulk_cstr(&c->out, m->addr);
    resp_add_int(&c->out, m->port);
    resp_add_bulk_cstr(&c->out, m->id);
    resp_add_map(&c->out, c->proto, 0);
}

void
cmd_cluster_nodes(struct client *c, int argc, const struct resp_arg *argv)
{
    struct view *v;
    struct resp_buf text;

    (void)argc;
    (void)argv;
    if (!cluster_required(c)) {
        return;
    }
    v = view_get();
    resp_buf_init(&text);
    for (size_t i = 0; i < v->n; i++) {
        char line[256];
        int n;

        if (v->m[i].state == MBR_LEFT) {
            continue;
        }
        n = snprintf(line, sizeof line, "%s %s:%u@%u %s - 0 %lld %llu %s", v->m[i].id,
                     v->m[i].addr, v->m[i].port, v->m[i].bus_port, node_flags(v, i),
                     (long long)now_ms(), (unsigned long long)v->m[i].incarnation,
                     v->m[i].state == MBR_DEAD ? "disconnected" : "connected");
        resp_add_raw(&text, line, (size_t)n);
        for (int s = 0, end; s < CLUSTER_SLOTS; s = end + 1) {
            if (next_range(v, s, &end) == (int)i) {
                n = s == end ? snprintf(line, sizeof line, " %d", s)
                             : snprintf(line, sizeof line, " %d-%d", s, end);
                resp_add_raw(&text, line, (size_t)n);
            }
        }
        resp_add_raw(&text, "\n", 1);
    }
    resp_add_verbatim(&c->out, c->proto, "txt", text.data ? text.data : "", text.len);
    resp_buf_deinit(&text);
}

/* Each range lists its replicas, the first healthy one (the coordinator
 * of its writes) first, so cluster-aware clients send writes there and, in
 * replica-read mode, reads to any of them. */
void
cmd_cluster_slots(struct client *c, int argc, const struct resp_arg *argv)
{
    struct view *v;
    size_t ranges = 0, n;

    (void)argc;
    (void)argv;
    if (!cluster_required(c)) {
        return;
    }
    v = view_get();
    n = cluster_n(v);
    for (int s = 0, end; s < CLUSTER_SLOTS; s = end + 1) {
        next_replica_range(v, s, &end, n);
        ranges += v->npref[s] > 0;
    }
    resp_add_array(&c->out, ranges);
    for (int s = 0, end; s < CLUSTER_SLOTS; s = end + 1) {
        size_t np;
        int first;

        next_replica_range(v, s, &end, n);
        np = v->npref[s] < n ? v->npref[s] : n;
        if (np == 0) {
            continue;
        }
        first = repl_coordinator(v, (uint16_t)s, true, (unsigned)np);
        if (first < 0) {
            first = v->pref[s][0];
        }
        resp_add_array(&c->out, 2 + np);
        resp_add_int(&c->out, s);
        resp_add_int(&c->out, end);
        slots_node(c, &v->m[first]);
        for (size_t k = 0; k < np; k++) {
            if (v->pref[s][k] != first) {
                slots_node(c, &v->m[v->pref[s][k]]);
            }
        }
    }
}

static void
shard_node(struct client *c, const struct view *v, int m, bool primary)
{
    resp_add_map(&c->out, c->proto, 7);
    resp_add_bulk_cstr(&c->out, "id");
    resp_add_bulk_cstr(&c->out, v->m[m].id);
    resp_add_bulk_cstr(&c->out, "port");
    resp_add_int(&c->out, v->m[m].port);
    resp_add_bulk_cstr(&c->out, "ip");
    resp_add_bulk_cstr(&c->out, v->m[m].addr);
    resp_add_bulk_cstr(&c->out, "endpoint");
    resp_add_bulk_cstr(&c->out, v->m[m].addr);
    resp_add_bulk_cstr(&c->out, "role");
    resp_add_bulk_cstr(&c->out, primary ? "master" : "replica");
    resp_add_bulk_cstr(&c->out, "replication-offset");
    resp_add_int(&c->out, 0);
    resp_add_bulk_cstr(&c->out, "health");
    resp_add_bulk_cstr(&c->out, v->m[m].state == MBR_DEAD ? "fail" : "online");
}

/* A shard is a set of slots with the same replicas in the same order: its
 * nodes are those replicas, the coordinator as master. */
void
cmd_cluster_shards(struct client *c, int argc, const struct resp_arg *argv)
{
    struct view *v;
    size_t n, nshards = 0;
    int *first; /* a slot of each shard */

    (void)argc;
    (void)argv;
    if (!cluster_required(c)) {
        return;
    }
    v = view_get();
    n = cluster_n(v);
    first = malloc(CLUSTER_SLOTS * sizeof *first);
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        size_t k;
        for (k = 0; k < nshards && !same_replicas(v, first[k], s, n); k++) {
        }
        if (k == nshards && v->npref[s] > 0) {
            first[nshards++] = s;
        }
    }
    resp_add_array(&c->out, nshards);
    for (size_t k = 0; k < nshards; k++) {
        int f = first[k], master;
        size_t nranges = 0, np = v->npref[f] < n ? v->npref[f] : n;

        for (int s = 0, end; s < CLUSTER_SLOTS; s = end + 1) {
            next_replica_range(v, s, &end, n);
            nranges += same_replicas(v, f, s, n);
        }
        resp_add_map(&c->out, c->proto, 2);
        resp_add_bulk_cstr(&c->out, "slots");
        resp_add_array(&c->out, nranges * 2);
        for (int s = 0, end; s < CLUSTER_SLOTS; s = end + 1) {
            next_replica_range(v, s, &end, n);
            if (same_replicas(v, f, s, n)) {
                resp_add_int(&c->out, s);
                resp_add_int(&c->out, end);
            }
        }
        master = repl_coordinator(v, (uint16_t)f, true, (unsigned)np);
        if (master < 0) {
            master = v->pref[f][0];
        }
        resp_add_bulk_cstr(&c->out, "nodes");
        resp_add_array(&c->out, np);
        shard_node(c, v, master, true);
        for (size_t i = 0; i < np; i++) {
            if (v->pref[f][i] != master) {
                shard_node(c, v, v->pref[f][i], false);
            }
        }
    }
    free(first);
}

struct slot_keys {
    uint16_t slot;
    long long want, n;
    struct resp_buf keys;
};

static void
slot_key_cb(void *ctx, const struct item *it)
{
    struct slot_keys *sk = ctx;

    if (slots_keyslot(item_key(it), it->klen) == sk->slot && sk->n < sk->want) {
        resp_add_bulk(&sk->keys, item_key(it), it->klen);
        sk->n++;
    }
}

/* Up to `want` keys of one slot held here: from the slot index, except
 * that with the disk tier the walk is SCAN's, filtered, since cold keys'
 * names are only in their blocks (the index knows their slot but not
 * their names). */
static void
slot_keys(struct client *c, uint16_t slot, long long want, struct slot_keys *sk)
{
    uint64_t cursor = 0;
    bool cold = store_tier(server.store) != NULL;

    memset(sk, 0, sizeof *sk);
    sk->slot = slot;
    sk->want = want;
    do {
        cursor = cold ? store_scan(server.store, cursor, 1024, slot_key_cb, sk, c->now_ms)
                      : store_slot_scan(server.store, slot, cursor, 1024, false, slot_key_cb, sk,
                                        c->now_ms);
    } while (cursor != 0 && sk->n < want);
}

static bool
slot_arg(struct client *c, const struct resp_arg *a, uint16_t *slot)
{
    long long s;

    if (!arg_ll(a, &s) || s < 0 || s >= CLUSTER_SLOTS) {
        reply_error(c, "ERR Invalid slot");
        return false;
    }
    *slot = (uint16_t)s;
    return true;
}

void
cmd_cluster_countkeysinslot(struct client *c, int argc, const struct resp_arg *argv)
{
    uint16_t slot;

    if (!cluster_required(c) || !slot_arg(c, &argv[2], &slot) || cluster_route_slot(c, slot, argc, argv)) {
        return;
    }
    resp_add_int(&c->out, (long long)store_slot_count(server.store, slot, c->now_ms));
}

void
cmd_cluster_getkeysinslot(struct client *c, int argc, const struct resp_arg *argv)
{
    struct slot_keys sk;
    uint16_t slot;
    long long count;

    if (!cluster_required(c) || !slot_arg(c, &argv[2], &slot)) {
        return;
    }
    if (!arg_ll(&argv[3], &count) || count < 0) {
        reply_error(c, "ERR Invalid number of keys");
        return;
    }
    if (cluster_route_slot(c, slot, argc, argv)) {
        return;
    }
    slot_keys(c, slot, count, &sk);
    resp_add_array(&c->out, (size_t)sk.n);
    resp_add_raw(&c->out, sk.keys.data, sk.keys.len);
    resp_buf_deinit(&sk.keys);
}

void
cmd_cluster_meet(struct client *c, int argc, const struct resp_arg *argv)
{
    long long port, bus;
    char addr[MBR_ADDR_MAX];

    if (!cluster_required(c)) {
        return;
    }
    if (argc > 5 || !arg_ll(&argv[3], &port) || port <= 0 || port > 65535 ||
        (argc == 5 && (!arg_ll(&argv[4], &bus) || bus <= 0 || bus > 65535))) {
        reply_errorf(c, "ERR Invalid node address specified: %.*s:%.*s", (int)argv[2].len,
                     argv[2].p, (int)argv[3].len, argv[3].p);
        return;
    }
    if (argc < 5) {
        bus = port + 10000;
    }
    snprintf(addr, sizeof addr, "%.*s", (int)argv[2].len, argv[2].p);
    if (strcmp(addr, "localhost") == 0) {
        snprintf(addr, sizeof addr, "127.0.0.1");
    }
    cluster_meet(addr, (uint16_t)bus);
    reply_ok(c);
}

void
cmd_cluster_forget(struct client *c, int argc, const struct resp_arg *argv)
{
    struct view *v;
    int found = -1;

    (void)argc;
    if (!cluster_required(c)) {
        return;
    }
    v = view_get();
    for (size_t i = 0; i < v->n; i++) {
        if (argv[2].len == MBR_ID_LEN && memcmp(v->m[i].id, argv[2].p, MBR_ID_LEN) == 0 &&
            v->m[i].state != MBR_LEFT) {
            found = (int)i;
        }
    }
    if (found < 0) {
        reply_errorf(c, "ERR Unknown node %.*s", (int)argv[2].len, argv[2].p);
        return;
    }
    if (found == v->self) {
        reply_error(c, "ERR I tried hard but I can't forget myself...");
        return;
    }
    cluster_forget(v->m[found].id);
    reply_ok(c);
}
