/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nodetoken.c - the spawner's instance token and its file in
 * node_token_dir
 * (nodetoken.h).
 *
 * Why: a host's identity (machine id, boot id) and a pid are the same in
 * two containers built from one image, so they cannot tell two claimants
 * of one node_name apart.  A random token per spawner start can: the
 * registration in Redis holds it, heartbeats renew only a record that
 * holds it, and any other claimant is refused.  The file, under the
 * runtime directory (node_token_dir: gone at reboot, never in an image), lets the next
 * spawner of this host take its node back at once after a crash (it
 * names the token Redis still holds), and lets the reaper tell whether
 * the node's registration is its own spawner's.
 *
 * Invariants: the file always holds whole tokens (written beside and
 * renamed over); the current token of the file is written before the
 * spawner registers with it, and the previous one is kept, so a reader
 * at any moment of a restart finds the token Redis holds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "nodetoken.h"
#include "util.h"

int nodetoken_path(const struct conf *c, char *out, size_t size)
{
    size_t i, dlen = strlen(c->node_token_dir);

    if ((size_t)snprintf(out, size, "%s/%s-%s.token", c->node_token_dir,
                         c->key_prefix, c->node_name) >= size)
        return -1;
    for (i = dlen + 1; out[i] != '\0'; i++)
        if (out[i] == '/')
            out[i] = '_';
    return 0;
}

/* 1 when s[0..len) is 32 lower-case hex digits. */
static int token_ok(const char *s, size_t len)
{
    size_t i;

    if (len != NODETOKEN_MAX - 1)
        return 0;
    for (i = 0; i < len; i++)
        if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
            return 0;
    return 1;
}

int nodetoken_read(const char *path, struct nodetoken *t)
{
    char buf[2 * NODETOKEN_MAX + 8];
    const char *nl;
    ssize_t n;
    size_t l1;

    memset(t, 0, sizeof(*t));
    n = read_path(path, buf, sizeof(buf));
    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    nl = memchr(buf, '\n', (size_t)n);
    l1 = nl != NULL ? (size_t)(nl - buf) : (size_t)n;
    if (!token_ok(buf, l1)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(t->cur, buf, l1);
    if (nl != NULL) {
        const char *p = nl + 1;
        size_t rest = (size_t)n - l1 - 1, l2;
        const char *nl2 = memchr(p, '\n', rest);

        l2 = nl2 != NULL ? (size_t)(nl2 - p) : rest;
        if (token_ok(p, l2))
            memcpy(t->prev, p, l2);
    }
    return 1;
}

/* Makes the directories above path's last component (mode 0750).
 * Returns 0, or -1 (errno set). */
static int mkdir_parents(const char *path)
{
    char dir[4096];
    size_t i;

    if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (i = 1; dir[i] != '\0'; i++) {
        if (dir[i] != '/')
            continue;
        dir[i] = '\0';
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
            return -1;
        dir[i] = '/';
    }
    return 0;
}

/* Replaces path by "cur\nprev\n" (beside, then renamed; its directory
 * made when missing).  Returns 0, or -1 (errno set). */
static int token_write(const char *path, const char *cur, const char *prev)
{
    char tmp[4096], text[2 * NODETOKEN_MAX + 2];
    int fd, len, err;

    len = snprintf(text, sizeof(text), "%s\n%s\n", cur, prev);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT && mkdir_parents(path) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    if (write(fd, text, (size_t)len) != len || fsync(fd) < 0) {
        err = errno;
        close(fd);
        unlink(tmp);
        errno = err;
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        err = errno;
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

int nodetoken_renew(const char *path, struct nodetoken *t)
{
    struct nodetoken old;

    if (nodetoken_read(path, &old) < 0)
        memset(&old, 0, sizeof(old));
    memset(t, 0, sizeof(*t));
    memcpy(t->prev, old.cur, sizeof(t->prev));
    memcpy(t->back, old.prev, sizeof(t->back));
    if (random_hex(t->cur, sizeof(t->cur)) < 0)
        return -1;
    return token_write(path, t->cur, t->prev) < 0 ? 1 : 0;
}

int nodetoken_restore(const char *path, const struct nodetoken *t)
{
    if (t->prev[0] == '\0')
        return 0; /* nothing to forget: the file names no holder */
    return token_write(path, t->prev, t->back);
}

int nodetoken_known(const struct nodetoken *t, const char *token)
{
    if (token[0] == '\0')
        return 0;
    return strcmp(token, t->cur) == 0 ||
           (t->prev[0] != '\0' && strcmp(token, t->prev) == 0);
}
