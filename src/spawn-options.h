/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The a{sv} options of Spawn and Adopt: every key, type and value a client
 * sends is checked here, before anything is started. Strings and fds stay
 * borrowed from the message, which must outlive the SpawnOptions.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* The "fds" option may pass at most this many descriptors (SCM_RIGHTS carries 253). */
#define SPAWN_FDS_MAX 240U
/* Grace between kill-signal and SIGKILL unless a client says otherwise. */
#define SPAWN_KILL_TIMEOUT_DEFAULT_USEC (5 * UINT64_C(1000000))
/* The window size of a pty unless "pty-size" says otherwise, and its bound. */
#define SPAWN_PTY_ROWS_DEFAULT 24U
#define SPAWN_PTY_COLUMNS_DEFAULT 80U
#define SPAWN_PTY_SIZE_MAX 65535U
/* Highest target descriptor number a client may ask for. */
#define SPAWN_FD_TARGET_MAX 65535U

typedef enum SpawnOption {
        SPAWN_OPTION_CWD,
        SPAWN_OPTION_ENVIRONMENT,
        SPAWN_OPTION_CLEAR_ENVIRONMENT,
        SPAWN_OPTION_UNSET_ENVIRONMENT,
        SPAWN_OPTION_STDIN,
        SPAWN_OPTION_STDOUT,
        SPAWN_OPTION_STDERR,
        SPAWN_OPTION_FDS,
        SPAWN_OPTION_NEW_SESSION,
        SPAWN_OPTION_EVENTS,
        SPAWN_OPTION_WATCH_BUS,
        SPAWN_OPTION_KILL_ON_RELEASE,
        SPAWN_OPTION_KILL_SIGNAL,
        SPAWN_OPTION_KILL_TIMEOUT_USEC,
        SPAWN_OPTION_DESCRIPTION,
        SPAWN_OPTION_TREE,
        SPAWN_OPTION_USER,
        SPAWN_OPTION_GROUP,
        SPAWN_OPTION_PTY,
        SPAWN_OPTION_PTY_SIZE,
        _SPAWN_OPTION_MAX,
        _SPAWN_OPTION_INVALID = -22,
} SpawnOption;

#define SPAWN_OPTIONS_ALL ((1U << _SPAWN_OPTION_MAX) - 1)
#define SPAWN_OPTIONS_ADOPT                                                                         \
        ((1U << SPAWN_OPTION_DESCRIPTION) | (1U << SPAWN_OPTION_EVENTS) | (1U << SPAWN_OPTION_WATCH_BUS) | \
         (1U << SPAWN_OPTION_KILL_ON_RELEASE) | (1U << SPAWN_OPTION_KILL_SIGNAL) |                    \
         (1U << SPAWN_OPTION_KILL_TIMEOUT_USEC))

typedef struct SpawnFd {
        unsigned target;
        int fd; /* borrowed from the message */
} SpawnFd;

typedef struct SpawnOptions {
        const char *cwd;
        char **environment;       /* borrowed strings; the array is ours */
        char **unset_environment; /* borrowed strings; the array is ours */
        bool clear_environment;
        int stdio[3];             /* borrowed fds, -1 for /dev/null */
        SpawnFd *fds;
        unsigned n_fds;
        bool new_session;
        unsigned events;          /* CHILD_EVENT_MASK() bits */
        bool watch_bus;
        bool kill_on_release;
        int kill_signal;
        uint64_t kill_timeout_usec;
        const char *description;
        bool tree;                /* hold the whole process tree together (cgroup or process group) */
        const char *user;         /* run as this user (name or number); root only */
        const char *group;        /* with this primary group (name or number); root only */
        bool pty;                 /* a pseudo-terminal as controlling terminal and default stdio */
        unsigned pty_rows, pty_columns;
        bool pty_size_set;        /* checked against pty by the caller, which sees all options */
} SpawnOptions;

void spawn_options_init(SpawnOptions *o);
void spawn_options_done(SpawnOptions *o);

const char *spawn_option_to_string(SpawnOption o);
SpawnOption spawn_option_from_string(const char *s);

/**
 * spawn_options_parse() - read an a{sv} of options from @m into @o.
 * @allowed: bit mask of SpawnOption values this method accepts
 *
 * Return: 0; or a negative errno with @error set: InvalidArgs naming the
 * key for an unknown key, a wrong type or a bad value, LimitExceeded for
 * lists above the bounds.
 */
int spawn_options_parse(sd_bus_message *m, unsigned allowed, SpawnOptions *o, sd_bus_error *error);
