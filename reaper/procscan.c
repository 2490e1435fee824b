/*
 * procscan.c - workers in the process table (procscan.h).
 *
 * Invariants: a signal goes only to a process whose start time was just
 * checked against the record; a process group is signalled only when the
 * process leads it (pgid == pid), so a worker started without its own
 * group never takes its parent's group down with it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procscan.h"
#include "util.h"

/* Bytes of /proc/<pid>/environ read; the variables we look for are set by
 * the spawner and sit well inside. */
#define ENVIRON_MAX (128 * 1024)

/* Returns the value of the first name=... entry of buf, or NULL; *vlen
 * receives its length. */
static const char *environ_get(const char *buf, size_t len, const char *name,
                               size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;

    while (i < len) {
        const char *e = buf + i;
        const char *end = memchr(e, '\0', len - i);
        size_t elen = end ? (size_t)(end - e) : len - i;

        if (elen > nlen && memcmp(e, name, nlen) == 0 && e[nlen] == '=') {
            *vlen = elen - nlen - 1;
            return e + nlen + 1;
        }
        i += elen + 1;
    }
    return NULL;
}

static int environ_is(const char *buf, size_t len, const char *name,
                      const char *want)
{
    size_t vlen = 0;
    const char *v = environ_get(buf, len, name, &vlen);

    return v != NULL && vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

int procscan_environ(const char *buf, size_t len, const char *prefix,
                     const char *node, char *id, size_t idsize)
{
    size_t vlen = 0, i;
    const char *v;

    if (!environ_is(buf, len, "STEEL_PREFIX", prefix) ||
        !environ_is(buf, len, "STEEL_NODE", node))
        return 0;
    v = environ_get(buf, len, "STEEL_WORKER_ID", &vlen);
    if (v == NULL || vlen == 0 || vlen >= idsize)
        return 0;
    for (i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
    }
    memcpy(id, v, vlen);
    id[vlen] = '\0';
    return 1;
}

int procscan_stat(const char *buf, size_t len, char *state, long *pgid,
                  unsigned long long *start)
{
    char tmp[1024], *p, *end;
    int field;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, buf, len);
    tmp[len] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields
     * are counted from the last ')'. */
    p = strrchr(tmp, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0')
        return -1;
    p += 2; /* field 3 */
    *state = *p;
    for (field = 3; field < 22; field++) {
        if (field == 5) {
            errno = 0;
            *pgid = strtol(p, &end, 10);
            if (errno != 0 || end == p || *end != ' ')
                return -1;
        }
        p = strchr(p, ' ');
        if (p == NULL)
            return -1;
        p++;
    }
    errno = 0;
    *start = strtoull(p, &end, 10);
    if (errno != 0 || end == p)
        return -1;
    return 0;
}

/* Reads the file path into buf (size bytes, not NUL-terminated).  Returns
 * the length read, or -1. */
static ssize_t read_path(const char *path, char *buf, size_t size)
{
    ssize_t n, total = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while ((size_t)total < size) {
        n = read(fd, buf + total, size - (size_t)total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        total += n;
    }
    close(fd);
    return total;
}

/* read_path of /proc/<pid>/<name>. */
static ssize_t proc_read(long pid, const char *name, char *buf, size_t size)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
    return read_path(path, buf, size);
}

static int read_stat(long pid, char *state, long *pgid,
                     unsigned long long *start)
{
    char buf[1024];
    ssize_t n;

    n = proc_read(pid, "stat", buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    return procscan_stat(buf, (size_t)n, state, pgid, start);
}

enum decide_proc procscan_check(long pid, unsigned long long pstart)
{
    unsigned long long start;
    long pgid;
    char state;

    if (pid <= 0 || read_stat(pid, &state, &pgid, &start) < 0)
        return PROC_GONE;
    if (state == 'Z' || state == 'X' || start != pstart)
        return PROC_GONE;
    return PROC_ALIVE;
}

int64_t procscan_age_ms(unsigned long long pstart)
{
    char buf[128], *end;
    ssize_t n;
    double up;
    long hz = sysconf(_SC_CLK_TCK);

    n = read_path("/proc/uptime", buf, sizeof(buf) - 1);
    if (n <= 0 || hz <= 0)
        return -1;
    buf[n] = '\0';
    up = strtod(buf, &end);
    if (end == buf)
        return -1;
    return (int64_t)(up * 1000.0) -
           (int64_t)(pstart * 1000ULL / (unsigned long long)hz);
}

int procscan_run(const char *prefix, const char *node,
                 struct procscan_entry **out, size_t *n)
{
    DIR *d;
    struct dirent *de;
    char *env = NULL;
    struct procscan_entry *list = NULL;
    size_t count = 0, cap = 0;
    long self = (long)getpid();

    *out = NULL;
    *n = 0;
    d = opendir("/proc");
    if (d == NULL) {
        log_warn("cannot read /proc");
        return -1;
    }
    env = malloc(ENVIRON_MAX);
    if (env == NULL) {
        closedir(d);
        log_warnx("process scan: out of memory");
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        struct procscan_entry e;
        long pid;
        ssize_t len;
        char state;

        if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
            parse_long(de->d_name, 1, 0x7fffffffL, &pid) < 0 || pid == self)
            continue;
        len = proc_read(pid, "environ", env, ENVIRON_MAX);
        if (len <= 0)
            continue;
        memset(&e, 0, sizeof(e));
        if (!procscan_environ(env, (size_t)len, prefix, node, e.id,
                              sizeof(e.id)))
            continue;
        if (read_stat(pid, &state, &e.pgid, &e.pstart) < 0 || state == 'Z')
            continue;
        e.pid = pid;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct procscan_entry *nl = realloc(list, ncap * sizeof(*nl));

            if (nl == NULL) {
                log_warnx("process scan: out of memory");
                free(list);
                free(env);
                closedir(d);
                return -1;
            }
            list = nl;
            cap = ncap;
        }
        list[count++] = e;
    }
    closedir(d);
    free(env);
    *out = list;
    *n = count;
    return 0;
}

int procscan_kill(long pid, unsigned long long pstart)
{
    unsigned long long start;
    long pgid;
    char state;

    if (pid <= 1 || read_stat(pid, &state, &pgid, &start) < 0)
        return 0;
    if (state == 'Z' || state == 'X' || start != pstart)
        return 0;
    if (pgid == pid && pgid > 1 && pgid != (long)getpgrp()) {
        if (kill(-(pid_t)pid, SIGKILL) == 0)
            return 1;
        if (errno != ESRCH)
            return -1;
    }
    if (kill((pid_t)pid, SIGKILL) == 0)
        return 1;
    return errno == ESRCH ? 0 : -1;
}
