/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share: a NUL-ended
 * copy of the input, and a check that aborts (a crash libFuzzer keeps)
 * when a property the code promises does not hold.
 */
#ifndef STEEL_FUZZ_H
#define STEEL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* A NUL-ended copy of data[0..size) the caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
