/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The spawn helper: programs start as direct children of the caller although
 * a helper process forks them, with exactly the descriptors asked for, an
 * empty signal mask, and failures reported by stage without leaving a zombie.
 * The helper comes back after it died.
 *
 * SIGCHLD is blocked for the whole binary before anything else: sd-event
 * requires it for child sources (the Spawner watches its helper with one).
 */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Spawner, spawner_free)

static char *default_envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

typedef struct Fixture {
        sd_event *event;
        Spawner *spawner;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(spawner_new(&f->spawner, f->event), ==, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), >, 0);
}

static void assert_no_zombie(void) {
        siginfo_t si = {};

        /* WNOWAIT: look without reaping, so a failure here does not hide what was left. */
        g_assert_cmpint(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT), ==, 0);
        if (si.si_pid != 0)
                g_error("process %d was left unreaped", (int) si.si_pid);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        /* Every test reaps its children; whatever is still waitable was leaked. */
        assert_no_zombie();
        f->spawner = spawner_free(f->spawner);
        f->event = sd_event_unref(f->event);
}

/* Spawns @argv with stdio from @stdio (-1: /dev/null) plus @n_extra further fds. */
static int spawn_full(Spawner *s, char **argv, char **envp, const char *cwd, const int stdio[3],
                      const int *extra_fds, const unsigned *extra_targets, unsigned n_extra, pid_t *ret_pid,
                      SpawnFailure *ret_failure) {
        g_autofree int *fds = g_new(int, 3 + n_extra);
        g_autofree unsigned *targets = g_new(unsigned, 3 + n_extra);

        for (unsigned i = 0; i < 3; i++) {
                fds[i] = stdio ? stdio[i] : -1;
                targets[i] = i;
        }
        for (unsigned i = 0; i < n_extra; i++) {
                fds[3 + i] = extra_fds[i];
                targets[3 + i] = extra_targets[i];
        }

        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = envp ?: default_envp,
                .cwd = cwd ?: "/",
                .n_fds = 3 + n_extra,
                .fds = fds,
                .targets = targets,
        };
        return spawner_spawn(s, &req, ret_pid, ret_failure);
}

static int spawn_simple(Spawner *s, char **argv, pid_t *ret_pid, SpawnFailure *ret_failure) {
        return spawn_full(s, argv, NULL, NULL, NULL, NULL, NULL, 0, ret_pid, ret_failure);
}

/* Reaps @pid, which must be our direct child, and returns its siginfo. */
static siginfo_t reap(pid_t pid) {
        siginfo_t si = {};
        int r;

        do
                r = waitid(P_PID, (id_t) pid, &si, WEXITED);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                g_error("waitid(%d): %s", (int) pid, g_strerror(errno));
        g_assert_cmpint(si.si_pid, ==, pid);
        return si;
}

static void assert_exited(pid_t pid, int code) {
        siginfo_t si = reap(pid);
        g_assert_cmpint(si.si_code, ==, CLD_EXITED);
        g_assert_cmpint(si.si_status, ==, code);
}

/* Reads until EOF (the writers are gone once the child has exited). */
static char *read_all(int fd) {
        g_autoptr(GString) s = g_string_new(NULL);
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(n, >, 0);
                g_string_append_len(s, buf, n);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void make_pipe(int p[2]) {
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
}

static void test_true(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/true", NULL };
        SpawnFailure failure = {};
        pid_t pid = 0;

        g_assert_cmpint(spawn_simple(f->spawner, argv, &pid, &failure), ==, 0);
        g_assert_cmpint(pid, >, 0);
        g_assert_cmpint(pid, !=, spawner_helper_pid(f->spawner));
        /* waitid(P_PID) only works on our own children: CLONE_PARENT made it ours. */
        assert_exited(pid, 0);

        /* And again, on the same helper: it serves any number of requests. */
        pid_t helper = spawner_helper_pid(f->spawner);
        for (int i = 0; i < 5; i++) {
                char *argv2[] = { "false", NULL }; /* found in PATH */
                g_assert_cmpint(spawn_simple(f->spawner, argv2, &pid, &failure), ==, 0);
                assert_exited(pid, 1);
        }
        g_assert_cmpint(spawner_helper_pid(f->spawner), ==, helper);
}

static void test_direct_child(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/sleep", "5", NULL };
        SpawnFailure failure = {};
        pid_t pid = 0;

        g_assert_cmpint(spawn_simple(f->spawner, argv, &pid, &failure), ==, 0);

        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid);
        g_autofree char *status = NULL;
        g_assert_true(g_file_get_contents(path, &status, NULL, NULL));

        /* The kernel's view: our child, not the helper's. */
        g_autofree char *ppid = g_strdup_printf("\nPPid:\t%d\n", (int) getpid());
        if (!strstr(status, ppid))
                g_error("child %d is not ours (helper %d):\n%s", (int) pid,
                        (int) spawner_helper_pid(f->spawner), status);

        /* The spawn returns once execve() has committed: the child runs the program already
         * (its exe link is set before the vfork parent resumes; its name only after, so
         * that is not checked), with an empty signal mask although ours blocks SIGCHLD. */
        g_assert_nonnull(strstr(status, "\nSigBlk:\t0000000000000000\n"));
        g_autofree char *exe_link = g_strdup_printf("/proc/%d/exe", (int) pid);
        g_autofree char *exe = g_file_read_link(exe_link, NULL);
        g_autofree char *sleep_path = realpath(argv[0], NULL);
        g_assert_nonnull(sleep_path);
        g_assert_cmpstr(exe, ==, sleep_path);

        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        siginfo_t si = reap(pid);
        g_assert_cmpint(si.si_code, ==, CLD_KILLED);
        g_assert_cmpint(si.si_status, ==, SIGKILL);
}

static void assert_fails(Fixture *f, char **argv, char **envp, const char *cwd, SpawnStage stage, int error) {
        SpawnFailure failure = {};
        pid_t pid = -42;

        g_assert_cmpint(spawn_full(f->spawner, argv, envp, cwd, NULL, NULL, NULL, 0, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, stage);
        g_assert_cmpint(failure.error, ==, error);
        /* ret_pid is untouched, and the failed child was reaped already. */
        g_assert_cmpint(pid, ==, -42);
        assert_no_zombie();
}

static void test_exec_failure(Fixture *f, gconstpointer data) {
        char *missing[] = { "/nonexistent/program", NULL };
        char *missing_in_path[] = { "childwatch-no-such-program", NULL };
        char *true_in_path[] = { "true", NULL };
        g_autofree char *file = NULL;
        char *other_path[] = { "PATH=/nonexistent:/also/not", NULL };

        assert_fails(f, missing, NULL, NULL, SPAWN_STAGE_EXEC, ENOENT);
        assert_fails(f, missing_in_path, NULL, NULL, SPAWN_STAGE_EXEC, ENOENT);
        /* The lookup uses the child's PATH, not ours. */
        assert_fails(f, true_in_path, other_path, NULL, SPAWN_STAGE_EXEC, ENOENT);

        /* No x bit at all: EACCES, even for root. */
        int fd = g_file_open_tmp("childwatch-test-XXXXXX", &file, NULL);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        char *not_executable[] = { file, NULL };
        assert_fails(f, not_executable, NULL, NULL, SPAWN_STAGE_EXEC, EACCES);
        g_unlink(file);

        /* A failure does not break the helper. */
        SpawnFailure failure = {};
        pid_t pid = 0;
        g_assert_cmpint(spawn_simple(f->spawner, true_in_path, &pid, &failure), ==, 0);
        assert_exited(pid, 0);
}

static void test_chdir_failure(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/true", NULL };
        g_autofree char *file = NULL;
        int fd;

        assert_fails(f, argv, NULL, "/nonexistent-directory", SPAWN_STAGE_CHDIR, ENOENT);

        fd = g_file_open_tmp("childwatch-test-XXXXXX", &file, NULL);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        assert_fails(f, argv, NULL, file, SPAWN_STAGE_CHDIR, ENOTDIR);
        g_unlink(file);
}

static void test_cwd(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/pwd", NULL };
        g_autofree char *out = NULL;
        SpawnFailure failure = {};
        int p[2], stdio[3] = { -1, -1, -1 };
        pid_t pid = 0;

        make_pipe(p);
        stdio[1] = p[1];
        g_assert_cmpint(spawn_full(f->spawner, argv, NULL, "/usr", stdio, NULL, NULL, 0, &pid, &failure), ==, 0);
        close(p[1]);
        assert_exited(pid, 0);
        out = read_all(p[0]);
        close(p[0]);
        g_assert_cmpstr(out, ==, "/usr\n");
}

static void test_fd_mapping(Fixture *f, gconstpointer data) {
        /* Each child fd writes its own number: target t must reach the pipe that was mapped to t.
         * The helper receives the sources as its fds 4, 5, ... so these targets collide with them
         * in a permuted order, the case where a naive dup2() sequence clobbers a source. */
        enum { N = 6 };
        const unsigned targets[N] = { 8, 7, 6, 5, 4, 3 };
        char *argv[] = { "/bin/sh", "-c",
                         "read line; echo \"$line\"; echo err >&2; "
                         "echo 3 >&3; echo 4 >&4; echo 5 >&5; echo 6 >&6; echo 7 >&7; echo 8 >&8",
                         NULL };
        int pipes[N][2], in[2], out[2], err[2], sources[N];
        SpawnFailure failure = {};
        pid_t pid = 0;

        for (int i = 0; i < N; i++) {
                make_pipe(pipes[i]);
                sources[i] = pipes[i][1];
        }
        make_pipe(in);
        make_pipe(out);
        make_pipe(err);
        g_assert_cmpint(write(in[1], "hello\n", 6), ==, 6);
        close(in[1]);

        int stdio[3] = { in[0], out[1], err[1] };
        g_assert_cmpint(spawn_full(f->spawner, argv, NULL, NULL, stdio, sources, targets, N, &pid, &failure), ==, 0);
        /* Without our write ends, EOF comes when the child is gone. */
        for (int i = 0; i < N; i++)
                close(pipes[i][1]);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        assert_exited(pid, 0);

        for (int i = 0; i < N; i++) {
                g_autofree char *got = read_all(pipes[i][0]);
                g_autofree char *want = g_strdup_printf("%u\n", targets[i]);
                g_assert_cmpstr(got, ==, want);
                close(pipes[i][0]);
        }
        g_autofree char *got_out = read_all(out[0]);
        g_autofree char *got_err = read_all(err[0]);
        g_assert_cmpstr(got_out, ==, "hello\n");
        g_assert_cmpstr(got_err, ==, "err\n");
        close(out[0]);
        close(err[0]);
}

static int compare_ints(gconstpointer a, gconstpointer b) {
        return *(const int *) a - *(const int *) b;
}

static void test_exact_fds(void) {
        /* API.md: the child gets exactly 0, 1, 2 and its targets. A descriptor open without
         * O_CLOEXEC before the helper is forked must not reach it either. */
        const unsigned targets[] = { 100, 7 };
        char *argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd", NULL };
        g_autoptr(sd_event) event = NULL;
        g_autoptr(Spawner) spawner = NULL;
        g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(int));
        int leak, p[2], extra[2];
        SpawnFailure failure = {};
        pid_t pid = 0;

        leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, on purpose */
        g_assert_cmpint(leak, >=, 0);
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        g_assert_cmpint(spawner_new(&spawner, event), ==, 0);

        make_pipe(p);
        extra[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        extra[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(extra[0], >=, 0);
        g_assert_cmpint(extra[1], >=, 0);

        int stdio[3] = { -1, p[1], -1 };
        g_assert_cmpint(spawn_full(spawner, argv, NULL, NULL, stdio, extra, targets, 2, &pid, &failure), ==, 0);
        close(p[1]);
        close(extra[0]);
        close(extra[1]);
        close(leak);
        assert_exited(pid, 0);

        g_autofree char *out = read_all(p[0]);
        close(p[0]);
        g_auto(GStrv) lines = g_strsplit(g_strstrip(out), "\n", -1);
        for (char **l = lines; *l; l++) {
                gint64 v;
                g_assert_true(g_ascii_string_to_signed(*l, 10, 0, G_MAXINT, &v, NULL));
                int fd = (int) v;
                g_array_append_val(seen, fd);
        }
        g_array_sort(seen, compare_ints);

        g_autoptr(GString) list = g_string_new(NULL);
        for (guint i = 0; i < seen->len; i++)
                g_string_append_printf(list, "%s%d", i ? " " : "", g_array_index(seen, int, i));
        g_assert_cmpstr(list->str, ==, "0 1 2 7 100");
        assert_no_zombie();
}

static void test_helper_restart(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/true", NULL };
        SpawnFailure failure = {};
        pid_t pid = 0, old = spawner_helper_pid(f->spawner);

        g_assert_cmpint(kill(old, SIGKILL), ==, 0);

        /* The helper's child source notices the death and reaps it; bounded: 100 × 50 ms. */
        for (int i = 0; i < 100 && spawner_helper_pid(f->spawner) != 0; i++)
                g_assert_cmpint(sd_event_run(f->event, 50 * 1000), >=, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), ==, 0);
        /* Reaped by the source: no zombie, and waitid() no longer knows it. */
        g_assert_cmpint(waitid(P_PID, (id_t) old, &(siginfo_t) {}, WEXITED | WNOHANG), <, 0);
        g_assert_cmpint(errno, ==, ECHILD);

        g_assert_cmpint(spawn_simple(f->spawner, argv, &pid, &failure), ==, 0);
        assert_exited(pid, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), >, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), !=, old);
}

static void test_helper_restart_unnoticed(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/true", NULL };
        SpawnFailure failure = {};
        pid_t pid = 0, old = spawner_helper_pid(f->spawner);
        siginfo_t si = {};

        /* Killed, and the loop never ran: the spawn itself finds the helper gone and retries. */
        g_assert_cmpint(kill(old, SIGKILL), ==, 0);
        /* Wait (without reaping) until it is really dead, so the spawn cannot race the kill. */
        g_assert_cmpint(waitid(P_PID, (id_t) old, &si, WEXITED | WNOWAIT), ==, 0);

        g_assert_cmpint(spawn_simple(f->spawner, argv, &pid, &failure), ==, 0);
        assert_exited(pid, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), >, 0);
        g_assert_cmpint(spawner_helper_pid(f->spawner), !=, old);
        /* The old helper was reaped on the way. */
        g_assert_cmpint(waitid(P_PID, (id_t) old, &(siginfo_t) {}, WEXITED | WNOHANG), <, 0);
}

/* Spawns `sleep 30` with @new_session and @new_process_group; returns its pid. */
static pid_t spawn_sleep(Fixture *f, bool new_session, bool new_process_group) {
        char *argv[] = { "/bin/sleep", "30", NULL };
        const int fds[3] = { -1, -1, -1 };
        const unsigned targets[3] = { 0, 1, 2 };
        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = default_envp,
                .cwd = "/",
                .new_session = new_session,
                .new_process_group = new_process_group,
                .n_fds = 3,
                .fds = fds,
                .targets = targets,
        };
        SpawnFailure failure = {};
        pid_t pid = 0;

        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 0);
        g_assert_cmpint(pid, >, 0);
        return pid;
}

static void kill_and_reap(pid_t pid) {
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        siginfo_t si = reap(pid);
        g_assert_cmpint(si.si_code, ==, CLD_KILLED);
}

static void test_process_group(Fixture *f, gconstpointer data) {
        pid_t pid;

        /* The spawn returns after execve(), so the setpgid()/setsid() before it took effect. */
        pid = spawn_sleep(f, false, true);
        g_assert_cmpint(getpgid(pid), ==, pid);
        g_assert_cmpint(getsid(pid), ==, getsid(0));
        kill_and_reap(pid);

        pid = spawn_sleep(f, false, false);
        g_assert_cmpint(getpgid(pid), ==, getpgrp());
        kill_and_reap(pid);

        /* new_session makes it lead its group anyway; new_process_group is ignored then. */
        pid = spawn_sleep(f, true, true);
        g_assert_cmpint(getsid(pid), ==, pid);
        g_assert_cmpint(getpgid(pid), ==, pid);
        kill_and_reap(pid);
}

static char *status_field(pid_t pid, const char *name) {
        g_autofree char *file = g_strdup_printf("/proc/%d/status", (int) pid), *text = NULL;
        g_assert_true(g_file_get_contents(file, &text, NULL, NULL));
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        size_t len = strlen(name);
        for (char **l = lines; *l; l++)
                if (strncmp(*l, name, len) == 0 && (*l)[len] == ':')
                        return g_strstrip(g_strdup(*l + len + 1));
        g_error("no %s in %s", name, file);
}

static void test_credentials(Fixture *f, gconstpointer data) {
        char *argv[] = { "/bin/sleep", "30", NULL };
        const int fds[3] = { -1, -1, -1 };
        const unsigned targets[3] = { 0, 1, 2 };
        const gid_t groups[] = { 65534, 4242 };
        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = default_envp,
                .cwd = "/",
                .n_fds = 3,
                .fds = fds,
                .targets = targets,
                .change_credentials = true,
                .uid = 65534,
                .gid = 4243,
                .groups = groups,
                .n_groups = G_N_ELEMENTS(groups),
        };
        SpawnFailure failure = {};
        pid_t pid = 0;

        if (geteuid() != 0) {
                g_test_skip("changing credentials needs root");
                return;
        }
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 0);
        g_autofree char *uid = status_field(pid, "Uid"), *gid = status_field(pid, "Gid");
        g_autofree char *grp = status_field(pid, "Groups"), *eff = status_field(pid, "CapEff");
        g_autofree char *prm = status_field(pid, "CapPrm"), *amb = status_field(pid, "CapAmb");
        g_assert_cmpstr(uid, ==, "65534\t65534\t65534\t65534");
        g_assert_cmpstr(gid, ==, "4243\t4243\t4243\t4243");
        g_assert_cmpstr(grp, ==, "4242 65534");
        g_assert_cmpstr(eff, ==, "0000000000000000");
        g_assert_cmpstr(prm, ==, "0000000000000000");
        g_assert_cmpstr(amb, ==, "0000000000000000");
        kill_and_reap(pid);

        /* The cwd is entered with the new credentials: nobody may not enter /root. */
        g_autofree char *tmp = g_dir_make_tmp("cw-spawner-XXXXXX", NULL);
        g_assert_nonnull(tmp);
        g_assert_cmpint(chmod(tmp, 0700), ==, 0);
        req.cwd = tmp;
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, SPAWN_STAGE_CHDIR);
        g_assert_cmpint(failure.error, ==, EACCES);
        g_assert_cmpint(rmdir(tmp), ==, 0);

        /* More groups than the kernel takes (NGROUPS_MAX): a credentials error, nothing left behind. */
        g_autofree gid_t *many = g_new0(gid_t, 65537);
        req.cwd = "/";
        req.groups = many;
        req.n_groups = 65537;
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, SPAWN_STAGE_SETGROUPS);
        g_assert_cmpint(failure.error, ==, EINVAL);
}

static void test_cgroup_refused(Fixture *f, gconstpointer data) {
        /* A request into a cgroup goes through clone3(): without it (valgrind) the request fails
         * cleanly, otherwise the kernel refuses a descriptor that is no cgroup. The cgroups
         * themselves are tested in test-cgroup-tree. */
        char *argv[] = { "/bin/true", NULL };
        const int fds[3] = { -1, -1, -1 };
        const unsigned targets[3] = { 0, 1, 2 };
        int not_cgroup = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(not_cgroup, >=, 0);
        SpawnRequest req = {
                .program = argv[0],
                .argv = argv,
                .envp = default_envp,
                .cwd = "/",
                .n_fds = 3,
                .fds = fds,
                .targets = targets,
                .into_cgroup = true,
                .cgroup_fd = not_cgroup,
        };
        SpawnFailure failure = {};
        pid_t pid = -42;
        int probe = spawner_probe_clone3();

        g_assert_true(probe == 0 || probe == -ENOSYS);
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 1);
        g_assert_cmpint(failure.stage, ==, SPAWN_STAGE_CLONE);
        g_assert_cmpint(failure.error, ==, probe == -ENOSYS ? ENOSYS : EBADF);
        g_assert_cmpint(pid, ==, -42);
        close(not_cgroup);

        /* No descriptor at all is caught before the helper sees it. */
        req.cgroup_fd = -1;
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, -EBADF);

        /* The helper goes on serving the usual path. */
        req.into_cgroup = false;
        g_assert_cmpint(spawner_spawn(f->spawner, &req, &pid, &failure), ==, 0);
        assert_exited(pid, 0);
}

int main(int argc, char *argv[]) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        g_assert_cmpint(sigprocmask(SIG_BLOCK, &mask, NULL), ==, 0);

        g_test_init(&argc, &argv, NULL);

        g_test_add("/spawner/true", Fixture, NULL, fixture_setup, test_true, fixture_teardown);
        g_test_add("/spawner/direct-child", Fixture, NULL, fixture_setup, test_direct_child, fixture_teardown);
        g_test_add("/spawner/exec-failure", Fixture, NULL, fixture_setup, test_exec_failure, fixture_teardown);
        g_test_add("/spawner/chdir-failure", Fixture, NULL, fixture_setup, test_chdir_failure, fixture_teardown);
        g_test_add("/spawner/cwd", Fixture, NULL, fixture_setup, test_cwd, fixture_teardown);
        g_test_add("/spawner/fd-mapping", Fixture, NULL, fixture_setup, test_fd_mapping, fixture_teardown);
        g_test_add_func("/spawner/exact-fds", test_exact_fds);
        g_test_add("/spawner/process-group", Fixture, NULL, fixture_setup, test_process_group,
                   fixture_teardown);
        g_test_add("/spawner/credentials", Fixture, NULL, fixture_setup, test_credentials, fixture_teardown);
        g_test_add("/spawner/cgroup-refused", Fixture, NULL, fixture_setup, test_cgroup_refused,
                   fixture_teardown);
        g_test_add("/spawner/helper-restart", Fixture, NULL, fixture_setup, test_helper_restart, fixture_teardown);
        g_test_add("/spawner/helper-restart-unnoticed", Fixture, NULL, fixture_setup,
                   test_helper_restart_unnoticed, fixture_teardown);

        return g_test_run();
}
