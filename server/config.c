/*
 * server/config.c — the option table of config.h: parsing, validation,
 * storage and formatting. It knows option types, not what options do: the
 * effects of a change are the apply callbacks other modules register.
 */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp/reader.h"

struct option {
    const char *name;
    enum opt_type type;
    const char *def;
    long long min, max;
    int flags;
    const char *enums; /* space-separated names for OPT_ENUM */
    _Atomic long long num;
    char *str;
};

static struct option opts[OPT__COUNT] = {
#define X(id, nm, ty, df, mn, mx, fl, en, desc) \
    [OPT_##id] = { .name = nm, .type = ty, .def = df, .min = mn, .max = mx, .flags = fl, .enums = en },
    SERVER_OPTIONS(X)
#undef X
};

static config_apply_fn appliers[OPT__COUNT];
static pthread_mutex_t str_lock = PTHREAD_MUTEX_INITIALIZER;

/* client-output-buffer-limit, by class: normal, slave (replica), pubsub. */
static const char *const cobl_classes[3] = { "normal", "slave", "pubsub" };
static struct {
    _Atomic unsigned long long hard, soft;
    _Atomic long long secs;
} cobl[3];

int
config_parse_bytes(const char *s, unsigned long long *out)
{
    static const struct {
        const char *suffix;
        unsigned long long mul;
    } units[] = {
        { "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1024 }, { "m", 1000000 },
        { "mb", 1024 * 1024 }, { "g", 1000000000ULL }, { "gb", 1024ULL * 1024 * 1024 },
    };
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0])) {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > ULLONG_MAX / units[i].mul) {
                return -1;
            }
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* Strict integer, as Redis's string2ll: no spaces, sign only '-'. */
static int
parse_ll(const char *s, long long *out)
{
    char *end;

    if (s[0] == '\0' || isspace((unsigned char)s[0]) || s[0] == '+') {
        return -1;
    }
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

static int
enum_index(const char *names, const char *v)
{
    size_t vlen = strlen(v);
    int i = 0;

    for (const char *p = names; *p != '\0'; i++) {
        size_t n = strcspn(p, " ");
        if (n == vlen && strncasecmp(p, v, n) == 0) {
            return i;
        }
        p += n;
        p += *p == ' ';
    }
    return -1;
}

static void
enum_name(const char *names, int idx, char *buf, size_t cap)
{
    const char *p = names;

    for (int i = 0; i < idx && *p != '\0'; i++) {
        p += strcspn(p, " ");
        p += *p == ' ';
    }
    snprintf(buf, cap, "%.*s", (int)strcspn(p, " "), p);
}

/* Parse "class hard soft seconds [class hard soft seconds ...]". */
static int
parse_cobl(const char *v, bool store, char *err, size_t errlen)
{
    struct resp_arg args[24];
    size_t len = strlen(v);
    char *tmp = malloc(len + 1);
    int argc = resp_split_args(v, len, tmp, args, 24);
    int rc = -1;

    if (argc <= 0 || argc % 4 != 0) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) { /* validate all, then store */
        for (int i = 0; i < argc; i += 4) {
            char f[4][64];
            unsigned long long hard, soft;
            long long secs;
            int cls = -1;

            for (int j = 0; j < 4; j++) {
                snprintf(f[j], sizeof f[j], "%.*s", (int)args[i + j].len, args[i + j].p);
            }
            for (int c = 0; c < 3; c++) {
                if (strcasecmp(f[0], cobl_classes[c]) == 0) {
                    cls = c;
                }
            }
            if (strcasecmp(f[0], "replica") == 0) {
                cls = 1;
            }
            if (cls < 0 || config_parse_bytes(f[1], &hard) < 0 ||
                config_parse_bytes(f[2], &soft) < 0 || parse_ll(f[3], &secs) < 0 ||
                secs < 0) {
                snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
                goto out;
            }
            if (pass == 1 && store) {
                atomic_store(&cobl[cls].hard, hard);
                atomic_store(&cobl[cls].soft, soft);
                atomic_store(&cobl[cls].secs, secs);
            }
        }
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

static int
validate_special(enum config_id id, const char *v, long long num, char *err,
                 size_t errlen)
{
    switch (id) {
    case OPT_STORE_SHARDS:
        if ((num & (num - 1)) != 0) {
            snprintf(err, errlen, "argument must be a power of two");
            return -1;
        }
        return 0;
    case OPT_SAVE:
        if (v[0] != '\0') {
            snprintf(err, errlen, "ringcache does not write RDB snapshots: only save \"\" is accepted");
            return -1;
        }
        return 0;
    case OPT_APPENDONLY:
        if (num != 0) {
            snprintf(err, errlen, "ringcache does not write an AOF: only appendonly no is accepted");
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int
config_set(enum config_id id, const char *value, bool runtime, char *err,
           size_t errlen)
{
    struct option *o = &opts[id];
    long long num = 0;
    unsigned long long bytes;

    if (runtime && !(o->flags & OPT_MUTABLE)) {
        snprintf(err, errlen, (o->flags & OPT_PROTECTED) ? "can't set protected config"
                                                         : "can't set immutable config");
        return -1;
    }
    switch (o->type) {
    case OPT_BOOL:
        if (strcasecmp(value, "yes") == 0) {
            num = 1;
        } else if (strcasecmp(value, "no") != 0) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        break;
    case OPT_INT:
        if (parse_ll(value, &num) < 0) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (num < o->min || num > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive",
                     o->min, o->max);
            return -1;
        }
        break;
    case OPT_BYTES:
        /* Redis reads an empty memory value as 0. */
        if (value[0] == '\0') {
            bytes = 0;
        } else if (config_parse_bytes(value, &bytes) < 0 || bytes > LLONG_MAX) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        num = (long long)bytes;
        if (num < o->min || num > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive",
                     o->min, o->max);
            return -1;
        }
        break;
    case OPT_ENUM:
        num = enum_index(o->enums, value);
        if (num < 0) {
            char names[256];
            snprintf(names, sizeof names, "%s", o->enums);
            for (char *p = names; (p = strchr(p, ' ')) != NULL;) {
                memmove(p + 1, p, strlen(p) + 1);
                p[0] = ',';
                p += 2;
            }
            snprintf(err, errlen, "argument(s) must be one of the following: %s", names);
            return -1;
        }
        break;
    case OPT_COBL:
        if (parse_cobl(value, false, err, errlen) < 0) {
            return -1;
        }
        break;
    case OPT_STRING:
        break;
    }
    if (validate_special(id, value, num, err, errlen) < 0) {
        return -1;
    }
    if (o->type == OPT_STRING) {
        char *copy = strdup(value), *old;

        if (copy == NULL) {
            /* never NULL: that would read as "" and turn requirepass off */
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        pthread_mutex_lock(&str_lock);
        old = o->str;
        o->str = copy;
        pthread_mutex_unlock(&str_lock);
        free(old);
    } else if (o->type == OPT_COBL) {
        parse_cobl(value, true, err, errlen);
    } else {
        atomic_store(&o->num, num);
    }
    if (appliers[id] != NULL) {
        appliers[id](id);
    }
    return 0;
}

void
config_setup(void)
{
    char err[256];

    for (int i = 0; i < OPT__COUNT; i++) {
        if (config_set((enum config_id)i, opts[i].def, false, err, sizeof err) < 0) {
            fprintf(stderr, "bad built-in default for %s: %s\n", opts[i].name, err);
            abort();
        }
    }
}

void
config_teardown(void)
{
    for (int i = 0; i < OPT__COUNT; i++) {
        free(opts[i].str);
        opts[i].str = NULL;
        appliers[i] = NULL;
    }
}

void
config_on_change(enum config_id id, config_apply_fn fn)
{
    appliers[id] = fn;
}

int
config_lookup(const char *name, size_t len)
{
    for (int i = 0; i < OPT__COUNT; i++) {
        if (strlen(opts[i].name) == len && strncasecmp(opts[i].name, name, len) == 0) {
            return i;
        }
    }
    /* Redis's old names still work in config files and CONFIG SET. */
    if (len == 5 && strncasecmp(name, "hertz", 5) == 0) {
        return OPT_HZ;
    }
    return -1;
}

const char *
config_name(enum config_id id)
{
    return opts[id].name;
}

bool
config_mutable(enum config_id id)
{
    return (opts[id].flags & OPT_MUTABLE) != 0;
}

long long
config_num(enum config_id id)
{
    return atomic_load_explicit(&opts[id].num, memory_order_relaxed);
}

void
config_str(enum config_id id, char *buf, size_t cap)
{
    pthread_mutex_lock(&str_lock);
    snprintf(buf, cap, "%s", opts[id].str != NULL ? opts[id].str : "");
    pthread_mutex_unlock(&str_lock);
}

char *
config_str_dup(enum config_id id)
{
    char *copy;

    pthread_mutex_lock(&str_lock);
    copy = strdup(opts[id].str != NULL ? opts[id].str : "");
    pthread_mutex_unlock(&str_lock);
    return copy;
}

void
config_cobl_normal(unsigned long long *hard, unsigned long long *soft,
                   long long *seconds)
{
    *hard = atomic_load_explicit(&cobl[0].hard, memory_order_relaxed);
    *soft = atomic_load_explicit(&cobl[0].soft, memory_order_relaxed);
    *seconds = atomic_load_explicit(&cobl[0].secs, memory_order_relaxed);
}

void
config_format(enum config_id id, char *buf, size_t cap)
{
    const struct option *o = &opts[id];

    switch (o->type) {
    case OPT_BOOL:
        snprintf(buf, cap, "%s", config_num(id) ? "yes" : "no");
        break;
    case OPT_INT:
    case OPT_BYTES:
        snprintf(buf, cap, "%lld", config_num(id));
        break;
    case OPT_ENUM:
        enum_name(o->enums, (int)config_num(id), buf, cap);
        break;
    case OPT_COBL: {
        size_t n = 0;
        buf[0] = '\0';
        for (int c = 0; c < 3 && n < cap; c++) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%s %llu %llu %lld", c ? " " : "",
                                  cobl_classes[c], atomic_load(&cobl[c].hard),
                                  atomic_load(&cobl[c].soft), atomic_load(&cobl[c].secs));
        }
        break;
    }
    case OPT_STRING:
        config_str(id, buf, cap);
        break;
    }
}

char *
config_format_dup(enum config_id id)
{
    char buf[512];

    if (opts[id].type == OPT_STRING) {
        return config_str_dup(id);
    }
    config_format(id, buf, sizeof buf);
    return strdup(buf);
}

/* Apply one directive line, already split. */
static int
apply_line(struct resp_arg *args, int argc, char *reason, size_t rlen)
{
    int id, rc;
    char *value;
    size_t n = 0, total = 1;

    if (argc == 0) {
        return 0;
    }
    id = config_lookup(args[0].p, args[0].len);
    /* bind and client-output-buffer-limit take several words; the others one. */
    if (id < 0 || argc < 2 ||
        (argc > 2 && id != OPT_BIND && id != OPT_CLIENT_OUTPUT_BUFFER_LIMIT && id != OPT_SAVE)) {
        snprintf(reason, rlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        total += args[i].len + 1;
    }
    value = malloc(total);
    if (value == NULL) {
        snprintf(reason, rlen, "out of memory");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (i > 1) {
            value[n++] = ' ';
        }
        memcpy(value + n, args[i].p, args[i].len);
        n += args[i].len;
    }
    value[n] = '\0';
    if (memchr(value, '\0', n) != NULL) {
        snprintf(reason, rlen, "argument contains a NUL byte");
        rc = -1;
    } else {
        rc = config_set((enum config_id)id, value, false, reason, rlen);
    }
    free(value);
    return rc;
}

static int
load_line(const char *line, size_t len, const char *where, int lineno,
          char *err, size_t errlen)
{
    struct resp_arg args[64];
    char *tmp = malloc(len + 1);
    char reason[512];
    int argc = resp_split_args(line, len, tmp, args, 64);
    int rc = 0;

    if (argc == -1) {
        snprintf(reason, sizeof reason, "Unbalanced quotes in configuration line");
        rc = -1;
    } else if (argc == -2) {
        snprintf(reason, sizeof reason, "Too many arguments");
        rc = -1;
    } else if (argc > 0 && args[0].p[0] != '#') {
        rc = apply_line(args, argc, reason, sizeof reason);
    }
    if (rc < 0) {
        snprintf(err, errlen,
                 "\n*** FATAL CONFIG FILE ERROR (ringcache " PACKAGE_VERSION ") ***\n"
                 "Reading the configuration file %s, at line %d\n>>> '%.*s'\n%s",
                 where, lineno, (int)(len > 200 ? 200 : len), line, reason);
    }
    free(tmp);
    return rc;
}

int
config_load(const char *path, int argc, char **argv, char *err, size_t errlen)
{
    if (path != NULL) {
        FILE *f = fopen(path, "r");
        char *line = NULL, where[1100];
        size_t cap = 0;
        ssize_t n;
        int lineno = 0;

        if (f == NULL) {
            snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        snprintf(where, sizeof where, "'%.1024s'", path);
        while ((n = getline(&line, &cap, f)) >= 0) {
            lineno++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
                n--;
            }
            const char *p = line;
            while (n > 0 && isspace((unsigned char)*p)) {
                p++;
                n--;
            }
            if (n == 0 || p[0] == '#') {
                continue;
            }
            if (load_line(p, (size_t)n, where, lineno, err, errlen) < 0) {
                free(line);
                fclose(f);
                return -1;
            }
        }
        free(line);
        fclose(f);
    }
    /* Command line: "--name v1 v2 --other v" becomes one directive per "--",
     * as redis-server does; each argument is one word even with spaces. */
    for (int i = 0; i < argc;) {
        struct resp_arg args[64];
        int n = 0;
        char reason[512];

        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            snprintf(err, errlen, "Invalid argument '%s': options are --name value", argv[i]);
            return -1;
        }
        args[n++] = (struct resp_arg){ argv[i] + 2, strlen(argv[i] + 2) };
        for (i++; i < argc && strncmp(argv[i], "--", 2) != 0 && n < 64; i++) {
            args[n++] = (struct resp_arg){ argv[i], strlen(argv[i]) };
        }
        if (n == 1) {
            /* "--save" with no value means save "", like redis-server. */
            args[n++] = (struct resp_arg){ "", 0 };
        }
        if (apply_line(args, n, reason, sizeof reason) < 0) {
            snprintf(err, errlen,
                     "\n*** FATAL CONFIG FILE ERROR (ringcache " PACKAGE_VERSION ") ***\n"
                     "Reading the command line, option '--%.*s'\n%s",
                     (int)args[0].len, args[0].p, reason);
            return -1;
        }
    }
    return 0;
}
