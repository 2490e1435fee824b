/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_nodetoken.c - the spawner's instance token file (nodetoken.c):
 * its path, a renewal that keeps the previous token, the restore of a
 * refused spawner, and files that are missing or malformed.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "conf.h"
#include "nodetoken.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check-nodetoken.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* A directory that does not exist yet: renew makes it. */
    snprintf(path, sizeof(path), "%s/run/sub/p-n.token", dir);
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_path)
{
    struct conf c;
    char out[CONF_STR_MAX + 256];

    memset(&c, 0, sizeof(c));
    snprintf(c.node_token_dir, sizeof(c.node_token_dir), "/run/s");
    snprintf(c.key_prefix, sizeof(c.key_prefix), "steel");
    snprintf(c.node_name, sizeof(c.node_name), "a/b");
    ck_assert_int_eq(nodetoken_path(&c, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/run/s/steel-a_b.token");
    ck_assert_int_eq(nodetoken_path(&c, out, 8), -1);
}
END_TEST

START_TEST(test_renew_restore)
{
    struct nodetoken a, b, c, r;
    FILE *f;

    ck_assert_int_eq(nodetoken_read(path, &r), 0);
    ck_assert_int_eq(nodetoken_renew(path, &a), 0);
    ck_assert_uint_eq(strlen(a.cur), 32);
    ck_assert_str_eq(a.prev, "");
    ck_assert_int_eq(nodetoken_read(path, &r), 1);
    ck_assert_str_eq(r.cur, a.cur);
    /* The next instance keeps the previous token. */
    ck_assert_int_eq(nodetoken_renew(path, &b), 0);
    ck_assert_str_eq(b.prev, a.cur);
    ck_assert_str_ne(b.cur, a.cur);
    ck_assert_int_eq(nodetoken_read(path, &r), 1);
    ck_assert_int_eq(nodetoken_known(&r, a.cur), 1);
    ck_assert_int_eq(nodetoken_known(&r, b.cur), 1);
    ck_assert_int_eq(nodetoken_known(&r, ""), 0);
    /* A refused third puts back what b wrote. */
    ck_assert_int_eq(nodetoken_renew(path, &c), 0);
    ck_assert_str_eq(c.back, a.cur);
    ck_assert_int_eq(nodetoken_restore(path, &c), 0);
    ck_assert_int_eq(nodetoken_read(path, &r), 1);
    ck_assert_str_eq(r.cur, b.cur);
    ck_assert_str_eq(r.prev, a.cur);
    ck_assert_int_eq(nodetoken_known(&r, c.cur), 0);
    /* Malformed: refused. */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not-a-token\n", f);
    fclose(f);
    ck_assert_int_eq(nodetoken_read(path, &r), -1);
}
END_TEST

Suite *nodetoken_suite(void)
{
    Suite *s = suite_create("nodetoken");
    TCase *tc = tcase_create("normal");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_path);
    tcase_add_test(tc, test_renew_restore);
    suite_add_tcase(s, tc);
    return s;
}
