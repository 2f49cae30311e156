/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl monitor: one line per event, as it happens: StateChanged of each process,
 * InterfacesAdded/InterfacesRemoved of the ObjectManager (objects coming and going), and the
 * service itself starting and stopping (NameOwnerChanged). It never activates the service.
 */

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

typedef struct Monitor {
        Ctl *ctl;
        GMainLoop *loop;
        GHashTable *paths; /* only these processes, when not NULL */
        int exit_code;
} Monitor;

static void monitor_quit(Monitor *m, int exit_code) {
        m->exit_code = exit_code;
        g_main_loop_quit(m->loop);
}

static gboolean monitor_wants(Monitor *m, const char *path) {
        return !m->paths || g_hash_table_contains(m->paths, path);
}

/* Starts a JSON line with the keys every event has. */
static void json_begin(GVariantBuilder *b, const char *event, const char *path) {
        g_variant_builder_init(b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(b, "{sv}", "Event", g_variant_new_string(event));
        g_variant_builder_add(b, "{sv}", "Timestamp", g_variant_new_int64(g_get_real_time()));
        if (path) {
                g_variant_builder_add(b, "{sv}", "Path", g_variant_new_object_path(path));
                g_variant_builder_add(b, "{sv}", "Id", g_variant_new_uint64(ctl_path_id(path)));
        }
}

static void monitor_emit_text(Monitor *m, const char *line) {
        g_autofree char *text = ctl_printable(line);
        printf("%s\n", text);
}

static void monitor_flush(Monitor *m) {
        /* Nobody reads any more (`monitor | head -3`): that ends monitoring. */
        if (fflush(stdout) != 0 || ferror(stdout))
                monitor_quit(m, CTL_EXIT_OK);
}

static void monitor_on_state_changed(GDBusConnection *conn, const char *sender, const char *path,
                                     const char *iface, const char *member, GVariant *params,
                                     gpointer userdata) {
        Monitor *m = userdata;
        const char *event;
        gint32 status;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(si)")) || !monitor_wants(m, path))
                return;
        g_variant_get(params, "(&si)", &event, &status);
        if (m->ctl->json) {
                GVariantBuilder b;
                json_begin(&b, event, path);
                g_variant_builder_add(&b, "{sv}", "Status", g_variant_new_int32(status));
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                g_autofree char *line = g_strdup_printf("%s %" G_GUINT64_FORMAT " status=%" G_GINT32_FORMAT,
                                                        event, ctl_path_id(path), status);
                monitor_emit_text(m, line);
        }
        monitor_flush(m);
}

static void monitor_on_interfaces_added(GDBusConnection *conn, const char *sender, const char *path,
                                        const char *iface, const char *member, GVariant *params,
                                        gpointer userdata) {
        Monitor *m = userdata;
        const char *object;
        g_autoptr(GVariant) interfaces = NULL;
        g_autoptr(GVariant) props = NULL;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(oa{sa{sv}})")))
                return;
        g_variant_get(params, "(&o@a{sa{sv}})", &object, &interfaces);
        props = g_variant_lookup_value(interfaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
        if (!props || !monitor_wants(m, object))
                return;
        if (m->ctl->json) {
                GVariantBuilder b;
                json_begin(&b, "added", object);
                g_variant_builder_add(&b, "{sv}", "Properties", props);
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                const char *state = "?", *description = "";
                guint32 pid = 0;
                (void) g_variant_lookup(props, "Pid", "u", &pid);
                (void) g_variant_lookup(props, "State", "&s", &state);
                (void) g_variant_lookup(props, "Description", "&s", &description);
                g_autofree char *line = g_strdup_printf("added %" G_GUINT64_FORMAT " pid=%" G_GUINT32_FORMAT
                                                        " state=%s description=%s",
                                                        ctl_path_id(object), pid, state, description);
                monitor_emit_text(m, line);
        }
        monitor_flush(m);
}

static void monitor_on_interfaces_removed(GDBusConnection *conn, const char *sender, const char *path,
                                          const char *iface, const char *member, GVariant *params,
                                          gpointer userdata) {
        Monitor *m = userdata;
        const char *object;
        g_autofree const char **interfaces = NULL;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(oas)")))
                return;
        g_variant_get(params, "(&o^a&s)", &object, &interfaces);
        if (!g_strv_contains(interfaces, CW_PROCESS_IFACE) || !monitor_wants(m, object))
                return;
        if (m->ctl->json) {
                GVariantBuilder b;
                json_begin(&b, "removed", object);
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                g_autofree char *line = g_strdup_printf("removed %" G_GUINT64_FORMAT, ctl_path_id(object));
                monitor_emit_text(m, line);
        }
        monitor_flush(m);
}

static void monitor_on_name_owner_changed(GDBusConnection *conn, const char *sender, const char *path,
                                          const char *iface, const char *member, GVariant *params,
                                          gpointer userdata) {
        Monitor *m = userdata;
        const char *name, *old_owner, *new_owner;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sss)")))
                return;
        g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
        /* A change of owner is the old one stopping and the new one starting. */
        for (int i = 0; i < 2; i++) {
                const char *owner = i == 0 ? old_owner : new_owner;
                const char *event = i == 0 ? "service-stopped" : "service-started";
                if (!*owner)
                        continue;
                if (m->ctl->json) {
                        GVariantBuilder b;
                        json_begin(&b, event, NULL);
                        g_variant_builder_add(&b, "{sv}", "Owner", g_variant_new_string(owner));
                        ctl_json_print(g_variant_builder_end(&b));
                } else {
                        g_autofree char *line = g_strdup_printf("%s owner=%s", event, owner);
                        monitor_emit_text(m, line);
                }
        }
        monitor_flush(m);
}

static void monitor_on_closed(GDBusConnection *conn, gboolean remote_peer_vanished, GError *error,
                              gpointer userdata) {
        ctl_log("The connection to the bus was closed.");
        monitor_quit(userdata, CTL_EXIT_SERVICE_VANISHED);
}

static gboolean monitor_on_terminate(gpointer userdata) {
        monitor_quit(userdata, CTL_EXIT_OK);
        return G_SOURCE_CONTINUE;
}

static const char monitor_description[] =
        "Prints one line per event until interrupted (SIGINT or SIGTERM: exit 0):\n"
        "  added ID pid=PID state=STATE description=TEXT   a process object appeared\n"
        "  EVENT ID status=N      StateChanged: exited, killed, dumped, stopped,\n"
        "                         continued or vanished, with the exit code or signal\n"
        "  removed ID             a process object went away\n"
        "  service-started owner=NAME, service-stopped owner=NAME\n"
        "With processes given, only their events (and the service's) are printed.\n"
        "--json prints JSON lines: objects with Event (as above), Timestamp (microseconds\n"
        "since the epoch, when childwatchctl received it), Path and Id, and Status (for\n"
        "StateChanged), Properties (added: every property of the process) or Owner.\n"
        "A line on stderr says when the monitor is listening.\n"
        "Exit status: 0; 75 when the bus connection is lost.\n";

int ctl_cmd_monitor(Ctl *ctl, int argc, char **argv) {
        Monitor m = { .ctl = ctl };
        g_autoptr(GError) error = NULL;
        guint subscriptions[4];
        guint sigint, sigterm;
        gulong closed;
        int r;

        r = ctl_parse_options(ctl, "monitor", &argc, &argv, "[ID|pid:PID|PATH…]",
                              "Print the events of the service live.", monitor_description, NULL, FALSE);
        if (r != 0)
                return r;
        r = ctl_connect(ctl);
        if (r != 0)
                return r;
        if (argc > 1) {
                m.paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                for (int i = 1; i < argc; i++) {
                        char *path = NULL;
                        r = ctl_resolve_process(ctl, argv[i], &path);
                        if (r != 0) {
                                g_hash_table_unref(m.paths);
                                return r;
                        }
                        g_hash_table_add(m.paths, path);
                }
        }

        m.loop = g_main_loop_new(NULL, FALSE);
        subscriptions[0] = g_dbus_connection_signal_subscribe(
                ctl->conn, CW_NAME, CW_PROCESS_IFACE, "StateChanged", NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                monitor_on_state_changed, &m, NULL);
        subscriptions[1] = g_dbus_connection_signal_subscribe(
                ctl->conn, CW_NAME, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", CW_MANAGER_PATH,
                NULL, G_DBUS_SIGNAL_FLAGS_NONE, monitor_on_interfaces_added, &m, NULL);
        subscriptions[2] = g_dbus_connection_signal_subscribe(
                ctl->conn, CW_NAME, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
                CW_MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, monitor_on_interfaces_removed, &m, NULL);
        subscriptions[3] = g_dbus_connection_signal_subscribe(
                ctl->conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", CW_NAME, G_DBUS_SIGNAL_FLAGS_NONE, monitor_on_name_owner_changed,
                &m, NULL);
        closed = g_signal_connect(ctl->conn, "closed", G_CALLBACK(monitor_on_closed), &m);
        sigint = g_unix_signal_add(SIGINT, monitor_on_terminate, &m);
        sigterm = g_unix_signal_add(SIGTERM, monitor_on_terminate, &m);

        /* The bus handles our AddMatch calls in order: once a later call is answered, every
         * match is in place, and whoever waits for this line misses no event. */
        g_autoptr(GVariant) pong = g_dbus_connection_call_sync(
                ctl->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
                NULL, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, CTL_CALL_TIMEOUT_MS, NULL, &error);
        if (!pong)
                m.exit_code = ctl_fail(error, "The bus does not answer");
        else {
                fprintf(stderr, "Monitoring %s. Press Ctrl-C to stop.\n", CW_NAME);
                g_main_loop_run(m.loop);
        }

        for (size_t i = 0; i < G_N_ELEMENTS(subscriptions); i++)
                g_dbus_connection_signal_unsubscribe(ctl->conn, subscriptions[i]);
        g_signal_handler_disconnect(ctl->conn, closed);
        g_source_remove(sigint);
        g_source_remove(sigterm);
        g_main_loop_unref(m.loop);
        if (m.paths)
                g_hash_table_unref(m.paths);
        return m.exit_code;
}
