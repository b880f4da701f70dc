/*
 * server/cmd_server.c — CONFIG GET/SET/RESETSTAT, TIME and SHUTDOWN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/config.h"
#include "server/glob.h"
#include "server/log.h"
#include "storage/store.h"

static bool
is_glob(const struct resp_arg *a)
{
    return memchr(a->p, '*', a->len) || memchr(a->p, '?', a->len) || memchr(a->p, '[', a->len);
}

/* CONFIG GET: an exact name is echoed as the client spelled it, a pattern
 * matches our names (as Redis 7.0 does). */
void
cmd_config_get(struct client *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *as_given[OPT__COUNT] = { NULL };
    bool hit[OPT__COUNT] = { false };
    size_t n = 0;

    for (int i = 2; i < argc; i++) {
        if (!is_glob(&argv[i])) {
            int id = config_lookup(argv[i].p, argv[i].len);
            if (id >= 0 && !hit[id]) {
                hit[id] = true;
                as_given[id] = &argv[i];
                n++;
            }
            continue;
        }
        for (int id = 0; id < OPT__COUNT; id++) {
            const char *name = config_name((enum config_id)id);
            if (!hit[id] && glob_match(argv[i].p, argv[i].len, name, strlen(name), true)) {
                hit[id] = true;
                n++;
            }
        }
    }
    resp_add_map(&c->out, c->proto, n);
    for (int id = 0; id < OPT__COUNT; id++) {
        if (hit[id]) {
            if (as_given[id] != NULL) {
                resp_add_bulk(&c->out, as_given[id]->p, as_given[id]->len);
            } else {
                resp_add_bulk_cstr(&c->out, config_name((enum config_id)id));
            }
            /* whole: a STRING value (a secret) has no length limit */
            char *val = config_format_dup((enum config_id)id);

            resp_add_bulk_cstr(&c->out, val != NULL ? val : "");
            free(val);
        }
    }
}

/* CONFIG SET p v [p v ...]: all values are validated before any is applied,
 * so a bad pair leaves every option as it was. */
void
cmd_config_set(struct client *c, int argc, const struct resp_arg *argv)
{
    int ids[OPT__COUNT];
    int n = 0;
    char err[512], *old[OPT__COUNT] = { NULL };

    if (argc % 2 != 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        int id = config_lookup(argv[i].p, argv[i].len);

        if (id < 0 || n == OPT__COUNT) {
            reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)argv[i].len, argv[i].p);
            return;
        }
        for (int j = 0; j < n; j++) {
            if (ids[j] == id) {
                reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - "
                             "duplicate parameter", (int)argv[i].len, argv[i].p);
                return;
            }
        }
        ids[n++] = id;
    }
    /* Old values whole, so a failed SET puts a long secret back intact. */
    for (int j = 0; j < n; j++) {
        old[j] = config_format_dup((enum config_id)ids[j]);
        if (old[j] == NULL) {
            reply_error(c, ERR_INTERNAL);
            goto out;
        }
    }
    for (int j = 0; j < n; j++) {
        const struct resp_arg *v = &argv[3 + 2 * j];
        char *val = NULL;
        bool bad = memchr(v->p, '\0', v->len) != NULL || (val = strndup(v->p, v->len)) == NULL;

        if (bad || config_set((enum config_id)ids[j], val, true, err, sizeof err) < 0) {
            if (bad) {
                snprintf(err, sizeof err, "argument is not a valid value");
            }
            free(val);
            /* Put back what was already changed. */
            for (int k = 0; k < j; k++) {
                char ignored[64];
                config_set((enum config_id)ids[k], old[k], true, ignored, sizeof ignored);
            }
            reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                         (int)argv[2 + 2 * j].len, argv[2 + 2 * j].p, err);
            goto out;
        }
        free(val);
    }
    reply_ok(c);
out:
    for (int j = 0; j < n; j++) {
        free(old[j]);
    }
}

void
cmd_config_resetstat(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < server.nworkers; i++) {
#define X(name, desc) atomic_store(&server.workers[i].stats.name, 0);
        WORKER_STATS(X)
#undef X
    }
    atomic_store(&server.stat_rejected_connections, 0);
    store_reset_stats(server.store);
    commands_reset_stats();
    reply_ok(c);
}

void
cmd_time(struct client *c, int argc, const struct resp_arg *argv)
{
    struct timespec ts;

    (void)argc;
    (void)argv;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_add_array(&c->out, 2);
    resp_add_bulk_int(&c->out, (int64_t)ts.tv_sec);
    resp_add_bulk_int(&c->out, (int64_t)(ts.tv_nsec / 1000));
}

void
cmd_shutdown(struct client *c, int argc, const struct resp_arg *argv)
{
    bool abort_flag = false, other = false, save = false, nosave = false;

    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "abort")) {
            abort_flag = true;
        } else if (arg_is(&argv[i], "nosave") || arg_is(&argv[i], "save") ||
                   arg_is(&argv[i], "now") || arg_is(&argv[i], "force")) {
            other = true;
            save |= arg_is(&argv[i], "save");
            nosave |= arg_is(&argv[i], "nosave");
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if ((abort_flag && other) || (save && nosave)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (abort_flag) {
        reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    log_msg(LOG_WARNING, "User requested shutdown...");
    /* Redis sends no reply: the client sees the connection close. */
    client_close_after_reply(c);
    net_request_shutdown();
}
