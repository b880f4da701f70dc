/*
 * server/cmd_cluster.c — connection commands of the replicated cluster:
 * CONSISTENCY (this connection's R and W), WAIT, READONLY and READWRITE.
 */
#include <stdio.h>
#include <string.h>

#include "server/cluster.h"
#include "server/commands.h"
#include "server/replicate.h"
#include "server/view.h"

static void
reply_levels(struct client *c)
{
    struct repl_levels lv;

    repl_levels(c, cluster_enabled() ? view_get() : NULL, &lv);
    if (!cluster_enabled()) {
        lv.n = lv.r = lv.w = 1;
    }
    resp_add_map(&c->out, c->proto, 3);
    resp_add_bulk_cstr(&c->out, "replicas");
    resp_add_int(&c->out, lv.n);
    resp_add_bulk_cstr(&c->out, "read-quorum");
    resp_add_int(&c->out, lv.r);
    resp_add_bulk_cstr(&c->out, "write-quorum");
    resp_add_int(&c->out, lv.w);
}

/* CONSISTENCY [ONE | QUORUM | ALL | DEFAULT | <R> <W>]: Cassandra's levels
 * for this connection; the reply is what they mean now (capped at N). */
void
cmd_consistency(struct client *c, int argc, const struct resp_arg *argv)
{
    long long r, w;

    if (argc == 2) {
        if (arg_is(&argv[1], "one")) {
            c->cons_kind = CONS_ONE;
        } else if (arg_is(&argv[1], "quorum")) {
            c->cons_kind = CONS_QUORUM;
        } else if (arg_is(&argv[1], "all")) {
            c->cons_kind = CONS_ALL;
        } else if (arg_is(&argv[1], "default")) {
            c->cons_kind = CONS_DEFAULT;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    } else if (argc == 3) {
        if (!arg_ll(&argv[1], &r) || !arg_ll(&argv[2], &w) || r < 1 || w < 1 ||
            r > RING_MAX_REPLICAS || w > RING_MAX_REPLICAS) {
            reply_error(c, "ERR read and write quorums must be integers from 1 to 5");
            return;
        }
        c->cons_kind = CONS_EXPLICIT;
        c->cons_r = (uint8_t)r;
        c->cons_w = (uint8_t)w;
    } else if (argc != 1) {
        reply_errorf(c, ERR_ARITY_FMT, "consistency");
        return;
    }
    reply_levels(c);
}

void
cmd_wait(struct client *c, int argc, const struct resp_arg *argv)
{
    long long num, timeout;

    (void)argc;
    if (!arg_ll_or_reply(c, &argv[1], &num, NULL) ||
        !arg_ll_or_reply(c, &argv[2], &timeout, "ERR timeout is not an integer or out of range")) {
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    if (!cluster_enabled()) {
        resp_add_int(&c->out, 0);
        return;
    }
    repl_wait(c, num);
}

static void
set_readonly(struct client *c, bool on)
{
    if (!cluster_enabled()) {
        reply_error(c, "ERR This instance has cluster support disabled");
        return;
    }
    c->readonly = on;
    reply_ok(c);
}

void
cmd_readonly(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    set_readonly(c, true);
}

void
cmd_readwrite(struct client *c, int argc, const struct resp_arg *argv)
{
    (void)argc;
    (void)argv;
    set_readonly(c, false);
}
