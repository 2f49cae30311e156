/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Kernel ABI that this machine's kernel has but Debian 12's glibc and
 * linux-libc-dev (6.1) headers do not define. Values are from the kernel's
 * include/uapi/linux/{wait,pidfd}.h.
 */

#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* pidfd_send_signal() flag, Linux 6.9: signal the process group the pidfd's process leads. */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif
