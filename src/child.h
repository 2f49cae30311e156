/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One watched process: how it is started, how its state changes arrive,
 * how it is signalled, killed, waited for and released, and when its
 * object goes away.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "child-state.h"
#include "spawn-options.h"
#include "util/macro.h"

typedef struct Manager Manager;
typedef struct Client Client;
typedef struct Child Child;

#define CHILD_PATH_PREFIX "/org/childwatch/ChildWatch1/process"
#define CHILD_PATH_MAX (sizeof(CHILD_PATH_PREFIX "/") + 20)
/* Pending Wait/Kill calls on one process; more get LimitExceeded. */
#define CHILD_WAITERS_MAX 4096U
/* How long an adopted process that exited may wait for its parent's reap before it counts as vanished. */
#define CHILD_REAP_GRACE_USEC (1000 * UINT64_C(1000))
/* The longest /proc/PID/cmdline read for Argv of an adopted process. */
#define CHILD_CMDLINE_MAX (64U * 1024U)

struct Child {
        Manager *manager;
        uint64_t id;
        uint64_t pid_key; /* pid as a hash key */
        pid_t pid;

        char **argv;         /* one allocation: pointers, then strings */
        char *description;   /* NULL: argv joined by spaces */
        char *owner_name;
        uid_t owner_uid;
        uid_t uid;
        Client *owner;       /* NULL once the owner has left the bus */
        Child *owner_prev, *owner_next;

        bool adopted;
        bool watch_bus;
        bool kill_on_release;
        bool released;       /* the object is gone; the process may still run */
        bool has_object;     /* listed in manager->children_by_id */
        bool ended_counted;  /* an ended object, counted in manager->ended_by_uid */
        uint64_t listed;     /* the GetManagedObjects in progress that listed it (bus-managed-objects.c) */
        unsigned events;
        int kill_signal;
        uint64_t kill_timeout_usec;

        ChildState state;
        int exit_status;
        uint64_t start_usec; /* CLOCK_REALTIME */
        uint64_t exit_usec;

        sd_event_source *child_source; /* our children: owns the pidfd */
        int pidfd;                     /* adopted non-children: their pidfd, watched by pidfd_source */
        sd_event_source *pidfd_source;
        sd_event_source *reap_timer;   /* how long an ended non-child may stay unreaped */
        sd_event_source *kill_timer;
        sd_event_source *linger_timer;
        uint64_t kill_deadline;        /* CLOCK_MONOTONIC, 0: no escalation pending */

        ChildEvent ended_event;        /* the terminal event, between the exit and its announcement */
        int ended_status;
        Child *ended_next;             /* in manager->ended */
        bool ended_queued;

        sd_bus_message **waiters;      /* Wait() and Kill() calls to answer at the end */
        unsigned n_waiters;

        bool pty;                      /* spawned with a pseudo-terminal */
        int pty_master;                /* kept while the object exists: output of a short program is not lost */

        uint64_t user_usec;            /* CPU time at the end, with its reaped children (wait4 rusage) */
        uint64_t system_usec;

        /* Orphans re-parented to the service (it is a subreaper) are attributed to the
         * spawned process they descend from, when that can be known exactly. */
        uint64_t parent_id;            /* 0: none or unknown */
        Child *parent;                 /* NULL once the parent's Child is gone */
        Child *descendants;            /* orphans attributed to this one */
        Child *sibling_prev, *sibling_next;

        /* A process that led its own process group from the start (new-session, or a tree in
         * process-group mode) keeps a pidfd for it: a group outlives its leader, and the pidfd
         * reaches it without ever hitting a reused pid. */
        bool leads_group;
        int group_pidfd;

        /* Spawned with "tree": the whole tree is signalled and killed, and the object stays
         * until the tree is empty. */
        bool tree;
        bool tree_running;
        bool release_pending;          /* Release() came while the tree still ran */
        bool group_polled;             /* holds a manager_group_poll_ref() */
        bool tree_scanned;             /* our children were listed once the cgroup emptied */
        uint64_t tree_id;              /* name of its cgroup (cgroup mode) */
        int cgroup_fd;
        uint64_t cgroup_id;
        sd_event_source *tree_source;  /* inotify on cgroup.events */
        uint64_t tree_user_usec, tree_system_usec, tree_memory_peak;
        sd_bus_message **tree_waiters; /* Kill() calls, answered once the tree is empty */
        unsigned n_tree_waiters;
};

/**
 * child_spawn() - start argv as told by @o, watch it, and answer @call when it runs.
 * @owner: the calling client
 * @call: the Spawn call; referenced until it is answered
 *
 * Checks and prepares everything here, then hands the request to a spawn helper and
 * returns: the reply (object path and pid, or SpawnFailed naming what failed) is sent from
 * the event loop once the helper has answered (child-spawn.c).
 * Return: 0 when the call will be answered; or a negative errno with @error set
 * (SpawnFailed, LimitExceeded, ...), nothing left behind, for the caller to answer.
 */
int child_spawn(Manager *m, Client *owner, sd_bus_message *call, char * const *argv, const SpawnOptions *o,
                sd_bus_error *error);

/**
 * child_adopt() - watch a running process the service did not start.
 * @pidfd: its pidfd; taken over (set to -EBADF) on success
 *
 * A direct child of the service gets the full child engine; any other process is
 * watched for its end only, through its pidfd. Return: 0, or a negative errno with
 * @error set (InvalidArgs, NoSuchProcess, AlreadyWatched, AccessDenied, LimitExceeded).
 */
int child_adopt(Manager *m, Client *owner, int *pidfd, const SpawnOptions *o, Child **ret, sd_bus_error *error);

/**
 * child_adopt_orphan() - watch an unknown direct child of the service: an orphan re-parented to it.
 *
 * It gets an object with Parent set when its origin can be known exactly (see manager.c), and
 * inherits the owner and the kill settings of that parent. Return: 0, 0 with *@ret NULL when
 * @pid is no child of ours (any more), or a negative errno.
 */
int child_adopt_orphan(Manager *m, pid_t pid, Child **ret);

/* A Child of @m, running, with no descriptor and the default options; @pid 0 when it is not
 * known yet (a spawn). The one place a Child is made. */
Child *child_new(Manager *m, pid_t pid);
/* The options that Spawn and Adopt share: watch-bus, kill-on-release, events, kill-signal and
 * kill-timeout-usec. */
void child_apply_options(Child *c, const SpawnOptions *o);
Child *child_free(Child *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Child *, child_free);

/* Writes the object path into @buf (CHILD_PATH_MAX bytes) and returns it. */
const char *child_object_path(const Child *c, char *buf);
/* Parses an object path of a process; returns the id or 0 when it is none. */
uint64_t child_id_from_path(const char *path);

const char *child_description(Child *c);
int child_pidfd(Child *c);

static inline bool child_is_running(const Child *c) {
        return !child_state_is_terminal(c->state);
}

/* Whether the process runs, or, for a tree, anything of its tree still does. */
static inline bool child_is_alive(const Child *c) {
        return child_is_running(c) || c->tree_running;
}

/* Re-checks whether a process-group tree has emptied (its group and its descendants). */
void child_check_tree(Child *c);

/* Feeds one kernel report into the state machine and announces what changed. */
void child_handle_event(Child *c, ChildEvent event, int status);

/* Announces a queued end (see manager_queue_ended()), once sd-event has reaped the process. */
void child_announce_end(Child *c);

/* Replies to @m with (State, ExitStatus) at the end, or at once if it has ended. */
int child_add_waiter(Child *c, sd_bus_message *m);
/* Same for Kill(): for a tree, once the tree is empty. */
int child_add_kill_waiter(Child *c, sd_bus_message *m);
/* Starts Kill escalation: kill-signal + SIGCONT, SIGKILL after @timeout_usec (0: at once). */
int child_kill(Child *c, uint64_t timeout_usec);
/* In multi-user mode, whether the owner may signal @c as kill(2) would let it: 0 or -EPERM. */
int child_check_may_signal(Child *c);
/* Return: 0, -ESRCH once it (its tree, its group) has ended, -ENOTTY (process_group) when it
 * leads no process group. */
int child_send_signal(Child *c, int sig, bool process_group);
/* The object goes away now; a running process is killed first if kill-on-release. */
void child_release(Child *c);
/* At shutdown: SIGKILL an adopted non-child with kill-on-release (the child source does it
 * for our own children when it is freed; non-children have none). */
void child_kill_on_shutdown(Child *c);
/* The owning client left the bus. */
void child_owner_left(Child *c);

/* For child-spawn.c, which registers what it spawned as child.c does what it adopts. */

/* Copies a strv into one allocation: fewer allocations per child and one free(). */
char **child_strv_copy_compact(char * const *l);
/* Watches the unreaped child c->pid; until the child is fully set up the source owns it
 * (dropping the source kills and reaps it). */
int child_start_watch(Child *c);
/* After the spawn: the group pidfd, the tree's watch and its registration. */
int child_setup_tree(Child *c);
/* Whether one more process may be watched: --max-processes (processes still starting count),
 * --max-processes-per-user in multi-user mode, and the descriptor reserve. Return: 0, or a
 * negative errno with @error set to LimitExceeded. */
int child_check_limits(Manager *m, Client *owner, sd_bus_error *error);
