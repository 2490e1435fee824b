/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wanswer.h - the reader of a worker's HTTP/1.x answer, fed bytes as
 * they arrive (wconn.c feeds it from its socket; tests and the fuzz
 * target feed it buffers).  It holds no more than its struct and the
 * body's struct buf, whatever the worker sends:
 *
 *   a status, header, chunk-size or trailer line  WANSWER_LINE_MAX - 1
 *   header and trailer lines (1xx answers too)    WANSWER_HEADERS_MAX
 *   bytes of those lines and the status lines     WANSWER_HEAD_MAX
 *   interim (1xx) answers before the real one     WANSWER_INTERIM_MAX
 *   chunks of a chunked body                      wanswer_chunks_max()
 *   the body                                      its struct buf's max
 *
 * Past a bound the answer is WHTTP_ERROR (WHTTP_TOO_BIG for the body);
 * time is the caller's deadline.  Answers framed by Content-Length (equal
 * duplicates allowed, anything but plain decimal refused), by chunks or
 * by the end of the stream are read; an answer with both Content-Length
 * and chunks is read as chunked and its connection not kept.
 *
 *   STATUS --1xx--> HEADER --> STATUS (at most WANSWER_INTERIM_MAX)
 *   STATUS --> HEADER --empty line--> DONE (HEAD, 204, 304, length 0)
 *                                 \-> BODY --length read--> DONE
 *                                 \-> CHUNK_SIZE --0--> TRAILER --> DONE
 *                                 |     \-> CHUNK_DATA -> CHUNK_END -/
 *                                 \-> TO_EOF --wanswer_eof--> DONE
 *   any state --a bound, a malformed line--> FAILED
 */
#ifndef STEEL_WANSWER_H
#define STEEL_WANSWER_H

#include <stddef.h>

#include "buf.h"
#include "whttp.h"

#define WANSWER_LINE_MAX    8192  /* a line with its NUL, CR LF cut off */
#define WANSWER_HEADERS_MAX 100   /* header and trailer lines */
#define WANSWER_HEAD_MAX    65536 /* bytes of all lines but chunk sizes */
#define WANSWER_INTERIM_MAX 8     /* 1xx answers */
#define WANSWER_CHUNKS_MIN  1024  /* chunks always allowed (see below) */

enum wanswer_state {
    WANSWER_STATUS,
    WANSWER_HEADER,
    WANSWER_BODY,
    WANSWER_CHUNK_SIZE,
    WANSWER_CHUNK_DATA,
    WANSWER_CHUNK_END,
    WANSWER_TRAILER,
    WANSWER_TO_EOF,
    WANSWER_DONE,
    WANSWER_FAILED,
};

struct wanswer {
    enum wanswer_state state;
    enum whttp_result result; /* WHTTP_OK, or why it FAILED */
    int head;                 /* the request was HEAD: no body follows */
    struct buf *body;         /* borrowed; gets the body */
    long status;              /* the final status, once DONE */
    int http10;               /* HTTP/1.0 */
    int chunked, close_conn, keep_alive; /* from the headers */
    int to_eof;                          /* the body ends with the connection */
    long long length;                    /* Content-Length, -1 when none */
    long long left;    /* bytes of the body or chunk to come */
    size_t headers;    /* header and trailer lines so far */
    size_t head_bytes; /* bytes of them and the status lines */
    size_t interim;    /* 1xx answers so far */
    size_t chunks;     /* chunks so far */
    size_t line_len;   /* bytes in line */
    char line[WANSWER_LINE_MAX];
};

/* Starts reading an answer into body (reset).  head: the request was a
 * HEAD. */
void wanswer_init(struct wanswer *a, int head, struct buf *body);

/* Reads data[0..n).  Returns 1 when the answer needs more bytes (all n
 * were taken), 0 when it is whole (*used says how many of the n bytes
 * were its; any others came after it), -1 when it failed (a->result
 * says how).  Not to be called again after 0 or -1. */
int wanswer_feed(struct wanswer *a, const char *data, size_t n, size_t *used);

/* The stream ended.  Returns 0 when that completes the answer (a body
 * that ends with the connection), else -1 (a->result is WHTTP_BROKEN). */
int wanswer_eof(struct wanswer *a);

/* 1 when the connection may serve another request after this answer,
 * which must be DONE. */
int wanswer_keep(const struct wanswer *a);

/* How many chunks a body bounded by body_max may come in: at least
 * WANSWER_CHUNKS_MIN, and one more per KiB of body_max. */
size_t wanswer_chunks_max(size_t body_max);

#endif
