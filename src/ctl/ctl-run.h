/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between ctl-run.c (the run command: spawn, wait, forward) and ctl-run-options.c (its options
 * turned into Spawn()'s a{sv}). */

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "ctl-pty.h"
#include "ctl.h"

typedef struct RunOptions {
        gboolean wait;
        gboolean pty;
        char *pty_size;
        char *cwd;
        char **env;
        gboolean clear_env;
        char **unset;
        char *description;
        gboolean watch_bus;
        char *kill_timeout;
        char *kill_signal;
        gboolean kill_on_release;
        char **pass_fds; /* --fd, as given */
} RunOptions;

typedef struct EarlyEvent {
        char *path;
        char *event;
        int status;
} EarlyEvent;

typedef struct Run {
        Ctl *ctl;
        RunOptions *opts;
        char **argv;
        gboolean pty_size_given;

        GMainLoop *loop;
        int exit_code;

        guint state_subscription;
        guint owner_subscription;
        gulong closed_handler;
        GPtrArray *early_events; /* EarlyEvent*, StateChanged before the Spawn() reply */
        GPtrArray *lost_owners;  /* unique names that lost the service's name before the reply */
        GArray *early_signals;   /* int, signals to forward once the object is known */
        guint sigwatch;

        char *path;
        guint32 pid;
        char *service; /* unique name of the service that answered Spawn() */

        gboolean ended;
        char *end_state;
        int end_status;

        CtlPty *pty;
        gboolean pty_lost; /* GetPty() failed; the end alone decides */
} Run;

/* Fills @b with the Spawn() options of @run, passing descriptors in @fds. Return: 0, or the
 * exit code of an error already printed. */
int ctl_run_build_options(Run *run, GVariantBuilder *b, GUnixFDList *fds);
