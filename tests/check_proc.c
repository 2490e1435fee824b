/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_proc.c - worker processes as /proc shows them (common/proc.h):
 * the stat and environ parsers on buffers, the worker-of-this-node rule on
 * a fixture tree that stands in for /proc, identity and the children of a
 * process, the worker rule on a real child.  The kill rule is
 * check_proc_kill.c's.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "proc.h"
#include "util.h"

/* sizeof of a literal with embedded NULs, without the final NUL. */
#define ENV(s) (s), (sizeof(s) - 1)

/* ---- parsers ------------------------------------------------------------ */

START_TEST(test_stat_parse)
{
    const char *s = "4242 (steel-browser) S 1 4242 4242 0 -1 4194560 100 0 "
                    "0 0 1 2 0 0 20 0 5 0 987654 123456 100\n";
    const char *odd = "77 (a) b (c) ) R 3 70 70 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
                      "1 0 31337 0 0";
    struct proc_stat st;

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(proc_stat_parse(s, strlen(s), &st), 0);
    ck_assert_int_eq(st.state, 'S');
    ck_assert_int_eq(st.ppid, 1);
    ck_assert_int_eq(st.pgid, 4242);
    ck_assert_uint_eq(st.start, 987654);
    /* Blanks and parentheses in the command name. */
    ck_assert_int_eq(proc_stat_parse(odd, strlen(odd), &st), 0);
    ck_assert_int_eq(st.state, 'R');
    ck_assert_int_eq(st.ppid, 3);
    ck_assert_int_eq(st.pgid, 70);
    ck_assert_uint_eq(st.start, 31337);
}
END_TEST

START_TEST(test_stat_parse_errors)
{
    char big[PROC_STAT_MAX + 8];
    struct proc_stat st;

    ck_assert_int_eq(proc_stat_parse("12 (x) S 1 2", 12, &st), -1);
    ck_assert_int_eq(proc_stat_parse("no paren", 8, &st), -1);
    ck_assert_int_eq(proc_stat_parse("", 0, &st), -1);
    ck_assert_int_eq(proc_stat_parse("1 (x)", 5, &st), -1);
    ck_assert_int_eq(proc_stat_parse(ENV("1 (x) S y 1 1 0 -1 0 0 0 0 0 0 0 0 "
                                         "0 20 0 1 0 5 0 0"),
                                     &st),
                     -1);
    memset(big, ' ', sizeof(big));
    ck_assert_int_eq(proc_stat_parse(big, sizeof(big), &st), -1);
}
END_TEST

START_TEST(test_environ_worker)
{
    char id[WORKER_ID_MAX];

    ck_assert_int_eq(
        proc_environ_worker(ENV("PATH=/bin\0STEEL_PREFIX=steel\0STEEL_NODE=n1\0"
                                "PORT=20001\0STEEL_WORKER_ID=42\0"),
                            "steel", "n1", id, sizeof(id)),
        1);
    ck_assert_str_eq(id, "42");
    ck_assert_int_eq(proc_environ_port(ENV("PATH=/bin\0PORT=20001\0")), 20001);
    ck_assert_int_eq(proc_environ_port(ENV("PORT=65535")), 65535);
    ck_assert_int_eq(proc_environ_port(ENV("PORT=65536\0")), 0);
    ck_assert_int_eq(proc_environ_port(ENV("PORT=0\0")), 0);
    ck_assert_int_eq(proc_environ_port(ENV("PORT=80a\0")), 0);
    ck_assert_int_eq(proc_environ_port(ENV("PORT=\0")), 0);
    ck_assert_int_eq(proc_environ_port(ENV("PORTS=80\0")), 0);
    ck_assert_int_eq(proc_environ_port(ENV("PATH=/bin\0")), 0);
    {
        uid_t u = 7;

        ck_assert_int_eq(proc_status_uid(ENV("Name:\tx\nUid:\t1001\t1001\t"
                                             "1001\t1001\nGid:\t5\n"),
                                         &u),
                         0);
        ck_assert_int_eq(u, 1001);
        ck_assert_int_eq(proc_status_uid(ENV("Uid:\t0\t0\t0\t0"), &u), 0);
        ck_assert_int_eq(u, 0);
        ck_assert_int_eq(proc_status_uid(ENV("Name:\tx\nGid:\t5\n"), &u), -1);
        ck_assert_int_eq(proc_status_uid(ENV("Uid:\tx\n"), &u), -1);
        ck_assert_int_eq(proc_status_uid(ENV("Uid:\t12a\t1\n"), &u), -1);
        ck_assert_int_eq(proc_status_uid(ENV("Uid:\t99999999999\n"), &u), -1);
    }
    /* The last entry may lack its NUL. */
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_WORKER_ID=9\0STEEL_NODE=n1"
                                             "\0STEEL_PREFIX=steel"),
                                         "steel", "n1", id, sizeof(id)),
                     1);
    ck_assert_str_eq(id, "9");
    /* Another prefix or node, or a value that only starts like ours. */
    ck_assert_int_eq(
        proc_environ_worker(ENV("STEEL_PREFIX=steel2\0STEEL_NODE=n1"
                                "\0STEEL_WORKER_ID=1\0"),
                            "steel", "n1", id, sizeof(id)),
        0);
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE=n2"
                                             "\0STEEL_WORKER_ID=1\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE=n"
                                             "\0STEEL_WORKER_ID=1\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    /* A name that only starts like ours is another variable. */
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIXES=steel\0STEEL_NODE="
                                             "n1\0STEEL_WORKER_ID=1\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    /* The first occurrence counts, as getenv(3) does. */
    ck_assert_int_eq(
        proc_environ_worker(ENV("STEEL_PREFIX=other\0STEEL_PREFIX="
                                "steel\0STEEL_NODE=n1\0STEEL_WORKER_ID=1\0"),
                            "steel", "n1", id, sizeof(id)),
        0);
    /* The id must be a decimal that fits. */
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE=n1"
                                             "\0STEEL_WORKER_ID=\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE=n1"
                                             "\0STEEL_WORKER_ID=4x\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE=n1"
                                             "\0STEEL_WORKER_ID=12345\0"),
                                         "steel", "n1", id, 5),
                     0);
    ck_assert_int_eq(proc_environ_worker(ENV("STEEL_PREFIX=steel\0STEEL_NODE="
                                             "n1\0"),
                                         "steel", "n1", id, sizeof(id)),
                     0);
    ck_assert_int_eq(proc_environ_worker("", 0, "steel", "n1", id, sizeof(id)),
                     0);
}
END_TEST

/* ---- the worker rule on a fixture tree ------------------------------------
 */

/* A directory that stands in for /proc; every file it holds is listed
 * so the test removes exactly what it made. */
static char fx_root[64];
static char fx_files[32][128];
static int fx_nfiles;
static char fx_dirs[16][96];
static int fx_ndirs;

static void fx_file(long pid, const char *name, const char *data, size_t len)
{
    char dir[96];
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/%ld", fx_root, pid);
    if (mkdir(dir, 0755) == 0)
        snprintf(fx_dirs[fx_ndirs++], sizeof(fx_dirs[0]), "%s", dir);
    ck_assert_int_lt(fx_nfiles, 32);
    snprintf(fx_files[fx_nfiles], sizeof(fx_files[0]), "%s/%s", dir, name);
    f = fopen(fx_files[fx_nfiles], "w");
    ck_assert_ptr_nonnull(f);
    fx_nfiles++;
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* stat of a process in state st, group pgid, started at start. */
static void fx_stat(long pid, char st, long pgid, unsigned long long start)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "%ld (steel browser) %c 1 %ld %ld 0 -1 0 0 0 0 0 0 0 0 "
                     "0 20 0 1 0 %llu 100 10\n",
                     pid, st, pgid, pgid, start);

    fx_file(pid, "stat", buf, (size_t)n);
}

static void fx_setup(void)
{
    snprintf(fx_root, sizeof(fx_root), "/tmp/check_proc.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx_root));
    fx_nfiles = 0;
    fx_ndirs = 0;
}

static void fx_teardown(void)
{
    int i;

    for (i = fx_nfiles - 1; i >= 0; i--)
        unlink(fx_files[i]);
    for (i = fx_ndirs - 1; i >= 0; i--)
        rmdir(fx_dirs[i]);
    rmdir(fx_root);
}

struct found {
    long pids[16];
    char ids[16][WORKER_ID_MAX];
    int n;
};

static void found_add(const struct proc_worker *w, void *arg)
{
    struct found *f = arg;

    if (f->n < 16) {
        f->pids[f->n] = w->pid;
        snprintf(f->ids[f->n], sizeof(f->ids[0]), "%s", w->id);
        f->n++;
    }
}

START_TEST(test_node_rule)
{
    static const char ours[] = "PATH=/bin\0STEEL_PREFIX=steel\0STEEL_NODE=n1\0"
                               "STEEL_WORKER_ID=7\0";
    static const char other[] = "STEEL_PREFIX=steel\0STEEL_NODE=n2\0"
                                "STEEL_WORKER_ID=8\0";
    static const char noid[] = "STEEL_PREFIX=steel\0STEEL_NODE=n1\0";
    struct proc_node pn;
    struct proc_worker w;
    struct found f;
    long self = (long)getpid();

    fx_setup();
    fx_file(100, "environ", ours, sizeof(ours) - 1);
    fx_stat(100, 'S', 100, 5000);
    fx_file(101, "environ", other, sizeof(other) - 1);
    fx_stat(101, 'S', 101, 5001);
    fx_file(102, "environ", ours, sizeof(ours) - 1); /* a zombie */
    fx_stat(102, 'Z', 102, 5002);
    fx_file(103, "environ", noid, sizeof(noid) - 1);
    fx_stat(103, 'S', 103, 5003);
    fx_stat(104, 'S', 104, 5004);                    /* environ unreadable */
    fx_file(105, "environ", ours, sizeof(ours) - 1); /* stat vanished */
    fx_file(106, "environ", ours, sizeof(ours) - 1); /* in another group */
    fx_stat(106, 'R', 100, 5006);
    fx_file(self, "environ", ours, sizeof(ours) - 1); /* ourselves */
    fx_stat(self, 'R', self, 5007);

    ck_assert_int_eq(proc_node_init(&pn, "steel", "n1"), 0);
    pn.root = fx_root;
    ck_assert_int_eq(proc_node_worker(&pn, 100, &w), 1);
    ck_assert_int_eq(w.pid, 100);
    ck_assert_int_eq(w.pgid, 100);
    ck_assert_uint_eq(w.pstart, 5000);
    ck_assert_str_eq(w.id, "7");
    ck_assert_int_eq(proc_node_worker(&pn, 101, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 102, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 103, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 104, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 105, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 106, &w), 1);
    ck_assert_int_eq(w.pgid, 100);
    ck_assert_int_eq(proc_node_worker(&pn, self, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 999, &w), 0);
    ck_assert_int_eq(proc_node_worker(&pn, 0, &w), 0);

    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(proc_node_scan(&pn, found_add, &f), 2);
    ck_assert_int_eq(f.n, 2);
    ck_assert(f.pids[0] + f.pids[1] == 206);
    ck_assert_str_eq(f.ids[0], "7");

    pn.root = "/nonexistent/proc";
    ck_assert_int_eq(proc_node_scan(&pn, found_add, &f), -1);
    proc_node_release(&pn);
    proc_node_release(&pn); /* a second release is harmless */
    fx_teardown();
}
END_TEST

/* ---- identity on real processes ----------------------------------------- */

START_TEST(test_identity)
{
    unsigned long long t1 = 0, t2 = 0;
    struct proc_stat st;

    ck_assert_int_eq(proc_start_time((long)getpid(), &t1), 0);
    ck_assert_int_eq(proc_start_time((long)getpid(), &t2), 0);
    ck_assert(t1 > 0);
    ck_assert(t1 == t2);
    ck_assert_int_eq(proc_start_time(0x7ffffff0L, &t1), -1);
    ck_assert_int_eq(proc_start_time(0, &t1), -1);
    ck_assert_int_eq(proc_stat_read((long)getpid(), &st), 0);
    ck_assert_int_eq(st.pgid, (long)getpgrp());
    ck_assert_int_eq(st.ppid, (long)getppid());
    ck_assert_int_eq(proc_alive((long)getpid(), t2), 1);
    ck_assert_int_eq(proc_alive((long)getpid(), t2 + 1), 0);
    ck_assert_int_eq(proc_alive(0, 0), 0);
    ck_assert_int_ge(proc_age_ms(t2), 0);
}
END_TEST

/* Forks a child that runs sleep(1) with env; returns its pid. */
static pid_t start_sleeper(char *const env[])
{
    char *const argv[] = {(char *)"sleep", (char *)"30", NULL};
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execve("/bin/sleep", argv, env);
        _exit(127);
    }
    return pid;
}

START_TEST(test_children)
{
    char *const ours1[] = {(char *)"STEEL_PREFIX=steel",
                           (char *)"STEEL_NODE=n1",
                           (char *)"STEEL_WORKER_ID=11", NULL};
    char *const ours2[] = {(char *)"STEEL_PREFIX=steel",
                           (char *)"STEEL_NODE=n1",
                           (char *)"STEEL_WORKER_ID=12", NULL};
    char *const other[] = {(char *)"STEEL_PREFIX=steel",
                           (char *)"STEEL_NODE=n2",
                           (char *)"STEEL_WORKER_ID=13", NULL};
    pid_t kids[3];
    struct proc_node pn;
    struct proc_worker w;
    struct found f;
    int i, status;

    kids[0] = start_sleeper(ours1);
    kids[1] = start_sleeper(ours2);
    kids[2] = start_sleeper(other);
    ck_assert_int_eq(proc_node_init(&pn, "steel", "n1"), 0);
    /* Until both have exec'd, their environ is ours. */
    for (i = 0; i < 200; i++) {
        if (proc_node_worker(&pn, (long)kids[0], &w) == 1 &&
            proc_node_worker(&pn, (long)kids[1], &w) == 1)
            break;
        sleep_ms(10);
    }
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(proc_node_children(&pn, (long)getpid(), found_add, &f), 2);
    ck_assert_int_eq(f.n, 2);
    ck_assert(f.pids[0] + f.pids[1] == (long)kids[0] + (long)kids[1]);
    ck_assert(strcmp(f.ids[0], "11") == 0 || strcmp(f.ids[0], "12") == 0);
    /* The workers themselves have no children; no parent, none. */
    ck_assert_int_eq(proc_node_children(&pn, (long)kids[0], found_add, &f), 0);
    ck_assert_int_eq(proc_node_children(&pn, 0, found_add, &f), 0);
    ck_assert_int_eq(proc_node_children(&pn, 0x7ffffff0L, found_add, &f), 0);
    for (i = 0; i < 3; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], &status, 0);
    }
    /* Reaped: gone from the list. */
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(proc_node_children(&pn, (long)getpid(), found_add, &f), 0);
    proc_node_release(&pn);
}
END_TEST

START_TEST(test_is_node_worker)
{
    char e1[] = "STEEL_PREFIX=tp", e2[] = "STEEL_NODE=tn",
         e3[] = "STEEL_WORKER_ID=7", e4[] = "PORT=20007";
    char *envp[] = {e1, e2, e3, e4, NULL};
    unsigned long long start = 0;
    uid_t me = geteuid();
    int i, status, ok = 0;
    pid_t child;

    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        execle("/bin/sleep", "sleep", "30", (char *)NULL, envp);
        _exit(127);
    }
    ck_assert_int_eq(proc_start_time((long)child, &start), 0);
    for (i = 0; i < 500 && !ok; i++) {
        ok = proc_is_node_worker((long)child, start, NULL, "tp", "tn", "7", me,
                                 me);
        if (!ok)
            sleep_ms(10);
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(
        proc_is_node_worker((long)child, start, NULL, "tp", "tn", NULL, me, me),
        1);
    /* Another id, node, prefix, start time or user: not this worker. */
    ck_assert_int_eq(
        proc_is_node_worker((long)child, start, NULL, "tp", "tn", "8", me, me),
        0);
    ck_assert_int_eq(proc_is_node_worker((long)child, start, NULL, "tp",
                                         "other", "7", me, me),
                     0);
    ck_assert_int_eq(
        proc_is_node_worker((long)child, start, NULL, "xx", "tn", "7", me, me),
        0);
    ck_assert_int_eq(proc_is_node_worker((long)child, start + 1, NULL, "tp",
                                         "tn", "7", me, me),
                     0);
    ck_assert_int_eq(proc_is_node_worker((long)child, start, NULL, "tp", "tn",
                                         "7", me + 1, me + 5),
                     0);
    /* A uid inside a range of them (one per worker slot) is one. */
    ck_assert_int_eq(proc_is_node_worker((long)child, start, NULL, "tp", "tn",
                                         "7", me > 0 ? me - 1 : 0, me + 1),
                     1);
    /* What a forged record may name: init, ourselves, nothing. */
    ck_assert_int_eq(proc_is_node_worker(1, 0, NULL, "tp", "tn", NULL, 0, 0),
                     0);
    ck_assert_int_eq(
        proc_is_node_worker((long)getpid(), 0, NULL, "tp", "tn", NULL, me, me),
        0);
    ck_assert_int_eq(proc_is_node_worker(0, 0, NULL, "tp", "tn", NULL, me, me),
                     0);
    /* With cgroups the environment counts for nothing: outside a worker
     * group of the node it is no worker, whatever it carries. */
    {
        struct cgroup cg;

        memset(&cg, 0, sizeof(cg));
        cg.on = 1;
        cg.nhier = 1;
        cg.hier[0].v2 = 1;
        snprintf(cg.hier[0].base, sizeof(cg.hier[0].base), "/steel-check/n");
        ck_assert_int_eq(proc_is_node_worker((long)child, start, &cg, "tp",
                                             "tn", "7", me, me),
                         0);
        ck_assert_int_eq(proc_is_node_worker((long)child, start, &cg, "tp",
                                             "tn", NULL, me, me),
                         0);
    }
    kill(child, SIGKILL);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_int_eq(
        proc_is_node_worker((long)child, start, NULL, "tp", "tn", "7", me, me),
        0);
}
END_TEST

Suite *proc_suite(void)
{
    Suite *s = suite_create("proc");
    TCase *parse = tcase_create("parse");
    TCase *node = tcase_create("node");

    tcase_add_test(parse, test_stat_parse);
    tcase_add_test(parse, test_stat_parse_errors);
    tcase_add_test(parse, test_environ_worker);
    tcase_add_test(node, test_node_rule);
    tcase_add_test(node, test_identity);
    tcase_add_test(node, test_children);
    tcase_add_test(node, test_is_node_worker);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, node);
    return s;
}
