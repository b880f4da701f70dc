/*
 * resp/mcreader.c — memcached's text protocol; see mcreader.h.
 *
 * The shapes follow memcached 1.6's reading of a line (proto_text.c): the
 * command picks the token counts it accepts ("ERROR" otherwise), a
 * malformed number is a CLIENT_ERROR naming the argument, and a storage
 * command's data block is taken whole (its CRLF checked) or, when the item
 * could never fit, skipped as it arrives.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "resp/mcreader.h"

/* memcached tokenizes at most 23 tokens of a line at once; a command
 * with more has a 24th, "the rest", and fails its count check. */
#define MAX_TOKENS 24

struct mc_reader {
    struct mc_limits lim;
    uint64_t swallow;         /* data bytes of a refused item still to skip */
    struct resp_arg *keys;    /* a get line's keys */
    size_t keys_cap;
    char key[MC_KEY_MAX];     /* a meta command's key, base64-decoded */
};

static const char E_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char E_EXPTIME[] = "CLIENT_ERROR invalid exptime argument";

struct mc_reader *
mc_reader_create(const struct mc_limits *lim)
{
    struct mc_reader *rd = calloc(1, sizeof *rd);

    if (rd == NULL) {
        return NULL;
    }
    if (lim != NULL) {
        rd->lim = *lim;
    } else {
        rd->lim.item_size_max = MC_ITEM_SIZE_MAX_DEFAULT;
        rd->lim.max_get_line = 1024 * 1024;
    }
    return rd;
}

void
mc_reader_destroy(struct mc_reader **rdp)
{
    if (rdp == NULL || *rdp == NULL) {
        return;
    }
    free((*rdp)->keys);
    free(*rdp);
    *rdp = NULL;
}

void
mc_reader_set_limits(struct mc_reader *rd, const struct mc_limits *lim)
{
    rd->lim = *lim;
}

/* ---- numbers ---------------------------------------------------------------*/

/* The token as a C string for strto*: tokens are short (a number of more
 * than 63 bytes is not one memcached takes either: ERANGE or junk). */
static bool
token_cstr(const struct resp_arg *t, char buf[64])
{
    if (t->len == 0 || t->len >= 64) {
        return false;
    }
    memcpy(buf, t->p, t->len);
    buf[t->len] = '\0';
    return true;
}

/* The common case without strto*'s copy and locale: at most 18 plain
 * digits, which cannot overflow; anything else takes the strto* path. */
static bool
plain_digits(const struct resp_arg *t, uint64_t *out)
{
    uint64_t v = 0;

    if (t->len == 0 || t->len > 18) {
        return false;
    }
    for (size_t i = 0; i < t->len; i++) {
        unsigned d = (unsigned char)t->p[i] - '0';

        if (d > 9) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
mc_parse_u64(const struct resp_arg *t, uint64_t *out)
{
    char buf[64], *end;
    unsigned long long v;

    if (plain_digits(t, out)) {
        return true;
    }
    if (!token_cstr(t, buf)) {
        return false;
    }
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf || *end != '\0') {
        return false;
    }
    /* strtoull wraps "-5" to 2^64 - 5: memcached refuses a negative only
     * when it reads as one */
    if ((long long)v < 0 && memchr(buf, '-', t->len) != NULL) {
        return false;
    }
    *out = v;
    return true;
}

bool
mc_parse_u32(const struct resp_arg *t, uint32_t *out)
{
    uint64_t v;

    if (!mc_parse_u64(t, &v)) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool
mc_parse_i32(const struct resp_arg *t, int32_t *out)
{
    char buf[64], *end;
    uint64_t u;
    long v;

    if (plain_digits(t, &u)) {
        *out = (int32_t)u; /* strtol's long, then the same truncation */
        return true;
    }
    if (!token_cstr(t, buf)) {
        return false;
    }
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno == ERANGE || end == buf || *end != '\0') {
        return false;
    }
    *out = (int32_t)v;
    return true;
}

/* ---- base64 -----------------------------------------------------------------*/

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
    const char *at = c != '\0' ? strchr(B64, c) : NULL;

    return at != NULL ? (int)(at - B64) : c == '=' ? 0 : -1;
}

size_t
mc_base64_decode(const char *in, size_t n, char *out)
{
    size_t count = 0, olen = 0;
    unsigned block[4];
    int pad = 0;

    for (size_t i = 0; i < n; i++) {
        count += b64_value((unsigned char)in[i]) >= 0;
    }
    if (count == 0 || count % 4 != 0) {
        return 0;
    }
    count = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);

        if (v < 0) {
            continue;
        }
        pad += in[i] == '=';
        block[count++] = (unsigned)v;
        if (count < 4) {
            continue;
        }
        out[olen++] = (char)((block[0] << 2) | (block[1] >> 4));
        out[olen++] = (char)((block[1] << 4) | (block[2] >> 2));
        out[olen++] = (char)((block[2] << 6) | block[3]);
        count = 0;
        if (pad > 2) {
            return 0;
        }
        if (pad > 0) {
            olen -= (size_t)pad; /* the padded block ends the input */
            break;
        }
    }
    return olen;
}

size_t
mc_base64_encode(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;

        v |= i + 1 < n ? (unsigned)(unsigned char)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned)(unsigned char)in[i + 2] : 0;
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    return o;
}

/* ---- meta flags ---------------------------------------------------------------*/

static const char E_BAD_TOKEN[] = "CLIENT_ERROR bad token in command line format";

bool
mc_next_token(const char *p, size_t len, size_t *at, struct resp_arg *t)
{
    size_t i = *at, s;

    while (i < len && p[i] == ' ') {
        i++;
    }
    if (i == len) {
        return false;
    }
    s = i;
    while (i < len && p[i] != ' ') {
        i++;
    }
    *t = (struct resp_arg){ p + s, i - s };
    *at = i;
    return true;
}

const char *
mc_meta_parse(enum mc_cmd cmd, const char *p, size_t len, bool key_ok, struct mc_meta *m)
{
    const char *err = "CLIENT_ERROR bad command line format";
    bool failed = false, long_opaque = false;
    struct resp_arg t;
    size_t at = 0;

    memset(m, 0, sizeof *m);
    m->flags = (struct resp_arg){ p, len };
    m->delta = 1;
    /* as _meta_flag_preparse: a repeated or unknown flag stops the
     * reading; a bad value is noted (the last one named) and reading goes
     * on, so a later repeat still wins */
    while (mc_next_token(p, len, &at, &t)) {
        unsigned char o = (unsigned char)t.p[0];
        struct resp_arg v = { t.p + 1, t.len - 1 };
        bool known = (o >= 'A' && o <= 'Z') || (o >= 'a' && o <= 'z');

        if (o >= 127 || (known && mc_meta_has(m, (char)o))) {
            err = "CLIENT_ERROR duplicate flag";
            goto fail;
        }
        if (!known || strchr("bNTRlOPLkstcfvhuqFCMJDI", o) == NULL) {
            err = "CLIENT_ERROR invalid flag";
            goto fail;
        }
        m->has |= MC_META_BIT(o);
        switch (o) {
        case 'b':
            if (!key_ok) {
                err = "CLIENT_ERROR error decoding key";
                failed = true;
            }
            break;
        case 'N':
        case 'T':
        case 'R':
            if (!mc_parse_i32(&v, o == 'N' ? &m->vivify_ttl : o == 'T' ? &m->ttl : &m->recache)) {
                err = E_BAD_TOKEN;
                failed = true;
            }
            break;
        case 'F':
            failed |= !mc_parse_u32(&v, &m->client_flags); /* memcached names no error */
            break;
        case 'C':
            if (!mc_parse_u64(&v, &m->cas)) {
                err = E_BAD_TOKEN;
                failed = true;
            }
            break;
        case 'M':
            if (t.len != 2) {
                err = "CLIENT_ERROR incorrect length for M token";
                failed = true;
            } else {
                m->mode = t.p[1];
            }
            break;
        case 'J':
            if (!mc_parse_u64(&v, &m->initial)) {
                err = "CLIENT_ERROR invalid numeric initial value";
                failed = true;
            }
            break;
        case 'D':
            if (!mc_parse_u64(&v, &m->delta)) {
                err = "CLIENT_ERROR invalid numeric delta value";
                failed = true;
            }
            break;
        case 'O':
            long_opaque |= t.len > MC_OPAQUE_MAX;
            break;
        default:
            break;
        }
    }
    if (failed) {
        goto fail;
    }
    /* then each command's own checks, in memcached's order: a bad mode
     * before a long opaque */
    if (cmd == MC_MS && m->mode != 0 && strchr("EAPRS", m->mode) == NULL) {
        return "CLIENT_ERROR invalid mode for ms M token";
    }
    if (cmd == MC_MA && m->mode != 0 && strchr("I+D-", m->mode) == NULL) {
        return "CLIENT_ERROR invalid mode for ma M token";
    }
    if (long_opaque) {
        return "CLIENT_ERROR opaque token too long";
    }
    return NULL;
fail:
    return cmd == MC_MD || cmd == MC_MA ? "CLIENT_ERROR invalid or duplicate flag" : err;
}

/* ---- lines ------------------------------------------------------------------*/

static bool
tok_is(const struct resp_arg *t, const char *s)
{
    size_t n = strlen(s);

    return t->len == n && memcmp(t->p, s, n) == 0;
}

/* Split on spaces. Returns memcached's ntokens: the tokens plus the
 * terminal one, at most MAX_TOKENS (the line had more). */
static size_t
tokenize(const char *p, size_t len, struct resp_arg *tok)
{
    size_t n = 0, i = 0;

    while (i < len) {
        size_t s;

        while (i < len && p[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        if (n == MAX_TOKENS - 1) {
            return MAX_TOKENS;
        }
        s = i;
        while (i < len && p[i] != ' ') {
            i++;
        }
        tok[n++] = (struct resp_arg){ p + s, i - s };
    }
    return n + 1;
}

static void
set_error(struct mc_req *req, const char *line)
{
    req->cmd = MC_ERROR;
    req->error = line;
}

/* The last token is "noreply" (memcached looks nowhere else). */
static void
noreply_maybe(struct mc_req *req, const struct resp_arg *tok, size_t nt)
{
    if (nt >= 2 && tok_is(&tok[nt - 2], "noreply")) {
        req->noreply = true;
    }
}

/* get, gets, gat, gats: every key of the line, in order. */
static void
parse_get(struct mc_reader *rd, const char *p, size_t len, struct mc_req *req, bool touch)
{
    struct resp_arg tok[MAX_TOKENS];
    size_t i, first = 1;
    const char *at;

    tokenize(p, len, tok);
    if (touch) {
        if (!mc_parse_i32(&tok[1], &req->exptime)) {
            set_error(req, E_EXPTIME);
            return;
        }
        first = 2;
    }
    /* all keys, past the tokenizer's 23 */
    at = tok[first - 1].p + tok[first - 1].len;
    req->nkeys = 0;
    for (i = (size_t)(at - p); i < len;) {
        size_t s;

        while (i < len && p[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        s = i;
        while (i < len && p[i] != ' ') {
            i++;
        }
        if (i - s > MC_KEY_MAX) {
            set_error(req, E_FORMAT);
            return;
        }
        if (req->nkeys == rd->keys_cap) {
            size_t cap = rd->keys_cap ? rd->keys_cap * 2 : 16;
            struct resp_arg *k = realloc(rd->keys, cap * sizeof *k);

            if (k == NULL) {
                set_error(req, "SERVER_ERROR out of memory writing get response");
                return;
            }
            rd->keys = k;
            rd->keys_cap = cap;
        }
        rd->keys[req->nkeys++] = (struct resp_arg){ p + s, i - s };
    }
    req->keys = rd->keys;
}

/* set, add, replace, append, prepend, cas: the line's fields; then the
 * data block, whose size the caller checks against what is buffered. */
static bool
parse_update(const struct resp_arg *tok, size_t nt, struct mc_req *req, int32_t *vlen)
{
    noreply_maybe(req, tok, nt);
    if (tok[1].len > MC_KEY_MAX) {
        set_error(req, E_FORMAT);
        return false;
    }
    req->key = tok[1];
    if (!mc_parse_u32(&tok[2], &req->flags) || !mc_parse_i32(&tok[3], &req->exptime) ||
        !mc_parse_i32(&tok[4], vlen)) {
        set_error(req, E_FORMAT);
        return false;
    }
    if (req->cmd == MC_CAS && !mc_parse_u64(&tok[5], &req->cas)) {
        set_error(req, E_FORMAT);
        return false;
    }
    if (*vlen < 0 || *vlen > INT_MAX - 2) {
        set_error(req, E_FORMAT);
        return false;
    }
    return true;
}

/* mg, ms, md, ma, mn, me (memcached's checks, in its order). An ms whose
 * flags are refused still has its data skipped (*swallow). */
static void
parse_meta(struct mc_reader *rd, const char *p, size_t len, const struct resp_arg *tok,
           size_t nt, struct mc_req *req, int32_t *vlen, bool *swallow)
{
    static const char cmds[] = { 'n', 'g', 's', 'd', 'a', 'e' };
    static const enum mc_cmd ids[] = { MC_MN, MC_MG, MC_MS, MC_MD, MC_MA, MC_ME };
    const char *flags, *err;
    bool key_ok = true;
    size_t first = 2;

    req->cmd = MC_ERROR;
    req->error = "ERROR";
    for (size_t i = 0; i < sizeof cmds; i++) {
        if (tok[0].p[1] == cmds[i]) {
            req->cmd = ids[i];
        }
    }
    if (req->cmd == MC_ERROR || req->cmd == MC_MN) {
        return;
    }
    if (nt < 3) {
        set_error(req, req->cmd == MC_ME ? E_FORMAT : "ERROR");
        return;
    }
    if (tok[1].len > MC_KEY_MAX) {
        set_error(req, E_FORMAT);
        return;
    }
    req->key = tok[1];
    if (req->cmd == MC_ME) {
        /* only a b right after the key asks for base64 */
        if (nt >= 4 && tok[2].len == 1 && tok[2].p[0] == 'b') {
            req->meta.has = MC_META_BIT('b');
            req->key.len = mc_base64_decode(tok[1].p, tok[1].len, rd->key);
            req->key.p = rd->key;
            if (req->key.len == 0) {
                set_error(req, E_FORMAT);
            }
        }
        return;
    }
    if (req->cmd == MC_MS && nt == 3) {
        set_error(req, E_FORMAT);
        return;
    }
    if (nt > MC_META_MAX_TOKENS) {
        set_error(req, req->cmd == MC_MG ? "CLIENT_ERROR options flags are too long"
                                         : "CLIENT_ERROR options flags too long");
        return;
    }
    if (req->cmd == MC_MS) {
        if (!mc_parse_i32(&tok[2], vlen) || *vlen < 0 || *vlen > INT_MAX - 2) {
            *vlen = -1;
            set_error(req, E_FORMAT);
            return;
        }
        first = 3;
    }
    flags = first < nt - 1 ? tok[first].p : p + len;
    /* the key is decoded wherever b stands among the flags */
    for (size_t i = first; i < nt - 1; i++) {
        if (tok[i].p[0] == 'b') {
            req->key.len = mc_base64_decode(tok[1].p, tok[1].len, rd->key);
            req->key.p = rd->key;
            key_ok = req->key.len != 0;
            break;
        }
    }
    err = mc_meta_parse(req->cmd, flags, (size_t)(p + len - flags), key_ok, &req->meta);
    if (err != NULL) {
        set_error(req, err);
        *swallow = *vlen >= 0; /* ms: its data goes with it */
    }
}

/* One command line (CR and LF removed) into req; storage commands return
 * their data length in *vlen (-1: none), and *swallow when their request
 * was refused but its data is still to be skipped. */
static void
parse_line(struct mc_reader *rd, const char *p, size_t len, struct mc_req *req, int32_t *vlen,
           bool *close, bool *swallow)
{
    struct resp_arg tok[MAX_TOKENS];
    size_t nt;
    const struct resp_arg *cmd;

    *vlen = -1;
    /* memcached reads the line as a C string: a NUL ends it */
    {
        const char *nul = memchr(p, '\0', len);
        if (nul != NULL) {
            len = (size_t)(nul - p);
        }
    }
    nt = tokenize(p, len, tok);
    cmd = &tok[0];
    if (nt < 2 || cmd->len < 2) {
        set_error(req, "ERROR");
        return;
    }
#define WANT(ok) do { if (!(ok)) { set_error(req, "ERROR"); return; } } while (0)
    if (cmd->p[0] == 'm' && cmd->len == 2) {
        parse_meta(rd, p, len, tok, nt, req, vlen, swallow);
    } else if (cmd->p[0] == 'g') {
        WANT(nt >= 3);
        if (tok_is(cmd, "get") || tok_is(cmd, "bget")) {
            req->cmd = MC_GET;
        } else if (tok_is(cmd, "gets")) {
            req->cmd = MC_GETS;
        } else if (tok_is(cmd, "gat")) {
            req->cmd = MC_GAT;
        } else if (tok_is(cmd, "gats")) {
            req->cmd = MC_GATS;
        } else {
            WANT(false);
        }
        parse_get(rd, p, len, req, req->cmd == MC_GAT || req->cmd == MC_GATS);
    } else if (tok_is(cmd, "set") || tok_is(cmd, "add") || tok_is(cmd, "append") ||
               tok_is(cmd, "replace") || tok_is(cmd, "prepend")) {
        WANT(nt == 6 || nt == 7);
        req->cmd = tok_is(cmd, "set")       ? MC_SET
                   : tok_is(cmd, "add")     ? MC_ADD
                   : tok_is(cmd, "append")  ? MC_APPEND
                   : tok_is(cmd, "replace") ? MC_REPLACE
                                            : MC_PREPEND;
        parse_update(tok, nt, req, vlen);
    } else if (tok_is(cmd, "cas")) {
        WANT(nt == 7 || nt == 8);
        req->cmd = MC_CAS;
        parse_update(tok, nt, req, vlen);
    } else if (tok_is(cmd, "incr") || tok_is(cmd, "decr")) {
        WANT(nt == 4 || nt == 5);
        req->cmd = tok_is(cmd, "incr") ? MC_INCR : MC_DECR;
        noreply_maybe(req, tok, nt);
        if (tok[1].len > MC_KEY_MAX) {
            set_error(req, E_FORMAT);
            return;
        }
        req->key = tok[1];
        if (!mc_parse_u64(&tok[2], &req->delta)) {
            set_error(req, "CLIENT_ERROR invalid numeric delta argument");
        }
    } else if (tok_is(cmd, "touch")) {
        WANT(nt == 4 || nt == 5);
        req->cmd = MC_TOUCH;
        noreply_maybe(req, tok, nt);
        if (tok[1].len > MC_KEY_MAX) {
            set_error(req, E_FORMAT);
            return;
        }
        req->key = tok[1];
        if (!mc_parse_i32(&tok[2], &req->exptime)) {
            set_error(req, E_EXPTIME);
        }
    } else if (tok_is(cmd, "delete")) {
        WANT(nt >= 3 && nt <= 5);
        req->cmd = MC_DELETE;
        if (nt > 3) {
            bool zero = tok_is(&tok[2], "0");

            noreply_maybe(req, tok, nt);
            if (!((nt == 4 && (zero || req->noreply)) || (nt == 5 && zero && req->noreply))) {
                set_error(req, "CLIENT_ERROR bad command line format.  "
                               "Usage: delete <key> [noreply]");
                return;
            }
        }
        if (tok[1].len > MC_KEY_MAX) {
            set_error(req, E_FORMAT);
            return;
        }
        req->key = tok[1];
    } else if (tok_is(cmd, "flush_all")) {
        WANT(nt >= 2 && nt <= 4);
        req->cmd = MC_FLUSH_ALL;
        noreply_maybe(req, tok, nt);
        req->exptime = 0;
        if (nt != (req->noreply ? 3u : 2u) && !mc_parse_i32(&tok[1], &req->exptime)) {
            set_error(req, E_EXPTIME);
        }
    } else if (tok_is(cmd, "verbosity")) {
        WANT(nt == 3 || nt == 4);
        req->cmd = MC_VERBOSITY;
        noreply_maybe(req, tok, nt);
        if (!mc_parse_u32(&tok[1], &req->level)) {
            set_error(req, E_FORMAT);
        }
    } else if (tok_is(cmd, "cache_memlimit")) {
        WANT(nt == 3 || nt == 4);
        req->cmd = MC_MEMLIMIT;
        noreply_maybe(req, tok, nt);
        WANT(mc_parse_u32(&tok[1], &req->level));
    } else if (tok_is(cmd, "lru_crawler")) {
        /* the forms memcached answers OK; there is no crawler to run */
        WANT((nt == 4 && (tok_is(&tok[1], "crawl") || tok_is(&tok[1], "sleep") ||
                          tok_is(&tok[1], "tocrawl"))) ||
             (nt == 3 && (tok_is(&tok[1], "enable") || tok_is(&tok[1], "disable"))));
        req->cmd = MC_LRU_CRAWLER;
    } else if (tok_is(cmd, "version")) {
        req->cmd = MC_VERSION;
    } else if (tok_is(cmd, "quit")) {
        req->cmd = MC_QUIT;
    } else if (tok_is(cmd, "stats")) {
        req->cmd = MC_STATS;
        req->sub = nt > 2 ? tok[1] : (struct resp_arg){ NULL, 0 };
        for (size_t i = 0; i < 2 && nt > 3 + i; i++) {
            req->sub_arg[i] = tok[2 + i];
        }
    } else if (tok_is(cmd, "shutdown")) {
        set_error(req, "ERROR: shutdown not enabled");
    } else if (nt >= 2 && tok[nt - 2].len >= 5 && memcmp(tok[nt - 2].p, "HTTP/", 5) == 0) {
        *close = true; /* an HTTP client: memcached hangs up */
    } else {
        set_error(req, "ERROR");
    }
#undef WANT
}

enum resp_status
mc_reader_next(struct mc_reader *rd, const char *buf, size_t len, struct mc_req *req,
               size_t *used)
{
    const char *nl;
    size_t line, next;
    int32_t vlen;
    bool close = false, swallow = false;

    *used = 0;
    if (rd->swallow > 0) {
        size_t n = len < rd->swallow ? len : (size_t)rd->swallow;

        rd->swallow -= n;
        *used = n;
        if (rd->swallow > 0) {
            return RESP_AGAIN;
        }
        buf += n;
        len -= n;
    }
    memset(req, 0, sizeof *req);
    if (len > 0 && (unsigned char)buf[0] == 0x80) {
        /* a binary protocol request (deprecated upstream): said so, not
         * misread as text */
        set_error(req, "CLIENT_ERROR the binary protocol is not supported");
        req->close = true;
        *used += len;
        return RESP_OK;
    }
    nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        size_t sp = 0;

        if (len <= MC_LINE_MAX) {
            return RESP_AGAIN;
        }
        /* no newline in 2 KiB: a large multiget, or junk */
        while (sp < len && buf[sp] == ' ') {
            sp++;
        }
        if (sp <= 100 && len - sp >= 5 &&
            (memcmp(buf + sp, "get ", 4) == 0 || memcmp(buf + sp, "gets ", 5) == 0) &&
            len <= rd->lim.max_get_line) {
            return RESP_AGAIN;
        }
        return RESP_EPROTO;
    }
    line = (size_t)(nl - buf);
    next = line + 1;
    if (line > 1 && buf[line - 1] == '\r') {
        line--;
    }
    parse_line(rd, buf, line, req, &vlen, &close, &swallow);
    if (close) {
        return RESP_EPROTO;
    }
    if (vlen >= 0 && (req->cmd != MC_ERROR || swallow)) {
        uint32_t flags = req->cmd == MC_MS ? req->meta.client_flags : req->flags;

        if (swallow || mc_item_size(req->key.len, flags, (uint64_t)vlen) > rd->lim.item_size_max) {
            if (!swallow) {
                req->too_large = true;
                req->error = "SERVER_ERROR object too large for cache";
            }
            rd->swallow = (uint64_t)vlen + 2;
            *used += next;
            /* skip what is already here; the rest as it comes */
            {
                size_t have = len - next < rd->swallow ? len - next : (size_t)rd->swallow;
                rd->swallow -= have;
                *used += have;
            }
            req->skips_data = rd->swallow > 0;
            return RESP_OK;
        }
        if (len - next < (size_t)vlen + 2) {
            return RESP_AGAIN; /* *used: only bytes swallowed before */
        }
        req->data = (struct resp_arg){ buf + next, (size_t)vlen };
        if (buf[next + (size_t)vlen] != '\r' || buf[next + (size_t)vlen + 1] != '\n') {
            set_error(req, "CLIENT_ERROR bad data chunk");
        }
        next += (size_t)vlen + 2;
    }
    *used += next;
    return RESP_OK;
}

/* A data length token: digits only, as far as prefetching needs. */
static bool
data_len(const struct resp_arg *t, uint64_t *n)
{
    *n = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->p[i] < '0' || t->p[i] > '9' || i >= 10) {
            return false;
        }
        *n = *n * 10 + (uint64_t)(t->p[i] - '0');
    }
    return t->len > 0;
}

size_t
mc_pipeline_keys(const char *p, size_t len, struct resp_arg *keys, size_t max)
{
    const char *end = p + len;
    size_t n = 0;

    while (n < max && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct resp_arg cmd, t, lent = { NULL, 0 };
        size_t llen, at = 0, first = 1, lenpos = 0; /* the data length's token, 0: none */
        bool all = false;
        uint64_t vlen = 0;

        if (nl == NULL) {
            break;
        }
        llen = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
        if (!mc_next_token(p, llen, &at, &cmd)) {
            p = nl + 1;
            continue;
        }
        if (tok_is(&cmd, "get") || tok_is(&cmd, "gets")) {
            all = true;
        } else if (tok_is(&cmd, "gat") || tok_is(&cmd, "gats")) {
            all = true;
            first = 2; /* past the exptime */
        } else if (tok_is(&cmd, "set") || tok_is(&cmd, "add") || tok_is(&cmd, "replace") ||
                   tok_is(&cmd, "append") || tok_is(&cmd, "prepend") || tok_is(&cmd, "cas")) {
            lenpos = 4;
        } else if (tok_is(&cmd, "ms")) {
            lenpos = 2;
        }
        for (size_t i = 1; mc_next_token(p, llen, &at, &t); i++) {
            if (i == lenpos) {
                lent = t;
            }
            if (i >= first && (all || i == first) && n < max) {
                keys[n++] = t;
            }
            if (!all && i >= first && i >= lenpos) {
                break;
            }
        }
        p = nl + 1;
        if (lenpos != 0) {
            if (!data_len(&lent, &vlen) || (uint64_t)(end - p) < vlen + 2) {
                break; /* its data is not all here, or it is not a request */
            }
            p += vlen + 2;
        }
    }
    return n;
}
