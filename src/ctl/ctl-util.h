/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers of childwatchctl: signal names, durations, and how a process ended. */

#include <glib.h>

/* Parses "TERM", "SIGTERM", "term", "RTMIN+2", "RTMAX-1" or a number 1..SIGRTMAX. Return: the
 * signal number, or -1. */
int ctl_signal_from_string(const char *s);
/* "TERM", "RTMIN+2"; the number for one without a name. Free with g_free(). */
char *ctl_signal_to_string(int sig);

/* Parses seconds such as "5", "0.25" (at most microsecond precision) into microseconds.
 * Return: FALSE for anything else or an overflow. */
gboolean ctl_parse_seconds(const char *s, guint64 *ret_usec);

/* Parses "ROWSxCOLUMNS" (both 1..65535). */
gboolean ctl_parse_size(const char *s, guint32 *ret_rows, guint32 *ret_columns);

/* Whether @state (a State value or a terminal StateChanged event) is one of the terminal ones. */
gboolean ctl_state_is_terminal(const char *state);

/* The exit code of `run --wait` and `wait` for a process that ended as @state with @status, as
 * a shell computes it: the exit code, or 128 + the signal. */
int ctl_exit_code_for_state(const char *state, int status);

/* "exited with code 3", "killed by signal 15 (TERM)", "running", ... Free with g_free(). */
char *ctl_describe_state(const char *state, int status);

/* A CLOCK_REALTIME timestamp in microseconds as local time, "2025-11-26 02:30:00.123 +0100";
 * "-" for 0. Free with g_free(). */
char *ctl_format_timestamp(guint64 usec);

/* @argv as a shell would need it typed (quoted where needed). Free with g_free(). */
char *ctl_join_argv(const char *const *argv);

/* @s with control characters replaced by '?', for one line of text output. Free with g_free(). */
char *ctl_printable(const char *s);
