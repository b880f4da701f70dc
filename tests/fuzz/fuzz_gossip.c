/*
 * tests/fuzz/fuzz_gossip.c — the cluster bus's gossip path, from a peer's
 * bytes to the membership table: the RESP reader cuts the bus stream into
 * requests (authenticated limits), each GOSSIP.* request is decoded with
 * mbr_msg_decode into a record array sized as cluster_bus_dispatch sizes
 * it, and each decoded message is fed to mbr_receive on a node that knows
 * two other members (so records about known ids, self and strangers all
 * occur). A tick follows every message, as the main thread's timer would.
 *
 * Properties checked beyond ASan/UBSan: a decoded message encodes (we
 * accept nothing we would refuse to send) and decodes back to itself;
 * every message the node sends in answer encodes; the table the messages
 * built is written as nodes.conf that parses back.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/membership.h"
#include "resp/reader.h"
#include "tests/fuzz/fuzz.h"

#define NOW 1700000000000LL
#define SELF_ID "1111111111111111111111111111111111111111"

static const struct mbr_member known[3] = {
    { SELF_ID, "127.0.0.1", 7001, 17001, MBR_ALIVE, 3, 0 },
    { "2222222222222222222222222222222222222222", "127.0.0.1", 7002, 17002, MBR_ALIVE, 1, 0 },
    { "3333333333333333333333333333333333333333", "::1", 7003, 17003, MBR_SUSPECT, 7, 0 },
};

/* Room to re-encode the largest message the decoder accepts. */
static struct resp_arg enc_argv[MBR_ENCODE_ARGC(MBR_MAX_RECORDS)];
static char enc_buf[MBR_ENCODE_BUF(MBR_MAX_RECORDS)];
static struct mbr_record dec_recs[MBR_MAX_RECORDS];

static bool
records_equal(const struct mbr_record *a, const struct mbr_record *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->addr, b->addr) == 0 &&
           a->port == b->port && a->bus_port == b->bus_port && a->state == b->state &&
           a->incarnation == b->incarnation && a->age_ms == b->age_ms;
}

/* msg encodes, and the encoding decodes to msg. */
static void
check_round_trip(const struct mbr_msg *msg)
{
    struct mbr_msg back;
    size_t argc;

    FUZZ_CHECK(mbr_msg_encode(msg, enc_argv, MBR_ENCODE_ARGC(MBR_MAX_RECORDS), enc_buf,
                              sizeof enc_buf, &argc) == MBR_OK);
    FUZZ_CHECK(mbr_msg_decode(enc_argv, argc, &back, dec_recs, MBR_MAX_RECORDS) == MBR_OK);
    FUZZ_CHECK(back.type == msg->type && back.nrecords == msg->nrecords);
    if (msg->type == MBR_MSG_PING || msg->type == MBR_MSG_ACK || msg->type == MBR_MSG_PINGREQ) {
        FUZZ_CHECK(back.seq == msg->seq && strcmp(back.target, msg->target) == 0);
    }
    for (size_t i = 0; i < msg->nrecords; i++) {
        FUZZ_CHECK(records_equal(&back.records[i], &msg->records[i]));
    }
}

static void
drain(struct mbr_out *out)
{
    for (size_t i = 0; i < mbr_out_count(out); i++) {
        const struct mbr_action *a = mbr_out_at(out, i);

        if (a->kind == MBR_ACT_SEND) {
            check_round_trip(&a->send.msg);
        }
    }
    mbr_out_clear(out);
}

/* What the messages built can be saved and read back at the next start. */
static void
check_nodes_conf(const struct mbr *m)
{
    size_t len = mbr_conf_format(m, NULL, 0), count, myself;
    char *text = malloc(len + 1);
    struct mbr_member *members = calloc(mbr_member_count(m), sizeof *members);
    unsigned line;

    FUZZ_CHECK(mbr_conf_format(m, text, len + 1) == len);
    FUZZ_CHECK(mbr_conf_parse(text, len, members, mbr_member_count(m), &count, &myself,
                              &line) == MBR_OK);
    FUZZ_CHECK(count == mbr_member_count(m) && strcmp(members[myself].id, SELF_ID) == 0);
    free(members);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    struct resp_reader *rd = resp_reader_create(&lim);
    struct mbr_config cfg = { .seed = 42 };
    struct mbr *m = mbr_create(&cfg, &known[0], NOW);
    struct mbr_out *out = mbr_out_create();
    const char *p = (const char *)data;
    size_t left = size;
    int64_t now = NOW;

    FUZZ_CHECK(rd != NULL && m != NULL && out != NULL);
    FUZZ_CHECK(mbr_load(m, known, 3, 0, now, out) == MBR_OK);
    drain(out);
    while (left > 0) {
        struct resp_req req;
        size_t used;

        if (resp_reader_next(rd, p, left, &req, &used, NULL) != RESP_OK) {
            break; /* incomplete, or a protocol error: the link closes */
        }
        p += used;
        left -= used;
        if (req.argc == 0 || req.argv[0].len <= 7 ||
            strncasecmp(req.argv[0].p, "gossip.", 7) != 0) {
            continue;
        }
        /* as cluster_bus_dispatch: room for what argc can hold, bounded */
        size_t cap = (size_t)req.argc / 7 + 1 > MBR_MAX_RECORDS ? MBR_MAX_RECORDS
                                                                : (size_t)req.argc / 7 + 1;
        struct mbr_record *recs = calloc(cap, sizeof *recs);
        struct mbr_msg msg;

        if (mbr_msg_decode(req.argv, (size_t)req.argc, &msg, recs, cap) == MBR_OK) {
            FUZZ_CHECK(msg.records == recs && msg.nrecords >= 1 && msg.nrecords <= cap);
            check_round_trip(&msg);
            now += 10;
            mbr_receive(m, NULL, &msg, now, out);
            drain(out);
            mbr_tick(m, now, out);
            drain(out);
        } else {
            FUZZ_CHECK(msg.records == recs && msg.nrecords == 0);
        }
        free(recs);
    }
    check_nodes_conf(m);
    mbr_out_destroy(&out);
    mbr_destroy(&m);
    resp_reader_destroy(&rd);
    return 0;
}
