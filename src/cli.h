/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The service's command line (API.md, "The service's command line"). */

#include <stdbool.h>
#include <stdint.h>

typedef enum BusKind {
        BUS_KIND_DEFAULT, /* the bus that activated us, else the session bus */
        BUS_KIND_SESSION,
        BUS_KIND_SYSTEM,
        BUS_KIND_ADDRESS,
        _BUS_KIND_MAX,
        _BUS_KIND_INVALID = -22,
} BusKind;

typedef enum TreeMode {
        TREE_MODE_AUTO,          /* a cgroup per tree where the service may create them, else process groups */
        TREE_MODE_CGROUP,
        TREE_MODE_PROCESS_GROUP,
        _TREE_MODE_MAX,
        _TREE_MODE_INVALID = -22,
} TreeMode;

typedef struct Config {
        BusKind bus;
        char *address;
        bool multi_user;
        uint64_t idle_timeout_usec; /* 0: never exit when idle */
        uint64_t linger_usec;       /* how long an ended object outlives its departed owner */
        unsigned max_processes;
        unsigned max_processes_per_user;
        unsigned max_ended_per_user; /* ended objects a uid may hold before Spawn/Adopt refuse */
        uint64_t max_message_size;   /* the bus's max_message_size: no message of ours may be larger */
        TreeMode tree_mode;
        unsigned spawn_helpers;      /* 0: one per online CPU, at most CONFIG_SPAWN_HELPERS_DEFAULT_MAX */
        uint64_t spawn_timeout_usec; /* how long one spawn may hold a helper */
        int log_level;
        bool show_help;
        bool show_version;
} Config;

#define CONFIG_DEFAULT_IDLE_TIMEOUT_USEC (30 * UINT64_C(1000000))
#define CONFIG_DEFAULT_LINGER_USEC (60 * UINT64_C(1000000))
#define CONFIG_DEFAULT_MAX_PROCESSES 32768U
#define CONFIG_DEFAULT_MAX_PROCESSES_PER_USER 256U
#define CONFIG_DEFAULT_MAX_ENDED_PER_USER 1024U
/* dbus-daemon's default max_message_size, which the system bus keeps (Debian's session.conf
 * raises it to 1 GB). dbus-daemon drops a connection that sends a larger message. */
#define CONFIG_DEFAULT_MAX_MESSAGE_SIZE (UINT64_C(32) * 1024 * 1024)
/* Below this no listing of a single object would fit. */
#define CONFIG_MIN_MAX_MESSAGE_SIZE (UINT64_C(64) * 1024)
#define CONFIG_DEFAULT_SPAWN_TIMEOUT_USEC (30 * UINT64_C(1000000))
/* As SPAWN_POOL_HELPERS_MAX and SPAWN_POOL_HELPERS_DEFAULT_MAX (spawn-pool.h, checked there). */
#define CONFIG_SPAWN_HELPERS_MAX 16U
#define CONFIG_SPAWN_HELPERS_DEFAULT_MAX 4U

void config_done(Config *c);

/**
 * config_parse_argv() - fill @ret from the command line.
 *
 * Return: 0 on success, -EINVAL on a bad argument (after printing why to stderr).
 */
int config_parse_argv(int argc, char *argv[], Config *ret);

/**
 * parse_seconds() - parse "SEC" with up to six decimals ("1.5") into microseconds.
 *
 * Return: 0, or -EINVAL / -ERANGE.
 */
int parse_seconds(const char *s, uint64_t *ret_usec);

/* Parses a decimal unsigned without sign or leading garbage. */
int parse_unsigned(const char *s, unsigned *ret);

const char *tree_mode_to_string(TreeMode m);
TreeMode tree_mode_from_string(const char *s);

void config_print_help(const char *program);
