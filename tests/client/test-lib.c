/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libchildwatch against the real service on a private bus: async spawn and its completion, the
 * order of state-changed emissions, the early-end race, the mapping of every D-Bus error, the
 * listing, the options builder (descriptors too), cancellation, a restart of the service, and
 * that nothing keeps a reference it should not (the client must be gone after each test). */

#include "cw-test.h"

#include <childwatch.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct Fixture {
        CwFixture cw;
        ChildwatchClient *client;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;

        cw_fixture_setup(&f->cw, data);
        f->client = childwatch_client_new_sync(f->cw.conn, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(f->client);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        /* Children hold their client: if any child (or a pending operation) leaked, the client
         * outlives this unref. */
        if (f->client) {
                g_object_add_weak_pointer(G_OBJECT(f->client), (gpointer *) &f->client);
                g_object_unref(f->client);
                /* Let idle sources that still hold a child run out (bounded). */
                for (int i = 0; i < 100 && f->client && g_main_context_pending(NULL); i++)
                        g_main_context_iteration(NULL, FALSE);
                if (f->client)
                        g_test_fail_printf("the ChildwatchClient is still referenced after the test");
        }
        cw_fixture_teardown(&f->cw, data);
}

/* ---- helpers ---- */

static void on_async_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        GAsyncResult **slot = user_data;
        g_assert_null(*slot);
        *slot = g_object_ref(result);
}

static gboolean slot_filled(gpointer slot) {
        return *(GAsyncResult **) slot != NULL;
}

/* Runs the main context until an async call completed into *@slot (bounded); hands the result over. */
static GAsyncResult *await_result(GAsyncResult **slot) {
        if (!cw_wait_until(slot_filled, slot, cw_timeout_ms(10000)))
                g_error("an asynchronous call did not complete within %u ms", cw_timeout_ms(10000));
        return g_steal_pointer(slot);
}

static ChildwatchChild *spawn(Fixture *f, const char *const *argv, ChildwatchSpawnOptions *options,
                              GError **error) {
        GAsyncResult *slot = NULL;

        childwatch_client_spawn(f->client, argv, options, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        return childwatch_client_spawn_finish(f->client, result, error);
}

static ChildwatchChild *spawn_ok(Fixture *f, const char *const *argv, ChildwatchSpawnOptions *options) {
        g_autoptr(GError) error = NULL;
        ChildwatchChild *child = spawn(f, argv, options, &error);

        g_assert_no_error(error);
        g_assert_true(CHILDWATCH_IS_CHILD(child));
        return child;
}

static gboolean child_wait(ChildwatchChild *child, char **ret_state, int *ret_status, GError **error) {
        GAsyncResult *slot = NULL;

        childwatch_child_wait(child, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        return childwatch_child_wait_finish(child, result, ret_state, ret_status, error);
}

static void child_wait_ok(ChildwatchChild *child, const char *state, int status) {
        g_autoptr(GError) error = NULL;
        g_autofree char *got_state = NULL;
        int got_status = -12345;

        g_assert_true(child_wait(child, &got_state, &got_status, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(got_state, ==, state);
        g_assert_cmpint(got_status, ==, status);
}

static void child_release_ok(ChildwatchChild *child) {
        g_autoptr(GError) error = NULL;
        g_assert_true(childwatch_child_release_sync(child, NULL, &error));
        g_assert_no_error(error);
}

/* Every state-changed of one child as "event:status", and the state property as each handler saw it. */
typedef struct Recorder {
        GPtrArray *events;
        GPtrArray *states;
} Recorder;

static void on_state_changed(ChildwatchChild *child, const char *event, int status, gpointer user_data) {
        Recorder *r = user_data;
        g_ptr_array_add(r->events, g_strdup_printf("%s:%d", event, status));
        g_ptr_array_add(r->states, g_strdup_printf("%s:%d", childwatch_child_get_state(child),
                                                   childwatch_child_get_exit_status(child)));
}

static void recorder_init(Recorder *r, ChildwatchChild *child) {
        r->events = g_ptr_array_new_with_free_func(g_free);
        r->states = g_ptr_array_new_with_free_func(g_free);
        g_signal_connect(child, "state-changed", G_CALLBACK(on_state_changed), r);
}

static void recorder_clear(Recorder *r, ChildwatchChild *child) {
        g_signal_handlers_disconnect_by_data(child, r);
        g_clear_pointer(&r->events, g_ptr_array_unref);
        g_clear_pointer(&r->states, g_ptr_array_unref);
}

/* The recorded events joined by spaces, for one readable comparison. */
static char *joined(GPtrArray *a) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (guint i = 0; i < a->len; i++)
                g_string_append_printf(s, "%s%s", i ? " " : "", (const char *) g_ptr_array_index(a, i));
        return g_string_free(g_steal_pointer(&s), FALSE);
}

typedef struct EventsQuery {
        Recorder *r;
        guint n;
} EventsQuery;

static gboolean have_events(gpointer data) {
        EventsQuery *q = data;
        return q->r->events->len >= q->n;
}

/* Waits (bounded) until @n events were recorded. */
static void await_events(Recorder *r, guint n) {
        EventsQuery q = { r, n };
        if (!cw_wait_until(have_events, &q, cw_timeout_ms(10000))) {
                g_autofree char *got = joined(r->events);
                g_error("expected %u state-changed emissions within %u ms, got \"%s\"", n,
                        cw_timeout_ms(10000), got);
        }
}

static void assert_events(Recorder *r, const char *expected) {
        g_autofree char *got = joined(r->events);
        g_assert_cmpstr(got, ==, expected);
}

static gboolean no_processes(gpointer data) {
        Fixture *f = data;
        return cw_list_processes_count(&f->cw) == 0;
}

/* ---- construction ---- */

/* Creating a client starts nothing; the first call does (bus activation). */
static void test_client_lazy(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };

        g_assert_false(cw_name_has_owner(f->cw.conn));
        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        g_assert_true(cw_name_has_owner(f->cw.conn));
        child_wait_ok(child, "exited", 0);
        child_release_ok(child);
}

static void on_client_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        on_async_done(source, result, user_data);
}

/* The other constructors: for an address (a private connection), and for the session bus (which
 * GTestDBus has pointed at the test bus). */
static void test_client_constructors(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sh", "-c", "exit 5", NULL };
        const char *address = g_test_dbus_get_bus_address(f->cw.bus);
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        childwatch_client_new_for_address(address, NULL, on_client_ready, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_autoptr(ChildwatchClient) by_address = childwatch_client_new_finish(result, &error);
        g_assert_no_error(error);
        g_assert_true(childwatch_client_get_connection(by_address) != f->cw.conn);

        childwatch_client_new_for_bus(G_BUS_TYPE_SESSION, NULL, on_client_ready, &slot);
        g_autoptr(GAsyncResult) result2 = await_result(&slot);
        g_autoptr(ChildwatchClient) by_bus = childwatch_client_new_finish(result2, &error);
        g_assert_no_error(error);

        g_autoptr(ChildwatchClient) by_address_sync =
                childwatch_client_new_for_address_sync(address, NULL, &error);
        g_assert_no_error(error);

        ChildwatchClient *clients[] = { by_address, by_bus, by_address_sync };
        for (guint i = 0; i < G_N_ELEMENTS(clients); i++) {
                g_autoptr(ChildwatchChild) child =
                        childwatch_client_spawn_sync(clients[i], argv, NULL, NULL, &error);
                g_assert_no_error(error);
                g_assert_true(childwatch_child_get_client(child) == clients[i]);
                child_wait_ok(child, "exited", 5);
                child_release_ok(child);
        }
        /* The private connections go with their clients; close them before the bus goes. */
        g_dbus_connection_close_sync(childwatch_client_get_connection(by_address), NULL, NULL);
        g_dbus_connection_close_sync(childwatch_client_get_connection(by_address_sync), NULL, NULL);
}

/* ---- spawn and its end ---- */

static void test_spawn_async_wait(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sh", "-c", "exit 7", NULL };
        Recorder r;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        g_assert_true(g_str_has_prefix(childwatch_child_get_object_path(child),
                                       "/org/childwatch/ChildWatch1/process/"));
        g_assert_cmpuint(childwatch_child_get_pid(child), >, 0);
        g_assert_true(childwatch_child_get_client(child) == f->client);
        g_assert_nonnull(childwatch_child_get_proxy(child));
        g_assert_cmpstr(g_dbus_proxy_get_object_path(G_DBUS_PROXY(childwatch_child_get_proxy(child))), ==,
                        childwatch_child_get_object_path(child));
        recorder_init(&r, child);

        child_wait_ok(child, "exited", 7);
        /* The terminal event is emitted before the wait completes, whichever came first. */
        assert_events(&r, "exited:7");
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "exited");
        g_assert_cmpint(childwatch_child_get_exit_status(child), ==, 7);
        g_assert_true(childwatch_child_has_ended(child));

        /* The StateChanged signal that also arrives adds nothing, and a second Wait neither. */
        cw_spin(cw_timeout_ms(300));
        child_wait_ok(child, "exited", 7);
        assert_events(&r, "exited:7");
        g_assert_cmpuint(cw_count_events(&f->cw, childwatch_child_get_object_path(child), NULL), ==, 1);

        /* The properties say the same. */
        g_autofree char *state = cw_get_state(&f->cw, childwatch_child_get_object_path(child));
        g_assert_cmpstr(state, ==, "exited");

        child_release_ok(child);
        g_assert_cmpuint(cw_list_processes_count(&f->cw), ==, 0);
        recorder_clear(&r, child);
}

/* Without Wait: the StateChanged signal alone reports the end, once. */
static void test_spawn_signal_only(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        Recorder r;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        recorder_init(&r, child);
        await_events(&r, 1);
        cw_spin(cw_timeout_ms(300));
        assert_events(&r, "exited:0");
        g_autofree char *states = joined(r.states);
        g_assert_cmpstr(states, ==, "exited:0");
        child_release_ok(child);
        recorder_clear(&r, child);
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Notifications of the state properties come with the events. */
static void on_notify(GObject *object, GParamSpec *pspec, gpointer user_data) {
        g_ptr_array_add(user_data, g_strdup(pspec->name));
}

static void test_spawn_notify(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sh", "-c", "exit 2", NULL };
        g_autoptr(GPtrArray) notified = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *names = NULL;
        g_autofree char *state = NULL;
        int status = 0;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        g_signal_connect(child, "notify", G_CALLBACK(on_notify), notified);
        child_wait_ok(child, "exited", 2);
        g_ptr_array_sort(notified, compare_strings);
        names = joined(notified);
        g_assert_cmpstr(names, ==, "exit-status state");
        g_object_get(child, "state", &state, "exit-status", &status, NULL);
        g_assert_cmpstr(state, ==, "exited");
        g_assert_cmpint(status, ==, 2);
        g_signal_handlers_disconnect_by_data(child, notified);
        child_release_ok(child);
}

/* ---- the order of state-changed ---- */

static void send_signal_async_ok(ChildwatchChild *child, int sig) {
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        childwatch_child_send_signal(child, sig, FALSE, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_true(childwatch_child_send_signal_finish(child, result, &error));
        g_assert_no_error(error);
}

static void test_stop_continue_kill(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        int status = 0;
        GAsyncResult *slot = NULL;
        Recorder r;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        recorder_init(&r, child);
        pid_t pid = (pid_t) childwatch_child_get_pid(child);
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "running");

        g_assert_true(childwatch_child_send_signal_sync(child, SIGSTOP, FALSE, NULL, &error));
        g_assert_no_error(error);
        await_events(&r, 1);
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "stopped");
        g_assert_cmpint(childwatch_child_get_exit_status(child), ==, SIGSTOP);
        g_assert_cmpint(cw_proc_state(pid), ==, 'T');
        g_assert_false(childwatch_child_has_ended(child));

        send_signal_async_ok(child, SIGCONT);
        await_events(&r, 2);
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "running");
        g_assert_cmpint(childwatch_child_get_exit_status(child), ==, 0);

        childwatch_child_kill(child, 5 * G_USEC_PER_SEC, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(child, result, &state, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, SIGTERM);

        cw_spin(cw_timeout_ms(300));
        g_autofree char *expected =
                g_strdup_printf("stopped:%d continued:%d killed:%d", SIGSTOP, SIGCONT, SIGTERM);
        assert_events(&r, expected);
        g_autofree char *states = joined(r.states);
        g_autofree char *expected_states =
                g_strdup_printf("stopped:%d running:0 killed:%d", SIGSTOP, SIGTERM);
        g_assert_cmpstr(states, ==, expected_states);
        g_assert_true(cw_pid_gone(GINT_TO_POINTER(pid)));

        child_release_ok(child);
        recorder_clear(&r, child);
}

/* Kill with no grace: SIGKILL at once, on a process that ignores SIGTERM. */
static void test_kill_now(Fixture *f, gconstpointer data) {
        /* exec: the ignored SIGTERM stays ignored in sleep, which is then the watched process. */
        const char *const argv[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        int status = 0;
        GAsyncResult *slot = NULL;
        Recorder r;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        recorder_init(&r, child);
        childwatch_child_kill(child, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(child, result, &state, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, SIGKILL);
        g_autofree char *expected = g_strdup_printf("killed:%d", SIGKILL);
        assert_events(&r, expected);
        child_release_ok(child);
        recorder_clear(&r, child);
}

/* ---- the early-end race ---- */

/* Returns once @n processes have ended and the StateChanged of each sits in this process's queue,
 * without iterating the main context (so nothing of it has been dispatched yet). The service is
 * asked on another connection, with blocking calls that run no main context of ours, until it
 * lists @n ended processes; then a blocking call on the client's own connection is answered after
 * the signals the service sent before, so GDBus's worker thread has read and queued them. */
static void hold_until_ended(Fixture *f, guint n) {
        g_autoptr(GDBusConnection) other = cw_fixture_new_connection(&f->cw);
        g_autoptr(GError) error = NULL;
        gint64 deadline = g_get_monotonic_time() + cw_timeout_ms(10000) * (gint64) 1000;
        guint ended = 0;

        while (ended < n) {
                if (g_get_monotonic_time() > deadline)
                        g_error("only %u of %u processes ended within %u ms", ended, n,
                                cw_timeout_ms(10000));
                g_usleep(5000);
                g_autoptr(GVariant) r = cw_call(other, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses",
                                                NULL, "(a(ouss))", &error);
                g_assert_no_error(error);
                g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
                GVariantIter it;
                const char *state;
                ended = 0;
                g_variant_iter_init(&it, list);
                while (g_variant_iter_next(&it, "(&ou&s&s)", NULL, NULL, &state, NULL))
                        if (childwatch_event_is_terminal(state))
                                ended++;
        }
        /* The barrier: sent to the service itself, so that its answer follows its signals. */
        GVariant *ping = cw_call(f->cw.conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
                                 "()", &error);
        g_assert_no_error(error);
        g_variant_unref(ping);
        g_dbus_connection_close_sync(other, NULL, &error);
        g_assert_no_error(error);
}

typedef struct RaceState {
        Fixture *f;
        ChildwatchChild *child;
        guint seen_before_hand_out; /* StateChanged(exited) for its path, seen by the harness */
        char *state_at_hand_out;
} RaceState;

static void on_race_spawned(GObject *source, GAsyncResult *result, gpointer user_data) {
        RaceState *s = user_data;
        g_autoptr(GError) error = NULL;

        s->child = childwatch_client_spawn_finish(CHILDWATCH_CLIENT(source), result, &error);
        g_assert_no_error(error);
        s->seen_before_hand_out =
                cw_count_events(&s->f->cw, childwatch_child_get_object_path(s->child), "exited");
        s->state_at_hand_out = g_strdup(childwatch_child_get_state(s->child));
}

static gboolean race_spawned(gpointer data) {
        return ((RaceState *) data)->child != NULL;
}

/* A /bin/true ends, and its StateChanged reaches this process, before the client has its child
 * object ready: the main context is kept from running until both the Spawn() reply and the signal
 * are queued, so the signal is dispatched right after the reply, while the process proxy is still
 * being made. It must still be reported, once, to a handler connected after spawn_finish(). */
static void test_early_end_async(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        RaceState s = { .f = f };
        Recorder r;

        childwatch_client_spawn(f->client, argv, NULL, NULL, on_race_spawned, &s);
        hold_until_ended(f, 1);
        if (!cw_wait_until(race_spawned, &s, cw_timeout_ms(10000)))
                g_error("spawn did not complete");
        g_autoptr(ChildwatchChild) child = g_steal_pointer(&s.child);

        /* The race really happened: the end was already delivered when the child was handed out,
         * and the child had not emitted it yet. */
        g_assert_cmpuint(s.seen_before_hand_out, ==, 1);
        g_assert_cmpstr(s.state_at_hand_out, ==, "running");

        recorder_init(&r, child);
        await_events(&r, 1);
        cw_spin(cw_timeout_ms(300));
        assert_events(&r, "exited:0");
        child_wait_ok(child, "exited", 0);
        assert_events(&r, "exited:0");
        child_release_ok(child);
        recorder_clear(&r, child);
        g_free(s.state_at_hand_out);
}

/* The same with the blocking spawn: whatever arrived during it is emitted once the context runs. */
static void test_early_end_sync(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        Recorder r;

        g_autoptr(ChildwatchChild) child = childwatch_client_spawn_sync(f->client, argv, NULL, NULL, &error);
        g_assert_no_error(error);
        hold_until_ended(f, 1);
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "running");
        recorder_init(&r, child);
        await_events(&r, 1);
        cw_spin(cw_timeout_ms(300));
        assert_events(&r, "exited:0");
        child_release_ok(child);
        recorder_clear(&r, child);
}

/* Many at once: every child gets its own end, exactly once, none another's. */
static void test_early_end_many(Fixture *f, gconstpointer data) {
        enum {
                N = 16
        };
        GAsyncResult *slots[N] = { NULL };
        ChildwatchChild *children[N];
        Recorder recorders[N];

        (void) cw_service_pid(&f->cw);
        for (int i = 0; i < N; i++) {
                g_autofree char *script = g_strdup_printf("exit %d", i);
                const char *const argv[] = { "sh", "-c", script, NULL };
                childwatch_client_spawn(f->client, argv, NULL, NULL, on_async_done, &slots[i]);
        }
        hold_until_ended(f, N);
        for (int i = 0; i < N; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GAsyncResult) result = await_result(&slots[i]);
                children[i] = childwatch_client_spawn_finish(f->client, result, &error);
                g_assert_no_error(error);
                recorder_init(&recorders[i], children[i]);
        }
        for (int i = 0; i < N; i++) {
                g_autofree char *expected = g_strdup_printf("exited:%d", i);
                await_events(&recorders[i], 1);
                child_wait_ok(children[i], "exited", i);
                assert_events(&recorders[i], expected);
        }
        cw_spin(cw_timeout_ms(200));
        for (int i = 0; i < N; i++) {
                g_assert_cmpuint(recorders[i].events->len, ==, 1);
                child_release_ok(children[i]);
                recorder_clear(&recorders[i], children[i]);
                g_object_unref(children[i]);
        }
}

/* ---- errors ---- */

static void test_error_domain(Fixture *f, gconstpointer data) {
        static const struct {
                const char *name;
                int code;
        } map[] = {
                { "org.childwatch.ChildWatch1.Error.SpawnFailed", CHILDWATCH_ERROR_SPAWN_FAILED },
                { "org.childwatch.ChildWatch1.Error.NoSuchProcess", CHILDWATCH_ERROR_NO_SUCH_PROCESS },
                { "org.childwatch.ChildWatch1.Error.NotRunning", CHILDWATCH_ERROR_NOT_RUNNING },
                { "org.childwatch.ChildWatch1.Error.AlreadyWatched", CHILDWATCH_ERROR_ALREADY_WATCHED },
                { "org.childwatch.ChildWatch1.Error.LimitExceeded", CHILDWATCH_ERROR_LIMIT_EXCEEDED },
        };

        for (guint i = 0; i < G_N_ELEMENTS(map); i++) {
                g_autoptr(GError) e = g_dbus_error_new_for_dbus_error(map[i].name, "the message");
                g_assert_error(e, CHILDWATCH_ERROR, map[i].code);
                g_autofree char *remote = g_dbus_error_get_remote_error(e);
                g_assert_cmpstr(remote, ==, map[i].name);
                g_assert_true(g_dbus_error_strip_remote_error(e));
                g_assert_cmpstr(e->message, ==, "the message");
                g_assert_error(e, CHILDWATCH_ERROR, map[i].code);

                /* And back: what a GDBus service would send for the code. */
                g_autoptr(GError) local = g_error_new_literal(CHILDWATCH_ERROR, map[i].code, "x");
                g_autofree char *encoded = g_dbus_error_encode_gerror(local);
                g_assert_cmpstr(encoded, ==, map[i].name);
        }
        g_assert_true(childwatch_event_is_terminal("exited"));
        g_assert_true(childwatch_event_is_terminal("vanished"));
        g_assert_false(childwatch_event_is_terminal("stopped"));
        g_assert_false(childwatch_event_is_terminal("running"));
}

static void test_error_spawn_failed(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/nonexistent", NULL };
        const char *const true_argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;

        g_autoptr(ChildwatchChild) child = spawn(f, argv, NULL, &error);
        g_assert_null(child);
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_SPAWN_FAILED);
        /* Stripped: the message is the service's own. */
        g_assert_false(g_dbus_error_is_remote_error(error));
        g_assert_cmpstr(error->message, ==, "execve(/nonexistent): No such file or directory");
        g_clear_error(&error);

        /* The blocking form, and a working directory that cannot be entered. */
        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();
        childwatch_spawn_options_set_cwd(options, "/nowhere");
        g_assert_null(childwatch_client_spawn_sync(f->client, true_argv, options, NULL, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_SPAWN_FAILED);
        g_assert_nonnull(strstr(error->message, "chdir(/nowhere)"));
        g_clear_error(&error);

        /* Through the generated proxy: the same code, with the remote name still there to strip. */
        g_autoptr(GVariant) no_options =
                g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        g_autofree char *path = NULL;
        guint pid = 0;
        g_assert_false(childwatch_manager_call_spawn_sync(childwatch_client_get_manager(f->client), argv,
                                                          no_options, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                                          &path, &pid, NULL, NULL, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_SPAWN_FAILED);
        g_autofree char *remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, "org.childwatch.ChildWatch1.Error.SpawnFailed");
        g_assert_true(g_dbus_error_strip_remote_error(error));
        g_assert_cmpstr(error->message, ==, "execve(/nonexistent): No such file or directory");

        /* Nothing was left behind, and the client still works. */
        g_assert_cmpuint(cw_list_processes_count(&f->cw), ==, 0);
        g_autoptr(ChildwatchChild) ok = spawn_ok(f, true_argv, NULL);
        child_wait_ok(ok, "exited", 0);
        child_release_ok(ok);
}

static void test_error_invalid_args(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();

        childwatch_spawn_options_set_option(options, "no-such-option", g_variant_new_boolean(TRUE));
        g_autoptr(ChildwatchChild) child = spawn(f, argv, options, &error);
        g_assert_null(child);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(error->message, "no-such-option"));
}

static void test_error_not_running(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        child_wait_ok(child, "exited", 0);
        g_assert_false(childwatch_child_send_signal_sync(child, SIGTERM, FALSE, NULL, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_NOT_RUNNING);
        g_clear_error(&error);

        childwatch_child_send_signal(child, SIGTERM, FALSE, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_false(childwatch_child_send_signal_finish(child, result, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_NOT_RUNNING);
        g_clear_error(&error);

        /* Kill of an ended process answers at once with how it ended. */
        g_autofree char *state = NULL;
        int status = -1;
        childwatch_child_kill(child, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result2 = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(child, result2, &state, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(state, ==, "exited");
        g_assert_cmpint(status, ==, 0);
        child_release_ok(child);
}

/* After Release() the object is gone: every call says UnknownObject, and no event comes. */
static void test_error_released(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        child_wait_ok(child, "exited", 0);

        childwatch_child_release(child, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) released = await_result(&slot);
        g_assert_true(childwatch_child_release_finish(child, released, &error));
        g_assert_no_error(error);

        g_assert_false(child_wait(child, NULL, NULL, &error));
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
        g_clear_error(&error);
        g_assert_false(childwatch_child_release_sync(child, NULL, &error));
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
        g_clear_error(&error);
        g_assert_false(childwatch_child_send_signal_sync(child, SIGTERM, FALSE, NULL, &error));
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
        /* The state it had stays. */
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "exited");
}

static void test_error_no_such_process(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;

        /* Ended processes are not found by pid (it may have been reused). */
        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        child_wait_ok(child, "exited", 0);
        g_assert_false(childwatch_manager_call_get_process_sync(
                childwatch_client_get_manager(f->client), childwatch_child_get_pid(child),
                G_DBUS_CALL_FLAGS_NONE, -1, &path, NULL, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_NO_SUCH_PROCESS);
        child_release_ok(child);
}

static gboolean service_has_pidfds(Fixture *f) {
        g_autoptr(GVariant) features =
                cw_get_property(f->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **list = g_variant_get_strv(features, NULL);
        return g_strv_contains(list, "pidfd");
}

static void test_error_already_watched(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;
        guint pid = 0;
        g_autoptr(GVariant) no_options =
                g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        g_assert_false(childwatch_manager_call_adopt_pid_sync(
                childwatch_client_get_manager(f->client), childwatch_child_get_pid(child), no_options,
                G_DBUS_CALL_FLAGS_NONE, -1, &path, &pid, NULL, &error));
        if (service_has_pidfds(f))
                g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_ALREADY_WATCHED);
        else /* a service under valgrind has no pidfds, so no Adopt at all */
                g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED);
        g_clear_error(&error);

        GAsyncResult *slot = NULL;
        childwatch_child_kill(child, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(child, result, NULL, NULL, &error));
        g_assert_no_error(error);
        child_release_ok(child);
}

/* Started with --max-processes=1. */
static void test_error_limit_exceeded(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GError) error = NULL;

        g_autoptr(ChildwatchChild) first = spawn_ok(f, argv, NULL);
        g_autoptr(ChildwatchChild) second = spawn(f, argv, NULL, &error);
        g_assert_null(second);
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_LIMIT_EXCEEDED);
        g_clear_error(&error);

        GAsyncResult *slot = NULL;
        childwatch_child_kill(first, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(first, result, NULL, NULL, &error));
        g_assert_no_error(error);
        child_release_ok(first);
        g_assert_cmpuint(cw_list_processes_count(&f->cw), ==, 0);
}

/* ---- listing ---- */

static const ChildwatchProcessEntry *find_entry(GPtrArray *entries, const char *path) {
        for (guint i = 0; i < entries->len; i++) {
                const ChildwatchProcessEntry *e = g_ptr_array_index(entries, i);
                if (g_str_equal(e->object_path, path))
                        return e;
        }
        return NULL;
}

static void test_list(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();
        childwatch_spawn_options_set_option(options, "description", g_variant_new_string("first sleeper"));
        g_autoptr(ChildwatchChild) a = spawn_ok(f, argv, options);
        g_autoptr(ChildwatchChild) b = spawn_ok(f, argv, NULL);

        childwatch_client_list_processes(f->client, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_autoptr(GPtrArray) entries = childwatch_client_list_processes_finish(f->client, result, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(entries->len, ==, 2);
        const ChildwatchProcessEntry *ea = find_entry(entries, childwatch_child_get_object_path(a));
        const ChildwatchProcessEntry *eb = find_entry(entries, childwatch_child_get_object_path(b));
        g_assert_nonnull(ea);
        g_assert_nonnull(eb);
        g_assert_cmpuint(ea->pid, ==, childwatch_child_get_pid(a));
        g_assert_cmpuint(eb->pid, ==, childwatch_child_get_pid(b));
        g_assert_cmpstr(ea->state, ==, "running");
        g_assert_cmpstr(ea->description, ==, "first sleeper");
        g_assert_cmpstr(eb->description, ==, "sleep 30");
        /* In the order of their ID. */
        g_assert_true(g_ptr_array_index(entries, 0) == ea);

        g_autoptr(ChildwatchProcessEntry) copy = childwatch_process_entry_copy(ea);
        g_assert_cmpstr(copy->object_path, ==, ea->object_path);
        g_assert_cmpstr(copy->description, ==, ea->description);
        g_assert_true(G_TYPE_IS_BOXED(CHILDWATCH_TYPE_PROCESS_ENTRY));

        childwatch_child_kill(a, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) killed = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(a, killed, NULL, NULL, &error));
        g_assert_no_error(error);

        /* The blocking form; the ended one is still listed, with its end. */
        g_autoptr(GPtrArray) again = childwatch_client_list_processes_sync(f->client, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(again->len, ==, 2);
        g_assert_cmpstr(find_entry(again, childwatch_child_get_object_path(a))->state, ==, "killed");
        g_assert_cmpstr(find_entry(again, childwatch_child_get_object_path(b))->state, ==, "running");

        childwatch_child_kill(b, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) killed_b = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(b, killed_b, NULL, NULL, &error));
        g_assert_no_error(error);
        child_release_ok(a);
        child_release_ok(b);
        g_autoptr(GPtrArray) none = childwatch_client_list_processes_sync(f->client, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(none->len, ==, 0);
}

/* ---- options ---- */

/* What is in the pipe @fd, up to its end. Non-blocking, so that a write end still open somewhere
 * fails the test (EAGAIN) instead of hanging it. */
static char *read_all(int fd) {
        g_autoptr(GString) s = g_string_new(NULL);
        char buf[256];
        ssize_t n;

        g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                g_string_append_len(s, buf, n);
        if (n < 0)
                g_error("read: %s (a write end is still open)", g_strerror(errno));
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void test_options(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sh", "-c",
                                     "echo \"$GREETING $(pwd) ${HOME-unset}\"; echo err >&2; cat <&5",
                                     NULL };
        g_autoptr(GError) error = NULL;
        int out[2], in5[2];

        g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
        g_assert_cmpint(pipe2(in5, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(in5[1], "from fd 5\n", 10), ==, 10);
        g_assert_cmpint(close(in5[1]), ==, 0);

        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();
        childwatch_spawn_options_set_cwd(options, "/tmp");
        childwatch_spawn_options_setenv(options, "GREETING", "hullo");
        childwatch_spawn_options_setenv(options, "GREETING", "hello"); /* the later one wins */
        childwatch_spawn_options_unsetenv(options, "HOME");
        g_assert_true(childwatch_spawn_options_pass_fd(options, out[1], 1, &error));
        g_assert_true(childwatch_spawn_options_pass_fd(options, out[1], 2, &error));
        g_assert_true(childwatch_spawn_options_pass_fd(options, in5[0], 5, &error));
        g_assert_no_error(error);
        /* The caller may close its descriptors at once: the options hold duplicates. */
        g_assert_cmpint(close(out[1]), ==, 0);
        g_assert_cmpint(close(in5[0]), ==, 0);

        /* What the builder makes, as Spawn() takes it. */
        g_autoptr(GUnixFDList) fd_list = NULL;
        g_autoptr(GVariant) built = childwatch_spawn_options_build(options, &fd_list);
        g_assert_false(g_variant_is_floating(built));
        g_assert_cmpint(g_unix_fd_list_get_length(fd_list), ==, 3);
        g_autofree char *text = g_variant_print(built, FALSE);
        g_assert_cmpstr(text, ==,
                        "{'cwd': <'/tmp'>, 'environment': <['GREETING=hullo', 'GREETING=hello']>, "
                        "'unset-environment': <['HOME']>, 'stdout': <handle 0>, 'stderr': <handle 1>, "
                        "'fds': <{uint32 5: handle 2}>}");

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, options);
        child_wait_ok(child, "exited", 0);

        /* Options can be used again; an empty builder is the defaults. */
        g_autoptr(GVariant) again = childwatch_spawn_options_build(options, NULL);
        g_assert_true(g_variant_equal(again, built));

        /* The options (and the list they built) hold the last write ends: the pipe ends with them. */
        g_clear_object(&options);
        g_clear_object(&fd_list);
        g_autofree char *output = read_all(out[0]);
        g_assert_cmpstr(output, ==, "hello /tmp unset\nerr\nfrom fd 5\n");
        g_assert_cmpint(close(out[0]), ==, 0);
        child_release_ok(child);

        g_autoptr(ChildwatchSpawnOptions) empty = childwatch_spawn_options_new();
        g_autoptr(GUnixFDList) no_fds = NULL;
        g_autoptr(GVariant) defaults = childwatch_spawn_options_build(empty, &no_fds);
        g_assert_cmpuint(g_variant_n_children(defaults), ==, 0);
        g_assert_null(no_fds);
}

static int compare_ints(gconstpointer a, gconstpointer b) {
        return *(const int *) a - *(const int *) b;
}

/* The most descriptors one spawn may pass (CHILDWATCH_MAX_FDS_PER_CALL, stdin/stdout/stderr
 * included) arrive, each where asked; one more is refused by the library before anything is sent,
 * and the client stays usable; replacing a target does not count twice. */
static void test_options_fd_limit(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sh", "-c", "ls /proc/$$/fd; exit 0", NULL };
        g_autoptr(GError) error = NULL;
        int out[2];
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        g_assert_cmpint(null_fd, >=, 0);
        g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();
        for (int target = 0; target < CHILDWATCH_MAX_FDS_PER_CALL; target++) {
                g_assert_true(childwatch_spawn_options_pass_fd(options, target == 1 ? out[1] : null_fd,
                                                               target, &error));
                g_assert_no_error(error);
        }

        /* One more target is one too many; the options are as they were. */
        g_assert_false(childwatch_spawn_options_pass_fd(options, null_fd, CHILDWATCH_MAX_FDS_PER_CALL, &error));
        g_assert_error(error, CHILDWATCH_ERROR, CHILDWATCH_ERROR_LIMIT_EXCEEDED);
        g_assert_nonnull(strstr(error->message, "at most 16 descriptors"));
        g_clear_error(&error);
        /* A target passed again replaces its descriptor: still 16 in the message. */
        g_assert_true(childwatch_spawn_options_pass_fd(options, null_fd, 5, &error));
        g_assert_no_error(error);
        g_autoptr(GUnixFDList) fd_list = NULL;
        g_autoptr(GVariant) built = childwatch_spawn_options_build(options, &fd_list);
        g_assert_nonnull(built);
        g_assert_cmpint(g_unix_fd_list_get_length(fd_list), ==, CHILDWATCH_MAX_FDS_PER_CALL);
        g_clear_object(&fd_list);

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, options);
        child_wait_ok(child, "exited", 0);
        g_clear_object(&options);
        g_assert_cmpint(close(out[1]), ==, 0);
        g_assert_cmpint(close(null_fd), ==, 0);

        /* The shell's table: exactly 0 to 15. */
        g_autofree char *output = read_all(out[0]);
        g_assert_cmpint(close(out[0]), ==, 0);
        g_auto(GStrv) lines = g_strsplit(g_strchomp(output), "\n", -1);
        g_autoptr(GArray) table = g_array_new(FALSE, FALSE, sizeof(int));
        for (char **l = lines; *l; l++) {
                char *end;
                int n = (int) strtol(*l, &end, 10);
                g_assert_true(**l && !*end);
                g_array_append_val(table, n);
        }
        g_array_sort(table, compare_ints);
        g_assert_cmpuint(table->len, ==, CHILDWATCH_MAX_FDS_PER_CALL);
        for (guint i = 0; i < table->len; i++)
                g_assert_cmpint(g_array_index(table, int, i), ==, (int) i);
        child_release_ok(child);
}

/* Sends Spawn(["/bin/true"], {"fds": 3.. -> /dev/null}) with @n descriptors on a connection of its
 * own, bypassing the library. TRUE when answered, FALSE when the bus disconnected it. */
static gboolean raw_spawn_with_fds(Fixture *f, int n) {
        g_autoptr(GDBusConnection) conn = cw_fixture_new_connection(&f->cw);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        GVariantBuilder map;
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        g_assert_cmpint(null_fd, >=, 0);
        g_variant_builder_init(&map, G_VARIANT_TYPE("a{uh}"));
        for (int i = 0; i < n; i++)
                g_variant_builder_add(&map, "{uh}", (guint32) (3 + i), g_unix_fd_list_append(fds, null_fd, NULL));
        g_assert_cmpint(g_unix_fd_list_get_length(fds), ==, n);
        g_assert_cmpint(close(null_fd), ==, 0);
        const char *const argv[] = { "/bin/true", NULL };
        g_autofree char *path = cw_spawn_full(conn, argv, cw_one_option("fds", g_variant_builder_end(&map)), fds,
                                              NULL, &error);
        if (path) {
                cw_release(conn, path);
                return TRUE;
        }
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
        g_assert_true(g_dbus_connection_is_closed(conn));
        return FALSE;
}

/* What CHILDWATCH_MAX_FDS_PER_CALL stands for: the test bus runs with dbus-daemon's default
 * limits (GTestDBus sets none), and there a message with one descriptor more than that costs the
 * client its connection, while the maximum is delivered. Should dbus-daemon's default change,
 * this fails and the constant (and the documents that name 16) must follow. */
static void test_options_fd_limit_of_bus(Fixture *f, gconstpointer data) {
        g_assert_true(raw_spawn_with_fds(f, CHILDWATCH_MAX_FDS_PER_CALL));
        g_assert_false(raw_spawn_with_fds(f, CHILDWATCH_MAX_FDS_PER_CALL + 1));
        /* The service was not affected. */
        g_assert_true(raw_spawn_with_fds(f, 1));
}

/* ---- cancellation ---- */

/* No "sleep" among the service's children (it has a spawn helper of its own). */
static gboolean service_has_no_sleep(gpointer data) {
        pid_t service = ((Fixture *) data)->cw.service_pid;
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                CwProcStat st;
                if (g_ascii_isdigit(name[0]) && cw_proc_stat((pid_t) g_ascii_strtoll(name, NULL, 10), &st) &&
                    st.ppid == service && g_str_equal(st.comm, "sleep"))
                        return FALSE;
        }
        return TRUE;
}

/* A spawn cancelled before its reply: the program has started, and the client must kill and
 * release it rather than leave it behind unwatched. */
static void test_cancel(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        pid_t service = cw_service_pid(&f->cw);
        childwatch_client_spawn(f->client, argv, NULL, cancellable, on_async_done, &slot);
        g_cancellable_cancel(cancellable);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_null(childwatch_client_spawn_finish(f->client, result, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&error);

        g_assert_true(cw_wait_until(no_processes, f, cw_timeout_ms(10000)));
        g_assert_true(cw_wait_until(service_has_no_sleep, f, cw_timeout_ms(10000)));
        /* It had been started, and ended by SIGKILL. */
        g_assert_cmpuint(f->cw.signals->len, ==, 1);
        CwSignal *end = g_ptr_array_index(f->cw.signals, 0);
        g_assert_cmpstr(end->event, ==, "killed");
        g_assert_cmpint(end->status, ==, SIGKILL);

        /* Cancelled before the call: nothing is started at all. */
        g_assert_null(childwatch_client_spawn_sync(f->client, argv, NULL, cancellable, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&error);
        childwatch_client_spawn(f->client, argv, NULL, cancellable, on_async_done, &slot);
        g_autoptr(GAsyncResult) result2 = await_result(&slot);
        g_assert_null(childwatch_client_spawn_finish(f->client, result2, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpuint(cw_list_processes_count(&f->cw), ==, 0);
        g_assert_true(service_has_no_sleep(f));
        g_assert_cmpint(cw_service_pid(&f->cw), ==, service);
}

/* A wait that is cancelled stops waiting, not the process. */
static void test_cancel_wait(Fixture *f, gconstpointer data) {
        const char *const argv[] = { "sleep", "30", NULL };
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        GAsyncResult *slot = NULL;

        g_autoptr(ChildwatchChild) child = spawn_ok(f, argv, NULL);
        childwatch_child_wait(child, cancellable, on_async_done, &slot);
        cw_spin(50);
        g_cancellable_cancel(cancellable);
        g_autoptr(GAsyncResult) result = await_result(&slot);
        g_assert_false(childwatch_child_wait_finish(child, result, NULL, NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&error);
        g_assert_cmpstr(childwatch_child_get_state(child), ==, "running");
        g_assert_false(cw_pid_gone(GINT_TO_POINTER(childwatch_child_get_pid(child))));

        childwatch_child_kill(child, 0, NULL, on_async_done, &slot);
        g_autoptr(GAsyncResult) killed = await_result(&slot);
        g_assert_true(childwatch_child_kill_finish(child, killed, NULL, NULL, &error));
        g_assert_no_error(error);
        child_release_ok(child);
}

/* ---- a restart of the service ---- */

/* The next service counts object paths from 1 again: a child of the old one must not get the
 * events of the new process that has its path. */
static void test_service_restart(Fixture *f, gconstpointer data) {
        const char *const sleeper[] = { "sleep", "30", NULL };
        const char *const quick[] = { "/bin/true", NULL };
        Recorder old_r, new_r;

        g_autoptr(ChildwatchSpawnOptions) options = childwatch_spawn_options_new();
        childwatch_spawn_options_set_option(options, "kill-on-release", g_variant_new_boolean(TRUE));
        g_autoptr(ChildwatchChild) old = spawn_ok(f, sleeper, options);
        recorder_init(&old_r, old);

        pid_t first = cw_service_pid(&f->cw);
        g_assert_cmpint(kill(first, SIGTERM), ==, 0);
        if (!cw_wait_until(cw_file_exists, f->cw.status_file, cw_timeout_ms(10000)))
                g_error("the service did not stop");
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(f->cw.status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "0");
        /* So that teardown waits for the second service's own status. */
        g_assert_cmpint(unlink(f->cw.status_file), ==, 0);
        f->cw.service_pid = 0;
        /* The old service killed its kill-on-release child when it stopped (and may have said so). */
        if (old_r.events->len > 0) {
                g_autofree char *expected = g_strdup_printf("killed:%d", SIGKILL);
                assert_events(&old_r, expected);
        }
        guint old_events = old_r.events->len;

        g_autoptr(ChildwatchChild) fresh = spawn_ok(f, quick, NULL);
        g_assert_cmpint(cw_service_pid(&f->cw), !=, first);
        g_assert_cmpstr(childwatch_child_get_object_path(fresh), ==, childwatch_child_get_object_path(old));
        recorder_init(&new_r, fresh);
        child_wait_ok(fresh, "exited", 0);
        cw_spin(cw_timeout_ms(300));
        assert_events(&new_r, "exited:0");
        g_assert_cmpuint(old_r.events->len, ==, old_events);
        child_release_ok(fresh);

        recorder_clear(&old_r, old);
        recorder_clear(&new_r, fresh);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/lib/client/lazy", test_client_lazy);
        ADD("/lib/client/constructors", test_client_constructors);
        ADD("/lib/spawn/async-wait", test_spawn_async_wait);
        ADD("/lib/spawn/signal-only", test_spawn_signal_only);
        ADD("/lib/spawn/notify", test_spawn_notify);
        ADD("/lib/state-changed/stop-continue-kill", test_stop_continue_kill);
        ADD("/lib/state-changed/kill-now", test_kill_now);
        ADD("/lib/race/early-end-async", test_early_end_async);
        ADD("/lib/race/early-end-sync", test_early_end_sync);
        ADD("/lib/race/early-end-many", test_early_end_many);
        ADD("/lib/errors/domain", test_error_domain);
        ADD("/lib/errors/spawn-failed", test_error_spawn_failed);
        ADD("/lib/errors/invalid-args", test_error_invalid_args);
        ADD("/lib/errors/not-running", test_error_not_running);
        ADD("/lib/errors/released", test_error_released);
        ADD("/lib/errors/no-such-process", test_error_no_such_process);
        ADD("/lib/errors/already-watched", test_error_already_watched);
        g_test_add("/lib/errors/limit-exceeded", Fixture, "--max-processes=1", fixture_setup,
                   test_error_limit_exceeded, fixture_teardown);
        ADD("/lib/list", test_list);
        ADD("/lib/options", test_options);
        ADD("/lib/options/fd-limit", test_options_fd_limit);
        ADD("/lib/options/fd-limit-of-the-bus", test_options_fd_limit_of_bus);
        ADD("/lib/cancel/spawn", test_cancel);
        ADD("/lib/cancel/wait", test_cancel_wait);
        ADD("/lib/service-restart", test_service_restart);
#undef ADD

        return g_test_run();
}
