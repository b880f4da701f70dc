/*
 * resp/writer.c — reply encoding into a byte queue, producing the same bytes
 * as Redis 7.0's addReply* family (src/networking.c) for RESP2 and RESP3.
 *
 * It does not write to sockets or track client state: the network code
 * drains the queue with resp_buf_consume. Every reply is appended with at
 * most one capacity check and no printf on the hot paths (integers, bulk
 * headers, aggregate headers); only doubles and errorf format with libc.
 */
#include "resp/writer.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64
/* '$' or another prefix, up to 20 digits, CRLF. */
#define HDR_MAX 23

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

static void
die(const char *what, size_t n)
{
    fprintf(stderr, "resp writer: %s (%zu bytes)\n", what, n);
    abort();
}

void
resp_buf_init(struct resp_buf *b)
{
    b->data = NULL;
    b->pos = b->len = b->cap = 0;
}

void
resp_buf_deinit(struct resp_buf *b)
{
    free(b->data);
    resp_buf_init(b);
}

/* Room for `more` bytes after len, or NULL (the buffer unchanged but for
 * its unsent bytes moved to the front) when it cannot be had. */
static char *
try_grow(struct resp_buf *b, size_t more)
{
    size_t pending = b->len - b->pos;
    size_t need, cap;
    char *data;

    if (more > SIZE_MAX - pending) {
        return NULL;
    }
    need = pending + more;

    /* Sliding the unsent bytes to the front is cheaper than growing, and
     * keeps a steadily drained buffer at a steady size. */
    if (b->pos > 0) {
        memmove(b->data, b->data + b->pos, pending);
        b->pos = 0;
        b->len = pending;
        if (need <= b->cap) {
            return b->data + b->len;
        }
    }
    if (b->data != NULL && need <= b->cap) {
        return b->data + b->len;
    }

    /* Doubling keeps appends amortised O(1) for replies built in pieces. */
    cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    data = realloc(b->data, cap);
    if (data == NULL) {
        return NULL;
    }
    b->data = data;
    b->cap = cap;
    return b->data + b->len;
}

static char *
reserve_slow(struct resp_buf *b, size_t more)
{
    char *p = try_grow(b, more);

    if (p == NULL) {
        die(more > SIZE_MAX - (b->len - b->pos) ? "reply too large" : "out of memory", more);
    }
    return p;
}

/* The common case is a buffer with room: keep it to one compare. */
static inline char *
room(struct resp_buf *b, size_t more)
{
    if (b->cap - b->len >= more) {
        return b->data + b->len;
    }
    return reserve_slow(b, more);
}

char *
resp_buf_reserve(struct resp_buf *b, size_t more)
{
    /* Even reserve(0) must hand back a real pointer, not NULL + 0. */
    if (b->data == NULL) {
        return reserve_slow(b, more);
    }
    return room(b, more);
}

char *
resp_buf_try_reserve(struct resp_buf *b, size_t more)
{
    if (b->data != NULL && b->cap - b->len >= more) {
        return b->data + b->len;
    }
    return try_grow(b, more);
}

void
resp_buf_consume(struct resp_buf *b, size_t n)
{
    assert(n <= b->len - b->pos);
    b->pos += n;
    /* Drained: start again at the front, so no memmove is ever needed for
     * the usual write-everything case. */
    if (b->pos == b->len) {
        b->pos = b->len = 0;
    }
}

void
resp_buf_shrink(struct resp_buf *b, size_t keep)
{
    char *data;

    if (b->pos != b->len || b->cap <= keep) {
        return;
    }
    b->pos = b->len = 0;
    if (keep == 0) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
        return;
    }
    /* A failed shrink leaves the larger block, which is still valid. */
    data = realloc(b->data, keep);
    if (data != NULL) {
        b->data = data;
        b->cap = keep;
    }
}

/* Digits of v, written right to left two at a time (dst has room for 20). */
static size_t
u64_to_str(char *dst, uint64_t v)
{
    size_t n = 1;
    size_t i;

    for (uint64_t t = v; t >= 10; t /= 10) {
        n++;
    }
    i = n;
    while (v >= 100) {
        size_t d = (size_t)(v % 100) * 2;

        v /= 100;
        dst[--i] = digit_pairs[d + 1];
        dst[--i] = digit_pairs[d];
    }
    if (v >= 10) {
        dst[--i] = digit_pairs[v * 2 + 1];
        dst[--i] = digit_pairs[v * 2];
    } else {
        dst[--i] = (char)('0' + v);
    }
    return n;
}

/* As resp_i64_to_str without the NUL, for writing straight into replies.
 * Negating in unsigned arithmetic makes INT64_MIN safe. */
static size_t
i64_digits(char *dst, int64_t v)
{
    if (v < 0) {
        dst[0] = '-';
        return 1 + u64_to_str(dst + 1, 0 - (uint64_t)v);
    }
    return u64_to_str(dst, (uint64_t)v);
}

size_t
resp_i64_to_str(char *dst, int64_t v)
{
    size_t n = i64_digits(dst, v);

    dst[n] = '\0';
    return n;
}

/* Append "<prefix><n>\r\n", reserving `extra` more bytes for what follows
 * so a bulk string needs one capacity check, not two. */
static char *
add_header_u64(struct resp_buf *b, char prefix, uint64_t n, size_t extra)
{
    char *p;
    size_t k;

    if (extra > SIZE_MAX - HDR_MAX) {
        die("reply too large", extra);
    }
    p = room(b, HDR_MAX + extra);
    p[0] = prefix;
    k = 1 + u64_to_str(p + 1, n);
    p[k] = '\r';
    p[k + 1] = '\n';
    b->len += k + 2;
    return p + k + 2;
}

void
resp_add_raw(struct resp_buf *b, const void *p, size_t len)
{
    if (len == 0) {
        return;
    }
    memcpy(room(b, len), p, len);
    b->len += len;
}

/* prefix, s with CR and LF turned into spaces so a reply can never split
 * into two, then CRLF. */
static void
add_line(struct resp_buf *b, char prefix, const char *s, size_t len)
{
    char *p;

    if (len > SIZE_MAX - 3) {
        die("reply too large", len);
    }
    p = room(b, len + 3);
    p[0] = prefix;
    for (size_t i = 0; i < len; i++) {
        p[i + 1] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    }
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    b->len += len + 3;
}

void
resp_add_status(struct resp_buf *b, const char *s, size_t len)
{
    add_line(b, '+', s, len);
}

void
resp_add_error(struct resp_buf *b, const char *msg, size_t len)
{
    add_line(b, '-', msg, len);
}

/* As Redis's addReplyErrorFormat: CR and LF at either end are trimmed
 * (sdstrim), those inside become spaces. */
void
resp_add_errorf(struct resp_buf *b, const char *fmt, ...)
{
    char small[256];
    char *s = small;
    const char *start;
    va_list ap;
    int n;
    size_t len;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        small[0] = '\0';
    } else if ((size_t)n >= sizeof(small)) {
        s = malloc((size_t)n + 1);
        if (s == NULL) {
            die("out of memory", (size_t)n + 1);
        }
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }

    start = s;
    len = (size_t)n;
    while (len > 0 && (*start == '\r' || *start == '\n')) {
        start++;
        len--;
    }
    while (len > 0 && (start[len - 1] == '\r' || start[len - 1] == '\n')) {
        len--;
    }
    add_line(b, '-', start, len);
    if (s != small) {
        free(s);
    }
}

void
resp_add_int(struct resp_buf *b, int64_t v)
{
    char *p = room(b, HDR_MAX);
    size_t k;

    p[0] = ':';
    k = 1 + i64_digits(p + 1, v);
    p[k] = '\r';
    p[k + 1] = '\n';
    b->len += k + 2;
}

void
resp_add_bulk(struct resp_buf *b, const void *p, size_t len)
{
    char *d;

    if (len > SIZE_MAX - HDR_MAX - 2) {
        die("reply too large", len);
    }
    d = add_header_u64(b, '$', len, len + 2);
    if (len > 0) {
        memcpy(d, p, len);
    }
    d[len] = '\r';
    d[len + 1] = '\n';
    b->len += len + 2;
}

void
resp_add_bulk_cstr(struct resp_buf *b, const char *s)
{
    resp_add_bulk(b, s, strlen(s));
}

void
resp_add_bulk_int(struct resp_buf *b, int64_t v)
{
    char digits[21];
    size_t n = i64_digits(digits, v);

    resp_add_bulk(b, digits, n);
}

void
resp_add_null(struct resp_buf *b, enum resp_proto pr)
{
    if (pr == RESP3) {
        resp_add_raw(b, "_\r\n", 3);
    } else {
        resp_add_raw(b, "$-1\r\n", 5);
    }
}

void
resp_add_null_array(struct resp_buf *b, enum resp_proto pr)
{
    if (pr == RESP3) {
        resp_add_raw(b, "_\r\n", 3);
    } else {
        resp_add_raw(b, "*-1\r\n", 5);
    }
}

void
resp_add_array(struct resp_buf *b, size_t n)
{
    add_header_u64(b, '*', n, 0);
}

/* RESP2 has no map: Redis sends the pairs as one flat array. */
void
resp_add_map(struct resp_buf *b, enum resp_proto pr, size_t pairs)
{
    if (pr == RESP3) {
        add_header_u64(b, '%', pairs, 0);
    } else {
        add_header_u64(b, '*', (uint64_t)pairs * 2, 0);
    }
}

void
resp_add_set(struct resp_buf *b, enum resp_proto pr, size_t n)
{
    add_header_u64(b, pr == RESP3 ? '~' : '*', n, 0);
}

/* Redis 7.0's addReplyDouble: infinities spelled out because some libcs
 * print them differently; everything else, NaN included, is "%.17g". */
void
resp_add_double(struct resp_buf *b, enum resp_proto pr, double d)
{
    char num[32];
    int n;

    if (isinf(d)) {
        if (pr == RESP3) {
            resp_add_raw(b, d > 0 ? ",inf\r\n" : ",-inf\r\n", d > 0 ? 6 : 7);
        } else {
            resp_add_bulk(b, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4);
        }
        return;
    }
    n = snprintf(num, sizeof(num), "%.17g", d);
    if (pr == RESP3) {
        char *p = room(b, (size_t)n + 3);

        p[0] = ',';
        memcpy(p + 1, num, (size_t)n);
        p[n + 1] = '\r';
        p[n + 2] = '\n';
        b->len += (size_t)n + 3;
    } else {
        resp_add_bulk(b, num, (size_t)n);
    }
}

void
resp_add_bool(struct resp_buf *b, enum resp_proto pr, int v)
{
    if (pr == RESP3) {
        resp_add_raw(b, v ? "#t\r\n" : "#f\r\n", 4);
    } else {
        resp_add_raw(b, v ? ":1\r\n" : ":0\r\n", 4);
    }
}

/* As Redis's addReplyVerbatim: a format shorter than three characters is
 * padded with spaces. */
void
resp_add_verbatim(struct resp_buf *b, enum resp_proto pr, const char *fmt,
                  const void *p, size_t len)
{
    char *d;

    if (pr != RESP3) {
        resp_add_bulk(b, p, len);
        return;
    }
    if (len > SIZE_MAX - HDR_MAX - 6) {
        die("reply too large", len);
    }
    d = add_header_u64(b, '=', (uint64_t)len + 4, len + 6);
    for (int i = 0; i < 3; i++) {
        d[i] = *fmt != '\0' ? *fmt++ : ' ';
    }
    d[3] = ':';
    if (len > 0) {
        memcpy(d + 4, p, len);
    }
    d[len + 4] = '\r';
    d[len + 5] = '\n';
    b->len += len + 6;
}
