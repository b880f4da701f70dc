/*
 * server/memcache.c — the memcached port; see memcache.h.
 *
 * Every key of a request is its own command (a `get a b c` is three
 * lookups and an END), so each key goes to its own coordinator and a
 * multi-get scatters and gathers through the reply slots that keep a
 * connection's replies in request order. noreply drops the reply, errors
 * included, as memcached does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/version.h"
#include "resp/mcreader.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/log.h"
#include "server/memcache.h"
#include "server/server.h"
#include "storage/store.h"

/* memcached's version, reported by `version` and `stats`: clients that
 * check features by version see the one whose protocol this follows. */
#define MEMCACHED_COMPAT_VERSION "1.6.18"
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* exptimes past this are absolute */
#define AUTH_FILE_MAX (1 << 20)
/* A stranger's reader: the one request it may send, `set <any> 0 0 <n>`
 * with "user password", cannot be bigger than this. */
#define AUTH_ITEM_MAX 4096

static struct {
    bool on;
    struct hlc hlc;                  /* CAS values in single-server mode */
    _Atomic uint64_t stats[MCS_COUNT];
    _Atomic uint64_t total_items, conns, total_conns;
    _Atomic int64_t flush_at;        /* a delayed flush_all, 0 = none */
    _Atomic uint32_t verbosity;
    /* memcached-auth-file, read at start: its bytes with every ':' and line
     * end made a NUL, and the user:password pairs pointing into them */
    char *auth_data;
    struct mc_user {
        const char *user, *pass;
    } *users;
    size_t nusers;
} mc;

void
memcache_count(enum memcache_stat s, uint64_t n)
{
    atomic_fetch_add_explicit(&mc.stats[s], n, memory_order_relaxed);
}

bool
memcache_enabled(void)
{
    return mc.on;
}

/* ---- setup ------------------------------------------------------------------*/

static uint64_t
clock_next(void *ctx, uint64_t floor)
{
    (void)ctx;
    return hlc_next(&mc.hlc, floor, now_ms());
}

/* memcached -Y's format: user:password a line, split at the first ':'
 * (the password may hold more), the last line's newline optional; any other
 * line, an empty one or one ending in CRLF too, is refused, as memcached
 * refuses to start. */
static int
auth_load(const char *path)
{
    FILE *f = fopen(path, "r");
    long size;
    size_t line = 0;

    if (f == NULL) {
        log_msg(LOG_WARNING, "memcached-auth-file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > AUTH_FILE_MAX ||
        fseek(f, 0, SEEK_SET) != 0 || (mc.auth_data = malloc((size_t)size + 1)) == NULL ||
        fread(mc.auth_data, 1, (size_t)size, f) != (size_t)size) {
        log_msg(LOG_WARNING, "memcached-auth-file %s: cannot read it whole (at most %d bytes)",
                path, AUTH_FILE_MAX);
        fclose(f);
        return -1;
    }
    fclose(f);
    mc.auth_data[size] = '\0';
    for (char *p = mc.auth_data; p < mc.auth_data + size; line++) {
        char *nl = memchr(p, '\n', (size_t)(mc.auth_data + size - p));
        char *colon;
        struct mc_user *u;

        if (nl == NULL) {
            nl = mc.auth_data + size;
        }
        *nl = '\0';
        colon = strchr(p, ':');
        if (colon == NULL || strchr(p, '\r') != NULL) { /* a CRLF file too, as memcached */
            log_msg(LOG_WARNING, "memcached-auth-file %s, line %zu: a malformed entry, want "
                    "'user:password'", path, line + 1);
            return -1;
        }
        if ((u = realloc(mc.users, (mc.nusers + 1) * sizeof *mc.users)) == NULL) {
            log_msg(LOG_WARNING, "memcached-auth-file %s: out of memory", path);
            return -1;
        }
        *colon = '\0';
        mc.users = u;
        mc.users[mc.nusers++] = (struct mc_user){ p, colon + 1 };
        p = nl + 1;
    }
    if (mc.nusers == 0) {
        log_msg(LOG_WARNING, "memcached-auth-file %s: no user:password line", path);
        return -1;
    }
    return 0;
}

int
memcache_setup(void)
{
    int port = (int)config_num(OPT_MEMCACHED_PORT);
    char addrs[1024];
    char *auth;

    if (port == 0) {
        return 0;
    }
    auth = config_str_dup(OPT_MEMCACHED_AUTH_FILE);
    if (auth == NULL || (auth[0] != '\0' && auth_load(auth) < 0)) {
        free(auth);
        return -1;
    }
    free(auth);
    config_str(OPT_MEMCACHED_BIND, addrs, sizeof addrs);
    if (addrs[0] == '\0') {
        config_str(OPT_BIND, addrs, sizeof addrs);
    }
    for (char *save = NULL, *tok = strtok_r(addrs, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        bool optional = tok[0] == '-';

        if (net_listen_kind(optional ? tok + 1 : tok, port, CONN_MEMCACHE) < 0 && !optional) {
            log_msg(LOG_WARNING, "Failed listening on memcached port %d (tcp), aborting.", port);
            return -1;
        }
    }
    /* CAS values are item versions. A cluster with N > 1 has them; a single
     * server or N = 1 gets a clock of its own (tombstones of deletes then
     * expire at once: nothing replicates them). */
    if (!cluster_enabled() || config_num(OPT_REPLICAS) <= 1) {
        hlc_init(&mc.hlc, server.run_id);
        store_set_versions(server.store, clock_next, NULL, 0);
    }
    mc.on = true;
    log_msg(LOG_NOTICE, "memcached protocol on port %d", port);
    return 0;
}

void
memcache_flush_at(int64_t when_ms)
{
    memcache_count(MCS_CMD_FLUSH, 1);
    if (when_ms == 0) {
        atomic_store(&mc.flush_at, 0);
        keys_flush();
        return;
    }
    atomic_store(&mc.flush_at, when_ms);
}

void
memcache_tick(int64_t now)
{
    int64_t at = atomic_load(&mc.flush_at);

    if (at != 0 && at <= now && atomic_compare_exchange_strong(&mc.flush_at, &at, 0)) {
        keys_flush();
    }
}

/* ---- connections ---------------------------------------------------------------*/

static struct mc_limits
limits(bool authed)
{
    struct mc_limits lim = { (uint64_t)config_num(OPT_ITEM_SIZE_MAX),
                             (size_t)config_num(OPT_CLIENT_QUERY_BUFFER_LIMIT) };

    if (!authed) {
        lim.item_size_max = AUTH_ITEM_MAX;
        lim.max_get_line = AUTH_ITEM_MAX;
    }
    return lim;
}

void
memcache_client_init(struct client *c)
{
    struct mc_limits lim;

    c->authed = mc.nusers == 0;
    lim = limits(c->authed);
    c->mc = mc_reader_create(&lim);
    atomic_fetch_add(&mc.conns, 1);
    atomic_fetch_add(&mc.total_conns, 1);
}

void
memcache_client_sync_limits(struct client *c)
{
    struct mc_limits lim = limits(c->authed);

    mc_reader_set_limits(c->mc, &lim);
}

void
memcache_client_deinit(struct client *c)
{
    if (c->mc != NULL) {
        mc_reader_destroy(&c->mc);
        atomic_fetch_sub(&mc.conns, 1);
    }
}

/* ---- replies -------------------------------------------------------------------*/

/* Text that is this request's reply, behind any still in flight. */
static void
reply_raw(struct client *c, const char *p, size_t n)
{
    struct reply_slot *s;

    if (c->slots == NULL) {
        resp_add_raw(&c->out, p, n);
        return;
    }
    s = client_slot_push(c);
    resp_add_raw(&s->buf, p, n);
    client_slot_done(c, s);
}

static void
reply_line(struct client *c, const char *line)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s\r\n", line);

    reply_raw(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void
memcache_unwrap(struct resp_buf *b, size_t from)
{
    char *p = b->data + from;
    size_t n = b->len - from;
    char line[512];
    int m;

    if (n == 0) {
        return;
    }
    if (p[0] == '$') {
        char *nl = memchr(p, '\n', n);
        long long len = strtoll(p + 1, NULL, 10);

        if (len < 0 || nl == NULL) {
            b->len = from; /* nil: no text */
            return;
        }
        memmove(p, nl + 1, (size_t)len);
        b->len = from + (size_t)len;
        return;
    }
    if (p[0] == '+') {
        /* +OK of a gathered flush_all */
        memmove(p, p + 1, n - 1);
        b->len--;
        return;
    }
    /* an error of the path (-NOREPLICAS, -CLUSTERDOWN, -OOM...) */
    if (n >= 4 && memcmp(p, "-OOM", 4) == 0) {
        m = snprintf(line, sizeof line, "SERVER_ERROR out of memory storing object\r\n");
    } else {
        size_t e = n > 2 && p[n - 2] == '\r' ? n - 3 : n - 1;
        m = snprintf(line, sizeof line, "SERVER_ERROR %.*s\r\n", (int)(e < 400 ? e : 400), p + 1);
    }
    b->len = from;
    resp_add_raw(b, line, (size_t)m);
}

/* Run one hidden command as this request's (next) reply: here at once, or
 * later in a slot (routed, or waiting for a disk read). */
static void
call(struct client *c, bool noreply, int argc, const struct resp_arg *argv)
{
    struct reply_slot *tail = c->slots_tail;
    bool queued = c->slots != NULL;
    struct resp_buf direct;
    size_t mark;

    if (queued) {
        direct = c->out;
        resp_buf_init(&c->out);
    }
    mark = c->out.len;
    commands_dispatch(c, argc, argv);
    if (c->slots_tail != tail) {
        c->slots_tail->xlate = noreply ? SLOT_DISCARD : SLOT_MEMCACHE;
    }
    if (noreply) {
        c->out.len = mark;
    } else {
        memcache_unwrap(&c->out, mark);
    }
    if (queued) {
        if (resp_buf_pending(&c->out) > 0) {
            struct reply_slot *s = client_slot_push(c);

            s->buf = c->out;
            c->out = direct;
            client_slot_done(c, s);
        } else {
            resp_buf_deinit(&c->out);
            c->out = direct;
        }
    }
}

#define ARG(s) ((struct resp_arg){ (s), sizeof(s) - 1 })

int64_t
memcache_expire_ms(int32_t exptime, int64_t now)
{
    if (exptime == 0) {
        return 0;
    }
    if (exptime < 0) {
        return 1;
    }
    if (exptime > REALTIME_MAXDELTA) {
        int64_t t = (int64_t)exptime * 1000;
        return t <= now ? 1 : t;
    }
    return now + (int64_t)exptime * 1000;
}

static void
run_get(struct client *c, const struct mc_req *r)
{
    bool cas = r->cmd == MC_GETS || r->cmd == MC_GATS;
    bool touch = r->cmd == MC_GAT || r->cmd == MC_GATS;
    char when[24];
    struct resp_arg wa = { when, 0 };

    if (touch) {
        wa.len = resp_i64_to_str(when, memcache_expire_ms(r->exptime, now_ms()));
    }
    for (size_t i = 0; i < r->nkeys; i++) {
        if (touch) {
            struct resp_arg argv[4] = { ARG("mc.gat"), r->keys[i], wa, cas ? ARG("1") : ARG("0") };
            call(c, false, 4, argv);
        } else {
            struct resp_arg argv[3] = { ARG("mc.get"), r->keys[i], cas ? ARG("1") : ARG("0") };
            call(c, false, 3, argv);
        }
    }
    reply_raw(c, "END\r\n", 5);
}

static void
run_store(struct client *c, const struct mc_req *r)
{
    static const struct resp_arg modes[] = {
        [MC_SET] = ARG("set"),         [MC_ADD] = ARG("add"),   [MC_REPLACE] = ARG("replace"),
        [MC_APPEND] = ARG("append"),   [MC_PREPEND] = ARG("prepend"), [MC_CAS] = ARG("cas"),
    };
    char flags[24], when[24], cas[24];
    struct resp_arg argv[7] = {
        ARG("mc.store"), r->key, modes[r->cmd],
        { flags, resp_i64_to_str(flags, r->flags) },
        { when, resp_i64_to_str(when, memcache_expire_ms(r->exptime, now_ms())) },
        { cas, resp_i64_to_str(cas, (int64_t)r->cas) },
        r->data,
    };

    atomic_fetch_add_explicit(&mc.total_items, 1, memory_order_relaxed);
    call(c, r->noreply, 7, argv);
}

/* mg, ms, md, ma: the key's coordinator reads the flags again and builds
 * the reply; relative times count from `now` here, so every member that
 * runs it agrees. An mg that sets a TTL or creates the key is a write. */
static void
run_meta(struct client *c, const struct mc_req *r)
{
    bool write = mc_meta_has(&r->meta, 'N') || mc_meta_has(&r->meta, 'T');
    char now[24];
    struct resp_arg argv[5] = {
        r->cmd == MC_MS   ? ARG("mc.ms")
        : r->cmd == MC_MD ? ARG("mc.md")
        : r->cmd == MC_MA ? ARG("mc.ma")
        : write           ? ARG("mc.mgw")
                          : ARG("mc.mg"),
        r->key, { now, resp_i64_to_str(now, now_ms()) }, r->meta.flags, r->data,
    };

    call(c, false, r->cmd == MC_MS ? 5 : 4, argv);
}

static void
stat_line(struct resp_buf *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
stat_line(struct resp_buf *b, const char *name, const char *fmt, ...)
{
    char val[256], line[320];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    n = snprintf(line, sizeof line, "STAT %s %s\r\n", name, val);
    resp_add_raw(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void
run_stats(struct client *c, const struct mc_req *r)
{
    struct resp_buf b;
    struct store_stats ss;
    struct worker_stats ws;
    struct rusage ru;
    int64_t now = now_ms();

    resp_buf_init(&b);
    if (r->sub.len == 0) {
        store_stats(server.store, &ss);
        worker_stats_sum(&ws);
        getrusage(RUSAGE_SELF, &ru);
        stat_line(&b, "pid", "%d", (int)server.pid);
        stat_line(&b, "uptime", "%lld", (long long)((now - server.start_ms) / 1000));
        stat_line(&b, "time", "%lld", (long long)(now / 1000));
        stat_line(&b, "version", "%s", MEMCACHED_COMPAT_VERSION);
        stat_line(&b, "libevent", "%s", event_get_version());
        stat_line(&b, "pointer_size", "%d", (int)(8 * sizeof(void *)));
        stat_line(&b, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
        stat_line(&b, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        stat_line(&b, "max_connections", "%lld", config_num(OPT_MAXCLIENTS));
        stat_line(&b, "curr_connections", "%llu", (unsigned long long)atomic_load(&mc.conns));
        stat_line(&b, "total_connections", "%llu", (unsigned long long)atomic_load(&mc.total_conns));
        stat_line(&b, "connection_structures", "%llu", (unsigned long long)atomic_load(&mc.conns));
#define X(id, name)                                                                                \
    stat_line(&b, name, "%llu", (unsigned long long)atomic_load_explicit(&mc.stats[id], memory_order_relaxed));
        MEMCACHE_STATS(X)
#undef X
        stat_line(&b, "bytes_read", "%llu", (unsigned long long)ws.total_net_input_bytes);
        stat_line(&b, "bytes_written", "%llu", (unsigned long long)ws.total_net_output_bytes);
        stat_line(&b, "limit_maxbytes", "%llu", (unsigned long long)config_num(OPT_MAXMEMORY));
        stat_line(&b, "accepting_conns", "1");
        stat_line(&b, "threads", "%d", server.nworkers);
        stat_line(&b, "bytes", "%llu", (unsigned long long)ss.used_bytes);
        stat_line(&b, "curr_items", "%llu", (unsigned long long)ss.keys);
        stat_line(&b, "total_items", "%llu", (unsigned long long)atomic_load(&mc.total_items));
        stat_line(&b, "expired_unfetched", "0");
        stat_line(&b, "evicted_unfetched", "0");
        stat_line(&b, "evictions", "%llu", (unsigned long long)ss.evicted_keys);
        stat_line(&b, "reclaimed", "%llu", (unsigned long long)ss.expired_keys);
    } else if (r->sub.len == 8 && memcmp(r->sub.p, "settings", 8) == 0) {
        stat_line(&b, "maxbytes", "%llu", (unsigned long long)config_num(OPT_MAXMEMORY));
        stat_line(&b, "maxconns", "%lld", config_num(OPT_MAXCLIENTS));
        stat_line(&b, "tcpport", "%lld", config_num(OPT_MEMCACHED_PORT));
        stat_line(&b, "udpport", "0");
        stat_line(&b, "verbosity", "%u", (unsigned)atomic_load(&mc.verbosity));
        stat_line(&b, "num_threads", "%d", server.nworkers);
        stat_line(&b, "cas_enabled", "yes");
        stat_line(&b, "binding_protocol", "ascii");
        stat_line(&b, "item_size_max", "%lld", config_num(OPT_ITEM_SIZE_MAX));
        stat_line(&b, "evictions", "%s", config_num(OPT_MAXMEMORY_POLICY) == STORE_NOEVICTION ? "off" : "on");
        stat_line(&b, "flush_enabled", "yes");
    } else if ((r->sub.len == 5 && memcmp(r->sub.p, "items", 5) == 0) ||
               (r->sub.len == 5 && memcmp(r->sub.p, "slabs", 5) == 0)) {
        /* no slab classes: one allocator for every size */
        if (r->sub.p[0] == 's') {
            stat_line(&b, "active_slabs", "0");
            stat_line(&b, "total_malloced", "%llu",
                      (unsigned long long)(store_stats(server.store, &ss), ss.used_bytes));
        }
    } else if (r->sub.len == 8 && memcmp(r->sub.p, "extstore", 8) == 0) {
        /* memcached without extstore answers so; the disk tier's figures
         * are in INFO storage */
    } else if (r->sub.len == 5 && memcmp(r->sub.p, "sizes", 5) == 0) {
        stat_line(&b, "sizes_status", "disabled");
    } else if (r->sub.len == 9 && memcmp(r->sub.p, "cachedump", 9) == 0) {
        /* no slab classes to dump: every class is empty; the arguments are
         * checked as memcached checks them (ids below its 64 classes) */
        uint32_t id, limit;
        const char *err = r->sub_arg[1].len == 0 ? "CLIENT_ERROR bad command line"
                          : !mc_parse_u32(&r->sub_arg[0], &id) ||
                                  !mc_parse_u32(&r->sub_arg[1], &limit)
                              ? "CLIENT_ERROR bad command line format"
                          : id >= 64 ? "CLIENT_ERROR Illegal slab id"
                                     : NULL;

        if (err != NULL) {
            resp_buf_deinit(&b);
            reply_line(c, err);
            return;
        }
    } else if (r->sub.len == 6 && memcmp(r->sub.p, "detail", 6) == 0) {
        /* per-prefix stats are not kept: on and off are accepted, dump is empty */
        const struct resp_arg *a = &r->sub_arg[0];
        bool on_off = (a->len == 2 && memcmp(a->p, "on", 2) == 0) ||
                      (a->len == 3 && memcmp(a->p, "off", 3) == 0);

        resp_buf_deinit(&b);
        if (on_off) {
            reply_raw(c, "OK\r\n", 4);
        } else if (a->len == 4 && memcmp(a->p, "dump", 4) == 0) {
            reply_raw(c, "END\r\n", 5);
        } else {
            reply_raw(c, "CLIENT_ERROR usage: stats detail on|off|dump\r\n", 46);
        }
        return;
    } else if (r->sub.len == 5 && memcmp(r->sub.p, "reset", 5) == 0) {
        for (int i = 0; i < MCS_COUNT; i++) {
            atomic_store(&mc.stats[i], 0);
        }
        atomic_store(&mc.total_items, 0);
        resp_buf_deinit(&b);
        reply_raw(c, "RESET\r\n", 7);
        return;
    } else {
        resp_buf_deinit(&b);
        reply_raw(c, "ERROR\r\n", 7);
        return;
    }
    resp_add_raw(&b, "END\r\n", 5);
    reply_raw(c, b.data + b.pos, resp_buf_pending(&b));
    resp_buf_deinit(&b);
}

/* cache_memlimit: this member's maxmemory, in megabytes as memcached's -m
 * (memcached's bounds and replies). */
static void
run_memlimit(struct client *c, const struct mc_req *r)
{
    char val[24], err[128];
    const char *reply = "OK";

    if (r->level < 8) {
        reply = "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
    } else if (r->level > 1000000000) {
        reply = "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes";
    } else {
        snprintf(val, sizeof val, "%umb", r->level);
        if (config_set(OPT_MAXMEMORY, val, true, err, sizeof err) < 0) {
            reply = "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust";
        }
    }
    if (!r->noreply) {
        reply_line(c, reply);
    }
}

/* memcached's ASCII authentication (-Y): until a `set` whose value is
 * "user password" of the auth file (key, flags and exptime ignored), every
 * request is answered CLIENT_ERROR unauthenticated, noreply or not. */
static void
run_auth(struct client *c, const struct mc_req *r)
{
    struct resp_arg user, pass;
    size_t at = 0;
    bool ok = false;

    if (r->cmd != MC_SET || r->too_large) {
        reply_line(c, "CLIENT_ERROR unauthenticated");
        if (r->close) {
            client_close_after_reply(c);
        }
        return;
    }
    if (!mc_next_token(r->data.p, r->data.len, &at, &user) ||
        !mc_next_token(r->data.p, r->data.len, &at, &pass)) {
        reply_line(c, "CLIENT_ERROR bad authentication token format");
        return;
    }
    memcache_count(MCS_AUTH_CMDS, 1);
    for (size_t i = 0; i < mc.nusers; i++) {
        const struct mc_user *u = &mc.users[i];

        ok |= strlen(u->user) == user.len && memcmp(u->user, user.p, user.len) == 0 &&
              password_equal(pass.p, pass.len, u->pass, strlen(u->pass));
    }
    if (!ok) {
        memcache_count(MCS_AUTH_ERRORS, 1);
        reply_line(c, "CLIENT_ERROR authentication failure");
        return;
    }
    c->authed = true;
    memcache_client_sync_limits(c); /* the rest of this input is read as an insider's */
    reply_raw(c, "STORED\r\n", 8);
}

enum resp_status
memcache_run_next(struct client *c, const char *buf, size_t len, size_t *used)
{
    struct mc_req r;
    enum resp_status st = mc_reader_next(c->mc, buf, len, &r, used);
    char num[24];

    if (st != RESP_OK) {
        return st;
    }
    if (!c->authed) {
        run_auth(c, &r);
        return RESP_OK;
    }
    if (r.cmd == MC_FLUSH_ALL && c->slots != NULL && cluster_enabled()) {
        /* it could overtake the writes still in flight before it: read it
         * again once their replies are in */
        *used = 0;
        return RESP_AGAIN;
    }
    atomic_store_explicit(&c->last_cmd, "memcached", memory_order_relaxed);
    if (r.too_large) {
        if (r.cmd == MC_SET || r.cmd == MC_MS) {
            /* no stale value outlives a failed set, as in memcached */
            struct resp_arg argv[2] = { ARG("mc.delete"), r.key };
            call(c, true, 2, argv);
        }
        if (!r.noreply) {
            reply_line(c, r.error);
        }
        return RESP_OK;
    }
    switch (r.cmd) {
    case MC_ERROR:
        if (!r.noreply) {
            reply_line(c, r.error);
        }
        if (r.close) {
            client_close_after_reply(c);
        }
        break;
    case MC_GET:
    case MC_GETS:
    case MC_GAT:
    case MC_GATS:
        run_get(c, &r);
        break;
    case MC_SET:
    case MC_ADD:
    case MC_REPLACE:
    case MC_APPEND:
    case MC_PREPEND:
    case MC_CAS:
        run_store(c, &r);
        break;
    case MC_INCR:
    case MC_DECR: {
        struct resp_arg argv[4] = { ARG("mc.incr"), r.key, r.cmd == MC_INCR ? ARG("1") : ARG("0"),
                                    { num, 0 } };
        argv[3].len = (size_t)snprintf(num, sizeof num, "%lld", (long long)r.delta);
        call(c, r.noreply, 4, argv);
        break;
    }
    case MC_TOUCH: {
        struct resp_arg argv[3] = { ARG("mc.touch"), r.key, { num, 0 } };
        argv[2].len = resp_i64_to_str(num, memcache_expire_ms(r.exptime, now_ms()));
        call(c, r.noreply, 3, argv);
        break;
    }
    case MC_DELETE: {
        struct resp_arg argv[2] = { ARG("mc.delete"), r.key };
        call(c, r.noreply, 2, argv);
        break;
    }
    case MC_FLUSH_ALL: {
        struct resp_arg argv[2] = { ARG("mc.flush"), { num, 0 } };
        argv[1].len = resp_i64_to_str(num, r.exptime > 0 ? r.exptime : 0);
        call(c, r.noreply, 2, argv);
        break;
    }
    case MC_VERSION:
        reply_raw(c, "VERSION " MEMCACHED_COMPAT_VERSION "\r\n",
                  sizeof("VERSION " MEMCACHED_COMPAT_VERSION "\r\n") - 1);
        break;
    case MC_VERBOSITY:
        atomic_store(&mc.verbosity, r.level);
        if (!r.noreply) {
            reply_raw(c, "OK\r\n", 4);
        }
        break;
    case MC_STATS:
        run_stats(c, &r);
        break;
    case MC_QUIT:
        client_close_after_reply(c);
        break;
    case MC_MN:
        reply_raw(c, "MN\r\n", 4);
        break;
    case MC_MG:
    case MC_MS:
    case MC_MD:
    case MC_MA:
        run_meta(c, &r);
        break;
    case MC_MEMLIMIT:
        run_memlimit(c, &r);
        break;
    case MC_LRU_CRAWLER:
        reply_raw(c, "OK\r\n", 4); /* keys expire actively: nothing to crawl */
        break;
    case MC_ME: {
        struct resp_arg argv[3] = { ARG("mc.me"), r.key,
                                    mc_meta_has(&r.meta, 'b') ? ARG("1") : ARG("0") };
        call(c, false, 3, argv);
        break;
    }
    }
    return RESP_OK;
}
