/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * childwatchctl: the command line client of childwatch. This header holds what every command
 * shares: the bus and output choices of the command line, the exit codes, and the commands.
 */

#include <gio/gio.h>
#include <glib.h>

#define CW_NAME "org.childwatch.ChildWatch1"
#define CW_MANAGER_PATH "/org/childwatch/ChildWatch1"
#define CW_PROCESS_PREFIX "/org/childwatch/ChildWatch1/process/"
#define CW_MANAGER_IFACE "org.childwatch.ChildWatch1.Manager"
#define CW_PROCESS_IFACE "org.childwatch.ChildWatch1.Process"
#define CW_ERROR_PREFIX "org.childwatch.ChildWatch1.Error."

/*
 * Exit codes. Scripts rely on them, so each has exactly one meaning, and none is in 129..192
 * (128 + signal, what `run --wait` and `wait` return for a process that a signal ended).
 * `run --wait` and `wait` return the exit code of the process itself once it has ended, which
 * may be any of 0..255: a script that must tell those apart from the codes below checks
 * stderr (childwatchctl prints a line there for each of its own failures) or uses `status`.
 * The list is printed by `childwatchctl --help` (ctl_exit_codes_help()); keep both in sync.
 *
 *   0    success
 *   64   usage: unknown command or option, bad or missing argument (sysexits EX_USAGE)
 *   65   the service rejected an argument (org.freedesktop.DBus.Error.InvalidArgs; EX_DATAERR)
 *   69   no bus, or the service cannot be reached: not activatable, no answer in time
 *        (EX_UNAVAILABLE)
 *   70   internal error: an unexpected error name or reply (EX_SOFTWARE)
 *   71   a local system call failed: pidfd, terminal, signalfd (EX_OSERR)
 *   75   the service or the bus went away before it answered or before the awaited process
 *        ended; how that process ended is unknown (EX_TEMPFAIL)
 *   77   permission denied (org.freedesktop.DBus.Error.AccessDenied; EX_NOPERM)
 *   201  no such process: unknown object or id, no watched process with that pid
 *        (UnknownObject, Error.NoSuchProcess)
 *   202  the program could not be started (Error.SpawnFailed)
 *   203  the process has ended already (Error.NotRunning)
 *   204  the process is watched already (Error.AlreadyWatched)
 *   205  a limit of the service is reached (Error.LimitExceeded)
 *   206  the service does not support this (org.freedesktop.DBus.Error.NotSupported, or an
 *        unknown method or property: an older service)
 *   207  `run --wait`, `wait`: the process vanished; how it ended is unknown
 */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_USAGE = 64,
        CTL_EXIT_INVALID_ARGS = 65,
        CTL_EXIT_UNAVAILABLE = 69,
        CTL_EXIT_SOFTWARE = 70,
        CTL_EXIT_OSERR = 71,
        CTL_EXIT_SERVICE_VANISHED = 75,
        CTL_EXIT_PERMISSION = 77,
        CTL_EXIT_NO_SUCH_PROCESS = 201,
        CTL_EXIT_SPAWN_FAILED = 202,
        CTL_EXIT_NOT_RUNNING = 203,
        CTL_EXIT_ALREADY_WATCHED = 204,
        CTL_EXIT_LIMIT = 205,
        CTL_EXIT_NOT_SUPPORTED = 206,
        CTL_EXIT_PROCESS_VANISHED = 207,
} CtlExit;

/* The most descriptors that one call may pass: dbus-daemon's default max_message_unix_fds, which
 * neither its session.conf nor its system.conf raises; a message with more gets the client
 * disconnected instead of an error reply. The same as CHILDWATCH_MAX_FDS_PER_CALL of the client
 * library (childwatchctl does not build on it; tests/client/test-lib.c checks the bus's limit). */
#define CTL_MAX_FDS_PER_CALL 16

/* The text of the exit code list for --help. */
const char *ctl_exit_codes_help(void);

/* What the global options chose. */
typedef struct Ctl {
        gboolean user;         /* --user (the default) */
        gboolean system;       /* --system */
        char *address;         /* --address= */
        gboolean json;         /* --json */
        GDBusConnection *conn; /* once ctl_connect() succeeded */
} Ctl;

/* A command: @argv[0] is its name, the rest its own arguments. Returns the exit code. */
typedef int (*CtlCommandFunc)(Ctl *ctl, int argc, char **argv);

int ctl_cmd_run(Ctl *ctl, int argc, char **argv);
int ctl_cmd_list(Ctl *ctl, int argc, char **argv);
int ctl_cmd_status(Ctl *ctl, int argc, char **argv);
int ctl_cmd_signal(Ctl *ctl, int argc, char **argv);
int ctl_cmd_kill(Ctl *ctl, int argc, char **argv);
int ctl_cmd_wait(Ctl *ctl, int argc, char **argv);
int ctl_cmd_release(Ctl *ctl, int argc, char **argv);
int ctl_cmd_adopt(Ctl *ctl, int argc, char **argv);
int ctl_cmd_monitor(Ctl *ctl, int argc, char **argv);

/*
 * ctl_parse_options() - parses a command's options and the global ones (which may also follow
 * the command name).
 * @ctl: where the global options go
 * @command: the command's name, for the usage line; NULL for the options before the command
 * @argc, @argv: the command's arguments, @argv[0] its name; on success the positional
 *               arguments are left in @argv[1..], without a "--" separator
 * @parameter_string: the usage line after "childwatchctl COMMAND [OPTION…]", e.g. "ID|pid:PID|PATH"
 * @summary: what the command does, for --help
 * @description: more text for --help, or NULL
 * @entries: the command's own options (NULL-terminated), or NULL
 * @strict_posix: stop at the first positional argument (run: what follows is the program's)
 *
 * --help prints the help and exits 0.
 *
 * Return: 0, or CTL_EXIT_USAGE after printing what was wrong.
 */
int ctl_parse_options(Ctl *ctl, const char *command, int *argc, char ***argv, const char *parameter_string,
                      const char *summary, const char *description, const GOptionEntry *entries,
                      gboolean strict_posix);

/* Prints "childwatchctl: <message>" to stderr. */
void ctl_log(const char *format, ...) G_GNUC_PRINTF(1, 2);
/* ctl_log() and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *format, ...) G_GNUC_PRINTF(1, 2);
