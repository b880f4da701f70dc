/*
 * tests/integration/test_auth.c — requirepass: what an unauthenticated
 * connection may and may not do, AUTH in both forms, HELLO AUTH (RESP2 and
 * RESP3 bytes), WRONGPASS, RESET dropping authentication, CONFIG SET
 * requirepass at run time, and the small request limits Redis imposes on
 * clients that have not authenticated yet.
 */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PASS "s3cret"

static void
setup_with_password(void)
{
    harness_setup_with("--requirepass", PASS, NULL);
}

TestSuite(auth, .init = setup_with_password, .fini = harness_teardown, .timeout = 30);

#define NOAUTH "NOAUTH Authentication required."
#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

Test(auth, commands_are_refused_before_auth)
{
    expect_error(rc, NOAUTH, "GET k");
    expect_error(rc, NOAUTH, "SET k v");
    expect_error(rc, NOAUTH, "PING");
    expect_error(rc, NOAUTH, "ECHO x");
    expect_error(rc, NOAUTH, "SELECT 0");
    expect_error(rc, NOAUTH, "CLIENT ID");
    expect_error(rc, NOAUTH, "CONFIG GET requirepass");
    expect_error(rc, NOAUTH, "INFO");
    expect_error(rc, NOAUTH, "COMMAND COUNT");
    expect_error(rc, NOAUTH, "TIME");
    expect_error(rc, NOAUTH, "SHUTDOWN ABORT");
}

Test(auth, unknown_commands_are_unknown_even_before_auth)
{
    expect_error(rc, "ERR unknown command 'nosuch', with args beginning with: ", "nosuch");
}

Test(auth, auth_with_the_password_unlocks_the_connection)
{
    expect_error(rc, NOAUTH, "SET k v");
    expect_ok(rc, "AUTH " PASS);
    expect_ok(rc, "SET k v");
    expect_bulk(rc, "v", "GET k");
}

Test(auth, auth_default_user_form_works)
{
    expect_ok(rc, "AUTH default " PASS);
    expect_status(rc, "PONG", "PING");
}

Test(auth, wrong_passwords_and_users_get_wrongpass)
{
    expect_error(rc, WRONGPASS, "AUTH wrong");
    expect_error(rc, WRONGPASS, "AUTH default wrong");
    expect_error(rc, WRONGPASS, "AUTH other " PASS);
    expect_error(rc, NOAUTH, "GET k");
}

Test(auth, auth_checks_its_arity)
{
    expect_error(rc, "ERR wrong number of arguments for 'auth' command", "AUTH");
    expect_error(rc, "ERR syntax error", "AUTH a b c");
}

Test(auth, a_failed_auth_does_not_undo_a_successful_one)
{
    expect_ok(rc, "AUTH " PASS);
    expect_error(rc, WRONGPASS, "AUTH wrong");
    expect_nil(rc, "GET k");
}

Test(auth, reset_drops_authentication)
{
    expect_ok(rc, "AUTH " PASS);
    expect_nil(rc, "GET k");
    expect_status(rc, "RESET", "RESET");
    expect_error(rc, NOAUTH, "GET k");
}

Test(auth, reset_and_quit_are_allowed_before_auth)
{
    expect_status(rc, "RESET", "RESET");
    expect_ok(rc, "QUIT");
}

Test(auth, hello_without_auth_is_refused_before_authentication)
{
    static const char msg[] =
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
        "the RESP protocol version at the same time";

    expect_error(rc, msg, "HELLO");
    expect_error(rc, msg, "HELLO 2");
    expect_error(rc, msg, "HELLO 3 SETNAME x");
}

Test(auth, hello_auth_authenticates_and_setname_names)
{
    redisReply *r;

    expect_error(rc, WRONGPASS, "HELLO 2 AUTH default wrong");
    expect_error(rc, WRONGPASS, "HELLO 2 AUTH other " PASS);
    expect_error(rc, NOAUTH, "GET k");
    r = harness_cmd(rc, "HELLO 2 AUTH default " PASS " SETNAME named");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    cr_assert(eq(sz, r->elements, 14));
    cr_assert(eq(str, elem_str(r, 1), "redis"));
    freeReplyObject(r);
    expect_bulk(rc, "named", "CLIENT GETNAME");
    expect_nil(rc, "GET k");
}

Test(auth, hello_3_auth_switches_to_resp3_in_one_step)
{
    int fd = harness_raw_connect(srv);
    char reply[1024], want[1024];
    long long id;

    harness_raw_send_str(fd, "HELLO 3 AUTH default " PASS "\r\nCLIENT ID\r\nGET nokey\r\n");
    harness_raw_read_reply(fd, reply, sizeof reply);
    harness_raw_read_reply(fd, want, sizeof want);
    cr_assert(eq(int, sscanf(want, ":%lld\r\n", &id), 1), "CLIENT ID reply %s", want);
    snprintf(want, sizeof want,
             "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
             "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:%lld\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
             id);
    cr_assert(eq(str, reply, want));
    raw_expect(fd, "_\r\n");
    close(fd);
}

Test(auth, raw_auth_errors_are_exact_bytes)
{
    int fd = harness_raw_connect(srv);

    harness_raw_send_str(fd, "GET k\r\nAUTH nope\r\nAUTH " PASS "\r\nGET k\r\n");
    raw_expect(fd, "-NOAUTH Authentication required.\r\n"
                   "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                   "+OK\r\n"
                   "$-1\r\n");
    close(fd);
}

Test(auth, unauthenticated_clients_cannot_announce_big_requests)
{
    int fd = harness_raw_connect(srv);

    harness_raw_send_str(fd, "*11\r\n");
    raw_expect(fd, "-ERR Protocol error: unauthenticated multibulk length\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);

    fd = harness_raw_connect(srv);
    harness_raw_send_str(fd, "*2\r\n$3\r\nGET\r\n$16385\r\n");
    raw_expect(fd, "-ERR Protocol error: unauthenticated bulk length\r\n");
    cr_assert(harness_raw_closed_within(fd, 2000));
    close(fd);
}

Test(auth, unauthenticated_clients_may_send_moderate_requests)
{
    int fd = harness_raw_connect(srv);
    char req[16384 + 64];
    int n = snprintf(req, sizeof req, "*2\r\n$4\r\nECHO\r\n$16384\r\n");

    memset(req + n, 'x', 16384);
    memcpy(req + n + 16384, "\r\n", 2);
    harness_raw_send(fd, req, (size_t)n + 16384 + 2);
    raw_expect(fd, "-NOAUTH Authentication required.\r\n");
    harness_raw_send_str(fd, "*10\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
                             "$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n");
    raw_expect(fd, "-NOAUTH Authentication required.\r\n");
    close(fd);
}

Test(auth, the_password_can_be_changed_at_run_time)
{
    redisContext *c2;

    expect_ok(rc, "AUTH " PASS);
    expect_ok(rc, "CONFIG SET requirepass newpass");
    /* The current connection stays authenticated. */
    expect_ok(rc, "SET k v");
    c2 = harness_connect(srv);
    expect_error(c2, NOAUTH, "GET k");
    expect_error(c2, WRONGPASS, "AUTH " PASS);
    expect_ok(c2, "AUTH newpass");
    expect_bulk(c2, "v", "GET k");
    redisFree(c2);
}

Test(auth, an_empty_requirepass_turns_auth_off)
{
    redisContext *c2;

    expect_ok(rc, "AUTH " PASS);
    expect_ok(rc, "CONFIG SET requirepass %s", "");
    c2 = harness_connect(srv);
    expect_status(c2, "PONG", "PING");
    expect_error(c2,
                 "ERR AUTH <password> called without any password configured for the default "
                 "user. Are you sure your configuration is correct?",
                 "AUTH anything");
    redisFree(c2);
}

Test(auth, config_get_requirepass_shows_the_password_to_an_authenticated_client)
{
    redisReply *r;

    expect_ok(rc, "AUTH " PASS);
    r = harness_cmd(rc, "CONFIG GET requirepass");
    expect_bulks(r, "requirepass", PASS);
    freeReplyObject(r);
}

Test(auth, without_requirepass_auth_is_an_error_and_hello_auth_accepts_default)
{
    redisReply *r;

    harness_teardown();
    harness_setup();
    expect_error(rc,
                 "ERR AUTH <password> called without any password configured for the default "
                 "user. Are you sure your configuration is correct?",
                 "AUTH x");
    expect_error(rc, WRONGPASS, "AUTH someone x");
    /* The default user has no password: any password authenticates it. */
    expect_ok(rc, "AUTH default x");
    r = harness_cmd(rc, "HELLO 2 AUTH default anything");
    cr_assert(eq(int, r->type, REDIS_REPLY_ARRAY));
    freeReplyObject(r);
}

/* A password of n bytes, different at every position. */
static char *
long_password(size_t n, char seed)
{
    char *p = malloc(n + 1);

    cr_assert(not(eq(ptr, p, NULL)));
    for (size_t i = 0; i < n; i++) {
        p[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
    }
    p[n] = '\0';
    return p;
}

/* Secrets have no length limit: a long requirepass, given at start or set at
 * run time, is compared whole (not its first 511 bytes), shown whole by
 * CONFIG GET and put back whole when a CONFIG SET fails. */
Test(auth, a_password_of_600_bytes_or_more_is_used_whole)
{
    char *pass = long_password(600, 1), *next = long_password(3000, 2);
    redisContext *c2;
    redisReply *r;

    harness_teardown();
    harness_setup_with("--requirepass", pass, NULL);
    expect_error(rc, WRONGPASS, "AUTH %b", pass, (size_t)511);
    expect_error(rc, WRONGPASS, "AUTH %b", pass, (size_t)599);
    expect_ok(rc, "AUTH %s", pass);

    expect_ok(rc, "CONFIG SET requirepass %s", next);
    r = harness_cmd(rc, "CONFIG GET requirepass");
    expect_bulks(r, "requirepass", next);
    freeReplyObject(r);
    c2 = harness_connect(srv);
    expect_error(c2, WRONGPASS, "AUTH %b", next, (size_t)2999);
    expect_error(c2, WRONGPASS, "AUTH %b", next, (size_t)511);
    expect_ok(c2, "AUTH %s", next);
    redisFree(c2);

    /* a failed CONFIG SET puts the old password back, whole */
    r = harness_cmd(rc, "CONFIG SET requirepass short maxmemory notanumber");
    cr_assert(eq(int, r->type, REDIS_REPLY_ERROR));
    freeReplyObject(r);
    c2 = harness_connect(srv);
    expect_error(c2, WRONGPASS, "AUTH short");
    expect_ok(c2, "AUTH %s", next);
    redisFree(c2);
    free(pass);
    free(next);
}
