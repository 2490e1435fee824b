/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_probe.c - probe_run_method (common/whttp.c) when libcurl fails as
 * a whole in the middle of a run: it returns -1, every probe reads as an
 * error, and no easy handle outlives the call.
 *
 * The seam is the linker (this program is linked with --wrap): calls of
 * curl_multi_poll fail on demand, and curl_easy_init/curl_easy_cleanup are
 * counted, so a leaked handle shows as a count above zero.  The probes go
 * to a real worker on a loopback port (fake_worker.c) that never answers,
 * so they are still running when the failure comes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <curl/curl.h>

#include "fake_worker.h"
#include "log.h"
#include "whttp.h"

CURLMcode __real_curl_multi_poll(CURLM *m, struct curl_waitfd extra[],
                                 unsigned int n, int timeout_ms, int *ret);
CURL *__real_curl_easy_init(void);
void __real_curl_easy_cleanup(CURL *e);
CURLMcode __wrap_curl_multi_poll(CURLM *m, struct curl_waitfd extra[],
                                 unsigned int n, int timeout_ms, int *ret);
CURL *__wrap_curl_easy_init(void);
void __wrap_curl_easy_cleanup(CURL *e);

static int poll_fails_after = -1; /* polls left before they fail; -1 never */
static int easy_live;             /* handles made and not yet freed */

CURLMcode __wrap_curl_multi_poll(CURLM *m, struct curl_waitfd extra[],
                                 unsigned int n, int timeout_ms, int *ret)
{
    if (poll_fails_after == 0)
        return CURLM_OUT_OF_MEMORY;
    if (poll_fails_after > 0)
        poll_fails_after--;
    return __real_curl_multi_poll(m, extra, n, timeout_ms, ret);
}

CURL *__wrap_curl_easy_init(void)
{
    CURL *e = __real_curl_easy_init();

    if (e != NULL)
        easy_live++;
    return e;
}

void __wrap_curl_easy_cleanup(CURL *e)
{
    if (e != NULL)
        easy_live--;
    __real_curl_easy_cleanup(e);
}

START_TEST(test_multi_failure_frees_every_handle)
{
    struct fake_worker fw;
    struct probe p[4];
    size_t i;

    memset(&fw, 0, sizeof(fw));
    fw.hang_get = 1;
    ck_assert_int_eq(fake_worker_start(&fw, "w"), 0);
    memset(p, 0, sizeof(p));
    for (i = 0; i < 4; i++) {
        p[i].host = "127.0.0.1";
        p[i].port = fw.port;
        p[i].path = "/sessions/x";
    }
    poll_fails_after = 3;
    ck_assert_int_eq(probe_run(p, 4, 500, 2000, 2), -1);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(p[i].result, WHTTP_ERROR);
    ck_assert_int_eq(easy_live, 0);
    fake_worker_stop(&fw);
}
END_TEST

START_TEST(test_run_without_failure_frees_every_handle)
{
    struct fake_worker fw;
    struct probe p[3];
    size_t i;

    memset(&fw, 0, sizeof(fw));
    ck_assert_int_eq(fake_worker_start(&fw, "w"), 0);
    memset(p, 0, sizeof(p));
    for (i = 0; i < 3; i++) {
        p[i].host = "127.0.0.1";
        p[i].port = fw.port;
        p[i].path = "/status";
    }
    ck_assert_int_eq(probe_run(p, 3, 500, 2000, 2), 0);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(p[i].result, WHTTP_OK);
        ck_assert_int_eq(p[i].status, 200);
    }
    ck_assert_int_eq(easy_live, 0);
    fake_worker_stop(&fw);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    log_init("check_probe", LOG_LEVEL_ERROR);
    curl_global_init(CURL_GLOBAL_NOTHING);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_multi_failure_frees_every_handle);
    tcase_add_test(tc, test_run_without_failure_frees_every_handle);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
