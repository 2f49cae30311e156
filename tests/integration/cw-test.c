/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "cw-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CW_TEST_SERVICES_DIR
#error "CW_TEST_SERVICES_DIR must point at the generated test service directory"
#endif

gboolean cw_under_valgrind(void) {
        return g_getenv("CHILDWATCH_TEST_VALGRIND") != NULL;
}

const char *cw_test_services_dir(void) {
        return CW_TEST_SERVICES_DIR;
}

static pid_t watcher_pid;
static GHashTable *list_children(void);
static void remember_watcher(GHashTable *before);
static void set_cloexec_on_all_fds(void);

guint cw_timeout_ms(guint base_ms) {
        return cw_under_valgrind() ? base_ms * 20 : base_ms;
}

void cw_test_init(int *argc, char ***argv) {
        g_test_init(argc, argv, NULL);
        /* Orphans of the service (it leaves non-kill-on-release children running when it
         * stops) come to us, not to a pid 1 that reaps late: teardown reaps them. */
        g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
        signal(SIGPIPE, SIG_IGN);
}

static void on_state_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        CwFixture *f = userdata;
        CwSignal *s = g_new0(CwSignal, 1);
        const char *event;

        g_variant_get(params, "(&si)", &event, &s->status);
        s->path = g_strdup(path);
        s->event = g_strdup(event);
        g_ptr_array_add(f->signals, s);
}

static void cw_signal_free(gpointer p) {
        CwSignal *s = p;
        g_free(s->path);
        g_free(s->event);
        g_free(s);
}

void cw_fixture_setup_with_args(CwFixture *f, const char *daemon_args) {
        g_autoptr(GError) error = NULL;

        memset(f, 0, sizeof(*f));
        f->tmpdir = g_dir_make_tmp("childwatch-test-XXXXXX", &error);
        g_assert_no_error(error);
        f->status_file = g_build_filename(f->tmpdir, "service-status", NULL);

        /* dbus-daemon inherits our environment and passes it to the activated service. */
        g_setenv("CHILDWATCH_TEST_STATUS_FILE", f->status_file, TRUE);
        g_setenv("CHILDWATCH_TEST_ARGS", daemon_args ? daemon_args : "", TRUE);
        if (cw_under_valgrind()) {
                g_autofree char *log = g_build_filename(f->tmpdir, "valgrind-%p.log", NULL);
                g_setenv("CHILDWATCH_TEST_VALGRIND_LOG", log, TRUE);
        }

        f->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
        g_test_dbus_add_service_dir(f->bus, CW_TEST_SERVICES_DIR);
        set_cloexec_on_all_fds();
        if (watcher_pid == 0) {
                g_autoptr(GHashTable) before = list_children();
                g_test_dbus_up(f->bus);
                remember_watcher(before);
        } else
                g_test_dbus_up(f->bus);

        f->conn = g_dbus_connection_new_for_address_sync(g_test_dbus_get_bus_address(f->bus),
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
        g_assert_no_error(error);

        f->signals = g_ptr_array_new_with_free_func(cw_signal_free);
        f->signal_subscription = g_dbus_connection_signal_subscribe(f->conn, CW_NAME, CW_PROCESS_IFACE,
                                                                    "StateChanged", NULL, NULL,
                                                                    G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed,
                                                                    f, NULL);
}

void cw_fixture_setup(CwFixture *f, gconstpointer data) {
        cw_fixture_setup_with_args(f, data);
}

GDBusConnection *cw_fixture_new_connection(CwFixture *f) {
        g_autoptr(GError) error = NULL;
        GDBusConnection *c = g_dbus_connection_new_for_address_sync(
                g_test_dbus_get_bus_address(f->bus),
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
        return c;
}

gboolean cw_name_has_owner(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                            "org.freedesktop.DBus", "NameHasOwner",
                                                            g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(b)"),
                                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        gboolean b = FALSE;

        g_assert_no_error(error);
        g_variant_get(r, "(b)", &b);
        return b;
}

pid_t cw_service_pid(CwFixture *f) {
        g_autoptr(GError) error = NULL;
        guint32 pid;

        /* Ping activates the service if it is not running yet. */
        g_autoptr(GVariant) ping = cw_call(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
                                           "()", &error);
        g_assert_no_error(error);
        g_assert_nonnull(ping);
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(u)"),
                G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        g_variant_get(r, "(u)", &pid);
        f->service_pid = (pid_t) pid;
        return f->service_pid;
}

gboolean cw_file_exists(gpointer path) {
        return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void print_valgrind_logs(CwFixture *f) {
        g_autoptr(GDir) dir = g_dir_open(f->tmpdir, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                if (!g_str_has_prefix(name, "valgrind-"))
                        continue;
                g_autofree char *path = g_build_filename(f->tmpdir, name, NULL);
                g_autofree char *contents = NULL;
                if (g_file_get_contents(path, &contents, NULL, NULL) && contents[0])
                        g_printerr("---- %s ----\n%s\n", name, contents);
        }
}

gboolean cw_proc_stat(pid_t pid, CwProcStat *ret) {
        char path[64], buf[512];
        FILE *fp;
        size_t k;
        char *open, *close;
        int ppid = 0, pgrp = 0, session = 0;
        char state;

        g_snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fp = fopen(path, "re");
        if (!fp)
                return FALSE;
        k = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[k] = 0;
        open = strchr(buf, '(');
        close = strrchr(buf, ')');
        if (!open || !close || close < open ||
            sscanf(close + 2, "%c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
                return FALSE;
        g_strlcpy(ret->comm, open + 1, MIN((size_t) (close - open), sizeof(ret->comm)));
        ret->state = state;
        ret->ppid = (pid_t) ppid;
        ret->pgrp = (pid_t) pgrp;
        ret->session = (pid_t) session;
        return TRUE;
}

gboolean cw_pid_gone(gpointer pid) {
        CwProcStat st;
        return !cw_proc_stat(GPOINTER_TO_INT(pid), &st) || st.state == 'Z' || st.state == 'X';
}

/* Our live children, as a set of pids. */
static GHashTable *list_children(void) {
        GHashTable *set = g_hash_table_new(NULL, NULL);
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid > 0 && cw_proc_stat(pid, &st) && st.ppid == getpid() && st.state != 'Z')
                        g_hash_table_add(set, GINT_TO_POINTER(pid));
        }
        return set;
}

/* GTestDBus forks one watcher per process, in the first g_test_dbus_up(): it kills
 * the dbus-daemons if we die, and every later g_test_dbus_up()/down() writes to it
 * (Broken pipe aborts the test if it is gone). It is the one child teardown must
 * keep. It is recognised by its pid, remembered when it appears: a comparison of
 * /proc/PID/cmdline fails under valgrind, which fakes our /proc/self/cmdline as the
 * client's while the forked watcher's is valgrind's own. */
static void remember_watcher(GHashTable *before) {
        g_autoptr(GHashTable) after = list_children();
        CwProcStat self, st;
        GHashTableIter it;
        gpointer key;

        /* New now are dbus-daemon (exec'd) and the watcher, a fork without exec:
         * the one with our own command name (under valgrind, the tool's). */
        g_assert_true(cw_proc_stat(getpid(), &self));
        g_hash_table_iter_init(&it, after);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                pid_t pid = GPOINTER_TO_INT(key);
                if (g_hash_table_contains(before, key) || !cw_proc_stat(pid, &st) ||
                    !g_str_equal(st.comm, self.comm))
                        continue;
                if (watcher_pid != 0)
                        g_error("two candidates for GTestDBus's watcher: %d and %d", watcher_pid, pid);
                watcher_pid = pid;
        }
        if (watcher_pid == 0)
                g_error("GTestDBus's watcher process was not found after the first g_test_dbus_up()");
}

/* GLib 2.74 makes the pipe to the watcher without O_CLOEXEC, and g_spawn() passes it on:
 * every dbus-daemon after the first inherits its write end. Should this process die, the
 * watcher then sees no EOF and kills no bus, and the orphaned dbus-daemon keeps meson's
 * output pipe open until the test's timeout (x20 under valgrind). Nothing of ours is meant
 * to be inherited by dbus-daemon. */
static void set_cloexec_on_all_fds(void) {
        g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                int fd = (int) g_ascii_strtoll(name, NULL, 10);
                int flags = fd > STDERR_FILENO ? fcntl(fd, F_GETFD) : -1;
                /* Under valgrind its own descriptors are listed too; it refuses them (EBADF). */
                if (flags >= 0 && !(flags & FD_CLOEXEC))
                        (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
}

static void reap_and_kill_leftovers(void) {
        /* Bounded: a few rounds of kill + reap of whatever is still our child. */
        for (int round = 0; round < 50; round++) {
                guint n = 0;
                g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
                const char *name;
                while (dir && (name = g_dir_read_name(dir))) {
                        pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                        CwProcStat st;
                        if (pid <= 0 || !cw_proc_stat(pid, &st) || st.ppid != getpid())
                                continue;
                        if (pid == watcher_pid && st.state != 'Z')
                                continue;
                        n++;
                        if (st.state != 'Z')
                                kill(pid, SIGKILL);
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (n == 0)
                        return;
                g_usleep(10 * 1000);
        }
}

/* The pid of the service that owns its name on the bus of @conn now, or 0 when none does.
 * Unlike cw_service_pid(), it never activates the service. */
static pid_t running_service_pid(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        guint32 pid = 0;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(u)"),
                G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, &error);

        if (!r) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);
                if (g_strcmp0(remote, "org.freedesktop.DBus.Error.NameHasNoOwner") != 0)
                        g_error("GetConnectionUnixProcessID(%s): %s", CW_NAME, error->message);
                return 0;
        }
        g_variant_get(r, "(u)", &pid);
        g_assert_cmpuint(pid, >, 0);
        return (pid_t) pid;
}

static gboolean has_no_zombies(gpointer pid) {
        return cw_count_zombies(GPOINTER_TO_INT(pid)) == 0;
}

/* "pid (comm), ..." of the zombie children of @parent. */
static char *describe_zombies(pid_t parent) {
        g_autoptr(GString) s = g_string_new(NULL);
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid <= 0 || !cw_proc_stat(pid, &st) || st.ppid != parent || st.state != 'Z')
                        continue;
                g_string_append_printf(s, "%s%d (%s)", s->len ? ", " : "", (int) pid, st.comm);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The service never leaves a zombie (API.md: every child is reaped after its terminal event).
 * A test may end while an exit is still on its way through the service's event loop, so this
 * waits a little (bounded) before it fails the test with the zombies it found. */
static void assert_service_has_no_zombies(pid_t service) {
        guint timeout_ms = cw_timeout_ms(2000);

        if (cw_wait_until(has_no_zombies, GINT_TO_POINTER(service), timeout_ms))
                return;
        g_autofree char *zombies = describe_zombies(service);
        if (zombies[0]) /* else the last one went away just now */
                g_test_fail_printf("the service (pid %d) still has zombie children %u ms after the test: %s",
                                   (int) service, timeout_ms, zombies);
}

void cw_fixture_teardown(CwFixture *f, gconstpointer data) {
        g_autofree char *status = NULL;
        pid_t running = f->conn ? running_service_pid(f->conn) : 0;

        if (running > 0) {
                assert_service_has_no_zombies(running);
                if (f->service_pid == 0)
                        f->service_pid = running;
                /* A test that stopped the service itself may leave it on its way out: its name
                 * still owned a moment ago, the process gone now. Its exit status tells below. */
                if (kill(running, SIGTERM) < 0 && errno != ESRCH)
                        g_error("kill(%d, SIGTERM): %s", (int) running, g_strerror(errno));
        }
        /* The service ran if it left a status file or is about to: wait for it (bounded). */
        if (f->service_pid || g_file_test(f->status_file, G_FILE_TEST_EXISTS)) {
                if (!cw_wait_until(cw_file_exists, f->status_file, cw_timeout_ms(10000)))
                        g_error("the service did not exit within the time limit");
                g_assert_true(g_file_get_contents(f->status_file, &status, NULL, NULL));
                if (g_strcmp0(g_strstrip(status), "0") != 0) {
                        print_valgrind_logs(f);
                        g_error("the service exited with status %s", status);
                }
        }

        if (f->signal_subscription)
                g_dbus_connection_signal_unsubscribe(f->conn, f->signal_subscription);
        g_clear_pointer(&f->signals, g_ptr_array_unref);
        if (f->conn)
                g_dbus_connection_close_sync(f->conn, NULL, NULL);
        g_clear_object(&f->conn);
        if (f->bus)
                g_test_dbus_down(f->bus);
        g_clear_object(&f->bus);

        reap_and_kill_leftovers();

        if (f->tmpdir) {
                g_autoptr(GDir) dir = g_dir_open(f->tmpdir, 0, NULL);
                const char *name;
                while (dir && (name = g_dir_read_name(dir))) {
                        g_autofree char *p = g_build_filename(f->tmpdir, name, NULL);
                        (void) unlink(p);
                }
                (void) rmdir(f->tmpdir);
        }
        g_clear_pointer(&f->tmpdir, g_free);
        g_clear_pointer(&f->status_file, g_free);
}

GVariant *cw_call_with_fds(GDBusConnection *conn, const char *path, const char *iface, const char *method,
                           GVariant *params, const char *reply_type, GUnixFDList *fds_in,
                           GUnixFDList **ret_fds_out, GError **error) {
        return g_dbus_connection_call_with_unix_fd_list_sync(
                conn, CW_NAME, path, iface, method, params, reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), fds_in, ret_fds_out, NULL, error);
}

GVariant *cw_call(GDBusConnection *conn, const char *path, const char *iface, const char *method,
                  GVariant *params, const char *reply_type, GError **error) {
        return cw_call_with_fds(conn, path, iface, method, params, reply_type, NULL, NULL, error);
}

char *cw_spawn_full(GDBusConnection *conn, const char *const *argv, GVariant *options, GUnixFDList *fds,
                    guint32 *ret_pid, GError **error) {
        if (!options)
                options = g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
        g_autoptr(GVariant) r = cw_call_with_fds(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn",
                                                 g_variant_new("(^as@a{sv})", argv, options), "(ou)", fds, NULL,
                                                 error);
        char *path;
        guint32 pid;

        if (!r)
                return NULL;
        g_variant_get(r, "(ou)", &path, &pid);
        if (ret_pid)
                *ret_pid = pid;
        return path;
}

char *cw_spawn(CwFixture *f, const char *const *argv, GVariant *options, guint32 *ret_pid) {
        g_autoptr(GError) error = NULL;
        char *path = cw_spawn_full(f->conn, argv, options, NULL, ret_pid, &error);
        g_assert_no_error(error);
        g_assert_nonnull(path);
        return path;
}

GVariant *cw_get_property(GDBusConnection *conn, const char *path, const char *iface, const char *name) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, path, "org.freedesktop.DBus.Properties", "Get",
                                        g_variant_new("(ss)", iface, name), "(v)", &error);
        GVariant *v;

        g_assert_no_error(error);
        g_variant_get(r, "(v)", &v);
        return v;
}

char *cw_get_state(CwFixture *f, const char *path) {
        g_autoptr(GVariant) v = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "State");
        return g_variant_dup_string(v, NULL);
}

static gboolean deadline_passed(gpointer data) {
        *(gboolean *) data = TRUE;
        return G_SOURCE_REMOVE;
}

static gboolean tick(gpointer data) {
        return G_SOURCE_CONTINUE;
}

gboolean cw_wait_until(gboolean (*done)(gpointer data), gpointer data, guint timeout_ms) {
        gboolean timed_out = FALSE;
        guint id = g_timeout_add(timeout_ms, deadline_passed, &timed_out);
        /* Some conditions (a file, /proc) raise no event: look again every 5 ms. */
        guint tick_id = g_timeout_add(5, tick, NULL);
        gboolean ok;

        while (!(ok = done(data)) && !timed_out)
                g_main_context_iteration(NULL, TRUE);
        if (!timed_out)
                g_source_remove(id);
        g_source_remove(tick_id);
        return ok;
}

static gboolean never(gpointer data) {
        return FALSE;
}

void cw_spin(guint ms) {
        (void) cw_wait_until(never, NULL, ms);
}

typedef struct EventQuery {
        CwFixture *f;
        const char *path;
        const char *event;
        int status;
} EventQuery;

static gboolean event_seen(gpointer data) {
        EventQuery *q = data;
        for (guint i = 0; i < q->f->signals->len; i++) {
                CwSignal *s = g_ptr_array_index(q->f->signals, i);
                if (g_str_equal(s->path, q->path) && g_str_equal(s->event, q->event)) {
                        q->status = s->status;
                        return TRUE;
                }
        }
        return FALSE;
}

int cw_wait_for_event(CwFixture *f, const char *path, const char *event, guint timeout_ms) {
        EventQuery q = { f, path, event, 0 };
        if (!cw_wait_until(event_seen, &q, cw_timeout_ms(timeout_ms)))
                g_error("no StateChanged(%s) for %s within %u ms", event, path, cw_timeout_ms(timeout_ms));
        return q.status;
}

guint cw_count_events(CwFixture *f, const char *path, const char *event) {
        guint n = 0;
        for (guint i = 0; i < f->signals->len; i++) {
                CwSignal *s = g_ptr_array_index(f->signals, i);
                if (g_str_equal(s->path, path) && (!event || g_str_equal(s->event, event)))
                        n++;
        }
        return n;
}

typedef enum CountWhat {
        COUNT_PROGRAMS,
        COUNT_ZOMBIES,
        COUNT_HELPERS,
} CountWhat;

static gboolean is_spawn_helper(pid_t pid, const CwProcStat *st) {
        if (st->state == 'Z')
                return FALSE;
        /* comm keeps 15 characters of "childwatch-spawn". A program between its clone and its
         * execve() has that name too, but no test counts while a Spawn is unanswered. */
        if (g_str_has_prefix(st->comm, "childwatch-spaw"))
                return TRUE;
        /* A helper just forked has not named itself yet: it still runs the service's program. */
        g_autofree char *exe_path = g_strdup_printf("/proc/%d/exe", (int) pid);
        g_autofree char *parent_exe_path = g_strdup_printf("/proc/%d/exe", (int) st->ppid);
        g_autofree char *exe = g_file_read_link(exe_path, NULL);
        g_autofree char *parent_exe = g_file_read_link(parent_exe_path, NULL);
        return exe && parent_exe && g_str_equal(exe, parent_exe);
}

static guint count_children(pid_t parent, CountWhat what) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;
        guint n = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                CwProcStat st;
                if (!g_ascii_isdigit(name[0]))
                        continue;
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                if (!cw_proc_stat(pid, &st) || st.ppid != parent)
                        continue;
                if ((what == COUNT_PROGRAMS && !is_spawn_helper(pid, &st)) ||
                    (what == COUNT_ZOMBIES && st.state == 'Z') || (what == COUNT_HELPERS && is_spawn_helper(pid, &st)))
                        n++;
        }
        return n;
}

guint cw_count_children(pid_t pid) {
        return count_children(pid, COUNT_PROGRAMS);
}

guint cw_count_zombies(pid_t pid) {
        return count_children(pid, COUNT_ZOMBIES);
}

guint cw_count_spawn_helpers(pid_t pid) {
        return count_children(pid, COUNT_HELPERS);
}

GArray *cw_spawn_helpers(pid_t service) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid > 0 && cw_proc_stat(pid, &st) && st.ppid == service && is_spawn_helper(pid, &st))
                        g_array_append_val(a, pid);
        }
        return a;
}

gboolean cw_pid_exists(pid_t pid) {
        return kill(pid, 0) == 0 || errno == EPERM;
}

char *cw_make_tmpdir(void) {
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp("cw-test-XXXXXX", &error);
        g_assert_no_error(error);
        return dir;
}

void cw_remove_tmpdir(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
                        g_autoptr(GDir) sub = g_dir_open(p, 0, NULL);
                        const char *n;
                        while (sub && (n = g_dir_read_name(sub))) {
                                g_autofree char *q = g_build_filename(p, n, NULL);
                                g_assert_cmpint(unlink(q), ==, 0);
                        }
                        g_assert_cmpint(rmdir(p), ==, 0);
                } else
                        g_assert_cmpint(unlink(p), ==, 0);
        }
        g_assert_cmpint(rmdir(dir), ==, 0);
}

void cw_release(GDBusConnection *conn, const char *path) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, path, CW_PROCESS_IFACE, "Release", NULL, "()", &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
}

/* A call that answers (s state, i status): Kill, Wait. */
static void call_end(GDBusConnection *conn, const char *path, const char *method, GVariant *params,
                     char **ret_state, int *ret_status) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, path, CW_PROCESS_IFACE, method, params, "(si)", &error);

        g_assert_no_error(error);
        g_variant_get(r, "(si)", ret_state, ret_status);
}

void cw_kill(GDBusConnection *conn, const char *path, guint64 timeout_usec, char **ret_state, int *ret_status) {
        call_end(conn, path, "Kill", g_variant_new("(t)", timeout_usec), ret_state, ret_status);
}

void cw_wait(GDBusConnection *conn, const char *path, char **ret_state, int *ret_status) {
        call_end(conn, path, "Wait", NULL, ret_state, ret_status);
}

void cw_send_signal(GDBusConnection *conn, const char *path, int sig, gboolean group, GError **error) {
        g_autoptr(GVariant) r = cw_call(conn, path, CW_PROCESS_IFACE, "SendSignal",
                                        g_variant_new("(ib)", sig, group), "()", error);
        if (error)
                g_assert_true((r != NULL) == (*error == NULL));
}

guint64 cw_get_u64(GDBusConnection *conn, const char *path, const char *iface, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(conn, path, iface, name);
        return g_variant_get_uint64(v);
}

guint32 cw_get_u32(GDBusConnection *conn, const char *path, const char *iface, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(conn, path, iface, name);
        return g_variant_get_uint32(v);
}

gint32 cw_get_i32(GDBusConnection *conn, const char *path, const char *iface, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(conn, path, iface, name);
        return g_variant_get_int32(v);
}

gboolean cw_get_bool(GDBusConnection *conn, const char *path, const char *iface, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(conn, path, iface, name);
        return g_variant_get_boolean(v);
}

void cw_assert_service_alive(CwFixture *f, pid_t expected_pid) {
        const char *argv[] = { "/bin/true", NULL };
        g_autofree char *wstate = NULL;
        int wstatus = -12345;

        g_assert_cmpint(cw_service_pid(f), ==, expected_pid);
        g_autofree char *path = cw_spawn(f, argv, NULL, NULL);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "exited");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, 0);
        cw_wait(f->conn, path, &wstate, &wstatus);
        g_assert_cmpstr(wstate, ==, "exited");
        g_assert_cmpint(wstatus, ==, 0);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
        cw_release(f->conn, path);
        g_assert_cmpint(cw_service_pid(f), ==, expected_pid);
        g_assert_cmpuint(cw_count_zombies(expected_pid), ==, 0);
}

guint cw_list_processes_count(CwFixture *f) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        return (guint) g_variant_n_children(list);
}

GVariant *cw_one_option(const char *key, GVariant *value) {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", key, value);
        return g_variant_builder_end(&b);
}

char cw_proc_state(pid_t pid) {
        CwProcStat st;
        return cw_proc_stat(pid, &st) ? st.state : 0;
}

char *cw_proc_comm(pid_t pid) {
        char path[64];
        char *comm = NULL;
        g_snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        if (!g_file_get_contents(path, &comm, NULL, NULL))
                return NULL;
        return g_strstrip(comm);
}

char *cw_proc_status_field(const char *file, const char *field) {
        g_autofree char *contents = NULL;
        if (!g_file_get_contents(file, &contents, NULL, NULL))
                return NULL;
        g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
        g_autofree char *prefix = g_strdup_printf("%s:", field);
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, prefix))
                        return g_strstrip(g_strdup(*l + strlen(prefix)));
        return NULL;
}

gboolean cw_proc_ignores_signal(pid_t pid, int sig) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        g_autofree char *ign = cw_proc_status_field(path, "SigIgn");
        return ign && (g_ascii_strtoull(ign, NULL, 16) & (G_GUINT64_CONSTANT(1) << (sig - 1))) != 0;
}

/* ---- Runs as another user ---- */

void cw_assert_usable_by_others(const char *path, gboolean exec) {
        g_autofree char *p = g_strdup(path);
        struct stat st;

        g_assert_true(g_path_is_absolute(p));
        g_assert_cmpint(stat(p, &st), ==, 0);
        if (!(st.st_mode & S_IROTH) || (exec && !(st.st_mode & S_IXOTH)))
                g_error("%s has mode %o: others cannot %s it", p, st.st_mode & 07777, exec ? "run" : "read");
        for (int depth = 0; depth < 256 && !g_str_equal(p, "/"); depth++) {
                char *dir = g_path_get_dirname(p);
                g_free(p);
                p = dir;
                g_assert_cmpint(stat(p, &st), ==, 0);
                if (!(st.st_mode & S_IXOTH))
                        g_error("directory %s has mode %o: others cannot reach %s", p, st.st_mode & 07777, path);
        }
}

char **cw_sub_run_environ(const char *home) {
        static const char *const unset[] = { "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS",
                                             "DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE", "DISPLAY",
                                             "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                                             "XDG_STATE_HOME", "CHILDWATCH_TEST_STATUS_FILE",
                                             "CHILDWATCH_TEST_ARGS", "CHILDWATCH_TEST_VALGRIND_LOG", NULL };
        char **env = g_get_environ();

        for (const char *const *u = unset; *u; u++)
                env = g_environ_unsetenv(env, *u);
        env = g_environ_setenv(env, "HOME", home, TRUE);
        env = g_environ_setenv(env, "TMPDIR", home, TRUE);
        env = g_environ_setenv(env, "XDG_RUNTIME_DIR", home, TRUE);
        return env;
}

struct CwSubRun {
        GSubprocess *sub;
        char *test_path;
        char *label;
        gboolean done;
        GBytes *output;
        GError *error;
};

static void on_sub_run_communicated(GObject *source, GAsyncResult *result, gpointer data) {
        CwSubRun *run = data;
        (void) g_subprocess_communicate_finish(G_SUBPROCESS(source), result, &run->output, NULL, &run->error);
        run->done = TRUE;
}

static void sub_run_child_setup(gpointer data) {
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
}

CwSubRun *cw_sub_run_start(uid_t uid, gid_t gid, const char *test_path, const char *cwd, char **env) {
        return cw_sub_run_start_with_groups(uid, gid, NULL, test_path, cwd, env);
}

CwSubRun *cw_sub_run_start_with_groups(uid_t uid, gid_t gid, const char *groups, const char *test_path,
                                       const char *cwd, char **env) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) own_env = NULL;
        CwSubRun *run = g_new0(CwSubRun, 1);

        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        g_assert_nonnull(setpriv);
        g_autofree char *self = g_file_read_link("/proc/self/exe", &error);
        g_assert_no_error(error);
        cw_assert_usable_by_others(self, TRUE);
        if (!env)
                env = own_env = cw_sub_run_environ(cwd);

        g_autoptr(GSubprocessLauncher) launcher =
                g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
        g_subprocess_launcher_set_environ(launcher, env);
        g_subprocess_launcher_set_cwd(launcher, cwd);
        g_subprocess_launcher_set_child_setup(launcher, sub_run_child_setup, NULL, NULL);
        char uid_arg[32], gid_arg[32];
        g_snprintf(uid_arg, sizeof(uid_arg), "--reuid=%u", (unsigned) uid);
        g_snprintf(gid_arg, sizeof(gid_arg), "--regid=%u", (unsigned) gid);
        g_autofree char *groups_arg = groups ? g_strdup_printf("--groups=%s", groups) : g_strdup("--init-groups");
        const char *const argv[] = { setpriv, uid_arg, gid_arg, groups_arg, "--", self,
                                     "--tap", "-p", test_path, NULL };
        run->sub = g_subprocess_launcher_spawnv(launcher, argv, &error);
        g_assert_no_error(error);
        run->test_path = g_strdup(test_path);
        run->label = g_strdup_printf("as uid %u%s%s (%s)", (unsigned) uid, groups ? " groups " : "",
                                     groups ? groups : "", test_path);
        g_subprocess_communicate_async(run->sub, NULL, NULL, on_sub_run_communicated, run);
        return run;
}

gboolean cw_sub_run_is_done(CwSubRun *run) {
        return run->done;
}

static gboolean sub_run_done(gpointer data) {
        return ((CwSubRun *) data)->done;
}

/* What is wrong with a sub-run's TAP output (NULL when nothing): its one test must have passed
 * (not skipped), under the plan 1..1, and nothing failed or bailed out. */
static char *sub_run_tap_failure(const char *output, const char *test_path) {
        g_auto(GStrv) lines = g_strsplit(output, "\n", -1);
        g_autofree char *ok_line = g_strdup_printf("ok 1 %s", test_path);
        gboolean passed = FALSE, plan = FALSE;

        for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "not ok") || g_str_has_prefix(*l, "Bail out!"))
                        return g_strdup(*l);
                if (g_str_equal(*l, ok_line))
                        passed = TRUE;
                else if (g_str_has_prefix(*l, "ok "))
                        return g_strdup_printf("unexpected result: %s", *l);
                else if (g_str_equal(*l, "1..1"))
                        plan = TRUE;
                else if (g_regex_match_simple("^[0-9]+\\.\\.[0-9]+", *l, 0, 0))
                        return g_strdup_printf("unexpected plan: %s", *l);
        }
        if (!passed || !plan)
                return g_strdup_printf("no \"%s\" under the plan 1..1", ok_line);
        return NULL;
}

char *cw_sub_run_finish(CwSubRun *run, guint timeout_ms) {
        g_autoptr(GError) error = NULL;
        char *failure = NULL;

        if (!cw_wait_until(sub_run_done, run, timeout_ms)) {
                g_test_message("%s did not end within %u ms: killing it", run->label, timeout_ms);
                g_subprocess_force_exit(run->sub);
                if (!cw_wait_until(sub_run_done, run, cw_timeout_ms(10000)))
                        g_error("%s did not end, even after SIGKILL", run->label);
        }
        g_assert_no_error(run->error);

        gsize size = 0;
        const char *bytes = run->output ? g_bytes_get_data(run->output, &size) : NULL;
        g_autofree char *output = g_strndup(bytes ? bytes : "", size);
        g_auto(GStrv) lines = g_strsplit(output, "\n", -1);
        for (char **l = lines; *l; l++)
                if (**l)
                        g_test_message("%s: %s", run->label, *l);
        if (!g_spawn_check_wait_status(g_subprocess_get_status(run->sub), &error))
                failure = g_strdup_printf("%s: %s", run->label, error->message);
        else {
                g_autofree char *tap = sub_run_tap_failure(output, run->test_path);
                if (tap)
                        failure = g_strdup_printf("%s: %s", run->label, tap);
        }

        g_clear_pointer(&run->output, g_bytes_unref);
        g_clear_object(&run->sub);
        g_free(run->test_path);
        g_free(run->label);
        g_free(run);
        return failure;
}

gboolean cw_sub_run(uid_t uid, gid_t gid, const char *test_path, const char *cwd, char **env, guint timeout_ms) {
        g_autofree char *failure = cw_sub_run_finish(cw_sub_run_start(uid, gid, test_path, cwd, env), timeout_ms);
        if (failure) {
                g_test_fail_printf("the run failed: %s", failure);
                return FALSE;
        }
        return TRUE;
}

void cw_reap_and_kill_leftovers(void) {
        reap_and_kill_leftovers();
}

void cw_assert_no_zombies(pid_t pid) {
        assert_service_has_no_zombies(pid);
}

/* ---- Calls on their way to the service ---- */

struct CwCallWatch {
        GDBusConnection *conn;
        char *member;
        guint filter;
        gint seen; /* atomic: the filter runs in GDBus's worker thread */
};

/* A monitor connection gets a copy of each call in the same step in which dbus-daemon queues
 * the call for the service; everything else it gets (NameAcquired, NameLost) is dropped too, so
 * that GDBus answers nothing on a monitor's behalf (dbus-daemon would disconnect it). */
static GDBusMessage *call_watch_filter(GDBusConnection *conn, GDBusMessage *m, gboolean incoming,
                                       gpointer data) {
        CwCallWatch *w = data;

        if (!incoming || g_dbus_message_get_message_type(m) == G_DBUS_MESSAGE_TYPE_METHOD_RETURN ||
            g_dbus_message_get_message_type(m) == G_DBUS_MESSAGE_TYPE_ERROR)
                return m;
        if (g_dbus_message_get_message_type(m) == G_DBUS_MESSAGE_TYPE_METHOD_CALL &&
            g_strcmp0(g_dbus_message_get_member(m), w->member) == 0)
                g_atomic_int_inc(&w->seen);
        g_object_unref(m);
        return NULL;
}

CwCallWatch *cw_call_watch_new(CwFixture *f, const char *member) {
        g_autoptr(GError) error = NULL;
        CwCallWatch *w = g_new0(CwCallWatch, 1);
        g_autofree char *rule = g_strdup_printf("type='method_call',member='%s'", member);
        const char *rules[] = { rule, NULL };

        w->conn = cw_fixture_new_connection(f);
        w->member = g_strdup(member);
        w->filter = g_dbus_connection_add_filter(w->conn, call_watch_filter, w, NULL);
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                w->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Monitoring",
                "BecomeMonitor", g_variant_new("(^asu)", rules, 0), G_VARIANT_TYPE("()"),
                G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        return w;
}

guint cw_call_watch_count(CwCallWatch *w) {
        return (guint) g_atomic_int_get(&w->seen);
}

typedef struct CallWatchQuery {
        CwCallWatch *w;
        guint n;
} CallWatchQuery;

static gboolean call_watch_reached(gpointer data) {
        CallWatchQuery *q = data;
        return cw_call_watch_count(q->w) >= q->n;
}

void cw_call_watch_wait(CwFixture *f, CwCallWatch *w, guint n) {
        CallWatchQuery q = { w, n };
        if (!cw_wait_until(call_watch_reached, &q, cw_timeout_ms(10000)))
                g_error("%u of %u %s calls were on their way to the service after %u ms", cw_call_watch_count(w),
                        n, w->member, cw_timeout_ms(10000));
        /* They are queued for the service before our Ping, so it has handled them once it answers. */
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) pong =
                cw_call(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", &error);
        g_assert_no_error(error);
        g_assert_nonnull(pong);
}

void cw_call_watch_free(CwCallWatch *w) {
        g_dbus_connection_close_sync(w->conn, NULL, NULL);
        g_dbus_connection_remove_filter(w->conn, w->filter);
        g_object_unref(w->conn);
        g_free(w->member);
        g_free(w);
}
