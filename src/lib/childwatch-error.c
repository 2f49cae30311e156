/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The CHILDWATCH_ERROR domain: the service's D-Bus error names (src/bus-errors.h on the service
 * side) registered with GDBus, so that its answers arrive as GErrors with these codes. */

#include "childwatch-private.h"

#include <string.h>

static const GDBusErrorEntry childwatch_error_entries[] = {
        { CHILDWATCH_ERROR_SPAWN_FAILED, "org.childwatch.ChildWatch1.Error.SpawnFailed" },
        { CHILDWATCH_ERROR_NO_SUCH_PROCESS, "org.childwatch.ChildWatch1.Error.NoSuchProcess" },
        { CHILDWATCH_ERROR_NOT_RUNNING, "org.childwatch.ChildWatch1.Error.NotRunning" },
        { CHILDWATCH_ERROR_ALREADY_WATCHED, "org.childwatch.ChildWatch1.Error.AlreadyWatched" },
        { CHILDWATCH_ERROR_LIMIT_EXCEEDED, "org.childwatch.ChildWatch1.Error.LimitExceeded" },
};
/* One entry per code, so that a new code cannot be added without its name. */
G_STATIC_ASSERT(G_N_ELEMENTS(childwatch_error_entries) == CHILDWATCH_ERROR_LIMIT_EXCEEDED + 1);

GQuark childwatch_error_quark(void) {
        static gsize quark = 0;

        g_dbus_error_register_error_domain("childwatch-error-quark", &quark, childwatch_error_entries,
                                           G_N_ELEMENTS(childwatch_error_entries));
        return (GQuark) quark;
}

void _childwatch_error_strip(GError *error) {
        if (error)
                (void) g_dbus_error_strip_remote_error(error);
}

gboolean childwatch_event_is_terminal(const char *event) {
        g_return_val_if_fail(event != NULL, FALSE);

        return strcmp(event, "exited") == 0 || strcmp(event, "killed") == 0 ||
               strcmp(event, "dumped") == 0 || strcmp(event, "vanished") == 0;
}
