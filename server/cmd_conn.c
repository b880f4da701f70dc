/*
 * server/cmd_conn.c — connection commands: PING, ECHO, QUIT, SELECT, HELLO,
 * AUTH, RESET and CLIENT, with Redis 7's replies and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/cluster.h"
#include "server/config.h"
#include "server/replicate.h"
#include "server/view.h"

void
cmd_ping(struct client *c, int argc, const struct resp_arg *argv)
{
    if (argc > 2) {
        reply_errorf(c, ERR_ARITY_FMT, "ping");
    } else if (argc == 1) {
        resp_add_raw(&c->out, "+PONG\r\n", 7);
    } else {
        resp_add_bulk(&c->out, argv[1].p, argv[1].len);
    }
}

void
cmd_echo(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    resp_add_bulk(&c->out, argv[1].p, argv[1].len);
}

void
cmd_quit(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    reply_ok(c);
    client_close_after_reply(c);
}

void
cmd_select(struct client *c, int argc, const struct resp_arg *argv)
{
    long long db;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[1], &db, NULL)) {
        return;
    }
    if (db != 0) {
        reply_error(c, ERR_DB_RANGE);
        return;
    }
    reply_ok(c);
}

/* Compare without an early exit, so the time taken says nothing about how
 * much of the password matched. */
bool
password_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;

    for (size_t i = 0; i < alen; i++) {
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    }
    return diff == 0;
}

/* Check user/password against requirepass (the default user is the only one).
 * Returns true and marks the client authenticated on success. */
static bool
authenticate(struct client *c, const struct resp_arg *user, const struct resp_arg *pass)
{
    char *req;
    bool ok;

    if (user != NULL && !arg_is(user, "default")) {
        return false;
    }
    /* the whole secret, whatever its length */
    req = config_str_dup(OPT_REQUIREPASS);
    if (req == NULL) {
        return false;
    }
    ok = req[0] == '\0' || password_equal(pass->p, pass->len, req, strlen(req));
    free(req);
    if (ok) {
        c->authed = true;
    }
    return ok;
}

void
cmd_auth(struct client *c, int argc, const struct resp_arg *argv)
{
    char req[8];

    if (argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    config_str(OPT_REQUIREPASS, req, sizeof req);
    if (argc == 2 && req[0] == '\0') {
        reply_error(c, ERR_AUTH_NOPASS);
        return;
    }
    if (authenticate(c, argc == 3 ? &argv[1] : NULL, &argv[argc - 1])) {
        reply_ok(c);
    } else {
        reply_error(c, ERR_WRONGPASS);
    }
}

/* Redis allows names of printable ASCII without spaces. */
static bool
name_valid(const struct resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++) {
        if (a->p[i] < '!' || a->p[i] > '~') {
            return false;
        }
    }
    return true;
}

static void
set_client_string(char **field, const struct resp_arg *a)
{
    char *v = NULL;

    if (a->len > 0) {
        v = malloc(a->len + 1);
        memcpy(v, a->p, a->len);
        v[a->len] = '\0';
    }
    pthread_mutex_lock(&server.clients_lock);
    free(*field);
    *field = v;
    pthread_mutex_unlock(&server.clients_lock);
}

void
cmd_hello(struct client *c, int argc, const struct resp_arg *argv)
{
    long long ver = 0;
    const struct resp_arg *user = NULL, *pass = NULL, *name = NULL;
    int next = 1;

    if (argc >= 2) {
        next = 2;
        if (!arg_ll_or_reply(c, &argv[1], &ver,
                             "ERR Protocol version is not an integer or out of range")) {
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c, ERR_NOPROTO);
            return;
        }
    }
    for (int j = next; j < argc; j++) {
        int more = argc - 1 - j;

        if (arg_is(&argv[j], "auth") && more >= 2) {
            user = &argv[j + 1];
            pass = &argv[j + 2];
            j += 2;
        } else if (arg_is(&argv[j], "setname") && more >= 1) {
            name = &argv[j + 1];
            j++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)argv[j].len, argv[j].p);
            return;
        }
    }
    if (pass != NULL && !authenticate(c, user, pass)) {
        reply_error(c, ERR_WRONGPASS);
        return;
    }
    if (!c->authed) {
        reply_error(c, ERR_HELLO_NOAUTH);
        return;
    }
    if (name != NULL) {
        if (!name_valid(name)) {
            reply_error(c, ERR_CLIENT_NAME);
            return;
        }
        set_client_string(&c->name, name);
    }
    if (ver != 0) {
        c->proto = (enum resp_proto)ver;
    }
    resp_add_map(&c->out, c->proto, 7);
    resp_add_bulk_cstr(&c->out, "server");
    resp_add_bulk_cstr(&c->out, "redis");
    resp_add_bulk_cstr(&c->out, "version");
    resp_add_bulk_cstr(&c->out, REDIS_COMPAT_VERSION);
    resp_add_bulk_cstr(&c->out, "proto");
    resp_add_int(&c->out, c->proto);
    resp_add_bulk_cstr(&c->out, "id");
    resp_add_int(&c->out, (int64_t)c->id);
    resp_add_bulk_cstr(&c->out, "mode");
    resp_add_bulk_cstr(&c->out, "standalone");
    resp_add_bulk_cstr(&c->out, "role");
    resp_add_bulk_cstr(&c->out, "master");
    resp_add_bulk_cstr(&c->out, "modules");
    resp_add_array(&c->out, 0);
}

void
cmd_reset(struct client *c, int argc, const struct resp_arg *argv)
{
    char req[8];

    (void)argc;
    (void)argv;
    config_str(OPT_REQUIREPASS, req, sizeof req);
    c->proto = RESP2;
    c->authed = req[0] == '\0';
    set_client_string(&c->name, &(struct resp_arg){ "", 0 });
    resp_add_status(&c->out, "RESET", 5);
}

/* ---- CLIENT ----------------------------------------------------------------*/

void
cmd_client_id(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    resp_add_int(&c->out, (int64_t)c->id);
}

void
cmd_client_setname(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    if (!name_valid(&argv[2])) {
        reply_error(c, ERR_CLIENT_NAME);
        return;
    }
    set_client_string(&c->name, &argv[2]);
    reply_ok(c);
}

void
cmd_client_getname(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    pthread_mutex_lock(&server.clients_lock);
    if (c->name != NULL) {
        resp_add_bulk_cstr(&c->out, c->name);
    } else {
        resp_add_null(&c->out, c->proto);
    }
    pthread_mutex_unlock(&server.clients_lock);
}

void
cmd_client_setinfo(struct client *c, int argc, const struct resp_arg *argv)
{
    char **field;

    (void)argc;
    if (arg_is(&argv[2], "lib-name")) {
        field = &c->lib_name;
    } else if (arg_is(&argv[2], "lib-ver")) {
        field = &c->lib_ver;
    } else {
        reply_errorf(c, "ERR Unrecognized option '%.*s'", (int)argv[2].len, argv[2].p);
        return;
    }
    if (!name_valid(&argv[3])) {
        reply_errorf(c, "ERR %s cannot contain spaces, newlines or special characters.",
                     field == &c->lib_name ? "lib-name" : "lib-ver");
        return;
    }
    set_client_string(field, &argv[3]);
    reply_ok(c);
}

static bool
is_client_type(const struct resp_arg *a)
{
    return arg_is(a, "normal") || arg_is(a, "master") || arg_is(a, "replica") ||
           arg_is(a, "slave") || arg_is(a, "pubsub");
}

/* One CLIENT LIST line, in Redis 7's field order, as client c (the caller)
 * sees t. Caller holds clients_lock. t's buffers belong to t's worker: read
 * them only on that worker, else what it last published. */
static void
client_info_line(const struct client *c, const struct client *t, int64_t now, char *buf,
                 size_t cap)
{
    size_t qbuf, qbuf_free, qcap, obuf, ocap, mem;
    int proto;
    unsigned cons;
    struct repl_levels lv = { 1, 1, 1 };

    if (t->w == c->w) {
        qbuf = resp_buf_pending(&t->in);
        qbuf_free = t->in.cap - t->in.len;
        qcap = t->in.cap;
        obuf = resp_buf_pending(&t->out);
        ocap = t->out.cap;
        proto = (int)t->proto;
    } else {
        qbuf = atomic_load_explicit(&t->pub.qbuf, memory_order_relaxed);
        qbuf_free = atomic_load_explicit(&t->pub.qbuf_free, memory_order_relaxed);
        qcap = atomic_load_explicit(&t->pub.qcap, memory_order_relaxed);
        obuf = atomic_load_explicit(&t->pub.obuf, memory_order_relaxed);
        ocap = atomic_load_explicit(&t->pub.ocap, memory_order_relaxed);
        proto = atomic_load_explicit(&t->pub.proto, memory_order_relaxed);
    }
    mem = sizeof *t + qcap + ocap;
    /* the quorums this connection's reads and writes get now (CONSISTENCY) */
    cons = atomic_load_explicit(&t->pub.cons, memory_order_relaxed);
    if (cluster_enabled()) {
        repl_levels_for(cons & 0xff, (cons >> 8) & 0xff, cons >> 16, view_get(), &lv);
    }

    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=N db=0 "
             "sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 "
             "rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
             "user=default redir=-1 resp=%d lib-name=%s lib-ver=%s read-quorum=%u "
             "write-quorum=%u\n",
             (unsigned long long)t->id, t->addr, t->laddr, t->fd, t->name ? t->name : "",
             (long long)((now - t->ctime_ms) / 1000),
             (long long)((now - atomic_load_explicit(&t->last_ms, memory_order_relaxed)) / 1000),
             qbuf, qbuf_free, qcap, qbuf, obuf, ocap, mem, obuf > 0 ? "w" : "",
             atomic_load_explicit(&t->last_cmd, memory_order_relaxed), proto,
             t->lib_name ? t->lib_name : "", t->lib_ver ? t->lib_ver : "", lv.r, lv.w);
}

void
cmd_client_info(struct client *c, int argc, const struct resp_arg *argv)
{
    char line[1024];

    (void)argc;
    (void)argv;
    pthread_mutex_lock(&server.clients_lock);
    client_info_line(c, c, c->now_ms, line, sizeof line);
    pthread_mutex_unlock(&server.clients_lock);
    resp_add_verbatim(&c->out, c->proto, "txt", line, strlen(line));
}

void
cmd_client_list(struct client *c, int argc, const struct resp_arg *argv)
{
    struct resp_buf text;
    char line[1024];
    long long *ids = NULL;
    int nids = 0;
    bool type_normal = true;

    if (argc == 4 && arg_is(&argv[2], "type")) {
        if (!is_client_type(&argv[3])) {
            reply_errorf(c, "ERR Unknown client type '%.*s'", (int)argv[3].len, argv[3].p);
            return;
        }
        type_normal = arg_is(&argv[3], "normal");
    } else if (argc >= 4 && arg_is(&argv[2], "id")) {
        ids = calloc((size_t)argc, sizeof *ids);
        for (int i = 3; i < argc; i++) {
            if (!arg_ll(&argv[i], &ids[nids])) {
                reply_error(c, "ERR Invalid client ID");
                free(ids);
                return;
            }
            nids++;
        }
    } else if (argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    resp_buf_init(&text);
    pthread_mutex_lock(&server.clients_lock);
    for (const struct client *t = server.clients; t != NULL && type_normal; t = t->gnext) {
        bool want = nids == 0;
        for (int i = 0; i < nids && !want; i++) {
            want = (uint64_t)ids[i] == t->id;
        }
        if (want) {
            client_info_line(c, t, c->now_ms, line, sizeof line);
            resp_add_raw(&text, line, strlen(line));
        }
    }
    pthread_mutex_unlock(&server.clients_lock);
    resp_add_verbatim(&c->out, c->proto, "txt", text.data ? text.data : "", text.len);
    resp_buf_deinit(&text);
    free(ids);
}

void
cmd_client_kill(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *addr = NULL, *laddr = NULL;
    long long id = 0;
    bool skipme = true, old_form = argc == 3;
    long killed = 0;

    if (old_form) {
        addr = &argv[2];
    } else {
        if ((argc - 2) % 2 != 0) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        for (int i = 2; i < argc; i += 2) {
            const struct resp_arg *v = &argv[i + 1];
            if (arg_is(&argv[i], "id")) {
                if (!arg_ll(v, &id) || id <= 0) {
                    reply_error(c, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (arg_is(&argv[i], "addr")) {
                addr = v;
            } else if (arg_is(&argv[i], "laddr")) {
                laddr = v;
            } else if (arg_is(&argv[i], "skipme")) {
                if (arg_is(v, "yes")) {
                    skipme = true;
                } else if (arg_is(v, "no")) {
                    skipme = false;
                } else {
                    reply_error(c, ERR_SYNTAX);
                    return;
                }
            } else if (arg_is(&argv[i], "type")) {
                if (!is_client_type(v)) {
                    reply_errorf(c, "ERR Unknown client type '%.*s'", (int)v->len, v->p);
                    return;
                }
                if (!arg_is(v, "normal")) {
                    /* No replicas or pubsub clients exist here: nothing matches. */
                    id = -1;
                }
            } else if (arg_is(&argv[i], "user")) {
                /* "default" is the only user: it matches every client. */
                if (!arg_is(v, "default")) {
                    reply_errorf(c, "ERR No such user '%.*s'", (int)v->len, v->p);
                    return;
                }
            } else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        }
    }
    pthread_mutex_lock(&server.clients_lock);
    for (struct client *t = server.clients; t != NULL && id >= 0; t = t->gnext) {
        if ((id > 0 && t->id != (uint64_t)id) ||
            (addr != NULL && !(strlen(t->addr) == addr->len && memcmp(t->addr, addr->p, addr->len) == 0)) ||
            (laddr != NULL && !(strlen(t->laddr) == laddr->len && memcmp(t->laddr, laddr->p, laddr->len) == 0))) {
            continue;
        }
        if (t == c) {
            if (skipme && !old_form) {
                continue;
            }
            client_close_after_reply(c);
        } else {
            client_request_kill(t);
        }
        killed++;
    }
    pthread_mutex_unlock(&server.clients_lock);
    if (old_form) {
        if (killed == 0) {
            reply_error(c, ERR_NO_SUCH_CLIENT);
        } else {
            reply_ok(c);
        }
    } else {
        resp_add_int(&c->out, killed);
    }
}
