/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-util: the parts every benchmark program needs; see bench-util.h.
 */

#include "bench-util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CW_TEST_SERVICES_DIR
#error "CW_TEST_SERVICES_DIR must point at the generated test service directory"
#endif

static gboolean failed;

/* ---- process setup, errors, time ---- */

void bench_fail(const char *format, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_printerr("%s: %s\n", g_get_prgname(), msg);
        failed = TRUE;
}

gboolean bench_has_failed(void) {
        return failed;
}

int bench_exit_status(void) {
        if (failed)
                g_printerr("%s: FAILED (see above)\n", g_get_prgname());
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

gint64 bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

gint64 bench_deadline_from_now(void) {
        return bench_now_ns() + (gint64) BENCH_WAIT_TIMEOUT_S * G_GINT64_CONSTANT(1000000000);
}

static gboolean watchdog_tick(gpointer data) {
        return G_SOURCE_CONTINUE;
}

/* The watchdog wakes the loop, so a wait with nothing arriving still sees its deadline;
 * having it always armed keeps timer setup out of the timed regions. */
gboolean bench_iterate(gint64 deadline) {
        if (bench_now_ns() > deadline)
                return FALSE;
        g_main_context_iteration(NULL, TRUE);
        return TRUE;
}

gboolean bench_init(const char *name) {
        g_set_prgname(name);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                bench_fail("PR_SET_CHILD_SUBREAPER: %s", g_strerror(errno));
                return FALSE;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        /* Whatever the caller sets per bus, a status file of a test run is not ours. */
        g_unsetenv("CHILDWATCH_TEST_STATUS_FILE");
        g_timeout_add(50, watchdog_tick, NULL);
        return TRUE;
}

static gboolean raise_limit(int resource, const char *name, rlim_t want) {
        struct rlimit rl;

        if (getrlimit(resource, &rl) < 0) {
                bench_fail("getrlimit(%s): %s", name, g_strerror(errno));
                return FALSE;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
                return TRUE;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
                struct rlimit higher = { want, want };
                /* Only root may raise a hard limit; otherwise the soft one goes as far as it can. */
                if (setrlimit(resource, &higher) == 0)
                        return TRUE;
                bench_fail("%s hard limit %llu is too low for this run (need %llu): %s", name,
                           (unsigned long long) rl.rlim_max, (unsigned long long) want, g_strerror(errno));
                return FALSE;
        }
        rl.rlim_cur = want;
        if (setrlimit(resource, &rl) < 0) {
                bench_fail("setrlimit(%s, %llu): %s", name, (unsigned long long) want, g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

/* The service holds a pidfd per child plus its own handful; the margin also covers
 * the benchmark's own connections. NPROC counts every process of our uid, including
 * what the other programs on this machine run (root is exempt anyway). */
#define NOFILE_MARGIN 1024
#define NPROC_MARGIN 4096

gboolean bench_raise_limits(guint children) {
        gboolean ok = raise_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t) children + NOFILE_MARGIN);
        return raise_limit(RLIMIT_NPROC, "RLIMIT_NPROC", (rlim_t) children + NPROC_MARGIN) && ok;
}

/* How many children the hard limit of @resource leaves room for, after trying to raise it. */
static guint fit_limit(int resource, const char *name, guint wanted, rlim_t margin) {
        struct rlimit rl;
        rlim_t want = (rlim_t) wanted + margin;

        if (getrlimit(resource, &rl) < 0 || rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want)
                return wanted;
        struct rlimit higher = { MAX(rl.rlim_cur, MIN(want, rl.rlim_max)), want };
        if (setrlimit(resource, &higher) == 0)
                return wanted;
        guint fit = rl.rlim_max > margin ? (guint) MIN(rl.rlim_max - margin, (rlim_t) wanted) : 0;
        g_printerr("%s: warning: %s hard limit %llu (cannot raise it: %s) leaves room for %u of %u children\n",
                   g_get_prgname(), name, (unsigned long long) rl.rlim_max, g_strerror(errno), fit, wanted);
        return fit;
}

guint bench_children_within_limits(guint wanted) {
        guint fit = fit_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", wanted, NOFILE_MARGIN);
        return fit_limit(RLIMIT_NPROC, "RLIMIT_NPROC", fit, NPROC_MARGIN);
}

/* ---- one private bus with one service ---- */

static void end_free(gpointer p) {
        BenchEnd *e = p;
        g_free(e->event);
        g_free(e);
}

static gboolean event_is_terminal(const char *event) {
        return g_str_equal(event, "exited") || g_str_equal(event, "killed") || g_str_equal(event, "dumped") ||
               g_str_equal(event, "vanished");
}

static void on_state_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        gint64 t = bench_now_ns(); /* first thing: this is the end of a timed region */
        BenchService *s = userdata;
        const char *event;
        int status;

        if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(si)"))) {
                bench_fail("%s: StateChanged with signature %s", s->label, g_variant_get_type_string(params));
                return;
        }
        g_variant_get(params, "(&si)", &event, &status);
        if (!event_is_terminal(event)) {
                if (!s->on_event)
                        bench_fail("%s: unexpected StateChanged(%s, %d) for %s", s->label, event, status, path);
                else
                        s->on_event(s, path, event, status, t, s->on_event_userdata);
                return;
        }
        s->n_terminal++;
        s->last_terminal_ns = t;
        if (g_hash_table_contains(s->ends, path)) {
                bench_fail("%s: a second terminal StateChanged(%s) for %s", s->label, event, path);
                return;
        }
        BenchEnd *e = g_new0(BenchEnd, 1);
        e->event = g_strdup(event);
        e->status = status;
        e->seen_ns = t;
        g_hash_table_insert(s->ends, g_strdup(path), e);
        if (s->on_event)
                s->on_event(s, path, event, status, t, s->on_event_userdata);
}

pid_t bench_name_owner_pid(BenchService *s, const char *name) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        guint32 pid;

        r = g_dbus_connection_call_sync(s->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                        g_variant_new("(s)", name), G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE, BENCH_CALL_TIMEOUT_MS, NULL, &error);
        if (!r) {
                bench_fail("%s: cannot learn the pid of %s: %s", s->label, name, error->message);
                return 0;
        }
        g_variant_get(r, "(u)", &pid);
        return (pid_t) pid;
}

gboolean bench_service_learn_pid(BenchService *s) {
        s->pid = bench_name_owner_pid(s, BENCH_CW_NAME);
        return s->pid > 0;
}

gboolean bench_service_up(BenchService *s, const char *label, const BenchServiceOptions *opts) {
        static const BenchServiceOptions defaults = {};
        g_autoptr(GError) error = NULL;

        if (!opts)
                opts = &defaults;
        s->label = label;
        s->ends = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, end_free);
        s->background = g_ptr_array_new_with_free_func(g_free);
        s->background_pids = g_array_new(FALSE, TRUE, sizeof(pid_t));

        /* dbus-daemon passes the environment it started with (ours, now) on to the services
         * it activates: this is how each bus gets its own daemon arguments. */
        g_setenv("CHILDWATCH_TEST_ARGS", opts->daemon_args ?: "--idle-timeout=0", TRUE);
        s->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
        g_test_dbus_add_service_dir(s->bus, CW_TEST_SERVICES_DIR);
        if (opts->extra_service_dir)
                g_test_dbus_add_service_dir(s->bus, opts->extra_service_dir);
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
        s->subscription = g_dbus_connection_signal_subscribe(s->conn, BENCH_CW_NAME, BENCH_CW_PROCESS_IFACE,
                                                             "StateChanged", NULL, NULL,
                                                             G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed, s,
                                                             NULL);
        if (opts->no_activate)
                return TRUE;

        /* Ping activates the service; then the bus tells us its pid. */
        return bench_ping(s) >= 0 && bench_service_learn_pid(s);
}

static gboolean pid_alive(pid_t pid) {
        return kill(pid, 0) == 0 || errno == EPERM;
}

static char proc_state(pid_t pid) {
        g_autofree char *stat = NULL;
        char path[64];

        g_snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (!g_file_get_contents(path, &stat, NULL, NULL))
                return 0;
        char *close = strrchr(stat, ')');
        return close && close[1] ? close[2] : 0;
}

void bench_stop_pid(pid_t pid, const char *what) {
        if (pid <= 0 || !pid_alive(pid))
                return;
        (void) kill(pid, SIGTERM);
        gint64 deadline = bench_deadline_from_now();
        /* A zombie counts as alive for kill(0): it is done all the same, and whoever is
         * its parent (its babysitter, or we as subreaper) reaps it. */
        while (pid_alive(pid)) {
                char state = proc_state(pid);
                if (state == 'Z' || state == 0)
                        return;
                if (bench_now_ns() > deadline) {
                        bench_fail("%s (pid %d) did not end within %d s of SIGTERM", what, (int) pid,
                                   BENCH_WAIT_TIMEOUT_S);
                        return;
                }
                g_usleep(1000);
        }
}

void bench_service_down(BenchService *s) {
        /* SIGTERM is the service's clean exit; the bus going away would also end it. */
        bench_stop_pid(s->pid, s->label ?: "service");
        if (s->subscription)
                g_dbus_connection_signal_unsubscribe(s->conn, s->subscription);
        s->subscription = 0;
        if (s->conn)
                (void) g_dbus_connection_close_sync(s->conn, NULL, NULL);
        g_clear_object(&s->conn);
        if (s->bus)
                g_test_dbus_down(s->bus);
        g_clear_object(&s->bus);
        g_clear_pointer(&s->ends, g_hash_table_unref);
        g_clear_pointer(&s->background, g_ptr_array_unref);
        g_clear_pointer(&s->background_pids, g_array_unref);
        s->pid = 0;
}

/* ---- calls ---- */

void bench_call_clear(BenchCall *c) {
        g_clear_pointer(&c->reply, g_variant_unref);
        g_clear_error(&c->error);
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        gint64 t = bench_now_ns();
        BenchCall *c = userdata;

        c->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);
        c->done = TRUE;
        c->done_ns = t;
}

void bench_call_start(BenchService *s, const char *dest, const char *path, const char *iface,
                      const char *method, GVariant *params, const char *reply_type, BenchCall *c) {
        *c = (BenchCall) {};
        g_dbus_connection_call(s->conn, dest ?: BENCH_CW_NAME, path, iface, method, params,
                               reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                               BENCH_CALL_TIMEOUT_MS, NULL, on_call_done, c);
}

gboolean bench_call_wait(BenchService *s, BenchCall *c, const char *what) {
        gint64 deadline = bench_deadline_from_now();

        while (!c->done)
                if (!bench_iterate(deadline)) {
                        /* The callback still points at @c: it must outlive us, so keep spinning
                         * until GDBus's own timeout (BENCH_CALL_TIMEOUT_MS) fires. */
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

gboolean bench_call_sync(BenchService *s, const char *path, const char *iface, const char *method,
                         GVariant *params, const char *reply_type, GVariant **ret_reply) {
        BenchCall c;
        gboolean ok;

        bench_call_start(s, NULL, path, iface, method, params, reply_type, &c);
        ok = bench_call_wait(s, &c, method);
        if (ok && ret_reply)
                *ret_reply = g_steal_pointer(&c.reply);
        bench_call_clear(&c);
        return ok;
}

gint64 bench_ping(BenchService *s) {
        BenchCall c;
        gint64 t0 = bench_now_ns();

        bench_call_start(s, NULL, BENCH_CW_MANAGER_PATH, BENCH_PEER_IFACE, "Ping", NULL, "()", &c);
        gboolean ok = bench_call_wait(s, &c, "Ping");
        gint64 dt = c.done_ns - t0;
        bench_call_clear(&c);
        return ok ? dt : -1;
}

gboolean bench_release(BenchService *s, const char *path) {
        return bench_call_sync(s, path, BENCH_CW_PROCESS_IFACE, "Release", NULL, "()", NULL);
}

typedef struct Pipeline {
        BenchService *s;
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
                guint32 pid;

                p->s->n_spawned++;
                g_variant_get(reply, "(&ou)", &path, &pid);
                g_free(p->s->background->pdata[pc->index]);
                p->s->background->pdata[pc->index] = g_strdup(path);
                g_array_index(p->s->background_pids, pid_t, pc->index) = (pid_t) pid;
        }
}

gboolean bench_call_pipelined(BenchService *s, const char *iface, const char *method, guint n,
                              GVariant *(*make_params)(guint i, guint n), GVariant *params,
                              const char *reply_type) {
        Pipeline p = { .s = s, .method = method };
        gint64 deadline = bench_deadline_from_now();
        guint issued = 0;

        while (issued < n || p.in_flight > 0) {
                while (issued < n && p.in_flight < BENCH_PIPELINE_WINDOW) {
                        const char *path = make_params ? BENCH_CW_MANAGER_PATH : s->background->pdata[issued];
                        PipelineCall *pc;

                        if (!path) { /* its Spawn failed, already reported */
                                issued++;
                                continue;
                        }
                        pc = g_new0(PipelineCall, 1);
                        pc->p = &p;
                        pc->index = issued;
                        g_dbus_connection_call(s->conn, BENCH_CW_NAME, path, iface, method,
                                               make_params ? make_params(issued, n) : g_variant_ref(params),
                                               G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE,
                                               BENCH_CALL_TIMEOUT_MS, NULL, on_pipeline_call_done, pc);
                        p.in_flight++;
                        issued++;
                }
                guint before = p.in_flight;
                if (!bench_iterate(deadline)) {
                        /* The callbacks point at @p: wait out GDBus's own call timeouts. */
                        bench_fail("%s: %s made no progress for %d s", s->label, method, BENCH_WAIT_TIMEOUT_S);
                        while (p.in_flight > 0)
                                g_main_context_iteration(NULL, TRUE);
                        return FALSE;
                }
                if (p.in_flight < before)
                        deadline = bench_deadline_from_now();
        }
        return p.n_failed == 0;
}

/* ---- the background population ---- */

static guint exited_only_percent;

static GVariant *sleep_spawn_params(guint i, guint n) {
        static const char *const argv[] = { "sleep", "3600", NULL };
        static const char *const exited_only[] = { "exited", NULL };
        g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{sv}"));

        /* Exit-only children are watched through epoll on their pidfd; the others also
         * report stop/continue and so take the service's SIGCHLD path. */
        if ((guint64) i * 100 < (guint64) n * exited_only_percent)
                g_variant_builder_add(&options, "{sv}", "events", g_variant_new_strv(exited_only, -1));
        return g_variant_new("(^as@a{sv})", argv, g_variant_builder_end(&options));
}

gboolean bench_background_start(BenchService *s, guint n, guint exited_only_pct) {
        exited_only_percent = exited_only_pct;
        g_ptr_array_set_size(s->background, (gint) n);
        g_array_set_size(s->background_pids, n);
        return bench_call_pipelined(s, BENCH_CW_MANAGER_IFACE, "Spawn", n, sleep_spawn_params, NULL, "(ou)");
}

gboolean bench_background_release(BenchService *s, const char *event, int status) {
        g_autoptr(GVariant) no_params = g_variant_ref_sink(g_variant_new("()"));
        guint n = s->background->len;
        gboolean ok;

        if (n == 0)
                return TRUE;
        ok = bench_call_pipelined(s, BENCH_CW_PROCESS_IFACE, "Release", n, NULL, no_params, "()");

        gint64 deadline = bench_deadline_from_now();
        for (guint i = 0; i < n; i++) {
                const char *path = s->background->pdata[i];
                BenchEnd *e;

                if (!path)
                        continue;
                while (!(e = g_hash_table_lookup(s->ends, path)))
                        if (!bench_iterate(deadline)) {
                                bench_fail("%s: no terminal StateChanged for %s", s->label, path);
                                return FALSE;
                        }
                if (!g_str_equal(e->event, event) || e->status != status) {
                        bench_fail("%s: %s ended with %s %d, not %s %d", s->label, path, e->event, e->status,
                                   event, status);
                        ok = FALSE;
                }
                g_hash_table_remove(s->ends, path);
                deadline = bench_deadline_from_now();
        }
        g_ptr_array_set_size(s->background, 0);
        g_array_set_size(s->background_pids, 0);
        return ok;
}

gboolean bench_background_stop(BenchService *s) {
        g_autoptr(GVariant) kill_params = g_variant_ref_sink(g_variant_new("(t)", (guint64) 0));
        gboolean ok = TRUE;

        if (s->background->len > 0)
                ok = bench_call_pipelined(s, BENCH_CW_PROCESS_IFACE, "Kill", s->background->len, NULL,
                                          kill_params, "(si)");
        return bench_background_release(s, "killed", SIGKILL) && ok;
}

/* ---- /proc ---- */

gint64 bench_proc_rss_kib(pid_t pid) {
        g_autofree char *status = NULL;
        char path[64];

        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (g_file_get_contents(path, &status, NULL, NULL)) {
                const char *line = strstr(status, "\nVmRSS:");
                if (line)
                        return g_ascii_strtoll(line + strlen("\nVmRSS:"), NULL, 10);
        }
        bench_fail("no VmRSS in %s", path);
        return -1;
}

gint64 bench_proc_cpu_ns(pid_t pid) {
        g_autofree char *stat = NULL;
        unsigned long long utime, stime;
        char path[64];

        g_snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (g_file_get_contents(path, &stat, NULL, NULL)) {
                /* After the comm field, which may contain anything: state is field 3,
                 * utime and stime are fields 14 and 15. */
                const char *close = strrchr(stat, ')');
                if (close && sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                                    &stime) == 2)
                        return (gint64) ((utime + stime) * (1000000000ULL / (unsigned long long) sysconf(_SC_CLK_TCK)));
        }
        bench_fail("cannot read utime/stime from %s", path);
        return -1;
}

/* ---- statistics and results ---- */

static int compare_gint64(gconstpointer a, gconstpointer b) {
        gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
        return x < y ? -1 : x > y;
}

GArray *bench_samples_new(guint reserve) {
        return g_array_sized_new(FALSE, FALSE, sizeof(gint64), reserve);
}

BenchStats bench_stats_of(GArray *samples) {
        BenchStats st = { .n = samples->len };
        guint n = samples->len;
        double sum = 0;

        if (n == 0)
                return st;
        g_array_sort(samples, compare_gint64);
        gint64 *v = (gint64 *) samples->data;
        for (guint i = 0; i < n; i++)
                sum += (double) v[i];
        st.p50 = (double) v[(n + 1) / 2 - 1] / 1000.0;
        st.p99 = (double) v[(guint) (((guint64) n * 99 + 99) / 100) - 1] / 1000.0;
        st.min = (double) v[0] / 1000.0;
        st.mean = sum / n / 1000.0;
        return st;
}

void bench_result(const char *name, double value, const char *unit) {
        if (!isfinite(value)) {
                g_printerr("%s: warning: %s is not a number, reported as skipped\n", g_get_prgname(), name);
                bench_result_skipped(name);
                return;
        }
        /* Plain numbers only (no exponent): the report script parses them as such. */
        if (value == floor(value) && fabs(value) < 1e15)
                printf("@result %s %.0f %s\n", name, value, unit);
        else
                printf("@result %s %.3f %s\n", name, value, unit);
        fflush(stdout);
}

void bench_result_skipped(const char *name) {
        printf("@result %s skipped -\n", name);
        fflush(stdout);
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

guint bench_reap_leftovers(guint grace_ms) {
        gint64 grace_end = bench_now_ns() + (gint64) grace_ms * 1000000;
        guint killed = 0;

        for (int round = 0; round < 1000; round++) {
                g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
                gboolean kill_now = bench_now_ns() > grace_end;
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
                                g_printerr("%s: killed leftover process %d (%s)\n", g_get_prgname(), (int) pid,
                                           comm);
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (n == 0)
                        break;
                g_usleep(10 * 1000);
        }
        return killed;
}
