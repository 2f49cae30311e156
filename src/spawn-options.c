/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "spawn-options.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "child-state.h"
#include "object-bounds.h"
#include "util/env.h"
#include "util/macro.h"

static const struct {
        const char *name;
        const char *signature;
} option_table[_SPAWN_OPTION_MAX] = {
        [SPAWN_OPTION_CWD] = { "cwd", "s" },
        [SPAWN_OPTION_ENVIRONMENT] = { "environment", "as" },
        [SPAWN_OPTION_CLEAR_ENVIRONMENT] = { "clear-environment", "b" },
        [SPAWN_OPTION_UNSET_ENVIRONMENT] = { "unset-environment", "as" },
        [SPAWN_OPTION_STDIN] = { "stdin", "h" },
        [SPAWN_OPTION_STDOUT] = { "stdout", "h" },
        [SPAWN_OPTION_STDERR] = { "stderr", "h" },
        [SPAWN_OPTION_FDS] = { "fds", "a{uh}" },
        [SPAWN_OPTION_NEW_SESSION] = { "new-session", "b" },
        [SPAWN_OPTION_EVENTS] = { "events", "as" },
        [SPAWN_OPTION_WATCH_BUS] = { "watch-bus", "b" },
        [SPAWN_OPTION_KILL_ON_RELEASE] = { "kill-on-release", "b" },
        [SPAWN_OPTION_KILL_SIGNAL] = { "kill-signal", "i" },
        [SPAWN_OPTION_KILL_TIMEOUT_USEC] = { "kill-timeout-usec", "t" },
        [SPAWN_OPTION_DESCRIPTION] = { "description", "s" },
        [SPAWN_OPTION_TREE] = { "tree", "b" },
        [SPAWN_OPTION_USER] = { "user", "s" },
        [SPAWN_OPTION_GROUP] = { "group", "s" },
        [SPAWN_OPTION_PTY] = { "pty", "b" },
        [SPAWN_OPTION_PTY_SIZE] = { "pty-size", "(uu)" },
};

const char *spawn_option_to_string(SpawnOption o) {
        return o >= 0 && o < _SPAWN_OPTION_MAX ? option_table[o].name : NULL;
}

SpawnOption spawn_option_from_string(const char *s) {
        for (SpawnOption o = 0; o < _SPAWN_OPTION_MAX; o++)
                if (strcmp(option_table[o].name, s) == 0)
                        return o;
        return _SPAWN_OPTION_INVALID;
}

void spawn_options_init(SpawnOptions *o) {
        *o = (SpawnOptions) {
                .stdio = { -1, -1, -1 },
                .events = CHILD_EVENTS_DEFAULT,
                .kill_signal = SIGTERM,
                .kill_timeout_usec = SPAWN_KILL_TIMEOUT_DEFAULT_USEC,
                .pty_rows = SPAWN_PTY_ROWS_DEFAULT,
                .pty_columns = SPAWN_PTY_COLUMNS_DEFAULT,
        };
}

void spawn_options_done(SpawnOptions *o) {
        free(o->environment);
        free(o->unset_environment);
        free(o->fds);
        o->environment = o->unset_environment = NULL;
        o->fds = NULL;
        o->n_fds = 0;
}

static int read_strv_option(sd_bus_message *m, const char *key, char ***ret, sd_bus_error *error) {
        int r = bus_message_read_strv_bounded(m, BUS_STRV_MAX_ENTRIES, BUS_STRV_MAX_BYTES, ret);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Option '%s' exceeds %u entries or %u bytes.", key,
                                         BUS_STRV_MAX_ENTRIES, BUS_STRV_MAX_BYTES);
        return r;
}

static int read_fds(sd_bus_message *m, SpawnOptions *o, sd_bus_error *error) {
        unsigned target;
        int fd, r;

        r = sd_bus_message_enter_container(m, 'a', "{uh}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read(m, "{uh}", &target, &fd)) > 0) {
                if (target < 3 || target > SPAWN_FD_TARGET_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'fds': target descriptor %u is not in 3...%u.",
                                                 target, SPAWN_FD_TARGET_MAX);
                for (unsigned i = 0; i < o->n_fds; i++)
                        if (o->fds[i].target == target)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option 'fds': target descriptor %u given twice.",
                                                         target);
                if (o->n_fds >= SPAWN_FDS_MAX)
                        return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                                 "Option 'fds' passes more than %u descriptors.",
                                                 SPAWN_FDS_MAX);
                SpawnFd *t = realloc(o->fds, (o->n_fds + 1) * sizeof(SpawnFd));
                if (!t)
                        return -ENOMEM;
                o->fds = t;
                o->fds[o->n_fds++] = (SpawnFd) { .target = target, .fd = fd };
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

static int read_option_value(sd_bus_message *m, SpawnOption opt, SpawnOptions *o, sd_bus_error *error) {
        const char *key = option_table[opt].name;
        _cleanup_free_ char **l = NULL;
        int b, i, r;

        switch (opt) {
        case SPAWN_OPTION_CWD:
                r = sd_bus_message_read_basic(m, 's', &o->cwd);
                if (r < 0)
                        return r;
                if (o->cwd[0] != '/')
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'cwd' must be an absolute path, got '%s'.", o->cwd);
                return 0;

        case SPAWN_OPTION_DESCRIPTION:
                return sd_bus_message_read_basic(m, 's', &o->description);

        case SPAWN_OPTION_USER:
        case SPAWN_OPTION_GROUP: {
                const char *v;
                r = sd_bus_message_read_basic(m, 's', &v);
                if (r < 0)
                        return r;
                /* Looked up later (the user database may block); only the shape here. */
                if (v[0] == 0 || strlen(v) > 256)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be a user or group name or number.", key);
                if (opt == SPAWN_OPTION_USER)
                        o->user = v;
                else
                        o->group = v;
                return 0;
        }

        case SPAWN_OPTION_ENVIRONMENT:
                r = read_strv_option(m, key, &l, error);
                if (r < 0)
                        return r;
                for (char **e = l; *e; e++)
                        if (!env_assignment_is_valid(*e))
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option 'environment': '%s' is not NAME=VALUE.", *e);
                free(o->environment);
                o->environment = steal_ptr(&l);
                return 0;

        case SPAWN_OPTION_UNSET_ENVIRONMENT:
                r = read_strv_option(m, key, &l, error);
                if (r < 0)
                        return r;
                for (char **e = l; *e; e++)
                        if (!env_name_is_valid(*e))
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option 'unset-environment': '%s' is not a variable name.",
                                                         *e);
                free(o->unset_environment);
                o->unset_environment = steal_ptr(&l);
                return 0;

        case SPAWN_OPTION_EVENTS:
                r = read_strv_option(m, key, &l, error);
                if (r < 0)
                        return r;
                o->events = CHILD_EVENTS_TERMINAL;
                for (char **e = l; *e; e++) {
                        ChildEvent ev = child_event_option_from_string(*e);
                        if (ev < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option 'events': unknown event '%s'.", *e);
                        if (ev != CHILD_EVENT_EXITED)
                                o->events |= CHILD_EVENT_MASK(ev);
                }
                return 0;

        case SPAWN_OPTION_CLEAR_ENVIRONMENT:
        case SPAWN_OPTION_NEW_SESSION:
        case SPAWN_OPTION_WATCH_BUS:
        case SPAWN_OPTION_KILL_ON_RELEASE:
        case SPAWN_OPTION_TREE:
        case SPAWN_OPTION_PTY:
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                if (opt == SPAWN_OPTION_CLEAR_ENVIRONMENT)
                        o->clear_environment = b;
                else if (opt == SPAWN_OPTION_NEW_SESSION)
                        o->new_session = b;
                else if (opt == SPAWN_OPTION_WATCH_BUS)
                        o->watch_bus = b;
                else if (opt == SPAWN_OPTION_TREE)
                        o->tree = b;
                else if (opt == SPAWN_OPTION_PTY)
                        o->pty = b;
                else
                        o->kill_on_release = b;
                return 0;

        case SPAWN_OPTION_STDIN:
        case SPAWN_OPTION_STDOUT:
        case SPAWN_OPTION_STDERR:
                return sd_bus_message_read_basic(m, 'h', &o->stdio[opt - SPAWN_OPTION_STDIN]);

        case SPAWN_OPTION_FDS:
                return read_fds(m, o, error);

        case SPAWN_OPTION_KILL_SIGNAL:
                r = sd_bus_message_read_basic(m, 'i', &i);
                if (r < 0)
                        return r;
                if (i < 1 || i > SIGRTMAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'kill-signal': signal number %i is out of range 1...%i.",
                                                 i, SIGRTMAX);
                o->kill_signal = i;
                return 0;

        case SPAWN_OPTION_KILL_TIMEOUT_USEC:
                return sd_bus_message_read_basic(m, 't', &o->kill_timeout_usec);

        case SPAWN_OPTION_PTY_SIZE: {
                uint32_t rows, columns;
                r = sd_bus_message_read(m, "(uu)", &rows, &columns);
                if (r < 0)
                        return r;
                /* struct winsize holds unsigned shorts; 0 would leave programs guessing. */
                if (rows == 0 || columns == 0 || rows > SPAWN_PTY_SIZE_MAX || columns > SPAWN_PTY_SIZE_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'pty-size': rows and columns must be 1...%u, got %u %u.",
                                                 SPAWN_PTY_SIZE_MAX, rows, columns);
                o->pty_rows = rows;
                o->pty_columns = columns;
                o->pty_size_set = true;
                return 0;
        }

        default:
                return -EINVAL;
        }
}

int spawn_options_parse(sd_bus_message *m, unsigned allowed, SpawnOptions *o, sd_bus_error *error) {
        unsigned seen = 0;
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *contents;
                char type;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;

                SpawnOption opt = spawn_option_from_string(key);
                if (opt < 0 || !(allowed & (1U << opt)))
                        /* Cut: the reply must stay below the bus's message size. */
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%.*s'.",
                                                 OBJECT_ERROR_QUOTE_MAX, key);
                if (seen & (1U << opt))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' given twice.", key);
                seen |= 1U << opt;

                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (type != 'v' || strcmp(contents, option_table[opt].signature) != 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be of type '%s', got '%s'.", key,
                                                 option_table[opt].signature, contents);

                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = read_option_value(m, opt, o, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}
