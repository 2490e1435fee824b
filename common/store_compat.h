/*
 * store_compat.h - the store's old API, store_foo(struct rconn *r, const
 * char *prefix, ...), kept only until steel-fcgi, steel-spawner and
 * steel-reaper hold a struct store; then this file and store_compat.c go.
 *
 * Every old function is a wrapper, store_compat_foo(r, prefix, ...), that
 * runs the new store_foo(struct store *s, ...) of store.h on a struct
 * store lent r's connection for the call (store_compat.c).  A build that
 * defines STORE_COMPAT (fcgi/, spawner/ and reaper/ in Makefile.am) gets
 * the old names mapped onto the wrappers, so its unchanged calls compile
 * and behave as before: on failure r->errstr says why, as it always did.
 *
 * Old call -> new call; every name stays, only the first two arguments
 * become one:
 *
 *   store_foo(&x->redis, prefix, args...) -> store_foo(&x->store, args...)
 *   rconn_init(&x->redis, conf)           -> store_init(&x->store, conf)
 *   rconn_release(&x->redis)              -> store_release(&x->store)
 *   rconn_commandf(&x->redis, ...)        -> store_commandf(&x->store, ...)
 *   x->redis.errstr                       -> store_strerror(&x->store)
 *   x->redis.addr                         -> x->store.redis.addr
 *   struct rconn redis;                   -> struct store store;
 *
 * for store_foo in: worker_add worker_ready claim bind unclaim touch end
 * expire released mark_dead mark_dead_of worker_gone probe workers counts
 * wait_begin wait_end waiting count lock unlock idem_begin idem_finish
 * idem_abort stats_add session_list hold mark_dead_if prune_sessions
 * retire pool_view pool_report (store_pool_view_release and
 * worker_state_name/parse never took a connection and do not change).
 * Then drop -DSTORE_COMPAT from Makefile.am, the #ifdef STORE_COMPAT
 * block at the end of store.h, these two files and their test,
 * tests/check_store_compat.c.
 */
#ifndef STEEL_STORE_COMPAT_H
#define STEEL_STORE_COMPAT_H

#include "store.h"

int store_compat_worker_add(struct rconn *r, const char *prefix,
                            const char *node, const char *host, int port,
                            long pid, unsigned long long pstart, long restarts,
                            long id_floor, char *id_out);
int store_compat_worker_ready(struct rconn *r, const char *prefix,
                              const char *id);
int store_compat_claim(struct rconn *r, const char *prefix,
                       struct worker_addr *out);
int store_compat_bind(struct rconn *r, const char *prefix, const char *id,
                      const char *sid, long ttl_ms, long lifetime_ms);
int store_compat_unclaim(struct rconn *r, const char *prefix, const char *id);
int store_compat_touch(struct rconn *r, const char *prefix, const char *sid,
                       long ttl_ms, struct worker_addr *out);
int store_compat_end(struct rconn *r, const char *prefix, const char *sid,
                     struct worker_addr *out);
int store_compat_expire(struct rconn *r, const char *prefix, const char *id,
                        const char *sid);
int store_compat_released(struct rconn *r, const char *prefix, const char *id);
int store_compat_mark_dead(struct rconn *r, const char *prefix, const char *id,
                           const char *reason, enum worker_state *prior);
int store_compat_mark_dead_of(struct rconn *r, const char *prefix,
                              const char *id, const char *node, long pid,
                              const char *reason, enum worker_state *prior);
int store_compat_worker_gone(struct rconn *r, const char *prefix,
                             const char *id, const char *node, long pid,
                             const char *reason, enum worker_state *prior);
long store_compat_probe(struct rconn *r, const char *prefix, const char *id,
                        int ok);
int store_compat_workers(struct rconn *r, const char *prefix, const char *node,
                         struct worker_rec **out, size_t *n);
int store_compat_counts(struct rconn *r, const char *prefix, const char *node,
                        long counts[WORKER_STATE_COUNT]);
int store_compat_wait_begin(struct rconn *r, const char *prefix,
                            const char *token, long wait_ms, long max);
int store_compat_wait_end(struct rconn *r, const char *prefix,
                          const char *token);
long store_compat_waiting(struct rconn *r, const char *prefix);
int store_compat_count(struct rconn *r, const char *prefix, const char *field,
                       long n);
int store_compat_lock(struct rconn *r, const char *prefix, const char *name,
                      const char *token, long ttl_ms);
int store_compat_unlock(struct rconn *r, const char *prefix, const char *name,
                        const char *token);
int store_compat_idem_begin(struct rconn *r, const char *prefix,
                            const char *key, const char *fp, long pending_ms,
                            struct buf *body, long *status);
int store_compat_idem_finish(struct rconn *r, const char *prefix,
                             const char *key, const char *fp, long status,
                             const char *body, size_t len, long ttl_ms);
int store_compat_idem_abort(struct rconn *r, const char *prefix,
                            const char *key, const char *fp);
int store_compat_stats_add(struct rconn *r, const char *prefix,
                           const char *packed);
int store_compat_session_list(struct rconn *r, const char *prefix, long offset,
                              long limit, struct session_rec **out, size_t *n,
                              long *total);
int store_compat_hold(struct rconn *r, const char *prefix, const char *id,
                      enum worker_state from, int64_t since_ms);
int store_compat_mark_dead_if(struct rconn *r, const char *prefix,
                              const char *id, enum worker_state state,
                              const char *session, int64_t since_ms,
                              const char *reason, enum worker_state *prior);
long store_compat_prune_sessions(struct rconn *r, const char *prefix,
                                 long age_ms, long limit);
int store_compat_retire(struct rconn *r, const char *prefix, const char *id,
                        const char *reason);
int store_compat_pool_view(struct rconn *r, const char *prefix,
                           const char *node, struct pool_view *v);
int store_compat_pool_report(struct rconn *r, const char *prefix,
                             const char *node, const char *state,
                             const char *reason, int nfields,
                             const char **fields);

#ifdef STORE_COMPAT
#define store_worker_add     store_compat_worker_add
#define store_worker_ready   store_compat_worker_ready
#define store_claim          store_compat_claim
#define store_bind           store_compat_bind
#define store_unclaim        store_compat_unclaim
#define store_touch          store_compat_touch
#define store_end            store_compat_end
#define store_expire         store_compat_expire
#define store_released       store_compat_released
#define store_mark_dead      store_compat_mark_dead
#define store_mark_dead_of   store_compat_mark_dead_of
#define store_worker_gone    store_compat_worker_gone
#define store_probe          store_compat_probe
#define store_workers        store_compat_workers
#define store_counts         store_compat_counts
#define store_wait_begin     store_compat_wait_begin
#define store_wait_end       store_compat_wait_end
#define store_waiting        store_compat_waiting
#define store_count          store_compat_count
#define store_lock           store_compat_lock
#define store_unlock         store_compat_unlock
#define store_idem_begin     store_compat_idem_begin
#define store_idem_finish    store_compat_idem_finish
#define store_idem_abort     store_compat_idem_abort
#define store_stats_add      store_compat_stats_add
#define store_session_list   store_compat_session_list
#define store_hold           store_compat_hold
#define store_mark_dead_if   store_compat_mark_dead_if
#define store_prune_sessions store_compat_prune_sessions
#define store_retire         store_compat_retire
#define store_pool_view      store_compat_pool_view
#define store_pool_report    store_compat_pool_report
#endif

#endif
