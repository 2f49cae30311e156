/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PIDFD_GET_INFO as the kernel answers it: identity while a process lives,
 * its wait status only once its parent has reaped it. */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/pidfd-info.h"

typedef struct Blocked {
        pid_t pid;
        int pidfd;
        int release_fd; /* closing it lets the child go on */
} Blocked;

/* A child that waits on a pipe, then exits with @code (or, if @code < 0, sits there). */
static Blocked start_child(int code) {
        int p[2];
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                char c;
                close(p[1]);
                (void) !read(p[0], &c, 1);
                if (code < 0)
                        pause();
                _exit(code);
        }
        close(p[0]);
        int pidfd = pidfd_open(pid, 0);
        g_assert_cmpint(pidfd, >=, 0);
        return (Blocked) { pid, pidfd, p[1] };
}

static void wait_until_exited(int pidfd) {
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        /* Bounded: the child exits right after it is released. */
        g_assert_cmpint(poll(&pfd, 1, 10000), ==, 1);
}

/* valgrind 3.19 knows no pidfd_open(): there is nothing to ask the kernel about. */
static gboolean have_pidfds(void) {
        int fd = pidfd_open(getpid(), 0);
        if (fd < 0 && errno == ENOSYS) {
                g_test_skip("pidfd_open() is not available (valgrind 3.19)");
                return FALSE;
        }
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        return TRUE;
}

static void test_identity(void) {
        if (!have_pidfds())
                return;
        Blocked c = start_child(0);
        PidfdInfo info;

        int r = pidfd_get_info(c.pidfd, PIDFD_INFO_PID | PIDFD_INFO_CREDS, &info);
        g_assert_cmpint(r, ==, 0);
        g_assert_true(info.mask & PIDFD_INFO_PID);
        g_assert_true(info.mask & PIDFD_INFO_CREDS);
        g_assert_cmpuint(info.pid, ==, (guint) c.pid);
        g_assert_cmpuint(info.ppid, ==, (guint) getpid());
        g_assert_cmpuint(info.ruid, ==, getuid());
        g_assert_cmpuint(info.euid, ==, geteuid());

        close(c.release_fd);
        g_assert_cmpint(waitpid(c.pid, NULL, 0), ==, c.pid);
        close(c.pidfd);
}

static void check_exit(int code, int sig, int expected_status) {
        if (!have_pidfds())
                return;
        Blocked c = start_child(code);
        int status = -1;

        /* Alive: nothing to tell yet. */
        g_assert_cmpint(pidfd_get_exit_status(c.pidfd, &status), ==, -ENODATA);

        if (sig)
                g_assert_cmpint(kill(c.pid, sig), ==, 0);
        else
                close(c.release_fd);
        wait_until_exited(c.pidfd);

        /* A zombie: the status belongs to the parent until it reaps. */
        g_assert_cmpint(pidfd_get_exit_status(c.pidfd, &status), ==, -ENODATA);

        int wstatus;
        g_assert_cmpint(waitpid(c.pid, &wstatus, 0), ==, c.pid);
        g_assert_cmpint(wstatus, ==, expected_status);

        /* Reaped: now the kernel tells anyone holding the pidfd. */
        g_assert_cmpint(pidfd_get_exit_status(c.pidfd, &status), ==, 0);
        g_assert_cmpint(status, ==, expected_status);
        if (sig)
                close(c.release_fd);
        close(c.pidfd);
}

static void test_exit_code(void) {
        check_exit(7, 0, 0x700);
        g_assert_true(WIFEXITED(0x700) && WEXITSTATUS(0x700) == 7);
}

static void test_killed(void) {
        check_exit(-1, SIGKILL, SIGKILL);
        g_assert_true(WIFSIGNALED(SIGKILL) && WTERMSIG(SIGKILL) == SIGKILL);
}

static void test_not_a_pidfd(void) {
        PidfdInfo info;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        int r = pidfd_get_info(fd, PIDFD_INFO_PID, &info);
        g_assert_true(r == -ENOTTY || r == -EINVAL);
        close(fd);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/pidfd-info/identity", test_identity);
        g_test_add_func("/pidfd-info/exit-code", test_exit_code);
        g_test_add_func("/pidfd-info/killed", test_killed);
        g_test_add_func("/pidfd-info/not-a-pidfd", test_not_a_pidfd);
        return g_test_run();
}
