/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * launch.c - starting one worker process (launch.h).
 *
 * Between fork() and execve() the child calls only async-signal-safe
 * functions: everything it needs (environment, argv, paths) is built by the
 * parent before the fork, and the one thing it learns later, its worker id,
 * arrives on a pipe and is copied byte by byte into a slot reserved in the
 * environment.  A failing step writes {stage, errno} to a close-on-exec
 * pipe, so the parent reads either that report or EOF (the exec worked).
 *
 * With worker_user set the child becomes that user and group, with no
 * supplementary groups and no capabilities, before the exec; each step is
 * checked and a failure is fatal for the pool (retrying cannot help).
 * With worker_uid_range the user is the slot's uid, and the child, as
 * that uid, empties the slot's home (left by the slot's last worker)
 * before it runs anything the worker brings: no file flows from one
 * session of a slot to the next.  That walk, too, uses system calls only
 * (getdents64, unlinkat; no opendir, which allocates).  The
 * environment holds only what launch_env() lists, so nothing of the
 * spawner's (Redis address, tokens, the operator's variables) reaches a
 * worker unless worker_env names it.
 *
 * The child leads a process group of its own (setpgid in the child and,
 * against the race, in the parent), so the kill rule of common/proc.h
 * signals the worker together with whatever it starts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "log.h"
#include "store.h"
#include "util.h"

extern char **environ;

#define ENV_ID_NAME "STEEL_WORKER_ID="

enum launch_stage {
    LAUNCH_STAGE_LOG = 1, /* opening the log file */
    LAUNCH_STAGE_LIMIT,   /* setrlimit */
    LAUNCH_STAGE_USER,    /* switching user, group, capabilities */
    LAUNCH_STAGE_HOME,    /* emptying the slot's home */
    LAUNCH_STAGE_ID,      /* the worker id never came */
    LAUNCH_STAGE_EXEC,    /* execve */
};

struct launch_report {
    int stage;
    int err;
};

/* Length of the name of entry "NAME=VALUE" (the whole entry without '='). */
static size_t env_name_len(const char *entry)
{
    return strcspn(entry, "=");
}

/* 1 when entry is "NAME=..." for one of the names the spawner sets. */
static int env_ours(const char *entry)
{
    static const char *const names[] = {"PORT", "STEEL_WORKER_ID",
                                        "STEEL_NODE", "STEEL_PREFIX"};
    size_t i, len = env_name_len(entry);

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == len && memcmp(entry, names[i], len) == 0)
            return 1;
    }
    return 0;
}

/* 1 when the allow-list (blank-separated NAME, PREFIX*, NAME=VALUE) has a
 * word that lets entry in: pairs with fixed set the value themselves, so
 * an inherited entry of their name is left out. */
static int env_allowed(const char *allow, const char *entry, int fixed)
{
    size_t nlen = env_name_len(entry);
    const char *p = allow;

    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, " \t"), wn = strcspn(p, "=");

        if (len == 0) {
            p++;
            continue;
        }
        if (wn < len) { /* NAME=VALUE */
            if (fixed && wn == nlen && memcmp(p, entry, nlen) == 0)
                return 1;
        } else if (!fixed && p[len - 1] == '*') {
            if (nlen >= len - 1 && memcmp(p, entry, len - 1) == 0)
                return 1;
        } else if (!fixed && len == nlen && memcmp(p, entry, nlen) == 0) {
            return 1;
        }
        p += len;
    }
    return 0;
}

/* 1 when one of envp[0..k) is named like entry. */
static int env_has(char *const *envp, size_t k, const char *name, size_t nlen)
{
    size_t i;

    for (i = 0; i < k; i++) {
        if (env_name_len(envp[i]) == nlen && memcmp(envp[i], name, nlen) == 0)
            return 1;
    }
    return 0;
}

/* Appends "fmt..." to store at *used and to envp.  Returns 0 or -1 when
 * it does not fit. */
static int env_add(char **envp, size_t *k, char *store, size_t size,
                   size_t *used, const char *name, const char *value,
                   size_t vlen)
{
    int w = snprintf(store + *used, size - *used, "%s=%.*s", name, (int)vlen,
                     value);

    if (w < 0 || (size_t)w >= size - *used)
        return -1;
    envp[(*k)++] = store + *used;
    *used += (size_t)w + 1;
    return 0;
}

char **launch_env(const struct launch_spec *s, char *const *inherited,
                  char *store, size_t size, char **idvar)
{
    const char *allow = s->env_allow != NULL ? s->env_allow : "";
    const char *home = s->home != NULL ? s->home : "/";
    size_t n = 0, i, k = 0, used = 0, words = 0;
    char port[16];
    const char *p;
    char **envp;

    while (inherited != NULL && inherited[n] != NULL)
        n++;
    for (p = allow; *p != '\0'; p++)
        words += *p == '=';
    envp = calloc(n + words + 9, sizeof(*envp));
    if (envp == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (!env_ours(inherited[i]) && !env_allowed(allow, inherited[i], 1) &&
            env_allowed(allow, inherited[i], 0) &&
            !env_has(envp, k, inherited[i], env_name_len(inherited[i])))
            envp[k++] = inherited[i];
    }
    for (p = allow; *p != '\0';) {
        size_t len = strcspn(p, " \t"), wn = strcspn(p, "=");

        if (len == 0) {
            p++;
            continue;
        }
        if (wn < len && !env_has(envp, k, p, wn)) {
            if (used + len + 1 > size)
                goto toolong;
            memcpy(store + used, p, len);
            store[used + len] = '\0';
            envp[k++] = store + used;
            used += len + 1;
        }
        p += len;
    }
    if ((!env_has(envp, k, "PATH", 4) &&
         env_add(envp, &k, store, size, &used, "PATH", LAUNCH_ENV_PATH,
                 strlen(LAUNCH_ENV_PATH)) < 0) ||
        (!env_has(envp, k, "HOME", 4) &&
         env_add(envp, &k, store, size, &used, "HOME", home, strlen(home)) <
             0) ||
        (!env_has(envp, k, "LANG", 4) &&
         env_add(envp, &k, store, size, &used, "LANG", "C.UTF-8", 7) < 0) ||
        (s->fresh_home && !env_has(envp, k, "TMPDIR", 6) &&
         env_add(envp, &k, store, size, &used, "TMPDIR", home, strlen(home)) <
             0))
        goto toolong;
    snprintf(port, sizeof(port), "%d", s->port);
    if (env_add(envp, &k, store, size, &used, "PORT", port, strlen(port)) <
            0 ||
        env_add(envp, &k, store, size, &used, "STEEL_NODE", s->node,
                strlen(s->node)) < 0 ||
        env_add(envp, &k, store, size, &used, "STEEL_PREFIX", s->prefix,
                strlen(s->prefix)) < 0)
        goto toolong;
    if (size - used < sizeof(ENV_ID_NAME) + WORKER_ID_MAX)
        goto toolong;
    memcpy(store + used, ENV_ID_NAME, sizeof(ENV_ID_NAME));
    *idvar = store + used;
    envp[k++] = store + used;
    envp[k] = NULL;
    return envp;
toolong:
    free(envp);
    errno = ENAMETOOLONG;
    return NULL;
}

/* Child side: reports a failed step and exits. */
static void child_fail(int fd, int stage, int err)
{
    struct launch_report rep;
    ssize_t w;

    rep.stage = stage;
    rep.err = err;
    w = write(fd, &rep, sizeof(rep));
    (void)w;
    _exit(127);
}

static void child_limits(const struct launch_spec *s, int err_fd)
{
    struct rlimit rl, old;

    if (getrlimit(RLIMIT_NOFILE, &old) < 0)
        child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
    if (s->nofile > 0) {
        /* Soft and hard: a runtime that raises its soft limit to the hard
         * one at start (Go does) must still stay under worker_nofile. */
        rl.rlim_cur = (rlim_t)s->nofile;
        rl.rlim_max = (rlim_t)s->nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            /* Without the privilege to raise the hard limit, stay at it. */
            rl.rlim_cur = old.rlim_max;
            rl.rlim_max = old.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
        }
    } else if (s->nofile_inherit > 0) {
        /* The limit the spawner was started with, before it raised its
         * own. */
        rl.rlim_cur = (rlim_t)s->nofile_inherit;
        rl.rlim_max = old.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
    }
    if (s->memory_mb > 0) {
        rl.rlim_cur = (rlim_t)s->memory_mb * 1024 * 1024;
        rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
    }
    if (s->nproc > 0) {
        /* Counted per user (every thread of the workers' user), and not
         * enforced on root or a process with CAP_SYS_RESOURCE. */
        if (getrlimit(RLIMIT_NPROC, &old) < 0)
            child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
        rl.rlim_cur = (rlim_t)s->nproc;
        rl.rlim_max = (rlim_t)s->nproc;
        if (rl.rlim_max > old.rlim_max)
            rl.rlim_cur = rl.rlim_max = old.rlim_max;
        if (setrlimit(RLIMIT_NPROC, &rl) < 0)
            child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
    }
    /* Soft and hard: a worker cannot turn core files back on. */
    rl.rlim_cur = (rlim_t)s->core_mb * 1024 * 1024;
    rl.rlim_max = rl.rlim_cur;
    if (setrlimit(RLIMIT_CORE, &rl) < 0)
        child_fail(err_fd, LAUNCH_STAGE_LIMIT, errno);
}

#define HOME_DEPTH_MAX 32 /* directory levels emptied below a home */

/* The slot's home, as its uid: 0700, emptied, the working directory. */
static void child_home(const struct launch_spec *s, int err_fd)
{
    int fd = open(s->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 || dir_empty(fd, HOME_DEPTH_MAX) < 0 || fchdir(fd) < 0)
        child_fail(err_fd, LAUNCH_STAGE_HOME, errno);
    close(fd);
}

/* Drops what the worker must not have: ambient capabilities always (they
 * would survive the exec); with s->drop the spawner's supplementary groups,
 * group, user and every capability, each checked, then starts in s->home
 * (or /). */
static void child_identity(const struct launch_spec *s, int err_fd)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) < 0 &&
        errno != EINVAL)
        child_fail(err_fd, LAUNCH_STAGE_USER, errno);
    if (!s->drop)
        return;
    if (setgroups(0, NULL) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0)
        child_fail(err_fd, LAUNCH_STAGE_USER, errno);
    /* From a non-root user with CAP_SETUID the capabilities stay: clear
     * them (from root setuid() already did). */
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    if (syscall(SYS_capset, &hdr, data) < 0)
        child_fail(err_fd, LAUNCH_STAGE_USER, errno);
    if (getuid() != s->uid || geteuid() != s->uid || getgid() != s->gid ||
        getegid() != s->gid || getgroups(0, NULL) != 0)
        child_fail(err_fd, LAUNCH_STAGE_USER, EPERM);
    if (setuid(0) == 0 || setgid(0) == 0)
        child_fail(err_fd, LAUNCH_STAGE_USER, EPERM);
    if (s->fresh_home && s->home != NULL) {
        child_home(s, err_fd);
        return;
    }
    if (s->home == NULL || chdir(s->home) < 0)
        if (chdir("/") < 0)
            child_fail(err_fd, LAUNCH_STAGE_USER, errno);
}

/* Runs in the child after fork(); never returns. */
static void child_run(const struct launch_spec *s, char *const *envp,
                      char *idvar, int id_fd, int err_fd)
{
    char *const argv[] = {(char *)s->bin, NULL};
    char *id = idvar + sizeof(ENV_ID_NAME) - 1;
    struct sigaction sa;
    sigset_t none;
    size_t len = 0;
    int fd, sig;

    /* The parent's handlers and ignored signals must not leak into the
     * worker; SIGPIPE stays ignored across exec otherwise. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);

    /* The id first: the parent writes it right after the fork, so it never
     * writes to a child that already failed (and exited) on a later step. */
    for (;;) {
        ssize_t n = read(id_fd, id + len, WORKER_ID_MAX - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len >= WORKER_ID_MAX - 1)
            break;
    }
    if (len == 0)
        child_fail(err_fd, LAUNCH_STAGE_ID, EPIPE);
    id[len] = '\0';

    fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        child_fail(err_fd, LAUNCH_STAGE_LOG, errno);
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        child_fail(err_fd, LAUNCH_STAGE_LOG, errno);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        dup2(fd, STDIN_FILENO);
    child_limits(s, err_fd);
    child_identity(s, err_fd);
    /* Nothing of the spawner's (Redis, HTTP, pidfds) reaches the worker. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

    execve(s->bin, argv, envp);
    child_fail(err_fd, LAUNCH_STAGE_EXEC, errno);
}

int launch_worker(const struct launch_spec *s, struct launch_child *out)
{
    char store[4096], *idvar = NULL;
    char **envp;
    int idp[2] = {-1, -1}, errp[2] = {-1, -1};
    pid_t pid;

    out->pid = -1;
    out->id_fd = -1;
    out->err_fd = -1;
    envp = launch_env(s, environ, store, sizeof(store), &idvar);
    if (envp == NULL) {
        log_warn("worker on port %d: cannot build its environment", s->port);
        return -1;
    }
    if (pipe2(idp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        log_warn("worker on port %d: pipe", s->port);
        goto fail;
    }
    pid = fork();
    if (pid < 0) {
        log_warn("worker on port %d: fork", s->port);
        goto fail;
    }
    if (pid == 0) {
        close(idp[1]);
        close(errp[0]);
        child_run(s, envp, idvar, idp[0], errp[1]);
    }
    free(envp);
    close(idp[0]);
    close(errp[1]);
    /* Also here, so that the group exists before the parent signals it. */
    setpgid(pid, pid);
    fcntl(errp[0], F_SETFL, fcntl(errp[0], F_GETFL) | O_NONBLOCK);
    out->pid = pid;
    out->id_fd = idp[1];
    out->err_fd = errp[0];
    return 0;
fail:
    free(envp);
    if (idp[0] >= 0) {
        close(idp[0]);
        close(idp[1]);
    }
    if (errp[0] >= 0) {
        close(errp[0]);
        close(errp[1]);
    }
    return -1;
}

pid_t launch_cleaner(const char *home, uid_t uid, gid_t gid)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        log_warn("emptying %s: fork", home);
        return -1;
    }
    if (pid > 0)
        return pid;
    /* Nothing of ours (Redis, pidfds, sockets) while it runs. */
    close_range(3, ~0U, 0);
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
        syscall(SYS_capset, &hdr, data) < 0 || getuid() != uid)
        _exit(1);
    fd = open(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _exit(fd < 0 || dir_empty(fd, HOME_DEPTH_MAX) < 0 ? 1 : 0);
}

int launch_send_id(struct launch_child *c, const char *id)
{
    size_t len = strlen(id), off = 0;
    int rc = 0;

    while (off < len) {
        ssize_t n = write(c->id_fd, id + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    close(c->id_fd);
    c->id_fd = -1;
    return rc;
}

int launch_setup_error(int err_fd, const char *bin, const char *log_path,
                       char *why, size_t size, int *fatal)
{
    struct launch_report rep;
    ssize_t n;

    *fatal = 0;
    do {
        n = read(err_fd, &rep, sizeof(rep));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
    if ((size_t)n != sizeof(rep))
        return 0;
    switch (rep.stage) {
    case LAUNCH_STAGE_LOG:
        snprintf(why, size, "cannot open log file %s: %s", log_path,
                 strerror(rep.err));
        *fatal = 1;
        break;
    case LAUNCH_STAGE_LIMIT:
        snprintf(why, size, "cannot set resource limits: %s",
                 strerror(rep.err));
        *fatal = 1;
        break;
    case LAUNCH_STAGE_USER:
        snprintf(why, size, "cannot switch to the worker user: %s",
                 strerror(rep.err));
        *fatal = 1;
        break;
    case LAUNCH_STAGE_HOME:
        snprintf(why, size, "cannot empty the slot's home: %s",
                 strerror(rep.err));
        break;
    case LAUNCH_STAGE_ID:
        snprintf(why, size, "never received its worker id");
        break;
    default:
        snprintf(why, size, "cannot execute %s: %s", bin, strerror(rep.err));
        *fatal = rep.err != ENOMEM && rep.err != EAGAIN && rep.err != ETXTBSY &&
                 rep.err != EINTR;
        break;
    }
    return 1;
}

void launch_status_str(int status, char *out, size_t size)
{
    if (WIFEXITED(status))
        snprintf(out, size, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, size, "killed by signal %d%s", WTERMSIG(status),
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(out, size, "wait status 0x%x", (unsigned)status);
}
