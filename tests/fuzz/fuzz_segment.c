/*
 * tests/fuzz/fuzz_segment.c — the disk tier's segment decoder
 * (storage/segment.c) on a damaged or hostile segment file, both ways the
 * tier reads one: at start, seg_scan over the whole file (storage/tier.c's
 * rebuild, which mmaps it); then, for every block the scan found good, a
 * read as tier.c's read_block does it: the bytes from the block's offset to
 * the next good block (or the end), header decoded, payload unpacked,
 * seg_block_find for keys the scan reported.
 *
 * The first input byte is a mode; the rest is the file:
 *   bit 0  repair checksums first (segment header, block headers and
 *          payloads, raw blocks' records), so mutations reach the length
 *          and codec checks behind them instead of dying at the first XXH
 * The repair knows the layout in segment.h; it fixes sums, nothing else.
 *
 * Properties checked beyond ASan/UBSan: the scan's counts add up within
 * the file; a block the scan found good reads back good; seg_block_find
 * answers the last record for a key that the scan saw in the block, or
 * damage where the scan also met damage.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "storage/le.h"
#include "storage/segment.h"
#include "tests/fuzz/fuzz.h"

#define BLOCK_MAGIC 0x4b424352u /* "RCBK", as segment.c */
#define REC_CRC_OFF 36u
#define REC_CRC_SEED 0x52435243u
#define MAX_BLOCKS 64
#define KEYS_PER_BLOCK 4
#define KEY_MAX 64

static ZSTD_DCtx *dctx;

struct seen_key {
    char key[KEY_MAX];
    uint32_t klen, vlen;
    uint64_t version;
    uint8_t flags;
};

struct seen_block {
    uint32_t off;
    size_t nkeys;
    struct seen_key keys[KEYS_PER_BLOCK];
};

struct seen {
    size_t nblocks;
    bool truncated; /* more blocks than MAX_BLOCKS */
    struct seen_block blocks[MAX_BLOCKS];
    uint64_t records;
};

static void
repair_records(uint8_t *raw, size_t len)
{
    size_t off = 0;

    while (len - off >= SEG_REC_HDR_SIZE) {
        uint8_t *r = raw + off;
        uint64_t total = get32(r);

        if (total != (uint64_t)SEG_REC_HDR_SIZE + get32(r + 8) + get32(r + 12) ||
            total > len - off) {
            return;
        }
        put32(r + REC_CRC_OFF,
              XXH32(r + SEG_REC_HDR_SIZE, (size_t)total - SEG_REC_HDR_SIZE,
                    XXH32(r, REC_CRC_OFF, REC_CRC_SEED)));
        off += (size_t)total;
    }
}

static void
repair(uint8_t *img, size_t len)
{
    size_t off = SEG_HDR_SIZE;

    if (len < SEG_HDR_SIZE) {
        return;
    }
    put32(img + 60, XXH32(img, 60, 0));
    while (len - off >= SEG_BLOCK_HDR_SIZE && get32(img + off) == BLOCK_MAGIC) {
        uint8_t *h = img + off, *payload = h + SEG_BLOCK_HDR_SIZE;
        uint32_t clen = get32(h + 4);

        if (clen > len - off - SEG_BLOCK_HDR_SIZE) {
            put32(h + 28, XXH32(h, 28, 0)); /* a torn block, honestly torn */
            return;
        }
        if (h[16] == SEG_CODEC_RAW) {
            repair_records(payload, clen);
        }
        put64(h + 20, XXH64(payload, clen, 0));
        put32(h + 28, XXH32(h, 28, 0));
        off += SEG_BLOCK_HDR_SIZE + clen;
    }
}

static bool
visit(void *ctx, uint32_t block_idx, uint32_t block_off, const struct seg_record *r)
{
    struct seen *s = ctx;
    struct seen_block *b;
    volatile uint8_t sink = 0;

    if (r == NULL) {
        FUZZ_CHECK(s->truncated || block_idx == s->nblocks);
        if (s->nblocks == MAX_BLOCKS) {
            s->truncated = true;
            return true;
        }
        s->blocks[s->nblocks++] = (struct seen_block){ .off = block_off };
        return true;
    }
    s->records++;
    for (uint32_t i = 0; i < r->klen; i++) {
        sink ^= (uint8_t)r->key[i];
    }
    for (uint32_t i = 0; i < r->vlen; i++) {
        sink ^= (uint8_t)r->val[i];
    }
    (void)sink;
    if (s->truncated || s->nblocks == 0 || r->klen > KEY_MAX) {
        return true;
    }
    b = &s->blocks[s->nblocks - 1];
    FUZZ_CHECK(b->off == block_off);
    for (size_t i = 0; i < b->nkeys; i++) {
        struct seen_key *k = &b->keys[i];

        if (k->klen == r->klen && memcmp(k->key, r->key, r->klen) == 0) {
            /* the last record for a key is the one a read finds */
            k->vlen = r->vlen;
            k->version = r->version;
            k->flags = r->flags;
            return true;
        }
    }
    if (b->nkeys < KEYS_PER_BLOCK) {
        struct seen_key *k = &b->keys[b->nkeys++];

        memcpy(k->key, r->key, r->klen);
        k->klen = r->klen;
        k->vlen = r->vlen;
        k->version = r->version;
        k->flags = r->flags;
    }
    return true;
}

/* Read block i as read_block does: its bytes run to the next good block. */
static void
check_read(const uint8_t *img, size_t len, const struct seen *s, size_t i,
           const struct seg_scan_stats *st)
{
    const struct seen_block *b = &s->blocks[i];
    size_t end = i + 1 < s->nblocks ? s->blocks[i + 1].off : len;
    size_t got = end - b->off;
    struct seg_block_hdr h;
    uint8_t *raw;

    FUZZ_CHECK(b->off >= SEG_HDR_SIZE && b->off < end);
    FUZZ_CHECK(seg_block_hdr_decode(img + b->off, got, &h) == SEG_OK);
    FUZZ_CHECK((uint64_t)h.clen + SEG_BLOCK_HDR_SIZE <= got);
    raw = malloc(h.ulen ? h.ulen : 1);
    FUZZ_CHECK(seg_block_unpack(&h, img + b->off + SEG_BLOCK_HDR_SIZE, raw, h.ulen, dctx) ==
               SEG_OK);
    for (size_t k = 0; k < b->nkeys; k++) {
        const struct seen_key *want = &b->keys[k];
        struct seg_record r;

        switch (seg_block_find(raw, h.ulen, want->key, want->klen, &r)) {
        case SEG_OK:
            FUZZ_CHECK(r.klen == want->klen && memcmp(r.key, want->key, r.klen) == 0);
            FUZZ_CHECK(r.vlen == want->vlen && r.version == want->version &&
                       r.flags == want->flags);
            FUZZ_CHECK((const uint8_t *)r.val + r.vlen <= raw + h.ulen);
            break;
        case SEG_ECORRUPT:
            FUZZ_CHECK(st->bad_records > 0); /* the scan met it too */
            break;
        default:
            FUZZ_CHECK(!"a key the scan saw is missing from its block");
        }
    }
    free(raw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seg_scan_stats st;
    struct seg_header hdr;
    struct seen *s;
    uint8_t *img;
    size_t len;

    if (size == 0) {
        return 0;
    }
    if (dctx == NULL) {
        dctx = ZSTD_createDCtx(); /* the tier keeps one too */
    }
    len = size - 1;
    /* an exact-size copy: a read past the file's end is caught */
    img = malloc(len ? len : 1);
    memcpy(img, data + 1, len);
    if (data[0] & 1) {
        repair(img, len);
    }
    s = calloc(1, sizeof *s);
    if (seg_scan(img, len, dctx, &hdr, visit, s, &st) == SEG_OK) {
        FUZZ_CHECK(len >= SEG_HDR_SIZE);
        FUZZ_CHECK(hdr.version == 1 || hdr.version == SEG_FORMAT_VERSION);
        FUZZ_CHECK(st.skipped_bytes <= len - SEG_HDR_SIZE);
        FUZZ_CHECK(st.records == s->records);
        FUZZ_CHECK(st.blocks == s->nblocks || s->truncated);
        /* a block costs at least its header */
        FUZZ_CHECK(st.blocks * SEG_BLOCK_HDR_SIZE <= len - SEG_HDR_SIZE);
        for (size_t i = 0; i < s->nblocks; i++) {
            check_read(img, len, s, i, &st);
        }
    } else {
        FUZZ_CHECK(s->nblocks == 0 && s->records == 0);
    }
    free(s);
    free(img);
    return 0;
}
