/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the service, its spawn helpers and the new processes share: the request area (one
 * MAP_SHARED mapping at the same address in all of them, so pointers written by the service
 * are valid everywhere) and the helper's answer on its socket. spawner.c is the service's
 * side, spawn-helper.c the helper's, spawn-invoke.c the new process's up to its execve().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "spawner.h"

#define SPAWNER_FDS_MAX 253U /* SCM_MAX_FD */
/* Virtual size of the shared request area; only pages a request touches become resident. */
#define SPAWNER_SHM_SIZE (64UL * 1024UL * 1024UL)
#define SPAWNER_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct SpawnerShm {
        /* Written by the service before each request. */
        const char *program;
        char * const *argv;
        char * const *envp;
        const char *cwd;
        const char *path; /* PATH for the lookup of program */
        uint32_t new_session;
        uint32_t new_process_group;
        uint32_t into_cgroup; /* the cgroup fd comes after the n_fds others */
        uint32_t set_ctty;    /* the terminal comes after the others (and the cgroup fd) */
        uint32_t change_credentials;
        uint32_t uid;
        uint32_t gid;
        uint32_t n_groups;
        const gid_t *groups;
        int32_t death_signal;
        int32_t service_pid; /* the parent of helpers and children: set once */
        uint32_t n_fds;
        uint32_t targets[SPAWNER_FDS_MAX];
        /* Written by the child first thing (sequentially consistent, see @cancelled): the
         * service may see its SIGCHLD before the helper's reply, and must not take it for an
         * orphan (spawner_owns_pid()). */
        int32_t child_pid;
        /* Set by the service when it gives the request up (its deadline passed), read by the
         * child right before its execve(): either the service sees the child's pid (and kills
         * it) or the child sees this and exits, never neither (Dekker: both sequentially
         * consistent). A request area once given up is not used again. */
        int32_t cancelled;
        /* Written by the child when it cannot exec. */
        int32_t error;
        int32_t stage;
        /* Bump allocator for the strings and arrays of one request. */
        size_t used;
        char arena[];
} SpawnerShm;

typedef struct SpawnerReply {
        int32_t pid;
        int32_t error;
        int32_t stage;
} SpawnerReply;

/* spawner-request.c: copies @req into the request area; -E2BIG when it does not fit, -EINVAL
 * or -EBADF for a request that cannot be right. */
int spawner_shm_fill(SpawnerShm *shm, const SpawnRequest *req);
/* spawner-request.c: what the child of the request left, once the helper's socket hung up (no
 * helper and no child can write any more): true with @ret when a child was started. A child
 * killed before its execve() is a failure (SPAWN_STAGE_KILLED). */
bool spawner_shm_child_outcome(SpawnerShm *shm, SpawnerReply *ret);
/* spawner-request.c: whether @pid, a child of ours from a spawn, runs its program by now. */
bool spawner_child_has_execd(pid_t pid);

/* The helper's life: receive a request, clone the new process, answer; until the service
 * closes its end of @sock. Runs in the forked helper, never returns. */
_Noreturn void spawn_helper_main(SpawnerShm *shm, int sock, const struct rlimit *nofile);
