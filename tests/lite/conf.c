/* SPDX-License-Identifier: BSD-2-Clause */
/* conf.c - steel-browser-lite's knobs, read from the environment with the
 * names, defaults and checks of the Go emulator; a bad value exits 2. */
#include "lite.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct lite_conf cfg = {.bind = "127.0.0.1", .post_status = 201};

static const char *const ep_names[EP_N] = {
    "post", "get", "delete", "status", "health", "other"};

/* One write(2) per line: the log is appended to (O_APPEND) by a worker
 * that answers a probe every probe_interval, thousands of them on a host
 * in bench/cluster. */
void logf_(const char *fmt, ...)
{
    static const char tag[] = "steel-browser-lite: ";
    char line[512];
    size_t t = sizeof tag - 1;
    va_list ap;
    memcpy(line, tag, t);
    va_start(ap, fmt);
    int n = vsnprintf(line + t, sizeof line - t - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - t - 2)
        n = (int)(sizeof line - t - 2);
    line[t + (size_t)n] = '\n';
    if (write(STDERR_FILENO, line, t + (size_t)n + 1) < 0)
        return; /* nowhere to say it */
}

/* xorshift64*: fault rolls only; ids come from getrandom. */
double roll(void)
{
    cfg.rng ^= cfg.rng >> 12;
    cfg.rng ^= cfg.rng << 25;
    cfg.rng ^= cfg.rng >> 27;
    return (double)((cfg.rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void die_conf(const char *name, const char *v, const char *what)
{
    fprintf(stderr, "steel-browser-lite: %s \"%s\" %s\n", name, v, what);
    exit(2);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static long env_ms(const char *name)
{
    const char *v = env(name);
    char *end;
    if (!v)
        return 0;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 0 || n > 3600000)
        die_conf(name, v, "must be milliseconds between 0 and 3600000");
    return n;
}

static double env_prob(const char *name)
{
    const char *v = env(name);
    char *end;
    if (!v)
        return 0;
    double f = strtod(v, &end);
    if (*end || !(f >= 0 && f <= 1))
        die_conf(name, v, "must be a probability between 0 and 1");
    return f;
}

static unsigned env_eps(const char *name)
{
    const char *v = env(name);
    char list[256], *save, *tok;
    unsigned on = 0;
    if (!v)
        return ~0u;
    snprintf(list, sizeof list, "%s", v);
    for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int i;
        for (i = 0; i < EP_N && strcasecmp(tok, ep_names[i]) != 0; i++)
            ;
        if (i == EP_N)
            die_conf(name, tok, "is not an endpoint (post, get, delete, status, health, other)");
        on |= 1u << i;
    }
    return on;
}

void read_config(void)
{
    const char *v = env("PORT");
    char *end;
    if (!v) {
        fputs("steel-browser-lite: PORT is not set\n", stderr);
        exit(2);
    }
    long p = strtol(v, &end, 10);
    if (*end || p < 1 || p > 65535)
        die_conf("PORT", v, "is not a port number (1-65535)");
    cfg.port = (int)p;
    if ((v = env("STEEL_EMU_BIND"))) {
        struct in_addr a;
        if (strcmp(v, "localhost") == 0)
            v = "127.0.0.1";
        if (inet_pton(AF_INET, v, &a) != 1)
            die_conf("STEEL_EMU_BIND", v, "is not an IPv4 address");
        snprintf(cfg.bind, sizeof cfg.bind, "%s", v);
    }
    if ((v = env("STEEL_EMU_POST_STATUS"))) {
        if (strcmp(v, "200") && strcmp(v, "201"))
            die_conf("STEEL_EMU_POST_STATUS", v, "must be 200 or 201");
        cfg.post_status = atoi(v);
    }
    if ((v = env("STEEL_EMU_CREATED_AT"))) {
        if (!strcmp(v, "epoch"))
            cfg.created = 0;
        else if (!strcmp(v, "epoch_ms"))
            cfg.created = 1;
        else if (!strcmp(v, "iso"))
            cfg.created = 2;
        else
            die_conf("STEEL_EMU_CREATED_AT", v, "must be epoch, epoch_ms or iso");
    }
    cfg.start_delay_ms = env_ms("STEEL_EMU_START_DELAY_MS");
    cfg.post_delay_ms = env_ms("STEEL_EMU_POST_DELAY_MS");
    cfg.crash.prob = env_prob("STEEL_EMU_CRASH_PROB");
    cfg.hang.prob = env_prob("STEEL_EMU_HANG_PROB");
    cfg.garbage.prob = env_prob("STEEL_EMU_GARBAGE_PROB");
    cfg.crash.on = env_eps("STEEL_EMU_CRASH_ON");
    cfg.hang.on = env_eps("STEEL_EMU_HANG_ON");
    cfg.garbage.on = env_eps("STEEL_EMU_GARBAGE_ON");
    if ((v = env("STEEL_EMU_SEED"))) {
        errno = 0;
        long long s = strtoll(v, &end, 10);
        if (errno || *end)
            die_conf("STEEL_EMU_SEED", v, "is not an integer");
        cfg.rng = (uint64_t)s;
    }
    if (cfg.rng == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cfg.rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    if (cfg.rng == 0)
        cfg.rng = 88172645463325252ULL;
}

