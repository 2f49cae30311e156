/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What a service that died without cleaning up (SIGKILL, a crash) left in the cgroup tree, as
 * the next one finds it at its start: whether the maker of a container still runs (recorded
 * start time against pid reuse, zombies counted as dead), and its trees, of which those of
 * kill-on-release processes are killed, and the empty ones removed.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "util/parse.h"
#include "util/proc-stat.h"
#include "util/time-util.h"


/* The decimal number in xattr @name of @fd: 1 with *ret set, 0 when absent (or cgroupfs has no
 * user xattrs), -errno otherwise. */
int cgroup_xattr_get_u64(int fd, const char *name, uint64_t *ret) {
        char buf[32];
        ssize_t n;

        n = fgetxattr(fd, name, buf, sizeof(buf) - 1);
        if (n < 0)
                return errno == ENODATA || errno == EOPNOTSUPP ? 0 : -errno;
        if (parse_u64_n(buf, (size_t) n, PARSE_NO_LEADING_ZERO, ret) < 0)
                return -EBADMSG;
        return 1;
}

/* Sets xattr @name of @fd to @value in decimal: 1, 0 where cgroupfs has no user xattrs, or -errno. */
int cgroup_xattr_set_u64(int fd, const char *name, uint64_t value) {
        char buf[21];
        int len = snprintf(buf, sizeof(buf), "%" PRIu64, value);

        if (fsetxattr(fd, name, buf, (size_t) len, 0) < 0)
                return errno == EOPNOTSUPP ? 0 : -errno;
        return 1;
}

/*
 * Whether the service that made the container @container_fd, named for @pid, has ended. Its pid
 * alone does not tell: the zombie of a dead service passes kill(pid, 0) until its parent reaps
 * it, and a pid may be reused. So a process with that pid counts only when it is not a zombie and
 * its start time is the one the container records (CGROUP_XATTR_INSTANCE). Without that record (a
 * container of an older version, or cgroupfs without user xattrs) any live process with the pid
 * keeps the container: it then stays longer, never goes early. For @pid == our own pid this says
 * whether the container is an earlier one of ours (alive) or of a dead service that had our pid.
 * The service is single-threaded, so a zombie state means the whole process has ended.
 */
bool cgroup_instance_is_dead(int container_fd, pid_t pid) {
        uint64_t recorded;
        ProcStat st;
        int r;

        r = proc_stat_read(pid, &st);
        if (r == -ENOENT || r == -ESRCH)
                return true;
        if (r < 0)
                return false; /* cannot tell: keep */
        if (st.state == 'Z' || st.state == 'X')
                return true;
        if (cgroup_xattr_get_u64(container_fd, CGROUP_XATTR_INSTANCE, &recorded) <= 0 || st.starttime == 0)
                return false;
        return recorded != st.starttime;
}

/* From the open cgroup.events @events_fd, read again from its start: 1 populated, 0 empty, -errno. */
static int events_populated(int events_fd) {
        char buf[SMALL_FILE_MAX];
        uint64_t v;
        ssize_t n;
        int r;

        do
                n = pread(events_fd, buf, sizeof(buf) - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        r = cgroup_flat_keyed_get(buf, "populated", &v);
        if (r < 0)
                return r;
        return v != 0;
}

/* Waits until tree @tree_fd is empty or @deadline (CLOCK_MONOTONIC, usec) has passed: 0 when it
 * is empty, -ETIMEDOUT, or -errno. cgroupfs wakes poll() with POLLPRI when cgroup.events changes;
 * each wake-up is followed by a fresh read, so a change between read and poll is not missed (the
 * kernel compares against the event count of our last read). */
static int wait_tree_empty(int tree_fd, uint64_t deadline) {
        _cleanup_close_ int events_fd = -EBADF;

        events_fd = openat(tree_fd, "cgroup.events", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (events_fd < 0)
                return -errno;
        for (;;) {
                int r = events_populated(events_fd);
                if (r <= 0)
                        return r;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = events_fd, .events = POLLPRI };
                int timeout_ms = (int) ((deadline - now + 999) / 1000);
                if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
                        return -errno;
        }
}

/* SIGKILL to every process of a tree: cgroup.kill, else (it failed) each process through a pidfd
 * checked to be in the tree. */
static void kill_tree(int tree_fd) {
        struct stat st;

        if (cgroup_tree_kill(tree_fd) >= 0)
                return;
        if (fstat(tree_fd, &st) >= 0)
                (void) cgroup_tree_signal(tree_fd, (uint64_t) st.st_ino, SIGKILL, (uid_t) -1);
}

/*
 * Ends what a dead service left in its container @container_fd. A SIGKILL or a crash gave that
 * service no chance to keep the promise of kill-on-release, so its trees marked so
 * (CGROUP_XATTR_KILL_ON_RELEASE) are killed now and removed once empty (waiting until @deadline at
 * most). Empty trees go too. Trees whose processes were to outlive the service keep running,
 * and their cgroups stay (a populated cgroup cannot be removed); a later start removes them
 * once empty, and the container with its last tree.
 */
void cgroup_sweep_dead_container(int container_fd, uint64_t deadline) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd;

        fd = openat(container_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return;
        }
        /* All trees are killed first, then waited for: they end in parallel. */
        for (int pass = 0; pass < 2; pass++) {
                rewinddir(d);
                for (struct dirent *de; (de = readdir(d)); ) {
                        _cleanup_close_ int tree_fd = -EBADF;
                        uint64_t mark;

                        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
                            strcmp(de->d_name, "..") == 0)
                                continue;
                        tree_fd = openat(container_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (tree_fd < 0 || cgroup_xattr_get_u64(tree_fd, CGROUP_XATTR_KILL_ON_RELEASE, &mark) <= 0 ||
                            mark == 0)
                                continue;
                        if (pass == 0)
                                kill_tree(tree_fd);
                        else
                                (void) wait_tree_empty(tree_fd, deadline);
                }
        }
        cgroup_remove_children(container_fd);
}

/* Containers of services that died without cleaning up (SIGKILL, a crash): their empty trees
 * and those of kill-on-release processes go, see cgroup_sweep_dead_container(). */
void cgroup_remove_stale_containers(int own_fd) {
        _cleanup_(closedirp) DIR *d = NULL;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + STALE_KILL_TIMEOUT_USEC;
        int fd;

        fd = openat(own_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d)); ) {
                _cleanup_close_ int container_fd = -EBADF;
                pid_t pid;

                if (de->d_type != DT_DIR || !cgroup_container_name_pid(de->d_name, &pid) || pid == getpid())
                        continue;
                container_fd = openat(own_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (container_fd < 0 || !cgroup_instance_is_dead(container_fd, pid))
                        continue;
                cgroup_sweep_dead_container(container_fd, deadline);
                (void) unlinkat(own_fd, de->d_name, AT_REMOVEDIR);
        }
}
