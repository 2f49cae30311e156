/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "fuzz-outside.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/proc-stat.h"

#ifndef FUZZ_KEEPER_PATH
#error "FUZZ_KEEPER_PATH must name the fuzz-keeper program"
#endif

struct Outside {
        int sock;     /* requests to the keeper; closing it ends the keeper */
        ino_t sock_inode; /* to tell whether someone closed it and the number was reused */
        pid_t keeper; /* learned from the first sleeper's parent */
        char address[512];
};

static void print_proc_file(pid_t pid, const char *name) {
        char path[64], buf[2048];

        (void) snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        buf[k > 0 ? k : 0] = '\0';
        fprintf(stderr, "  %s: %s%s", name, buf, k > 0 && buf[k - 1] == '\n' ? "" : "\n");
}

/* What the keeper is doing, when it does not answer: in a system call or spinning, on a
 * CPU or waiting for one (a keeper once sat in state R for 10 s, cause not known). */
static void describe_keeper(Outside *o) {
        ProcStat st;
        if (o->keeper <= 0 || proc_stat_read(o->keeper, &st) < 0) {
                fprintf(stderr, "keeper %d: gone\n", (int) o->keeper);
                return;
        }
        fprintf(stderr, "keeper %d: state %c\n", (int) o->keeper, st.state);
        print_proc_file(o->keeper, "stat");
        print_proc_file(o->keeper, "wchan");
        print_proc_file(o->keeper, "syscall");
        print_proc_file(o->keeper, "schedstat");
        print_proc_file(o->keeper, "stack");
}

Outside *outside_free(Outside *o) {
        if (!o)
                return NULL;
        /* The keeper sees the end of the socket and kills its group: the daemon and sleepers. */
        safe_close(o->sock);
        free(o);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Outside *, outside_free);

/* Reads the daemon's address line, for at most 10 s. */
static int read_address(int fd, char *buf, size_t size) {
        size_t n = 0;

        while (n < size - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, 10 * 1000);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return r < 0 ? -errno : -ETIMEDOUT;
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE;
                n += (size_t) k;
                buf[n] = '\0';
                char *nl = strchr(buf, '\n');
                if (nl) {
                        *nl = '\0';
                        return 0;
                }
        }
        return -E2BIG;
}

int outside_start(Outside **ret) {
        _cleanup_(outside_freep) Outside *o = NULL;
        _cleanup_close_ int address_read = -EBADF, address_write = -EBADF, keeper_sock = -EBADF;
        int pair[2], pipefd[2], r;

        o = calloc(1, sizeof(Outside));
        if (!o)
                return -ENOMEM;
        o->sock = -EBADF;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        o->sock = pair[0];
        keeper_sock = pair[1];
        struct stat st;
        if (fstat(o->sock, &st) < 0)
                return -errno;
        o->sock_inode = st.st_ino;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        address_read = pipefd[0];
        address_write = pipefd[1];

        pid_t middle = fork();
        if (middle < 0)
                return -errno;
        if (middle == 0) {
                /* Only the keeper's ends stay open in it: our own end must close when we die. */
                (void) close(o->sock);
                (void) close(address_read);
                pid_t keeper = fork();
                if (keeper == 0) {
                        if (dup2(keeper_sock, 0) < 0 || dup2(address_write, 3) < 0)
                                _exit(127);
                        execl(FUZZ_KEEPER_PATH, "fuzz-keeper", (char *) NULL);
                        _exit(127);
                }
                _exit(keeper < 0 ? 1 : 0);
        }
        int status;
        while (waitpid(middle, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -ECHILD;

        address_write = safe_close(address_write);
        r = read_address(address_read, o->address, sizeof(o->address));
        if (r < 0)
                return r;

        *ret = steal_ptr(&o);
        return 0;
}

const char *outside_bus_address(Outside *o) {
        return o->address;
}

pid_t outside_spawn_sleeper(Outside *o, int *ret_pidfd) {
        int32_t answer;
        char c = 'S';

        /* The keeper once seemed not to answer while it sat idle in poll(): the request may
         * have gone to another file that took over the number of our socket, after a close()
         * of that number by someone who did not own it. Say so instead of waiting. */
        struct stat st;
        if (fstat(o->sock, &st) < 0 || st.st_ino != o->sock_inode) {
                char path[64], target[256] = "";
                (void) snprintf(path, sizeof(path), "/proc/self/fd/%d", o->sock);
                ssize_t k = readlink(path, target, sizeof(target) - 1);
                target[k > 0 ? k : 0] = '\0';
                fprintf(stderr, "the keeper's socket (fd %d) was closed behind our back; that number is now: %s\n",
                        o->sock, k > 0 ? target : "closed");
                return -EBADF;
        }
        if (send(o->sock, &c, 1, MSG_NOSIGNAL) != 1)
                return -errno;
        /* The keeper answers at once; a keeper gone means the fuzzer cannot go on. */
        struct pollfd p = { .fd = o->sock, .events = POLLIN };
        if (poll(&p, 1, 10 * 1000) != 1) {
                describe_keeper(o);
                return -ETIMEDOUT;
        }
        if (recv(o->sock, &answer, sizeof(answer), 0) != sizeof(answer))
                return -EPIPE;
        if (answer < 0)
                return answer;
        if (o->keeper == 0) {
                ProcStat ps;
                if (proc_stat_read(answer, &ps) >= 0)
                        o->keeper = ps.ppid;
        }

        /* Without pidfds (valgrind 3.19 does not know pidfd_open()) the pid alone. */
        int fd = pidfd_open(answer, 0);
        if (fd < 0 && errno != ENOSYS)
                return -errno;
        *ret_pidfd = fd < 0 ? -EBADF : fd;
        return answer;
}
