/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Acting on a process: signals (to the process, its process group or its whole tree, only as
 * kill(2) would let its owner), Kill() with its escalation to SIGKILL, Release(), and what
 * happens when its owner leaves the bus or the service stops.
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
/* Sends @sig to the process group @c leads. The group outlives its leader: the pidfd still
 * names it after the reap, and cannot hit a group that took the number over meanwhile. */
int child_signal_group(Child *c, int sig) {
        if (c->group_pidfd >= 0) {
                if (pidfd_send_signal(c->group_pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) >= 0)
                        return 0;
                if (errno != EINVAL && errno != ENOSYS)
                        return -errno;
                /* Linux before 6.9 knows no PIDFD_SIGNAL_PROCESS_GROUP. */
        }
        /* By number: safe while the leader is unreaped. After that the number stays reserved
         * only while members live, and could then name another user's group: with pidfds
         * (Linux 6.1 to 6.8) refuse; without any (valgrind) everything goes by pid anyway. */
        if (!child_is_running(c) && c->manager->use_pidfd)
                return -EOPNOTSUPP;
        return killpg(c->pid, sig) < 0 ? -errno : 0;
}

/* Whom the service acts for when it signals @c: its owner, except that root (and everyone
 * on the session bus, where all callers are one user) acts unrestricted. */
static uid_t child_acting_uid(const Child *c) {
        return c->manager->multi_user && c->owner_uid != 0 ? c->owner_uid : (uid_t) -1;
}

int child_check_may_signal(Child *c) {
        uid_t uid = child_acting_uid(c);
        PidfdInfo info;
        int fd = child_pidfd(c);

        if (uid == (uid_t) -1 || fd < 0)
                return 0;
        /* kill(2)'s rule: the owner may signal what runs with its real or saved uid, not a
         * setuid program the process became. The service is root; it must not lend that. */
        if (pidfd_get_info(fd, PIDFD_INFO_CREDS, &info) < 0 || !(info.mask & PIDFD_INFO_CREDS))
                return 0; /* gone (the signal says ESRCH), or a kernel before 6.13 */
        return info.ruid == uid || info.suid == uid ? 0 : -EPERM;
}

int child_signal(Child *c, int sig) {
        int r = child_check_may_signal(c);
        if (r < 0)
                return r;
        if (c->child_source)
                return sd_event_source_send_child_signal(c->child_source, sig, NULL, 0);
        /* An adopted non-child: only through its pidfd, never by pid. */
        if (c->pidfd < 0 || !child_is_running(c))
                return -ESRCH;
        return pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* @sig to the process, or to every process of its tree. Return: -ESRCH when none was left. */
static int child_signal_all(Child *c, int sig) {
        int r;

        if (!c->tree_running)
                return child_signal(c, sig);

        if (c->cgroup_fd >= 0) {
                uid_t uid = child_acting_uid(c);
                if (sig == SIGKILL && uid == (uid_t) -1)
                        return cgroup_tree_kill(c->cgroup_fd);
                r = cgroup_tree_signal(c->cgroup_fd, c->cgroup_id, sig, uid);
                return r < 0 ? r : r == 0 ? -ESRCH : 0;
        }

        /* Process-group mode: the group, and the orphans we know of that left it. */
        bool any = false;
        r = child_signal_group(c, sig);
        if (r >= 0)
                any = true;
        else if (r != -ESRCH)
                log_debug("Cannot signal the group of process %d: %s", (int) c->pid, strerror(-r));
        for (Child *d = c->descendants; d; d = d->sibling_next)
                /* Only the ones that inherited our owner: not a setuid escapee. */
                if (child_is_running(d) && d->owner_uid == c->owner_uid && child_signal(d, sig) >= 0)
                        any = true;
        return any ? 0 : -ESRCH;
}

static int child_on_kill_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        int r;
        (void) s;
        (void) usec;

        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        c->kill_deadline = UINT64_MAX;
        r = child_signal_all(c, SIGKILL);
        if (r < 0 && r != -ESRCH)
                log_warning("Cannot SIGKILL process %d: %s", (int) c->pid, strerror(-r));
        return 0;
}

int child_kill(Child *c, uint64_t timeout_usec) {
        uint64_t now;
        int r;

        if (!child_is_alive(c) || c->kill_deadline == UINT64_MAX)
                return 0; /* ended, or SIGKILL already sent */

        if (timeout_usec == 0 || c->kill_signal == SIGKILL) {
                c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
                c->kill_deadline = UINT64_MAX;
                return child_signal_all(c, SIGKILL);
        }

        if (c->kill_deadline == 0) {
                r = child_signal_all(c, c->kill_signal);
                if (r == -ESRCH)
                        return r;
                if (r < 0) {
                        /* kill-signal cannot be sent (valgrind refuses SIGRTMAX, which it keeps
                         * for itself): with no timer armed a Kill would wait forever, so
                         * escalate now rather than never. */
                        log_warning("Cannot send signal %d to process %d, sending SIGKILL: %s",
                                    c->kill_signal, (int) c->pid, strerror(-r));
                        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
                        c->kill_deadline = UINT64_MAX;
                        return child_signal_all(c, SIGKILL);
                }
                /* A stopped process cannot act on kill-signal until it runs again. */
                if (c->kill_signal != SIGCONT)
                        (void) child_signal_all(c, SIGCONT);
        }

        r = sd_event_now(c->manager->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        uint64_t deadline = timeout_usec > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + timeout_usec;

        if (c->kill_timer) {
                if (deadline >= c->kill_deadline)
                        return 0; /* an earlier Kill already set a sooner deadline */
                r = sd_event_source_set_time(c->kill_timer, deadline);
        } else
                r = sd_event_add_time(c->manager->event, &c->kill_timer, CLOCK_MONOTONIC, deadline,
                                      1000 /* µs accuracy: the grace period is the caller's */,
                                      child_on_kill_timeout, c);
        if (r < 0) {
                /* Without a timer there is no escalation: escalate now rather than never. */
                c->kill_deadline = UINT64_MAX;
                return child_signal(c, SIGKILL);
        }
        c->kill_deadline = deadline;
        return 0;
}

int child_send_signal(Child *c, int sig, bool process_group) {
        if (c->tree)
                /* The tree holds the group too; it is the unit that is signalled. */
                return child_is_alive(c) ? child_signal_all(c, sig) : -ESRCH;

        if (process_group && c->leads_group)
                return child_signal_group(c, sig);

        if (!child_is_running(c) || (!c->child_source && c->pidfd < 0))
                return -ESRCH;
        if (!process_group)
                return child_signal(c, sig);

        /* The group led by the process, never the group it merely sits in: a child
         * without new-session shares ours. */
        if (child_pidfd(c) >= 0) {
                if (pidfd_send_signal(child_pidfd(c), sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) >= 0)
                        return 0;
                if (errno == ESRCH)
                        return -ENOTTY; /* it runs, but leads no process group */
                if (errno != EINVAL && errno != ENOSYS)
                        return -errno;
        }

        /* Kernel older than 6.9, or no pidfds. The pid is safe to use: our child, not
         * yet reaped (the end is announced only after the reap). Not so for others. */
        if (!c->child_source)
                return -EOPNOTSUPP;
        if (getpgid(c->pid) != c->pid)
                return -ENOTTY;
        return killpg(c->pid, sig) < 0 ? -errno : 0;
}

void child_release(Child *c) {
        Manager *m = c->manager;

        c->linger_timer = sd_event_source_disable_unref(c->linger_timer);

        if (c->tree_running) {
                /* The object of a tree goes only with the tree. */
                if (c->kill_on_release) {
                        int r = child_signal_all(c, SIGKILL);
                        if (r < 0 && r != -ESRCH)
                                log_warning("Cannot SIGKILL the tree of released process %d: %s", (int) c->pid,
                                            strerror(-r));
                }
                c->release_pending = true;
                return;
        }
        c->release_pending = false;

        if (c->has_object) {
                /* While the owner is still linked: in multi-user mode it is the recipient. */
                bus_process_emit_removed(c);
                manager_remove_object(m, c);
                /* Nobody can ask for the terminal any more. */
                c->pty_master = safe_close(c->pty_master);
                if (c->parent && c->parent->has_object)
                        bus_process_emit_changed(c->parent, "Descendants");
        }
        if (c->owner)
                client_remove_child(c->owner, c);

        if (!child_is_running(c))
                child_free(c);
        else if (c->kill_on_release) {
                int r = child_signal(c, SIGKILL);
                if (r < 0 && r != -ESRCH)
                        log_warning("Cannot SIGKILL released process %d: %s", (int) c->pid, strerror(-r));
                c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
                c->kill_deadline = UINT64_MAX; /* SIGKILL sent */
        }
        /* Otherwise it is still watched, and reaped and freed when it ends. */
        manager_check_idle(m);
}

void child_kill_on_shutdown(Child *c) {
        if (!c->kill_on_release)
                return;
        if (c->tree_running)
                (void) child_signal_all(c, SIGKILL);
        else if (!c->child_source && c->pidfd >= 0 && child_is_running(c))
                (void) pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
}

void child_owner_left(Child *c) {
        c->owner = NULL;
        c->owner_prev = c->owner_next = NULL;

        if (child_is_alive(c)) {
                if (c->watch_bus) {
                        int r = child_kill(c, c->kill_timeout_usec);
                        if (r < 0 && r != -ESRCH)
                                log_warning("Cannot stop process %d of departed client %s: %s", (int) c->pid,
                                            c->owner_name, strerror(-r));
                }
        } else
                child_start_linger(c);
}
