/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_log.c - one call is one line: control bytes escaped, long messages
 * truncated, the prefix first.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "log.h"

static size_t fmt(char *out, size_t size, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static size_t fmt(char *out, size_t size, const char *f, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, f);
    n = log_format(out, size, "steel-test", f, ap);
    va_end(ap);
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

    tcase_add_test(normal, test_escape);
    tcase_add_test(normal, test_truncate);
    tcase_add_test(normal, test_long_with_errno);
    tcase_add_test(normal, test_levels);
    suite_add_tcase(s, normal);
    return s;
}
