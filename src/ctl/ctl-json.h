/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * JSON output of childwatchctl, written from GVariants: every listing is built as a GVariant
 * (mostly an a{sv} whose keys are the D-Bus property names) and printed by one writer, so the
 * text and JSON forms cannot disagree on a value.
 */

#include <glib.h>

/*
 * ctl_json_append() - appends @value as JSON to @out.
 *
 * Dictionaries with string or object path keys become objects; other arrays, tuples and
 * maybes' contents become arrays (an empty maybe null); strings and object paths strings;
 * booleans true/false; every integer type a number; doubles a number (null when not finite);
 * variants their contents. Strings that are not valid UTF-8 get U+FFFD for the bad bytes.
 */
void ctl_json_append(GString *out, GVariant *value);

/* Prints @value (sunk if floating) as one line of JSON to stdout and flushes it. */
void ctl_json_print(GVariant *value);

/* What run (without --wait) and adopt print for a new object: "PATH PID", or with @json an
 * object with Path, Id and Pid. */
void ctl_print_new_process(gboolean json, const char *path, guint32 pid);
