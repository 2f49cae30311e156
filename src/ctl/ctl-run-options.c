/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl run's options as Spawn() takes them: stdio and --fd descriptors (no more than
 * the bus carries in one message), the environment, the working directory (ours, as a shell's
 * command gets it, unless --cwd says otherwise), the kill settings; each checked first, so a
 * mistake is reported before anything starts.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-run.h"
#include "ctl-util.h"

static void add_stdio(GVariantBuilder *b, GUnixFDList *fds) {
        static const char *const names[] = { "stdin", "stdout", "stderr" };

        for (int fd = 0; fd < 3; fd++) {
                if (fcntl(fd, F_GETFD) < 0)
                        continue;
                int handle = g_unix_fd_list_append(fds, fd, NULL);
                if (handle >= 0)
                        g_variant_builder_add(b, "{sv}", names[fd], g_variant_new_handle(handle));
        }
}

/* Adds the --fd descriptors as the "fds" option, each as its own number. Refuses, before anything is
 * sent, a message that would carry more descriptors than the bus lets through: dbus-daemon would
 * disconnect us rather than answer. */
static int add_pass_fds(RunOptions *o, GVariantBuilder *b, GUnixFDList *fds) {
        g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(int));
        guint n_stdio = (guint) g_unix_fd_list_get_length(fds);
        GVariantBuilder map;

        for (char **a = o->pass_fds; a && *a; a++) {
                guint64 v;
                int fd;

                if (!g_ascii_string_to_unsigned(*a, 10, 3, G_MAXINT, &v, NULL))
                        return ctl_usage_error("Bad --fd \"%s\": expected a descriptor number of 3 or more "
                                               "(0, 1 and 2 are passed anyway).", *a);
                fd = (int) v;
                for (guint i = 0; i < seen->len; i++)
                        if (g_array_index(seen, int, i) == fd)
                                return ctl_usage_error("--fd=%d given twice.", fd);
                if (fcntl(fd, F_GETFD) < 0)
                        return ctl_usage_error("--fd=%d: descriptor %d is not open.", fd, fd);
                g_array_append_val(seen, fd);
        }
        if (seen->len == 0)
                return 0;
        if (n_stdio + seen->len > CTL_MAX_FDS_PER_CALL)
                return ctl_usage_error("run: %u descriptors (%u --fd, %u of stdin, stdout and stderr) "
                                       "are more than the %d that one call may pass: a message bus "
                                       "disconnects a client whose message carries more (dbus-daemon's "
                                       "default max_message_unix_fds).",
                                       n_stdio + seen->len, seen->len, n_stdio, CTL_MAX_FDS_PER_CALL);

        g_variant_builder_init(&map, G_VARIANT_TYPE("a{uh}"));
        for (guint i = 0; i < seen->len; i++) {
                g_autoptr(GError) error = NULL;
                int fd = g_array_index(seen, int, i);
                int handle = g_unix_fd_list_append(fds, fd, &error);
                if (handle < 0) {
                        g_variant_builder_clear(&map);
                        ctl_log("Cannot pass descriptor %d: %s", fd, error->message);
                        return CTL_EXIT_OSERR;
                }
                g_variant_builder_add(&map, "{uh}", (guint32) fd, handle);
        }
        g_variant_builder_add(b, "{sv}", "fds", g_variant_builder_end(&map));
        return 0;
}

static gboolean strv_has_name(char **entries, const char *name) {
        size_t n = strlen(name);
        for (char **e = entries; e && *e; e++)
                if (strncmp(*e, name, n) == 0 && ((*e)[n] == '=' || (*e)[n] == 0))
                        return TRUE;
        return FALSE;
}

/* The environment option: -E entries, NAME alone taking our own value; with --pty our TERM
 * first (as ssh passes it), so that full-screen programs work, unless -E or --unset name it. */
static int build_environment(RunOptions *o, GPtrArray *ret) {
        const char *term = g_getenv("TERM");

        if (o->pty && term && !strv_has_name(o->env, "TERM") && !strv_has_name(o->unset, "TERM"))
                g_ptr_array_add(ret, g_strconcat("TERM=", term, NULL));
        for (char **e = o->env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (eq == *e || !**e)
                        return ctl_usage_error("Bad -E \"%s\": expected NAME=VALUE or NAME.", *e);
                if (eq)
                        g_ptr_array_add(ret, g_strdup(*e));
                else if (g_getenv(*e))
                        g_ptr_array_add(ret, g_strconcat(*e, "=", g_getenv(*e), NULL));
        }
        g_ptr_array_add(ret, NULL);
        return 0;
}

static int check_utf8(const char *what, const char *s) {
        if (s && !g_utf8_validate(s, -1, NULL))
                return ctl_usage_error("%s is not valid UTF-8 (D-Bus carries only UTF-8 strings).", what);
        return 0;
}

int ctl_run_build_options(Run *run, GVariantBuilder *b, GUnixFDList *fds) {
        RunOptions *o = run->opts;
        g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *cwd = NULL;
        int r;

        for (char **a = run->argv; *a; a++)
                if ((r = check_utf8("An argument", *a)) != 0)
                        return r;
        for (char **e = o->env; e && *e; e++)
                if ((r = check_utf8("An -E value", *e)) != 0)
                        return r;
        for (char **u = o->unset; u && *u; u++)
                if ((r = check_utf8("An --unset name", *u)) != 0)
                        return r;
        if ((r = check_utf8("--cwd", o->cwd)) != 0 || (r = check_utf8("--description", o->description)) != 0)
                return r;

        /* Like a shell: the program starts where we are, unless --cwd says otherwise (an empty
         * --cwd= leaves it to the service: the home directory). */
        if (!o->cwd)
                cwd = g_get_current_dir();
        else if (*o->cwd && !g_path_is_absolute(o->cwd)) {
                g_autofree char *here = g_get_current_dir();
                cwd = g_build_filename(here, o->cwd, NULL);
        } else if (*o->cwd)
                cwd = g_strdup(o->cwd);
        if (cwd) {
                if ((r = check_utf8("The current directory", cwd)) != 0)
                        return r;
                g_variant_builder_add(b, "{sv}", "cwd", g_variant_new_string(cwd));
        }

        r = build_environment(o, env);
        if (r != 0)
                return r;
        if (env->len > 1)
                g_variant_builder_add(b, "{sv}", "environment",
                                      g_variant_new_strv((const char *const *) env->pdata, -1));
        if (o->clear_env)
                g_variant_builder_add(b, "{sv}", "clear-environment", g_variant_new_boolean(TRUE));
        if (o->unset && *o->unset)
                g_variant_builder_add(b, "{sv}", "unset-environment",
                                      g_variant_new_strv((const char *const *) o->unset, -1));
        if (o->description)
                g_variant_builder_add(b, "{sv}", "description", g_variant_new_string(o->description));
        if (o->watch_bus || o->wait)
                g_variant_builder_add(b, "{sv}", "watch-bus", g_variant_new_boolean(TRUE));
        if (o->kill_on_release)
                g_variant_builder_add(b, "{sv}", "kill-on-release", g_variant_new_boolean(TRUE));
        if (o->kill_timeout) {
                guint64 usec;
                if (!ctl_parse_seconds(o->kill_timeout, &usec))
                        return ctl_usage_error("Bad --kill-timeout \"%s\": expected seconds.",
                                               o->kill_timeout);
                g_variant_builder_add(b, "{sv}", "kill-timeout-usec", g_variant_new_uint64(usec));
        }
        if (o->kill_signal) {
                int sig = ctl_signal_from_string(o->kill_signal);
                if (sig < 0)
                        return ctl_usage_error("Bad --kill-signal \"%s\".", o->kill_signal);
                g_variant_builder_add(b, "{sv}", "kill-signal", g_variant_new_int32(sig));
        }

        if (o->pty) {
                guint32 rows, columns;
                g_variant_builder_add(b, "{sv}", "pty", g_variant_new_boolean(TRUE));
                if (o->pty_size) {
                        if (!ctl_parse_size(o->pty_size, &rows, &columns))
                                return ctl_usage_error("Bad --pty-size \"%s\": expected ROWSxCOLUMNS.",
                                                       o->pty_size);
                        run->pty_size_given = TRUE;
                        g_variant_builder_add(b, "{sv}", "pty-size", g_variant_new("(uu)", rows, columns));
                } else if (ctl_pty_local_size(&rows, &columns))
                        g_variant_builder_add(b, "{sv}", "pty-size", g_variant_new("(uu)", rows, columns));
        } else
                add_stdio(b, fds);
        return add_pass_fds(o, b, fds);
}
