/*
 * storage/hintlog.c — hinted-handoff logs: one append-only, checksummed file
 * per target under one directory (format, damage model and contract in
 * hintlog.h). Does the I/O and the accounting; does not decide who gets a
 * hint or when it is replayed.
 */
#include "storage/hintlog.h"
#include "storage/le.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xxhash.h>

#define REC_MAGIC 0x4e484352u /* "RCHN" little-endian */
#define REC_FLAG_TOMB 0x01u
#define HCRC_OFF 56u
#define RCRC_OFF 60u
#define HCRC_SEED 0x48494e54u
#define SUFFIX ".hints"
#define SUFFIX_LEN (sizeof SUFFIX - 1)
/* Reads go through a buffer of this size, or of one record if bigger. */
#define WALK_CHUNK (64u * 1024)

/* A target with fd < 0 is retired: its last file was acked away, and it is
 * kept only so the next file goes on at base (see hintlog.h, offsets). */
struct target {
    char id[HINT_TARGET_LEN + 1];
    int fd;           /* O_RDWR | O_APPEND, or -1 when retired */
    uint64_t base;    /* stream offset of the file's byte 0 */
    uint64_t end;     /* bytes of whole records: what reads may cover */
    uint64_t records; /* good records in the file */
    uint64_t acked;   /* of those, acked (only while the file lives) */
    uint64_t counted; /* window and corrupt skips counted below here */
    uint64_t gen;     /* tells a recreated file from the one a read saw */
};

struct hintlog {
    pthread_mutex_t lock;
    char *dir;
    uint64_t max_bytes;
    uint64_t gen;
    struct target **t;
    size_t nt, tcap;
    struct hintlog_stats st;
};

const char *
hint_strerror(enum hint_status st)
{
    switch (st) {
    case HINT_OK:     return "ok";
    case HINT_EFULL:  return "hint logs are full";
    case HINT_EIO:    return "hint log I/O error";
    case HINT_ENOMEM: return "out of memory";
    case HINT_EINVAL: return "invalid target, record or offset";
    }
    return "unknown hint status";
}

/* ---- records ------------------------------------------------------------- */

static bool
target_valid(const char *target)
{
    if (target == NULL) {
        return false;
    }
    for (size_t i = 0; i < HINT_TARGET_LEN; i++) {
        char c = target[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return target[HINT_TARGET_LEN] == '\0';
}

static void
rec_hdr_encode(const struct hint_rec *r, uint8_t out[HINT_REC_HDR_SIZE])
{
    uint32_t vlen = r->tomb ? 0 : (uint32_t)r->vlen;
    uint32_t h;

    memset(out, 0, HINT_REC_HDR_SIZE);
    put32(out, REC_MAGIC);
    out[4] = r->tomb ? REC_FLAG_TOMB : 0;
    out[5] = HINT_FORMAT_VERSION;
    put32(out + 8, (uint32_t)r->klen);
    put32(out + 12, vlen);
    put64(out + 16, (uint64_t)r->expire_ms);
    put64(out + 24, r->version);
    put64(out + 32, r->parent);
    put64(out + 40, (uint64_t)r->created_ms);
    put64(out + 48, r->mcmeta);
    h = XXH32(out, HCRC_OFF, HCRC_SEED);
    put32(out + HCRC_OFF, h);
    /* chained, so one checksum covers header and bytes without a copy */
    h = XXH32(r->key, r->klen, h);
    if (vlen != 0) {
        h = XXH32(r->val, vlen, h);
    }
    put32(out + RCRC_OFF, h);
}

/* Header checks only: magic, checksum, bounds. */
static bool
rec_hdr_decode(const uint8_t *p, struct hint_rec *r)
{
    uint32_t klen, vlen;

    if (get32(p) != REC_MAGIC ||
        get32(p + HCRC_OFF) != XXH32(p, HCRC_OFF, HCRC_SEED)) {
        return false;
    }
    klen = get32(p + 8);
    vlen = get32(p + 12);
    if (p[5] != HINT_FORMAT_VERSION || (p[4] & ~REC_FLAG_TOMB) != 0 ||
        klen > HINT_KEY_MAX || vlen > HINT_VAL_MAX ||
        ((p[4] & REC_FLAG_TOMB) && vlen != 0)) {
        return false;
    }
    r->klen = klen;
    r->vlen = vlen;
    r->tomb = (p[4] & REC_FLAG_TOMB) != 0;
    r->expire_ms = (int64_t)get64(p + 16);
    r->version = get64(p + 24);
    r->parent = get64(p + 32);
    r->created_ms = (int64_t)get64(p + 40);
    r->mcmeta = get64(p + 48);
    return true;
}

/* Second XXH32 of the chain, as the writer computed it. */
static uint32_t
rec_body_crc(const uint8_t *p, size_t klen, size_t vlen)
{
    uint32_t h = XXH32(p + HINT_REC_HDR_SIZE, klen, get32(p + HCRC_OFF));

    return vlen != 0 ? XXH32(p + HINT_REC_HDR_SIZE + klen, vlen, h) : h;
}

/* ---- walking a log ------------------------------------------------------- */

struct walk {
    int fd;
    uint64_t end; /* never read at or past this */
    uint8_t *buf;
    size_t cap;
    uint64_t base; /* buf holds the file's [base, base + len) */
    size_t len;
};

enum walk_step {
    W_REC,     /* a good record */
    W_BADBODY, /* header good, bytes not: its length can be trusted */
    W_BADHDR,  /* nothing after this can be trusted */
    W_TORN,    /* the record runs past the end */
    W_END,
    W_EIO,
    W_ENOMEM,
};

/* Make the file's [off, off + n) available in w->buf; n <= w->end - off. */
static enum walk_step
walk_ensure(struct walk *w, uint64_t off, size_t n)
{
    size_t want = n > WALK_CHUNK ? n : WALK_CHUNK;
    size_t got = 0;

    if (off >= w->base && off + n <= w->base + w->len) {
        return W_REC;
    }
    if (want > w->end - off) {
        want = (size_t)(w->end - off);
    }
    if (want > w->cap) {
        uint8_t *nb = realloc(w->buf, want);

        if (nb == NULL) {
            return W_ENOMEM;
        }
        w->buf = nb;
        w->cap = want;
    }
    w->len = 0;
    while (got < want) {
        ssize_t k = pread(w->fd, w->buf + got, want - got, (off_t)(off + got));

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return W_EIO;
        }
        if (k == 0) {
            break;
        }
        got += (size_t)k;
    }
    w->base = off;
    w->len = got;
    return got < n ? W_TORN : W_REC;
}

/* The record at off: on W_REC, r borrows from w->buf until the next call;
 * on W_REC and W_BADBODY *size is the record's length. */
static enum walk_step
walk_next(struct walk *w, uint64_t off, struct hint_rec *r, size_t *size)
{
    enum walk_step st;
    const uint8_t *p;
    uint64_t total;

    if (off >= w->end) {
        return W_END;
    }
    if (w->end - off < HINT_REC_HDR_SIZE) {
        return W_TORN;
    }
    if ((st = walk_ensure(w, off, HINT_REC_HDR_SIZE)) != W_REC) {
        return st;
    }
    if (!rec_hdr_decode(w->buf + (off - w->base), r)) {
        return W_BADHDR;
    }
    total = (uint64_t)HINT_REC_HDR_SIZE + r->klen + r->vlen;
    if (total > w->end - off) {
        return W_TORN;
    }
    if ((st = walk_ensure(w, off, (size_t)total)) != W_REC) {
        return st;
    }
    p = w->buf + (off - w->base);
    *size = (size_t)total;
    if (get32(p + RCRC_OFF) != rec_body_crc(p, r->klen, r->vlen)) {
        return W_BADBODY;
    }
    r->key = (const char *)p + HINT_REC_HDR_SIZE;
    r->val = r->key + r->klen;
    return W_REC;
}

/* ---- targets (callers hold the lock) ------------------------------------- */

static void
path_of(const struct hintlog *h, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s" SUFFIX, h->dir, id);
}

/* The target, live or retired. */
static struct target *
do_find(struct hintlog *h, const char *id)
{
    for (size_t i = 0; i < h->nt; i++) {
        if (memcmp(h->t[i]->id, id, HINT_TARGET_LEN) == 0) {
            return h->t[i];
        }
    }
    return NULL;
}

/* Open (or create) id's log, index it and cut it after its last trusted
 * record; into the retired target t if there is one (keeping its base),
 * else into a new one. */
static enum hint_status
do_load(struct hintlog *h, const char *id, bool create, struct target *t,
        struct target **out)
{
    char path[PATH_MAX];
    struct walk w = {.fd = -1};
    struct target *fresh = NULL;
    enum hint_status rc = HINT_OK;
    uint64_t off = 0, records = 0;
    struct stat sb;

    if (t == NULL && h->nt == h->tcap) {
        size_t ncap = h->tcap ? h->tcap * 2 : 8;
        struct target **nt = realloc(h->t, ncap * sizeof *nt);

        if (nt == NULL) {
            return HINT_ENOMEM;
        }
        h->t = nt;
        h->tcap = ncap;
    }
    if (t == NULL && (t = fresh = calloc(1, sizeof *t)) == NULL) {
        return HINT_ENOMEM;
    }
    path_of(h, id, path, sizeof path);
    w.fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (w.fd < 0 || fstat(w.fd, &sb) != 0) {
        rc = HINT_EIO;
        goto out;
    }
    w.end = (uint64_t)sb.st_size;
    for (;;) {
        struct hint_rec r;
        size_t size = 0;
        enum walk_step st = walk_next(&w, off, &r, &size);

        if (st == W_REC || st == W_BADBODY) {
            records += st == W_REC;
            off += size;
            continue;
        }
        if (st == W_END) {
            break;
        }
        if (st == W_EIO || st == W_ENOMEM) {
            rc = st == W_EIO ? HINT_EIO : HINT_ENOMEM;
            goto out;
        }
        /* torn or untrustworthy from here on: keep what came before, and
         * make appends land right after it */
        if (ftruncate(w.fd, (off_t)off) != 0) {
            rc = HINT_EIO;
            goto out;
        }
        h->st.corrupt++;
        break;
    }
    memcpy(t->id, id, HINT_TARGET_LEN);
    t->id[HINT_TARGET_LEN] = '\0';
    t->fd = w.fd;
    t->end = off;
    t->records = records;
    t->acked = 0;
    t->counted = 0;
    t->gen = ++h->gen;
    if (fresh != NULL) {
        h->t[h->nt++] = t;
        fresh = NULL;
    }
    h->st.bytes += off;
    h->st.pending += records;
    *out = t;
    w.fd = -1;
out:
    if (w.fd >= 0) {
        close(w.fd);
    }
    free(w.buf);
    free(fresh);
    return rc;
}

/* Delete t's file; whatever it still held leaves pending. The target is
 * retired (the stream goes on at the file's end), or forgotten if !keep. */
static void
do_remove(struct hintlog *h, struct target *t, bool keep)
{
    char path[PATH_MAX];

    if (t->fd >= 0) {
        path_of(h, t->id, path, sizeof path);
        /* a failed unlink leaves a log the next open replays again:
         * harmless, replays are idempotent */
        (void)unlink(path);
        close(t->fd);
        t->fd = -1;
        h->st.pending -= t->records - t->acked;
        h->st.bytes -= t->end;
        t->base += t->end;
        t->end = t->records = t->acked = t->counted = 0;
    }
    if (keep) {
        return;
    }
    for (size_t i = 0; i < h->nt; i++) {
        if (h->t[i] == t) {
            h->t[i] = h->t[--h->nt];
            break;
        }
    }
    free(t);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int
mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];

            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            tmp[i] = c;
        }
    }
    return 0;
}

static bool
is_log_name(const char *name)
{
    char id[HINT_TARGET_LEN + 1];

    if (strlen(name) != HINT_TARGET_LEN + SUFFIX_LEN ||
        strcmp(name + HINT_TARGET_LEN, SUFFIX) != 0) {
        return false;
    }
    memcpy(id, name, HINT_TARGET_LEN);
    id[HINT_TARGET_LEN] = '\0';
    return target_valid(id);
}

struct hintlog *
hintlog_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
    struct hintlog *h = NULL;
    DIR *d = NULL;
    struct dirent *de;

    if (dir == NULL || mkdir_p(dir) != 0) {
        snprintf(err, errlen, "hint dir %s: %s", dir ? dir : "(null)",
                 strerror(errno));
        return NULL;
    }
    if ((h = calloc(1, sizeof *h)) == NULL || (h->dir = strdup(dir)) == NULL) {
        snprintf(err, errlen, "hint log: out of memory");
        goto fail;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->max_bytes = max_bytes;
    if ((d = opendir(dir)) == NULL) {
        snprintf(err, errlen, "hint dir %s: %s", dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d)) != NULL) {
        char id[HINT_TARGET_LEN + 1];
        struct target *t;
        enum hint_status st;

        if (!is_log_name(de->d_name)) {
            continue;
        }
        memcpy(id, de->d_name, HINT_TARGET_LEN);
        id[HINT_TARGET_LEN] = '\0';
        if ((st = do_load(h, id, false, NULL, &t)) != HINT_OK) {
            snprintf(err, errlen, "hint log %s/%s: %s", dir, de->d_name,
                     st == HINT_EIO ? strerror(errno) : hint_strerror(st));
            goto fail;
        }
    }
    closedir(d);
    return h;
fail:
    if (d != NULL) {
        closedir(d);
    }
    hintlog_close(&h);
    return NULL;
}

void
hintlog_close(struct hintlog **hp)
{
    struct hintlog *h = *hp;

    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->nt; i++) {
        if (h->t[i]->fd >= 0) {
            close(h->t[i]->fd);
        }
        free(h->t[i]);
    }
    free(h->t);
    free(h->dir);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}

void
hintlog_set_max_bytes(struct hintlog *h, uint64_t max_bytes)
{
    pthread_mutex_lock(&h->lock);
    h->max_bytes = max_bytes;
    pthread_mutex_unlock(&h->lock);
}

/* ---- append ---------------------------------------------------------------- */

enum hint_status
hintlog_append(struct hintlog *h, const char *target, const struct hint_rec *r)
{
    uint8_t hdr[HINT_REC_HDR_SIZE];
    size_t vlen;
    uint64_t size;
    struct iovec iov[3];
    int iovcnt = 3, first = 0;
    struct target *t;
    enum hint_status rc = HINT_OK;
    bool fresh = false;

    if (!target_valid(target) || r == NULL) {
        return HINT_EINVAL;
    }
    vlen = r->tomb ? 0 : r->vlen;
    if (r->klen > HINT_KEY_MAX || vlen > HINT_VAL_MAX ||
        (r->klen != 0 && r->key == NULL) || (vlen != 0 && r->val == NULL)) {
        return HINT_EINVAL;
    }
    size = HINT_REC_HDR_SIZE + (uint64_t)r->klen + vlen;
    rec_hdr_encode(r, hdr);
    iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof hdr};
    iov[1] = (struct iovec){.iov_base = (void *)r->key, .iov_len = r->klen};
    iov[2] = (struct iovec){.iov_base = (void *)r->val, .iov_len = vlen};

    pthread_mutex_lock(&h->lock);
    if (h->max_bytes != 0 && h->st.bytes + size > h->max_bytes) {
        h->st.dropped++;
        rc = HINT_EFULL;
        goto out;
    }
    if ((t = do_find(h, target)) == NULL || t->fd < 0) {
        if ((rc = do_load(h, target, true, t, &t)) != HINT_OK) {
            goto out;
        }
        fresh = t->end == 0;
        /* the file may have held records nobody indexed: recheck */
        if (h->max_bytes != 0 && h->st.bytes + size > h->max_bytes) {
            h->st.dropped++;
            rc = HINT_EFULL;
            goto out;
        }
    }
    /* one writev; short writes are resumed (we hold the lock, so the
     * record stays contiguous even on an O_APPEND descriptor) */
    while (first < iovcnt) {
        ssize_t k = writev(t->fd, iov + first, iovcnt - first);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            /* never leave half a record in front of the next one */
            (void)ftruncate(t->fd, (off_t)t->end);
            rc = HINT_EIO;
            if (fresh) {
                do_remove(h, t, true);
            }
            goto out;
        }
        while (first < iovcnt && (size_t)k >= iov[first].iov_len) {
            k -= (ssize_t)iov[first].iov_len;
            first++;
        }
        if (first < iovcnt) {
            iov[first].iov_base = (char *)iov[first].iov_base + k;
            iov[first].iov_len -= (size_t)k;
        }
    }
    t->end += size;
    t->records++;
    h->st.bytes += size;
    h->st.pending++;
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* ---- targets, read, ack, drop --------------------------------------------- */

/* A stream offset as a position in t's file: 0 and offsets from before the
 * file (its predecessors were all acked) mean its start. */
static uint64_t
file_off(const struct target *t, uint64_t offset)
{
    return offset < t->base ? 0 : offset - t->base;
}

size_t
hintlog_targets(struct hintlog *h, char (*out)[HINT_TARGET_LEN + 1], size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nt && n < cap; i++) {
        if (h->t[i]->fd >= 0) {
            memcpy(out[n++], h->t[i]->id, HINT_TARGET_LEN + 1);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

long
hintlog_read(struct hintlog *h, const char *target, uint64_t *offset,
             size_t max_bytes, int64_t drop_before_ms, hint_rec_fn *fn,
             void *ctx)
{
    struct walk w = {.fd = -1};
    struct target *t;
    uint64_t off, base, gen, counted, consumed = 0, ndrop = 0, ncorrupt = 0;
    long n = 0;
    enum hint_status rc = HINT_OK;

    if (!target_valid(target) || offset == NULL || fn == NULL) {
        return HINT_EINVAL;
    }
    /* snapshot under the lock, read without it: the snapshot's end only
     * covers whole records, and a descriptor of our own survives an unlink */
    pthread_mutex_lock(&h->lock);
    if ((t = do_find(h, target)) == NULL) {
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    if (file_off(t, *offset) > t->end) {
        pthread_mutex_unlock(&h->lock);
        return HINT_EINVAL;
    }
    if (t->fd < 0) {
        pthread_mutex_unlock(&h->lock);
        return 0; /* all acked, nothing new yet */
    }
    off = file_off(t, *offset);
    base = t->base;
    w.fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
    w.end = t->end;
    gen = t->gen;
    counted = t->counted;
    pthread_mutex_unlock(&h->lock);
    if (w.fd < 0) {
        return HINT_EIO;
    }
    if (max_bytes == 0) {
        max_bytes = 1; /* still one record */
    }

    while (consumed < max_bytes) {
        struct hint_rec r;
        size_t size = 0;
        enum walk_step st = walk_next(&w, off, &r, &size);

        if (st == W_END) {
            break;
        }
        if (st == W_EIO || st == W_ENOMEM) {
            rc = st == W_EIO ? HINT_EIO : HINT_ENOMEM;
            break;
        }
        if (st == W_BADHDR || st == W_TORN) {
            /* boundaries lost: the rest of this snapshot is unreadable */
            ncorrupt += off >= counted;
            off = w.end;
            break;
        }
        if (st == W_BADBODY) {
            ncorrupt += off >= counted;
        } else if (r.created_ms < drop_before_ms) {
            ndrop += off >= counted;
        } else {
            fn(ctx, &r);
            n++;
        }
        off += size;
        consumed += size;
    }
    close(w.fd);
    free(w.buf);

    pthread_mutex_lock(&h->lock);
    h->st.dropped += ndrop;
    h->st.corrupt += ncorrupt;
    if ((t = do_find(h, target)) != NULL && t->gen == gen && off > t->counted) {
        t->counted = off;
    }
    pthread_mutex_unlock(&h->lock);
    *offset = base + off;
    return rc != HINT_OK ? rc : n;
}

void
hintlog_ack(struct hintlog *h, const char *target, uint64_t offset,
            uint64_t records)
{
    struct target *t;
    uint64_t take;

    if (!target_valid(target)) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    if ((t = do_find(h, target)) != NULL && t->fd >= 0) {
        take = records < t->records - t->acked ? records : t->records - t->acked;
        h->st.replayed += records;
        t->acked += take;
        h->st.pending -= take;
        if (file_off(t, offset) == t->end) {
            do_remove(h, t, true);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void
hintlog_drop(struct hintlog *h, const char *target)
{
    struct target *t;

    if (!target_valid(target)) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    if ((t = do_find(h, target)) != NULL) {
        h->st.dropped += t->records - t->acked;
        do_remove(h, t, false);
    }
    pthread_mutex_unlock(&h->lock);
}

void
hintlog_stats(struct hintlog *h, struct hintlog_stats *out)
{
    pthread_mutex_lock(&h->lock);
    *out = h->st;
    pthread_mutex_unlock(&h->lock);
}
