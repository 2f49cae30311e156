/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "manager.h"
#include "util/log.h"
#include "util/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free);

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        if (c->manager && c->name && hashmap_get(&c->manager->clients, c->name) == c)
                (void) hashmap_remove(&c->manager->clients, c->name);
        for (Child *child = c->children, *next; child; child = next) {
                next = child->owner_next;
                child->owner = NULL;
                child->owner_prev = child->owner_next = NULL;
        }
        sd_bus_track_unref(c->track);
        free(c->name);
        free(c);
        return NULL;
}

static int client_on_track_empty(sd_bus_track *track, void *userdata) {
        Client *c = userdata;
        (void) track;

        log_debug("Client %s left the bus.", c->name);
        /* Detach first: child_owner_left() may start timers or kill, never free the child. */
        Child *list = c->children;
        c->children = NULL;
        for (Child *child = list, *next; child; child = next) {
                next = child->owner_next;
                child_owner_left(child);
        }
        client_free(c);
        return 0;
}

int client_get(Manager *m, sd_bus_message *msg, Client **ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(client_freep) Client *c = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        uid_t uid;
        int r;

        if (!sender)
                return -EPERM; /* a direct (busless) peer: we only serve through a bus */

        c = hashmap_get(&m->clients, sender);
        if (c) {
                *ret = steal_ptr(&c);
                return 0;
        }

        /* The effective uid as the bus daemon saw it at connect time, not from /proc. */
        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(Client));
        if (!c)
                return -ENOMEM;
        c->uid = uid;
        c->name = strdup(sender);
        if (!c->name)
                return -ENOMEM;

        r = sd_bus_track_new(m->bus, &c->track, client_on_track_empty, c);
        if (r < 0)
                return r;
        r = sd_bus_track_add_name(c->track, sender);
        if (r < 0)
                return r;

        r = hashmap_put(&m->clients, c->name, c);
        if (r < 0)
                return r;
        c->manager = m;

        *ret = steal_ptr(&c);
        return 0;
}

void client_add_child(Client *c, Child *child) {
        child->owner = c;
        child->owner_prev = NULL;
        child->owner_next = c->children;
        if (c->children)
                c->children->owner_prev = child;
        c->children = child;
}

void client_remove_child(Client *c, Child *child) {
        if (child->owner_prev)
                child->owner_prev->owner_next = child->owner_next;
        else if (c->children == child)
                c->children = child->owner_next;
        if (child->owner_next)
                child->owner_next->owner_prev = child->owner_prev;
        child->owner = NULL;
        child->owner_prev = child->owner_next = NULL;
}
