/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * log.c - the logging API of log.h.
 *
 * Invariants: one call writes one line with one write(2), so lines from the
 * threads of steel-fcgi never interleave; errno is the same after a call as
 * before it; a message never carries a raw control byte.
 *
 * Levels: when stderr is the journal's stream (systemd sets
 * JOURNAL_STREAM="<dev>:<inode>" of the socket it gives as stdout and
 * stderr), each line starts with the sd-daemon priority of its level,
 * "<3>" error, "<4>" warning, "<6>" info, "<7>" debug, which the journal
 * strips and stores as the line's PRIORITY (journalctl -p warning).  On
 * anything else (a file, lighttpd's breakagelog, a terminal, a pipe) the
 * line is the same without it.  The check is made once, by log_init.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static const char *log_progname = "steel";
static volatile enum log_level log_level_cur = LOG_LEVEL_INFO;
static int log_journal; /* 1: stderr is the journal; lines get "<N>" */

int log_is_journal(int fd, const char *stream)
{
    unsigned long long dev, ino;
    struct stat st;
    char *end;

    if (stream == NULL || *stream < '0' || *stream > '9')
        return 0;
    errno = 0;
    dev = strtoull(stream, &end, 10);
    if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
        return 0;
    ino = strtoull(end + 1, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    if (fstat(fd, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, enum log_level level)
{
    int saved = errno;

    log_progname = progname;
    log_level_cur = level;
    log_journal = log_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM"));
    errno = saved;
}

void log_set_level(enum log_level level)
{
    log_level_cur = level;
}

enum log_level log_get_level(void)
{
    return log_level_cur;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_priority(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_ERROR:
        return "<3>";
    case LOG_LEVEL_WARN:
        return "<4>";
    case LOG_LEVEL_INFO:
        return "<6>";
    case LOG_LEVEL_DEBUG:
        break;
    }
    return "<7>";
}

size_t log_format(char *buf, size_t size, int journal, enum log_level level,
                  const char *prefix, const char *fmt, va_list ap)
{
    char raw[LOG_LINE_MAX];
    size_t len = 0;
    const unsigned char *p;
    int n;

    if (size == 0)
        return 0;
    n = vsnprintf(raw, sizeof(raw), fmt, ap);
    if (n < 0)
        raw[0] = '\0';
    n = snprintf(buf, size, "%s%s: ", journal ? log_priority(level) : "",
                 prefix);
    len = (n < 0) ? 0 : ((size_t)n >= size ? size - 1 : (size_t)n);
    for (p = (const unsigned char *)raw; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (len + 4 >= size)
                break;
            snprintf(buf + len, size - len, "\\x%02x", *p);
            len += 4;
        } else {
            if (len + 1 >= size)
                break;
            buf[len++] = (char)*p;
        }
    }
    buf[len] = '\0';
    return len;
}

static void log_emit(enum log_level level, int with_errno, int saved_errno,
                     const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX + 256], suffix[160] = "";
    size_t len, slen = 0;
    ssize_t w;

    if (level > log_level_cur)
        return;
    /* The errno text is kept even when the message fills the line: the
     * message is cut to leave it room (and the newline). */
    if (with_errno) {
        int n = snprintf(suffix, sizeof(suffix), ": %s",
                         strerror(saved_errno));

        slen = n < 0 ? 0 : ((size_t)n >= sizeof(suffix) ? sizeof(suffix) - 1
                                                        : (size_t)n);
    }
    len = log_format(line, sizeof(line) - 1 - slen, log_journal, level,
                     log_progname, fmt, ap);
    memcpy(line + len, suffix, slen);
    len += slen;
    line[len++] = '\n';
    w = write(STDERR_FILENO, line, len);
    (void)w;
}

#define LOG_BODY(level, with_errno)                                            \
    do {                                                                       \
        int saved = errno;                                                     \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        log_emit((level), (with_errno), saved, fmt, ap);                       \
        va_end(ap);                                                            \
        errno = saved;                                                         \
    } while (0)

void log_warn(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_WARN, 1);
}

void log_warnx(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_WARN, 0);
}

void log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_ERROR, 1);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_ERROR, 0);
    exit(1);
}
