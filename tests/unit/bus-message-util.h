/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Messages that read like received ones, for the unit tests and fuzz targets
 * of the parsers of client input (spawn-options.c, bus-util.c), without any
 * bus daemon.
 *
 * sd-bus 252 refuses to create a message on a bus in BUS_UNSET state, so
 * test_bus_new() starts a bus on one end of a socketpair and closes the other
 * end: the bus stays in the authenticating state and never sends a message.
 * It also accepts 'h' values then (fd passing is only checked once a
 * connection is running). Free it with sd_bus_close_unref(), never with
 * sd_bus_flush_close_unref(): there is no peer to flush to.
 */

#include <systemd/sd-bus.h>

/* Return: 0 or a negative errno. */
int test_bus_new(sd_bus **ret);

/* An empty method call on @bus whose body the caller appends. Return: 0 or a negative errno. */
int test_message_new(sd_bus *bus, sd_bus_message **ret);

/*
 * Seals @m and moves its read position to the start of the body, so that the
 * sd_bus_message_read*() and enter_container() calls see it as a service sees
 * a received call. May be called again to read the message once more.
 * Return: 0 or a negative errno.
 */
int test_message_seal(sd_bus_message *m);
