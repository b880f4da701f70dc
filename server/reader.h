/*
 * server/reader.h — disk reads off the workers' loops (disk tier only).
 *
 * A command that needs the value of a cold key (one whose only copy is in a
 * block on disk) is not run at once: its reply slot is reserved, the
 * client's later requests wait behind it, and reader threads read the
 * blocks into the page cache. The worker then runs the command (its reads
 * now hit the cache) with the reply going into the slot. Other clients of
 * the worker never wait for the device.
 */
#ifndef SERVER_READER_H
#define SERVER_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "resp/reader.h"

struct client;
struct command;
struct worker;

/* Start the reader threads (only with the disk tier on). */
int reader_start(void);
/* Stop and join them; queued reads are dropped (shutdown). */
void reader_stop(void);
/* True when the pool runs: commands_dispatch asks reader_defer only then. */
extern bool reader_on;
/* Worker thread, at dispatch: if a key of cmd is cold, queue its reads,
 * reserve the reply slot and return true (the command runs later). False:
 * run it now (nothing cold, or the queue was full: counted). */
bool reader_defer(struct client *c, const struct command *cmd, int argc,
                  const struct resp_arg *argv);
/* Worker: create/free its completion event (tier on only). */
void reader_worker_setup(struct worker *w);
void reader_worker_teardown(struct worker *w);

struct reader_stats {
    uint64_t async_cmds;      /* commands that waited for reader threads */
    uint64_t async_reads;     /* blocks read by reader threads */
    uint64_t fallbacks;       /* queue full: read on the worker instead */
    uint64_t wait_us_total;   /* submit to completion, summed */
};
void reader_stats(struct reader_stats *out);

#endif
