/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The new process from its clone() to its execve() (see spawn-invoke.h): only system calls
 * and stack memory, as between vfork() and exec.
 */

#include "spawn-invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The errors on which execvpe() goes on with the next PATH element. */
static bool errno_continues_path_search(int e) {
        return e == ENOENT || e == ENOTDIR || e == ESTALE || e == ENODEV || e == ETIMEDOUT;
}

/* The descriptors a child keeps open up to its execve(), which closes them (O_CLOEXEC). */
typedef struct InvokeKeep {
        int fd[2];
        unsigned n;
} InvokeKeep;

_Noreturn static void invoke_fail(SpawnerShm *shm, int report_fd, SpawnStage stage, int error) {
        shm->stage = stage;
        shm->error = error > 0 ? error : EIO;
        if (report_fd >= 0) {
                int32_t report[2] = { shm->stage, shm->error };
                (void) !write(report_fd, report, sizeof(report));
        }
        _exit(127);
}

static void invoke_exec_in_path(SpawnerShm *shm, int report_fd) {
        const char *p = shm->path ? shm->path : SPAWNER_DEFAULT_PATH;
        size_t name_len = strlen(shm->program);
        bool seen_eacces = false;
        char buf[PATH_MAX];

        /* As execvpe(), but the PATH is the child's, not ours. */
        for (;;) {
                size_t len = strcspn(p, ":");
                if (len == 0) { /* empty element: the current directory */
                        buf[0] = '.';
                        len = 1;
                } else if (len < sizeof(buf))
                        memcpy(buf, p, len);
                if (len + 1 + name_len < sizeof(buf)) {
                        buf[len] = '/';
                        memcpy(buf + len + 1, shm->program, name_len + 1);
                        execve(buf, shm->argv, shm->envp);
                        if (errno == EACCES)
                                seen_eacces = true;
                        else if (!errno_continues_path_search(errno))
                                invoke_fail(shm, report_fd, SPAWN_STAGE_EXEC, errno);
                }
                p += strcspn(p, ":");
                if (!*p)
                        break;
                p++;
        }
        invoke_fail(shm, report_fd, SPAWN_STAGE_EXEC, seen_eacces ? EACCES : ENOENT);
}

static bool fd_is_target(const uint64_t *is_target, unsigned fd) {
        return is_target[fd / 64] & (UINT64_C(1) << (fd % 64));
}

static void fd_mark_target(uint64_t *is_target, unsigned fd) {
        is_target[fd / 64] |= UINT64_C(1) << (fd % 64);
}

/* A copy of @fd with O_CLOEXEC on a number that is no target: @from or above when the fd
 * limit allows, else (the targets reach up to the limit) the lowest free number that is
 * none. Copies that land on a target on the way stay open until dup2() replaces them. */
static int dup_off_targets(int fd, unsigned from, const uint64_t *is_target) {
        int r = fcntl(fd, F_DUPFD_CLOEXEC, (int) from);
        if (r >= 0 || (errno != EINVAL && errno != EMFILE))
                return r;
        do /* bounded: each round takes one more number below the limit */
                r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        while (r >= 0 && fd_is_target(is_target, (unsigned) r));
        return r;
}

/* Closes every descriptor from @from on but those in @keep (each at @from or above). */
static int close_from_except(unsigned from, const InvokeKeep *keep) {
        unsigned k[2] = { (unsigned) keep->fd[0], (unsigned) keep->fd[1] };

        if (keep->n == 2 && k[1] < k[0]) {
                k[0] = (unsigned) keep->fd[1];
                k[1] = (unsigned) keep->fd[0];
        }
        for (unsigned i = 0; i < keep->n; i++) {
                if (k[i] > from)
                        (void) syscall(SYS_close_range, from, k[i] - 1, 0);
                from = k[i] + 1;
        }
        return syscall(SYS_close_range, from, ~0U, 0) < 0 ? -errno : 0;
}

_Noreturn void spawn_invoke(const InvokeArgs *args) {
        SpawnerShm *shm = args->shm;
        /* On the child's own stack: with CLONE_VM a static would outlive this child. */
        uint64_t is_target[(65536 + SPAWNER_FDS_MAX) / 64 + 1] = {};
        const int *fds = args->fds;
        int report_fd = args->report_fd;
        InvokeKeep keep = {};
        unsigned max_target = 0;
        sigset_t empty;

        /* The raw call: with CLONE_VM, a pid cached by a libc would be the helper's. First of
         * all: once this is written, a helper that dies can no more hand the request to
         * another one (spawner_helper_gone()). */
        __atomic_store_n(&shm->child_pid, (int32_t) syscall(SYS_getpid), __ATOMIC_SEQ_CST);

        if (shm->new_session) {
                if (setsid() < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_SESSION, errno);
                if (shm->set_ctty && ioctl(fds[shm->n_fds + (shm->into_cgroup ? 1 : 0)], TIOCSCTTY, 0) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_CTTY, errno);
        } else if (shm->new_process_group && setpgid(0, 0) < 0)
                invoke_fail(shm, report_fd, SPAWN_STAGE_PROCESS_GROUP, errno);

        /* Raw system calls: glibc's wrappers would try to tell every thread it believes in,
         * which a child of clone() does not have. Groups and gid first, while we may. */
        if (shm->change_credentials) {
                if (syscall(SYS_setgroups, (size_t) shm->n_groups, shm->groups) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_SETGROUPS, errno);
                if (syscall(SYS_setresgid, shm->gid, shm->gid, shm->gid) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_SETGID, errno);
                if (syscall(SYS_setresuid, shm->uid, shm->uid, shm->uid) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_SETUID, errno);
                /* A session keyring of its own, as pam_keyinit gives a login: the one we run in
                 * would otherwise be shared by every user's programs. Best effort, as there. */
                (void) syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL);
        }

        /* After the credentials: changing them clears the death signal. Then ask whether the
         * service is still our parent: had it died before the prctl(), the signal would never
         * come, and a kill-on-release program would outlive it. */
        if (shm->death_signal > 0) {
                if (prctl(PR_SET_PDEATHSIG, (unsigned long) shm->death_signal) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_DEATH_SIGNAL, errno);
                if (syscall(SYS_getppid) != shm->service_pid)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_DEATH_SIGNAL, ESRCH);
        }

        if (chdir(shm->cwd) < 0)
                invoke_fail(shm, report_fd, SPAWN_STAGE_CHDIR, errno);

        for (unsigned i = 0; i < shm->n_fds; i++) {
                if (shm->targets[i] > max_target)
                        max_target = shm->targets[i];
                fd_mark_target(is_target, shm->targets[i]);
        }

        /* Keep the report pipe and the witness out of the way of the targets, above them when
         * the fd limit allows; one that has to stay among them (it is none) is marked as a
         * target, so that the close loop below keeps it. Usually the witness is 3 and the
         * targets end at 2: nothing to move. */
        int keep_in[2] = { report_fd, args->witness_fd };
        for (unsigned i = 0; i < 2; i++) {
                int fd = keep_in[i];
                if (fd < 0)
                        continue;
                if (fd <= (int) max_target) {
                        fd = dup_off_targets(fd, max_target + 1, is_target);
                        if (fd < 0)
                                invoke_fail(shm, report_fd, SPAWN_STAGE_FDS, errno);
                        if (i == 0)
                                report_fd = fd;
                }
                if (fd <= (int) max_target)
                        fd_mark_target(is_target, (unsigned) fd);
                else
                        keep.fd[keep.n++] = fd;
        }

        /* Move every source off all targets first (above them when the fd limit allows),
         * so no dup2() clobbers a source that another target still needs, and dup2()
         * never sees fd == newfd (which would keep O_CLOEXEC). */
        int high[SPAWNER_FDS_MAX];
        for (unsigned i = 0; i < shm->n_fds; i++) {
                high[i] = dup_off_targets(fds[i], max_target + 1, is_target);
                if (high[i] < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_FDS, errno);
        }
        for (unsigned i = 0; i < shm->n_fds; i++)
                if (dup2(high[i], (int) shm->targets[i]) < 0)
                        invoke_fail(shm, report_fd, SPAWN_STAGE_FDS, errno);
        /* Everything that is not a target goes: the sources, anything else. */
        for (unsigned fd = 0; fd <= max_target;) {
                if (fd_is_target(is_target, fd)) {
                        fd++;
                        continue;
                }
                unsigned end = fd;
                while (end + 1 <= max_target && !fd_is_target(is_target, end + 1))
                        end++;
                (void) syscall(SYS_close_range, fd, end, 0);
                fd = end + 1;
        }
        /* Above the targets, all but the kept ones, which are O_CLOEXEC: execve() closes them,
         * which tells the helper (pipe) and the service (witness) "done". */
        int r = close_from_except(max_target + 1, &keep);
        if (r < 0)
                invoke_fail(shm, report_fd, SPAWN_STAGE_FDS, -r);

        /* main() resets every disposition, but glibc refuses to touch its internal signals
         * (32 and 33, below SIGRTMIN): one our own parent left ignored (dbus-daemon does)
         * would stay ignored across execve(). The kernel call does it; all zeroes is
         * SIG_DFL with no flags and an empty mask in every architecture's layout, and
         * (_NSIG - 1) / 8 is the kernel's sigset size. */
        struct {
                uint64_t words[4];
        } dfl = {};
        for (int sig = 32; sig < SIGRTMIN; sig++)
                (void) syscall(SYS_rt_sigaction, sig, &dfl, NULL, (_NSIG - 1) / 8);

        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);

        /* Last, right before the program: a request given up on must not start it. */
        if (__atomic_load_n(&shm->cancelled, __ATOMIC_SEQ_CST))
                invoke_fail(shm, report_fd, SPAWN_STAGE_CLONE, ECANCELED);

        if (strchr(shm->program, '/')) {
                execve(shm->program, shm->argv, shm->envp);
                invoke_fail(shm, report_fd, SPAWN_STAGE_EXEC, errno);
        }
        invoke_exec_in_path(shm, report_fd);
        _exit(127); /* not reached */
}
