/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The pty option of Spawn and Process.GetPty(): the program gets a pseudo-terminal as its
 * controlling terminal and stdio, of the size asked for before it started; the master is
 * kept by the service until the end, so output written before GetPty() is not lost.
 */

#include "cw-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static int get_pty(CwFixture *f, const char *path, GError **error) {
        g_autoptr(GUnixFDList) out = NULL;
        g_autoptr(GVariant) r = cw_call_with_fds(f->conn, path, CW_PROCESS_IFACE, "GetPty", NULL, "(h)", NULL, &out,
                                                 error);
        if (!r)
                return -1;
        gint32 idx;
        g_variant_get(r, "(h)", &idx);
        return g_unix_fd_list_get(out, idx, error);
}

/* Everything @fd gives until EOF/EIO (the slave side closed), bounded in time. */
static char *read_until_hangup(int fd, guint timeout_ms) {
        g_autoptr(GString) s = g_string_new(NULL);
        gint64 deadline = g_get_monotonic_time() + (gint64) cw_timeout_ms(timeout_ms) * 1000;

        for (;;) {
                gint64 left = (deadline - g_get_monotonic_time()) / 1000;
                if (left <= 0)
                        g_error("no hang-up of the pty within %u ms; read so far: %s", timeout_ms, s->str);
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int) left) <= 0)
                        continue;
                char buf[512];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        g_string_append_len(s, buf, n);
                        continue;
                }
                if (n == 0 || errno == EIO)
                        break;
                if (errno != EINTR && errno != EAGAIN)
                        g_error("read from the pty: %s", g_strerror(errno));
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void test_terminal(CwFixture *f, gconstpointer data) {
        /* Written before anyone holds the master: still there when GetPty() comes late. */
        const char *argv[] = { "sh", "-c",
                               "test -t 0 && test -t 1 && test -t 2 && echo isatty; stty size; "
                               "(: </dev/tty) 2>/dev/null && echo ctty-ok; tty; "
                               "read line; echo got:$line",
                               NULL };
        g_autoptr(GVariant) options = g_variant_ref_sink(
                g_variant_new_parsed("{'pty': <true>, 'pty-size': <(@u 33, @u 101)>}"));
        g_autoptr(GError) error = NULL;
        guint32 pid;

        g_autofree char *path = cw_spawn(f, argv, options, &pid);
        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "Pty"));
        cw_spin(200);
        int master = get_pty(f, path, &error);
        g_assert_no_error(error);
        g_assert_cmpint(master, >=, 0);

        /* The size is the one asked for, set before the program looked. */
        struct winsize ws = {};
        g_assert_cmpint(ioctl(master, TIOCGWINSZ, &ws), ==, 0);
        g_assert_cmpuint(ws.ws_row, ==, 33);
        g_assert_cmpuint(ws.ws_col, ==, 101);

        /* The service's sid/pgid are not the program's: it leads a session on the terminal. */
        CwProcStat st;
        g_assert_true(cw_proc_stat((pid_t) pid, &st));
        g_assert_cmpint(st.session, ==, (pid_t) pid);

        g_assert_cmpint(write(master, "hello\n", 6), ==, 6);
        g_autofree char *out = read_until_hangup(master, 10000);
        g_test_message("pty output: %s", out);
        g_assert_nonnull(strstr(out, "isatty"));
        g_assert_nonnull(strstr(out, "33 101"));
        /* /dev/tty opens only for a process with a controlling terminal. */
        g_assert_nonnull(strstr(out, "ctty-ok"));
        g_assert_nonnull(strstr(out, "/dev/pts/"));
        g_assert_nonnull(strstr(out, "got:hello"));
        close(master);

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        /* Ended, but the object exists: the terminal is still handed out (at EOF now). */
        master = get_pty(f, path, &error);
        g_assert_no_error(error);
        g_autofree char *rest = read_until_hangup(master, 5000);
        g_assert_cmpstr(rest, ==, "");
        close(master);
        cw_release(f->conn, path);
}

static void test_output_after_end(CwFixture *f, gconstpointer data) {
        /* A program that ends before anyone asked for its terminal: its output waits there. */
        const char *argv[] = { "sh", "-c", "test -t 1 && stty size", NULL };
        g_autoptr(GVariant) options = g_variant_ref_sink(
                g_variant_new_parsed("{'pty': <true>, 'pty-size': <(@u 12, @u 34)>}"));
        g_autoptr(GError) error = NULL;

        g_autofree char *path = cw_spawn(f, argv, options, NULL);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        int master = get_pty(f, path, &error);
        g_assert_no_error(error);
        g_autofree char *out = read_until_hangup(master, 5000);
        g_assert_nonnull(strstr(out, "12 34"));
        close(master);
        cw_release(f->conn, path);
}

typedef struct ForegroundQuery {
        int master;
        pid_t shell;
        pid_t job;
} ForegroundQuery;

/* For cw_wait_until(): the terminal's foreground process group is a job of the shell's, and
 * its leader runs sleep. */
static gboolean sleep_in_foreground(gpointer data) {
        ForegroundQuery *q = data;
        pid_t pgrp = 0;

        if (ioctl(q->master, TIOCGPGRP, &pgrp) < 0 || pgrp <= 0 || pgrp == q->shell)
                return FALSE;
        g_autofree char *comm = cw_proc_comm(pgrp);
        if (g_strcmp0(comm, "sleep") != 0)
                return FALSE;
        q->job = pgrp;
        return TRUE;
}

static void test_job_control(CwFixture *f, gconstpointer data) {
        /* An interactive shell on the terminal: job control works (a background job that reads
         * from the terminal is stopped by SIGTTIN), and ^C from the terminal reaches the
         * foreground job, not the shell. */
        const char *argv[] = { "sh", "-i", NULL };
        g_autoptr(GError) error = NULL;
        guint32 pid;

        g_autofree char *path = cw_spawn(f, argv, cw_one_option("pty", g_variant_new_boolean(TRUE)), &pid);
        int master = get_pty(f, path, &error);
        g_assert_no_error(error);
        /* ^C once sleep runs as the foreground job; then the job is gone (SIGINT), the shell
         * reads on. */
        const char *const keys[] = { "sleep 30\n", "\003", "echo after-interrupt\nexit 7\n" };
        ForegroundQuery q = { master, (pid_t) pid, 0 };
        for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
                if (i == 1 && !cw_wait_until(sleep_in_foreground, &q, cw_timeout_ms(10000)))
                        g_error("sleep 30 did not become the terminal's foreground job");
                if (i == 2 && !cw_wait_until(cw_pid_gone, GINT_TO_POINTER(q.job), cw_timeout_ms(10000)))
                        g_error("the foreground job %d did not end on ^C", (int) q.job);
                /* One key at a time, as typed. */
                for (const char *p = keys[i]; *p; p++)
                        g_assert_cmpint(write(master, p, 1), ==, 1);
        }
        g_autofree char *out = read_until_hangup(master, 15000);
        g_test_message("shell output: %s", out);
        g_assert_nonnull(strstr(out, "after-interrupt"));
        close(master);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 7);
        cw_release(f->conn, path);
}

static void test_refused(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "sleep", "30", NULL };
        g_autoptr(GError) error = NULL;

        /* Without pty: no terminal to hand out. */
        g_autofree char *path = cw_spawn(f, argv, NULL, NULL);
        g_assert_false(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "Pty"));
        g_assert_cmpint(get_pty(f, path, &error), <, 0);
        cw_assert_dbus_error(error, "org.freedesktop.DBus.Error.NotSupported");
        g_clear_error(&error);
        cw_kill(f->conn, path, 0, NULL, NULL);
        cw_release(f->conn, path);

        /* pty-size alone, or out of range. */
        static const char *const bad[] = {
                "{'pty-size': <(@u 24, @u 80)>}",
                "{'pty': <true>, 'pty-size': <(@u 0, @u 80)>}",
                "{'pty': <true>, 'pty-size': <(@u 24, @u 65536)>}",
                "{'pty': <true>, 'pty-size': <(24, 80)>}",
        };
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GVariant) o = g_variant_ref_sink(g_variant_new_parsed(bad[i]));
                g_autofree char *p = cw_spawn_full(f->conn, argv, o, NULL, NULL, &error);
                g_assert_null(p);
                cw_assert_dbus_error(error, "org.freedesktop.DBus.Error.InvalidArgs");
                g_clear_error(&error);
        }
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

int main(int argc, char *argv[]) {
        cw_test_init(&argc, &argv);
        g_test_add("/pty/terminal", CwFixture, NULL, cw_fixture_setup, test_terminal, cw_fixture_teardown);
        g_test_add("/pty/output-after-end", CwFixture, NULL, cw_fixture_setup, test_output_after_end,
                   cw_fixture_teardown);
        g_test_add("/pty/job-control", CwFixture, NULL, cw_fixture_setup, test_job_control, cw_fixture_teardown);
        g_test_add("/pty/refused", CwFixture, NULL, cw_fixture_setup, test_refused, cw_fixture_teardown);
        return g_test_run();
}
