/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Process trees in cgroups, with real cgroups: the container comes and goes
 * without a trace, stale ones of dead services are swept, programs that the
 * spawner starts into a tree are in it from the start (the kernel's view and
 * their pidfds agree on the id), and a setsid() grandchild cannot leave.
 *
 * Needs root and a cgroup2 hierarchy with cgroup.kill; the spawn tests also
 * need clone3(), which valgrind 3.19 does not know. The binary makes itself a
 * subreaper, so orphaned grandchildren come back to it and are reaped too.
 */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup-tree.h"
#include "spawner.h"
#include "util/pidfd-info.h"
#include "util/proc-stat.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Spawner, spawner_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CgroupRoot, cgroup_root_free)

/* How long a process may take to end after SIGKILL or SIGTERM, in 5 ms steps. */
#define WAIT_STEPS 2000
#define WAIT_STEP_USEC 5000

static char *default_envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

typedef struct Fixture {
        sd_event *event;
        Spawner *spawner;
        CgroupRoot *root; /* NULL: the test skips */
} Fixture;

/* Creates a root, or says exactly why this machine cannot have one. */
static CgroupRoot *root_new_or_skip(void) {
        CgroupRoot *root = NULL;
        int r;

        if (geteuid() != 0) {
                g_test_skip("not root: creating cgroups needs root (or a delegated subtree)");
                return NULL;
        }
        r = cgroup_root_new(&root);
        if (r == -EOPNOTSUPP) {
                g_test_skip("no cgroup2 hierarchy with cgroup.kill (Linux >= 5.14) here");
                return NULL;
        }
        g_assert_cmpint(r, ==, 0);
        return root;
}

static bool have_clone3_or_skip(void) {
        if (spawner_probe_clone3() == -ENOSYS) {
                g_test_skip("clone3() is not available (valgrind 3.19 knows none): no spawn into a cgroup");
                return false;
        }
        return true;
}

/* Children of ours still alive (the helper aside), from /proc: zombies and running ones. */
static char *list_children(pid_t except) {
        g_autofree char *path = g_strdup_printf("/proc/self/task/%d/children", (int) getpid());
        g_autofree char *text = NULL;
        g_autoptr(GString) out = g_string_new(NULL);

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        g_auto(GStrv) pids = g_strsplit(g_strstrip(text), " ", -1);
        for (char **p = pids; *p; p++)
                if (**p && atoi(*p) != (int) except)
                        g_string_append_printf(out, "%s%s", out->len ? " " : "", *p);
        return g_string_free(g_steal_pointer(&out), FALSE);
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(spawner_new(&f->spawner, f->event), ==, 0);
        f->root = root_new_or_skip();
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        /* Every test reaps what it started, grandchildren included. */
        g_autofree char *left = list_children(spawner_helper_pid(f->spawner));
        g_assert_cmpstr(left, ==, "");
        if (f->root) {
                g_autofree char *path = g_strdup(cgroup_root_path(f->root));
                f->root = cgroup_root_free(f->root);
                g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
        }
        f->spawner = spawner_free(f->spawner);
        f->event = sd_event_unref(f->event);
}

/* Reaps @pid (our child), waiting at most WAIT_STEPS × WAIT_STEP_USEC. */
static siginfo_t reap(pid_t pid) {
        for (unsigned i = 0; i < WAIT_STEPS; i++) {
                siginfo_t si = {};
                int r = waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        g_error("waitid(%d): %s", (int) pid, g_strerror(errno));
                if (si.si_pid == pid)
                        return si;
                g_usleep(WAIT_STEP_USEC);
        }
        g_error("process %d did not end in time", (int) pid);
}

static void assert_killed(pid_t pid, int sig) {
        siginfo_t si = reap(pid);
        g_assert_cmpint(si.si_code, ==, CLD_KILLED);
        g_assert_cmpint(si.si_status, ==, sig);
}

static void assert_exited(pid_t pid, int code) {
        siginfo_t si = reap(pid);
        g_assert_cmpint(si.si_code, ==, CLD_EXITED);
        g_assert_cmpint(si.si_status, ==, code);
}

/* Spawns @argv into the cgroup @cgroup_fd, or as usual when it is -1. */
static int spawn_into(Fixture *f, int cgroup_fd, char **argv, int stdout_fd, pid_t *ret_pid,
                      SpawnFailure *ret_failure) {
        const int fds[3] = { -1, stdout_fd, -1 };
        const unsigned targets[3] = { 0, 1, 2 };
        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = default_envp,
                .cwd = "/",
                .n_fds = 3,
                .fds = fds,
                .targets = targets,
                .into_cgroup = cgroup_fd >= 0,
                .cgroup_fd = cgroup_fd,
        };
        return spawner_spawn(f->spawner, &req, ret_pid, ret_failure);
}

static pid_t spawn_into_ok(Fixture *f, int cgroup_fd, char **argv) {
        SpawnFailure failure = {};
        pid_t pid = 0;
        int r;

        r = spawn_into(f, cgroup_fd, argv, -1, &pid, &failure);
        if (r == 1)
                g_error("spawn of %s failed at stage %d: %s", argv[0], failure.stage,
                        g_strerror(failure.error));
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(pid, >, 0);
        return pid;
}

/* The unified hierarchy's line of /proc/PID/cgroup, without "0::". */
static char *cgroup_of(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/cgroup", (int) pid);
        g_autofree char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "0::"))
                        return g_strdup(*l + 3);
        g_error("%s has no 0:: line:\n%s", path, text);
}

static char *read_procs(int tree_fd) {
        g_autofree char *path = g_strdup_printf("/proc/self/fd/%d/cgroup.procs", tree_fd);
        char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        return g_strstrip(text);
}

/* The stat line's fields after the command name: state is field 3, session field 6. */
static int stat_field(pid_t pid, unsigned field) {
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
        g_autofree char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        const char *p = strrchr(text, ')');
        g_assert_nonnull(p);
        g_auto(GStrv) fields = g_strsplit(p + 2, " ", -1);
        g_assert_cmpuint(g_strv_length(fields), >, field - 3);
        return atoi(fields[field - 3]);
}

static void test_root(void) {
        g_autoptr(CgroupRoot) root = root_new_or_skip();
        if (!root)
                return;
        g_autofree char *path = g_strdup(cgroup_root_path(root));
        g_autofree char *base = g_path_get_basename(path);
        g_autofree char *want = g_strdup_printf("childwatch.%d", (int) getpid());
        int fd;
        uint64_t id;

        g_assert_cmpstr(base, ==, want);
        g_assert_true(g_file_test(path, G_FILE_TEST_IS_DIR));
        /* In our own cgroup, as the kernel names it for us. */
        g_autofree char *own = cgroup_of(getpid());
        g_autofree char *parent = g_path_get_dirname(path);
        g_assert_true(g_str_has_suffix(parent, strcmp(own, "/") == 0 ? "" : own));
        g_autofree char *procs = g_build_filename(parent, "cgroup.procs", NULL);
        g_assert_true(g_file_test(procs, G_FILE_TEST_EXISTS));

        /* Empty trees, removed or not, go with the root. */
        g_assert_cmpint(cgroup_tree_create(root, 1, false, &fd, &id), ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_create(root, 2, false, &fd, &id), ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_remove(root, 1), ==, 0);
        root = cgroup_root_free(g_steal_pointer(&root));
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

        /* Again, after a root of this pid was left behind with an empty tree in it. */
        g_assert_cmpint(g_mkdir(path, 0755), ==, 0);
        g_autofree char *left_tree = g_build_filename(path, "5", NULL);
        g_assert_cmpint(g_mkdir(left_tree, 0755), ==, 0);
        g_assert_cmpint(cgroup_root_new(&root), ==, 0);
        g_assert_cmpstr(cgroup_root_path(root), ==, path);
        g_assert_false(g_file_test(left_tree, G_FILE_TEST_EXISTS));
        root = cgroup_root_free(g_steal_pointer(&root));
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* A plain child running @argv. Not fork() alone: under valgrind the forked copy of this
 * test would run a leak check of its own at _exit() and fail with valgrind's exit code. */
static pid_t start_plain(char **argv) {
        pid_t pid;

        g_assert_cmpint(posix_spawn(&pid, argv[0], NULL, NULL, argv, default_envp), ==, 0);
        return pid;
}

/* A pid that no process has: one of a child we have reaped. */
static pid_t dead_pid(void) {
        char *argv[] = { "/bin/true", NULL };
        pid_t pid = start_plain(argv);

        assert_exited(pid, 0);
        return pid;
}

/* A container that looks like one of the service @pid's. Built while @pid lives: any service
 * starting meanwhile (this test in parallel, a daemon of the integration tests) sweeps
 * containers of dead pids, and once @pid is gone it may rightly sweep this one before we do. */
static char *container_of(const char *own_dir, pid_t pid, const char *tree1, const char *tree2) {
        char *path = g_strdup_printf("%s/childwatch.%d", own_dir, (int) pid);
        g_assert_cmpint(g_mkdir(path, 0755), ==, 0);
        for (const char *t = tree1; t; t = t == tree1 ? tree2 : NULL) {
                g_autofree char *sub = g_build_filename(path, t, NULL);
                g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);
        }
        return path;
}

/* rmdir of what a sweeper may have removed already. */
static void rmdir_if_there(const char *path) {
        if (g_rmdir(path) < 0 && errno != ENOENT)
                g_error("rmdir %s: %s", path, g_strerror(errno));
}

static void stop_plain(pid_t pid) {
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        assert_killed(pid, SIGKILL);
}

static void test_stale(void) {
        g_autoptr(CgroupRoot) root = root_new_or_skip();
        if (!root)
                return;
        char *sleep_argv[] = { "/bin/sleep", "30", NULL };
        g_autofree char *own_dir = g_path_get_dirname(cgroup_root_path(root));
        root = cgroup_root_free(g_steal_pointer(&root));

        /* A dead service's container with empty trees, and a live process's one. */
        pid_t dying = start_plain(sleep_argv), alive = start_plain(sleep_argv);
        g_autofree char *stale = container_of(own_dir, dying, "1", "2");
        g_autofree char *live = container_of(own_dir, alive, "1", NULL);
        g_autofree char *live_1 = g_build_filename(live, "1", NULL);
        stop_plain(dying);

        g_assert_cmpint(cgroup_root_new(&root), ==, 0);
        gboolean stale_gone = !g_file_test(stale, G_FILE_TEST_EXISTS);
        gboolean live_kept = g_file_test(live_1, G_FILE_TEST_IS_DIR);

        /* Clean up before asserting, so a failure leaves nothing behind either. */
        g_autofree char *stale_1 = g_build_filename(stale, "1", NULL);
        g_autofree char *stale_2 = g_build_filename(stale, "2", NULL);
        rmdir_if_there(stale_1);
        rmdir_if_there(stale_2);
        rmdir_if_there(stale);
        g_assert_cmpint(g_rmdir(live_1), ==, 0);
        g_assert_cmpint(g_rmdir(live), ==, 0);
        stop_plain(alive);

        g_assert_true(stale_gone);
        g_assert_true(live_kept);
}

static void test_tree_files(Fixture *f, gconstpointer data) {
        if (!f->root)
                return;
        CgroupTreeStats stats = { 1, 1, 1 };
        uint64_t id = 0, other_id = 0;
        struct stat st;
        int fd = -1, fd2 = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 42, false, &fd, &id), ==, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_assert_true(S_ISDIR(st.st_mode));
        g_assert_cmpuint(id, ==, st.st_ino);
        g_assert_cmpint(cgroup_tree_create(f->root, 42, false, &fd2, &other_id), ==, -EEXIST);
        g_assert_cmpint(fd2, ==, -1);

        g_autofree char *events = NULL;
        g_assert_cmpint(cgroup_tree_events_path(f->root, 42, &events), ==, 0);
        g_autofree char *want = g_strdup_printf("%s/42/cgroup.events", cgroup_root_path(f->root));
        g_assert_cmpstr(events, ==, want);
        g_assert_true(g_file_test(events, G_FILE_TEST_IS_REGULAR));

        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 0);
        g_assert_cmpint(cgroup_tree_signal(fd, id, SIGTERM, (uid_t) -1), ==, 0);
        g_assert_cmpint(cgroup_tree_kill(fd), ==, 0);
        g_assert_cmpint(cgroup_tree_read_stats(fd, &stats), ==, 0);
        g_assert_cmpuint(stats.user_usec, ==, 0);
        g_assert_cmpuint(stats.system_usec, ==, 0);
        g_assert_cmpuint(stats.memory_peak, ==, 0);

        /* Not in any tree of ours. */
        uint64_t tree = 77;
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, getpid(), &tree), ==, 0);
        g_assert_cmpuint(tree, ==, 77);
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, dead_pid(), &tree), ==, -ESRCH);

        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 42), ==, 0);
        g_assert_cmpint(cgroup_tree_remove(f->root, 42), ==, -ENOENT);
}

static void test_spawn_into_tree(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        char *argv[] = { "/bin/sleep", "30", NULL };
        uint64_t cgroup_id = 0, tree = 0;
        int fd = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 7, false, &fd, &cgroup_id), ==, 0);
        pid_t pid = spawn_into_ok(f, fd, argv);

        /* Our direct child, in the tree: the kernel's view and the pidfd's agree. */
        g_assert_cmpint(stat_field(pid, 4), ==, getpid());
        g_autofree char *cgroup = cgroup_of(pid);
        g_autofree char *want = g_strdup_printf("/childwatch.%d/7", (int) getpid());
        g_assert_true(g_str_has_suffix(cgroup, want));
        int pidfd = pidfd_open(pid, 0);
        g_assert_cmpint(pidfd, >=, 0);
        PidfdInfo info;
        g_assert_cmpint(pidfd_get_info(pidfd, PIDFD_INFO_CGROUPID, &info), ==, 0);
        g_assert_true(info.mask & PIDFD_INFO_CGROUPID);
        g_assert_cmpuint(info.cgroupid, ==, cgroup_id);
        close(pidfd);
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, pid, &tree), ==, 1);
        g_assert_cmpuint(tree, ==, 7);

        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 1);
        g_autofree char *procs = read_procs(fd);
        g_autofree char *pid_str = g_strdup_printf("%d", (int) pid);
        g_assert_cmpstr(procs, ==, pid_str);
        g_assert_cmpint(cgroup_tree_remove(f->root, 7), ==, -EBUSY);

        /* A populated tree outlives its root: the container stays for it. */
        g_autofree char *path = g_strdup(cgroup_root_path(f->root));
        f->root = cgroup_root_free(f->root);
        g_assert_true(g_file_test(path, G_FILE_TEST_IS_DIR));

        g_assert_cmpint(cgroup_tree_kill(fd), ==, 0);
        assert_killed(pid, SIGKILL);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 0);
        close(fd);

        /* The next root of this process takes the empty leftover over. */
        f->root = root_new_or_skip();
        g_assert_nonnull(f->root);
        g_assert_cmpstr(cgroup_root_path(f->root), ==, path);
        g_autofree char *tree_path = g_build_filename(path, "7", NULL);
        g_assert_false(g_file_test(tree_path, G_FILE_TEST_EXISTS));
}

/* The descriptors that a shell spawned into @cgroup_fd (or as usual, -1) has, as "0 1 2 ...". */
static char *fds_of_child(Fixture *f, int cgroup_fd) {
        char *argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd", NULL };
        g_autoptr(GString) out = g_string_new(NULL);
        SpawnFailure failure = {};
        pid_t pid = 0;
        char buf[256];
        ssize_t n;
        int p[2];

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(spawn_into(f, cgroup_fd, argv, p[1], &pid, &failure), ==, 0);
        close(p[1]);
        assert_exited(pid, 0);
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
                g_string_append_len(out, buf, n);
        g_assert_cmpint(n, ==, 0);
        close(p[0]);
        g_strdelimit(out->str, "\n", ' ');
        return g_strdup(g_strstrip(out->str));
}

static void test_spawn_into_tree_fds(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        SpawnFailure failure = {};
        uint64_t cgroup_id = 0;
        pid_t pid = 0;
        int fd = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 8, false, &fd, &cgroup_id), ==, 0);
        /* The cgroup fd travels as one more descriptor: the child must not get it, nor anything
         * else that the usual path would not give. */
        g_autofree char *usual = fds_of_child(f, -1);
        g_autofree char *in_tree = fds_of_child(f, fd);
        g_assert_cmpstr(in_tree, ==, usual);
        g_assert_true(g_str_has_prefix(usual, "0 1 2"));

        /* An exec failure comes back from the copy-on-write child as from the vfork one. */
        char *missing[] = { "/nonexistent/program", NULL };
        pid = -42;
        g_assert_cmpint(spawn_into(f, fd, missing, -1, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, SPAWN_STAGE_EXEC);
        g_assert_cmpint(failure.error, ==, ENOENT);
        g_assert_cmpint(pid, ==, -42);

        /* Not a cgroup: the kernel refuses the clone. */
        int not_cgroup = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(not_cgroup, >=, 0);
        g_assert_cmpint(spawn_into(f, not_cgroup, missing, -1, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, SPAWN_STAGE_CLONE);
        g_assert_cmpint(failure.error, ==, EBADF);
        close(not_cgroup);

        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 8), ==, 0);
}

static void test_signal(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        char *argv[] = { "/bin/sleep", "30", NULL };
        uint64_t cgroup_id = 0;
        pid_t pids[3];
        int fd = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 3, false, &fd, &cgroup_id), ==, 0);
        for (unsigned i = 0; i < G_N_ELEMENTS(pids); i++)
                pids[i] = spawn_into_ok(f, fd, argv);

        /* The wrong id: every pid fails the check, nobody is hit (they die of the SIGTERM
         * below, not of this SIGKILL). */
        g_assert_cmpint(cgroup_tree_signal(fd, cgroup_id + 1, SIGKILL, (uid_t) -1), ==, 0);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 1);

        /* As a sender of another uid: none of these root processes is its to signal. */
        g_assert_cmpint(cgroup_tree_signal(fd, cgroup_id, SIGKILL, 65534), ==, 0);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 1);

        g_assert_cmpint(cgroup_tree_signal(fd, cgroup_id, SIGTERM, 0), ==, 3);
        for (unsigned i = 0; i < G_N_ELEMENTS(pids); i++)
                assert_killed(pids[i], SIGTERM);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 0);
        g_assert_cmpint(cgroup_tree_signal(fd, cgroup_id, SIGTERM, (uid_t) -1), ==, 0);

        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 3), ==, 0);
}

static void test_setsid_grandchild(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        /* setsid -f forks; the forked one setsid()s and execs a shell that says so and becomes
         * sleep; the first one exits, then our shell: the sleep is orphaned, in a session of
         * its own, and comes back to us (we are a subreaper). */
        char *argv[] = { "/bin/sh", "-c", "setsid -f /bin/sh -c 'echo; exec sleep 30 >/dev/null'", NULL };
        uint64_t cgroup_id = 0, tree = 0;
        SpawnFailure failure = {};
        struct pollfd pfd = { .events = POLLIN };
        pid_t sh = 0;
        int fd = -1, p[2];
        char c;

        g_assert_cmpint(cgroup_tree_create(f->root, 9, false, &fd, &cgroup_id), ==, 0);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(spawn_into(f, fd, argv, p[1], &sh, &failure), ==, 0);
        close(p[1]);
        assert_exited(sh, 0);
        /* The grandchild runs on its own schedule: its line means it has setsid() behind it. */
        pfd.fd = p[0];
        g_assert_cmpint(poll(&pfd, 1, WAIT_STEPS * WAIT_STEP_USEC / 1000), ==, 1);
        g_assert_cmpint(read(p[0], &c, 1), ==, 1);
        close(p[0]);

        g_autofree char *procs = read_procs(fd);
        g_auto(GStrv) lines = g_strsplit(procs, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 1);
        pid_t grandchild = atoi(lines[0]);
        g_assert_cmpint(grandchild, >, 0);
        /* Neither our session nor our process group would find it; the cgroup does. */
        g_assert_cmpint(stat_field(grandchild, 6), ==, grandchild);
        g_assert_cmpint(stat_field(grandchild, 5), ==, grandchild);
        g_assert_cmpint(stat_field(grandchild, 4), ==, getpid());
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, grandchild, &tree), ==, 1);
        g_assert_cmpuint(tree, ==, 9);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 1);
        g_assert_cmpint(cgroup_tree_remove(f->root, 9), ==, -EBUSY);

        g_assert_cmpint(cgroup_tree_kill(fd), ==, 0);
        assert_killed(grandchild, SIGKILL);
        g_assert_cmpint(cgroup_tree_is_populated(fd), ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 9), ==, 0);
}

/* Polls until @pid (our child) has exited, without reaping it. */
static void wait_zombie(pid_t pid) {
        for (unsigned i = 0; i < WAIT_STEPS; i++) {
                siginfo_t si = {};
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR)
                        g_error("waitid(%d): %s", (int) pid, g_strerror(errno));
                if (si.si_pid == pid)
                        return;
                g_usleep(WAIT_STEP_USEC);
        }
        g_error("process %d did not end in time", (int) pid);
}

static void test_zombie(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        /* What the kernel does with a process that has exited but is not reaped yet: it no
         * longer populates its cgroup (nor keeps it from being removed), yet /proc still names
         * that cgroup. */
        char *argv[] = { "/bin/sleep", "30", NULL };
        uint64_t cgroup_id = 0, tree = 0;
        int fd = -1, populated = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 10, false, &fd, &cgroup_id), ==, 0);
        pid_t pid = spawn_into_ok(f, fd, argv);
        g_assert_cmpint(cgroup_tree_kill(fd), ==, 0);
        wait_zombie(pid);
        /* The cgroup lets go of a dead task right after its last switch: poll, bounded. */
        for (unsigned i = 0; i < WAIT_STEPS && populated != 0; i++) {
                populated = cgroup_tree_is_populated(fd);
                if (populated != 0)
                        g_usleep(WAIT_STEP_USEC);
        }
        g_assert_cmpint(populated, ==, 0);
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, pid, &tree), ==, 1);
        g_assert_cmpuint(tree, ==, 10);
        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 10), ==, 0);
        tree = 0;
        g_assert_cmpint(cgroup_root_tree_of_pid(f->root, pid, &tree), ==, 1);
        g_assert_cmpuint(tree, ==, 10);
        assert_killed(pid, SIGKILL);
}

static void test_stats(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        /* Some 50 ms of CPU in the shell: enough for the usage counters to move. */
        char *argv[] = { "/bin/sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done", NULL };
        CgroupTreeStats stats = {};
        uint64_t cgroup_id = 0;
        int fd = -1;

        g_assert_cmpint(cgroup_tree_create(f->root, 4, false, &fd, &cgroup_id), ==, 0);
        assert_exited(spawn_into_ok(f, fd, argv), 0);
        g_assert_cmpint(cgroup_tree_read_stats(fd, &stats), ==, 0);
        g_assert_cmpuint(stats.user_usec + stats.system_usec, >, 0);
        g_test_message("user %" G_GUINT64_FORMAT " us, system %" G_GUINT64_FORMAT
                       " us, peak %" G_GUINT64_FORMAT,
                       stats.user_usec, stats.system_usec, stats.memory_peak);
        if (faccessat(fd, "memory.peak", F_OK, 0) == 0)
                g_assert_cmpuint(stats.memory_peak, >, 0);
        else
                g_assert_cmpuint(stats.memory_peak, ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_remove(f->root, 4), ==, 0);
}

static void test_stale_populated(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        /* A dead service's container whose tree still runs: swept of its empty trees only. */
        char *argv[] = { "/bin/sleep", "30", NULL };
        g_autofree char *own_dir = g_path_get_dirname(cgroup_root_path(f->root));
        pid_t dying = start_plain(argv);
        g_autofree char *stale = container_of(own_dir, dying, "1", "2");
        g_autofree char *busy = g_build_filename(stale, "1", NULL);
        g_autofree char *empty = g_build_filename(stale, "2", NULL);

        int fd = open(busy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        pid_t pid = spawn_into_ok(f, fd, argv);
        stop_plain(dying);

        f->root = cgroup_root_free(f->root);
        g_assert_cmpint(cgroup_root_new(&f->root), ==, 0);
        gboolean empty_gone = !g_file_test(empty, G_FILE_TEST_EXISTS);
        gboolean busy_kept = g_file_test(busy, G_FILE_TEST_IS_DIR);

        g_assert_cmpint(cgroup_tree_kill(fd), ==, 0);
        assert_killed(pid, SIGKILL);
        close(fd);
        rmdir_if_there(empty);
        rmdir_if_there(busy);
        rmdir_if_there(stale);
        g_assert_true(empty_gone);
        g_assert_true(busy_kept);
}

/* Xattr @name of @path as a string, or NULL when it has none. */
static char *xattr_of(const char *path, const char *name) {
        char buf[64];
        ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

        if (n < 0) {
                g_assert_cmpint(errno, ==, ENODATA);
                return NULL;
        }
        return g_strndup(buf, (gsize) n);
}

static void set_xattr(const char *path, const char *name, const char *value) {
        g_assert_cmpint(setxattr(path, name, value, strlen(value), 0), ==, 0);
}

static char *starttime_of(pid_t pid) {
        ProcStat st;
        g_assert_cmpint(proc_stat_read(pid, &st), ==, 0);
        g_assert_cmpuint(st.starttime, >, 0);
        return g_strdup_printf("%llu", st.starttime);
}

/* What a later start reads: the container names its maker's start time, and a tree of
 * kill-on-release says so. */
static void test_marks(Fixture *f, gconstpointer data) {
        if (!f->root)
                return;
        g_autofree char *own = starttime_of(getpid());
        g_autofree char *recorded = xattr_of(cgroup_root_path(f->root), CGROUP_XATTR_INSTANCE);
        g_assert_cmpstr(recorded, ==, own);

        int fd;
        uint64_t id;
        g_assert_cmpint(cgroup_tree_create(f->root, 11, true, &fd, &id), ==, 0);
        close(fd);
        g_assert_cmpint(cgroup_tree_create(f->root, 12, false, &fd, &id), ==, 0);
        close(fd);
        g_autofree char *tree_11 = g_strdup_printf("%s/11", cgroup_root_path(f->root));
        g_autofree char *tree_12 = g_strdup_printf("%s/12", cgroup_root_path(f->root));
        g_autofree char *mark_11 = xattr_of(tree_11, CGROUP_XATTR_KILL_ON_RELEASE);
        g_autofree char *mark_12 = xattr_of(tree_12, CGROUP_XATTR_KILL_ON_RELEASE);
        g_assert_cmpint(cgroup_tree_remove(f->root, 11), ==, 0);
        g_assert_cmpint(cgroup_tree_remove(f->root, 12), ==, 0);
        g_assert_cmpstr(mark_11, ==, "1");
        g_assert_null(mark_12);
}

/* Waits (bounded) until @pid, our child, is a zombie; does not reap it. */
static void await_zombie(pid_t pid) {
        for (unsigned i = 0; i < WAIT_STEPS; i++) {
                siginfo_t si = {};
                g_assert_cmpint(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT), ==, 0);
                if (si.si_pid == pid)
                        return;
                g_usleep(WAIT_STEP_USEC);
        }
        g_error("%d did not end", (int) pid);
}

/* Which containers count as those of dead services: not only of pids without a process, also of
 * a zombie (which passes kill(pid, 0)) and of a pid now used by a process that started at
 * another time than the recorded one. A live maker, or a live process where nothing is recorded,
 * keeps its container. */
static void test_stale_liveness(void) {
        g_autoptr(CgroupRoot) root = root_new_or_skip();
        if (!root)
                return;
        char *sleep_argv[] = { "/bin/sleep", "30", NULL };
        g_autofree char *own_dir = g_path_get_dirname(cgroup_root_path(root));
        root = cgroup_root_free(g_steal_pointer(&root));

        pid_t zombie = start_plain(sleep_argv), reused = start_plain(sleep_argv);
        pid_t alive = start_plain(sleep_argv), unrecorded = start_plain(sleep_argv);
        g_autofree char *c_zombie = container_of(own_dir, zombie, "1", NULL);
        g_autofree char *c_reused = container_of(own_dir, reused, "1", NULL);
        g_autofree char *c_alive = container_of(own_dir, alive, "1", NULL);
        g_autofree char *c_unrecorded = container_of(own_dir, unrecorded, "1", NULL);
        g_autofree char *zombie_start = starttime_of(zombie);
        g_autofree char *alive_start = starttime_of(alive);
        set_xattr(c_zombie, CGROUP_XATTR_INSTANCE, zombie_start);
        set_xattr(c_reused, CGROUP_XATTR_INSTANCE, "1"); /* no process here started 10 ms after boot */
        set_xattr(c_alive, CGROUP_XATTR_INSTANCE, alive_start);
        /* The zombie stays one (unreaped) until the end of the test. */
        g_assert_cmpint(kill(zombie, SIGKILL), ==, 0);
        await_zombie(zombie);

        g_assert_cmpint(cgroup_root_new(&root), ==, 0);
        gboolean zombie_gone = !g_file_test(c_zombie, G_FILE_TEST_EXISTS);
        gboolean reused_gone = !g_file_test(c_reused, G_FILE_TEST_EXISTS);
        gboolean alive_kept = g_file_test(c_alive, G_FILE_TEST_IS_DIR);
        gboolean unrecorded_kept = g_file_test(c_unrecorded, G_FILE_TEST_IS_DIR);

        const char *containers[] = { c_zombie, c_reused, c_alive, c_unrecorded };
        for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
                g_autofree char *tree = g_build_filename(containers[i], "1", NULL);
                rmdir_if_there(tree);
                rmdir_if_there(containers[i]);
        }
        assert_killed(zombie, SIGKILL);
        stop_plain(reused);
        stop_plain(alive);
        stop_plain(unrecorded);

        g_assert_true(zombie_gone);
        g_assert_true(reused_gone);
        g_assert_true(alive_kept);
        g_assert_true(unrecorded_kept);
}

/* Whether @pid, our child, still runs (not reaped, not a zombie). */
static gboolean still_running(pid_t pid) {
        siginfo_t si = {};
        g_assert_cmpint(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT), ==, 0);
        return si.si_pid == 0;
}

/* A dead service's container: its kill-on-release tree is killed and removed by the next start,
 * also one that is empty; a tree of a process that was to outlive the service keeps running, and
 * so its cgroup and the container stay. */
static void test_stale_kill_on_release(Fixture *f, gconstpointer data) {
        if (!f->root || !have_clone3_or_skip())
                return;
        char *argv[] = { "/bin/sleep", "30", NULL };
        g_autofree char *own_dir = g_path_get_dirname(cgroup_root_path(f->root));
        pid_t dying = start_plain(argv);
        g_autofree char *stale = container_of(own_dir, dying, "1", "2");
        g_autofree char *doomed = g_build_filename(stale, "1", NULL);
        g_autofree char *kept = g_build_filename(stale, "2", NULL);
        g_autofree char *doomed_empty = g_build_filename(stale, "3", NULL);
        g_assert_cmpint(g_mkdir(doomed_empty, 0755), ==, 0);
        set_xattr(doomed, CGROUP_XATTR_KILL_ON_RELEASE, "1");
        set_xattr(doomed_empty, CGROUP_XATTR_KILL_ON_RELEASE, "1");

        int doomed_fd = open(doomed, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int kept_fd = open(kept, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(doomed_fd, >=, 0);
        g_assert_cmpint(kept_fd, >=, 0);
        pid_t doomed_pid = spawn_into_ok(f, doomed_fd, argv);
        pid_t kept_pid = spawn_into_ok(f, kept_fd, argv);
        close(doomed_fd);
        stop_plain(dying);

        f->root = cgroup_root_free(f->root);
        g_assert_cmpint(cgroup_root_new(&f->root), ==, 0);
        /* cgroup_root_new() returns once the killed tree is empty: its process is a zombie or
         * reaped by now, never running. */
        gboolean doomed_ended = !still_running(doomed_pid);
        gboolean doomed_gone = !g_file_test(doomed, G_FILE_TEST_EXISTS);
        gboolean doomed_empty_gone = !g_file_test(doomed_empty, G_FILE_TEST_EXISTS);
        gboolean kept_running = still_running(kept_pid);
        gboolean kept_there = g_file_test(kept, G_FILE_TEST_IS_DIR);

        /* Clean up before asserting. */
        if (!doomed_ended)
                g_assert_cmpint(kill(doomed_pid, SIGKILL), ==, 0);
        assert_killed(doomed_pid, SIGKILL);
        g_assert_cmpint(cgroup_tree_kill(kept_fd), ==, 0);
        assert_killed(kept_pid, SIGKILL);
        close(kept_fd);
        rmdir_if_there(doomed);
        rmdir_if_there(doomed_empty);
        rmdir_if_there(kept);
        rmdir_if_there(stale);

        g_assert_true(doomed_ended);
        g_assert_true(doomed_gone);
        g_assert_true(doomed_empty_gone);
        g_assert_true(kept_running);
        g_assert_true(kept_there);
}

int main(int argc, char *argv[]) {
        sigset_t mask;

        /* sd-event's child source for the spawn helper needs SIGCHLD blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        g_assert_cmpint(sigprocmask(SIG_BLOCK, &mask, NULL), ==, 0);
        g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);

        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/cgroup-tree/root", test_root);
        g_test_add_func("/cgroup-tree/stale", test_stale);
        g_test_add("/cgroup-tree/tree-files", Fixture, NULL, fixture_setup, test_tree_files,
                   fixture_teardown);
        g_test_add("/cgroup-tree/spawn-into-tree", Fixture, NULL, fixture_setup, test_spawn_into_tree,
                   fixture_teardown);
        g_test_add("/cgroup-tree/spawn-into-tree-fds", Fixture, NULL, fixture_setup,
                   test_spawn_into_tree_fds, fixture_teardown);
        g_test_add("/cgroup-tree/signal", Fixture, NULL, fixture_setup, test_signal, fixture_teardown);
        g_test_add("/cgroup-tree/setsid-grandchild", Fixture, NULL, fixture_setup, test_setsid_grandchild,
                   fixture_teardown);
        g_test_add("/cgroup-tree/zombie", Fixture, NULL, fixture_setup, test_zombie, fixture_teardown);
        g_test_add("/cgroup-tree/stats", Fixture, NULL, fixture_setup, test_stats, fixture_teardown);
        g_test_add("/cgroup-tree/stale-populated", Fixture, NULL, fixture_setup, test_stale_populated,
                   fixture_teardown);
        g_test_add_func("/cgroup-tree/stale-liveness", test_stale_liveness);
        g_test_add("/cgroup-tree/marks", Fixture, NULL, fixture_setup, test_marks, fixture_teardown);
        g_test_add("/cgroup-tree/stale-kill-on-release", Fixture, NULL, fixture_setup,
                   test_stale_kill_on_release, fixture_teardown);

        return g_test_run();
}
