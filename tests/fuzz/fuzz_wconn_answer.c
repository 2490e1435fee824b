/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_wconn_answer.c - libFuzzer target: a worker's HTTP answer as
 * wconn.c reads it (common/wanswer.c).  Workers are untrusted: whatever
 * they send, the reader ends in a verdict and holds no more than its
 * bounds.
 *
 * Input: a flags byte (bit 0: the request was HEAD; the rest: the size of
 * the pieces the answer is fed in), a byte choosing the body limit, then
 * the answer.  Properties: the outcome is the same fed whole and in
 * pieces (status, body, bytes taken, keep); the body stays within its
 * limit; an answer read whole has a final status (200 to 599) and took
 * no more bytes than it was given; a failure says why; every counter
 * stays within one of its bound.
 */
#include "config.h"

#include "fuzz.h"
#include "wanswer.h"

static const size_t limits[] = {0, 1, 16, 1024, 65536};

struct run {
    int rc;
    size_t used;
    long status;
    int keep;
    enum whttp_result result;
};

static struct wanswer ans;

static void run(const char *p, size_t n, size_t step, int head,
                struct buf *body, struct run *out)
{
    size_t pos = 0, used = 0;
    int rc = 1;

    wanswer_init(&ans, head, body);
    while (rc == 1 && pos < n) {
        size_t k = step > n - pos ? n - pos : step;

        rc = wanswer_feed(&ans, p + pos, k, &used);
        FUZZ_ASSERT(used <= k);
        pos += rc == 1 ? k : used;
    }
    if (rc == 1)
        rc = wanswer_eof(&ans) == 0 ? 0 : -1;
    out->rc = rc;
    out->used = pos;
    out->status = rc == 0 ? ans.status : 0;
    out->keep = rc == 0 ? wanswer_keep(&ans) : 0;
    out->result = ans.result;
    FUZZ_ASSERT(body->len <= body->max);
    FUZZ_ASSERT(ans.line_len < sizeof(ans.line));
    FUZZ_ASSERT(ans.headers <= WANSWER_HEADERS_MAX + 1);
    FUZZ_ASSERT(ans.interim <= WANSWER_INTERIM_MAX + 1);
    FUZZ_ASSERT(ans.chunks <= wanswer_chunks_max(body->max) + 1);
    if (rc == 0) {
        FUZZ_ASSERT(ans.state == WANSWER_DONE);
        FUZZ_ASSERT(ans.status >= 200 && ans.status <= 599);
        FUZZ_ASSERT(pos <= n);
    } else {
        FUZZ_ASSERT(ans.state == WANSWER_FAILED);
        FUZZ_ASSERT(ans.result != WHTTP_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf whole, pieces;
    struct run a, b;
    size_t step, max;
    int head;

    if (size < 2)
        return 0;
    head = data[0] & 1;
    step = 1 + (data[0] >> 1);
    max = limits[data[1] % (sizeof(limits) / sizeof(limits[0]))];
    data += 2;
    size -= 2;
    buf_init(&whole, max);
    buf_init(&pieces, max);
    run((const char *)data, size, size > 0 ? size : 1, head, &whole, &a);
    run((const char *)data, size, step, head, &pieces, &b);
    FUZZ_ASSERT(a.rc == b.rc);
    FUZZ_ASSERT(a.result == b.result);
    if (a.rc == 0) {
        FUZZ_ASSERT(a.used == b.used);
        FUZZ_ASSERT(a.status == b.status);
        FUZZ_ASSERT(a.keep == b.keep);
        FUZZ_ASSERT(whole.len == pieces.len);
        FUZZ_ASSERT(whole.len == 0 ||
                    memcmp(whole.data, pieces.data, whole.len) == 0);
    }
    buf_release(&whole);
    buf_release(&pieces);
    return 0;
}
