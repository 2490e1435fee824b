/*
 * store_compat.c - the old (rconn, prefix) store API as wrappers around
 * the new one, until every caller holds a struct store (store_compat.h has
 * the mapping and when this file goes).
 *
 * A wrapper moves the caller's connection, loaded script SHAs and all,
 * into a struct store on its stack for one call and back after it, so the
 * connection state (dropped, reconnected, scripts loaded) and the error
 * text end up in the caller's struct rconn exactly as before.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store_compat.h"

/* Lends r and prefix to s for one call.  The prefix is a conf key_prefix,
 * which always fits.  Returns s. */
static struct store *compat_enter(struct store *s, struct rconn *r,
                                  const char *prefix)
{
    memcpy(&s->redis, r, sizeof(*r));
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    s->err = STORE_OK;
    s->errstr[0] = '\0';
    return s;
}

/* Gives the connection back to r with the text of a failure in
 * r->errstr.  Returns rc. */
static long compat_leave(struct rconn *r, struct store *s, long rc)
{
    memcpy(r, &s->redis, sizeof(*r));
    if (s->err != STORE_OK)
        snprintf(r->errstr, sizeof(r->errstr), "%s", s->errstr);
    return rc;
}

int store_compat_worker_add(struct rconn *r, const char *prefix,
                            const char *node, const char *host, int port,
                            long pid, unsigned long long pstart, long restarts,
                            long id_floor, char *id_out)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_worker_add(compat_enter(&s, r, prefix), node,
                                              host, port, pid, pstart, restarts,
                                              id_floor, id_out));
}

int store_compat_worker_ready(struct rconn *r, const char *prefix,
                              const char *id)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_worker_ready(compat_enter(&s, r, prefix), id));
}

int store_compat_claim(struct rconn *r, const char *prefix,
                       struct worker_addr *out)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_claim(compat_enter(&s, r, prefix), out));
}

int store_compat_bind(struct rconn *r, const char *prefix, const char *id,
                      const char *sid, long ttl_ms, long lifetime_ms)
{
    struct store s;

    return (int)compat_leave(
        r, &s,
        store_bind(compat_enter(&s, r, prefix), id, sid, ttl_ms, lifetime_ms));
}

int store_compat_unclaim(struct rconn *r, const char *prefix, const char *id)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_unclaim(compat_enter(&s, r, prefix), id));
}

int store_compat_touch(struct rconn *r, const char *prefix, const char *sid,
                       long ttl_ms, struct worker_addr *out)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_touch(compat_enter(&s, r, prefix), sid, ttl_ms, out));
}

int store_compat_end(struct rconn *r, const char *prefix, const char *sid,
                     struct worker_addr *out)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_end(compat_enter(&s, r, prefix), sid, out));
}

int store_compat_expire(struct rconn *r, const char *prefix, const char *id,
                        const char *sid)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_expire(compat_enter(&s, r, prefix), id, sid));
}

int store_compat_released(struct rconn *r, const char *prefix, const char *id)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_released(compat_enter(&s, r, prefix), id));
}

int store_compat_mark_dead(struct rconn *r, const char *prefix, const char *id,
                           const char *reason, enum worker_state *prior)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_mark_dead(compat_enter(&s, r, prefix), id, reason, prior));
}

int store_compat_mark_dead_of(struct rconn *r, const char *prefix,
                              const char *id, const char *node, long pid,
                              const char *reason, enum worker_state *prior)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_mark_dead_of(compat_enter(&s, r, prefix), id,
                                                node, pid, reason, prior));
}

int store_compat_worker_gone(struct rconn *r, const char *prefix,
                             const char *id, const char *node, long pid,
                             const char *reason, enum worker_state *prior)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_worker_gone(compat_enter(&s, r, prefix), id,
                                               node, pid, reason, prior));
}

long store_compat_probe(struct rconn *r, const char *prefix, const char *id,
                        int ok)
{
    struct store s;

    return compat_leave(r, &s,
                        store_probe(compat_enter(&s, r, prefix), id, ok));
}

int store_compat_workers(struct rconn *r, const char *prefix, const char *node,
                         struct worker_rec **out, size_t *n)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_workers(compat_enter(&s, r, prefix), node, out, n));
}

int store_compat_counts(struct rconn *r, const char *prefix, const char *node,
                        long counts[WORKER_STATE_COUNT])
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_counts(compat_enter(&s, r, prefix), node, counts));
}

int store_compat_wait_begin(struct rconn *r, const char *prefix,
                            const char *token, long wait_ms, long max)
{
    struct store s;

    return (int)compat_leave(
        r, &s,
        store_wait_begin(compat_enter(&s, r, prefix), token, wait_ms, max));
}

int store_compat_wait_end(struct rconn *r, const char *prefix,
                          const char *token)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_wait_end(compat_enter(&s, r, prefix), token));
}

long store_compat_waiting(struct rconn *r, const char *prefix)
{
    struct store s;

    return compat_leave(r, &s, store_waiting(compat_enter(&s, r, prefix)));
}

int store_compat_count(struct rconn *r, const char *prefix, const char *field,
                       long n)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_count(compat_enter(&s, r, prefix), field, n));
}

int store_compat_lock(struct rconn *r, const char *prefix, const char *name,
                      const char *token, long ttl_ms)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_lock(compat_enter(&s, r, prefix), name, token, ttl_ms));
}

int store_compat_unlock(struct rconn *r, const char *prefix, const char *name,
                        const char *token)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_unlock(compat_enter(&s, r, prefix), name, token));
}

int store_compat_idem_begin(struct rconn *r, const char *prefix,
                            const char *key, const char *fp, long pending_ms,
                            struct buf *body, long *status)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_idem_begin(compat_enter(&s, r, prefix), key,
                                              fp, pending_ms, body, status));
}

int store_compat_idem_finish(struct rconn *r, const char *prefix,
                             const char *key, const char *fp, long status,
                             const char *body, size_t len, long ttl_ms)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_idem_finish(compat_enter(&s, r, prefix), key,
                                               fp, status, body, len, ttl_ms));
}

int store_compat_idem_abort(struct rconn *r, const char *prefix,
                            const char *key, const char *fp)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_idem_abort(compat_enter(&s, r, prefix), key, fp));
}

int store_compat_stats_add(struct rconn *r, const char *prefix,
                           const char *packed)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_stats_add(compat_enter(&s, r, prefix), packed));
}

int store_compat_session_list(struct rconn *r, const char *prefix, long offset,
                              long limit, struct session_rec **out, size_t *n,
                              long *total)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_session_list(compat_enter(&s, r, prefix),
                                                offset, limit, out, n, total));
}

int store_compat_hold(struct rconn *r, const char *prefix, const char *id,
                      enum worker_state from, int64_t since_ms)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_hold(compat_enter(&s, r, prefix), id, from, since_ms));
}

int store_compat_mark_dead_if(struct rconn *r, const char *prefix,
                              const char *id, enum worker_state state,
                              const char *session, int64_t since_ms,
                              const char *reason, enum worker_state *prior)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_mark_dead_if(compat_enter(&s, r, prefix), id,
                                                state, session, since_ms,
                                                reason, prior));
}

long store_compat_prune_sessions(struct rconn *r, const char *prefix,
                                 long age_ms, long limit)
{
    struct store s;

    return compat_leave(
        r, &s,
        store_prune_sessions(compat_enter(&s, r, prefix), age_ms, limit));
}

int store_compat_retire(struct rconn *r, const char *prefix, const char *id,
                        const char *reason)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_retire(compat_enter(&s, r, prefix), id, reason));
}

int store_compat_pool_view(struct rconn *r, const char *prefix,
                           const char *node, struct pool_view *v)
{
    struct store s;

    return (int)compat_leave(
        r, &s, store_pool_view(compat_enter(&s, r, prefix), node, v));
}

int store_compat_pool_report(struct rconn *r, const char *prefix,
                             const char *node, const char *state,
                             const char *reason, int nfields,
                             const char **fields)
{
    struct store s;

    return (int)compat_leave(r, &s,
                             store_pool_report(compat_enter(&s, r, prefix),
                                               node, state, reason, nfields,
                                               fields));
}
