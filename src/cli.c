/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "cli.h"

#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_done(Config *c) {
        free(c->address);
        c->address = NULL;
}

int parse_unsigned(const char *s, unsigned *ret) {
        uint64_t v;
        int r = parse_u64_max(s, UINT_MAX, 0, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

int parse_seconds(const char *s, uint64_t *ret_usec) {
        uint64_t whole = 0, frac = 0;
        const char *p = s;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (UINT64_MAX / 1000000 - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*p - '0');
        }
        if (*p == '.') {
                unsigned digits = 0;
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, digits++) {
                        if (digits >= 6)
                                return -EINVAL;
                        frac = frac * 10 + (uint64_t) (*p - '0');
                }
                for (; digits < 6; digits++)
                        frac *= 10;
        }
        if (*p)
                return -EINVAL;
        /* The digit loop bounds whole * 1000000 only; the fraction can still wrap it. */
        if (whole * 1000000 > UINT64_MAX - frac)
                return -ERANGE;
        *ret_usec = whole * 1000000 + frac;
        return 0;
}

static const char *const tree_mode_table[_TREE_MODE_MAX] = {
        [TREE_MODE_AUTO] = "auto",
        [TREE_MODE_CGROUP] = "cgroup",
        [TREE_MODE_PROCESS_GROUP] = "process-group",
};

const char *tree_mode_to_string(TreeMode m) {
        return m >= 0 && m < _TREE_MODE_MAX ? tree_mode_table[m] : NULL;
}

TreeMode tree_mode_from_string(const char *s) {
        for (int i = 0; s && i < _TREE_MODE_MAX; i++)
                if (strcmp(s, tree_mode_table[i]) == 0)
                        return (TreeMode) i;
        return _TREE_MODE_INVALID;
}

void config_print_help(const char *program) {
        printf("%s [OPTIONS...]\n\n"
               "Spawn, adopt and watch processes on behalf of D-Bus clients.\n\n"
               "  -h --help                     Show this help\n"
               "     --version                  Show the version\n"
               "     --session                  Connect to the session bus\n"
               "     --system                   Connect to the system bus (multi-user mode)\n"
               "     --address=ADDRESS          Connect to the bus at ADDRESS\n"
               "     --multi-user               Isolate callers from each other\n"
               "     --idle-timeout=SEC         Exit after SEC idle seconds (default 30, 0: never)\n"
               "     --max-processes=N          Running processes in total (default %u)\n"
               "     --max-processes-per-user=N Running processes per user in multi-user mode\n"
               "                                (default %u)\n"
               "     --max-ended-per-user=N     Ended process objects a user may keep before Spawn\n"
               "                                and Adopt refuse (default %u)\n"
               "     --max-message-size=BYTES   The bus's largest message; larger replies are\n"
               "                                refused (default %llu, at least %llu)\n"
               "     --linger=SEC               Keep ended objects of departed owners SEC seconds\n"
               "                                (default 60)\n"
               "     --tree-mode=MODE           How Spawn's \"tree\" holds a process tree: auto,\n"
               "                                cgroup or process-group (default auto)\n"
               "     --spawn-helpers=N          Spawn helper processes, 1 to %u (default: one per\n"
               "                                online CPU, at most %u)\n"
               "     --spawn-timeout=SEC        Give up on a spawn helper that takes longer\n"
               "                                (default 30)\n"
               "     --log-level=LEVEL          0 (emerg) ... 7 (debug), default 6\n",
               program, CONFIG_DEFAULT_MAX_PROCESSES, CONFIG_DEFAULT_MAX_PROCESSES_PER_USER,
               CONFIG_DEFAULT_MAX_ENDED_PER_USER, (unsigned long long) CONFIG_DEFAULT_MAX_MESSAGE_SIZE,
               (unsigned long long) CONFIG_MIN_MAX_MESSAGE_SIZE,
               CONFIG_SPAWN_HELPERS_MAX, CONFIG_SPAWN_HELPERS_DEFAULT_MAX);
}

int config_parse_argv(int argc, char *argv[], Config *ret) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SESSION,
                ARG_SYSTEM,
                ARG_ADDRESS,
                ARG_MULTI_USER,
                ARG_IDLE_TIMEOUT,
                ARG_MAX_PROCESSES,
                ARG_MAX_PROCESSES_PER_USER,
                ARG_MAX_ENDED_PER_USER,
                ARG_MAX_MESSAGE_SIZE,
                ARG_LINGER,
                ARG_TREE_MODE,
                ARG_LOG_LEVEL,
                ARG_SPAWN_HELPERS,
                ARG_SPAWN_TIMEOUT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "session", no_argument, NULL, ARG_SESSION },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "multi-user", no_argument, NULL, ARG_MULTI_USER },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "max-processes", required_argument, NULL, ARG_MAX_PROCESSES },
                { "max-processes-per-user", required_argument, NULL, ARG_MAX_PROCESSES_PER_USER },
                { "max-ended-per-user", required_argument, NULL, ARG_MAX_ENDED_PER_USER },
                { "max-message-size", required_argument, NULL, ARG_MAX_MESSAGE_SIZE },
                { "linger", required_argument, NULL, ARG_LINGER },
                { "tree-mode", required_argument, NULL, ARG_TREE_MODE },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "spawn-helpers", required_argument, NULL, ARG_SPAWN_HELPERS },
                { "spawn-timeout", required_argument, NULL, ARG_SPAWN_TIMEOUT },
                {}
        };
        Config c = {
                .bus = BUS_KIND_DEFAULT,
                .idle_timeout_usec = CONFIG_DEFAULT_IDLE_TIMEOUT_USEC,
                .linger_usec = CONFIG_DEFAULT_LINGER_USEC,
                .max_processes = CONFIG_DEFAULT_MAX_PROCESSES,
                .max_processes_per_user = CONFIG_DEFAULT_MAX_PROCESSES_PER_USER,
                .max_ended_per_user = CONFIG_DEFAULT_MAX_ENDED_PER_USER,
                .max_message_size = CONFIG_DEFAULT_MAX_MESSAGE_SIZE,
                .spawn_timeout_usec = CONFIG_DEFAULT_SPAWN_TIMEOUT_USEC,
                .log_level = 6,
        };
        unsigned bus_options = 0, u;
        int o, r;

        optind = 0; /* full re-initialisation, so the parser can run more than once (unit tests) */
        opterr = 1;
        while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (o) {
                case 'h':
                        c.show_help = true;
                        break;
                case ARG_VERSION:
                        c.show_version = true;
                        break;
                case ARG_SESSION:
                        c.bus = BUS_KIND_SESSION;
                        bus_options++;
                        break;
                case ARG_SYSTEM:
                        c.bus = BUS_KIND_SYSTEM;
                        bus_options++;
                        break;
                case ARG_ADDRESS:
                        if (!*optarg) {
                                fprintf(stderr, "Empty --address=.\n");
                                goto fail;
                        }
                        free(c.address);
                        c.address = strdup(optarg);
                        if (!c.address) {
                                config_done(&c);
                                return -ENOMEM;
                        }
                        c.bus = BUS_KIND_ADDRESS;
                        bus_options++;
                        break;
                case ARG_MULTI_USER:
                        c.multi_user = true;
                        break;
                case ARG_IDLE_TIMEOUT:
                case ARG_LINGER:
                        r = parse_seconds(optarg, o == ARG_LINGER ? &c.linger_usec : &c.idle_timeout_usec);
                        if (r < 0) {
                                fprintf(stderr, "Invalid number of seconds for --%s: %s\n",
                                        o == ARG_LINGER ? "linger" : "idle-timeout", optarg);
                                goto fail;
                        }
                        break;
                case ARG_MAX_PROCESSES:
                case ARG_MAX_PROCESSES_PER_USER:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u == 0) {
                                fprintf(stderr, "Invalid limit for --%s: %s\n",
                                        o == ARG_MAX_PROCESSES ? "max-processes" : "max-processes-per-user",
                                        optarg);
                                goto fail;
                        }
                        if (o == ARG_MAX_PROCESSES)
                                c.max_processes = u;
                        else
                                c.max_processes_per_user = u;
                        break;
                case ARG_MAX_ENDED_PER_USER:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u == 0) {
                                fprintf(stderr, "Invalid limit for --max-ended-per-user: %s\n", optarg);
                                goto fail;
                        }
                        c.max_ended_per_user = u;
                        break;
                case ARG_MAX_MESSAGE_SIZE:
                        /* dbus-daemon takes at most 2^27 (128 MiB), the D-Bus specification's limit. */
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u < CONFIG_MIN_MAX_MESSAGE_SIZE || u > (UINT64_C(128) << 20)) {
                                fprintf(stderr, "Invalid --max-message-size (%llu to %llu): %s\n",
                                        (unsigned long long) CONFIG_MIN_MAX_MESSAGE_SIZE,
                                        (unsigned long long) (UINT64_C(128) << 20), optarg);
                                goto fail;
                        }
                        c.max_message_size = u;
                        break;
                case ARG_TREE_MODE:
                        c.tree_mode = tree_mode_from_string(optarg);
                        if (c.tree_mode < 0) {
                                fprintf(stderr, "Invalid --tree-mode (auto, cgroup or process-group): %s\n",
                                        optarg);
                                goto fail;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u > 7) {
                                fprintf(stderr, "Invalid --log-level: %s\n", optarg);
                                goto fail;
                        }
                        c.log_level = (int) u;
                        break;
                case ARG_SPAWN_HELPERS:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u == 0 || u > CONFIG_SPAWN_HELPERS_MAX) {
                                fprintf(stderr, "Invalid --spawn-helpers (1 to %u): %s\n", CONFIG_SPAWN_HELPERS_MAX,
                                        optarg);
                                goto fail;
                        }
                        c.spawn_helpers = u;
                        break;
                case ARG_SPAWN_TIMEOUT:
                        r = parse_seconds(optarg, &c.spawn_timeout_usec);
                        if (r < 0 || c.spawn_timeout_usec == 0) {
                                fprintf(stderr, "Invalid number of seconds for --spawn-timeout: %s\n", optarg);
                                goto fail;
                        }
                        break;
                default: /* getopt_long() has printed why */
                        goto fail;
                }
        }

        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s\n", argv[optind]);
                goto fail;
        }
        if (bus_options > 1) {
                fprintf(stderr, "--session, --system and --address= exclude each other.\n");
                goto fail;
        }
        if (c.bus == BUS_KIND_SYSTEM)
                c.multi_user = true;

        *ret = c;
        return 0;

fail:
        config_done(&c);
        return -EINVAL;
}
