/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The harness of the integration tests: a private bus per test case
 * (GTestDBus) whose service directory activates this build's childwatchd
 * exactly as installed, helpers to call it and to wait for its signals
 * (bounded in time), and checks that nothing is left behind.
 */

#include <gio/gio.h>
#include <glib.h>
#include <sys/types.h>

#define CW_NAME "org.childwatch.ChildWatch1"
#define CW_MANAGER_PATH "/org/childwatch/ChildWatch1"
#define CW_MANAGER_IFACE "org.childwatch.ChildWatch1.Manager"
#define CW_PROCESS_IFACE "org.childwatch.ChildWatch1.Process"
#define CW_ERROR(name) "org.childwatch.ChildWatch1.Error." name

typedef struct CwFixture {
        GTestDBus *bus;
        GDBusConnection *conn;
        char *tmpdir;
        char *status_file;
        GPtrArray *signals; /* CwSignal*, every StateChanged seen on conn since setup */
        guint signal_subscription;
        pid_t service_pid;  /* 0 until the service was activated and asked for */
} CwFixture;

typedef struct CwSignal {
        char *path;
        char *event;
        int status;
} CwSignal;

/* g_test_init() plus what every integration test binary needs (subreaper, paths). */
void cw_test_init(int *argc, char ***argv);

/* Whether the service runs under valgrind (CHILDWATCH_TEST_VALGRIND, set by the valgrind test
 * setup). Valgrind 3.19 changes what the service can do: no pidfds (Features lacks "pidfd"),
 * no SIGRTMAX (valgrind keeps it for itself, so kill() with it fails with EINVAL), and an
 * execve() that fails beyond valgrind's own checks (E2BIG) kills the process (status 101). */
gboolean cw_under_valgrind(void);
/* Timeouts scale when the service runs under valgrind. */
guint cw_timeout_ms(guint base_ms);

/* The service directory the test buses activate childwatchd from (this build's). */
const char *cw_test_services_dir(void);

/* Starts a private bus; @daemon_args go to the activated service (e.g. "--idle-timeout=1"). */
void cw_fixture_setup_with_args(CwFixture *f, const char *daemon_args);
void cw_fixture_setup(CwFixture *f, gconstpointer data);
/* If the service runs, fails the test when it keeps a zombie child (after a bounded wait,
 * cw_timeout_ms(2000), for exits still in flight); then stops it with SIGTERM, asserts it
 * exited 0, takes the bus down and reaps or kills every process the test left behind.
 * A service that is not running is not activated for this. */
void cw_fixture_teardown(CwFixture *f, gconstpointer data);

/* A further client connection to the test bus. */
GDBusConnection *cw_fixture_new_connection(CwFixture *f);

/* Synchronous call on any object of the service; NULL with @error set on failure. */
GVariant *cw_call(GDBusConnection *conn, const char *path, const char *iface, const char *method,
                  GVariant *params, const char *reply_type, GError **error);
/* Same, with file descriptors in and out. */
GVariant *cw_call_with_fds(GDBusConnection *conn, const char *path, const char *iface, const char *method,
                           GVariant *params, const char *reply_type, GUnixFDList *fds_in,
                           GUnixFDList **ret_fds_out, GError **error);

/* Spawn(); @options may be NULL for {}. Returns the object path, sets *ret_pid. Asserts success. */
char *cw_spawn(CwFixture *f, const char *const *argv, GVariant *options, guint32 *ret_pid);
/* Spawn() that may fail; returns the path or NULL with @error set. */
char *cw_spawn_full(GDBusConnection *conn, const char *const *argv, GVariant *options, GUnixFDList *fds,
                    guint32 *ret_pid, GError **error);

/* The number of objects ListProcesses() reports; asserts success. */
guint cw_list_processes_count(CwFixture *f);
/* An a{sv} of Spawn options with one entry; @value is consumed if floating. */
GVariant *cw_one_option(const char *key, GVariant *value);

/* Property of a process or the manager; asserts success. */
GVariant *cw_get_property(GDBusConnection *conn, const char *path, const char *iface, const char *name);
/* Convenience: the State property of a process. */
char *cw_get_state(CwFixture *f, const char *path);

/* Waits (bounded) until StateChanged(@event) was seen for @path; returns its status. */
int cw_wait_for_event(CwFixture *f, const char *path, const char *event, guint timeout_ms);
/* Number of StateChanged signals recorded for @path (and @event, or any event when NULL). */
guint cw_count_events(CwFixture *f, const char *path, const char *event);
/* Runs the main context until @done(@data) is true or @timeout_ms passed; returns @done's last answer. */
gboolean cw_wait_until(gboolean (*done)(gpointer data), gpointer data, guint timeout_ms);
/* Iterates the default main context for about @ms milliseconds. */
void cw_spin(guint ms);

/* The pid of the service (activating it if need be). */
pid_t cw_service_pid(CwFixture *f);
/* Processes whose parent is @pid besides the service's spawn helpers (its pool has one per
 * CPU, see --spawn-helpers), the zombies among them, and the helpers. */
guint cw_count_children(pid_t pid);
guint cw_count_zombies(pid_t pid);
guint cw_count_spawn_helpers(pid_t pid);
/* The pids of the spawn helpers of @service (its children named childwatch-spawn). */
GArray *cw_spawn_helpers(pid_t service);
/* Whether a process with this pid exists (zombies count as existing). */
gboolean cw_pid_exists(pid_t pid);

/* Fields of /proc/PID/stat. */
typedef struct CwProcStat {
        char state;
        pid_t ppid;
        pid_t pgrp;
        pid_t session;
        char comm[64];
} CwProcStat;
/* Reads /proc/@pid/stat into @ret; FALSE when there is no such process (or it cannot be parsed). */
gboolean cw_proc_stat(pid_t pid, CwProcStat *ret);
/* The state letter of @pid, or 0 when there is no such process. */
char cw_proc_state(pid_t pid);
/* /proc/PID/comm, stripped; NULL when gone. */
char *cw_proc_comm(pid_t pid);
/* The value of a "Name:\tvalue" line of a /proc file such as /proc/PID/status or fdinfo. */
char *cw_proc_status_field(const char *file, const char *field);
/* Whether @pid has @sig ignored (SigIgn of /proc/PID/status). */
gboolean cw_proc_ignores_signal(pid_t pid, int sig);
/* For cw_wait_until(): the process GINT_TO_POINTER(pid) has ended (gone, or a zombie). */
gboolean cw_pid_gone(gpointer pid);
/* For cw_wait_until(): the file at @path exists. */
gboolean cw_file_exists(gpointer path);
/* Whether the service's name has an owner on the bus of @conn; asserts the call succeeds. */
gboolean cw_name_has_owner(GDBusConnection *conn);

/* A fresh temporary directory (free with g_free() after cw_remove_tmpdir()). */
char *cw_make_tmpdir(void);
/* Removes @dir with its files and empty subdirectories (one level deep); asserts each step. */
void cw_remove_tmpdir(const char *dir);

/* Process.Release(); asserts success. */
void cw_release(GDBusConnection *conn, const char *path);
/* Process.Kill(@timeout_usec); asserts success and returns how it ended (state and status). */
void cw_kill(GDBusConnection *conn, const char *path, guint64 timeout_usec, char **ret_state, int *ret_status);
/* Process.Wait(); asserts success and returns how it ended (state and status). */
void cw_wait(GDBusConnection *conn, const char *path, char **ret_state, int *ret_status);
/* Process.SendSignal(@sig, @group); failure goes to @error (asserted consistent with the reply). */
void cw_send_signal(GDBusConnection *conn, const char *path, int sig, gboolean group, GError **error);

/* Typed property getters of any object of the service; assert success. */
guint64 cw_get_u64(GDBusConnection *conn, const char *path, const char *iface, const char *name);
guint32 cw_get_u32(GDBusConnection *conn, const char *path, const char *iface, const char *name);
gint32 cw_get_i32(GDBusConnection *conn, const char *path, const char *iface, const char *name);
gboolean cw_get_bool(GDBusConnection *conn, const char *path, const char *iface, const char *name);

/* The service is still @expected_pid and still serves: /bin/true spawned through it ends "exited 0"
 * by signal, properties and Wait() alike, and the service keeps no zombie. */
void cw_assert_service_alive(CwFixture *f, pid_t expected_pid);

/* Error name check that prints the remote error on mismatch. */
#define cw_assert_dbus_error(err, name)                                                                  \
        G_STMT_START {                                                                                   \
                g_assert_nonnull(err);                                                                   \
                g_autofree char *_remote = g_dbus_error_get_remote_error(err);                           \
                if (g_strcmp0(_remote, (name)) != 0)                                                     \
                        g_error("expected %s, got %s: %s", (name), _remote, (err)->message);            \
        } G_STMT_END

/* ---- Runs as another user ----
 *
 * A test runs a hidden case of its own binary (a path with "/subprocess/" in it, which GLib
 * runs only when named with -p) as an unprivileged user, under setpriv, and checks how that
 * run ended and its TAP output. Needs root and setpriv (util-linux). */

/* Fails unless every directory above @path can be searched by others and @path itself can be
 * read (and, with @exec, executed) by them. */
void cw_assert_usable_by_others(const char *path, gboolean exec);

/* Our environment without what names our own bus and the session-bus harness's variables
 * (DBUS_*, DISPLAY, XDG_*_HOME, CHILDWATCH_TEST_STATUS_FILE/ARGS/VALGRIND_LOG), with HOME,
 * TMPDIR and XDG_RUNTIME_DIR set to @home: the start of a sub-run's environment. */
char **cw_sub_run_environ(const char *home);

typedef struct CwSubRun CwSubRun;
/* Starts "/proc/self/exe --tap -p @test_path" as @uid/@gid with the supplementary groups of
 * @uid's user database entry (setpriv --reuid --regid --init-groups), in @cwd with @env
 * (NULL: cw_sub_run_environ(@cwd)); its stdout and stderr are collected. It gets the parent
 * death signal SIGKILL, so that it does not outlive a test that aborts. */
CwSubRun *cw_sub_run_start(uid_t uid, gid_t gid, const char *test_path, const char *cwd, char **env);
/* Same, with the supplementary groups @groups (a comma-separated list of gids, setpriv
 * --groups) instead of those of the user database. */
CwSubRun *cw_sub_run_start_with_groups(uid_t uid, gid_t gid, const char *groups, const char *test_path,
                                       const char *cwd, char **env);
/* Whether it has ended (its output read to the end too). Iterates nothing. */
gboolean cw_sub_run_is_done(CwSubRun *run);
/* Waits (bounded by @timeout_ms, then SIGKILL) for it to end, logs its output with
 * g_test_message(), and frees @run. Returns NULL when it exited 0 with the TAP output of one
 * passed test ("ok 1 @test_path" under the plan 1..1, nothing failed, skipped or bailed out),
 * else what was wrong (free with g_free()). */
char *cw_sub_run_finish(CwSubRun *run, guint timeout_ms);
/* Starts and finishes at once; asserts that it passed (g_test_fail_printf() otherwise, and
 * returns FALSE). */
gboolean cw_sub_run(uid_t uid, gid_t gid, const char *test_path, const char *cwd, char **env, guint timeout_ms);

/* Kills and reaps (bounded) every child of ours but GTestDBus's watcher. */
void cw_reap_and_kill_leftovers(void);
/* Fails the test (g_test_fail_printf()) when @pid still has zombie children after a bounded
 * wait (cw_timeout_ms(2000)). */
void cw_assert_no_zombies(pid_t pid);

/* ---- Calls on their way to the service ----
 *
 * For a call that another process makes (a client the test kills), nothing on the bus says
 * when it reached the service. A watch is a monitor connection (BecomeMonitor) that counts the
 * method calls named @member that dbus-daemon passes to anyone; cw_call_watch_wait() waits
 * (bounded) until it saw @n of them since the watch began, then makes a round trip to the
 * service, which by then has handled them (they were in its queue before that Ping). */
typedef struct CwCallWatch CwCallWatch;
CwCallWatch *cw_call_watch_new(CwFixture *f, const char *member);
guint cw_call_watch_count(CwCallWatch *w);
void cw_call_watch_wait(CwFixture *f, CwCallWatch *w, guint n);
void cw_call_watch_free(CwCallWatch *w);
