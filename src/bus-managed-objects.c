/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dbus-daemon drops a connection that sends a message above its max_message_size (32 MiB by
 * default, which the system bus keeps), and the service exits when it loses the bus. Objects
 * keep bounded copies of what clients gave (object-bounds.h) and ended objects are capped per
 * user, which bounds a non-root caller's listings in multi-user mode by construction; but
 * root's view, the session bus's 32768 running processes and orphans (which no limit refuses)
 * can still add up beyond it. So every reply that lists objects is sized before it is built,
 * from an upper bound per object, and answered LimitExceeded when it would not fit.
 *
 * GetManagedObjects is built here from the same code as InterfacesAdded (bus-process.c): a
 * message callback on the manager object runs before sd-bus's own ObjectManager handling
 * (bus-objects.c, object_find_and_run(): node callbacks first). sd-bus's version walks its
 * object tree, calls the fallback's find callback and looks up the vtable for each object:
 * 0.9 to 2.1 s for 10,000 objects, during which the service answered nobody.
 */

#include "bus-managed-objects.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-process.h"
#include "child.h"
#include "client.h"
#include "manager.h"
#include "util/log.h"

/* The fixed part of an introspection of the manager object or the node above the process
 * objects (interfaces, standard interfaces), generously; and what each listed object adds
 * (' <node name="process/18446744073709551615"/>'). */
#define INTROSPECT_BASE_BOUND (64U * 1024U)
#define INTROSPECT_NODE_BOUND 64U

int bus_reply_check_size(Manager *m, size_t size_bound, const char *what, sd_bus_error *error) {
        if (size_bound <= m->max_reply_size)
                return 0;
        log_debug("Refusing %s: the reply might take %zu bytes, more than the %zu the bus takes.", what,
                  size_bound, m->max_reply_size);
        return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                 "The reply of %s would be larger than the bus takes (up to %zu bytes, at most %zu "
                                 "allowed); ask per object, or Release() ended processes.",
                                 what, size_bound, m->max_reply_size);
}

/* The uid whose view the caller of @msg gets: in multi-user mode its own, else all (0). */
static int viewer_uid(Manager *m, sd_bus_message *msg, uid_t *ret) {
        Client *client;
        int r;

        *ret = 0;
        if (!m->multi_user)
                return 0;
        r = client_get(m, msg, &client);
        if (r < 0)
                return r;
        *ret = client->uid;
        return 0;
}

static int compare_by_id(const void *a, const void *b) {
        const Child *x = *(Child * const *) a, *y = *(Child * const *) b;
        return x->id < y->id ? -1 : x->id > y->id;
}

static int method_get_managed_objects(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Child **list = NULL;
        size_t n = 0, size = 64;
        uid_t uid;
        Child *c;
        int r;

        r = viewer_uid(m, msg, &uid);
        if (r < 0)
                return r;
        list = malloc((hashmap_size(&m->children_by_id) + 1) * sizeof(Child *));
        if (!list)
                return -ENOMEM;
        HASHMAP_FOREACH(c, &m->children_by_id, i)
                if (manager_may_see(m, uid, c)) {
                        list[n++] = c;
                        size += bus_process_size_bound(c);
                }
        r = bus_reply_check_size(m, size, "GetManagedObjects", error);
        if (r < 0)
                return r;
        /* In the order of creation, as ListProcesses; sd-bus's was the hash order. */
        qsort(list, n, sizeof(Child *), compare_by_id);

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = bus_process_append_managed(list[i], reply);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Introspection of these nodes lists every object the caller may see: sd-bus builds it, so
 * only its size is checked here, before. */
static int check_introspect(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        size_t n = 0;
        uid_t uid;
        Child *c;
        int r;

        /* Cheap without multi-user mode, where every caller sees every object. */
        if (!m->multi_user)
                n = hashmap_size(&m->children_by_id);
        else {
                r = viewer_uid(m, msg, &uid);
                if (r < 0)
                        return r;
                HASHMAP_FOREACH(c, &m->children_by_id, i)
                        if (manager_may_see(m, uid, c))
                                n++;
        }
        r = bus_reply_check_size(m, INTROSPECT_BASE_BOUND + n * INTROSPECT_NODE_BOUND, "Introspect", error);
        return r < 0 ? r : 0; /* 0: sd-bus goes on and introspects */
}

static int on_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path = sd_bus_message_get_path(msg);
        const char *signature = sd_bus_message_get_signature(msg, true);
        int r;

        /* With arguments: sd-bus's own handling answers InvalidArgs, as before. */
        if (signature && signature[0])
                return 0;
        if (sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Introspectable", "Introspect"))
                return check_introspect(m, msg, error);
        if (path && strcmp(path, CW_MANAGER_PATH) == 0 &&
            sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")) {
                r = method_get_managed_objects(m, msg, error);
                return r < 0 ? r : 1; /* answered */
        }
        return 0;
}

int bus_managed_objects_register(Manager *m) {
        int r;

        r = sd_bus_add_object(m->bus, NULL, CW_MANAGER_PATH, on_message, m);
        if (r < 0)
                return r;
        return sd_bus_add_object(m->bus, NULL, CHILD_PATH_PREFIX, on_message, m);
}
