/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* childwatchctl signal, kill, wait and release: one method call on one process object. */

#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

/* Connects and resolves the one process argument. */
static int open_process(Ctl *ctl, const char *arg, char **ret_path) {
        int r = ctl_connect(ctl);
        if (r != 0)
                return r;
        return ctl_resolve_process(ctl, arg, ret_path);
}

/* How a process ended, from a Kill() or Wait() reply: "killed 15", or JSON. */
static void print_end(Ctl *ctl, const char *path, const char *state, int status) {
        if (ctl->json) {
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "Path", g_variant_new_object_path(path));
                g_variant_builder_add(&b, "{sv}", "Id", g_variant_new_uint64(ctl_path_id(path)));
                g_variant_builder_add(&b, "{sv}", "State", g_variant_new_string(state));
                g_variant_builder_add(&b, "{sv}", "ExitStatus", g_variant_new_int32(status));
                ctl_json_print(g_variant_builder_end(&b));
        } else {
                printf("%s %d\n", state, status);
                fflush(stdout);
        }
}

int ctl_cmd_signal(Ctl *ctl, int argc, char **argv) {
        gboolean group = FALSE;
        const GOptionEntry entries[] = {
                { "group", 'g', 0, G_OPTION_ARG_NONE, &group, "Signal its process group instead", NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *path = NULL;
        int ret, sig;

        ret = ctl_parse_options(ctl, "signal", &argc, &argv, "ID|pid:PID|PATH SIGNAL",
                                "Send a signal to a process.",
                                "SIGNAL is a name (TERM, SIGTERM, RTMIN+1) or a number. The service sends\n"
                                "it through a pidfd, so a reused pid is never hit.\n"
                                "Exit status: 0; 203 when the process has ended, 201 when there is no such\n"
                                "process, 77 when it is not yours (see childwatchctl --help).\n",
                                entries, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 3)
                return ctl_usage_error("signal: expected a process and a signal.");
        sig = ctl_signal_from_string(argv[2]);
        if (sig < 0)
                return ctl_usage_error("signal: unknown signal \"%s\".", argv[2]);
        ret = open_process(ctl, argv[1], &path);
        if (ret != 0)
                return ret;
        r = ctl_call(ctl, path, CW_PROCESS_IFACE, "SendSignal", g_variant_new("(ib)", sig, group), "()",
                     CTL_CALL_TIMEOUT_MS, &error);
        if (!r)
                return ctl_fail(error, "Cannot signal %s", argv[1]);
        return 0;
}

int ctl_cmd_kill(Ctl *ctl, int argc, char **argv) {
        g_autofree char *timeout = NULL;
        const GOptionEntry entries[] = {
                { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout,
                  "Grace before SIGKILL (default 5; 0: at once)", "SEC" },
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *path = NULL;
        guint64 usec = 5 * G_USEC_PER_SEC;
        const char *state;
        gint32 status;
        int ret;

        ret = ctl_parse_options(
                ctl, "kill", &argc, &argv, "ID|pid:PID|PATH", "Stop a process.",
                "Sends its kill signal (TERM unless it was started with another) and SIGCONT,\n"
                "then SIGKILL once the grace period is over, and waits until it has ended.\n"
                "Prints how it ended: \"STATE STATUS\" (e.g. \"killed 15\"), or with --json an\n"
                "object with Path, Id, State and ExitStatus. A process that has ended already\n"
                "is reported as it ended.\n"
                "Exit status: 0; 201 when there is no such process, 77 when it is not yours.\n",
                entries, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 2)
                return ctl_usage_error("kill: expected one process.");
        if (timeout && !ctl_parse_seconds(timeout, &usec))
                return ctl_usage_error("kill: bad --timeout \"%s\": expected seconds.", timeout);
        ret = open_process(ctl, argv[1], &path);
        if (ret != 0)
                return ret;
        r = ctl_call(ctl, path, CW_PROCESS_IFACE, "Kill", g_variant_new("(t)", usec), "(si)",
                     CTL_CALL_NO_TIMEOUT, &error);
        if (!r)
                return ctl_fail(error, "Cannot kill %s", argv[1]);
        g_variant_get(r, "(&si)", &state, &status);
        print_end(ctl, path, state, status);
        return 0;
}

int ctl_cmd_wait(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *path = NULL;
        const char *state;
        gint32 status;
        int ret;

        ret = ctl_parse_options(
                ctl, "wait", &argc, &argv, "ID|pid:PID|PATH", "Wait until a process ends.",
                "Prints how it ended, as kill does, and exits like a shell: with the exit code\n"
                "of the process, or 128+N when signal N killed it or it dumped core; 207 when it\n"
                "vanished (how it ended is unknown), 75 when the service went away first, 201\n"
                "when there is no such process. Anyone may wait for any process they can see.\n",
                NULL, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 2)
                return ctl_usage_error("wait: expected one process.");
        ret = open_process(ctl, argv[1], &path);
        if (ret != 0)
                return ret;
        r = ctl_call(ctl, path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", CTL_CALL_NO_TIMEOUT, &error);
        if (!r)
                return ctl_fail(error, "Cannot wait for %s", argv[1]);
        g_variant_get(r, "(&si)", &state, &status);
        print_end(ctl, path, state, status);
        return ctl_exit_code_for_state(state, status);
}

int ctl_cmd_release(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *path = NULL;
        int ret;

        ret = ctl_parse_options(
                ctl, "release", &argc, &argv, "ID|pid:PID|PATH", "Drop a process object.",
                "The object goes away; a process that still runs keeps running (unless it was\n"
                "started with --kill-on-release) and is reaped by the service when it ends.\n"
                "Exit status: 0; 201 when there is no such process, 77 when it is not yours.\n",
                NULL, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 2)
                return ctl_usage_error("release: expected one process.");
        ret = open_process(ctl, argv[1], &path);
        if (ret != 0)
                return ret;
        r = ctl_call(ctl, path, CW_PROCESS_IFACE, "Release", NULL, "()", CTL_CALL_TIMEOUT_MS, &error);
        if (!r)
                return ctl_fail(error, "Cannot release %s", argv[1]);
        return 0;
}
