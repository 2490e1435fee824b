/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * json-check.c - a test helper of tests/bad-input.sh: is an answer body
 * the API's one error shape?
 *
 *     json-check FILE       prints the "error" code and exits 0 when FILE
 *                           holds exactly one JSON object (json-c in strict
 *                           mode, UTF-8 checked) with string members
 *                           "error" and "message"; else exits 1 and says
 *                           why on stderr
 *     json-check -a FILE    exits 0 when FILE is any one strict JSON value
 *
 * It checks steel-fcgi's and lighttpd's answers with a parser that is not
 * the project's own (common/jsonx.c), so a fault shared by the validator
 * and the writer cannot hide.  Bodies are read whole, at most 1 MiB.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#define BODY_MAX (1024 * 1024)

static char body[BODY_MAX + 1];

int main(int argc, char **argv)
{
    int any = argc == 3 && strcmp(argv[1], "-a") == 0;
    const char *path = argv[argc - 1];
    struct json_tokener *tok;
    struct json_object *v, *e, *m;
    enum json_tokener_error jerr;
    size_t len, end;
    FILE *f;
    int rc = 1;

    if (argc != 2 && !any) {
        fprintf(stderr, "usage: json-check [-a] FILE\n");
        return 2;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    len = fread(body, 1, sizeof(body) - 1, f);
    body[len] = '\0';
    if (len == BODY_MAX && fgetc(f) != EOF) {
        fprintf(stderr, "%s: over %d bytes\n", path, BODY_MAX);
        fclose(f);
        return 1;
    }
    fclose(f);
    tok = json_tokener_new();
    if (tok == NULL)
        return 1;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                    JSON_TOKENER_VALIDATE_UTF8);
    v = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    if (v == NULL || jerr != json_tokener_success) {
        fprintf(stderr, "%s: not JSON (%s): %.200s\n", path,
                json_tokener_error_desc(jerr), body);
        goto out;
    }
    /* Nothing but white space after the value. */
    for (end = json_tokener_get_parse_end(tok); end < len; end++) {
        if (body[end] != ' ' && body[end] != '\t' && body[end] != '\r' &&
            body[end] != '\n') {
            fprintf(stderr, "%s: bytes after the JSON value\n", path);
            goto out;
        }
    }
    if (any) {
        rc = 0;
        goto out;
    }
    if (!json_object_is_type(v, json_type_object) ||
        !json_object_object_get_ex(v, "error", &e) ||
        !json_object_is_type(e, json_type_string) ||
        !json_object_object_get_ex(v, "message", &m) ||
        !json_object_is_type(m, json_type_string)) {
        fprintf(stderr, "%s: not {\"error\": string, \"message\": string}: "
                        "%.200s\n",
                path, body);
        goto out;
    }
    printf("%s\n", json_object_get_string(e));
    rc = 0;
out:
    json_object_put(v);
    json_tokener_free(tok);
    return rc;
}
