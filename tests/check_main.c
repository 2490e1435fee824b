/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_main.c - the runner of the unit test suites but the handlers'
 * (tests/check_handlers_main.c, linked against fakes of the store).  Prints Check's
 * summary lines; exits non-zero when any test failed.
 */
#include "config.h"

#include <stdlib.h>

#include "check_suites.h"
#include "log.h"

int main(void)
{
    SRunner *sr;
    int failed;

    log_init("check_steel", LOG_LEVEL_ERROR);
    sr = srunner_create(buf_suite());
    srunner_add_suite(sr, conf_suite());
    srunner_add_suite(sr, nodetoken_suite());
    srunner_add_suite(sr, jsonx_suite());
    srunner_add_suite(sr, util_suite());
    srunner_add_suite(sr, wconn_suite());
    srunner_add_suite(sr, wpool_suite());
    srunner_add_suite(sr, wprobe_suite());
    srunner_add_suite(sr, wanswer_suite());
    srunner_add_suite(sr, log_suite());
    srunner_add_suite(sr, fcgi_suite());
    srunner_add_suite(sr, metrics_suite());
    srunner_add_suite(sr, proc_suite());
    srunner_add_suite(sr, proc_kill_suite());
    srunner_add_suite(sr, cgroup_suite());
    srunner_add_suite(sr, reaper_suite());
    srunner_add_suite(sr, spawner_suite());
    srunner_add_suite(sr, spawner_run_suite());
    srunner_add_suite(sr, rebuild_suite());
    srunner_add_suite(sr, ports_suite());
    srunner_add_suite(sr, wcall_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
