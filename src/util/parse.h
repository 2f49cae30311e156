/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Decimal numbers as the service reads them: from its command line, user and group ids, the
 * names of cgroups it made, /proc and cgroupfs files. One strict parser for all of them: digits
 * only (no sign, no blanks, no base prefix), overflow checked, nothing after the number.
 */

#include <stddef.h>
#include <stdint.h>

typedef enum ParseFlags {
        /* "0" is fine, "007" is not: for names the service writes itself, one spelling each. */
        PARSE_NO_LEADING_ZERO = 1 << 0,
} ParseFlags;

/* The first @len bytes of @s. Return: 0, -EINVAL when they are not a decimal number, -ERANGE
 * when it does not fit 64 bits. */
int parse_u64_n(const char *s, size_t len, ParseFlags flags, uint64_t *ret);
/* The NUL-terminated @s. */
int parse_u64(const char *s, ParseFlags flags, uint64_t *ret);
/* The same, at most @max: -ERANGE above it. */
int parse_u64_max(const char *s, uint64_t max, ParseFlags flags, uint64_t *ret);
