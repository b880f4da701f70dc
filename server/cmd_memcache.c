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

#include "server/commands.h"
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
    reply_value(c, it, argv[3].len == 1 && argv[3].p[0] == '1');
    item_release(&it);
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
    switch (store_mc_store(server.store, argv[1].p, argv[1].len, argv[6].p, argv[6].len,
                           (uint32_t)flags, when, (enum store_mc_mode)mode, cas, c->now_ms)) {
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
        reply_text(c, "SERVER_ERROR object too large for cache\r\n");
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
    switch (store_mc_incr(server.store, argv[1].p, argv[1].len, incr, delta, &v, c->now_ms)) {
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
