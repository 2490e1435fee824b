/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_suites.h - every Check suite of the unit tests; check_main.c runs
 * them all in one runner.
 */
#ifndef STEEL_CHECK_SUITES_H
#define STEEL_CHECK_SUITES_H

#include <check.h>

Suite *buf_suite(void);
Suite *conf_suite(void);
Suite *jsonx_suite(void);
Suite *util_suite(void);
Suite *wconn_suite(void);
Suite *wpool_suite(void);
Suite *wprobe_suite(void);
Suite *wanswer_suite(void);
Suite *log_suite(void);
Suite *fcgi_suite(void);
Suite *handlers_suite(void);
Suite *handlers_rw_suite(void);
Suite *access_suite(void);
Suite *metrics_suite(void);
Suite *proc_suite(void);
Suite *proc_kill_suite(void);
Suite *reaper_suite(void);
Suite *spawner_suite(void);
Suite *spawner_run_suite(void);
Suite *rebuild_suite(void);
Suite *ports_suite(void);
Suite *wcall_suite(void);
Suite *cgroup_suite(void);
Suite *nodetoken_suite(void);

#endif
