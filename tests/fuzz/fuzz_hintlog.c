/*
 * tests/fuzz/fuzz_hintlog.c — the hinted-handoff log decoder
 * (storage/hintlog.c) on a damaged or hostile log file: the input is
 * written as <dir>/<target>.hints, opened as a restarted member opens its
 * hints (the scan that cuts a torn or untrustworthy tail), replayed in
 * batches as server/replicate.c's replay does, reopened, appended to and
 * replayed to its end, and acknowledged (which deletes the file).
 *
 * The first input byte is a mode; the rest is the file:
 *   bit 0     repair checksums first (every record header's and body's
 *             XXH32 where the lengths fit), so mutations reach the length,
 *             flag and format checks behind them
 *   bits 1-2  replay batch size: 1 byte (one record a call), 100 bytes,
 *             4 KiB, 256 KiB (the server's)
 * The repair knows the layout in hintlog.h; it fixes sums, nothing else.
 *
 * Properties checked beyond ASan/UBSan: a record handed to the replay
 * callback is within the bounds of the format; what the first open kept
 * is trusted by the second (nothing more is cut, the same records are
 * pending); batches resume where the last ended and every record kept is
 * delivered (or skipped as damaged or old) exactly once; an append after
 * damage reads back intact, last.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "storage/hintlog.h"
#include "storage/le.h"
#include "tests/fuzz/fuzz.h"

#define TARGET "0123456789abcdef0123456789abcdef01234567"
#define REC_MAGIC 0x4e484352u /* "RCHN", as hintlog.c */
#define HCRC_OFF 56u
#define RCRC_OFF 60u
#define HCRC_SEED 0x48494e54u
#define NOW 1700000000000LL
#define DROP_BEFORE (NOW - 3600 * 1000)

static const size_t batches[4] = { 1, 100, 4096, 256 * 1024 };

static void
repair(uint8_t *log, size_t len)
{
    size_t off = 0;

    while (len - off >= HINT_REC_HDR_SIZE && get32(log + off) == REC_MAGIC) {
        uint8_t *p = log + off;
        uint64_t total = (uint64_t)HINT_REC_HDR_SIZE + get32(p + 8) + get32(p + 12);
        uint32_t h = XXH32(p, HCRC_OFF, HCRC_SEED);

        put32(p + HCRC_OFF, h);
        if (total > len - off) {
            return;
        }
        put32(p + RCRC_OFF, XXH32(p + HINT_REC_HDR_SIZE, (size_t)total - HINT_REC_HDR_SIZE, h));
        off += (size_t)total;
    }
}

struct replay {
    long delivered;
    bool last_appended; /* the last record delivered is the one appended */
};

static void
on_record(void *ctx, const struct hint_rec *r)
{
    struct replay *rp = ctx;
    volatile char sink = 0;

    FUZZ_CHECK(r->klen <= HINT_KEY_MAX && r->vlen <= HINT_VAL_MAX);
    FUZZ_CHECK(!r->tomb || r->vlen == 0);
    FUZZ_CHECK(r->created_ms >= DROP_BEFORE);
    for (size_t i = 0; i < r->klen; i++) {
        sink ^= r->key[i];
    }
    for (size_t i = 0; i < r->vlen; i++) {
        sink ^= r->val[i];
    }
    (void)sink;
    rp->last_appended = r->klen == 8 && memcmp(r->key, "appended", 8) == 0 &&
                        r->version == 99 && r->created_ms == NOW && r->vlen == 5 &&
                        memcmp(r->val, "value", 5) == 0;
    rp->delivered++;
}

/* Replay from *offset to the end in batches; returns records delivered. */
static long
replay_all(struct hintlog *h, uint64_t *offset, size_t batch, struct replay *rp)
{
    long before = rp->delivered;

    for (;;) {
        uint64_t was = *offset;
        long n = hintlog_read(h, TARGET, offset, batch, DROP_BEFORE, on_record, rp);

        FUZZ_CHECK(n >= 0);
        FUZZ_CHECK(*offset >= was);
        if (n == 0 && *offset == was) {
            return rp->delivered - before;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct hint_rec added = { .key = "appended", .klen = 8, .val = "value",
                                           .vlen = 5, .version = 99, .created_ms = NOW };
    char path[PATH_MAX + 64], err[256];
    struct hintlog_stats s1, s2;
    struct replay rp1 = { 0 }, rp2 = { 0 };
    uint64_t off1 = 0, off2 = 0;
    struct hintlog *h;
    struct stat sb;
    size_t batch, len;
    uint8_t *log;

    if (size == 0) {
        return 0;
    }
    batch = batches[(data[0] >> 1) & 3];
    len = size - 1;
    log = malloc(len ? len : 1);
    memcpy(log, data + 1, len);
    if (data[0] & 1) {
        repair(log, len);
    }
    snprintf(path, sizeof path, "%s/%s.hints", fuzz_tmpdir(), TARGET);
    fuzz_write_file(path, log, len);
    free(log);

    h = hintlog_open(fuzz_tmpdir(), 0, err, sizeof err);
    FUZZ_CHECK(h != NULL);
    hintlog_stats(h, &s1);
    FUZZ_CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == s1.bytes);
    FUZZ_CHECK(s1.bytes <= len && s1.corrupt <= 1);
    FUZZ_CHECK(s1.pending * HINT_REC_HDR_SIZE <= s1.bytes);
    replay_all(h, &off1, batch, &rp1);
    FUZZ_CHECK(off1 == s1.bytes);
    FUZZ_CHECK(rp1.delivered <= (long)s1.pending);
    hintlog_close(&h);

    /* what the first open kept, the second keeps whole */
    h = hintlog_open(fuzz_tmpdir(), 0, err, sizeof err);
    FUZZ_CHECK(h != NULL);
    hintlog_stats(h, &s2);
    FUZZ_CHECK(s2.corrupt == 0 && s2.bytes == s1.bytes && s2.pending == s1.pending);
    FUZZ_CHECK(hintlog_append(h, TARGET, &added) == HINT_OK);
    FUZZ_CHECK(replay_all(h, &off2, batch, &rp2) == rp1.delivered + 1);
    FUZZ_CHECK(rp2.last_appended);
    hintlog_ack(h, TARGET, off2, (uint64_t)rp2.delivered);
    FUZZ_CHECK(stat(path, &sb) != 0); /* acked to its end: deleted */
    hintlog_close(&h);
    return 0;
}
