/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store.c - the runner of the store's suites against a real
 * redis-server, and the suite of the store's context: its errors by kind
 * and the key names its scripts build.
 *
 * The runner starts redis-server on a free loopback port in a temporary
 * directory and stops it by its pid when it exits, whatever the tests
 * did; the server also gets SIGKILL should the runner die first.  Without
 * a redis-server on PATH the runner says so and exits 77, Automake's
 * SKIP.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_store.h"
#include "log.h"
#include "store_core.h"
#include "util.h"

#define REDIS_START_TRIES 5
#define REDIS_WAIT_MS     10000
#define REDIS_STOP_MS     5000

struct store ts;
struct conf tconf;

static redisContext *raw;    /* the fixture's own connection */
static pid_t redis_pid = -1; /* the redis-server we started */
static pid_t runner_pid;     /* only the runner stops it, no test child */
static int redis_port;       /* its port on 127.0.0.1 */
static char redis_dir[] = "/tmp/check_store.XXXXXX";
static char redis_log[sizeof(redis_dir) + 16];

/* ---- the private redis-server ---------------------------------------- */

/* 1 when name is an executable in a directory of $PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];

    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");

        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(file, sizeof(file), "%s/%s", dir, name);
            if (access(file, X_OK) == 0)
                return 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* 1 when the server on port answers and is process pid: never run the
 * tests against (and empty) a server someone else started on the port. */
static int redis_answers(int port, pid_t pid)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r;
    const char *p;
    int ok = 0;

    if (c == NULL)
        return 0;
    if (!c->err && (r = redisCommand(c, "INFO server")) != NULL) {
        if (r->type == REDIS_REPLY_STRING &&
            (p = strstr(r->str, "process_id:")) != NULL)
            ok = strtol(p + 11, NULL, 10) == (long)pid;
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static void redis_spawn(int port)
{
    char sport[16];
    int fd;

    snprintf(sport, sizeof(sport), "%d", port);
    /* Dies with the runner, even when the runner is killed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fd = open(redis_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execlp("redis-server", "redis-server", "--port", sport, "--bind",
           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", redis_dir,
           (char *)NULL);
    _exit(127);
}

/* Starts redis-server on a free port.  Returns 0, or -1 when it would not
 * start (main shows its log). */
static int redis_start(void)
{
    int try, waited;

    for (try = 0; try < REDIS_START_TRIES; try++) {
        redis_port = free_port();
        if (redis_port < 0)
            return -1;
        redis_pid = fork();
        if (redis_pid < 0)
            return -1;
        if (redis_pid == 0)
            redis_spawn(redis_port);
        for (waited = 0; waited < REDIS_WAIT_MS; waited += 20) {
            if (redis_answers(redis_port, redis_pid))
                return 0;
            if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid)
                break; /* the port was taken meanwhile: another one */
            sleep_ms(20);
        }
        if (waited >= REDIS_WAIT_MS)
            break;
        redis_pid = -1;
    }
    return -1;
}

/* Copies the server's log to stderr, for a server that would not start. */
static void redis_show_log(void)
{
    char line[512];
    FILE *f = fopen(redis_log, "r");

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        fprintf(stderr, "redis-server: %s", line);
    fclose(f);
}

/* Stops the server by its pid: SIGTERM, then SIGKILL after a while; then
 * removes its directory. */
static void redis_stop(void)
{
    int waited;

    if (getpid() != runner_pid)
        return;
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        for (waited = 0; waited < REDIS_STOP_MS; waited += 20) {
            if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid)
                break;
            sleep_ms(20);
        }
        if (waited >= REDIS_STOP_MS) {
            kill(redis_pid, SIGKILL);
            waitpid(redis_pid, NULL, 0);
        }
        redis_pid = -1;
    }
    unlink(redis_log);
    rmdir(redis_dir);
}

static void on_signal(int sig)
{
    (void)sig;
    redis_stop();
    _exit(130);
}

/* ---- the fixture -------------------------------------------------------- */

void store_setup(void)
{
    redisReply *r;

    ck_assert_int_eq(conf_defaults(&tconf), 0);
    snprintf(tconf.redis, sizeof(tconf.redis), "127.0.0.1:%d", redis_port);
    snprintf(tconf.key_prefix, sizeof(tconf.key_prefix), "t");
    snprintf(tconf.node_name, sizeof(tconf.node_name), "%s", TEST_NODE);
    ck_assert_int_eq(store_init(&ts, &tconf), 0);
    raw = redisConnect("127.0.0.1", redis_port);
    ck_assert(raw != NULL && !raw->err);
    r = redisCommand(raw, "FLUSHALL");
    ck_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

void store_teardown(void)
{
    store_release(&ts);
    if (raw != NULL)
        redisFree(raw);
    raw = NULL;
}

static redisReply *raw_vcommand(const char *fmt, va_list ap)
{
    redisReply *r = redisvCommand(raw, fmt, ap);

    ck_assert_msg(r != NULL, "redis: %s", raw->errstr);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "redis: %s", r->str);
    return r;
}

long long raw_int(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v = -1;

    va_start(ap, fmt);
    r = raw_vcommand(fmt, ap);
    va_end(ap);
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r->type == REDIS_REPLY_STATUS)
        v = 0;
    else
        ck_assert_msg(r->type == REDIS_REPLY_NIL, "reply type %d", r->type);
    freeReplyObject(r);
    return v;
}

void raw_str(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = raw_vcommand(fmt, ap);
    va_end(ap);
    ck_assert_msg(r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL,
                  "reply type %d", r->type);
    snprintf(out, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

void check_field(const char *id, const char *field, const char *want)
{
    char got[256];

    raw_str(got, sizeof(got), "HGET t:worker:%s %s", id, field);
    ck_assert_msg(strcmp(got, want) == 0, "worker %s %s: \"%s\", not \"%s\"",
                  id, field, got, want);
}

int worker_state_of(const char *id)
{
    enum worker_state st;
    char name[32];

    raw_str(name, sizeof(name), "HGET t:worker:%s state", id);
    if (name[0] == '\0')
        return -1;
    ck_assert_int_eq(worker_state_parse(name, &st), 0);
    return (int)st;
}

void worker_idle(int port, char *id)
{
    ck_assert_int_eq(
        store_worker_add(&ts, TEST_NODE, "127.0.0.1", port, port, 0, 0, 0, id),
        0);
    ck_assert_int_eq(store_worker_ready(&ts, id), 1);
}

void worker_busy(int port, const char *sid, long ttl_ms, char *id)
{
    struct worker_addr a;

    worker_idle(port, id);
    ck_assert_int_eq(raw_int("LREM t:idle 0 %s", id), 1);
    ck_assert_int_ge(raw_int("LPUSH t:idle %s", id), 1);
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_str_eq(a.id, id);
    ck_assert_int_eq(store_bind(&ts, id, sid, ttl_ms, 0), 1);
}

/* ---- the context --------------------------------------------------------- */

START_TEST(test_init_and_errors)
{
    struct conf c = tconf;
    struct store s;
    redisReply *r;

    ck_assert_int_eq(store_error(&ts), STORE_OK);
    ck_assert_str_eq(store_strerror(&ts), "");
    ck_assert_str_eq(ts.prefix, "t");
    r = store_commandf(&ts, "PING");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);

    /* Nothing listens on port 1: the store is unreachable. */
    snprintf(c.redis, sizeof(c.redis), "127.0.0.1:1");
    ck_assert_int_eq(store_init(&s, &c), 0);
    ck_assert_int_eq(store_waiting(&s), -1);
    ck_assert_int_eq(store_error(&s), STORE_ERR_REDIS);
    ck_assert_ptr_nonnull(strstr(store_strerror(&s), "127.0.0.1:1"));
    ck_assert_ptr_null(store_commandf(&s, "PING"));
    ck_assert_int_eq(store_error(&s), STORE_ERR_REDIS);
    store_release(&s);

    /* A Redis error reply is a failure of Redis too. */
    ck_assert_ptr_null(store_commandf(&ts, "NOSUCHCOMMAND"));
    ck_assert_int_eq(store_error(&ts), STORE_ERR_REDIS);
    /* The next call that succeeds clears it. */
    ck_assert_int_eq(store_waiting(&ts), 0);
    ck_assert_int_eq(store_error(&ts), STORE_OK);
    ck_assert_str_eq(store_strerror(&ts), "");
}
END_TEST

START_TEST(test_err_names)
{
    ck_assert_str_eq(store_err_name(STORE_OK), "ok");
    ck_assert_str_eq(store_err_name(STORE_ERR_REDIS), "redis");
    ck_assert_str_eq(store_err_name(STORE_ERR_PROTOCOL), "protocol");
    ck_assert_str_eq(store_err_name(STORE_ERR_TOO_BIG), "too_big");
    ck_assert_str_eq(store_err_name(STORE_ERR_RANDOM), "random");
    ck_assert_str_eq(store_err_name(STORE_ERR_NOMEM), "nomem");
    ck_assert_str_eq(store_err_name(STORE_ERR_ARG), "arg");
    ck_assert_str_eq(store_err_name((enum store_err)99), "unknown");
}
END_TEST

START_TEST(test_token)
{
    char a[33], b[33], small[8];

    ck_assert_int_eq(store_token(&ts, a, sizeof(a)), 0);
    ck_assert_int_eq(store_token(&ts, b, sizeof(b)), 0);
    ck_assert_uint_eq(strlen(a), 32);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(store_token(&ts, small, sizeof(small)), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_ARG);
}
END_TEST

START_TEST(test_bad_arguments)
{
    const char *fields[18] = {"a", "1"};
    char name[600];

    /* An odd count or more than 16 field strings. */
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 1, fields),
                     -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_ARG);
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 18, fields),
                     -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_ARG);
    /* A lock name whose key would not fit. */
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(store_lock(&ts, name, "tok", 1000), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_ARG);
}
END_TEST

/* A reply of the wrong shape: the script slot of claim is pointed at a
 * script that answers a string. */
START_TEST(test_protocol_error)
{
    redisReply *r = store_commandf(&ts, "SCRIPT LOAD %s", "return 'x'");
    struct worker_addr a;

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    snprintf(ts.redis.sha[SCRIPT_CLAIM], sizeof(ts.redis.sha[0]), "%s", r->str);
    snprintf(ts.redis.sha[SCRIPT_WAITING], sizeof(ts.redis.sha[0]), "%s",
             r->str);
    freeReplyObject(r);
    ck_assert_int_eq(store_claim(&ts, &a), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_PROTOCOL);
    ck_assert_str_eq(store_strerror(&ts), "unexpected address reply");
    ck_assert_int_eq(store_waiting(&ts), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_PROTOCOL);
}
END_TEST

/* The key functions of the scripts' head name the keys key_build() names:
 * keys.h is the one definition for both. */
/* A Redis error reply to a plain command is a failure, never a reply a
 * caller could mistake for data (/status once built a partial answer on
 * one). */
START_TEST(test_command_error_reply)
{
    redisReply *reply = store_commandf(&ts, "PING");

    ck_assert_ptr_nonnull(reply);
    freeReplyObject(reply);
    ck_assert_int_eq(store_error(&ts), STORE_OK);
    reply = store_commandf(&ts, "NOSUCHCOMMAND %s", "x");
    ck_assert_ptr_null(reply);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_REDIS);
    ck_assert_ptr_nonnull(strstr(store_strerror(&ts), "ERR"));
    /* The connection stays usable. */
    reply = store_commandf(&ts, "PING");
    ck_assert_ptr_nonnull(reply);
    freeReplyObject(reply);
    ck_assert_int_eq(store_error(&ts), STORE_OK);
}
END_TEST

START_TEST(test_script_keys)
{
    static const struct {
        const char *lua_fn;
        const char *fmt;
        const char *arg;
    } keys[] = {
        {"seq_worker_key", KEY_SEQ_WORKER, NULL},
        {"workers_key", KEY_WORKERS, NULL},
        {"node_key", KEY_NODE, "n1"},
        {"worker_key", KEY_WORKER, "7"},
        {"idle_key", KEY_IDLE, NULL},
        {"session_key", KEY_SESSION, "s-1"},
        {"sessions_key", KEY_SESSIONS, NULL},
        {"waiters_key", KEY_WAITERS, NULL},
        {"stats_key", KEY_STATS, NULL},
        {"pool_key", KEY_POOL, "n1"},
        {"lock_key", KEY_LOCK, "reaper:n1"},
        {"idem_key", KEY_IDEM, "k"},
    };
    char src[4096], want[KEY_MAX];
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        redisReply *r;

        snprintf(src, sizeof(src), "%s return %s(ARGV[2])", LUA_HEAD,
                 keys[i].lua_fn);
        ck_assert_int_eq(
            key_build(want, sizeof(want), keys[i].fmt, "t", keys[i].arg), 0);
        r = store_commandf(&ts, "EVAL %s 0 t %s", src,
                           keys[i].arg ? keys[i].arg : "");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(r->str, want);
        freeReplyObject(r);
    }
}
END_TEST

Suite *store_core_suite(void)
{
    Suite *s = suite_create("store_core");
    TCase *tc = tcase_create("context");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_init_and_errors);
    tcase_add_test(tc, test_err_names);
    tcase_add_test(tc, test_token);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_protocol_error);
    tcase_add_test(tc, test_script_keys);
    tcase_add_test(tc, test_command_error_reply);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (!on_path("redis-server")) {
        printf("check_store: no redis-server on PATH: skipped\n");
        return 77;
    }
    log_init("check_store", LOG_LEVEL_ERROR);
    runner_pid = getpid();
    if (mkdtemp(redis_dir) == NULL) {
        perror("check_store: mkdtemp");
        return 99;
    }
    snprintf(redis_log, sizeof(redis_log), "%s/redis.log", redis_dir);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(redis_stop);
    if (redis_start() < 0) {
        fprintf(stderr, "check_store: redis-server did not start\n");
        redis_show_log();
        return 99;
    }
    printf("check_store: redis-server pid %ld on 127.0.0.1:%d\n",
           (long)redis_pid, redis_port);
    sr = srunner_create(store_core_suite());
    srunner_add_suite(sr, store_workers_suite());
    srunner_add_suite(sr, store_sessions_suite());
    srunner_add_suite(sr, store_create_suite());
    srunner_add_suite(sr, store_ops_suite());
    srunner_add_suite(sr, store_nodes_suite());
    srunner_add_suite(sr, store_retry_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
