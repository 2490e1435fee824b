/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store.h - the store's Check suites and what they share: a private
 * redis-server the runner (check_store.c) starts, and a fixture that
 * gives each test an empty Redis and a struct store on it.
 */
#ifndef STEEL_CHECK_STORE_H
#define STEEL_CHECK_STORE_H

#include <check.h>

#include "store.h"
#include "store_nodes.h"

#define TEST_NODE "node-a"

extern struct store ts;   /* the store under test, prefix "t" */
extern struct conf tconf; /* its configuration */

/* Checked fixture: connects ts and a raw connection, empties Redis. */
void store_setup(void);
void store_teardown(void);

/* A raw command's integer reply (a decimal string counts, a status such
 * as OK is 0, nil is -1), or a failed test. */
long long raw_int(const char *fmt, ...);
/* A raw command's string reply into out, "" for nil, or a failed test. */
void raw_str(char *out, size_t size, const char *fmt, ...);
/* Checks that field of worker id holds want ("": none). */
void check_field(const char *id, const char *field, const char *want);
/* The state of a worker record, or -1 when it has none. */
int worker_state_of(const char *id);

/* Registers a worker of TEST_NODE at 127.0.0.1:port with pid port and
 * makes it idle; its id goes to id (WORKER_ID_MAX bytes). */
void worker_idle(int port, char *id);
/* worker_idle, claimed and bound to sid (ttl_ms, no lifetime cap). */
void worker_busy(int port, const char *sid, long ttl_ms, char *id);

Suite *store_core_suite(void);
Suite *store_workers_suite(void);
Suite *store_sessions_suite(void);
Suite *store_create_suite(void);
Suite *store_ops_suite(void);
Suite *store_nodes_suite(void);
Suite *store_retry_suite(void);

#endif
