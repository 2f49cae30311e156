/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-load: how childwatchd behaves under load, at rest and when it starts.
 *
 *  1. Idle wakeups. A service watching 100 sleeping children (half exit-only, half with
 *     stop/continue events), left alone for 10 s: its context switches per second (each
 *     is a wakeup of a single-threaded process that blocks in epoll), and its spawn
 *     helper's. Goal 0: nothing may poll.
 *  2. Throughput. N = 1, 4, 16 clients, each with its own bus connection and thread, each
 *     with one spawn in flight: Spawn(/bin/true) -> its terminal StateChanged, then
 *     Release(), whose reply is not waited for (the next Spawn follows it on the same
 *     connection and the service handles a connection's calls in order). A spawn counts
 *     only if its terminal event arrived inside the phase. Against it the in-process rate
 *     at the same concurrency: N threads, each posix_spawn + pidfd_open + waitid in a
 *     loop. Short phases of the two kinds alternate, several rounds per concurrency, so
 *     the drift of this shared machine falls on both; the ratio is the median of the
 *     per-round ratios. The clients use sd-bus, not GDBus: GDBus spent ~480 µs of client
 *     CPU per spawn here (its worker thread hands every message to the caller's main
 *     context), three times the service's own cost, and on two cores a client that heavy
 *     measures mostly itself. All N clients subscribe to StateChanged, which the service
 *     broadcasts on a session bus (API.md): each end reaches N connections, as it would
 *     with N real clients.
 *  3. Activation. On a private bus whose activation files start the programs directly,
 *     as the installed file does (the tests' wrapper adds a shell): the time from a
 *     Peer.Ping to the not yet running service until its reply, the service stopped again
 *     after each sample. Against it, in the same rounds, a Ping to the running service
 *     and the cold start of a trivial sd-bus service that only owns a name (this program
 *     with --trivial-service).
 *
 * Every figure goes out as an "@result" line (bench-util) besides tables for humans.
 * Every wait is bounded; any error makes the exit status non-zero; nothing is asserted
 * about the numbers.
 */

#include <errno.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#ifndef CW_DAEMON_PATH
#error "CW_DAEMON_PATH must name this build's childwatchd"
#endif

#define TRIVIAL_NAME "org.childwatch.BenchTrivial1"
#define NS_PER_S G_GINT64_CONSTANT(1000000000)
#define MAX_CLIENTS 16

extern char **environ;

static const guint concurrency[] = { 1, 4, MAX_CLIENTS };

/* bench_stats_of() takes gint64 samples in ns and reports in µs (/1000): a figure stored
 * in thousandths comes back in its own unit. */
static void add_sample(GArray *samples, double value) {
        gint64 v = (gint64) (value * 1000.0);
        g_array_append_val(samples, v);
}

/* ---- 1. idle wakeups ---- */

typedef struct Switches {
        guint64 voluntary, nonvoluntary, on_cpu;
} Switches;

/* Summed over the threads of @pid: context switches from status, and how often a thread
 * was put on a CPU (the third field of schedstat). */
static gboolean switches_of(pid_t pid, Switches *ret) {
        g_autofree char *task_dir = g_strdup_printf("/proc/%d/task", (int) pid);
        g_autoptr(GDir) dir = g_dir_open(task_dir, 0, NULL);
        Switches sw = {};
        const char *tid;

        if (!dir)
                return FALSE;
        while ((tid = g_dir_read_name(dir))) {
                g_autofree char *status_path = g_build_filename(task_dir, tid, "status", NULL);
                g_autofree char *sched_path = g_build_filename(task_dir, tid, "schedstat", NULL);
                g_autofree char *status = NULL, *sched = NULL;
                const char *p;

                if (!g_file_get_contents(status_path, &status, NULL, NULL) ||
                    !g_file_get_contents(sched_path, &sched, NULL, NULL))
                        return FALSE;
                if ((p = strstr(status, "\nvoluntary_ctxt_switches:")))
                        sw.voluntary += g_ascii_strtoull(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
                if ((p = strstr(status, "\nnonvoluntary_ctxt_switches:")))
                        sw.nonvoluntary +=
                                g_ascii_strtoull(p + strlen("\nnonvoluntary_ctxt_switches:"), NULL, 10);
                g_auto(GStrv) f = g_strsplit(g_strstrip(sched), " ", -1);
                if (g_strv_length(f) >= 3)
                        sw.on_cpu += g_ascii_strtoull(f[2], NULL, 10);
        }
        *ret = sw;
        return TRUE;
}

/* The service's spawn helper: its child that runs the same executable. */
static pid_t helper_of(pid_t service) {
        g_autofree char *exe_path = g_strdup_printf("/proc/%d/exe", (int) service);
        g_autofree char *children_path =
                g_strdup_printf("/proc/%d/task/%d/children", (int) service, (int) service);
        g_autofree char *service_exe = g_file_read_link(exe_path, NULL);
        g_autofree char *children = NULL;

        if (!service_exe || !g_file_get_contents(children_path, &children, NULL, NULL))
                return 0;
        g_auto(GStrv) pids = g_strsplit(g_strstrip(children), " ", -1);
        for (guint i = 0; pids[i]; i++) {
                g_autofree char *path = g_strdup_printf("/proc/%s/exe", pids[i]);
                g_autofree char *exe = g_file_read_link(path, NULL);
                if (exe && g_str_equal(exe, service_exe))
                        return (pid_t) g_ascii_strtoll(pids[i], NULL, 10);
        }
        return 0;
}

static gboolean run_idle(BenchService *s, guint n_children, gint64 settle_ns, gint64 idle_ns) {
        pid_t helper = helper_of(s->pid);
        Switches s0, s1, h0 = {}, h1 = {};

        if (!bench_background_start(s, n_children, 50))
                return FALSE;
        /* Let whatever the spawns armed (a sweep, an orphan scan) run out first. */
        g_usleep((gulong) (settle_ns / 1000));
        gint64 t0 = bench_now_ns();
        gboolean ok = switches_of(s->pid, &s0) && (helper <= 0 || switches_of(helper, &h0));
        /* Nobody talks to the service meanwhile, and our connection only queues. */
        g_usleep((gulong) (idle_ns / 1000));
        ok = ok && switches_of(s->pid, &s1) && (helper <= 0 || switches_of(helper, &h1));
        double secs = (double) (bench_now_ns() - t0) / NS_PER_S;
        if (!ok)
                bench_fail("cannot read the context switches of the service (%d) or its helper (%d)",
                           (int) s->pid, (int) helper);
        else {
                guint64 vol = s1.voluntary - s0.voluntary, nonvol = s1.nonvoluntary - s0.nonvoluntary;
                guint64 helper_sw = (h1.voluntary + h1.nonvoluntary) - (h0.voluntary + h0.nonvoluntary);

                printf("\nidle: %u children watched, %.1f s without calls\n", n_children, secs);
                printf("  service pid %d: %" G_GUINT64_FORMAT " voluntary + %" G_GUINT64_FORMAT
                       " involuntary context switches, on a CPU %" G_GUINT64_FORMAT
                       " times: %.2f wakeups/s\n",
                       (int) s->pid, vol, nonvol, s1.on_cpu - s0.on_cpu, (double) (vol + nonvol) / secs);
                printf("  spawn helper pid %d: %" G_GUINT64_FORMAT " context switches: %.2f wakeups/s\n",
                       (int) helper, helper_sw, (double) helper_sw / secs);
                bench_result("idle.children", n_children, "count");
                bench_result("idle.seconds", secs, "s");
                bench_result("idle.wakeups_per_s", (double) (vol + nonvol) / secs, "1/s");
                bench_result("idle.helper_wakeups_per_s", (double) helper_sw / secs, "1/s");
        }
        return bench_background_stop(s) && ok;
}

/* ---- 2. throughput ---- */

/* One client: its own sd-bus connection, driven by its own thread during a phase. Errors
 * are kept here and reported by the main thread after the join. */
typedef struct Client {
        guint index;
        sd_bus *bus;
        sd_bus_slot *match;
        GThread *thread;

        gint64 deadline;        /* no Spawn() is issued after it, and no end after it counts */
        gboolean reply_pending; /* a Spawn() without its reply */
        char *current;          /* the object of the spawn in flight, once the reply came */
        guint releases_pending;
        guint64 completed;      /* ends inside the phase */
        guint64 progress;       /* anything that came back, for the bounded wait */
        char *error;            /* the first error of the phase */
} Client;

static void client_error(Client *c, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void client_error(Client *c, const char *format, ...) {
        va_list ap;

        if (c->error)
                return;
        va_start(ap, format);
        c->error = g_strdup_vprintf(format, ap);
        va_end(ap);
}

static void client_spawn(Client *c);

static int client_on_release_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Client *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->releases_pending--;
        c->progress++;
        if (e)
                client_error(c, "Release: %s", e->message);
        return 0;
}

/* The end of our spawn in flight: count it, release its object, start the next one. */
static void client_complete(Client *c, gint64 ended_ns) {
        int r;

        if (ended_ns <= c->deadline)
                c->completed++;
        r = sd_bus_call_method_async(c->bus, NULL, BENCH_CW_NAME, c->current, BENCH_CW_PROCESS_IFACE,
                                     "Release", client_on_release_reply, c, NULL);
        if (r < 0)
                client_error(c, "Release: %s", g_strerror(-r));
        else
                c->releases_pending++;
        g_clear_pointer(&c->current, g_free);
        if (bench_now_ns() < c->deadline && !c->error)
                client_spawn(c);
}

static int client_on_spawn_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Client *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;
        int r;

        c->reply_pending = FALSE;
        c->progress++;
        if (e) {
                client_error(c, "Spawn: %s", e->message);
                return 0;
        }
        r = sd_bus_message_read(m, "ou", &path, NULL);
        if (r < 0) {
                client_error(c, "Spawn reply: %s", g_strerror(-r));
                return 0;
        }
        /* sd-bus dispatches in arrival order, and the service replies before it can
         * announce the end: no terminal event of ours has been missed. */
        c->current = g_strdup(path);
        return 0;
}

static gboolean event_is_terminal(const char *event) {
        return g_str_equal(event, "exited") || g_str_equal(event, "killed") ||
               g_str_equal(event, "dumped") || g_str_equal(event, "vanished");
}

static int client_on_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        gint64 t = bench_now_ns(); /* first thing: the end of a spawn */
        Client *c = userdata;
        const char *event;
        int status, r;

        /* Broadcast: most are other clients' spawns. */
        if (!c->current || g_strcmp0(sd_bus_message_get_path(m), c->current) != 0)
                return 0;
        r = sd_bus_message_read(m, "si", &event, &status);
        if (r < 0) {
                client_error(c, "StateChanged of %s: %s", c->current, g_strerror(-r));
                return 0;
        }
        if (!event_is_terminal(event))
                return 0;
        if (!g_str_equal(event, "exited") || status != 0)
                client_error(c, "/bin/true (%s) ended with %s %d", c->current, event, status);
        client_complete(c, t);
        return 0;
}

static void client_spawn(Client *c) {
        int r = sd_bus_call_method_async(c->bus, NULL, BENCH_CW_NAME, BENCH_CW_MANAGER_PATH,
                                         BENCH_CW_MANAGER_IFACE, "Spawn", client_on_spawn_reply, c,
                                         "asa{sv}", 1, "/bin/true", 0);
        if (r < 0)
                client_error(c, "Spawn: %s", g_strerror(-r));
        else
                c->reply_pending = TRUE;
}

static gpointer client_run_phase(gpointer data) {
        Client *c = data;
        int r;

        client_spawn(c);
        /* Until the spawn in flight has ended and every Release() is answered; bounded by
         * BENCH_WAIT_TIMEOUT_S without progress. */
        guint64 seen = c->progress;
        gint64 give_up = MAX(c->deadline, bench_now_ns()) + BENCH_WAIT_TIMEOUT_S * NS_PER_S;
        while (!c->error && (c->reply_pending || c->current || c->releases_pending > 0)) {
                r = sd_bus_process(c->bus, NULL);
                if (r < 0) {
                        client_error(c, "connection: %s", g_strerror(-r));
                        break;
                }
                if (c->progress != seen) {
                        seen = c->progress;
                        give_up = MAX(c->deadline, bench_now_ns()) + BENCH_WAIT_TIMEOUT_S * NS_PER_S;
                }
                if (r > 0)
                        continue;
                if (bench_now_ns() > give_up) {
                        client_error(c,
                                     "no progress for %d s (reply pending %d, in flight %s, "
                                     "%u releases pending)",
                                     BENCH_WAIT_TIMEOUT_S, c->reply_pending, c->current ?: "-",
                                     c->releases_pending);
                        break;
                }
                r = sd_bus_wait(c->bus, 100 * 1000);
                if (r < 0 && r != -EINTR) {
                        client_error(c, "waiting: %s", g_strerror(-r));
                        break;
                }
        }
        return NULL;
}

static void client_free(Client *c) {
        if (!c)
                return;
        sd_bus_slot_unref(c->match);
        sd_bus_flush_close_unref(c->bus);
        g_free(c->current);
        g_free(c->error);
        g_free(c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Client, client_free)

static Client *client_new(BenchService *s, guint index) {
        g_autoptr(Client) c = g_new0(Client, 1);
        int r;

        c->index = index;
        r = sd_bus_new(&c->bus);
        if (r >= 0)
                r = sd_bus_set_address(c->bus, g_test_dbus_get_bus_address(s->bus));
        if (r >= 0)
                r = sd_bus_set_bus_client(c->bus, 1);
        if (r >= 0)
                r = sd_bus_start(c->bus);
        /* No sender in the match: sd-bus would compare the well-known name with the
         * unique name of each signal's sender locally. Only childwatchd sends these. */
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &c->match, NULL, NULL, BENCH_CW_PROCESS_IFACE,
                                        "StateChanged", client_on_state_changed, c);
        if (r < 0) {
                bench_fail("client %u: cannot connect and subscribe: %s", index, g_strerror(-r));
                return NULL;
        }
        return g_steal_pointer(&c);
}

typedef struct PhaseCost {
        gint64 service_ns, daemon_ns, client_ns;
} PhaseCost;

static gint64 self_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (gint64) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* @n clients for @duration_ns: spawns per second; adds the spawns and each party's CPU
 * time to @cost and @completed. -1 on error. */
static double service_phase(Client **clients, guint n, gint64 duration_ns, pid_t service, pid_t daemon,
                            PhaseCost *cost, guint64 *completed) {
        gint64 cpu_service = bench_proc_cpu_ns(service), cpu_daemon = bench_proc_cpu_ns(daemon);
        gint64 cpu_self = self_cpu_ns();
        gint64 deadline = bench_now_ns() + duration_ns;
        guint64 done = 0;
        gboolean ok = TRUE;

        for (guint i = 0; i < n; i++) {
                clients[i]->deadline = deadline;
                clients[i]->completed = 0;
                clients[i]->thread = g_thread_new("bench-client", client_run_phase, clients[i]);
        }
        for (guint i = 0; i < n; i++) {
                g_thread_join(g_steal_pointer(&clients[i]->thread));
                done += clients[i]->completed;
                if (clients[i]->error) {
                        bench_fail("client %u: %s", i, clients[i]->error);
                        ok = FALSE;
                }
        }
        cost->service_ns += bench_proc_cpu_ns(service) - cpu_service;
        cost->daemon_ns += bench_proc_cpu_ns(daemon) - cpu_daemon;
        cost->client_ns += self_cpu_ns() - cpu_self;
        *completed += done;
        return ok ? (double) done / ((double) duration_ns / NS_PER_S) : -1;
}

/* The in-process rate: what a program that spawns for itself gets. */
typedef struct Spawner {
        gint64 deadline;
        guint64 completed;
        char *error;
} Spawner;

static char *spawn_true_and_wait(void) {
        static char *const argv[] = { (char *) "/bin/true", NULL };
        siginfo_t si = {};
        pid_t pid;
        int fd, r;

        r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
        if (r != 0)
                return g_strdup_printf("posix_spawn(/bin/true): %s", g_strerror(r));
        fd = pidfd_open(pid, 0);
        if (fd < 0) {
                int saved = errno;
                (void) waitpid(pid, NULL, 0);
                return g_strdup_printf("pidfd_open(%d): %s", (int) pid, g_strerror(saved));
        }
        while ((r = waitid(P_PIDFD, (id_t) fd, &si, WEXITED)) < 0 && errno == EINTR)
                ;
        int saved = errno;
        (void) close(fd);
        if (r < 0)
                return g_strdup_printf("waitid(P_PIDFD): %s", g_strerror(saved));
        if (si.si_code != CLD_EXITED || si.si_status != 0)
                return g_strdup_printf("/bin/true ended with code %d status %d", si.si_code, si.si_status);
        return NULL;
}

static gpointer spawner_run(gpointer data) {
        Spawner *s = data;

        while (!s->error && bench_now_ns() < s->deadline) {
                s->error = spawn_true_and_wait();
                if (!s->error && bench_now_ns() <= s->deadline)
                        s->completed++;
        }
        return NULL;
}

static double inprocess_phase(guint n, gint64 duration_ns) {
        Spawner spawners[MAX_CLIENTS] = {};
        GThread *threads[MAX_CLIENTS];
        gint64 deadline = bench_now_ns() + duration_ns;
        guint64 done = 0;
        gboolean ok = TRUE;

        g_assert(n <= MAX_CLIENTS);
        for (guint i = 0; i < n; i++) {
                spawners[i].deadline = deadline;
                threads[i] = g_thread_new("bench-spawner", spawner_run, &spawners[i]);
        }
        for (guint i = 0; i < n; i++) {
                g_thread_join(threads[i]);
                done += spawners[i].completed;
                if (spawners[i].error) {
                        bench_fail("in-process spawner %u: %s", i, spawners[i].error);
                        g_free(spawners[i].error);
                        ok = FALSE;
                }
        }
        return ok ? (double) done / ((double) duration_ns / NS_PER_S) : -1;
}

/* The clients exist only for their own concurrency level: a connection that is subscribed
 * receives every broadcast end, so idle ones would load the bus. */
static gboolean run_concurrency(BenchService *s, pid_t daemon, guint n, guint rounds, gint64 phase_ns) {
        g_autoptr(GArray) svc = bench_samples_new(rounds);
        g_autoptr(GArray) local = bench_samples_new(rounds);
        g_autoptr(GArray) ratio = bench_samples_new(rounds);
        Client *clients[MAX_CLIENTS] = {};
        PhaseCost cost = {}, warmup_cost = {};
        guint64 completed = 0, warmup_completed = 0;
        gboolean ok = TRUE;

        for (guint i = 0; i < n && ok; i++)
                ok = (clients[i] = client_new(s, i)) != NULL;
        /* Warm-up, not counted: the service's record of each new client (its uid is asked
         * from the bus once), page cache. */
        ok = ok &&
             service_phase(clients, n, phase_ns / 5, s->pid, daemon, &warmup_cost, &warmup_completed) >= 0;

        for (guint r = 0; ok && r < rounds; r++) {
                double sv, lo;
                /* Alternate which goes first, so neither always follows the other. */
                if (r % 2 == 0) {
                        sv = service_phase(clients, n, phase_ns, s->pid, daemon, &cost, &completed);
                        lo = inprocess_phase(n, phase_ns);
                } else {
                        lo = inprocess_phase(n, phase_ns);
                        sv = service_phase(clients, n, phase_ns, s->pid, daemon, &cost, &completed);
                }
                ok = sv >= 0 && lo > 0;
                if (!ok)
                        break;
                add_sample(svc, sv);
                add_sample(local, lo);
                add_sample(ratio, sv / lo);
        }
        for (guint i = 0; i < n; i++)
                client_free(clients[i]);
        if (!ok)
                return FALSE;

        BenchStats st_s = bench_stats_of(svc), st_l = bench_stats_of(local), st_q = bench_stats_of(ratio);
        double per = completed > 0 ? 1000.0 * (double) completed : 1; /* ns -> µs per spawn */
        double max_q = g_array_index(ratio, gint64, ratio->len - 1) / 1000.0;
        printf("%8u %14.0f %14.0f %8.2f %8.2f %8.2f   %5.0f / %5.0f / %5.0f\n", n, st_s.p50, st_l.p50,
               st_q.p50, st_q.min, max_q, cost.service_ns / per, cost.daemon_ns / per, cost.client_ns / per);

        g_autofree char *name_l = g_strdup_printf("throughput.inprocess.c%u", n);
        g_autofree char *name_s = g_strdup_printf("throughput.service.c%u", n);
        g_autofree char *name_q = g_strdup_printf("throughput.ratio.c%u", n);
        g_autofree char *name_cs = g_strdup_printf("throughput.cpu_service_per_spawn.c%u", n);
        g_autofree char *name_cd = g_strdup_printf("throughput.cpu_daemon_per_spawn.c%u", n);
        g_autofree char *name_cc = g_strdup_printf("throughput.cpu_client_per_spawn.c%u", n);
        bench_result(name_l, st_l.p50, "spawns/s");
        bench_result(name_s, st_s.p50, "spawns/s");
        bench_result(name_q, st_q.p50, "x");
        bench_result(name_cs, cost.service_ns / per, "us");
        bench_result(name_cd, cost.daemon_ns / per, "us");
        bench_result(name_cc, cost.client_ns / per, "us");
        return TRUE;
}

static gboolean run_throughput(BenchService *s, guint rounds, gint64 phase_ns) {
        pid_t daemon = bench_name_owner_pid(s, "org.freedesktop.DBus");

        if (daemon <= 0)
                return FALSE;
        printf("\nthroughput: /bin/true spawned and waited for, %u rounds of %.2f s phases per\n"
               "concurrency, service and in-process alternating. Service: N clients, each its own\n"
               "sd-bus connection and thread, one spawn in flight, Release not awaited.\n"
               "Ratio: median (min, max) of the per-round ratios.\n",
               rounds, (double) phase_ns / NS_PER_S);
        printf("%8s %14s %14s %8s %8s %8s   %s\n", "clients", "service /s", "in-process /s", "ratio", "min",
               "max", "CPU us per service spawn: service / dbus-daemon / clients");
        for (guint k = 0; k < G_N_ELEMENTS(concurrency); k++) {
                if (!run_concurrency(s, daemon, concurrency[k], rounds, phase_ns))
                        return FALSE;
                fflush(stdout);
        }
        return TRUE;
}

/* ---- 3. activation ---- */

/* A bus-activatable service that does nothing but own a name, with sd-bus connecting the
 * way childwatchd does (DBUS_STARTER_ADDRESS): the floor of a cold start. sd-bus answers
 * Peer.Ping by itself. Runs until the bus goes away or SIGTERM. */
static int trivial_service(void) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
        const char *address = getenv("DBUS_STARTER_ADDRESS");
        int r;

        if (!address)
                return EXIT_FAILURE;
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_request_name(bus, TRIVIAL_NAME, 0);
        while (r >= 0) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
        }
        return r == -ECONNRESET || r == -ENOTCONN ? EXIT_SUCCESS : EXIT_FAILURE;
}

typedef struct ServiceDir {
        char *path;
        char *files[2];
} ServiceDir;

static void service_dir_free(ServiceDir *d) {
        if (!d)
                return;
        for (guint i = 0; i < G_N_ELEMENTS(d->files); i++)
                if (d->files[i]) {
                        (void) g_unlink(d->files[i]);
                        g_free(d->files[i]);
                }
        if (d->path)
                (void) g_rmdir(d->path);
        g_free(d->path);
        g_free(d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ServiceDir, service_dir_free)

/* Activation files that start childwatchd and the trivial service directly. */
static ServiceDir *service_dir_new(void) {
        g_autoptr(ServiceDir) d = g_new0(ServiceDir, 1);
        g_autoptr(GError) error = NULL;
        g_autofree char *self = g_file_read_link("/proc/self/exe", &error);
        const char *names[2] = { BENCH_CW_NAME, TRIVIAL_NAME };
        g_autofree char *exec_cw = g_strdup_printf("%s --idle-timeout=0", CW_DAEMON_PATH);
        g_autofree char *exec_trivial = g_strdup_printf("%s --trivial-service", self ?: "/nonexistent");
        const char *execs[2] = { exec_cw, exec_trivial };

        d->path = self ? g_dir_make_tmp("bench-load-XXXXXX", &error) : NULL;
        if (!d->path) {
                bench_fail("cannot prepare a service directory: %s", error->message);
                return NULL;
        }
        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *base = g_strconcat(names[i], ".service", NULL);
                g_autofree char *text =
                        g_strdup_printf("[D-BUS Service]\nName=%s\nExec=%s\n", names[i], execs[i]);
                d->files[i] = g_build_filename(d->path, base, NULL);
                if (!g_file_set_contents(d->files[i], text, -1, &error)) {
                        bench_fail("cannot write %s: %s", d->files[i], error->message);
                        return NULL;
                }
        }
        return g_steal_pointer(&d);
}

/* Peer.Ping to @name (activating it if nobody owns it): the round trip in ns, -1 on error. */
static gint64 ping_name(BenchService *s, const char *name) {
        BenchCall c;
        gint64 t0 = bench_now_ns();

        bench_call_start(s, name, "/", BENCH_PEER_IFACE, "Ping", NULL, "()", &c);
        gboolean ok = bench_call_wait(s, &c, "Ping");
        gint64 dt = c.done_ns - t0;
        bench_call_clear(&c);
        return ok ? dt : -1;
}

/* Stop the owner of @name and wait (bounded) until the name is free, so that the next
 * call activates a new one. */
static gboolean stop_name_owner(BenchService *s, const char *name) {
        pid_t pid = bench_name_owner_pid(s, name);
        gint64 deadline = bench_deadline_from_now();

        if (pid <= 0)
                return FALSE;
        bench_stop_pid(pid, name);
        for (;;) {
                BenchCall c;
                gboolean has = TRUE;

                bench_call_start(s, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                 "NameHasOwner", g_variant_new("(s)", name), "(b)", &c);
                if (!bench_call_wait(s, &c, "NameHasOwner")) {
                        bench_call_clear(&c);
                        return FALSE;
                }
                g_variant_get(c.reply, "(b)", &has);
                bench_call_clear(&c);
                if (!has)
                        return TRUE;
                if (bench_now_ns() > deadline) {
                        bench_fail("%s still has an owner %d s after SIGTERM", name, BENCH_WAIT_TIMEOUT_S);
                        return FALSE;
                }
                g_usleep(1000);
        }
}

static gboolean run_activation(guint rounds, guint warmup) {
        g_autoptr(ServiceDir) dir = service_dir_new();
        g_autoptr(GArray) cold = bench_samples_new(rounds);
        g_autoptr(GArray) trivial = bench_samples_new(rounds);
        g_autoptr(GArray) warm = bench_samples_new(rounds * 4);
        g_autoptr(GError) error = NULL;
        BenchService s = { .label = "activation bus" };
        gboolean ok = dir != NULL;

        /* Not bench_service_up(): its bus activates childwatchd through the tests' wrapper
         * script, and that shell would be part of every cold start. */
        if (ok) {
                s.bus = g_test_dbus_new(G_TEST_DBUS_NONE);
                g_test_dbus_add_service_dir(s.bus, dir->path);
                g_test_dbus_up(s.bus);
                s.conn = g_dbus_connection_new_for_address_sync(
                        g_test_dbus_get_bus_address(s.bus),
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, &error);
                if (!s.conn) {
                        bench_fail("activation bus: cannot connect: %s", error->message);
                        ok = FALSE;
                }
        }

        for (guint r = 0; ok && r < warmup + rounds; r++) {
                gboolean count = r >= warmup;
                for (guint j = 0; ok && j < 2; j++) {
                        gint64 t;
                        /* Alternate which of the two starts first. */
                        if ((r + j) % 2 == 0) {
                                ok = (t = ping_name(&s, TRIVIAL_NAME)) >= 0 &&
                                     stop_name_owner(&s, TRIVIAL_NAME);
                                if (ok && count)
                                        g_array_append_val(trivial, t);
                                continue;
                        }
                        ok = (t = ping_name(&s, BENCH_CW_NAME)) >= 0;
                        if (ok && count)
                                g_array_append_val(cold, t);
                        /* The same call to the running service: a reply without the start.
                         * The first one after the start is left out. */
                        for (guint i = 0; ok && i < 5; i++) {
                                ok = (t = ping_name(&s, BENCH_CW_NAME)) >= 0;
                                if (ok && count && i > 0)
                                        g_array_append_val(warm, t);
                        }
                        ok = ok && stop_name_owner(&s, BENCH_CW_NAME);
                }
        }

        if (ok) {
                /* In µs from bench_stats_of(); reported in ms. */
                BenchStats c = bench_stats_of(cold), t = bench_stats_of(trivial), w = bench_stats_of(warm);
                printf("\nactivation: Peer.Ping to a name whose service is not running, until the reply;\n"
                       "%u samples of each on one private bus, the service stopped (SIGTERM) after each\n",
                       rounds);
                printf("%-40s %10s %10s %10s\n", "", "p50 ms", "p99 ms", "min ms");
                printf("%-40s %10.2f %10.2f %10.2f\n", "childwatchd cold start", c.p50 / 1000, c.p99 / 1000,
                       c.min / 1000);
                printf("%-40s %10.2f %10.2f %10.2f\n", "trivial sd-bus service cold start", t.p50 / 1000,
                       t.p99 / 1000, t.min / 1000);
                printf("%-40s %10.3f %10.3f %10.3f\n", "Ping to the running childwatchd", w.p50 / 1000,
                       w.p99 / 1000, w.min / 1000);
                printf("childwatchd cold start: %.2f x the trivial service's, %+.2f ms\n", c.p50 / t.p50,
                       (c.p50 - t.p50) / 1000);
                bench_result("activation.cold_start.p50", c.p50 / 1000, "ms");
                bench_result("activation.cold_start.p99", c.p99 / 1000, "ms");
                bench_result("activation.baseline.p50", w.p50 / 1000, "ms");
                bench_result("activation.trivial.p50", t.p50 / 1000, "ms");
                bench_result("activation.trivial.p99", t.p99 / 1000, "ms");
                bench_result("activation.cold_over_trivial", c.p50 / t.p50, "x");
        }

        /* Stops nothing (s.pid is 0: the services went with each sample), closes the bus. */
        bench_service_down(&s);
        return ok;
}

/* ---- main ---- */

int main(int argc, char *argv[]) {
        if (argc == 2 && g_str_equal(argv[1], "--trivial-service"))
                return trivial_service();

        gboolean quick = g_strcmp0(g_getenv("BENCH_QUICK"), "1") == 0;
        gint rounds = 0, phase_ms = 0, idle_s = 0, children = 100, activations = 0;
        gboolean skip_throughput = FALSE, skip_idle = FALSE, skip_activation = FALSE;
        GOptionEntry entries[] = {
                { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "CI smoke run (< 30 s)", NULL },
                { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Throughput rounds per concurrency (default 6)",
                  "N" },
                { "phase-ms", 0, 0, G_OPTION_ARG_INT, &phase_ms, "One throughput phase (default 1000)",
                  "MS" },
                { "idle-seconds", 0, 0, G_OPTION_ARG_INT, &idle_s, "Idle measurement (default 10)", "S" },
                { "idle-children", 0, 0, G_OPTION_ARG_INT, &children, "Children watched while idle (100)",
                  "N" },
                { "activations", 0, 0, G_OPTION_ARG_INT, &activations,
                  "Cold starts of each kind (default 20)", "N" },
                { "skip-throughput", 0, 0, G_OPTION_ARG_NONE, &skip_throughput, "Skip the throughput part",
                  NULL },
                { "skip-idle", 0, 0, G_OPTION_ARG_NONE, &skip_idle, "Skip the idle part", NULL },
                { "skip-activation", 0, 0, G_OPTION_ARG_NONE, &skip_activation, "Skip the activation part",
                  NULL },
                {},
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- throughput, idle wakeups, activation");
        g_autoptr(GError) error = NULL;
        BenchService s = {};

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        if (rounds <= 0)
                rounds = quick ? 2 : 6;
        if (phase_ms <= 0)
                phase_ms = quick ? 400 : 1000;
        if (idle_s <= 0)
                idle_s = quick ? 5 : 10;
        if (activations <= 0)
                activations = quick ? 5 : 20;

        if (!bench_init("bench-load") || !bench_raise_limits((guint) MAX(children, MAX_CLIENTS)))
                return bench_exit_status();
        printf("bench-load: %s run\n", quick ? "quick" : "full");

        if (!skip_idle || !skip_throughput) {
                if (!bench_service_up(&s, "service", NULL))
                        goto out;
                g_printerr("bench-load: service pid %d\n", (int) s.pid);
        }
        /* Idle first: it needs the StateChanged subscription of bench-util's connection,
         * which the throughput part drops so that it does not receive every end too. */
        if (!skip_idle &&
            !run_idle(&s, (guint) children, (quick ? 1 : 2) * NS_PER_S, (gint64) idle_s * NS_PER_S))
                goto out;
        if (s.subscription) {
                g_dbus_connection_signal_unsubscribe(s.conn, s.subscription);
                s.subscription = 0;
        }
        if (!skip_throughput && !run_throughput(&s, (guint) rounds, (gint64) phase_ms * 1000000))
                goto out;
        bench_service_down(&s);
        if (!skip_activation)
                (void) run_activation((guint) activations, 2);

out:
        bench_service_down(&s);
        guint leftovers = bench_reap_leftovers(5000);
        if (leftovers > 0)
                bench_fail("%u leftover processes had to be killed", leftovers);
        return bench_exit_status();
}
