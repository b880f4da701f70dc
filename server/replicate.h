/*
 * server/replicate.h — replication's I/O: carries out what the coordinator
 * (cluster/coord.h) decides for commands whose keys this member
 * coordinates, answers the replica side of the bus, keeps and replays hints.
 *
 * Bus commands (see cluster.c for the framing and authentication):
 *   RC.CALL <proto> <R> <W> <deadline-ms> <cmd> <args>
 *                                          coordinate a command here with
 *                                          these quorums, unless the deadline
 *                                          (Unix ms) has passed; reply as a
 *                                          client
 *   RC.PUT <key> <ver> <parent> <exp> [<value>]
 *                                          install this copy if newer (no
 *                                          value: a tombstone); :<version held>
 *   RC.GET <key> <ver>                     *1 :<version held> when it is not
 *                                          newer than ver, else
 *                                          *3 :<version> :<exp> <value|nil>
 *   RC.HINT <owner> <key> <ver> <parent> <exp> [<value>]
 *                                          keep this copy for owner; +OK
 *   RC.SLOTSCAN <slot> <cursor>            a page of the slot's entries
 *                                          (rebalance.c): *<1+4k> :<next
 *                                          cursor> then k times <key>
 *                                          :<ver> :<exp> <value|nil>
 *
 * Threads: coordinations run on the worker of the client that asked and
 * use that worker's links; hints are appended from any worker (the log
 * locks) and replayed by the main thread.
 */
#ifndef SERVER_REPLICATE_H
#define SERVER_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"
#include "server/bus.h"

struct client;
struct command;
struct view;
struct worker;

struct repl_levels {
    unsigned n, r, w;
};

/* N for this view (replicas capped at the ring's members), and this
 * connection's effective R and W (CONSISTENCY, else the config). */
void repl_levels(const struct client *c, const struct view *v, struct repl_levels *out);
/* The same for a connection's CONSISTENCY setting (kind, R, W). */
void repl_levels_for(unsigned kind, unsigned cons_r, unsigned cons_w, const struct view *v,
                     struct repl_levels *out);

/* Main thread, at cluster setup / teardown. */
int repl_setup(const char *member_id, bool rejoining);
void repl_teardown(void);
/* Main thread, every tick: replay hints to members that are up. */
void repl_main_tick(int64_t now);
/* FLUSHALL at `now`: the store's version floor, the member's clock moved past it. */
uint64_t repl_flush_floor(int64_t now);
void repl_worker_cron(int64_t now); /* worker threads, every cron tick */

/* The member that coordinates the command's keys (all in one slot's
 * preference list): for writes and read-modify-writes the first member up
 * in the list; for reads this member when it is a replica. -1 when no
 * replica is up. */
int repl_coordinator(const struct view *v, uint16_t slot, bool write, unsigned n);

/* True when member m is among the first n of every key's list. */
bool repl_replicates_all(const struct view *v, int m, unsigned n, const struct command *cmd,
                         int argc, const struct resp_arg *argv);

/* Coordinate cmd (its keys all coordinated by this member, or forwarded
 * here) with quorums r and w; fn gets the reply (the command's own, or a
 * NOREPLICAS error) exactly once, on this worker. c runs the command and is
 * kept alive (c->waiting) until fn has run. */
void repl_call(struct client *c, const struct command *cmd, int argc, const struct resp_arg *argv,
               unsigned r, unsigned w, bus_reply_fn *fn, void *ctx);

/* Send cmd to be coordinated by member `to`, falling over to the next member
 * up in the slot's list at once when the link fails (and running it here
 * when that is us). */
void repl_forward(struct client *c, struct view *v, int to, uint16_t slot,
                  const struct command *cmd, int argc, const struct resp_arg *argv,
                  unsigned r, unsigned w, bus_reply_fn *fn, void *ctx);

/* Bus handlers (argv[0] is the RC.* name). */
void repl_bus_call(struct client *c, int argc, const struct resp_arg *argv);
void repl_bus_put(struct client *c, int argc, const struct resp_arg *argv);
void repl_bus_get(struct client *c, int argc, const struct resp_arg *argv);
void repl_bus_hint(struct client *c, int argc, const struct resp_arg *argv);
/* A bus reply's element: the integer of ":<n>\r\n"; the body of a bulk
 * string (false for a null or another type). */
bool repl_reply_ll(const struct resp_arg *el, long long *out);
bool repl_reply_bulk(const struct resp_arg *el, struct resp_arg *out);

/* KEYS, SCAN and DBSIZE run on every member, and N members hold each key:
 * a member lists a key only when it is the first member up in the key's
 * list, so the cluster-wide listing names every key once. begin: false when
 * there is nothing to filter (no cluster, or N = 1); otherwise it pins the
 * view it holds (a walk can run long) until end, which may be called
 * either way. */
struct repl_listing {
    struct view *v;
    unsigned n;
};
bool repl_listing_begin(struct repl_listing *l);
bool repl_listing_has(const struct repl_listing *l, const char *key, size_t klen);
void repl_listing_end(struct repl_listing *l);

/* WAIT numreplicas: the replicas that hold this connection's last write. */
void repl_wait(struct client *c, long long numreplicas);

void repl_info(struct resp_buf *b);

#endif
