/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Watching our own children. A child is watched through an exit-only sd-event child source,
 * which sd-event 252 puts into epoll on the child's pidfd: its exit costs O(1) whatever the
 * number of children. Stop/continue reports come through the manager's own SIGCHLD path
 * (manager-reports.c) for the same reason. Also the cgroup watch of a tree, and the limits a
 * new process is checked against.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-process.h"
#include "child-internal.h"
#include "client.h"
#include "manager.h"
#include "object-bounds.h"
#include "spawn-pool.h"
#include "util/log.h"
#include "util/missing.h"
#include "util/pidfd-info.h"
#include "util/proc-stat.h"
#include "util/strv.h"
#include "util/time-util.h"
/* CPU time of a process that exited, with that of its reaped children; @reap: in the same call
 * that reaps it (else it stays a zombie). Return: whether it had exited (and is reaped if @reap). */
static bool child_read_rusage(Child *c, bool reap) {
        struct rusage ru = {};
        siginfo_t si = {};
        int fd = child_pidfd(c), options = WEXITED | WNOHANG | (reap ? 0 : WNOWAIT);
        long r;

        /* waitid() takes a rusage as its fifth argument in the kernel; glibc does not pass it. */
        if (fd >= 0)
                r = syscall(SYS_waitid, P_PIDFD, fd, &si, options, &ru);
        else
                r = syscall(SYS_waitid, P_PID, c->pid, &si, options, &ru);
        if (r < 0 || si.si_pid == 0)
                return false;
        c->user_usec = child_timeval_usec(&ru.ru_utime);
        c->system_usec = child_timeval_usec(&ru.ru_stime);
        return true;
}

/* Without pidfds sd-event has to walk its child sources on SIGCHLD anyway, so it also
 * collects stop/continue reports then; with pidfds the manager does that in O(1). */
static int child_wait_options(const Child *c) {
        return (c->events & CHILD_EVENTS_STOP_CONTINUE) ? WSTOPPED | WCONTINUED : 0;
}

/* Without pidfds, sd-event (252, process_child()) skips a child source whose last report is
 * still pending when it reads the next SIGCHLD: a state change that came in between (the
 * exit of a process whose stop was being announced) then waits for a SIGCHLD that never
 * comes, and the process stays a zombie. So once a stop or continue report is handled, ask
 * the kernel whether more is queued. Bounded: each report asked for is consumed. */
static int child_catch_reports_behind(Child *c, sd_event_source *s) {
        int options = WEXITED | child_wait_options(c);

        for (unsigned i = 0; i < 4; i++) {
                siginfo_t si = {};

                /* Our unreaped child: its pid cannot have been reused. */
                if (waitid(P_PID, (id_t) c->pid, &si, options | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        return 0;
                if (child_event_is_terminal(child_event_from_si_code(si.si_code)))
                        return child_on_exit(s, &si, c); /* reaps and may free c */

                si = (siginfo_t) {};
                if (waitid(P_PID, (id_t) c->pid, &si, (options & ~WEXITED) | WNOHANG) < 0 || si.si_pid == 0)
                        return 0;
                child_handle_event(c, child_event_from_si_code(si.si_code), si.si_status);
        }
        return 0;
}

int child_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Child *c = userdata;
        ChildEvent event = child_event_from_si_code(si->si_code);

        if (!child_event_is_terminal(event)) {
                /* Only without pidfds (see manager.c) do stop/continue reports come this way. */
                child_handle_event(c, event, si->si_status);
                return child_catch_reports_behind(c, s);
        }

        /* Its children, if any, have re-parented to us by now. */
        manager_schedule_orphan_scan(c->manager);

        /* Reap it here, its CPU times in the same call, and announce the end at once: whoever
         * hears it finds no zombie. Leaving the reap to sd-event (right after we return) meant
         * announcing from the next loop iteration, and an epoll_ctl(), a loop iteration and a
         * close() more before StateChanged went out. sd-event's own waitid(P_PID) after the
         * callback then finds nothing: nothing in this callback starts a process that could
         * have taken the pid over. The source (and the pidfd) go after the announcement. */
        if (child_read_rusage(c, true)) {
                _cleanup_(sd_event_source_disable_unrefp) sd_event_source *source = steal_ptr(&c->child_source);
                (void) sd_event_source_set_child_process_own(source, false);
                child_handle_event(c, event, si->si_status); /* may free c */
                return 0;
        }

        /* Not waitable (cannot happen after sd-event saw it exit): sd-event reaps it right
         * after we return; announce the end only then, from the manager's queue. */
        (void) child_read_rusage(c, false);
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        c->ended_event = event;
        c->ended_status = si->si_status;
        manager_queue_ended(c->manager, c);
        return 0;
}

void child_announce_end(Child *c) {
        /* Reaped by now: drop the source and with it the pidfd, so ended objects hold no
         * descriptor. Not owning the process any more, the source neither kills nor waits. */
        if (c->child_source) {
                (void) sd_event_source_set_child_process_own(c->child_source, false);
                c->child_source = sd_event_source_disable_unref(c->child_source);
        }
        child_handle_event(c, c->ended_event, c->ended_status);
}

int child_start_watch(Child *c) {
        int r;

        /* sd_event_add_child() opens the pidfd itself (pidfd_open() on our unreaped child,
         * which cannot race with pid reuse) and owns it. sd_event_add_child_pidfd() would
         * have to parse /proc/self/fdinfo to learn the pid we already know (~20 µs). */
        r = sd_event_add_child(c->manager->event, &c->child_source, c->pid,
                               c->manager->use_pidfd ? WEXITED : WEXITED | child_wait_options(c), child_on_exit,
                               c);
        if (r < 0)
                return r;
        if (c->manager->use_pidfd && sd_event_source_get_child_pidfd(c->child_source) < 0)
                return -EOPNOTSUPP;
        /* Until the child is fully set up, dropping the source must kill and reap it. */
        r = sd_event_source_set_child_process_own(c->child_source, true);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->child_source, SD_EVENT_ON);
}

static int child_on_tree_event(sd_event_source *s, const struct inotify_event *event, void *userdata) {
        Child *c = userdata;
        (void) s;
        (void) event;

        child_check_tree(c); /* may free c */
        return 0;
}

/* After the spawn: the group pidfd, the tree's watch and its registration. */
int child_setup_tree(Child *c) {
        Manager *m = c->manager;
        int r;

        if (c->leads_group && m->use_pidfd) {
                c->group_pidfd = fcntl(child_pidfd(c), F_DUPFD_CLOEXEC, 3);
                if (c->group_pidfd < 0)
                        return -errno;
        }
        if (c->leads_group) {
                /* A stale entry is one whose pid was reused: its group is gone. */
                Child *old = hashmap_remove(&m->leaders, &c->pid_key);
                if (old)
                        old->leads_group = false;
                r = hashmap_put(&m->leaders, &c->pid_key, c);
                if (r < 0) {
                        c->leads_group = false;
                        return r;
                }
        }
        if (!c->tree)
                return 0;

        if (c->cgroup_fd >= 0) {
                _cleanup_free_ char *path = NULL;
                r = cgroup_tree_events_path(m->cgroup_root, c->tree_id, &path);
                if (r < 0)
                        return r;
                r = sd_event_add_inotify(m->event, &c->tree_source, path, IN_MODIFY, child_on_tree_event, c);
                if (r < 0)
                        return r;
                r = hashmap_put(&m->trees, &c->tree_id, c);
                if (r < 0)
                        return r;
        }
        c->tree_running = true;
        m->n_live_trees++;
        return 0;
}

int child_check_limits(Manager *m, Client *owner, sd_bus_error *error) {
        /* Processes still starting count: a burst of calls must not overshoot the limit. */
        if (hashmap_size(&m->children_by_pid) + m->n_spawning >= m->max_processes)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u running processes reached.", m->max_processes);
        /* Multi-user mode: --max-processes-per-user, root exempt. */
        if (m->multi_user && owner->uid != 0 &&
            manager_count_running_of(m, owner->uid) >= m->max_processes_per_user)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u running processes per user reached.",
                                         m->max_processes_per_user);
        if (!manager_has_fd_headroom(m))
                return sd_bus_error_set(error, CW_ERROR_LIMIT_EXCEEDED,
                                        "The service is running out of file descriptors.");
        /* Each object adds to every listing; ended ones stay until released, so they are
         * capped per user (object-bounds.h). Refused rather than dropped: no exit status is lost. */
        if (manager_count_ended_of(m, owner->uid) >= m->max_ended_per_user)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u ended process objects per user reached; Release() some.",
                                         m->max_ended_per_user);
        return 0;
}
