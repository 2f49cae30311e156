/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* childwatchctl status: every property of one process object, for people or as JSON. */

#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

static void print_line(const char *label, const char *value) {
        g_autofree char *text = ctl_printable(value);
        printf("%14s: %s\n", label, text);
}

static const char *yes_no(gboolean b) {
        return b ? "yes" : "no";
}

static void print_text(const char *path, GVariantDict *props) {
        const char *state = "?", *description = "", *owner = "", *parent = "/";
        g_autofree const char **argv = NULL;
        guint32 pid = 0, owner_uid = 0, uid = 0;
        gint32 status = 0;
        guint64 started = 0, ended = 0, user_usec = 0, system_usec = 0;
        gboolean adopted = FALSE, watch_bus = FALSE, kill_on_release = FALSE, tree = FALSE, pty = FALSE;
        gboolean has_pty;

        (void) g_variant_dict_lookup(props, "State", "&s", &state);
        (void) g_variant_dict_lookup(props, "ExitStatus", "i", &status);
        (void) g_variant_dict_lookup(props, "Description", "&s", &description);
        (void) g_variant_dict_lookup(props, "Owner", "&s", &owner);
        (void) g_variant_dict_lookup(props, "Parent", "&o", &parent);
        (void) g_variant_dict_lookup(props, "Argv", "^a&s", &argv);
        (void) g_variant_dict_lookup(props, "Pid", "u", &pid);
        (void) g_variant_dict_lookup(props, "OwnerUid", "u", &owner_uid);
        (void) g_variant_dict_lookup(props, "Uid", "u", &uid);
        (void) g_variant_dict_lookup(props, "StartTimestamp", "t", &started);
        (void) g_variant_dict_lookup(props, "ExitTimestamp", "t", &ended);
        (void) g_variant_dict_lookup(props, "UserTimeUSec", "t", &user_usec);
        (void) g_variant_dict_lookup(props, "SystemTimeUSec", "t", &system_usec);
        (void) g_variant_dict_lookup(props, "Adopted", "b", &adopted);
        (void) g_variant_dict_lookup(props, "WatchBus", "b", &watch_bus);
        (void) g_variant_dict_lookup(props, "KillOnRelease", "b", &kill_on_release);
        (void) g_variant_dict_lookup(props, "Tree", "b", &tree);
        has_pty = g_variant_dict_lookup(props, "Pty", "b", &pty);

        g_autofree char *state_text = ctl_describe_state(state, status);
        g_autofree char *pid_text = g_strdup_printf("%" G_GUINT32_FORMAT "%s", pid,
                                                    ctl_state_is_terminal(state) ? " (ended)" : "");
        g_autofree char *argv_text = ctl_join_argv(argv);
        g_autofree char *owner_text =
                g_strdup_printf("%s (uid %" G_GUINT32_FORMAT ")", *owner ? owner : "none", owner_uid);
        g_autofree char *uid_text = g_strdup_printf("%" G_GUINT32_FORMAT, uid);
        g_autofree char *started_text = ctl_format_timestamp(started);
        g_autofree char *ended_text = ctl_format_timestamp(ended);

        printf("%s\n", path);
        print_line("Description", description);
        print_line("State", state_text);
        print_line("Pid", pid_text);
        print_line("Argv", argv_text);
        print_line("Owner", owner_text);
        print_line("Uid", uid_text);
        print_line("Started", started_text);
        print_line("Ended", ended_text);
        if (ended && started && ended >= started) {
                g_autofree char *runtime =
                        g_strdup_printf("%.3f s", (double) (ended - started) / G_USEC_PER_SEC);
                print_line("Runtime", runtime);
        }
        if (user_usec || system_usec) {
                g_autofree char *cpu =
                        g_strdup_printf("%.3f s user, %.3f s system", (double) user_usec / G_USEC_PER_SEC,
                                        (double) system_usec / G_USEC_PER_SEC);
                print_line("CPU", cpu);
        }
        print_line("Adopted", yes_no(adopted));
        if (g_strcmp0(parent, "/") != 0)
                print_line("Parent", parent);
        print_line("WatchBus", yes_no(watch_bus));
        print_line("KillOnRelease", yes_no(kill_on_release));
        if (tree)
                print_line("Tree", yes_no(tree));
        if (has_pty)
                print_line("Pty", yes_no(pty));
        fflush(stdout);
}

int ctl_cmd_status(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GVariant) props = NULL;
        g_autofree char *path = NULL;
        int ret;

        ret = ctl_parse_options(
                ctl, "status", &argc, &argv, "ID|pid:PID|PATH", "Show one process.",
                "Prints its state and how it ended, pid, argv, owner, uid, times and options.\n"
                "--json prints one object: the Path and every property of the Process\n"
                "interface by its D-Bus name (Id, Pid, Argv, State, ExitStatus, Owner,\n"
                "StartTimestamp, ExitTimestamp in microseconds since the epoch, ...).\n"
                "Exit status: 0, or 201 when there is no such process (see childwatchctl --help).\n",
                NULL, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 2)
                return ctl_usage_error("status: expected one process (ID, pid:PID or an object path).");
        ret = ctl_connect(ctl);
        if (ret != 0)
                return ret;
        ret = ctl_resolve_process(ctl, argv[1], &path);
        if (ret != 0)
                return ret;

        r = ctl_call(ctl, path, "org.freedesktop.DBus.Properties", "GetAll",
                     g_variant_new("(s)", CW_PROCESS_IFACE), "(a{sv})", CTL_CALL_TIMEOUT_MS, &error);
        if (!r)
                return ctl_fail(error, "Cannot get the status of %s", argv[1]);
        props = g_variant_get_child_value(r, 0);

        if (ctl->json) {
                GVariantBuilder b;
                GVariantIter iter;
                const char *key;
                GVariant *value;

                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "Path", g_variant_new_object_path(path));
                g_variant_iter_init(&iter, props);
                while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                        g_variant_builder_add(&b, "{sv}", key, value);
                        g_variant_unref(value);
                }
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                g_autoptr(GVariantDict) dict = g_variant_dict_new(props);
                print_text(path, dict);
        }
        return 0;
}
