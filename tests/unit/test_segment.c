/*
 * tests/unit/test_segment.c — the disk tier's file format (storage/segment.c):
 * record and block encoding, checksums, scanning, and damage: a segment
 * image with garbage written at every position must scan without a crash,
 * losing only the records of the damaged block.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "storage/segment.h"

static size_t
encode(const char *key, const char *val, int64_t exp, uint8_t flags, uint8_t *out)
{
    struct seg_record r = {.key = key, .klen = (uint32_t)strlen(key), .val = val,
                           .vlen = val ? (uint32_t)strlen(val) : 0, .expire_ms = exp,
                           .version = 7, .flags = flags};

    return seg_record_encode(&r, out);
}

Test(segment, round_trips_a_record_with_every_field)
{
    uint8_t buf[256];
    struct seg_record r;
    size_t used, n = encode("user:1", "hello world", 1700000000123LL, 0, buf);

    cr_assert(eq(sz, n, seg_record_size(6, 11)));
    cr_assert(eq(int, seg_record_decode(buf, n, &r, &used), SEG_OK));
    cr_assert(eq(sz, used, n));
    cr_assert(eq(u32, r.klen, 6));
    cr_assert(eq(u32, r.vlen, 11));
    cr_assert(eq(int, memcmp(r.key, "user:1", 6), 0));
    cr_assert(eq(int, memcmp(r.val, "hello world", 11), 0));
    cr_assert(eq(i64, r.expire_ms, 1700000000123LL));
    cr_assert(eq(u64, r.version, 7));
    cr_assert(eq(u8, r.flags, 0));
}

Test(segment, round_trips_a_version_that_needs_all_64_bits)
{
    uint8_t buf[256];
    struct seg_record r = {.key = "k", .klen = 1, .val = "v", .vlen = 1,
                           .version = 0x8123456789abcdefull}, o;
    size_t used, n = seg_record_encode(&r, buf);

    cr_assert(eq(sz, n, SEG_REC_HDR_SIZE + 2), "the header did not grow");
    cr_assert(eq(int, seg_record_decode(buf, n, &o, &used), SEG_OK));
    cr_assert(eq(u64, o.version, 0x8123456789abcdefull));
    cr_assert(eq(int, memcmp(o.key, "k", 1), 0));
    cr_assert(eq(int, memcmp(o.val, "v", 1), 0));
}

static void
le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A record as format 1 wrote it: a reserved u32 version (always 0) at 28
 * and zero padding at 32. Built by hand, not by today's encoder. */
static size_t
format1_record(const char *key, const char *val, int64_t exp, uint8_t *out)
{
    uint32_t klen = (uint32_t)strlen(key), vlen = (uint32_t)strlen(val);
    uint32_t total = SEG_REC_HDR_SIZE + klen + vlen;

    memset(out, 0, SEG_REC_HDR_SIZE);
    le32(out, total);
    le32(out + 8, klen);
    le32(out + 12, vlen);
    le32(out + 16, (uint32_t)exp);
    le32(out + 20, (uint32_t)((uint64_t)exp >> 32));
    memcpy(out + SEG_REC_HDR_SIZE, key, klen);
    memcpy(out + SEG_REC_HDR_SIZE + klen, val, vlen);
    le32(out + 36, XXH32(out + SEG_REC_HDR_SIZE, klen + vlen,
                         XXH32(out, 36, 0x52435243u)));
    return total;
}

static bool
take_record(void *ctx, uint32_t blk, uint32_t off, const struct seg_record *r)
{
    struct seg_record *out = ctx;

    (void)blk;
    (void)off;
    if (r != NULL) {
        /* key and val borrow for the call only: keep whether they match */
        bool same = r->klen == 3 && memcmp(r->key, "old", 3) == 0 && r->vlen == 5 &&
                    memcmp(r->val, "value", 5) == 0;

        *out = *r;
        out->key = out->val = NULL;
        out->version += 1000; /* seen at all: 1000 + its version */
        out->flags = same;
    }
    return true;
}

Test(segment, reads_a_format_1_segment_with_version_0)
{
    struct seg_header h = {.id = 3, .seg_size = 1 << 20, .version = 1}, oh;
    uint8_t img[4096], raw[256];
    struct seg_scan_stats ss;
    struct seg_record r = {0};
    size_t len = format1_record("old", "value", 1700000000000LL, raw), blen;

    seg_header_encode(&h, img);
    cr_assert(eq(int, seg_block_pack(raw, len, 1, 0, NULL, img + SEG_HDR_SIZE,
                                     sizeof img - SEG_HDR_SIZE, &blen), SEG_OK));
    cr_assert(eq(int, seg_scan(img, SEG_HDR_SIZE + blen, NULL, &oh, take_record, &r, &ss),
                 SEG_OK));
    cr_assert(eq(u32, oh.version, 1));
    cr_assert(eq(u64, ss.records, 1));
    cr_assert(eq(u64, r.version, 1000), "read, with version 0");
    cr_assert(eq(i64, r.expire_ms, 1700000000000LL));
    cr_assert(eq(u8, r.flags, 1), "key and value intact");

    h.version = SEG_FORMAT_VERSION + 1; /* a future format is refused */
    seg_header_encode(&h, img);
    cr_assert(eq(int, seg_header_decode(img, SEG_HDR_SIZE, &oh), SEG_ECORRUPT));
}

Test(segment, encodes_a_tombstone_without_a_value)
{
    uint8_t buf[128];
    struct seg_record r;
    size_t used, n = encode("gone", "ignored", 0, SEG_REC_TOMBSTONE, buf);

    cr_assert(eq(sz, n, seg_record_size(4, 0)));
    cr_assert(eq(int, seg_record_decode(buf, n, &r, &used), SEG_OK));
    cr_assert(r.flags & SEG_REC_TOMBSTONE);
    cr_assert(eq(u32, r.vlen, 0));
}

Test(segment, detects_every_single_bit_flip_in_a_record)
{
    uint8_t buf[128], bad[128];
    size_t n = encode("key", "value", 42, 0, buf);

    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct seg_record r;
            size_t used;

            memcpy(bad, buf, n);
            bad[i] ^= (uint8_t)(1u << bit);
            cr_assert(ne(int, seg_record_decode(bad, n, &r, &used), SEG_OK),
                      "flip at byte %zu bit %d went unnoticed", i, bit);
        }
    }
}

Test(segment, asks_for_more_bytes_on_a_short_record)
{
    uint8_t buf[128];
    struct seg_record r;
    size_t used, n = encode("key", "value", 0, 0, buf);

    for (size_t len = 0; len < n; len++) {
        cr_assert(eq(int, seg_record_decode(buf, len, &r, &used), SEG_AGAIN));
    }
}

Test(segment, round_trips_the_segment_header_and_rejects_damage)
{
    struct seg_header h = {.id = 99, .created_ms = 123, .seg_size = 1 << 20,
                           .version = SEG_FORMAT_VERSION}, o;
    uint8_t buf[SEG_HDR_SIZE];

    seg_header_encode(&h, buf);
    cr_assert(eq(int, seg_header_decode(buf, sizeof buf, &o), SEG_OK));
    cr_assert(eq(u64, o.id, 99));
    buf[17] ^= 1;
    cr_assert(eq(int, seg_header_decode(buf, sizeof buf, &o), SEG_ECORRUPT));
}

static size_t
make_block(const char *const *keys, size_t n, int level, uint8_t *out, size_t cap)
{
    uint8_t raw[65536];
    size_t len = 0, blen = 0;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();

    for (size_t i = 0; i < n; i++) {
        char val[200];

        snprintf(val, sizeof val, "value of %s, value of %s, value of %s", keys[i], keys[i], keys[i]);
        len += encode(keys[i], val, 0, 0, raw + len);
    }
    cr_assert(eq(int, seg_block_pack(raw, len, (uint32_t)n, level, cctx, out, cap, &blen), SEG_OK));
    ZSTD_freeCCtx(cctx);
    return blen;
}

Test(segment, packs_compressed_and_raw_blocks_that_unpack_identically)
{
    static const char *const keys[] = {"a", "bb", "ccc", "a"};
    uint8_t blk[8192], raw[8192];

    for (int level = 0; level <= 3; level += 3) {
        size_t n = make_block(keys, 4, level, blk, sizeof blk);
        struct seg_block_hdr h;
        struct seg_record r;

        cr_assert(eq(int, seg_block_hdr_decode(blk, n, &h), SEG_OK));
        cr_assert(eq(u8, h.codec, level ? SEG_CODEC_ZSTD : SEG_CODEC_RAW));
        cr_assert(eq(u32, h.nrec, 4));
        if (level) {
            cr_assert(lt(u32, h.clen, h.ulen), "repetitive text compresses");
        }
        cr_assert(eq(int, seg_block_unpack(&h, blk + SEG_BLOCK_HDR_SIZE, raw, sizeof raw, NULL), SEG_OK));
        cr_assert(eq(int, seg_block_find(raw, h.ulen, "ccc", 3, &r), SEG_OK));
        cr_assert(eq(int, memcmp(r.val, "value of ccc", 12), 0));
        cr_assert(eq(int, seg_block_find(raw, h.ulen, "zz", 2, &r), SEG_AGAIN));
        /* a payload checksum catches damage before decompression */
        blk[SEG_BLOCK_HDR_SIZE + 3] ^= 0x40;
        cr_assert(eq(int, seg_block_unpack(&h, blk + SEG_BLOCK_HDR_SIZE, raw, sizeof raw, NULL), SEG_ECORRUPT));
    }
}

/* A small segment image: header and nblocks blocks of 3 records each. */
static size_t
make_segment(uint8_t *img, size_t cap, int nblocks, int level)
{
    struct seg_header h = {.id = 5, .seg_size = (uint32_t)cap, .version = SEG_FORMAT_VERSION};
    size_t off = SEG_HDR_SIZE;

    seg_header_encode(&h, img);
    for (int b = 0; b < nblocks; b++) {
        char k[3][16];
        const char *keys[3];

        for (int i = 0; i < 3; i++) {
            snprintf(k[i], sizeof k[i], "k%d", b * 3 + i);
            keys[i] = k[i];
        }
        off += make_block(keys, 3, level, img + off, cap - off);
    }
    return off;
}

struct seen {
    int records;
    int blocks;
    bool key[64];
};

static bool
visit(void *ctx, uint32_t blk, uint32_t off, const struct seg_record *r)
{
    struct seen *s = ctx;
    char key[16] = {0};
    int id;

    (void)blk;
    (void)off;
    if (r == NULL) {
        s->blocks++;
        return true;
    }
    s->records++;
    memcpy(key, r->key, r->klen < 15 ? r->klen : 15);
    if (sscanf(key, "k%d", &id) == 1 && id >= 0 && id < 64) {
        char want[200];

        snprintf(want, sizeof want, "value of %s, value of %s, value of %s", key, key, key);
        /* a record handed out is always intact */
        cr_assert(eq(u32, r->vlen, (uint32_t)strlen(want)));
        cr_assert(eq(int, memcmp(r->val, want, r->vlen), 0));
        s->key[id] = true;
    }
    return true;
}

Test(segment, scans_every_record_of_a_good_segment)
{
    uint8_t img[16384];
    size_t len = make_segment(img, sizeof img, 6, 1);
    struct seg_scan_stats st;
    struct seg_header h;
    struct seen s = {0};

    cr_assert(eq(int, seg_scan(img, len, NULL, &h, visit, &s, &st), SEG_OK));
    cr_assert(eq(int, s.records, 18));
    cr_assert(eq(int, s.blocks, 6));
    cr_assert(eq(u64, st.bad_blocks, 0));
    cr_assert(not(st.torn));
}

Test(segment, stops_cleanly_at_a_torn_tail_at_every_length)
{
    uint8_t img[16384];
    size_t len = make_segment(img, sizeof img, 6, 1);

    for (size_t cut = SEG_HDR_SIZE; cut <= len; cut++) {
        struct seg_scan_stats st;
        struct seg_header h;
        struct seen s = {0};

        cr_assert(eq(int, seg_scan(img, cut, NULL, &h, visit, &s, &st), SEG_OK));
        cr_assert(eq(int, s.records, 3 * s.blocks), "only whole blocks");
        cr_assert(ge(int, s.records, 3 * (int)((cut - SEG_HDR_SIZE) * 6 / (len - SEG_HDR_SIZE + 1)) - 3));
    }
}

Test(segment, loses_only_the_damaged_block_when_garbage_lands_anywhere)
{
    uint8_t img[16384], bad[16384];
    size_t len;
    int lost_max = 0;

    for (int level = 0; level <= 1; level++) {
        len = make_segment(img, sizeof img, 6, level);
        for (size_t pos = 0; pos < len; pos++) {
            static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x52, 0x43, 0x42, 0x4b};
            struct seg_scan_stats st;
            struct seg_header h;
            struct seen s = {0};
            size_t n = len - pos < sizeof junk ? len - pos : sizeof junk;
            enum seg_status rc;

            memcpy(bad, img, len);
            for (size_t i = 0; i < n; i++) {
                bad[pos + i] ^= junk[i] | 1; /* always a change */
            }
            rc = seg_scan(bad, len, NULL, &h, visit, &s, &st);
            if (pos < SEG_HDR_SIZE) {
                cr_assert(eq(int, rc, SEG_ECORRUPT), "a damaged header is refused");
                continue;
            }
            cr_assert(eq(int, rc, SEG_OK));
            /* 8 bytes of junk touch at most two blocks: 6 records */
            cr_assert(ge(int, s.records, 18 - 6), "pos %zu lost %d records", pos, 18 - s.records);
            if (18 - s.records > lost_max) {
                lost_max = 18 - s.records;
            }
        }
    }
    cr_assert(gt(int, lost_max, 0), "the damage was noticed");
}

Test(segment, survives_random_garbage_images)
{
    uint8_t img[4096];
    unsigned seed = 12345;

    for (int round = 0; round < 2000; round++) {
        struct seg_scan_stats st;
        struct seg_header h = {.id = 1, .version = SEG_FORMAT_VERSION};
        struct seen s = {0};
        size_t len = 64 + (size_t)(rand_r(&seed) % (sizeof img - 64));

        for (size_t i = 0; i < len; i++) {
            img[i] = (uint8_t)rand_r(&seed);
        }
        seg_header_encode(&h, img); /* a valid header, garbage after */
        cr_assert(eq(int, seg_scan(img, len, NULL, &h, visit, &s, &st), SEG_OK));
        cr_assert(eq(int, s.records, 0));
    }
}
