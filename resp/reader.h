/*
 * resp/reader.h — incremental parser for client requests in RESP (multibulk)
 * and inline form, as Redis 7 reads them.
 *
 * Knows nothing of sockets, commands or the store: it turns bytes into an
 * argument vector, or says it needs more bytes, or names the protocol error.
 * The reader keeps its progress between calls, so a request that arrives a
 * byte at a time is scanned once, not once per byte.
 */
#ifndef RESP_READER_H
#define RESP_READER_H

#include <stddef.h>
#include <stdint.h>

enum resp_status {
    RESP_OK = 0,
    RESP_AGAIN = -1,   /* incomplete: call again with more bytes */
    RESP_EPROTO = -2,  /* malformed: reply resp_reader_error() and close */
    RESP_ETOOBIG = -3, /* a limit was exceeded: same handling as EPROTO */
};

const char *resp_strerror(enum resp_status st);

/* Limits, with Redis's defaults in RESP_LIMITS_DEFAULT. */
struct resp_limits {
    uint64_t max_bulk_len;     /* proto-max-bulk-len: 512 MiB */
    uint32_t max_multibulk;    /* elements in one request: 1024 * 1024 */
    uint32_t max_inline;       /* inline request or count line: 64 KiB */
    /* A client that has not authenticated may announce at most 10 elements
     * and 16 KiB per element, as in Redis 7.0: a stranger cannot make the
     * server buffer a gigabyte before AUTH. */
    int unauthenticated;
};
#define RESP_LIMITS_DEFAULT { 512ULL * 1024 * 1024, 1024 * 1024, 64 * 1024, 0 }
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK_LEN 16384

struct resp_arg {
    const char *p;
    size_t len;
};

/* One parsed request. argv borrows from the buffer given to
 * resp_reader_next (see there); the array itself is owned by the reader and
 * reused by its next call. argc == 0 means an empty request (a blank inline
 * line or "*0\r\n"): consume the bytes and send no reply. */
struct resp_req {
    int argc;
    struct resp_arg *argv;
};

struct resp_reader; /* opaque */

struct resp_reader *resp_reader_create(const struct resp_limits *lim);
void resp_reader_destroy(struct resp_reader **rd); /* sets *rd = NULL */

/* Replace the limits; they apply from the next header the reader parses. */
void resp_reader_set_limits(struct resp_reader *rd, const struct resp_limits *lim);

/* Drop any partial progress (the caller discarded its buffer). */
void resp_reader_reset(struct resp_reader *rd);

/* Parse one request from buf[0..len). buf must start where the previous
 * RESP_OK left off (the caller discards consumed bytes or advances buf); on
 * RESP_AGAIN call again with the same bytes plus more, possibly moved to
 * another address.
 *
 * RESP_OK: *used bytes were consumed; req->argv[] points into buf and stays
 *   valid until the caller discards or moves those bytes, or calls again.
 * RESP_AGAIN: nothing was consumed. *hint, when not NULL, is how many bytes
 *   the whole request is known to need so far (0 if unknown), so the caller
 *   can size its buffer once for a large bulk argument.
 * RESP_EPROTO, RESP_ETOOBIG: resp_reader_error() has Redis's text, such as
 *   "Protocol error: invalid bulk length". The reader must be reset. */
enum resp_status resp_reader_next(struct resp_reader *rd, const char *buf,
                                  size_t len, struct resp_req *req,
                                  size_t *used, size_t *hint);

/* The message of the last error, without "-ERR " and CRLF. */
const char *resp_reader_error(const struct resp_reader *rd);

/* True when the request in progress (or the last one parsed) was inline:
 * Redis answers protocol errors the same way for both, but some callers
 * (e.g. the memcached port) care. */
int resp_reader_was_inline(const struct resp_reader *rd);

/* Split a line into arguments the way redis-cli and Redis's inline parser do
 * (sdssplitargs): spaces separate, "..." supports \n \r \t \b \a \\ \" \xHH,
 * '...' supports \'. Writes unescaped bytes to out (at least len bytes) and
 * up to max_args slices into args. Returns the argument count, -1 on
 * unbalanced quotes, -2 when there are more than max_args. */
int resp_split_args(const char *line, size_t len, char *out,
                    struct resp_arg *args, int max_args);

#endif
