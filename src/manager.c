/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
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
 *
 * Orphans. The service is a child subreaper, so descendants of the processes
 * it spawned re-parent to it when their own parent ends. Nothing announces
 * such an arrival; only /proc/self/task/TID/children lists it, and reading
 * that costs ~0.5 µs per child (2.5 ms at 5,000). So the list is read only
 * after a direct child of ours ended (the kernel re-parents a process's
 * children before its end is reported), a few ms later and at most once per
 * SCAN_INTERVAL_USEC (or 20× the last scan's cost): a daemonizing program's
 * grandchild shows up within about that interval. An orphan's own end
 * arrives as a SIGCHLD whose ssi_pid names it: it is taken over in O(1),
 * and the scan mops up those that SIGCHLD coalescing hid.
 */

#include "manager.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-manager.h"
#include "bus-managed-objects.h"
#include "bus-process.h"
#include "child.h"
#include "client.h"
#include "util/fs-util.h"
#include "util/parse.h"
#include "util/log.h"
#include "util/missing.h"
#include "util/pidfd-info.h"
#include "util/strv.h"
#include "util/time-util.h"

extern char **environ;

/* How late a stop/continue report hidden by SIGCHLD coalescing may be announced. */
#define SWEEP_DELAY_USEC (10 * UINT64_C(1000))
#define SWEEP_ACCURACY_USEC (1 * UINT64_C(1000))
/* Orphan scans: how soon after the triggering exit, and how rarely. */
#define SCAN_DELAY_USEC (5 * UINT64_C(1000))
#define SCAN_INTERVAL_USEC (100 * UINT64_C(1000))
#define SCAN_ACCURACY_USEC (5 * UINT64_C(1000))
/* How often the group of a process-group tree whose leader ended is checked for members. */
#define GROUP_POLL_USEC (100 * UINT64_C(1000))

Child *manager_get_child_by_id(Manager *m, uint64_t id) {
        return hashmap_get(&m->children_by_id, &id);
}

Child *manager_get_child_by_pid(Manager *m, pid_t pid) {
        uint64_t key = (uint64_t) pid;
        return pid > 0 ? hashmap_get(&m->children_by_pid, &key) : NULL;
}

typedef struct UserCount {
        uint64_t uid;
        unsigned n;
} UserCount;

static unsigned count_of(Hashmap *counts, uid_t uid) {
        uint64_t key = uid;
        UserCount *u = hashmap_get(counts, &key);
        return u ? u->n : 0;
}

static int count_add(Hashmap *counts, uid_t uid) {
        uint64_t key = uid;
        UserCount *u = hashmap_get(counts, &key);
        int r;

        if (!u) {
                u = calloc(1, sizeof(UserCount));
                if (!u)
                        return -ENOMEM;
                u->uid = uid;
                r = hashmap_put(counts, &u->uid, u);
                if (r < 0) {
                        free(u);
                        return r;
                }
        }
        u->n++;
        return 0;
}

static void count_remove(Hashmap *counts, uid_t uid) {
        uint64_t key = uid;
        UserCount *u = hashmap_get(counts, &key);

        if (!u)
                return;
        if (--u->n == 0) {
                (void) hashmap_remove(counts, &key);
                free(u);
        }
}

static void counts_clear(Hashmap *counts) {
        UserCount *u;

        /* Emptied as the children went; free what a counting bug might have left. */
        HASHMAP_FOREACH(u, counts, i)
                free(u);
        hashmap_clear(counts);
}

unsigned manager_count_running_of(Manager *m, uid_t uid) {
        return count_of(&m->running_by_uid, uid);
}

unsigned manager_count_ended_of(Manager *m, uid_t uid) {
        return count_of(&m->ended_by_uid, uid);
}

static int manager_count_add(Manager *m, uid_t uid) {
        return count_add(&m->running_by_uid, uid);
}

static void manager_count_remove(Manager *m, uid_t uid) {
        count_remove(&m->running_by_uid, uid);
}

int manager_spawn_begin(Manager *m, uid_t uid) {
        int r;

        r = manager_count_add(m, uid);
        if (r < 0)
                return r;
        m->n_spawning++;
        manager_check_idle(m);
        return 0;
}

void manager_spawn_end(Manager *m, uid_t uid) {
        if (m->n_spawning == 0)
                return;
        m->n_spawning--;
        manager_count_remove(m, uid);
}

/* One message may carry up to 253 descriptors (SCM_RIGHTS); a new process costs a few more
 * (pidfd, group pidfd, cgroup, pty and the temporaries of the spawn). */
#define FD_RESERVE 288U
/* What a watched process holds at most, to estimate before counting. */
#define FDS_PER_CHILD 4U
#define FDS_BASE 64U

static unsigned count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        (void) closedir(d);
        return n;
}

bool manager_has_fd_headroom(Manager *m) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return true;
        /* A bound of what is open now: the last count (a generous base before the first) plus
         * what each process watched since then may hold. Counting is O(open fds), so it is done
         * only when that bound comes near the limit, and then it resets the bound: amortized
         * O(1) per spawn even with thousands of children watched. */
        size_t children = hashmap_size(&m->children_by_pid) + hashmap_size(&m->children_by_id) + m->n_spawning;
        size_t added = children > m->fds_counted_children ? children - m->fds_counted_children : 0;
        uint64_t bound = (uint64_t) m->fds_counted + (uint64_t) FDS_PER_CHILD * added;
        if (bound + FD_RESERVE < rl.rlim_cur)
                return true;
        m->fds_counted = count_open_fds();
        m->fds_counted_children = children;
        return (uint64_t) m->fds_counted + FD_RESERVE < rl.rlim_cur;
}

bool manager_may_see(Manager *m, uid_t uid, Child *c) {
        return !m->multi_user || uid == 0 || uid == c->owner_uid;
}

int manager_add_child(Manager *m, Child *c) {
        int r;

        r = manager_count_add(m, c->owner_uid);
        if (r < 0)
                return r;
        r = hashmap_put(&m->children_by_pid, &c->pid_key, c);
        if (r < 0) {
                manager_count_remove(m, c->owner_uid);
                return r;
        }
        r = hashmap_put(&m->children_by_id, &c->id, c);
        if (r < 0) {
                (void) hashmap_remove(&m->children_by_pid, &c->pid_key);
                manager_count_remove(m, c->owner_uid);
                return r;
        }
        c->has_object = true;
        if (c->events & CHILD_EVENTS_STOP_CONTINUE)
                m->n_stop_watchers++;
        manager_check_idle(m);
        return 0;
}

int manager_readd_object(Manager *m, Child *c, uid_t owner_uid) {
        int r;

        if (c->has_object || !child_is_running(c) || hashmap_get(&m->children_by_pid, &c->pid_key) != c)
                return -EINVAL;
        r = manager_count_add(m, owner_uid);
        if (r < 0)
                return r;
        r = hashmap_put(&m->children_by_id, &c->id, c);
        if (r < 0) {
                manager_count_remove(m, owner_uid);
                return r;
        }
        manager_count_remove(m, c->owner_uid);
        c->owner_uid = owner_uid;
        c->has_object = true;
        c->released = false;
        manager_check_idle(m);
        return 0;
}

void manager_child_ended(Manager *m, Child *c) {
        if (hashmap_get(&m->children_by_pid, &c->pid_key) != c)
                return;
        (void) hashmap_remove(&m->children_by_pid, &c->pid_key);
        manager_count_remove(m, c->owner_uid);
        if (c->events & CHILD_EVENTS_STOP_CONTINUE)
                m->n_stop_watchers--;
        /* An ended object now: counted until it goes (manager_remove_object()). Without memory
         * for the count it is merely not counted, and the decrement finds nothing to take. */
        if (c->has_object && !c->ended_counted && count_add(&m->ended_by_uid, c->owner_uid) >= 0)
                c->ended_counted = true;
}

void manager_remove_object(Manager *m, Child *c) {
        if (!c->has_object)
                return;
        if (c->ended_counted) {
                count_remove(&m->ended_by_uid, c->owner_uid);
                c->ended_counted = false;
        }
        (void) hashmap_remove(&m->children_by_id, &c->id);
        c->has_object = false;
        c->released = true;
}

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

/* A direct child nobody watches: an orphan that re-parented to us (or, rarely, a child
 * whose spawn the helper gave up on). Not a spawn helper (each has a source of its own),
 * nor the child of a Spawn whose answer has not been read yet: it may exit, and its SIGCHLD
 * arrive, before its helper's answer; it is registered (and its exit seen through its
 * pidfd) when the answer is read. O(helpers). */
static void manager_take_unknown(Manager *m, pid_t pid) {
        Child *c = NULL;
        int r;

        if (pid <= 0 || manager_get_child_by_pid(m, pid) || spawn_pool_owns_pid(m->spawn_pool, pid))
                return;
        r = child_adopt_orphan(m, pid, &c);
        if (r < 0) {
                /* Never leave it a zombie: reap it unannounced rather than not at all. */
                log_warning("Cannot watch orphan %d, reaping it unannounced: %s", (int) pid, strerror(-r));
                siginfo_t si = {};
                (void) waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG);
        }
}

void manager_scan_orphans(Manager *m) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        size_t size = 16384, n = 0;
        uint64_t start, end;

        start = now_usec(CLOCK_MONOTONIC);
        (void) snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_debug("Cannot list our children: %s", strerror(errno));
                return;
        }
        /* The kernel hands out about a page per read(), short of the end: read to EOF. */
        for (;;) {
                if (!buf || size - n < 4096) {
                        if (buf && size > (size_t) 64 << 20)
                                break; /* ~10 M children: we cannot have more */
                        if (buf)
                                size *= 2;
                        char *t = realloc(buf, size + 1);
                        if (!t)
                                return;
                        buf = t;
                }
                ssize_t k = read(fd, buf + n, size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        log_debug("Cannot list our children: %s", strerror(errno));
                        return;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (!buf)
                return;
        buf[n] = 0;

        /* Pids, each followed by a blank. */
        for (char *p = buf; *p;) {
                size_t len = strcspn(p, " \n");
                uint64_t pid;
                if (parse_u64_n(p, len, PARSE_NO_LEADING_ZERO, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                        break;
                manager_take_unknown(m, (pid_t) pid);
                p += len;
                p += strspn(p, " \n");
        }

        end = now_usec(CLOCK_MONOTONIC);
        /* Scans may use at most ~5% of the time. */
        uint64_t gap = (end - start) * 20;
        m->scan_not_before = end + (gap > SCAN_INTERVAL_USEC ? gap : SCAN_INTERVAL_USEC);
        log_debug("Listed %zu bytes of children in %" PRIu64 " us.", n, end - start);
}

static int manager_on_scan(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        manager_scan_orphans(userdata);
        return 0;
}

void manager_schedule_orphan_scan(Manager *m) {
        int enabled = SD_EVENT_OFF;

        if (!m->scan_source || !m->subreaper)
                return;
        if (sd_event_source_get_enabled(m->scan_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* one scan serves every exit until then */
        uint64_t when = now_usec(CLOCK_MONOTONIC) + SCAN_DELAY_USEC;
        if (when < m->scan_not_before)
                when = m->scan_not_before;
        (void) sd_event_source_set_time(m->scan_source, when);
        (void) sd_event_source_set_enabled(m->scan_source, SD_EVENT_ONESHOT);
}

static int manager_on_group_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        Child *c, **list;
        size_t n = 0;
        (void) usec;

        /* child_check_tree() may free c, so collect first. */
        list = calloc(hashmap_size(&m->leaders) + 1, sizeof(Child *));
        if (list) {
                HASHMAP_FOREACH(c, &m->leaders, i)
                        if (c->tree_running && !child_is_running(c))
                                list[n++] = c;
                for (size_t i = 0; i < n; i++)
                        child_check_tree(list[i]);
                free(list);
        }
        if (m->n_group_polls > 0)
                (void) sd_event_source_set_time_relative(s, GROUP_POLL_USEC);
        return 0;
}

void manager_group_poll_ref(Manager *m) {
        if (m->n_group_polls++ > 0 || !m->group_poll_source)
                return;
        (void) sd_event_source_set_time_relative(m->group_poll_source, GROUP_POLL_USEC);
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_ON);
}

void manager_group_poll_unref(Manager *m) {
        if (m->n_group_polls == 0 || --m->n_group_polls > 0 || !m->group_poll_source)
                return;
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_OFF);
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

static int manager_on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;
        (void) s;
        (void) usec;

        m->idle_source = sd_event_source_disable_unref(m->idle_source);
        log_info("Idle for too long, exiting.");

        /* Give up the name first, so that the bus activates a new instance for new
         * callers, then serve what was queued before the release took effect. */
        r = sd_bus_release_name(m->bus, CW_BUS_NAME);
        if (r < 0 && r != -ESRCH)
                log_warning("Cannot release the bus name: %s", strerror(-r));
        for (unsigned i = 0; i < 1024; i++) {
                r = sd_bus_process(m->bus, NULL);
                if (r <= 0)
                        break;
        }
        if (hashmap_size(&m->children_by_pid) == 0 && hashmap_size(&m->children_by_id) == 0 &&
            m->n_live_trees == 0 && m->n_spawning == 0)
                return sd_event_exit(m->event, 0);

        log_info("A request came in while exiting; serving it without the bus name.");
        return 0;
}

void manager_check_idle(Manager *m) {
        bool idle = hashmap_size(&m->children_by_pid) == 0 && hashmap_size(&m->children_by_id) == 0 &&
                    m->n_live_trees == 0 && m->n_spawning == 0;
        int r;

        if (!idle || m->idle_timeout_usec == 0 || !m->bus) {
                m->idle_source = sd_event_source_disable_unref(m->idle_source);
                return;
        }
        if (m->idle_source)
                return;
        r = sd_event_add_time_relative(m->event, &m->idle_source, CLOCK_MONOTONIC, m->idle_timeout_usec, 0,
                                       manager_on_idle, m);
        if (r < 0)
                log_warning("Cannot arm the idle timer: %s", strerror(-r));
}

/* The default cwd of spawned programs: our home, else "/" (API.md). System users often have
 * a home that does not exist (nobody's is /nonexistent). */
static char *home_directory(void) {
        struct passwd pw, *result = NULL;
        char buf[4096];

        if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &result) == 0 && result &&
            is_usable_directory(result->pw_dir))
                return strdup(result->pw_dir);
        const char *e = getenv("HOME");
        return strdup(is_usable_directory(e) ? e : "/");
}

/* Whether the kernel keeps the exit status of a reaped process for pidfd holders. */
static bool probe_exit_info(void) {
        int wstatus = 0, r;

        pid_t pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0)
                _exit(42);
        int pidfd = pidfd_open(pid, 0);
        (void) waitpid(pid, NULL, 0);
        if (pidfd < 0)
                return false;
        r = pidfd_get_exit_status(pidfd, &wstatus);
        safe_close(pidfd);
        return r >= 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 42;
}

/* Subreaper, and how the "tree" option holds a tree together. */
static int manager_setup_trees(Manager *m, const Config *config) {
        int r;

        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                log_warning("Cannot become a child subreaper, orphans will escape: %s", strerror(errno));
        else
                m->subreaper = true;

        m->tree_mode = TREE_MODE_PROCESS_GROUP;
        if (config->tree_mode == TREE_MODE_PROCESS_GROUP)
                return 0;

        r = spawner_probe_clone3();
        if (r >= 0)
                r = cgroup_root_new(&m->cgroup_root);
        if (r >= 0) {
                m->tree_mode = TREE_MODE_CGROUP;
                log_debug("Process trees get cgroups under %s.", cgroup_root_path(m->cgroup_root));
                return 0;
        }
        if (config->tree_mode == TREE_MODE_CGROUP)
                return log_error_errno(r, "No cgroup for process trees (--tree-mode=cgroup)");
        log_info("Process trees are held by process groups, no cgroup for them: %s", strerror(-r));
        return 0;
}

/* What the listings may fill of the bus's largest message: 1/16 stays free for the header and
 * for what the size estimates of bus-managed-objects.c might miss. */
static size_t manager_reply_size_for(uint64_t max_message_size) {
        return (size_t) (max_message_size - max_message_size / 16);
}

int manager_new(Manager **ret, sd_event *event, const Config *config) {
        Manager *m;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        *m = (Manager) {
                .event = sd_event_ref(event),
                .idle_timeout_usec = config->idle_timeout_usec,
                .linger_usec = config->linger_usec,
                .max_processes = config->max_processes,
                .max_processes_per_user = config->max_processes_per_user,
                .running_by_uid = HASHMAP_INIT(&uint64_hash_ops),
                /* 0 (a Config not from config_parse_argv()): the defaults. */
                .max_ended_per_user = config->max_ended_per_user ?: CONFIG_DEFAULT_MAX_ENDED_PER_USER,
                .ended_by_uid = HASHMAP_INIT(&uint64_hash_ops),
                .max_reply_size = manager_reply_size_for(config->max_message_size ?: CONFIG_DEFAULT_MAX_MESSAGE_SIZE),
                .children_by_id = HASHMAP_INIT(&uint64_hash_ops),
                .children_by_pid = HASHMAP_INIT(&uint64_hash_ops),
                .clients = HASHMAP_INIT(&string_hash_ops),
                .trees = HASHMAP_INIT(&uint64_hash_ops),
                .leaders = HASHMAP_INIT(&uint64_hash_ops),
                .sigchld_fd = -EBADF,
                .fds_counted = FDS_BASE,
                .uid = getuid(),
        };

        m->home = home_directory();
        if (!m->home) {
                r = -ENOMEM;
                goto fail;
        }

        /* First, while our fd table is small and the rlimits are as inherited. */
        r = spawn_pool_new(&m->spawn_pool, event,
                           config->spawn_helpers > 0 ? config->spawn_helpers : spawn_pool_default_size());
        if (r < 0)
                goto fail;
        spawn_pool_set_timeout(m->spawn_pool, config->spawn_timeout_usec);

        r = manager_setup_trees(m, config);
        if (r < 0)
                goto fail;

        /* Exits are announced from here, one loop iteration after sd-event reaped them;
         * before anything else that iteration may dispatch. */
        r = sd_event_add_defer(event, &m->announce_source, manager_on_announce, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_priority(m->announce_source, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_enabled(m->announce_source, SD_EVENT_OFF);

        r = sd_event_add_time(event, &m->scan_source, CLOCK_MONOTONIC, 0, SCAN_ACCURACY_USEC, manager_on_scan, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->scan_source, SD_EVENT_OFF);
        /* Level with the bus, not below: a stream of calls must not starve it, since
         * orphans that SIGCHLD coalescing hid stay zombies until a scan. */
        (void) sd_event_source_set_priority(m->scan_source, SD_EVENT_PRIORITY_NORMAL);

        r = sd_event_add_time(event, &m->group_poll_source, CLOCK_MONOTONIC, 0, 10 * 1000, manager_on_group_poll,
                              m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_OFF);

        int probe = pidfd_open(getpid(), 0);
        m->use_pidfd = probe >= 0;
        safe_close(probe);
        if (!m->use_pidfd) {
                /* Valgrind 3.19, or a kernel before 5.3: sd-event watches children by pid and
                 * walks them on SIGCHLD, collecting stop/continue too. Signals go by pid, which is
                 * safe for our own unreaped children. */
                log_warning("pidfd_open() is not available: watching children by pid, O(n) per SIGCHLD.");
                /* At the default priority: sd-event 252 leaks the signal data of a SIGCHLD source
                 * moved to another priority while child sources share it (valgrind shows it). */
                r = sd_event_add_signal(event, &m->sigchld_source, SIGCHLD, manager_on_sigchld_signal, m);
                if (r < 0)
                        goto fail;
                *ret = m;
                return 0;
        }

        m->has_exit_info = probe_exit_info();

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        m->sigchld_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (m->sigchld_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &m->sigchld_source, m->sigchld_fd, EPOLLIN, manager_on_sigchld, m);
        if (r < 0)
                goto fail;
        /* After the exits (priority 0) of the same wake-up have been announced. */
        (void) sd_event_source_set_priority(m->sigchld_source, SD_EVENT_PRIORITY_NORMAL + 10);

        r = sd_event_add_time(event, &m->sweep_source, CLOCK_MONOTONIC, 0, SWEEP_ACCURACY_USEC, manager_on_sweep, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->sweep_source, SD_EVENT_OFF);

        *ret = m;
        return 0;

fail:
        manager_free(m);
        return r;
}

static int manager_on_disconnect(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        (void) msg;
        (void) error;

        log_info("Disconnected from the bus, exiting.");
        return sd_event_exit(m->event, 0);
}

static int manager_connect(const Config *config, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *address = NULL;
        int r;

        switch (config->bus) {
        case BUS_KIND_SESSION:
                return sd_bus_open_user(ret);
        case BUS_KIND_SYSTEM:
                return sd_bus_open_system(ret);
        case BUS_KIND_ADDRESS:
                address = config->address;
                break;
        default:
                /* The bus that activated us; sd_bus_open() would prefer $DBUS_SESSION_BUS_ADDRESS
                 * over $DBUS_STARTER_ADDRESS when the starter bus type is "session". */
                address = getenv("DBUS_STARTER_ADDRESS");
                if (!address)
                        return sd_bus_open_user(ret);
        }

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = steal_ptr(&bus);
        return 0;
}

/* The activation variables describe our bus, not the children's. */
static const char *const unexported_variables[] = {
        "DBUS_STARTER_ADDRESS",
        "DBUS_STARTER_BUS_TYPE",
};

int manager_start(Manager *m, const Config *config) {
        int r;

        const char *starter = getenv("DBUS_STARTER_BUS_TYPE");
        m->multi_user = config->multi_user ||
                        (config->bus == BUS_KIND_DEFAULT && starter && strcmp(starter, "system") == 0);
        if (m->multi_user)
                log_info("Multi-user mode: callers are isolated, programs run as their callers.");

        r = manager_connect(config, &m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the bus");

        for (size_t i = 0; i < ELEMENTSOF(unexported_variables); i++)
                (void) unsetenv(unexported_variables[i]);
        m->base_environment = environ;

        r = bus_errors_register();
        if (r < 0)
                return log_error_errno(r, "Cannot register the D-Bus errors");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop");

        r = sd_bus_match_signal(m->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", manager_on_disconnect, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch for disconnection");

        r = bus_manager_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the manager object");
        r = bus_process_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the process objects");
        r = sd_bus_add_object_manager(m->bus, NULL, CW_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Cannot register the object manager");
        r = bus_managed_objects_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the object listings");

        /* Last, so no call arrives before the objects exist. */
        r = sd_bus_request_name(m->bus, CW_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s", CW_BUS_NAME);

        manager_check_idle(m);
        log_debug("Serving %s.", CW_BUS_NAME);
        return 0;
}

Manager *manager_free(Manager *m) {
        Child *c;
        Client *cl;

        if (!m)
                return NULL;

        /* Listings in progress are dropped (their callers get NoReply from the bus once we are
         * gone), the signals they held back are sent. */
        bus_listings_free(m);

        /* Spawns on the way first: those a helper has are finished (registered and answered,
         * then handled below like every other child), the queued ones are refused. Nothing
         * is left half made, and no child of a helper's is left unwatched. */
        spawn_pool_flush(m->spawn_pool);

        /* Children first: kill-on-release ones are killed and reaped by their sources,
         * the others are left running (they are not ours to end). A released tree whose
         * leader ended sits in trees or leaders only. */
        Hashmap *maps[] = { &m->children_by_id, &m->children_by_pid, &m->trees, &m->leaders };
        for (size_t k = 0; k < ELEMENTSOF(maps); k++)
                while (hashmap_size(maps[k]) > 0) {
                        HASHMAP_FOREACH(c, maps[k], i) {
                                break;
                        }
                        child_kill_on_shutdown(c);
                        child_free(c);
                }
        while (hashmap_size(&m->clients) > 0) {
                HASHMAP_FOREACH(cl, &m->clients, i) {
                        break;
                }
                client_free(cl);
        }
        hashmap_clear(&m->children_by_id);
        hashmap_clear(&m->children_by_pid);
        hashmap_clear(&m->clients);
        hashmap_clear(&m->trees);
        hashmap_clear(&m->leaders);
        counts_clear(&m->running_by_uid);
        counts_clear(&m->ended_by_uid);
        cgroup_root_free(m->cgroup_root);

        sd_event_source_disable_unref(m->announce_source);
        sd_event_source_disable_unref(m->idle_source);
        sd_event_source_disable_unref(m->sweep_source);
        sd_event_source_disable_unref(m->scan_source);
        sd_event_source_disable_unref(m->group_poll_source);
        sd_event_source_disable_unref(m->sigchld_source);
        safe_close(m->sigchld_fd);
        spawn_pool_free(m->spawn_pool);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->base_environment_merged);
        free(m->home);
        free(m);
        return NULL;
}
