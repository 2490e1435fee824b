/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_log.c - one call is one line: control bytes escaped, long messages
 * truncated, the prefix first; the level's priority first when stderr is
 * the journal, and only then.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "log.h"

static size_t fmt_level(char *out, size_t size, int journal,
                        enum log_level level, const char *f, ...)
    __attribute__((format(printf, 5, 6)));

static size_t fmt_level(char *out, size_t size, int journal,
                        enum log_level level, const char *f, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, f);
    n = log_format(out, size, journal, level, "steel-test", f, ap);
    va_end(ap);
    return n;
}

#define fmt(out, size, ...) fmt_level(out, size, 0, LOG_LEVEL_WARN, __VA_ARGS__)

/* JOURNAL_STREAM's value for fd: "<dev>:<inode>". */
static void stream_of(int fd, char *out, size_t size)
{
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    snprintf(out, size, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
}

/* Reads what the pipe holds after log calls (one read: one line each). */
static ssize_t drain(int fd, char *out, size_t size)
{
    ssize_t n = read(fd, out, size - 1);

    out[n > 0 ? n : 0] = '\0';
    return n;
}

START_TEST(test_escape)
{
    char line[256];

    fmt(line, sizeof(line), "worker %d: %s", 7, "bad\nline\x1b[31m");
    ck_assert_str_eq(line, "steel-test: worker 7: bad\\x0aline\\x1b[31m");
}
END_TEST

START_TEST(test_truncate)
{
    char line[32];
    size_t n = fmt(line, sizeof(line), "%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    ck_assert_uint_eq(n, strlen(line));
    ck_assert_uint_lt(n, sizeof(line));
    ck_assert_int_eq(strncmp(line, "steel-test: aaaa", 16), 0);
}
END_TEST

/* A message long enough to fill the line still ends with its errno text
 * and a newline, with no NUL byte inside. */
START_TEST(test_long_with_errno)
{
    char big[4096], out[8192]; /* more than a line holds */
    int fds[2], saved;
    ssize_t n;

    /* Control bytes are escaped four to one: the line overflows. */
    memset(big, '\x01', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    unsetenv("JOURNAL_STREAM");
    log_init("steel-test", LOG_LEVEL_WARN);
    errno = ENOENT;
    log_warn("%s", big);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    n = read(fds[0], out, sizeof(out));
    close(fds[0]);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_null(memchr(out, '\0', (size_t)n));
    ck_assert_int_eq(out[n - 1], '\n');
    out[n - 1] = '\0';
    ck_assert_msg(n > 30 && strcmp(out + n - 1 - strlen(strerror(ENOENT)) - 2,
                                   ": No such file or directory") == 0,
                  "line ends with '%s'", out + (n > 40 ? n - 40 : 0));
}
END_TEST

START_TEST(test_priority)
{
    char line[256];

    ck_assert_str_eq(log_priority(LOG_LEVEL_ERROR), "<3>");
    ck_assert_str_eq(log_priority(LOG_LEVEL_WARN), "<4>");
    ck_assert_str_eq(log_priority(LOG_LEVEL_INFO), "<6>");
    ck_assert_str_eq(log_priority(LOG_LEVEL_DEBUG), "<7>");
    fmt_level(line, sizeof(line), 1, LOG_LEVEL_WARN, "worker %d: exited %d", 7,
              1);
    ck_assert_str_eq(line, "<4>steel-test: worker 7: exited 1");
    fmt_level(line, sizeof(line), 1, LOG_LEVEL_DEBUG, "x\ty");
    ck_assert_str_eq(line, "<7>steel-test: x\\x09y");
    /* Not the journal: today's line, whatever the level. */
    fmt_level(line, sizeof(line), 0, LOG_LEVEL_ERROR, "bad");
    ck_assert_str_eq(line, "steel-test: bad");
}
END_TEST

/* A priority prefix on a line cut short still leaves a terminated line. */
START_TEST(test_priority_truncate)
{
    char line[8];
    size_t n = fmt_level(line, sizeof(line), 1, LOG_LEVEL_INFO, "%s", "abc");

    ck_assert_uint_eq(n, strlen(line));
    ck_assert_uint_eq(n, sizeof(line) - 1);
    ck_assert_str_eq(line, "<6>stee");
}
END_TEST

START_TEST(test_is_journal)
{
    char stream[64], other[80];
    int fds[2];
    FILE *f = tmpfile();

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pipe(fds), 0);
    stream_of(fds[1], stream, sizeof(stream));
    stream_of(fileno(f), other, sizeof(other));
    ck_assert_int_eq(log_is_journal(fds[1], stream), 1);
    ck_assert_int_eq(log_is_journal(fileno(f), other), 1);
    /* Another stream: a file where the journal's socket was (lighttpd's
     * breakagelog under a lighttpd that systemd started). */
    ck_assert_int_eq(log_is_journal(fileno(f), stream), 0);
    ck_assert_int_eq(log_is_journal(fds[1], other), 0);
    ck_assert_int_eq(log_is_journal(fds[1], NULL), 0);
    ck_assert_int_eq(log_is_journal(fds[1], ""), 0);
    ck_assert_int_eq(log_is_journal(fds[1], "12"), 0);
    ck_assert_int_eq(log_is_journal(fds[1], "12:"), 0);
    ck_assert_int_eq(log_is_journal(fds[1], ":12"), 0);
    ck_assert_int_eq(log_is_journal(fds[1], "-1:-1"), 0);
    ck_assert_int_eq(log_is_journal(fds[1], "1:2:3"), 0);
    ck_assert_int_eq(log_is_journal(-1, stream), 0);
    ck_assert_int_lt(snprintf(other, sizeof(other), "%s ", stream),
                     (int)sizeof(other));
    ck_assert_int_eq(log_is_journal(fds[1], other), 0);
    close(fds[0]);
    close(fds[1]);
    fclose(f);
}
END_TEST

/* log_init looks at stderr: the journal's stream gets priorities, the same
 * variable naming another file does not; errno survives either way. */
START_TEST(test_journal_lines)
{
    char stream[64], out[512];
    int fds[2], saved;

    ck_assert_int_eq(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    stream_of(STDERR_FILENO, stream, sizeof(stream));
    setenv("JOURNAL_STREAM", stream, 1);
    errno = EAGAIN;
    log_init("steel-test", LOG_LEVEL_DEBUG);
    ck_assert_int_eq(errno, EAGAIN);
    log_warnx("pool degraded: %d", 5);
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "<4>steel-test: pool degraded: 5\n");
    errno = ENOENT;
    log_warn("open %s", "x");
    ck_assert_int_eq(errno, ENOENT);
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "<4>steel-test: open x: No such file or directory\n");
    log_info("serving");
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "<6>steel-test: serving\n");
    log_debug("GET /health -> 200");
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "<7>steel-test: GET /health -> 200\n");

    /* Stderr is a file or a pipe of its own (lighttpd's breakagelog):
     * the inherited variable names something else; no priority. */
    setenv("JOURNAL_STREAM", "1:1", 1);
    log_init("steel-test", LOG_LEVEL_DEBUG);
    log_warnx("pool degraded: %d", 5);
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "steel-test: pool degraded: 5\n");
    unsetenv("JOURNAL_STREAM");
    log_init("steel-test", LOG_LEVEL_DEBUG);
    log_info("serving");
    drain(fds[0], out, sizeof(out));
    ck_assert_str_eq(out, "steel-test: serving\n");

    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[0]);
    close(fds[1]);
    log_init("steel-test", LOG_LEVEL_ERROR);
}
END_TEST

START_TEST(test_levels)
{
    enum log_level l;

    ck_assert_int_eq(log_level_parse("debug", &l), 0);
    ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
    ck_assert_int_eq(log_level_parse("warn", &l), 0);
    ck_assert_int_eq(l, LOG_LEVEL_WARN);
    ck_assert_int_eq(log_level_parse("verbose", &l), -1);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *normal = tcase_create("normal");
    TCase *limits = tcase_create("limits");
    TCase *errors = tcase_create("errors");

    tcase_add_test(normal, test_escape);
    tcase_add_test(normal, test_truncate);
    tcase_add_test(normal, test_long_with_errno);
    tcase_add_test(normal, test_levels);
    tcase_add_test(normal, test_priority);
    tcase_add_test(normal, test_journal_lines);
    suite_add_tcase(s, normal);
    tcase_add_test(limits, test_priority_truncate);
    suite_add_tcase(s, limits);
    tcase_add_test(errors, test_is_journal);
    suite_add_tcase(s, errors);
    return s;
}
