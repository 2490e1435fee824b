/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * util.c - clocks, strict number parsing, session id validation, random
 * ids, whole-file reads and emptying a directory tree (util.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t now_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

void sleep_ms(int64_t ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int session_id_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > SESSION_ID_MAX)
        return 0;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
            c == '-')
            continue;
        return 0;
    }
    return 1;
}

int random_hex(char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t i;

    if (size < 33)
        return -1;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xf];
    }
    out[32] = '\0';
    return 0;
}

ssize_t read_path(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (len < size) {
        ssize_t r = read(fd, buf + len, size - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    return (ssize_t)len;
}

/* A record of getdents64(2). */
struct dirent_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int dir_empty(int dfd, int depth)
{
    char buf[2048];
    struct stat st;
    long n;

    /* Not a directory of another's (a slot's home is the spawner's,
     * open to the slot's uid by an ACL). */
    if (fstat(dfd, &st) < 0 ||
        (st.st_uid == geteuid() && fchmod(dfd, 0700) < 0))
        return -1;
    for (;;) {
        int removed = 0;

        if (lseek(dfd, 0, SEEK_SET) < 0)
            return -1;
        while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
            long off = 0;

            while (off < n) {
                struct dirent_raw *d = (struct dirent_raw *)(buf + off);
                const char *name = d->d_name;
                int sub, rc;

                off += d->d_reclen;
                if (name[0] == '.' &&
                    (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                    continue;
                if (unlinkat(dfd, name, 0) == 0) {
                    removed++;
                    continue;
                }
                if (errno != EISDIR)
                    return -1;
                if (depth <= 0) {
                    errno = ELOOP;
                    return -1;
                }
                /* A directory of ours: nobody else writes here. */
                if (fchmodat(dfd, name, 0700, 0) < 0)
                    return -1;
                sub = openat(dfd, name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                    return -1;
                rc = dir_empty(sub, depth - 1);
                close(sub);
                if (rc < 0 || unlinkat(dfd, name, AT_REMOVEDIR) < 0)
                    return -1;
                removed++;
            }
        }
        if (n < 0)
            return -1;
        if (removed == 0)
            return 0;
    }
}
