/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-signal: what does signalling a watched process cost, and how soon are
 * its stop and continue reported?
 *
 * One private bus and service, one `sleep 3600` spawned with the default
 * events (stop/continue reported). Each round takes, in an order rotated per
 * round, on the same connection:
 *   - Peer.Ping round trip, the floor of any call;
 *   - SendSignal(SIGCONT) round trip to the running sleeper (a SIGCONT to a
 *     running process changes nothing, so nothing else is measured);
 *   - SendSignal(SIGSTOP) call start -> "stopped" StateChanged received, then
 *     SendSignal(SIGCONT) call start -> "continued" received.
 * Optionally (--children) the service also watches a background population,
 * half of it with stop/continue events on, whose SIGCHLD handling a stop or
 * continue has to go through.
 *
 * Every wait is bounded; any error makes the exit status non-zero. The
 * benchmark asserts nothing about the numbers.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-util.h"

typedef enum Kind {
        KIND_PING,
        KIND_SENDSIGNAL,
        KIND_STOP_CONTINUE, /* gives a sample of each of the two rows below */
        _KIND_MAX,
        ROW_STOP_EVENT = KIND_STOP_CONTINUE,
        ROW_CONTINUE_EVENT = _KIND_MAX,
        _ROW_MAX,
} Kind;

static const char *const row_label[_ROW_MAX] = {
        [KIND_PING] = "Peer.Ping round trip",
        [KIND_SENDSIGNAL] = "SendSignal(SIGCONT) round trip",
        [ROW_STOP_EVENT] = "SIGSTOP call -> \"stopped\"",
        [ROW_CONTINUE_EVENT] = "SIGCONT call -> \"continued\"",
};

/* The measured sleeper and the last stop/continue event seen for it. */
typedef struct Sleeper {
        char *path;
        char *event;    /* NULL once consumed */
        int status;
        gint64 seen_ns;
} Sleeper;

static void on_event(BenchService *s, const char *path, const char *event, int status, gint64 t,
                     gpointer userdata) {
        Sleeper *sl = userdata;

        if (g_str_equal(event, "stopped") || g_str_equal(event, "continued")) {
                if (!sl->path || !g_str_equal(path, sl->path)) {
                        bench_fail("%s: StateChanged(%s) for %s, which nobody signalled", s->label, event, path);
                        return;
                }
                if (sl->event)
                        bench_fail("%s: StateChanged(%s) for %s while %s was not consumed yet", s->label, event,
                                   path, sl->event);
                g_free(sl->event);
                sl->event = g_strdup(event);
                sl->status = status;
                sl->seen_ns = t;
        }
        /* Terminal events are in s->ends: the sleeper's own at the end, none before. */
}

static gint64 send_signal(BenchService *s, Sleeper *sl, int signo, gint64 *ret_event_ns) {
        BenchCall c;
        const char *want = signo == SIGSTOP ? "stopped" : "continued";

        gint64 t0 = bench_now_ns();
        bench_call_start(s, NULL, sl->path, BENCH_CW_PROCESS_IFACE, "SendSignal",
                         g_variant_new("(ib)", signo, FALSE), "()", &c);
        gboolean ok = bench_call_wait(s, &c, "SendSignal");
        gint64 dt = c.done_ns - t0;
        bench_call_clear(&c);
        if (!ok)
                return -1;
        if (!ret_event_ns)
                return dt;

        /* The event may come before or after the reply; only the event ends this sample. */
        gint64 deadline = bench_deadline_from_now();
        while (!sl->event)
                if (!bench_iterate(deadline)) {
                        bench_fail("%s: no \"%s\" StateChanged for %s within %d s", s->label, want, sl->path,
                                   BENCH_WAIT_TIMEOUT_S);
                        return -1;
                }
        ok = g_str_equal(sl->event, want) && sl->status == signo;
        if (!ok)
                bench_fail("%s: signal %d gave StateChanged(%s, %d), not (%s, %d)", s->label, signo, sl->event,
                           sl->status, want, signo);
        g_clear_pointer(&sl->event, g_free);
        *ret_event_ns = sl->seen_ns - t0;
        return ok ? dt : -1;
}

static gboolean run_rounds(BenchService *s, Sleeper *sl, guint rounds, GArray **samples) {
        for (guint r = 0; r < rounds; r++)
                for (guint j = 0; j < _KIND_MAX; j++) {
                        /* Rotate, so no kind always runs right after the same other kind. */
                        Kind k = (Kind) ((r + j) % _KIND_MAX);
                        gint64 dt, stopped = -1, continued = -1;

                        switch (k) {
                        case KIND_PING:
                                dt = bench_ping(s);
                                break;
                        case KIND_SENDSIGNAL:
                                dt = send_signal(s, sl, SIGCONT, NULL);
                                break;
                        case KIND_STOP_CONTINUE:
                                dt = send_signal(s, sl, SIGSTOP, &stopped);
                                if (dt >= 0)
                                        dt = send_signal(s, sl, SIGCONT, &continued);
                                break;
                        default:
                                g_assert_not_reached();
                        }
                        if (dt < 0)
                                return FALSE;
                        if (!samples)
                                continue;
                        if (k == KIND_STOP_CONTINUE) {
                                g_array_append_val(samples[ROW_STOP_EVENT], stopped);
                                g_array_append_val(samples[ROW_CONTINUE_EVENT], continued);
                        } else
                                g_array_append_val(samples[k], dt);
                }
        return TRUE;
}

/* Kill(0) and Release() the sleeper, checking its one terminal event. */
static gboolean sleeper_stop(BenchService *s, Sleeper *sl) {
        g_autoptr(GVariant) reply = NULL;
        BenchEnd *e;

        if (!bench_call_sync(s, sl->path, BENCH_CW_PROCESS_IFACE, "Kill", g_variant_new("(t)", (guint64) 0),
                             "(si)", &reply))
                return FALSE;
        gint64 deadline = bench_deadline_from_now();
        while (!(e = g_hash_table_lookup(s->ends, sl->path)))
                if (!bench_iterate(deadline)) {
                        bench_fail("%s: no terminal StateChanged for %s after Kill(0)", s->label, sl->path);
                        return FALSE;
                }
        gboolean ok = g_str_equal(e->event, "killed") && e->status == SIGKILL;
        if (!ok)
                bench_fail("%s: the sleeper ended with %s %d", s->label, e->event, e->status);
        g_hash_table_remove(s->ends, sl->path);
        ok = bench_release(s, sl->path) && ok;
        g_clear_pointer(&sl->path, g_free);
        return ok;
}

int main(int argc, char *argv[]) {
        gboolean quick = g_strcmp0(g_getenv("BENCH_QUICK"), "1") == 0;
        gint iterations = 0, children = 0;
        GOptionEntry entries[] = {
                { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "CI smoke run: 100 samples", NULL },
                { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "Samples of each kind", "N" },
                { "children", 'c', 0, G_OPTION_ARG_INT, &children,
                  "Background children watched meanwhile (default 0)", "N" },
                {},
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- SendSignal and stop/continue events");
        static const char *const sleep_argv[] = { "sleep", "3600", NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        GArray *samples[_ROW_MAX];
        BenchStats st[_ROW_MAX];
        BenchService s = {};
        Sleeper sl = {};

        if (!bench_init("bench-signal"))
                return bench_exit_status();
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        if (iterations <= 0)
                iterations = quick ? 100 : 1000;
        children = MAX(children, 0);
        if (!bench_raise_limits((guint) children + 1))
                return bench_exit_status();
        for (int k = 0; k < _ROW_MAX; k++)
                samples[k] = bench_samples_new((guint) iterations);

        s.on_event = on_event;
        s.on_event_userdata = &sl;
        if (!bench_service_up(&s, "service", NULL))
                goto out;
        if (children > 0 && !bench_background_start(&s, (guint) children, 50))
                goto out;

        /* Default events: stop and continue are reported. */
        if (!bench_call_sync(&s, BENCH_CW_MANAGER_PATH, BENCH_CW_MANAGER_IFACE, "Spawn",
                             g_variant_new("(^as@a{sv})", sleep_argv,
                                           g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
                             "(ou)", &reply))
                goto out;
        g_variant_get(reply, "(ou)", &sl.path, NULL);

        if (!run_rounds(&s, &sl, quick ? 10 : 50, NULL) || !run_rounds(&s, &sl, (guint) iterations, samples))
                goto out;

        for (int k = 0; k < _ROW_MAX; k++)
                st[k] = bench_stats_of(samples[k]);
        printf("\nsignals, %d samples each, interleaved, one connection; %d other children watched\n",
               iterations, children);
        printf("%-32s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "min us", "mean us");
        for (int k = 0; k < _ROW_MAX; k++)
                printf("%-32s %10.1f %10.1f %10.1f %10.1f\n", row_label[k], st[k].p50, st[k].p99, st[k].min,
                       st[k].mean);
        printf("\nSendSignal/Ping p50 %.2f  p99 %.2f\n", st[KIND_SENDSIGNAL].p50 / st[KIND_PING].p50,
               st[KIND_SENDSIGNAL].p99 / st[KIND_PING].p99);
        bench_result("signal.sendsignal.p50", st[KIND_SENDSIGNAL].p50, "us");
        bench_result("signal.sendsignal.p99", st[KIND_SENDSIGNAL].p99, "us");
        bench_result("signal.ping.p50", st[KIND_PING].p50, "us");
        bench_result("signal.ping.p99", st[KIND_PING].p99, "us");
        bench_result("signal.ratio", st[KIND_SENDSIGNAL].p50 / st[KIND_PING].p50, "x");
        bench_result("signal.stop_event.p50", st[ROW_STOP_EVENT].p50, "us");
        bench_result("signal.stop_event.p99", st[ROW_STOP_EVENT].p99, "us");
        bench_result("signal.continue_event.p50", st[ROW_CONTINUE_EVENT].p50, "us");
        bench_result("signal.continue_event.p99", st[ROW_CONTINUE_EVENT].p99, "us");

out:
        /* Clean up the polite way only while the service still answers; otherwise the
         * subreaper cleanup below kills what is left. */
        if (s.conn && bench_ping(&s) >= 0) {
                if (sl.path)
                        (void) sleeper_stop(&s, &sl);
                if (s.background && s.background->len > 0)
                        (void) bench_background_stop(&s);
        }
        bench_service_down(&s);
        guint leftovers = bench_reap_leftovers(5000);
        if (leftovers > 0)
                bench_fail("%u leftover processes had to be killed", leftovers);
        for (int k = 0; k < _ROW_MAX; k++)
                g_array_unref(samples[k]);
        g_free(sl.path);
        g_free(sl.event);
        return bench_exit_status();
}
