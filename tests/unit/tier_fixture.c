/*
 * tests/unit/tier_fixture.c — see tier_fixture.h.
 */
#include "tests/unit/tier_fixture.h"

#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <stdio.h>
#include <stdlib.h>

#include "cluster/slots.h"

char dir[64];
struct tier *tier;
struct store *st;
bool fixture_slots;

void
open_all(uint64_t maxmemory, uint64_t max_bytes, uint64_t seg_size)
{
    struct tier_config tc = {.dir = dir, .max_bytes = max_bytes,
                             .segment_size = seg_size, .level = 1,
                             .queue_bytes = 1 << 20, .block_size = 4096,
                             .slot_of = fixture_slots ? slots_keyslot : NULL};
    struct store_config sc = {.maxmemory = maxmemory, .shards = 16, .slot_of = tc.slot_of};
    char err[256];

    tier = tier_create(&tc, NOW, NULL, err, sizeof err);
    cr_assert(not(eq(ptr, tier, NULL)), "%s", err);
    sc.tier = tier;
    st = store_create(&sc);
    cr_assert(not(eq(ptr, st, NULL)));
}

void
close_all(void)
{
    store_spill(st);
    store_destroy(&st);
    tier_destroy(&tier);
}

void
fixture_setup(void)
{
    snprintf(dir, sizeof dir, "tmp-rc-tier-XXXXXX");
    cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
}

void
fixture_teardown(void)
{
    char cmd[128];

    store_destroy(&st);
    tier_destroy(&tier);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
}
