/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * PIDFD_GET_INFO (Linux 6.13; exit information since 6.15): what the kernel
 * tells about the process behind a pidfd, also about one that is not our
 * child, and after its real parent reaped it, how it ended. Debian 12's
 * kernel headers (6.1) define none of it, so the ABI is spelled out here,
 * from the kernel's include/uapi/linux/pidfd.h (version 0 of the struct,
 * 64 bytes; the kernel takes the size from the ioctl number).
 */

#include <stdint.h>
#include <sys/types.h>

#define PIDFD_INFO_PID (UINT64_C(1) << 0)
#define PIDFD_INFO_CREDS (UINT64_C(1) << 1)
#define PIDFD_INFO_CGROUPID (UINT64_C(1) << 2)
#define PIDFD_INFO_EXIT (UINT64_C(1) << 3)

typedef struct PidfdInfo {
        uint64_t mask; /* in: what to fill in; out: what was filled in */
        uint64_t cgroupid;
        uint32_t pid;
        uint32_t tgid;
        uint32_t ppid;
        uint32_t ruid;
        uint32_t rgid;
        uint32_t euid;
        uint32_t egid;
        uint32_t suid;
        uint32_t sgid;
        uint32_t fsuid;
        uint32_t fsgid;
        int32_t exit_code; /* a wait(2) status: WIFEXITED() and friends apply */
} PidfdInfo;

_Static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");

/**
 * pidfd_get_info() - ask the kernel about the process of @pidfd.
 * @mask: PIDFD_INFO_* bits wanted; ret->mask says which were answered
 *
 * Return: 0; -ENOTTY or -EINVAL when @pidfd is no pidfd (or the kernel is
 * older than 6.13); -ESRCH when the process is gone and nothing that was
 * asked for is left to tell.
 */
int pidfd_get_info(int pidfd, uint64_t mask, PidfdInfo *ret);

/**
 * pidfd_get_exit_status() - how the process of @pidfd ended, once reaped.
 * @ret_wait_status: a wait(2)-style status
 *
 * Return: 0; -ENODATA while it is not reaped yet or when the kernel keeps no
 * exit information (before 6.15); another negative errno from the ioctl.
 */
int pidfd_get_exit_status(int pidfd, int *ret_wait_status);
