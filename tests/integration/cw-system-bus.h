/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A private system-like bus for the multi-user tests: a dbus-daemon that the
 * test (running as root) starts with a config of its own — the rules of the
 * stock system.conf (everything denied that the policy does not allow) plus
 * an <include> of this source tree's policy/org.childwatch.ChildWatch1.conf —
 * listening on a socket that every uid can reach, and this build's
 * childwatchd started on it as root with --multi-user (under valgrind when
 * cw_under_valgrind()). GTestDBus cannot take such a config.
 */

#include "cw-test.h"

/* Set in the service's environment: no spawned program may ever see it. */
#define CW_SYSTEM_BUS_CANARY_NAME "CHILDWATCH_CANARY"
#define CW_SYSTEM_BUS_CANARY_VALUE "secret-of-the-service"

typedef struct CwSystemBus {
        char *dir;               /* mode 0755: the config, the socket, the users' directories */
        char *address;           /* unix:path=DIR/bus */
        GSubprocess *daemon;     /* dbus-daemon */
        GSubprocess *service;    /* childwatchd (or valgrind running it) */
        pid_t service_pid;
        gboolean service_exited; /* it ended (the status is in service) */
        GDBusConnection *conn;   /* root's client connection */
        char *service_name;      /* unique name of the service on the bus */
} CwSystemBus;

/* Starts the bus and the service with --address=... --multi-user --idle-timeout=0 and
 * @service_args (NULL-terminated, may be NULL); returns once the service owns its name. */
void cw_system_bus_start(CwSystemBus *sb, const char *const *service_args);
/* Unless it already ended: fails the test if the service keeps zombies, stops it with SIGTERM
 * and fails the test unless it exits 0 (bounded). Then takes the bus down, kills and reaps
 * what is left (the service's orphans come to us: we are a subreaper) and removes the
 * directory. Safe on a CwSystemBus that was never started (all zero). */
void cw_system_bus_stop(CwSystemBus *sb);

/* A new connection (as whoever we are) to the bus at @address; asserts success. */
GDBusConnection *cw_bus_connect(const char *address);

/* A directory for @uid under the bus directory, owned by it, mode 0700; created if need be. */
char *cw_system_bus_user_dir(CwSystemBus *sb, uid_t uid, gid_t gid);
