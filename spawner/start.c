/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * start.c - starting workers: a port, a log file, fork and exec
 * (launch.c), the Redis record, then GET /health until it answers
 * (internal.h has the states and their transitions).
 *
 * Invariants: a worker is registered in Redis before it learns its id, so
 * the reaper can always match a running worker to its record; the new id
 * is above every id the table holds (store_worker_add's floor), so a
 * counter that went back never hands out the id of a worker we are still
 * stopping; at most one /health request per worker is in flight, and it
 * runs on the loop's multi handle with the options of every other worker
 * probe (common/whttp.c).
 *
 * Worker logs: each worker's stdout and stderr are appended to
 * <worker_log_dir>/worker-<port>.log (wlog.c trims them).
 *
 * Worker slots (worker_uid_range, common/privsep.h): each new worker
 * takes the uid of a slot that no worker of the table holds, the least
 * recently used first, and that slot's home <worker_home_dir>/<uid>,
 * which is made here (ours, 0700, with an ACL that lets that uid in and
 * no one else, in a directory only we write).  When a worker ended and
 * its cgroup was killed, a child as the slot's uid empties the home
 * (start_slot_end, launch_cleaner) and the slot waits for it; the next
 * worker's child empties it again before exec (launch.c), for a spawner
 * that died in between.  A slot is held from the spawn until its worker
 * has exited and its cgroup was killed (GONE, or out of the table), so a
 * uid never runs two workers.
 *
 * It owns s->start, the ports: exit.c gives a port back and adopt.c
 * takes one through start_port_release() and start_port_take().  The
 * /health requests run on the table's multi handle (table.c cancels
 * them when a worker stops or leaves).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "launch.h"
#include "log.h"
#include "portown.h"
#include "proc.h"
#include "util.h"

#define PROBE_FIRST_MS   20  /* first /health try after the spawn */
#define PROBE_RETRY_MS   50  /* between /health tries */
#define PROBE_CONNECT_MS 200 /* deadline of one /health connect */
#define PROBE_TOTAL_MS   500 /* deadline of one /health request */

#define CLEANER_WAIT_MS 2000 /* at shutdown, for the slots' homes */

/* 1 when the process of pidfd fd has exited within ms milliseconds. */
static int pidfd_exited(int fd, int ms)
{
    struct pollfd p;

    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, ms) == 1;
}

/* ---- ports -------------------------------------------------------------- */

int start_init(struct spawner *s)
{
    const struct privsep *ps = &s->loop.ps;
    size_t i, n = ps->slots ? (size_t)(ps->uid_hi - ps->uid_lo) + 1 : 0;

    s->start.held = calloc(65536, 1);
    if (ps->slots) {
        s->start.slots = calloc(n, 1);
        s->start.cleaner = calloc(n, sizeof(*s->start.cleaner));
        s->start.cleaner_pid = calloc(n, sizeof(*s->start.cleaner_pid));
        for (i = 0; s->start.cleaner != NULL && i < n; i++)
            s->start.cleaner[i] = -1;
        if (s->start.slots == NULL || s->start.cleaner == NULL ||
            s->start.cleaner_pid == NULL) {
            log_warnx("out of memory");
            return -1;
        }
    }
    if (s->start.held == NULL ||
        port_map_init(&s->start.ports, (int)s->c->worker_port_min,
                      (int)s->c->worker_port_max) < 0) {
        log_warnx("out of memory");
        return -1;
    }
    return 0;
}

void start_reload(struct spawner *s)
{
    port_map_range(&s->start.ports, (int)s->c->worker_port_min,
                   (int)s->c->worker_port_max);
    s->start.ports_logged = 0;
}

void start_release(struct spawner *s)
{
    const struct privsep *ps = &s->loop.ps;
    size_t i, n = ps->slots ? (size_t)(ps->uid_hi - ps->uid_lo) + 1 : 0;
    int64_t t0 = now_mono_ms();

    port_map_release(&s->start.ports);
    free(s->start.held);
    s->start.held = NULL;
    free(s->start.slots);
    s->start.slots = NULL;
    /* The homes of the workers just stopped get CLEANER_WAIT_MS in all;
     * a cleaner still at work then stops (the slot's next worker empties
     * its home anyway). */
    for (i = 0; s->start.cleaner != NULL && i < n; i++) {
        int64_t left = CLEANER_WAIT_MS - (now_mono_ms() - t0);

        if (s->start.cleaner[i] < 0)
            continue;
        if (!pidfd_exited(s->start.cleaner[i], left > 0 ? (int)left : 0))
            pidfd_send_signal(s->start.cleaner[i], SIGKILL, NULL, 0);
        while (waitpid(s->start.cleaner_pid[i], NULL, 0) < 0 && errno == EINTR)
            ;
        close(s->start.cleaner[i]);
    }
    free(s->start.cleaner);
    free(s->start.cleaner_pid);
    s->start.cleaner = NULL;
    s->start.cleaner_pid = NULL;
}

void start_port_take(struct spawner *s, int port)
{
    port_take(&s->start.ports, port);
}

void start_port_release(struct spawner *s, int port, int failed, int64_t now)
{
    if (failed)
        port_cool(&s->start.ports, port, now + POOL_PORT_COOL_MS);
    port_release(&s->start.ports, port);
    wlog_forget(s, port);
}

/* ---- worker slots -------------------------------------------------------- */

/* 1 while the child emptying slot's home still runs. */
static int slot_cleaning(struct spawner *s, long slot)
{
    int *fd = &s->start.cleaner[slot];

    if (*fd < 0 || !pidfd_exited(*fd, 0))
        return *fd >= 0;
    /* Reaped by exit_reap's waitpid(-1), or now. */
    waitpid(s->start.cleaner_pid[slot], NULL, WNOHANG);
    close(*fd);
    *fd = -1;
    return 0;
}

void start_slot_end(struct spawner *s, const struct worker *w)
{
    const struct privsep *ps = &s->loop.ps;
    char home[CONF_STR_MAX + 32];
    long slot;
    pid_t pid;
    int n;

    if (!ps->slots || !privsep_uid_ok(ps, w->uid))
        return;
    slot = (long)(w->uid - ps->uid_lo);
    n = snprintf(home, sizeof(home), "%s/%lu", s->c->worker_home_dir,
                 (unsigned long)w->uid);
    if (n < 0 || (size_t)n >= sizeof(home) || slot_cleaning(s, slot))
        return;
    pid = launch_cleaner(home, w->uid, ps->gid);
    if (pid < 0)
        return; /* the slot's next worker empties it */
    s->start.cleaner[slot] = pidfd_open(pid, 0);
    s->start.cleaner_pid[slot] = pid;
    if (s->start.cleaner[slot] < 0)
        log_warn("emptying %s: pidfd_open", home);
}

/* The uid of a slot no worker of the table holds (a worker holds its
 * slot until it exited and its group was killed: GONE) and whose home is
 * not being emptied, round robin from the last one taken.  Returns 1
 * with *uid, 0 when the only free slots are being emptied (a moment),
 * -1 when every slot is held. */
static int slot_pick(struct spawner *s, uid_t *uid)
{
    const struct privsep *ps = &s->loop.ps;
    long n = (long)(ps->uid_hi - ps->uid_lo) + 1, i;
    int cleaning = 0;
    size_t k;

    memset(s->start.slots, 0, (size_t)n);
    for (k = 0; k < s->table.n; k++) {
        const struct worker *w = s->table.w[k];

        if (w->state != SPAWNER_W_GONE && privsep_uid_ok(ps, w->uid))
            s->start.slots[w->uid - ps->uid_lo] = 1;
    }
    for (i = 0; i < n; i++) {
        long slot = (s->start.slot_next + i) % n;

        if (s->start.slots[slot])
            continue;
        if (slot_cleaning(s, slot)) {
            cleaning = 1;
            continue;
        }
        s->start.slot_next = (slot + 1) % n;
        *uid = ps->uid_lo + (uid_t)slot;
        return 1;
    }
    return cleaning ? 0 : -1;
}

/* ---- /health ----------------------------------------------------------- */

/* Notes that port was found held by another process; logged once until
 * it is found free again. */
static void port_held(struct spawner *s, int port, const char *how)
{
    if (s->start.held[port])
        return;
    s->start.held[port] = 1;
    log_warnx("port %d of worker_port_range is held by another process (%s); "
              "skipped until it is free",
              port, how);
}

static void probe_begin(struct spawner *s, struct worker *w, int64_t now)
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
        probe_add(s->table.multi, "GET", &sp->p,
                  total < PROBE_CONNECT_MS ? total : PROBE_CONNECT_MS, total);
    if (sp->easy == NULL) {
        free(sp);
        return;
    }
    w->probe = sp;
}

void start_probes(struct spawner *s, int64_t now)
{
    size_t i;

    if (table_settled(s))
        return;
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (w->state == SPAWNER_W_STARTING && !w->exited && w->probe == NULL &&
            now >= w->next_probe_ms)
            probe_begin(s, w, now);
    }
}

/* STARTING -> RUNNING: registered idle in Redis.  Returns 1 when w
 * turned RUNNING, 0 when Redis failed (the probe is tried again). */
static int start_ready(struct spawner *s, struct worker *w, int64_t now)
{
    int rc = store_worker_ready(&s->redis.store, w->sid);

    if (rc < 0) {
        spawner_redis_failed(s, "registering a worker idle");
        w->next_probe_ms = now + PROBE_RETRY_MS;
        return 0;
    }
    spawner_redis_worked(s);
    w->state = SPAWNER_W_RUNNING;
    w->ready_ms = now;
    w->rstate = rc == 1 ? WORKER_IDLE : w->rstate;
    log_debug("worker %s (pid %ld, port %d): ready after %ld ms", w->sid,
              w->pid, w->port, (long)(now - w->spawn_ms));
    return 1;
}

int start_collect(struct spawner *s, int64_t now)
{
    CURLMsg *msg;
    int running, left, ready = 0;

    curl_multi_perform(s->table.multi, &running);
    while ((msg = curl_multi_info_read(s->table.multi, &left)) != NULL) {
        struct start_probe *sp;
        struct worker *w;
        int ok;

        if (msg->msg != CURLMSG_DONE)
            continue;
        /* p is sp's first member. */
        sp = (struct start_probe *)probe_done(s->table.multi, msg);
        if (sp == NULL)
            continue;
        w = sp->w;
        ok = sp->p.result == WHTTP_OK && sp->p.status >= 200 &&
             sp->p.status < 300;
        free(sp);
        w->probe = NULL;
        if (w->state != SPAWNER_W_STARTING)
            continue;
        /* The answer counts only when every socket listening on the port
         * is the worker's own: a squatter answering /health on it would
         * be sent sessions. */
        if (!ok) {
            w->next_probe_ms = now + PROBE_RETRY_MS;
            continue;
        }
        if (s->loop.ps.drop && geteuid() != 0)
            ok = portown_check_as(w->pid, w->port, w->uid, s->loop.ps.gid);
        else
            ok = portown_check(w->pid, w->port);
        if (ok == 1) {
            ready += start_ready(s, w, now);
        } else if (ok == 0) {
            port_held(s, w->port, "it answered the worker's /health");
            snprintf(w->reason, sizeof(w->reason),
                     "port %d: /health answered by a process that is not "
                     "the worker",
                     w->port);
            table_stop(s, w, SPAWNER_STOP_PORT_TAKEN, SIGKILL, now);
        } else {
            w->next_probe_ms = now + PROBE_RETRY_MS;
        }
    }
    return ready;
}

/* ---- spawning ----------------------------------------------------------- */

/* 1 when a test bind of port on the wildcard address of family (IPv6
 * dual-stack, which conflicts with IPv4 and IPv6 listeners alike, or
 * IPv4) succeeds, 0 when it is taken, -1 when the family is missing. */
static int bind_test(int family, int port)
{
    struct sockaddr_in6 sa6;
    struct sockaddr_in sa;
    int fd, one = 1, zero = 0, rc;

    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* Connections in TIME_WAIT do not keep a worker from binding. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        memset(&sa6, 0, sizeof(sa6));
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)port);
        sa6.sin6_addr = in6addr_any;
        rc = bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) == 0;
    } else {
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    }
    close(fd);
    return rc;
}

/* 1 when nothing listens on port, on any local address, IPv4 or IPv6 (a
 * squatter on [::1] only would make a dual-stack worker fail).  A port
 * found held is logged once (port_held) and cools in port_pick. */
static int port_is_free(int port, void *arg)
{
    struct spawner *s = arg;
    int ok = bind_test(AF_INET6, port);

    if (ok < 0)
        ok = bind_test(AF_INET, port);
    if (ok < 0)
        return 1; /* cannot tell; a worker that fails to bind is retried */
    if (!ok) {
        port_held(s, port, "a test bind failed");
        return 0;
    }
    if (s->start.held[port]) {
        s->start.held[port] = 0;
        log_info("port %d of worker_port_range is free again", port);
    }
    return 1;
}

/* Forks a worker on a free port (and, with worker_uid_range, in a free
 * slot).  Returns 0 with *ch, *port and *uid, or -1 (logged; the port is
 * released). */
static int start_fork(struct spawner *s, int64_t now, struct launch_child *ch,
                      int *port, uid_t *uid)
{
    const struct conf *c = s->c;
    char lpath[CONF_STR_MAX + 32], home[CONF_STR_MAX + 32];
    struct launch_spec spec;

    *uid = s->loop.ps.drop ? s->loop.ps.uid : geteuid();
    if (s->loop.ps.slots) {
        int rc = slot_pick(s, uid);

        if (rc <= 0) {
            if (rc < 0)
                log_warnx("no free worker slot in worker_uid_range %ld-%ld",
                          c->worker_uid_min, c->worker_uid_max);
            else
                log_debug("the free worker slots' homes are being emptied");
            return -1;
        }
        if (privsep_slot_home(&s->loop.ps, c->worker_home_dir, *uid, home,
                              sizeof(home)) < 0)
            return -1;
    }

    *port = port_pick(&s->start.ports, now, port_is_free, s);
    if (*port < 0) {
        if (!s->start.ports_logged)
            log_warnx("no free port left in worker_port_range %ld-%ld",
                      c->worker_port_min, c->worker_port_max);
        s->start.ports_logged = 1;
        return -1;
    }
    s->start.ports_logged = 0;
    if (wlog_path(s, *port, lpath, sizeof(lpath)) < 0) {
        log_warnx("worker_log_dir %s is too long", c->worker_log_dir);
        port_release(&s->start.ports, *port);
        return -1;
    }
    wlog_trim(s, *port);
    memset(&spec, 0, sizeof(spec));
    spec.bin = c->worker_bin;
    spec.log_path = lpath;
    spec.nofile = c->worker_nofile;
    spec.nofile_inherit = s->loop.nofile_inherit;
    spec.memory_mb = c->worker_memory_mb;
    spec.nproc = c->worker_nproc;
    spec.core_mb = c->worker_core_mb;
    spec.drop = s->loop.ps.drop;
    spec.uid = *uid;
    spec.gid = s->loop.ps.gid;
    spec.home = s->loop.ps.slots ? home : s->loop.ps.home;
    spec.fresh_home = s->loop.ps.slots;
    spec.env_allow = c->worker_env;
    spec.port = *port;
    spec.node = c->node_name;
    spec.prefix = c->key_prefix;
    if (launch_worker(&spec, ch) < 0) {
        port_release(&s->start.ports, *port);
        return -1;
    }
    return 0;
}

/* Puts the child of w, still waiting for its id (so before it drops its
 * privileges and executes), into a cgroup of its own with the limits of
 * the configuration.  Returns 0, or -1 (logged; the reason kept in w). */
static int start_group(struct spawner *s, struct worker *w)
{
    const struct cgroup *cg = &s->loop.cg;
    struct cgroup_limits lim;
    char err[256];

    if (!cg->on)
        return 0;
    lim.memory_mb = s->c->worker_cgroup_memory_mb;
    lim.pids = s->c->worker_cgroup_pids;
    lim.cpu_weight = s->c->worker_cpu_weight;
    lim.cpu_pct = s->c->worker_cpu_max_pct;
    /* A group left by an earlier worker of this id is empty or killed. */
    cgroup_worker_kill(cg, w->id);
    if (cgroup_worker_create(cg, w->id, &lim, err, sizeof(err)) == 0) {
        if (cgroup_worker_attach(cg, w->id, (pid_t)w->pid) == 0)
            return 0;
        snprintf(err, sizeof(err), "cannot move pid %ld into its cgroup: %s",
                 w->pid, strerror(errno));
    }
    log_warnx("worker %s (pid %ld, port %d): %s", w->sid, w->pid, w->port, err);
    snprintf(w->reason, sizeof(w->reason), "%s", err);
    return -1;
}

/* (none) -> STARTING. */
int start_spawn(struct spawner *s, int64_t now)
{
    const struct conf *c = s->c;
    char id[WORKER_ID_MAX];
    struct launch_child ch;
    struct worker *w;
    unsigned long long pstart = 0;
    uid_t uid;
    int port;

    if (start_fork(s, now, &ch, &port, &uid) < 0)
        return -1;
    if (proc_start_time(ch.pid, &pstart) < 0)
        pstart = 0;
    /* Above every id we hold: a counter that went back must not hand us
     * the id of a worker we are still stopping. */
    if (store_worker_add(&s->redis.store, c->node_name, c->worker_host, port,
                         (long)ch.pid, pstart, s->exit.rs.fails,
                         table_max_id(s), id) < 0) {
        spawner_redis_failed(s, "registering a new worker");
        /* Without its id the child exits 127 on its own once id_fd is
         * closed, should the kill find nothing. */
        proc_kill((long)ch.pid, pstart, -1, SIGKILL);
        close(ch.id_fd);
        close(ch.err_fd);
        while (waitpid(ch.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        port_release(&s->start.ports, port);
        return -1;
    }
    spawner_redis_worked(s);
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
    w->uid = uid;
    w->child = 1;
    w->state = SPAWNER_W_STARTING;
    w->spawn_ms = now;
    w->next_probe_ms = now + PROBE_FIRST_MS;
    w->add_seq = s->view.seq;
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
    if (start_group(s, w) < 0) {
        /* Without its id the child exits 127 ("never received its worker
         * id"): it never runs outside its cgroup. */
        close(ch.id_fd);
        table_watch(s, w);
        return 0;
    }
    launch_send_id(&ch, id);
    table_watch(s, w);
    log_debug("worker %s (pid %ld, port %d): spawned", w->sid, w->pid, w->port);
    return 0;
}
