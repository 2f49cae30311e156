/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/**
 * pty_open() - allocate a pseudo-terminal for a spawned program.
 * @rows, @columns: its window size, set before the program starts (a client that sets it
 *                  after receiving the master races with the program's first TIOCGWINSZ)
 * @owner: the uid the program runs as, which gets the terminal (group tty, mode 0620, as a
 *         login's); (uid_t) -1 to leave it ours
 *
 * Both descriptors are O_CLOEXEC; the slave is not our controlling terminal (O_NOCTTY).
 * Return: 0, or a negative errno.
 */
int pty_open(unsigned rows, unsigned columns, uid_t owner, int *ret_master, int *ret_slave);
