/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Spawn: exit codes, failures to start, and what the end state looks like. */

#include "cw-test.h"

static void test_exit_code(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "sh", "-c", "exit 7", NULL };
        guint32 pid;
        g_autofree char *path = cw_spawn(f, argv, NULL, &pid);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 5000), ==, 7);
        g_assert_cmpuint(cw_count_events(f, path, "exited"), ==, 1);

        /* The end state stays readable, and Wait answers at once. */
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "exited");
        g_autoptr(GVariant) r = cw_call(f->conn, path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", &error);
        g_assert_no_error(error);
        const char *s;
        int status;
        g_variant_get(r, "(&si)", &s, &status);
        g_assert_cmpstr(s, ==, "exited");
        g_assert_cmpint(status, ==, 7);
        g_assert_cmpuint(cw_count_zombies(cw_service_pid(f)), ==, 0);
}

static void test_exec_failure(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/nonexistent", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn_full(f->conn, argv, NULL, NULL, NULL, &error);

        g_assert_null(path);
        cw_assert_dbus_error(error, CW_ERROR("SpawnFailed"));
        g_assert_nonnull(strstr(error->message, "execve(/nonexistent): No such file or directory"));

        /* No object and no process was left behind. */
        g_autoptr(GError) error2 = NULL;
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error2);
        g_assert_no_error(error2);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        g_assert_cmpuint(g_variant_n_children(list), ==, 0);
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 1); /* only the spawn helper */
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        g_test_add("/spawn/exit-code", CwFixture, NULL, cw_fixture_setup, test_exit_code, cw_fixture_teardown);
        g_test_add("/spawn/exec-failure", CwFixture, NULL, cw_fixture_setup, test_exec_failure,
                   cw_fixture_teardown);
        return g_test_run();
}
