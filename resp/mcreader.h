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
};

#define MC_KEY_MAX 250            /* KEY_MAX_LENGTH */
#define MC_LINE_MAX 2048          /* a line with no newline past this closes,
                                   * but for a large get/gets */
#define MC_ITEM_SIZE_MAX_DEFAULT (1024 * 1024)

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
    struct resp_arg key;      /* single-key commands */
    struct resp_arg *keys;    /* get family: nkeys keys (borrowed from the reader) */
    size_t nkeys;
    uint32_t flags;           /* storage commands: the client flags */
    int32_t exptime;          /* storage, touch, gat; flush_all's delay */
    uint64_t cas;             /* cas */
    uint64_t delta;           /* incr, decr */
    uint32_t level;           /* verbosity */
    struct resp_arg data;     /* storage commands: the value, without CRLF */
    struct resp_arg sub;      /* stats: the subcommand (len 0: none) */
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
