/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A spawn helper killed in the middle of a spawn. Clients loop Spawn of a program that
 * appends a token of its own to a log file, while spawn helpers are SIGKILLed again and
 * again. Afterwards every token whose Spawn was answered with an object is in the log
 * exactly once, every token whose Spawn failed is not in it, every program ran under the
 * object its Spawn returned (no ownerless orphan object appeared), the errors say which
 * step failed, and nothing is left behind. With and without a pty: the terminal's
 * TIOCSCTTY fails for a second copy of a program that already took it. */

#include "cw-test.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N_CLIENTS 4

typedef struct Client {
        struct Run *run;
        GDBusConnection *conn;
        gboolean pty;
        gboolean busy;
        guint n_calls;
} Client;

typedef struct Run {
        CwFixture *f;
        const char *log;
        Client clients[N_CLIENTS];
        GHashTable *answered; /* token -> object path, or "" when the Spawn failed */
        GPtrArray *errors;    /* the error messages */
        guint next_token;
        gboolean stop;        /* no new calls */
} Run;

typedef struct Call {
        Client *client;
        char *token;
} Call;

static void client_spawn_next(Client *c);

static void on_spawn_reply(GObject *source, GAsyncResult *res, gpointer data) {
        Call *call = data;
        Client *c = call->client;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        if (reply) {
                const char *path;
                g_variant_get(reply, "(&ou)", &path, NULL);
                g_hash_table_insert(c->run->answered, g_steal_pointer(&call->token), g_strdup(path));
        } else {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);
                /* Failing is allowed (two helpers died on one request); losing the service is not. */
                if (!remote || !g_str_equal(remote, CW_ERROR("SpawnFailed")))
                        g_error("Spawn answered %s: %s", remote ?: "(local error)", error->message);
                g_ptr_array_add(c->run->errors, g_strdup(error->message));
                g_hash_table_insert(c->run->answered, g_steal_pointer(&call->token), g_strdup(""));
        }
        g_free(call);
        c->busy = FALSE;
        c->n_calls++;
        client_spawn_next(c);
}

static void client_spawn_next(Client *c) {
        Run *run = c->run;

        if (run->stop || c->busy)
                return;
        Call *call = g_new0(Call, 1);
        call->client = c;
        call->token = g_strdup_printf("token-%u", run->next_token++);
        g_autofree char *script = g_strdup_printf("echo %s >> %s", call->token, run->log);
        const char *argv[] = { "sh", "-c", script, NULL };
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        if (c->pty)
                g_variant_builder_add(&b, "{sv}", "pty", g_variant_new_boolean(TRUE));
        c->busy = TRUE;
        /* One call at a time per connection: far from the bus's limit of pending replies. */
        g_dbus_connection_call(c->conn, CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn",
                               g_variant_new("(^asa{sv})", argv, &b), G_VARIANT_TYPE("(ou)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(60000), NULL, on_spawn_reply, call);
}

static gboolean all_idle(gpointer data) {
        Run *run = data;
        for (guint i = 0; i < N_CLIENTS; i++)
                if (run->clients[i].busy)
                        return FALSE;
        return TRUE;
}

static gboolean spawned_some(gpointer data) {
        Run *run = data;
        return g_hash_table_size(run->answered) >= 8;
}

/* Token -> how many times it is in the log. */
static GHashTable *read_log(const char *log) {
        g_autofree char *text = NULL;
        GHashTable *counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        if (!g_file_get_contents(log, &text, NULL, NULL))
                return counts;
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
                if (!*lines[i])
                        continue;
                guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, lines[i]));
                g_hash_table_insert(counts, g_strdup(lines[i]), GUINT_TO_POINTER(n + 1));
        }
        return counts;
}

/* Whether @pid sits in a system call that only a spawn helper makes: waiting for a request
 * (recvmsg), in the clone of a child (clone, clone3: with CLONE_VFORK until the child has
 * exec'd), waiting for it on a pipe (read), or sending the answer. A program between its clone and its execve() has the
 * helper's name too, but none of these calls: killing it would be killing the program. */
static gboolean is_helper_at_work(pid_t pid) {
        g_autofree char *file = g_strdup_printf("/proc/%d/syscall", (int) pid);
        g_autofree char *text = NULL;

        if (!g_file_get_contents(file, &text, NULL, NULL))
                return FALSE;
        char *end;
        long nr = strtol(text, &end, 10);
        if (nr == __NR_read) {
                /* Without CLONE_VFORK (valgrind) the helper waits for its child on a pipe; the
                 * child's valgrind reads the program's file before its execve(). */
                long fd = strtol(end, NULL, 16);
                g_autofree char *fd_path = g_strdup_printf("/proc/%d/fd/%ld", (int) pid, fd);
                g_autofree char *target = g_file_read_link(fd_path, NULL);
                return target && g_str_has_prefix(target, "pipe:");
        }
        return nr == __NR_recvmsg || nr == __NR_clone || nr == __NR_clone3 || nr == __NR_sendto;
}

/* Kills a spawn helper of @service, chosen by @n among those there; returns whether there
 * was one to kill. */
static gboolean kill_a_helper(pid_t service, guint n) {
        g_autoptr(GArray) helpers = cw_spawn_helpers(service);
        g_autoptr(GArray) at_work = g_array_new(FALSE, FALSE, sizeof(pid_t));

        for (guint i = 0; i < helpers->len; i++)
                if (is_helper_at_work(g_array_index(helpers, pid_t, i)))
                        g_array_append_val(at_work, g_array_index(helpers, pid_t, i));
        if (at_work->len == 0)
                return FALSE;
        return kill(g_array_index(at_work, pid_t, n % at_work->len), SIGKILL) == 0;
}

static void run_kills(CwFixture *f, gboolean with_pty) {
        pid_t service = cw_service_pid(f);
        g_autofree char *log = g_build_filename(f->tmpdir, "log", NULL);
        guint n_kills_wanted = cw_under_valgrind() ? 15 : 60, n_kills = 0;
        Run run = {
                .f = f,
                .log = log,
                .answered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                .errors = g_ptr_array_new_with_free_func(g_free),
        };

        for (guint i = 0; i < N_CLIENTS; i++) {
                run.clients[i] = (Client) {
                        .run = &run,
                        .conn = cw_fixture_new_connection(f),
                        .pty = with_pty && i % 2 == 0,
                };
                client_spawn_next(&run.clients[i]);
        }
        g_assert_true(cw_wait_until(spawned_some, &run, cw_timeout_ms(20000)));

        /* A kill every 20-100 ms: helpers die idle, mid-clone and between exec and answer. A
         * helper busy outside those calls is not killed, so the tries are bounded by time. */
        gint64 give_up = g_get_monotonic_time() + (gint64) cw_timeout_ms(20000) * 1000;
        while (n_kills < n_kills_wanted && g_get_monotonic_time() < give_up) {
                cw_spin((guint) g_random_int_range(20, 100));
                if (kill_a_helper(service, (guint) g_random_int()))
                        n_kills++;
        }
        run.stop = TRUE;
        g_assert_true(cw_wait_until(all_idle, &run, cw_timeout_ms(60000)));

        /* Every program that got an object ran under it: wait for each end, then release. */
        guint n_ok = 0, n_failed = 0;
        GHashTableIter iter;
        gpointer token, path;
        g_hash_table_iter_init(&iter, run.answered);
        while (g_hash_table_iter_next(&iter, &token, &path)) {
                if (!*(const char *) path) {
                        n_failed++;
                        continue;
                }
                g_autofree char *state = NULL;
                int status = -1;
                cw_wait(f->conn, path, &state, &status);
                if (!g_str_equal(state, "exited") || status != 0)
                        g_error("%s (%s) ended %s %d", (const char *) token, (const char *) path, state, status);
                cw_release(f->conn, path);
                n_ok++;
        }

        g_autoptr(GHashTable) counts = read_log(log);
        guint n_twice = 0, n_failed_but_ran = 0, n_never = 0, n_unknown = 0;
        g_hash_table_iter_init(&iter, run.answered);
        while (g_hash_table_iter_next(&iter, &token, &path)) {
                guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, token));
                if (!*(const char *) path) {
                        if (n > 0)
                                n_failed_but_ran++;
                } else if (n == 0)
                        n_never++;
                else if (n > 1)
                        n_twice++;
        }
        g_hash_table_iter_init(&iter, counts);
        while (g_hash_table_iter_next(&iter, &token, NULL))
                if (!g_hash_table_contains(run.answered, token))
                        n_unknown++;

        /* No object is left: an orphan that a program became would have one, with no owner. */
        guint n_objects = cw_list_processes_count(f);
        g_test_message("%u helper kills, %u spawns: %u with an object, %u failed; ran twice %u, "
                       "failed but ran %u, object but never ran %u, unknown tokens %u, objects left %u",
                       n_kills, g_hash_table_size(run.answered), n_ok, n_failed, n_twice, n_failed_but_ran,
                       n_never, n_unknown, n_objects);
        if (n_objects > 0) {
                g_autoptr(GVariant) list = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                                   "(a(ouss))", NULL);
                g_autofree char *text = list ? g_variant_print(list, FALSE) : NULL;
                g_test_message("objects left: %s", text ?: "?");
        }
        for (guint i = 0; i < run.errors->len; i++) {
                const char *msg = g_ptr_array_index(run.errors, i);
                g_test_message("  error: %s", msg);
                /* The terminal step has its own text; never setsid() for what TIOCSCTTY did. */
                g_assert_null(strstr(msg, "setsid()"));
        }
        g_assert_cmpuint(n_kills, >=, n_kills_wanted / 2);
        g_assert_cmpuint(n_twice, ==, 0);
        g_assert_cmpuint(n_failed_but_ran, ==, 0);
        g_assert_cmpuint(n_never, ==, 0);
        g_assert_cmpuint(n_unknown, ==, 0);
        g_assert_cmpuint(n_objects, ==, 0);
        g_assert_cmpuint(n_ok, >, 0);

        for (guint i = 0; i < N_CLIENTS; i++) {
                g_dbus_connection_close_sync(run.clients[i].conn, NULL, NULL);
                g_object_unref(run.clients[i].conn);
        }
        g_hash_table_unref(run.answered);
        g_ptr_array_unref(run.errors);
        cw_assert_service_alive(f, service);
}

static void test_kills(CwFixture *f, gconstpointer data) {
        run_kills(f, FALSE);
}

static void test_kills_pty(CwFixture *f, gconstpointer data) {
        run_kills(f, TRUE);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        /* The clients release their objects only at the end, after more spawns than the default
         * cap of ended objects per user (1024) allows. */
#define ARGS "--spawn-helpers=2 --max-ended-per-user=1000000"
        g_test_add("/helper-death/kills", CwFixture, ARGS, cw_fixture_setup, test_kills, cw_fixture_teardown);
        g_test_add("/helper-death/kills-pty", CwFixture, ARGS, cw_fixture_setup, test_kills_pty, cw_fixture_teardown);
#undef ARGS
        return g_test_run();
}
