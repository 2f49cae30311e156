/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The helpers of the pool are equal; a job goes to the first idle one, so at low
 * concurrency one helper does all the work and the others sleep in recvmsg(). When a
 * helper answers, the next queued job is handed to it before the finished job's callback
 * runs: the helper clones while the service registers the process and replies.
 */

#include "spawn-pool.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct SpawnPool {
        unsigned n_helpers;
        Spawner *helpers[SPAWN_POOL_HELPERS_MAX];
        SpawnJob *jobs[SPAWN_POOL_HELPERS_MAX]; /* in flight, per helper */
        unsigned n_in_flight;

        SpawnJob *queue_head, *queue_tail;
        unsigned n_queued;

        /* The child of a job whose callback runs now: answered, not yet registered. */
        pid_t finishing_pid;
};

unsigned spawn_pool_default_size(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
                return 1;
        return n > (long) SPAWN_POOL_HELPERS_DEFAULT_MAX ? SPAWN_POOL_HELPERS_DEFAULT_MAX : (unsigned) n;
}

int spawn_pool_new(SpawnPool **ret, sd_event *event, unsigned n_helpers) {
        _cleanup_(spawn_pool_freep) SpawnPool *p = NULL;
        int r;

        if (n_helpers < 1 || n_helpers > SPAWN_POOL_HELPERS_MAX)
                return -EINVAL;
        p = calloc(1, sizeof(SpawnPool));
        if (!p)
                return -ENOMEM;
        for (unsigned i = 0; i < n_helpers; i++) {
                r = spawner_new(&p->helpers[i], event);
                if (r < 0)
                        return r;
                p->n_helpers++;
        }
        *ret = steal_ptr(&p);
        return 0;
}

SpawnPool *spawn_pool_free(SpawnPool *p) {
        if (!p)
                return NULL;
        for (unsigned i = 0; i < p->n_helpers; i++)
                spawner_free(p->helpers[i]);
        free(p);
        return NULL;
}

void spawn_pool_set_timeout(SpawnPool *p, uint64_t usec) {
        for (unsigned i = 0; i < p->n_helpers; i++)
                spawner_set_timeout(p->helpers[i], usec);
}

static void spawn_pool_on_done(Spawner *s, int r, pid_t pid, const SpawnFailure *failure, void *userdata);

static int spawn_pool_start(SpawnPool *p, unsigned i, SpawnJob *job) {
        int r;

        r = spawner_submit(p->helpers[i], &job->request, spawn_pool_on_done, p);
        if (r < 0)
                return r;
        p->jobs[i] = job;
        p->n_in_flight++;
        return 0;
}

static SpawnJob *spawn_pool_pop(SpawnPool *p) {
        SpawnJob *job = p->queue_head;

        if (!job)
                return NULL;
        p->queue_head = job->queue_next;
        if (!p->queue_head)
                p->queue_tail = NULL;
        job->queue_next = NULL;
        p->n_queued--;
        return job;
}

/* Hands queued jobs to idle helpers, oldest first. */
static void spawn_pool_dispatch(SpawnPool *p) {
        for (unsigned i = 0; i < p->n_helpers && p->queue_head; i++) {
                if (p->jobs[i])
                        continue;
                SpawnJob *job = spawn_pool_pop(p);
                int r = spawn_pool_start(p, i, job);
                if (r < 0) {
                        /* It could not be sent (too large, no helper could be started): its
                         * answer is that error. The helper is still idle: try it again. */
                        job->done(job, r, 0, &(SpawnFailure) {});
                        i--;
                }
        }
}

static void spawn_pool_on_done(Spawner *s, int r, pid_t pid, const SpawnFailure *failure, void *userdata) {
        SpawnPool *p = userdata;
        SpawnJob *job = NULL;

        for (unsigned i = 0; i < p->n_helpers; i++)
                if (p->helpers[i] == s) {
                        job = steal_ptr(&p->jobs[i]);
                        break;
                }
        if (!job)
                return;
        p->n_in_flight--;

        /* The helper is free: give it the next job before this one is registered and answered,
         * so that its clone overlaps with that. Until the callback has registered the child,
         * its pid is still the pool's (spawn_pool_owns_pid()). */
        pid_t saved = p->finishing_pid;
        p->finishing_pid = r == 0 ? pid : 0;
        spawn_pool_dispatch(p);
        job->done(job, r, pid, failure);
        p->finishing_pid = saved;
}

int spawn_pool_submit(SpawnPool *p, SpawnJob *job) {
        job->queue_next = NULL;

        /* Behind queued jobs only when there are any: FIFO. */
        if (!p->queue_head)
                for (unsigned i = 0; i < p->n_helpers; i++)
                        if (!p->jobs[i])
                                return spawn_pool_start(p, i, job);

        if (p->n_queued >= SPAWN_POOL_QUEUE_MAX)
                return -ENOBUFS;
        if (p->queue_tail)
                p->queue_tail->queue_next = job;
        else
                p->queue_head = job;
        p->queue_tail = job;
        p->n_queued++;
        return 0;
}

void spawn_pool_flush(SpawnPool *p) {
        SpawnJob *job;

        if (!p)
                return;
        /* The queued ones first, or a helper that answers below would take them on. */
        while ((job = spawn_pool_pop(p)))
                job->done(job, -ESHUTDOWN, 0, &(SpawnFailure) {});
        for (unsigned i = 0; i < p->n_helpers; i++)
                (void) spawner_flush(p->helpers[i]);
}

unsigned spawn_pool_n_jobs(const SpawnPool *p) {
        return p->n_in_flight + p->n_queued;
}

bool spawn_pool_is_helper(const SpawnPool *p, pid_t pid) {
        if (pid <= 0)
                return false;
        for (unsigned i = 0; i < p->n_helpers; i++)
                if (spawner_helper_pid(p->helpers[i]) == pid)
                        return true;
        return false;
}

bool spawn_pool_owns_pid(const SpawnPool *p, pid_t pid) {
        if (pid <= 0)
                return false;
        if (pid == p->finishing_pid)
                return true;
        for (unsigned i = 0; i < p->n_helpers; i++)
                if (spawner_owns_pid(p->helpers[i], pid))
                        return true;
        return false;
}

unsigned spawn_pool_n_helpers(const SpawnPool *p) {
        return p->n_helpers;
}

pid_t spawn_pool_helper_pid(const SpawnPool *p, unsigned i) {
        return i < p->n_helpers ? spawner_helper_pid(p->helpers[i]) : 0;
}
