/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A few spawn helpers (spawner.c), each with its own socket and request area. One helper
 * is held up until its child has exec'd (0.1-0.6 ms here, often waiting for a CPU behind
 * that very child), so with one helper every Spawn of every client waited in line, and the
 * service did nothing else meanwhile. With several, and the answers read from the event
 * loop, the execs of concurrent Spawn calls overlap. Requests that find every helper busy
 * wait in a bounded FIFO queue.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cli.h"
#include "spawner.h"
#include "util/macro.h"

/* A pool larger than this gains nothing: the helpers share the CPUs with their children. */
#define SPAWN_POOL_HELPERS_MAX CONFIG_SPAWN_HELPERS_MAX
/* The default size is one helper per online CPU, at most this many. */
#define SPAWN_POOL_HELPERS_DEFAULT_MAX CONFIG_SPAWN_HELPERS_DEFAULT_MAX
/* Requests that may wait for a helper; more are refused (spawn_pool_submit()). */
#define SPAWN_POOL_QUEUE_MAX 1024U

typedef struct SpawnPool SpawnPool;
typedef struct SpawnJob SpawnJob;

/**
 * SpawnJobDone - the outcome of a job: as SpawnerDone (see spawner.h); also -ESHUTDOWN
 * for a job still queued when the pool was flushed (nothing was started).
 */
typedef void (*SpawnJobDone)(SpawnJob *job, int r, pid_t pid, const SpawnFailure *failure);

struct SpawnJob {
        /* Filled by the submitter: the request and everything it points to (strings and
         * descriptors) stay valid until @done is called. */
        SpawnRequest request;
        SpawnJobDone done;

        /* The pool's. */
        SpawnJob *queue_next;
};

/* One helper per online CPU, at most SPAWN_POOL_HELPERS_DEFAULT_MAX. */
unsigned spawn_pool_default_size(void);

/**
 * spawn_pool_new() - start @n_helpers helpers (1 to SPAWN_POOL_HELPERS_MAX).
 *
 * All at once, now: the caller's descriptor count then stays level (each helper costs two,
 * its socket and the pidfd that watches it), and they keep the rlimits of this moment.
 * Return: 0 or a negative errno.
 */
int spawn_pool_new(SpawnPool **ret, sd_event *event, unsigned n_helpers);
/* Jobs still in flight or queued are forgotten: call spawn_pool_flush() first. */
SpawnPool *spawn_pool_free(SpawnPool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SpawnPool *, spawn_pool_free);

/* How long a helper may take for one request before it is killed (0: the default). */
void spawn_pool_set_timeout(SpawnPool *p, uint64_t usec);

/**
 * spawn_pool_submit() - hand @job to an idle helper, or queue it.
 *
 * Return: 0 when the job was taken (@done will be called, from the event loop); -ENOBUFS
 * when SPAWN_POOL_QUEUE_MAX jobs wait already; otherwise the error of spawner_submit()
 * (-E2BIG, ...). When it fails, @done is not called and the job is the caller's again.
 */
int spawn_pool_submit(SpawnPool *p, SpawnJob *job);

/**
 * spawn_pool_flush() - settle every job now, blocking: the queued ones get -ESHUTDOWN,
 * those in flight their helper's answer (each bounded by its deadline).
 */
void spawn_pool_flush(SpawnPool *p);

/* Jobs in flight or queued. */
unsigned spawn_pool_n_jobs(const SpawnPool *p);

/* Whether @pid is one of the helpers. */
bool spawn_pool_is_helper(const SpawnPool *p, pid_t pid);
/* Whether @pid is a helper or a child of a job that has not been answered yet: either way
 * not an orphan, and not a process a client may adopt. */
bool spawn_pool_owns_pid(const SpawnPool *p, pid_t pid);

unsigned spawn_pool_n_helpers(const SpawnPool *p);
/* The pid of helper @i, 0 while it is not running (it is restarted on demand). */
pid_t spawn_pool_helper_pid(const SpawnPool *p, unsigned i);
