/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_cgroup.c - the cgroup module (common/cgroup.h) on directory trees
 * that imitate cgroupfs: detection of the hybrid layout (cgroup2 without
 * memory and pids, v1 memory and pids beside it), the unified layout and
 * a v1-only one; the worker groups, their limits, the OOM count, the
 * identity rule, and the kill fallback on a real child process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "check_suites.h"

static char tmp[256];

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s%s%s", tmp, dir, *dir ? "/" : "", name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void get_file(const char *rel, char *buf, size_t size)
{
    char path[1024];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void mk(const char *rel)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_int_eq(mkdir(path, 0755) == 0 || errno == EEXIST, 1);
}

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/check_cgroup.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    mk("v2");
    mk("mem");
    mk("pids");
    mk("proc");
}

static void teardown(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* mountinfo of this tree: hybrid (v2 plus v1 memory and pids), unified
 * (v2 with every controller), or v1 only. */
static void write_mounts(int v2, int v1)
{
    char text[2048];
    int n = 0;

    text[0] = '\0';
    n += snprintf(text + n, sizeof(text) - (size_t)n,
                  "31 23 0:28 / /x rw - tmpfs tmpfs rw\n");
    if (v1) {
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "35 31 0:32 / %s/mem rw,relatime shared:9 - cgroup "
                      "cgroup rw,memory\n39 31 0:36 / %s/pids rw - cgroup "
                      "cgroup rw,pids\n",
                      tmp, tmp);
    }
    if (v2) {
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "41 31 0:38 / %s/v2 rw,relatime - cgroup2 cgroup2 rw\n",
                      tmp);
    }
    put_file("", "mountinfo", text);
    put_file("", "self", "8:pids:/\n4:memory:/other/thing\n0::/svc\n");
}

static void detect(struct cgroup *cg, const char *root)
{
    char mi[512], self[512], err[256] = "";

    snprintf(mi, sizeof(mi), "%s/mountinfo", tmp);
    snprintf(self, sizeof(self), "%s/self", tmp);
    ck_assert_msg(cgroup_detect(cg, mi, self, root, err, sizeof(err)) == 0,
                  "%s", err);
    snprintf(cg->procroot, sizeof(cg->procroot), "%s/proc", tmp);
}

START_TEST(test_hybrid)
{
    struct cgroup cg;
    struct cgroup_limits lim = {512, 64, 50, 150};
    char err[256], buf[256];

    write_mounts(1, 1);
    detect(&cg, "/steel/n1");
    ck_assert_int_eq(cg.nhier, 3);
    ck_assert_int_eq(cg.hier[0].v2, 1);
    ck_assert_str_eq(cg.hier[0].base, "/steel/n1");
    mk("v2/steel");
    mk("v2/steel/n1");
    mk("v2/steel/n1/workers");
    put_file("v2/steel/n1/workers", "cgroup.controllers", "cpu io\n");
    put_file("v2/steel/n1/workers", "cgroup.kill", "");
    ck_assert_int_eq(cgroup_setup(&cg, "/steel/n1", err, sizeof(err)), 0);
    ck_assert_int_eq(cg.has_kill, 1);
    ck_assert_int_eq(cg.ctl[CGROUP_CPU], 0);
    ck_assert_int_ge(cg.ctl[CGROUP_MEMORY], 1);
    ck_assert_int_eq(cg.hier[cg.ctl[CGROUP_MEMORY]].v2, 0);
    ck_assert_int_ge(cg.ctl[CGROUP_PIDS], 1);
    ck_assert_int_eq(cgroup_worker_create(&cg, 7, &lim, err, sizeof(err)), 0);
    get_file("mem/steel/n1/workers/w7/memory.limit_in_bytes", buf, sizeof(buf));
    ck_assert_str_eq(buf, "536870912");
    get_file("pids/steel/n1/workers/w7/pids.max", buf, sizeof(buf));
    ck_assert_str_eq(buf, "64");
    get_file("v2/steel/n1/workers/w7/cpu.weight", buf, sizeof(buf));
    ck_assert_str_eq(buf, "50");
    get_file("v2/steel/n1/workers/w7/cpu.max", buf, sizeof(buf));
    ck_assert_str_eq(buf, "150000 100000");
    ck_assert_int_eq(cgroup_worker_attach(&cg, 7, 4242), 0);
    get_file("v2/steel/n1/workers/w7/cgroup.procs", buf, sizeof(buf));
    ck_assert_str_eq(buf, "4242");
    get_file("pids/steel/n1/workers/w7/cgroup.procs", buf, sizeof(buf));
    ck_assert_str_eq(buf, "4242");
    /* OOM: v1 memory.oom_control. */
    ck_assert_int_eq(cgroup_worker_oom(&cg, 7), 0);
    put_file("mem/steel/n1/workers/w7", "memory.oom_control",
             "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    ck_assert_int_eq(cgroup_worker_oom(&cg, 7), 1);
    /* cgroup.kill */
    put_file("v2/steel/n1/workers/w7", "cgroup.procs", "");
    ck_assert_int_eq(cgroup_worker_kill(&cg, 7), 1);
    get_file("v2/steel/n1/workers/w7/cgroup.kill", buf, sizeof(buf));
    ck_assert_str_eq(buf, "1");
}
END_TEST

START_TEST(test_unified)
{
    struct cgroup cg;
    struct cgroup_limits lim = {256, 32, 0, 0};
    char err[256], buf[256];

    write_mounts(1, 0);
    detect(&cg, NULL); /* own cgroup: /svc, delegated */
    ck_assert_int_eq(cg.nhier, 1);
    ck_assert_str_eq(cg.hier[0].base, "/svc");
    mk("v2/svc");
    mk("v2/svc/workers");
    put_file("v2/svc/workers", "cgroup.controllers", "cpu memory pids\n");
    put_file("v2/svc", "cgroup.subtree_control", "");
    ck_assert_int_eq(cgroup_setup(&cg, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(cg.owns_base, 1);
    get_file("v2/svc/spawner/cgroup.procs", buf, sizeof(buf));
    ck_assert_int_eq(strtol(buf, NULL, 10), (long)getpid());
    ck_assert_int_eq(cg.ctl[CGROUP_MEMORY], 0);
    ck_assert_int_eq(cg.ctl[CGROUP_PIDS], 0);
    mk("v2/svc/workers/w3");
    put_file("v2/svc/workers/w3", "memory.swap.max", "max");
    ck_assert_int_eq(cgroup_worker_create(&cg, 3, &lim, err, sizeof(err)), 0);
    get_file("v2/svc/workers/w3/memory.max", buf, sizeof(buf));
    ck_assert_str_eq(buf, "268435456");
    get_file("v2/svc/workers/w3/memory.swap.max", buf, sizeof(buf));
    ck_assert_str_eq(buf, "0");
    put_file("v2/svc/workers/w3", "memory.events",
             "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n");
    ck_assert_int_eq(cgroup_worker_oom(&cg, 3), 0);
    put_file("v2/svc/workers/w3", "memory.events",
             "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n");
    ck_assert_int_eq(cgroup_worker_oom(&cg, 3), 1);
}
END_TEST

START_TEST(test_not_delegated)
{
    struct cgroup cg;
    char mi[512], self[512], err[256] = "";

    write_mounts(1, 0);
    put_file("", "self", "0::/\n");
    snprintf(mi, sizeof(mi), "%s/mountinfo", tmp);
    snprintf(self, sizeof(self), "%s/self", tmp);
    ck_assert_int_eq(cgroup_detect(&cg, mi, self, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "nothing delegated"));
    /* With cgroup_root, the same host has a subtree. */
    ck_assert_int_eq(cgroup_detect(&cg, mi, self, "/t", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_v1_only)
{
    struct cgroup cg;
    char err[256];

    write_mounts(0, 1);
    detect(&cg, "/s");
    ck_assert_int_eq(cg.nhier, 2);
    ck_assert_int_eq(cg.hier[0].v2, 0);
    ck_assert_str_eq(cg.hier[0].ctls, "pids");
    ck_assert_int_eq(cgroup_setup(&cg, "/s", err, sizeof(err)), 0);
    ck_assert_int_eq(cg.ctl[CGROUP_PIDS], 0);
    ck_assert_int_eq(cg.ctl[CGROUP_MEMORY], 1);
    ck_assert_int_eq(cg.ctl[CGROUP_CPU], -1);
    ck_assert_int_eq(cg.has_kill, 0);
}
END_TEST

START_TEST(test_identity)
{
    struct cgroup cg;
    const char *w = "8:pids:/\n0::/steel/n1/workers/w42\n";
    const char *deep = "0::/steel/n1/workers/w42/sub\n";
    const char *other = "0::/steel/n2/workers/w42\n";
    const char *bad = "0::/steel/n1/workers/w42x\n";
    const char *v1 = "8:pids:/steel/n1/workers/w42\n0::/\n";
    char err[256];
    long id = 0;

    write_mounts(1, 1);
    detect(&cg, "/steel/n1");
    ck_assert_int_eq(cgroup_parse_worker(&cg, w, strlen(w), &id), 0); /* off */
    ck_assert_int_eq(cgroup_setup(&cg, "/steel/n1", err, sizeof(err)), 0);
    ck_assert_int_eq(cgroup_parse_worker(&cg, w, strlen(w), &id), 1);
    ck_assert_int_eq(id, 42);
    ck_assert_int_eq(cgroup_parse_worker(&cg, deep, strlen(deep), &id), 1);
    ck_assert_int_eq(cgroup_parse_worker(&cg, other, strlen(other), &id), 0);
    ck_assert_int_eq(cgroup_parse_worker(&cg, bad, strlen(bad), &id), 0);
    /* The main hierarchy is v2: a v1 line does not count. */
    ck_assert_int_eq(cgroup_parse_worker(&cg, v1, strlen(v1), &id), 0);
}
END_TEST

static void count_id(long id, void *arg)
{
    *(long *)arg += id;
}

START_TEST(test_kill_fallback)
{
    struct cgroup cg;
    char err[256], rel[128], pids[32];
    long sum = 0;
    pid_t pid;
    int status;

    write_mounts(1, 0);
    detect(&cg, "/s");
    ck_assert_int_eq(cgroup_setup(&cg, "/s", err, sizeof(err)), 0);
    ck_assert_int_eq(cg.has_kill, 0);
    mk("v2/s/workers/w5");
    mk("v2/s/workers/w9");
    mk("v2/s/workers/junk");
    ck_assert_int_eq(cgroup_workers_each(&cg, count_id, &sum), 2);
    ck_assert_int_eq(sum, 14);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    snprintf(pids, sizeof(pids), "%ld\n", (long)pid);
    put_file("v2/s/workers/w5", "cgroup.procs", pids);
    /* Not in the group as its /proc says: left alone. */
    snprintf(rel, sizeof(rel), "proc/%ld", (long)pid);
    mk(rel);
    put_file(rel, "cgroup", "0::/elsewhere\n");
    ck_assert_int_eq(cgroup_worker_kill(&cg, 5), 0);
    ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
    put_file(rel, "cgroup", "0::/s/workers/w5\n");
    ck_assert_int_eq(cgroup_worker_kill(&cg, 5), 0); /* the fake stays full */
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    put_file("v2/s/workers/w5", "cgroup.procs", "");
    ck_assert_int_eq(cgroup_worker_empty(&cg, 5), 1);
}
END_TEST

Suite *cgroup_suite(void)
{
    Suite *s = suite_create("cgroup");
    TCase *tc = tcase_create("cgroup");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_hybrid);
    tcase_add_test(tc, test_unified);
    tcase_add_test(tc, test_not_delegated);
    tcase_add_test(tc, test_v1_only);
    tcase_add_test(tc, test_identity);
    tcase_add_test(tc, test_kill_fallback);
    suite_add_tcase(s, tc);
    return s;
}
