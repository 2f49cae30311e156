/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl --system against the multi-user service on a private system-like bus (see
 * cw-system-bus.h), run as the unprivileged user nobody: --system finds the bus through
 * DBUS_SYSTEM_BUS_ADDRESS, programs run as their caller, another user's processes do not
 * exist for it (201), and adopting one is refused (AccessDenied: 77). Needs root and setpriv.
 */

#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cw-system-bus.h"
#include "test-ctl-util.h"

#define T(ms) cw_timeout_ms(ms)

typedef struct Fixture {
        CwSystemBus sb;
        gboolean started;
        uid_t uid;
        gid_t gid;
        char *dir;  /* nobody's directory: cwd and HOME of its runs */
        char **env; /* nobody's environment, with DBUS_SYSTEM_BUS_ADDRESS */
        char *setpriv;
        char *uid_arg, *gid_arg;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
        g_autofree char *dbus_daemon = g_find_program_in_path("dbus-daemon");
        struct passwd *pw;

        memset(f, 0, sizeof(*f));
        f->setpriv = g_find_program_in_path("setpriv");
        pw = getpwnam("nobody");
        if (getuid() != 0 || !f->setpriv || !pw || !dbus_daemon) {
                g_test_skip("needs root, setpriv, dbus-daemon and the user nobody");
                return;
        }
        f->uid = pw->pw_uid;
        f->gid = pw->pw_gid;
        f->uid_arg = g_strdup_printf("--reuid=%u", (unsigned) f->uid);
        f->gid_arg = g_strdup_printf("--regid=%u", (unsigned) f->gid);
        cw_assert_usable_by_others(ctl_binary(), TRUE);

        cw_system_bus_start(&f->sb, NULL);
        f->started = TRUE;
        f->dir = cw_system_bus_user_dir(&f->sb, f->uid, f->gid);
        f->env = cw_sub_run_environ(f->dir);
        f->env = g_environ_setenv(f->env, "DBUS_SYSTEM_BUS_ADDRESS", f->sb.address, TRUE);
}

static void teardown(Fixture *f, gconstpointer data) {
        if (f->started)
                cw_system_bus_stop(&f->sb);
        g_free(f->dir);
        g_strfreev(f->env);
        g_free(f->setpriv);
        g_free(f->uid_arg);
        g_free(f->gid_arg);
}

/* Runs childwatchctl --system @args as nobody, to its end. */
static void run_as_nobody(Fixture *f, CtlResult *r, const char *const *args) {
        const char *const prefix[] = { f->setpriv, f->uid_arg, f->gid_arg, "--init-groups", "--", NULL };
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        CtlSpawn how = { .env = f->env, .cwd = f->dir, .prefix = prefix };

        g_ptr_array_add(argv, (gpointer) "--system");
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (gpointer) *a);
        g_ptr_array_add(argv, NULL);
        ctl_proc_finish(ctl_start_full(f->dir, &how, (const char *const *) argv->pdata), T(30000), r);
}

static void test_system(Fixture *f, gconstpointer data) {
        g_auto(CtlResult) r = { 0 };
        g_autoptr(GError) error = NULL;

        if (!f->started)
                return;

        /* --system reaches the service; the program runs as its caller, in the caller's
         * current directory. */
        run_as_nobody(f, &r, (const char *const[]){ "run", "--wait", "--", "sh", "-c", "id -u; pwd", NULL });
        ctl_assert_exit(&r, 0);
        g_autofree char *expected = g_strdup_printf("%u\n%s\n", (unsigned) f->uid, f->dir);
        g_assert_cmpstr(r.out, ==, expected);
        ctl_result_clear(&r);

        /* Root's process does not exist for nobody: not listed, 201 for status and signal. */
        g_autoptr(GVariant) spawned =
                cw_call(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn",
                        g_variant_new("(^as@a{sv})", (const char *const[]){ "sleep", "300", NULL },
                                      g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
                        "(ou)", &error);
        g_assert_no_error(error);
        const char *path;
        guint32 pid;
        g_variant_get(spawned, "(&ou)", &path, &pid);
        g_autofree char *id = g_strdup(strrchr(path, '/') + 1);
        g_autofree char *by_pid = g_strdup_printf("pid:%u", pid);

        run_as_nobody(f, &r, (const char *const[]){ "list", "--json", NULL });
        ctl_assert_exit(&r, 0);
        g_assert_cmpstr(r.out, ==, "[]\n");
        ctl_result_clear(&r);
        run_as_nobody(f, &r, (const char *const[]){ "status", id, NULL });
        ctl_assert_exit(&r, 201);
        ctl_result_clear(&r);
        run_as_nobody(f, &r, (const char *const[]){ "status", by_pid, NULL });
        ctl_assert_exit(&r, 201);
        ctl_result_clear(&r);
        run_as_nobody(f, &r, (const char *const[]){ "signal", id, "KILL", NULL });
        ctl_assert_exit(&r, 201);
        ctl_result_clear(&r);
        g_assert_cmpint(cw_proc_state((pid_t) pid), !=, 0);

        /* Root's processes are not nobody's to adopt: 77 (206 where the service has no
         * pidfds: under valgrind). */
        g_autoptr(GVariant) features =
                cw_get_property(f->sb.conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Features");
        g_autofree const char **feature_list = g_variant_get_strv(features, NULL);
        g_autofree char *pid_text = g_strdup_printf("%u", pid);
        run_as_nobody(f, &r, (const char *const[]){ "adopt", pid_text, NULL });
        ctl_assert_exit(&r, g_strv_contains(feature_list, "pidfd") ? 77 : 206);
        ctl_result_clear(&r);

        g_autofree char *state = NULL;
        int status;
        cw_kill(f->sb.conn, path, 0, &state, &status);
        cw_release(f->sb.conn, path);
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        g_test_add("/ctl/system", Fixture, NULL, setup, test_system, teardown);
        return g_test_run();
}
