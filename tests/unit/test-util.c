/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The leaf helpers of src/util/ that have no test of their own: the decimal parser and the
 * directory check. */

#include <errno.h>
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "util/fs-util.h"
#include "util/parse.h"

static void test_parse(void) {
        static const struct {
                const char *s;
                ParseFlags flags;
                int r;
                uint64_t value;
        } cases[] = {
                { "0", 0, 0, 0 },
                { "0", PARSE_NO_LEADING_ZERO, 0, 0 },
                { "42", PARSE_NO_LEADING_ZERO, 0, 42 },
                { "010", 0, 0, 10 }, /* decimal, not octal */
                { "010", PARSE_NO_LEADING_ZERO, -EINVAL, 0 },
                { "18446744073709551615", 0, 0, UINT64_MAX },
                { "18446744073709551616", 0, -ERANGE, 0 },
                { "99999999999999999999999", 0, -ERANGE, 0 },
                { "", 0, -EINVAL, 0 },
                { "-1", 0, -EINVAL, 0 },
                { "+1", 0, -EINVAL, 0 },
                { " 1", 0, -EINVAL, 0 },
                { "1 ", 0, -EINVAL, 0 },
                { "1a", 0, -EINVAL, 0 },
                { "0x10", 0, -EINVAL, 0 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint64_t value = 4242;
                g_test_message("parse_u64(\"%s\", %d)", cases[i].s, (int) cases[i].flags);
                g_assert_cmpint(parse_u64(cases[i].s, cases[i].flags, &value), ==, cases[i].r);
                g_assert_cmpuint(value, ==, cases[i].r == 0 ? cases[i].value : 4242);
        }

        uint64_t value = 4242;
        g_assert_cmpint(parse_u64(NULL, 0, &value), ==, -EINVAL);
        /* A prefix of a longer text: the rest is not looked at. */
        g_assert_cmpint(parse_u64_n("123 456", 3, 0, &value), ==, 0);
        g_assert_cmpuint(value, ==, 123);
        g_assert_cmpint(parse_u64_n("123 456", 4, 0, &value), ==, -EINVAL);
        g_assert_cmpint(parse_u64_max("300", 255, 0, &value), ==, -ERANGE);
        g_assert_cmpint(parse_u64_max("255", 255, 0, &value), ==, 0);
        g_assert_cmpuint(value, ==, 255);
}

static void test_is_usable_directory(void) {
        g_assert_true(is_usable_directory("/"));
        g_assert_true(is_usable_directory("/tmp"));
        g_assert_false(is_usable_directory("/nonexistent-childwatch"));
        g_assert_false(is_usable_directory("/etc/passwd"));
        g_assert_false(is_usable_directory("tmp"));
        g_assert_false(is_usable_directory(NULL));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/util/parse", test_parse);
        g_test_add_func("/util/is-usable-directory", test_is_usable_directory);
        return g_test_run();
}
