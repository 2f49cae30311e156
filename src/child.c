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
#include <sys/pidfd.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include "bus-errors.h"
#include "bus-process.h"
#include "client.h"
#include "manager.h"
#include "spawner.h"
#include "util/env.h"
#include "util/log.h"
#include "util/missing.h"
#include "util/pidfd-info.h"
#include "util/strv.h"

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
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
        if (!c->description)
                c->description = strv_join(c->argv, " ");
        return c->description ?: "";
}

int child_pidfd(Child *c) {
        if (c->child_source)
                return sd_event_source_get_child_pidfd(c->child_source);
        return c->pidfd >= 0 ? c->pidfd : -ESRCH;
}

/* Copies a strv into one allocation: fewer allocations per child and one free(). */
static char **strv_copy_compact(char * const *l) {
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

Child *child_free(Child *c) {
        if (!c)
                return NULL;

        if (c->manager) {
                manager_unqueue_ended(c->manager, c);
                if (c->has_object)
                        manager_remove_object(c->manager, c);
                if (child_is_running(c) && c->pid > 0)
                        manager_child_ended(c->manager, c);
        }
        if (c->owner)
                client_remove_child(c->owner, c);

        sd_event_source_disable_unref(c->kill_timer);
        sd_event_source_disable_unref(c->linger_timer);
        sd_event_source_disable_unref(c->reap_timer);
        sd_event_source_disable_unref(c->pidfd_source);
        safe_close(c->pidfd);
        /* If the source owns the process (kill-on-release) this kills and reaps it;
         * otherwise it only closes the pidfd and the process runs on. */
        sd_event_source_unref(c->child_source);

        for (unsigned i = 0; i < c->n_waiters; i++)
                sd_bus_message_unref(c->waiters[i]);
        free(c->waiters);
        free(c->argv);
        free(c->description);
        free(c->owner_name);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Child *, child_free);

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

static void child_reply_waiters(Child *c) {
        for (unsigned i = 0; i < c->n_waiters; i++) {
                int r = bus_process_reply_end(c, c->waiters[i]);
                if (r < 0)
                        log_debug("Cannot answer a waiter of process %" PRIu64 ": %s", c->id, strerror(-r));
                c->waiters[i] = sd_bus_message_unref(c->waiters[i]);
        }
        free(c->waiters);
        c->waiters = NULL;
        c->n_waiters = 0;
}

void child_handle_event(Child *c, ChildEvent event, int status) {
        Manager *m = c->manager; /* c may be freed below */
        bool terminal = child_event_is_terminal(event);

        if (event < 0 || !child_state_apply(&c->state, &c->exit_status, event, status))
                return;

        if (terminal) {
                c->exit_usec = now_usec(CLOCK_REALTIME);
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
        if (!c->has_object)
                child_free(c); /* released while running: nobody can ask about it any more */
        else if (!c->owner)
                child_start_linger(c);
        manager_check_idle(m);
}

static int child_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Child *c = userdata;
        ChildEvent event = child_event_from_si_code(si->si_code);

        if (!child_event_is_terminal(event)) {
                /* Only without pidfds (see manager.c) do stop/continue reports come this way. */
                child_handle_event(c, event, si->si_status);
                return 0;
        }

        /* sd-event reaps the process right after we return. Announce the end only then,
         * from the manager's queue, so that whoever hears it finds no zombie left. */
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

static int spawn_failure_to_error(const SpawnFailure *f, char * const *argv, const char *cwd,
                                  sd_bus_error *error) {
        const char *what = strerror(f->error);

        switch (f->stage) {
        case SPAWN_STAGE_EXEC:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "execve(%s): %s", argv[0], what);
        case SPAWN_STAGE_CHDIR:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "chdir(%s): %s", cwd, what);
        case SPAWN_STAGE_FDS:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "Cannot set up file descriptors: %s",
                                         what);
        case SPAWN_STAGE_SESSION:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setsid(): %s", what);
        case SPAWN_STAGE_CLONE:
        default:
                if (f->error == EAGAIN)
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                                 "clone3(): %s (process limit reached?)", what);
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "clone3(): %s", what);
        }
}

/* Without pidfds sd-event has to walk its child sources on SIGCHLD anyway, so it also
 * collects stop/continue reports then; with pidfds the manager does that in O(1). */
static int child_wait_options(const Child *c) {
        return (c->events & CHILD_EVENTS_STOP_CONTINUE) ? WSTOPPED | WCONTINUED : 0;
}

static int child_start_watch(Child *c) {
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

int child_spawn(Manager *m, Client *owner, char * const *argv, const SpawnOptions *o, Child **ret,
                sd_bus_error *error) {
        _cleanup_(child_freep) Child *c = NULL;
        _cleanup_free_ char **env = NULL;
        int fds[3 + SPAWN_FDS_MAX];
        unsigned targets[3 + SPAWN_FDS_MAX];
        SpawnFailure failure = {};
        pid_t pid = 0;
        int r;

        if (hashmap_size(&m->children_by_pid) >= m->max_processes)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u running processes reached.", m->max_processes);

        /* Everything that can fail for lack of memory happens before the program starts. */
        c = calloc(1, sizeof(Child));
        if (!c)
                return -ENOMEM;
        *c = (Child) {
                .manager = m,
                .uid = m->uid,
                .owner_uid = owner->uid,
                .watch_bus = o->watch_bus,
                .kill_on_release = o->kill_on_release,
                .events = o->events,
                .kill_signal = o->kill_signal,
                .kill_timeout_usec = o->kill_timeout_usec,
                .state = CHILD_STATE_RUNNING,
                .pidfd = -EBADF,
        };
        c->argv = strv_copy_compact(argv);
        c->owner_name = strdup(owner->name);
        c->description = o->description ? strdup(o->description) : NULL;
        if (!c->argv || !c->owner_name || (o->description && !c->description))
                return -ENOMEM;

        r = env_merge(o->clear_environment ? NULL : m->base_environment, o->unset_environment,
                      o->environment, &env);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < 3; i++) {
                fds[i] = o->stdio[i];
                targets[i] = i;
        }
        for (unsigned i = 0; i < o->n_fds; i++) {
                fds[3 + i] = o->fds[i].fd;
                targets[3 + i] = o->fds[i].target;
        }

        const char *cwd = o->cwd ?: m->home ?: "/";
        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = env,
                .cwd = cwd,
                .new_session = o->new_session,
                .n_fds = 3 + o->n_fds,
                .fds = fds,
                .targets = targets,
        };
        r = spawner_spawn(m->spawner, &req, &pid, &failure);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Argument list and environment are too large.");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot start %s: %m", argv[0]);
        if (r > 0)
                return spawn_failure_to_error(&failure, argv, cwd, error);

        c->pid = pid;
        c->pid_key = (uint64_t) pid;
        c->start_usec = now_usec(CLOCK_REALTIME);

        r = child_start_watch(c);
        if (r < 0) {
                if (c->child_source) {
                        /* The source owns the child: dropping it kills and reaps it. */
                        (void) sd_event_source_set_child_process_own(c->child_source, true);
                        c->child_source = sd_event_source_unref(c->child_source);
                } else {
                        /* No source took the child over: kill and reap it by hand. Its pid
                         * cannot have been reused, it is our unreaped child. */
                        (void) kill(pid, SIGKILL);
                        (void) waitid(P_PID, (id_t) pid, &(siginfo_t) {}, WEXITED);
                }
                c->pid = 0;
                if (r == -EMFILE || r == -ENFILE)
                        return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                                 "Out of file descriptors: %s", strerror(-r));
                return r;
        }

        c->id = ++m->next_id;
        r = manager_add_child(m, c);
        if (r < 0)
                return r; /* child_free() kills and reaps it through the source */

        (void) sd_event_source_set_child_process_own(c->child_source, c->kill_on_release);
        client_add_child(owner, c);

        *ret = steal_ptr(&c);
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

static int child_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Child *c = userdata;
        int r;
        (void) fd;

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
        copy = strv_copy_compact(l);
        free(l);
        free(buf);
        return copy;
}

static bool pidfd_has_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
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
        if (pid == getpid() || pid == spawner_helper_pid(m->spawner))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Process %d is part of the service itself.", (int) pid);
        if (manager_get_child_by_pid(m, pid))
                return sd_bus_error_setf(error, CW_ERROR_ALREADY_WATCHED, "Process %d is already watched.",
                                         (int) pid);
        if (owner->uid != 0 && (info.ruid != owner->uid || info.euid != owner->uid))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Process %d belongs to another user.", (int) pid);
        if (hashmap_size(&m->children_by_pid) >= m->max_processes)
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Limit of %u running processes reached.", m->max_processes);

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
                .start_usec = now_usec(CLOCK_REALTIME),
        };
        c->argv = read_cmdline(pid);
        c->owner_name = strdup(owner->name);
        c->description = o->description ? strdup(o->description) : NULL;
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

static int child_signal(Child *c, int sig) {
        if (c->child_source)
                return sd_event_source_send_child_signal(c->child_source, sig, NULL, 0);
        /* An adopted non-child: only through its pidfd, never by pid. */
        if (c->pidfd < 0 || !child_is_running(c))
                return -ESRCH;
        return pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int child_on_kill_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        int r;
        (void) s;
        (void) usec;

        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        c->kill_deadline = UINT64_MAX;
        r = child_signal(c, SIGKILL);
        if (r < 0 && r != -ESRCH)
                log_warning("Cannot SIGKILL process %d: %s", (int) c->pid, strerror(-r));
        return 0;
}

int child_kill(Child *c, uint64_t timeout_usec) {
        uint64_t now;
        int r;

        if (!child_is_running(c) || c->kill_deadline == UINT64_MAX)
                return 0; /* ended, or SIGKILL already sent */

        if (timeout_usec == 0 || c->kill_signal == SIGKILL) {
                c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
                c->kill_deadline = UINT64_MAX;
                return child_signal(c, SIGKILL);
        }

        if (c->kill_deadline == 0) {
                r = child_signal(c, c->kill_signal);
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
                        return child_signal(c, SIGKILL);
                }
                /* A stopped process cannot act on kill-signal until it runs again. */
                if (c->kill_signal != SIGCONT)
                        (void) child_signal(c, SIGCONT);
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

        if (c->has_object) {
                bus_process_emit_removed(c);
                manager_remove_object(m, c);
        }
        if (c->owner)
                client_remove_child(c->owner, c);
        c->linger_timer = sd_event_source_disable_unref(c->linger_timer);

        if (!child_is_running(c))
                child_free(c);
        else if (c->kill_on_release) {
                int r = child_signal(c, SIGKILL);
                if (r < 0 && r != -ESRCH)
                        log_warning("Cannot SIGKILL released process %d: %s", (int) c->pid, strerror(-r));
        }
        /* Otherwise it is still watched, and reaped and freed when it ends. */
        manager_check_idle(m);
}

void child_kill_on_shutdown(Child *c) {
        if (c->kill_on_release && !c->child_source && c->pidfd >= 0 && child_is_running(c))
                (void) pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
}

void child_owner_left(Child *c) {
        c->owner = NULL;
        c->owner_prev = c->owner_next = NULL;

        if (child_is_running(c)) {
                if (c->watch_bus) {
                        int r = child_kill(c, c->kill_timeout_usec);
                        if (r < 0 && r != -ESRCH)
                                log_warning("Cannot stop process %d of departed client %s: %s", (int) c->pid,
                                            c->owner_name, strerror(-r));
                }
        } else
                child_start_linger(c);
}
