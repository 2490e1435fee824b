/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_reaper.c - the reaper's pure logic: the plan for a record, the
 * judgement of a /status answer, the recheck after a clean, and whether a
 * recorded worker still runs (also through a pidfd).  The /proc parsers and the kill rule are
 * common/proc.h's (check_proc.c).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "conf.h"
#include "decide.h"
#include "pidwatch.h"
#include "privsep.h"
#include "procscan.h"
#include "util.h"

static struct decide_limits limits(void)
{
    struct decide_limits l;

    l.start_deadline = 7000;
    l.create_deadline = 18000;
    l.release_grace = 13000;
    l.dead_grace = 8000;
    l.probe_failures = 3;
    l.probe_every = 2;
    return l;
}

/* A record in state st that entered it age_ms ago, pid 100. */
static struct worker_rec rec(enum worker_state st, int64_t age_ms)
{
    struct worker_rec w;

    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "7");
    snprintf(w.host, sizeof(w.host), "127.0.0.1");
    w.port = 20007;
    w.pid = 100;
    w.pstart = 5000;
    w.state = st;
    w.now_ms = 1700000000000LL;
    w.since_ms = w.now_ms - age_ms;
    return w;
}

START_TEST(test_limits)
{
    struct conf c;
    struct decide_limits l;

    ck_assert_int_eq(conf_defaults(&c), 0);
    decide_limits_init(&l, &c);
    /* margin = 2000 + 1 interval of 1 s */
    ck_assert_int_eq(l.start_deadline, 5000 + 3000);
    ck_assert_int_eq(l.create_deadline, 10000 + 5000 + 3000);
    ck_assert_int_eq(l.release_grace, 10000 + 3000);
    ck_assert_int_eq(l.dead_grace, 5000 + 3000);
    ck_assert_int_eq(l.probe_failures, 3);
    /* probe_interval 2 s over passes 1 s apart */
    ck_assert_int_eq(l.probe_every, 2);
    c.reap_interval = 3;
    decide_limits_init(&l, &c);
    ck_assert_int_eq(l.probe_every, 1);
    c.reap_interval = 2;
    c.probe_interval = 5;
    decide_limits_init(&l, &c);
    ck_assert_int_eq(l.probe_every, 3);
}
END_TEST

/* An idle or busy worker that answered is probed once every probe_every
 * passes, each pass an even share of them; a suspect, and a worker being
 * released, every pass. */
START_TEST(test_probe_due)
{
    struct decide_limits l = limits();
    struct worker_rec w;
    long pass, id, due, share[3] = {0, 0, 0};

    for (id = 1; id <= 100; id++) {
        w = rec(id % 2 ? WORKER_IDLE : WORKER_BUSY, 100);
        snprintf(w.id, sizeof(w.id), "%ld", id);
        for (pass = 0, due = 0; pass < 6; pass++) {
            if (decide_probe_due(&w, pass, &l)) {
                due++;
                share[pass % 2]++;
            }
        }
        ck_assert_int_eq(due, 3);
        w.fails = 1;
        for (pass = 0; pass < 6; pass++)
            ck_assert(decide_probe_due(&w, pass, &l));
    }
    ck_assert_int_eq(share[0], 150);
    ck_assert_int_eq(share[1], 150);

    w = rec(WORKER_RELEASING, 100);
    for (pass = 0; pass < 4; pass++)
        ck_assert(decide_probe_due(&w, pass, &l));
    l.probe_every = 1;
    w = rec(WORKER_IDLE, 100);
    for (pass = 0; pass < 4; pass++)
        ck_assert(decide_probe_due(&w, pass, &l));
}
END_TEST

START_TEST(test_plan_live)
{
    struct decide_limits l = limits();
    struct worker_rec w;
    struct decide_plan p;

    w = rec(WORKER_IDLE, 100);
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_PROBE);

    w = rec(WORKER_BUSY, 100);
    snprintf(w.session, sizeof(w.session), "s1");
    w.session_alive = 1;
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_PROBE);
    w.session_alive = 0;
    p = decide_plan(&w, PROC_ALIVE, &l);
    ck_assert_int_eq(p.act, PLAN_EXPIRE);
    ck_assert_ptr_null(p.kind); /* an expiry is routine, not a repair */

    w = rec(WORKER_CREATING, 1000);
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_SKIP);
    w = rec(WORKER_CREATING, 18001);
    p = decide_plan(&w, PROC_ALIVE, &l);
    ck_assert_int_eq(p.act, PLAN_HOLD);
    ck_assert_str_eq(p.kind, "creating-stuck");
}
END_TEST

START_TEST(test_plan_releasing)
{
    struct decide_limits l = limits();
    struct worker_rec w;

    /* A handler's release (session kept) gets its grace, with only its
     * liveness watched... */
    w = rec(WORKER_RELEASING, 500);
    snprintf(w.session, sizeof(w.session), "s1");
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_WATCH);
    w = rec(WORKER_RELEASING, 13001);
    snprintf(w.session, sizeof(w.session), "s1");
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_PROBE);
    /* ...a failed idle probe (no session) is the reaper's own at once. */
    w = rec(WORKER_RELEASING, 10);
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_PROBE);
}
END_TEST

START_TEST(test_plan_no_process)
{
    struct decide_limits l = limits();
    enum worker_state states[] = {WORKER_IDLE, WORKER_CREATING, WORKER_BUSY,
                                  WORKER_RELEASING};
    struct worker_rec w;
    struct decide_plan p;
    size_t i;

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        w = rec(states[i], 10);
        p = decide_plan(&w, PROC_GONE, &l);
        ck_assert_int_eq(p.act, PLAN_GONE);
        ck_assert_str_eq(p.kind, "no-process");
    }
    /* A placeholder pid is no process either. */
    w = rec(WORKER_IDLE, 10);
    w.pid = 0;
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_GONE);
}
END_TEST

START_TEST(test_plan_starting_dead)
{
    struct decide_limits l = limits();
    struct worker_rec w;
    struct decide_plan p;

    /* Starting is the spawner's until the deadline, process or not. */
    w = rec(WORKER_STARTING, 6999);
    ck_assert_int_eq(decide_plan(&w, PROC_GONE, &l).act, PLAN_SKIP);
    w.pid = 0;
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_SKIP);
    w = rec(WORKER_STARTING, 7001);
    p = decide_plan(&w, PROC_ALIVE, &l);
    ck_assert_int_eq(p.act, PLAN_KILL);
    ck_assert_str_eq(p.kind, "starting-stuck");
    ck_assert_int_eq(decide_plan(&w, PROC_GONE, &l).act, PLAN_GONE);
    w.pid = 0;
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_GONE);

    w = rec(WORKER_DEAD, 10);
    p = decide_plan(&w, PROC_GONE, &l);
    ck_assert_int_eq(p.act, PLAN_GONE);
    ck_assert_str_eq(p.kind, "dead-gone");
    ck_assert_int_eq(decide_plan(&w, PROC_ALIVE, &l).act, PLAN_SKIP);
    w = rec(WORKER_DEAD, 8001);
    p = decide_plan(&w, PROC_ALIVE, &l);
    ck_assert_int_eq(p.act, PLAN_KILL_DEAD);
    ck_assert_str_eq(p.kind, "dead-alive");
}
END_TEST

static struct decide_status status(const char *body)
{
    struct decide_status st;

    decide_status_parse(&st, 1, 200, body, strlen(body), 0);
    return st;
}

START_TEST(test_status_parse)
{
    struct decide_status st;
    const char *b = "{\"available\":true,\"session_id\":null}";

    st = status(b);
    ck_assert_int_eq(st.answered, 1);
    ck_assert_int_eq(st.available, 1);
    ck_assert_str_eq(st.sid, "");
    ck_assert_int_eq(st.sid_valid, 1);

    st = status("{\"available\":false,\"session_id\":\"ab-12\"}");
    ck_assert_int_eq(st.answered, 1);
    ck_assert_int_eq(st.available, 0);
    ck_assert_str_eq(st.sid, "ab-12");
    ck_assert_int_eq(st.sid_valid, 1);

    st = status("{\"available\":false,\"session_id\":\"a/b\"}");
    ck_assert_int_eq(st.answered, 1);
    ck_assert_int_eq(st.sid_valid, 0);

    /* No session_id at all reads as null. */
    st = status("{\"available\":true}");
    ck_assert_int_eq(st.answered, 1);
    ck_assert_str_eq(st.sid, "");

    ck_assert_int_eq(status("ok").answered, 0);
    ck_assert_int_eq(status("{\"available\":1}").answered, 0);
    ck_assert_int_eq(status("[]").answered, 0);
    decide_status_parse(&st, 1, 500, b, strlen(b), 0);
    ck_assert_int_eq(st.answered, 0);
    decide_status_parse(&st, 1, 200, b, strlen(b), 1);
    ck_assert_int_eq(st.answered, 0);
    decide_status_parse(&st, 0, 0, "", 0, 0);
    ck_assert_int_eq(st.answered, 0);
}
END_TEST

/* Only a /status whose verdict is ok is an answer; every other verdict
 * of common/wcall.h is one failed probe. */
START_TEST(test_status_from_verdict)
{
    struct decide_status st;
    struct wcall_reply rep;
    enum wcall_verdict v;

    memset(&rep, 0, sizeof(rep));
    rep.available = 1;
    decide_status_from(&st, WCALL_OK, &rep);
    ck_assert_int_eq(st.answered, 1);
    ck_assert_int_eq(st.available, 1);
    ck_assert_int_eq(st.sid_valid, 1);
    for (v = WCALL_NOT_FOUND; v <= WCALL_GARBAGE; v++) {
        decide_status_from(&st, v, &rep);
        ck_assert_int_eq(st.answered, 0);
        ck_assert_int_eq(decide_judge(WORKER_IDLE, "", &st).verdict,
                         VERDICT_FAILED);
    }
}
END_TEST

START_TEST(test_judge_busy)
{
    struct decide_status st;
    struct decide_judgement j;

    st = status("{\"available\":false,\"session_id\":\"s1\"}");
    ck_assert_int_eq(decide_judge(WORKER_BUSY, "s1", &st).verdict, VERDICT_OK);
    j = decide_judge(WORKER_BUSY, "s2", &st);
    ck_assert_int_eq(j.verdict, VERDICT_KILL);
    ck_assert_str_eq(j.kind, "session-lost");
    st = status("{\"available\":true,\"session_id\":null}");
    j = decide_judge(WORKER_BUSY, "s1", &st);
    ck_assert_int_eq(j.verdict, VERDICT_KILL);
    ck_assert_str_eq(j.kind, "session-lost");
    decide_status_parse(&st, 0, 0, "", 0, 0);
    j = decide_judge(WORKER_BUSY, "s1", &st);
    ck_assert_int_eq(j.verdict, VERDICT_FAILED);
    ck_assert_ptr_null(j.kind);
}
END_TEST

START_TEST(test_judge_idle_releasing)
{
    struct decide_status st;
    struct decide_judgement j;

    st = status("{\"available\":true,\"session_id\":null}");
    ck_assert_int_eq(decide_judge(WORKER_IDLE, "", &st).verdict, VERDICT_OK);
    ck_assert_int_eq(decide_judge(WORKER_RELEASING, "old", &st).verdict,
                     VERDICT_RELEASE);

    st = status("{\"available\":false,\"session_id\":null}");
    ck_assert_int_eq(decide_judge(WORKER_IDLE, "", &st).verdict,
                     VERDICT_FAILED);
    ck_assert_int_eq(decide_judge(WORKER_RELEASING, "", &st).verdict,
                     VERDICT_FAILED);

    st = status("{\"available\":false,\"session_id\":\"t\"}");
    j = decide_judge(WORKER_IDLE, "", &st);
    ck_assert_int_eq(j.verdict, VERDICT_CLEAN);
    ck_assert_str_eq(j.kind, "idle-session");
    j = decide_judge(WORKER_RELEASING, "t", &st);
    ck_assert_int_eq(j.verdict, VERDICT_CLEAN);
    ck_assert_ptr_null(j.kind); /* the routine end of a reclaim */

    st = status("{\"available\":false,\"session_id\":\"../x\"}");
    j = decide_judge(WORKER_RELEASING, "t", &st);
    ck_assert_int_eq(j.verdict, VERDICT_KILL);
    ck_assert_str_eq(j.kind, "bad-status");
}
END_TEST

START_TEST(test_recheck)
{
    struct decide_status st;
    struct decide_judgement j;

    st = status("{\"available\":true,\"session_id\":null}");
    ck_assert_int_eq(decide_recheck(1, &st).verdict, VERDICT_RELEASE);
    j = decide_recheck(0, &st);
    ck_assert_int_eq(j.verdict, VERDICT_KILL);
    ck_assert_str_eq(j.kind, "reclaim-failed");
    st = status("{\"available\":false,\"session_id\":\"t\"}");
    ck_assert_int_eq(decide_recheck(1, &st).verdict, VERDICT_KILL);
    st = status("{\"available\":false,\"session_id\":null}");
    ck_assert_int_eq(decide_recheck(1, &st).verdict, VERDICT_KILL);
    decide_status_parse(&st, 0, 0, "", 0, 0);
    ck_assert_int_eq(decide_recheck(1, &st).verdict, VERDICT_KILL);
}
END_TEST

START_TEST(test_procscan_check)
{
    unsigned long long self_start = 0;

    ck_assert_int_eq(proc_start_time((long)getpid(), &self_start), 0);
    ck_assert_int_eq(procscan_check((long)getpid(), self_start), PROC_ALIVE);
    ck_assert_int_eq(procscan_check((long)getpid(), self_start + 1), PROC_GONE);
    ck_assert_int_eq(procscan_check(0, 0), PROC_GONE);
}
END_TEST

/* A watched process is alive until the kernel says it ended (a zombie
 * counts as ended); another start time is another process; a key not
 * asked about before a sweep is dropped. */
START_TEST(test_pidwatch)
{
    struct pidwatch *pw = pidwatch_new();
    unsigned long long st = 0, self_start = 0;
    int i, alive = 1;
    pid_t child;

    if (pw == NULL)
        return; /* no pidfd_open: the callers read /proc */
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    ck_assert_int_eq(proc_start_time((long)child, &st), 0);
    ck_assert_int_eq(pidwatch_alive(pw, 7, (long)child, st + 1), 0);
    ck_assert_int_eq(pidwatch_alive(pw, 7, (long)child, st), 1);
    ck_assert_int_eq(pidwatch_count(pw), 1);
    pidwatch_poll(pw);
    ck_assert_int_eq(pidwatch_alive(pw, 7, (long)child, st), 1);
    ck_assert_int_eq(proc_start_time((long)getpid(), &self_start), 0);
    ck_assert_int_eq(pidwatch_alive(pw, 8, (long)getpid(), self_start), 1);
    ck_assert_int_eq(pidwatch_count(pw), 2);

    kill(child, SIGKILL);
    /* Not reaped yet: a zombie, ended all the same. */
    for (i = 0; i < 500 && alive; i++) {
        usleep(2000);
        pidwatch_poll(pw);
        alive = pidwatch_alive(pw, 7, (long)child, st);
    }
    ck_assert_int_eq(alive, 0);
    waitpid(child, NULL, 0);

    pidwatch_sweep(pw); /* both asked since the last sweep: kept */
    ck_assert_int_eq(pidwatch_count(pw), 2);
    ck_assert_int_eq(pidwatch_alive(pw, 8, (long)getpid(), self_start), 1);
    pidwatch_sweep(pw); /* 7 not asked: dropped */
    ck_assert_int_eq(pidwatch_count(pw), 1);
    ck_assert_int_eq(pidwatch_alive(pw, 0, 0, 0), 0);
    pidwatch_free(pw);
}
END_TEST

/* A record naming an address steel-fcgi would not call is never probed:
 * the reaper judges it refused, one failed probe (HACKING.md's table). */
START_TEST(test_forged_address)
{
    static const struct {
        const char *host;
        int port;
        int ok;
    } recs[] = {
        {"127.0.0.1", 20005, 1}, {"127.0.0.1", 19999, 0},
        {"127.0.0.1", 20100, 0}, {"127.0.0.2", 20005, 0},
        {"localhost", 20005, 0}, {"10.0.0.1", 22, 0},
        {"", 20005, 0},
    };
    struct decide_status st;
    struct wcall_reply rep;
    struct conf c;
    size_t i;

    ck_assert_int_eq(conf_defaults(&c), 0);
    snprintf(c.worker_host, sizeof(c.worker_host), "127.0.0.1");
    c.worker_hosts[0] = '\0';
    c.worker_port_min = 20000;
    c.worker_port_max = 20099;
    for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
        ck_assert_int_eq(privsep_worker_addr_ok(&c, recs[i].host, recs[i].port),
                         recs[i].ok);
    memset(&rep, 0, sizeof(rep));
    decide_status_from(&st, WCALL_REFUSED, &rep);
    ck_assert_int_eq(st.answered, 0);
    ck_assert_int_eq(decide_judge(WORKER_IDLE, "", &st).verdict,
                     VERDICT_FAILED);
    ck_assert_int_eq(decide_judge(WORKER_BUSY, "s1", &st).verdict,
                     VERDICT_FAILED);
}
END_TEST

Suite *reaper_suite(void)
{
    Suite *s = suite_create("reaper");
    TCase *tc;

    tc = tcase_create("plan");
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_probe_due);
    tcase_add_test(tc, test_plan_live);
    tcase_add_test(tc, test_plan_releasing);
    tcase_add_test(tc, test_plan_no_process);
    tcase_add_test(tc, test_plan_starting_dead);
    suite_add_tcase(s, tc);

    tc = tcase_create("judge");
    tcase_add_test(tc, test_status_parse);
    tcase_add_test(tc, test_status_from_verdict);
    tcase_add_test(tc, test_judge_busy);
    tcase_add_test(tc, test_judge_idle_releasing);
    tcase_add_test(tc, test_recheck);
    tcase_add_test(tc, test_forged_address);
    suite_add_tcase(s, tc);

    tc = tcase_create("procscan");
    tcase_add_test(tc, test_procscan_check);
    tcase_add_test(tc, test_pidwatch);
    suite_add_tcase(s, tc);
    return s;
}
