/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reaper-fixture.c - drives the real store.h scripts from the reaper's
 * shell tests, standing in for the spawner and the handlers:
 *
 *   reaper-fixture CONF add HOST PORT [FLOOR]  -> prints the new worker id
 *                                              (above FLOOR, default 0)
 *   reaper-fixture CONF setpid ID PID          fills in pid and pstart, as
 *                                              a spawner that registers
 *                                              before it forks does
 *   reaper-fixture CONF ready ID               starting -> idle
 *   reaper-fixture CONF claim                  -> "ID HOST PORT", exit 3
 *                                              when nothing is idle
 *   reaper-fixture CONF bind ID SID TTL_MS     creating -> busy
 *   reaper-fixture CONF unclaim ID             creating -> idle
 *   reaper-fixture CONF end SID                ends a session
 *   reaper-fixture CONF gone ID [PID [NODE]]   removes a record of NODE
 *                                              (default node_name) and PID
 *                                              (default 0: any pid)
 *   reaper-fixture CONF probe-bench N HOST PORT MS
 *                                              N concurrent GET /status,
 *                                              prints "ELAPSED_MS TIMEOUTS"
 *
 * Exit status: 0, 3 for "nothing" answers, 1 on errors (printed).
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "proc.h"
#include "rconn.h"
#include "store.h"
#include "util.h"
#include "whttp.h"

static int fail(struct store *s, const char *verb)
{
    fprintf(stderr, "reaper-fixture: %s: %s\n", verb, store_strerror(s));
    return 1;
}

static long num(const char *s, long max)
{
    long v;

    if (parse_long(s, 0, max, &v) < 0) {
        fprintf(stderr, "reaper-fixture: bad number %s\n", s);
        exit(2);
    }
    return v;
}

static int setpid(struct store *s, const char *id, long pid)
{
    unsigned long long start = 0;
    char key[KEY_MAX];
    redisReply *reply;

    if (proc_start_time(pid, &start) < 0) {
        fprintf(stderr, "reaper-fixture: no process %ld\n", pid);
        return 1;
    }
    if (key_build(key, sizeof(key), KEY_WORKER, s->prefix, id) < 0)
        return 1;
    reply = store_commandf(s, "HSET %s pid %ld pstart %llu", key, pid, start);
    if (reply == NULL)
        return fail(s, "setpid");
    freeReplyObject(reply);
    return 0;
}

static int probe_bench(long n, const char *host, long port, long ms)
{
    struct probe *p = calloc((size_t)n, sizeof(*p));
    struct rlimit rl;
    int64_t t0;
    long i, timeouts = 0;

    if (p == NULL)
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < n; i++) {
        p[i].host = host;
        p[i].port = (int)port;
        p[i].path = "/status";
    }
    t0 = now_mono_ms();
    probe_run(p, (size_t)n, ms, ms, 0);
    for (i = 0; i < n; i++)
        timeouts += p[i].result == WHTTP_TIMEOUT;
    printf("%lld %ld\n", (long long)(now_mono_ms() - t0), timeouts);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    struct conf c;
    struct store s;
    struct worker_addr a;
    char err[512], id[WORKER_ID_MAX];
    const char *verb;
    int rc = 0;

    log_init("reaper-fixture", LOG_LEVEL_WARN);
    if (argc < 3) {
        fprintf(stderr, "usage: reaper-fixture CONF VERB [ARGS...]\n");
        return 2;
    }
    if (conf_defaults(&c) < 0 || conf_load(&c, argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "reaper-fixture: %s\n", err);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (store_init(&s, &c) < 0) {
        fprintf(stderr, "reaper-fixture: %s\n", store_strerror(&s));
        return 2;
    }
    verb = argv[2];
    if (strcmp(verb, "add") == 0 && (argc == 5 || argc == 6)) {
        if (store_worker_add(&s, c.node_name, argv[3], (int)num(argv[4], 65535),
                             0, 0, 0, argc == 6 ? num(argv[5], 0x7fffffffL) : 0,
                             id) < 0)
            rc = fail(&s, verb);
        else
            printf("%s\n", id);
    } else if (strcmp(verb, "setpid") == 0 && argc == 5) {
        rc = setpid(&s, argv[3], num(argv[4], 0x7fffffffL));
    } else if (strcmp(verb, "ready") == 0 && argc == 4) {
        rc = store_worker_ready(&s, argv[3]);
        rc = rc < 0 ? fail(&s, verb) : rc == 1 ? 0 : 3;
    } else if (strcmp(verb, "claim") == 0 && argc == 3) {
        rc = store_claim(&s, &a);
        if (rc == 1)
            printf("%s %s %d\n", a.id, a.host, a.port);
        rc = rc < 0 ? fail(&s, verb) : rc == 1 ? 0 : 3;
    } else if (strcmp(verb, "bind") == 0 && argc == 6) {
        rc = store_bind(&s, argv[3], argv[4], num(argv[5], 1L << 40), 0);
        rc = rc < 0 ? fail(&s, verb) : rc == 1 ? 0 : 3;
    } else if (strcmp(verb, "unclaim") == 0 && argc == 4) {
        rc = store_unclaim(&s, argv[3]);
        rc = rc < 0 ? fail(&s, verb) : rc == 1 ? 0 : 3;
    } else if (strcmp(verb, "end") == 0 && argc == 4) {
        rc = store_end(&s, argv[3], &a);
        rc = rc < 0 ? fail(&s, verb) : rc == 0 ? 3 : 0;
    } else if (strcmp(verb, "gone") == 0 && argc >= 4 && argc <= 6) {
        rc = store_worker_gone(&s, argv[3], argc == 6 ? argv[5] : c.node_name,
                               argc >= 5 ? num(argv[4], 0x7fffffffL) : 0,
                               "test", NULL, NULL);
        rc = rc < 0 ? fail(&s, verb) : rc == 1 ? 0 : 3;
    } else if (strcmp(verb, "probe-bench") == 0 && argc == 7) {
        rc = probe_bench(num(argv[3], 100000), argv[4], num(argv[5], 65535),
                         num(argv[6], 600000));
    } else {
        fprintf(stderr, "reaper-fixture: bad verb or arguments: %s\n", verb);
        rc = 2;
    }
    store_release(&s);
    curl_global_cleanup();
    return rc;
}
