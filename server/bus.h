/*
 * server/bus.h — persistent, pipelined links from one event loop to a
 * peer's cluster bus port.
 *
 * A link is owned by one loop (a worker, or the main thread for gossip) and
 * used only from it. Requests are RESP arrays; each has a deadline and a
 * callback that receives the peer's raw reply, or NULL when the link failed
 * or the deadline passed. A link that fails is closed, every request it held
 * is failed, and it reconnects on the next request after a backoff (doubling
 * from 50 ms to 2 s); requests made during the backoff fail at once, so a
 * client waiting on a dead peer gets an error instead of a hang.
 */
#ifndef SERVER_BUS_H
#define SERVER_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/reader.h"

struct event_base;
struct bus_link;

/* reply borrows the link's buffer for the call only; NULL means failure:
 * then len is BUS_UNSENT when the request never left this member (the
 * connection never opened), else 0 (it may have reached the peer and run
 * there). */
#define BUS_UNSENT 1
typedef void bus_reply_fn(void *ctx, const char *reply, size_t len);

struct bus_link *bus_link_create(struct event_base *base, const char *addr,
                                 uint16_t port);
/* The request sent first on every new connection from now on (e.g. RC.AUTH
 * <secret>); its reply is ignored. argc 0 for none. The link keeps its own
 * copy; a connection already open keeps the hello it began with. */
void bus_link_set_hello(struct bus_link *l, int argc, const struct resp_arg *argv);
/* Fails every pending request (their callbacks run), closes, sets *l = NULL. */
void bus_link_destroy(struct bus_link **l);

/* Queue argv as one request. fn may be NULL to ignore the reply. Returns
 * false, having called nothing, when the link is in backoff or already
 * holds 100,000 requests or 64 MiB not yet written to the peer. */
bool bus_link_send(struct bus_link *l, int argc, const struct resp_arg *argv,
                   int64_t deadline_ms, bus_reply_fn *fn, void *ctx);

/* Fail the link if its oldest request is past its deadline. */
void bus_link_expire(struct bus_link *l, int64_t now_ms);

bool bus_link_matches(const struct bus_link *l, const char *addr, uint16_t port);
size_t bus_link_pending(const struct bus_link *l);

#endif
