/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_handlers_main.c - the runner of the handler tests, a program of
 * their own: they link fakes of the store (tests/fake_store.c) in place of
 * common/store.o, which the other suites need for real.
 */
#include "config.h"

#include <stdlib.h>

#include "check_suites.h"
#include "log.h"

int main(void)
{
    SRunner *sr;
    int failed;

    log_init("check_handlers", LOG_LEVEL_ERROR);
    sr = srunner_create(handlers_suite());
    srunner_add_suite(sr, handlers_rw_suite());
    srunner_add_suite(sr, access_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
