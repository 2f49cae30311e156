/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl against the service on a private bus per test (GTestDBus, the service
 * bus-activated from this build): every command, every exit code that a test can provoke,
 * --json parsed by python3's json module, signal forwarding of run --wait, and the end of
 * the service while run --wait and wait wait. The --pty tests are in test-ctl-pty.c, the
 * multi-user ones (AccessDenied, --system) in test-ctl-system.c.
 */

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-ctl-util.h"

#define T(ms) cw_timeout_ms(ms)

static void setup(CwFixture *f, gconstpointer data) {
        cw_fixture_setup(f, data);
}

static void teardown(CwFixture *f, gconstpointer data) {
        cw_fixture_teardown(f, data);
}

static gboolean contains(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle) != NULL;
}

#define assert_contains(haystack, needle)                                                                \
        G_STMT_START {                                                                                   \
                if (!contains((haystack), (needle)))                                                     \
                        g_error("\"%s\" not found in:\n%s", (needle), (haystack));                       \
        } G_STMT_END

/* Runs childwatchctl with @args and asserts its exit code. */
static void run_expect(CwFixture *f, CtlResult *r, int expected, const char *const *args) {
        ctl_run(f, r, args);
        ctl_assert_exit(r, expected);
}

/* Spawn() through the test's own connection, with a description. */
static char *spawn_described(CwFixture *f, const char *const *argv, const char *description,
                             guint32 *ret_pid) {
        return cw_spawn(f, argv, cw_one_option("description", g_variant_new_string(description)), ret_pid);
}

typedef struct EndQuery {
        CwFixture *f;
        const char *path;
} EndQuery;

static gboolean end_seen(gpointer data) {
        EndQuery *q = data;
        static const char *const terminal[] = { "exited", "killed", "dumped", "vanished" };
        for (size_t i = 0; i < G_N_ELEMENTS(terminal); i++)
                if (cw_count_events(q->f, q->path, terminal[i]) > 0)
                        return TRUE;
        return FALSE;
}

/* Waits (bounded) until the terminal StateChanged of @path reached the test's connection. */
static void wait_for_end(CwFixture *f, const char *path) {
        EndQuery q = { f, path };
        if (!cw_wait_until(end_seen, &q, T(10000)))
                g_error("no terminal StateChanged for %s", path);
}

static void kill_and_release(CwFixture *f, const char *path) {
        g_autofree char *state = NULL;
        int status;
        cw_kill(f->conn, path, 0, &state, &status);
        cw_release(f->conn, path);
}

/* ---- Command line ---- */

static void test_help(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        static const char *const commands[] = { "run",  "list",    "status", "signal", "kill",
                                                "wait", "release", "adopt",  "monitor" };

        run_expect(f, &r, 0, (const char *const[]){ "--help", NULL });
        assert_contains(r.out, "Usage:");
        assert_contains(r.out, "Exit status:");
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
                assert_contains(r.out, commands[i]);
        /* Every documented exit code is in the help. */
        static const char *const codes[] = { " 64 ",  " 65 ",  " 69 ",    " 70 ",  " 71 ",
                                             " 75 ",  " 77 ",  " 128+N ", " 201 ", " 202 ",
                                             " 203 ", " 204 ", " 205 ",   " 206 ", " 207 " };
        for (size_t i = 0; i < G_N_ELEMENTS(codes); i++)
                assert_contains(r.out, codes[i]);
        ctl_result_clear(&r);

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("childwatchctl %s [OPTION", commands[i]);
                run_expect(f, &r, 0, (const char *const[]){ commands[i], "--help", NULL });
                assert_contains(r.out, usage);
                ctl_result_clear(&r);
                run_expect(f, &r, 0, (const char *const[]){ "help", commands[i], NULL });
                assert_contains(r.out, usage);
                ctl_result_clear(&r);
        }
        run_expect(f, &r, 0, (const char *const[]){ "help", NULL });
        assert_contains(r.out, "Exit status:");
        ctl_result_clear(&r);
        run_expect(f, &r, 0, (const char *const[]){ "--version", NULL });
        assert_contains(r.out, PROJECT_VERSION);
        ctl_result_clear(&r);
        /* The run help states where the program runs by default. */
        run_expect(f, &r, 0, (const char *const[]){ "run", "--help", NULL });
        assert_contains(r.out, "current directory");
}

static void test_usage_errors(CwFixture *f, gconstpointer data) {
        const char *const *const cases[] = {
                (const char *const[]){ NULL },
                (const char *const[]){ "frobnicate", NULL },
                (const char *const[]){ "--frobnicate", "list", NULL },
                (const char *const[]){ "list", "--frobnicate", NULL },
                (const char *const[]){ "list", "extra", NULL },
                (const char *const[]){ "--user", "--system", "list", NULL },
                (const char *const[]){ "status", NULL },
                (const char *const[]){ "status", "1", "2", NULL },
                (const char *const[]){ "status", "abc", NULL },
                (const char *const[]){ "status", "01", NULL },
                (const char *const[]){ "status", "pid:", NULL },
                (const char *const[]){ "status", "pid:x", NULL },
                (const char *const[]){ "status", "/org/childwatch/ChildWatch1", NULL },
                (const char *const[]){ "signal", "1", NULL },
                (const char *const[]){ "signal", "1", "NOSUCHSIGNAL", NULL },
                (const char *const[]){ "signal", "1", "0", NULL },
                (const char *const[]){ "signal", "1", "RTMIN+999", NULL },
                (const char *const[]){ "kill", "--timeout=soon", "1", NULL },
                (const char *const[]){ "kill", NULL },
                (const char *const[]){ "wait", NULL },
                (const char *const[]){ "release", NULL },
                (const char *const[]){ "adopt", NULL },
                (const char *const[]){ "adopt", "-5", NULL },
                (const char *const[]){ "adopt", "x", NULL },
                (const char *const[]){ "run", NULL },
                (const char *const[]){ "run", "--wait", NULL },
                (const char *const[]){ "run", "--pty-size=0x80", "--pty", "--", "true", NULL },
                (const char *const[]){ "run", "--pty-size=24", "--pty", "--", "true", NULL },
                (const char *const[]){ "run", "--pty-size=24x80", "--", "true", NULL },
                (const char *const[]){ "run", "--kill-timeout=-1", "--", "true", NULL },
                (const char *const[]){ "run", "--kill-signal=NOPE", "--", "true", NULL },
                (const char *const[]){ "run", "-E", "=x", "--", "true", NULL },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_auto(CtlResult) r = { 0 };
                ctl_run(f, &r, cases[i]);
                g_test_message("case %zu: %s", i, r.err);
                ctl_assert_exit(&r, 64);
                assert_contains(r.err, "childwatchctl: ");
        }
        /* Nothing of that started anything. */
        if (cw_name_has_owner(f->conn))
                g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

/* ---- run ---- */

static void test_run_prints(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *path = NULL;
        guint32 pid = 0;

        run_expect(f, &r, 0, (const char *const[]){ "run", "--", "sleep", "300", NULL });
        g_auto(GStrv) words = g_strsplit(g_strstrip(r.out), " ", -1);
        g_assert_cmpuint(g_strv_length(words), ==, 2);
        path = g_strdup(words[0]);
        g_assert_true(g_str_has_prefix(path, "/org/childwatch/ChildWatch1/process/"));
        pid = (guint32) g_ascii_strtoull(words[1], NULL, 10);
        g_assert_cmpuint(cw_get_u32(f->conn, path, CW_PROCESS_IFACE, "Pid"), ==, pid);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_autoptr(GVariant) argv = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Argv");
        g_autofree const char **strv = g_variant_get_strv(argv, NULL);
        g_assert_cmpstr(strv[0], ==, "sleep");
        g_assert_cmpstr(strv[1], ==, "300");
        /* Without --watch-bus the program outlives childwatchctl. */
        g_assert_false(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus"));
        kill_and_release(f, path);
        ctl_result_clear(&r);

        /* --json, before or after the command. */
        for (int where = 0; where < 2; where++) {
                const char *const *args =
                        where == 0 ? (const char *const[]){ "--json", "run", "sleep", "300", NULL }
                                   : (const char *const[]){ "run", "--json", "sleep", "300", NULL };
                run_expect(f, &r, 0, args);
                g_autoptr(GVariant) o = ctl_parse_json(r.out);
                const char *p = ctl_json_str(o, "Path");
                g_autofree char *id = ctl_path_id_string(p);
                g_assert_cmpint(ctl_json_int(o, "Id"), ==, g_ascii_strtoll(id, NULL, 10));
                g_assert_cmpint(ctl_json_int(o, "Pid"), ==, cw_get_u32(f->conn, p, CW_PROCESS_IFACE, "Pid"));
                kill_and_release(f, p);
                ctl_result_clear(&r);
        }
}

static void test_run_environment(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *sub = g_build_filename(f->tmpdir, "sub", NULL);
        g_autofree char *cwd_arg = g_strdup_printf("--cwd=%s", sub);
        g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "CW_FROM_CTL", "ctl-value", TRUE);
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus), .env = env, .cwd = f->tmpdir };

        g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);

        /* By default the program runs where childwatchctl runs. */
        CtlProc *p =
                ctl_start_full(f->tmpdir, &how, (const char *const[]){ "run", "--wait", "--", "pwd", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, f->tmpdir);
        ctl_result_clear(&r);

        /* --cwd, absolute and relative (to childwatchctl's directory). */
        p = ctl_start_full(f->tmpdir, &how,
                           (const char *const[]){ "run", "--wait", cwd_arg, "--", "pwd", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, sub);
        ctl_result_clear(&r);
        p = ctl_start_full(f->tmpdir, &how,
                           (const char *const[]){ "run", "--wait", "-C", "sub", "--", "pwd", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, sub);
        ctl_result_clear(&r);

        /* -E NAME=VALUE, -E NAME (childwatchctl's value), --unset (of the service's own HOME). */
        p = ctl_start_full(f->tmpdir, &how,
                           (const char *const[]){ "run", "--wait", "-E", "CW_A=one two", "--env=CW_FROM_CTL",
                                                  "--unset=HOME", "--", "sh", "-c",
                                                  "echo \"A=$CW_A B=$CW_FROM_CTL H=${HOME-unset}\"", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, "A=one two B=ctl-value H=unset");
        ctl_result_clear(&r);

        /* --clear-env: only what -E says. */
        p = ctl_start_full(f->tmpdir, &how,
                           (const char *const[]){ "run", "--wait", "--clear-env", "-E", "ONLY=1", "--",
                                                  "/usr/bin/env", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, "ONLY=1");
        ctl_result_clear(&r);

        /* --cwd= (empty): the service's default, its home directory. */
        p = ctl_start_full(f->tmpdir, &how,
                           (const char *const[]){ "run", "--wait", "--cwd=", "--", "pwd", NULL });
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(g_strstrip(r.out), !=, f->tmpdir);

        /* run --wait released every object it waited for. */
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

static void test_run_stdio(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        /* stdout and stderr are childwatchctl's own; stdin too (/dev/null here: cat ends). */
        run_expect(f, &r, 0,
                   (const char *const[]){ "run", "--wait", "--", "sh", "-c", "echo out; echo err >&2; cat",
                                          NULL });
        g_assert_cmpstr(r.out, ==, "out\n");
        g_assert_cmpstr(r.err, ==, "err\n");
}

static void test_run_options(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        run_expect(f, &r, 0,
                   (const char *const[]){ "run", "--description=my sleeper", "--kill-signal=INT",
                                          "--kill-timeout=0.5", "--kill-on-release", "--", "sleep", "300",
                                          NULL });
        g_auto(GStrv) words = g_strsplit(g_strstrip(r.out), " ", -1);
        g_autofree char *path = g_strdup(words[0]);
        g_autoptr(GVariant) d = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Description");
        g_assert_cmpstr(g_variant_get_string(d, NULL), ==, "my sleeper");
        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus"));
        /* The kill signal is INT: kill says so. */
        g_autofree char *id = ctl_path_id_string(path);
        ctl_result_clear(&r);
        run_expect(f, &r, 0, (const char *const[]){ "kill", id, NULL });
        g_assert_cmpstr(r.out, ==, "killed 2\n");
        cw_release(f->conn, path);
        ctl_result_clear(&r);

        /* --watch-bus without --wait: childwatchctl leaves at once, so the program is stopped
         * (with its kill signal, TERM unless said otherwise). */
        run_expect(f, &r, 0, (const char *const[]){ "run", "--watch-bus", "--", "sleep", "300", NULL });
        g_auto(GStrv) words2 = g_strsplit(g_strstrip(r.out), " ", -1);
        g_assert_cmpint(cw_wait_for_event(f, words2[0], "killed", 10000), ==, SIGTERM);
        cw_release(f->conn, words2[0]);
}

/* Runs childwatchctl @args through bash, which opens /dev/null as its descriptors 3 to 16 first
 * (for --fd to pass). */
static void run_with_open_fds(CwFixture *f, CtlResult *r, const char *const *args) {
        const char *const prefix[] = { "bash", "-c",
                                       "exec \"$@\" 3</dev/null 4</dev/null 5</dev/null 6</dev/null "
                                       "7</dev/null 8</dev/null 9</dev/null 10</dev/null 11</dev/null "
                                       "12</dev/null 13</dev/null 14</dev/null 15</dev/null 16</dev/null",
                                       "bash", NULL };
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus), .prefix = prefix };
        ctl_proc_finish(ctl_start_full(f->tmpdir, &how, args), cw_timeout_ms(30000), r);
}

/* --fd passes descriptors as their own numbers, up to 16 in all with stdin, stdout and stderr
 * (what a stock dbus-daemon lets one message carry); more are refused before anything is sent. */
static void test_run_fds(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        /* 3 + 13 = 16: the program's table is exactly 0 to 15. */
        run_with_open_fds(f, &r,
                          (const char *const[]){ "run", "--wait", "--fd=3", "--fd=4", "--fd=5", "--fd=6",
                                                 "--fd=7", "--fd=8", "--fd=9", "--fd=10", "--fd=11", "--fd=12",
                                                 "--fd=13", "--fd=14", "--fd=15", "--", "sh", "-c",
                                                 "ls /proc/$$/fd; exit 0", NULL });
        ctl_assert_exit(&r, 0);
        /* ls sorts by name; no pipeline in the shell, which would hold a pipe while ls looks. */
        g_assert_cmpstr(r.out, ==, "0\n1\n10\n11\n12\n13\n14\n15\n2\n3\n4\n5\n6\n7\n8\n9\n");
        ctl_result_clear(&r);

        /* One more: refused with a usage error that says why, and nothing started. */
        run_with_open_fds(f, &r,
                          (const char *const[]){ "run", "--fd=3", "--fd=4", "--fd=5", "--fd=6", "--fd=7",
                                                 "--fd=8", "--fd=9", "--fd=10", "--fd=11", "--fd=12", "--fd=13",
                                                 "--fd=14", "--fd=15", "--fd=16", "--", "sleep", "300", NULL });
        ctl_assert_exit(&r, 64);
        g_assert_nonnull(strstr(r.err, "17 descriptors (14 --fd, 3 of stdin, stdout and stderr) are more than "
                                       "the 16 that one call may pass"));
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        ctl_result_clear(&r);

        /* Bad numbers. */
        run_with_open_fds(f, &r, (const char *const[]){ "run", "--fd=2", "--", "true", NULL });
        ctl_assert_exit(&r, 64);
        g_assert_nonnull(strstr(r.err, "Bad --fd \"2\""));
        ctl_result_clear(&r);
        run_with_open_fds(f, &r, (const char *const[]){ "run", "--fd=3", "--fd=3", "--", "true", NULL });
        ctl_assert_exit(&r, 64);
        g_assert_nonnull(strstr(r.err, "--fd=3 given twice"));
        ctl_result_clear(&r);
        run_with_open_fds(f, &r, (const char *const[]){ "run", "--fd=99", "--", "true", NULL });
        ctl_assert_exit(&r, 64);
        g_assert_nonnull(strstr(r.err, "descriptor 99 is not open"));
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

static void test_run_exit_codes(CwFixture *f, gconstpointer data) {
        static const struct {
                const char *script;
                int code;
        } cases[] = {
                { "exit 0", 0 },
                { "exit 3", 3 },
                { "exit 255", 255 },
                { "kill -TERM $$", 128 + SIGTERM },
                { "kill -KILL $$", 128 + SIGKILL },
                { "kill -USR2 $$", 128 + SIGUSR2 },
                /* Dumped core (or killed, where core dumps are off): 128 + SIGSEGV either way. */
                { "kill -SEGV $$", 128 + SIGSEGV },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_auto(CtlResult) r = { 0 };
                run_expect(
                        f, &r, cases[i].code,
                        (const char *const[]){ "run", "--wait", "--", "sh", "-c", cases[i].script, NULL });
                g_assert_cmpstr(r.err, ==, "");
        }

        /* The program cannot be started: 202, naming it; nothing is left behind. */
        g_auto(CtlResult) r = { 0 };
        run_expect(f, &r, 202, (const char *const[]){ "run", "--wait", "--", "/nonexistent/program", NULL });
        assert_contains(r.err, "/nonexistent/program");
        ctl_result_clear(&r);
        run_expect(f, &r, 202, (const char *const[]){ "run", "--cwd=/nonexistent", "--", "true", NULL });
        assert_contains(r.err, "/nonexistent");
        ctl_result_clear(&r);
        /* The service refuses an argument: 65 (an empty program name). */
        run_expect(f, &r, 65, (const char *const[]){ "run", "--", "", NULL });
        ctl_result_clear(&r);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

/* Starts `run --wait -- sleep 300` and returns it once its process runs. */
static CtlProc *start_waiting_sleep(CwFixture *f, const char *extra, char **ret_path, guint32 *ret_pid) {
        const char *const args[] = { "run", "--wait", extra ? extra : "--wait", "--", "sleep", "300", NULL };
        CtlProc *p = ctl_start(f, args);
        *ret_path = ctl_wait_for_running_object(f, 1, T(30000));
        *ret_pid = cw_get_u32(f->conn, *ret_path, CW_PROCESS_IFACE, "Pid");
        return p;
}

static void test_run_forwards_signals(CwFixture *f, gconstpointer data) {
        static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

        for (size_t i = 0; i < G_N_ELEMENTS(signals); i++) {
                g_auto(CtlResult) r = { 0 };
                g_autofree char *path = NULL;
                guint32 pid;
                CtlProc *p = start_waiting_sleep(f, NULL, &path, &pid);

                g_assert_cmpint(kill(ctl_proc_pid(p), signals[i]), ==, 0);
                ctl_proc_finish(p, T(30000), &r);
                /* The program got the signal and died of it, and childwatchctl says so like a
                 * shell: 128 + N (SIGTERM: 143). */
                ctl_assert_exit(&r, 128 + signals[i]);
                g_assert_true(cw_wait_until(cw_pid_gone, GINT_TO_POINTER(pid), T(10000)));
                wait_for_end(f, path);
                guint killed = cw_count_events(f, path, "killed"),
                      dumped = cw_count_events(f, path, "dumped");
                g_assert_cmpuint(killed + dumped, ==, 1);
                /* ... and released the object. */
                g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        }
}

static void test_run_stop_continue(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *path = NULL;
        guint32 pid;
        CtlProc *p = start_waiting_sleep(f, NULL, &path, &pid);
        pid_t ctl = ctl_proc_pid(p);

        /* SIGTSTP: the program gets SIGSTOP, and childwatchctl stops itself like a job. */
        g_assert_cmpint(kill(ctl, SIGTSTP), ==, 0);
        g_assert_cmpint(cw_wait_for_event(f, path, "stopped", 10000), ==, SIGSTOP);
        g_assert_true(ctl_wait_for_proc_state((pid_t) pid, 'T', FALSE, T(10000)));
        g_assert_true(ctl_wait_for_proc_state(ctl, 'T', FALSE, T(10000)));

        /* SIGCONT continues childwatchctl, which passes it on. */
        g_assert_cmpint(kill(ctl, SIGCONT), ==, 0);
        (void) cw_wait_for_event(f, path, "continued", 10000);
        g_assert_true(ctl_wait_for_proc_state((pid_t) pid, 'T', TRUE, T(10000)));
        g_assert_true(ctl_wait_for_proc_state(ctl, 'T', TRUE, T(10000)));
        g_assert_false(ctl_proc_done(p));

        g_assert_cmpint(kill(ctl, SIGTERM), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 143);
}

static void test_run_program_handles_signal(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        /* The program decides what a forwarded signal means; childwatchctl exits with its code. */
        CtlProc *p =
                ctl_start(f, (const char *const[]){
                                     "run", "--wait", "--", "sh", "-c",
                                     "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done", NULL });
        g_assert_true(ctl_proc_wait_for_output(p, "ready", FALSE, T(30000)));
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGTERM), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 7);
}

static void test_run_watch_bus(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *path = NULL;
        guint32 pid;
        CtlProc *p = start_waiting_sleep(f, "--kill-timeout=0.2", &path, &pid);

        /* With --wait, ending childwatchctl (here for good: SIGKILL) ends the program. */
        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_cmpint(kill(ctl_proc_pid(p), SIGKILL), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        g_assert_false(r.exited);
        g_assert_cmpint(r.term_sig, ==, SIGKILL);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, SIGTERM);
}

static void test_run_service_vanishes(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *path = NULL;
        guint32 pid;
        CtlProc *p = start_waiting_sleep(f, NULL, &path, &pid);
        g_autofree char *id = ctl_path_id_string(path);
        CwCallWatch *waits = cw_call_watch_new(f, "Wait");
        CtlProc *w = ctl_start(f, (const char *const[]){ "wait", id, NULL });
        pid_t service = cw_service_pid(f);

        /* Both wait (run --wait on StateChanged); the wait call reaches the service before it
         * goes. */
        cw_call_watch_wait(f, waits, 1);
        cw_call_watch_free(waits);
        g_assert_false(ctl_proc_done(w));
        /* The service stops (cleanly: teardown checks its exit status), the program keeps
         * running: nobody can tell how it will end. */
        g_assert_cmpint(kill(service, SIGTERM), ==, 0);
        ctl_proc_finish(p, T(30000), &r);
        ctl_assert_exit(&r, 75);
        assert_contains(r.err, "vanished");
        ctl_result_clear(&r);
        ctl_proc_finish(w, T(30000), &r);
        ctl_assert_exit(&r, 75);
        g_assert_true(cw_pid_exists((pid_t) pid));
}

/* ---- list, status ---- */

static void test_list(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        guint32 pid1, pid2;

        run_expect(f, &r, 0, (const char *const[]){ "list", "--json", NULL });
        g_assert_cmpstr(r.out, ==, "[]\n");
        ctl_result_clear(&r);

        g_autofree char *p1 =
                spawn_described(f, (const char *const[]){ "sleep", "300", NULL }, "first one", &pid1);
        g_autofree char *p2 = spawn_described(f, (const char *const[]){ "sh", "-c", "exit 4", NULL },
                                              "second \"quoted\"\ttab", &pid2);
        (void) cw_wait_for_event(f, p2, "exited", 10000);
        g_autofree char *id1 = ctl_path_id_string(p1);
        g_autofree char *id2 = ctl_path_id_string(p2);

        run_expect(f, &r, 0, (const char *const[]){ "list", NULL });
        g_auto(GStrv) lines = g_strsplit(r.out, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 4); /* header, two, "" */
        g_assert_true(g_str_has_prefix(lines[0], "ID"));
        assert_contains(lines[0], "PID");
        assert_contains(lines[0], "STATE");
        g_autofree char *pid1_text = g_strdup_printf(" %u ", pid1);
        g_assert_true(g_str_has_prefix(lines[1], id1));
        assert_contains(lines[1], pid1_text);
        assert_contains(lines[1], "running");
        assert_contains(lines[1], "first one");
        g_assert_true(g_str_has_prefix(lines[2], id2));
        assert_contains(lines[2], "exited");
        assert_contains(lines[2], "second \"quoted\"?tab"); /* no control characters in a table */
        ctl_result_clear(&r);

        run_expect(f, &r, 0, (const char *const[]){ "list", "--no-legend", NULL });
        g_auto(GStrv) bare = g_strsplit(r.out, "\n", -1);
        g_assert_cmpuint(g_strv_length(bare), ==, 3);
        g_assert_true(g_str_has_prefix(bare[0], id1));
        ctl_result_clear(&r);

        run_expect(f, &r, 0, (const char *const[]){ "list", "--json", NULL });
        g_autoptr(GVariant) list = ctl_parse_json(r.out);
        g_assert_cmpuint(g_variant_n_children(list), ==, 2);
        g_autoptr(GVariant) v1 = g_variant_get_child_value(list, 0);
        g_autoptr(GVariant) o1 = g_variant_get_variant(v1);
        g_autoptr(GVariant) v2 = g_variant_get_child_value(list, 1);
        g_autoptr(GVariant) o2 = g_variant_get_variant(v2);
        g_assert_cmpstr(ctl_json_str(o1, "Path"), ==, p1);
        g_assert_cmpint(ctl_json_int(o1, "Id"), ==, g_ascii_strtoll(id1, NULL, 10));
        g_assert_cmpint(ctl_json_int(o1, "Pid"), ==, pid1);
        g_assert_cmpstr(ctl_json_str(o1, "State"), ==, "running");
        g_assert_cmpstr(ctl_json_str(o1, "Description"), ==, "first one");
        g_assert_cmpstr(ctl_json_str(o2, "State"), ==, "exited");
        g_assert_cmpstr(ctl_json_str(o2, "Description"), ==, "second \"quoted\"\ttab");

        kill_and_release(f, p1);
        cw_release(f->conn, p2);
}

static void test_status(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        guint32 pid;
        g_autofree char *path =
                spawn_described(f, (const char *const[]){ "sleep", "300", NULL }, "napping", &pid);
        g_autofree char *id = ctl_path_id_string(path);
        g_autofree char *by_pid = g_strdup_printf("pid:%u", pid);
        g_autofree char *pid_text = g_strdup_printf("Pid: %u", pid);
        const char *const names[] = { id, by_pid, path };

        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                run_expect(f, &r, 0, (const char *const[]){ "status", names[i], NULL });
                g_assert_true(g_str_has_prefix(r.out, path));
                assert_contains(r.out, "State: running");
                assert_contains(r.out, pid_text);
                assert_contains(r.out, "Argv: sleep 300");
                assert_contains(r.out, "Description: napping");
                assert_contains(r.out, "Owner: :");
                assert_contains(r.out, "Started: 2");
                assert_contains(r.out, "Ended: -");
                ctl_result_clear(&r);
        }

        run_expect(f, &r, 0, (const char *const[]){ "status", "--json", id, NULL });
        g_autoptr(GVariant) o = ctl_parse_json(r.out);
        g_assert_cmpstr(ctl_json_str(o, "Path"), ==, path);
        g_assert_cmpint(ctl_json_int(o, "Id"), ==, g_ascii_strtoll(id, NULL, 10));
        g_assert_cmpint(ctl_json_int(o, "Pid"), ==, pid);
        g_assert_cmpstr(ctl_json_str(o, "State"), ==, "running");
        g_assert_cmpint(ctl_json_int(o, "ExitStatus"), ==, 0);
        g_assert_cmpint(ctl_json_int(o, "StartTimestamp"), >, 0);
        g_assert_cmpint(ctl_json_int(o, "ExitTimestamp"), ==, 0);
        g_assert_false(ctl_json_bool(o, "Adopted"));
        g_autoptr(GVariant) owner = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Owner");
        g_assert_cmpstr(ctl_json_str(o, "Owner"), ==, g_variant_get_string(owner, NULL));
        g_autoptr(GVariant) argv = ctl_json_get(o, "Argv");
        g_assert_cmpuint(g_variant_n_children(argv), ==, 2);
        ctl_result_clear(&r);

        /* Ended: how it ended, and when. */
        g_autofree char *state = NULL;
        int status;
        cw_kill(f->conn, path, 0, &state, &status);
        run_expect(f, &r, 0, (const char *const[]){ "status", id, NULL });
        assert_contains(r.out, "State: killed by signal 9 (KILL)");
        g_assert_false(contains(r.out, "Ended: -"));
        ctl_result_clear(&r);
        run_expect(f, &r, 0, (const char *const[]){ "--json", "status", id, NULL });
        g_autoptr(GVariant) ended = ctl_parse_json(r.out);
        g_assert_cmpstr(ctl_json_str(ended, "State"), ==, "killed");
        g_assert_cmpint(ctl_json_int(ended, "ExitStatus"), ==, SIGKILL);
        g_assert_cmpint(ctl_json_int(ended, "ExitTimestamp"), >=, ctl_json_int(ended, "StartTimestamp"));
        ctl_result_clear(&r);

        /* An ended process has no pid any more; unknown ids and pids: 201. */
        run_expect(f, &r, 201, (const char *const[]){ "status", by_pid, NULL });
        ctl_result_clear(&r);
        run_expect(f, &r, 201, (const char *const[]){ "status", "999", NULL });
        ctl_result_clear(&r);
        run_expect(f, &r, 201, (const char *const[]){ "status", "pid:1", NULL });
        cw_release(f->conn, path);
}

/* ---- signal, kill, wait, release ---- */

static void test_signal(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        guint32 pid;
        g_autofree char *path = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, &pid);
        g_autofree char *id = ctl_path_id_string(path);

        run_expect(f, &r, 0, (const char *const[]){ "signal", id, "STOP", NULL });
        g_assert_cmpint(cw_wait_for_event(f, path, "stopped", 10000), ==, SIGSTOP);
        ctl_result_clear(&r);
        run_expect(f, &r, 0, (const char *const[]){ "signal", id, "SIGCONT", NULL });
        (void) cw_wait_for_event(f, path, "continued", 10000);
        ctl_result_clear(&r);
        run_expect(f, &r, 0, (const char *const[]){ "signal", path, "usr1", NULL });
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, SIGUSR1);
        ctl_result_clear(&r);

        /* Ended: 203. Unknown: 201. */
        run_expect(f, &r, 203, (const char *const[]){ "signal", id, "15", NULL });
        ctl_result_clear(&r);
        run_expect(f, &r, 201, (const char *const[]){ "signal", "999", "TERM", NULL });
        ctl_result_clear(&r);
        cw_release(f->conn, path);

        /* --group: the process group of a process that leads one. */
        g_autofree char *leader = cw_spawn(f, (const char *const[]){ "sh", "-c", "sleep 300 & wait", NULL },
                                           cw_one_option("new-session", g_variant_new_boolean(TRUE)), NULL);
        g_autofree char *leader_id = ctl_path_id_string(leader);
        run_expect(f, &r, 0, (const char *const[]){ "signal", "--group", leader_id, "9", NULL });
        g_assert_cmpint(cw_wait_for_event(f, leader, "killed", 10000), ==, SIGKILL);
        cw_release(f->conn, leader);
}

static gboolean ignores_term(gpointer pid) {
        return cw_proc_ignores_signal((pid_t) GPOINTER_TO_UINT(pid), SIGTERM);
}

static void test_kill(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *path = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, NULL);
        g_autofree char *id = ctl_path_id_string(path);

        run_expect(f, &r, 0, (const char *const[]){ "kill", id, NULL });
        g_assert_cmpstr(r.out, ==, "killed 15\n");
        ctl_result_clear(&r);
        /* Ended already: reported as it ended. */
        run_expect(f, &r, 0, (const char *const[]){ "kill", "--json", id, NULL });
        g_autoptr(GVariant) o = ctl_parse_json(r.out);
        g_assert_cmpstr(ctl_json_str(o, "Path"), ==, path);
        g_assert_cmpstr(ctl_json_str(o, "State"), ==, "killed");
        g_assert_cmpint(ctl_json_int(o, "ExitStatus"), ==, SIGTERM);
        ctl_result_clear(&r);
        cw_release(f->conn, path);

        /* A program that ignores TERM gets SIGKILL after the grace period. */
        guint32 stubborn_pid;
        g_autofree char *stubborn =
                cw_spawn(f, (const char *const[]){ "sh", "-c", "trap '' TERM; exec sleep 300", NULL }, NULL,
                         &stubborn_pid);
        g_autofree char *stubborn_id = ctl_path_id_string(stubborn);
        g_assert_true(cw_wait_until(ignores_term, GUINT_TO_POINTER(stubborn_pid), T(10000)));
        gint64 start = g_get_monotonic_time();
        run_expect(f, &r, 0, (const char *const[]){ "kill", "--timeout=0.3", stubborn_id, NULL });
        g_assert_cmpstr(r.out, ==, "killed 9\n");
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 300 * 1000);
        ctl_result_clear(&r);
        cw_release(f->conn, stubborn);
        run_expect(f, &r, 201, (const char *const[]){ "kill", stubborn_id, NULL });
}

static void test_wait(CwFixture *f, gconstpointer data) {
        static const struct {
                const char *script;
                int code;
                const char *line;
        } cases[] = {
                { "sleep 0.3; exit 5", 5, "exited 5\n" },
                { "sleep 0.3; kill -USR1 $$", 128 + SIGUSR1, "killed 10\n" },
                { "exit 0", 0, "exited 0\n" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_auto(CtlResult) r = { 0 };
                g_autofree char *path =
                        cw_spawn(f, (const char *const[]){ "sh", "-c", cases[i].script, NULL }, NULL, NULL);
                g_autofree char *id = ctl_path_id_string(path);
                run_expect(f, &r, cases[i].code, (const char *const[]){ "wait", id, NULL });
                g_assert_cmpstr(r.out, ==, cases[i].line);
                ctl_result_clear(&r);
                run_expect(f, &r, cases[i].code, (const char *const[]){ "wait", "--json", path, NULL });
                g_autoptr(GVariant) o = ctl_parse_json(r.out);
                g_assert_cmpstr(ctl_json_str(o, "Path"), ==, path);
                cw_release(f->conn, path);
        }
        g_auto(CtlResult) r = { 0 };
        run_expect(f, &r, 201, (const char *const[]){ "wait", "999", NULL });
}

static void test_release(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        guint32 pid;
        g_autofree char *path = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, &pid);
        g_autofree char *id = ctl_path_id_string(path);

        run_expect(f, &r, 0, (const char *const[]){ "release", id, NULL });
        ctl_result_clear(&r);
        /* The object is gone, the process keeps running. */
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_cmpint(cw_proc_state((pid_t) pid), !=, 0);
        run_expect(f, &r, 201, (const char *const[]){ "release", id, NULL });
        ctl_result_clear(&r);
        run_expect(f, &r, 201, (const char *const[]){ "status", id, NULL });
        g_assert_cmpint(kill((pid_t) pid, SIGKILL), ==, 0);
}

/* ---- adopt ---- */

static gboolean service_has_pidfds(CwFixture *f) {
        g_autoptr(GVariant) features =
                cw_get_property(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **strv = g_variant_get_strv(features, NULL);
        return g_strv_contains(strv, "pidfd");
}

static GPid start_unreaped(const char *seconds) {
        g_autoptr(GError) error = NULL;
        GPid pid;
        const char *const argv[] = { "sleep", seconds, NULL };

        g_assert_true(g_spawn_async(NULL, (char **) argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                    &error));
        g_assert_no_error(error);
        return pid;
}

static void test_adopt(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        GPid pid = start_unreaped("300");
        g_autofree char *pid_text = g_strdup_printf("%d", (int) pid);
        int wstatus;

        if (!service_has_pidfds(f)) {
                /* Under valgrind: no pidfds, no adoption. */
                run_expect(f, &r, 206, (const char *const[]){ "adopt", pid_text, NULL });
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return;
        }

        run_expect(f, &r, 0, (const char *const[]){ "adopt", "--description=adoptee", pid_text, NULL });
        g_auto(GStrv) words = g_strsplit(g_strstrip(r.out), " ", -1);
        g_autofree char *path = g_strdup(words[0]);
        g_assert_cmpstr(words[1], ==, pid_text);
        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "Adopted"));
        g_autoptr(GVariant) d = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Description");
        g_assert_cmpstr(g_variant_get_string(d, NULL), ==, "adoptee");
        ctl_result_clear(&r);

        run_expect(f, &r, 204, (const char *const[]){ "adopt", pid_text, NULL });
        ctl_result_clear(&r);

        /* Signals go through the service to the adopted process. */
        g_autofree char *id = ctl_path_id_string(path);
        run_expect(f, &r, 0, (const char *const[]){ "signal", id, "TERM", NULL });
        ctl_result_clear(&r);
        g_assert_cmpint(waitpid(pid, &wstatus, 0), ==, pid);
        g_assert_true(WIFSIGNALED(wstatus));
        g_assert_cmpint(WTERMSIG(wstatus), ==, SIGTERM);
        wait_for_end(f, path);
        cw_release(f->conn, path);

        /* --json, and a process that is gone. */
        GPid other = start_unreaped("300");
        g_autofree char *other_text = g_strdup_printf("%d", (int) other);
        run_expect(f, &r, 0, (const char *const[]){ "adopt", "--json", other_text, NULL });
        g_autoptr(GVariant) o = ctl_parse_json(r.out);
        g_assert_cmpint(ctl_json_int(o, "Pid"), ==, other);
        g_autofree char *other_path = g_strdup(ctl_json_str(o, "Path"));
        ctl_result_clear(&r);
        g_assert_cmpint(kill(other, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(other, NULL, 0), ==, other);
        wait_for_end(f, other_path);
        cw_release(f->conn, other_path);
        run_expect(f, &r, 201, (const char *const[]){ "adopt", other_text, NULL });
}

static void test_wait_vanished(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        /* A process that is not the service's child and stays an unreaped zombie (ours) for
         * more than a second ends "vanished": how it ended is unknown, 207. */
        GPid pid = start_unreaped("0.5");
        g_autofree char *pid_text = g_strdup_printf("%d", (int) pid);

        if (!service_has_pidfds(f)) {
                run_expect(f, &r, 206, (const char *const[]){ "adopt", pid_text, NULL });
                (void) waitpid(pid, NULL, 0);
                return;
        }
        run_expect(f, &r, 0, (const char *const[]){ "adopt", pid_text, NULL });
        g_auto(GStrv) words = g_strsplit(g_strstrip(r.out), " ", -1);
        g_autofree char *id = ctl_path_id_string(words[0]);
        ctl_result_clear(&r);
        run_expect(f, &r, 207, (const char *const[]){ "wait", id, NULL });
        g_assert_cmpstr(r.out, ==, "vanished -1\n");
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
        cw_release(f->conn, words[0]);
}

/* ---- monitor ---- */

static void test_monitor(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) text = { 0 };
        g_auto(CtlResult) json = { 0 };
        CtlProc *mt = ctl_start(f, (const char *const[]){ "monitor", NULL });
        CtlProc *mj = ctl_start(f, (const char *const[]){ "monitor", "--json", NULL });
        guint32 pid;

        g_assert_true(ctl_proc_wait_for_output(mt, "Monitoring", TRUE, T(30000)));
        g_assert_true(ctl_proc_wait_for_output(mj, "Monitoring", TRUE, T(30000)));

        g_autofree char *path =
                spawn_described(f, (const char *const[]){ "sh", "-c", "exit 7", NULL }, "seven", &pid);
        g_autofree char *id = ctl_path_id_string(path);
        (void) cw_wait_for_event(f, path, "exited", 10000);
        cw_release(f->conn, path);

        g_autofree char *removed = g_strdup_printf("removed %s\n", id);
        g_assert_true(ctl_proc_wait_for_output(mt, removed, FALSE, T(10000)));
        g_assert_true(ctl_proc_wait_for_output(mj, "\"removed\"", FALSE, T(10000)));

        /* The service going away is an event too. */
        pid_t service = cw_service_pid(f);
        g_assert_cmpint(kill(service, SIGTERM), ==, 0);
        g_assert_true(ctl_proc_wait_for_output(mt, "service-stopped owner=:", FALSE, T(10000)));
        g_assert_true(ctl_proc_wait_for_output(mj, "service-stopped", FALSE, T(10000)));

        g_assert_cmpint(kill(ctl_proc_pid(mt), SIGTERM), ==, 0);
        g_assert_cmpint(kill(ctl_proc_pid(mj), SIGINT), ==, 0);
        ctl_proc_finish(mt, T(30000), &text);
        ctl_proc_finish(mj, T(30000), &json);
        ctl_assert_exit(&text, 0);
        ctl_assert_exit(&json, 0);

        g_autofree char *added =
                g_strdup_printf("added %s pid=%u state=running description=seven\n", id, pid);
        g_autofree char *exited = g_strdup_printf("exited %s status=7\n", id);
        assert_contains(text.out, "service-started owner=:");
        assert_contains(text.out, added);
        assert_contains(text.out, exited);
        assert_contains(text.out, removed);
        g_assert_true(strstr(text.out, added) < strstr(text.out, exited));
        g_assert_true(strstr(text.out, exited) < strstr(text.out, removed));
        g_assert_true(strstr(text.out, removed) < strstr(text.out, "service-stopped"));

        /* JSON lines: each one an object, in order. */
        g_autoptr(GVariant) lines = ctl_parse_json_lines(json.out);
        const char *expected[] = { "service-started", "added", "exited", "removed", "service-stopped" };
        gsize next = 0;
        for (gsize i = 0; i < g_variant_n_children(lines); i++) {
                g_autoptr(GVariant) v = g_variant_get_child_value(lines, i);
                g_autoptr(GVariant) o = g_variant_get_variant(v);
                const char *event = ctl_json_str(o, "Event");
                g_assert_cmpint(ctl_json_int(o, "Timestamp"), >, 0);
                if (next < G_N_ELEMENTS(expected) && g_str_equal(event, expected[next]))
                        next++;
                if (g_str_equal(event, "added")) {
                        g_assert_cmpstr(ctl_json_str(o, "Path"), ==, path);
                        g_assert_cmpint(ctl_json_int(o, "Id"), ==, g_ascii_strtoll(id, NULL, 10));
                        g_autoptr(GVariant) props = ctl_json_get(o, "Properties");
                        g_assert_cmpint(ctl_json_int(props, "Pid"), ==, pid);
                        g_assert_cmpstr(ctl_json_str(props, "Description"), ==, "seven");
                } else if (g_str_equal(event, "exited")) {
                        g_assert_cmpstr(ctl_json_str(o, "Path"), ==, path);
                        g_assert_cmpint(ctl_json_int(o, "Status"), ==, 7);
                } else if (g_str_has_prefix(event, "service-"))
                        g_assert_true(g_str_has_prefix(ctl_json_str(o, "Owner"), ":"));
        }
        g_assert_cmpuint(next, ==, G_N_ELEMENTS(expected));
}

static void test_monitor_filter(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autofree char *watched = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, NULL);
        g_autofree char *other = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, NULL);
        g_autofree char *watched_id = ctl_path_id_string(watched);
        g_autofree char *other_id = ctl_path_id_string(other);
        CtlProc *m = ctl_start(f, (const char *const[]){ "monitor", watched_id, NULL });

        g_assert_true(ctl_proc_wait_for_output(m, "Monitoring", TRUE, T(30000)));
        kill_and_release(f, other);
        kill_and_release(f, watched);
        g_autofree char *line = g_strdup_printf("removed %s\n", watched_id);
        g_assert_true(ctl_proc_wait_for_output(m, line, FALSE, T(10000)));
        g_assert_cmpint(kill(ctl_proc_pid(m), SIGTERM), ==, 0);
        ctl_proc_finish(m, T(30000), &r);
        ctl_assert_exit(&r, 0);
        g_autofree char *other_line = g_strdup_printf(" %s ", other_id);
        g_autofree char *other_end = g_strdup_printf(" %s\n", other_id);
        g_assert_false(contains(r.out, other_line) || contains(r.out, other_end));
        g_autofree char *killed = g_strdup_printf("killed %s status=9\n", watched_id);
        assert_contains(r.out, killed);
}

/* ---- buses ---- */

static void test_bus_options(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        const char *address = g_test_dbus_get_bus_address(f->bus);
        g_autofree char *path = cw_spawn(f, (const char *const[]){ "sleep", "300", NULL }, NULL, NULL);
        g_autofree char *id = ctl_path_id_string(path);

        /* No bus option, and --user: the session bus (GTestDBus made ours the session bus). */
        g_auto(GStrv) session_env =
                g_environ_setenv(g_get_environ(), "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
        CtlSpawn how = { .env = session_env };
        ctl_proc_finish(ctl_start_full(f->tmpdir, &how, (const char *const[]){ "status", id, NULL }),
                        T(30000), &r);
        ctl_assert_exit(&r, 0);
        ctl_result_clear(&r);
        ctl_proc_finish(
                ctl_start_full(f->tmpdir, &how, (const char *const[]){ "--user", "status", id, NULL }),
                T(30000), &r);
        ctl_assert_exit(&r, 0);
        ctl_result_clear(&r);
        ctl_proc_finish(
                ctl_start_full(f->tmpdir, &how, (const char *const[]){ "status", "--user", id, NULL }),
                T(30000), &r);
        ctl_assert_exit(&r, 0);
        ctl_result_clear(&r);

        /* --system: whatever DBUS_SYSTEM_BUS_ADDRESS names. */
        g_auto(GStrv) system_env =
                g_environ_setenv(g_environ_unsetenv(g_get_environ(), "DBUS_SESSION_BUS_ADDRESS"),
                                 "DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);
        CtlSpawn how_system = { .env = system_env };
        ctl_proc_finish(ctl_start_full(f->tmpdir, &how_system,
                                       (const char *const[]){ "--system", "status", id, NULL }),
                        T(30000), &r);
        ctl_assert_exit(&r, 0);
        ctl_result_clear(&r);

        /* No bus there: 69. */
        g_auto(GStrv) nowhere_env = g_environ_setenv(g_get_environ(), "DBUS_SYSTEM_BUS_ADDRESS",
                                                     "unix:path=/nonexistent/bus", TRUE);
        CtlSpawn how_nowhere = { .env = nowhere_env };
        ctl_proc_finish(
                ctl_start_full(f->tmpdir, &how_nowhere, (const char *const[]){ "--system", "list", NULL }),
                T(30000), &r);
        ctl_assert_exit(&r, 69);
        ctl_result_clear(&r);
        CtlSpawn how_bad_address = { .address = "unix:path=/nonexistent/bus" };
        ctl_proc_finish(ctl_start_full(f->tmpdir, &how_bad_address,
                                       (const char *const[]){ "run", "--wait", "--", "true", NULL }),
                        T(30000), &r);
        ctl_assert_exit(&r, 69);
        kill_and_release(f, path);
}

static void test_limit(CwFixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };

        /* The fixture started the service with --max-processes=1. */
        run_expect(f, &r, 0, (const char *const[]){ "run", "--", "sleep", "300", NULL });
        g_auto(GStrv) words = g_strsplit(g_strstrip(r.out), " ", -1);
        g_autofree char *path = g_strdup(words[0]);
        ctl_result_clear(&r);
        run_expect(f, &r, 205, (const char *const[]){ "run", "--wait", "--", "true", NULL });
        kill_and_release(f, path);
}

/* ---- bash completion ---- */

static void test_completion(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        const char *script = g_getenv("CTL_TEST_COMPLETION_SCRIPT");
        const char *completion = g_getenv("CTL_COMPLETION");
        g_assert_nonnull(script);
        g_assert_nonnull(completion);
        /* Bash itself, not under valgrind (where the valgrind setup runs this test): bash has
         * leaks of its own. */
        const char *const argv[] = { "bash", script, completion, NULL };
        g_autoptr(GSubprocess) sub = g_subprocess_newv(
                argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_communicate_utf8(sub, NULL, NULL, &out, NULL, &error));
        g_assert_no_error(error);
        g_test_message("%s", out);
        if (!g_subprocess_get_successful(sub))
                g_error("the completion test failed:\n%s", out);
        g_assert_null(strstr(out, "not ok"));
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

#define ADD(name, fn) g_test_add("/ctl/" name, CwFixture, NULL, setup, fn, teardown)
        ADD("help", test_help);
        ADD("usage-errors", test_usage_errors);
        ADD("run/prints", test_run_prints);
        ADD("run/environment", test_run_environment);
        ADD("run/stdio", test_run_stdio);
        ADD("run/options", test_run_options);
        ADD("run/fds", test_run_fds);
        ADD("run/exit-codes", test_run_exit_codes);
        ADD("run/forwards-signals", test_run_forwards_signals);
        ADD("run/stop-continue", test_run_stop_continue);
        ADD("run/program-handles-signal", test_run_program_handles_signal);
        ADD("run/watch-bus", test_run_watch_bus);
        ADD("run/service-vanishes", test_run_service_vanishes);
        ADD("list", test_list);
        ADD("status", test_status);
        ADD("signal", test_signal);
        ADD("kill", test_kill);
        ADD("wait", test_wait);
        ADD("wait/vanished", test_wait_vanished);
        ADD("release", test_release);
        ADD("adopt", test_adopt);
        ADD("monitor", test_monitor);
        ADD("monitor/filter", test_monitor_filter);
        ADD("bus-options", test_bus_options);
#undef ADD
        g_test_add("/ctl/limit", CwFixture, "--max-processes=1", setup, test_limit, teardown);
        g_test_add_func("/ctl/completion", test_completion);
        return g_test_run();
}
