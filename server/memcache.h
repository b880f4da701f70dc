/*
 * server/memcache.h — the memcached port: memcached's text protocol over
 * the same workers, store and cluster as RESP. A request is parsed by
 * resp/mcreader.c, becomes one hidden command per key (cmd_memcache.c),
 * runs through commands_dispatch (so it is routed, forwarded and
 * replicated as any RESP command) and its reply, a bulk string of
 * memcached text, is unwrapped into the connection's output in request
 * order.
 */
#ifndef SERVER_MEMCACHE_H
#define SERVER_MEMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"

struct client;

/* Counters `stats` shows, named as memcached names them. */
#define MEMCACHE_STATS(X)                                                      \
    X(MCS_CMD_GET, "cmd_get")                                                  \
    X(MCS_CMD_SET, "cmd_set")                                                  \
    X(MCS_CMD_FLUSH, "cmd_flush")                                              \
    X(MCS_CMD_TOUCH, "cmd_touch")                                              \
    X(MCS_GET_HITS, "get_hits")                                                \
    X(MCS_GET_MISSES, "get_misses")                                            \
    X(MCS_DELETE_MISSES, "delete_misses")                                      \
    X(MCS_DELETE_HITS, "delete_hits")                                          \
    X(MCS_INCR_MISSES, "incr_misses")                                          \
    X(MCS_INCR_HITS, "incr_hits")                                              \
    X(MCS_DECR_MISSES, "decr_misses")                                          \
    X(MCS_DECR_HITS, "decr_hits")                                              \
    X(MCS_CAS_MISSES, "cas_misses")                                            \
    X(MCS_CAS_HITS, "cas_hits")                                                \
    X(MCS_CAS_BADVAL, "cas_badval")                                            \
    X(MCS_TOUCH_HITS, "touch_hits")                                            \
    X(MCS_TOUCH_MISSES, "touch_misses")                                        \
    X(MCS_AUTH_CMDS, "auth_cmds")                                              \
    X(MCS_AUTH_ERRORS, "auth_errors")

enum memcache_stat {
#define X(id, name) id,
    MEMCACHE_STATS(X)
#undef X
    MCS_COUNT
};

void memcache_count(enum memcache_stat s, uint64_t n);

/* Main thread, after net_setup's RESP listeners: the memcached listeners
 * (memcached-port, memcached-bind), and versions in the store so items
 * have CAS values. -1 when a listener cannot be opened. */
int memcache_setup(void);
bool memcache_enabled(void);
/* Main thread, ten times a second: a delayed flush_all that is due. */
void memcache_tick(int64_t now_ms);
/* Flush every key now (0) or at that time (ms). */
void memcache_flush_at(int64_t when_ms);

/* memcached's exptime as absolute ms: 0 never; negative, or an absolute
 * time already past, expired at once (1 ms after the epoch); up to 30
 * days relative; beyond, a Unix time. */
int64_t memcache_expire_ms(int32_t exptime, int64_t now);

/* A new memcached connection's state, and its end. */
void memcache_client_init(struct client *c);
/* Before a connection's input runs: item-size-max as it is now. */
void memcache_client_sync_limits(struct client *c);
void memcache_client_deinit(struct client *c);
/* Run the next request in buf[0..len): RESP_OK (ran; *used consumed),
 * RESP_AGAIN (need more; consume *used first), RESP_EPROTO (close, no
 * reply). */
enum resp_status memcache_run_next(struct client *c, const char *buf, size_t len, size_t *used);
/* A reply slot's RESP reply, from `from` on, as memcached text in place. */
void memcache_unwrap(struct resp_buf *b, size_t from);

#endif
