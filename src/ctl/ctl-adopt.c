/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl adopt: Adopt() a running process. We open its pidfd ourselves and pass that,
 * rather than its pid: the pidfd names the process we looked at even if it ends and its pid
 * is reused before the service gets the call.
 */

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

static int pidfd_open_compat(pid_t pid) {
#ifdef SYS_pidfd_open
        return (int) syscall(SYS_pidfd_open, pid, 0);
#else
        errno = ENOSYS;
        return -1;
#endif
}

int ctl_cmd_adopt(Ctl *ctl, int argc, char **argv) {
        g_autofree char *description = NULL;
        g_autofree char *kill_timeout = NULL;
        g_autofree char *kill_signal = NULL;
        gboolean kill_on_release = FALSE;
        const GOptionEntry entries[] = {
                { "description", 'd', 0, G_OPTION_ARG_FILENAME, &description, "Text for listings", "TEXT" },
                { "kill-timeout", 0, 0, G_OPTION_ARG_STRING, &kill_timeout,
                  "Grace before SIGKILL when it is stopped (default 5)", "SEC" },
                { "kill-signal", 0, 0, G_OPTION_ARG_STRING, &kill_signal,
                  "First signal when it is stopped (default TERM)", "SIGNAL" },
                { "kill-on-release", 0, 0, G_OPTION_ARG_NONE, &kill_on_release,
                  "Kill it when its object is released", NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        GVariantBuilder b;
        guint64 pid;
        const char *path;
        guint32 adopted_pid;
        int ret, pidfd;

        ret = ctl_parse_options(
                ctl, "adopt", &argc, &argv, "PID", "Watch a process the service did not start.",
                "The service watches PID from now on as a process object of yours: its end\n"
                "(for a process that is not the service's child, as far as the kernel tells),\n"
                "signals and kill as for spawned ones. Prints the object path and the pid\n"
                "(--json: an object with Path, Id and Pid).\n"
                "Exit status: 0; 201 no such process, 204 watched already, 77 another user's\n"
                "process, 206 no pidfds on this system (see childwatchctl --help).\n",
                entries, FALSE);
        if (ret != 0)
                return ret;
        if (argc != 2)
                return ctl_usage_error("adopt: expected one pid.");
        if (!g_ascii_isdigit(argv[1][0]) ||
            !g_ascii_string_to_unsigned(argv[1], 10, 1, G_MAXINT32, &pid, NULL))
                return ctl_usage_error("adopt: not a pid: \"%s\".", argv[1]);
        if (description && !g_utf8_validate(description, -1, NULL))
                return ctl_usage_error("--description is not valid UTF-8.");

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        if (description)
                g_variant_builder_add(&b, "{sv}", "description", g_variant_new_string(description));
        if (kill_on_release)
                g_variant_builder_add(&b, "{sv}", "kill-on-release", g_variant_new_boolean(TRUE));
        if (kill_timeout) {
                guint64 usec;
                if (!ctl_parse_seconds(kill_timeout, &usec)) {
                        g_variant_builder_clear(&b);
                        return ctl_usage_error("Bad --kill-timeout \"%s\": expected seconds.", kill_timeout);
                }
                g_variant_builder_add(&b, "{sv}", "kill-timeout-usec", g_variant_new_uint64(usec));
        }
        if (kill_signal) {
                int sig = ctl_signal_from_string(kill_signal);
                if (sig < 0) {
                        g_variant_builder_clear(&b);
                        return ctl_usage_error("Bad --kill-signal \"%s\".", kill_signal);
                }
                g_variant_builder_add(&b, "{sv}", "kill-signal", g_variant_new_int32(sig));
        }

        pidfd = pidfd_open_compat((pid_t) pid);
        if (pidfd < 0 && errno == ESRCH) {
                g_variant_builder_clear(&b);
                ctl_log("No process %" G_GUINT64_FORMAT ".", pid);
                return CTL_EXIT_NO_SUCH_PROCESS;
        }
        if (pidfd < 0 && errno != ENOSYS && errno != EPERM) {
                g_variant_builder_clear(&b);
                ctl_log("Cannot open a pidfd for %" G_GUINT64_FORMAT ": %s", pid, g_strerror(errno));
                return CTL_EXIT_OSERR;
        }
        ret = ctl_connect(ctl);
        if (ret != 0) {
                g_variant_builder_clear(&b);
                if (pidfd >= 0)
                        (void) close(pidfd);
                return ret;
        }
        if (pidfd >= 0) {
                fds = g_unix_fd_list_new_from_array(&pidfd, 1); /* takes it */
                r = g_dbus_connection_call_with_unix_fd_list_sync(
                        ctl->conn, CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Adopt",
                        g_variant_new("(h@a{sv})", 0, g_variant_builder_end(&b)), G_VARIANT_TYPE("(ou)"),
                        G_DBUS_CALL_FLAGS_NONE, CTL_CALL_TIMEOUT_MS, fds, NULL, NULL, &error);
        } else
                /* No pidfds here (or not ours to open): the service has the same check. */
                r = ctl_call(ctl, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                             g_variant_new("(u@a{sv})", (guint32) pid, g_variant_builder_end(&b)), "(ou)",
                             CTL_CALL_TIMEOUT_MS, &error);
        if (!r)
                return ctl_fail(error, "Cannot adopt %" G_GUINT64_FORMAT, pid);

        g_variant_get(r, "(&ou)", &path, &adopted_pid);
        ctl_print_new_process(ctl->json, path, adopted_pid);
        return 0;
}
