/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Load test: many clients, each on a connection of its own to a private bus,
 * spawn short programs (/bin/true, sh -c 'exit K') and long ones (sleep)
 * through one bus-activated childwatchd and end them every way the interface
 * offers: SendSignal, Kill (at once, after a grace, escalating to SIGKILL),
 * Wait, Release (with and without kill-on-release), and by leaving the bus
 * mid-flight (watch-bus processes must then be killed by the service, the
 * others keep running and a reaper connection kills them).
 *
 * Every spawn has a record with the outcomes its actions allow. One observer
 * connection sees every InterfacesAdded (matched to the record by a unique
 * Description, so a spawn whose reply was lost to a disconnect is still
 * found) and every StateChanged. Afterwards each record must have exactly
 * the terminal events it should (one, or none after a Release of a running
 * process), matching how the process really ended and the Wait/Kill replies;
 * the service has no zombie and no child but the ones it had at the start,
 * no spawned pid is left alive, its open descriptors are back to the count
 * after warm-up and no object is left. RSS is printed every 10,000 spawns.
 *
 * Size and seed: --clients=N --spawns=N (per client) --jobs=N (in flight per
 * client) --seed=N --timeout=SEC, or CW_STRESS_CLIENTS, CW_STRESS_SPAWNS,
 * CW_STRESS_JOBS, CW_STRESS_SEED, CW_STRESS_TIMEOUT. The seed decides every
 * plan (which program, which action, when a client leaves); the interleaving
 * of the clients still depends on timing.
 */

#include "cw-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N_ACCEPT 8
#define CALL_TIMEOUT_MS 30000
#define LINGER_SEC 2
#define RSS_EVERY 10000

typedef enum Kind {
        KIND_TRUE,           /* /bin/true: Wait -> exited 0 */
        KIND_EXIT,           /* sh -c 'exit K': Wait -> exited K */
        KIND_SIGNAL,         /* sleep: SendSignal(S), Wait -> killed S */
        KIND_STOP_KILL,      /* sleep: SendSignal(STOP), Kill(5 s) -> killed 15 */
        KIND_KILL,           /* sleep with kill-signal S: Kill(0) -> killed 9, Kill(5 s) -> killed S */
        KIND_ESCALATE,       /* sh ignoring TERM, exec sleep: Kill(100 ms) -> killed 9 */
        KIND_WAIT_KILL,      /* sleep: Wait pending, then Kill(5 s): both -> killed 15 */
        KIND_RELEASE_KLR,    /* sleep with kill-on-release: Release: no terminal event, pid gone */
        KIND_RELEASE_SHORT,  /* sleep 1: Release while it runs: no event, it ends by itself */
        KIND_WATCH_BUS,      /* sleep with watch-bus: Kill(0) -> killed 9, or the owner leaves -> 15 */
        KIND_PARTING,        /* Spawn sent right before the client leaves: may not exist */
        _KIND_MAX,
} Kind;

static const char *const kind_names[_KIND_MAX] = {
        "true", "exit", "signal", "stop-kill", "kill", "escalate", "wait-kill",
        "release-klr", "release-short", "watch-bus", "parting",
};

/* Weights of the kinds a job picks (KIND_PARTING is only for leaving clients). */
static const guint kind_weights[_KIND_MAX] = { 20, 20, 12, 8, 12, 3, 8, 7, 5, 5, 0 };

typedef enum Expect {
        EXPECT_ONE,  /* exactly one terminal event, in the accepted set */
        EXPECT_NONE, /* none: released while running */
        EXPECT_ANY,  /* none or one (in the accepted set): a race the test cannot decide */
} Expect;

typedef struct Outcome {
        const char *event; /* static string */
        int status;
} Outcome;

typedef struct Record {
        guint id;
        char *tag; /* Description: "stress-<id>" */
        Kind kind;
        int param; /* K of exit, S of signal/kill-signal, 0/1 Kill timeout choice */
        gboolean watch_bus, kill_on_release;
        gboolean kill_now; /* KIND_KILL: Kill(0) rather than Kill(5 s) */
        char *path;
        guint32 pid;
        gboolean may_not_exist; /* Spawn in flight when its client left */
        Expect expect;
        Outcome accept[N_ACCEPT];
        guint n_accept;
        gboolean ended_known;   /* a reply said it ended */
        gboolean needs_reaper;  /* its owner left, it may still run, nobody else ends it */
        gboolean reaper_sent;
        /* seen */
        guint n_terminal;
        char *term_event;
        int term_status;
        guint n_after_terminal;
        char *reply_event; /* from Wait/Kill */
        int reply_status;
        gboolean reply_mismatch;
        gboolean added_seen;
} Record;

typedef struct Client Client;

typedef struct Job {
        int ref;
        Client *client;
        Record *r;
        gboolean abandoned; /* its connection was closed under it */
        guint pending;      /* calls in flight */
        guint poll_ticks;
        gboolean finished;
} Job;

struct Client {
        guint index;
        GDBusConnection *conn;
        guint spawns_left;
        GPtrArray *jobs; /* Job*, those not finished */
        guint n_disconnects;
};

typedef struct Stress {
        CwFixture *f;
        GRand *rand;
        guint n_clients, spawns, jobs_per_client, timeout_s;
        guint64 seed;
        Client *clients;
        GDBusConnection *observer;
        GDBusConnection *reaper;
        GPtrArray *records;       /* Record*, owns */
        GHashTable *by_tag;       /* tag -> Record* */
        GHashTable *by_path;      /* path -> Record* */
        guint n_unknown_events;   /* StateChanged for a path no record has */
        guint n_failures;
        guint n_spawned, n_spawn_failed, n_started;
        guint n_disconnects, n_reaped, n_release_races;
        guint reaper_pending;
        pid_t service;
        guint baseline_fds, baseline_children;
        guint64 rss_baseline_kib;
        GArray *rss_marks; /* guint64 pairs: spawns, kib */
        guint next_rss_mark;
        gint64 start_us;
} Stress;

static Stress *S;

#define stress_fail(...)                                                                                 \
        G_STMT_START {                                                                                   \
                S->n_failures++;                                                                         \
                if (S->n_failures <= 50)                                                                 \
                        g_printerr("# FAIL: " __VA_ARGS__);                                              \
                if (S->n_failures <= 50)                                                                 \
                        g_printerr("\n");                                                                \
        } G_STMT_END

/* ---- options ---- */

static gint opt_clients = -1, opt_spawns = -1, opt_jobs = -1, opt_timeout = -1;
static gint64 opt_seed = -1;

static guint env_or(gint opt, const char *env, guint dflt) {
        if (opt >= 0)
                return (guint) opt;
        const char *v = g_getenv(env);
        return v && *v ? (guint) g_ascii_strtoull(v, NULL, 10) : dflt;
}

/* ---- /proc ---- */

static guint count_fds(pid_t pid, GString *list) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;
        guint n = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                n++;
                if (list) {
                        g_autofree char *p = g_build_filename(path, name, NULL);
                        g_autofree char *target = g_file_read_link(p, NULL);
                        g_string_append_printf(list, " %s:%s", name, target ? target : "?");
                }
        }
        return n;
}

static guint64 status_kib(pid_t pid, const char *field) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        g_autofree char *v = cw_proc_status_field(path, field);
        return v ? g_ascii_strtoull(v, NULL, 10) : 0;
}

/* ---- records ---- */

static void record_free(gpointer p) {
        Record *r = p;
        g_free(r->tag);
        g_free(r->path);
        g_free(r->term_event);
        g_free(r->reply_event);
        g_free(r);
}

static void record_accept(Record *r, const char *event, int status) {
        for (guint i = 0; i < r->n_accept; i++)
                if (g_str_equal(r->accept[i].event, event) && r->accept[i].status == status)
                        return;
        g_assert_cmpuint(r->n_accept, <, N_ACCEPT);
        r->accept[r->n_accept++] = (Outcome) { event, status };
}

static gboolean record_accepts(const Record *r, const char *event, int status) {
        for (guint i = 0; i < r->n_accept; i++)
                if (g_str_equal(r->accept[i].event, event) && r->accept[i].status == status)
                        return TRUE;
        return FALSE;
}

static void record_set_path(Record *r, const char *path) {
        if (r->path) {
                if (!g_str_equal(r->path, path))
                        stress_fail("%s: two paths, %s and %s", r->tag, r->path, path);
                return;
        }
        r->path = g_strdup(path);
        g_hash_table_insert(S->by_path, r->path, r);
}

static Record *record_new(Kind kind) {
        Record *r = g_new0(Record, 1);
        r->id = S->records->len + 1;
        r->tag = g_strdup_printf("stress-%u", r->id);
        r->kind = kind;
        r->expect = EXPECT_ONE;
        g_ptr_array_add(S->records, r);
        g_hash_table_insert(S->by_tag, r->tag, r);
        return r;
}

static gboolean is_terminal(const char *event) {
        return g_str_equal(event, "exited") || g_str_equal(event, "killed") ||
               g_str_equal(event, "dumped") || g_str_equal(event, "vanished");
}

/* A Wait or Kill reply: it must tell the same end as the terminal event. */
static void record_reply(Record *r, const char *state, int status) {
        r->ended_known = TRUE;
        if (!r->reply_event) {
                r->reply_event = g_strdup(state);
                r->reply_status = status;
        } else if (!g_str_equal(r->reply_event, state) || r->reply_status != status) {
                r->reply_mismatch = TRUE;
                stress_fail("%s (%s): replies disagree: %s %d, then %s %d", r->tag, kind_names[r->kind],
                            r->reply_event, r->reply_status, state, status);
        }
}

/* ---- observer ---- */

static void on_added(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                     const char *member, GVariant *params, gpointer userdata) {
        const char *object;
        g_autoptr(GVariant) ifaces = NULL;
        g_autoptr(GVariant) props = NULL;
        const char *desc = NULL;
        guint32 pid = 0;

        g_variant_get(params, "(&o@a{sa{sv}})", &object, &ifaces);
        props = g_variant_lookup_value(ifaces, CW_PROCESS_IFACE, G_VARIANT_TYPE("a{sv}"));
        if (!props)
                return;
        if (!g_variant_lookup(props, "Description", "&s", &desc) ||
            !g_variant_lookup(props, "Pid", "u", &pid)) {
                stress_fail("InterfacesAdded of %s lacks Description or Pid", object);
                return;
        }
        Record *r = g_hash_table_lookup(S->by_tag, desc);
        if (!r) {
                stress_fail("InterfacesAdded of %s (%s): not spawned by this test", object, desc);
                return;
        }
        if (r->added_seen)
                stress_fail("%s: InterfacesAdded twice", r->tag);
        r->added_seen = TRUE;
        record_set_path(r, object);
        if (r->pid && r->pid != pid)
                stress_fail("%s: pid %u in the reply, %u in InterfacesAdded", r->tag, r->pid, pid);
        r->pid = pid;
}

static void on_state_changed(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        const char *event;
        int status;

        g_variant_get(params, "(&si)", &event, &status);
        Record *r = g_hash_table_lookup(S->by_path, path);
        if (!r) {
                S->n_unknown_events++;
                stress_fail("StateChanged(%s, %d) of %s, which no spawn of this test has", event, status,
                            path);
                return;
        }
        if (r->n_terminal > 0) {
                r->n_after_terminal++;
                stress_fail("%s (%s): StateChanged(%s, %d) after the terminal %s %d", r->tag,
                            kind_names[r->kind], event, status, r->term_event, r->term_status);
        }
        if (!is_terminal(event))
                return;
        r->n_terminal++;
        if (r->n_terminal == 1) {
                r->term_event = g_strdup(event);
                r->term_status = status;
        }
}

/* ---- reaper: ends what a departed client left running ---- */

static void on_reaper_kill_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        Record *r = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        S->reaper_pending--;
        if (!v) {
                g_autofree char *remote = g_dbus_error_get_remote_error(error);
                /* The object of an ended process of a departed owner may have lingered out,
                 * and a Release sent right before the owner left may have been handled (the
                 * end of the pid is checked at the end). */
                if (g_strcmp0(remote, "org.freedesktop.DBus.Error.UnknownObject") == 0 &&
                    (r->n_terminal > 0 || r->kind == KIND_RELEASE_KLR || r->kind == KIND_RELEASE_SHORT))
                        return;
                stress_fail("%s (%s): the reaper's Kill(0) of %s: %s", r->tag, kind_names[r->kind], r->path,
                            error->message);
                return;
        }
        const char *state;
        int status;
        g_variant_get(v, "(&si)", &state, &status);
        record_reply(r, state, status);
        S->n_reaped++;
}

static void reaper_sweep(void) {
        for (guint i = 0; i < S->records->len; i++) {
                Record *r = g_ptr_array_index(S->records, i);
                if (!r->needs_reaper || r->reaper_sent || !r->path || r->n_terminal > 0)
                        continue;
                r->reaper_sent = TRUE;
                record_accept(r, "killed", SIGKILL);
                S->reaper_pending++;
                g_dbus_connection_call(S->reaper, CW_NAME, r->path, CW_PROCESS_IFACE, "Kill",
                                       g_variant_new("(t)", (guint64) 0), G_VARIANT_TYPE("(si)"),
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, on_reaper_kill_done,
                                       r);
        }
}

static gboolean on_reaper_tick(gpointer data) {
        reaper_sweep();
        return G_SOURCE_CONTINUE;
}

/* ---- jobs ---- */

static void client_next(Client *c);

static Job *job_ref(Job *j) {
        j->ref++;
        return j;
}

static void job_unref(Job *j) {
        if (--j->ref == 0)
                g_free(j);
}

/* The job is over for its client: the next one may start. */
static void job_finish(Job *j) {
        if (j->finished)
                return;
        j->finished = TRUE;
        if (!j->abandoned) {
                g_ptr_array_remove_fast(j->client->jobs, j);
                job_unref(j);
                client_next(j->client);
        }
}

typedef void (*StepFunc)(Job *j, GVariant *reply, GError *error);

typedef struct Call {
        Job *job;
        StepFunc step;
        const char *method;
} Call;

static void on_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        Call *call = userdata;
        Job *j = call->job;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        j->pending--;
        if (j->abandoned || j->finished) {
                /* The connection was closed under it; what a reply still says counts. */
                if (v && (g_str_equal(call->method, "Wait") || g_str_equal(call->method, "Kill"))) {
                        const char *state;
                        int status;
                        g_variant_get(v, "(&si)", &state, &status);
                        record_reply(j->r, state, status);
                }
        } else
                call->step(j, v, error);
        job_unref(j);
        g_free(call);
}

static void job_call(Job *j, const char *path, const char *iface, const char *method, GVariant *params,
                     const char *reply_type, StepFunc step) {
        Call *call = g_new0(Call, 1);
        call->job = job_ref(j);
        call->step = step;
        call->method = method;
        j->pending++;
        g_dbus_connection_call(j->client->conn, CW_NAME, path, iface, method, params,
                               reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                               CALL_TIMEOUT_MS, NULL, on_call_done, call);
}

static gboolean job_check_error(Job *j, GError *error, const char *what) {
        if (!error)
                return TRUE;
        stress_fail("%s (%s, %s): %s: %s", j->r->tag, kind_names[j->r->kind], j->r->path ? j->r->path : "-",
                    what, error->message);
        job_finish(j);
        return FALSE;
}

static void step_released(Job *j, GVariant *v, GError *error) {
        if (job_check_error(j, error, "Release"))
                job_finish(j);
}

static void job_release(Job *j) {
        job_call(j, j->r->path, CW_PROCESS_IFACE, "Release", NULL, "()", step_released);
}

/* A (s state, i status) reply of Wait or Kill that ends the job (after Release). */
static void step_end_reply(Job *j, GVariant *v, GError *error) {
        if (!job_check_error(j, error, "Wait/Kill"))
                return;
        const char *state;
        int status;
        g_variant_get(v, "(&si)", &state, &status);
        record_reply(j->r, state, status);
        if (!record_accepts(j->r, state, status))
                stress_fail("%s (%s): the reply says %s %d, which its actions do not explain", j->r->tag,
                            kind_names[j->r->kind], state, status);
        if (j->pending == 0)
                job_release(j);
}

static void job_wait(Job *j) {
        job_call(j, j->r->path, CW_PROCESS_IFACE, "Wait", NULL, "(si)", step_end_reply);
}

static void job_kill(Job *j, guint64 timeout_usec) {
        Record *r = j->r;
        int ks = r->param > 0 && r->kind == KIND_KILL ? r->param : SIGTERM;
        record_accept(r, "killed", timeout_usec == 0 ? SIGKILL : (r->kind == KIND_ESCALATE ? SIGKILL : ks));
        job_call(j, r->path, CW_PROCESS_IFACE, "Kill", g_variant_new("(t)", timeout_usec), "(si)",
                 step_end_reply);
}

static void step_signal_sent(Job *j, GVariant *v, GError *error) {
        if (!job_check_error(j, error, "SendSignal"))
                return;
        if (j->r->kind == KIND_STOP_KILL)
                job_kill(j, 5 * G_USEC_PER_SEC);
        else
                job_wait(j);
}

static gboolean escalate_ready(gpointer data) {
        Job *j = data;
        if (j->abandoned) {
                job_unref(j);
                return G_SOURCE_REMOVE;
        }
        g_autofree char *comm = cw_proc_comm((pid_t) j->r->pid);
        if (g_strcmp0(comm, "sleep") == 0 && cw_proc_ignores_signal((pid_t) j->r->pid, SIGTERM)) {
                job_kill(j, 100 * 1000);
                job_unref(j);
                return G_SOURCE_REMOVE;
        }
        if (++j->poll_ticks > 1000) {
                stress_fail("%s: pid %u never ignored SIGTERM", j->r->tag, j->r->pid);
                job_kill(j, 0);
                job_unref(j);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

static void step_spawned(Job *j, GVariant *v, GError *error) {
        Record *r = j->r;
        if (!job_check_error(j, error, "Spawn"))
                return;
        const char *path;
        guint32 pid;
        g_variant_get(v, "(&ou)", &path, &pid);
        record_set_path(r, path);
        if (r->pid && r->pid != pid)
                stress_fail("%s: pid %u in InterfacesAdded, %u in the reply", r->tag, r->pid, pid);
        r->pid = pid;
        S->n_spawned++;

        switch (r->kind) {
        case KIND_TRUE:
        case KIND_EXIT:
                job_wait(j);
                break;
        case KIND_SIGNAL:
        case KIND_STOP_KILL: {
                int sig = r->kind == KIND_STOP_KILL ? SIGSTOP : r->param;
                if (r->kind == KIND_SIGNAL)
                        record_accept(r, "killed", sig);
                job_call(j, r->path, CW_PROCESS_IFACE, "SendSignal", g_variant_new("(ib)", sig, FALSE), "()",
                         step_signal_sent);
                break;
        }
        case KIND_KILL:
                job_kill(j, r->kill_now ? 0 : 5 * G_USEC_PER_SEC);
                break;
        case KIND_ESCALATE:
                g_timeout_add(5, escalate_ready, job_ref(j));
                break;
        case KIND_WAIT_KILL:
                job_wait(j);
                job_kill(j, 5 * G_USEC_PER_SEC);
                break;
        case KIND_RELEASE_KLR:
        case KIND_RELEASE_SHORT:
                job_release(j);
                break;
        case KIND_WATCH_BUS:
                job_kill(j, 0);
                break;
        case KIND_PARTING:
        case _KIND_MAX:
                g_assert_not_reached();
        }
}

static Kind pick_kind(void) {
        guint total = 0, x;
        for (guint k = 0; k < _KIND_MAX; k++)
                total += kind_weights[k];
        x = (guint) g_rand_int_range(S->rand, 0, (gint32) total);
        for (guint k = 0; k < _KIND_MAX; k++) {
                if (x < kind_weights[k])
                        return (Kind) k;
                x -= kind_weights[k];
        }
        g_assert_not_reached();
}

static const int signal_choices[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGKILL, SIGALRM };
static const int kill_signal_choices[] = { SIGTERM, SIGINT, SIGHUP };

/* Plans a record of @kind (its program, options and first expectations) and builds Spawn's arguments. */
static GVariant *plan_spawn(Record *r) {
        GVariantBuilder opts;
        g_autofree char *script = NULL;
        const char *argv_true[] = { "/bin/true", NULL };
        const char *argv_sleep[] = { "sleep", "30", NULL };
        const char *argv_short[] = { "sleep", "1", NULL };
        const char *argv_escalate[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
        const char *argv_exit[] = { "sh", "-c", NULL, NULL };
        const char *const *argv = argv_sleep;

        g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&opts, "{sv}", "description", g_variant_new_string(r->tag));
        switch (r->kind) {
        case KIND_TRUE:
                argv = argv_true;
                record_accept(r, "exited", 0);
                break;
        case KIND_EXIT:
                r->param = g_rand_int_range(S->rand, 0, 256);
                script = g_strdup_printf("exit %d", r->param);
                argv_exit[2] = script;
                argv = argv_exit;
                record_accept(r, "exited", r->param);
                break;
        case KIND_SIGNAL:
                r->param = signal_choices[g_rand_int_range(S->rand, 0, G_N_ELEMENTS(signal_choices))];
                break;
        case KIND_STOP_KILL:
        case KIND_WAIT_KILL:
                break;
        case KIND_KILL:
                r->param =
                        kill_signal_choices[g_rand_int_range(S->rand, 0, G_N_ELEMENTS(kill_signal_choices))];
                g_variant_builder_add(&opts, "{sv}", "kill-signal", g_variant_new_int32(r->param));
                r->kill_now = g_rand_boolean(S->rand);
                r->kill_on_release = g_rand_boolean(S->rand);
                g_variant_builder_add(&opts, "{sv}", "kill-on-release",
                                      g_variant_new_boolean(r->kill_on_release));
                break;
        case KIND_ESCALATE:
                argv = argv_escalate;
                g_variant_builder_add(&opts, "{sv}", "kill-timeout-usec", g_variant_new_uint64(100 * 1000));
                break;
        case KIND_RELEASE_KLR:
                r->kill_on_release = TRUE;
                r->expect = EXPECT_NONE;
                g_variant_builder_add(&opts, "{sv}", "kill-on-release", g_variant_new_boolean(TRUE));
                break;
        case KIND_RELEASE_SHORT:
                argv = argv_short;
                r->expect = EXPECT_NONE;
                /* Under heavy load the Release may come after its end (counted, reported). */
                record_accept(r, "exited", 0);
                break;
        case KIND_WATCH_BUS:
        case KIND_PARTING:
                r->watch_bus = TRUE;
                g_variant_builder_add(&opts, "{sv}", "watch-bus", g_variant_new_boolean(TRUE));
                break;
        case _KIND_MAX:
                g_assert_not_reached();
        }
        if (r->kind == KIND_WATCH_BUS || r->kind == KIND_PARTING)
                g_variant_builder_add(&opts, "{sv}", "events", g_variant_new_strv(NULL, 0));
        return g_variant_new("(^as@a{sv})", argv, g_variant_builder_end(&opts));
}

static void job_start(Client *c, Kind kind) {
        Job *j = g_new0(Job, 1);
        j->ref = 1;
        j->client = c;
        j->r = record_new(kind);
        g_ptr_array_add(c->jobs, j);
        S->n_started++;
        GVariant *params = plan_spawn(j->r);
        job_call(j, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn", params, "(ou)", step_spawned);
}

/* ---- clients ---- */

/* What the client's departure means for a record it had in flight. */
static void record_owner_left(Record *r) {
        /* Its Spawn reply had not come: a Spawn that never reached the service leaves
         * nothing; one that did is found by the observer (and the reaper ends it). */
        if (!r->path)
                r->may_not_exist = TRUE;
        if (r->ended_known)
                return;
        if (r->watch_bus) {
                record_accept(r, "killed", SIGTERM);
                return;
        }
        switch (r->kind) {
        case KIND_RELEASE_KLR:
        case KIND_RELEASE_SHORT:
                /* The Release may or may not have been handled; if not, the reaper ends it. */
                r->expect = EXPECT_ANY;
                break;
        case KIND_TRUE:
        case KIND_EXIT:
                return; /* ends by itself */
        default:
                break;
        }
        if (r->kind == KIND_RELEASE_SHORT)
                return; /* sleep 1 ends by itself */
        r->needs_reaper = TRUE;
}

static void client_connect(Client *c) {
        c->conn = cw_fixture_new_connection(S->f);
}

static void client_leave(Client *c) {
        S->n_disconnects++;
        c->n_disconnects++;
        /* Calls sent right before the end: a Spawn (watch-bus) whose reply is lost, and a
         * second one without watch-bus, which the reaper must end if it ran. */
        for (guint i = 0; i < 2; i++) {
                Record *r = record_new(KIND_PARTING);
                GVariant *params = plan_spawn(r);
                if (i == 1) {
                        /* The same but without watch-bus: it keeps running after we leave. */
                        r->watch_bus = FALSE;
                        g_variant_unref(g_variant_ref_sink(params));
                        GVariantBuilder opts;
                        const char *argv[] = { "sleep", "30", NULL };
                        g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
                        g_variant_builder_add(&opts, "{sv}", "description", g_variant_new_string(r->tag));
                        params = g_variant_new("(^as@a{sv})", argv, g_variant_builder_end(&opts));
                }
                S->n_started++;
                g_dbus_connection_call(c->conn, CW_NAME, CW_MANAGER_PATH, CW_MANAGER_IFACE, "Spawn", params,
                                       G_VARIANT_TYPE("(ou)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
                                       NULL, NULL);
                record_owner_left(r);
        }
        for (guint i = 0; i < c->jobs->len; i++) {
                Job *j = g_ptr_array_index(c->jobs, i);
                j->abandoned = TRUE;
                record_owner_left(j->r);
        }
        /* The jobs' pending calls fail with "closed" and drop their references. */
        while (c->jobs->len > 0) {
                Job *j = g_ptr_array_steal_index_fast(c->jobs, c->jobs->len - 1);
                job_unref(j);
        }
        /* Half the time what was sent reaches the bus before the connection closes (a Spawn
         * then races the departure in the service), else queued calls may be lost with it. */
        if (g_rand_boolean(S->rand))
                g_dbus_connection_flush_sync(c->conn, NULL, NULL);
        g_dbus_connection_close(c->conn, NULL, NULL, NULL);
        g_clear_object(&c->conn);
        client_connect(c);
}

static void client_next(Client *c) {
        while (c->spawns_left > 0 && c->jobs->len < S->jobs_per_client) {
                c->spawns_left--;
                /* About one job in 40 is preceded by its client leaving mid-flight. */
                if (c->jobs->len > 0 && g_rand_int_range(S->rand, 0, 40) == 0)
                        client_leave(c);
                job_start(c, pick_kind());
        }
}

static gboolean clients_idle(gpointer data) {
        for (guint i = 0; i < S->n_clients; i++)
                if (S->clients[i].spawns_left > 0 || S->clients[i].jobs->len > 0)
                        return FALSE;
        return TRUE;
}

/* ---- checks ---- */

static gboolean all_settled(gpointer data) {
        for (guint i = 0; i < S->records->len; i++) {
                Record *r = g_ptr_array_index(S->records, i);
                if (r->expect == EXPECT_ONE && r->n_terminal == 0 && (r->path || !r->may_not_exist))
                        return FALSE;
        }
        return S->reaper_pending == 0;
}

static guint list_count(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = cw_call(S->f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                        "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) list = g_variant_get_child_value(v, 0);
        return (guint) g_variant_n_children(list);
}

static gboolean no_objects(gpointer data) {
        return list_count() == 0;
}

static gboolean children_back(gpointer data) {
        return cw_count_children(S->service) == S->baseline_children;
}

/* Whether @pid is a process the service spawned for us and still has: alive or a zombie of it. */
static gboolean pid_still_ours(guint32 pid) {
        CwProcStat st;
        return pid > 0 && cw_proc_stat((pid_t) pid, &st) && st.ppid == S->service;
}

static void check_records(void) {
        guint by_kind_n[_KIND_MAX] = { 0 };
        guint not_spawned = 0;

        for (guint i = 0; i < S->records->len; i++) {
                Record *r = g_ptr_array_index(S->records, i);
                by_kind_n[r->kind]++;
                if (!r->path) {
                        if (!r->may_not_exist)
                                stress_fail("%s (%s): never spawned", r->tag, kind_names[r->kind]);
                        not_spawned++;
                        continue;
                }
                switch (r->expect) {
                case EXPECT_ONE:
                        if (r->n_terminal != 1)
                                stress_fail("%s (%s, pid %u): %u terminal events, expected 1", r->tag,
                                            kind_names[r->kind], r->pid, r->n_terminal);
                        break;
                case EXPECT_NONE:
                        if (r->n_terminal == 1 && r->kind == KIND_RELEASE_SHORT)
                                S->n_release_races++;
                        else if (r->n_terminal != 0)
                                stress_fail(
                                        "%s (%s, pid %u): %u terminal events after Release, expected none",
                                        r->tag, kind_names[r->kind], r->pid, r->n_terminal);
                        break;
                case EXPECT_ANY:
                        if (r->n_terminal > 1)
                                stress_fail("%s (%s, pid %u): %u terminal events", r->tag,
                                            kind_names[r->kind], r->pid, r->n_terminal);
                        break;
                }
                if (r->n_terminal >= 1 && !record_accepts(r, r->term_event, r->term_status)) {
                        GString *acc = g_string_new(NULL);
                        for (guint k = 0; k < r->n_accept; k++)
                                g_string_append_printf(acc, " %s/%d", r->accept[k].event,
                                                       r->accept[k].status);
                        stress_fail("%s (%s, pid %u): ended %s %d; its actions allow:%s", r->tag,
                                    kind_names[r->kind], r->pid, r->term_event, r->term_status, acc->str);
                        g_string_free(acc, TRUE);
                }
                if (r->reply_event && r->n_terminal >= 1 &&
                    (!g_str_equal(r->reply_event, r->term_event) || r->reply_status != r->term_status))
                        stress_fail("%s (%s): Wait/Kill replied %s %d, StateChanged said %s %d", r->tag,
                                    kind_names[r->kind], r->reply_event, r->reply_status, r->term_event,
                                    r->term_status);
                if (r->reply_event && r->n_terminal == 0)
                        stress_fail("%s (%s): Wait/Kill replied %s %d, but no StateChanged came", r->tag,
                                    kind_names[r->kind], r->reply_event, r->reply_status);
                if (pid_still_ours(r->pid))
                        stress_fail("%s (%s): pid %u is still a child of the service (state %c)", r->tag,
                                    kind_names[r->kind], r->pid, cw_proc_state((pid_t) r->pid));
        }
        g_print("# records: %u (", S->records->len);
        for (guint k = 0; k < _KIND_MAX; k++)
                g_print("%s%s %u", k ? ", " : "", kind_names[k], by_kind_n[k]);
        g_print("); spawn replies %u, parting spawns that never ran %u, disconnects %u, reaper kills %u, "
                "Release-after-end races %u\n",
                S->n_spawned, not_spawned, S->n_disconnects, S->n_reaped, S->n_release_races);
}

/* ---- RSS marks ---- */

static void rss_mark(guint spawns) {
        guint64 kib = status_kib(S->service, "VmRSS");
        guint64 pair[2] = { spawns, kib };
        g_array_append_vals(S->rss_marks, pair, 2);
        g_print("# RSS of the service after %u spawns: %" G_GUINT64_FORMAT " KiB (%u fds, %.1f s)\n", spawns,
                kib, count_fds(S->service, NULL), (double) (g_get_monotonic_time() - S->start_us) / 1e6);
}

static gboolean on_rss_tick(gpointer data) {
        while (S->n_started >= S->next_rss_mark) {
                rss_mark(S->next_rss_mark);
                S->next_rss_mark += RSS_EVERY;
        }
        return G_SOURCE_CONTINUE;
}

/* ---- warm-up: every kind of timer and source the run will use, before the baseline ---- */

static void warm_up(void) {
        CwFixture *f = S->f;
        const char *sleep_argv[] = { "sleep", "30", NULL };
        g_autofree char *state = NULL;
        int status;
        g_autoptr(GError) error = NULL;

        g_autofree char *a = cw_spawn(f, sleep_argv, NULL, NULL);
        cw_send_signal(f->conn, a, SIGSTOP, FALSE, &error);
        g_assert_no_error(error);
        cw_kill(f->conn, a, G_USEC_PER_SEC, &state, &status);
        g_assert_cmpstr(state, ==, "killed");
        cw_release(f->conn, a);
        /* An object of a departed owner (linger timer) and a watch-bus kill. */
        GDBusConnection *gone = cw_fixture_new_connection(f);
        g_autofree char *b = cw_spawn_full(gone, sleep_argv, g_variant_new_parsed("{'watch-bus': <true>}"),
                                           NULL, NULL, &error);
        g_assert_no_error(error);
        g_dbus_connection_close_sync(gone, NULL, NULL);
        g_object_unref(gone);
        g_assert_cmpint(cw_wait_for_event(f, b, "killed", 10000), ==, SIGTERM);
        if (!cw_wait_until(no_objects, NULL, (LINGER_SEC + 10) * 1000))
                g_error("warm-up: objects left after the linger time");
}

/* ---- the test ---- */

static void dump_stuck(void) {
        guint shown = 0;
        for (guint i = 0; i < S->records->len && shown < 20; i++) {
                Record *r = g_ptr_array_index(S->records, i);
                if (r->expect == EXPECT_ONE && r->n_terminal == 0) {
                        g_printerr("# stuck: %s (%s) path %s pid %u state %c reply %s\n", r->tag,
                                   kind_names[r->kind], r->path ? r->path : "-", r->pid,
                                   r->pid ? cw_proc_state((pid_t) r->pid) : '-',
                                   r->reply_event ? r->reply_event : "-");
                        shown++;
                }
        }
}

static gboolean run_until(gboolean (*done)(gpointer), gint64 deadline_us) {
        while (!done(NULL)) {
                if (g_get_monotonic_time() >= deadline_us)
                        return FALSE;
                g_main_context_iteration(NULL, TRUE);
        }
        return TRUE;
}

static void test_load(CwFixture *f, gconstpointer data) {
        Stress s = { 0 };
        g_autoptr(GError) error = NULL;

        S = &s;
        s.f = f;
        s.n_clients = env_or(opt_clients, "CW_STRESS_CLIENTS", 8);
        s.spawns = env_or(opt_spawns, "CW_STRESS_SPAWNS", 100);
        s.jobs_per_client = MAX(1, env_or(opt_jobs, "CW_STRESS_JOBS", 4));
        s.timeout_s = env_or(opt_timeout, "CW_STRESS_TIMEOUT", 240);
        if (opt_seed >= 0)
                s.seed = (guint64) opt_seed;
        else if (g_getenv("CW_STRESS_SEED"))
                s.seed = g_ascii_strtoull(g_getenv("CW_STRESS_SEED"), NULL, 10);
        else
                s.seed = (guint64) g_get_real_time() ^ (guint64) getpid();
        s.seed &= 0xffffffffu;
        g_print("# stress: %u clients x %u spawns, %u jobs in flight per client, seed %" G_GUINT64_FORMAT
                " (rerun with --seed=%" G_GUINT64_FORMAT "), timeout %u s\n",
                s.n_clients, s.spawns, s.jobs_per_client, s.seed, s.seed, s.timeout_s);
        s.rand = g_rand_new_with_seed((guint32) s.seed);
        s.records = g_ptr_array_new_with_free_func(record_free);
        s.by_tag = g_hash_table_new(g_str_hash, g_str_equal);
        s.by_path = g_hash_table_new(g_str_hash, g_str_equal);
        s.rss_marks = g_array_new(FALSE, FALSE, sizeof(guint64));
        s.next_rss_mark = RSS_EVERY;

        s.service = cw_service_pid(f);
        warm_up();
        s.baseline_fds = count_fds(s.service, NULL);
        s.baseline_children = cw_count_children(s.service);
        s.rss_baseline_kib = status_kib(s.service, "VmRSS");
        g_print("# service pid %d after warm-up: %u fds, %u children (the spawn helper), RSS "
                "%" G_GUINT64_FORMAT " KiB\n",
                (int) s.service, s.baseline_fds, s.baseline_children, s.rss_baseline_kib);

        s.observer = cw_fixture_new_connection(f);
        s.reaper = cw_fixture_new_connection(f);
        guint sub_added = g_dbus_connection_signal_subscribe(s.observer, CW_NAME,
                                                             "org.freedesktop.DBus.ObjectManager",
                                                             "InterfacesAdded", CW_MANAGER_PATH, NULL,
                                                             G_DBUS_SIGNAL_FLAGS_NONE, on_added, NULL, NULL);
        guint sub_state = g_dbus_connection_signal_subscribe(
                s.observer, CW_NAME, CW_PROCESS_IFACE, "StateChanged", NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                on_state_changed, NULL, NULL);
        /* The match rules are in place once the bus answered a call after them. */
        g_autoptr(GVariant) id = g_dbus_connection_call_sync(
                s.observer, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
                NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        (void) id; /* held for its cleanup only */

        s.start_us = g_get_monotonic_time();
        gint64 deadline = s.start_us + (gint64) s.timeout_s * G_USEC_PER_SEC;
        guint reaper_tick = g_timeout_add(200, on_reaper_tick, NULL);
        guint rss_tick = g_timeout_add(100, on_rss_tick, NULL);

        s.clients = g_new0(Client, s.n_clients);
        for (guint i = 0; i < s.n_clients; i++) {
                s.clients[i].index = i;
                s.clients[i].spawns_left = s.spawns;
                s.clients[i].jobs = g_ptr_array_new();
                client_connect(&s.clients[i]);
        }
        for (guint i = 0; i < s.n_clients; i++)
                client_next(&s.clients[i]);

        gboolean ok = run_until(clients_idle, deadline);
        gint64 load_end = g_get_monotonic_time();
        if (!ok) {
                dump_stuck();
                g_error("the clients did not finish within %u s (seed %" G_GUINT64_FORMAT ")", s.timeout_s,
                        s.seed);
        }
        on_rss_tick(NULL);
        g_print("# load phase: %u spawns requested in %.1f s (%.0f/s); peak RSS (VmHWM) %" G_GUINT64_FORMAT
                " KiB\n",
                s.n_started, (double) (load_end - s.start_us) / 1e6,
                s.n_started / ((double) (load_end - s.start_us) / 1e6), status_kib(s.service, "VmHWM"));

        /* What departed clients left running, the reaper ends; then every expected end must come. */
        reaper_sweep();
        gint64 settle_deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        while (!all_settled(NULL) && g_get_monotonic_time() < settle_deadline) {
                reaper_sweep();
                g_main_context_iteration(NULL, TRUE);
        }
        if (!all_settled(NULL)) {
                dump_stuck();
                stress_fail("not every process ended within 30 s after the load");
        }
        /* Late or duplicate signals would still be on their way. */
        cw_spin(500);
        g_source_remove(reaper_tick);
        g_source_remove(rss_tick);

        if (!cw_wait_until(no_objects, NULL, (LINGER_SEC + 15) * 1000))
                stress_fail("%u objects left %u s after the load (linger is %u s)", list_count(),
                            LINGER_SEC + 15, LINGER_SEC);
        if (!cw_wait_until(children_back, NULL, 15000))
                stress_fail("the service has %u children, %u before the load", cw_count_children(s.service),
                            s.baseline_children);
        g_assert_cmpuint(cw_count_zombies(s.service), ==, 0);
        check_records();

        g_autoptr(GString) fds = g_string_new(NULL);
        guint end_fds = count_fds(s.service, fds);
        guint64 end_rss = status_kib(s.service, "VmRSS");
        g_print("# after the load: %u fds (baseline %u), RSS %" G_GUINT64_FORMAT
                " KiB (baseline %" G_GUINT64_FORMAT " KiB, %+" G_GINT64_FORMAT " KiB), %.1f s in all\n",
                end_fds, s.baseline_fds, end_rss, s.rss_baseline_kib,
                (gint64) end_rss - (gint64) s.rss_baseline_kib,
                (double) (g_get_monotonic_time() - s.start_us) / 1e6);
        if (end_fds != s.baseline_fds)
                stress_fail("the service has %u open fds, %u after warm-up:%s", end_fds, s.baseline_fds,
                            fds->str);
        /* The RSS marks, for the long run: flat between 10,000 and the last. */
        if (s.rss_marks->len >= 4) {
                guint64 first = g_array_index(s.rss_marks, guint64, 1);
                guint64 last = g_array_index(s.rss_marks, guint64, s.rss_marks->len - 1);
                g_print("# RSS at %" G_GUINT64_FORMAT " spawns: %" G_GUINT64_FORMAT
                        " KiB, at %" G_GUINT64_FORMAT " spawns: %" G_GUINT64_FORMAT
                        " KiB (%+" G_GINT64_FORMAT " KiB)\n",
                        g_array_index(s.rss_marks, guint64, 0), first,
                        g_array_index(s.rss_marks, guint64, s.rss_marks->len - 2), last,
                        (gint64) last - (gint64) first);
                if (g_getenv("CW_STRESS_RSS_TOLERANCE_KIB")) {
                        gint64 tol = g_ascii_strtoll(g_getenv("CW_STRESS_RSS_TOLERANCE_KIB"), NULL, 10);
                        if (ABS((gint64) last - (gint64) first) > tol)
                                stress_fail("RSS grew from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                                            " KiB, more than %" G_GINT64_FORMAT " KiB",
                                            first, last, tol);
                }
        }

        g_dbus_connection_signal_unsubscribe(s.observer, sub_added);
        g_dbus_connection_signal_unsubscribe(s.observer, sub_state);
        for (guint i = 0; i < s.n_clients; i++) {
                g_dbus_connection_close_sync(s.clients[i].conn, NULL, NULL);
                g_clear_object(&s.clients[i].conn);
                g_ptr_array_unref(s.clients[i].jobs);
        }
        g_free(s.clients);
        g_dbus_connection_close_sync(s.observer, NULL, NULL);
        g_dbus_connection_close_sync(s.reaper, NULL, NULL);
        g_clear_object(&s.observer);
        g_clear_object(&s.reaper);
        guint failures = s.n_failures;
        g_hash_table_unref(s.by_tag);
        g_hash_table_unref(s.by_path);
        g_ptr_array_unref(s.records);
        g_array_unref(s.rss_marks);
        g_rand_free(s.rand);
        S = NULL;
        if (failures > 0)
                g_test_fail_printf("%u failures (seed %" G_GUINT64_FORMAT ")", failures, s.seed);
}

static void setup(CwFixture *f, gconstpointer data) {
        g_autofree char *args = g_strdup_printf("--linger=%d --idle-timeout=0", LINGER_SEC);
        cw_fixture_setup_with_args(f, args);
}

int main(int argc, char **argv) {
        const GOptionEntry entries[] = {
                {"clients", 0, 0, G_OPTION_ARG_INT, &opt_clients, "concurrent clients (8)", "N"},
                {"spawns", 0, 0, G_OPTION_ARG_INT, &opt_spawns, "spawns per client (100)", "N"},
                {"jobs", 0, 0, G_OPTION_ARG_INT, &opt_jobs, "spawns in flight per client (4)", "N"},
                {"seed", 0, 0, G_OPTION_ARG_INT64, &opt_seed, "RNG seed (random)", "N"},
                {"timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout, "seconds the load may take (240)", "SEC"},
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
        g_autoptr(GError) error = NULL;

        g_option_context_add_main_entries(ctx, entries, NULL);
        g_option_context_set_ignore_unknown_options(ctx, TRUE);
        g_option_context_set_help_enabled(ctx, FALSE);
        if (!g_option_context_parse(ctx, &argc, &argv, &error))
                g_error("%s", error->message);
        cw_test_init(&argc, &argv);
        g_test_add("/stress/load", CwFixture, NULL, setup, test_load, cw_fixture_teardown);
        return g_test_run();
}
