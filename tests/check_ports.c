/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_ports.c - the spawner's port choice (spawner/pool.h): round robin
 * over worker_port_range, skipping ports held, cooling or found busy.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "check_suites.h"
#include "pool.h"
/* ---- ports -------------------------------------------------------------- */

static int busy_port;

static int fake_free(int port, void *arg)
{
    int *calls = arg;

    (*calls)++;
    return port != busy_port;
}

START_TEST(test_ports_round_robin)
{
    struct port_map pm;
    int calls = 0, a, b, c;

    busy_port = 0;
    ck_assert_int_eq(port_map_init(&pm, 20000, 20002), 0);
    a = port_pick(&pm, 0, fake_free, &calls);
    b = port_pick(&pm, 0, fake_free, &calls);
    c = port_pick(&pm, 0, fake_free, &calls);
    ck_assert_int_eq(a, 20000);
    ck_assert_int_eq(b, 20001);
    ck_assert_int_eq(c, 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), -1);
    /* A released port is handed out again; the search goes on from where
     * it stopped. */
    port_release(&pm, 20001);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20001);
    port_release(&pm, 20000);
    port_release(&pm, 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20002);
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 20000);
    port_map_release(&pm);
}
END_TEST

START_TEST(test_ports_skip_held_and_cooling)
{
    struct port_map pm;
    int calls = 0;

    ck_assert_int_eq(port_map_init(&pm, 30000, 30009), 0);
    /* Held by another process: skipped, and not tested again while it
     * cools. */
    busy_port = 30000;
    ck_assert_int_eq(port_pick(&pm, 0, fake_free, &calls), 30001);
    ck_assert_int_eq(calls, 2);
    port_release(&pm, 30001);
    pm.next = 30000;
    calls = 0;
    ck_assert_int_eq(port_pick(&pm, 100, fake_free, &calls), 30001);
    ck_assert_int_eq(calls, 1);
    /* After the cool-down it is tried again. */
    busy_port = 0;
    port_release(&pm, 30001);
    pm.next = 30000;
    ck_assert_int_eq(port_pick(&pm, POOL_PORT_COOL_MS + 1, fake_free, &calls),
                     30000);
    /* A port a worker failed on cools too. */
    port_release(&pm, 30000);
    port_cool(&pm, 30000, 5000);
    pm.next = 30000;
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30001);
    /* Adopted workers' ports are taken. */
    port_take(&pm, 30002);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30003);
    /* A narrower range keeps the search inside it. */
    port_map_range(&pm, 30005, 30006);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30005);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), 30006);
    ck_assert_int_eq(port_pick(&pm, 4000, fake_free, &calls), -1);
    port_map_release(&pm);
}
END_TEST

Suite *ports_suite(void)
{
    Suite *s = suite_create("ports");
    TCase *tc = tcase_create("ports");

    tcase_add_test(tc, test_ports_round_robin);
    tcase_add_test(tc, test_ports_skip_held_and_cooling);
    suite_add_tcase(s, tc);
    return s;
}
