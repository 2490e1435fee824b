/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_spawner_run.c - the spawner's contact with processes: starting a
 * worker (spawner/launch.h): its setup reports, its environment as the
 * worker rule of common/proc.h reads it, the description of wait
 * statuses; and the worker table (spawner/internal.h): order, lookups,
 * exit watches.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "internal.h"
#include "launch.h"
#include "pool.h"
#include "proc.h"
#include "util.h"

/* ---- launch ------------------------------------------------------------- */

START_TEST(test_status_str)
{
    char buf[64];

    launch_status_str(1 << 8, buf, sizeof(buf));
    ck_assert_str_eq(buf, "exited 1");
    launch_status_str(SIGKILL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "killed by signal 9");
    launch_status_str(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "exited 0");
}
END_TEST

/* A directory of the test's own for logs and scripts; the files it holds
 * are removed one by one. */
static char lx_dir[64];

static void lx_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", lx_dir, name);
}

static void lx_setup(void)
{
    snprintf(lx_dir, sizeof(lx_dir), "/tmp/check_spawner.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(lx_dir));
}

static void lx_teardown(void)
{
    static const char *const names[] = {"worker.log", "worker.sh"};
    char path[128];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        lx_path(path, sizeof(path), names[i]);
        unlink(path);
    }
    rmdir(lx_dir);
}

static void spec_init(struct launch_spec *spec, const char *bin,
                      const char *log_path)
{
    memset(spec, 0, sizeof(*spec));
    spec->bin = bin;
    spec->log_path = log_path;
    spec->port = 20007;
    spec->node = "chk-node";
    spec->prefix = "chk";
}

/* Waits for the child's setup report or EOF; returns launch_setup_error's
 * answer. */
static int setup_result(struct launch_child *ch, char *why, size_t size,
                        int *fatal)
{
    struct pollfd pfd = {ch->err_fd, POLLIN, 0};

    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    return launch_setup_error(ch->err_fd, "the-bin", "the-log", why, size,
                              fatal);
}

static int wait_status(pid_t pid)
{
    int status = 0;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(test_launch_reports)
{
    struct launch_spec spec;
    struct launch_child ch;
    char log[128], why[256];
    int fatal = -1;

    lx_setup();
    lx_path(log, sizeof(log), "worker.log");
    /* A binary that is not there: fatal, retries will not help. */
    spec_init(&spec, "/nonexistent/steel-browser", log);
    ck_assert_int_eq(launch_worker(&spec, &ch), 0);
    ck_assert_int_eq(launch_send_id(&ch, "7"), 0);
    ck_assert_int_eq(setup_result(&ch, why, sizeof(why), &fatal), 1);
    ck_assert_str_eq(why, "cannot execute the-bin: No such file or directory");
    ck_assert_int_eq(fatal, 1);
    close(ch.err_fd);
    ck_assert_int_eq(WEXITSTATUS(wait_status(ch.pid)), 127);
    /* No id ever came: worth another try. */
    ck_assert_int_eq(launch_worker(&spec, &ch), 0);
    close(ch.id_fd);
    ck_assert_int_eq(setup_result(&ch, why, sizeof(why), &fatal), 1);
    ck_assert_str_eq(why, "never received its worker id");
    ck_assert_int_eq(fatal, 0);
    close(ch.err_fd);
    ck_assert_int_eq(WEXITSTATUS(wait_status(ch.pid)), 127);
    /* A log file that cannot be opened. */
    spec_init(&spec, "/bin/true", "/nonexistent/dir/worker.log");
    ck_assert_int_eq(launch_worker(&spec, &ch), 0);
    ck_assert_int_eq(launch_send_id(&ch, "8"), 0);
    ck_assert_int_eq(setup_result(&ch, why, sizeof(why), &fatal), 1);
    ck_assert_str_eq(why, "cannot open log file the-log: No such file or "
                          "directory");
    ck_assert_int_eq(fatal, 1);
    close(ch.err_fd);
    wait_status(ch.pid);
    lx_teardown();
}
END_TEST

/* The worker's environment: only the allow-list, the defaults and ours;
 * ours cannot be forged by an inherited or listed entry. */
START_TEST(test_launch_env)
{
    static const char *const src[] = {
        "HOME=/root", "REDIS_URL=secret", "STEEL_EMU_SEED=7",
        "STEEL_EMU_HANG_ON=post", "STEEL_EMUX=no", "TZ=Europe/Paris",
        "PORT=1", "STEEL_PREFIX=forged", "LANG=de_DE", "TERM=xterm", NULL};
    static const char *want[] = {
        "STEEL_EMU_SEED=7", "STEEL_EMU_HANG_ON=post", "LANG=de_DE",
        "TZ=UTC", "DISPLAY=:9", "PATH=" LAUNCH_ENV_PATH,
        "HOME=/home/w", "PORT=20007", "STEEL_NODE=chk-node",
        "STEEL_PREFIX=chk", "STEEL_WORKER_ID=", NULL};
    struct launch_spec spec;
    char store[4096], small[64], *idvar = NULL;
    char *inherited[sizeof(src) / sizeof(src[0])];
    char **envp;
    size_t i;

    for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        inherited[i] = (char *)src[i];
    spec_init(&spec, "/bin/true", "/dev/null");
    spec.home = "/home/w";
    spec.env_allow = "STEEL_EMU_* LANG  TZ TZ=UTC DISPLAY=:9";
    envp = launch_env(&spec, inherited, store, sizeof(store), &idvar);
    ck_assert_ptr_nonnull(envp);
    for (i = 0; want[i] != NULL; i++) {
        ck_assert_ptr_nonnull(envp[i]);
        ck_assert_str_eq(envp[i], want[i]);
    }
    ck_assert_ptr_null(envp[i]);
    ck_assert_ptr_eq(idvar, envp[i - 1]);
    free(envp);
    /* Nothing listed: the defaults and ours only. */
    spec.env_allow = NULL;
    spec.home = NULL;
    envp = launch_env(&spec, inherited, store, sizeof(store), &idvar);
    ck_assert_ptr_nonnull(envp);
    ck_assert_str_eq(envp[0], "PATH=" LAUNCH_ENV_PATH);
    ck_assert_str_eq(envp[1], "HOME=/");
    ck_assert_str_eq(envp[2], "LANG=C.UTF-8");
    ck_assert_str_eq(envp[3], "PORT=20007");
    ck_assert_ptr_null(envp[7]);
    free(envp);
    /* A store too small is an error, not a cut variable. */
    ck_assert_ptr_null(
        launch_env(&spec, inherited, small, sizeof(small), &idvar));
    ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/* What launch.c starts is what common/proc.h calls a worker of the node,
 * and the kill rule takes its whole group. */
START_TEST(test_launch_is_worker)
{
    static const char script[] = "#!/bin/sh\nexec sleep 30\n";
    struct launch_spec spec;
    struct launch_child ch;
    struct proc_node pn;
    struct proc_worker pw;
    unsigned long long pstart;
    char log[128], bin[128], why[256];
    int fatal = -1, found = 0, i, status;
    FILE *f;

    lx_setup();
    lx_path(log, sizeof(log), "worker.log");
    lx_path(bin, sizeof(bin), "worker.sh");
    f = fopen(bin, "w");
    ck_assert_ptr_nonnull(f);
    fputs(script, f);
    fclose(f);
    ck_assert_int_eq(chmod(bin, 0755), 0);
    spec_init(&spec, bin, log);
    ck_assert_int_eq(launch_worker(&spec, &ch), 0);
    ck_assert_int_eq(launch_send_id(&ch, "42"), 0);
    /* EOF: the exec worked. */
    ck_assert_int_eq(setup_result(&ch, why, sizeof(why), &fatal), 0);
    close(ch.err_fd);
    ck_assert_int_eq(proc_node_init(&pn, "chk", "chk-node"), 0);
    for (i = 0; i < 500 && !found; i++) {
        found = proc_node_worker(&pn, (long)ch.pid, &pw);
        if (!found)
            sleep_ms(10);
    }
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(pw.id, "42");
    ck_assert_int_eq(pw.pgid, (long)ch.pid);
    pstart = pw.pstart;
    /* Another node's spawner would not take it for its own. */
    pn.node = "chk-other";
    ck_assert_int_eq(proc_node_worker(&pn, (long)ch.pid, &pw), 0);
    proc_node_release(&pn);
    ck_assert_int_eq(proc_kill((long)ch.pid, pstart, -1, SIGTERM), 1);
    status = wait_status(ch.pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    lx_teardown();
}
END_TEST

/* ---- the worker table --------------------------------------------------- */

static struct worker *table_worker(long id, long pid)
{
    struct worker *w = calloc(1, sizeof(*w));

    ck_assert_ptr_nonnull(w);
    w->id = id;
    snprintf(w->sid, sizeof(w->sid), "%ld", id);
    w->pid = pid;
    w->pidfd = -1;
    w->err_fd = -1;
    return w;
}

START_TEST(test_table_order)
{
    struct spawner s;
    struct worker *a, *b, *c;

    memset(&s, 0, sizeof(s));
    s.table.epfd = -1;
    ck_assert_int_eq(table_max_id(&s), 0);
    a = table_worker(5, 1005);
    b = table_worker(2, 1002);
    c = table_worker(9, 1009);
    ck_assert_int_eq(table_insert(&s, a), 0);
    ck_assert_int_eq(table_insert(&s, b), 0);
    ck_assert_int_eq(table_insert(&s, c), 0);
    /* Sorted by id; serials in the order of insertion. */
    ck_assert_int_eq(s.table.w[0]->id, 2);
    ck_assert_int_eq(s.table.w[1]->id, 5);
    ck_assert_int_eq(s.table.w[2]->id, 9);
    ck_assert(a->serial < b->serial && b->serial < c->serial);
    ck_assert_int_eq(table_max_id(&s), 9);
    ck_assert_ptr_eq(table_get(&s, 5), a);
    ck_assert_ptr_null(table_get(&s, 6));
    ck_assert_ptr_eq(table_by_pid(&s, 1009), c);
    ck_assert_uint_eq(table_live(&s), 3);
    /* A GONE worker's pid, or a reaped child's, may be another's now. */
    c->state = SPAWNER_W_GONE;
    ck_assert_ptr_null(table_by_pid(&s, 1009));
    ck_assert_uint_eq(table_live(&s), 2);
    b->has_status = 1;
    ck_assert_ptr_null(table_by_pid(&s, 1002));
    /* Removed by pointer. */
    table_remove(&s, a);
    ck_assert_uint_eq(s.table.n, 2);
    ck_assert_ptr_null(table_get(&s, 5));
    ck_assert_ptr_eq(table_get(&s, 9), c);
    table_remove(&s, b);
    table_remove(&s, c);
    ck_assert_uint_eq(s.table.n, 0);
    free(s.table.w);
}
END_TEST

START_TEST(test_table_exit_watch)
{
    struct spawner s;
    struct worker *w;
    struct pollfd pfd;
    pid_t child;

    memset(&s, 0, sizeof(s));
    s.table.epfd = epoll_create1(EPOLL_CLOEXEC);
    ck_assert_int_ge(s.table.epfd, 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    w = table_worker(1, (long)child);
    w->child = 1;
    ck_assert_int_eq(table_insert(&s, w), 0);
    table_watch(&s, w);
    ck_assert_int_ge(w->pidfd, 0);
    table_events(&s);
    ck_assert_int_eq(w->exited, 0);
    /* The kill rule through the pidfd it holds. */
    table_signal(w, SIGKILL);
    pfd.fd = s.table.epfd;
    pfd.events = POLLIN;
    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    table_events(&s);
    ck_assert_int_eq(w->exited, 1);
    wait_status(child);
    table_remove(&s, w);
    ck_assert_uint_eq(s.table.n, 0);
    free(s.table.w);
    free(s.table.ev);
    close(s.table.epfd);
}
END_TEST

START_TEST(test_table_settled)
{
    struct spawner s;
    struct worker *a, *b;
    unsigned long t;

    memset(&s, 0, sizeof(s));
    s.table.epfd = -1;
    ck_assert_int_eq(table_settled(&s), 1); /* empty */
    a = table_worker(1, 1001);
    a->child = 1;
    a->has_status = 1; /* never signalled for real below */
    a->state = SPAWNER_W_RUNNING;
    a->healthy = 1;
    t = s.table.touches;
    ck_assert_int_eq(table_insert(&s, a), 0);
    ck_assert_uint_gt(s.table.touches, t);
    ck_assert_int_eq(table_settled(&s), 1);
    /* A starting worker needs the turn until it made a healthy start. */
    b = table_worker(2, 1002);
    b->child = 1;
    b->has_status = 1;
    ck_assert_int_eq(table_insert(&s, b), 0);
    ck_assert_int_eq(table_settled(&s), 0);
    b->state = SPAWNER_W_RUNNING;
    ck_assert_int_eq(table_settled(&s), 0);
    b->healthy = 1;
    ck_assert_int_eq(table_settled(&s), 1);
    /* Adopted, with no pidfd: its liveness is polled each turn. */
    b->child = 0;
    table_touch(&s);
    ck_assert_int_eq(table_settled(&s), 0);
    b->child = 1;
    table_touch(&s);
    ck_assert_int_eq(table_settled(&s), 1);
    /* Stopping and removing touch the table. */
    t = s.table.touches;
    table_stop(&s, a, SPAWNER_STOP_RETIRE, SIGTERM, 0);
    ck_assert_uint_gt(s.table.touches, t);
    ck_assert_int_eq(table_settled(&s), 0);
    t = s.table.touches;
    table_remove(&s, a);
    ck_assert_uint_gt(s.table.touches, t);
    ck_assert_int_eq(table_settled(&s), 1);
    table_remove(&s, b);
    free(s.table.w);
}
END_TEST

/* ---- worker logs -------------------------------------------------------- */

/* Appends n bytes to the log of port in dir. */
static void wlog_write(const char *dir, int port, size_t n)
{
    char path[256], buf[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/worker-%d.log", dir, port);
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    memset(buf, 'x', sizeof(buf));
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static long wlog_size(const char *dir, int port)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/worker-%d.log", dir, port);
    ck_assert_int_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

START_TEST(test_wlog_check)
{
    char dir[] = "/tmp/check-wlog.XXXXXX", path[256];
    struct spawner s;
    struct conf *c = calloc(1, sizeof(*c));
    struct worker *w;
    int port;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(c->worker_log_dir, sizeof(c->worker_log_dir), "%s", dir);
    c->worker_log_max = 100;
    c->pool_max_workers = 4;
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.table.epfd = -1;
    s.start.ports.taken = calloc(65536, 1);
    ck_assert_ptr_nonnull(s.start.ports.taken);
    wlog_init(&s);
    /* Port 20001 is a worker's; 20002 is no port of ours. */
    w = table_worker(1, 1001);
    w->port = 20001;
    w->state = SPAWNER_W_RUNNING;
    ck_assert_int_eq(table_insert(&s, w), 0);
    s.start.ports.taken[20001] = 1;
    wlog_write(dir, 20001, 200);
    wlog_write(dir, 20002, 200);
    wlog_open(&s);
    ck_assert_int_ge(s.wlog.fd, 0);
    /* The first check looks at every worker's log. */
    wlog_check(&s);
    ck_assert_int_eq(wlog_size(dir, 20001), 0);
    ck_assert_int_eq(wlog_size(dir, 20002), 200);
    /* Then the written ones: through the watch, and the kept fd. */
    wlog_write(dir, 20001, 50);
    wlog_check(&s);
    ck_assert_int_eq(wlog_size(dir, 20001), 50);
    wlog_write(dir, 20001, 100);
    wlog_write(dir, 20002, 100);
    wlog_check(&s);
    ck_assert_int_eq(wlog_size(dir, 20001), 0);
    ck_assert_int_eq(wlog_size(dir, 20002), 300);
    ck_assert_int_eq(s.wlog.nfds, 1);
    /* Its worker ended: the kept log is closed. */
    wlog_forget(&s, 20001);
    ck_assert_int_eq(s.wlog.nfds, 0);
    /* A log written past the list's room: all are looked at. */
    for (port = 30000; port < 30000 + WLOG_CHANGED_MAX + 10; port++)
        wlog_write(dir, port, 1);
    wlog_write(dir, 20001, 150);
    wlog_check(&s);
    ck_assert_int_eq(wlog_size(dir, 20001), 0);
    wlog_release(&s);
    table_remove(&s, w);
    free(s.table.w);
    free(s.start.ports.taken);
    for (port = 30000; port < 30000 + WLOG_CHANGED_MAX + 10; port++) {
        snprintf(path, sizeof(path), "%s/worker-%d.log", dir, port);
        unlink(path);
    }
    for (port = 20001; port <= 20002; port++) {
        snprintf(path, sizeof(path), "%s/worker-%d.log", dir, port);
        unlink(path);
    }
    rmdir(dir);
    free(c);
}
END_TEST

Suite *spawner_run_suite(void)
{
    Suite *s = suite_create("spawner_run");
    TCase *launch = tcase_create("launch");
    TCase *table = tcase_create("table");
    TCase *wlog = tcase_create("wlog");

    tcase_add_test(launch, test_status_str);
    tcase_add_test(launch, test_launch_reports);
    tcase_add_test(launch, test_launch_env);
    tcase_add_test(launch, test_launch_is_worker);
    tcase_add_test(table, test_table_order);
    tcase_add_test(table, test_table_exit_watch);
    tcase_add_test(table, test_table_settled);
    tcase_add_test(wlog, test_wlog_check);
    suite_add_tcase(s, launch);
    suite_add_tcase(s, table);
    suite_add_tcase(s, wlog);
    return s;
}
