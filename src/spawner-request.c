/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The request area as the service reads and writes it: a request copied in (argv and
 * environment with a bump allocator, so that the pointers are valid in the helper and the new
 * process too), and what a new process left there when its helper died without an answer.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "spawn-protocol.h"
#include "util/env.h"
#include "util/proc-stat.h"

static void *arena_alloc(SpawnerShm *shm, size_t size) {
        size_t limit = SPAWNER_SHM_SIZE - offsetof(SpawnerShm, arena);
        size_t start = (shm->used + 15) & ~(size_t) 15;
        if (start > limit || size > limit - start)
                return NULL;
        shm->used = start + size;
        return shm->arena + start;
}

static char **arena_copy_strv(SpawnerShm *shm, char * const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        char **copy = arena_alloc(shm, (n + 1) * sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(l[i]) + 1;
                copy[i] = arena_alloc(shm, len);
                if (!copy[i])
                        return NULL;
                memcpy(copy[i], l[i], len);
        }
        copy[n] = NULL;
        return copy;
}

int spawner_shm_fill(SpawnerShm *shm, const SpawnRequest *req) {

        if (req->n_fds + (req->into_cgroup ? 1 : 0) + (req->set_ctty ? 1 : 0) > SPAWNER_FDS_MAX)
                return -E2BIG;
        if ((req->into_cgroup && req->cgroup_fd < 0) || (req->set_ctty && req->ctty_fd < 0))
                return -EBADF;
        if (req->set_ctty && !req->new_session)
                return -EINVAL;

        if (req->death_signal < 0 || req->death_signal >= _NSIG)
                return -EINVAL;

        /* Reset here, not only in the helper: a helper that dies before it gets to them must
         * leave no stale value for spawner_helper_gone() to read. */
        shm->child_pid = 0;
        shm->cancelled = 0;
        shm->error = 0;
        shm->stage = SPAWN_STAGE_NONE;
        shm->death_signal = req->death_signal;
        shm->used = 0;
        shm->argv = arena_copy_strv(shm, req->argv);
        shm->envp = arena_copy_strv(shm, req->envp);
        if (!shm->argv || !shm->envp)
                return -E2BIG;
        shm->program = shm->argv[0];
        shm->path = env_get(shm->envp, "PATH");
        size_t len = strlen(req->cwd) + 1;
        char *cwd = arena_alloc(shm, len);
        if (!cwd)
                return -E2BIG;
        memcpy(cwd, req->cwd, len);
        shm->cwd = cwd;
        shm->new_session = req->new_session;
        shm->new_process_group = req->new_process_group;
        shm->into_cgroup = req->into_cgroup;
        shm->set_ctty = req->set_ctty;
        shm->change_credentials = req->change_credentials;
        shm->n_groups = 0;
        shm->groups = NULL;
        if (req->change_credentials) {
                /* -1 means "unchanged" to set*id(): the child would stay root. */
                if (req->uid == (uid_t) -1 || req->gid == (gid_t) -1)
                        return -EINVAL;
                shm->uid = (uint32_t) req->uid;
                shm->gid = (uint32_t) req->gid;
                if (req->n_groups > 0) {
                        gid_t *g = arena_alloc(shm, req->n_groups * sizeof(gid_t));
                        if (!g)
                                return -E2BIG;
                        memcpy(g, req->groups, req->n_groups * sizeof(gid_t));
                        shm->groups = g;
                        shm->n_groups = req->n_groups;
                }
        }
        shm->n_fds = req->n_fds;
        memcpy(shm->targets, req->targets, req->n_fds * sizeof(unsigned));
        return 0;
}

/* What the child of the request in flight left in the request area, once the helper died
 * without an answer and its socket hung up: then no helper and no child of one holds the
 * socket (children keep it up to their execve(), see spawn_invoke()), so the child, if any, has
 * exec'd or failed by now, and what it wrote is final.
 * Return: true with @ret filled when a child was started, false when none was. */
bool spawner_shm_child_outcome(SpawnerShm *shm, SpawnerReply *ret) {
        int32_t pid = __atomic_load_n(&shm->child_pid, __ATOMIC_SEQ_CST);
        siginfo_t si = {};
        ProcStat st;

        if (pid <= 0)
                return false;
        *ret = (SpawnerReply) { .pid = pid, .error = shm->error, .stage = shm->stage };
        /* No failure written, and it has died of a signal with the helper's name still on it:
         * someone killed it before its execve() (pkill of the helper's name, the OOM killer).
         * The program never ran; that is a failure, not a process to hand out. */
        if (ret->error == 0 && waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 &&
            si.si_pid == pid && (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) &&
            proc_stat_read(pid, &st) >= 0 && strncmp(st.comm, SPAWNER_HELPER_NAME, 15) == 0)
                *ret = (SpawnerReply) { .pid = pid, .error = si.si_status, .stage = SPAWN_STAGE_KILLED };
        return true;
}

/* Whether @pid, our child from a spawn, has exec'd: before, it runs our own program. */
bool spawner_child_has_execd(pid_t pid) {
        char path[64];
        struct stat self, other;

        (void) snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        if (stat("/proc/self/exe", &self) < 0 || stat(path, &other) < 0)
                return false; /* gone (a zombie has no exe): not running the program */
        return self.st_dev != other.st_dev || self.st_ino != other.st_ino;
}
