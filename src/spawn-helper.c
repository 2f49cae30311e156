/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The spawn helper: a small process forked by the service at startup, with a tiny fd table,
 * that receives a request's descriptors on its socket, clones the new process with
 * CLONE_PARENT (a child of the service, not of the helper) and answers once it has exec'd
 * or failed. See spawner.h for why it exists.
 */

#include "spawn-invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/missing.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Valgrind (3.19) runs a CLONE_VM|CLONE_VFORK child as a fork without waiting for it, so
 * the child's report in shared memory would come too late. It knows no clone3() either,
 * which is how we recognise it (and kernels before 5.3, where this path is fine too). */
static bool vfork_unsupported;

static SpawnerReply helper_spawn_without_vfork(SpawnerShm *shm, InvokeArgs *args) {
        int pipe_fds[2];
        int32_t report[2];

        /* Plain fork-like clone: we do not wait for the exec, so the child reports a
         * failure through a pipe that its execve() closes on success. */
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return (SpawnerReply) { .error = errno, .stage = SPAWN_STAGE_CLONE };

        long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) {
                (void) close(pipe_fds[0]);
                args->report_fd = pipe_fds[1]; /* our copy of the args: no CLONE_VM */
                spawn_invoke(args);
        }
        int saved = errno;
        (void) close(pipe_fds[1]);
        if (pid < 0) {
                (void) close(pipe_fds[0]);
                return (SpawnerReply) { .error = saved, .stage = SPAWN_STAGE_CLONE };
        }

        ssize_t n;
        do
                n = read(pipe_fds[0], report, sizeof(report));
        while (n < 0 && errno == EINTR);
        (void) close(pipe_fds[0]);
        if (n < 0)
                /* We cannot tell how it went. The service can, from the request area, once our
                 * socket hangs up (spawner_helper_gone()): leave it to that. */
                _exit(EXIT_FAILURE);
        if (n == sizeof(report))
                return (SpawnerReply) { .pid = (int32_t) pid, .error = report[1], .stage = report[0] };
        return (SpawnerReply) { .pid = (int32_t) pid };
}

static SpawnerReply helper_spawn_into_cgroup(SpawnerShm *shm, const InvokeArgs *child_args, int cgroup_fd) {
        /* Only clone3() takes a cgroup, and it takes no function to run: with CLONE_VM the
         * child would return from syscall() into frames it shares with us (or, on a stack of
         * its own, into none), which C cannot do safely. So the child goes on in a
         * copy-on-write copy of this process; that costs a fork of our page tables (about
         * 50 us more here than the CLONE_VM path, growing with the mappings we inherited).
         * CLONE_VFORK still holds us until it has exec'd, and a failure reaches us through
         * the shared mapping as on the other path. With CLONE_PARENT the kernel gives the
         * child our own exit signal and insists on 0 here (EINVAL otherwise). */
        CloneArgs args = {
                .flags = CLONE_PARENT | CLONE_VFORK | CLONE_INTO_CGROUP,
                .exit_signal = 0,
                .cgroup = (uint64_t) cgroup_fd,
        };

        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0)
                spawn_invoke(child_args);
        if (pid < 0)
                /* ENOSYS under valgrind, which knows no clone3(): no fallback can honour the
                 * cgroup, so the request fails (callers check spawner_probe_clone3() first). */
                return (SpawnerReply) { .error = errno, .stage = SPAWN_STAGE_CLONE };

        return (SpawnerReply) { .pid = (int32_t) pid, .error = shm->error, .stage = shm->stage };
}

static int invoke_main(void *userdata) {
        spawn_invoke(userdata);
}

static SpawnerReply helper_handle(SpawnerShm *shm, int sock, const int *fds, unsigned n_fds) {
        /* The child borrows our memory (CLONE_VM) on a stack of its own until it execs, as
         * posix_spawn() does: no page tables to copy, which a fork-style clone would. */
        static char child_stack[128 * 1024] __attribute__((aligned(64)));
        InvokeArgs args = { .shm = shm, .fds = fds, .report_fd = -EBADF, .witness_fd = sock };

        if (n_fds != shm->n_fds + (shm->into_cgroup ? 1 : 0) + (shm->set_ctty ? 1 : 0))
                return (SpawnerReply) { .error = EBADMSG, .stage = SPAWN_STAGE_FDS };

        shm->error = 0;
        shm->stage = SPAWN_STAGE_NONE;

        if (shm->into_cgroup)
                return helper_spawn_into_cgroup(shm, &args, fds[shm->n_fds]);
        if (vfork_unsupported)
                return helper_spawn_without_vfork(shm, &args);

#ifdef HAVE_ASAN
        /* The previous child never returned from its frames on this stack (it exec'd or
         * called _exit()), so ASan's shadow (shared: CLONE_VM) still has their redzones
         * poisoned; this child would trip over them. */
        ASAN_UNPOISON_MEMORY_REGION(child_stack, sizeof(child_stack));
#endif
        /* CLONE_PARENT: the program becomes the service's child, not ours; its exit signal
         * is then our own, SIGCHLD. CLONE_VFORK: we resume once it has exec'd or failed,
         * and whatever it wrote to shm->error is there to read. */
        int pid = clone(invoke_main, child_stack + sizeof(child_stack), CLONE_VM | CLONE_VFORK | CLONE_PARENT,
                        &args);
        if (pid < 0)
                return (SpawnerReply) { .error = errno, .stage = SPAWN_STAGE_CLONE };

        return (SpawnerReply) { .pid = (int32_t) pid, .error = shm->error, .stage = shm->stage };
}

_Noreturn void spawn_helper_main(SpawnerShm *shm, int sock, const struct rlimit *nofile) {
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int) * SPAWNER_FDS_MAX)];
        } control;

        /* Die with the service, also when it died before the prctl(); keep our fd table
         * tiny: only the socket and stdio. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (syscall(SYS_getppid) != shm->service_pid)
                _exit(EXIT_FAILURE);
        (void) prctl(PR_SET_NAME, SPAWNER_HELPER_NAME);
        (void) setrlimit(RLIMIT_NOFILE, nofile);
        if (sock != 3) {
                if (dup2(sock, 3) < 0)
                        _exit(EXIT_FAILURE);
                sock = 3;
        }
        /* dup2() dropped O_CLOEXEC: each child keeps the socket exactly up to its execve(). */
        if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
                _exit(EXIT_FAILURE);
        (void) syscall(SYS_close_range, 4, ~0U, 0);
        vfork_unsupported = syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                (void) dup2(null, STDIN_FILENO);
                (void) dup2(null, STDOUT_FILENO);
                (void) close(null);
        }

        for (;;) {
                char byte;
                struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                int fds[SPAWNER_FDS_MAX];
                unsigned n_fds = 0;

                ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
                if (n == 0)
                        _exit(EXIT_SUCCESS); /* the service closed its end */
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(EXIT_FAILURE);
                }

                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                unsigned k = (unsigned) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                                for (unsigned i = 0; i < k && n_fds < SPAWNER_FDS_MAX; i++)
                                        memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        }

                SpawnerReply reply = (mh.msg_flags & MSG_CTRUNC)
                                             ? (SpawnerReply) { .error = EBADMSG, .stage = SPAWN_STAGE_FDS }
                                             : helper_handle(shm, sock, fds, n_fds);
                for (unsigned i = 0; i < n_fds; i++)
                        (void) close(fds[i]);

                if (send(sock, &reply, sizeof(reply), MSG_NOSIGNAL) < 0)
                        _exit(EXIT_FAILURE);
        }
}
