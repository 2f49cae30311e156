/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl run --pty on a private bus: the program gets a terminal of the service as
 * stdin, stdout, stderr and controlling terminal, of the size asked for; input and output are
 * copied; a local terminal is put in raw mode and restored; SIGWINCH passes the new size on.
 * The local terminal is a pty that the test opens itself.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "test-ctl-util.h"

#define T(ms) cw_timeout_ms(ms)

static void setup(CwFixture *f, gconstpointer data) {
        cw_fixture_setup(f, data);
}

static void teardown(CwFixture *f, gconstpointer data) {
        cw_fixture_teardown(f, data);
}

#define assert_contains(haystack, needle)                                                                \
        G_STMT_START {                                                                                   \
                if (!strstr((haystack), (needle)))                                                       \
                        g_error("\"%s\" not found in:\n%s", (needle), (haystack));                       \
        } G_STMT_END

static void write_and_close(CtlProc *p, const char *text) {
        g_autoptr(GError) error = NULL;
        GOutputStream *in = ctl_proc_stdin(p);
        g_assert_true(g_output_stream_write_all(in, text, strlen(text), NULL, NULL, &error));
        g_assert_no_error(error);
        g_assert_true(g_output_stream_close(in, NULL, &error));
        g_assert_no_error(error);
}

static void test_size_and_input(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus), .stdin_pipe = TRUE };
        /* The program waits for a line before it ends, so that it is still running when
         * childwatchctl asks for the terminal (see test_early_output). */
        CtlProc *p = ctl_start_full(
                f->tmpdir, &how,
                (const char *const[]){ "run", "--pty", "--pty-size=33x101", "--", "sh", "-c",
                                       "test -t 0 && test -t 1 && test -t 2 || exit 9; stty size; "
                                       "read line; echo \"got:$line\"; exit 4",
                                       NULL });

        write_and_close(p, "hello\n");
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 4);
        /* The pty's own line discipline: \n becomes \r\n, input is echoed. */
        assert_contains(r.out, "33 101\r\n");
        assert_contains(r.out, "got:hello\r\n");
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

static void test_default_size(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        /* No local terminal, no --pty-size: the service's default. stdin is /dev/null: its end
         * reaches the program as end-of-file, so `read` returns. */
        ctl_run(f, &r,
                (const char *const[]){ "run", "--pty", "--", "sh", "-c", "stty size; read line; exit 0",
                                       NULL });
        ctl_assert_exit(&r, 0);
        assert_contains(r.out, "24 80\r\n");
}

static void test_stdin_eof(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus), .stdin_pipe = TRUE };
        CtlProc *p =
                ctl_start_full(f->tmpdir, &how, (const char *const[]){ "run", "--pty", "--", "cat", NULL });

        write_and_close(p, "abc\n");
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        /* Echoed by the terminal, then written by cat. */
        g_assert_cmpstr(r.out, ==, "abc\r\nabc\r\n");
}

static void test_session(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        /* A session leader ("s") in the foreground process group of its terminal ("+"): what a
         * job-control shell needs. */
        ctl_run(f, &r,
                (const char *const[]){ "run", "--pty", "--", "sh", "-c",
                                       "ps -o stat= -o tty= -p $$; tty; read line", NULL });
        ctl_assert_exit(&r, 1); /* read at end-of-file */
        g_auto(GStrv) lines = g_strsplit(r.out, "\r\n", -1);
        g_assert_cmpuint(g_strv_length(lines), >=, 2);
        g_assert_nonnull(strchr(lines[0], 's'));
        g_assert_nonnull(strchr(lines[0], '+'));
        assert_contains(lines[0], "pts/");
        g_assert_true(g_str_has_prefix(lines[1], "/dev/pts/"));
}

static void test_forwards_signals(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        CtlProc *p = ctl_start(f, (const char *const[]){ "run", "--pty", "--", "sleep", "300", NULL });
        g_free(ctl_wait_for_running_object(f, 1, T(30000)));

        /* SIGWINCH without a local terminal changes nothing; SIGTERM is forwarded. */
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGWINCH), ==, 0);
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGTERM), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 143);
}

/* ---- A local terminal ---- */

typedef struct Terminal {
        int master;
        int slave;
        GString *output; /* what childwatchctl wrote to it */
} Terminal;

static void terminal_open(Terminal *t, unsigned short rows, unsigned short columns) {
        struct winsize ws = { .ws_row = rows, .ws_col = columns };

        t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(t->master, >=, 0);
        g_assert_cmpint(grantpt(t->master), ==, 0);
        g_assert_cmpint(unlockpt(t->master), ==, 0);
        t->slave = open(ptsname(t->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(t->slave, >=, 0);
        g_assert_cmpint(ioctl(t->master, TIOCSWINSZ, &ws), ==, 0);
        g_assert_cmpint(fcntl(t->master, F_SETFL, O_NONBLOCK), ==, 0);
        t->output = g_string_new(NULL);
}

static void terminal_close(Terminal *t) {
        close(t->master);
        close(t->slave);
        g_string_free(t->output, TRUE);
}

typedef struct OutputWait {
        Terminal *t;
        const char *text;
} OutputWait;

static gboolean terminal_has(gpointer data) {
        OutputWait *w = data;
        char buf[4096];
        ssize_t k;
        while ((k = read(w->t->master, buf, sizeof(buf))) > 0)
                g_string_append_len(w->t->output, buf, k);
        return strstr(w->t->output->str, w->text) != NULL;
}

static void terminal_wait_for(Terminal *t, const char *text) {
        OutputWait w = { t, text };
        if (!cw_wait_until(terminal_has, &w, T(30000)))
                g_error("\"%s\" did not appear on the terminal; it shows:\n%s", text, t->output->str);
}

typedef struct SizeWait {
        pid_t pid;
        unsigned short rows, columns;
} SizeWait;

static gboolean remote_size_is(gpointer data) {
        SizeWait *w = data;
        char path[64];
        struct winsize ws;
        g_snprintf(path, sizeof(path), "/proc/%d/fd/0", (int) w->pid);
        int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return FALSE;
        gboolean ok = ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row == w->rows && ws.ws_col == w->columns;
        close(fd);
        return ok;
}

static void test_local_terminal(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        Terminal t;
        struct termios before, during, after;

        terminal_open(&t, 40, 120);
        g_assert_cmpint(tcgetattr(t.slave, &before), ==, 0);
        g_assert_true(before.c_lflag & ICANON);

        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus),
                         .stdin_fd = fcntl(t.slave, F_DUPFD_CLOEXEC, 3),
                         .stdout_fd = fcntl(t.slave, F_DUPFD_CLOEXEC, 3) };
        CtlProc *p = ctl_start_full(
                f->tmpdir, &how,
                (const char *const[]){ "run", "--pty", "--", "sh", "-c",
                                       "stty size; read line; stty size; echo \"got:$line\"; exit 3",
                                       NULL });

        /* The local size went with Spawn(). */
        terminal_wait_for(&t, "40 120\r\n");
        /* The local terminal is raw now: no line editing, no echo, no signals from keys. */
        g_assert_cmpint(tcgetattr(t.slave, &during), ==, 0);
        g_assert_false(during.c_lflag & (ICANON | ECHO | ISIG));

        /* The window changes; the kernel would send SIGWINCH to the foreground job. */
        g_autofree char *path = ctl_wait_for_running_object(f, 1, T(30000));
        SizeWait w = { (pid_t) cw_get_u32(f->conn, path, CW_PROCESS_IFACE, "Pid"), 50, 132 };
        struct winsize ws = { .ws_row = 50, .ws_col = 132 };
        g_assert_cmpint(ioctl(t.master, TIOCSWINSZ, &ws), ==, 0);
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGWINCH), ==, 0);
        g_assert_true(cw_wait_until(remote_size_is, &w, T(10000)));

        /* Typing: raw bytes go through to the program's terminal. */
        g_assert_cmpint(write(t.master, "typed\n", 6), ==, 6);
        terminal_wait_for(&t, "got:typed\r\n");
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 3);
        (void) terminal_has(&(OutputWait){ &t, "" });
        assert_contains(t.output->str, "50 132\r\n");

        /* The local terminal is as it was. */
        g_assert_cmpint(tcgetattr(t.slave, &after), ==, 0);
        g_assert_cmpint(after.c_lflag, ==, before.c_lflag);
        g_assert_cmpint(after.c_iflag, ==, before.c_iflag);
        g_assert_cmpint(after.c_oflag, ==, before.c_oflag);
        g_assert_cmpint(after.c_cflag, ==, before.c_cflag);
        g_assert_cmpint(memcmp(after.c_cc, before.c_cc, sizeof(before.c_cc)), ==, 0);
        terminal_close(&t);
}

static gboolean terminal_is_raw(gpointer fd) {
        struct termios now;
        return tcgetattr(GPOINTER_TO_INT(fd), &now) == 0 && !(now.c_lflag & ICANON);
}

static void test_local_terminal_restored_on_signal(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        Terminal t;
        struct termios before, after;

        terminal_open(&t, 24, 80);
        g_assert_cmpint(tcgetattr(t.slave, &before), ==, 0);
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus),
                         .stdin_fd = fcntl(t.slave, F_DUPFD_CLOEXEC, 3),
                         .stdout_fd = fcntl(t.slave, F_DUPFD_CLOEXEC, 3) };
        CtlProc *p = ctl_start_full(
                f->tmpdir, &how,
                (const char *const[]){ "run", "--pty", "--", "sh", "-c", "echo ready; sleep 300", NULL });
        terminal_wait_for(&t, "ready\r\n");

        /* SIGTSTP: childwatchctl stops (the program too), with the terminal as it was, so that
         * a shell can use it; SIGCONT makes it raw again. */
        pid_t ctl = ctl_proc_pid(p);
        g_assert_cmpint(kill(ctl, SIGTSTP), ==, 0);
        g_assert_true(ctl_wait_for_proc_state(ctl, 'T', FALSE, T(10000)));
        g_assert_cmpint(tcgetattr(t.slave, &after), ==, 0);
        g_assert_cmpint(after.c_lflag, ==, before.c_lflag);
        g_assert_cmpint(kill(ctl, SIGCONT), ==, 0);
        g_assert_true(cw_wait_until(terminal_is_raw, GINT_TO_POINTER(t.slave), T(10000)));
        g_assert_cmpint(cw_proc_state(ctl), !=, 'T');

        /* SIGHUP (the terminal window closed): forwarded, and the terminal restored. */
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGHUP), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 128 + SIGHUP);
        g_assert_cmpint(tcgetattr(t.slave, &after), ==, 0);
        g_assert_cmpint(after.c_lflag, ==, before.c_lflag);
        g_assert_cmpint(after.c_iflag, ==, before.c_iflag);
        g_assert_cmpint(after.c_oflag, ==, before.c_oflag);
        terminal_close(&t);
}

/*
 * What a program writes before childwatchctl got its terminal from GetPty() must not be lost,
 * also when the program has ended by then (API: "the service keeps it open until the process
 * ends, so output written before anyone asked is not lost"). A program as short as this one
 * often ends before GetPty() arrives; the service then answers NotRunning and has closed the
 * terminal with the output in it. This fails until the service keeps the master for an ended
 * process that nobody has asked for yet (see the report of this change).
 */
static void test_early_output(CwFixture *f, gconstpointer data) {
        for (int i = 0; i < 30; i++) {
                g_auto(CtlResult) r = { 0 };
                ctl_run(f, &r,
                        (const char *const[]){ "run", "--pty", "--pty-size=33x101", "--", "sh", "-c",
                                               "test -t 0 && stty size", NULL });
                ctl_assert_exit(&r, 0);
                if (!strstr(r.out, "33 101\r\n"))
                        g_error("run %d: the output is lost: stdout \"%s\", stderr \"%s\"", i, r.out, r.err);
        }
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

#define ADD(name, fn) g_test_add("/ctl/pty/" name, CwFixture, NULL, setup, fn, teardown)
        ADD("size-and-input", test_size_and_input);
        ADD("default-size", test_default_size);
        ADD("stdin-eof", test_stdin_eof);
        ADD("session", test_session);
        ADD("forwards-signals", test_forwards_signals);
        ADD("local-terminal", test_local_terminal);
        ADD("local-terminal-restored-on-signal", test_local_terminal_restored_on_signal);
        ADD("early-output", test_early_output);
#undef ADD
        return g_test_run();
}
