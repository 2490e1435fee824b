/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * keys.c - building key names from the schema in keys.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "sha256.h"

#pragma GCC diagnostic ignored "-Wformat-nonliteral"

int key_build(char *out, size_t size, const char *fmt, const char *prefix,
              const char *arg)
{
    int n = snprintf(out, size, fmt, prefix, arg ? arg : "");

    if (n < 0 || (size_t)n >= size)
        return -1;
    return 0;
}

/* Both scopes are a letter and 64 hex digits, so where the key starts is
 * fixed and no (token, key) or (address, key) pair names another's
 * record: an address of its own could end like another's key begins
 * ("fd31::2" with "1:K1", "fd31::2:1" with "K1").  Hashing the address
 * also keeps clients' addresses out of Redis and the name bounded. */
int key_idem_scope(char *out, size_t size, const char *token, const char *addr,
                   const char *key)
{
    char hex[SHA256_HEX_LEN + 1];
    int use_token = token != NULL && token[0] != '\0';
    const char *who = use_token ? token : addr ? addr : "";
    int n;

    sha256_hex(who, strlen(who), hex, sizeof(hex));
    n = snprintf(out, size, "%c%s:%s", use_token ? 't' : 'a', hex, key);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}
