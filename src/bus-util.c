/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

int bus_message_read_strv_bounded(sd_bus_message *m, size_t max_entries, size_t max_bytes, char ***ret) {
        _cleanup_free_ char **l = NULL;
        size_t n = 0, allocated = 0, bytes = 0;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                bytes += strlen(s) + 1;
                if (n >= max_entries || bytes > max_bytes)
                        return -E2BIG;
                if (n + 2 > allocated) {
                        size_t a = allocated ? allocated * 2 : 16;
                        char **t = realloc(l, a * sizeof(char *));
                        if (!t)
                                return -ENOMEM;
                        l = t;
                        allocated = a;
                }
                l[n++] = (char *) s;
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        } else
                l[n] = NULL;

        *ret = steal_ptr(&l);
        return 0;
}
