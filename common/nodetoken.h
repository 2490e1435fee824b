/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nodetoken.h - the instance token of a node's spawner: random at every
 * start, held in Redis by the node's registration (P:pool:<node> token)
 * and kept on this host in a file of node_token_dir, with the previous instance's
 * beside it, for the reaper and for the next spawner of this host.
 */
#ifndef STEEL_NODETOKEN_H
#define STEEL_NODETOKEN_H

#include <stddef.h>

#define NODETOKEN_MAX 33 /* 32 hex digits and the NUL */

/* The file of node_token_dir that holds the tokens of c's node:
 * "<dir>/<key_prefix>-<node_name>.token", '/' in the names turned into
 * '_'.  Returns 0, or -1 when it does not fit in size. */
struct conf;
int nodetoken_path(const struct conf *c, char *out, size_t size);

/* The tokens of the file: this instance's, and the previous
 * instance's ("" when none). */
struct nodetoken {
    char cur[NODETOKEN_MAX];
    char prev[NODETOKEN_MAX];
    char back[NODETOKEN_MAX]; /* what the file held as previous before
                                 nodetoken_renew (nodetoken_restore) */
};

/* Reads path (two lines of hex: current, previous).  Returns 1 read, 0
 * when the file does not exist (t emptied), -1 on another error (errno
 * set) or a malformed file. */
int nodetoken_read(const char *path, struct nodetoken *t);

/* A new instance: t->prev becomes what the file held as current, t->cur
 * a new random token, and the file is replaced by both (a temporary file
 * and rename, mode 0640; its directory made, 0750, when missing).  Returns 0, 1 when the token is made but the
 * file could not be written (errno set; the caller logs), -1 when no
 * random token could be made. */
int nodetoken_renew(const char *path, struct nodetoken *t);

/* Puts back what the file held before nodetoken_renew(t), when it held a
 * token (a refused spawner must not make this host forget the token of
 * the instance that holds the node; a file that held none keeps the
 * refused one's, which holds nothing).  Returns 0, or -1 (errno set). */
int nodetoken_restore(const char *path, const struct nodetoken *t);

/* 1 when token is t's current or previous one (token not empty). */
int nodetoken_known(const struct nodetoken *t, const char *token);

#endif
