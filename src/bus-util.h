/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Readers for client input that bound what a client can make the service do. */

#include <stddef.h>
#include <systemd/sd-bus.h>

/* Upper bounds for one string list ("as") in a request. Larger lists get LimitExceeded. */
#define BUS_STRV_MAX_ENTRIES 131072U
#define BUS_STRV_MAX_BYTES (4U * 1024U * 1024U)

/**
 * bus_message_read_strv_bounded() - read an "as" without sd-bus's quadratic strv reader.
 * @m: message positioned at the array
 * @max_entries: more entries than this give -E2BIG
 * @max_bytes: more string bytes (with their NULs) than this give -E2BIG
 * @ret: NULL-terminated array of strings borrowed from @m; free the array with free() only
 *
 * Return: 0, -E2BIG, -ENOMEM or the sd-bus error for a malformed message.
 */
int bus_message_read_strv_bounded(sd_bus_message *m, size_t max_entries, size_t max_bytes, char ***ret);
