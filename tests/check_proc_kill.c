/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_proc_kill.c - the kill rule of common/proc.h: which pid or group
 * proc_kill_target chooses, and proc_kill on real child processes (a
 * worker that leads its group takes its group along, one in our own group
 * goes alone, a pid reused by another process is left alone, a pidfd
 * names its process whatever its pid now names).
 */
#include "config.h"

#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "proc.h"
#include "util.h"

/* ---- the kill rule ------------------------------------------------------ */

START_TEST(test_kill_target)
{
    static const struct {
        long pid, pgid, own, want;
    } cases[] = {
        {100, 100, 50, -100}, /* leads its group: the group */
        {100, 50, 50, 100},   /* in our group: the process alone */
        {100, 70, 50, 100},   /* in another's group: the process alone */
        {100, 100, 100, 100}, /* its group is ours: never */
        {100, 0, 50, 100},    /* group unknown */
        {1, 1, 50, 0},        /* init: nothing */
        {0, 0, 50, 0},        /* kill(0) would be our own group */
        {-5, -5, 50, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_int_eq(
            proc_kill_target(cases[i].pid, cases[i].pgid, cases[i].own),
            cases[i].want);
}
END_TEST

/* Forks a child that sleeps; with own_group it leads a new process group
 * and forks a grandchild into it, whose pid *grandchild receives. */
static pid_t fork_sleeper(int own_group, pid_t *grandchild)
{
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pid_t g = 0;

        /* Check's runner handles SIGTERM by signalling the test's group:
         * a sleeper dies of it plainly. */
        signal(SIGTERM, SIG_DFL);
        close(fds[0]);
        if (own_group) {
            setpgid(0, 0);
            g = fork();
            if (g == 0) {
                pause();
                _exit(0);
            }
        }
        if (write(fds[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
            _exit(1);
        close(fds[1]);
        pause();
        _exit(0);
    }
    close(fds[1]);
    if (own_group)
        setpgid(pid, pid);
    ck_assert_int_eq(read(fds[0], grandchild, sizeof(*grandchild)),
                     (ssize_t)sizeof(*grandchild));
    close(fds[0]);
    return pid;
}

/* Waits up to 5 s for pid with start time pstart to stop running. */
static int gone_within(long pid, unsigned long long pstart)
{
    int i;

    for (i = 0; i < 500; i++) {
        if (!proc_alive(pid, pstart))
            return 1;
        sleep_ms(10);
    }
    return 0;
}

START_TEST(test_kill_group)
{
    unsigned long long start = 0, gstart = 0;
    pid_t child, grandchild = 0;
    int status;

    child = fork_sleeper(1, &grandchild);
    ck_assert_int_gt(grandchild, 0);
    ck_assert_int_eq(proc_start_time((long)child, &start), 0);
    ck_assert_int_eq(proc_start_time((long)grandchild, &gstart), 0);
    /* Another start time: a reused pid is left alone. */
    ck_assert_int_eq(proc_kill((long)child, start + 1, -1, SIGKILL), 0);
    ck_assert_int_eq(proc_alive((long)child, start), 1);
    /* The worker leads its group: the group goes, grandchild included. */
    ck_assert_int_eq(proc_kill((long)child, start, -1, SIGKILL), 1);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert(gone_within((long)grandchild, gstart));
    ck_assert_int_eq(proc_kill((long)child, start, -1, SIGKILL), 0);
}
END_TEST

START_TEST(test_kill_own_group_spared)
{
    unsigned long long start = 0;
    pid_t child, none = 0;
    int status;

    /* In our own group: only the process itself, or we would die too. */
    child = fork_sleeper(0, &none);
    ck_assert_int_eq(proc_start_time((long)child, &start), 0);
    ck_assert_int_eq(proc_kill((long)child, start, -1, SIGTERM), 1);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}
END_TEST

START_TEST(test_kill_pidfd)
{
    unsigned long long start = 0, gstart = 0;
    pid_t child, grandchild = 0;
    int pidfd, status;

    child = fork_sleeper(1, &grandchild);
    ck_assert_int_eq(proc_start_time((long)child, &start), 0);
    ck_assert_int_eq(proc_start_time((long)grandchild, &gstart), 0);
    pidfd = pidfd_open(child, 0);
    ck_assert_int_ge(pidfd, 0);
    /* The pidfd names the process: the start time is not consulted. */
    ck_assert_int_eq(proc_kill((long)child, start + 1, pidfd, SIGKILL), 1);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert(gone_within((long)grandchild, gstart));
    /* Reaped: whatever has the pid now, the pidfd says it is gone. */
    ck_assert_int_eq(proc_kill((long)child, start, pidfd, SIGKILL), 0);
    close(pidfd);
}
END_TEST

Suite *proc_kill_suite(void)
{
    Suite *s = suite_create("proc_kill");
    TCase *kill_rule = tcase_create("kill");

    tcase_add_test(kill_rule, test_kill_target);
    tcase_add_test(kill_rule, test_kill_group);
    tcase_add_test(kill_rule, test_kill_own_group_spared);
    tcase_add_test(kill_rule, test_kill_pidfd);
    suite_add_tcase(s, kill_rule);
    return s;
}
