/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-flatpak: flatpak-session-helper's HostCommand as the peer to compare
 * childwatchd's Spawn with; see bench-flatpak.h.
 */

#include "bench-flatpak.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLATPAK_NAME "org.freedesktop.Flatpak"
#define FLATPAK_DEVELOPMENT_PATH "/org/freedesktop/Flatpak/Development"
#define FLATPAK_DEVELOPMENT_IFACE "org.freedesktop.Flatpak.Development"
/* Where Debian's package `flatpak` installs it; BENCH_FLATPAK_SESSION_HELPER overrides. */
#define FLATPAK_SESSION_HELPER "/usr/libexec/flatpak-session-helper"

typedef struct Exit {
        guint32 wait_status;
        gint64 seen_ns;
} Exit;

struct BenchFlatpak {
        char *tmpdir;
        char *service_dir;
        BenchService *s;
        guint subscription;
        GHashTable *exits; /* pid -> Exit*: HostCommandExited seen, not yet consumed */
        GVariant *true_params;
        pid_t helper_pid;
};

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void bench_flatpak_free(BenchFlatpak *f) {
        if (!f)
                return;
        if (f->subscription)
                g_dbus_connection_signal_unsubscribe(f->s->conn, f->subscription);
        /* Stopped while its bus is still up, so it cannot outlive us; it ends its p11-kit
         * server on the way out. */
        bench_stop_pid(f->helper_pid, "flatpak-session-helper");
        if (f->tmpdir)
                (void) nftw(f->tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        g_free(f->tmpdir);
        g_free(f->service_dir);
        g_clear_pointer(&f->exits, g_hash_table_unref);
        g_clear_pointer(&f->true_params, g_variant_unref);
        g_free(f);
}

gboolean bench_flatpak_prepare(BenchFlatpak **ret) {
        const char *helper = g_getenv("BENCH_FLATPAK_SESSION_HELPER") ?: FLATPAK_SESSION_HELPER;
        g_autoptr(BenchFlatpak) f = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *runtime_dir = NULL, *file = NULL, *contents = NULL;

        *ret = NULL;
        if (access(helper, X_OK) < 0) {
                g_printerr("%s: %s: %s; the flatpak row is skipped (Debian package `flatpak`)\n",
                           g_get_prgname(), helper, g_strerror(errno));
                return TRUE;
        }

        f = g_new0(BenchFlatpak, 1);
        f->exits = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        f->tmpdir = g_dir_make_tmp("bench-flatpak-XXXXXX", &error);
        if (!f->tmpdir) {
                bench_fail("cannot make a temporary directory: %s", error->message);
                return FALSE;
        }
        f->service_dir = g_build_filename(f->tmpdir, "services", NULL);
        runtime_dir = g_build_filename(f->tmpdir, "runtime", NULL);
        if (mkdir(f->service_dir, 0700) < 0 || mkdir(runtime_dir, 0700) < 0) {
                bench_fail("cannot make directories in %s: %s", f->tmpdir, g_strerror(errno));
                return FALSE;
        }
        /* The same activation as the installed file, minus SystemdService= (no systemd here,
         * and a test bus must not reach the user's manager anyway). */
        file = g_build_filename(f->service_dir, FLATPAK_NAME ".service", NULL);
        contents = g_strdup_printf("[D-BUS Service]\nName=%s\nExec=%s\n", FLATPAK_NAME, helper);
        if (!g_file_set_contents(file, contents, -1, &error)) {
                bench_fail("cannot write %s: %s", file, error->message);
                return FALSE;
        }
        /* The helper keeps its monitor files and p11-kit socket in the runtime directory;
         * dbus-daemon hands our environment to what it activates. */
        g_setenv("XDG_RUNTIME_DIR", runtime_dir, TRUE);

        /* HostCommand(ay cwd_path, aay argv, a{uh} fds, a{ss} envs, u flags) -> (u pid), from
         * flatpak's org.freedesktop.Flatpak.xml. No fds, no flags: like Spawn(["/bin/true"], {}). */
        static const char *const argv[] = { "/bin/true", NULL };
        f->true_params = g_variant_ref_sink(g_variant_new(
                "(@ay@aay@a{uh}@a{ss}u)", g_variant_new_bytestring("/"),
                g_variant_new_bytestring_array(argv, -1), g_variant_new_array(G_VARIANT_TYPE("{uh}"), NULL, 0),
                g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0), (guint32) 0));
        *ret = g_steal_pointer(&f);
        return TRUE;
}

const char *bench_flatpak_service_dir(BenchFlatpak *f) {
        return f->service_dir;
}

static void on_host_command_exited(GDBusConnection *conn, const char *sender, const char *path,
                                   const char *iface, const char *member, GVariant *params, gpointer userdata) {
        gint64 t = bench_now_ns(); /* first thing: this is the end of a timed region */
        BenchFlatpak *f = userdata;
        guint32 pid;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(uu)"))) {
                bench_fail("HostCommandExited with signature %s", g_variant_get_type_string(params));
                return;
        }
        Exit *e = g_new0(Exit, 1);
        g_variant_get(params, "(uu)", &pid, &e->wait_status);
        e->seen_ns = t;
        if (g_hash_table_contains(f->exits, GUINT_TO_POINTER(pid)))
                bench_fail("a second HostCommandExited for pid %u", pid);
        g_hash_table_replace(f->exits, GUINT_TO_POINTER(pid), e);
}

gboolean bench_flatpak_up(BenchFlatpak *f, BenchService *s) {
        BenchCall c;
        gboolean ok;

        f->s = s;
        /* Subscribed the way the service's StateChanged is: the signal is unicast to us. */
        f->subscription = g_dbus_connection_signal_subscribe(s->conn, FLATPAK_NAME, FLATPAK_DEVELOPMENT_IFACE,
                                                             "HostCommandExited", FLATPAK_DEVELOPMENT_PATH,
                                                             NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                             on_host_command_exited, f, NULL);
        /* Activation (not timed), then its pid so that it can be stopped for sure. */
        bench_call_start(s, FLATPAK_NAME, FLATPAK_DEVELOPMENT_PATH, BENCH_PEER_IFACE, "Ping", NULL, "()", &c);
        ok = bench_call_wait(s, &c, "Ping to flatpak-session-helper");
        bench_call_clear(&c);
        if (!ok)
                return FALSE;
        f->helper_pid = bench_name_owner_pid(s, FLATPAK_NAME);
        return f->helper_pid > 0;
}

gint64 bench_flatpak_measure(BenchFlatpak *f) {
        BenchService *s = f->s;
        guint32 pid;
        Exit *e;
        BenchCall c;

        gint64 t0 = bench_now_ns();
        bench_call_start(s, FLATPAK_NAME, FLATPAK_DEVELOPMENT_PATH, FLATPAK_DEVELOPMENT_IFACE, "HostCommand",
                         g_variant_ref(f->true_params), "(u)", &c);
        if (!bench_call_wait(s, &c, "HostCommand")) {
                bench_call_clear(&c);
                return -1;
        }
        g_variant_get(c.reply, "(u)", &pid);
        bench_call_clear(&c);

        gint64 deadline = bench_deadline_from_now();
        while (!(e = g_hash_table_lookup(f->exits, GUINT_TO_POINTER(pid))))
                if (!bench_iterate(deadline)) {
                        bench_fail("no HostCommandExited for pid %u within %d s", pid, BENCH_WAIT_TIMEOUT_S);
                        return -1;
                }
        gint64 dt = e->seen_ns - t0;
        gboolean ok = WIFEXITED(e->wait_status) && WEXITSTATUS(e->wait_status) == 0;
        if (!ok)
                bench_fail("HostCommand(/bin/true), pid %u, ended with wait status 0x%x", pid, e->wait_status);
        g_hash_table_remove(f->exits, GUINT_TO_POINTER(pid));
        return ok ? dt : -1;
}
