/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-manager.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-managed-objects.h"
#include "bus-process.h"
#include "bus-util.h"
#include "child.h"
#include "client.h"
#include "manager.h"
#include "spawn-options.h"
#include "util/log.h"

static int method_spawn(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(spawn_options_done) SpawnOptions o;
        _cleanup_free_ char **argv = NULL;
        Manager *manager = userdata;
        Client *client;
        int r;

        spawn_options_init(&o);

        r = bus_message_read_strv_bounded(m, BUS_STRV_MAX_ENTRIES, BUS_STRV_MAX_BYTES, &argv);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "argv exceeds %u entries or %u bytes.", BUS_STRV_MAX_ENTRIES,
                                         BUS_STRV_MAX_BYTES);
        if (r < 0)
                return r;
        if (!argv[0])
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "argv is empty.");
        if (!argv[0][0])
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "argv[0] is empty.");

        r = spawn_options_parse(m, SPAWN_OPTIONS_ALL, &o, error);
        if (r < 0)
                return r;

        r = client_get(manager, m, &client);
        if (r < 0)
                return r;

        /* Answered from the event loop once a spawn helper has started it (child-spawn.c). */
        r = child_spawn(manager, client, m, argv, &o, error);
        if (r < 0)
                return r;
        return 1;
}

/* Adopt and AdoptPid after the pidfd is in hand (taken over: closed on failure). */
static int adopt(Manager *manager, sd_bus_message *m, int pidfd_in, sd_bus_error *error) {
        _cleanup_(spawn_options_done) SpawnOptions o;
        _cleanup_close_ int pidfd = pidfd_in;
        Client *client;
        Child *c;
        int r;

        spawn_options_init(&o);
        r = spawn_options_parse(m, SPAWN_OPTIONS_ADOPT, &o, error);
        if (r < 0)
                return r;
        if (!manager->use_pidfd)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "This system has no pidfds.");

        r = client_get(manager, m, &client);
        if (r < 0)
                return r;
        r = child_adopt(manager, client, &pidfd, &o, &c, error);
        if (r < 0)
                return r;

        char buf[CHILD_PATH_MAX];
        bus_process_emit_added(c);
        return sd_bus_reply_method_return(m, "ou", child_object_path(c, buf), (uint32_t) c->pid);
}

static int method_adopt(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int fd, r;

        r = sd_bus_message_read_basic(m, 'h', &fd);
        if (r < 0)
                return r;
        /* The message owns fd; ours lives as long as the watch. */
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return errno == EMFILE || errno == ENFILE
                               ? sd_bus_error_set(error, CW_ERROR_LIMIT_EXCEEDED, "Out of file descriptors.")
                               : -errno;
        return adopt(userdata, m, copy, error);
}

static int method_adopt_pid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t pid;
        int r;

        r = sd_bus_message_read_basic(m, 'u', &pid);
        if (r < 0)
                return r;
        if (pid == 0 || pid > INT32_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid pid %u.", pid);

        int pidfd = pidfd_open((pid_t) pid, 0);
        if (pidfd < 0) {
                if (errno == ESRCH)
                        return sd_bus_error_setf(error, CW_ERROR_NO_SUCH_PROCESS, "No process has pid %u.", pid);
                if (errno == ENOSYS)
                        return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "This system has no pidfds.");
                if (errno == EMFILE || errno == ENFILE)
                        return sd_bus_error_set(error, CW_ERROR_LIMIT_EXCEEDED, "Out of file descriptors.");
                return -errno;
        }
        return adopt(userdata, m, pidfd, error);
}

static int method_get_process(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Manager *manager = userdata;
        uint32_t pid;
        int r;

        r = sd_bus_message_read(m, "u", &pid);
        if (r < 0)
                return r;
        Child *c = pid > 0 && pid <= INT32_MAX ? manager_get_child_by_pid(manager, (pid_t) pid) : NULL;
        if (c && manager->multi_user) {
                /* Another user's process does not exist for the caller. */
                Client *client;
                r = client_get(manager, m, &client);
                if (r < 0)
                        return r;
                if (!manager_may_see(manager, client->uid, c))
                        c = NULL;
        }
        if (!c || !c->has_object)
                return sd_bus_error_setf(error, CW_ERROR_NO_SUCH_PROCESS, "No watched process has pid %u.", pid);

        char buf[CHILD_PATH_MAX];
        return sd_bus_reply_method_return(m, "o", child_object_path(c, buf));
}

static int compare_by_id(const void *a, const void *b) {
        const Child *x = *(Child * const *) a, *y = *(Child * const *) b;
        return x->id < y->id ? -1 : x->id > y->id;
}

static int method_list_processes(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Child **list = NULL;
        Manager *manager = userdata;
        size_t n = 0;
        Child *c;
        int r;

        uid_t uid = 0;
        if (manager->multi_user) {
                Client *client;
                r = client_get(manager, m, &client);
                if (r < 0)
                        return r;
                uid = client->uid;
        }
        list = malloc((hashmap_size(&manager->children_by_id) + 1) * sizeof(Child *));
        if (!list)
                return -ENOMEM;
        /* An upper bound of each entry: alignment, path, pid, state and description. */
        size_t size = 64;
        HASHMAP_FOREACH(c, &manager->children_by_id, i)
                if (manager_may_see(manager, uid, c)) {
                        list[n++] = c;
                        size += 7 + (8 + CHILD_PATH_MAX) + 4 + (8 + strlen(child_state_to_string(c->state))) +
                                (8 + strlen(child_description(c)));
                }
        r = bus_reply_check_size(manager, size, "ListProcesses", error);
        if (r < 0)
                return r;
        qsort(list, n, sizeof(Child *), compare_by_id);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ouss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char buf[CHILD_PATH_MAX];
                r = sd_bus_message_append(reply, "(ouss)", child_object_path(list[i], buf), (uint32_t) list[i]->pid,
                                          child_state_to_string(list[i]->state), child_description(list[i]));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *features[8];
        size_t n = 0;
        int r;

        if (m->use_pidfd)
                features[n++] = "pidfd";
        if (m->use_pidfd && m->has_exit_info)
                features[n++] = "exit-info";
        if (m->subreaper)
                features[n++] = "subreaper";
        features[n++] = m->tree_mode == TREE_MODE_CGROUP ? "tree-cgroup" : "tree-process-group";
        if (m->multi_user)
                features[n++] = "multi-user";

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append_basic(reply, 's', features[i]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 's', PROJECT_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Features", "as", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Spawn", SD_BUS_ARGS("as", argv, "a{sv}", options),
                                SD_BUS_RESULT("o", process, "u", pid), method_spawn, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Adopt", SD_BUS_ARGS("h", pidfd, "a{sv}", options),
                                SD_BUS_RESULT("o", process, "u", pid), method_adopt, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AdoptPid", SD_BUS_ARGS("u", pid, "a{sv}", options),
                                SD_BUS_RESULT("o", process, "u", pid), method_adopt_pid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetProcess", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("o", process),
                                method_get_process, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListProcesses", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ouss)", processes),
                                method_list_processes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int bus_manager_register(Manager *m) {
        return sd_bus_add_object_vtable(m->bus, NULL, CW_MANAGER_PATH, CW_MANAGER_INTERFACE, manager_vtable, m);
}
