/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The service's side of spawning: the helpers' lives (started, watched, replaced), the
 * requests (written to the shared area, descriptors sent, answers read from the loop, a
 * deadline each) and what a helper that dies mid-request means for its request.
 */

#include "spawn-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "util/missing.h"
#include "util/time-util.h"

/* After a request this large, hand its pages back to the kernel. */
#define SPAWNER_SHM_TRIM (1024UL * 1024UL)
/* The deadline of a request need not be exact; a coarse one lets sd-event batch its wakeups. */
#define SPAWNER_TIMEOUT_ACCURACY_USEC (100 * UINT64_C(1000))

struct Spawner {
        sd_event *event;
        SpawnerShm *shm;
        int fd;
        pid_t pid;
        sd_event_source *helper_source;
        sd_event_source *io_source;    /* the socket: answers to spawner_submit(), or the helper's EOF */
        sd_event_source *timer_source; /* fires at or before the deadline of the request in flight */
        struct rlimit nofile; /* as inherited, for helpers started later */
        int null_fd;          /* /dev/null for the stdio nobody passed, kept: an open() and close() less per spawn */
        uint64_t timeout_usec;

        /* The request in flight (spawner_submit()); borrowed until @done is called. */
        const SpawnRequest *request;
        SpawnerDone done;
        void *userdata;
        uint64_t deadline; /* CLOCK_MONOTONIC */
        bool resent;       /* already sent once more, to a new helper, after the first one died */

        /* Children killed at a deadline, to be reaped when they are gone: until then they are
         * ours (spawner_owns_pid()), not orphans to take over. Rarely more than one. */
        sd_event_source **abandoned;
        unsigned n_abandoned;
};

static bool errno_means_helper_gone(int r) {
        return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN;
}

static void spawner_helper_gone(Spawner *s);

static int spawner_on_helper_exit(sd_event_source *source, const siginfo_t *si, void *userdata) {
        Spawner *s = userdata;

        log_warning("Spawn helper %d ended (code %d, status %d); starting a new one on the next spawn.",
                    (int) si->si_pid, si->si_code, si->si_status);
        /* sd-event reaps it once we return. Its socket stays open until the hang-up: a child
         * it started may still hold it (spawner_helper_gone()). */
        s->helper_source = sd_event_source_unref(source);
        s->pid = 0;
        spawner_helper_gone(s);
        return 0;
}

static void spawner_stop_helper(Spawner *s) {
        s->io_source = sd_event_source_disable_unref(s->io_source);
        s->fd = safe_close(s->fd); /* EOF makes a healthy helper exit by itself */
        if (s->helper_source) {
                /* The source owns the helper: unref kills it (if need be) and reaps it. */
                (void) sd_event_source_set_child_process_own(s->helper_source, true);
                s->helper_source = sd_event_source_unref(s->helper_source);
        }
        s->pid = 0;
}

static int spawner_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata);

static int spawner_start_helper(Spawner *s) {
        _cleanup_close_ int parent_fd = -EBADF, child_fd = -EBADF;
        int pair[2], r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        parent_fd = pair[0];
        child_fd = pair[1];

        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                spawn_helper_main(s->shm, child_fd, &s->nofile);

        r = sd_event_add_child(s->event, &s->helper_source, pid, WEXITED, spawner_on_helper_exit, s);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitid(P_PID, (id_t) pid, &(siginfo_t) {}, WEXITED);
                return r;
        }
        (void) sd_event_source_set_description(s->helper_source, "spawn-helper");
        s->fd = steal_fd(&parent_fd);
        s->pid = pid;

        /* Always watched: answers to spawner_submit() come this way, and a helper that dies
         * while idle is noticed by its EOF as well as by its exit. */
        r = sd_event_add_io(s->event, &s->io_source, s->fd, EPOLLIN, spawner_on_io, s);
        if (r < 0) {
                spawner_stop_helper(s);
                return r;
        }
        (void) sd_event_source_set_description(s->io_source, "spawn-helper-socket");
        /* Before the bus: an answer frees the helper for the next request, and the reply it
         * leads to should not wait behind a stream of new calls. */
        (void) sd_event_source_set_priority(s->io_source, SD_EVENT_PRIORITY_NORMAL - 1);
        return 0;
}

/* Maps a new request area (dropping our view of the old one; helpers and children that still
 * use it keep theirs). Call it with no helper running: the next one gets the new area. */
static int spawner_renew_shm(Spawner *s) {
        /* Shared with the helper (MAP_SHARED survives fork()) and so with each new child:
         * the same address everywhere, so pointers written by the service are valid in all. */
        void *p = mmap(NULL, SPAWNER_SHM_SIZE, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (s->shm)
                (void) munmap(s->shm, SPAWNER_SHM_SIZE);
        s->shm = p;
        s->shm->service_pid = (int32_t) getpid();
        return 0;
}

int spawner_new(Spawner **ret, sd_event *event) {
        _cleanup_(spawner_freep) Spawner *s = NULL;
        int r;

        s = calloc(1, sizeof(Spawner));
        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->null_fd = -EBADF;
        s->timeout_usec = SPAWNER_TIMEOUT_DEFAULT_USEC;
        s->event = sd_event_ref(event);
        if (getrlimit(RLIMIT_NOFILE, &s->nofile) < 0)
                return -errno;

        r = spawner_renew_shm(s);
        if (r < 0)
                return r;
        /* Now rather than at the first spawn, so the service's descriptor count stays level. */
        s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        r = spawner_start_helper(s);
        if (r < 0)
                return r;

        *ret = steal_ptr(&s);
        return 0;
}

Spawner *spawner_free(Spawner *s) {
        if (!s)
                return NULL;
        /* The owner answered (spawner_flush()) or forgot what was in flight. */
        spawner_stop_helper(s);
        for (unsigned i = 0; i < s->n_abandoned; i++)
                sd_event_source_unref(s->abandoned[i]); /* owns the child: kills and reaps it */
        free(s->abandoned);
        sd_event_source_disable_unref(s->timer_source);
        safe_close(s->null_fd);
        if (s->shm)
                (void) munmap(s->shm, SPAWNER_SHM_SIZE);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

pid_t spawner_helper_pid(Spawner *s) {
        return s->pid;
}

void spawner_set_timeout(Spawner *s, uint64_t usec) {
        s->timeout_usec = usec > 0 ? usec : SPAWNER_TIMEOUT_DEFAULT_USEC;
}

bool spawner_is_busy(const Spawner *s) {
        return s->done;
}

bool spawner_owns_pid(const Spawner *s, pid_t pid) {
        if (pid <= 0)
                return false;
        if (pid == s->pid)
                return true;
        /* A child of the request in flight: started, not yet answered for. */
        if (s->done && s->shm->child_pid == (int32_t) pid)
                return true;
        for (unsigned i = 0; i < s->n_abandoned; i++) {
                pid_t p = 0;
                if (sd_event_source_get_child_pid(s->abandoned[i], &p) >= 0 && p == pid)
                        return true;
        }
        return false;
}

int spawner_probe_clone3(void) {
        /* Every kernel that has clone3() refuses a zero size with EINVAL before it looks at
         * anything else; only a missing call says ENOSYS. */
        if (syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS)
                return -ENOSYS;
        return 0;
}

static int spawner_send_fds(Spawner *s, const int *fds, unsigned n_fds) {
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int) * SPAWNER_FDS_MAX)];
        } control = {};
        char byte = 0;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);

        if (sendmsg(s->fd, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

/* Sends @req's descriptors to the helper (whose request area holds the rest already),
 * starting a helper if there is none. */
static int spawner_send(Spawner *s, const SpawnRequest *req) {
        int fds[SPAWNER_FDS_MAX];
        unsigned n_fds = req->n_fds;
        int r;

        for (unsigned i = 0; i < req->n_fds; i++) {
                fds[i] = req->fds[i];
                if (fds[i] < 0) {
                        if (s->null_fd < 0) {
                                s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                                if (s->null_fd < 0)
                                        return -errno;
                        }
                        fds[i] = s->null_fd;
                }
        }
        if (req->into_cgroup)
                fds[n_fds++] = req->cgroup_fd; /* bounded by spawner_fill_request() */
        if (req->set_ctty)
                fds[n_fds++] = req->ctty_fd;

        if (s->fd < 0) {
                r = spawner_start_helper(s);
                if (r < 0)
                        return r;
        }
        r = spawner_send_fds(s, fds, n_fds);
        if (!errno_means_helper_gone(r))
                return r;
        /* The helper died since the last request, which it never saw: once more, to a new one. */
        spawner_stop_helper(s);
        r = spawner_start_helper(s);
        if (r < 0)
                return r;
        return spawner_send_fds(s, fds, n_fds);
}

/* Turns the helper's answer into the result of the request. */
static int spawner_finish(Spawner *s, const SpawnerReply *reply, pid_t *ret_pid, SpawnFailure *ret_failure) {
        if (s->shm->used > SPAWNER_SHM_TRIM)
                /* Shared anonymous memory stays allocated after MADV_DONTNEED; punch it out. */
                (void) madvise((char *) s->shm + SPAWNER_SHM_TRIM, SPAWNER_SHM_SIZE - SPAWNER_SHM_TRIM,
                               MADV_REMOVE);

        if (reply->error != 0) {
                if (reply->pid > 0) {
                        /* The child is ours (CLONE_PARENT) and has called _exit(): reap it now. */
                        siginfo_t si;
                        while (waitid(P_PID, (id_t) reply->pid, &si, WEXITED) < 0 && errno == EINTR)
                                ;
                }
                *ret_failure = (SpawnFailure) { .stage = reply->stage, .error = reply->error };
                return 1;
        }

        *ret_pid = reply->pid;
        return 0;
}

/* Return: 0 with a whole answer, -EAGAIN when none is there (yet), -EPIPE when the helper is gone. */
static int spawner_read_reply(Spawner *s, SpawnerReply *ret) {
        ssize_t n = recv(s->fd, ret, sizeof(*ret), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -EAGAIN;
        if (n < 0)
                return errno_means_helper_gone(-errno) ? -EPIPE : -errno;
        if (n != sizeof(*ret))
                return -EPIPE; /* EOF: the helper died */
        return 0;
}

typedef struct SpawnerSyncResult {
        bool done;
        int r;
        pid_t pid;
        SpawnFailure failure;
} SpawnerSyncResult;

static void spawner_sync_done(Spawner *s, int r, pid_t pid, const SpawnFailure *failure, void *userdata) {
        SpawnerSyncResult *result = userdata;

        *result = (SpawnerSyncResult) { .done = true, .r = r, .pid = pid, .failure = *failure };
}

int spawner_spawn(Spawner *s, const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure) {
        SpawnerSyncResult result = {};
        int r;

        /* The same path as the service's, only waited for: a helper that dies on the request
         * is handled alike (spawner_helper_gone()). */
        r = spawner_submit(s, req, spawner_sync_done, &result);
        if (r < 0)
                return r;
        (void) spawner_flush(s);
        if (!result.done)
                return -EIO; /* cannot happen: spawner_flush() settles the request */
        if (result.r == 1)
                *ret_failure = result.failure;
        else if (result.r == 0)
                *ret_pid = result.pid;
        return result.r;
}

/* Hands the result of the request in flight to its submitter; the helper is free again. */
static void spawner_complete(Spawner *s, int r, const SpawnerReply *reply) {
        SpawnFailure failure = {};
        pid_t pid = 0;

        if (!s->done)
                return;
        if (r >= 0)
                r = spawner_finish(s, reply, &pid, &failure);
        /* The timer stays as it is: it moves itself on to the deadline of a later request,
         * or goes off (spawner_on_timeout()). Two timer updates less per spawn. */

        SpawnerDone done = s->done;
        void *userdata = s->userdata;
        s->done = NULL;
        s->userdata = NULL;
        s->request = NULL;
        s->resent = false;
        /* Last: it may submit the next request right away. */
        done(s, r, pid, &failure, userdata);
}

/* The helper went away, or may have. Without a request in flight it is simply replaced at
 * the next one. With one: take an answer it left; else wait for the socket's hang-up, which
 * comes once the child it may have started has exec'd or exited; then the child's outcome
 * is the answer, and only when it made no child does a new helper get the request. Never
 * both: the program runs once or not at all. */
static void spawner_helper_gone(Spawner *s) {
        SpawnerReply reply;
        int r = -EPIPE;

        if (s->done && s->fd >= 0) {
                r = spawner_read_reply(s, &reply);
                if (r == -EAGAIN)
                        return; /* a child still holds the socket: its hang-up calls us again */
        }
        spawner_stop_helper(s);
        if (!s->done)
                return;
        if (r >= 0 || spawner_shm_child_outcome(s->shm, &reply)) {
                spawner_complete(s, 0, &reply);
                return;
        }
        /* No child was started: nothing ran, the request may go to a new helper. */
        if (s->resent) {
                spawner_complete(s, -EPIPE, NULL);
                return;
        }
        s->resent = true;
        r = spawner_send(s, s->request);
        if (r < 0)
                spawner_complete(s, r, NULL);
}

static int spawner_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Spawner *s = userdata;
        SpawnerReply reply;
        int r;
        (void) source;
        (void) fd;
        (void) revents;

        r = spawner_read_reply(s, &reply);
        if (r == -EAGAIN)
                return 0;
        if (r < 0) {
                spawner_helper_gone(s);
                return 0;
        }
        if (!s->done) {
                /* Nobody asked (a sync spawner_spawn() reads its own answer): a broken helper. */
                log_warning("Spawn helper %d answered a request it was not given; restarting it.", (int) s->pid);
                spawner_stop_helper(s);
                return 0;
        }
        spawner_complete(s, 0, &reply);
        return 0;
}

static int spawner_on_abandoned_exit(sd_event_source *source, const siginfo_t *si, void *userdata) {
        Spawner *s = userdata;

        for (unsigned i = 0; i < s->n_abandoned; i++)
                if (s->abandoned[i] == source) {
                        s->abandoned[i] = s->abandoned[--s->n_abandoned];
                        break;
                }
        /* Reap it now (sd-event's own reap after we return then finds nothing), then drop the
         * source, which no longer owns it. */
        (void) waitid(P_PID, (id_t) si->si_pid, &(siginfo_t) {}, WEXITED | WNOHANG);
        (void) sd_event_source_set_child_process_own(source, false);
        sd_event_source_disable_unref(source);
        return 0;
}

/* SIGKILLs @pid, the child of a request given up on, and reaps it once it is gone (a child
 * stuck in a hung exec may take a while to die). */
static void spawner_abandon_child(Spawner *s, pid_t pid) {
        sd_event_source *source = NULL;

        (void) kill(pid, SIGKILL);
        sd_event_source **t = realloc(s->abandoned, (s->n_abandoned + 1) * sizeof(sd_event_source *));
        if (t) {
                s->abandoned = t;
                if (sd_event_add_child(s->event, &source, pid, WEXITED, spawner_on_abandoned_exit, s) >= 0) {
                        (void) sd_event_source_set_description(source, "spawn-abandoned-child");
                        /* Freed with the Spawner: then it kills and reaps. */
                        (void) sd_event_source_set_child_process_own(source, true);
                        s->abandoned[s->n_abandoned++] = source;
                        return;
                }
        }
        /* Out of memory or descriptors: wait for it here rather than leave a zombie. */
        (void) waitid(P_PID, (id_t) pid, &(siginfo_t) {}, WEXITED);
}

static int spawner_on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Spawner *s = userdata;

        if (!s->done)
                return 0; /* armed for a request answered since; one-shot, so off now */
        if (usec < s->deadline) {
                /* Armed for an earlier request: on to this one's deadline. */
                if (sd_event_source_set_time(source, s->deadline) >= 0 &&
                    sd_event_source_set_enabled(source, SD_EVENT_ONESHOT) >= 0)
                        return 0;
        }

        log_error("Spawn helper %d did not answer within %" PRIu64 " ms; restarting it.", (int) s->pid,
                  s->timeout_usec / 1000);
        /* Cancel first, then look for the child: one that has not written its pid yet will
         * see the cancel before its execve() (see SpawnerShm.cancelled). */
        __atomic_store_n(&s->shm->cancelled, 1, __ATOMIC_SEQ_CST);
        pid_t child = (pid_t) __atomic_load_n(&s->shm->child_pid, __ATOMIC_SEQ_CST);
        if (child > 0 && spawner_child_has_execd(child)) {
                /* It runs the program; only the helper's answer is late (a stopped helper).
                 * That program is the answer, not something to kill behind the caller's back. */
                spawner_stop_helper(s);
                (void) spawner_start_helper(s);
                spawner_complete(s, 0, &(SpawnerReply) { .pid = child });
                return 0;
        }
        /* A child that hangs in execve() (a dead file system) would start the program after
         * the caller was told it failed: kill it. It is our unreaped child (CLONE_PARENT), so
         * the pid is still its own; we reap it when it is gone, never an orphan with an object. */
        if (child > 0)
                spawner_abandon_child(s, child);
        spawner_stop_helper(s);
        if (child <= 0) {
                /* A child may have been cloned that has not run yet: it will find the request
                 * cancelled, in this area, which is therefore not used again. */
                int k = spawner_renew_shm(s);
                if (k < 0)
                        log_warning("Cannot map a new request area: %s", strerror(-k));
        }
        /* A new one now rather than at the next request: that one should not wait for the
         * fork, and the descriptors stay as many as before. Should it fail, the next request
         * tries again. */
        int r = spawner_start_helper(s);
        if (r < 0)
                log_warning("Cannot start a new spawn helper: %s", strerror(-r));
        spawner_complete(s, -ETIMEDOUT, NULL);
        return 0;
}

int spawner_submit(Spawner *s, const SpawnRequest *req, SpawnerDone done, void *userdata) {
        int r;

        if (s->done)
                return -EBUSY;
        r = spawner_shm_fill(s->shm, req);
        if (r < 0)
                return r;
        r = spawner_send(s, req);
        if (r < 0)
                return r;

        /* The timer is armed only when it is off: while on, it fires at an earlier deadline
         * and then moves on to this one. A spawn costs no timer update that way. */
        int enabled = SD_EVENT_OFF;
        s->deadline = now_usec(CLOCK_MONOTONIC) + s->timeout_usec;
        if (!s->timer_source) {
                r = sd_event_add_time(s->event, &s->timer_source, CLOCK_MONOTONIC, s->deadline,
                                      SPAWNER_TIMEOUT_ACCURACY_USEC, spawner_on_timeout, s);
                if (r >= 0)
                        (void) sd_event_source_set_description(s->timer_source, "spawn-timeout");
        } else if ((r = sd_event_source_get_enabled(s->timer_source, &enabled)) >= 0 && enabled == SD_EVENT_OFF) {
                r = sd_event_source_set_time(s->timer_source, s->deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->timer_source, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                /* Sent, but without a deadline: a hung exec would hold the helper forever.
                 * Start over rather than keep a request nobody times out. */
                spawner_stop_helper(s);
                return r;
        }

        s->request = req;
        s->done = done;
        s->userdata = userdata;
        s->resent = false;
        return 0;
}

int spawner_flush(Spawner *s) {
        uint64_t deadline = s->deadline;
        int r;

        if (!s->done)
                return 0;
        while (s->done) {
                SpawnerReply reply;

                if (s->fd < 0) {
                        spawner_helper_gone(s);
                        continue;
                }
                r = spawner_read_reply(s, &reply);
                if (r >= 0) {
                        spawner_complete(s, 0, &reply);
                        break;
                }
                if (r != -EAGAIN) {
                        spawner_helper_gone(s);
                        continue;
                }
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        (void) spawner_on_timeout(s->timer_source, UINT64_MAX, s);
                        break;
                }
                struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
                uint64_t left_ms = (deadline - now + 999) / 1000;
                (void) poll(&pfd, 1, left_ms > INT32_MAX ? INT32_MAX : (int) left_ms);
        }
        return 1;
}
