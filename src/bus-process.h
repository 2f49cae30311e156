/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.childwatch.ChildWatch1.Process: the fallback vtable of all process objects and their signals. */

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "child-state.h"

typedef struct Manager Manager;
typedef struct Child Child;

int bus_process_register(Manager *m);

void bus_process_emit_added(Child *c);
void bus_process_emit_removed(Child *c);
/* State, ExitStatus, ExitTimestamp and the CPU times, after a state change. */
void bus_process_emit_properties_changed(Child *c);
/* One property. */
void bus_process_emit_changed(Child *c, const char *property);
/* TreeRunning and the tree's resource use, when the tree has emptied. */
void bus_process_emit_tree_changed(Child *c);
void bus_process_emit_state_changed(Child *c, ChildEvent event, int status);
/* Appends the {oa{sa{sv}}} entry of @c to a GetManagedObjects reply (bus-managed-objects.c). */
int bus_process_append_managed(Child *c, sd_bus_message *m);
/* An upper bound of the bytes that entry takes; cheap (no message is built). */
size_t bus_process_size_bound(Child *c);
/* Sends the (State, ExitStatus) reply that Wait and Kill give. */
int bus_process_reply_end(Child *c, sd_bus_message *m);
