/*
 * tests/unit/test_resp_reply.c — reply boundary scanning: every reply shape
 * of RESP2 and RESP3, split at every byte, malformed and hostile input.
 */
#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <string.h>

#include "resp/reply.h"

static const char *const replies[] = {
    "+OK\r\n", "-ERR no such key\r\n", ":42\r\n", ":-7\r\n", "$-1\r\n", "*-1\r\n",
    "$0\r\n\r\n", "$5\r\nhe\r\no\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n$-1\r\n",
    "*2\r\n*1\r\n:1\r\n+x\r\n", "_\r\n", ",3.14\r\n", "#t\r\n", "(12345678901234567890\r\n",
    "%1\r\n+k\r\n:1\r\n", "~2\r\n:1\r\n:2\r\n", "=7\r\ntxt:abc\r\n", "!3\r\nerr\r\n",
    ">2\r\n+a\r\n+b\r\n", "|1\r\n+key\r\n+val\r\n:5\r\n",
};

Test(resp_reply, finds_the_end_of_every_reply_split_at_every_byte)
{
    for (size_t r = 0; r < sizeof replies / sizeof replies[0]; r++) {
        size_t len = strlen(replies[r]), used;

        for (size_t cut = 0; cut < len; cut++) {
            cr_assert(eq(int, resp_reply_scan(replies[r], cut, &used), RESP_AGAIN),
                      "%s cut at %zu", replies[r], cut);
        }
        cr_assert(eq(int, resp_reply_scan(replies[r], len, &used), RESP_OK), "%s", replies[r]);
        cr_assert(eq(sz, used, len), "%s", replies[r]);
    }
}

Test(resp_reply, stops_at_the_end_of_the_first_of_two_pipelined_replies)
{
    static const char two[] = "*1\r\n$3\r\nabc\r\n:1\r\n";
    size_t used;

    cr_assert(eq(int, resp_reply_scan(two, sizeof two - 1, &used), RESP_OK));
    cr_assert(eq(sz, used, sizeof two - 1 - 4));
}

Test(resp_reply, lists_the_elements_of_an_array)
{
    static const char arr[] = "*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:2\r\n";
    struct resp_arg el[3];

    cr_assert(eq(long, resp_reply_elements(arr, sizeof arr - 1, el, 3), 3));
    cr_assert(eq(sz, el[0].len, 7));
    cr_assert(eq(int, memcmp(el[1].p, "$-1\r\n", 5), 0));
    cr_assert(eq(int, memcmp(el[2].p, "*1\r\n:2\r\n", 8), 0));
    cr_assert(eq(long, resp_reply_elements(":1\r\n", 4, el, 3), -1));
    cr_assert(eq(long, resp_reply_elements("*-1\r\n", 5, el, 3), -1));
}

Test(resp_reply, rejects_malformed_replies)
{
    static const char *const bad[] = {
        "?x\r\n", "$-2\r\n", "$abc\r\n", "*-5\r\n", "+OK\rX", ":1\r\r\n", "$3\rxabc\r\n",
    };
    size_t used;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert(eq(int, resp_reply_scan(bad[i], strlen(bad[i]), &used), RESP_EPROTO), "%s", bad[i]);
    }
}

Test(resp_reply, refuses_nesting_deeper_than_the_limit)
{
    char buf[4 * (RESP_REPLY_MAX_DEPTH + 2) + 8];
    size_t n = 0, used;

    for (int i = 0; i < RESP_REPLY_MAX_DEPTH + 2; i++) {
        memcpy(buf + n, "*1\r\n", 4);
        n += 4;
    }
    memcpy(buf + n, ":1\r\n", 4);
    n += 4;
    cr_assert(eq(int, resp_reply_scan(buf, n, &used), RESP_EPROTO));
}

Test(resp_reply, refuses_a_header_line_that_never_ends)
{
    char buf[100];
    size_t used;

    memset(buf, '9', sizeof buf);
    buf[0] = '$';
    cr_assert(eq(int, resp_reply_scan(buf, sizeof buf, &used), RESP_EPROTO));
}
