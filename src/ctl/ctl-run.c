/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl run: Spawn() with our stdin/stdout/stderr (or a pty), and with --wait stay
 * until the process ends, like a shell runs a command: signals are forwarded, and the exit
 * code is the process's (128 + N when signal N ended it).
 *
 * The end is learned from StateChanged, subscribed before Spawn() is called: a short-lived
 * program can end before the reply reaches us, and StateChanged is emitted once only. Those
 * that arrive before the reply are kept and matched against the object path once it is known
 * (so are the signals we are to forward). The service's end is learned from NameOwnerChanged
 * of its unique name, the sender of the Spawn() reply.
 */

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-pty.h"
#include "ctl-sigwatch.h"
#include "ctl-run.h"
#include "ctl-util.h"
#include "ctl.h"

/* What --wait forwards. SIGTSTP goes as SIGSTOP (a program may ignore SIGTSTP, and a
 * terminal's ^Z means "stop it"); SIGWINCH goes to the pty as its new size. */
static const int forwarded_signals[] = { SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGUSR1,
                                         SIGUSR2, SIGCONT, SIGTSTP, SIGWINCH };

static void early_event_free(gpointer p) {
        EarlyEvent *e = p;
        g_free(e->path);
        g_free(e->event);
        g_free(e);
}

static void run_quit(Run *run, int exit_code) {
        run->exit_code = exit_code;
        g_main_loop_quit(run->loop);
}

static void run_check_done(Run *run) {
        if (!run->ended)
                return;
        if (run->opts->pty && !run->pty_lost && !(run->pty && ctl_pty_is_done(run->pty)))
                return; /* its output is still coming (or GetPty() is on its way) */
        run_quit(run, ctl_exit_code_for_state(run->end_state, run->end_status));
}

static void run_on_end(Run *run, const char *state, int status) {
        if (run->ended)
                return;
        run->ended = TRUE;
        run->end_state = g_strdup(state);
        run->end_status = status;
        if (run->pty)
                ctl_pty_child_ended(run->pty);
        run_check_done(run);
}

static void run_service_vanished(Run *run, const char *why) {
        if (run->ended)
                return;
        ctl_log("%s before %s ended; how it ended is unknown.", why, run->argv[0]);
        run_quit(run, CTL_EXIT_SERVICE_VANISHED);
}

static void run_on_state_changed(GDBusConnection *conn, const char *sender, const char *path,
                                 const char *iface, const char *member, GVariant *params,
                                 gpointer userdata) {
        Run *run = userdata;
        const char *event;
        int status;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(si)")))
                return;
        g_variant_get(params, "(&si)", &event, &status);
        if (!run->path) {
                EarlyEvent *e = g_new0(EarlyEvent, 1);
                e->path = g_strdup(path);
                e->event = g_strdup(event);
                e->status = status;
                g_ptr_array_add(run->early_events, e);
                return;
        }
        if (g_str_equal(path, run->path) && ctl_state_is_terminal(event))
                run_on_end(run, event, status);
}

static void run_on_name_owner_changed(GDBusConnection *conn, const char *sender, const char *path,
                                      const char *iface, const char *member, GVariant *params,
                                      gpointer userdata) {
        Run *run = userdata;
        const char *name, *old_owner, *new_owner;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sss)")))
                return;
        g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
        if (!*old_owner || g_str_equal(old_owner, new_owner))
                return;
        if (!run->service)
                g_ptr_array_add(run->lost_owners, g_strdup(old_owner));
        else if (g_str_equal(old_owner, run->service))
                run_service_vanished(run, "The service " CW_NAME " vanished");
}

static void run_on_closed(GDBusConnection *conn, gboolean remote_peer_vanished, GError *error,
                          gpointer userdata) {
        run_service_vanished(userdata, "The connection to the bus was closed");
}

/* ---- Signals ---- */

static void run_forward(Run *run, int sig) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                ctl_call(run->ctl, run->path, CW_PROCESS_IFACE, "SendSignal",
                         g_variant_new("(ib)", sig, FALSE), "()", CTL_CALL_TIMEOUT_MS, &error);

        /* It may have ended in the meantime; its end is on its way to us then. */
        if (!r && !ctl_error_is(error, CW_ERROR_PREFIX "NotRunning") &&
            !ctl_error_is(error, "org.freedesktop.DBus.Error.UnknownObject")) {
                g_autofree char *name = ctl_signal_to_string(sig);
                (void) ctl_fail(error, "Cannot forward SIG%s to %s", name, run->argv[0]);
        }
}

static void run_on_signal(int sig, gpointer userdata) {
        Run *run = userdata;

        if (sig == SIGWINCH) {
                if (run->pty)
                        ctl_pty_resize(run->pty);
                return;
        }
        if (run->ended)
                return;
        if (!run->path) {
                g_array_append_val(run->early_signals, sig);
                return;
        }
        run_forward(run, sig == SIGTSTP ? SIGSTOP : sig);
        if (sig == SIGTSTP) {
                /* Stop ourselves too, as the job the shell thinks it runs, so that it gets its
                 * terminal back. Its `fg` or `bg` sends us SIGCONT, which we forward. */
                if (run->pty)
                        ctl_pty_suspend(run->pty);
                (void) raise(SIGSTOP);
                if (run->pty)
                        ctl_pty_resume(run->pty);
        }
}

/* ---- The pty ---- */

static void run_on_pty_done(gpointer userdata) {
        run_check_done(userdata);
}

static void run_on_get_pty(GObject *source, GAsyncResult *result, gpointer userdata) {
        Run *run = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source),
                                                                                &fds, result, &error);
        gint32 handle;
        int fd;

        if (!r) {
                if (ctl_error_is(error, CW_ERROR_PREFIX "NotRunning")) {
                        /* The service drops the terminal when the process ends. */
                        ctl_log("%s ended before its terminal could be attached; its output is lost.",
                                run->argv[0]);
                        run->pty_lost = TRUE;
                        run_check_done(run);
                        return;
                }
                run_quit(run, ctl_fail(error, "Cannot attach to the terminal of %s", run->argv[0]));
                return;
        }
        g_variant_get(r, "(h)", &handle);
        fd = fds ? g_unix_fd_list_get(fds, handle, &error) : -1;
        if (fd < 0) {
                ctl_log("GetPty() returned no terminal.");
                run_quit(run, CTL_EXIT_SOFTWARE);
                return;
        }
        run->pty = ctl_pty_new(fd, run_on_pty_done, run);
        if (!run->pty_size_given)
                ctl_pty_resize(run->pty); /* in case the window changed since Spawn() */
        if (run->ended)
                ctl_pty_child_ended(run->pty);
}

/* ---- Spawn() ---- */

static void run_on_spawned(GObject *source, GAsyncResult *result, gpointer userdata) {
        Run *run = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusMessage) reply =
                g_dbus_connection_send_message_with_reply_finish(G_DBUS_CONNECTION(source), result, &error);
        GVariant *body;

        if (reply && g_dbus_message_to_gerror(reply, &error))
                g_clear_object(&reply);
        if (!reply) {
                run_quit(run, ctl_fail(error, "Cannot run %s", run->argv[0]));
                return;
        }
        body = g_dbus_message_get_body(reply);
        if (!body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(ou)"))) {
                ctl_log("Spawn() gave an unexpected reply.");
                run_quit(run, CTL_EXIT_SOFTWARE);
                return;
        }
        g_variant_get(body, "(ou)", &run->path, &run->pid);

        if (!run->opts->wait) {
                ctl_print_new_process(run->ctl->json, run->path, run->pid);
                run_quit(run, CTL_EXIT_OK);
                return;
        }

        run->service = g_strdup(g_dbus_message_get_sender(reply));
        for (guint i = 0; i < run->lost_owners->len; i++)
                if (g_strcmp0(run->lost_owners->pdata[i], run->service) == 0) {
                        run_service_vanished(run, "The service " CW_NAME " vanished");
                        return;
                }
        for (guint i = 0; i < run->early_events->len; i++) {
                EarlyEvent *e = run->early_events->pdata[i];
                if (g_str_equal(e->path, run->path) && ctl_state_is_terminal(e->event))
                        run_on_end(run, e->event, e->status);
        }
        for (guint i = 0; i < run->early_signals->len && !run->ended; i++)
                run_on_signal(g_array_index(run->early_signals, int, i), run);

        if (run->opts->pty)
                g_dbus_connection_call_with_unix_fd_list(
                        run->ctl->conn, CW_NAME, run->path, CW_PROCESS_IFACE, "GetPty", NULL,
                        G_VARIANT_TYPE("(h)"), G_DBUS_CALL_FLAGS_NONE, CTL_CALL_TIMEOUT_MS, NULL, NULL,
                        run_on_get_pty, run);
}

/* Adds our stdin, stdout and stderr as Spawn() options; a closed one is left out (the
 * program gets /dev/null). */
static void run_subscribe(Run *run) {
        GDBusConnection *conn = run->ctl->conn;

        run->state_subscription = g_dbus_connection_signal_subscribe(
                conn, CW_NAME, CW_PROCESS_IFACE, "StateChanged", NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                run_on_state_changed, run, NULL);
        run->owner_subscription = g_dbus_connection_signal_subscribe(
                conn, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                "/org/freedesktop/DBus", CW_NAME, G_DBUS_SIGNAL_FLAGS_NONE, run_on_name_owner_changed, run,
                NULL);
        run->closed_handler = g_signal_connect(conn, "closed", G_CALLBACK(run_on_closed), run);
}

static int run_main(Run *run) {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GDBusMessage) message = NULL;
        GVariantBuilder b;
        int r;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        r = ctl_run_build_options(run, &b, fds);
        if (r != 0) {
                g_variant_builder_clear(&b);
                return r;
        }

        if (run->opts->wait) {
                /* Before the connection exists: its worker thread must not get these. */
                ctl_sigwatch_block(forwarded_signals, G_N_ELEMENTS(forwarded_signals));
                run->sigwatch = ctl_sigwatch_add(forwarded_signals, G_N_ELEMENTS(forwarded_signals),
                                                 run_on_signal, run);
                if (!run->sigwatch) {
                        ctl_log("Cannot watch signals: %s", g_strerror(errno));
                        g_variant_builder_clear(&b);
                        return CTL_EXIT_OSERR;
                }
        }
        r = ctl_connect(run->ctl);
        if (r != 0) {
                g_variant_builder_clear(&b);
                return r;
        }
        if (run->opts->wait)
                run_subscribe(run);

        message = g_dbus_message_new_method_call(CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn");
        g_dbus_message_set_body(message, g_variant_new("(^as@a{sv})", run->argv, g_variant_builder_end(&b)));
        g_dbus_message_set_unix_fd_list(message, fds);
        g_dbus_connection_send_message_with_reply(run->ctl->conn, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                                  CTL_CALL_TIMEOUT_MS, NULL, NULL, run_on_spawned, run);
        g_main_loop_run(run->loop);

        /* The object of a process we waited for is ours to drop; nobody else would. */
        if (run->ended) {
                GVariant *released = ctl_call(run->ctl, run->path, CW_PROCESS_IFACE, "Release", NULL, "()",
                                              CTL_CALL_TIMEOUT_MS, NULL);
                g_clear_pointer(&released, g_variant_unref);
        }
        return run->exit_code;
}

static const char run_description[] =
        "Starts PROGRAM through the service, as a child of the service, not of childwatchctl.\n"
        "It gets childwatchctl's stdin, stdout and stderr (with --pty: a new terminal) and\n"
        "runs in childwatchctl's current directory unless --cwd says otherwise (--cwd= with\n"
        "nothing: the service's default, the home directory). Its environment is the\n"
        "service's (or empty with --clear-env), minus --unset, plus -E; -E NAME alone passes\n"
        "childwatchctl's own value. With --pty, childwatchctl's TERM is passed unless -E or\n"
        "--unset name it. --fd passes further descriptors of childwatchctl under their own\n"
        "numbers; one call carries at most 16 descriptors, stdin, stdout and stderr included\n"
        "(the default limit of dbus-daemon), so more are refused.\n"
        "\n"
        "Without --wait it prints the object path and the pid (--json: an object with Path,\n"
        "Id and Pid) and exits 0.\n"
        "\n"
        "With --wait it stays until PROGRAM ends, with --watch-bus on (ending childwatchctl\n"
        "stops PROGRAM, see --kill-timeout), forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT,\n"
        "SIGUSR1, SIGUSR2 and SIGCONT, sends SIGSTOP for SIGTSTP (and then stops itself, so\n"
        "that a shell gets its terminal back; SIGCONT continues both), and exits like a\n"
        "shell: with PROGRAM's exit code, or 128+N when signal N killed it or it dumped core.\n"
        "It releases the object at the end. If the service vanishes first, it says so on\n"
        "stderr and exits 75.\n"
        "\n"
        "--pty (implies --wait) runs PROGRAM on a new pseudo-terminal of the service, as the\n"
        "controlling terminal of a new session. The local terminal goes into raw mode until\n"
        "the end; input and output are copied both ways; the window size is passed at the\n"
        "start (--pty-size, else the local terminal's, else 24x80) and on SIGWINCH.\n"
        "\n"
        "Exit status: as above with --wait; otherwise 0. Its own failures: 64 usage, 65 an\n"
        "option refused by the service (e.g. --pty by a service without pty support),\n"
        "69 service unreachable, 75 service vanished, 202 PROGRAM could not be started,\n"
        "205 a limit reached; see childwatchctl --help for all.\n";

int ctl_cmd_run(Ctl *ctl, int argc, char **argv) {
        RunOptions o = { 0 };
        const GOptionEntry entries[] = {
                { "wait", 'w', 0, G_OPTION_ARG_NONE, &o.wait, "Stay until PROGRAM ends; exit with its code",
                  NULL },
                { "pty", 't', 0, G_OPTION_ARG_NONE, &o.pty,
                  "Run it on a new pseudo-terminal (implies --wait)", NULL },
                { "pty-size", 0, 0, G_OPTION_ARG_STRING, &o.pty_size, "Window size of the pty",
                  "ROWSxCOLUMNS" },
                { "cwd", 'C', 0, G_OPTION_ARG_FILENAME, &o.cwd,
                  "Working directory (default: the current one)", "DIR" },
                { "env", 'E', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.env, "Set an environment variable",
                  "NAME[=VALUE]" },
                { "clear-env", 0, 0, G_OPTION_ARG_NONE, &o.clear_env, "Start from an empty environment",
                  NULL },
                { "unset", 'u', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.unset,
                  "Remove a variable from the environment", "NAME" },
                { "description", 'd', 0, G_OPTION_ARG_FILENAME, &o.description, "Text for listings",
                  "TEXT" },
                { "watch-bus", 0, 0, G_OPTION_ARG_NONE, &o.watch_bus,
                  "Stop PROGRAM when we leave the bus (on with --wait)", NULL },
                { "kill-timeout", 0, 0, G_OPTION_ARG_STRING, &o.kill_timeout,
                  "Grace before SIGKILL when it is stopped (default 5)", "SEC" },
                { "kill-signal", 0, 0, G_OPTION_ARG_STRING, &o.kill_signal,
                  "First signal when it is stopped (default TERM)", "SIGNAL" },
                { "kill-on-release", 0, 0, G_OPTION_ARG_NONE, &o.kill_on_release,
                  "Kill it when its object is released", NULL },
                { "fd", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.pass_fds,
                  "Pass our descriptor FD (3 or more) to PROGRAM as FD", "FD" },
                G_OPTION_ENTRY_NULL,
        };
        Run run = { .ctl = ctl, .opts = &o };
        int r;

        r = ctl_parse_options(ctl, "run", &argc, &argv, "[--] PROGRAM [ARGUMENT…]",
                              "Start PROGRAM through the service.", run_description, entries, TRUE);
        if (r != 0)
                goto out;
        if (argc < 2) {
                r = ctl_usage_error("run: no PROGRAM given.");
                goto out;
        }
        if (o.pty_size && !o.pty) {
                r = ctl_usage_error("run: --pty-size needs --pty.");
                goto out;
        }
        if (o.pty)
                o.wait = TRUE;
        run.argv = argv + 1;
        run.loop = g_main_loop_new(NULL, FALSE);
        run.early_events = g_ptr_array_new_with_free_func(early_event_free);
        run.lost_owners = g_ptr_array_new_with_free_func(g_free);
        run.early_signals = g_array_new(FALSE, FALSE, sizeof(int));

        r = run_main(&run);

        if (run.sigwatch)
                g_source_remove(run.sigwatch);
        if (run.state_subscription)
                g_dbus_connection_signal_unsubscribe(ctl->conn, run.state_subscription);
        if (run.owner_subscription)
                g_dbus_connection_signal_unsubscribe(ctl->conn, run.owner_subscription);
        if (run.closed_handler)
                g_signal_handler_disconnect(ctl->conn, run.closed_handler);
        g_clear_pointer(&run.pty, ctl_pty_free);
        g_main_loop_unref(run.loop);
        g_ptr_array_unref(run.early_events);
        g_ptr_array_unref(run.lost_owners);
        g_array_unref(run.early_signals);
        g_free(run.path);
        g_free(run.service);
        g_free(run.end_state);
out:
        g_free(o.pty_size);
        g_free(o.cwd);
        g_strfreev(o.env);
        g_strfreev(o.unset);
        g_free(o.description);
        g_free(o.kill_timeout);
        g_free(o.kill_signal);
        g_strfreev(o.pass_fds);
        return r;
}
