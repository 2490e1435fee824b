/*
 * spawner.c - the supervisor of one node's workers (spawner.h).
 *
 * One thread, one loop.  Each turn it collects what happened (children
 * that exited, /health answers, setup failures reported by children),
 * reads the node's pool from Redis in one script (store_pool_view), decides
 * how many workers to start or stop (pool.c) and waits at most TICK_MS in
 * curl_multi_poll() for the next event.  Nothing in the loop blocks
 * longer than one Redis command.
 *
 * A worker in this table goes through:
 *
 *             spawn                   /health 2xx
 *   (none) ----------> STARTING --------------------> RUNNING
 *                         |                              |
 *                         | start timeout, dead in       | retired, dead in
 *                         | Redis, record gone           | Redis, record gone,
 *                         v                              v shutdown
 *                      STOPPING <------------------------+
 *                         |
 *                         | the process exited (pidfd readable, waitpid)
 *                         v
 *                     store_worker_gone ----> (none)
 *                         | Redis unreachable
 *                         v
 *                       GONE (retried every turn until Redis answers)
 *
 * Invariants:
 *   - every worker process we started or adopted is in the table until it
 *     has exited and its record was removed from Redis, so its session
 *     answers 404 as soon as the process is gone;
 *   - no two workers in the table share an id, even after P:seq:worker
 *     went back (Redis lost its data): a new worker is registered above
 *     the highest id the table holds (store_worker_add's floor).  Besides,
 *     nothing trusts an id alone: entries are removed by pointer, epoll
 *     events name a worker by a serial number local to this process, and
 *     a record is removed or marked dead only while it still names our
 *     node and the worker's pid, so a worker of another node that got the
 *     same id is never touched;
 *   - a worker is signalled only under the kill rule of common/proc.h, and
 *     an adopted one (not our child) only after its start time matched;
 *   - an idle worker is stopped only after store_retire() took it out of
 *     P:idle, so no create is handed a worker being stopped;
 *   - no two workers of ours share a port; a port that failed a start or
 *     a test bind is skipped for a while;
 *   - only start failures slow refills or degrade the pool (pool.h
 *     restart policy), so a worker binary that cannot run never makes a
 *     fork storm, and a worker that dies at random after a healthy start
 *     is replaced at once.  A start failed when the worker could not be
 *     executed, ended before /health, missed worker_start_timeout_ms, or
 *     died of its own within POOL_HEALTHY_MS of answering /health; a stop
 *     that was asked for (retired, drained: marked dead with a reason
 *     starting with "drain", its record vanished, shutdown) is never one.
 *
 * Exits are seen through one pidfd per worker in an epoll set that the
 * poll waits on, so a death wakes the loop at once; children are reaped
 * with waitpid(-1, WNOHANG), adopted workers (children of an earlier
 * spawner) are reaped by whoever inherited them.
 *
 * Worker logs: each worker's stdout and stderr are appended to
 * <worker_log_dir>/worker-<port>.log.  About once a second a file larger
 * than worker_log_max is truncated to zero; the worker keeps writing with
 * O_APPEND, so it continues at the new end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "launch.h"
#include "log.h"
#include "pool.h"
#include "proc.h"
#include "prog.h"
#include "spawner.h"
#include "store.h"
#include "util.h"
#include "whttp.h"

#define TICK_MS          100  /* longest wait of one turn */
#define VIEW_MS          100  /* the pool is read from Redis this often */
#define VIEW_GAP_MS      10   /* and at most this often after events */
#define PROBE_FIRST_MS   20   /* first /health try after the spawn */
#define PROBE_RETRY_MS   50   /* between /health tries */
#define PROBE_CONNECT_MS 200  /* deadline of one /health connect */
#define PROBE_TOTAL_MS   500  /* deadline of one /health request */
#define STOP_GRACE_MS    5000 /* SIGTERM to SIGKILL */
#define KILL_REPEAT_MS   1000 /* SIGKILL again while it lingers */
#define KILL_WAIT_MS     2000 /* after the last SIGKILL, at shutdown */
#define HOUSEKEEP_MS     1000 /* log sizes, pool report */
#define ADOPT_RETRY_MS   1000 /* adoption while Redis is unreachable */
#define ADOPT_PARALLEL   64   /* /health probes at once when adopting */
#define EVENTS_MAX       256

enum wstate {
    W_STARTING, /* spawned; /health not answered yet */
    W_RUNNING,  /* answered /health (or adopted) */
    W_STOPPING, /* signalled; waiting for it to exit */
    W_GONE,     /* exited; its record still has to leave Redis */
};

/* Why we stopped a worker; STOP_NONE for a death we did not cause. */
enum stop_why {
    STOP_NONE = 0,
    STOP_RETIRE,        /* idle above the target (not a failure) */
    STOP_DEAD,          /* a handler or the reaper marked it dead */
    STOP_DRAIN,         /* an operator drained it (not a failure) */
    STOP_VANISHED,      /* its Redis record disappeared (not a failure) */
    STOP_START_TIMEOUT, /* no /health within worker_start_timeout_ms */
    STOP_SHUTDOWN,      /* SIGTERM to the spawner (not a failure) */
};

/* A worker marked dead with a reason that starts with this was drained on
 * purpose (OPERATIONS.md, recipe:drain-worker): its stop is no failure. */
#define DRAIN_PREFIX "drain"

/* epoll data: worker serial << 1 | kind. */
#define EV_PIDFD 0
#define EV_ERRFD 1

/* A /health request in flight for a starting worker. */
struct start_probe {
    struct probe p;   /* first: the CURLOPT_PRIVATE of easy points here */
    CURL *easy;       /* in the spawner's multi handle */
    struct worker *w; /* the worker it asks */
};

struct worker {
    long id;                   /* worker id in Redis */
    uint64_t serial;           /* unique in this process: names its epoll
                                * entries */
    char sid[WORKER_ID_MAX];   /* the same, as a string */
    long pid;                  /* leads its process group */
    unsigned long long pstart; /* clock ticks since boot */
    int port;                  /* TCP port it listens on */
    int child;                 /* 1: our child; 0: adopted */
    enum wstate state;         /* where it is in this table */
    enum stop_why stop_why;    /* why we stopped it, if we did */
    int pidfd;                 /* readable once it exited; -1 */
    int err_fd;                /* setup report pipe; -1 once read */
    struct start_probe *probe; /* /health request in flight, or NULL */
    int64_t spawn_ms;          /* monotonic ms of the spawn */
    int64_t ready_ms;          /* monotonic ms of the first /health; 0 */
    int healthy;               /* ran POOL_HEALTHY_MS after it, or adopted */
    int64_t next_probe_ms;     /* monotonic ms of the next /health try */
    int64_t kill_at_ms;        /* monotonic ms to send SIGKILL (again) */
    unsigned long add_seq;     /* last view before it was registered */
    unsigned long seen_seq;    /* last view that listed it */
    enum worker_state rstate;  /* its state in Redis at that view */
    int64_t rsince_ms;         /* Redis ms it entered rstate */
    int exited;                /* the process is gone */
    int has_status;            /* status holds the wait status */
    int status;                /* from waitpid() */
    int fatal;                 /* setup failed in a way retries won't fix */
    int counted;               /* its failure was counted already */
    char reason[256];          /* setup failure reported by the child */
    char dead_reason[128];     /* the reason of its dead record, if any */
};

struct spawner {
    struct prog *prog;        /* options and configuration */
    struct conf *c;           /* &prog->conf: reloaded on SIGHUP */
    struct rconn redis;       /* this thread's connection */
    CURLM *multi;             /* /health probes of starting workers */
    int epfd;                 /* pidfds and setup pipes */
    struct epoll_event *ev;   /* room for what epfd reports */
    size_t evcap;             /* entries in ev */
    struct worker **w;        /* sorted by id; ids are unique */
    size_t n, cap;            /* entries used, allocated */
    uint64_t serial;          /* the last worker serial handed out */
    struct port_map ports;    /* which ports are ours or cooling */
    struct restart rs;        /* backoff and degraded state */
    char fail_reason[320];    /* the last failure, shown when degraded */
    long nofile_inherit;      /* our own soft limit at start */
    int adopted;              /* adoption at start is done */
    int redis_down;           /* a Redis failure was logged */
    int ports_logged;         /* "no free port" was logged */
    int stopping;             /* SIGTERM: no more spawns */
    unsigned long seq;        /* views taken */
    int64_t last_view_ms;     /* monotonic ms of the last view */
    int64_t view_due_ms;      /* monotonic ms of the next view */
    int64_t housekeep_due_ms; /* monotonic ms of the next housekeeping */
    int64_t adopt_due_ms;     /* monotonic ms of the next adoption try */
    long waiting;             /* from the last view */
    int64_t redis_now_ms;     /* Redis clock at the last view */
    uint32_t rnd;             /* jitter generator state */
};

/* ---- small helpers ------------------------------------------------------ */

static uint32_t spawner_random(struct spawner *s)
{
    /* xorshift32: jitter needs spread, not secrecy. */
    s->rnd ^= s->rnd << 13;
    s->rnd ^= s->rnd >> 17;
    s->rnd ^= s->rnd << 5;
    return s->rnd;
}

static void redis_failed(struct spawner *s, const char *what)
{
    if (!s->redis_down)
        log_warnx("%s: %s", what, s->redis.errstr);
    s->redis_down = 1;
}

static void redis_worked(struct spawner *s)
{
    if (s->redis_down)
        log_info("redis %s answers again", s->c->redis);
    s->redis_down = 0;
}

/* Creates path and its missing parents.  Returns 0 or -1 (errno set). */
static int mkdir_p(const char *path)
{
    char tmp[CONF_STR_MAX];
    size_t i, len = strlen(path);

    if (len == 0 || len >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        tmp[i] = path[i];
    }
    return 0;
}

static int log_path(const struct spawner *s, int port, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/worker-%d.log", s->c->worker_log_dir, port);

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Truncates the log of port when it grew past worker_log_max. */
static void log_trim(const struct spawner *s, int port)
{
    char path[CONF_STR_MAX + 32];
    struct stat st;

    if (s->c->worker_log_max <= 0 || log_path(s, port, path, sizeof(path)))
        return;
    if (stat(path, &st) < 0 || st.st_size <= s->c->worker_log_max)
        return;
    if (truncate(path, 0) < 0)
        log_warn("truncating %s", path);
    else
        log_debug("%s reached %lld bytes; truncated", path,
                  (long long)st.st_size);
}

/* 1 when nothing listens on port: a test bind on the IPv4 wildcard
 * address conflicts with a listener on any local address. */
static int port_is_free(int port, void *arg)
{
    struct sockaddr_in sa;
    int fd, one = 1, ok;

    (void)arg;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1; /* cannot tell; a worker that fails to bind is retried */
    /* Connections in TIME_WAIT do not keep a worker from binding. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (!ok)
        log_debug("port %d is held by another process; skipped", port);
    return ok;
}

/* ---- the worker table --------------------------------------------------- */

/* Index of worker id, or -1. */
static long table_find(const struct spawner *s, long id)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->w[mid]->id == id)
            return (long)mid;
        if (s->w[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static struct worker *table_get(const struct spawner *s, long id)
{
    long i = table_find(s, id);

    return i < 0 ? NULL : s->w[i];
}

/* The worker whose process is pid, among those not reaped yet: a reaped
 * pid (has_status, GONE) may belong to another process by now. */
static struct worker *table_by_pid(const struct spawner *s, long pid)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct worker *w = s->w[i];

        if (w->pid == pid && w->state != W_GONE && !w->has_status)
            return s->w[i];
    }
    return NULL;
}

/* The worker with serial, or NULL. */
static struct worker *table_by_serial(const struct spawner *s, uint64_t serial)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->w[i]->serial == serial)
            return s->w[i];
    }
    return NULL;
}

/* The highest worker id in the table, 0 when it is empty. */
static long table_max_id(const struct spawner *s)
{
    return s->n > 0 ? s->w[s->n - 1]->id : 0;
}

/* Returns 0, or -1 when out of memory. */
static int table_insert(struct spawner *s, struct worker *w)
{
    size_t pos = s->n;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct worker **nw = realloc(s->w, cap * sizeof(*nw));

        if (nw == NULL)
            return -1;
        s->w = nw;
        s->cap = cap;
    }
    while (pos > 0 && s->w[pos - 1]->id > w->id)
        pos--;
    memmove(&s->w[pos + 1], &s->w[pos], (s->n - pos) * sizeof(*s->w));
    s->w[pos] = w;
    s->n++;
    w->serial = ++s->serial;
    return 0;
}

static void start_probe_cancel(struct spawner *s, struct worker *w)
{
    if (w->probe == NULL)
        return;
    probe_cancel(s->multi, w->probe->easy);
    free(w->probe);
    w->probe = NULL;
}

static void unwatch_close(struct spawner *s, int *fd)
{
    if (*fd < 0)
        return;
    /* Explicitly: a child between fork and exec holds a copy of the fd,
     * and the epoll entry lives as long as any copy does. */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
}

static void worker_close_fds(struct spawner *s, struct worker *w)
{
    unwatch_close(s, &w->pidfd);
    unwatch_close(s, &w->err_fd);
}

/* Takes w out of the table (found by pointer, not by id) and frees it. */
static void table_remove(struct spawner *s, struct worker *w)
{
    size_t i;

    start_probe_cancel(s, w);
    worker_close_fds(s, w);
    for (i = 0; i < s->n; i++) {
        if (s->w[i] == w) {
            memmove(&s->w[i], &s->w[i + 1], (s->n - i - 1) * sizeof(*s->w));
            s->n--;
            break;
        }
    }
    free(w);
}

static void watch_fd(struct spawner *s, struct worker *w, int fd, int kind)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (w->serial << 1) | (uint64_t)kind;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        log_warn("worker %s (pid %ld, port %d): epoll_ctl", w->sid, w->pid,
                 w->port);
}

/* Opens the pidfd of w; a process already gone is marked exited. */
static void watch_pid(struct spawner *s, struct worker *w)
{
    w->pidfd = pidfd_open((pid_t)w->pid, 0);
    if (w->pidfd < 0) {
        if (errno == ESRCH)
            w->exited = 1;
        else
            log_warn("worker %s (pid %ld, port %d): pidfd_open", w->sid, w->pid,
                     w->port);
        return;
    }
    watch_fd(s, w, w->pidfd, EV_PIDFD);
}

/* Sends sig to w under the kill rule (common/proc.h). */
static void worker_signal(struct worker *w, int sig)
{
    /* A reaped child's pid may be another process's already. */
    if (w->child && w->has_status)
        return;
    proc_kill(w->pid, w->pstart, w->pidfd, sig);
}

static void worker_stop(struct spawner *s, struct worker *w, enum stop_why why,
                        int sig, int64_t now)
{
    start_probe_cancel(s, w);
    if (w->state != W_STOPPING || why == STOP_SHUTDOWN)
        w->stop_why = why;
    w->state = W_STOPPING;
    worker_signal(w, sig);
    w->kill_at_ms = now + (sig == SIGKILL ? KILL_REPEAT_MS : STOP_GRACE_MS);
}

/* ---- pool report -------------------------------------------------------- */

static void pool_report(struct spawner *s, const char *state)
{
    char spid[24], sworkers[24], sidle[24], sstarting[24], sfails[24];
    char starget[24], smax[24];
    const char *fields[] = {"pid",         spid,   "workers",     sworkers,
                            "idle",        sidle,  "starting",    sstarting,
                            "fails",       sfails, "idle_target", starget,
                            "max_workers", smax};
    long workers = 0, idle = 0, starting = 0;
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct worker *w = s->w[i];

        if (w->state == W_GONE)
            continue;
        workers++;
        if (w->state == W_STARTING)
            starting++;
        else if (w->state == W_RUNNING && w->rstate == WORKER_IDLE)
            idle++;
    }
    snprintf(spid, sizeof(spid), "%ld", (long)getpid());
    snprintf(sworkers, sizeof(sworkers), "%ld", workers);
    snprintf(sidle, sizeof(sidle), "%ld", idle);
    snprintf(sstarting, sizeof(sstarting), "%ld", starting);
    snprintf(sfails, sizeof(sfails), "%ld", s->rs.fails);
    snprintf(starget, sizeof(starget), "%ld", s->c->pool_idle_target);
    snprintf(smax, sizeof(smax), "%ld", s->c->pool_max_workers);
    if (state == NULL)
        state = s->rs.degraded ? "degraded" : "ok";
    if (store_pool_report(&s->redis, s->c->key_prefix, s->c->node_name, state,
                          s->rs.degraded ? s->fail_reason : "",
                          (int)(sizeof(fields) / sizeof(fields[0])),
                          fields) < 0)
        redis_failed(s, "writing the pool state");
    else
        redis_worked(s);
}

/* ---- spawning and /health ----------------------------------------------- */

static void probe_start(struct spawner *s, struct worker *w, int64_t now)
{
    long left = s->c->worker_start_timeout_ms - (long)(now - w->spawn_ms);
    long total = left < PROBE_TOTAL_MS ? left : PROBE_TOTAL_MS;
    struct start_probe *sp;

    if (total < 10)
        total = 10;
    sp = calloc(1, sizeof(*sp));
    if (sp == NULL)
        return;
    sp->w = w;
    sp->p.host = s->c->worker_host;
    sp->p.port = w->port;
    sp->p.path = "/health";
    sp->easy =
        probe_add(s->multi, "GET", &sp->p,
                  total < PROBE_CONNECT_MS ? total : PROBE_CONNECT_MS, total);
    if (sp->easy == NULL) {
        free(sp);
        return;
    }
    w->probe = sp;
}

static void worker_ready(struct spawner *s, struct worker *w, int64_t now)
{
    int rc = store_worker_ready(&s->redis, s->c->key_prefix, w->sid);

    if (rc < 0) {
        redis_failed(s, "registering a worker idle");
        w->next_probe_ms = now + PROBE_RETRY_MS;
        return;
    }
    redis_worked(s);
    w->state = W_RUNNING;
    w->ready_ms = now;
    w->rstate = rc == 1 ? WORKER_IDLE : w->rstate;
    log_debug("worker %s (pid %ld, port %d): ready after %ld ms", w->sid,
              w->pid, w->port, (long)(now - w->spawn_ms));
    if (s->view_due_ms > s->last_view_ms + VIEW_GAP_MS)
        s->view_due_ms = s->last_view_ms + VIEW_GAP_MS;
}

/* Collects finished /health requests. */
static void probes_collect(struct spawner *s, int64_t now)
{
    CURLMsg *msg;
    int running, left;

    curl_multi_perform(s->multi, &running);
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        struct start_probe *sp;
        struct worker *w;
        int ok;

        if (msg->msg != CURLMSG_DONE)
            continue;
        /* p is sp's first member. */
        sp = (struct start_probe *)probe_done(s->multi, msg);
        if (sp == NULL)
            continue;
        w = sp->w;
        ok = sp->p.result == WHTTP_OK && sp->p.status >= 200 &&
             sp->p.status < 300;
        free(sp);
        w->probe = NULL;
        if (w->state != W_STARTING)
            continue;
        if (ok)
            worker_ready(s, w, now);
        else
            w->next_probe_ms = now + PROBE_RETRY_MS;
    }
}

/* Starts one worker.  Returns 0, or -1 when it could not (logged). */
static int spawn_one(struct spawner *s, int64_t now)
{
    const struct conf *c = s->c;
    char lpath[CONF_STR_MAX + 32], id[WORKER_ID_MAX];
    struct launch_spec spec;
    struct launch_child ch;
    struct worker *w;
    unsigned long long pstart = 0;
    int port;

    port = port_pick(&s->ports, now, port_is_free, s);
    if (port < 0) {
        if (!s->ports_logged)
            log_warnx("no free port left in worker_port_range %ld-%ld",
                      c->worker_port_min, c->worker_port_max);
        s->ports_logged = 1;
        return -1;
    }
    s->ports_logged = 0;
    if (log_path(s, port, lpath, sizeof(lpath)) < 0) {
        log_warnx("worker_log_dir %s is too long", c->worker_log_dir);
        port_release(&s->ports, port);
        return -1;
    }
    log_trim(s, port);
    memset(&spec, 0, sizeof(spec));
    spec.bin = c->worker_bin;
    spec.log_path = lpath;
    spec.nofile = c->worker_nofile;
    spec.nofile_inherit = s->nofile_inherit;
    spec.memory_mb = c->worker_memory_mb;
    spec.port = port;
    spec.node = c->node_name;
    spec.prefix = c->key_prefix;
    if (launch_worker(&spec, &ch) < 0) {
        port_release(&s->ports, port);
        return -1;
    }
    if (proc_start_time(ch.pid, &pstart) < 0)
        pstart = 0;
    /* Above every id we hold: a counter that went back must not hand us
     * the id of a worker we are still stopping. */
    if (store_worker_add(&s->redis, c->key_prefix, c->node_name, c->worker_host,
                         port, (long)ch.pid, pstart, s->rs.fails,
                         table_max_id(s), id) < 0) {
        redis_failed(s, "registering a new worker");
        /* Without its id the child exits 127 on its own once id_fd is
         * closed, should the kill find nothing. */
        proc_kill((long)ch.pid, pstart, -1, SIGKILL);
        close(ch.id_fd);
        close(ch.err_fd);
        while (waitpid(ch.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        port_release(&s->ports, port);
        return -1;
    }
    redis_worked(s);
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        /* The child still runs and is registered: it gets its id so the
         * reaper can match it, and the table simply does not know it. */
        log_warnx("worker %s (pid %ld, port %d): out of memory", id,
                  (long)ch.pid, port);
        launch_send_id(&ch, id);
        close(ch.err_fd);
        return -1;
    }
    snprintf(w->sid, sizeof(w->sid), "%s", id);
    w->id = strtol(id, NULL, 10);
    w->pid = ch.pid;
    w->pstart = pstart;
    w->port = port;
    w->child = 1;
    w->state = W_STARTING;
    w->spawn_ms = now;
    w->next_probe_ms = now + PROBE_FIRST_MS;
    w->add_seq = s->seq;
    w->rstate = WORKER_STARTING;
    w->pidfd = -1;
    w->err_fd = ch.err_fd;
    if (table_insert(s, w) < 0) {
        log_warnx("worker %s (pid %ld, port %d): out of memory", id,
                  (long)ch.pid, port);
        launch_send_id(&ch, id);
        close(ch.err_fd);
        free(w);
        return -1;
    }
    launch_send_id(&ch, id);
    watch_fd(s, w, w->err_fd, EV_ERRFD);
    watch_pid(s, w);
    log_debug("worker %s (pid %ld, port %d): spawned", w->sid, w->pid, w->port);
    return 0;
}

/* ---- exits -------------------------------------------------------------- */

static void read_setup_report(struct spawner *s, struct worker *w)
{
    char lpath[CONF_STR_MAX + 32];
    int rc;

    if (w->err_fd < 0)
        return;
    if (log_path(s, w->port, lpath, sizeof(lpath)) < 0)
        lpath[0] = '\0';
    rc = launch_setup_error(w->err_fd, s->c->worker_bin, lpath, w->reason,
                            sizeof(w->reason), &w->fatal);
    if (rc < 0)
        return;
    unwatch_close(s, &w->err_fd);
}

/* Reads what the epoll set has ready: exits and setup reports.  The fds
 * are level-triggered and a pidfd stays readable until the worker is
 * handled, so one call with room for two events per worker sees them
 * all; calling again before handling them would only repeat them. */
static void events_collect(struct spawner *s)
{
    size_t want = 2 * s->n + EVENTS_MAX;
    int n, i;

    if (s->evcap < want) {
        struct epoll_event *ev = realloc(s->ev, want * sizeof(*ev));

        if (ev != NULL) {
            s->ev = ev;
            s->evcap = want;
        }
    }
    if (s->ev == NULL)
        return;
    n = epoll_wait(s->epfd, s->ev, (int)s->evcap, 0);
    for (i = 0; i < n; i++) {
        struct worker *w = table_by_serial(s, s->ev[i].data.u64 >> 1);

        if (w == NULL)
            continue;
        if ((s->ev[i].data.u64 & 1) == EV_ERRFD)
            read_setup_report(s, w);
        else
            w->exited = 1;
    }
}

static void children_reap(struct spawner *s)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct worker *w = table_by_pid(s, (long)pid);

        if (w == NULL || !w->child || w->has_status)
            continue;
        w->status = status;
        w->has_status = 1;
        w->exited = 1;
    }
}

/* Describes why w ended, for the log and the Redis record. */
static void exit_reason(const struct spawner *s, const struct worker *w,
                        char *out, size_t size)
{
    char st[64];

    if (w->has_status)
        launch_status_str(w->status, st, sizeof(st));
    else
        snprintf(st, sizeof(st), "exited (not our child: status unknown)");
    if (w->reason[0] != '\0')
        snprintf(out, size, "%s", w->reason);
    else if (w->stop_why == STOP_START_TIMEOUT)
        snprintf(out, size, "no answer to /health within %ld ms; %s",
                 s->c->worker_start_timeout_ms, st);
    else if (w->stop_why == STOP_DEAD || w->stop_why == STOP_DRAIN)
        snprintf(out, size, "marked dead in redis (%s); %s",
                 w->dead_reason[0] != '\0' ? w->dead_reason : "no reason", st);
    else if (w->stop_why == STOP_VANISHED)
        snprintf(out, size, "its redis record disappeared; %s", st);
    else if (w->stop_why == STOP_RETIRE)
        snprintf(out, size, "retired; %s", st);
    else if (w->stop_why == STOP_SHUTDOWN)
        snprintf(out, size, "stopped; %s", st);
    else if (w->ready_ms == 0)
        snprintf(out, size, "%s before answering /health", st);
    else
        snprintf(out, size, "%s", st);
}

/* Stops that were asked for are no failures, whatever the age. */
static int stop_requested(const struct worker *w)
{
    return w->stop_why == STOP_RETIRE || w->stop_why == STOP_SHUTDOWN ||
           w->stop_why == STOP_DRAIN || w->stop_why == STOP_VANISHED;
}

/* Live workers that answered /health and may yet make a healthy start. */
static long pending_count(const struct spawner *s)
{
    long n = 0;
    size_t i;

    for (i = 0; i < s->n; i++)
        n += s->w[i]->state == W_RUNNING && !s->w[i]->exited &&
             !s->w[i]->healthy;
    return n;
}

/* Counts w's end (why) for the restart policy, once per worker, when it
 * was a start failure (pool.h). */
static void failure_count(struct spawner *s, struct worker *w, const char *why,
                          int64_t now)
{
    struct restart_facts f;
    enum restart_end end;
    long ran = w->ready_ms != 0 ? (long)(now - w->ready_ms) : 0;

    if (w->counted)
        return;
    w->counted = 1;
    memset(&f, 0, sizeof(f));
    f.requested = stop_requested(w);
    f.fatal = w->fatal;
    f.ready = w->ready_ms != 0;
    f.healthy = w->healthy;
    f.ran_ms = ran;
    f.marked_dead = w->stop_why == STOP_DEAD;
    f.has_status = w->has_status;
    f.status = w->status;
    end = restart_classify(&f);
    if (end == RESTART_END_NONE)
        return;
    /* A setup report names the file already; other reasons get the
     * binary in front, and a death after /health its age. */
    if (w->reason[0] != '\0')
        snprintf(s->fail_reason, sizeof(s->fail_reason), "%s", why);
    else if (f.ready)
        snprintf(s->fail_reason, sizeof(s->fail_reason),
                 "%.150s: %.120s %ld ms after answering /health",
                 s->c->worker_bin, why, ran);
    else
        snprintf(s->fail_reason, sizeof(s->fail_reason), "%.150s: %.160s",
                 s->c->worker_bin, why);
    if (restart_failed(&s->rs, s->c->restart_backoff_min_ms,
                       s->c->restart_backoff_max_ms, now, spawner_random(s),
                       end == RESTART_END_FATAL, pending_count(s))) {
        log_warnx("pool degraded: %s (start failures in a row: %ld); "
                  "retrying one worker at a time every %ld ms",
                  s->fail_reason, s->rs.fails, (long)(s->rs.next_ms - now));
        pool_report(s, NULL);
    }
}

/* The process of w is gone: log it, count a failure, remove its record.
 * Returns 1 when w was removed from the table (and freed), 0 when it stays
 * as GONE until Redis answers. */
static int worker_exited(struct spawner *s, struct worker *w, int64_t now)
{
    char why[320];
    int requested = stop_requested(w), was_degraded = s->rs.degraded;
    int rc;

    read_setup_report(s, w);
    start_probe_cancel(s, w);
    worker_close_fds(s, w);
    exit_reason(s, w, why, sizeof(why));
    if (w->ready_ms == 0)
        port_cool(&s->ports, w->port, now + POOL_PORT_COOL_MS);
    port_release(&s->ports, w->port);

    if (w->stop_why == STOP_SHUTDOWN || (!requested && was_degraded))
        log_debug("worker %s (pid %ld, port %d): %s", w->sid, w->pid, w->port,
                  why);
    else
        log_info("worker %s (pid %ld, port %d): %s", w->sid, w->pid, w->port,
                 why);
    failure_count(s, w, why, now);

    rc = store_worker_gone(&s->redis, s->c->key_prefix, w->sid, s->c->node_name,
                           w->pid, why, NULL);
    if (rc < 0) {
        /* Its pid stays for the retry's check; table_by_pid() skips it. */
        redis_failed(s, "removing a worker that exited");
        w->state = W_GONE;
        return 0;
    }
    redis_worked(s);
    table_remove(s, w);
    return 1;
}

static void exits_handle(struct spawner *s, int64_t now)
{
    size_t i = 0;

    while (i < s->n) {
        struct worker *w = s->w[i];

        if (w->state == W_GONE || !w->exited) {
            i++;
            continue;
        }
        if (w->child && !w->has_status) {
            int status;
            pid_t r = waitpid((pid_t)w->pid, &status, WNOHANG);

            if (r == 0) {
                i++;
                continue;
            }
            if (r == (pid_t)w->pid) {
                w->status = status;
                w->has_status = 1;
            }
        }
        if (worker_exited(s, w, now) == 0)
            i++;
        if (s->view_due_ms > s->last_view_ms + VIEW_GAP_MS)
            s->view_due_ms = s->last_view_ms + VIEW_GAP_MS;
    }
}

/* Records whose removal failed while Redis was unreachable. */
static void gone_retry(struct spawner *s)
{
    size_t i = 0;

    while (i < s->n) {
        struct worker *w = s->w[i];
        int rc;

        if (w->state != W_GONE) {
            i++;
            continue;
        }
        rc = store_worker_gone(&s->redis, s->c->key_prefix, w->sid,
                               s->c->node_name, w->pid, "exited", NULL);
        if (rc < 0) {
            redis_failed(s, "removing a worker that exited");
            return;
        }
        redis_worked(s);
        table_remove(s, w);
    }
}

/* Start timeouts, SIGKILL deadlines, adopted workers without a pidfd. */
static void timeouts_check(struct spawner *s, int64_t now)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct worker *w = s->w[i];

        if (w->state == W_GONE || w->exited)
            continue;
        if (!w->child && w->pidfd < 0 && !proc_alive(w->pid, w->pstart)) {
            w->exited = 1;
            continue;
        }
        if (w->state == W_STARTING &&
            now - w->spawn_ms >= s->c->worker_start_timeout_ms) {
            char why[128];

            /* Counted now, so that the refill already waits. */
            worker_stop(s, w, STOP_START_TIMEOUT, SIGKILL, now);
            snprintf(why, sizeof(why), "no answer to /health within %ld ms",
                     s->c->worker_start_timeout_ms);
            failure_count(s, w, why, now);
        } else if (w->state == W_STOPPING && now >= w->kill_at_ms) {
            worker_signal(w, SIGKILL);
            w->kill_at_ms = now + KILL_REPEAT_MS;
        }
    }
}

/* ---- the Redis view and the pool decision ------------------------------- */

/* Reads the pool and acts on workers others marked dead or removed.
 * Returns 0, or -1 when Redis did not answer. */
static int view_apply(struct spawner *s, int64_t now)
{
    struct pool_view v;
    size_t i;
    unsigned long seq = ++s->seq;

    s->last_view_ms = now;
    if (store_pool_view(&s->redis, s->c->key_prefix, s->c->node_name, &v) < 0) {
        redis_failed(s, "reading the pool");
        return -1;
    }
    redis_worked(s);
    s->waiting = v.waiting;
    s->redis_now_ms = v.now_ms;
    for (i = 0; i < v.n; i++) {
        struct worker *w = table_get(s, strtol(v.entries[i].id, NULL, 10));

        if (w == NULL)
            continue; /* not ours to judge: the reaper reconciles it */
        w->seen_seq = seq;
        w->rstate = v.entries[i].state;
        w->rsince_ms = v.entries[i].since_ms;
        if (w->rstate == WORKER_DEAD &&
            (w->state == W_STARTING || w->state == W_RUNNING)) {
            const char *why = v.entries[i].reason;
            int drain = strncmp(why, DRAIN_PREFIX, strlen(DRAIN_PREFIX)) == 0;

            snprintf(w->dead_reason, sizeof(w->dead_reason), "%s", why);
            log_info("worker %s (pid %ld, port %d): marked dead in redis "
                     "(%s); killing it",
                     w->sid, w->pid, w->port,
                     why[0] != '\0' ? why : "no reason");
            worker_stop(s, w, drain ? STOP_DRAIN : STOP_DEAD, SIGKILL, now);
        }
    }
    store_pool_view_release(&v);
    for (i = 0; i < s->n; i++) {
        struct worker *w = s->w[i];

        if ((w->state == W_STARTING || w->state == W_RUNNING) && !w->exited &&
            w->add_seq < seq && w->seen_seq != seq) {
            log_warnx("worker %s (pid %ld, port %d): its redis record "
                      "disappeared; killing it",
                      w->sid, w->pid, w->port);
            worker_stop(s, w, STOP_VANISHED, SIGKILL, now);
        }
    }
    return 0;
}

static int by_idle_since(const void *a, const void *b)
{
    const struct worker *x = *(struct worker *const *)a;
    const struct worker *y = *(struct worker *const *)b;

    return (x->rsince_ms > y->rsince_ms) - (x->rsince_ms < y->rsince_ms);
}

static int worker_is_idle(const struct spawner *s, const struct worker *w)
{
    return w->state == W_RUNNING && !w->exited && w->rstate == WORKER_IDLE &&
           w->seen_seq == s->seq;
}

/* Stops up to count idle workers, longest idle first. */
static void retire_idle(struct spawner *s, long count, int64_t now)
{
    struct worker **cand;
    size_t i, m = 0;

    cand = malloc((s->n + 1) * sizeof(*cand));
    if (cand == NULL)
        return;
    for (i = 0; i < s->n; i++) {
        if (worker_is_idle(s, s->w[i]))
            cand[m++] = s->w[i];
    }
    qsort(cand, m, sizeof(*cand), by_idle_since);
    for (i = 0; i < m && count > 0; i++) {
        struct worker *w = cand[i];
        int rc = store_retire(&s->redis, s->c->key_prefix, w->sid,
                              "retired: idle above pool_idle_target");

        if (rc < 0) {
            redis_failed(s, "retiring an idle worker");
            break;
        }
        if (rc == 0)
            continue; /* claimed meanwhile */
        w->rstate = WORKER_DEAD;
        log_info("worker %s (pid %ld, port %d): idle %lld ms above the "
                 "target; stopping it",
                 w->sid, w->pid, w->port,
                 (long long)(s->redis_now_ms - w->rsince_ms));
        worker_stop(s, w, STOP_RETIRE, SIGTERM, now);
        count--;
    }
    free(cand);
}

static void plan_apply(struct spawner *s, int64_t now)
{
    struct pool_counts pc;
    struct pool_plan plan;
    long grace_ms = s->c->pool_idle_grace * 1000, allowed, trial = 0, i;
    size_t k;

    memset(&pc, 0, sizeof(pc));
    for (k = 0; k < s->n; k++) {
        const struct worker *w = s->w[k];

        if (w->state == W_GONE)
            continue;
        pc.total++;
        if (w->state == W_STARTING)
            pc.starting++;
        if (w->state == W_STARTING || (w->state == W_RUNNING && !w->healthy))
            trial++;
        if (worker_is_idle(s, w)) {
            pc.idle++;
            if (s->redis_now_ms - w->rsince_ms >= grace_ms)
                pc.idle_expired++;
        }
    }
    pc.waiting = s->waiting;
    pc.idle_target = s->c->pool_idle_target;
    pc.max_workers = s->c->pool_max_workers;
    pool_decide(&pc, &plan);
    allowed = restart_allowed(&s->rs, now, trial, plan.spawn);
    for (i = 0; i < allowed; i++) {
        if (spawn_one(s, now) < 0)
            break;
    }
    if (plan.retire > 0)
        retire_idle(s, plan.retire, now);
}

/* Workers that answered /health and ran POOL_HEALTHY_MS since made a
 * healthy start: the start failure count goes back to 0. */
static void healthy_check(struct spawner *s, int64_t now)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct worker *w = s->w[i];
        long fails = s->rs.fails;

        if (w->state != W_RUNNING || w->exited || w->healthy ||
            now - w->ready_ms < POOL_HEALTHY_MS)
            continue;
        w->healthy = 1;
        if (restart_healthy(&s->rs)) {
            log_info("pool ok again: worker %s (pid %ld, port %d) answered "
                     "/health and ran %d ms",
                     w->sid, w->pid, w->port, POOL_HEALTHY_MS);
            pool_report(s, NULL);
        } else if (fails > 0) {
            log_debug("worker %s made a healthy start: start failure count "
                      "reset",
                      w->sid);
        }
    }
}

static void probes_start(struct spawner *s, int64_t now)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct worker *w = s->w[i];

        if (w->state == W_STARTING && !w->exited && w->probe == NULL &&
            now >= w->next_probe_ms)
            probe_start(s, w, now);
    }
}

static void housekeep(struct spawner *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->w[i]->state != W_GONE)
            log_trim(s, s->w[i]->port);
    }
    pool_report(s, NULL);
}

/* ---- adoption at start -------------------------------------------------- */

/* Kills what is left of a worker we cannot vouch for and removes its
 * record.  Returns 0, or -1 when Redis failed. */
static int adopt_drop(struct spawner *s, const struct worker_rec *r,
                      const char *why)
{
    proc_kill(r->pid, r->pstart, -1, SIGKILL);
    if (store_worker_gone(&s->redis, s->c->key_prefix, r->id, s->c->node_name,
                          r->pid, why, NULL) < 0) {
        redis_failed(s, "removing a worker record");
        return -1;
    }
    log_info("worker %s (pid %ld, port %d): not adopted: %s; removed", r->id,
             r->pid, r->port, why);
    return 0;
}

static int adopt_one(struct spawner *s, const struct worker_rec *r, int64_t now)
{
    struct worker *w = calloc(1, sizeof(*w));
    int64_t age = r->now_ms - r->started_ms;

    if (w == NULL) {
        log_warnx("adopting workers: out of memory");
        return -1;
    }
    snprintf(w->sid, sizeof(w->sid), "%s", r->id);
    w->id = strtol(r->id, NULL, 10);
    w->pid = r->pid;
    w->pstart = r->pstart;
    w->port = r->port;
    w->child = 0;
    w->state = W_RUNNING;
    w->spawn_ms = now - (age > 0 ? age : 0);
    w->ready_ms = w->spawn_ms;
    w->healthy = 1;
    w->add_seq = s->seq;
    w->rstate = r->state;
    w->rsince_ms = r->since_ms;
    w->pidfd = -1;
    w->err_fd = -1;
    if (table_insert(s, w) < 0) {
        free(w);
        log_warnx("adopting workers: out of memory");
        return -1;
    }
    port_take(&s->ports, w->port);
    watch_pid(s, w);
    if (r->state == WORKER_STARTING &&
        store_worker_ready(&s->redis, s->c->key_prefix, w->sid) == 1)
        w->rstate = WORKER_IDLE;
    log_debug("worker %s (pid %ld, port %d): adopted (%s)", w->sid, w->pid,
              w->port, worker_state_name(r->state));
    return 0;
}

/* Why the record r cannot be adopted as it stands, or NULL when its
 * process may be it (then /health decides). */
static const char *adopt_refusal(const struct worker_rec *r)
{
    struct proc_stat st;

    if (r->state == WORKER_DEAD)
        return "marked dead";
    if (proc_stat_read(r->pid, &st) < 0 ||
        (st.start == r->pstart && (st.state == 'Z' || st.state == 'X')))
        return "its process is gone";
    if (st.start != r->pstart || r->pid <= 1)
        return "its pid belongs to another process";
    if (st.pgid != r->pid)
        return "it does not lead its process group";
    return NULL;
}

struct orphan_scan {
    struct spawner *s;
    int killed;
};

static void orphan_found(const struct proc_worker *pw, void *arg)
{
    struct orphan_scan *o = arg;

    if (pw->pid == (long)getppid() || table_by_pid(o->s, pw->pid) != NULL ||
        (pw->pgid > 0 && table_by_pid(o->s, pw->pgid) != NULL))
        return; /* an adopted worker, or a process a worker started */
    proc_kill(pw->pid, pw->pstart, -1, SIGKILL);
    o->killed++;
    log_info("process %ld: a worker of node %s that redis does not know; "
             "killed",
             pw->pid, o->s->c->node_name);
}

/* Kills the worker processes of this node that the table does not hold.
 * Returns how many. */
static int adopt_orphans(struct spawner *s)
{
    struct orphan_scan o = {s, 0};
    struct proc_node pn;

    if (proc_node_init(&pn, s->c->key_prefix, s->c->node_name) < 0)
        return 0;
    proc_node_scan(&pn, orphan_found, &o);
    proc_node_release(&pn);
    return o.killed;
}

/* Takes over the workers Redis knows for this node that are alive and
 * answer /health; removes the others; kills our processes Redis does not
 * know.  Returns 0, or -1 when Redis failed (tried again later). */
static int adopt(struct spawner *s, int64_t now)
{
    struct worker_rec *recs = NULL;
    struct probe *probes = NULL;
    size_t n = 0, m = 0, i, kept = 0, dropped = 0;
    size_t *idx = NULL;
    int rc = -1, killed;

    if (store_workers(&s->redis, s->c->key_prefix, s->c->node_name, &recs, &n) <
        0) {
        redis_failed(s, "reading the workers of this node");
        return -1;
    }
    redis_worked(s);
    probes = calloc(n + 1, sizeof(*probes));
    idx = calloc(n + 1, sizeof(*idx));
    if (probes == NULL || idx == NULL) {
        log_warnx("adopting workers: out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct worker_rec *r = &recs[i];
        const char *why = adopt_refusal(r);

        if (why != NULL) {
            if (adopt_drop(s, r, why) < 0)
                goto out;
            dropped++;
            continue;
        }
        probes[m].host = r->host;
        probes[m].port = r->port;
        probes[m].path = "/health";
        idx[m++] = i;
    }
    probe_run(probes, m, s->c->worker_connect_timeout_ms,
              s->c->probe_timeout_ms, ADOPT_PARALLEL);
    for (i = 0; i < m; i++) {
        const struct worker_rec *r = &recs[idx[i]];

        if (probes[i].result == WHTTP_OK && probes[i].status >= 200 &&
            probes[i].status < 300) {
            if (adopt_one(s, r, now) < 0)
                goto out;
            kept++;
        } else {
            char why[128];

            snprintf(why, sizeof(why), "no answer to /health (%s)",
                     probes[i].result == WHTTP_OK
                         ? "bad status"
                         : whttp_result_str(probes[i].result));
            if (adopt_drop(s, r, why) < 0)
                goto out;
            dropped++;
        }
    }
    killed = adopt_orphans(s);
    s->adopted = 1;
    log_info("node %s: adopted %zu workers, removed %zu records, killed %d "
             "unknown processes",
             s->c->node_name, kept, dropped, killed);
    rc = 0;
out:
    free(recs);
    free(probes);
    free(idx);
    return rc;
}

/* ---- configuration reload ----------------------------------------------- */

static void reload(struct spawner *s, int64_t now)
{
    struct conf *old = malloc(sizeof(*old));
    struct conf *c = s->c;

    if (old == NULL) {
        log_warnx("reload: out of memory; keeping the old configuration");
        return;
    }
    memcpy(old, c, sizeof(*old));
    if (prog_reload(s->prog) < 0) {
        free(old);
        return;
    }
    if (strcmp(old->redis, c->redis) != 0 ||
        strcmp(old->redis_password, c->redis_password) != 0 ||
        old->redis_timeout_ms != c->redis_timeout_ms ||
        strcmp(old->key_prefix, c->key_prefix) != 0 ||
        strcmp(old->node_name, c->node_name) != 0) {
        log_warnx("reload: redis, redis_password, redis_timeout_ms, "
                  "key_prefix and node_name change only with a restart; "
                  "keeping their old values");
        memcpy(c->redis, old->redis, sizeof(c->redis));
        memcpy(c->redis_password, old->redis_password,
               sizeof(c->redis_password));
        c->redis_timeout_ms = old->redis_timeout_ms;
        memcpy(c->key_prefix, old->key_prefix, sizeof(c->key_prefix));
        memcpy(c->node_name, old->node_name, sizeof(c->node_name));
    }
    free(old);
    port_map_range(&s->ports, (int)c->worker_port_min, (int)c->worker_port_max);
    if (mkdir_p(c->worker_log_dir) < 0)
        log_warn("cannot create worker_log_dir %s", c->worker_log_dir);
    if (s->rs.degraded)
        s->rs.next_ms = 0; /* the operator may have fixed it: try now */
    s->ports_logged = 0;
    s->view_due_ms = now;
    log_info("pool: idle target %ld, at most %ld workers, idle grace %ld s",
             c->pool_idle_target, c->pool_max_workers, c->pool_idle_grace);
}

/* ---- start, loop, stop -------------------------------------------------- */

struct spawner *spawner_new(struct prog *p)
{
    struct spawner *s = calloc(1, sizeof(*s));
    struct rlimit rl;
    int fd;

    if (s == NULL) {
        log_warnx("out of memory");
        return NULL;
    }
    s->prog = p;
    s->c = &p->conf;
    s->epfd = -1;
    restart_init(&s->rs);
    /* Children inherit 0-2 only through the log file; keep them taken so
     * no pipe ever lands there. */
    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) {
            log_warn("/dev/null");
            goto fail;
        }
    }
    if (getrandom(&s->rnd, sizeof(s->rnd), 0) != sizeof(s->rnd) || s->rnd == 0)
        s->rnd = (uint32_t)getpid() * 2654435761u + 1;
    /* A pidfd per worker and connections while they start: raise our
     * own limit; workers get worker_nofile or the limit we started with. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        s->nofile_inherit = (long)rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("raising the open-file limit");
    }
    if (port_map_init(&s->ports, (int)s->c->worker_port_min,
                      (int)s->c->worker_port_max) < 0) {
        log_warnx("out of memory");
        goto fail;
    }
    rconn_init(&s->redis, s->c);
    s->multi = curl_multi_init();
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->multi == NULL || s->epfd < 0) {
        log_warn("cannot set up the event loop");
        goto fail;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, 16L);
    if (mkdir_p(s->c->worker_log_dir) < 0)
        log_warn("cannot create worker_log_dir %s", s->c->worker_log_dir);
    return s;
fail:
    spawner_free(s);
    return NULL;
}

void spawner_free(struct spawner *s)
{
    if (s == NULL)
        return;
    while (s->n > 0)
        table_remove(s, s->w[s->n - 1]);
    free(s->w);
    free(s->ev);
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    if (s->epfd >= 0)
        close(s->epfd);
    rconn_release(&s->redis);
    port_map_release(&s->ports);
    free(s);
}

static size_t live_count(const struct spawner *s)
{
    size_t i, live = 0;

    for (i = 0; i < s->n; i++) {
        if (s->w[i]->state != W_GONE)
            live++;
    }
    return live;
}

/* Waits up to ms for an exit or a setup report. */
static void wait_events(struct spawner *s, long ms)
{
    struct curl_waitfd wfd;
    int numfds;

    if (ms < 0)
        ms = 0;
    wfd.fd = s->epfd;
    wfd.events = CURL_WAIT_POLLIN;
    wfd.revents = 0;
    curl_multi_poll(s->multi, &wfd, 1, (int)ms, &numfds);
}

/* SIGTERM: no more spawns; every worker out of Redis' idle list, then
 * SIGTERM to each group, SIGKILL to what is left after STOP_GRACE_MS, and
 * every record removed. */
static void shutdown_workers(struct spawner *s)
{
    int64_t now = now_mono_ms(), end;
    size_t i, total = live_count(s);
    int redis_ok = 1;

    s->stopping = 1;
    log_info("stopping %zu workers", total);
    for (i = 0; i < s->n; i++) {
        struct worker *w = s->w[i];

        if (w->state == W_GONE || w->exited)
            continue;
        /* Out of P:idle first: no create is handed a stopping worker. */
        if (redis_ok && store_mark_dead_of(&s->redis, s->c->key_prefix, w->sid,
                                           s->c->node_name, w->pid,
                                           "spawner stopping", NULL) < 0) {
            redis_failed(s, "marking workers dead");
            redis_ok = 0;
        }
        worker_stop(s, w, STOP_SHUTDOWN, SIGTERM, now);
    }
    end = now + STOP_GRACE_MS + KILL_WAIT_MS;
    while (live_count(s) > 0 && now < end) {
        wait_events(s, 50);
        now = now_mono_ms();
        events_collect(s);
        children_reap(s);
        exits_handle(s, now);
        timeouts_check(s, now);
    }
    gone_retry(s);
    if (live_count(s) > 0)
        log_warnx("%zu workers did not exit after SIGKILL", live_count(s));
    pool_report(s, "stopped");
    log_info("stopped %zu workers", total - live_count(s));
}

int spawner_run(struct spawner *s)
{
    log_info("node %s: pool idle target %ld, at most %ld workers, ports "
             "%ld-%ld, worker %s",
             s->c->node_name, s->c->pool_idle_target, s->c->pool_max_workers,
             s->c->worker_port_min, s->c->worker_port_max, s->c->worker_bin);
    while (!prog_got_term) {
        int64_t now = now_mono_ms(), due;
        size_t i;

        if (prog_got_hup) {
            prog_got_hup = 0;
            reload(s, now);
        }
        prog_got_chld = 0;
        events_collect(s);
        children_reap(s);
        probes_collect(s, now);
        exits_handle(s, now);
        healthy_check(s, now);
        if (!s->adopted && now >= s->adopt_due_ms) {
            if (adopt(s, now) < 0)
                s->adopt_due_ms = now + ADOPT_RETRY_MS;
            s->view_due_ms = now;
        }
        timeouts_check(s, now);
        if (s->adopted && now >= s->view_due_ms) {
            if (view_apply(s, now) == 0)
                plan_apply(s, now);
            s->view_due_ms = now + VIEW_MS;
        }
        gone_retry(s);
        probes_start(s, now);
        if (s->adopted && now >= s->housekeep_due_ms) {
            housekeep(s);
            s->housekeep_due_ms = now + HOUSEKEEP_MS;
        }

        due = now + TICK_MS;
        if (s->adopted && s->view_due_ms < due)
            due = s->view_due_ms;
        for (i = 0; i < s->n; i++) {
            const struct worker *w = s->w[i];

            if (w->state == W_STARTING && w->probe == NULL &&
                w->next_probe_ms < due)
                due = w->next_probe_ms;
        }
        if (!prog_got_term && !prog_got_hup)
            wait_events(s, (long)(due - now_mono_ms()));
    }
    shutdown_workers(s);
    return 0;
}
