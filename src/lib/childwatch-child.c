/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ChildwatchChild: one spawned process. Its events come from the client (which routes the
 * StateChanged signals of its object path) and from the replies of Wait() and Kill(), which may
 * overtake the signal; a queue turns both into one ordered series of state-changed emissions with
 * exactly one terminal event. */

#include "childwatch-private.h"

#include <string.h>

struct _ChildwatchChild {
        GObject parent_instance;

        ChildwatchClient *client;
        ChildwatchProcess *proxy;
        char *object_path;
        guint32 pid;
        char *state;
        int exit_status;

        GQueue pending;        /* PendingEvent*, not emitted yet */
        GSource *flush_source; /* emits the pending events from the main loop */
        gboolean handed_out;   /* the caller has the child: events may be emitted */
        gboolean emitting;
        gboolean ended; /* a terminal event is pending or emitted; later events are dropped */
};

typedef struct PendingEvent {
        char *event;
        int status;
} PendingEvent;

enum {
        PROP_0,
        PROP_CLIENT,
        PROP_OBJECT_PATH,
        PROP_PID,
        PROP_STATE,
        PROP_EXIT_STATUS,
        N_PROPS,
};

enum {
        SIGNAL_STATE_CHANGED,
        N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(ChildwatchChild, childwatch_child, G_TYPE_OBJECT)

static void pending_event_free(gpointer p) {
        PendingEvent *e = p;
        g_free(e->event);
        g_free(e);
}

static void childwatch_child_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        ChildwatchChild *self = CHILDWATCH_CHILD(object);

        switch (prop_id) {
        case PROP_CLIENT:
                g_value_set_object(value, self->client);
                break;
        case PROP_OBJECT_PATH:
                g_value_set_string(value, self->object_path);
                break;
        case PROP_PID:
                g_value_set_uint(value, self->pid);
                break;
        case PROP_STATE:
                g_value_set_string(value, self->state);
                break;
        case PROP_EXIT_STATUS:
                g_value_set_int(value, self->exit_status);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void childwatch_child_dispose(GObject *object) {
        ChildwatchChild *self = CHILDWATCH_CHILD(object);

        if (self->flush_source) {
                g_source_destroy(self->flush_source);
                g_clear_pointer(&self->flush_source, g_source_unref);
        }
        if (self->client)
                _childwatch_client_unregister_child(self->client, self);
        g_clear_object(&self->proxy);
        G_OBJECT_CLASS(childwatch_child_parent_class)->dispose(object);
}

static void childwatch_child_finalize(GObject *object) {
        ChildwatchChild *self = CHILDWATCH_CHILD(object);

        g_queue_clear_full(&self->pending, pending_event_free);
        g_free(self->object_path);
        g_free(self->state);
        g_clear_object(&self->client);
        G_OBJECT_CLASS(childwatch_child_parent_class)->finalize(object);
}

static void childwatch_child_class_init(ChildwatchChildClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->get_property = childwatch_child_get_property;
        object_class->dispose = childwatch_child_dispose;
        object_class->finalize = childwatch_child_finalize;

        properties[PROP_CLIENT] =
                g_param_spec_object("client", "Client", "The client that spawned it", CHILDWATCH_TYPE_CLIENT,
                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        properties[PROP_OBJECT_PATH] =
                g_param_spec_string("object-path", "Object path", "The process object", NULL,
                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        properties[PROP_PID] = g_param_spec_uint("pid", "Pid", "The process ID", 0, G_MAXUINT32, 0,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        properties[PROP_STATE] = g_param_spec_string("state", "State", "The state after the emitted events",
                                                     "running", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        properties[PROP_EXIT_STATUS] =
                g_param_spec_int("exit-status", "Exit status", "Exit code or signal number, as ExitStatus",
                                 G_MININT, G_MAXINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        g_object_class_install_properties(object_class, N_PROPS, properties);

        signals[SIGNAL_STATE_CHANGED] =
                g_signal_new("state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                             NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
        (void) CHILDWATCH_ERROR;
}

static void childwatch_child_init(ChildwatchChild *self) {
        g_queue_init(&self->pending);
        self->state = g_strdup("running");
}

ChildwatchChild *_childwatch_child_new(ChildwatchClient *client, const char *object_path, guint32 pid) {
        ChildwatchChild *self = g_object_new(CHILDWATCH_TYPE_CHILD, NULL);

        self->client = g_object_ref(client);
        self->object_path = g_strdup(object_path);
        self->pid = pid;
        _childwatch_client_register_child(client, self);
        return self;
}

void _childwatch_child_set_proxy(ChildwatchChild *child, ChildwatchProcess *proxy) {
        g_set_object(&child->proxy, proxy);
}

/* What an event makes of State and ExitStatus (as the service sets its properties). */
static void apply_event(ChildwatchChild *self, const PendingEvent *e) {
        const char *state = self->state;
        int exit_status = self->exit_status;

        if (childwatch_event_is_terminal(e->event)) {
                state = e->event;
                exit_status = e->status;
        } else if (strcmp(e->event, "stopped") == 0) {
                state = "stopped";
                exit_status = e->status;
        } else if (strcmp(e->event, "continued") == 0) {
                state = "running";
                exit_status = 0;
        } /* else an event this version does not know: no change of state */

        g_object_freeze_notify(G_OBJECT(self));
        if (strcmp(state, self->state) != 0) {
                char *old = self->state;
                self->state = g_strdup(state);
                g_free(old);
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
        }
        if (exit_status != self->exit_status) {
                self->exit_status = exit_status;
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_EXIT_STATUS]);
        }
        g_object_thaw_notify(G_OBJECT(self));
}

static void flush(ChildwatchChild *self) {
        PendingEvent *e;

        /* A handler may push (a reply dispatched from a nested loop): the loop below takes it. */
        if (self->emitting)
                return;
        self->emitting = TRUE;
        g_object_ref(self); /* a handler may drop the last reference */
        while ((e = g_queue_pop_head(&self->pending))) {
                apply_event(self, e);
                g_signal_emit(self, signals[SIGNAL_STATE_CHANGED], 0, e->event, e->status);
                pending_event_free(e);
        }
        self->emitting = FALSE;
        g_object_unref(self);
}

/* Emits now, in the order queued, and drops a scheduled flush that has nothing left to do. */
static void flush_now(ChildwatchChild *self) {
        if (self->flush_source) {
                g_source_destroy(self->flush_source);
                g_clear_pointer(&self->flush_source, g_source_unref);
        }
        flush(self);
}

static gboolean on_flush(gpointer user_data) {
        ChildwatchChild *self = user_data;

        g_clear_pointer(&self->flush_source, g_source_unref);
        flush(self);
        return G_SOURCE_REMOVE;
}

void _childwatch_child_push_event(ChildwatchChild *child, const char *event, int status) {
        PendingEvent *e;

        /* Exactly one terminal event: Wait()'s reply and the StateChanged signal both tell it. */
        if (child->ended)
                return;
        if (childwatch_event_is_terminal(event))
                child->ended = TRUE;

        e = g_new0(PendingEvent, 1);
        e->event = g_strdup(event);
        e->status = status;
        g_queue_push_tail(&child->pending, e);
        /* With a flush scheduled, emitting now would overtake the events it holds. */
        if (child->handed_out && !child->flush_source)
                flush(child);
}

void _childwatch_child_hand_out(ChildwatchChild *child) {
        if (child->handed_out)
                return;
        child->handed_out = TRUE;
        if (g_queue_is_empty(&child->pending))
                return;
        /* Not now: the caller connects its handlers only after spawn_finish() has returned. */
        child->flush_source = g_idle_source_new();
        g_source_set_priority(child->flush_source, G_PRIORITY_DEFAULT);
        g_source_set_callback(child->flush_source, on_flush, g_object_ref(child), g_object_unref);
        g_source_set_static_name(child->flush_source, "[childwatch] state-changed");
        g_source_attach(child->flush_source, _childwatch_client_get_context(child->client));
}

/* ---- Discarding the process of a cancelled spawn ---- */

/* Best effort, both steps: nobody waits for the outcome, and a process that has gone already is fine. */
static void finish_ignoring_errors(GDBusConnection *connection, GAsyncResult *result) {
        GVariant *reply = g_dbus_connection_call_finish(connection, result, NULL);
        if (reply)
                g_variant_unref(reply);
}

static void on_discard_released(GObject *source, GAsyncResult *result, gpointer user_data) {
        finish_ignoring_errors(G_DBUS_CONNECTION(source), result);
}

static void on_discard_killed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autofree char *path = user_data;

        finish_ignoring_errors(G_DBUS_CONNECTION(source), result);
        g_dbus_connection_call(G_DBUS_CONNECTION(source), CHILDWATCH_BUS_NAME, path,
                               CHILDWATCH_PROCESS_IFACE, "Release", NULL, NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, on_discard_released, NULL);
}

void _childwatch_child_discard(ChildwatchChild *child) {
        /* Plain calls rather than the proxy: they must outlive the child, which nobody holds. Kill(0)
         * answers once the process has been reaped; only then does Release() remove the object. */
        g_dbus_connection_call(childwatch_client_get_connection(child->client), CHILDWATCH_BUS_NAME,
                               child->object_path, CHILDWATCH_PROCESS_IFACE, "Kill",
                               g_variant_new("(t)", (guint64) 0), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                               G_MAXINT, NULL, on_discard_killed, g_strdup(child->object_path));
}

/* ---- Getters ---- */

ChildwatchClient *childwatch_child_get_client(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), NULL);
        return child->client;
}

ChildwatchProcess *childwatch_child_get_proxy(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), NULL);
        return child->proxy;
}

const char *childwatch_child_get_object_path(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), NULL);
        return child->object_path;
}

guint32 childwatch_child_get_pid(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), 0);
        return child->pid;
}

const char *childwatch_child_get_state(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), NULL);
        return child->state;
}

int childwatch_child_get_exit_status(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), 0);
        return child->exit_status;
}

gboolean childwatch_child_has_ended(ChildwatchChild *child) {
        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), FALSE);
        return childwatch_event_is_terminal(child->state);
}

/* ---- Wait and Kill: both answer (s state, i status) once the process has ended ---- */

typedef struct EndResult {
        char *state;
        int status;
} EndResult;

static void end_result_free(gpointer p) {
        EndResult *r = p;
        g_free(r->state);
        g_free(r);
}

static void on_end_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        ChildwatchChild *self = g_task_get_source_object(task);
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        int status = 0;
        gboolean ok;

        if (g_task_get_source_tag(task) == childwatch_child_wait)
                ok = childwatch_process_call_wait_finish(CHILDWATCH_PROCESS(source), &state, &status, result,
                                                         &error);
        else
                ok = childwatch_process_call_kill_finish(CHILDWATCH_PROCESS(source), &state, &status, result,
                                                         &error);
        if (!ok) {
                _childwatch_error_strip(error);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }

        /* The reply can come before the StateChanged signal of the end, or the signal sits in the
         * queue: either way the caller's callback sees the terminal event emitted. */
        if (childwatch_event_is_terminal(state))
                _childwatch_child_push_event(self, state, status);
        if (self->handed_out)
                flush_now(self);

        EndResult *r = g_new0(EndResult, 1);
        r->state = g_steal_pointer(&state);
        r->status = status;
        g_task_return_pointer(task, r, end_result_free);
}

static gboolean end_finish(ChildwatchChild *child, GAsyncResult *result, gpointer tag, char **ret_state,
                           int *ret_status, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, child), FALSE);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, FALSE);

        EndResult *r = g_task_propagate_pointer(G_TASK(result), error);
        if (!r)
                return FALSE;
        if (ret_state)
                *ret_state = g_steal_pointer(&r->state);
        if (ret_status)
                *ret_status = r->status;
        end_result_free(r);
        return TRUE;
}

void childwatch_child_wait(ChildwatchChild *child, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data) {
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CHILD(child));

        task = g_task_new(child, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_child_wait);
        /* No timeout: Wait() answers when the process ends, however long it runs. */
        childwatch_process_call_wait(child->proxy, G_DBUS_CALL_FLAGS_NONE, G_MAXINT, cancellable,
                                     on_end_reply, task);
}

gboolean childwatch_child_wait_finish(ChildwatchChild *child, GAsyncResult *result, char **ret_state,
                                      int *ret_status, GError **error) {
        return end_finish(child, result, childwatch_child_wait, ret_state, ret_status, error);
}

void childwatch_child_kill(ChildwatchChild *child, guint64 timeout_usec, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CHILD(child));

        task = g_task_new(child, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_child_kill);
        /* No timeout: the service answers after @timeout_usec at most, plus the time to reap. */
        childwatch_process_call_kill(child->proxy, timeout_usec, G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                                     cancellable, on_end_reply, task);
}

gboolean childwatch_child_kill_finish(ChildwatchChild *child, GAsyncResult *result, char **ret_state,
                                      int *ret_status, GError **error) {
        return end_finish(child, result, childwatch_child_kill, ret_state, ret_status, error);
}

/* ---- SendSignal and Release: no answer but success ---- */

static void on_void_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok;

        if (g_task_get_source_tag(task) == childwatch_child_send_signal)
                ok = childwatch_process_call_send_signal_finish(CHILDWATCH_PROCESS(source), result, &error);
        else
                ok = childwatch_process_call_release_finish(CHILDWATCH_PROCESS(source), result, &error);
        if (!ok) {
                _childwatch_error_strip(error);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        g_task_return_boolean(task, TRUE);
}

static gboolean void_finish(ChildwatchChild *child, GAsyncResult *result, gpointer tag, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, child), FALSE);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

void childwatch_child_send_signal(ChildwatchChild *child, int signum, gboolean process_group,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data) {
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CHILD(child));

        task = g_task_new(child, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_child_send_signal);
        childwatch_process_call_send_signal(child->proxy, signum, process_group, G_DBUS_CALL_FLAGS_NONE, -1,
                                            cancellable, on_void_reply, task);
}

gboolean childwatch_child_send_signal_finish(ChildwatchChild *child, GAsyncResult *result, GError **error) {
        return void_finish(child, result, childwatch_child_send_signal, error);
}

gboolean childwatch_child_send_signal_sync(ChildwatchChild *child, int signum, gboolean process_group,
                                           GCancellable *cancellable, GError **error) {
        g_autoptr(GError) local_error = NULL;

        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), FALSE);

        if (!childwatch_process_call_send_signal_sync(child->proxy, signum, process_group,
                                                      G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                                      &local_error)) {
                _childwatch_error_strip(local_error);
                g_propagate_error(error, g_steal_pointer(&local_error));
                return FALSE;
        }
        return TRUE;
}

void childwatch_child_release(ChildwatchChild *child, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(CHILDWATCH_IS_CHILD(child));

        task = g_task_new(child, cancellable, callback, user_data);
        g_task_set_source_tag(task, childwatch_child_release);
        childwatch_process_call_release(child->proxy, G_DBUS_CALL_FLAGS_NONE, -1, cancellable, on_void_reply,
                                        task);
}

gboolean childwatch_child_release_finish(ChildwatchChild *child, GAsyncResult *result, GError **error) {
        return void_finish(child, result, childwatch_child_release, error);
}

gboolean childwatch_child_release_sync(ChildwatchChild *child, GCancellable *cancellable, GError **error) {
        g_autoptr(GError) local_error = NULL;

        g_return_val_if_fail(CHILDWATCH_IS_CHILD(child), FALSE);

        if (!childwatch_process_call_release_sync(child->proxy, G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                                  &local_error)) {
                _childwatch_error_strip(local_error);
                g_propagate_error(error, g_steal_pointer(&local_error));
                return FALSE;
        }
        return TRUE;
}
