/*
 * tests/unit/test_mcreader.c — resp/mcreader.c against memcached 1.6's
 * reading of its text protocol: every request split at every byte, token
 * counts, the error line each malformed request gets, numbers as
 * memcached's safe_strto* take them, and refused items skipped as they
 * arrive.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/mcreader.h"

#define WIRE(s) s, sizeof(s) - 1

static struct mc_reader *rd;

static void
setup(void)
{
    rd = mc_reader_create(NULL);
}

static void
teardown(void)
{
    mc_reader_destroy(&rd);
}

TestSuite(mcreader, .init = setup, .fini = teardown);

static bool
arg_eq(struct resp_arg a, const char *s)
{
    return a.len == strlen(s) && memcmp(a.p, s, a.len) == 0;
}

/* Parse one complete request from wire, which it must consume exactly. */
static struct mc_req
parse1(const char *wire, size_t len)
{
    struct mc_req req;
    size_t used;

    cr_assert(eq(int, mc_reader_next(rd, wire, len, &req, &used), RESP_OK), "%.*s", (int)len, wire);
    cr_assert(eq(sz, used, len), "%.*s", (int)len, wire);
    return req;
}

static const char *const complete[] = {
    "get k\r\n", "get a b c\r\n", "gets k\n", "gat 10 a b\r\n", "gats -1 a\r\n",
    "set k 0 0 3\r\nabc\r\n", "set k 5 100 0 noreply\r\n\r\n", "add k 1 0 1\r\nx\r\n",
    "replace k 1 0 1\r\nx\r\n", "append k 0 0 2\r\nxy\r\n", "prepend k 0 0 2\r\nxy\r\n",
    "cas k 0 0 1 77\r\nz\r\n", "incr n 5\r\n", "decr n 5 noreply\r\n", "touch k 10\r\n",
    "delete k\r\n", "delete k 0\r\n", "delete k noreply\r\n", "flush_all\r\n",
    "flush_all 10\r\n", "flush_all noreply\r\n", "version\r\n", "verbosity 1\r\n",
    "stats\r\n", "stats settings\r\n", "quit\r\n", "mn\r\n", "bogus\r\n", "\r\n",
    "set k 0 0 4\r\nab\r\n\r\n",
    "mg k v c t\r\n", "mg Zm9v b k\r\n", "ms k 2 T10 F3 q\r\nhi\r\n", "md k I T5\r\n",
    "ma k N0 J5 D2 MD v\r\n", "me k\r\n",
};

Test(mcreader, every_request_split_at_every_byte_parses_as_whole)
{
    for (size_t i = 0; i < sizeof complete / sizeof complete[0]; i++) {
        const char *w = complete[i];
        size_t len = strlen(w);
        struct mc_req whole = parse1(w, len);

        for (size_t cut = 0; cut < len; cut++) {
            struct mc_req part;
            size_t used;

            cr_assert(eq(int, mc_reader_next(rd, w, cut, &part, &used), RESP_AGAIN),
                      "%s cut at %zu", w, cut);
            cr_assert(eq(sz, used, 0));
        }
        cr_assert(eq(int, parse1(w, len).cmd, whole.cmd), "%s", w);
    }
}

Test(mcreader, storage_commands_carry_their_fields_and_data)
{
    struct mc_req r = parse1(WIRE("set key 4294967295 -1 5 noreply\r\nhe\r\no\r\n"));

    cr_assert(eq(int, r.cmd, MC_SET));
    cr_assert(arg_eq(r.key, "key"));
    cr_assert(eq(u32, r.flags, 4294967295u));
    cr_assert(eq(i32, r.exptime, -1));
    cr_assert(r.noreply);
    cr_assert(arg_eq(r.data, "he\r\no"));
    r = parse1(WIRE("cas k 0 0 1 18446744073709551615\r\nz\r\n"));
    cr_assert(eq(int, r.cmd, MC_CAS));
    cr_assert(eq(u64, r.cas, UINT64_MAX));
    cr_assert(eq(int, r.noreply, false));
}

Test(mcreader, a_data_block_without_its_crlf_is_a_bad_chunk_and_is_consumed)
{
    struct mc_req r = parse1(WIRE("set k 0 0 3\r\nabcde"));

    cr_assert(eq(int, r.cmd, MC_ERROR));
    cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR bad data chunk"));
}

Test(mcreader, malformed_storage_lines_answer_a_format_error_and_leave_the_data)
{
    static const char *const bad[] = {
        "set k x 0 1\r\n", "set k 0 x 1\r\n", "set k 0 0 x\r\n", "set k 0 0 -1\r\n",
        "set k -1 0 1\r\n", "cas k 0 0 1 x\r\n", "set k 0 0 1x\r\n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mc_req r = parse1(bad[i], strlen(bad[i]));

        cr_assert(eq(int, r.cmd, MC_ERROR), "%s", bad[i]);
        cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR bad command line format"), "%s", bad[i]);
    }
}

Test(mcreader, token_counts_outside_a_commands_forms_are_ERROR)
{
    static const char *const bad[] = {
        "set k 0 0\r\n", "set k 0 0 1 noreply x\r\n", "cas k 0 0 1\r\n", "incr k\r\n",
        "touch k\r\n", "delete\r\n", "delete k 0 noreply x\r\n", "get\r\n", "gets\r\n",
        "verbosity\r\n", "flush_all 1 noreply x\r\n", "x\r\n", "m\r\n", "mz k\r\n",
        "gex k\r\n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mc_req r = parse1(bad[i], strlen(bad[i]));

        cr_assert(eq(int, r.cmd, MC_ERROR), "%s", bad[i]);
        cr_assert(eq(str, (char *)r.error, "ERROR"), "%s", bad[i]);
    }
}

Test(mcreader, keys_longer_than_250_bytes_are_refused)
{
    char key[252], line[600];
    struct mc_req r;
    int n;

    memset(key, 'k', sizeof key);
    n = snprintf(line, sizeof line, "get a %.*s\r\n", 250, key);
    r = parse1(line, (size_t)n);
    cr_assert(eq(int, r.cmd, MC_GET));
    cr_assert(eq(sz, r.nkeys, 2));
    cr_assert(eq(sz, r.keys[1].len, 250));
    n = snprintf(line, sizeof line, "get a %.*s\r\n", 251, key);
    r = parse1(line, (size_t)n);
    cr_assert(eq(int, r.cmd, MC_ERROR));
    cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR bad command line format"));
    n = snprintf(line, sizeof line, "set %.*s 0 0 1\r\nx\r\n", 251, key);
    r = parse1(line, (size_t)n - 3); /* the data stays: it is read as the next line */
    cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR bad command line format"));
}

Test(mcreader, a_get_takes_every_key_past_the_tokenizers_23)
{
    char line[1024] = "gets";
    struct mc_req r;

    for (int i = 0; i < 60; i++) {
        snprintf(line + strlen(line), sizeof line - strlen(line), " k%d", i);
    }
    strcat(line, "\r\n");
    r = parse1(line, strlen(line));
    cr_assert(eq(int, r.cmd, MC_GETS));
    cr_assert(eq(sz, r.nkeys, 60));
    cr_assert(arg_eq(r.keys[0], "k0"));
    cr_assert(arg_eq(r.keys[59], "k59"));
}

Test(mcreader, delete_takes_a_zero_or_noreply_and_nothing_else)
{
    struct mc_req r = parse1(WIRE("delete k 0 noreply\r\n"));

    cr_assert(eq(int, r.cmd, MC_DELETE));
    cr_assert(r.noreply);
    r = parse1(WIRE("delete k 1\r\n"));
    cr_assert(eq(int, r.cmd, MC_ERROR));
    cr_assert(eq(str, (char *)r.error,
                 "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"));
}

Test(mcreader, flush_all_reads_a_delay_unless_its_only_argument_is_noreply)
{
    struct mc_req r = parse1(WIRE("flush_all noreply\r\n"));

    cr_assert(eq(int, r.cmd, MC_FLUSH_ALL));
    cr_assert(r.noreply);
    cr_assert(eq(i32, r.exptime, 0));
    r = parse1(WIRE("flush_all 30 noreply\r\n"));
    cr_assert(eq(i32, r.exptime, 30));
    r = parse1(WIRE("flush_all soon\r\n"));
    cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR invalid exptime argument"));
}

Test(mcreader, numbers_are_read_as_memcacheds_safe_strto_functions)
{
    uint32_t u;
    int32_t i;
    uint64_t l;

    cr_assert(mc_parse_u32(&(struct resp_arg){ WIRE("4294967296") }, &u));
    cr_assert(eq(u32, u, 0)); /* truncated, as memcached stores it */
    cr_assert(mc_parse_u32(&(struct resp_arg){ WIRE("+7") }, &u) && u == 7);
    cr_assert(eq(int, mc_parse_u32(&(struct resp_arg){ WIRE("-1") }, &u), false));
    cr_assert(eq(int, mc_parse_u32(&(struct resp_arg){ WIRE("1x") }, &u), false));
    cr_assert(eq(int, mc_parse_u32(&(struct resp_arg){ WIRE("") }, &u), false));
    cr_assert(mc_parse_i32(&(struct resp_arg){ WIRE("-5") }, &i) && i == -5);
    cr_assert(mc_parse_u64(&(struct resp_arg){ WIRE("18446744073709551615") }, &l) && l == UINT64_MAX);
    cr_assert(eq(int, mc_parse_u64(&(struct resp_arg){ WIRE("18446744073709551616") }, &l), false));
}

Test(mcreader, an_item_over_item_size_max_is_refused_and_its_data_skipped_as_it_comes)
{
    struct mc_limits lim = { 1024, 1 << 20 };
    const char line[] = "set k 0 0 2000\r\n";
    char *data = malloc(2002);
    struct mc_req r;
    size_t used, total = 0;
    enum resp_status st;

    mc_reader_set_limits(rd, &lim);
    memset(data, 'v', 2000);
    memcpy(data + 2000, "\r\n", 2);
    cr_assert(eq(int, mc_reader_next(rd, line, sizeof line - 1, &r, &used), RESP_OK));
    cr_assert(r.too_large);
    cr_assert(eq(str, (char *)r.error, "SERVER_ERROR object too large for cache"));
    cr_assert(eq(sz, used, sizeof line - 1));
    /* the data arrives in pieces: consumed, nothing parsed */
    while (total < 2000) {
        st = mc_reader_next(rd, data + total, 500, &r, &used);
        cr_assert(eq(int, st, RESP_AGAIN));
        cr_assert(eq(sz, used, 500));
        total += used;
    }
    /* the CRLF, then the next request */
    {
        char rest[] = "\r\nget k\r\n";
        cr_assert(eq(int, mc_reader_next(rd, rest, sizeof rest - 1, &r, &used), RESP_OK));
        cr_assert(eq(int, r.cmd, MC_GET));
        cr_assert(eq(sz, used, sizeof rest - 1));
    }
    free(data);
}

Test(mcreader, the_largest_item_that_fits_is_memcacheds)
{
    /* 1 MiB less memcached's 56-byte header, the key and its NUL, and the
     * data's CRLF: 1048516 bytes for a 1-byte key without flags (memcached
     * 1.6.18 stores 1048516 and refuses 1048517; with flags, 1048512 and
     * 1048513) */
    struct mc_limits lim = { 1048576, 1 << 20 };
    struct mc_req r;
    size_t used;

    mc_reader_set_limits(rd, &lim);
    cr_assert(eq(int, mc_reader_next(rd, WIRE("set k 0 0 1048516\r\n"), &r, &used), RESP_AGAIN));
    cr_assert(eq(int, mc_reader_next(rd, WIRE("set k 1 0 1048512\r\n"), &r, &used), RESP_AGAIN));
    cr_assert(eq(int, mc_reader_next(rd, WIRE("set k 0 0 1048517\r\n"), &r, &used), RESP_OK));
    cr_assert(r.too_large);
    mc_reader_destroy(&rd); /* it skips that item's data now: start afresh */
    rd = mc_reader_create(&lim);
    cr_assert(eq(int, mc_reader_next(rd, WIRE("set k 1 0 1048513\r\n"), &r, &used), RESP_OK));
    cr_assert(r.too_large); /* flags take 4 bytes */
}

Test(mcreader, a_line_with_no_newline_past_2048_bytes_closes_unless_it_is_a_get)
{
    char *buf = malloc(4096);
    struct mc_req r;
    size_t used;

    memset(buf, 'x', 4096);
    cr_assert(eq(int, mc_reader_next(rd, buf, 2048, &r, &used), RESP_AGAIN));
    cr_assert(eq(int, mc_reader_next(rd, buf, 2049, &r, &used), RESP_EPROTO));
    memcpy(buf, "get ", 4);
    cr_assert(eq(int, mc_reader_next(rd, buf, 4096, &r, &used), RESP_AGAIN));
    free(buf);
}

Test(mcreader, a_binary_protocol_request_gets_a_clear_error_and_a_close)
{
    static const char get[] = "\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"
                              "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00k";
    struct mc_req r = parse1(get, sizeof get - 1);

    cr_assert(eq(int, r.cmd, MC_ERROR));
    cr_assert(r.close);
    cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR the binary protocol is not supported"));
}

Test(mcreader, an_http_request_line_closes_the_connection)
{
    struct mc_req r;
    size_t used;

    cr_assert(eq(int, mc_reader_next(rd, WIRE("GET / HTTP/1.1\r\n"), &r, &used), RESP_EPROTO));
}

/* ---- meta commands: each expectation is what memcached 1.6.18 answers ---- */

static void
expect_error(const char *wire, size_t len, const char *line)
{
    struct mc_req r = parse1(wire, len);

    cr_assert(eq(int, r.cmd, MC_ERROR), "%s", wire);
    cr_assert(eq(str, (char *)r.error, (char *)line), "%s", wire);
}

Test(mcreader, meta_commands_carry_key_flags_and_values)
{
    struct mc_req r = parse1(WIRE("mg k v c T30 N-1 R5 O123 q\r\n"));

    cr_assert(eq(int, r.cmd, MC_MG));
    cr_assert(arg_eq(r.key, "k"));
    cr_assert(arg_eq(r.meta.flags, "v c T30 N-1 R5 O123 q"));
    cr_assert(mc_meta_has(&r.meta, 'v') && mc_meta_has(&r.meta, 'q') && !mc_meta_has(&r.meta, 's'));
    cr_assert(eq(i32, r.meta.ttl, 30));
    cr_assert(eq(i32, r.meta.vivify_ttl, -1));
    cr_assert(eq(i32, r.meta.recache, 5));
    cr_assert(eq(int, r.noreply, false)); /* q is the command's: errors still show */

    r = parse1(WIRE("ms k 3 F7 C99 MA I\r\nabc\r\n"));
    cr_assert(eq(int, r.cmd, MC_MS));
    cr_assert(arg_eq(r.data, "abc"));
    cr_assert(eq(u32, r.meta.client_flags, 7));
    cr_assert(eq(u64, r.meta.cas, 99));
    cr_assert(eq(chr, r.meta.mode, 'A'));

    r = parse1(WIRE("ma n\r\n"));
    cr_assert(eq(int, r.cmd, MC_MA));
    cr_assert(eq(u64, r.meta.delta, 1)); /* no D: one */
    r = parse1(WIRE("ma n D18446744073709551615 J7 M-\r\n"));
    cr_assert(eq(u64, r.meta.delta, UINT64_MAX));
    cr_assert(eq(u64, r.meta.initial, 7));
    cr_assert(eq(chr, r.meta.mode, '-'));
    cr_assert(eq(int, parse1(WIRE("mn anything\r\n")).cmd, MC_MN));
    cr_assert(eq(int, parse1(WIRE("md k\r\n")).cmd, MC_MD));
    cr_assert(eq(int, parse1(WIRE("me k extra\r\n")).cmd, MC_ME));
}

Test(mcreader, meta_keys_in_base64_are_decoded_as_memcached_decodes_them)
{
    struct mc_req r = parse1(WIRE("mg Zm9vYg== b k\r\n"));

    cr_assert(arg_eq(r.key, "foob"));
    cr_assert(arg_eq(parse1(WIRE("mg Zm9v$ b\r\n")).key, "foo")); /* outside the alphabet: skipped */
    cr_assert(arg_eq(parse1(WIRE("me Zm9v b\r\n")).key, "foo"));
    expect_error(WIRE("mg Zm9 b\r\n"), "CLIENT_ERROR error decoding key");
    expect_error(WIRE("mg Zm9vYg b\r\n"), "CLIENT_ERROR error decoding key");
    expect_error(WIRE("mg Zm9vYg= b\r\n"), "CLIENT_ERROR error decoding key");
    expect_error(WIRE("mg ==== b\r\n"), "CLIENT_ERROR error decoding key");
    expect_error(WIRE("me Zm9 b\r\n"), "CLIENT_ERROR bad command line format");
}

Test(mcreader, base64_encodes_with_padding_and_round_trips)
{
    char out[16], back[16];

    cr_assert(eq(sz, mc_base64_encode("foo", 3, out), 4));
    cr_assert(eq(int, memcmp(out, "Zm9v", 4), 0));
    cr_assert(eq(sz, mc_base64_encode("fooba", 5, out), 8));
    cr_assert(eq(int, memcmp(out, "Zm9vYmE=", 8), 0));
    cr_assert(eq(sz, mc_base64_encode("\xff\x00", 2, out), 4));
    cr_assert(eq(sz, mc_base64_decode(out, 4, back), 2));
    cr_assert(eq(int, memcmp(back, "\xff\x00", 2), 0));
}

Test(mcreader, meta_flag_errors_are_memcacheds_in_its_order)
{
    expect_error(WIRE("mg\r\n"), "ERROR");
    expect_error(WIRE("mx k\r\n"), "ERROR");
    expect_error(WIRE("me\r\n"), "CLIENT_ERROR bad command line format");
    expect_error(WIRE("mg foo v v\r\n"), "CLIENT_ERROR duplicate flag");
    expect_error(WIRE("mg foo Tx v v\r\n"), "CLIENT_ERROR duplicate flag");
    expect_error(WIRE("mg foo x\r\n"), "CLIENT_ERROR invalid flag");
    expect_error(WIRE("mg foo 1\r\n"), "CLIENT_ERROR invalid flag");
    expect_error(WIRE("ms foo 3 E999\r\nbaz\r\n"), "CLIENT_ERROR invalid flag");
    expect_error(WIRE("mg foo Nabc Tx\r\n"), "CLIENT_ERROR bad token in command line format");
    expect_error(WIRE("mg foo Cx\r\n"), "CLIENT_ERROR bad token in command line format");
    expect_error(WIRE("mg foo Fx T1\r\n"), "CLIENT_ERROR bad command line format");
    expect_error(WIRE("mg foo MSS Tx\r\n"), "CLIENT_ERROR bad token in command line format");
    expect_error(WIRE("md foo Tx\r\n"), "CLIENT_ERROR invalid or duplicate flag");
    expect_error(WIRE("ma n D-1\r\n"), "CLIENT_ERROR invalid or duplicate flag");
    expect_error(WIRE("ma foo MII\r\n"), "CLIENT_ERROR invalid or duplicate flag");
    expect_error(WIRE("ma n MX\r\n"), "CLIENT_ERROR invalid mode for ma M token");
    expect_error(WIRE("ms foo 2 MX\r\nhi\r\n"), "CLIENT_ERROR invalid mode for ms M token");
    expect_error(WIRE("ms foo 2 MEE\r\nhi\r\n"), "CLIENT_ERROR incorrect length for M token");
    expect_error(WIRE("ms foo 2 MX O123456789012345678901234567890123\r\nhi\r\n"),
                 "CLIENT_ERROR invalid mode for ms M token");
    expect_error(WIRE("mg foo O12345678901234567890123456789012\r\n"),
                 "CLIENT_ERROR opaque token too long");
    expect_error(WIRE("md foo O12345678901234567890123456789012\r\n"),
                 "CLIENT_ERROR opaque token too long");
    expect_error(WIRE("mg foo a b c d e f g h i j k l m n o p q r s\r\n"),
                 "CLIENT_ERROR options flags are too long");
    /* 18 flags fit an mg (and fail on the first unknown one) */
    expect_error(WIRE("mg foo a b c d e f g h i j k l m n o p q\r\n"), "CLIENT_ERROR invalid flag");
    cr_assert(eq(int, parse1(WIRE("md foo MX\r\n")).cmd, MC_MD)); /* md has no modes */
    cr_assert(eq(int, parse1(WIRE("mg foo MS\r\n")).cmd, MC_MG));
}

Test(mcreader, a_refused_meta_set_skips_its_data_unless_its_length_was_unreadable)
{
    /* flags refused: the data goes with the request */
    expect_error(WIRE("ms foo 2 Tx Fx\r\nhi\r\n"), "CLIENT_ERROR bad token in command line format");
    expect_error(WIRE("ms foo 2 F\r\nhi\r\n"), "CLIENT_ERROR bad command line format");
    /* no length, or too many flags: the data is read as a command */
    {
        static const char *const left[] = {
            "ms foo -1\r\nhi\r\n", "ms foo abc\r\nhi\r\n", "ms foo\r\nhi\r\n",
            "ms foo 2 a b c d e f g h i j k l m n o p q\r\nhi\r\n",
        };
        for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
            struct mc_req r;
            size_t used, nl = (size_t)(strchr(left[i], '\n') - left[i]) + 1;

            cr_assert(eq(int, mc_reader_next(rd, left[i], strlen(left[i]), &r, &used), RESP_OK));
            cr_assert(eq(int, r.cmd, MC_ERROR), "%s", left[i]);
            cr_assert(eq(sz, used, nl), "%s", left[i]);
        }
    }
    /* too large for the item size (memcached: 56 + key + 1 + flags + data
     * + 2 bytes over 100): refused, its data skipped */
    {
        struct mc_limits lim = { 100, 1 << 20 };
        struct mc_req r;

        mc_reader_set_limits(rd, &lim);
        r = parse1(WIRE("ms k 41\r\n01234567890123456789012345678901234567890\r\n"));
        cr_assert(eq(int, r.too_large, true));
        cr_assert(eq(int, r.cmd, MC_MS));
        cr_assert(eq(int, parse1(WIRE("ms k 40\r\n0123456789012345678901234567890123456789\r\n")).too_large, false));
        /* 4 bytes more with flags */
        cr_assert(eq(int, parse1(WIRE("ms k 37 F1\r\n0123456789012345678901234567890123456\r\n")).too_large, true));
    }
    /* a bad chunk: its 4 bytes are taken, the rest is the next request */
    {
        struct mc_req r;
        size_t used;

        cr_assert(eq(int, mc_reader_next(rd, WIRE("ms foo 2 c\r\nhiX\r\n"), &r, &used), RESP_OK));
        cr_assert(eq(str, (char *)r.error, "CLIENT_ERROR bad data chunk"));
        cr_assert(eq(sz, used, 16));
    }
}

Test(mcreader, meta_flags_read_again_agree_with_the_reader)
{
    struct mc_meta m;

    cr_assert(eq(ptr, (void *)mc_meta_parse(MC_MA, WIRE("N30 J10 v t c MD D5"), true, &m), NULL));
    cr_assert(eq(i32, m.vivify_ttl, 30));
    cr_assert(eq(u64, m.initial, 10));
    cr_assert(eq(u64, m.delta, 5));
    cr_assert(eq(chr, m.mode, 'D'));
    cr_assert(eq(ptr, (void *)mc_meta_parse(MC_MG, "", 0, true, &m), NULL));
    cr_assert(eq(u64, m.has, 0));
    cr_assert(eq(str, (char *)mc_meta_parse(MC_MG, WIRE("b"), false, &m),
                 "CLIENT_ERROR error decoding key"));
}

/* A pipeline's keys for prefetching: a storage command's data is stepped
 * over (it reads like a request here), a gat's exptime is not a key, and an
 * incomplete request ends the list. */
Test(mcreader, a_pipelines_keys_are_found_for_prefetching)
{
    static const char wire[] = "get a b\r\nset k 0 0 9\r\nget nokey\r\n\r\n"
                               "gat 10 g1 g2\r\ndelete d\r\nms m 5 T0\r\nget x\r\nmg q v\r\n"
                               "incr i 1\r\nset partial 0 0 100\r\nabc";
    static const char *const want[] = { "a", "b", "k", "g1", "g2", "d", "m", "q", "i", "partial" };
    struct resp_arg keys[16];
    size_t n = mc_pipeline_keys(wire, sizeof wire - 1, keys, 16);

    cr_assert(eq(sz, n, sizeof want / sizeof want[0]));
    for (size_t i = 0; i < n; i++) {
        cr_assert(keys[i].len == strlen(want[i]) && memcmp(keys[i].p, want[i], keys[i].len) == 0,
                  "key %zu: %.*s, want %s", i, (int)keys[i].len, keys[i].p, want[i]);
    }
    cr_assert(eq(sz, mc_pipeline_keys(wire, sizeof wire - 1, keys, 3), 3), "at most max");
    cr_assert(eq(sz, mc_pipeline_keys("get a", 5, keys, 16), 0), "no complete line");
}
