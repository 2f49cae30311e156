/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * bench-util: what the benchmark programs share. A private bus per service
 * (GTestDBus activating this build's childwatchd through tests/services),
 * bounded waiting, D-Bus call helpers timed the same way everywhere, a
 * background population of sleepers, percentile summaries, the
 * `@result <name> <value> <unit>` lines the report script parses, and the
 * cleanup that makes sure no process outlives a run.
 *
 * Every wait is bounded: BENCH_WAIT_TIMEOUT_S without progress is an error.
 * Errors go through bench_fail(), which makes bench_exit_status() non-zero;
 * nothing here asserts anything about the numbers.
 */

#include <gio/gio.h>
#include <glib.h>
#include <sys/types.h>

#define BENCH_CW_NAME "org.childwatch.ChildWatch1"
#define BENCH_CW_MANAGER_PATH "/org/childwatch/ChildWatch1"
#define BENCH_CW_MANAGER_IFACE "org.childwatch.ChildWatch1.Manager"
#define BENCH_CW_PROCESS_IFACE "org.childwatch.ChildWatch1.Process"
#define BENCH_PEER_IFACE "org.freedesktop.DBus.Peer"

#define BENCH_WAIT_TIMEOUT_S 10
#define BENCH_CALL_TIMEOUT_MS (BENCH_WAIT_TIMEOUT_S * 1000)
/* dbus-daemon's default limit of pending replies per connection is 128 (GTestDBus sets none). */
#define BENCH_PIPELINE_WINDOW 64

/* ---- process setup, errors, time ---- */

/**
 * bench_init() - once, first thing in main()
 * @name: program name used as the prefix of every message
 *
 * Makes this process a subreaper (whatever the services leave behind comes to
 * us, not to a pid 1 that reaps late), ignores SIGPIPE and arms the watchdog
 * that lets bench_iterate() see its deadline.
 *
 * Return: FALSE (with a message) when the process cannot be set up.
 */
gboolean bench_init(const char *name);

/* Reports an error and marks the run as failed. */
void bench_fail(const char *format, ...) G_GNUC_PRINTF(1, 2);
gboolean bench_has_failed(void);
/* EXIT_SUCCESS or EXIT_FAILURE, with a closing line on failure. */
int bench_exit_status(void);

/* CLOCK_MONOTONIC in ns: every timed region starts and ends with it. */
gint64 bench_now_ns(void);
gint64 bench_deadline_from_now(void);
/* One blocking main-loop iteration unless @deadline (bench_now_ns) has passed. */
gboolean bench_iterate(gint64 deadline);

/**
 * bench_raise_limits() - make room for @children watched children
 *
 * Raises RLIMIT_NOFILE (the service inherits it through dbus-daemon and needs a
 * pidfd per child) and RLIMIT_NPROC to what @children need, the hard limits too
 * when allowed (root).
 *
 * Return: FALSE (with a message) when the limits stay too low.
 */
gboolean bench_raise_limits(guint children);

/**
 * bench_children_within_limits() - how many of @wanted children the limits allow
 *
 * Tries to raise the hard limits (root only) first. A run that cannot have all it
 * wanted uses fewer children (with a warning) and reports how many it had, rather than
 * failing: the limit is the machine's, not an error of the service.
 */
guint bench_children_within_limits(guint wanted);

/* ---- one private bus with one childwatchd ---- */

/* The terminal StateChanged of a process, kept until the benchmark consumes it. */
typedef struct BenchEnd {
        char *event;
        int status;
        gint64 seen_ns;
} BenchEnd;

typedef struct BenchService BenchService;

/* A StateChanged as received; @t is bench_now_ns() taken first thing in the handler. */
typedef void (*BenchEventFunc)(BenchService *s, const char *path, const char *event, int status, gint64 t,
                               gpointer userdata);

struct BenchService {
        const char *label;
        GTestDBus *bus;
        GDBusConnection *conn;
        guint subscription;
        GHashTable *ends;         /* object path -> BenchEnd*: terminal StateChanged not yet consumed */
        guint64 n_spawned;        /* processes the benchmark started (counted by the caller) */
        guint64 n_terminal;       /* terminal StateChanged received */
        gint64 last_terminal_ns;  /* when the latest one arrived */
        GPtrArray *background;    /* object paths of the background sleepers (NULL: Spawn failed) */
        GArray *background_pids;  /* pid_t of each, same index */
        pid_t pid;                /* of the service, once activated */
        /* Called for stopped/continued events; when NULL those are reported as errors,
         * since nobody stops our children unless the benchmark means to. Also called
         * for terminal events, after they were recorded in @ends. */
        BenchEventFunc on_event;
        gpointer on_event_userdata;
};

typedef struct BenchServiceOptions {
        /* CHILDWATCH_TEST_ARGS of this bus's service; NULL means "--idle-timeout=0". */
        const char *daemon_args;
        /* A second activation directory on the same bus (a peer service), or NULL. */
        const char *extra_service_dir;
        /* Only bring the bus up and connect; the first call activates the service and
         * bench_service_learn_pid() finds it then (activation benchmarks). */
        gboolean no_activate;
} BenchServiceOptions;

/**
 * bench_service_up() - start a private bus, connect, subscribe to StateChanged and
 * (unless @opts says otherwise) activate the service with a Ping
 * @s: zero-initialised; on failure still pass it to bench_service_down()
 * @opts: NULL for the defaults
 */
gboolean bench_service_up(BenchService *s, const char *label, const BenchServiceOptions *opts);
gboolean bench_service_learn_pid(BenchService *s);
/* SIGTERM to the service, bounded wait, then the bus goes down. Safe on a half-built @s. */
void bench_service_down(BenchService *s);

/* The pid of the connection owning @name on @s's bus, 0 on error (reported). */
pid_t bench_name_owner_pid(BenchService *s, const char *name);
/* SIGTERM, then wait (bounded) until @pid is gone or a zombie. */
void bench_stop_pid(pid_t pid, const char *what);

/* ---- calls: the same code path and timing points for every measured call ---- */

typedef struct BenchCall {
        gboolean done;
        GVariant *reply;
        GError *error;
        gint64 done_ns; /* bench_now_ns() first thing in the reply callback */
} BenchCall;

void bench_call_clear(BenchCall *c);
/* An async call to @dest (NULL: childwatchd). @params is consumed if floating. */
void bench_call_start(BenchService *s, const char *dest, const char *path, const char *iface,
                      const char *method, GVariant *params, const char *reply_type, BenchCall *c);
/* Bounded wait for the reply; an error reply is reported and gives FALSE. */
gboolean bench_call_wait(BenchService *s, BenchCall *c, const char *what);
/* A synchronous call to childwatchd in the same style; for setup and cleanup. */
gboolean bench_call_sync(BenchService *s, const char *path, const char *iface, const char *method,
                         GVariant *params, const char *reply_type, GVariant **ret_reply);
/* Peer.Ping to childwatchd: the round trip in ns, -1 on error. */
gint64 bench_ping(BenchService *s);
gboolean bench_release(BenchService *s, const char *path);

/* Calls @method @n times, at most BENCH_PIPELINE_WINDOW at once: on the manager with
 * @make_params(i, n) when given (Spawn; replies (ou) fill s->background and
 * s->background_pids), else on s->background[i] with @params. */
gboolean bench_call_pipelined(BenchService *s, const char *iface, const char *method, guint n,
                              GVariant *(*make_params)(guint i, guint n), GVariant *params,
                              const char *reply_type);

/* ---- the background population ---- */

/**
 * bench_background_start() - spawn @n `sleep 3600` children on @s
 * @exited_only_percent: how many of them get events=["exited"]; the rest keep the
 *                       default events (stop/continue too), which take the service's
 *                       SIGCHLD path
 */
gboolean bench_background_start(BenchService *s, guint n, guint exited_only_percent);
/* Release() all and check each one's terminal event was @event/@status, announced once. */
gboolean bench_background_release(BenchService *s, const char *event, int status);
/* Kill(0) all, then bench_background_release() expecting killed/SIGKILL. */
gboolean bench_background_stop(BenchService *s);

/* ---- /proc ---- */

/* VmRSS of @pid in KiB, -1 on error (reported). */
gint64 bench_proc_rss_kib(pid_t pid);
/* utime+stime of @pid in ns (clock-tick resolution), -1 on error (reported). */
gint64 bench_proc_cpu_ns(pid_t pid);

/* ---- statistics and results ---- */

typedef struct BenchStats {
        guint n;
        double p50, p99, min, mean; /* microseconds */
} BenchStats;

/* Nearest-rank percentiles of samples in ns (a GArray of gint64, sorted in place). */
BenchStats bench_stats_of(GArray *samples);
GArray *bench_samples_new(guint reserve);

/* `@result <name> <value> <unit>` on stdout, one figure per line, for the report script.
 * A value that is not finite is printed as skipped, with a warning. */
void bench_result(const char *name, double value, const char *unit);
void bench_result_skipped(const char *name);

/* ---- leftovers ---- */

/**
 * bench_reap_leftovers() - make sure no process outlives the run
 *
 * As a subreaper we inherit whatever the services left behind. The dbus-daemons
 * (GTestDBus SIGTERMs them without waiting) and their babysitters get @grace_ms to
 * end by themselves; whatever is left after that is killed, reaped and reported.
 *
 * Return: how many had to be killed.
 */
guint bench_reap_leftovers(guint grace_ms);
