/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Copying between the local terminal (or stdin/stdout) and the pty master of `run --pty`. */

#include "ctl-pty.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* After the process has ended: how long the master may stay quiet, and how long we read at
 * most, before we stop waiting for EIO (which does not come while a background process of
 * the program keeps the terminal open). Everything the program itself wrote is in the pty's
 * buffer by then, and reading it takes no time. */
#define QUIET_MS 250
#define DRAIN_MAX_MS 2000

/* What we queue for the master at most before we stop reading stdin. */
#define TO_MASTER_MAX (64 * 1024)

struct CtlPty {
        int master;
        CtlPtyFunc on_done;
        gpointer userdata;

        guint master_in;  /* source: master readable */
        guint master_out; /* source: master writable, while to_master has bytes */
        guint stdin_in;   /* source: stdin readable */
        guint quiet;      /* timeout after the end, reset by output */
        guint drain_max;  /* timeout after the end, not reset */
        GByteArray *to_master;
        gboolean stdin_done;
        gboolean stdout_gone;
        gboolean child_ended;
        gboolean done;
};

/* ---- The local terminal: raw mode, restored on every way out ----
 * Kept in globals because a fatal signal's handler and atexit() restore it too. */

static int raw_fd = -1;
static struct termios raw_saved;
static volatile sig_atomic_t raw_active;

static void terminal_restore(void) {
        if (raw_active) {
                (void) tcsetattr(raw_fd, TCSADRAIN, &raw_saved);
                raw_active = 0;
        }
}

static void terminal_on_fatal_signal(int sig) {
        /* tcsetattr() is async-signal-safe. SA_RESETHAND put the default action back, so the
         * raise() ends us as the signal would have. */
        terminal_restore();
        (void) raise(sig);
}

static void terminal_raw(void) {
        static gboolean handlers_installed;
        struct termios raw;

        if (raw_active || raw_fd < 0)
                return;
        raw = raw_saved;
        cfmakeraw(&raw);
        if (tcsetattr(raw_fd, TCSADRAIN, &raw) < 0)
                return;
        raw_active = 1;

        if (!handlers_installed) {
                /* The signals that run --wait forwards come through a signalfd and end us
                 * through the normal path; these are the others that would end us at once. */
                static const int fatal[] = { SIGSEGV, SIGBUS,    SIGFPE,  SIGILL,  SIGABRT, SIGSYS,
                                             SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGTRAP };
                struct sigaction sa = { .sa_handler = terminal_on_fatal_signal, .sa_flags = SA_RESETHAND };
                sigemptyset(&sa.sa_mask);
                for (size_t i = 0; i < G_N_ELEMENTS(fatal); i++)
                        (void) sigaction(fatal[i], &sa, NULL);
                (void) atexit(terminal_restore);
                handlers_installed = TRUE;
        }
}

gboolean ctl_pty_local_size(guint32 *ret_rows, guint32 *ret_columns) {
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
                struct winsize ws;
                if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
                        *ret_rows = ws.ws_row;
                        *ret_columns = ws.ws_col;
                        return TRUE;
                }
        }
        return FALSE;
}

/* ---- Copying ---- */

static void pty_finish(CtlPty *p) {
        if (p->done)
                return;
        p->done = TRUE;
        g_clear_handle_id(&p->master_in, g_source_remove);
        g_clear_handle_id(&p->master_out, g_source_remove);
        g_clear_handle_id(&p->stdin_in, g_source_remove);
        g_clear_handle_id(&p->quiet, g_source_remove);
        g_clear_handle_id(&p->drain_max, g_source_remove);
        if (p->on_done)
                p->on_done(p->userdata);
}

static void write_stdout(CtlPty *p, const char *buf, size_t n) {
        while (n > 0 && !p->stdout_gone) {
                ssize_t k = write(STDOUT_FILENO, buf, n);
                if (k > 0) {
                        buf += k;
                        n -= (size_t) k;
                } else if (k < 0 && errno == EINTR)
                        continue;
                else if (k < 0 && errno == EAGAIN) {
                        /* Someone made our stdout non-blocking: wait for it rather than drop output. */
                        struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };
                        (void) poll(&pfd, 1, -1);
                } else
                        /* EPIPE and the like: nobody reads any more. Keep draining the master
                         * so that the program does not block on a full terminal. */
                        p->stdout_gone = TRUE;
        }
}

static gboolean pty_on_quiet(gpointer userdata) {
        CtlPty *p = userdata;
        p->quiet = 0;
        pty_finish(p);
        return G_SOURCE_REMOVE;
}

static gboolean pty_on_drain_max(gpointer userdata) {
        CtlPty *p = userdata;
        p->drain_max = 0;
        pty_finish(p);
        return G_SOURCE_REMOVE;
}

static gboolean pty_on_master_readable(int fd, GIOCondition condition, gpointer userdata) {
        CtlPty *p = userdata;
        char buf[64 * 1024];
        ssize_t k = read(fd, buf, sizeof(buf));

        if (k > 0) {
                write_stdout(p, buf, (size_t) k);
                if (p->quiet) {
                        g_source_remove(p->quiet);
                        p->quiet = g_timeout_add(QUIET_MS, pty_on_quiet, p);
                }
                return G_SOURCE_CONTINUE;
        }
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return G_SOURCE_CONTINUE;
        /* EIO: no process has the terminal open any more, and everything written is read. */
        p->master_in = 0;
        pty_finish(p);
        return G_SOURCE_REMOVE;
}

static gboolean pty_on_stdin_readable(int fd, GIOCondition condition, gpointer userdata);

static void stdin_watch_update(CtlPty *p) {
        gboolean want = !p->stdin_done && !p->child_ended && !p->done && p->to_master->len < TO_MASTER_MAX;

        if (want && !p->stdin_in)
                p->stdin_in =
                        g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, pty_on_stdin_readable, p);
        else if (!want)
                g_clear_handle_id(&p->stdin_in, g_source_remove);
}

static gboolean pty_on_master_writable(int fd, GIOCondition condition, gpointer userdata) {
        CtlPty *p = userdata;
        ssize_t k = write(fd, p->to_master->data, p->to_master->len);

        if (k > 0)
                g_byte_array_remove_range(p->to_master, 0, (guint) k);
        else if (k < 0 && errno != EAGAIN && errno != EINTR)
                /* EIO: the terminal has no reader any more; what is queued can go nowhere. */
                g_byte_array_set_size(p->to_master, 0);
        stdin_watch_update(p);
        if (p->to_master->len > 0)
                return G_SOURCE_CONTINUE;
        p->master_out = 0;
        return G_SOURCE_REMOVE;
}

static void queue_for_master(CtlPty *p, const void *buf, size_t n) {
        g_byte_array_append(p->to_master, buf, (guint) n);
        if (!p->master_out && !p->done)
                p->master_out = g_unix_fd_add(p->master, G_IO_OUT, pty_on_master_writable, p);
}

static void stdin_ended(CtlPty *p) {
        struct termios t;

        p->stdin_done = TRUE;
        /* A terminal never ends (^D is a byte in raw mode); a pipe or file does, and the
         * program should see that, as it would without a pty: the line discipline turns
         * VEOF into an end-of-file for a reader in canonical mode. */
        if (!isatty(STDIN_FILENO) && tcgetattr(p->master, &t) == 0 && (t.c_lflag & ICANON) &&
            t.c_cc[VEOF] != _POSIX_VDISABLE)
                queue_for_master(p, &t.c_cc[VEOF], 1);
}

static gboolean pty_on_stdin_readable(int fd, GIOCondition condition, gpointer userdata) {
        CtlPty *p = userdata;
        char buf[4096];
        ssize_t k = read(fd, buf, sizeof(buf));

        if (k > 0)
                queue_for_master(p, buf, (size_t) k);
        else if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return G_SOURCE_CONTINUE;
        else
                stdin_ended(p);
        if (p->stdin_done || p->to_master->len >= TO_MASTER_MAX) {
                p->stdin_in = 0;
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

CtlPty *ctl_pty_new(int master, CtlPtyFunc on_done, gpointer userdata) {
        CtlPty *p = g_new0(CtlPty, 1);
        int flags;

        p->master = master;
        p->on_done = on_done;
        p->userdata = userdata;
        p->to_master = g_byte_array_new();

        /* Non-blocking: a program that does not read its input must not stop us from
         * copying its output (nor the other way round). */
        flags = fcntl(master, F_GETFL);
        if (flags >= 0)
                (void) fcntl(master, F_SETFL, flags | O_NONBLOCK);

        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &raw_saved) == 0) {
                raw_fd = STDIN_FILENO;
                terminal_raw();
        }

        p->master_in = g_unix_fd_add(master, G_IO_IN | G_IO_HUP | G_IO_ERR, pty_on_master_readable, p);
        if (fcntl(STDIN_FILENO, F_GETFD) < 0)
                stdin_ended(p); /* no stdin at all: as /dev/null */
        stdin_watch_update(p);
        return p;
}

void ctl_pty_child_ended(CtlPty *p) {
        if (p->child_ended)
                return;
        p->child_ended = TRUE;
        stdin_watch_update(p);
        if (p->done)
                return;
        p->quiet = g_timeout_add(QUIET_MS, pty_on_quiet, p);
        p->drain_max = g_timeout_add(DRAIN_MAX_MS, pty_on_drain_max, p);
}

gboolean ctl_pty_is_done(CtlPty *p) {
        return p->done;
}

void ctl_pty_resize(CtlPty *p) {
        guint32 rows, columns;

        if (!ctl_pty_local_size(&rows, &columns))
                return;
        struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) columns };
        (void) ioctl(p->master, TIOCSWINSZ, &ws);
}

void ctl_pty_suspend(CtlPty *p) {
        terminal_restore();
}

void ctl_pty_resume(CtlPty *p) {
        terminal_raw();
}

void ctl_pty_free(CtlPty *p) {
        if (!p)
                return;
        p->on_done = NULL;
        pty_finish(p);
        terminal_restore();
        if (p->master >= 0)
                (void) close(p->master);
        g_byte_array_unref(p->to_master);
        g_free(p);
}
