/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * conf.c - the parser for steel-orchestrator.conf (conf.h); the checks
 * across directives are conf_check.c's.
 *
 * One table lists every directive with its type, bounds and default; the
 * parser, the defaults and the documentation test (tests/check_conf.c reads
 * etc/steel-orchestrator.conf through it) all come from that table, so a
 * directive cannot exist in one place and not another.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "util.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX (1024 * 1024)

enum conf_type {
    CONF_LONG,
    CONF_STRING,
    CONF_PORT_RANGE,
    CONF_ID_RANGE, /* LOW-HIGH into two adjacent longs; empty: 0 0 */
    CONF_LOG_LEVEL,
    CONF_BOOL, /* yes or no, stored as a long 1 or 0 */
};

struct conf_directive {
    const char *name;
    enum conf_type type;
    size_t offset; /* of the field in struct conf */
    size_t size;   /* of a string field */
    long min, max; /* bounds of a number */
    const char *def;
};

#define LONGD(field, lo, hi, d)                                               \
    {#field, CONF_LONG, offsetof(struct conf, field), 0, lo, hi, d}
#define BOOLD(field, d)                                                        \
    {#field, CONF_BOOL, offsetof(struct conf, field), 0, 0, 1, d}
#define STRD(field, d)                                                         \
    {#field, CONF_STRING, offsetof(struct conf, field),                        \
     sizeof(((struct conf *)0)->field), 0, 0, d}

static const struct conf_directive conf_table[] = {
    STRD(redis, "127.0.0.1:6379"),
    STRD(redis_user, ""),
    STRD(redis_password, ""),
    STRD(redis_user_fcgi, ""),
    STRD(redis_password_fcgi, ""),
    STRD(redis_user_spawner, ""),
    STRD(redis_password_spawner, ""),
    STRD(redis_user_reaper, ""),
    STRD(redis_password_reaper, ""),
    BOOLD(redis_allow_unauthenticated, "no"),
    STRD(redis_sentinels, ""),
    STRD(redis_master_name, "steel"),
    LONGD(redis_timeout_ms, 10, 60000, "2000"),
    STRD(redis_wait_replicas, "auto"),
    LONGD(redis_wait_ms, 1, 60000, "500"),
    STRD(key_prefix, "steel"),
    STRD(node_name, ""),
    LONGD(session_ttl, 1, 86400 * 30, "60"),
    LONGD(session_max_lifetime, 0, 86400 * 365, "0"),
    LONGD(max_body, 2, 16 * 1024 * 1024, "65536"),
    LONGD(pool_idle_target, 0, 100000, "4"),
    LONGD(pool_max_workers, 1, 100000, "64"),
    LONGD(pool_idle_grace, 0, 86400, "60"),
    LONGD(create_wait, 0, 600, "10"),
    LONGD(create_attempts, 1, 100, "3"),
    LONGD(create_queue_max, 0, 1000000, "1000"),
    LONGD(create_hedge_min_ms, 0, 600000, "250"),
    STRD(worker_bin, STEEL_DEFAULT_WORKER_BIN),
    {"worker_port_range", CONF_PORT_RANGE, 0, 0, 1, 65535, "20000-29999"},
    STRD(worker_host, "127.0.0.1"),
    LONGD(worker_connect_timeout_ms, 10, 60000, "500"),
    LONGD(worker_timeout_ms, 10, 600000, "5000"),
    LONGD(worker_start_timeout_ms, 10, 600000, "5000"),
    STRD(worker_log_dir, STEEL_DEFAULT_WORKER_LOG_DIR),
    STRD(node_token_dir, STEEL_DEFAULT_NODE_TOKEN_DIR),
    LONGD(worker_log_max, 0, LONG_MAX, "1048576"),
    LONGD(worker_nofile, 0, 1048576, "1024"),
    LONGD(worker_memory_mb, 0, 1048576, "0"),
    LONGD(worker_nproc, 0, 4194304, "4096"),
    LONGD(worker_core_mb, 0, 1048576, "0"),
    STRD(worker_cgroup, "required"),
    STRD(cgroup_root, ""),
    LONGD(worker_cgroup_memory_mb, 0, 1048576, "0"),
    LONGD(worker_cgroup_pids, 0, 4194304, "1024"),
    LONGD(worker_cpu_weight, 0, 10000, "0"),
    LONGD(worker_cpu_max_pct, 0, 100000, "0"),
    STRD(worker_user, ""),
    STRD(worker_group, ""),
    {"worker_uid_range", CONF_ID_RANGE, offsetof(struct conf, worker_uid_min),
     0, 1, 4294967294L, ""},
    STRD(worker_home_dir, STEEL_DEFAULT_WORKER_HOME_DIR),
    STRD(worker_env, ""),
    STRD(worker_hosts, ""),
    LONGD(restart_backoff_min_ms, 0, 3600000, "100"),
    LONGD(restart_backoff_max_ms, 0, 3600000, "30000"),
    /* Deprecated: no longer used, accepted so that older files load. */
    LONGD(restart_stable_s, 0, 86400, "30"),
    LONGD(reap_interval, 1, 3600, "1"),
    LONGD(probe_timeout_ms, 10, 60000, "1000"),
    LONGD(probe_interval, 1, 3600, "2"),
    LONGD(probe_failures, 1, 100, "3"),
    LONGD(probe_parallel, 1, 10000, "64"),
    LONGD(stray_scan_interval, 0, 86400, "60"),
    LONGD(node_stale_ms, 2000, 600000, "5000"),
    LONGD(node_gone_after, 2, 86400, "30"),
    BOOLD(node_drain, "no"),
    LONGD(fcgi_threads, 1, 1024, "16"),
    LONGD(fcgi_create_threads, 1, 4096, "64"),
    STRD(api_token, ""),
    STRD(admin_token, ""),
    {"log_level", CONF_LOG_LEVEL, offsetof(struct conf, log_level),
     sizeof(((struct conf *)0)->log_level), 0, 0, "info"},
};

#define CONF_NDIRECTIVES (sizeof(conf_table) / sizeof(conf_table[0]))

int conf_error(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}

static int conf_set(struct conf *c, const struct conf_directive *d,
                    const char *value, char *why, size_t whysize)
{
    char *base = (char *)c;
    long v, lo, hi;
    const char *dash;
    char tmp[32];

    switch (d->type) {
    case CONF_LONG:
        if (parse_long(value, d->min, d->max, &v) < 0)
            return conf_error(why, whysize,
                              "%s must be a whole number from %ld to %ld, "
                              "not \"%s\"",
                              d->name, d->min, d->max, value);
        *(long *)(base + d->offset) = v;
        return 0;
    case CONF_BOOL:
        if (strcmp(value, "yes") == 0)
            *(long *)(base + d->offset) = 1;
        else if (strcmp(value, "no") == 0)
            *(long *)(base + d->offset) = 0;
        else
            return conf_error(why, whysize, "%s must be yes or no, not \"%s\"",
                              d->name, value);
        return 0;
    case CONF_STRING:
    case CONF_LOG_LEVEL:
        if (strlen(value) >= d->size)
            return conf_error(why, whysize, "%s is longer than %zu bytes",
                              d->name, d->size - 1);
        if (d->type == CONF_LOG_LEVEL) {
            enum log_level l;

            if (log_level_parse(value, &l) < 0)
                return conf_error(why, whysize,
                                  "log_level must be error, warn, info or "
                                  "debug, not \"%s\"",
                                  value);
        }
        memcpy(base + d->offset, value, strlen(value) + 1);
        return 0;
    case CONF_PORT_RANGE:
        dash = strchr(value, '-');
        if (dash == NULL || (size_t)(dash - value) >= sizeof(tmp))
            goto bad_range;
        memcpy(tmp, value, (size_t)(dash - value));
        tmp[dash - value] = '\0';
        if (parse_long(tmp, 1, 65535, &lo) < 0 ||
            parse_long(dash + 1, 1, 65535, &hi) < 0 || lo > hi)
            goto bad_range;
        c->worker_port_min = lo;
        c->worker_port_max = hi;
        return 0;
    case CONF_ID_RANGE:
        if (value[0] == '\0') {
            ((long *)(base + d->offset))[0] = 0;
            ((long *)(base + d->offset))[1] = 0;
            return 0;
        }
        dash = strchr(value, '-');
        if (dash == NULL || (size_t)(dash - value) >= sizeof(tmp))
            goto bad_range;
        memcpy(tmp, value, (size_t)(dash - value));
        tmp[dash - value] = '\0';
        if (parse_long(tmp, d->min, d->max, &lo) < 0 ||
            parse_long(dash + 1, d->min, d->max, &hi) < 0 || lo > hi)
            goto bad_range;
        ((long *)(base + d->offset))[0] = lo;
        ((long *)(base + d->offset))[1] = hi;
        return 0;
    }
bad_range:
    return conf_error(why, whysize,
                      "%s must be LOW-HIGH with %ld <= LOW <= HIGH <= %ld, "
                      "not \"%s\"",
                      d->name, d->type == CONF_ID_RANGE ? d->min : 1,
                      d->type == CONF_ID_RANGE ? d->max : 65535, value);
}

int conf_defaults(struct conf *c)
{
    char why[256];
    size_t i;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < CONF_NDIRECTIVES; i++) {
        if (conf_set(c, &conf_table[i], conf_table[i].def, why,
                     sizeof(why)) < 0) {
            log_warnx("built-in default: %s", why);
            return -1;
        }
    }
    if (gethostname(c->node_name, sizeof(c->node_name) - 1) < 0) {
        log_warn("gethostname");
        return -1;
    }
    c->node_name[sizeof(c->node_name) - 1] = '\0';
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
                       end[-1] == '\r' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

/* Files an include may nest, the first one counted. */
#define CONF_INCLUDE_DEPTH 4

static int conf_parse_text(struct conf *c, const char *name,
                           const char *text, unsigned char *seen, int depth,
                           char *err, size_t errsize);

/* Reads path into *text (NUL-terminated; the caller frees it).  Returns
 * 0, or -1 with err set. */
static int conf_read(const char *path, char **text, char *err,
                     size_t errsize)
{
    FILE *f;
    size_t n;
    int rc = -1;

    *text = NULL;
    f = fopen(path, "r");
    if (f == NULL)
        return conf_error(err, errsize, "%s: %s", path, strerror(errno));
    *text = malloc(CONF_FILE_MAX + 1);
    if (*text == NULL) {
        conf_error(err, errsize, "%s: out of memory", path);
        goto out;
    }
    n = fread(*text, 1, CONF_FILE_MAX + 1, f);
    if (ferror(f)) {
        conf_error(err, errsize, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (n > CONF_FILE_MAX) {
        conf_error(err, errsize, "%s: larger than %d bytes", path,
                   CONF_FILE_MAX);
        goto out;
    }
    (*text)[n] = '\0';
    if (memchr(*text, '\0', n) != NULL) {
        conf_error(err, errsize, "%s: contains a NUL byte", path);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        free(*text);
        *text = NULL;
    }
    fclose(f);
    return rc;
}

/* "include = value" at name:lineno: value, relative to name's directory
 * unless absolute, parsed into c with the same seen table. */
static int conf_include(struct conf *c, const char *name, int lineno,
                        const char *value, unsigned char *seen, int depth,
                        char *err, size_t errsize)
{
    char path[CONF_STR_MAX + 1024], why[1024];
    const char *slash = strrchr(name, '/');
    char *text;
    int n, rc;

    if (value[0] == '\0')
        return conf_error(err, errsize, "%s:%d: include needs a file name",
                          name, lineno);
    if (depth + 1 >= CONF_INCLUDE_DEPTH)
        return conf_error(err, errsize,
                          "%s:%d: includes nested more than %d deep", name,
                          lineno, CONF_INCLUDE_DEPTH - 1);
    if (value[0] == '/' || slash == NULL)
        n = snprintf(path, sizeof(path), "%s", value);
    else
        n = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - name),
                     name, value);
    if (n < 0 || (size_t)n >= sizeof(path))
        return conf_error(err, errsize, "%s:%d: include path too long",
                          name, lineno);
    if (conf_read(path, &text, why, sizeof(why)) < 0)
        return conf_error(err, errsize, "%s:%d: include: %s", name, lineno,
                          why);
    rc = conf_parse_text(c, path, text, seen, depth + 1, err, errsize);
    free(text);
    return rc;
}

int conf_parse(struct conf *c, const char *name, const char *text,
               char *err, size_t errsize)
{
    unsigned char seen[CONF_NDIRECTIVES];

    memset(seen, 0, sizeof(seen));
    if (conf_parse_text(c, name, text, seen, 0, err, errsize) < 0)
        return -1;
    return conf_validate(c, err, errsize);
}

static int conf_parse_text(struct conf *c, const char *name,
                           const char *text, unsigned char *seen, int depth,
                           char *err, size_t errsize)
{
    const char *p = text;
    int lineno = 0;

    while (*p != '\0') {
        char line[CONF_LINE_MAX], why[CONF_LINE_MAX];
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *key, *value, *eq;
        size_t i;

        lineno++;
        if (len >= sizeof(line))
            return conf_error(err, errsize, "%s:%d: line is longer than %d "
                              "bytes", name, lineno, CONF_LINE_MAX - 1);
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl ? 1 : 0);

        key = trim(line);
        if (*key == '\0' || *key == '#')
            continue;
        for (i = 0; key[i] != '\0'; i++) {
            if (iscntrl((unsigned char)key[i]) && key[i] != '\t')
                return conf_error(err, errsize,
                                  "%s:%d: control character in line", name,
                                  lineno);
        }
        eq = strchr(key, '=');
        if (eq == NULL)
            return conf_error(err, errsize,
                              "%s:%d: expected \"key = value\"", name,
                              lineno);
        *eq = '\0';
        value = trim(eq + 1);
        key = trim(key);
        /* A value may carry a trailing comment after whitespace. */
        for (i = 0; value[i] != '\0'; i++) {
            if (value[i] == '#' && i > 0 &&
                (value[i - 1] == ' ' || value[i - 1] == '\t')) {
                value[i] = '\0';
                value = trim(value);
                break;
            }
        }
        if (strcmp(key, "include") == 0) {
            if (conf_include(c, name, lineno, value, seen, depth, err,
                             errsize) < 0)
                return -1;
            continue;
        }
        for (i = 0; i < CONF_NDIRECTIVES; i++) {
            if (strcmp(key, conf_table[i].name) == 0)
                break;
        }
        if (i == CONF_NDIRECTIVES)
            return conf_error(err, errsize, "%s:%d: unknown directive \"%s\"",
                              name, lineno, key);
        if (seen[i])
            return conf_error(err, errsize, "%s:%d: %s is set twice", name,
                              lineno, key);
        seen[i] = 1;
        if (conf_set(c, &conf_table[i], value, why, sizeof(why)) < 0)
            return conf_error(err, errsize, "%s:%d: %s", name, lineno, why);
    }
    return 0;
}

int conf_load(struct conf *c, const char *path, char *err, size_t errsize)
{
    char *text;
    int rc;

    if (conf_read(path, &text, err, errsize) < 0)
        return -1;
    rc = conf_parse(c, path, text, err, errsize);
    free(text);
    return rc;
}

void conf_for_program(struct conf *c, const char *program)
{
    static const struct {
        const char *program;
        size_t user, password; /* offsets in struct conf */
    } own[] = {
        {"steel-fcgi", offsetof(struct conf, redis_user_fcgi),
         offsetof(struct conf, redis_password_fcgi)},
        {"steel-spawner", offsetof(struct conf, redis_user_spawner),
         offsetof(struct conf, redis_password_spawner)},
        {"steel-reaper", offsetof(struct conf, redis_user_reaper),
         offsetof(struct conf, redis_password_reaper)},
    };
    size_t i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        const char *user = (const char *)c + own[i].user;
        const char *password = (const char *)c + own[i].password;

        if (strcmp(program, own[i].program) != 0)
            continue;
        if (user[0] == '\0' && password[0] == '\0')
            return;
        snprintf(c->redis_user, sizeof(c->redis_user), "%s", user);
        snprintf(c->redis_password, sizeof(c->redis_password), "%s",
                 password);
        return;
    }
}
