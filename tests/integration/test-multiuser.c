/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Multi-user mode (issue 4): the service runs as root on a private system-like
 * bus (cw-system-bus.h: the stock system.conf rules plus this tree's policy),
 * and its clients are two unprivileged users, nobody (65534) and daemon (1).
 *
 * The test itself runs as root and orchestrates; everything a user does runs
 * in a hidden case of this binary ("/multiuser/subprocess/...") that the root
 * side starts as that user under setpriv (--init-groups), and whose exit
 * status and TAP output it checks. The root side passes what a run needs in
 * environment variables (CW_MU_*) and reads what it reports from a key file in
 * the user's own directory. A "hold" run of one user spawns a process and
 * stays on the bus until the root side lets it go on; meanwhile another
 * user's run attacks that process, and the root side checks that nothing
 * happened to it; then the holder checks the same from the owner's side.
 * Each attack runs both ways round (daemon on nobody, nobody on daemon) and
 * once more after the victim's client has left the bus ("-gone": the process
 * runs on and its object stays; a later run of the same user, on a new
 * connection, finds it, ends it and releases it).
 *
 * Under valgrind the service has no pidfds: the adoption cases skip (AdoptPid
 * answers NotSupported before it looks at the caller) and GetPidfd is
 * expected to be NotSupported where the owner or root asks; the rest runs.
 */

#include "cw-system-bus.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define INTROSPECTABLE_IFACE "org.freedesktop.DBus.Introspectable"
#define PEER_IFACE "org.freedesktop.DBus.Peer"
#define OBJECT_MANAGER_IFACE "org.freedesktop.DBus.ObjectManager"
#define UNKNOWN_OBJECT "org.freedesktop.DBus.Error.UnknownObject"
#define ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define NOT_SUPPORTED "org.freedesktop.DBus.Error.NotSupported"
#define PROCESS_NODE CW_MANAGER_PATH "/process"
#define PROCESS_PREFIX PROCESS_NODE "/"

#define SUB "/multiuser/subprocess/"

/* What the root side passes to the runs as users. */
#define ENV_ADDRESS "CW_MU_ADDRESS"         /* the bus */
#define ENV_DIR "CW_MU_DIR"                 /* the user's own directory (0700) */
#define ENV_OUT "CW_MU_OUT"                 /* key file a run writes once it is ready */
#define ENV_GO "CW_MU_GO"                   /* a file whose appearance lets a waiting run go on */
#define ENV_SECRET "CW_MU_SECRET"           /* a word in the argv of the held process */
#define ENV_EXPECT "CW_MU_EXPECT"           /* hold: "untouched" or "killed-by-root" */
#define ENV_TARGET_PATH "CW_MU_TARGET_PATH" /* the other user's process: object */
#define ENV_TARGET_PID "CW_MU_TARGET_PID"   /* ... its pid */
#define ENV_LOCAL_PID "CW_MU_LOCAL_PID"     /* a process of the other user's that nobody watches */
#define ENV_OTHER_USER "CW_MU_OTHER_USER"   /* the other user's name */
#define ENV_QUOTA "CW_MU_QUOTA"             /* quota runs: how many processes are (to be) running */
#define ENV_FORBIDDEN "CW_MU_FORBIDDEN"     /* a program only root may run */

/* ---- users ---- */

typedef struct User {
        const char *label; /* "nobody", "daemon" */
        uid_t uid;
        gid_t gid;
        char *name;
        char *home;
        char *shell;
} User;

static User user_nobody = { .label = "nobody" };
static User user_daemon = { .label = "daemon" };

static gboolean user_lookup(User *u) {
        struct passwd *pw = getpwnam(u->label);
        if (!pw)
                return FALSE;
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        u->name = g_strdup(pw->pw_name);
        u->home = g_strdup(pw->pw_dir);
        u->shell = g_strdup(pw->pw_shell);
        return TRUE;
}

/* The groups initgroups(@name, @gid) would set, sorted, as a string "g1 g2 ...". */
static char *expected_groups(const char *name, gid_t gid, gid_t extra) {
        int n = 256;
        gid_t groups[256 + 1];

        g_assert_cmpint(getgrouplist(name, gid, groups, &n), >=, 0);
        if (extra != (gid_t) -1)
                groups[n++] = extra;
        g_autoptr(GArray) a = g_array_new(FALSE, FALSE, sizeof(guint));
        for (int i = 0; i < n; i++) {
                guint g = groups[i];
                gboolean dup = FALSE;
                for (guint j = 0; j < a->len; j++)
                        dup = dup || g_array_index(a, guint, j) == g;
                if (!dup)
                        g_array_append_val(a, g);
        }
        for (guint i = 0; i < a->len; i++)
                for (guint j = i + 1; j < a->len; j++)
                        if (g_array_index(a, guint, j) < g_array_index(a, guint, i)) {
                                guint t = g_array_index(a, guint, i);
                                g_array_index(a, guint, i) = g_array_index(a, guint, j);
                                g_array_index(a, guint, j) = t;
                        }
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < a->len; i++)
                g_string_append_printf(s, "%s%u", i ? " " : "", g_array_index(a, guint, i));
        return g_string_free(s, FALSE);
}

/* The Groups: line of a /proc status file, sorted the same way. */
static char *sorted_groups(const char *line) {
        g_auto(GStrv) parts = g_strsplit(line ? line : "", " ", -1);
        g_autoptr(GArray) a = g_array_new(FALSE, FALSE, sizeof(guint));
        for (char **p = parts; *p; p++)
                if (**p) {
                        guint g = (guint) g_ascii_strtoull(*p, NULL, 10);
                        g_array_append_val(a, g);
                }
        for (guint i = 0; i < a->len; i++)
                for (guint j = i + 1; j < a->len; j++)
                        if (g_array_index(a, guint, j) < g_array_index(a, guint, i)) {
                                guint t = g_array_index(a, guint, i);
                                g_array_index(a, guint, i) = g_array_index(a, guint, j);
                                g_array_index(a, guint, j) = t;
                        }
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < a->len; i++)
                g_string_append_printf(s, "%s%u", i ? " " : "", g_array_index(a, guint, i));
        return g_string_free(s, FALSE);
}

/* ---- /proc of a process ---- */

static char *proc_field(pid_t pid, const char *field) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        return cw_proc_status_field(path, field);
}

static guint64 proc_hex(pid_t pid, const char *field) {
        g_autofree char *v = proc_field(pid, field);
        if (!v)
                g_error("no %s in /proc/%d/status", field, (int) pid);
        return g_ascii_strtoull(v, NULL, 16);
}

/* Asserts a status line of four equal ids ("Uid:" or "Gid:"). */
static void assert_ids(pid_t pid, const char *field, guint expected) {
        g_autofree char *v = proc_field(pid, field);
        g_autofree char *want = g_strdup_printf("%u\t%u\t%u\t%u", expected, expected, expected, expected);
        if (g_strcmp0(v, want) != 0)
                g_error("process %d: %s: '%s', expected '%s'", (int) pid, field, v, want);
}

static void assert_no_capabilities(pid_t pid) {
        static const char *const fields[] = { "CapInh", "CapPrm", "CapEff", "CapAmb", NULL };
        for (const char *const *f = fields; *f; f++) {
                guint64 v = proc_hex(pid, *f);
                if (v != 0)
                        g_error("process %d: %s is %016" G_GINT64_MODIFIER "x, expected none", (int) pid, *f, v);
        }
}

static void assert_groups(pid_t pid, const char *expected) {
        g_autofree char *line = proc_field(pid, "Groups");
        g_autofree char *got = sorted_groups(line);
        if (g_strcmp0(got, expected) != 0)
                g_error("process %d: Groups '%s', expected '%s'", (int) pid, got, expected);
}

static gboolean environ_set_up(gpointer p) {
        char path[64];
        g_autofree char *data = NULL;
        gsize size = 0;
        g_snprintf(path, sizeof(path), "/proc/%d/environ", GPOINTER_TO_INT(p));
        return g_file_get_contents(path, &data, &size, NULL) && size > 0;
}

/* /proc/PID/environ as a table NAME -> VALUE. The Spawn reply may come while the kernel is
 * still finishing the execve() (the service learns of its success when the close-on-exec
 * descriptors close, before the new stack is set up; /proc then shows the new comm and an
 * empty environment): wait (bounded) for it to be set up first. */
static GHashTable *proc_environ(pid_t pid) {
        char path[64];
        g_autofree char *data = NULL;
        gsize size = 0;
        g_autoptr(GError) error = NULL;
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        if (!cw_wait_until(environ_set_up, GINT_TO_POINTER(pid), cw_timeout_ms(2000)))
                g_test_message("/proc/%d/environ is still empty after %u ms", (int) pid, cw_timeout_ms(2000));
        g_snprintf(path, sizeof(path), "/proc/%d/environ", (int) pid);
        if (!g_file_get_contents(path, &data, &size, &error))
                g_error("%s: %s", path, error->message);
        for (gsize i = 0; i < size;) {
                const char *entry = data + i;
                gsize len = strnlen(entry, size - i);
                const char *eq = memchr(entry, '=', len);
                gsize name_len = eq ? (gsize) (eq - entry) : len;
                if (eq)
                        g_hash_table_replace(t, g_strndup(entry, name_len), g_strndup(eq + 1, len - name_len - 1));
                else
                        g_hash_table_replace(t, g_strndup(entry, len), g_strdup(""));
                i += len + 1;
        }
        return t;
}

static char *proc_cwd(pid_t pid) {
        char path[64];
        g_autoptr(GError) error = NULL;
        g_snprintf(path, sizeof(path), "/proc/%d/cwd", (int) pid);
        char *cwd = g_file_read_link(path, &error);
        if (!cwd)
                g_error("%s: %s", path, error->message);
        return cwd;
}

/* The environment of @pid is exactly the login environment of @u (PATH, HOME, USER, LOGNAME,
 * SHELL from the user database) plus @extra (NAME=VALUE, NULL-terminated): nothing of the
 * service's own, in particular not its canary. */
static void assert_login_environment(pid_t pid, const User *u, const char *const *extra) {
        g_autoptr(GHashTable) env = proc_environ(pid);
        g_autoptr(GHashTable) expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        if (g_hash_table_contains(env, CW_SYSTEM_BUS_CANARY_NAME))
                g_error("process %d has the service's %s=%s", (int) pid, CW_SYSTEM_BUS_CANARY_NAME,
                        (char *) g_hash_table_lookup(env, CW_SYSTEM_BUS_CANARY_NAME));
        g_hash_table_replace(expected, g_strdup("HOME"), g_strdup(u->home));
        g_hash_table_replace(expected, g_strdup("USER"), g_strdup(u->name));
        g_hash_table_replace(expected, g_strdup("LOGNAME"), g_strdup(u->name));
        g_hash_table_replace(expected, g_strdup("SHELL"), g_strdup(u->shell));
        for (const char *const *e = extra; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                g_assert_nonnull(eq);
                g_hash_table_replace(expected, g_strndup(*e, (gsize) (eq - *e)), g_strdup(eq + 1));
        }
        const char *path_value = g_hash_table_lookup(env, "PATH");
        if (!path_value || !*path_value) {
                g_autofree char *comm = cw_proc_comm(pid);
                g_error("process %d (%s, state %c) has no PATH in its environment of %u entries", (int) pid,
                        comm, cw_proc_state(pid), g_hash_table_size(env));
        }

        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, env);
        while (g_hash_table_iter_next(&it, &k, &v)) {
                if (g_str_equal(k, "PATH") && !g_hash_table_contains(expected, "PATH"))
                        continue;
                if (!g_hash_table_contains(expected, k))
                        g_error("process %d has %s=%s, which is neither the login environment of %s nor "
                                "what the caller passed",
                                (int) pid, (char *) k, (char *) v, u->name);
        }
        g_hash_table_iter_init(&it, expected);
        while (g_hash_table_iter_next(&it, &k, &v)) {
                const char *got = g_hash_table_lookup(env, k);
                if (g_strcmp0(got, v) != 0)
                        g_error("process %d: %s='%s', expected '%s'", (int) pid, (char *) k, got, (char *) v);
        }
}

/* What a login of @u gets as its working directory: its home, or / when there is none. */
static const char *expected_cwd(const User *u) {
        return g_file_test(u->home, G_FILE_TEST_IS_DIR) ? u->home : "/";
}

static gboolean pid_running(pid_t pid) {
        char s = cw_proc_state(pid);
        return s != 0 && s != 'Z' && s != 'X' && s != 'T' && s != 't';
}

static gboolean pid_stopped(gpointer p) {
        char s = cw_proc_state(GPOINTER_TO_INT(p));
        return s == 'T';
}

static gboolean pid_not_stopped(gpointer p) {
        return pid_running(GPOINTER_TO_INT(p));
}

/* The process runs, not stopped, with no signal pending: nothing reached it. */
static void assert_untouched(pid_t pid) {
        if (!pid_running(pid))
                g_error("process %d is not running undisturbed (state %c)", (int) pid, cw_proc_state(pid));
        g_assert_cmpuint(proc_hex(pid, "SigPnd"), ==, 0);
        g_assert_cmpuint(proc_hex(pid, "ShdPnd"), ==, 0);
}

/* ---- key files between the runs ---- */

static void write_keys(const char *path, const char *const *kv) {
        g_autoptr(GKeyFile) k = g_key_file_new();
        g_autoptr(GError) error = NULL;
        for (const char *const *p = kv; p[0] && p[1]; p += 2)
                g_key_file_set_string(k, "run", p[0], p[1]);
        g_assert_true(g_key_file_save_to_file(k, path, &error));
        g_assert_no_error(error);
}

static char *read_key(const char *path, const char *key) {
        g_autoptr(GKeyFile) k = g_key_file_new();
        g_autoptr(GError) error = NULL;
        g_assert_true(g_key_file_load_from_file(k, path, G_KEY_FILE_NONE, &error));
        g_assert_no_error(error);
        char *v = g_key_file_get_string(k, "run", key, &error);
        g_assert_no_error(error);
        return v;
}

static const char *need_env(const char *name) {
        const char *v = g_getenv(name);
        if (!v)
                g_error("%s is not set", name);
        return v;
}

/* ======================================================================================
 * The user side: a client of the bus, recording every signal it receives.
 * ====================================================================================== */

typedef struct Client {
        GDBusConnection *conn;
        const char *unique_name;
        char *service_name;
        GMutex lock;
        GPtrArray *signals; /* GDBusMessage*, every signal that reached this connection */
        guint filter;
} Client;

static GDBusMessage *record_signals(GDBusConnection *conn, GDBusMessage *msg, gboolean incoming, gpointer data) {
        Client *c = data;
        if (incoming && g_dbus_message_get_message_type(msg) == G_DBUS_MESSAGE_TYPE_SIGNAL) {
                g_mutex_lock(&c->lock);
                g_ptr_array_add(c->signals, g_object_ref(msg));
                g_mutex_unlock(&c->lock);
        }
        return msg;
}

static GVariant *bus_call(GDBusConnection *conn, const char *method, GVariant *params, const char *reply_type,
                          GError **error) {
        return g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", method, params,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                                           -1, NULL, error);
}

/* Connects to the bus of ENV_ADDRESS, as the run's user: not root, no capabilities. */
static void client_open(Client *c) {
        g_autoptr(GError) error = NULL;

        g_assert_cmpuint(getuid(), !=, 0);
        g_assert_cmpuint(geteuid(), ==, getuid());
        g_assert_cmpuint(proc_hex(getpid(), "CapEff"), ==, 0);

        memset(c, 0, sizeof(*c));
        g_mutex_init(&c->lock);
        c->signals = g_ptr_array_new_with_free_func(g_object_unref);
        c->conn = cw_bus_connect(need_env(ENV_ADDRESS));
        c->filter = g_dbus_connection_add_filter(c->conn, record_signals, c, NULL);
        c->unique_name = g_dbus_connection_get_unique_name(c->conn);
        g_autoptr(GVariant) r = bus_call(c->conn, "GetNameOwner", g_variant_new("(s)", CW_NAME), "(s)", &error);
        g_assert_no_error(error);
        g_variant_get(r, "(s)", &c->service_name);
}

static void client_close(Client *c) {
        g_dbus_connection_remove_filter(c->conn, c->filter);
        g_assert_true(g_dbus_connection_close_sync(c->conn, NULL, NULL));
        g_clear_object(&c->conn);
        g_clear_pointer(&c->signals, g_ptr_array_unref);
        g_clear_pointer(&c->service_name, g_free);
        g_mutex_clear(&c->lock);
}

/* Asks for every signal on the bus: a plain match, and one with eavesdrop='true', which the
 * policy must keep from delivering anything not meant for us (dbus-daemon may also refuse
 * it outright: AccessDenied). */
static void client_subscribe_all(Client *c) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = bus_call(c->conn, "AddMatch", g_variant_new("(s)", "type='signal'"), "()", &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        g_autoptr(GVariant) r2 = bus_call(c->conn, "AddMatch", g_variant_new("(s)", "type='signal',eavesdrop='true'"),
                                          "()", &error);
        if (error) {
                g_assert_null(r2);
                cw_assert_dbus_error(error, ACCESS_DENIED);
                g_test_message("AddMatch with eavesdrop='true' refused: %s", error->message);
        }
}

/* A round trip to the service: every signal it sent us before is then recorded. */
static void client_sync(Client *c) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(c->conn, CW_MANAGER_PATH, PEER_IFACE, "Ping", NULL, "()", &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
}

typedef struct SignalQuery {
        Client *c;
        const char *path;
        const char *iface;
        const char *member;
        const char *arg0; /* first string argument, or NULL for any */
} SignalQuery;

static guint count_signals(Client *c, const char *path, const char *iface, const char *member, const char *arg0) {
        guint n = 0;
        g_mutex_lock(&c->lock);
        for (guint i = 0; i < c->signals->len; i++) {
                GDBusMessage *m = g_ptr_array_index(c->signals, i);
                GVariant *body = g_dbus_message_get_body(m);
                if (path && g_strcmp0(g_dbus_message_get_path(m), path) != 0)
                        continue;
                if (iface && g_strcmp0(g_dbus_message_get_interface(m), iface) != 0)
                        continue;
                if (member && g_strcmp0(g_dbus_message_get_member(m), member) != 0)
                        continue;
                if (arg0) {
                        if (!body || g_variant_n_children(body) < 1)
                                continue;
                        g_autoptr(GVariant) a0 = g_variant_get_child_value(body, 0);
                        if (!g_variant_is_of_type(a0, G_VARIANT_TYPE_STRING) &&
                            !g_variant_is_of_type(a0, G_VARIANT_TYPE_OBJECT_PATH))
                                continue;
                        if (g_strcmp0(g_variant_get_string(a0, NULL), arg0) != 0)
                                continue;
                }
                n++;
        }
        g_mutex_unlock(&c->lock);
        return n;
}

static gboolean signal_seen(gpointer data) {
        SignalQuery *q = data;
        return count_signals(q->c, q->path, q->iface, q->member, q->arg0) > 0;
}

/* Logs every signal recorded so far. */
static void dump_signals(Client *c) {
        g_mutex_lock(&c->lock);
        for (guint i = 0; i < c->signals->len; i++) {
                GDBusMessage *m = g_ptr_array_index(c->signals, i);
                GVariant *body = g_dbus_message_get_body(m);
                g_autofree char *text = body ? g_variant_print(body, FALSE) : g_strdup("");
                g_test_message("signal from %s to %s: %s.%s on %s: %s", g_dbus_message_get_sender(m),
                               g_dbus_message_get_destination(m), g_dbus_message_get_interface(m),
                               g_dbus_message_get_member(m), g_dbus_message_get_path(m), text);
        }
        g_mutex_unlock(&c->lock);
}

static void wait_for_signal(Client *c, const char *path, const char *iface, const char *member, const char *arg0) {
        SignalQuery q = { c, path, iface, member, arg0 };
        if (!cw_wait_until(signal_seen, &q, cw_timeout_ms(10000))) {
                dump_signals(c);
                g_error("no %s.%s(%s) on %s within %u ms", iface, member, arg0 ? arg0 : "...", path,
                        cw_timeout_ms(10000));
        }
}

/* Every signal the service sent us was addressed to us alone (unicast), none broadcast. */
static void assert_all_unicast_to_me(Client *c) {
        g_mutex_lock(&c->lock);
        for (guint i = 0; i < c->signals->len; i++) {
                GDBusMessage *m = g_ptr_array_index(c->signals, i);
                if (g_strcmp0(g_dbus_message_get_sender(m), c->service_name) != 0)
                        continue;
                if (g_strcmp0(g_dbus_message_get_destination(m), c->unique_name) != 0)
                        g_error("signal %s.%s on %s was sent to '%s', not to the owner %s alone",
                                g_dbus_message_get_interface(m), g_dbus_message_get_member(m),
                                g_dbus_message_get_path(m), g_dbus_message_get_destination(m), c->unique_name);
        }
        g_mutex_unlock(&c->lock);
}

static GVariant *empty_options(void) {
        return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

static char *get_state(GDBusConnection *conn, const char *path) {
        g_autoptr(GVariant) v = cw_get_property(conn, path, CW_PROCESS_IFACE, "State");
        return g_variant_dup_string(v, NULL);
}

/* The string in a reply "(s)". */
static char *reply_string(GVariant *r) {
        char *s = NULL;
        g_variant_get(r, "(s)", &s);
        return s;
}

static char *spawn_ok(Client *c, const char *const *argv, GVariant *options, guint32 *ret_pid) {
        g_autoptr(GError) error = NULL;
        char *path = cw_spawn_full(c->conn, argv, options ? options : empty_options(), NULL, ret_pid, &error);
        g_assert_no_error(error);
        g_assert_nonnull(path);
        return path;
}

/* The object paths of ListProcesses(). */
static GPtrArray *list_paths(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL, "(a(ouss))",
                                        &error);
        g_assert_no_error(error);
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GVariantIter) it = NULL;
        const char *path;
        g_variant_get(r, "(a(ouss))", &it);
        while (g_variant_iter_next(it, "(&ou&s&s)", &path, NULL, NULL, NULL))
                g_ptr_array_add(paths, g_strdup(path));
        return paths;
}

static gboolean paths_contain(GPtrArray *paths, const char *path) {
        for (guint i = 0; i < paths->len; i++)
                if (g_str_equal(g_ptr_array_index(paths, i), path))
                        return TRUE;
        return FALSE;
}

/* The objects of GetManagedObjects(), with their interfaces and properties. */
static GVariant *managed_objects(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        GVariant *r = cw_call(conn, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects", NULL,
                              "(a{oa{sa{sv}}})", &error);
        g_assert_no_error(error);
        return r;
}

static gboolean managed_contains(GVariant *objects, const char *path) {
        g_autoptr(GVariant) dict = g_variant_get_child_value(objects, 0);
        g_autoptr(GVariant) v = g_variant_lookup_value(dict, path, NULL);
        return v != NULL;
}

/* The child node names of PROCESS_NODE's introspection. */
static GPtrArray *introspected_ids(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(conn, PROCESS_NODE, INTROSPECTABLE_IFACE, "Introspect", NULL, "(s)", &error);
        g_assert_no_error(error);
        const char *xml;
        g_variant_get(r, "(&s)", &xml);
        g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml(xml, &error);
        g_assert_no_error(error);
        GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
        for (GDBusNodeInfo **n = info->nodes; n && *n; n++)
                g_ptr_array_add(ids, g_strdup((*n)->path));
        return ids;
}

static const char *path_id(const char *path) {
        g_assert_true(g_str_has_prefix(path, PROCESS_PREFIX));
        return path + strlen(PROCESS_PREFIX);
}

/* A call that must fail with @error_name; with a bounded timeout of its own, so that a call
 * the service would rather block (Wait, Kill) is seen as the failure it is. */
static void assert_call_fails(GDBusConnection *conn, const char *path, const char *iface, const char *method,
                              GVariant *params, const char *error_name) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) r = g_dbus_connection_call_with_unix_fd_list_sync(
                conn, CW_NAME, path, iface, method, params, NULL, G_DBUS_CALL_FLAGS_NONE,
                (gint) cw_timeout_ms(5000), NULL, &fds, NULL, &error);
        if (r) {
                g_autofree char *text = g_variant_print(r, TRUE);
                g_error("%s.%s on %s succeeded (%s), expected %s", iface, method, path, text, error_name);
        }
        g_assert_null(fds);
        g_autofree char *remote = g_dbus_error_get_remote_error(error);
        if (g_strcmp0(remote, error_name) != 0)
                g_error("%s.%s on %s: expected %s, got %s: %s", iface, method, path, error_name,
                        remote ? remote : "(local error)", error->message);
}

static void kill_and_release(Client *c, const char *path) {
        g_autofree char *state = NULL;
        int status = -1;
        cw_kill(c->conn, path, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, SIGKILL);
        cw_release(c->conn, path);
}

/* The processes of this user's that the service lists. */
static GPtrArray *own_paths(Client *c) {
        return list_paths(c->conn);
}

static void wait_for_file(const char *path) {
        if (!cw_wait_until(cw_file_exists, (gpointer) path, cw_timeout_ms(60000)))
                g_error("%s did not appear within %u ms", path, cw_timeout_ms(60000));
}

/* ---- user side: the child's credentials ---- */

static void sub_credentials(void) {
        /* Spawned for the caller: the caller's uid, primary gid and supplementary groups of the
         * user database, no capabilities, home (or /) as cwd, and the login environment plus
         * what the caller passed, nothing of the service's. */
        const char *const sleep_argv[] = { "sleep", "300", NULL };
        const char *const extra[] = { "CW_FROM_CALLER=hello world", "CW_EMPTY=", NULL };
        struct passwd *pw = getpwuid(getuid());
        Client c;
        guint32 pid = 0;

        g_assert_nonnull(pw);
        User me = { .label = "me", .uid = pw->pw_uid, .gid = pw->pw_gid, .name = g_strdup(pw->pw_name),
                    .home = g_strdup(pw->pw_dir), .shell = g_strdup(pw->pw_shell) };
        client_open(&c);

        g_autoptr(GVariant) features = cw_get_property(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **list = g_variant_get_strv(features, NULL);
        g_assert_true(g_strv_contains(list, "multi-user"));

        g_autofree char *path = spawn_ok(&c, sleep_argv,
                                         cw_one_option("environment", g_variant_new_strv(extra, -1)), &pid);
        g_assert_cmpuint(pid, >, 0);
        g_assert_cmpuint(cw_get_u32(c.conn, path, CW_PROCESS_IFACE, "Uid"), ==, me.uid);
        g_assert_cmpuint(cw_get_u32(c.conn, path, CW_PROCESS_IFACE, "OwnerUid"), ==, me.uid);
        g_autoptr(GVariant) owner = cw_get_property(c.conn, path, CW_PROCESS_IFACE, "Owner");
        g_assert_cmpstr(g_variant_get_string(owner, NULL), ==, c.unique_name);

        assert_ids((pid_t) pid, "Uid", me.uid);
        assert_ids((pid_t) pid, "Gid", me.gid);
        g_autofree char *groups = expected_groups(me.name, me.gid, (gid_t) -1);
        assert_groups((pid_t) pid, groups);
        assert_no_capabilities((pid_t) pid);
        g_autofree char *cwd = proc_cwd((pid_t) pid);
        g_assert_cmpstr(cwd, ==, expected_cwd(&me));
        assert_login_environment((pid_t) pid, &me, extra);
        /* It leads a session of its own (docs/security.md): no other user's process shares
         * its process group. */
        CwProcStat st;
        g_assert_true(cw_proc_stat((pid_t) pid, &st));
        g_assert_cmpint(st.session, ==, (pid_t) pid);
        g_assert_cmpint(st.pgrp, ==, (pid_t) pid);

        kill_and_release(&c, path);
        g_assert_cmpuint(own_paths(&c)->len, ==, 0);
        client_close(&c);
        g_free(me.name);
        g_free(me.home);
        g_free(me.shell);
}

/* ---- user side: options only root may use ---- */

static void sub_user_option(void) {
        /* Spawn with `user` or `group`, whatever the value (root, another user, even oneself):
         * AccessDenied, and nothing is started. */
        const char *dir = need_env(ENV_DIR);
        const char *other = need_env(ENV_OTHER_USER);
        g_autofree char *marker = g_build_filename(dir, "started", NULL);
        const char *const touch_argv[] = { "touch", marker, NULL };
        struct passwd *pw = getpwuid(getuid());
        g_autofree char *own_uid = g_strdup_printf("%u", (unsigned) getuid());
        g_autofree char *own_gid = g_strdup_printf("%u", (unsigned) getgid());
        Client c;

        g_assert_nonnull(pw);
        g_autofree char *own_name = g_strdup(pw->pw_name);
        client_open(&c);
        const struct {
                const char *user;
                const char *group;
        } cases[] = {
                { "root", NULL },  { "0", NULL },    { other, NULL },       { own_name, NULL }, { own_uid, NULL },
                { NULL, "root" },  { NULL, "0" },    { NULL, own_gid },     { "root", "root" }, { own_name, own_gid },
        };
        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                if (cases[i].user)
                        g_variant_builder_add(&b, "{sv}", "user", g_variant_new_string(cases[i].user));
                if (cases[i].group)
                        g_variant_builder_add(&b, "{sv}", "group", g_variant_new_string(cases[i].group));
                g_autofree char *path = cw_spawn_full(c.conn, touch_argv, g_variant_builder_end(&b), NULL, NULL,
                                                      &error);
                if (path)
                        g_error("Spawn with user '%s', group '%s' succeeded for uid %u: %s",
                                cases[i].user ? cases[i].user : "-", cases[i].group ? cases[i].group : "-",
                                (unsigned) getuid(), path);
                g_autofree char *remote = g_dbus_error_get_remote_error(error);
                if (g_strcmp0(remote, ACCESS_DENIED) != 0)
                        g_error("Spawn with user '%s', group '%s': expected %s, got %s: %s",
                                cases[i].user ? cases[i].user : "-", cases[i].group ? cases[i].group : "-",
                                ACCESS_DENIED, remote, error->message);
        }
        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_cmpuint(paths->len, ==, 0);
        cw_spin(200);
        g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
        client_close(&c);
}

/* ---- user side: the service does not lend its own rights ---- */

static void sub_no_root_access(void) {
        /* A cwd only root may enter, and a program only root may run: SpawnFailed naming them
         * and EACCES, as if the user had tried it (the checks happen as the user). */
        const char *forbidden = need_env(ENV_FORBIDDEN);
        const char *const true_argv[] = { "true", NULL };
        const char *const forbidden_argv[] = { forbidden, NULL };
        struct stat st;
        Client c;

        g_assert_cmpint(stat("/root", &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0077, ==, 0);
        g_assert_cmpint(access("/root", X_OK), ==, -1);
        g_assert_cmpint(access(forbidden, X_OK), ==, -1);

        client_open(&c);
        g_autoptr(GError) error = NULL;
        g_autofree char *p1 = cw_spawn_full(c.conn, true_argv, cw_one_option("cwd", g_variant_new_string("/root")),
                                            NULL, NULL, &error);
        g_assert_null(p1);
        cw_assert_dbus_error(error, CW_ERROR("SpawnFailed"));
        if (!strstr(error->message, "/root") || !strstr(error->message, g_strerror(EACCES)))
                g_error("SpawnFailed for cwd /root does not name it and EACCES: %s", error->message);
        g_clear_error(&error);

        g_autofree char *p2 = cw_spawn_full(c.conn, forbidden_argv, NULL, NULL, NULL, &error);
        g_assert_null(p2);
        cw_assert_dbus_error(error, CW_ERROR("SpawnFailed"));
        if (!strstr(error->message, forbidden) || !strstr(error->message, g_strerror(EACCES)))
                g_error("SpawnFailed for %s does not name it and EACCES: %s", forbidden, error->message);
        g_clear_error(&error);

        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_cmpuint(paths->len, ==, 0);
        client_close(&c);
}

/* ---- user side: a process held for the others to attack ---- */

static void sub_hold(void) {
        /* Spawns a process (with ENV_SECRET in its argv), reports it in ENV_OUT and stays on
         * the bus until ENV_GO appears. ENV_EXPECT "untouched": then it still runs and no
         * change was announced to its owner; "killed-by-root": root stopped, continued and
         * killed it (SIGTERM), and the owner was told each step. Cleans up after itself. */
        const char *secret = need_env(ENV_SECRET);
        const char *expect = need_env(ENV_EXPECT);
        const char *const argv[] = { "sh", "-c", "exec sleep 300", secret, NULL };
        Client c;
        guint32 pid = 0;

        client_open(&c);
        client_subscribe_all(&c);
        g_autofree char *path = spawn_ok(&c, argv, NULL, &pid);
        wait_for_signal(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesAdded", path);
        g_autofree char *pid_text = g_strdup_printf("%u", pid);
        const char *const kv[] = { "path", path, "pid", pid_text, "unique-name", c.unique_name, NULL, NULL };
        write_keys(need_env(ENV_OUT), kv);

        wait_for_file(need_env(ENV_GO));
        client_sync(&c);
        if (g_str_equal(expect, "untouched")) {
                g_autofree char *state = NULL;
                int status = -1;
                g_autofree char *now = get_state(c.conn, path);
                g_assert_cmpstr(now, ==, "running");
                assert_untouched((pid_t) pid);
                g_assert_cmpuint(count_signals(&c, path, NULL, NULL, NULL), ==, 0);
                g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", NULL), ==, 0);
                /* The owner still may do what the others may not. */
                cw_kill(c.conn, path, cw_timeout_ms(5000) * (guint64) 1000, &state, &status);
                g_assert_cmpstr(state, ==, "killed");
                g_assert_cmpint(status, ==, SIGTERM);
        } else {
                g_assert_cmpstr(expect, ==, "killed-by-root");
                wait_for_signal(&c, path, CW_PROCESS_IFACE, "StateChanged", "killed");
                g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", "stopped"), ==, 1);
                g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", "continued"), ==, 1);
                g_autofree char *now = get_state(c.conn, path);
                g_assert_cmpstr(now, ==, "killed");
                g_assert_cmpint(cw_get_i32(c.conn, path, CW_PROCESS_IFACE, "ExitStatus"), ==, SIGTERM);
        }
        cw_release(c.conn, path);
        wait_for_signal(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesRemoved", path);
        client_sync(&c);
        assert_all_unicast_to_me(&c);
        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_cmpuint(paths->len, ==, 0);
        client_close(&c);
}

static void sub_spawn_and_leave(void) {
        /* Spawns a process (ENV_SECRET in its argv), reports it in ENV_OUT and leaves the bus:
         * the process runs on, its object stays, its owner is gone. */
        const char *const argv[] = { "sh", "-c", "exec sleep 300", need_env(ENV_SECRET), NULL };
        Client c;
        guint32 pid = 0;

        client_open(&c);
        g_autofree char *path = spawn_ok(&c, argv, NULL, &pid);
        g_autofree char *pid_text = g_strdup_printf("%u", pid);
        const char *const kv[] = { "path", path, "pid", pid_text, "unique-name", c.unique_name, NULL, NULL };
        write_keys(need_env(ENV_OUT), kv);
        client_close(&c);
}

static void sub_reclaim(void) {
        /* The same user again, on a new connection, after its earlier one left: its process
         * (ENV_TARGET_PATH) is there for it, running, and it may end and release it. */
        const char *path = need_env(ENV_TARGET_PATH);
        Client c;
        g_autofree char *state = NULL;
        int status = -1;

        client_open(&c);
        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_true(paths_contain(paths, path));
        g_assert_cmpuint(paths->len, ==, 1);
        g_assert_cmpuint(cw_get_u32(c.conn, path, CW_PROCESS_IFACE, "OwnerUid"), ==, getuid());
        g_autofree char *now = get_state(c.conn, path);
        g_assert_cmpstr(now, ==, "running");
        cw_kill(c.conn, path, cw_timeout_ms(5000) * (guint64) 1000, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, SIGTERM);
        cw_release(c.conn, path);
        g_autoptr(GPtrArray) none = own_paths(&c);
        g_assert_cmpuint(none->len, ==, 0);
        client_close(&c);
}

/* ---- user side: attacks on the other user's process ---- */

typedef struct Target {
        const char *path;
        guint32 pid;
} Target;

static Target target(void) {
        Target t = { need_env(ENV_TARGET_PATH), (guint32) g_ascii_strtoull(need_env(ENV_TARGET_PID), NULL, 10) };
        g_assert_true(g_str_has_prefix(t.path, PROCESS_PREFIX));
        g_assert_cmpuint(t.pid, >, 0);
        /* It is another user's indeed. */
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%u/status", t.pid);
        g_autofree char *uids = cw_proc_status_field(path, "Uid");
        g_assert_nonnull(uids);
        g_assert_cmpuint(g_ascii_strtoull(uids, NULL, 10), !=, getuid());
        return t;
}

static const char *const own_sleep[] = { "sleep", "300", NULL };

static void sub_attack_signal(void) {
        /* SendSignal on another user's process: UnknownObject, for any signal, to the process
         * or its group. The control: the same on one's own process works. */
        Target t = target();
        Client c;
        guint32 pid;
        const int sigs[] = { SIGKILL, SIGTERM, SIGSTOP, SIGCONT, SIGUSR1 };

        client_open(&c);
        for (gsize i = 0; i < G_N_ELEMENTS(sigs); i++)
                for (int group = 0; group <= 1; group++)
                        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "SendSignal",
                                          g_variant_new("(ib)", sigs[i], group), UNKNOWN_OBJECT);

        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, &pid);
        g_autoptr(GError) error = NULL;
        cw_send_signal(c.conn, own, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(pid_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("own process %u did not stop", pid);
        cw_send_signal(c.conn, own, SIGCONT, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(pid_not_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("own process %u did not continue", pid);
        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_kill(void) {
        /* Kill on another user's process, at once or with a grace period: UnknownObject (and
         * no wait for it). The control: one's own is killed. */
        Target t = target();
        Client c;

        client_open(&c);
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "Kill", g_variant_new("(t)", (guint64) 0), UNKNOWN_OBJECT);
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "Kill", g_variant_new("(t)", (guint64) 1000000),
                          UNKNOWN_OBJECT);
        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, NULL);
        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_release(void) {
        /* Release of another user's process: UnknownObject (twice: nothing changed). The
         * control: one's own object goes away. */
        Target t = target();
        const char *const true_argv[] = { "true", NULL };
        Client c;

        client_open(&c);
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "Release", NULL, UNKNOWN_OBJECT);
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "Release", NULL, UNKNOWN_OBJECT);
        g_autofree char *own = spawn_ok(&c, true_argv, NULL, NULL);
        g_autofree char *state = NULL;
        int status = -1;
        cw_wait(c.conn, own, &state, &status);
        g_assert_cmpstr(state, ==, "exited");
        cw_release(c.conn, own);
        assert_call_fails(c.conn, own, CW_PROCESS_IFACE, "Release", NULL, UNKNOWN_OBJECT);
        client_close(&c);
}

static void sub_attack_wait(void) {
        /* Wait on another user's process: UnknownObject at once (it does not block until the
         * process ends). The control: one's own Wait answers. */
        Target t = target();
        const char *const true_argv[] = { "true", NULL };
        Client c;

        client_open(&c);
        gint64 start = g_get_monotonic_time();
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "Wait", NULL, UNKNOWN_OBJECT);
        g_assert_cmpint(g_get_monotonic_time() - start, <, (gint64) cw_timeout_ms(4000) * 1000);
        g_autofree char *own = spawn_ok(&c, true_argv, NULL, NULL);
        g_autofree char *state = NULL;
        int status = -1;
        cw_wait(c.conn, own, &state, &status);
        g_assert_cmpstr(state, ==, "exited");
        g_assert_cmpint(status, ==, 0);
        cw_release(c.conn, own);
        client_close(&c);
}

static void sub_attack_get_pidfd(void) {
        /* GetPidfd of another user's process: UnknownObject and no descriptor. The control:
         * one's own pidfd (NotSupported without pidfds, under valgrind). */
        Target t = target();
        Client c;
        guint32 pid;

        client_open(&c);
        assert_call_fails(c.conn, t.path, CW_PROCESS_IFACE, "GetPidfd", NULL, UNKNOWN_OBJECT);
        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, &pid);
        if (cw_under_valgrind())
                assert_call_fails(c.conn, own, CW_PROCESS_IFACE, "GetPidfd", NULL, NOT_SUPPORTED);
        else {
                g_autoptr(GError) error = NULL;
                g_autoptr(GUnixFDList) fds = NULL;
                g_autoptr(GVariant) r = cw_call_with_fds(c.conn, own, CW_PROCESS_IFACE, "GetPidfd", NULL, "(h)", NULL,
                                                         &fds, &error);
                g_assert_no_error(error);
                g_assert_nonnull(fds);
                gint32 handle;
                g_variant_get(r, "(h)", &handle);
                int fd = g_unix_fd_list_get(fds, handle, &error);
                g_assert_no_error(error);
                char fdinfo[64];
                g_snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
                g_autofree char *p = cw_proc_status_field(fdinfo, "Pid");
                g_assert_cmpuint(g_ascii_strtoull(p, NULL, 10), ==, pid);
                g_assert_cmpint(close(fd), ==, 0);
        }
        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_list(void) {
        /* Listings do not show another user's process: ListProcesses, GetManagedObjects, and
         * GetProcess of its pid is NoSuchProcess. One's own process is in all of them. */
        Target t = target();
        Client c;
        guint32 pid;
        g_autoptr(GError) error = NULL;

        client_open(&c);
        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, &pid);

        g_autoptr(GPtrArray) paths = list_paths(c.conn);
        g_assert_false(paths_contain(paths, t.path));
        g_assert_true(paths_contain(paths, own));
        g_assert_cmpuint(paths->len, ==, 1);

        g_autoptr(GVariant) objects = managed_objects(c.conn);
        g_assert_false(managed_contains(objects, t.path));
        g_assert_true(managed_contains(objects, own));
        g_autoptr(GVariant) dict = g_variant_get_child_value(objects, 0);
        g_assert_cmpuint(g_variant_n_children(dict), ==, 1);

        g_autoptr(GVariant) r = cw_call(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                        g_variant_new("(u)", t.pid), "(o)", &error);
        g_assert_null(r);
        cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
        g_clear_error(&error);
        g_autoptr(GVariant) r2 = cw_call(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                         g_variant_new("(u)", pid), "(o)", &error);
        g_assert_no_error(error);
        const char *found;
        g_variant_get(r2, "(&o)", &found);
        g_assert_cmpstr(found, ==, own);

        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_introspect(void) {
        /* Introspection does not show another user's process: not a child node of the process
         * node, and its own path is UnknownObject. One's own is there. */
        Target t = target();
        Client c;

        client_open(&c);
        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, NULL);
        g_autoptr(GPtrArray) ids = introspected_ids(c.conn);
        gboolean has_own = FALSE;
        for (guint i = 0; i < ids->len; i++) {
                const char *id = g_ptr_array_index(ids, i);
                if (g_str_equal(id, path_id(t.path)))
                        g_error("Introspect of %s lists the other user's process %s", PROCESS_NODE, id);
                has_own = has_own || g_str_equal(id, path_id(own));
        }
        g_assert_true(has_own);
        g_assert_cmpuint(ids->len, ==, 1);
        assert_call_fails(c.conn, t.path, INTROSPECTABLE_IFACE, "Introspect", NULL, UNKNOWN_OBJECT);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(c.conn, own, INTROSPECTABLE_IFACE, "Introspect", NULL, "(s)", &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_properties(void) {
        /* Properties of another user's process (its Argv among them): Get, GetAll and Set are
         * UnknownObject. One's own are readable. */
        Target t = target();
        Client c;

        client_open(&c);
        static const char *const names[] = { "Argv", "State", "Pid", "Owner", "Description", NULL };
        for (const char *const *n = names; *n; n++)
                assert_call_fails(c.conn, t.path, PROPERTIES_IFACE, "Get",
                                  g_variant_new("(ss)", CW_PROCESS_IFACE, *n), UNKNOWN_OBJECT);
        assert_call_fails(c.conn, t.path, PROPERTIES_IFACE, "GetAll", g_variant_new("(s)", CW_PROCESS_IFACE),
                          UNKNOWN_OBJECT);
        assert_call_fails(c.conn, t.path, PROPERTIES_IFACE, "GetAll", g_variant_new("(s)", ""), UNKNOWN_OBJECT);
        assert_call_fails(c.conn, t.path, PROPERTIES_IFACE, "Set",
                          g_variant_new("(ssv)", CW_PROCESS_IFACE, "Description", g_variant_new_string("mine")),
                          UNKNOWN_OBJECT);

        g_autofree char *own = spawn_ok(&c, own_sleep, NULL, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(c.conn, own, PROPERTIES_IFACE, "GetAll", g_variant_new("(s)", CW_PROCESS_IFACE),
                                        "(a{sv})", &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        kill_and_release(&c, own);
        client_close(&c);
}

static void sub_attack_adopt(void) {
        /* AdoptPid and Adopt of another user's processes, one the service watches already and
         * one it does not: AccessDenied (not AlreadyWatched, which would tell that it exists
         * and is watched), whatever the options. The control: a process of one's own. */
        Target t = target();
        pid_t local = (pid_t) g_ascii_strtoll(need_env(ENV_LOCAL_PID), NULL, 10);
        const pid_t pids[] = { (pid_t) t.pid, local };
        Client c;

        client_open(&c);
        for (gsize i = 0; i < G_N_ELEMENTS(pids); i++) {
                int fd = pidfd_open(pids[i], 0);
                if (fd < 0)
                        g_error("pidfd_open(%d): %s", (int) pids[i], g_strerror(errno));
                assert_call_fails(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                  g_variant_new("(u@a{sv})", (guint32) pids[i], empty_options()), ACCESS_DENIED);
                assert_call_fails(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                  g_variant_new_parsed("(%u, {'kill-on-release': <true>, 'watch-bus': <true>})",
                                                       (guint32) pids[i]),
                                  ACCESS_DENIED);
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                g_autoptr(GError) error = NULL;
                gint handle = g_unix_fd_list_append(fds, fd, &error);
                g_assert_no_error(error);
                g_autoptr(GVariant) r = cw_call_with_fds(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Adopt",
                                                         g_variant_new("(h@a{sv})", handle, empty_options()), "(ou)",
                                                         fds, NULL, &error);
                g_assert_null(r);
                cw_assert_dbus_error(error, ACCESS_DENIED);
                g_assert_cmpint(close(fd), ==, 0);
        }
        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_cmpuint(paths->len, ==, 0);

        /* The control: a process of one's own (a child of this run) is adopted. */
        GPid mine = 0;
        g_autoptr(GError) error = NULL;
        g_assert_true(g_spawn_async(NULL, (char **) own_sleep, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                    NULL, NULL, &mine, &error));
        g_assert_no_error(error);
        g_autoptr(GVariant) r = cw_call(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                        g_variant_new("(u@a{sv})", (guint32) mine, empty_options()), "(ou)", &error);
        g_assert_no_error(error);
        const char *adopted;
        g_variant_get(r, "(&ou)", &adopted, NULL);
        g_assert_cmpuint(cw_get_u32(c.conn, adopted, CW_PROCESS_IFACE, "Uid"), ==, getuid());
        cw_release(c.conn, adopted);
        g_assert_cmpint(kill(mine, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(mine, NULL, 0), ==, mine);
        client_close(&c);
}

/* ---- user side: signals ---- */

static void sub_signals_owner(void) {
        /* The owner of a process gets all of its signals, each addressed to it alone:
         * InterfacesAdded (with the Argv that holds ENV_SECRET), StateChanged and
         * PropertiesChanged for stopped, continued and exited, InterfacesRemoved. */
        const char *secret = need_env(ENV_SECRET);
        g_autofree char *go_on = g_build_filename(need_env(ENV_DIR), "go-on", NULL);
        g_autofree char *script = g_strdup_printf("kill -STOP $$; while [ ! -e '%s' ]; do sleep 0.01; done; exit 3",
                                                  go_on);
        const char *const argv[] = { "sh", "-c", script, secret, NULL };
        Client c;

        client_open(&c);
        client_subscribe_all(&c);
        g_autofree char *path = spawn_ok(&c, argv, NULL, NULL);
        wait_for_signal(&c, path, CW_PROCESS_IFACE, "StateChanged", "stopped");
        g_autoptr(GError) error = NULL;
        cw_send_signal(c.conn, path, SIGCONT, FALSE, &error);
        g_assert_no_error(error);
        wait_for_signal(&c, path, CW_PROCESS_IFACE, "StateChanged", "continued");
        g_assert_true(g_file_set_contents(go_on, "", 0, &error));
        g_assert_no_error(error);
        wait_for_signal(&c, path, CW_PROCESS_IFACE, "StateChanged", "exited");
        g_autofree char *state = NULL;
        int status = -1;
        cw_wait(c.conn, path, &state, &status);
        g_assert_cmpstr(state, ==, "exited");
        g_assert_cmpint(status, ==, 3);
        cw_release(c.conn, path);
        wait_for_signal(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesRemoved", path);
        client_sync(&c);

        g_assert_cmpuint(count_signals(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesAdded", path), ==, 1);
        g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", "stopped"), ==, 1);
        g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", "continued"), ==, 1);
        g_assert_cmpuint(count_signals(&c, path, CW_PROCESS_IFACE, "StateChanged", "exited"), ==, 1);
        g_assert_cmpuint(count_signals(&c, path, PROPERTIES_IFACE, "PropertiesChanged", CW_PROCESS_IFACE), >=, 2);
        g_assert_cmpuint(count_signals(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesRemoved", path), ==, 1);

        /* InterfacesAdded carried the argv, secret included. */
        gboolean argv_seen = FALSE;
        g_mutex_lock(&c.lock);
        for (guint i = 0; i < c.signals->len; i++) {
                GDBusMessage *m = g_ptr_array_index(c.signals, i);
                if (g_strcmp0(g_dbus_message_get_member(m), "InterfacesAdded") != 0)
                        continue;
                g_autofree char *text = g_variant_print(g_dbus_message_get_body(m), FALSE);
                argv_seen = argv_seen || strstr(text, secret) != NULL;
        }
        g_mutex_unlock(&c.lock);
        g_assert_true(argv_seen);
        assert_all_unicast_to_me(&c);
        client_close(&c);
}

static void sub_signals_listen(void) {
        /* Subscribed to every signal on the bus (also with eavesdrop) while another user's
         * process starts, stops, continues, ends and is released (ENV_OUT says we listen,
         * ENV_GO that it is over): nothing of it reaches us, its argv (ENV_SECRET) in no
         * message. The control: our own process's signals do reach us. */
        const char *secret = need_env(ENV_SECRET);
        const char *const true_argv[] = { "true", NULL };
        Client c;

        client_open(&c);
        client_subscribe_all(&c);
        client_sync(&c);
        const char *const kv[] = { "unique-name", c.unique_name, NULL, NULL };
        write_keys(need_env(ENV_OUT), kv);
        wait_for_file(need_env(ENV_GO));
        client_sync(&c);
        cw_spin(200);
        client_sync(&c);

        g_mutex_lock(&c.lock);
        for (guint i = 0; i < c.signals->len; i++) {
                GDBusMessage *m = g_ptr_array_index(c.signals, i);
                GVariant *body = g_dbus_message_get_body(m);
                g_autofree char *text = body ? g_variant_print(body, FALSE) : g_strdup("");
                g_test_message("seen: %s %s.%s on %s to %s: %s", g_dbus_message_get_sender(m),
                               g_dbus_message_get_interface(m), g_dbus_message_get_member(m),
                               g_dbus_message_get_path(m), g_dbus_message_get_destination(m), text);
                if (strstr(text, secret))
                        g_error("another user's argv reached us: %s.%s on %s: %s", g_dbus_message_get_interface(m),
                                g_dbus_message_get_member(m), g_dbus_message_get_path(m), text);
                if (g_strcmp0(g_dbus_message_get_sender(m), c.service_name) == 0)
                        g_error("a signal of the service reached us, though we own no process: %s.%s on %s: %s",
                                g_dbus_message_get_interface(m), g_dbus_message_get_member(m),
                                g_dbus_message_get_path(m), text);
                if (g_str_has_prefix(g_dbus_message_get_path(m) ? g_dbus_message_get_path(m) : "", PROCESS_PREFIX))
                        g_error("a signal about a process reached us: %s.%s on %s", g_dbus_message_get_interface(m),
                                g_dbus_message_get_member(m), g_dbus_message_get_path(m));
        }
        g_mutex_unlock(&c.lock);

        /* The control. */
        g_autofree char *own = spawn_ok(&c, true_argv, NULL, NULL);
        wait_for_signal(&c, own, CW_PROCESS_IFACE, "StateChanged", "exited");
        cw_release(c.conn, own);
        wait_for_signal(&c, CW_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesRemoved", own);
        assert_all_unicast_to_me(&c);
        client_close(&c);
}

/* ---- user side: the policy ---- */

static void sub_own_name(void) {
        /* The policy: no one but root may own the name (with or without replacing, queued or
         * not); no interface but the listed ones, and no call without an interface, gets
         * through to the service; no monitoring. Everything listed does get through. */
        Client c;
        g_autoptr(GError) error = NULL;

        client_open(&c);
        const guint32 flags[] = { 0, 1, 2, 4, 2 | 4 };
        for (gsize i = 0; i < G_N_ELEMENTS(flags); i++) {
                g_autoptr(GVariant) r = bus_call(c.conn, "RequestName", g_variant_new("(su)", CW_NAME, flags[i]), "(u)",
                                                 &error);
                if (r) {
                        guint32 reply;
                        g_variant_get(r, "(u)", &reply);
                        g_error("RequestName(%s, %u) answered %u for uid %u, expected AccessDenied", CW_NAME, flags[i],
                                reply, (unsigned) getuid());
                }
                cw_assert_dbus_error(error, ACCESS_DENIED);
                g_clear_error(&error);
        }
        /* The name still has its owner. */
        g_autoptr(GVariant) owner = bus_call(c.conn, "GetNameOwner", g_variant_new("(s)", CW_NAME), "(s)", &error);
        g_assert_no_error(error);
        g_autofree char *owner_name = reply_string(owner);
        g_assert_cmpstr(owner_name, ==, c.service_name);

        /* Interfaces not listed: denied by the bus. */
        assert_call_fails(c.conn, CW_MANAGER_PATH, "org.childwatch.ChildWatch1.Debug", "Spawn", NULL, ACCESS_DENIED);
        assert_call_fails(c.conn, CW_MANAGER_PATH, "org.example.Other", "Frobnicate", NULL, ACCESS_DENIED);
        assert_call_fails(c.conn, CW_MANAGER_PATH, "org.freedesktop.DBus.Monitoring", "BecomeMonitor", NULL,
                          ACCESS_DENIED);
        /* No interface at all: neither (GDBus's call helpers insist on one). */
        g_autoptr(GDBusMessage) bare = g_dbus_message_new_method_call(CW_NAME, CW_MANAGER_PATH, NULL, "ListProcesses");
        g_autoptr(GDBusMessage) bare_reply = g_dbus_connection_send_message_with_reply_sync(
                c.conn, bare, G_DBUS_SEND_MESSAGE_FLAGS_NONE, (gint) cw_timeout_ms(5000), NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpint(g_dbus_message_get_message_type(bare_reply), ==, G_DBUS_MESSAGE_TYPE_ERROR);
        g_assert_cmpstr(g_dbus_message_get_error_name(bare_reply), ==, ACCESS_DENIED);
        /* Monitoring the bus: root only. */
        g_autoptr(GVariant) m = g_dbus_connection_call_sync(
                c.conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Monitoring",
                "BecomeMonitor", g_variant_new("(^asu)", (const char *const[]){ NULL }, 0), NULL,
                G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_null(m);
        cw_assert_dbus_error(error, ACCESS_DENIED);
        g_clear_error(&error);

        /* Everything listed gets through to the service. */
        client_sync(&c);
        g_autoptr(GVariant) i = cw_call(c.conn, CW_MANAGER_PATH, INTROSPECTABLE_IFACE, "Introspect", NULL, "(s)",
                                        &error);
        g_assert_no_error(error);
        g_assert_nonnull(i);
        g_autoptr(GVariant) objects = managed_objects(c.conn);
        g_assert_nonnull(objects);
        g_autoptr(GVariant) version = cw_get_property(c.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Version");
        g_assert_nonnull(version);
        g_autoptr(GPtrArray) paths = list_paths(c.conn);
        g_assert_cmpuint(paths->len, ==, 0);
        /* Properties.Set reaches the service, which has nothing writable. */
        assert_call_fails(c.conn, CW_MANAGER_PATH, PROPERTIES_IFACE, "Set",
                          g_variant_new("(ssv)", CW_MANAGER_IFACE, "Version", g_variant_new_string("6.6.6")),
                          "org.freedesktop.DBus.Error.PropertyReadOnly");
        client_close(&c);
}

/* ---- user side: quotas ---- */

static void sub_quota_fill(void) {
        /* Starts ENV_QUOTA processes of its own; the next Spawn is LimitExceeded and starts
         * nothing. */
        guint n = (guint) g_ascii_strtoull(need_env(ENV_QUOTA), NULL, 10);
        g_autofree char *marker = g_build_filename(need_env(ENV_DIR), "over-the-limit", NULL);
        const char *const touch_argv[] = { "touch", marker, NULL };
        Client c;

        client_open(&c);
        g_autoptr(GPtrArray) before = own_paths(&c);
        g_assert_cmpuint(before->len, ==, 0);
        for (guint i = 0; i < n; i++)
                g_free(spawn_ok(&c, own_sleep, NULL, NULL));
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn_full(c.conn, touch_argv, NULL, NULL, NULL, &error);
        g_assert_null(path);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        g_autoptr(GPtrArray) after = own_paths(&c);
        g_assert_cmpuint(after->len, ==, n);
        cw_spin(200);
        g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
        client_close(&c);
}

static void sub_quota_after_end(void) {
        /* Finds its ENV_QUOTA running processes (from an earlier run) and kills one: an ended
         * process no longer counts (its object stays), so one more may start; ENV_EXPECT
         * "refused": the one after that is LimitExceeded again, "allowed": it is not. Then
         * ends and releases all of its own. */
        guint n = (guint) g_ascii_strtoull(need_env(ENV_QUOTA), NULL, 10);
        gboolean refused = g_str_equal(need_env(ENV_EXPECT), "refused");
        Client c;
        g_autofree char *state = NULL;
        int status = -1;

        client_open(&c);
        g_autoptr(GPtrArray) paths = own_paths(&c);
        g_assert_cmpuint(paths->len, ==, n);
        cw_kill(c.conn, g_ptr_array_index(paths, 0), 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_autofree char *again = spawn_ok(&c, own_sleep, NULL, NULL);
        g_assert_nonnull(again);
        g_autoptr(GError) error = NULL;
        g_autofree char *next = cw_spawn_full(c.conn, own_sleep, NULL, NULL, NULL, &error);
        if (refused) {
                g_assert_null(next);
                cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        } else {
                g_assert_no_error(error);
                g_assert_nonnull(next);
        }
        g_autoptr(GPtrArray) all = own_paths(&c);
        g_assert_cmpuint(all->len, ==, n + (refused ? 1 : 2));
        for (guint i = 0; i < all->len; i++) {
                const char *p = g_ptr_array_index(all, i);
                g_autofree char *s = NULL;
                int st;
                cw_kill(c.conn, p, 0, &s, &st);
                cw_release(c.conn, p);
        }
        g_autoptr(GPtrArray) none = own_paths(&c);
        g_assert_cmpuint(none->len, ==, 0);
        client_close(&c);
}

/* ======================================================================================
 * The root side.
 * ====================================================================================== */

typedef struct Fixture {
        CwSystemBus sb;
        gboolean started;
        GPid local;       /* a process of a user's that the test started itself, or 0 */
        gboolean local_reaped;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        memset(f, 0, sizeof(*f));
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        if (f->local > 0 && !f->local_reaped) {
                (void) kill(f->local, SIGKILL);
                (void) waitpid(f->local, NULL, 0);
        }
        if (f->started)
                cw_system_bus_stop(&f->sb);
}

static const char *missing_prerequisite(void) {
        if (getuid() != 0 || geteuid() != 0)
                return "needs root, to run the service as root and clients as other users";
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        if (!setpriv)
                return "needs setpriv (util-linux) to run clients as other users";
        g_autofree char *dbus_daemon = g_find_program_in_path("dbus-daemon");
        if (!dbus_daemon)
                return "needs dbus-daemon";
        if (!user_nobody.name || !user_daemon.name)
                return "needs the users nobody and daemon";
        return NULL;
}

static gboolean begin(Fixture *f, const char *const *service_args) {
        const char *missing = missing_prerequisite();
        if (missing) {
                g_test_skip(missing);
                return FALSE;
        }
        cw_system_bus_start(&f->sb, service_args);
        f->started = TRUE;
        return TRUE;
}

/* The environment of a run as @u: ENV_ADDRESS and ENV_DIR (its own directory, also its HOME). */
static char **run_env(Fixture *f, const User *u, char **ret_dir) {
        g_autofree char *dir = cw_system_bus_user_dir(&f->sb, u->uid, u->gid);
        char **env = cw_sub_run_environ(dir);
        env = g_environ_setenv(env, ENV_ADDRESS, f->sb.address, TRUE);
        env = g_environ_setenv(env, ENV_DIR, dir, TRUE);
        if (ret_dir)
                *ret_dir = g_steal_pointer(&dir);
        return env;
}

static CwSubRun *start_as(Fixture *f, const User *u, const char *test, char **env) {
        g_autofree char *path = g_strconcat(SUB, test, NULL);
        const char *dir = g_environ_getenv(env, ENV_DIR);
        return cw_sub_run_start(u->uid, u->gid, path, dir, env);
}

/* Runs @test as @u and fails the test (returning FALSE) unless it passed. */
static gboolean run_as(Fixture *f, const User *u, const char *test, char **env) {
        g_autofree char *failure = cw_sub_run_finish(start_as(f, u, test, env), cw_timeout_ms(60000));
        if (failure) {
                g_test_fail_printf("%s", failure);
                return FALSE;
        }
        return TRUE;
}

static gboolean run_simple(Fixture *f, const User *u, const char *test) {
        g_auto(GStrv) env = run_env(f, u, NULL);
        return run_as(f, u, test, env);
}

typedef struct OutWait {
        const char *file;
        CwSubRun *run;
} OutWait;

static gboolean out_or_done(gpointer data) {
        OutWait *w = data;
        return g_file_test(w->file, G_FILE_TEST_EXISTS) || cw_sub_run_is_done(w->run);
}

/* Waits (bounded) until @run wrote @out; FALSE (with the test failed) when it ended first. */
static gboolean wait_for_out(CwSubRun **run, const char *out) {
        OutWait w = { out, *run };
        (void) cw_wait_until(out_or_done, &w, cw_timeout_ms(60000));
        if (g_file_test(out, G_FILE_TEST_EXISTS))
                return TRUE;
        g_autofree char *failure = cw_sub_run_finish(g_steal_pointer(run), cw_timeout_ms(10000));
        g_test_fail_printf("the run ended (or hung) before it was ready: %s", failure ? failure : "it passed?");
        return FALSE;
}

static void touch(const char *path) {
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_set_contents(path, "", 0, &error));
        g_assert_no_error(error);
}

static gboolean finish(CwSubRun *run) {
        g_autofree char *failure = cw_sub_run_finish(run, cw_timeout_ms(60000));
        if (failure) {
                g_test_fail_printf("%s", failure);
                return FALSE;
        }
        return TRUE;
}

/* Root's view of a process object: it exists, with the right owner, and runs. */
static void assert_root_sees(Fixture *f, const char *path, guint32 pid, const User *owner) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = cw_call(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                        g_variant_new("(u)", pid), "(o)", &error);
        g_assert_no_error(error);
        const char *found;
        g_variant_get(r, "(&o)", &found);
        g_assert_cmpstr(found, ==, path);
        g_assert_cmpuint(cw_get_u32(f->sb.conn, path, CW_PROCESS_IFACE, "OwnerUid"), ==, owner->uid);
        g_assert_cmpuint(cw_get_u32(f->sb.conn, path, CW_PROCESS_IFACE, "Uid"), ==, owner->uid);
        g_autofree char *state = get_state(f->sb.conn, path);
        g_assert_cmpstr(state, ==, "running");
}

/* ---- root side: the feature ---- */

static void test_features(Fixture *f, gconstpointer data) {
        /* Features lists multi-user; the service runs as root, and root's ListProcesses works. */
        if (!begin(f, NULL))
                return;
        g_autoptr(GVariant) features = cw_get_property(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **list = g_variant_get_strv(features, NULL);
        g_assert_true(g_strv_contains(list, "multi-user"));
        g_assert_cmpuint(proc_hex(f->sb.service_pid, "CapEff"), !=, 0);
        g_autoptr(GPtrArray) paths = list_paths(f->sb.conn);
        g_assert_cmpuint(paths->len, ==, 0);
}

/* ---- root side: the policy ---- */

static void test_own_name(Fixture *f, gconstpointer data) {
        /* Users cannot own the name nor call anything unlisted (sub_own_name); root may own it
         * (here: it is taken, so RequestName without queueing answers EXISTS, not AccessDenied). */
        const User *u = data;
        g_autoptr(GError) error = NULL;

        if (!begin(f, NULL))
                return;
        if (!run_simple(f, u, "own-name"))
                return;
        g_autoptr(GDBusConnection) root = cw_bus_connect(f->sb.address);
        g_autoptr(GVariant) r = bus_call(root, "RequestName", g_variant_new("(su)", CW_NAME, 4), "(u)", &error);
        g_assert_no_error(error);
        guint32 reply;
        g_variant_get(r, "(u)", &reply);
        g_assert_cmpuint(reply, ==, 3); /* DBUS_REQUEST_NAME_REPLY_EXISTS */
        g_assert_true(g_dbus_connection_close_sync(root, NULL, NULL));
        g_autoptr(GVariant) o = bus_call(f->sb.conn, "GetNameOwner", g_variant_new("(s)", CW_NAME), "(s)", &error);
        g_assert_no_error(error);
        g_autofree char *owner_name = reply_string(o);
        g_assert_cmpstr(owner_name, ==, f->sb.service_name);
}

/* What policy/org.childwatch.ChildWatch1.conf says, rule by rule. */
typedef struct PolicyScan {
        char *policy;            /* "context=default", "user=root": the <policy> being read */
        GPtrArray *problems;     /* char* */
        GPtrArray *interfaces;   /* char*: send_interface of the default context's rules */
        gboolean root_owns;
} PolicyScan;

static void policy_start(GMarkupParseContext *ctx, const char *element, const char **names, const char **values,
                         gpointer data, GError **error) {
        PolicyScan *p = data;
        g_autofree char *attrs = NULL;
        GString *a = g_string_new(NULL);
        for (gsize i = 0; names[i]; i++)
                g_string_append_printf(a, " %s=\"%s\"", names[i], values[i]);
        attrs = g_string_free(a, FALSE);

        if (g_str_equal(element, "busconfig"))
                return;
        if (g_str_equal(element, "policy")) {
                g_free(p->policy);
                p->policy = names[0] && !names[1] ? g_strdup_printf("%s=%s", names[0], values[0]) : g_strdup(attrs);
                if (!g_str_equal(p->policy, "context=default") && !g_str_equal(p->policy, "user=root"))
                        g_ptr_array_add(p->problems, g_strdup_printf("<policy%s>", attrs));
                return;
        }
        if (!p->policy || (!g_str_equal(element, "allow") && !g_str_equal(element, "deny"))) {
                g_ptr_array_add(p->problems, g_strdup_printf("<%s%s> outside of the expected rules", element, attrs));
                return;
        }
        if (g_str_equal(p->policy, "user=root") && g_str_equal(element, "allow") && names[0] &&
            g_str_equal(names[0], "own") && g_str_equal(values[0], CW_NAME) && !names[1]) {
                p->root_owns = TRUE;
                return;
        }
        if (g_str_equal(p->policy, "context=default") && g_str_equal(element, "allow") && names[0] && names[1] &&
            !names[2] && g_str_equal(names[0], "send_destination") && g_str_equal(values[0], CW_NAME) &&
            g_str_equal(names[1], "send_interface")) {
                g_ptr_array_add(p->interfaces, g_strdup(values[1]));
                return;
        }
        g_ptr_array_add(p->problems, g_strdup_printf("<policy %s>: <%s%s>", p->policy, element, attrs));
}

static void test_policy_file(Fixture *f, gconstpointer data) {
        /* The policy: root alone may own the name; in the default context everyone may send
         * to it the interfaces Manager, Process, Properties, Introspectable, Peer and
         * ObjectManager (each once, by send_destination and send_interface); no other rule at
         * all (no eavesdrop, no receive or own rule, no <include>). */
        static const char *const expected[] = { CW_MANAGER_IFACE,
                                                CW_PROCESS_IFACE,
                                                "org.freedesktop.DBus.Properties",
                                                "org.freedesktop.DBus.Introspectable",
                                                "org.freedesktop.DBus.Peer",
                                                "org.freedesktop.DBus.ObjectManager",
                                                NULL };
        const char *root = g_getenv("CW_SOURCE_ROOT");
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        PolicyScan p = { 0 };

        if (!root) {
                g_test_skip("CW_SOURCE_ROOT is not set (the meson test sets it)");
                return;
        }
        g_autofree char *file = g_build_filename(root, "policy", CW_NAME ".conf", NULL);
        g_assert_true(g_file_get_contents(file, &text, NULL, &error));
        g_assert_no_error(error);
        p.problems = g_ptr_array_new_with_free_func(g_free);
        p.interfaces = g_ptr_array_new_with_free_func(g_free);
        GMarkupParser parser = { .start_element = policy_start };
        GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
        g_assert_true(g_markup_parse_context_parse(ctx, text, -1, &error));
        g_assert_no_error(error);
        g_assert_true(g_markup_parse_context_end_parse(ctx, &error));
        g_assert_no_error(error);
        g_markup_parse_context_free(ctx);

        for (guint i = 0; i < p.problems->len; i++)
                g_test_message("unexpected: %s", (char *) g_ptr_array_index(p.problems, i));
        g_assert_cmpuint(p.problems->len, ==, 0);
        g_assert_true(p.root_owns);
        g_assert_cmpuint(p.interfaces->len, ==, g_strv_length((char **) expected));
        for (const char *const *e = expected; *e; e++) {
                guint k = 0;
                for (guint i = 0; i < p.interfaces->len; i++)
                        k += g_str_equal(g_ptr_array_index(p.interfaces, i), *e);
                if (k != 1)
                        g_error("the policy allows %s %u times, expected once", *e, k);
        }
        g_ptr_array_unref(p.problems);
        g_ptr_array_unref(p.interfaces);
        g_free(p.policy);
}

/* ---- root side: spawning as a user ---- */

static User *find_user_with_groups(void);
static void user_free(User *u);

static void test_credentials(Fixture *f, gconstpointer data) {
        /* What a user spawns runs as that user: sub_credentials. */
        const User *u = data;
        if (!begin(f, NULL))
                return;
        (void) run_simple(f, u, "credentials");
}

static void test_credentials_caller_groups(Fixture *f, gconstpointer data) {
        /* The child's groups come from the user database, not from the caller: nobody, running
         * with root's group 0 and daemon's group among its own, spawns; sub_credentials finds
         * only the groups initgroups() gives nobody. */
        const User *u = &user_nobody;
        if (!begin(f, NULL))
                return;
        g_autofree char *groups = g_strdup_printf("%u,0,%u", u->gid, user_daemon.gid);
        g_auto(GStrv) env = run_env(f, u, NULL);
        const char *dir = g_environ_getenv(env, ENV_DIR);
        CwSubRun *run = cw_sub_run_start_with_groups(u->uid, u->gid, groups, SUB "credentials", dir, env);
        g_autofree char *failure = cw_sub_run_finish(run, cw_timeout_ms(60000));
        if (failure)
                g_test_fail_printf("%s", failure);
}

static void test_credentials_supplementary(Fixture *f, gconstpointer data) {
        /* A user with supplementary groups beyond its primary one (the first of the user
         * database, if there is one): sub_credentials, which checks all of them. */
        User *u = find_user_with_groups();
        if (!u) {
                g_test_skip("no user with supplementary groups in the user database");
                return;
        }
        if (begin(f, NULL)) {
                g_test_message("user %s (uid %u)", u->name, u->uid);
                (void) run_simple(f, u, "credentials");
        }
        user_free(u);
}

static void test_user_option_refused(Fixture *f, gconstpointer data) {
        /* Users may not use `user` or `group`: sub_user_option. The service started nothing. */
        const User *u = data;
        const User *other = u == &user_nobody ? &user_daemon : &user_nobody;
        if (!begin(f, NULL))
                return;
        g_auto(GStrv) env = run_env(f, u, NULL);
        env = g_environ_setenv(env, ENV_OTHER_USER, other->name, TRUE);
        if (!run_as(f, u, "user-option", env))
                return;
        g_autoptr(GPtrArray) paths = list_paths(f->sb.conn);
        g_assert_cmpuint(paths->len, ==, 0);
}

static void test_no_root_access(Fixture *f, gconstpointer data) {
        /* A user's spawn cannot enter /root nor run root's private program: sub_no_root_access;
         * and the program was not run by anyone. */
        const User *u = data;
        if (!begin(f, NULL))
                return;
        g_autofree char *forbidden = g_build_filename(f->sb.dir, "root-only", NULL);
        g_autofree char *marker = g_build_filename(f->sb.dir, "root-only-ran", NULL);
        g_autofree char *script = g_strdup_printf("#!/bin/sh\ntouch '%s'\n", marker);
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_set_contents(forbidden, script, -1, &error));
        g_assert_no_error(error);
        g_assert_cmpint(chmod(forbidden, 0700), ==, 0);
        g_auto(GStrv) env = run_env(f, u, NULL);
        env = g_environ_setenv(env, ENV_FORBIDDEN, forbidden, TRUE);
        (void) run_as(f, u, "no-root-access", env);
        cw_spin(100);
        g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
}

/* Spawns `sleep` as root with @options and checks its credentials, cwd and environment. */
static void root_spawn_check(Fixture *f, GVariant *options, const User *as, gid_t gid, const char *groups) {
        const char *const sleep_argv[] = { "sleep", "300", NULL };
        g_autoptr(GError) error = NULL;
        guint32 pid = 0;

        g_autofree char *path = cw_spawn_full(f->sb.conn, sleep_argv, options, NULL, &pid, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(cw_get_u32(f->sb.conn, path, CW_PROCESS_IFACE, "Uid"), ==, as->uid);
        g_assert_cmpuint(cw_get_u32(f->sb.conn, path, CW_PROCESS_IFACE, "OwnerUid"), ==, 0);
        assert_ids((pid_t) pid, "Uid", as->uid);
        assert_ids((pid_t) pid, "Gid", gid);
        if (groups)
                assert_groups((pid_t) pid, groups);
        if (as->uid != 0)
                assert_no_capabilities((pid_t) pid);
        g_autofree char *cwd = proc_cwd((pid_t) pid);
        g_assert_cmpstr(cwd, ==, expected_cwd(as));
        assert_login_environment((pid_t) pid, as, NULL);
        g_autofree char *state = NULL;
        int status;
        cw_kill(f->sb.conn, path, 0, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        cw_release(f->sb.conn, path);
}

static GVariant *user_group_options(const char *user, const char *group) {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        if (user)
                g_variant_builder_add(&b, "{sv}", "user", g_variant_new_string(user));
        if (group)
                g_variant_builder_add(&b, "{sv}", "group", g_variant_new_string(group));
        return g_variant_builder_end(&b);
}

static void user_free(User *u) {
        g_free(u->name);
        g_free(u->home);
        g_free(u->shell);
        g_free(u);
}

/* A user of the database (not root) with supplementary groups beyond its primary one, or NULL. */
static User *find_user_with_groups(void) {
        struct passwd *pw;
        User *found = NULL;

        setpwent();
        while (!found && (pw = getpwent())) {
                int n = 64;
                gid_t groups[64];
                if (pw->pw_uid == 0 || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0 || n < 2)
                        continue;
                found = g_new0(User, 1);
                found->label = "with-groups";
                found->uid = pw->pw_uid;
                found->gid = pw->pw_gid;
                found->name = g_strdup(pw->pw_name);
                found->home = g_strdup(pw->pw_dir);
                found->shell = g_strdup(pw->pw_shell);
        }
        endpwent();
        return found;
}

static void test_root_as_user(Fixture *f, gconstpointer data) {
        /* Root may spawn as another user, named or by number: that user's uid, primary gid and
         * groups, no capabilities, its home as cwd, its login environment; `group` (name or
         * number) replaces the primary gid. An unknown user or group starts nothing. */
        if (!begin(f, NULL))
                return;
        const User *d = &user_daemon, *n = &user_nobody;
        g_autofree char *d_groups = expected_groups(d->name, d->gid, (gid_t) -1);
        g_autofree char *n_groups = expected_groups(n->name, n->gid, (gid_t) -1);
        g_autofree char *d_uid = g_strdup_printf("%u", d->uid);
        g_autofree char *n_gid = g_strdup_printf("%u", n->gid);
        struct group *ngr = getgrgid(n->gid);
        g_assert_nonnull(ngr);
        g_autofree char *n_group_name = g_strdup(ngr->gr_name);

        root_spawn_check(f, user_group_options(d->name, NULL), d, d->gid, d_groups);
        root_spawn_check(f, user_group_options(d_uid, NULL), d, d->gid, d_groups);
        root_spawn_check(f, user_group_options(n->name, NULL), n, n->gid, n_groups);
        /* `group` replaces the primary gid: the groups then are those of the user database,
         * with the new primary one (whether the old one stays is not checked). */
        root_spawn_check(f, user_group_options(d->name, n_gid), d, n->gid, NULL);
        root_spawn_check(f, user_group_options(d->name, n_group_name), d, n->gid, NULL);

        User *g = find_user_with_groups();
        if (g) {
                g_autofree char *g_groups = expected_groups(g->name, g->gid, (gid_t) -1);
                g_test_message("user with supplementary groups: %s (%s)", g->name, g_groups);
                root_spawn_check(f, user_group_options(g->name, NULL), g, g->gid, g_groups);
                user_free(g);
        } else
                g_test_message("no user with supplementary groups in the user database: not checked");

        /* Unknown: refused, nothing started. */
        const char *const true_argv[] = { "true", NULL };
        const char *bad[][2] = { { "no-such-user-cw", NULL }, { NULL, "no-such-group-cw" }, { "4294967295", NULL } };
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *p = cw_spawn_full(f->sb.conn, true_argv, user_group_options(bad[i][0], bad[i][1]),
                                                   NULL, NULL, &error);
                g_assert_null(p);
                g_assert_nonnull(error);
                g_test_message("user %s group %s: %s", bad[i][0], bad[i][1], error->message);
        }
        g_autoptr(GPtrArray) paths = list_paths(f->sb.conn);
        g_assert_cmpuint(paths->len, ==, 0);
}

static void test_root_environment(Fixture *f, gconstpointer data) {
        /* Root's own spawns in multi-user mode get root's login environment too, never the
         * service's (its canary), and root's home as cwd. */
        if (!begin(f, NULL))
                return;
        User root = { .label = "root" };
        g_assert_true(user_lookup(&root));
        root_spawn_check(f, NULL, &root, 0, NULL);
        g_free(root.name);
        g_free(root.home);
        g_free(root.shell);
}

/* ---- root side: attacks ---- */

typedef struct AttackCase {
        const char *kind;   /* the sub_attack_* run */
        const User *victim;
        const User *attacker;
        gboolean gone;      /* the victim's client has left the bus before the attack */
} AttackCase;

/* Starts a process of @u's own as a child of the test (not watched by the service). */
static void start_local(Fixture *f, const User *u) {
        g_autoptr(GError) error = NULL;
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        char uid_arg[32], gid_arg[32];
        g_snprintf(uid_arg, sizeof(uid_arg), "--reuid=%u", u->uid);
        g_snprintf(gid_arg, sizeof(gid_arg), "--regid=%u", u->gid);
        const char *const argv[] = { setpriv, uid_arg, gid_arg, "--init-groups", "sleep", "300", NULL };
        g_assert_true(g_spawn_async("/", (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                    NULL, NULL, &f->local, &error));
        g_assert_no_error(error);
        for (int i = 0; i < 1000; i++) {
                g_autofree char *comm = cw_proc_comm(f->local);
                if (g_strcmp0(comm, "sleep") == 0)
                        break;
                g_usleep(5000);
        }
        g_autofree char *comm = cw_proc_comm(f->local);
        g_assert_cmpstr(comm, ==, "sleep");
        assert_ids(f->local, "Uid", u->uid);
}

static void test_attack(Fixture *f, gconstpointer data) {
        /* The victim holds a process (sub_hold), or has spawned it and left the bus
         * (sub_spawn_and_leave: its object stays, ownerless); the attacker tries
         * sub_attack_<kind> on it; root then sees it running, untouched and still watched, and
         * the victim finds it so too and ends it (sub_hold; or sub_reclaim, on a new
         * connection). */
        const AttackCase *a = data;

        if (g_str_equal(a->kind, "adopt") && cw_under_valgrind()) {
                g_test_skip("adoption needs pidfds, which the service has not under valgrind (AdoptPid "
                            "answers NotSupported before it looks at the caller)");
                return;
        }
        if (!begin(f, NULL))
                return;

        g_autofree char *vdir = NULL;
        g_auto(GStrv) venv = run_env(f, a->victim, &vdir);
        g_autofree char *out = g_build_filename(vdir, "victim.out", NULL);
        g_autofree char *go = g_build_filename(f->sb.dir, "go", NULL);
        g_autofree char *secret = g_strdup_printf("cw-secret-%08x", g_random_int());
        venv = g_environ_setenv(venv, ENV_OUT, out, TRUE);
        venv = g_environ_setenv(venv, ENV_GO, go, TRUE);
        venv = g_environ_setenv(venv, ENV_SECRET, secret, TRUE);
        venv = g_environ_setenv(venv, ENV_EXPECT, "untouched", TRUE);
        CwSubRun *hold = NULL;
        if (a->gone) {
                if (!run_as(f, a->victim, "spawn-and-leave", venv))
                        return;
        } else {
                hold = start_as(f, a->victim, "hold", venv);
                if (!wait_for_out(&hold, out))
                        return;
        }
        g_autofree char *path = read_key(out, "path");
        g_autofree char *pid_text = read_key(out, "pid");
        guint32 pid = (guint32) g_ascii_strtoull(pid_text, NULL, 10);
        assert_root_sees(f, path, pid, a->victim);

        g_auto(GStrv) aenv = run_env(f, a->attacker, NULL);
        aenv = g_environ_setenv(aenv, ENV_TARGET_PATH, path, TRUE);
        aenv = g_environ_setenv(aenv, ENV_TARGET_PID, pid_text, TRUE);
        if (g_str_equal(a->kind, "adopt")) {
                start_local(f, a->victim);
                g_autofree char *local_text = g_strdup_printf("%d", (int) f->local);
                aenv = g_environ_setenv(aenv, ENV_LOCAL_PID, local_text, TRUE);
        }
        g_autofree char *test = g_strconcat("attack/", a->kind, NULL);
        gboolean attacked_ok = run_as(f, a->attacker, test, aenv);

        /* Nothing happened to it, whatever the attacker's run said. */
        assert_untouched((pid_t) pid);
        assert_root_sees(f, path, pid, a->victim);
        if (f->local > 0) {
                /* Not adopted by the attacker; root may adopt it, as its user's. */
                assert_untouched(f->local);
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) r = cw_call(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "GetProcess",
                                                g_variant_new("(u)", (guint32) f->local), "(o)", &error);
                g_assert_null(r);
                cw_assert_dbus_error(error, CW_ERROR("NoSuchProcess"));
                g_clear_error(&error);
                g_autoptr(GVariant) r2 = cw_call(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                                 g_variant_new("(u@a{sv})", (guint32) f->local, empty_options()),
                                                 "(ou)", &error);
                g_assert_no_error(error);
                const char *adopted;
                g_variant_get(r2, "(&ou)", &adopted, NULL);
                g_assert_cmpuint(cw_get_u32(f->sb.conn, adopted, CW_PROCESS_IFACE, "Uid"), ==, a->victim->uid);
                g_assert_true(cw_get_bool(f->sb.conn, adopted, CW_PROCESS_IFACE, "Adopted"));
                cw_release(f->sb.conn, adopted);
                /* Root adopting what is already watched is AlreadyWatched, as always. */
                g_autoptr(GVariant) r3 = cw_call(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "AdoptPid",
                                                 g_variant_new("(u@a{sv})", pid, empty_options()), "(ou)", &error);
                g_assert_null(r3);
                cw_assert_dbus_error(error, CW_ERROR("AlreadyWatched"));
        }

        gboolean victim_ok;
        if (a->gone) {
                venv = g_environ_setenv(venv, ENV_TARGET_PATH, path, TRUE);
                victim_ok = run_as(f, a->victim, "reclaim", venv);
        } else {
                touch(go);
                victim_ok = finish(hold);
        }
        if (!attacked_ok || !victim_ok)
                return;
        g_autoptr(GPtrArray) paths = list_paths(f->sb.conn);
        g_assert_cmpuint(paths->len, ==, 0);
}

static void test_signals(Fixture *f, gconstpointer data) {
        /* The listener (another user, subscribed to everything) hears nothing of the owner's
         * process, its argv included, while the owner hears all of it, addressed to it alone. */
        const AttackCase *a = data;
        if (!begin(f, NULL))
                return;

        g_autofree char *secret = g_strdup_printf("cw-secret-%08x", g_random_int());
        g_autofree char *ldir = NULL;
        g_auto(GStrv) lenv = run_env(f, a->attacker, &ldir);
        g_autofree char *out = g_build_filename(ldir, "listen.out", NULL);
        g_autofree char *go = g_build_filename(f->sb.dir, "go", NULL);
        lenv = g_environ_setenv(lenv, ENV_OUT, out, TRUE);
        lenv = g_environ_setenv(lenv, ENV_GO, go, TRUE);
        lenv = g_environ_setenv(lenv, ENV_SECRET, secret, TRUE);
        CwSubRun *listener = start_as(f, a->attacker, "signals/listen", lenv);
        if (!wait_for_out(&listener, out))
                return;

        g_auto(GStrv) oenv = run_env(f, a->victim, NULL);
        oenv = g_environ_setenv(oenv, ENV_SECRET, secret, TRUE);
        gboolean owner_ok = run_as(f, a->victim, "signals/owner", oenv);
        touch(go);
        gboolean listener_ok = finish(listener);
        if (owner_ok && listener_ok) {
                g_autoptr(GPtrArray) paths = list_paths(f->sb.conn);
                g_assert_cmpuint(paths->len, ==, 0);
        }
}

/* ---- root side: root sees and does everything ---- */

typedef struct StateQuery {
        GDBusConnection *conn;
        const char *path;
        const char *state;
} StateQuery;

static gboolean state_is(gpointer data) {
        StateQuery *q = data;
        g_autofree char *now = get_state(q->conn, q->path);
        return g_str_equal(now, q->state);
}

static void test_root_sees_all(Fixture *f, gconstpointer data) {
        /* A user's process is in root's listings, introspection and GetManagedObjects (argv
         * and all), root reads its properties, gets its pidfd, stops, continues and kills it;
         * its owner is told each step (sub_hold with "killed-by-root"). */
        const User *u = data;
        if (!begin(f, NULL))
                return;

        g_autofree char *dir = NULL;
        g_auto(GStrv) env = run_env(f, u, &dir);
        g_autofree char *out = g_build_filename(dir, "hold.out", NULL);
        g_autofree char *go = g_build_filename(f->sb.dir, "go", NULL);
        g_autofree char *secret = g_strdup_printf("cw-secret-%08x", g_random_int());
        env = g_environ_setenv(env, ENV_OUT, out, TRUE);
        env = g_environ_setenv(env, ENV_GO, go, TRUE);
        env = g_environ_setenv(env, ENV_SECRET, secret, TRUE);
        env = g_environ_setenv(env, ENV_EXPECT, "killed-by-root", TRUE);
        CwSubRun *hold = start_as(f, u, "hold", env);
        if (!wait_for_out(&hold, out))
                return;
        g_autofree char *path = read_key(out, "path");
        g_autofree char *pid_text = read_key(out, "pid");
        g_autofree char *owner_name = read_key(out, "unique-name");
        guint32 pid = (guint32) g_ascii_strtoull(pid_text, NULL, 10);
        GDBusConnection *c = f->sb.conn;
        g_autoptr(GError) error = NULL;

        assert_root_sees(f, path, pid, u);
        g_autoptr(GPtrArray) paths = list_paths(c);
        g_assert_true(paths_contain(paths, path));
        g_autoptr(GVariant) objects = managed_objects(c);
        g_assert_true(managed_contains(objects, path));
        g_autoptr(GPtrArray) ids = introspected_ids(c);
        gboolean listed = FALSE;
        for (guint i = 0; i < ids->len; i++)
                listed = listed || g_str_equal(g_ptr_array_index(ids, i), path_id(path));
        g_assert_true(listed);
        g_autoptr(GVariant) argv = cw_get_property(c, path, CW_PROCESS_IFACE, "Argv");
        g_autofree const char **argv_list = g_variant_get_strv(argv, NULL);
        g_assert_true(g_strv_contains(argv_list, secret));
        g_autoptr(GVariant) owner = cw_get_property(c, path, CW_PROCESS_IFACE, "Owner");
        g_assert_cmpstr(g_variant_get_string(owner, NULL), ==, owner_name);

        if (cw_under_valgrind())
                assert_call_fails(c, path, CW_PROCESS_IFACE, "GetPidfd", NULL, NOT_SUPPORTED);
        else {
                g_autoptr(GUnixFDList) fds = NULL;
                g_autoptr(GVariant) r = cw_call_with_fds(c, path, CW_PROCESS_IFACE, "GetPidfd", NULL, "(h)", NULL, &fds,
                                                         &error);
                g_assert_no_error(error);
                gint32 handle;
                g_variant_get(r, "(h)", &handle);
                int fd = g_unix_fd_list_get(fds, handle, &error);
                g_assert_no_error(error);
                char fdinfo[64];
                g_snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
                g_autofree char *p = cw_proc_status_field(fdinfo, "Pid");
                g_assert_cmpuint(g_ascii_strtoull(p, NULL, 10), ==, pid);
                g_assert_cmpint(close(fd), ==, 0);
        }

        /* Each step waits until the service has seen it (State): a continue that the kill
         * overtakes would never be reported (waitid() has no WCONTINUED for the dead). */
        cw_send_signal(c, path, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(pid_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("process %u did not stop", pid);
        StateQuery stopped = { c, path, "stopped" };
        if (!cw_wait_until(state_is, &stopped, cw_timeout_ms(5000)))
                g_error("State of %s did not become stopped", path);
        cw_send_signal(c, path, SIGCONT, FALSE, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(pid_not_stopped, GINT_TO_POINTER(pid), cw_timeout_ms(5000)))
                g_error("process %u did not continue", pid);
        StateQuery running = { c, path, "running" };
        if (!cw_wait_until(state_is, &running, cw_timeout_ms(5000)))
                g_error("State of %s did not become running again", path);
        g_autofree char *state = NULL;
        int status = -1;
        cw_kill(c, path, cw_timeout_ms(5000) * (guint64) 1000, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        g_assert_cmpint(status, ==, SIGTERM);
        g_autofree char *wstate = NULL;
        cw_wait(c, path, &wstate, &status);
        g_assert_cmpstr(wstate, ==, "killed");

        touch(go);
        if (!finish(hold))
                return;
        g_autoptr(GPtrArray) after = list_paths(c);
        g_assert_cmpuint(after->len, ==, 0);
}

/* ---- root side: quotas ---- */

static char **quota_env(Fixture *f, const User *u, guint n, const char *expect) {
        char **env = run_env(f, u, NULL);
        g_autofree char *text = g_strdup_printf("%u", n);
        env = g_environ_setenv(env, ENV_QUOTA, text, TRUE);
        if (expect)
                env = g_environ_setenv(env, ENV_EXPECT, expect, TRUE);
        return env;
}

static gboolean quota_run(Fixture *f, const User *u, const char *test, guint n, const char *expect) {
        g_auto(GStrv) env = quota_env(f, u, n, expect);
        return run_as(f, u, test, env);
}

static void test_quota_per_user(Fixture *f, gconstpointer data) {
        /* --max-processes-per-user=3: each user may have 3 running processes, the 4th is
         * LimitExceeded; one user's full quota does not stop the other, nor root (exempt); an
         * ended process (its object still there) no longer counts. */
        const char *const args[] = { "--max-processes-per-user=3", NULL };
        const User *a = &user_nobody, *b = &user_daemon;
        if (!begin(f, args))
                return;
        if (!quota_run(f, a, "quota/fill", 3, NULL) || !quota_run(f, b, "quota/fill", 3, NULL))
                return;
        g_autoptr(GPtrArray) all = list_paths(f->sb.conn);
        g_assert_cmpuint(all->len, ==, 6);
        /* Root is exempt from the per-user limit (docs/security.md). */
        const char *const sleep_argv[] = { "sleep", "300", NULL };
        g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func(g_free);
        for (int i = 0; i < 4; i++) {
                g_autoptr(GError) error = NULL;
                char *p = cw_spawn_full(f->sb.conn, sleep_argv, NULL, NULL, NULL, &error);
                g_assert_no_error(error);
                g_ptr_array_add(mine, p);
        }
        for (guint i = 0; i < mine->len; i++) {
                g_autofree char *state = NULL;
                int status;
                cw_kill(f->sb.conn, g_ptr_array_index(mine, i), 0, &state, &status);
                cw_release(f->sb.conn, g_ptr_array_index(mine, i));
        }
        if (!quota_run(f, a, "quota/after-end", 3, "refused") || !quota_run(f, b, "quota/after-end", 3, "refused"))
                return;
        g_autoptr(GPtrArray) none = list_paths(f->sb.conn);
        g_assert_cmpuint(none->len, ==, 0);
}

static void test_quota_global(Fixture *f, gconstpointer data) {
        /* --max-processes=4 (per user 3): with 3 of one user's running, the other user gets one,
         * then LimitExceeded although it is far below its own quota; root too; once processes
         * end, spawning works again. */
        const char *const args[] = { "--max-processes=4", "--max-processes-per-user=3", NULL };
        const char *const true_argv[] = { "true", NULL };
        const User *a = &user_daemon, *b = &user_nobody;
        if (!begin(f, args))
                return;
        if (!quota_run(f, a, "quota/fill", 3, NULL) || !quota_run(f, b, "quota/fill", 1, NULL))
                return;
        g_autoptr(GError) error = NULL;
        g_autofree char *p = cw_spawn_full(f->sb.conn, true_argv, NULL, NULL, NULL, &error);
        g_assert_null(p);
        cw_assert_dbus_error(error, CW_ERROR("LimitExceeded"));
        if (!quota_run(f, a, "quota/after-end", 3, "refused") || !quota_run(f, b, "quota/after-end", 1, "allowed"))
                return;
        g_autoptr(GPtrArray) none = list_paths(f->sb.conn);
        g_assert_cmpuint(none->len, ==, 0);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        (void) user_lookup(&user_nobody);
        (void) user_lookup(&user_daemon);

        /* The runs as users (hidden: a "/subprocess" path runs only when named with -p). */
        g_test_add_func(SUB "credentials", sub_credentials);
        g_test_add_func(SUB "user-option", sub_user_option);
        g_test_add_func(SUB "no-root-access", sub_no_root_access);
        g_test_add_func(SUB "hold", sub_hold);
        g_test_add_func(SUB "spawn-and-leave", sub_spawn_and_leave);
        g_test_add_func(SUB "reclaim", sub_reclaim);
        g_test_add_func(SUB "attack/signal", sub_attack_signal);
        g_test_add_func(SUB "attack/kill", sub_attack_kill);
        g_test_add_func(SUB "attack/release", sub_attack_release);
        g_test_add_func(SUB "attack/wait", sub_attack_wait);
        g_test_add_func(SUB "attack/get-pidfd", sub_attack_get_pidfd);
        g_test_add_func(SUB "attack/list", sub_attack_list);
        g_test_add_func(SUB "attack/introspect", sub_attack_introspect);
        g_test_add_func(SUB "attack/properties", sub_attack_properties);
        g_test_add_func(SUB "attack/adopt", sub_attack_adopt);
        g_test_add_func(SUB "signals/owner", sub_signals_owner);
        g_test_add_func(SUB "signals/listen", sub_signals_listen);
        g_test_add_func(SUB "own-name", sub_own_name);
        g_test_add_func(SUB "quota/fill", sub_quota_fill);
        g_test_add_func(SUB "quota/after-end", sub_quota_after_end);

#define ADD(name, data, fn) g_test_add("/multiuser/" name, Fixture, data, fixture_setup, fn, fixture_teardown)
        ADD("features", NULL, test_features);
        ADD("policy/file", NULL, test_policy_file);
        ADD("policy/own-name/nobody", &user_nobody, test_own_name);
        ADD("policy/own-name/daemon", &user_daemon, test_own_name);
        ADD("spawn/credentials/nobody", &user_nobody, test_credentials);
        ADD("spawn/credentials/daemon", &user_daemon, test_credentials);
        ADD("spawn/credentials/caller-groups", NULL, test_credentials_caller_groups);
        ADD("spawn/credentials/supplementary", NULL, test_credentials_supplementary);
        ADD("spawn/user-option-refused/nobody", &user_nobody, test_user_option_refused);
        ADD("spawn/user-option-refused/daemon", &user_daemon, test_user_option_refused);
        ADD("spawn/no-root-access/nobody", &user_nobody, test_no_root_access);
        ADD("spawn/no-root-access/daemon", &user_daemon, test_no_root_access);
        ADD("spawn/root-as-user", NULL, test_root_as_user);
        ADD("spawn/root-environment", NULL, test_root_environment);

        static const char *const kinds[] = { "signal", "kill", "release", "wait", "get-pidfd",
                                             "list", "introspect", "properties", "adopt" };
        static AttackCase cases[G_N_ELEMENTS(kinds) * 3 + 2];
        gsize n = 0;
        for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++)
                for (int dir = 0; dir < 3; dir++) {
                        /* Both ways round, and once more with the victim's client gone. */
                        AttackCase *c = &cases[n++];
                        c->kind = kinds[i];
                        c->victim = dir != 1 ? &user_nobody : &user_daemon;
                        c->attacker = dir != 1 ? &user_daemon : &user_nobody;
                        c->gone = dir == 2;
                        g_autofree char *name = g_strdup_printf("/multiuser/attack/%s/%s-on-%s%s", c->kind,
                                                                c->attacker->label, c->victim->label,
                                                                c->gone ? "-gone" : "");
                        g_test_add(name, Fixture, c, fixture_setup, test_attack, fixture_teardown);
                }
        for (int dir = 0; dir < 2; dir++) {
                AttackCase *c = &cases[n++];
                c->kind = "signals";
                c->victim = dir == 0 ? &user_nobody : &user_daemon;
                c->attacker = dir == 0 ? &user_daemon : &user_nobody;
                g_autofree char *name = g_strdup_printf("/multiuser/attack/signals/%s-on-%s", c->attacker->label,
                                                        c->victim->label);
                g_test_add(name, Fixture, c, fixture_setup, test_signals, fixture_teardown);
        }
        ADD("root-sees-all/nobody", &user_nobody, test_root_sees_all);
        ADD("root-sees-all/daemon", &user_daemon, test_root_sees_all);
        ADD("quota/per-user", NULL, test_quota_per_user);
        ADD("quota/global", NULL, test_quota_global);
#undef ADD

        return g_test_run();
}
