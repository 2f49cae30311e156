/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus errors of API.md, defined once and registered with sd-bus at startup. */

#include <systemd/sd-bus.h>

#define CW_ERROR_PREFIX "org.childwatch.ChildWatch1.Error."
#define CW_ERROR_SPAWN_FAILED CW_ERROR_PREFIX "SpawnFailed"
#define CW_ERROR_NO_SUCH_PROCESS CW_ERROR_PREFIX "NoSuchProcess"
#define CW_ERROR_NOT_RUNNING CW_ERROR_PREFIX "NotRunning"
#define CW_ERROR_ALREADY_WATCHED CW_ERROR_PREFIX "AlreadyWatched"
#define CW_ERROR_LIMIT_EXCEEDED CW_ERROR_PREFIX "LimitExceeded"

extern const sd_bus_error_map childwatch_error_map[];

/* Registers childwatch_error_map with sd-bus; safe to call more than once. */
int bus_errors_register(void);
