/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * fuzz-keeper: the process that holds the world outside the service under
 * fuzzing (see fuzz-outside.h). It is a program of its own, not a fork of the
 * fuzzer, because forking the fuzzer (ASan's shadow memory, hundreds of MiB
 * resident) for every process it asks for would cost milliseconds each.
 *
 * fd 0: a SOCK_SEQPACKET socket; each byte read starts a sleeper, whose pid
 * is answered as an int32_t (or -errno). fd 3: where the private
 * dbus-daemon's address goes. When the socket ends, the keeper kills its
 * process group (itself, the daemon and the sleepers).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* Children get /dev/null as stdin rather than the keeper's socket. */
static void stdin_to_null(void) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                (void) dup2(fd, 0);
}

static _Noreturn void keeper_exec_daemon(int address_fd) {
        sigset_t none;

        stdin_to_null();
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(address_fd, 3) < 0)
                _exit(127);
        execl("/usr/bin/dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=3",
              "--address=unix:tmpdir=/tmp", (char *) NULL);
        _exit(127);
}

static _Noreturn void keeper_exec_sleeper(void) {
        sigset_t none;

        stdin_to_null();
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execl("/bin/sleep", "sleep", "3600", (char *) NULL);
        _exit(127);
}

/* The keeper's loop: a request byte starts a sleeper and answers its pid; SIGCHLD reaps; end
 * of the socket kills the whole process group (the keeper leads it) and the keeper with it. */
static _Noreturn void keeper_main(int sock, int address_fd) {
        sigset_t mask;
        int sfd;

        (void) setsid();
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                _exit(1);

        pid_t daemon = fork();
        if (daemon == 0)
                keeper_exec_daemon(address_fd);
        (void) close(address_fd);
        if (daemon < 0)
                _exit(1);

        for (;;) {
                struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        (void) !read(sfd, &si, sizeof(si));
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ;
                }
                if (p[0].revents) {
                        char c;
                        if (read(sock, &c, 1) != 1)
                                break;
                        pid_t pid = fork();
                        if (pid == 0)
                                keeper_exec_sleeper();
                        int32_t answer = pid < 0 ? -errno : pid;
                        if (write(sock, &answer, sizeof(answer)) != sizeof(answer))
                                break;
                }
        }
        (void) kill(0, SIGKILL);
        _exit(0);
}

int main(void) {
        keeper_main(0, 3);
}
