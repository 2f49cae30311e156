/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * One watched process: its identity (id, object path, description), its place among the
 * orphans attributed to it, its state changes and what follows from its end (waiters answered,
 * the tree checked, the object kept, lingering or freed). How it is watched, adopted and
 * signalled is in child-watch.c, child-adopt.c and child-kill.c.
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
Child *child_new(Manager *m, pid_t pid) {
        Child *c = calloc(1, sizeof(Child));

        if (!c)
                return NULL;
        *c = (Child) {
                .manager = m,
                .pid = pid,
                .pid_key = pid > 0 ? (uint64_t) pid : 0,
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
        return c;
}

void child_apply_options(Child *c, const SpawnOptions *o) {
        c->watch_bus = o->watch_bus;
        c->kill_on_release = o->kill_on_release;
        c->events = o->events;
        c->kill_signal = o->kill_signal;
        c->kill_timeout_usec = o->kill_timeout_usec;
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

void child_link_parent(Child *c, Child *p) {
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

void child_start_linger(Child *c) {
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
