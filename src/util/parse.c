/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The one decimal parser of the service (see parse.h). */

#include "parse.h"

#include <errno.h>
#include <string.h>

int parse_u64_n(const char *s, size_t len, ParseFlags flags, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || len == 0)
                return -EINVAL;
        if ((flags & PARSE_NO_LEADING_ZERO) && s[0] == '0' && len > 1)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                uint64_t digit = (uint64_t) (s[i] - '0');
                if (v > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                v = v * 10 + digit;
        }
        *ret = v;
        return 0;
}

int parse_u64(const char *s, ParseFlags flags, uint64_t *ret) {
        return parse_u64_n(s, s ? strlen(s) : 0, flags, ret);
}

int parse_u64_max(const char *s, uint64_t max, ParseFlags flags, uint64_t *ret) {
        uint64_t v;
        int r = parse_u64(s, flags, &v);
        if (r < 0)
                return r;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}
