/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers of the childwatchctl tests: run the built childwatchctl (bounded in time, output to
 * files so that a program it starts may keep them open), follow one that keeps running, and
 * read its JSON through python3's json module.
 */

#include <gio/gio.h>

#include "cw-test.h"

typedef struct CtlResult {
        gboolean exited; /* else it was killed by term_sig */
        int status;      /* exit code when exited */
        int term_sig;
        char *out; /* stdout */
        char *err; /* stderr */
} CtlResult;

void ctl_result_clear(CtlResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtlResult, ctl_result_clear)

typedef struct CtlProc CtlProc;

/* How to start childwatchctl. */
typedef struct CtlSpawn {
        const char *address; /* prepended as --address=; NULL: none (the environment decides) */
        char **env;          /* NULL: ours */
        const char *cwd;     /* NULL: ours */
        gboolean stdin_pipe; /* else /dev/null */
        int stdin_fd, stdout_fd, stderr_fd; /* > 0: taken over as its fds 0/1/2 instead */
        const char *const *prefix; /* argv before childwatchctl (e.g. setpriv ...), or NULL */
} CtlSpawn;

/* The childwatchctl of this build. */
const char *ctl_binary(void);

/* Starts childwatchctl with @args (NULL-terminated) in the test's temporary directory @dir. */
CtlProc *ctl_start_full(const char *dir, const CtlSpawn *how, const char *const *args);
/* The same with --address= the fixture's bus. */
CtlProc *ctl_start(CwFixture *f, const char *const *args);

GPid ctl_proc_pid(CtlProc *p);
/* Its stdin pipe (with stdin_pipe). */
GOutputStream *ctl_proc_stdin(CtlProc *p);
/* What it wrote so far (read from its files now). Free with g_free(). */
char *ctl_proc_stdout(CtlProc *p);
char *ctl_proc_stderr(CtlProc *p);
/* Whether it has ended. Iterates nothing. */
gboolean ctl_proc_done(CtlProc *p);
/* Waits (bounded) until its stdout (@on_stderr: stderr) contains @text; FALSE when it ended
 * or the time is up first. */
gboolean ctl_proc_wait_for_output(CtlProc *p, const char *text, gboolean on_stderr, guint timeout_ms);
/* Waits (bounded by @timeout_ms; then SIGKILL and the test fails) until it ended; fills @r
 * and frees @p. */
void ctl_proc_finish(CtlProc *p, guint timeout_ms, CtlResult *r);

/* Runs childwatchctl --address=BUS @args to its end (bounded), stdin /dev/null. */
void ctl_run(CwFixture *f, CtlResult *r, const char *const *args);

/* Asserts that @r exited with @expected; prints its output otherwise. */
#define ctl_assert_exit(r, expected)                                                                     \
        G_STMT_START {                                                                                   \
                if (!(r)->exited || (r)->status != (expected))                                           \
                        g_error("childwatchctl: expected exit %d, got %s %d\n"                           \
                                "--- stdout:\n%s--- stderr:\n%s",                                        \
                                (expected), (r)->exited ? "exit" : "signal",                             \
                                (r)->exited ? (r)->status : (r)->term_sig, (r)->out, (r)->err);          \
        } G_STMT_END

/* Parses JSON with python3's json module (strict: no NaN, no duplicate keys) into a GVariant:
 * an object becomes a{sv}, an array av, a number int64 or double, null "nothing" (mv).
 * Asserts that @json is valid. */
GVariant *ctl_parse_json(const char *json);
/* Each line of @text (JSON lines) parsed: an av. */
GVariant *ctl_parse_json_lines(const char *text);

/* Typed lookups in a parsed JSON object; assert that the key exists with that type. */
gint64 ctl_json_int(GVariant *object, const char *key);
const char *ctl_json_str(GVariant *object, const char *key);
gboolean ctl_json_bool(GVariant *object, const char *key);
GVariant *ctl_json_get(GVariant *object, const char *key); /* any value; free it */

/* Object paths of ListProcesses() in order; free with g_ptr_array_unref(). */
GPtrArray *ctl_list_paths(GDBusConnection *conn);
/* Waits (bounded) until ListProcesses() has @n entries and the last one runs; returns its
 * path (free with g_free()) or fails the test. */
char *ctl_wait_for_running_object(CwFixture *f, guint n, guint timeout_ms);
/* The id at the end of an object path, as text. Free with g_free(). */
char *ctl_path_id_string(const char *path);
/* Waits (bounded) until /proc says @pid is in state @letter (or is not, with @negate). */
gboolean ctl_wait_for_proc_state(pid_t pid, char letter, gboolean negate, guint timeout_ms);
