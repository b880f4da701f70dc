/*
 * server/cmd_keys.c — generic key commands: DEL, EXISTS, TYPE, the EXPIRE
 * family, TTL family, PERSIST, TOUCH, KEYS, SCAN, RANDOMKEY, RENAME, DBSIZE,
 * FLUSHALL and MEMORY USAGE, following Redis 7.0's db.c and expire.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/version.h"
#include "server/commands.h"
#include "server/glob.h"
#include "server/replicate.h"
#include "storage/store.h"

#include <xxhash.h>

#define KEY(i) argv[i].p, argv[i].len

void
cmd_del(struct client *c, int argc, const struct resp_arg *argv)
{
    int64_t n = 0;

    for (int i = 1; i < argc; i++) {
        n += store_del(server.store, KEY(i), c->now_ms);
    }
    resp_add_int(&c->out, n);
}

void
cmd_exists(struct client *c, int argc, const struct resp_arg *argv)
{
    int64_t n = 0;

    for (int i = 1; i < argc; i++) {
        n += store_exists(server.store, KEY(i), c->now_ms);
    }
    resp_add_int(&c->out, n);
}

void
cmd_touch(struct client *c, int argc, const struct resp_arg *argv)
{
    int64_t n = 0;

    for (int i = 1; i < argc; i++) {
        n += store_touch(server.store, KEY(i), c->now_ms);
    }
    resp_add_int(&c->out, n);
}

void
cmd_type(struct client *c, int argc, const struct resp_arg *argv)
{
    struct item *it = store_peek(server.store, KEY(1), c->now_ms);

    (void)argc;
    if (it == NULL) {
        resp_add_status(&c->out, "none", 4);
    } else {
        resp_add_status(&c->out, "string", 6);
        item_release(&it);
    }
}

/* ---- expiry ----------------------------------------------------------------*/

/* Redis's expireGenericCommand: options first, then the number, then the key. */
static void
expire_generic(struct client *c, int argc, const struct resp_arg *argv, int64_t base,
               bool seconds, const char *cmdname)
{
    int flags = 0;
    long long when;
    bool nx = false, xx = false, gt = false, lt = false;
    int st;

    for (int j = 3; j < argc; j++) {
        if (arg_is(&argv[j], "nx")) {
            nx = true;
        } else if (arg_is(&argv[j], "xx")) {
            xx = true;
        } else if (arg_is(&argv[j], "gt")) {
            gt = true;
        } else if (arg_is(&argv[j], "lt")) {
            lt = true;
        } else {
            reply_errorf(c, "ERR Unsupported option %.*s", (int)argv[j].len, argv[j].p);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (!arg_ll_or_reply(c, &argv[2], &when, NULL)) {
        return;
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_errorf(c, ERR_EXPIRE_FMT, cmdname);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - base) {
        reply_errorf(c, ERR_EXPIRE_FMT, cmdname);
        return;
    }
    when += base;
    flags |= nx ? STORE_EXP_NX : 0;
    flags |= xx ? STORE_EXP_XX : 0;
    flags |= gt ? STORE_EXP_GT : 0;
    flags |= lt ? STORE_EXP_LT : 0;
    st = store_expire(server.store, KEY(1), when, flags, c->now_ms);
    resp_add_int(&c->out, st == STORE_OK);
}

void
cmd_expire(struct client *c, int argc, const struct resp_arg *argv)
{
    expire_generic(c, argc, argv, c->now_ms, true, "expire");
}

void
cmd_pexpire(struct client *c, int argc, const struct resp_arg *argv)
{
    expire_generic(c, argc, argv, c->now_ms, false, "pexpire");
}

void
cmd_expireat(struct client *c, int argc, const struct resp_arg *argv)
{
    expire_generic(c, argc, argv, 0, true, "expireat");
}

void
cmd_pexpireat(struct client *c, int argc, const struct resp_arg *argv)
{
    expire_generic(c, argc, argv, 0, false, "pexpireat");
}

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no expiry; seconds are
 * rounded to the nearest, as Redis does. */
static void
ttl_generic(struct client *c, const struct resp_arg *key, bool ms, bool absolute)
{
    int64_t when = store_expire_time(server.store, key->p, key->len, c->now_ms);
    int64_t v;

    if (when < 0) {
        resp_add_int(&c->out, when);
        return;
    }
    v = absolute ? when : when - c->now_ms;
    v = v < 0 ? 0 : v;
    resp_add_int(&c->out, ms ? v : (v + 500) / 1000);
}

void
cmd_ttl(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    ttl_generic(c, &argv[1], false, false);
}

void
cmd_pttl(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    ttl_generic(c, &argv[1], true, false);
}

void
cmd_expiretime(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    ttl_generic(c, &argv[1], false, true);
}

void
cmd_pexpiretime(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    ttl_generic(c, &argv[1], true, true);
}

void
cmd_persist(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    resp_add_int(&c->out, store_persist(server.store, KEY(1), c->now_ms) == STORE_OK);
}

/* ---- iteration -------------------------------------------------------------*/

/* Keys collected under the store's shard locks, replied after. */
struct key_list {
    struct resp_buf bulk; /* keys already encoded as bulk strings */
    size_t n;
    const char *pat;
    size_t plen;
    bool all;
    bool type_ok;
    bool replicated; /* list only the keys this member answers for */
    struct repl_listing listing;
    bool count_only;
    /* KEYS: the keys listed so far, to list each once (a walk with the disk
     * tier may meet a key that moves twice, see store_scan); open
     * addressing over (hash, offset of the key's bulk in `bulk` + 1) */
    bool once;
    struct listed {
        uint64_t h, off1;
    } *seen;
    size_t seen_cap;
};

/* The key of the bulk string at off in b. */
static struct resp_arg
bulk_at(const struct resp_buf *b, uint64_t off)
{
    const char *p = b->data + off + 1, *nl = memchr(p, '\r', b->len - off - 1);

    return (struct resp_arg){ nl + 2, (size_t)strtoull(p, NULL, 10) };
}

/* Whether the key was listed already; if not, it is recorded as the bulk
 * about to be added at the end of kl->bulk. False too when out of memory:
 * a key listed twice then, rather than none. */
static bool
key_list_listed(struct key_list *kl, const char *key, size_t klen)
{
    uint64_t h = XXH3_64bits(key, klen);
    size_t i;

    if (kl->n * 2 >= kl->seen_cap) {
        size_t cap = kl->seen_cap ? kl->seen_cap * 2 : 1024;
        struct listed *s = calloc(cap, sizeof *s);

        if (s == NULL) {
            return false;
        }
        for (size_t j = 0; j < kl->seen_cap; j++) {
            if (kl->seen[j].off1 != 0) {
                for (i = kl->seen[j].h & (cap - 1); s[i].off1 != 0; i = (i + 1) & (cap - 1)) {
                }
                s[i] = kl->seen[j];
            }
        }
        free(kl->seen);
        kl->seen = s;
        kl->seen_cap = cap;
    }
    for (i = h & (kl->seen_cap - 1); kl->seen[i].off1 != 0; i = (i + 1) & (kl->seen_cap - 1)) {
        if (kl->seen[i].h == h) {
            struct resp_arg k = bulk_at(&kl->bulk, kl->seen[i].off1 - 1);

            if (k.len == klen && memcmp(k.p, key, klen) == 0) {
                return true;
            }
        }
    }
    kl->seen[i] = (struct listed){ h, kl->bulk.len + 1 };
    return false;
}

static void
collect_key(void *ctx, const struct item *it)
{
    struct key_list *kl = ctx;

    if (!kl->type_ok || (kl->replicated && !repl_listing_has(&kl->listing, item_key(it), it->klen))) {
        return;
    }
    if (!kl->all && !glob_match(kl->pat, kl->plen, item_key(it), it->klen, false)) {
        return;
    }
    if (kl->once && key_list_listed(kl, item_key(it), it->klen)) {
        return;
    }
    if (!kl->count_only) {
        resp_add_bulk(&kl->bulk, item_key(it), it->klen);
    }
    kl->n++;
}

static void
key_list_init(struct key_list *kl, const char *pat, size_t plen)
{
    memset(kl, 0, sizeof *kl);
    resp_buf_init(&kl->bulk);
    kl->pat = pat;
    kl->plen = plen;
    kl->all = pat == NULL || (plen == 1 && pat[0] == '*');
    kl->type_ok = true;
    /* With N copies of every key, a cluster-wide listing (KEYS, SCAN,
     * DBSIZE run on every member) names each key once: on the first member up
     * in its preference list. */
    kl->replicated = repl_listing_begin(&kl->listing);
}

static void
key_list_deinit(struct key_list *kl)
{
    resp_buf_deinit(&kl->bulk);
    free(kl->seen);
    repl_listing_end(&kl->listing);
}

static void
key_list_reply(struct client *c, struct key_list *kl)
{
    resp_add_array(&c->out, kl->n);
    resp_add_raw(&c->out, kl->bulk.data, kl->bulk.len);
    key_list_deinit(kl);
}

void
cmd_keys(struct client *c, int argc, const struct resp_arg *argv)
{
    struct key_list kl;
    uint64_t cursor = 0;

    (void)argc;
    key_list_init(&kl, argv[1].p, argv[1].len);
    kl.once = true;
    do {
        cursor = store_scan(server.store, cursor, 1024, collect_key, &kl, c->now_ms);
    } while (cursor != 0);
    key_list_reply(c, &kl);
}

void
cmd_scan(struct client *c, int argc, const struct resp_arg *argv)
{
    struct key_list kl;
    unsigned long long cursor;
    long long count = 10;
    const struct resp_arg *match = NULL, *type = NULL;
    char num[24];
    size_t n;

    if (!arg_cursor_or_reply(c, &argv[1], &cursor)) {
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (arg_is(&argv[i], "count")) {
            if (!arg_ll_or_reply(c, &argv[i + 1], &count, NULL)) {
                return;
            }
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else if (arg_is(&argv[i], "match")) {
            match = &argv[i + 1];
        } else if (arg_is(&argv[i], "type")) {
            type = &argv[i + 1];
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    key_list_init(&kl, match ? match->p : NULL, match ? match->len : 0);
    kl.type_ok = type == NULL || arg_is(type, "string");
    cursor = store_scan(server.store, cursor, (size_t)count, collect_key, &kl, c->now_ms);
    resp_add_array(&c->out, 2);
    n = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)cursor);
    resp_add_bulk(&c->out, num, n);
    key_list_reply(c, &kl);
}

static void
copy_key(void *ctx, const struct item *it)
{
    struct resp_buf *b = ctx;

    resp_add_bulk(b, item_key(it), it->klen);
}

void
cmd_randomkey(struct client *c, int argc, const struct resp_arg *argv)
{
    struct resp_buf b;

    (void)argc;
    (void)argv;
    resp_buf_init(&b);
    if (store_random_key(server.store, copy_key, &b, c->now_ms)) {
        resp_add_raw(&c->out, b.data, b.len);
    } else {
        resp_add_null(&c->out, c->proto);
    }
    resp_buf_deinit(&b);
}

void
cmd_rename(struct client *c, int argc, const struct resp_arg *argv)
{
    int st;

    (void)argc;
    st = store_rename(server.store, KEY(1), KEY(2), false, c->now_ms);
    if (st == STORE_OK) {
        reply_ok(c);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_renamenx(struct client *c, int argc, const struct resp_arg *argv)
{
    int st;

    (void)argc;
    st = store_rename(server.store, KEY(1), KEY(2), true, c->now_ms);
    if (st == STORE_OK || st == STORE_EEXIST) {
        resp_add_int(&c->out, st == STORE_OK);
    } else {
        reply_store_error(c, st);
    }
}

void
cmd_dbsize(struct client *c, int argc, const struct resp_arg *argv)
{
    struct key_list kl;
    uint64_t cursor = 0;

    (void)argc;
    (void)argv;
    key_list_init(&kl, NULL, 0);
    if (!kl.replicated) {
        key_list_deinit(&kl);
        resp_add_int(&c->out, (int64_t)store_dbsize(server.store));
        return;
    }
    /* the store counts every copy it holds; count the keys listed here */
    kl.count_only = true;
    do {
        cursor = store_scan(server.store, cursor, 1024, collect_key, &kl, c->now_ms);
    } while (cursor != 0);
    key_list_deinit(&kl);
    resp_add_int(&c->out, (int64_t)kl.n);
}

void
cmd_flushall(struct client *c, int argc, const struct resp_arg *argv)
{
    if (argc > 2 || (argc == 2 && !arg_is(&argv[1], "sync") && !arg_is(&argv[1], "async"))) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    keys_flush();
    reply_ok(c);
}

void
keys_flush(void)
{
    int64_t t = now_ms();

    store_flush(server.store, repl_flush_floor(t));
    /* Answer in the next millisecond: a write the client sends after the
     * reply is then newer than the flush on every member (one clock per
     * machine; across machines, within their skew). */
    while (now_ms() <= t) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
}

void
cmd_memory_usage(struct client *c, int argc, const struct resp_arg *argv)
{
    int64_t bytes;
    long long samples;

    /* Options come before the key lookup, as in Redis. SAMPLES is accepted
     * and needs no work here: sizes are exact, not sampled. */
    for (int j = 3; j < argc; j++) {
        if (arg_is(&argv[j], "samples") && j + 1 < argc) {
            if (!arg_ll_or_reply(c, &argv[j + 1], &samples, NULL)) {
                return;
            }
            if (samples < 0) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    bytes = store_memory_usage(server.store, KEY(2), c->now_ms);
    if (bytes < 0) {
        resp_add_null(&c->out, c->proto);
    } else {
        resp_add_int(&c->out, bytes);
    }
}
