/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The bus side of childwatchctl: the connection the global options chose, D-Bus errors
 * turned into exit codes, calls, and the process arguments (ID, pid:PID, object path).
 */

#include "ctl.h"

/* Timeout of a call that answers at once: long, because the first call may activate the
 * service (under valgrind in the tests). Wait() and Kill() have none. */
#define CTL_CALL_TIMEOUT_MS (120 * 1000)
#define CTL_CALL_NO_TIMEOUT G_MAXINT

/* Connects to the chosen bus (ctl->conn). Return: 0 or an exit code after printing why. */
int ctl_connect(Ctl *ctl);

/* The exit code for @error of a call (see ctl.h). */
int ctl_exit_code_for_error(const GError *error);

/* Prints "childwatchctl: <what>: <message of @error>" (without GDBus's remote error prefix)
 * and returns ctl_exit_code_for_error(@error). */
int ctl_fail(const GError *error, const char *what_format, ...) G_GNUC_PRINTF(2, 3);

/* Whether @error is the D-Bus error @name. */
gboolean ctl_error_is(const GError *error, const char *name);

/* A call to the service; NULL with @error set on failure. */
GVariant *ctl_call(Ctl *ctl, const char *path, const char *iface, const char *method, GVariant *params,
                   const char *reply_type, int timeout_ms, GError **error);

/*
 * ctl_resolve_process() - the object path of the process that a command line argument names.
 * @arg: "ID" (the number at the end of the object path), "pid:PID" (a watched running process,
 *       through GetProcess()) or the object path itself
 * @ret_path: the object path (free with g_free())
 *
 * Return: 0, or an exit code after printing why (CTL_EXIT_USAGE for a malformed @arg).
 */
int ctl_resolve_process(Ctl *ctl, const char *arg, char **ret_path);

/* The id at the end of a process object path, or 0 when @path is none. */
guint64 ctl_path_id(const char *path);
