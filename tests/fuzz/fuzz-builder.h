/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Builds well-formed D-Bus values from fuzz input bytes, for the fuzz targets.
 *
 * The bytes are choices, not a message: sd-bus checks a received message's
 * framing and signatures before a handler runs, so random bytes would mostly
 * test sd-bus. Each function reads the bytes it needs to choose a type, a
 * length or a value (strings that hit the validity checks, numbers around the
 * bounds, long lists) and appends the result to a message. An input that runs
 * out reads as zeroes: the message just ends early.
 *
 * gen-corpus.py spells out this encoding; change both together.
 */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
} FuzzInput;

uint8_t fuzz_take_byte(FuzzInput *in);
uint32_t fuzz_take_u32(FuzzInput *in);
uint64_t fuzz_take_u64(FuzzInput *in);
/* An array length: usually below 6, sometimes at or past the service's limits. */
unsigned fuzz_take_count(FuzzInput *in);

/* Which descriptor an 'h' value carries. The default reads no byte and returns /dev/null;
 * a target sets its own to pass descriptors of other kinds. Returns a descriptor the
 * builder only borrows (sd-bus duplicates it into the message). */
typedef int (*FuzzFdPicker)(FuzzInput *in);
void fuzz_set_fd_picker(FuzzFdPicker picker);

/* Value types to choose from when a type is chosen freely: the options' own and wrong ones. */
extern const char *const fuzz_signatures[];
extern const size_t fuzz_n_signatures;

/* Appends one value of the complete type @signature. @depth bounds nesting of variants and
 * containers. Return: sd-bus's result (negative when sd-bus refuses to build it). */
int fuzz_append_value(sd_bus_message *m, const char *signature, FuzzInput *in, unsigned depth);

/* Appends an a{sv} of Spawn/Adopt options: mostly real keys with their own types. */
int fuzz_append_options(sd_bus_message *m, FuzzInput *in);
