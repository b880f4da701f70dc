/*
 * tests/unit/test_slots.c — cluster/slots.c against Redis 7.0: CLUSTER
 * KEYSLOT values for plain keys, hash tags and their edge cases, and binary
 * keys. The expected values were taken from a real redis-server 7.0.15 with
 * cluster-enabled yes, so a client routing by Redis's rule finds the same
 * slot we do.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cluster/slots.h"

#define K(s) s, sizeof(s) - 1

struct keyslot_case {
    const char *key;
    size_t len;
    uint16_t slot; /* redis-cli cluster keyslot <key> */
};

TestSuite(slots);

/* Runs every case, naming the first key that disagrees with Redis. */
static void
expect_redis_slots(const struct keyslot_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t got = slots_keyslot(cases[i].key, cases[i].len);

        cr_assert(eq(u16, got, cases[i].slot), "case %zu (%zu bytes)", i,
                  cases[i].len);
    }
}

/* ---- plain keys ------------------------------------------------------------ */

Test(slots, puts_plain_keys_in_the_slots_redis_gives_them)
{
    static const struct keyslot_case cases[] = {
        { K(""), 0 },          { K("a"), 15495 },     { K("b"), 3300 },
        { K("foo"), 12182 },   { K("bar"), 5061 },    { K("hello"), 866 },
        { K("123456789"), 12739 }, { K("user1"), 8106 },
        { K("user1000"), 3443 },
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, computes_the_xmodem_check_value)
{
    /* The standard CRC-16/XMODEM check: the CRC of "123456789". */
    cr_assert(eq(u16, slots_crc16("123456789", 9), 0x31c3));
    cr_assert(eq(u16, slots_crc16("", 0), 0));
}

/* A bitwise CRC straight from the definition, so the table in slots.c is
 * checked against the polynomial rather than against itself. */
static uint16_t
crc16_bitwise(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
                                 : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

Test(slots, agrees_with_the_polynomial_for_every_byte_value_and_length)
{
    unsigned char buf[300];

    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(i * 131 + 7);
    }
    for (size_t len = 0; len <= sizeof buf; len++) {
        cr_assert(eq(u16, slots_crc16(buf, len), crc16_bitwise(buf, len)),
                  "length %zu", len);
    }
    for (unsigned v = 0; v < 256; v++) {
        unsigned char one = (unsigned char)v;

        cr_assert(eq(u16, slots_crc16(&one, 1), crc16_bitwise(&one, 1)));
    }
}

/* ---- hash tags -------------------------------------------------------------- */

Test(slots, hashes_only_the_tag_when_a_key_has_one)
{
    static const struct keyslot_case cases[] = {
        { K("{user1}.a"), 8106 },
        { K("{user1}.b"), 8106 },
        { K("{user1000}.following"), 3443 },
        { K("{user1000}.followers"), 3443 },
        { K("{a}"), 15495 },
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, keeps_keys_with_the_same_tag_in_the_same_slot)
{
    cr_assert(eq(u16, slots_keyslot(K("{user1}.a")), slots_keyslot(K("user1"))));
    cr_assert(eq(u16, slots_keyslot(K("{user1}.a")),
                 slots_keyslot(K("prefix{user1}suffix"))));
}

Test(slots, uses_the_first_open_brace_and_the_first_close_brace_after_it)
{
    static const struct keyslot_case cases[] = {
        { K("a{b}c{d}"), 3300 },      /* tag "b" */
        { K("a{b}c"), 3300 },         /* tag "b" */
        { K("{a}{b}"), 15495 },       /* tag "a" */
        { K("foo{bar}{zap}"), 5061 }, /* tag "bar" */
        { K("foo{{bar}}zap"), 4015 }, /* tag "{bar" */
        { K("{bar"), 4015 },          /* ...which is that key, untagged */
        { K("{{}}"), 4092 },          /* tag "{" */
        { K("{"), 4092 },
        { K("{{a}}"), 10276 },        /* tag "{a" */
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, hashes_the_whole_key_when_the_tag_is_empty)
{
    static const struct keyslot_case cases[] = {
        { K("{}x"), 10595 },
        { K("{}"), 15257 },
        /* The first '}' after the first '{' closes an empty tag: Redis does
         * not look further for "{b}", and neither do we. */
        { K("foo{}{bar}"), 8363 },
        { K("a{}{b}"), 15033 },
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, hashes_the_whole_key_when_braces_do_not_form_a_tag)
{
    static const struct keyslot_case cases[] = {
        { K("}"), 12090 },   { K("}{"), 12793 },    { K("x{"), 3596 },
        { K("{x"), 11068 },  { K("a}b{c"), 13587 },
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

/* ---- binary keys ------------------------------------------------------------ */

Test(slots, hashes_binary_keys_byte_for_byte)
{
    static const struct keyslot_case cases[] = {
        { K("\0"), 0 },
        { K("\0\1\2"), 4979 },
        { K("\xff\xfe\xfd"), 287 },
        { K("\r\n"), 5910 },
        { K("\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"), 10303 }, /* UTF-8 "ключ" */
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, finds_tags_around_and_inside_binary_bytes)
{
    static const struct keyslot_case cases[] = {
        { K("k\0{t}"), 15891 },   /* a NUL before the tag does not end the key */
        { K("{\0}"), 0 },         /* a one-byte tag: NUL */
        { K("{\r\n}abc"), 5910 }, /* tag "\r\n" */
        { K("{\xff}tail"), 7920 },
        { K("\0{}\0"), 5884 },    /* empty tag: the whole key */
    };

    expect_redis_slots(cases, sizeof cases / sizeof cases[0]);
}

Test(slots, hashes_long_keys_and_all_byte_values)
{
    char xs[1000];
    char all[256];

    memset(xs, 'x', sizeof xs);
    for (int i = 0; i < 256; i++) {
        all[i] = (char)i; /* contains '{' (123) before '}' (125): tag "|" */
    }
    cr_assert(eq(u16, slots_keyslot(xs, sizeof xs), 3195));
    cr_assert(eq(u16, slots_keyslot(all, sizeof all), 16155));
}

Test(slots, stays_below_the_slot_count)
{
    char key[16];

    for (unsigned i = 0; i < 100000; i++) {
        int len = snprintf(key, sizeof key, "key:%u", i);

        cr_assert(lt(u16, slots_keyslot(key, (size_t)len), CLUSTER_SLOTS));
    }
}
