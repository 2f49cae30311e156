/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging to stderr with sd-daemon priority prefixes ("<3>..."), which
 * journald and systemd parse when the service runs as a unit.
 */

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
void log_internal(int level, const char *prefix, const char *format, ...) _printf_(3, 4);

#define log_full(level, prefix, ...) \
        ({ if ((level) <= log_get_max_level()) log_internal((level), (prefix), __VA_ARGS__); })

#define log_debug(...) log_full(7, SD_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(6, SD_INFO, __VA_ARGS__)
#define log_notice(...) log_full(5, SD_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(4, SD_WARNING, __VA_ARGS__)
#define log_error(...) log_full(3, SD_ERR, __VA_ARGS__)

/* Logs and returns the negative errno r, for "return log_error_errno(r, ...)". */
#define log_error_errno(r, fmt, ...)                                             \
        ({                                                                       \
                int _r_ = (r);                                                   \
                log_error(fmt ": %s", ##__VA_ARGS__, strerror(_r_ < 0 ? -_r_ : _r_)); \
                _r_ < 0 ? _r_ : -_r_;                                            \
        })
