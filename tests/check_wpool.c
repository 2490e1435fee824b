/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wpool.c - the idle connections of a process (common/wpool.h):
 * found by address among thousands, the most recent first, bounded with
 * the least recently used closed first, and nothing kept after a flush.
 * The descriptors are of /dev/null: the pool only holds and closes them.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "wpool.h"

static int devnull(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    return fd;
}

/* 1 when fd is open. */
static int is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

START_TEST(test_take_by_address)
{
    int a = devnull(), b = devnull(), c = devnull();

    wpool_flush();
    ck_assert_int_eq(wpool_take("127.0.0.1", 20001), -1);
    wpool_put(a, "127.0.0.1", 20001);
    wpool_put(b, "127.0.0.1", 20002);
    wpool_put(c, "127.0.0.1", 20001);
    ck_assert_int_eq(wpool_size(), 3);
    /* The most recently put back first. */
    ck_assert_int_eq(wpool_take("127.0.0.1", 20001), c);
    ck_assert_int_eq(wpool_take("127.0.0.1", 20001), a);
    ck_assert_int_eq(wpool_take("127.0.0.1", 20001), -1);
    ck_assert_int_eq(wpool_take("127.0.0.2", 20002), -1);
    ck_assert_int_eq(wpool_take("127.0.0.1", 20002), b);
    ck_assert_int_eq(wpool_size(), 0);
    close(a);
    close(b);
    close(c);
}
END_TEST

/* More addresses than the pool holds: each found while kept, the least
 * recently used closed to make room, a flush closes the rest. */
START_TEST(test_bounded_lru)
{
    static int fds[WPOOL_MAX + 64];
    int i, n, room;

    wpool_flush();
    /* How many it holds here (RLIMIT_NOFILE may make it less). */
    for (n = 0; n < WPOOL_MAX + 64; n++) {
        fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[n] < 0)
            break;
        wpool_put(fds[n], "127.0.0.1", 10000 + n);
        if (wpool_size() < n + 1)
            break;
    }
    ck_assert_int_ge(n, 16);
    room = wpool_size();
    if (n < WPOOL_MAX + 64 && fds[n] >= 0)
        n++; /* the put that found the pool full */
    ck_assert_int_eq(room, n - 1);
    /* The first put was closed to make room for the last. */
    ck_assert_int_eq(wpool_take("127.0.0.1", 10000), -1);
    ck_assert(!is_open(fds[0]));
    ck_assert_int_eq(wpool_take("127.0.0.1", 10000 + n - 1), fds[n - 1]);
    ck_assert_int_eq(wpool_take("127.0.0.1", 10001), fds[1]);
    close(fds[n - 1]);
    close(fds[1]);
    ck_assert_int_eq(wpool_size(), room - 2);
    wpool_flush();
    ck_assert_int_eq(wpool_size(), 0);
    for (i = 2; i < n - 1; i++)
        ck_assert(!is_open(fds[i]));
}
END_TEST

Suite *wpool_suite(void)
{
    Suite *s = suite_create("wpool");
    TCase *tc = tcase_create("pool");

    tcase_add_test(tc, test_take_by_address);
    tcase_add_test(tc, test_bounded_lru);
    suite_add_tcase(s, tc);
    return s;
}
