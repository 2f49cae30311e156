/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The examples of docs/examples run on a private bus, as their readers would run them on the session
 * bus: the C one built in this tree, the C one built against an installed copy of libchildwatch
 * (headers and pkg-config file as `meson install` puts them), and the Python one. Each must print
 * its three lines, exit with the child's status 3, and leave no process object behind. */

#include "cw-test.h"

#include <string.h>

typedef struct Run {
        GSubprocess *sub;
        gboolean done;
        char *out;
        char *err;
        GError *error;
} Run;

static void on_communicated(GObject *source, GAsyncResult *result, gpointer user_data) {
        Run *run = user_data;
        (void) g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), result, &run->out, &run->err,
                                                    &run->error);
        run->done = TRUE;
}

static gboolean run_done(gpointer data) {
        return ((Run *) data)->done;
}

/* Runs @argv with the test bus as the session bus; returns its stdout, sets its exit status and
 * stderr. Bounded: killed (and the test failed) after cw_timeout_ms(30000). */
static char *run_example(CwFixture *f, const char *const *argv, const char *const *extra_env,
                         int *ret_status, char **ret_err) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) launcher =
                g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
        Run run = { 0 };

        /* What a desktop session has: a session bus address, nothing that says who started us. */
        g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS",
                                     g_test_dbus_get_bus_address(f->bus), TRUE);
        g_subprocess_launcher_unsetenv(launcher, "DBUS_STARTER_ADDRESS");
        g_subprocess_launcher_unsetenv(launcher, "DBUS_STARTER_BUS_TYPE");
        for (const char *const *e = extra_env; e && *e; e += 2)
                g_subprocess_launcher_setenv(launcher, e[0], e[1], TRUE);
        run.sub = g_subprocess_launcher_spawnv(launcher, argv, &error);
        g_assert_no_error(error);
        g_subprocess_communicate_utf8_async(run.sub, NULL, NULL, on_communicated, &run);
        if (!cw_wait_until(run_done, &run, cw_timeout_ms(30000))) {
                g_subprocess_force_exit(run.sub);
                (void) cw_wait_until(run_done, &run, cw_timeout_ms(10000));
                g_error("%s did not end within %u ms", argv[0], cw_timeout_ms(30000));
        }
        g_assert_no_error(run.error);
        g_assert_true(g_subprocess_get_if_exited(run.sub));
        *ret_status = g_subprocess_get_exit_status(run.sub);
        *ret_err = run.err;
        g_clear_object(&run.sub);
        return run.out;
}

/* The output of both examples, and what it must have done on the bus. */
static void assert_example_outcome(CwFixture *f, const char *out, const char *err, int status) {
        g_autoptr(GMatchInfo) match = NULL;
        g_autoptr(GRegex) regex =
                g_regex_new("^spawned (/org/childwatch/ChildWatch1/process/[0-9]+) \\(pid ([0-9]+)\\)\n"
                            "state-changed: exited 3\n"
                            "ended: exited 3\n$",
                            0, 0, NULL);

        g_test_message("stdout: %s", out);
        g_test_message("stderr: %s", err);
        g_assert_cmpstr(err, ==, "");
        g_assert_cmpint(status, ==, 3);
        if (!g_regex_match(regex, out, 0, &match))
                g_error("unexpected output:\n%s", out);

        g_autofree char *path = g_match_info_fetch(match, 1);
        g_autofree char *pid = g_match_info_fetch(match, 2);
        /* The service saw the same end, once, and the example released the object. */
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 3);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_true(cw_pid_gone(GINT_TO_POINTER((int) g_ascii_strtoll(pid, NULL, 10))));
}

static const char *env_or_fail(const char *name) {
        const char *value = g_getenv(name);
        if (!value || !*value)
                g_error("%s is not set: run this test through meson test", name);
        return value;
}

static void test_example_c(CwFixture *f, gconstpointer data) {
        const char *const argv[] = { env_or_fail("CHILDWATCH_EXAMPLE_C"), NULL };
        g_autofree char *err = NULL;
        int status = -1;

        g_autofree char *out = run_example(f, argv, NULL, &status, &err);
        assert_example_outcome(f, out, err, status);
}

static void test_example_python(CwFixture *f, gconstpointer data) {
        const char *python = g_getenv("CHILDWATCH_PYTHON_GI");

        if (!python || !*python) {
                /* CI fails on a skip: the package is then missing from .ci/install-deps. */
                g_test_skip("no python3 with the gi module (Debian: python3-gi)");
                return;
        }
        const char *const argv[] = { python, env_or_fail("CHILDWATCH_EXAMPLE_PY"), NULL };
        g_autofree char *err = NULL;
        int status = -1;

        g_autofree char *out = run_example(f, argv, NULL, &status, &err);
        assert_example_outcome(f, out, err, status);
}

/* Runs @argv to its end (bounded); asserts it exited 0 and returns its stdout. */
static char *check_output(const char *const *argv, const char *const *extra_env) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) launcher =
                g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
        Run run = { 0 };

        for (const char *const *e = extra_env; e && *e; e += 2)
                g_subprocess_launcher_setenv(launcher, e[0], e[1], TRUE);
        run.sub = g_subprocess_launcher_spawnv(launcher, argv, &error);
        g_assert_no_error(error);
        g_subprocess_communicate_utf8_async(run.sub, NULL, NULL, on_communicated, &run);
        if (!cw_wait_until(run_done, &run, cw_timeout_ms(120000))) {
                g_subprocess_force_exit(run.sub);
                (void) cw_wait_until(run_done, &run, cw_timeout_ms(10000));
                g_error("%s did not end in time", argv[0]);
        }
        g_assert_no_error(run.error);
        if (!g_subprocess_get_successful(run.sub))
                g_error("%s failed:\n%s%s", argv[0], run.out, run.err);
        g_free(run.err);
        g_clear_object(&run.sub);
        return run.out;
}

/* Installs the build tree into a temporary DESTDIR, builds the C example there as the comment at its
 * top says (cc + pkg-config childwatch-1), and runs it against the installed library. */
static void test_example_c_installed(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *destdir = cw_make_tmpdir();
        g_autofree char *exe = g_build_filename(destdir, "spawn-wait", NULL);
        const char *libdir = env_or_fail("CHILDWATCH_LIBDIR"); /* absolute, under the prefix */
        g_autofree char *installed_libdir = g_build_filename(destdir, libdir, NULL);
        g_autofree char *pc_dir = g_build_filename(installed_libdir, "pkgconfig", NULL);

        const char *const install[] = { env_or_fail("CHILDWATCH_MESON"),
                                        "install",
                                        "-C",
                                        env_or_fail("CW_BUILD_ROOT"),
                                        "--no-rebuild",
                                        "--quiet",
                                        "--destdir",
                                        destdir,
                                        NULL };
        g_free(check_output(install, NULL));

        const char *const pc_env[] = { "PKG_CONFIG_PATH", pc_dir, NULL };
        const char *const pkg_config[] = { "pkg-config", "--cflags", "--libs", "childwatch-1", NULL };
        g_autofree char *flags = check_output(pkg_config, pc_env);
        g_test_message("pkg-config childwatch-1: %s", flags);
        g_assert_nonnull(strstr(flags, "-lchildwatch-1"));

        g_auto(GStrv) cc = NULL;
        g_auto(GStrv) flag_words = NULL;
        g_assert_true(g_shell_parse_argv(env_or_fail("CHILDWATCH_CC"), NULL, &cc, &error));
        g_assert_true(g_shell_parse_argv(flags, NULL, &flag_words, &error));
        g_assert_no_error(error);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        g_strv_builder_addv(b, (const char **) cc);
        g_strv_builder_add_many(b, "-std=gnu17", "-Wall", "-Wextra", "-Werror", "-o", exe,
                                env_or_fail("CHILDWATCH_EXAMPLE_C_SOURCE"), NULL);
        /* The .pc file names the final paths: those of ours are under DESTDIR for now. (Not
         * PKG_CONFIG_SYSROOT_DIR: it would move GLib's paths too.) */
        guint moved = 0;
        for (char **w = flag_words; *w; w++) {
                if ((g_str_has_prefix(*w, "-I") || g_str_has_prefix(*w, "-L")) &&
                    g_path_is_absolute(*w + 2)) {
                        g_autofree char *staged = g_build_filename(destdir, *w + 2, NULL);
                        if (g_file_test(staged, G_FILE_TEST_IS_DIR) &&
                            !g_file_test(*w + 2, G_FILE_TEST_IS_DIR)) {
                                g_autofree char *flag = g_strdup_printf("%.2s%s", *w, staged);
                                g_strv_builder_add(b, flag);
                                moved++;
                                continue;
                        }
                }
                g_strv_builder_add(b, *w);
        }
        /* -I.../include/childwatch-1 and -L<libdir>, unless the prefix is installed for real. */
        if (moved != 2)
                g_test_message("%u paths of pkg-config's answer were moved under DESTDIR", moved);
        g_auto(GStrv) compile = g_strv_builder_end(b);
        g_free(check_output((const char *const *) compile, NULL));

        /* The installed headers (the hand-written one and the generated proxies) and the library
         * under its soname. */
        const char *headers[] = { "childwatch.h", "childwatch-generated.h" };
        for (guint i = 0; i < G_N_ELEMENTS(headers); i++) {
                g_autofree char *h = g_build_filename(destdir, env_or_fail("CHILDWATCH_INCLUDEDIR"),
                                                      "childwatch-1", headers[i], NULL);
                g_assert_true(g_file_test(h, G_FILE_TEST_IS_REGULAR));
        }
        g_autofree char *soname = g_build_filename(installed_libdir, "libchildwatch-1.so.0", NULL);
        g_assert_true(g_file_test(soname, G_FILE_TEST_EXISTS));

        const char *const argv[] = { exe, NULL };
        const char *const run_env[] = { "LD_LIBRARY_PATH", installed_libdir, NULL };
        g_autofree char *err = NULL;
        int status = -1;
        g_autofree char *out = run_example(f, argv, run_env, &status, &err);
        assert_example_outcome(f, out, err, status);

        /* The example runs against the installed copy, not the build tree's. */
        const char *const ldd[] = { "ldd", exe, NULL };
        g_autofree char *ldd_out = check_output(ldd, run_env);
        g_autofree char *expected = g_strdup_printf("libchildwatch-1.so.0 => %s", soname);
        if (!strstr(ldd_out, expected))
                g_error("the example does not use the installed library:\n%s", ldd_out);

        const char *const rm[] = { "rm", "-rf", "--", destdir, NULL };
        g_free(check_output(rm, NULL));
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

        g_test_add("/examples/spawn-wait-c", CwFixture, NULL, cw_fixture_setup, test_example_c,
                   cw_fixture_teardown);
        g_test_add("/examples/spawn-wait-py", CwFixture, NULL, cw_fixture_setup, test_example_python,
                   cw_fixture_teardown);
        /* Not in a sanitizer build: a program built without the sanitizer cannot load its library. */
        if (g_getenv("CHILDWATCH_MESON"))
                g_test_add("/examples/spawn-wait-c-installed", CwFixture, NULL, cw_fixture_setup,
                           test_example_c_installed, cw_fixture_teardown);

        return g_test_run();
}
