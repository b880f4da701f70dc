/*
 * storage/tier.h — the disk tier: items evicted from memory are appended to
 * zstd-compressed, append-only segment files (format in segment.h) instead
 * of being dropped, and read back (and promoted) on a GET.
 *
 * What it keeps in RAM: one 16-byte index entry per cold key — the key's
 * 64-bit hash (two low bits reused as the "recently read" and "also in
 * memory" flags), a 32-bit location (segment slot and block number, or a
 * ticket in the write queue) and the expiry in seconds — in open-addressing
 * tables split into partitions with a lock each, plus a block-offset table
 * per segment (4 bytes per block). tier_ram_bytes() is what the store adds
 * to its used memory. The key itself is not kept: a read verifies it
 * against the record (a 62-bit fingerprint collision loses the older key,
 * about n^2 / 2^63).
 *
 * Threads: one writer thread owns the segment files' tails; it takes items
 * from a bounded queue, packs them into blocks, writes them, reclaims the
 * oldest segment when the tier is full and compacts mostly-dead ones when
 * idle. Every other function may be called from any thread. A queued item is
 * still found by tier_read (from the queue), so nothing is invisible
 * between eviction and the write.
 *
 * Contract with the store (storage/store.c): the store serializes every
 * call about one key under that key's shard lock, so the tier only has to be
 * consistent per call; it never calls back into the store. An entry flagged
 * "in memory" (set by a promoting tier_read) means the store holds an
 * identical copy: evicting it again costs no write (tier_put returns
 * TIER_PUT_CLEAN), and any change to the key must tier_forget() it.
 *
 * SCAN, KEYS and RANDOMKEY reach cold keys through tier_scan and
 * tier_random_key, which read blocks (the index holds no key bytes). Cold
 * keys expire when read, scanned, reclaimed or counted, not actively.
 */
#ifndef STORAGE_TIER_H
#define STORAGE_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/item.h"

struct tier_config {
    const char *dir;       /* where the segment files live; NULL = "." */
    uint64_t max_bytes;    /* disk-max-bytes; 0 = 10 GiB */
    uint64_t segment_size; /* 0 = 64 MiB; lowered so that 3 segments fit */
    int level;             /* zstd level; 0 stores blocks raw */
    uint64_t queue_bytes;  /* items waiting for the writer; 0 = 16 MiB */
    uint32_t block_size;   /* uncompressed block target; 0 = 16 KiB */
    key_slot_fn slot_of;   /* the store's store_config.slot_of (key_hash_of) */
};

struct tier; /* opaque */

/* Open dir, rebuild the index from every segment in it (warm restart:
 * records with an expiry <= now_ms are skipped, damage is counted and
 * logged through the log callback) and start the writer. NULL on failure
 * with the reason in err. */
typedef void (*tier_log_fn)(const char *msg);
struct tier *tier_create(const struct tier_config *cfg, int64_t now_ms,
                         tier_log_fn log, char *err, size_t errlen);
/* Write everything queued, fsync, stop the writer, free. Sets *t = NULL. */
void tier_destroy(struct tier **t);

/* ---- called by the store, under the key's shard lock -------------------- */

enum tier_put_result {
    TIER_PUT_QUEUED = 0,  /* pinned and queued; the caller may unlink it */
    TIER_PUT_CLEAN = 1,   /* the disk already holds this exact item */
    TIER_PUT_REFUSED = -1 /* queue full or disk failing: evict it plainly */
};
/* Hand an item being evicted to the tier. An item fits when the queue's
 * bytes stay within its cap, or when the queue is empty (so an item larger
 * than the cap is queued alone); otherwise, without wait, it is refused
 * (counted in refused and refused_full) and the caller evicts it plainly.
 * With wait, blocks for room instead (shutdown flush only): it always ends,
 * since the writer empties the queue. */
enum tier_put_result tier_put(struct tier *t, uint64_t hash, struct item *it,
                              bool wait);

/* The key changed or went away in memory (write, delete, rename, expiry):
 * drop its entry and queue a tombstone so a restart does not bring the old
 * value back. Never reads the disk. True when a cold, not yet expired copy
 * existed that memory did not also hold (DEL's answer for a cold key). */
bool tier_forget(struct tier *t, uint64_t hash, const char *key, size_t klen);

/* Index-only existence: 1 cold and alive, 0 absent (an expired entry is
 * dropped), -1 expiring within this second: read to be sure. With touch the
 * entry is marked recently read. */
int tier_has(struct tier *t, uint64_t hash, int64_t now_ms, bool touch);

struct tier_value {
    char *buf;           /* owns key and val */
    const char *key;
    const char *val;
    uint32_t klen;
    uint32_t vlen;
    int64_t expire_ms;   /* 0 = none */
    uint32_t mcflags;
    bool has_mcflags;
    uint64_t version;    /* the cluster's version, 0 = none */
};

/* Read a cold key (from the write queue or one block on disk, checksums and
 * key verified). 1: found, *out filled (free with tier_value_release);
 * 0: absent, expired, or lost to damage (counted). With promote the entry
 * is flagged as held in memory too: the caller links the value, or calls
 * tier_unpromote if it cannot. Synchronous: one pread of a block of at most
 * block_size compressed bytes plus its decompression. */
int tier_read(struct tier *t, uint64_t hash, const char *key, size_t klen,
              int64_t now_ms, bool promote, struct tier_value *out);
void tier_unpromote(struct tier *t, uint64_t hash);

/* Would reading the key wait for the device? True when its current copy is
 * in a block on disk (not queued, not also in memory, not known expired)
 * that is not wholly in the page cache (a non-blocking RWF_NOWAIT read of
 * it fails or comes up short). Never blocks on I/O. A hint: the answer
 * can be stale by the time the key is read. */
bool tier_cold(struct tier *t, uint64_t hash, int64_t now_ms);
/* Read the block holding the key's current copy so that it is in the page
 * cache, for a later tier_read (reader threads, no store lock held). Takes
 * only the index partition lock (briefly) and seglock (shared, as
 * tier_read does); does nothing if the key is no longer on disk or its
 * segment was reclaimed meanwhile. Counted in async_reads. */
void tier_prefetch(struct tier *t, uint64_t hash);
void tier_value_release(struct tier_value *v);

/* ---- called by the store without locks ---------------------------------- */

/* Backpressure: wait (at most 1 s) while the write queue is nearly full, so
 * that evictions are queued rather than refused. */
void tier_wait_room(struct tier *t);
/* FLUSHALL: forget every cold key and delete every segment. */
void tier_flush_all(struct tier *t);
/* Wait until every queued item is on disk and fsync it (shutdown). */
void tier_sync(struct tier *t);

/* ---- walking the cold keys (SCAN, KEYS, RANDOMKEY) ---------------------- */

/* A cold key: key bytes borrowed for the call only; expire_ms 0 = none.
 * Called with no tier lock held; it must not call back into the tier. */
typedef void (*tier_key_fn)(void *ctx, const char *key, uint32_t klen,
                            int64_t expire_ms);

/* Walk the blocks on disk in the order they were written, from position
 * *pos (0 = the oldest), reading at most max_blocks blocks; each key whose
 * index entry points at the record read is reported once (its last
 * record, not deleted, overwritten or expired; "also in memory" keys
 * included). Returns false with *pos the position to continue from, or
 * true at the end of the disk, with *pos the end (a later walk from there
 * sees only blocks written since). With with_queue, the end also reports
 * every key still waiting in the write queue, atomically with finding the
 * end, so a key on its way to disk is not missed. A record only ever moves
 * forward in this order (writes and rewrites go to the head), so a key
 * that stays cold is reported at least once; one rewritten by reclaim or
 * compaction behind the walk may be reported twice. */
bool tier_scan(struct tier *t, uint64_t *pos, size_t max_blocks, bool with_queue,
               tier_key_fn fn, void *ctx, int64_t now_ms);
/* The position the next published block will have. */
uint64_t tier_scan_end(struct tier *t);
/* Report one random cold key (a random block's random live record; if a
 * few tries find none, the first key a walk finds). False if none. */
bool tier_random_key(struct tier *t, tier_key_fn fn, void *ctx, int64_t now_ms);
/* True when memory holds the key and its clean twin is in a block
 * numbered below `before` (not queued): a tier_scan that went past that
 * block reported the key, so a walk of memory after it may skip it. */
bool tier_twin(struct tier *t, uint64_t hash, uint64_t before);

/* RAM the tier's index costs: counted in the store's used memory. */
uint64_t tier_ram_bytes(struct tier *t);
/* Keys only on disk (not also in memory). */
uint64_t tier_cold_keys(struct tier *t);
/* Keys of the cluster slot only on disk (slots on): walks the index, reads
 * no block. */
uint64_t tier_slot_count(struct tier *t, unsigned slot, int64_t now_ms);

struct tier_stats {
    uint64_t cold_keys;
    uint64_t index_entries;
    uint64_t ram_bytes;
    uint64_t disk_bytes;        /* segment files, headers included */
    uint64_t disk_max_bytes;
    uint64_t segments;
    uint64_t raw_bytes_written; /* uncompressed record bytes */
    uint64_t disk_bytes_written;/* compressed block bytes */
    uint64_t records_written;
    uint64_t blocks_written;
    uint64_t disk_reads;        /* block reads */
    uint64_t queue_hits;        /* reads served from the write queue */
    uint64_t promotions;
    uint64_t clean_evictions;   /* evicted again without a write */
    uint64_t refused;           /* evictions the tier could not take: */
    uint64_t refused_full;      /*  the queue stayed full (see tier_put) */
    uint64_t refused_failing;   /*  within 1 s of a write error */
    uint64_t refused_too_big;   /*  larger than a block can hold (600 MiB) */
    uint64_t evicted;           /* cold keys dropped by reclaim */
    uint64_t expired;           /* cold keys found expired */
    uint64_t reclaimed_segments;
    uint64_t compacted_segments;
    uint64_t rewritten_records; /* recently read, moved by reclaim/compaction */
    uint64_t tombstones;
    uint64_t queue_bytes;
    uint64_t read_errors;       /* checksum, key mismatch, short read */
    uint64_t write_errors;      /* ENOSPC and other write failures */
    uint64_t bad_blocks;        /* found at rebuild */
    uint64_t bad_records;
    uint64_t torn_segments;
    uint64_t unreadable_segments;
    uint64_t rebuilt_keys;      /* entries loaded at start */
    uint64_t rebuild_ms;
    uint64_t read_ns_total;     /* time in disk reads (pread + unpack) */
};
void tier_stats(struct tier *t, struct tier_stats *out);

#endif
