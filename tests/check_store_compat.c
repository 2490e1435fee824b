/*
 * check_store_compat.c - the store's old (rconn, prefix) API, which
 * store_compat.c keeps until every caller holds a struct store: the
 * wrappers answer as the new functions do, and the connection and the
 * error text end up in the caller's struct rconn.  Goes with
 * store_compat.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check_store.h"
#include "store_compat.h"
#include "store_core.h"

/* The old API: same answers, the connection and the error text end up in
 * the caller's struct rconn. */
START_TEST(test_compat)
{
    struct rconn r, down;
    struct worker_addr a;
    struct conf c = tconf;
    char id[WORKER_ID_MAX];

    rconn_init(&r, &tconf);
    ck_assert_int_eq(
        store_compat_worker_add(&r, "t", TEST_NODE, "h", 9, 9, 0, 0, 0, id), 0);
    ck_assert_ptr_nonnull(r.ctx);
    ck_assert(r.sha[SCRIPT_WORKER_ADD][0] != '\0');
    ck_assert_int_eq(store_compat_worker_ready(&r, "t", id), 1);
    ck_assert_int_eq(store_compat_claim(&r, "t", &a), 1);
    ck_assert_str_eq(a.id, id);
    ck_assert_int_eq(store_compat_claim(&r, "t", &a), 0);
    ck_assert_int_eq(store_compat_waiting(&r, "t"), 0);
    /* Another prefix is another schema. */
    ck_assert_int_eq(store_compat_unclaim(&r, "u", id), 0);
    ck_assert_int_eq(store_compat_unclaim(&r, "t", id), 1);
    rconn_release(&r);

    snprintf(c.redis, sizeof(c.redis), "127.0.0.1:1");
    rconn_init(&down, &c);
    ck_assert_int_eq(store_compat_claim(&down, "t", &a), -1);
    ck_assert_ptr_nonnull(strstr(down.errstr, "127.0.0.1:1"));
    ck_assert_ptr_null(down.ctx);
    rconn_release(&down);
}
END_TEST

Suite *store_compat_suite(void)
{
    Suite *s = suite_create("store_compat");
    TCase *tc = tcase_create("wrappers");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_compat);
    suite_add_tcase(s, tc);
    return s;
}
