/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Bounded replies (issue 12, defect 2). dbus-daemon drops a connection that sends a message
 * above its max_message_size, and the service exits when it loses the bus. The test bus of
 * GTestDBus sets no limits, so it has dbus-daemon's defaults, those of the system bus
 * (max_message_size 32 MiB), unlike Debian's session.conf (1 GB): a listing that outgrows
 * them takes the service off this bus as it would off the system bus.
 *
 * The service keeps and shows at most 4096 bytes (and 256 entries) of an argv and 512 bytes
 * of a description, caps ended objects per user (--max-ended-per-user) and refuses, with
 * LimitExceeded, a listing that would still be too large (--max-message-size says how large
 * the bus takes them). In multi-user mode (/bounds/multiuser) the bus is the system-like one of
 * cw-system-bus.c: the stock system.conf rules, dbus-daemon's default limits.
 */

#include "cw-system-bus.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

/* What an object keeps (src/object-bounds.h): the contract of the XML. */
#define ARGV_KEEP_BYTES 4096
#define ARGV_KEEP_ENTRIES 256
#define DESCRIPTION_KEEP_BYTES 512
/* dbus-daemon's default max_message_size, the system bus's. */
#define BUS_MESSAGE_MAX (32 * 1024 * 1024)

/* The input: 20 arguments of 50 KB (1 MB of argv, well inside Spawn's 4 MiB). */
#define BIG_ARGS 20
#define BIG_ARG_BYTES (50 * 1000)

/* argv[0] and @n arguments of @bytes each: a letter per argument and position, so that a
 * cut shows where it was made. Free with g_strfreev(). */
static char **big_argv(const char *program, guint n, gsize bytes) {
        char **argv = g_new0(char *, n + 2);
        argv[0] = g_strdup(program);
        for (guint i = 0; i < n; i++) {
                argv[i + 1] = g_malloc(bytes + 1);
                for (gsize k = 0; k < bytes; k++)
                        argv[i + 1][k] = (char) ('a' + (i + k) % 26);
                argv[i + 1][bytes] = 0;
        }
        return argv;
}

/* A description of @bytes bytes with a two-byte character ("é") at every odd position
 * after the first, so that a cut at an even byte count would split one. */
static char *big_description(gsize bytes) {
        GString *s = g_string_sized_new(bytes + 2);
        g_string_append_c(s, 'D');
        while (s->len + 2 <= bytes)
                g_string_append(s, "\xc3\xa9");
        return g_string_free(s, FALSE);
}

/* Calls @method of @iface at @path with no arguments and returns the reply message (an
 * error reply too), for its size. */
static GDBusMessage *call_message(GDBusConnection *conn, const char *path, const char *iface, const char *method) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusMessage) call = g_dbus_message_new_method_call(CW_NAME, path, iface, method);
        GDBusMessage *reply = g_dbus_connection_send_message_with_reply_sync(
                conn, call, G_DBUS_SEND_MESSAGE_FLAGS_NONE, (gint) cw_timeout_ms(60000), NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(reply);
        return reply;
}

static gsize message_size(GDBusMessage *m) {
        g_autoptr(GError) error = NULL;
        gsize size = 0;
        g_autofree guchar *blob = g_dbus_message_to_blob(m, &size, G_DBUS_CAPABILITY_FLAGS_UNIX_FD_PASSING, &error);
        g_assert_no_error(error);
        g_assert_nonnull(blob);
        return size;
}

/* Asserts that @reply is no error, logs and checks its size against the bus's limit. */
static void assert_reply_fits(GDBusMessage *reply, const char *what) {
        g_autoptr(GError) error = NULL;
        if (g_dbus_message_to_gerror(reply, &error))
                g_error("%s: %s", what, error->message);
        gsize size = message_size(reply);
        g_test_message("%s: %" G_GSIZE_FORMAT " bytes", what, size);
        g_assert_cmpuint(size, <, BUS_MESSAGE_MAX);
}

/* The Argv an object shows for @argv: a prefix of it, the leading arguments whole, within the
 * bounds, and not shorter than the bounds make it. */
static void assert_argv_kept(GVariant *shown, char **argv) {
        gsize n = 0, bytes = 0;
        g_autofree const char **l = g_variant_get_strv(shown, &n);

        g_assert_cmpuint(n, >=, 1);
        g_assert_cmpuint(n, <=, ARGV_KEEP_ENTRIES);
        for (gsize i = 0; i < n; i++) {
                gsize len = strlen(l[i]);
                bytes += len + 1;
                g_assert_nonnull(argv[i]);
                if (i + 1 < n)
                        g_assert_cmpstr(l[i], ==, argv[i]);
                else
                        g_assert_true(strncmp(l[i], argv[i], len) == 0);
        }
        g_assert_cmpuint(bytes, <=, ARGV_KEEP_BYTES);
        /* Only what did not fit is left out: the bytes are used up, or the entries. */
        if (g_strv_length(argv) > n || strlen(l[n - 1]) < strlen(argv[n - 1]))
                g_assert_true(bytes == ARGV_KEEP_BYTES || n == ARGV_KEEP_ENTRIES);
}

static void assert_description_kept(const char *shown, const char *full) {
        gsize len = strlen(shown);
        g_assert_true(g_utf8_validate(shown, -1, NULL));
        g_assert_true(strncmp(shown, full, len) == 0);
        g_assert_cmpuint(len, <=, DESCRIPTION_KEEP_BYTES);
        /* Cut at the last character boundary within the bound, not earlier. */
        if (strlen(full) > DESCRIPTION_KEEP_BYTES)
                g_assert_cmpuint(len, >=, DESCRIPTION_KEEP_BYTES - 1);
}

/* The case, at the bus's limits: 40 objects, each spawned with 1 MB of argv and a 1 MB
 * description, never released. Listed in full (40 MB for ListProcesses, 80 MB for
 * GetManagedObjects) they took the service off the bus; kept within the bounds, every listing
 * is answered, shows the kept prefixes, and the service stays. Under valgrind 3 objects show
 * the same bounds (each spawn moves 2 MB through the instrumented service). */
static void test_listings(CwFixture *f, gconstpointer data) {
        guint n_objects = cw_under_valgrind() ? 3 : 40;
        g_auto(GStrv) argv = big_argv("/bin/true", BIG_ARGS, BIG_ARG_BYTES);
        g_autofree char *description = big_description(1000 * 1000);
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        pid_t service = cw_service_pid(f);

        for (guint i = 0; i < n_objects; i++) {
                g_autoptr(GVariant) o = g_variant_ref_sink(cw_one_option("description", g_variant_new_string(description)));
                char *path = cw_spawn(f, (const char *const *) argv, o, NULL);
                g_autofree char *state = NULL;
                int status = -1;
                cw_wait(f->conn, path, &state, &status);
                g_assert_cmpstr(state, ==, "exited");
                g_assert_cmpint(status, ==, 0);
                g_ptr_array_add(paths, path);
        }

        /* ListProcesses: every object, each with its description's kept prefix. */
        g_autoptr(GDBusMessage) list = call_message(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses");
        assert_reply_fits(list, "ListProcesses");
        g_autoptr(GVariant) entries = g_variant_get_child_value(g_dbus_message_get_body(list), 0);
        g_assert_cmpuint(g_variant_n_children(entries), ==, n_objects);
        for (gsize i = 0; i < n_objects; i++) {
                const char *path, *state, *desc;
                guint32 pid;
                g_variant_get_child(entries, i, "(&ou&s&s)", &path, &pid, &state, &desc);
                g_assert_cmpstr(path, ==, paths->pdata[i]);
                g_assert_cmpstr(state, ==, "exited");
                assert_description_kept(desc, description);
        }

        /* GetManagedObjects: the same objects, Argv and Description kept alike. */
        g_autoptr(GDBusMessage) managed = call_message(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                                       "GetManagedObjects");
        assert_reply_fits(managed, "GetManagedObjects");
        g_autoptr(GVariant) objects = g_variant_get_child_value(g_dbus_message_get_body(managed), 0);
        g_assert_cmpuint(g_variant_n_children(objects), ==, n_objects);
        for (guint i = 0; i < n_objects; i++) {
                g_autoptr(GVariant) ifaces = g_variant_lookup_value(objects, paths->pdata[i], G_VARIANT_TYPE("a{sa{sv}}"));
                g_assert_nonnull(ifaces);
                g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
                g_assert_nonnull(props);
                g_autoptr(GVariant) shown_argv = g_variant_lookup_value(props, "Argv", G_VARIANT_TYPE("as"));
                g_autoptr(GVariant) shown_desc = g_variant_lookup_value(props, "Description", G_VARIANT_TYPE("s"));
                g_autoptr(GVariant) state = g_variant_lookup_value(props, "State", G_VARIANT_TYPE("s"));
                g_assert_nonnull(shown_argv);
                g_assert_nonnull(shown_desc);
                assert_argv_kept(shown_argv, argv);
                assert_description_kept(g_variant_get_string(shown_desc, NULL), description);
                g_assert_cmpstr(g_variant_get_string(state, NULL), ==, "exited");
                g_assert_cmpuint(g_variant_n_children(ifaces), ==, 4);
        }

        /* The nodes that list every object, and one object's properties. */
        g_autoptr(GDBusMessage) intro1 = call_message(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Introspectable",
                                                      "Introspect");
        assert_reply_fits(intro1, "Introspect of the manager");
        g_autoptr(GDBusMessage) intro2 = call_message(f->conn, CW_MANAGER_PATH "/process",
                                                      "org.freedesktop.DBus.Introspectable", "Introspect");
        assert_reply_fits(intro2, "Introspect of the process node");
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) all = cw_call(f->conn, paths->pdata[0], "org.freedesktop.DBus.Properties", "GetAll",
                                          g_variant_new("(s)", CW_PROCESS_IFACE), "(a{sv})", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) props = g_variant_get_child_value(all, 0);
        g_autoptr(GVariant) shown_argv = g_variant_lookup_value(props, "Argv", G_VARIANT_TYPE("as"));
        assert_argv_kept(shown_argv, argv);

        /* Still the same service, on the bus and serving. */
        cw_assert_service_alive(f, service);
        for (guint i = 0; i < paths->len; i++)
                cw_release(f->conn, paths->pdata[i]);
}

/* Many short arguments: at most 256 are kept, the leading ones, whole. */
static void test_argv_entries(CwFixture *f, gconstpointer data) {
        g_auto(GStrv) argv = big_argv("/bin/true", 1000, 1);
        g_autofree char *path = cw_spawn(f, (const char *const *) argv, NULL, NULL);
        g_autoptr(GVariant) shown = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Argv");
        g_assert_cmpuint(g_variant_n_children(shown), ==, ARGV_KEEP_ENTRIES);
        assert_argv_kept(shown, argv);
        /* The description is argv joined, kept to its bound. */
        g_autofree char *joined = g_strjoinv(" ", argv);
        g_autoptr(GVariant) desc = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Description");
        assert_description_kept(g_variant_get_string(desc, NULL), joined);
        g_assert_cmpuint(strlen(g_variant_get_string(desc, NULL)), ==, DESCRIPTION_KEEP_BYTES);
        cw_wait(f->conn, path, NULL, NULL);
        cw_release(f->conn, path);
}

static char *spawn_true(CwFixture *f, GError **error) {
        const char *argv[] = { "/bin/true", NULL };
        return cw_spawn_full(f->conn, argv, NULL, NULL, NULL, error);
}

/* --max-ended-per-user=4: four ended objects, and Spawn is refused until one is released; a
 * process that was running when the cap was reached still gets its ended object. */
static void test_ended_cap(CwFixture *f, gconstpointer data) {
        const char *sleeper[] = { "/bin/sleep", "30", NULL };
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;

        g_autofree char *running = cw_spawn(f, sleeper, NULL, NULL);
        for (guint i = 0; i < 4; i++) {
                char *path = spawn_true(f, &error);
                g_assert_no_error(error);
                cw_wait(f->conn, path, NULL, NULL);
                g_ptr_array_add(paths, path);
        }
        g_autofree char *refused = spawn_true(f, &error);
        g_assert_null(refused);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_assert_nonnull(strstr(error->message, "ended"));
        g_clear_error(&error);

        /* The running one ends beyond the cap: its end is kept all the same. */
        g_autofree char *state = NULL;
        int status = 0;
        cw_kill(f->conn, running, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpuint(cw_list_processes_count(f), ==, 5);
        g_autofree char *kept = cw_get_state(f, running);
        g_assert_cmpstr(kept, ==, "killed");

        /* Five ended: two releases bring it to three, below the cap. */
        cw_release(f->conn, running);
        refused = spawn_true(f, &error);
        g_assert_null(refused);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_clear_error(&error);
        cw_release(f->conn, paths->pdata[0]);
        g_autofree char *again = spawn_true(f, &error);
        g_assert_no_error(error);
        cw_wait(f->conn, again, NULL, NULL);
        cw_release(f->conn, again);

        for (guint i = 1; i < paths->len; i++)
                cw_release(f->conn, paths->pdata[i]);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
}

/* --max-message-size=65536 (a bus that takes at most 64 KiB): 16 objects that show 4 KiB of argv
 * each make a GetManagedObjects reply above it, which is refused with LimitExceeded; the smaller
 * listings and the service go on. Without the check the service would send it, and a bus with
 * that limit would drop the service. */
static void test_reply_refused(CwFixture *f, gconstpointer data) {
        g_auto(GStrv) argv = big_argv("/bin/true", 1, 5000);
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        pid_t service = cw_service_pid(f);

        for (guint i = 0; i < 16; i++) {
                char *path = cw_spawn(f, (const char *const *) argv, NULL, NULL);
                cw_wait(f->conn, path, NULL, NULL);
                g_ptr_array_add(paths, path);
        }
        g_autoptr(GVariant) r = cw_call(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                        "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", &error);
        g_assert_null(r);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_test_message("GetManagedObjects: %s", error->message);
        g_clear_error(&error);

        /* ListProcesses shows 512 bytes per object: 16 fit. */
        g_assert_cmpuint(cw_list_processes_count(f), ==, 16);

        /* With half of them released the reply fits again. */
        for (guint i = 0; i < 8; i++)
                cw_release(f->conn, paths->pdata[i]);
        g_autoptr(GDBusMessage) managed = call_message(f->conn, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                                       "GetManagedObjects");
        assert_reply_fits(managed, "GetManagedObjects of 8");
        g_assert_cmpuint(message_size(managed), <, 65536);
        g_autoptr(GVariant) objects = g_variant_get_child_value(g_dbus_message_get_body(managed), 0);
        g_assert_cmpuint(g_variant_n_children(objects), ==, 8);

        cw_assert_service_alive(f, service);
        for (guint i = 8; i < paths->len; i++)
                cw_release(f->conn, paths->pdata[i]);
}

/* GetManagedObjects is built over several loop iterations while other calls are served. A client
 * that takes its reply and then applies the PropertiesChanged that come after it must end up
 * with every object's current State: no signal about a change may come before a reply that
 * does not show it yet. 600 sleepers (3 chunks of 256), each killed by a Kill(0) from another
 * connection, sent right after the GetManagedObjects call. */
typedef struct Consistency {
        GVariant *reply;
        GPtrArray *after;     /* "path\nState" of PropertiesChanged after the reply */
        GDBusConnection *killer;
        GPtrArray *paths;
        guint n_started, n_killed; /* Kill calls sent, answered */
        guint n_kills;
} Consistency;

static void kill_next(Consistency *c);

static void on_properties_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                                  const char *member, GVariant *params, gpointer data) {
        Consistency *c = data;
        const char *changed_iface;
        g_autoptr(GVariant) changed = NULL;
        const char *state;

        if (!c->reply)
                return; /* the reply supersedes what came before it */
        g_variant_get(params, "(&s@a{sv}@as)", &changed_iface, &changed, NULL);
        if (g_variant_lookup(changed, "State", "&s", &state))
                g_ptr_array_add(c->after, g_strdup_printf("%s\n%s", path, state));
}

static void on_listed(GObject *source, GAsyncResult *result, gpointer data) {
        Consistency *c = data;
        g_autoptr(GError) error = NULL;
        c->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_assert_no_error(error);
}

static void on_killed(GObject *source, GAsyncResult *result, gpointer data) {
        Consistency *c = data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        c->n_killed++;
        kill_next(c);
}

/* Within dbus-daemon's 128 pending replies per connection. */
static void kill_next(Consistency *c) {
        while (c->n_started < c->n_kills && c->n_started - c->n_killed < 64)
                g_dbus_connection_call(c->killer, CW_NAME, c->paths->pdata[c->n_started++], CW_PROCESS_IFACE, "Kill",
                                       g_variant_new("(t)", (guint64) 0), G_VARIANT_TYPE("(si)"),
                                       G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(60000), NULL, on_killed, c);
}

static gboolean consistency_done(gpointer data) {
        Consistency *c = data;
        return c->reply && c->n_killed == c->n_kills;
}

static void test_listing_consistent(CwFixture *f, gconstpointer data) {
        guint n = cw_under_valgrind() ? 60 : 600;
        const char *sleeper[] = { "/bin/sleep", "60", NULL };
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDBusConnection) killer = cw_fixture_new_connection(f);
        Consistency c = { .after = g_ptr_array_new_with_free_func(g_free), .n_kills = n, .killer = killer,
                          .paths = paths };

        for (guint i = 0; i < n; i++)
                g_ptr_array_add(paths, cw_spawn(f, sleeper, NULL, NULL));
        guint sub = g_dbus_connection_signal_subscribe(f->conn, CW_NAME, "org.freedesktop.DBus.Properties",
                                                       "PropertiesChanged", NULL, CW_PROCESS_IFACE,
                                                       G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, &c, NULL);
        g_dbus_connection_call(f->conn, CW_NAME, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE,
                               (gint) cw_timeout_ms(60000), NULL, on_listed, &c);
        kill_next(&c);
        g_assert_true(cw_wait_until(consistency_done, &c, cw_timeout_ms(60000)));
        /* Every end announced (after the Kill replies at the latest), so every signal is in. */
        for (guint i = 0; i < n; i++)
                g_assert_cmpint(cw_wait_for_event(f, paths->pdata[i], "killed", 10000), ==, 9);
        cw_spin(100);

        /* The client's view: the reply, then the changes after it. */
        g_autoptr(GHashTable) state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GVariant) objects = g_variant_get_child_value(c.reply, 0);
        g_assert_cmpuint(g_variant_n_children(objects), ==, n);
        GVariantIter it;
        const char *path;
        GVariant *ifaces;
        guint n_running = 0;
        g_variant_iter_init(&it, objects);
        while (g_variant_iter_next(&it, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
                const char *s = NULL;
                g_assert_true(g_variant_lookup(props, "State", "&s", &s));
                if (g_str_equal(s, "running"))
                        n_running++;
                g_hash_table_insert(state, g_strdup(path), g_strdup(s));
                g_variant_unref(ifaces);
        }
        for (guint i = 0; i < c.after->len; i++) {
                g_auto(GStrv) pv = g_strsplit(c.after->pdata[i], "\n", 2);
                g_hash_table_insert(state, g_strdup(pv[0]), g_strdup(pv[1]));
        }
        g_test_message("the reply showed %u of %u running; %u State changes came after it", n_running, n,
                       c.after->len);
        for (guint i = 0; i < n; i++)
                g_assert_cmpstr(g_hash_table_lookup(state, paths->pdata[i]), ==, "killed");

        g_dbus_connection_signal_unsubscribe(f->conn, sub);
        for (guint i = 0; i < n; i++)
                cw_release(f->conn, paths->pdata[i]);
        g_ptr_array_unref(c.after);
        g_variant_unref(c.reply);
}

/* ---- multi-user mode ---- */

#define SUB_FILL "/bounds/subprocess/fill"
#define ENV_ADDRESS "CW_BOUNDS_ADDRESS"
#define MU_CAP 3

/* As an unprivileged user (run by /bounds/multiuser): MU_CAP objects with the argv and a
 * 1 MB description, not released; the next Spawn is LimitExceeded; this user's listings show
 * its objects with their kept prefixes. It leaves the bus: its objects linger. */
static void sub_fill(void) {
        g_assert_cmpuint(getuid(), !=, 0);
        g_autoptr(GDBusConnection) conn = cw_bus_connect(g_getenv(ENV_ADDRESS));
        g_auto(GStrv) argv = big_argv("/bin/true", BIG_ARGS, BIG_ARG_BYTES);
        g_autofree char *description = big_description(1000 * 1000);
        g_autoptr(GError) error = NULL;

        for (guint i = 0; i < MU_CAP; i++) {
                g_autoptr(GVariant) o = g_variant_ref_sink(cw_one_option("description", g_variant_new_string(description)));
                g_autofree char *path = cw_spawn_full(conn, (const char *const *) argv, o, NULL, NULL, &error);
                g_assert_no_error(error);
                g_autoptr(GVariant) r = cw_call(conn, path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", &error);
                g_assert_no_error(error);
                g_assert_nonnull(r);
        }
        g_autofree char *refused = cw_spawn_full(conn, (const char *const *) argv, NULL, NULL, NULL, &error);
        g_assert_null(refused);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_clear_error(&error);

        g_autoptr(GDBusMessage) managed = call_message(conn, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                                       "GetManagedObjects");
        assert_reply_fits(managed, "GetManagedObjects as the user");
        g_autoptr(GVariant) objects = g_variant_get_child_value(g_dbus_message_get_body(managed), 0);
        g_assert_cmpuint(g_variant_n_children(objects), ==, MU_CAP);
        g_autoptr(GDBusMessage) list = call_message(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses");
        assert_reply_fits(list, "ListProcesses as the user");
        g_assert_true(g_dbus_connection_close_sync(conn, NULL, NULL));
}

/* --max-ended-per-user=3 on a system-like bus: nobody fills its cap with objects of the issue's
 * size; root (another uid) may still spawn, and root's listings show nobody's objects with the
 * kept prefixes; the service stays. */
static void test_multiuser(void) {
        const char *const args[] = { "--max-ended-per-user=3", NULL };
        struct passwd *pw = getpwnam("nobody");
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        CwSystemBus sb;

        if (getuid() != 0 || !setpriv || !pw) {
                g_test_skip("needs root, setpriv and the user nobody");
                return;
        }
        uid_t uid = pw->pw_uid;
        gid_t gid = pw->pw_gid;
        cw_system_bus_start(&sb, args);
        pid_t service = sb.service_pid;

        g_autofree char *dir = cw_system_bus_user_dir(&sb, uid, gid);
        g_auto(GStrv) env = cw_sub_run_environ(dir);
        env = g_environ_setenv(env, ENV_ADDRESS, sb.address, TRUE);
        if (!cw_sub_run(uid, gid, SUB_FILL, dir, env, cw_timeout_ms(120000))) {
                cw_system_bus_stop(&sb);
                return;
        }

        /* Root's own cap is its own. */
        const char *true_argv[] = { "/bin/true", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *mine = cw_spawn_full(sb.conn, true_argv, NULL, NULL, NULL, &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) w = cw_call(sb.conn, mine, CW_PROCESS_IFACE, "Wait", NULL, "(si)", &error);
        g_assert_no_error(error);
        g_assert_nonnull(w);

        g_auto(GStrv) argv = big_argv("/bin/true", BIG_ARGS, BIG_ARG_BYTES);
        g_autofree char *description = big_description(1000 * 1000);
        g_autoptr(GDBusMessage) managed = call_message(sb.conn, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                                       "GetManagedObjects");
        assert_reply_fits(managed, "GetManagedObjects as root");
        g_autoptr(GVariant) objects = g_variant_get_child_value(g_dbus_message_get_body(managed), 0);
        g_assert_cmpuint(g_variant_n_children(objects), ==, MU_CAP + 1);
        guint nobodys = 0;
        GVariantIter it;
        const char *path;
        GVariant *ifaces;
        g_variant_iter_init(&it, objects);
        while (g_variant_iter_next(&it, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
                guint32 owner_uid = 0;
                g_assert_true(g_variant_lookup(props, "OwnerUid", "u", &owner_uid));
                if (owner_uid == uid) {
                        g_autoptr(GVariant) shown = g_variant_lookup_value(props, "Argv", G_VARIANT_TYPE("as"));
                        const char *desc = NULL;
                        g_assert_true(g_variant_lookup(props, "Description", "&s", &desc));
                        assert_argv_kept(shown, argv);
                        assert_description_kept(desc, description);
                        nobodys++;
                }
                g_variant_unref(ifaces);
        }
        g_assert_cmpuint(nobodys, ==, MU_CAP);
        g_autoptr(GDBusMessage) list = call_message(sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses");
        assert_reply_fits(list, "ListProcesses as root");

        /* The same service, still on the bus. */
        g_assert_false(sb.service_exited);
        g_assert_cmpint(sb.service_pid, ==, service);
        g_assert_true(cw_name_has_owner(sb.conn));
        cw_release(sb.conn, mine);
        cw_system_bus_stop(&sb);
}

int main(int argc, char *argv[]) {
        cw_test_init(&argc, &argv);
        g_test_add("/bounds/listings", CwFixture, NULL, cw_fixture_setup, test_listings, cw_fixture_teardown);
        g_test_add("/bounds/argv-entries", CwFixture, NULL, cw_fixture_setup, test_argv_entries, cw_fixture_teardown);
        g_test_add("/bounds/ended-per-user", CwFixture, "--max-ended-per-user=4", cw_fixture_setup, test_ended_cap,
                   cw_fixture_teardown);
        g_test_add("/bounds/listing-consistent", CwFixture, NULL, cw_fixture_setup, test_listing_consistent,
                   cw_fixture_teardown);
        g_test_add_func(SUB_FILL, sub_fill);
        g_test_add_func("/bounds/multiuser", test_multiuser);
        g_test_add("/bounds/reply-refused", CwFixture, "--max-message-size=65536", cw_fixture_setup,
                   test_reply_refused, cw_fixture_teardown);
        return g_test_run();
}
