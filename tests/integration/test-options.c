/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The options of Spawn: each key of API.md's table has the documented effect
 * in the child (seen from inside it: its cwd, environment, descriptors,
 * session), and each bad key, type or value is InvalidArgs naming the key,
 * starts nothing and leaves the service up. */

#include "cw-test.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"

/* ---- helpers ---- */

/* Appends @fd to @fds (which duplicates it), closes @fd, returns the handle index. */
static gint32 add_fd(GUnixFDList *fds, int fd) {
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(fd, >=, 0);
        int idx = g_unix_fd_list_append(fds, fd, &error);
        g_assert_no_error(error);
        close(fd);
        return idx;
}

static int open_write(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static int open_read(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        return fd;
}

/* A file in @dir with @contents, opened for reading. */
static int file_with(const char *dir, const char *name, const char *contents) {
        g_autoptr(GError) error = NULL;
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(p, contents, -1, &error));
        g_assert_no_error(error);
        return open_read(p);
}

static char *read_text(const char *path) {
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, &error));
        g_assert_no_error(error);
        return text;
}

static char **read_lines(const char *path) {
        g_autofree char *text = read_text(path);
        char **lines = g_strsplit(text, "\n", -1);
        guint n = g_strv_length(lines);

        /* Drop the empty string after the last newline. */
        if (n > 0 && lines[n - 1][0] == 0) {
                g_free(lines[n - 1]);
                lines[n - 1] = NULL;
        }
        return lines;
}

static guint count_with_prefix(char **lines, const char *prefix) {
        guint n = 0;
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, prefix))
                        n++;
        return n;
}

/* Spawns, expects "exited @status", releases. Returns nothing: the evidence is in the files. */
static void run_to_exit(CwFixture *f, const char *const *argv, GVariant *options, GUnixFDList *fds,
                        int status) {
        g_autoptr(GError) error = NULL;
        g_autofree char *path = cw_spawn_full(f->conn, argv, options, fds, NULL, &error);

        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, status);
        cw_release(f->conn, path);
}

/* Runs @argv with stdout into a fresh file and returns its lines. @b may hold further options. */
static char **run_capture(CwFixture *f, const char *dir, const char *const *argv, GVariantBuilder *b,
                          GUnixFDList *fds) {
        g_autofree char *out = g_build_filename(dir, "capture", NULL);
        g_autoptr(GUnixFDList) own = fds ? g_object_ref(fds) : g_unix_fd_list_new();
        GVariantBuilder local;

        if (!b) {
                g_variant_builder_init(&local, G_VARIANT_TYPE("a{sv}"));
                b = &local;
        }
        g_variant_builder_add(b, "{sv}", "stdout", g_variant_new_handle(add_fd(own, open_write(out))));
        run_to_exit(f, argv, g_variant_builder_end(b), own, 0);
        char **lines = read_lines(out);
        g_assert_cmpint(unlink(out), ==, 0);
        return lines;
}

/* A spawn that fails with @error_name whose message contains @message, creates no object,
 * starts no process, and leaves the same service answering. */
static void spawn_expect_error(CwFixture *f, const char *const *argv, GVariant *options, GUnixFDList *fds,
                               const char *error_name, const char *message) {
        g_autoptr(GError) error = NULL;
        pid_t service = cw_service_pid(f);
        guint objects = cw_list_processes_count(f);
        guint children = cw_count_children(service);

        g_autofree char *path = cw_spawn_full(f->conn, argv, options, fds, NULL, &error);
        g_assert_null(path);
        cw_assert_dbus_error(error, error_name);
        if (message && !strstr(error->message, message))
                g_error("error message '%s' does not contain '%s'", error->message, message);

        g_assert_cmpuint(cw_list_processes_count(f), ==, objects);
        g_assert_cmpuint(cw_count_children(service), ==, children);
        cw_assert_service_alive(f, service);
}

/* A stdin pipe whose write end the test keeps: cat/read in the child run until it is closed. */
static gint32 add_stdin_pipe(GUnixFDList *fds, int *ret_write_end) {
        int p[2];

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        *ret_write_end = p[1];
        return add_fd(fds, p[0]);
}

/* Spawns @argv (cat, read) with a stdin pipe; the test keeps the write end in *@ret_write_end. */
static char *spawn_with_stdin_pipe(GDBusConnection *conn, const char *const *argv, int *ret_write_end,
                                   guint32 *ret_pid) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariant *options = cw_one_option("stdin", g_variant_new_handle(add_stdin_pipe(fds, ret_write_end)));
        char *path = cw_spawn_full(conn, argv, options, fds, ret_pid, &error);

        g_assert_no_error(error);
        return path;
}

static char *realpath_dup(const char *path) {
        char *r = realpath(path, NULL);
        g_assert_nonnull(r);
        char *copy = g_strdup(r);
        free(r);
        return copy;
}

/* No such process any more, not even a zombie: its parent has reaped it. */
static gboolean pid_is_reaped(gpointer data) {
        g_autofree char *p = g_strdup_printf("/proc/%d", GPOINTER_TO_INT(data));
        return !g_file_test(p, G_FILE_TEST_EXISTS);
}

static gboolean file_not_empty(gpointer data) {
        g_autofree char *text = NULL;
        return g_file_get_contents(data, &text, NULL, NULL) && text[0];
}

/* ---- cwd ---- */

/* `cwd` is the child's working directory (as the kernel sees it, /proc/self/cwd); without
 * it the child starts in the home directory of the user it runs as. */
static void test_cwd(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *sub = g_build_filename(dir, "sub dir", NULL);
        const char *argv[] = { "readlink", "/proc/self/cwd", NULL };
        GVariantBuilder b;

        g_assert_cmpint(mkdir(sub, 0700), ==, 0);
        g_autofree char *real_sub = realpath_dup(sub);
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "cwd", g_variant_new_string(sub));
        g_auto(GStrv) lines = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(lines), ==, 1);
        g_assert_cmpstr(lines[0], ==, real_sub);
        g_assert_cmpint(rmdir(sub), ==, 0);

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "cwd", g_variant_new_string("/"));
        g_auto(GStrv) root = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(root), ==, 1);
        g_assert_cmpstr(root[0], ==, "/");

        /* The default: the home directory of the service's user (it runs as us). */
        struct passwd *pw = getpwuid(getuid());
        g_assert_nonnull(pw);
        g_autofree char *home = realpath_dup(pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
        g_auto(GStrv) dflt = run_capture(f, dir, argv, NULL, NULL);
        g_assert_cmpuint(g_strv_length(dflt), ==, 1);
        g_assert_cmpstr(dflt[0], ==, home);
        cw_remove_tmpdir(dir);
}

/* A cwd that cannot be entered is SpawnFailed naming it and the errno text, with no process
 * object and no process left behind. */
static void test_cwd_missing(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *missing = g_build_filename(dir, "missing", NULL);
        g_autofree char *file = g_build_filename(dir, "a-file", NULL);
        const char *argv[] = { "/bin/true", NULL };

        g_autofree char *msg1 = g_strdup_printf("chdir(%s): No such file or directory", missing);
        spawn_expect_error(f, argv, cw_one_option("cwd", g_variant_new_string(missing)), NULL,
                           CW_ERROR("SpawnFailed"), msg1);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);

        g_assert_true(g_file_set_contents(file, "", 0, NULL));
        g_autofree char *msg2 = g_strdup_printf("chdir(%s): Not a directory", file);
        spawn_expect_error(f, argv, cw_one_option("cwd", g_variant_new_string(file)), NULL,
                           CW_ERROR("SpawnFailed"), msg2);
        g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
        cw_remove_tmpdir(dir);
}

/* ---- environment ---- */

/* By default the child gets the service's environment (which came from the bus daemon, so it
 * carries the harness's CHILDWATCH_TEST_* variables) minus the bus activation variables;
 * `environment` entries are set on top, replacing a base variable of the same name. */
static void test_environment(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        const char *argv[] = { "env", NULL };
        g_autofree char *status_entry = g_strconcat("CHILDWATCH_TEST_STATUS_FILE=", f->status_file, NULL);

        g_auto(GStrv) base = run_capture(f, dir, argv, NULL, NULL);
        g_assert_true(g_strv_contains((const char *const *) base, status_entry));
        g_assert_true(g_strv_contains((const char *const *) base, "CHILDWATCH_TEST_ARGS="));
        g_assert_cmpuint(count_with_prefix(base, "DBUS_STARTER_ADDRESS="), ==, 0);
        g_assert_cmpuint(count_with_prefix(base, "DBUS_STARTER_BUS_TYPE="), ==, 0);
        g_assert_cmpuint(count_with_prefix(base, "CWOPT_"), ==, 0);

        const char *set[] = {
                "CWOPT_ONE=1", "CWOPT_TWO=two words", "CWOPT_EMPTY=", "CWOPT_EQ=a=b",
                "CHILDWATCH_TEST_ARGS=overridden", NULL,
        };
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "environment", g_variant_new_strv(set, -1));
        g_auto(GStrv) lines = run_capture(f, dir, argv, &b, NULL);
        for (const char *const *s = set; *s; s++)
                g_assert_true(g_strv_contains((const char *const *) lines, *s));
        g_assert_cmpuint(count_with_prefix(lines, "CHILDWATCH_TEST_ARGS="), ==, 1);
        g_assert_cmpuint(count_with_prefix(lines, "CWOPT_"), ==, 4);
        g_assert_true(g_strv_contains((const char *const *) lines, status_entry));
        /* Nothing else changed: the base plus the four new ones. */
        g_assert_cmpuint(g_strv_length(lines), ==, g_strv_length(base) + 4);
        cw_remove_tmpdir(dir);
}

/* `clear-environment` starts from an empty environment: the child sees exactly the
 * `environment` entries, or nothing at all; false is the default. */
static void test_clear_environment(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        const char *argv[] = { "env", NULL };
        GVariantBuilder b;

        const char *set[] = { "CWOPT_ONLY=1", "CWOPT_ALSO=x y", NULL };
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "clear-environment", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "environment", g_variant_new_strv(set, -1));
        g_auto(GStrv) lines = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(lines), ==, 2);
        g_assert_true(g_strv_contains((const char *const *) lines, "CWOPT_ONLY=1"));
        g_assert_true(g_strv_contains((const char *const *) lines, "CWOPT_ALSO=x y"));

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "clear-environment", g_variant_new_boolean(TRUE));
        g_auto(GStrv) empty = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(empty), ==, 0);

        g_autofree char *status_entry = g_strconcat("CHILDWATCH_TEST_STATUS_FILE=", f->status_file, NULL);
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "clear-environment", g_variant_new_boolean(FALSE));
        g_auto(GStrv) kept = run_capture(f, dir, argv, &b, NULL);
        g_assert_true(g_strv_contains((const char *const *) kept, status_entry));
        cw_remove_tmpdir(dir);
}

/* `unset-environment` removes exactly the named variables of the base environment (a name
 * that is not set is no error), and leaves the others. */
static void test_unset_environment(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        const char *argv[] = { "env", NULL };
        GVariantBuilder b;

        g_auto(GStrv) base = run_capture(f, dir, argv, NULL, NULL);
        g_assert_cmpuint(count_with_prefix(base, "CHILDWATCH_TEST_STATUS_FILE="), ==, 1);
        g_assert_cmpuint(count_with_prefix(base, "CHILDWATCH_TEST_ARGS="), ==, 1);

        const char *unset[] = {
                "CHILDWATCH_TEST_STATUS_FILE", "CWOPT_NOT_SET_ANYWHERE", "CHILDWATCH_TEST", NULL,
        };
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "unset-environment", g_variant_new_strv(unset, -1));
        g_auto(GStrv) lines = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(count_with_prefix(lines, "CHILDWATCH_TEST_STATUS_FILE="), ==, 0);
        g_assert_cmpuint(count_with_prefix(lines, "CHILDWATCH_TEST_ARGS="), ==, 1);
        g_assert_cmpuint(g_strv_length(lines), ==, g_strv_length(base) - 1);

        /* Together with clear-environment there is nothing to remove, and no error. */
        const char *set[] = { "CWOPT_KEEP=1", NULL };
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "clear-environment", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "unset-environment", g_variant_new_strv(unset, -1));
        g_variant_builder_add(&b, "{sv}", "environment", g_variant_new_strv(set, -1));
        g_auto(GStrv) only = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(only), ==, 1);
        g_assert_cmpstr(only[0], ==, "CWOPT_KEEP=1");
        cw_remove_tmpdir(dir);
}

/* ---- descriptors ---- */

/* stdin, stdout and stderr are the descriptors passed: the child reads the given input and
 * its two outputs land where they were sent, also both in one file. */
static void test_stdio(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *out = g_build_filename(dir, "out", NULL);
        g_autofree char *err = g_build_filename(dir, "err", NULL);
        const char *argv[] = { "sh", "-c", "cat; echo to-stderr >&2; echo to-stdout", NULL };
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        gint32 in = add_fd(fds, file_with(dir, "in", "line one\nline two\n"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(in));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(add_fd(fds, open_write(out))));
        g_variant_builder_add(&b, "{sv}", "stderr", g_variant_new_handle(add_fd(fds, open_write(err))));
        run_to_exit(f, argv, g_variant_builder_end(&b), fds, 0);

        g_autofree char *out_text = read_text(out);
        g_autofree char *err_text = read_text(err);
        g_assert_cmpstr(out_text, ==, "line one\nline two\nto-stdout\n");
        g_assert_cmpstr(err_text, ==, "to-stderr\n");

        /* One descriptor for both outputs (O_APPEND keeps the order). */
        g_autofree char *both = g_build_filename(dir, "both", NULL);
        int fd = open(both, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        g_autoptr(GUnixFDList) fds2 = g_unix_fd_list_new();
        gint32 idx = add_fd(fds2, fd);
        const char *argv2[] = { "sh", "-c", "echo one; echo two >&2; echo three", NULL };
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(idx));
        g_variant_builder_add(&b, "{sv}", "stderr", g_variant_new_handle(idx));
        run_to_exit(f, argv2, g_variant_builder_end(&b), fds2, 0);
        g_autofree char *both_text = read_text(both);
        g_assert_cmpstr(both_text, ==, "one\ntwo\nthree\n");
        cw_remove_tmpdir(dir);
}

/* Reads @fd until EOF or until @timeout_ms passed; returns the data, NULL on timeout. */
static char *read_to_eof(int fd, guint timeout_ms) {
        g_autoptr(GString) s = g_string_new(NULL);
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        for (;;) {
                gint64 left = (deadline - g_get_monotonic_time()) / 1000;
                if (left <= 0)
                        return NULL;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(r, >=, 0);
                if (r == 0)
                        return NULL;
                char buf[4096];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                g_assert_cmpint(n, >=, 0);
                if (n == 0)
                        return g_string_free(g_steal_pointer(&s), FALSE);
                g_string_append_len(s, buf, n);
        }
}

/* Pipes as stdin and stdout: the child echoes what we write, and once it has ended the
 * stdout pipe reaches EOF, so the service kept no copy of the descriptors it passed on. */
static void test_stdio_pipes(CwFixture *f, gconstpointer data) {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        int in[2], out[2];
        const char *argv[] = { "cat", NULL };
        g_autoptr(GError) error = NULL;
        GVariantBuilder b;

        g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
        g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(add_fd(fds, in[0])));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(add_fd(fds, out[1])));
        g_autofree char *path = cw_spawn_full(f->conn, argv, g_variant_builder_end(&b), fds, NULL, &error);
        g_assert_no_error(error);
        g_clear_object(&fds); /* our duplicates go, only the child holds the other ends */

        g_assert_cmpint(write(in[1], "ping\n", 5), ==, 5);
        close(in[1]);
        g_autofree char *text = read_to_eof(out[0], cw_timeout_ms(10000));
        if (!text)
                g_error("no EOF on the child's stdout: someone else still holds the write end");
        g_assert_cmpstr(text, ==, "ping\n");
        close(out[0]);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        cw_release(f->conn, path);
}

/* Without stdin/stdout/stderr options all three are /dev/null. (The output goes through a
 * pipeline: dash applies a simple command's redirections in the shell itself while the
 * command runs, so `readlink ... >&3` would see the shell's fd 1 moved.) */
static void test_stdio_default(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *out = g_build_filename(dir, "out", NULL);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        const char *argv[] = {
                "sh", "-c", "readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 | cat >&3; exit 0", NULL,
        };
        GVariantBuilder b, m;

        g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
        g_variant_builder_add(&m, "{uh}", 3, add_fd(fds, open_write(out)));
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&m));
        run_to_exit(f, argv, g_variant_builder_end(&b), fds, 0);

        g_autofree char *text = read_text(out);
        g_assert_cmpstr(text, ==, "/dev/null\n/dev/null\n/dev/null\n");
        cw_remove_tmpdir(dir);
}

/* `fds` puts each passed descriptor at its target number, whatever the order and even when
 * targets and the numbers the descriptors arrive with are swapped: here the entries go
 * 8, 7, 4, 3 and the service's helper receives them as consecutive numbers from 4 up (after
 * the three stdio ones), so target 8 comes from 7, target 7 from 8, target 4 from 9. One
 * descriptor may go to two targets, and a target can be written as well as read. */
static void test_fds_mapping(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *out = g_build_filename(dir, "out", NULL);
        g_autofree char *side = g_build_filename(dir, "side", NULL);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        const char *argv[] = {
                "sh", "-c", "cat <&3; cat <&4; cat <&7; cat <&8; cat <&5; echo written-to-9 >&9", NULL,
        };
        GVariantBuilder b, m;

        gint32 eight = add_fd(fds, file_with(dir, "eight", "content-for-8\n"));
        gint32 seven = add_fd(fds, file_with(dir, "seven", "content-for-7\n"));
        gint32 four = add_fd(fds, file_with(dir, "four", "content-for-4\n"));
        gint32 three = add_fd(fds, file_with(dir, "three", "content-for-3\n"));
        gint32 twice = add_fd(fds, file_with(dir, "twice", "content-for-5-and-6\n"));
        gint32 nine = add_fd(fds, open_write(side));

        g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
        g_variant_builder_add(&m, "{uh}", 8, eight);
        g_variant_builder_add(&m, "{uh}", 7, seven);
        g_variant_builder_add(&m, "{uh}", 4, four);
        g_variant_builder_add(&m, "{uh}", 3, three);
        g_variant_builder_add(&m, "{uh}", 9, nine);
        g_variant_builder_add(&m, "{uh}", 5, twice);
        g_variant_builder_add(&m, "{uh}", 6, twice);
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&m));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(add_fd(fds, open_write(out))));
        run_to_exit(f, argv, g_variant_builder_end(&b), fds, 0);

        g_autofree char *text = read_text(out);
        g_assert_cmpstr(text, ==,
                        "content-for-3\ncontent-for-4\ncontent-for-7\ncontent-for-8\ncontent-for-5-and-6\n");
        g_autofree char *side_text = read_text(side);
        g_assert_cmpstr(side_text, ==, "written-to-9\n");

        /* 5 and 6 are the same open file description: 5 consumed it, 6 is at its end. */
        const char *argv2[] = { "sh", "-c", "cat <&5; cat <&6", NULL };
        g_autoptr(GUnixFDList) fds2 = g_unix_fd_list_new();
        gint32 shared = add_fd(fds2, file_with(dir, "shared", "once\n"));
        g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
        g_variant_builder_add(&m, "{uh}", 6, shared);
        g_variant_builder_add(&m, "{uh}", 5, shared);
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&m));
        g_auto(GStrv) lines = run_capture(f, dir, argv2, &b, fds2);
        g_assert_cmpuint(g_strv_length(lines), ==, 1);
        g_assert_cmpstr(lines[0], ==, "once");
        cw_remove_tmpdir(dir);
}

static int compare_ints(gconstpointer a, gconstpointer b) {
        int x = *(const int *) a, y = *(const int *) b;
        return x < y ? -1 : x > y;
}

/* The descriptor numbers of the child's shell (ls runs in a child of it), sorted. */
static GArray *child_fd_table(CwFixture *f, const char *dir, GVariantBuilder *b, GUnixFDList *fds) {
        const char *argv[] = { "sh", "-c", "ls /proc/$$/fd; exit 0", NULL };
        g_auto(GStrv) lines = run_capture(f, dir, argv, b, fds);
        GArray *a = g_array_new(FALSE, FALSE, sizeof(int));

        for (char **l = lines; *l; l++) {
                char *end;
                int n = (int) strtol(*l, &end, 10);
                g_assert_true(*l[0] && !*end);
                g_array_append_val(a, n);
        }
        g_array_sort(a, compare_ints);
        return a;
}

static void assert_fd_table(GArray *a, const int *expected, guint n) {
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < a->len; i++)
                g_string_append_printf(s, "%d ", g_array_index(a, int, i));
        if (a->len != n || memcmp(a->data, expected, n * sizeof(int)) != 0)
                g_error("unexpected descriptors in the child: %s", s->str);
        g_string_free(s, TRUE);
}

/* The child's fd table is exactly 0, 1, 2 and the `fds` targets: nothing of the service (bus
 * socket, pidfds of other children, signalfd, epoll, the helper's socket) leaks, also while
 * another child is watched and with descriptors open in the caller. */
static void test_fd_table(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        int wfd;

        /* Another child, so the service holds a pidfd. */
        const char *cat[] = { "cat", NULL };
        g_autofree char *other = spawn_with_stdin_pipe(f->conn, cat, &wfd, NULL);

        /* And a few descriptors open in this process that are not passed. */
        int extra[3];
        for (int i = 0; i < 3; i++) {
                extra[i] = open("/dev/null", O_RDONLY);
                g_assert_cmpint(extra[i], >=, 0);
        }

        g_autoptr(GArray) plain = child_fd_table(f, dir, NULL, NULL);
        static const int expect_plain[] = { 0, 1, 2 };
        assert_fd_table(plain, expect_plain, G_N_ELEMENTS(expect_plain));

        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariantBuilder b, m;
        g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
        g_variant_builder_add(&m, "{uh}", 3, add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC)));
        g_variant_builder_add(&m, "{uh}", 7, add_fd(fds, open("/dev/zero", O_RDONLY | O_CLOEXEC)));
        g_variant_builder_add(&m, "{uh}", 100, add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC)));
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&m));
        g_autoptr(GArray) with_fds = child_fd_table(f, dir, &b, fds);
        static const int expect_fds[] = { 0, 1, 2, 3, 7, 100 };
        assert_fd_table(with_fds, expect_fds, G_N_ELEMENTS(expect_fds));

        for (int i = 0; i < 3; i++)
                close(extra[i]);
        close(wfd);
        g_assert_cmpint(cw_wait_for_event(f, other, "exited", 10000), ==, 0);
        cw_release(f->conn, other);
        cw_remove_tmpdir(dir);
}

/* The spawn helper's pid: the service's child named childwatch-spawn (comm keeps 15 bytes). */
static pid_t find_helper(pid_t service) {
        g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                if (!g_ascii_isdigit(name[0]))
                        continue;
                pid_t pid = (pid_t) atoi(name);
                g_autofree char *comm_path = g_strdup_printf("/proc/%d/comm", (int) pid);
                g_autofree char *comm = NULL;
                CwProcStat st;
                if (!g_file_get_contents(comm_path, &comm, NULL, NULL) ||
                    !g_str_equal(g_strstrip(comm), "childwatch-spaw"))
                        continue;
                g_assert_true(cw_proc_stat(pid, &st));
                if (st.ppid == service)
                        return pid;
        }
        return 0;
}

static guint64 soft_nofile_of(pid_t pid) {
        g_autofree char *p = g_strdup_printf("/proc/%d/limits", (int) pid);
        g_autofree char *text = read_text(p);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "Max open files")) {
                        const char *v = *l + strlen("Max open files");
                        while (*v == ' ')
                                v++;
                        if (g_str_has_prefix(v, "unlimited"))
                                return G_MAXUINT64;
                        return g_ascii_strtoull(v, NULL, 10);
                }
        g_assert_not_reached();
}

/* The highest target the parser takes, 65535, is accepted; whether the child can have it
 * depends on the RLIMIT_NOFILE the spawned programs inherit (the helper's): the last number
 * below it works (the service needs no spare number above the highest target to shuffle
 * the descriptors); at or above it, SpawnFailed about the descriptors and nothing is left. */
static void test_fds_high_target(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        const char *argv_true[] = { "/bin/true", NULL };
        /* Once it has served a spawn, the helper has named itself. */
        run_to_exit(f, argv_true, NULL, NULL, 0);
        pid_t helper = find_helper(cw_service_pid(f));
        g_assert_cmpint(helper, >, 0);
        guint64 limit = soft_nofile_of(helper);
        /* Under valgrind the helper (and a child until its execve()) runs emulated, and
         * valgrind keeps the top few descriptor numbers for itself. */
        if (g_getenv("CHILDWATCH_TEST_VALGRIND"))
                limit -= 64;
        const guint32 targets[] = { MIN(limit, 65536) - 1, 65535 };

        for (size_t i = 0; i < G_N_ELEMENTS(targets); i++) {
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                GVariantBuilder b, m;
                g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
                gint32 idx = add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC));
                g_variant_builder_add(&m, "{uh}", targets[i], idx);
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "fds", g_variant_builder_end(&m));
                if (targets[i] < limit) {
                        g_autoptr(GArray) table = child_fd_table(f, dir, &b, fds);
                        const int expect[] = { 0, 1, 2, (int) targets[i] };
                        assert_fd_table(table, expect, G_N_ELEMENTS(expect));
                } else {
                        const char *argv[] = { "/bin/true", NULL };
                        spawn_expect_error(f, argv, g_variant_builder_end(&b), fds, CW_ERROR("SpawnFailed"),
                                           "Cannot set up file descriptors");
                        g_assert_cmpuint(cw_count_children(cw_service_pid(f)), ==, 0);
                }
        }
        cw_remove_tmpdir(dir);
}

/* ---- new-session ---- */

/* With `new-session` the child leads its own session and process group (sid == pgid == pid)
 * and SendSignal to its process group reaches a grandchild; without it, it stays in the
 * service's session and group, and a process-group SendSignal is InvalidArgs. */
static void test_new_session(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        const char *argv[] = { "sh", "-c", "echo $$ $(cut -d' ' -f5,6 /proc/$$/stat)", NULL };
        pid_t service = cw_service_pid(f);
        CwProcStat sst;
        int pid, pgrp, session;
        GVariantBuilder b;

        g_assert_true(cw_proc_stat(service, &sst));

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "new-session", g_variant_new_boolean(TRUE));
        g_auto(GStrv) lead = run_capture(f, dir, argv, &b, NULL);
        g_assert_cmpuint(g_strv_length(lead), ==, 1);
        g_assert_cmpint(sscanf(lead[0], "%d %d %d", &pid, &pgrp, &session), ==, 3);
        g_assert_cmpint(pgrp, ==, pid);
        g_assert_cmpint(session, ==, pid);

        g_auto(GStrv) plain = run_capture(f, dir, argv, NULL, NULL);
        g_assert_cmpuint(g_strv_length(plain), ==, 1);
        g_assert_cmpint(sscanf(plain[0], "%d %d %d", &pid, &pgrp, &session), ==, 3);
        g_assert_cmpint(session, ==, sst.session);
        g_assert_cmpint(pgrp, ==, sst.pgrp);
        g_assert_cmpint(session, !=, pid);
        g_assert_cmpint(pgrp, !=, pid);

        /* The group: a shell that waits for its own child; both end on one SIGTERM. */
        g_autofree char *out = g_build_filename(dir, "grandchild", NULL);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        const char *tree[] = { "sh", "-c", "sleep 60 & echo $!; wait", NULL };
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "new-session", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(add_fd(fds, open_write(out))));
        g_autofree char *path = cw_spawn_full(f->conn, tree, g_variant_builder_end(&b), fds, NULL, &error);
        g_assert_no_error(error);
        if (!cw_wait_until(file_not_empty, out, cw_timeout_ms(10000)))
                g_error("the shell did not start its child in time");
        g_autofree char *text = read_text(out);
        pid_t grandchild = (pid_t) atoi(text);
        g_assert_cmpint(grandchild, >, 0);
        g_autoptr(GVariant) r = cw_call(f->conn, path, CW_PROCESS_IFACE, "SendSignal",
                                        g_variant_new("(ib)", SIGTERM, TRUE), "()", &error);
        (void) r; /* held for its cleanup only */
        g_assert_no_error(error);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, SIGTERM);
        if (!cw_wait_until(cw_pid_gone, GINT_TO_POINTER(grandchild), cw_timeout_ms(10000)))
                g_error("the grandchild %d did not get the group's signal", (int) grandchild);
        cw_release(f->conn, path);

        /* Without new-session there is no group of its own to signal. */
        int wfd;
        const char *cat[] = { "cat", NULL };
        g_autofree char *path2 = spawn_with_stdin_pipe(f->conn, cat, &wfd, NULL);
        g_autoptr(GVariant) r2 = cw_call(f->conn, path2, CW_PROCESS_IFACE, "SendSignal",
                                         g_variant_new("(ib)", SIGTERM, TRUE), "()", &error);
        g_assert_null(r2);
        cw_assert_dbus_error(error, INVALID_ARGS);
        g_autofree char *still = cw_get_state(f, path2);
        g_assert_cmpstr(still, ==, "running");
        close(wfd);
        g_assert_cmpint(cw_wait_for_event(f, path2, "exited", 10000), ==, 0);
        cw_release(f->conn, path2);
        cw_remove_tmpdir(dir);
}

/* ---- description, events, kill options ---- */

/* `description` is the Description property and the listing's text; without it, argv joined. */
static void test_description(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        int wfd1, wfd2;
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(add_stdin_pipe(fds, &wfd1)));
        g_variant_builder_add(&b, "{sv}", "description", g_variant_new_string("a cat, described — ü"));
        const char *argv[] = { "cat", "-u", NULL };
        g_autofree char *path = cw_spawn_full(f->conn, argv, g_variant_builder_end(&b), fds, NULL, &error);
        g_assert_no_error(error);

        g_autofree char *path2 = spawn_with_stdin_pipe(f->conn, argv, &wfd2, NULL);

        g_autoptr(GVariant) d1 = cw_get_property(f->conn, path, CW_PROCESS_IFACE, "Description");
        g_autoptr(GVariant) d2 = cw_get_property(f->conn, path2, CW_PROCESS_IFACE, "Description");
        g_assert_cmpstr(g_variant_get_string(d1, NULL), ==, "a cat, described — ü");
        g_assert_cmpstr(g_variant_get_string(d2, NULL), ==, "cat -u");

        g_autoptr(GVariant) lr = cw_call(f->conn, CW_MANAGER_PATH, CW_MANAGER_IFACE, "ListProcesses", NULL,
                                         "(a(ouss))", &error);
        g_assert_no_error(error);
        g_autoptr(GVariantIter) it = NULL;
        const char *o, *st, *d;
        guint32 pid;
        guint seen = 0;
        g_variant_get(lr, "(a(ouss))", &it);
        while (g_variant_iter_next(it, "(&ou&s&s)", &o, &pid, &st, &d)) {
                if (g_str_equal(o, path)) {
                        g_assert_cmpstr(d, ==, "a cat, described — ü");
                        seen++;
                } else if (g_str_equal(o, path2)) {
                        g_assert_cmpstr(d, ==, "cat -u");
                        seen++;
                }
        }
        g_assert_cmpuint(seen, ==, 2);

        close(wfd1);
        close(wfd2);
        g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 0);
        g_assert_cmpint(cw_wait_for_event(f, path2, "exited", 10000), ==, 0);
        cw_release(f->conn, path);
        cw_release(f->conn, path2);
}

/* `events` takes any subset of exited/stopped/continued, and "exited" is reported whatever
 * the list says; an unknown name is InvalidArgs naming it. */
static void test_events(CwFixture *f, gconstpointer data) {
        static const char *const lists[][4] = {
                { NULL },
                { "exited", NULL },
                { "stopped", NULL },
                { "continued", "stopped", NULL },
                { "exited", "stopped", "continued", NULL },
        };
        const char *argv[] = { "sh", "-c", "exit 3", NULL };

        for (size_t i = 0; i < G_N_ELEMENTS(lists); i++) {
                g_autoptr(GError) error = NULL;
                GVariant *options = cw_one_option("events", g_variant_new_strv(lists[i], -1));
                g_autofree char *path = cw_spawn_full(f->conn, argv, options, NULL, NULL, &error);
                g_assert_no_error(error);
                g_assert_cmpint(cw_wait_for_event(f, path, "exited", 10000), ==, 3);
                g_assert_cmpuint(cw_count_events(f, path, NULL), ==, 1);
                cw_release(f->conn, path);
        }

        const char *bogus[] = { "exited", "bogus", NULL };
        spawn_expect_error(f, argv, cw_one_option("events", g_variant_new_strv(bogus, -1)), NULL, INVALID_ARGS,
                           "'bogus'");
        const char *upper[] = { "Stopped", NULL };
        spawn_expect_error(f, argv, cw_one_option("events", g_variant_new_strv(upper, -1)), NULL, INVALID_ARGS,
                           "'events'");
        const char *empty[] = { "", NULL };
        spawn_expect_error(f, argv, cw_one_option("events", g_variant_new_strv(empty, -1)), NULL, INVALID_ARGS,
                           "'events'");
}

/* `kill-signal` is what Kill sends first: 1 and SIGRTMAX are taken, SIGINT ends a cat as
 * "killed 2" where the default ends it with 15; 0, 65 and -1 are InvalidArgs. Under valgrind,
 * which keeps SIGRTMAX for itself and fails kill() with it, Kill escalates to SIGKILL at once
 * instead of waiting for a timeout that no signal started. */
static void test_kill_signal(CwFixture *f, gconstpointer data) {
        static const int accepted[] = { 1, SIGINT, 64 };
        const char *cat[] = { "cat", NULL };

        for (size_t i = 0; i < G_N_ELEMENTS(accepted); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                int wfd;
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(add_stdin_pipe(fds, &wfd)));
                g_variant_builder_add(&b, "{sv}", "kill-signal", g_variant_new_int32(accepted[i]));
                g_autofree char *path = cw_spawn_full(f->conn, cat, g_variant_builder_end(&b), fds, NULL,
                                                      &error);
                g_assert_no_error(error);

                g_autofree char *state = NULL;
                int status;
                cw_kill(f->conn, path, cw_timeout_ms(10000) * (guint64) 1000, &state, &status);
                g_assert_cmpstr(state, ==, "killed");
                int expected = accepted[i] == SIGRTMAX && cw_under_valgrind() ? SIGKILL : accepted[i];
                g_assert_cmpint(status, ==, expected);
                close(wfd);
                cw_release(f->conn, path);
        }

        /* The default is SIGTERM. */
        {
                int wfd;
                g_autofree char *path = spawn_with_stdin_pipe(f->conn, cat, &wfd, NULL);
                g_autofree char *state = NULL;
                int status;
                cw_kill(f->conn, path, cw_timeout_ms(10000) * (guint64) 1000, &state, &status);
                g_assert_cmpstr(state, ==, "killed");
                g_assert_cmpint(status, ==, SIGTERM);
                close(wfd);
                cw_release(f->conn, path);
        }

        static const int rejected[] = { 0, 65, -1, G_MININT32, G_MAXINT32 };
        for (size_t i = 0; i < G_N_ELEMENTS(rejected); i++)
                spawn_expect_error(f, cat, cw_one_option("kill-signal", g_variant_new_int32(rejected[i])), NULL,
                                   INVALID_ARGS, "'kill-signal'");
}

/* `watch-bus` stops the process when its client leaves, with `kill-signal` and then, after
 * `kill-timeout-usec` (here 200 ms, not the default 5 s), SIGKILL: a child that ignores
 * SIGTERM ends "killed 9" within that grace. Without watch-bus, a process of the same client
 * keeps running. Any kill-timeout-usec value is taken. */
static void test_watch_bus_kill_timeout(CwFixture *f, gconstpointer data) {
        g_autofree char *dir = cw_make_tmpdir();
        g_autofree char *ready = g_build_filename(dir, "ready", NULL);
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn2 = cw_fixture_new_connection(f);
        const char *stubborn[] = { "sh", "-c", "trap '' TERM; echo ready; read x", NULL };
        const char *cat[] = { "cat", NULL };
        int wfd1, wfd2;
        GVariantBuilder b;

        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(add_stdin_pipe(fds, &wfd1)));
        g_variant_builder_add(&b, "{sv}", "stdout", g_variant_new_handle(add_fd(fds, open_write(ready))));
        g_variant_builder_add(&b, "{sv}", "watch-bus", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "kill-timeout-usec", g_variant_new_uint64(200000));
        g_autofree char *path = cw_spawn_full(conn2, stubborn, g_variant_builder_end(&b), fds, NULL, &error);
        g_assert_no_error(error);

        g_autofree char *path2 = spawn_with_stdin_pipe(conn2, cat, &wfd2, NULL);

        g_assert_true(cw_get_bool(f->conn, path, CW_PROCESS_IFACE, "WatchBus"));
        /* The trap is set once it has said so. */
        if (!cw_wait_until(file_not_empty, ready, cw_timeout_ms(10000)))
                g_error("the child did not get ready in time");

        gint64 left = g_get_monotonic_time();
        g_assert_true(g_dbus_connection_close_sync(conn2, NULL, &error));
        g_assert_no_error(error);
        g_object_unref(conn2);
        g_assert_cmpint(cw_wait_for_event(f, path, "killed", 10000), ==, SIGKILL);
        gint64 took = g_get_monotonic_time() - left;
        g_assert_cmpint(took, >=, 150000);                     /* it did wait for the grace */
        g_assert_cmpint(took, <, (gint64) cw_timeout_ms(3000) * 1000); /* and not the default 5 s */

        g_autofree char *state2 = cw_get_state(f, path2);
        g_assert_cmpstr(state2, ==, "running");
        g_assert_cmpuint(cw_count_events(f, path2, NULL), ==, 0);
        close(wfd1);
        close(wfd2);
        g_assert_cmpint(cw_wait_for_event(f, path2, "exited", 10000), ==, 0);
        cw_release(f->conn, path);
        cw_release(f->conn, path2);

        static const guint64 timeouts[] = { 0, 1, G_MAXUINT64 };
        const char *argv[] = { "/bin/true", NULL };
        for (size_t i = 0; i < G_N_ELEMENTS(timeouts); i++) {
                GVariant *options = cw_one_option("kill-timeout-usec", g_variant_new_uint64(timeouts[i]));
                run_to_exit(f, argv, options, NULL, 0);
        }
        cw_remove_tmpdir(dir);
}

/* `kill-on-release`: Release of a running process kills and reaps it. Without it the process
 * keeps running after Release (its object gone) and is still reaped when it ends. */
static void test_kill_on_release(CwFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        const char *cat[] = { "cat", NULL };
        pid_t service = cw_service_pid(f);
        guint32 pid1, pid2;
        int wfd1, wfd2;

        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "stdin", g_variant_new_handle(add_stdin_pipe(fds, &wfd1)));
        g_variant_builder_add(&b, "{sv}", "kill-on-release", g_variant_new_boolean(TRUE));
        g_autofree char *path1 = cw_spawn_full(f->conn, cat, g_variant_builder_end(&b), fds, &pid1, &error);
        g_assert_no_error(error);
        g_assert_true(cw_get_bool(f->conn, path1, CW_PROCESS_IFACE, "KillOnRelease"));
        cw_release(f->conn, path1);
        if (!cw_wait_until(pid_is_reaped, GINT_TO_POINTER((int) pid1), cw_timeout_ms(10000)))
                g_error("a kill-on-release process survived its Release, or was not reaped");
        close(wfd1);

        g_autofree char *path2 = spawn_with_stdin_pipe(f->conn, cat, &wfd2, &pid2);
        g_assert_false(cw_get_bool(f->conn, path2, CW_PROCESS_IFACE, "KillOnRelease"));
        cw_release(f->conn, path2);
        g_autoptr(GVariant) gone = cw_call(f->conn, path2, "org.freedesktop.DBus.Properties", "Get",
                                           g_variant_new("(ss)", CW_PROCESS_IFACE, "State"), "(v)", &error);
        g_assert_null(gone);
        cw_assert_dbus_error(error, "org.freedesktop.DBus.Error.UnknownObject");
        g_clear_error(&error);
        CwProcStat st;
        g_assert_true(cw_proc_stat((pid_t) pid2, &st));
        g_assert_cmpint(st.ppid, ==, service);
        g_assert_cmpint(st.state, !=, 'Z');

        /* It ends on its own: the service still reaps it. */
        close(wfd2);
        if (!cw_wait_until(pid_is_reaped, GINT_TO_POINTER((int) pid2), cw_timeout_ms(10000)))
                g_error("the released process did not end, or was not reaped");
        g_assert_cmpuint(cw_count_zombies(service), ==, 0);
        g_assert_cmpuint(cw_count_children(service), ==, 0);
        cw_assert_service_alive(f, service);
}

/* ---- bad options ---- */

/* An unknown key (also one differing only in case) is InvalidArgs naming it. */
static void test_bad_unknown_key(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        static const char *const keys[] = { "no-such-option", "CWD", "env", "", "fds " };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                g_autofree char *quoted = g_strdup_printf("'%s'", keys[i]);
                spawn_expect_error(f, argv, cw_one_option(keys[i], g_variant_new_string("/")), NULL,
                                   INVALID_ARGS, quoted);
        }
}

/* A value of the wrong type, for every key, is InvalidArgs naming the key. */
static void test_bad_wrong_type(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        const char *strv[] = { "A=1", NULL };
        const char *objv[] = { "/a", NULL };
        struct {
                const char *key;
                GVariant *value;
        } cases[] = {
                { "cwd", g_variant_new_int32(1) },
                { "cwd", g_variant_new_object_path("/") },
                { "environment", g_variant_new_string("A=1") },
                { "environment", g_variant_new_objv(objv, -1) },
                { "clear-environment", g_variant_new_string("true") },
                { "clear-environment", g_variant_new_int32(1) },
                { "unset-environment", g_variant_new_string("A") },
                { "stdin", g_variant_new_int32(0) },
                { "stdout", g_variant_new_uint32(1) },
                { "stderr", g_variant_new_string("/dev/null") },
                { "fds", g_variant_new_strv(strv, -1) },
                { "fds", g_variant_new_parsed("@a{ui} {3: 0}") },
                { "new-session", g_variant_new_int32(1) },
                { "events", g_variant_new_string("exited") },
                { "watch-bus", g_variant_new_string("yes") },
                { "kill-on-release", g_variant_new_uint32(1) },
                { "kill-signal", g_variant_new_uint32(9) },
                { "kill-signal", g_variant_new_int64(9) },
                { "kill-timeout-usec", g_variant_new_int32(5) },
                { "kill-timeout-usec", g_variant_new_uint32(5) },
                { "description", g_variant_new_strv(strv, -1) },
                { "description", g_variant_new_variant(g_variant_new_string("nested")) },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *quoted = g_strdup_printf("'%s'", cases[i].key);
                spawn_expect_error(f, argv, cw_one_option(cases[i].key, cases[i].value), NULL, INVALID_ARGS,
                                   quoted);
        }
}

/* The same key twice is InvalidArgs naming it, even with equal values. */
static void test_bad_duplicate_key(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        static const char *const keys[] = { "description", "cwd", "new-session" };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
                GVariant *v = g_str_equal(keys[i], "new-session") ? g_variant_new_boolean(FALSE)
                                                                  : g_variant_new_string("/");
                g_variant_ref_sink(v);
                g_variant_builder_add(&b, "{sv}", keys[i], v);
                g_variant_builder_add(&b, "{sv}", keys[i], v);
                g_variant_unref(v);
                g_autofree char *quoted = g_strdup_printf("'%s'", keys[i]);
                spawn_expect_error(f, argv, g_variant_builder_end(&b), NULL, INVALID_ARGS, quoted);
        }
}

/* A relative or empty cwd is InvalidArgs (not SpawnFailed: it is never tried). */
static void test_bad_relative_cwd(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        static const char *const dirs[] = { "tmp", ".", "", "../" };

        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++)
                spawn_expect_error(f, argv, cw_one_option("cwd", g_variant_new_string(dirs[i])), NULL,
                                   INVALID_ARGS, "'cwd'");
}

/* `environment` entries must be NAME=VALUE and `unset-environment` entries plain names:
 * anything else is InvalidArgs naming the key and the entry. */
static void test_bad_environment(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        static const char *const bad_set[] = { "NOEQUALS", "=value", "" };
        static const char *const bad_unset[] = { "A=B", "", "=" };

        for (size_t i = 0; i < G_N_ELEMENTS(bad_set); i++) {
                const char *l[] = { "GOOD=1", bad_set[i], NULL };
                g_autofree char *quoted = g_strdup_printf("'%s'", bad_set[i]);
                spawn_expect_error(f, argv, cw_one_option("environment", g_variant_new_strv(l, -1)), NULL,
                                   INVALID_ARGS, "'environment'");
                spawn_expect_error(f, argv, cw_one_option("environment", g_variant_new_strv(l, -1)), NULL,
                                   INVALID_ARGS, quoted);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad_unset); i++) {
                const char *l[] = { "GOOD", bad_unset[i], NULL };
                g_autofree char *quoted = g_strdup_printf("'%s'", bad_unset[i]);
                spawn_expect_error(f, argv, cw_one_option("unset-environment", g_variant_new_strv(l, -1)), NULL,
                                   INVALID_ARGS, "'unset-environment'");
                spawn_expect_error(f, argv, cw_one_option("unset-environment", g_variant_new_strv(l, -1)), NULL,
                                   INVALID_ARGS, quoted);
        }
}

/* `fds` targets below 3 or above 65535, or given twice, are InvalidArgs naming `fds`. */
static void test_bad_fds(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        static const guint32 bad[] = { 0, 1, 2, 65536, 70000, G_MAXUINT32 };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                GVariantBuilder m;
                g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
                g_variant_builder_add(&m, "{uh}", 5, add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC)));
                gint32 idx = add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC));
                g_variant_builder_add(&m, "{uh}", bad[i], idx);
                spawn_expect_error(f, argv, cw_one_option("fds", g_variant_builder_end(&m)), fds, INVALID_ARGS,
                                   "'fds'");
        }

        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        GVariantBuilder m;
        g_variant_builder_init(&m, G_VARIANT_TYPE("a{uh}"));
        g_variant_builder_add(&m, "{uh}", 4, add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC)));
        g_variant_builder_add(&m, "{uh}", 6, add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC)));
        g_variant_builder_add(&m, "{uh}", 4, add_fd(fds, open("/dev/zero", O_RDONLY | O_CLOEXEC)));
        spawn_expect_error(f, argv, cw_one_option("fds", g_variant_builder_end(&m)), fds, INVALID_ARGS,
                           "twice");
}

/* A handle that points past the descriptors sent with the message is a malformed message:
 * refused with a D-Bus error (sd-bus answers InconsistentMessage, EBADMSG; InvalidArgs would
 * do as well), for stdio and for `fds`, nothing starts and the service stays up. */
static void test_bad_handle_index(CwFixture *f, gconstpointer data) {
        const char *argv[] = { "/bin/true", NULL };
        pid_t service = cw_service_pid(f);
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        add_fd(fds, open("/dev/null", O_RDONLY | O_CLOEXEC));
        struct {
                GVariant *options;
                GUnixFDList *fds;
        } cases[] = {
                { cw_one_option("stdin", g_variant_new_handle(5)), fds },
                { cw_one_option("stdout", g_variant_new_handle(1)), NULL },
                { cw_one_option("fds", g_variant_new_parsed("@a{uh} {3: 7}")), fds },
                { cw_one_option("stderr", g_variant_new_handle(-1)), fds },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *path = cw_spawn_full(f->conn, argv, cases[i].options, cases[i].fds, NULL,
                                                      &error);
                g_assert_null(path);
                g_assert_nonnull(error);
                g_autofree char *remote = g_dbus_error_get_remote_error(error);
                if (g_strcmp0(remote, "org.freedesktop.DBus.Error.InconsistentMessage") != 0 &&
                    g_strcmp0(remote, INVALID_ARGS) != 0)
                        g_error("unexpected answer to a bad handle: %s", error->message);
                g_assert_cmpuint(cw_list_processes_count(f), ==, 0);
                g_assert_cmpuint(cw_count_children(service), ==, 0);
                cw_assert_service_alive(f, service);
        }
}

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
#define ADD(name, fn) \
        g_test_add("/options/" name, CwFixture, NULL, cw_fixture_setup, fn, cw_fixture_teardown)
        ADD("cwd", test_cwd);
        ADD("cwd-missing", test_cwd_missing);
        ADD("environment", test_environment);
        ADD("clear-environment", test_clear_environment);
        ADD("unset-environment", test_unset_environment);
        ADD("stdio", test_stdio);
        ADD("stdio-pipes", test_stdio_pipes);
        ADD("stdio-default", test_stdio_default);
        ADD("fds-mapping", test_fds_mapping);
        ADD("fd-table", test_fd_table);
        ADD("fds-high-target", test_fds_high_target);
        ADD("new-session", test_new_session);
        ADD("description", test_description);
        ADD("events", test_events);
        ADD("kill-signal", test_kill_signal);
        ADD("watch-bus-kill-timeout", test_watch_bus_kill_timeout);
        ADD("kill-on-release", test_kill_on_release);
        ADD("bad/unknown-key", test_bad_unknown_key);
        ADD("bad/wrong-type", test_bad_wrong_type);
        ADD("bad/duplicate-key", test_bad_duplicate_key);
        ADD("bad/relative-cwd", test_bad_relative_cwd);
        ADD("bad/environment", test_bad_environment);
        ADD("bad/fds", test_bad_fds);
        ADD("bad/handle-index", test_bad_handle_index);
#undef ADD
        return g_test_run();
}
