/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Stop/continue reports, and the queue that announces exits sd-event reaped.
 *
 * Stop/continue reports. sd-event 252 walks every child source on each
 * SIGCHLD as soon as one of them asks for WSTOPPED/WCONTINUED, or as soon as
 * anyone adds a SIGCHLD signal source. So child sources here are exit-only
 * (epoll on the pidfd) and SIGCHLD arrives through a signalfd of our own:
 * the child it names is asked directly with waitid(P_PIDFD), O(1). SIGCHLD
 * coalesces, so a report can hide behind another one; a sweep with
 * waitid(P_ALL, WSTOPPED|WCONTINUED|WNOHANG), which reaps nothing, catches
 * those. That sweep is O(children) in the kernel (~150 µs at 5,000, under a
 * lock that stalls fork and exit system-wide), so it runs from a timer
 * SWEEP_DELAY_USEC after the first SIGCHLD of a burst, once per burst, and
 * only while some running child asked for such events: a hidden report is
 * late by at most that delay, and the exit path never pays for the sweep.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "manager-internal.h"
#include "util/log.h"
#include "util/time-util.h"

/* How late a stop/continue report hidden by SIGCHLD coalescing may be announced. */
#define SWEEP_DELAY_USEC (10 * UINT64_C(1000))
#define SWEEP_ACCURACY_USEC (1 * UINT64_C(1000))

static void manager_dispatch_stop_report(Manager *m, const siginfo_t *si) {
        ChildEvent event = child_event_from_si_code(si->si_code);
        if (event != CHILD_EVENT_STOPPED && event != CHILD_EVENT_CONTINUED)
                return;

        Child *c = manager_get_child_by_pid(m, si->si_pid);
        if (c && (c->events & CHILD_EVENTS_STOP_CONTINUE))
                child_handle_event(c, event, si->si_status);
}

static int manager_on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        (void) s;
        (void) usec;

        /* Bounded: each round consumes one report, and each child has at most one pending. */
        size_t limit = hashmap_size(&m->children_by_pid) + 16;
        for (size_t i = 0; i < limit && m->n_stop_watchers > 0; i++) {
                siginfo_t si = {};
                if (waitid(P_ALL, 0, &si, WSTOPPED | WCONTINUED | WNOHANG) < 0 || si.si_pid == 0)
                        break;
                manager_dispatch_stop_report(m, &si);
        }
        return 0;
}

static void manager_arm_sweep(Manager *m) {
        uint64_t now;
        int enabled = SD_EVENT_OFF;

        if (m->n_stop_watchers == 0)
                return;
        if (sd_event_source_get_enabled(m->sweep_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* already due: one sweep serves the whole burst */
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(m->sweep_source, now + SWEEP_DELAY_USEC);
        (void) sd_event_source_set_enabled(m->sweep_source, SD_EVENT_ONESHOT);
}

void manager_drain_sigchld(Manager *m) {
        struct signalfd_siginfo buf[16];
        bool unknown = false;
        int fd = m->sigchld_fd;

        if (fd < 0)
                return;

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning("Cannot read SIGCHLD: %s", strerror(errno));
                        break;
                }
                for (size_t i = 0; i < (size_t) n / sizeof(buf[0]); i++) {
                        pid_t pid = (pid_t) buf[i].ssi_pid;
                        Child *c = manager_get_child_by_pid(m, pid);
                        if (!c) {
                                /* Only the kernel sends CLD_* codes; anyone may send SIGCHLD. */
                                if (buf[i].ssi_code > 0) {
                                        manager_take_unknown(m, pid);
                                        unknown = true;
                                }
                                continue;
                        }
                        /* Exits of our children arrive through their pidfds. */
                        if (buf[i].ssi_code != CLD_STOPPED && buf[i].ssi_code != CLD_CONTINUED)
                                continue;
                        if (!(c->events & CHILD_EVENTS_STOP_CONTINUE) || child_pidfd(c) < 0)
                                continue;
                        siginfo_t si = {};
                        if (waitid(P_PIDFD, (id_t) child_pidfd(c), &si, WSTOPPED | WCONTINUED | WNOHANG) >= 0 &&
                            si.si_pid > 0)
                                manager_dispatch_stop_report(m, &si);
                }
                if ((size_t) n < sizeof(buf))
                        break;
        }

        if (unknown)
                /* SIGCHLD coalesces: one that named an orphan may have hidden another. */
                manager_schedule_orphan_scan(m);
        manager_arm_sweep(m);
}

static int manager_on_sigchld(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s;
        (void) fd;
        (void) revents;
        manager_drain_sigchld(userdata);
        return 0;
}

/* Without pidfds sd-event reads SIGCHLD itself; a signal source of ours sees it after it. */
static int manager_on_sigchld_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        (void) s;

        if (si->ssi_code > 0 && !manager_get_child_by_pid(m, (pid_t) si->ssi_pid))
                manager_take_unknown(m, (pid_t) si->ssi_pid);
        manager_schedule_orphan_scan(m);
        return 0;
}

void manager_queue_ended(Manager *m, Child *c) {
        if (c->ended_queued)
                return;
        c->ended_queued = true;
        c->ended_next = m->ended;
        m->ended = c;
        (void) sd_event_source_set_enabled(m->announce_source, SD_EVENT_ONESHOT);
}

void manager_unqueue_ended(Manager *m, Child *c) {
        if (!c->ended_queued)
                return;
        for (Child **p = &m->ended; *p; p = &(*p)->ended_next)
                if (*p == c) {
                        *p = c->ended_next;
                        break;
                }
        c->ended_queued = false;
        c->ended_next = NULL;
}

static int manager_on_announce(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        (void) s;

        while (m->ended) {
                Child *c = m->ended;
                m->ended = c->ended_next;
                c->ended_queued = false;
                c->ended_next = NULL;
                child_announce_end(c); /* may free c */
        }
        return 0;
}

int manager_setup_reports(Manager *m) {
        sd_event *event = m->event;
        sigset_t mask;
        int r;

        /* Exits are announced from here, one loop iteration after sd-event reaped them;
         * before anything else that iteration may dispatch. */
        r = sd_event_add_defer(event, &m->announce_source, manager_on_announce, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(m->announce_source, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_enabled(m->announce_source, SD_EVENT_OFF);

        if (!m->use_pidfd) {
                /* Valgrind 3.19, or a kernel before 5.3: sd-event watches children by pid and
                 * walks them on SIGCHLD, collecting stop/continue too. Signals go by pid, which is
                 * safe for our own unreaped children. */
                log_warning("pidfd_open() is not available: watching children by pid, O(n) per SIGCHLD.");
                /* At the default priority: sd-event 252 leaks the signal data of a SIGCHLD source
                 * moved to another priority while child sources share it (valgrind shows it). */
                return sd_event_add_signal(event, &m->sigchld_source, SIGCHLD, manager_on_sigchld_signal, m);
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        m->sigchld_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (m->sigchld_fd < 0)
                return -errno;
        r = sd_event_add_io(event, &m->sigchld_source, m->sigchld_fd, EPOLLIN, manager_on_sigchld, m);
        if (r < 0)
                return r;
        /* After the exits (priority 0) of the same wake-up have been announced. */
        (void) sd_event_source_set_priority(m->sigchld_source, SD_EVENT_PRIORITY_NORMAL + 10);

        r = sd_event_add_time(event, &m->sweep_source, CLOCK_MONOTONIC, 0, SWEEP_ACCURACY_USEC, manager_on_sweep, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->sweep_source, SD_EVENT_OFF);

        return 0;
}
