/* SPDX-License-Identifier: BSD-2-Clause */
/* json.c - steel-browser-lite: a recursive-descent JSON validator over a buffer. */
#include "lite.h"

#define MAX_DEPTH 512

struct cur {
    const unsigned char *p, *end;
};

static void ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int lit(struct cur *c, const char *w)
{
    for (; *w; w++, c->p++)
        if (c->p >= c->end || *c->p != (unsigned char)*w)
            return 0;
    return 1;
}

static int digits(struct cur *c)
{
    const unsigned char *s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > s;
}

static int number(struct cur *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!digits(c))
        return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c))
            return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!digits(c))
            return 0;
    }
    return 1;
}

/* utf8 - one well-formed UTF-8 sequence of 2 to 4 bytes starting at c->p. */
static int utf8(struct cur *c)
{
    unsigned char b = *c->p;
    unsigned long cp;
    int n;
    if (b >= 0xc2 && b <= 0xdf)
        n = 1, cp = b & 0x1f;
    else if (b >= 0xe0 && b <= 0xef)
        n = 2, cp = b & 0x0f;
    else if (b >= 0xf0 && b <= 0xf4)
        n = 3, cp = b & 0x07;
    else
        return 0;
    if (c->end - c->p <= n)
        return 0;
    for (int i = 1; i <= n; i++) {
        if ((c->p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (c->p[i] & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    c->p += n + 1;
    return 1;
}

static int string(struct cur *c)
{
    c->p++; /* the opening quote */
    while (c->p < c->end) {
        unsigned char b = *c->p;
        if (b == '"') {
            c->p++;
            return 1;
        }
        if (b < 0x20)
            return 0;
        if (b == '\\') {
            if (++c->p >= c->end)
                return 0;
            b = *c->p++;
            if (b == 'u') {
                for (int i = 0; i < 4; i++, c->p++) {
                    if (c->p >= c->end)
                        return 0;
                    b = *c->p;
                    if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')))
                        return 0;
                }
            } else if (!(b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' ||
                         b == 'r' || b == 't')) {
                return 0;
            }
        } else if (b < 0x80) {
            c->p++;
        } else if (!utf8(c)) {
            return 0;
        }
    }
    return 0;
}

static int value(struct cur *c, int depth);

static int members(struct cur *c, int depth, unsigned char close, int keyed)
{
    c->p++; /* [ or { */
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    for (;;) {
        ws(c);
        if (keyed) {
            if (c->p >= c->end || *c->p != '"' || !string(c))
                return 0;
            ws(c);
            if (c->p >= c->end || *c->p++ != ':')
                return 0;
        }
        if (!value(c, depth + 1))
            return 0;
        ws(c);
        if (c->p >= c->end)
            return 0;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p++ != close)
            return 0;
        return 1;
    }
}

static int value(struct cur *c, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    ws(c);
    if (c->p >= c->end)
        return 0;
    switch (*c->p) {
    case '{': return members(c, depth, '}', 1);
    case '[': return members(c, depth, ']', 0);
    case '"': return string(c);
    case 't': return lit(c, "true");
    case 'f': return lit(c, "false");
    case 'n': return lit(c, "null");
    default: return number(c);
    }
}

int lite_json_valid(const char *p, size_t n)
{
    struct cur c = {(const unsigned char *)p, (const unsigned char *)p + n};
    if (!value(&c, 0))
        return 0;
    ws(&c);
    return c.p == c.end;
}
