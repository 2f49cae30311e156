/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * spawn-wait: starts `sh -c 'exit 3'` through the childwatch service on the session bus with
 * libchildwatch, waits for its end in a GMainLoop, prints what happened and exits with the child's
 * exit code (128 + the signal number when a signal ended it, as a shell does; 1 when the example
 * itself fails). Its output:
 *
 *   spawned /org/childwatch/ChildWatch1/process/1 (pid 4242)
 *   state-changed: exited 3
 *   ended: exited 3
 *
 * Build it against an installed libchildwatch:
 *
 *   cc spawn-wait.c $(pkg-config --cflags --libs childwatch-1) -o spawn-wait
 */

#include <childwatch.h>
#include <stdio.h>
#include <string.h>

typedef struct App {
        GMainLoop *loop;
        ChildwatchChild *child;
        int exit_code;
} App;

static void on_state_changed(G_GNUC_UNUSED ChildwatchChild *child, const char *event, int status,
                             G_GNUC_UNUSED gpointer user_data) {
        printf("state-changed: %s %d\n", event, status);
}

static void on_released(GObject *source, GAsyncResult *result, gpointer user_data) {
        App *app = user_data;
        g_autoptr(GError) error = NULL;

        if (!childwatch_child_release_finish(CHILDWATCH_CHILD(source), result, &error))
                fprintf(stderr, "release: %s\n", error->message);
        g_main_loop_quit(app->loop);
}

static void on_waited(G_GNUC_UNUSED GObject *source, GAsyncResult *result, gpointer user_data) {
        App *app = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        int status = 0;

        if (!childwatch_child_wait_finish(app->child, result, &state, &status, &error)) {
                fprintf(stderr, "wait: %s\n", error->message);
                g_main_loop_quit(app->loop);
                return;
        }
        /* The library has emitted state-changed for the end by now, so this line comes last. */
        printf("ended: %s %d\n", state, status);
        if (strcmp(state, "exited") == 0)
                app->exit_code = status;
        else if (strcmp(state, "killed") == 0 || strcmp(state, "dumped") == 0)
                app->exit_code = 128 + status;

        /* The object of an ended process stays until its owner releases it. */
        childwatch_child_release(app->child, NULL, on_released, app);
}

static void on_spawned(GObject *source, GAsyncResult *result, gpointer user_data) {
        App *app = user_data;
        g_autoptr(GError) error = NULL;

        app->child = childwatch_client_spawn_finish(CHILDWATCH_CLIENT(source), result, &error);
        if (!app->child) {
                /* e.g. CHILDWATCH_ERROR_SPAWN_FAILED: "execve(...): No such file or directory" */
                fprintf(stderr, "spawn: %s\n", error->message);
                g_main_loop_quit(app->loop);
                return;
        }
        printf("spawned %s (pid %u)\n", childwatch_child_get_object_path(app->child),
               (unsigned) childwatch_child_get_pid(app->child));

        /* Connected right after spawn_finish(): even a program that has ended already is reported. */
        g_signal_connect(app->child, "state-changed", G_CALLBACK(on_state_changed), app);
        childwatch_child_wait(app->child, NULL, on_waited, app);
}

int main(void) {
        const char *const argv[] = { "sh", "-c", "exit 3", NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        App app = { .loop = loop, .exit_code = 1 };

        /* The session bus starts the service on the first call, if it does not run yet. */
        g_autoptr(ChildwatchClient) client =
                childwatch_client_new_for_bus_sync(G_BUS_TYPE_SESSION, NULL, &error);
        if (!client) {
                fprintf(stderr, "connect: %s\n", error->message);
                return 1;
        }

        childwatch_client_spawn(client, argv, NULL, NULL, on_spawned, &app);
        g_main_loop_run(loop);

        g_clear_object(&app.child);
        fflush(stdout);
        return app.exit_code;
}
