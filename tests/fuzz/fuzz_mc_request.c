/*
 * tests/fuzz/fuzz_mc_request.c — the memcached text reader (resp/mcreader.c)
 * fed a client's bytes the way server/memcache.c is: requests parsed one
 * after another from a buffer that grows as bytes arrive and moves when it
 * does, consumed bytes dropped (including those of a refused item, skipped
 * as they come), until the bytes end or the reader says to close.
 *
 * The first input byte says how the bytes arrive; the rest is the stream:
 *   bits 0-1  arrival: all at once, 1, 3 or 61 bytes at a time
 *   bit 2     small limits (64-byte items, 256-byte get lines), so short
 *             inputs reach the refusal and skipping paths
 *
 * Properties checked beyond ASan/UBSan: what a request points at (key,
 * keys, data, a meta command's flags) lies within the bytes it consumed,
 * but for a base64 key (decoded into the reader); keys are at most 250
 * bytes; an error has its line; and a request parsed while bytes trickled
 * in is the one a fresh reader parses from the same bytes at once.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "resp/mcreader.h"
#include "tests/fuzz/fuzz.h"

static const size_t steps[4] = { 0, 1, 3, 61 };

static void
check_within(const char *buf, size_t used, struct resp_arg a)
{
    if (a.len == 0) {
        return;
    }
    FUZZ_CHECK(a.p >= buf && a.p + a.len <= buf + used);
}

static void
check_request(const char *buf, size_t used, const struct mc_req *r)
{
    bool meta = r->cmd >= MC_MG && r->cmd <= MC_ME;

    if (r->cmd == MC_ERROR || r->too_large) {
        FUZZ_CHECK(r->error != NULL && r->error[0] != '\0');
        return;
    }
    if (!(meta && mc_meta_has(&r->meta, 'b'))) {
        check_within(buf, used, r->key); /* else decoded into the reader */
    }
    check_within(buf, used, r->data);
    check_within(buf, used, r->sub);
    check_within(buf, used, r->sub_arg[0]);
    check_within(buf, used, r->sub_arg[1]);
    if (meta) {
        check_within(buf, used, r->meta.flags);
    }
    FUZZ_CHECK(r->key.len <= MC_KEY_MAX);
    for (size_t i = 0; i < r->nkeys; i++) {
        check_within(buf, used, r->keys[i]);
        FUZZ_CHECK(r->keys[i].len > 0 && r->keys[i].len <= MC_KEY_MAX);
    }
}

static void
check_whole(const struct mc_limits *lim, const char *buf, size_t len, const struct mc_req *r,
            size_t used)
{
    struct mc_reader *whole = mc_reader_create(lim);
    struct mc_req again;
    size_t used2;

    FUZZ_CHECK(mc_reader_next(whole, buf, len, &again, &used2) == RESP_OK);
    FUZZ_CHECK(again.cmd == r->cmd && again.too_large == r->too_large);
    FUZZ_CHECK(again.nkeys == r->nkeys && again.data.len == r->data.len);
    /* a refused item is skipped as far as the bytes go: the same */
    FUZZ_CHECK(used2 == used);
    mc_reader_destroy(&whole);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mc_limits lim = { 1024 * 1024, 64 * 1024 };
    struct mc_reader *rd;
    size_t step, pos = 0, avail;
    bool fresh = true; /* no refused item's data may be being skipped */
    uint8_t mode;

    if (size == 0) {
        return 0;
    }
    mode = data[0];
    data++;
    size--;
    if (mode & 4) {
        lim.item_size_max = 64;
        lim.max_get_line = 256;
    }
    step = steps[mode & 3] ? steps[mode & 3] : size;
    avail = step < size ? step : size;
    rd = mc_reader_create(&lim);

    for (;;) {
        size_t len = avail - pos, used = 0;
        char *buf = malloc(len ? len : 1);
        struct mc_req req;
        enum resp_status st;

        memcpy(buf, data + pos, len);
        st = mc_reader_next(rd, buf, len, &req, &used);
        FUZZ_CHECK(used <= len);
        if (st == RESP_OK) {
            FUZZ_CHECK(used > 0);
            check_request(buf, used, &req);
            if (fresh) {
                check_whole(&lim, buf, len, &req, used);
            }
            /* past a refused item, the reader may still be skipping its
             * data: a fresh reader would read those bytes as requests */
            if (req.skips_data) {
                fresh = false;
            }
            free(buf);
            pos += used;
            if (req.cmd == MC_ERROR && req.close) {
                break;
            }
            continue;
        }
        free(buf);
        pos += used;
        if (st != RESP_AGAIN) {
            FUZZ_CHECK(st == RESP_EPROTO);
            break;
        }
        if (avail == size) {
            break; /* the client went away mid-request */
        }
        avail = size - avail > step ? avail + step : size;
        if (avail < pos) {
            avail = pos;
        }
    }
    mc_reader_destroy(&rd);
    return 0;
}
