/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_json_body.c - libFuzzer target: the checks of a client's create
 * body (common/jsonx.c jsonx_validate_body, as sessions.c calls it).
 *
 * Properties: a body accepted as I-JSON is accepted by the plain RFC 8259
 * check with the same type, and json-c in strict mode parses all of it;
 * a refusal always says why.
 */
#include "config.h"

#include <json-c/json.h>

#include "fuzz.h"
#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *why = NULL, *why2 = NULL;
    enum jsonx_type type, type2;
    struct json_tokener *tok;
    struct json_object *v;

    if (jsonx_validate_body(s, size, &type, &why) < 0) {
        FUZZ_ASSERT(why != NULL);
        return 0;
    }
    FUZZ_ASSERT(jsonx_validate(s, size, &type2, &why2) == 0);
    FUZZ_ASSERT(type2 == type);
    tok = json_tokener_new_ex(JSONX_DEPTH_MAX + 1);
    FUZZ_ASSERT(tok != NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, s, (int)size);
    if (json_tokener_get_error(tok) == json_tokener_continue)
        v = json_tokener_parse_ex(tok, "", 1); /* a number at the end */
    FUZZ_ASSERT(json_tokener_get_error(tok) == json_tokener_success);
    FUZZ_ASSERT((v == NULL) == (type == JSONX_LITERAL && size >= 4 &&
                                memmem(s, size, "null", 4) != NULL));
    json_object_put(v);
    json_tokener_free(tok);
    return 0;
}
