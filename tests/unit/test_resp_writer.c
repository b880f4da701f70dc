/*
 * tests/unit/test_resp_writer.c — resp/writer.c: every encoding byte for byte
 * as Redis 7.0 sends it, in RESP2 and RESP3, and the byte queue's growth,
 * compaction, draining and shrinking.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "resp/writer.h"

#define MEM(p, n) ((struct cr_mem){ .data = (p), .size = (n) })

static struct resp_buf b;

static void
setup(void)
{
    resp_buf_init(&b);
}

static void
teardown(void)
{
    resp_buf_deinit(&b);
}

TestSuite(resp_writer, .init = setup, .fini = teardown);

/* The pending bytes must be exactly `want`; then empty the queue. */
static void
assert_sent(const char *want, size_t len)
{
    cr_assert(eq(mem, MEM(b.data + b.pos, resp_buf_pending(&b)),
                 MEM(want, len)));
    resp_buf_consume(&b, resp_buf_pending(&b));
}
#define SENT(s) assert_sent(s, sizeof(s) - 1)

Test(resp_writer, starts_empty_without_allocating)
{
    cr_assert(eq(ptr, b.data, NULL));
    cr_assert(eq(sz, b.cap, 0));
    cr_assert(eq(sz, resp_buf_pending(&b), 0));
}

Test(resp_writer, encodes_a_status)
{
    resp_add_status(&b, "OK", 2);
    SENT("+OK\r\n");
}

Test(resp_writer, replaces_cr_and_lf_in_a_status_with_spaces)
{
    resp_add_status(&b, "a\r\nb", 4);
    SENT("+a  b\r\n");
}

Test(resp_writer, encodes_an_error_with_its_code)
{
    resp_add_error(&b, "ERR syntax error", 16);
    SENT("-ERR syntax error\r\n");
    resp_add_error(&b, "WRONGTYPE x", 11);
    SENT("-WRONGTYPE x\r\n");
}

Test(resp_writer, replaces_cr_and_lf_in_an_error_with_spaces)
{
    resp_add_error(&b, "ERR a\rb\nc", 9);
    SENT("-ERR a b c\r\n");
}

Test(resp_writer, formats_an_error_trimming_and_replacing_newlines_as_redis_does)
{
    resp_add_errorf(&b, "\r\nERR unknown command '%s'\r\n", "fo\no");
    SENT("-ERR unknown command 'fo o'\r\n");
}

Test(resp_writer, formats_an_error_longer_than_its_stack_buffer)
{
    char arg[1001];
    char want[1100];
    int n;

    memset(arg, 'x', 1000);
    arg[1000] = '\0';
    n = snprintf(want, sizeof(want), "-ERR %s\r\n", arg);
    resp_add_errorf(&b, "ERR %s", arg);
    assert_sent(want, (size_t)n);
}

Test(resp_writer, encodes_integers_including_the_extremes)
{
    resp_add_int(&b, 0);
    SENT(":0\r\n");
    resp_add_int(&b, -1);
    SENT(":-1\r\n");
    resp_add_int(&b, 1234567);
    SENT(":1234567\r\n");
    resp_add_int(&b, INT64_MAX);
    SENT(":9223372036854775807\r\n");
    resp_add_int(&b, INT64_MIN);
    SENT(":-9223372036854775808\r\n");
}

Test(resp_writer, formats_every_digit_count_like_printf)
{
    char got[21], want[32];

    for (int64_t base = 1; base > 0 && base <= INT64_MAX / 10; base *= 10) {
        int64_t vals[] = { base - 1, base, base + 1, -base, -(base - 1),
                           base * 9 + (base - 1) };

        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
            size_t n = resp_i64_to_str(got, vals[i]);
            int w = snprintf(want, sizeof(want), "%" PRId64, vals[i]);

            cr_assert(eq(str, got, want));
            cr_assert(eq(sz, n, (size_t)w));
        }
    }
    cr_assert(eq(sz, resp_i64_to_str(got, INT64_MIN), 20));
    cr_assert(eq(str, got, "-9223372036854775808"));
    cr_assert(eq(sz, resp_i64_to_str(got, INT64_MAX), 19));
    cr_assert(eq(str, got, "9223372036854775807"));
}

Test(resp_writer, encodes_bulk_strings_with_binary_data)
{
    resp_add_bulk(&b, "a\0\r\nb", 5);
    SENT("$5\r\na\0\r\nb\r\n");
    resp_add_bulk(&b, "", 0);
    SENT("$0\r\n\r\n");
    resp_add_bulk_cstr(&b, "hello");
    SENT("$5\r\nhello\r\n");
}

Test(resp_writer, encodes_a_bulk_string_longer_than_nine_bytes)
{
    resp_add_bulk(&b, "0123456789abcdef", 16);
    SENT("$16\r\n0123456789abcdef\r\n");
}

Test(resp_writer, encodes_integers_as_bulk_strings)
{
    resp_add_bulk_int(&b, -42);
    SENT("$3\r\n-42\r\n");
    resp_add_bulk_int(&b, INT64_MIN);
    SENT("$20\r\n-9223372036854775808\r\n");
    resp_add_bulk_int(&b, INT64_MAX);
    SENT("$19\r\n9223372036854775807\r\n");
}

Test(resp_writer, encodes_null_per_protocol)
{
    resp_add_null(&b, RESP2);
    SENT("$-1\r\n");
    resp_add_null(&b, RESP3);
    SENT("_\r\n");
    resp_add_null_array(&b, RESP2);
    SENT("*-1\r\n");
    resp_add_null_array(&b, RESP3);
    SENT("_\r\n");
}

Test(resp_writer, encodes_aggregate_headers_per_protocol)
{
    resp_add_array(&b, 0);
    SENT("*0\r\n");
    resp_add_array(&b, 12);
    SENT("*12\r\n");
    resp_add_map(&b, RESP3, 3);
    SENT("%3\r\n");
    resp_add_map(&b, RESP2, 3);
    SENT("*6\r\n");
    resp_add_set(&b, RESP3, 5);
    SENT("~5\r\n");
    resp_add_set(&b, RESP2, 5);
    SENT("*5\r\n");
}

Test(resp_writer, encodes_doubles_in_resp3_as_redis_7_0_does)
{
    resp_add_double(&b, RESP3, 1.5);
    SENT(",1.5\r\n");
    resp_add_double(&b, RESP3, 0.1);
    SENT(",0.10000000000000001\r\n");
    resp_add_double(&b, RESP3, -3);
    SENT(",-3\r\n");
    resp_add_double(&b, RESP3, 1e300);
    SENT(",1.0000000000000001e+300\r\n");
    resp_add_double(&b, RESP3, INFINITY);
    SENT(",inf\r\n");
    resp_add_double(&b, RESP3, -INFINITY);
    SENT(",-inf\r\n");
    resp_add_double(&b, RESP3, NAN);
    SENT(",nan\r\n");
}

Test(resp_writer, encodes_doubles_in_resp2_as_bulk_strings)
{
    resp_add_double(&b, RESP2, 1.5);
    SENT("$3\r\n1.5\r\n");
    resp_add_double(&b, RESP2, 0.1);
    SENT("$19\r\n0.10000000000000001\r\n");
    resp_add_double(&b, RESP2, INFINITY);
    SENT("$3\r\ninf\r\n");
    resp_add_double(&b, RESP2, -INFINITY);
    SENT("$4\r\n-inf\r\n");
    resp_add_double(&b, RESP2, NAN);
    SENT("$3\r\nnan\r\n");
}

Test(resp_writer, encodes_booleans_per_protocol)
{
    resp_add_bool(&b, RESP3, 1);
    SENT("#t\r\n");
    resp_add_bool(&b, RESP3, 0);
    SENT("#f\r\n");
    resp_add_bool(&b, RESP2, 7);
    SENT(":1\r\n");
    resp_add_bool(&b, RESP2, 0);
    SENT(":0\r\n");
}

Test(resp_writer, encodes_verbatim_strings_per_protocol)
{
    resp_add_verbatim(&b, RESP3, "txt", "hello", 5);
    SENT("=9\r\ntxt:hello\r\n");
    resp_add_verbatim(&b, RESP3, "md", "", 0);
    SENT("=4\r\nmd :\r\n");
    resp_add_verbatim(&b, RESP2, "txt", "hello", 5);
    SENT("$5\r\nhello\r\n");
}

Test(resp_writer, appends_replies_back_to_back)
{
    resp_add_array(&b, 2);
    resp_add_bulk(&b, "k", 1);
    resp_add_int(&b, 7);
    resp_add_raw(&b, "+PONG\r\n", 7);
    SENT("*2\r\n$1\r\nk\r\n:7\r\n+PONG\r\n");
}

Test(resp_writer, grows_geometrically_and_keeps_pending_bytes)
{
    char chunk[100];
    size_t last_cap = 0, grows = 0;

    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        resp_add_raw(&b, chunk, sizeof(chunk));
        if (b.cap != last_cap) {
            cr_assert(ge(sz, b.cap, last_cap * 2));
            last_cap = b.cap;
            grows++;
        }
    }
    cr_assert(eq(sz, resp_buf_pending(&b), 100000));
    cr_assert(le(sz, grows, 12), "100 KB in doublings from 64 bytes");
    for (int i = 0; i < 1000; i++) {
        cr_assert(eq(chr, b.data[i * 100], (char)('a' + i % 26)));
        cr_assert(eq(chr, b.data[i * 100 + 99], (char)('a' + i % 26)));
    }
}

Test(resp_writer, reserves_room_that_stays_until_written)
{
    char *p = resp_buf_reserve(&b, 1000);

    cr_assert(ge(sz, b.cap - b.len, 1000));
    cr_assert(eq(ptr, p, b.data + b.len));
    memcpy(p, "+OK\r\n", 5);
    b.len += 5;
    SENT("+OK\r\n");
}

Test(resp_writer, compacts_instead_of_growing_when_consumed_space_makes_room)
{
    char *data;
    size_t cap;

    resp_buf_reserve(&b, 100);
    cap = b.cap;
    data = b.data;
    memset(resp_buf_reserve(&b, cap), 'x', cap - 4);
    b.len = cap - 4;
    memcpy(b.data + b.len, "tail", 4);
    b.len = cap;
    resp_buf_consume(&b, cap - 8);

    resp_add_raw(&b, "0123456789", 10);
    cr_assert(eq(sz, b.cap, cap));
    cr_assert(eq(ptr, b.data, data));
    cr_assert(eq(sz, b.pos, 0));
    SENT("xxxxtail0123456789");
}

Test(resp_writer, grows_when_compacting_would_not_make_room)
{
    size_t cap;

    resp_buf_reserve(&b, 1);
    cap = b.cap;
    memset(b.data, 'y', cap);
    b.len = cap;
    resp_buf_consume(&b, 1);
    resp_add_raw(&b, "zz", 2);
    cr_assert(ge(sz, b.cap, cap * 2));
    cr_assert(eq(sz, resp_buf_pending(&b), cap + 1));
    cr_assert(eq(chr, b.data[b.pos], 'y'));
    cr_assert(eq(chr, b.data[b.len - 1], 'z'));
}

Test(resp_writer, consumes_from_the_front_and_resets_when_drained)
{
    resp_add_raw(&b, "abcdef", 6);
    resp_buf_consume(&b, 2);
    cr_assert(eq(sz, b.pos, 2));
    cr_assert(eq(sz, resp_buf_pending(&b), 4));
    cr_assert(eq(mem, MEM(b.data + b.pos, 4), MEM("cdef", 4)));
    resp_buf_consume(&b, 4);
    cr_assert(eq(sz, b.pos, 0));
    cr_assert(eq(sz, b.len, 0));
}

Test(resp_writer, shrinks_only_an_empty_buffer)
{
    char big[5000];

    memset(big, 'q', sizeof(big));
    resp_add_raw(&b, big, sizeof(big));
    resp_buf_shrink(&b, 1024);
    cr_assert(ge(sz, b.cap, 5000), "pending bytes keep their memory");
    cr_assert(eq(sz, resp_buf_pending(&b), 5000));

    resp_buf_consume(&b, 5000);
    resp_buf_shrink(&b, 1024);
    cr_assert(eq(sz, b.cap, 1024));
    resp_add_raw(&b, "+OK\r\n", 5);
    SENT("+OK\r\n");

    resp_buf_shrink(&b, 0);
    cr_assert(eq(sz, b.cap, 0));
    cr_assert(eq(ptr, b.data, NULL));
}
