/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between the files of the manager (see manager.c): each sets up the event sources of its job. */

#include <sys/types.h>

#include "manager.h"

/* manager-reports.c: the announce queue, and SIGCHLD for stop/continue reports and orphans. */
int manager_setup_reports(Manager *m);
/* manager-orphans.c: the timer of the orphan scan. */
int manager_setup_orphan_scan(Manager *m);
/* manager-group-poll.c: the timer that polls process-group trees whose leader ended. */
int manager_setup_group_poll(Manager *m);

/* manager-orphans.c: takes over @pid, a direct child nobody watches (an orphan), or reaps it. */
void manager_take_unknown(Manager *m, pid_t pid);
