/*
 * tests/unit/test_membership.c — SWIM membership: the precedence rules on
 * one node, the wire codec (round trips, limits, a fuzzer), nodes.conf, and
 * whole clusters of 3 to 20 nodes in a deterministic simulator.
 *
 * The simulator runs every node's struct mbr in this process on a virtual
 * clock. Each message goes through mbr_msg_encode, a RESP array of bytes,
 * a RESP parse and mbr_msg_decode on every hop, and a seeded network
 * delays, drops, duplicates and partitions it. Same seed, same run: every
 * figure below is reproducible, and no test looks at a wall clock.
 *
 * Set MBR_SIM_REPORT=1 to print the measured detection and convergence
 * times.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/membership.h"

#define T0 1700000000000LL /* a plausible Unix time in ms */

TestSuite(membership, .timeout = 60);

/* ===========================================================================
 * Helpers
 * ======================================================================== */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
make_id(char *id, uint64_t n)
{
    uint64_t s = n * 7919 + 17;
    snprintf(id, MBR_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64 "%08" PRIx32, splitmix(&s),
             splitmix(&s), (uint32_t)splitmix(&s));
}

static struct mbr_member
member(uint64_t n, const char *addr, enum mbr_state st, uint64_t inc)
{
    struct mbr_member mm = { 0 };

    make_id(mm.id, n);
    snprintf(mm.addr, sizeof mm.addr, "%s", addr);
    mm.port = 6379;
    mm.bus_port = 16379;
    mm.state = st;
    mm.incarnation = inc;
    return mm;
}

static struct mbr_record
record(const struct mbr_member *mm, enum mbr_state st, uint64_t inc)
{
    struct mbr_record r = { 0 };

    memcpy(r.id, mm->id, sizeof r.id);
    memcpy(r.addr, mm->addr, sizeof r.addr);
    r.port = mm->port;
    r.bus_port = mm->bus_port;
    r.state = st;
    r.incarnation = inc;
    return r;
}

static bool
report_wanted(void)
{
    const char *v = getenv("MBR_SIM_REPORT");
    return v != NULL && *v != '\0' && *v != '0';
}

#define REPORT(...)                                                            \
    do {                                                                       \
        if (report_wanted()) {                                                 \
            fprintf(stderr, "[membership] " __VA_ARGS__);                     \
        }                                                                      \
    } while (0)

/* ===========================================================================
 * The simulator
 * ======================================================================== */

#define SIM_MAX 24
#define SIM_CONF_MAX 8192

struct sim_node {
    bool started, up;
    struct mbr *m;
    struct mbr_member self;
    char conf[SIM_CONF_MAX]; /* nodes.conf as last saved */
    int64_t next_tick;
};

struct sim_msg {
    int64_t at;
    uint64_t order; /* ties broken by send order: deterministic */
    int from;
    char to_addr[MBR_ADDR_MAX];
    uint16_t to_bus_port;
    char *bytes;
    size_t len;
};

/* What a test expects each node's view of node j to be. */
enum expect { EXP_ABSENT = 0, EXP_ALIVE, EXP_DEAD, EXP_LEFT };

struct sim {
    int n;
    struct sim_node node[SIM_MAX];
    int64_t now;
    uint64_t rng;
    struct mbr_config cfg;
    struct mbr_out *out;

    /* the network */
    double drop, dup;
    int delay_min, delay_max;
    int group[SIM_MAX];  /* partitions: only equal groups talk */
    bool cut[SIM_MAX];   /* a node whose links are all down */

    struct sim_msg *q; /* a binary heap on (at, order) */
    size_t qn, qcap;
    uint64_t order;

    /* observations */
    enum expect expect[SIM_MAX];
    unsigned false_deaths;   /* dead said of a node that was up */
    unsigned suspect_events; /* suspect said of anyone */
    uint64_t delivered, dropped, bytes;
};

static struct resp_arg sim_argv[MBR_MAX_ARGS];
static char sim_numbuf[MBR_ENCODE_BUF(MBR_MAX_RECORDS)];
static struct mbr_record sim_recs[MBR_MAX_RECORDS];

static double
sim_rand01(struct sim *s)
{
    return (double)(splitmix(&s->rng) >> 11) / 9007199254740992.0;
}

static int
sim_find_addr(const struct sim *s, const char *addr, uint16_t bus_port)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->node[i].self.addr, addr) == 0 && s->node[i].self.bus_port == bus_port) {
            return i;
        }
    }
    return -1;
}

static int
sim_find_id(const struct sim *s, const char *id)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->node[i].self.id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static bool
sim_link_up(const struct sim *s, int a, int b)
{
    return !s->cut[a] && !s->cut[b] && s->group[a] == s->group[b];
}

static bool
msg_before(const struct sim_msg *a, const struct sim_msg *b)
{
    return a->at != b->at ? a->at < b->at : a->order < b->order;
}

static void
heap_push(struct sim *s, struct sim_msg m)
{
    size_t i;

    if (s->qn == s->qcap) {
        s->qcap = s->qcap ? s->qcap * 2 : 1024;
        if ((s->q = realloc(s->q, s->qcap * sizeof *s->q)) == NULL) {
            cr_fatal("out of memory");
        }
    }
    i = s->qn++;
    while (i > 0 && msg_before(&m, &s->q[(i - 1) / 2])) {
        s->q[i] = s->q[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->q[i] = m;
}

static struct sim_msg
heap_pop(struct sim *s)
{
    struct sim_msg top = s->q[0], last = s->q[--s->qn];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->qn) {
            break;
        }
        if (c + 1 < s->qn && msg_before(&s->q[c + 1], &s->q[c])) {
            c++;
        }
        if (!msg_before(&s->q[c], &last)) {
            break;
        }
        s->q[i] = s->q[c];
        i = c;
    }
    if (s->qn > 0) {
        s->q[i] = last;
    }
    return top;
}

/* A decimal and CRLF; sprintf costs more than the rest of a hop. */
static size_t
put_num(char *b, size_t v)
{
    char tmp[24];
    size_t n = 0, k = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        b[k++] = tmp[--n];
    }
    b[k++] = '\r';
    b[k++] = '\n';
    return k;
}

/* The bus's framing: a RESP array of bulk strings. */
static char *
resp_frame(const struct resp_arg *argv, size_t argc, size_t *len)
{
    size_t cap = 32, n = 0;
    char *b;

    for (size_t i = 0; i < argc; i++) {
        cap += argv[i].len + 32;
    }
    b = malloc(cap);
    if (b == NULL) {
        cr_fatal("out of memory");
    }
    b[n++] = '*';
    n += put_num(b + n, argc);
    for (size_t i = 0; i < argc; i++) {
        b[n++] = '$';
        n += put_num(b + n, argv[i].len);
        memcpy(b + n, argv[i].p, argv[i].len);
        n += argv[i].len;
        memcpy(b + n, "\r\n", 2);
        n += 2;
    }
    *len = n;
    return b;
}

/* Parse what resp_frame wrote; argv points into b. -1 if malformed. */
static long
resp_unframe(const char *b, size_t len, struct resp_arg *argv, size_t cap)
{
    const char *p = b, *end = b + len;
    char *e;
    unsigned long n;

    if (len < 4 || *p != '*') {
        return -1;
    }
    n = strtoul(p + 1, &e, 10);
    if (e + 2 > end || memcmp(e, "\r\n", 2) != 0 || n > cap) {
        return -1;
    }
    p = e + 2;
    for (unsigned long i = 0; i < n; i++) {
        unsigned long l;
        if (p >= end || *p != '$') {
            return -1;
        }
        l = strtoul(p + 1, &e, 10);
        if (e + 2 > end || memcmp(e, "\r\n", 2) != 0 || (size_t)(end - (e + 2)) < l + 2) {
            return -1;
        }
        argv[i].p = e + 2;
        argv[i].len = l;
        p = e + 2 + l + 2;
    }
    return p == end ? (long)n : -1;
}

static void
sim_send(struct sim *s, int from, const struct mbr_send *snd)
{
    size_t argc, len;
    char *bytes;
    int copies = sim_rand01(s) < s->dup ? 2 : 1;

    if (mbr_msg_encode(&snd->msg, sim_argv, MBR_MAX_ARGS, sim_numbuf, sizeof sim_numbuf,
                       &argc) != MBR_OK) {
        cr_fatal("a message we built did not encode");
    }
    bytes = resp_frame(sim_argv, argc, &len);
    for (int c = 0; c < copies; c++) {
        struct sim_msg m = { 0 };
        if (sim_rand01(s) < s->drop) {
            s->dropped++;
            continue;
        }
        m.at = s->now + s->delay_min +
               (int64_t)(splitmix(&s->rng) % (uint64_t)(s->delay_max - s->delay_min + 1));
        m.order = s->order++;
        m.from = from;
        snprintf(m.to_addr, sizeof m.to_addr, "%s", snd->to_addr);
        m.to_bus_port = snd->to_bus_port;
        m.len = len;
        if ((m.bytes = malloc(len)) == NULL) {
            cr_fatal("out of memory");
        }
        memcpy(m.bytes, bytes, len);
        heap_push(s, m);
    }
    free(bytes);
}

/* Carry out what node i asked for: sends go on the wire, events are
 * checked. (The server saves nodes.conf after events; every change it
 * saves comes with an event, so the simulator formats it at crash time.) */
static void
sim_apply(struct sim *s, int i)
{

    for (size_t k = 0; k < mbr_out_count(s->out); k++) {
        const struct mbr_action *a = mbr_out_at(s->out, k);
        if (a->kind == MBR_ACT_SEND) {
            sim_send(s, i, &a->send);
            continue;
        }
        const struct mbr_event *ev = &a->event;
        if (ev->kind == MBR_EV_REMOVED) {
            continue;
        }
        if (ev->member.state == MBR_SUSPECT && ev->old_state != MBR_SUSPECT) {
            s->suspect_events++;
        }
        if (ev->member.state == MBR_DEAD && ev->old_state != MBR_DEAD) {
            int j = sim_find_id(s, ev->member.id);
            if (j >= 0 && s->node[j].up) {
                s->false_deaths++;
            }
        }
    }
    mbr_out_clear(s->out);
    s->node[i].next_tick = mbr_next_tick_ms(s->node[i].m);
}

static struct sim *
sim_create(int n, uint64_t seed, const struct mbr_config *cfg)
{
    struct sim *s = calloc(1, sizeof *s);

    cr_assert(not(eq(ptr, s, NULL)));
    cr_assert(le(int, n, SIM_MAX));
    s->n = n;
    s->rng = seed;
    s->now = T0;
    if (cfg != NULL) {
        s->cfg = *cfg;
    }
    /* A LAN with a little trouble; tests make it worse where they mean to. */
    s->delay_min = 1;
    s->delay_max = 10;
    s->drop = 0.01;
    s->dup = 0.01;
    s->out = mbr_out_create();
    cr_assert(not(eq(ptr, s->out, NULL)));
    for (int i = 0; i < n; i++) {
        char addr[MBR_ADDR_MAX];
        snprintf(addr, sizeof addr, "10.0.%d.%d", i / 200, i % 200 + 1);
        s->node[i].self = member(seed * 64 + (uint64_t)i, addr, MBR_ALIVE, 0);
    }
    return s;
}

static void
sim_destroy(struct sim **sp)
{
    struct sim *s = *sp;

    for (int i = 0; i < s->n; i++) {
        mbr_destroy(&s->node[i].m);
    }
    while (s->qn > 0) {
        free(heap_pop(s).bytes);
    }
    free(s->q);
    mbr_out_destroy(&s->out);
    free(s);
    *sp = NULL;
}

static struct mbr_config
sim_node_cfg(struct sim *s)
{
    struct mbr_config c = s->cfg;

    c.seed = splitmix(&s->rng);
    return c;
}

/* Start node i; it joins through node seed (by address) unless seed < 0. */
static void
sim_start(struct sim *s, int i, int seed)
{
    struct sim_node *nd = &s->node[i];
    struct mbr_config c = sim_node_cfg(s);

    nd->m = mbr_create(&c, &nd->self, s->now);
    cr_assert(not(eq(ptr, nd->m, NULL)));
    nd->started = nd->up = true;
    s->expect[i] = EXP_ALIVE;
    if (seed >= 0) {
        cr_assert(eq(int, mbr_join(nd->m, s->node[seed].self.addr,
                                   s->node[seed].self.bus_port, s->now, s->out), MBR_OK));
    }
    sim_apply(s, i);
}

/* SIGKILL: the process is gone, its nodes.conf stays on disk. */
static void
sim_crash(struct sim *s, int i)
{
    size_t need = mbr_conf_format(s->node[i].m, s->node[i].conf, SIM_CONF_MAX);

    cr_assert(lt(sz, need, (size_t)SIM_CONF_MAX));
    s->node[i].up = false;
    mbr_destroy(&s->node[i].m);
    s->expect[i] = EXP_DEAD;
}

/* Start again from nodes.conf, as the server does: same id, and mbr_load
 * raises the incarnation past the saved one. */
static void
sim_restart(struct sim *s, int i)
{
    struct sim_node *nd = &s->node[i];
    struct mbr_member mm[SIM_MAX];
    size_t count, me;
    unsigned line;
    struct mbr_member self;
    struct mbr_config c = sim_node_cfg(s);

    cr_assert(eq(int, mbr_conf_parse(nd->conf, strlen(nd->conf), mm, SIM_MAX, &count, &me,
                                     &line), MBR_OK));
    self = mm[me];
    self.state = MBR_ALIVE;
    nd->m = mbr_create(&c, &self, s->now);
    cr_assert(not(eq(ptr, nd->m, NULL)));
    cr_assert(eq(int, mbr_load(nd->m, mm, count, me, s->now, s->out), MBR_OK));
    nd->up = true;
    s->expect[i] = EXP_ALIVE;
    sim_apply(s, i);
}

static void
sim_deliver(struct sim *s, struct sim_msg *msg)
{
    int to = sim_find_addr(s, msg->to_addr, msg->to_bus_port);
    long argc;
    struct mbr_msg m;
    enum mbr_status st;

    if (to < 0 || !s->node[to].up || !sim_link_up(s, msg->from, to)) {
        s->dropped++;
        return;
    }
    s->delivered++;
    s->bytes += msg->len;
    argc = resp_unframe(msg->bytes, msg->len, sim_argv, MBR_MAX_ARGS);
    /* Plain checks on the hot path: criterion's asserts cost a lot. */
    if (argc <= 0) {
        cr_fatal("the simulator's framing broke");
    }
    if ((st = mbr_msg_decode(sim_argv, (size_t)argc, &m, sim_recs, MBR_MAX_RECORDS)) != MBR_OK) {
        cr_fatal("our own message did not decode: %s", mbr_strerror(st));
    }
    st = mbr_receive(s->node[to].m, s->node[msg->from].self.id, &m, s->now, s->out);
    if (st != MBR_OK) {
        cr_fatal("mbr_receive: %s", mbr_strerror(st));
    }
    sim_apply(s, to);
}

typedef bool (*sim_pred)(struct sim *s);

/* Run until the virtual clock passes `until`, or until pred holds (checked
 * whenever time moves). Returns the time pred first held, or -1. */
static int64_t
sim_run(struct sim *s, int64_t until, sim_pred pred)
{
    for (;;) {
        int64_t next = INT64_MAX;

        if (pred != NULL && pred(s)) {
            return s->now;
        }
        if (s->qn > 0) {
            next = s->q[0].at;
        }
        for (int i = 0; i < s->n; i++) {
            if (s->node[i].up && s->node[i].next_tick < next) {
                next = s->node[i].next_tick;
            }
        }
        if (next > until) {
            s->now = until;
            return pred != NULL && pred(s) ? s->now : -1;
        }
        if (next > s->now) {
            s->now = next;
        }
        while (s->qn > 0 && s->q[0].at <= s->now) {
            struct sim_msg msg = heap_pop(s);
            sim_deliver(s, &msg);
            free(msg.bytes);
        }
        for (int i = 0; i < s->n; i++) {
            struct sim_node *nd = &s->node[i];
            if (nd->up && nd->next_tick <= s->now) {
                cr_assert(eq(int, mbr_tick(nd->m, s->now, s->out), MBR_OK));
                sim_apply(s, i);
                if (nd->next_tick <= s->now) {
                    nd->next_tick = s->now + 1;
                }
            }
        }
    }
}

static enum mbr_state
sim_view(const struct sim *s, int i, int j, bool *known)
{
    struct mbr_member mm;

    *known = mbr_member_find(s->node[i].m, s->node[j].self.id, &mm);
    return *known ? mm.state : MBR_LEFT;
}

/* Every node that is up sees every other as the test expects, and nobody
 * the test does not expect. */
static bool
sim_agree(struct sim *s)
{
    for (int i = 0; i < s->n; i++) {
        if (!s->node[i].up) {
            continue;
        }
        size_t want = 0;
        for (int j = 0; j < s->n; j++) {
            bool known;
            enum mbr_state st = sim_view(s, i, j, &known);
            switch (s->expect[j]) {
            case EXP_ABSENT:
                if (known) {
                    return false;
                }
                break;
            case EXP_ALIVE:
                if (!known || st != MBR_ALIVE) {
                    return false;
                }
                want++;
                break;
            case EXP_DEAD:
                if (!known || st != MBR_DEAD) {
                    return false;
                }
                want++;
                break;
            case EXP_LEFT:
                if (known && st != MBR_LEFT) {
                    return false;
                }
                want += known;
                break;
            }
        }
        if (mbr_member_count(s->node[i].m) != want) {
            return false;
        }
    }
    return true;
}

/* Each side of a partition sees its own side alive, the other dead. */
static bool
sim_sides_split(struct sim *s)
{
    for (int i = 0; i < s->n; i++) {
        for (int j = 0; j < s->n && s->node[i].up; j++) {
            bool known;
            enum mbr_state st = sim_view(s, i, j, &known);
            enum mbr_state want = s->group[i] == s->group[j] ? MBR_ALIVE : MBR_DEAD;
            if (s->node[j].up && (!known || st != want)) {
                return false;
            }
        }
    }
    return true;
}

static uint64_t
sim_incarnation(const struct sim *s, int i, int j)
{
    struct mbr_member mm;

    cr_assert(mbr_member_find(s->node[i].m, s->node[j].self.id, &mm));
    return mm.incarnation;
}

/* Start n nodes one after another, each through node 0 by address, each
 * after the cluster agreed on the previous one. Returns the longest time a
 * join took to be agreed on by everyone, in ms. */
static int64_t
sim_join_all(struct sim *s, int n, int64_t bound_ms, int64_t *total_ms)
{
    int64_t worst = 0, sum = 0;

    sim_start(s, 0, -1);
    for (int i = 1; i < n; i++) {
        int64_t t0 = s->now, t;
        sim_start(s, i, 0);
        t = sim_run(s, t0 + bound_ms, sim_agree);
        cr_assert(ge(i64, t, 0), "node %d was not agreed on within %lld ms", i,
                  (long long)bound_ms);
        worst = t - t0 > worst ? t - t0 : worst;
        sum += t - t0;
    }
    if (total_ms != NULL) {
        *total_ms = sum;
    }
    return worst;
}

/* ===========================================================================
 * Clusters in the simulator
 * ======================================================================== */

#define ROUND_MS 100      /* the default gossip interval */
#define DETECT_MS 1000    /* the default failure_detect_ms */
#define JOIN_BOUND_ROUNDS 30

static void
joins_converge(int n, uint64_t seed)
{
    int64_t worst = 0, sum = 0;
    const int runs = 5;

    for (int r = 0; r < runs; r++) {
        struct sim *s = sim_create(n, seed + (uint64_t)r, NULL);
        int64_t total, w = sim_join_all(s, n, JOIN_BOUND_ROUNDS * ROUND_MS, &total);
        worst = w > worst ? w : worst;
        sum += total;
        cr_assert(eq(int, s->false_deaths, 0));
        sim_destroy(&s);
    }
    REPORT("join    %2d nodes, %d runs: a join agreed by all after mean %lld ms, "
           "max %lld ms (%.1f rounds)\n",
           n, runs, (long long)(sum / (runs * (n - 1))), (long long)worst,
           (double)worst / ROUND_MS);
}

Test(membership, three_nodes_joining_through_one_seed_agree_within_30_rounds_of_each_join)
{
    joins_converge(3, 10);
}

Test(membership, ten_nodes_joining_through_one_seed_agree_within_30_rounds_of_each_join)
{
    joins_converge(10, 20);
}

Test(membership, twenty_nodes_joining_through_one_seed_agree_within_30_rounds_of_each_join)
{
    joins_converge(20, 30);
}

/* Kill node n/2 of a settled cluster; everyone else must see it dead within
 * failure_detect_ms plus DETECT_BOUND_ROUNDS; then restart it from its
 * nodes.conf and everyone must see it alive again, same id, higher
 * incarnation. */
#define DETECT_BOUND_ROUNDS 20
#define RESTART_BOUND_ROUNDS 20

/* Returns the ms until everyone saw the crash; *back_ms the ms until
 * everyone saw the restarted node alive. */
static int64_t
crash_detected_and_restart_seen(int n, uint64_t seed, int64_t *back_ms)
{
    struct sim *s = sim_create(n, seed, NULL);
    int victim = (int)(seed % (uint64_t)n), other = (victim + 1) % n;
    int64_t t0, t_crash, t_dead, t_back;
    uint64_t inc_before;

    sim_join_all(s, n, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    sim_run(s, s->now + 2000, NULL); /* let the join news die down */
    cr_assert(sim_agree(s));
    inc_before = sim_incarnation(s, other, victim);

    t_crash = s->now;
    sim_crash(s, victim);
    t_dead = sim_run(s, t_crash + DETECT_MS + DETECT_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t_dead, 0), "node %d not seen dead by all within %d ms", victim,
              DETECT_MS + DETECT_BOUND_ROUNDS * ROUND_MS);
    cr_assert(eq(int, s->false_deaths, 0));

    sim_run(s, s->now + 1000, NULL);
    t0 = s->now;
    sim_restart(s, victim);
    t_back = sim_run(s, t0 + RESTART_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t_back, 0), "node %d not seen alive again within %d rounds", victim,
              RESTART_BOUND_ROUNDS);
    for (int i = 0; i < n; i++) {
        cr_assert(gt(u64, sim_incarnation(s, i, victim), inc_before));
    }
    sim_destroy(&s);
    *back_ms = t_back - t0;
    return t_dead - t_crash;
}

static void
crashes_detected(int n, uint64_t seed)
{
    int64_t worst = 0, sum = 0, back_worst = 0, back_sum = 0;
    const int runs = 5;

    for (int r = 0; r < runs; r++) {
        int64_t back, t = crash_detected_and_restart_seen(n, seed + (uint64_t)r, &back);
        worst = t > worst ? t : worst;
        sum += t;
        back_worst = back > back_worst ? back : back_worst;
        back_sum += back;
    }
    REPORT("crash   %2d nodes, %d runs: dead for all after mean %lld ms, max %lld ms "
           "(%.1f rounds; failure_detect_ms %d); alive again after restart mean %lld ms, "
           "max %lld ms (%.1f rounds)\n",
           n, runs, (long long)(sum / runs), (long long)worst, (double)worst / ROUND_MS,
           DETECT_MS, (long long)(back_sum / runs), (long long)back_worst,
           (double)back_worst / ROUND_MS);
}

Test(membership, a_crash_in_three_nodes_is_seen_dead_by_all_and_alive_after_restart)
{
    crashes_detected(3, 110);
}

Test(membership, a_crash_in_ten_nodes_is_seen_dead_by_all_and_alive_after_restart)
{
    crashes_detected(10, 120);
}

Test(membership, a_crash_in_twenty_nodes_is_seen_dead_by_all_and_alive_after_restart)
{
    crashes_detected(20, 130);
}

/* Ten nodes, 20% of messages lost (each way, every hop), ten simulated
 * minutes: suspicions happen and must all be refuted in time. */
static void
no_false_deaths_under_loss(uint64_t seed, const struct mbr_config *cfg, int minutes,
                           double drop)
{
    struct sim *s = sim_create(10, seed, cfg);
    struct mbr_metrics mt;
    uint64_t refutations = 0, suspicions = 0;

    s->drop = drop;
    s->dup = 0.02;
    s->delay_max = 20;
    sim_join_all(s, 10, 10000, NULL);
    sim_run(s, s->now + (int64_t)minutes * 60000, NULL);
    for (int i = 0; i < 10; i++) {
        mbr_metrics_get(s->node[i].m, &mt);
        refutations += mt.refutations;
        suspicions += mt.suspicions;
    }
    REPORT("loss %.0f%% seed %llu: %d min, %u false deaths, %llu suspicions raised, "
           "%llu refutations, %llu messages delivered\n",
           drop * 100, (unsigned long long)seed, minutes, s->false_deaths,
           (unsigned long long)suspicions, (unsigned long long)refutations,
           (unsigned long long)s->delivered);
    cr_assert(eq(int, s->false_deaths, 0));
    /* Suspicions come and go under this loss; once it stops they end. */
    s->drop = 0;
    cr_assert(ge(i64, sim_run(s, s->now + DETECT_MS, sim_agree), 0));
    sim_destroy(&s);
}

Test(membership, no_live_node_is_declared_dead_under_20_percent_loss_seed_1)
{
    no_false_deaths_under_loss(101, NULL, 10, 0.20);
}

Test(membership, no_live_node_is_declared_dead_under_20_percent_loss_seed_2)
{
    no_false_deaths_under_loss(102, NULL, 10, 0.20);
}

Test(membership, no_live_node_is_declared_dead_under_20_percent_loss_seed_3)
{
    no_false_deaths_under_loss(103, NULL, 10, 0.20);
}

/* Cut one node off for 800 ms: longer than a probe (600 ms), so it is
 * suspected, shorter than the probe plus failure_detect_ms, so it can
 * refute once it hears. No other loss, so every suspicion is about it. */
Test(membership, a_false_suspicion_is_refuted_with_a_higher_incarnation)
{
    struct sim *s = sim_create(5, 21, NULL);
    int x = 2;
    uint64_t inc_before;
    int64_t t;

    s->drop = 0;
    s->dup = 0;
    sim_join_all(s, 5, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    sim_run(s, s->now + 2000, NULL);
    inc_before = sim_incarnation(s, x, x);
    s->suspect_events = 0;

    s->cut[x] = true;
    sim_run(s, s->now + 800, NULL);
    s->cut[x] = false;
    cr_assert(gt(u32, s->suspect_events, 0), "the blackout raised no suspicion");

    t = sim_run(s, s->now + DETECT_MS, sim_agree);
    cr_assert(ge(i64, t, 0));
    cr_assert(eq(int, s->false_deaths, 0));
    for (int i = 0; i < 5; i++) {
        cr_assert(gt(u64, sim_incarnation(s, i, x), inc_before));
    }
    sim_destroy(&s);
}

/* Split 10 nodes 5/5 until each side has declared the other dead, then
 * heal: the dead-member retries find the other side, which refutes. */
#define HEAL_BOUND_ROUNDS 30

Test(membership, a_healed_partition_converges_again)
{
    struct sim *s = sim_create(10, 31, NULL);
    int64_t t_part, t0, t_split, t_heal;

    sim_join_all(s, 10, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    t_part = s->now;
    for (int i = 5; i < 10; i++) {
        s->group[i] = 1;
    }
    t_split = sim_run(s, t_part + DETECT_MS + 30 * ROUND_MS, sim_sides_split);
    cr_assert(ge(i64, t_split, 0), "the two sides never saw each other dead");
    sim_run(s, s->now + 5000, NULL);

    t0 = s->now;
    memset(s->group, 0, sizeof s->group);
    t_heal = sim_run(s, t0 + HEAL_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t_heal, 0), "no agreement %d rounds after the heal", HEAL_BOUND_ROUNDS);
    REPORT("partition 5/5: each side saw the other dead %lld ms after the split, "
           "agreed again %lld ms (%.1f rounds) after the heal\n",
           (long long)(t_split - t_part), (long long)(t_heal - t0),
           (double)(t_heal - t0) / ROUND_MS);
    sim_destroy(&s);
}

/* All at once: one join a round, through the same seed. */
Test(membership, twenty_nodes_joining_a_round_apart_agree_within_30_rounds_of_the_last)
{
    struct sim *s = sim_create(20, 41, NULL);
    int64_t t0, t;

    sim_start(s, 0, -1);
    for (int i = 1; i < 20; i++) {
        sim_start(s, i, 0);
        sim_run(s, s->now + ROUND_MS, NULL);
    }
    t0 = s->now;
    t = sim_run(s, t0 + JOIN_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0));
    cr_assert(eq(int, s->false_deaths, 0));
    REPORT("burst   20 nodes: agreed %lld ms (%.1f rounds) after the last join\n",
           (long long)(t - t0), (double)(t - t0) / ROUND_MS);
    sim_destroy(&s);
}

Test(membership, a_node_that_leaves_is_seen_left_then_forgotten_never_dead)
{
    struct mbr_config cfg = { .left_ttl_ms = 5000 };
    struct sim *s = sim_create(6, 51, &cfg);
    int x = 4;
    int64_t t;

    sim_join_all(s, 6, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    cr_assert(eq(int, mbr_leave(s->node[x].m, s->now, s->out), MBR_OK));
    sim_apply(s, x);
    sim_run(s, s->now + ROUND_MS, NULL); /* the server lingers a round */
    s->node[x].up = false;
    mbr_destroy(&s->node[x].m);
    s->expect[x] = EXP_LEFT;

    t = sim_run(s, s->now + 10 * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0));
    for (int i = 0; i < 6; i++) {
        bool known;
        if (i != x) {
            cr_assert(eq(int, sim_view(s, i, x, &known), MBR_LEFT));
            cr_assert(known);
        }
    }
    sim_run(s, s->now + 5000 + 10 * ROUND_MS, NULL);
    s->expect[x] = EXP_ABSENT;
    cr_assert(sim_agree(s));
    cr_assert(eq(int, s->suspect_events, 0));
    sim_destroy(&s);
}

/* node-forget-timeout: the long dead leave every table together (they carry
 * their age), and stay gone although old gossip still circulates. */
Test(membership, a_member_dead_past_the_forget_timeout_is_forgotten_by_all_for_good)
{
    struct mbr_config cfg = { .node_forget_timeout_ms = 10000 };
    struct sim *s = sim_create(6, 61, &cfg);
    int x = 1;
    int64_t t;

    sim_join_all(s, 6, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    sim_crash(s, x);
    t = sim_run(s, s->now + DETECT_MS + DETECT_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0));
    s->expect[x] = EXP_ABSENT;
    t = sim_run(s, s->now + 10000 + 10 * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0), "not forgotten by all");
    sim_run(s, s->now + 30000, NULL);
    cr_assert(sim_agree(s));
    sim_destroy(&s);
}

/* The incarnation the others hold may be above the one on disk (the node
 * refuted after its last save, or its disk was restored): the first
 * message that says so makes it outrank that too. */
Test(membership, a_node_restarted_from_an_old_nodes_conf_still_comes_back)
{
    struct sim *s = sim_create(5, 71, NULL);
    static char old_conf[SIM_CONF_MAX];
    int x = 3;
    int64_t t;

    s->drop = 0;
    sim_join_all(s, 5, JOIN_BOUND_ROUNDS * ROUND_MS, NULL);
    mbr_conf_format(s->node[x].m, old_conf, sizeof old_conf);
    for (int k = 0; k < 2; k++) { /* two suspicions, two refutations */
        s->cut[x] = true;
        sim_run(s, s->now + 800, NULL);
        s->cut[x] = false;
        sim_run(s, s->now + 2000, NULL);
    }
    cr_assert(ge(u64, sim_incarnation(s, 0, x), 2));
    sim_crash(s, x);
    t = sim_run(s, s->now + DETECT_MS + DETECT_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0));

    memcpy(s->node[x].conf, old_conf, sizeof old_conf);
    sim_restart(s, x);
    t = sim_run(s, s->now + RESTART_BOUND_ROUNDS * ROUND_MS, sim_agree);
    cr_assert(ge(i64, t, 0), "the restarted node was not seen alive");
    sim_destroy(&s);
}

/* ===========================================================================
 * One node, driven by hand: SWIM's rules
 * ======================================================================== */

struct one {
    struct mbr *m;
    struct mbr_out *out;
    struct mbr_member self, a, b;
};

static void
one_init(struct one *o, const struct mbr_config *cfg)
{
    struct mbr_config c = cfg ? *cfg : (struct mbr_config){ 0 };

    c.seed = 42;
    o->self = member(1000, "10.1.0.1", MBR_ALIVE, 0);
    o->a = member(2001, "10.1.0.2", MBR_ALIVE, 0);
    o->b = member(2002, "10.1.0.3", MBR_ALIVE, 0);
    o->m = mbr_create(&c, &o->self, T0);
    o->out = mbr_out_create();
    cr_assert(not(eq(ptr, o->m, NULL)));
    cr_assert(not(eq(ptr, o->out, NULL)));
}

static void
one_deinit(struct one *o)
{
    mbr_destroy(&o->m);
    mbr_out_destroy(&o->out);
    cr_assert(eq(ptr, o->m, NULL));
}

/* Deliver a message whose records are given; records[0] is the sender. */
static enum mbr_status
one_recv(struct one *o, enum mbr_msg_type type, uint64_t seq, const char *target,
         const struct mbr_record *recs, size_t n, int64_t now)
{
    struct mbr_record copy[16];
    struct mbr_msg msg = { .type = type, .seq = seq, .nrecords = n, .records = copy };

    memcpy(copy, recs, n * sizeof *recs);
    if (target != NULL) {
        memcpy(msg.target, target, MBR_ID_LEN + 1);
    }
    mbr_out_clear(o->out);
    return mbr_receive(o->m, recs[0].id, &msg, now, o->out);
}

/* The n-th message of a type sent to `to` (any recipient when NULL). */
static const struct mbr_send *
one_sent(struct one *o, enum mbr_msg_type type, const char *to, int nth)
{
    for (size_t i = 0; i < mbr_out_count(o->out); i++) {
        const struct mbr_action *a = mbr_out_at(o->out, i);
        if (a->kind == MBR_ACT_SEND && a->send.msg.type == type &&
            (to == NULL || strcmp(a->send.to_id, to) == 0) && nth-- == 0) {
            return &a->send;
        }
    }
    return NULL;
}

static int
one_count_sent(struct one *o, enum mbr_msg_type type, const char *to)
{
    int n = 0;

    while (one_sent(o, type, to, n) != NULL) {
        n++;
    }
    return n;
}

static struct mbr_member
one_view(struct one *o, const struct mbr_member *who)
{
    struct mbr_member mm;

    cr_assert(mbr_member_find(o->m, who->id, &mm), "member unknown");
    return mm;
}

/* Tell the node about a and b, alive at incarnation 0. */
static void
one_meet(struct one *o)
{
    struct mbr_record r[2] = { record(&o->a, MBR_ALIVE, 0), record(&o->b, MBR_ALIVE, 0) };

    cr_assert(eq(int, one_recv(o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0), MBR_OK));
}

Test(membership, alive_at_a_higher_incarnation_overrides_suspect_but_not_at_an_equal_one)
{
    struct one o;
    struct mbr_record r[2];

    one_init(&o, NULL);
    one_meet(&o);
    r[0] = record(&o.b, MBR_ALIVE, 0);
    r[1] = record(&o.a, MBR_SUSPECT, 0);
    cr_assert(eq(int, one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0), MBR_OK));
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_SUSPECT));

    r[1] = record(&o.a, MBR_ALIVE, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_SUSPECT));

    r[0] = record(&o.a, MBR_ALIVE, 1);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 1, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_ALIVE));
    cr_assert(eq(u64, one_view(&o, &o.a).incarnation, 1));

    r[0] = record(&o.b, MBR_ALIVE, 0);
    r[1] = record(&o.a, MBR_SUSPECT, 0); /* old news */
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_ALIVE));
    one_deinit(&o);
}

Test(membership, dead_outranks_alive_and_suspect_until_a_higher_incarnation)
{
    struct one o;
    struct mbr_record r[2];

    one_init(&o, NULL);
    one_meet(&o);
    r[0] = record(&o.b, MBR_ALIVE, 0);
    r[1] = record(&o.a, MBR_DEAD, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_DEAD));
    r[1] = record(&o.a, MBR_ALIVE, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    r[1] = record(&o.a, MBR_SUSPECT, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_DEAD));

    r[0] = record(&o.a, MBR_ALIVE, 1); /* it came back */
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 1, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_ALIVE));
    one_deinit(&o);
}

Test(membership, left_outranks_every_other_state_at_its_incarnation)
{
    struct one o;
    struct mbr_record r[2];

    one_init(&o, NULL);
    one_meet(&o);
    r[0] = record(&o.a, MBR_LEFT, 1);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 1, T0);
    r[0] = record(&o.b, MBR_ALIVE, 0);
    r[1] = record(&o.a, MBR_DEAD, 1);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    r[1] = record(&o.a, MBR_ALIVE, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_LEFT));
    one_deinit(&o);
}

Test(membership, a_node_that_hears_it_is_suspected_raises_its_incarnation_and_says_so_first)
{
    struct one o;
    struct mbr_record r[2];
    struct mbr_member me;
    const struct mbr_send *ack;
    const struct mbr_event *ev = NULL;

    one_init(&o, NULL);
    one_meet(&o);
    r[0] = record(&o.a, MBR_ALIVE, 0);
    r[1] = record(&o.self, MBR_SUSPECT, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, 1));
    cr_assert(eq(int, me.state, MBR_ALIVE));
    for (size_t i = 0; i < mbr_out_count(o.out); i++) {
        const struct mbr_action *a = mbr_out_at(o.out, i);
        if (a->kind == MBR_ACT_EVENT && a->event.myself) {
            ev = &a->event;
        }
    }
    cr_assert(not(eq(ptr, (void *)ev, NULL)), "no event to save nodes.conf on");
    cr_assert(eq(u64, ev->old_incarnation, 0));

    one_recv(&o, MBR_MSG_PING, 5, o.self.id, r, 1, T0 + 1);
    ack = one_sent(&o, MBR_MSG_ACK, o.a.id, 0);
    cr_assert(not(eq(ptr, (void *)ack, NULL)));
    cr_assert(eq(str, (char *)ack->msg.records[0].id, o.self.id));
    cr_assert(eq(u64, ack->msg.records[0].incarnation, 1));
    cr_assert(eq(int, ack->msg.records[0].state, MBR_ALIVE));

    r[1] = record(&o.self, MBR_DEAD, 5); /* declared dead further on */
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0 + 2);
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, 6));
    r[1] = record(&o.self, MBR_SUSPECT, 3); /* stale */
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0 + 3);
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, 6));
    one_deinit(&o);
}

Test(membership, a_rumour_at_the_highest_incarnation_cannot_wrap_ours)
{
    struct one o;
    struct mbr_record r[2];
    struct mbr_member me;

    one_init(&o, NULL);
    one_meet(&o);
    r[0] = record(&o.a, MBR_ALIVE, 0);
    r[1] = record(&o.self, MBR_SUSPECT, MBR_MAX_INCARNATION - 1);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, MBR_MAX_INCARNATION));
    r[1] = record(&o.self, MBR_DEAD, MBR_MAX_INCARNATION);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, MBR_MAX_INCARNATION));
    cr_assert(eq(int, mbr_set_state(o.m, MBR_LEAVING, T0, o.out), MBR_OK));
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, MBR_MAX_INCARNATION));
    one_deinit(&o);
}

/* Run the node alone from `from` to `until` in 10 ms steps; b answers
 * every PING and PINGREQ sent to it when b_answers, a never does. */
static void
one_run(struct one *o, int64_t from, int64_t until, bool b_answers, int *pingreqs)
{
    for (int64_t t = from; t <= until; t += 10) {
        mbr_out_clear(o->out);
        cr_assert(eq(int, mbr_tick(o->m, t, o->out), MBR_OK));
        *pingreqs += one_count_sent(o, MBR_MSG_PINGREQ, o->b.id);
        if (!b_answers) {
            continue;
        }
        struct mbr_record pending[8];
        uint64_t seqs[8];
        int np = 0;
        for (int k = 0; np < 8; k++) {
            const struct mbr_send *s = one_sent(o, MBR_MSG_PING, o->b.id, k);
            if (s == NULL) {
                break;
            }
            seqs[np] = s->msg.seq;
            pending[np++] = record(&o->b, MBR_ALIVE, 0);
        }
        for (int k = 0; k < np; k++) {
            one_recv(o, MBR_MSG_ACK, seqs[k], o->b.id, &pending[k], 1, t + 1);
        }
    }
}

Test(membership, a_member_that_never_answers_is_asked_about_then_suspect_then_dead)
{
    struct one o;
    int pingreqs = 0;

    one_init(&o, NULL);
    one_meet(&o);
    one_run(&o, T0, T0 + 150, true, &pingreqs);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_ALIVE));
    one_run(&o, T0 + 160, T0 + 400, true, &pingreqs);
    cr_assert(gt(int, pingreqs, 0), "no PINGREQ through b");
    one_run(&o, T0 + 410, T0 + 800, true, &pingreqs);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_SUSPECT));
    one_run(&o, T0 + 810, T0 + 1900, true, &pingreqs);
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_DEAD));
    cr_assert(eq(int, one_view(&o, &o.b).state, MBR_ALIVE));
    one_deinit(&o);
}

Test(membership, an_ack_relayed_by_a_helper_completes_the_probe)
{
    struct one o;
    struct mbr_record ra, rb;
    const struct mbr_send *ping, *req;
    uint64_t seq;
    int pingreqs = 0;

    one_init(&o, NULL);
    one_meet(&o);
    ra = record(&o.a, MBR_ALIVE, 0);
    rb = record(&o.b, MBR_ALIVE, 0);

    /* As the helper: a asks us to probe b. */
    cr_assert(eq(int, one_recv(&o, MBR_MSG_PINGREQ, 77, o.b.id, &ra, 1, T0), MBR_OK));
    ping = one_sent(&o, MBR_MSG_PING, o.b.id, 0);
    cr_assert(not(eq(ptr, (void *)ping, NULL)));
    seq = ping->msg.seq;
    one_recv(&o, MBR_MSG_ACK, seq, o.b.id, &rb, 1, T0 + 5);
    req = one_sent(&o, MBR_MSG_ACK, o.a.id, 0);
    cr_assert(not(eq(ptr, (void *)req, NULL)), "the ACK was not relayed to a");
    cr_assert(eq(u64, req->msg.seq, 77));
    cr_assert(eq(str, (char *)req->msg.target, o.b.id));

    /* As the prober: a stays silent, b answers and vouches for it. */
    for (int64_t t = T0 + 10; t <= T0 + 1500; t += 10) {
        struct { uint64_t seq; char target[MBR_ID_LEN + 1]; } todo[16];
        int n = 0;
        mbr_out_clear(o.out);
        mbr_tick(o.m, t, o.out);
        for (size_t i = 0; i < mbr_out_count(o.out) && n < 16; i++) {
            const struct mbr_action *a = mbr_out_at(o.out, i);
            if (a->kind == MBR_ACT_SEND && strcmp(a->send.to_id, o.b.id) == 0 &&
                (a->send.msg.type == MBR_MSG_PING || a->send.msg.type == MBR_MSG_PINGREQ)) {
                pingreqs += a->send.msg.type == MBR_MSG_PINGREQ;
                todo[n].seq = a->send.msg.seq;
                memcpy(todo[n++].target, a->send.msg.target, MBR_ID_LEN + 1);
            }
        }
        for (int k = 0; k < n; k++) {
            one_recv(&o, MBR_MSG_ACK, todo[k].seq, todo[k].target, &rb, 1, t + 1);
        }
    }
    cr_assert(gt(int, pingreqs, 0));
    cr_assert(eq(int, one_view(&o, &o.a).state, MBR_ALIVE));
    one_deinit(&o);
}

/* JOINs sent to addresses (no id yet) by ticks every 10 ms from t0 to t1. */
static int
joins_sent(struct one *o, int64_t t0, int64_t t1)
{
    int joins = 0;

    for (int64_t t = t0; t <= t1; t += 10) {
        mbr_out_clear(o->out);
        mbr_tick(o->m, t, o->out);
        joins += one_count_sent(o, MBR_MSG_JOIN, "");
    }
    return joins;
}

Test(membership, a_join_goes_to_the_seed_address_and_is_retried_until_a_table_arrives)
{
    struct one o;
    const struct mbr_send *j;
    struct mbr_record table[3];
    struct mbr_member seed = member(3000, "10.1.0.9", MBR_ALIVE, 4);
    int joins;

    one_init(&o, NULL);
    cr_assert(eq(int, mbr_join(o.m, "10.1.0.9", 16379, T0, o.out), MBR_OK));
    j = one_sent(&o, MBR_MSG_JOIN, NULL, 0);
    cr_assert(not(eq(ptr, (void *)j, NULL)));
    cr_assert(eq(str, (char *)j->to_id, ""));
    cr_assert(eq(str, (char *)j->to_addr, "10.1.0.9"));
    cr_assert(eq(u16, j->to_bus_port, 16379));
    cr_assert(eq(sz, j->msg.nrecords, 1));
    cr_assert(eq(str, (char *)j->msg.records[0].id, o.self.id));

    joins = joins_sent(&o, T0, T0 + 1200);
    cr_assert(eq(int, joins, 2), "JOIN retried %d times in 1.2 s", joins);

    table[0] = record(&seed, MBR_ALIVE, 4);
    table[1] = record(&o.a, MBR_ALIVE, 0);
    table[2] = record(&o.self, MBR_ALIVE, 0);
    cr_assert(eq(int, one_recv(&o, MBR_MSG_SYNCACK, 0, NULL, table, 3, T0 + 1300), MBR_OK));
    cr_assert(eq(sz, mbr_member_count(o.m), 3));
    joins = joins_sent(&o, T0 + 1300, T0 + 3000);
    cr_assert(eq(int, joins, 0));
    one_deinit(&o);
}

/* CLUSTER MEET on a member already in a cluster: a table from a member it
 * knows must not end the retries to the new address, or a first JOIN lost
 * (the new member's bus not yet connected) loses the MEET. */
Test(membership, a_meet_is_retried_until_the_met_address_answers)
{
    struct one o;
    struct mbr_member newcomer = member(5000, "10.1.0.77", MBR_ALIVE, 1);
    struct mbr_record table[3];
    struct mbr_record hello = record(&newcomer, MBR_ALIVE, 1);
    int joins = 0;

    one_init(&o, NULL);
    one_meet(&o);
    table[0] = record(&o.a, MBR_ALIVE, 0);
    table[1] = record(&o.b, MBR_ALIVE, 0);
    table[2] = record(&o.self, MBR_ALIVE, 0);
    cr_assert(eq(int, mbr_join(o.m, "10.1.0.77", 16379, T0, o.out), MBR_OK));
    cr_assert(eq(int, one_count_sent(&o, MBR_MSG_JOIN, ""), 1));
    /* the JOIN is lost; a member we know sends its table meanwhile */
    cr_assert(eq(int, one_recv(&o, MBR_MSG_SYNCACK, 0, NULL, table, 3, T0 + 50), MBR_OK));
    joins = joins_sent(&o, T0 + 60, T0 + 2500);
    cr_assert(joins >= 2, "JOIN to the met address retried %d times in 2.4 s", joins);
    /* it answers: no more */
    cr_assert(eq(int, one_recv(&o, MBR_MSG_SYNCACK, 0, NULL, &hello, 1, T0 + 2600), MBR_OK));
    joins = joins_sent(&o, T0 + 2600, T0 + 5000);
    cr_assert(eq(int, joins, 0));
    one_deinit(&o);
}

Test(membership, a_seed_answers_a_join_with_its_whole_table)
{
    struct one o;
    struct mbr_member joiner = member(4000, "10.1.0.50", MBR_JOINING, 0);
    struct mbr_record r = record(&joiner, MBR_JOINING, 0);
    const struct mbr_send *t;

    one_init(&o, NULL);
    one_meet(&o);
    cr_assert(eq(int, one_recv(&o, MBR_MSG_JOIN, 0, NULL, &r, 1, T0), MBR_OK));
    t = one_sent(&o, MBR_MSG_SYNCACK, joiner.id, 0);
    cr_assert(not(eq(ptr, (void *)t, NULL)));
    cr_assert(eq(str, (char *)t->to_addr, "10.1.0.50"));
    cr_assert(eq(sz, t->msg.nrecords, 4)); /* us, a, b and the joiner */
    cr_assert(eq(int, one_view(&o, &joiner).state, MBR_JOINING));
    one_deinit(&o);
}

Test(membership, a_join_through_our_own_address_is_ignored)
{
    struct one o;

    one_init(&o, NULL);
    cr_assert(eq(int, mbr_join(o.m, "10.1.0.1", 16379, T0, o.out), MBR_OK));
    cr_assert(eq(sz, mbr_out_count(o.out), 0));
    cr_assert(eq(int, mbr_join(o.m, "seed.example", 16379, T0, o.out), MBR_EINVAL));
    cr_assert(eq(int, mbr_join(o.m, "10.1.0.2", 0, T0, o.out), MBR_EINVAL));
    one_deinit(&o);
}

Test(membership, a_message_from_another_sender_than_the_link_says_is_refused)
{
    struct one o;
    struct mbr_record r;
    struct mbr_msg msg = { .type = MBR_MSG_UPDATE, .nrecords = 1, .records = &r };
    struct mbr_metrics mt;

    one_init(&o, NULL);
    r = record(&o.a, MBR_ALIVE, 0);
    cr_assert(eq(int, mbr_receive(o.m, o.b.id, &msg, T0, o.out), MBR_EPROTO));
    cr_assert(eq(sz, mbr_member_count(o.m), 1));
    cr_assert(eq(int, mbr_receive(o.m, NULL, &msg, T0, o.out), MBR_OK));
    cr_assert(eq(sz, mbr_member_count(o.m), 2));
    mbr_metrics_get(o.m, &mt);
    cr_assert(eq(u64, mt.messages_rejected, 1));
    one_deinit(&o);
}

Test(membership, a_ping_meant_for_another_id_at_our_address_is_not_answered)
{
    struct one o;
    struct mbr_record r;

    one_init(&o, NULL);
    r = record(&o.a, MBR_ALIVE, 0);
    one_recv(&o, MBR_MSG_PING, 9, o.b.id, &r, 1, T0);
    cr_assert(eq(int, one_count_sent(&o, MBR_MSG_ACK, NULL), 0));
    one_recv(&o, MBR_MSG_PING, 9, o.self.id, &r, 1, T0);
    cr_assert(eq(int, one_count_sent(&o, MBR_MSG_ACK, o.a.id), 1));
    one_deinit(&o);
}

Test(membership, a_message_carries_the_sender_its_recipient_in_doubt_and_bounded_news)
{
    struct one o;
    struct mbr_record r[16];
    const struct mbr_send *ack;
    bool has_a = false;

    one_init(&o, NULL);
    /* 14 fresh members: plenty of news to send. */
    r[0] = record(&o.b, MBR_ALIVE, 0);
    for (int i = 1; i < 15; i++) {
        char addr[MBR_ADDR_MAX];
        snprintf(addr, sizeof addr, "10.2.0.%d", i);
        struct mbr_member mm = member(5000 + (uint64_t)i, addr, MBR_ALIVE, 0);
        r[i] = record(&mm, MBR_ALIVE, 0);
    }
    one_recv(&o, MBR_MSG_SYNC, 0, NULL, r, 15, T0);
    r[0] = record(&o.b, MBR_ALIVE, 0);
    r[1] = record(&o.a, MBR_SUSPECT, 0);
    one_recv(&o, MBR_MSG_UPDATE, 0, NULL, r, 2, T0);

    r[0] = record(&o.a, MBR_ALIVE, 0); /* a pings before it heard */
    one_recv(&o, MBR_MSG_PING, 1, o.self.id, r, 1, T0);
    ack = one_sent(&o, MBR_MSG_ACK, o.a.id, 0);
    cr_assert(not(eq(ptr, (void *)ack, NULL)));
    cr_assert(le(sz, ack->msg.nrecords, 1 + 1 + 8));
    cr_assert(eq(str, (char *)ack->msg.records[0].id, o.self.id));
    for (size_t i = 1; i < ack->msg.nrecords; i++) {
        if (strcmp(ack->msg.records[i].id, o.a.id) == 0) {
            has_a = ack->msg.records[i].state == MBR_SUSPECT;
        }
    }
    cr_assert(has_a, "a was not told it is suspected");
    one_deinit(&o);
}

Test(membership, lifecycle_changes_are_announced_at_a_new_incarnation)
{
    struct one o;
    struct mbr_member me;

    one_init(&o, NULL);
    one_meet(&o);
    cr_assert(eq(int, mbr_set_state(o.m, MBR_LEAVING, T0, o.out), MBR_OK));
    mbr_self(o.m, &me);
    cr_assert(eq(int, me.state, MBR_LEAVING));
    cr_assert(eq(u64, me.incarnation, 1));
    cr_assert(eq(int, mbr_set_state(o.m, MBR_SUSPECT, T0, o.out), MBR_EINVAL));
    cr_assert(eq(int, mbr_set_state(o.m, MBR_LEFT, T0, o.out), MBR_EINVAL));

    mbr_out_clear(o.out);
    cr_assert(eq(int, mbr_leave(o.m, T0, o.out), MBR_OK));
    cr_assert(eq(int, one_count_sent(&o, MBR_MSG_UPDATE, NULL), 2));
    cr_assert(eq(int, one_sent(&o, MBR_MSG_UPDATE, o.a.id, 0)->msg.records[0].state, MBR_LEFT));
    cr_assert(eq(int, mbr_leave(o.m, T0, o.out), MBR_ESTATE));
    cr_assert(eq(int, mbr_set_state(o.m, MBR_ALIVE, T0, o.out), MBR_ESTATE));
    mbr_out_clear(o.out);
    mbr_tick(o.m, T0 + 1000, o.out);
    cr_assert(eq(sz, mbr_out_count(o.out), 0), "a node that left still probes");
    one_deinit(&o);
}

Test(membership, create_refuses_a_bad_self)
{
    struct mbr_member bad;

    bad = member(1, "10.0.0.1", MBR_ALIVE, 0);
    bad.id[0] = 'A';
    cr_assert(eq(ptr, mbr_create(NULL, &bad, T0), NULL));
    bad = member(1, "10.0.0.1", MBR_ALIVE, 0);
    bad.id[39] = '\0';
    cr_assert(eq(ptr, mbr_create(NULL, &bad, T0), NULL));
    bad = member(1, "node1.example", MBR_ALIVE, 0);
    cr_assert(eq(ptr, mbr_create(NULL, &bad, T0), NULL));
    bad = member(1, "10.0.0.1", MBR_ALIVE, 0);
    bad.port = 0;
    cr_assert(eq(ptr, mbr_create(NULL, &bad, T0), NULL));
    bad = member(1, "10.0.0.1", MBR_SUSPECT, 0);
    cr_assert(eq(ptr, mbr_create(NULL, &bad, T0), NULL));
    bad = member(1, "10.0.0.1", MBR_ALIVE, 0);
    cr_assert(eq(ptr, mbr_create(&(struct mbr_config){ .max_members = MBR_MAX_RECORDS + 1 },
                                 &bad, T0), NULL));
}

/* ===========================================================================
 * The wire codec
 * ======================================================================== */

static struct resp_arg enc_argv[MBR_ENCODE_ARGC(16)];
static char enc_buf[MBR_ENCODE_BUF(16)];
static struct mbr_record dec_recs[16];

/* A PING from a with two more records, encoded into enc_argv. */
static size_t
sample_ping(struct mbr_record *recs)
{
    struct mbr_member a = member(1, "10.0.0.1", MBR_ALIVE, 0);
    struct mbr_member b = member(2, "fe80::1", MBR_SUSPECT, 0);
    struct mbr_member c = member(3, "192.168.1.200", MBR_DEAD, 0);
    static struct mbr_msg msg; /* enc_argv points into it */
    size_t argc;

    msg = (struct mbr_msg){ .type = MBR_MSG_PING, .seq = 123456789, .nrecords = 3,
                            .records = recs };

    recs[0] = record(&a, MBR_ALIVE, MBR_MAX_INCARNATION);
    recs[1] = record(&b, MBR_SUSPECT, 7);
    recs[2] = record(&c, MBR_DEAD, 0);
    recs[2].age_ms = 86400000;
    recs[1].bus_port = 65535;
    make_id(msg.target, 2);
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, MBR_ENCODE_ARGC(16), enc_buf,
                                     sizeof enc_buf, &argc), MBR_OK));
    return argc;
}

static bool
record_eq(const struct mbr_record *x, const struct mbr_record *y)
{
    return strcmp(x->id, y->id) == 0 && strcmp(x->addr, y->addr) == 0 &&
           x->port == y->port && x->bus_port == y->bus_port && x->state == y->state &&
           x->incarnation == y->incarnation && x->age_ms == y->age_ms;
}

Test(membership, every_message_type_survives_encode_and_decode)
{
    struct mbr_record recs[3];

    sample_ping(recs);
    for (int t = MBR_MSG_PING; t <= MBR_MSG_UPDATE; t++) {
        struct mbr_msg msg = { .type = (enum mbr_msg_type)t, .nrecords = 3, .records = recs };
        struct mbr_msg got;
        size_t argc;

        if (t == MBR_MSG_PING || t == MBR_MSG_ACK || t == MBR_MSG_PINGREQ) {
            msg.seq = UINT64_MAX;
            make_id(msg.target, 9);
        }
        cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, MBR_ENCODE_ARGC(16), enc_buf,
                                         sizeof enc_buf, &argc), MBR_OK));
        cr_assert(eq(sz, enc_argv[0].len, strlen(mbr_msg_name(msg.type))));
        cr_assert(eq(int, memcmp(enc_argv[0].p, mbr_msg_name(msg.type), enc_argv[0].len), 0));
        cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_OK));
        cr_assert(eq(int, got.type, t));
        cr_assert(eq(u64, got.seq, msg.seq));
        cr_assert(eq(str, got.target, msg.target));
        cr_assert(eq(sz, got.nrecords, 3));
        for (int i = 0; i < 3; i++) {
            cr_assert(record_eq(&got.records[i], &recs[i]), "record %d differs", i);
        }
    }
}

Test(membership, decode_refuses_every_malformed_field)
{
    static const struct {
        size_t arg;
        const char *value;
    } bad[] = {
        { 0, "GOSSIP.NOPE" }, { 0, "" },            { 1, "-1" },
        { 1, "" },            { 1, "01" },          { 1, "18446744073709551616" },
        { 1, "12a" },         { 1, " 1" },          { 2, "abc" },
        { 2, "0123456789ABCDEF0123456789abcdef01234567" },
        { 2, "0123456789abcdef0123456789abcdef0123456" },
        { 2, "0123456789abcdef0123456789abcdef012345678" },
        { 3, "zz23456789abcdef0123456789abcdef01234567" },
        { 4, "999.1.1.1" },   { 4, "localhost" },   { 4, "" },
        { 4, "10.0.0.1 " },   { 4, "10.0.0.1:80" }, { 5, "0" },
        { 5, "65536" },       { 5, "+1" },          { 6, "x" },
        { 7, "zombie" },      { 7, "ALIVE" },       { 7, "suspect" },
        { 7, "dead" },        { 8, "99999999999999999999" },
        { 8, "9223372036854775808" }, /* MBR_MAX_INCARNATION + 1 */
        { 9, "1e3" },         { 11, "::g" },        { 14, "nope" },
    };
    struct mbr_record recs[3];
    size_t argc = sample_ping(recs);
    struct mbr_msg got;

    cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_OK));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct resp_arg saved = enc_argv[bad[i].arg];
        enc_argv[bad[i].arg].p = bad[i].value;
        enc_argv[bad[i].arg].len = strlen(bad[i].value);
        cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_EPROTO),
                  "argument %zu = \"%s\" was accepted", bad[i].arg, bad[i].value);
        enc_argv[bad[i].arg] = saved;
    }
    /* A NUL inside a string is not the string. */
    enc_argv[4].p = "10.0.0.1\0junk";
    enc_argv[4].len = 13;
    cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_EPROTO));
}

Test(membership, decode_refuses_a_message_cut_short_anywhere_but_between_records)
{
    struct mbr_record recs[3];
    size_t argc = sample_ping(recs);
    struct mbr_msg got;

    cr_assert(eq(int, mbr_msg_decode(NULL, 0, &got, dec_recs, 16), MBR_EPROTO));
    for (size_t n = 0; n < argc; n++) {
        enum mbr_status st = mbr_msg_decode(enc_argv, n, &got, dec_recs, 16);
        if (n >= 10 && (n - 3) % 7 == 0) {
            cr_assert(eq(int, st, MBR_OK), "%zu arguments", n);
            cr_assert(eq(sz, got.nrecords, (n - 3) / 7));
        } else {
            cr_assert(eq(int, st, MBR_EPROTO), "%zu arguments", n);
        }
    }
    /* And every fixed-form argument (name, ids, states) cut by a byte;
     * "6379" cut is "637", still a port. */
    static const size_t fixed_form[] = { 0, 2, 3, 7, 10, 14, 17, 21 };
    for (size_t k = 0; k < sizeof fixed_form / sizeof fixed_form[0]; k++) {
        size_t i = fixed_form[k];
        enc_argv[i].len--;
        cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_EPROTO),
                  "argument %zu cut short was accepted", i);
        enc_argv[i].len++;
    }
}

/* The bus allocates the records buffer, points msg.records at it and frees
 * msg.records when decoding fails: a failed decode must leave it pointing at
 * the caller's buffer (it used to zero it, leaking every malformed message's
 * records). */
Test(membership, a_failed_decode_leaves_records_pointing_at_the_callers_buffer)
{
    struct mbr_record recs[3];
    size_t argc = sample_ping(recs);
    struct mbr_msg got;

    for (size_t n = 0; n < argc; n++) {
        got.records = dec_recs;
        if (mbr_msg_decode(enc_argv, n, &got, dec_recs, 16) != MBR_OK) {
            cr_assert(eq(ptr, got.records, dec_recs), "cut to %zu arguments", n);
        }
    }
    for (size_t i = 0; i < argc; i++) {
        struct resp_arg saved = enc_argv[i];

        enc_argv[i].p = "nope";
        enc_argv[i].len = 4;
        got.records = dec_recs;
        if (mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16) != MBR_OK) {
            cr_assert(eq(ptr, got.records, dec_recs), "argument %zu = nope", i);
        }
        enc_argv[i] = saved;
    }
    got.records = dec_recs;
    cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 2), MBR_ETOOBIG));
    cr_assert(eq(ptr, got.records, dec_recs));
    got.records = NULL;
    cr_assert(eq(int, mbr_msg_decode(NULL, 0, &got, dec_recs, 16), MBR_EPROTO));
    cr_assert(eq(ptr, got.records, dec_recs), "whatever the outcome, records is recs");
}

Test(membership, decode_refuses_oversized_messages_without_allocating)
{
    struct mbr_record recs[3];
    size_t argc = sample_ping(recs), big = MBR_ENCODE_ARGC(MBR_MAX_RECORDS + 1);
    struct resp_arg *argv = calloc(big, sizeof *argv);
    char *huge = malloc(1 << 20);
    struct mbr_msg got;

    cr_assert(not(eq(ptr, argv, NULL)));
    cr_assert(not(eq(ptr, huge, NULL)));
    /* More records than the caller has room for. */
    cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 2), MBR_ETOOBIG));
    /* More than any message may carry, whatever room there is. */
    memcpy(argv, enc_argv, 3 * sizeof *argv);
    for (size_t i = 3; i < big; i++) {
        argv[i] = enc_argv[3 + (i - 3) % 7];
    }
    cr_assert(eq(int, mbr_msg_decode(argv, big, &got, NULL, SIZE_MAX), MBR_ETOOBIG));
    /* A megabyte where an address goes. */
    memset(huge, '1', 1 << 20);
    enc_argv[4].p = huge;
    enc_argv[4].len = 1 << 20;
    cr_assert(eq(int, mbr_msg_decode(enc_argv, argc, &got, dec_recs, 16), MBR_EPROTO));
    free(huge);
    free(argv);
}

Test(membership, encode_refuses_what_decode_would_and_buffers_too_small)
{
    struct mbr_record recs[3];
    struct mbr_msg msg = { .type = MBR_MSG_PING, .nrecords = 3, .records = recs };
    size_t argc;

    sample_ping(recs);
    make_id(msg.target, 2);
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, MBR_ENCODE_ARGC(3) - 1, enc_buf,
                                     sizeof enc_buf, &argc), MBR_ETOOBIG));
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, MBR_ENCODE_ARGC(3), enc_buf,
                                     MBR_ENCODE_BUF(3) - 1, &argc), MBR_ETOOBIG));
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, MBR_ENCODE_ARGC(3), enc_buf,
                                     MBR_ENCODE_BUF(3), &argc), MBR_OK));
    recs[0].state = MBR_DEAD; /* nobody says that of itself */
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, 64, enc_buf, sizeof enc_buf, &argc),
                 MBR_EINVAL));
    recs[0].state = MBR_ALIVE;
    msg.target[0] = '\0';
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, 64, enc_buf, sizeof enc_buf, &argc),
                 MBR_EINVAL));
    make_id(msg.target, 2);
    msg.nrecords = 0;
    cr_assert(eq(int, mbr_msg_encode(&msg, enc_argv, 64, enc_buf, sizeof enc_buf, &argc),
                 MBR_EINVAL));
}

/* Random arguments, and valid messages with random damage: decoding must
 * answer OK or an error, never crash or read out of bounds (run under
 * valgrind or ASan to see the latter); whatever decodes must round-trip,
 * and a node fed it must stay sound. */
#define FUZZ_ITERATIONS 20000

static const char *const fuzz_words[] = {
    "GOSSIP.PING", "GOSSIP.ACK", "GOSSIP.PINGREQ", "GOSSIP.JOIN", "GOSSIP.SYNC",
    "GOSSIP.SYNCACK", "GOSSIP.UPDATE", "gossip.ping", "alive", "suspect", "dead", "left",
    "joining", "leaving", "0", "1", "65535", "65536", "18446744073709551615",
    "10.0.0.1", "::1", "::", "255.255.255.255", "",
    "0123456789abcdef0123456789abcdef01234567",
};

Test(membership, decoding_random_and_damaged_messages_never_crashes)
{
    static char bytes[64][64];
    struct resp_arg argv[64], re_argv[MBR_ENCODE_ARGC(16)];
    static char re_buf[MBR_ENCODE_BUF(16)];
    struct mbr_record recs[3], re_recs[16];
    size_t valid_argc = sample_ping(recs);
    struct resp_arg valid[64];
    uint64_t rng = 2024;
    unsigned ok = 0;
    struct one o;

    memcpy(valid, enc_argv, valid_argc * sizeof valid[0]);
    one_init(&o, NULL);
    for (int it = 0; it < FUZZ_ITERATIONS; it++) {
        size_t argc;
        struct mbr_msg got, again;
        uint64_t mode = splitmix(&rng) % 3;

        if (mode == 0) { /* words and random bytes */
            argc = splitmix(&rng) % 40;
            for (size_t i = 0; i < argc; i++) {
                size_t len = splitmix(&rng) % 48;
                if (splitmix(&rng) % 2) {
                    const char *w = fuzz_words[splitmix(&rng) % (sizeof fuzz_words /
                                                                 sizeof fuzz_words[0])];
                    len = strlen(w);
                    memcpy(bytes[i], w, len);
                } else {
                    for (size_t k = 0; k < len; k++) {
                        bytes[i][k] = (char)splitmix(&rng);
                    }
                }
                argv[i].p = bytes[i];
                argv[i].len = len;
            }
        } else { /* a valid message, damaged */
            argc = valid_argc;
            for (size_t i = 0; i < argc; i++) {
                memcpy(bytes[i], valid[i].p, valid[i].len);
                argv[i].p = bytes[i];
                argv[i].len = valid[i].len;
            }
            for (uint64_t d = splitmix(&rng) % 3 + 1; d > 0 && argc > 0; d--) {
                size_t i = splitmix(&rng) % argc;
                switch (splitmix(&rng) % 4) {
                case 0:
                    if (argv[i].len > 0) {
                        bytes[i][splitmix(&rng) % argv[i].len] = (char)splitmix(&rng);
                    }
                    break;
                case 1:
                    argv[i].len = splitmix(&rng) % (argv[i].len + 2);
                    break;
                case 2:
                    argc = splitmix(&rng) % (valid_argc + 1);
                    break;
                default:
                    argv[i] = valid[splitmix(&rng) % valid_argc];
                    break;
                }
            }
        }
        if (mode == 2 && argc > 0) {
            argv[0] = valid[0]; /* get past the name more often */
        }
        enum mbr_status st = mbr_msg_decode(argv, argc, &got, dec_recs, 16);
        cr_assert(st == MBR_OK || st == MBR_EPROTO || st == MBR_ETOOBIG);
        if (st != MBR_OK) {
            continue;
        }
        ok++;
        size_t re_argc;
        cr_assert(eq(int, mbr_msg_encode(&got, re_argv, MBR_ENCODE_ARGC(16), re_buf,
                                         sizeof re_buf, &re_argc), MBR_OK));
        cr_assert(eq(int, mbr_msg_decode(re_argv, re_argc, &again, re_recs, 16), MBR_OK));
        cr_assert(eq(sz, again.nrecords, got.nrecords));
        for (size_t i = 0; i < got.nrecords; i++) {
            cr_assert(record_eq(&again.records[i], &got.records[i]));
        }
        mbr_out_clear(o.out);
        st = mbr_receive(o.m, NULL, &got, T0 + it, o.out);
        cr_assert(st == MBR_OK);
        mbr_out_clear(o.out);
        cr_assert(eq(int, mbr_tick(o.m, T0 + it, o.out), MBR_OK));
    }
    cr_assert(gt(u32, ok, 100), "the fuzzer reached the state machine only %u times", ok);
    one_deinit(&o);
}

/* ===========================================================================
 * nodes.conf
 * ======================================================================== */

Test(membership, nodes_conf_round_trips_every_state_and_both_address_families)
{
    struct one o;
    struct mbr_member in[6], out[8], me;
    size_t count, myself;
    unsigned line;
    static char text[4096];
    size_t len;

    one_init(&o, NULL);
    in[0] = member(1000, "10.1.0.1", MBR_ALIVE, 12); /* ourselves, saved earlier */
    in[1] = member(11, "::1", MBR_JOINING, 0);
    in[2] = member(12, "fe80::1:2", MBR_SUSPECT, 3);
    in[3] = member(13, "10.9.9.9", MBR_DEAD, MBR_MAX_INCARNATION);
    in[4] = member(14, "10.9.9.10", MBR_LEAVING, 1);
    in[5] = member(15, "10.9.9.11", MBR_LEFT, 2);
    in[4].port = 7000;
    in[4].bus_port = 17000;
    cr_assert(eq(int, mbr_load(o.m, in, 6, 0, T0, o.out), MBR_OK));
    mbr_self(o.m, &me);
    cr_assert(eq(u64, me.incarnation, 13), "a restart must outrank its saved self");

    len = mbr_conf_format(o.m, text, sizeof text);
    cr_assert(eq(sz, len, strlen(text)));
    cr_assert(not(eq(ptr, strstr(text, " myself,alive 13\n"), NULL)), "%s", text);
    cr_assert(not(eq(ptr, strstr(text, " ::1:6379@16379 joining 0\n"), NULL)), "%s", text);
    cr_assert(eq(int, mbr_conf_parse(text, len, out, 8, &count, &myself, &line), MBR_OK));
    cr_assert(eq(sz, count, 6));
    cr_assert(eq(str, out[myself].id, in[0].id));
    for (size_t i = 0; i < 6; i++) {
        bool found = false;
        for (size_t k = 0; k < count; k++) {
            if (strcmp(out[k].id, in[i].id) == 0) {
                found = true;
                cr_assert(eq(str, out[k].addr, in[i].addr));
                cr_assert(eq(u16, out[k].port, in[i].port));
                cr_assert(eq(u16, out[k].bus_port, in[i].bus_port));
                cr_assert(eq(int, out[k].state, in[i].state));
                cr_assert(eq(u64, out[k].incarnation, i == 0 ? 13 : in[i].incarnation));
            }
        }
        cr_assert(found, "member %zu lost", i);
    }
    one_deinit(&o);
}

Test(membership, nodes_conf_reports_the_line_of_a_bad_entry)
{
#define ME "00000000000000000000000000000000000000aa 10.0.0.1:6379@16379 myself,alive 3\n"
#define B "00000000000000000000000000000000000000bb"
    static const struct {
        const char *text;
        enum mbr_status st;
        unsigned line;
    } cases[] = {
        { "garbage\n" ME, MBR_EPROTO, 1 },
        { ME "# a comment\n\n" B "x 10.0.0.2:6379@16379 alive 0\n", MBR_EPROTO, 4 },
        { ME B " 10.0.0.2:6379 alive 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@ alive 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:0@16379 alive 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@65536 alive 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@1@2 alive 0\n", MBR_EPROTO, 2 },
        { ME B " node2:6379@16379 alive 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@16379 zombie 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@16379 myself, 0\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@16379 alive -1\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@16379 alive 0 extra\n", MBR_EPROTO, 2 },
        { ME B " 10.0.0.2:6379@16379 alive\n", MBR_EPROTO, 2 },
        { ME "\n" B " 10.0.0.2:6379@16379 alive 0\n" B " 10.0.0.3:6379@16379 alive 0\n",
          MBR_EPROTO, 4 },
        { ME ME, MBR_EPROTO, 2 },
        { B " 10.0.0.2:6379@16379 myself,alive 0\n" ME, MBR_EPROTO, 2 },
        { B " 10.0.0.2:6379@16379 alive 0\n", MBR_EPROTO, 0 },
        { "", MBR_EPROTO, 0 },
        { "# only\r\n\r\n" ME, MBR_OK, 0 },
        { ME B " ::ffff:10.0.0.2:6379@16379\tdead 7", MBR_OK, 0 },
    };
    struct mbr_member mm[4];
    size_t count, myself;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned line = 99;
        enum mbr_status st =
            mbr_conf_parse(cases[i].text, strlen(cases[i].text), mm, 4, &count, &myself, &line);
        cr_assert(eq(int, st, cases[i].st), "case %zu", i);
        if (st != MBR_OK) {
            cr_assert(eq(u32, line, cases[i].line), "case %zu", i);
        }
    }
    /* Room for one member only: the second line is the one too many. */
    unsigned line;
    cr_assert(eq(int, mbr_conf_parse(ME B " 10.0.0.2:6379@16379 alive 0\n",
                                     strlen(ME) + strlen(B) + 29, mm, 1, &count, &myself,
                                     &line), MBR_ETOOBIG));
    cr_assert(eq(u32, line, 2));
#undef ME
#undef B
}

Test(membership, nodes_conf_cut_by_a_small_buffer_keeps_whole_lines_and_says_what_it_needs)
{
    struct one o;
    static char full[4096], cut[100];
    size_t need, count, myself;
    struct mbr_member mm[4];
    unsigned line;

    one_init(&o, NULL);
    one_meet(&o);
    need = mbr_conf_format(o.m, full, sizeof full);
    cr_assert(eq(sz, mbr_conf_format(o.m, cut, sizeof cut), need));
    cr_assert(lt(sz, strlen(cut), sizeof cut));
    cr_assert(eq(int, strncmp(cut, full, strlen(cut)), 0));
    cr_assert(eq(chr, cut[strlen(cut) - 1], '\n'));
    cr_assert(eq(int, mbr_conf_parse(full, need, mm, 4, &count, &myself, &line), MBR_OK));
    cr_assert(eq(sz, count, 3));
    one_deinit(&o);
}
