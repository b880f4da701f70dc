/*
 * tests/fuzz/fuzz_resp_request.c — the RESP request reader (resp/reader.c)
 * fed a client's bytes the way server/net.c feeds it: requests parsed one
 * after another from a buffer that grows as bytes arrive and moves when it
 * does, the limits of an authenticated or a stranger client, until the
 * bytes end or the reader reports a protocol error (the server closes).
 *
 * The first input byte says how the bytes arrive; the rest is the stream:
 *   bits 0-1  arrival: all at once, 1, 3 or 61 bytes at a time
 *   bit 2     unauthenticated limits (10 elements, 16 KiB a bulk)
 *   bit 3     small limits (16-byte bulks, 8 elements, 64-byte lines), so
 *             short inputs reach every limit check
 *   bit 4     authenticated after the first request, as after AUTH
 *
 * Properties checked beyond ASan/UBSan: a parsed request lies within the
 * bytes it consumed, and the same bytes given in one call parse to the same
 * request (a request that trickles in is not read differently).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "resp/reader.h"
#include "tests/fuzz/fuzz.h"

static const size_t steps[4] = { 0, 1, 3, 61 };

static struct resp_limits
limits_for(uint8_t mode, bool authed)
{
    struct resp_limits lim = RESP_LIMITS_DEFAULT;

    lim.unauthenticated = !authed;
    if (mode & 8) {
        lim.max_bulk_len = 16;
        lim.max_multibulk = 8;
        lim.max_inline = 64;
    }
    return lim;
}

/* Every argument's bytes are readable and, for a multibulk request, inside
 * the bytes the request consumed (inline arguments are unescaped into the
 * reader's own scratch). */
static void
check_request(const char *buf, size_t used, const struct resp_req *req)
{
    FUZZ_CHECK(req->argc >= 0);
    for (int i = 0; i < req->argc; i++) {
        const struct resp_arg *a = &req->argv[i];
        volatile char sink = 0;

        FUZZ_CHECK(a->len <= used);
        if (buf[0] == '*') {
            FUZZ_CHECK(a->p >= buf && a->p + a->len <= buf + used);
        }
        for (size_t j = 0; j < a->len; j++) {
            sink ^= a->p[j];
        }
        (void)sink;
    }
}

/* The request parsed from buf[0..len) by one call of a fresh reader. */
static void
check_whole(struct resp_reader *whole, const struct resp_limits *lim, const char *buf,
            size_t len, const struct resp_req *req, size_t used)
{
    struct resp_req again;
    size_t used2;

    resp_reader_reset(whole);
    resp_reader_set_limits(whole, lim);
    FUZZ_CHECK(resp_reader_next(whole, buf, len, &again, &used2, NULL) == RESP_OK);
    FUZZ_CHECK(used2 == used && again.argc == req->argc);
    for (int i = 0; i < req->argc; i++) {
        FUZZ_CHECK(again.argv[i].len == req->argv[i].len &&
                   memcmp(again.argv[i].p, req->argv[i].p, req->argv[i].len) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_reader *rd, *whole;
    struct resp_limits lim;
    size_t step, pos = 0, avail;
    bool authed;
    uint8_t mode;

    if (size == 0) {
        return 0;
    }
    mode = data[0];
    data++;
    size--;
    authed = !(mode & 4);
    step = steps[mode & 3] ? steps[mode & 3] : size;
    avail = step < size ? step : size;
    lim = limits_for(mode, authed);
    rd = resp_reader_create(&lim);
    whole = resp_reader_create(&lim);

    for (;;) {
        size_t len = avail - pos, used = 0, hint = 0;
        /* The server's buffer moves when it grows: a fresh copy on every
         * call lets ASan catch a pointer kept from an earlier one. */
        char *buf = malloc(len ? len : 1);
        struct resp_req req;
        enum resp_status st;

        memcpy(buf, data + pos, len);
        st = resp_reader_next(rd, buf, len, &req, &used, &hint);
        if (st == RESP_OK) {
            FUZZ_CHECK(used > 0 && used <= len);
            check_request(buf, used, &req);
            check_whole(whole, &lim, buf, len, &req, used);
            free(buf);
            pos += used;
            if (!authed && (mode & 16)) {
                authed = true;
                lim = limits_for(mode, authed);
                resp_reader_set_limits(rd, &lim);
            }
            continue;
        }
        free(buf);
        if (st != RESP_AGAIN) {
            FUZZ_CHECK(st == RESP_EPROTO || st == RESP_ETOOBIG);
            FUZZ_CHECK(resp_reader_error(rd)[0] != '\0');
            break;
        }
        FUZZ_CHECK(hint == 0 || hint > len);
        if (avail == size) {
            break; /* the client went away mid-request */
        }
        avail = size - avail > step ? avail + step : size;
    }
    resp_reader_destroy(&whole);
    resp_reader_destroy(&rd);
    return 0;
}
