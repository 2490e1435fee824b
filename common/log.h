/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * log.h - one line format for every program.
 *
 * Lines look like "steel-spawner: worker 7 (pid 4242, port 20007): exited 1"
 * and go to stderr, which lighttpd copies into its error log for steel-fcgi
 * and systemd copies into the journal for the daemons.  Control bytes in the
 * message are escaped so that one call is always exactly one line.  When
 * stderr is the journal, each line starts with its level's sd-daemon
 * priority ("<4>steel-spawner: ..."), which the journal turns into the
 * line's PRIORITY field; elsewhere lines carry no level mark.
 */
#ifndef STEEL_LOG_H
#define STEEL_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Sets the program name that starts each line and the most verbose level,
 * and looks once whether stderr is the journal (log_is_journal). */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* log_warn appends ": <strerror(errno)>"; the others do not.  All of them
 * preserve errno. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start-up only: log and exit(1).  Never call these on a request path. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* The sd-daemon priority prefix of level: "<3>" error, "<4>" warning,
 * "<6>" info, "<7>" debug (a static string). */
const char *log_priority(enum log_level level);

/* 1 when fd is the journal's stream: stream (the value of JOURNAL_STREAM,
 * "<dev>:<inode>" in decimal) names fd's device and inode.  0 for a NULL
 * or malformed stream, or a failed fstat.  Exposed for the tests. */
int log_is_journal(int fd, const char *stream);

/* Formats one line into buf (at most size bytes including the NUL):
 * level's priority prefix when journal is set, then "prefix: " and the
 * message with control bytes escaped as \xNN; exposed for the tests.
 * Returns the length written. */
size_t log_format(char *buf, size_t size, int journal, enum log_level level,
                  const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#endif
