/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "object-bounds.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid character at @s (at most @n bytes), or 0 when there is none. */
static size_t utf8_char_length(const unsigned char *s, size_t n) {
        uint32_t c;
        size_t len;

        if (n == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                c = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        /* The shortest form only, and only what sd-bus takes (its unichar_is_valid()). */
        size_t shortest = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (len != shortest || c >= 0x110000 || (c & 0xfffff800) == 0xd800 || (c >= 0xfdd0 && c <= 0xfdef) ||
            (c & 0xfffe) == 0xfffe)
                return 0;
        return len;
}

bool utf8_is_valid_dbus(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;

        for (size_t i = 0; i < n;) {
                if (p[i] == 0)
                        return false;
                size_t k = utf8_char_length(p + i, n - i);
                if (k == 0)
                        return false;
                i += k;
        }
        return true;
}

char *utf8_sanitize(char *s) {
        unsigned char *p = (unsigned char *) s;
        size_t n = strlen(s);

        for (size_t i = 0; i < n;) {
                size_t k = utf8_char_length(p + i, n - i);
                if (k == 0) {
                        p[i++] = '?';
                        continue;
                }
                i += k;
        }
        return s;
}

size_t utf8_prefix_length(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);

        if (n <= max)
                return n;
        /* s[max] exists; back up over continuation bytes to the start of its character. */
        n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

char **object_argv_copy(char * const *argv, bool *ret_truncated) {
        size_t n = 0, bytes = 0, keep_last = 0;
        bool truncated = false;

        /* How many arguments fit, and how much of the one that fits only in part. */
        for (; argv && argv[n]; n++) {
                size_t len = strlen(argv[n]);
                if (n >= OBJECT_ARGV_KEEP_ENTRIES) {
                        truncated = true;
                        break;
                }
                if (bytes + len + 1 <= OBJECT_ARGV_KEEP_BYTES) {
                        bytes += len + 1;
                        continue;
                }
                truncated = true;
                size_t room = OBJECT_ARGV_KEEP_BYTES - bytes; /* >= 1, for the NUL */
                keep_last = room > 1 ? utf8_prefix_length(argv[n], room - 1) : 0;
                if (keep_last > 0) {
                        bytes += keep_last + 1;
                        n++;
                } else
                        keep_last = 0;
                break;
        }

        char **copy = malloc((n + 1) * sizeof(char *) + bytes);
        if (!copy)
                return NULL;
        char *p = (char *) (copy + n + 1);
        for (size_t i = 0; i < n; i++) {
                size_t len = truncated && keep_last > 0 && i == n - 1 ? keep_last : strlen(argv[i]);
                copy[i] = p;
                memcpy(p, argv[i], len);
                p[len] = 0;
                utf8_sanitize(p);
                p += len + 1;
        }
        copy[n] = NULL;
        if (ret_truncated)
                *ret_truncated = truncated;
        return copy;
}

void object_description_bound(char *s) {
        if (!s)
                return;
        s[utf8_prefix_length(s, OBJECT_DESCRIPTION_KEEP_BYTES)] = 0;
        utf8_sanitize(s);
}

char *object_description_copy(const char *s) {
        size_t n = utf8_prefix_length(s, OBJECT_DESCRIPTION_KEEP_BYTES);
        char *copy = malloc(n + 1);

        if (!copy)
                return NULL;
        memcpy(copy, s, n);
        copy[n] = 0;
        return utf8_sanitize(copy);
}
