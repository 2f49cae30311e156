/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between cgroup-tree.c (the trees of this service) and cgroup-stale.c (those a dead one left). */

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-tree.h"

#define CONTAINER_PREFIX "childwatch."
/* cgroup.events, cpu.stat and memory.peak are a few hundred bytes at most. */
#define SMALL_FILE_MAX 4096
/* How long a start waits for the killed trees of dead services to empty, in all; a tree still
 * populated then is left for a later start to remove. SIGKILLed processes end within
 * milliseconds unless the kernel holds them (uninterruptible sleep). */
#define STALE_KILL_TIMEOUT_USEC (UINT64_C(1000000))

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/* Reads the small file @name below @dir_fd into @buf (@size bytes), NUL-terminated. */
int cgroup_read_small_file_at(int dir_fd, const char *name, char *buf, size_t size);
/* The value of @key in a flat keyed file's @text ("key value" lines). */
int cgroup_flat_keyed_get(const char *text, const char *key, uint64_t *ret);
/* Whether @name is a container "childwatch.<pid>", with the pid. */
bool cgroup_container_name_pid(const char *name, pid_t *ret);
/* rmdir of every (empty) cgroup directly below @dir_fd; populated ones stay (EBUSY). */
void cgroup_remove_children(int dir_fd);
/* The decimal number in xattr @name of @fd: 1 with *ret set, 0 when absent (or cgroupfs has no
 * user xattrs), -errno otherwise. */
int cgroup_xattr_get_u64(int fd, const char *name, uint64_t *ret);
/* Sets xattr @name of @fd to @value in decimal: 1, 0 where cgroupfs has no user xattrs, or -errno. */
int cgroup_xattr_set_u64(int fd, const char *name, uint64_t value);

/* cgroup-stale.c */
/* Whether the service that made the container @container_fd, named for @pid, has ended. */
bool cgroup_instance_is_dead(int container_fd, pid_t pid);
/* Ends what a dead service left in its container (see cgroup-stale.c), waiting until @deadline. */
void cgroup_sweep_dead_container(int container_fd, uint64_t deadline);
/* Sweeps and removes the containers below @own_fd whose makers have ended. */
void cgroup_remove_stale_containers(int own_fd);
