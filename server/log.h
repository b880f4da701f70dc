/*
 * server/log.h — leveled log lines in Redis's format
 * ("pid:M 21 Nov 2026 08:12:01.123 * message"), to stdout or `logfile`.
 * Thread safe: each line is one write(2).
 */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };

/* Returns -1 when the file cannot be opened (errno set). "" means stdout. */
int log_setup(const char *path, enum log_level level);
void log_set_level(enum log_level level);
void log_teardown(void);
/* Role letter in each line: 'M' for the main thread, 'W' for workers. */
void log_set_role(char role);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
