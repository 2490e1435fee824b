/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * sha256.h - SHA-256 (FIPS 180-4) of a buffer, for naming things after a
 * secret without keeping the secret (the idempotency scope of a bearer
 * token).  Not constant-time; never use it to compare secrets.
 */
#ifndef STEEL_SHA256_H
#define STEEL_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes the 32-byte digest of data[0..len) into out. */
void sha256(const void *data, size_t len, unsigned char out[32]);

/* Writes the digest as 64 lower-case hex characters and a NUL into out
 * (size > SHA256_HEX_LEN). */
void sha256_hex(const void *data, size_t len, char *out, size_t size);

#endif
