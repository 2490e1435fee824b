/*
 * launch.c - starting one worker process (launch.h).
 *
 * Between fork() and execve() the child calls only async-signal-safe
 * functions: everything it needs (environment, argv, paths) is built by the
 * parent before the fork, and the one thing it learns later, its worker id,
 * arrives on a pipe and is copied byte by byte into a slot reserved in the
 * environment.  A failing step writes {stage, errno} to a close-on-exec
 * pipe, so the parent reads either that report or EOF (the exec worked).
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
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "log.h"
#include "store.h"

extern char **environ;

#define ENV_ID_NAME "STEEL_WORKER_ID="

enum launch_stage {
    LAUNCH_STAGE_LOG = 1, /* opening the log file */
    LAUNCH_STAGE_LIMIT,   /* setrlimit */
    LAUNCH_STAGE_ID,      /* the worker id never came */
    LAUNCH_STAGE_EXEC,    /* execve */
};

struct launch_report {
    int stage;
    int err;
};

/* 1 when entry is "NAME=..." for one of the names the spawner sets. */
static int env_ours(const char *entry)
{
    static const char *const names[] = {
        "PORT=", "STEEL_WORKER_ID=", "STEEL_NODE=", "STEEL_PREFIX="};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return 1;
    }
    return 0;
}

/* The child's environment: the inherited one minus our names, plus ours.
 * The strings of ours live in store (size bytes, the caller's); idvar is
 * the STEEL_WORKER_ID slot.  Returns a malloc'd array the caller frees (not
 * its strings), or NULL. */
static char **env_build(const struct launch_spec *s, char *store, size_t size,
                        char **idvar)
{
    size_t n = 0, i, k = 0, used = 0;
    char **envp;
    int w;

    while (environ != NULL && environ[n] != NULL)
        n++;
    envp = calloc(n + 5, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (!env_ours(environ[i]))
            envp[k++] = environ[i];
    }
    w = snprintf(store, size, "PORT=%d", s->port);
    envp[k++] = store;
    used = (size_t)w + 1;
    w = snprintf(store + used, size - used, "STEEL_NODE=%s", s->node);
    if (w < 0 || (size_t)w >= size - used)
        goto toolong;
    envp[k++] = store + used;
    used += (size_t)w + 1;
    w = snprintf(store + used, size - used, "STEEL_PREFIX=%s", s->prefix);
    if (w < 0 || (size_t)w >= size - used)
        goto toolong;
    envp[k++] = store + used;
    used += (size_t)w + 1;
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

    fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        child_fail(err_fd, LAUNCH_STAGE_LOG, errno);
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        child_fail(err_fd, LAUNCH_STAGE_LOG, errno);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        dup2(fd, STDIN_FILENO);
    child_limits(s, err_fd);
    /* Nothing of the spawner's (Redis, HTTP, pidfds) reaches the worker. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

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
    execve(s->bin, argv, envp);
    child_fail(err_fd, LAUNCH_STAGE_EXEC, errno);
}

int launch_worker(const struct launch_spec *s, struct launch_child *out)
{
    char store[1024], *idvar = NULL;
    char **envp;
    int idp[2] = {-1, -1}, errp[2] = {-1, -1};
    pid_t pid;

    out->pid = -1;
    out->id_fd = -1;
    out->err_fd = -1;
    envp = env_build(s, store, sizeof(store), &idvar);
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
