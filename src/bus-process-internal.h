/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between bus-process.c (the objects' vtable and methods) and bus-process-signals.c (their
 * signals and listings, built from the same vtable). */

#include <systemd/sd-bus.h>

#include "bus-process.h"

extern const sd_bus_vtable bus_process_vtable[];
/* The interfaces of a process object, as InterfacesAdded and GetManagedObjects list them. */
extern const char *const bus_process_interfaces[];
