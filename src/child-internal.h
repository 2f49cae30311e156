/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between the files of a child (child.c, child-watch.c, child-adopt.c, child-kill.c). */

#include <signal.h>
#include <stdint.h>
#include <sys/time.h>

#include "child.h"

static inline uint64_t child_timeval_usec(const struct timeval *tv) {
        return (uint64_t) tv->tv_sec * UINT64_C(1000000) + (uint64_t) tv->tv_usec;
}

/* child.c */
void child_link_parent(Child *c, Child *p);
/* Keeps the ended object of a departed owner for --linger, then releases it. */
void child_start_linger(Child *c);

/* child-watch.c: the exit callback of a child source (also for adopted children of ours). */
int child_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata);

/* child-kill.c */
/* Sends @sig to the process group @c leads, also after its end (through the group pidfd). */
int child_signal_group(Child *c, int sig);
/* @sig to the process itself, as its owner may (child_check_may_signal()). */
int child_signal(Child *c, int sig);
