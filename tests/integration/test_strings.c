/*
 * tests/integration/test_strings.c — the string commands of a real server:
 * GET/SET and every SET option, SETNX/SETEX/PSETEX, GETSET/GETDEL/GETEX,
 * MGET/MSET/MSETNX, the INCR family, INCRBYFLOAT's formatting, APPEND,
 * STRLEN, GETRANGE/SUBSTR and SETRANGE. Expected replies are Redis 7.0's,
 * byte for byte. Key-space commands live in test_keys.c.
 */
#include "tests/integration/harness.h"

TestSuite(strings, .init = harness_setup, .fini = harness_teardown, .timeout = 30);

/* ---- GET / SET -------------------------------------------------------------- */

Test(strings, get_returns_nil_for_a_missing_key)
{
    expect_nil(rc, "GET missing");
}

Test(strings, set_stores_a_value_that_get_returns)
{
    expect_ok(rc, "SET k hello");
    expect_bulk(rc, "hello", "GET k");
    expect_ok(rc, "SET k world");
    expect_bulk(rc, "world", "GET k");
}

Test(strings, set_and_get_are_binary_safe)
{
    static const char val[] = "a\0b\r\nc\xff";
    redisReply *r;

    expect_ok(rc, "SET %b %b", "k\0\n", (size_t)3, val, sizeof val - 1);
    r = harness_cmd(rc, "GET %b", "k\0\n", (size_t)3);
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(sz, r->len, sizeof val - 1));
    cr_assert(eq(int, memcmp(r->str, val, sizeof val - 1), 0));
    freeReplyObject(r);
    expect_nil(rc, "GET k");
}

Test(strings, set_accepts_an_empty_value_and_an_empty_key)
{
    expect_ok(rc, "SET %s %s", "", "");
    expect_bulk(rc, "", "GET %s", "");
    expect_int(rc, 0, "STRLEN %s", "");
    expect_int(rc, 1, "EXISTS %s", "");
}

Test(strings, set_round_trips_a_one_megabyte_value)
{
    size_t len = 1 << 20;
    char *val = malloc(len);
    redisReply *r;

    for (size_t i = 0; i < len; i++) {
        val[i] = (char)('a' + i % 26);
    }
    expect_ok(rc, "SET big %b", val, len);
    r = harness_cmd(rc, "GET big");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(sz, r->len, len));
    cr_assert(eq(int, memcmp(r->str, val, len), 0));
    freeReplyObject(r);
    expect_int(rc, (long long)len, "STRLEN big");
    free(val);
}

Test(strings, set_and_get_check_their_arity)
{
    expect_error(rc, "ERR wrong number of arguments for 'set' command", "SET k");
    expect_error(rc, "ERR wrong number of arguments for 'set' command", "SET");
    expect_error(rc, "ERR wrong number of arguments for 'get' command", "GET");
    expect_error(rc, "ERR wrong number of arguments for 'get' command", "GET a b");
}

Test(strings, command_names_are_case_insensitive)
{
    expect_ok(rc, "sEt k v");
    expect_bulk(rc, "v", "get k");
    expect_ok(rc, "SET k w xX");
    expect_bulk(rc, "w", "GeT k");
}

Test(strings, set_nx_only_creates_a_missing_key)
{
    expect_ok(rc, "SET k v NX");
    expect_nil(rc, "SET k w NX");
    expect_bulk(rc, "v", "GET k");
}

Test(strings, set_xx_only_overwrites_an_existing_key)
{
    expect_nil(rc, "SET k v XX");
    expect_int(rc, 0, "EXISTS k");
    expect_ok(rc, "SET k v");
    expect_ok(rc, "SET k w XX");
    expect_bulk(rc, "w", "GET k");
}

Test(strings, set_get_returns_the_previous_value)
{
    expect_nil(rc, "SET k v GET");
    expect_bulk(rc, "v", "SET k w GET");
    expect_bulk(rc, "w", "GET k");
}

Test(strings, set_nx_get_returns_the_old_value_and_keeps_it)
{
    expect_nil(rc, "SET k v NX GET");
    expect_bulk(rc, "v", "GET k");
    expect_bulk(rc, "v", "SET k w NX GET");
    expect_bulk(rc, "v", "GET k");
}

Test(strings, set_xx_get_on_a_missing_key_replies_nil_and_sets_nothing)
{
    expect_nil(rc, "SET k v XX GET");
    expect_int(rc, 0, "EXISTS k");
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "SET k w XX GET");
    expect_bulk(rc, "w", "GET k");
}

Test(strings, set_accepts_a_repeated_option)
{
    expect_ok(rc, "SET k v EX 10 EX 20");
    expect_int(rc, 20, "TTL k");
    expect_nil(rc, "SET k w NX NX");
    expect_bulk(rc, "v", "SET k w GET GET");
}

Test(strings, set_rejects_conflicting_or_unknown_options)
{
    expect_error(rc, "ERR syntax error", "SET k v NX XX");
    expect_error(rc, "ERR syntax error", "SET k v EX 10 PX 100");
    expect_error(rc, "ERR syntax error", "SET k v EX 10 KEEPTTL");
    expect_error(rc, "ERR syntax error", "SET k v KEEPTTL PX 10");
    expect_error(rc, "ERR syntax error", "SET k v EXAT 10 PXAT 100");
    expect_error(rc, "ERR syntax error", "SET k v FOO");
    expect_error(rc, "ERR syntax error", "SET k v EX");
    expect_error(rc, "ERR syntax error", "SET k v PX");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, set_rejects_a_non_integer_expire)
{
    expect_error(rc, "ERR value is not an integer or out of range", "SET k v EX 1.5");
    expect_error(rc, "ERR value is not an integer or out of range", "SET k v PX abc");
    expect_error(rc, "ERR value is not an integer or out of range",
                 "SET k v EX 9223372036854775808");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, set_rejects_zero_negative_and_overflowing_expires)
{
    expect_error(rc, "ERR invalid expire time in 'set' command", "SET k v EX 0");
    expect_error(rc, "ERR invalid expire time in 'set' command", "SET k v PX -5");
    expect_error(rc, "ERR invalid expire time in 'set' command", "SET k v EXAT -1");
    expect_error(rc, "ERR invalid expire time in 'set' command", "SET k v PXAT 0");
    expect_error(rc, "ERR invalid expire time in 'set' command",
                 "SET k v EX 9223372036854775807");
    expect_error(rc, "ERR invalid expire time in 'set' command",
                 "SET k v PX 9223372036854775807");
    expect_error(rc, "ERR invalid expire time in 'set' command",
                 "SET k v EXAT 9223372036854775807");
    expect_error(rc, "ERR invalid expire time in 'set' command", "SET k v EX 9223372036854776");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, set_ex_and_px_give_the_key_a_ttl)
{
    expect_ok(rc, "SET k v EX 100");
    expect_int(rc, 100, "TTL k");
    expect_ok(rc, "SET k v PX 100000");
    expect_int(rc, 100, "TTL k");
}

Test(strings, set_px_expires_the_key_after_the_milliseconds)
{
    expect_ok(rc, "SET k v PX 300");
    expect_bulk(rc, "v", "GET k");
    harness_sleep_ms(600);
    expect_nil(rc, "GET k");
    expect_int(rc, 0, "EXISTS k");
    expect_int(rc, -2, "PTTL k");
}

Test(strings, set_exat_and_pxat_set_absolute_expiry)
{
    expect_ok(rc, "SET k v EXAT 4000000000");
    expect_int(rc, 4000000000LL, "EXPIRETIME k");
    expect_ok(rc, "SET k v PXAT 4000000000123");
    expect_int(rc, 4000000000123LL, "PEXPIRETIME k");
    expect_int(rc, 4000000000LL, "EXPIRETIME k");
}

Test(strings, set_with_an_expiry_in_the_past_leaves_no_key)
{
    expect_ok(rc, "SET k v EXAT 1");
    expect_nil(rc, "GET k");
    expect_int(rc, 0, "EXISTS k");
    expect_ok(rc, "SET k v PXAT 1");
    expect_nil(rc, "GET k");
    expect_int(rc, -2, "TTL k");
}

Test(strings, set_keepttl_keeps_the_ttl_and_plain_set_clears_it)
{
    expect_ok(rc, "SET k v EX 100");
    expect_ok(rc, "SET k w KEEPTTL");
    expect_int(rc, 100, "TTL k");
    expect_bulk(rc, "w", "GET k");
    expect_ok(rc, "SET k x");
    expect_int(rc, -1, "TTL k");
}

Test(strings, set_keepttl_on_a_missing_key_creates_it_without_ttl)
{
    expect_ok(rc, "SET k v KEEPTTL");
    expect_int(rc, -1, "TTL k");
}

Test(strings, set_xx_get_keepttl_combine)
{
    expect_ok(rc, "SET k v PX 50000");
    expect_bulk(rc, "v", "SET k w XX GET KEEPTTL");
    expect_int(rc, 50, "TTL k");
    expect_bulk(rc, "w", "GET k");
}

/* ---- SETNX / SETEX / PSETEX ---------------------------------------------- */

Test(strings, setnx_replies_one_only_when_it_creates)
{
    expect_int(rc, 1, "SETNX k v");
    expect_int(rc, 0, "SETNX k w");
    expect_bulk(rc, "v", "GET k");
    expect_error(rc, "ERR wrong number of arguments for 'setnx' command", "SETNX k");
}

Test(strings, setex_sets_value_and_ttl_in_seconds)
{
    expect_ok(rc, "SETEX k 100 v");
    expect_bulk(rc, "v", "GET k");
    expect_int(rc, 100, "TTL k");
}

Test(strings, setex_rejects_bad_expire_times)
{
    expect_error(rc, "ERR invalid expire time in 'setex' command", "SETEX k 0 v");
    expect_error(rc, "ERR invalid expire time in 'setex' command", "SETEX k -1 v");
    expect_error(rc, "ERR invalid expire time in 'setex' command",
                 "SETEX k 9223372036854775807 v");
    expect_error(rc, "ERR value is not an integer or out of range", "SETEX k x v");
    expect_error(rc, "ERR wrong number of arguments for 'setex' command", "SETEX k 10");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, psetex_sets_a_ttl_in_milliseconds_that_expires)
{
    redisReply *r;

    expect_ok(rc, "PSETEX k 300 v");
    r = harness_cmd(rc, "PTTL k");
    cr_assert(eq(int, r->type, REDIS_REPLY_INTEGER));
    cr_assert(r->integer > 0 && r->integer <= 300, "PTTL %lld", r->integer);
    freeReplyObject(r);
    harness_sleep_ms(600);
    expect_nil(rc, "GET k");
    expect_error(rc, "ERR invalid expire time in 'psetex' command", "PSETEX k 0 v");
    expect_error(rc, "ERR invalid expire time in 'psetex' command", "PSETEX k -1 v");
}

/* ---- GETSET / GETDEL / GETEX ------------------------------------------------ */

Test(strings, getset_returns_the_old_value_and_clears_the_ttl)
{
    expect_nil(rc, "GETSET k v");
    expect_int(rc, 1, "EXPIRE k 100");
    expect_bulk(rc, "v", "GETSET k w");
    expect_bulk(rc, "w", "GET k");
    expect_int(rc, -1, "TTL k");
}

Test(strings, getdel_returns_the_value_and_deletes_the_key)
{
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GETDEL k");
    expect_int(rc, 0, "EXISTS k");
    expect_nil(rc, "GETDEL k");
}

Test(strings, getex_without_options_is_a_get)
{
    expect_nil(rc, "GETEX k");
    expect_ok(rc, "SET k v EX 100");
    expect_bulk(rc, "v", "GETEX k");
    expect_int(rc, 100, "TTL k");
}

Test(strings, getex_sets_and_removes_expiry)
{
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GETEX k EX 100");
    expect_int(rc, 100, "TTL k");
    expect_bulk(rc, "v", "GETEX k PX 200000");
    expect_int(rc, 200, "TTL k");
    expect_bulk(rc, "v", "GETEX k EXAT 4000000000");
    expect_int(rc, 4000000000LL, "EXPIRETIME k");
    expect_bulk(rc, "v", "GETEX k PXAT 4000000000500");
    expect_int(rc, 4000000000500LL, "PEXPIRETIME k");
    expect_bulk(rc, "v", "GETEX k PERSIST");
    expect_int(rc, -1, "TTL k");
    expect_bulk(rc, "v", "GETEX k PERSIST PERSIST");
}

Test(strings, getex_with_a_past_time_deletes_the_key)
{
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GETEX k EXAT 1");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, getex_on_a_missing_key_replies_nil)
{
    expect_nil(rc, "GETEX k EX 10");
    expect_int(rc, 0, "EXISTS k");
}

Test(strings, getex_rejects_bad_options)
{
    expect_ok(rc, "SET k v");
    expect_error(rc, "ERR syntax error", "GETEX k EX 10 PERSIST");
    expect_error(rc, "ERR syntax error", "GETEX k EX 10 PX 10");
    expect_error(rc, "ERR syntax error", "GETEX k FOO");
    expect_error(rc, "ERR syntax error", "GETEX k EX");
    expect_error(rc, "ERR invalid expire time in 'getex' command", "GETEX k EX -1");
    expect_error(rc, "ERR invalid expire time in 'getex' command", "GETEX k PX 0");
    expect_error(rc, "ERR invalid expire time in 'getex' command", "GETEX k PXAT 0");
    expect_error(rc, "ERR invalid expire time in 'getex' command",
                 "GETEX k EX 9223372036854775807");
    expect_error(rc, "ERR value is not an integer or out of range", "GETEX k EX abc");
    expect_error(rc, "ERR wrong number of arguments for 'getex' command", "GETEX");
    expect_int(rc, -1, "TTL k");
}

/* ---- MGET / MSET / MSETNX -------------------------------------------------- */

Test(strings, mget_returns_values_and_nils_in_order)
{
    redisReply *r;

    expect_ok(rc, "MSET a 1 b 2");
    r = harness_cmd(rc, "MGET a nope b a");
    expect_bulks(r, "1", NULL, "2", "1");
    freeReplyObject(r);
    expect_error(rc, "ERR wrong number of arguments for 'mget' command", "MGET");
}

Test(strings, mset_needs_pairs)
{
    expect_error(rc, "ERR wrong number of arguments for 'mset' command", "MSET a 1 b");
    expect_error(rc, "ERR wrong number of arguments for 'mset' command", "MSET a");
    expect_int(rc, 0, "DBSIZE");
}

Test(strings, mset_overwrites_and_clears_ttls)
{
    expect_ok(rc, "SET a old EX 100");
    expect_ok(rc, "MSET a 1 b 2 a 3");
    expect_bulk(rc, "3", "GET a");
    expect_int(rc, -1, "TTL a");
}

Test(strings, mset_with_a_repeated_key_keeps_the_last_value)
{
    expect_ok(rc, "MSET a 1 a 2");
    expect_bulk(rc, "2", "GET a");
    expect_int(rc, 1, "MSETNX b 1 b 2");
    expect_bulk(rc, "2", "GET b");
}

Test(strings, writes_on_an_expired_key_see_no_old_value)
{
    expect_ok(rc, "SET k old PX 20");
    harness_sleep_ms(60);
    expect_nil(rc, "SET k new GET");
    expect_int(rc, -1, "TTL k");
    expect_ok(rc, "SET a old PX 20");
    harness_sleep_ms(60);
    expect_int(rc, 1, "APPEND a x");
    expect_ok(rc, "SET n 41 PX 20");
    harness_sleep_ms(60);
    expect_int(rc, 1, "INCR n");
    expect_int(rc, -1, "TTL n");
    expect_ok(rc, "SET g v PX 20");
    harness_sleep_ms(60);
    expect_nil(rc, "GETEX g PERSIST");
    expect_nil(rc, "GETDEL g");
    expect_int(rc, 1, "SETNX g w");
}

Test(strings, set_xx_keepttl_get_on_a_volatile_key)
{
    expect_ok(rc, "SET k v EX 100");
    expect_bulk(rc, "v", "SET k w XX KEEPTTL GET");
    expect_int(rc, 100, "TTL k");
    expect_ok(rc, "SETEX k 100 v");
    expect_nil(rc, "SET k x KEEPTTL NX");
    expect_bulk(rc, "v", "GET k");
}

Test(strings, msetnx_sets_all_keys_or_none)
{
    expect_int(rc, 1, "MSETNX a 1 b 2");
    expect_int(rc, 0, "MSETNX b 9 c 3");
    expect_int(rc, 0, "EXISTS c");
    expect_bulk(rc, "2", "GET b");
    expect_error(rc, "ERR wrong number of arguments for 'msetnx' command", "MSETNX a 1 b");
}

/* ---- INCR family ------------------------------------------------------------ */

Test(strings, incr_and_decr_start_from_zero)
{
    expect_int(rc, 1, "INCR a");
    expect_int(rc, 2, "INCR a");
    expect_int(rc, -1, "DECR b");
    expect_int(rc, -5, "INCRBY c -5");
    expect_int(rc, 10, "DECRBY c -15");
    expect_bulk(rc, "10", "GET c");
}

Test(strings, incr_keeps_the_ttl)
{
    expect_ok(rc, "SET n 5 EX 100");
    expect_int(rc, 6, "INCR n");
    expect_int(rc, 100, "TTL n");
}

Test(strings, incr_rejects_values_that_are_not_canonical_integers)
{
    expect_ok(rc, "SET s abc");
    expect_error(rc, "ERR value is not an integer or out of range", "INCR s");
    expect_ok(rc, "SET s %s", " 1");
    expect_error(rc, "ERR value is not an integer or out of range", "INCR s");
    expect_ok(rc, "SET s 01");
    expect_error(rc, "ERR value is not an integer or out of range", "INCR s");
    expect_ok(rc, "SET s %s", "");
    expect_error(rc, "ERR value is not an integer or out of range", "INCR s");
    expect_ok(rc, "SET s 12345678901234567890");
    expect_error(rc, "ERR value is not an integer or out of range", "INCR s");
    expect_ok(rc, "SET s 1.0");
    expect_error(rc, "ERR value is not an integer or out of range", "DECR s");
}

Test(strings, incrby_rejects_bad_increments)
{
    expect_ok(rc, "SET n 1");
    expect_error(rc, "ERR value is not an integer or out of range", "INCRBY n 1.5");
    expect_error(rc, "ERR value is not an integer or out of range", "INCRBY n 01");
    expect_error(rc, "ERR value is not an integer or out of range", "INCRBY n +1");
    expect_error(rc, "ERR value is not an integer or out of range", "INCRBY n %s", " 1");
    expect_error(rc, "ERR value is not an integer or out of range",
                 "INCRBY n 9223372036854775808");
    expect_error(rc, "ERR value is not an integer or out of range",
                 "INCRBY n 99999999999999999999");
    expect_error(rc, "ERR value is not an integer or out of range", "DECRBY n a");
    expect_error(rc, "ERR value is not an integer or out of range", "INCRBY n -0");
    expect_error(rc, "ERR wrong number of arguments for 'incrby' command", "INCRBY n");
    expect_error(rc, "ERR wrong number of arguments for 'incr' command", "INCR");
}

Test(strings, incr_detects_overflow_at_both_ends)
{
    expect_ok(rc, "SET n 9223372036854775806");
    expect_int(rc, 9223372036854775807LL, "INCR n");
    expect_error(rc, "ERR increment or decrement would overflow", "INCR n");
    expect_error(rc, "ERR increment or decrement would overflow", "DECRBY n -1");
    expect_bulk(rc, "9223372036854775807", "GET n");
    expect_ok(rc, "SET n -9223372036854775807");
    expect_int(rc, -9223372036854775807LL - 1, "DECR n");
    expect_error(rc, "ERR increment or decrement would overflow", "DECR n");
    expect_error(rc, "ERR increment or decrement would overflow", "INCRBY n -1");
    expect_bulk(rc, "-9223372036854775808", "GET n");
}

Test(strings, decrby_refuses_the_most_negative_decrement)
{
    expect_ok(rc, "SET n 1");
    expect_error(rc, "ERR decrement would overflow", "DECRBY n -9223372036854775808");
    expect_int(rc, -9223372036854775806LL, "DECRBY n 9223372036854775807");
    expect_int(rc, -9223372036854775807LL, "DECRBY n 1");
    expect_error(rc, "ERR increment or decrement would overflow", "DECRBY n 9223372036854775807");
}

/* ---- INCRBYFLOAT ---------------------------------------------------------- */

Test(strings, incrbyfloat_formats_results_like_redis)
{
    expect_bulk(rc, "1.5", "INCRBYFLOAT f 1.5");
    expect_ok(rc, "SET f 10.5");
    expect_bulk(rc, "10.6", "INCRBYFLOAT f 0.1");
    expect_ok(rc, "SET f 5.0e3");
    expect_bulk(rc, "5200", "INCRBYFLOAT f 2.0e2");
    expect_ok(rc, "SET f 3");
    expect_bulk(rc, "4.1", "INCRBYFLOAT f 1.1");
    expect_ok(rc, "SET f 1");
    expect_bulk(rc, "100000000000000001", "INCRBYFLOAT f 1e17");
    expect_ok(rc, "SET f 7");
    expect_bulk(rc, "150000000000000000000", "INCRBYFLOAT f 1.5e20");
    expect_ok(rc, "SET f 1");
    expect_bulk(rc, "0", "INCRBYFLOAT f -1");
    expect_bulk(rc, "0.1", "INCRBYFLOAT f 0.1");
    expect_bulk(rc, "0", "INCRBYFLOAT f -0.1");
    expect_bulk(rc, "0.00003", "INCRBYFLOAT f 3e-5");
    expect_bulk(rc, "0.00003", "GET f");
}

Test(strings, incrbyfloat_keeps_long_double_precision)
{
    expect_ok(rc, "SET f 1.23456789012345678901234567890");
    expect_bulk(rc, "1.23456789012345679", "INCRBYFLOAT f 0");
    expect_ok(rc, "SET f 10");
    expect_bulk(rc, "11", "INCRBYFLOAT f 1");
    expect_bulk(rc, "16", "INCRBYFLOAT g 0x10");
}

Test(strings, incrbyfloat_rejects_nan_infinity_and_non_floats)
{
    expect_ok(rc, "SET f abc");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT f 1");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT g abc");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT g %s", "");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT g 1abc");
    expect_error(rc, "ERR increment would produce NaN or Infinity", "INCRBYFLOAT g +inf");
    expect_error(rc, "ERR increment would produce NaN or Infinity", "INCRBYFLOAT g -inf");
    expect_int(rc, 0, "EXISTS g");
    expect_ok(rc, "SET f %s", " 1");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT f 1");
    expect_ok(rc, "SET f 1");
    expect_error(rc, "ERR value is not a valid float", "INCRBYFLOAT f %s", " 1");
}

Test(strings, incrbyfloat_prints_huge_values_in_full)
{
    redisReply *r;

    expect_ok(rc, "SET f 0");
    r = harness_cmd(rc, "INCRBYFLOAT f 1.7976931348623157e308");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(sz, r->len, 309));
    cr_assert(eq(int, strncmp(r->str, "179769313486231569995921046774104434", 36), 0), "%s",
              r->str);
    freeReplyObject(r);
}

/* ---- APPEND / STRLEN --------------------------------------------------------- */

Test(strings, append_creates_and_extends_and_replies_the_length)
{
    expect_int(rc, 5, "APPEND a hello");
    expect_int(rc, 10, "APPEND a world");
    expect_bulk(rc, "helloworld", "GET a");
    expect_int(rc, 10, "STRLEN a");
    expect_int(rc, 0, "STRLEN missing");
}

Test(strings, append_of_nothing_creates_an_empty_string)
{
    expect_int(rc, 0, "APPEND a %s", "");
    expect_int(rc, 1, "EXISTS a");
    expect_bulk(rc, "", "GET a");
}

Test(strings, append_keeps_the_ttl)
{
    expect_ok(rc, "SET a x EX 100");
    expect_int(rc, 2, "APPEND a y");
    expect_int(rc, 100, "TTL a");
}

Test(strings, append_appends_to_a_number_as_text)
{
    expect_int(rc, 1, "INCR n");
    expect_int(rc, 2, "APPEND n 0");
    expect_int(rc, 11, "INCR n");
}

/* ---- GETRANGE / SUBSTR / SETRANGE ----------------------------------------------- */

Test(strings, getrange_handles_negative_and_out_of_range_offsets)
{
    expect_ok(rc, "SET s helloworld");
    expect_bulk(rc, "helloworld", "GETRANGE s 0 -1");
    expect_bulk(rc, "rld", "GETRANGE s -3 -1");
    expect_bulk(rc, "", "GETRANGE s 5 3");
    expect_bulk(rc, "helloworld", "GETRANGE s -100 100");
    expect_bulk(rc, "", "GETRANGE s 100 200");
    expect_bulk(rc, "h", "GETRANGE s 0 0");
    expect_bulk(rc, "d", "GETRANGE s -1 -1");
    expect_bulk(rc, "", "GETRANGE s -1 -2");
    expect_bulk(rc, "", "GETRANGE missing 0 -1");
    expect_error(rc, "ERR value is not an integer or out of range", "GETRANGE s x 1");
    expect_error(rc, "ERR wrong number of arguments for 'getrange' command", "GETRANGE s 0");
}

Test(strings, getrange_accepts_extreme_offsets)
{
    expect_ok(rc, "SET s v");
    expect_bulk(rc, "v", "GETRANGE s 0 9223372036854775807");
    expect_bulk(rc, "v", "GETRANGE s -9223372036854775808 -1");
    expect_error(rc, "ERR value is not an integer or out of range",
                 "GETRANGE s 0 9223372036854775808");
}

Test(strings, substr_is_getrange)
{
    expect_ok(rc, "SET s hello");
    expect_bulk(rc, "hel", "SUBSTR s 0 2");
    expect_bulk(rc, "llo", "SUBSTR s -3 -1");
}

Test(strings, setrange_overwrites_in_place)
{
    expect_ok(rc, "SET s helloworld");
    expect_int(rc, 10, "SETRANGE s 3 XX");
    expect_bulk(rc, "helXXworld", "GET s");
    expect_int(rc, 12, "SETRANGE s 10 !!");
    expect_bulk(rc, "helXXworld!!", "GET s");
}

Test(strings, setrange_pads_with_zero_bytes)
{
    redisReply *r;

    expect_int(rc, 7, "SETRANGE s 5 xy");
    r = harness_cmd(rc, "GET s");
    cr_assert(eq(int, r->type, REDIS_REPLY_STRING));
    cr_assert(eq(sz, r->len, 7));
    cr_assert(eq(int, memcmp(r->str, "\0\0\0\0\0xy", 7), 0));
    freeReplyObject(r);
}

Test(strings, setrange_with_an_empty_value_creates_nothing)
{
    expect_int(rc, 0, "SETRANGE s 0 %s", "");
    expect_int(rc, 0, "SETRANGE s 10 %s", "");
    expect_int(rc, 0, "EXISTS s");
    expect_ok(rc, "SET s abc");
    expect_int(rc, 3, "SETRANGE s 10 %s", "");
    expect_bulk(rc, "abc", "GET s");
}

Test(strings, setrange_rejects_bad_offsets)
{
    expect_error(rc, "ERR offset is out of range", "SETRANGE s -1 x");
    expect_error(rc, "ERR value is not an integer or out of range", "SETRANGE s x x");
    expect_error(rc, "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                 "SETRANGE s 536870912 x");
    expect_error(rc, "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                 "SETRANGE s 9223372036854775807 x");
    expect_int(rc, 0, "EXISTS s");
}

Test(strings, string_growth_is_bounded_by_proto_max_bulk_len)
{
    char *val = malloc(1 << 20);

    harness_teardown();
    harness_setup_with("--proto-max-bulk-len", "1mb", NULL);
    expect_error(rc, "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                 "SETRANGE s 1048576 x");
    expect_int(rc, 1048576, "SETRANGE s 1048575 x");
    expect_error(rc, "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                 "APPEND s y");
    expect_int(rc, 1048576, "STRLEN s");
    memset(val, 'v', 1 << 20);
    expect_int(rc, 1048576, "APPEND t %b", val, (size_t)(1 << 20));
    expect_error(rc, "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                 "APPEND t z");
    free(val);
}
