/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.childwatch.ChildWatch1.Manager: the vtable on the manager object and its handlers. */

typedef struct Manager Manager;

int bus_manager_register(Manager *m);
