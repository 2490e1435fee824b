/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * conf_check.c - the checks of a parsed steel-orchestrator.conf that no
 * single directive's bounds express (conf.h: conf_validate), and the
 * number of replicas a create waits for (conf_wait_replicas).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "hostrange.h"
#include "log.h"
#include "rconn.h"

/* 1 when s (len bytes) is an environment variable name:
 * [A-Za-z_][A-Za-z0-9_]*. */
static int env_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    }
    return 1;
}

/* worker_env: blank-separated NAME, PREFIX* or NAME=VALUE; the names the
 * spawner sets itself are refused. */
static int env_list_ok(const char *list, char *err, size_t errsize)
{
    static const char *const ours[] = {"PORT", "STEEL_WORKER_ID",
                                       "STEEL_NODE", "STEEL_PREFIX"};
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, " \t"), nlen = strcspn(p, "=");
        size_t i;
        int pat;

        if (len == 0) {
            p++;
            continue;
        }
        if (nlen > len)
            nlen = len;
        pat = nlen == len && p[len - 1] == '*';
        if (pat)
            nlen--;
        if (!env_name_ok(p, nlen))
            return conf_error(err, errsize,
                              "worker_env: \"%.*s\" is not NAME, PREFIX* or "
                              "NAME=VALUE",
                              (int)len, p);
        for (i = 0; !pat && i < sizeof(ours) / sizeof(ours[0]); i++) {
            if (strlen(ours[i]) == nlen && memcmp(p, ours[i], nlen) == 0)
                return conf_error(err, errsize,
                                  "worker_env: %s is set by the spawner",
                                  ours[i]);
        }
        p += len;
    }
    return 0;
}

/* A user or group name: [A-Za-z0-9_.-], not starting with '-'. */
static int account_name_ok(const char *s)
{
    size_t i;

    if (s[0] == '-')
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
            return 0;
    }
    return 1;
}

int conf_wait_replicas(const struct conf *c)
{
    char *end;
    long n;

    if (strcmp(c->redis_wait_replicas, "auto") == 0)
        return c->redis_sentinels[0] != '\0' ? CONF_WAIT_ALL : 0;
    errno = 0;
    n = strtol(c->redis_wait_replicas, &end, 10);
    if (c->redis_wait_replicas[0] == '\0' || *end != '\0' || errno != 0 ||
        n < 0 || n > CONF_WAIT_REPLICAS_MAX)
        return -1;
    return (int)n;
}

int conf_validate(const struct conf *c, char *err, size_t errsize)
{
    if (c->key_prefix[0] == '\0')
        return conf_error(err, errsize, "key_prefix must not be empty");
    if (strpbrk(c->key_prefix, " \t{}") != NULL)
        return conf_error(err, errsize,
                          "key_prefix must not contain blanks or braces");
    if (c->node_name[0] == '\0')
        return conf_error(err, errsize, "node_name must not be empty");
    if (c->redis[0] == '\0')
        return conf_error(err, errsize, "redis must not be empty");
    if (c->redis_user[0] != '\0' && c->redis_password[0] == '\0')
        return conf_error(err, errsize, "redis_user needs redis_password");
    if ((c->redis_user_fcgi[0] != '\0' && c->redis_password_fcgi[0] == '\0') ||
        (c->redis_user_spawner[0] != '\0' &&
         c->redis_password_spawner[0] == '\0') ||
        (c->redis_user_reaper[0] != '\0' &&
         c->redis_password_reaper[0] == '\0'))
        return conf_error(err, errsize,
                          "redis_user_<program> needs "
                          "redis_password_<program>");
    if (c->redis_sentinels[0] != '\0') {
        struct rconn_sentinel s[RCONN_SENTINELS_MAX];
        char why[200];

        if (rconn_parse_sentinels(c->redis_sentinels, s, RCONN_SENTINELS_MAX,
                                  why, sizeof(why)) < 0)
            return conf_error(err, errsize, "redis_sentinels: %s", why);
        if (c->redis_master_name[0] == '\0' ||
            strpbrk(c->redis_master_name, " \t") != NULL)
            return conf_error(err, errsize,
                              "redis_master_name must be a name");
    }
    if (conf_wait_replicas(c) == -1)
        return conf_error(err, errsize,
                          "redis_wait_replicas must be auto or a number "
                          "from 0 to %d",
                          CONF_WAIT_REPLICAS_MAX);
    if (c->worker_bin[0] == '\0')
        return conf_error(err, errsize, "worker_bin must not be empty");
    if (c->worker_host[0] == '\0')
        return conf_error(err, errsize, "worker_host must not be empty");
    if (!account_name_ok(c->worker_user) || !account_name_ok(c->worker_group))
        return conf_error(err, errsize,
                          "worker_user and worker_group must be user and "
                          "group names");
    if (env_list_ok(c->worker_env, err, errsize) < 0 ||
        hostrange_list_check(c->worker_hosts, err, errsize) < 0)
        return -1;
    if (strcmp(c->worker_cgroup, "required") != 0 &&
        strcmp(c->worker_cgroup, "off") != 0)
        return conf_error(err, errsize,
                          "worker_cgroup must be required or off");
    if (strcmp(c->worker_cgroup, "off") == 0 && c->worker_user[0] != '\0')
        return conf_error(err, errsize,
                          "worker_cgroup = off is for development: not "
                          "with worker_user");
    if (c->cgroup_root[0] != '\0' &&
        (c->cgroup_root[0] != '/' || c->cgroup_root[1] == '\0' ||
         strstr(c->cgroup_root, "..") != NULL ||
         strpbrk(c->cgroup_root, " \t\n") != NULL))
        return conf_error(err, errsize,
                          "cgroup_root must be an absolute path below the "
                          "root of a hierarchy (\"/steel/node1\")");
    if (c->pool_idle_target > c->pool_max_workers)
        return conf_error(err, errsize,
                          "pool_idle_target (%ld) exceeds pool_max_workers "
                          "(%ld)",
                          c->pool_idle_target, c->pool_max_workers);
    if (c->worker_port_max - c->worker_port_min + 1 < c->pool_max_workers)
        return conf_error(err, errsize,
                          "worker_port_range %ld-%ld has fewer ports than "
                          "pool_max_workers (%ld)",
                          c->worker_port_min, c->worker_port_max,
                          c->pool_max_workers);
    if (c->worker_uid_min != 0 && c->worker_user[0] == '\0')
        return conf_error(err, errsize,
                          "worker_uid_range needs worker_user (whose group "
                          "the slots' uids take)");
    if (c->worker_uid_min != 0 &&
        c->worker_uid_max - c->worker_uid_min + 1 < c->pool_max_workers)
        return conf_error(err, errsize,
                          "worker_uid_range %ld-%ld has fewer uids than "
                          "pool_max_workers (%ld): one uid per worker slot",
                          c->worker_uid_min, c->worker_uid_max,
                          c->pool_max_workers);
    if (c->worker_uid_max - c->worker_uid_min >= CONF_UID_SLOTS_MAX)
        return conf_error(err, errsize,
                          "worker_uid_range has more than %d uids",
                          CONF_UID_SLOTS_MAX);
    if (c->worker_home_dir[0] != '/' || strstr(c->worker_home_dir, "..") ||
        strlen(c->worker_home_dir) > CONF_STR_MAX - 32)
        return conf_error(err, errsize,
                          "worker_home_dir must be an absolute path");
    if (c->restart_backoff_min_ms > c->restart_backoff_max_ms)
        return conf_error(err, errsize,
                          "restart_backoff_min_ms exceeds "
                          "restart_backoff_max_ms");
    if (c->node_gone_after * 1000 <= c->node_stale_ms)
        return conf_error(err, errsize,
                          "node_gone_after (%ld s) must be longer than "
                          "node_stale_ms (%ld ms)",
                          c->node_gone_after, c->node_stale_ms);
    if (c->session_max_lifetime != 0 &&
        c->session_max_lifetime < c->session_ttl)
        log_debug("session_max_lifetime is shorter than session_ttl");
    return 0;
}

