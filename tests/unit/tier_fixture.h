/*
 * tests/unit/tier_fixture.h — what the disk-tier suites share: a store with
 * a tier in a fresh directory, opened and closed as the server does.
 */
#ifndef TESTS_UNIT_TIER_FIXTURE_H
#define TESTS_UNIT_TIER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"
#include "storage/tier.h"

#define NOW 1700000000000LL

extern char dir[64];       /* the tier's directory, made by fixture_setup */
extern struct tier *tier;
extern struct store *st;

/* open_all gives store and tier the cluster's slots (key_hash_of). */
extern bool fixture_slots;
/* A tier in dir (4 KiB blocks, 1 MiB queue) under a 16-shard store. */
void open_all(uint64_t maxmemory, uint64_t max_bytes, uint64_t seg_size);
/* A clean stop: memory to disk, then both gone. */
void close_all(void);
/* .init: a fresh directory under the build tree, not /tmp: tests drop
 * segment pages from the page cache, which a tmpfs /tmp would ignore. */
void fixture_setup(void);
/* .fini: store and tier gone, directory removed. */
void fixture_teardown(void);

#endif
