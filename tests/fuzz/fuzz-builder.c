/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "fuzz-builder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn-options.h"
#include "util/macro.h"

static int default_fd_picker(FuzzInput *in) {
        static int null_fd = -EBADF;
        (void) in;

        if (null_fd < 0) {
                null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null_fd < 0)
                        __builtin_trap();
        }
        return null_fd;
}

static FuzzFdPicker fd_picker = default_fd_picker;

void fuzz_set_fd_picker(FuzzFdPicker picker) {
        fd_picker = picker ?: default_fd_picker;
}

/* Nesting depth of variants in variants and dictionaries in dictionaries. */
#define FUZZ_DEPTH_MAX 3

/* 0 once the input is used up: the message ends early, which is fine. */
uint8_t fuzz_take_byte(FuzzInput *in) {
        if (in->size == 0)
                return 0;
        in->size--;
        return *in->data++;
}

uint32_t fuzz_take_u32(FuzzInput *in) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = v << 8 | fuzz_take_byte(in);
        return v;
}

uint64_t fuzz_take_u64(FuzzInput *in) {
        uint64_t high = fuzz_take_u32(in);
        return high << 32 | fuzz_take_u32(in);
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
const char *const fuzz_signatures[] = {
        "s", "b", "i", "u", "t", "h", "as", "a{uh}", "a{sv}", "v", "ai", "ay", "aas", "(si)", "o", "g", "d", "y",
        "(uu)",
};
const size_t fuzz_n_signatures = ELEMENTSOF(fuzz_signatures);

static int append_string(sd_bus_message *m, char type, FuzzInput *in) {
        /* Printable ASCII plus '/' and '=': valid UTF-8 (sd-bus refuses invalid strings) and
         * object-path and signature characters for 'o' and 'g'. */
        static const char charset[] = "/=ABCPXYZ_.- 0123456789abcdefghijklmnopqrstuvwxyz";
        char buf[64];
        uint8_t b = fuzz_take_byte(in);

        if (type == 'o')
                return sd_bus_message_append_basic(m, 'o', b & 1 ? "/a/b" : "/");
        if (type == 'g')
                return sd_bus_message_append_basic(m, 'g', b & 1 ? "a{sv}" : "");

        if (b < 0x80)
                return sd_bus_message_append_basic(m, 's', dictionary[b % ELEMENTSOF(dictionary)]);

        size_t len = (b & 0x7f) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
                buf[i] = charset[fuzz_take_byte(in) % (sizeof(charset) - 1)];
        buf[len] = '\0';
        return sd_bus_message_append_basic(m, 's', buf);
}

/* How many elements an array gets: usually few, sometimes past the limits. */
unsigned fuzz_take_count(FuzzInput *in) {
        uint8_t b = fuzz_take_byte(in);

        if (b < 0xf0)
                return b % 6;
        if (b < 0xfe)
                return (b - 0xf0) * 20; /* 240 is SPAWN_FDS_MAX, 260 beyond it */
        return 250 + fuzz_take_byte(in);
}

static int append_array(sd_bus_message *m, const char *element, FuzzInput *in, unsigned depth) {
        unsigned n = fuzz_take_count(in);
        int r;

        r = sd_bus_message_open_container(m, 'a', element);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n && in->size > 0; i++) {
                if (strcmp(element, "{uh}") == 0) {
                        /* Targets around the bounds, sometimes repeated. */
                        uint8_t b = fuzz_take_byte(in);
                        uint32_t target;
                        if (b < 0x40)
                                target = b % 8;
                        else if (b < 0x80)
                                target = 3 + i;
                        else if (b < 0xc0)
                                target = 65535U + (b & 1U);
                        else
                                target = fuzz_take_u32(in);
                        r = sd_bus_message_append(m, "{uh}", target, fd_picker(in));
                } else if (strcmp(element, "{sv}") == 0) {
                        const char *sig = fuzz_signatures[fuzz_take_byte(in) % fuzz_n_signatures];
                        r = sd_bus_message_open_container(m, 'e', "sv");
                        if (r >= 0)
                                r = append_string(m, 's', in);
                        if (r >= 0)
                                r = sd_bus_message_open_container(m, 'v', sig);
                        if (r >= 0)
                                r = fuzz_append_value(m, sig, in, depth + 1);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                } else
                        r = fuzz_append_value(m, element, in, depth + 1);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int fuzz_append_value(sd_bus_message *m, const char *signature, FuzzInput *in, unsigned depth) {
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
                return sd_bus_message_append(m, "b", fuzz_take_byte(in) & 1);
        case 'y':
                return sd_bus_message_append(m, "y", fuzz_take_byte(in));
        case 'i': {
                /* Signal numbers around 1...SIGRTMAX, or anything. */
                uint8_t b = fuzz_take_byte(in);
                int32_t v = b < 0x80 ? (int32_t) (b % 70) - 2 : (int32_t) fuzz_take_u32(in);
                return sd_bus_message_append(m, "i", v);
        }
        case 'u':
                return sd_bus_message_append(m, "u", fuzz_take_u32(in));
        case 't':
                return sd_bus_message_append(m, "t", fuzz_take_u64(in));
        case 'd':
                return sd_bus_message_append(m, "d", (double) fuzz_take_u32(in));
        case 'h':
                return sd_bus_message_append(m, "h", fd_picker(in));
        case 'v': {
                const char *sig = fuzz_signatures[fuzz_take_byte(in) % fuzz_n_signatures];
                r = sd_bus_message_open_container(m, 'v', sig);
                if (r < 0)
                        return r;
                r = fuzz_append_value(m, sig, in, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        case '(':
                if (strcmp(signature, "(uu)") == 0) {
                        /* pty-size: small sizes, zeroes and the bounds. */
                        uint8_t b = fuzz_take_byte(in);
                        uint32_t rows = b < 0x80 ? b % 80 : fuzz_take_u32(in), columns = fuzz_take_byte(in) < 0x80 ? 80 : 65536;
                        return sd_bus_message_append(m, "(uu)", rows, columns);
                }
                r = sd_bus_message_open_container(m, 'r', "si");
                if (r >= 0)
                        r = append_string(m, 's', in);
                if (r >= 0)
                        r = fuzz_append_value(m, "i", in, depth + 1);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                return r;
        case 'a':
                return append_array(m, signature + 1, in, depth);
        default:
                return -EINVAL;
        }
}

int fuzz_append_options(sd_bus_message *m, FuzzInput *in) {
        unsigned n = fuzz_take_byte(in) % 20;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        for (unsigned i = 0; i < n && in->size > 0; i++) {
                uint8_t k = fuzz_take_byte(in), t = fuzz_take_byte(in);
                const char *key, *sig;
                char random_key[16];

                if (k < 0xc0)
                        key = spawn_option_to_string((SpawnOption) (k % _SPAWN_OPTION_MAX));
                else if (k < 0xf0)
                        key = extra_keys[k % ELEMENTSOF(extra_keys)];
                else {
                        size_t len = k % sizeof(random_key);
                        for (size_t j = 0; j < len; j++)
                                random_key[j] = (char) ('a' + fuzz_take_byte(in) % 26);
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
                        sig = fuzz_signatures[t % fuzz_n_signatures];

                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(m, 's', key);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'v', sig);
                if (r < 0)
                        return r;
                r = fuzz_append_value(m, sig, in, 1);
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

