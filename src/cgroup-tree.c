/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The cgroups behind process trees. Below the container everything goes
 * through descriptors (mkdirat/openat on the container's fd, file reads on a
 * tree's fd, which also serves clone3(CLONE_INTO_CGROUP)): no path lookup per
 * call. Paths are only built where the caller needs one (inotify) or the
 * kernel reports one (/proc/PID/cgroup).
 */

#include "cgroup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "util/parse.h"
#include "util/pidfd-info.h"
#include "util/proc-stat.h"
#include "util/time-util.h"

/* cgroup_tree_signal() stops after this many pids: pid_max cannot exceed 2^22. */
#define SIGNAL_PIDS_MAX (UINT32_C(1) << 22)

struct CgroupRoot {
        char *path;      /* the container in the file system */
        char *cgroup;    /* the container as /proc/PID/cgroup names it: "<own>/childwatch.<pid>" */
        int fd;          /* the container, O_DIRECTORY */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

/* Reads a small file below @dir_fd into @buf, NUL-terminated. */
int cgroup_read_small_file_at(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        size_t used = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        while (used < size - 1) {
                ssize_t n = read(fd, buf + used, size - 1 - used);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                used += (size_t) n;
        }
        buf[used] = '\0';
        return 0;
}

/* The value of the "key value" line @key of a flat-keyed cgroup file (cpu.stat, cgroup.events). */
int cgroup_flat_keyed_get(const char *text, const char *key, uint64_t *ret) {
        size_t key_len = strlen(key);

        for (const char *l = text; *l; ) {
                size_t len = strcspn(l, "\n");
                if (len > key_len && strncmp(l, key, key_len) == 0 && l[key_len] == ' ')
                        return parse_u64_n(l + key_len + 1, len - key_len - 1, PARSE_NO_LEADING_ZERO, ret);
                l += len;
                if (*l)
                        l++;
        }
        return -ENODATA;
}

/* mountinfo escapes blanks and backslashes in paths as \ooo; undoes that in place. */
static void unoctal(char *s) {
        char *w = s;

        for (const char *p = s; *p; ) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
                        p += 4;
                } else
                        *w++ = *p++;
        }
        *w = '\0';
}

/* Whether @path is @prefix or below it, as paths: "/a" covers "/a/b" but not "/ab". Returns the rest. */
static const char *path_startswith(const char *path, const char *prefix) {
        size_t len = strlen(prefix);

        if (strcmp(prefix, "/") == 0)
                return path;
        if (strncmp(path, prefix, len) != 0 || (path[len] != '\0' && path[len] != '/'))
                return NULL;
        return path + len;
}

/* Our cgroup in the unified hierarchy, from the "0::" line of /proc/self/cgroup. */
static int read_own_cgroup(char **ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t n;

        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while ((n = getline(&line, &size, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (strncmp(line, "0::", 3) != 0)
                        continue;
                /* Outside our cgroup namespace ("/.."): not a place we can reach by path. */
                if (line[3] != '/' || strcmp(line + 3, "/..") == 0 || strncmp(line + 3, "/../", 4) == 0)
                        return -EOPNOTSUPP;
                char *own = strdup(line + 3);
                if (!own)
                        return -ENOMEM;
                *ret = own;
                return 0;
        }
        return -EOPNOTSUPP; /* no unified hierarchy (pure cgroup v1) */
}

/* The directory of cgroup @own: below a cgroup2 mount whose root covers it. */
static int find_cgroup_dir(const char *own, char **ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) >= 0) {
                /* "id parent major:minor root mountpoint options [optional...] - fstype source ..." */
                char *fields[5], *sep, *save = NULL, *p = line;
                unsigned i;

                sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                *sep = '\0';
                for (i = 0; i < ELEMENTSOF(fields); i++, p = NULL) {
                        fields[i] = strtok_r(p, " ", &save);
                        if (!fields[i])
                                break;
                }
                if (i < ELEMENTSOF(fields))
                        continue;
                unoctal(fields[3]);
                unoctal(fields[4]);
                /* A bind mount of a subtree (or a mount inside a cgroup namespace) shows @own
                 * relative to its root. */
                const char *rest = path_startswith(own, fields[3]);
                if (!rest)
                        continue;
                if (strcmp(rest, "/") == 0)
                        rest = "";
                char *dir;
                if (asprintf(&dir, "%s%s", fields[4], rest) < 0)
                        return -ENOMEM;
                *ret = dir;
                return 0;
        }
        return -EOPNOTSUPP;
}

bool cgroup_container_name_pid(const char *name, pid_t *ret) {
        uint64_t pid;

        if (strncmp(name, CONTAINER_PREFIX, strlen(CONTAINER_PREFIX)) != 0)
                return false;
        name += strlen(CONTAINER_PREFIX);
        if (parse_u64_n(name, strlen(name), PARSE_NO_LEADING_ZERO, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                return false;
        *ret = (pid_t) pid;
        return true;
}

/* rmdir of every (empty) cgroup directly below @dir_fd; populated ones stay (EBUSY). */
void cgroup_remove_children(int dir_fd) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return;
        }
        /* Bounded by the directory: rmdir never adds entries. */
        for (struct dirent *de; (de = readdir(d)); )
                if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dir_fd, de->d_name, AT_REMOVEDIR);
}

CgroupRoot *cgroup_root_free(CgroupRoot *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0) {
                cgroup_remove_children(r->fd);
                /* EBUSY while a tree is left: then it stays for the next start to clean up. */
                (void) rmdir(r->path);
                (void) close(r->fd);
        }
        free(r->path);
        free(r->cgroup);
        free(r);
        return NULL;
}

int cgroup_root_new(CgroupRoot **ret) {
        _cleanup_(cgroup_root_freep) CgroupRoot *root = NULL;
        _cleanup_free_ char *own = NULL, *own_dir = NULL, *name = NULL;
        _cleanup_close_ int own_fd = -EBADF;
        bool own_is_root;
        int r;

        r = read_own_cgroup(&own);
        if (r < 0)
                return r;
        r = find_cgroup_dir(own, &own_dir);
        if (r < 0)
                return r;

        own_fd = open(own_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (own_fd < 0)
                return errno == ENOENT ? -EOPNOTSUPP : -errno;
        /* The root cgroup has no cgroup.kill (nor cgroup.events) at all, whatever the kernel;
         * there only the container can tell. */
        own_is_root = strcmp(own, "/") == 0;
        if (!own_is_root && faccessat(own_fd, "cgroup.kill", F_OK, 0) < 0)
                return errno == ENOENT ? -EOPNOTSUPP : -errno;

        cgroup_remove_stale_containers(own_fd);

        if (asprintf(&name, CONTAINER_PREFIX "%d", (int) getpid()) < 0)
                return -ENOMEM;
        root = calloc(1, sizeof(CgroupRoot));
        if (!root)
                return -ENOMEM;
        root->fd = -EBADF;
        if (asprintf(&root->path, "%s/%s", own_dir, name) < 0) {
                root->path = NULL;
                return -ENOMEM;
        }
        if (asprintf(&root->cgroup, "%s/%s", own_is_root ? "" : own, name) < 0) {
                root->cgroup = NULL;
                return -ENOMEM;
        }

        if (mkdirat(own_fd, name, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                /* Ours by name, left by an earlier root of this process or by a dead service
                 * that had our pid: its empty trees go (and, of a dead service, those of
                 * kill-on-release), and a populated one is not ours to share. */
                _cleanup_close_ int old_fd = openat(own_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (old_fd >= 0 && cgroup_instance_is_dead(old_fd, getpid()))
                        cgroup_sweep_dead_container(old_fd, now_usec(CLOCK_MONOTONIC) + STALE_KILL_TIMEOUT_USEC);
                else if (old_fd >= 0)
                        cgroup_remove_children(old_fd);
                if (unlinkat(own_fd, name, AT_REMOVEDIR) < 0)
                        return errno == EBUSY ? -EEXIST : -errno;
                if (mkdirat(own_fd, name, 0755) < 0)
                        return -errno;
        }
        root->fd = openat(own_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root->fd < 0) {
                r = -errno;
                (void) unlinkat(own_fd, name, AT_REMOVEDIR);
                return r;
        }
        if (own_is_root && faccessat(root->fd, "cgroup.kill", F_OK, 0) < 0)
                /* cgroup_root_free() removes the container again. */
                return errno == ENOENT ? -EOPNOTSUPP : -errno;

        /* Who made the container, for the next start to tell whether we still run. Without user
         * xattrs (Linux < 5.7) it goes unrecorded: see cgroup_instance_is_dead(). */
        ProcStat self;
        r = proc_stat_read(getpid(), &self);
        if (r < 0)
                return r;
        if (self.starttime == 0)
                return -EBADMSG;
        r = cgroup_xattr_set_u64(root->fd, CGROUP_XATTR_INSTANCE, self.starttime);
        if (r < 0)
                return r;

        *ret = steal_ptr(&root);
        return 0;
}

const char *cgroup_root_path(const CgroupRoot *r) {
        return r->path;
}

int cgroup_tree_create(CgroupRoot *r, uint64_t id, bool kill_on_release, int *ret_fd,
                       uint64_t *ret_cgroup_id) {
        _cleanup_close_ int fd = -EBADF;
        char name[21];
        struct stat st;
        int ret;

        (void) snprintf(name, sizeof(name), "%" PRIu64, id);
        if (mkdirat(r->fd, name, 0755) < 0)
                return -errno;
        fd = openat(r->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* kernfs numbers its inodes by node id, which is the cgroup id that the kernel reports
         * elsewhere (PIDFD_GET_INFO, bpf, name_to_handle_at). */
        if (fd < 0 || fstat(fd, &st) < 0) {
                ret = -errno;
                (void) unlinkat(r->fd, name, AT_REMOVEDIR);
                return ret;
        }
        /* Before any process is in it: should we die from here on, the next start knows. Where
         * cgroupfs has no user xattrs only Release() and our shutdown can keep the promise. */
        if (kill_on_release && (ret = cgroup_xattr_set_u64(fd, CGROUP_XATTR_KILL_ON_RELEASE, 1)) < 0) {
                (void) unlinkat(r->fd, name, AT_REMOVEDIR);
                return ret;
        }
        *ret_fd = steal_fd(&fd);
        *ret_cgroup_id = (uint64_t) st.st_ino;
        return 0;
}

int cgroup_tree_remove(CgroupRoot *r, uint64_t id) {
        char name[21];

        (void) snprintf(name, sizeof(name), "%" PRIu64, id);
        if (unlinkat(r->fd, name, AT_REMOVEDIR) < 0)
                return -errno;
        return 0;
}

int cgroup_tree_events_path(const CgroupRoot *r, uint64_t id, char **ret) {
        char *p;

        if (asprintf(&p, "%s/%" PRIu64 "/cgroup.events", r->path, id) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int cgroup_tree_is_populated(int fd) {
        char buf[SMALL_FILE_MAX];
        uint64_t v;
        int r;

        r = cgroup_read_small_file_at(fd, "cgroup.events", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = cgroup_flat_keyed_get(buf, "populated", &v);
        if (r < 0)
                return r;
        return v != 0;
}

int cgroup_tree_kill(int fd) {
        _cleanup_close_ int kill_fd = -EBADF;
        ssize_t n;

        kill_fd = openat(fd, "cgroup.kill", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (kill_fd < 0)
                return -errno;
        do
                n = write(kill_fd, "1", 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return 0;
}

/* Signals @pid if it still runs in cgroup @cgroup_id. 1 when signalled, 0 when gone or elsewhere. */
static int signal_one(pid_t pid, uint64_t cgroup_id, int sig, uid_t as_uid) {
        _cleanup_close_ int pidfd = -EBADF;
        PidfdInfo info;
        int r;

        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        /* From here on the pidfd pins the process: if it is in the cgroup now, the pid we read
         * was not reused for something else meanwhile. */
        r = pidfd_get_info(pidfd, PIDFD_INFO_CGROUPID | PIDFD_INFO_CREDS, &info);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        if (!(info.mask & PIDFD_INFO_CGROUPID) || info.cgroupid != cgroup_id)
                return 0;
        /* kill(2)'s rule for a sender whose uids are all @as_uid: a process that became
         * another user (a setuid program) is not that sender's to signal. */
        if (as_uid != (uid_t) -1 &&
            (!(info.mask & PIDFD_INFO_CREDS) || (info.ruid != as_uid && info.suid != as_uid)))
                return 0;
        if (pidfd_send_signal(pidfd, sig, NULL, 0) < 0)
                return errno == ESRCH ? 0 : -errno;
        return 1;
}

int cgroup_tree_signal(int fd, uint64_t cgroup_id, int sig, uid_t as_uid) {
        _cleanup_close_ int procs_fd = -EBADF;
        char buf[4096];
        size_t used = 0;
        uint32_t seen = 0;
        int count = 0, r;

        procs_fd = openat(fd, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (procs_fd < 0)
                return -errno;

        /* Chunk by chunk, one pid a line; a line cut at the end of a chunk moves to the front.
         * Processes forked after their parent's line was read may be missed: only cgroup.kill
         * is atomic. */
        for (;;) {
                ssize_t n = read(procs_fd, buf + used, sizeof(buf) - used);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                used += (size_t) n;

                char *line = buf, *nl;
                while ((nl = memchr(line, '\n', used - (size_t) (line - buf)))) {
                        uint64_t pid;

                        if (++seen > SIGNAL_PIDS_MAX)
                                return -E2BIG;
                        if (parse_u64_n(line, (size_t) (nl - line), PARSE_NO_LEADING_ZERO, &pid) < 0 || pid == 0 ||
                            pid > INT32_MAX)
                                return -EBADMSG;
                        r = signal_one((pid_t) pid, cgroup_id, sig, as_uid);
                        if (r < 0)
                                return r;
                        count += r;
                        line = nl + 1;
                }
                used -= (size_t) (line - buf);
                memmove(buf, line, used);
                if (used == sizeof(buf))
                        return -EBADMSG; /* no pid is that long */
        }
        if (used > 0)
                return -EBADMSG; /* the kernel ends every line */
        return count;
}

int cgroup_tree_read_stats(int fd, CgroupTreeStats *ret) {
        CgroupTreeStats stats = {};
        char buf[SMALL_FILE_MAX];
        int r;

        /* cpu.stat's usage lines are there without the cpu controller: the core keeps them. */
        r = cgroup_read_small_file_at(fd, "cpu.stat", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = cgroup_flat_keyed_get(buf, "user_usec", &stats.user_usec);
        if (r < 0)
                return r;
        r = cgroup_flat_keyed_get(buf, "system_usec", &stats.system_usec);
        if (r < 0)
                return r;

        r = cgroup_read_small_file_at(fd, "memory.peak", buf, sizeof(buf));
        if (r >= 0) {
                r = parse_u64_n(buf, strcspn(buf, "\n"), PARSE_NO_LEADING_ZERO, &stats.memory_peak);
                if (r < 0)
                        return r;
        } else if (r != -ENOENT)
                return r;

        *ret = stats;
        return 0;
}

int cgroup_root_tree_of_pid(const CgroupRoot *r, pid_t pid, uint64_t *ret_id) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[sizeof("/proc//cgroup") + 11];
        size_t size = 0;
        ssize_t n;

        if (pid <= 0)
                return -EINVAL;
        (void) snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while ((n = getline(&line, &size, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (strncmp(line, "0::", 3) != 0)
                        continue;
                /* A zombie keeps its cgroup; once that is removed (an exited process no longer
                 * populates it) the kernel appends this. The id still says where it ran. */
                static const char deleted[] = " (deleted)";
                if ((size_t) n > strlen(deleted) && strcmp(line + n - strlen(deleted), deleted) == 0)
                        line[n - strlen(deleted)] = '\0';
                const char *rest = path_startswith(line + 3, r->cgroup);
                if (!rest || rest[0] != '/')
                        return 0;
                /* Exactly one level below the container: a tree's own sub-cgroups are not ours. */
                if (parse_u64_n(rest + 1, strlen(rest + 1), PARSE_NO_LEADING_ZERO, ret_id) < 0)
                        return 0;
                return 1;
        }
        return 0; /* no unified hierarchy line */
}
