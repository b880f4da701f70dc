/*
 * tests/unit/test_resp_reader.c — resp/reader.c against Redis 7.0's request
 * parsing: every sample split at every byte, pipelines, exact error texts,
 * each limit at and one past its value, and the cost of slow arrivals.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "resp/reader.h"

#define WIRE(s) s, sizeof(s) - 1
#define A(s) { s, sizeof(s) - 1 }
#define MEM(p, n) ((struct cr_mem){ .data = (p), .size = (n) })

struct arg {
    const char *p;
    size_t len;
};

struct sample {
    const char *name;
    const char *wire;
    size_t len;
    int argc;
    struct arg argv[8];
};

/* Each a complete request, ending exactly where the next may begin. */
static const struct sample samples[] = {
    { "multibulk GET", WIRE("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 2,
      { A("GET"), A("k") } },
    { "binary bulk with NUL, CR, LF and a fake header inside",
      WIRE("*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$9\r\n\0\r\n\r\n$1\r\n\r\n"), 3,
      { A("SET"), A("bin"), A("\0\r\n\r\n$1\r\n") } },
    { "empty bulk", WIRE("*1\r\n$0\r\n\r\n"), 1, { A("") } },
    { "zero count", WIRE("*0\r\n"), 0, { { NULL, 0 } } },
    { "negative count", WIRE("*-1\r\n"), 0, { { NULL, 0 } } },
    { "inline with CRLF", WIRE("PING\r\n"), 1, { A("PING") } },
    { "inline with bare LF", WIRE("ECHO\n"), 1, { A("ECHO") } },
    { "inline with quotes and escapes",
      WIRE("SET k \"a\\x41\\n\\\"q\\\\\" 'it\\'s' x\r\n"), 5,
      { A("SET"), A("k"), A("aA\n\"q\\"), A("it's"), A("x") } },
    { "blank inline line", WIRE("\r\n"), 0, { { NULL, 0 } } },
    { "inline line of blanks", WIRE(" \t \n"), 0, { { NULL, 0 } } },
    { "bulk followed by two unchecked bytes", WIRE("*1\r\n$1\r\naXY"), 1,
      { A("a") } },
    { "count line followed by an unchecked byte",
      WIRE("*1\rX$4\r\nPING\r\n"), 1, { A("PING") } },
    { "inline with empty quoted argument and a stray CR",
      WIRE("  GET   \"\"  k\r\r\n"), 3, { A("GET"), A(""), A("k") } },
    { "multibulk ECHO of 26 bytes",
      WIRE("*2\r\n$4\r\nECHO\r\n$26\r\nabcdefghijklmnopqrstuvwxyz\r\n"), 2,
      { A("ECHO"), A("abcdefghijklmnopqrstuvwxyz") } },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static void
assert_req(const struct resp_req *req, const struct sample *s)
{
    cr_assert(eq(int, req->argc, s->argc), "argc of %s", s->name);
    for (int i = 0; i < s->argc; i++) {
        cr_assert(eq(mem, MEM(req->argv[i].p, req->argv[i].len),
                     MEM(s->argv[i].p, s->argv[i].len)),
                  "argv[%d] of %s", i, s->name);
    }
}

/* A fresh heap copy, so every call sees the bytes at a new address, as when
 * a connection's buffer is reallocated between reads. */
static char *
copy_of(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);

    cr_assert(not(eq(ptr, c, NULL)));
    memcpy(c, p, n);
    return c;
}

static struct resp_reader *
reader_with(uint64_t max_bulk_len, uint32_t max_multibulk, uint32_t max_inline)
{
    struct resp_limits lim = { max_bulk_len, max_multibulk, max_inline };

    return resp_reader_create(&lim);
}

/* Parse one buffer with a fresh reader and check status and message. */
static void
assert_fails(struct resp_reader *rd, const char *wire, size_t len,
             enum resp_status want, const char *msg)
{
    struct resp_req req;
    size_t used, hint;

    cr_assert(eq(int, resp_reader_next(rd, wire, len, &req, &used, &hint),
                 want), "status for %.*s", (int)len, wire);
    cr_assert(eq(str, (char *)resp_reader_error(rd), (char *)msg));
}

static void
assert_again(struct resp_reader *rd, const char *wire, size_t len)
{
    struct resp_req req;
    size_t used, hint;

    cr_assert(eq(int, resp_reader_next(rd, wire, len, &req, &used, &hint),
                 RESP_AGAIN), "status for %zu bytes", len);
}

/* Bytes arrive as `first` bytes, then `step` at a time, into a buffer that
 * moves on every arrival and drops what each request consumed. */
static void
check_stream(const char *stream, size_t n, size_t first, size_t step)
{
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    char *buf = NULL;
    size_t have = 0, fed = 0, next = 0, used;
    int arrival = 0;

    while (fed < n) {
        size_t add = arrival++ == 0 ? first : step;
        char *moved;

        if (add > n - fed) {
            add = n - fed;
        }
        moved = malloc(have + add + 1);
        cr_assert(not(eq(ptr, moved, NULL)));
        if (have > 0) {
            memcpy(moved, buf, have);
        }
        memcpy(moved + have, stream + fed, add);
        free(buf);
        buf = moved;
        have += add;
        fed += add;

        for (;;) {
            enum resp_status st =
                resp_reader_next(rd, buf, have, &req, &used, NULL);

            if (st == RESP_AGAIN) {
                break;
            }
            cr_assert(eq(int, st, RESP_OK), "after %zu bytes", fed);
            cr_assert(lt(sz, next, NSAMPLES));
            assert_req(&req, &samples[next]);
            next++;
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
    cr_assert(eq(sz, next, NSAMPLES), "first=%zu step=%zu", first, step);
    cr_assert(eq(sz, have, 0));
    free(buf);
    resp_reader_destroy(&rd);
}

static char *
all_samples(size_t *n)
{
    size_t total = 0;
    char *s;

    for (size_t i = 0; i < NSAMPLES; i++) {
        total += samples[i].len;
    }
    s = malloc(total);
    cr_assert(not(eq(ptr, s, NULL)));
    *n = 0;
    for (size_t i = 0; i < NSAMPLES; i++) {
        memcpy(s + *n, samples[i].wire, samples[i].len);
        *n += samples[i].len;
    }
    return s;
}

static size_t
heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* Sanitizer allocators bypass glibc's counters: skip rather than pass. */
static void
skip_unless_heap_is_measurable(void)
{
    size_t before = heap_in_use();
    /* volatile: otherwise the compiler drops the unused malloc. */
    void *volatile p = malloc(1 << 20);
    size_t after = heap_in_use();

    free(p);
    if (after - before < (1 << 20)) {
        cr_skip_test("mallinfo2 does not see this allocator");
    }
}

TestSuite(resp_reader);

Test(resp_reader, parses_every_sample_split_at_every_byte)
{
    for (size_t i = 0; i < NSAMPLES; i++) {
        const struct sample *s = &samples[i];

        for (size_t k = 0; k < s->len; k++) {
            struct resp_reader *rd = resp_reader_create(NULL);
            struct resp_req req;
            size_t used = 0;
            char *part = copy_of(s->wire, k);
            char *whole;

            cr_assert(eq(int,
                         resp_reader_next(rd, part, k, &req, &used, NULL),
                         RESP_AGAIN), "%s cut at %zu", s->name, k);
            free(part);
            whole = copy_of(s->wire, s->len);
            cr_assert(eq(int,
                         resp_reader_next(rd, whole, s->len, &req, &used,
                                          NULL),
                         RESP_OK), "%s cut at %zu", s->name, k);
            cr_assert(eq(sz, used, s->len), "%s cut at %zu", s->name, k);
            assert_req(&req, s);
            free(whole);
            resp_reader_destroy(&rd);
        }
    }
}

/* Bytes placed so that the last one ends a page and the next page is
 * inaccessible: reading one byte past the buffer faults in any build, not
 * only under the sanitizers. */
struct guarded {
    char *map;
    size_t page;
};

static char *
guarded_copy(struct guarded *g, const char *src, size_t n)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(not(eq(ptr, g->map, MAP_FAILED)));
    cr_assert(eq(int, mprotect(g->map + g->page, g->page, PROT_NONE), 0));
    memcpy(g->map + g->page - n, src, n);
    return g->map + g->page - n;
}

static void
guarded_release(struct guarded *g)
{
    munmap(g->map, 2 * g->page);
}

/* A partial request whose last complete part (the count line, or a bulk)
 * ends exactly at the end of the buffer: the reader must wait for more
 * without touching the byte after the buffer (parse_bulks read buf[len]). */
Test(resp_reader, never_reads_past_a_buffer_that_ends_between_parts_of_a_request)
{
    static const char *const cuts[] = {
        "*2\r\n", "*2\r\n$3\r\nGET\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n",
    };

    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct resp_reader *rd = resp_reader_create(NULL);
        struct guarded g;
        struct resp_req req;
        size_t used = 0, n = strlen(cuts[i]);
        char *buf = guarded_copy(&g, cuts[i], n);

        cr_assert(eq(int, resp_reader_next(rd, buf, n, &req, &used, NULL), RESP_AGAIN),
                  "cut %zu", i);
        guarded_release(&g);
        resp_reader_destroy(&rd);
    }
    /* and every sample cut at every byte, in a guarded buffer */
    for (size_t i = 0; i < NSAMPLES; i++) {
        const struct sample *s = &samples[i];

        for (size_t k = 1; k <= s->len; k++) {
            struct resp_reader *rd = resp_reader_create(NULL);
            struct guarded g;
            struct resp_req req;
            size_t used = 0;
            char *buf = guarded_copy(&g, s->wire, k);

            (void)resp_reader_next(rd, buf, k, &req, &used, NULL);
            guarded_release(&g);
            resp_reader_destroy(&rd);
        }
    }
}

Test(resp_reader, parses_every_sample_fed_a_byte_at_a_time)
{
    for (size_t i = 0; i < NSAMPLES; i++) {
        const struct sample *s = &samples[i];
        struct resp_reader *rd = resp_reader_create(NULL);
        struct resp_req req;
        size_t used = 0;

        for (size_t k = 0; k <= s->len; k++) {
            char *part = copy_of(s->wire, k);
            enum resp_status st =
                resp_reader_next(rd, part, k, &req, &used, NULL);

            cr_assert(eq(int, st, k < s->len ? RESP_AGAIN : RESP_OK),
                      "%s at %zu bytes", s->name, k);
            if (st == RESP_OK) {
                cr_assert(eq(sz, used, s->len));
                assert_req(&req, s);
            }
            free(part);
        }
        resp_reader_destroy(&rd);
    }
}

Test(resp_reader, parses_a_pipeline_of_every_sample_in_one_buffer)
{
    size_t n;
    char *stream = all_samples(&n);

    check_stream(stream, n, n, n);
    free(stream);
}

Test(resp_reader, parses_a_pipeline_split_at_every_byte)
{
    size_t n;
    char *stream = all_samples(&n);

    for (size_t k = 0; k <= n; k++) {
        check_stream(stream, n, k, n);
    }
    free(stream);
}

Test(resp_reader, parses_a_pipeline_arriving_a_byte_at_a_time)
{
    size_t n;
    char *stream = all_samples(&n);

    check_stream(stream, n, 1, 1);
    check_stream(stream, n, 3, 7);
    free(stream);
}

Test(resp_reader, returns_argv_of_a_request_with_many_arguments)
{
    struct resp_reader *rd = resp_reader_create(NULL);
    char wire[4096];
    size_t n = (size_t)sprintf(wire, "*100\r\n");
    struct resp_req req;
    size_t used;

    for (int i = 0; i < 100; i++) {
        n += (size_t)sprintf(wire + n, "$%d\r\n%0*d\r\n", i < 10 ? 1 : 2,
                             i < 10 ? 1 : 2, i);
    }
    cr_assert(eq(int, resp_reader_next(rd, wire, n, &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(sz, used, n));
    cr_assert(eq(int, req.argc, 100));
    for (int i = 0; i < 100; i++) {
        char want[12];
        int len = snprintf(want, sizeof(want), "%d", i);

        cr_assert(eq(mem, MEM(req.argv[i].p, req.argv[i].len),
                     MEM(want, (size_t)len)), "argv[%d]", i);
    }
    resp_reader_destroy(&rd);
}

Test(resp_reader, hints_the_size_of_a_request_once_a_bulk_header_is_read)
{
    static const char wire[] = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used, hint = 99;

    cr_assert(eq(int, resp_reader_next(rd, wire, 15, &req, &used, &hint),
                 RESP_AGAIN));
    cr_assert(eq(sz, hint, 0));
    cr_assert(eq(int, resp_reader_next(rd, wire, 19, &req, &used, &hint),
                 RESP_AGAIN));
    cr_assert(eq(sz, hint, sizeof(wire) - 1));
    resp_reader_destroy(&rd);

    rd = resp_reader_create(NULL);
    cr_assert(eq(int, resp_reader_next(rd, wire, 10, &req, &used, &hint),
                 RESP_AGAIN));
    cr_assert(eq(sz, hint, 13), "GET and its CRLF end at offset 13");
    resp_reader_destroy(&rd);
}

Test(resp_reader, hints_a_huge_bulk_so_the_caller_can_size_once)
{
    static const char wire[] = "*1\r\n$536870912\r\n";
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used, hint = 0;

    cr_assert(eq(int, resp_reader_next(rd, wire, sizeof(wire) - 1, &req,
                                       &used, &hint),
                 RESP_AGAIN));
    cr_assert(eq(sz, hint, sizeof(wire) - 1 + 536870912 + 2));
    resp_reader_destroy(&rd);
}

Test(resp_reader, rejects_malformed_multibulk_counts_as_redis_does)
{
    static const struct {
        const char *wire;
        size_t len;
    } bad[] = {
        { WIRE("*x\r\n") },      { WIRE("*\r\n") },
        { WIRE("* 1\r\n") },     { WIRE("*1 \r\n") },
        { WIRE("*+1\r\n") },     { WIRE("*01\r\n") },
        { WIRE("*-0\r\n") },     { WIRE("*1x\r\n") },
        { WIRE("*99999999999999999999\r\n") },
        { WIRE("*9223372036854775808\r\n") },
        { WIRE("*1048577\r\n") },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_reader *rd = resp_reader_create(NULL);

        assert_fails(rd, bad[i].wire, bad[i].len, RESP_EPROTO,
                     "Protocol error: invalid multibulk length");
        resp_reader_destroy(&rd);
    }
}

Test(resp_reader, accepts_the_largest_and_smallest_counts_redis_accepts)
{
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used;

    assert_again(rd, WIRE("*1048576\r\n"));
    resp_reader_reset(rd);
    cr_assert(eq(int, resp_reader_next(rd, WIRE("*-9223372036854775808\r\n"),
                                       &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 0));
    cr_assert(eq(sz, used, 23));
    resp_reader_destroy(&rd);
}

Test(resp_reader, names_the_byte_found_where_a_dollar_was_expected)
{
    static const struct {
        const char *wire;
        size_t len;
        const char *msg;
    } bad[] = {
        { WIRE("*1\r\nX\r\n"), "Protocol error: expected '$', got 'X'" },
        { WIRE("*1\r\n\r\n"), "Protocol error: expected '$', got '\r'" },
        { WIRE("*2\r\n$1\r\na\r\n:1\r\n"),
          "Protocol error: expected '$', got ':'" },
        { WIRE("*1\r\n*1\r\n"), "Protocol error: expected '$', got '*'" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_reader *rd = resp_reader_create(NULL);

        assert_fails(rd, bad[i].wire, bad[i].len, RESP_EPROTO, bad[i].msg);
        resp_reader_destroy(&rd);
    }
}

Test(resp_reader, rejects_malformed_bulk_lengths_as_redis_does)
{
    static const struct {
        const char *wire;
        size_t len;
    } bad[] = {
        { WIRE("*1\r\n$x\r\n") },   { WIRE("*1\r\n$\r\n") },
        { WIRE("*1\r\n$-1\r\n") },  { WIRE("*1\r\n$01\r\n") },
        { WIRE("*1\r\n$+1\r\n") },  { WIRE("*1\r\n$ 1\r\n") },
        { WIRE("*1\r\n$1 \r\n") },  { WIRE("*1\r\n$-0\r\n") },
        { WIRE("*1\r\n$536870913\r\n") },
        { WIRE("*1\r\n$99999999999999999999\r\n") },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_reader *rd = resp_reader_create(NULL);

        assert_fails(rd, bad[i].wire, bad[i].len, RESP_EPROTO,
                     "Protocol error: invalid bulk length");
        resp_reader_destroy(&rd);
    }
}

Test(resp_reader, rejects_unbalanced_quotes_in_inline_requests)
{
    static const struct {
        const char *wire;
        size_t len;
    } bad[] = {
        { WIRE("SET \"a\r\n") },     { WIRE("SET \"a\"b\r\n") },
        { WIRE("SET 'a\r\n") },      { WIRE("SET 'a'b\n") },
        { WIRE("SET \"a\\\"\r\n") }, { WIRE("SET a\"b c\"d\n") },
        { WIRE("\"\n") },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_reader *rd = resp_reader_create(NULL);

        assert_fails(rd, bad[i].wire, bad[i].len, RESP_EPROTO,
                     "Protocol error: unbalanced quotes in request");
        cr_assert(eq(int, resp_reader_was_inline(rd), 1));
        resp_reader_destroy(&rd);
    }
}

Test(resp_reader, keeps_failing_until_reset_then_parses_again)
{
    static const char good[] = "*1\r\n$4\r\nPING\r\n";
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used;

    assert_fails(rd, WIRE("*1\r\n$x\r\n"), RESP_EPROTO,
                 "Protocol error: invalid bulk length");
    assert_fails(rd, good, sizeof(good) - 1, RESP_EPROTO,
                 "Protocol error: invalid bulk length");
    resp_reader_reset(rd);
    cr_assert(eq(int, resp_reader_next(rd, good, sizeof(good) - 1, &req,
                                       &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 1));
    cr_assert(eq(str, (char *)resp_reader_error(rd), ""));
    resp_reader_destroy(&rd);
}

Test(resp_reader, reports_whether_the_last_request_was_inline)
{
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used;

    cr_assert(eq(int, resp_reader_next(rd, WIRE("PING\r\n"), &req, &used,
                                       NULL),
                 RESP_OK));
    cr_assert(eq(int, resp_reader_was_inline(rd), 1));
    cr_assert(eq(int, resp_reader_next(rd, WIRE("*1\r\n$4\r\nPING\r\n"),
                                       &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, resp_reader_was_inline(rd), 0));
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_an_inline_request_of_max_inline_bytes_then_refuses_one_more)
{
    struct resp_reader *rd = reader_with(8, 4, 16);

    assert_again(rd, WIRE("GET aaaaaaaaaaaa"));
    assert_fails(rd, WIRE("GET aaaaaaaaaaaaa"), RESP_ETOOBIG,
                 "Protocol error: too big inline request");
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_a_long_inline_line_once_its_newline_is_buffered)
{
    struct resp_reader *rd = reader_with(8, 4, 16);
    struct resp_req req;
    size_t used;

    cr_assert(eq(int, resp_reader_next(rd, WIRE("GET aaaaaaaaaaaaaaaaaaaa\n"),
                                       &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 2));
    cr_assert(eq(sz, req.argv[1].len, 20));
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_a_count_line_of_max_inline_bytes_then_refuses_one_more)
{
    struct resp_reader *rd = reader_with(8, 4, 16);

    assert_again(rd, WIRE("*111111111111111"));
    assert_fails(rd, WIRE("*1111111111111111"), RESP_ETOOBIG,
                 "Protocol error: too big mbulk count string");
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_a_bulk_header_of_max_inline_bytes_then_refuses_one_more)
{
    struct resp_reader *rd = reader_with(8, 4, 16);

    assert_again(rd, WIRE("*1\r\n$111111111111111"));
    assert_fails(rd, WIRE("*1\r\n$1111111111111111"), RESP_ETOOBIG,
                 "Protocol error: too big bulk count string");
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_max_multibulk_elements_then_refuses_one_more)
{
    static const char ok[] =
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n";
    struct resp_reader *rd = reader_with(8, 4, 16);
    struct resp_req req;
    size_t used;

    cr_assert(eq(int, resp_reader_next(rd, ok, sizeof(ok) - 1, &req, &used,
                                       NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 4));
    assert_fails(rd, WIRE("*5\r\n"), RESP_EPROTO,
                 "Protocol error: invalid multibulk length");
    resp_reader_destroy(&rd);
}

Test(resp_reader, accepts_a_bulk_of_max_bulk_len_then_refuses_one_more)
{
    static const char ok[] = "*1\r\n$8\r\n12345678\r\n";
    struct resp_reader *rd = reader_with(8, 4, 16);
    struct resp_req req;
    size_t used;

    cr_assert(eq(int, resp_reader_next(rd, ok, sizeof(ok) - 1, &req, &used,
                                       NULL),
                 RESP_OK));
    cr_assert(eq(mem, MEM(req.argv[0].p, req.argv[0].len),
                 MEM("12345678", 8)));
    assert_fails(rd, WIRE("*1\r\n$9\r\n"), RESP_EPROTO,
                 "Protocol error: invalid bulk length");
    resp_reader_destroy(&rd);
}

Test(resp_reader, waits_past_a_nul_in_a_header_line_as_redis_strchr_does)
{
    struct resp_reader *rd = reader_with(8, 4, 16);

    /* Redis's strchr stops at the NUL, never sees the CR, and waits until
     * the header looks too big. */
    assert_again(rd, WIRE("*1\r\n$1\0\r\na\r\n"));
    assert_again(rd, WIRE("*1\r\n$1\0\r\na\r\n\r\n\r\n\r\n\r\n"));
    assert_fails(rd, WIRE("*1\r\n$1\0\r\na\r\n\r\n\r\n\r\n\r\nx"), RESP_ETOOBIG,
                 "Protocol error: too big bulk count string");
    resp_reader_destroy(&rd);
}

Test(resp_reader, waits_past_a_nul_in_an_inline_line_as_redis_strchr_does)
{
    struct resp_reader *rd = reader_with(8, 4, 16);

    assert_again(rd, WIRE("GET a\0b\r\n"));
    assert_again(rd, WIRE("GET a\0b\r\nPING\r\n\r"));
    assert_fails(rd, WIRE("GET a\0b\r\nPING\r\n\r\n"), RESP_ETOOBIG,
                 "Protocol error: too big inline request");
    resp_reader_destroy(&rd);
}

Test(resp_reader, does_not_allocate_for_a_huge_declared_count_up_front)
{
    static const char wire[] = "*1048576\r\n$1\r\na\r\n$1\r\nb\r\n";
    struct resp_reader *rd;
    size_t before;

    skip_unless_heap_is_measurable();
    rd = resp_reader_create(NULL);
    before = heap_in_use();
    assert_again(rd, wire, sizeof(wire) - 1);
    /* 1048576 slots would be tens of megabytes. */
    cr_assert(lt(sz, heap_in_use() - before, 64 * 1024));
    resp_reader_destroy(&rd);
}

Test(resp_reader, releases_a_huge_argv_array_before_the_next_request)
{
    enum { N = 100000 };
    size_t cap = 16 + (size_t)N * 7, n;
    char *wire = malloc(cap);
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t used, big;

    skip_unless_heap_is_measurable();
    n = (size_t)sprintf(wire, "*%d\r\n", N);
    for (int i = 0; i < N; i++) {
        memcpy(wire + n, "$1\r\na\r\n", 7);
        n += 7;
    }
    cr_assert(eq(int, resp_reader_next(rd, wire, n, &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, N));
    big = heap_in_use();
    cr_assert(eq(int, resp_reader_next(rd, WIRE("*1\r\n$1\r\na\r\n"), &req,
                                       &used, NULL),
                 RESP_OK));
    cr_assert(gt(sz, big - heap_in_use(), (size_t)N * 16));
    free(wire);
    resp_reader_destroy(&rd);
}

Test(resp_reader, scans_a_long_inline_line_fed_a_byte_at_a_time_once,
     .timeout = 20)
{
    enum { N = 4 * 1024 * 1024 };
    struct resp_reader *rd = reader_with(8, 4, 2 * N);
    char *wire = malloc(N);
    struct resp_req req;
    size_t used;

    memset(wire, 'a', N);
    wire[N - 1] = '\n';
    for (size_t k = 1; k < N; k++) {
        cr_assert(eq(int, resp_reader_next(rd, wire, k, &req, &used, NULL),
                     RESP_AGAIN));
    }
    cr_assert(eq(int, resp_reader_next(rd, wire, N, &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 1));
    cr_assert(eq(sz, req.argv[0].len, (size_t)N - 1));
    free(wire);
    resp_reader_destroy(&rd);
}

Test(resp_reader, scans_many_arguments_fed_a_byte_at_a_time_once,
     .timeout = 20)
{
    enum { N = 200000 };
    char *wire = malloc(16 + (size_t)N * 7);
    struct resp_reader *rd = resp_reader_create(NULL);
    struct resp_req req;
    size_t n, used;

    n = (size_t)sprintf(wire, "*%d\r\n", N);
    for (int i = 0; i < N; i++) {
        memcpy(wire + n, "$1\r\nz\r\n", 7);
        n += 7;
    }
    for (size_t k = 1; k < n; k++) {
        cr_assert(eq(int, resp_reader_next(rd, wire, k, &req, &used, NULL),
                     RESP_AGAIN));
    }
    cr_assert(eq(int, resp_reader_next(rd, wire, n, &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, N));
    cr_assert(eq(mem, MEM(req.argv[N - 1].p, req.argv[N - 1].len),
                 MEM("z", 1)));
    free(wire);
    resp_reader_destroy(&rd);
}

Test(resp_reader, names_each_status)
{
    cr_assert(eq(str, (char *)resp_strerror(RESP_OK), "ok"));
    cr_assert(eq(str, (char *)resp_strerror(RESP_AGAIN), "incomplete request"));
    cr_assert(eq(str, (char *)resp_strerror(RESP_EPROTO), "protocol error"));
    cr_assert(eq(str, (char *)resp_strerror(RESP_ETOOBIG),
                 "request exceeds a limit"));
}

/* ---- resp_split_args: sdssplitargs ---------------------------------------*/

struct split_case {
    const char *line;
    size_t len;
    int argc;
    struct arg argv[6];
};

static const struct split_case splits[] = {
    { WIRE(""), 0, { { NULL, 0 } } },
    { WIRE(" \t\v\f\r\n "), 0, { { NULL, 0 } } },
    { WIRE("a b  c"), 3, { A("a"), A("b"), A("c") } },
    { WIRE("\"\\n\\r\\t\\b\\a\\\\\\\"\\z\""), 1, { A("\n\r\t\b\a\\\"z") } },
    { WIRE("\"\\x41\\xfF\\x00\""), 1, { A("A\xff\0") } },
    { WIRE("\"\\x4g\""), 1, { A("x4g") } },
    { WIRE("'a\\'b\\n'"), 1, { A("a'b\\n") } },
    { WIRE("\"\" ''"), 2, { A(""), A("") } },
    { WIRE("a\"b c\" d"), 2, { A("ab c"), A("d") } },
    { WIRE("a\vb"), 1, { A("a\vb") } },
    { WIRE("\"a\"\vb"), 2, { A("a"), A("b") } },
    { WIRE("x\0\"unterminated"), 1, { A("x") } },
};

Test(resp_reader, splits_inline_arguments_as_sdssplitargs_does)
{
    for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
        const struct split_case *c = &splits[i];
        struct resp_arg args[6];
        char out[64];
        int argc = resp_split_args(c->line, c->len, out, args, 6);

        cr_assert(eq(int, argc, c->argc), "case %zu", i);
        for (int j = 0; j < argc; j++) {
            cr_assert(eq(mem, MEM(args[j].p, args[j].len),
                         MEM(c->argv[j].p, c->argv[j].len)),
                      "case %zu arg %d", i, j);
        }
    }
}

Test(resp_reader, reports_unbalanced_quotes_from_split_args)
{
    static const struct {
        const char *line;
        size_t len;
    } bad[] = {
        { WIRE("\"a") },  { WIRE("'a") },      { WIRE("\"a\"b") },
        { WIRE("'a'b") }, { WIRE("\"a\\\"") }, { WIRE("\"\\") },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp_arg args[4];
        char out[16];

        cr_assert(eq(int, resp_split_args(bad[i].line, bad[i].len, out, args,
                                          4),
                     -1), "case %zu", i);
    }
}

Test(resp_reader, reports_too_many_arguments_from_split_args_unless_unbalanced)
{
    struct resp_arg args[2];
    char out[16];

    cr_assert(eq(int, resp_split_args(WIRE("a b"), out, args, 2), 2));
    cr_assert(eq(int, resp_split_args(WIRE("a b c"), out, args, 2), -2));
    cr_assert(eq(int, resp_split_args(WIRE("a b c \"d"), out, args, 2), -1));
}

Test(resp_reader, splits_an_inline_request_with_more_arguments_than_its_first_array)
{
    struct resp_reader *rd = resp_reader_create(NULL);
    char wire[256];
    size_t n = 0, used;
    struct resp_req req;

    for (int i = 0; i < 40; i++) {
        n += (size_t)sprintf(wire + n, "%c ", 'a' + i % 26);
    }
    wire[n++] = '\n';
    cr_assert(eq(int, resp_reader_next(rd, wire, n, &req, &used, NULL),
                 RESP_OK));
    cr_assert(eq(int, req.argc, 40));
    cr_assert(eq(mem, MEM(req.argv[39].p, req.argv[39].len), MEM("n", 1)));
    resp_reader_destroy(&rd);
}

Test(resp_reader, holds_unauthenticated_clients_to_small_requests)
{
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    struct resp_reader *rd;
    struct resp_req req;
    size_t used, hint;
    static const char ok10[] = "*10\r\n";
    static const char big[] = "*2\r\n$3\r\nGET\r\n$16385\r\n";
    static const char fits[] = "*2\r\n$3\r\nGET\r\n$16384\r\n";

    lim.unauthenticated = 1;
    rd = resp_reader_create(&lim);
    assert_again(rd, ok10, sizeof ok10 - 1);
    resp_reader_reset(rd);
    assert_fails(rd, "*11\r\n", 5, RESP_EPROTO,
                 "Protocol error: unauthenticated multibulk length");
    resp_reader_reset(rd);
    assert_fails(rd, big, sizeof big - 1, RESP_EPROTO,
                 "Protocol error: unauthenticated bulk length");
    resp_reader_reset(rd);
    assert_again(rd, fits, sizeof fits - 1);
    /* Once authenticated, the normal limits apply again. */
    resp_reader_reset(rd);
    lim.unauthenticated = 0;
    resp_reader_set_limits(rd, &lim);
    cr_assert(eq(int, resp_reader_next(rd, big, sizeof big - 1, &req, &used, &hint), RESP_AGAIN));
    resp_reader_destroy(&rd);
}
