/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A peer on the bus that owns processes or asks about them. Its uid is
 * looked up once (a round trip to the bus daemon) and its departure is
 * noticed through sd_bus_track.
 */

#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Child Child;

typedef struct Client {
        Manager *manager;
        char *name; /* unique bus name */
        uid_t uid;
        sd_bus_track *track;
        Child *children; /* list through Child.owner_next */
} Client;

/* Finds or creates the client that sent @m. */
int client_get(Manager *m, sd_bus_message *msg, Client **ret);
Client *client_free(Client *c);

void client_add_child(Client *c, Child *child);
void client_remove_child(Client *c, Child *child);
