/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "log.h"

#include <stdarg.h>

static int max_level = 6; /* LOG_INFO */

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_internal(int level, const char *prefix, const char *format, ...) {
        char buf[2048];
        va_list ap;

        (void) level;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
        /* One write per line, so lines of concurrent writers do not interleave. */
        (void) fprintf(stderr, "%s%s\n", prefix, buf);
}
