/*
 * resp/mcreader.h — memcached's text protocol, parsed with no sockets: a
 * buffer in, one request out, as memcached 1.6's protocol.txt and its
 * server read them (tokens split on spaces only, "\r\n" or "\n" line ends,
 * numbers as strtoul/strtol take them, then truncated to the field's
 * width). What a request means is the server's business; this file only
 * says what was asked, or which error line answers a malformed request.
 */
#ifndef RESP_MCREADER_H
#define RESP_MCREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/reader.h"

enum mc_cmd {
    MC_ERROR,     /* answer `error` (a whole line, no CRLF) */
    MC_GET,
    MC_GETS,
    MC_GAT,
    MC_GATS,
    MC_SET,
    MC_ADD,
    MC_REPLACE,
    MC_APPEND,
    MC_PREPEND,
    MC_CAS,
    MC_INCR,
    MC_DECR,
    MC_TOUCH,
    MC_DELETE,
    MC_FLUSH_ALL,
    MC_VERSION,
    MC_VERBOSITY,
    MC_STATS,
    MC_QUIT,
    MC_MN,        /* meta no-op */
    MC_MG,        /* meta get */
    MC_MS,        /* meta set */
    MC_MD,        /* meta delete */
    MC_MA,        /* meta arithmetic */
    MC_ME,        /* meta debug */
    MC_MEMLIMIT,  /* cache_memlimit <megabytes> */
    MC_LRU_CRAWLER, /* lru_crawler crawl|sleep|tocrawl <arg>, enable, disable */
};

#define MC_KEY_MAX 250            /* KEY_MAX_LENGTH */
#define MC_LINE_MAX 2048          /* a line with no newline past this closes,
                                   * but for a large get/gets */
#define MC_ITEM_SIZE_MAX_DEFAULT (1024 * 1024)

#define MC_META_MAX_TOKENS 20     /* a meta line's tokens, with the terminal one */
#define MC_OPAQUE_MAX 32          /* an O token's bytes, O included */

/* A meta command's flags: single letters, some with a token after them
 * (T30, Oabc), read as memcached 1.6's _meta_flag_preparse reads them. */
struct mc_meta {
    uint64_t has;             /* MC_META_BIT(letter) for each flag given */
    struct resp_arg flags;    /* the flag tokens as sent: replies echo them in order */
    int32_t ttl;              /* T: new TTL, seconds as exptime */
    int32_t vivify_ttl;       /* N: TTL of the item a miss creates */
    int32_t recache;          /* R: win the recache when the TTL left is below it */
    uint32_t client_flags;    /* F */
    uint64_t cas;             /* C */
    uint64_t delta;           /* D (ma; 1 when absent) */
    uint64_t initial;         /* J (ma's N) */
    char mode;                /* M: ms E A P R S, ma I + D - (0: none) */
};

#define MC_META_BIT(ch) (1ull << ((ch) - 'A'))
static inline bool
mc_meta_has(const struct mc_meta *m, char ch)
{
    return (m->has & MC_META_BIT(ch)) != 0;
}

/* The next space-separated token of p[*at..len) (*at moves past it), or
 * false at the end. */
bool mc_next_token(const char *p, size_t len, size_t *at, struct resp_arg *t);

/* The keys of the complete request lines in p[0..len), at most max, for
 * prefetching a pipeline's lookups: every key of a get or gets, the token
 * after a gat's exptime, the first token after any other command; a storage
 * command's data is skipped by its announced length. A guess (a base64 key,
 * a command that has none): a wrong one costs a useless prefetch. */
size_t mc_pipeline_keys(const char *p, size_t len, struct resp_arg *keys, size_t max);

/* Read a meta command's flag tokens (p[0..len), spaces between) for cmd
 * (MC_MG, MC_MS, MC_MD or MC_MA). key_ok: the key decoded, when b asks for
 * base64. NULL, or the error line memcached answers. */
const char *mc_meta_parse(enum mc_cmd cmd, const char *p, size_t len, bool key_ok,
                          struct mc_meta *m);

/* memcached's base64 (a binary key's b flag): decode skips characters
 * outside the alphabet, wants a multiple of four of the rest and stops at
 * padding; 0 when it cannot decode (out has room for n bytes). Encode pads,
 * and needs 4 * ((n + 2) / 3) bytes of out. */
size_t mc_base64_decode(const char *in, size_t n, char *out);
size_t mc_base64_encode(const char *in, size_t n, char *out);

/* The bytes memcached's item of this key, flags and value takes (struct
 * _stritem and its CAS, key, NUL, flags when nonzero, value, CRLF): an item
 * over item-size-max is refused. */
static inline uint64_t
mc_item_size(size_t klen, uint32_t client_flags, uint64_t vlen)
{
    return 56 + klen + 1 + (client_flags != 0 ? 4 : 0) + vlen + 2;
}

struct mc_limits {
    uint64_t item_size_max;   /* memcached's -I: a storage command's item */
    size_t max_get_line;      /* a get line's bytes (memcached: unbounded) */
};

struct mc_req {
    enum mc_cmd cmd;
    const char *error;        /* MC_ERROR: the reply line */
    bool close;               /* MC_ERROR: then close the connection */
    bool noreply;
    /* a storage command too large to store: its data was swallowed; for
     * set the key is also dropped, as memcached does (no stale value) */
    bool too_large;
    bool skips_data;          /* the rest of its data (too large, or an ms with
                               * bad flags) is skipped as it arrives */
    struct resp_arg key;      /* single-key commands */
    struct resp_arg *keys;    /* get family: nkeys keys (borrowed from the reader) */
    size_t nkeys;
    uint32_t flags;           /* storage commands: the client flags */
    int32_t exptime;          /* storage, touch, gat; flush_all's delay */
    uint64_t cas;             /* cas */
    uint64_t delta;           /* incr, decr */
    uint32_t level;           /* verbosity; cache_memlimit's megabytes */
    struct resp_arg data;     /* storage commands: the value, without CRLF */
    struct resp_arg sub;      /* stats: the subcommand (len 0: none) */
    struct resp_arg sub_arg[2]; /* and its first arguments (len 0: none) */
    struct mc_meta meta;      /* meta commands; key is decoded when meta has b */
};

struct mc_reader; /* opaque */

struct mc_reader *mc_reader_create(const struct mc_limits *lim);
void mc_reader_destroy(struct mc_reader **rd); /* sets *rd = NULL */
void mc_reader_set_limits(struct mc_reader *rd, const struct mc_limits *lim);

/* Parse one request from buf[0..len). RESP_OK: *used bytes were consumed
 * and req borrows from buf (and the reader) until the next call.
 * RESP_AGAIN: call again with more bytes, after consuming *used (the data
 * of a refused item, skipped as it arrives; usually 0). RESP_EPROTO:
 * the client sent a line too long to be a request: close it with no
 * reply, as memcached does. */
enum resp_status mc_reader_next(struct mc_reader *rd, const char *buf, size_t len,
                                struct mc_req *req, size_t *used);

/* memcached's safe_strtoul/strtol/strtoull over a token (not
 * NUL-terminated): strto*l's syntax (leading blanks, a sign), then the end
 * of the token; the value is truncated to the width, as memcached does. */
bool mc_parse_u32(const struct resp_arg *t, uint32_t *out);
bool mc_parse_i32(const struct resp_arg *t, int32_t *out);
bool mc_parse_u64(const struct resp_arg *t, uint64_t *out);

#endif
