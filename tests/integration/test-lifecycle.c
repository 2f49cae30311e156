/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The life cycle of a watched process: stop/continue reports, Kill and its
 * escalation, Wait from many clients, Release, pidfds and signals, watch-bus,
 * lingering objects of departed owners, idle exit, the ObjectManager view and
 * the service's own shutdown.
 */

#include "cw-test.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define OBJECT_MANAGER_IFACE "org.freedesktop.DBus.ObjectManager"
#define UNKNOWN_OBJECT "org.freedesktop.DBus.Error.UnknownObject"
#define INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"

/* A process that ignores SIGTERM and has no children of its own: the ignored
 * disposition survives the exec. */
static const char *const ignore_term_argv[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
static const char *const sleep_argv[] = { "sleep", "30", NULL };
static const char *const true_argv[] = { "true", NULL };

/* ---- /proc ---- */

/* The first child of @parent found in /proc, or 0. */
static pid_t proc_find_child(pid_t parent) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid > 0 && cw_proc_stat(pid, &st) && st.ppid == parent)
                        return pid;
        }
        return 0;
}

/* No such process, not even a zombie. */
static gboolean pid_reaped(gpointer p) {
        return !cw_pid_exists(GPOINTER_TO_INT(p));
}

static gboolean pid_stopped(gpointer p) {
        return cw_proc_state(GPOINTER_TO_INT(p)) == 'T';
}

static gboolean pid_not_stopped(gpointer p) {
        char s = cw_proc_state(GPOINTER_TO_INT(p));
        return s != 0 && s != 'T';
}

static gboolean pid_ignores_term_after_exec(gpointer p) {
        pid_t pid = GPOINTER_TO_INT(p);
        g_autofree char *comm = cw_proc_comm(pid);
        return g_strcmp0(comm, "sleep") == 0 && cw_proc_ignores_signal(pid, SIGTERM);
}

/* Found the child of p[0] (into p[1]) once it has exec'd sleep. */
static gboolean sleeping_grandchild(gpointer data) {
        pid_t *p = data; /* [0]: parent, [1]: found child */
        p[1] = proc_find_child(p[0]);
        if (p[1] <= 0)
                return FALSE;
        g_autofree char *comm = cw_proc_comm(p[1]);
        return g_strcmp0(comm, "sleep") == 0;
}

static gboolean pid_is_alive(pid_t pid) {
        return !cw_pid_gone(GINT_TO_POINTER(pid));
}

/* ---- calls ---- */

static char *spawn_ignoring_term(CwFixture *f, GDBusConnection *conn, GVariant *options, guint32 *ret_pid) {
        g_autoptr(GError) error = NULL;
        guint32 pid;
        char *path = cw_spawn_full(conn, ignore_term_argv, options, NULL, &pid, &error);

        g_assert_no_error(error);
        /* The test means nothing unless SIGTERM really is ignored by then. */
        if (!cw_wait_until(pid_ignores_term_after_exec, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("process %u does not ignore SIGTERM", pid);
        *ret_pid = pid;
        return path;
}

static void assert_kill(GDBusConnection *conn, const char *path, guint64 timeout_usec, const char *state,
                        int status) {
        g_autofree char *s = NULL;
        int st;

        cw_kill(conn, path, timeout_usec, &s, &st);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(st, ==, status);
}

static void assert_wait(GDBusConnection *conn, const char *path, const char *state, int status) {
        g_autofree char *s = NULL;
        int st;

        cw_wait(conn, path, &s, &st);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(st, ==, status);
}

static void kill_now(CwFixture *f, const char *path) {
        assert_kill(f->conn, path, (guint64) 0, "killed", 9);
}

static void ping(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()",
                                        &error);
        (void) r; /* held for its cleanup only */
        g_assert_no_error(error);
}

static char *get_process(CwFixture *f, guint32 pid, GError **error) {
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                        g_variant_new("(u)", pid), "(o)", error);
        char *path = NULL;
        if (r)
                g_variant_get(r, "(o)", &path);
        return path;
}

static guint count_terminal(CwFixture *f, const char *path) {
        return cw_count_events(f, path, "exited") + cw_count_events(f, path, "killed") +
               cw_count_events(f, path, "dumped") + cw_count_events(f, path, "vanished");
}

/* After a short extra wait: exactly one terminal StateChanged, none after it. */
static void assert_one_terminal(CwFixture *f, const char *path, const char *event, int status) {
        cw_spin(300);
        g_assert_cmpuint(count_terminal(f, path), ==, 1);
        g_assert_cmpuint(cw_count_events(f, path, event), ==, 1);
        g_assert_cmpint(cw_wait_for_event(f, path, event, 0), ==, status);
        CwSignal *last = g_ptr_array_index(f->signals, f->signals->len - 1);
        for (guint i = f->signals->len; i > 0; i--) {
                CwSignal *s = g_ptr_array_index(f->signals, i - 1);
                if (g_str_equal(s->path, path)) {
                        last = s;
                        break;
                }
        }
        g_assert_cmpstr(last->event, ==, event);
}

typedef struct ObjectQuery {
        GDBusConnection *conn;
        const char *path;
} ObjectQuery;

/* Whether calls on the path give UnknownObject (any other error is a failure). */
static gboolean object_gone(gpointer data) {
        ObjectQuery *q = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(q->conn, q->path, PROPERTIES_IFACE, "Get",
                                        g_variant_new("(ss)", CW_PROCESS_IFACE, "State"), "(v)", &error);
        if (r)
                return FALSE;
        cw_assert_dbus_error(error, UNKNOWN_OBJECT);
        return TRUE;
}

static void assert_object_gone(CwFixture *f, const char *path) {
        ObjectQuery q = { f->conn, path };
        g_autoptr(GError) error = NULL;

        g_assert_true(object_gone(&q));
        g_autoptr(GVariant) r = cw_call(f->conn, path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", &error);
        g_assert_null(r);
        cw_assert_dbus_error(error, UNKNOWN_OBJECT);
}

static GVariant *list_processes(CwFixture *f) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error);
        g_assert_no_error(error);
        return g_variant_get_child_value(r, 0);
}

static guint64 id_of_path(const char *path) {
        const char *slash = strrchr(path, '/');
        g_assert_nonnull(slash);
        return g_ascii_strtoull(slash + 1, NULL, 10);
}

/* ---- the service itself ---- */

/* The same instance still runs: it neither exited nor crashed (which would also
 * leave a status file). Makes no call that could activate a new instance. */
static void assert_service_still_running(CwFixture *f, pid_t service_pid) {
        g_assert_false(g_file_test(f->status_file, G_FILE_TEST_EXISTS));
        g_assert_true(pid_is_alive(service_pid));
        g_assert_true(cw_name_has_owner(f->conn));
}

/* Waits (bounded) for the service to exit by itself and checks that it exited 0. */
static void assert_service_exits_cleanly(CwFixture *f, pid_t service_pid, guint timeout_ms) {
        g_autofree char *status = NULL;

        if (!cw_wait_until(cw_file_exists, f->status_file, cw_timeout_ms(timeout_ms)))
                g_error("the service did not exit within %u ms", cw_timeout_ms(timeout_ms));
        g_assert_true(g_file_get_contents(f->status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "0");
        /* The wrapper writes the file after it reaped the service. */
        g_assert_false(cw_pid_exists(service_pid));
        g_assert_false(cw_name_has_owner(f->conn));
}

/* Under valgrind (3.19 knows no pidfd_open()) the service falls back to watching by pid
 * and says so by leaving "pidfd" out of Features; natively this kernel has pidfds. */
static gboolean service_has_pidfds(CwFixture *f) {
        g_autoptr(GVariant) features = cw_get_property(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **list = g_variant_get_strv(features, NULL);
        gboolean has = g_strv_contains(list, "pidfd");

        if (!has && !g_getenv("CHILDWATCH_TEST_VALGRIND"))
                g_error("Features lacks \"pidfd\" outside valgrind");
        return has;
}

/* ---- signal recorder (PropertiesChanged, ObjectManager) ---- */

typedef struct Recorded {
        char *path;
        GVariant *params;
} Recorded;

typedef struct Recorder {
        GDBusConnection *conn;
        GPtrArray *items;
        guint id;
} Recorder;

static void recorded_free(gpointer p) {
        Recorded *r = p;
        g_free(r->path);
        g_variant_unref(r->params);
        g_free(r);
}

static void on_recorded(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                        const char *member, GVariant *params, gpointer userdata) {
        Recorder *rec = userdata;
        Recorded *r = g_new0(Recorded, 1);
        r->path = g_strdup(path);
        r->params = g_variant_ref(params);
        g_ptr_array_add(rec->items, r);
}

static void recorder_start(Recorder *rec, GDBusConnection *conn, const char *iface, const char *member,
                           const char *arg0) {
        rec->conn = conn;
        rec->items = g_ptr_array_new_with_free_func(recorded_free);
        rec->id = g_dbus_connection_signal_subscribe(conn, CW_NAME, iface, member, NULL, arg0,
                                                     G_DBUS_SIGNAL_FLAGS_NONE, on_recorded, rec, NULL);
        /* The match rule is in place once the bus answered anything after it. */
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                            "org.freedesktop.DBus", "GetId", NULL, NULL,
                                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
        (void) r; /* held for its cleanup only */
}

static void recorder_stop(Recorder *rec) {
        g_dbus_connection_signal_unsubscribe(rec->conn, rec->id);
        g_clear_pointer(&rec->items, g_ptr_array_unref);
}

typedef struct ChangeQuery {
        Recorder *rec;
        const char *path;
        const char *state;
        GVariant *found; /* the changed-properties a{sv} with State == state */
} ChangeQuery;

static gboolean properties_change_seen(gpointer data) {
        ChangeQuery *q = data;
        for (guint i = 0; i < q->rec->items->len; i++) {
                Recorded *r = g_ptr_array_index(q->rec->items, i);
                const char *iface, *state;
                g_autoptr(GVariant) changed = NULL;
                g_autoptr(GVariant) invalidated = NULL;

                if (!g_str_equal(r->path, q->path))
                        continue;
                g_variant_get(r->params, "(&s@a{sv}@as)", &iface, &changed, &invalidated);
                if (!g_str_equal(iface, CW_PROCESS_IFACE))
                        continue;
                if (g_variant_lookup(changed, "State", "&s", &state) && g_str_equal(state, q->state)) {
                        q->found = g_steal_pointer(&changed);
                        return TRUE;
                }
        }
        return FALSE;
}

/* Waits (bounded) for PropertiesChanged on @path that sets State to @state; returns its a{sv}. */
static GVariant *wait_for_properties_change(Recorder *rec, const char *path, const char *state) {
        ChangeQuery q = { rec, path, state, NULL };
        if (!cw_wait_until(properties_change_seen, &q, cw_timeout_ms(5000)))
                g_error("no PropertiesChanged(State=%s) for %s", state, path);
        return q.found;
}

typedef struct PathQuery {
        Recorder *rec;
        const char *path;
        Recorded *found;
} PathQuery;

/* ObjectManager signals: the first argument is the object path. */
static gboolean object_signal_seen(gpointer data) {
        PathQuery *q = data;
        for (guint i = 0; i < q->rec->items->len; i++) {
                Recorded *r = g_ptr_array_index(q->rec->items, i);
                g_autoptr(GVariant) o = g_variant_get_child_value(r->params, 0);
                if (g_str_equal(g_variant_get_string(o, NULL), q->path)) {
                        q->found = r;
                        return TRUE;
                }
        }
        return FALSE;
}

static Recorded *wait_for_object_signal(Recorder *rec, const char *path) {
        PathQuery q = { rec, path, NULL };
        if (!cw_wait_until(object_signal_seen, &q, cw_timeout_ms(5000)))
                g_error("no ObjectManager signal for %s", path);
        return q.found;
}

static guint count_object_signals(Recorder *rec, const char *path) {
        guint n = 0;
        for (guint i = 0; i < rec->items->len; i++) {
                Recorded *r = g_ptr_array_index(rec->items, i);
                g_autoptr(GVariant) o = g_variant_get_child_value(r->params, 0);
                if (g_str_equal(g_variant_get_string(o, NULL), path))
                        n++;
        }
        return n;
}

/* ---- 1. stop / continue ---- */

static void test_stop_continue(CwFixture *f, gconstpointer data) {
        /* SIGSTOP and SIGCONT are reported once each as StateChanged, State, ExitStatus and
         * PropertiesChanged; the end, too, with its ExitTimestamp. */
        Recorder rec;
        guint32 pid;
        g_autoptr(GError) error = NULL;

        recorder_start(&rec, f->conn, PROPERTIES_IFACE, "PropertiesChanged", CW_PROCESS_IFACE);
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        g_autofree char *state0 = cw_get_state(f, path);
        g_assert_cmpstr(state0, ==, "running");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, 0);
        g_assert_cmpuint(cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "ExitTimestamp"), ==, 0);

        cw_send_signal(f->conn, path, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "stopped", 5000), ==, SIGSTOP);
        g_assert_cmpint(cw_proc_state(pid), ==, 'T');
        g_autofree char *state1 = cw_get_state(f, path);
        g_assert_cmpstr(state1, ==, "stopped");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, SIGSTOP);
        g_assert_cmpuint(cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "ExitTimestamp"), ==, 0);
        g_autoptr(GVariant) stopped = wait_for_properties_change(&rec, path, "stopped");
        gint32 status;
        guint64 ts;
        g_assert_true(g_variant_lookup(stopped, "ExitStatus", "i", &status));
        g_assert_cmpint(status, ==, SIGSTOP);
        g_assert_true(g_variant_lookup(stopped, "ExitTimestamp", "t", &ts));
        g_assert_cmpuint(ts, ==, 0);

        cw_send_signal(f->conn, path, SIGCONT, FALSE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "continued", 5000), ==, SIGCONT);
        g_autofree char *state2 = cw_get_state(f, path);
        g_assert_cmpstr(state2, ==, "running");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, 0);
        g_autoptr(GVariant) running = wait_for_properties_change(&rec, path, "running");
        g_assert_true(g_variant_lookup(running, "ExitStatus", "i", &status));
        g_assert_cmpint(status, ==, 0);

        kill_now(f, path);
        g_autoptr(GVariant) killed = wait_for_properties_change(&rec, path, "killed");
        g_assert_true(g_variant_lookup(killed, "ExitStatus", "i", &status));
        g_assert_cmpint(status, ==, SIGKILL);
        g_assert_true(g_variant_lookup(killed, "ExitTimestamp", "t", &ts));
        g_assert_cmpuint(ts, >=, cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "StartTimestamp"));
        g_assert_cmpuint(ts, ==, cw_get_u64(f->conn, path, CW_PROCESS_IFACE, "ExitTimestamp"));

        /* Each report once: the signalfd path and the sweep never announce one twice. */
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_cmpuint(cw_count_events(f, path, "stopped"), ==, 1);
        g_assert_cmpuint(cw_count_events(f, path, "continued"), ==, 1);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 3);
        recorder_stop(&rec);
}

static void test_stop_then_kill(CwFixture *f, gconstpointer data) {
        /* A process killed while its stop is being announced still gets its one terminal event
         * and is reaped. Without pidfds (under valgrind) sd-event skipped an exit that came
         * while the stop report was pending in the service's loop: the process stayed a zombie,
         * never announced. The kill follows the stop after 0 to 1.5 ms, so that some rounds
         * land in that window. */
        for (guint round = 0; round < 100; round++) {
                guint32 pid;
                g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);

                /* The service's unreaped child: the pid cannot be reused before it is announced. */
                g_assert_cmpint(kill((pid_t) pid, SIGSTOP), ==, 0);
                gint64 until = g_get_monotonic_time() + (round * 37) % 1500;
                while (g_get_monotonic_time() < until)
                        ;
                g_assert_cmpint(kill((pid_t) pid, SIGKILL), ==, 0);
                if (cw_wait_for_event(f, path, "killed", 5000) != SIGKILL)
                        g_error("round %u: process %u was not announced killed", round, pid);
                g_assert_cmpuint(count_terminal(f, path), ==, 1);
                cw_release(f->conn, path);
        }
        cw_assert_no_zombies(cw_service_pid(f));
}

static void test_stop_continue_not_requested(CwFixture *f, gconstpointer data) {
        /* events=["exited"]: a stop and a continue raise no StateChanged; the end still does. */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'events': <['exited']>}"), &pid);

        cw_send_signal(f->conn, path, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        g_assert_true(cw_wait_until(pid_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)));
        cw_spin(200);
        cw_send_signal(f->conn, path, SIGCONT, FALSE, &error);
        g_assert_no_error(error);
        g_assert_true(cw_wait_until(pid_not_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)));
        cw_spin(300);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);

        kill_now(f, path);
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
}

/* ---- async calls answering (s state, i status) ---- */

typedef struct WaitResult {
        gboolean done;
        char *state;
        int status;
        GError *error;
} WaitResult;

static void on_wait_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        WaitResult *w = userdata;
        g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &w->error);
        if (r)
                g_variant_get(r, "(si)", &w->state, &w->status);
        w->done = TRUE;
}

static gboolean wait_done(gpointer data) {
        return ((WaitResult *) data)->done;
}

/* ---- 2. Kill ---- */

static void test_kill_escalates(CwFixture *f, gconstpointer data) {
        /* A process that ignores kill-signal gets SIGKILL once the timeout has passed. */
        guint32 pid;
        g_autofree char *path = spawn_ignoring_term(f, f->conn, NULL, &pid);
        gint64 start = g_get_monotonic_time();

        assert_kill(f->conn, path, (guint64) 300000, "killed", SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 300000);
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_false(cw_pid_exists(pid));
}

static void test_kill_sooner_deadline(CwFixture *f, gconstpointer data) {
        /* Two Kill calls in flight: the shorter timeout wins and both get the one end. */
        guint32 pid;
        g_autofree char *path = spawn_ignoring_term(f, f->conn, NULL, &pid);
        WaitResult first = {};
        gint64 start = g_get_monotonic_time();

        g_dbus_connection_call(f->conn, CW_NAME, path, CW_PROCESS_IFACE, "Kill",
                               g_variant_new("(t)", (guint64) 20 * G_USEC_PER_SEC), G_VARIANT_TYPE("(si)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, on_wait_done, &first);
        assert_kill(f->conn, path, (guint64) 200000, "killed", SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
        if (!cw_wait_until(wait_done, &first, cw_timeout_ms(5000)))
                g_error("the first Kill was not answered");
        g_assert_no_error(first.error);
        g_assert_cmpstr(first.state, ==, "killed");
        g_assert_cmpint(first.status, ==, SIGKILL);
        g_free(first.state);
        assert_one_terminal(f, path, "killed", SIGKILL);
}

static void test_kill_stopped(CwFixture *f, gconstpointer data) {
        /* A stopped process ends by kill-signal (SIGTERM), not by the SIGKILL escalation. */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);

        cw_send_signal(f->conn, path, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "stopped", 5000), ==, SIGSTOP);
        assert_kill(f->conn, path, (guint64) 10 * G_USEC_PER_SEC, "killed", SIGTERM);
        assert_one_terminal(f, path, "killed", SIGTERM);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(cw_get_i32(f->conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, SIGTERM);
}

static void test_kill_stopped_handler(CwFixture *f, gconstpointer data) {
        /* SIGCONT really follows kill-signal: a stopped shell that traps SIGTERM runs its trap
         * (exit 7) instead of waiting, stopped, for the SIGKILL escalation. */
        const char *argv[] = { "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done", NULL };
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, argv, NULL, &pid);
        pid_t p[2] = { (pid_t) pid, 0 };

        /* The trap is set once the loop runs. */
        if (!cw_wait_until(sleeping_grandchild, p, cw_timeout_ms(5000)))
                g_error("the loop of %u did not start", pid);
        cw_send_signal(f->conn, path, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "stopped", 5000), ==, SIGSTOP);
        assert_kill(f->conn, path, (guint64) 20 * G_USEC_PER_SEC, "exited", 7);
        assert_one_terminal(f, path, "exited", 7);
}

static void test_kill_immediate(CwFixture *f, gconstpointer data) {
        /* Kill(0) sends SIGKILL at once, not kill-signal. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);

        kill_now(f, path);
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_false(cw_pid_exists(pid));
}

static void test_kill_signal_option(CwFixture *f, gconstpointer data) {
        /* kill-signal=SIGINT is what Kill sends first. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'kill-signal': <2>}"), &pid);

        assert_kill(f->conn, path, (guint64) 10 * G_USEC_PER_SEC, "killed", SIGINT);
        assert_one_terminal(f, path, "killed", SIGINT);
}

static void test_kill_ended(CwFixture *f, gconstpointer data) {
        /* Kill on an ended process answers at once with its end state and signals nothing. */
        const char *argv[] = { "sh", "-c", "exit 3", NULL };
        g_autofree char *path = cw_spawn(f, argv, NULL, NULL);

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 5000), ==, 3);
        gint64 start = g_get_monotonic_time();
        assert_kill(f->conn, path, (guint64) 10 * G_USEC_PER_SEC, "exited", 3);
        assert_kill(f->conn, path, (guint64) 0, "exited", 3);
        g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
        assert_one_terminal(f, path, "exited", 3);
}

/* ---- 3. Wait ---- */

#define N_WAITERS 4

static gboolean all_waits_done(gpointer data) {
        WaitResult *w = data;
        for (guint i = 0; i < N_WAITERS; i++)
                if (!w[i].done)
                        return FALSE;
        return TRUE;
}

static void test_wait_many_clients(CwFixture *f, gconstpointer data) {
        /* Wait from several clients at once: each gets the same end state when it ends. */
        GDBusConnection *conns[N_WAITERS];
        WaitResult w[N_WAITERS] = {};
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);

        for (guint i = 0; i < N_WAITERS; i++) {
                conns[i] = i == 0 ? g_object_ref(f->conn) : cw_fixture_new_connection(f);
                g_dbus_connection_call(conns[i], CW_NAME, path, CW_PROCESS_IFACE, "Wait", NULL,
                                       G_VARIANT_TYPE("(si)"), G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000),
                                       NULL, on_wait_done, &w[i]);
                /* Calls of one connection are served in order: the Wait is pending now. */
                ping(conns[i]);
        }
        cw_spin(200);
        for (guint i = 0; i < N_WAITERS; i++)
                g_assert_false(w[i].done);

        cw_send_signal(f->conn, path, SIGTERM, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(all_waits_done, w, cw_timeout_ms(5000)))
                g_error("not every Wait was answered");
        for (guint i = 0; i < N_WAITERS; i++) {
                g_assert_no_error(w[i].error);
                g_assert_cmpstr(w[i].state, ==, "killed");
                g_assert_cmpint(w[i].status, ==, SIGTERM);
                g_free(w[i].state);
                if (conns[i] != f->conn)
                        g_dbus_connection_close_sync(conns[i], NULL, NULL);
                g_object_unref(conns[i]);
        }
        assert_one_terminal(f, path, "killed", SIGTERM);
}

static void test_wait_ended(CwFixture *f, gconstpointer data) {
        /* Wait on an ended process answers at once, also to a client that is not the owner. */
        const char *argv[] = { "sh", "-c", "exit 5", NULL };
        g_autofree char *path = cw_spawn(f, argv, NULL, NULL);
        g_autoptr(GDBusConnection) other = cw_fixture_new_connection(f);

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 5000), ==, 5);
        gint64 start = g_get_monotonic_time();
        assert_wait(f->conn, path, "exited", 5);
        assert_wait(other, path, "exited", 5);
        g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
        g_dbus_connection_close_sync(other, NULL, NULL);
}

static void test_wait_client_gone(CwFixture *f, gconstpointer data) {
        /* A client that leaves while its Wait is pending does not upset the service: the end is
         * still announced and answered to the others. */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        g_autoptr(GDBusConnection) other = cw_fixture_new_connection(f);
        WaitResult gone = {}, stays = {};
        pid_t service = cw_service_pid(f);

        g_dbus_connection_call(other, CW_NAME, path, CW_PROCESS_IFACE, "Wait", NULL, G_VARIANT_TYPE("(si)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, on_wait_done, &gone);
        ping(other);
        g_dbus_connection_call(f->conn, CW_NAME, path, CW_PROCESS_IFACE, "Wait", NULL, G_VARIANT_TYPE("(si)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, on_wait_done, &stays);
        ping(f->conn);
        g_assert_true(g_dbus_connection_close_sync(other, NULL, &error));
        g_assert_no_error(error);
        cw_spin(200);

        cw_send_signal(f->conn, path, SIGTERM, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(wait_done, &stays, cw_timeout_ms(5000)))
                g_error("Wait was not answered");
        g_assert_no_error(stays.error);
        g_assert_cmpstr(stays.state, ==, "killed");
        g_assert_cmpint(stays.status, ==, SIGTERM);
        g_free(stays.state);
        /* The closed connection's call failed locally. */
        if (!cw_wait_until(wait_done, &gone, cw_timeout_ms(5000)))
                g_error("the Wait of the closed connection did not complete");
        g_assert_nonnull(gone.error);
        g_clear_error(&gone.error);
        g_free(gone.state);

        assert_one_terminal(f, path, "killed", SIGTERM);
        assert_service_still_running(f, service);
        ping(f->conn);
}

/* ---- 4. Release ---- */

static void test_release_ended(CwFixture *f, gconstpointer data) {
        /* Release of an ended process drops its object: calls give UnknownObject, lists omit it. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, true_argv, NULL, &pid);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 5000), ==, 0);
        cw_release(f->conn, path);
        assert_object_gone(f, path);
        g_autoptr(GVariant) list = list_processes(f);
        g_assert_cmpuint(g_variant_n_children(list), ==, 0);
        g_autofree char *found = get_process(f, pid, &error);
        g_assert_null(found);
        cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
}

static void test_release_running(CwFixture *f, gconstpointer data) {
        /* Release of a running process without kill-on-release: the object goes, the process
         * runs on, and the service still reaps it when it ends (no zombie, no crash). */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        pid_t service = cw_service_pid(f);

        g_autofree char *found = get_process(f, pid, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(found, ==, path);
        g_assert_false(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "KillOnRelease"));

        cw_release(f->conn, path);
        assert_object_gone(f, path);
        g_autofree char *found2 = get_process(f, pid, &error);
        g_assert_null(found2);
        cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
        g_autoptr(GVariant) list = list_processes(f);
        g_assert_cmpuint(g_variant_n_children(list), ==, 0);

        cw_spin(200);
        g_assert_cmpint(kill(pid, 0), ==, 0);
        g_assert_true(pid_is_alive(pid));
        CwProcStat st;
        g_assert_true(cw_proc_stat(pid, &st));
        g_assert_cmpint(st.ppid, ==, service);

        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        if (!cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("released process %u was not reaped (state %c)", pid, cw_proc_state(pid));
        cw_spin(200);
        assert_service_still_running(f, service);
        ping(f->conn);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        /* Nobody can hear about the object any more. */
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);
}

static void test_release_kill_on_release(CwFixture *f, gconstpointer data) {
        /* Release with kill-on-release kills the running process and reaps it. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'kill-on-release': <true>}"), &pid);
        pid_t service = cw_service_pid(f);

        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus"));
        cw_release(f->conn, path);
        assert_object_gone(f, path);
        if (!cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("process %u was not killed and reaped (state %c)", pid, cw_proc_state(pid));
        cw_spin(200);
        assert_service_still_running(f, service);
        ping(f->conn);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);
}

static void test_option_properties(CwFixture *f, gconstpointer data) {
        /* WatchBus and KillOnRelease reflect the options, false by default. */
        g_autofree char *plain = cw_spawn(f, sleep_argv, NULL, NULL);
        g_autofree char *watch = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'watch-bus': <true>}"), NULL);
        g_autofree char *both = cw_spawn(
                f, sleep_argv, g_variant_new_parsed("{'watch-bus': <true>, 'kill-on-release': <true>}"), NULL);

        g_assert_false(cw_get_bool(f->conn, plain, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(f->conn, plain, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_true(cw_get_bool(f->conn, watch, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(f->conn, watch, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_true(cw_get_bool(f->conn, both, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_true(cw_get_bool(f->conn, both, CW_PROCESS_IFACE, "KillOnRelease"));
        kill_now(f, plain);
        kill_now(f, watch);
        kill_now(f, both);
}

static void test_get_process(CwFixture *f, gconstpointer data) {
        /* GetProcess finds the object of each running process by pid, and no other pid. */
        guint32 pid1, pid2;
        g_autoptr(GError) error = NULL;
        g_autofree char *path1 = cw_spawn(f, sleep_argv, NULL, &pid1);
        g_autofree char *path2 = cw_spawn(f, sleep_argv, NULL, &pid2);

        g_autofree char *found1 = get_process(f, pid1, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(found1, ==, path1);
        g_autofree char *found2 = get_process(f, pid2, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(found2, ==, path2);
        g_autofree char *none = get_process(f, (guint32) getpid(), &error);
        g_assert_null(none);
        cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
        kill_now(f, path1);
        kill_now(f, path2);
}

/* ---- 5. pidfds and signals ---- */

static void test_pidfd(CwFixture *f, gconstpointer data) {
        /* GetPidfd hands out a pidfd of that very process: it polls readable at the end and
         * pidfd_send_signal() through it works. */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        g_autoptr(GVariant) r = cw_call_with_fds(f->conn, path, CW_PROCESS_IFACE, "GetPidfd", NULL, "(h)", NULL,
                                                 &fds, &error);
        gint32 index;

        if (!service_has_pidfds(f)) {
                /* The documented fallback: no pidfd to hand out (NotSupported) while the process
                 * runs; it is still signalled, by pid, and once ended it is NotRunning as always. */
                g_autoptr(GError) error_signal = NULL;
                g_autoptr(GError) error_ended = NULL;
                g_autoptr(GUnixFDList) fds_ended = NULL;

                g_assert_null(r);
                cw_assert_dbus_error(error, "org.freedesktop.DBus.Error.NotSupported");
                g_assert_true(pid_is_alive(pid));
                cw_send_signal(f->conn, path, SIGTERM, FALSE, &error_signal);
                g_assert_no_error(error_signal);
                g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGTERM);
                g_autoptr(GVariant) r_ended = cw_call_with_fds(f->conn, path, CW_PROCESS_IFACE, "GetPidfd",
                                                               NULL, "(h)", NULL, &fds_ended, &error_ended);
                g_assert_null(r_ended);
                cw_assert_dbus_error(error_ended, CW_ERROR("NotRunning"));
                assert_one_terminal(f, path, "killed", SIGTERM);
                return;
        }
        g_assert_no_error(error);
        g_variant_get(r, "(h)", &index);
        g_assert_nonnull(fds);
        int fd = g_unix_fd_list_get(fds, index, &error);
        g_assert_no_error(error);
        g_assert_cmpint(fd, >=, 0);

        char fdinfo[64];
        g_snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
        g_autofree char *fd_pid = cw_proc_status_field(fdinfo, "Pid");
        g_assert_nonnull(fd_pid);
        g_assert_cmpint(g_ascii_strtoll(fd_pid, NULL, 10), ==, pid);

        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        g_assert_cmpint(poll(&pfd, 1, 0), ==, 0);

        g_assert_cmpint(pidfd_send_signal(fd, SIGTERM, NULL, 0), ==, 0);
        g_assert_cmpint(poll(&pfd, 1, (int) cw_timeout_ms(5000)), ==, 1);
        g_assert_true(pfd.revents & POLLIN);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGTERM);
        g_assert_cmpint(close(fd), ==, 0);

        /* Ended: no pidfd and no signal any more. */
        g_autoptr(GUnixFDList) fds2 = NULL;
        g_autoptr(GError) error2 = NULL;
        g_autoptr(GVariant) r2 = cw_call_with_fds(f->conn, path, CW_PROCESS_IFACE, "GetPidfd", NULL, "(h)", NULL,
                                                  &fds2, &error2);
        g_assert_null(r2);
        cw_assert_dbus_error(error2, CW_ERROR("NotRunning"));
        assert_one_terminal(f, path, "killed", SIGTERM);
}

static void test_send_signal_ended(CwFixture *f, gconstpointer data) {
        /* SendSignal on an ended process is NotRunning, for the process and its group alike. */
        g_autofree char *path = cw_spawn(f, true_argv, NULL, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error2 = NULL;

        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 5000), ==, 0);
        cw_send_signal(f->conn, path, SIGTERM, FALSE, &error);
        cw_assert_dbus_error(error, CW_ERROR("NotRunning"));
        cw_send_signal(f->conn, path, SIGTERM, TRUE, &error2);
        cw_assert_dbus_error(error2, CW_ERROR("NotRunning"));
        assert_one_terminal(f, path, "exited", 0);
}

static void test_send_signal_group(CwFixture *f, gconstpointer data) {
        /* With new-session, SendSignal(process_group) reaches a grandchild in the group too. */
        const char *argv[] = { "sh", "-c", "sleep 30 & wait", NULL };
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, argv, g_variant_new_parsed("{'new-session': <true>}"), &pid);
        pid_t p[2] = { (pid_t) pid, 0 };

        if (!cw_wait_until(sleeping_grandchild, p, cw_timeout_ms(5000)))
                g_error("no grandchild of %u appeared", pid);
        pid_t grandchild = p[1];
        g_assert_cmpint(getpgid((pid_t) pid), ==, (pid_t) pid);
        g_assert_cmpint(getpgid(grandchild), ==, (pid_t) pid);

        cw_send_signal(f->conn, path, SIGTERM, TRUE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGTERM);
        if (!cw_wait_until(cw_pid_gone, GINT_TO_POINTER(grandchild), cw_timeout_ms(5000)))
                g_error("grandchild %d in the group did not get the signal", grandchild);
        /* An orphan comes to us (subreaper): reap it. */
        CwProcStat st;
        if (cw_proc_stat(grandchild, &st) && st.ppid == getpid())
                g_assert_cmpint(waitpid(grandchild, NULL, 0), ==, grandchild);
        assert_one_terminal(f, path, "killed", SIGTERM);
}

static void test_send_signal_group_without_session(CwFixture *f, gconstpointer data) {
        /* Without new-session the process leads no group: InvalidArgs, and the group it sits in
         * (the service's) is left alone. */
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        pid_t service = cw_service_pid(f);

        g_assert_cmpint(getpgid((pid_t) pid), ==, getpgid(service));
        g_assert_cmpint(getpgid((pid_t) pid), !=, (pid_t) pid);
        cw_send_signal(f->conn, path, SIGTERM, TRUE, &error);
        cw_assert_dbus_error(error, INVALID_ARGS);

        cw_spin(300);
        assert_service_still_running(f, service);
        ping(f->conn);
        g_assert_true(pid_is_alive(pid));
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);
        kill_now(f, path);
}

static void test_send_signal_bad_number(CwFixture *f, gconstpointer data) {
        /* Signal numbers outside 1...SIGRTMAX are InvalidArgs and reach nobody. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        const int bad[] = { 0, -1, SIGRTMAX + 1, 1000 };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                cw_send_signal(f->conn, path, bad[i], FALSE, &error);
                cw_assert_dbus_error(error, INVALID_ARGS);
        }
        cw_spin(200);
        g_assert_true(pid_is_alive(pid));
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);
        kill_now(f, path);
}

/* ---- 6. watch-bus ---- */

static void test_watch_bus(CwFixture *f, gconstpointer data) {
        /* When the owner leaves, a watch-bus process gets its kill-signal; one without watch-bus
         * runs on and is still the caller's to end. */
        g_autoptr(GDBusConnection) owner = cw_fixture_new_connection(f);
        g_autoptr(GError) error = NULL;
        guint32 pid_watched, pid_int, pid_free;
        g_autofree char *watched = cw_spawn_full(owner, sleep_argv, g_variant_new_parsed("{'watch-bus': <true>}"),
                                                 NULL, &pid_watched, &error);
        g_assert_no_error(error);
        g_autofree char *with_int = cw_spawn_full(
                owner, sleep_argv, g_variant_new_parsed("{'watch-bus': <true>, 'kill-signal': <2>}"), NULL,
                &pid_int, &error);
        g_assert_no_error(error);
        g_autofree char *free_one = cw_spawn_full(owner, sleep_argv, NULL, NULL, &pid_free, &error);
        g_assert_no_error(error);

        g_assert_true(g_dbus_connection_close_sync(owner, NULL, &error));
        g_assert_no_error(error);

        g_assert_cmpint(cw_wait_for_event(f, watched, "killed", 5000), ==, SIGTERM);
        g_assert_cmpint(cw_wait_for_event(f, with_int, "killed", 5000), ==, SIGINT);
        assert_wait(f->conn, watched, "killed", SIGTERM);
        /* The service has dealt with the departure by now: the other one must still run. */
        cw_spin(300);
        g_assert_cmpuint(cw_count_events(f, free_one, NULL), ==, 0);
        g_assert_true(pid_is_alive(pid_free));
        g_autofree char *state = cw_get_state(f, free_one);
        g_assert_cmpstr(state, ==, "running");

        kill_now(f, free_one);
        assert_one_terminal(f, watched, "killed", SIGTERM);
        assert_one_terminal(f, with_int, "killed", SIGINT);
        assert_one_terminal(f, free_one, "killed", SIGKILL);
}

static void test_watch_bus_escalates(CwFixture *f, gconstpointer data) {
        /* watch-bus escalates to SIGKILL after kill-timeout-usec when kill-signal is ignored. */
        g_autoptr(GDBusConnection) owner = cw_fixture_new_connection(f);
        g_autoptr(GError) error = NULL;
        guint32 pid;
        g_autofree char *path = spawn_ignoring_term(
                f, owner, g_variant_new_parsed("{'watch-bus': <true>, 'kill-timeout-usec': <uint64 300000>}"), &pid);

        gint64 start = g_get_monotonic_time();
        g_assert_true(g_dbus_connection_close_sync(owner, NULL, &error));
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 300000);
        assert_one_terminal(f, path, "killed", SIGKILL);
}

/* ---- 7. linger ---- */

static void test_linger_ended(CwFixture *f, gconstpointer data) {
        /* An ended process of a departed owner stays readable for --linger, then goes. */
        g_autoptr(GDBusConnection) owner = cw_fixture_new_connection(f);
        g_autoptr(GError) error = NULL;
        Recorder removed;
        g_autofree char *path = cw_spawn_full(owner, true_argv, NULL, NULL, NULL, &error);
        g_assert_no_error(error);

        recorder_start(&removed, f->conn, OBJECT_MANAGER_IFACE, "InterfacesRemoved", NULL);
        assert_wait(owner, path, "exited", 0);
        gint64 start = g_get_monotonic_time();
        g_assert_true(g_dbus_connection_close_sync(owner, NULL, &error));

        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "exited");
        assert_wait(f->conn, path, "exited", 0);

        ObjectQuery q = { f->conn, path };
        if (!cw_wait_until(object_gone, &q, cw_timeout_ms(5000)))
                g_error("%s did not go away after the linger time", path);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC);
        (void) wait_for_object_signal(&removed, path);
        assert_object_gone(f, path);
        recorder_stop(&removed);
}

static void test_linger_ends_after_owner(CwFixture *f, gconstpointer data) {
        /* A process that ends after its owner left lingers from its end on, then goes. */
        g_autoptr(GDBusConnection) owner = cw_fixture_new_connection(f);
        g_autoptr(GError) error = NULL;
        guint32 pid;
        g_autofree char *path = cw_spawn_full(owner, sleep_argv, NULL, NULL, &pid, &error);
        g_assert_no_error(error);

        g_assert_true(g_dbus_connection_close_sync(owner, NULL, &error));
        cw_spin(300);
        g_assert_cmpint(kill((pid_t) pid, SIGTERM), ==, 0);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGTERM);
        gint64 start = g_get_monotonic_time();
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "killed");

        ObjectQuery q = { f->conn, path };
        if (!cw_wait_until(object_gone, &q, cw_timeout_ms(5000)))
                g_error("%s did not go away after the linger time", path);
        /* Our clock started after the service's: allow for the delivery of the signal. */
        g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC / 2);
}

/* ---- 8. idle exit ---- */

static void test_idle_exit(CwFixture *f, gconstpointer data) {
        /* With nothing to watch the service exits by itself, cleanly, after --idle-timeout. */
        gint64 start = g_get_monotonic_time();
        pid_t service = cw_service_pid(f);

        assert_service_exits_cleanly(f, service, 5000);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC * 9 / 10);
}

static void test_idle_busy(CwFixture *f, gconstpointer data) {
        /* A running process and an ended, unreleased object each keep the service; after
         * Release it exits. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        pid_t service = cw_service_pid(f);

        cw_spin(2500);
        assert_service_still_running(f, service);

        kill_now(f, path);
        cw_spin(2500);
        assert_service_still_running(f, service);

        cw_release(f->conn, path);
        assert_service_exits_cleanly(f, service, 5000);
}

static void test_idle_released_running(CwFixture *f, gconstpointer data) {
        /* A released process that still runs keeps the service; once it ended (and was
         * reaped) the service exits. */
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        pid_t service = cw_service_pid(f);

        cw_release(f->conn, path);
        cw_spin(2500);
        assert_service_still_running(f, service);
        g_assert_true(pid_is_alive(pid));

        g_assert_cmpint(kill((pid_t) pid, SIGKILL), ==, 0);
        if (!cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("released process %u was not reaped (state %c)", pid, cw_proc_state(pid));
        assert_service_exits_cleanly(f, service, 5000);
}

/* ---- 9. ObjectManager, listings, manager properties ---- */

static void test_object_manager(CwFixture *f, gconstpointer data) {
        /* GetManagedObjects lists the process objects with their properties; InterfacesAdded
         * comes with Spawn and InterfacesRemoved with Release. */
        Recorder added, removed;
        guint32 pid_run, pid_done;
        g_autoptr(GError) error = NULL;

        recorder_start(&added, f->conn, OBJECT_MANAGER_IFACE, "InterfacesAdded", NULL);
        recorder_start(&removed, f->conn, OBJECT_MANAGER_IFACE, "InterfacesRemoved", NULL);
        g_autofree char *running = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'description': <'napper'>}"),
                                            &pid_run);
        g_autofree char *done = cw_spawn(f, true_argv, NULL, &pid_done);
        g_assert_cmpint(cw_wait_for_event(f, done, "exited", 5000), ==, 0);

        const char *paths[] = { running, done };
        const guint32 pids[] = { pid_run, pid_done };
        for (guint i = 0; i < 2; i++) {
                Recorded *r = wait_for_object_signal(&added, paths[i]);
                g_autoptr(GVariant) ifaces = g_variant_get_child_value(r->params, 1);
                g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
                guint32 pid;
                g_assert_nonnull(props);
                g_assert_true(g_variant_lookup(props, "Pid", "u", &pid));
                g_assert_cmpuint(pid, ==, pids[i]);
                g_assert_cmpuint(count_object_signals(&added, paths[i]), ==, 1);
        }

        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects", NULL,
                                        "(a{oa{sa{sv}}})", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) objects = g_variant_get_child_value(r, 0);
        guint n_processes = 0;
        GVariantIter iter;
        const char *object;
        GVariant *ifaces;
        g_variant_iter_init(&iter, objects);
        while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &object, &ifaces)) {
                g_autoptr(GVariant) owned = ifaces;
                (void) owned; /* held for its cleanup only */
                if (g_str_has_prefix(object, CW_MANAGER_PATH "/process/"))
                        n_processes++;
        }
        g_assert_cmpuint(n_processes, ==, 2);

        for (guint i = 0; i < 2; i++) {
                g_autoptr(GVariant) obj = g_variant_lookup_value(objects, paths[i], G_VARIANT_TYPE("a{sa{sv}}"));
                g_assert_nonnull(obj);
                g_autoptr(GVariant) props = g_variant_lookup_value(obj, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
                g_assert_nonnull(props);
                guint32 pid;
                guint64 id;
                const char *state, *description;
                g_autofree const char **argv = NULL;
                g_assert_true(g_variant_lookup(props, "Pid", "u", &pid));
                g_assert_cmpuint(pid, ==, pids[i]);
                g_assert_true(g_variant_lookup(props, "Id", "t", &id));
                g_assert_cmpuint(id, ==, id_of_path(paths[i]));
                g_assert_true(g_variant_lookup(props, "State", "&s", &state));
                g_assert_cmpstr(state, ==, i == 0 ? "running" : "exited");
                g_assert_true(g_variant_lookup(props, "Description", "&s", &description));
                g_assert_cmpstr(description, ==, i == 0 ? "napper" : "true");
                g_assert_true(g_variant_lookup(props, "Argv", "^a&s", &argv));
                g_assert_cmpstr(argv[0], ==, i == 0 ? "sleep" : "true");
        }

        kill_now(f, running);
        cw_release(f->conn, running);
        cw_release(f->conn, done);
        for (guint i = 0; i < 2; i++) {
                Recorded *rr = wait_for_object_signal(&removed, paths[i]);
                g_autofree const char **list = NULL;
                g_autoptr(GVariant) l = g_variant_get_child_value(rr->params, 1);
                list = g_variant_get_strv(l, NULL);
                g_assert_true(g_strv_contains(list, CW_PROCESS_IFACE));
        }
        cw_spin(200);
        g_assert_cmpuint(count_object_signals(&removed, running), ==, 1);
        g_assert_cmpuint(count_object_signals(&removed, done), ==, 1);

        g_autoptr(GVariant) r2 = cw_call(f->conn, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects", NULL,
                                         "(a{oa{sa{sv}}})", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) objects2 = g_variant_get_child_value(r2, 0);
        g_variant_iter_init(&iter, objects2);
        while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &object, &ifaces)) {
                g_autoptr(GVariant) owned = ifaces;
                (void) owned; /* held for its cleanup only */
                g_assert_false(g_str_has_prefix(object, CW_MANAGER_PATH "/process/"));
        }
        recorder_stop(&added);
        recorder_stop(&removed);
}

#define N_LISTED 12

static void test_list_processes(CwFixture *f, gconstpointer data) {
        /* ListProcesses: one (o,u,s,s) per object, in id order (numeric, 9 before 10). */
        char *paths[N_LISTED];
        guint32 pids[N_LISTED];

        for (guint i = 0; i < N_LISTED; i++)
                paths[i] = cw_spawn(f, sleep_argv,
                                    i % 3 == 0 ? g_variant_new_parsed("{'description': <'listed'>}") : NULL,
                                    &pids[i]);
        /* An ended one is listed too, with its state. */
        kill_now(f, paths[4]);

        g_autoptr(GVariant) list = list_processes(f);
        g_assert_cmpuint(g_variant_n_children(list), ==, N_LISTED);
        guint64 last_id = 0;
        for (guint i = 0; i < N_LISTED; i++) {
                const char *object, *state, *description;
                guint32 pid;
                g_variant_get_child(list, i, "(&ou&s&s)", &object, &pid, &state, &description);
                g_assert_cmpuint(id_of_path(object), >, last_id);
                last_id = id_of_path(object);
                g_assert_cmpstr(object, ==, paths[i]);
                g_assert_cmpuint(pid, ==, pids[i]);
                g_assert_cmpstr(state, ==, i == 4 ? "killed" : "running");
                g_assert_cmpstr(description, ==, i % 3 == 0 ? "listed" : "sleep 30");
        }

        for (guint i = 0; i < N_LISTED; i++) {
                if (i != 4)
                        kill_now(f, paths[i]);
                g_free(paths[i]);
        }
}

static void test_manager_properties(CwFixture *f, gconstpointer data) {
        /* Version is a version number; Features names "pidfd" where the service has pidfds. */
        g_autoptr(GVariant) version = cw_get_property(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Version");
        g_autoptr(GVariant) features = cw_get_property(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");

        g_assert_true(g_variant_is_of_type(version, G_VARIANT_TYPE_STRING));
        g_assert_true(g_regex_match_simple("^[0-9]+(\\.[0-9]+)+", g_variant_get_string(version, NULL), 0, 0));
        g_assert_true(g_variant_is_of_type(features, G_VARIANT_TYPE_STRING_ARRAY));
        /* Only the values API.md defines; "pidfd" and "exit-info" (this kernel has
         * PIDFD_GET_INFO exit information) exactly when the service has pidfds (not under
         * valgrind). */
        static const char *const defined[] = { "pidfd", "exit-info", "subreaper", "tree-cgroup",
                                               "tree-process-group", "multi-user", NULL };
        g_autofree const char **list = g_variant_get_strv(features, NULL);
        for (const char **i = list; *i; i++)
                g_assert_true(g_strv_contains(defined, *i));
        g_assert_cmpint(g_strv_contains(list, "pidfd"), ==, service_has_pidfds(f));
        g_assert_cmpint(g_strv_contains(list, "exit-info"), ==, service_has_pidfds(f));
}

/* ---- 10. SIGTERM to the service ---- */

static void test_sigterm(CwFixture *f, gconstpointer data) {
        /* On SIGTERM the service kills and reaps kill-on-release processes, leaves the others
         * running (they come to us, the subreaper), and exits 0. */
        guint32 pid_klr, pid_plain, pid_released;
        g_autofree char *klr = cw_spawn(f, sleep_argv, g_variant_new_parsed("{'kill-on-release': <true>}"),
                                        &pid_klr);
        (void) klr; /* held for its cleanup only */
        g_autofree char *plain = cw_spawn(f, sleep_argv, NULL, &pid_plain);
        (void) plain; /* held for its cleanup only */
        g_autofree char *released = cw_spawn(f, sleep_argv, NULL, &pid_released);
        g_autofree char *ended = cw_spawn(f, true_argv, NULL, NULL);
        pid_t service = cw_service_pid(f);

        cw_release(f->conn, released);
        g_assert_cmpint(cw_wait_for_event(f, ended, "exited", 5000), ==, 0);
        g_assert_cmpint(kill(service, SIGTERM), ==, 0);
        assert_service_exits_cleanly(f, service, 10000);

        /* Reaped by the service before it exited: no zombie handed on to us. */
        g_assert_false(cw_pid_exists(pid_klr));
        const guint32 survivors[] = { pid_plain, pid_released };
        for (guint i = 0; i < G_N_ELEMENTS(survivors); i++) {
                CwProcStat st;
                g_assert_true(cw_proc_stat(survivors[i], &st));
                g_assert_cmpint(st.state, !=, 'Z');
                g_assert_cmpint(st.ppid, ==, getpid());
        }
        /* The teardown reaps the survivors. */
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

        g_test_add("/lifecycle/stop-continue", CwFixture, NULL, cw_fixture_setup, test_stop_continue,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/stop-continue/killed-while-stopping", CwFixture, NULL, cw_fixture_setup,
                   test_stop_then_kill, cw_fixture_teardown);
        g_test_add("/lifecycle/stop-continue/not-requested", CwFixture, NULL, cw_fixture_setup,
                   test_stop_continue_not_requested, cw_fixture_teardown);

        g_test_add("/lifecycle/kill/escalates", CwFixture, NULL, cw_fixture_setup, test_kill_escalates,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/sooner-deadline", CwFixture, NULL, cw_fixture_setup, test_kill_sooner_deadline,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/stopped", CwFixture, NULL, cw_fixture_setup, test_kill_stopped,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/stopped-handler", CwFixture, NULL, cw_fixture_setup, test_kill_stopped_handler,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/immediate", CwFixture, NULL, cw_fixture_setup, test_kill_immediate,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/kill-signal", CwFixture, NULL, cw_fixture_setup, test_kill_signal_option,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/kill/ended", CwFixture, NULL, cw_fixture_setup, test_kill_ended,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/wait/many-clients", CwFixture, NULL, cw_fixture_setup, test_wait_many_clients,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/wait/ended", CwFixture, NULL, cw_fixture_setup, test_wait_ended,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/wait/client-gone", CwFixture, NULL, cw_fixture_setup, test_wait_client_gone,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/release/ended", CwFixture, NULL, cw_fixture_setup, test_release_ended,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/release/running", CwFixture, NULL, cw_fixture_setup, test_release_running,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/release/kill-on-release", CwFixture, NULL, cw_fixture_setup,
                   test_release_kill_on_release, cw_fixture_teardown);
        g_test_add("/lifecycle/option-properties", CwFixture, NULL, cw_fixture_setup, test_option_properties,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/get-process", CwFixture, NULL, cw_fixture_setup, test_get_process,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/pidfd", CwFixture, NULL, cw_fixture_setup, test_pidfd, cw_fixture_teardown);
        g_test_add("/lifecycle/send-signal/ended", CwFixture, NULL, cw_fixture_setup, test_send_signal_ended,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/send-signal/group", CwFixture, NULL, cw_fixture_setup, test_send_signal_group,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/send-signal/group-without-session", CwFixture, NULL, cw_fixture_setup,
                   test_send_signal_group_without_session, cw_fixture_teardown);
        g_test_add("/lifecycle/send-signal/bad-number", CwFixture, NULL, cw_fixture_setup,
                   test_send_signal_bad_number, cw_fixture_teardown);

        g_test_add("/lifecycle/watch-bus", CwFixture, NULL, cw_fixture_setup, test_watch_bus, cw_fixture_teardown);
        g_test_add("/lifecycle/watch-bus/escalates", CwFixture, NULL, cw_fixture_setup, test_watch_bus_escalates,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/linger/ended", CwFixture, "--linger=1", cw_fixture_setup, test_linger_ended,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/linger/ends-after-owner", CwFixture, "--linger=1", cw_fixture_setup,
                   test_linger_ends_after_owner, cw_fixture_teardown);

        g_test_add("/lifecycle/idle/exit", CwFixture, "--idle-timeout=1", cw_fixture_setup, test_idle_exit,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/idle/busy", CwFixture, "--idle-timeout=1", cw_fixture_setup, test_idle_busy,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/idle/released-running", CwFixture, "--idle-timeout=1", cw_fixture_setup,
                   test_idle_released_running, cw_fixture_teardown);

        g_test_add("/lifecycle/object-manager", CwFixture, NULL, cw_fixture_setup, test_object_manager,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/list-processes", CwFixture, NULL, cw_fixture_setup, test_list_processes,
                   cw_fixture_teardown);
        g_test_add("/lifecycle/manager-properties", CwFixture, NULL, cw_fixture_setup, test_manager_properties,
                   cw_fixture_teardown);

        g_test_add("/lifecycle/sigterm", CwFixture, NULL, cw_fixture_setup, test_sigterm, cw_fixture_teardown);

        return g_test_run();
}
