/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "cw-system-bus.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The bus config: the default and root policies of /usr/share/dbus-1/system.conf (dbus 1.14)
 * without what a private bus must not have (<type>system</type> wants the setuid activation
 * helper; <user>, <fork>, <pidfile>, <syslog>, the service directories and the includes of
 * the machine's own configuration), listening on @socket only, plus the policy under test. */
static char *bus_config(const char *socket, const char *policy) {
        return g_strdup_printf(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <listen>unix:path=%s</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow user=\"*\"/>\n"
                "    <deny own=\"*\"/>\n"
                "    <deny send_type=\"method_call\"/>\n"
                "    <allow send_type=\"signal\"/>\n"
                "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                "    <allow receive_type=\"method_call\"/>\n"
                "    <allow receive_type=\"method_return\"/>\n"
                "    <allow receive_type=\"error\"/>\n"
                "    <allow receive_type=\"signal\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus.Containers1\"/>\n"
                "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"\n"
                "          send_member=\"UpdateActivationEnvironment\"/>\n"
                "    <deny send_destination=\"org.freedesktop.DBus\"\n"
                "          send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>\n"
                "    <deny send_destination=\"org.freedesktop.DBus\"\n"
                "          send_interface=\"org.freedesktop.systemd1.Activator\"/>\n"
                "  </policy>\n"
                "  <policy user=\"root\">\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.systemd1.Activator\"/>\n"
                "  </policy>\n"
                "  <policy user=\"root\">\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus.Monitoring\"/>\n"
                "  </policy>\n"
                "  <policy user=\"root\">\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                "           send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>\n"
                "  </policy>\n"
                "  <include>%s</include>\n"
                "</busconfig>\n",
                socket, policy);
}

static void child_setup_pdeathsig(gpointer data) {
        /* Neither the bus nor the service outlives a test that aborts. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
}

typedef struct LineRead {
        gboolean done;
        char *line;
        GError *error;
} LineRead;

static void on_line(GObject *source, GAsyncResult *result, gpointer data) {
        LineRead *l = data;
        l->line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), result, NULL, &l->error);
        l->done = TRUE;
}

static gboolean line_done(gpointer data) {
        return ((LineRead *) data)->done;
}

static void on_service_exit(GObject *source, GAsyncResult *result, gpointer data) {
        CwSystemBus *sb = data;
        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        sb->service_exited = TRUE;
}

static gboolean service_ready_or_gone(gpointer data) {
        CwSystemBus *sb = data;
        return sb->service_exited || cw_name_has_owner(sb->conn);
}

GDBusConnection *cw_bus_connect(const char *address) {
        g_autoptr(GError) error = NULL;
        GDBusConnection *c = g_dbus_connection_new_for_address_sync(
                address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(c);
        return c;
}

static const char *env_or_die(const char *name) {
        const char *v = g_getenv(name);
        if (!v || !*v)
                g_error("%s is not set (the meson test sets it)", name);
        return v;
}

void cw_system_bus_start(CwSystemBus *sb, const char *const *service_args) {
        g_autoptr(GError) error = NULL;

        memset(sb, 0, sizeof(*sb));
        sb->dir = cw_make_tmpdir();
        /* Others must reach the socket (it is created 0777 by dbus-daemon) and their own
         * directories in here. */
        g_assert_cmpint(chmod(sb->dir, 0755), ==, 0);
        g_autofree char *parent = g_path_get_dirname(sb->dir);
        cw_assert_usable_by_others(parent, FALSE);

        g_autofree char *policy = g_build_filename(env_or_die("CW_SOURCE_ROOT"), "policy",
                                                   CW_NAME ".conf", NULL);
        g_assert_true(g_file_test(policy, G_FILE_TEST_IS_REGULAR));
        g_autofree char *socket = g_build_filename(sb->dir, "bus", NULL);
        g_autofree char *config = g_build_filename(sb->dir, "bus.conf", NULL);
        g_autofree char *config_text = bus_config(socket, policy);
        g_assert_true(g_file_set_contents(config, config_text, -1, &error));
        g_assert_no_error(error);

        /* The bus. */
        g_autofree char *config_arg = g_strdup_printf("--config-file=%s", config);
        const char *const daemon_argv[] = { "dbus-daemon", config_arg, "--nofork", "--print-address", NULL };
        g_autoptr(GSubprocessLauncher) dl = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                      G_SUBPROCESS_FLAGS_SEARCH_PATH_FROM_ENVP);
        g_subprocess_launcher_set_child_setup(dl, child_setup_pdeathsig, NULL, NULL);
        sb->daemon = g_subprocess_launcher_spawnv(dl, daemon_argv, &error);
        g_assert_no_error(error);
        g_autoptr(GDataInputStream) out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sb->daemon));
        g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(out), FALSE);
        LineRead line = { 0 };
        g_data_input_stream_read_line_async(out, G_PRIORITY_DEFAULT, NULL, on_line, &line);
        if (!cw_wait_until(line_done, &line, cw_timeout_ms(10000)))
                g_error("dbus-daemon printed no address within %u ms", cw_timeout_ms(10000));
        g_assert_no_error(line.error);
        g_assert_nonnull(line.line);
        sb->address = g_strstrip(line.line);
        g_assert_true(g_str_has_prefix(sb->address, "unix:path="));
        struct stat st;
        g_assert_cmpint(stat(socket, &st), ==, 0);
        if ((st.st_mode & 0006) != 0006)
                g_assert_cmpint(chmod(socket, 0666), ==, 0);

        /* The service, as root, with a canary variable in its environment. */
        g_autofree char *daemon = g_build_filename(env_or_die("CW_BUILD_ROOT"), "src", "childwatchd", NULL);
        g_assert_true(g_file_test(daemon, G_FILE_TEST_IS_EXECUTABLE));
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        if (cw_under_valgrind()) {
                g_ptr_array_add(argv, g_strdup("valgrind"));
                g_ptr_array_add(argv, g_strdup("--quiet"));
                g_ptr_array_add(argv, g_strdup("--error-exitcode=99"));
                g_ptr_array_add(argv, g_strdup("--leak-check=full"));
                g_ptr_array_add(argv, g_strdup("--errors-for-leak-kinds=definite"));
                g_ptr_array_add(argv, g_strdup("--show-leak-kinds=definite"));
                g_ptr_array_add(argv, g_strdup_printf("--suppressions=%s/tests/valgrind.supp",
                                                      env_or_die("CW_SOURCE_ROOT")));
                g_ptr_array_add(argv, g_strdup_printf("--log-file=%s/valgrind-%%p.log", sb->dir));
        }
        g_ptr_array_add(argv, g_strdup(daemon));
        g_ptr_array_add(argv, g_strdup_printf("--address=%s", sb->address));
        g_ptr_array_add(argv, g_strdup("--multi-user"));
        g_ptr_array_add(argv, g_strdup("--idle-timeout=0"));
        for (const char *const *a = service_args; a && *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);

        g_auto(GStrv) env = g_get_environ();
        static const char *const unset[] = { "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS",
                                             "DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE", NULL };
        for (const char *const *u = unset; *u; u++)
                env = g_environ_unsetenv(env, *u);
        env = g_environ_setenv(env, CW_SYSTEM_BUS_CANARY_NAME, CW_SYSTEM_BUS_CANARY_VALUE, TRUE);
        g_autoptr(GSubprocessLauncher) sl = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                                      G_SUBPROCESS_FLAGS_SEARCH_PATH_FROM_ENVP);
        g_subprocess_launcher_set_environ(sl, env);
        g_subprocess_launcher_set_cwd(sl, "/");
        g_subprocess_launcher_set_child_setup(sl, child_setup_pdeathsig, NULL, NULL);
        sb->service = g_subprocess_launcher_spawnv(sl, (const char *const *) argv->pdata, &error);
        g_assert_no_error(error);
        sb->service_pid = (pid_t) g_ascii_strtoll(g_subprocess_get_identifier(sb->service), NULL, 10);
        g_assert_cmpint(sb->service_pid, >, 0);
        g_subprocess_wait_async(sb->service, NULL, on_service_exit, sb);

        sb->conn = cw_bus_connect(sb->address);
        if (!cw_wait_until(service_ready_or_gone, sb, cw_timeout_ms(10000)))
                g_error("the service did not take its name within %u ms", cw_timeout_ms(10000));
        if (sb->service_exited)
                g_error("the service ended at start (wait status 0x%x)", g_subprocess_get_status(sb->service));

        g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                sb->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetNameOwner", g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                NULL, &error);
        g_assert_no_error(error);
        g_variant_get(r, "(s)", &sb->service_name);
}

char *cw_system_bus_user_dir(CwSystemBus *sb, uid_t uid, gid_t gid) {
        char *dir = g_strdup_printf("%s/u%u", sb->dir, (unsigned) uid);
        if (mkdir(dir, 0700) < 0)
                g_assert_cmpint(errno, ==, EEXIST);
        g_assert_cmpint(chown(dir, uid, gid), ==, 0);
        g_assert_cmpint(chmod(dir, 0700), ==, 0);
        return dir;
}

static void print_valgrind_logs(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                if (!g_str_has_prefix(name, "valgrind-"))
                        continue;
                g_autofree char *path = g_build_filename(dir, name, NULL);
                g_autofree char *contents = NULL;
                if (g_file_get_contents(path, &contents, NULL, NULL) && contents[0])
                        g_printerr("---- %s ----\n%s\n", name, contents);
        }
}

static gboolean service_gone(gpointer data) {
        return ((CwSystemBus *) data)->service_exited;
}

typedef struct Waited {
        gboolean done;
} Waited;

static void on_waited(GObject *source, GAsyncResult *result, gpointer data) {
        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        ((Waited *) data)->done = TRUE;
}

static gboolean waited(gpointer data) {
        return ((Waited *) data)->done;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (remove(path) < 0)
                g_error("cannot remove %s: %s", path, g_strerror(errno));
        return 0;
}

void cw_system_bus_stop(CwSystemBus *sb) {
        if (sb->service) {
                if (!sb->service_exited) {
                        cw_assert_no_zombies(sb->service_pid);
                        g_assert_cmpint(kill(sb->service_pid, SIGTERM), ==, 0);
                }
                if (!cw_wait_until(service_gone, sb, cw_timeout_ms(10000))) {
                        g_test_fail_printf("the service did not exit within %u ms of SIGTERM", cw_timeout_ms(10000));
                        g_subprocess_force_exit(sb->service);
                        if (!cw_wait_until(service_gone, sb, cw_timeout_ms(10000)))
                                g_error("the service did not end, even after SIGKILL");
                } else {
                        int status = g_subprocess_get_status(sb->service);
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                                print_valgrind_logs(sb->dir);
                                g_test_fail_printf("the service ended with wait status 0x%x, not exit 0", status);
                        }
                }
        }
        if (sb->conn)
                (void) g_dbus_connection_close_sync(sb->conn, NULL, NULL);
        g_clear_object(&sb->conn);
        if (sb->daemon) {
                Waited w = { FALSE };
                g_subprocess_wait_async(sb->daemon, NULL, on_waited, &w);
                g_subprocess_send_signal(sb->daemon, SIGTERM);
                if (!cw_wait_until(waited, &w, cw_timeout_ms(5000))) {
                        g_subprocess_force_exit(sb->daemon);
                        if (!cw_wait_until(waited, &w, cw_timeout_ms(5000)))
                                g_error("dbus-daemon did not end, even after SIGKILL");
                }
        }
        g_clear_object(&sb->daemon);
        g_clear_object(&sb->service);
        cw_reap_and_kill_leftovers();
        if (sb->dir)
                g_assert_cmpint(nftw(sb->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
        g_clear_pointer(&sb->dir, g_free);
        g_clear_pointer(&sb->address, g_free);
        g_clear_pointer(&sb->service_name, g_free);
        memset(sb, 0, sizeof(*sb));
}
