/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Starting programs. A vfork-style spawn copies the caller's fd table, and
 * the service holds one pidfd per watched child: spawning from the service
 * itself would cost O(children) per spawn. So a small helper process, forked
 * at startup while the service's fd table and rlimits are still pristine,
 * does the clone3() with CLONE_PARENT: the new program is a direct child of
 * the service (it gets SIGCHLD and reaps it) but is created from a tiny fd
 * table. Requests travel through a shared mapping (argv, environment) and a
 * SOCK_SEQPACKET socket (the descriptors), so nothing is copied twice.
 *
 * The service does not wait for the helper (spawner_submit()): the answer is read by an IO
 * source on the socket, and a deadline per request catches a helper stuck behind a child
 * that hangs in execve(). spawn-pool.c runs several helpers side by side.
 *
 * A request that names a cgroup starts the program in it from the first
 * instruction (clone3() with CLONE_INTO_CGROUP), so not even a fork that
 * the program makes right away can escape it. That path forks the helper
 * (without CLONE_VM, which clone3() cannot give a C function safely); the
 * helper is small, so the copy is cheap, but the common path without a
 * cgroup stays the CLONE_VM one.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

typedef enum SpawnStage {
        SPAWN_STAGE_NONE,
        SPAWN_STAGE_CLONE,
        SPAWN_STAGE_SESSION,       /* setsid() */
        SPAWN_STAGE_PROCESS_GROUP, /* setpgid() */
        SPAWN_STAGE_CTTY,          /* ioctl(TIOCSCTTY) */
        SPAWN_STAGE_SETGROUPS,
        SPAWN_STAGE_SETGID,
        SPAWN_STAGE_SETUID,
        SPAWN_STAGE_DEATH_SIGNAL,  /* prctl(PR_SET_PDEATHSIG), or the service died first */
        SPAWN_STAGE_KILLED,        /* killed by someone else before its execve(); error: the signal */
        SPAWN_STAGE_CHDIR,
        SPAWN_STAGE_FDS,
        SPAWN_STAGE_EXEC,
        _SPAWN_STAGE_MAX,
} SpawnStage;

typedef struct SpawnFailure {
        SpawnStage stage;
        int error; /* positive errno */
} SpawnFailure;

typedef struct SpawnRequest {
        const char *program; /* argv[0]: looked up in PATH of @envp when it has no slash */
        char * const *argv;
        char * const *envp;
        const char *cwd;
        bool new_session;
        /* setpgid(0, 0) in the child: it leads a process group of its own (a failure is
         * SPAWN_STAGE_PROCESS_GROUP). Implied by @new_session, which makes it lead its group too. */
        bool new_process_group;
        unsigned n_fds;         /* stdin, stdout and stderr first, then further ones */
        const int *fds;         /* borrowed; -1 in the first three for /dev/null */
        const unsigned *targets;
        /* Start the child in the cgroup @cgroup_fd (a cgroup2 directory, borrowed; read only
         * when @into_cgroup). Needs clone3() (see spawner_probe_clone3()): without it the
         * spawn fails with SPAWN_STAGE_CLONE and ENOSYS, and the kernel's refusal (EBUSY for
         * a cgroup with controllers in cgroup.subtree_control, EACCES, ...) comes the same way. */
        bool into_cgroup;
        int cgroup_fd;
        /* Run as @uid/@gid with exactly @groups (read only when @change_credentials): set with
         * the raw system calls, groups first, before the chdir() so that the cwd is checked
         * with the user's rights. Leaving uid 0 drops every capability. */
        bool change_credentials;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        unsigned n_groups;
        /* Make @ctty_fd (a terminal, borrowed; read only when @set_ctty) the controlling
         * terminal (TIOCSCTTY). Needs @new_session; a failure is SPAWN_STAGE_CTTY. */
        bool set_ctty;
        int ctty_fd;
        /* Sent to the program when the service dies (PR_SET_PDEATHSIG; 0: none): kill-on-release
         * then holds even across a crash. Set after the credentials change, which would clear it,
         * and checked against a service that died before: then the program never starts. The
         * kernel clears it again when the program execs a setuid binary. */
        int death_signal;
} SpawnRequest;

typedef struct Spawner Spawner;

/* The helper's comm (15 characters at most), which each new child keeps until its execve(). */
#define SPAWNER_HELPER_NAME "childwatch-spawn"

/* How long a request may take before the helper is deemed stuck (an exec on a hung file
 * system): then it is killed, started anew, and the request fails with -ETIMEDOUT. */
#define SPAWNER_TIMEOUT_DEFAULT_USEC (30 * UINT64_C(1000000))

/**
 * SpawnerDone - the outcome of a request made with spawner_submit().
 * @r: 0 with @pid started (a direct child of the caller, unreaped); 1 when it could not
 *     exec (@failure says where; the child is reaped already); -ETIMEDOUT when the helper
 *     did not answer in time (it was killed, and the child if any, which the Spawner reaps);
 *     -EPIPE when two helpers died on it before either started the program; another
 *     negative errno when no helper could be started
 *
 * Exactly once: a helper that dies after it started the child does not get the request
 * again. The outcome is then read from what the child left (its pid, or where it failed)
 * once it has exec'd or exited; a request goes to a new helper only when none was started.
 *
 * Called from the event loop, never from within spawner_submit(). The helper is free again
 * when it is called, so it may submit the next request.
 */
typedef void (*SpawnerDone)(Spawner *s, int r, pid_t pid, const SpawnFailure *failure, void *userdata);

/**
 * spawner_new() - fork the helper.
 * @event: loop in which the helper is watched (so it is reaped if it dies), and in which
 *         answers to spawner_submit() are read
 *
 * Call it early: the helper keeps the rlimits and the (small) fd table of this moment.
 * Return: 0 or a negative errno.
 */
int spawner_new(Spawner **ret, sd_event *event);
/* A request in flight is forgotten (call spawner_flush() first to answer it). */
Spawner *spawner_free(Spawner *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Spawner *, spawner_free);

/* 0: SPAWNER_TIMEOUT_DEFAULT_USEC. Applies to requests made after the call. */
void spawner_set_timeout(Spawner *s, uint64_t usec);

/**
 * spawner_spawn() - start one program; returns once execve() succeeded or failed.
 * @ret_pid: the new direct child of the caller, unreaped, on success
 * @ret_failure: where the child failed, when the return value is 1
 *
 * Blocks in poll() on the helper's answer (bounded by the timeout). On failure the child has
 * been reaped already: nothing is left behind.
 * Return: 0 on success, 1 when the child could not exec (see @ret_failure),
 * -E2BIG when argv and environment do not fit, -EBUSY while a spawner_submit() request is in
 * flight, another negative errno when the helper failed.
 */
int spawner_spawn(Spawner *s, const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure);

/**
 * spawner_submit() - start one program without waiting for it.
 * @req: borrowed, with all it points to (strings and descriptors), until @done is called:
 *       a helper that dies on it gets it once more
 *
 * The request is in the helper's hands when this returns; @done reports the outcome from
 * the event loop. One request at a time per Spawner.
 * Return: 0; -EBUSY while another request is in flight; -E2BIG when argv and environment do
 * not fit; another negative errno when it could not be sent (@done is then not called).
 */
int spawner_submit(Spawner *s, const SpawnRequest *req, SpawnerDone done, void *userdata);

/**
 * spawner_flush() - wait for the answer to the request in flight, blocking, and call its
 * done callback (bounded by its deadline).
 *
 * Return: 1 if a request was answered, 0 if none was in flight.
 */
int spawner_flush(Spawner *s);

bool spawner_is_busy(const Spawner *s);

/* Whether @pid is the helper, the child of the request in flight, which runs before the
 * helper's answer has been read (its SIGCHLD may come first), or a child that a timeout
 * killed and that the Spawner still has to reap: not an orphan. */
bool spawner_owns_pid(const Spawner *s, pid_t pid);

pid_t spawner_helper_pid(Spawner *s);

/**
 * spawner_probe_clone3() - whether requests with @into_cgroup can work at all.
 *
 * Return: 0 when the kernel has clone3(); -ENOSYS when it has not (before Linux 5.3) or when
 * something in between does not pass it on (valgrind 3.19, some seccomp filters).
 */
int spawner_probe_clone3(void);
