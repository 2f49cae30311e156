/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ChildwatchClient: one connection to the service. It owns the single StateChanged subscription of
 * the connection and routes each signal to the ChildwatchChild of its object path, so that a child
 * needs no match rule of its own and no event can fall between a Spawn() reply and the moment a
 * child starts listening: the subscription exists before the first Spawn() is sent, and what
 * arrives for a path nobody claimed yet is kept while a Spawn() call is in flight. */

#include "childwatch-private.h"

#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"

struct _ChildwatchClient {
        GObject parent_instance;

        GDBusConnection *connection;
        ChildwatchManager *manager;
        GMainContext *context; /* where the subscriptions deliver, and children emit */
        guint state_changed_id;
        guint name_owner_changed_id;

        GHashTable *children; /* object path (owned) -> ChildwatchChild* (no ref: it unregisters itself) */
        GHashTable *early_events; /* object path (owned) -> GArray of EarlyEvent */
        guint spawns_in_flight;
};

typedef struct EarlyEvent {
        char *event;
        int status;
} EarlyEvent;

G_DEFINE_FINAL_TYPE(ChildwatchClient, childwatch_client, G_TYPE_OBJECT)

static void early_event_clear(gpointer p) {
        g_free(((EarlyEvent *) p)->event);
}

static GArray *early_events_new(void) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(EarlyEvent));
        g_array_set_clear_func(a, early_event_clear);
        return a;
}

static void on_state_changed(GDBusConnection *connection, const char *sender, const char *path,
                             const char *iface, const char *member, GVariant *params, gpointer user_data) {
        ChildwatchClient *self = user_data;
        ChildwatchChild *child;
        const char *event;
        gint32 status;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(si)")))
                return;
        g_variant_get(params, "(&si)", &event, &status);

        child = g_hash_table_lookup(self->children, path);
        if (child) {
                _childwatch_child_push_event(child, event, status);
                return;
        }
        /* Perhaps the process of a Spawn() whose reply is still on its way (a /bin/true can end
         * before its spawner learns its path). Anything else is someone else's process: on the
         * session bus StateChanged is broadcast. Kept only while a Spawn() is in flight, so this
         * holds no more than what arrives during one call that the service answers right after
         * execve(). */
        if (self->spawns_in_flight == 0)
                return;
        GArray *events = g_hash_table_lookup(self->early_events, path);
        if (!events) {
                events = early_events_new();
                g_hash_table_insert(self->early_events, g_strdup(path), events);
        }
        EarlyEvent e = { g_strdup(event), status };
        g_array_append_val(events, e);
}

static void on_name_owner_changed(GDBusConnection *connection, const char *sender, const char *path,
                                  const char *iface, const char *member, GVariant *params,
                                  gpointer user_data) {
        ChildwatchClient *self = user_data;
        const char *name, *old_owner, *new_owner;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sss)")))
                return;
        g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
        if (old_owner[0] == '\0')
                return;
        /* The service that knew our children is gone, and the next one counts its object paths
         * from 1 again: forget the old paths before a new process can arrive under one of them.
         * The bus sends this before anything of the new owner, and both go through this context
         * in the order they came. */
        g_hash_table_remove_all(self->children);
        g_hash_table_remove_all(self->early_events);
}

static void childwatch_client_dispose(GObject *object) {
        ChildwatchClient *self = CHILDWATCH_CLIENT(object);

        if (self->state_changed_id) {
                g_dbus_connection_signal_unsubscribe(self->connection, self->state_changed_id);
                self->state_changed_id = 0;
        }
        if (self->name_owner_changed_id) {
                g_dbus_connection_signal_unsubscribe(self->connection, self->name_owner_changed_id);
                self->name_owner_changed_id = 0;
        }
        g_clear_object(&self->manager);
        G_OBJECT_CLASS(childwatch_client_parent_class)->dispose(object);
}

static void childwatch_client_finalize(GObject *object) {
        ChildwatchClient *self = CHILDWATCH_CLIENT(object);

        g_clear_pointer(&self->children, g_hash_table_unref);
        g_clear_pointer(&self->early_events, g_hash_table_unref);
        g_clear_pointer(&self->context, g_main_context_unref);
        g_clear_object(&self->connection);
        G_OBJECT_CLASS(childwatch_client_parent_class)->finalize(object);
}

static void childwatch_client_class_init(ChildwatchClientClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = childwatch_client_dispose;
        G_OBJECT_CLASS(klass)->finalize = childwatch_client_finalize;
        /* The error names must be registered before the first answer of the service arrives. */
        (void) CHILDWATCH_ERROR;
}

static void childwatch_client_init(ChildwatchClient *self) {
        self->children = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        self->early_events =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
}

/* The last step of every constructor: the manager proxy is ready. */
static ChildwatchClient *client_new(GDBusConnection *connection, ChildwatchManager *manager) {
        ChildwatchClient *self = g_object_new(CHILDWATCH_TYPE_CLIENT, NULL);

        self->connection = g_object_ref(connection);
        self->manager = g_object_ref(manager);
        self->context = g_main_context_ref_thread_default();
        /* Signals of the service only (the subscription follows its unique name), of every process
         * object: one match rule, however many children. */
        self->state_changed_id = g_dbus_connection_signal_subscribe(
                connection, CHILDWATCH_BUS_NAME, CHILDWATCH_PROCESS_IFACE, "StateChanged", NULL, NULL,
                G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed, self, NULL);
        self->name_owner_changed_id = g_dbus_connection_signal_subscribe(
                connection, DBUS_NAME, DBUS_NAME, "NameOwnerChanged", DBUS_PATH, CHILDWATCH_BUS_NAME,
                G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, self, NULL);
        return self;
}

/* No property cache (GetAll would start the service at once) and no signals of its own (the client
 * has its subscription): the service starts with the first real call. */
#define MANAGER_PROXY_FLAGS                                                                                 \
        (G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |            \
         G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION)

/* ---- Construction ---- */

static void on_manager_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(ChildwatchManager) manager = childwatch_manager_proxy_new_finish(result, &error);

        if (!manager) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        g_task_return_pointer(task, client_new(g_dbus_proxy_get_connection(G_DBUS_PROXY(manager)), manager),
                              g_object_unref);
}

static void new_with_connection(GDBusConnection *connection, GTask *task) {
        childwatch_manager_proxy_new(connection, MANAGER_PROXY_FLAGS, CHILDWATCH_BUS_NAME,
                                     CHILDWATCH_MANAGER_PATH, g_task_get_cancellable(task), on_manager_ready,
                                     task);
}

void childwatch_client_new(GDBusConnection *connection, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(G_IS_DBUS_CONNECTION(connection));

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_client_new);
        new_with_connection(connection, task);
}

static void on_connection_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) connection =
                g_task_get_task_data(task) ? g_dbus_connection_new_for_address_finish(result, &error)
                                           : g_bus_get_finish(result, &error);

        if (!connection) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        new_with_connection(connection, task);
}

void childwatch_client_new_for_bus(GBusType bus_type, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);

        g_task_set_source_tag(task, childwatch_client_new);
        g_bus_get(bus_type, cancellable, on_connection_ready, task);
}

void childwatch_client_new_for_address(const char *address, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(address != NULL);

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_client_new);
        /* Task data tells on_connection_ready() which finish function it needs. */
        g_task_set_task_data(task, g_strdup(address), g_free);
        g_dbus_connection_new_for_address(address,
                                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                          NULL, cancellable, on_connection_ready, task);
}

ChildwatchClient *childwatch_client_new_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == childwatch_client_new, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

ChildwatchClient *childwatch_client_new_sync(GDBusConnection *connection, GCancellable *cancellable,
                                             GError **error) {
        g_return_val_if_fail(G_IS_DBUS_CONNECTION(connection), NULL);

        g_autoptr(ChildwatchManager) manager =
                childwatch_manager_proxy_new_sync(connection, MANAGER_PROXY_FLAGS, CHILDWATCH_BUS_NAME,
                                                  CHILDWATCH_MANAGER_PATH, cancellable, error);
        if (!manager)
                return NULL;
        return client_new(connection, manager);
}

ChildwatchClient *childwatch_client_new_for_bus_sync(GBusType bus_type, GCancellable *cancellable,
                                                     GError **error) {
        g_autoptr(GDBusConnection) connection = g_bus_get_sync(bus_type, cancellable, error);

        if (!connection)
                return NULL;
        return childwatch_client_new_sync(connection, cancellable, error);
}

ChildwatchClient *childwatch_client_new_for_address_sync(const char *address, GCancellable *cancellable,
                                                         GError **error) {
        g_return_val_if_fail(address != NULL, NULL);

        g_autoptr(GDBusConnection) connection = g_dbus_connection_new_for_address_sync(
                address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, cancellable, error);
        if (!connection)
                return NULL;
        return childwatch_client_new_sync(connection, cancellable, error);
}

GDBusConnection *childwatch_client_get_connection(ChildwatchClient *client) {
        g_return_val_if_fail(CHILDWATCH_IS_CLIENT(client), NULL);

        return client->connection;
}

ChildwatchManager *childwatch_client_get_manager(ChildwatchClient *client) {
        g_return_val_if_fail(CHILDWATCH_IS_CLIENT(client), NULL);

        return client->manager;
}

/* ---- For ChildwatchChild ---- */

GMainContext *_childwatch_client_get_context(ChildwatchClient *client) {
        return client->context;
}

void _childwatch_client_register_child(ChildwatchClient *client, ChildwatchChild *child) {
        const char *path = childwatch_child_get_object_path(child);
        g_autoptr(GArray) early = NULL;

        /* Replaces a child of the same path that a NameOwnerChanged has not cleared yet: the new
         * process is the one the service speaks of now. */
        g_hash_table_replace(client->children, g_strdup(path), child);
        if (g_hash_table_steal_extended(client->early_events, path, NULL, (gpointer *) &early))
                for (guint i = 0; i < early->len; i++) {
                        EarlyEvent *e = &g_array_index(early, EarlyEvent, i);
                        _childwatch_child_push_event(child, e->event, e->status);
                }
}

void _childwatch_client_unregister_child(ChildwatchClient *client, ChildwatchChild *child) {
        const char *path = childwatch_child_get_object_path(child);

        if (g_hash_table_lookup(client->children, path) == child)
                g_hash_table_remove(client->children, path);
}

/* ---- Spawn ---- */

/* A Spawn() call has been answered, either way. Events kept for paths that no reply claimed belong to
 * other clients' processes. */
static void spawn_call_done(ChildwatchClient *self) {
        g_assert(self->spawns_in_flight > 0);
        if (--self->spawns_in_flight == 0)
                g_hash_table_remove_all(self->early_events);
}

static GVariant *spawn_options_or_default(ChildwatchSpawnOptions *options, GUnixFDList **ret_fd_list) {
        if (options)
                return childwatch_spawn_options_build(options, ret_fd_list);
        *ret_fd_list = NULL;
        return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

/* Neither a property cache (State and ExitStatus come with the events) nor signals (routed by the
 * client), and no activation: a service that has gone has lost this object anyway. */
#define PROCESS_PROXY_FLAGS                                                                                 \
        (G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |            \
         G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START)

static void on_process_proxy_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        ChildwatchChild *child = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autoptr(ChildwatchProcess) proxy = childwatch_process_proxy_new_finish(result, &error);

        if (!proxy) {
                /* Only a closed connection gets here; the process then outlives its watcher. */
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        _childwatch_child_set_proxy(child, proxy);
        if (g_task_return_error_if_cancelled(task)) {
                _childwatch_child_discard(child);
                return;
        }
        g_task_return_pointer(task, g_object_ref(child), g_object_unref);
}

static void on_spawn_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        ChildwatchClient *self = g_task_get_source_object(task);
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;
        guint pid = 0;

        if (!childwatch_manager_call_spawn_finish(CHILDWATCH_MANAGER(source), &path, &pid, NULL, result,
                                                  &error)) {
                spawn_call_done(self);
                _childwatch_error_strip(error);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        /* Registered before spawn_call_done() may drop the kept events: they are the child's now. */
        g_task_set_task_data(task, _childwatch_child_new(self, path, pid), g_object_unref);
        spawn_call_done(self);
        childwatch_process_proxy_new(self->connection, PROCESS_PROXY_FLAGS, CHILDWATCH_BUS_NAME, path, NULL,
                                     on_process_proxy_ready, g_steal_pointer(&task));
}

void childwatch_client_spawn(ChildwatchClient *client, const char *const *argv,
                             ChildwatchSpawnOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GUnixFDList) fd_list = NULL;
        g_autoptr(GVariant) spawn_options = NULL;
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CLIENT(client));
        g_return_if_fail(argv != NULL && argv[0] != NULL);
        g_return_if_fail(options == NULL || CHILDWATCH_IS_SPAWN_OPTIONS(options));

        task = g_task_new(client, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_client_spawn);
        if (g_task_return_error_if_cancelled(task)) {
                g_object_unref(task);
                return;
        }
        spawn_options = spawn_options_or_default(options, &fd_list);
        client->spawns_in_flight++;
        /* Without the cancellable: a cancelled call may still have started the program, and only its
         * reply says which process to clean up (on_process_proxy_ready()). */
        childwatch_manager_call_spawn(client->manager, argv, spawn_options, G_DBUS_CALL_FLAGS_NONE, -1,
                                      fd_list, NULL, on_spawn_reply, task);
}

ChildwatchChild *childwatch_client_spawn_finish(ChildwatchClient *client, GAsyncResult *result,
                                                GError **error) {
        ChildwatchChild *child;

        g_return_val_if_fail(g_task_is_valid(result, client), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == childwatch_client_spawn, NULL);

        child = g_task_propagate_pointer(G_TASK(result), error);
        if (child)
                _childwatch_child_hand_out(child);
        return child;
}

ChildwatchChild *childwatch_client_spawn_sync(ChildwatchClient *client, const char *const *argv,
                                              ChildwatchSpawnOptions *options, GCancellable *cancellable,
                                              GError **error) {
        g_autoptr(GUnixFDList) fd_list = NULL;
        g_autoptr(GVariant) spawn_options = NULL;
        g_autoptr(GError) local_error = NULL;
        g_autofree char *path = NULL;
        guint pid = 0;

        g_return_val_if_fail(CHILDWATCH_IS_CLIENT(client), NULL);
        g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
        g_return_val_if_fail(options == NULL || CHILDWATCH_IS_SPAWN_OPTIONS(options), NULL);

        if (g_cancellable_set_error_if_cancelled(cancellable, error))
                return NULL;
        spawn_options = spawn_options_or_default(options, &fd_list);
        client->spawns_in_flight++;
        /* Without the cancellable, as in childwatch_client_spawn(). */
        gboolean ok = childwatch_manager_call_spawn_sync(client->manager, argv, spawn_options,
                                                         G_DBUS_CALL_FLAGS_NONE, -1, fd_list, &path, &pid,
                                                         NULL, NULL, &local_error);
        g_autoptr(ChildwatchChild) child = ok ? _childwatch_child_new(client, path, pid) : NULL;
        spawn_call_done(client);
        if (!ok) {
                _childwatch_error_strip(local_error);
                g_propagate_error(error, g_steal_pointer(&local_error));
                return NULL;
        }

        g_autoptr(ChildwatchProcess) proxy = childwatch_process_proxy_new_sync(
                client->connection, PROCESS_PROXY_FLAGS, CHILDWATCH_BUS_NAME, path, NULL, error);
        if (!proxy)
                return NULL;
        _childwatch_child_set_proxy(child, proxy);
        if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
                _childwatch_child_discard(child);
                return NULL;
        }
        _childwatch_child_hand_out(child);
        return g_steal_pointer(&child);
}

/* ---- ListProcesses ---- */

G_DEFINE_BOXED_TYPE(ChildwatchProcessEntry, childwatch_process_entry, childwatch_process_entry_copy,
                    childwatch_process_entry_free)

ChildwatchProcessEntry *childwatch_process_entry_copy(const ChildwatchProcessEntry *entry) {
        ChildwatchProcessEntry *copy;

        g_return_val_if_fail(entry != NULL, NULL);

        copy = g_new0(ChildwatchProcessEntry, 1);
        copy->object_path = g_strdup(entry->object_path);
        copy->pid = entry->pid;
        copy->state = g_strdup(entry->state);
        copy->description = g_strdup(entry->description);
        return copy;
}

void childwatch_process_entry_free(ChildwatchProcessEntry *entry) {
        if (!entry)
                return;
        g_free(entry->object_path);
        g_free(entry->state);
        g_free(entry->description);
        g_free(entry);
}

static GPtrArray *entries_from_variant(GVariant *processes) {
        GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify) childwatch_process_entry_free);
        GVariantIter it;
        const char *path, *state, *description;
        guint32 pid;

        g_variant_iter_init(&it, processes);
        while (g_variant_iter_next(&it, "(&ou&s&s)", &path, &pid, &state, &description)) {
                ChildwatchProcessEntry *e = g_new0(ChildwatchProcessEntry, 1);
                e->object_path = g_strdup(path);
                e->pid = pid;
                e->state = g_strdup(state);
                e->description = g_strdup(description);
                g_ptr_array_add(entries, e);
        }
        return entries;
}

static void on_list_processes_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) processes = NULL;

        if (!childwatch_manager_call_list_processes_finish(CHILDWATCH_MANAGER(source), &processes, result,
                                                           &error)) {
                _childwatch_error_strip(error);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        g_task_return_pointer(task, entries_from_variant(processes), (GDestroyNotify) g_ptr_array_unref);
}

void childwatch_client_list_processes(ChildwatchClient *client, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CLIENT(client));

        task = g_task_new(client, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_client_list_processes);
        childwatch_manager_call_list_processes(client->manager, G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                               on_list_processes_reply, task);
}

GPtrArray *childwatch_client_list_processes_finish(ChildwatchClient *client, GAsyncResult *result,
                                                   GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, client), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == childwatch_client_list_processes,
                             NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

GPtrArray *childwatch_client_list_processes_sync(ChildwatchClient *client, GCancellable *cancellable,
                                                 GError **error) {
        g_autoptr(GVariant) processes = NULL;
        g_autoptr(GError) local_error = NULL;

        g_return_val_if_fail(CHILDWATCH_IS_CLIENT(client), NULL);

        if (!childwatch_manager_call_list_processes_sync(client->manager, G_DBUS_CALL_FLAGS_NONE, -1,
                                                         &processes, cancellable, &local_error)) {
                _childwatch_error_strip(local_error);
                g_propagate_error(error, g_steal_pointer(&local_error));
                return NULL;
        }
        return entries_from_variant(processes);
}
