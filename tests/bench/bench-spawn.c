/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-spawn: what does a spawn through childwatchd cost, compared with
 * spawning in-process (the limit), with the nearest peer (flatpak's
 * HostCommand) and with a bare bus round trip; and how does the service
 * fare with a large population of watched children?
 *
 * Two private buses, each activating this build's service exactly as
 * installed: service A watches nothing but the measured child (and its bus
 * also carries flatpak-session-helper), service B also watches a background
 * population of `sleep 3600` children. With two services the "no children"
 * and "many children" figures can be taken in the same rounds instead of one
 * phase after the other; this machine is shared and noisy, and only
 * interleaving cancels its drift. Each round takes one sample of every kind,
 * in an order rotated per round.
 *
 * After the rounds, at full population: the RSS of B minus that of A (same
 * work done, same moment) per child, then every background child is killed at
 * once from here, timing until the last terminal StateChanged has arrived and
 * reading B's CPU time around it.
 *
 * Every wait is bounded; any error makes the exit status non-zero. The
 * benchmark asserts nothing about the numbers.
 */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-flatpak.h"
#include "bench-util.h"

extern char **environ;

/* ---- the measurements; each returns the sample in ns, or -1 on error ---- */

static GVariant *true_spawn_params;
static GVariant *orphan_spawn_params;

/* The limit: what the service itself has to do at the least, without any bus. */
static gint64 measure_local_spawn(void) {
        static char *const argv[] = { (char *) "/bin/true", NULL };
        siginfo_t si = {};
        pid_t pid;
        int fd, r;

        gint64 t0 = bench_now_ns();
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
        gint64 dt = bench_now_ns() - t0;
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

/* Spawn(["/bin/true"], {}) until its terminal StateChanged; Release() after, not timed.
 * *@ret_reply_ns: when the Spawn() reply came, from the same start. */
static gint64 measure_service_spawn(BenchService *s, gint64 *ret_reply_ns) {
        const char *path;
        guint32 pid;
        BenchEnd *e;
        BenchCall c;

        gint64 t0 = bench_now_ns();
        bench_call_start(s, NULL, BENCH_CW_MANAGER_PATH, BENCH_CW_MANAGER_IFACE, "Spawn",
                         g_variant_ref(true_spawn_params), "(ou)", &c);
        if (!bench_call_wait(s, &c, "Spawn")) {
                bench_call_clear(&c);
                return -1;
        }
        s->n_spawned++;
        *ret_reply_ns = c.done_ns - t0;
        g_variant_get(c.reply, "(&ou)", &path, &pid);

        gint64 deadline = bench_deadline_from_now();
        while (!(e = g_hash_table_lookup(s->ends, path)))
                if (!bench_iterate(deadline)) {
                        bench_fail("%s: no terminal StateChanged for %s (pid %u) within %d s", s->label, path,
                                   pid, BENCH_WAIT_TIMEOUT_S);
                        bench_call_clear(&c);
                        return -1;
                }
        gint64 dt = e->seen_ns - t0;

        gboolean ok = g_str_equal(e->event, "exited") && e->status == 0;
        if (!ok)
                bench_fail("%s: /bin/true (%s) ended with %s %d", s->label, path, e->event, e->status);
        g_hash_table_remove(s->ends, path);
        ok = bench_release(s, path) && ok;
        bench_call_clear(&c);
        return ok ? dt : -1;
}

/* Why a service's child is not sleeping, for the report of a lost orphan. */
static void print_children_not_sleeping(BenchService *s) {
        g_autofree char *children = NULL, *file = g_strdup_printf("/proc/%d/task/%d/children", (int) s->pid,
                                                                   (int) s->pid);
        g_autoptr(GString) odd = g_string_new("");

        (void) g_file_get_contents(file, &children, NULL, NULL);
        g_auto(GStrv) pids = g_strsplit(children ?: "", " ", -1);
        for (guint k = 0; pids[k]; k++) {
                g_autofree char *stat = NULL, *sf = g_strdup_printf("/proc/%s/stat", pids[k]);
                if (!*pids[k] || !g_file_get_contents(sf, &stat, NULL, NULL))
                        continue;
                const char *close = strrchr(stat, ')');
                if (close && close[2] != 'S')
                        g_string_append_printf(odd, " %s(%c)", pids[k], close[2]);
        }
        g_printerr("%s: children of %d not sleeping:%s\n", g_get_prgname(), (int) s->pid, odd->str);
}

/* The orphan path: `sh -c 'sleep 0.002 & exit 0'`. The shell ends at once, its sleep
 * re-parents to the service (a subreaper) and ends 2 ms later; the service learns of it
 * from the SIGCHLD that names it, O(1) whatever the number of children. Timed from the
 * Spawn() call to the orphan's terminal StateChanged; both objects released after. */
static gint64 measure_orphan(BenchService *s) {
        g_autofree char *orphan = NULL;
        const char *path;
        guint32 pid;
        BenchCall c;

        gint64 t0 = bench_now_ns();
        bench_call_start(s, NULL, BENCH_CW_MANAGER_PATH, BENCH_CW_MANAGER_IFACE, "Spawn",
                         g_variant_ref(orphan_spawn_params), "(ou)", &c);
        if (!bench_call_wait(s, &c, "Spawn")) {
                bench_call_clear(&c);
                return -1;
        }
        g_variant_get(c.reply, "(&ou)", &path, &pid);

        /* Nothing else ends meanwhile: the background children sleep for good. */
        gint64 deadline = bench_deadline_from_now();
        while (g_hash_table_size(s->ends) < 2)
                if (!bench_iterate(deadline)) {
                        print_children_not_sleeping(s);
                        bench_fail("%s: no end of %s (pid %u) and of its orphan within %d s (%u ends seen%s)",
                                   s->label, path, pid, BENCH_WAIT_TIMEOUT_S, g_hash_table_size(s->ends),
                                   g_hash_table_contains(s->ends, path) ? ", the shell's" : "");
                        bench_call_clear(&c);
                        return -1;
                }
        s->n_spawned += 2; /* the shell and its orphan */

        GHashTableIter i;
        gpointer key, value;
        gint64 dt = -1;
        gboolean ok = g_hash_table_size(s->ends) == 2 && g_hash_table_contains(s->ends, path);
        g_hash_table_iter_init(&i, s->ends);
        while (g_hash_table_iter_next(&i, &key, &value)) {
                BenchEnd *e = value;
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
        ok = ok && orphan && bench_release(s, path) && bench_release(s, orphan);
        bench_call_clear(&c);
        return ok ? dt : -1;
}

/* ---- the rounds ---- */

typedef enum Kind {
        KIND_PING,       /* a */
        KIND_LOCAL,      /* b */
        KIND_SERVICE,    /* c */
        KIND_FLATPAK,    /* p: the peer, on A's bus */
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
        [KIND_FLATPAK] = "p  flatpak HostCommand",
        [KIND_SERVICE_BG] = "d  c with N children",
        [KIND_PING_BG] = "a' Ping with N children",
        [KIND_ORPHAN] = "e  orphan end (sleep 2 ms)",
        [KIND_ORPHAN_BG] = "f  e with N children",
        [ROW_SERVICE_REPLY] = "c1 (c: Spawn reply)",
        [ROW_SERVICE_BG_REPLY] = "d1 (d: Spawn reply)",
};

typedef struct Bench {
        BenchService a, b;
        BenchFlatpak *flatpak; /* NULL: not installed, its row is skipped */
        GArray *samples[_ROW_MAX];
} Bench;

static gint64 measure(Bench *bench, Kind k, gint64 *ret_reply_ns) {
        switch (k) {
        case KIND_PING:
                return bench_ping(&bench->a);
        case KIND_LOCAL:
                return measure_local_spawn();
        case KIND_SERVICE:
                return measure_service_spawn(&bench->a, ret_reply_ns);
        case KIND_FLATPAK:
                return bench_flatpak_measure(bench->flatpak);
        case KIND_SERVICE_BG:
                return measure_service_spawn(&bench->b, ret_reply_ns);
        case KIND_PING_BG:
                return bench_ping(&bench->b);
        case KIND_ORPHAN:
                return measure_orphan(&bench->a);
        case KIND_ORPHAN_BG:
                return measure_orphan(&bench->b);
        default:
                g_assert_not_reached();
        }
}

/* @record FALSE: warm-up (client cache in the service, page cache, branch predictors). */
static gboolean run_rounds(Bench *bench, guint rounds, gboolean record) {
        for (guint r = 0; r < rounds; r++)
                for (guint j = 0; j < _KIND_MAX; j++) {
                        /* Rotate, so no kind always runs right after the same other kind. */
                        Kind k = (Kind) ((r + j) % _KIND_MAX);
                        gint64 reply = -1;

                        if (k == KIND_FLATPAK && !bench->flatpak)
                                continue;
                        gint64 dt = measure(bench, k, &reply);
                        if (dt < 0)
                                return FALSE;
                        if (!record)
                                continue;
                        g_array_append_val(bench->samples[k], dt);
                        if (k == KIND_SERVICE)
                                g_array_append_val(bench->samples[ROW_SERVICE_REPLY], reply);
                        else if (k == KIND_SERVICE_BG)
                                g_array_append_val(bench->samples[ROW_SERVICE_BG_REPLY], reply);
                }
        return TRUE;
}

/* ---- scale: everything killed at once ---- */

typedef struct KillAll {
        double elapsed_s;   /* first kill() -> last terminal StateChanged received */
        double kill_loop_s; /* of which our own kill() loop */
        double cpu_per_event_us;
} KillAll;

/* SIGKILL to every background child through kill(2): they are children of B that have not
 * ended, so none of their pids can have been reused. Then Release() them all. */
static gboolean background_kill_all(BenchService *s, KillAll *ret) {
        guint n = s->background_pids->len, sent = 0;
        guint64 first = s->n_terminal;
        gint64 cpu0, cpu1;

        if (n == 0)
                return TRUE; /* nothing to kill: the figures stay NAN, reported as skipped */
        cpu0 = bench_proc_cpu_ns(s->pid);
        gint64 t0 = bench_now_ns();
        for (guint i = 0; i < n; i++) {
                pid_t pid = g_array_index(s->background_pids, pid_t, i);
                if (pid > 0 && kill(pid, SIGKILL) == 0)
                        sent++;
        }
        gint64 t_sent = bench_now_ns();
        if (sent != n)
                bench_fail("%s: kill(SIGKILL) reached %u of %u background children", s->label, sent, n);

        gint64 deadline = bench_deadline_from_now();
        while (s->n_terminal - first < sent) {
                guint64 before = s->n_terminal;
                if (!bench_iterate(deadline)) {
                        bench_fail("%s: %" G_GUINT64_FORMAT " of %u terminal events after the kill", s->label,
                                   s->n_terminal - first, sent);
                        return FALSE;
                }
                if (s->n_terminal != before)
                        deadline = bench_deadline_from_now();
        }
        /* The service emits more after each StateChanged (PropertiesChanged); a Ping answered
         * means all of that is done too, and only then is its CPU time complete. */
        if (bench_ping(s) < 0)
                return FALSE;
        cpu1 = bench_proc_cpu_ns(s->pid);

        ret->elapsed_s = (double) (s->last_terminal_ns - t0) / 1e9;
        ret->kill_loop_s = (double) (t_sent - t0) / 1e9;
        ret->cpu_per_event_us = cpu0 >= 0 && cpu1 >= 0 && sent > 0 ? (double) (cpu1 - cpu0) / 1e3 / sent : NAN;
        return bench_background_release(s, "killed", SIGKILL);
}

/* ---- report ---- */

static void report_latency(const BenchStats *st, gboolean have_flatpak, int iterations, int children) {
        double overhead = st[KIND_SERVICE].p50 - st[KIND_LOCAL].p50;
        double overhead_bg = st[KIND_SERVICE_BG].p50 - st[KIND_LOCAL].p50;

        printf("\nspawn latency, %d samples each, interleaved; d, a', f with %d other children watched\n",
               iterations, children);
        printf("%-28s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "min us", "mean us");
        for (int k = 0; k < _ROW_MAX; k++) {
                if (k == KIND_FLATPAK && !have_flatpak) {
                        printf("%-28s %10s\n", row_label[k], "skipped (flatpak-session-helper not installed)");
                        continue;
                }
                printf("%-28s %10.1f %10.1f %10.1f %10.1f\n", row_label[k], st[k].p50, st[k].p99, st[k].min,
                       st[k].mean);
        }
        printf("\n");
        printf("c/b p50 %.2f  p99 %.2f\n", st[KIND_SERVICE].p50 / st[KIND_LOCAL].p50,
               st[KIND_SERVICE].p99 / st[KIND_LOCAL].p99);
        printf("service overhead c.p50-b.p50 = %.1f us = %.2f Ping round trips (a.p50)\n", overhead,
               overhead / st[KIND_PING].p50);
        if (have_flatpak)
                printf("flatpak/service p.p50/c.p50 = %.2f  (p99 %.2f)\n", st[KIND_FLATPAK].p50 / st[KIND_SERVICE].p50,
                       st[KIND_FLATPAK].p99 / st[KIND_SERVICE].p99);
        printf("with %d children  d.p50-b.p50 = %.1f us = %.2f Ping round trips\n", children, overhead_bg,
               overhead_bg / st[KIND_PING].p50);
        printf("scale d.p50/c.p50 = %.2f  (d.p99/c.p99 = %.2f)\n", st[KIND_SERVICE_BG].p50 / st[KIND_SERVICE].p50,
               st[KIND_SERVICE_BG].p99 / st[KIND_SERVICE].p99);
        printf("orphan end, scale f.p50/e.p50 = %.2f  (f.p99/e.p99 = %.2f)\n",
               st[KIND_ORPHAN_BG].p50 / st[KIND_ORPHAN].p50, st[KIND_ORPHAN_BG].p99 / st[KIND_ORPHAN].p99);

        bench_result("latency.limit.p50", st[KIND_LOCAL].p50, "us");
        bench_result("latency.limit.p99", st[KIND_LOCAL].p99, "us");
        bench_result("latency.service.p50", st[KIND_SERVICE].p50, "us");
        bench_result("latency.service.p99", st[KIND_SERVICE].p99, "us");
        if (have_flatpak) {
                bench_result("latency.flatpak.p50", st[KIND_FLATPAK].p50, "us");
                bench_result("latency.flatpak.p99", st[KIND_FLATPAK].p99, "us");
        } else {
                bench_result_skipped("latency.flatpak.p50");
                bench_result_skipped("latency.flatpak.p99");
        }
        bench_result("latency.ping.p50", st[KIND_PING].p50, "us");
        bench_result("latency.ping.p99", st[KIND_PING].p99, "us");
        bench_result("latency.overhead_pings", overhead / st[KIND_PING].p50, "x");
        if (have_flatpak)
                bench_result("latency.flatpak_over_service", st[KIND_FLATPAK].p50 / st[KIND_SERVICE].p50, "x");
        else
                bench_result_skipped("latency.flatpak_over_service");
        bench_result("scale.latency.p50", st[KIND_SERVICE_BG].p50, "us");
        bench_result("scale.latency.p99", st[KIND_SERVICE_BG].p99, "us");
        bench_result("scale.latency_ratio", st[KIND_SERVICE_BG].p50 / st[KIND_SERVICE].p50, "x");
        bench_result("orphan.p50", st[KIND_ORPHAN].p50, "us");
        bench_result("orphan.p99", st[KIND_ORPHAN].p99, "us");
        bench_result("orphan.scale.p50", st[KIND_ORPHAN_BG].p50, "us");
        bench_result("orphan.scale.p99", st[KIND_ORPHAN_BG].p99, "us");
        bench_result("orphan.scale_ratio", st[KIND_ORPHAN_BG].p50 / st[KIND_ORPHAN].p50, "x");
}

/* ---- main ---- */

int main(int argc, char *argv[]) {
        gboolean quick = g_strcmp0(g_getenv("BENCH_QUICK"), "1") == 0;
        gint iterations = 0, children = -1, exited_only_percent = 50;
        GOptionEntry entries[] = {
                { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "CI smoke run: 100 samples, 500 children", NULL },
                { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "Samples of each kind", "N" },
                { "children", 'c', 0, G_OPTION_ARG_INT, &children, "Background children of service B", "N" },
                { "exited-only-percent", 0, 0, G_OPTION_ARG_INT, &exited_only_percent,
                  "Background children spawned with events=[\"exited\"] (default 50)", "PCT" },
                {},
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- spawn latency and scale of childwatchd");
        g_autoptr(GError) error = NULL;
        Bench bench = {};
        BenchStats st[_ROW_MAX] = {};
        KillAll ka = { .elapsed_s = NAN, .kill_loop_s = NAN, .cpu_per_event_us = NAN };
        gint64 rss_a = -1, rss_b = -1, rss_b0 = -1;
        gboolean measured = FALSE;

        if (!bench_init("bench-spawn"))
                return bench_exit_status();
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        if (iterations <= 0)
                iterations = quick ? 100 : 1000;
        if (children < 0)
                children = quick ? 500 : 10000;
        exited_only_percent = CLAMP(exited_only_percent, 0, 100);
        if (children > 0 && (children = (gint) bench_children_within_limits((guint) children)) == 0)
                bench_fail("the resource limits leave no room for background children");
        if (bench_has_failed() || !bench_raise_limits((guint) children))
                return bench_exit_status();

        static const char *const true_argv[] = { "/bin/true", NULL };
        true_spawn_params = g_variant_ref_sink(
                g_variant_new("(^as@a{sv})", true_argv, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)));
        static const char *const orphan_argv[] = { "/bin/sh", "-c", "sleep 0.002 & exit 0", NULL };
        orphan_spawn_params = g_variant_ref_sink(
                g_variant_new("(^as@a{sv})", orphan_argv, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)));
        for (int k = 0; k < _ROW_MAX; k++)
                bench.samples[k] = bench_samples_new((guint) iterations);

        gint64 start = bench_now_ns();
        if (!bench_flatpak_prepare(&bench.flatpak))
                goto out;
        BenchServiceOptions a_opts = {
                .extra_service_dir = bench.flatpak ? bench_flatpak_service_dir(bench.flatpak) : NULL,
        };
        if (!bench_service_up(&bench.a, "service A", &a_opts) || !bench_service_up(&bench.b, "service B", NULL))
                goto out;
        if (bench.flatpak && !bench_flatpak_up(bench.flatpak, &bench.a))
                goto out;
        g_printerr("bench-spawn: service A pid %d (no other children), service B pid %d (%d children)\n",
                   (int) bench.a.pid, (int) bench.b.pid, children);

        /* Warm-up before the population, so that B's RSS "without" is that of a service
         * that has already done the work it does in the rounds. */
        if (!run_rounds(&bench, quick ? 10 : 50, FALSE))
                goto out;
        rss_b0 = bench_proc_rss_kib(bench.b.pid);

        if (!bench_background_start(&bench.b, (guint) children, (guint) exited_only_percent))
                goto out;
        gint64 t_bg = bench_now_ns();
        g_printerr("bench-spawn: %d background children up in %.2f s\n", children, (t_bg - start) / 1e9);

        if (!run_rounds(&bench, 10, FALSE) || !run_rounds(&bench, (guint) iterations, TRUE))
                goto out;
        gint64 t_measured = bench_now_ns();
        rss_a = bench_proc_rss_kib(bench.a.pid);
        rss_b = bench_proc_rss_kib(bench.b.pid);

        if (!background_kill_all(&bench.b, &ka))
                goto out;
        g_printerr("bench-spawn: measured in %.2f s, background killed and released in %.2f s\n",
                   (t_measured - t_bg) / 1e9, (bench_now_ns() - t_measured) / 1e9);
        measured = TRUE;

        if (bench.a.n_terminal != bench.a.n_spawned || bench.b.n_terminal != bench.b.n_spawned)
                bench_fail("terminal events: A %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                           " spawned, B %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                           bench.a.n_terminal, bench.a.n_spawned, bench.b.n_terminal, bench.b.n_spawned);

out:
        if (measured) {
                for (int k = 0; k < _ROW_MAX; k++)
                        st[k] = bench_stats_of(bench.samples[k]);
                report_latency(st, bench.flatpak != NULL, iterations, children);

                double per_child = (double) (rss_b - rss_a) / children;
                printf("\nscale with %d children (%d%% of them exited-only)\n", children, exited_only_percent);
                printf("RSS: A %" G_GINT64_FORMAT " KiB, B %" G_GINT64_FORMAT " KiB (before populating %" G_GINT64_FORMAT
                       " KiB): (B-A)/N = %.2f KiB, (B-B0)/N = %.2f KiB per child\n",
                       rss_a, rss_b, rss_b0, per_child, (double) (rss_b - rss_b0) / children);
                /* utime+stime count clock ticks: with few children the per-event figure is coarse. */
                printf("kill all at once: last terminal event after %.3f s (our kill loop %.3f s); "
                       "service CPU %.1f us per event (resolution %.1f us)\n",
                       ka.elapsed_s, ka.kill_loop_s, ka.cpu_per_event_us,
                       1e6 / (double) sysconf(_SC_CLK_TCK) / MAX(children, 1));
                bench_result("scale.children", children, "count");
                bench_result("scale.rss_per_child", per_child, "KiB");
                bench_result("scale.kill_all", ka.elapsed_s, "s");
                bench_result("scale.cpu_per_event", ka.cpu_per_event_us, "us");
        }
        /* After an error, stop the background children the polite way only if service B still
         * answers; otherwise the subreaper cleanup below kills them. */
        if (bench.b.background && bench.b.background->len > 0 && bench.b.conn && bench_ping(&bench.b) >= 0)
                (void) bench_background_stop(&bench.b);
        g_clear_pointer(&bench.flatpak, bench_flatpak_free);
        bench_service_down(&bench.a);
        bench_service_down(&bench.b);
        guint leftovers = bench_reap_leftovers(5000);
        if (leftovers > 0)
                bench_fail("%u leftover processes had to be killed", leftovers);
        for (int k = 0; k < _ROW_MAX; k++)
                g_array_unref(bench.samples[k]);
        g_variant_unref(true_spawn_params);
        g_variant_unref(orphan_spawn_params);
        return bench_exit_status();
}
