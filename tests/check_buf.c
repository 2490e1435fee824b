/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_buf.c - bounded buffers: normal appends, the hard maximum, JSON
 * string escaping.
 */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "check_suites.h"

START_TEST(test_append_grows)
{
    struct buf b;
    int i;

    buf_init(&b, 1 << 20);
    for (i = 0; i < 1000; i++)
        ck_assert_int_eq(buf_appends(&b, "abcdefghij"), 0);
    ck_assert_uint_eq(b.len, 10000);
    ck_assert_int_eq(b.data[b.len], '\0');
    ck_assert_int_eq(strncmp(b.data + 9990, "abcdefghij", 10), 0);
    buf_release(&b);
}
END_TEST

START_TEST(test_max_is_hard)
{
    struct buf b;

    buf_init(&b, 8);
    ck_assert_int_eq(buf_appends(&b, "12345678"), 0);
    ck_assert_int_eq(buf_appends(&b, "9"), -1);
    ck_assert_int_eq(b.overflow, 1);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_str_eq(b.data, "12345678");
    buf_reset(&b);
    ck_assert_int_eq(b.overflow, 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(buf_printf(&b, "%s", "123456789"), -1);
    ck_assert_int_eq(buf_printf(&b, "%d", 1234), 0);
    ck_assert_str_eq(b.data, "1234");
    buf_release(&b);
}
END_TEST

START_TEST(test_printf_long)
{
    struct buf b;
    char big[2000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_init(&b, 4096);
    ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
    ck_assert_uint_eq(b.len, 2001);
    ck_assert_int_eq(b.data[0], '<');
    ck_assert_int_eq(b.data[2000], '>');
    buf_release(&b);
}
END_TEST

START_TEST(test_json_escape)
{
    struct buf b;
    const char in[] = "a\"b\\c\n\x01\x7f\xc3\xa9";

    buf_init(&b, 256);
    ck_assert_int_eq(buf_append_json_str(&b, in, sizeof(in) - 1), 0);
    ck_assert_str_eq(b.data, "a\\\"b\\\\c\\u000a\\u0001\\u007f\xc3\xa9");
    buf_release(&b);
}
END_TEST

START_TEST(test_release_null_safe)
{
    struct buf b;

    buf_init(&b, 16);
    buf_release(&b);
    buf_release(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *normal = tcase_create("normal");
    TCase *limits = tcase_create("limits");

    tcase_add_test(normal, test_append_grows);
    tcase_add_test(normal, test_json_escape);
    tcase_add_test(normal, test_release_null_safe);
    tcase_add_test(limits, test_max_is_hard);
    tcase_add_test(limits, test_printf_long);
    suite_add_tcase(s, normal);
    suite_add_tcase(s, limits);
    return s;
}
