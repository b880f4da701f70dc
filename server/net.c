/*
 * server/net.c — listeners, worker threads and client connections.
 *
 * The main thread accepts and hands each socket to a worker round-robin;
 * a worker reads, parses, dispatches and writes for its clients on its own
 * loop. Reads and replies go through buffers the worker lends to whichever
 * client it is serving: a client keeps a buffer only while it holds a
 * partial request or unsent replies, so ten thousand idle clients cost no
 * buffer memory, and the hot path allocates nothing.
 *
 * Memory per client is bounded: input by client-query-buffer-limit, output
 * by backpressure (a client whose replies pile up past OUT_PAUSE stops being
 * read until they drain) and by client-output-buffer-limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "resp/mcreader.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/log.h"
#include "server/memcache.h"
#include "server/reader.h"
#include "server/server.h"
#include "storage/store.h"

#define READ_CHUNK (16 * 1024)
#define BUF_KEEP (64 * 1024)     /* larger lent buffers are freed, not kept */
#define OUT_PAUSE (1024 * 1024)  /* stop reading a client with this much unsent */
#define MAX_ACCEPTS 1000
/* A bus peer proves itself (RC.AUTH) within this, or is closed. */
#define BUS_AUTH_TIMEOUT_MS 5000

struct server server;

int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
random_hex_id(char out[41])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[20] = { 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        ssize_t r = read(fd, raw, sizeof raw);
        (void)r;
        close(fd);
    }
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[40] = '\0';
}

static void client_process_input(struct client *c);
static bool client_flush(struct client *c);

/* ---- client lifetime ------------------------------------------------------*/

static void
format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", host, port);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg);

/* The reader's limits follow proto-max-bulk-len and whether the client has
 * authenticated (strangers may only send small requests, as in Redis). */
static void
client_sync_limits(struct client *c)
{
    struct resp_limits lim = RESP_LIMITS_DEFAULT;

    lim.max_bulk_len = (uint64_t)config_num(OPT_PROTO_MAX_BULK_LEN);
    lim.unauthenticated = !c->authed;
    resp_reader_set_limits(c->rd, &lim);
    c->limits_authed = c->authed;
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg);

static void
client_create(struct worker *w, int fd, enum conn_kind kind)
{
    bool bus = kind == CONN_BUS;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct client *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        atomic_fetch_sub(bus ? &server.nbus : &server.nclients, 1);
        return;
    }
    c->id = atomic_fetch_add(&server.next_client_id, 1);
    c->fd = fd;
    c->w = w;
    c->proto = RESP2;
    c->ctime_ms = now_ms();
    atomic_store(&c->last_ms, c->ctime_ms);
    atomic_store_explicit(&c->last_cmd, "NULL", memory_order_relaxed);
    c->rd = resp_reader_create(NULL);
    c->ev_read = event_new(w->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
    c->ev_write = event_new(w->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
    {
        char pass[8];
        config_str(OPT_REQUIREPASS, pass, sizeof pass);
        /* A bus peer proves itself with RC.AUTH when there is a secret. */
        c->authed = bus ? cluster_bus_open() : pass[0] == '\0';
    }
    if (bus) {
        c->flags |= CLIENT_BUS;
    }
    if (kind == CONN_MEMCACHE) {
        memcache_client_init(c);
    }
    client_sync_limits(c);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        format_addr(&ss, c->addr, sizeof c->addr);
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        format_addr(&ss, c->laddr, sizeof c->laddr);
    }
    c->next = w->clients;
    if (w->clients != NULL) {
        w->clients->prev = c;
    }
    w->clients = c;
    atomic_fetch_add(&w->nclients, 1);
    if (!bus) {
        /* members' links are not clients: CLIENT LIST and KILL, INFO's
         * connected_clients and maxclients leave them out */
        pthread_mutex_lock(&server.clients_lock);
        c->gnext = server.clients;
        if (server.clients != NULL) {
            server.clients->gprev = c;
        }
        server.clients = c;
        pthread_mutex_unlock(&server.clients_lock);
        STAT_INC(w, total_connections_received);
    }
    event_add(c->ev_read, NULL);
}

/* Free what is left of a client once nothing refers to it. */
static void
client_destroy(struct client *c)
{
    while (c->slots != NULL) {
        struct reply_slot *s = c->slots;
        c->slots = s->next;
        resp_buf_deinit(&s->buf);
        free(s);
    }
    resp_reader_destroy(&c->rd);
    memcache_client_deinit(c);
    resp_buf_deinit(&c->in);
    resp_buf_deinit(&c->out);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

/* Close the connection. A client still waiting for other members' replies
 * becomes a zombie: unlinked and closed, freed when the last reply comes. */
static void
client_free(struct client *c)
{
    struct worker *w = c->w;

    if (!(c->flags & CLIENT_BUS)) {
        pthread_mutex_lock(&server.clients_lock);
        if (c->gprev != NULL) {
            c->gprev->gnext = c->gnext;
        } else {
            server.clients = c->gnext;
        }
        if (c->gnext != NULL) {
            c->gnext->gprev = c->gprev;
        }
        pthread_mutex_unlock(&server.clients_lock);
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->clients = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    event_free(c->ev_read);
    event_free(c->ev_write);
    close(c->fd);
    atomic_fetch_sub(&w->nclients, 1);
    atomic_fetch_sub((c->flags & CLIENT_BUS) ? &server.nbus : &server.nclients, 1);
    if (c->waiting > 0) {
        c->flags |= CLIENT_ZOMBIE;
        return;
    }
    client_destroy(c);
}

bool
client_wait_done(struct client *c)
{
    c->waiting--;
    if (c->flags & CLIENT_ZOMBIE) {
        if (c->waiting == 0) {
            client_destroy(c);
        }
        return false;
    }
    return true;
}

void
client_wake(struct client *c)
{
    if (!(c->flags & CLIENT_ZOMBIE)) {
        event_active(c->ev_write, EV_WRITE, 0);
    }
}

struct reply_slot *
client_slot_push(struct client *c)
{
    struct reply_slot *s = calloc(1, sizeof *s);

    if (s == NULL) {
        abort();
    }
    if (c->slots_tail != NULL) {
        c->slots_tail->next = s;
    } else {
        c->slots = s;
    }
    c->slots_tail = s;
    c->nslots++;
    return s;
}

void
client_slot_done(struct client *c, struct reply_slot *s)
{
    s->done = true;
    while (c->slots != NULL && c->slots->done) {
        struct reply_slot *h = c->slots;

        if (h->xlate == SLOT_MEMCACHE) {
            memcache_unwrap(&h->buf, h->buf.pos);
        }
        if (h->xlate != SLOT_DISCARD) {
            resp_add_raw(&c->out, h->buf.data + h->buf.pos, resp_buf_pending(&h->buf));
        }
        if (h->barrier) {
            c->barrier = false;
        }
        resp_buf_deinit(&h->buf);
        c->slots = h->next;
        if (c->slots == NULL) {
            c->slots_tail = NULL;
        }
        c->nslots--;
        free(h);
    }
}

/* What the next reply is made by: a request, or a protocol error. */
struct reply_src {
    int argc;
    const struct resp_arg *argv;
    const char *protocol_error;
};

static void
reply_src_run(struct client *c, const struct reply_src *r)
{
    if (r->protocol_error != NULL) {
        reply_errorf(c, "ERR %s", r->protocol_error);
    } else {
        commands_dispatch(c, r->argc, r->argv);
    }
}

/* Make the next reply. While earlier replies are still in flight on other
 * members, it waits in a slot behind them. */
static void
client_reply_next(struct client *c, const struct reply_src *r)
{
    struct resp_buf direct;

    if (c->slots == NULL) {
        reply_src_run(c, r);
        return;
    }
    direct = c->out;
    resp_buf_init(&c->out);
    reply_src_run(c, r);
    if (resp_buf_pending(&c->out) > 0) {
        struct resp_buf mine = c->out;
        struct reply_slot *s;

        c->out = direct;
        s = client_slot_push(c);
        s->buf = mine;
        client_slot_done(c, s);
    } else {
        resp_buf_deinit(&c->out);
        c->out = direct;
    }
}

static void
client_run(struct client *c, int argc, const struct resp_arg *argv)
{
    client_reply_next(c, &(struct reply_src){ .argc = argc, .argv = argv });
}

void
client_request_kill(struct client *c)
{
    atomic_store(&c->kill, true);
    atomic_store(&c->w->kill_pending, true);
    event_active(c->w->wakeup, EV_READ, 0);
}

void
client_close_after_reply(struct client *c)
{
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* Give a lent buffer back to the worker once it is empty, or free it when it
 * grew large (one huge request must not pin memory for good). */
static void
buf_return(struct resp_buf *b, struct resp_buf *spare)
{
    if (resp_buf_pending(b) != 0 || b->cap == 0) {
        return;
    }
    if (spare->cap == 0 && b->cap <= BUF_KEEP) {
        *spare = *b;
        spare->pos = spare->len = 0;
    } else {
        resp_buf_deinit(spare->cap == 0 ? spare : b);
        if (spare->cap == 0 && b->cap != 0) {
            *spare = *b;
            spare->pos = spare->len = 0;
        }
    }
    resp_buf_init(b);
}

static void
buf_borrow(struct resp_buf *b, struct resp_buf *spare)
{
    if (b->cap == 0 && spare->cap != 0) {
        *b = *spare;
        resp_buf_init(spare);
    }
}

/* ---- reading and dispatch -------------------------------------------------*/

static bool
output_limits_hit(struct client *c)
{
    unsigned long long hard, soft;
    long long secs;
    size_t pending = resp_buf_pending(&c->out);

    config_cobl_normal(&hard, &soft, &secs);
    if (hard != 0 && pending > hard) {
        goto hit;
    }
    if (soft != 0 && pending > soft) {
        if (c->obuf_soft_since_ms == 0) {
            c->obuf_soft_since_ms = c->now_ms;
        } else if (c->now_ms - c->obuf_soft_since_ms > secs * 1000) {
            goto hit;
        }
    } else {
        c->obuf_soft_since_ms = 0;
    }
    return false;
hit:
    log_msg(LOG_WARNING, "Client id=%llu addr=%s scheduled to be closed ASAP for "
            "overcoming of output buffer limits.", (unsigned long long)c->id, c->addr);
    STAT_INC(c->w, client_output_buffer_limit_disconnections);
    c->flags |= CLIENT_CLOSE_ASAP;
    return true;
}

static void
pause_reading(struct client *c)
{
    if (!(c->flags & CLIENT_READ_PAUSED)) {
        c->flags |= CLIENT_READ_PAUSED;
        event_del(c->ev_read);
    }
}

/* A length in a RESP header at p ("<digits>\r\n"), or -1; *next is past
 * it. Only what prefetch_pipeline needs: no sign, at most 9 digits. */
static long
header_len(const char *p, const char *end, const char **next)
{
    long n = 0;
    int d = 0;

    for (; p < end && *p >= '0' && *p <= '9' && d < 10; p++, d++) {
        n = n * 10 + (*p - '0');
    }
    if (d == 0 || d == 10 || end - p < 2 || p[0] != '\r' || p[1] != '\n') {
        return -1;
    }
    *next = p + 2;
    return n;
}

/* Before running a pipeline, start loading the hash bucket of each
 * request's first argument (the key of GET, SET and most commands, and of
 * the bus's RC.PUT and RC.GET): the lookups that follow then overlap their
 * cache misses instead of taking them one after another, which is most of
 * a lookup's time once the keyspace is larger than the caches. Stops at
 * anything but a complete RESP array of bulks; a wrong guess costs one
 * useless prefetch. */
static void
prefetch_pipeline(const struct client *c)
{
    const char *p = c->in.data + c->in.pos, *end = p + resp_buf_pending(&c->in);
    struct store_key keys[STORE_PREFETCH_MAX];
    size_t n = 0;

    if (server.store == NULL || end - p < 64) {
        return; /* a lone request has nothing to overlap with */
    }
    for (; n < STORE_PREFETCH_MAX && end - p > 4 && *p == '*'; n++) {
        long argc = header_len(p + 1, end, &p);

        if (argc < 2) {
            break;
        }
        for (long i = 0; i < argc; i++) {
            long len;

            if (p >= end || *p != '$' || (len = header_len(p + 1, end, &p)) < 0 ||
                end - p < len + 2) {
                goto done; /* incomplete: what came before is still worth it */
            }
            if (i == 1) {
                keys[n] = (struct store_key){ p, (size_t)len };
            }
            p += len + 2;
        }
    }
done:
    if (n > 1) {
        store_prefetch_keys(server.store, n, keys);
    }
}

/* The same for a memcached connection's pipeline. */
static void
prefetch_mc_pipeline(const struct client *c)
{
    struct resp_arg found[STORE_PREFETCH_MAX];
    struct store_key keys[STORE_PREFETCH_MAX];
    size_t n;

    if (server.store == NULL || resp_buf_pending(&c->in) < 64) {
        return;
    }
    n = mc_pipeline_keys(c->in.data + c->in.pos, resp_buf_pending(&c->in), found,
                         STORE_PREFETCH_MAX);
    for (size_t i = 0; i < n; i++) {
        keys[i] = (struct store_key){ found[i].p, found[i].len };
    }
    if (n > 1) {
        store_prefetch_keys(server.store, n, keys);
    }
}

/* Run every complete request in c->in. Stops early when the client must
 * close, or when its unsent replies pass OUT_PAUSE (backpressure). */
static void
client_process_input(struct client *c)
{
    struct worker *w = c->w;
    struct resp_req req;
    size_t used, hint;

    buf_borrow(&c->out, &w->spare_out);
    if (c->mc == NULL) {
        client_sync_limits(c);
        prefetch_pipeline(c);
    } else {
        memcache_client_sync_limits(c);
        prefetch_mc_pipeline(c);
    }
    while (resp_buf_pending(&c->in) > 0 && c->nslots < CLIENT_MAX_SLOTS && !c->disk_wait &&
           !c->barrier && !(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP))) {
        if (c->mc != NULL) {
            enum resp_status st = memcache_run_next(c, c->in.data + c->in.pos,
                                                    resp_buf_pending(&c->in), &used);

            resp_buf_consume(&c->in, used);
            if (st == RESP_AGAIN) {
                break;
            }
            if (st != RESP_OK) {
                /* a line no request can be: memcached hangs up */
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                resp_buf_consume(&c->in, resp_buf_pending(&c->in));
                break;
            }
            goto ran;
        }
        if (c->limits_authed != c->authed) {
            client_sync_limits(c);
        }
        enum resp_status st = resp_reader_next(c->rd, c->in.data + c->in.pos,
                                               resp_buf_pending(&c->in), &req,
                                               &used, &hint);
        if (st == RESP_AGAIN) {
            /* No reservation for the rest of an announced bulk: the buffer
             * grows (doubling) with the bytes that arrive, so a header alone
             * costs nothing, whatever length it announces. */
            (void)hint;
            break;
        }
        if (st != RESP_OK) {
            log_msg(LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
                    resp_reader_error(c->rd), (unsigned long long)c->id, c->addr);
            /* behind any replies still in flight on other members */
            client_reply_next(c, &(struct reply_src){ .protocol_error = resp_reader_error(c->rd) });
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            resp_buf_consume(&c->in, resp_buf_pending(&c->in));
            break;
        }
        if (req.argc > 0 && c->slots != NULL && commands_waits_for_replies(req.argc, req.argv)) {
            break; /* run again once the replies in flight are in */
        }
        if (req.argc > 0) {
            client_run(c, req.argc, req.argv);
        }
        resp_buf_consume(&c->in, used);
    ran:
        if (resp_buf_pending(&c->out) > READ_CHUNK) {
            if (output_limits_hit(c) || !client_flush(c)) {
                break;
            }
            if (resp_buf_pending(&c->out) > OUT_PAUSE) {
                pause_reading(c);
                break;
            }
        }
    }
    buf_return(&c->in, &w->spare_in);
}

/* The query buffer could not grow: the client gets an error and is closed,
 * and the server goes on. */
static void
client_query_nomem(struct client *c)
{
    struct worker *w = c->w;

    log_msg(LOG_WARNING, "Closing client whose query buffer could not grow: "
            "id=%llu addr=%s qbuf=%zu", (unsigned long long)c->id, c->addr,
            resp_buf_pending(&c->in));
    resp_buf_deinit(&c->in);
    pause_reading(c);
    if (c->slots != NULL) {
        c->flags |= CLIENT_CLOSE_ASAP; /* an error now would jump the queue */
        return;
    }
    buf_borrow(&c->out, &w->spare_out);
    reply_error(c, ERR_QUERY_NOMEM);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct worker *w = c->w;
    size_t limit = (size_t)config_num(OPT_CLIENT_QUERY_BUFFER_LIMIT);
    size_t room;
    ssize_t n;

    (void)what;
    buf_borrow(&c->in, &w->spare_in);
    if (resp_buf_try_reserve(&c->in, READ_CHUNK) == NULL) {
        client_query_nomem(c);
        if (!client_flush(c)) {
            client_free(c);
        }
        return;
    }
    room = c->in.cap - c->in.len;
    n = read(fd, c->in.data + c->in.len, room);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            buf_return(&c->in, &w->spare_in);
            return;
        }
        if (n < 0) {
            log_msg(LOG_VERBOSE, "Reading from client: %s", strerror(errno));
        }
        client_free(c);
        return;
    }
    c->in.len += (size_t)n;
    STAT_ADD(w, total_net_input_bytes, (uint64_t)n);
    atomic_store_explicit(&c->last_ms, now_ms(), memory_order_relaxed);
    if (resp_buf_pending(&c->in) > limit) {
        log_msg(LOG_WARNING, "Closing client that reached max query buffer length: "
                "id=%llu addr=%s qbuf=%zu", (unsigned long long)c->id, c->addr,
                resp_buf_pending(&c->in));
        STAT_INC(w, client_query_buffer_limit_disconnections);
        client_free(c);
        return;
    }
    client_process_input(c);
    if (!client_flush(c)) {
        client_free(c);
    }
}

/* Send what is queued and arm the write event if the socket is full. Never
 * frees the client: returns false when it is finished (closed by a limit, a
 * write error, QUIT or a kill) and the caller must free it. */
static bool client_flush_inner(struct client *c);

void
client_publish(struct client *c)
{
    atomic_store_explicit(&c->pub.qbuf, resp_buf_pending(&c->in), memory_order_relaxed);
    atomic_store_explicit(&c->pub.qbuf_free, c->in.cap - c->in.len, memory_order_relaxed);
    atomic_store_explicit(&c->pub.qcap, c->in.cap, memory_order_relaxed);
    atomic_store_explicit(&c->pub.obuf, resp_buf_pending(&c->out), memory_order_relaxed);
    atomic_store_explicit(&c->pub.ocap, c->out.cap, memory_order_relaxed);
    atomic_store_explicit(&c->pub.proto, (int)c->proto, memory_order_relaxed);
}

static bool
client_flush(struct client *c)
{
    bool alive = client_flush_inner(c);

    client_publish(c); /* every round of reading and writing ends here */
    return alive;
}

static bool
client_flush_inner(struct client *c)
{
    struct worker *w = c->w;

    while (resp_buf_pending(&c->out) > 0 && !(c->flags & CLIENT_CLOSE_ASAP)) {
        ssize_t n = write(c->fd, c->out.data + c->out.pos, resp_buf_pending(&c->out));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                log_msg(LOG_VERBOSE, "Error writing to client: %s", strerror(errno));
                c->flags |= CLIENT_CLOSE_ASAP;
            }
            break;
        }
        resp_buf_consume(&c->out, (size_t)n);
        STAT_ADD(w, total_net_output_bytes, (uint64_t)n);
    }
    if (c->flags & CLIENT_CLOSE_ASAP) {
        return false;
    }
    if (resp_buf_pending(&c->out) > 0) {
        /* Our own flag, not event_pending(): libevent takes its base lock
         * for that, on every reply. */
        if (!(c->flags & CLIENT_WRITE_ARMED)) {
            c->flags |= CLIENT_WRITE_ARMED;
            event_add(c->ev_write, NULL);
        }
        return true;
    }
    if (c->flags & CLIENT_WRITE_ARMED) {
        c->flags &= ~CLIENT_WRITE_ARMED;
        event_del(c->ev_write);
    }
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && c->slots == NULL) {
        return false;
    }
    buf_return(&c->out, &w->spare_out);
    return true;
}

static void
client_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    (void)fd;
    (void)what;
    if (!client_flush(c)) {
        client_free(c);
        return;
    }
    if ((c->flags & CLIENT_READ_PAUSED) && resp_buf_pending(&c->out) <= OUT_PAUSE / 2) {
        c->flags &= ~CLIENT_READ_PAUSED;
        event_add(c->ev_read, NULL);
    }
    /* Requests buffered while output was paused, or while a reply came
     * from another member, get no new read event: run them now. */
    if (c->nslots < CLIENT_MAX_SLOTS && !(c->flags & CLIENT_READ_PAUSED) &&
        resp_buf_pending(&c->in) > 0) {
        client_process_input(c);
        if (!client_flush(c)) {
            client_free(c);
        }
    }
}

/* ---- worker loop ----------------------------------------------------------*/

static void
worker_wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct handoff fds[64];
    size_t n;

    (void)fd;
    (void)what;
    for (;;) {
        pthread_mutex_lock(&w->inbox_lock);
        n = w->inbox_len < 64 ? w->inbox_len : 64;
        memcpy(fds, w->inbox, n * sizeof *fds);
        memmove(w->inbox, w->inbox + n, (w->inbox_len - n) * sizeof *fds);
        w->inbox_len -= n;
        pthread_mutex_unlock(&w->inbox_lock);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            client_create(w, fds[i].fd, (enum conn_kind)fds[i].kind);
        }
    }
    for (struct client *c = atomic_exchange(&w->kill_pending, false) ? w->clients : NULL,
                       *next; c != NULL; c = next) {
        next = c->next;
        if (atomic_load(&c->kill)) {
            client_free(c);
        }
    }
    if (atomic_load(&server.shutdown_asap)) {
        event_base_loopbreak(w->base);
    }
}

static void
worker_cron_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    int64_t now = now_ms();
    long long timeout = config_num(OPT_TIMEOUT);
    struct timeval tv;
    long long hz = config_num(OPT_HZ);

    (void)fd;
    (void)what;
    for (struct client *c = w->clients, *next; c != NULL; c = next) {
        next = c->next;
        int64_t idle = now - atomic_load_explicit(&c->last_ms, memory_order_relaxed);
        if ((c->flags & CLIENT_BUS) && !c->authed && now - c->ctime_ms > BUS_AUTH_TIMEOUT_MS) {
            log_msg(LOG_VERBOSE, "Closing a bus connection that did not authenticate");
            client_free(c);
            continue;
        }
        if (timeout > 0 && idle > timeout * 1000 && resp_buf_pending(&c->out) == 0) {
            log_msg(LOG_VERBOSE, "Closing idle client id=%llu", (unsigned long long)c->id);
            client_free(c);
            continue;
        }
    }
    /* Each worker expires its own slice of the shards: no two workers
     * contend for the same shard's lock in the background. */
    store_active_expire(server.store, (unsigned)w->idx, (unsigned)server.nworkers,
                        1000, now);
    cluster_worker_cron(w, now);
    if (config_num(OPT_MAXMEMORY) > 0 && w->idx == 0) {
        store_evict_some(server.store, 1000, now);
    }
    tv.tv_sec = 0;
    tv.tv_usec = 1000000 / (hz > 0 ? hz : 10);
    event_add(w->cron, &tv);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    log_set_role('W');
    event_base_loop(w->base, 0);
    /* Shutdown: close this worker's clients on their own thread. */
    while (w->clients != NULL) {
        (void)client_flush(w->clients); /* best effort: the reply to SHUTDOWN etc. */
        client_free(w->clients);
    }
    return NULL;
}

/* ---- accepting ------------------------------------------------------------*/

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    (void)arg;
    for (int i = 0; i < MAX_ACCEPTS; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        long long ka = config_num(OPT_TCP_KEEPALIVE);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                log_msg(LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            }
            return;
        }
        if (atomic_fetch_add(&server.nclients, 1) >= (uint32_t)config_num(OPT_MAXCLIENTS)) {
            static const char msg[] = "-" ERR_MAX_CLIENTS "\r\n";
            ssize_t r = write(fd, msg, sizeof msg - 1);
            (void)r;
            close(fd);
            atomic_fetch_sub(&server.nclients, 1);
            atomic_fetch_add_explicit(&server.stat_rejected_connections, 1,
                                      memory_order_relaxed);
            continue;
        }
        if (ka > 0) {
            int idle = (int)ka, intvl = (int)(ka / 3 > 0 ? ka / 3 : 1), cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        }
        net_hand_off(fd, (enum conn_kind)(intptr_t)arg);
    }
}

void
net_hand_off(int fd, enum conn_kind kind)
{
    struct worker *w = &server.workers[server.next_worker];
    bool bus = kind == CONN_BUS;
    int one = 1;

    /* Replies go out as soon as they are written: no Nagle delay, on the
     * client port and on the bus alike (a forwarded reply would otherwise
     * wait for the peer's delayed ACK, ~40 ms). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    server.next_worker = (server.next_worker + 1) % server.nworkers;
    pthread_mutex_lock(&w->inbox_lock);
    if (w->inbox_len == w->inbox_cap) {
        size_t cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
        struct handoff *p = realloc(w->inbox, cap * sizeof *p);
        if (p == NULL) {
            pthread_mutex_unlock(&w->inbox_lock);
            close(fd);
            atomic_fetch_sub(bus ? &server.nbus : &server.nclients, 1);
            return;
        }
        w->inbox = p;
        w->inbox_cap = cap;
    }
    w->inbox[w->inbox_len++] = (struct handoff){ fd, (int)kind };
    pthread_mutex_unlock(&w->inbox_lock);
    event_active(w->wakeup, EV_READ, 0);
}

int
net_listen(const char *host, int port)
{
    int backlog = (int)config_num(OPT_TCP_BACKLOG);
    struct addrinfo hints = { 0 }, *res, *ai;
    char portstr[16];
    int rc, fd = -1;

    hints.ai_family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    if (strcmp(host, "*") == 0) {
        host = "0.0.0.0";
        hints.ai_family = AF_INET;
    } else if (strcmp(host, "::*") == 0) {
        host = "::";
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        log_msg(LOG_WARNING, "Could not create server TCP listening socket %s:%d: %s",
                host, port, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
            break;
        }
        log_msg(LOG_WARNING, "Could not create server TCP listening socket %s:%d: bind: %s",
                host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int
net_listen_kind(const char *host, int port, enum conn_kind kind)
{
    int fd = net_listen(host, port);

    if (fd < 0) {
        return -1;
    }
    server.listen_fds = realloc(server.listen_fds, (size_t)(server.nlisten + 1) * sizeof(int));
    server.listen_evs = realloc(server.listen_evs, (size_t)(server.nlisten + 1) * sizeof(void *));
    server.listen_fds[server.nlisten] = fd;
    server.listen_evs[server.nlisten] =
        event_new(server.base, fd, EV_READ | EV_PERSIST, accept_cb, (void *)(intptr_t)kind);
    event_add(server.listen_evs[server.nlisten], NULL);
    server.nlisten++;
    return fd;
}

static void
shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(server.base);
}

static void
main_cron_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    info_sample();
    memcache_tick(now_ms());
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    log_msg(LOG_WARNING, "Received %s scheduling shutdown...",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    net_request_shutdown();
}

void
net_request_shutdown(void)
{
    atomic_store(&server.shutdown_asap, true);
    event_active(server.shutdown_ev, EV_READ, 0);
}

static int
worker_start(struct worker *w, int idx)
{
    struct timeval tv = { 0, 100000 };

    w->idx = idx;
    w->cmdstats = calloc(commands_count(), sizeof *w->cmdstats);
    cluster_worker_setup(w);
    w->base = event_base_new();
    if (w->base == NULL) {
        return -1;
    }
    pthread_mutex_init(&w->inbox_lock, NULL);
    w->wakeup = event_new(w->base, -1, EV_PERSIST, worker_wakeup_cb, w);
    w->cron = event_new(w->base, -1, 0, worker_cron_cb, w);
    /* A persistent event with no fd and no timeout never fires by itself
     * but keeps the loop alive; event_active() wakes it. */
    event_add(w->wakeup, NULL);
    event_add(w->cron, &tv);
    if (store_tier(server.store) != NULL) {
        reader_worker_setup(w);
    }
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

int
net_setup(void)
{
    char bind[1024];
    int port = (int)config_num(OPT_PORT);
    long long nthreads = config_num(OPT_IO_THREADS);

    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&server.clients_lock, NULL);
    atomic_store(&server.next_client_id, 1);
    server.base = event_base_new();
    if (server.base == NULL) {
        log_msg(LOG_WARNING, "Could not create the event loop");
        return -1;
    }
    server.shutdown_ev = event_new(server.base, -1, EV_PERSIST, shutdown_cb, NULL);
    event_add(server.shutdown_ev, NULL);
    server.cron_ev = event_new(server.base, -1, EV_PERSIST, main_cron_cb, NULL);
    event_add(server.cron_ev, &(struct timeval){ 0, 100000 });
    event_add(evsignal_new(server.base, SIGTERM, signal_cb, NULL), NULL);
    event_add(evsignal_new(server.base, SIGINT, signal_cb, NULL), NULL);

    config_str(OPT_BIND, bind, sizeof bind);
    if (port != 0) {
        for (char *save = NULL, *tok = strtok_r(bind, " ", &save); tok != NULL;
             tok = strtok_r(NULL, " ", &save)) {
            bool optional = tok[0] == '-';

            if (net_listen_kind(optional ? tok + 1 : tok, port, CONN_CLIENT) < 0 && !optional) {
                log_msg(LOG_WARNING, "Failed listening on port %d (tcp), aborting.", port);
                return -1;
            }
        }
    }
    if (nthreads <= 0) {
        /* One core is left to the kernel's network work and to whatever
         * else runs on the machine (docs/architecture.md, "Threads"). */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = ncpu > 1 ? ncpu - 1 : 1;
    }
    server.nworkers = (int)nthreads;
    server.workers = calloc((size_t)nthreads, sizeof *server.workers);
    for (int i = 0; i < server.nworkers; i++) {
        if (worker_start(&server.workers[i], i) < 0) {
            log_msg(LOG_WARNING, "Could not start worker thread %d", i);
            return -1;
        }
    }
    if (store_tier(server.store) != NULL && reader_start() < 0) {
        return -1;
    }
    return 0;
}

void
net_run(void)
{
    event_base_dispatch(server.base);
}

void
net_teardown(void)
{
    for (int i = 0; i < server.nlisten; i++) {
        event_free(server.listen_evs[i]);
        close(server.listen_fds[i]);
    }
    server.nlisten = 0;
    atomic_store(&server.shutdown_asap, true);
    for (int i = 0; i < server.nworkers; i++) {
        struct worker *w = &server.workers[i];
        event_active(w->wakeup, EV_READ, 0);
        pthread_join(w->thread, NULL);
    }
    if (reader_on) {
        reader_stop(); /* before the workers' events go */
    }
    for (int i = 0; i < server.nworkers; i++) {
        struct worker *w = &server.workers[i];
        reader_worker_teardown(w);
        cluster_worker_teardown(w);
        for (size_t j = 0; j < w->inbox_len; j++) {
            close(w->inbox[j].fd);
        }
        free(w->inbox);
        event_free(w->wakeup);
        event_free(w->cron);
        event_base_free(w->base);
        resp_buf_deinit(&w->spare_in);
        resp_buf_deinit(&w->spare_out);
        free(w->cmdstats);
        pthread_mutex_destroy(&w->inbox_lock);
    }
    free(server.workers);
    event_free(server.cron_ev);
    event_free(server.shutdown_ev);
    free(server.listen_fds);
    free(server.listen_evs);
    server.workers = NULL;
    server.nworkers = 0;
}

void
worker_stats_sum(struct worker_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < server.nworkers; i++) {
#define X(name, desc) \
        atomic_store(&out->name, atomic_load(&out->name) + \
                     atomic_load_explicit(&server.workers[i].stats.name, memory_order_relaxed));
        WORKER_STATS(X)
#undef X
    }
}
