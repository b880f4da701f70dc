/*
 * resp/reply.c — reply boundary scanning; see reply.h.
 */
#include "resp/reply.h"

#include <string.h>

/* Parse the decimal after the type byte up to CRLF. Returns the offset just
 * past the CRLF, 0 if incomplete, -1 if malformed. */
static long
header(const char *buf, size_t len, long long *val)
{
    const char *cr = memchr(buf, '\r', len);
    long long v = 0;
    size_t i = 1;
    int neg = 0;

    if (cr == NULL || (size_t)(cr - buf) + 1 >= len) {
        return cr == NULL && len > 64 ? -1 : 0;
    }
    if (buf[cr - buf + 1] != '\n') {
        return -1;
    }
    if (i < (size_t)(cr - buf) && buf[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == (size_t)(cr - buf) || (size_t)(cr - buf) - i > 18) {
        return -1;
    }
    for (; i < (size_t)(cr - buf); i++) {
        if (buf[i] < '0' || buf[i] > '9') {
            return -1;
        }
        v = v * 10 + (buf[i] - '0');
    }
    *val = neg ? -v : v;
    return (long)(cr - buf) + 2;
}

static enum resp_status
scan(const char *buf, size_t len, size_t *used, int depth)
{
    long long n;
    long h;
    size_t pos;

    if (len == 0) {
        return RESP_AGAIN;
    }
    if (depth > RESP_REPLY_MAX_DEPTH) {
        return RESP_EPROTO;
    }
    switch (buf[0]) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(': {
        const char *cr = memchr(buf, '\r', len);
        if (cr == NULL || (size_t)(cr - buf) + 1 >= len) {
            return RESP_AGAIN;
        }
        if (cr[1] != '\n') {
            return RESP_EPROTO;
        }
        *used = (size_t)(cr - buf) + 2;
        return RESP_OK;
    }
    case '$': case '=': case '!':
        h = header(buf, len, &n);
        if (h <= 0) {
            return h == 0 ? RESP_AGAIN : RESP_EPROTO;
        }
        if (n == -1 && buf[0] == '$') {
            *used = (size_t)h;
            return RESP_OK;
        }
        if (n < 0) {
            return RESP_EPROTO;
        }
        if (len - (size_t)h < (size_t)n + 2) {
            return RESP_AGAIN;
        }
        *used = (size_t)h + (size_t)n + 2;
        return RESP_OK;
    case '*': case '~': case '%': case '>': case '|':
        h = header(buf, len, &n);
        if (h <= 0) {
            return h == 0 ? RESP_AGAIN : RESP_EPROTO;
        }
        if (n == -1 && buf[0] == '*') {
            *used = (size_t)h;
            return RESP_OK;
        }
        if (n < 0) {
            return RESP_EPROTO;
        }
        if (buf[0] == '%' || buf[0] == '|') {
            n *= 2;
        }
        pos = (size_t)h;
        for (long long i = 0; i < n; i++) {
            size_t u;
            enum resp_status st = scan(buf + pos, len - pos, &u, depth + 1);
            if (st != RESP_OK) {
                return st;
            }
            pos += u;
        }
        /* An attribute (|) precedes the reply it annotates. */
        if (buf[0] == '|') {
            size_t u;
            enum resp_status st = scan(buf + pos, len - pos, &u, depth + 1);
            if (st != RESP_OK) {
                return st;
            }
            pos += u;
        }
        *used = pos;
        return RESP_OK;
    default:
        return RESP_EPROTO;
    }
}

enum resp_status
resp_reply_scan(const char *buf, size_t len, size_t *used)
{
    return scan(buf, len, used, 0);
}

long
resp_reply_elements(const char *buf, size_t len, struct resp_arg *elems, size_t max)
{
    long long n;
    long h;
    size_t pos;

    if (len == 0 || (buf[0] != '*' && buf[0] != '~' && buf[0] != '%')) {
        return -1;
    }
    h = header(buf, len, &n);
    if (h <= 0 || n < 0) {
        return -1;
    }
    if (buf[0] == '%') {
        n *= 2;
    }
    pos = (size_t)h;
    for (long long i = 0; i < n; i++) {
        size_t u;

        if (scan(buf + pos, len - pos, &u, 1) != RESP_OK) {
            return -1;
        }
        if (elems != NULL && (size_t)i < max) {
            elems[i].p = buf + pos;
            elems[i].len = u;
        }
        pos += u;
    }
    return (long)n;
}
