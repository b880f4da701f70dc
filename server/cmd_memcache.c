/*
 * server/cmd_memcache.c — memcached's operations as commands of the table
 * (hidden, CMD_MC: only memcached connections and the bus run them), so a
 * memcached request is routed, forwarded and replicated by the same
 * coordinator path as a RESP one. Each replies one RESP bulk string that
 * holds the memcached reply text (nil: no text, a get's miss); the
 * memcached port (memcache.c) unwraps it, and the bus carries it as any
 * other reply. Times arrive absolute, in ms, converted once by the member
 * that read the request, so every replica expires alike.
 */
#include <stdio.h>
#include <string.h>

#include "resp/mcreader.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/memcache.h"
#include "storage/store.h"

static size_t
u64_to_str(char *dst, uint64_t v)
{
    char tmp[24];
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

static void
reply_text(struct client *c, const char *s)
{
    resp_add_bulk(&c->out, s, strlen(s));
}

static bool
arg_u64_mc(const struct resp_arg *a, uint64_t *out)
{
    long long v;

    if (!arg_ll(a, &v)) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* "VALUE key flags bytes [cas]\r\ndata\r\n" of a pinned item. */
static void
reply_value(struct client *c, const struct item *it, bool with_cas)
{
    char line[96];
    size_t n = 0;

    line[n++] = ' ';
    n += u64_to_str(line + n, item_mcflags(it));
    line[n++] = ' ';
    n += u64_to_str(line + n, it->vlen);
    if (with_cas) {
        line[n++] = ' ';
        n += u64_to_str(line + n, item_version(it));
    }
    line[n++] = '\r';
    line[n++] = '\n';
    {
        size_t total = 6 + it->klen + n + it->vlen + 2;
        char hdr[24];
        size_t h = 0;

        hdr[h++] = '$';
        h += u64_to_str(hdr + h, total);
        hdr[h++] = '\r';
        hdr[h++] = '\n';
        resp_add_raw(&c->out, hdr, h);
    }
    resp_add_raw(&c->out, "VALUE ", 6);
    resp_add_raw(&c->out, item_key(it), it->klen);
    resp_add_raw(&c->out, line, n);
    resp_add_raw(&c->out, item_value(it), it->vlen);
    resp_add_raw(&c->out, "\r\n\r\n", 4);
}

/* What memcached's touch and gat do besides: the key's item (the one the
 * change made) counts as fetched. */
static void
mark_fetched(const char *key, size_t klen, int64_t now_ms)
{
    struct item *it = store_peek(server.store, key, klen, now_ms);

    if (it != NULL) {
        atomic_fetch_or(&it->seen, ITEM_SEEN_FETCHED);
        item_release(&it);
    }
}

/* MC.GET key cas */
void
cmd_mc_get(struct client *c, int argc, const struct resp_arg *argv)
{
    struct item *it = store_get(server.store, argv[1].p, argv[1].len, c->now_ms);

    (void)argc;
    memcache_count(MCS_CMD_GET, 1);
    if (it == NULL) {
        memcache_count(MCS_GET_MISSES, 1);
        STAT_INC(c->w, keyspace_misses);
        resp_add_null(&c->out, RESP2);
        return;
    }
    memcache_count(MCS_GET_HITS, 1);
    STAT_INC(c->w, keyspace_hits);
    atomic_fetch_or(&it->seen, ITEM_SEEN_FETCHED); /* what mg h and me fetch= report */
    reply_value(c, it, argv[2].len == 1 && argv[2].p[0] == '1');
    item_release(&it);
}

/* MC.GAT key expire-ms cas: a get that sets the expiry (0: never). */
void
cmd_mc_gat(struct client *c, int argc, const struct resp_arg *argv)
{
    long long when;
    struct item *it;

    (void)argc;
    if (!arg_ll(&argv[2], &when)) {
        reply_error(c, ERR_NOT_INTEGER);
        return;
    }
    it = store_getex(server.store, argv[1].p, argv[1].len, when == 0 ? STORE_EXPIRE_PERSIST : when,
                     c->now_ms);
    memcache_count(MCS_CMD_TOUCH, 1);
    if (it == NULL) {
        memcache_count(MCS_TOUCH_MISSES, 1);
        resp_add_null(&c->out, RESP2);
        return;
    }
    memcache_count(MCS_TOUCH_HITS, 1);
    mark_fetched(argv[1].p, argv[1].len, c->now_ms); /* it: the item before the change */
    reply_value(c, it, argv[3].len == 1 && argv[3].p[0] == '1');
    item_release(&it);
}

/* A storage command of either protocol; an append may grow the item to
 * item-size-max (memcached's item sizes; an item with client flags has 4
 * bytes less for its value). */
static enum store_status
mc_store(struct resp_arg key, enum store_mc_mode mode, struct resp_arg val, uint64_t mcmeta,
         int64_t expire_ms, uint64_t cas, bool stale_ok, uint64_t *version, int64_t now)
{
    uint64_t max = (uint64_t)config_num(OPT_ITEM_SIZE_MAX), base = mc_item_size(key.len, 0, 0);
    struct store_mc_set op = { .mode = mode, .val = val.p, .vlen = val.len, .mcmeta = mcmeta,
                               .expire_ms = expire_ms, .cas = cas, .stale_ok = stale_ok,
                               .max_vlen = max > base ? (size_t)(max - base) : 1 };

    return store_mc_store(server.store, key.p, key.len, &op, version, now);
}

/* MC.STORE key mode flags expire-ms cas value; mode is one of
 * set add replace append prepend cas. */
void
cmd_mc_store(struct client *c, int argc, const struct resp_arg *argv)
{
    static const char *const modes[] = { "set", "add", "replace", "append", "prepend", "cas" };
    long long when;
    uint64_t flags, cas;
    int mode = -1;

    (void)argc;
    for (int i = 0; i < 6; i++) {
        if (arg_is(&argv[2], modes[i])) {
            mode = i;
        }
    }
    if (mode < 0 || !arg_u64_mc(&argv[3], &flags) || !arg_ll(&argv[4], &when) ||
        !arg_u64_mc(&argv[5], &cas)) {
        reply_error(c, "ERR malformed MC.STORE");
        return;
    }
    memcache_count(MCS_CMD_SET, 1);
    switch (mc_store(argv[1], (enum store_mc_mode)mode, argv[6], (uint32_t)flags, when, cas, false,
                     NULL, c->now_ms)) {
    case STORE_OK:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_HITS, 1);
        }
        reply_text(c, "STORED\r\n");
        break;
    case STORE_EEXIST:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_BADVAL, 1);
            reply_text(c, "EXISTS\r\n");
        } else {
            reply_text(c, "NOT_STORED\r\n");
        }
        break;
    case STORE_ENOENT:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_MISSES, 1);
            reply_text(c, "NOT_FOUND\r\n");
        } else {
            reply_text(c, "NOT_STORED\r\n");
        }
        break;
    case STORE_ETOOBIG:
        /* an append past item-size-max: memcached cannot make the item */
        reply_text(c, mode == STORE_MC_APPEND || mode == STORE_MC_PREPEND
                          ? "NOT_STORED\r\n"
                          : "SERVER_ERROR object too large for cache\r\n");
        break;
    default:
        reply_text(c, "SERVER_ERROR out of memory storing object\r\n");
        break;
    }
}

/* MC.INCR key 1|0 delta: incr (1) or decr (0). */
void
cmd_mc_incr(struct client *c, int argc, const struct resp_arg *argv)
{
    bool incr = argv[2].len == 1 && argv[2].p[0] == '1';
    uint64_t delta, v;
    char buf[32];
    size_t n;

    (void)argc;
    if (!arg_u64_mc(&argv[3], &delta)) {
        reply_error(c, "ERR malformed MC.INCR");
        return;
    }
    struct store_mc_arith op = { .incr = incr, .delta = delta };

    switch (store_mc_incr(server.store, argv[1].p, argv[1].len, &op, &v, NULL, c->now_ms)) {
    case STORE_OK:
        memcache_count(incr ? MCS_INCR_HITS : MCS_DECR_HITS, 1);
        n = u64_to_str(buf, v);
        memcpy(buf + n, "\r\n", 2);
        resp_add_bulk(&c->out, buf, n + 2);
        break;
    case STORE_ENOENT:
        memcache_count(incr ? MCS_INCR_MISSES : MCS_DECR_MISSES, 1);
        reply_text(c, "NOT_FOUND\r\n");
        break;
    case STORE_ENOTNUM:
        reply_text(c, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        break;
    default:
        reply_text(c, "SERVER_ERROR out of memory\r\n");
        break;
    }
}

/* MC.TOUCH key expire-ms (0: never expires). */
void
cmd_mc_touch(struct client *c, int argc, const struct resp_arg *argv)
{
    long long when;
    int st;

    (void)argc;
    if (!arg_ll(&argv[2], &when)) {
        reply_error(c, ERR_NOT_INTEGER);
        return;
    }
    memcache_count(MCS_CMD_TOUCH, 1);
    st = when == 0 ? store_persist(server.store, argv[1].p, argv[1].len, c->now_ms)
                   : store_expire(server.store, argv[1].p, argv[1].len, when, 0, c->now_ms);
    if (st == STORE_ENOENT) {
        memcache_count(MCS_TOUCH_MISSES, 1);
        reply_text(c, "NOT_FOUND\r\n");
        return;
    }
    memcache_count(MCS_TOUCH_HITS, 1);
    mark_fetched(argv[1].p, argv[1].len, c->now_ms);
    reply_text(c, "TOUCHED\r\n");
}

/* MC.DELETE key */
void
cmd_mc_delete(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    if (store_del(server.store, argv[1].p, argv[1].len, c->now_ms)) {
        memcache_count(MCS_DELETE_HITS, 1);
        reply_text(c, "DELETED\r\n");
    } else {
        memcache_count(MCS_DELETE_MISSES, 1);
        reply_text(c, "NOT_FOUND\r\n");
    }
}

/* MC.FLUSH delay-seconds: now, or every key at the end of the delay. */
void
cmd_mc_flush(struct client *c, int argc, const struct resp_arg *argv)
{
    long long delay;

    (void)argc;
    if (!arg_ll(&argv[1], &delay)) {
        reply_error(c, ERR_NOT_INTEGER);
        return;
    }
    memcache_flush_at(delay > 0 ? c->now_ms + delay * 1000 : 0);
    reply_ok(c);
}

/* ---- the meta commands ------------------------------------------------------*/

/* A meta reply line: a code, then the return flags in the order the
 * request gave them. */
struct meta_line {
    char p[1024];
    size_t n;
};

static void
ml_add(struct meta_line *l, const char *s, size_t n)
{
    if (n <= sizeof l->p - l->n) {
        memcpy(l->p + l->n, s, n);
        l->n += n;
    }
}

static void
ml_flag(struct meta_line *l, char f)
{
    char s[2] = { ' ', f };
    ml_add(l, s, 2);
}

static void
ml_u64(struct meta_line *l, uint64_t v)
{
    char s[24];
    ml_add(l, s, u64_to_str(s, v));
}

/* " k<key>", base64 and " b" for a binary key */
static void
ml_key(struct meta_line *l, const struct resp_arg *key, bool b)
{
    char enc[4 * ((MC_KEY_MAX + 2) / 3)];

    ml_flag(l, 'k');
    if (b && key->len <= MC_KEY_MAX) {
        ml_add(l, enc, mc_base64_encode(key->p, key->len, enc));
        ml_add(l, " b", 2);
    } else {
        ml_add(l, key->p, key->len);
    }
}


/* The reply: the line, and the value block after it when data != NULL. */
static void
ml_reply(struct client *c, const struct meta_line *l, const char *data, size_t dlen)
{
    char hdr[24];
    size_t total = l->n + 2 + (data != NULL ? dlen + 2 : 0), h = 0;

    hdr[h++] = '$';
    h += u64_to_str(hdr + h, total);
    hdr[h++] = '\r';
    hdr[h++] = '\n';
    resp_add_raw(&c->out, hdr, h);
    resp_add_raw(&c->out, l->p, l->n);
    resp_add_raw(&c->out, "\r\n", 2);
    if (data != NULL) {
        resp_add_raw(&c->out, data, dlen);
        resp_add_raw(&c->out, "\r\n", 2);
    }
    resp_add_raw(&c->out, "\r\n", 2);
}

/* The O and k flags, which every reply of mg, md and ma echoes. */
static void
ml_echo(struct meta_line *l, const struct mc_meta *m, const struct resp_arg *key)
{
    struct resp_arg t;

    for (size_t at = 0; mc_next_token(m->flags.p, m->flags.len, &at, &t);) {
        if (t.p[0] == 'O') {
            ml_add(l, " ", 1);
            ml_add(l, t.p, t.len);
        } else if (t.p[0] == 'k') {
            ml_key(l, key, mc_meta_has(m, 'b'));
        }
    }
}

/* A code with the O and k flags only (a miss, a refusal); nothing in quiet
 * mode when quiet says so. */
static void
meta_short(struct client *c, const char *code, const struct mc_meta *m,
           const struct resp_arg *key, bool quiet)
{
    struct meta_line l = { .n = 0 };

    if (quiet) {
        resp_add_null(&c->out, RESP2);
        return;
    }
    ml_add(&l, code, 2);
    ml_echo(&l, m, key);
    ml_reply(c, &l, NULL, 0);
}

/* Seconds to an expiry as memcached's t shows them: -1 for none. */
static long long
ttl_left(int64_t expire_ms, int64_t now)
{
    return expire_ms <= 0 ? -1 : expire_ms <= now ? 0 : (expire_ms - now + 999) / 1000;
}

/* Every meta command's start: its flags, validated by the member that read
 * it, and the time it was read at. */
static bool
meta_args(struct client *c, const struct resp_arg *argv, enum mc_cmd cmd, struct mc_meta *m,
          int64_t *now)
{
    long long t;

    if (!arg_ll(&argv[2], &t) || mc_meta_parse(cmd, argv[3].p, argv[3].len, true, m) != NULL) {
        reply_error(c, "ERR malformed meta command");
        return false;
    }
    *now = t;
    return true;
}

/* MC.MG / MC.MGW key now flags: meta get (MGW when it sets a TTL or
 * creates the key). */
void
cmd_mc_mg(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *key = &argv[1];
    struct mc_meta m;
    struct meta_line l = { .n = 0 };
    struct resp_arg t;
    struct item *it;
    int64_t now, exp_before, exp;
    uint8_t seen;
    uint32_t atime;
    bool created = false, won = false, sent, touched, ttl_done = false;

    (void)argc;
    if (!meta_args(c, argv, MC_MG, &m, &now)) {
        return;
    }
    touched = mc_meta_has(&m, 'T');
    it = store_peek(server.store, key->p, key->len, c->now_ms);
    if (it == NULL && mc_meta_has(&m, 'N')) {
        /* vivify: an empty item, and this client wins its recache */
        struct store_mc_set op = { .mode = STORE_MC_ADD, .val = "", .vlen = 0,
                                   .expire_ms = memcache_expire_ms(m.vivify_ttl, now) };

        created = store_mc_store(server.store, key->p, key->len, &op, NULL, c->now_ms) == STORE_OK;
        it = store_peek(server.store, key->p, key->len, c->now_ms);
    }
    memcache_count(touched ? MCS_CMD_TOUCH : MCS_CMD_GET, 1);
    if (it == NULL) {
        memcache_count(touched ? MCS_TOUCH_MISSES : MCS_GET_MISSES, 1);
        STAT_INC(c->w, keyspace_misses);
        meta_short(c, "EN", &m, key, mc_meta_has(&m, 'q'));
        return;
    }
    memcache_count(touched ? MCS_TOUCH_HITS : MCS_GET_HITS, 1);
    STAT_INC(c->w, keyspace_hits);
    seen = atomic_load(&it->seen);
    atime = item_atime(it);
    exp_before = exp = item_expire_ms(it);
    if (touched) {
        int64_t when = memcache_expire_ms(m.ttl, now);
        struct item *now_it;

        if (when == 0) {
            store_persist(server.store, key->p, key->len, c->now_ms);
        } else {
            store_expire(server.store, key->p, key->len, when, 0, c->now_ms);
        }
        exp = when;
        /* the new item keeps what reads did (item_create_v) */
        now_it = store_peek(server.store, key->p, key->len, c->now_ms);
        if (now_it != NULL) {
            item_release(&it);
            it = now_it;
        }
    }
    sent = (seen & ITEM_SEEN_WON) != 0;
    if (created) {
        won = true;
    } else if (mc_meta_has(&m, 'R') && !sent && exp > 0 &&
               exp < memcache_expire_ms(m.recache, now)) {
        won = true; /* close enough to expiry: this client refreshes it */
    }
    if ((it->flags & ITEM_F_STALE) && !sent) {
        won = true;
    }
    if (won && (atomic_fetch_or(&it->seen, ITEM_SEEN_WON) & ITEM_SEEN_WON) && !created) {
        won = false; /* another request got there first */
        sent = true;
    }
    if (!mc_meta_has(&m, 'u')) {
        atomic_fetch_or(&it->seen, ITEM_SEEN_FETCHED);
        item_touch(it, c->now_ms);
    }
    if (mc_meta_has(&m, 'v')) {
        ml_add(&l, "VA ", 3);
        ml_u64(&l, it->vlen);
    } else {
        ml_add(&l, "HD", 2);
    }
    for (size_t at = 0; mc_next_token(m.flags.p, m.flags.len, &at, &t);) {
        switch (t.p[0]) {
        case 'T':
            ttl_done = true;
            break;
        case 's':
            ml_flag(&l, 's');
            ml_u64(&l, it->vlen);
            break;
        case 't': {
            /* as memcached: the TTL as of where t stands against T */
            long long left = ttl_left(ttl_done ? exp : exp_before, c->now_ms);
            char s[24];

            ml_flag(&l, 't');
            ml_add(&l, s, (size_t)snprintf(s, sizeof s, "%lld", left));
            break;
        }
        case 'c':
            ml_flag(&l, 'c');
            ml_u64(&l, item_version(it));
            break;
        case 'f':
            ml_flag(&l, 'f');
            ml_u64(&l, item_mcflags(it));
            break;
        case 'l':
            ml_flag(&l, 'l');
            ml_u64(&l, (uint32_t)((uint32_t)c->now_ms - atime) / 1000);
            break;
        case 'h':
            ml_add(&l, (seen & ITEM_SEEN_FETCHED) ? " h1" : " h0", 3);
            break;
        case 'O':
            ml_add(&l, " ", 1);
            ml_add(&l, t.p, t.len);
            break;
        case 'k':
            ml_key(&l, key, mc_meta_has(&m, 'b'));
            break;
        default:
            break;
        }
    }
    if (sent) {
        ml_flag(&l, 'Z');
    }
    if (it->flags & ITEM_F_STALE) {
        ml_flag(&l, 'X');
    }
    if (won) {
        ml_flag(&l, 'W');
    }
    ml_reply(c, &l, mc_meta_has(&m, 'v') ? item_value(it) : NULL, it->vlen);
    item_release(&it);
}

/* MC.MS key now flags value: meta set. */
void
cmd_mc_ms(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *key = &argv[1];
    struct mc_meta m;
    struct meta_line l = { .n = 0 };
    struct resp_arg t;
    enum store_mc_mode mode;
    uint64_t version = 0;
    int64_t now;
    const char *code;

    (void)argc;
    if (!meta_args(c, argv, MC_MS, &m, &now)) {
        return;
    }
    mode = m.mode == 'E'   ? STORE_MC_ADD
           : m.mode == 'A' ? STORE_MC_APPEND
           : m.mode == 'P' ? STORE_MC_PREPEND
           : m.mode == 'R' ? STORE_MC_REPLACE
                           : STORE_MC_SET;
    if (mc_meta_has(&m, 'C') && (mode == STORE_MC_SET || mode == STORE_MC_REPLACE)) {
        mode = STORE_MC_CAS;
    }
    memcache_count(MCS_CMD_SET, 1);
    switch (mc_store(*key, mode, argv[4], m.client_flags,
                     mc_meta_has(&m, 'T') ? memcache_expire_ms(m.ttl, now) : 0,
                     mc_meta_has(&m, 'C') ? m.cas : 0, mc_meta_has(&m, 'I'), &version, c->now_ms)) {
    case STORE_OK:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_HITS, 1);
        }
        if (mc_meta_has(&m, 'q')) {
            resp_add_null(&c->out, RESP2);
            return;
        }
        code = "HD";
        break;
    case STORE_EEXIST:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_BADVAL, 1);
        }
        code = mode == STORE_MC_ADD ? "NS" : "EX";
        break;
    case STORE_ENOENT:
        if (mode == STORE_MC_CAS) {
            memcache_count(MCS_CAS_MISSES, 1);
        }
        code = mode == STORE_MC_CAS ? "NF" : "NS";
        break;
    case STORE_ETOOBIG:
        if (mode == STORE_MC_APPEND || mode == STORE_MC_PREPEND) {
            code = "NS";
            break;
        }
        reply_text(c, "SERVER_ERROR object too large for cache\r\n");
        return;
    default:
        reply_text(c, "SERVER_ERROR out of memory storing object\r\n");
        return;
    }
    ml_add(&l, code, 2);
    for (size_t at = 0; mc_next_token(m.flags.p, m.flags.len, &at, &t);) {
        if (t.p[0] == 'O') {
            ml_add(&l, " ", 1);
            ml_add(&l, t.p, t.len);
        } else if (t.p[0] == 'k') {
            ml_key(&l, key, mc_meta_has(&m, 'b'));
        } else if (t.p[0] == 'c') {
            ml_flag(&l, 'c');
            ml_u64(&l, version); /* the new item's; 0 when nothing was stored */
        }
    }
    ml_reply(c, &l, NULL, 0);
}

/* MC.MD key now flags: meta delete (I: mark stale instead). */
void
cmd_mc_md(struct client *c, int argc, const struct resp_arg *argv)
{
    struct mc_meta m;
    int64_t now;
    bool stale;

    (void)argc;
    if (!meta_args(c, argv, MC_MD, &m, &now)) {
        return;
    }
    stale = mc_meta_has(&m, 'I');
    switch (store_mc_delete(server.store, argv[1].p, argv[1].len, mc_meta_has(&m, 'C'), m.cas,
                            stale, stale && mc_meta_has(&m, 'T') ? memcache_expire_ms(m.ttl, now) : -1,
                            c->now_ms)) {
    case STORE_OK:
        if (!stale) {
            memcache_count(MCS_DELETE_HITS, 1);
        }
        meta_short(c, "HD", &m, &argv[1], mc_meta_has(&m, 'q'));
        break;
    case STORE_EEXIST:
        memcache_count(MCS_DELETE_MISSES, 1);
        meta_short(c, "EX", &m, &argv[1], false);
        break;
    case STORE_ENOENT:
        memcache_count(MCS_DELETE_MISSES, 1);
        meta_short(c, "NF", &m, &argv[1], false);
        break;
    default:
        reply_text(c, "SERVER_ERROR out of memory\r\n");
        break;
    }
}

/* MC.MA key now flags: meta arithmetic. */
void
cmd_mc_ma(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *key = &argv[1];
    struct mc_meta m;
    struct store_mc_arith op;
    struct meta_line l = { .n = 0 };
    struct resp_arg t;
    uint64_t v = 0, version = 0;
    int64_t now, exp = 0;
    char num[24];
    size_t nlen;
    bool incr;

    (void)argc;
    if (!meta_args(c, argv, MC_MA, &m, &now)) {
        return;
    }
    incr = m.mode != 'D' && m.mode != '-';
    op = (struct store_mc_arith){
        .incr = incr, .delta = m.delta, .cas = mc_meta_has(&m, 'C') ? m.cas : 0,
        .set_expire = mc_meta_has(&m, 'T'), .expire_ms = memcache_expire_ms(m.ttl, now),
        .vivify = mc_meta_has(&m, 'N'), .initial = m.initial,
        .vivify_expire_ms = memcache_expire_ms(m.vivify_ttl, now),
    };
    switch (store_mc_incr(server.store, key->p, key->len, &op, &v, &version, c->now_ms)) {
    case STORE_OK:
        break;
    case STORE_ENOENT:
        memcache_count(incr ? MCS_INCR_MISSES : MCS_DECR_MISSES, 1);
        meta_short(c, "NF", &m, key, false);
        return;
    case STORE_EEXIST:
        meta_short(c, "EX", &m, key, false);
        return;
    case STORE_ENOTNUM:
        reply_text(c, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        return;
    default:
        reply_text(c, "SERVER_ERROR out of memory\r\n");
        return;
    }
    memcache_count(incr ? MCS_INCR_HITS : MCS_DECR_HITS, 1);
    if (mc_meta_has(&m, 'q')) {
        resp_add_null(&c->out, RESP2);
        return;
    }
    {
        struct item *it = store_peek(server.store, key->p, key->len, c->now_ms);

        if (it != NULL) {
            exp = item_expire_ms(it);
            item_release(&it);
        }
    }
    nlen = u64_to_str(num, v);
    if (mc_meta_has(&m, 'v')) {
        ml_add(&l, "VA ", 3);
        ml_u64(&l, nlen);
    } else {
        ml_add(&l, "HD", 2);
    }
    for (size_t at = 0; mc_next_token(m.flags.p, m.flags.len, &at, &t);) {
        if (t.p[0] == 'c') {
            ml_flag(&l, 'c');
            ml_u64(&l, version);
        } else if (t.p[0] == 't') {
            char s[24];

            ml_flag(&l, 't');
            ml_add(&l, s, (size_t)snprintf(s, sizeof s, "%lld", ttl_left(exp, c->now_ms)));
        } else if (t.p[0] == 'O') {
            ml_add(&l, " ", 1);
            ml_add(&l, t.p, t.len);
        } else if (t.p[0] == 'k') {
            ml_key(&l, key, mc_meta_has(&m, 'b'));
        }
    }
    ml_reply(c, &l, mc_meta_has(&m, 'v') ? num : NULL, nlen);
}

/* MC.ME key b: meta debug, memcached's fields (cls: no slab classes here). */
void
cmd_mc_me(struct client *c, int argc, const struct resp_arg *argv)
{
    struct item *it = store_peek(server.store, argv[1].p, argv[1].len, c->now_ms);
    struct meta_line l = { .n = 0 };
    char s[160];
    int64_t exp;

    (void)argc;
    if (it == NULL) {
        reply_text(c, "EN\r\n");
        return;
    }
    exp = item_expire_ms(it);
    ml_add(&l, "ME ", 3);
    if (argv[2].len == 1 && argv[2].p[0] == '1') {
        char enc[4 * ((MC_KEY_MAX + 2) / 3)];

        ml_add(&l, enc, mc_base64_encode(argv[1].p, argv[1].len < MC_KEY_MAX ? argv[1].len : MC_KEY_MAX, enc));
    } else {
        ml_add(&l, argv[1].p, argv[1].len);
    }
    ml_add(&l, s,
           (size_t)snprintf(s, sizeof s, " exp=%lld la=%u cas=%llu fetch=%s cls=1 size=%llu",
                            exp > 0 ? -ttl_left(exp, c->now_ms) : -1LL,
                            (unsigned)((uint32_t)((uint32_t)c->now_ms - item_atime(it)) / 1000),
                            (unsigned long long)item_version(it),
                            (atomic_load(&it->seen) & ITEM_SEEN_FETCHED) ? "yes" : "no",
                            (unsigned long long)mc_item_size(it->klen, item_mcflags(it), it->vlen)));
    ml_reply(c, &l, NULL, 0);
    item_release(&it);
}
