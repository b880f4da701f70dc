/*
 * resp/reply.h — finds the boundaries of RESP2/RESP3 *replies* in a byte
 * stream, without building them. The cluster bus relays a peer's reply to a
 * client byte for byte; it only needs to know where each reply ends and,
 * to gather a scattered MGET, where each element of an array reply is.
 *
 * Nesting is bounded (RESP_REPLY_MAX_DEPTH) and every length is checked
 * against the buffer, so a peer that lies cannot make us read out of bounds
 * or recurse without end.
 */
#ifndef RESP_REPLY_H
#define RESP_REPLY_H

#include <stddef.h>

#include "resp/reader.h"

#define RESP_REPLY_MAX_DEPTH 32

/* One complete reply at buf[0..len): RESP_OK with *used its length,
 * RESP_AGAIN if incomplete, RESP_EPROTO if malformed. */
enum resp_status resp_reply_scan(const char *buf, size_t len, size_t *used);

/* For a complete array, set or map reply in buf[0..len): the number of
 * top-level elements (for a map, keys and values both count) or -1 if the
 * reply is not an aggregate (or is a null array); with elems != NULL, the
 * first max elements' byte ranges are stored there. */
long resp_reply_elements(const char *buf, size_t len, struct resp_arg *elems,
                         size_t max);

#endif
