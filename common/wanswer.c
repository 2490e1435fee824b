/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wanswer.c - a worker's HTTP/1.x answer, read incrementally (wanswer.h).
 *
 * Invariants: the bytes held are a->line (never more than
 * WANSWER_LINE_MAX, NUL included) and the body's struct buf (never more
 * than its max); every counter is checked against its bound before it
 * grows past it; once DONE or FAILED the state never changes.  The
 * outcome does not depend on how the bytes were split between calls.
 *
 * Each line state hands a whole line to one function:
 *
 *   state       line function
 *   STATUS      on_status
 *   HEADER      on_header   (the empty line: on_head_end)
 *   CHUNK_SIZE  on_chunk_size
 *   CHUNK_END   (must be empty)
 *   TRAILER     on_trailer
 *
 * and BODY, CHUNK_DATA and TO_EOF move bytes into the body (take_body).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "wanswer.h"

void wanswer_init(struct wanswer *a, int head, struct buf *body)
{
    memset(a, 0, offsetof(struct wanswer, line));
    a->state = WANSWER_STATUS;
    a->result = WHTTP_OK;
    a->head = head;
    a->body = body;
    a->length = -1;
    a->line[0] = '\0';
    buf_reset(body);
}

size_t wanswer_chunks_max(size_t body_max)
{
    return WANSWER_CHUNKS_MIN + body_max / 1024;
}

static int fail(struct wanswer *a, enum whttp_result why)
{
    a->state = WANSWER_FAILED;
    a->result = why;
    return -1;
}

/* A strict unsigned decimal (base 10) or hex (base 16) number that fits a
 * long long; in hex, chunk extensions may follow a ';'. */
static int parse_size(const char *s, int base, long long *out)
{
    long long v = 0;
    int digits = 0;

    for (; *s != '\0'; s++, digits++) {
        int d;

        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (v > (0x7fffffffffffffffLL - d) / base)
            return -1;
        v = v * base + d;
    }
    if (digits == 0)
        return -1;
    if (base == 16) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '\0' && *s != ';')
            return -1;
    } else if (*s != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* The value of header line "Name: value" when its name is name, else
 * NULL. */
static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);

    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

/* Counts a header or trailer line against its bounds. */
static int count_header(struct wanswer *a)
{
    if (++a->headers > WANSWER_HEADERS_MAX)
        return fail(a, WHTTP_ERROR);
    a->head_bytes += a->line_len + 1;
    if (a->head_bytes > WANSWER_HEAD_MAX)
        return fail(a, WHTTP_ERROR);
    return 0;
}

static int on_status(struct wanswer *a, const char *line)
{
    a->head_bytes += a->line_len + 1;
    if (a->head_bytes > WANSWER_HEAD_MAX)
        return fail(a, WHTTP_ERROR);
    if (strncmp(line, "HTTP/1.", 7) != 0 ||
        (line[7] != '0' && line[7] != '1') || line[8] != ' ' || line[9] < '1' ||
        line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
        line[11] > '9' || (line[12] != '\0' && line[12] != ' '))
        return fail(a, WHTTP_ERROR);
    a->http10 = line[7] == '0';
    a->status =
        (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    a->chunked = a->close_conn = a->keep_alive = 0;
    a->length = -1;
    a->state = WANSWER_HEADER;
    return 0;
}

/* The empty line after the headers: what frames the body. */
static int on_head_end(struct wanswer *a)
{
    if (a->status < 200) { /* an interim answer; the real one follows */
        if (++a->interim > WANSWER_INTERIM_MAX)
            return fail(a, WHTTP_ERROR);
        a->state = WANSWER_STATUS;
        return 0;
    }
    buf_reset(a->body);
    if (a->head || a->status == 204 || a->status == 304) {
        a->state = WANSWER_DONE;
    } else if (a->chunked) {
        if (a->length >= 0) /* both: chunks win, the connection goes */
            a->close_conn = 1;
        a->state = WANSWER_CHUNK_SIZE;
    } else if (a->length >= 0) {
        if ((unsigned long long)a->length > a->body->max)
            return fail(a, WHTTP_TOO_BIG);
        a->left = a->length;
        a->state = a->length == 0 ? WANSWER_DONE : WANSWER_BODY;
    } else {
        a->to_eof = 1;
        a->state = WANSWER_TO_EOF;
    }
    return 0;
}

static int on_header(struct wanswer *a, const char *line)
{
    const char *v;

    if (*line == '\0')
        return on_head_end(a);
    if (count_header(a) < 0)
        return -1;
    if ((v = header_value(line, "Content-Length")) != NULL) {
        long long n;

        if (parse_size(v, 10, &n) < 0 || (a->length >= 0 && n != a->length))
            return fail(a, WHTTP_ERROR);
        a->length = n;
    } else if ((v = header_value(line, "Transfer-Encoding")) != NULL) {
        a->chunked = strcasestr(v, "chunked") != NULL;
    } else if ((v = header_value(line, "Connection")) != NULL) {
        a->close_conn |= strcasestr(v, "close") != NULL;
        a->keep_alive |= strcasestr(v, "keep-alive") != NULL;
    }
    return 0;
}

static int on_chunk_size(struct wanswer *a, const char *line)
{
    long long n;

    if (parse_size(line, 16, &n) < 0)
        return fail(a, WHTTP_ERROR);
    if (n == 0) {
        a->state = WANSWER_TRAILER;
        return 0;
    }
    if (++a->chunks > wanswer_chunks_max(a->body->max))
        return fail(a, WHTTP_ERROR);
    if ((unsigned long long)n > a->body->max - a->body->len)
        return fail(a, WHTTP_TOO_BIG);
    a->left = n;
    a->state = WANSWER_CHUNK_DATA;
    return 0;
}

static int on_trailer(struct wanswer *a, const char *line)
{
    if (*line == '\0') {
        a->state = WANSWER_DONE;
        return 0;
    }
    return count_header(a);
}

/* A whole line, its CR LF cut off, in a->line. */
static int on_line(struct wanswer *a)
{
    const char *line = a->line;

    if (memchr(line, '\0', a->line_len) != NULL)
        return fail(a, WHTTP_ERROR); /* a NUL would hide what follows */
    switch (a->state) {
    case WANSWER_STATUS:
        return on_status(a, line);
    case WANSWER_HEADER:
        return on_header(a, line);
    case WANSWER_CHUNK_SIZE:
        return on_chunk_size(a, line);
    case WANSWER_CHUNK_END:
        if (*line != '\0')
            return fail(a, WHTTP_ERROR);
        a->state = WANSWER_CHUNK_SIZE;
        return 0;
    case WANSWER_TRAILER:
        return on_trailer(a, line);
    default:
        return fail(a, WHTTP_ERROR);
    }
}

/* Takes bytes of a line from p[0..n); returns how many, or -1. */
static long take_line(struct wanswer *a, const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    size_t take = nl != NULL ? (size_t)(nl - p) : n;

    if (take > sizeof(a->line) - 1 - a->line_len)
        return fail(a, WHTTP_ERROR);
    memcpy(a->line + a->line_len, p, take);
    a->line_len += take;
    if (nl == NULL)
        return (long)take;
    if (a->line_len > 0 && a->line[a->line_len - 1] == '\r')
        a->line_len--;
    a->line[a->line_len] = '\0';
    if (on_line(a) < 0)
        return -1;
    a->line_len = 0;
    return (long)take + 1;
}

/* Takes body bytes from p[0..n); returns how many, or -1. */
static long take_body(struct wanswer *a, const char *p, size_t n)
{
    size_t take = n;

    if (a->state != WANSWER_TO_EOF && (unsigned long long)a->left < take)
        take = (size_t)a->left;
    if (buf_append(a->body, p, take) < 0)
        return fail(a, a->body->overflow ? WHTTP_TOO_BIG : WHTTP_ERROR);
    if (a->state == WANSWER_TO_EOF)
        return (long)take;
    a->left -= (long long)take;
    if (a->left == 0)
        a->state = a->state == WANSWER_BODY ? WANSWER_DONE : WANSWER_CHUNK_END;
    return (long)take;
}

int wanswer_feed(struct wanswer *a, const char *data, size_t n, size_t *used)
{
    size_t pos = 0;

    *used = 0;
    while (a->state != WANSWER_DONE && a->state != WANSWER_FAILED && pos < n) {
        long took;

        if (a->state == WANSWER_BODY || a->state == WANSWER_CHUNK_DATA ||
            a->state == WANSWER_TO_EOF)
            took = take_body(a, data + pos, n - pos);
        else
            took = take_line(a, data + pos, n - pos);
        if (took < 0)
            return -1;
        pos += (size_t)took;
    }
    *used = pos;
    if (a->state == WANSWER_FAILED)
        return -1;
    return a->state == WANSWER_DONE ? 0 : 1;
}

int wanswer_eof(struct wanswer *a)
{
    if (a->state == WANSWER_TO_EOF) {
        a->state = WANSWER_DONE;
        return 0;
    }
    if (a->state == WANSWER_DONE)
        return 0;
    if (a->state != WANSWER_FAILED)
        fail(a, WHTTP_BROKEN);
    return -1;
}

int wanswer_keep(const struct wanswer *a)
{
    return a->state == WANSWER_DONE && !a->close_conn && !a->to_eof &&
           (!a->http10 || a->keep_alive);
}
