/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Kernel ABI that this machine's kernel has but Debian 12's glibc and
 * linux-libc-dev (6.1) headers do not define. Values are from the kernel's
 * include/uapi/linux/{wait,pidfd,sched}.h.
 */

#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* pidfd_send_signal() flag, Linux 6.9: signal the process group the pidfd's process leads. */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

/* clone3(), Linux 5.3; CLONE_INTO_CGROUP and the cgroup field, Linux 5.7. glibc 2.36 has no
 * wrapper. The struct gets a name of its own: headers from 5.3 to 5.6 declare a shorter
 * struct clone_args, which could not be completed here. */
#include <stdint.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

typedef struct CloneArgs {
        uint64_t flags;
        uint64_t pidfd;
        uint64_t child_tid;
        uint64_t parent_tid;
        uint64_t exit_signal;
        uint64_t stack;
        uint64_t stack_size;
        uint64_t tls;
        uint64_t set_tid;
        uint64_t set_tid_size;
        uint64_t cgroup;
} CloneArgs;

_Static_assert(sizeof(CloneArgs) == 88, "CLONE_ARGS_SIZE_VER2");
