/*
 * server/rebalance.h — slot moves: a member pulls the slots that placement
 * newly gives it from a member that held them (RC.SLOTSCAN over the
 * store's slot index), throttled, on the main thread. See rebalance.c.
 */
#ifndef SERVER_REBALANCE_H
#define SERVER_REBALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"

struct client;

/* Main thread: after the store is created (it notes whether the store
 * starts empty); at cluster teardown, before the links and views go; every
 * replication tick. */
void rebalance_setup(bool rejoining);
void rebalance_teardown(void);
void rebalance_main_tick(int64_t now);
/* The source side of a move: RC.SLOTSCAN <slot> <cursor> (any worker). */
void rebalance_bus_slotscan(struct client *c, int argc, const struct resp_arg *argv);
/* Any thread: this member's copy of the slot may lack acknowledged writes,
 * so a quorum read must not count it as an answer: a view newly gave it the
 * slot and its pull is pending, or it rejoined its cluster (nodes.conf
 * listed other members) with an empty store (a restart lost its memory)
 * and has not pulled the slot back. A brand-new cluster's members start
 * empty too, but nothing was acknowledged before them: not gated, or every
 * read would fail until the formation's pulls end. */
bool rebalance_slot_incomplete(uint16_t slot);
/* INFO replication's rebalance_* fields. */
void rebalance_info(struct resp_buf *b);

#endif
