/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Spawn calls in flight at once: the service answers Spawn from its event loop when a
 * spawn helper has started the program, with a pool of helpers and a queue behind them.
 * Many calls from several connections are each answered once and correctly (the reply
 * before any StateChanged of the object); a client that leaves with calls in flight
 * leaves no zombie and its processes are handled as their options say; a burst cannot
 * overshoot the process limit; a helper that does not answer is given up after
 * --spawn-timeout while the service keeps serving; and shutdown with calls in flight
 * leaves nothing behind. */

#include "cw-test.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define N_CONNECTIONS 4
#define CALLS_PER_CONNECTION 12

typedef struct Call {
        CwFixture *f;
        GDBusConnection *conn;
        gboolean own_conn; /* made on f->conn, whose signals the fixture records */
        int code;          /* exit code it was asked for; -1: a program that cannot be executed */
        gboolean answered;
        char *path;
        guint32 pid;
        GError *error;
        guint events_before_reply;
} Call;

static void call_clear(Call *c) {
        g_clear_pointer(&c->path, g_free);
        g_clear_error(&c->error);
}

static void on_spawn_reply(GObject *source, GAsyncResult *res, gpointer data) {
        Call *c = data;
        g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);

        if (r) {
                g_variant_get(r, "(ou)", &c->path, &c->pid);
                /* On the connection that also receives the signals, the reply must come first. */
                if (c->own_conn)
                        c->events_before_reply = cw_count_events(c->f, c->path, NULL);
        }
        c->answered = TRUE;
}

static void spawn_async(Call *c, const char *const *argv, GVariant *options) {
        g_dbus_connection_call(c->conn, CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn",
                               g_variant_new("(^as@a{sv})", argv,
                                             options ?: g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
                               G_VARIANT_TYPE("(ou)"), G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL,
                               on_spawn_reply, c);
}

typedef struct Calls {
        Call *calls;
        guint n;
} Calls;

static gboolean all_answered(gpointer data) {
        Calls *a = data;
        for (guint i = 0; i < a->n; i++)
                if (!a->calls[i].answered)
                        return FALSE;
        return TRUE;
}

static gboolean pid_reaped(gpointer data) {
        return !cw_pid_exists(GPOINTER_TO_INT(data));
}

/* Many Spawn calls from several connections at once, of programs that exit with a code of
 * their own or cannot be executed: each gets exactly one answer, the right one; every object
 * and pid is distinct; each process ends with its code in exactly one terminal StateChanged,
 * which on the calling connection comes after the reply. */
static void test_many(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        GDBusConnection *conns[N_CONNECTIONS];
        Call calls[N_CONNECTIONS * CALLS_PER_CONNECTION] = {};
        Calls all = { calls, G_N_ELEMENTS(calls) };

        conns[0] = f->conn;
        for (guint k = 1; k < N_CONNECTIONS; k++)
                conns[k] = cw_fixture_new_connection(f);

        /* Interleaved over the connections, so that their calls overlap in the service. */
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                Call *c = &calls[i];
                char script[64];
                *c = (Call) { .f = f, .conn = conns[i % N_CONNECTIONS], .own_conn = i % N_CONNECTIONS == 0 };
                if (i % 7 == 3) {
                        c->code = -1;
                        const char *argv[] = { "/nonexistent/cw-concurrent", NULL };
                        spawn_async(c, argv, NULL);
                        continue;
                }
                c->code = (int) (i % 50);
                g_snprintf(script, sizeof(script), "exit %d", c->code);
                const char *argv[] = { "sh", "-c", script, NULL };
                spawn_async(c, argv, NULL);
        }
        g_assert_true(cw_wait_until(all_answered, &all, cw_timeout_ms(30000)));

        g_autoptr(GHashTable) paths = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GHashTable) pids = g_hash_table_new(g_direct_hash, g_direct_equal);
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                Call *c = &calls[i];
                if (c->code < 0) {
                        g_assert_null(c->path);
                        cw_assert_dbus_error(c->error, CW_ERROR("SpawnFailed"));
                        g_assert_nonnull(strstr(c->error->message,
                                                "execve(/nonexistent/cw-concurrent): No such file or directory"));
                        continue;
                }
                g_assert_no_error(c->error);
                g_assert_nonnull(c->path);
                g_assert_cmpuint(c->pid, >, 0);
                g_assert_cmpuint(c->events_before_reply, ==, 0);
                g_assert_false(g_hash_table_contains(paths, c->path));
                g_assert_false(g_hash_table_contains(pids, GUINT_TO_POINTER(c->pid)));
                g_hash_table_add(paths, c->path);
                g_hash_table_add(pids, GUINT_TO_POINTER(c->pid));
        }
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                Call *c = &calls[i];
                if (c->code < 0)
                        continue;
                g_assert_cmpint(cw_wait_for_event(f, c->path, "exited", cw_timeout_ms(10000)), ==, c->code);
                g_assert_cmpuint(cw_count_events(f, c->path, NULL), ==, 1);
                g_assert_cmpuint(cw_get_u32(f->conn, c->path, CW_PROCESS_IFACE, "Pid"), ==, c->pid);
                if (!cw_wait_until(pid_reaped, GINT_TO_POINTER((int) c->pid), cw_timeout_ms(5000)))
                        g_error("pid %u was not reaped", c->pid);
                cw_release(c->conn, c->path);
        }
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);

        for (guint i = 0; i < G_N_ELEMENTS(calls); i++)
                call_clear(&calls[i]);
        for (guint k = 1; k < N_CONNECTIONS; k++) {
                g_dbus_connection_close_sync(conns[k], NULL, NULL);
                g_object_unref(conns[k]);
        }
        cw_assert_service_alive(f, service);
}

typedef struct ObjectQuery {
        CwFixture *f;
        guint n;
} ObjectQuery;

static gboolean has_n_objects(gpointer data) {
        ObjectQuery *q = data;
        return cw_list_processes_count(q->f) >= q->n;
}

static GPtrArray *list_paths(CwFixture *f) {
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", NULL);
        g_autoptr(GVariantIter) it = NULL;
        GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
        const char *o, *state, *desc;
        guint32 pid;

        g_assert_nonnull(r);
        g_variant_get(r, "(a(ouss))", &it);
        while (g_variant_iter_next(it, "(&ou&s&s)", &o, &pid, &state, &desc))
                g_ptr_array_add(a, g_strdup(o));
        return a;
}

/* A connection sends Spawn calls and leaves at once, most of them still in flight. Every one
 * that started a process gets its object anyway; with watch-bus the process is stopped (its
 * owner has left), without it keeps running until killed. No zombie, nothing left. */
static void test_client_leaves(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        GDBusConnection *conn = cw_fixture_new_connection(f);
        Call calls[16] = {};
        const char *true_argv[] = { "/bin/true", NULL };

        /* Known to the service first: it asks the bus daemon for a new caller's uid, which it
         * cannot once the caller has gone (the calls would then fail before any spawn). */
        g_autoptr(GError) error = NULL;
        g_autofree char *known = cw_spawn_full(conn, true_argv, NULL, NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, known, "exited", cw_timeout_ms(10000)), ==, 0);
        cw_release(conn, known);

        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                const char *argv[] = { "sleep", "30", NULL };
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "watch-bus", g_variant_new_boolean(i % 2 == 0));
                g_variant_builder_add(&b, "{sv}", "kill-on-release", g_variant_new_boolean(i % 4 < 2));
                g_variant_builder_add(&b, "{sv}", "description",
                                      g_variant_new_take_string(g_strdup_printf("leaving-%u", i)));
                calls[i] = (Call) { .f = f, .conn = conn };
                spawn_async(&calls[i], argv, g_variant_builder_end(&b));
        }
        /* Out of the door: the calls are on their way, the replies will find nobody. */
        g_dbus_connection_flush_sync(conn, NULL, NULL);
        g_dbus_connection_close_sync(conn, NULL, NULL);
        g_object_unref(conn);

        /* Every call started its process: the service takes a connection's calls in order, and
         * the client's departure (NameOwnerChanged) is a message behind them. */
        ObjectQuery q = { f, G_N_ELEMENTS(calls) };
        g_assert_true(cw_wait_until(has_n_objects, &q, cw_timeout_ms(10000)));
        g_autoptr(GPtrArray) paths = list_paths(f);
        g_assert_cmpuint(paths->len, ==, G_N_ELEMENTS(calls));

        guint stopped = 0, running = 0;
        for (guint i = 0; i < paths->len; i++) {
                const char *path = g_ptr_array_index(paths, i);
                gboolean watch_bus = cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus");
                guint32 pid = cw_get_u32(f->conn, path, CW_PROCESS_IFACE, "Pid");
                g_autoptr(GVariant) owner = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Owner");
                g_assert_cmpstr(g_variant_get_string(owner, NULL), !=,
                                g_dbus_connection_get_unique_name(f->conn));
                if (watch_bus) {
                        /* Stopped with kill-signal (SIGTERM) because its owner left. */
                        g_assert_cmpint(cw_wait_for_event(f, path, "killed", cw_timeout_ms(10000)), ==, SIGTERM);
                        stopped++;
                } else {
                        g_autofree char *state = cw_get_state(f, path);
                        g_assert_cmpstr(state, ==, "running");
                        g_autofree char *kstate = NULL;
                        int kstatus = -1;
                        cw_kill(f->conn, path, 0, &kstate, &kstatus);
                        g_assert_cmpstr(kstate, ==, "killed");
                        g_assert_cmpint(kstatus, ==, SIGKILL);
                        g_assert_cmpint(cw_wait_for_event(f, path, "killed", cw_timeout_ms(10000)), ==, SIGKILL);
                        running++;
                }
                if (!cw_wait_until(pid_reaped, GINT_TO_POINTER((int) pid), cw_timeout_ms(5000)))
                        g_error("%s: pid %u was not reaped", path, pid);
                g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
                cw_release(f->conn, path);
        }
        g_assert_cmpuint(stopped, ==, G_N_ELEMENTS(calls) / 2);
        g_assert_cmpuint(running, ==, G_N_ELEMENTS(calls) / 2);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++)
                call_clear(&calls[i]);
        cw_assert_service_alive(f, service);
}

/* --max-processes=5: 20 Spawn calls at once from two connections. Exactly 5 start (the
 * processes still starting count), the others get LimitExceeded; the service never has
 * more than 5 children. */
static void test_limit_burst(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        GDBusConnection *other = cw_fixture_new_connection(f);
        Call calls[20] = {};
        Calls all = { calls, G_N_ELEMENTS(calls) };
        const char *argv[] = { "sleep", "30", NULL };

        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                calls[i] = (Call) { .f = f, .conn = i % 2 ? other : f->conn, .own_conn = i % 2 == 0 };
                spawn_async(&calls[i], argv, NULL);
        }
        g_assert_true(cw_wait_until(all_answered, &all, cw_timeout_ms(20000)));

        guint ok = 0;
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                if (calls[i].path) {
                        ok++;
                        continue;
                }
                cw_assert_dbus_error(calls[i].error, CW_ERROR("LimitExceeded"));
        }
        g_assert_cmpuint(ok, ==, 5);
        g_assert_cmpuint(cw_count_children(service), ==, 5);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 5);

        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                if (!calls[i].path)
                        continue;
                g_autofree char *kstate = NULL;
                int kstatus = -1;
                cw_kill(calls[i].conn, calls[i].path, 0, &kstate, &kstatus);
                g_assert_cmpstr(kstate, ==, "killed");
                cw_release(calls[i].conn, calls[i].path);
                if (!cw_wait_until(pid_reaped, GINT_TO_POINTER((int) calls[i].pid), cw_timeout_ms(5000)))
                        g_error("pid %u was not reaped", calls[i].pid);
        }
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++)
                call_clear(&calls[i]);
        g_dbus_connection_close_sync(other, NULL, NULL);
        g_object_unref(other);
        cw_assert_service_alive(f, service);
}

static gboolean helper_replaced(gpointer data) {
        pid_t *p = data; /* service, old helper */
        g_autoptr(GArray) helpers = cw_spawn_helpers(p[0]);
        return helpers->len == 1 && g_array_index(helpers, pid_t, 0) != p[1] && !cw_pid_exists(p[1]);
}

/* The --spawn-timeout of the hung-helper case: its first spawn must come through within it,
 * which under valgrind (the helper too runs under it) on a busy machine can take a second. */
static guint hung_helper_timeout_sec(void) {
        return cw_under_valgrind() ? 10 : 1;
}

static void setup_hung_helper(CwFixture *f, gconstpointer data) {
        g_autofree char *args =
                g_strdup_printf("--spawn-helpers=1 --spawn-timeout=%u", hung_helper_timeout_sec());
        cw_fixture_setup_with_args(f, args);
}

/* --spawn-helpers=1 --spawn-timeout=1 (10 under valgrind): the helper is stopped (as if its child hung in
 * execve() on a dead file system), so a Spawn gets no answer from it. The service keeps
 * serving meanwhile; after the timeout the call fails with SpawnFailed, the helper is
 * killed and replaced, and the next Spawn works. (A program that really hangs in execve()
 * needs a file system that hangs, which a test cannot make cheaply.) */
static void test_hung_helper(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        g_autoptr(GArray) helpers = cw_spawn_helpers(service);
        const char *argv[] = { "/bin/true", NULL };
        Call call = { .f = f, .conn = f->conn, .own_conn = TRUE };
        Calls one = { &call, 1 };

        g_assert_cmpuint(helpers->len, ==, 1);
        pid_t helper = g_array_index(helpers, pid_t, 0);
        /* One spawn first: its deadline timer is still armed when the next request comes,
         * which must get a full deadline of its own all the same. */
        g_autofree char *first = cw_spawn(f, argv, NULL, NULL);
        g_assert_cmpint(cw_wait_for_event(f, first, "exited", cw_timeout_ms(10000)), ==, 0);
        cw_release(f->conn, first);
        cw_spin(300);
        g_assert_cmpint(kill(helper, SIGSTOP), ==, 0);

        gint64 start = g_get_monotonic_time();
        spawn_async(&call, argv, NULL);
        /* While the call waits for the stopped helper, other calls are answered. Its own answer
         * comes no earlier than --spawn-timeout, so it is asserted missing only when looked at
         * before then (on a busy machine the look may come later). */
        for (guint i = 0; i < 5; i++) {
                g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
                gboolean answered = call.answered;
                if (g_get_monotonic_time() - start < hung_helper_timeout_sec() * G_USEC_PER_SEC)
                        g_assert_false(answered);
                cw_spin(50);
        }
        g_assert_true(
                cw_wait_until(all_answered, &one, hung_helper_timeout_sec() * 1000 + cw_timeout_ms(10000)));
        gint64 took = g_get_monotonic_time() - start;
        g_test_message("Spawn on a stopped helper failed after %.2f s: %s", (double) took / G_USEC_PER_SEC,
                       call.error ? call.error->message : "-");
        g_assert_null(call.path);
        cw_assert_dbus_error(call.error, CW_ERROR("SpawnFailed"));
        g_assert_nonnull(strstr(call.error->message, "did not answer in time"));
        g_assert_cmpint(took, >=, hung_helper_timeout_sec() * G_USEC_PER_SEC * 9 / 10);

        pid_t p[2] = { service, helper };
        g_assert_true(cw_wait_until(helper_replaced, p, cw_timeout_ms(5000)));
        guint32 pid;
        g_autofree char *path = cw_spawn(f, argv, NULL, &pid);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", cw_timeout_ms(10000)), ==, 0);
        cw_release(f->conn, path);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        call_clear(&call);
        cw_assert_service_alive(f, service);
}

/* --spawn-helpers=1: more calls than helpers wait in the queue, and still each is answered
 * in order of arrival on its connection. */
static void test_queue(CwFixture *f, gconstpointer data) {
        test_many(f, data);
}

/* Processes anywhere whose command line is "sleep @arg". */
static guint count_marked(const char *arg) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;
        guint n = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                if (!g_ascii_isdigit(name[0]))
                        continue;
                g_autofree char *file = g_strdup_printf("/proc/%s/cmdline", name);
                g_autofree char *text = NULL;
                gsize len = 0;
                if (!g_file_get_contents(file, &text, &len, NULL) || len < 6 || strcmp(text, "sleep") != 0)
                        continue;
                if (strlen(text) + 1 < len && g_str_equal(text + strlen(text) + 1, arg))
                        n++;
        }
        return n;
}

static gboolean none_marked(gpointer data) {
        return count_marked(data) == 0;
}

/* SIGTERM while Spawn calls (kill-on-release) are in flight: the service exits 0 (checked
 * at teardown), and none of the programs survives it, started or not. */
static void test_shutdown_in_flight(CwFixture *f, gconstpointer data) {
        pid_t service = cw_service_pid(f);
        g_autofree char *arg = g_strdup_printf("%u.%u", (unsigned) getpid(), g_random_int_range(1, 1000));
        const char *argv[] = { "sleep", arg, NULL };
        Call calls[12] = {};

        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                calls[i] = (Call) { .f = f, .conn = f->conn, .own_conn = TRUE };
                spawn_async(&calls[i], argv, cw_one_option("kill-on-release", g_variant_new_boolean(TRUE)));
        }
        g_dbus_connection_flush_sync(f->conn, NULL, NULL);
        cw_spin(1);
        g_assert_cmpint(kill(service, SIGTERM), ==, 0);
        if (!cw_wait_until(pid_reaped, GINT_TO_POINTER((int) service), cw_timeout_ms(10000)))
                g_error("the service did not exit");
        if (!cw_wait_until(none_marked, arg, cw_timeout_ms(5000)))
                g_error("%u programs outlived the service", count_marked(arg));
        Calls all = { calls, G_N_ELEMENTS(calls) };
        (void) cw_wait_until(all_answered, &all, cw_timeout_ms(5000));
        guint answered = 0;
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                if (calls[i].path)
                        answered++;
                else if (calls[i].error && g_dbus_error_is_remote_error(calls[i].error)) {
                        g_autofree char *remote = g_dbus_error_get_remote_error(calls[i].error);
                        /* Refused while shutting down, or the bus says the service went away. */
                        if (!g_str_equal(remote, CW_ERROR("SpawnFailed")) &&
                            !g_str_equal(remote, "org.freedesktop.DBus.Error.NoReply"))
                                g_error("unexpected answer: %s", calls[i].error->message);
                }
                call_clear(&calls[i]);
        }
        g_test_message("%u of %zu calls in flight were answered with a process", answered, G_N_ELEMENTS(calls));
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        g_test_add("/spawn-concurrent/many", CwFixture, NULL, cw_fixture_setup, test_many, cw_fixture_teardown);
        g_test_add("/spawn-concurrent/queue", CwFixture, "--spawn-helpers=1", cw_fixture_setup, test_queue,
                   cw_fixture_teardown);
        g_test_add("/spawn-concurrent/four-helpers", CwFixture, "--spawn-helpers=4", cw_fixture_setup, test_many,
                   cw_fixture_teardown);
        g_test_add("/spawn-concurrent/client-leaves", CwFixture, NULL, cw_fixture_setup, test_client_leaves,
                   cw_fixture_teardown);
        g_test_add("/spawn-concurrent/limit-burst", CwFixture, "--max-processes=5", cw_fixture_setup,
                   test_limit_burst, cw_fixture_teardown);
        g_test_add("/spawn-concurrent/hung-helper", CwFixture, NULL, setup_hung_helper, test_hung_helper,
                   cw_fixture_teardown);
        g_test_add("/spawn-concurrent/shutdown-in-flight", CwFixture, NULL, cw_fixture_setup,
                   test_shutdown_in_flight, cw_fixture_teardown);
        return g_test_run();
}
