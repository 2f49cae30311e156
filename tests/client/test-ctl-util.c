/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "test-ctl-util.h"

#include <gio/gunixoutputstream.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

struct CtlProc {
        GSubprocess *sub;
        char *out_path;
        char *err_path;
        gboolean done;
};

const char *ctl_binary(void) {
        const char *path = g_getenv("CHILDWATCHCTL");
        g_assert_nonnull(path);
        return path;
}

void ctl_result_clear(CtlResult *r) {
        g_clear_pointer(&r->out, g_free);
        g_clear_pointer(&r->err, g_free);
}

static void on_child_setup(gpointer data) {
        /* A test that aborts must not leave childwatchctl behind. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void on_waited(GObject *source, GAsyncResult *result, gpointer data) {
        CtlProc *p = data;
        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        p->done = TRUE;
}

CtlProc *ctl_start_full(const char *dir, const CtlSpawn *how, const char *const *args) {
        static guint counter;
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        GSubprocessFlags flags = how->stdin_pipe ? G_SUBPROCESS_FLAGS_STDIN_PIPE : G_SUBPROCESS_FLAGS_NONE;
        CtlProc *p = g_new0(CtlProc, 1);

        counter++;
        p->out_path = g_strdup_printf("%s/ctl-%u.out", dir, counter);
        p->err_path = g_strdup_printf("%s/ctl-%u.err", dir, counter);

        for (const char *const *a = how->prefix; a && *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, g_strdup(ctl_binary()));
        if (how->address)
                g_ptr_array_add(argv, g_strconcat("--address=", how->address, NULL));
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);

        g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
        if (how->env)
                g_subprocess_launcher_set_environ(launcher, how->env);
        if (how->cwd)
                g_subprocess_launcher_set_cwd(launcher, how->cwd);
        if (how->stdin_fd > 0)
                g_subprocess_launcher_take_stdin_fd(launcher, how->stdin_fd);
        else if (!how->stdin_pipe)
                g_subprocess_launcher_set_stdin_file_path(launcher, "/dev/null");
        if (how->stdout_fd > 0)
                g_subprocess_launcher_take_stdout_fd(launcher, how->stdout_fd);
        else
                g_subprocess_launcher_set_stdout_file_path(launcher, p->out_path);
        if (how->stderr_fd > 0)
                g_subprocess_launcher_take_stderr_fd(launcher, how->stderr_fd);
        else
                g_subprocess_launcher_set_stderr_file_path(launcher, p->err_path);
        g_subprocess_launcher_set_child_setup(launcher, on_child_setup, NULL, NULL);

        p->sub = g_subprocess_launcher_spawnv(launcher, (const char *const *) argv->pdata, &error);
        g_assert_no_error(error);
        g_subprocess_wait_async(p->sub, NULL, on_waited, p);
        return p;
}

CtlProc *ctl_start(CwFixture *f, const char *const *args) {
        CtlSpawn how = { .address = g_test_dbus_get_bus_address(f->bus) };
        return ctl_start_full(f->tmpdir, &how, args);
}

GPid ctl_proc_pid(CtlProc *p) {
        const char *id = g_subprocess_get_identifier(p->sub);
        g_assert_nonnull(id);
        return (GPid) g_ascii_strtoll(id, NULL, 10);
}

GOutputStream *ctl_proc_stdin(CtlProc *p) {
        return g_subprocess_get_stdin_pipe(p->sub);
}

static char *read_file_or_empty(const char *path) {
        char *contents = NULL;
        if (!g_file_get_contents(path, &contents, NULL, NULL))
                return g_strdup("");
        return contents;
}

char *ctl_proc_stdout(CtlProc *p) {
        return read_file_or_empty(p->out_path);
}

char *ctl_proc_stderr(CtlProc *p) {
        return read_file_or_empty(p->err_path);
}

gboolean ctl_proc_done(CtlProc *p) {
        return p->done;
}

typedef struct OutputQuery {
        CtlProc *p;
        const char *text;
        gboolean on_stderr;
} OutputQuery;

static gboolean has_output(gpointer data) {
        OutputQuery *q = data;
        g_autofree char *s = q->on_stderr ? ctl_proc_stderr(q->p) : ctl_proc_stdout(q->p);
        return strstr(s, q->text) != NULL || q->p->done;
}

gboolean ctl_proc_wait_for_output(CtlProc *p, const char *text, gboolean on_stderr, guint timeout_ms) {
        OutputQuery q = { p, text, on_stderr };
        (void) cw_wait_until(has_output, &q, timeout_ms);
        g_autofree char *s = on_stderr ? ctl_proc_stderr(p) : ctl_proc_stdout(p);
        return strstr(s, text) != NULL;
}

static gboolean proc_done(gpointer data) {
        return ((CtlProc *) data)->done;
}

void ctl_proc_finish(CtlProc *p, guint timeout_ms, CtlResult *r) {
        gboolean timed_out = FALSE;

        if (!cw_wait_until(proc_done, p, timeout_ms)) {
                timed_out = TRUE;
                g_subprocess_force_exit(p->sub);
                if (!cw_wait_until(proc_done, p, cw_timeout_ms(10000)))
                        g_error("childwatchctl did not end, even after SIGKILL");
        }
        memset(r, 0, sizeof(*r));
        r->exited = g_subprocess_get_if_exited(p->sub);
        if (r->exited)
                r->status = g_subprocess_get_exit_status(p->sub);
        else
                r->term_sig = g_subprocess_get_term_sig(p->sub);
        r->out = ctl_proc_stdout(p);
        r->err = ctl_proc_stderr(p);
        if (timed_out)
                g_test_fail_printf("childwatchctl did not end within %u ms\n--- stdout:\n%s--- stderr:\n%s",
                                   timeout_ms, r->out, r->err);
        (void) unlink(p->out_path);
        (void) unlink(p->err_path);
        g_free(p->out_path);
        g_free(p->err_path);
        g_object_unref(p->sub);
        g_free(p);
}

void ctl_run(CwFixture *f, CtlResult *r, const char *const *args) {
        ctl_proc_finish(ctl_start(f, args), cw_timeout_ms(30000), r);
}

/* ---- JSON through python3 ---- */

static GVariant *parse_with_helper(const char *json, gboolean lines) {
        g_autoptr(GError) error = NULL;
        const char *python = g_getenv("CTL_TEST_PYTHON");
        const char *helper = g_getenv("CTL_TEST_JSON_HELPER");
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;

        g_assert_nonnull(python);
        g_assert_nonnull(helper);
        const char *const argv[] = { python, helper, lines ? "--lines" : "--one", NULL };
        g_autoptr(GSubprocess) sub =
                g_subprocess_newv(argv,
                                  G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                          G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                  &error);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_communicate_utf8(sub, json, NULL, &out, &err, &error));
        g_assert_no_error(error);
        if (!g_subprocess_get_successful(sub))
                g_error("not valid JSON (%s):\n%s", err, json);
        GVariant *v = g_variant_parse(NULL, out, NULL, NULL, &error);
        if (!v)
                g_error("the JSON helper's output does not parse: %s\n%s", error->message, out);
        return v; /* g_variant_parse() gives a full, non-floating reference */
}

GVariant *ctl_parse_json(const char *json) {
        return parse_with_helper(json, FALSE);
}

GVariant *ctl_parse_json_lines(const char *text) {
        return parse_with_helper(text, TRUE);
}

GVariant *ctl_json_get(GVariant *object, const char *key) {
        g_assert_true(g_variant_is_of_type(object, G_VARIANT_TYPE("a{sv}")));
        GVariant *v = g_variant_lookup_value(object, key, NULL);
        if (!v) {
                g_autofree char *text = g_variant_print(object, FALSE);
                g_error("no key \"%s\" in %s", key, text);
        }
        return v;
}

gint64 ctl_json_int(GVariant *object, const char *key) {
        g_autoptr(GVariant) v = ctl_json_get(object, key);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_INT64));
        return g_variant_get_int64(v);
}

const char *ctl_json_str(GVariant *object, const char *key) {
        g_autoptr(GVariant) v = ctl_json_get(object, key);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_STRING));
        /* The string lives in @object, which holds the same data. */
        const char *s = NULL;
        g_assert_true(g_variant_lookup(object, key, "&s", &s));
        return s;
}

gboolean ctl_json_bool(GVariant *object, const char *key) {
        g_autoptr(GVariant) v = ctl_json_get(object, key);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN));
        return g_variant_get_boolean(v);
}

/* ---- The service's view ---- */

GPtrArray *ctl_list_paths(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                cw_call(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL, "(a(ouss))", &error);
        g_assert_no_error(error);
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GVariantIter) iter = NULL;
        const char *path;
        g_variant_get(r, "(a(ouss))", &iter);
        while (g_variant_iter_next(iter, "(&ouss)", &path, NULL, NULL, NULL))
                g_ptr_array_add(paths, g_strdup(path));
        return paths;
}

typedef struct ObjectQuery {
        CwFixture *f;
        guint n;
        char *path;
} ObjectQuery;

static gboolean has_running_object(gpointer data) {
        ObjectQuery *q = data;
        g_autoptr(GPtrArray) paths = ctl_list_paths(q->f->conn);
        if (paths->len != q->n)
                return FALSE;
        const char *last = paths->pdata[paths->len - 1];
        g_autofree char *state = cw_get_state(q->f, last);
        if (!g_str_equal(state, "running"))
                return FALSE;
        q->path = g_strdup(last);
        return TRUE;
}

char *ctl_wait_for_running_object(CwFixture *f, guint n, guint timeout_ms) {
        ObjectQuery q = { f, n, NULL };
        /* Activates the service, so that ListProcesses() does not race with the Spawn(). */
        (void) cw_service_pid(f);
        if (!cw_wait_until(has_running_object, &q, timeout_ms))
                g_error("no running process object number %u within %u ms", n, timeout_ms);
        return q.path;
}

char *ctl_path_id_string(const char *path) {
        const char *slash = strrchr(path, '/');
        g_assert_nonnull(slash);
        return g_strdup(slash + 1);
}

typedef struct StateQuery {
        pid_t pid;
        char letter;
        gboolean negate;
} StateQuery;

static gboolean has_state(gpointer data) {
        StateQuery *q = data;
        char s = cw_proc_state(q->pid);
        return q->negate ? s != q->letter : s == q->letter;
}

gboolean ctl_wait_for_proc_state(pid_t pid, char letter, gboolean negate, guint timeout_ms) {
        StateQuery q = { pid, letter, negate };
        return cw_wait_until(has_state, &q, timeout_ms);
}
