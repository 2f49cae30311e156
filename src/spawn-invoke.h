/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The new process between its clone() and its execve(): session, credentials, death signal,
 * working directory, descriptors, signal state, then the program. It runs on the helper's
 * memory (CLONE_VM) or a copy of it, so everything here is async-signal-safe, allocates
 * nothing, and reports a failure only through the request area (and a pipe, see below).
 * Kept apart from the helper for that reason, as systemd keeps exec-invoke.c apart.
 */

#include "spawn-protocol.h"

/* What the new process needs besides the request area. It lives on the helper's stack (CLONE_VM)
 * or in a copy of it: the child reads it, and keeps what it changes in locals of its own. */
typedef struct InvokeArgs {
        SpawnerShm *shm;
        const int *fds;
        /* Without CLONE_VFORK (see helper_handle()) a failure also goes through this pipe. */
        int report_fd;
        /* The helper's socket, O_CLOEXEC: kept open until the execve() (or the exit), so that
         * the service sees its EOF only once no helper and no child of one can still act on
         * the request (spawner_helper_gone()). */
        int witness_fd;
} InvokeArgs;

/* Sets the new process up as the request says and execs it; on failure writes the stage and
 * errno to the request area (and @args->report_fd) and exits with 127. */
_Noreturn void spawn_invoke(const InvokeArgs *args);
