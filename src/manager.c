/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The registry of the service: children by id (those with an object) and by pid (those not
 * yet reaped), the running and ended counts per user that the limits read, the descriptor
 * reserve, and the making and freeing of it all. The rest of the manager's work has files of
 * its own: manager-reports.c (stop/continue reports, the announce queue), manager-orphans.c,
 * manager-group-poll.c, manager-idle.c, manager-bus.c (the connection and the name).
 */

#include "manager-internal.h"

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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-managed-objects.h"
#include "child.h"
#include "client.h"
#include "util/fs-util.h"
#include "util/log.h"
#include "util/missing.h"
#include "util/pidfd-info.h"
#include "util/strv.h"
#include "util/time-util.h"

extern char **environ;

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

        int probe = pidfd_open(getpid(), 0);
        m->use_pidfd = probe >= 0;
        safe_close(probe);
        if (m->use_pidfd)
                m->has_exit_info = probe_exit_info();

        r = manager_setup_reports(m);
        if (r < 0)
                goto fail;
        r = manager_setup_orphan_scan(m);
        if (r < 0)
                goto fail;
        r = manager_setup_group_poll(m);
        if (r < 0)
                goto fail;

        *ret = m;
        return 0;

fail:
        manager_free(m);
        return r;
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
