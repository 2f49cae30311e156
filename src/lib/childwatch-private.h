/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of libchildwatch share and do not export (the version script exports childwatch_*
 * only, so these _childwatch_* names stay inside the library). */

#include "childwatch.h"

#define CHILDWATCH_MANAGER_IFACE "org.childwatch.ChildWatch1.Manager"
#define CHILDWATCH_PROCESS_IFACE "org.childwatch.ChildWatch1.Process"

/* Strips the "GDBus.Error:NAME: " prefix from a remote error, so that messages read as the service
 * wrote them. The domain and code stay as the registration mapped them. */
void _childwatch_error_strip(GError *error);

/* ---- ChildwatchClient, for ChildwatchChild ---- */

/* The main context the client (and its children) emit in and run their callbacks in. */
GMainContext *_childwatch_client_get_context(ChildwatchClient *client);
/* Routes the StateChanged signals of @path to @child from now on; hands over the events of @path
 * that arrived while its Spawn() call was in flight. */
void _childwatch_client_register_child(ChildwatchClient *client, ChildwatchChild *child);
/* Stops the routing, if @child is still the one registered for its path. */
void _childwatch_client_unregister_child(ChildwatchClient *client, ChildwatchChild *child);

/* ---- ChildwatchChild, for ChildwatchClient ---- */

/* A child of @client for a process object that Spawn() just answered; not yet handed out, so its
 * events are kept until _childwatch_child_hand_out(). The proxy comes later. */
ChildwatchChild *_childwatch_child_new(ChildwatchClient *client, const char *object_path, guint32 pid);
void _childwatch_child_set_proxy(ChildwatchChild *child, ChildwatchProcess *proxy);
/* One StateChanged of the process (or a terminal state that a Wait/Kill reply told). */
void _childwatch_child_push_event(ChildwatchChild *child, const char *event, int status);
/* The caller gets the child now: its kept events are emitted from the next main loop iteration,
 * so that a handler connected right after spawn_finish() sees them. */
void _childwatch_child_hand_out(ChildwatchChild *child);
/* Kills (SIGKILL) and releases the process, in the background: for a spawn that was cancelled. */
void _childwatch_child_discard(ChildwatchChild *child);
