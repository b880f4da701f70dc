/*
 * resp/reader.c — incremental request parser, byte-compatible with Redis
 * 7.0's processInlineBuffer / processMultibulkBuffer (src/networking.c) and
 * sdssplitargs (src/sds.c), including their error texts and quirks.
 *
 * It does not read sockets, own the caller's buffer, or know commands. All
 * progress is kept as offsets from the start of the request, so the caller
 * may move or grow its buffer between calls, and a request that trickles in
 * is scanned once in total.
 */
#include "resp/reader.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's string2ll rejects anything of 21 or more characters. */
#define LONG_STR_SIZE 21
#define ARGV_INITIAL 16
/* Like Redis, drop an argv array this large before the next request, so one
 * huge MSET does not pin its array for the life of the connection. */
#define ARGV_KEEP_MAX 1024
#define NOT_FOUND SIZE_MAX

enum reader_state {
    RD_IDLE,   /* between requests */
    RD_INLINE, /* waiting for the '\n' of an inline request */
    RD_COUNT,  /* waiting for the "*<n>\r\n" line */
    RD_BULKS,  /* reading "$<len>\r\n<data>\r\n" elements */
    RD_FAILED, /* a protocol error was returned; only reset clears it */
};

struct resp_reader {
    struct resp_limits lim;
    enum reader_state state;
    int was_inline;
    enum resp_status failure; /* what RD_FAILED keeps returning */

    /* Where the search for the current line's terminator resumes, so bytes
     * are searched once however the request is split. */
    size_t scan;
    /* A NUL precedes the terminator: Redis's strchr stops there and never
     * finds the line, so neither do we (see find_line_end). */
    int nul_blocked;

    /* Multibulk progress, all offsets from the start of the request. */
    size_t pos;          /* next unparsed header or bulk data */
    long long remaining; /* elements still to read */
    long long bulklen;   /* length of the element at pos, -1 if unread */
    int argc;

    /* off[i] is where argv[i] starts: pointers are made only on RESP_OK,
     * because the caller may move its buffer while we wait. */
    struct resp_arg *argv;
    size_t *off;
    int cap;

    char *scratch; /* unescaped inline arguments; argv points here */
    size_t scratch_cap;

    char err[64];
};

/* The reader has no error path for memory, like Redis's zmalloc: a server
 * that cannot hold one request's argv cannot do anything useful. */
static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fprintf(stderr, "resp reader: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return q;
}

const char *
resp_strerror(enum resp_status st)
{
    switch (st) {
    case RESP_OK:
        return "ok";
    case RESP_AGAIN:
        return "incomplete request";
    case RESP_EPROTO:
        return "protocol error";
    case RESP_ETOOBIG:
        return "request exceeds a limit";
    }
    return "unknown status";
}

struct resp_reader *
resp_reader_create(const struct resp_limits *lim)
{
    static const struct resp_limits defaults = RESP_LIMITS_DEFAULT;
    struct resp_reader *rd = xrealloc(NULL, sizeof(*rd));

    memset(rd, 0, sizeof(*rd));
    rd->lim = lim != NULL ? *lim : defaults;
    resp_reader_reset(rd);
    return rd;
}

void
resp_reader_destroy(struct resp_reader **rd)
{
    if (*rd == NULL) {
        return;
    }
    free((*rd)->argv);
    free((*rd)->off);
    free((*rd)->scratch);
    free(*rd);
    *rd = NULL;
}

void
resp_reader_set_limits(struct resp_reader *rd, const struct resp_limits *lim)
{
    rd->lim = *lim;
}

void
resp_reader_reset(struct resp_reader *rd)
{
    rd->state = RD_IDLE;
    rd->failure = RESP_OK;
    rd->scan = 0;
    rd->nul_blocked = 0;
    rd->pos = 0;
    rd->remaining = 0;
    rd->bulklen = -1;
    rd->argc = 0;
    rd->err[0] = '\0';
}

const char *
resp_reader_error(const struct resp_reader *rd)
{
    return rd->err;
}

int
resp_reader_was_inline(const struct resp_reader *rd)
{
    return rd->was_inline;
}

static enum resp_status
fail(struct resp_reader *rd, enum resp_status st, const char *msg)
{
    snprintf(rd->err, sizeof(rd->err), "%s", msg);
    rd->state = RD_FAILED;
    rd->failure = st;
    return st;
}

static void
argv_reserve(struct resp_reader *rd, int need)
{
    int cap = rd->cap ? rd->cap : ARGV_INITIAL;

    if (need <= rd->cap) {
        return;
    }
    while (cap < need) {
        cap = cap > INT_MAX / 2 ? INT_MAX : cap * 2;
    }
    rd->argv = xrealloc(rd->argv, (size_t)cap * sizeof(*rd->argv));
    rd->off = xrealloc(rd->off, (size_t)cap * sizeof(*rd->off));
    rd->cap = cap;
}

static void
argv_trim(struct resp_reader *rd)
{
    if (rd->cap > ARGV_KEEP_MAX) {
        free(rd->argv);
        free(rd->off);
        rd->argv = NULL;
        rd->off = NULL;
        rd->cap = 0;
    }
}

/* Redis's string2ll: no spaces, no '+', no leading zeros except "0" itself,
 * no "-0", and the value must fit a long long. */
static int
parse_ll(const char *s, size_t len, long long *out)
{
    unsigned long long v;
    size_t i = 0;
    int neg = 0;

    if (len == 0 || len >= LONG_STR_SIZE) {
        return 0;
    }
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == len) {
            return 0;
        }
    }
    if (s[i] < '1' || s[i] > '9') {
        return 0;
    }
    for (v = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        /* Twenty digits can overflow 64 bits. */
        if (v > (ULLONG_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return 0;
        }
        /* v is at least 1; this reaches LLONG_MIN without overflow. */
        *out = -(long long)(v - 1) - 1;
    } else {
        if (v > (unsigned long long)LLONG_MAX) {
            return 0;
        }
        *out = (long long)v;
    }
    return 1;
}

/* Find c in buf[rd->scan..len) as Redis's strchr over its NUL-terminated
 * query buffer would: a NUL before c hides c, now and after more bytes
 * arrive. Remembers how far it looked so no byte is searched twice. */
static size_t
find_line_end(struct resp_reader *rd, const char *buf, size_t len, char c)
{
    const char *hit;
    size_t end;

    if (rd->nul_blocked || rd->scan >= len) {
        return NOT_FOUND;
    }
    hit = memchr(buf + rd->scan, c, len - rd->scan);
    end = hit != NULL ? (size_t)(hit - buf) : len;
    if (memchr(buf + rd->scan, '\0', end - rd->scan) != NULL) {
        rd->nul_blocked = 1;
        return NOT_FOUND;
    }
    /* On a hit, stay on it: the byte after it may not have arrived yet. */
    rd->scan = end;
    return hit != NULL ? end : NOT_FOUND;
}

/* The common case of a header, "<type><digits>\r" with a positive count and
 * no leading zero, parsed without searching the line twice. Returns the
 * offset of the '\r', or NOT_FOUND to let find_line_end and parse_ll decide
 * exactly as Redis would (negative numbers, NULs, garbage, split lines). At
 * most 18 digits, so the value cannot overflow. */
static size_t
fast_header(const char *buf, size_t pos, size_t len, long long *out)
{
    size_t i = pos + 1, end = pos + 1 + 18;
    unsigned long long v = 0;

    if (end > len) {
        end = len;
    }
    if (i >= end || buf[i] < '1' || buf[i] > '9') {
        return NOT_FOUND;
    }
    for (; i < end && (unsigned)(buf[i] - '0') <= 9; i++) {
        v = v * 10 + (unsigned)(buf[i] - '0');
    }
    if (i >= len || buf[i] != '\r') {
        return NOT_FOUND;
    }
    *out = (long long)v;
    return i;
}

static enum resp_status
parse_inline(struct resp_reader *rd, const char *buf, size_t len,
             struct resp_req *req, size_t *used)
{
    size_t nl = find_line_end(rd, buf, len, '\n');
    size_t linelen;
    int argc;

    if (nl == NOT_FOUND) {
        if (len > rd->lim.max_inline) {
            return fail(rd, RESP_ETOOBIG,
                        "Protocol error: too big inline request");
        }
        return RESP_AGAIN;
    }
    linelen = nl > 0 && buf[nl - 1] == '\r' ? nl - 1 : nl;

    if (rd->scratch_cap < linelen) {
        rd->scratch = xrealloc(rd->scratch, linelen);
        rd->scratch_cap = linelen;
    }
    argv_reserve(rd, ARGV_INITIAL);
    /* Count and store in one pass; only a line with more arguments than we
     * have room for is split again, into an array twice as large. */
    while ((argc = resp_split_args(buf, linelen, rd->scratch, rd->argv,
                                   rd->cap)) == -2) {
        argv_reserve(rd, rd->cap < INT_MAX ? rd->cap + 1 : INT_MAX);
    }
    if (argc < 0) {
        return fail(rd, RESP_EPROTO,
                    "Protocol error: unbalanced quotes in request");
    }
    req->argc = argc;
    req->argv = rd->argv;
    *used = nl + 1;
    rd->state = RD_IDLE;
    return RESP_OK;
}

static enum resp_status
parse_count(struct resp_reader *rd, const char *buf, size_t len,
            struct resp_req *req, size_t *used)
{
    long long n;
    long long max = rd->lim.max_multibulk < INT_MAX ? rd->lim.max_multibulk
                                                    : INT_MAX;
    size_t cr = rd->scan == 0 ? fast_header(buf, 0, len, &n) : NOT_FOUND;

    if (cr != NOT_FOUND && cr + 2 <= len && n <= max) {
        goto counted;
    }
    cr = find_line_end(rd, buf, len, '\r');
    if (cr == NOT_FOUND) {
        if (len > rd->lim.max_inline) {
            return fail(rd, RESP_ETOOBIG,
                        "Protocol error: too big mbulk count string");
        }
        return RESP_AGAIN;
    }
    /* Redis wants one byte after '\r' and skips it unchecked. */
    if (cr + 2 > len) {
        return RESP_AGAIN;
    }
    if (!parse_ll(buf + 1, cr - 1, &n) || n > max) {
        return fail(rd, RESP_EPROTO,
                    "Protocol error: invalid multibulk length");
    }
counted:
    if (rd->lim.unauthenticated && n > RESP_UNAUTH_MAX_MULTIBULK) {
        return fail(rd, RESP_EPROTO,
                    "Protocol error: unauthenticated multibulk length");
    }
    rd->pos = cr + 2;
    if (n <= 0) {
        req->argc = 0;
        req->argv = rd->argv;
        *used = rd->pos;
        rd->state = RD_IDLE;
        return RESP_OK;
    }
    rd->remaining = n;
    rd->bulklen = -1;
    rd->argc = 0;
    rd->scan = rd->pos;
    rd->state = RD_BULKS;
    return RESP_OK;
}

static enum resp_status
parse_bulks(struct resp_reader *rd, const char *buf, size_t len,
            struct resp_req *req, size_t *used, size_t *hint)
{
    while (rd->remaining > 0) {
        if (rd->bulklen < 0) {
            long long n;
            /* pos == len when the last part ended the buffer: no header
             * byte to look at yet */
            size_t cr = rd->pos < len && buf[rd->pos] == '$' && rd->scan == rd->pos
                            ? fast_header(buf, rd->pos, len, &n) : NOT_FOUND;

            if (cr != NOT_FOUND && cr + 2 <= len &&
                (unsigned long long)n <= rd->lim.max_bulk_len) {
                rd->pos = cr + 2;
                rd->bulklen = n;
                goto have_len;
            }
            cr = find_line_end(rd, buf, len, '\r');
            if (cr == NOT_FOUND) {
                if (len - rd->pos > rd->lim.max_inline) {
                    return fail(rd, RESP_ETOOBIG,
                                "Protocol error: too big bulk count string");
                }
                return RESP_AGAIN;
            }
            if (cr + 2 > len) {
                return RESP_AGAIN;
            }
            if (buf[rd->pos] != '$') {
                snprintf(rd->err, sizeof(rd->err),
                         "Protocol error: expected '$', got '%c'",
                         buf[rd->pos]);
                rd->state = RD_FAILED;
                rd->failure = RESP_EPROTO;
                return RESP_EPROTO;
            }
            if (!parse_ll(buf + rd->pos + 1, cr - rd->pos - 1, &n) || n < 0 ||
                (unsigned long long)n > rd->lim.max_bulk_len) {
                return fail(rd, RESP_EPROTO,
                            "Protocol error: invalid bulk length");
            }
            rd->pos = cr + 2;
            rd->bulklen = n;
        }
have_len:
        if (rd->lim.unauthenticated && rd->bulklen > RESP_UNAUTH_MAX_BULK_LEN) {
            return fail(rd, RESP_EPROTO,
                        "Protocol error: unauthenticated bulk length");
        }
        /* The data and the two bytes after it, which Redis skips without
         * checking that they are CRLF. */
        if (len - rd->pos < (unsigned long long)rd->bulklen + 2) {
            if (hint != NULL) {
                unsigned long long need =
                    rd->pos + (unsigned long long)rd->bulklen + 2;
                *hint = need > SIZE_MAX ? SIZE_MAX : (size_t)need;
            }
            return RESP_AGAIN;
        }
        argv_reserve(rd, rd->argc + 1);
        rd->off[rd->argc] = rd->pos;
        rd->argv[rd->argc].len = (size_t)rd->bulklen;
        rd->argc++;
        rd->pos += (size_t)rd->bulklen + 2;
        rd->bulklen = -1;
        rd->remaining--;
        rd->scan = rd->pos;
    }

    for (int i = 0; i < rd->argc; i++) {
        rd->argv[i].p = buf + rd->off[i];
    }
    req->argc = rd->argc;
    req->argv = rd->argv;
    *used = rd->pos;
    rd->state = RD_IDLE;
    return RESP_OK;
}

enum resp_status
resp_reader_next(struct resp_reader *rd, const char *buf, size_t len,
                 struct resp_req *req, size_t *used, size_t *hint)
{
    enum resp_status st;

    if (hint != NULL) {
        *hint = 0;
    }
    /* The caller promised the same bytes plus more. */
    assert(rd->state == RD_IDLE || rd->state == RD_FAILED || len >= rd->scan);

    switch (rd->state) {
    case RD_FAILED:
        return rd->failure;
    case RD_IDLE:
        if (len == 0) {
            return RESP_AGAIN;
        }
        rd->scan = 0;
        rd->nul_blocked = 0;
        rd->argc = 0;
        rd->was_inline = buf[0] != '*';
        rd->state = rd->was_inline ? RD_INLINE : RD_COUNT;
        argv_trim(rd);
        break;
    default:
        break;
    }

    if (rd->state == RD_INLINE) {
        return parse_inline(rd, buf, len, req, used);
    }
    if (rd->state == RD_COUNT) {
        st = parse_count(rd, buf, len, req, used);
        if (st != RESP_OK || rd->state == RD_IDLE) {
            return st;
        }
    }
    return parse_bulks(rd, buf, len, req, used, hint);
}

/* C-locale isspace, which sdssplitargs uses between arguments. */
static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* sdssplitargs reads a NUL-terminated string and peeks past the current
 * byte; reading our bounded line through this keeps its logic intact. */
static char
at(const char *line, size_t n, size_t i)
{
    return i < n ? line[i] : '\0';
}

int
resp_split_args(const char *line, size_t len, char *out,
                struct resp_arg *args, int max_args)
{
    const char *nul = memchr(line, '\0', len);
    size_t n = nul != NULL ? (size_t)(nul - line) : len;
    size_t i = 0, o = 0;
    int argc = 0, too_many = 0;

    for (;;) {
        int inq = 0, insq = 0, done = 0;
        size_t start = o;

        while (i < n && is_space(line[i])) {
            i++;
        }
        if (i == n) {
            break;
        }
        while (!done) {
            char c = at(line, n, i);

            if (inq) {
                if (c == '\\' && at(line, n, i + 1) == 'x' &&
                    hex_value(at(line, n, i + 2)) >= 0 &&
                    hex_value(at(line, n, i + 3)) >= 0) {
                    out[o++] = (char)(hex_value(line[i + 2]) * 16 +
                                      hex_value(line[i + 3]));
                    i += 3;
                } else if (c == '\\' && at(line, n, i + 1) != '\0') {
                    i++;
                    switch (line[i]) {
                    case 'n':
                        out[o++] = '\n';
                        break;
                    case 'r':
                        out[o++] = '\r';
                        break;
                    case 't':
                        out[o++] = '\t';
                        break;
                    case 'b':
                        out[o++] = '\b';
                        break;
                    case 'a':
                        out[o++] = '\a';
                        break;
                    default:
                        out[o++] = line[i];
                        break;
                    }
                } else if (c == '"') {
                    /* "foo"bar is an error, not foobar. */
                    if (at(line, n, i + 1) != '\0' &&
                        !is_space(line[i + 1])) {
                        return -1;
                    }
                    done = 1;
                } else if (c == '\0') {
                    return -1;
                } else {
                    out[o++] = c;
                }
            } else if (insq) {
                if (c == '\\' && at(line, n, i + 1) == '\'') {
                    i++;
                    out[o++] = '\'';
                } else if (c == '\'') {
                    if (at(line, n, i + 1) != '\0' &&
                        !is_space(line[i + 1])) {
                        return -1;
                    }
                    done = 1;
                } else if (c == '\0') {
                    return -1;
                } else {
                    out[o++] = c;
                }
            } else {
                /* Inside a bare word only these end it: unlike between
                 * words, \v and \f are part of the argument. */
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    out[o++] = c;
                    break;
                }
            }
            if (i < n) {
                i++;
            }
        }
        /* Keep parsing past max_args: unbalanced quotes later in the line
         * must still win over "too many". */
        if (argc < max_args) {
            args[argc].p = out + start;
            args[argc].len = o - start;
            argc++;
        } else {
            too_many = 1;
        }
    }
    return too_many ? -2 : argc;
}
