/*
 * tests/integration/harness.h — what every integration suite shares: start a
 * real ringcache-server on a free loopback port, talk to it through hiredis
 * or raw sockets, assert exact replies, stop it.
 *
 * It does not check anything by itself, and it never touches the server's
 * sources: the binary is found through $RINGCACHE_SERVER, else
 * ./ringcache-server relative to the working directory (the build root under
 * `make check`), else two directories above the test binary.
 *
 * Ownership: harness_server_start returns a server the harness tracks until
 * harness_server_stop (or harness_teardown, which stops every server still
 * running and frees the default context). Contexts from harness_connect
 * belong to the caller (redisFree). Replies from harness_cmd belong to the
 * caller (freeReplyObject). Everything that asserts must run on the test's
 * main thread (Criterion aborts a test by longjmp): client threads use
 * hiredis directly and report what they saw.
 *
 * On any failed assertion (cr_assert, cr_fatal and the expect_* macros below
 * all go through harness_abort_test) the logs of the servers still running
 * are printed to stderr before Criterion aborts the test.
 */
#ifndef TESTS_INTEGRATION_HARNESS_H
#define TESTS_INTEGRATION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include <criterion/criterion.h>
#include "tests/criterion_ops.h"
#include <hiredis/hiredis.h>

struct harness_server {
    pid_t pid;          /* -1 once reaped */
    int port;
    int mc_port;        /* its memcached port in a suite built with
                         * -DHARNESS_MEMCACHED=1 (every server gets one), else 0 */
    int exit_status;    /* waitpid status, valid once pid == -1 */
    char log_path[256]; /* the server's stdout and stderr */
};

/* ---- the default fixture: one server and one connected context ---------- */

/* Set by harness_setup (and harness_setup_with); NULL otherwise. */
extern struct harness_server *srv;
extern redisContext *rc;

/* .init of most suites: a server with the default arguments, rc connected.
 * Unless the server wants AUTH, it has answered a PING on rc and reaped the
 * harness's readiness probe, so rc is its only client. */
void harness_setup(void);
/* True in a suite built to run against a cluster (-DHARNESS_CLUSTER=3:
 * harness_setup starts three members with replicas 3; srv and rc are the
 * first). */
bool harness_clustered(void);
/* Member i of that cluster (srv when the suite runs on one server). */
struct harness_server *harness_member(int i);
/* The same with extra `--directive value` arguments, NULL-terminated; for
 * tests that need a differently configured server (call it in the test body
 * of a suite without .init). In a cluster run every member gets them. */
void harness_setup_with(const char *arg, ...);
/* .fini: frees rc and stops every server still running. A server that did
 * not end cleanly (exit 0 on SIGTERM) has its log printed, and the worker
 * exits with status 3 so Criterion warns about the test; Criterion cannot be
 * made to fail a test from .fini, so tests that must prove the server
 * survived check harness_server_wait_exit(srv, 0) == false themselves. */
void harness_teardown(void);

/* ---- servers ------------------------------------------------------------- */

/* Start ringcache-server --port P --bind 127.0.0.1 --io-threads 2 followed by
 * the NULL-terminated extra arguments, and wait (at most 5 s) until it
 * accepts connections. Fails the test if it cannot. An extra first argument
 * that does not start with '-' is a config file and goes first, as
 * redis-server wants it. */
struct harness_server *harness_server_start(const char *arg, ...);
/* Run a server that is expected to exit by itself (at most 5 s, then it is
 * killed and -1 returned); returns its waitpid status, with its output in
 * out (NUL-terminated, truncated to cap). */
int harness_server_run_to_exit(char *out, size_t cap, const char *arg, ...);
/* SIGTERM, wait at most 5 s, then SIGKILL; frees *s and sets it to NULL.
 * Returns the waitpid status. */
int harness_server_stop(struct harness_server **s);
/* Wait at most timeout_ms for the server to exit by itself. True if it did;
 * s->exit_status is then its waitpid status. */
bool harness_server_wait_exit(struct harness_server *s, int timeout_ms);
/* waitpid statuses, as functions: Criterion's cr_assert cannot take an
 * expression that starts with '(' as WIFEXITED does. */
bool harness_exited_zero(int status);
bool harness_exited_nonzero(int status);
/* The server's resident set size in bytes, from /proc/PID/statm. */
long long harness_server_rss(const struct harness_server *s);
/* Print the server's log to stderr. */
void harness_server_dump_log(const struct harness_server *s);

/* ---- hiredis ------------------------------------------------------------- */

/* A context connected to s with a 5 s connect and I/O timeout; fails the test
 * if it cannot connect. */
redisContext *harness_connect(const struct harness_server *s);
/* redisCommand, failing the test (with the connection error) on a NULL reply. */
redisReply *harness_cmd_at(const char *file, int line, redisContext *c, const char *fmt, ...);
#define harness_cmd(c, ...) harness_cmd_at(__FILE__, __LINE__, (c), __VA_ARGS__)

/* One line of INFO: the value of field in section (e.g. "memory",
 * "used_memory_dataset"), as a number; fails the test if it is missing. */
long long harness_info_ll_at(const char *file, int line, redisContext *c, const char *section,
                             const char *field);
#define harness_info_ll(c, section, field) \
    harness_info_ll_at(__FILE__, __LINE__, (c), (section), (field))

/* Poll an INFO field until it equals want (at most timeout_ms: counters kept
 * by other server threads show up a moment later) and return the last value
 * seen, for the caller to assert. */
long long harness_wait_info(redisContext *c, const char *section, const char *field,
                            long long want, int timeout_ms);
/* harness_wait_info on connected_clients for 2 s: closed connections, the
 * harness's own readiness probe included, are reaped asynchronously. */
long long harness_wait_clients(redisContext *c, long long n);

/* ---- exact-reply assertions ----------------------------------------------
 * Each sends one redisCommand-style command (format and arguments) and
 * asserts the reply's type and exact value, reporting the caller's line,
 * the command and what came back. */
enum harness_kind { HK_STATUS, HK_ERROR, HK_BULK, HK_INT, HK_NIL, HK_ARRAY_LEN };

void harness_expect_at(const char *file, int line, redisContext *c, enum harness_kind kind,
                       const char *str, long long num, const char *fmt, ...);

#define expect_status(c, want, ...) \
    harness_expect_at(__FILE__, __LINE__, (c), HK_STATUS, (want), 0, __VA_ARGS__)
#define expect_ok(c, ...) expect_status(c, "OK", __VA_ARGS__)
#define expect_error(c, want, ...) \
    harness_expect_at(__FILE__, __LINE__, (c), HK_ERROR, (want), 0, __VA_ARGS__)
#define expect_bulk(c, want, ...) \
    harness_expect_at(__FILE__, __LINE__, (c), HK_BULK, (want), 0, __VA_ARGS__)
#define expect_int(c, want, ...) \
    harness_expect_at(__FILE__, __LINE__, (c), HK_INT, NULL, (want), __VA_ARGS__)
#define expect_nil(c, ...) harness_expect_at(__FILE__, __LINE__, (c), HK_NIL, NULL, 0, __VA_ARGS__)
/* An array of exactly n elements (contents unchecked). */
#define expect_array_len(c, n, ...) \
    harness_expect_at(__FILE__, __LINE__, (c), HK_ARRAY_LEN, NULL, (n), __VA_ARGS__)

/* Assert that an array reply holds exactly these elements, in order: each
 * expected element is a bulk string, or NULL for a nil. */
void harness_expect_bulks_at(const char *file, int line, const redisReply *r, size_t n,
                             const char *const *want);
#define expect_bulks(r, ...)                                                              \
    harness_expect_bulks_at(__FILE__, __LINE__, (r),                                      \
                            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *), \
                            (const char *const[]){__VA_ARGS__})

/* Assert that an array reply holds exactly these bulk strings in any order. */
void harness_expect_bulk_set_at(const char *file, int line, const redisReply *r, size_t n,
                                const char *const *want);
#define expect_bulk_set(r, ...)                                                              \
    harness_expect_bulk_set_at(__FILE__, __LINE__, (r),                                      \
                               sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *), \
                               (const char *const[]){__VA_ARGS__})

/* Safe navigation in aggregate replies: element i of array r, failing the
 * test (instead of crashing it) if r is not an array or is too short;
 * elem_str also wants a bulk or status string and returns its bytes. */
redisReply *harness_elem_at(const char *file, int line, const redisReply *r, size_t i);
char *harness_elem_str_at(const char *file, int line, const redisReply *r, size_t i);
#define elem(r, i) harness_elem_at(__FILE__, __LINE__, (r), (i))
#define elem_str(r, i) harness_elem_str_at(__FILE__, __LINE__, (r), (i))

/* ---- raw sockets: RESP3, protocol errors, clients that misbehave --------- */

/* A blocking TCP socket to s with 5 s send/receive timeouts. */
int harness_raw_connect(const struct harness_server *s);
/* The same to any loopback port (a memcached port). */
int harness_raw_connect_port(int port);
/* Send all of buf (fails the test on error). */
void harness_raw_send(int fd, const void *buf, size_t len);
#define harness_raw_send_str(fd, str) harness_raw_send((fd), (str), strlen(str))
/* Read exactly len bytes within timeout_ms; returns how many arrived before
 * EOF, error or the deadline. */
size_t harness_raw_read(int fd, char *buf, size_t len, int timeout_ms);
/* Read len bytes (at most 3 s) and compare them with want, byte for byte;
 * raw_expect takes a string literal, embedded NULs included. */
void harness_raw_expect_at(const char *file, int line, int fd, const char *want, size_t len);
#define raw_expect(fd, want) harness_raw_expect_at(__FILE__, __LINE__, (fd), (want), sizeof(want) - 1)
/* Read one complete reply (RESP2 or RESP3, nested aggregates included) into
 * buf, NUL-terminated; returns its length. Fails the test if none arrives
 * within 5 s or it does not fit. Bytes past the reply are kept for the next
 * call on the same fd (one fd at a time). */
size_t harness_raw_read_reply_at(const char *file, int line, int fd, char *buf, size_t cap);
#define harness_raw_read_reply(fd, buf, cap) \
    harness_raw_read_reply_at(__FILE__, __LINE__, (fd), (buf), (cap))
/* True if the peer closes the connection within timeout_ms (whatever it
 * sends before is discarded). */
bool harness_raw_closed_within(int fd, int timeout_ms);

/* ---- misc ---------------------------------------------------------------- */

long long harness_now_ms(void); /* CLOCK_MONOTONIC */
void harness_sleep_ms(int ms);

/* Criterion's abort, after printing the running servers' logs. */
void harness_abort_test(void);

/* Route Criterion's aborting assertions through harness_abort_test, so every
 * failure shows the server logs. */
#undef cr_assert
#define cr_assert(...) cr_assert_user(__FILE__, __LINE__, harness_abort_test, __VA_ARGS__)
#undef cr_fatal
#define cr_fatal(...) cr_assert_fail_user(__FILE__, __LINE__, harness_abort_test, __VA_ARGS__)

#endif
