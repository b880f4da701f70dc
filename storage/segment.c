/*
 * storage/segment.c — encode and decode the disk tier's segment files
 * (layout and damage model in segment.h). Pure functions over byte buffers:
 * the tier does the I/O.
 */
#include "storage/segment.h"
#include "storage/le.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

static const char seg_magic[8] = {'R', 'I', 'N', 'G', 'S', 'E', 'G', '1'};
#define BLOCK_MAGIC 0x4b424352u /* "RCBK" little-endian */
#define REC_CRC_OFF 36u

const char *
seg_strerror(enum seg_status st)
{
    switch (st) {
    case SEG_OK:       return "ok";
    case SEG_AGAIN:    return "incomplete";
    case SEG_ECORRUPT: return "checksum or format error";
    case SEG_ENOMEM:   return "out of memory";
    case SEG_ETOOBIG:  return "too big for the segment format";
    }
    return "unknown segment status";
}

/* ---- segment header -------------------------------------------------------- */

void
seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HDR_SIZE])
{
    memset(out, 0, SEG_HDR_SIZE);
    memcpy(out, seg_magic, sizeof seg_magic);
    put32(out + 8, h->version);
    put32(out + 12, h->seg_size);
    put64(out + 16, h->id);
    put64(out + 24, h->created_ms);
    put32(out + 60, XXH32(out, 60, 0));
}

enum seg_status
seg_header_decode(const uint8_t *buf, size_t len, struct seg_header *h)
{
    if (len < SEG_HDR_SIZE) {
        return SEG_AGAIN;
    }
    if (memcmp(buf, seg_magic, sizeof seg_magic) != 0 ||
        get32(buf + 60) != XXH32(buf, 60, 0)) {
        return SEG_ECORRUPT;
    }
    h->version = get32(buf + 8);
    h->seg_size = get32(buf + 12);
    h->id = get64(buf + 16);
    h->created_ms = get64(buf + 24);
    /* format 1 differs only in records' bytes 28..35, which it always
     * wrote as zeros: read as format 2, its records have version 0 */
    return h->version == SEG_FORMAT_VERSION || h->version == 1 ? SEG_OK
                                                                : SEG_ECORRUPT;
}

/* ---- records ------------------------------------------------------------- */

size_t
seg_record_size(uint32_t klen, uint32_t vlen)
{
    return SEG_REC_HDR_SIZE + (size_t)klen + vlen;
}

/* XXH32 over the header (bar its checksum field), chained as the seed of
 * the XXH32 over key and value: no streaming state, no copy. */
static uint32_t
rec_crc(const uint8_t *rec, size_t total)
{
    uint32_t h = XXH32(rec, REC_CRC_OFF, 0x52435243u);

    return XXH32(rec + SEG_REC_HDR_SIZE, total - SEG_REC_HDR_SIZE, h);
}

size_t
seg_record_encode(const struct seg_record *r, uint8_t *out)
{
    uint32_t vlen = (r->flags & SEG_REC_TOMBSTONE) ? 0 : r->vlen;
    size_t total = seg_record_size(r->klen, vlen);

    put32(out, (uint32_t)total);
    out[4] = r->flags;
    out[5] = r->type;
    out[6] = out[7] = 0;
    put32(out + 8, r->klen);
    put32(out + 12, vlen);
    put64(out + 16, (uint64_t)r->expire_ms);
    put32(out + 24, r->mcflags);
    put64(out + 28, r->version);
    memcpy(out + SEG_REC_HDR_SIZE, r->key, r->klen);
    if (vlen != 0) {
        memcpy(out + SEG_REC_HDR_SIZE + r->klen, r->val, vlen);
    }
    put32(out + REC_CRC_OFF, rec_crc(out, total));
    return total;
}

enum seg_status
seg_record_decode(const uint8_t *buf, size_t len, struct seg_record *r,
                  size_t *used)
{
    uint32_t total, klen, vlen;

    if (len < SEG_REC_HDR_SIZE) {
        return SEG_AGAIN;
    }
    total = get32(buf);
    klen = get32(buf + 8);
    vlen = get32(buf + 12);
    /* lengths first, in 64 bits, so a damaged one cannot wrap */
    if ((uint64_t)SEG_REC_HDR_SIZE + klen + vlen != total) {
        return SEG_ECORRUPT;
    }
    if (total > len) {
        return SEG_AGAIN;
    }
    if (get32(buf + REC_CRC_OFF) != rec_crc(buf, total)) {
        return SEG_ECORRUPT;
    }
    r->flags = buf[4];
    r->type = buf[5];
    r->klen = klen;
    r->vlen = vlen;
    r->expire_ms = (int64_t)get64(buf + 16);
    r->mcflags = get32(buf + 24);
    /* format 1 wrote 0 at 28 (reserved) and 32 (padding): version 0 */
    r->version = get64(buf + 28);
    r->key = (const char *)buf + SEG_REC_HDR_SIZE;
    r->val = r->key + klen;
    *used = total;
    return SEG_OK;
}

/* ---- blocks -------------------------------------------------------------- */

void
seg_block_hdr_encode(const struct seg_block_hdr *h, uint8_t out[SEG_BLOCK_HDR_SIZE])
{
    put32(out, BLOCK_MAGIC);
    put32(out + 4, h->clen);
    put32(out + 8, h->ulen);
    put32(out + 12, h->nrec);
    out[16] = h->codec;
    out[17] = out[18] = out[19] = 0;
    put64(out + 20, h->sum);
    put32(out + 28, XXH32(out, 28, 0));
}

enum seg_status
seg_block_hdr_decode(const uint8_t *buf, size_t len, struct seg_block_hdr *h)
{
    if (len < SEG_BLOCK_HDR_SIZE) {
        return SEG_AGAIN;
    }
    if (get32(buf) != BLOCK_MAGIC || get32(buf + 28) != XXH32(buf, 28, 0)) {
        return SEG_ECORRUPT;
    }
    h->clen = get32(buf + 4);
    h->ulen = get32(buf + 8);
    h->nrec = get32(buf + 12);
    h->codec = buf[16];
    h->sum = get64(buf + 20);
    if (h->ulen > SEG_BLOCK_MAX_ULEN || h->codec > SEG_CODEC_ZSTD ||
        (h->codec == SEG_CODEC_RAW && h->clen != h->ulen) ||
        h->clen > ZSTD_compressBound(SEG_BLOCK_MAX_ULEN)) {
        return SEG_ECORRUPT;
    }
    return SEG_OK;
}

size_t
seg_block_bound(size_t ulen)
{
    return SEG_BLOCK_HDR_SIZE + ZSTD_compressBound(ulen);
}

enum seg_status
seg_block_pack(const uint8_t *raw, size_t ulen, uint32_t nrec, int level,
               ZSTD_CCtx *cctx, uint8_t *out, size_t cap, size_t *outlen)
{
    struct seg_block_hdr h = {.ulen = (uint32_t)ulen, .nrec = nrec};
    uint8_t *payload = out + SEG_BLOCK_HDR_SIZE;
    size_t clen = 0;

    if (ulen > SEG_BLOCK_MAX_ULEN) {
        return SEG_ETOOBIG;
    }
    if (cap < seg_block_bound(ulen)) {
        return SEG_ENOMEM;
    }
    if (level > 0 && cctx != NULL) {
        clen = ZSTD_compressCCtx(cctx, payload, cap - SEG_BLOCK_HDR_SIZE, raw,
                                 ulen, level);
        if (ZSTD_isError(clen)) {
            clen = 0;
        }
    }
    if (clen != 0 && clen < ulen) {
        h.codec = SEG_CODEC_ZSTD;
    } else {
        /* off, failed, or incompressible: raw costs no CPU to read back */
        clen = ulen;
        h.codec = SEG_CODEC_RAW;
        memcpy(payload, raw, ulen);
    }
    h.clen = (uint32_t)clen;
    h.sum = XXH64(payload, clen, 0);
    seg_block_hdr_encode(&h, out);
    *outlen = SEG_BLOCK_HDR_SIZE + clen;
    return SEG_OK;
}

enum seg_status
seg_block_unpack(const struct seg_block_hdr *h, const uint8_t *payload,
                 uint8_t *out, size_t cap, ZSTD_DCtx *dctx)
{
    size_t n;

    if (cap < h->ulen) {
        return SEG_ENOMEM;
    }
    if (XXH64(payload, h->clen, 0) != h->sum) {
        return SEG_ECORRUPT;
    }
    if (h->codec == SEG_CODEC_RAW) {
        /* an empty block may come with out == NULL (seg_scan allocates
         * nothing for it), and memcpy from or to NULL is undefined even
         * for 0 bytes */
        if (h->clen != 0) {
            memcpy(out, payload, h->clen);
        }
        return SEG_OK;
    }
    n = dctx != NULL ? ZSTD_decompressDCtx(dctx, out, cap, payload, h->clen)
                     : ZSTD_decompress(out, cap, payload, h->clen);
    if (ZSTD_isError(n) || n != h->ulen) {
        return SEG_ECORRUPT;
    }
    return SEG_OK;
}

enum seg_status
seg_block_find(const uint8_t *raw, size_t len, const char *key, size_t klen,
               struct seg_record *out)
{
    enum seg_status rc = SEG_AGAIN;
    size_t off = 0;

    while (off < len) {
        struct seg_record r;
        size_t used;

        if (seg_record_decode(raw + off, len - off, &r, &used) != SEG_OK) {
            /* a later record could be newer: without it, the answer is
             * unknown, not "the older one" */
            return SEG_ECORRUPT;
        }
        if (r.klen == klen && memcmp(r.key, key, klen) == 0) {
            *out = r; /* keep going: the last one is the newest */
            rc = SEG_OK;
        }
        off += used;
    }
    return rc;
}

/* ---- scanning ------------------------------------------------------------ */

/* The next offset at or after `from` holding a block header whose checksum
 * holds, or len if none. */
static size_t
resync(const uint8_t *img, size_t len, size_t from)
{
    for (size_t off = from; off + SEG_BLOCK_HDR_SIZE <= len; off++) {
        struct seg_block_hdr h;

        if (img[off] == (uint8_t)BLOCK_MAGIC &&
            seg_block_hdr_decode(img + off, len - off, &h) == SEG_OK) {
            return off;
        }
    }
    return len;
}

enum seg_status
seg_scan(const uint8_t *img, size_t len, ZSTD_DCtx *dctx,
         struct seg_header *hdr, seg_visit_fn fn, void *ctx,
         struct seg_scan_stats *stats)
{
    uint8_t *raw = NULL;
    size_t rawcap = 0;
    size_t off = SEG_HDR_SIZE;
    uint32_t idx = 0;

    memset(stats, 0, sizeof *stats);
    if (seg_header_decode(img, len, hdr) != SEG_OK) {
        return SEG_ECORRUPT;
    }
    while (off < len) {
        struct seg_block_hdr h;
        enum seg_status st = seg_block_hdr_decode(img + off, len - off, &h);
        size_t roff = 0;
        bool stop = false;

        if (st == SEG_AGAIN) {
            stats->torn = true;
            stats->skipped_bytes += len - off;
            break;
        }
        if (st != SEG_OK) {
            size_t next = resync(img, len, off + 1);

            stats->bad_blocks++;
            stats->skipped_bytes += next - off;
            off = next;
            continue;
        }
        if ((uint64_t)h.clen > len - off - SEG_BLOCK_HDR_SIZE) {
            /* the header made it to disk, its payload did not: but a good
             * block may still follow if the header itself is damaged in a
             * way its checksum missed; cheap to look */
            size_t next = resync(img, len, off + 1);

            if (next == len) {
                stats->torn = true;
                stats->skipped_bytes += len - off;
                break;
            }
            stats->bad_blocks++;
            stats->skipped_bytes += next - off;
            off = next;
            continue;
        }
        if (h.ulen > rawcap) {
            uint8_t *n = realloc(raw, h.ulen);

            if (n == NULL) {
                free(raw);
                return SEG_ENOMEM;
            }
            raw = n;
            rawcap = h.ulen;
        }
        if (seg_block_unpack(&h, img + off + SEG_BLOCK_HDR_SIZE, raw, rawcap,
                             dctx) != SEG_OK) {
            /* the header was good, so its length is: skip just this block */
            stats->bad_blocks++;
            off += SEG_BLOCK_HDR_SIZE + h.clen;
            continue;
        }
        stats->blocks++;
        if (fn != NULL && !fn(ctx, idx, (uint32_t)off, NULL)) {
            break;
        }
        while (roff < h.ulen) {
            struct seg_record r;
            size_t used;

            if (seg_record_decode(raw + roff, h.ulen - roff, &r, &used) != SEG_OK) {
                stats->bad_records++;
                break;
            }
            stats->records++;
            if (fn != NULL && !fn(ctx, idx, (uint32_t)off, &r)) {
                stop = true;
                break;
            }
            roff += used;
        }
        idx++;
        off += SEG_BLOCK_HDR_SIZE + h.clen;
        if (stop) {
            break;
        }
    }
    free(raw);
    return SEG_OK;
}
