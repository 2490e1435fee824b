/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * conf_int.h - what the parser (conf.c) and the checks (conf_check.c) of
 * steel-orchestrator.conf share.  Not for other modules.
 */
#ifndef STEEL_CONF_INT_H
#define STEEL_CONF_INT_H

#include <stddef.h>

/* Writes the message into err (errsize bytes).  Returns -1. */
int conf_error(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
