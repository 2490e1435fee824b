/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_conf.c - the configuration parser: defaults, every error names the
 * file and line, and the shipped etc/steel-orchestrator.conf parses and
 * documents every directive.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "conf.h"
#include "privsep.h"
#include "rconn.h"

static struct conf c;
static char err[1024];

static void setup(void)
{
    ck_assert_int_eq(conf_defaults(&c), 0);
    err[0] = '\0';
}

START_TEST(test_defaults)
{
    ck_assert_int_eq(c.session_ttl, 60);
    ck_assert_int_eq(c.create_wait, 10);
    ck_assert_int_eq(c.worker_port_min, 20000);
    ck_assert_int_eq(c.worker_port_max, 29999);
    ck_assert_str_eq(c.redis, "127.0.0.1:6379");
    ck_assert_str_eq(c.key_prefix, "steel");
    ck_assert_int_eq(c.node_drain, 0);
    ck_assert(c.node_name[0] != '\0');
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_parse_values)
{
    const char *text = "# comment\n"
                       "\n"
                       "session_ttl = 5\n"
                       "  pool_idle_target=2   # trailing comment\n"
                       "worker_port_range = 30000-30100\n"
                       "redis = /run/redis/redis.sock\n"
                       "log_level = debug\r\n"
                       "worker_bin = /opt/steel browser/bin\n"
                       "node_drain = yes\n";

    ck_assert_int_eq(conf_parse(&c, "t.conf", text, err, sizeof(err)), 0);
    ck_assert_int_eq(c.session_ttl, 5);
    ck_assert_int_eq(c.pool_idle_target, 2);
    ck_assert_int_eq(c.worker_port_min, 30000);
    ck_assert_int_eq(c.worker_port_max, 30100);
    ck_assert_str_eq(c.redis, "/run/redis/redis.sock");
    ck_assert_str_eq(c.log_level, "debug");
    ck_assert_str_eq(c.worker_bin, "/opt/steel browser/bin");
    ck_assert_int_eq(c.node_drain, 1);
}
END_TEST

/* restart_stable_s no longer has a role, but files that set it load. */
START_TEST(test_deprecated_directive)
{
    const char *text = "restart_stable_s = 30\n"
                       "restart_backoff_min_ms = 200\n";

    ck_assert_msg(conf_parse(&c, "t.conf", text, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(c.restart_backoff_min_ms, 200);
}
END_TEST

static const struct {
    const char *text;
    const char *want;
} bad_cases[] = {
    {"nosuch = 1\n", "t.conf:1: unknown directive \"nosuch\""},
    {"\n\nsession_ttl = abc\n", "t.conf:3: session_ttl must be"},
    {"session_ttl = 0\n", "t.conf:1: session_ttl must be"},
    {"session_ttl = 99999999999999999999\n", "t.conf:1: session_ttl"},
    {"session_ttl = 5x\n", "t.conf:1: session_ttl"},
    {"session_ttl\n", "t.conf:1: expected \"key = value\""},
    {"node_drain = 1\n", "t.conf:1: node_drain must be yes or no"},
    {"session_ttl = 5\nsession_ttl = 6\n", "t.conf:2: session_ttl is set"},
    {"worker_port_range = 10-5\n", "t.conf:1: worker_port_range must"},
    {"worker_port_range = 70000-70001\n", "t.conf:1: worker_port_range"},
    {"worker_port_range = 100\n", "t.conf:1: worker_port_range"},
    {"log_level = loud\n", "t.conf:1: log_level must"},
    {"pool_idle_target = 10\npool_max_workers = 5\n", "pool_idle_target"},
    {"worker_port_range = 100-101\npool_max_workers = 5\n",
     "fewer ports"},
    {"key_prefix = \n", "key_prefix must not be empty"},
    {"worker_env = 1ABC\n", "worker_env: \"1ABC\" is not NAME"},
    {"worker_env = A *\n", "worker_env: \"*\" is not NAME"},
    {"worker_env = A-B=1\n", "is not NAME"},
    {"worker_env = PORT=1\n", "worker_env: PORT is set by the spawner"},
    {"worker_env = X STEEL_WORKER_ID\n", "STEEL_WORKER_ID is set by"},
    {"worker_user = -x\n", "worker_user and worker_group must be"},
    {"worker_group = a/b\n", "worker_user and worker_group must be"},
    {"worker_uid_range = 70000-70100\n", "worker_uid_range needs worker_user"},
    {"worker_user = w\nworker_uid_range = 70000-70009\n",
     "has fewer uids than pool_max_workers (64)"},
    {"worker_uid_range = 0-100\n", "worker_uid_range must be LOW-HIGH"},
    {"worker_uid_range = 9-8\n", "worker_uid_range must be LOW-HIGH"},
    {"worker_uid_range = 5000000000-5000000100\n", "worker_uid_range must"},
    {"worker_user = w\nworker_uid_range = 1-200000\n", "more than 100000"},
    {"worker_home_dir = rel/dir\n", "worker_home_dir must be an absolute"},
};

START_TEST(test_bad_values)
{
    int rc = conf_parse(&c, "t.conf", bad_cases[_i].text, err, sizeof(err));

    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, bad_cases[_i].want) != NULL,
                  "case %d: error \"%s\" lacks \"%s\"", _i, err,
                  bad_cases[_i].want);
}
END_TEST

/* worker_uid_range: one uid per slot, off by default. */
START_TEST(test_uid_range)
{
    static const char subuid[] = "alice:100000:65536\n"
                                 "bad line\n"
                                 "bob:300000:10\n";
    struct privsep ps;

    ck_assert_int_eq(conf_parse(&c, "t.conf", "", err, sizeof(err)), 0);
    ck_assert_int_eq(c.worker_uid_min, 0);
    ck_assert_int_eq(c.worker_uid_max, 0);
    ck_assert_msg(conf_parse(&c, "t.conf",
                             "worker_user = w\n"
                             "worker_uid_range = 70000-70063\n",
                             err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(c.worker_uid_min, 70000);
    ck_assert_int_eq(c.worker_uid_max, 70063);
    memset(&ps, 0, sizeof(ps));
    ps.uid_lo = 70000;
    ps.uid_hi = 70063;
    ck_assert_int_eq(privsep_uid_ok(&ps, 70000), 1);
    ck_assert_int_eq(privsep_uid_ok(&ps, 70063), 1);
    ck_assert_int_eq(privsep_uid_ok(&ps, 69999), 0);
    ck_assert_int_eq(privsep_uid_ok(&ps, 70064), 0);
    ck_assert_int_eq(
        privsep_subid_overlap(subuid, strlen(subuid), 70000, 70063), 0);
    ck_assert_int_eq(
        privsep_subid_overlap(subuid, strlen(subuid), 165535, 165600), 1);
    ck_assert_int_eq(
        privsep_subid_overlap(subuid, strlen(subuid), 165536, 299999), 0);
    ck_assert_int_eq(
        privsep_subid_overlap(subuid, strlen(subuid), 300009, 300009), 1);
    ck_assert_int_eq(privsep_subid_overlap("", 0, 1, 10), 0);
}
END_TEST

/* A worker address steel-fcgi may call: worker_host or worker_hosts, a
 * port inside worker_port_range. */
START_TEST(test_worker_addr)
{
    const char *text = "worker_host = 10.0.0.1\n"
                       "worker_hosts = 10.0.0.2  w3.example\n"
                       "worker_port_range = 20000-20099\n";

    ck_assert_msg(conf_parse(&c, "t.conf", text, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 20000), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2", 20099), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "w3.example", 20050), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 19999), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 20100), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 6379), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.3", 20000), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "w3", 20000), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "", 20000), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2 w3.example", 20000),
                     0);
}
END_TEST

/* worker_hosts entries with the other node's range: its ports only; an
 * entry without one takes this node's range; IPv6 without a range; bad
 * ranges refused by the configuration check. */
START_TEST(test_worker_addr_ranges)
{
    const char *text = "worker_host = 10.0.0.1\n"
                       "worker_hosts = 10.0.0.2:22000-22099 ::2 "
                       "10.0.0.3:23000-23000\n"
                       "worker_port_range = 21000-21099\n";

    ck_assert_msg(conf_parse(&c, "t.conf", text, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 21000), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.1", 22000), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2", 22000), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2", 22099), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2", 21000), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2", 22100), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.3", 23000), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.3", 23001), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "::2", 21050), 1);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "::2", 22050), 0);
    ck_assert_int_eq(privsep_worker_addr_ok(&c, "10.0.0.2:22000-22099", 22000),
                     0);
    snprintf(c.worker_hosts, sizeof(c.worker_hosts), "10.0.0.2:22000-21000");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "worker_hosts") != NULL, "%s", err);
    snprintf(c.worker_hosts, sizeof(c.worker_hosts), "h:1-70000");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    snprintf(c.worker_hosts, sizeof(c.worker_hosts), ":1-2");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    snprintf(c.worker_hosts, sizeof(c.worker_hosts), "h:-2 h2");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
}
END_TEST

/* redis_sentinels: host:port entries, at most RCONN_SENTINELS_MAX; a bad
 * list and a user without a password are refused at load. */
START_TEST(test_sentinels)
{
    struct rconn_sentinel sv[RCONN_SENTINELS_MAX];
    char why[200];

    ck_assert_int_eq(rconn_parse_sentinels(" 10.0.0.1:26379, [::1]:5,h:1 ",
                                           sv, RCONN_SENTINELS_MAX, why,
                                           sizeof(why)),
                     3);
    ck_assert_str_eq(sv[0].host, "10.0.0.1");
    ck_assert_int_eq(sv[0].port, 26379);
    ck_assert_str_eq(sv[1].host, "[::1]");
    ck_assert_int_eq(sv[2].port, 1);
    ck_assert_int_eq(rconn_parse_sentinels("", sv, 8, why, sizeof(why)), 0);
    ck_assert_int_eq(rconn_parse_sentinels("h", sv, 8, why, sizeof(why)), -1);
    ck_assert_int_eq(rconn_parse_sentinels("h:0", sv, 8, why, sizeof(why)),
                     -1);
    ck_assert_int_eq(rconn_parse_sentinels(":1", sv, 8, why, sizeof(why)), -1);
    ck_assert_int_eq(rconn_parse_sentinels("a:1,b:2,c:3", sv, 2, why,
                                           sizeof(why)),
                     -1);

    ck_assert_int_eq(conf_parse(&c, "t.conf",
                                "redis_sentinels = a:1,b:2\n"
                                "redis_master_name = m\n",
                                err, sizeof(err)),
                     0);
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), 0);
    /* auto: a replica acknowledges each create with Sentinels only. */
    ck_assert_str_eq(c.redis_wait_replicas, "auto");
    ck_assert_int_eq(conf_wait_replicas(&c), CONF_WAIT_ALL);
    snprintf(c.redis_wait_replicas, sizeof(c.redis_wait_replicas), "2");
    ck_assert_int_eq(conf_wait_replicas(&c), 2);
    snprintf(c.redis_wait_replicas, sizeof(c.redis_wait_replicas), "17");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "redis_wait_replicas") != NULL, "%s", err);
    snprintf(c.redis_wait_replicas, sizeof(c.redis_wait_replicas), "x");
    ck_assert_int_eq(conf_wait_replicas(&c), -1);
    snprintf(c.redis_wait_replicas, sizeof(c.redis_wait_replicas), "auto");
    snprintf(c.redis_sentinels, sizeof(c.redis_sentinels), "a:1,b");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "redis_sentinels") != NULL, "%s", err);
    c.redis_sentinels[0] = '\0';
    ck_assert_int_eq(conf_wait_replicas(&c), 0);
    snprintf(c.redis_user, sizeof(c.redis_user), "steel");
    ck_assert_int_eq(conf_validate(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "redis_user") != NULL, "%s", err);
}
END_TEST

START_TEST(test_long_line)
{
    char text[6000];

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ck_assert_int_eq(conf_parse(&c, "t.conf", text, err, sizeof(err)), -1);
    ck_assert(strstr(err, "t.conf:1: line is longer") != NULL);
}
END_TEST

START_TEST(test_missing_file)
{
    ck_assert_int_eq(conf_load(&c, "/nonexistent/steel.conf", err,
                               sizeof(err)),
                     -1);
    ck_assert(strstr(err, "/nonexistent/steel.conf") != NULL);
}
END_TEST

/* Each program takes its own Redis user when its pair is set, else the
 * shared one. */
START_TEST(test_program_users)
{
    const char *text = "redis_user = shared\n"
                       "redis_password = pw\n"
                       "redis_user_fcgi = steel-fcgi\n"
                       "redis_password_fcgi = pf\n"
                       "redis_user_reaper = steel-reaper\n"
                       "redis_password_reaper = pr\n";
    struct conf f, s, r;

    ck_assert_int_eq(conf_parse(&c, "t.conf", text, err, sizeof(err)), 0);
    f = c;
    s = c;
    r = c;
    conf_for_program(&f, "steel-fcgi");
    conf_for_program(&s, "steel-spawner");
    conf_for_program(&r, "steel-reaper");
    ck_assert_str_eq(f.redis_user, "steel-fcgi");
    ck_assert_str_eq(f.redis_password, "pf");
    ck_assert_str_eq(s.redis_user, "shared");
    ck_assert_str_eq(s.redis_password, "pw");
    ck_assert_str_eq(r.redis_user, "steel-reaper");
    ck_assert_str_eq(r.redis_password, "pr");
}
END_TEST

START_TEST(test_program_user_needs_password)
{
    ck_assert_int_eq(conf_parse(&c, "t.conf", "redis_user_spawner = s\n", err,
                                sizeof(err)),
                     -1);
    ck_assert(strstr(err, "redis_password_<program>") != NULL);
}
END_TEST

/* include reads a second file, relative to the first one's directory;
 * a directive set in both is set twice; a missing file is an error that
 * names the line. */
START_TEST(test_include)
{
    char dir[] = "/tmp/check-conf-XXXXXX", main_path[256], sec[256];
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
    snprintf(sec, sizeof(sec), "%s/secrets.conf", dir);
    f = fopen(sec, "w");
    ck_assert_ptr_nonnull(f);
    fputs("api_token = from-secrets\nadmin_token = adm\n", f);
    fclose(f);
    f = fopen(main_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("session_ttl = 7\ninclude = secrets.conf\n", f);
    fclose(f);
    ck_assert_msg(conf_load(&c, main_path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.api_token, "from-secrets");
    ck_assert_str_eq(c.admin_token, "adm");
    ck_assert_int_eq(c.session_ttl, 7);

    f = fopen(main_path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("api_token = again\n", f);
    fclose(f);
    conf_defaults(&c);
    ck_assert_int_eq(conf_load(&c, main_path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "api_token is set twice") != NULL, "%s", err);

    unlink(sec);
    conf_defaults(&c);
    ck_assert_int_eq(conf_load(&c, main_path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "main.conf:2: include:") != NULL, "%s", err);
    unlink(main_path);
    rmdir(dir);
}
END_TEST

/* The shipped sample parses, and mentions every directive it could set:
 * each "# name = default" or "name = value" line must be a directive. */
START_TEST(test_sample_file)
{
    char path[1024], line[1024];
    FILE *f;
    int documented = 0;

    snprintf(path, sizeof(path), "%s/etc/steel-orchestrator.conf", SRCDIR);
    ck_assert_msg(conf_load(&c, path, err, sizeof(err)) == 0, "%s", err);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char key[128], text[256];
        struct conf tmp;

        /* Commented-out directives look like "#name = value". */
        if (sscanf(line, "#%127[a-z_] = %255[^\n]", key, text) == 2) {
            snprintf(line, sizeof(line), "%s = %s\n", key, text);
            conf_defaults(&tmp);
            ck_assert_msg(conf_parse(&tmp, path, line, err, sizeof(err)) == 0,
                          "documented default does not parse: %s", err);
            documented++;
        }
    }
    fclose(f);
    ck_assert_int_ge(documented, 30);
}
END_TEST

Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *normal = tcase_create("normal");
    TCase *errors = tcase_create("errors");

    tcase_add_checked_fixture(normal, setup, NULL);
    tcase_add_checked_fixture(errors, setup, NULL);
    tcase_add_test(normal, test_defaults);
    tcase_add_test(normal, test_parse_values);
    tcase_add_test(normal, test_sample_file);
    tcase_add_test(normal, test_deprecated_directive);
    tcase_add_test(normal, test_worker_addr);
    tcase_add_test(normal, test_uid_range);
    tcase_add_test(normal, test_worker_addr_ranges);
    tcase_add_test(normal, test_program_users);
    tcase_add_test(normal, test_include);
    tcase_add_test(errors, test_program_user_needs_password);
    tcase_add_loop_test(errors, test_bad_values, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(errors, test_long_line);
    tcase_add_test(errors, test_missing_file);
    tcase_add_test(errors, test_sentinels);
    suite_add_tcase(s, normal);
    suite_add_tcase(s, errors);
    return s;
}
