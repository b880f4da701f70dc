/*
 * tests/fuzz/gen_corpus.c — writes the segment and hint log seeds of
 * tests/fuzz/corpus/ with the real encoders (storage/segment.c,
 * storage/hintlog.c), so the seeds are what the tier and the hint logs
 * write. Run by hand when a format changes:
 *   make tests/fuzz/gen_corpus && tests/fuzz/gen_corpus tests/fuzz/corpus
 * Each seed starts with the harness's mode byte (segment.c/hintlog.c's
 * harnesses: bit 0 repairs checksums).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "storage/hintlog.h"
#include "storage/segment.h"

#define TARGET "0123456789abcdef0123456789abcdef01234567"

static void
save(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(&mode, 1, 1, f) != 1 ||
        fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* A segment of two blocks (level 0: raw; else zstd), records of every kind. */
static size_t
segment(uint8_t *img, int level)
{
    static const struct seg_record recs[] = {
        { .key = "user:1", .klen = 6, .val = "hello world", .vlen = 11 },
        { .key = "ttl", .klen = 3, .val = "v", .vlen = 1, .expire_ms = 1700000000123LL },
        { .key = "user:1", .klen = 6, .val = "newer", .vlen = 5, .version = 7205759403792793600ULL },
        { .key = "gone", .klen = 4, .flags = SEG_REC_TOMBSTONE, .version = 9 },
        { .key = "mc", .klen = 2, .val = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", .vlen = 32,
          .flags = SEG_REC_MCFLAGS, .mcflags = 42 },
    };
    struct seg_header h = { .id = 1, .created_ms = 1700000000000ULL, .seg_size = 65536,
                            .version = SEG_FORMAT_VERSION };
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    uint8_t raw[1024];
    size_t len = SEG_HDR_SIZE;

    seg_header_encode(&h, img);
    for (int b = 0; b < 2; b++) {
        size_t ulen = 0, out;

        for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
            if ((i + (size_t)b) % 2 == 0 || b == 0) {
                ulen += seg_record_encode(&recs[i], raw + ulen);
            }
        }
        seg_block_pack(raw, ulen, 5, level, cctx, img + len, 4096, &out);
        len += out;
    }
    ZSTD_freeCCtx(cctx);
    return len;
}

static void
hint_log(const char *out_dir)
{
    char dir[] = "/tmp/rc-gen-hints-XXXXXX", path[4096], err[256];
    struct hint_rec r1 = { .key = "k1", .klen = 2, .val = "value", .vlen = 5,
                           .version = 5, .parent = 3, .created_ms = 1700000000000LL };
    struct hint_rec r2 = { .key = "tomb", .klen = 4, .tomb = true, .version = 6,
                           .created_ms = 1700000000001LL };
    struct hint_rec r3 = { .key = "old", .klen = 3, .val = "x", .vlen = 1,
                           .expire_ms = 1700000100000LL, .created_ms = 1 };
    struct hintlog *h;
    uint8_t buf[4096];
    size_t n;
    FILE *f;

    if (mkdtemp(dir) == NULL || (h = hintlog_open(dir, 0, err, sizeof err)) == NULL) {
        fprintf(stderr, "hint log: %s\n", err);
        exit(1);
    }
    hintlog_append(h, TARGET, &r1);
    hintlog_append(h, TARGET, &r2);
    hintlog_append(h, TARGET, &r3);
    hintlog_close(&h);
    snprintf(path, sizeof path, "%s/%s.hints", dir, TARGET);
    f = fopen(path, "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/hintlog", out_dir);
    save(path, "three-records", 0, buf, n);
    save(path, "three-records-repair", 1, buf, n);
    save(path, "three-records-batch1", 2, buf, n);
    save(path, "torn-tail", 1, buf, n - 7);
}

int
main(int argc, char **argv)
{
    uint8_t img[8192];
    char path[4096];
    size_t n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/segment", argv[1]);
    n = segment(img, 0);
    save(path, "raw-blocks", 0, img, n);
    save(path, "raw-blocks-repair", 1, img, n);
    n = segment(img, 3);
    save(path, "zstd-blocks", 0, img, n);
    save(path, "zstd-blocks-repair", 1, img, n);
    hint_log(argv[1]);
    return 0;
}
