/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The replies that list process objects, kept below the bus's message size: GetManagedObjects
 * (built here, not by sd-bus's tree walk), the size check of ListProcesses, and a check before
 * sd-bus introspects the nodes that list every object.
 */

#include <stddef.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

/* Registers the message callbacks on the manager object and on the node above the process
 * objects; they run before sd-bus's own handling of those paths. */
int bus_managed_objects_register(Manager *m);

/* 0 when a reply of at most @size_bound bytes fits what the bus takes; else LimitExceeded in
 * @error (naming @what) and its negative errno. */
int bus_reply_check_size(Manager *m, size_t size_bound, const char *what, sd_bus_error *error);
