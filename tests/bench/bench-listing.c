/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-listing: how long does another client wait while the service lists
 * many objects?
 *
 * One private bus and service watching --objects running `sleep 3600`
 * (10,000 by default, 500 with --quick). A second connection calls
 * ObjectManager.GetManagedObjects back to back (--calls times) while the
 * first one measures Peer.Ping round trips, one after the other, until the
 * last GetManagedObjects has been answered: the Ping stall is the worst of
 * those. The baseline in the same run is as many Pings with no listing going
 * on. It prints p50/p99/max of both, their ratios, the GetManagedObjects
 * round trip and its reply size. A third phase is the floor: Pings while the
 * second connection sends the service the body of a GetManagedObjects reply
 * (which it refuses unread), so that dbus-daemon reads, validates and relays
 * the same message, without the service building anything.
 *
 * Both clients are sd-bus connections of their own, each in its own thread:
 * GDBus reads every connection of a process in one worker thread, which
 * parses an 8 MB reply into GVariants for about as long as the service takes
 * to build it, so a GDBus Ping would measure its own client's parser.
 *
 * A Ping waits behind whatever the service is doing when it arrives (one
 * thread): building a reply, and writing it to dbus-daemon, which reads and
 * validates all of it before the Ping's reply, queued behind it on the same
 * connection, gets its turn. Every wait is bounded; any error makes the exit
 * status non-zero. The benchmark asserts nothing about the numbers.
 */

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "bench-util.h"

/* An sd-bus connection of its own to the bench's bus (NULL with a reported error). */
static sd_bus *client_connect(BenchService *s, const char *what) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, g_test_dbus_get_bus_address(s->bus));
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                bench_fail("%s: cannot connect: %s", what, g_strerror(-r));
                return sd_bus_flush_close_unref(bus);
        }
        return bus;
}

typedef struct Pinger {
        sd_bus *bus;
        guint n;                /* stop after this many samples (0: when told) */
        gint stop;              /* atomic */
        GArray *samples;        /* ns */
        char *error;
} Pinger;

static gpointer pinger_run(gpointer data) {
        Pinger *p = data;
        gint64 deadline = bench_now_ns() + (gint64) 600 * G_GINT64_CONSTANT(1000000000);

        while (p->n > 0 ? p->samples->len < p->n : !g_atomic_int_get(&p->stop)) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                gint64 t0 = bench_now_ns();
                int r = sd_bus_call_method(p->bus, BENCH_CW_NAME, BENCH_CW_MANAGER_PATH, BENCH_PEER_IFACE, "Ping",
                                           &error, &reply, "");
                gint64 dt = bench_now_ns() - t0;
                sd_bus_message_unref(reply);
                if (r < 0) {
                        p->error = g_strdup_printf("Ping: %s", error.message ?: g_strerror(-r));
                        sd_bus_error_free(&error);
                        break;
                }
                g_array_append_val(p->samples, dt);
                if (bench_now_ns() > deadline) {
                        p->error = g_strdup("the run did not end within 600 s");
                        break;
                }
        }
        return NULL;
}

/* Calls GetManagedObjects @n times, one after the other; their round trips go to @rtt. */
static gboolean list_objects(sd_bus *bus, guint n, guint expected, GArray *rtt) {
        for (guint i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                gint64 t0 = bench_now_ns();
                int r = sd_bus_call_method(bus, BENCH_CW_NAME, BENCH_CW_MANAGER_PATH,
                                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &error,
                                           &reply, "");
                gint64 dt = bench_now_ns() - t0;
                if (r < 0) {
                        bench_fail("GetManagedObjects: %s", error.message ?: g_strerror(-r));
                        sd_bus_error_free(&error);
                        return FALSE;
                }
                g_array_append_val(rtt, dt);
                /* Count the objects of the first reply only: reading is not what is measured. */
                guint count = 0;
                if (i == 0) {
                        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
                        while (r >= 0 && (r = sd_bus_message_skip(reply, "{oa{sa{sv}}}")) > 0)
                                count++;
                        if (r < 0 || count != expected)
                                bench_fail("GetManagedObjects listed %u objects, not %u (%s)", count, expected,
                                           r < 0 ? g_strerror(-r) : "read");
                }
                sd_bus_message_unref(reply);
        }
        return !bench_has_failed();
}

/* The relay floor: @n calls to the service that carry the body of a GetManagedObjects reply
 * (@model), to a method it does not have, which sd-bus answers UnknownMethod without reading
 * it. dbus-daemon reads, validates and passes on the very same bytes and types as for a reply,
 * the other way, and a Ping to the service queues behind them in the same way; the service
 * builds nothing. The calls are built before the phase starts. */
static sd_bus_message **relay_prepare(sd_bus *bus, guint n, sd_bus_message *model) {
        sd_bus_message **calls = g_new0(sd_bus_message *, n + 1);
        int r = 0;

        for (guint i = 0; i < n && r >= 0; i++) {
                r = sd_bus_message_new_method_call(bus, &calls[i], BENCH_CW_NAME, BENCH_CW_MANAGER_PATH,
                                                   "org.childwatch.Bench", "Relay");
                if (r >= 0)
                        r = sd_bus_message_rewind(model, 1);
                if (r >= 0)
                        r = sd_bus_message_copy(calls[i], model, 1);
        }
        if (r < 0)
                bench_fail("cannot build the relay calls: %s", g_strerror(-r));
        return calls;
}

static void relay_free(sd_bus_message **calls) {
        for (guint i = 0; calls && calls[i]; i++)
                sd_bus_message_unref(calls[i]);
        g_free(calls);
}

static gboolean relay_bytes(sd_bus *bus, sd_bus_message **calls, GArray *rtt) {
        for (guint i = 0; calls[i]; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                gint64 t0 = bench_now_ns();
                int r = sd_bus_call(bus, calls[i], (uint64_t) BENCH_CALL_TIMEOUT_MS * 1000, &error, &reply);
                gint64 dt = bench_now_ns() - t0;
                sd_bus_message_unref(reply);
                gboolean ok = r < 0 && (sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
                                        sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD));
                if (!ok)
                        bench_fail("the relay call: %s", r >= 0 ? "answered" : error.message ?: g_strerror(-r));
                sd_bus_error_free(&error);
                if (!ok)
                        return FALSE;
                g_array_append_val(rtt, dt);
        }
        return TRUE;
}

/* One GetManagedObjects reply, the model of the relay calls; NULL on error (reported). */
static sd_bus_message *get_model(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, BENCH_CW_NAME, BENCH_CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                   "GetManagedObjects", &error, &reply, "");
        if (r < 0)
                bench_fail("GetManagedObjects: %s", error.message ?: g_strerror(-r));
        sd_bus_error_free(&error);
        return r < 0 ? NULL : reply;
}

/* The size of one GetManagedObjects reply as it went over the bus; 0 on error (reported). */
static gsize reply_size(BenchService *s) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusMessage) call = g_dbus_message_new_method_call(
                BENCH_CW_NAME, BENCH_CW_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
        g_autoptr(GDBusMessage) reply = g_dbus_connection_send_message_with_reply_sync(
                s->conn, call, G_DBUS_SEND_MESSAGE_FLAGS_NONE, BENCH_CALL_TIMEOUT_MS, NULL, NULL, &error);
        gsize size = 0;

        if (!reply || g_dbus_message_to_gerror(reply, &error)) {
                bench_fail("GetManagedObjects: %s", error->message);
                return 0;
        }
        g_autofree guchar *blob = g_dbus_message_to_blob(reply, &size, 0, &error);
        if (!blob)
                bench_fail("cannot serialize the reply: %s", error->message);
        return size;
}

static double max_us(GArray *samples) {
        gint64 m = 0;
        for (guint i = 0; i < samples->len; i++)
                m = MAX(m, g_array_index(samples, gint64, i));
        return (double) m / 1000.0;
}

/* Runs the pinger alone until @n samples, or (n == 0) while @lister lists @calls times (or,
 * with @relay_calls, sends those to the service). */
static gboolean run_phase(Pinger *p, guint n, sd_bus *lister, guint calls, guint expected,
                          sd_bus_message **relay_calls, GArray *rtt) {
        p->n = n;
        g_atomic_int_set(&p->stop, 0);
        GThread *t = g_thread_new("bench-pinger", pinger_run, p);
        gboolean ok = TRUE;
        if (lister && relay_calls)
                ok = relay_bytes(lister, relay_calls, rtt);
        else if (lister)
                ok = list_objects(lister, calls, expected, rtt);
        g_atomic_int_set(&p->stop, 1);
        g_thread_join(t);
        if (p->error) {
                bench_fail("%s", p->error);
                g_clear_pointer(&p->error, g_free);
                ok = FALSE;
        }
        return ok;
}

int main(int argc, char *argv[]) {
        gboolean quick = g_strcmp0(g_getenv("BENCH_QUICK"), "1") == 0;
        gint objects = 0, calls = 0;
        GOptionEntry entries[] = {
                { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "CI smoke run: 500 objects, 5 listings", NULL },
                { "objects", 'o', 0, G_OPTION_ARG_INT, &objects, "Objects listed (default 10000)", "N" },
                { "calls", 'n', 0, G_OPTION_ARG_INT, &calls, "GetManagedObjects calls (default 20)", "N" },
                {},
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- Ping while GetManagedObjects lists");
        g_autoptr(GError) error = NULL;
        GArray *baseline = bench_samples_new(4096), *during = bench_samples_new(4096), *rtt = bench_samples_new(64);
        GArray *relayed = bench_samples_new(4096), *relay_rtt = bench_samples_new(64);
        Pinger p = {};
        sd_bus *lister = NULL;
        sd_bus_message *model = NULL, **relay = NULL;
        BenchService s = {};
        gsize size = 0;

        if (!bench_init("bench-listing"))
                return bench_exit_status();
        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return EXIT_FAILURE;
        }
        if (objects <= 0)
                objects = quick ? 500 : 10000;
        if (calls <= 0)
                calls = quick ? 5 : 20;
        objects = (gint) bench_children_within_limits((guint) objects);
        if (!bench_raise_limits((guint) objects + 1))
                return bench_exit_status();

        if (!bench_service_up(&s, "service", NULL))
                goto out;
        if (!bench_background_start(&s, (guint) objects, 100))
                goto out;
        printf("service pid %d, %d objects\n", (int) s.pid, objects);
        fflush(stdout);
        p.bus = client_connect(&s, "pinger");
        lister = client_connect(&s, "lister");
        if (!p.bus || !lister)
                goto out;
        size = reply_size(&s);

        /* Warm-up of both paths, then Pings during the listings, then as many alone. */
        p.samples = baseline;
        model = get_model(lister);
        if (!model)
                goto out;
        relay = relay_prepare(lister, 1, model);
        if (bench_has_failed() || !run_phase(&p, 0, lister, 1, (guint) objects, NULL, rtt) ||
            !run_phase(&p, 0, lister, 0, 0, relay, relay_rtt))
                goto out;
        relay_free(relay);
        relay = relay_prepare(lister, (guint) calls, model);
        if (bench_has_failed())
                goto out;
        g_array_set_size(baseline, 0);
        g_array_set_size(rtt, 0);
        g_array_set_size(relay_rtt, 0);
        p.samples = during;
        if (!run_phase(&p, 0, lister, (guint) calls, (guint) objects, NULL, rtt))
                goto out;
        p.samples = relayed;
        if (!run_phase(&p, 0, lister, 0, 0, relay, relay_rtt))
                goto out;
        p.samples = baseline;
        if (!run_phase(&p, MAX(during->len, 1000U), NULL, 0, 0, NULL, NULL))
                goto out;

        double during_max = max_us(during), baseline_max = max_us(baseline), list_max = max_us(rtt);
        double relayed_max = max_us(relayed), relay_max = max_us(relay_rtt);
        BenchStats b = bench_stats_of(baseline), d = bench_stats_of(during), g = bench_stats_of(rtt);
        BenchStats rl = bench_stats_of(relayed), rr = bench_stats_of(relay_rtt);
        printf("\nPing while another client lists %d objects with GetManagedObjects (%d calls, %" G_GSIZE_FORMAT
               " bytes each)\n",
               objects, calls, size);
        printf("%-34s %8s %10s %10s %10s\n", "", "samples", "p50 us", "p99 us", "max us");
        printf("%-34s %8u %10.1f %10.1f %10.1f\n", "Ping, nothing else going on", b.n, b.p50, b.p99, baseline_max);
        printf("%-34s %8u %10.1f %10.1f %10.1f\n", "Ping during GetManagedObjects", d.n, d.p50, d.p99, during_max);
        printf("%-34s %8u %10.1f %10.1f %10.1f\n", "Ping during a relay of as many bytes", rl.n, rl.p50, rl.p99,
               relayed_max);
        printf("%-34s %8u %10.1f %10.1f %10.1f\n", "GetManagedObjects round trip", g.n, g.p50, g.p99, list_max);
        printf("%-34s %8u %10.1f %10.1f %10.1f\n", "relay round trip", rr.n, rr.p50, rr.p99, relay_max);
        printf("\nduring/alone: p50 %.1fx, p99 %.1fx, max %.1fx\n", d.p50 / b.p50, d.p99 / b.p99,
               during_max / baseline_max);
        printf("during/relay: p99 %.2fx, max %.2fx; GetManagedObjects/relay round trip p50 %.2fx\n",
               d.p99 / rl.p99, during_max / relayed_max, g.p50 / rr.p50);
        bench_result("listing.objects", objects, "objects");
        bench_result("listing.reply_size", (double) size, "bytes");
        bench_result("listing.ping.alone.p99", b.p99, "us");
        bench_result("listing.ping.alone.max", baseline_max, "us");
        bench_result("listing.ping.during.p50", d.p50, "us");
        bench_result("listing.ping.during.p99", d.p99, "us");
        bench_result("listing.ping.during.max", during_max, "us");
        bench_result("listing.ping.ratio.p99", d.p99 / b.p99, "x");
        bench_result("listing.ping.ratio.max", during_max / baseline_max, "x");
        bench_result("listing.ping.relay.p99", rl.p99, "us");
        bench_result("listing.ping.relay.max", relayed_max, "us");
        bench_result("listing.ping.over_relay.max", during_max / relayed_max, "x");
        bench_result("listing.relay.p50", rr.p50, "us");
        bench_result("listing.get_managed_objects.p50", g.p50, "us");
        bench_result("listing.get_managed_objects.max", list_max, "us");

out:
        relay_free(relay);
        sd_bus_message_unref(model);
        sd_bus_flush_close_unref(p.bus);
        sd_bus_flush_close_unref(lister);
        if (s.conn && bench_ping(&s) >= 0 && s.background && s.background->len > 0)
                (void) bench_background_stop(&s);
        bench_service_down(&s);
        guint leftovers = bench_reap_leftovers(5000);
        if (leftovers > 0)
                bench_fail("%u leftover processes had to be killed", leftovers);
        g_array_unref(baseline);
        g_array_unref(during);
        g_array_unref(rtt);
        g_array_unref(relayed);
        g_array_unref(relay_rtt);
        return bench_exit_status();
}
