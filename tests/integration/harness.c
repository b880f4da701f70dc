/*
 * tests/integration/harness.c — start, reach and stop real ringcache-server
 * processes for the integration suites, and assert exact replies.
 *
 * It knows nothing of any command's meaning: suites say what to expect.
 */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 5000
#define MAX_SERVERS 8
#define MAX_ARGS 64

struct harness_server *srv;
redisContext *rc;

/* Servers started by this test process and not yet stopped. */
static struct harness_server *live[MAX_SERVERS];

long long
harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

void
harness_server_dump_log(const struct harness_server *s)
{
    char buf[4096];
    size_t n;
    FILE *f = fopen(s->log_path, "r");

    fprintf(stderr, "---- ringcache-server log (port %d, %s) ----\n", s->port, s->log_path);
    if (f == NULL) {
        fprintf(stderr, "(cannot open: %s)\n", strerror(errno));
        return;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        fwrite(buf, 1, n, stderr);
    }
    fclose(f);
    fprintf(stderr, "---- end of log ----\n");
}

void
harness_abort_test(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] != NULL) {
            harness_server_dump_log(live[i]);
        }
    }
    criterion_abort_test();
}

/* ---- starting and stopping ------------------------------------------------ */

static const char *
server_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("RINGCACHE_SERVER");
    char self[PATH_MAX - 32];
    ssize_t n;

    if (env != NULL && *env != '\0') {
        return env;
    }
    if (access("./ringcache-server", X_OK) == 0) {
        return "./ringcache-server";
    }
    /* Run by hand from elsewhere: the binary sits in tests/integration/. */
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/../../ringcache-server", self);
            if (access(path, X_OK) == 0) {
                return path;
            }
        }
    }
    return "./ringcache-server";
}

#ifndef HARNESS_MEMCACHED
#define HARNESS_MEMCACHED 0
#endif

/* Bind port (0: any) on loopback and let go; the port bound, or -1. */
static int
probe_port(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int got = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        got = ntohs(sa.sin_port);
    }
    close(fd);
    return got;
}

/* A port nobody listens on right now. The kernel's choice (bind to 0) can
 * hand two test processes running at once the same port, and a cluster
 * member's bus port is not retried (CI: two members of two tests' clusters
 * on one bus port): so ports come from a band of this process's own, below
 * the kernel's ephemeral range (32768 up) that outgoing connections use,
 * each checked free. Another process may still take one before the server
 * binds it: start retries then. */
static int
free_port(void)
{
    static unsigned next;
    int band = 20000 + (int)(getpid() % 300) * 40;

    for (int tries = 0; tries < 40; tries++) {
        int port = band + (int)(next++ % 40);

        if (probe_port(port) == port) {
            return port;
        }
    }
    return probe_port(0);
}

static bool
port_accepts(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void
track(struct harness_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] == NULL) {
            live[i] = s;
            return;
        }
    }
    cr_fatal("harness: more than %d servers in one test", MAX_SERVERS);
}

static void
untrack(struct harness_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] == s) {
            live[i] = NULL;
        }
    }
}

/* harness_setup_with's arguments in a cluster run: every member gets them. */
static const char *every[MAX_ARGS + 1];

/* Fork and exec the server on port; returns its pid, or -1. */
static pid_t
spawn(struct harness_server *s, const char *path, int nextra, const char *const *extra)
{
    char portstr[16], mcstr[16];
    const char *argv[MAX_ARGS + 10];
    int argc = 0;
    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t parent = getpid();
    pid_t pid;

    if (logfd < 0) {
        return -1;
    }
    snprintf(portstr, sizeof portstr, "%d", s->port);
    argv[argc++] = path;
    /* A config file, as redis-server wants it, comes first. */
    if (nextra > 0 && extra[0][0] != '-') {
        argv[argc++] = extra[0];
        extra++;
        nextra--;
    }
    argv[argc++] = "--port";
    argv[argc++] = portstr;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--io-threads";
    argv[argc++] = "2";
    if (s->mc_port > 0) {
        snprintf(mcstr, sizeof mcstr, "%d", s->mc_port);
        argv[argc++] = "--memcached-port";
        argv[argc++] = mcstr;
    }
    for (int i = 0; i < nextra; i++) {
        argv[argc++] = extra[i];
    }
    for (int i = 0; every[i] != NULL && argc < MAX_ARGS + 9; i++) {
        argv[argc++] = every[i];
    }
    argv[argc] = NULL;

    pid = fork();
    if (pid == 0) {
        /* Die with the test process, even if Criterion kills it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        close(logfd);
        signal(SIGPIPE, SIG_DFL);
        execv(path, (char *const *)argv);
        dprintf(STDERR_FILENO, "harness: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(logfd);
    return pid;
}

static struct harness_server *
server_start_v(const char *arg, va_list ap)
{
    const char *extra[MAX_ARGS];
    int nextra = 0;
    const char *path = server_path();
    const char *tmp = getenv("TMPDIR");
    struct harness_server *s = calloc(1, sizeof *s);
    int fd;

    cr_assert(s != NULL);
    for (const char *a = arg; a != NULL; a = va_arg(ap, const char *)) {
        cr_assert(nextra < MAX_ARGS, "harness: too many server arguments");
        extra[nextra++] = a;
    }
    snprintf(s->log_path, sizeof s->log_path, "%s/ringcache-integ-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    fd = mkstemp(s->log_path);
    cr_assert(fd >= 0, "harness: mkstemp: %s", strerror(errno));
    close(fd);
    signal(SIGPIPE, SIG_IGN);

    /* The port may be taken between free_port() and the server's bind():
     * try a few ports before giving up. */
    for (int attempt = 0; attempt < 5; attempt++) {
        long long deadline = harness_now_ms() + START_TIMEOUT_MS;
        int status;

        s->port = free_port();
        cr_assert(s->port > 0, "harness: no free port");
        s->mc_port = HARNESS_MEMCACHED ? free_port() : 0;
        s->pid = spawn(s, path, nextra, extra);
        cr_assert(s->pid > 0, "harness: cannot start %s: %s", path, strerror(errno));
        track(s);
        while (harness_now_ms() < deadline) {
            if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                s->pid = -1;
                s->exit_status = status;
                break;
            }
            if (port_accepts(s->port)) {
                return s;
            }
            harness_sleep_ms(5);
        }
        if (s->pid > 0) {
            cr_fatal("harness: %s did not accept connections on port %d within %d ms", path,
                     s->port, START_TIMEOUT_MS);
        }
        untrack(s);
        /* It exited: retry only if it could not bind the port. */
        FILE *f = fopen(s->log_path, "r");
        char line[512];
        bool bind_failed = false;

        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            if (strstr(line, "ddress already in use") != NULL) {
                bind_failed = true;
            }
        }
        if (f != NULL) {
            fclose(f);
        }
        if (!bind_failed) {
            harness_server_dump_log(s);
            unlink(s->log_path);
            cr_fatal("harness: %s exited during startup (status 0x%x)", path, s->exit_status);
        }
    }
    harness_server_dump_log(s);
    unlink(s->log_path);
    cr_fatal("harness: no port could be bound after 5 attempts");
    return NULL;
}

struct harness_server *
harness_server_start(const char *arg, ...)
{
    struct harness_server *s;
    va_list ap;

    va_start(ap, arg);
    s = server_start_v(arg, ap);
    va_end(ap);
    return s;
}

int
harness_server_run_to_exit(char *out, size_t cap, const char *arg, ...)
{
    const char *extra[MAX_ARGS];
    int nextra = 0, status;
    struct harness_server s = {0};
    const char *tmp = getenv("TMPDIR");
    va_list ap;
    FILE *f;
    size_t n = 0;
    int fd;

    va_start(ap, arg);
    for (const char *a = arg; a != NULL; a = va_arg(ap, const char *)) {
        cr_assert(nextra < MAX_ARGS, "harness: too many server arguments");
        extra[nextra++] = a;
    }
    va_end(ap);
    snprintf(s.log_path, sizeof s.log_path, "%s/ringcache-integ-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    fd = mkstemp(s.log_path);
    cr_assert(fd >= 0, "harness: mkstemp: %s", strerror(errno));
    close(fd);
    s.port = free_port();
    s.pid = spawn(&s, server_path(), nextra, extra);
    cr_assert(s.pid > 0, "harness: cannot start the server");
    if (!harness_server_wait_exit(&s, START_TIMEOUT_MS)) {
        kill(s.pid, SIGKILL);
        harness_server_wait_exit(&s, STOP_TIMEOUT_MS);
        s.exit_status = -1;
    }
    status = s.exit_status;
    f = fopen(s.log_path, "r");
    if (f != NULL && cap > 0) {
        n = fread(out, 1, cap - 1, f);
    }
    if (cap > 0) {
        out[n] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
    unlink(s.log_path);
    return status;
}

bool
harness_server_wait_exit(struct harness_server *s, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    int status;

    if (s->pid <= 0) {
        return true;
    }
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);

        if (r == s->pid || (r < 0 && errno == ECHILD)) {
            s->exit_status = r == s->pid ? status : 0;
            s->pid = -1;
            return true;
        }
        if (harness_now_ms() >= deadline) {
            return false;
        }
        harness_sleep_ms(5);
    }
}

int
harness_server_stop(struct harness_server **sp)
{
    struct harness_server *s = *sp;
    int status;

    if (s == NULL) {
        return 0;
    }
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        if (!harness_server_wait_exit(s, STOP_TIMEOUT_MS)) {
            fprintf(stderr, "harness: server on port %d ignored SIGTERM for %d ms, killing it\n",
                    s->port, STOP_TIMEOUT_MS);
            kill(s->pid, SIGKILL);
            harness_server_wait_exit(s, STOP_TIMEOUT_MS);
        }
    }
    status = s->exit_status;
    if (!harness_exited_zero(status)) {
        fprintf(stderr, "harness: server on port %d ended with %s %d\n", s->port,
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        harness_server_dump_log(s);
    }
    untrack(s);
    unlink(s->log_path);
    free(s);
    *sp = NULL;
    return status;
}

bool
harness_exited_zero(int status)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool
harness_exited_nonzero(int status)
{
    return WIFEXITED(status) && WEXITSTATUS(status) != 0;
}

long long
harness_server_rss(const struct harness_server *s)
{
    char path[64];
    long long size = 0, resident = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/statm", (int)s->pid);
    f = fopen(path, "r");
    cr_assert(f != NULL, "harness: cannot open %s", path);
    cr_assert(fscanf(f, "%lld %lld", &size, &resident) == 2, "harness: cannot parse %s", path);
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* ---- the default fixture -------------------------------------------------- */

/* Let the server reap the readiness probe's connection, so that tests see
 * only their own clients (skipped when the server wants AUTH first). */
static void
settle(redisContext *c)
{
    redisReply *r = harness_cmd(c, "PING");
    bool open = r->type == REDIS_REPLY_STATUS;

    freeReplyObject(r);
    if (open) {
        harness_wait_clients(c, 1);
    }
}

/* HARNESS_CLUSTER members (0: a single server). A suite built with
 * -DHARNESS_CLUSTER=3 runs against the first of three members with
 * replicas 3, so every command is checked through the coordinator, the bus
 * and the replicas as well as on one server. */
#ifndef HARNESS_CLUSTER
#define HARNESS_CLUSTER 0
#endif

bool
harness_clustered(void)
{
    return HARNESS_CLUSTER > 1;
}

/* Start member i of the cluster, seeded by member 0's bus port. */
static struct harness_server *
member_start(int i, char bus[][16], char dirs[][64])
{
    char seed[160];

    snprintf(bus[i], sizeof bus[i], "%d", free_port());
    snprintf(dirs[i], sizeof dirs[i], "/tmp/ringcache-integ-cluster-XXXXXX");
    cr_assert(mkdtemp(dirs[i]) != NULL);
    snprintf(seed, sizeof seed, "127.0.0.1:%s", bus[0]);
    return harness_server_start("--cluster-enabled", "yes", "--cluster-bus-port", bus[i],
                                "--dir", dirs[i], "--replicas", "3",
                                "--failure-detect-ms", "1000", i ? "--cluster-seeds" : NULL,
                                seed, NULL);
}

/* Every member knows every other, or the test fails after 5 s. */
static void
members_agree(struct harness_server **m, int n)
{
    char want[64];
    long long t0 = harness_now_ms();

    snprintf(want, sizeof want, "cluster_known_nodes:%d", n);
    for (int i = 0; i < n; i++) {
        redisContext *c = harness_connect(m[i]);
        for (;;) {
            redisReply *r = harness_cmd(c, "CLUSTER INFO");
            bool ok = r->type == REDIS_REPLY_STRING && strstr(r->str, want) != NULL &&
                      strstr(r->str, "cluster_state:ok") != NULL;
            freeReplyObject(r);
            if (ok) {
                break;
            }
            cr_assert(harness_now_ms() - t0 < 5000, "harness: members did not agree");
            harness_sleep_ms(10);
        }
        redisFree(c);
    }
}

static struct harness_server *members[8];

struct harness_server *
harness_member(int i)
{
    return HARNESS_CLUSTER > 1 && i < HARNESS_CLUSTER ? members[i] : srv;
}

void
harness_setup(void)
{
    if (HARNESS_CLUSTER > 1) {
        static char bus[8][16], dirs[8][64];
        struct harness_server **m = members;

        for (int i = 0; i < HARNESS_CLUSTER; i++) {
            m[i] = member_start(i, bus, dirs);
        }
        members_agree(m, HARNESS_CLUSTER);
        srv = m[0];
    } else {
        srv = harness_server_start(NULL);
    }
    rc = harness_connect(srv);
    settle(rc);
}

void
harness_setup_with(const char *arg, ...)
{
    va_list ap;

    if (HARNESS_CLUSTER > 1) {
        int n = 0;

        va_start(ap, arg);
        for (const char *a = arg; a != NULL && n < MAX_ARGS; a = va_arg(ap, const char *)) {
            every[n++] = a;
        }
        va_end(ap);
        every[n] = NULL;
        harness_setup();
        return;
    }
    va_start(ap, arg);
    srv = server_start_v(arg, ap);
    va_end(ap);
    rc = harness_connect(srv);
    settle(rc);
}

void
harness_teardown(void)
{
    bool clean = true;

    if (rc != NULL) {
        redisFree(rc);
        rc = NULL;
    }

    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] != NULL) {
            struct harness_server *s = live[i];
            int status = harness_server_stop(&s); /* logs an abnormal end itself */

            clean = clean && harness_exited_zero(status);
        }
    }
    srv = NULL;
    if (!clean) {
        /* Criterion ignores assertions in .fini; leaving the worker abnormally
         * at least makes it print a warning naming the test. */
        fflush(NULL);
        _exit(3);
    }
}

/* ---- hiredis ------------------------------------------------------------- */

redisContext *
harness_connect(const struct harness_server *s)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);

    cr_assert(c != NULL, "harness: out of memory");
    cr_assert(c->err == 0, "harness: connect to port %d: %s", s->port, c->errstr);
    redisSetTimeout(c, tv);
    return c;
}

static void escape(const char *in, size_t len, char *out, size_t cap);

/* The command as sent, for failure messages: the arguments hiredis built
 * from fmt, space separated, unprintable bytes escaped. */
static void
render(char *out, size_t cap, const char *fmt, va_list ap)
{
    char *resp = NULL;
    int len = redisvFormatCommand(&resp, fmt, ap);
    size_t o = 0;
    const char *p, *end;
    long n;

    out[0] = '\0';
    if (len <= 0 || resp == NULL) {
        snprintf(out, cap, "%s", fmt);
        return;
    }
    end = resp + len;
    n = strtol(resp + 1, NULL, 10);
    p = strchr(resp, '\n') + 1;
    for (long i = 0; i < n && p < end && o + 8 < cap; i++) {
        long alen = strtol(p + 1, NULL, 10);
        char esc[256];

        p = strchr(p, '\n') + 1;
        escape(p, alen > 60 ? 60 : (size_t)alen, esc, sizeof esc);
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s", i > 0 ? " " : "", esc,
                              alen > 60 ? "..." : "");
        p += alen + 2;
    }
    free(resp);
}

static redisReply *
vcmd(const char *file, int line, redisContext *c, const char *fmt, va_list ap)
{
    char shown[512];
    va_list copy;
    redisReply *r;

    va_copy(copy, ap);
    r = redisvCommand(c, fmt, ap);
    if (r == NULL) {
        render(shown, sizeof shown, fmt, copy);
        va_end(copy);
        cr_assert_fail_user(file, line, harness_abort_test,
                            "command \"%s\": no reply (connection error %d: %s)", shown, c->err,
                            c->errstr);
    }
    va_end(copy);
    return r;
}

redisReply *
harness_cmd_at(const char *file, int line, redisContext *c, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = vcmd(file, line, c, fmt, ap);
    va_end(ap);
    return r;
}

/* A one-line description of a reply, for failure messages. */
static void
describe(const redisReply *r, char *buf, size_t cap)
{
    switch (r->type) {
    case REDIS_REPLY_STATUS:
        snprintf(buf, cap, "status \"%.*s\"", (int)r->len, r->str);
        break;
    case REDIS_REPLY_ERROR:
        snprintf(buf, cap, "error \"%.*s\"", (int)r->len, r->str);
        break;
    case REDIS_REPLY_STRING:
        snprintf(buf, cap, "bulk \"%.*s\"%s (%zu bytes)", r->len > 200 ? 200 : (int)r->len,
                 r->str, r->len > 200 ? "..." : "", r->len);
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(buf, cap, "integer %lld", r->integer);
        break;
    case REDIS_REPLY_NIL:
        snprintf(buf, cap, "nil");
        break;
    case REDIS_REPLY_ARRAY:
        snprintf(buf, cap, "array of %zu", r->elements);
        break;
    default:
        snprintf(buf, cap, "reply of type %d", r->type);
        break;
    }
}

static const char *kind_names[] = {"status", "error", "bulk", "integer", "nil", "array"};

void
harness_expect_at(const char *file, int line, redisContext *c, enum harness_kind kind,
                  const char *str, long long num, const char *fmt, ...)
{
    char got[512], shown[512];
    bool ok = false;
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    render(shown, sizeof shown, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    r = vcmd(file, line, c, fmt, ap);
    va_end(ap);

    switch (kind) {
    case HK_STATUS:
        ok = r->type == REDIS_REPLY_STATUS && r->len == strlen(str) && memcmp(r->str, str, r->len) == 0;
        break;
    case HK_ERROR:
        ok = r->type == REDIS_REPLY_ERROR && r->len == strlen(str) && memcmp(r->str, str, r->len) == 0;
        break;
    case HK_BULK:
        ok = r->type == REDIS_REPLY_STRING && r->len == strlen(str) && memcmp(r->str, str, r->len) == 0;
        break;
    case HK_INT:
        ok = r->type == REDIS_REPLY_INTEGER && r->integer == num;
        break;
    case HK_NIL:
        ok = r->type == REDIS_REPLY_NIL;
        break;
    case HK_ARRAY_LEN:
        ok = r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)num;
        break;
    }
    if (!ok) {
        describe(r, got, sizeof got);
        freeReplyObject(r);
        if (str != NULL) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "command \"%s\": expected %s \"%s\", got %s", shown,
                                kind_names[kind], str, got);
        } else if (kind == HK_NIL) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "command \"%s\": expected nil, got %s", shown, got);
        } else {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "command \"%s\": expected %s %lld, got %s", shown,
                                kind_names[kind], num, got);
        }
    }
    freeReplyObject(r);
}

static bool
bulk_is(const redisReply *e, const char *want)
{
    if (want == NULL) {
        return e->type == REDIS_REPLY_NIL;
    }
    return e->type == REDIS_REPLY_STRING && e->len == strlen(want) && memcmp(e->str, want, e->len) == 0;
}

void
harness_expect_bulks_at(const char *file, int line, const redisReply *r, size_t n,
                        const char *const *want)
{
    char got[512];

    describe(r, got, sizeof got);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        cr_assert_fail_user(file, line, harness_abort_test, "expected an array of %zu, got %s", n,
                            got);
    }
    for (size_t i = 0; i < n; i++) {
        if (!bulk_is(r->element[i], want[i])) {
            describe(r->element[i], got, sizeof got);
            cr_assert_fail_user(file, line, harness_abort_test,
                                "element %zu: expected %s%s%s, got %s", i,
                                want[i] ? "bulk \"" : "nil", want[i] ? want[i] : "",
                                want[i] ? "\"" : "", got);
        }
    }
}

void
harness_expect_bulk_set_at(const char *file, int line, const redisReply *r, size_t n,
                           const char *const *want)
{
    char got[512];
    bool used[256] = {false};

    describe(r, got, sizeof got);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n || n > 256) {
        cr_assert_fail_user(file, line, harness_abort_test, "expected an array of %zu, got %s", n,
                            got);
    }
    for (size_t i = 0; i < n; i++) {
        bool found = false;

        for (size_t j = 0; j < n && !found; j++) {
            if (!used[j] && bulk_is(r->element[j], want[i])) {
                used[j] = true;
                found = true;
            }
        }
        if (!found) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "expected \"%s\" among the %zu elements, missing", want[i], n);
        }
    }
}

redisReply *
harness_elem_at(const char *file, int line, const redisReply *r, size_t i)
{
    char got[512];

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements) {
        if (r != NULL) {
            describe(r, got, sizeof got);
        } else {
            snprintf(got, sizeof got, "no reply");
        }
        cr_assert_fail_user(file, line, harness_abort_test,
                            "expected an array with an element %zu, got %s", i, got);
    }
    return r->element[i];
}

char *
harness_elem_str_at(const char *file, int line, const redisReply *r, size_t i)
{
    const redisReply *e = harness_elem_at(file, line, r, i);
    char got[512];

    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) {
        describe(e, got, sizeof got);
        cr_assert_fail_user(file, line, harness_abort_test,
                            "element %zu: expected a string, got %s", i, got);
    }
    return e->str;
}

long long
harness_info_ll_at(const char *file, int line, redisContext *c, const char *section,
                   const char *field)
{
    redisReply *r = harness_cmd_at(file, line, c, "INFO %s", section);
    size_t flen = strlen(field);
    long long v = 0;
    bool found = false;

    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        cr_assert_fail_user(file, line, harness_abort_test, "INFO %s: not a bulk reply", section);
    }
    for (const char *p = r->str; p != NULL && *p != '\0';) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
            v = strtoll(p + flen + 1, NULL, 10);
            found = true;
            break;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    freeReplyObject(r);
    if (!found) {
        cr_assert_fail_user(file, line, harness_abort_test, "INFO %s has no field %s", section,
                            field);
    }
    return v;
}

long long
harness_wait_info(redisContext *c, const char *section, const char *field, long long want,
                  int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    long long v;

    while ((v = harness_info_ll(c, section, field)) != want && harness_now_ms() < deadline) {
        harness_sleep_ms(10);
    }
    return v;
}

long long
harness_wait_clients(redisContext *c, long long n)
{
    return harness_wait_info(c, "clients", "connected_clients", n, 2000);
}

/* ---- raw sockets ----------------------------------------------------------- */

/* Bytes read past the end of a reply by harness_raw_read_reply, served first
 * by the next read on the same fd. */
static struct {
    int fd;
    size_t len;
    char buf[1 << 16];
} pending = {.fd = -1};

int
harness_raw_connect(const struct harness_server *s)
{
    return harness_raw_connect_port(s->port);
}

int
harness_raw_connect_port(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    signal(SIGPIPE, SIG_IGN);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0, "harness: socket: %s", strerror(errno));
    if (pending.fd == fd) { /* a closed socket's leftovers */
        pending.fd = -1;
        pending.len = 0;
    }
    cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "harness: connect: %s",
              strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void
harness_raw_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        cr_assert(n > 0, "harness: send: %s", n < 0 ? strerror(errno) : "closed");
        p += n;
        len -= (size_t)n;
    }
}

size_t
harness_raw_read(int fd, char *buf, size_t len, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    size_t got = 0;

    if (pending.fd == fd && pending.len > 0) {
        got = pending.len < len ? pending.len : len;
        memcpy(buf, pending.buf, got);
        memmove(pending.buf, pending.buf + got, pending.len - got);
        pending.len -= got;
    }
    while (got < len) {
        long long left = deadline - harness_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            break;
        }
        n = recv(fd, buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    return got;
}

/* Printable form of bytes, for failure messages. */
static void
escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];

        if (ch == '\r') {
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        } else if (ch == '\n') {
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        } else if (ch < 32 || ch > 126) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

void
harness_raw_expect_at(const char *file, int line, int fd, const char *want, size_t len)
{
    char *got = malloc(len + 1);
    char ew[1024], eg[1024];
    size_t n;

    cr_assert(got != NULL);
    n = harness_raw_read(fd, got, len, 3000);
    if (n != len || memcmp(got, want, len) != 0) {
        escape(want, len, ew, sizeof ew);
        escape(got, n, eg, sizeof eg);
        free(got);
        cr_assert_fail_user(file, line, harness_abort_test,
                            "raw reply: expected \"%s\" (%zu bytes), got \"%s\" (%zu bytes)", ew,
                            len, eg, n);
    }
    free(got);
}

/* End offset of the complete reply starting at buf[at], 0 if more bytes are
 * needed, -1 if the bytes are not RESP. */
static long
resp_end(const char *buf, size_t len, size_t at)
{
    const char *nl;
    long long n;
    long pos;

    if (at >= len) {
        return 0;
    }
    nl = memchr(buf + at, '\n', len - at);
    if (nl == NULL) {
        return 0;
    }
    if (nl == buf + at || nl[-1] != '\r') {
        return -1;
    }
    pos = nl - buf + 1;
    switch (buf[at]) {
    case '+': case '-': case ':': case '_': case '#': case ',': case '(':
        return pos;
    case '$': case '=': case '!':
        n = strtoll(buf + at + 1, NULL, 10);
        if (n < 0) {
            return pos;
        }
        return (size_t)pos + (size_t)n + 2 <= len ? pos + (long)n + 2 : 0;
    case '*': case '~': case '>': case '%': case '|':
        n = strtoll(buf + at + 1, NULL, 10);
        if (buf[at] == '%' || buf[at] == '|') {
            n *= 2;
        }
        for (long long i = 0; i < n; i++) {
            pos = resp_end(buf, len, (size_t)pos);
            if (pos <= 0) {
                return pos;
            }
        }
        if (buf[at] == '|') { /* attributes precede the reply they describe */
            return resp_end(buf, len, (size_t)pos);
        }
        return pos;
    default:
        return -1;
    }
}

size_t
harness_raw_read_reply_at(const char *file, int line, int fd, char *buf, size_t cap)
{
    size_t len = 0;
    long end;
    long long deadline = harness_now_ms() + 5000;

    if (pending.fd == fd && pending.len > 0) {
        len = pending.len < cap ? pending.len : cap;
        memcpy(buf, pending.buf, len);
        memmove(pending.buf, pending.buf + len, pending.len - len);
        pending.len -= len;
    }
    while ((end = resp_end(buf, len, 0)) == 0) {
        long long left = deadline - harness_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (len + 1 >= cap) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "raw reply longer than %zu bytes", cap);
        }
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "no complete reply within 5 s (%zu bytes so far)", len);
        }
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            cr_assert_fail_user(file, line, harness_abort_test,
                                "connection closed before a complete reply (%zu bytes so far)",
                                len);
        }
        len += (size_t)n;
    }
    if (end < 0) {
        char esc[512];

        escape(buf, len, esc, sizeof esc);
        cr_assert_fail_user(file, line, harness_abort_test, "not RESP: \"%s\"", esc);
    }
    /* Keep what follows the reply for the next call. */
    if ((size_t)end < len) {
        cr_assert(len - (size_t)end + pending.len <= sizeof pending.buf);
        if (pending.fd != fd) {
            pending.len = 0;
        }
        memmove(pending.buf + (len - (size_t)end), pending.buf, pending.len);
        memcpy(pending.buf, buf + end, len - (size_t)end);
        pending.len += len - (size_t)end;
        pending.fd = fd;
    }
    buf[end] = '\0';
    return (size_t)end;
}

bool
harness_raw_closed_within(int fd, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    char buf[65536];

    for (;;) {
        long long left = deadline - harness_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (left <= 0) {
            return false;
        }
        if (poll(&pfd, 1, (int)left) <= 0) {
            continue;
        }
        n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            return true;
        }
    }
}
