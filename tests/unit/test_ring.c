/*
 * tests/unit/test_ring.c — cluster/ring.c: the placement rule exactly as
 * ring.h documents it (checked against a brute-force reading of it, and
 * pinned for future versions), balance of primaries, minimal movement when
 * a member joins or leaves, preference lists that are distinct and
 * independent of join order, and the API's edges.
 *
 * Member ids are random-looking 40-hex strings made from XXH64, as real ids
 * are random; a "family" is one cluster's worth of them.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster/ring.h"

TestSuite(ring);

/* ---- helpers ------------------------------------------------------------- */

/* Member k of a family: a 40-hex id, the same on every run. */
static void
make_id(char id[RING_ID_LEN + 1], unsigned family, unsigned k)
{
    unsigned long long h[3];

    for (unsigned i = 0; i < 3; i++) {
        uint32_t in[3] = { family, k, i };

        h[i] = XXH64(in, sizeof in, 0x72696e67);
    }
    snprintf(id, RING_ID_LEN + 1, "%016llx%016llx%08llx", h[0], h[1],
             h[2] & 0xffffffffULL);
}

/* Add member k of family with handle k. */
static void
add_member(struct ring *r, unsigned family, unsigned k)
{
    char id[RING_ID_LEN + 1];

    make_id(id, family, k);
    cr_assert(eq(int, ring_member_add(r, id, k), RING_OK));
}

static void
remove_member(struct ring *r, unsigned family, unsigned k)
{
    char id[RING_ID_LEN + 1];

    make_id(id, family, k);
    cr_assert(eq(int, ring_member_remove(r, id), RING_OK));
}

/* A built ring of members 0..n-1 of family. */
static struct ring *
ring_of(unsigned family, unsigned n, unsigned vnodes)
{
    struct ring *r = ring_create(vnodes);

    cr_assert(not(eq(ptr, r, NULL)));
    for (unsigned k = 0; k < n; k++) {
        add_member(r, family, k);
    }
    ring_build(r);
    return r;
}

/* Every slot's full preference list (RING_MAX_REPLICAS wide); returns the
 * list length, the same for all slots. */
static size_t
snapshot(const struct ring *r, uint32_t (*lists)[RING_MAX_REPLICAS])
{
    size_t len = ring_preference(r, 0, RING_MAX_REPLICAS, lists[0]);

    for (unsigned s = 1; s < CLUSTER_SLOTS; s++) {
        cr_assert(eq(sz, ring_preference(r, (uint16_t)s, RING_MAX_REPLICAS,
                                         lists[s]),
                     len));
    }
    return len;
}

/* The largest |primaries - fair share| / fair share over n members. */
static double
worst_primary_deviation(const struct ring *r, unsigned n)
{
    static uint16_t slots[CLUSTER_SLOTS];
    double fair = (double)CLUSTER_SLOTS / n, worst = 0;

    for (unsigned k = 0; k < n; k++) {
        double dev = fabs((double)ring_member_slots(r, k, 1, slots) - fair) / fair;

        worst = dev > worst ? dev : worst;
    }
    return worst;
}

/* ---- placement: exactly what ring.h says, and stable across versions ------- */

/* ring.h's rule read literally: every member's distance is the minimum over
 * all probes and all of its tokens; the list is the members by (distance,
 * id). Quadratic, and independent of ring.c's sorted walk. */
static void
brute_force_list(char ids[][RING_ID_LEN + 1], const uint32_t *handles,
                 unsigned n, unsigned vnodes, unsigned slot, uint32_t *out,
                 unsigned want)
{
    uint64_t dist[16];
    bool used[16] = { false };
    const unsigned char b[2] = { (unsigned char)(slot >> 8),
                                 (unsigned char)(slot & 0xff) };

    cr_assert(le(u32, n, 16));
    for (unsigned m = 0; m < n; m++) {
        dist[m] = UINT64_MAX;
        for (unsigned k = 0; k < RING_PROBES; k++) {
            uint64_t probe = XXH64(b, 2, k);

            for (unsigned i = 0; i < vnodes; i++) {
                uint64_t d = XXH64(ids[m], RING_ID_LEN, i) - probe;

                dist[m] = d < dist[m] ? d : dist[m];
            }
        }
    }
    for (unsigned w = 0; w < want; w++) {
        int best = -1;

        for (unsigned m = 0; m < n; m++) {
            if (used[m]) {
                continue;
            }
            if (best < 0 || dist[m] < dist[best] ||
                (dist[m] == dist[best] && strcmp(ids[m], ids[best]) < 0)) {
                best = (int)m;
            }
        }
        used[best] = true;
        out[w] = handles[best];
    }
}

Test(ring, follows_the_placement_rule_its_header_documents)
{
    enum { N = 6, V = 4 }; /* few tokens: long walks, much wrapping */
    char ids[N][RING_ID_LEN + 1];
    uint32_t handles[N];
    struct ring *r = ring_create(V);

    for (unsigned k = 0; k < N; k++) {
        make_id(ids[k], 7, k);
        handles[k] = 100 + k * 3;
        cr_assert(eq(int, ring_member_add(r, ids[k], handles[k]), RING_OK));
    }
    ring_build(r);
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        uint32_t got[RING_MAX_REPLICAS], want[RING_MAX_REPLICAS];

        cr_assert(eq(sz, ring_preference(r, (uint16_t)s, RING_MAX_REPLICAS, got),
                     RING_MAX_REPLICAS));
        brute_force_list(ids, handles, N, V, s, want, RING_MAX_REPLICAS);
        cr_assert(eq(u32[RING_MAX_REPLICAS], got, want), "slot %u", s);
    }
    ring_destroy(&r);
}

Test(ring, places_slots_as_every_earlier_version_did)
{
    /* Placement is a protocol: nodes of different versions must compute the
     * same table. These lists were recorded when the scheme was fixed (and
     * agree with brute_force_list); if this test fails, the change breaks
     * mixed-version clusters. */
    static const struct {
        uint16_t slot;
        uint32_t list[3];
    } pinned[] = {
        { 0, { 1, 0, 3 } },
        { 1, { 3, 1, 0 } },
        { 5000, { 1, 3, 2 } },
        { 12345, { 1, 2, 0 } },
        { 16383, { 2, 0, 1 } },
    };
    static const char *const ids[] = {
        "0000000000000000000000000000000000000001",
        "07c35dbc6f8e2c6ff0a5ca1a0e4f64b5e2a7a8b1",
        "e7d1a0f4a6d3c0b2f29a5f1e0f8c7b6a5d4c3b2a",
        "ffffffffffffffffffffffffffffffffffffffff",
    };
    struct ring *r = ring_create(0);

    for (uint32_t k = 0; k < 4; k++) {
        cr_assert(eq(int, ring_member_add(r, ids[k], k), RING_OK));
    }
    ring_build(r);
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint32_t got[3], want[3];

        memcpy(want, pinned[i].list, sizeof want);
        cr_assert(eq(sz, ring_preference(r, pinned[i].slot, 3, got), 3));
        cr_assert(eq(u32[3], got, want), "slot %u: %u %u %u",
                  pinned[i].slot, got[0], got[1], got[2]);
    }
    ring_destroy(&r);
}

/* ---- balance --------------------------------------------------------------- */

/* Several clusters per size, so a pass is not one lucky set of ids. */
static void
expect_balanced_primaries(unsigned n)
{
    for (unsigned family = 1; family <= 4; family++) {
        struct ring *r = ring_of(family, n, RING_VNODES_DEFAULT);
        double worst = worst_primary_deviation(r, n);

        cr_assert(le(dbl, worst, 0.10),
                  "%u members (family %u): a member is %.1f%% off its fair share",
                  n, family, worst * 100);
        ring_destroy(&r);
    }
}

Test(ring, gives_each_of_3_members_its_fair_share_of_primaries_within_10_percent)
{
    expect_balanced_primaries(3);
}

Test(ring, gives_each_of_5_members_its_fair_share_of_primaries_within_10_percent)
{
    expect_balanced_primaries(5);
}

Test(ring, gives_each_of_10_members_its_fair_share_of_primaries_within_10_percent)
{
    expect_balanced_primaries(10);
}

Test(ring, spreads_every_replica_position_evenly_too)
{
    /* A member's load is all it replicates, not only its primaries. */
    static uint16_t slots[CLUSTER_SLOTS];
    struct ring *r = ring_of(1, 10, RING_VNODES_DEFAULT);
    double fair = 3.0 * CLUSTER_SLOTS / 10;

    for (uint32_t k = 0; k < 10; k++) {
        double got = (double)ring_member_slots(r, k, 3, slots);

        cr_assert(le(dbl, fabs(got - fair) / fair, 0.10), "member %u: %.0f", k, got);
    }
    ring_destroy(&r);
}

/* ---- movement -------------------------------------------------------------- */

static uint32_t before[CLUSTER_SLOTS][RING_MAX_REPLICAS];
static uint32_t after[CLUSTER_SLOTS][RING_MAX_REPLICAS];

static void
expect_join_moves_only_to_the_newcomer(unsigned n)
{
    struct ring *r = ring_of(2, n, RING_VNODES_DEFAULT);
    unsigned moved = 0;
    double share;

    snapshot(r, before);
    add_member(r, 2, n);
    ring_build(r);
    snapshot(r, after);
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        if (after[s][0] != before[s][0]) {
            cr_assert(eq(u32, after[s][0], n), "slot %u moved between old members", s);
            moved++;
        }
    }
    share = (double)moved / CLUSTER_SLOTS;
    cr_assert(le(dbl, fabs(share - 1.0 / (n + 1)), 0.05),
              "%u -> %u members moved %.3f of slots", n, n + 1, share);
    ring_destroy(&r);
}

Test(ring, moves_only_about_a_quarter_of_primaries_to_a_4th_member)
{
    expect_join_moves_only_to_the_newcomer(3);
}

Test(ring, moves_only_about_a_sixth_of_primaries_to_a_6th_member)
{
    expect_join_moves_only_to_the_newcomer(5);
}

Test(ring, moves_only_about_an_eleventh_of_primaries_to_an_11th_member)
{
    expect_join_moves_only_to_the_newcomer(10);
}

/* list without h equals the first len - 1 of reference (or all of it). */
static bool
is_list_minus(const uint32_t *list, size_t len, uint32_t h,
              const uint32_t *reference)
{
    size_t j = 0;

    for (size_t i = 0; i < len; i++) {
        if (list[i] == h) {
            continue;
        }
        if (list[i] != reference[j++]) {
            return false;
        }
    }
    return true;
}

Test(ring, only_inserts_a_joining_member_into_preference_lists)
{
    /* The rest of each list keeps its order: replicas other than the
     * newcomer have nothing to fetch but what they already hold. */
    struct ring *r = ring_of(3, 6, RING_VNODES_DEFAULT);

    snapshot(r, before);
    add_member(r, 3, 6);
    ring_build(r);
    cr_assert(eq(sz, snapshot(r, after), RING_MAX_REPLICAS));
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        cr_assert(is_list_minus(after[s], RING_MAX_REPLICAS, 6, before[s]),
                  "slot %u", s);
    }
    ring_destroy(&r);
}

Test(ring, moves_only_a_leaving_members_slots)
{
    for (unsigned n = 4; n <= 11; n += 7) {
        struct ring *r = ring_of(4, n, RING_VNODES_DEFAULT);
        uint32_t gone = n / 2;

        snapshot(r, before);
        remove_member(r, 4, gone);
        ring_build(r);
        snapshot(r, after);
        for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
            if (before[s][0] != gone) {
                cr_assert(eq(u32, after[s][0], before[s][0]), "slot %u", s);
            } else {
                cr_assert(not(eq(u32, after[s][0], gone)), "slot %u", s);
            }
            /* Lists lose the leaver and keep the rest in order. */
            cr_assert(is_list_minus(before[s], n < RING_MAX_REPLICAS
                                                   ? n : RING_MAX_REPLICAS,
                                    gone, after[s]),
                      "slot %u", s);
        }
        ring_destroy(&r);
    }
}

/* ---- preference lists ------------------------------------------------------ */

Test(ring, lists_distinct_members_for_every_slot)
{
    struct ring *r = ring_of(5, 10, RING_VNODES_DEFAULT);

    cr_assert(eq(sz, snapshot(r, before), RING_MAX_REPLICAS));
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        for (unsigned i = 0; i < RING_MAX_REPLICAS; i++) {
            cr_assert(lt(u32, before[s][i], 10));
            for (unsigned j = 0; j < i; j++) {
                cr_assert(not(eq(u32, before[s][i], before[s][j])), "slot %u", s);
            }
        }
    }
    ring_destroy(&r);
}

Test(ring, builds_the_same_table_whatever_order_members_join_in)
{
    static const unsigned order[10] = { 7, 2, 9, 0, 5, 3, 8, 1, 6, 4 };
    struct ring *fwd = ring_of(6, 10, RING_VNODES_DEFAULT);
    struct ring *mixed = ring_create(RING_VNODES_DEFAULT);

    for (unsigned i = 0; i < 10; i++) {
        add_member(mixed, 6, order[i]);
    }
    ring_build(mixed);
    snapshot(fwd, before);
    snapshot(mixed, after);
    cr_assert(eq(int, memcmp(before, after, sizeof before), 0));
    ring_destroy(&fwd);
    ring_destroy(&mixed);
}

Test(ring, forgets_a_member_completely_when_it_leaves)
{
    /* Join then leave must give the ring that never saw the member. */
    struct ring *plain = ring_of(6, 5, RING_VNODES_DEFAULT);
    struct ring *churned = ring_create(RING_VNODES_DEFAULT);

    add_member(churned, 6, 9);
    for (unsigned k = 0; k < 5; k++) {
        add_member(churned, 6, k);
    }
    remove_member(churned, 6, 9);
    ring_build(churned);
    snapshot(plain, before);
    snapshot(churned, after);
    cr_assert(eq(int, memcmp(before, after, sizeof before), 0));
    ring_destroy(&plain);
    ring_destroy(&churned);
}

Test(ring, returns_every_member_when_asked_for_more_than_there_are)
{
    struct ring *r = ring_of(8, 3, RING_VNODES_DEFAULT);

    for (unsigned s = 0; s < CLUSTER_SLOTS; s += 97) {
        uint32_t out[RING_MAX_REPLICAS] = { 0 };
        unsigned seen = 0;

        cr_assert(eq(sz, ring_preference(r, (uint16_t)s, 5, out), 3));
        for (unsigned i = 0; i < 3; i++) {
            seen |= 1u << out[i];
        }
        cr_assert(eq(u32, seen, 7), "slot %u", s);
    }
    ring_destroy(&r);
}

Test(ring, caps_lists_at_the_most_replicas_it_keeps)
{
    struct ring *r = ring_of(8, 10, RING_VNODES_DEFAULT);
    uint32_t out[RING_MAX_REPLICAS];

    cr_assert(eq(sz, ring_preference(r, 42, 1000, out), RING_MAX_REPLICAS));
    cr_assert(eq(sz, ring_preference(r, 42, 0, out), 0));
    ring_destroy(&r);
}

Test(ring, gives_every_slot_to_a_lone_member)
{
    struct ring *r = ring_create(0);
    static uint16_t slots[CLUSTER_SLOTS];
    uint32_t out[RING_MAX_REPLICAS];

    cr_assert(eq(int, ring_member_add(r, "0123456789abcdef0123456789abcdef01234567", 42),
                 RING_OK));
    ring_build(r);
    cr_assert(eq(sz, ring_preference(r, 16383, 3, out), 1));
    cr_assert(eq(u32, out[0], 42));
    cr_assert(eq(sz, ring_member_slots(r, 42, 1, slots), CLUSTER_SLOTS));
    ring_destroy(&r);
}

Test(ring, lists_the_slots_a_member_replicates_in_slot_order)
{
    static uint16_t slots[CLUSTER_SLOTS];
    struct ring *r = ring_of(9, 5, RING_VNODES_DEFAULT);
    size_t total = 0;

    for (uint32_t k = 0; k < 5; k++) {
        size_t got = ring_member_slots(r, k, 3, slots);

        for (size_t i = 0; i < got; i++) {
            uint32_t list[3];
            bool in = false;

            cr_assert(eq(sz, ring_preference(r, slots[i], 3, list), 3));
            for (unsigned j = 0; j < 3; j++) {
                in = in || list[j] == k;
            }
            cr_assert(in, "slot %u does not list member %u", slots[i], k);
            if (i > 0) {
                cr_assert(lt(u16, slots[i - 1], slots[i]));
            }
        }
        total += got;
    }
    /* Each slot has three replicas, so three members list it. */
    cr_assert(eq(sz, total, 3 * (size_t)CLUSTER_SLOTS));
    cr_assert(eq(sz, ring_member_slots(r, 12345, 3, slots), 0));
    ring_destroy(&r);
}

/* ---- the table is a snapshot ------------------------------------------------ */

Test(ring, returns_nothing_before_a_build_or_without_members)
{
    struct ring *r = ring_create(0);
    uint32_t out[RING_MAX_REPLICAS];

    add_member(r, 10, 0);
    cr_assert(eq(sz, ring_preference(r, 0, 3, out), 0));
    remove_member(r, 10, 0);
    ring_build(r);
    cr_assert(eq(sz, ring_preference(r, 0, 3, out), 0));
    ring_destroy(&r);
}

Test(ring, answers_from_the_last_build_until_rebuilt)
{
    struct ring *r = ring_of(11, 3, RING_VNODES_DEFAULT);
    uint32_t out[RING_MAX_REPLICAS];

    snapshot(r, before);
    add_member(r, 11, 3);
    add_member(r, 11, 4);
    cr_assert(eq(sz, ring_member_count(r), 5));
    snapshot(r, after);
    cr_assert(eq(int, memcmp(before, after, sizeof before), 0));
    cr_assert(eq(sz, ring_preference(r, 0, 5, out), 3));
    ring_build(r);
    cr_assert(eq(sz, ring_preference(r, 0, 5, out), 5));
    ring_destroy(&r);
}

/* ---- the API's edges --------------------------------------------------------- */

Test(ring, rejects_ids_that_are_not_40_lowercase_hex_characters)
{
    struct ring *r = ring_create(0);

    cr_assert(eq(int, ring_member_add(r, NULL, 1), RING_EINVAL));
    cr_assert(eq(int, ring_member_add(r, "", 1), RING_EINVAL));
    cr_assert(eq(int, ring_member_add(r, "0123456789abcdef0123456789abcdef0123456", 1),
                 RING_EINVAL)); /* 39 */
    cr_assert(eq(int, ring_member_add(r, "0123456789abcdef0123456789abcdef012345678", 1),
                 RING_EINVAL)); /* 41 */
    cr_assert(eq(int, ring_member_add(r, "0123456789ABCDEF0123456789abcdef01234567", 1),
                 RING_EINVAL)); /* uppercase */
    cr_assert(eq(int, ring_member_add(r, "0123456789abcdeg0123456789abcdef01234567", 1),
                 RING_EINVAL)); /* 'g' */
    cr_assert(eq(int, ring_member_remove(r, "xyz"), RING_EINVAL));
    cr_assert(eq(sz, ring_member_count(r), 0));
    ring_destroy(&r);
}

Test(ring, refuses_a_second_member_with_the_same_id_or_handle)
{
    struct ring *r = ring_create(0);
    const char *a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    cr_assert(eq(int, ring_member_add(r, a, 1), RING_OK));
    cr_assert(eq(int, ring_member_add(r, a, 2), RING_EEXIST));
    cr_assert(eq(int, ring_member_add(r, b, 1), RING_EEXIST));
    cr_assert(eq(int, ring_member_add(r, b, 2), RING_OK));
    cr_assert(eq(sz, ring_member_count(r), 2));
    ring_destroy(&r);
}

Test(ring, reports_a_member_it_does_not_have)
{
    struct ring *r = ring_of(12, 2, RING_VNODES_DEFAULT);

    cr_assert(eq(int, ring_member_remove(r, "cccccccccccccccccccccccccccccccccccccccc"),
                 RING_ENOENT));
    remove_member(r, 12, 1);
    cr_assert(eq(int, ring_member_remove(r, "cccccccccccccccccccccccccccccccccccccccc"),
                 RING_ENOENT));
    cr_assert(eq(sz, ring_member_count(r), 1));
    ring_destroy(&r);
}

Test(ring, takes_128_vnodes_by_default_and_refuses_too_many)
{
    struct ring *r = ring_create(0);

    cr_assert(eq(u32, ring_vnodes(r), 128));
    ring_destroy(&r);
    cr_assert(eq(ptr, r, NULL));
    cr_assert(eq(ptr, ring_create(RING_VNODES_MAX + 1), NULL));
    r = ring_create(RING_VNODES_MAX);
    cr_assert(eq(u32, ring_vnodes(r), RING_VNODES_MAX));
    ring_destroy(&r);
    ring_destroy(&r); /* already NULL: harmless */
}

Test(ring, names_every_status)
{
    for (int st = RING_ENOMEM; st <= RING_OK; st++) {
        cr_assert(not(eq(str, (char *)ring_strerror((enum ring_status)st),
                         "unknown ring status")));
    }
}
