/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Spawn: exit codes, failures to start, what the end state looks like, the
 * properties of a process object, PATH lookup, and bad input of every kind
 * on the manager and process objects (answered with the documented error
 * while the service stays up). */

#include "cw-test.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static void write_script(const char *path, const char *body, mode_t mode) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = g_strconcat("#!/bin/sh\n", body, "\n", NULL);

        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_assert_no_error(error);
        g_assert_cmpint(chmod(path, mode), ==, 0);
}

static GVariant *empty_options(void) {
        return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

static char *get_str(CwFixture *f, const char *path, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(f->conn, path, CW_PROCESS_IFACE, name);
        return g_variant_dup_string(v, NULL);
}

/* Spawns @argv, waits (bounded) for its terminal StateChanged and checks that
 * signal, the State/ExitStatus properties and Wait() all agree on how it
 * ended; exactly one StateChanged is expected. Releases the object. */
static void spawn_expect_end(CwFixture *f, const char *const *argv, GVariant *options, const char *event,
                             int status) {
        g_autofree char *path = cw_spawn(f, argv, options, NULL);

        g_assert_cmpint(cw_wait_for_event(f, path, event, 10000), ==, status);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, event);
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, status);

        g_autofree char *wstate = NULL;
        int wstatus = -12345;
        cw_wait(f->conn, path, &wstate, &wstatus);
        g_assert_cmpstr(wstate, ==, event);
        g_assert_cmpint(wstatus, ==, status);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
        cw_release(f->conn, path);
}

/* A spawn that must fail with @error_name and a message containing @message
 * (when not NULL), leave no object and no process behind, and leave the
 * service up. */
static void spawn_expect_error(CwFixture *f, const char *const *argv, GVariant *options, GUnixFDList *fds,
                               const char *error_name, const char *message) {
        g_autoptr(GError) error = NULL;
        pid_t service = cw_service_pid(f);
        guint before = cw_list_processes_count(f);

        g_autofree char *path = cw_spawn_full(f->conn, argv, options ? options : empty_options(), fds, NULL,
                                              &error);
        g_assert_null(path);
        cw_assert_dbus_error(error, error_name);
        if (message && !strstr(error->message, message))
                g_error("error message '%s' does not contain '%s'", error->message, message);

        g_assert_cmpuint(cw_list_processes_count(f), ==, before);
        cw_assert_service_alive(f, service);
}

/* A stdin pipe whose write end the test holds: the child (cat, read) runs until it is closed. */
static GUnixFDList *stdin_pipe(int *ret_write_end, GVariant **ret_options) {
        g_autoptr(GError) error = NULL;
        int p[2];

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        GUnixFDList *fds = g_unix_fd_list_new();
        int idx = g_unix_fd_list_append(fds, p[0], &error);
        g_assert_no_error(error);
        close(p[0]);
        *ret_write_end = p[1];
        *ret_options = cw_one_option("stdin", g_variant_new_handle(idx));
        return fds;
}

/* ---- exit codes and signals ---- */

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
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0); /* only the spawn helpers */
}

/* Exit codes 0, 7 and 255 come back unchanged in StateChanged, ExitStatus and Wait. */
static void test_exit_codes(CwFixture *f, gconstpointer data) {
        static const int codes[] = { 0, 7, 255 };

        for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
                g_autofree char *script = g_strdup_printf("exit %d", codes[i]);
                const char *argv[] = { "sh", "-c", script, NULL };
                spawn_expect_end(f, argv, NULL, "exited", codes[i]);
        }
        g_assert_cmpuint(cw_count_zombies(cw_service_pid(f)), ==, 0);
}

/* A process killed by a signal ends "killed" with that signal's number, whether the
 * signal came through SendSignal (SIGKILL, SIGTERM) or from the process itself. */
static void test_killed(CwFixture *f, gconstpointer data) {
        static const int sigs[] = { SIGKILL, SIGTERM };

        for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) options = NULL;
                int wfd;
                g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd, &options);
                const char *argv[] = { "cat", NULL };
                g_autofree char *path = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL,
                                                      &error);
                g_assert_no_error(error);

                cw_send_signal(f->conn, path, sigs[i], FALSE, &error);
                g_assert_no_error(error);
                g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, sigs[i]);
                g_autofree char *state = cw_get_state(f, path);
                g_assert_cmpstr(state, ==, "killed");
                g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, sigs[i]);
                g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
                close(wfd);
                cw_release(f->conn, path);
        }

        const char *self_kill[] = { "sh", "-c", "kill -KILL $$", NULL };
        spawn_expect_end(f, self_kill, NULL, "killed", SIGKILL);
        const char *self_term[] = { "sh", "-c", "kill -TERM $$", NULL };
        spawn_expect_end(f, self_term, NULL, "killed", SIGTERM);
        g_assert_cmpuint(cw_count_zombies(cw_service_pid(f)), ==, 0);
}

/* Whether a core dump can land as a file in the dying process's working directory. */
static gboolean core_pattern_is_relative_file(void) {
        g_autofree char *pattern = NULL;

        if (!g_file_get_contents("/proc/sys/kernel/core_pattern", &pattern, NULL, NULL))
                return FALSE;
        g_strstrip(pattern);
        return pattern[0] && pattern[0] != '|' && !strchr(pattern, '/');
}

static gboolean dir_has_core_file(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d)))
                if (g_str_has_prefix(name, "core"))
                        return TRUE;
        return FALSE;
}

/* SIGSEGV and SIGABRT with core dumps enabled end "dumped" with the signal number;
 * the same with RLIMIT_CORE 0 ends "killed". */
static void test_dumped(CwFixture *f, gconstpointer data) {
        static const struct {
                const char *script;
                int sig;
        } cases[] = {
                { "ulimit -c unlimited; kill -SEGV $$", SIGSEGV },
                { "ulimit -c unlimited; kill -ABRT $$", SIGABRT },
        };
        g_autofree char *dir = cw_make_tmpdir();
        gboolean strict = core_pattern_is_relative_file();

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                const char *argv[] = { "sh", "-c", cases[i].script, NULL };
                /* The dump goes to the cwd when core_pattern is a plain file name: our temp dir. */
                GVariant *options = cw_one_option("cwd", g_variant_new_string(dir));
                g_autofree char *path = cw_spawn(f, argv, options, NULL);
                g_autofree char *state = NULL;
                int status;

                cw_wait(f->conn, path, &state, &status);
                g_assert_cmpint(status, ==, cases[i].sig);
                if (strict) {
                        g_assert_cmpstr(state, ==, "dumped");
                        g_assert_cmpint(cw_wait_for_event(f, path, "dumped", 10000), ==, cases[i].sig);
                        g_assert_true(dir_has_core_file(dir));
                } else {
                        /* core_pattern pipes to a program or names an absolute directory: whether the
                         * kernel managed to dump depends on that, and it reports CLD_DUMPED only when
                         * it did. Either way it is one of the two, with the signal number. */
                        g_assert_true(g_str_equal(state, "dumped") || g_str_equal(state, "killed"));
                        g_assert_cmpint(cw_wait_for_event(f, path, state, 10000), ==, cases[i].sig);
                }
                g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
                cw_release(f->conn, path);
        }

        if (strict) {
                /* No core limit, no dump: the kernel reports CLD_KILLED. */
                const char *argv[] = { "sh", "-c", "ulimit -c 0; kill -SEGV $$", NULL };
                spawn_expect_end(f, argv, cw_one_option("cwd", g_variant_new_string(dir)), "killed", SIGSEGV);
        }
        cw_remove_tmpdir(dir);
}

/* StartTimestamp is taken at the spawn (CLOCK_REALTIME µs), ExitTimestamp is 0 while it
 * runs and later than StartTimestamp once it has ended. */
static void test_timestamps(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) options = NULL;
        int wfd;
        g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd, &options);
        const char *argv[] = { "cat", NULL };

        gint64 before = g_get_real_time();
        g_autofree char *path = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL, &error);
        gint64 after = g_get_real_time();
        g_assert_no_error(error);

        guint64 start = cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "StartTimestamp");
        g_assert_cmpuint(start, >=, (guint64) before);
        g_assert_cmpuint(start, <=, (guint64) after);
        g_assert_cmpuint(cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "ExitTimestamp"), ==, 0);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, 0);

        cw_spin(20); /* so that the end is measurably later than the start */
        gint64 closed = g_get_real_time();
        close(wfd); /* EOF: cat exits 0 */
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        gint64 ended = g_get_real_time();

        guint64 exit_ts = cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "ExitTimestamp");
        g_assert_cmpuint(exit_ts, >, start);
        g_assert_cmpuint(exit_ts, >=, (guint64) closed);
        g_assert_cmpuint(exit_ts, <=, (guint64) ended);
        g_assert_cmpuint(cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "StartTimestamp"), ==, start);
        cw_release(f->conn, path);
}

static pid_t parent_of(pid_t pid) {
        g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int) pid);
        g_autofree char *stat = NULL;
        char state;
        int ppid = 0;

        g_assert_true(g_file_get_contents(p, &stat, NULL, NULL));
        char *close_paren = strrchr(stat, ')');
        g_assert_nonnull(close_paren);
        g_assert_cmpint(sscanf(close_paren + 2, "%c %d", &state, &ppid), ==, 2);
        return (pid_t) ppid;
}

/* Every property of a process object matches what was spawned and who spawned it:
 * Id (the number in the path), Pid (a direct child of the service), Argv, Description
 * (argv joined, or the option), Owner, OwnerUid, Uid, Adopted, WatchBus, KillOnRelease;
 * GetProcess and ListProcesses find it; after Release the object is gone. */
static void test_properties(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) opt1 = NULL;
        int wfd1, wfd2;
        g_autoptr(GUnixFDList) fds1 = stdin_pipe(&wfd1, &opt1);
        const char *argv1[] = { "cat", "-", NULL };
        guint32 pid1 = 0, pid2 = 0;

        g_autofree char *path1 = cw_spawn_full(f->conn, argv1, g_steal_pointer(&opt1), fds1, &pid1, &error);
        g_assert_no_error(error);

        /* The second one with the flags set and its own description. */
        g_autoptr(GError) error2 = NULL;
        int p[2];
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_autoptr(GUnixFDList) fds2 = g_unix_fd_list_new();
        int idx = g_unix_fd_list_append(fds2, p[0], &error2);
        g_assert_no_error(error2);
        close(p[0]);
        wfd2 = p[1];
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(idx));
        g_variant_builder_add(&b, "{sv}", "watch-bus", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "kill-on-release", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "description", g_variant_new_string("the second one"));
        const char *argv2[] = { "cat", NULL };
        g_autofree char *path2 = cw_spawn_full(f->conn, argv2, g_variant_builder_end(&b), fds2, &pid2,
                                               &error2);
        g_assert_no_error(error2);

        pid_t service = cw_service_pid(f);
        const char *me = g_dbus_connection_get_unique_name(f->conn);

        /* Id is the decimal in the path, and ids are distinct. */
        guint64 id1 = cw_get_u64(f->conn, path1, CW_PROCESS_IFACE, "Id"), id2 = cw_get_u64(f->conn, path2, CW_PROCESS_IFACE, "Id");
        g_autofree char *expect1 = g_strdup_printf(CW_MANAGER_PATH "/process/%" G_GUINT64_FORMAT, id1);
        g_autofree char *expect2 = g_strdup_printf(CW_MANAGER_PATH "/process/%" G_GUINT64_FORMAT, id2);
        g_assert_cmpstr(path1, ==, expect1);
        g_assert_cmpstr(path2, ==, expect2);
        g_assert_cmpuint(id1, >, 0);
        g_assert_cmpuint(id2, !=, id1);

        /* Pid: the reply's pid, a direct child of the service, never the id. */
        g_assert_cmpuint(cw_get_u32(f->conn, path1, CW_PROCESS_IFACE, "Pid"), ==, pid1);
        g_assert_cmpuint(cw_get_u32(f->conn, path2, CW_PROCESS_IFACE, "Pid"), ==, pid2);
        g_assert_cmpint(parent_of((pid_t) pid1), ==, service);
        g_assert_cmpint(parent_of((pid_t) pid2), ==, service);

        g_autoptr(GVariant) av = cw_get_property(f->conn, path1, CW_PROCESS_IFACE, "Argv");
        g_autofree const char **argv_prop = g_variant_get_strv(av, NULL);
        g_assert_cmpstrv(argv_prop, argv1);
        g_autofree char *desc1 = get_str(f, path1, "Description");
        g_autofree char *desc2 = get_str(f, path2, "Description");
        g_assert_cmpstr(desc1, ==, "cat -");
        g_assert_cmpstr(desc2, ==, "the second one");

        g_autofree char *owner1 = get_str(f, path1, "Owner");
        g_autofree char *owner2 = get_str(f, path2, "Owner");
        g_assert_cmpstr(owner1, ==, me);
        g_assert_cmpstr(owner2, ==, me);
        g_assert_cmpuint(cw_get_u32(f->conn, path1, CW_PROCESS_IFACE, "OwnerUid"), ==, getuid());
        g_assert_cmpuint(cw_get_u32(f->conn, path1, CW_PROCESS_IFACE, "Uid"), ==, getuid());
        g_assert_false(cw_get_bool(f->conn, path1, CW_PROCESS_IFACE, "Adopted"));
        g_assert_false(cw_get_bool(f->conn, path1, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(f->conn, path1, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(f->conn, path2, CW_PROCESS_IFACE, "Adopted"));
        g_assert_true(cw_get_bool(f->conn, path2, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_true(cw_get_bool(f->conn, path2, CW_PROCESS_IFACE, "KillOnRelease"));

        /* GetProcess finds each by its pid. */
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                        g_variant_new("(u)", pid2), "(o)", &error);
        g_assert_no_error(error);
        const char *found;
        g_variant_get(r, "(&o)", &found);
        g_assert_cmpstr(found, ==, path2);

        /* ListProcesses lists both, with pid, state and description. */
        g_autoptr(GVariant) lr = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                         "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariantIter) it = NULL;
        const char *o, *st, *d;
        guint32 lpid;
        guint seen = 0;
        g_variant_get(lr, "(a(ouss))", &it);
        while (g_variant_iter_next(it, "(&ou&s&s)", &o, &lpid, &st, &d)) {
                g_assert_cmpstr(st, ==, "running");
                if (g_str_equal(o, path1)) {
                        g_assert_cmpuint(lpid, ==, pid1);
                        g_assert_cmpstr(d, ==, "cat -");
                        seen |= 1;
                } else if (g_str_equal(o, path2)) {
                        g_assert_cmpuint(lpid, ==, pid2);
                        g_assert_cmpstr(d, ==, "the second one");
                        seen |= 2;
                }
        }
        g_assert_cmpuint(seen, ==, 3);

        close(wfd1);
        close(wfd2);
        g_assert_cmpint(cw_wait_for_event(f, path1, "exited", 10000), ==, 0);
        g_assert_cmpint(cw_wait_for_event(f, path2, "exited", 10000), ==, 0);
        cw_release(f->conn, path1);
        cw_release(f->conn, path2);

        /* Released ended objects are gone. */
        g_autoptr(GVariant) gone = cw_call(f->conn, path1, "org.freedesktop.DBus.Properties", "Get",
                                           g_variant_new("(ss)", CW_PROCESS_IFACE, "Pid"), "(v)", &error);
        g_assert_null(gone);
        cw_assert_dbus_error(error, "org.freedesktop.DBus.Error.UnknownObject");
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

/* ---- PATH lookup ---- */

/* argv[0] without a slash is looked up in the service's PATH; a name found nowhere gives
 * SpawnFailed naming it with ENOENT, and leaves nothing behind. */
static void test_path_lookup(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "true", NULL };
        spawn_expect_end(f, argv, NULL, "exited", 0);
        const char *argv_false[] = { "false", NULL };
        spawn_expect_end(f, argv_false, NULL, "exited", 1);

        const char *missing[] = { "cw-no-such-program-here", NULL };
        spawn_expect_error(f, missing, NULL, NULL, CW_ERROR("SpawnFailed"),
                           "execve(cw-no-such-program-here): No such file or directory");
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
}

/* The PATH used for the lookup is the child's: the one set with `environment`, searched in
 * order, skipping a non-executable match as execvp() does; with `clear-environment` and no
 * PATH, a default system PATH still finds `true`. */
static void test_path_from_environment(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *dir_a = g_build_filename(dir, "a", NULL);
        g_autofree char *dir_b = g_build_filename(dir, "b", NULL);
        g_autofree char *script_a = g_build_filename(dir_a, "cw-path-probe", NULL);
        g_autofree char *script_b = g_build_filename(dir_b, "cw-path-probe", NULL);
        const char *argv[] = { "cw-path-probe", NULL };

        g_assert_cmpint(mkdir(dir_a, 0755), ==, 0);
        g_assert_cmpint(mkdir(dir_b, 0755), ==, 0);
        write_script(script_a, "exit 41", 0644); /* not executable */
        write_script(script_b, "exit 42", 0755);

        /* Not in the service's own PATH. */
        spawn_expect_error(f, argv, NULL, NULL, CW_ERROR("SpawnFailed"),
                           "execve(cw-path-probe): No such file or directory");

        g_autofree char *path_b = g_strconcat("PATH=", dir_b, NULL);
        const char *env_b[] = { path_b, NULL };
        spawn_expect_end(f, argv, cw_one_option("environment", g_variant_new_strv(env_b, -1)), "exited", 42);

        /* The non-executable one in the first directory is skipped. */
        g_autofree char *path_ab = g_strconcat("PATH=", dir_a, ":", dir_b, NULL);
        const char *env_ab[] = { path_ab, NULL };
        spawn_expect_end(f, argv, cw_one_option("environment", g_variant_new_strv(env_ab, -1)), "exited", 42);

        /* Only the non-executable one: EACCES, as execvp() reports it. */
        g_autofree char *path_a = g_strconcat("PATH=", dir_a, NULL);
        const char *env_a[] = { path_a, NULL };
        spawn_expect_error(f, argv, cw_one_option("environment", g_variant_new_strv(env_a, -1)), NULL,
                           CW_ERROR("SpawnFailed"), "execve(cw-path-probe): Permission denied");

        /* No PATH at all: the default system path. */
        const char *argv_true[] = { "true", NULL };
        GVariant *no_env = cw_one_option("clear-environment", g_variant_new_boolean(TRUE));
        spawn_expect_end(f, argv_true, no_env, "exited", 0);

        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
        cw_remove_tmpdir(dir);
}

/* The child starts with no blocked and no ignored signal, whatever the service blocks. */
static void test_clean_signal_state(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *out = g_build_filename(dir, "status", NULL);
        g_autoptr(GError) error = NULL;
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        int idx = g_unix_fd_list_append(fds, fd, &error);
        g_assert_no_error(error);
        close(fd);

        const char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL };
        GVariant *options = cw_one_option("stdout", g_variant_new_handle(idx));
        g_autofree char *path = cw_spawn_full(f->conn, argv, options, fds, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        cw_release(f->conn, path);

        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(out, &text, NULL, NULL));
        g_assert_cmpstr(text, ==, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
        cw_remove_tmpdir(dir);
}

/* ---- bad input ---- */

/* An empty argv and an empty argv[0] are InvalidArgs, nothing starts, the service stays up. */
static void test_bad_argv(CwFixture *f, gconstpointer data) {
        const char *empty[] = { NULL };
        spawn_expect_error(f, empty, NULL, NULL, "org.freedesktop.DBus.Error.InvalidArgs", "argv is empty");
        const char *empty0[] = { "", "x", NULL };
        spawn_expect_error(f, empty0, NULL, NULL, "org.freedesktop.DBus.Error.InvalidArgs",
                           "argv[0] is empty");
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
}

/* An argument longer than the kernel takes (MAX_ARG_STRLEN, 128 KiB) passes the service's
 * limits but fails in execve(): SpawnFailed with E2BIG, nothing left behind. */
static void test_exec_arg_too_long(CwFixture *f, gconstpointer data) {
        g_autofree char *big = g_malloc(256 * 1024 + 1);
        memset(big, 'x', 256 * 1024);
        big[256 * 1024] = 0;
        const char *argv[] = { "/bin/true", big, NULL };

        if (cw_under_valgrind()) {
                /* Valgrind checks an execve() itself first (ENOENT, EACCES come back as usual)
                 * and cannot recover when the kernel then fails it: the child dies with status
                 * 101 instead of reporting E2BIG, and Spawn succeeds. */
                g_test_skip("valgrind cannot return a failed execve() (E2BIG) to the service");
                return;
        }
        spawn_expect_error(f, argv, NULL, NULL, CW_ERROR("SpawnFailed"),
                           "execve(/bin/true): Argument list too long");
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
}

/* A 200,000-entry argv, a 5 MiB argv and a 200,000-entry environment exceed the documented
 * bounds: LimitExceeded, and the service answers afterwards. */
static void test_huge_argv(CwFixture *f, gconstpointer data) {
        const guint n = 200000;
        g_autofree const char **argv = g_new0(const char *, n + 1);
        for (guint i = 0; i < n; i++)
                argv[i] = i == 0 ? "/bin/true" : "x";
        spawn_expect_error(f, argv, NULL, NULL, CW_ERROR("LimitExceeded"), "argv");

        /* Few entries, too many bytes. */
        g_autofree char *chunk = g_malloc(2 * 1024 * 1024 + 1);
        memset(chunk, 'y', 2 * 1024 * 1024);
        chunk[2 * 1024 * 1024] = 0;
        const char *fat[] = { "/bin/true", chunk, chunk, chunk, NULL };
        spawn_expect_error(f, fat, NULL, NULL, CW_ERROR("LimitExceeded"), "argv");

        /* The same bound applies to the string lists among the options. */
        g_autofree const char **env = g_new0(const char *, n + 1);
        g_autofree char *names = g_malloc((gsize) n * 16);
        for (guint i = 0; i < n; i++) {
                char *s = names + (gsize) i * 16;
                g_snprintf(s, 16, "V%u=1", i);
                env[i] = s;
        }
        const char *argv_true[] = { "/bin/true", NULL };
        spawn_expect_error(f, argv_true, cw_one_option("environment", g_variant_new_strv(env, -1)), NULL,
                           CW_ERROR("LimitExceeded"), "'environment'");
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
}

/* Calling methods with a signature other than the declared one is the standard InvalidArgs. */
static void test_wrong_signature(CwFixture *f, gconstpointer data) {
        static const struct {
                const char *iface;
                const char *method;
                const char *params; /* GVariant text */
        } calls[] = {
                { CW_MANAGER_IFACE, "Spawn", "('true',)" },
                { CW_MANAGER_IFACE, "Spawn", "(['true'],)" },
                { CW_MANAGER_IFACE, "Spawn", "(['true'], @a{ss} {})" },
                { CW_MANAGER_IFACE, "Spawn", "(['true'], @a{sv} {}, 1)" },
                { CW_MANAGER_IFACE, "GetProcess", "('1',)" },
                { CW_MANAGER_IFACE, "GetProcess", "(@i 1,)" },
                { CW_MANAGER_IFACE, "AdoptPid", "(@i 1, @a{sv} {})" },
                { CW_MANAGER_IFACE, "ListProcesses", "(1,)" },
                { CW_PROCESS_IFACE, "SendSignal", "(9, 0)" },
                { CW_PROCESS_IFACE, "SendSignal", "(@i 9,)" },
                { CW_PROCESS_IFACE, "Kill", "(@i 0,)" },
                { CW_PROCESS_IFACE, "Wait", "('now',)" },
                { CW_PROCESS_IFACE, "Release", "(true,)" },
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) options = NULL;
        int wfd;
        g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd, &options);
        const char *argv[] = { "cat", NULL };
        g_autofree char *process = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL,
                                                 &error);
        g_assert_no_error(error);
        pid_t service = cw_service_pid(f);

        for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
                g_autoptr(GError) e = NULL;
                const char *path = g_str_equal(calls[i].iface, CW_PROCESS_IFACE) ? process : CW_MANAGER_PATH;
                GVariant *params = g_variant_new_parsed(calls[i].params);
                g_autoptr(GVariant) r = g_dbus_connection_call_sync(f->conn, CW_NAME, path, calls[i].iface,
                                                                    calls[i].method, params, NULL,
                                                                    G_DBUS_CALL_FLAGS_NONE, 25000, NULL, &e);
                if (r)
                        g_error("%s%s was accepted", calls[i].method, calls[i].params);
                cw_assert_dbus_error(e, "org.freedesktop.DBus.Error.InvalidArgs");
        }

        /* The process was not touched by any of it. */
        g_autofree char *state = cw_get_state(f, process);
        g_assert_cmpstr(state, ==, "running");
        close(wfd);
        g_assert_cmpint(cw_wait_for_event(f, process, "exited", 10000), ==, 0);
        cw_release(f->conn, process);
        cw_assert_service_alive(f, service);
}

static void assert_unknown_object(CwFixture *f, const char *path) {
        g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;

        g_autoptr(GVariant) r1 = cw_call(f->conn, path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", &e1);
        g_assert_null(r1);
        cw_assert_dbus_error(e1, "org.freedesktop.DBus.Error.UnknownObject");
        g_autoptr(GVariant) r2 = cw_call(f->conn, path, "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new("(ss)", CW_PROCESS_IFACE, "State"), "(v)", &e2);
        g_assert_null(r2);
        cw_assert_dbus_error(e2, "org.freedesktop.DBus.Error.UnknownObject");
        g_autoptr(GVariant) r3 = cw_call(f->conn, path, CW_PROCESS_IFACE, "SendSignal",
                                         g_variant_new("(ib)", SIGKILL, FALSE), "()", &e3);
        g_assert_null(r3);
        cw_assert_dbus_error(e3, "org.freedesktop.DBus.Error.UnknownObject");
}

/* Paths under process/ that name no object (never used, 0, leading zero, not a number, a
 * released one) are UnknownObject, also while a real object exists. */
static void test_unknown_object(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) options = NULL;
        int wfd;
        g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd, &options);
        const char *argv[] = { "cat", NULL };
        g_autofree char *process = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL,
                                                 &error);
        g_assert_no_error(error);
        pid_t service = cw_service_pid(f);
        guint64 id = cw_get_u64(f->conn, process, CW_PROCESS_IFACE, "Id");

        g_autofree char *leading_zero = g_strdup_printf(CW_MANAGER_PATH "/process/0%" G_GUINT64_FORMAT, id);
        g_autofree char *next = g_strdup_printf(CW_MANAGER_PATH "/process/%" G_GUINT64_FORMAT, id + 1);
        const char *paths[] = {
                CW_MANAGER_PATH "/process/999",
                CW_MANAGER_PATH "/process/0",
                CW_MANAGER_PATH "/process/01",
                CW_MANAGER_PATH "/process/abc",
                CW_MANAGER_PATH "/process/18446744073709551616",
                leading_zero,
                next,
        };
        for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
                assert_unknown_object(f, paths[i]);

        close(wfd);
        g_assert_cmpint(cw_wait_for_event(f, process, "exited", 10000), ==, 0);
        cw_release(f->conn, process);
        assert_unknown_object(f, process);
        cw_assert_service_alive(f, service);
}

static void assert_no_such_process(CwFixture *f, guint32 pid) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                        g_variant_new("(u)", pid), "(o)", &error);
        g_assert_null(r);
        cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
}

/* GetProcess of a pid that no watched process has (none, 0, huge, existing but unwatched
 * ones, a released one) is NoSuchProcess. */
static void test_get_process_unknown(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        guint32 pid;

        assert_no_such_process(f, 0);
        assert_no_such_process(f, 1);
        assert_no_such_process(f, (guint32) getpid());
        assert_no_such_process(f, (guint32) service);
        assert_no_such_process(f, 4194304 + 1); /* above pid_max's ceiling */
        assert_no_such_process(f, G_MAXUINT32);

        /* Once released, an ended process is not found by its pid either. */
        const char *argv[] = { "/bin/true", NULL };
        g_autofree char *path = cw_spawn(f, argv, NULL, &pid);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        cw_release(f->conn, path);
        assert_no_such_process(f, pid);
        cw_assert_service_alive(f, service);
}

/* Bad input to Adopt and AdoptPid: an fd that is no pidfd and pid 0 are InvalidArgs, a
 * pid nobody has is NoSuchProcess, the test's own process (the caller's) can be adopted
 * only once and the service's own pid never; nothing else gets watched. */
static void test_adopt_bad_input(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL, error2 = NULL, error3 = NULL;
        pid_t service = cw_service_pid(f);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        int idx = g_unix_fd_list_append(fds, fd, &error);
        g_assert_no_error(error);
        close(fd);

        g_autoptr(GVariant) r1 = cw_call_with_fds(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Adopt",
                                                  g_variant_new("(h@a{sv})", idx, empty_options()), "(ou)",
                                                  fds, NULL, &error);
        g_assert_null(r1);
        /* Without pidfds (valgrind) there is no adoption at all. */
        cw_assert_dbus_error(error, cw_under_valgrind() ? "org.freedesktop.DBus.Error.NotSupported"
                                                        : "org.freedesktop.DBus.Error.InvalidArgs");

        g_autoptr(GVariant) r2 = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                         g_variant_new("(u@a{sv})", (guint32) 0, empty_options()), "(ou)",
                                         &error2);
        g_assert_null(r2);
        cw_assert_dbus_error(error2, "org.freedesktop.DBus.Error.InvalidArgs");

        g_autoptr(GVariant) r3 = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                         g_variant_new("(u@a{sv})", (guint32) service, empty_options()), "(ou)",
                                         &error3);
        g_assert_null(r3);
        if (cw_under_valgrind())
                cw_assert_dbus_error(error3, "org.freedesktop.DBus.Error.NotSupported");
        else
                cw_assert_dbus_error(error3, "org.freedesktop.DBus.Error.InvalidArgs");

        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        cw_assert_service_alive(f, service);
}

/* SendSignal takes 1...SIGRTMAX: 0, 65 and -5 are InvalidArgs and reach nobody; SIGRTMAX
 * itself is delivered (its default action ends the process); after the end it is NotRunning.
 * Under valgrind SIGRTMAX - 1 stands in: valgrind keeps SIGRTMAX for itself and fails a
 * kill() with it (EINVAL). */
static void test_send_signal_range(CwFixture *f, gconstpointer data) {
        static const int bad[] = { 0, 65, -5, G_MININT32, G_MAXINT32 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) options = NULL;
        int wfd;
        g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd, &options);
        const char *argv[] = { "cat", NULL };
        g_autofree char *path = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL, &error);
        g_assert_no_error(error);
        pid_t service = cw_service_pid(f);

        g_assert_cmpint(SIGRTMAX, ==, 64);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) e = NULL;
                cw_send_signal(f->conn, path, bad[i], FALSE, &e);
                cw_assert_dbus_error(e, "org.freedesktop.DBus.Error.InvalidArgs");
        }
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);

        const int top = cw_under_valgrind() ? SIGRTMAX - 1 : SIGRTMAX;
        cw_send_signal(f->conn, path, top, FALSE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, top);

        cw_send_signal(f->conn, path, SIGTERM, FALSE, &error);
        cw_assert_dbus_error(error, CW_ERROR("NotRunning"));
        close(wfd);
        cw_release(f->conn, path);
        cw_assert_service_alive(f, service);
}

/* --max-processes=2: a third concurrent spawn is LimitExceeded (and starts nothing); once
 * one has ended (its object still there), a new spawn works again. */
static void test_max_processes(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        const char *argv[] = { "cat", NULL };
        int wfd[3];
        char *paths[3] = { NULL };
        pid_t service = cw_service_pid(f);

        for (int i = 0; i < 2; i++) {
                g_autoptr(GVariant) options = NULL;
                g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd[i], &options);
                paths[i] = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL, &error);
                g_assert_no_error(error);
        }
        g_assert_cmpuint(cw_count_children(service), ==, 2);

        const char *argv_true[] = { "/bin/true", NULL };
        g_autofree char *third = cw_spawn_full(f->conn, argv_true, NULL, NULL, NULL, &error);
        g_assert_null(third);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_clear_error(&error);
        g_assert_cmpuint(cw_count_children(service), ==, 2);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 2);

        /* One ends: its object stays, but it no longer counts. */
        close(wfd[0]);
        g_assert_cmpint(cw_wait_for_event(f, paths[0], "exited", 10000), ==, 0);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 2);
        {
                g_autoptr(GVariant) options = NULL;
                g_autoptr(GUnixFDList) fds = stdin_pipe(&wfd[2], &options);
                paths[2] = cw_spawn_full(f->conn, argv, g_steal_pointer(&options), fds, NULL, &error);
                g_assert_no_error(error);
        }

        /* Full again. */
        g_autofree char *fourth = cw_spawn_full(f->conn, argv_true, NULL, NULL, NULL, &error);
        g_assert_null(fourth);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));

        close(wfd[1]);
        close(wfd[2]);
        g_assert_cmpint(cw_wait_for_event(f, paths[1], "exited", 10000), ==, 0);
        g_assert_cmpint(cw_wait_for_event(f, paths[2], "exited", 10000), ==, 0);
        for (int i = 0; i < 3; i++) {
                cw_release(f->conn, paths[i]);
                g_free(paths[i]);
        }
        cw_assert_service_alive(f, service);
}

typedef struct EndedQuery {
        CwFixture *f;
        GHashTable *paths;
} EndedQuery;

static gboolean all_ended(gpointer data) {
        EndedQuery *q = data;
        guint n = 0;
        for (guint i = 0; i < q->f->signals->len; i++) {
                CwSignal *s = g_ptr_array_index(q->f->signals, i);
                if (g_hash_table_contains(q->paths, s->path))
                        n++;
        }
        return n >= g_hash_table_size(q->paths);
}

/* 200 spawns of /bin/true: each reports exactly one "exited 0", and afterwards the service
 * has no zombie and no child but its spawn helper. */
static void test_no_zombies(CwFixture *f, gconstpointer data) {
        const guint n = 200;
        const char *argv[] = { "/bin/true", NULL };
        g_autoptr(GHashTable) paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        pid_t service = cw_service_pid(f);

        for (guint i = 0; i < n; i++)
                g_assert_true(g_hash_table_add(paths, cw_spawn(f, argv, NULL, NULL)));
        g_assert_cmpuint(g_hash_table_size(paths), ==, n);

        EndedQuery q = { f, paths };
        if (!cw_wait_until(all_ended, &q, cw_timeout_ms(30000)))
                g_error("not all %u processes reported their end in time", n);

        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, paths);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                g_assert_cmpuint(cw_count_events(f, key, NULL), ==, 1);
                g_assert_cmpuint(cw_count_events(f, key, "exited"), ==, 1);
                g_assert_cmpint(cw_wait_for_event(f, key, "exited", 1000), ==, 0);
        }
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        g_assert_cmpuint(cw_list_processes_count(f), ==, n);

        g_hash_table_iter_init(&it, paths);
        while (g_hash_table_iter_next(&it, &key, NULL))
                cw_release(f->conn, key);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_cmpint(cw_service_pid(f), ==, service);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
#define ADD(name, fn) \
        g_test_add("/spawn/" name, CwFixture, NULL, cw_fixture_setup, fn, cw_fixture_teardown)
        ADD("exit-code", test_exit_code);
        ADD("exec-failure", test_exec_failure);
        ADD("exit-codes", test_exit_codes);
        ADD("killed", test_killed);
        ADD("dumped", test_dumped);
        ADD("timestamps", test_timestamps);
        ADD("properties", test_properties);
        ADD("path-lookup", test_path_lookup);
        ADD("path-from-environment", test_path_from_environment);
        ADD("clean-signal-state", test_clean_signal_state);
        ADD("bad/argv", test_bad_argv);
        ADD("bad/exec-arg-too-long", test_exec_arg_too_long);
        ADD("bad/huge-argv", test_huge_argv);
        ADD("bad/wrong-signature", test_wrong_signature);
        ADD("bad/unknown-object", test_unknown_object);
        ADD("bad/get-process-unknown", test_get_process_unknown);
        ADD("bad/adopt", test_adopt_bad_input);
        ADD("bad/send-signal-range", test_send_signal_range);
        ADD("no-zombies", test_no_zombies);
#undef ADD
        g_test_add("/spawn/max-processes", CwFixture, "--max-processes=2", cw_fixture_setup,
                   test_max_processes, cw_fixture_teardown);
        return g_test_run();
}
