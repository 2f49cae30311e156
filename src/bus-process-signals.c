/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The signals of process objects, and their properties as GetManagedObjects lists them. On the
 * session bus they are broadcast, so that busctl monitor sees them. In multi-user mode each
 * goes to the process's owner alone (sd-bus's emitters cannot address a recipient).
 * Either way the object and property signals are built here from the same vtable that answers
 * Properties.Get: sd-bus's generic emitters walk the object tree and the fallback's find
 * callback for every signal, ~130k instructions for InterfacesAdded and ~42k for
 * PropertiesChanged per spawn (callgrind) against ~100k and ~32k here. */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-managed-objects.h"
#include "bus-process-internal.h"
#include "child.h"
#include "client.h"
#include "manager.h"
#include "object-bounds.h"
#include "util/log.h"
#include "util/strv.h"


static const char *const state_properties[] = {
        "State", "ExitStatus", "ExitTimestamp", "UserTimeUSec", "SystemTimeUSec", NULL,
};
static const char *const tree_properties[] = {
        "TreeRunning", "TreeUserTimeUSec", "TreeSystemTimeUSec", "TreeMemoryPeak", NULL,
};
/* The interfaces sd-bus lists for a process object in GetManagedObjects. */

static bool name_in(const char *const *names, const char *name) {
        if (!names)
                return true;
        for (; *names; names++)
                if (strcmp(*names, name) == 0)
                        return true;
        return false;
}

static int append_property(Child *c, sd_bus_message *m, const char *path, const sd_bus_vtable *v) {
        const char *sig = v->x.property.signature;
        const void *field = (const uint8_t *) c + v->x.property.offset;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', v->x.property.member);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', sig);
        if (r < 0)
                return r;
        if (v->x.property.get) {
                r = v->x.property.get(c->manager->bus, path, CW_PROCESS_INTERFACE, v->x.property.member, m, c,
                                      &error);
                sd_bus_error_free(&error);
        } else if (strchr("tuib", sig[0]) && !sig[1])
                /* Fields read by offset have the size of their D-Bus type, as sd-bus assumes. */
                r = sd_bus_message_append_basic(m, sig[0], field);
        else
                r = -EINVAL;
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* a{sv} of the properties in @names (NULL: all). */
static int append_properties(Child *c, sd_bus_message *m, const char *path, const char *const *names) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (const sd_bus_vtable *v = bus_process_vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (v->type != _SD_BUS_VTABLE_PROPERTY || !name_in(names, v->x.property.member))
                        continue;
                r = append_property(c, m, path, v);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* Whom a signal about @c goes to in multi-user mode: its owner while connected, else nobody. */
static const char *signal_recipient(Child *c) {
        return c->owner && c->owner_name && c->owner_name[0] ? c->owner_name : NULL;
}

/* Broadcast on the session bus; to the owner alone in multi-user mode. A signal about an object
 * that a GetManagedObjects in progress has listed already waits for that reply (see
 * bus-managed-objects.c). */
static int send_signal(Child *c, sd_bus_message *m) {
        if (c->manager->multi_user) {
                int r = sd_bus_message_set_destination(m, signal_recipient(c));
                if (r < 0)
                        return r;
        }
        return bus_listing_send(c->manager, c, m);
}

static int send_properties_changed(Child *c, const char *path, const char *const *names) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(c->manager->bus, &m, path, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', CW_PROCESS_INTERFACE);
        if (r < 0)
                return r;
        r = append_properties(c, m, path, names);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "as", 0);
        if (r < 0)
                return r;
        return send_signal(c, m);
}

/* The a{sa{sv}} of the interfaces of @c with their properties: InterfacesAdded, GetManagedObjects. */
static int append_interfaces(Child *c, sd_bus_message *m, const char *path) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        for (const char *const *i = bus_process_interfaces; *i; i++) {
                r = sd_bus_message_open_container(m, 'e', "sa{sv}");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(m, 's', *i);
                if (r < 0)
                        return r;
                if (strcmp(*i, CW_PROCESS_INTERFACE) == 0)
                        r = append_properties(c, m, path, NULL);
                else
                        r = sd_bus_message_append(m, "a{sv}", 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int bus_process_append_managed(Child *c, sd_bus_message *m) {
        char buf[CHILD_PATH_MAX];
        const char *path = child_object_path(c, buf);
        int r;

        r = sd_bus_message_open_container(m, 'e', "oa{sa{sv}}");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 'o', path);
        if (r < 0)
                return r;
        r = append_interfaces(c, m, path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int send_interfaces(Child *c, const char *path, bool added) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(c->manager->bus, &m, CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                      added ? "InterfacesAdded" : "InterfacesRemoved");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 'o', path);
        if (r < 0)
                return r;
        if (!added)
                r = sd_bus_message_append_strv(m, (char **) bus_process_interfaces);
        else
                r = append_interfaces(c, m, path);
        if (r < 0)
                return r;
        return send_signal(c, m);
}

static void emit_interfaces(Child *c, bool added) {
        char buf[CHILD_PATH_MAX];
        const char *path = child_object_path(c, buf);
        int r;

        if (c->manager->multi_user && !signal_recipient(c))
                r = 0;
        else
                r = send_interfaces(c, path, added);
        if (r < 0)
                log_debug("Cannot announce the %s of %s: %s", added ? "addition" : "removal", path, strerror(-r));
}

void bus_process_emit_added(Child *c) {
        emit_interfaces(c, true);
}

void bus_process_emit_removed(Child *c) {
        emit_interfaces(c, false);
}

void bus_process_emit_state_changed(Child *c, ChildEvent event, int status) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char buf[CHILD_PATH_MAX];
        const char *path = child_object_path(c, buf);
        int r;

        /* Built here, not with sd_bus_emit_signal(): it goes through send_signal(), which keeps
         * it in order with the PropertiesChanged that a listing in progress may hold back. */
        if (c->manager->multi_user && !signal_recipient(c))
                r = 0;
        else {
                r = sd_bus_message_new_signal(c->manager->bus, &m, path, CW_PROCESS_INTERFACE, "StateChanged");
                if (r >= 0)
                        r = sd_bus_message_append(m, "si", child_event_to_string(event), status);
                if (r >= 0)
                        r = send_signal(c, m);
        }
        if (r < 0)
                log_warning("Cannot send StateChanged for %s: %s", path, strerror(-r));
}

static void emit_properties(Child *c, const char *const *names) {
        char buf[CHILD_PATH_MAX];
        const char *path = child_object_path(c, buf);
        int r;

        if (c->manager->multi_user && !signal_recipient(c))
                r = 0;
        else
                r = send_properties_changed(c, path, names);
        if (r < 0)
                log_warning("Cannot send PropertiesChanged for %s: %s", path, strerror(-r));
}

void bus_process_emit_properties_changed(Child *c) {
        emit_properties(c, state_properties);
}

void bus_process_emit_changed(Child *c, const char *property) {
        const char *names[] = { property, NULL };
        emit_properties(c, names);
}

void bus_process_emit_tree_changed(Child *c) {
        emit_properties(c, tree_properties);
}

int bus_process_reply_end(Child *c, sd_bus_message *m) {
        return sd_bus_reply_method_return(m, "si", child_state_to_string(c->state), c->exit_status);
}
