/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_core.c - the store's context and what every script call shares:
 * running a script by EVALSHA with the prefix as ARGV[1], reading its
 * reply, and recording why a call failed (store.h, store_core.h).
 *
 * Invariants: after every call s->err and s->errstr describe that call
 * (STORE_OK and "" when it succeeded); a reply is freed by the function
 * that got it, once; nothing here logs.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_core.h"

int store_init(struct store *s, const struct conf *c)
{
    int n;

    memset(s, 0, sizeof(*s));
    if (rconn_init(&s->redis, c) < 0)
        return store_fail(s, STORE_ERR_ARG, "%s", s->redis.errstr);
    s->node_stale_ms = c->node_stale_ms;
    s->node_gone_ms = c->node_gone_after * 1000;
    snprintf(s->node, sizeof(s->node), "%s", c->node_name);
    n = snprintf(s->prefix, sizeof(s->prefix), "%s", c->key_prefix);
    if (n < 0 || (size_t)n >= sizeof(s->prefix))
        return store_fail(s, STORE_ERR_ARG, "key prefix too long");
    return 0;
}

void store_release(struct store *s)
{
    rconn_release(&s->redis);
}

enum store_err store_error(const struct store *s)
{
    return s->err;
}

int store_master_moved(struct store *s)
{
    return rconn_recheck(&s->redis);
}

const char *store_server(const struct store *s)
{
    return s->redis.addr;
}

const char *store_strerror(const struct store *s)
{
    return s->errstr;
}

const char *store_err_name(enum store_err err)
{
    static const char *const names[] = {
        "ok", "redis", "protocol", "too_big", "random", "nomem", "arg",
    };

    if ((int)err < 0 || (size_t)err >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[err];
}

int store_fail(struct store *s, enum store_err err, const char *fmt, ...)
{
    va_list ap;

    s->err = err;
    va_start(ap, fmt);
    vsnprintf(s->errstr, sizeof(s->errstr), fmt, ap);
    va_end(ap);
    return -1;
}

/* Starts a call: nothing has failed yet. */
static void store_clear(struct store *s)
{
    s->err = STORE_OK;
    s->errstr[0] = '\0';
}

/* reply, or NULL with STORE_ERR_REDIS recorded when there is none or Redis
 * answered an error (NOPERM, LOADING, MISCONF...: Redis refuses; no
 * partial answer may be built on it). */
static redisReply *store_checked(struct store *s, redisReply *reply)
{
    if (reply == NULL) {
        store_fail(s, STORE_ERR_REDIS, "%s", s->redis.errstr);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        store_fail(s, STORE_ERR_REDIS, "redis: %.200s", reply->str);
        freeReplyObject(reply);
        reply = NULL;
    }
    return reply;
}

redisReply *store_commandf(struct store *s, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;

    store_clear(s);
    va_start(ap, fmt);
    reply = rconn_vcommandf(&s->redis, fmt, ap);
    va_end(ap);
    return store_checked(s, reply);
}

int store_token(struct store *s, char *out, size_t size)
{
    store_clear(s);
    if (size < 33)
        return store_fail(s, STORE_ERR_ARG, "token buffer too small");
    if (random_hex(out, size) < 0)
        return store_fail(s, STORE_ERR_RANDOM, "random source failed");
    return 0;
}

static const char *const state_names[WORKER_STATE_COUNT] = {
    "starting", "idle", "creating", "busy", "releasing", "dead",
};

const char *worker_state_name(enum worker_state s)
{
    if ((int)s < 0 || s >= WORKER_STATE_COUNT)
        return "unknown";
    return state_names[s];
}

int worker_state_parse(const char *s, enum worker_state *out)
{
    int i;

    for (i = 0; i < WORKER_STATE_COUNT; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum worker_state)i;
            return 0;
        }
    }
    return -1;
}

int store_script_retry_safe(enum store_script id)
{
    /* store_core.h says why each is here; every other script is not. */
    static const unsigned char safe[SCRIPT_COUNT] = {
        [SCRIPT_WORKERS] = 1,        [SCRIPT_COUNTS] = 1,
        [SCRIPT_WAITING] = 1,        [SCRIPT_SESSION_LIST] = 1,
        [SCRIPT_PEEK] = 1,           [SCRIPT_POOL_VIEW] = 1,
        [SCRIPT_PRUNE_SESSIONS] = 1, [SCRIPT_POOL_REPORT] = 1,
        [SCRIPT_TOUCH] = 1,          [SCRIPT_UNTOUCH] = 1,
        [SCRIPT_UNLOCK] = 1,         [SCRIPT_IDEM_ABORT] = 1,
        [SCRIPT_IDEM_BEGIN] = 1,     [SCRIPT_WORKER_GONE] = 1,
        [SCRIPT_NODES] = 1,          [SCRIPT_NODE_REAP] = 1,
        [SCRIPT_SUSPECT] = 1,        [SCRIPT_WORKERS_VIEW] = 1,
    };

    if ((int)id < 0 || id >= SCRIPT_COUNT)
        return 0;
    return safe[id];
}

redisReply *store_run(struct store *s, const struct store_script_def *script,
                      int argc, const char **argv, const size_t *lens)
{
    const char *args[STORE_SCRIPT_ARGS_MAX + 1];
    size_t arglens[STORE_SCRIPT_ARGS_MAX + 1];
    redisReply *reply;
    int i;

    store_clear(s);
    if (argc < 0 || argc > STORE_SCRIPT_ARGS_MAX) {
        store_fail(s, STORE_ERR_ARG, "script %d: %d arguments", (int)script->id,
                   argc);
        return NULL;
    }
    args[0] = s->prefix;
    arglens[0] = strlen(s->prefix);
    for (i = 0; i < argc; i++) {
        args[1 + i] = argv[i];
        arglens[1 + i] = lens != NULL ? lens[i] : strlen(argv[i]);
    }
    reply = rconn_evalv(&s->redis, (int)script->id, script->src, argc + 1, args,
                        arglens, store_script_retry_safe(script->id));
    return store_checked(s, reply);
}

long store_reply_int(struct store *s, redisReply *reply)
{
    long v = -1;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        v = (long)reply->integer;
    else
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected reply type %d",
                   reply->type);
    freeReplyObject(reply);
    return v;
}

long store_run_int(struct store *s, const struct store_script_def *script,
                   int argc, const char **argv)
{
    return store_reply_int(s, store_run(s, script, argc, argv, NULL));
}

int store_reply_addr_n(struct store *s, const redisReply *reply, size_t n,
                       struct worker_addr *out)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n || n < 3)
        return store_fail(s, STORE_ERR_PROTOCOL, "unexpected address reply");
    reply_str(out->id, sizeof(out->id), reply->element[0]);
    reply_str(out->host, sizeof(out->host), reply->element[1]);
    out->port = (int)reply_ll(reply->element[2]);
    return 0;
}

int store_reply_addr(struct store *s, const redisReply *reply,
                     struct worker_addr *out)
{
    return store_reply_addr_n(s, reply, 3, out);
}

int store_run_addr(struct store *s, const struct store_script_def *script,
                   int argc, const char **argv, struct worker_addr *out)
{
    redisReply *reply = store_run(s, script, argc, argv, NULL);
    int rc;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        rc = store_reply_addr(s, reply, out) < 0 ? -1 : 1;
    freeReplyObject(reply);
    return rc;
}

int store_run_state(struct store *s, const struct store_script_def *script,
                    int argc, const char **argv, enum worker_state *prior)
{
    redisReply *reply = store_run(s, script, argc, argv, NULL);
    enum worker_state st = WORKER_DEAD;
    int rc = 0;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STRING) {
        rc = 1;
        st = reply_state(reply);
    }
    freeReplyObject(reply);
    if (prior != NULL)
        *prior = st;
    return rc;
}

int store_reply_array(struct store *s, const redisReply *reply, size_t min,
                      const char *what)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < min)
        return store_fail(s, STORE_ERR_PROTOCOL, "unexpected %s reply", what);
    return 0;
}

void *store_calloc(struct store *s, size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        store_fail(s, STORE_ERR_NOMEM, "out of memory");
    return p;
}

int store_key(struct store *s, char *out, const char *fmt, const char *arg)
{
    if (key_build(out, KEY_MAX, fmt, s->prefix, arg) < 0)
        return store_fail(s, STORE_ERR_ARG, "key too long");
    return 0;
}

void reply_str(char *dst, size_t size, const redisReply *e)
{
    size_t n = 0;

    if (e != NULL && e->type == REDIS_REPLY_STRING) {
        n = e->len < size - 1 ? e->len : size - 1;
        memcpy(dst, e->str, n);
    }
    dst[n] = '\0';
}

long long reply_ll(const redisReply *e)
{
    char tmp[32];

    if (e == NULL)
        return 0;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    reply_str(tmp, sizeof(tmp), e);
    return strtoll(tmp, NULL, 10);
}

enum worker_state reply_state(const redisReply *e)
{
    enum worker_state st;
    char name[16];

    reply_str(name, sizeof(name), e);
    if (worker_state_parse(name, &st) < 0)
        return WORKER_DEAD;
    return st;
}

void worker_rec_fill(struct worker_rec *w, const redisReply *a, int64_t now,
                     int pttl)
{
    memset(w, 0, sizeof(*w));
    reply_str(w->id, sizeof(w->id), a->element[0]);
    reply_str(w->node, sizeof(w->node), a->element[1]);
    reply_str(w->host, sizeof(w->host), a->element[2]);
    w->port = (int)reply_ll(a->element[3]);
    w->pid = (long)reply_ll(a->element[4]);
    w->pstart = (unsigned long long)reply_ll(a->element[5]);
    w->state = reply_state(a->element[6]);
    reply_str(w->session, sizeof(w->session), a->element[7]);
    w->since_ms = reply_ll(a->element[8]);
    w->started_ms = reply_ll(a->element[9]);
    w->restarts = (long)reply_ll(a->element[10]);
    w->fails = (long)reply_ll(a->element[11]);
    if (pttl) {
        w->session_pttl_ms = reply_ll(a->element[12]);
        w->session_alive = w->session[0] != '\0' && w->session_pttl_ms != -2;
    } else {
        w->session_alive = reply_ll(a->element[12]) == 1;
        w->session_pttl_ms = w->session_alive ? -1 : -2;
    }
    w->now_ms = now;
}
