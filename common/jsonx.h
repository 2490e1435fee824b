/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * jsonx.h - the JSON the orchestrator reads: client bodies and worker
 * replies; and the one form of a fraction in the JSON it writes.  Parsers
 * take buffers, not sockets, so the tests feed them bytes directly.
 */
#ifndef STEEL_JSONX_H
#define STEEL_JSONX_H

#include <stddef.h>

#include <json-c/json.h>

/* Nesting allowed in a client's body, and in a worker's reply, which
 * wraps that body in its own object: the reply limit must stay above the
 * body limit, or a valid body would make healthy workers look broken. */
#define JSONX_DEPTH_MAX 64
#define JSONX_REPLY_DEPTH_MAX (JSONX_DEPTH_MAX + 8)

enum jsonx_type {
    JSONX_OBJECT,
    JSONX_ARRAY,
    JSONX_STRING,
    JSONX_NUMBER,
    JSONX_LITERAL, /* true, false, null */
};

/* Checks that s[0..len) is exactly one JSON value by RFC 8259 (strings
 * valid UTF-8, no NUL, nesting at most JSONX_DEPTH_MAX), with white space
 * around it allowed.  Returns 0 with *type set, or -1 with *why set to a
 * static description.  Allocates nothing. */
int jsonx_validate(const char *s, size_t len, enum jsonx_type *type,
                   const char **why);

/* The characters a number of a client's body may have: a double needs
 * at most 24 ("-2.2250738585072014e-308"). */
#define JSONX_NUMBER_MAX 100

/* jsonx_validate for a client's body, which also holds it to I-JSON (RFC
 * 7493): no object with two members of one name (after unescaping), no
 * \u escape of a lone surrogate, no number beyond a double's range or
 * longer than JSONX_NUMBER_MAX characters.  Returns 0 with *type set, or
 * -1 with *why set to a static description.  Parses a body with two or
 * more object members with json-c to find duplicates (freed before it
 * returns). */
int jsonx_validate_body(const char *s, size_t len, enum jsonx_type *type,
                        const char **why);

/* Parses all of s[0..len) (a worker's reply) as one JSON value nested at
 * most JSONX_REPLY_DEPTH_MAX deep.  Returns the value, which the caller puts with json_object_put(), or
 * NULL with *why set to a static description. */
struct json_object *jsonx_parse(const char *s, size_t len, const char **why);

/* Reads the "id" of a worker's create reply into id (idsize bytes) after
 * checking the reply is an object with a routable string id.  Returns 0
 * or -1 with *why set. */
int jsonx_worker_session(const char *s, size_t len, char *id, size_t idsize,
                         const char **why);

/* Reads a worker's /status reply.  *available is 0 or 1; sid (sidsize
 * bytes) is "" for null.  Returns 0 or -1 with *why set. */
int jsonx_worker_status(const char *s, size_t len, int *available, char *sid,
                        size_t sidsize, const char **why);

/* Decimals of every fraction the API prints: milliseconds of a second. */
#define JSONX_FRACTION_DIGITS 3

/* A JSON number for value as a person reads it: rounded to
 * JSONX_FRACTION_DIGITS decimals and printed in that fixed form
 * ("55.779", "0.000", "-1.500"), never json-c's shortest round trip
 * ("55.779000000000003").  json_object_get_double() gives value back
 * unrounded.  A value that is not finite, which JSON cannot carry, is
 * printed 0.000; a negative value that rounds to zero loses its sign.
 * Returns a new reference (json_object_put, or hand it to a container), or
 * NULL when out of memory. */
struct json_object *jsonx_new_fraction(double value);

/* Writes value in jsonx_new_fraction's form into out (size bytes).  Returns
 * the length, or -1 when it does not fit.  Exposed for the tests. */
int jsonx_fraction_format(char *out, size_t size, double value);

#endif
