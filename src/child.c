/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A child is watched through an exit-only sd-event child source, which
 * sd-event 252 puts into epoll on the child's pidfd: its exit costs O(1)
 * whatever the number of children. Stop/continue reports come through the
 * manager's own SIGCHLD path (see manager.c) for the same reason.
 */

#include "child.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include "bus-errors.h"
#include "bus-process.h"
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

static uint64_t timeval_usec(const struct timeval *tv) {
        return (uint64_t) tv->tv_sec * UINT64_C(1000000) + (uint64_t) tv->tv_usec;
}

const char *child_object_path(const Child *c, char *buf) {
        (void) snprintf(buf, CHILD_PATH_MAX, CHILD_PATH_PREFIX "/%" PRIu64, c->id);
        return buf;
}

uint64_t child_id_from_path(const char *path) {
        static const char prefix[] = CHILD_PATH_PREFIX "/";
        uint64_t id = 0;

        if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
                return 0;
        path += sizeof(prefix) - 1;
        if (*path < '1' || *path > '9') /* no empty id, no leading zeros: one path per object */
                return 0;
        for (; *path; path++) {
                if (*path < '0' || *path > '9')
                        return 0;
                if (id > (UINT64_MAX - 9) / 10)
                        return 0;
                id = id * 10 + (uint64_t) (*path - '0');
        }
        return id;
}

const char *child_description(Child *c) {
        if (!c->description) {
                c->description = strv_join(c->argv, " ");
                object_description_bound(c->description);
        }
        return c->description ?: "";
}

int child_pidfd(Child *c) {
        if (c->child_source)
                return sd_event_source_get_child_pidfd(c->child_source);
        return c->pidfd >= 0 ? c->pidfd : -ESRCH;
}

/* Copies a strv into one allocation: fewer allocations per child and one free(). */
char **child_strv_copy_compact(char * const *l) {
        size_t n = strv_length(l), bytes = (n + 1) * sizeof(char *);
        for (size_t i = 0; i < n; i++)
                bytes += strlen(l[i]) + 1;

        char **copy = malloc(bytes);
        if (!copy)
                return NULL;
        char *p = (char *) (copy + n + 1);
        for (size_t i = 0; i < n; i++) {
                copy[i] = p;
                p = stpcpy(p, l[i]) + 1;
        }
        copy[n] = NULL;
        return copy;
}

static void child_unlink_parent(Child *c) {
        Child *p = c->parent;

        if (!p)
                return;
        if (c->sibling_prev)
                c->sibling_prev->sibling_next = c->sibling_next;
        else
                p->descendants = c->sibling_next;
        if (c->sibling_next)
                c->sibling_next->sibling_prev = c->sibling_prev;
        c->parent = c->sibling_prev = c->sibling_next = NULL;
}

static void child_link_parent(Child *c, Child *p) {
        c->parent = p;
        c->parent_id = p->id;
        c->sibling_prev = NULL;
        c->sibling_next = p->descendants;
        if (p->descendants)
                p->descendants->sibling_prev = c;
        p->descendants = c;
}

/* The tree holds no process any more, or is given up: what it held goes. */
static void child_drop_tree(Child *c) {
        Manager *m = c->manager;

        if (c->tree_running) {
                c->tree_running = false;
                if (m)
                        m->n_live_trees--;
        }
        if (c->group_polled) {
                c->group_polled = false;
                if (m)
                        manager_group_poll_unref(m);
        }
        c->tree_source = sd_event_source_disable_unref(c->tree_source);
        c->cgroup_fd = safe_close(c->cgroup_fd);
        if (c->tree_id > 0 && m) {
                if (hashmap_get(&m->trees, &c->tree_id) == c)
                        (void) hashmap_remove(&m->trees, &c->tree_id);
                if (m->cgroup_root) {
                        int r = cgroup_tree_remove(m->cgroup_root, c->tree_id);
                        if (r < 0 && r != -ENOENT)
                                log_debug("Cannot remove the cgroup of tree %" PRIu64 ": %s", c->tree_id,
                                          strerror(-r));
                }
        }
        c->tree_id = 0;
}

Child *child_free(Child *c) {
        if (!c)
                return NULL;

        if (c->manager) {
                Manager *m = c->manager;
                manager_unqueue_ended(m, c);
                if (c->has_object)
                        manager_remove_object(m, c);
                if (child_is_running(c) && c->pid > 0)
                        manager_child_ended(m, c);
                if (c->leads_group && hashmap_get(&m->leaders, &c->pid_key) == c)
                        (void) hashmap_remove(&m->leaders, &c->pid_key);
        }
        if (c->owner)
                client_remove_child(c->owner, c);
        child_unlink_parent(c);
        while (c->descendants)
                child_unlink_parent(c->descendants);

        sd_event_source_disable_unref(c->kill_timer);
        sd_event_source_disable_unref(c->linger_timer);
        sd_event_source_disable_unref(c->reap_timer);
        sd_event_source_disable_unref(c->pidfd_source);
        safe_close(c->pidfd);
        safe_close(c->group_pidfd);
        safe_close(c->pty_master);
        /* If the source owns the process (kill-on-release) this kills and reaps it;
         * otherwise it only closes the pidfd and the process runs on. */
        sd_event_source_unref(c->child_source);
        /* After that reap, so that an emptied cgroup can go. */
        child_drop_tree(c);

        for (unsigned i = 0; i < c->n_waiters; i++)
                sd_bus_message_unref(c->waiters[i]);
        free(c->waiters);
        for (unsigned i = 0; i < c->n_tree_waiters; i++)
                sd_bus_message_unref(c->tree_waiters[i]);
        free(c->tree_waiters);
        free(c->argv);
        free(c->description);
        free(c->owner_name);
        free(c);
        return NULL;
}

static int child_on_linger_end(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        (void) s;
        (void) usec;

        c->linger_timer = sd_event_source_disable_unref(c->linger_timer);
        child_release(c);
        return 0;
}

static void child_start_linger(Child *c) {
        Manager *m = c->manager;
        int r;

        if (c->linger_timer || !c->has_object)
                return;
        r = sd_event_add_time_relative(m->event, &c->linger_timer, CLOCK_MONOTONIC, m->linger_usec, 0,
                                       child_on_linger_end, c);
        if (r < 0) {
                /* Without a timer the object would stay forever; better drop it now. */
                log_warning("Cannot keep ended process %" PRIu64 " for its departed owner: %s",
                            c->id, strerror(-r));
                child_release(c);
        }
}

/* Answers @calls (Wait or Kill) with the final State and ExitStatus and empties the list. */
static void child_reply_all(Child *c, sd_bus_message ***calls, unsigned *n_calls) {
        for (unsigned i = 0; i < *n_calls; i++) {
                int r = bus_process_reply_end(c, (*calls)[i]);
                if (r < 0)
                        log_debug("Cannot answer a caller waiting for process %" PRIu64 ": %s", c->id,
                                  strerror(-r));
                sd_bus_message_unref((*calls)[i]);
        }
        free(*calls);
        *calls = NULL;
        *n_calls = 0;
}

static void child_reply_waiters(Child *c) {
        child_reply_all(c, &c->waiters, &c->n_waiters);
}

static void child_reply_tree_waiters(Child *c) {
        child_reply_all(c, &c->tree_waiters, &c->n_tree_waiters);
}

/* What happens to an ended process once nothing of it (and of its tree) runs any more. */
static void child_settle(Child *c) {
        Manager *m = c->manager; /* c may be freed below */

        if (child_is_alive(c))
                return;
        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        child_reply_tree_waiters(c);
        if (c->release_pending)
                child_release(c); /* frees it */
        else if (!c->has_object)
                child_free(c); /* released while running: nobody can ask about it any more */
        else if (!c->owner)
                child_start_linger(c);
        manager_check_idle(m);
}

static void child_tree_emptied(Child *c) {
        if (c->cgroup_fd >= 0) {
                CgroupTreeStats st = {};
                int r = cgroup_tree_read_stats(c->cgroup_fd, &st);
                if (r < 0)
                        log_debug("Cannot read the resource use of tree %" PRIu64 ": %s", c->id, strerror(-r));
                c->tree_user_usec = st.user_usec;
                c->tree_system_usec = st.system_usec;
                c->tree_memory_peak = st.memory_peak;
        }
        child_drop_tree(c);
        if (c->has_object)
                bus_process_emit_tree_changed(c);
        child_settle(c);
}

/* Whether any descendant that re-parented to us still runs. */
static bool child_has_running_descendants(Child *c) {
        for (Child *d = c->descendants; d; d = d->sibling_next)
                if (child_is_running(d))
                        return true;
        return false;
}

/* Sends @sig to the process group @c leads. The group outlives its leader: the pidfd still
 * names it after the reap, and cannot hit a group that took the number over meanwhile. */
static int child_signal_group(Child *c, int sig) {
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

void child_check_tree(Child *c) {
        if (!c->tree_running || child_is_running(c))
                return;
        if (c->cgroup_fd >= 0) {
                int r = cgroup_tree_is_populated(c->cgroup_fd);
                if (r > 0)
                        return;
                if (r < 0)
                        log_debug("Cannot tell whether tree %" PRIu64 " is empty, taking it as empty: %s", c->id,
                                  strerror(-r));
                /* A cgroup counts no exited process, but the orphans among them are our
                 * zombies until reaped. SIGCHLD coalesces, so it may not name them all: once,
                 * when the tree first looks empty, list our children (O(children), once per
                 * tree) and take them over; then wait for their ends. */
                if (!c->tree_scanned) {
                        c->tree_scanned = true;
                        manager_drain_sigchld(c->manager);
                        manager_scan_orphans(c->manager);
                }
                if (child_has_running_descendants(c))
                        return;
        } else {
                if (child_has_running_descendants(c))
                        return;
                int r = child_signal_group(c, 0);
                if (r != -ESRCH)
                        return; /* members left (or ones we may not signal, EPERM) */
        }
        child_tree_emptied(c);
}

void child_handle_event(Child *c, ChildEvent event, int status) {
        bool terminal = child_event_is_terminal(event);

        if (event < 0 || !child_state_apply(&c->state, &c->exit_status, event, status))
                return;

        if (terminal) {
                c->exit_usec = now_usec(CLOCK_REALTIME);
                if (!c->tree_running)
                        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
                manager_child_ended(c->manager, c);
        }

        if (c->has_object) {
                if (terminal || (c->events & CHILD_EVENT_MASK(event)))
                        bus_process_emit_state_changed(c, event, status);
                bus_process_emit_properties_changed(c);
        }

        if (!terminal)
                return;

        child_reply_waiters(c);
        if (c->parent)
                child_check_tree(c->parent);
        if (c->tree_running && c->cgroup_fd < 0 && !c->group_polled) {
                /* A process group says nothing when its last member goes: ask now and then. */
                c->group_polled = true;
                manager_group_poll_ref(c->manager);
        }
        if (c->tree_running)
                child_check_tree(c); /* may settle and free c */
        else
                child_settle(c);
}

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
        c->user_usec = timeval_usec(&ru.ru_utime);
        c->system_usec = timeval_usec(&ru.ru_stime);
        return true;
}

/* Without pidfds sd-event has to walk its child sources on SIGCHLD anyway, so it also
 * collects stop/continue reports then; with pidfds the manager does that in O(1). */
static int child_wait_options(const Child *c) {
        return (c->events & CHILD_EVENTS_STOP_CONTINUE) ? WSTOPPED | WCONTINUED : 0;
}

static int child_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata);

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

static int child_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
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

/* Adopted non-children: their pidfd turns readable when they exit and hangs up once
 * their real parent reaped them; only then does PIDFD_GET_INFO tell how they ended. */
/* Return: true if the end was announced (and c may be freed), false while it is unreaped. */
static bool child_end_unreaped(Child *c, bool reaped) {
        int wstatus = 0, status = -1;
        ChildEvent event = CHILD_EVENT_VANISHED;

        if (pidfd_get_exit_status(c->pidfd, &wstatus) >= 0)
                event = child_event_from_wait_status(wstatus, &status);
        else if (!reaped)
                return false;

        c->pidfd_source = sd_event_source_disable_unref(c->pidfd_source);
        c->reap_timer = sd_event_source_disable_unref(c->reap_timer);
        c->pidfd = safe_close(c->pidfd);
        child_handle_event(c, event, event == CHILD_EVENT_VANISHED ? -1 : status);
        return true;
}

static int child_on_reap_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        (void) s;
        (void) usec;

        /* Exited, but its parent does not reap it: we cannot learn more. */
        (void) child_end_unreaped(c, true);
        return 0;
}

/* A process adopted as another's child may have re-parented to us since (we are a
 * subreaper): then nobody else will reap it, and its status is ours to take. */
static bool child_reap_if_ours(Child *c) {
        struct rusage ru = {};
        siginfo_t si = {};

        if (syscall(SYS_waitid, P_PIDFD, c->pidfd, &si, WEXITED | WNOHANG, &ru) < 0 || si.si_pid == 0)
                return false;
        c->user_usec = timeval_usec(&ru.ru_utime);
        c->system_usec = timeval_usec(&ru.ru_stime);
        c->pidfd_source = sd_event_source_disable_unref(c->pidfd_source);
        c->reap_timer = sd_event_source_disable_unref(c->reap_timer);
        c->pidfd = safe_close(c->pidfd);
        child_handle_event(c, child_event_from_si_code(si.si_code), si.si_status);
        return true;
}

static int child_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Child *c = userdata;
        int r;
        (void) fd;

        if (child_reap_if_ours(c))
                return 0;

        if (revents & (EPOLLHUP | EPOLLERR)) {
                (void) child_end_unreaped(c, true);
                return 0;
        }

        /* Exited, a zombie of its parent: wait for the hang-up of the reap, for a while. */
        if (child_end_unreaped(c, false))
                return 0;
        (void) sd_event_source_set_io_events(s, 0); /* EPOLLHUP is always reported */
        if (!c->reap_timer) {
                r = sd_event_add_time_relative(c->manager->event, &c->reap_timer, CLOCK_MONOTONIC,
                                               CHILD_REAP_GRACE_USEC, 10 * 1000, child_on_reap_timeout, c);
                if (r < 0)
                        (void) child_end_unreaped(c, true);
        }
        return 0;
}

/* Reads /proc/PID/cmdline into a compact strv; empty for kernel threads and on errors. */
static char **read_cmdline(pid_t pid) {
        char path[64], *buf;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        (void) snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        buf = malloc(CHILD_CMDLINE_MAX + 1);
        if (!buf)
                return NULL;
        while (fd >= 0 && n < CHILD_CMDLINE_MAX) {
                ssize_t k = read(fd, buf + n, CHILD_CMDLINE_MAX - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;

        size_t count = 0;
        for (size_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        count++;
        if (n > 0 && buf[n - 1] != 0)
                count++;
        char **l = calloc(count + 1, sizeof(char *)), **copy;
        if (!l) {
                free(buf);
                return NULL;
        }
        size_t k = 0;
        for (size_t i = 0; i < n && k < count; i += strlen(buf + i) + 1)
                l[k++] = buf + i;
        /* What an object keeps (object-bounds.h); this also makes it valid UTF-8 for the bus. */
        copy = object_argv_copy(l, NULL);
        free(l);
        free(buf);
        return copy;
}

static bool pidfd_has_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* A process released while it ran is still watched (and reaped) without an object: adopting
 * it gives it a new object, with the caller as owner and the options of this call, rather
 * than AlreadyWatched for a process that nobody can see any more. */
static int child_take_back(Child *c, Client *owner, const SpawnOptions *o, Child **ret, sd_bus_error *error) {
        Manager *m = c->manager;
        bool is_child = c->child_source;
        int r;

        /* It counts once already; only another user's limit may be in the way. */
        if (m->multi_user && owner->uid != 0 && owner->uid != c->owner_uid &&
            manager_count_running_of(m, owner->uid) >= m->max_processes_per_user)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u running processes per user reached.",
                                         m->max_processes_per_user);
        /* The ended-object cap of the caller, as for any Adopt (see child_check_limits()). */
        if (manager_count_ended_of(m, owner->uid) >= m->max_ended_per_user)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u ended process objects per user reached; Release() some.",
                                         m->max_ended_per_user);
        _cleanup_free_ char *owner_name = strdup(owner->name);
        _cleanup_free_ char *description = o->description ? object_description_copy(o->description) : NULL;
        if (!owner_name || (o->description && !description))
                return -ENOMEM;

        /* Stop and continue reports come to a parent only; without pidfds only those its child
         * source was made for (sd-event cannot change that). */
        unsigned events = o->events;
        if (!is_child || (!m->use_pidfd && !(c->events & CHILD_EVENTS_STOP_CONTINUE)))
                events &= ~CHILD_EVENTS_STOP_CONTINUE;

        uint64_t old_id = c->id;
        c->id = ++m->next_id;
        r = manager_readd_object(m, c, owner->uid);
        if (r < 0) {
                c->id = old_id;
                return r;
        }
        /* Its tree links name it by id: the orphans attributed to it, and its own parent's list. */
        for (Child *d = c->descendants; d; d = d->sibling_next) {
                d->parent_id = c->id;
                if (d->has_object)
                        bus_process_emit_changed(d, "Parent");
        }
        if (c->parent && c->parent->has_object)
                bus_process_emit_changed(c->parent, "Descendants");
        if ((c->events & CHILD_EVENTS_STOP_CONTINUE) && !(events & CHILD_EVENTS_STOP_CONTINUE))
                m->n_stop_watchers--;
        else if (!(c->events & CHILD_EVENTS_STOP_CONTINUE) && (events & CHILD_EVENTS_STOP_CONTINUE))
                m->n_stop_watchers++;
        c->events = events;
        free(c->owner_name);
        c->owner_name = steal_ptr(&owner_name);
        free(c->description);
        c->description = steal_ptr(&description);
        c->watch_bus = o->watch_bus;
        c->kill_on_release = o->kill_on_release;
        c->kill_signal = o->kill_signal;
        c->kill_timeout_usec = o->kill_timeout_usec;
        if (c->child_source)
                (void) sd_event_source_set_child_process_own(c->child_source, c->kill_on_release);
        client_add_child(owner, c);

        log_debug("Process %d, released as %" PRIu64 ", taken back as %" PRIu64 ".", (int) c->pid, old_id, c->id);
        *ret = c;
        return 0;
}

/* Whether the watched @c is still the process it was: an unreaped child of ours is; an
 * adopted non-child only while its pidfd says it has not exited (else its pid may be
 * another's by now). */
static bool child_still_same_process(Child *c) {
        if (!child_is_running(c))
                return false;
        if (c->child_source)
                return true;
        return c->pidfd >= 0 && !pidfd_has_exited(c->pidfd);
}

int child_adopt(Manager *m, Client *owner, int *pidfd, const SpawnOptions *o, Child **ret, sd_bus_error *error) {
        _cleanup_(child_freep) Child *c = NULL;
        PidfdInfo info;
        int r;

        r = pidfd_get_info(*pidfd, PIDFD_INFO_PID | PIDFD_INFO_CREDS, &info);
        if (r == -ESRCH || (r >= 0 && info.pid == 0))
                return sd_bus_error_set(error, CW_ERROR_NO_SUCH_PROCESS, "The process has already ended.");
        if (r == -ENOTTY || r == -EINVAL || r == -EBADF)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The file descriptor is not a pidfd.");
        if (r < 0)
                return r;
        if (!(info.mask & PIDFD_INFO_CREDS))
                return -EOPNOTSUPP;

        pid_t pid = (pid_t) info.pid;
        if (pid == getpid() || spawn_pool_is_helper(m->spawn_pool, pid))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Process %d is part of the service itself.", (int) pid);
        /* Ownership first: whether another user's process is watched is none of the caller's business. */
        if (owner->uid != 0 && (info.ruid != owner->uid || info.euid != owner->uid))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Process %d belongs to another user.", (int) pid);
        Child *watched = manager_get_child_by_pid(m, pid);
        if (watched && !watched->has_object && !watched->release_pending && child_still_same_process(watched) &&
            !pidfd_has_exited(*pidfd)) {
                /* Killed on its Release(), or a Kill() escalates: it is on its way out, and the
                 * escalation is not the new owner's. */
                if (watched->kill_deadline != 0)
                        return sd_bus_error_setf(error, CW_ERROR_NO_SUCH_PROCESS, "Process %d is being killed.",
                                                 (int) pid);
                return child_take_back(watched, owner, o, ret, error);
        }
        /* Also a child whose Spawn is still being answered: it is about to be watched. */
        if (watched || spawn_pool_owns_pid(m->spawn_pool, pid))
                return sd_bus_error_setf(error, CW_ERROR_ALREADY_WATCHED, "Process %d is already watched.",
                                         (int) pid);
        r = child_check_limits(m, owner, error);
        if (r < 0)
                return r;

        bool is_child = info.ppid == (uint32_t) getpid();
        c = calloc(1, sizeof(Child));
        if (!c)
                return -ENOMEM;
        *c = (Child) {
                .manager = m,
                .pid = pid,
                .pid_key = (uint64_t) pid,
                .uid = info.euid,
                .owner_uid = owner->uid,
                .adopted = true,
                .watch_bus = o->watch_bus,
                .kill_on_release = o->kill_on_release,
                /* Stops and continues are reported to the parent only. */
                .events = is_child ? o->events : o->events & ~CHILD_EVENTS_STOP_CONTINUE,
                .kill_signal = o->kill_signal,
                .kill_timeout_usec = o->kill_timeout_usec,
                .state = CHILD_STATE_RUNNING,
                .pidfd = -EBADF,
                .group_pidfd = -EBADF,
                .cgroup_fd = -EBADF,
                .pty_master = -EBADF,
                .start_usec = now_usec(CLOCK_REALTIME),
        };
        c->argv = read_cmdline(pid);
        c->owner_name = strdup(owner->name);
        c->description = o->description ? object_description_copy(o->description) : NULL;
        if (!c->argv || !c->owner_name || (o->description && !c->description))
                return -ENOMEM;
        /* Checked after reading its cmdline, so the pid cannot have been reused meanwhile. */
        if (pidfd_has_exited(*pidfd))
                return sd_bus_error_setf(error, CW_ERROR_NO_SUCH_PROCESS, "Process %d has already ended.",
                                         (int) pid);

        if (is_child) {
                /* Re-parented to us: the full child engine, as for the ones we spawn. */
                r = sd_event_add_child_pidfd(m->event, &c->child_source, *pidfd, WEXITED, child_on_exit, c);
                if (r < 0)
                        return r;
                *pidfd = -EBADF;
                (void) sd_event_source_set_child_pidfd_own(c->child_source, true);
                (void) sd_event_source_set_child_process_own(c->child_source, c->kill_on_release);
                r = sd_event_source_set_enabled(c->child_source, SD_EVENT_ON);
        } else {
                c->pidfd = steal_fd(pidfd);
                r = sd_event_add_io(m->event, &c->pidfd_source, c->pidfd, EPOLLIN, child_on_pidfd, c);
        }
        if (r < 0)
                return r;

        c->id = ++m->next_id;
        r = manager_add_child(m, c);
        if (r < 0)
                return r;
        client_add_child(owner, c);

        *ret = steal_ptr(&c);
        return 0;
}

/* Whether the group that @l led when we spawned it still exists: then its number cannot
 * have gone to another process, and a process in a group or session of that number
 * descends from @l. */
static bool child_group_still_ours(Child *l) {
        if (child_is_running(l))
                return true;
        int r = child_signal_group(l, 0);
        return r >= 0 || r == -EPERM;
}

/* The spawned process an orphan descends from, when that is certain: the cgroup of a tree,
 * or a process group or session that one of ours leads. Else NULL (its Parent is "/"). */
static Child *child_find_origin(Manager *m, pid_t pid, const ProcStat *st) {
        uint64_t id;

        if (m->cgroup_root && cgroup_root_tree_of_pid(m->cgroup_root, pid, &id) > 0) {
                Child *t = hashmap_get(&m->trees, &id);
                if (t)
                        return t;
        }
        pid_t ids[] = { st->pgrp, st->session };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                uint64_t key = (uint64_t) ids[i];
                Child *l = ids[i] > 0 && ids[i] != pid ? hashmap_get(&m->leaders, &key) : NULL;
                if (l && !l->adopted && child_group_still_ours(l))
                        return l;
        }
        return NULL;
}

/* The uids of our child @pid: from its pidfd once watched, else from /proc (valgrind). */
static void child_read_uids(Child *c, uid_t *ret_ruid, uid_t *ret_euid) {
        PidfdInfo info;
        struct stat sb;
        char path[64];

        if (pidfd_get_info(child_pidfd(c), PIDFD_INFO_CREDS, &info) >= 0 && (info.mask & PIDFD_INFO_CREDS)) {
                *ret_ruid = info.ruid;
                *ret_euid = info.euid;
                return;
        }
        (void) snprintf(path, sizeof(path), "/proc/%d", (int) c->pid);
        *ret_ruid = *ret_euid = stat(path, &sb) >= 0 ? sb.st_uid : c->manager->uid;
}

int child_adopt_orphan(Manager *m, pid_t pid, Child **ret) {
        _cleanup_(child_freep) Child *c = NULL;
        ProcStat st;
        uid_t ruid, euid;
        int r;

        *ret = NULL;
        r = proc_stat_read(pid, &st);
        if (r == -ENOENT || r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        /* Never take over a process that is not ours: sd-event would fail on its exit. */
        if (st.ppid != getpid())
                return 0;
        /* Nor one that a spawn helper is still starting: its Spawn registers it. It is listed
         * as our child from its clone() on, before it could write its pid where the pool
         * sees it (spawn_pool_owns_pid()), and keeps the helper's name until its execve().
         * So the name first, then the pool, both after the read above: a child that has
         * another name by then wrote its pid before its execve(). */
        if (st.state != 'Z' && strncmp(st.comm, SPAWNER_HELPER_NAME, 15 /* TASK_COMM_LEN - 1 */) == 0)
                return 0;
        if (spawn_pool_owns_pid(m->spawn_pool, pid))
                return 0;
        if (st.state == 'Z' && strncmp(st.comm, SPAWNER_HELPER_NAME, 15) == 0) {
                /* Died before its execve(), and no request claims it (killed along with its
                 * helper, or a child of a request given up on): it never ran a program, so it
                 * gets no object; reap it. */
                log_debug("Reaping %d, which died before it started a program.", (int) pid);
                (void) waitid(P_PID, (id_t) pid, &(siginfo_t) {}, WEXITED | WNOHANG);
                return 0;
        }

        c = calloc(1, sizeof(Child));
        if (!c)
                return -ENOMEM;
        *c = (Child) {
                .manager = m,
                .pid = pid,
                .pid_key = (uint64_t) pid,
                .adopted = true,
                .events = CHILD_EVENTS_DEFAULT,
                .kill_signal = SIGTERM,
                .kill_timeout_usec = SPAWN_KILL_TIMEOUT_DEFAULT_USEC,
                .state = CHILD_STATE_RUNNING,
                .pidfd = -EBADF,
                .group_pidfd = -EBADF,
                .cgroup_fd = -EBADF,
                .pty_master = -EBADF,
                .start_usec = now_usec(CLOCK_REALTIME),
        };
        c->argv = read_cmdline(pid);
        if (!c->argv)
                return -ENOMEM;
        if (!c->argv[0]) {
                /* A zombie has no command line any more; its name is left. */
                if (asprintf(&c->description, "[%s]", st.comm) < 0) {
                        c->description = NULL;
                        return -ENOMEM;
                }
                utf8_sanitize(c->description); /* a name is any bytes; the bus takes UTF-8 only */
        }

        r = child_start_watch(c);
        if (r < 0)
                return r;
        child_read_uids(c, &ruid, &euid);
        c->uid = euid;

        /* It inherits its parent's owner and kill settings, but in multi-user mode only while
         * it still runs as that owner: a setuid program (sudo -b) that escaped a user's tree
         * is not that user's to kill through a root service. */
        Child *parent = child_find_origin(m, pid, &st);
        bool inherit = parent && (!m->multi_user || parent->owner_uid == 0 ||
                                  (ruid == parent->owner_uid && euid == parent->owner_uid));
        if (inherit) {
                c->events = parent->events;
                c->watch_bus = parent->watch_bus;
                c->kill_on_release = parent->kill_on_release;
                c->kill_signal = parent->kill_signal;
                c->kill_timeout_usec = parent->kill_timeout_usec;
                c->owner_uid = parent->owner_uid;
        } else
                c->owner_uid = c->uid;
        c->owner_name = strdup(inherit ? parent->owner_name : "");
        if (!c->owner_name)
                return -ENOMEM;

        c->id = ++m->next_id;
        r = manager_add_child(m, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_child_process_own(c->child_source, c->kill_on_release);
        if (parent)
                child_link_parent(c, parent);
        /* The owner by name: the parent's link to it is gone once the parent was released,
         * while the client may still be there; and it may have left the bus already. */
        Client *owner = inherit ? hashmap_get(&m->clients, c->owner_name) : NULL;
        if (owner)
                client_add_child(owner, c);

        log_debug("Took over orphan %d as process %" PRIu64 " (parent %" PRIu64 ").", (int) pid, c->id,
                  c->parent_id);
        bus_process_emit_added(c);
        if (parent && parent->has_object)
                bus_process_emit_changed(parent, "Descendants");
        if (inherit && !owner)
                /* Its owner left before it re-parented to us: what applies to the owner's
                 * processes when it leaves (watch-bus, the linger) applies to it now, as it
                 * would have, had it come a moment earlier. */
                child_owner_left(c);
        *ret = steal_ptr(&c);
        return 0;
}

int child_add_waiter(Child *c, sd_bus_message *m) {
        if (!child_is_running(c))
                return bus_process_reply_end(c, m);

        if (c->n_waiters >= CHILD_WAITERS_MAX)
                return -EUSERS;
        sd_bus_message **t = realloc(c->waiters, (c->n_waiters + 1) * sizeof(sd_bus_message *));
        if (!t)
                return -ENOMEM;
        c->waiters = t;
        c->waiters[c->n_waiters++] = sd_bus_message_ref(m);
        return 0;
}

int child_add_kill_waiter(Child *c, sd_bus_message *m) {
        if (!c->tree_running)
                return child_add_waiter(c, m);

        if (c->n_tree_waiters >= CHILD_WAITERS_MAX)
                return -EUSERS;
        sd_bus_message **t = realloc(c->tree_waiters, (c->n_tree_waiters + 1) * sizeof(sd_bus_message *));
        if (!t)
                return -ENOMEM;
        c->tree_waiters = t;
        c->tree_waiters[c->n_tree_waiters++] = sd_bus_message_ref(m);
        return 0;
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

static int child_signal(Child *c, int sig) {
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
