/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_ports.c - the spawner's port choice (spawner/pool.h): round robin
 * over worker_port_range, skipping ports held, cooling or found busy.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "pool.h"
#include "portown.h"
/* ---- ports -------------------------------------------------------------- */

static int busy_port;

static int fake_free(int port, void *arg)
{
    int *calls = arg;

    (*calls)++;
    return port != busy_port;
}

START_TEST(test_ports_round_robin)
{
    struct port_map pm;
    int calls = 0, a, b, c;

    busy_port = 0;
    ck_assert_int_eq(port_map_init(&pm, 20000, 20002), 0);
    a = port_pick(&pm, 0, fake_free, &calls);
    b = port_pick(&pm, 0, fake_free, &calls);
    c = port_pick(&pm, 0, fake_free, &calls);
    ck_assert_int_eq(a, 20000);
    ck_assert_int_eq(b, 20001);
    ck_assert_int_eq(c, 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), -1);
    /* A released port is handed out again; the search goes on from where
     * it stopped. */
    port_release(&pm, 20001);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20001);
    port_release(&pm, 20000);
    port_release(&pm, 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20000);
    port_map_release(&pm);
}
END_TEST

START_TEST(test_ports_skip_held_and_cooling)
{
    struct port_map pm;
    int calls = 0;

    ck_assert_int_eq(port_map_init(&pm, 30000, 30009), 0);
    /* Held by another process: skipped, and not tested again while it
     * cools. */
    busy_port = 30000;
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 30001);
    ck_assert_int_eq(calls, 2);
    port_release(&pm, 30001);
    pm.next = 30000;
    calls = 0;
    ck_assert_int_eq(port_pick(&pm, 100, fake_free, &calls), 30001);
    ck_assert_int_eq(calls, 1);
    /* After the cool-down it is tried again. */
    busy_port = 0;
    port_release(&pm, 30001);
    pm.next = 30000;
    ck_assert_int_eq(port_pick(&pm, POOL_PORT_COOL_MS + 1, fake_free, &calls),
                     30000);
    /* A port a worker failed on cools too. */
    port_release(&pm, 30000);
    port_cool(&pm, 30000, 5000);
    pm.next = 30000;
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30001);
    /* Adopted workers' ports are taken. */
    port_take(&pm, 30002);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30003);
    /* A narrower range keeps the search inside it. */
    port_map_range(&pm, 30005, 30006);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30005);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30006);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), -1);
    port_map_release(&pm);
}
END_TEST

/* Two listeners on port 0x4E21 (20001), one of them of uid 104; a
 * connected socket on it and a listener on another port are not taken. */
START_TEST(test_portown_parse)
{
    static const char tcp[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:4E21 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000   104        0 5551 1 0000000000000000 100 0 0 10 0\n"
        "   1: 00000000:4E21 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000     0        0 5552 1 0000000000000000 100 0 0 10 0\n"
        "   2: 0100007F:4E21 0100007F:D431 01 00000000:00000000 00:00000000 "
        "00000000   104        0 5553 1 0000000000000000 20 4 30 10 -1\n"
        "   3: 0100007F:4E22 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000   104        0 5554 1 0000000000000000 100 0 0 10 0\n"
        "garbage line\n";
    struct portown_sock socks[4];
    size_t n = 0;

    ck_assert_int_eq(portown_parse(tcp, sizeof(tcp) - 1, 20001, socks, 4, &n),
                     0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(socks[0].inode, 5551);
    ck_assert_uint_eq(socks[0].uid, 104);
    ck_assert_uint_eq(socks[1].inode, 5552);
    ck_assert_uint_eq(socks[1].uid, 0);
    n = 0;
    ck_assert_int_eq(portown_parse(tcp, sizeof(tcp) - 1, 20001, socks, 1, &n),
                     -1);
}
END_TEST

/* A /proc/net/tcp of a host with 40000 sockets (6 MB: more than any
 * buffer), a line longer than the read buffer among them, and the one
 * listener on 20001 last, without its newline: it is found. */
START_TEST(test_portown_scan_large)
{
    static const char other[] =
        "   1: 0100007F:4E22 0100007F:D431 01 00000000:00000000 00:00000000 "
        "00000000   104        0 7777 1 0000000000000000 20 4 30 10 -1\n";
    char path[] = "/tmp/check_ports.XXXXXX";
    struct portown_sock socks[4];
    size_t n = 0;
    FILE *f;
    int fd, i;

    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs("  sl  local_address rem_address   st\n", f);
    for (i = 0; i < 40000; i++) {
        fputs(other, f);
        if (i == 20000) {
            for (int k = 0; k < 70000; k++)
                fputc('x', f);
            fputc('\n', f);
        }
    }
    fputs("   0: 0100007F:4E21 00000000:0000 0A 00000000:00000000 00:00000000 "
          "00000000   104        0 5551 1 0000000000000000 100 0 0 10 0",
          f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(portown_scan(path, 20001, socks, 4, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(socks[0].inode, 5551);
    n = 0;
    ck_assert_int_eq(portown_scan(path, 20002, socks, 4, &n), 0);
    ck_assert_uint_eq(n, 0);
    unlink(path);
    ck_assert_int_eq(portown_scan(path, 20001, socks, 4, &n), -2);
}
END_TEST

/* A child of uid `uid` that listens on 127.0.0.1 (*port) until killed;
 * the socket is made after the switch, so its uid is `uid`. */
static pid_t listener(uid_t uid, int *port)
{
    int p[2];
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd, got;

        close(p[0]);
        if (setgid(uid) < 0 || setuid(uid) < 0)
            _exit(1);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0)
            _exit(1);
        got = ntohs(a.sin_port);
        if (write(p[1], &got, sizeof(got)) != (ssize_t)sizeof(got))
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], port, sizeof(*port)), (ssize_t)sizeof(*port));
    close(p[0]);
    return pid;
}

/* What portown_check answers, asked from a process of uid `as`. */
static int check_as(uid_t as, pid_t pid, int port)
{
    int st = 0;
    pid_t c = fork();

    ck_assert_int_ge(c, 0);
    if (c == 0) {
        if (setgid(as) < 0 || setuid(as) < 0)
            _exit(99);
        _exit(portown_check(pid, port) + 1);
    }
    ck_assert_int_eq(waitpid(c, &st, 0), c);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st) - 1;
}

/* A worker of another uid, whose fds the spawner cannot read, is known by
 * its socket's uid; a listener of a third uid is not the worker's.  Root
 * only (it switches uids); else the test passes without checking. */
START_TEST(test_portown_other_uid)
{
    int port, port2;
    pid_t w, other;

    if (geteuid() != 0)
        return;
    w = listener(65534, &port);
    other = listener(1, &port2);
    /* root reads the fds: the inode decides. */
    ck_assert_int_eq(portown_check(w, port), 1);
    ck_assert_int_eq(portown_check(other, port), 0);
    /* uid 2 reads neither tree's fds: the uid decides. */
    ck_assert_int_eq(check_as(2, w, port), 1);
    ck_assert_int_eq(check_as(2, other, port), 0);
    ck_assert_int_eq(check_as(2, w, port2), 0);
    kill(w, SIGKILL);
    kill(other, SIGKILL);
    waitpid(w, NULL, 0);
    waitpid(other, NULL, 0);
}
END_TEST

Suite *ports_suite(void)
{
    Suite *s = suite_create("ports");
    TCase *tc = tcase_create("ports");

    tcase_add_test(tc, test_ports_round_robin);
    tcase_add_test(tc, test_ports_skip_held_and_cooling);
    tcase_add_test(tc, test_portown_parse);
    tcase_add_test(tc, test_portown_scan_large);
    tcase_add_test(tc, test_portown_other_uid);
    suite_add_tcase(s, tc);
    return s;
}
