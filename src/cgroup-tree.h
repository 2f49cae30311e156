/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Process trees held together by cgroup v2: each Spawn with the "tree"
 * option starts in a cgroup of its own, <container>/<id>, where the
 * container "childwatch.<service pid>" sits in the service's own cgroup
 * (a delegated subtree under systemd; wherever the service runs as root
 * otherwise). A cgroup cannot be left by a process that setsid()s or
 * double-forks, so it sees the whole tree; cgroup.kill ends it at once.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/macro.h"

/* What a service leaves for the next one to read, should it die without cleaning up (SIGKILL, a
 * crash). User xattrs are what cgroupfs lets us attach to a cgroup (Linux >= 5.7); the names of
 * the cgroups cannot carry it, as they are part of the interface (Spawn option "tree"). */
/* On a container: the start time (/proc/PID/stat field 22) of the service that made it, in
 * decimal. With the pid in the container's name it says whether that service still runs. */
#define CGROUP_XATTR_INSTANCE "user.childwatch.instance-starttime"
/* On a tree: "1" when its process was spawned with kill-on-release. */
#define CGROUP_XATTR_KILL_ON_RELEASE "user.childwatch.kill-on-release"

typedef struct CgroupRoot CgroupRoot;

typedef struct CgroupTreeStats {
        uint64_t user_usec;   /* cpu.stat user_usec */
        uint64_t system_usec; /* cpu.stat system_usec */
        uint64_t memory_peak; /* memory.peak in bytes; 0 where the memory controller is off */
} CgroupTreeStats;

/**
 * cgroup_root_new() - find the cgroup2 hierarchy and our cgroup in it, create the container.
 *
 * Also cleans up after services that died without doing so (SIGKILL, a crash): in
 * their containers, trees spawned with kill-on-release are killed (cgroup.kill) and,
 * once empty (waited for up to 1 s in all), removed; empty trees and containers are
 * removed; populated trees of other processes stay. A service counts as dead when no
 * process has the container's pid, that process is a zombie, or its start time is
 * not the one the container records (pid reuse).
 * cgroup.kill is looked for in our own cgroup, or in the new container when we
 * run in the root cgroup (which never has one).
 * Return: 0; -EOPNOTSUPP without cgroup2 or cgroup.kill (Linux < 5.14); -EACCES,
 * -EROFS, -EPERM when the service may not create cgroups there; -EEXIST when a
 * populated container of our own pid is in the way. The caller then falls back
 * to process groups. Nothing is left behind on failure.
 */
int cgroup_root_new(CgroupRoot **ret);
/* Removes every empty tree cgroup and the container (best effort); keeps populated ones. */
CgroupRoot *cgroup_root_free(CgroupRoot *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgroupRoot *, cgroup_root_free);
/* The container's path in the file system, e.g. /sys/fs/cgroup/unified/childwatch.123. */
const char *cgroup_root_path(const CgroupRoot *r);

/**
 * cgroup_tree_create() - create the cgroup of tree @id.
 * @kill_on_release: mark the cgroup (a user xattr), so that should the service die without
 *   killing the tree, the next start of the service does; where cgroupfs has no user xattrs
 *   (Linux < 5.7) it goes unmarked
 * @ret_fd: O_DIRECTORY|O_CLOEXEC descriptor, for clone3(CLONE_INTO_CGROUP) and the calls below
 * @ret_cgroup_id: the cgroup's id, as PIDFD_GET_INFO's cgroupid reports it
 */
int cgroup_tree_create(CgroupRoot *r, uint64_t id, bool kill_on_release, int *ret_fd,
                       uint64_t *ret_cgroup_id);
/* rmdir of tree @id: 0, -ENOENT when already gone, -EBUSY while populated. */
int cgroup_tree_remove(CgroupRoot *r, uint64_t id);
/* The path of the tree's cgroup.events (for inotify); a malloc'd string in *ret. */
int cgroup_tree_events_path(const CgroupRoot *r, uint64_t id, char **ret);
/* From cgroup.events: 1 while any process of the tree runs, 0 when empty, or -errno. A zombie
 * no longer counts (nor does it keep rmdir from succeeding): "populated 0" can come before
 * the last exit has been reaped. */
int cgroup_tree_is_populated(int fd);
/* SIGKILL to every process of the tree at once, through cgroup.kill. */
int cgroup_tree_kill(int fd);
/**
 * cgroup_tree_signal() - send @sig to every process of the tree.
 *
 * Each pid read from cgroup.procs is opened as a pidfd and checked against
 * @cgroup_id (PIDFD_INFO_CGROUPID) before the signal goes out through it, so a
 * pid reused meanwhile is never hit. Processes that are gone or have left the tree
 * by then are skipped; a process forked after cgroup.procs was read may be missed
 * (only cgroup_tree_kill() is atomic). With @as_uid other than (uid_t) -1 only the
 * processes that kill(2) would let a sender of that uid signal (real or saved uid
 * @as_uid) are. Return: the number of processes signalled
 * (0: the tree is empty), or a negative errno at the first failure that is not
 * "that process is gone" (-ENOSYS without pidfds, e.g. under valgrind).
 */
int cgroup_tree_signal(int fd, uint64_t cgroup_id, int sig, uid_t as_uid);
/* cpu.stat's usage (there without the cpu controller), memory.peak when the file exists. */
int cgroup_tree_read_stats(int fd, CgroupTreeStats *ret);

/* Which tree of @r @pid runs in (from /proc/PID/cgroup): 1 with *ret_id set, 0 when none of ours,
 * -ESRCH when there is no such process. A zombie still names the tree it ended in, also after
 * that tree has been removed. */
int cgroup_root_tree_of_pid(const CgroupRoot *r, pid_t pid, uint64_t *ret_id);
