/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "util/macro.h"

static gid_t tty_group(void) {
        struct group gr, *result = NULL;
        char buf[1024];

        if (getgrnam_r("tty", &gr, buf, sizeof(buf), &result) == 0 && result)
                return result->gr_gid;
        return (gid_t) -1; /* leave the group alone */
}

int pty_open(unsigned rows, unsigned columns, uid_t owner, int *ret_master, int *ret_slave) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) columns };

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return -errno;
        if (unlockpt(master) < 0)
                return -errno;
        /* The peer of this very master, without a path lookup in /dev/pts that could race. */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
                return -errno;
        if (owner != (uid_t) -1) {
                if (fchown(slave, owner, tty_group()) < 0 || fchmod(slave, 0620) < 0)
                        return -errno;
        }
        *ret_master = steal_fd(&master);
        *ret_slave = steal_fd(&slave);
        return 0;
}
