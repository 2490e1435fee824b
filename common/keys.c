/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * keys.c - building key names from the schema in keys.h.
 */
#include "config.h"

#include <stdio.h>

#include "keys.h"

#pragma GCC diagnostic ignored "-Wformat-nonliteral"

int key_build(char *out, size_t size, const char *fmt, const char *prefix,
              const char *arg)
{
    int n = snprintf(out, size, fmt, prefix, arg ? arg : "");

    if (n < 0 || (size_t)n >= size)
        return -1;
    return 0;
}
