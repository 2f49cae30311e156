/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The world outside the service under fuzzing: a private dbus-daemon, and
 * processes that are not the service's descendants, for Adopt to take over.
 *
 * The service is a child subreaper, and it treats every unknown child as an
 * orphan to adopt. So neither the bus daemon nor the foreign processes may be
 * our children: outside_start() (called before the service exists) starts
 * the fuzz-keeper program so that it re-parents to init, and the keeper
 * starts the daemon and, on request, `sleep` processes as its own children
 * and reaps them. The keeper and all it started die when our end of its
 * socket closes, so that a crashing fuzzer leaves nothing behind.
 */

#include <sys/types.h>

typedef struct Outside Outside;

/* Return: 0 or a negative errno. */
int outside_start(Outside **ret);
Outside *outside_free(Outside *o);

/* The address of the private bus. */
const char *outside_bus_address(Outside *o);

/* Starts `sleep 3600` as a child of the keeper; a pidfd of it in *@ret_pidfd (-EBADF where
 * the system, or valgrind, has no pidfds). Return: its pid, or a negative errno. */
pid_t outside_spawn_sleeper(Outside *o, int *ret_pidfd);
