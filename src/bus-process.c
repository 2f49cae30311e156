/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * All process objects share one fallback vtable and a node enumerator:
 * creating or dropping an object costs a hash map insert or remove, no
 * registration with sd-bus.
 */

#include "bus-process-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-managed-objects.h"
#include "child.h"
#include "client.h"
#include "manager.h"
#include "object-bounds.h"
#include "util/log.h"
#include "util/strv.h"

static int property_get_argv(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        return sd_bus_message_append_strv(reply, c->argv);
}

static int property_get_description(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 's', child_description(userdata));
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        return sd_bus_message_append_basic(reply, 's', c->owner_name);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        return sd_bus_message_append_basic(reply, 's', child_state_to_string(c->state));
}

static int property_get_flag(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int b;

        /* C bool is one byte, D-Bus 'b' is four: no offsetof() getters for these. */
        if (strcmp(property, "Adopted") == 0)
                b = c->adopted;
        else if (strcmp(property, "Tree") == 0)
                b = c->tree;
        else if (strcmp(property, "Pty") == 0)
                b = c->pty;
        else if (strcmp(property, "TreeRunning") == 0)
                b = c->tree_running;
        else if (strcmp(property, "WatchBus") == 0)
                b = c->watch_bus;
        else
                b = c->kill_on_release;
        return sd_bus_message_append_basic(reply, 'b', &b);
}

static int property_get_parent(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        char buf[CHILD_PATH_MAX];

        if (c->parent_id == 0)
                return sd_bus_message_append_basic(reply, 'o', "/");
        (void) snprintf(buf, sizeof(buf), CHILD_PATH_PREFIX "/%" PRIu64, c->parent_id);
        return sd_bus_message_append_basic(reply, 'o', buf);
}

static int property_get_descendants(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Child *c = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        unsigned n = 0;
        for (Child *d = c->descendants; d && n < OBJECT_DESCENDANTS_SHOWN_MAX; d = d->sibling_next) {
                char buf[CHILD_PATH_MAX];
                if (!d->has_object)
                        continue;
                n++;
                r = sd_bus_message_append_basic(reply, 'o', child_object_path(d, buf));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Only the owner's uid, or root, may change a process's fate. */
static int check_owner(Child *c, sd_bus_message *m, sd_bus_error *error) {
        Client *client;
        int r;

        const char *sender = sd_bus_message_get_sender(m);
        if (sender && strcmp(sender, c->owner_name) == 0)
                return 0;

        r = client_get(c->manager, m, &client);
        if (r < 0)
                return r;
        if (client->uid == 0 || client->uid == c->owner_uid)
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Process %" PRIu64 " is not yours.", c->id);
}

static int not_running(Child *c, sd_bus_error *error) {
        return sd_bus_error_setf(error, CW_ERROR_NOT_RUNNING, "Process %" PRIu64 " has ended (%s).", c->id,
                                 child_state_to_string(c->state));
}

static int method_send_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int sig, process_group, r;

        r = sd_bus_message_read(m, "ib", &sig, &process_group);
        if (r < 0)
                return r;
        if (sig < 1 || sig > SIGRTMAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Signal number %i is out of range 1...%i.", sig, SIGRTMAX);
        r = check_owner(c, m, error);
        if (r < 0)
                return r;

        r = child_send_signal(c, sig, process_group);
        if (r == -EPERM)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Process %" PRIu64 " runs as another user now.", c->id);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "The process group of process %" PRIu64 " cannot be reached safely "
                                         "after its leader ended on this kernel (before Linux 6.9).", c->id);
        if (r == -ESRCH) {
                if (c->tree || (process_group && c->leads_group))
                        return sd_bus_error_setf(error, CW_ERROR_NOT_RUNNING,
                                                 "Nothing of process %" PRIu64 "'s %s runs any more.", c->id,
                                                 c->tree ? "tree" : "process group");
                return not_running(c, error);
        }
        if (r == -ENOTTY)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Process %" PRIu64 " does not lead a process group "
                                         "(spawn it with new-session).", c->id);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_kill(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        uint64_t timeout;
        int r;

        r = sd_bus_message_read(m, "t", &timeout);
        if (r < 0)
                return r;
        r = check_owner(c, m, error);
        if (r < 0)
                return r;

        if (!child_is_alive(c))
                return bus_process_reply_end(c, m);
        if (!c->tree_running && child_check_may_signal(c) == -EPERM)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Process %" PRIu64 " runs as another user now.", c->id);

        r = child_add_kill_waiter(c, m);
        if (r == -EUSERS)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Too many calls are waiting for process %" PRIu64 ".", c->id);
        if (r < 0)
                return r;
        r = child_kill(c, timeout);
        if (r < 0 && r != -ESRCH)
                log_warning("Cannot signal process %d: %s", (int) c->pid, strerror(-r));
        return 1; /* answered when it has ended */
}

static int method_wait(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int r;

        r = child_add_waiter(c, m);
        if (r == -EUSERS)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Too many calls are waiting for process %" PRIu64 ".", c->id);
        if (r < 0)
                return r;
        return 1;
}

static int method_get_pidfd(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int r;

        r = check_owner(c, m, error);
        if (r < 0)
                return r;
        int fd = child_pidfd(c);
        if (!child_is_running(c))
                return not_running(c, error);
        if (fd < 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "This system has no pidfds.");
        /* sd-bus duplicates the fd into the reply. */
        return sd_bus_reply_method_return(m, "h", fd);
}

static int method_get_pty(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int r;

        r = check_owner(c, m, error);
        if (r < 0)
                return r;
        if (!c->pty)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Process %" PRIu64 " was spawned without a pty.", c->id);
        if (c->pty_master < 0)
                return not_running(c, error);
        /* A duplicate (sd-bus dups it into the reply): we keep ours while the object exists,
         * so what a program wrote before it ended, or before anyone asked, is still there to
         * read, and a client that comes back gets the terminal again. */
        return sd_bus_reply_method_return(m, "h", c->pty_master);
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Child *c = userdata;
        int r;

        r = check_owner(c, m, error);
        if (r < 0)
                return r;
        /* Reply first: the object (and c) may be gone after child_release(). */
        r = sd_bus_reply_method_return(m, NULL);
        if (r < 0)
                return r;
        child_release(c);
        return 1;
}

const char *const bus_process_interfaces[] = {
        "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties",
        CW_PROCESS_INTERFACE, NULL,
};

const sd_bus_vtable bus_process_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Id", "t", NULL, offsetof(Child, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pid", "u", NULL, offsetof(Child, pid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Argv", "as", property_get_argv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Description", "s", property_get_description, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OwnerUid", "u", NULL, offsetof(Child, owner_uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uid", "u", NULL, offsetof(Child, uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Adopted", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitStatus", "i", NULL, offsetof(Child, exit_status), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StartTimestamp", "t", NULL, offsetof(Child, start_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ExitTimestamp", "t", NULL, offsetof(Child, exit_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("WatchBus", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KillOnRelease", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Parent", "o", property_get_parent, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Descendants", "ao", property_get_descendants, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Tree", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TreeRunning", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UserTimeUSec", "t", NULL, offsetof(Child, user_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SystemTimeUSec", "t", NULL, offsetof(Child, system_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TreeUserTimeUSec", "t", NULL, offsetof(Child, tree_user_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TreeSystemTimeUSec", "t", NULL, offsetof(Child, tree_system_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TreeMemoryPeak", "t", NULL, offsetof(Child, tree_memory_peak),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pty", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_SIGNAL_WITH_ARGS("StateChanged", SD_BUS_ARGS("s", event, "i", status), 0),
        SD_BUS_METHOD_WITH_ARGS("SendSignal", SD_BUS_ARGS("i", signal, "b", process_group), SD_BUS_NO_RESULT,
                                method_send_signal, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("t", timeout_usec), SD_BUS_RESULT("s", state, "i", status),
                                method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", state, "i", status), method_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetPidfd", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", pidfd), method_get_pidfd,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_release,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetPty", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", master), method_get_pty,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* Multi-user mode: the uid of whoever sd-bus is answering, to hide other users' objects.
 * No current message: our own emission (which goes to the owner alone anyway). */
static int caller_uid(Manager *m, sd_bus *bus, uid_t *ret) {
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        Client *client;
        uint8_t type = 0;
        int r;

        if (msg)
                (void) sd_bus_message_get_type(msg, &type);
        if (!m->multi_user || type != SD_BUS_MESSAGE_METHOD_CALL) {
                *ret = 0;
                return 0;
        }
        r = client_get(m, msg, &client);
        if (r < 0)
                return r;
        *ret = client->uid;
        return 0;
}

static int process_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                        sd_bus_error *error) {
        Manager *m = userdata;
        Child *c = manager_get_child_by_id(m, child_id_from_path(path));
        uid_t uid;
        int r;

        if (!c)
                return 0;
        r = caller_uid(m, bus, &uid);
        if (r < 0)
                return r;
        if (!manager_may_see(m, uid, c))
                return 0; /* UnknownObject, as for an object that never was */
        *ret_found = c;
        return 1;
}

static int process_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                             sd_bus_error *error) {
        Manager *m = userdata;
        size_t n = 0;
        Child *c;
        uid_t uid;
        int r;

        r = caller_uid(m, bus, &uid);
        if (r < 0)
                return r;
        char **l = calloc(hashmap_size(&m->children_by_id) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        HASHMAP_FOREACH(c, &m->children_by_id, i) {
                char buf[CHILD_PATH_MAX];
                if (!manager_may_see(m, uid, c))
                        continue;
                l[n] = strdup(child_object_path(c, buf));
                if (!l[n]) {
                        strv_free(l);
                        return -ENOMEM;
                }
                n++;
        }
        *ret_nodes = l;
        return 0;
}

/* Wire size of a string (or object path) at most: alignment, length, bytes and NUL. */
static size_t string_size_bound(size_t len) {
        return 3 + 4 + len + 1;
}

static size_t strv_size_bound(char * const *l) {
        size_t n = 4 + 4; /* length, and padding to the first element */
        for (size_t i = 0; l && l[i]; i++)
                n += string_size_bound(strlen(l[i]));
        return n;
}

static size_t property_value_size_bound(Child *c, const sd_bus_vtable *v) {
        const char *sig = v->x.property.signature;
        sd_bus_property_get_t get = v->x.property.get;

        if (strchr("tuibyxnqdh", sig[0]) && !sig[1])
                return 8;
        if (get == property_get_argv)
                return strv_size_bound(c->argv);
        if (get == property_get_description)
                return string_size_bound(strlen(child_description(c)));
        if (get == property_get_owner)
                return string_size_bound(c->owner_name ? strlen(c->owner_name) : 0);
        if (get == property_get_state)
                return string_size_bound(strlen(child_state_to_string(c->state)));
        if (get == property_get_parent)
                return string_size_bound(CHILD_PATH_MAX);
        if (get == property_get_descendants) {
                size_t n = 0;
                for (Child *d = c->descendants; d && n < OBJECT_DESCENDANTS_SHOWN_MAX; d = d->sibling_next)
                        n++;
                return 8 + n * string_size_bound(CHILD_PATH_MAX);
        }
        /* A property added without a case here: as if it were a large one. New variable-size
         * properties need a case, or listings are refused earlier than they need to be. */
        return 64 * 1024;
}

size_t bus_process_size_bound(Child *c) {
        /* The dict entry (8-aligned), the path, the array of interfaces, each interface's entry,
         * name and (empty or not) array: a generous constant. */
        size_t n = 8 + string_size_bound(CHILD_PATH_MAX) + 8;
        for (const char *const *i = bus_process_interfaces; *i; i++)
                n += 8 + string_size_bound(strlen(*i)) + 8;
        for (const sd_bus_vtable *v = bus_process_vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (v->type != _SD_BUS_VTABLE_PROPERTY)
                        continue;
                /* Entry alignment, the name, the variant's signature and the value's alignment. */
                n += 7 + string_size_bound(strlen(v->x.property.member)) + 1 + strlen(v->x.property.signature) +
                     1 + 7 + property_value_size_bound(c, v);
        }
        return n;
}

int bus_process_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, CHILD_PATH_PREFIX, CW_PROCESS_INTERFACE, bus_process_vtable,
                                       process_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, CHILD_PATH_PREFIX, process_enumerate, m);
}
