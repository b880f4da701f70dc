/*
 * server/log.c — see log.h. Lines are built in a stack buffer and written
 * with one write(2), so concurrent threads never interleave within a line.
 */
#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDOUT_FILENO;
static _Atomic int log_level = LOG_NOTICE;
static _Thread_local char log_role = 'M';

int
log_setup(const char *path, enum log_level level)
{
    atomic_store(&log_level, level);
    if (path == NULL || path[0] == '\0') {
        log_fd = STDOUT_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    log_fd = fd;
    return 0;
}

void
log_set_level(enum log_level level)
{
    atomic_store(&log_level, level);
}

void
log_teardown(void)
{
    if (log_fd != STDOUT_FILENO) {
        close(log_fd);
        log_fd = STDOUT_FILENO;
    }
}

void
log_set_role(char role)
{
    log_role = role;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    size_t n;
    int r;

    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed)) {
        return;
    }
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = (size_t)snprintf(line, sizeof line, "%d:%c ", (int)getpid(), log_role);
    n += strftime(line + n, sizeof line - n, "%d %b %Y %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03d %c ",
                          (int)(tv.tv_usec / 1000), marks[level > 3 ? 3 : level]);
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = r < 0 ? n : n + (size_t)r;
    if (n > sizeof line - 2) {
        n = sizeof line - 2;
    }
    line[n++] = '\n';
    while (write(log_fd, line, n) < 0 && errno == EINTR) {
    }
}
