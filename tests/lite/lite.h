/* SPDX-License-Identifier: BSD-2-Clause */
/* lite.h - the parts of steel-browser-lite: conf.c reads the environment,
 * api.c parses and answers one request, json.c validates a body, main.c
 * runs the connections. */
#ifndef STEEL_LITE_H
#define STEEL_LITE_H

#include <stddef.h>
#include <stdint.h>

#define MAX_CONNS 128
#define MAX_HEAD 8192        /* bytes of a request line + headers */
#define MAX_BODY (16L << 20) /* bytes of a POST body, as the Go emulator */

enum ep { EP_POST, EP_GET, EP_DELETE, EP_STATUS, EP_HEALTH, EP_OTHER, EP_N };

struct knob {
    double prob;
    unsigned on; /* a bit per enum ep; all bits when unset */
};

struct lite_conf {
    char bind[64];
    int port, post_status;
    int created; /* 0 epoch, 1 epoch_ms, 2 iso */
    long start_delay_ms, post_delay_ms;
    struct knob crash, hang, garbage;
    uint64_t rng;
};
extern struct lite_conf cfg;

struct conn {
    int fd;
    char *in; /* request bytes read so far */
    size_t in_len, in_cap;
    char *out; /* answer bytes not yet written */
    size_t out_len, out_off;
    int close_after;  /* close once out is written */
    long long due_ms; /* a delayed POST answers at this time; 0: none */
    size_t due_used;  /* bytes of in the delayed request took */
};

struct req {
    char method[8];
    char path[512];
    int http10, keep_alive, close, chunked;
    long length; /* -1: none */
};

extern int hung; /* the hang knob fired: nothing is answered any more */

/* conf.c */
void read_config(void);
double roll(void);
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* api.c */
const char *header_end(const char *p, size_t n);
int parse_head(const char *p, size_t n, struct req *rq);
int serve(struct conn *c, const struct req *rq, const char *body, size_t blen);
void answer_session(struct conn *c, int status);
void plain(struct conn *c, int status, const char *text, const char *extra);
const char *reason(int status);
extern const char *lite_session_id(void);

/* json.c */
int lite_json_valid(const char *p, size_t n);

#endif
