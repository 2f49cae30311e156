/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "pidfd-info.h"

#include <errno.h>
#include <sys/ioctl.h>

#define PIDFS_IOCTL_MAGIC 0xFF
#define PIDFD_GET_INFO _IOWR(PIDFS_IOCTL_MAGIC, 11, PidfdInfo)

int pidfd_get_info(int pidfd, uint64_t mask, PidfdInfo *ret) {
        PidfdInfo info = { .mask = mask };

        if (ioctl(pidfd, PIDFD_GET_INFO, &info) < 0)
                return -errno;
        *ret = info;
        return 0;
}

int pidfd_get_exit_status(int pidfd, int *ret_wait_status) {
        PidfdInfo info;
        int r;

        r = pidfd_get_info(pidfd, PIDFD_INFO_EXIT, &info);
        if (r == -ESRCH)
                return -ENODATA;
        if (r < 0)
                return r;
        if (!(info.mask & PIDFD_INFO_EXIT))
                return -ENODATA;
        *ret_wait_status = info.exit_code;
        return 0;
}
