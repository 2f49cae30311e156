/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Processes the service did not start: adopted by a client (a direct child gets the full child
 * engine, any other process is watched for its end through its pidfd), orphans that
 * re-parented to the service (attributed to the spawn they descend from when that is certain),
 * and released processes taken back.
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
        c->user_usec = child_timeval_usec(&ru.ru_utime);
        c->system_usec = child_timeval_usec(&ru.ru_stime);
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
        c = child_new(m, pid);
        if (!c)
                return -ENOMEM;
        c->uid = info.euid;
        c->owner_uid = owner->uid;
        c->adopted = true;
        child_apply_options(c, o);
        if (!is_child)
                /* Stops and continues are reported to the parent only. */
                c->events &= ~CHILD_EVENTS_STOP_CONTINUE;
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

        c = child_new(m, pid);
        if (!c)
                return -ENOMEM;
        c->adopted = true;
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
