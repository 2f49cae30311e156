/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* childwatchctl list: ListProcesses() as a table, or as a JSON array of objects. */

#include <stdio.h>
#include <string.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

static void print_table(GVariant *processes, gboolean legend) {
        gsize n = g_variant_n_children(processes);
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) pids = g_ptr_array_new_with_free_func(g_free);
        int id_width = 2, pid_width = 3, state_width = 5;
        GVariantIter iter;
        const char *path, *state, *description;
        guint32 pid;

        /* Two passes: the column widths first. */
        g_variant_iter_init(&iter, processes);
        while (g_variant_iter_next(&iter, "(&ou&s&s)", &path, &pid, &state, &description)) {
                char *id = g_strdup_printf("%" G_GUINT64_FORMAT, ctl_path_id(path));
                char *p = g_strdup_printf("%" G_GUINT32_FORMAT, pid);
                id_width = MAX(id_width, (int) strlen(id));
                pid_width = MAX(pid_width, (int) strlen(p));
                state_width = MAX(state_width, (int) strlen(state));
                g_ptr_array_add(ids, id);
                g_ptr_array_add(pids, p);
        }
        if (legend)
                printf("%-*s %*s %-*s %s\n", id_width, "ID", pid_width, "PID", state_width, "STATE",
                       "DESCRIPTION");
        g_variant_iter_init(&iter, processes);
        for (gsize i = 0;
             i < n && g_variant_iter_next(&iter, "(&ou&s&s)", &path, &pid, &state, &description); i++) {
                g_autofree char *text = ctl_printable(description);
                printf("%-*s %*s %-*s %s\n", id_width, (char *) ids->pdata[i], pid_width,
                       (char *) pids->pdata[i], state_width, state, text);
        }
        fflush(stdout);
}

static void print_json(GVariant *processes) {
        GVariantBuilder list;
        GVariantIter iter;
        const char *path, *state, *description;
        guint32 pid;

        g_variant_builder_init(&list, G_VARIANT_TYPE("aa{sv}"));
        g_variant_iter_init(&iter, processes);
        while (g_variant_iter_next(&iter, "(&ou&s&s)", &path, &pid, &state, &description)) {
                g_variant_builder_open(&list, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&list, "{sv}", "Path", g_variant_new_object_path(path));
                g_variant_builder_add(&list, "{sv}", "Id", g_variant_new_uint64(ctl_path_id(path)));
                g_variant_builder_add(&list, "{sv}", "Pid", g_variant_new_uint32(pid));
                g_variant_builder_add(&list, "{sv}", "State", g_variant_new_string(state));
                g_variant_builder_add(&list, "{sv}", "Description", g_variant_new_string(description));
                g_variant_builder_close(&list);
        }
        ctl_json_print(g_variant_builder_end(&list));
}

int ctl_cmd_list(Ctl *ctl, int argc, char **argv) {
        gboolean no_legend = FALSE;
        const GOptionEntry entries[] = {
                { "no-legend", 0, 0, G_OPTION_ARG_NONE, &no_legend, "Leave out the column headings", NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GVariant) processes = NULL;
        int ret;

        ret = ctl_parse_options(
                ctl, "list", &argc, &argv, "", "List the process objects you may see.",
                "Columns: ID (of the object path), PID, STATE (running, stopped, exited,\n"
                "killed, dumped, vanished) and DESCRIPTION. Ended processes stay listed until\n"
                "their owner releases them. --json prints one array of objects with the keys\n"
                "Path, Id, Pid, State and Description.\n",
                entries, FALSE);
        if (ret != 0)
                return ret;
        if (argc > 1)
                return ctl_usage_error("list: unexpected argument \"%s\".", argv[1]);
        ret = ctl_connect(ctl);
        if (ret != 0)
                return ret;

        r = ctl_call(ctl, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL, "(a(ouss))",
                     CTL_CALL_TIMEOUT_MS, &error);
        if (!r)
                return ctl_fail(error, "Cannot list the processes");
        processes = g_variant_get_child_value(r, 0);
        if (ctl->json)
                print_json(processes);
        else
                print_table(processes, !no_legend);
        return 0;
}
