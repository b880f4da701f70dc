/*
 * cluster/coord.c — the replica coordinator's state machine; see coord.h.
 */
#include "cluster/coord.h"

#include <string.h>

enum { ST_IDLE, ST_SENT, ST_ANSWERED, ST_FAILED };

struct acts {
    struct coord_act *v;
    size_t n;
};

static void
emit(struct acts *a, enum coord_act_kind kind, size_t to, size_t owner)
{
    a->v[a->n++] = (struct coord_act){ .kind = kind, .to = (uint8_t)to, .owner = (uint8_t)owner };
}

static size_t
outstanding(const struct coord *co)
{
    size_t n = 0;

    for (size_t i = 0; i < co->nm; i++) {
        n += co->m[i].state == ST_SENT;
    }
    return n;
}

/* The write's copy for replica `owner` goes to the next free stand-in, or
 * stays here as a hint. */
static void
cover(struct coord *co, size_t owner, struct acts *a)
{
    co->m[owner].covered = true;
    for (size_t j = co->n; j < co->nm; j++) {
        if (co->m[j].up && co->m[j].state == ST_IDLE) {
            co->m[j].state = ST_SENT;
            co->m[j].owner = (uint8_t)owner;
            emit(a, COORD_HINT, j, owner);
            return;
        }
    }
    emit(a, COORD_KEEP_HINT, co->self, owner);
}

/* Keep reads at R - 1 outstanding while replicas are left to ask. */
static void
ask_more(struct coord *co, struct acts *a)
{
    for (size_t i = 0; i < co->n && co->acks + outstanding(co) < co->need; i++) {
        if (i != co->self && co->m[i].up && co->m[i].state == ST_IDLE) {
            co->m[i].state = ST_SENT;
            emit(a, COORD_GET, i, i);
        }
    }
}

static void
finish(struct coord *co, bool ok, struct acts *a)
{
    struct coord_act *d = &a->v[a->n++];

    co->done = true;
    *d = (struct coord_act){ .kind = COORD_DONE, .ok = ok, .acks = co->acks, .best = co->best };
    if (ok && co->kind == COORD_READ) {
        for (size_t i = 0; i < co->n; i++) {
            if (co->m[i].state == ST_ANSWERED && co->m[i].version < co->best_version) {
                emit(a, COORD_REPAIR, i, i);
            }
        }
    }
}

static void
check(struct coord *co, struct acts *a)
{
    if (co->done) {
        return;
    }
    if (co->acks >= co->need) {
        finish(co, true, a);
    } else if (outstanding(co) == 0) {
        finish(co, false, a);
    }
}

void
coord_init(struct coord *co, enum coord_kind kind, const struct coord_member *m, size_t nm,
           size_t self, size_t n, size_t need, uint64_t self_version)
{
    memset(co, 0, sizeof *co);
    co->kind = kind;
    co->nm = (uint8_t)(nm < COORD_MAX ? nm : COORD_MAX);
    co->n = (uint8_t)(n < co->nm ? n : co->nm);
    co->need = (uint8_t)(need < 1 ? 1 : need > co->n ? co->n : need);
    co->self = (uint8_t)self;
    for (size_t i = 0; i < co->nm; i++) {
        co->m[i].up = m[i].up;
        co->m[i].owner = (uint8_t)i;
    }
    co->m[self].state = ST_ANSWERED;
    co->m[self].version = self_version;
    co->best = (uint8_t)self;
    co->best_version = self_version;
    co->acks = 1;
}

void
coord_self_uncounted(struct coord *co)
{
    co->acks = 0;
}

size_t
coord_start(struct coord *co, struct coord_act *out)
{
    struct acts a = { out, 0 };

    if (co->kind == COORD_WRITE) {
        for (size_t i = 0; i < co->n; i++) {
            if (i == co->self) {
                continue;
            }
            if (co->m[i].up) {
                co->m[i].state = ST_SENT;
                emit(&a, COORD_PUT, i, i);
            } else {
                cover(co, i, &a);
            }
        }
    } else {
        ask_more(co, &a);
    }
    check(co, &a);
    return a.n;
}

size_t
coord_on_reply(struct coord *co, size_t from, bool ok, uint64_t version, struct coord_act *out)
{
    struct acts a = { out, 0 };

    if (from >= co->nm || co->m[from].state != ST_SENT) {
        return 0;
    }
    if (ok) {
        co->m[from].state = ST_ANSWERED;
        co->m[from].version = version;
        co->acks++;
        if (co->kind == COORD_READ && version > co->best_version) {
            co->best = (uint8_t)from;
            co->best_version = version;
        }
    } else {
        co->m[from].state = ST_FAILED;
        if (co->kind == COORD_WRITE) {
            cover(co, co->m[from].owner, &a);
        } else {
            ask_more(co, &a);
        }
    }
    check(co, &a);
    return a.n;
}

size_t
coord_on_refusal(struct coord *co, size_t from, struct coord_act *out)
{
    struct acts a = { out, 0 };

    if (from >= co->nm || co->m[from].state != ST_SENT) {
        return 0;
    }
    co->m[from].state = ST_FAILED;
    check(co, &a);
    return a.n;
}

size_t
coord_on_slow(struct coord *co, struct coord_act *out)
{
    struct acts a = { out, 0 };

    if (co->kind != COORD_READ || co->done) {
        return 0;
    }
    for (size_t i = 0; i < co->n; i++) {
        if (i != co->self && co->m[i].up && co->m[i].state == ST_IDLE) {
            co->m[i].state = ST_SENT;
            emit(&a, COORD_GET, i, i);
            break;
        }
    }
    return a.n;
}

size_t
coord_on_timeout(struct coord *co, struct coord_act *out)
{
    struct acts a = { out, 0 };

    co->expired = true;
    for (size_t i = 0; i < co->nm; i++) {
        if (co->m[i].state != ST_SENT) {
            continue;
        }
        co->m[i].state = ST_FAILED;
        if (co->kind == COORD_WRITE) {
            emit(&a, COORD_KEEP_HINT, co->self, co->m[i].owner);
        }
    }
    check(co, &a);
    return a.n;
}

unsigned
coord_acks(const struct coord *co)
{
    return co->acks;
}

bool
coord_acked(const struct coord *co, size_t i)
{
    return i < co->nm && co->m[i].state == ST_ANSWERED;
}

bool
coord_finished(const struct coord *co)
{
    return co->done && outstanding(co) == 0;
}
