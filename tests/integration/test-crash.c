/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The service killed with SIGKILL, as a crash or the OOM killer would end it: what it
 * spawned with kill-on-release does not outlive it (PR_SET_PDEATHSIG, set before the
 * execve()), what it spawned without keeps running, and the next call activates a new
 * instance that works. */

#include "cw-test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Gone, or a zombie: after the service's death its children re-parent to us (a
 * subreaper), and we reap them at teardown. */
static gboolean pid_dead(gpointer data) {
        pid_t pid = GPOINTER_TO_INT(data);
        return !cw_pid_exists(pid) || cw_proc_state(pid) == 'Z';
}

static void kill_service_hard(CwFixture *f, pid_t service) {
        g_assert_cmpint(kill(service, SIGKILL), ==, 0);
        /* The activation wrapper writes the status once the service is gone. */
        if (!cw_wait_until(cw_file_exists, f->status_file, cw_timeout_ms(10000)))
                g_error("the service did not die");
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(f->status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "137");
        /* The next instance is checked at teardown as usual. */
        g_assert_cmpint(unlink(f->status_file), ==, 0);
        f->service_pid = 0;
}

static void test_kill_on_release(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "sleep", "301", NULL };
        guint32 doomed, survivor, doomed_pty;

        pid_t service = cw_service_pid(f);
        g_autofree char *p1 = cw_spawn(f, argv, cw_one_option("kill-on-release", g_variant_new_boolean(TRUE)),
                                       &doomed);
        g_autofree char *p2 = cw_spawn(f, argv, NULL, &survivor);
        /* With new-session and a terminal, and so through the other steps of the child. */
        g_autofree char *p3 = cw_spawn(f, argv,
                                       g_variant_new_parsed("{'kill-on-release': <true>, 'pty': <true>}"),
                                       &doomed_pty);

        g_assert_true(cw_get_bool(f->conn, p1, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(f->conn, p2, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_true(cw_get_bool(f->conn, p3, CW_PROCESS_IFACE, "KillOnRelease"));

        kill_service_hard(f, service);
        if (!cw_wait_until(pid_dead, GINT_TO_POINTER((int) doomed), cw_timeout_ms(5000)))
                g_error("kill-on-release process %u outlived the service", doomed);
        if (!cw_wait_until(pid_dead, GINT_TO_POINTER((int) doomed_pty), cw_timeout_ms(5000)))
                g_error("kill-on-release process %u (pty) outlived the service", doomed_pty);
        g_assert_true(cw_pid_exists((pid_t) survivor));
        g_assert_cmpint(cw_proc_state((pid_t) survivor), !=, 'Z');
        g_assert_cmpint(kill((pid_t) survivor, SIGKILL), ==, 0);

        /* A call activates the next instance, which serves as before. */
        (void) cw_list_processes_count(f);
        pid_t next = cw_service_pid(f);
        g_assert_cmpint(next, >, 0);
        g_assert_cmpint(next, !=, service);
        cw_assert_service_alive(f, next);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        g_test_add("/crash/kill-on-release", CwFixture, NULL, cw_fixture_setup,
                   test_kill_on_release, cw_fixture_teardown);
        return g_test_run();
}
