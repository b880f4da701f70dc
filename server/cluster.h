/*
 * server/cluster.h — the server side of cluster mode: drives the sans-IO
 * membership state machine (cluster/membership.h) on the main thread over
 * the bus, publishes which member owns each slot (cluster/ring.h) to the
 * workers, and routes client commands: run locally, forward to the owner,
 * or scatter over owners and gather the replies.
 *
 * Threads: membership, gossip links and nodes.conf belong to the main
 * thread. Workers read an immutable view (members and slot owners) that the
 * main thread replaces on every membership change and frees only after a
 * grace period, so a worker never takes a lock to route. Each worker has
 * its own links to the other members for forwarded commands.
 */
#ifndef SERVER_CLUSTER_H
#define SERVER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"

struct client;
struct command;
struct worker;

bool cluster_enabled(void);
int cluster_setup(void);     /* main thread, after net_setup; -1 on error */
void cluster_teardown(void);

void cluster_worker_setup(struct worker *w);
void cluster_worker_teardown(struct worker *w);
void cluster_worker_cron(struct worker *w, int64_t now);

/* Main thread: a socket accepted on the bus port. */
void cluster_bus_accept_cb(int fd, short what, void *arg);

/* True when the command was forwarded or scattered: its reply will come
 * later (the client waits), or was already written. */
bool cluster_route(struct client *c, const struct command *cmd, int argc,
                   const struct resp_arg *argv);

/* True when the bus needs no secret (cluster-secret and requirepass empty). */
bool cluster_bus_open(void);

/* A request read on a bus connection (internal commands only). */
void cluster_bus_dispatch(struct client *c, int argc, const struct resp_arg *argv);

void cluster_info(struct resp_buf *b);
/* Bus messages sent and received by the main thread (CLUSTER INFO). */
void cluster_bus_stats(uint64_t *sent, uint64_t *received);
/* CLUSTER MEET / FORGET: queued for the main thread. */
void cluster_meet(const char *addr, uint16_t bus_port);
void cluster_forget(const char *id);
/* True when a slot command (COUNTKEYSINSLOT, GETKEYSINSLOT) was relayed to
 * the slot's owner; false when it runs here. */
bool cluster_route_slot(struct client *c, uint16_t slot, int argc, const struct resp_arg *argv);

struct view_member;
struct bus_link;
/* The worker's link to a member (for forwarding and replica traffic), or
 * NULL when no more links can be made. Worker threads. */
struct bus_link *cluster_worker_link(struct worker *w, const struct view_member *m);
/* The main thread's link to a member (gossip, hint replay). */
struct bus_link *cluster_main_link(const struct view_member *m);

#endif
