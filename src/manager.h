/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The registry of the service: children by id and by pid, clients by bus
 * name, the limits, the SIGCHLD path for stop/continue reports and idle exit.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup-tree.h"
#include "cli.h"
#include "spawn-pool.h"
#include "util/hashmap.h"

#define CW_BUS_NAME "org.childwatch.ChildWatch1"
#define CW_MANAGER_PATH "/org/childwatch/ChildWatch1"
#define CW_MANAGER_INTERFACE "org.childwatch.ChildWatch1.Manager"
#define CW_PROCESS_INTERFACE "org.childwatch.ChildWatch1.Process"

typedef struct Child Child;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        SpawnPool *spawn_pool;

        uint64_t idle_timeout_usec;
        uint64_t linger_usec;
        unsigned max_processes;
        unsigned max_processes_per_user; /* multi-user mode, for all but root */
        bool multi_user;          /* system bus: callers are isolated from each other */
        Hashmap running_by_uid;   /* owner uid -> UserCount: running (or starting) processes per user */
        unsigned max_ended_per_user;
        Hashmap ended_by_uid;     /* owner uid -> UserCount: objects of ended processes per user */
        size_t max_reply_size;    /* no listing we build may be larger (bus-managed-objects.c) */
        struct Listings *listings; /* GetManagedObjects in progress and queued (bus-managed-objects.c) */
        unsigned n_spawning;      /* Spawn calls accepted and not yet answered (manager_spawn_begin()) */

        Hashmap children_by_id;  /* processes that have an object */
        Hashmap children_by_pid; /* processes that still run, with or without object */
        Hashmap clients;
        uint64_t next_id;
        unsigned n_stop_watchers; /* running children that asked for stopped/continued */

        bool use_pidfd;           /* false under kernels (or valgrind) without pidfd_open() */
        bool has_exit_info;       /* PIDFD_GET_INFO tells how a reaped process ended (Linux 6.15) */
        Child *ended;             /* exits waiting for their announcement */
        sd_event_source *announce_source;

        bool subreaper;           /* orphaned descendants re-parent to us */
        TreeMode tree_mode;       /* as resolved at start: TREE_MODE_CGROUP or TREE_MODE_PROCESS_GROUP */
        CgroupRoot *cgroup_root;  /* cgroup mode only */
        uint64_t next_tree_id;
        Hashmap trees;            /* tree id -> Child, for cgroup trees that still exist */
        Hashmap leaders;          /* pid -> Child that leads its own process group (leads_group) */
        unsigned n_live_trees;    /* trees with processes left; they keep the service from idling out */
        sd_event_source *scan_source;   /* looks for orphans that re-parented to us without a word */
        uint64_t scan_not_before;       /* CLOCK_MONOTONIC */
        sd_event_source *group_poll_source; /* process-group trees whose leader ended */
        unsigned n_group_polls;

        unsigned fds_counted;        /* open descriptors at the last count (manager_has_fd_headroom()) */
        size_t fds_counted_children; /* children plus objects at that count */

        int sigchld_fd;
        sd_event_source *sigchld_source;
        sd_event_source *sweep_source;
        sd_event_source *idle_source;

        uid_t uid;
        char *home;
        char **base_environment; /* borrowed from environ */
        char **base_environment_merged; /* env_merge() of it alone, made at the first spawn that needs it */
} Manager;

int manager_new(Manager **ret, sd_event *event, const Config *config);
Manager *manager_free(Manager *m);

/* Connects to the bus of @config, registers the objects and takes the name. */
int manager_start(Manager *m, const Config *config);

Child *manager_get_child_by_id(Manager *m, uint64_t id);
Child *manager_get_child_by_pid(Manager *m, pid_t pid);

/* Whether the service still has the descriptors that a new process and any incoming message
 * need: sd-bus drops the connection when the kernel cannot install a message's fds. */
bool manager_has_fd_headroom(Manager *m);

/* Running processes whose owner is @uid, with those still starting. */
unsigned manager_count_running_of(Manager *m, uid_t uid);
/* Objects of ended processes whose owner is @uid (--max-ended-per-user). */
unsigned manager_count_ended_of(Manager *m, uid_t uid);

/* A Spawn of @uid was accepted: until manager_spawn_end() its process counts against the
 * limits (as running), and the service does not idle out. Return: 0 or -ENOMEM. */
int manager_spawn_begin(Manager *m, uid_t uid);
void manager_spawn_end(Manager *m, uid_t uid);
/* Whether the caller of @msg (of uid @uid) may see @c: always, but in multi-user mode only
 * its owner and root. */
bool manager_may_see(Manager *m, uid_t uid, Child *c);

int manager_add_child(Manager *m, Child *c);
/* Gives the released, still running @c an object again (its id set anew by the caller), now
 * owned by @owner_uid, whose count it moves to. Return: 0, -EINVAL when it has an object or
 * ended, or -ENOMEM. */
int manager_readd_object(Manager *m, Child *c, uid_t owner_uid);
/* Forgets a running child's pid (it ended). */
void manager_child_ended(Manager *m, Child *c);
/* Drops the object of a child (it keeps running unwatched by clients if it still runs). */
void manager_remove_object(Manager *m, Child *c);

/* Queues the announcement of an exit for the next loop iteration, after the reap. */
void manager_queue_ended(Manager *m, Child *c);
/* Takes a child off that queue (it is being freed). */
void manager_unqueue_ended(Manager *m, Child *c);

/* Some direct child ended: orphans may have re-parented to us; look soon (rate-limited). */
void manager_schedule_orphan_scan(Manager *m);

/* Takes over every unknown child of ours now, O(children). */
void manager_scan_orphans(Manager *m);
/* Takes in the SIGCHLDs queued so far (orphans that ended become known). */
void manager_drain_sigchld(Manager *m);

/* A process-group tree whose leader has ended needs polling until it is empty. */
void manager_group_poll_ref(Manager *m);
void manager_group_poll_unref(Manager *m);

/* Re-evaluates idle exit; call after anything that may change it. */
void manager_check_idle(Manager *m);
