/*
 * tests/fuzz/fuzz.h — what the libFuzzer harnesses share: a scratch
 * directory for the decoders that read files, and the assertion they use.
 *
 * Harnesses are built and run by `make fuzz` (tests/fuzz/run); each defines
 * LLVMFuzzerTestOneInput and must leave nothing behind between inputs
 * (memory, files, descriptors), so that an input behaves the same whenever
 * it runs.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A property of the decoder does not hold: abort, so libFuzzer saves the
 * input as a crash (assert() would vanish under NDEBUG). */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

static char fuzz_dir[PATH_MAX];

static inline void
fuzz_dir_remove(void)
{
    rmdir(fuzz_dir); /* harnesses empty it after every input */
}

/* A fresh directory under $TMPDIR for this process, removed at exit. */
static inline const char *
fuzz_tmpdir(void)
{
    if (fuzz_dir[0] == '\0') {
        const char *base = getenv("TMPDIR");

        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/rc-fuzz-XXXXXX",
                 base != NULL && base[0] != '\0' ? base : "/tmp");
        if (mkdtemp(fuzz_dir) == NULL) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir;
}

/* Replace path's contents with data[0..len). */
static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
