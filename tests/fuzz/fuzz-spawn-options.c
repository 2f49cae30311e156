/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * libFuzzer target for the a{sv} options of Spawn and Adopt, the largest
 * piece of client input the service parses (spawn-options.c, bus-util.c).
 *
 * The input is not a D-Bus message: sd-bus checks a received message's
 * framing and signatures before our handler runs, so random bytes would
 * mostly test sd-bus. Instead the bytes steer the construction of a
 * well-formed a{sv}: which keys (the real ones, near misses and random
 * strings), which variant types (the right one, wrong ones, nested
 * containers), which values (strings that hit the validity checks, numbers
 * around the bounds, descriptors, long lists). The result is parsed the way
 * Spawn and Adopt do; a crash, a sanitizer report or a leak is a bug.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-message-util.h"
#include "fuzz-builder.h"
#include "spawn-options.h"
#include "util/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CW_FUZZ_DEBUG=1 prints each outcome: to check what a seed or a crash input exercises. */
static bool debug;

static void parse_once(sd_bus_message *m, unsigned allowed) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SpawnOptions o;
        int r;

        if (test_message_seal(m) < 0)
                return;

        spawn_options_init(&o);
        r = spawn_options_parse(m, allowed, &o, &error);
        if (debug)
                fprintf(stderr, "%s: %s%s%s\n", allowed == SPAWN_OPTIONS_ALL ? "Spawn" : "Adopt",
                        r >= 0 ? "accepted" : error.name ?: strerror(-r), error.message ? ": " : "",
                        error.message ?: "");
        /* The contract: a refusal of a well-formed message always says why (short of
         * running out of memory), success never does. */
        if (r < 0 && r != -ENOMEM && (!sd_bus_error_is_set(&error) || !error.message))
                __builtin_trap();
        if (r >= 0 && sd_bus_error_is_set(&error))
                __builtin_trap();
        if (r >= 0 && o.n_fds > SPAWN_FDS_MAX)
                __builtin_trap();
        for (unsigned i = 0; r >= 0 && i < o.n_fds; i++)
                if (o.fds[i].target < 3 || o.fds[i].target > SPAWN_FD_TARGET_MAX || o.fds[i].fd < 0)
                        __builtin_trap();
        if (r >= 0 && o.cwd && o.cwd[0] != '/')
                __builtin_trap();
        spawn_options_done(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static sd_bus *bus;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        FuzzInput in = { data, size };
        int r;

        /* Set up once per process: the bus only creates messages, it never connects. */
        if (!bus) {
                if (bus_errors_register() < 0 || test_bus_new(&bus) < 0)
                        __builtin_trap();
                debug = getenv("CW_FUZZ_DEBUG");
        }

        if (test_message_new(bus, &m) < 0)
                __builtin_trap();
        r = fuzz_append_options(m, &in);
        if (r < 0) {
                /* sd-bus refused to build it: nothing a client could send. */
                if (debug)
                        fprintf(stderr, "not built: %s\n", strerror(-r));
                return 0;
        }

        parse_once(m, SPAWN_OPTIONS_ALL);
        parse_once(m, SPAWN_OPTIONS_ADOPT);
        return 0;
}
