/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_util.c - number parsing, session id validation, random ids, key
 * building and which Redis errors call for a reconnect.  Process identity
 * is check_proc.c's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "keys.h"
#include "nodeid.h"
#include "rconn.h"
#include "sha256.h"
#include "util.h"

START_TEST(test_parse_long)
{
    long v = 0;

    ck_assert_int_eq(parse_long("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(parse_long("-1", 0, 100, &v), -1);
    ck_assert_int_eq(parse_long("101", 0, 100, &v), -1);
    ck_assert_int_eq(parse_long("", 0, 100, &v), -1);
    ck_assert_int_eq(parse_long("1 ", 0, 100, &v), -1);
    ck_assert_int_eq(parse_long("0x10", 0, 100, &v), -1);
    ck_assert_int_eq(parse_long("99999999999999999999", 0, LONG_MAX, &v),
                     -1);
}
END_TEST

START_TEST(test_session_ids)
{
    char longid[SESSION_ID_MAX + 2];

    ck_assert(session_id_valid("abc", 3));
    ck_assert(session_id_valid("550e8400-e29b-41d4-a716-446655440000", 36));
    ck_assert(session_id_valid("a.b_c~d", 7));
    ck_assert(!session_id_valid("", 0));
    ck_assert(!session_id_valid(".", 1));
    ck_assert(!session_id_valid("..", 2));
    ck_assert(!session_id_valid("a/b", 3));
    ck_assert(!session_id_valid("a%2F", 4));
    ck_assert(!session_id_valid("a\0b", 3));
    ck_assert(!session_id_valid("a\r\n", 3));
    ck_assert(!session_id_valid("a b", 3));
    memset(longid, 'a', sizeof(longid));
    ck_assert(session_id_valid(longid, SESSION_ID_MAX));
    ck_assert(!session_id_valid(longid, SESSION_ID_MAX + 1));
}
END_TEST

START_TEST(test_random_hex)
{
    char a[33], b[33];

    ck_assert_int_eq(random_hex(a, sizeof(a)), 0);
    ck_assert_int_eq(random_hex(b, sizeof(b)), 0);
    ck_assert_uint_eq(strlen(a), 32);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(random_hex(a, 10), -1);
}
END_TEST

/* FIPS 180-2 and NIST test vectors, and lengths around the padding
 * boundaries (55, 56, 64 bytes), checked against sha256sum. */
START_TEST(test_sha256)
{
    char hex[SHA256_HEX_LEN + 1], m[1000];

    sha256_hex("", 0, hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    memset(m, 'a', sizeof(m));
    sha256_hex(m, 55, hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    sha256_hex(m, 64, hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    sha256_hex(m, 1000, hex, sizeof(hex));
    ck_assert_str_eq(
        hex,
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}
END_TEST

START_TEST(test_keys)
{
    char k[KEY_MAX], small[8];

    ck_assert_int_eq(key_build(k, sizeof(k), KEY_SESSION, "steel", "abc"), 0);
    ck_assert_str_eq(k, "steel:session:abc");
    ck_assert_int_eq(key_build(k, sizeof(k), KEY_IDLE, "p", NULL), 0);
    ck_assert_str_eq(k, "p:idle");
    ck_assert_int_eq(key_build(small, sizeof(small), KEY_WORKER, "steel",
                               "123"),
                     -1);
}
END_TEST

/* No two (address, key) or (token, key) pairs share an Idempotency-Key
 * record, and the record's name is bounded whatever the address. */
START_TEST(test_idem_scope)
{
    char a[KEY_MAX], b[KEY_MAX], key[129], addr[64];

    ck_assert_int_eq(key_idem_scope(a, sizeof(a), NULL, "fd31::2", "1:K1"), 0);
    ck_assert_int_eq(key_idem_scope(b, sizeof(b), NULL, "fd31::2:1", "K1"), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(key_idem_scope(a, sizeof(a), "", "10.0.0.1", "k"), 0);
    ck_assert_int_eq(key_idem_scope(b, sizeof(b), NULL, "10.0.0.1", "k"), 0);
    ck_assert_str_eq(a, b); /* an empty token is no token */
    ck_assert_int_eq(key_idem_scope(a, sizeof(a), "tok", NULL, "x:y"), 0);
    ck_assert_int_eq(key_idem_scope(b, sizeof(b), "tok:x", NULL, "y"), 0);
    ck_assert_str_ne(a, b);
    /* The token's scope is its SHA-256, as records already stored have it;
     * no address scope looks like a token's. */
    ck_assert_str_eq(a, "t1a7674eb4ee78df7e1ac439a93c3fa8e3c945784d4dec9fd8e"
                        "3011738b2f1d62:x:y");
    ck_assert_int_eq(key_idem_scope(b, sizeof(b), NULL, "tok", "x:y"), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(b[0], 'a');
    /* Bounded: the longest address and key fit KEY_IDEM_SCOPE_MAX, and the
     * address never appears in the name. */
    memset(key, 'k', 128);
    key[128] = '\0';
    memset(addr, ':', 63);
    addr[63] = '\0';
    ck_assert_int_eq(key_idem_scope(a, KEY_IDEM_SCOPE_MAX, NULL, addr, key), 0);
    ck_assert_ptr_null(strstr(a, "::"));
    ck_assert_int_eq(key_idem_scope(a, 32, NULL, "10.0.0.1", key), -1);
}
END_TEST

START_TEST(test_reconnect_errors)
{
    ck_assert(rconn_error_needs_reconnect(
        "READONLY You can't write against a read only replica."));
    ck_assert(rconn_error_needs_reconnect("LOADING Redis is loading"));
    ck_assert(
        rconn_error_needs_reconnect("MASTERDOWN Link with MASTER is down"));
    ck_assert(rconn_error_needs_reconnect("NOAUTH Authentication required."));
    ck_assert(!rconn_error_needs_reconnect("ERR unknown command"));
    ck_assert(!rconn_error_needs_reconnect("NOSCRIPT No matching script"));
    ck_assert(!rconn_error_needs_reconnect("READONLYX"));
}
END_TEST

/* worker_host is judged by binding a socket to it: no netlink socket
 * (steel-spawner.service leaves AF_NETLINK out). */
START_TEST(test_local_addr)
{
    char err[256];

    ck_assert_int_eq(nodeid_local_addr("127.0.0.1", err, sizeof(err)), 0);
    ck_assert_int_eq(nodeid_local_addr("127.9.8.7", err, sizeof(err)), 0);
    ck_assert_int_eq(nodeid_check_local("localhost", err, sizeof(err)), 0);
    ck_assert_int_eq(nodeid_local_addr("192.0.2.55", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not an address of this host"));
    ck_assert_int_eq(nodeid_local_addr("0.0.0.0", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "wildcard"));
    ck_assert_int_eq(nodeid_local_addr("::", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "wildcard"));
    ck_assert_int_eq(nodeid_local_addr("2001:db8::7", err, sizeof(err)), -1);
    ck_assert_int_eq(nodeid_local_addr("node-a", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a numeric address"));
}
END_TEST

/* Writes an empty file at path. */
static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* dir_empty: a tree with a locked directory and a symbolic link out of
 * it is emptied; what the link points to survives; too deep fails. */
START_TEST(test_dir_empty)
{
    char top[] = "/tmp/check-dir-empty.XXXXXX", out[] = "/tmp/check-out.XXXXXX";
    char p[256], q[256];
    int fd;

    ck_assert_ptr_nonnull(mkdtemp(top));
    ck_assert_ptr_nonnull(mkdtemp(out));
    snprintf(q, sizeof(q), "%s/keep", out);
    touch(q);
    snprintf(p, sizeof(p), "%s/f", top);
    touch(p);
    snprintf(p, sizeof(p), "%s/.hidden", top);
    touch(p);
    snprintf(p, sizeof(p), "%s/link", top);
    ck_assert_int_eq(symlink(out, p), 0);
    snprintf(p, sizeof(p), "%s/locked", top);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/locked/sub", top);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/locked/sub/g", top);
    touch(p);
    snprintf(p, sizeof(p), "%s/locked", top);
    ck_assert_int_eq(chmod(p, 0), 0);
    fd = open(top, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dir_empty(fd, 8), 0);
    close(fd);
    ck_assert_int_eq(rmdir(top), 0); /* empty */
    ck_assert_int_eq(access(q, F_OK), 0);

    /* Deeper than allowed: ELOOP, and what is above stays consistent. */
    ck_assert_int_eq(mkdir(top, 0700), 0);
    snprintf(p, sizeof(p), "%s/a", top);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/a/b", top);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    fd = open(top, O_RDONLY | O_DIRECTORY);
    ck_assert_int_eq(dir_empty(fd, 1), -1);
    ck_assert_int_eq(errno, ELOOP);
    ck_assert_int_eq(dir_empty(fd, 2), 0);
    close(fd);
    ck_assert_int_eq(rmdir(top), 0);
    unlink(q);
    rmdir(out);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *normal = tcase_create("normal");

    tcase_add_test(normal, test_parse_long);
    tcase_add_test(normal, test_session_ids);
    tcase_add_test(normal, test_random_hex);
    tcase_add_test(normal, test_keys);
    tcase_add_test(normal, test_idem_scope);
    tcase_add_test(normal, test_sha256);
    tcase_add_test(normal, test_reconnect_errors);
    tcase_add_test(normal, test_local_addr);
    tcase_add_test(normal, test_dir_empty);
    suite_add_tcase(s, normal);
    return s;
}
