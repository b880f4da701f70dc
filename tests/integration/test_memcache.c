/*
 * tests/integration/test_memcache.c — the memcached port of a real server
 * (and, built with -DHARNESS_CLUSTER=3, of member 1 of a 3-member cluster
 * with replicas 3): memcached 1.6's exact replies to the text commands,
 * CAS, noreply, pipelines and requests split at every byte, refused items,
 * flush_all, and the keyspace shared with RESP (flags, TTLs). The byte
 * strings here were checked against Debian's memcached 1.6.18; the
 * differential suite (tests/memcached/) compares hundreds more against a
 * memcached it starts.
 */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

TestSuite(memcache, .init = harness_setup, .fini = harness_teardown, .timeout = 60);

#define SEND(fd, s) harness_raw_send(fd, s, sizeof(s) - 1)
#define EXPECT(fd, s) raw_expect(fd, s)

static int
mc_connect(void)
{
    cr_assert(srv->mc_port > 0);
    return harness_raw_connect_port(srv->mc_port);
}

/* Request, then its exact reply, one pair at a time. */
static void
exchange(int fd, const char *const pairs[][2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        harness_raw_send(fd, pairs[i][0], strlen(pairs[i][0]));
        harness_raw_expect_at(__FILE__, __LINE__, fd, pairs[i][1], strlen(pairs[i][1]));
    }
}

Test(memcache, text_commands_answer_as_memcached_does)
{
    static const char *const pairs[][2] = {
        { "set a 5 0 3\r\nabc\r\n", "STORED\r\n" },
        { "get a b\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n" },
        { "add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n" },
        { "replace nokey 0 0 1\r\nx\r\n", "NOT_STORED\r\n" },
        { "append a 9 0 2\r\nxy\r\n", "STORED\r\n" },
        { "prepend a 9 0 2\r\n<<\r\n", "STORED\r\n" },
        { "get a\r\n", "VALUE a 5 7\r\n<<abcxy\r\nEND\r\n" },
        { "append nokey 0 0 1\r\nx\r\n", "NOT_STORED\r\n" },
        { "incr a 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
        { "incr nokey 1\r\n", "NOT_FOUND\r\n" },
        { "set n 3 0 2\r\n10\r\n", "STORED\r\n" },
        { "decr n 1\r\n", "9\r\n" },
        { "get n\r\n", "VALUE n 3 2\r\n9 \r\nEND\r\n" },
        { "decr n 100\r\n", "0\r\n" },
        { "incr n 18446744073709551615\r\n", "18446744073709551615\r\n" },
        { "incr n 2\r\n", "1\r\n" },
        { "incr n x\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n" },
        { "touch n 100\r\n", "TOUCHED\r\n" },
        { "touch nokey 100\r\n", "NOT_FOUND\r\n" },
        { "delete n\r\n", "DELETED\r\n" },
        { "delete n\r\n", "NOT_FOUND\r\n" },
        { "delete a 1\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n" },
        { "set k 4294967295 0 1\r\nz\r\n", "STORED\r\n" },
        { "get k\r\n", "VALUE k 4294967295 1\r\nz\r\nEND\r\n" },
        { "set k 0 0 3\r\nabcde\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n" },
        { "set k x 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
        { "set k 0 0 1\r\nx\r\n", "STORED\r\n" },
        { "bogus\r\n", "ERROR\r\n" },
        { "get\r\n", "ERROR\r\n" },
        { "verbosity 1\r\n", "OK\r\n" },
        { "mn\r\n", "MN\r\n" },
        { "gat 100 k nokey\r\n", "VALUE k 0 1\r\nx\r\nEND\r\n" },
        { "gats 0 nokey\r\n", "END\r\n" },
        { "touch k -1\r\n", "TOUCHED\r\n" },
        { "get k\r\n", "END\r\n" },
    };
    int fd = mc_connect();

    exchange(fd, pairs, sizeof pairs / sizeof pairs[0]);
    close(fd);
}

Test(memcache, cas_is_the_items_version)
{
    int fd = mc_connect();
    char buf[256], req[128];
    unsigned long long cas;
    size_t n;

    SEND(fd, "set c 0 0 1\r\nx\r\ngets c\r\n");
    EXPECT(fd, "STORED\r\n");
    n = harness_raw_read(fd, buf, sizeof buf - 1, 3000);
    buf[n] = '\0';
    cr_assert(sscanf(buf, "VALUE c 0 1 %llu\r\n", &cas) == 1, "%s", buf);
    cr_assert(cas != 0);
    snprintf(req, sizeof req, "cas c 0 0 1 %llu\r\ny\r\n", cas);
    harness_raw_send(fd, req, strlen(req));
    EXPECT(fd, "STORED\r\n");
    harness_raw_send(fd, req, strlen(req)); /* the version moved on */
    EXPECT(fd, "EXISTS\r\n");
    SEND(fd, "cas nokey 0 0 1 1\r\ny\r\n");
    EXPECT(fd, "NOT_FOUND\r\n");
    SEND(fd, "get c\r\n");
    EXPECT(fd, "VALUE c 0 1\r\ny\r\nEND\r\n");
    close(fd);
}

Test(memcache, noreply_and_pipelines_answer_only_what_must_be_answered)
{
    int fd = mc_connect();

    SEND(fd, "set p1 0 0 1 noreply\r\na\r\nset p2 0 0 1 noreply\r\nb\r\nincr p1 1 noreply\r\n"
             "delete nokey noreply\r\nset p3 0 0 x noreply\r\nget p1 p2 p3\r\n");
    EXPECT(fd, "VALUE p1 0 1\r\na\r\nVALUE p2 0 1\r\nb\r\nEND\r\n");
    close(fd);
}

Test(memcache, a_request_split_at_every_byte_is_answered_once)
{
    static const char req[] = "set split 7 0 5\r\nhello\r\nget split\r\n";
    int fd = mc_connect();

    for (size_t i = 0; i < sizeof req - 1; i++) {
        harness_raw_send(fd, req + i, 1);
        harness_sleep_ms(2);
    }
    EXPECT(fd, "STORED\r\nVALUE split 7 5\r\nhello\r\nEND\r\n");
    close(fd);
}

Test(memcache, an_item_over_item_size_max_is_refused_its_data_skipped_and_the_old_value_dropped)
{
    size_t len = 2 * 1024 * 1024;
    char *big = malloc(len + 64);
    int fd = mc_connect();
    int n;

    SEND(fd, "set big 0 0 1\r\nv\r\n");
    EXPECT(fd, "STORED\r\n");
    n = snprintf(big, 64, "set big 0 0 %zu\r\n", len);
    memset(big + n, 'x', len);
    memcpy(big + n + len, "\r\n", 2);
    harness_raw_send(fd, big, (size_t)n + len + 2);
    EXPECT(fd, "SERVER_ERROR object too large for cache\r\n");
    SEND(fd, "get big\r\n");
    EXPECT(fd, "END\r\n");
    close(fd);
    free(big);
}

/* item-size-max is runtime: a connection already open follows it */
Test(memcache, item_size_max_set_at_runtime_bounds_open_connections)
{
    char item[2100];
    int fd = mc_connect(), n;
    redisReply *r;

    n = snprintf(item, sizeof item, "set mid 0 0 2000\r\n");
    memset(item + n, 'm', 2000);
    memcpy(item + n + 2000, "\r\n", 2);
    harness_raw_send(fd, item, (size_t)n + 2002);
    EXPECT(fd, "STORED\r\n");
    r = harness_cmd(rc, "CONFIG SET item-size-max 1024");
    cr_assert(eq(str, r->str, "OK"));
    freeReplyObject(r);
    harness_raw_send(fd, item, (size_t)n + 2002);
    EXPECT(fd, "SERVER_ERROR object too large for cache\r\n");
    SEND(fd, "get mid\r\n");
    EXPECT(fd, "END\r\n");
    freeReplyObject(harness_cmd(rc, "CONFIG SET item-size-max 1mb"));
    close(fd);
}

Test(memcache, flush_all_empties_every_copy_before_the_next_request)
{
    int fd = mc_connect();

    for (int i = 0; i < 20; i++) {
        SEND(fd, "set f 0 0 1\r\nx\r\nflush_all\r\nget f\r\n");
        EXPECT(fd, "STORED\r\nOK\r\nEND\r\n");
    }
    SEND(fd, "flush_all noreply\r\nflush_all 0\r\n");
    EXPECT(fd, "OK\r\n");
    close(fd);
}

Test(memcache, negative_and_past_exptimes_expire_at_once)
{
    int fd = mc_connect();

    SEND(fd, "set e1 0 -1 1\r\nx\r\nset e2 0 1000000000 1\r\nx\r\nget e1 e2\r\n");
    EXPECT(fd, "STORED\r\nSTORED\r\nEND\r\n");
    /* over a value: the value goes too, on every copy */
    SEND(fd, "set e3 0 0 3\r\nold\r\nset e4 0 0 3\r\nold\r\n");
    EXPECT(fd, "STORED\r\nSTORED\r\n");
    SEND(fd, "set e3 0 -1 1\r\nx\r\nset e4 0 1000000000 1\r\nx\r\n");
    EXPECT(fd, "STORED\r\nSTORED\r\n");
    close(fd);
    for (int i = 0; i < 3; i++) {
        fd = harness_raw_connect_port(harness_member(i)->mc_port);
        SEND(fd, "get e3 e4\r\n");
        EXPECT(fd, "END\r\n");
        close(fd);
    }
}

Test(memcache, the_keyspace_is_shared_with_resp)
{
    int fd = mc_connect();
    long long ttl;

    expect_ok(rc, "SET fromresp hello");
    SEND(fd, "get fromresp\r\n");
    EXPECT(fd, "VALUE fromresp 0 5\r\nhello\r\nEND\r\n");
    SEND(fd, "set frommc 5 100 3\r\nabc\r\n");
    EXPECT(fd, "STORED\r\n");
    expect_bulk(rc, "abc", "GET frommc");
    {
        redisReply *r = harness_cmd(rc, "TTL frommc");
        ttl = r->integer;
        freeReplyObject(r);
    }
    cr_assert(ttl == 100 || ttl == 99, "TTL %lld", ttl);
    /* a RESP write keeps no flags */
    expect_ok(rc, "SET frommc xyz");
    SEND(fd, "get frommc\r\n");
    EXPECT(fd, "VALUE frommc 0 3\r\nxyz\r\nEND\r\n");
    /* memcached's commands are not RESP commands */
    expect_error(rc, "ERR unknown command 'MC.GET', with args beginning with: 'frommc' '0' ",
                   "MC.GET frommc 0");
    close(fd);
}

Test(memcache, stats_report_the_fields_clients_read)
{
    static const char *const fields[] = { "STAT pid ", "STAT uptime ", "STAT version ",
                                          "STAT curr_items ", "STAT get_hits ",
                                          "STAT cmd_get ", "STAT limit_maxbytes ",
                                          "STAT curr_connections ", "STAT threads " };
    int fd = mc_connect();
    char buf[8192];
    size_t n = 0;

    SEND(fd, "get nokey\r\n");
    EXPECT(fd, "END\r\n");
    SEND(fd, "stats\r\n");
    while (n < sizeof buf - 1 && (n < 5 || memcmp(buf + n - 5, "END\r\n", 5) != 0)) {
        size_t got = harness_raw_read(fd, buf + n, 1, 3000);

        if (got == 0) {
            break;
        }
        n += got;
    }
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        cr_assert(strstr(buf, fields[i]) != NULL, "no %s in %s", fields[i], buf);
    }
    cr_assert(strstr(buf, "STAT get_misses 1\r\n") != NULL || harness_clustered(), "%s", buf);
    close(fd);
}

/* memcached 1.6.18's answers, where there is nothing here to report */
Test(memcache, stats_subcommands_without_slabs_answer_as_memcached_does)
{
    static const char *const pairs[][2] = {
        { "stats detail\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n" },
        { "stats detail bogus\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n" },
        { "stats detail on\r\n", "OK\r\n" },
        { "stats detail dump\r\n", "END\r\n" },
        { "stats detail off\r\n", "OK\r\n" },
        { "stats cachedump\r\n", "CLIENT_ERROR bad command line\r\n" },
        { "stats cachedump 1 1\r\n", "END\r\n" },
        { "stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n" },
        { "stats nonesuch\r\n", "ERROR\r\n" },
    };
    int fd = mc_connect();

    exchange(fd, pairs, sizeof pairs / sizeof pairs[0]);
    close(fd);
}

Test(memcache, quit_closes_and_an_http_request_is_hung_up_on)
{
    int fd = mc_connect();

    SEND(fd, "quit\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
    fd = mc_connect();
    SEND(fd, "GET / HTTP/1.1\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
}

/* ---- the meta protocol -------------------------------------------------------*/

Test(memcache, meta_commands_answer_as_memcached_does)
{
    static const char *const pairs[][2] = {
        { "ms foo 3 T0 F5\r\nbar\r\n", "HD\r\n" },
        { "mg foo v f s t k h l O123 q\r\n", "VA 3 f5 s3 t-1 kfoo h0 l0 O123\r\nbar\r\n" },
        { "mg foo v h\r\n", "VA 3 h1\r\nbar\r\n" },
        { "mg foo\r\n", "HD\r\n" },
        { "mg missing v\r\n", "EN\r\n" },
        { "mg missing v k O7\r\n", "EN kmissing O7\r\n" },
        { "ms foo 2 k O9 q\r\nhi\r\n", "" },
        { "ms foo 2 k O9\r\nhi\r\n", "HD kfoo O9\r\n" },
        { "ms foo 2 MX\r\nhi\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n" },
        { "ms foo 2 ME\r\nhi\r\n", "NS\r\n" },
        { "ms new1 2 ME T100 F7\r\nhi\r\n", "HD\r\n" },
        { "mg new1 v f t\r\n", "VA 2 f7 t100\r\nhi\r\n" },
        { "ms new1 2 MA\r\nab\r\n", "HD\r\n" },
        { "ms new1 2 MP\r\ncd\r\n", "HD\r\n" },
        { "mg new1 v f\r\n", "VA 6 f7\r\ncdhiab\r\n" },
        { "ms nope 2 MA\r\nab\r\n", "NS\r\n" },
        { "ms nope 2 MR\r\nab\r\n", "NS\r\n" },
        { "ms nope 2 C5\r\nab\r\n", "NF\r\n" },
        { "ms Zm9v 2 b k\r\nzz\r\n", "HD kZm9v b\r\n" },
        { "mg Zm9v b k v\r\n", "VA 2 kZm9v b\r\nzz\r\n" },
        { "md nope O1 k\r\n", "NF O1 knope\r\n" },
        { "md foo C1\r\n", "EX\r\n" },
        { "md foo q\r\n", "" },
        { "md foo q\r\n", "NF\r\n" },
        { "ms n 2\r\n10\r\n", "HD\r\n" },
        { "ma n v\r\n", "VA 2\r\n11\r\n" },
        { "ma n MI D18446744073709551615 v\r\n", "VA 2\r\n10\r\n" },
        { "ma n M- D5 v\r\n", "VA 1\r\n5\r\n" },
        { "ma n T30 t v\r\n", "VA 1 t30\r\n6\r\n" },
        { "ma n q\r\n", "" },
        { "ma cnt N0 J10 v\r\n", "VA 2\r\n10\r\n" },
        { "ma cnt D5 MD v t\r\n", "VA 1 t-1\r\n5\r\n" },
        { "ma nope\r\n", "NF\r\n" },
        { "ms s 3\r\nabc\r\n", "HD\r\n" },
        { "ma s\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
        { "mg s T60 t\r\n", "HD t60\r\n" },
        { "mg s t T30 t\r\n", "CLIENT_ERROR duplicate flag\r\n" },
        { "me nope\r\n", "EN\r\n" },
        { "mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n" },
        { "ms big S5\r\nhello\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
        { "ms foo 2 Tx\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n" },
        { "ms foo 2 c\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n" },
        { "mn\r\n", "MN\r\n" },
    };
    int fd = mc_connect();

    exchange(fd, pairs, sizeof pairs / sizeof pairs[0]);
    close(fd);
}

/* The value of a " c<cas>" return flag in the next reply line. */
static unsigned long long
read_cas(int fd, const char *prefix)
{
    char buf[256], *at;
    size_t n = harness_raw_read(fd, buf, sizeof buf - 1, 3000);

    buf[n] = '\0';
    cr_assert(strncmp(buf, prefix, strlen(prefix)) == 0, "%s", buf);
    at = strstr(buf, " c");
    cr_assert(at != NULL, "%s", buf);
    return strtoull(at + 2, NULL, 10);
}

Test(memcache, meta_cas_and_a_stale_item_win_the_recache_once_on_every_member)
{
    int fd = mc_connect(), fd2 = harness_raw_connect_port(harness_member(1)->mc_port);
    unsigned long long cas, cas2;
    char req[128];

    SEND(fd, "ms k 3 T100 c\r\nabc\r\n");
    cas = read_cas(fd, "HD c");
    SEND(fd, "mg k c\r\n");
    cr_assert(eq(u64, read_cas(fd, "HD c"), cas));
    /* the same CAS through the text protocol */
    SEND(fd, "gets k\r\n");
    snprintf(req, sizeof req, "VALUE k 0 3 %llu\r\nabc\r\nEND\r\n", cas);
    harness_raw_expect_at(__FILE__, __LINE__, fd, req, strlen(req));
    snprintf(req, sizeof req, "ms k 3 C%llu c\r\nxyz\r\n", cas);
    harness_raw_send(fd, req, strlen(req));
    cas2 = read_cas(fd, "HD c");
    cr_assert(cas2 != cas);
    harness_raw_send(fd, req, strlen(req)); /* the version moved on */
    EXPECT(fd, "EX c0\r\n");
    /* invalidated: still served, marked stale, and the first reader (on
     * another member too: the mark travels with the copies) wins */
    SEND(fd, "md k I T30\r\n");
    EXPECT(fd, "HD\r\n");
    SEND(fd2, "mg k v t\r\n");
    EXPECT(fd2, "VA 3 t30 X W\r\nxyz\r\n");
    SEND(fd2, "mg k v\r\n");
    EXPECT(fd2, "VA 3 Z X\r\nxyz\r\n");
    /* a set with an older CAS under I is stored, still stale */
    snprintf(req, sizeof req, "ms k 3 I C%llu\r\nold\r\n", cas);
    harness_raw_send(fd, req, strlen(req));
    EXPECT(fd, "HD\r\n");
    SEND(fd, "mg k v\r\n");
    if (harness_clustered()) {
        /* the recache token is each member's own: member 1 gave none yet */
        EXPECT(fd, "VA 3 X W\r\nold\r\n");
        SEND(fd, "mg k v\r\n");
    }
    EXPECT(fd, "VA 3 Z X\r\nold\r\n");
    /* a plain set makes it fresh again */
    SEND(fd, "ms k 3\r\nnew\r\n");
    EXPECT(fd, "HD\r\n");
    SEND(fd2, "mg k v\r\n");
    EXPECT(fd2, "VA 3\r\nnew\r\n");
    /* vivify on miss: one winner, the others see Z */
    SEND(fd, "mg viv N30 v t\r\n");
    EXPECT(fd, "VA 0 t30 W\r\n\r\n");
    SEND(fd, "mg viv N30 v\r\n");
    EXPECT(fd, "VA 0 Z\r\n\r\n");
    close(fd);
    close(fd2);
}

/* The memcached port of the member that coordinates key (in a cluster; the
 * server's otherwise): what reads did to an item is that member's, not
 * replicated, so a single recache winner needs its requests to go there. */
static int
coordinator_mc_port(const char *key)
{
    redisReply *slot, *slots;
    int port = srv->mc_port;

    if (!harness_clustered()) {
        return port;
    }
    slot = harness_cmd(rc, "CLUSTER KEYSLOT %s", key);
    slots = harness_cmd(rc, "CLUSTER SLOTS");
    for (size_t i = 0; i < slots->elements; i++) {
        redisReply *e = slots->element[i];

        if (e->element[0]->integer <= slot->integer && slot->integer <= e->element[1]->integer) {
            for (int m = 0; m < 3; m++) {
                if (harness_member(m)->port == e->element[2]->element[1]->integer) {
                    port = harness_member(m)->mc_port;
                }
            }
        }
    }
    freeReplyObject(slot);
    freeReplyObject(slots);
    return port;
}

/* What reads and invalidations did to an item outlives a change of its TTL
 * or its number (memcached changes those in place), and not an append;
 * classic reads count as fetches. memcached 1.6.18's bytes, through the
 * member that coordinates the key (one key here, so one member). */
Test(memcache, stale_marks_win_tokens_and_fetches_survive_touch_gat_and_incr)
{
    static const char *const pairs[][2] = {
        { "set k 0 0 2\r\nhi\r\nmd k I\r\n", "STORED\r\nHD\r\n" },
        { "mg k T30 v t\r\n", "VA 2 t30 X W\r\nhi\r\n" },
        { "mg k v\r\n", "VA 2 Z X\r\nhi\r\n" },
        { "set k 0 0 2\r\nhi\r\nmd k I\r\ntouch k 300\r\n", "STORED\r\nHD\r\nTOUCHED\r\n" },
        { "mg k v\r\n", "VA 2 X W\r\nhi\r\n" },
        { "set k 0 0 2\r\n10\r\nmd k I\r\nincr k 1\r\n", "STORED\r\nHD\r\n11\r\n" },
        { "mg k v\r\n", "VA 2 X W\r\n11\r\n" },
        { "set k 0 100 2\r\nhi\r\nmg k R200 v\r\n", "STORED\r\nVA 2 W\r\nhi\r\n" },
        { "touch k 150\r\nmg k R200 v\r\n", "TOUCHED\r\nVA 2 Z\r\nhi\r\n" },
        { "set k 0 0 2\r\nhi\r\nmd k I\r\ngat 100 k\r\n",
          "STORED\r\nHD\r\nVALUE k 0 2\r\nhi\r\nEND\r\n" },
        { "mg k v\r\n", "VA 2 X W\r\nhi\r\n" },
        { "set k 0 0 2\r\nhi\r\nget k\r\nmg k h\r\n",
          "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\nHD h1\r\n" },
        { "set k 0 0 2\r\nhi\r\ntouch k 10\r\nmg k h\r\n", "STORED\r\nTOUCHED\r\nHD h1\r\n" },
        { "set k 0 0 2\r\nhi\r\nmd k I\r\nappend k 0 0 1\r\nx\r\nmg k v\r\n",
          "STORED\r\nHD\r\nSTORED\r\nVA 3\r\nhix\r\n" },
        { "stats cachedump 1\r\nstats cachedump x y\r\nstats cachedump 64 0\r\n",
          "CLIENT_ERROR bad command line\r\nCLIENT_ERROR bad command line format\r\n"
          "CLIENT_ERROR Illegal slab id\r\n" },
    };
    int fd = harness_raw_connect_port(coordinator_mc_port("k"));

    exchange(fd, pairs, sizeof pairs / sizeof pairs[0]);
    close(fd);
}

Test(memcache, quiet_meta_requests_answer_only_misses_and_failures_before_mn)
{
    int fd = mc_connect();

    SEND(fd, "ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nmg a v q k\r\nmg nokey v q\r\nmg b v q k\r\n"
             "md nokey q\r\nmd a q\r\nma b q\r\nma nokey q\r\nmn\r\n");
    EXPECT(fd, "VA 1 ka\r\n1\r\nVA 1 kb\r\n2\r\nNF\r\nNF\r\nMN\r\n");
    SEND(fd, "mg a v\r\nmg b v\r\n");
    EXPECT(fd, "EN\r\nVA 1\r\n3\r\n");
    close(fd);
}

Test(memcache, meta_and_resp_share_keys_flags_and_ttls)
{
    int fd = mc_connect();
    long long ttl;

    expect_ok(rc, "SET r hello");
    SEND(fd, "mg r v f t\r\n");
    EXPECT(fd, "VA 5 f0 t-1\r\nhello\r\n");
    SEND(fd, "ms m 3 F9 T100\r\nabc\r\n");
    EXPECT(fd, "HD\r\n");
    expect_bulk(rc, "abc", "GET m");
    {
        redisReply *r = harness_cmd(rc, "TTL m");
        ttl = r->integer;
        freeReplyObject(r);
    }
    cr_assert(ttl == 100 || ttl == 99, "TTL %lld", ttl);
    SEND(fd, "get m\r\n");
    EXPECT(fd, "VALUE m 9 3\r\nabc\r\nEND\r\n");
    expect_ok(rc, "SET cnt 41");
    SEND(fd, "ma cnt v\r\n");
    EXPECT(fd, "VA 2\r\n42\r\n");
    expect_bulk(rc, "42", "GET cnt");
    close(fd);
}

/* ---- memcached-auth-file (memcached -Y) ------------------------------------*/

TestSuite(memcache_auth, .fini = harness_teardown, .timeout = 60);

static void
auth_file(char *path, const char *text)
{
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    cr_assert(eq(sz, (size_t)write(fd, text, strlen(text)), strlen(text)));
    close(fd);
}

/* memcached 1.6.18's replies, byte for byte; the password may hold a ':' */
Test(memcache_auth, a_client_authenticates_with_a_set_before_anything_else)
{
    static const char *const stranger[][2] = {
        { "get foo\r\n", "CLIENT_ERROR unauthenticated\r\n" },
        { "version\r\n", "CLIENT_ERROR unauthenticated\r\n" },
        { "mg foo v\r\n", "CLIENT_ERROR unauthenticated\r\n" },
        { "set x 0 0 abc\r\n", "CLIENT_ERROR unauthenticated\r\n" },
        { "set x 0 0 5\r\nalice\r\n", "CLIENT_ERROR bad authentication token format\r\n" },
        { "set x 0 0 9\r\nalice sec\r\n", "CLIENT_ERROR authentication failure\r\n" },
        { "set x 0 0 12\r\nbob pa:ss:ex\r\n", "CLIENT_ERROR authentication failure\r\n" },
        { "set foo 0 0 1\r\nx\r\n", "CLIENT_ERROR bad authentication token format\r\n" },
        { "set x 0 0 12 noreply\r\nalice secret\r\n", "STORED\r\n" },
        { "set foo 7 0 1\r\nx\r\n", "STORED\r\n" },
        { "get foo\r\n", "VALUE foo 7 1\r\nx\r\nEND\r\n" },
    };
    static const char *const bob[][2] = {
        { "get foo\r\nset any:key 1 2 9\r\nbob pa:ss\r\nget foo\r\n",
          "CLIENT_ERROR unauthenticated\r\nSTORED\r\nVALUE foo 7 1\r\nx\r\nEND\r\n" },
    };
    char path[] = "/tmp/ringcache-mcauth-XXXXXX";
    redisReply *r;
    int fd;

    auth_file(path, "alice:secret\nbob:pa:ss");
    harness_setup_with("--memcached-auth-file", path, NULL);
    unlink(path); /* read at start */
    fd = mc_connect();
    exchange(fd, stranger, sizeof stranger / sizeof stranger[0]);
    close(fd);
    fd = harness_raw_connect_port(harness_member(1)->mc_port);
    exchange(fd, bob, 1);
    close(fd);
    r = harness_cmd(rc, "GET foo"); /* RESP has its own password, none here */
    cr_assert(eq(str, r->str, "x"));
    freeReplyObject(r);
}

Test(memcache_auth, a_malformed_or_missing_auth_file_stops_the_server_at_start)
{
    char path[] = "/tmp/ringcache-mcauth-XXXXXX", path2[] = "/tmp/ringcache-mcauth-XXXXXX";
    char out[4096];
    int status;

    auth_file(path, "alice:secret\n\nbob:pw\n");
    /* the file is read before the port is opened: any port will do */
    status = harness_server_run_to_exit(out, sizeof out, "--memcached-port", "1",
                                        "--memcached-auth-file", path, NULL);
    unlink(path);
    cr_assert(harness_exited_nonzero(status), "%s", out);
    cr_assert(strstr(out, "line 2: a malformed entry, want 'user:password'") != NULL, "%s", out);
    auth_file(path2, "alice:secret\r\n");
    status = harness_server_run_to_exit(out, sizeof out, "--memcached-port", "1",
                                        "--memcached-auth-file", path2, NULL);
    unlink(path2);
    cr_assert(harness_exited_nonzero(status), "a CRLF file: %s", out);
    cr_assert(strstr(out, "line 1: a malformed entry") != NULL, "%s", out);
    status = harness_server_run_to_exit(out, sizeof out, "--memcached-port", "1",
                                        "--memcached-auth-file", "/nonexistent/auth", NULL);
    cr_assert(harness_exited_nonzero(status), "%s", out);
    cr_assert(strstr(out, "/nonexistent/auth: No such file or directory") != NULL, "%s", out);
}
