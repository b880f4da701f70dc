/*
 * tests/fuzz/fuzz_config.c — the config file parser (server/config.c):
 * config_load on a file holding the input, from the built-in defaults, as
 * ringcache-server does at start; then every directive is formatted as
 * CONFIG GET would show it. The same value parsers serve CONFIG SET, so
 * this covers what a client can send there too.
 *
 * Properties checked beyond ASan/UBSan: a failed load says why; a loaded
 * file's values format, and what CONFIG GET shows is accepted back by
 * CONFIG SET's parser (config_set, not at runtime), leaving the same value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "tests/fuzz/fuzz.h"

static char path[PATH_MAX + 32];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[2048];

    if (path[0] == '\0') {
        snprintf(path, sizeof path, "%s/ringcache.conf", fuzz_tmpdir());
    }
    fuzz_write_file(path, data, size);
    config_setup();
    err[0] = '\0';
    if (config_load(path, 0, NULL, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
    } else {
        for (int i = 0; i < OPT__COUNT; i++) {
            char *shown = config_format_dup((enum config_id)i), *again;

            FUZZ_CHECK(shown != NULL);
            /* a string with a NUL cannot come from a file line */
            FUZZ_CHECK(config_set((enum config_id)i, shown, false, err, sizeof err) == 0);
            again = config_format_dup((enum config_id)i);
            FUZZ_CHECK(again != NULL && strcmp(again, shown) == 0);
            free(again);
            free(shown);
        }
    }
    config_teardown();
    unlink(path);
    return 0;
}
