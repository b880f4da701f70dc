/*
 * server/bus.c — peer links; see bus.h.
 */
#include "server/bus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "resp/reply.h"
#include "resp/writer.h"
#include "server/log.h"
#include "server/server.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* A peer that stops answering cannot grow us: requests past either bound
 * fail at once (the caller fails over or answers an error). */
#define MAX_PENDING 100000
#define MAX_UNSENT_BYTES (64u << 20)

struct pending {
    bus_reply_fn *fn;
    void *ctx;
    int64_t deadline_ms;
};

struct bus_link {
    struct event_base *base;
    char addr[64];
    uint16_t port;
    int fd;
    bool connected;
    struct event *ev_read, *ev_write;
    struct resp_buf in, out;
    struct pending *q;      /* ring buffer of outstanding requests */
    size_t qhead, qlen, qcap;
    int64_t retry_at_ms;
    int backoff_ms;
    struct resp_buf hello;  /* encoded request sent first on each connection */
    bool write_armed;       /* ev_write is added */
};

static void link_fail(struct bus_link *l, const char *why);

static void
pending_push(struct bus_link *l, bus_reply_fn *fn, void *ctx, int64_t deadline)
{
    if (l->qlen == l->qcap) {
        size_t cap = l->qcap ? l->qcap * 2 : 16;
        struct pending *q = malloc(cap * sizeof *q);

        if (q == NULL) {
            abort();
        }
        for (size_t i = 0; i < l->qlen; i++) {
            q[i] = l->q[(l->qhead + i) % l->qcap];
        }
        free(l->q);
        l->q = q;
        l->qhead = 0;
        l->qcap = cap;
    }
    l->q[(l->qhead + l->qlen) % l->qcap] = (struct pending){ fn, ctx, deadline };
    l->qlen++;
}

static struct pending
pending_pop(struct bus_link *l)
{
    struct pending p = l->q[l->qhead];

    l->qhead = (l->qhead + 1) % l->qcap;
    l->qlen--;
    return p;
}

static void
link_close(struct bus_link *l)
{
    if (l->fd >= 0) {
        event_free(l->ev_read);
        event_free(l->ev_write);
        close(l->fd);
        l->fd = -1;
    }
    l->connected = false;
    l->write_armed = false;
    resp_buf_deinit(&l->in);
    resp_buf_deinit(&l->out);
}

/* Close, fail everything queued, and back off before reconnecting. */
static void
link_fail(struct bus_link *l, const char *why)
{
    size_t fail_len = l->connected ? 0 : BUS_UNSENT;

    log_msg(LOG_VERBOSE, "cluster bus link to %s:%u failed: %s", l->addr, l->port, why);
    link_close(l);
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (l->backoff_ms > BACKOFF_MAX_MS) {
        l->backoff_ms = BACKOFF_MAX_MS;
    }
    l->retry_at_ms = now_ms() + l->backoff_ms;
    while (l->qlen > 0) {
        struct pending p = pending_pop(l);
        if (p.fn != NULL) {
            p.fn(p.ctx, NULL, fail_len);
        }
    }
}

static void
link_arm(struct bus_link *l)
{
    if (!l->write_armed) {
        l->write_armed = true;
        event_add(l->ev_write, NULL);
    }
}

static void
link_flush(struct bus_link *l)
{
    while (resp_buf_pending(&l->out) > 0) {
        ssize_t n = write(l->fd, l->out.data + l->out.pos, resp_buf_pending(&l->out));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            link_fail(l, strerror(errno));
            return;
        }
        resp_buf_consume(&l->out, (size_t)n);
    }
    if (resp_buf_pending(&l->out) > 0) {
        link_arm(l);
    } else if (l->write_armed) {
        l->write_armed = false;
        event_del(l->ev_write);
    }
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bus_link *l = arg;
    int err = 0;
    socklen_t len = sizeof err;

    (void)what;
    if (!l->connected) {
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            link_fail(l, strerror(err ? err : errno));
            return;
        }
        l->connected = true;
        l->backoff_ms = 0;
    }
    link_flush(l);
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bus_link *l = arg;
    ssize_t n;

    (void)what;
    resp_buf_reserve(&l->in, 16 * 1024);
    n = read(fd, l->in.data + l->in.len, l->in.cap - l->in.len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        link_fail(l, n == 0 ? "closed by peer" : strerror(errno));
        return;
    }
    l->in.len += (size_t)n;
    for (;;) {
        size_t used;
        enum resp_status st = resp_reply_scan(l->in.data + l->in.pos,
                                              resp_buf_pending(&l->in), &used);
        if (st == RESP_AGAIN) {
            break;
        }
        if (st != RESP_OK || l->qlen == 0) {
            /* A reply we cannot parse, or one nobody asked for: the stream
             * can no longer be trusted to line up with our requests. */
            link_fail(l, st != RESP_OK ? "malformed reply" : "unexpected reply");
            return;
        }
        struct pending p = pending_pop(l);
        if (p.fn != NULL) {
            p.fn(p.ctx, l->in.data + l->in.pos, used);
        }
        resp_buf_consume(&l->in, used);
    }
}

static bool
link_connect(struct bus_link *l)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t sl;
    int one = 1;

    if (inet_pton(AF_INET, l->addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(l->port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, l->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        return false;
    }
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        return false;
    }
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(l->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        close(l->fd);
        l->fd = -1;
        return false;
    }
    l->ev_read = event_new(l->base, l->fd, EV_READ | EV_PERSIST, link_read_cb, l);
    l->ev_write = event_new(l->base, l->fd, EV_WRITE | EV_PERSIST, link_write_cb, l);
    event_add(l->ev_read, NULL);
    l->write_armed = true;
    event_add(l->ev_write, NULL); /* fires when the connect completes */
    return true;
}

void
bus_link_set_hello(struct bus_link *l, int argc, const struct resp_arg *argv)
{
    resp_buf_deinit(&l->hello);
    resp_buf_init(&l->hello);
    if (argc > 0) {
        resp_add_array(&l->hello, (size_t)argc);
        for (int i = 0; i < argc; i++) {
            resp_add_bulk(&l->hello, argv[i].p, argv[i].len);
        }
    }
}

struct bus_link *
bus_link_create(struct event_base *base, const char *addr, uint16_t port)
{
    struct bus_link *l = calloc(1, sizeof *l);

    if (l == NULL) {
        return NULL;
    }
    l->base = base;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    l->port = port;
    l->fd = -1;
    return l;
}

void
bus_link_destroy(struct bus_link **lp)
{
    struct bus_link *l = *lp;

    if (l == NULL) {
        return;
    }
    link_fail(l, "link closed");
    resp_buf_deinit(&l->hello);
    free(l->q);
    free(l);
    *lp = NULL;
}

bool
bus_link_send(struct bus_link *l, int argc, const struct resp_arg *argv,
              int64_t deadline_ms, bus_reply_fn *fn, void *ctx)
{
    if (l->fd < 0) {
        if (now_ms() < l->retry_at_ms) {
            return false;
        }
        if (!link_connect(l)) {
            link_fail(l, "connect failed");
            return false;
        }
        if (l->hello.len > 0) {
            resp_add_raw(&l->out, l->hello.data, l->hello.len);
            /* the request behind it fails at its own deadline, so the
             * hello (the queue's head, which expiry checks) carries it */
            pending_push(l, NULL, NULL, deadline_ms);
        }
    }
    if (l->qlen >= MAX_PENDING || resp_buf_pending(&l->out) >= MAX_UNSENT_BYTES) {
        return false;
    }
    resp_add_array(&l->out, (size_t)argc);
    for (int i = 0; i < argc; i++) {
        resp_add_bulk(&l->out, argv[i].p, argv[i].len);
    }
    pending_push(l, fn, ctx, deadline_ms);
    /* Write on the next loop iteration, not now: every request the loop
     * queues meanwhile (a client's whole pipeline) goes in one write. */
    link_arm(l);
    return true;
}

void
bus_link_expire(struct bus_link *l, int64_t now)
{
    if (l->qlen > 0 && l->q[l->qhead].deadline_ms < now) {
        link_fail(l, "request timed out");
    }
}

bool
bus_link_matches(const struct bus_link *l, const char *addr, uint16_t port)
{
    return l->port == port && strcmp(l->addr, addr) == 0;
}

size_t
bus_link_pending(const struct bus_link *l)
{
    return l->qlen;
}
