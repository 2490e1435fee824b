/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * log.c - the logging API of log.h.
 *
 * Invariants: one call writes one line with one write(2), so lines from the
 * threads of steel-fcgi never interleave; errno is the same after a call as
 * before it; a message never carries a raw control byte.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static const char *log_progname = "steel";
static volatile enum log_level log_level_cur = LOG_LEVEL_INFO;

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_level_cur = level;
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

size_t log_format(char *buf, size_t size, const char *prefix,
                  const char *fmt, va_list ap)
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
    n = snprintf(buf, size, "%s: ", prefix);
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
    len = log_format(line, sizeof(line) - 1 - slen, log_progname, fmt, ap);
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
