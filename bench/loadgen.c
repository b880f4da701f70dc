/*
 * bench/loadgen.c — a closed-loop load generator for what redis-benchmark
 * cannot do: Zipf-skewed keys, a GET/SET mix, value size distributions,
 * datasets larger than maxmemory, and one loader shared by every server
 * (Redis protocol through hiredis's reply parser, or memcached's text
 * protocol).
 *
 *   loadgen -p PORT [-c CONNS] [-P DEPTH] [-T THREADS] [-r GET_RATIO]
 *           [-k KEYS] [-z SKEW] [-d SIZE] (-t SECONDS | -n REQUESTS)
 *           [--ttl SEC] [--proto redis|memcache]
 *   loadgen -p PORT --load N [...]    SET key 0..N-1 exactly once each
 *
 * Every connection keeps up to DEPTH requests in flight; a request's latency
 * runs from the moment it is written to the moment its reply is parsed. The
 * result is one line of key=value pairs on standard output (throughput,
 * hits, misses, error replies, latency percentiles from a log-linear
 * histogram with < 1% relative error), meant to be parsed by bench/run.
 *
 * Only loopback addresses are accepted: this is a benchmark tool for servers
 * started on this machine. Every run is bounded (duration or request count),
 * and a server that stops answering for 10 s ends the run with an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <hiredis.h>

#define MAX_VALUE (1u << 20)          /* largest value size: 1 MiB */
#define MAX_DURATION_S 3600.0         /* longest run */
#define STALL_NS (10ull * 1000000000) /* no reply for this long: give up */
#define DRAIN_NS (5ull * 1000000000)  /* after the deadline, wait this long */

/* ---- options --------------------------------------------------------------- */

enum proto { PROTO_REDIS, PROTO_MEMCACHE };
enum vdist { VD_FIXED, VD_UNIFORM, VD_EXP };

static struct {
    char host[64];
    int port;
    int conns, depth, threads;
    double get_ratio;
    uint64_t keys;
    double zipf;
    enum vdist vdist;
    unsigned vmin, vmax; /* fixed: vmin; uniform: [vmin, vmax]; exp: mean vmin, cap vmax */
    double duration;     /* seconds, 0 = use requests */
    uint64_t requests;   /* 0 = use duration */
    uint64_t load;       /* --load N */
    long ttl;            /* 0 = none */
    enum proto proto;
    char prefix[32];
    uint64_t seed;
} opt = {
    .host = "127.0.0.1",
    .port = 6379,
    .conns = 50,
    .depth = 1,
    .threads = 1,
    .get_ratio = 0.9,
    .keys = 1000000,
    .zipf = 0.99,
    .vdist = VD_FIXED,
    .vmin = 100,
    .vmax = 100,
    .proto = PROTO_REDIS,
    .prefix = "key:",
    .seed = 1,
};

/* ---- time, random numbers ------------------------------------------------ */

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
rand01(uint64_t *s) /* [0, 1) */
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

/* Zipf over ranks 1..n with exponent s > 0, by rejection-inversion
 * (Hörmann and Derflinger 1996), as in Apache Commons RNG's
 * RejectionInversionZipfSampler: O(1) set-up, any s > 0. */
struct zipf {
    double s, n, hx1, hn, sq;
};

static double
helper1(double x) /* log1p(x)/x */
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double
helper2(double x) /* expm1(x)/x */
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}

static double
zipf_h(const struct zipf *z, double x)
{
    return exp(-z->s * log(x));
}

static double
zipf_hint(const struct zipf *z, double x)
{
    double lx = log(x);
    return helper2((1 - z->s) * lx) * lx;
}

static double
zipf_hinv(const struct zipf *z, double x)
{
    double t = x * (1 - z->s);
    if (t < -1)
        t = -1;
    return exp(helper1(t) * x);
}

static void
zipf_init(struct zipf *z, uint64_t n, double s)
{
    z->s = s;
    z->n = (double)n;
    z->hx1 = zipf_hint(z, 1.5) - 1;
    z->hn = zipf_hint(z, z->n + 0.5);
    z->sq = 2 - zipf_hinv(z, zipf_hint(z, 2.5) - zipf_h(z, 2));
}

static uint64_t /* 1..n */
zipf_next(const struct zipf *z, uint64_t *rng)
{
    for (int tries = 0; tries < 1000; tries++) {
        double u = z->hn + rand01(rng) * (z->hx1 - z->hn);
        double x = zipf_hinv(z, u);
        double k = floor(x + 0.5);
        if (k < 1)
            k = 1;
        else if (k > z->n)
            k = z->n;
        if (k - x <= z->sq || u >= zipf_hint(z, k + 0.5) - zipf_h(z, k))
            return (uint64_t)k;
    }
    return 1; /* not reached in practice: acceptance rate is > 90% */
}

/* ---- latency histogram: log-linear, 128 sub-buckets per power of two ---------- */

#define H_SUB 128
#define H_BUCKETS (2 * H_SUB + 40 * H_SUB)

struct hist {
    uint64_t count[H_BUCKETS];
    uint64_t n, max;
    long double sum;
};

static unsigned
h_index(uint64_t v)
{
    if (v < 2 * H_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 7; /* v >> shift in [128, 255] */
    unsigned idx = 2 * H_SUB + (shift - 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
    return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t /* the largest value that falls in bucket idx */
h_value(unsigned idx)
{
    if (idx < 2 * H_SUB)
        return idx;
    unsigned shift = (idx - 2 * H_SUB) / H_SUB + 1;
    uint64_t mant = (idx - 2 * H_SUB) % H_SUB + H_SUB;
    return ((mant + 1) << shift) - 1;
}

static void
h_add(struct hist *h, uint64_t v)
{
    h->count[h_index(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

static void
h_merge(struct hist *to, const struct hist *from)
{
    for (unsigned i = 0; i < H_BUCKETS; i++)
        to->count[i] += from->count[i];
    to->n += from->n;
    to->sum += from->sum;
    if (from->max > to->max)
        to->max = from->max;
}

static uint64_t /* value at percentile p (0..100): the bucket holding the p-th sample */
h_pct(const struct hist *h, double p)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t v = h_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

/* ---- connections ------------------------------------------------------------- */

enum op { OP_GET, OP_SET };

struct conn {
    int fd;
    char *out;
    size_t out_len, out_cap, out_off;
    /* requests in flight, oldest first: ring of depth entries */
    uint64_t *sent_at;
    uint8_t *ops;
    int head, inflight;
    /* replies */
    redisReader *reader; /* redis */
    char *in;            /* memcache: bytes not yet parsed */
    size_t in_len, in_cap;
    bool want_out;
};

struct worker {
    int id;
    pthread_t tid;
    int nconns;
    struct conn *conns;
    int ep;
    uint64_t rng;
    struct zipf zipf;
    struct hist hist;
    uint64_t done, hits, misses, errors, sets, gets;
    char first_error[256];
    int fatal; /* nonzero: the run failed; message printed */
};

static atomic_uint_fast64_t budget;     /* requests not yet claimed (count or load mode) */
static atomic_uint_fast64_t load_next;  /* --load: next key index */
static atomic_int stop_all;
static uint64_t deadline_ns;            /* duration mode */
static const char *value_bytes;         /* MAX_VALUE bytes of 'x' */

/* A sentinel reply per type: the reader needs non-NULL objects, we need only
 * the type of each reply (and the text of the first error). */
static int s_string, s_status, s_error, s_array, s_integer, s_nil;

static void *
r_string(const redisReadTask *t, char *str, size_t len)
{
    if (t->type == REDIS_REPLY_ERROR) {
        struct worker *w = t->privdata;
        if (w != NULL && w->first_error[0] == '\0')
            snprintf(w->first_error, sizeof w->first_error, "%.*s", (int)(len > 200 ? 200 : len), str);
        return &s_error;
    }
    return t->type == REDIS_REPLY_STATUS ? (void *)&s_status : (void *)&s_string;
}

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
static void *
r_array(const redisReadTask *t, size_t n)
#else
static void *
r_array(const redisReadTask *t, int n)
#endif
{
    (void)t;
    (void)n;
    return &s_array;
}

static void *
r_integer(const redisReadTask *t, long long v)
{
    (void)t;
    (void)v;
    return &s_integer;
}

static void *
r_nil(const redisReadTask *t)
{
    (void)t;
    return &s_nil;
}

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
static void *
r_double(const redisReadTask *t, double d, char *s, size_t len)
{
    (void)t;
    (void)d;
    (void)s;
    (void)len;
    return &s_integer;
}

static void *
r_bool(const redisReadTask *t, int b)
{
    (void)t;
    (void)b;
    return &s_integer;
}
#endif

static void
r_free(void *p)
{
    (void)p;
}

static redisReplyObjectFunctions reply_fns = {
    .createString = r_string,
    .createArray = r_array,
    .createInteger = r_integer,
    .createNil = r_nil,
#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
    .createDouble = r_double,
    .createBool = r_bool,
#endif
    .freeObject = r_free,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void
out_reserve(struct conn *c, size_t more)
{
    if (c->out_len + more <= c->out_cap)
        return;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + more <= c->out_cap)
            return;
    }
    size_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + more)
        cap *= 2;
    c->out = realloc(c->out, cap);
    if (c->out == NULL)
        die("%s", "out of memory");
    c->out_cap = cap;
}

static void
out_put(struct conn *c, const char *p, size_t n)
{
    out_reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void
out_bulk(struct conn *c, const char *p, size_t n) /* $n\r\n<p>\r\n */
{
    char hdr[32];
    int h = snprintf(hdr, sizeof hdr, "$%zu\r\n", n);
    out_reserve(c, (size_t)h + n + 2);
    memcpy(c->out + c->out_len, hdr, (size_t)h);
    memcpy(c->out + c->out_len + h, p, n);
    memcpy(c->out + c->out_len + h + n, "\r\n", 2);
    c->out_len += (size_t)h + n + 2;
}

static unsigned
value_size(struct worker *w)
{
    switch (opt.vdist) {
    case VD_FIXED:
        return opt.vmin;
    case VD_UNIFORM:
        return opt.vmin + (unsigned)(splitmix64(&w->rng) % (opt.vmax - opt.vmin + 1));
    case VD_EXP: {
        double v = -log(1.0 - rand01(&w->rng)) * opt.vmin;
        if (v < 1)
            v = 1;
        return v > opt.vmax ? opt.vmax : (unsigned)v;
    }
    }
    return opt.vmin;
}

static void
add_request(struct worker *w, struct conn *c, enum op op, uint64_t key, uint64_t t)
{
    char k[64];
    int klen = snprintf(k, sizeof k, "%s%012" PRIu64, opt.prefix, key);
    unsigned vlen = op == OP_SET ? value_size(w) : 0;
    if (opt.proto == PROTO_REDIS) {
        if (op == OP_GET) {
            out_put(c, "*2\r\n$3\r\nGET\r\n", 13);
            out_bulk(c, k, (size_t)klen);
        } else if (opt.ttl > 0) {
            char ttl[24];
            int tl = snprintf(ttl, sizeof ttl, "%ld", opt.ttl);
            out_put(c, "*5\r\n$3\r\nSET\r\n", 13);
            out_bulk(c, k, (size_t)klen);
            out_bulk(c, value_bytes, vlen);
            out_put(c, "$2\r\nEX\r\n", 8);
            out_bulk(c, ttl, (size_t)tl);
        } else {
            out_put(c, "*3\r\n$3\r\nSET\r\n", 13);
            out_bulk(c, k, (size_t)klen);
            out_bulk(c, value_bytes, vlen);
        }
    } else {
        char line[128];
        int n;
        if (op == OP_GET)
            n = snprintf(line, sizeof line, "get %s\r\n", k);
        else
            n = snprintf(line, sizeof line, "set %s 0 %ld %u\r\n", k, opt.ttl > 0 ? opt.ttl : 0L, vlen);
        out_put(c, line, (size_t)n);
        if (op == OP_SET) {
            out_put(c, value_bytes, vlen);
            out_put(c, "\r\n", 2);
        }
    }
    int slot = (c->head + c->inflight) % opt.depth;
    c->sent_at[slot] = t;
    c->ops[slot] = (uint8_t)op;
    c->inflight++;
}

/* Claim up to `want` requests from the shared budget. */
static int
claim(int want)
{
    if (atomic_load_explicit(&stop_all, memory_order_relaxed))
        return 0;
    if (opt.requests == 0 && opt.load == 0)
        return want; /* duration mode: the deadline decides */
    uint_fast64_t left = atomic_load_explicit(&budget, memory_order_relaxed);
    for (;;) {
        if (left == 0)
            return 0;
        uint_fast64_t take = left < (uint_fast64_t)want ? left : (uint_fast64_t)want;
        if (atomic_compare_exchange_weak(&budget, &left, left - take))
            return (int)take;
    }
}

static void
fill(struct worker *w, struct conn *c, uint64_t t)
{
    if (deadline_ns != 0 && t >= deadline_ns)
        return;
    int n = claim(opt.depth - c->inflight);
    for (int i = 0; i < n; i++) {
        if (opt.load > 0) {
            uint64_t key = atomic_fetch_add(&load_next, 1);
            add_request(w, c, OP_SET, key, t);
            continue;
        }
        enum op op = rand01(&w->rng) < opt.get_ratio ? OP_GET : OP_SET;
        uint64_t key = opt.zipf > 0 ? zipf_next(&w->zipf, &w->rng) - 1
                                    : splitmix64(&w->rng) % opt.keys;
        add_request(w, c, op, key, t);
    }
}

static void
set_events(struct worker *w, struct conn *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static int
flush_out(struct worker *w, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(w, c, true);
            return 0;
        }
        fprintf(stderr, "loadgen: write to 127.0.0.1:%d: %s\n", opt.port, strerror(errno));
        return -1;
    }
    c->out_off = c->out_len = 0;
    set_events(w, c, false);
    return 0;
}

static void
complete(struct worker *w, struct conn *c, int kind, uint64_t t)
{
    /* kind: 0 ok/stored, 1 hit, 2 miss, 3 error */
    if (c->inflight == 0) {
        fprintf(stderr, "loadgen: a reply nobody asked for\n");
        w->fatal = 1;
        return;
    }
    uint64_t sent = c->sent_at[c->head];
    enum op op = (enum op)c->ops[c->head];
    c->head = (c->head + 1) % opt.depth;
    c->inflight--;
    h_add(&w->hist, t - sent);
    w->done++;
    if (op == OP_GET)
        w->gets++;
    else
        w->sets++;
    if (kind == 3)
        w->errors++;
    else if (op == OP_GET && kind == 1)
        w->hits++;
    else if (op == OP_GET)
        w->misses++;
}

/* memcache text protocol: parse complete replies out of c->in. */
static int
parse_memcache(struct worker *w, struct conn *c, uint64_t t)
{
    size_t pos = 0;
    while (pos < c->in_len) {
        char *line = c->in + pos;
        char *eol = memmem(line, c->in_len - pos, "\r\n", 2);
        if (eol == NULL)
            break;
        size_t llen = (size_t)(eol - line);
        if (llen >= 6 && memcmp(line, "VALUE ", 6) == 0) {
            /* VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\nEND\r\n */
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(llen < 255 ? llen : 255), line);
            unsigned long bytes = 0;
            if (sscanf(tmp, "VALUE %*s %*u %lu", &bytes) != 1 || bytes > MAX_VALUE) {
                fprintf(stderr, "loadgen: memcache: bad reply line '%s'\n", tmp);
                return -1;
            }
            size_t need = llen + 2 + bytes + 2 + 5;
            if (c->in_len - pos < need)
                break;
            if (memcmp(line + llen + 2 + bytes + 2, "END\r\n", 5) != 0) {
                fprintf(stderr, "loadgen: memcache: VALUE not followed by END\n");
                return -1;
            }
            complete(w, c, 1, t);
            pos += need;
            continue;
        }
        int kind;
        if (llen == 3 && memcmp(line, "END", 3) == 0)
            kind = 2;
        else if (llen == 6 && memcmp(line, "STORED", 6) == 0)
            kind = 0;
        else {
            kind = 3; /* NOT_STORED, ERROR, CLIENT_ERROR ..., SERVER_ERROR ... */
            if (w->first_error[0] == '\0')
                snprintf(w->first_error, sizeof w->first_error, "%.*s", (int)(llen > 200 ? 200 : llen), line);
        }
        complete(w, c, kind, t);
        pos += llen + 2;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return 0;
}

static int
on_readable(struct worker *w, struct conn *c)
{
    char buf[65536];
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n == 0) {
            fprintf(stderr, "loadgen: the server at 127.0.0.1:%d closed the connection\n", opt.port);
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fprintf(stderr, "loadgen: read from 127.0.0.1:%d: %s\n", opt.port, strerror(errno));
            return -1;
        }
        uint64_t t = now_ns();
        if (opt.proto == PROTO_REDIS) {
            if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK)
                return -1;
            for (;;) {
                void *reply = NULL;
                if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
                    fprintf(stderr, "loadgen: protocol error: %s\n", c->reader->errstr);
                    return -1;
                }
                if (reply == NULL)
                    break;
                int kind = reply == &s_error ? 3 : reply == &s_nil ? 2 : reply == &s_string ? 1 : 0;
                complete(w, c, kind, t);
            }
        } else {
            if (c->in_len + (size_t)n > c->in_cap) {
                size_t cap = c->in_cap ? c->in_cap : 65536;
                while (cap < c->in_len + (size_t)n)
                    cap *= 2;
                c->in = realloc(c->in, cap);
                if (c->in == NULL)
                    die("%s", "out of memory");
                c->in_cap = cap;
            }
            memcpy(c->in + c->in_len, buf, (size_t)n);
            c->in_len += (size_t)n;
            if (parse_memcache(w, c, t) != 0)
                return -1;
        }
        if (w->fatal)
            return -1;
        if ((size_t)n < sizeof buf)
            break;
    }
    return 0;
}

static int
connect_one(void)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", opt.port);
    int rc = getaddrinfo(opt.host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", opt.host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "loadgen: connect to %s:%d: %s\n", opt.host, opt.port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    uint64_t t = now_ns(), last_progress = t, drain_until = 0;

    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        fill(w, c, t);
        if (flush_out(w, c) != 0) {
            w->fatal = 1;
            goto out;
        }
    }
    for (;;) {
        int inflight = 0;
        for (int i = 0; i < w->nconns; i++)
            inflight += w->conns[i].inflight;
        t = now_ns();
        if (inflight == 0) {
            bool more = !atomic_load(&stop_all) && (deadline_ns == 0 || t < deadline_ns) &&
                        (opt.requests == 0 && opt.load == 0 ? true : atomic_load(&budget) > 0);
            if (!more)
                break;
            /* idle connections with budget left (another thread ran dry first) */
            for (int i = 0; i < w->nconns; i++) {
                fill(w, &w->conns[i], t);
                if (flush_out(w, &w->conns[i]) != 0) {
                    w->fatal = 1;
                    goto out;
                }
            }
            bool any = false;
            for (int i = 0; i < w->nconns; i++)
                any |= w->conns[i].inflight > 0;
            if (!any)
                break;
        }
        if (deadline_ns != 0 && t >= deadline_ns) {
            if (drain_until == 0)
                drain_until = t + DRAIN_NS;
            else if (t >= drain_until) {
                fprintf(stderr, "loadgen: %d replies still missing %.0f s after the deadline\n",
                        inflight, DRAIN_NS / 1e9);
                break;
            }
        }
        if (t - last_progress > STALL_NS) {
            fprintf(stderr, "loadgen: no reply from 127.0.0.1:%d for %.0f s, giving up\n", opt.port,
                    STALL_NS / 1e9);
            w->fatal = 1;
            break;
        }
        int n = epoll_wait(w->ep, evs, 256, 100);
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            w->fatal = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                uint64_t before = w->done;
                if (on_readable(w, c) != 0) {
                    w->fatal = 1;
                    goto out;
                }
                if (w->done != before)
                    last_progress = now_ns();
            }
            t = now_ns();
            if (c->inflight < opt.depth && c->out_off == c->out_len)
                fill(w, c, t);
            if (flush_out(w, c) != 0) {
                w->fatal = 1;
                goto out;
            }
        }
    }
out:
    if (w->fatal)
        atomic_store(&stop_all, 1);
    return NULL;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: loadgen [options]\n"
            "  -h, --host ADDR        loopback address only (default 127.0.0.1)\n"
            "  -p, --port N           server port (default 6379)\n"
            "      --proto P          redis | memcache (text protocol) (default redis)\n"
            "  -c, --connections N    connections (default 50)\n"
            "  -P, --pipeline N       requests in flight per connection (default 1)\n"
            "  -T, --threads N        client threads (default 1)\n"
            "  -r, --get-ratio F      fraction of GETs, the rest SETs (default 0.9)\n"
            "  -k, --keys N           key space: keys <prefix>000000000000.. (default 1000000)\n"
            "  -z, --zipf S           Zipf skew of key popularity, 0 = uniform (default 0.99)\n"
            "  -d, --value-size SPEC  N | MIN-MAX (uniform) | exp:MEAN[:MAX] (default 100)\n"
            "  -t, --duration SEC     run this long (default 10 unless -n or --load)\n"
            "  -n, --requests N       run this many requests\n"
            "      --load N           SET keys 0..N-1 once each (value size from -d), then stop\n"
            "      --ttl SEC          every SET carries this TTL (EX / memcache exptime)\n"
            "      --key-prefix STR   (default \"key:\")\n"
            "      --seed N           random seed (default 1)\n"
            "Prints one line: key=value pairs (rps, hits, misses, errors, latency in ms).\n");
}

static uint64_t
parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || d < 0 || d > 1e15)
        die("bad number for %s", what);
    return (uint64_t)d;
}

static bool
is_loopback(const char *host)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    bool ok = res != NULL;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            uint32_t ip = ntohl(((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr.s_addr);
            ok &= (ip >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            ok &= IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr);
        } else {
            ok = false;
        }
    }
    freeaddrinfo(res);
    return ok;
}

static void
parse_value_size(const char *s)
{
    char *end;
    if (strncmp(s, "exp:", 4) == 0) {
        opt.vdist = VD_EXP;
        opt.vmin = (unsigned)strtoul(s + 4, &end, 10);
        opt.vmax = *end == ':' ? (unsigned)strtoul(end + 1, &end, 10) : MAX_VALUE;
    } else {
        opt.vmin = (unsigned)strtoul(s, &end, 10);
        if (*end == '-') {
            opt.vdist = VD_UNIFORM;
            opt.vmax = (unsigned)strtoul(end + 1, &end, 10);
        } else {
            opt.vdist = VD_FIXED;
            opt.vmax = opt.vmin;
        }
    }
    if (*end != '\0' || opt.vmax > MAX_VALUE || opt.vmin > opt.vmax || (opt.vdist == VD_EXP && opt.vmin == 0))
        die("bad value size '%s': N, MIN-MAX or exp:MEAN[:MAX], at most 1048576", s);
}

int
main(int argc, char **argv)
{
    enum { O_LOAD = 1000, O_TTL, O_PROTO, O_PREFIX, O_SEED, O_HELP };
    static const struct option longopts[] = {
        { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' },
        { "connections", required_argument, NULL, 'c' },
        { "pipeline", required_argument, NULL, 'P' },
        { "threads", required_argument, NULL, 'T' },
        { "get-ratio", required_argument, NULL, 'r' },
        { "keys", required_argument, NULL, 'k' },
        { "zipf", required_argument, NULL, 'z' },
        { "value-size", required_argument, NULL, 'd' },
        { "duration", required_argument, NULL, 't' },
        { "requests", required_argument, NULL, 'n' },
        { "load", required_argument, NULL, O_LOAD },
        { "ttl", required_argument, NULL, O_TTL },
        { "proto", required_argument, NULL, O_PROTO },
        { "key-prefix", required_argument, NULL, O_PREFIX },
        { "seed", required_argument, NULL, O_SEED },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:c:P:T:r:k:z:d:t:n:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            snprintf(opt.host, sizeof opt.host, "%s", optarg);
            break;
        case 'p':
            opt.port = (int)parse_u64(optarg, "--port");
            break;
        case 'c':
            opt.conns = (int)parse_u64(optarg, "--connections");
            break;
        case 'P':
            opt.depth = (int)parse_u64(optarg, "--pipeline");
            break;
        case 'T':
            opt.threads = (int)parse_u64(optarg, "--threads");
            break;
        case 'r':
            opt.get_ratio = strtod(optarg, NULL);
            break;
        case 'k':
            opt.keys = parse_u64(optarg, "--keys");
            break;
        case 'z':
            opt.zipf = strtod(optarg, NULL);
            break;
        case 'd':
            parse_value_size(optarg);
            break;
        case 't':
            opt.duration = strtod(optarg, NULL);
            break;
        case 'n':
            opt.requests = parse_u64(optarg, "--requests");
            break;
        case O_LOAD:
            opt.load = parse_u64(optarg, "--load");
            break;
        case O_TTL:
            opt.ttl = (long)parse_u64(optarg, "--ttl");
            break;
        case O_PROTO:
            if (strcmp(optarg, "redis") == 0)
                opt.proto = PROTO_REDIS;
            else if (strcmp(optarg, "memcache") == 0)
                opt.proto = PROTO_MEMCACHE;
            else
                die("unknown protocol '%s': redis or memcache", optarg);
            break;
        case O_PREFIX:
            if (strlen(optarg) >= sizeof opt.prefix || strpbrk(optarg, " \r\n") != NULL)
                die("bad key prefix '%s'", optarg);
            snprintf(opt.prefix, sizeof opt.prefix, "%s", optarg);
            break;
        case O_SEED:
            opt.seed = parse_u64(optarg, "--seed");
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!is_loopback(opt.host))
        die("'%s' is not a loopback address: loadgen only targets servers on this machine", opt.host);
    if (opt.port < 1 || opt.port > 65535 || opt.conns < 1 || opt.conns > 100000 || opt.depth < 1 ||
        opt.depth > 100000 || opt.threads < 1 || opt.threads > 256 || opt.keys < 1 ||
        opt.get_ratio < 0 || opt.get_ratio > 1 || opt.zipf < 0 || opt.zipf > 10 ||
        opt.duration < 0 || opt.duration > MAX_DURATION_S)
        die("%s", "an option is out of range (see --help)");
    if (opt.load > 0 && (opt.requests > 0 || opt.duration > 0))
        die("%s", "--load N runs until the N keys are set: no -t or -n with it");
    if (opt.load == 0 && opt.requests == 0 && opt.duration == 0)
        opt.duration = 10;
    if (opt.requests > 0 && opt.duration > 0)
        die("%s", "give -t or -n, not both");
    if (opt.threads > opt.conns)
        opt.threads = opt.conns;
    signal(SIGPIPE, SIG_IGN);

    char *vb = malloc(MAX_VALUE);
    if (vb == NULL)
        die("%s", "out of memory");
    memset(vb, 'x', MAX_VALUE);
    value_bytes = vb;
    atomic_store(&budget, opt.load > 0 ? opt.load : opt.requests);

    struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    struct conn *cs = calloc((size_t)opt.conns, sizeof *cs);
    if (ws == NULL || cs == NULL)
        die("%s", "out of memory");
    int per = opt.conns / opt.threads, extra = opt.conns % opt.threads, ci = 0;
    for (int i = 0; i < opt.threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->rng = opt.seed * 0x100000001b3ull + (uint64_t)i;
        if (opt.zipf > 0)
            zipf_init(&w->zipf, opt.keys, opt.zipf);
        w->nconns = per + (i < extra);
        w->conns = &cs[ci];
        ci += w->nconns;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            die("epoll_create1: %s", strerror(errno));
        for (int j = 0; j < w->nconns; j++) {
            struct conn *c = &w->conns[j];
            c->fd = connect_one();
            if (c->fd < 0)
                return 2;
            c->sent_at = calloc((size_t)opt.depth, sizeof *c->sent_at);
            c->ops = calloc((size_t)opt.depth, 1);
            if (c->sent_at == NULL || c->ops == NULL)
                die("%s", "out of memory");
            if (opt.proto == PROTO_REDIS) {
                c->reader = redisReaderCreateWithFunctions(&reply_fns);
                if (c->reader == NULL)
                    die("%s", "out of memory");
                c->reader->privdata = w;
            }
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
                die("epoll_ctl: %s", strerror(errno));
        }
    }

    uint64_t start = now_ns();
    deadline_ns = opt.duration > 0 ? start + (uint64_t)(opt.duration * 1e9) : 0;
    for (int i = 0; i < opt.threads; i++) {
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            die("%s", "pthread_create failed");
    }
    struct hist *total = calloc(1, sizeof *total);
    if (total == NULL)
        die("%s", "out of memory");
    uint64_t done = 0, hits = 0, misses = 0, errors = 0, gets = 0, sets = 0;
    int fatal = 0;
    const char *first_error = "";
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(ws[i].tid, NULL);
        h_merge(total, &ws[i].hist);
        done += ws[i].done;
        hits += ws[i].hits;
        misses += ws[i].misses;
        errors += ws[i].errors;
        gets += ws[i].gets;
        sets += ws[i].sets;
        fatal |= ws[i].fatal;
        if (first_error[0] == '\0')
            first_error = ws[i].first_error;
    }
    double secs = (double)(now_ns() - start) / 1e9;
    if (first_error[0] != '\0')
        fprintf(stderr, "loadgen: %" PRIu64 " error replies; the first: %s\n", errors, first_error);

    printf("requests=%" PRIu64 " seconds=%.3f rps=%.1f gets=%" PRIu64 " sets=%" PRIu64
           " hits=%" PRIu64 " misses=%" PRIu64 " errors=%" PRIu64
           " mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f p9999_ms=%.3f max_ms=%.3f\n",
           done, secs, secs > 0 ? (double)done / secs : 0.0, gets, sets, hits, misses, errors,
           total->n ? (double)(total->sum / total->n) / 1e6 : 0.0, h_pct(total, 50) / 1e6,
           h_pct(total, 90) / 1e6, h_pct(total, 99) / 1e6, h_pct(total, 99.9) / 1e6,
           h_pct(total, 99.99) / 1e6, total->max / 1e6);
    fflush(stdout);
    int rc = 0;
    if (fatal)
        rc = 1;
    else if (opt.load > 0 && done != opt.load) {
        fprintf(stderr, "loadgen: loaded %" PRIu64 " of %" PRIu64 " keys\n", done, opt.load);
        rc = 1;
    }
    for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &cs[i];
        close(c->fd);
        if (c->reader != NULL)
            redisReaderFree(c->reader);
        free(c->out);
        free(c->in);
        free(c->sent_at);
        free(c->ops);
    }
    for (int i = 0; i < opt.threads; i++)
        close(ws[i].ep);
    free(cs);
    free(ws);
    free(total);
    free(vb);
    return rc;
}
