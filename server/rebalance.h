/*
 * server/rebalance.h — slot moves: a member pulls the slots that placement
 * newly gives it from a member that held them (RC.SLOTSCAN over the
 * store's slot index), throttled, on the main thread. See rebalance.c.
 */
#ifndef SERVER_REBALANCE_H
#define SERVER_REBALANCE_H

#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"

struct client;

/* Main thread: after the store is created (it notes whether the store
 * starts empty); at cluster teardown, before the links and views go; every
 * replication tick. */
void rebalance_setup(void);
void rebalance_teardown(void);
void rebalance_main_tick(int64_t now);
/* The source side of a move: RC.SLOTSCAN <slot> <cursor> (any worker). */
void rebalance_bus_slotscan(struct client *c, int argc, const struct resp_arg *argv);
/* INFO replication's rebalance_* fields. */
void rebalance_info(struct resp_buf *b);

#endif
