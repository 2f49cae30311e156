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
#include "spawn-options.h"
#include "util/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting depth of variants in variants and dictionaries in dictionaries. */
#define FUZZ_DEPTH_MAX 3

typedef struct Input {
        const uint8_t *data;
        size_t size;
} Input;

/* 0 once the input is used up: the message ends early, which is fine. */
static uint8_t take_byte(Input *in) {
        if (in->size == 0)
                return 0;
        in->size--;
        return *in->data++;
}

static uint32_t take_u32(Input *in) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = v << 8 | take_byte(in);
        return v;
}

static uint64_t take_u64(Input *in) {
        uint64_t high = take_u32(in);
        return high << 32 | take_u32(in);
}

/* Keys besides the real ones: near misses that a sloppy comparison would accept. */
static const char *const extra_keys[] = { "", "CWD", "cwd ", "fd", "fdss", "kill_signal", "environment\t",
                                          "tree" };

/* Strings that reach the validity checks of the values. */
static const char *const dictionary[] = {
        "/", "/tmp", "relative", "", "exited", "stopped", "continued", "killed", "A=B", "A=", "=B",
        "NAME", "PATH=/bin", "=", "//", "/.."
};

/* Value types, the right ones of the options and wrong ones. */
static const char *const signatures[] = {
        "s", "b", "i", "u", "t", "h", "as", "a{uh}", "a{sv}", "v", "ai", "ay", "aas", "(si)", "o", "g", "d", "y",
        "(uu)",
};

static int null_fd = -EBADF;

static int append_string(sd_bus_message *m, char type, Input *in) {
        /* Printable ASCII plus '/' and '=': valid UTF-8 (sd-bus refuses invalid strings) and
         * object-path and signature characters for 'o' and 'g'. */
        static const char charset[] = "/=ABCPXYZ_.- 0123456789abcdefghijklmnopqrstuvwxyz";
        char buf[64];
        uint8_t b = take_byte(in);

        if (type == 'o')
                return sd_bus_message_append_basic(m, 'o', b & 1 ? "/a/b" : "/");
        if (type == 'g')
                return sd_bus_message_append_basic(m, 'g', b & 1 ? "a{sv}" : "");

        if (b < 0x80)
                return sd_bus_message_append_basic(m, 's', dictionary[b % ELEMENTSOF(dictionary)]);

        size_t len = (b & 0x7f) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
                buf[i] = charset[take_byte(in) % (sizeof(charset) - 1)];
        buf[len] = '\0';
        return sd_bus_message_append_basic(m, 's', buf);
}

/* How many elements an array gets: usually few, sometimes past the limits. */
static unsigned take_count(Input *in) {
        uint8_t b = take_byte(in);

        if (b < 0xf0)
                return b % 6;
        if (b < 0xfe)
                return (b - 0xf0) * 20; /* 240 is SPAWN_FDS_MAX, 260 beyond it */
        return 250 + take_byte(in);
}

static int append_value(sd_bus_message *m, const char *signature, Input *in, unsigned depth);

static int append_array(sd_bus_message *m, const char *element, Input *in, unsigned depth) {
        unsigned n = take_count(in);
        int r;

        r = sd_bus_message_open_container(m, 'a', element);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n && in->size > 0; i++) {
                if (strcmp(element, "{uh}") == 0) {
                        /* Targets around the bounds, sometimes repeated. */
                        uint8_t b = take_byte(in);
                        uint32_t target;
                        if (b < 0x40)
                                target = b % 8;
                        else if (b < 0x80)
                                target = 3 + i;
                        else if (b < 0xc0)
                                target = 65535U + (b & 1U);
                        else
                                target = take_u32(in);
                        r = sd_bus_message_append(m, "{uh}", target, null_fd);
                } else if (strcmp(element, "{sv}") == 0) {
                        const char *sig = signatures[take_byte(in) % ELEMENTSOF(signatures)];
                        r = sd_bus_message_open_container(m, 'e', "sv");
                        if (r >= 0)
                                r = append_string(m, 's', in);
                        if (r >= 0)
                                r = sd_bus_message_open_container(m, 'v', sig);
                        if (r >= 0)
                                r = append_value(m, sig, in, depth + 1);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                } else
                        r = append_value(m, element, in, depth + 1);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_value(sd_bus_message *m, const char *signature, Input *in, unsigned depth) {
        int r;

        if (depth > FUZZ_DEPTH_MAX) {
                /* Keep the message finite; an empty array or a plain value ends the nesting. */
                if (signature[0] == 'a')
                        return sd_bus_message_append(m, signature, 0);
                if (signature[0] == 'v')
                        return sd_bus_message_append(m, "v", "s", "");
        }

        switch (signature[0]) {
        case 's':
        case 'o':
        case 'g':
                return append_string(m, signature[0], in);
        case 'b':
                return sd_bus_message_append(m, "b", take_byte(in) & 1);
        case 'y':
                return sd_bus_message_append(m, "y", take_byte(in));
        case 'i': {
                /* Signal numbers around 1...SIGRTMAX, or anything. */
                uint8_t b = take_byte(in);
                int32_t v = b < 0x80 ? (int32_t) (b % 70) - 2 : (int32_t) take_u32(in);
                return sd_bus_message_append(m, "i", v);
        }
        case 'u':
                return sd_bus_message_append(m, "u", take_u32(in));
        case 't':
                return sd_bus_message_append(m, "t", take_u64(in));
        case 'd':
                return sd_bus_message_append(m, "d", (double) take_u32(in));
        case 'h':
                return sd_bus_message_append(m, "h", null_fd);
        case 'v': {
                const char *sig = signatures[take_byte(in) % ELEMENTSOF(signatures)];
                r = sd_bus_message_open_container(m, 'v', sig);
                if (r < 0)
                        return r;
                r = append_value(m, sig, in, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        case '(':
                if (strcmp(signature, "(uu)") == 0) {
                        /* pty-size: small sizes, zeroes and the bounds. */
                        uint8_t b = take_byte(in);
                        uint32_t rows = b < 0x80 ? b % 80 : take_u32(in), columns = take_byte(in) < 0x80 ? 80 : 65536;
                        return sd_bus_message_append(m, "(uu)", rows, columns);
                }
                r = sd_bus_message_open_container(m, 'r', "si");
                if (r >= 0)
                        r = append_string(m, 's', in);
                if (r >= 0)
                        r = append_value(m, "i", in, depth + 1);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                return r;
        case 'a':
                return append_array(m, signature + 1, in, depth);
        default:
                return -EINVAL;
        }
}

static int build_options(sd_bus_message *m, Input *in) {
        unsigned n = take_byte(in) % 20;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        for (unsigned i = 0; i < n && in->size > 0; i++) {
                uint8_t k = take_byte(in), t = take_byte(in);
                const char *key, *sig;
                char random_key[16];

                if (k < 0xc0)
                        key = spawn_option_to_string((SpawnOption) (k % _SPAWN_OPTION_MAX));
                else if (k < 0xf0)
                        key = extra_keys[k % ELEMENTSOF(extra_keys)];
                else {
                        size_t len = k % sizeof(random_key);
                        for (size_t j = 0; j < len; j++)
                                random_key[j] = (char) ('a' + take_byte(in) % 26);
                        random_key[len] = '\0';
                        key = random_key;
                }

                /* Mostly the key's own type, so that values get checked, not only types. */
                if (t < 0xa0 && k < 0xc0) {
                        static const char *const own[_SPAWN_OPTION_MAX] = {
                                [SPAWN_OPTION_CWD] = "s",
                                [SPAWN_OPTION_ENVIRONMENT] = "as",
                                [SPAWN_OPTION_CLEAR_ENVIRONMENT] = "b",
                                [SPAWN_OPTION_UNSET_ENVIRONMENT] = "as",
                                [SPAWN_OPTION_STDIN] = "h",
                                [SPAWN_OPTION_STDOUT] = "h",
                                [SPAWN_OPTION_STDERR] = "h",
                                [SPAWN_OPTION_FDS] = "a{uh}",
                                [SPAWN_OPTION_NEW_SESSION] = "b",
                                [SPAWN_OPTION_EVENTS] = "as",
                                [SPAWN_OPTION_WATCH_BUS] = "b",
                                [SPAWN_OPTION_KILL_ON_RELEASE] = "b",
                                [SPAWN_OPTION_KILL_SIGNAL] = "i",
                                [SPAWN_OPTION_KILL_TIMEOUT_USEC] = "t",
                                [SPAWN_OPTION_DESCRIPTION] = "s",
                                [SPAWN_OPTION_TREE] = "b",
                                [SPAWN_OPTION_USER] = "s",
                                [SPAWN_OPTION_GROUP] = "s",
                                [SPAWN_OPTION_PTY] = "b",
                                [SPAWN_OPTION_PTY_SIZE] = "(uu)",
                        };
                        _Static_assert(_SPAWN_OPTION_MAX == 20, "every option needs its type here");
                        sig = own[k % _SPAWN_OPTION_MAX];
                } else
                        sig = signatures[t % ELEMENTSOF(signatures)];

                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(m, 's', key);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'v', sig);
                if (r < 0)
                        return r;
                r = append_value(m, sig, in, 1);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

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
        Input in = { data, size };
        int r;

        /* Set up once per process: the bus only creates messages, it never connects. */
        if (!bus) {
                if (bus_errors_register() < 0 || test_bus_new(&bus) < 0)
                        __builtin_trap();
                null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null_fd < 0)
                        __builtin_trap();
                debug = getenv("CW_FUZZ_DEBUG");
        }

        if (test_message_new(bus, &m) < 0)
                __builtin_trap();
        r = build_options(m, &in);
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
