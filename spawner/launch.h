/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * launch.h - starting one worker process: in its own process group, with
 * its limits, environment and log file; telling why it could not start;
 * describing how it ended.  Which processes are workers, and how they are
 * signalled, is common/proc.h's.
 */
#ifndef STEEL_LAUNCH_H
#define STEEL_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

/* How to start a worker. */
struct launch_spec {
    const char *bin;      /* executable, run with argv {bin, NULL} */
    const char *log_path; /* stdout and stderr, opened O_APPEND */
    long nofile;          /* RLIMIT_NOFILE (soft and hard); 0: the soft
                           * limit nofile_inherit */
    long nofile_inherit;  /* the limit the spawner itself was started with */
    long memory_mb;       /* RLIMIT_AS in MiB, 0: none */
    long nproc;           /* RLIMIT_NPROC (soft and hard), 0: inherit */
    long core_mb;         /* RLIMIT_CORE in MiB, 0: no core files */
    /* Identity (common/privsep.h): with drop, the child takes uid and gid,
     * no supplementary groups and no capabilities, and starts in home. */
    int drop;
    uid_t uid;
    gid_t gid;
    /* With drop: home is the slot's own (worker_uid_range), which the
     * child empties as uid before it runs the binary, and it is TMPDIR
     * too. */
    int fresh_home;
    /* Environment, nothing else (launch_env()): */
    const char *home;      /* HOME (default "/") */
    const char *env_allow; /* worker_env: NAME, PREFIX*, NAME=VALUE */
    int port;              /* PORT */
    const char *node;      /* STEEL_NODE */
    const char *prefix;    /* STEEL_PREFIX */
};

/*
 * The worker's environment, built from inherited (the spawner's environ,
 * or a test's): each inherited entry whose name worker_env lists (NAME, or
 * a PREFIX* pattern), then worker_env's NAME=VALUE pairs (they win over an
 * inherited entry of that name), then PATH, HOME, LANG (and with
 * fresh_home TMPDIR) unless set so far (LAUNCH_ENV_PATH, s->home, C.UTF-8,
 * s->home), then PORT, STEEL_NODE,
 * STEEL_PREFIX and an empty STEEL_WORKER_ID slot, which no other entry can
 * carry.  Strings built here live in store (size bytes, the caller's);
 * *idvar points at the slot, with room for WORKER_ID_MAX - 1 digits after
 * its '='.  Returns a malloc'd NULL-terminated array the caller frees (not
 * its strings), or NULL with errno ENAMETOOLONG or ENOMEM.
 */
#define LAUNCH_ENV_PATH "/usr/local/bin:/usr/bin:/bin"
char **launch_env(const struct launch_spec *s, char *const *inherited,
                  char *store, size_t size, char **idvar);

/* A child between fork and exec. */
struct launch_child {
    pid_t pid;
    int id_fd;  /* write end: launch_send_id() hands the worker its id */
    int err_fd; /* read end, non-blocking: a setup failure report, or EOF
                 * once exec succeeded (close-on-exec) */
};

/*
 * Forks a worker.  The child puts itself in a new process group, sends
 * stdout and stderr to the log file, sets the limits, drops its ambient
 * capabilities and, with s->drop, its user, group and capabilities (each
 * checked), waits for its id on id_fd and executes the binary with the
 * environment of launch_env().  A step that fails is reported on err_fd (read it with
 * launch_setup_error()) and the child exits 127.  Returns 0, or -1 after
 * logging when the fork itself failed.
 */
int launch_worker(const struct launch_spec *s, struct launch_child *out);

/* Forks a child that becomes uid:gid (no groups, no capabilities) and
 * empties the directory home (a slot's home after its worker ended), then
 * exits 0, or 1 when it could not.  Returns its pid, or -1 (logged). */
pid_t launch_cleaner(const char *home, uid_t uid, gid_t gid);

/* Hands the child its id (shorter than WORKER_ID_MAX) and closes id_fd.
 * Returns 0 or -1 (the child is gone). */
int launch_send_id(struct launch_child *c, const char *id);

/* Reads err_fd.  Returns 1 with a description in why (e.g. "cannot execute
 * /x: No such file or directory") when the child reported a failure, 0 at
 * EOF (the exec succeeded), -1 when nothing can be read yet.  *fatal is set
 * to 1 when retrying cannot help (missing or non-executable binary, log
 * file that cannot be opened, limits that cannot be set), else 0. */
int launch_setup_error(int err_fd, const char *bin, const char *log_path,
                       char *why, size_t size, int *fatal);

/* Describes a wait status: "exited 1", "killed by signal 9". */
void launch_status_str(int status, char *out, size_t size);

#endif
