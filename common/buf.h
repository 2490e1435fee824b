/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Every buffer that outside input fills is a struct buf with max set, so a
 * peer that sends too much makes an append fail instead of growing memory.
 * The data is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef STEEL_BUF_H
#define STEEL_BUF_H

#include <stddef.h>

struct buf {
    char *data;   /* NULL until the first append; NUL-terminated after */
    size_t len;   /* bytes used, without the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* largest len allowed; appends beyond it fail */
    int overflow; /* set once an append was refused for max */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Keeps the allocation, forgets the content and the overflow flag. */
void buf_reset(struct buf *b);
/* Returns 0, or -1 when len would exceed max (overflow is set, content is
 * unchanged) or memory ran out. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_appends(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string (no quotes added). */
int buf_append_json_str(struct buf *b, const char *s, size_t len);

#endif
