/*
 * tests/fuzz/fuzz_resp_reply.c — the reply scanner (resp/reply.c) fed a
 * peer's bytes the way the cluster bus reads them: server/bus.c cuts the
 * stream into replies with resp_reply_scan, and the callers (cluster.c's
 * gathers, replicate.c's RC.GET answers, rebalance.c's pages) take arrays
 * apart with resp_reply_elements, down to the elements of an element.
 *
 * Properties checked beyond ASan/UBSan: a reply ends inside the bytes
 * scanned; every proper prefix of a complete reply is incomplete, never
 * malformed or complete (a reply split by TCP is read the same); the
 * elements of an array tile it exactly after its header, each a complete
 * reply of its own.
 */
#include <stdbool.h>
#include <string.h>

#include "resp/reply.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ELEMS 64

static bool
is_aggregate(char type)
{
    return type == '*' || type == '~' || type == '%';
}

static void
check_elements(const char *buf, size_t len, int depth)
{
    struct resp_arg el[MAX_ELEMS];
    long n = resp_reply_elements(buf, len, el, MAX_ELEMS);
    const char *next = NULL;

    if (n < 0) {
        /* of the aggregates, only a null array ("*-1") has no elements */
        FUZZ_CHECK(!is_aggregate(buf[0]) || buf[0] == '*');
        return;
    }
    FUZZ_CHECK(is_aggregate(buf[0]));
    for (long i = 0; i < n && i < MAX_ELEMS; i++) {
        size_t used;

        FUZZ_CHECK(el[i].p > buf && el[i].p + el[i].len <= buf + len);
        FUZZ_CHECK(next == NULL || el[i].p == next);
        FUZZ_CHECK(resp_reply_scan(el[i].p, el[i].len, &used) == RESP_OK && used == el[i].len);
        next = el[i].p + el[i].len;
        if (depth < 2) {
            check_elements(el[i].p, el[i].len, depth + 1);
        }
    }
    if (n > 0 && n <= MAX_ELEMS) {
        FUZZ_CHECK(next == buf + len); /* nothing after the last element */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;

    while (left > 0) {
        size_t used = 0, u;
        enum resp_status st = resp_reply_scan(p, left, &used);

        if (st != RESP_OK) {
            FUZZ_CHECK(st == RESP_AGAIN || st == RESP_EPROTO);
            break; /* wait for more bytes, or fail the link */
        }
        FUZZ_CHECK(used > 0 && used <= left);
        FUZZ_CHECK(resp_reply_scan(p, used - 1, &u) == RESP_AGAIN);
        FUZZ_CHECK(resp_reply_scan(p, used / 2, &u) == RESP_AGAIN);
        check_elements(p, used, 0);
        p += used;
        left -= used;
    }
    return 0;
}
