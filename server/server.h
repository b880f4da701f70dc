/*
 * server/server.h — process-wide state, worker threads and client
 * connections.
 *
 * Threads: the main thread accepts connections, handles signals and hands
 * each socket to a worker, round-robin. Each worker runs its own libevent
 * loop and owns its clients for their whole life; commands run on the
 * worker that read them, straight against the thread-safe store. Fields a
 * client's owner changes and other threads read (CLIENT LIST, INFO) are
 * either atomics or guarded by server.clients_lock.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "resp/reader.h"
#include "resp/writer.h"

struct event;
struct event_base;
struct store;

#define RINGCACHE_VERSION PACKAGE_VERSION
/* The Redis version whose behaviour we match, reported where clients look. */
#define REDIS_COMPAT_VERSION "7.0.15"

/* Counters a worker bumps without atomic read-modify-write (it is their only
 * writer, but for CONFIG RESETSTAT's zeroing); INFO sums them with relaxed
 * loads. Counters another thread bumps (rejected_connections, the acceptor's)
 * live in struct server instead. */
#define WORKER_STATS(X)                                                        \
    X(total_connections_received, "connections accepted")                      \
    X(total_commands_processed, "commands executed")                          \
    X(total_net_input_bytes, "bytes read from clients")                       \
    X(total_net_output_bytes, "bytes written to clients")                     \
    X(keyspace_hits, "reads that found their key")                            \
    X(keyspace_misses, "reads that did not")                                  \
    X(total_error_replies, "error replies sent")                              \
    X(unexpected_error_replies, "internal errors")                            \
    X(client_query_buffer_limit_disconnections, "closed at the query limit")  \
    X(client_output_buffer_limit_disconnections, "closed at the output limit")

struct worker_stats {
#define X(name, desc) _Atomic uint64_t name;
    WORKER_STATS(X)
#undef X
};

#define STAT_ADD(w, field, n)                                                  \
    atomic_store_explicit(&(w)->stats.field,                                   \
                          atomic_load_explicit(&(w)->stats.field, memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define STAT_INC(w, field) STAT_ADD(w, field, 1)

struct client;
struct cluster_worker;
struct disk_job;

struct worker {
    int idx;
    pthread_t thread;
    struct event_base *base;
    struct event *wakeup;       /* new sockets, kills, shutdown */
    struct event *cron;         /* timeouts, active expiry */
    pthread_mutex_t inbox_lock; /* sockets handed over by the acceptor */
    struct handoff { int fd; int kind; } *inbox; /* kind: enum conn_kind */
    size_t inbox_len, inbox_cap;
    struct client *clients;     /* this worker's clients, owner-only list */
    _Atomic uint32_t nclients;
    _Atomic bool kill_pending;  /* some client of ours has kill set */
    /* Buffers lent to whichever client is being served, so an idle client
     * holds no buffer at all (see net.c). */
    struct resp_buf spare_in, spare_out;
    struct worker_stats stats;
    struct cmd_stat *cmdstats;  /* commands_count() entries */
    struct cluster_worker *cluster; /* links to other members (cluster.c) */
    /* Disk reads finished by reader threads (reader.c), tier on only. */
    struct event *disk_done;
    pthread_mutex_t disk_lock;
    struct disk_job *disk_list;
};

enum {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0, /* QUIT, protocol error */
    CLIENT_CLOSE_ASAP = 1 << 1,        /* killed or over a limit */
    CLIENT_READ_PAUSED = 1 << 2,       /* waiting for output to drain */
    CLIENT_BUS = 1 << 3,               /* a cluster bus connection */
    CLIENT_ZOMBIE = 1 << 4,            /* closed, freed when `waiting` ends */
    CLIENT_WRITE_ARMED = 1 << 5,       /* ev_write is added (socket was full) */
};

/* What accepted a connection: the client port, the cluster bus, or the
 * memcached port (memcache.c). */
enum conn_kind { CONN_CLIENT, CONN_BUS, CONN_MEMCACHE };

/* A reply that must wait its turn: the client has commands in flight on
 * other members, and replies go back in request order. A memcached
 * connection's replies are RESP until they go out (xlate). */
enum { SLOT_RAW, SLOT_MEMCACHE, SLOT_DISCARD };
struct reply_slot {
    struct reply_slot *next;
    struct resp_buf buf;
    bool done;
    uint8_t xlate;
    bool barrier;                 /* the connection reads on once it is sent */
};
#define CLIENT_MAX_SLOTS 1024 /* in-flight replies before reading pauses */

/* A connection's consistency levels (CONSISTENCY): the config's, or these. */
enum { CONS_DEFAULT, CONS_ONE, CONS_QUORUM, CONS_ALL, CONS_EXPLICIT };

struct rop;
struct mc_reader;

struct client {
    uint64_t id;
    int fd;
    struct worker *w;
    struct event *ev_read, *ev_write;
    struct resp_reader *rd;
    struct mc_reader *mc;         /* a memcached connection's reader, else NULL */
    struct resp_buf in, out;
    enum resp_proto proto;
    int flags;
    int waiting;                  /* replies expected from other members */
    struct reply_slot *slots, *slots_tail; /* in request order */
    int nslots;
    bool no_route;                /* run commands here (bus, scatter parts) */
    bool disk_wait;               /* a command waits for a disk read: the
                                   * requests after it wait too (reader.c) */
    bool barrier;                 /* a FLUSHALL runs on every member: the
                                   * requests after it wait for its reply */
    bool authed;
    bool limits_authed;           /* the reader's limits were set for authed */
    _Atomic bool kill;            /* set by CLIENT KILL from any thread */
    int64_t ctime_ms;
    _Atomic int64_t last_ms;      /* last interaction, for timeout and idle */
    int64_t obuf_soft_since_ms;   /* when the soft output limit was first hit */
    /* Static name of the last command: written by the owner (relaxed),
     * read by CLIENT LIST on any thread. */
    _Atomic(const char *) last_cmd;
    /* CLIENT LIST's view of the buffers and protocol, for threads other
     * than the owner: the owner publishes them after each round of reading,
     * running and writing (net.c, client_publish), others read them
     * relaxed, never the buffers themselves. */
    struct {
        _Atomic size_t qbuf, qbuf_free, qcap, obuf, ocap;
        _Atomic int proto;
        _Atomic unsigned cons; /* cons_kind | cons_r << 8 | cons_w << 16 */
    } pub;
    char addr[64], laddr[64];
    char *name, *lib_name, *lib_ver; /* guarded by server.clients_lock */
    struct client *prev, *next;   /* worker list */
    struct client *gprev, *gnext; /* global list, under clients_lock */
    /* Replication (replicate.c): levels, READONLY, and the last write for
     * WAIT (the op while it runs, then its final count of copies). */
    uint8_t cons_kind, cons_r, cons_w;
    bool readonly;
    struct rop *last_write_op;
    /* replicate.c's order of this connection's commands: its writes not
     * yet done, and the commands held behind them */
    struct repl_unit *repl_open, *repl_held;
    bool repl_releasing;
    unsigned last_write_acks;
    /* Scratch for the command being executed. */
    int64_t now_ms;
};

struct server {
    struct store *store;
    struct event_base *base;      /* main thread: accept, signals */
    struct worker *workers;
    int nworkers;
    int next_worker;
    int *listen_fds;
    struct event **listen_evs;
    int nlisten;
    pid_t pid;
    int64_t start_ms;
    char executable[1024], config_file[1024];
    char run_id[41];
    _Atomic uint64_t next_client_id;
    _Atomic uint32_t nclients;
    _Atomic uint32_t nbus;        /* bus connections from members (cluster.c) */
    _Atomic bool shutdown_asap;
    struct event *shutdown_ev;
    struct event *cron_ev;        /* main thread: ops/sec and memory peak */
    pthread_mutex_t clients_lock;
    struct client *clients;       /* global list for CLIENT LIST / KILL */
    _Atomic uint64_t stat_expired_reset, stat_evicted_reset;
    /* connections refused at maxclients: bumped by the acceptor (main
     * thread), zeroed by CONFIG RESETSTAT on a worker */
    _Atomic uint64_t stat_rejected_connections;
};

extern struct server server;

/* ---- net.c ----------------------------------------------------------------*/
int net_setup(void);        /* listeners and workers, started */
void net_run(void);         /* main loop until shutdown */
void net_teardown(void);    /* stop workers, close everything */
void net_request_shutdown(void);
int64_t now_ms(void);       /* CLOCK_REALTIME in ms */
/* Publish c's buffer sizes and protocol for CLIENT LIST (owner only). */
void client_publish(struct client *c);
int64_t mono_us(void);      /* CLOCK_MONOTONIC in us */
void random_hex_id(char out[41]); /* 40 random hex chars: run and node ids */
/* One "field:value" line of INFO text (info.c). */
void info_add(struct resp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void client_request_kill(struct client *c); /* any thread, clients_lock held */
/* Owner thread: one awaited reply arrived or failed. False when the client
 * is gone (and, if that was the last wait, now freed). */
bool client_wait_done(struct client *c);
/* Owner thread: the awaited replies are in c->out; send them and go on. */
void client_wake(struct client *c);
/* Owner thread: reserve the place of a reply that will come later. */
struct reply_slot *client_slot_push(struct client *c);
/* Owner thread: the slot's reply is complete: release what is in order. */
void client_slot_done(struct client *c, struct reply_slot *s);
/* Main thread: give an accepted socket to a worker. */
void net_hand_off(int fd, enum conn_kind kind);
/* Listen on one address ("127.0.0.1", "::1", "*"); -1 on failure. */
int net_listen(const char *host, int port);
/* net_listen, accepting its connections as `kind` (main loop). */
int net_listen_kind(const char *host, int port, enum conn_kind kind);
/* Close the client after flushing the replies already queued. */
void client_close_after_reply(struct client *c);
void worker_stats_sum(struct worker_stats *out);

/* ---- info.c, slowlog.c ------------------------------------------------------*/
void info_sample(void);     /* main thread, ten times a second */
void slowlog_teardown(void);

#endif
