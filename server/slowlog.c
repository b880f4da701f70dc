/*
 * server/slowlog.c — SLOWLOG: the last slowlog-max-len commands that took at
 * least slowlog-log-slower-than microseconds, kept as Redis keeps them
 * (at most 32 arguments of at most 128 bytes each). One mutex: entries are
 * added only for slow commands, so it is off the hot path.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/config.h"

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

struct slow_entry {
    struct slow_entry *next; /* newer to older */
    uint64_t id;
    int64_t time_s, duration_us;
    int argc;
    char **argv;
    size_t *arglen;
    char addr[64], name[64];
};

static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slow_entry *slow_head;
static size_t slow_len;
static uint64_t slow_next_id;

static void
entry_free(struct slow_entry *e)
{
    for (int i = 0; i < e->argc; i++) {
        free(e->argv[i]);
    }
    free(e->argv);
    free(e->arglen);
    free(e);
}

/* Drop entries past max (caller holds the lock). */
static void
trim(size_t max)
{
    struct slow_entry **pp = &slow_head;
    size_t n = 0;

    while (*pp != NULL && n < max) {
        pp = &(*pp)->next;
        n++;
    }
    while (*pp != NULL) {
        struct slow_entry *e = *pp;
        *pp = e->next;
        entry_free(e);
        slow_len--;
    }
}

void
slowlog_add(struct client *c, int argc, const struct resp_arg *argv, int64_t duration_us)
{
    long long max = config_num(OPT_SLOWLOG_MAX_LEN);
    struct slow_entry *e;
    int n = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;

    if (max <= 0) {
        return;
    }
    e = calloc(1, sizeof *e);
    e->argc = n;
    e->argv = calloc((size_t)n, sizeof *e->argv);
    e->arglen = calloc((size_t)n, sizeof *e->arglen);
    for (int i = 0; i < n; i++) {
        char buf[SLOWLOG_MAX_ARGLEN + 64];
        size_t len;

        if (n < argc && i == n - 1) {
            len = (size_t)snprintf(buf, sizeof buf, "... (%d more arguments)", argc - n + 1);
        } else if (argv[i].len > SLOWLOG_MAX_ARGLEN) {
            memcpy(buf, argv[i].p, SLOWLOG_MAX_ARGLEN);
            len = SLOWLOG_MAX_ARGLEN + (size_t)snprintf(buf + SLOWLOG_MAX_ARGLEN, 64,
                                                        "... (%zu more bytes)",
                                                        argv[i].len - SLOWLOG_MAX_ARGLEN);
        } else {
            memcpy(buf, argv[i].p, argv[i].len);
            len = argv[i].len;
        }
        e->argv[i] = malloc(len + 1);
        memcpy(e->argv[i], buf, len);
        e->arglen[i] = len;
    }
    e->time_s = c->now_ms / 1000;
    e->duration_us = duration_us;
    snprintf(e->addr, sizeof e->addr, "%s", c->addr);
    pthread_mutex_lock(&server.clients_lock);
    snprintf(e->name, sizeof e->name, "%s", c->name ? c->name : "");
    pthread_mutex_unlock(&server.clients_lock);
    pthread_mutex_lock(&slow_lock);
    e->id = slow_next_id++;
    e->next = slow_head;
    slow_head = e;
    slow_len++;
    trim((size_t)max);
    pthread_mutex_unlock(&slow_lock);
}

void
slowlog_teardown(void)
{
    pthread_mutex_lock(&slow_lock);
    trim(0);
    pthread_mutex_unlock(&slow_lock);
}

void
cmd_slowlog_get(struct client *c, int argc, const struct resp_arg *argv)
{
    long long count = 10;
    size_t n = 0;

    if (argc == 3) {
        if (!arg_ll(&argv[2], &count) || count < -1) {
            reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
    } else if (argc > 3) {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                     "Try SLOWLOG HELP.", (int)argv[1].len, argv[1].p);
        return;
    }
    pthread_mutex_lock(&slow_lock);
    if (count == -1 || (unsigned long long)count > slow_len) {
        count = (long long)slow_len;
    }
    resp_add_array(&c->out, (size_t)count);
    for (struct slow_entry *e = slow_head; e != NULL && n < (size_t)count; e = e->next, n++) {
        resp_add_array(&c->out, 6);
        resp_add_int(&c->out, (int64_t)e->id);
        resp_add_int(&c->out, e->time_s);
        resp_add_int(&c->out, e->duration_us);
        resp_add_array(&c->out, (size_t)e->argc);
        for (int i = 0; i < e->argc; i++) {
            resp_add_bulk(&c->out, e->argv[i], e->arglen[i]);
        }
        resp_add_bulk_cstr(&c->out, e->addr);
        resp_add_bulk_cstr(&c->out, e->name);
    }
    pthread_mutex_unlock(&slow_lock);
}

void
cmd_slowlog_len(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    pthread_mutex_lock(&slow_lock);
    resp_add_int(&c->out, (int64_t)slow_len);
    pthread_mutex_unlock(&slow_lock);
}

void
cmd_slowlog_reset(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    pthread_mutex_lock(&slow_lock);
    trim(0);
    pthread_mutex_unlock(&slow_lock);
    reply_ok(c);
}
