/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How much of a client's input a process object keeps and shows. Every reply that lists
 * objects (GetManagedObjects, ListProcesses, introspection) grows with the sum over the
 * objects, and dbus-daemon drops a connection that sends a message above its
 * max_message_size (32 MiB by default, which the system bus keeps): one such reply would
 * take the service off the bus. So each object keeps a bounded copy of its argv and
 * description, and the number of ended objects per user is capped (manager.c); the
 * arithmetic is in docs/reliability.md ("Bounded replies").
 */

#include <stdbool.h>
#include <stddef.h>

/* Argv keeps its leading arguments up to this many bytes, each counted with its NUL ... */
#define OBJECT_ARGV_KEEP_BYTES 4096U
/* ... and at most this many of them. */
#define OBJECT_ARGV_KEEP_ENTRIES 256U
/* Description keeps at most this many bytes (cut at a character boundary). */
#define OBJECT_DESCRIPTION_KEEP_BYTES 512U
/* Descendants lists at most this many objects. */
#define OBJECT_DESCENDANTS_SHOWN_MAX 16384U
/* Client strings quoted in error messages are cut to this many bytes. */
#define OBJECT_ERROR_QUOTE_MAX 4096

/* Length of the longest prefix of @s (NUL-terminated, valid UTF-8) of at most @max bytes that
 * ends at a character boundary. */
size_t utf8_prefix_length(const char *s, size_t max);

/* Whether @s (of @n bytes) is UTF-8 as D-Bus accepts it (sd-bus's rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no U+FFFE/U+FFFF or U+FDD0..U+FDEF). */
bool utf8_is_valid_dbus(const char *s, size_t n);

/* Replaces every byte of @s that does not belong to a valid character with '?', so that the
 * string can go on the bus (a /proc/PID/cmdline may hold anything). Returns @s. */
char *utf8_sanitize(char *s);

/**
 * object_argv_copy() - the copy of @argv that an object keeps.
 * @ret_truncated: set to whether anything was left out or cut (may be NULL)
 *
 * The leading arguments while they fit OBJECT_ARGV_KEEP_BYTES (each counted with its NUL) and
 * OBJECT_ARGV_KEEP_ENTRIES; the first one that does not fit in full is cut at a character
 * boundary to what is left, if anything is; the rest are left out. Invalid UTF-8 is replaced
 * (utf8_sanitize()). One allocation: pointers, then strings (free() it).
 * Return: the copy, or NULL when out of memory.
 */
char **object_argv_copy(char * const *argv, bool *ret_truncated);

/* The copy of a description that an object keeps: at most OBJECT_DESCRIPTION_KEEP_BYTES, cut
 * at a character boundary, invalid UTF-8 replaced. NULL when out of memory. */
char *object_description_copy(const char *s);

/* Cuts an allocated description in place to what object_description_copy() would keep. */
void object_description_bound(char *s);
