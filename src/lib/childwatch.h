/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libchildwatch: a GLib client of the childwatch D-Bus service
 * (org.childwatch.ChildWatch1, see its interface XML and docs/api.md).
 *
 * Two layers:
 *  - childwatch-generated.h: proxies made by gdbus-codegen from the interface XML
 *    (#ChildwatchManager, #ChildwatchProcess, namespace Childwatch), for every method and
 *    property of the interface;
 *  - this header: #ChildwatchClient, #ChildwatchChild and #ChildwatchSpawnOptions, which make the
 *    common case (start a program, be told when it changes state, wait for its end) one call each,
 *    and the %CHILDWATCH_ERROR domain.
 *
 * Threads: a #ChildwatchClient and its children belong to the thread-default main context that
 * was current when the client was created: their signals are emitted and their callbacks run
 * there, and they must be used from that context's thread.
 */

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "childwatch-generated.h"

G_BEGIN_DECLS

/**
 * CHILDWATCH_BUS_NAME:
 *
 * The well-known bus name of the service.
 */
#define CHILDWATCH_BUS_NAME "org.childwatch.ChildWatch1"

/**
 * CHILDWATCH_MANAGER_PATH:
 *
 * The object path of the manager object.
 */
#define CHILDWATCH_MANAGER_PATH "/org/childwatch/ChildWatch1"

/* ---- Errors ------------------------------------------------------------------------------------ */

/**
 * CHILDWATCH_ERROR:
 *
 * The error domain of the service's own D-Bus errors
 * (org.childwatch.ChildWatch1.Error.*). It is registered with
 * g_dbus_error_register_error_domain(), so an error that the service
 * answers arrives in this domain, with the matching #ChildwatchError code.
 * The functions of this header strip the remote error name from the message
 * (g_dbus_error_strip_remote_error()); errors of the generated proxies keep it.
 * The standard errors of D-Bus (org.freedesktop.DBus.Error.InvalidArgs,
 * AccessDenied, UnknownObject, NotSupported) arrive as the matching
 * #GDBusError codes.
 *
 * The registration happens when the domain's quark is first asked for.
 * Creating a #ChildwatchClient does that; code that uses only the generated
 * proxies calls childwatch_error_quark() once before its first call.
 */
#define CHILDWATCH_ERROR (childwatch_error_quark())

/**
 * ChildwatchError:
 * @CHILDWATCH_ERROR_SPAWN_FAILED: org.childwatch.ChildWatch1.Error.SpawnFailed: the program
 *   could not be started; the message names the failed step and the errno text, for example
 *   "execve(/nonexistent): No such file or directory".
 * @CHILDWATCH_ERROR_NO_SUCH_PROCESS: org.childwatch.ChildWatch1.Error.NoSuchProcess: no
 *   watched process has that pid, or it has ended already.
 * @CHILDWATCH_ERROR_NOT_RUNNING: org.childwatch.ChildWatch1.Error.NotRunning: the process
 *   has ended, so it cannot be signalled.
 * @CHILDWATCH_ERROR_ALREADY_WATCHED: org.childwatch.ChildWatch1.Error.AlreadyWatched: Adopt()
 *   of a process that is watched already.
 * @CHILDWATCH_ERROR_LIMIT_EXCEEDED: org.childwatch.ChildWatch1.Error.LimitExceeded: a limit of
 *   the service (running processes, pending calls, sizes) is reached; also set by the library
 *   itself, before any call, for more descriptors than one call can pass
 *   (%CHILDWATCH_MAX_FDS_PER_CALL).
 *
 * The codes of %CHILDWATCH_ERROR, one per error name of the interface.
 */
typedef enum {
        CHILDWATCH_ERROR_SPAWN_FAILED,
        CHILDWATCH_ERROR_NO_SUCH_PROCESS,
        CHILDWATCH_ERROR_NOT_RUNNING,
        CHILDWATCH_ERROR_ALREADY_WATCHED,
        CHILDWATCH_ERROR_LIMIT_EXCEEDED,
} ChildwatchError;

/**
 * childwatch_error_quark:
 *
 * Returns: the quark of %CHILDWATCH_ERROR; the first call registers the
 *   D-Bus error names of the domain.
 */
GQuark childwatch_error_quark(void);

/**
 * childwatch_event_is_terminal:
 * @event: an event of #ChildwatchChild::state-changed, or a state
 *
 * Returns: whether @event ends the process: "exited", "killed", "dumped" or
 *   "vanished".
 */
gboolean childwatch_event_is_terminal(const char *event);

/* ---- Spawn options ----------------------------------------------------------------------------- */

/**
 * CHILDWATCH_MAX_FDS_PER_CALL:
 *
 * The most file descriptors that one Spawn() call may pass: "stdin", "stdout",
 * "stderr" and the entries of "fds" together, as they all travel in one D-Bus
 * message. It is dbus-daemon's default max_message_unix_fds (16), which
 * neither its session.conf nor its system.conf raises: a client that sends a
 * message with more is disconnected from the bus, not answered with an error.
 * The service itself would take 240 "fds" entries.
 * childwatch_spawn_options_pass_fd() refuses more.
 */
#define CHILDWATCH_MAX_FDS_PER_CALL 16

/**
 * ChildwatchSpawnOptions:
 *
 * A builder of the options of Spawn() (an a{sv}) together with the file
 * descriptors they pass. Keys and types are those of the interface XML:
 * "cwd" s, "environment" as, "clear-environment" b, "unset-environment" as,
 * "new-session" b, "tree" b, "events" as, "watch-bus" b, "kill-on-release" b,
 * "kill-signal" i, "kill-timeout-usec" t, "description" s; the descriptors
 * ("stdin", "stdout", "stderr", "fds") are set with
 * childwatch_spawn_options_pass_fd() only. The service checks the values.
 */
#define CHILDWATCH_TYPE_SPAWN_OPTIONS (childwatch_spawn_options_get_type())
G_DECLARE_FINAL_TYPE(ChildwatchSpawnOptions, childwatch_spawn_options, CHILDWATCH, SPAWN_OPTIONS, GObject)

/**
 * childwatch_spawn_options_new:
 *
 * Returns: (transfer full): empty options: every option has its default.
 */
ChildwatchSpawnOptions *childwatch_spawn_options_new(void);

/**
 * childwatch_spawn_options_set_option:
 * @options: a #ChildwatchSpawnOptions
 * @key: an option name other than "stdin", "stdout", "stderr" and "fds"
 * @value: its value; a floating reference is taken over
 *
 * Sets an option, replacing an earlier value of the same @key.
 */
void childwatch_spawn_options_set_option(ChildwatchSpawnOptions *options, const char *key, GVariant *value);

/**
 * childwatch_spawn_options_set_cwd:
 * @options: a #ChildwatchSpawnOptions
 * @cwd: an absolute path
 *
 * Sets the working directory ("cwd").
 */
void childwatch_spawn_options_set_cwd(ChildwatchSpawnOptions *options, const char *cwd);

/**
 * childwatch_spawn_options_setenv:
 * @options: a #ChildwatchSpawnOptions
 * @name: a variable name
 * @value: its value
 *
 * Adds NAME=VALUE to "environment" (set on top of the base environment; of
 * several entries for a name the last one wins).
 */
void childwatch_spawn_options_setenv(ChildwatchSpawnOptions *options, const char *name, const char *value);

/**
 * childwatch_spawn_options_unsetenv:
 * @options: a #ChildwatchSpawnOptions
 * @name: a variable name
 *
 * Adds @name to "unset-environment": it is removed from the base
 * environment, before "environment" is applied.
 */
void childwatch_spawn_options_unsetenv(ChildwatchSpawnOptions *options, const char *name);

/**
 * childwatch_spawn_options_pass_fd:
 * @options: a #ChildwatchSpawnOptions
 * @fd: a file descriptor of the caller; it is duplicated, the caller keeps @fd
 * @target_fd: the descriptor number it gets in the new process: 0, 1 and 2 set
 *   "stdin", "stdout" and "stderr", 3 and above an entry of "fds"
 * @error: return location for a #GError
 *
 * Passes a file descriptor to the new process. The duplicate stays open as
 * long as @options exist (they may spawn again): drop them after the spawn,
 * for example so that the read end of a pipe sees its end. Passing another
 * descriptor for a @target_fd that has one already replaces it.
 *
 * At most %CHILDWATCH_MAX_FDS_PER_CALL targets (0, 1 and 2 included) can be
 * passed, the most a message bus carries in one message by default: one more
 * fails with %CHILDWATCH_ERROR_LIMIT_EXCEEDED here, before anything is sent,
 * instead of the bus disconnecting the client at the spawn.
 *
 * Returns: %TRUE, or %FALSE with @error set when @fd cannot be duplicated
 *   (a #G_IO_ERROR) or when @target_fd would be one too many
 *   (%CHILDWATCH_ERROR_LIMIT_EXCEEDED); @options are unchanged then.
 */
gboolean childwatch_spawn_options_pass_fd(ChildwatchSpawnOptions *options, int fd, int target_fd,
                                          GError **error);

/**
 * childwatch_spawn_options_build:
 * @options: a #ChildwatchSpawnOptions
 * @ret_fd_list: (out) (transfer full) (optional): the descriptors that the
 *   handles of the returned options refer to, or %NULL when none were passed
 *
 * The options as the Spawn() method takes them, for a call through the
 * generated #ChildwatchManager proxy. @options can be built again.
 *
 * Returns: (transfer full): a non-floating a{sv}
 */
GVariant *childwatch_spawn_options_build(ChildwatchSpawnOptions *options, GUnixFDList **ret_fd_list);

/* ---- Client -------------------------------------------------------------------------------------- */

/**
 * ChildwatchClient:
 *
 * A connection to the childwatch service: spawns processes as
 * #ChildwatchChild objects and keeps them up to date. Creating it does not
 * start the service; the bus activates it on the first call.
 */
#define CHILDWATCH_TYPE_CLIENT (childwatch_client_get_type())
G_DECLARE_FINAL_TYPE(ChildwatchClient, childwatch_client, CHILDWATCH, CLIENT, GObject)

/**
 * childwatch_client_new:
 * @connection: a message bus connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result, in the thread-default main context of the caller
 * @user_data: data for @callback
 *
 * Creates a client of the service on @connection. Finish with
 * childwatch_client_new_finish().
 */
void childwatch_client_new(GDBusConnection *connection, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_client_new_for_bus:
 * @bus_type: %G_BUS_TYPE_SESSION (where the service runs for one user) or
 *   %G_BUS_TYPE_SYSTEM (multi-user mode)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * As childwatch_client_new(), on the shared connection to a well-known bus.
 * Finish with childwatch_client_new_finish().
 */
void childwatch_client_new_for_bus(GBusType bus_type, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_client_new_for_address:
 * @address: a D-Bus address of a message bus
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * As childwatch_client_new(), on a new private connection to the bus at
 * @address. Finish with childwatch_client_new_finish().
 */
void childwatch_client_new_for_address(const char *address, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_client_new_finish:
 * @result: the #GAsyncResult of one of the childwatch_client_new*() calls
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
ChildwatchClient *childwatch_client_new_finish(GAsyncResult *result, GError **error);

/**
 * childwatch_client_new_sync:
 * @connection: a message bus connection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_client_new().
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
ChildwatchClient *childwatch_client_new_sync(GDBusConnection *connection, GCancellable *cancellable,
                                             GError **error);

/**
 * childwatch_client_new_for_bus_sync:
 * @bus_type: as for childwatch_client_new_for_bus()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_client_new_for_bus().
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
ChildwatchClient *childwatch_client_new_for_bus_sync(GBusType bus_type, GCancellable *cancellable,
                                                     GError **error);

/**
 * childwatch_client_new_for_address_sync:
 * @address: a D-Bus address of a message bus
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_client_new_for_address().
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
ChildwatchClient *childwatch_client_new_for_address_sync(const char *address, GCancellable *cancellable,
                                                         GError **error);

/**
 * childwatch_client_get_connection:
 * @client: a #ChildwatchClient
 *
 * Returns: (transfer none): the bus connection of @client
 */
GDBusConnection *childwatch_client_get_connection(ChildwatchClient *client);

/**
 * childwatch_client_get_manager:
 * @client: a #ChildwatchClient
 *
 * The generated proxy of the manager object, for the methods this header
 * does not wrap (Adopt, AdoptPid, GetProcess). It is made without a property
 * cache and does not start the service by itself; its calls do.
 *
 * Returns: (transfer none): the proxy
 */
ChildwatchManager *childwatch_client_get_manager(ChildwatchClient *client);

/**
 * ChildwatchChild:
 *
 * One process spawned through a #ChildwatchClient, as its process object
 * /org/childwatch/ChildWatch1/process/ID sees it.
 *
 * Every StateChanged signal of the object becomes one
 * #ChildwatchChild::state-changed emission, in order, with exactly one
 * terminal event ("exited", "killed", "dumped" or "vanished") and nothing
 * after it. None is lost to a race: the client listens before it calls
 * Spawn(), so a program that ends before Spawn() has even replied is still
 * reported. Events that happened before childwatch_client_spawn_finish()
 * (or _sync()) handed the child out are emitted from the main context in a
 * later iteration, so a handler connected right after that call sees all of
 * them. #ChildwatchChild:state and #ChildwatchChild:exit-status follow the
 * emitted events.
 */
#define CHILDWATCH_TYPE_CHILD (childwatch_child_get_type())
G_DECLARE_FINAL_TYPE(ChildwatchChild, childwatch_child, CHILDWATCH, CHILD, GObject)

/**
 * childwatch_client_spawn:
 * @client: a #ChildwatchClient
 * @argv: (array zero-terminated=1): the program and its arguments; argv[0]
 *   without a slash is looked up in PATH
 * @options: (nullable): options, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the program runs (after its execve()) or could not
 *   be started
 * @user_data: data for @callback
 *
 * Starts @argv through the service. Finish with
 * childwatch_client_spawn_finish().
 *
 * Cancelling once the call is sent does not stop it: when the reply says
 * that the program was started after all, the client kills (SIGKILL) and
 * releases it, and the result is %G_IO_ERROR_CANCELLED.
 */
void childwatch_client_spawn(ChildwatchClient *client, const char *const *argv,
                             ChildwatchSpawnOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_client_spawn_finish:
 * @client: a #ChildwatchClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError: %CHILDWATCH_ERROR_SPAWN_FAILED,
 *   %CHILDWATCH_ERROR_LIMIT_EXCEEDED, %G_DBUS_ERROR_INVALID_ARGS, ...
 *
 * Returns: (transfer full): the running child, or %NULL with @error set
 */
ChildwatchChild *childwatch_client_spawn_finish(ChildwatchClient *client, GAsyncResult *result,
                                                GError **error);

/**
 * childwatch_client_spawn_sync:
 * @client: a #ChildwatchClient
 * @argv: (array zero-terminated=1): as for childwatch_client_spawn()
 * @options: (nullable): options, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_client_spawn(). Events are emitted once
 * the client's main context runs.
 *
 * Returns: (transfer full): the running child, or %NULL with @error set
 */
ChildwatchChild *childwatch_client_spawn_sync(ChildwatchClient *client, const char *const *argv,
                                              ChildwatchSpawnOptions *options, GCancellable *cancellable,
                                              GError **error);

/**
 * ChildwatchProcessEntry:
 * @object_path: the process object
 * @pid: its process ID
 * @state: its State: "running", "stopped", "exited", "killed", "dumped" or "vanished"
 * @description: its Description
 *
 * One entry of childwatch_client_list_processes().
 */
typedef struct {
        char *object_path;
        guint32 pid;
        char *state;
        char *description;
} ChildwatchProcessEntry;

#define CHILDWATCH_TYPE_PROCESS_ENTRY (childwatch_process_entry_get_type())
GType childwatch_process_entry_get_type(void) G_GNUC_CONST;
/**
 * childwatch_process_entry_copy:
 * @entry: a #ChildwatchProcessEntry
 *
 * Returns: (transfer full): a deep copy of @entry
 */
ChildwatchProcessEntry *childwatch_process_entry_copy(const ChildwatchProcessEntry *entry);
/**
 * childwatch_process_entry_free:
 * @entry: (nullable): a #ChildwatchProcessEntry
 *
 * Frees @entry and its strings.
 */
void childwatch_process_entry_free(ChildwatchProcessEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChildwatchProcessEntry, childwatch_process_entry_free)

/**
 * childwatch_client_list_processes:
 * @client: a #ChildwatchClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Lists the process objects that the caller may see (ListProcesses()),
 * running and ended ones, in the order of their ID. Finish with
 * childwatch_client_list_processes_finish().
 */
void childwatch_client_list_processes(ChildwatchClient *client, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_client_list_processes_finish:
 * @client: a #ChildwatchClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type ChildwatchProcessEntry): the
 *   entries (the array frees them), or %NULL with @error set
 */
GPtrArray *childwatch_client_list_processes_finish(ChildwatchClient *client, GAsyncResult *result,
                                                   GError **error);

/**
 * childwatch_client_list_processes_sync:
 * @client: a #ChildwatchClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_client_list_processes().
 *
 * Returns: (transfer container) (element-type ChildwatchProcessEntry): the
 *   entries, or %NULL with @error set
 */
GPtrArray *childwatch_client_list_processes_sync(ChildwatchClient *client, GCancellable *cancellable,
                                                 GError **error);

/* ---- Child --------------------------------------------------------------------------------------- */

/**
 * ChildwatchChild::state-changed:
 * @child: the #ChildwatchChild
 * @event: "exited", "killed", "dumped", "stopped", "continued" or "vanished"
 *   (the service may add more)
 * @status: the exit code for "exited", else the signal number; -1 for "vanished"
 *
 * The process changed state; see #ChildwatchChild for the guarantees.
 * #ChildwatchChild:state and #ChildwatchChild:exit-status already have their
 * new values.
 */

/**
 * childwatch_child_get_client:
 * @child: a #ChildwatchChild
 *
 * Returns: (transfer none): the client that spawned @child
 */
ChildwatchClient *childwatch_child_get_client(ChildwatchChild *child);

/**
 * childwatch_child_get_proxy:
 * @child: a #ChildwatchChild
 *
 * The generated proxy of the process object, for what this header does not
 * wrap (GetPidfd, properties through org.freedesktop.DBus.Properties). It has
 * no property cache and no signal subscription of its own (the client routes
 * StateChanged), and does not start the service. Wait and Kill answer only
 * when the process has ended: call them with a timeout of %G_MAXINT.
 *
 * Returns: (transfer none): the proxy
 */
ChildwatchProcess *childwatch_child_get_proxy(ChildwatchChild *child);

/**
 * childwatch_child_get_object_path:
 * @child: a #ChildwatchChild
 *
 * Returns: the object path of the process object
 */
const char *childwatch_child_get_object_path(ChildwatchChild *child);

/**
 * childwatch_child_get_pid:
 * @child: a #ChildwatchChild
 *
 * Returns: the process ID; once the process has ended it may name another process
 */
guint32 childwatch_child_get_pid(ChildwatchChild *child);

/**
 * childwatch_child_get_state:
 * @child: a #ChildwatchChild
 *
 * The state after the events emitted so far: "running", "stopped", or the
 * terminal event. A change is notified (#GObject::notify) right before
 * #ChildwatchChild::state-changed.
 *
 * Returns: the state
 */
const char *childwatch_child_get_state(ChildwatchChild *child);

/**
 * childwatch_child_get_exit_status:
 * @child: a #ChildwatchChild
 *
 * Returns: the exit code for "exited", the signal number for "killed",
 *   "dumped" and "stopped", -1 for "vanished", else 0
 */
int childwatch_child_get_exit_status(ChildwatchChild *child);

/**
 * childwatch_child_has_ended:
 * @child: a #ChildwatchChild
 *
 * Returns: whether the terminal event has been emitted
 */
gboolean childwatch_child_has_ended(ChildwatchChild *child);

/**
 * childwatch_child_wait:
 * @child: a #ChildwatchChild
 * @cancellable: (nullable): a #GCancellable; cancelling stops waiting, not the process
 * @callback: called once the process has ended (at once if it has)
 * @user_data: data for @callback
 *
 * Waits for the end of the process (Wait()). Before @callback runs, the
 * terminal #ChildwatchChild::state-changed has been emitted (once: whichever
 * of the signal and this reply comes first emits it). Finish with
 * childwatch_child_wait_finish().
 */
void childwatch_child_wait(ChildwatchChild *child, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);

/**
 * childwatch_child_wait_finish:
 * @child: a #ChildwatchChild
 * @result: the #GAsyncResult passed to the callback
 * @ret_state: (out) (optional) (transfer full): the final state
 * @ret_status: (out) (optional): the final exit status (see childwatch_child_get_exit_status())
 * @error: return location for a #GError: %G_DBUS_ERROR_UNKNOWN_OBJECT once
 *   the child was released, ...
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_wait_finish(ChildwatchChild *child, GAsyncResult *result, char **ret_state,
                                      int *ret_status, GError **error);

/**
 * childwatch_child_kill:
 * @child: a #ChildwatchChild
 * @timeout_usec: grace in microseconds between the kill-signal option
 *   (SIGTERM by default) and SIGKILL; 0 sends SIGKILL at once
 * @cancellable: (nullable): a #GCancellable; cancelling stops waiting, not the kill
 * @callback: called once the process has ended
 * @user_data: data for @callback
 *
 * Stops the process (Kill()). As for childwatch_child_wait(), the terminal
 * event has been emitted before @callback runs. Finish with
 * childwatch_child_kill_finish().
 */
void childwatch_child_kill(ChildwatchChild *child, guint64 timeout_usec, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_child_kill_finish:
 * @child: a #ChildwatchChild
 * @result: the #GAsyncResult passed to the callback
 * @ret_state: (out) (optional) (transfer full): the final state
 * @ret_status: (out) (optional): the final exit status
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_kill_finish(ChildwatchChild *child, GAsyncResult *result, char **ret_state,
                                      int *ret_status, GError **error);

/**
 * childwatch_child_send_signal:
 * @child: a #ChildwatchChild
 * @signum: a signal number, 1 to SIGRTMAX
 * @process_group: signal the process group the process leads, not the process
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Sends a signal (SendSignal()). Finish with
 * childwatch_child_send_signal_finish().
 */
void childwatch_child_send_signal(ChildwatchChild *child, int signum, gboolean process_group,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);

/**
 * childwatch_child_send_signal_finish:
 * @child: a #ChildwatchChild
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError: %CHILDWATCH_ERROR_NOT_RUNNING once it has ended, ...
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_send_signal_finish(ChildwatchChild *child, GAsyncResult *result, GError **error);

/**
 * childwatch_child_send_signal_sync:
 * @child: a #ChildwatchChild
 * @signum: a signal number
 * @process_group: signal the process group instead
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_child_send_signal().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_send_signal_sync(ChildwatchChild *child, int signum, gboolean process_group,
                                           GCancellable *cancellable, GError **error);

/**
 * childwatch_child_release:
 * @child: a #ChildwatchChild
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Tells the service that the caller is done with the process (Release()):
 * its object goes away; a running process is killed if it was spawned with
 * "kill-on-release", else it keeps running, unwatched by @child. Calls on
 * @child fail with %G_DBUS_ERROR_UNKNOWN_OBJECT afterwards. Finish with
 * childwatch_child_release_finish().
 */
void childwatch_child_release(ChildwatchChild *child, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);

/**
 * childwatch_child_release_finish:
 * @child: a #ChildwatchChild
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_release_finish(ChildwatchChild *child, GAsyncResult *result, GError **error);

/**
 * childwatch_child_release_sync:
 * @child: a #ChildwatchChild
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of childwatch_child_release().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean childwatch_child_release_sync(ChildwatchChild *child, GCancellable *cancellable, GError **error);

G_END_DECLS
