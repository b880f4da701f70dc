/*
 * resp/writer.h — reply encoding in RESP2 and RESP3, into a growable buffer.
 *
 * The buffer is a plain byte queue: writers append at the end, the network
 * code consumes from the front. Type-aware writers take the protocol version
 * and fall back to the RESP2 shape Redis uses (a map becomes a flat array, a
 * double a bulk string, a null a $-1 or *-1).
 *
 * Allocation failure aborts the process, as Redis's zmalloc does: a reply
 * that cannot be built has no useful error path (resp_buf_try_reserve is
 * the exception, for input a peer controls).
 */
#ifndef RESP_WRITER_H
#define RESP_WRITER_H

#include <stddef.h>
#include <stdint.h>

enum resp_proto { RESP2 = 2, RESP3 = 3 };

/* Pending bytes are data[pos..len). */
struct resp_buf {
    char *data;
    size_t pos, len, cap;
};

void resp_buf_init(struct resp_buf *b);   /* empty, no allocation */
void resp_buf_deinit(struct resp_buf *b); /* frees data */

static inline size_t
resp_buf_pending(const struct resp_buf *b)
{
    return b->len - b->pos;
}

/* Make room for at least `more` bytes after len; returns data + len. */
char *resp_buf_reserve(struct resp_buf *b, size_t more);
/* The same, but NULL instead of an abort when the memory cannot be had (the
 * pending bytes are kept): for buffers a peer makes grow, such as a query
 * buffer, where running out is the client's error, not the server's end. */
char *resp_buf_try_reserve(struct resp_buf *b, size_t more);
/* Drop n bytes from the front (n <= pending). Resets to empty when drained. */
void resp_buf_consume(struct resp_buf *b, size_t n);
/* Release memory above `keep` bytes of capacity when the buffer is empty. */
void resp_buf_shrink(struct resp_buf *b, size_t keep);

void resp_add_raw(struct resp_buf *b, const void *p, size_t len);
/* +s\r\n. CR and LF in s are replaced by spaces. */
void resp_add_status(struct resp_buf *b, const char *s, size_t len);
/* -msg\r\n; msg starts with its code ("ERR ...", "WRONGTYPE ...").
 * CR and LF in msg are replaced by spaces. */
void resp_add_error(struct resp_buf *b, const char *msg, size_t len);
/* resp_add_error with printf formatting. */
void resp_add_errorf(struct resp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_buf *b, int64_t v);
void resp_add_bulk(struct resp_buf *b, const void *p, size_t len);
void resp_add_bulk_cstr(struct resp_buf *b, const char *s);
void resp_add_bulk_int(struct resp_buf *b, int64_t v); /* integer as bulk string */
void resp_add_null(struct resp_buf *b, enum resp_proto pr);       /* $-1 / _ */
void resp_add_null_array(struct resp_buf *b, enum resp_proto pr); /* *-1 / _ */
void resp_add_array(struct resp_buf *b, size_t n);
void resp_add_map(struct resp_buf *b, enum resp_proto pr, size_t pairs);
void resp_add_set(struct resp_buf *b, enum resp_proto pr, size_t n);
/* RESP3 ",d"; RESP2 a bulk string, both formatted as Redis does ("%.17g",
 * "inf", "-inf", "nan"). */
void resp_add_double(struct resp_buf *b, enum resp_proto pr, double d);
void resp_add_bool(struct resp_buf *b, enum resp_proto pr, int v); /* #t / :1 */
/* RESP3 verbatim string "=len\r\ntxt:..." (fmt is 3 chars); RESP2 bulk. */
void resp_add_verbatim(struct resp_buf *b, enum resp_proto pr,
                       const char *fmt, const void *p, size_t len);

/* Format v in decimal into dst (at least 21 bytes); returns the length. */
size_t resp_i64_to_str(char *dst, int64_t v);

#endif
