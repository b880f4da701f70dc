/*
 * tests/fuzz/fuzz_nodes_conf.c — nodes.conf (cluster/membership.c's
 * mbr_conf_parse), which a member reads at start to remember the cluster:
 * a file damaged on disk or edited by hand must be refused with its line,
 * never misread. What parses is loaded into a membership table as
 * server/cluster.c does (mbr_create with the myself line, then mbr_load).
 *
 * Properties checked beyond ASan/UBSan: a refusal names a line within the
 * file (or 0 for the file as a whole); what parses loads, and the table
 * written back as nodes.conf parses to the same members.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/membership.h"
#include "tests/fuzz/fuzz.h"

#define CAP 64
#define NOW 1700000000000LL

static void
check_reload(const struct mbr_member *members, size_t count, size_t myself)
{
    struct mbr_member self = members[myself], back[CAP];
    struct mbr_out *out = mbr_out_create();
    struct mbr_config cfg = { .seed = 7 };
    struct mbr *m;
    size_t len, n2, me2;
    unsigned line;
    char *text;

    /* a member starts joining or alive whatever it saved of itself */
    if (self.state != MBR_JOINING) {
        self.state = MBR_ALIVE;
    }
    m = mbr_create(&cfg, &self, NOW);
    FUZZ_CHECK(m != NULL && out != NULL);
    FUZZ_CHECK(mbr_load(m, members, count, myself, NOW, out) == MBR_OK);
    /* merge may keep out what it need not know (a stranger's tombstone) */
    FUZZ_CHECK(mbr_member_count(m) >= 1 && mbr_member_count(m) <= count);
    len = mbr_conf_format(m, NULL, 0);
    text = malloc(len + 1);
    FUZZ_CHECK(mbr_conf_format(m, text, len + 1) == len);
    FUZZ_CHECK(mbr_conf_parse(text, len, back, CAP, &n2, &me2, &line) == MBR_OK);
    FUZZ_CHECK(n2 == mbr_member_count(m) && strcmp(back[me2].id, self.id) == 0);
    for (size_t i = 0; i < n2; i++) {
        struct mbr_member mm;

        FUZZ_CHECK(mbr_member_find(m, back[i].id, &mm));
        FUZZ_CHECK(strcmp(mm.addr, back[i].addr) == 0 && mm.port == back[i].port &&
                   mm.bus_port == back[i].bus_port && mm.state == back[i].state &&
                   mm.incarnation == back[i].incarnation);
    }
    free(text);
    mbr_destroy(&m);
    mbr_out_destroy(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mbr_member members[CAP];
    size_t count = 0, myself = 0, lines = 1;
    unsigned line = 0;

    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    switch (mbr_conf_parse((const char *)data, size, members, CAP, &count, &myself, &line)) {
    case MBR_OK:
        FUZZ_CHECK(count >= 1 && count <= CAP && myself < count);
        check_reload(members, count, myself);
        break;
    case MBR_EPROTO:
    case MBR_ETOOBIG:
        FUZZ_CHECK(line <= lines);
        break;
    default:
        FUZZ_CHECK(!"an unexpected status");
    }
    return 0;
}
