/*
 * storage/hintlog.h — durable hinted-handoff logs for the sloppy quorum.
 * When a replica is down, a stand-in keeps the write as a hint for it and
 * replays it when the target comes back. This module only stores, reads and
 * deletes hints; it knows nothing of members, liveness or the wire, and
 * never decides when to replay (cluster/ does).
 *
 * On disk: one append-only log per target member, `<dir>/<target>.hints`,
 * where target is 40 lowercase hex characters. A log is a plain run of
 * records from offset 0 (no file header), each
 *
 *     [record header, 64 B] [key: klen bytes] [value: vlen bytes]
 *
 * little-endian:
 *
 *     0  u32 magic "RCHN"      4  u8 flags (bit 0: tombstone)
 *     5  u8  format (1)        6  u16 zero
 *     8  u32 klen             12  u32 vlen (0 for a tombstone)
 *     16 i64 expire_ms        24  u64 version
 *     32 u64 parent           40  i64 created_ms
 *     48 u64 mcmeta: memcached's client flags, and above them its stale mark
 *        (format 1 wrote zero there: no flags)
 *                             56  u32 hcrc = XXH32(header[0..56)),
 *                                         seed 0x48494e54 ("HINT")
 *     60 u32 rcrc = XXH32(key, value) seeded with hcrc
 *
 * so rcrc covers header and bytes (segment.c's chaining), and the header has
 * its own checksum: a damaged length is never trusted, so it can never make
 * a reader allocate or skip by it. Lengths are also bounded by
 * HINT_KEY_MAX / HINT_VAL_MAX and by what the file holds.
 *
 * Damage model: at open, a log is scanned and cut (ftruncate) at the first
 * record whose header is bad or which runs past the end of the file (a torn
 * tail, or damage whose boundaries cannot be trusted): everything before it
 * is kept, the cut is counted once in `corrupt`. A record whose header holds
 * but whose key/value checksum fails is kept on disk and skipped by reads
 * (counted `corrupt`, once per process), since its length is trustworthy.
 * A header found bad by a read (damage after open) skips the read to the
 * current end of the log (counted corrupt); later appends read normally.
 *
 * Durability: an append is one writev(2) on an O_APPEND descriptor before
 * hintlog_append returns, so it survives a crash of the process; there is no
 * fsync (a power cut may lose the newest hints or leave a torn tail, which
 * the next open truncates). A failed or short write is cut back off.
 *
 * Replay contract: read from offset 0, in batches, each call resuming at the
 * *offset the last one set; replays are idempotent, so a restarted holder
 * simply starts again at 0. Acking the log's current end deletes the file;
 * if appends landed after the read, the end has moved and the file stays
 * (read on from the offset).
 *
 * Offsets are byte positions in a target's stream of hints. For the first
 * file after an open they are the file's byte offsets. When an ack deletes
 * a file, the next file for that target continues the stream where the old
 * one ended, so a replayer that keeps its offset across the ack reads the
 * new hints from their start, whether or not its ack was the one that
 * deleted the file (it cannot tell: an append may race the ack). Offset 0,
 * and any offset from before the current file, mean the current file's
 * start. hintlog_drop forgets the stream (the next one starts at 0 again),
 * as does a restart.
 *
 * Counters: pending is records in logs not yet acked (rebuilt from the files
 * at open); bytes is the size of all logs, the quantity max_bytes bounds
 * (max_bytes 0 = no bound). dropped counts appends refused for space,
 * records skipped by the hint window and records discarded by
 * hintlog_drop. Window and corrupt skips are counted once per process per
 * record (a reread of the same range does not recount; a restarted holder
 * does).
 *
 * Threads: every function is thread-safe (one mutex). Reads do their I/O and
 * run the callback outside the mutex, so appends (even from the callback)
 * are never held up behind a replay.
 */
#ifndef STORAGE_HINTLOG_H
#define STORAGE_HINTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HINT_TARGET_LEN 40 /* target ids are 40 lowercase hex chars */
#define HINT_REC_HDR_SIZE 64u
#define HINT_FORMAT_VERSION 1u
/* Bounds of one record (Redis's proto-max-bulk-len); bigger is HINT_EINVAL
 * on append and corruption on read. */
#define HINT_KEY_MAX (512u * 1024 * 1024)
#define HINT_VAL_MAX (512u * 1024 * 1024)

enum hint_status {
    HINT_OK = 0,
    HINT_EFULL = -1,  /* max_bytes would be passed; nothing written */
    HINT_EIO = -2,
    HINT_ENOMEM = -3,
    HINT_EINVAL = -4, /* bad target id, record over the bounds, bad offset */
};

const char *hint_strerror(enum hint_status st);

/* Borrowed by append (copied to the file before it returns); in the read
 * callback, borrowed from a read buffer valid only during the call. */
struct hint_rec {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;        /* ignored when tomb */
    int64_t expire_ms;  /* absolute Unix ms, 0 = none */
    uint64_t version;
    uint64_t parent;    /* the version the write replaced (opaque here) */
    bool tomb;          /* a versioned delete */
    int64_t created_ms; /* when the hint was made (for the window) */
    uint64_t mcmeta;    /* memcached client flags | STORE_MC_STALE (0: none) */
};

struct hintlog; /* opaque */

/* Open dir (creating it and its parents if needed) and index the logs
 * already there (files named <target>.hints; other files are ignored);
 * torn tails are truncated. NULL on error with a reason in err[0..errlen). */
struct hintlog *hintlog_open(const char *dir, uint64_t max_bytes, char *err,
                             size_t errlen);
void hintlog_close(struct hintlog **h); /* sets *h = NULL; NULL-safe */
/* Takes effect for later appends; nothing already logged is removed. */
void hintlog_set_max_bytes(struct hintlog *h, uint64_t max_bytes);

/* Append one record for target (write(2) before returning). HINT_EFULL when
 * the total over all targets would pass max_bytes (nothing written; counted
 * dropped); HINT_EINVAL for a bad target or a record over the bounds;
 * HINT_EIO if the file cannot be created or written (nothing kept). */
enum hint_status hintlog_append(struct hintlog *h, const char *target,
                                const struct hint_rec *r);

/* Targets that have a log, up to cap, NUL-terminated; returns how many were
 * written (order unspecified). */
size_t hintlog_targets(struct hintlog *h, char (*out)[HINT_TARGET_LEN + 1],
                       size_t cap);

/* Read target's records from byte *offset (start at 0), calling fn for each
 * until about max_bytes have been read (at least one record) or the end;
 * records with created_ms < drop_before_ms are skipped and counted dropped;
 * a record that fails its checks is skipped (counted corrupt), and if its
 * header failed, so is the rest of the log as it stood when the read began.
 * Sets *offset past what was read. Returns the number of records passed to
 * fn (0 at the end, or when target has no log), or a negative hint_status:
 * HINT_EINVAL for a bad target or an offset past the end, HINT_EIO,
 * HINT_ENOMEM (*offset then stops at the last record delivered). */
typedef void hint_rec_fn(void *ctx, const struct hint_rec *r);
long hintlog_read(struct hintlog *h, const char *target, uint64_t *offset,
                  size_t max_bytes, int64_t drop_before_ms, hint_rec_fn *fn,
                  void *ctx);

/* Everything before offset was delivered: `records` are counted replayed
 * and leave pending. When offset is the log's current end the file is
 * deleted (whatever is still pending in it leaves pending too); otherwise
 * nothing changes on disk. Unknown targets are ignored. */
void hintlog_ack(struct hintlog *h, const char *target, uint64_t offset,
                 uint64_t records);

/* Delete target's log (it left the cluster); its pending records are
 * counted dropped. */
void hintlog_drop(struct hintlog *h, const char *target);

struct hintlog_stats {
    uint64_t pending;  /* records in logs not yet acked */
    uint64_t bytes;    /* total size of the logs */
    uint64_t replayed; /* records acked */
    uint64_t dropped;  /* refused for space, out of the window, dropped */
    uint64_t corrupt;  /* damaged records skipped, damaged tails cut */
};
void hintlog_stats(struct hintlog *h, struct hintlog_stats *out);

#endif
