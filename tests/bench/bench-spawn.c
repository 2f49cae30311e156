/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-spawn: what does a spawn through childwatchd cost, compared with
 * spawning in-process and with a bare bus round trip, and does it grow with
 * the number of children the service watches?
 *
 * Two private buses, each activating this build's service exactly as
 * installed: service A watches nothing but the measured child, service B
 * also watches a background population of `sleep 3600` children. With two
 * services the "no children" and "many children" figures can be taken in the
 * same rounds instead of one phase after the other; this machine is shared
 * and noisy, and only interleaving cancels its drift. Each round takes one
 * sample of every kind, in an order rotated per round.
 *
 * Every wait is bounded (WAIT_TIMEOUT_S without progress); any error makes
 * the exit status non-zero. The benchmark asserts nothing about the numbers.
 */

#include <errno.h>
#include <gio/gio.h>
#include <glib.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CW_TEST_SERVICES_DIR
#error "CW_TEST_SERVICES_DIR must point at the generated test service directory"
#endif

#define CW_NAME "org.childwatch.ChildWatch1"
#define CW_MANAGER_PATH "/org/childwatch/ChildWatch1"
#define CW_MANAGER_IFACE "org.childwatch.ChildWatch1.Manager"
#define CW_PROCESS_IFACE "org.childwatch.ChildWatch1.Process"

#define WAIT_TIMEOUT_S 10
#define CALL_TIMEOUT_MS (WAIT_TIMEOUT_S * 1000)
/* dbus-daemon's default limit of pending replies per connection is 128 (GTestDBus sets none). */
#define PIPELINE_WINDOW 64

extern char **environ;

static gboolean failed;

#define bench_fail(...)                                                                                  \
        G_STMT_START {                                                                                   \
                g_printerr("bench-spawn: " __VA_ARGS__);                                                 \
                g_printerr("\n");                                                                        \
                failed = TRUE;                                                                           \
        } G_STMT_END

static gint64 now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* ---- waiting, always bounded ---- */

static gboolean watchdog_tick(gpointer data) {
        return G_SOURCE_CONTINUE;
}

/* One main-loop iteration unless @deadline (now_ns) has passed. A periodic watchdog source
 * wakes the loop, so a wait with nothing arriving still sees its deadline; having it always
 * armed keeps timer setup out of the timed regions. */
static gboolean iterate(gint64 deadline) {
        if (now_ns() > deadline)
                return FALSE;
        g_main_context_iteration(NULL, TRUE);
        return TRUE;
}

static gint64 deadline_from_now(void) {
        return now_ns() + (gint64) WAIT_TIMEOUT_S * G_GINT64_CONSTANT(1000000000);
}

/* ---- one private bus with one service ---- */

typedef struct End {
        char *event;
        int status;
        gint64 seen_ns;
} End;

static void end_free(gpointer p) {
        End *e = p;
        g_free(e->event);
        g_free(e);
}

typedef struct Service {
        const char *label;
        GTestDBus *bus;
        GDBusConnection *conn;
        guint subscription;
        GHashTable *ends;       /* object path -> End*: terminal StateChanged seen, not yet consumed */
        guint64 n_spawned;      /* successful Spawn() replies */
        guint64 n_terminal;     /* terminal StateChanged received */
        GPtrArray *background;  /* object paths of the `sleep` children */
        pid_t pid;
} Service;

static gboolean event_is_terminal(const char *event) {
        return g_str_equal(event, "exited") || g_str_equal(event, "killed") || g_str_equal(event, "dumped") ||
               g_str_equal(event, "vanished");
}

static void on_state_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        gint64 t = now_ns(); /* first thing: this is the end of a timed region */
        Service *s = userdata;
        const char *event;
        int status;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(si)"))) {
                bench_fail("%s: StateChanged with signature %s", s->label, g_variant_get_type_string(params));
                return;
        }
        g_variant_get(params, "(&si)", &event, &status);
        if (!event_is_terminal(event)) {
                /* Nobody stops or continues our children: this would be a spurious report. */
                bench_fail("%s: unexpected StateChanged(%s, %d) for %s", s->label, event, status, path);
                return;
        }
        s->n_terminal++;
        if (g_hash_table_contains(s->ends, path)) {
                bench_fail("%s: a second terminal StateChanged(%s) for %s", s->label, event, path);
                return;
        }
        End *e = g_new0(End, 1);
        e->event = g_strdup(event);
        e->status = status;
        e->seen_ns = t;
        g_hash_table_insert(s->ends, g_strdup(path), e);
}

typedef struct Call {
        gboolean done;
        GVariant *reply;
        GError *error;
        gint64 done_ns;
} Call;

static void call_clear(Call *c) {
        g_clear_pointer(&c->reply, g_variant_unref);
        g_clear_error(&c->error);
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        gint64 t = now_ns();
        Call *c = userdata;

        c->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);
        c->done = TRUE;
        c->done_ns = t;
}

static void call_start(Service *s, const char *path, const char *iface, const char *method, GVariant *params,
                       const char *reply_type, Call *c) {
        *c = (Call) {};
        g_dbus_connection_call(s->conn, CW_NAME, path, iface, method, params,
                               reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                               CALL_TIMEOUT_MS, NULL, on_call_done, c);
}

static gboolean call_wait(Service *s, Call *c, const char *what) {
        gint64 deadline = deadline_from_now();

        while (!c->done)
                if (!iterate(deadline)) {
                        /* The callback still points at @c: it must outlive us, so keep spinning
                         * until GDBus's own timeout (CALL_TIMEOUT_MS) fires. */
                        while (!c->done)
                                g_main_context_iteration(NULL, TRUE);
                        break;
                }
        if (c->error) {
                bench_fail("%s: %s failed: %s", s->label, what, c->error->message);
                return FALSE;
        }
        return TRUE;
}

/* A synchronous call in the same style as the measured ones; for setup and cleanup. */
static gboolean call_sync(Service *s, const char *path, const char *iface, const char *method,
                          GVariant *params, const char *reply_type, GVariant **ret_reply) {
        Call c;
        gboolean ok;

        call_start(s, path, iface, method, params, reply_type, &c);
        ok = call_wait(s, &c, method);
        if (ok && ret_reply)
                *ret_reply = g_steal_pointer(&c.reply);
        call_clear(&c);
        return ok;
}

static gboolean service_up(Service *s, const char *label) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        guint32 pid;

        s->label = label;
        s->ends = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, end_free);
        s->background = g_ptr_array_new_with_free_func(g_free);

        s->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
        g_test_dbus_add_service_dir(s->bus, CW_TEST_SERVICES_DIR);
        g_test_dbus_up(s->bus);

        s->conn = g_dbus_connection_new_for_address_sync(g_test_dbus_get_bus_address(s->bus),
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
        if (!s->conn) {
                bench_fail("%s: cannot connect to the private bus: %s", label, error->message);
                return FALSE;
        }
        /* Once, before any Spawn(): a child's exit can never beat the subscription. */
        s->subscription = g_dbus_connection_signal_subscribe(s->conn, CW_NAME, CW_PROCESS_IFACE, "StateChanged",
                                                             NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                             on_state_changed, s, NULL);

        /* Ping activates the service; then the bus tells us its pid. */
        if (!call_sync(s, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", NULL))
                return FALSE;
        r = g_dbus_connection_call_sync(s->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                        g_variant_new("(s)", CW_NAME), G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
        if (!r) {
                bench_fail("%s: cannot learn the service's pid: %s", label, error->message);
                return FALSE;
        }
        g_variant_get(r, "(u)", &pid);
        s->pid = (pid_t) pid;
        return TRUE;
}

static gboolean pid_alive(pid_t pid) {
        return kill(pid, 0) == 0 || errno == EPERM;
}

static void service_down(Service *s) {
        if (s->pid > 0 && pid_alive(s->pid)) {
                /* SIGTERM is the service's clean exit; the bus going away would also end it. */
                (void) kill(s->pid, SIGTERM);
                gint64 deadline = deadline_from_now();
                while (pid_alive(s->pid) && now_ns() < deadline) {
                        /* Once it is a zombie of its babysitter it counts as alive; that is
                         * fine, the babysitter goes with the bus. */
                        char path[64], state = 0;
                        g_autofree char *stat = NULL;
                        g_snprintf(path, sizeof(path), "/proc/%d/stat", (int) s->pid);
                        if (g_file_get_contents(path, &stat, NULL, NULL)) {
                                char *close = strrchr(stat, ')');
                                if (close && close[1])
                                        state = close[2];
                        }
                        if (state == 'Z' || state == 0)
                                break;
                        g_usleep(1000);
                }
        }
        if (s->subscription)
                g_dbus_connection_signal_unsubscribe(s->conn, s->subscription);
        if (s->conn)
                (void) g_dbus_connection_close_sync(s->conn, NULL, NULL);
        g_clear_object(&s->conn);
        if (s->bus)
                g_test_dbus_down(s->bus);
        g_clear_object(&s->bus);
        g_clear_pointer(&s->ends, g_hash_table_unref);
        g_clear_pointer(&s->background, g_ptr_array_unref);
}

/* ---- the measurements; each returns the sample in ns, or -1 on error ---- */

static GVariant *true_spawn_params;
/* Percentage of the background children spawned with events=["exited"]; the rest get the
 * default events (stop/continue too). 50 as the issue asks; other values are for diagnosis. */
static gint exited_only_percent = 50;

static gint64 measure_ping(Service *s) {
        Call c;
        gint64 t0 = now_ns();

        call_start(s, CW_MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", &c);
        gboolean ok = call_wait(s, &c, "Ping");
        gint64 dt = c.done_ns - t0;
        call_clear(&c);
        return ok ? dt : -1;
}

/* The limit: what the service itself has to do at the least, without any bus. */
static gint64 measure_local_spawn(void) {
        static char *const argv[] = { (char *) "/bin/true", NULL };
        siginfo_t si = {};
        pid_t pid;
        int fd, r;

        gint64 t0 = now_ns();
        r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
        if (r != 0) {
                bench_fail("posix_spawn(/bin/true): %s", g_strerror(r));
                return -1;
        }
        fd = pidfd_open(pid, 0);
        if (fd < 0) {
                bench_fail("pidfd_open(%d): %s", (int) pid, g_strerror(errno));
                (void) waitpid(pid, NULL, 0);
                return -1;
        }
        while ((r = waitid(P_PIDFD, (id_t) fd, &si, WEXITED)) < 0 && errno == EINTR)
                ;
        gint64 dt = now_ns() - t0;
        int saved = errno;
        (void) close(fd);
        if (r < 0) {
                bench_fail("waitid(P_PIDFD): %s", g_strerror(saved));
                return -1;
        }
        if (si.si_code != CLD_EXITED || si.si_status != 0) {
                bench_fail("/bin/true ended with code %d status %d", si.si_code, si.si_status);
                return -1;
        }
        return dt;
}

static gboolean release(Service *s, const char *path) {
        return call_sync(s, path, CW_PROCESS_IFACE, "Release", NULL, "()", NULL);
}

/* Spawn(["/bin/true"], {}) until its terminal StateChanged; Release() after, not timed.
 * *@ret_reply_ns: when the Spawn() reply came, from the same start. */
static gint64 measure_service_spawn(Service *s, gint64 *ret_reply_ns) {
        const char *path;
        guint32 pid;
        End *e;
        Call c;

        gint64 t0 = now_ns();
        call_start(s, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn", g_variant_ref(true_spawn_params), "(ou)", &c);
        if (!call_wait(s, &c, "Spawn")) {
                call_clear(&c);
                return -1;
        }
        s->n_spawned++;
        *ret_reply_ns = c.done_ns - t0;
        g_variant_get(c.reply, "(&ou)", &path, &pid);

        gint64 deadline = deadline_from_now();
        while (!(e = g_hash_table_lookup(s->ends, path)))
                if (!iterate(deadline)) {
                        bench_fail("%s: no terminal StateChanged for %s (pid %u) within %d s", s->label, path,
                                   pid, WAIT_TIMEOUT_S);
                        call_clear(&c);
                        return -1;
                }
        gint64 dt = e->seen_ns - t0;

        gboolean ok = g_str_equal(e->event, "exited") && e->status == 0;
        if (!ok)
                bench_fail("%s: /bin/true (%s) ended with %s %d", s->label, path, e->event, e->status);
        g_hash_table_remove(s->ends, path);
        ok = release(s, path) && ok;
        call_clear(&c);
        return ok ? dt : -1;
}

/* The orphan path: `sh -c 'sleep 0.002 & exit 0'`. The shell ends at once, its sleep
 * re-parents to the service (a subreaper) and ends 2 ms later; the service learns of it
 * from the SIGCHLD that names it, O(1) whatever the number of children. Timed from the
 * Spawn() call to the orphan's terminal StateChanged; both objects released after. */
static GVariant *orphan_spawn_params;

static gint64 measure_orphan(Service *s) {
        g_autofree char *orphan = NULL;
        const char *path;
        guint32 pid;
        Call c;

        gint64 t0 = now_ns();
        call_start(s, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn", g_variant_ref(orphan_spawn_params), "(ou)", &c);
        if (!call_wait(s, &c, "Spawn")) {
                call_clear(&c);
                return -1;
        }
        g_variant_get(c.reply, "(&ou)", &path, &pid);

        /* Nothing else ends meanwhile: the background children sleep for good. */
        gint64 deadline = deadline_from_now();
        while (g_hash_table_size(s->ends) < 2)
                if (!iterate(deadline)) {
                        g_autofree char *children = NULL, *file = g_strdup_printf(
                                "/proc/%d/task/%d/children", (int) s->pid, (int) s->pid);
                        (void) g_file_get_contents(file, &children, NULL, NULL);
                        g_autoptr(GString) odd = g_string_new("");
                        g_auto(GStrv) pids = g_strsplit(children ?: "", " ", -1);
                        for (guint k = 0; pids[k]; k++) {
                                g_autofree char *stat = NULL, *sf = g_strdup_printf("/proc/%s/stat", pids[k]);
                                if (!*pids[k] || !g_file_get_contents(sf, &stat, NULL, NULL))
                                        continue;
                                const char *close = strrchr(stat, ')');
                                if (close && close[2] != 'S')
                                        g_string_append_printf(odd, " %s(%c)", pids[k], close[2]);
                        }
                        g_printerr("children of %d not sleeping:%s\n", (int) s->pid, odd->str);
                        bench_fail("%s: no end of %s (pid %u) and of its orphan within %d s (%u ends seen%s%s)",
                                   s->label, path, pid, WAIT_TIMEOUT_S, g_hash_table_size(s->ends),
                                   g_hash_table_contains(s->ends, path) ? ", the shell's" : "",
                                   children && strlen(children) < 200 ? children : "");
                        call_clear(&c);
                        return -1;
                }
        s->n_spawned += 2; /* the shell and its orphan */

        GHashTableIter i;
        gpointer key, value;
        gint64 dt = -1;
        gboolean ok = g_hash_table_size(s->ends) == 2 && g_hash_table_contains(s->ends, path);
        g_hash_table_iter_init(&i, s->ends);
        while (g_hash_table_iter_next(&i, &key, &value)) {
                End *e = value;
                if (!g_str_equal(e->event, "exited") || e->status != 0) {
                        bench_fail("%s: %s ended with %s %d", s->label, (char *) key, e->event, e->status);
                        ok = FALSE;
                }
                if (!g_str_equal(key, path)) {
                        orphan = g_strdup(key);
                        dt = e->seen_ns - t0;
                }
        }
        if (!ok || !orphan)
                bench_fail("%s: expected the end of %s and of one orphan", s->label, path);
        g_hash_table_remove_all(s->ends);
        ok = ok && orphan && release(s, path) && release(s, orphan);
        call_clear(&c);
        return ok ? dt : -1;
}

/* ---- the background population ---- */

typedef struct Pipeline {
        Service *s;
        const char *method;
        guint in_flight;
        guint n_failed;
} Pipeline;

typedef struct PipelineCall {
        Pipeline *p;
        guint index;
} PipelineCall;

static void on_pipeline_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        g_autofree PipelineCall *pc = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        Pipeline *p = pc->p;

        p->in_flight--;
        if (!reply) {
                if (p->n_failed++ < 5)
                        bench_fail("%s: %s #%u failed: %s", p->s->label, p->method, pc->index, error->message);
                else
                        failed = TRUE;
                return;
        }
        if (g_str_equal(p->method, "Spawn")) {
                const char *path;
                p->s->n_spawned++;
                g_variant_get(reply, "(&ou)", &path, NULL);
                g_free(p->s->background->pdata[pc->index]);
                p->s->background->pdata[pc->index] = g_strdup(path);
        }
}

/* Calls @method @n times, at most PIPELINE_WINDOW at once: on the manager with
 * @make_params(i) for Spawn, else on background[i] with @params. */
static gboolean call_pipelined(Service *s, const char *iface, const char *method, guint n,
                               GVariant *(*make_params)(guint i, guint n), GVariant *params,
                               const char *reply_type) {
        Pipeline p = { .s = s, .method = method };
        gint64 deadline = deadline_from_now();
        guint issued = 0;

        while (issued < n || p.in_flight > 0) {
                while (issued < n && p.in_flight < PIPELINE_WINDOW) {
                        PipelineCall *pc = g_new0(PipelineCall, 1);
                        const char *path = make_params ? CW_MANAGER_PATH : s->background->pdata[issued];

                        pc->p = &p;
                        pc->index = issued;
                        if (!path) { /* its Spawn failed, already reported */
                                g_free(pc);
                                issued++;
                                continue;
                        }
                        g_dbus_connection_call(s->conn, CW_NAME, path, iface, method,
                                               make_params ? make_params(issued, n) : g_variant_ref(params),
                                               G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE,
                                               CALL_TIMEOUT_MS, NULL, on_pipeline_call_done, pc);
                        p.in_flight++;
                        issued++;
                }
                guint before = p.in_flight;
                if (!iterate(deadline)) {
                        /* The callbacks point at @p: wait out GDBus's own call timeouts. */
                        bench_fail("%s: %s made no progress for %d s", s->label, method, WAIT_TIMEOUT_S);
                        while (p.in_flight > 0)
                                g_main_context_iteration(NULL, TRUE);
                        return FALSE;
                }
                if (p.in_flight < before)
                        deadline = deadline_from_now();
        }
        return p.n_failed == 0;
}

static GVariant *sleep_spawn_params(guint i, guint n) {
        static const char *const argv[] = { "sleep", "3600", NULL };
        static const char *const exited_only[] = { "exited", NULL };
        g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{sv}"));

        /* Half exit-only (epoll on the pidfd), half with the default events, which also
         * report stop/continue and so take the service's SIGCHLD path. */
        if ((guint64) i * 100 < (guint64) n * (guint) exited_only_percent)
                g_variant_builder_add(&options, "{sv}", "events", g_variant_new_strv(exited_only, -1));
        return g_variant_new("(^as@a{sv})", argv, g_variant_builder_end(&options));
}

static gboolean background_start(Service *s, guint n) {
        g_ptr_array_set_size(s->background, (gint) n);
        return call_pipelined(s, CW_MANAGER_IFACE, "Spawn", n, sleep_spawn_params, NULL, "(ou)");
}

/* Kill(0) all, Release() all, and make sure each one's end was announced exactly once. */
static gboolean background_stop(Service *s) {
        g_autoptr(GVariant) kill_params = g_variant_ref_sink(g_variant_new("(t)", (guint64) 0));
        g_autoptr(GVariant) no_params = g_variant_ref_sink(g_variant_new("()"));
        guint n = s->background->len;
        gboolean ok;

        if (n == 0)
                return TRUE;
        ok = call_pipelined(s, CW_PROCESS_IFACE, "Kill", n, NULL, kill_params, "(si)");
        ok = call_pipelined(s, CW_PROCESS_IFACE, "Release", n, NULL, no_params, "()") && ok;

        gint64 deadline = deadline_from_now();
        for (guint i = 0; i < n; i++) {
                const char *path = s->background->pdata[i];
                End *e;

                if (!path)
                        continue;
                while (!(e = g_hash_table_lookup(s->ends, path)))
                        if (!iterate(deadline)) {
                                bench_fail("%s: no terminal StateChanged for %s after Kill(0)", s->label, path);
                                return FALSE;
                        }
                if (!g_str_equal(e->event, "killed") || e->status != SIGKILL) {
                        bench_fail("%s: %s ended with %s %d, not killed %d", s->label, path, e->event,
                                   e->status, SIGKILL);
                        ok = FALSE;
                }
                g_hash_table_remove(s->ends, path);
                deadline = deadline_from_now();
        }
        g_ptr_array_set_size(s->background, 0);
        return ok;
}

/* ---- statistics and report ---- */

typedef enum Kind {
        KIND_PING,       /* a */
        KIND_LOCAL,      /* b */
        KIND_SERVICE,    /* c */
        KIND_SERVICE_BG, /* d */
        KIND_PING_BG,    /* a on the service with the background children */
        KIND_ORPHAN,     /* e */
        KIND_ORPHAN_BG,  /* f */
        _KIND_MAX,
} Kind;

/* What is reported: every kind, and for c and d when the Spawn() reply came. */
enum {
        ROW_SERVICE_REPLY = _KIND_MAX,
        ROW_SERVICE_BG_REPLY,
        _ROW_MAX,
};

static const char *const row_label[_ROW_MAX] = {
        [KIND_PING] = "a  Peer.Ping round trip",
        [KIND_LOCAL] = "b  in-process spawn+wait",
        [KIND_SERVICE] = "c  Spawn -> StateChanged",
        [KIND_SERVICE_BG] = "d  c with N children",
        [KIND_PING_BG] = "a' Ping with N children",
        [KIND_ORPHAN] = "e  orphan end (sleep 2 ms)",
        [KIND_ORPHAN_BG] = "f  e with N children",
        [ROW_SERVICE_REPLY] = "c1 (c: Spawn reply)",
        [ROW_SERVICE_BG_REPLY] = "d1 (d: Spawn reply)",
};

typedef struct Stats {
        double p50, p99, min, mean;
} Stats;

static int compare_gint64(gconstpointer a, gconstpointer b) {
        gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
        return x < y ? -1 : x > y;
}

/* Nearest rank, in microseconds. */
static Stats stats_of(GArray *samples) {
        Stats st = {};
        guint n = samples->len;
        double sum = 0;

        if (n == 0)
                return st;
        g_array_sort(samples, compare_gint64);
        gint64 *v = (gint64 *) samples->data;
        for (guint i = 0; i < n; i++)
                sum += (double) v[i];
        st.p50 = (double) v[(n + 1) / 2 - 1] / 1000.0;
        st.p99 = (double) v[(guint) ((n * 99 + 99) / 100) - 1] / 1000.0;
        st.min = (double) v[0] / 1000.0;
        st.mean = sum / n / 1000.0;
        return st;
}

static gint64 measure(Kind k, Service *a, Service *b, gint64 *ret_reply_ns) {
        switch (k) {
        case KIND_PING:
                return measure_ping(a);
        case KIND_LOCAL:
                return measure_local_spawn();
        case KIND_SERVICE:
                return measure_service_spawn(a, ret_reply_ns);
        case KIND_SERVICE_BG:
                return measure_service_spawn(b, ret_reply_ns);
        case KIND_PING_BG:
                return measure_ping(b);
        case KIND_ORPHAN:
                return measure_orphan(a);
        case KIND_ORPHAN_BG:
                return measure_orphan(b);
        default:
                g_assert_not_reached();
        }
}

static gboolean run_rounds(Service *a, Service *b, guint rounds, GArray **samples) {
        for (guint r = 0; r < rounds; r++)
                for (guint j = 0; j < _KIND_MAX; j++) {
                        /* Rotate, so no kind always runs right after the same other kind. */
                        Kind k = (Kind) ((r + j) % _KIND_MAX);
                        gint64 reply = -1;
                        gint64 dt = measure(k, a, b, &reply);
                        if (dt < 0)
                                return FALSE;
                        if (!samples)
                                continue;
                        g_array_append_val(samples[k], dt);
                        if (k == KIND_SERVICE)
                                g_array_append_val(samples[ROW_SERVICE_REPLY], reply);
                        else if (k == KIND_SERVICE_BG)
                                g_array_append_val(samples[ROW_SERVICE_BG_REPLY], reply);
                }
        return TRUE;
}

/* ---- leftovers ---- */

/* GTestDBus's watcher is a fork of this very program: it ends by itself when we do. */
static gboolean is_fork_of_ourselves(pid_t pid) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        g_autofree char *exe = g_file_read_link(path, NULL);
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        return exe && self && g_str_equal(exe, self);
}

/* As a subreaper, whatever the services left behind comes to us. The dbus-daemons
 * (GTestDBus SIGTERMs them without waiting) and their babysitters get @grace_ms to end
 * by themselves; whatever is left after that is killed, reaped and reported. */
static guint reap_leftovers(guint grace_ms) {
        gint64 grace_end = now_ns() + (gint64) grace_ms * 1000000;
        guint killed = 0;

        for (int round = 0; round < 1000; round++) {
                g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
                gboolean kill_now = now_ns() > grace_end;
                const char *name;
                guint n = 0;

                while (dir && (name = g_dir_read_name(dir))) {
                        char path[64], comm[64] = "";
                        g_autofree char *stat = NULL;
                        pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                        int ppid = 0;
                        char state;

                        if (pid <= 0)
                                continue;
                        g_snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
                        if (!g_file_get_contents(path, &stat, NULL, NULL))
                                continue;
                        char *open = strchr(stat, '('), *close = strrchr(stat, ')');
                        if (!open || !close || sscanf(close + 2, "%c %d", &state, &ppid) != 2 ||
                            ppid != getpid())
                                continue;
                        if (state != 'Z' && is_fork_of_ourselves(pid))
                                continue;
                        n++;
                        if (state == 'Z' || !kill_now)
                                continue;
                        g_strlcpy(comm, open + 1, MIN(sizeof(comm), (gsize) (close - open)));
                        if (kill(pid, SIGKILL) == 0 && killed++ < 10)
                                g_printerr("bench-spawn: killed leftover process %d (%s)\n", (int) pid, comm);
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (n == 0)
                        break;
                g_usleep(10 * 1000);
        }
        return killed;
}

/* ---- main ---- */

int main(int argc, char *argv[]) {
        gboolean quick = g_strcmp0(g_getenv("BENCH_QUICK"), "1") == 0;
        gint iterations = 0, children = -1;
        GOptionEntry entries[] = {
                { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "CI smoke run: 100 samples, 500 children", NULL },
                { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "Samples of each kind", "N" },
                { "children", 'c', 0, G_OPTION_ARG_INT, &children, "Background children for (d)", "N" },
                { "exited-only-percent", 0, 0, G_OPTION_ARG_INT, &exited_only_percent,
                  "Background children spawned with events=[\"exited\"] (default 50)", "PCT" },
                {},
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- spawn latency through childwatchd");
        g_autoptr(GError) error = NULL;
        GArray *samples[_ROW_MAX];
        Service a = {}, b = {};
        Stats st[_ROW_MAX];
        struct rlimit rl;

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        if (iterations <= 0)
                iterations = quick ? 100 : 1000;
        if (children < 0)
                children = quick ? 500 : 5000;

        /* Orphans of the services come to us rather than to a pid 1 that reaps late. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                g_printerr("bench-spawn: PR_SET_CHILD_SUBREAPER: %s\n", g_strerror(errno));
                return EXIT_FAILURE;
        }
        (void) signal(SIGPIPE, SIG_IGN);

        /* The service raises its soft limit to the hard one it inherits (through dbus-daemon)
         * from us, and needs one pidfd per child. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            rl.rlim_max < (rlim_t) children + 1024)
                g_printerr("bench-spawn: warning: RLIMIT_NOFILE hard limit %llu is low for %d children\n",
                           (unsigned long long) rl.rlim_max, children);

        /* dbus-daemon passes its environment (ours) on to the services it activates. */
        g_setenv("CHILDWATCH_TEST_ARGS", "--idle-timeout=0", TRUE);
        g_unsetenv("CHILDWATCH_TEST_STATUS_FILE");

        static const char *const true_argv[] = { "/bin/true", NULL };
        true_spawn_params = g_variant_ref_sink(
                g_variant_new("(^as@a{sv})", true_argv, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)));
        static const char *const orphan_argv[] = { "/bin/sh", "-c", "sleep 0.002 & exit 0", NULL };
        orphan_spawn_params = g_variant_ref_sink(
                g_variant_new("(^as@a{sv})", orphan_argv, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)));
        g_timeout_add(50, watchdog_tick, NULL);
        for (int k = 0; k < _ROW_MAX; k++)
                samples[k] = g_array_sized_new(FALSE, FALSE, sizeof(gint64), (guint) iterations);

        gint64 start = now_ns();
        if (!service_up(&a, "service A") || !service_up(&b, "service B"))
                goto out;
        g_printerr("bench-spawn: service A pid %d (no other children), service B pid %d (%d children)\n",
                   (int) a.pid, (int) b.pid, children);

        if (!background_start(&b, (guint) children))
                goto out;
        gint64 t_bg = now_ns();
        g_printerr("bench-spawn: %d background children up in %.2f s\n", children, (t_bg - start) / 1e9);

        /* Warm-up (client cache in the service, page cache, branch predictors); not counted. */
        if (!run_rounds(&a, &b, quick ? 10 : 50, NULL))
                goto out;
        if (!run_rounds(&a, &b, (guint) iterations, samples))
                goto out;
        gint64 t_measured = now_ns();

        if (!background_stop(&b))
                goto out;
        g_printerr("bench-spawn: measured in %.2f s, background stopped in %.2f s\n", (t_measured - t_bg) / 1e9,
                   (now_ns() - t_measured) / 1e9);

        if (a.n_terminal != a.n_spawned || b.n_terminal != b.n_spawned)
                bench_fail("terminal events: A %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                           " spawned, B %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                           a.n_terminal, a.n_spawned, b.n_terminal, b.n_spawned);

        for (int k = 0; k < _ROW_MAX; k++)
                st[k] = stats_of(samples[k]);

        printf("\nspawn latency, %d samples each, interleaved; d and a' with %d other children watched\n",
               iterations, children);
        printf("%-28s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "min us", "mean us");
        for (int k = 0; k < _ROW_MAX; k++)
                printf("%-28s %10.1f %10.1f %10.1f %10.1f\n", row_label[k], st[k].p50, st[k].p99, st[k].min,
                       st[k].mean);

        double overhead = st[KIND_SERVICE].p50 - st[KIND_LOCAL].p50;
        double overhead_bg = st[KIND_SERVICE_BG].p50 - st[KIND_LOCAL].p50;
        printf("\n");
        printf("c/b p50 %.2f  p99 %.2f\n", st[KIND_SERVICE].p50 / st[KIND_LOCAL].p50,
               st[KIND_SERVICE].p99 / st[KIND_LOCAL].p99);
        printf("d/b p50 %.2f  p99 %.2f\n", st[KIND_SERVICE_BG].p50 / st[KIND_LOCAL].p50,
               st[KIND_SERVICE_BG].p99 / st[KIND_LOCAL].p99);
        printf("service overhead c.p50-b.p50 = %.1f us = %.2f Ping round trips (a.p50)\n", overhead,
               overhead / st[KIND_PING].p50);
        printf("with %d children  d.p50-b.p50 = %.1f us = %.2f Ping round trips\n", children, overhead_bg,
               overhead_bg / st[KIND_PING].p50);
        printf("scale d.p50/c.p50 = %.2f  (d.p99/c.p99 = %.2f)\n", st[KIND_SERVICE_BG].p50 / st[KIND_SERVICE].p50,
               st[KIND_SERVICE_BG].p99 / st[KIND_SERVICE].p99);
        printf("orphan end, scale f.p50/e.p50 = %.2f  (f.p99/e.p99 = %.2f)\n",
               st[KIND_ORPHAN_BG].p50 / st[KIND_ORPHAN].p50, st[KIND_ORPHAN_BG].p99 / st[KIND_ORPHAN].p99);
        printf("SUMMARY: overhead %.2f pings (target <= 2), scale with %d children %.2fx (target ~1.0); "
               "orphan end with %d children %.2fx (target ~1.0); "
               "c %.0f/%.0f us, b %.0f/%.0f us, a %.0f us (p50/p99)\n",
               overhead / st[KIND_PING].p50, children, st[KIND_SERVICE_BG].p50 / st[KIND_SERVICE].p50,
               children, st[KIND_ORPHAN_BG].p50 / st[KIND_ORPHAN].p50, st[KIND_SERVICE].p50, st[KIND_SERVICE].p99, st[KIND_LOCAL].p50, st[KIND_LOCAL].p99,
               st[KIND_PING].p50);

out:
        /* After an error, stop the background children the polite way only if service B still
         * answers; otherwise the subreaper cleanup below kills them. */
        if (b.background && b.background->len > 0 && b.conn && measure_ping(&b) >= 0)
                (void) background_stop(&b);
        service_down(&a);
        service_down(&b);
        guint leftovers = reap_leftovers(5000);
        if (leftovers > 0)
                bench_fail("%u leftover processes had to be killed", leftovers);
        for (int k = 0; k < _ROW_MAX; k++)
                g_array_unref(samples[k]);
        g_variant_unref(true_spawn_params);
        g_variant_unref(orphan_spawn_params);
        if (failed)
                g_printerr("bench-spawn: FAILED (see above)\n");
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
