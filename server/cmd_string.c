/*
 * server/cmd_string.c — string commands. Option parsing and error order
 * follow Redis 7.0's t_string.c, so the same bad request gets the same
 * error; the atomic read-modify-write itself lives in the store.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "storage/store.h"

#define KEY(i) argv[i].p, argv[i].len

static void
reply_item(struct client *c, struct item *it)
{
    if (it == NULL) {
        resp_add_null(&c->out, c->proto);
        return;
    }
    resp_add_bulk(&c->out, item_value(it), it->vlen);
    item_release(&it);
}

/* A read that counts towards keyspace_hits/misses. */
static struct item *
lookup_read(struct client *c, const struct resp_arg *key)
{
    struct item *it = store_get(server.store, key->p, key->len, c->now_ms);

    if (it != NULL) {
        STAT_INC(c->w, keyspace_hits);
    } else {
        STAT_INC(c->w, keyspace_misses);
    }
    return it;
}

void
cmd_get(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    reply_item(c, lookup_read(c, &argv[1]));
}

/* ---- SET and GETEX options (Redis's parseExtendedStringArgumentsOrReply) --*/

enum {
    OPT_NX = 1 << 0, OPT_XX = 1 << 1, OPT_GET = 1 << 2, OPT_KEEPTTL = 1 << 3,
    OPT_PERSIST = 1 << 4, OPT_EX = 1 << 5, OPT_PX = 1 << 6, OPT_EXAT = 1 << 7,
    OPT_PXAT = 1 << 8,
};
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

static bool
parse_string_options(struct client *c, int argc, const struct resp_arg *argv, int first,
                     bool is_set, int *flags, const struct resp_arg **expire)
{
    for (int j = first; j < argc; j++) {
        const struct resp_arg *o = &argv[j];
        bool has_next = j + 1 < argc;

        if (arg_is(o, "nx") && !(*flags & OPT_XX) && is_set) {
            *flags |= OPT_NX;
        } else if (arg_is(o, "xx") && !(*flags & OPT_NX) && is_set) {
            *flags |= OPT_XX;
        } else if (arg_is(o, "get") && is_set) {
            *flags |= OPT_GET;
        } else if (arg_is(o, "keepttl") && is_set && !(*flags & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            *flags |= OPT_KEEPTTL;
        } else if (arg_is(o, "persist") && !is_set && !(*flags & (OPT_KEEPTTL | OPT_ANY_EXPIRE))) {
            *flags |= OPT_PERSIST;
        } else if (arg_is(o, "ex") && has_next &&
                   !(*flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EXAT | OPT_PX | OPT_PXAT))) {
            *flags |= OPT_EX;
            *expire = &argv[++j];
        } else if (arg_is(o, "px") && has_next &&
                   !(*flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
            *flags |= OPT_PX;
            *expire = &argv[++j];
        } else if (arg_is(o, "exat") && has_next &&
                   !(*flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
            *flags |= OPT_EXAT;
            *expire = &argv[++j];
        } else if (arg_is(o, "pxat") && has_next &&
                   !(*flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PX))) {
            *flags |= OPT_PXAT;
            *expire = &argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Redis's getExpireMillisecondsOrReply: a relative or absolute time to an
 * absolute ms, rejecting non-positive values and overflow. */
static bool
expire_to_abs_ms(struct client *c, const struct resp_arg *arg, int flags,
                 const char *cmdname, int64_t *out)
{
    long long v;
    bool seconds = (flags & (OPT_EX | OPT_EXAT)) != 0;

    if (!arg_ll_or_reply(c, arg, &v, NULL)) {
        return false;
    }
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_errorf(c, ERR_EXPIRE_FMT, cmdname);
        return false;
    }
    if (seconds) {
        v *= 1000;
    }
    if (flags & (OPT_EX | OPT_PX)) {
        if (v > LLONG_MAX - c->now_ms) {
            reply_errorf(c, ERR_EXPIRE_FMT, cmdname);
            return false;
        }
        v += c->now_ms;
    }
    *out = v;
    return true;
}

/* The shared body of SET, SETNX, SETEX, PSETEX and GETSET. */
static void
set_generic(struct client *c, const struct resp_arg *key, const struct resp_arg *val,
            int flags, const struct resp_arg *expire, const char *cmdname)
{
    int64_t when = 0;
    int sflags = 0;
    struct item *old = NULL;
    int st;

    if (expire != NULL && !expire_to_abs_ms(c, expire, flags, cmdname, &when)) {
        return;
    }
    sflags |= (flags & OPT_NX) ? STORE_SET_NX : 0;
    sflags |= (flags & OPT_XX) ? STORE_SET_XX : 0;
    sflags |= (flags & OPT_KEEPTTL) ? STORE_SET_KEEPTTL : 0;
    sflags |= (flags & OPT_GET) ? STORE_SET_GET : 0;
    st = store_set(server.store, key->p, key->len, val->p, val->len, sflags, when,
                   c->now_ms, (flags & OPT_GET) ? &old : NULL);
    if (st == STORE_ENOMEM) {
        item_release(&old);
        reply_store_error(c, st);
        return;
    }
    if (flags & OPT_GET) {
        reply_item(c, old);
    } else if (st == STORE_OK) {
        reply_ok(c);
    } else {
        resp_add_null(&c->out, c->proto);
    }
}

void
cmd_set(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *expire = NULL;
    int flags = 0;

    if (parse_string_options(c, argc, argv, 3, true, &flags, &expire)) {
        set_generic(c, &argv[1], &argv[2], flags, expire, "set");
    }
}

void
cmd_setnx(struct client *c, int argc, const struct resp_arg *argv)
{
    int st;

    (void)argc;
    st = store_set(server.store, KEY(1), argv[2].p, argv[2].len, STORE_SET_NX, 0,
                   c->now_ms, NULL);
    if (st == STORE_OK || st == STORE_EEXIST) {
        resp_add_int(&c->out, st == STORE_OK);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_setex(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    set_generic(c, &argv[1], &argv[3], OPT_EX, &argv[2], "setex");
}

void
cmd_psetex(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    set_generic(c, &argv[1], &argv[3], OPT_PX, &argv[2], "psetex");
}

void
cmd_getset(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    set_generic(c, &argv[1], &argv[2], OPT_GET, NULL, "getset");
}

void
cmd_getdel(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    reply_item(c, store_getdel(server.store, KEY(1), c->now_ms));
}

void
cmd_getex(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *expire = NULL;
    int flags = 0;
    int64_t when = 0;

    if (!parse_string_options(c, argc, argv, 2, false, &flags, &expire)) {
        return;
    }
    if (expire != NULL && !expire_to_abs_ms(c, expire, flags, "getex", &when)) {
        return;
    }
    if (flags & OPT_PERSIST) {
        when = STORE_EXPIRE_PERSIST;
    }
    reply_item(c, store_getex(server.store, KEY(1), when, c->now_ms));
}

void
cmd_mget(struct client *c, int argc, const struct resp_arg *argv)
{
    resp_add_array(&c->out, (size_t)argc - 1);
    for (int i = 1; i < argc; i++) {
        reply_item(c, lookup_read(c, &argv[i]));
    }
}

static void
mset_generic(struct client *c, int argc, const struct resp_arg *argv, bool nx,
             const char *cmdname)
{
    size_t n = (size_t)(argc - 1) / 2;
    const char *small_k[16];
    const void *small_v[16];
    size_t small_kl[16], small_vl[16];
    const char **keys = small_k;
    const void **vals = small_v;
    size_t *klens = small_kl, *vlens = small_vl;
    int st;

    if (argc % 2 == 0) {
        reply_errorf(c, ERR_ARITY_FMT, cmdname);
        return;
    }
    if (n > 16) {
        keys = malloc(n * sizeof *keys);
        vals = malloc(n * sizeof *vals);
        klens = malloc(n * sizeof *klens);
        vlens = malloc(n * sizeof *vlens);
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = argv[1 + 2 * i].p;
        klens[i] = argv[1 + 2 * i].len;
        vals[i] = argv[2 + 2 * i].p;
        vlens[i] = argv[2 + 2 * i].len;
    }
    st = store_mset(server.store, n, keys, klens, vals, vlens, nx, c->now_ms);
    if (nx && (st == STORE_OK || st == STORE_EEXIST)) {
        resp_add_int(&c->out, st == STORE_OK);
    } else if (st == STORE_OK) {
        reply_ok(c);
    } else {
        reply_store_error(c, st);
    }
    if (n > 16) {
        free(keys);
        free(vals);
        free(klens);
        free(vlens);
    }
}

void
cmd_mset(struct client *c, int argc, const struct resp_arg *argv)
{
    mset_generic(c, argc, argv, false, "mset");
}

void
cmd_msetnx(struct client *c, int argc, const struct resp_arg *argv)
{
    mset_generic(c, argc, argv, true, "msetnx");
}

static void
incr_generic(struct client *c, const struct resp_arg *key, long long delta)
{
    int64_t result;
    int st = store_incr(server.store, key->p, key->len, delta, &result, c->now_ms);

    if (st == STORE_OK) {
        resp_add_int(&c->out, result);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_incr(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    incr_generic(c, &argv[1], 1);
}

void
cmd_decr(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    incr_generic(c, &argv[1], -1);
}

void
cmd_incrby(struct client *c, int argc, const struct resp_arg *argv)
{
    long long d;

    (void)argc;
    if (arg_ll_or_reply(c, &argv[2], &d, NULL)) {
        incr_generic(c, &argv[1], d);
    }
}

void
cmd_decrby(struct client *c, int argc, const struct resp_arg *argv)
{
    long long d;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[2], &d, NULL)) {
        return;
    }
    if (d == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, &argv[1], -d);
}

void
cmd_incrbyfloat(struct client *c, int argc, const struct resp_arg *argv)
{
    long double d;
    char out[STORE_FLOAT_STR_MAX];
    size_t len;
    int st;

    (void)argc;
    if (!arg_ld(&argv[2], &d)) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    st = store_incr_float(server.store, KEY(1), d, out, &len, c->now_ms);
    if (st == STORE_OK) {
        resp_add_bulk(&c->out, out, len);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_append(struct client *c, int argc, const struct resp_arg *argv)
{
    size_t len;
    int st;

    (void)argc;
    st = store_append(server.store, KEY(1), argv[2].p, argv[2].len, &len, c->now_ms);
    if (st == STORE_OK) {
        resp_add_int(&c->out, (int64_t)len);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_strlen(struct client *c, int argc, const struct resp_arg *argv)
{
    struct item *it = store_get(server.store, KEY(1), c->now_ms);

    (void)argc;
    resp_add_int(&c->out, it != NULL ? it->vlen : 0);
    item_release(&it);
}

void
cmd_getrange(struct client *c, int argc, const struct resp_arg *argv)
{
    long long start, end, len;
    struct item *it;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[2], &start, NULL) ||
        !arg_ll_or_reply(c, &argv[3], &end, NULL)) {
        return;
    }
    it = store_get(server.store, KEY(1), c->now_ms);
    len = it != NULL ? it->vlen : 0;
    if (start < 0 && end < 0 && start > end) {
        len = 0;
    }
    if (start < 0) {
        start += len;
    }
    if (end < 0) {
        end += len;
    }
    start = start < 0 ? 0 : start;
    end = end < 0 ? 0 : end;
    if (end >= len) {
        end = len - 1;
    }
    if (it == NULL || start > end || len == 0) {
        resp_add_bulk(&c->out, "", 0);
    } else {
        resp_add_bulk(&c->out, item_value(it) + start, (size_t)(end - start + 1));
    }
    item_release(&it);
}

void
cmd_setrange(struct client *c, int argc, const struct resp_arg *argv)
{
    long long off;
    size_t len;
    int st;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[2], &off, NULL)) {
        return;
    }
    if (off < 0) {
        reply_error(c, ERR_OFFSET_RANGE);
        return;
    }
    st = store_setrange(server.store, KEY(1), (uint64_t)off, argv[3].p, argv[3].len,
                        &len, c->now_ms);
    if (st == STORE_OK) {
        resp_add_int(&c->out, (int64_t)len);
    } else {
        reply_store_error(c, st);
    }
}
