/*
 * storage/segment.h — the disk tier's file format: pure encode/decode
 * functions, no I/O, no locks, no global state, so every one of them can be
 * driven by a unit test or a fuzzer with arbitrary bytes.
 *
 * A segment file is
 *
 *     [segment header, 64 B] [block] [block] ...
 *
 * and never changes once a block is written (append-only; the tier opens a
 * new segment rather than appending to an old one after a restart). A block
 * is
 *
 *     [block header, 32 B] [payload: clen bytes]
 *
 * where the payload is a run of records, zstd-compressed (codec 1) or stored
 * raw (codec 0, disk-compression 0). The block header carries its own
 * XXH32 (so a damaged length is never trusted) and the XXH64 of the payload
 * as stored (so a damaged payload is never decompressed). A record is
 *
 *     [record header, 40 B] [key] [value]
 *
 * with its own XXH32 over header and bytes. The record header is
 *
 *     0 total length   u32      16 expire_ms  i64 (0 = none)
 *     4 flags          u8       24 mcflags    u32
 *     5 type           u8       28 version    u64 (0 = none)
 *     6 zero           u16      36 XXH32      u32
 *     8 klen           u32
 *    12 vlen           u32
 *
 * Format 2 (SEG_FORMAT_VERSION) gave the version its 64 bits; format 1 had
 * a reserved u32 at 28 and a zero u32 at 32, both always written as zero,
 * so a format-1 segment is read by the same code with every version 0.
 * Everything is little-endian.
 *
 * Damage model: a bad segment header makes the whole file unreadable; a bad
 * block header is skipped by searching forward for the next block magic
 * whose header checksum holds; a bad payload checksum loses that block; a
 * bad record loses the rest of its block (record boundaries are not trusted
 * past it). A block whose payload runs past the end of the file is a torn
 * write and ends the scan.
 */
#ifndef STORAGE_SEGMENT_H
#define STORAGE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#define SEG_HDR_SIZE 64u
#define SEG_BLOCK_HDR_SIZE 32u
#define SEG_REC_HDR_SIZE 40u
/* 2: records carry a 64-bit version (format 1 had a reserved 32-bit field
 * and 4 bytes of padding, always zero, in its place; still read). */
#define SEG_FORMAT_VERSION 2u
/* A block's uncompressed size is bounded so a damaged (but checksummed)
 * header can never make a reader allocate more than this. Records larger
 * than the block target get a block of their own, so this also bounds a
 * value stored in the tier (the store's 512 MiB default fits). */
#define SEG_BLOCK_MAX_ULEN (600u * 1024 * 1024)

enum seg_status {
    SEG_OK = 0,
    SEG_AGAIN = -1,    /* not enough bytes yet (a torn tail when at EOF) */
    SEG_ECORRUPT = -2, /* magic, checksum or length check failed */
    SEG_ENOMEM = -3,
    SEG_ETOOBIG = -4,  /* record or block exceeds the format's limits */
};

const char *seg_strerror(enum seg_status st);

struct seg_header {
    uint64_t id;          /* monotonic per directory; names the file */
    uint64_t created_ms;
    uint32_t seg_size;    /* the size limit the writer used */
    uint32_t version;     /* SEG_FORMAT_VERSION */
};

void seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HDR_SIZE]);
enum seg_status seg_header_decode(const uint8_t *buf, size_t len,
                                  struct seg_header *h);

enum {
    SEG_REC_TOMBSTONE = 1 << 0, /* the key was deleted: no value */
    SEG_REC_MCFLAGS = 1 << 1,   /* mcflags is meaningful */
};

/* One record, as decoded: key and val borrow from the decoded buffer. */
struct seg_record {
    const char *key;
    const char *val;
    uint32_t klen;
    uint32_t vlen;
    int64_t expire_ms; /* absolute Unix ms, 0 = none */
    uint32_t mcflags;
    uint64_t version;  /* the cluster's version; 0 = none (and format 1) */
    uint8_t flags;     /* SEG_REC_* */
    uint8_t type;      /* enum item_type */
};

size_t seg_record_size(uint32_t klen, uint32_t vlen);
/* Write r into out, which has seg_record_size(r->klen, r->vlen) bytes;
 * returns that size. */
size_t seg_record_encode(const struct seg_record *r, uint8_t *out);
/* Decode the record at buf[0..len). On SEG_OK *used bytes were consumed and
 * r borrows from buf. SEG_AGAIN if len is short of a whole record,
 * SEG_ECORRUPT if its checksum or lengths are wrong. */
enum seg_status seg_record_decode(const uint8_t *buf, size_t len,
                                  struct seg_record *r, size_t *used);

enum { SEG_CODEC_RAW = 0, SEG_CODEC_ZSTD = 1 };

struct seg_block_hdr {
    uint32_t clen;  /* payload bytes as stored */
    uint32_t ulen;  /* payload bytes once decompressed */
    uint32_t nrec;
    uint8_t codec;
    uint64_t sum;   /* XXH64 of the stored payload */
};

void seg_block_hdr_encode(const struct seg_block_hdr *h,
                          uint8_t out[SEG_BLOCK_HDR_SIZE]);
/* Checks magic, header checksum and length sanity (not the payload). */
enum seg_status seg_block_hdr_decode(const uint8_t *buf, size_t len,
                                     struct seg_block_hdr *h);

/* Bytes a block of ulen raw bytes may need, header included. */
size_t seg_block_bound(size_t ulen);
/* Turn raw records raw[0..ulen) into a block (header and payload) in
 * out[0..cap); level 0 stores raw, otherwise zstd at that level with cctx.
 * A payload that zstd cannot shrink is stored raw. */
enum seg_status seg_block_pack(const uint8_t *raw, size_t ulen, uint32_t nrec,
                               int level, ZSTD_CCtx *cctx, uint8_t *out,
                               size_t cap, size_t *outlen);
/* Verify payload[0..h->clen) against h->sum and decompress it into
 * out[0..cap), cap >= h->ulen. */
enum seg_status seg_block_unpack(const struct seg_block_hdr *h,
                                 const uint8_t *payload, uint8_t *out,
                                 size_t cap, ZSTD_DCtx *dctx);

/* ---- scanning a whole segment image (rebuild, reclaim, tests) ----------- */

struct seg_scan_stats {
    uint64_t blocks;        /* good blocks */
    uint64_t records;       /* good records */
    uint64_t bad_blocks;    /* header or payload checks failed */
    uint64_t bad_records;   /* records lost inside otherwise good blocks */
    uint64_t skipped_bytes; /* bytes passed over while resyncing */
    bool torn;              /* the image ends inside a block */
};

/* Called once with r == NULL at the start of every good block, then for
 * each of its good records: block_idx counts good blocks from 0, block_off
 * is the block's offset in the image. r borrows from a buffer valid only
 * during the call. Return false to stop the scan. */
typedef bool (*seg_visit_fn)(void *ctx, uint32_t block_idx, uint32_t block_off,
                             const struct seg_record *r);

/* Walk img[0..len) (a whole segment file). SEG_ECORRUPT if the segment
 * header is bad (nothing visited); otherwise SEG_OK, with damage counted in
 * *stats. Never reads outside img. */
enum seg_status seg_scan(const uint8_t *img, size_t len, ZSTD_DCtx *dctx,
                         struct seg_header *hdr, seg_visit_fn fn, void *ctx,
                         struct seg_scan_stats *stats);

/* Find the last record for key in an unpacked block raw[0..len). Returns
 * SEG_OK with *r filled (it may be a tombstone), SEG_AGAIN when absent,
 * SEG_ECORRUPT when a damaged record was met before the key was found. */
enum seg_status seg_block_find(const uint8_t *raw, size_t len, const char *key,
                               size_t klen, struct seg_record *r);

#endif
