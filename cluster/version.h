/*
 * cluster/version.h — versions of values and deletes: a hybrid logical clock
 * (Kulkarni et al. 2014) stamped with the coordinating member's tag.
 *
 * A version is one 63-bit number, so every replica orders any two versions
 * the same way (a total order) and resolves concurrent writes alike:
 *
 *     bits 62..22  milliseconds since 2024-01-01 UTC (41 bits: until 2093)
 *     bits 21..12  logical counter within that millisecond (10 bits)
 *     bits 11..0   tag of the member that made it (12 bits of its id)
 *
 * 0 means "no version" (an absent key, or one written before versions were
 * on) and is older than every version. A member never makes the same version
 * twice and each of its versions is greater than every version it has made or
 * observed before (the HLC rule), so a write coordinated after a failover
 * supersedes what the previous coordinator wrote even when the clocks
 * disagree, as long as the new coordinator has seen that version (a read
 * before a read-modify-write, a replica write, a repair). Two members share a
 * tag with odds 1/4096 a pair; their versions still differ unless they are
 * made in the same millisecond with the same counter.
 *
 * Causal context: a replica write carries, beside its version, the version
 * it replaced at its coordinator (its parent). A replica holding a version
 * newer than the parent but not the incoming one holds a write the
 * coordinator never saw: the two are concurrent (counted), and the total order
 * decides. This is the one-entry form of a dotted version vector: it tells
 * "newer" from "concurrent" for the common cases (a write racing a failover,
 * or two coordinators during a partition) without a vector per key.
 *
 * Thread safety: hlc_next and hlc_observe may run on any thread at once.
 */
#ifndef CLUSTER_VERSION_H
#define CLUSTER_VERSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VERSION_EPOCH_MS 1704067200000LL /* 2024-01-01T00:00:00Z */
#define VERSION_TAG_BITS 12
#define VERSION_LOGICAL_BITS 10
#define VERSION_MAX ((UINT64_C(1) << 63) - 1)

struct hlc {
    _Atomic uint64_t last; /* the last version's time part (version >> 12) */
    uint16_t tag;
};

/* Tag from a member's 40-hex id. */
void hlc_init(struct hlc *h, const char *member_id);

/* A new version: greater than floor, than every version this clock made and
 * than every version it observed; carries this member's tag. */
uint64_t hlc_next(struct hlc *h, uint64_t floor, int64_t now_ms);

/* A version made elsewhere: versions made here from now on are greater. */
void hlc_observe(struct hlc *h, uint64_t seen);

/* The greatest version any member can make in Unix ms `ms`: a flush at
 * that time covers every write of the millisecond, wherever it was made. */
uint64_t version_through_ms(int64_t ms);
/* A FLUSHALL at Unix ms `now_ms`: moves the clock past the flush and returns
 * its floor, the greatest version older than the clock's next millisecond
 * part. Every version any member made through now_ms, and every one this
 * clock made, is at most the floor; a version any member makes later than
 * the clock's new time is above it, whatever its tag (a floor that kept this
 * member's tag would refuse a lower-tagged member's write of that instant). */
uint64_t hlc_flush_floor(struct hlc *h, int64_t now_ms);
/* Unix ms the version was made at, by its maker's clock. */
int64_t version_ms(uint64_t v);
unsigned version_tag(uint64_t v);

/* How an incoming replica write (version incoming, made over parent) relates
 * to the version a replica holds (cur). VERSION_SAME: it is cur (a
 * duplicate). VERSION_OLDER: cur is newer (a late delivery, or a lost race):
 * keep cur. VERSION_NEWER: it follows cur. VERSION_CONCURRENT: cur is a
 * write the coordinator never saw (parent < cur < incoming); incoming wins by
 * the total order, and the caller counts a conflict. */
enum version_rel { VERSION_SAME, VERSION_OLDER, VERSION_NEWER, VERSION_CONCURRENT };
enum version_rel version_compare(uint64_t cur, uint64_t incoming, uint64_t parent);

#endif
