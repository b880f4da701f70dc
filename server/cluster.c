/*
 * server/cluster.c — cluster mode; see cluster.h.
 *
 * Bus protocol (port + 10000, RESP arrays; never accepted on the client
 * port):
 *   GOSSIP.* <args>               membership messages, answered +OK; the
 *                                 main thread processes them
 *   RC.AUTH <secret>              first, when the bus has a secret
 *                                 (cluster-secret, else requirepass)
 *   RC.EXEC <proto> <cmd> <args>  run a command here, without routing, and
 *                                 reply as a client of that protocol would
 *                                 get it; the forwarding member relays the
 *                                 reply byte for byte (N = 1, and slot
 *                                 commands)
 *   RC.CALL, RC.PUT, RC.PUTIF, RC.REPLACE, RC.GET, RC.HINT, RC.SLOTSCAN
 *                                 replication (N > 1): see replicate.h
 * The CLUSTER commands that read the view are in cmd_cluster.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/membership.h"
#include "cluster/ring.h"
#include "cluster/slots.h"
#include "resp/reply.h"
#include "server/bus.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/glob.h"
#include "server/log.h"
#include "server/rebalance.h"
#include "server/replicate.h"
#include "server/server.h"
#include "server/view.h"
#include "storage/store.h"

#define VIEW_GRACE_MS 10000
/* Bytes of gossip waiting for the main thread. SWIM copes with lost
 * messages, so a peer flooding the bus costs dropped gossip, not unbounded
 * memory (a message may hold ~460 KB of records). */
#define INBOX_MAX_BYTES (16u << 20)
#define MAX_LINKS 1024
/* Each member opens a link per worker, and one for gossip. */
#define MAX_BUS_CONNECTIONS 4096

/* ---- the view shared with workers (view.h) ------------------------------*/

static _Atomic(struct view *) current_view;

/* ---- main-thread state ----------------------------------------------------*/

struct inbox_item {
    struct inbox_item *next;
    enum { IN_GOSSIP, IN_MEET, IN_FORGET } kind;
    struct mbr_msg msg;         /* IN_GOSSIP; records owned */
    char addr[MBR_ADDR_MAX];    /* IN_MEET; the id for IN_FORGET */
    uint16_t bus_port;
};

static struct {
    bool enabled;
    struct mbr *mbr;
    struct mbr_out *out;
    struct ring *ring;
    struct event *tick_ev, *inbox_ev;
    int bus_fd;
    struct event *bus_ev;
    struct bus_link *links[MAX_LINKS]; /* gossip links, by address */
    size_t nlinks;
    pthread_mutex_t inbox_lock;
    struct inbox_item *inbox, **inbox_tail;
    size_t inbox_bytes;
    _Atomic uint64_t gossip_dropped, bus_refused;
    _Atomic uint64_t secret_gen;     /* bumped when requirepass changes */
    _Atomic uint64_t ring_builds, conf_saves;
    uint64_t link_gen[MAX_LINKS];    /* the secret each gossip link's hello carries */
    struct view *retired;
    char conf_path[1024];
    _Atomic uint64_t msgs_sent, msgs_received; /* read by CLUSTER INFO */
    uint64_t epoch;
} cl = { .bus_fd = -1 };

/* ---- per-worker state -----------------------------------------------------*/

struct worker_link {
    char id[MBR_ID_LEN + 1];
    struct bus_link *link;
    uint64_t secret_gen; /* the secret its hello carries */
};

struct cluster_worker {
    struct worker_link links[MAX_LINKS];
    size_t n;
};

bool
cluster_enabled(void)
{
    return cl.enabled;
}

/* The bus secret: cluster-secret, else requirepass (so a cluster protected
 * by a password has a protected bus without another setting). Whole,
 * however long: malloc'd for the caller to free; NULL when out of memory. */
static char *
bus_secret(void)
{
    char *s = config_str_dup(OPT_CLUSTER_SECRET);

    if (s != NULL && s[0] == '\0') {
        free(s);
        s = config_str_dup(OPT_REQUIREPASS);
    }
    return s;
}

bool
cluster_bus_open(void)
{
    char *secret = bus_secret();
    bool open = secret != NULL && secret[0] == '\0';

    free(secret);
    return open;
}

/* A link says RC.AUTH first on every new connection when there is a
 * secret; after CONFIG SET requirepass (generation *gen is behind) its next
 * connection says the new one. */
static struct bus_link *
link_fresh(struct bus_link *l, uint64_t *gen)
{
    uint64_t now = atomic_load_explicit(&cl.secret_gen, memory_order_acquire);
    char *secret;

    if (l == NULL || *gen == now + 1) {
        return l;
    }
    secret = bus_secret();
    if (secret != NULL) {
        struct resp_arg hello[2] = { { "RC.AUTH", 7 }, { secret, strlen(secret) } };

        bus_link_set_hello(l, secret[0] ? 2 : 0, hello);
        *gen = now + 1; /* 0 is "never set" */
        free(secret);
    }
    return l;
}

static void
secret_changed(enum config_id id)
{
    (void)id;
    atomic_fetch_add_explicit(&cl.secret_gen, 1, memory_order_release);
}

struct view *
view_get(void)
{
    return atomic_load_explicit(&current_view, memory_order_acquire);
}

struct view *
view_pin(struct view *v)
{
    atomic_fetch_add_explicit(&v->pins, 1, memory_order_relaxed);
    return v;
}

void
view_release(struct view **v)
{
    if (*v != NULL) {
        atomic_fetch_sub_explicit(&(*v)->pins, 1, memory_order_release);
        *v = NULL;
    }
}

/* The same members on the ring, at the same indexes: the preference lists
 * are the same, whatever else (states, incarnations) changed. */
static bool
same_ring(const struct view *a, const struct view *b)
{
    if (a == NULL || a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->m[i].id, b->m[i].id) != 0 ||
            (a->m[i].state == MBR_LEFT) != (b->m[i].state == MBR_LEFT)) {
            return false;
        }
    }
    return true;
}

/* What nodes.conf needs again after a restart is the same: members, their
 * addresses, who left, and our own incarnation. Other members' health is
 * learnt again by gossip, so a death or a suspicion writes nothing. */
static bool
same_saved(const struct view *a, const struct view *b)
{
    if (!same_ring(a, b)) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->m[i].addr, b->m[i].addr) != 0 || a->m[i].port != b->m[i].port ||
            a->m[i].bus_port != b->m[i].bus_port) {
            return false;
        }
    }
    return a->m[a->self].incarnation == b->m[b->self].incarnation;
}

/* Publish a new view of the membership (main thread); the ring and the
 * preference lists are rebuilt only when the ring's members changed.
 * Returns true when nodes.conf should be written. */
static bool
view_publish(void)
{
    struct view *v = calloc(1, sizeof *v), *old = view_get();
    struct mbr_member me;
    size_t n = mbr_member_count(cl.mbr);
    bool save;

    if (v == NULL) {
        log_msg(LOG_WARNING, "cluster: no memory for a new view");
        return false;
    }
    v->m = calloc(n ? n : 1, sizeof *v->m);
    mbr_self(cl.mbr, &me);
    for (size_t i = 0; i < n; i++) {
        struct mbr_member mm;

        mbr_member_at(cl.mbr, i, &mm);
        memcpy(v->m[i].id, mm.id, sizeof mm.id);
        memcpy(v->m[i].addr, mm.addr, sizeof mm.addr);
        v->m[i].port = mm.port;
        v->m[i].bus_port = mm.bus_port;
        v->m[i].state = mm.state;
        v->m[i].incarnation = mm.incarnation;
        if (strcmp(mm.id, me.id) == 0) {
            v->self = (int)i;
        }
        /* Dead is a temporary failure (Dynamo): the member keeps its slots.
         * Only members that left for good are off the ring. */
        v->ring_members += mm.state != MBR_LEFT;
    }
    v->n = n;
    v->epoch = ++cl.epoch;
    if (same_ring(old, v)) {
        memcpy(v->npref, old->npref, sizeof v->npref);
        memcpy(v->pref, old->pref, sizeof v->pref);
    } else {
        ring_destroy(&cl.ring);
        cl.ring = ring_create((unsigned)config_num(OPT_VNODES));
        for (size_t i = 0; i < n; i++) {
            if (v->m[i].state != MBR_LEFT) {
                ring_member_add(cl.ring, v->m[i].id, (uint32_t)i);
            }
        }
        ring_build(cl.ring);
        for (uint32_t s = 0; s < CLUSTER_SLOTS; s++) {
            uint32_t h[RING_MAX_REPLICAS];
            size_t np = ring_preference(cl.ring, (uint16_t)s, RING_MAX_REPLICAS, h);

            v->npref[s] = (uint8_t)np;
            for (size_t k = 0; k < np; k++) {
                v->pref[s][k] = (uint16_t)h[k];
            }
        }
        atomic_fetch_add_explicit(&cl.ring_builds, 1, memory_order_relaxed);
    }
    save = !same_saved(old, v);
    old = atomic_exchange_explicit(&current_view, v, memory_order_acq_rel);
    if (old != NULL) {
        old->retired_ms = now_ms();
        old->retired_next = cl.retired;
        cl.retired = old;
    }
    return save;
}

/* Free views no worker can still be reading: a command that loaded one
 * without a pin is done with it within the grace; whatever may hold one
 * longer (a replicated write, a forward, a SCAN call, a listing) pins it. */
static void
views_reap(int64_t now, bool all)
{
    for (struct view **pp = &cl.retired; *pp != NULL;) {
        struct view *v = *pp;
        if (all || (now - v->retired_ms > VIEW_GRACE_MS &&
                    atomic_load_explicit(&v->pins, memory_order_acquire) == 0)) {
            *pp = v->retired_next;
            free(v->m);
            free(v);
        } else {
            pp = &v->retired_next;
        }
    }
}

/* ---- nodes.conf -------------------------------------------------------------*/

static void
conf_save(void)
{
    atomic_fetch_add_explicit(&cl.conf_saves, 1, memory_order_relaxed);
    char tmp[1100];
    size_t need = mbr_conf_format(cl.mbr, NULL, 0) + 1;
    char *text = malloc(need);
    FILE *f;

    if (text == NULL) {
        return;
    }
    mbr_conf_format(cl.mbr, text, need);
    snprintf(tmp, sizeof tmp, "%s.tmp", cl.conf_path);
    f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        log_msg(LOG_WARNING, "cluster: cannot write %s: %s", tmp, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        free(text);
        return;
    }
    fclose(f);
    if (rename(tmp, cl.conf_path) != 0) {
        log_msg(LOG_WARNING, "cluster: cannot rename %s: %s", tmp, strerror(errno));
    }
    free(text);
}

/* ---- gossip transport (main thread) -------------------------------------*/

static struct bus_link *
gossip_link(const char *addr, uint16_t port)
{
    for (size_t i = 0; i < cl.nlinks; i++) {
        if (bus_link_matches(cl.links[i], addr, port)) {
            return link_fresh(cl.links[i], &cl.link_gen[i]);
        }
    }
    if (cl.nlinks == MAX_LINKS) {
        return NULL;
    }
    cl.links[cl.nlinks] = bus_link_create(server.base, addr, port);
    cl.link_gen[cl.nlinks] = 0;
    cl.nlinks++;
    return link_fresh(cl.links[cl.nlinks - 1], &cl.link_gen[cl.nlinks - 1]);
}

static void
gossip_send(const struct mbr_send *s)
{
    size_t argc_cap = MBR_ENCODE_ARGC(s->msg.nrecords);
    size_t buf_cap = MBR_ENCODE_BUF(s->msg.nrecords);
    struct resp_arg *argv = malloc(argc_cap * sizeof *argv);
    char *buf = malloc(buf_cap);
    size_t argc;
    struct bus_link *l = gossip_link(s->to_addr, s->to_bus_port);

    if (argv != NULL && buf != NULL && l != NULL &&
        mbr_msg_encode(&s->msg, argv, argc_cap, buf, buf_cap, &argc) == MBR_OK) {
        int64_t deadline = now_ms() + config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS);
        if (bus_link_send(l, (int)argc, argv, deadline, NULL, NULL)) {
            atomic_fetch_add_explicit(&cl.msgs_sent, 1, memory_order_relaxed);
        }
    }
    free(argv);
    free(buf);
}

/* Carry out what the state machine asked for. */
static void
drain(void)
{
    bool changed = false;
    size_t n = mbr_out_count(cl.out);

    for (size_t i = 0; i < n; i++) {
        const struct mbr_action *a = mbr_out_at(cl.out, i);

        if (a->kind == MBR_ACT_SEND) {
            gossip_send(&a->send);
            continue;
        }
        changed = true;
        if (a->event.kind != MBR_EV_CHANGED || a->event.member.state != a->event.old_state) {
            log_msg(a->event.member.state >= MBR_SUSPECT ? LOG_WARNING : LOG_NOTICE,
                    "cluster: member %.40s %s:%u is %s%s", a->event.member.id,
                    a->event.member.addr, a->event.member.port,
                    a->event.kind == MBR_EV_REMOVED ? "forgotten, was " : "",
                    mbr_state_name(a->event.member.state));
        }
    }
    if (mbr_out_lost(cl.out) > 0) {
        changed = true;
    }
    mbr_out_clear(cl.out);
    if (changed && view_publish()) {
        conf_save();
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = now_ms();
    int64_t next;
    struct timeval tv;

    (void)fd;
    (void)what;
    (void)arg;
    mbr_tick(cl.mbr, now, cl.out);
    drain();
    for (size_t i = 0; i < cl.nlinks; i++) {
        bus_link_expire(cl.links[i], now);
    }
    views_reap(now, false);
    repl_main_tick(now);
    next = mbr_next_tick_ms(cl.mbr) - now;
    if (next < 1) {
        next = 1;
    }
    if (next > 100) {
        next = 100; /* hint replay runs on this tick */
    }
    tv.tv_sec = next / 1000;
    tv.tv_usec = (next % 1000) * 1000;
    event_add(cl.tick_ev, &tv);
}

static void
inbox_cb(evutil_socket_t fd, short what, void *arg)
{
    struct inbox_item *list;

    (void)fd;
    (void)what;
    (void)arg;
    pthread_mutex_lock(&cl.inbox_lock);
    list = cl.inbox;
    cl.inbox = NULL;
    cl.inbox_tail = &cl.inbox;
    cl.inbox_bytes = 0;
    pthread_mutex_unlock(&cl.inbox_lock);
    while (list != NULL) {
        struct inbox_item *it = list;
        int64_t now = now_ms();

        list = it->next;
        if (it->kind == IN_GOSSIP) {
            atomic_fetch_add_explicit(&cl.msgs_received, 1, memory_order_relaxed);
            mbr_receive(cl.mbr, NULL, &it->msg, now, cl.out);
            free(it->msg.records);
        } else if (it->kind == IN_MEET) {
            mbr_join(cl.mbr, it->addr, it->bus_port, now, cl.out);
        } else {
            mbr_forget(cl.mbr, it->addr, now, cl.out);
        }
        free(it);
    }
    drain();
}

/* Hand an item of `bytes` to the main thread. Gossip past INBOX_MAX_BYTES
 * is dropped (and counted); MEET and FORGET, which an operator asked for,
 * always go in. */
static void
inbox_post(struct inbox_item *it, size_t bytes)
{
    it->next = NULL;
    pthread_mutex_lock(&cl.inbox_lock);
    if (it->kind == IN_GOSSIP && cl.inbox_bytes + bytes > INBOX_MAX_BYTES) {
        pthread_mutex_unlock(&cl.inbox_lock);
        atomic_fetch_add(&cl.gossip_dropped, 1);
        free(it->msg.records);
        free(it);
        return;
    }
    *cl.inbox_tail = it;
    cl.inbox_tail = &it->next;
    cl.inbox_bytes += bytes;
    pthread_mutex_unlock(&cl.inbox_lock);
    event_active(cl.inbox_ev, EV_READ, 0);
}

/* ---- setup ------------------------------------------------------------------*/

static uint64_t
seed_from(const char *id)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = id; *p; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    return h ^ (uint64_t)now_ms();
}

static int
load_conf(struct mbr_member **members, size_t *count, size_t *myself)
{
    FILE *f = fopen(cl.conf_path, "r");
    char *text;
    long len;
    unsigned line = 0;
    size_t cap = 4096;

    *count = 0;
    if (f == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len == 0) {
        fclose(f); /* created and never written (by hand): a new member, as Redis */
        return 0;
    }
    text = malloc((size_t)len + 1);
    if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
        free(text);
        fclose(f);
        return -1;
    }
    fclose(f);
    *members = calloc(cap, sizeof **members);
    if (mbr_conf_parse(text, (size_t)len, *members, cap, count, myself, &line) != MBR_OK) {
        log_msg(LOG_WARNING, "cluster: %s is corrupt at line %u", cl.conf_path, line);
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

static int
bus_listen(const char *addr, uint16_t port)
{
    char bind_cfg[64];

    snprintf(bind_cfg, sizeof bind_cfg, "%s", addr);
    cl.bus_fd = net_listen(bind_cfg, port);
    if (cl.bus_fd < 0) {
        return -1;
    }
    cl.bus_ev = event_new(server.base, cl.bus_fd, EV_READ | EV_PERSIST, cluster_bus_accept_cb, NULL);
    event_add(cl.bus_ev, NULL);
    return 0;
}

int
cluster_setup(void)
{
    struct mbr_member self = { 0 }, *saved = NULL;
    struct mbr_config mc = { 0 };
    size_t nsaved = 0, myself = 0;
    char announce[MBR_ADDR_MAX], seeds[4096], cfg_id[64], file[512];
    int port = (int)config_num(OPT_PORT);
    int bus_port = (int)config_num(OPT_CLUSTER_BUS_PORT);
    struct timeval tv = { 0, 1000 };

    cl.enabled = config_num(OPT_CLUSTER_ENABLED) != 0;
    if (!cl.enabled) {
        return 0;
    }
    if (bus_port == 0) {
        bus_port = port + 10000;
    }
    if (bus_port > 65535) {
        log_msg(LOG_WARNING, "cluster: bus port %d out of range: set cluster-bus-port", bus_port);
        return -1;
    }
    config_str(OPT_CLUSTER_CONFIG_FILE, file, sizeof file);
    snprintf(cl.conf_path, sizeof cl.conf_path, "%s", file);
    config_str(OPT_CLUSTER_ANNOUNCE_IP, announce, sizeof announce);
    if (announce[0] == '\0') {
        char bind[1024];
        config_str(OPT_BIND, bind, sizeof bind);
        snprintf(announce, sizeof announce, "%.*s", (int)strcspn(bind, " "),
                 bind[0] == '-' ? bind + 1 : bind);
        if (strcmp(announce, "*") == 0 || strcmp(announce, "0.0.0.0") == 0) {
            snprintf(announce, sizeof announce, "127.0.0.1");
        }
    }
    if (load_conf(&saved, &nsaved, &myself) < 0) {
        log_msg(LOG_WARNING, "cluster: cannot use %s; move it away to start as a new member",
                cl.conf_path);
        free(saved);
        return -1;
    }
    config_str(OPT_CLUSTER_NODE_ID, cfg_id, sizeof cfg_id);
    if (nsaved > 0) {
        self = saved[myself];
        if (cfg_id[0] != '\0' && strcmp(cfg_id, self.id) != 0) {
            log_msg(LOG_WARNING, "cluster: cluster-node-id %s differs from %s in %s",
                    cfg_id, self.id, cl.conf_path);
            free(saved);
            return -1;
        }
    } else if (cfg_id[0] != '\0') {
        if (!mbr_id_valid(cfg_id, strlen(cfg_id))) {
            log_msg(LOG_WARNING, "cluster: cluster-node-id must be 40 lowercase hex characters");
            return -1;
        }
        snprintf(self.id, sizeof self.id, "%s", cfg_id);
    } else {
        random_hex_id(self.id);
    }
    snprintf(self.addr, sizeof self.addr, "%s", announce);
    self.port = (uint16_t)port;
    self.bus_port = (uint16_t)bus_port;
    self.state = MBR_ALIVE;
    /* failure-detect-ms is the whole time from a member's last answer to
     * "dead": three probe timeouts (a direct probe, its retry with indirect
     * probes) to suspect it, then the rest to let it refute. */
    {
        long long fd_ms = config_num(OPT_FAILURE_DETECT_MS);
        long long probe = fd_ms / 5 > 200 ? 200 : (fd_ms / 5 < 10 ? 10 : fd_ms / 5);

        mc.probe_timeout_ms = (uint32_t)probe;
        mc.failure_detect_ms = (uint32_t)(fd_ms - 3 * probe > 1 ? fd_ms - 3 * probe : 1);
    }
    mc.gossip_interval_ms = (uint32_t)config_num(OPT_GOSSIP_INTERVAL_MS);
    mc.node_forget_timeout_ms = (uint64_t)config_num(OPT_NODE_FORGET_TIMEOUT);
    mc.seed = seed_from(self.id);
    cl.mbr = mbr_create(&mc, &self, now_ms());
    cl.out = mbr_out_create();
    if (cl.mbr == NULL || cl.out == NULL) {
        log_msg(LOG_WARNING, "cluster: cannot create the membership (bad address '%s'?)", announce);
        free(saved);
        return -1;
    }
    if (nsaved > 0) {
        mbr_load(cl.mbr, saved, nsaved, myself, now_ms(), cl.out);
    }
    free(saved);
    pthread_mutex_init(&cl.inbox_lock, NULL);
    cl.inbox_tail = &cl.inbox;
    cl.inbox_ev = event_new(server.base, -1, EV_PERSIST, inbox_cb, NULL);
    event_add(cl.inbox_ev, NULL);
    if (bus_listen(announce, (uint16_t)bus_port) < 0) {
        log_msg(LOG_WARNING, "cluster: cannot listen on the bus port %d", bus_port);
        return -1;
    }
    config_str(OPT_CLUSTER_SEEDS, seeds, sizeof seeds);
    for (char *save = NULL, *tok = strtok_r(seeds, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        long p = colon ? strtol(colon + 1, NULL, 10) : 0;

        if (colon == NULL || p <= 0 || p > 65535) {
            log_msg(LOG_WARNING, "cluster: bad seed '%s': want host:bus-port", tok);
            return -1;
        }
        *colon = '\0';
        mbr_join(cl.mbr, strcmp(tok, "localhost") == 0 ? "127.0.0.1" : tok, (uint16_t)p,
                 now_ms(), cl.out);
    }
    drain();
    view_publish();
    conf_save();
    if (repl_setup(self.id, nsaved > 1) < 0) {
        return -1;
    }
    config_on_change(OPT_REQUIREPASS, secret_changed);
    cl.tick_ev = event_new(server.base, -1, 0, tick_cb, NULL);
    event_add(cl.tick_ev, &tv);
    log_msg(LOG_NOTICE, "cluster: member %s at %s:%d, bus port %d", self.id, announce, port,
            bus_port);
    return 0;
}

void
cluster_teardown(void)
{
    struct inbox_item *it;

    if (!cl.enabled) {
        return;
    }
    rebalance_teardown(); /* before the links fail its requests and the views go */
    for (size_t i = 0; i < cl.nlinks; i++) {
        bus_link_destroy(&cl.links[i]);
    }
    cl.nlinks = 0;
    /* a setup that failed part way (a damaged nodes.conf, a bus port in
     * use) leaves some of these unmade */
    if (cl.bus_ev != NULL) {
        event_free(cl.bus_ev);
        close(cl.bus_fd);
        cl.bus_ev = NULL;
    }
    if (cl.tick_ev != NULL) {
        event_free(cl.tick_ev);
        cl.tick_ev = NULL;
    }
    if (cl.inbox_ev != NULL) {
        event_free(cl.inbox_ev);
        cl.inbox_ev = NULL;
    }
    while ((it = cl.inbox) != NULL) {
        cl.inbox = it->next;
        free(it->msg.records);
        free(it);
    }
    views_reap(0, true);
    {
        struct view *v = atomic_exchange(&current_view, NULL);
        if (v != NULL) {
            free(v->m);
            free(v);
        }
    }
    repl_teardown();
    ring_destroy(&cl.ring);
    mbr_destroy(&cl.mbr);
    mbr_out_destroy(&cl.out);
    cl.enabled = false;
}

void
cluster_bus_accept_cb(int lfd, short what, void *arg)
{
    (void)what;
    (void)arg;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        /* Bus connections have their own bound, apart from maxclients; a
         * peer that never authenticates is closed after a few seconds. */
        if (atomic_fetch_add(&server.nbus, 1) >= MAX_BUS_CONNECTIONS) {
            atomic_fetch_sub(&server.nbus, 1);
            close(fd);
            atomic_fetch_add(&cl.bus_refused, 1);
            continue;
        }
        net_hand_off(fd, CONN_BUS);
    }
}

/* ---- worker links --------------------------------------------------------*/

void
cluster_worker_setup(struct worker *w)
{
    w->cluster = calloc(1, sizeof(struct cluster_worker));
}

void
cluster_worker_teardown(struct worker *w)
{
    struct cluster_worker *cw = w->cluster;

    if (cw == NULL) {
        return;
    }
    for (size_t i = 0; i < cw->n; i++) {
        bus_link_destroy(&cw->links[i].link);
    }
    free(cw);
    w->cluster = NULL;
}

void
cluster_worker_cron(struct worker *w, int64_t now)
{
    struct cluster_worker *cw = w->cluster;

    for (size_t i = 0; cw != NULL && i < cw->n; i++) {
        bus_link_expire(cw->links[i].link, now);
    }
    repl_worker_cron(now);
}

struct bus_link *
cluster_main_link(const struct view_member *m)
{
    return gossip_link(m->addr, m->bus_port);
}

struct bus_link *
cluster_worker_link(struct worker *w, const struct view_member *m)
{
    struct cluster_worker *cw = w->cluster;

    for (size_t i = 0; i < cw->n; i++) {
        if (strcmp(cw->links[i].id, m->id) == 0) {
            if (!bus_link_matches(cw->links[i].link, m->addr, m->bus_port)) {
                /* The member moved (restarted elsewhere): a new link. */
                bus_link_destroy(&cw->links[i].link);
                cw->links[i].link = bus_link_create(w->base, m->addr, m->bus_port);
                cw->links[i].secret_gen = 0;
            }
            return link_fresh(cw->links[i].link, &cw->links[i].secret_gen);
        }
    }
    if (cw->n == MAX_LINKS) {
        return NULL;
    }
    memcpy(cw->links[cw->n].id, m->id, sizeof m->id);
    cw->links[cw->n].link = bus_link_create(w->base, m->addr, m->bus_port);
    cw->links[cw->n].secret_gen = 0;
    cw->n++;
    return link_fresh(cw->links[cw->n - 1].link, &cw->links[cw->n - 1].secret_gen);
}

/* ---- routing -------------------------------------------------------------*/

enum gather_kind { G_RELAY, G_MGET, G_SUM, G_ALL_OK, G_CONCAT, G_SCAN };

struct part {
    char *reply;             /* copy of the member's reply, or NULL */
    size_t len;
    int *pos;                /* G_MGET: original index of each key */
    int npos;
    int node;                /* G_SCAN: member index */
};

struct gather {
    struct client *c;
    struct reply_slot *slot;   /* where the reply goes, in request order */
    enum gather_kind kind;
    int nparts, outstanding;
    int nkeys;
    struct part *parts;
    /* G_SCAN: the request, to go on with the next member when one is done
     * with fewer than COUNT keys, and the keys so far */
    int scan_argc;
    struct resp_arg *scan_argv;
    struct view *scan_view;    /* pinned: a SCAN call may outlive the view */
    char *scan_bytes;
    long long scan_count, scan_n;
    unsigned long long scan_cursor;
    struct resp_buf scan_keys;
};

static const char ERR_SLOT_DOWN[] = "CLUSTERDOWN Hash slot not served";

static void
gather_free(struct gather *g)
{
    for (int i = 0; i < g->nparts; i++) {
        free(g->parts[i].reply);
        free(g->parts[i].pos);
    }
    free(g->parts);
    free(g->scan_argv);
    free(g->scan_bytes);
    view_release(&g->scan_view);
    resp_buf_deinit(&g->scan_keys);
    free(g);
}

static long long
reply_int(const char *r, size_t len, bool *ok)
{
    long long v = 0;
    bool neg = false;
    size_t i = 1;

    *ok = len >= 4 && r[0] == ':';
    if (*ok && r[1] == '-') {
        neg = true;
        i = 2;
    }
    for (; *ok && i < len - 2; i++) {
        if (r[i] < '0' || r[i] > '9') {
            *ok = false;
            break;
        }
        v = v * 10 + (r[i] - '0');
    }
    return neg ? -v : v;
}

static void gather_reply(struct gather *g, struct resp_buf *out);

static bool scan_next(struct gather *g);

/* Put the gathered reply in its slot and release what is in order. False
 * when a SCAN went on with the next member instead: the gather lives on. */
static bool
gather_finish(struct gather *g)
{
    if (g->kind == G_SCAN && scan_next(g)) {
        return false;
    }
    gather_reply(g, &g->slot->buf);
    client_slot_done(g->c, g->slot);
    return true;
}

static void
slot_error(struct resp_buf *out, struct client *c, const char *msg)
{
    resp_add_error(out, msg, strlen(msg));
    STAT_INC(c->w, total_error_replies);
}

static void
gather_reply(struct gather *g, struct resp_buf *out)
{
    struct client *c = g->c;

    /* The first error or failed part decides, as a single node would. */
    for (int i = 0; i < g->nparts; i++) {
        const struct part *p = &g->parts[i];
        if (p->reply == NULL) {
            slot_error(out, c, ERR_SLOT_DOWN);
            return;
        }
        if (p->reply[0] == '-' && g->kind != G_RELAY) {
            resp_add_raw(out, p->reply, p->len);
            return;
        }
    }
    switch (g->kind) {
    case G_RELAY:
        resp_add_raw(out, g->parts[0].reply, g->parts[0].len);
        break;
    case G_MGET: {
        struct resp_arg *el = calloc((size_t)g->nkeys, sizeof *el);
        for (int i = 0; i < g->nparts; i++) {
            struct part *p = &g->parts[i];
            struct resp_arg *tmp = calloc((size_t)p->npos, sizeof *tmp);
            if (resp_reply_elements(p->reply, p->len, tmp, (size_t)p->npos) != p->npos) {
                free(tmp);
                free(el);
                slot_error(out, c, ERR_SLOT_DOWN);
                return;
            }
            for (int j = 0; j < p->npos; j++) {
                el[p->pos[j]] = tmp[j];
            }
            free(tmp);
        }
        resp_add_array(out, (size_t)g->nkeys);
        for (int k = 0; k < g->nkeys; k++) {
            resp_add_raw(out, el[k].p, el[k].len);
        }
        free(el);
        break;
    }
    case G_SUM: {
        long long sum = 0;
        for (int i = 0; i < g->nparts; i++) {
            bool ok;
            sum += reply_int(g->parts[i].reply, g->parts[i].len, &ok);
        }
        resp_add_int(out, sum);
        break;
    }
    case G_ALL_OK:
        resp_add_raw(out, g->parts[0].reply, g->parts[0].len);
        break;
    case G_CONCAT: {
        long total = 0;
        for (int i = 0; i < g->nparts; i++) {
            long n = resp_reply_elements(g->parts[i].reply, g->parts[i].len, NULL, 0);
            total += n > 0 ? n : 0;
        }
        resp_add_array(out, (size_t)total);
        for (int i = 0; i < g->nparts; i++) {
            struct part *p = &g->parts[i];
            long n = resp_reply_elements(p->reply, p->len, NULL, 0);
            if (n > 0) {
                /* Skip the array header; the elements follow it. */
                const char *body = memchr(p->reply, '\n', p->len) + 1;
                resp_add_raw(out, body, p->len - (size_t)(body - p->reply));
            }
        }
        break;
    }
    case G_SCAN: {
        char num[32];
        int n = snprintf(num, sizeof num, "%llu", g->scan_cursor);

        resp_add_array(out, 2);
        resp_add_bulk(out, num, (size_t)n);
        resp_add_array(out, (size_t)g->scan_n);
        resp_add_raw(out, g->scan_keys.data ? g->scan_keys.data : "", g->scan_keys.len);
        break;
    }
    }
}

struct pending_part {
    struct gather *g;
    int idx;
};

/* One remote part of a gather finished (reply == NULL: failed). */
static void
pending_done(void *ctx, const char *reply, size_t len)
{
    struct pending_part *pp = ctx;
    struct gather *g = pp->g;
    struct part *p = &g->parts[pp->idx];
    bool alive;

    free(pp);
    if (reply != NULL) {
        p->reply = malloc(len);
        memcpy(p->reply, reply, len);
        p->len = len;
    }
    alive = client_wait_done(g->c);
    if (--g->outstanding > 0) {
        return;
    }
    if (alive) {
        if (!gather_finish(g)) {
            return;
        }
        client_wake(g->c);
    }
    gather_free(g);
}

/* Run argv here as the client would, capturing the reply into the part. */
static void
run_local(struct client *c, struct part *p, int argc, const struct resp_arg *argv)
{
    struct resp_buf out;

    commands_run_captured(c, c->proto, argc, argv, &out);
    p->len = resp_buf_pending(&out);
    p->reply = malloc(p->len + 1);
    memcpy(p->reply, out.data + out.pos, p->len);
    resp_buf_deinit(&out);
}

/* Send argv to member m as part idx of g, or run it here if m is us. With
 * replication (rc != NULL: the command, whose keys m coordinates), m
 * coordinates it, and a failed link falls over to the next replica. */
static void
send_part(struct client *c, struct view *v, int m, struct gather *g, int idx,
          const struct command *rc, const struct repl_levels *lv, int argc,
          const struct resp_arg *argv)
{
    struct resp_arg *full;
    char proto[2] = { (char)('0' + c->proto), 0 };
    struct bus_link *l;
    struct pending_part *pp;
    int64_t deadline = c->now_ms + config_num(OPT_CLUSTER_REQUEST_TIMEOUT_MS);

    if (rc != NULL) {
        pp = malloc(sizeof *pp);
        pp->g = g;
        pp->idx = idx;
        c->waiting++;
        if (m == v->self) {
            repl_call(c, rc, argc, argv, lv->r, lv->w, pending_done, pp);
        } else {
            repl_forward(c, v, m, slots_keyslot(argv[rc->first_key].p, argv[rc->first_key].len),
                         rc, argc, argv, lv->r, lv->w, pending_done, pp);
        }
        return;
    }
    if (m == v->self) {
        run_local(c, &g->parts[idx], argc, argv);
        g->outstanding--;
        return;
    }
    l = v->m[m].state == MBR_DEAD || v->m[m].state == MBR_LEFT ? NULL : cluster_worker_link(c->w, &v->m[m]);
    full = malloc((size_t)(argc + 2) * sizeof *full);
    pp = malloc(sizeof *pp);
    full[0] = (struct resp_arg){ "RC.EXEC", 7 };
    full[1] = (struct resp_arg){ proto, 1 };
    memcpy(full + 2, argv, (size_t)argc * sizeof *argv);
    pp->g = g;
    pp->idx = idx;
    c->waiting++;
    if (l == NULL || !bus_link_send(l, argc + 2, full, deadline, pending_done, pp)) {
        c->waiting--;
        free(pp);
        g->outstanding--; /* reply stays NULL: the slot is not served */
    }
    free(full);
}

/* Called once every part has been sent or run. gather_new counted one
 * extra part for the sending itself, so a part that fails synchronously
 * inside a send cannot finish (and free) the gather under our feet. */
static void
gather_start(struct gather *g)
{
    if (--g->outstanding == 0 && gather_finish(g)) {
        client_wake(g->c); /* a SCAN may finish here from another's callback */
        gather_free(g);
    }
}

static struct gather *
gather_new(struct client *c, enum gather_kind kind, int nparts)
{
    struct gather *g = calloc(1, sizeof *g);

    g->c = c;
    g->slot = client_slot_push(c);
    g->kind = kind;
    g->nparts = nparts;
    g->outstanding = nparts + 1; /* + the sending, see gather_start */
    g->parts = calloc((size_t)nparts, sizeof *g->parts);
    return g;
}

/* Who runs a command on this key: its slot's owner (N = 1), or with
 * replication its coordinator. */
static int
owner_of(struct view *v, const struct repl_levels *lv, const struct command *cmd,
         const struct resp_arg *key)
{
    uint16_t slot = slots_keyslot(key->p, key->len);

    if (lv->n <= 1) {
        return view_owner(v, slot);
    }
    return repl_coordinator(v, slot, (cmd->flags & CMD_WRITE) != 0, lv->n);
}

static bool
is_cmd(const struct command *cmd, const char *name)
{
    return strcmp(cmd->name, name) == 0;
}

/* A member up that replicates every key of the command, this one first;
 * -1 when there is none. */
static int
common_replica(struct view *v, const struct repl_levels *lv, const struct command *cmd, int argc,
               const struct resp_arg *argv)
{
    for (size_t t = 0; t <= v->n; t++) {
        int m = t == 0 ? v->self : (int)t - 1;

        if (view_up(v, m) && repl_replicates_all(v, m, lv->n, cmd, argc, argv)) {
            return m;
        }
    }
    return -1;
}

/* MGET, MSET, DEL, UNLINK, EXISTS, TOUCH over keys of several members. */
static void
scatter_keys(struct client *c, struct view *v, const struct repl_levels *lv,
             const struct command *cmd, int argc, const struct resp_arg *argv)
{
    int step = cmd->step, nkeys = (argc - 1) / step;
    int *owners = malloc((size_t)nkeys * sizeof *owners);
    int *members = malloc((size_t)v->n * sizeof *members), nmem = 0;
    enum gather_kind kind = is_cmd(cmd, "mget") ? G_MGET : is_cmd(cmd, "mset") ? G_ALL_OK : G_SUM;
    struct gather *g;

    for (int k = 0; k < nkeys; k++) {
        int o = owner_of(v, lv, cmd, &argv[1 + k * step]), j;
        owners[k] = o;
        for (j = 0; j < nmem && members[j] != o; j++) {
        }
        if (j == nmem) {
            members[nmem++] = o;
        }
    }
    g = gather_new(c, kind, nmem);
    g->nkeys = nkeys;
    for (int j = 0; j < nmem; j++) {
        struct resp_arg *sub = malloc((size_t)(1 + nkeys * step) * sizeof *sub);
        int subc = 1;
        struct part *p = &g->parts[j];

        sub[0] = argv[0];
        p->pos = malloc((size_t)nkeys * sizeof *p->pos);
        for (int k = 0; k < nkeys; k++) {
            if (owners[k] == members[j]) {
                for (int s = 0; s < step; s++) {
                    sub[subc++] = argv[1 + k * step + s];
                }
                p->pos[p->npos++] = k;
            }
        }
        if (members[j] < 0) {
            g->outstanding--; /* nobody owns it: not served */
        } else {
            send_part(c, v, members[j], g, j, lv->n > 1 ? cmd : NULL, lv, subc, sub);
        }
        free(sub);
    }
    free(owners);
    free(members);
    gather_start(g);
}

/* KEYS, DBSIZE, FLUSHALL, FLUSHDB: every member that is on the ring. */
static void
scatter_all(struct client *c, struct view *v, const struct command *cmd, int argc,
            const struct resp_arg *argv)
{
    enum gather_kind kind = is_cmd(cmd, "keys") ? G_CONCAT : is_cmd(cmd, "dbsize") ? G_SUM : G_ALL_OK;
    int n = 0;
    struct gather *g;

    for (size_t i = 0; i < v->n; i++) {
        n += v->m[i].state != MBR_LEFT;
    }
    g = gather_new(c, kind, n);
    if (cmd->flags & CMD_WRITE) {
        /* FLUSHALL then GET: the GET's replicas must have flushed first,
         * or a stale copy answers and read repair brings the key back */
        g->slot->barrier = true;
        c->barrier = true;
    }
    n = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->m[i].state != MBR_LEFT) {
            send_part(c, v, (int)i, g, n++, NULL, NULL, argc, argv);
        }
    }
    gather_start(g);
}

/* SCAN: the cursor's low 8 bits name the member, the rest is that member's
 * own cursor. Members are walked in id order and named by a position
 * taken from their id (its first byte, or one past the previous member's
 * position when ids share it), not by their index in the view: a member
 * that joins or leaves mid-scan moves no other member's position (unless
 * it crowds one whose id starts with the same byte), so a cursor neither
 * goes back into a member it has done nor skips one. Members whose
 * position would pass 255 are left out (more than 256 members: the 8 bits
 * never had room for them). */

/* The first byte of a member's id (40 lowercase hex digits). */
static int
id_first_byte(const char *id)
{
    int b = 0;

    for (int h = 0; h < 2; h++) {
        b = b * 16 + (id[h] >= 'a' ? id[h] - 'a' + 10 : id[h] - '0');
    }
    return b;
}

/* Member i's position (v->m is sorted by id, so positions increase). */
static int
scan_pos(const struct view *v, size_t i)
{
    int p = -1;

    for (size_t k = 0; k <= i; k++) {
        int b = id_first_byte(v->m[k].id);
        p = b > p ? b : p + 1;
    }
    return p;
}

/* The first member not gone for good at position want or past it, or -1;
 * *pos is its position. */
static int
scan_member_from(const struct view *v, int want, int *pos)
{
    int p = -1;

    for (size_t i = 0; i < v->n; i++) {
        int b = id_first_byte(v->m[i].id);

        p = b > p ? b : p + 1;
        if (p > 0xff) {
            break;
        }
        if (p >= want && v->m[i].state != MBR_LEFT) {
            *pos = p;
            return (int)i;
        }
    }
    return -1;
}

static void
scan_send(struct gather *g, int node, unsigned long long cur)
{
    char num[32];
    struct resp_arg *sub = malloc((size_t)g->scan_argc * sizeof *sub);

    memcpy(sub, g->scan_argv, (size_t)g->scan_argc * sizeof *sub);
    sub[1] = (struct resp_arg){ num, (size_t)snprintf(num, sizeof num, "%llu", cur) };
    g->parts[0].node = node;
    send_part(g->c, g->scan_view, node, g, 0, NULL, NULL, g->scan_argc, sub);
    free(sub);
}

static void
route_scan(struct client *c, struct view *v, int argc, const struct resp_arg *argv)
{
    unsigned long long cur;
    struct gather *g;
    int node, pos;

    if (!arg_cursor_or_reply(c, &argv[1], &cur)) {
        return;
    }
    node = scan_member_from(v, (int)(cur & 0xff), &pos);
    if (node < 0) {
        resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, "0", 1);
        resp_add_array(&c->out, 0);
        return;
    }
    if (pos != (int)(cur & 0xff)) {
        cur = 0; /* its member left: the next one from its start */
    }
    g = gather_new(c, G_SCAN, 1);
    g->scan_view = view_pin(v);
    g->scan_count = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (arg_is(&argv[i], "count")) {
            arg_ll(&argv[i + 1], &g->scan_count);
        }
    }
    g->scan_argc = argc;
    g->scan_argv = malloc((size_t)argc * sizeof *g->scan_argv);
    {
        size_t bytes = 0;
        char *p;

        for (int i = 0; i < argc; i++) {
            bytes += argv[i].len;
        }
        p = g->scan_bytes = malloc(bytes + 1);
        for (int i = 0; i < argc; i++) {
            memcpy(p, argv[i].p, argv[i].len);
            g->scan_argv[i] = (struct resp_arg){ p, argv[i].len };
            p += argv[i].len;
        }
    }
    scan_send(g, node, cur >> 8);
    gather_start(g);
}

/* A member answered a SCAN part: keep its keys, and when it is done with
 * fewer than COUNT keys so far, ask the next member (from its cursor 0) in
 * the same call, so a small keyspace is listed in one SCAN as on one
 * server. True when the next member was asked (the gather goes on);
 * otherwise scan_cursor is the cursor to answer. The view is the one the
 * call started with. */
static bool
scan_next(struct gather *g)
{
    struct part *p = &g->parts[0];
    struct resp_arg el[2];
    unsigned long long cur;
    struct view *v = g->scan_view;
    long n;
    int pos, next, next_pos;

    if (p->reply == NULL || p->reply[0] == '-' ||
        resp_reply_elements(p->reply, p->len, el, 2) != 2 ||
        (n = resp_reply_elements(el[1].p, el[1].len, NULL, 0)) < 0) {
        return false; /* gather_reply answers the failure */
    }
    /* el[0] is "$<n>\r\n<digits>\r\n"; el[1] an array of keys */
    cur = strtoull((const char *)memchr(el[0].p, '\n', el[0].len) + 1, NULL, 10);
    if (n > 0) {
        const char *body = memchr(el[1].p, '\n', el[1].len) + 1;
        resp_add_raw(&g->scan_keys, body, el[1].len - (size_t)(body - el[1].p));
        g->scan_n += n;
    }
    pos = scan_pos(v, (size_t)p->node);
    if (cur != 0) {
        g->scan_cursor = (cur << 8) | (unsigned)pos;
        return false;
    }
    next = scan_member_from(v, pos + 1, &next_pos);
    if (next < 0 || g->scan_n >= g->scan_count) {
        /* a position is never 0 past the first member, so this cursor is
         * 0 only when the walk is over */
        g->scan_cursor = next < 0 ? 0 : (unsigned long long)next_pos;
        return false;
    }
    free(p->reply);
    p->reply = NULL;
    g->outstanding = 2; /* the part and the sending, as gather_new counts */
    scan_send(g, next, 0);
    gather_start(g);
    return true;
}

bool
cluster_route(struct client *c, const struct command *cmd, int argc,
              const struct resp_arg *argv)
{
    struct view *v;
    struct repl_levels lv;
    int owner = -1, last;

    if (!cl.enabled || c->no_route || (c->flags & CLIENT_BUS)) {
        return false;
    }
    v = view_get();
    if (cmd->flags & CMD_ALLNODES) {
        if (is_cmd(cmd, "scan")) {
            route_scan(c, v, argc, argv);
        } else {
            scatter_all(c, v, cmd, argc, argv);
        }
        return true;
    }
    if (cmd->first_key <= 0 || argc <= cmd->first_key) {
        return false;
    }
    if (cmd->step > 1 && (argc - cmd->first_key) % cmd->step != 0) {
        /* MSET a 1 b: refused whole, before any part is sent anywhere */
        reply_errorf(c, ERR_ARITY_FMT, cmd->name);
        return true;
    }
    repl_levels(c, v, &lv);
    last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    for (int i = cmd->first_key; i <= last && i < argc; i += cmd->step) {
        int o = owner_of(v, &lv, cmd, &argv[i]);
        if (owner == -1 || o == owner) {
            owner = o;
            continue;
        }
        /* Keys on several members. */
        if (is_cmd(cmd, "mget") || is_cmd(cmd, "mset") || is_cmd(cmd, "del") ||
            is_cmd(cmd, "unlink") || is_cmd(cmd, "exists") || is_cmd(cmd, "touch")) {
            scatter_keys(c, v, &lv, cmd, argc, argv);
            return true;
        }
        /* MSETNX, RENAME...: atomic over their keys, so one member runs
         * them, which with replication may be any replica of them all */
        owner = lv.n > 1 ? common_replica(v, &lv, cmd, argc, argv) : -1;
        if (owner < 0) {
            reply_error(c, "CROSSSLOT Keys in request don't hash to the same slot");
            return true;
        }
        break;
    }
    /* Here and needing nobody else: one copy, or a read of our own copy at
     * R = 1 (CONSISTENCY ONE) */
    if (owner == v->self && (lv.n <= 1 || (!(cmd->flags & CMD_WRITE) && lv.r == 1))) {
        return false;
    }
    if (owner < 0) {
        reply_error(c, ERR_SLOT_DOWN);
        return true;
    }
    struct gather *g = gather_new(c, G_RELAY, 1);
    send_part(c, v, owner, g, 0, lv.n > 1 ? cmd : NULL, &lv, argc, argv);
    gather_start(g);
    return true;
}

/* ---- the bus side ----------------------------------------------------------*/

void
cluster_bus_dispatch(struct client *c, int argc, const struct resp_arg *argv)
{
    if (arg_is(&argv[0], "rc.auth") && argc == 2) {
        char *secret = bus_secret();
        bool ok = secret != NULL && (secret[0] == '\0' || password_equal(argv[1].p, argv[1].len,
                                                                         secret, strlen(secret)));

        free(secret);
        if (ok) {
            c->authed = true;
            reply_ok(c);
        } else {
            reply_error(c, ERR_WRONGPASS);
            client_close_after_reply(c);
        }
        return;
    }
    if (!c->authed) {
        /* Nothing but RC.AUTH from a peer that has not proved itself. */
        reply_error(c, ERR_NOAUTH);
        client_close_after_reply(c);
        return;
    }
    if (arg_is(&argv[0], "rc.exec") && argc >= 3 && argv[1].len == 1 &&
        (argv[1].p[0] == '2' || argv[1].p[0] == '3')) {
        enum resp_proto saved = c->proto;

        c->proto = (enum resp_proto)(argv[1].p[0] - '0');
        c->no_route = true;
        commands_dispatch(c, argc - 2, argv + 2);
        c->no_route = false;
        c->proto = saved;
        return;
    }
    if (arg_is(&argv[0], "rc.put") || arg_is(&argv[0], "rc.putif") ||
        arg_is(&argv[0], "rc.replace")) {
        repl_bus_put(c, argc, argv);
        return;
    }
    if (arg_is(&argv[0], "rc.get")) {
        repl_bus_get(c, argc, argv);
        return;
    }
    if (arg_is(&argv[0], "rc.call")) {
        repl_bus_call(c, argc, argv);
        return;
    }
    if (arg_is(&argv[0], "rc.hint")) {
        repl_bus_hint(c, argc, argv);
        return;
    }
    if (arg_is(&argv[0], "rc.slotscan")) {
        rebalance_bus_slotscan(c, argc, argv);
        return;
    }
    if (argv[0].len > 7 && strncasecmp(argv[0].p, "gossip.", 7) == 0 && cl.enabled) {
        struct inbox_item *it = calloc(1, sizeof *it);
        size_t cap = (size_t)argc / 7 + 1 > MBR_MAX_RECORDS ? MBR_MAX_RECORDS
                                                            : (size_t)argc / 7 + 1;

        it->kind = IN_GOSSIP;
        it->msg.records = calloc(cap, sizeof *it->msg.records);
        if (mbr_msg_decode(argv, (size_t)argc, &it->msg, it->msg.records, cap) != MBR_OK) {
            free(it->msg.records);
            free(it);
            reply_error(c, "ERR malformed gossip message");
            return;
        }
        inbox_post(it, sizeof *it + cap * sizeof *it->msg.records);
        reply_ok(c);
        return;
    }
    reply_errorf(c, "ERR unknown cluster bus command '%.*s'",
                 (int)(argv[0].len < 64 ? argv[0].len : 64), argv[0].p);
}

/* ---- INFO --------------------------------------------------------------------*/

void
cluster_info(struct resp_buf *b)
{
    char line[512];
    int n;

    n = snprintf(line, sizeof line, "cluster_enabled:%d\r\n", cl.enabled);
    resp_add_raw(b, line, (size_t)n);
    if (cl.enabled) {
        struct view *v = view_get();
        n = snprintf(line, sizeof line, "cluster_known_nodes:%zu\r\ncluster_alive_nodes:%zu\r\n"
                     "cluster_suspect_nodes:%zu\r\ncluster_dead_nodes:%zu\r\n",
                     v->n, view_count(v, MBR_ALIVE), view_count(v, MBR_SUSPECT),
                     view_count(v, MBR_DEAD));
        resp_add_raw(b, line, (size_t)n);
        n = snprintf(line, sizeof line,
                     "cluster_gossip_dropped:%llu\r\ncluster_bus_connections:%u\r\n"
                     "cluster_bus_refused:%llu\r\ncluster_ring_builds:%llu\r\n"
                     "cluster_conf_saves:%llu\r\n",
                     (unsigned long long)atomic_load(&cl.gossip_dropped),
                     atomic_load(&server.nbus), (unsigned long long)atomic_load(&cl.bus_refused),
                     (unsigned long long)atomic_load(&cl.ring_builds),
                     (unsigned long long)atomic_load(&cl.conf_saves));
        resp_add_raw(b, line, (size_t)n);
        rebalance_info(b); /* a scaler's "is the move done": also in INFO */
    }
}

/* Forward a slot command to the slot's owner, unless that is us. */
bool
cluster_route_slot(struct client *c, uint16_t slot, int argc, const struct resp_arg *argv)
{
    struct view *v = view_get();
    int o = view_owner(v, slot);

    if (c->no_route || (c->flags & CLIENT_BUS) || o == v->self) {
        return false;
    }
    if (o < 0) {
        reply_error(c, ERR_SLOT_DOWN);
        return true;
    }
    struct gather *g = gather_new(c, G_RELAY, 1);
    send_part(c, v, o, g, 0, NULL, NULL, argc, argv);
    gather_start(g);
    return true;
}

/* CLUSTER MEET and FORGET: the main thread acts on them at its next turn. */
void
cluster_meet(const char *addr, uint16_t bus_port)
{
    struct inbox_item *it = calloc(1, sizeof *it);

    it->kind = IN_MEET;
    snprintf(it->addr, sizeof it->addr, "%s", addr);
    it->bus_port = bus_port;
    inbox_post(it, sizeof *it);
}

void
cluster_forget(const char *id)
{
    struct inbox_item *it = calloc(1, sizeof *it);

    it->kind = IN_FORGET;
    snprintf(it->addr, sizeof it->addr, "%s", id);
    inbox_post(it, sizeof *it);
}

void
cluster_bus_stats(uint64_t *sent, uint64_t *received)
{
    *sent = atomic_load_explicit(&cl.msgs_sent, memory_order_relaxed);
    *received = atomic_load_explicit(&cl.msgs_received, memory_order_relaxed);
}
