/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The subreaper and process trees: orphans of spawned processes are reaped
 * by the service and announced as adopted objects with Parent/Descendants;
 * the "tree" option of Spawn holds a whole tree together (a cgroup v2 per
 * spawn, or the fallback through process group and subreaper), Kill and
 * SendSignal reach every process of it and its object lives as long as the
 * tree; the CPU time properties of an ended process and of a cgroup tree.
 *
 * Tests that exist in two variants run once with the service's automatic
 * choice (which must be "tree-cgroup" where a writable cgroup2 subtree
 * exists; skipped, saying why, where it does not) and once with
 * --tree-mode=process-group.
 *
 * The shell scripts the tests spawn get the test's own temporary directory
 * as $1; their processes write their pids there, and the test checks every
 * one of them at the end: gone, not even a zombie.
 */

#include "cw-test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define OBJECT_MANAGER_IFACE "org.freedesktop.DBus.ObjectManager"
#define UNKNOWN_OBJECT "org.freedesktop.DBus.Error.UnknownObject"
#define INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"

/* The two service configurations (test data). */
static const char ARGS_AUTO[] = "";
static const char ARGS_PGROUP[] = "--tree-mode=process-group";

typedef enum TreeKind {
        TREE_CGROUP,
        TREE_PGROUP,
} TreeKind;

/* ---- the fixture: the harness's plus the ObjectManager and PropertiesChanged signals ---- */

typedef struct Announced {
        char *path;
        guint32 pid;
        gint64 when; /* monotonic, when the test saw it */
} Announced;

typedef struct Changed {
        char *path;
        GVariant *changed; /* a{sv} */
} Changed;

typedef struct TreeFixture {
        CwFixture cw;
        GPtrArray *added;   /* Announced*: InterfacesAdded of process objects */
        GPtrArray *removed; /* char*: InterfacesRemoved */
        GPtrArray *changed; /* Changed*: PropertiesChanged of the Process interface */
        guint sub_added, sub_removed, sub_changed;
        GArray *pids; /* pid_t: every process the test learned about; all must be gone at the end */
        char *dir;    /* $1 of the scripts */
        TreeKind kind;
} TreeFixture;

static void announced_free(gpointer p) {
        Announced *a = p;
        g_free(a->path);
        g_free(a);
}

static void changed_free(gpointer p) {
        Changed *c = p;
        g_free(c->path);
        g_variant_unref(c->changed);
        g_free(c);
}

static void on_interfaces_added(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                                const char *member, GVariant *params, gpointer userdata) {
        TreeFixture *t = userdata;
        const char *object;
        g_autoptr(GVariant) ifaces = NULL;
        g_autoptr(GVariant) props = NULL;
        Announced *a;

        g_variant_get(params, "(&o@a{sa{sv}})", &object, &ifaces);
        props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
        if (!props)
                return;
        a = g_new0(Announced, 1);
        a->path = g_strdup(object);
        a->when = g_get_monotonic_time();
        (void) g_variant_lookup(props, "Pid", "u", &a->pid);
        g_ptr_array_add(t->added, a);
}

static void on_interfaces_removed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                                  const char *member, GVariant *params, gpointer userdata) {
        TreeFixture *t = userdata;
        const char *object;

        g_variant_get(params, "(&o@as)", &object, NULL);
        g_ptr_array_add(t->removed, g_strdup(object));
}

static void on_properties_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                                  const char *member, GVariant *params, gpointer userdata) {
        TreeFixture *t = userdata;
        const char *name;
        Changed *c;

        g_variant_get_child(params, 0, "&s", &name);
        if (!g_str_equal(name, CW_PROCESS_IFACE))
                return;
        c = g_new0(Changed, 1);
        c->path = g_strdup(path);
        c->changed = g_variant_get_child_value(params, 1);
        g_ptr_array_add(t->changed, c);
}

static void tree_setup(TreeFixture *t, gconstpointer data) {
        cw_fixture_setup_with_args(&t->cw, data);
        t->added = g_ptr_array_new_with_free_func(announced_free);
        t->removed = g_ptr_array_new_with_free_func(g_free);
        t->changed = g_ptr_array_new_with_free_func(changed_free);
        t->pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
        t->dir = cw_make_tmpdir();
        t->sub_added = g_dbus_connection_signal_subscribe(t->cw.conn, CW_NAME, OBJECT_MANAGER_IFACE,
                                                          "InterfacesAdded", CW_MANAGER_PATH, NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_added, t, NULL);
        t->sub_removed = g_dbus_connection_signal_subscribe(t->cw.conn, CW_NAME, OBJECT_MANAGER_IFACE,
                                                            "InterfacesRemoved", CW_MANAGER_PATH, NULL,
                                                            G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_removed, t,
                                                            NULL);
        t->sub_changed = g_dbus_connection_signal_subscribe(t->cw.conn, CW_NAME, PROPERTIES_IFACE,
                                                            "PropertiesChanged", NULL, CW_PROCESS_IFACE,
                                                            G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, t,
                                                            NULL);
}

static void tree_teardown(TreeFixture *t, gconstpointer data) {
        /* A safety net only: every test checks on its own that its processes are gone. */
        for (guint i = 0; i < t->pids->len; i++) {
                pid_t pid = g_array_index(t->pids, pid_t, i);
                CwProcStat st;
                if (cw_proc_stat(pid, &st) && st.state != 'Z')
                        (void) kill(pid, SIGKILL);
        }
        g_dbus_connection_signal_unsubscribe(t->cw.conn, t->sub_added);
        g_dbus_connection_signal_unsubscribe(t->cw.conn, t->sub_removed);
        g_dbus_connection_signal_unsubscribe(t->cw.conn, t->sub_changed);
        cw_fixture_teardown(&t->cw, data);
        cw_remove_tmpdir(t->dir);
        g_clear_pointer(&t->dir, g_free);
        g_clear_pointer(&t->added, g_ptr_array_unref);
        g_clear_pointer(&t->removed, g_ptr_array_unref);
        g_clear_pointer(&t->changed, g_ptr_array_unref);
        g_clear_pointer(&t->pids, g_array_unref);
}

static void remember_pid(TreeFixture *t, pid_t pid) {
        g_assert_cmpint(pid, >, 1);
        g_array_append_val(t->pids, pid);
}

/* ---- /proc and cgroups ---- */

static gboolean pid_reaped(gpointer p) {
        /* One of ours (orphans of a service that died come to us): reap it, else wait. */
        (void) waitpid(GPOINTER_TO_INT(p), NULL, WNOHANG);
        return !cw_pid_exists(GPOINTER_TO_INT(p));
}

static void wait_pid_reaped(pid_t pid, guint timeout_ms) {
        if (!cw_wait_until(pid_reaped, GINT_TO_POINTER(pid), cw_timeout_ms(timeout_ms)))
                g_error("process %d is still there after %u ms (state %c)", (int) pid, cw_timeout_ms(timeout_ms),
                        cw_proc_state(pid));
}

static gboolean pid_runs_sleep(gpointer p) {
        g_autofree char *comm = cw_proc_comm(GPOINTER_TO_INT(p));
        return g_strcmp0(comm, "sleep") == 0;
}

/* Where cgroup2 is mounted (from /proc/self/mountinfo), or NULL. */
static char *cgroup2_mount(void) {
        g_autofree char *contents = NULL;

        if (!g_file_get_contents("/proc/self/mountinfo", &contents, NULL, NULL))
                return NULL;
        g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
        for (char **l = lines; *l; l++) {
                const char *sep = strstr(*l, " - ");
                if (!sep || !g_str_has_prefix(sep, " - cgroup2 "))
                        continue;
                g_auto(GStrv) fields = g_strsplit(*l, " ", -1);
                if (g_strv_length(fields) > 4)
                        return g_strdup(fields[4]);
        }
        return NULL;
}

/* The cgroup2 path of @pid ("0::" line of /proc/PID/cgroup), or NULL. */
static char *proc_cgroup(pid_t pid) {
        char path[64];
        g_autofree char *contents = NULL;

        g_snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        if (!g_file_get_contents(path, &contents, NULL, NULL))
                return NULL;
        g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "0::"))
                        return g_strdup(*l + 3);
        return NULL;
}

/* Whether the service could hold trees in cgroups, as the test sees it: cgroup2 mounted, the
 * service's cgroup writable (a sub-cgroup can be made there) and cgroup.kill in it. NULL when
 * so, else why not. */
static char *cgroup_unavailable_reason(pid_t service) {
        if (cw_under_valgrind())
                return g_strdup("the service runs under valgrind, which has no clone3()");
        g_autofree char *mount = cgroup2_mount();
        if (!mount)
                return g_strdup("no cgroup2 hierarchy is mounted");
        g_autofree char *cg = proc_cgroup(service);
        if (!cg)
                return g_strdup_printf("/proc/%d/cgroup has no cgroup2 entry", (int) service);
        g_autofree char *dir = g_strconcat(mount, cg, NULL);
        if (access(dir, W_OK) < 0)
                return g_strdup_printf("the service's cgroup %s is not writable: %s", dir, g_strerror(errno));
        g_autofree char *probe = g_strdup_printf("%s/cw-test-probe.%d", dir, (int) getpid());
        if (mkdir(probe, 0755) < 0)
                return g_strdup_printf("cannot create a cgroup under %s: %s", dir, g_strerror(errno));
        g_autofree char *kill_file = g_build_filename(probe, "cgroup.kill", NULL);
        gboolean has_kill = g_file_test(kill_file, G_FILE_TEST_EXISTS);
        g_assert_cmpint(rmdir(probe), ==, 0);
        if (!has_kill)
                return g_strdup("the kernel has no cgroup.kill (Linux < 5.14)");
        return NULL;
}

/* The cgroup a tree spawned by @service must start in: <service cgroup>/childwatch.<service pid>/<n>. */
static void assert_tree_cgroup_of(pid_t pid, pid_t service) {
        g_autofree char *cg = proc_cgroup(pid);
        g_autofree char *service_cg = proc_cgroup(service);
        g_autofree char *prefix = NULL;

        g_assert_nonnull(cg);
        g_assert_nonnull(service_cg);
        prefix = g_strdup_printf("%s%schildwatch.%d/", service_cg, g_str_has_suffix(service_cg, "/") ? "" : "/",
                                 (int) service);
        if (!g_str_has_prefix(cg, prefix))
                g_error("process %d is in cgroup %s, not under %s", (int) pid, cg, prefix);
        const char *n = cg + strlen(prefix);
        g_assert_true(n[0] != 0);
        for (const char *c = n; *c; c++)
                if (!g_ascii_isdigit(*c))
                        g_error("process %d is in cgroup %s: not <container>/<number>", (int) pid, cg);
}

/* ---- pid files ---- */

static GArray *read_pids(const char *file) {
        g_autofree char *contents = NULL;
        GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));

        if (!g_file_get_contents(file, &contents, NULL, NULL))
                return pids;
        g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
        for (char **l = lines; *l; l++) {
                if (!**l)
                        continue;
                pid_t pid = (pid_t) g_ascii_strtoll(*l, NULL, 10);
                g_array_append_val(pids, pid);
        }
        return pids;
}

typedef struct LinesQuery {
        const char *file;
        guint n;
} LinesQuery;

static gboolean has_lines(gpointer data) {
        LinesQuery *q = data;
        g_autofree char *contents = NULL;
        guint n = 0;

        if (!g_file_get_contents(q->file, &contents, NULL, NULL))
                return FALSE;
        for (const char *c = contents; *c; c++)
                if (*c == '\n')
                        n++;
        return n >= q->n;
}

/* Waits (bounded) until @name in the test's directory holds @n pids; remembers and returns them. */
static GArray *wait_pids(TreeFixture *t, const char *name, guint n) {
        g_autofree char *file = g_build_filename(t->dir, name, NULL);
        LinesQuery q = { file, n };

        if (!cw_wait_until(has_lines, &q, cw_timeout_ms(10000)))
                g_error("%s did not get %u pids within %u ms", file, n, cw_timeout_ms(10000));
        GArray *pids = read_pids(file);
        g_assert_cmpuint(pids->len, ==, n);
        for (guint i = 0; i < pids->len; i++)
                remember_pid(t, g_array_index(pids, pid_t, i));
        return pids;
}

/* ---- calls and properties ---- */

static TreeKind service_tree_kind(TreeFixture *t) {
        g_autoptr(GVariant) v = cw_get_property(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **features = g_variant_get_strv(v, NULL);
        gboolean cg = g_strv_contains(features, "tree-cgroup"), pg = g_strv_contains(features, "tree-process-group");

        if (cg == pg) {
                g_autofree char *all = g_strjoinv(" ", (char **) features);
                g_error("Features must hold exactly one of tree-cgroup and tree-process-group: [%s]", all);
        }
        return cg ? TREE_CGROUP : TREE_PGROUP;
}

/* Sets t->kind from the service's Features. For ARGS_PGROUP it must be tree-process-group; for
 * ARGS_AUTO the test wants tree-cgroup, and skips (saying why) where the service has not got it. */
static gboolean want_mode(TreeFixture *t, gconstpointer data) {
        t->kind = service_tree_kind(t);
        if (g_str_equal(data, ARGS_PGROUP)) {
                if (t->kind != TREE_PGROUP)
                        g_error("--tree-mode=process-group, but Features says tree-cgroup");
                return TRUE;
        }
        if (t->kind == TREE_CGROUP)
                return TRUE;
        g_autofree char *why = cgroup_unavailable_reason(cw_service_pid(&t->cw));
        g_autofree char *msg = g_strdup_printf("cgroup trees are not available: %s",
                                               why ? why
                                                   : "the service chose tree-process-group although the test "
                                                     "finds a writable cgroup2 subtree (see /tree/features)");
        g_test_skip(msg);
        return FALSE;
}

static GVariant *opts(const char *format, ...) {
        va_list ap;
        GVariant *v;

        va_start(ap, format);
        v = g_variant_new_parsed_va(format, &ap);
        va_end(ap);
        return v;
}

static char *get_object_path(TreeFixture *t, const char *path, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(t->cw.conn, path, CW_PROCESS_IFACE, name);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_OBJECT_PATH));
        return g_variant_dup_string(v, NULL);
}

static char **get_descendants(TreeFixture *t, const char *path) {
        g_autoptr(GVariant) v = cw_get_property(t->cw.conn, path, CW_PROCESS_IFACE, "Descendants");
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE("ao")));
        return g_variant_dup_objv(v, NULL);
}

static char *get_string(TreeFixture *t, const char *path, const char *name) {
        g_autoptr(GVariant) v = cw_get_property(t->cw.conn, path, CW_PROCESS_IFACE, name);
        return g_variant_dup_string(v, NULL);
}

static guint64 cpu_usec(TreeFixture *t, const char *path) {
        return cw_get_u64(t->cw.conn, path, CW_PROCESS_IFACE, "UserTimeUSec") +
               cw_get_u64(t->cw.conn, path, CW_PROCESS_IFACE, "SystemTimeUSec");
}

static guint64 tree_cpu_usec(TreeFixture *t, const char *path) {
        return cw_get_u64(t->cw.conn, path, CW_PROCESS_IFACE, "TreeUserTimeUSec") +
               cw_get_u64(t->cw.conn, path, CW_PROCESS_IFACE, "TreeSystemTimeUSec");
}

static gboolean tree_running(TreeFixture *t, const char *path) {
        return cw_get_bool(t->cw.conn, path, CW_PROCESS_IFACE, "TreeRunning");
}

typedef struct TreeRunningQuery {
        TreeFixture *t;
        const char *path;
} TreeRunningQuery;

static gboolean tree_stopped_running(gpointer data) {
        TreeRunningQuery *q = data;
        return !tree_running(q->t, q->path);
}

static void wait_tree_empty(TreeFixture *t, const char *path, guint timeout_ms) {
        TreeRunningQuery q = { t, path };
        if (!cw_wait_until(tree_stopped_running, &q, cw_timeout_ms(timeout_ms)))
                g_error("TreeRunning of %s is still true after %u ms", path, cw_timeout_ms(timeout_ms));
}

/* The value of @prop in the last PropertiesChanged seen for @path, or NULL. */
static GVariant *last_change(TreeFixture *t, const char *path, const char *prop) {
        for (guint i = t->changed->len; i > 0; i--) {
                Changed *c = g_ptr_array_index(t->changed, i - 1);
                if (!g_str_equal(c->path, path))
                        continue;
                GVariant *v = g_variant_lookup_value(c->changed, prop, NULL);
                if (v)
                        return v;
        }
        return NULL;
}

typedef struct ChangeQuery {
        TreeFixture *t;
        const char *path;
        const char *prop;
        GVariant *want;
} ChangeQuery;

static gboolean change_seen(gpointer data) {
        ChangeQuery *q = data;
        g_autoptr(GVariant) v = last_change(q->t, q->path, q->prop);
        return v && g_variant_equal(v, q->want);
}

/* Waits (bounded) for a PropertiesChanged of @path that carries @prop = @want (consumed if floating). */
static void wait_change(TreeFixture *t, const char *path, const char *prop, GVariant *want, guint timeout_ms) {
        ChangeQuery q = { t, path, prop, g_variant_ref_sink(want) };
        if (!cw_wait_until(change_seen, &q, cw_timeout_ms(timeout_ms))) {
                g_autofree char *w = g_variant_print(want, TRUE);
                g_error("no PropertiesChanged of %s with %s = %s within %u ms", path, prop, w,
                        cw_timeout_ms(timeout_ms));
        }
        g_variant_unref(q.want);
}

typedef struct AnnouncedQuery {
        TreeFixture *t;
        guint32 pid;
        Announced *found;
} AnnouncedQuery;

static gboolean pid_announced(gpointer data) {
        AnnouncedQuery *q = data;
        for (guint i = 0; i < q->t->added->len; i++) {
                Announced *a = g_ptr_array_index(q->t->added, i);
                if (a->pid == q->pid) {
                        q->found = a;
                        return TRUE;
                }
        }
        return FALSE;
}

/* Waits (bounded) for InterfacesAdded of an object with Pid @pid; checks ListProcesses lists it. */
static Announced *wait_announced(TreeFixture *t, pid_t pid, guint timeout_ms) {
        AnnouncedQuery q = { t, (guint32) pid, NULL };
        g_autoptr(GError) error = NULL;

        if (!cw_wait_until(pid_announced, &q, cw_timeout_ms(timeout_ms))) {
                g_autoptr(GString) seen = g_string_new(NULL);
                for (guint i = 0; i < t->added->len; i++) {
                        Announced *a = g_ptr_array_index(t->added, i);
                        g_string_append_printf(seen, " %s(pid %u)", a->path, a->pid);
                }
                g_error("no InterfacesAdded for pid %d within %u ms (state %c, ppid of it in /proc: see above); "
                        "announced:%s",
                        (int) pid, cw_timeout_ms(timeout_ms), cw_proc_state(pid), seen->len ? seen->str : " none");
        }
        g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        gboolean listed = FALSE;
        for (gsize i = 0; i < g_variant_n_children(list); i++) {
                const char *path;
                guint32 p;
                g_variant_get_child(list, i, "(&ou&s&s)", &path, &p, NULL, NULL);
                if (g_str_equal(path, q.found->path)) {
                        g_assert_cmpuint(p, ==, (guint32) pid);
                        listed = TRUE;
                }
        }
        if (!listed)
                g_error("%s (pid %d) was announced but ListProcesses does not list it", q.found->path, (int) pid);
        return q.found;
}

typedef struct RemovedQuery {
        TreeFixture *t;
        const char *path;
} RemovedQuery;

static gboolean path_removed(gpointer data) {
        RemovedQuery *q = data;
        for (guint i = 0; i < q->t->removed->len; i++)
                if (g_str_equal(g_ptr_array_index(q->t->removed, i), q->path))
                        return TRUE;
        return FALSE;
}

/* Waits (bounded) for InterfacesRemoved of @path; calls on it then give UnknownObject. */
static void wait_removed(TreeFixture *t, const char *path, guint timeout_ms) {
        RemovedQuery q = { t, path };
        g_autoptr(GError) error = NULL;

        if (!cw_wait_until(path_removed, &q, cw_timeout_ms(timeout_ms)))
                g_error("no InterfacesRemoved for %s within %u ms", path, cw_timeout_ms(timeout_ms));
        g_autoptr(GVariant) r = cw_call(t->cw.conn, path, PROPERTIES_IFACE, "Get",
                                        g_variant_new("(ss)", CW_PROCESS_IFACE, "State"), "(v)", &error);
        g_assert_null(r);
        cw_assert_dbus_error(error, UNKNOWN_OBJECT);
}

static gboolean was_removed(TreeFixture *t, const char *path) {
        RemovedQuery q = { t, path };
        return path_removed(&q);
}

static void assert_send_signal_fails(TreeFixture *t, const char *path, int sig, gboolean group, const char *name) {
        g_autoptr(GError) error = NULL;
        cw_send_signal(t->cw.conn, path, sig, group, &error);
        cw_assert_dbus_error(error, name);
}

static void assert_send_signal_ok(TreeFixture *t, const char *path, int sig, gboolean group) {
        g_autoptr(GError) error = NULL;
        cw_send_signal(t->cw.conn, path, sig, group, &error);
        g_assert_no_error(error);
}

static void assert_state(TreeFixture *t, const char *path, const char *state, int status) {
        g_autofree char *s = cw_get_state(&t->cw, path);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(cw_get_i32(t->cw.conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, status);
}

/* Kill or Wait answered at once, with (@state, @status). */
static void assert_end_reply(TreeFixture *t, const char *path, const char *method, GVariant *params,
                             const char *state, int status) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(t->cw.conn, path, CW_PROCESS_IFACE, method, params, "(si)", &error);
        const char *s;
        gint32 st;

        g_assert_no_error(error);
        g_variant_get(r, "(&si)", &s, &st);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(st, ==, status);
}

static char *list_zombies(pid_t parent);

/* A Kill or Wait call whose reply comes while the main loop runs. At the moment the reply
 * arrives, it notes which of @watch (if any) still exist, and with @zombies_of set, which
 * zombies that process (the service) has. */
typedef struct EndCall {
        gboolean done;
        GVariant *reply;
        GError *error;
        gint64 sent, answered;
        GArray *watch;
        pid_t zombies_of;
        GString *alive_at_reply;
} EndCall;

static void on_end_reply(GObject *source, GAsyncResult *result, gpointer data) {
        EndCall *c = data;
        c->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &c->error);
        c->answered = g_get_monotonic_time();
        for (guint i = 0; c->watch && i < c->watch->len; i++) {
                pid_t pid = g_array_index(c->watch, pid_t, i);
                CwProcStat st;
                if (cw_proc_stat(pid, &st))
                        g_string_append_printf(c->alive_at_reply, " %d(state %c, parent %d)", (int) pid, st.state,
                                               (int) st.ppid);
                else if (cw_pid_exists(pid))
                        g_string_append_printf(c->alive_at_reply, " %d", (int) pid);
        }
        if (c->zombies_of > 0) {
                g_autofree char *z = list_zombies(c->zombies_of);
                if (*z)
                        g_string_append_printf(c->alive_at_reply, " unreaped zombies of the service:%s", z);
        }
        c->done = TRUE;
}

static void end_call_start(EndCall *c, TreeFixture *t, const char *path, const char *method, GVariant *params,
                           GArray *watch) {
        memset(c, 0, sizeof(*c));
        c->watch = watch;
        /* A Kill of a tree answers once the tree is empty: the service has reaped all of it. */
        if (g_str_equal(method, "Kill"))
                c->zombies_of = cw_service_pid(&t->cw);
        c->alive_at_reply = g_string_new(NULL);
        c->sent = g_get_monotonic_time();
        g_dbus_connection_call(t->cw.conn, CW_NAME, path, CW_PROCESS_IFACE, method, params, G_VARIANT_TYPE("(si)"),
                               G_DBUS_CALL_FLAGS_NONE, (gint) cw_timeout_ms(25000), NULL, on_end_reply, c);
}

static gboolean end_call_done(gpointer data) {
        return ((EndCall *) data)->done;
}

/* Waits (bounded) for the reply and checks it; nothing of @watch may have been alive then. */
static void end_call_finish(EndCall *c, const char *state, int status, guint timeout_ms) {
        const char *s;
        gint32 st;

        if (!cw_wait_until(end_call_done, c, cw_timeout_ms(timeout_ms)))
                g_error("no reply within %u ms", cw_timeout_ms(timeout_ms));
        g_assert_no_error(c->error);
        g_assert_nonnull(c->reply);
        g_variant_get(c->reply, "(&si)", &s, &st);
        g_assert_cmpstr(s, ==, state);
        g_assert_cmpint(st, ==, status);
        if (c->alive_at_reply->len)
                g_error("the reply came while processes of the tree were still there:%s", c->alive_at_reply->str);
        g_clear_pointer(&c->reply, g_variant_unref);
        g_string_free(c->alive_at_reply, TRUE);
        c->alive_at_reply = NULL;
}

static void assert_all_gone(GArray *pids) {
        for (guint i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                if (cw_pid_exists(pid))
                        g_error("process %d is still there (state %c)", (int) pid, cw_proc_state(pid));
        }
}

static gboolean no_zombies(gpointer data) {
        return cw_count_zombies(GPOINTER_TO_INT(data)) == 0;
}

/* " pid(comm)" for every zombie child of @parent. */
static char *list_zombies(pid_t parent) {
        g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
        GString *s = g_string_new(NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                CwProcStat st;
                if (pid > 0 && cw_proc_stat(pid, &st) && st.ppid == parent && st.state == 'Z')
                        g_string_append_printf(s, " %d(%s)", (int) pid, st.comm);
        }
        return g_string_free(s, FALSE);
}

/* The service has no zombie now, or only for a moment: says which, and fails if one stays
 * for @timeout_ms. */
static void assert_no_zombies_soon(pid_t service, guint timeout_ms) {
        g_autofree char *now = list_zombies(service);
        if (!*now)
                return;
        gint64 start = g_get_monotonic_time();
        if (!cw_wait_until(no_zombies, GINT_TO_POINTER(service), cw_timeout_ms(timeout_ms))) {
                g_autofree char *still = list_zombies(service);
                g_error("the service keeps zombies for more than %u ms:%s", cw_timeout_ms(timeout_ms), still);
        }
        g_test_message("the service had zombies for %" G_GINT64_FORMAT " ms:%s",
                       (g_get_monotonic_time() - start) / 1000, now);
}

/* The end of every test: every object released, every process the test learned about gone,
 * no zombie of the service. */
static void finish(TreeFixture *t) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
        for (gsize i = 0; i < g_variant_n_children(list); i++) {
                const char *path;
                g_variant_get_child(list, i, "(&ouss)", &path, NULL, NULL, NULL);
                cw_release(t->cw.conn, path);
        }
        if (cw_list_processes_count(&t->cw) != 0) {
                g_autoptr(GVariant) left = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses",
                                                   NULL, "(a(ouss))", NULL);
                g_autofree char *text = left ? g_variant_print(left, FALSE) : NULL;
                g_error("objects left after releasing all: %s", text ?: "?");
        }
        for (guint i = 0; i < t->pids->len; i++)
                wait_pid_reaped(g_array_index(t->pids, pid_t, i), 5000);
        assert_no_zombies_soon(cw_service_pid(&t->cw), 1000);
}

/* ---- scripts ---- */

/* A member of a tree: writes its pid to $d/pids, then sleeps. */
#define MEMBER "sh -c 'echo $$ >> \"$1/pids\"; exec sleep 300' sh \"$d\""
/* One that ignores SIGTERM (and so do the sleeps it starts). */
#define MEMBER_IGNORING_TERM "sh -c 'trap \"\" TERM; echo $$ >> \"$1/pids\"; while :; do sleep 0.1; done' sh \"$d\""
/* Waits until $d/pids holds N lines. */
#define WAIT_PIDS(n) "until [ -e \"$d/pids\" ] && [ \"$(wc -l < \"$d/pids\")\" -ge " #n " ]; do sleep 0.01; done\n"

/* Spawns sh -c @script sh <dir> through @conn. */
static char *spawn_script_on(TreeFixture *t, GDBusConnection *conn, const char *script, GVariant *options,
                             guint32 *ret_pid) {
        const char *argv[] = { "sh", "-c", script, "sh", t->dir, NULL };
        g_autoptr(GError) error = NULL;
        guint32 pid = 0;
        char *path = cw_spawn_full(conn, argv, options, NULL, &pid, &error);
        g_assert_no_error(error);
        g_assert_nonnull(path);
        remember_pid(t, (pid_t) pid);
        if (ret_pid)
                *ret_pid = pid;
        return path;
}

static char *spawn_script(TreeFixture *t, const char *script, GVariant *options, guint32 *ret_pid) {
        return spawn_script_on(t, t->cw.conn, script, options, ret_pid);
}

/* The daemonizing program: a subshell starts a grandchild that calls setsid() and exec's sleep
 * (its pid in $d/pid); once it runs sleep, the subshell exits (the grandchild is orphaned, with
 * its final command line), and then the first process exits 0. */
static const char daemonize_script[] =
        "d=$1\n"
        "(\n"
        "  setsid sh -c 'echo $$ > \"$1/pid.tmp\" && mv \"$1/pid.tmp\" \"$1/pid\" && exec sleep 300' sh \"$d\" &\n"
        "  while :; do\n"
        "    if [ -e \"$d/pid\" ]; then\n"
        "      read p < \"$d/pid\"; [ \"$(cat /proc/$p/comm 2>/dev/null)\" = sleep ] && break\n"
        "    fi\n"
        "    sleep 0.01\n"
        "  done\n"
        ")\n"
        "exit 0\n";

/* ---- 1. features ---- */

static void test_features(TreeFixture *t, gconstpointer data) {
        /* "subreaper" and exactly one tree-* value; with --tree-mode=process-group that is
         * tree-process-group; in auto mode tree-cgroup exactly where the test finds a writable
         * cgroup2 subtree with cgroup.kill (and no valgrind). */
        g_autoptr(GVariant) v = cw_get_property(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **features = g_variant_get_strv(v, NULL);

        g_assert_true(g_strv_contains(features, "subreaper"));
        TreeKind kind = service_tree_kind(t);
        if (g_str_equal(data, ARGS_PGROUP)) {
                g_assert_cmpint(kind, ==, TREE_PGROUP);
        } else {
                g_autofree char *why = cgroup_unavailable_reason(cw_service_pid(&t->cw));
                if (why && kind == TREE_CGROUP)
                        g_error("Features says tree-cgroup, but %s", why);
                if (!why && kind == TREE_PGROUP)
                        g_error("Features says tree-process-group, but the service's cgroup2 subtree is writable "
                                "and has cgroup.kill");
                if (why)
                        g_test_message("tree-process-group: %s", why);
        }
        /* No duplicates. */
        for (guint i = 0; features[i]; i++)
                for (guint j = i + 1; features[j]; j++)
                        g_assert_cmpstr(features[i], !=, features[j]);
        /* /proc does not tell whether a process is a subreaper: /tree/daemonize shows that the
         * orphans of the service's children come to it. */
        finish(t);
}

/* ---- properties of plain and tree spawns ---- */

static void test_placement(TreeFixture *t, gconstpointer data) {
        /* A tree spawn: Tree true, TreeRunning true, Parent "/", Descendants empty, all times 0
         * while it runs; in cgroup mode in <service cgroup>/childwatch.<service pid>/<n>, in
         * process-group mode leading its own group (but not a session). With new-session it
         * leads its session. A plain spawn: Tree and TreeRunning false, Parent "/". The tree
         * option takes only a boolean. */
        const char *const sleep_argv[] = { "sleep", "300", NULL };
        guint32 pid_tree, pid_plain, pid_session;
        CwProcStat st;

        if (!want_mode(t, data))
                return;
        pid_t service = cw_service_pid(&t->cw);
        g_autofree char *p_tree = cw_spawn(&t->cw, sleep_argv, opts("{'tree': <true>}"), &pid_tree);
        remember_pid(t, (pid_t) pid_tree);
        g_autofree char *p_plain = cw_spawn(&t->cw, sleep_argv, opts("{'tree': <false>}"), &pid_plain);
        remember_pid(t, (pid_t) pid_plain);
        g_autofree char *p_session = cw_spawn(&t->cw, sleep_argv, opts("{'tree': <true>, 'new-session': <true>}"),
                                              &pid_session);
        remember_pid(t, (pid_t) pid_session);

        g_assert_true(cw_get_bool(t->cw.conn, p_tree, CW_PROCESS_IFACE, "Tree"));
        g_assert_true(tree_running(t, p_tree));
        g_assert_false(cw_get_bool(t->cw.conn, p_plain, CW_PROCESS_IFACE, "Tree"));
        g_assert_false(tree_running(t, p_plain));
        g_assert_true(cw_get_bool(t->cw.conn, p_session, CW_PROCESS_IFACE, "Tree"));
        g_assert_true(tree_running(t, p_session));
        const char *paths[] = { p_tree, p_plain, p_session };
        for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
                g_autofree char *parent = get_object_path(t, paths[i], "Parent");
                g_assert_cmpstr(parent, ==, "/");
                g_auto(GStrv) desc = get_descendants(t, paths[i]);
                g_assert_cmpuint(g_strv_length(desc), ==, 0);
                g_assert_false(cw_get_bool(t->cw.conn, paths[i], CW_PROCESS_IFACE, "Adopted"));
                g_assert_cmpuint(cpu_usec(t, paths[i]), ==, 0);
                g_assert_cmpuint(tree_cpu_usec(t, paths[i]), ==, 0);
                g_assert_cmpuint(cw_get_u64(t->cw.conn, paths[i], CW_PROCESS_IFACE, "TreeMemoryPeak"), ==, 0);
                g_autofree char *state = cw_get_state(&t->cw, paths[i]);
                g_assert_cmpstr(state, ==, "running");
        }

        g_assert_true(cw_proc_stat((pid_t) pid_session, &st));
        g_assert_cmpint(st.session, ==, (pid_t) pid_session);
        g_assert_cmpint(st.pgrp, ==, (pid_t) pid_session);
        g_assert_true(cw_proc_stat((pid_t) pid_plain, &st));
        g_assert_cmpint(st.pgrp, !=, (pid_t) pid_plain);
        g_autofree char *plain_cg = proc_cgroup((pid_t) pid_plain);
        g_autofree char *service_cg = proc_cgroup(service);
        g_assert_cmpstr(plain_cg, ==, service_cg);
        g_assert_true(cw_proc_stat((pid_t) pid_tree, &st));
        if (t->kind == TREE_CGROUP) {
                assert_tree_cgroup_of((pid_t) pid_tree, service);
                assert_tree_cgroup_of((pid_t) pid_session, service);
                g_autofree char *a = proc_cgroup((pid_t) pid_tree);
                g_autofree char *b = proc_cgroup((pid_t) pid_session);
                g_assert_cmpstr(a, !=, b);
        } else {
                g_assert_cmpint(st.pgrp, ==, (pid_t) pid_tree);
                g_assert_cmpint(st.session, !=, (pid_t) pid_tree);
        }

        /* A wrong type for tree is InvalidArgs naming it. */
        g_autoptr(GError) error = NULL;
        g_autofree char *bad = cw_spawn_full(t->cw.conn, sleep_argv, opts("{'tree': <'yes'>}"), NULL, NULL, &error);
        g_assert_null(bad);
        cw_assert_dbus_error(error, INVALID_ARGS);
        g_assert_nonnull(strstr(error->message, "tree"));

        for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
                g_autofree char *s = NULL;
                int status = 0;
                cw_kill(t->cw.conn, paths[i], 1000000, &s, &status);
                g_assert_cmpstr(s, ==, "killed");
                g_assert_cmpint(status, ==, SIGTERM);
                g_assert_false(tree_running(t, paths[i]));
        }
        finish(t);
}

/* ---- 2. daemonize ---- */

static void test_daemonize(TreeFixture *t, gconstpointer data) {
        /* A program that double-forks, setsid()s and exits 0: its grandchild re-parents to the
         * service, gets an object (InterfacesAdded, ListProcesses, GetProcess) soon after the
         * first process ended, while it runs: Adopted, Argv from its cmdline, Parent "/" (nothing
         * ties a setsid()ed grandchild of a plain spawn to it), Owner "" and OwnerUid its own uid,
         * the option flags of nobody. Kill on it ends it ("killed", 15), the service reaps it, the
         * object tells it. */
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;
        pid_t service = cw_service_pid(&t->cw);

        g_autofree char *leader = spawn_script(t, daemonize_script, NULL, &leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        gint64 leader_end = g_get_monotonic_time();
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        g_assert_true(pid_runs_sleep(GINT_TO_POINTER(g)));

        /* Re-parented to the service (its subreaper), and a setsid()ed session leader. */
        CwProcStat st;
        g_assert_true(cw_proc_stat(g, &st));
        g_assert_cmpint(st.ppid, ==, service);
        g_assert_cmpint(st.session, ==, g);

        Announced *a = wait_announced(t, g, 2000);
        g_autofree char *orphan = g_strdup(a->path);
        g_test_message("the orphan was announced %" G_GINT64_FORMAT " ms after the leader's exit was seen",
                       (a->when - leader_end) / 1000);
        if (a->when - leader_end > (gint64) cw_timeout_ms(1000) * 1000)
                g_error("the orphan was announced %" G_GINT64_FORMAT " ms after its parent exited",
                        (a->when - leader_end) / 1000);
        g_autoptr(GVariant) found = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                            g_variant_new("(u)", (guint32) g), "(o)", &error);
        g_assert_no_error(error);
        const char *found_path;
        g_variant_get(found, "(&o)", &found_path);
        g_assert_cmpstr(found_path, ==, orphan);

        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "Adopted"));
        g_assert_cmpuint(cw_get_u32(t->cw.conn, orphan, CW_PROCESS_IFACE, "Pid"), ==, (guint32) g);
        g_autoptr(GVariant) v_argv = cw_get_property(t->cw.conn, orphan, CW_PROCESS_IFACE, "Argv");
        g_autofree const char **argv = g_variant_get_strv(v_argv, NULL);
        const char *const want_argv[] = { "sleep", "300", NULL };
        g_assert_cmpstrv(argv, want_argv);
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, "/");
        g_autofree char *owner = get_string(t, orphan, "Owner");
        g_assert_cmpstr(owner, ==, "");
        g_assert_cmpuint(cw_get_u32(t->cw.conn, orphan, CW_PROCESS_IFACE, "OwnerUid"), ==, (guint32) geteuid());
        g_assert_cmpuint(cw_get_u32(t->cw.conn, orphan, CW_PROCESS_IFACE, "Uid"), ==, (guint32) geteuid());
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "Tree"));
        g_assert_false(tree_running(t, orphan));
        g_auto(GStrv) orphan_desc = get_descendants(t, orphan);
        g_assert_cmpuint(g_strv_length(orphan_desc), ==, 0);
        g_auto(GStrv) leader_desc = get_descendants(t, leader);
        g_assert_cmpuint(g_strv_length(leader_desc), ==, 0);
        g_autofree char *state = cw_get_state(&t->cw, orphan);
        g_assert_cmpstr(state, ==, "running");
        g_assert_cmpuint(cpu_usec(t, orphan), ==, 0);

        /* Signalled like a child of the service: stop and continue are reported (default events). */
        assert_send_signal_ok(t, orphan, SIGSTOP, FALSE);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "stopped", 5000), ==, SIGSTOP);
        g_assert_cmpint(cw_proc_state(g), ==, 'T');
        assert_state(t, orphan, "stopped", SIGSTOP);
        assert_send_signal_ok(t, orphan, SIGCONT, FALSE);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "continued", 5000), ==, SIGCONT);
        assert_state(t, orphan, "running", 0);

        /* Killed through its object, with a Wait pending; reaped by the service. */
        EndCall wait_call, kill_call;
        end_call_start(&wait_call, t, orphan, "Wait", NULL, NULL);
        cw_spin(100);
        g_assert_false(wait_call.done);
        g_autoptr(GArray) watch = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_array_append_val(watch, g);
        end_call_start(&kill_call, t, orphan, "Kill", g_variant_new("(t)", (guint64) 1000000), watch);
        end_call_finish(&kill_call, "killed", SIGTERM, 5000);
        end_call_finish(&wait_call, "killed", SIGTERM, 5000);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "killed", 5000), ==, SIGTERM);
        assert_state(t, orphan, "killed", SIGTERM);
        g_assert_cmpuint(cw_count_events(&t->cw, orphan, NULL), ==, 3);
        g_assert_cmpuint(cw_count_events(&t->cw, orphan, "killed"), ==, 1);
        assert_send_signal_fails(t, orphan, SIGTERM, FALSE, CW_ERROR("NotRunning"));
        assert_no_zombies_soon(service, 1000);
        cw_release(t->cw.conn, orphan);
        wait_removed(t, orphan, 2000);
        finish(t);
}

static void test_daemonize_tree(TreeFixture *t, gconstpointer data) {
        /* The same program spawned with tree in cgroup mode: the grandchild is in the spawn's
         * cgroup, so its Parent is the spawned process and that one's Descendants lists it; it
         * inherits Owner/OwnerUid, WatchBus, KillOnRelease, kill-signal (here SIGUSR1) from it.
         * The leader's TreeRunning stays true after its exit, until Kill on the grandchild. */
        guint32 leader_pid;

        if (!want_mode(t, data))
                return;
        g_assert_cmpint(t->kind, ==, TREE_CGROUP);
        pid_t service = cw_service_pid(&t->cw);
        g_autofree char *leader = spawn_script(
                t, daemonize_script,
                opts("{'tree': <true>, 'kill-signal': <%i>, 'kill-on-release': <true>, "
                     "'kill-timeout-usec': <uint64 3000000>}",
                     SIGUSR1),
                &leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        CwProcStat st;
        g_assert_true(cw_proc_stat(g, &st));
        g_assert_cmpint(st.ppid, ==, service);
        assert_tree_cgroup_of(g, service);
        g_assert_true(tree_running(t, leader));

        Announced *a = wait_announced(t, g, 2000);
        g_autofree char *orphan = g_strdup(a->path);
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, leader);
        g_auto(GStrv) desc = get_descendants(t, leader);
        g_assert_cmpuint(g_strv_length(desc), ==, 1);
        g_assert_cmpstr(desc[0], ==, orphan);
        const char *const want_desc[] = { orphan, NULL };
        wait_change(t, leader, "Descendants", g_variant_new_objv(want_desc, 1), 2000);
        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "Adopted"));
        g_autofree char *owner = get_string(t, orphan, "Owner");
        g_assert_cmpstr(owner, ==, g_dbus_connection_get_unique_name(t->cw.conn));
        g_assert_cmpuint(cw_get_u32(t->cw.conn, orphan, CW_PROCESS_IFACE, "OwnerUid"), ==,
                         cw_get_u32(t->cw.conn, leader, CW_PROCESS_IFACE, "OwnerUid"));
        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "KillOnRelease"));
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "Tree"));
        g_autofree char *leader_parent = get_object_path(t, leader, "Parent");
        g_assert_cmpstr(leader_parent, ==, "/");
        /* The leader's state follows the leader alone. */
        assert_state(t, leader, "exited", 0);
        assert_end_reply(t, leader, "Wait", NULL, "exited", 0);

        EndCall kill_call;
        g_autoptr(GArray) watch = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_array_append_val(watch, g);
        end_call_start(&kill_call, t, orphan, "Kill", g_variant_new("(t)", (guint64) 1000000), watch);
        end_call_finish(&kill_call, "killed", SIGUSR1, 5000);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "killed", 5000), ==, SIGUSR1);
        assert_no_zombies_soon(service, 1000);
        wait_tree_empty(t, leader, 2000);
        wait_change(t, leader, "TreeRunning", g_variant_new_boolean(FALSE), 2000);
        assert_send_signal_fails(t, leader, SIGTERM, FALSE, CW_ERROR("NotRunning"));

        /* Its object stays a Descendant until it goes. */
        g_auto(GStrv) desc2 = get_descendants(t, leader);
        g_assert_cmpuint(g_strv_length(desc2), ==, 1);
        cw_release(t->cw.conn, orphan);
        wait_removed(t, orphan, 2000);
        wait_change(t, leader, "Descendants", g_variant_new_objv(NULL, 0), 2000);
        g_auto(GStrv) desc3 = get_descendants(t, leader);
        g_assert_cmpuint(g_strv_length(desc3), ==, 0);
        cw_release(t->cw.conn, leader);
        wait_removed(t, leader, 2000);
        finish(t);
}

static void test_daemonize_session(TreeFixture *t, gconstpointer data) {
        /* A spawn with new-session (no tree), by another client, whose child stays in its
         * session and process group when orphaned: the orphan's Parent is the spawn (its group id
         * is the spawned pid), and it inherits Owner, watch-bus, kill-signal (SIGUSR1): when that
         * client leaves the bus, the orphan gets SIGUSR1. Its Parent stays after its end. */
        const char script[] = "d=$1\n"
                              "sh -c 'echo $$ > \"$1/pid.tmp\"; mv \"$1/pid.tmp\" \"$1/pid\"; exec sleep 300' sh "
                              "\"$d\" &\n"
                              "until [ -e \"$d/pid\" ]; do sleep 0.01; done\n"
                              "exit 0\n";
        g_autoptr(GDBusConnection) owner_conn = cw_fixture_new_connection(&t->cw);
        g_autofree char *owner_name = g_strdup(g_dbus_connection_get_unique_name(owner_conn));
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;

        g_autofree char *leader = spawn_script_on(
                t, owner_conn, script,
                opts("{'new-session': <true>, 'watch-bus': <true>, 'kill-signal': <%i>, "
                     "'kill-timeout-usec': <uint64 3000000>}",
                     SIGUSR1),
                &leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        CwProcStat st;
        g_assert_true(cw_proc_stat(g, &st));
        g_assert_cmpint(st.pgrp, ==, (pid_t) leader_pid);

        Announced *a = wait_announced(t, g, 2000);
        g_autofree char *orphan = g_strdup(a->path);
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, leader);
        g_auto(GStrv) desc = get_descendants(t, leader);
        g_assert_cmpuint(g_strv_length(desc), ==, 1);
        g_assert_cmpstr(desc[0], ==, orphan);
        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "WatchBus"));
        g_assert_false(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "KillOnRelease"));
        g_autofree char *owner = get_string(t, orphan, "Owner");
        g_assert_cmpstr(owner, ==, owner_name);
        g_assert_false(tree_running(t, leader));
        cw_spin(200);
        g_autofree char *state = cw_get_state(&t->cw, orphan);
        g_assert_cmpstr(state, ==, "running");

        g_assert_true(g_dbus_connection_close_sync(owner_conn, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "killed", 5000), ==, SIGUSR1);
        wait_pid_reaped(g, 5000);
        g_autofree char *parent2 = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent2, ==, leader);
        finish(t);
}

static void test_daemonize_owner_gone(TreeFixture *t, gconstpointer data) {
        /* As new-session above, but the owner leaves before the orphan comes to us: watch-bus
         * stops the leader, its background child re-parents to the service only then, and is
         * taken over with the departed owner's name, so the owner-left policy applies to it at
         * once (kill-signal, SIGKILL after the 200 ms timeout). The order must not matter. */
        const char script[] = "d=$1\n"
                              "sh -c 'echo $$ > \"$1/pid.tmp\"; mv \"$1/pid.tmp\" \"$1/pid\"; exec sleep 62' sh "
                              "\"$d\" &\n"
                              "until [ -e \"$d/pid\" ]; do sleep 0.01; done\n"
                              "exec sleep 60\n";
        g_autoptr(GDBusConnection) owner_conn = cw_fixture_new_connection(&t->cw);
        g_autofree char *owner_name = g_strdup(g_dbus_connection_get_unique_name(owner_conn));
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;

        g_autofree char *leader = spawn_script_on(
                t, owner_conn, script,
                opts("{'new-session': <true>, 'watch-bus': <true>, 'kill-timeout-usec': <uint64 200000>}"),
                &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        g_assert_true(g_dbus_connection_close_sync(owner_conn, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "killed", 10000), ==, SIGTERM);

        Announced *a = wait_announced(t, g, 5000);
        g_autofree char *orphan = g_strdup(a->path);
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, leader);
        g_autofree char *owner = get_string(t, orphan, "Owner");
        g_assert_cmpstr(owner, ==, owner_name);
        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "WatchBus"));
        int status = cw_wait_for_event(&t->cw, orphan, "killed", 10000);
        g_assert_true(status == SIGTERM || status == SIGKILL);
        wait_pid_reaped(g, 5000);
        finish(t);
}

typedef struct OrphanOf {
        pid_t pid;
        pid_t parent;
} OrphanOf;

static gboolean is_orphan_of(gpointer data) {
        OrphanOf *q = data;
        CwProcStat st;
        return cw_proc_stat(q->pid, &st) && st.ppid == q->parent;
}

static void test_take_back_parent(TreeFixture *t, gconstpointer data) {
        /* A process with an orphan attributed to it is released while it runs, then adopted
         * again: the orphan's Parent names the new object, whose Descendants list the orphan. */
        const char script[] = "d=$1\n"
                              "( sh -c 'echo $$ > \"$1/pid.tmp\"; mv \"$1/pid.tmp\" \"$1/pid\"; exec sleep 300' sh "
                              "\"$d\" & )\n"
                              "until [ -e \"$d/pid\" ]; do sleep 0.01; done\n"
                              "exec sleep 301\n";
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;

        if (cw_under_valgrind()) {
                g_test_skip("adoption needs pidfds, which the service has not under valgrind");
                return;
        }
        g_autofree char *leader = spawn_script(t, script, opts("{'new-session': <true>}"), &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        /* Nothing tells the service that an orphan arrived: it looks after a child of its own
         * ended. Once it is ours, make one end. */
        OrphanOf q = { g, cw_service_pid(&t->cw) };
        if (!cw_wait_until(is_orphan_of, &q, cw_timeout_ms(5000)))
                g_error("process %d did not re-parent to the service", (int) g);
        const char *true_argv[] = { "true", NULL };
        g_autofree char *nudge = cw_spawn(&t->cw, true_argv, NULL, NULL);
        g_assert_cmpint(cw_wait_for_event(&t->cw, nudge, "exited", 10000), ==, 0);
        Announced *a = wait_announced(t, g, 5000);
        g_autofree char *orphan = g_strdup(a->path);
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, leader);
        /* Past its wait loop (whose sleeps would re-parent to us once it is killed). */
        if (!cw_wait_until(pid_runs_sleep, GINT_TO_POINTER((int) leader_pid), cw_timeout_ms(5000)))
                g_error("process %u did not get to its sleep", leader_pid);

        cw_release(t->cw.conn, leader);
        g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                        g_variant_new_parsed("(%u, @a{sv} {})", leader_pid), "(ou)", &error);
        g_assert_no_error(error);
        const char *again;
        g_variant_get(r, "(&ou)", &again, NULL);
        g_assert_cmpstr(again, !=, leader);
        g_autofree char *parent2 = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent2, ==, again);
        g_auto(GStrv) desc = get_descendants(t, again);
        g_assert_true(g_strv_contains((const char *const *) desc, orphan));

        g_autofree char *state = NULL;
        int status = 0;
        cw_kill(t->cw.conn, orphan, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_clear_pointer(&state, g_free);
        cw_kill(t->cw.conn, again, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        finish(t);
}

static void test_daemonize_linger(TreeFixture *t, gconstpointer data) {
        /* An orphan without a known Parent has no owner: once ended, its object lingers for the
         * linger time (here 1 s) and then goes by itself. */
        guint32 leader_pid;

        g_autofree char *leader = spawn_script(t, daemonize_script, NULL, &leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        Announced *a = wait_announced(t, g, 2000);
        g_autofree char *orphan = g_strdup(a->path);
        g_autofree char *owner = get_string(t, orphan, "Owner");
        g_assert_cmpstr(owner, ==, "");

        g_assert_cmpint(kill(g, SIGTERM), ==, 0);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "killed", 5000), ==, SIGTERM);
        wait_pid_reaped(g, 5000);
        cw_spin(500);
        g_assert_false(was_removed(t, orphan));
        assert_state(t, orphan, "killed", SIGTERM);
        wait_removed(t, orphan, 5000);
        finish(t);
}

static void test_orphan_ends_first(TreeFixture *t, gconstpointer data) {
        /* No direct child of the service exits, but an orphan does: it gets its object at its end
         * at the latest ("exited" 0, Adopted, Parent the spawn whose group it is in), and is
         * reaped: never a zombie. */
        const char script[] = "d=$1\n"
                              "(sh -c 'echo $$ >> \"$1/pids\"; exec sleep 0.5' sh \"$d\" &)\n"
                              "exec sleep 300\n";
        guint32 leader_pid;

        g_autofree char *leader = spawn_script(t, script, opts("{'new-session': <true>}"), &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pids", 1);
        pid_t g = g_array_index(pids, pid_t, 0);
        Announced *a = wait_announced(t, g, 5000);
        g_autofree char *orphan = g_strdup(a->path);
        g_assert_true(cw_get_bool(t->cw.conn, orphan, CW_PROCESS_IFACE, "Adopted"));
        g_autofree char *parent = get_object_path(t, orphan, "Parent");
        g_assert_cmpstr(parent, ==, leader);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "exited", 5000), ==, 0);
        assert_state(t, orphan, "exited", 0);
        wait_pid_reaped(g, 2000);
        g_auto(GStrv) desc = get_descendants(t, leader);
        g_assert_true(g_strv_contains((const char *const *) desc, orphan));
        g_autofree char *leader_state = cw_get_state(&t->cw, leader);
        g_assert_cmpstr(leader_state, ==, "running");

        g_autofree char *s = NULL;
        int status = 0;
        cw_kill(t->cw.conn, leader, 1000000, &s, &status);
        g_assert_cmpstr(s, ==, "killed");
        g_assert_cmpint(status, ==, SIGTERM);
        finish(t);
}

/* ---- 3. tree kill ---- */

static void test_tree_kill(TreeFixture *t, gconstpointer data) {
        /* A tree of a shell with background sleeps, one of them ignoring SIGTERM (and in cgroup
         * mode two that setsid(), one of them orphaned at once): Kill(1 s) replies only after the
         * SIGKILL, once nothing of the tree is there any more, with the leader's end
         * ("killed", 15); TreeRunning is false then, and the tree takes no signal any more. */
        guint32 leader_pid;
        guint n;
        g_autofree char *script = NULL;

        if (!want_mode(t, data))
                return;
        pid_t service = cw_service_pid(&t->cw);
        if (t->kind == TREE_CGROUP) {
                n = 4;
                script = g_strdup("d=$1\n" MEMBER " &\n" MEMBER_IGNORING_TERM " &\n"
                                  "setsid " MEMBER " &\n"
                                  "(setsid " MEMBER " &)\n"
                                  "wait\n");
        } else {
                n = 3;
                script = g_strdup("d=$1\n" MEMBER " &\n" MEMBER_IGNORING_TERM " &\n" MEMBER " &\n"
                                  "wait\n");
        }
        g_autofree char *leader = spawn_script(t, script, opts("{'tree': <true>}"), &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pids", n);
        g_autofree char *leader_cg = proc_cgroup((pid_t) leader_pid);
        pid_t ignoring = 0;
        for (guint i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                CwProcStat st;
                g_assert_true(cw_proc_stat(pid, &st));
                if (cw_proc_ignores_signal(pid, SIGTERM)) {
                        g_assert_cmpint(ignoring, ==, 0);
                        ignoring = pid;
                }
                if (t->kind == TREE_CGROUP) {
                        g_autofree char *cg = proc_cgroup(pid);
                        g_assert_cmpstr(cg, ==, leader_cg);
                } else
                        g_assert_cmpint(st.pgrp, ==, (pid_t) leader_pid);
        }
        /* The member writes its pid after the trap: it ignores SIGTERM by then. */
        g_assert_cmpint(ignoring, >, 0);
        if (t->kind == TREE_CGROUP)
                assert_tree_cgroup_of((pid_t) leader_pid, service);
        g_assert_true(tree_running(t, leader));

        g_autoptr(GArray) all = g_array_copy(pids);
        g_array_append_val(all, leader_pid);
        EndCall kill_call;
        end_call_start(&kill_call, t, leader, "Kill", g_variant_new("(t)", (guint64) 1000000), all);
        end_call_finish(&kill_call, "killed", SIGTERM, 10000);
        gint64 took = kill_call.answered - kill_call.sent;
        if (took < 950000)
                g_error("Kill replied after %" G_GINT64_FORMAT " ms, before the SIGKILL that the process "
                        "ignoring SIGTERM needs",
                        took / 1000);
        assert_all_gone(all);
        g_assert_false(tree_running(t, leader));
        wait_change(t, leader, "TreeRunning", g_variant_new_boolean(FALSE), 2000);
        assert_state(t, leader, "killed", SIGTERM);
        assert_end_reply(t, leader, "Kill", g_variant_new("(t)", (guint64) 1000000), "killed", SIGTERM);
        assert_end_reply(t, leader, "Wait", NULL, "killed", SIGTERM);
        assert_send_signal_fails(t, leader, SIGTERM, FALSE, CW_ERROR("NotRunning"));
        assert_no_zombies_soon(service, 1000);
        /* Members that became objects (orphaned before they ended) tell how they ended: the one
         * ignoring SIGTERM by SIGKILL, the others by SIGTERM. */
        cw_spin(200);
        for (guint i = 0; i < pids->len; i++) {
                AnnouncedQuery q = { t, (guint32) g_array_index(pids, pid_t, i), NULL };
                if (!pid_announced(&q))
                        continue;
                g_autofree char *state = cw_get_state(&t->cw, q.found->path);
                gint32 status = cw_get_i32(t->cw.conn, q.found->path, CW_PROCESS_IFACE, "ExitStatus");
                g_autofree char *parent = get_object_path(t, q.found->path, "Parent");
                g_test_message("member %u (pid %u) ended as %s %d", i, q.pid, state, status);
                g_assert_cmpstr(parent, ==, leader);
                g_assert_cmpstr(state, ==, "killed");
                g_assert_cmpint(status, ==, q.pid == (guint32) ignoring ? SIGKILL : SIGTERM);
        }
        finish(t);
}

static void test_tree_kill_stopped(TreeFixture *t, gconstpointer data) {
        /* Every process of the tree, leader included, is stopped: Kill's SIGCONT reaches them all,
         * so they act on the SIGTERM and the reply comes long before the SIGKILL deadline. */
        guint32 leader_pid;
        guint n = 2;
        g_autofree char *script = NULL;

        if (!want_mode(t, data))
                return;
        if (t->kind == TREE_CGROUP) {
                n = 3;
                script = g_strdup("d=$1\n" MEMBER " &\n" MEMBER " &\nsetsid " MEMBER " &\nwait\n");
        } else
                script = g_strdup("d=$1\n" MEMBER " &\n" MEMBER " &\nwait\n");
        g_autofree char *leader = spawn_script(t, script, opts("{'tree': <true>}"), &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pids", n);
        g_autoptr(GArray) all = g_array_copy(pids);
        g_array_append_val(all, leader_pid);
        for (guint i = 0; i < all->len; i++) {
                pid_t pid = g_array_index(all, pid_t, i);
                g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
        }
        for (guint i = 0; i < all->len; i++) {
                pid_t pid = g_array_index(all, pid_t, i);
                for (guint k = 0; k < 1000 && cw_proc_state(pid) != 'T'; k++)
                        g_usleep(1000);
                g_assert_cmpint(cw_proc_state(pid), ==, 'T');
        }
        g_test_message("leader %u, service %d", leader_pid, (int) cw_service_pid(&t->cw));
        EndCall kill_call;
        end_call_start(&kill_call, t, leader, "Kill", g_variant_new("(t)", (guint64) 20000000), all);
        end_call_finish(&kill_call, "killed", SIGTERM, 15000);
        if (kill_call.answered - kill_call.sent > (gint64) cw_timeout_ms(5000) * 1000)
                g_error("Kill took %" G_GINT64_FORMAT " ms: the stopped processes did not get SIGCONT",
                        (kill_call.answered - kill_call.sent) / 1000);
        assert_all_gone(all);
        g_assert_false(tree_running(t, leader));
        finish(t);
}

/* The leader starts @n members (@cgroup_extra adds one that setsid()s), waits until they wrote
 * their pids and exits 3. Returns the leader's path; members' pids in *ret_pids. */
static char *spawn_leader_exiting_first(TreeFixture *t, gboolean ignoring_term, GArray **ret_pids,
                                        guint32 *ret_leader_pid) {
        g_autoptr(GString) script = g_string_new("d=$1\n" MEMBER " &\n" MEMBER " &\n");
        guint n = 2;

        if (ignoring_term) {
                g_string_append(script, MEMBER_IGNORING_TERM " &\n");
                n++;
        }
        if (t->kind == TREE_CGROUP) {
                g_string_append(script, "setsid " MEMBER " &\n");
                n++;
        }
        g_string_append_printf(script,
                               "until [ -e \"$d/pids\" ] && [ \"$(wc -l < \"$d/pids\")\" -ge %u ]; do\n"
                               "  sleep 0.01\n"
                               "done\n"
                               "exit 3\n",
                               n);
        char *leader = spawn_script(t, script->str, opts("{'tree': <true>}"), ret_leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 3);
        *ret_pids = wait_pids(t, "pids", n);
        return leader;
}

/* Every member gets an orphan object whose Parent is @leader, and @leader's Descendants are these. */
static GPtrArray *assert_members_descend(TreeFixture *t, const char *leader, GArray *pids) {
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

        for (guint i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                Announced *a = wait_announced(t, pid, 2000);
                g_autofree char *parent = get_object_path(t, a->path, "Parent");
                if (g_strcmp0(parent, leader) != 0)
                        g_error("the orphan %s (pid %d) has Parent %s, not %s", a->path, (int) pid, parent, leader);
                g_assert_true(cw_get_bool(t->cw.conn, a->path, CW_PROCESS_IFACE, "Adopted"));
                g_ptr_array_add(paths, g_strdup(a->path));
        }
        g_auto(GStrv) desc = get_descendants(t, leader);
        for (guint i = 0; i < paths->len; i++)
                if (!g_strv_contains((const char *const *) desc, g_ptr_array_index(paths, i)))
                        g_error("Descendants of %s lacks %s", leader, (char *) g_ptr_array_index(paths, i));
        return paths;
}

static void test_tree_leader_first(TreeFixture *t, gconstpointer data) {
        /* The leader exits (3) while its members run on: Wait and State say ("exited", 3) at
         * once, TreeRunning stays true, the members become Descendants, and SendSignal(SIGTERM)
         * on the leader's object still reaches them all. Once they are gone, TreeRunning is false
         * and SendSignal answers NotRunning. */
        g_autoptr(GArray) pids = NULL;
        guint32 leader_pid;

        if (!want_mode(t, data))
                return;
        g_autofree char *leader = spawn_leader_exiting_first(t, FALSE, &pids, &leader_pid);
        assert_state(t, leader, "exited", 3);
        assert_end_reply(t, leader, "Wait", NULL, "exited", 3);
        g_assert_true(tree_running(t, leader));
        g_autoptr(GPtrArray) member_paths = assert_members_descend(t, leader, pids);

        assert_send_signal_ok(t, leader, SIGTERM, FALSE);
        for (guint i = 0; i < pids->len; i++)
                wait_pid_reaped(g_array_index(pids, pid_t, i), 5000);
        for (guint i = 0; i < member_paths->len; i++)
                g_assert_cmpint(cw_wait_for_event(&t->cw, g_ptr_array_index(member_paths, i), "killed", 5000), ==,
                                SIGTERM);
        wait_tree_empty(t, leader, 2000);
        assert_send_signal_fails(t, leader, SIGTERM, FALSE, CW_ERROR("NotRunning"));
        assert_state(t, leader, "exited", 3);
        assert_end_reply(t, leader, "Kill", g_variant_new("(t)", (guint64) 0), "exited", 3);
        finish(t);
}

static void test_tree_kill_after_leader(TreeFixture *t, gconstpointer data) {
        /* Kill(500 ms) on a tree whose leader has exited (3) and whose members run on, one of
         * them ignoring SIGTERM: the reply comes after the SIGKILL, once all are gone, and
         * carries the leader's ("exited", 3). */
        g_autoptr(GArray) pids = NULL;
        guint32 leader_pid;

        if (!want_mode(t, data))
                return;
        g_autofree char *leader = spawn_leader_exiting_first(t, TRUE, &pids, &leader_pid);
        g_assert_true(tree_running(t, leader));
        g_autoptr(GPtrArray) member_paths = assert_members_descend(t, leader, pids);
        guint n_ignoring = 0;
        for (guint i = 0; i < pids->len; i++)
                n_ignoring += cw_proc_ignores_signal(g_array_index(pids, pid_t, i), SIGTERM);
        g_assert_cmpuint(n_ignoring, ==, 1);
        gboolean *ignoring = g_new0(gboolean, pids->len);
        for (guint i = 0; i < pids->len; i++)
                ignoring[i] = cw_proc_ignores_signal(g_array_index(pids, pid_t, i), SIGTERM);

        EndCall kill_call;
        end_call_start(&kill_call, t, leader, "Kill", g_variant_new("(t)", (guint64) 500000), pids);
        end_call_finish(&kill_call, "exited", 3, 10000);
        if (kill_call.answered - kill_call.sent < 450000)
                g_error("Kill replied after %" G_GINT64_FORMAT " ms, before the SIGKILL",
                        (kill_call.answered - kill_call.sent) / 1000);
        assert_all_gone(pids);
        g_assert_false(tree_running(t, leader));
        /* The members' objects tell how each ended. */
        for (guint i = 0; i < member_paths->len; i++) {
                const char *path = g_ptr_array_index(member_paths, i);
                g_assert_cmpint(cw_wait_for_event(&t->cw, path, "killed", 5000), ==, ignoring[i] ? SIGKILL : SIGTERM);
        }
        g_free(ignoring);
        assert_send_signal_fails(t, leader, SIGTERM, FALSE, CW_ERROR("NotRunning"));
        finish(t);
}

/* ---- 4. process group after the leader's end ---- */

static void test_group_signal_after_leader(TreeFixture *t, gconstpointer data) {
        /* new-session, no tree: the leader backgrounds a sleep and exits 0. SendSignal to the
         * process alone is NotRunning, but SendSignal(SIGTERM, process_group=true) still reaches
         * the group's member; once the group is empty, NotRunning. */
        const char script[] = "d=$1\n" MEMBER " &\n" WAIT_PIDS(1) "exit 0\n";
        guint32 leader_pid;

        g_autofree char *leader = spawn_script(t, script, opts("{'new-session': <true>}"), &leader_pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        g_autoptr(GArray) pids = wait_pids(t, "pids", 1);
        pid_t member = g_array_index(pids, pid_t, 0);
        CwProcStat st;
        g_assert_true(cw_proc_stat(member, &st));
        g_assert_cmpint(st.pgrp, ==, (pid_t) leader_pid);
        g_assert_false(cw_get_bool(t->cw.conn, leader, CW_PROCESS_IFACE, "Tree"));

        assert_send_signal_fails(t, leader, SIGTERM, FALSE, CW_ERROR("NotRunning"));
        assert_send_signal_ok(t, leader, SIGTERM, TRUE);
        wait_pid_reaped(member, 5000);
        Announced *a = wait_announced(t, member, 2000);
        g_assert_cmpint(cw_wait_for_event(&t->cw, a->path, "killed", 5000), ==, SIGTERM);
        assert_send_signal_fails(t, leader, SIGTERM, TRUE, CW_ERROR("NotRunning"));
        finish(t);
}

/* ---- 5. times ---- */

#define BUSY_LOOP "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"

static void test_times(TreeFixture *t, gconstpointer data) {
        /* A busy loop's CPU time shows after its end (more than 50 ms, less than 60 s) and is 0
         * while it runs, and it is announced with PropertiesChanged; a parent's includes its
         * reaped children's; a sleep's is well below its wall time. */
        const char *const busy_argv[] = { "sh", "-c", BUSY_LOOP, NULL };
        const char *const parent_argv[] = { "sh", "-c", "sh -c '" BUSY_LOOP "'; exit 0", NULL };
        const char *const sleep_argv[] = { "sleep", "0.2", NULL };
        guint32 pid;

        g_autofree char *busy = cw_spawn(&t->cw, busy_argv, NULL, &pid);
        remember_pid(t, (pid_t) pid);
        guint64 user_running = cw_get_u64(t->cw.conn, busy, CW_PROCESS_IFACE, "UserTimeUSec");
        guint64 system_running = cw_get_u64(t->cw.conn, busy, CW_PROCESS_IFACE, "SystemTimeUSec");
        g_autofree char *state = cw_get_state(&t->cw, busy);
        if (g_str_equal(state, "running")) {
                g_assert_cmpuint(user_running, ==, 0);
                g_assert_cmpuint(system_running, ==, 0);
        } else
                g_test_message("the busy loop ended before its times could be read while running");
        g_assert_cmpint(cw_wait_for_event(&t->cw, busy, "exited", 30000), ==, 0);
        guint64 busy_usec = cpu_usec(t, busy);
        g_test_message("busy loop: %" G_GUINT64_FORMAT " us", busy_usec);
        g_assert_cmpuint(busy_usec, >, 50000);
        g_assert_cmpuint(busy_usec, <, 60000000);
        /* Announced with PropertiesChanged, with the value that Get gives. */
        wait_change(t, busy, "UserTimeUSec",
                    g_variant_new_uint64(cw_get_u64(t->cw.conn, busy, CW_PROCESS_IFACE, "UserTimeUSec")), 2000);
        wait_change(t, busy, "SystemTimeUSec",
                    g_variant_new_uint64(cw_get_u64(t->cw.conn, busy, CW_PROCESS_IFACE, "SystemTimeUSec")), 2000);
        g_assert_cmpuint(tree_cpu_usec(t, busy), ==, 0);
        g_assert_cmpuint(cw_get_u64(t->cw.conn, busy, CW_PROCESS_IFACE, "TreeMemoryPeak"), ==, 0);

        g_autofree char *parent = cw_spawn(&t->cw, parent_argv, NULL, &pid);
        remember_pid(t, (pid_t) pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, parent, "exited", 30000), ==, 0);
        guint64 parent_usec = cpu_usec(t, parent);
        g_test_message("parent of a busy loop: %" G_GUINT64_FORMAT " us", parent_usec);
        g_assert_cmpuint(parent_usec, >, 50000);
        g_assert_cmpuint(parent_usec, <, 60000000);

        g_autofree char *sleeper = cw_spawn(&t->cw, sleep_argv, NULL, &pid);
        remember_pid(t, (pid_t) pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, sleeper, "exited", 10000), ==, 0);
        guint64 wall = cw_get_u64(t->cw.conn, sleeper, CW_PROCESS_IFACE, "ExitTimestamp") -
                       cw_get_u64(t->cw.conn, sleeper, CW_PROCESS_IFACE, "StartTimestamp");
        guint64 sleep_usec = cpu_usec(t, sleeper);
        g_test_message("sleep 0.2: %" G_GUINT64_FORMAT " us of CPU in %" G_GUINT64_FORMAT " us", sleep_usec, wall);
        g_assert_cmpuint(wall, >=, 150000);
        g_assert_cmpuint(sleep_usec, <, wall / 4);
        finish(t);
}

static void test_times_adopted(TreeFixture *t, gconstpointer data) {
        /* An adopted process that is not the service's child: its times stay 0. */
        const char *argv[] = { "sh", "-c", BUSY_LOOP "; exec sleep 300", NULL };
        g_autoptr(GError) error = NULL;
        GPid pid;
        int status;

        if (cw_under_valgrind()) {
                g_test_skip("adoption needs pidfds, which the service has not under valgrind");
                return;
        }
        g_assert_true(g_spawn_async(NULL, (char **) argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                    NULL, &pid, &error));
        g_assert_no_error(error);
        remember_pid(t, pid);
        if (!cw_wait_until(pid_runs_sleep, GINT_TO_POINTER(pid), cw_timeout_ms(30000)))
                g_error("process %d did not get to its sleep", (int) pid);
        g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                        g_variant_new_parsed("(%u, @a{sv} {})", (guint32) pid), "(ou)", &error);
        g_assert_no_error(error);
        const char *path;
        g_variant_get(r, "(&ou)", &path, NULL);
        g_assert_cmpuint(cpu_usec(t, path), ==, 0);
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_cmpint(cw_wait_for_event(&t->cw, path, "killed", 5000), ==, SIGKILL);
        g_assert_cmpuint(cpu_usec(t, path), ==, 0);
        g_assert_cmpuint(tree_cpu_usec(t, path), ==, 0);
        finish(t);
}

/* ---- 5b. adoption meets the subreaper ---- */

/* The leader starts a member that waits for the file "end" and exits 7, writes its pid to
 * "pid", and exits 0 once the file "go" exists. */
static const char reparent_script[] =
        "d=$1\n"
        "sh -c 'until [ -e \"$1/end\" ]; do sleep 0.01; done; exit 7' sh \"$d\" &\n"
        "echo $! > \"$d/pid\"\n"
        "until [ -e \"$d/go\" ]; do sleep 0.01; done\n"
        "exit 0\n";

static void touch(TreeFixture *t, const char *name) {
        g_autofree char *file = g_build_filename(t->dir, name, NULL);
        g_assert_true(g_file_set_contents(file, "", 0, NULL));
}

static gboolean ppid_is(gpointer data) {
        const pid_t *want = data; /* { pid, ppid } */
        CwProcStat st;
        return cw_proc_stat(want[0], &st) && st.ppid == want[1];
}

static void test_adopt_then_reparented(TreeFixture *t, gconstpointer data) {
        /* Adopted while it is another process's child (watched through its pidfd), the member
         * then re-parents to the service when that parent exits: now nobody but the service can
         * reap it. The service must, and must report its real status, never "vanished" or a
         * zombie. */
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;
        pid_t service = cw_service_pid(&t->cw);

        if (cw_under_valgrind()) {
                g_test_skip("adoption needs pidfds, which the service has not under valgrind");
                return;
        }
        g_autofree char *leader = spawn_script(t, reparent_script, NULL, &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t m = g_array_index(pids, pid_t, 0);
        CwProcStat st;
        g_assert_true(cw_proc_stat(m, &st));
        g_assert_cmpint(st.ppid, ==, (pid_t) leader_pid);

        g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                        g_variant_new_parsed("(%u, @a{sv} {})", (guint32) m), "(ou)", &error);
        g_assert_no_error(error);
        g_autofree char *path = NULL;
        g_variant_get(r, "(ou)", &path, NULL);
        g_autofree char *owner = get_string(t, path, "Owner");
        g_assert_cmpstr(owner, ==, g_dbus_connection_get_unique_name(t->cw.conn));

        touch(t, "go");
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        pid_t want[2] = { m, service };
        if (!cw_wait_until(ppid_is, want, cw_timeout_ms(5000)))
                g_error("process %d did not re-parent to the service %d", (int) m, (int) service);
        /* Known already: the service's own look for orphans leaves it to its object. */
        cw_spin(300);
        g_autoptr(GVariant) found = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                            g_variant_new("(u)", (guint32) m), "(o)", &error);
        g_assert_no_error(error);
        const char *found_path;
        g_variant_get(found, "(&o)", &found_path);
        g_assert_cmpstr(found_path, ==, path);

        touch(t, "end");
        g_assert_cmpint(cw_wait_for_event(&t->cw, path, "exited", 10000), ==, 7);
        assert_state(t, path, "exited", 7);
        g_assert_cmpuint(cw_count_events(&t->cw, path, NULL), ==, 1);
        wait_pid_reaped(m, 2000);
        assert_no_zombies_soon(service, 1000);
        cw_release(t->cw.conn, path);
        finish(t);
}

static void test_adopt_orphan_child(TreeFixture *t, gconstpointer data) {
        /* A direct child of the service that nobody asked for (an orphan of a spawned program)
         * is taken over by the service itself, with the full child engine: AdoptPid then says
         * AlreadyWatched, GetProcess finds its object, stops and continues are reported, and
         * its exit status is the real one. */
        g_autoptr(GError) error = NULL;
        guint32 leader_pid;
        pid_t service = cw_service_pid(&t->cw);

        g_autofree char *leader = spawn_script(t, reparent_script, NULL, &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pid", 1);
        pid_t m = g_array_index(pids, pid_t, 0);
        touch(t, "go");
        g_assert_cmpint(cw_wait_for_event(&t->cw, leader, "exited", 10000), ==, 0);
        Announced *a = wait_announced(t, m, 2000);
        g_autofree char *orphan = g_strdup(a->path);
        CwProcStat st;
        g_assert_true(cw_proc_stat(m, &st));
        g_assert_cmpint(st.ppid, ==, service);

        if (!cw_under_valgrind()) {
                g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                                g_variant_new_parsed("(%u, @a{sv} {})", (guint32) m), "(ou)",
                                                &error);
                g_assert_null(r);
                cw_assert_dbus_error(error, CW_ERROR("AlreadyWatched"));
                g_clear_error(&error);
        }
        g_autoptr(GVariant) found = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                            g_variant_new("(u)", (guint32) m), "(o)", &error);
        g_assert_no_error(error);
        const char *found_path;
        g_variant_get(found, "(&o)", &found_path);
        g_assert_cmpstr(found_path, ==, orphan);

        assert_send_signal_ok(t, orphan, SIGSTOP, FALSE);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "stopped", 5000), ==, SIGSTOP);
        assert_send_signal_ok(t, orphan, SIGCONT, FALSE);
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "continued", 5000), ==, SIGCONT);
        touch(t, "end");
        g_assert_cmpint(cw_wait_for_event(&t->cw, orphan, "exited", 10000), ==, 7);
        assert_state(t, orphan, "exited", 7);
        wait_pid_reaped(m, 2000);
        assert_no_zombies_soon(service, 1000);
        cw_release(t->cw.conn, orphan);
        finish(t);
}

static void test_times_tree(TreeFixture *t, gconstpointer data) {
        /* A busy loop spawned with tree: in cgroup mode, once the tree is empty, its cgroup's
         * user+system time is at least the leader's (which includes its reaped children), and
         * TreeMemoryPeak is memory.peak where the cgroup has one, else 0. In process-group mode
         * the Tree* values stay 0. */
        const char *const argv[] = { "sh", "-c", "sh -c '" BUSY_LOOP "'; " BUSY_LOOP "; exit 0", NULL };
        guint32 pid;
        gboolean has_peak = FALSE;

        if (!want_mode(t, data))
                return;
        g_autofree char *path = cw_spawn(&t->cw, argv, opts("{'tree': <true>}"), &pid);
        remember_pid(t, (pid_t) pid);
        if (t->kind == TREE_CGROUP) {
                g_autofree char *mount = cgroup2_mount();
                g_autofree char *cg = proc_cgroup((pid_t) pid);
                if (cg) {
                        g_autofree char *peak = g_strconcat(mount, cg, "/memory.peak", NULL);
                        has_peak = g_file_test(peak, G_FILE_TEST_EXISTS);
                } else
                        g_test_message("the tree ended before its cgroup could be looked at");
        }
        g_assert_cmpint(cw_wait_for_event(&t->cw, path, "exited", 30000), ==, 0);
        wait_tree_empty(t, path, 2000);
        guint64 leader = cpu_usec(t, path);
        guint64 tree = tree_cpu_usec(t, path);
        guint64 peak = cw_get_u64(t->cw.conn, path, CW_PROCESS_IFACE, "TreeMemoryPeak");
        g_test_message("leader %" G_GUINT64_FORMAT " us, tree %" G_GUINT64_FORMAT " us, peak %" G_GUINT64_FORMAT,
                       leader, tree, peak);
        g_assert_cmpuint(leader, >, 100000);
        if (t->kind == TREE_CGROUP) {
                /* Both come from the same scheduler clock; allow for the rounding to microseconds. */
                if (tree + 10 < leader)
                        g_error("the tree's CPU time (%" G_GUINT64_FORMAT " us) is less than its leader's (%"
                                G_GUINT64_FORMAT " us)",
                                tree, leader);
                g_assert_cmpuint(tree, <, 60000000);
                if (has_peak)
                        g_assert_cmpuint(peak, >, 0);
                else
                        g_assert_cmpuint(peak, ==, 0);
        } else {
                g_assert_cmpuint(tree, ==, 0);
                g_assert_cmpuint(peak, ==, 0);
        }
        finish(t);
}

/* ---- 6. lifetime of a tree's object ---- */

static char *spawn_leader_with_member(TreeFixture *t, GVariant *options, pid_t *ret_member, EndCall *wait_call) {
        /* The leader starts a member (setsid()ing in cgroup mode), then exits 0 when the test
         * creates $d/go; a Wait() is pending from before. */
        g_autofree char *script = g_strdup_printf("d=$1\n%s" MEMBER " &\n" WAIT_PIDS(1)
                                                  "until [ -e \"$d/go\" ]; do sleep 0.01; done\n"
                                                  "exit 0\n",
                                                  t->kind == TREE_CGROUP ? "setsid " : "");
        guint32 leader_pid;
        char *leader = spawn_script(t, script, options, &leader_pid);
        g_autoptr(GArray) pids = wait_pids(t, "pids", 1);
        *ret_member = g_array_index(pids, pid_t, 0);

        end_call_start(wait_call, t, leader, "Wait", NULL, NULL);
        cw_spin(200);
        g_assert_false(wait_call->done);
        g_autofree char *go = g_build_filename(t->dir, "go", NULL);
        g_assert_true(g_file_set_contents(go, "", 0, NULL));
        end_call_finish(wait_call, "exited", 0, 10000);
        /* Wait followed the leader: the member runs on. */
        g_assert_true(cw_pid_exists(*ret_member));
        g_assert_cmpint(cw_proc_state(*ret_member), !=, 'Z');
        return leader;
}

static void test_lifetime_release(TreeFixture *t, gconstpointer data) {
        /* Release of the ended leader while a member lives: the object stays (no
         * InterfacesRemoved, still listed, still "exited" 0, TreeRunning true) until the member
         * is gone, then it goes. */
        EndCall wait_call;
        pid_t member;

        if (!want_mode(t, data))
                return;
        g_autofree char *leader = spawn_leader_with_member(t, opts("{'tree': <true>}"), &member, &wait_call);
        cw_release(t->cw.conn, leader);
        cw_spin(300);
        g_assert_false(was_removed(t, leader));
        assert_state(t, leader, "exited", 0);
        g_assert_true(tree_running(t, leader));
        gboolean listed = FALSE;
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) r = cw_call(t->cw.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                                "(a(ouss))", &error);
                g_assert_no_error(error);
                g_autoptr(GVariant) list = g_variant_get_child_value(r, 0);
                for (gsize i = 0; i < g_variant_n_children(list); i++) {
                        const char *p;
                        g_variant_get_child(list, i, "(&ouss)", &p, NULL, NULL, NULL);
                        listed = listed || g_str_equal(p, leader);
                }
        }
        g_assert_true(listed);
        g_autoptr(GArray) one = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_array_append_val(one, member);
        g_autoptr(GPtrArray) member_paths = assert_members_descend(t, leader, one);

        g_assert_cmpint(kill(member, SIGTERM), ==, 0);
        wait_pid_reaped(member, 5000);
        wait_removed(t, leader, 2000);
        g_assert_cmpint(cw_wait_for_event(&t->cw, g_ptr_array_index(member_paths, 0), "killed", 5000), ==, SIGTERM);
        finish(t);
}

static void test_lifetime_kill_on_release(TreeFixture *t, gconstpointer data) {
        /* With kill-on-release, Release of the ended leader kills the whole tree (the member,
         * which ignores nothing, dies of SIGKILL), and the object goes once it is empty. */
        EndCall wait_call;
        pid_t member;

        if (!want_mode(t, data))
                return;
        g_autofree char *leader = spawn_leader_with_member(t, opts("{'tree': <true>, 'kill-on-release': <true>}"),
                                                           &member, &wait_call);
        g_autoptr(GArray) one = g_array_new(FALSE, FALSE, sizeof(pid_t));
        g_array_append_val(one, member);
        g_autoptr(GPtrArray) member_paths = assert_members_descend(t, leader, one);
        cw_release(t->cw.conn, leader);
        wait_pid_reaped(member, 5000);
        wait_removed(t, leader, 2000);
        g_assert_cmpint(cw_wait_for_event(&t->cw, g_ptr_array_index(member_paths, 0), "killed", 5000), ==, SIGKILL);
        finish(t);
}

/* ---- after a crash of the service ---- */

/* @pid has ended: gone, or a zombie (reaped here when it is ours, as the subreaper of the dead
 * service's orphans). */
static gboolean pid_ended(gpointer p) {
        pid_t pid = GPOINTER_TO_INT(p);
        if (!cw_pid_exists(pid))
                return TRUE;
        if (cw_proc_state(pid) != 'Z')
                return FALSE;
        /* A zombie: ours to reap once its service is gone (we are a subreaper). Reaped after it
         * was seen dead, not before: reaping first and looking then left one unreaped. */
        (void) waitpid(pid, NULL, WNOHANG);
        return TRUE;
}

static void wait_pid_ended(pid_t pid, guint timeout_ms) {
        if (!cw_wait_until(pid_ended, GINT_TO_POINTER(pid), cw_timeout_ms(timeout_ms)))
                g_error("process %d still runs after %u ms (state %c)", (int) pid, cw_timeout_ms(timeout_ms),
                        cw_proc_state(pid));
}

/* The directory of @pid's cgroup. */
static char *cgroup_dir_of(pid_t pid) {
        g_autofree char *mount = cgroup2_mount();
        g_autofree char *cg = proc_cgroup(pid);
        g_assert_nonnull(mount);
        g_assert_nonnull(cg);
        return g_strconcat(mount, cg, NULL);
}

/* A tree whose leader started a member that setsid()s (so that nothing but the cgroup ties it to
 * the leader) and then runs on; its pids are in $1/@name/pids. */
static char *spawn_lasting_tree(TreeFixture *t, const char *name, GVariant *options, pid_t *ret_leader,
                                pid_t *ret_member) {
        g_autofree char *script = g_strdup_printf("d=$1/%s\nmkdir -p \"$d\"\nsetsid " MEMBER " &\n" WAIT_PIDS(1)
                                                  "exec sleep 300\n",
                                                  name);
        g_autofree char *pids_file = g_build_filename(name, "pids", NULL);
        guint32 leader;
        char *path = spawn_script(t, script, options, &leader);
        g_autoptr(GArray) pids = wait_pids(t, pids_file, 1);
        *ret_leader = (pid_t) leader;
        *ret_member = g_array_index(pids, pid_t, 0);
        return path;
}

static void test_crash_kill_on_release(TreeFixture *t, gconstpointer data) {
        /* The service dies by SIGKILL with two trees running, one spawned with kill-on-release:
         * the next start (activated by any call) kills that whole tree, whose processes had no
         * other tie to the service, and removes its cgroup. The other tree runs on, in its cgroup
         * below the dead service's container. */
        pid_t doomed_leader, doomed_member, kept_leader, kept_member;

        if (!want_mode(t, data))
                return;
        g_autofree char *doomed = spawn_lasting_tree(t, "doomed", opts("{'tree': <true>, 'kill-on-release': <true>}"),
                                                     &doomed_leader, &doomed_member);
        g_autofree char *kept = spawn_lasting_tree(t, "kept", opts("{'tree': <true>}"), &kept_leader, &kept_member);
        g_assert_true(g_variant_is_object_path(doomed));
        g_assert_true(g_variant_is_object_path(kept));
        g_autofree char *doomed_cgroup = cgroup_dir_of(doomed_member);
        g_autofree char *kept_cgroup = cgroup_dir_of(kept_member);
        g_autofree char *old_container = g_path_get_dirname(kept_cgroup);

        pid_t first = cw_service_pid(&t->cw);
        g_assert_cmpint(kill(first, SIGKILL), ==, 0);
        if (!cw_wait_until(cw_file_exists, t->cw.status_file, cw_timeout_ms(10000)))
                g_error("the service did not die");
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(t->cw.status_file, &status, NULL, NULL));
        g_assert_cmpstr(g_strstrip(status), ==, "137");
        /* So that teardown waits for the second service's own status. */
        g_assert_cmpint(unlink(t->cw.status_file), ==, 0);
        t->cw.service_pid = 0;

        /* Any call starts the next service, which cleans up before it takes its name. */
        pid_t second = cw_service_pid(&t->cw);
        g_assert_cmpint(second, !=, first);
        wait_pid_ended(doomed_member, 2000);
        wait_pid_ended(doomed_leader, 2000);
        gboolean doomed_cgroup_gone = !g_file_test(doomed_cgroup, G_FILE_TEST_EXISTS);
        gboolean kept_runs = !pid_ended(GINT_TO_POINTER(kept_member)) && !pid_ended(GINT_TO_POINTER(kept_leader));
        gboolean kept_cgroup_there = g_file_test(kept_cgroup, G_FILE_TEST_IS_DIR);

        /* Clean up before asserting: the kept tree is nobody's now but ours. */
        g_assert_cmpint(kill(kept_member, SIGKILL), ==, 0);
        g_assert_cmpint(kill(kept_leader, SIGKILL), ==, 0);
        wait_pid_ended(kept_member, 2000);
        wait_pid_ended(kept_leader, 2000);
        for (guint i = 0; i < 2; i++) {
                const char *dir = i == 0 ? kept_cgroup : old_container;
                /* Populated for a moment after the last exit: rmdir may say EBUSY. */
                for (int tries = 0; tries < 200 && rmdir(dir) < 0 && errno == EBUSY; tries++)
                        cw_spin(10);
        }
        g_assert_false(g_file_test(old_container, G_FILE_TEST_EXISTS));
        g_assert_true(doomed_cgroup_gone);
        g_assert_true(kept_runs);
        g_assert_true(kept_cgroup_there);
        finish(t);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);

#define ADD(name, args, fn) g_test_add("/tree/" name, TreeFixture, args, tree_setup, fn, tree_teardown)
#define ADD2(name, fn)                                            \
        G_STMT_START {                                            \
                ADD(name "/cgroup", ARGS_AUTO, fn);               \
                ADD(name "/process-group", ARGS_PGROUP, fn);      \
        } G_STMT_END
        ADD("features/auto", ARGS_AUTO, test_features);
        ADD("features/process-group", ARGS_PGROUP, test_features);
        ADD2("placement", test_placement);
        ADD("daemonize", ARGS_AUTO, test_daemonize);
        ADD("daemonize/tree-cgroup", ARGS_AUTO, test_daemonize_tree);
        ADD("daemonize/new-session", ARGS_AUTO, test_daemonize_session);
        ADD("daemonize/owner-gone-first", ARGS_AUTO, test_daemonize_owner_gone);
        ADD("daemonize/take-back-parent", ARGS_AUTO, test_take_back_parent);
        ADD("daemonize/linger", "--linger=1", test_daemonize_linger);
        ADD("orphan/ends-first", ARGS_AUTO, test_orphan_ends_first);
        ADD2("kill", test_tree_kill);
        ADD2("kill/stopped", test_tree_kill_stopped);
        ADD2("leader-first/send-signal", test_tree_leader_first);
        ADD2("leader-first/kill", test_tree_kill_after_leader);
        ADD("process-group/signal-after-leader", ARGS_AUTO, test_group_signal_after_leader);
        ADD("times", ARGS_AUTO, test_times);
        ADD("times/adopted", ARGS_AUTO, test_times_adopted);
        ADD2("times/tree", test_times_tree);
        ADD("adopt/then-reparented", ARGS_AUTO, test_adopt_then_reparented);
        ADD("adopt/orphan-child", ARGS_AUTO, test_adopt_orphan_child);
        ADD2("lifetime/release", test_lifetime_release);
        ADD2("lifetime/kill-on-release", test_lifetime_kill_on_release);
        ADD("crash/kill-on-release", ARGS_AUTO, test_crash_kill_on_release);
#undef ADD2
#undef ADD

        return g_test_run();
}
