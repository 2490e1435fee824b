/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_ports.c - the spawner's port choice (spawner/pool.h): round robin
 * over worker_port_range, skipping ports held, cooling or found busy; and
 * who holds a port (common/portown.h), through sock_diag and /proc/net,
 * against real sockets of this process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
 * the socket is made after the switch, so its uid is `uid` (no switch
 * when `uid` is ours). */
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
        if (uid != getuid() && (setgid(uid) < 0 || setuid(uid) < 0))
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

/* ---- portown through sock_diag ------------------------------------------ */

/* A TCP socket of family on the loopback address, bound to port (0: a
 * free one, then in *port), listening when backlog > 0, SO_REUSEPORT when
 * share.  Returns it, or -1 when the family or the bind is refused (a
 * host without IPv6). */
static int lo_socket(int family, int backlog, int share, int *port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    struct sockaddr *a;
    socklen_t len;
    int fd, one = 1;

    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (family == AF_INET) {
        a4.sin_family = AF_INET;
        a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a4.sin_port = htons((uint16_t)*port);
        a = (struct sockaddr *)&a4;
        len = sizeof(a4);
    } else {
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_loopback;
        a6.sin6_port = htons((uint16_t)*port);
        a = (struct sockaddr *)&a6;
        len = sizeof(a6);
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if ((share &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
        bind(fd, a, len) < 0 || (backlog > 0 && listen(fd, backlog) < 0) ||
        getsockname(fd, a, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? a4.sin_port : a6.sin6_port);
    return fd;
}

/* The inode of fd's socket, as sock_diag and /proc/net/tcp name it. */
static unsigned long ino_of(int fd)
{
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    return (unsigned long)st.st_ino;
}

/* portown_diag of family on port, asserted to succeed; its count. */
static size_t diag(int family, int port, struct portown_sock *socks, size_t max)
{
    size_t n = 0;
    int rc = portown_diag(family, port, socks, max, &n);

    if (rc != 0)
        ck_abort_msg("portown_diag(%d, %d): %d (%s)", family, port, rc,
                     strerror(errno));
    return n;
}

/* One listener of ours, found by its inode and our uid, as portown_scan
 * finds it; a second listener and a connection on the first port are not
 * taken for it. */
START_TEST(test_portown_diag_v4)
{
    struct portown_sock socks[4], scan[4];
    struct sockaddr_in a;
    int port = 0, port2 = 0, fd, fd2, c, s;
    size_t n, m = 0;

    fd = lo_socket(AF_INET, 8, 0, &port);
    fd2 = lo_socket(AF_INET, 8, 0, &port2);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(fd2, 0);
    n = diag(AF_INET, port, socks, 4);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(socks[0].inode, ino_of(fd));
    ck_assert_uint_eq(socks[0].uid, getuid());
    /* The two sources agree. */
    ck_assert_int_eq(portown_scan("/proc/net/tcp", port, scan, 4, &m), 0);
    ck_assert_uint_eq(m, n);
    ck_assert_uint_eq(scan[0].inode, socks[0].inode);
    ck_assert_uint_eq(scan[0].uid, socks[0].uid);
    /* The other port has its own listener, and only it. */
    ck_assert_uint_eq(diag(AF_INET, port2, socks, 4), 1);
    ck_assert_uint_eq(socks[0].inode, ino_of(fd2));
    /* Established sockets on the port (both ends here) are no listeners. */
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    s = accept(fd, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ck_assert_uint_eq(diag(AF_INET, port, socks, 4), 1);
    ck_assert_uint_eq(socks[0].inode, ino_of(fd));
    /* portown_check on the netlink path: ours. */
    ck_assert_int_eq(portown_check(getpid(), port), 1);
    close(s);
    close(c);
    close(fd2);
    close(fd);
}
END_TEST

/* A port bound but not listening: nothing, and nothing for the check. */
START_TEST(test_portown_diag_none)
{
    struct portown_sock socks[4];
    int port = 0, fd;

    fd = lo_socket(AF_INET, 0, 0, &port);
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_eq(diag(AF_INET, port, socks, 4), 0);
    ck_assert_int_eq(portown_check(getpid(), port), -1);
    close(fd);
}
END_TEST

/* A listener on ::1 is in the AF_INET6 dump, as in /proc/net/tcp6;
 * skipped where the host has no IPv6. */
START_TEST(test_portown_diag_v6)
{
    struct portown_sock socks[4], scan[4];
    int port = 0, fd;
    size_t m = 0;

    fd = lo_socket(AF_INET6, 8, 0, &port);
    if (fd < 0) {
        printf("test_portown_diag_v6: no IPv6 loopback (%s): skipped\n",
               strerror(errno));
        return;
    }
    ck_assert_uint_eq(diag(AF_INET6, port, socks, 4), 1);
    ck_assert_uint_eq(socks[0].inode, ino_of(fd));
    ck_assert_uint_eq(socks[0].uid, getuid());
    ck_assert_int_eq(portown_scan("/proc/net/tcp6", port, scan, 4, &m), 0);
    ck_assert_uint_eq(m, 1);
    ck_assert_uint_eq(scan[0].inode, socks[0].inode);
    ck_assert_int_eq(portown_check(getpid(), port), 1);
    close(fd);
}
END_TEST

/* Two listeners on one port (SO_REUSEPORT): both found; past max, -1,
 * which portown_check answers with 0. */
START_TEST(test_portown_diag_limit)
{
    struct portown_sock socks[PORTOWN_MAX_SOCKETS + 1];
    int fds[PORTOWN_MAX_SOCKETS + 1];
    int port = 0, i;
    size_t n = 0;

    fds[0] = lo_socket(AF_INET, 8, 1, &port);
    ck_assert_int_ge(fds[0], 0);
    fds[1] = lo_socket(AF_INET, 8, 1, &port);
    ck_assert_int_ge(fds[1], 0);
    ck_assert_uint_eq(diag(AF_INET, port, socks, 4), 2);
    ck_assert(socks[0].inode != socks[1].inode);
    for (i = 0; i < 2; i++)
        ck_assert(socks[i].inode == ino_of(fds[0]) ||
                  socks[i].inode == ino_of(fds[1]));
    ck_assert_int_eq(portown_diag(AF_INET, port, socks, 1, &n), -1);
    ck_assert_int_eq(portown_check(getpid(), port), 1);
    for (i = 2; i <= PORTOWN_MAX_SOCKETS; i++) {
        fds[i] = lo_socket(AF_INET, 1, 1, &port);
        ck_assert_int_ge(fds[i], 0);
    }
    ck_assert_int_eq(portown_check(getpid(), port), 0);
    for (i = 0; i <= PORTOWN_MAX_SOCKETS; i++)
        close(fds[i]);
}
END_TEST

/* Makes socket(AF_NETLINK, ...) fail with EPROTONOSUPPORT in this
 * process, as a seccomp sandbox or a kernel without it would.  Returns
 * 0, or -1 when seccomp is not to be had. */
static int no_netlink(void)
{
#ifdef __NR_socket
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, args[0]) +
                     (BYTE_ORDER == BIG_ENDIAN ? 4 : 0)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPROTONOSUPPORT),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -1;
    return 0;
#else
    return -1;
#endif
}

/* Without netlink, portown_diag says so (-2, n untouched) and
 * portown_check gives the same answers from /proc/net/tcp*. */
START_TEST(test_portown_diag_fallback)
{
    int port = 0, wport, fd, st = 0;
    pid_t w, c;

    w = listener(getuid(), &wport);
    fd = lo_socket(AF_INET, 8, 0, &port);
    ck_assert_int_ge(fd, 0);
    c = fork();
    ck_assert_int_ge(c, 0);
    if (c == 0) {
        struct portown_sock socks[4];
        size_t n = 3;

        if (no_netlink() < 0)
            _exit(77);
        if (portown_diag(AF_INET, port, socks, 4, &n) != -2 ||
            errno != EPROTONOSUPPORT || n != 3)
            _exit(1);
        if (portown_check(w, wport) != 1)
            _exit(2);
        if (portown_check(w, port) != 0)
            _exit(3);
        if (portown_check(getppid(), port) != 1)
            _exit(4);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(c, &st, 0), c);
    ck_assert(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        printf("test_portown_diag_fallback: no seccomp: skipped\n");
    else
        ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* The same answers through netlink. */
    ck_assert_int_eq(portown_check(w, wport), 1);
    ck_assert_int_eq(portown_check(w, port), 0);
    ck_assert_int_eq(portown_check(getpid(), port), 1);
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    close(fd);
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
    tc = tcase_create("portown_diag");
    tcase_add_test(tc, test_portown_diag_v4);
    tcase_add_test(tc, test_portown_diag_none);
    tcase_add_test(tc, test_portown_diag_v6);
    tcase_add_test(tc, test_portown_diag_limit);
    tcase_add_test(tc, test_portown_diag_fallback);
    suite_add_tcase(s, tc);
    return s;
}
