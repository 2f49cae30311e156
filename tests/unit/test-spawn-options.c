/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The a{sv} options of Spawn and Adopt are the largest piece of client input
 * the service reads. These tests build real sd_bus_message objects (see
 * bus-message-util.h) and check that every key and type of API.md is read,
 * that everything else is refused with the error a client can act on
 * (InvalidArgs naming the key, LimitExceeded above the bounds), and that the
 * string-list reader stays within its limits.
 */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-message-util.h"
#include "bus-util.h"
#include "child-state.h"
#include "spawn-options.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)

/* Frees only the array, as bus_message_read_strv_bounded() wants. */
typedef char *BorrowedStrv;
static void borrowed_strv_free(BorrowedStrv *l) {
        free(l);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BorrowedStrv, borrowed_strv_free)

/* The options table of API.md: the keys and types clients program against. */
static const struct {
        const char *key;
        const char *signature;
} api_options[] = {
        { "cwd", "s" },
        { "environment", "as" },
        { "clear-environment", "b" },
        { "unset-environment", "as" },
        { "stdin", "h" },
        { "stdout", "h" },
        { "stderr", "h" },
        { "fds", "a{uh}" },
        { "new-session", "b" },
        { "events", "as" },
        { "watch-bus", "b" },
        { "kill-on-release", "b" },
        { "kill-signal", "i" },
        { "kill-timeout-usec", "t" },
        { "description", "s" },
        { "tree", "b" }, /* additions to API.md: issue 3 */
        { "user", "s" }, /* issue 4 */
        { "group", "s" },
        { "pty", "b" }, /* issue 5 */
        { "pty-size", "(uu)" },
};

/* API.md: the options Adopt and AdoptPid take. */
static const char *const adopt_keys[] = {
        "description", "events", "watch-bus", "kill-on-release", "kill-signal", "kill-timeout-usec",
};

/* Variant types used as samples; each has a value that is valid for every key of that type. */
static const char *const sample_signatures[] = {
        "s", "b", "i", "u", "t", "h", "as", "a{uh}", "ai", "v", "a{sv}", "(s)", "ay",
};

static sd_bus *test_bus;
static int null_fd = -EBADF;

static sd_bus_message *message_new(void) {
        sd_bus_message *m = NULL;
        g_assert_cmpint(test_message_new(test_bus, &m), ==, 0);
        return m;
}

/* A message whose body is whatever sd_bus_message_append(types, ...) makes of the arguments. */
static sd_bus_message *message_new_append(const char *types, ...) {
        sd_bus_message *m = message_new();
        va_list ap;

        va_start(ap, types);
        g_assert_cmpint(sd_bus_message_appendv(m, types, ap), >=, 0);
        va_end(ap);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        return m;
}

/* Appends one value of type @signature, valid for each key that has this type. */
static void append_sample(sd_bus_message *m, const char *signature) {
        int r;

        if (strcmp(signature, "s") == 0)
                r = sd_bus_message_append(m, "s", "/sample");
        else if (strcmp(signature, "b") == 0)
                r = sd_bus_message_append(m, "b", 1);
        else if (strcmp(signature, "i") == 0)
                r = sd_bus_message_append(m, "i", 9);
        else if (strcmp(signature, "u") == 0)
                r = sd_bus_message_append(m, "u", 9U);
        else if (strcmp(signature, "t") == 0)
                r = sd_bus_message_append(m, "t", UINT64_C(9));
        else if (strcmp(signature, "h") == 0)
                r = sd_bus_message_append(m, "h", null_fd);
        else if (strcmp(signature, "as") == 0)
                r = sd_bus_message_append(m, "as", 0);
        else if (strcmp(signature, "a{uh}") == 0)
                r = sd_bus_message_append(m, "a{uh}", 1, 3U, null_fd);
        else if (strcmp(signature, "ai") == 0)
                r = sd_bus_message_append(m, "ai", 1, 9);
        else if (strcmp(signature, "v") == 0)
                r = sd_bus_message_append(m, "v", "s", "/sample");
        else if (strcmp(signature, "a{sv}") == 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        else if (strcmp(signature, "(s)") == 0)
                r = sd_bus_message_append(m, "(s)", "/sample");
        else if (strcmp(signature, "ay") == 0)
                r = sd_bus_message_append(m, "ay", 1, 9);
        else if (strcmp(signature, "(uu)") == 0)
                r = sd_bus_message_append(m, "(uu)", 24U, 80U);
        else
                g_assert_not_reached();
        g_assert_cmpint(r, >=, 0);
}

/* An a{sv} with one entry per key, each with a sample value of type signatures[i]. */
static sd_bus_message *message_new_samples(const char *const *keys, const char *const *signatures, gsize n) {
        sd_bus_message *m = message_new();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        for (gsize i = 0; i < n; i++) {
                g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "s", keys[i]), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'v', signatures[i]), >=, 0);
                append_sample(m, signatures[i]);
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        return m;
}

static sd_bus_message *message_new_sample(const char *key, const char *signature) {
        return message_new_samples(&key, &signature, 1);
}

static const char *signature_of(const char *key) {
        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++)
                if (strcmp(api_options[i].key, key) == 0)
                        return api_options[i].signature;
        g_assert_not_reached();
}

/* Parses @m, which must succeed; the caller calls spawn_options_done(). */
static void assert_parses(sd_bus_message *m, unsigned allowed, SpawnOptions *o) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        spawn_options_init(o);
        r = spawn_options_parse(m, allowed, o, &error);
        if (r < 0)
                g_error("parse failed: %s (%s: %s)", g_strerror(-r), error.name, error.message);
        g_assert_false(sd_bus_error_is_set(&error));
        /* The whole a{sv} was consumed. */
        g_assert_cmpint(sd_bus_message_at_end(m, false), >, 0);
}

/* Parses @m, which must fail with @error_name and a message containing @needle. */
static void assert_refused(sd_bus_message *m, unsigned allowed, const char *error_name, const char *needle) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SpawnOptions o;
        int r;

        spawn_options_init(&o);
        r = spawn_options_parse(m, allowed, &o, &error);
        spawn_options_done(&o);
        g_assert_cmpint(r, <, 0);
        g_assert_true(sd_bus_error_is_set(&error));
        g_assert_cmpstr(error.name, ==, error_name);
        /* sd-bus maps the name back to the errno the handler returns. */
        g_assert_cmpint(r, ==, -sd_bus_error_get_errno(&error));
        if (!strstr(error.message, needle))
                g_error("error message '%s' does not contain '%s'", error.message, needle);
        sd_bus_error_free(&error);
}

static void assert_is_null_device(int fd) {
        struct stat a, b;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fstat(fd, &a), ==, 0);
        g_assert_cmpint(fstat(null_fd, &b), ==, 0);
        g_assert_true(S_ISCHR(a.st_mode));
        g_assert_cmpuint(a.st_rdev, ==, b.st_rdev);
}

static void test_defaults(void) {
        g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 0);
        SpawnOptions o;

        spawn_options_init(&o);
        g_assert_null(o.cwd);
        g_assert_null(o.environment);
        g_assert_null(o.unset_environment);
        g_assert_false(o.clear_environment);
        g_assert_cmpint(o.stdio[0], ==, -1);
        g_assert_cmpint(o.stdio[1], ==, -1);
        g_assert_cmpint(o.stdio[2], ==, -1);
        g_assert_null(o.fds);
        g_assert_cmpuint(o.n_fds, ==, 0);
        g_assert_false(o.new_session);
        g_assert_cmpuint(o.events, ==, CHILD_EVENTS_DEFAULT);
        g_assert_false(o.watch_bus);
        g_assert_false(o.kill_on_release);
        g_assert_cmpint(o.kill_signal, ==, SIGTERM);
        g_assert_cmpuint(o.kill_timeout_usec, ==, 5000000);
        g_assert_null(o.description);
        spawn_options_done(&o);

        /* An empty dictionary keeps every default. */
        assert_parses(m, SPAWN_OPTIONS_ALL, &o);
        g_assert_null(o.cwd);
        g_assert_null(o.environment);
        g_assert_cmpint(o.stdio[0], ==, -1);
        g_assert_cmpuint(o.events, ==, CHILD_EVENTS_DEFAULT);
        g_assert_cmpint(o.kill_signal, ==, SIGTERM);
        g_assert_cmpuint(o.kill_timeout_usec, ==, 5000000);
        spawn_options_done(&o);

        /* spawn_options_done() twice is harmless, as destructors are. */
        spawn_options_done(&o);
}

static void test_option_names(void) {
        g_assert_cmpuint(G_N_ELEMENTS(api_options), ==, _SPAWN_OPTION_MAX);
        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++) {
                SpawnOption opt = spawn_option_from_string(api_options[i].key);
                g_assert_cmpint(opt, >=, 0);
                g_assert_cmpstr(spawn_option_to_string(opt), ==, api_options[i].key);
        }
        g_assert_cmpint(spawn_option_from_string("CWD"), ==, _SPAWN_OPTION_INVALID);
        g_assert_cmpint(spawn_option_from_string(""), ==, _SPAWN_OPTION_INVALID);
        g_assert_null(spawn_option_to_string(_SPAWN_OPTION_MAX));
        g_assert_null(spawn_option_to_string(_SPAWN_OPTION_INVALID));
}

static void test_all_options(void) {
        g_autoptr(sd_bus_message) m = message_new_append(
                "a{sv}", 15,
                "cwd", "s", "/tmp",
                "environment", "as", 3, "A=1", "B=", "C=x=y",
                "clear-environment", "b", 1,
                "unset-environment", "as", 2, "HOME", "PATH",
                "stdin", "h", null_fd,
                "stdout", "h", null_fd,
                "stderr", "h", null_fd,
                "fds", "a{uh}", 2, 10U, null_fd, 4U, null_fd,
                "new-session", "b", 1,
                "events", "as", 1, "stopped",
                "watch-bus", "b", 1,
                "kill-on-release", "b", 1,
                "kill-signal", "i", SIGKILL,
                "kill-timeout-usec", "t", UINT64_C(123),
                "description", "s", "a description");
        SpawnOptions o;

        assert_parses(m, SPAWN_OPTIONS_ALL, &o);
        g_assert_cmpstr(o.cwd, ==, "/tmp");
        g_assert_nonnull(o.environment);
        g_assert_cmpuint(g_strv_length(o.environment), ==, 3);
        g_assert_cmpstr(o.environment[0], ==, "A=1");
        g_assert_cmpstr(o.environment[1], ==, "B=");
        g_assert_cmpstr(o.environment[2], ==, "C=x=y");
        g_assert_true(o.clear_environment);
        g_assert_cmpuint(g_strv_length(o.unset_environment), ==, 2);
        g_assert_cmpstr(o.unset_environment[0], ==, "HOME");
        g_assert_cmpstr(o.unset_environment[1], ==, "PATH");
        for (int i = 0; i < 3; i++) {
                /* The message's own copy, not ours. */
                g_assert_cmpint(o.stdio[i], !=, null_fd);
                assert_is_null_device(o.stdio[i]);
        }
        g_assert_cmpuint(o.n_fds, ==, 2);
        /* In the client's order. */
        g_assert_cmpuint(o.fds[0].target, ==, 10);
        g_assert_cmpuint(o.fds[1].target, ==, 4);
        assert_is_null_device(o.fds[0].fd);
        assert_is_null_device(o.fds[1].fd);
        g_assert_true(o.new_session);
        g_assert_cmpuint(o.events, ==, CHILD_EVENTS_TERMINAL | CHILD_EVENT_MASK(CHILD_EVENT_STOPPED));
        g_assert_true(o.watch_bus);
        g_assert_true(o.kill_on_release);
        g_assert_cmpint(o.kill_signal, ==, SIGKILL);
        g_assert_cmpuint(o.kill_timeout_usec, ==, 123);
        g_assert_cmpstr(o.description, ==, "a description");
        spawn_options_done(&o);
        g_assert_null(o.environment);
        g_assert_null(o.unset_environment);
        g_assert_null(o.fds);
        g_assert_cmpuint(o.n_fds, ==, 0);
}

static void test_each_option(void) {
        /* Each key alone, with a sample of its own type: accepted, and it changes only its field. */
        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++) {
                g_autoptr(sd_bus_message) m = message_new_sample(api_options[i].key, api_options[i].signature);
                SpawnOption opt = spawn_option_from_string(api_options[i].key);
                SpawnOptions o, d;

                g_test_message("option %s", api_options[i].key);
                assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                spawn_options_init(&d);
                g_assert_true((o.cwd != NULL) == (opt == SPAWN_OPTION_CWD));
                g_assert_true((o.description != NULL) == (opt == SPAWN_OPTION_DESCRIPTION));
                g_assert_true((o.environment != NULL) == (opt == SPAWN_OPTION_ENVIRONMENT));
                g_assert_true((o.unset_environment != NULL) == (opt == SPAWN_OPTION_UNSET_ENVIRONMENT));
                g_assert_true(o.clear_environment == (opt == SPAWN_OPTION_CLEAR_ENVIRONMENT));
                g_assert_true(o.new_session == (opt == SPAWN_OPTION_NEW_SESSION));
                g_assert_true(o.watch_bus == (opt == SPAWN_OPTION_WATCH_BUS));
                g_assert_true(o.kill_on_release == (opt == SPAWN_OPTION_KILL_ON_RELEASE));
                g_assert_true((o.stdio[0] >= 0) == (opt == SPAWN_OPTION_STDIN));
                g_assert_true((o.stdio[1] >= 0) == (opt == SPAWN_OPTION_STDOUT));
                g_assert_true((o.stdio[2] >= 0) == (opt == SPAWN_OPTION_STDERR));
                g_assert_true((o.n_fds == 1) == (opt == SPAWN_OPTION_FDS));
                g_assert_true((o.kill_signal == 9) == (opt == SPAWN_OPTION_KILL_SIGNAL));
                g_assert_true((o.kill_timeout_usec == 9) == (opt == SPAWN_OPTION_KILL_TIMEOUT_USEC));
                /* An empty "events" list means "exited" only. */
                g_assert_cmpuint(o.events, ==, opt == SPAWN_OPTION_EVENTS ? CHILD_EVENTS_TERMINAL : d.events);
                spawn_options_done(&o);
                spawn_options_done(&d);
        }
}

static void test_unknown_key(void) {
        static const char *const keys[] = { "bogus", "", "CWD", "cwd ", "kill_signal", "tree-x" };

        for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
                g_autoptr(sd_bus_message) m = message_new_sample(keys[i], "s");
                g_autofree char *needle = g_strdup_printf("Unknown option '%s'", keys[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }

        /* The first unknown key is refused even after good ones. */
        const char *keys2[] = { "cwd", "description", "nope" };
        const char *sigs2[] = { "s", "s", "b" };
        g_autoptr(sd_bus_message) m = message_new_samples(keys2, sigs2, 3);
        assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, "'nope'");
}

static void test_wrong_type(void) {
        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++)
                for (gsize j = 0; j < G_N_ELEMENTS(sample_signatures); j++) {
                        if (strcmp(sample_signatures[j], api_options[i].signature) == 0)
                                continue;

                        g_autoptr(sd_bus_message) m = message_new_sample(api_options[i].key,
                                                                         sample_signatures[j]);
                        g_autofree char *needle = g_strdup_printf("'%s'", api_options[i].key);
                        g_autofree char *type = g_strdup_printf("'%s'", api_options[i].signature);
                        g_test_message("option %s as %s", api_options[i].key, sample_signatures[j]);
                        assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
                        /* And it says which type was expected. */
                        g_assert_cmpint(test_message_seal(m), ==, 0);
                        assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, type);
                }
}

static void test_duplicate_key(void) {
        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++) {
                const char *keys[] = { api_options[i].key, api_options[i].key };
                const char *sigs[] = { api_options[i].signature, api_options[i].signature };
                g_autoptr(sd_bus_message) m = message_new_samples(keys, sigs, 2);
                g_autofree char *needle = g_strdup_printf("Option '%s' given twice", api_options[i].key);

                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }
}

static void test_cwd(void) {
        static const char *const good[] = { "/", "/tmp", "/does/not/exist/yet", "//x" };
        static const char *const bad[] = { "tmp", "", "./x", "../x", " /x" };
        SpawnOptions o;

        for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 1, "cwd", "s", good[i]);
                /* Existence is the spawn's business: it may be created meanwhile. */
                assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                g_assert_cmpstr(o.cwd, ==, good[i]);
                spawn_options_done(&o);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 1, "cwd", "s", bad[i]);
                g_autofree char *needle = g_strdup_printf("'%s'", bad[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, "'cwd'");
                g_assert_cmpint(test_message_seal(m), ==, 0);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }
}

static void test_environment(void) {
        static const char *const bad_set[] = { "NOEQUALS", "=value", "" };
        static const char *const bad_unset[] = { "A=B", "", "=" };
        SpawnOptions o;

        for (gsize i = 0; i < G_N_ELEMENTS(bad_set); i++) {
                g_autoptr(sd_bus_message) m =
                        message_new_append("a{sv}", 1, "environment", "as", 2, "GOOD=1", bad_set[i]);
                g_autofree char *needle = g_strdup_printf("Option 'environment': '%s'", bad_set[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad_unset); i++) {
                g_autoptr(sd_bus_message) m =
                        message_new_append("a{sv}", 1, "unset-environment", "as", 2, "GOOD", bad_unset[i]);
                g_autofree char *needle = g_strdup_printf("Option 'unset-environment': '%s'", bad_unset[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }

        /* Empty lists are lists: set, but with no entries. */
        g_autoptr(sd_bus_message) m =
                message_new_append("a{sv}", 2, "environment", "as", 0, "unset-environment", "as", 0);
        assert_parses(m, SPAWN_OPTIONS_ALL, &o);
        g_assert_nonnull(o.environment);
        g_assert_null(o.environment[0]);
        g_assert_nonnull(o.unset_environment);
        g_assert_null(o.unset_environment[0]);
        spawn_options_done(&o);
}

/* An a{sv} with one "fds" entry mapping each of @targets to /dev/null. */
static sd_bus_message *message_new_fds(const unsigned *targets, gsize n) {
        sd_bus_message *m = message_new();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", "fds"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "a{uh}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{uh}"), >=, 0);
        for (gsize i = 0; i < n; i++)
                g_assert_cmpint(sd_bus_message_append(m, "{uh}", targets[i], null_fd), >=, 0);
        for (int k = 0; k < 4; k++)
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        return m;
}

static void test_fds(void) {
        static const unsigned bad_targets[] = { 0, 1, 2, SPAWN_FD_TARGET_MAX + 1, UINT_MAX };
        static const unsigned edge_targets[] = { 3, SPAWN_FD_TARGET_MAX };
        static const unsigned twice[] = { 5, 7, 5 };
        SpawnOptions o;

        g_assert_cmpuint(SPAWN_FD_TARGET_MAX, ==, 65535);
        g_assert_cmpuint(SPAWN_FDS_MAX, ==, 240);

        g_autoptr(sd_bus_message) edges = message_new_fds(edge_targets, G_N_ELEMENTS(edge_targets));
        assert_parses(edges, SPAWN_OPTIONS_ALL, &o);
        g_assert_cmpuint(o.n_fds, ==, 2);
        g_assert_cmpuint(o.fds[0].target, ==, 3);
        g_assert_cmpuint(o.fds[1].target, ==, 65535);
        spawn_options_done(&o);

        g_autoptr(sd_bus_message) empty = message_new_fds(NULL, 0);
        assert_parses(empty, SPAWN_OPTIONS_ALL, &o);
        g_assert_cmpuint(o.n_fds, ==, 0);
        spawn_options_done(&o);

        for (gsize i = 0; i < G_N_ELEMENTS(bad_targets); i++) {
                g_autoptr(sd_bus_message) m = message_new_fds(&bad_targets[i], 1);
                g_autofree char *needle = g_strdup_printf("target descriptor %u is not in 3...65535", bad_targets[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }

        g_autoptr(sd_bus_message) dup = message_new_fds(twice, G_N_ELEMENTS(twice));
        assert_refused(dup, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, "Option 'fds': target descriptor 5 given twice");

        /* The bound is on the count: exactly SPAWN_FDS_MAX passes, one more does not. */
        unsigned many[SPAWN_FDS_MAX + 1];
        for (unsigned i = 0; i < G_N_ELEMENTS(many); i++)
                many[i] = 3 + i * 7;
        g_autoptr(sd_bus_message) at_limit = message_new_fds(many, SPAWN_FDS_MAX);
        assert_parses(at_limit, SPAWN_OPTIONS_ALL, &o);
        g_assert_cmpuint(o.n_fds, ==, SPAWN_FDS_MAX);
        for (unsigned i = 0; i < SPAWN_FDS_MAX; i++)
                g_assert_cmpuint(o.fds[i].target, ==, many[i]);
        spawn_options_done(&o);
        g_clear_pointer(&at_limit, sd_bus_message_unref);

        g_autoptr(sd_bus_message) over = message_new_fds(many, SPAWN_FDS_MAX + 1);
        assert_refused(over, SPAWN_OPTIONS_ALL, CW_ERROR_LIMIT_EXCEEDED, "Option 'fds' passes more than 240");
}

static void test_kill_signal(void) {
        const int good[] = { 1, SIGKILL, SIGTERM, SIGRTMAX };
        const int bad[] = { 0, -1, SIGRTMAX + 1, INT_MIN, INT_MAX };
        SpawnOptions o;

        for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 1, "kill-signal", "i", good[i]);
                assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                g_assert_cmpint(o.kill_signal, ==, good[i]);
                spawn_options_done(&o);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 1, "kill-signal", "i", bad[i]);
                g_autofree char *needle = g_strdup_printf("Option 'kill-signal': signal number %i is out of range",
                                                          bad[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }
}

static void test_kill_timeout(void) {
        const uint64_t values[] = { 0, 1, UINT64_MAX };
        SpawnOptions o;

        for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
                g_autoptr(sd_bus_message) m = message_new_append("a{sv}", 1, "kill-timeout-usec", "t", values[i]);
                assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                g_assert_cmpuint(o.kill_timeout_usec, ==, values[i]);
                spawn_options_done(&o);
        }
}

static void test_events(void) {
        const unsigned stopped = CHILD_EVENT_MASK(CHILD_EVENT_STOPPED);
        const unsigned continued = CHILD_EVENT_MASK(CHILD_EVENT_CONTINUED);
        SpawnOptions o;
        struct {
                const char *list[4];
                unsigned events;
        } good[] = {
                { { NULL }, CHILD_EVENTS_TERMINAL },
                { { "exited", NULL }, CHILD_EVENTS_TERMINAL },
                { { "stopped", NULL }, CHILD_EVENTS_TERMINAL | stopped },
                { { "continued", NULL }, CHILD_EVENTS_TERMINAL | continued },
                { { "stopped", "stopped", NULL }, CHILD_EVENTS_TERMINAL | stopped },
                { { "continued", "exited", "stopped", NULL }, CHILD_EVENTS_DEFAULT },
        };
        static const char *const bad[] = { "killed", "dumped", "vanished", "running", "", "Stopped" };

        for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autoptr(sd_bus_message) m = message_new();
                g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "s", "events"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'v', "as"), >=, 0);
                g_assert_cmpint(sd_bus_message_append_strv(m, (char **) good[i].list), >=, 0);
                for (int k = 0; k < 3; k++)
                        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                g_assert_cmpint(test_message_seal(m), ==, 0);

                assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                g_assert_cmpuint(o.events, ==, good[i].events);
                spawn_options_done(&o);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(sd_bus_message) m =
                        message_new_append("a{sv}", 1, "events", "as", 2, "exited", bad[i]);
                g_autofree char *needle = g_strdup_printf("Option 'events': unknown event '%s'", bad[i]);
                assert_refused(m, SPAWN_OPTIONS_ALL, SD_BUS_ERROR_INVALID_ARGS, needle);
        }
}

static bool is_adopt_key(const char *key) {
        for (gsize i = 0; i < G_N_ELEMENTS(adopt_keys); i++)
                if (strcmp(adopt_keys[i], key) == 0)
                        return true;
        return false;
}

static void test_allowed_mask(void) {
        SpawnOptions o;

        for (gsize i = 0; i < G_N_ELEMENTS(api_options); i++) {
                g_autoptr(sd_bus_message) m = message_new_sample(api_options[i].key, api_options[i].signature);
                g_autofree char *needle = g_strdup_printf("Unknown option '%s'", api_options[i].key);

                g_test_message("Adopt option %s", api_options[i].key);
                if (is_adopt_key(api_options[i].key)) {
                        assert_parses(m, SPAWN_OPTIONS_ADOPT, &o);
                        spawn_options_done(&o);
                } else
                        assert_refused(m, SPAWN_OPTIONS_ADOPT, SD_BUS_ERROR_INVALID_ARGS, needle);

                /* No option at all: everything is unknown. */
                g_assert_cmpint(test_message_seal(m), ==, 0);
                assert_refused(m, 0, SD_BUS_ERROR_INVALID_ARGS, needle);
        }

        /* All of Adopt's options at once. */
        const char *sigs[G_N_ELEMENTS(adopt_keys)];
        for (gsize i = 0; i < G_N_ELEMENTS(adopt_keys); i++)
                sigs[i] = signature_of(adopt_keys[i]);
        g_autoptr(sd_bus_message) m = message_new_samples((const char *const *) adopt_keys, sigs,
                                                          G_N_ELEMENTS(adopt_keys));
        assert_parses(m, SPAWN_OPTIONS_ADOPT, &o);
        g_assert_cmpint(o.kill_signal, ==, 9);
        g_assert_true(o.watch_bus);
        spawn_options_done(&o);
}

static void test_not_a_dict(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SpawnOptions o;

        /* sd-bus checks the method signature before the handler runs; still, no crash. */
        g_autoptr(sd_bus_message) s = message_new_append("s", "cwd");
        spawn_options_init(&o);
        g_assert_cmpint(spawn_options_parse(s, SPAWN_OPTIONS_ALL, &o, &error), <, 0);
        spawn_options_done(&o);
        sd_bus_error_free(&error);

        g_autoptr(sd_bus_message) ass = message_new_append("a{ss}", 1, "cwd", "/");
        spawn_options_init(&o);
        g_assert_cmpint(spawn_options_parse(ass, SPAWN_OPTIONS_ALL, &o, &error), <, 0);
        spawn_options_done(&o);
        sd_bus_error_free(&error);
}

static void test_large_environment(void) {
        SpawnOptions o;

        /* At the entry bound: accepted. One above: LimitExceeded naming the option. */
        for (unsigned n = BUS_STRV_MAX_ENTRIES; n <= BUS_STRV_MAX_ENTRIES + 1; n++) {
                g_autoptr(sd_bus_message) m = message_new();
                g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "s", "environment"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'v', "as"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'a', "s"), >=, 0);
                for (unsigned i = 0; i < n; i++) {
                        char entry[32];
                        g_snprintf(entry, sizeof(entry), "V%u=%u", i, i);
                        g_assert_cmpint(sd_bus_message_append_basic(m, 's', entry), >=, 0);
                }
                for (int k = 0; k < 4; k++)
                        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                g_assert_cmpint(test_message_seal(m), ==, 0);

                if (n == BUS_STRV_MAX_ENTRIES) {
                        assert_parses(m, SPAWN_OPTIONS_ALL, &o);
                        g_assert_cmpuint(g_strv_length(o.environment), ==, n);
                        g_assert_cmpstr(o.environment[n - 1], ==, "V131071=131071");
                        spawn_options_done(&o);
                } else
                        assert_refused(m, SPAWN_OPTIONS_ALL, CW_ERROR_LIMIT_EXCEEDED, "Option 'environment' exceeds");
        }

        /* The byte bound: 65 entries of 64 KiB are more than 4 MiB. */
        g_autofree char *big = g_malloc(65536 + 1);
        memset(big, 'x', 65536);
        big[0] = 'B';
        big[1] = '=';
        big[65536] = '\0';
        g_autoptr(sd_bus_message) m = message_new();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", "unset-environment"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "as"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "s"), >=, 0);
        for (unsigned i = 0; i < 65; i++)
                g_assert_cmpint(sd_bus_message_append_basic(m, 's', big), >=, 0);
        for (int k = 0; k < 4; k++)
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        assert_refused(m, SPAWN_OPTIONS_ALL, CW_ERROR_LIMIT_EXCEEDED, "Option 'unset-environment' exceeds");
}

/* An "as" of @n entries "0", "1", ... followed by a "u" 4242 that shows where reading stopped. */
static sd_bus_message *message_new_strv(unsigned n) {
        sd_bus_message *m = message_new();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "s"), >=, 0);
        for (unsigned i = 0; i < n; i++) {
                char s[16];
                g_snprintf(s, sizeof(s), "%u", i);
                g_assert_cmpint(sd_bus_message_append_basic(m, 's', s), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "u", 4242U), >=, 0);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        return m;
}

static void test_read_strv_bounded(void) {
        g_autoptr(sd_bus_message) m = message_new_strv(12);
        g_autoptr(BorrowedStrv) l = NULL;
        unsigned u = 0;

        /* "0".."9" take 2 bytes each with the NUL, "10" and "11" 3: 26 bytes. */
        g_assert_cmpint(bus_message_read_strv_bounded(m, 12, 26, &l), ==, 0);
        g_assert_cmpuint(g_strv_length(l), ==, 12);
        g_assert_cmpstr(l[0], ==, "0");
        g_assert_cmpstr(l[11], ==, "11");
        /* It leaves the message right after the array. */
        g_assert_cmpint(sd_bus_message_read(m, "u", &u), >, 0);
        g_assert_cmpuint(u, ==, 4242);
        g_clear_pointer(&l, borrowed_strv_free);

        g_assert_cmpint(test_message_seal(m), ==, 0);
        g_assert_cmpint(bus_message_read_strv_bounded(m, 11, SIZE_MAX, &l), ==, -E2BIG);
        g_assert_null(l);
        g_assert_cmpint(test_message_seal(m), ==, 0);
        g_assert_cmpint(bus_message_read_strv_bounded(m, SIZE_MAX, 25, &l), ==, -E2BIG);
        g_assert_null(l);

        /* Empty: an empty array, not NULL; any bound admits it. */
        g_autoptr(sd_bus_message) empty = message_new_strv(0);
        g_assert_cmpint(bus_message_read_strv_bounded(empty, 0, 0, &l), ==, 0);
        g_assert_nonnull(l);
        g_assert_null(l[0]);
        g_clear_pointer(&l, borrowed_strv_free);

        /* Not an "as": the sd-bus error, nothing returned. */
        g_autoptr(sd_bus_message) ai = message_new_append("ai", 2, 1, 2);
        g_assert_cmpint(bus_message_read_strv_bounded(ai, SIZE_MAX, SIZE_MAX, &l), <, 0);
        g_assert_null(l);
}

static void test_read_strv_bounded_large(void) {
        /* sd_bus_message_read_strv() is quadratic; this reader must take 200k entries in
         * stride (a client can send that many). No timing is asserted, the test's own
         * timeout catches a regression to quadratic. */
        enum { N = 200000 };
        g_autoptr(sd_bus_message) m = message_new_strv(N);
        g_autoptr(BorrowedStrv) l = NULL;

        g_assert_cmpint(bus_message_read_strv_bounded(m, BUS_STRV_MAX_ENTRIES, BUS_STRV_MAX_BYTES, &l), ==,
                        -E2BIG);
        g_assert_null(l);

        g_assert_cmpint(test_message_seal(m), ==, 0);
        g_assert_cmpint(bus_message_read_strv_bounded(m, N, SIZE_MAX, &l), ==, 0);
        g_assert_cmpuint(g_strv_length(l), ==, N);
        g_assert_cmpstr(l[N - 1], ==, "199999");
        g_assert_cmpstr(l[123456], ==, "123456");
}

int main(int argc, char *argv[]) {
        int r;

        g_test_init(&argc, &argv, NULL);

        /* So that LimitExceeded maps to its own errno, as in the service. */
        g_assert_cmpint(bus_errors_register(), ==, 0);
        g_assert_cmpint(test_bus_new(&test_bus), ==, 0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        g_assert_cmpint(null_fd, >=, 0);

        g_test_add_func("/spawn-options/defaults", test_defaults);
        g_test_add_func("/spawn-options/option-names", test_option_names);
        g_test_add_func("/spawn-options/all-options", test_all_options);
        g_test_add_func("/spawn-options/each-option", test_each_option);
        g_test_add_func("/spawn-options/unknown-key", test_unknown_key);
        g_test_add_func("/spawn-options/wrong-type", test_wrong_type);
        g_test_add_func("/spawn-options/duplicate-key", test_duplicate_key);
        g_test_add_func("/spawn-options/cwd", test_cwd);
        g_test_add_func("/spawn-options/environment", test_environment);
        g_test_add_func("/spawn-options/fds", test_fds);
        g_test_add_func("/spawn-options/kill-signal", test_kill_signal);
        g_test_add_func("/spawn-options/kill-timeout", test_kill_timeout);
        g_test_add_func("/spawn-options/events", test_events);
        g_test_add_func("/spawn-options/allowed-mask", test_allowed_mask);
        g_test_add_func("/spawn-options/not-a-dict", test_not_a_dict);
        g_test_add_func("/spawn-options/large-environment", test_large_environment);
        g_test_add_func("/bus-util/read-strv-bounded", test_read_strv_bounded);
        g_test_add_func("/bus-util/read-strv-bounded-large", test_read_strv_bounded_large);

        r = g_test_run();

        close(null_fd);
        test_bus = sd_bus_close_unref(test_bus);
        return r;
}
