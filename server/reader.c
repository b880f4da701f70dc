/*
 * server/reader.c — reader threads for the disk tier (see reader.h).
 *
 * A deferred command is a disk_job: a copy of its arguments, its reply
 * slot and a count of block reads still to do. Readers take (job, key)
 * pairs from one bounded queue; the reader finishing a job's last read
 * puts it on its worker's completion list and wakes the worker, which
 * re-runs the command with the reply captured into the slot, as cluster.c
 * does for a forwarded command. The client's `waiting` count keeps it
 * alive (a zombie) if it disconnects meanwhile.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "server/commands.h"
#include "server/log.h"
#include "server/reader.h"
#include "server/server.h"
#include "storage/store.h"

#define NREADERS 2
#define QCAP 1024 /* key reads queued at most; beyond it, read in place */

struct disk_job {
    struct disk_job *next;
    struct client *c;
    struct reply_slot *slot;
    _Atomic int pending;
    int argc;
    struct resp_arg *argv;  /* into the same allocation */
    int64_t t0_us;
};

struct qent {
    struct disk_job *j;
    const struct resp_arg *key;
};

bool reader_on;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct qent ring[QCAP];
    unsigned head, len;
    bool stop;
    pthread_t threads[NREADERS];
    int nthreads;
    _Atomic uint64_t async_cmds, async_reads, fallbacks, wait_us;
} rq = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void
job_finished(struct disk_job *j)
{
    struct worker *w = j->c->w;

    pthread_mutex_lock(&w->disk_lock);
    j->next = w->disk_list;
    w->disk_list = j;
    pthread_mutex_unlock(&w->disk_lock);
    event_active(w->disk_done, EV_READ, 0);
}

static void *
reader_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct qent e;

        pthread_mutex_lock(&rq.lock);
        while (rq.len == 0 && !rq.stop) {
            pthread_cond_wait(&rq.cond, &rq.lock);
        }
        if (rq.stop) {
            pthread_mutex_unlock(&rq.lock);
            return NULL;
        }
        e = rq.ring[rq.head];
        rq.head = (rq.head + 1) % QCAP;
        rq.len--;
        pthread_mutex_unlock(&rq.lock);
        store_prefetch(server.store, e.key->p, e.key->len);
        atomic_fetch_add_explicit(&rq.async_reads, 1, memory_order_relaxed);
        if (atomic_fetch_sub(&e.j->pending, 1) == 1) {
            job_finished(e.j);
        }
    }
}

/* Worker: run the commands whose reads are done, replies into their slots. */
static void
disk_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct disk_job *list;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->disk_lock);
    list = w->disk_list;
    w->disk_list = NULL;
    pthread_mutex_unlock(&w->disk_lock);
    while (list != NULL) {
        struct disk_job *j = list;
        struct client *c = j->c;

        list = j->next;
        atomic_fetch_add_explicit(&rq.wait_us, (uint64_t)(mono_us() - j->t0_us),
                                  memory_order_relaxed);
        c->disk_wait = false;
        if (client_wait_done(c)) {
            struct resp_buf saved = c->out;

            resp_buf_init(&c->out);
            c->no_route = true; /* runs here, and is not deferred again */
            commands_dispatch(c, j->argc, j->argv);
            c->no_route = false;
            j->slot->buf = c->out;
            c->out = saved;
            client_slot_done(c, j->slot);
            client_wake(c); /* sends it and runs the requests behind it */
        }
        free(j);
    }
}

static bool
reads_value(const struct command *cmd, int argc)
{
    /* plain SET, DEL, UNLINK and EXISTS never read a cold value */
    const char *n = cmd->name;

    return !((strcmp(n, "set") == 0 && argc == 3) || strcmp(n, "del") == 0 ||
             strcmp(n, "unlink") == 0 || strcmp(n, "exists") == 0);
}

bool
reader_defer(struct client *c, const struct command *cmd, int argc,
             const struct resp_arg *argv)
{
    int last, ncold = 0;
    int cold[64];
    size_t bytes;
    struct disk_job *j;
    char *p;

    if (cmd->first_key <= 0 || argc <= cmd->first_key || !reads_value(cmd, argc)) {
        return false;
    }
    last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    for (int i = cmd->first_key; i <= last && i < argc; i += cmd->step) {
        if (store_cold(server.store, argv[i].p, argv[i].len, c->now_ms)) {
            if (ncold == (int)(sizeof cold / sizeof cold[0])) {
                break; /* the rest are read in place */
            }
            cold[ncold++] = i;
        }
        if (cmd->step <= 0) {
            break;
        }
    }
    if (ncold == 0) {
        return false;
    }
    bytes = sizeof *j + (size_t)argc * sizeof *j->argv;
    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len + 1;
    }
    j = malloc(bytes);
    if (j == NULL) {
        return false;
    }
    j->c = c;
    j->argc = argc;
    j->argv = (struct resp_arg *)(j + 1);
    p = (char *)(j->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = '\0';
        j->argv[i].p = p;
        j->argv[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    atomic_init(&j->pending, ncold);
    j->t0_us = mono_us();
    pthread_mutex_lock(&rq.lock);
    if (rq.len + (unsigned)ncold > QCAP) {
        pthread_mutex_unlock(&rq.lock);
        free(j);
        atomic_fetch_add_explicit(&rq.fallbacks, 1, memory_order_relaxed);
        return false;
    }
    for (int k = 0; k < ncold; k++) {
        rq.ring[(rq.head + rq.len) % QCAP] = (struct qent){ j, &j->argv[cold[k]] };
        rq.len++;
    }
    pthread_cond_broadcast(&rq.cond);
    pthread_mutex_unlock(&rq.lock);
    /* The completion runs on this thread, later: nothing races with this. */
    j->slot = client_slot_push(c);
    c->waiting++;
    c->disk_wait = true;
    atomic_fetch_add_explicit(&rq.async_cmds, 1, memory_order_relaxed);
    return true;
}

void
reader_worker_setup(struct worker *w)
{
    pthread_mutex_init(&w->disk_lock, NULL);
    w->disk_list = NULL;
    w->disk_done = event_new(w->base, -1, EV_PERSIST, disk_done_cb, w);
    event_add(w->disk_done, NULL);
}

void
reader_worker_teardown(struct worker *w)
{
    if (w->disk_done != NULL) {
        event_free(w->disk_done);
        w->disk_done = NULL;
        while (w->disk_list != NULL) {
            struct disk_job *j = w->disk_list;
            w->disk_list = j->next;
            free(j);
        }
        pthread_mutex_destroy(&w->disk_lock);
    }
}

int
reader_start(void)
{
    rq.stop = false;
    for (int i = 0; i < NREADERS; i++) {
        if (pthread_create(&rq.threads[i], NULL, reader_main, NULL) != 0) {
            log_msg(LOG_WARNING, "Could not start a disk reader thread");
            reader_stop();
            return -1;
        }
        rq.nthreads++;
    }
    reader_on = true;
    return 0;
}

void
reader_stop(void)
{
    pthread_mutex_lock(&rq.lock);
    rq.stop = true;
    pthread_cond_broadcast(&rq.cond);
    pthread_mutex_unlock(&rq.lock);
    for (int i = 0; i < rq.nthreads; i++) {
        pthread_join(rq.threads[i], NULL);
    }
    rq.nthreads = 0;
    rq.len = 0;
    reader_on = false;
}

void
reader_stats(struct reader_stats *out)
{
    out->async_cmds = atomic_load_explicit(&rq.async_cmds, memory_order_relaxed);
    out->async_reads = atomic_load_explicit(&rq.async_reads, memory_order_relaxed);
    out->fallbacks = atomic_load_explicit(&rq.fallbacks, memory_order_relaxed);
    out->wait_us_total = atomic_load_explicit(&rq.wait_us, memory_order_relaxed);
}
