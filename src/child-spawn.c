/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The Spawn call, from checked options to the reply. Whatever can fail without the program
 * (limits, user lookup, environment, terminal, cgroup) is done in the method handler; then
 * the request goes to a spawn helper (spawn-pool.c) and the handler returns without a
 * reply, so the loop serves other calls, exits and signals while the helper clones and
 * the child execs. When the helper answers, the process is watched and registered, its
 * object announced and only then the call answered: a client that has the reply finds the
 * object, and StateChanged of it can only come later (its exit is read from the loop).
 *
 * A SpawnCall owns what the request points to until the answer: the call message (which
 * holds the passed descriptors and the option strings), the merged environment, the user's
 * credentials, the terminal's peer. A process starting counts against the limits from the
 * moment it is accepted (manager_spawn_begin()), so a burst of calls cannot overshoot them.
 */

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-process.h"
#include "client.h"
#include "manager.h"
#include "object-bounds.h"
#include "pty.h"
#include "spawn-pool.h"
#include "user-creds.h"
#include "util/env.h"
#include "util/fs-util.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

typedef struct SpawnCall {
        SpawnJob job; /* first: the pool hands it back */
        Manager *manager;
        Child *child;           /* made, not registered: no pid, no id yet */
        char **argv;            /* what the program gets in full; the Child keeps a bounded copy */
        sd_bus_message *call;   /* answered when the helper has answered */
        bool counted;           /* holds a manager_spawn_begin() */
        char **env;             /* the merged environment, unless the manager's shared one is used */
        char **login_env;
        UserCreds creds;
        int pty_slave;          /* until the answer: a helper that dies gets the request again */
        int fds[3 + SPAWN_FDS_MAX];
        unsigned targets[3 + SPAWN_FDS_MAX];
} SpawnCall;

static SpawnCall *spawn_call_free(SpawnCall *call) {
        if (!call)
                return NULL;
        if (call->counted) {
                /* Refused before the pool took it: the service may be idle again. */
                manager_spawn_end(call->manager, call->child->owner_uid);
                manager_check_idle(call->manager);
        }
        /* Never registered, so nothing runs: child_free() only drops what was prepared (the
         * cgroup, the terminal). A child that was started is killed and reaped by its source. */
        child_free(call->child);
        sd_bus_message_unref(call->call);
        free(call->argv);
        free(call->env);
        strv_free(call->login_env);
        user_creds_done(&call->creds);
        safe_close(call->pty_slave);
        free(call);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SpawnCall *, spawn_call_free);

static int spawn_failure_to_error(const SpawnFailure *f, const char *program, const char *cwd,
                                  sd_bus_error *error) {
        const char *what = strerror(f->error);

        switch (f->stage) {
        case SPAWN_STAGE_EXEC:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "execve(%.*s): %s",
                                         OBJECT_ERROR_QUOTE_MAX, program, what);
        case SPAWN_STAGE_CHDIR:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "chdir(%.*s): %s",
                                         OBJECT_ERROR_QUOTE_MAX, cwd, what);
        case SPAWN_STAGE_FDS:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "Cannot set up file descriptors: %s",
                                         what);
        case SPAWN_STAGE_SETGROUPS:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setgroups(): %s", what);
        case SPAWN_STAGE_SETGID:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setresgid(): %s", what);
        case SPAWN_STAGE_SETUID:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setresuid(): %s", what);
        case SPAWN_STAGE_SESSION:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setsid(): %s", what);
        case SPAWN_STAGE_PROCESS_GROUP:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "setpgid(): %s", what);
        case SPAWN_STAGE_CTTY:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                         "Cannot make the pseudo-terminal the controlling terminal (TIOCSCTTY): %s",
                                         what);
        case SPAWN_STAGE_KILLED:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                         "The new process was killed by signal %d before it could start %s.",
                                         f->error, program);
        case SPAWN_STAGE_DEATH_SIGNAL:
                if (f->error == ESRCH)
                        return sd_bus_error_set(error, CW_ERROR_SPAWN_FAILED,
                                                "The service ended while the program was starting.");
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "prctl(PR_SET_PDEATHSIG): %s", what);
        case SPAWN_STAGE_CLONE:
        default:
                if (f->error == EAGAIN)
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                                 "clone(): %s (process limit reached?)", what);
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "clone(): %s", what);
        }
}

/* The error for a request that failed before or instead of the program: the same whether
 * the helper was idle (found in the handler) or the request had to wait (found later). */
static int spawn_error(int r, const char *program, sd_bus_error *error) {
        switch (r) {
        case -E2BIG:
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Argument list and environment are too large.");
        case -EMFILE:
        case -ENFILE:
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED, "Out of file descriptors: %s",
                                         strerror(-r));
        case -ENOBUFS:
                return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                         "Too many spawns are waiting for a spawn helper (%u).",
                                         SPAWN_POOL_QUEUE_MAX);
        case -ETIMEDOUT:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                         "Cannot start %.*s: the spawn helper did not answer in time.",
                                         OBJECT_ERROR_QUOTE_MAX, program);
        case -ESHUTDOWN:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                         "Cannot start %.*s: the service is shutting down.",
                                         OBJECT_ERROR_QUOTE_MAX, program);
        case -ENOMEM:
                return r; /* sd-bus answers NoMemory */
        default:
                return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "Cannot start %.*s: %s",
                                         OBJECT_ERROR_QUOTE_MAX, program, strerror(-r));
        }
}

/* Watches and registers the started process @pid. On failure the process is killed and
 * reaped (by its child source, or here when there is none). */
static int spawn_call_register(SpawnCall *call, pid_t pid, sd_bus_error *error) {
        Manager *m = call->manager;
        Child *c = call->child;
        int r;

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
        r = child_setup_tree(c);
        if (r >= 0)
                r = manager_add_child(m, c);
        if (r < 0) {
                if (c->cgroup_fd >= 0)
                        (void) cgroup_tree_kill(c->cgroup_fd); /* in case it forked already */
                return r; /* child_free() kills and reaps it through the source */
        }

        (void) sd_event_source_set_child_process_own(c->child_source, c->kill_on_release);
        return 0;
}

/* A stop or continue report that came before the process was registered: its SIGCHLD was
 * read while the pid was still the pool's, and is gone. Asking the kernel is O(1). */
static void spawn_call_catch_early_report(Child *c) {
        siginfo_t si = {};
        int fd;

        if (!c->manager->use_pidfd || !(c->events & CHILD_EVENTS_STOP_CONTINUE))
                return;
        fd = child_pidfd(c);
        if (fd < 0)
                return;
        if (waitid(P_PIDFD, (id_t) fd, &si, WSTOPPED | WCONTINUED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        ChildEvent event = child_event_from_si_code(si.si_code);
        if (event == CHILD_EVENT_STOPPED || event == CHILD_EVENT_CONTINUED)
                child_handle_event(c, event, si.si_status);
}

static void spawn_call_reply_error(SpawnCall *call, int r, sd_bus_error *error) {
        int k;

        if (sd_bus_error_is_set(error))
                k = sd_bus_reply_method_error(call->call, error);
        else
                k = sd_bus_reply_method_errno(call->call, r, NULL);
        if (k < 0)
                log_debug("Cannot answer a Spawn call: %s", strerror(-k));
}

static void spawn_call_on_done(SpawnJob *job, int r, pid_t pid, const SpawnFailure *failure) {
        _cleanup_(spawn_call_freep) SpawnCall *call = (SpawnCall *) job;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Manager *m = call->manager;
        Child *c = call->child;

        /* From here on the process counts as running, or not at all. */
        manager_spawn_end(m, c->owner_uid);
        call->counted = false;

        if (r == 0)
                r = spawn_call_register(call, pid, &error);
        else if (r > 0)
                r = spawn_failure_to_error(failure, call->argv[0], call->job.request.cwd, &error);
        else
                r = spawn_error(r, call->argv[0], &error);
        if (r < 0) {
                spawn_call_reply_error(call, r, &error);
                manager_check_idle(m);
                return;
        }

        /* Registered: from here on child.c owns it. */
        call->child = NULL;
        /* The owner may have left the bus while its call was on the way. */
        Client *owner = hashmap_get(&m->clients, c->owner_name);
        if (owner)
                client_add_child(owner, c);

        /* Announce the object before the reply, so a client that got the reply finds it. */
        char buf[CHILD_PATH_MAX];
        bus_process_emit_added(c);
        r = sd_bus_reply_method_return(call->call, "ou", child_object_path(c, buf), (uint32_t) c->pid);
        if (r < 0)
                log_debug("Cannot answer the Spawn call of %s: %s", c->owner_name, strerror(-r));

        if (!owner)
                /* As if it had left just after the reply: watch-bus stops the process, an
                 * ended object lingers. */
                child_owner_left(c);
        else
                spawn_call_catch_early_report(c);
}

int child_spawn(Manager *m, Client *owner, sd_bus_message *message, char * const *argv, const SpawnOptions *o,
                sd_bus_error *error) {
        _cleanup_(spawn_call_freep) SpawnCall *call = NULL;
        Child *c;
        int r;

        r = child_check_limits(m, owner, error);
        if (r < 0)
                return r;

        call = calloc(1, sizeof(SpawnCall));
        if (!call)
                return -ENOMEM;
        call->manager = m;
        call->pty_slave = -EBADF;
        call->job.done = spawn_call_on_done;

        /* Whom it runs as. In multi-user mode always the caller (root may name another user),
         * with a login's environment from the user database, never the service's own. */
        bool other_user = o->user || o->group;
        if (other_user && owner->uid != 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may spawn as another user or group.");
        bool login = other_user || m->multi_user;
        if (login) {
                r = user_creds_resolve(o->user, owner->uid, o->group, &call->creds);
                if (r == -ESRCH || r == -EINVAL || r == -ENOENT) {
                        if (o->user || o->group)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "No such %s: %.*s", r == -ENOENT ? "group" : "user",
                                                         OBJECT_ERROR_QUOTE_MAX,
                                                         r == -ENOENT ? o->group : o->user ?: o->group);
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                                 "User %u has no entry in the user database.",
                                                 (unsigned) owner->uid);
                }
                if (r == -ENOMEM)
                        return r; /* sd-bus answers NoMemory */
                if (r < 0)
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED, "Cannot look up the user: %s",
                                                 strerror(-r));
                call->login_env = user_creds_environment(&call->creds);
                if (!call->login_env)
                        return -ENOMEM;
        }
        UserCreds *creds = &call->creds;
        bool change_credentials = login && (creds->uid != m->uid || other_user);
        /* In multi-user mode every program leads a session of its own: a process can join only
         * a process group of its own session, so no user's process can slip into another
         * user's group (and be signalled, or taken for a descendant, with it). */
        bool new_session = o->new_session || m->multi_user || o->pty;
        if (o->pty_size_set && !o->pty)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'pty-size' needs 'pty'.");

        /* Everything that can fail for lack of memory happens before the program starts. */
        c = call->child = child_new(m, 0); /* its pid comes with the helper's answer */
        if (!c)
                return -ENOMEM;
        c->uid = login ? creds->uid : m->uid;
        c->owner_uid = owner->uid;
        child_apply_options(c, o);
        c->pty = o->pty;
        c->tree = o->tree;
        c->leads_group = new_session || (o->tree && m->tree_mode == TREE_MODE_PROCESS_GROUP);
        /* The program gets all of argv; its object keeps a bounded copy (object-bounds.h). */
        call->argv = child_strv_copy_compact(argv);
        c->argv = object_argv_copy(argv, NULL);
        c->owner_name = strdup(owner->name);
        c->description = o->description ? object_description_copy(o->description) : NULL;
        if (!call->argv || !c->argv || !c->owner_name || (o->description && !c->description))
                return -ENOMEM;

        /* Without environment options the merge has the same input every time: do it once.
         * It cost ~33k instructions per spawn (callgrind), on the way to the clone. The
         * service's environment does not change after manager_start(). */
        char **envp;
        if (!o->clear_environment && !login && !o->unset_environment && !o->environment) {
                if (!m->base_environment_merged) {
                        r = env_merge(m->base_environment, NULL, NULL, &m->base_environment_merged);
                        if (r < 0)
                                return r;
                }
                envp = m->base_environment_merged;
        } else {
                /* Its strings are borrowed from the environment, the login environment and
                 * the call's options: all live as long as the call. */
                r = env_merge(o->clear_environment ? NULL : login ? call->login_env : m->base_environment,
                              o->unset_environment, o->environment, &call->env);
                if (r < 0)
                        return r;
                envp = call->env;
        }

        if (o->pty) {
                /* The master goes with the Child (kept while its object exists); the peer goes to
                 * the helper. */
                r = pty_open(o->pty_rows, o->pty_columns, change_credentials ? creds->uid : (uid_t) -1,
                             &c->pty_master, &call->pty_slave);
                if (r == -EMFILE || r == -ENFILE)
                        return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED, "Out of file descriptors: %s",
                                                 strerror(-r));
                if (r < 0)
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                                 "Cannot allocate a pseudo-terminal: %s", strerror(-r));
        }
        for (unsigned i = 0; i < 3; i++) {
                /* With a pty, what the caller did not pass is the terminal. */
                call->fds[i] = o->stdio[i] >= 0 || !o->pty ? o->stdio[i] : call->pty_slave;
                call->targets[i] = i;
        }
        for (unsigned i = 0; i < o->n_fds; i++) {
                call->fds[3 + i] = o->fds[i].fd;
                call->targets[3 + i] = o->fds[i].target;
        }

        if (c->tree && m->tree_mode == TREE_MODE_CGROUP) {
                c->tree_id = ++m->next_tree_id;
                r = cgroup_tree_create(m->cgroup_root, c->tree_id, c->kill_on_release, &c->cgroup_fd,
                                       &c->cgroup_id);
                if (r < 0) {
                        c->tree_id = 0;
                        return sd_bus_error_setf(error, CW_ERROR_SPAWN_FAILED,
                                                 "Cannot create the cgroup of the tree: %s", strerror(-r));
                }
        }

        const char *cwd = o->cwd ?: login ? (is_usable_directory(creds->home) ? creds->home : "/") : m->home ?: "/";
        call->job.request = (SpawnRequest) {
                .program = call->argv[0],
                .argv = call->argv,
                .envp = envp,
                .cwd = cwd,
                .new_session = new_session,
                .new_process_group = c->tree && m->tree_mode == TREE_MODE_PROCESS_GROUP,
                .into_cgroup = c->cgroup_fd >= 0,
                .cgroup_fd = c->cgroup_fd,
                .set_ctty = o->pty,
                .ctty_fd = call->pty_slave,
                /* kill-on-release holds across a crash of the service too, for this process. */
                .death_signal = c->kill_on_release ? SIGKILL : 0,
                .change_credentials = change_credentials,
                .uid = creds->uid,
                .gid = creds->gid,
                .groups = creds->groups,
                .n_groups = creds->n_groups,
                .n_fds = 3 + o->n_fds,
                .fds = call->fds,
                .targets = call->targets,
        };

        r = manager_spawn_begin(m, c->owner_uid);
        if (r < 0)
                return r;
        call->counted = true;
        call->call = sd_bus_message_ref(message);

        r = spawn_pool_submit(m->spawn_pool, &call->job);
        if (r < 0)
                return spawn_error(r, call->argv[0], error);

        /* The pool has it; spawn_call_on_done() answers and frees it. */
        call = NULL;
        return 0;
}
