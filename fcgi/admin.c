/*
 * admin.c - what operators read: /health, /status, /workers, /metrics and
 * the session list.  Everything comes from Redis, so any handler process
 * on any node gives the same answer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "handler.h"
#include "keys.h"
#include "log.h"
#include "store.h"

#define SESSION_LIST_MAX 1000

static void admin_redis_failed(struct handler *h, struct response *r,
                               const char *what)
{
    log_warnx("%s: %s", what, h->redis.errstr);
    response_error(r, API_ERR_REDIS_UNAVAILABLE,
                   "state store unavailable, try again");
    response_header(r, "Retry-After", "1");
}

/* Serializes obj into r as a 200 JSON answer and drops the reference. */
static void reply_json(struct response *r, struct json_object *obj)
{
    size_t len = 0;
    const char *s;

    s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    response_set(r, 200, "application/json", s, len);
    if (r->status == 200)
        buf_appends(&r->body, "\n");
    json_object_put(obj);
}

void handle_health(struct handler *h, struct response *r)
{
    redisReply *reply = rconn_commandf(&h->redis, "PING");

    if (reply == NULL) {
        admin_redis_failed(h, r, "health");
        return;
    }
    freeReplyObject(reply);
    response_set(r, 200, "text/plain", "ok", 2);
}

/* Pool states of every node that runs a spawner: a JSON object
 * node -> {"state", "reason"}; *degraded is set when any is degraded. */
static struct json_object *pool_states(struct handler *h, int *degraded)
{
    struct json_object *nodes = json_object_new_object();
    char pattern[KEY_MAX], cursor[32] = "0";
    size_t plen;
    int rounds = 0;

    *degraded = 0;
    if (key_build(pattern, sizeof(pattern), KEY_POOL, h->conf->key_prefix,
                  "*") < 0)
        return nodes;
    plen = strlen(pattern) - 1;
    do {
        redisReply *reply = rconn_commandf(
            &h->redis, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        size_t i;

        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 2) {
            if (reply != NULL)
                freeReplyObject(reply);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        for (i = 0; i < reply->element[1]->elements; i++) {
            const char *key = reply->element[1]->element[i]->str;
            redisReply *st =
                rconn_commandf(&h->redis, "HMGET %s state reason", key);
            struct json_object *o;

            if (st == NULL)
                continue;
            o = json_object_new_object();
            if (st->type == REDIS_REPLY_ARRAY && st->elements == 2) {
                const redisReply *s0 = st->element[0], *s1 = st->element[1];

                json_object_object_add(
                    o, "state",
                    json_object_new_string(
                        s0->type == REDIS_REPLY_STRING ? s0->str : "unknown"));
                if (s1->type == REDIS_REPLY_STRING && s1->len > 0)
                    json_object_object_add(o, "reason",
                                           json_object_new_string(s1->str));
                if (s0->type == REDIS_REPLY_STRING &&
                    strcmp(s0->str, "degraded") == 0)
                    *degraded = 1;
            }
            json_object_object_add(nodes, strlen(key) > plen ? key + plen : key,
                                   o);
            freeReplyObject(st);
        }
        freeReplyObject(reply);
    } while (strcmp(cursor, "0") != 0 && ++rounds < 100);
    return nodes;
}

static long sessions_count(struct handler *h)
{
    char key[KEY_MAX];
    redisReply *reply;
    long n = -1;

    if (key_build(key, sizeof(key), KEY_SESSIONS, h->conf->key_prefix,
                  NULL) < 0)
        return -1;
    reply = rconn_commandf(&h->redis, "ZCARD %s", key);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        n = (long)reply->integer;
    freeReplyObject(reply);
    return n;
}

long handler_retry_after(struct handler *h)
{
    long counts[WORKER_STATE_COUNT];
    long busy, alive;

    if (store_counts(&h->redis, h->conf->key_prefix, NULL, counts) < 0)
        return 1;
    alive = counts[WORKER_STARTING] + counts[WORKER_IDLE] +
            counts[WORKER_CREATING] + counts[WORKER_BUSY] +
            counts[WORKER_RELEASING];
    busy = counts[WORKER_BUSY] + counts[WORKER_CREATING];
    /* Workers are starting or the pool can still grow: soon. */
    if (counts[WORKER_STARTING] > 0 || alive < h->conf->pool_max_workers)
        return 1;
    /* Full: a worker frees up when a session ends, at the latest when the
     * least recently used one expires. */
    if (busy > 0) {
        char key[KEY_MAX];
        redisReply *reply;
        long secs = h->conf->session_ttl;

        if (key_build(key, sizeof(key), KEY_SESSIONS, h->conf->key_prefix,
                      NULL) == 0 &&
            (reply = rconn_commandf(&h->redis, "ZRANGE %s 0 0 WITHSCORES",
                                    key)) != NULL) {
            redisReply *t = rconn_commandf(&h->redis, "TIME");

            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                t != NULL && t->type == REDIS_REPLY_ARRAY &&
                t->elements == 2) {
                long long last = strtoll(reply->element[1]->str, NULL, 10);
                long long now = strtoll(t->element[0]->str, NULL, 10) * 1000;
                long long left = last + h->conf->session_ttl * 1000LL - now;

                secs = (long)((left + 999) / 1000);
            }
            if (t != NULL)
                freeReplyObject(t);
            freeReplyObject(reply);
        }
        if (secs < 1)
            secs = 1;
        if (secs > h->conf->session_ttl)
            secs = h->conf->session_ttl;
        return secs;
    }
    return 1;
}

void handle_status(struct handler *h, struct response *r)
{
    const struct conf *c = h->conf;
    long counts[WORKER_STATE_COUNT], waiting, sessions, alive, capacity;
    struct json_object *o, *workers, *limits;
    int degraded = 0, i;

    if (store_counts(&h->redis, c->key_prefix, NULL, counts) < 0) {
        admin_redis_failed(h, r, "status");
        return;
    }
    waiting = store_waiting(&h->redis, c->key_prefix);
    sessions = sessions_count(h);
    if (waiting < 0 || sessions < 0) {
        admin_redis_failed(h, r, "status");
        return;
    }
    alive = 0;
    for (i = 0; i < WORKER_STATE_COUNT; i++) {
        if (i != WORKER_DEAD)
            alive += counts[i];
    }
    capacity = counts[WORKER_IDLE] +
               (c->pool_max_workers > alive ? c->pool_max_workers - alive
                                            : 0);

    o = json_object_new_object();
    json_object_object_add(o, "available",
                           json_object_new_boolean(counts[WORKER_IDLE] > 0));
    workers = json_object_new_object();
    for (i = 0; i < WORKER_STATE_COUNT; i++)
        json_object_object_add(
            workers, worker_state_name((enum worker_state)i),
            json_object_new_int64(counts[i]));
    json_object_object_add(o, "workers", workers);
    json_object_object_add(o, "sessions", json_object_new_int64(sessions));
    json_object_object_add(o, "waiting_creates",
                           json_object_new_int64(waiting));
    json_object_object_add(o, "capacity", json_object_new_int64(capacity));
    json_object_object_add(o, "nodes", pool_states(h, &degraded));
    json_object_object_add(o, "degraded", json_object_new_boolean(degraded));
    limits = json_object_new_object();
    json_object_object_add(limits, "max_body",
                           json_object_new_int64(c->max_body));
    json_object_object_add(limits, "session_ttl",
                           json_object_new_int64(c->session_ttl));
    json_object_object_add(limits, "session_max_lifetime",
                           json_object_new_int64(c->session_max_lifetime));
    json_object_object_add(limits, "create_wait",
                           json_object_new_int64(c->create_wait));
    json_object_object_add(limits, "pool_max_workers",
                           json_object_new_int64(c->pool_max_workers));
    json_object_object_add(o, "limits", limits);
    reply_json(r, o);
}

void handle_workers(struct handler *h, struct response *r)
{
    struct worker_rec *recs = NULL;
    struct json_object *o, *arr;
    size_t n = 0, i;

    if (store_workers(&h->redis, h->conf->key_prefix, NULL, &recs, &n) < 0) {
        admin_redis_failed(h, r, "workers");
        return;
    }
    arr = json_object_new_array();
    for (i = 0; i < n; i++) {
        const struct worker_rec *w = &recs[i];
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, "id", json_object_new_string(w->id));
        json_object_object_add(e, "node", json_object_new_string(w->node));
        json_object_object_add(e, "pid", json_object_new_int64(w->pid));
        json_object_object_add(e, "host", json_object_new_string(w->host));
        json_object_object_add(e, "port", json_object_new_int(w->port));
        json_object_object_add(e, "state",
                               json_object_new_string(
                                   worker_state_name(w->state)));
        json_object_object_add(e, "session",
                               w->session[0]
                                   ? json_object_new_string(w->session)
                                   : NULL);
        json_object_object_add(e, "started_at",
                               json_object_new_int64(w->started_ms));
        json_object_object_add(e, "state_since",
                               json_object_new_int64(w->since_ms));
        json_object_object_add(e, "restarts",
                               json_object_new_int64(w->restarts));
        json_object_object_add(e, "failed_probes",
                               json_object_new_int64(w->fails));
        json_object_array_add(arr, e);
    }
    free(recs);
    o = json_object_new_object();
    json_object_object_add(o, "workers", arr);
    reply_json(r, o);
}

void handle_session_list(struct handler *h, struct request *rq,
                         struct response *r)
{
    char key[KEY_MAX];
    redisReply *reply;
    struct json_object *o, *arr;
    size_t i;

    (void)rq;
    if (key_build(key, sizeof(key), KEY_SESSIONS, h->conf->key_prefix,
                  NULL) < 0) {
        response_error(r, API_ERR_INTERNAL, "key too long");
        return;
    }
    reply = rconn_commandf(&h->redis, "ZREVRANGE %s 0 %d WITHSCORES", key,
                           SESSION_LIST_MAX - 1);
    if (reply == NULL) {
        admin_redis_failed(h, r, "session list");
        return;
    }
    arr = json_object_new_array();
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements;
         i += 2) {
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, "id",
                               json_object_new_string(reply->element[i]->str));
        json_object_object_add(
            e, "last_activity",
            json_object_new_int64(
                strtoll(reply->element[i + 1]->str, NULL, 10)));
        json_object_array_add(arr, e);
    }
    freeReplyObject(reply);
    o = json_object_new_object();
    json_object_object_add(o, "sessions", arr);
    reply_json(r, o);
}

void handle_metrics(struct handler *h, struct response *r)
{
    const struct conf *c = h->conf;
    long counts[WORKER_STATE_COUNT], waiting, sessions;
    char key[KEY_MAX];
    redisReply *reply;
    struct buf *b = &r->body;
    size_t i;
    int s;

    if (store_counts(&h->redis, c->key_prefix, NULL, counts) < 0 ||
        (waiting = store_waiting(&h->redis, c->key_prefix)) < 0 ||
        (sessions = sessions_count(h)) < 0) {
        admin_redis_failed(h, r, "metrics");
        return;
    }
    if (key_build(key, sizeof(key), KEY_STATS, c->key_prefix, NULL) < 0 ||
        (reply = rconn_commandf(&h->redis, "HGETALL %s", key)) == NULL) {
        admin_redis_failed(h, r, "metrics");
        return;
    }
    response_set(r, 200, "text/plain; version=0.0.4", NULL, 0);
    buf_appends(b, "# HELP steel_workers Workers by state.\n"
                   "# TYPE steel_workers gauge\n");
    for (s = 0; s < WORKER_STATE_COUNT; s++)
        buf_printf(b, "steel_workers{state=\"%s\"} %ld\n",
                   worker_state_name((enum worker_state)s), counts[s]);
    buf_printf(b, "# HELP steel_sessions Live sessions.\n"
                  "# TYPE steel_sessions gauge\n"
                  "steel_sessions %ld\n",
               sessions);
    buf_printf(b, "# HELP steel_waiting_creates Creates waiting for a "
                  "worker.\n"
                  "# TYPE steel_waiting_creates gauge\n"
                  "steel_waiting_creates %ld\n",
               waiting);
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements;
         i += 2) {
        const char *field = reply->element[i]->str;
        const char *value = reply->element[i + 1]->str;
        const char *colon = strchr(field, ':');
        char name[128];

        if (colon == NULL) {
            snprintf(name, sizeof(name), "steel_%s_total", field);
            buf_printf(b, "# TYPE %s counter\n%s %s\n", name, name, value);
        } else {
            /* "repairs:<kind>" -> steel_repairs_total{kind="<kind>"} */
            snprintf(name, sizeof(name), "steel_%.*s_total",
                     (int)(colon - field), field);
            buf_printf(b, "%s{kind=\"%s\"} %s\n", name, colon + 1, value);
        }
    }
    freeReplyObject(reply);
    if (b->overflow)
        response_error(r, API_ERR_INTERNAL, "metrics too large");
}
