/*
 * storage/tier.c — the disk tier (contract in tier.h, file format in
 * segment.h).
 *
 * Index: TIER_PARTS partitions, each an open-addressing, linear-probing
 * table of 16-byte entries under its own mutex; deletion shifts entries
 * back, so there are no tombstones in the table. Load is kept at most 3/4.
 *
 * Locations (32 bits): the top bit set means "in the write queue", the rest
 * a ticket into the pending ring; otherwise 11 bits of segment slot (1..2047,
 * the segment id modulo 2047, plus one) and 20 bits of block number. A
 * segment's block offsets live in RAM (4 B a block).
 *
 * Lock order: (the store's shard lock) -> partition -> queue; the segment
 * table's rwlock is taken alone. The writer's own mutex (wlock) comes before
 * partitions and is held while it packs and writes; nobody holding a
 * partition or the queue waits for it.
 *
 * Crash safety: files are only appended; a block is visible to readers only
 * after its pwrite returned, and a record becomes reachable through the
 * index only after that. A crash leaves at most a torn block at a file's
 * tail, which the rebuild detects by checksum and skips. Deletes write
 * tombstones so a restart does not resurrect a deleted key; reclaim (always
 * the oldest segment) drops them, compaction of a younger segment keeps them.
 */
#include "storage/tier.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "storage/segment.h"

#define TIER_PARTS 256u
#define PART_MIN_CAP 16u
#define SLOTS 2048u             /* segment slots; slot 0 is never used */
#define MAX_SEGS (SLOTS - 2)
#define BLOCK_BITS 20u
#define MAX_BLOCKS (1u << BLOCK_BITS)
#define LOC_PENDING 0x80000000u
#define RING (1u << 14)         /* queued items at most */
#define FP_RECENT 1ull
#define FP_HOT 2ull
#define FP_MASK (~3ull)

struct entry {
    uint64_t fp;    /* key hash, low two bits: FP_RECENT, FP_HOT */
    uint32_t loc;   /* 0 = empty slot */
    uint32_t exp_s; /* expiry in Unix seconds, rounded up; 0 = none */
};
_Static_assert(sizeof(struct entry) == 16, "index entries are 16 bytes");

struct part {
    pthread_mutex_t lock;
    struct entry *tab;
    uint32_t mask;
    uint32_t n;
    uint32_t hot;
};

struct seg {
    uint64_t id;
    int fd;
    uint32_t slot;
    uint64_t size;      /* bytes written */
    uint64_t seq0;      /* scan sequence of block 0 (see tier_scan) */
    uint32_t *blocks;   /* block offsets */
    uint32_t nblocks;
    uint32_t cap;
};

/* A queued eviction (it != NULL) or tombstone (key copy in tomb). */
struct qnode {
    struct qnode *next;
    struct item *it;
    uint64_t hash;
    uint32_t ticket;
    uint32_t bytes;     /* what it counts in the queue */
    uint32_t tklen;
    char tomb[];
};

/* A record staged in the block being built, for updating its entry once
 * the block is on disk. */
struct staged {
    uint64_t hash;
    uint32_t old_loc;   /* the entry must still say this: 0 = no entry */
    struct qnode *node; /* released after the write, or NULL */
};

struct tier {
    char dir[1024];
    uint64_t max_bytes;
    uint64_t seg_size;
    uint32_t max_segs;  /* the writer keeps at most this many between rolls */
    int level;
    uint64_t queue_cap;
    uint32_t block_size;
    key_slot_fn slot_of; /* the store's (key_hash_of): index entries are the store's hashes */
    tier_log_fn log;

    struct part parts[TIER_PARTS];

    /* the write queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;    /* writer: work arrived */
    pthread_cond_t roomcond; /* evictors and sync: an item left the queue */
    struct qnode *qhead, *qtail;
    struct qnode *ring[RING];
    uint32_t next_ticket;
    uint64_t q_bytes;
    uint32_t q_items;        /* queued or staged, not yet completed */
    bool stop;

    /* segments */
    pthread_rwlock_t seglock;
    struct seg *segs[SLOTS];
    uint32_t nsegs;
    uint64_t next_id;
    /* Blocks are numbered in the order they were published, across
     * segments: segment s holds [s->seq0, s->seq0 + s->nblocks). Only the
     * head grows, so head->seq0 + head->nblocks == seq_next. Under seglock.
     * tier_scan's positions are these numbers. */
    uint64_t seq_next;
    _Atomic uint32_t live[SLOTS];    /* entries pointing into the slot */
    _Atomic uint32_t records[SLOTS]; /* records written to the slot */

    /* the writer's state: wlock held while used */
    pthread_mutex_t wlock;
    pthread_t thread;
    bool thread_started;
    struct seg *head;
    uint8_t *raw;
    size_t raw_len, raw_cap;
    struct staged *st;
    size_t nst, st_cap;
    uint8_t *pack;
    size_t pack_cap;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;          /* the writer's, for reclaim */
    int64_t failed_until_ms;  /* disk error: refuse puts until then */
    _Atomic int64_t failed_flag;

    _Atomic uint64_t ram_bytes;
    _Atomic uint64_t disk_bytes;
    struct {
        _Atomic uint64_t raw_written, disk_written, records_written,
            blocks_written, reads, queue_hits, promotions, clean, refused,
            refused_full, refused_failing, refused_too_big,
            evicted, expired, reclaimed, compacted, rewritten, tombstones,
            read_errors, write_errors, bad_blocks, bad_records, torn,
            unreadable, rebuilt, rebuild_ms, read_ns;
    } c;
};

#define CNT(t, f, n) atomic_fetch_add_explicit(&(t)->c.f, (uint64_t)(n), memory_order_relaxed)

static void
tlog(struct tier *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (t->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->log(buf);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint32_t
exp_secs(int64_t expire_ms)
{
    if (expire_ms <= 0) {
        return 0;
    }
    if (expire_ms / 1000 >= UINT32_MAX - 1) {
        return UINT32_MAX;
    }
    return (uint32_t)((expire_ms + 999) / 1000);
}

/* 1 expired, 0 alive, -1 within the rounding second: ask the record. */
static inline int
exp_state(uint32_t exp_s, int64_t now_ms)
{
    if (exp_s == 0) {
        return 0;
    }
    if ((int64_t)exp_s * 1000 <= now_ms) {
        return 1;
    }
    if (((int64_t)exp_s - 1) * 1000 >= now_ms) {
        return 0;
    }
    return -1;
}

static inline uint32_t
loc_disk(uint32_t slot, uint32_t blk)
{
    return (slot << BLOCK_BITS) | blk;
}

static inline uint32_t
loc_slot(uint32_t loc)
{
    return (loc & ~LOC_PENDING) >> BLOCK_BITS;
}

static inline uint32_t
loc_blk(uint32_t loc)
{
    return loc & (MAX_BLOCKS - 1);
}

static inline uint32_t
slot_of_id(uint64_t id)
{
    return (uint32_t)(id % (SLOTS - 1)) + 1;
}

/* ---- the index (caller holds the partition lock: do_ prefix) ----------- */

static inline struct part *
part_of(struct tier *t, uint64_t hash)
{
    return &t->parts[hash >> 56];
}

static inline uint32_t
probe_start(const struct part *p, uint64_t hash)
{
    return (uint32_t)(hash >> 24) & p->mask;
}

static struct entry *
do_lookup(struct part *p, uint64_t hash)
{
    uint64_t fp = hash & FP_MASK;

    for (uint32_t i = probe_start(p, hash);; i = (i + 1) & p->mask) {
        struct entry *e = &p->tab[i];

        if (e->loc == 0) {
            return NULL;
        }
        if ((e->fp & FP_MASK) == fp) {
            return e;
        }
    }
}

/* An entry leaves a location: keep the slot's live count. */
static void
loc_drop(struct tier *t, uint32_t loc)
{
    if (loc != 0 && !(loc & LOC_PENDING)) {
        atomic_fetch_sub_explicit(&t->live[loc_slot(loc)], 1, memory_order_relaxed);
    }
}

static void
loc_take(struct tier *t, uint32_t loc)
{
    if (loc != 0 && !(loc & LOC_PENDING)) {
        atomic_fetch_add_explicit(&t->live[loc_slot(loc)], 1, memory_order_relaxed);
    }
}

/* Remove e, shifting later entries of its run back (no tombstones). */
static void
do_remove(struct tier *t, struct part *p, struct entry *e)
{
    uint32_t i = (uint32_t)(e - p->tab);

    loc_drop(t, e->loc);
    if (e->fp & FP_HOT) {
        p->hot--;
    }
    p->n--;
    for (uint32_t j = (i + 1) & p->mask;; j = (j + 1) & p->mask) {
        struct entry *x = &p->tab[j];
        uint32_t home;

        if (x->loc == 0) {
            break;
        }
        home = probe_start(p, x->fp);
        /* x may move to i if i lies cyclically within [home, j) */
        if (((j - home) & p->mask) >= ((j - i) & p->mask)) {
            p->tab[i] = *x;
            i = j;
        }
    }
    memset(&p->tab[i], 0, sizeof p->tab[i]);
}

static void
do_grow(struct tier *t, struct part *p)
{
    uint32_t ncap = (p->mask + 1) * 2;
    struct entry *nt = calloc(ncap, sizeof *nt);
    struct entry *old = p->tab;
    uint32_t ocap = p->mask + 1;

    if (nt == NULL) {
        return; /* stays fuller: slower probes, nothing lost */
    }
    p->tab = nt;
    p->mask = ncap - 1;
    for (uint32_t i = 0; i < ocap; i++) {
        if (old[i].loc != 0) {
            uint32_t j = probe_start(p, old[i].fp);

            while (nt[j].loc != 0) {
                j = (j + 1) & p->mask;
            }
            nt[j] = old[i];
        }
    }
    free(old);
    atomic_fetch_add(&t->ram_bytes, (uint64_t)(ncap - ocap) * sizeof(struct entry));
}

/* Set the key's entry (replacing any). False only if the table is full and
 * cannot grow. */
static bool
do_set(struct tier *t, struct part *p, uint64_t hash, uint32_t loc, uint32_t exp_s)
{
    struct entry *e = do_lookup(p, hash);

    if (e != NULL) {
        loc_drop(t, e->loc);
        if (e->fp & FP_HOT) {
            p->hot--;
        }
    } else {
        if ((uint64_t)(p->n + 1) * 4 > (uint64_t)(p->mask + 1) * 3) {
            do_grow(t, p);
        }
        if (p->n + 1 > p->mask) {
            return false;
        }
        e = &p->tab[probe_start(p, hash)];
        while (e->loc != 0) {
            e = &p->tab[((uint32_t)(e - p->tab) + 1) & p->mask];
        }
        p->n++;
    }
    e->fp = hash & FP_MASK;
    e->loc = loc;
    e->exp_s = exp_s;
    loc_take(t, loc);
    return true;
}

/* ---- the write queue ------------------------------------------------------ */

static void
q_push(struct tier *t, struct qnode *n)
{
    n->next = NULL;
    if (t->qtail != NULL) {
        t->qtail->next = n;
    } else {
        t->qhead = n;
    }
    t->qtail = n;
    pthread_cond_signal(&t->qcond);
}

enum tier_put_result
tier_put(struct tier *t, uint64_t hash, struct item *it, bool wait)
{
    struct part *p = part_of(t, hash);
    struct qnode *n;
    struct entry *e;
    uint32_t bytes;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL && (e->fp & FP_HOT)) {
        /* promoted and unchanged since: the disk copy is this item */
        e->fp &= ~FP_HOT;
        p->hot--;
        pthread_mutex_unlock(&p->lock);
        CNT(t, clean, 1);
        return TIER_PUT_CLEAN;
    }
    pthread_mutex_unlock(&p->lock);
    if (!wait && atomic_load_explicit(&t->failed_flag, memory_order_relaxed) > mono_ms()) {
        CNT(t, refused, 1);
        CNT(t, refused_failing, 1);
        return TIER_PUT_REFUSED;
    }
    if ((uint64_t)it->klen + it->vlen + SEG_REC_HDR_SIZE > SEG_BLOCK_MAX_ULEN) {
        CNT(t, refused, 1);
        CNT(t, refused_too_big, 1);
        return TIER_PUT_REFUSED;
    }
    n = malloc(sizeof *n);
    if (n == NULL) {
        CNT(t, refused, 1);
        return TIER_PUT_REFUSED;
    }
    bytes = (uint32_t)(sizeof *n + sizeof *it + it->klen + it->vlen);
    pthread_mutex_lock(&t->qlock);
    /* An item larger than the whole queue goes in alone, when the queue is
     * empty: otherwise it could never be spilled (and a waiting put would
     * wait forever). The queue then holds at most the cap plus one item. */
    while (t->q_items >= RING - 1 || (t->q_bytes + bytes > t->queue_cap && t->q_bytes > 0)) {
        if (!wait || t->stop) {
            pthread_mutex_unlock(&t->qlock);
            free(n);
            CNT(t, refused, 1);
            CNT(t, refused_full, 1);
            return TIER_PUT_REFUSED;
        }
        pthread_cond_wait(&t->roomcond, &t->qlock);
    }
    /* reserve: the ring slot is ours until completion */
    n->ticket = t->next_ticket++ & ~LOC_PENDING;
    while (t->ring[n->ticket & (RING - 1)] != NULL) {
        n->ticket = t->next_ticket++ & ~LOC_PENDING;
    }
    t->ring[n->ticket & (RING - 1)] = n; /* not findable yet: no entry */
    t->q_bytes += bytes;
    t->q_items++;
    pthread_mutex_unlock(&t->qlock);

    n->it = it;
    n->hash = hash;
    n->bytes = bytes;
    n->tklen = 0;
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed); /* pin */

    pthread_mutex_lock(&p->lock);
    if (!do_set(t, p, hash, LOC_PENDING | n->ticket, exp_secs(item_expire_ms(it)))) {
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_lock(&t->qlock);
        t->ring[n->ticket & (RING - 1)] = NULL;
        t->q_bytes -= bytes;
        t->q_items--;
        pthread_mutex_unlock(&t->qlock);
        item_release(&n->it);
        free(n);
        CNT(t, refused, 1);
        return TIER_PUT_REFUSED;
    }
    pthread_mutex_lock(&t->qlock);
    q_push(t, n);
    pthread_mutex_unlock(&t->qlock);
    pthread_mutex_unlock(&p->lock);
    return TIER_PUT_QUEUED;
}

/* Queue a tombstone. Unbounded (they are small and a DEL must not wait or
 * fail); counted in the queue bytes so evictions back off. */
static void
queue_tombstone(struct tier *t, uint64_t hash, const char *key, size_t klen)
{
    struct qnode *n = malloc(sizeof *n + klen);

    if (n == NULL) {
        return; /* a restart may bring the key back: nothing else breaks */
    }
    n->it = NULL;
    n->hash = hash;
    n->ticket = 0;
    n->tklen = (uint32_t)klen;
    n->bytes = (uint32_t)(sizeof *n + klen);
    memcpy(n->tomb, key, klen);
    pthread_mutex_lock(&t->qlock);
    t->q_bytes += n->bytes;
    t->q_items++;
    q_push(t, n);
    pthread_mutex_unlock(&t->qlock);
    CNT(t, tombstones, 1);
}

bool
tier_forget(struct tier *t, uint64_t hash, const char *key, size_t klen)
{
    struct part *p = part_of(t, hash);
    struct entry *e;
    bool cold = false;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e == NULL) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    /* -1 (expiring this very second) counts as present: DEL may answer 1
     * for a key that expired less than a second ago, never 0 for a live
     * one */
    {
        struct timespec ts;
        int64_t now;

        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        cold = !(e->fp & FP_HOT) && exp_state(e->exp_s, now) != 1;
    }
    do_remove(t, p, e);
    pthread_mutex_unlock(&p->lock);
    queue_tombstone(t, hash, key, klen);
    return cold;
}

int
tier_has(struct tier *t, uint64_t hash, int64_t now_ms, bool touch)
{
    struct part *p = part_of(t, hash);
    struct entry *e;
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL) {
        int ex = exp_state(e->exp_s, now_ms);

        if (ex == 1) {
            do_remove(t, p, e);
            CNT(t, expired, 1);
        } else {
            rc = ex == 0 ? 1 : -1;
            if (touch) {
                e->fp |= FP_RECENT;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void
tier_unpromote(struct tier *t, uint64_t hash)
{
    struct part *p = part_of(t, hash);
    struct entry *e;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL && (e->fp & FP_HOT)) {
        e->fp &= ~FP_HOT;
        p->hot--;
    }
    pthread_mutex_unlock(&p->lock);
}

void
tier_value_release(struct tier_value *v)
{
    free(v->buf);
    v->buf = NULL;
}

/* ---- reads ---------------------------------------------------------------- */

/* Per-thread read buffers and decompression context: reads run on the
 * store's callers' threads (the workers), which live as long as the
 * process; these are never freed. */
static _Thread_local uint8_t *rd_cbuf, *rd_ubuf;
static _Thread_local size_t rd_ccap, rd_ucap;
static _Thread_local ZSTD_DCtx *rd_dctx;

static bool
grow_buf(uint8_t **buf, size_t *cap, size_t need)
{
    uint8_t *n;

    if (*cap >= need) {
        return true;
    }
    n = realloc(*buf, need);
    if (n == NULL) {
        return false;
    }
    *buf = n;
    *cap = need;
    return true;
}

static bool
fill_value(struct tier_value *out, const char *key, uint32_t klen,
           const char *val, uint32_t vlen, int64_t expire_ms, bool has_mc,
           uint32_t mc, uint64_t version)
{
    out->buf = malloc((size_t)klen + vlen + 1);
    if (out->buf == NULL) {
        return false;
    }
    memcpy(out->buf, key, klen);
    memcpy(out->buf + klen, val, vlen);
    out->key = out->buf;
    out->val = out->buf + klen;
    out->klen = klen;
    out->vlen = vlen;
    out->expire_ms = expire_ms > 0 ? expire_ms : 0;
    out->has_mcflags = has_mc;
    out->mcflags = mc;
    out->version = version;
    return true;
}

/* The block tier_cold last found in the page cache is still in rd_cbuf
 * (segment id and block: published blocks never change), so the read that
 * usually follows on this thread does not copy it again. */
static _Thread_local uint64_t pre_id;
static _Thread_local uint32_t pre_blk;
static _Thread_local ssize_t pre_got; /* 0: nothing kept */

/* Read block blk of s into rd_cbuf, with seglock held (reclaim closes the
 * fd only under the write lock). Returns the bytes read, or -1. */
static ssize_t
load_block_locked(struct seg *s, uint32_t blk)
{
    struct seg_block_hdr h;
    uint64_t off, end;

    if (pre_got > 0) {
        ssize_t got = pre_got;

        pre_got = 0;
        if (pre_id == s->id && pre_blk == blk) {
            return got;
        }
    }
    if (blk >= s->nblocks) {
        return -1;
    }
    off = s->blocks[blk];
    end = blk + 1 < s->nblocks ? s->blocks[blk + 1] : s->size;
    if (end - off > (1u << 20)) {
        /* a large block, or junk up to the end of a rebuilt segment: size
         * the read by the block's own header rather than by the gap */
        uint8_t hb[SEG_BLOCK_HDR_SIZE];

        if (pread(s->fd, hb, sizeof hb, (off_t)off) == (ssize_t)sizeof hb &&
            seg_block_hdr_decode(hb, sizeof hb, &h) == SEG_OK &&
            (uint64_t)h.clen + SEG_BLOCK_HDR_SIZE < end - off) {
            end = off + SEG_BLOCK_HDR_SIZE + h.clen;
        }
    }
    if (end <= off || !grow_buf(&rd_cbuf, &rd_ccap, end - off)) {
        return -1;
    }
    return pread(s->fd, rd_cbuf, end - off, (off_t)off);
}

/* Check and decompress what load_block_locked read into rd_ubuf; the
 * records are rd_ubuf[0..*ulen). 0, or -1 on damage. */
static int
unpack_loaded(ssize_t got, size_t *ulen)
{
    struct seg_block_hdr h;

    if (got < (ssize_t)SEG_BLOCK_HDR_SIZE ||
        seg_block_hdr_decode(rd_cbuf, (size_t)got, &h) != SEG_OK ||
        (uint64_t)h.clen + SEG_BLOCK_HDR_SIZE > (uint64_t)got) {
        return -1;
    }
    if (rd_dctx == NULL) {
        rd_dctx = ZSTD_createDCtx();
    }
    if (!grow_buf(&rd_ubuf, &rd_ucap, h.ulen ? h.ulen : 1) ||
        seg_block_unpack(&h, rd_cbuf + SEG_BLOCK_HDR_SIZE, rd_ubuf, rd_ucap,
                         rd_dctx) != SEG_OK) {
        return -1;
    }
    *ulen = h.ulen;
    return 0;
}

/* 1 found, 0 key absent from the block or a tombstone, -1 damage or the
 * segment is gone (the caller re-checks the entry). */
static int
read_block(struct tier *t, uint32_t loc, const char *key, size_t klen,
           struct tier_value *out)
{
    uint32_t slot = loc_slot(loc), blk = loc_blk(loc);
    uint64_t t0 = mono_ns();
    struct seg_record r;
    size_t ulen;
    ssize_t got;
    struct seg *s;
    int rc;

    pthread_rwlock_rdlock(&t->seglock);
    s = t->segs[slot];
    if (s == NULL || blk >= s->nblocks) {
        pthread_rwlock_unlock(&t->seglock);
        return -1;
    }
    got = load_block_locked(s, blk);
    pthread_rwlock_unlock(&t->seglock);
    CNT(t, reads, 1);
    if (got < 0) {
        return -1;
    }
    if (unpack_loaded(got, &ulen) != 0) {
        return -1;
    }
    switch (seg_block_find(rd_ubuf, ulen, key, klen, &r)) {
    case SEG_OK:
        if (r.flags & SEG_REC_TOMBSTONE) {
            rc = 0;
        } else {
            rc = fill_value(out, r.key, r.klen, r.val, r.vlen, r.expire_ms,
                            (r.flags & SEG_REC_MCFLAGS) != 0, r.mcflags,
                            r.version) ? 1 : -1;
        }
        break;
    case SEG_AGAIN:
        rc = 0;
        break;
    default:
        rc = -1;
        break;
    }
    CNT(t, read_ns, mono_ns() - t0);
    return rc;
}

int
tier_read(struct tier *t, uint64_t hash, const char *key, size_t klen,
          int64_t now_ms, bool promote, struct tier_value *out)
{
    struct part *p = part_of(t, hash);

    memset(out, 0, sizeof *out);
    for (int attempt = 0; attempt < 4; attempt++) {
        struct entry *e;
        uint32_t loc;
        int rc;

        pthread_mutex_lock(&p->lock);
        e = do_lookup(p, hash);
        if (e == NULL) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (exp_state(e->exp_s, now_ms) == 1) {
            do_remove(t, p, e);
            pthread_mutex_unlock(&p->lock);
            CNT(t, expired, 1);
            return 0;
        }
        loc = e->loc;
        if (loc & LOC_PENDING) {
            struct qnode *n;

            /* still in the queue: copy it from there (the node holds a pin;
             * nodes are freed only under qlock) */
            rc = -1;
            pthread_mutex_lock(&t->qlock);
            n = t->ring[loc & (RING - 1)];
            if (n != NULL && n->it != NULL && n->ticket == (loc & ~LOC_PENDING)) {
                const struct item *it = n->it;
                bool has_mc = (it->flags & ITEM_F_MCFLAGS) != 0;
                uint32_t mc = item_mcflags(it);

                if (it->klen == klen && memcmp(item_key(it), key, klen) == 0) {
                    rc = fill_value(out, item_key(it), it->klen, item_value(it),
                                    it->vlen, item_expire_ms(it), has_mc, mc,
                                    item_version(it)) ? 1 : -1;
                } else {
                    rc = 0; /* a fingerprint collision: another key */
                }
            }
            pthread_mutex_unlock(&t->qlock);
            if (rc == 1) {
                CNT(t, queue_hits, 1);
            }
        } else {
            pthread_mutex_unlock(&p->lock);
            rc = read_block(t, loc, key, klen, out);
            pthread_mutex_lock(&p->lock);
            e = do_lookup(p, hash);
            if (e == NULL) {
                /* reclaimed meanwhile: the value read was current when the
                 * call began; without an entry there is nothing to flag */
                pthread_mutex_unlock(&p->lock);
                if (rc == 1 && out->expire_ms > 0 && out->expire_ms <= now_ms) {
                    tier_value_release(out);
                    rc = 0;
                }
                return rc == 1 ? 1 : 0;
            }
            if (rc <= 0 && e->loc != loc) {
                tier_value_release(out);
                pthread_mutex_unlock(&p->lock);
                continue; /* moved by reclaim or the writer: look again */
            }
        }
        if (rc == 1 && out->expire_ms > 0 && out->expire_ms <= now_ms) {
            do_remove(t, p, e);
            pthread_mutex_unlock(&p->lock);
            tier_value_release(out);
            CNT(t, expired, 1);
            return 0;
        }
        if (rc < 0) {
            /* damaged, unreadable, or the segment is gone: this copy is
             * lost; drop the entry so it is not read again */
            do_remove(t, p, e);
            pthread_mutex_unlock(&p->lock);
            CNT(t, read_errors, 1);
            tlog(t, "disk tier: a cold key could not be read back (checksum, "
                    "short read or missing segment); it is dropped");
            return 0;
        }
        if (rc == 0) {
            pthread_mutex_unlock(&p->lock);
            return 0; /* another key with the same fingerprint */
        }
        e->fp |= FP_RECENT;
        if (promote && !(e->fp & FP_HOT)) {
            e->fp |= FP_HOT;
            p->hot++;
            CNT(t, promotions, 1);
        }
        pthread_mutex_unlock(&p->lock);
        return 1;
    }
    return 0;
}

/* Is block blk of s wholly in the page cache? A non-blocking read of it
 * (RWF_NOWAIT) tells; seglock held. Without RWF_NOWAIT: assume not. */
static bool
block_resident_locked(struct seg *s, uint32_t blk)
{
#ifdef RWF_NOWAIT
    uint64_t off, end;
    struct iovec iov;
    ssize_t got;

    if (blk >= s->nblocks) {
        return true; /* nothing to read: the caller's read fails fast */
    }
    off = s->blocks[blk];
    end = blk + 1 < s->nblocks ? s->blocks[blk + 1] : s->size;
    pre_got = 0; /* rd_cbuf is overwritten */
    if (end <= off || end - off > (1u << 20) || !grow_buf(&rd_cbuf, &rd_ccap, end - off)) {
        return false;
    }
    iov.iov_base = rd_cbuf;
    iov.iov_len = end - off;
    got = preadv2(s->fd, &iov, 1, (off_t)off, RWF_NOWAIT);
    if (got != (ssize_t)(end - off)) {
        pre_got = 0;
        return false;
    }
    pre_id = s->id;
    pre_blk = blk;
    pre_got = got;
    return true;
#else
    (void)s;
    (void)blk;
    return false;
#endif
}

bool
tier_cold(struct tier *t, uint64_t hash, int64_t now_ms)
{
    struct part *p = part_of(t, hash);
    struct entry *e;
    uint32_t loc = 0;
    struct seg *s;
    bool cold;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL && !(e->loc & LOC_PENDING) && !(e->fp & FP_HOT) &&
        exp_state(e->exp_s, now_ms) != 1) {
        loc = e->loc;
    }
    pthread_mutex_unlock(&p->lock);
    if (loc == 0) {
        return false;
    }
    pthread_rwlock_rdlock(&t->seglock);
    s = t->segs[loc_slot(loc)];
    cold = s != NULL && !block_resident_locked(s, loc_blk(loc));
    pthread_rwlock_unlock(&t->seglock);
    return cold;
}

void
tier_prefetch(struct tier *t, uint64_t hash)
{
    struct part *p = part_of(t, hash);
    struct entry *e;
    uint32_t loc = 0;
    struct seg *s;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL && !(e->loc & LOC_PENDING) && !(e->fp & FP_HOT)) {
        loc = e->loc;
    }
    pthread_mutex_unlock(&p->lock);
    if (loc == 0) {
        return;
    }
    /* the slot may have been reclaimed (and even reused) since: then this
     * reads some other block, which is harmless */
    pthread_rwlock_rdlock(&t->seglock);
    s = t->segs[loc_slot(loc)];
    if (s != NULL) {
        (void)load_block_locked(s, loc_blk(loc));
    }
    pthread_rwlock_unlock(&t->seglock);
}

/* ---- walking the cold keys (SCAN, KEYS, RANDOMKEY) ------------------------
 *
 * The index holds no keys, so a walk reads the blocks, in the order they
 * were published (block numbers, see seq_next), and reports a record only
 * where the index still points: overwritten, deleted, expired and
 * superseded copies are skipped, and each indexed key is reported once. A
 * record moves only forward in that order (the writer appends at the head;
 * reclaim and compaction rewrite into the head), so a key that stays cold
 * is met at least once, twice if it was rewritten behind the walk. Keys
 * still in the write queue are reported at the end (with_queue), under
 * seglock, where no block can be published: a queued key is then either
 * still queued or in a block the walk has read. */

static _Thread_local struct seg_record *sc_recs;
static _Thread_local uint64_t *sc_hash;
static _Thread_local size_t sc_cap;
static _Thread_local uint64_t sc_rng;

static uint64_t
scan_rng(void)
{
    uint64_t x = sc_rng ? sc_rng : (mono_ns() ^ (uint64_t)(uintptr_t)&sc_rng) | 1;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sc_rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* The segment holding the first block numbered >= pos (that block is
 * max(pos, seq0)), or NULL when there is none. With seglock held. */
static struct seg *
seg_at_seq(struct tier *t, uint64_t pos)
{
    struct seg *best = NULL;
    uint32_t seen = 0;

    for (uint32_t i = 1; i < SLOTS && seen < t->nsegs; i++) {
        struct seg *s = t->segs[i];

        if (s == NULL) {
            continue;
        }
        seen++;
        if (s->nblocks > 0 && s->seq0 + s->nblocks > pos &&
            (best == NULL || s->seq0 < best->seq0)) {
            best = s;
        }
    }
    return best;
}

/* Read the first block numbered >= *pos and set *pos to its number.
 * 1: its live records are sc_recs[0..*nout) (borrowing rd_ubuf, valid until
 * the next read on this thread); -1: the block is damaged (skip it);
 * 0: there is no such block (*pos unchanged). */
static int
scan_block(struct tier *t, uint64_t *pos, int64_t now_ms, size_t *nout)
{
    size_t ulen, off = 0, n = 0, live = 0;
    uint32_t blk, loc;
    struct seg *s;
    ssize_t got;

    *nout = 0;
    pthread_rwlock_rdlock(&t->seglock);
    s = seg_at_seq(t, *pos);
    if (s == NULL) {
        pthread_rwlock_unlock(&t->seglock);
        return 0;
    }
    if (*pos < s->seq0) {
        *pos = s->seq0;
    }
    blk = (uint32_t)(*pos - s->seq0);
    loc = loc_disk(s->slot, blk);
    got = load_block_locked(s, blk);
    pthread_rwlock_unlock(&t->seglock);
    if (got < 0 || unpack_loaded(got, &ulen) != 0) {
        return -1;
    }
    while (off < ulen) {
        struct seg_record r;
        size_t used;

        if (seg_record_decode(rd_ubuf + off, ulen - off, &r, &used) != SEG_OK) {
            break; /* record boundaries are not trusted past damage */
        }
        off += used;
        if (n == sc_cap) {
            size_t ncap = sc_cap ? sc_cap * 2 : 256;
            struct seg_record *nr = realloc(sc_recs, ncap * sizeof *nr);
            uint64_t *nh;

            if (nr == NULL) {
                return -1;
            }
            sc_recs = nr;
            nh = realloc(sc_hash, ncap * sizeof *nh);
            if (nh == NULL) {
                return -1;
            }
            sc_hash = nh;
            sc_cap = ncap;
        }
        sc_recs[n] = r;
        sc_hash[n] = key_hash_of(r.key, r.klen, t->slot_of);
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        const struct seg_record r = sc_recs[i];
        uint64_t h = sc_hash[i];
        struct part *p;
        struct entry *e;
        bool keep = true;

        if (r.flags & SEG_REC_TOMBSTONE) {
            continue;
        }
        /* a key written twice into one block: its last record is the one
         * a read finds (and may be a tombstone) */
        for (size_t j = i + 1; j < n && keep; j++) {
            keep = !(sc_hash[j] == h && sc_recs[j].klen == r.klen &&
                     memcmp(sc_recs[j].key, r.key, r.klen) == 0);
        }
        if (!keep) {
            continue;
        }
        p = part_of(t, h);
        pthread_mutex_lock(&p->lock);
        e = do_lookup(p, h);
        keep = e != NULL && e->loc == loc;
        if (keep && r.expire_ms > 0 && r.expire_ms <= now_ms) {
            do_remove(t, p, e);
            CNT(t, expired, 1);
            keep = false;
        }
        pthread_mutex_unlock(&p->lock);
        if (keep) {
            /* live <= i: entries not looked at yet are left intact */
            sc_recs[live] = r;
            sc_hash[live] = h;
            live++;
        }
    }
    *nout = live;
    return 1;
}

struct qpin {
    struct item *it;
    uint64_t hash;
    uint32_t ticket;
};

bool
tier_scan(struct tier *t, uint64_t *pos, size_t max_blocks, bool with_queue,
          tier_key_fn fn, void *ctx, int64_t now_ms)
{
    uint64_t p = *pos;
    size_t nblocks = 0;
    struct qpin *pins = NULL;
    size_t npins = 0;

    for (;;) {
        size_t n = 0;
        int rc;

        if (nblocks >= max_blocks) {
            *pos = p;
            return false;
        }
        rc = scan_block(t, &p, now_ms, &n);
        if (rc == 0) {
            if (!with_queue) {
                break;
            }
            /* the end: make sure, with no block being published, that it
             * still is, then take the queue as it stands */
            pthread_rwlock_rdlock(&t->seglock);
            if (seg_at_seq(t, p) != NULL) {
                pthread_rwlock_unlock(&t->seglock);
                continue;
            }
            pins = malloc(RING * sizeof *pins);
            if (pins != NULL) {
                pthread_mutex_lock(&t->qlock);
                for (uint32_t i = 0; i < RING; i++) {
                    struct qnode *q = t->ring[i];

                    if (q != NULL && q->it != NULL) {
                        /* the node's pin lasts until it leaves the ring */
                        atomic_fetch_add_explicit(&q->it->refs, 1, memory_order_relaxed);
                        pins[npins++] = (struct qpin){q->it, q->hash, q->ticket};
                    }
                }
                pthread_mutex_unlock(&t->qlock);
                for (size_t i = 0; i < npins; i++) {
                    struct part *pt = part_of(t, pins[i].hash);
                    struct entry *e;
                    int64_t exp = item_expire_ms(pins[i].it);

                    pthread_mutex_lock(&pt->lock);
                    e = do_lookup(pt, pins[i].hash);
                    if (e == NULL || e->loc != (LOC_PENDING | pins[i].ticket) ||
                        (exp > 0 && exp <= now_ms)) {
                        item_release(&pins[i].it); /* overwritten, deleted, expired */
                    }
                    pthread_mutex_unlock(&pt->lock);
                }
            }
            pthread_rwlock_unlock(&t->seglock);
            for (size_t i = 0; i < npins; i++) {
                if (pins[i].it != NULL) {
                    fn(ctx, item_key(pins[i].it), pins[i].it->klen,
                       item_expire_ms(pins[i].it) > 0 ? item_expire_ms(pins[i].it) : 0);
                    item_release(&pins[i].it);
                }
            }
            free(pins);
            break;
        }
        nblocks++;
        for (size_t i = 0; i < n; i++) {
            fn(ctx, sc_recs[i].key, sc_recs[i].klen, sc_recs[i].expire_ms);
        }
        p++;
    }
    *pos = p;
    return true;
}

uint64_t
tier_scan_end(struct tier *t)
{
    uint64_t end;

    pthread_rwlock_rdlock(&t->seglock);
    end = t->seq_next;
    pthread_rwlock_unlock(&t->seglock);
    return end;
}

bool
tier_twin(struct tier *t, uint64_t hash, uint64_t before)
{
    struct part *p = part_of(t, hash);
    struct entry *e;
    uint32_t loc = 0;
    bool twin = false;

    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, hash);
    if (e != NULL && (e->fp & FP_HOT) && !(e->loc & LOC_PENDING)) {
        loc = e->loc;
    }
    pthread_mutex_unlock(&p->lock);
    if (loc != 0) {
        /* seglock is never taken under a partition lock: looked up after.
         * The entry pointed at loc when seen, so it did since loc was
         * published, and a walk that read loc then reported it. */
        struct seg *s;

        pthread_rwlock_rdlock(&t->seglock);
        s = t->segs[loc_slot(loc)];
        twin = s != NULL && loc_blk(loc) < s->nblocks && s->seq0 + loc_blk(loc) < before;
        pthread_rwlock_unlock(&t->seglock);
    }
    return twin;
}

struct first_key {
    char *key;
    uint32_t klen;
    int64_t expire_ms;
};

static void
take_first(void *ctx, const char *key, uint32_t klen, int64_t expire_ms)
{
    struct first_key *f = ctx;

    if (f->key == NULL && (f->key = malloc(klen ? klen : 1)) != NULL) {
        memcpy(f->key, key, klen);
        f->klen = klen;
        f->expire_ms = expire_ms;
    }
}

bool
tier_random_key(struct tier *t, tier_key_fn fn, void *ctx, int64_t now_ms)
{
    struct first_key f = {0};
    uint64_t pos = 0;

    /* a random block, then a random live record in it */
    for (int tries = 0; tries < 16; tries++) {
        uint64_t lo = UINT64_MAX, hi;
        size_t n = 0;

        pthread_rwlock_rdlock(&t->seglock);
        for (uint32_t i = 1; i < SLOTS; i++) {
            struct seg *s = t->segs[i];

            if (s != NULL && s->nblocks > 0 && s->seq0 < lo) {
                lo = s->seq0;
            }
        }
        hi = t->seq_next;
        pthread_rwlock_unlock(&t->seglock);
        if (lo >= hi) {
            break;
        }
        pos = lo + scan_rng() % (hi - lo);
        if (scan_block(t, &pos, now_ms, &n) == 1 && n > 0) {
            const struct seg_record *r = &sc_recs[scan_rng() % n];

            fn(ctx, r->key, r->klen, r->expire_ms);
            return true;
        }
    }
    /* live keys are few among many blocks, or all still queued: the first
     * one a whole walk finds */
    pos = 0;
    while (!tier_scan(t, &pos, 16, true, take_first, &f, now_ms) && f.key == NULL) {
    }
    if (f.key == NULL) {
        return false;
    }
    fn(ctx, f.key, f.klen, f.expire_ms);
    free(f.key);
    return true;
}

/* ---- segments (writer thread, or with wlock held) ------------------------- */

static void
seg_path(const struct tier *t, uint64_t id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/seg-%012" PRIu64 ".rcs", t->dir, id);
}

static bool
seg_add_block(struct tier *t, struct seg *s, uint32_t off)
{
    if (s->nblocks == s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 256;
        uint32_t *nb;

        if (ncap > MAX_BLOCKS) {
            return false;
        }
        nb = realloc(s->blocks, ncap * sizeof *nb);
        if (nb == NULL) {
            return false;
        }
        s->blocks = nb;
        atomic_fetch_add(&t->ram_bytes, (uint64_t)(ncap - s->cap) * sizeof *nb);
        s->cap = ncap;
    }
    s->blocks[s->nblocks++] = off;
    return true;
}

static void
seg_free(struct tier *t, struct seg *s)
{
    if (s == NULL) {
        return;
    }
    atomic_fetch_sub(&t->ram_bytes, (uint64_t)s->cap * sizeof(uint32_t) + sizeof *s);
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s->blocks);
    free(s);
}

/* Open a new head segment. With wlock held. */
static struct seg *
seg_open_new(struct tier *t)
{
    uint8_t hdr[SEG_HDR_SIZE];
    struct seg_header sh;
    char path[1200];
    struct seg *s;
    struct timespec ts;
    uint32_t slot;

    if (t->nsegs >= MAX_SEGS) {
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->id = t->next_id++;
    slot = slot_of_id(s->id);
    while (t->segs[slot] != NULL) { /* an old straggler holds it: skip ids */
        s->id = t->next_id++;
        slot = slot_of_id(s->id);
    }
    s->slot = slot;
    seg_path(t, s->id, path, sizeof path);
    s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        tlog(t, "disk tier: cannot create %s: %s", path, strerror(errno));
        free(s);
        return NULL;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    sh.id = s->id;
    sh.created_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    sh.seg_size = (uint32_t)(t->seg_size > UINT32_MAX ? UINT32_MAX : t->seg_size);
    sh.version = SEG_FORMAT_VERSION;
    seg_header_encode(&sh, hdr);
    if (pwrite(s->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
        tlog(t, "disk tier: cannot write %s: %s", path, strerror(errno));
        close(s->fd);
        unlink(path);
        free(s);
        return NULL;
    }
    s->size = SEG_HDR_SIZE;
    atomic_fetch_add(&t->ram_bytes, sizeof *s);
    atomic_fetch_add(&t->disk_bytes, SEG_HDR_SIZE);
    atomic_store(&t->live[slot], 0);
    atomic_store(&t->records[slot], 0);
    pthread_rwlock_wrlock(&t->seglock);
    s->seq0 = t->seq_next;
    t->segs[slot] = s;
    t->nsegs++;
    pthread_rwlock_unlock(&t->seglock);
    return s;
}

/* Unlink a segment from the table and the directory. */
static void
seg_remove(struct tier *t, struct seg *s)
{
    char path[1200];

    pthread_rwlock_wrlock(&t->seglock);
    t->segs[s->slot] = NULL;
    t->nsegs--;
    pthread_rwlock_unlock(&t->seglock);
    atomic_fetch_sub(&t->disk_bytes, s->size);
    seg_path(t, s->id, path, sizeof path);
    unlink(path);
    if (t->head == s) {
        t->head = NULL;
    }
    seg_free(t, s);
}

static struct seg *
oldest_seg(struct tier *t, bool skip_head)
{
    struct seg *best = NULL;

    for (uint32_t i = 1; i < SLOTS; i++) {
        struct seg *s = t->segs[i];

        if (s != NULL && (!skip_head || s != t->head) &&
            (best == NULL || s->id < best->id)) {
            best = s;
        }
    }
    return best;
}

/* ---- the block being built ------------------------------------------------ */

/* The entry half of complete_staged: move the key's entry to the record's
 * new location (or drop it when the write failed). */
static void
complete_entry(struct tier *t, const struct staged *sr, uint32_t new_loc)
{
    if (sr->old_loc != 0) {
        struct part *p = part_of(t, sr->hash);
        struct entry *e;

        pthread_mutex_lock(&p->lock);
        e = do_lookup(p, sr->hash);
        if (e != NULL && e->loc == sr->old_loc) {
            if (new_loc != 0) {
                loc_drop(t, e->loc);
                e->loc = new_loc;
                loc_take(t, new_loc);
            } else {
                /* could not be written: the key is evicted after all */
                do_remove(t, p, e);
                CNT(t, evicted, 1);
            }
        }
        pthread_mutex_unlock(&p->lock);
    }
}

/* The queue half: the node's item is on disk (or given up): release it. */
static void
release_node(struct tier *t, const struct staged *sr)
{
    if (sr->node != NULL) {
        struct qnode *n = sr->node;

        pthread_mutex_lock(&t->qlock);
        if (n->it != NULL && t->ring[n->ticket & (RING - 1)] == n) {
            t->ring[n->ticket & (RING - 1)] = NULL;
        }
        t->q_bytes -= n->bytes;
        t->q_items--;
        pthread_cond_broadcast(&t->roomcond);
        pthread_mutex_unlock(&t->qlock);
        item_release(&n->it);
        free(n);
    }
}

static void
complete_staged(struct tier *t, const struct staged *sr, uint32_t new_loc)
{
    complete_entry(t, sr, new_loc);
    release_node(t, sr);
}

static bool
stage_reserve(struct tier *t, size_t rec_bytes)
{
    if (!(t->raw_len + rec_bytes <= t->raw_cap ||
          grow_buf(&t->raw, &t->raw_cap, (t->raw_len + rec_bytes) * 2))) {
        return false;
    }
    if (t->nst == t->st_cap) {
        size_t ncap = t->st_cap ? t->st_cap * 2 : 64;
        struct staged *n = realloc(t->st, ncap * sizeof *n);

        if (n == NULL) {
            return false;
        }
        t->st = n;
        t->st_cap = ncap;
    }
    return true;
}

static void
mark_failed(struct tier *t)
{
    atomic_store(&t->failed_flag, mono_ms() + 1000);
}

/* Pack, write and publish the block being built. With wlock held. */
static void
write_block(struct tier *t)
{
    size_t blen = 0;
    uint32_t new_slot = 0, blk = 0;
    bool ok = false;
    struct seg *s;

    if (t->nst == 0) {
        t->raw_len = 0;
        return;
    }
    if (grow_buf(&t->pack, &t->pack_cap, seg_block_bound(t->raw_len)) &&
        seg_block_pack(t->raw, t->raw_len, (uint32_t)t->nst, t->level, t->cctx,
                       t->pack, t->pack_cap, &blen) == SEG_OK) {
        s = t->head;
        if (s != NULL && (s->size + blen > t->seg_size || s->nblocks >= MAX_BLOCKS - 1) &&
            s->size > SEG_HDR_SIZE) {
            fdatasync(s->fd); /* sealed: its records are final */
            t->head = NULL;
        }
        if (t->head == NULL) {
            t->head = seg_open_new(t);
        }
        s = t->head;
        if (s != NULL) {
            ssize_t w = pwrite(s->fd, t->pack, blen, (off_t)s->size);

            if (w == (ssize_t)blen) {
                /* Publish the block and point its records' entries at it in
                 * one critical section: a scanner (tier_scan) that sees the
                 * block also sees its entries, so a key being written out
                 * is never "neither in the queue nor on disk" to it. */
                pthread_rwlock_wrlock(&t->seglock);
                ok = seg_add_block(t, s, (uint32_t)s->size);
                if (ok) {
                    blk = s->nblocks - 1;
                    s->size += blen;
                    t->seq_next++;
                    for (size_t i = 0; i < t->nst; i++) {
                        complete_entry(t, &t->st[i], loc_disk(s->slot, blk));
                    }
                }
                pthread_rwlock_unlock(&t->seglock);
                if (ok) {
                    new_slot = s->slot;
                    atomic_fetch_add(&t->disk_bytes, blen);
                }
            } else {
                int err = w < 0 ? errno : ENOSPC;

                CNT(t, write_errors, 1);
                tlog(t, "disk tier: write of a %zu-byte block failed: %s; "
                        "evicting instead for 1 s", blen, strerror(err));
                /* no torn block left behind for the next block to follow */
                if (ftruncate(s->fd, (off_t)s->size) != 0) {
                    t->head = NULL; /* never append after junk */
                }
                mark_failed(t);
            }
        } else {
            CNT(t, write_errors, 1);
            mark_failed(t);
        }
    }
    if (ok) {
        CNT(t, blocks_written, 1);
        CNT(t, records_written, t->nst);
        CNT(t, raw_written, t->raw_len);
        CNT(t, disk_written, blen);
        atomic_fetch_add(&t->records[new_slot], (uint32_t)t->nst);
    }
    for (size_t i = 0; i < t->nst; i++) {
        if (ok) {
            release_node(t, &t->st[i]); /* entries done above */
        } else {
            complete_staged(t, &t->st[i], 0);
        }
    }
    t->nst = 0;
    t->raw_len = 0;
}

/* Drop the block being built without writing it (FLUSHALL). */
static void
discard_block(struct tier *t)
{
    for (size_t i = 0; i < t->nst; i++) {
        struct staged sr = t->st[i];

        sr.old_loc = 0;
        complete_staged(t, &sr, 0);
    }
    t->nst = 0;
    t->raw_len = 0;
}

/* Append one record to the block being built, writing the block first if
 * the record would overflow it. */
static void
stage(struct tier *t, const struct seg_record *r, uint64_t hash,
      uint32_t old_loc, struct qnode *node)
{
    size_t sz = seg_record_size(r->klen, (r->flags & SEG_REC_TOMBSTONE) ? 0 : r->vlen);

    if (t->nst > 0 && t->raw_len + sz > t->block_size) {
        write_block(t);
    }
    if (!stage_reserve(t, sz)) {
        struct staged sr = {.hash = hash, .old_loc = old_loc, .node = node};

        complete_staged(t, &sr, 0);
        return;
    }
    seg_record_encode(r, t->raw + t->raw_len);
    t->raw_len += sz;
    t->st[t->nst].hash = hash;
    t->st[t->nst].old_loc = old_loc;
    t->st[t->nst].node = node;
    t->nst++;
    if (t->raw_len >= t->block_size) {
        write_block(t);
    }
}

static void
stage_node(struct tier *t, struct qnode *n)
{
    struct seg_record r = {0};

    if (n->it == NULL) {
        r.key = n->tomb;
        r.klen = n->tklen;
        r.flags = SEG_REC_TOMBSTONE;
        stage(t, &r, n->hash, 0, n);
        return;
    }
    {
        /* still wanted? a queued item may have been overwritten, deleted
         * or flushed meanwhile: then it is not worth a write */
        struct part *p = part_of(t, n->hash);
        struct entry *e;
        bool want;

        pthread_mutex_lock(&p->lock);
        e = do_lookup(p, n->hash);
        want = e != NULL && e->loc == (LOC_PENDING | n->ticket);
        pthread_mutex_unlock(&p->lock);
        if (!want) {
            struct staged sr = {.hash = n->hash, .old_loc = 0, .node = n};

            complete_staged(t, &sr, 0);
            return;
        }
    }
    r.key = item_key(n->it);
    r.klen = n->it->klen;
    r.val = item_value(n->it);
    r.vlen = n->it->vlen;
    r.expire_ms = item_expire_ms(n->it) > 0 ? item_expire_ms(n->it) : 0;
    r.type = ITEM_STRING;
    r.version = item_version(n->it);
    if (n->it->flags & ITEM_F_MCFLAGS) {
        r.flags |= SEG_REC_MCFLAGS;
        r.mcflags = item_mcflags(n->it);
    }
    stage(t, &r, n->hash, LOC_PENDING | n->ticket, n);
}

/* Room left in the head for rewrites without rolling to a new segment. */
static bool
head_has_room(struct tier *t, size_t rec_bytes)
{
    return t->head != NULL &&
           t->head->size + t->raw_len + rec_bytes + 4 * SEG_BLOCK_HDR_SIZE <= t->seg_size;
}

/* ---- reclaim and compaction ---------------------------------------------- */

struct reclaim_ctx {
    struct tier *t;
    struct seg *s;
    bool compact;     /* keep every live record (else only recent ones) */
    bool oldest;      /* tombstones can be dropped */
    bool moved_all;
    int64_t now_ms;
};

static bool
reclaim_visit(void *arg, uint32_t blk, uint32_t off, const struct seg_record *r)
{
    struct reclaim_ctx *c = arg;
    struct tier *t = c->t;
    uint32_t loc = loc_disk(c->s->slot, blk);
    uint64_t h;
    struct part *p;
    struct entry *e;
    bool keep = false;

    (void)off;
    if (r == NULL) {
        return true;
    }
    h = key_hash_of(r->key, r->klen, t->slot_of);
    if (r->flags & SEG_REC_TOMBSTONE) {
        if (!c->oldest) {
            if (head_has_room(t, seg_record_size(r->klen, 0))) {
                stage(t, r, h, 0, NULL);
            } else {
                c->moved_all = false;
            }
        }
        return true;
    }
    p = part_of(t, h);
    pthread_mutex_lock(&p->lock);
    e = do_lookup(p, h);
    if (e == NULL || e->loc != loc) {
        pthread_mutex_unlock(&p->lock); /* dead: superseded or deleted */
        return true;
    }
    if (r->expire_ms > 0 && r->expire_ms <= c->now_ms) {
        do_remove(t, p, e);
        pthread_mutex_unlock(&p->lock);
        CNT(t, expired, 1);
        return true;
    }
    if (c->compact || (e->fp & FP_RECENT)) {
        if (head_has_room(t, seg_record_size(r->klen, r->vlen))) {
            keep = true;
            e->fp &= ~FP_RECENT; /* must be read again to survive again */
        } else if (c->compact) {
            c->moved_all = false;
            pthread_mutex_unlock(&p->lock);
            return true;
        }
    }
    if (!keep) {
        bool hot = (e->fp & FP_HOT) != 0;

        do_remove(t, p, e);
        pthread_mutex_unlock(&p->lock);
        if (!hot) {
            CNT(t, evicted, 1); /* memory does not hold it either: gone */
        }
        return true;
    }
    pthread_mutex_unlock(&p->lock);
    /* staged outside the lock: write_block takes partition locks */
    stage(t, r, h, loc, NULL);
    CNT(t, rewritten, 1);
    return true;
}

/* Reclaim (compact = false: the oldest segment, keeping recently read
 * records) or compact (keeping every live record) segment s. */
static bool
reclaim_seg(struct tier *t, struct seg *s, bool compact, int64_t now_ms)
{
    struct reclaim_ctx c = {.t = t, .s = s, .compact = compact,
                            .moved_all = true, .now_ms = now_ms};
    struct seg_header hdr;
    struct seg_scan_stats ss;
    void *img = MAP_FAILED;

    c.oldest = oldest_seg(t, true) == s;
    if (s == t->head) {
        write_block(t);
        fdatasync(s->fd);
        t->head = NULL;
    }
    if (s->size > 0) {
        img = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
    }
    if (img != MAP_FAILED) {
        seg_scan(img, s->size, t->dctx, &hdr, reclaim_visit, &c, &ss);
        munmap(img, s->size);
    } else {
        c.moved_all = !compact;
    }
    /* rewrites must be on disk before their old copies go */
    write_block(t);
    if (!c.moved_all) {
        return false;
    }
    seg_remove(t, s);
    return true;
}

/* Keep the tier within disk-max-bytes: reclaim oldest segments. */
static void
maybe_reclaim(struct tier *t)
{
    while (t->nsegs > t->max_segs) {
        struct seg *s = oldest_seg(t, true);
        struct timespec ts;

        if (s == NULL) {
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        reclaim_seg(t, s, false, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        CNT(t, reclaimed, 1);
    }
}

/* When idle: compact one sealed segment whose records are mostly dead. */
static void
maybe_compact(struct tier *t)
{
    struct seg *best = NULL;
    uint32_t best_live = 0;
    struct timespec ts;

    for (uint32_t i = 1; i < SLOTS; i++) {
        struct seg *s = t->segs[i];
        uint32_t recs, live;

        if (s == NULL || s == t->head) {
            continue;
        }
        recs = atomic_load(&t->records[i]);
        live = atomic_load(&t->live[i]);
        if (recs >= 16 && live * 4 < recs && (best == NULL || live < best_live)) {
            best = s;
            best_live = live;
        }
    }
    if (best == NULL) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    if (reclaim_seg(t, best, true, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000)) {
        CNT(t, compacted, 1);
    }
}

/* ---- the writer thread ---------------------------------------------------- */

static void *
writer_main(void *arg)
{
    struct tier *t = arg;
    int idle_rounds = 0;

    for (;;) {
        struct qnode *batch = NULL;
        size_t taken = 0;
        bool stopping;

        pthread_mutex_lock(&t->qlock);
        while (t->qhead == NULL && !t->stop) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait(&t->qcond, &t->qlock, &ts) != 0) {
                break; /* idle: flush what is staged */
            }
        }
        /* take a few blocks' worth; nodes stay in the ring (findable) */
        while (t->qhead != NULL && taken < 4 * (size_t)t->block_size) {
            struct qnode *n = t->qhead;

            t->qhead = n->next;
            if (t->qhead == NULL) {
                t->qtail = NULL;
            }
            n->next = batch;
            batch = n;
            taken += n->bytes;
        }
        stopping = t->stop && t->qhead == NULL;
        pthread_mutex_unlock(&t->qlock);

        /* batch is in reverse order: put it back in queue order */
        {
            struct qnode *rev = NULL;

            while (batch != NULL) {
                struct qnode *n = batch;

                batch = n->next;
                n->next = rev;
                rev = n;
            }
            batch = rev;
        }
        pthread_mutex_lock(&t->wlock);
        while (batch != NULL) {
            struct qnode *n = batch;

            batch = n->next;
            stage_node(t, n);
        }
        if (taken == 0 || stopping) {
            write_block(t); /* idle or stopping: nothing waits in RAM */
            if (++idle_rounds >= 5 && !stopping) {
                maybe_compact(t);
                idle_rounds = 0;
            }
        } else {
            idle_rounds = 0;
        }
        maybe_reclaim(t);
        pthread_mutex_unlock(&t->wlock);
        if (stopping) {
            break;
        }
    }
    return NULL;
}

/* ---- rebuild -------------------------------------------------------------- */

struct rebuild_ctx {
    struct tier *t;
    struct seg *s;
    int64_t now_ms;
};

static bool
rebuild_visit(void *arg, uint32_t blk, uint32_t off, const struct seg_record *r)
{
    struct rebuild_ctx *c = arg;
    struct tier *t = c->t;
    uint64_t h;
    struct part *p;

    if (r == NULL) {
        if (!seg_add_block(t, c->s, off)) {
            CNT(t, bad_blocks, 1); /* past the block table's reach: stop */
            return false;
        }
        return true;
    }
    h = key_hash_of(r->key, r->klen, t->slot_of);
    p = part_of(t, h);
    atomic_fetch_add(&t->records[c->s->slot], 1);
    pthread_mutex_lock(&p->lock);
    if ((r->flags & SEG_REC_TOMBSTONE) ||
        (r->expire_ms > 0 && r->expire_ms <= c->now_ms)) {
        struct entry *e = do_lookup(p, h);

        if (e != NULL) {
            do_remove(t, p, e);
        }
    } else {
        do_set(t, p, h, loc_disk(c->s->slot, blk), exp_secs(r->expire_ms));
    }
    pthread_mutex_unlock(&p->lock);
    return true;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void
rebuild(struct tier *t, int64_t now_ms)
{
    uint64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    int64_t t0 = mono_ms();
    DIR *d = opendir(t->dir);
    struct dirent *de;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long long id;
        char tail[8];

        if (sscanf(de->d_name, "seg-%12llu.%4s", &id, tail) == 2 &&
            strcmp(tail, "rcs") == 0) {
            if (nids == cap) {
                uint64_t *n = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof *n);

                if (n == NULL) {
                    break;
                }
                ids = n;
            }
            ids[nids++] = id;
        }
    }
    closedir(d);
    if (nids > 1) {
        qsort(ids, nids, sizeof *ids, cmp_u64); /* ids is NULL when there are none */
    }
    for (size_t i = 0; i < nids; i++) {
        char path[1200];
        struct seg_scan_stats ss;
        struct seg_header hdr;
        struct rebuild_ctx c = {.t = t, .now_ms = now_ms};
        struct stat sb;
        struct seg *s;
        void *img;
        int fd;

        if (ids[i] >= t->next_id) {
            t->next_id = ids[i] + 1;
        }
        seg_path(t, ids[i], path, sizeof path);
        if (nids - i > t->max_segs) {
            /* more than the tier may hold now (a lowered disk-max-bytes):
             * the oldest go, as reclaim would have taken them */
            tlog(t, "disk tier: removing %s (over disk-max-bytes)", path);
            unlink(path);
            continue;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size < (off_t)SEG_HDR_SIZE) {
            tlog(t, "disk tier: segment %s unreadable: %s", path,
                 fd < 0 ? strerror(errno) : "too short");
            CNT(t, unreadable, 1);
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        img = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (img == MAP_FAILED) {
            tlog(t, "disk tier: segment %s unreadable: %s", path, strerror(errno));
            CNT(t, unreadable, 1);
            close(fd);
            continue;
        }
        s = calloc(1, sizeof *s);
        if (s == NULL || t->segs[slot_of_id(ids[i])] != NULL) {
            free(s);
            munmap(img, (size_t)sb.st_size);
            close(fd);
            continue;
        }
        s->id = ids[i];
        s->fd = fd;
        s->slot = slot_of_id(ids[i]);
        s->size = (uint64_t)sb.st_size;
        s->seq0 = t->seq_next;
        atomic_fetch_add(&t->ram_bytes, sizeof *s);
        t->segs[s->slot] = s;
        t->nsegs++;
        c.s = s;
        if (seg_scan(img, (size_t)sb.st_size, t->dctx, &hdr, rebuild_visit, &c,
                     &ss) != SEG_OK) {
            tlog(t, "disk tier: segment %s has a bad header; skipped", path);
            CNT(t, unreadable, 1);
        } else if (ss.bad_blocks || ss.bad_records || ss.torn) {
            tlog(t, "disk tier: segment %s: %" PRIu64 " bad blocks, %" PRIu64
                    " bad records%s; the rest is served",
                 path, ss.bad_blocks, ss.bad_records, ss.torn ? ", torn tail" : "");
        }
        t->seq_next += s->nblocks;
        CNT(t, bad_blocks, ss.bad_blocks);
        CNT(t, bad_records, ss.bad_records);
        CNT(t, torn, ss.torn ? 1 : 0);
        atomic_fetch_add(&t->disk_bytes, s->size);
        munmap(img, (size_t)sb.st_size);
    }
    free(ids);
    for (unsigned i = 0; i < TIER_PARTS; i++) {
        atomic_fetch_add(&t->c.rebuilt, t->parts[i].n);
    }
    atomic_store(&t->c.rebuild_ms, (uint64_t)(mono_ms() - t0));
}

/* ---- lifecycle -------------------------------------------------------------- */

struct tier *
tier_create(const struct tier_config *cfg, int64_t now_ms, tier_log_fn log,
            char *err, size_t errlen)
{
    struct tier *t = calloc(1, sizeof *t);
    uint64_t nseg;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->dir, sizeof t->dir, "%s", cfg->dir ? cfg->dir : ".");
    t->log = log;
    t->max_bytes = cfg->max_bytes ? cfg->max_bytes : 10ull << 30;
    t->seg_size = cfg->segment_size ? cfg->segment_size : 64ull << 20;
    if (t->seg_size > 1ull << 31) {
        t->seg_size = 1ull << 31; /* block offsets are 32-bit */
    }
    /* at least three segments: the head, one being reclaimed, one more */
    if (t->max_bytes / t->seg_size < 3) {
        t->seg_size = t->max_bytes / 3;
    }
    if (t->seg_size < 64 * 1024) {
        t->seg_size = 64 * 1024;
    }
    nseg = t->max_bytes / t->seg_size;
    if (nseg > MAX_SEGS) {
        nseg = MAX_SEGS;
    }
    /* the writer may roll one segment past this before it reclaims */
    t->max_segs = (uint32_t)(nseg > 3 ? nseg - 1 : 2);
    t->level = cfg->level;
    t->queue_cap = cfg->queue_bytes ? cfg->queue_bytes : 16ull << 20;
    t->block_size = cfg->block_size ? cfg->block_size : 16 * 1024;
    t->slot_of = cfg->slot_of;
    /* what scales with the cold keys is counted (tables, block offsets);
     * the fixed struct (about 150 KiB, mostly the pending ring) is not,
     * as the store does not count its code */
    t->ram_bytes = 0;
    for (unsigned i = 0; i < TIER_PARTS; i++) {
        struct part *p = &t->parts[i];

        pthread_mutex_init(&p->lock, NULL);
        p->tab = calloc(PART_MIN_CAP, sizeof *p->tab);
        p->mask = PART_MIN_CAP - 1;
        if (p->tab == NULL) {
            snprintf(err, errlen, "out of memory");
            tier_destroy(&t);
            return NULL;
        }
        t->ram_bytes += PART_MIN_CAP * sizeof(struct entry);
    }
    pthread_mutex_init(&t->qlock, NULL);
    pthread_cond_init(&t->qcond, NULL);
    pthread_cond_init(&t->roomcond, NULL);
    pthread_rwlock_init(&t->seglock, NULL);
    pthread_mutex_init(&t->wlock, NULL);
    t->cctx = ZSTD_createCCtx();
    t->dctx = ZSTD_createDCtx();
    t->next_id = 1;
    if (t->cctx == NULL || t->dctx == NULL) {
        snprintf(err, errlen, "out of memory");
        tier_destroy(&t);
        return NULL;
    }
    {
        struct stat sb;

        if (stat(t->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "disk tier directory '%s': %s", t->dir,
                     strerror(errno ? errno : ENOTDIR));
            tier_destroy(&t);
            return NULL;
        }
    }
    rebuild(t, now_ms);
    pthread_mutex_lock(&t->wlock);
    maybe_reclaim(t);
    t->head = seg_open_new(t);
    pthread_mutex_unlock(&t->wlock);
    if (t->head == NULL) {
        snprintf(err, errlen, "cannot create a segment in '%s': %s", t->dir, strerror(errno));
        tier_destroy(&t);
        return NULL;
    }
    if (pthread_create(&t->thread, NULL, writer_main, t) != 0) {
        snprintf(err, errlen, "cannot start the disk tier writer");
        tier_destroy(&t);
        return NULL;
    }
    t->thread_started = true;
    return t;
}

void
tier_sync(struct tier *t)
{
    pthread_mutex_lock(&t->qlock);
    while (t->q_items > 0 && t->thread_started) {
        pthread_cond_wait(&t->roomcond, &t->qlock);
    }
    pthread_mutex_unlock(&t->qlock);
    pthread_mutex_lock(&t->wlock);
    write_block(t);
    if (t->head != NULL) {
        fdatasync(t->head->fd);
    }
    pthread_mutex_unlock(&t->wlock);
}

void
tier_destroy(struct tier **tp)
{
    struct tier *t;

    if (tp == NULL || (t = *tp) == NULL) {
        return;
    }
    *tp = NULL;
    if (t->thread_started) {
        pthread_mutex_lock(&t->qlock);
        t->stop = true;
        pthread_cond_broadcast(&t->qcond);
        pthread_cond_broadcast(&t->roomcond);
        pthread_mutex_unlock(&t->qlock);
        pthread_join(t->thread, NULL);
        if (t->head != NULL) {
            fdatasync(t->head->fd);
        }
    }
    /* anything a refused put left (none after a join) */
    while (t->qhead != NULL) {
        struct qnode *n = t->qhead;

        t->qhead = n->next;
        item_release(&n->it);
        free(n);
    }
    for (uint32_t i = 0; i < SLOTS; i++) {
        if (t->segs[i] != NULL) {
            struct seg *s = t->segs[i];

            /* an empty head left by a clean stop is just noise on disk */
            if (s->size <= SEG_HDR_SIZE && s->nblocks == 0) {
                char path[1200];

                seg_path(t, s->id, path, sizeof path);
                unlink(path);
            }
            seg_free(t, s);
        }
    }
    for (unsigned i = 0; i < TIER_PARTS; i++) {
        free(t->parts[i].tab);
        pthread_mutex_destroy(&t->parts[i].lock);
    }
    ZSTD_freeCCtx(t->cctx);
    ZSTD_freeDCtx(t->dctx);
    free(t->raw);
    free(t->st);
    free(t->pack);
    free(t);
}

void
tier_wait_room(struct tier *t)
{
    struct timespec ts;

    if (atomic_load_explicit(&t->failed_flag, memory_order_relaxed) > mono_ms()) {
        return; /* the disk is failing: evictions will be refused anyway */
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_mutex_lock(&t->qlock);
    /* leave room for a burst of evictions from other threads */
    while (t->q_bytes + t->queue_cap / 4 > t->queue_cap && !t->stop) {
        if (pthread_cond_timedwait(&t->roomcond, &t->qlock, &ts) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&t->qlock);
}

void
tier_flush_all(struct tier *t)
{
    pthread_mutex_lock(&t->wlock);
    discard_block(t);
    for (unsigned i = 0; i < TIER_PARTS; i++) {
        struct part *p = &t->parts[i];

        pthread_mutex_lock(&p->lock);
        memset(p->tab, 0, ((size_t)p->mask + 1) * sizeof *p->tab);
        p->n = 0;
        p->hot = 0;
        pthread_mutex_unlock(&p->lock);
    }
    for (uint32_t i = 1; i < SLOTS; i++) {
        if (t->segs[i] != NULL) {
            seg_remove(t, t->segs[i]);
        }
    }
    t->head = seg_open_new(t);
    pthread_mutex_unlock(&t->wlock);
}

uint64_t
tier_ram_bytes(struct tier *t)
{
    return atomic_load_explicit(&t->ram_bytes, memory_order_relaxed);
}

uint64_t
tier_cold_keys(struct tier *t)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < TIER_PARTS; i++) {
        pthread_mutex_lock(&t->parts[i].lock);
        n += t->parts[i].n - t->parts[i].hot;
        pthread_mutex_unlock(&t->parts[i].lock);
    }
    return n;
}

/* A walk of the whole index (RAM, 16 B a cold key; no disk read): the
 * fingerprint keeps the slot's bits but entries are placed by other bits. */
uint64_t
tier_slot_count(struct tier *t, unsigned slot, int64_t now_ms)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < TIER_PARTS; i++) {
        struct part *p = &t->parts[i];

        pthread_mutex_lock(&p->lock);
        for (uint32_t j = 0; p->n > p->hot && j <= p->mask; j++) {
            const struct entry *e = &p->tab[j];

            n += e->loc != 0 && !(e->fp & FP_HOT) && key_hash_slot(e->fp) == slot &&
                 exp_state(e->exp_s, now_ms) != 1;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return n;
}

void
tier_stats(struct tier *t, struct tier_stats *o)
{
    memset(o, 0, sizeof *o);
    for (unsigned i = 0; i < TIER_PARTS; i++) {
        pthread_mutex_lock(&t->parts[i].lock);
        o->index_entries += t->parts[i].n;
        o->cold_keys += t->parts[i].n - t->parts[i].hot;
        pthread_mutex_unlock(&t->parts[i].lock);
    }
    o->ram_bytes = tier_ram_bytes(t);
    o->disk_bytes = atomic_load(&t->disk_bytes);
    o->disk_max_bytes = t->max_bytes;
    pthread_rwlock_rdlock(&t->seglock);
    o->segments = t->nsegs;
    pthread_rwlock_unlock(&t->seglock);
    pthread_mutex_lock(&t->qlock);
    o->queue_bytes = t->q_bytes;
    pthread_mutex_unlock(&t->qlock);
    o->raw_bytes_written = atomic_load(&t->c.raw_written);
    o->disk_bytes_written = atomic_load(&t->c.disk_written);
    o->records_written = atomic_load(&t->c.records_written);
    o->blocks_written = atomic_load(&t->c.blocks_written);
    o->disk_reads = atomic_load(&t->c.reads);
    o->queue_hits = atomic_load(&t->c.queue_hits);
    o->promotions = atomic_load(&t->c.promotions);
    o->clean_evictions = atomic_load(&t->c.clean);
    o->refused = atomic_load(&t->c.refused);
    o->refused_full = atomic_load(&t->c.refused_full);
    o->refused_failing = atomic_load(&t->c.refused_failing);
    o->refused_too_big = atomic_load(&t->c.refused_too_big);
    o->evicted = atomic_load(&t->c.evicted);
    o->expired = atomic_load(&t->c.expired);
    o->reclaimed_segments = atomic_load(&t->c.reclaimed);
    o->compacted_segments = atomic_load(&t->c.compacted);
    o->rewritten_records = atomic_load(&t->c.rewritten);
    o->tombstones = atomic_load(&t->c.tombstones);
    o->read_errors = atomic_load(&t->c.read_errors);
    o->write_errors = atomic_load(&t->c.write_errors);
    o->bad_blocks = atomic_load(&t->c.bad_blocks);
    o->bad_records = atomic_load(&t->c.bad_records);
    o->torn_segments = atomic_load(&t->c.torn);
    o->unreadable_segments = atomic_load(&t->c.unreadable);
    o->rebuilt_keys = atomic_load(&t->c.rebuilt);
    o->rebuild_ms = atomic_load(&t->c.rebuild_ms);
    o->read_ns_total = atomic_load(&t->c.read_ns);
}
