/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The connection of childwatchctl and the mapping from D-Bus errors to its exit codes. The
 * mapping is by error name, not by message, so it holds for every command.
 */

#include "ctl-bus.h"

#include <stdio.h>
#include <string.h>

int ctl_connect(Ctl *ctl) {
        g_autoptr(GError) error = NULL;
        g_autofree char *address = NULL;
        const char *which;

        if (ctl->address) {
                address = g_strdup(ctl->address);
                which = address;
        } else {
                GBusType type = ctl->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
                which = ctl->system ? "the system bus" : "the session bus";
                address = g_dbus_address_get_for_bus_sync(type, NULL, &error);
                if (!address) {
                        ctl_log("Cannot find %s: %s", which, error->message);
                        return CTL_EXIT_UNAVAILABLE;
                }
        }

        /* A connection of our own rather than g_bus_get_sync()'s shared one: that one exits
         * the process when the bus goes away, which would bypass our exit codes. */
        ctl->conn = g_dbus_connection_new_for_address_sync(
                address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        if (!ctl->conn) {
                ctl_log("Cannot connect to %s: %s", which, error->message);
                return CTL_EXIT_UNAVAILABLE;
        }
        g_dbus_connection_set_exit_on_close(ctl->conn, FALSE);
        return 0;
}

gboolean ctl_error_is(const GError *error, const char *name) {
        g_autofree char *remote = error ? g_dbus_error_get_remote_error(error) : NULL;
        return g_strcmp0(remote, name) == 0;
}

static const struct {
        const char *name;
        int code;
} error_map[] = {
        { CW_ERROR_PREFIX "NoSuchProcess", CTL_EXIT_NO_SUCH_PROCESS },
        { CW_ERROR_PREFIX "SpawnFailed", CTL_EXIT_SPAWN_FAILED },
        { CW_ERROR_PREFIX "NotRunning", CTL_EXIT_NOT_RUNNING },
        { CW_ERROR_PREFIX "AlreadyWatched", CTL_EXIT_ALREADY_WATCHED },
        { CW_ERROR_PREFIX "LimitExceeded", CTL_EXIT_LIMIT },
        { "org.freedesktop.DBus.Error.UnknownObject", CTL_EXIT_NO_SUCH_PROCESS },
        { "org.freedesktop.DBus.Error.InvalidArgs", CTL_EXIT_INVALID_ARGS },
        { "org.freedesktop.DBus.Error.AccessDenied", CTL_EXIT_PERMISSION },
        { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", CTL_EXIT_PERMISSION },
        { "org.freedesktop.DBus.Error.NotSupported", CTL_EXIT_NOT_SUPPORTED },
        { "org.freedesktop.DBus.Error.UnknownMethod", CTL_EXIT_NOT_SUPPORTED },
        { "org.freedesktop.DBus.Error.UnknownInterface", CTL_EXIT_NOT_SUPPORTED },
        { "org.freedesktop.DBus.Error.UnknownProperty", CTL_EXIT_NOT_SUPPORTED },
        /* The bus could not hand the call to a service. */
        { "org.freedesktop.DBus.Error.ServiceUnknown", CTL_EXIT_UNAVAILABLE },
        { "org.freedesktop.DBus.Error.NameHasNoOwner", CTL_EXIT_UNAVAILABLE },
        { "org.freedesktop.DBus.Error.NoServer", CTL_EXIT_UNAVAILABLE },
        { "org.freedesktop.DBus.Error.Timeout", CTL_EXIT_UNAVAILABLE },
        { "org.freedesktop.DBus.Error.TimedOut", CTL_EXIT_UNAVAILABLE },
        { "org.freedesktop.DBus.Error.LimitsExceeded", CTL_EXIT_UNAVAILABLE },
        /* The bus says so when the service disconnected before it answered. */
        { "org.freedesktop.DBus.Error.NoReply", CTL_EXIT_SERVICE_VANISHED },
        { "org.freedesktop.DBus.Error.Disconnected", CTL_EXIT_SERVICE_VANISHED },
};

int ctl_exit_code_for_error(const GError *error) {
        g_autofree char *remote = NULL;

        if (!error)
                return CTL_EXIT_SOFTWARE;
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
                return CTL_EXIT_UNAVAILABLE;
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED))
                return CTL_EXIT_SERVICE_VANISHED;
        remote = g_dbus_error_get_remote_error(error);
        if (!remote)
                return CTL_EXIT_SOFTWARE;
        for (size_t i = 0; i < G_N_ELEMENTS(error_map); i++)
                if (g_str_equal(remote, error_map[i].name))
                        return error_map[i].code;
        /* dbus-daemon's activation errors: org.freedesktop.DBus.Error.Spawn.ChildExited etc. */
        if (g_str_has_prefix(remote, "org.freedesktop.DBus.Error.Spawn."))
                return CTL_EXIT_UNAVAILABLE;
        return CTL_EXIT_SOFTWARE;
}

int ctl_fail(const GError *error, const char *what_format, ...) {
        g_autofree char *what = NULL;
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, what_format);
        what = g_strdup_vprintf(what_format, ap);
        va_end(ap);

        if (error) {
                g_autoptr(GError) copy = g_error_copy(error);
                g_dbus_error_strip_remote_error(copy);
                message = g_strdup(copy->message);
        }
        ctl_log("%s: %s", what, message ? message : "unknown error");
        return ctl_exit_code_for_error(error);
}

GVariant *ctl_call(Ctl *ctl, const char *path, const char *iface, const char *method, GVariant *params,
                   const char *reply_type, int timeout_ms, GError **error) {
        return g_dbus_connection_call_sync(ctl->conn, CW_NAME, path, iface, method, params,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL, error);
}

/* Whether @s is a decimal number without sign, leading zeros or overflow. */
static gboolean parse_number(const char *s, guint64 max, guint64 *ret) {
        if (!s || *s < '1' || *s > '9')
                return FALSE;
        return g_ascii_string_to_unsigned(s, 10, 1, max, ret, NULL);
}

guint64 ctl_path_id(const char *path) {
        guint64 id = 0;

        if (!path || !g_str_has_prefix(path, CW_PROCESS_PREFIX) ||
            !parse_number(path + strlen(CW_PROCESS_PREFIX), G_MAXUINT64, &id))
                return 0;
        return id;
}

int ctl_resolve_process(Ctl *ctl, const char *arg, char **ret_path) {
        g_autoptr(GError) error = NULL;
        guint64 n;

        if (g_str_has_prefix(arg, "pid:")) {
                if (!parse_number(arg + 4, G_MAXUINT32, &n))
                        return ctl_usage_error("Not a pid: \"%s\".", arg + 4);
                g_autoptr(GVariant) r =
                        ctl_call(ctl, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                 g_variant_new("(u)", (guint32) n), "(o)", CTL_CALL_TIMEOUT_MS, &error);
                if (!r)
                        return ctl_fail(error, "pid %" G_GUINT64_FORMAT, n);
                g_variant_get(r, "(o)", ret_path);
                return 0;
        }
        if (arg[0] == '/') {
                if (ctl_path_id(arg) == 0)
                        return ctl_usage_error("Not a process object path: \"%s\".", arg);
                *ret_path = g_strdup(arg);
                return 0;
        }
        if (!parse_number(arg, G_MAXUINT64, &n))
                return ctl_usage_error("Not a process: \"%s\" (expected ID, pid:PID or an object path).",
                                       arg);
        *ret_path = g_strdup_printf(CW_PROCESS_PREFIX "%" G_GUINT64_FORMAT, n);
        return 0;
}
