/*
 * server/glob.c — glob matching with the semantics of Redis's stringmatchlen.
 * Recursion only happens at '*', and consecutive stars collapse, so depth is
 * bounded by the number of star groups in the pattern; `budget` bounds the
 * total work so a hostile pattern like "a*a*a*a*...b" cannot stall a loop.
 */
#include "server/glob.h"

#include <ctype.h>

static int
fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Returns 1 match, 0 no match, -1 gave up (budget spent: treated as no match). */
static int
match(const unsigned char *p, size_t plen, const unsigned char *s, size_t slen,
      bool nocase, long *budget, int depth)
{
    if (depth > 1000) {
        return -1;
    }
    while (plen > 0) {
        if (--*budget < 0) {
            return -1;
        }
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1) {
                return 1;
            }
            for (;;) {
                int r = match(p + 1, plen - 1, s, slen, nocase, budget, depth + 1);
                if (r != 0) {
                    return r;
                }
                if (slen == 0) {
                    return 0;
                }
                s++;
                slen--;
            }
        case '?':
            if (slen == 0) {
                return 0;
            }
            s++;
            slen--;
            break;
        case '[': {
            bool neg, hit = false;

            p++;
            plen--;
            neg = plen > 0 && p[0] == '^';
            if (neg) {
                p++;
                plen--;
            }
            for (;;) {
                if (plen == 0) {
                    /* Unterminated class: Redis steps back onto the last
                     * character so the loop below consumes it. */
                    p--;
                    plen++;
                    break;
                }
                if (p[0] == ']') {
                    break;
                }
                if (p[0] == '\\' && plen >= 2) {
                    p++;
                    plen--;
                    if (slen > 0 && p[0] == s[0]) {
                        hit = true;
                    }
                } else if (plen >= 3 && p[1] == '-') {
                    int lo = fold(p[0], nocase), hi = fold(p[2], nocase);
                    int c = slen > 0 ? fold(s[0], nocase) : -1;

                    if (lo > hi) {
                        int t = lo;
                        lo = hi;
                        hi = t;
                    }
                    p += 2;
                    plen -= 2;
                    if (c >= lo && c <= hi) {
                        hit = true;
                    }
                } else if (slen > 0 && fold(p[0], nocase) == fold(s[0], nocase)) {
                    hit = true;
                }
                p++;
                plen--;
            }
            if (neg) {
                hit = !hit;
            }
            if (!hit || slen == 0) {
                return 0;
            }
            s++;
            slen--;
            break;
        }
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            /* fall through */
        default:
            if (slen == 0 || fold(p[0], nocase) != fold(s[0], nocase)) {
                return 0;
            }
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen > 0 && *p == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

bool
glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    long budget = 1000000;

    return match((const unsigned char *)pat, plen, (const unsigned char *)s,
                 slen, nocase, &budget, 0) == 1;
}
