/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wcall.h - every call the orchestrator makes to a worker, and the one
 * reading of its outcome.  It owns the address check (privsep.h), the
 * transport (whttp.h, wconn.h underneath), the deadlines and the worker's
 * reply format (jsonx.h), and returns a typed verdict.  Callers switch
 * over the verdict and do what the table below says; none of them looks
 * at an HTTP status, a transport result or a worker's body again.
 *
 * Verdicts, by call (CREATE = POST /sessions, GET/DELETE =
 * /sessions/<id>, STATUS = GET /status):
 *
 *   ok          CREATE 2xx with a session object; GET 200 with the object
 *               of this very session; DELETE 2xx; STATUS 200 with a
 *               status object
 *   not_found   GET or DELETE answered 404 (CREATE, STATUS: garbage)
 *   refused     nothing listens (connection refused), or the address is
 *               outside worker_host/worker_hosts and worker_port_range:
 *               never sent
 *   unreachable no connection within the connect deadline, or the
 *               connection closed or reset before an answer (a crash)
 *   timed_out   connected, no whole answer within the total deadline
 *   garbage     an answer, but not the one asked for: another status,
 *               a body that is not the documented JSON (or another
 *               session's), too long, not HTTP
 *
 * What each verdict does (the code of each path follows this table):
 *
 *   verdict      GET (handler)        create/hedge   DELETE (handler)  release
 * /status   reaper probe      rebuild ok           200, bytes passed    bind; a
 * loser  forgot: release  clean -> idle;    consistent: fine  restore is
 * cleaned     continues        holds -> reaper   else decide.h not_found 404;
 * session ends,   (garbage)      forgot: as ok    (garbage)         (garbage)
 * (garbage) worker releasing (reaper checks it) refused      404; worker dead
 * worker dead;   204; worker dead worker dead       failed probe      stopped
 *   unreachable  404; worker dead     next worker    204; worker dead worker
 * dead       failed probe      stopped timed_out    504; worker dead     (same)
 * 204; worker dead worker dead       failed probe      stopped garbage 502;
 * worker dead     (same)         204; worker dead worker dead       failed
 * probe      stopped
 *
 * The rule: a worker that failed a call (any verdict but ok and
 * not_found) is declared dead (store_mark_dead; its session goes with it,
 * the spawner replaces it) on every path where a request waits on it.  A
 * steel-browser holds one session and its hangs are unbounded
 * (worker-facts.md), so a worker silent for worker_timeout_ms is hung,
 * not slow, and one that sends garbage is not trusted with a session; a
 * create must not POST to it again, a DELETE must not answer 204 while it
 * may still hold the session (the rebuild would bring it back), so the
 * GET, which used to answer 504 or 502 and leave the worker serving, now
 * does the same.  Only the answer to the client differs per path.  The
 * reaper's probe is the one exception by design: it runs with
 * probe_timeout_ms, no client waits on it, and it declares the worker
 * dead after probe_failures failed probes in a row (decide.h); a DELETE
 * of the reaper's clean that fails kills the worker at once, like the
 * handlers'.  The rebuild stops a worker whose /status failed: it cannot
 * tell Redis what that worker holds.
 *
 * Deadlines: handler calls worker_connect_timeout_ms to connect and
 * worker_timeout_ms in all (a create: its budget, cut to what is left of
 * create_wait + worker_timeout_ms); the reaper's and the rebuild's probes
 * probe_timeout_ms (wcall_probe_deadlines).
 */
#ifndef STEEL_WCALL_H
#define STEEL_WCALL_H

#include <stddef.h>

#include <curl/curl.h>

#include "conf.h"
#include "util.h"
#include "whttp.h"

enum wcall_verdict {
    WCALL_OK = 0,      /* the answer asked for, in the documented format */
    WCALL_NOT_FOUND,   /* GET or DELETE of a session: 404 */
    WCALL_REFUSED,     /* nothing listens, or an address not ours */
    WCALL_UNREACHABLE, /* no connection in time, or it broke unanswered */
    WCALL_TIMED_OUT,   /* connected, no answer within the deadline */
    WCALL_GARBAGE,     /* an answer that is not the one asked for */
};

/* "ok", "not found", "refused", "unreachable", "timed out", "garbage". */
const char *wcall_verdict_name(enum wcall_verdict v);

/* 1 when v means the worker failed the call: on the handler paths it is
 * declared dead (the table above). */
int wcall_failed(enum wcall_verdict v);

enum wcall_kind {
    WCALL_CREATE = 0, /* POST /sessions */
    WCALL_GET,        /* GET /sessions/<sid> */
    WCALL_DELETE,     /* DELETE /sessions/<sid> */
    WCALL_STATUS,     /* GET /status */
};

/* What the worker answered, for the caller and its log. */
struct wcall_reply {
    long status;      /* HTTP status, 0 when none arrived */
    const char *body; /* borrowed from the struct whttp or probe */
    size_t len;
    char sid[SESSION_ID_MAX + 1]; /* CREATE, GET: the session's id;
                                     STATUS: the one held, "" for none */
    int available;                /* STATUS: its "available" */
    int unsent;                   /* refused or unreachable without a
                                     connection: the worker got nothing */
    int silent;                   /* no answer to the connect within its
                                     deadline: its host may be lost */
    char why[96];                 /* what was wrong, "" when ok */
};

/* The verdict of one finished call of kind on the transport's outcome res,
 * the HTTP status and body (truncated: cut at the body limit), for
 * session sid (GET; NULL otherwise).  Fills *out.  No I/O: the tests
 * feed it buffers. */
enum wcall_verdict wcall_judge(enum wcall_kind kind, const char *sid,
                               enum whttp_result res, long status,
                               const char *body, size_t len, int truncated,
                               struct wcall_reply *out);

/* GET or DELETE /sessions/<sid> (kind), or GET /status (WCALL_STATUS, sid
 * NULL), to host:port over w, under the handler deadlines of c, after
 * the address check.  Returns the verdict; out->body is borrowed from w
 * until its next use. */
enum wcall_verdict wcall_call(struct whttp *w, const struct conf *c,
                              enum wcall_kind kind, const char *host, int port,
                              const char *sid, struct wcall_reply *out);

/* The first half of a create run in a caller's libcurl multi handle:
 * the address check, then whttp_setup of POST /sessions with body under
 * total_ms (the connect deadline cut to it).  Returns WCALL_OK when w's
 * easy handle is ready to add, WCALL_REFUSED for an address not ours
 * (logged), or -1 when the request could not be set up (our failure, not
 * the worker's). */
int wcall_create_setup(struct whttp *w, const struct conf *c, const char *host,
                       int port, const char *body, size_t len, long total_ms);

/* The second half: the verdict of the finished create whose libcurl code
 * was rc.  out->sid is the new session's id when WCALL_OK. */
enum wcall_verdict wcall_create_result(struct whttp *w, CURLcode rc,
                                       struct wcall_reply *out);

/* The verdict of a finished probe (whttp.h) of kind (sid for WCALL_GET). */
enum wcall_verdict wcall_probe_verdict(const struct probe *p,
                                       enum wcall_kind kind, const char *sid,
                                       struct wcall_reply *out);

/* The deadlines of the reaper's and the rebuild's probes of kind: the
 * connect deadline and the total, in ms. */
void wcall_probe_deadlines(const struct conf *c, enum wcall_kind kind,
                           long *connect_ms, long *total_ms);

#endif
