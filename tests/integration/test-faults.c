/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Faults: clients that die in the middle of Spawn, Wait and Kill; SIGTERM to
 * the service and the death of the bus daemon with children running; the
 * service out of descriptors (RLIMIT_NOFILE) and out of processes
 * (RLIMIT_NPROC, as an unprivileged user: root is exempt); a child that
 * ignores every catchable signal; a child that forks 1,000 children; a client
 * that sends 10,000 calls and never reads a reply. Each case asserts the
 * outcome API.md implies and that the service keeps serving afterwards.
 */

#include "cw-test.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUB "/faults/subprocess/"

static const char *const sleep_argv[] = { "sleep", "30", NULL };

/* ---- helpers ---- */

static guint count_fds(pid_t pid) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        guint n = 0;
        while (dir && g_dir_read_name(dir))
                n++;
        return n;
}

static guint64 rss_kib(pid_t pid) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        g_autofree char *v = cw_proc_status_field(path, "VmRSS");
        return v ? g_ascii_strtoull(v, NULL, 10) : 0;
}

static guint count_terminal(CwFixture *f, const char *path) {
        return cw_count_events(f, path, "exited") + cw_count_events(f, path, "killed") +
               cw_count_events(f, path, "dumped") + cw_count_events(f, path, "vanished");
}

static void assert_one_terminal(CwFixture *f, const char *path, const char *event, int status) {
        cw_spin(200);
        g_assert_cmpuint(count_terminal(f, path), ==, 1);
        g_assert_cmpint(cw_wait_for_event(f, path, event, 0), ==, status);
}

static void assert_end(GDBusConnection *conn, const char *path, gboolean kill, guint64 timeout_usec,
                       const char *state, int status) {
        g_autofree char *s = NULL;
        int st = -1;
        if (kill)
                cw_kill(conn, path, timeout_usec, &s, &st);
        else
                cw_wait(conn, path, &s, &st);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(st, ==, status);
}

/* The objects ListProcesses reports, as path -> pid. */
static GHashTable *list_objects(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                cw_call(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL, "(a(ouss))", &error);
        g_assert_no_error(error);
        GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        GVariantIter it;
        const char *o, *state, *desc;
        guint32 pid;
        g_variant_iter_init(&it, list);
        while (g_variant_iter_next(&it, "(&ou&s&s)", &o, &pid, &state, &desc))
                g_hash_table_insert(set, g_strdup(o), GUINT_TO_POINTER(pid));
        return set;
}

/* The path of the object whose Description is @desc, or NULL. */
static char *find_by_description(GDBusConnection *conn, const char *desc) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                cw_call(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL, "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        GVariantIter it;
        const char *o, *state, *d;
        guint32 pid;
        g_variant_iter_init(&it, list);
        while (g_variant_iter_next(&it, "(&ou&s&s)", &o, &pid, &state, &d))
                if (g_str_equal(d, desc))
                        return g_strdup(o);
        return NULL;
}

static gboolean pid_reaped(gpointer p) {
        return !cw_pid_exists(GPOINTER_TO_INT(p));
}

/* A client process of its own (gdbus call), so that it can really be killed. */
static GSubprocess *client_process(CwFixture *f, const char *path, const char *method, const char *arg) {
        g_autoptr(GError) error = NULL;
        g_autofree char *gdbus = g_find_program_in_path("gdbus");
        g_autofree char *m = g_strdup_printf("%s.%s", CW_PROCESS_IFACE, method);
        const char *argv[] = { gdbus, "call", "--address", g_test_dbus_get_bus_address(f->bus),
                               "--dest", CW_NAME, "--object-path", path, "--method", m, "--timeout", "60",
                               arg, NULL };
        g_assert_nonnull(gdbus);
        GSubprocess *sub = g_subprocess_newv(
                argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
        g_assert_no_error(error);
        return sub;
}

/* A reply nobody looks at (a real client that expects one, unlike a NULL callback). */
static void on_ignored_reply(GObject *source, GAsyncResult *res, gpointer data) {
        g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, NULL);
        (void) v;
}

/* Kills @sub with SIGKILL and reaps it (bounded). */
static void client_process_kill(GSubprocess *sub) {
        g_subprocess_force_exit(sub);
        g_assert_true(g_subprocess_wait(sub, NULL, NULL));
        g_assert_true(g_subprocess_get_if_signaled(sub));
        g_assert_cmpint(g_subprocess_get_term_sig(sub), ==, SIGKILL);
}

/* The unique names on the bus: a gdbus client has connected once there is one more. Nothing
 * on the bus tells that its call has reached the service; the tests give it a moment more and
 * check an effect of the call where there is one (Kill's SIGKILL). */
static guint count_bus_connections(CwFixture *f) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "ListNames", NULL, G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) names = g_variant_get_child_value(r, 0);
        guint n = 0;
        for (gsize i = 0; i < g_variant_n_children(names); i++) {
                g_autoptr(GVariant) s = g_variant_get_child_value(names, i);
                if (g_variant_get_string(s, NULL)[0] == ':')
                        n++;
        }
        return n;
}

typedef struct ConnQuery {
        CwFixture *f;
        guint n;
} ConnQuery;

static gboolean bus_connections_at_least(gpointer data) {
        ConnQuery *q = data;
        return count_bus_connections(q->f) >= q->n;
}

/* A process ignoring SIGTERM (after its exec). */
static gboolean ignores_term(gpointer p) {
        pid_t pid = GPOINTER_TO_INT(p);
        g_autofree char *comm = cw_proc_comm(pid);
        return g_strcmp0(comm, "sleep") == 0 && cw_proc_ignores_signal(pid, SIGTERM);
}

/* ---- 1. a client dies during Spawn ---- */

typedef struct NamesQuery {
        CwFixture *f;
        GPtrArray *names;
} NamesQuery;

/* For cw_wait_until(): none of the unique names has an owner any more. */
static gboolean names_gone(gpointer data) {
        NamesQuery *q = data;
        for (guint i = 0; i < q->names->len; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                        q->f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "NameHasOwner", g_variant_new("(s)", (const char *) g_ptr_array_index(q->names, i)),
                        G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
                gboolean has = FALSE;
                g_assert_no_error(error);
                g_variant_get(r, "(b)", &has);
                if (has)
                        return FALSE;
        }
        return TRUE;
}

typedef struct Parting {
        char desc[64];
        gboolean watch_bus;
} Parting;

static void test_client_gone_spawn(CwFixture *f, gconstpointer data) {
        /* A client sends Spawn and its connection closes at once (it died): in 20 rounds the Spawn
         * reaches the service before, during or after the departure. Allowed: no process at all,
         * or one whose object says how it ended. A watch-bus one must be killed by the service
         * (its owner is gone), never left running; one without watch-bus runs on as an object of
         * the departed owner, and we end it. No zombie, the service keeps serving. A large
         * environment makes each Spawn take the service a while, so the departure arrives while
         * it is being handled. */
        pid_t service = cw_service_pid(f);
        const guint rounds = 20;
        Parting parting[40];
        guint n = 0, found = 0;
        g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) departed = g_ptr_array_new_with_free_func(g_free);

        for (guint i = 0; i < 20000; i++)
                g_ptr_array_add(env, g_strdup_printf("CW_FAULT_VAR_%u=%u", i, i));
        g_ptr_array_add(env, NULL);
        for (guint round = 0; round < rounds; round++) {
                GDBusConnection *c = cw_fixture_new_connection(f);
                for (guint k = 0; k < 2; k++, n++) {
                        Parting *p = &parting[n];
                        GVariantBuilder b;
                        p->watch_bus = k == 0;
                        g_snprintf(p->desc, sizeof(p->desc), "parting-%u-%u", round, k);
                        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                        g_variant_builder_add(&b, "{sv}", "description", g_variant_new_string(p->desc));
                        g_variant_builder_add(&b, "{sv}", "watch-bus", g_variant_new_boolean(p->watch_bus));
                        if (round % 2 == 0)
                                g_variant_builder_add(
                                        &b, "{sv}", "environment",
                                        g_variant_new_strv((const char *const *) env->pdata, -1));
                        g_dbus_connection_call(
                                c, CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn",
                                g_variant_new("(^as@a{sv})", sleep_argv, g_variant_builder_end(&b)),
                                G_VARIANT_TYPE("(ou)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_ignored_reply,
                                NULL);
                }
                g_assert_true(g_dbus_connection_flush_sync(c, NULL, NULL));
                if (round % 4 == 3)
                        cw_spin(round); /* a little later, now and then */
                g_ptr_array_add(departed, g_strdup(g_dbus_connection_get_unique_name(c)));
                g_dbus_connection_close_sync(c, NULL, NULL);
                g_object_unref(c);
        }
        /* Once dbus-daemon has seen every client leave, it has passed on all of their calls; the
         * service has taken them once it answers us (cw_service_pid() pings it), and the spawns
         * it handed to its helpers are done a moment later. */
        NamesQuery gone = { f, departed };
        g_assert_true(cw_wait_until(names_gone, &gone, cw_timeout_ms(10000)));
        g_assert_cmpint(cw_service_pid(f), ==, service);
        cw_spin(cw_timeout_ms(500));
        for (guint i = 0; i < n; i++) {
                g_autofree char *path = find_by_description(f->conn, parting[i].desc);
                if (!path)
                        continue; /* never started: allowed */
                found++;
                guint32 pid = cw_get_u32(f->conn, path, CW_PROCESS_IFACE, "Pid");
                if (parting[i].watch_bus) {
                        assert_end(f->conn, path, FALSE, 0, "killed", SIGTERM);
                        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 5000), ==, SIGTERM);
                } else {
                        g_autofree char *state = cw_get_state(f, path);
                        g_assert_cmpstr(state, ==, "running");
                        g_assert_true(cw_pid_exists((pid_t) pid));
                        assert_end(f->conn, path, TRUE, 0, "killed", SIGKILL);
                }
                assert_one_terminal(f, path, "killed", parting[i].watch_bus ? SIGTERM : SIGKILL);
                if (!cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                        g_error("%s: pid %u was not reaped", parting[i].desc, pid);
                cw_release(f->conn, path);
        }
        g_test_message("%u of %u Spawn calls of departed clients started a process", found, n);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        cw_assert_service_alive(f, service);
}

/* ---- 2. a client dies during Wait ---- */

static void test_client_gone_wait(CwFixture *f, gconstpointer data) {
        /* A client process (gdbus) blocked in Wait is SIGKILLed; 100 Waits of a connection that
         * closes are dropped too. The process is not affected (Wait changes nothing), later Waits
         * and the end are answered, the service's descriptors are as before. */
        pid_t service = cw_service_pid(f);
        guint32 pid;
        g_autofree char *path = cw_spawn(f, sleep_argv, NULL, &pid);
        guint fds_before = count_fds(service);
        ConnQuery q = { f, count_bus_connections(f) + 1 };

        CwCallWatch *waits = cw_call_watch_new(f, "Wait");
        GSubprocess *client = client_process(f, path, "Wait", NULL);
        g_assert_true(cw_wait_until(bus_connections_at_least, &q, cw_timeout_ms(10000)));
        cw_call_watch_wait(f, waits, 1); /* its Wait is with the service */
        GDBusConnection *many = cw_fixture_new_connection(f);
        for (guint i = 0; i < 100; i++)
                g_dbus_connection_call(many, CW_NAME, path, CW_PROCESS_IFACE, "Wait", NULL,
                                       G_VARIANT_TYPE("(si)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       on_ignored_reply, NULL);
        g_assert_true(g_dbus_connection_flush_sync(many, NULL, NULL));
        cw_call_watch_wait(f, waits, 101);
        cw_call_watch_free(waits);
        client_process_kill(client);
        g_object_unref(client);
        g_dbus_connection_close_sync(many, NULL, NULL);
        g_object_unref(many);
        cw_spin(300);

        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 0);
        g_assert_true(cw_pid_exists((pid_t) pid));
        g_autoptr(GError) error = NULL;
        cw_send_signal(f->conn, path, SIGUSR1, FALSE, &error);
        g_assert_no_error(error);
        assert_end(f->conn, path, FALSE, 0, "killed", SIGUSR1);
        assert_one_terminal(f, path, "killed", SIGUSR1);
        g_assert_cmpuint(count_fds(service), <=, fds_before);
        cw_release(f->conn, path);
        cw_assert_service_alive(f, service);
}

/* ---- 3. a client dies during Kill ---- */

static void test_client_gone_kill(CwFixture *f, gconstpointer data) {
        /* A client process calls Kill(1 s) on a process that ignores SIGTERM and is SIGKILLed
         * while it waits for the reply. The Kill goes on without it: SIGKILL after the grace,
         * one terminal event (killed 9), our Wait answered. */
        pid_t service = cw_service_pid(f);
        guint32 pid;
        const char *argv[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
        g_autofree char *path = cw_spawn(f, argv, NULL, &pid);
        g_assert_true(cw_wait_until(ignores_term, GINT_TO_POINTER(pid), cw_timeout_ms(5000)));
        ConnQuery q = { f, count_bus_connections(f) + 1 };

        CwCallWatch *kills = cw_call_watch_new(f, "Kill");
        gint64 start = g_get_monotonic_time();
        GSubprocess *client = client_process(f, path, "Kill", "1000000");
        g_assert_true(cw_wait_until(bus_connections_at_least, &q, cw_timeout_ms(10000)));
        cw_call_watch_wait(f, kills, 1); /* its Kill is with the service */
        cw_call_watch_free(kills);
        client_process_kill(client);
        g_object_unref(client);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", cw_timeout_ms(10000)), ==, SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 1000000);
        assert_end(f->conn, path, FALSE, 0, "killed", SIGKILL);
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_true(cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)));
        cw_release(f->conn, path);
        cw_assert_service_alive(f, service);
}

/* ---- 4. SIGTERM to the service with children running ---- */

typedef struct PendingCall {
        gboolean done;
        GError *error;
} PendingCall;

static void on_pending_done(GObject *source, GAsyncResult *res, gpointer data) {
        PendingCall *p = data;
        g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &p->error);
        (void) v;
        p->done = TRUE;
}

static gboolean pending_done(gpointer data) {
        return ((PendingCall *) data)->done;
}

#define N_EACH 20

static void test_sigterm(CwFixture *f, gconstpointer data) {
        /* SIGTERM with 20 kill-on-release and 20 plain children running, one of each stopped, and
         * a Kill and a Wait pending: the service exits 0; the kill-on-release ones are killed and
         * reaped by it (gone, not our zombies); the plain ones keep running and come to us, the
         * subreaper (documented: programs outlive the service); the pending calls are answered
         * (by the bus, with an error) instead of hanging. */
        pid_t service = cw_service_pid(f);
        guint32 klr[N_EACH], plain[N_EACH];
        char *klr_paths[N_EACH];
        const char *ignoring[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
        g_autoptr(GError) error = NULL;

        for (guint i = 0; i < N_EACH; i++) {
                klr_paths[i] = cw_spawn(f, i == 1 ? ignoring : sleep_argv,
                                        g_variant_new_parsed("{'kill-on-release': <true>}"), &klr[i]);
                g_autofree char *p = cw_spawn(f, sleep_argv, NULL, &plain[i]);
                if (i == 0) {
                        cw_send_signal(f->conn, p, SIGSTOP, FALSE, &error);
                        g_assert_no_error(error);
                        cw_send_signal(f->conn, klr_paths[i], SIGSTOP, FALSE, &error);
                        g_assert_no_error(error);
                }
        }
        g_assert_true(cw_wait_until(ignores_term, GINT_TO_POINTER(klr[1]), cw_timeout_ms(5000)));
        PendingCall kill_call = { 0 }, wait_call = { 0 };
        g_dbus_connection_call(f->conn, CW_NAME, klr_paths[1], CW_PROCESS_IFACE, "Kill",
                               g_variant_new("(t)", (guint64) 20 * G_USEC_PER_SEC), G_VARIANT_TYPE("(si)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(60000), NULL, on_pending_done,
                               &kill_call);
        g_dbus_connection_call(f->conn, CW_NAME, klr_paths[2], CW_PROCESS_IFACE, "Wait", NULL,
                               G_VARIANT_TYPE("(si)"), G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(60000), NULL,
                               on_pending_done, &wait_call);
        g_autoptr(GVariant) ping =
                cw_call(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", &error);
        g_assert_no_error(error);
        (void) ping;

        g_assert_cmpint(kill(service, SIGTERM), ==, 0);
        g_assert_true(cw_wait_until(cw_file_exists, f->status_file, cw_timeout_ms(10000)));
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(f->status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "0");
        g_assert_false(cw_pid_exists(service));

        /* The pending calls end at once (NoReply from the bus), not after their timeout. */
        g_assert_true(cw_wait_until(pending_done, &kill_call, cw_timeout_ms(5000)));
        g_assert_true(cw_wait_until(pending_done, &wait_call, cw_timeout_ms(5000)));
        g_assert_nonnull(kill_call.error);
        g_assert_nonnull(wait_call.error);
        g_assert_false(g_error_matches(kill_call.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
        g_assert_false(g_error_matches(wait_call.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
        g_test_message("pending Kill: %s; pending Wait: %s", kill_call.error->message,
                       wait_call.error->message);
        g_clear_error(&kill_call.error);
        g_clear_error(&wait_call.error);

        for (guint i = 0; i < N_EACH; i++) {
                g_assert_false(cw_pid_exists((pid_t) klr[i]));
                CwProcStat st;
                g_assert_true(cw_proc_stat((pid_t) plain[i], &st));
                g_assert_cmpint(st.state, !=, 'Z');
                g_assert_cmpint(st.ppid, ==, getpid());
                g_assert_cmpint(st.state, ==, i == 0 ? 'T' : 'S');
                g_free(klr_paths[i]);
        }
        /* Clean up the survivors now (the teardown would too). */
        for (guint i = 0; i < N_EACH; i++) {
                g_assert_cmpint(kill((pid_t) plain[i], SIGKILL), ==, 0);
                g_assert_cmpint(waitpid((pid_t) plain[i], NULL, 0), ==, (pid_t) plain[i]);
        }
}

/* ---- 5. the bus daemon dies ---- */

static void test_bus_dies(CwFixture *f, gconstpointer data) {
        /* The dbus-daemon is SIGKILLed with children running: the service notices, exits 0
         * ("Disconnected from the bus"), kills and reaps its kill-on-release children like on
         * SIGTERM and leaves the others running (they come to us); none is left a zombie. */
        pid_t service = cw_service_pid(f);
        guint32 klr, plain, ended;
        g_autoptr(GError) error = NULL;
        g_autofree char *a =
                cw_spawn(f, sleep_argv, g_variant_new_parsed("{'kill-on-release': <true>}"), &klr);
        g_autofree char *b = cw_spawn(f, sleep_argv, NULL, &plain);
        (void) a; /* the objects themselves are not looked at: the pids are */
        (void) b;
        const char *true_argv[] = { "true", NULL };
        g_autofree char *c = cw_spawn(f, true_argv, NULL, &ended);
        g_assert_cmpint(cw_wait_for_event(f, c, "exited", 5000), ==, 0);

        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", g_variant_new("(s)", "org.freedesktop.DBus"),
                G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        guint32 daemon;
        g_variant_get(r, "(u)", &daemon);
        g_assert_cmpint(cw_proc_stat((pid_t) daemon, &(CwProcStat) {}), ==, TRUE);

        g_assert_cmpint(kill((pid_t) daemon, SIGKILL), ==, 0);
        if (!cw_wait_until(cw_file_exists, f->status_file, cw_timeout_ms(10000)))
                g_error("the service did not exit after the bus died");
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(f->status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "0");
        g_assert_false(cw_pid_exists(service));
        g_assert_false(cw_pid_exists((pid_t) klr));
        CwProcStat st;
        g_assert_true(cw_proc_stat((pid_t) plain, &st));
        g_assert_cmpint(st.state, ==, 'S');
        g_assert_cmpint(st.ppid, ==, getpid());
        g_assert_cmpint(kill((pid_t) plain, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid((pid_t) plain, NULL, 0), ==, (pid_t) plain);

        /* Our connection is gone with the bus: the teardown must not use it (it checks the
         * status file, takes the bus down and reaps the dead daemon). */
        g_dbus_connection_signal_unsubscribe(f->conn, f->signal_subscription);
        f->signal_subscription = 0;
        g_clear_object(&f->conn);
}

/* ---- 6. RLIMIT_NOFILE ---- */

/* RLIMIT_NOFILE of @pid from /proc (valgrind rewrites what our own prlimit() reads). */
static void get_nofile(pid_t pid, struct rlimit *ret) {
        char path[64];
        g_autofree char *contents = NULL;
        g_snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
        g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
        const char *line = strstr(contents, "Max open files");
        g_assert_nonnull(line);
        unsigned long long soft, hard;
        g_assert_cmpint(sscanf(line + strlen("Max open files"), "%llu %llu", &soft, &hard), ==, 2);
        ret->rlim_cur = soft;
        ret->rlim_max = hard;
}

/* Sets RLIMIT_NOFILE of @pid through prlimit(1): under valgrind our own prlimit() is checked
 * against memcheck's idea of our limit, which refuses to raise another process's (EPERM). */
static void set_nofile(pid_t pid, rlim_t soft, rlim_t hard) {
        g_autoptr(GError) error = NULL;
        g_autofree char *pid_arg = g_strdup_printf("%d", (int) pid);
        g_autofree char *limit = g_strdup_printf("--nofile=%llu:%llu", (unsigned long long) soft,
                                                 (unsigned long long) hard);
        const char *argv[] = { "prlimit", "--pid", pid_arg, limit, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                                   &status, &error));
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, &error));
        g_assert_no_error(error);
}

static void test_nofile(CwFixture *f, gconstpointer data) {
        /* The service is held to 16 descriptors more than it has open plus its reserve (prlimit
         * on its pid, the soft limit). Spawns of sleep take one pidfd each until one fails with LimitExceeded (or
         * SpawnFailed); a Spawn passing a descriptor (stdin) at the limit fails cleanly too (the
         * bus message's fd cannot be received). The service keeps serving: calls on the running
         * processes work, and once one ended (its pidfd closed) Spawn works again; after the
         * limit is restored, everything is back to normal. */
        if (cw_under_valgrind()) {
                /* Valgrind keeps its own view of RLIMIT_NOFILE (it reserves the top of the table
                 * for itself and answers getrlimit() from that); a prlimit() from outside never
                 * reaches what the service sees. */
                g_test_skip("valgrind virtualizes RLIMIT_NOFILE; prlimit() on the service does not reach it");
                return;
        }
        pid_t service = cw_service_pid(f);
        guint open_fds = count_fds(service);
        struct rlimit old;
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        char *path = NULL;

        /* Natively each running process holds a pidfd. Under valgrind the service has no pidfds
         * (it watches by pid), so there a pseudo-terminal (whose master it keeps while the
         * process runs) takes the descriptor instead. */
        get_nofile(service, &old);
        /* Only the soft limit: raising a hard one back needs CAP_SYS_RESOURCE, which a container
         * may not grant even to root (this one does not). The service keeps 288 descriptors in
         * reserve (an incoming message may carry 253; sd-bus leaves the bus when it cannot take
         * them), so 16 above that. */
        set_nofile(service, open_fds + 288 + 16, old.rlim_max);
        for (guint i = 0; i < 64; i++) {
                g_clear_error(&error);
                path = cw_spawn_full(f->conn, sleep_argv,
                                     cw_under_valgrind() ? g_variant_new_parsed("{'pty': <true>}") : NULL,
                                     NULL, NULL, &error);
                if (!path)
                        break;
                g_ptr_array_add(paths, path);
        }
        g_assert_null(path);
        g_assert_nonnull(error);
        g_autofree char *remote = g_dbus_error_get_remote_error(error);
        g_test_message("after %u spawns at %u+288+16 fds (limit was %llu/%llu): %s: %s", paths->len, open_fds,
                       (unsigned long long) old.rlim_cur, (unsigned long long) old.rlim_max, remote,
                       error->message);
        /* API.md's errors for this are LimitExceeded (or SpawnFailed); anything else fails the
         * test, after the rest of it ran. */
        g_autofree char *wrong_error = NULL;
        if (g_strcmp0(remote, CW_ERROR("LimitExceeded")) != 0 &&
            g_strcmp0(remote, CW_ERROR("SpawnFailed")) != 0)
                wrong_error = g_strdup_printf(
                        "Spawn out of descriptors: expected LimitExceeded or SpawnFailed, got %s",
                        error->message);
        /* The failed Spawn left no process behind: only the ones that worked. */
        cw_spin(200);
        g_assert_cmpuint(cw_count_children(service), ==, paths->len);
        g_assert_cmpuint(paths->len, >=, 8);
        /* Under valgrind /proc also lists memcheck's own descriptors, which sit above the limit. */
        g_assert_cmpuint(paths->len, <=, cw_under_valgrind() ? 32 : 16);
        g_assert_cmpint(cw_service_pid(f), ==, service);

        /* Still serving at the limit: Kill one (its pidfd closes), then a Spawn fits again. */
        const char *first = g_ptr_array_index(paths, 0);
        assert_end(f->conn, first, TRUE, 0, "killed", SIGKILL);
        cw_release(f->conn, first);
        g_ptr_array_remove_index(paths, 0);
        g_ptr_array_add(paths, cw_spawn(f, sleep_argv,
                                        cw_under_valgrind() ? g_variant_new_parsed("{'pty': <true>}") : NULL,
                                        NULL));
        g_assert_cmpint(cw_service_pid(f), ==, service);

        /* A Spawn whose message carries a descriptor (stdin), at the limit: the service cannot
         * receive the fd; it must fail that call (or the bus connection's read) without leaving
         * the bus. */
        {
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                g_assert_cmpint(devnull, >=, 0);
                g_assert_cmpint(g_unix_fd_list_append(fds, devnull, NULL), ==, 0);
                close(devnull);
                g_autoptr(GError) e = NULL;
                g_autofree char *p = cw_spawn_full(f->conn, sleep_argv,
                                                   g_variant_new_parsed("{'stdin': <@h 0>}"), fds, NULL, &e);
                g_assert_null(p);
                g_assert_nonnull(e);
                g_test_message("Spawn with an fd at the limit: %s", e->message);
                g_autofree char *name = g_dbus_error_get_remote_error(e);
                if (!wrong_error && g_strcmp0(name, CW_ERROR("LimitExceeded")) != 0 &&
                    g_strcmp0(name, CW_ERROR("SpawnFailed")) != 0 &&
                    g_strcmp0(name, "org.freedesktop.DBus.Error.NoReply") != 0) /* judged below */
                        wrong_error = g_strdup_printf("Spawn with an fd out of descriptors: expected "
                                                      "LimitExceeded or SpawnFailed, got %s",
                                                      e->message);
        }
        cw_spin(300);
        if (!cw_pid_exists(service) || g_file_test(f->status_file, G_FILE_TEST_EXISTS)) {
                g_autofree char *status = NULL;
                (void) g_file_get_contents(f->status_file, &status, NULL, NULL);
                g_test_fail_printf(
                        "the service (pid %d) left the bus and exited (status %s) when a Spawn "
                        "carrying a file descriptor arrived while it was at RLIMIT_NOFILE; its %u "
                        "running processes lost their objects%s%s",
                        (int) service, status ? g_strstrip(status) : "?", paths->len,
                        wrong_error ? "; also: " : "", wrong_error ? wrong_error : "");
                g_ptr_array_unref(paths);
                return; /* the teardown kills the orphans (they came to us) */
        }
        g_assert_cmpint(cw_service_pid(f), ==, service);

        /* The limit back: all of them end as asked, nothing left over. */
        set_nofile(service, old.rlim_cur, old.rlim_max);
        for (guint i = 0; i < paths->len; i++) {
                const char *p = g_ptr_array_index(paths, i);
                assert_end(f->conn, p, TRUE, 0, "killed", SIGKILL);
                assert_one_terminal(f, p, "killed", SIGKILL);
                cw_release(f->conn, p);
        }
        g_ptr_array_unref(paths);
        cw_assert_service_alive(f, service);
        g_assert_cmpuint(count_fds(service), ==, open_fds);
        if (wrong_error)
                g_test_fail_printf("%s", wrong_error);
}

/* ---- 7. RLIMIT_NPROC ---- */

/* Tasks (threads count: RLIMIT_NPROC counts them) whose real uid is @uid. */
static guint count_user_processes(uid_t uid) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;
        guint n = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                if (!g_ascii_isdigit(name[0]))
                        continue;
                g_autofree char *status = g_build_filename("/proc", name, "status", NULL);
                g_autofree char *uids = cw_proc_status_field(status, "Uid");
                if (uids && (uid_t) g_ascii_strtoull(uids, NULL, 10) == uid) {
                        g_autofree char *task = g_build_filename("/proc", name, "task", NULL);
                        g_autoptr(GDir) tasks = g_dir_open(task, 0, NULL);
                        while (tasks && g_dir_read_name(tasks))
                                n++;
                }
        }
        return n;
}

static void test_nproc_as_user(CwFixture *f, gconstpointer data) {
        /* Runs as a user of its own (hidden case, see test_nproc()), with a bus and service of
         * its own that run as that user too. The spawn helpers (which clone every program) are
         * held to 3 processes more than the user has: the fourth Spawn fails with SpawnFailed
         * naming EAGAIN; the service keeps serving, and once one process ended a Spawn works
         * again. */
        pid_t service = cw_service_pid(f);
        g_autoptr(GArray) helpers = cw_spawn_helpers(service);
        pid_t helper = helpers->len > 0 ? g_array_index(helpers, pid_t, 0) : 0;
        g_autoptr(GError) error = NULL;
        char *paths[8] = { NULL };
        guint n = 0;

        g_assert_cmpuint(getuid(), !=, 0);
        g_assert_cmpint(helper, >, 0);
        guint have = count_user_processes(getuid());
        struct rlimit rl = { have + 3, have + 3 };
        for (guint i = 0; i < helpers->len; i++)
                g_assert_cmpint(prlimit(g_array_index(helpers, pid_t, i), RLIMIT_NPROC, &rl, NULL), ==, 0);
        for (n = 0; n < G_N_ELEMENTS(paths); n++) {
                g_clear_error(&error);
                paths[n] = cw_spawn_full(f->conn, sleep_argv, NULL, NULL, NULL, &error);
                if (!paths[n])
                        break;
        }
        g_test_message("uid %u had %u processes; %u spawns worked, then: %s", (unsigned) getuid(), have, n,
                       error ? error->message : "-");
        /* Threads of the user's other processes (GLib's, dbus-daemon's) may come and go. */
        g_assert_cmpuint(n, >=, 1);
        g_assert_cmpuint(n, <=, 3);
        cw_assert_dbus_error(error, CW_ERROR("SpawnFailed"));
        g_assert_nonnull(strstr(error->message, g_strerror(EAGAIN)));
        g_assert_cmpint(cw_service_pid(f), ==, service);
        cw_spin(200);
        for (guint i = 0; i < n; i++) {
                g_autofree char *state = cw_get_state(f, paths[i]);
                guint32 p = cw_get_u32(f->conn, paths[i], CW_PROCESS_IFACE, "Pid");
                g_autofree char *comm = cw_proc_comm((pid_t) p);
                char pstate = cw_proc_state((pid_t) p);
                g_test_message("%s: pid %u (%s, %c) %s %d", paths[i], p, comm ? comm : "-",
                               pstate ? pstate : '-', state,
                               cw_get_i32(f->conn, paths[i], CW_PROCESS_IFACE, "ExitStatus"));
                g_assert_cmpstr(state, ==, "running");
        }
        g_assert_cmpuint(cw_count_children(service), ==, n); /* the failed one left nothing */
        g_autoptr(GArray) helpers_after = cw_spawn_helpers(service);
        g_assert_cmpuint(helpers_after->len, ==, helpers->len);
        g_assert_cmpint(g_array_index(helpers_after, pid_t, 0), ==, helper);

        guint32 first_pid = cw_get_u32(f->conn, paths[0], CW_PROCESS_IFACE, "Pid");
        g_autofree char *kstate = NULL;
        int kstatus = -1;
        cw_kill(f->conn, paths[0], 0, &kstate, &kstatus);
        g_test_message("Kill(0) of pid %u: %s %d; afterwards pid %u %s, the helper %d %s", first_pid, kstate,
                       kstatus, first_pid, cw_pid_exists((pid_t) first_pid) ? "exists" : "is gone", helper,
                       cw_pid_exists(helper) ? "exists" : "is gone");
        g_assert_cmpstr(kstate, ==, "killed");
        g_assert_cmpint(kstatus, ==, SIGKILL);
        cw_release(f->conn, paths[0]);
        g_clear_pointer(&paths[0], g_free);
        if (cw_under_valgrind()) {
                /* See test_nproc(): the next Spawn would report a child that crashed. */
                for (guint i = 1; i < n; i++) {
                        assert_end(f->conn, paths[i], TRUE, 0, "killed", SIGKILL);
                        cw_release(f->conn, paths[i]);
                        g_free(paths[i]);
                }
                cw_assert_no_zombies(service);
                return;
        }
        guint32 again_pid;
        paths[0] = cw_spawn(f, sleep_argv, NULL, &again_pid);
        cw_spin(200);
        g_autofree char *again_state = cw_get_state(f, paths[0]);
        g_autofree char *again_comm = cw_proc_comm((pid_t) again_pid);
        g_test_message("a Spawn after one ended: pid %u (%s), %s %d", again_pid,
                       again_comm ? again_comm : "gone", again_state,
                       cw_get_i32(f->conn, paths[0], CW_PROCESS_IFACE, "ExitStatus"));
        g_assert_cmpstr(again_state, ==, "running");
        for (guint i = 0; i < n; i++) {
                assert_end(f->conn, paths[i], TRUE, 0, "killed", SIGKILL);
                cw_release(f->conn, paths[i]);
                g_free(paths[i]);
        }
        cw_assert_service_alive(f, service);
}

/* Users of the base system that no test of ours runs as (test-multiuser takes nobody and
 * daemon) and no service does. */
static const char *const nproc_users[] = {
        "games", "man", "news", "uucp", "list", "irc", "backup", "proxy",
};

static void test_nproc(CwFixture *f, gconstpointer data) {
        /* Root is exempt from RLIMIT_NPROC (the kernel skips the check for uid 0 and for
         * CAP_SYS_RESOURCE/CAP_SYS_ADMIN), so the session service of these tests, running as
         * root, never hits it. The case runs as an unprivileged user with its own bus and
         * service. RLIMIT_NPROC counts the tasks of a uid on the whole machine, so that user is
         * not nobody, whose processes other tests (test-multiuser, another run of this one) may
         * start and end meanwhile, but one that runs no process and that this run holds a lock
         * for (another run of this case takes another one). */
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        struct passwd *pw = NULL;
        int lock = -1;
        if (getuid() != 0 || !setpriv) {
                g_test_skip("needs root and setpriv");
                return;
        }
        for (guint i = 0; i < G_N_ELEMENTS(nproc_users) && !pw; i++) {
                struct passwd *p = getpwnam(nproc_users[i]);
                if (!p || p->pw_uid == 0)
                        continue;
                g_autofree char *path =
                        g_strdup_printf("/tmp/childwatch-test-nproc-%u.lock", (unsigned) p->pw_uid);
                lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                g_assert_cmpint(lock, >=, 0);
                if (flock(lock, LOCK_EX | LOCK_NB) == 0 && count_user_processes(p->pw_uid) == 0)
                        pw = p;
                else {
                        close(lock);
                        lock = -1;
                }
        }
        if (!pw) {
                g_test_skip("needs a user of the base system (games, man, ...) that runs no process");
                return;
        }
        g_test_message("running as %s (uid %u)", pw->pw_name, (unsigned) pw->pw_uid);
        uid_t uid = pw->pw_uid;
        gid_t gid = pw->pw_gid;
        g_autofree char *dir = cw_make_tmpdir();
        g_assert_cmpint(chown(dir, uid, gid), ==, 0);
        g_assert_cmpint(chmod(dir, 0700), ==, 0);
        char **env = cw_sub_run_environ(dir);
        /* The sub-run's service must not be valgrind's: its log would go to our tmpdir. */
        gboolean passed = cw_sub_run(uid, gid, SUB "nproc", dir, env, cw_timeout_ms(60000));
        close(lock);
        g_assert_true(passed);
        g_strfreev(env);
        /* What the sub-run left as that user in its home. */
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
        /* Under valgrind the service spawns through its fallback path (a fork-like clone and a
         * close-on-exec pipe for the failure report). There, after clone() failed with EAGAIN,
         * the next forked child dies of SIGSEGV before its execve() (memcheck's fork), and the
         * helper takes the pipe's EOF for a successful exec: Spawn answers with a process that
         * is already "killed 11". The sub-run checked everything up to the failed Spawn. */
        if (cw_under_valgrind())
                g_test_skip("under valgrind: a Spawn after an EAGAIN from clone() gives a child that "
                            "crashed before exec (reported as started); the part up to the failure ran");
}

/* ---- 8. a child that ignores every catchable signal ---- */

static gboolean ignores_all(gpointer p) {
        pid_t pid = GPOINTER_TO_INT(p);
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        g_autofree char *comm = cw_proc_comm(pid);
        g_autofree char *ign = cw_proc_status_field(path, "SigIgn");
        if (g_strcmp0(comm, "sleep") != 0 || !ign)
                return FALSE;
        guint64 mask = g_ascii_strtoull(ign, NULL, 16);
        for (int sig = 1; sig <= 64; sig++) {
                gboolean exempt =
                        sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD || sig == 32 || sig == 33;
                if (!exempt && !(mask & (G_GUINT64_CONSTANT(1) << (sig - 1))))
                        return FALSE;
        }
        return TRUE;
}

static void test_ignore_all_signals(CwFixture *f, gconstpointer data) {
        /* A program that ignores every catchable signal: SendSignal of TERM, INT, HUP, QUIT,
         * USR1, USR2, ALRM, PIPE and CONT changes nothing; Kill(300 ms) with kill-signal HUP
         * escalates to SIGKILL after the grace and answers killed 9; one terminal event. */
        pid_t service = cw_service_pid(f);
        /* dash traps every number but KILL, STOP, CHLD (whose default is to ignore anyway) and
         * glibc's 32 and 33; the ignored dispositions survive the exec. */
        const char *argv[] = { "sh", "-c",
                               "for s in $(seq 1 64); do "
                               "case $s in 9|19|32|33) ;; *) trap '' $s;; esac; done; exec sleep 30",
                               NULL };
        guint32 pid;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn(f, argv, g_variant_new_parsed("{'kill-signal': <1>}"), &pid);
        if (!cw_wait_until(ignores_all, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("pid %u does not ignore every catchable signal", pid);

        const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCONT };
        for (guint i = 0; i < G_N_ELEMENTS(sigs); i++) {
                cw_send_signal(f->conn, path, sigs[i], FALSE, &error);
                g_assert_no_error(error);
        }
        cw_spin(200);
        g_autofree char *state = cw_get_state(f, path);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpuint(count_terminal(f, path), ==, 0);

        gint64 start = g_get_monotonic_time();
        assert_end(f->conn, path, TRUE, 300000, "killed", SIGKILL);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 300000);
        assert_one_terminal(f, path, "killed", SIGKILL);
        g_assert_false(cw_pid_exists((pid_t) pid));
        cw_release(f->conn, path);
        cw_assert_service_alive(f, service);
}

/* ---- 9. a child that forks 1,000 children ---- */

#define N_FORKED 1000

/* The children of @parent, as an array of pids. */
static GArray *children_of(pid_t parent) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid > 0 && cw_proc_stat(pid, &st) && st.ppid == parent)
                        g_array_append_val(a, pid);
        }
        return a;
}

typedef struct ForkQuery {
        pid_t parent;
        guint n;
} ForkQuery;

static gboolean has_n_sleeping_children(gpointer data) {
        ForkQuery *q = data;
        g_autoptr(GArray) a = children_of(q->parent);
        guint n = 0;
        for (guint i = 0; i < a->len; i++) {
                g_autofree char *comm = cw_proc_comm(g_array_index(a, pid_t, i));
                if (g_strcmp0(comm, "sleep") == 0)
                        n++;
        }
        return n >= q->n;
}

static gboolean all_gone(gpointer data) {
        GArray *a = data;
        for (guint i = 0; i < a->len; i++)
                if (cw_pid_exists(g_array_index(a, pid_t, i)))
                        return FALSE;
        return TRUE;
}

static gboolean service_back_to_helper(gpointer p) {
        return cw_count_children(GPOINTER_TO_INT(p)) == 0;
}

static const char *const fork_argv[] = {
        "sh", "-c", "i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i + 1)); done; wait", NULL
};

static void test_fork_1000_tree(CwFixture *f, gconstpointer data) {
        /* With tree, Kill ends the program and all 1,000 children it forked; it answers once the
         * tree is empty, every one of them is reaped (by the shell or the service) and the service
         * keeps serving. */
        pid_t service = cw_service_pid(f);
        guint32 pid;
        g_autofree char *path = cw_spawn(f, fork_argv, g_variant_new_parsed("{'tree': <true>}"), &pid);
        ForkQuery q = { (pid_t) pid, N_FORKED };
        if (!cw_wait_until(has_n_sleeping_children, &q, cw_timeout_ms(30000)))
                g_error("the shell did not fork %u children", N_FORKED);
        g_autoptr(GArray) kids = children_of((pid_t) pid);
        g_assert_cmpuint(kids->len, ==, N_FORKED);

        gint64 start = g_get_monotonic_time();
        assert_end(f->conn, path, TRUE, G_USEC_PER_SEC, "killed", SIGTERM);
        g_test_message("Kill of a tree of %u processes: %.0f ms", N_FORKED + 1,
                       (double) (g_get_monotonic_time() - start) / 1000.0);
        g_assert_true(all_gone(kids));
        g_assert_false(cw_pid_exists((pid_t) pid));
        assert_one_terminal(f, path, "killed", SIGTERM);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        g_assert_true(cw_wait_until(service_back_to_helper, GINT_TO_POINTER(service), cw_timeout_ms(5000)));
        cw_release(f->conn, path);
        cw_assert_service_alive(f, service);
}

typedef struct TerminalQuery {
        CwFixture *f;
        guint n;
} TerminalQuery;

static guint count_all_terminal(CwFixture *f) {
        guint n = 0;
        for (guint i = 0; i < f->signals->len; i++) {
                CwSignal *sig = g_ptr_array_index(f->signals, i);
                if (g_str_equal(sig->event, "exited") || g_str_equal(sig->event, "killed") ||
                    g_str_equal(sig->event, "dumped") || g_str_equal(sig->event, "vanished"))
                        n++;
        }
        return n;
}

static gboolean terminals_seen(gpointer data) {
        TerminalQuery *q = data;
        return count_all_terminal(q->f) >= q->n;
}

static void test_fork_1000_orphans(CwFixture *f, gconstpointer data) {
        /* Without tree: the shell is SIGKILLed, its 1,000 children re-parent to the service (a
         * subreaper), which must take them over: each is announced as an adopted object, and when
         * they are killed (by pid, from outside) the service reaps every one of them, answers
         * calls all along and has no zombie afterwards. */
        pid_t service = cw_service_pid(f);
        guint32 pid;
        g_autofree char *path = cw_spawn(f, fork_argv, NULL, &pid);
        ForkQuery q = { (pid_t) pid, N_FORKED };
        if (!cw_wait_until(has_n_sleeping_children, &q, cw_timeout_ms(30000)))
                g_error("the shell did not fork %u children", N_FORKED);
        g_autoptr(GArray) kids = children_of((pid_t) pid);
        g_assert_cmpuint(kids->len, ==, N_FORKED);

        assert_end(f->conn, path, TRUE, 0, "killed", SIGKILL);
        ForkQuery sq = { service, N_FORKED };
        g_assert_true(cw_wait_until(has_n_sleeping_children, &sq, cw_timeout_ms(10000)));
        /* Taken over: one object each (the shell's plus 1,000), within a bounded time. */
        gint64 start = g_get_monotonic_time();
        while (cw_list_processes_count(f) < N_FORKED + 1 &&
               g_get_monotonic_time() - start < (gint64) cw_timeout_ms(10000) * 1000)
                cw_spin(50);
        g_assert_cmpuint(cw_list_processes_count(f), ==, N_FORKED + 1);
        cw_assert_service_alive(f, service);

        for (guint i = 0; i < kids->len; i++)
                g_assert_cmpint(kill(g_array_index(kids, pid_t, i), SIGKILL), ==, 0);
        if (!cw_wait_until(service_back_to_helper, GINT_TO_POINTER(service), cw_timeout_ms(20000)))
                g_error("the service still has %u children", cw_count_children(service));
        g_assert_true(all_gone(kids));
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        /* Every adopted one ended killed 9, once (the signals may still be on their way). */
        g_autoptr(GHashTable) objects = list_objects(f->conn);
        g_assert_cmpuint(g_hash_table_size(objects), ==, N_FORKED + 1);
        TerminalQuery tq = { f, N_FORKED + 1 };
        if (!cw_wait_until(terminals_seen, &tq, cw_timeout_ms(10000)))
                g_error("only %u of %u terminal events came", count_all_terminal(f), N_FORKED + 1);
        cw_spin(200);
        guint killed = 0;
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, objects);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                if (g_str_equal(key, path))
                        continue;
                g_assert_cmpuint(count_terminal(f, key), ==, 1);
                g_assert_cmpint(cw_wait_for_event(f, key, "killed", 0), ==, SIGKILL);
                killed++;
        }
        g_assert_cmpuint(killed, ==, N_FORKED);
        cw_assert_service_alive(f, service);
}

/* ---- 10. a client that never reads its replies ---- */

#define N_UNREAD 10000
/* Under valgrind the service builds a reply about 20 times slower: fewer calls (~14 MiB). */
#define N_UNREAD_VALGRIND 2000
#define N_UNREAD_WAITS 64
/* GetManagedObjects answers about 0.85 KiB per object: 8 objects make ~70 MiB of replies for
 * 10,000 calls, below dbus-daemon's 127 MiB per-connection limits; 60 make ~500 MiB. */
#define N_UNREAD_OBJECTS_WITHIN 8
#define N_UNREAD_OBJECTS_BEYOND 60
/* Calls of the raw client that wait for a reply at most (the 64 Waits among them): dbus-daemon
 * answers a connection's calls itself with LimitsExceeded beyond 128 (max_replies_per_connection),
 * and a test must not flood the bus past that. The raw client sends its next calls once the
 * service answered enough of them, in steps of N_UNREAD_STEP. */
#define N_UNREAD_IN_FLIGHT 96
#define N_UNREAD_STEP 16
/* dbus-daemon's default max_outgoing_bytes (127 MiB; the test bus sets no limits): what it queues
 * for one connection that does not read. */
#define BUS_MAX_OUTGOING_BYTES (127u * 1024 * 1024)

static void write_all(GOutputStream *out, const guint8 *data, gsize size) {
        g_autoptr(GError) error = NULL;
        gsize written = 0;
        g_assert_true(g_output_stream_write_all(out, data, size, &written, NULL, &error));
        g_assert_no_error(error);
}

/* One line of the SASL exchange. */
static char *read_line(GInputStream *in) {
        GString *s = g_string_new(NULL);
        char c;
        while (g_input_stream_read(in, &c, 1, NULL, NULL) == 1 && c != '\n')
                g_string_append_c(s, c);
        return g_string_free(s, FALSE);
}

static void send_message(GOutputStream *out, GDBusMessage *m, guint32 serial) {
        g_autoptr(GError) error = NULL;
        gsize size;
        g_dbus_message_set_serial(m, serial);
        g_autofree guchar *blob = g_dbus_message_to_blob(m, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        write_all(out, blob, size);
}

/* Reads one message (blocking); NULL at the end of the stream. */
static GDBusMessage *read_message(GInputStream *in) {
        guint8 head[16];
        gsize got = 0;
        if (!g_input_stream_read_all(in, head, sizeof(head), &got, NULL, NULL) || got < sizeof(head))
                return NULL;
        gssize need = g_dbus_message_bytes_needed(head, sizeof(head), NULL);
        g_assert_cmpint(need, >=, 16);
        g_autofree guint8 *buf = g_malloc(need);
        memcpy(buf, head, sizeof(head));
        if (!g_input_stream_read_all(in, buf + 16, need - 16, &got, NULL, NULL) || got < (gsize) need - 16)
                return NULL;
        return g_dbus_message_new_from_blob(buf, need, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
}

/* Messages that reached the raw client's socket and wait there unread: a peek at the socket
 * counts the whole ones (the client reads none of them). The count is kept for the same number of
 * bytes: once the socket is full, it stays so. */
typedef struct RawClient {
        CwFixture *f;
        GSocket *sock;
        char *unique_name;
        guint sent;                 /* calls written */
        guint answered;             /* replies and errors dbus-daemon passed on to it, as last seen */
        guint64 queued_bytes;       /* what dbus-daemon holds for it, as last seen */
        guint64 queue_full_bytes;   /* no further reply fits in dbus-daemon's queue beyond this */
        int peeked_bytes;
        guint peeked_messages;
} RawClient;

static guint raw_client_peek(RawClient *raw) {
        int fd = g_socket_get_fd(raw->sock), avail = 0;

        g_assert_cmpint(ioctl(fd, FIONREAD, &avail), ==, 0);
        if (avail == raw->peeked_bytes)
                return raw->peeked_messages;
        g_autofree guint8 *buf = g_malloc(MAX(avail, 1));
        ssize_t k = recv(fd, buf, avail, MSG_PEEK | MSG_DONTWAIT);
        g_assert_cmpint(k, ==, avail);
        guint n = 0;
        for (gsize off = 0; off + 16 <= (gsize) k;) {
                gssize need = g_dbus_message_bytes_needed(buf + off, 16, NULL);
                g_assert_cmpint(need, >=, 16);
                if (off + (gsize) need > (gsize) k)
                        break;
                n++;
                off += need;
        }
        raw->peeked_bytes = avail;
        raw->peeked_messages = n;
        return n;
}

/* Updates what dbus-daemon passed on to the raw client so far: the messages in its socket and
 * those still in dbus-daemon's queue for it (OutgoingMessages of the bus's Debug.Stats). The
 * reply to Hello and NameAcquired were read before the first call. */
static void raw_client_update(RawClient *raw) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                raw->f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus.Debug.Stats", "GetConnectionStats",
                g_variant_new("(s)", raw->unique_name), G_VARIANT_TYPE("(a{sv})"),
                G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) stats = g_variant_get_child_value(r, 0);
        guint32 queued = 0, queued_bytes = 0;
        g_assert_true(g_variant_lookup(stats, "OutgoingMessages", "u", &queued));
        g_assert_true(g_variant_lookup(stats, "OutgoingBytes", "u", &queued_bytes));
        raw->answered = raw_client_peek(raw) + queued;
        raw->queued_bytes = queued_bytes;
}

/* For cw_wait_until(): the raw client may send N_UNREAD_STEP calls more, or dbus-daemon's queue
 * for it is full (the replies of its calls in flight can no longer all be passed on). */
static gboolean raw_client_may_send(gpointer data) {
        RawClient *raw = data;
        raw_client_update(raw);
        return raw->sent + N_UNREAD_STEP <= raw->answered + N_UNREAD_IN_FLIGHT ||
               raw->queued_bytes >= raw->queue_full_bytes;
}

/* What the report needs of a message that reached the raw client: its type, the serial it
 * answers and an error's name. Only the header is parsed: GDBus would parse and check each
 * reply's body too (~8 ms for one of 60 objects here, 20 times that under valgrind). */
typedef struct RawHead {
        guint8 type;
        guint32 reply_serial;
        char *error_name;
} RawHead;

#define ALIGN_TO(off, n) (((off) + (n) - 1) & ~(gsize) ((n) - 1))

/* Reads one message (blocking) into @ret; FALSE at the end of the stream or a timeout. */
static gboolean read_head(GInputStream *in, RawHead *ret) {
        guint8 fixed[16];
        gsize got = 0;
        guint32 body_len, fields_len;

        if (!g_input_stream_read_all(in, fixed, sizeof(fixed), &got, NULL, NULL) || got < sizeof(fixed))
                return FALSE;
        g_assert_cmpint(fixed[0], ==, 'l'); /* dbus-daemon writes in our (little-endian) order */
        memcpy(&body_len, fixed + 4, 4);
        memcpy(&fields_len, fixed + 12, 4);
        /* The header fields start at offset 16, so offsets in @buf align as in the message. */
        gsize rest = ALIGN_TO((gsize) fields_len, 8) + body_len;
        g_autofree guint8 *buf = g_malloc(MAX(rest, 1));
        if (!g_input_stream_read_all(in, buf, rest, &got, NULL, NULL) || got < rest)
                return FALSE;
        *ret = (RawHead) { .type = fixed[1] };
        for (gsize off = 0; ALIGN_TO(off, 8) < fields_len;) {
                guint32 u;
                off = ALIGN_TO(off, 8);
                guint8 code = buf[off], sig_len = buf[off + 1];
                char sig = (char) buf[off + 2];
                g_assert_cmpuint(sig_len, ==, 1);
                off += 4; /* code, signature length, signature, its nul */
                switch (sig) {
                case 'u':
                        off = ALIGN_TO(off, 4);
                        memcpy(&u, buf + off, 4);
                        if (code == 5) /* REPLY_SERIAL */
                                ret->reply_serial = u;
                        off += 4;
                        break;
                case 's':
                case 'o':
                        off = ALIGN_TO(off, 4);
                        memcpy(&u, buf + off, 4);
                        if (code == 4) /* ERROR_NAME */
                                ret->error_name = g_strndup((const char *) buf + off + 4, u);
                        off += 4 + u + 1;
                        break;
                case 'g':
                        off += 1 + buf[off] + 1;
                        break;
                default:
                        g_error("unexpected header field %u of type %c", code, sig);
                }
        }
        return TRUE;
}

static void test_unread_replies(CwFixture *f, gconstpointer data) {
        /* A raw client (own socket, own SASL) sends 10,000 calls and reads nothing: 64 Waits on
         * running processes (pending in the service), then GetManagedObjects of @data objects,
         * never more than N_UNREAD_IN_FLIGHT of them waiting for the service at once (below
         * dbus-daemon's limit of 128 per connection). The service's memory must not grow with the
         * backlog (the replies pile up in dbus-daemon, not in the service), and once the raw
         * client is gone everything is as before. Within dbus-daemon's limits (~70 MiB of
         * replies) another client must be served all along, each round trip within a second.
         * Beyond them (~500 MiB would be; the raw client stops sending once the replies of its
         * calls in flight no longer fit into the 127 MiB that dbus-daemon queues for it)
         * dbus-daemon decides:
         * it rejects replies for the full queue of the raw client (max_outgoing_bytes), or it
         * stops reading from the service, whose replies count against the service's own
         * max_incoming_bytes while they wait in that queue: then nobody is served until the raw
         * client reads or leaves. That case reports which happened and how long others waited.
         * Afterwards the raw client reads what it got, for the report. */
        guint n_objects = GPOINTER_TO_UINT(data);
        gboolean within = n_objects == N_UNREAD_OBJECTS_WITHIN;
        guint n_calls = cw_under_valgrind() ? N_UNREAD_VALGRIND : N_UNREAD;
        if (!within && cw_under_valgrind()) {
                /* 127 MiB of replies before dbus-daemon's queue is full: 2,500 replies of 60
                 * objects, which take the service many minutes under valgrind. */
                g_test_skip("under valgrind: filling dbus-daemon's queue for a client takes too long");
                return;
        }
        pid_t service = cw_service_pid(f);
        g_autoptr(GError) error = NULL;
        g_autofree char **paths = g_new0(char *, n_objects);

        /* Long enough to outlast the slowest run (under valgrind the writing alone takes minutes). */
        const char *long_sleep[] = { "sleep", "3600", NULL };
        for (guint i = 0; i < n_objects; i++)
                paths[i] = cw_spawn(f, long_sleep, NULL, NULL);
        guint64 rss_before = rss_kib(service);
        guint fds_before = count_fds(service);

        g_autoptr(GIOStream) stream =
                g_dbus_address_get_stream_sync(g_test_dbus_get_bus_address(f->bus), NULL, NULL, &error);
        g_assert_no_error(error);
        GInputStream *in = g_io_stream_get_input_stream(stream);
        GOutputStream *out = g_io_stream_get_output_stream(stream);
        g_autofree char *auth = g_strdup_printf("AUTH EXTERNAL %s\r\n", "30"); /* hex of "0": uid 0 */
        g_assert_cmpuint(getuid(), ==, 0);
        write_all(out, (const guint8 *) "", 1);
        write_all(out, (const guint8 *) auth, strlen(auth));
        g_autofree char *ok = read_line(in);
        g_assert_true(g_str_has_prefix(ok, "OK "));
        write_all(out, (const guint8 *) "BEGIN\r\n", 7);
        g_autoptr(GDBusMessage) hello = g_dbus_message_new_method_call(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
        send_message(out, hello, 1);
        /* The reply to Hello (our unique name, for the bus's statistics) and NameAcquired. */
        RawClient raw = { .f = f, .sock = g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream)) };
        g_socket_set_timeout(raw.sock, cw_timeout_ms(10000) / 1000);
        g_autoptr(GDBusMessage) welcome = read_message(in);
        g_assert_nonnull(welcome);
        g_assert_cmpuint(g_dbus_message_get_reply_serial(welcome), ==, 1);
        g_variant_get(g_dbus_message_get_body(welcome), "(s)", &raw.unique_name);
        g_autoptr(GDBusMessage) acquired = read_message(in);
        g_assert_nonnull(acquired);
        g_assert_cmpstr(g_dbus_message_get_member(acquired), ==, "NameAcquired");
        /* The size of one GetManagedObjects reply, as another client gets it. */
        g_autoptr(GDBusMessage) probe_call = g_dbus_message_new_method_call(
                CW_NAME, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
        g_autoptr(GDBusMessage) probe = g_dbus_connection_send_message_with_reply_sync(
                f->conn, probe_call, G_DBUS_SEND_MESSAGE_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, NULL,
                &error);
        g_assert_no_error(error);
        gsize reply_size = 0;
        g_autofree guchar *probe_blob =
                g_dbus_message_to_blob(probe, &reply_size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
        g_assert_nonnull(probe_blob);
        raw.queue_full_bytes = BUS_MAX_OUTGOING_BYTES - 2 * reply_size;

        gint64 start = g_get_monotonic_time();
        GPtrArray *msgs = g_ptr_array_new_with_free_func(g_object_unref);
        for (guint i = 0; i < n_calls; i++) {
                GDBusMessage *m =
                        i < N_UNREAD_WAITS
                                ? g_dbus_message_new_method_call(CW_NAME, paths[i % n_objects],
                                                                 CW_PROCESS_IFACE, "Wait")
                                : g_dbus_message_new_method_call(CW_NAME, CW_MANAGER_PATH,
                                                                 "org.freedesktop.DBus.ObjectManager",
                                                                 "GetManagedObjects");
                g_ptr_array_add(msgs, m);
        }
        GSocket *sock = raw.sock;
        gboolean queue_full = FALSE;
        guint sent = 0;
        for (; sent < n_calls; sent++) {
                gsize size;
                GDBusMessage *m = g_ptr_array_index(msgs, sent);
                /* At most N_UNREAD_IN_FLIGHT calls wait for the service at once, so that all of
                 * them reach it and the replies pile up unread, and dbus-daemon's limit of calls
                 * waiting for replies per connection (128) never answers in its place. */
                raw.sent = sent;
                if (sent >= N_UNREAD_IN_FLIGHT && sent % N_UNREAD_STEP == 0) {
                        if (!cw_wait_until(raw_client_may_send, &raw, cw_timeout_ms(30000)))
                                g_error("the service answered %u of %u calls, no more within %u ms",
                                        raw.answered, sent, cw_timeout_ms(30000));
                        if (raw.sent + N_UNREAD_STEP > raw.answered + N_UNREAD_IN_FLIGHT) {
                                /* Not all replies of the calls in flight fit into dbus-daemon's queue for
                                 * the raw client (max_outgoing_bytes): from here on dbus-daemon decides. */
                                queue_full = TRUE;
                                break;
                        }
                }
                g_dbus_message_set_serial(m, sent + 2);
                g_autofree guchar *blob =
                        g_dbus_message_to_blob(m, &size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
                g_autoptr(GError) e = NULL;
                if (!g_output_stream_write_all(out, blob, size, NULL, NULL, &e)) {
                        g_test_message("write %u blocked/failed: %s", sent, e->message);
                        break;
                }
        }
        g_ptr_array_unref(msgs);
        raw.sent = sent;
        raw_client_update(&raw);
        g_test_message("%u calls written in %.0f ms%s; %u answered so far, %" G_GUINT64_FORMAT
                       " bytes queued for the raw client by dbus-daemon",
                       sent, (double) (g_get_monotonic_time() - start) / 1000.0,
                       queue_full ? " (then dbus-daemon's queue for the raw client was full)" : "",
                       raw.answered, raw.queued_bytes);
        if (within)
                g_assert_false(queue_full);
        else
                g_assert_true(queue_full);

        /* Another client meanwhile: Pings with a timeout of their own. Beyond the limits
         * dbus-daemon may have stopped reading from the service (its replies to the raw client
         * count against its own max_incoming_bytes, 127 MiB too): then one unanswered Ping tells,
         * and the others would wait as long. */
        g_autoptr(GVariant) service_stats = g_dbus_connection_call_sync(
                f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Debug.Stats",
                "GetConnectionStats", g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(a{sv})"),
                G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) service_counts = g_variant_get_child_value(service_stats, 0);
        guint32 service_incoming = 0;
        g_assert_true(g_variant_lookup(service_counts, "IncomingBytes", "u", &service_incoming));
        g_test_message("bytes of the service's messages that dbus-daemon holds: %u", service_incoming);
        gint64 worst = 0;
        guint n_unanswered = 0;
        for (guint i = 0; i < 10 && (within || n_unanswered == 0); i++) {
                g_autoptr(GError) e = NULL;
                gint64 t0 = g_get_monotonic_time();
                g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                        f->conn, CW_NAME, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
                        G_VARIANT_TYPE("()"), G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(2000), NULL, &e);
                if (!r) {
                        n_unanswered++;
                        g_test_message("Ping %u: %s", i, e->message);
                }
                worst = MAX(worst, g_get_monotonic_time() - t0);
                cw_spin(100);
        }
        if (within) {
                g_assert_cmpuint(n_unanswered, ==, 0);
                g_assert_cmpint(worst, <, cw_timeout_ms(1000) * 1000);
                const char *true_argv[] = { "true", NULL };
                g_autofree char *t = cw_spawn(f, true_argv, NULL, NULL);
                assert_end(f->conn, t, FALSE, 0, "exited", 0);
                cw_release(f->conn, t);
        }
        guint64 rss_during = rss_kib(service);
        g_autoptr(GVariant) dr = g_dbus_connection_call_sync(
                f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", g_variant_new("(s)", "org.freedesktop.DBus"),
                G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        guint32 daemon;
        g_variant_get(dr, "(u)", &daemon);
        g_test_message("dbus-daemon RSS with the backlog: %" G_GUINT64_FORMAT " KiB",
                       rss_kib((pid_t) daemon));
        g_test_message(
                "while the backlog stood: %u of 10 Pings unanswered%s, the slowest %.1f ms; service RSS "
                "%" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB",
                n_unanswered, n_unanswered && !within ? " (no more were sent after it)" : "",
                (double) worst / 1000.0, rss_before, rss_during);
        g_assert_true(cw_pid_exists(service));
        /* Under valgrind the RSS is memcheck's (its shadow memory and queue of freed blocks grow
         * with the heap churn of big replies), not the service's: 52 -> 134 MiB measured there.
         * ASan's quarantine of freed blocks (256 MiB) does the same: +480 MiB measured. */
        if (!cw_under_valgrind() && !g_getenv("ASAN_OPTIONS"))
                g_assert_cmpuint(rss_during, <, rss_before + 8 * 1024);

        /* What reached the raw client (reading also ends a stall), then it leaves: an answer to
         * each GetManagedObjects (the Waits are still pending), unless dbus-daemon dropped some;
         * then the reading ends when nothing more came for a while. */
        g_socket_set_timeout(sock, cw_timeout_ms(3000) / 1000);
        g_autoptr(GHashTable) kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        guint n_replies = 0, n_errors = 0, n_other = 0;
        while (n_replies + n_errors < sent - MIN(sent, N_UNREAD_WAITS)) {
                RawHead m;
                if (!read_head(in, &m))
                        break;
                if (m.reply_serial < 2) {
                        g_free(m.error_name);
                        n_other++;
                        continue;
                }
                if (m.type == G_DBUS_MESSAGE_TYPE_ERROR) {
                        n_errors++;
                        g_assert_nonnull(m.error_name);
                        guint c = GPOINTER_TO_UINT(g_hash_table_lookup(kinds, m.error_name));
                        g_hash_table_insert(kinds, m.error_name, GUINT_TO_POINTER(c + 1));
                } else
                        n_replies++;
        }
        GHashTableIter it;
        gpointer k, v;
        g_autoptr(GString) summary = g_string_new(NULL);
        g_hash_table_iter_init(&it, kinds);
        while (g_hash_table_iter_next(&it, &k, &v))
                g_string_append_printf(summary, " %s x%u", (char *) k, GPOINTER_TO_UINT(v));
        g_test_message("the raw client got %u replies and %u errors (%s) to %u calls, %u other messages",
                       n_replies, n_errors, summary->str, sent, n_other);
        /* Nobody answered twice; what is missing, dbus-daemon dropped once its queue to the
         * raw client was full (max_outgoing_bytes): the service never saw that backlog. */
        g_assert_cmpuint(n_replies + n_errors, <=, sent);
        g_assert_cmpuint(n_replies, >, 0);
        g_assert_true(g_io_stream_close(stream, NULL, NULL));

        /* The service serves at once again. */
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(GVariant) pong =
                cw_call(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", &error);
        g_assert_no_error(error);
        (void) pong;
        g_assert_cmpint(g_get_monotonic_time() - t0, <, cw_timeout_ms(1000) * 1000);
        for (guint i = 0; i < n_objects; i++) {
                assert_end(f->conn, paths[i], TRUE, 0, "killed", SIGKILL);
                cw_release(f->conn, paths[i]);
                g_free(paths[i]);
        }
        cw_assert_service_alive(f, service);
        g_assert_cmpuint(count_fds(service), <=, fds_before);
        g_free(raw.unique_name);
}

/* For cases whose data is not daemon arguments (cw_fixture_setup() takes it for them). */
static void setup_default(CwFixture *f, gconstpointer data) {
        cw_fixture_setup_with_args(f, NULL);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

        g_test_add("/faults/client-gone/spawn", CwFixture, NULL, cw_fixture_setup, test_client_gone_spawn,
                   cw_fixture_teardown);
        g_test_add("/faults/client-gone/wait", CwFixture, NULL, cw_fixture_setup, test_client_gone_wait,
                   cw_fixture_teardown);
        g_test_add("/faults/client-gone/kill", CwFixture, NULL, cw_fixture_setup, test_client_gone_kill,
                   cw_fixture_teardown);
        g_test_add("/faults/service-sigterm", CwFixture, NULL, cw_fixture_setup, test_sigterm,
                   cw_fixture_teardown);
        g_test_add("/faults/bus-dies", CwFixture, NULL, cw_fixture_setup, test_bus_dies,
                   cw_fixture_teardown);
        g_test_add("/faults/ignores-all-signals", CwFixture, NULL, cw_fixture_setup, test_ignore_all_signals,
                   cw_fixture_teardown);
        g_test_add("/faults/fork-1000/tree", CwFixture, NULL, cw_fixture_setup, test_fork_1000_tree,
                   cw_fixture_teardown);
        g_test_add("/faults/fork-1000/orphans", CwFixture, NULL, cw_fixture_setup, test_fork_1000_orphans,
                   cw_fixture_teardown);
        g_test_add("/faults/unread-replies/within-bus-limits", CwFixture,
                   GUINT_TO_POINTER(N_UNREAD_OBJECTS_WITHIN), setup_default, test_unread_replies,
                   cw_fixture_teardown);
        g_test_add("/faults/unread-replies/beyond-bus-limits", CwFixture,
                   GUINT_TO_POINTER(N_UNREAD_OBJECTS_BEYOND), setup_default, test_unread_replies,
                   cw_fixture_teardown);

        g_test_add(SUB "nproc", CwFixture, NULL, cw_fixture_setup, test_nproc_as_user, cw_fixture_teardown);
        g_test_add("/faults/rlimit/nproc", CwFixture, NULL, NULL, test_nproc, NULL);
        g_test_add("/faults/rlimit/nofile", CwFixture, NULL, cw_fixture_setup, test_nofile,
                   cw_fixture_teardown);

        return g_test_run();
}
