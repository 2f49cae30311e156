/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The service's command line (API.md, "The service's command line"): the
 * defaults, every option, and that every bad argument is refused instead of
 * being half-applied. Refusals print their reason to stderr; that output is
 * expected here.
 */

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"

#define USEC_PER_SEC UINT64_C(1000000)

/* Runs config_parse_argv() on "childwatchd" + the NULL-terminated arguments. */
static int parse_args(Config *ret, const char *first, ...) {
        g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
        va_list ap;

        g_ptr_array_add(args, g_strdup("childwatchd"));
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(args, g_strdup(a));
        va_end(ap);
        g_ptr_array_add(args, NULL);

        /* getopt_long() permutes argv, so it gets a copy of its own. */
        return config_parse_argv((int) args->len - 1, (char **) args->pdata, ret);
}

static void test_defaults(void) {
        Config c;

        g_assert_cmpint(parse_args(&c, NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_DEFAULT);
        g_assert_null(c.address);
        g_assert_false(c.multi_user);
        g_assert_cmpuint(c.idle_timeout_usec, ==, 30 * USEC_PER_SEC);
        g_assert_cmpuint(c.linger_usec, ==, 60 * USEC_PER_SEC);
        g_assert_cmpuint(c.max_processes, ==, 32768);
        g_assert_cmpuint(c.max_processes_per_user, ==, 256);
        g_assert_cmpint(c.log_level, ==, 6);
        g_assert_false(c.show_help);
        g_assert_false(c.show_version);
        config_done(&c);
}

static void test_bus_options(void) {
        Config c;

        g_assert_cmpint(parse_args(&c, "--session", NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_SESSION);
        g_assert_false(c.multi_user);
        config_done(&c);

        /* The system bus means multi-user mode (API.md), without --multi-user. */
        g_assert_cmpint(parse_args(&c, "--system", NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_SYSTEM);
        g_assert_true(c.multi_user);
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "--address=unix:path=/run/x", NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_ADDRESS);
        g_assert_cmpstr(c.address, ==, "unix:path=/run/x");
        g_assert_false(c.multi_user);
        config_done(&c);
        g_assert_null(c.address);

        g_assert_cmpint(parse_args(&c, "--address", "unix:path=/run/y", NULL), ==, 0);
        g_assert_cmpstr(c.address, ==, "unix:path=/run/y");
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "--session", "--multi-user", NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_SESSION);
        g_assert_true(c.multi_user);
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "--multi-user", NULL), ==, 0);
        g_assert_cmpint(c.bus, ==, BUS_KIND_DEFAULT);
        g_assert_true(c.multi_user);
        config_done(&c);
}

static void test_bus_options_exclusive(void) {
        Config c = { .log_level = 42 };

        g_assert_cmpint(parse_args(&c, "--session", "--system", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args(&c, "--system", "--address=unix:path=/x", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args(&c, "--address=unix:path=/x", "--session", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args(&c, "--address=", NULL), ==, -EINVAL);
        /* A refused command line leaves the output alone. */
        g_assert_cmpint(c.log_level, ==, 42);
}

static void test_numbers(void) {
        Config c;

        g_assert_cmpint(parse_args(&c, "--idle-timeout=0", "--linger=1.5", "--max-processes=1",
                                   "--max-processes-per-user=4294967295", "--log-level=7", NULL),
                        ==, 0);
        g_assert_cmpuint(c.idle_timeout_usec, ==, 0);
        g_assert_cmpuint(c.linger_usec, ==, 1500000);
        g_assert_cmpuint(c.max_processes, ==, 1);
        g_assert_cmpuint(c.max_processes_per_user, ==, 4294967295U);
        g_assert_cmpint(c.log_level, ==, 7);
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "--idle-timeout", "2.000001", "--linger", "0", "--log-level", "0",
                                   "--max-processes", "5", "--max-processes-per-user", "6", NULL),
                        ==, 0);
        g_assert_cmpuint(c.idle_timeout_usec, ==, 2000001);
        g_assert_cmpuint(c.linger_usec, ==, 0);
        g_assert_cmpint(c.log_level, ==, 0);
        g_assert_cmpuint(c.max_processes, ==, 5);
        g_assert_cmpuint(c.max_processes_per_user, ==, 6);
        config_done(&c);

        /* The last of a repeated option wins. */
        g_assert_cmpint(parse_args(&c, "--max-processes=5", "--max-processes=9", NULL), ==, 0);
        g_assert_cmpuint(c.max_processes, ==, 9);
        config_done(&c);
}

static void test_tree_mode(void) {
        Config c;

        g_assert_cmpint(parse_args(&c, NULL), ==, 0);
        g_assert_cmpint(c.tree_mode, ==, TREE_MODE_AUTO);
        config_done(&c);

        static const struct {
                const char *arg;
                TreeMode mode;
        } cases[] = {
                { "--tree-mode=auto", TREE_MODE_AUTO },
                { "--tree-mode=cgroup", TREE_MODE_CGROUP },
                { "--tree-mode=process-group", TREE_MODE_PROCESS_GROUP },
        };
        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_assert_cmpint(parse_args(&c, cases[i].arg, NULL), ==, 0);
                g_assert_cmpint(c.tree_mode, ==, cases[i].mode);
                g_assert_cmpstr(tree_mode_to_string(c.tree_mode), ==, strchr(cases[i].arg, '=') + 1);
                config_done(&c);
        }

        c.tree_mode = TREE_MODE_CGROUP;
        g_assert_cmpint(parse_args(&c, "--tree-mode=cgroups", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args(&c, "--tree-mode=", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args(&c, "--tree-mode=Auto", NULL), ==, -EINVAL);
        g_assert_cmpint(c.tree_mode, ==, TREE_MODE_CGROUP); /* untouched on failure */
        g_assert_cmpint(tree_mode_from_string(NULL), ==, _TREE_MODE_INVALID);
        g_assert_null(tree_mode_to_string(_TREE_MODE_MAX));
        g_assert_null(tree_mode_to_string(_TREE_MODE_INVALID));
}

static void test_help_version(void) {
        Config c;

        g_assert_cmpint(parse_args(&c, "--help", NULL), ==, 0);
        g_assert_true(c.show_help);
        g_assert_false(c.show_version);
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "-h", NULL), ==, 0);
        g_assert_true(c.show_help);
        config_done(&c);

        g_assert_cmpint(parse_args(&c, "--version", NULL), ==, 0);
        g_assert_true(c.show_version);
        g_assert_false(c.show_help);
        config_done(&c);
}

static void test_errors(void) {
        static const char *const bad[][2] = {
                { "--max-processes=0", NULL },
                { "--max-processes-per-user=0", NULL },
                { "--max-processes=-1", NULL },
                { "--max-processes=4294967296", NULL },
                { "--max-processes=1k", NULL },
                { "--max-processes=", NULL },
                { "--idle-timeout=-1", NULL },
                { "--idle-timeout=1.0000001", NULL },
                { "--idle-timeout=", NULL },
                { "--idle-timeout=1s", NULL },
                { "--linger=abc", NULL },
                { "--linger=99999999999999999999", NULL },
                { "--log-level=8", NULL },
                { "--log-level=-1", NULL },
                { "--log-level=debug", NULL },
                { "--idle-timeout", NULL }, /* missing argument */
                { "--no-such-option", NULL },
                { "-x", NULL },
                { "--help=yes", NULL },
                { "unexpected", NULL },
                { "--session", "extra" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                Config c = { .address = NULL, .max_processes = 77 };
                g_test_message("refusing: %s %s", bad[i][0], bad[i][1] ?: "");
                g_assert_cmpint(parse_args(&c, bad[i][0], bad[i][1], NULL), ==, -EINVAL);
                g_assert_cmpuint(c.max_processes, ==, 77);
                g_assert_null(c.address);
        }
}

static void test_parse_seconds(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t usec;
        } cases[] = {
                { "0", 0, 0 },
                { "1", 0, 1000000 },
                { "0.5", 0, 500000 },
                { "1.000001", 0, 1000001 },
                { "1.5", 0, 1500000 },
                { "007", 0, 7000000 },
                { "0.000001", 0, 1 },
                { "30.000000", 0, 30000000 },
                /* The largest whole number of seconds whose microseconds fit in 64 bits. */
                { "18446744073709", 0, UINT64_C(18446744073709000000) },
                { "18446744073709.551615", 0, UINT64_MAX },
                { "18446744073709.551616", -ERANGE, 0 },
                { "18446744073709.999999", -ERANGE, 0 },
                { "18446744073710", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "1.0000001", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1.", -EINVAL, 0 },
                { ".5", -EINVAL, 0 },
                { "1.2.3", -EINVAL, 0 },
                { "1e3", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1s", -EINVAL, 0 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint64_t usec = 4242;
                g_test_message("parse_seconds(\"%s\")", cases[i].s);
                g_assert_cmpint(parse_seconds(cases[i].s, &usec), ==, cases[i].r);
                /* Failure leaves the output alone. */
                g_assert_cmpuint(usec, ==, cases[i].r == 0 ? cases[i].usec : 4242);
        }

        uint64_t usec = 4242;
        g_assert_cmpint(parse_seconds(NULL, &usec), ==, -EINVAL);
        g_assert_cmpuint(usec, ==, 4242);
}

static void test_parse_unsigned(void) {
        static const struct {
                const char *s;
                int r;
                unsigned value;
        } cases[] = {
                { "0", 0, 0 },
                { "1", 0, 1 },
                { "010", 0, 10 }, /* decimal, not octal */
                { "4294967295", 0, 4294967295U },
                { "4294967296", -ERANGE, 0 },
                { "18446744073709551615", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1a", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1.0", -EINVAL, 0 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                unsigned value = 4242;
                g_test_message("parse_unsigned(\"%s\")", cases[i].s);
                g_assert_cmpint(parse_unsigned(cases[i].s, &value), ==, cases[i].r);
                g_assert_cmpuint(value, ==, cases[i].r == 0 ? cases[i].value : 4242);
        }

        unsigned value = 4242;
        g_assert_cmpint(parse_unsigned(NULL, &value), ==, -EINVAL);
        g_assert_cmpuint(value, ==, 4242);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/cli/defaults", test_defaults);
        g_test_add_func("/cli/bus-options", test_bus_options);
        g_test_add_func("/cli/bus-options-exclusive", test_bus_options_exclusive);
        g_test_add_func("/cli/numbers", test_numbers);
        g_test_add_func("/cli/tree-mode", test_tree_mode);
        g_test_add_func("/cli/help-version", test_help_version);
        g_test_add_func("/cli/errors", test_errors);
        g_test_add_func("/cli/parse-seconds", test_parse_seconds);
        g_test_add_func("/cli/parse-unsigned", test_parse_unsigned);

        return g_test_run();
}
