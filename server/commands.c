/*
 * server/commands.c — the command table, lookup and dispatch, the reply and
 * argument helpers every handler shares, and COMMAND (COUNT, INFO, DOCS,
 * LIST), which describes the table to clients such as redis-cli and
 * redis-py.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/glob.h"
#include "server/log.h"
#include "server/reader.h"
#include "storage/store.h"

void slowlog_add(struct client *c, int argc, const struct resp_arg *argv,
                 int64_t duration_us);

static struct command cmds[] = {
#define X(nm, ar, fl, fn, fk, lk, st, grp, since, sum, hint) \
    { nm, ar, fl, fn, fk, lk, st, grp, since, sum, hint, NULL, 0, NULL, 0 },
    COMMANDS(X)
#undef X
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static struct command subcmds[] = {
#define X(parent, nm, ar, fl, fn, fk, lk, st, since, sum, hint) \
    { #parent "|" nm, ar, fl, fn, fk, lk, st, NULL, since, sum, hint, NULL, 0, NULL, 0 },
    SUBCOMMANDS(X)
#undef X
};
#define NSUBS (sizeof subcmds / sizeof subcmds[0])

static struct command mccmds[] = {
#define X(nm, ar, fl, fn, fk, lk, st, grp, since, sum, hint) \
    { nm, ar, fl, fn, fk, lk, st, grp, since, sum, hint, NULL, 0, NULL, 0 },
    MEMCACHE_COMMANDS(X)
#undef X
};
#define NMC (sizeof mccmds / sizeof mccmds[0])

/* Open-addressing table over every full name ("get", "client|list"). */
#define LOOKUP_SLOTS 512
static const struct command *lookup_table[LOOKUP_SLOTS];

static uint32_t
name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 16777619u;
    }
    return h;
}

static void
lookup_add(const struct command *cmd)
{
    uint32_t i = name_hash(cmd->name, strlen(cmd->name)) % LOOKUP_SLOTS;

    while (lookup_table[i] != NULL) {
        i = (i + 1) % LOOKUP_SLOTS;
    }
    lookup_table[i] = cmd;
}

const struct command *
commands_lookup(const char *name, size_t len)
{
    uint32_t i = name_hash(name, len) % LOOKUP_SLOTS;

    for (; lookup_table[i] != NULL; i = (i + 1) % LOOKUP_SLOTS) {
        const struct command *cmd = lookup_table[i];
        if (strlen(cmd->name) == len && strncasecmp(cmd->name, name, len) == 0) {
            return cmd;
        }
    }
    return NULL;
}

static const struct command *
lookup_sub(const struct command *parent, const struct resp_arg *sub)
{
    char full[96];
    size_t n = strlen(parent->name);

    if (sub->len > sizeof full - n - 2) {
        return NULL;
    }
    memcpy(full, parent->name, n);
    full[n++] = '|';
    memcpy(full + n, sub->p, sub->len);
    return commands_lookup(full, n + sub->len);
}

bool
commands_waits_for_replies(int argc, const struct resp_arg *argv)
{
    const struct command *cmd = argc > 0 ? commands_lookup(argv[0].p, argv[0].len) : NULL;

    return cluster_enabled() && cmd != NULL && (cmd->flags & CMD_ALLNODES) &&
           (cmd->flags & CMD_WRITE);
}

const struct command *
commands_all(size_t *n)
{
    *n = NCMDS;
    return cmds;
}

/* ---- COMMAND DOCS arguments, parsed from the hint strings -----------------
 * The hints use redis-cli's own syntax ("key value [NX|XX] [EX seconds|...]"),
 * so one string per command gives both the docs tree and what redis-cli shows
 * back from it. */

struct doc_arg {
    char name[48];
    const char *type;   /* key string pure-token oneof block */
    char token[48];
    bool optional, multiple;
    struct doc_arg *kids;
    int nkids;
};

static void
doc_push(struct doc_arg **v, int *n, const struct doc_arg *a)
{
    *v = realloc(*v, (size_t)(*n + 1) * sizeof **v);
    (*v)[(*n)++] = *a;
}

static bool
is_upper_word(const char *w)
{
    return isupper((unsigned char)w[0]);
}

static const char *doc_parse_seq(const char *s, struct doc_arg **out, int *n);

/* Parse "[a|b c|d]" starting after '['. */
static const char *
doc_parse_bracket(const char *s, struct doc_arg *node)
{
    struct doc_arg *alts = NULL;
    int nalts = 0;

    for (;;) {
        struct doc_arg alt = { 0 };
        struct doc_arg *seq = NULL;
        int nseq = 0;

        s = doc_parse_seq(s, &seq, &nseq);
        if (nseq == 1) {
            alt = seq[0];
            free(seq);
        } else {
            snprintf(alt.name, sizeof alt.name, "block");
            alt.type = "block";
            alt.kids = seq;
            alt.nkids = nseq;
        }
        doc_push(&alts, &nalts, &alt);
        if (*s == '|') {
            s++;
            continue;
        }
        if (*s == ']') {
            s++;
        }
        break;
    }
    if (nalts == 1) {
        *node = alts[0];
        free(alts);
    } else {
        memset(node, 0, sizeof *node);
        snprintf(node->name, sizeof node->name, "oneof");
        node->type = "oneof";
        node->kids = alts;
        node->nkids = nalts;
    }
    node->optional = true;
    return s;
}

static const char *
doc_parse_seq(const char *s, struct doc_arg **out, int *n)
{
    for (;;) {
        struct doc_arg a = { 0 };
        char word[48];
        size_t len;

        while (*s == ' ') {
            s++;
        }
        if (*s == '\0' || *s == '|' || *s == ']') {
            return s;
        }
        if (*s == '[') {
            s = doc_parse_bracket(s + 1, &a);
            doc_push(out, n, &a);
            continue;
        }
        len = strcspn(s, " |[]");
        snprintf(word, sizeof word, "%.*s", (int)len, s);
        s += len;
        if (strcmp(word, "...") == 0) {
            if (*n > 0) {
                (*out)[*n - 1].multiple = true;
            }
            continue;
        }
        if (is_upper_word(word)) {
            const char *t = s;
            while (*t == ' ') {
                t++;
            }
            size_t vlen = strcspn(t, " |[]");
            snprintf(a.token, sizeof a.token, "%s", word);
            if (vlen > 0 && !isupper((unsigned char)t[0]) && t[0] != '.') {
                snprintf(a.name, sizeof a.name, "%.*s", (int)vlen, t);
                a.type = "string";
                s = t + vlen;
            } else {
                snprintf(a.name, sizeof a.name, "%s", word);
                for (char *p = a.name; *p; p++) {
                    *p = (char)tolower((unsigned char)*p);
                }
                a.type = "pure-token";
            }
        } else {
            snprintf(a.name, sizeof a.name, "%s", word);
            a.type = strcmp(word, "key") == 0 || strcmp(word, "newkey") == 0 ? "key" : "string";
        }
        doc_push(out, n, &a);
    }
}

static void
doc_free(struct doc_arg *v, int n)
{
    for (int i = 0; i < n; i++) {
        doc_free(v[i].kids, v[i].nkids);
    }
    free(v);
}

/* A whole hint; alternatives at the top level ("A a|B b") make one
 * required oneof, as Redis documents CLIENT SETINFO. */
static void
doc_parse_hint(const char *hint, struct doc_arg **args, int *n)
{
    const char *s = doc_parse_seq(hint, args, n);

    if (*s == '|') {
        struct doc_arg node;

        doc_free(*args, *n);
        *args = NULL;
        *n = 0;
        doc_parse_bracket(hint, &node);
        node.optional = false;
        doc_push(args, n, &node);
    }
}

static void
doc_write_arg(struct resp_buf *b, enum resp_proto pr, const struct doc_arg *a)
{
    size_t fields = 2 + (a->token[0] != '\0') + (a->optional || a->multiple) + (a->nkids > 0);

    resp_add_map(b, pr, fields);
    resp_add_bulk_cstr(b, "name");
    resp_add_bulk_cstr(b, a->name);
    resp_add_bulk_cstr(b, "type");
    resp_add_bulk_cstr(b, a->type);
    if (a->token[0] != '\0') {
        resp_add_bulk_cstr(b, "token");
        resp_add_bulk_cstr(b, a->token);
    }
    if (a->optional || a->multiple) {
        resp_add_bulk_cstr(b, "flags");
        resp_add_set(b, pr, (size_t)a->optional + a->multiple);
        if (a->optional) {
            resp_add_status(b, "optional", 8);
        }
        if (a->multiple) {
            resp_add_status(b, "multiple", 8);
        }
    }
    if (a->nkids > 0) {
        resp_add_bulk_cstr(b, "arguments");
        resp_add_array(b, (size_t)a->nkids);
        for (int i = 0; i < a->nkids; i++) {
            doc_write_arg(b, pr, &a->kids[i]);
        }
    }
}

void
commands_setup(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;
    for (size_t i = 0; i < NCMDS; i++) {
        cmds[i].id = (int)i;
        lookup_add(&cmds[i]);
        doc_parse_hint(cmds[i].hint, &cmds[i].args, &cmds[i].nargs);
    }
    for (size_t i = 0; i < NSUBS; i++) {
        const char *bar = strchr(subcmds[i].name, '|');
        struct command *parent = (struct command *)commands_lookup(
            subcmds[i].name, (size_t)(bar - subcmds[i].name));

        subcmds[i].group = parent->group;
        subcmds[i].id = (int)(NCMDS + i);
        parent->subs = realloc(parent->subs, (size_t)(parent->nsubs + 1) * sizeof(void *));
        parent->subs[parent->nsubs++] = &subcmds[i];
        lookup_add(&subcmds[i]);
        doc_parse_hint(subcmds[i].hint, &subcmds[i].args, &subcmds[i].nargs);
    }
    for (size_t i = 0; i < NMC; i++) {
        mccmds[i].id = (int)(NCMDS + NSUBS + i);
        lookup_add(&mccmds[i]);
    }
}

size_t
commands_count(void)
{
    return NCMDS + NSUBS + NMC;
}

/* ---- error statistics ------------------------------------------------------
 * Counted by error code (the first word: ERR, WRONGTYPE, OOM...), as Redis's
 * errorstats. Errors are off the fast path, so one small locked table. */
#define ERRSTAT_MAX 64
static pthread_mutex_t errstat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char code[32];
    uint64_t count;
} errstats[ERRSTAT_MAX];
static int nerrstats;

static void
errstat_add(const char *msg)
{
    size_t n = strcspn(msg, " ");
    int i;

    if (n >= sizeof errstats[0].code) {
        n = sizeof errstats[0].code - 1;
    }
    pthread_mutex_lock(&errstat_lock);
    for (i = 0; i < nerrstats; i++) {
        if (strlen(errstats[i].code) == n && memcmp(errstats[i].code, msg, n) == 0) {
            break;
        }
    }
    if (i == nerrstats && nerrstats < ERRSTAT_MAX) {
        memcpy(errstats[i].code, msg, n);
        errstats[i].code[n] = '\0';
        nerrstats++;
    }
    if (i < nerrstats) {
        errstats[i].count++;
    }
    pthread_mutex_unlock(&errstat_lock);
}

void
commands_info_errors(struct resp_buf *b)
{
    info_add(b, "# Errorstats");
    pthread_mutex_lock(&errstat_lock);
    for (int i = 0; i < nerrstats; i++) {
        info_add(b, "errorstat_%s:count=%llu", errstats[i].code,
                  (unsigned long long)errstats[i].count);
    }
    pthread_mutex_unlock(&errstat_lock);
}

static void
info_command(struct resp_buf *b, const struct command *cmd)
{
    uint64_t calls = 0, usec = 0, rejected = 0, failed = 0;

    for (int i = 0; i < server.nworkers; i++) {
        const struct cmd_stat *cs = &server.workers[i].cmdstats[cmd->id];
        calls += atomic_load_explicit(&cs->calls, memory_order_relaxed);
        usec += atomic_load_explicit(&cs->usec, memory_order_relaxed);
        rejected += atomic_load_explicit(&cs->rejected, memory_order_relaxed);
        failed += atomic_load_explicit(&cs->failed, memory_order_relaxed);
    }
    if (calls + rejected + failed > 0) {
        info_add(b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                  "failed_calls=%llu", cmd->name, (unsigned long long)calls,
                  (unsigned long long)usec, calls ? (double)usec / (double)calls : 0.0,
                  (unsigned long long)rejected, (unsigned long long)failed);
    }
}

void
commands_info_stats(struct resp_buf *b)
{
    info_add(b, "# Commandstats");
    for (size_t i = 0; i < NCMDS; i++) {
        info_command(b, &cmds[i]);
        for (int s = 0; s < cmds[i].nsubs; s++) {
            info_command(b, cmds[i].subs[s]);
        }
    }
}

void
commands_reset_stats(void)
{
    for (int i = 0; i < server.nworkers; i++) {
        for (size_t j = 0; j < commands_count(); j++) {
            struct cmd_stat *cs = &server.workers[i].cmdstats[j];
            atomic_store(&cs->calls, 0);
            atomic_store(&cs->usec, 0);
            atomic_store(&cs->rejected, 0);
            atomic_store(&cs->failed, 0);
        }
    }
    pthread_mutex_lock(&errstat_lock);
    nerrstats = 0;
    pthread_mutex_unlock(&errstat_lock);
}

#define CMDSTAT_ADD(c, cmd, field, n)                                          \
    atomic_store_explicit(&(c)->w->cmdstats[(cmd)->id].field,                  \
                          atomic_load_explicit(&(c)->w->cmdstats[(cmd)->id].field, \
                                               memory_order_relaxed) + (n),   \
                          memory_order_relaxed)

/* ---- replies ---------------------------------------------------------------*/

void
reply_ok(struct client *c)
{
    resp_add_raw(&c->out, "+OK\r\n", 5);
}

void
reply_error(struct client *c, const char *msg)
{
    resp_add_error(&c->out, msg, strlen(msg));
    STAT_INC(c->w, total_error_replies);
    errstat_add(msg);
}

void
reply_errorf(struct client *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(c, msg);
}

void
reply_store_error(struct client *c, int st)
{
    switch (st) {
    case STORE_OK:
        return;
    case STORE_ENOENT:
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    case STORE_ENOTNUM:
        reply_error(c, ERR_NOT_INTEGER);
        return;
    case STORE_EOVERFLOW:
        reply_error(c, ERR_INCR_OVERFLOW);
        return;
    case STORE_ENOTFLOAT:
        reply_error(c, ERR_NOT_FLOAT);
        return;
    case STORE_ENANINF:
        reply_error(c, ERR_NAN_INF);
        return;
    case STORE_ENOMEM:
        reply_error(c, ERR_OOM);
        return;
    case STORE_ETOOBIG:
        reply_error(c, ERR_TOO_BIG);
        return;
    default:
        log_msg(LOG_WARNING, "unexpected store status %d (%s)", st, store_strerror(st));
        STAT_INC(c->w, unexpected_error_replies);
        reply_error(c, ERR_INTERNAL);
        return;
    }
}

/* ---- arguments -------------------------------------------------------------*/

bool
arg_ll(const struct resp_arg *a, long long *out)
{
    const char *p = a->p;
    size_t n = a->len;
    bool neg = false;
    unsigned long long v = 0;

    if (n == 0 || n > 20) {
        return false;
    }
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        p++;
        n--;
        if (n == 0) {
            return false;
        }
    }
    if (p[0] < '1' || p[0] > '9') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        if (v > (ULLONG_MAX - (unsigned)(p[i] - '0')) / 10) {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return false;
        }
        *out = (long long)(0 - v);
    } else {
        if (v > LLONG_MAX) {
            return false;
        }
        *out = (long long)v;
    }
    return true;
}

bool
arg_ld(const struct resp_arg *a, long double *out)
{
    char buf[5120];
    char *end;
    long double v;

    if (a->len == 0 || a->len >= sizeof buf) {
        return false;
    }
    memcpy(buf, a->p, a->len);
    buf[a->len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != a->len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

bool
arg_is(const struct resp_arg *a, const char *lit)
{
    size_t n = strlen(lit);

    return a->len == n && strncasecmp(a->p, lit, n) == 0;
}

bool
arg_cursor_or_reply(struct client *c, const struct resp_arg *a, unsigned long long *out)
{
    char buf[32], *end;

    if (a->len >= sizeof buf) {
        reply_error(c, ERR_CURSOR);
        return false;
    }
    memcpy(buf, a->p, a->len);
    buf[a->len] = '\0';
    errno = 0;
    *out = strtoull(buf, &end, 10);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || errno == ERANGE) {
        reply_error(c, ERR_CURSOR);
        return false;
    }
    return true;
}

bool
arg_ll_or_reply(struct client *c, const struct resp_arg *a, long long *out,
                const char *msg)
{
    if (arg_ll(a, out)) {
        return true;
    }
    reply_error(c, msg != NULL ? msg : ERR_NOT_INTEGER);
    return false;
}

/* ---- dispatch --------------------------------------------------------------*/

void
commands_dispatch(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct command *cmd;
    int64_t t0, dt;

    if ((c->flags & CLIENT_BUS) && !c->no_route) {
        cluster_bus_dispatch(c, argc, argv);
        return;
    }
    cmd = commands_lookup(argv[0].p, argv[0].len);
    if (cmd != NULL && (cmd->flags & CMD_MC) && c->mc == NULL && !c->no_route &&
        !(c->flags & CLIENT_BUS)) {
        cmd = NULL; /* memcached's own: unknown to a RESP client */
    }
    if (cmd == NULL) {
        char name[129];
        char args[256] = "";
        size_t n = 0;

        snprintf(name, sizeof name, "%.*s", (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].p);
        for (int i = 1; i < argc && n < 128; i++) {
            int r = snprintf(args + n, sizeof args - n, "'%.*s' ",
                             (int)(argv[i].len < 128 - n ? argv[i].len : 128 - n), argv[i].p);
            n += r > 0 ? (size_t)r : 0;
        }
        reply_errorf(c, ERR_UNKNOWN_CMD_FMT, name, args);
        return;
    }
    if (cmd->flags & CMD_CONTAINER) {
        const struct command *sub = argc >= 2 ? lookup_sub(cmd, &argv[1]) : NULL;

        if (argc < 2) {
            reply_errorf(c, ERR_ARITY_FMT, cmd->name);
            return;
        }
        if (sub == NULL) {
            char up[32], name[129];
            size_t i;

            for (i = 0; cmd->name[i] != '\0' && i < sizeof up - 1; i++) {
                up[i] = (char)toupper((unsigned char)cmd->name[i]);
            }
            up[i] = '\0';
            snprintf(name, sizeof name, "%.*s", (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].p);
            reply_errorf(c, ERR_UNKNOWN_SUB_FMT, name, up);
            return;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        reply_errorf(c, ERR_ARITY_FMT, cmd->name);
        CMDSTAT_ADD(c, cmd, rejected, 1);
        return;
    }
    if (!c->authed && !(cmd->flags & CMD_NOAUTH)) {
        reply_error(c, ERR_NOAUTH);
        CMDSTAT_ADD(c, cmd, rejected, 1);
        return;
    }
    /* As Redis: under noeviction, once the dataset is over maxmemory every
     * write that may add memory is refused, whatever its size. Other
     * policies evict inside the store before each write. */
    if ((cmd->flags & CMD_DENYOOM) && config_num(OPT_MAXMEMORY_POLICY) == STORE_NOEVICTION &&
        store_over_maxmemory(server.store)) {
        reply_error(c, ERR_OOM);
        CMDSTAT_ADD(c, cmd, rejected, 1);
        return;
    }
    c->now_ms = now_ms();
    if (cluster_route(c, cmd, argc, argv)) {
        return;
    }
    /* disk tier: a command reading a cold key waits for a reader thread */
    if (reader_on && !c->no_route && reader_defer(c, cmd, argc, argv)) {
        return;
    }
    uint64_t errors = atomic_load_explicit(&c->w->stats.total_error_replies, memory_order_relaxed);
    atomic_store_explicit(&c->last_cmd, cmd->name, memory_order_relaxed);
    t0 = mono_us();
    cmd->fn(c, argc, argv);
    dt = mono_us() - t0;
    commands_account(c, cmd, argc, argv, dt,
                     atomic_load_explicit(&c->w->stats.total_error_replies,
                                          memory_order_relaxed) != errors);
}

void
commands_account(struct client *c, const struct command *cmd, int argc,
                 const struct resp_arg *argv, int64_t dt, bool failed)
{
    long long slower = config_num(OPT_SLOWLOG_LOG_SLOWER_THAN);

    STAT_INC(c->w, total_commands_processed);
    CMDSTAT_ADD(c, cmd, calls, 1);
    CMDSTAT_ADD(c, cmd, usec, (uint64_t)dt);
    if (failed) {
        CMDSTAT_ADD(c, cmd, failed, 1);
    }
    if (slower >= 0 && dt >= slower) {
        slowlog_add(c, argc, argv, dt);
    }
}

void
commands_run_captured(struct client *c, enum resp_proto proto, int argc,
                      const struct resp_arg *argv, struct resp_buf *out)
{
    struct resp_buf saved = c->out;
    enum resp_proto sp = c->proto;
    bool nr = c->no_route;

    resp_buf_init(&c->out);
    c->proto = proto;
    c->no_route = true;
    commands_dispatch(c, argc, argv);
    c->no_route = nr;
    c->proto = sp;
    *out = c->out;
    c->out = saved;
}

/* ---- COMMAND ---------------------------------------------------------------*/

static const char *const flag_names[CMD_REDIS_FLAGS] = {
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth", "may_replicate",
    "sentinel", "only_sentinel", "no_mandatory_keys", "protected", "module_getkeys",
    "module_no_cluster", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
};

/* ACL categories, in Redis's order, derived as Redis derives most of them:
 * the command's group, read or write, fast or slow, admin and dangerous. */
static int
command_categories(const struct command *cmd, const char *out[8])
{
    const char *group = cmd->group ? cmd->group : "server";
    bool keyspace = strcmp(group, "generic") == 0 || (cmd->flags & CMD_ALLNODES);
    bool admin = (cmd->flags & CMD_ADMIN) != 0;
    int n = 0;

    if (keyspace) {
        out[n++] = "@keyspace";
    }
    if (cmd->flags & CMD_READONLY) {
        out[n++] = "@read";
    }
    if (cmd->flags & CMD_WRITE) {
        out[n++] = "@write";
    }
    if (strcmp(group, "string") == 0) {
        out[n++] = "@string";
    }
    if (admin) {
        out[n++] = "@admin";
    }
    out[n++] = (cmd->flags & CMD_FAST) ? "@fast" : "@slow";
    if (admin || (cmd->flags & CMD_DANGEROUS)) {
        out[n++] = "@dangerous";
    }
    if (strcmp(group, "connection") == 0 || (cmd->flags & CMD_CAT_CONNECTION)) {
        out[n++] = "@connection";
    }
    return n;
}

static void
write_command_info(struct client *c, const struct command *cmd)
{
    int nflags = 0;

    resp_add_array(&c->out, 10);
    resp_add_bulk_cstr(&c->out, cmd->name);
    resp_add_int(&c->out, cmd->arity);
    for (int i = 0; i < CMD_REDIS_FLAGS; i++) {
        nflags += (cmd->flags & (1 << i)) != 0;
    }
    resp_add_set(&c->out, c->proto, (size_t)nflags);
    for (int i = 0; i < CMD_REDIS_FLAGS; i++) {
        if (cmd->flags & (1 << i)) {
            resp_add_status(&c->out, flag_names[i], strlen(flag_names[i]));
        }
    }
    resp_add_int(&c->out, cmd->first_key);
    resp_add_int(&c->out, cmd->last_key);
    resp_add_int(&c->out, cmd->step);
    {
        const char *cats[8];
        int n = command_categories(cmd, cats);
        resp_add_set(&c->out, c->proto, (size_t)n);
        for (int i = 0; i < n; i++) {
            resp_add_status(&c->out, cats[i], strlen(cats[i]));
        }
    }
    resp_add_set(&c->out, c->proto, 0);  /* tips */
    resp_add_array(&c->out, 0);          /* key specs */
    /* Redis replies an empty set, not an empty array, when there are none. */
    if (cmd->nsubs == 0) {
        resp_add_set(&c->out, c->proto, 0);
    } else {
        resp_add_array(&c->out, (size_t)cmd->nsubs);
    }
    for (int i = 0; i < cmd->nsubs; i++) {
        write_command_info(c, cmd->subs[i]);
    }
}

static void
write_command_docs(struct client *c, const struct command *cmd)
{
    size_t fields = 3 + (cmd->nargs > 0) + (cmd->nsubs > 0);

    resp_add_map(&c->out, c->proto, fields);
    resp_add_bulk_cstr(&c->out, "summary");
    resp_add_bulk_cstr(&c->out, cmd->summary);
    resp_add_bulk_cstr(&c->out, "since");
    resp_add_bulk_cstr(&c->out, cmd->since);
    resp_add_bulk_cstr(&c->out, "group");
    resp_add_bulk_cstr(&c->out, cmd->group);
    if (cmd->nargs > 0) {
        resp_add_bulk_cstr(&c->out, "arguments");
        resp_add_array(&c->out, (size_t)cmd->nargs);
        for (int i = 0; i < cmd->nargs; i++) {
            doc_write_arg(&c->out, c->proto, &cmd->args[i]);
        }
    }
    if (cmd->nsubs > 0) {
        resp_add_bulk_cstr(&c->out, "subcommands");
        resp_add_map(&c->out, c->proto, (size_t)cmd->nsubs);
        for (int i = 0; i < cmd->nsubs; i++) {
            resp_add_bulk_cstr(&c->out, cmd->subs[i]->name);
            write_command_docs(c, cmd->subs[i]);
        }
    }
}

void
cmd_command(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct command *cmd;

    if (argc >= 2) {
        /* COMMAND is a container with a body of its own (no subcommand). */
        cmd = lookup_sub(commands_lookup("command", 7), &argv[1]);
        if (cmd == NULL) {
            char name[129];
            snprintf(name, sizeof name, "%.*s", (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].p);
            reply_errorf(c, ERR_UNKNOWN_SUB_FMT, name, "COMMAND");
            return;
        }
        if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
            reply_errorf(c, ERR_ARITY_FMT, cmd->name);
            return;
        }
        cmd->fn(c, argc, argv);
        return;
    }
    resp_add_array(&c->out, NCMDS);
    for (size_t i = 0; i < NCMDS; i++) {
        write_command_info(c, &cmds[i]);
    }
}

void
cmd_command_count(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    resp_add_int(&c->out, (int64_t)NCMDS);
}

static bool
command_has_category(const struct command *cmd, const struct resp_arg *cat)
{
    const char *cats[8];
    int n = command_categories(cmd, cats);

    for (int i = 0; i < n; i++) {
        if (strlen(cats[i]) - 1 == cat->len && strncasecmp(cats[i] + 1, cat->p, cat->len) == 0) {
            return true;
        }
    }
    return false;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] */
void
cmd_command_list(struct client *c, int argc, const struct resp_arg *argv)
{
    enum { ALL, MODULE, ACLCAT, PATTERN } filter = ALL;
    size_t n = 0;

    if (argc == 5 && arg_is(&argv[2], "filterby")) {
        filter = arg_is(&argv[3], "module") ? MODULE : arg_is(&argv[3], "aclcat") ? ACLCAT
               : arg_is(&argv[3], "pattern") ? PATTERN : ALL;
    }
    if ((argc != 2 && filter == ALL) || (argc == 2 && filter != ALL)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    /* Every command and subcommand ("config|get"), as Redis lists them. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            resp_add_array(&c->out, n);
        }
        for (size_t i = 0; i < NCMDS + NSUBS; i++) {
            const struct command *cmd = i < NCMDS ? &cmds[i] : &subcmds[i - NCMDS];
            bool want = filter == ALL ||
                        (filter == ACLCAT && command_has_category(cmd, &argv[4])) ||
                        (filter == PATTERN && glob_match(argv[4].p, argv[4].len, cmd->name,
                                                         strlen(cmd->name), true));
            if (!want) {
                continue;
            }
            if (pass == 0) {
                n++;
            } else {
                resp_add_bulk_cstr(&c->out, cmd->name);
            }
        }
    }
}

void
cmd_command_info(struct client *c, int argc, const struct resp_arg *argv)
{
    if (argc == 2) {
        cmd_command(c, 1, argv);
        return;
    }
    resp_add_array(&c->out, (size_t)(argc - 2));
    for (int i = 2; i < argc; i++) {
        const struct command *cmd = commands_lookup(argv[i].p, argv[i].len);
        if (cmd == NULL) {
            resp_add_null(&c->out, c->proto);
        } else {
            write_command_info(c, cmd);
        }
    }
}

void
cmd_command_docs(struct client *c, int argc, const struct resp_arg *argv)
{
    if (argc == 2) {
        resp_add_map(&c->out, c->proto, NCMDS);
        for (size_t i = 0; i < NCMDS; i++) {
            resp_add_bulk_cstr(&c->out, cmds[i].name);
            write_command_docs(c, &cmds[i]);
        }
        return;
    }
    size_t found = 0;
    for (int i = 2; i < argc; i++) {
        found += commands_lookup(argv[i].p, argv[i].len) != NULL;
    }
    resp_add_map(&c->out, c->proto, found);
    for (int i = 2; i < argc; i++) {
        const struct command *cmd = commands_lookup(argv[i].p, argv[i].len);
        if (cmd != NULL) {
            resp_add_bulk_cstr(&c->out, cmd->name);
            write_command_docs(c, cmd);
        }
    }
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS cmd args...: the keys by the table's
 * positions; with flags, Redis's key-spec access flags in their common form. */
void
cmd_command_getkeys(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct command *cmd = commands_lookup(argv[2].p, argv[2].len);
    bool with_flags = arg_is(&argv[1], "getkeysandflags");
    int n = argc - 2, last, nkeys = 0;

    if (cmd != NULL && (cmd->flags & CMD_CONTAINER) && n >= 2) {
        cmd = lookup_sub(cmd, &argv[3]);
    }
    if (cmd == NULL) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    if (cmd->first_key <= 0) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != n) || n < -cmd->arity) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    last = cmd->last_key < 0 ? n + cmd->last_key : cmd->last_key;
    for (int i = cmd->first_key; i <= last && i < n; i += cmd->step) {
        nkeys++;
    }
    resp_add_array(&c->out, (size_t)nkeys);
    for (int i = cmd->first_key; i <= last && i < n; i += cmd->step) {
        if (!with_flags) {
            resp_add_bulk(&c->out, argv[2 + i].p, argv[2 + i].len);
            continue;
        }
        resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, argv[2 + i].p, argv[2 + i].len);
        if (cmd->flags & CMD_WRITE) {
            resp_add_set(&c->out, c->proto, 3);
            resp_add_status(&c->out, "RW", 2);
            resp_add_status(&c->out, "access", 6);
            resp_add_status(&c->out, "update", 6);
        } else {
            resp_add_set(&c->out, c->proto, 2);
            resp_add_status(&c->out, "RO", 2);
            resp_add_status(&c->out, "access", 6);
        }
    }
}

/* <CONTAINER> HELP: the subcommands with their hints, as Redis lists them. */
void
cmd_help(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct command *parent = commands_lookup(argv[0].p, argv[0].len);
    char line[512], up[32];
    size_t i;

    (void)argc;
    if (strcmp(parent->name, "cluster") == 0 && !cluster_enabled()) {
        reply_error(c, "ERR This instance has cluster support disabled");
        return;
    }
    for (i = 0; parent->name[i] != '\0' && i < sizeof up - 1; i++) {
        up[i] = (char)toupper((unsigned char)parent->name[i]);
    }
    up[i] = '\0';
    resp_add_array(&c->out, (size_t)parent->nsubs * 2 + 1);
    snprintf(line, sizeof line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", up);
    resp_add_status(&c->out, line, strlen(line));
    for (int s = 0; s < parent->nsubs; s++) {
        const struct command *sub = parent->subs[s];
        const char *bar = strchr(sub->name, '|') + 1;
        char subup[32];

        for (i = 0; bar[i] != '\0' && i < sizeof subup - 1; i++) {
            subup[i] = (char)toupper((unsigned char)bar[i]);
        }
        subup[i] = '\0';
        snprintf(line, sizeof line, "%s%s%s", subup, sub->hint[0] ? " " : "", sub->hint);
        resp_add_status(&c->out, line, strlen(line));
        snprintf(line, sizeof line, "    %s", sub->summary);
        resp_add_status(&c->out, line, strlen(line));
    }
}
