/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_conf.c - libFuzzer target: the configuration parser
 * (common/conf.c conf_parse, conf_validate).
 *
 * Properties: a parse answers 0, or -1 with a NUL-ended message (one
 * about a line names the file: "fuzz.conf:N: ..."); string directives stay NUL-ended within their arrays; a
 * parse that succeeds and validates keeps every range of the table
 * (spot-checked: the port range, session_ttl, fcgi_threads).
 */
#include "config.h"

#include "conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf c;
    char *text = fuzz_cstr(data, size), err[512];
    int rc;

    if (conf_defaults(&c) < 0) {
        free(text);
        return 0;
    }
    err[0] = '\0';
    rc = conf_parse(&c, "fuzz.conf", text, err, sizeof(err));
    FUZZ_ASSERT(strnlen(err, sizeof(err)) < sizeof(err));
    if (rc < 0)
        FUZZ_ASSERT(err[0] != '\0');
    if (rc < 0 && strncmp(err, "fuzz.conf:", 10) == 0)
        FUZZ_ASSERT(err[10] >= '1' && err[10] <= '9');
    FUZZ_ASSERT(strnlen(c.redis, sizeof(c.redis)) < sizeof(c.redis));
    FUZZ_ASSERT(strnlen(c.key_prefix, sizeof(c.key_prefix)) <
                sizeof(c.key_prefix));
    FUZZ_ASSERT(strnlen(c.api_token, sizeof(c.api_token)) <
                sizeof(c.api_token));
    FUZZ_ASSERT(strnlen(c.log_level, sizeof(c.log_level)) <
                sizeof(c.log_level));
    if (rc == 0 && conf_validate(&c, err, sizeof(err)) == 0) {
        FUZZ_ASSERT(c.worker_port_min <= c.worker_port_max);
        FUZZ_ASSERT(c.session_ttl > 0);
        FUZZ_ASSERT(c.fcgi_threads > 0);
    }
    free(text);
    return 0;
}
