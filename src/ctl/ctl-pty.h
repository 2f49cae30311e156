/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The local side of `run --pty`: the local terminal in raw mode (restored on every way out),
 * stdin copied to the pty master and the master copied to stdout, window size changes passed
 * on. The service owns the pty; we get a duplicate of its master from Process.GetPty().
 */

#include <glib.h>

typedef struct CtlPty CtlPty;
typedef void (*CtlPtyFunc)(gpointer userdata);

/* The size of the local terminal: the first of stdin, stdout and stderr that is a terminal
 * with a size. Return: FALSE when there is none. */
gboolean ctl_pty_local_size(guint32 *ret_rows, guint32 *ret_columns);

/*
 * ctl_pty_new() - starts copying in the default main context.
 * @master: the pty master (taken over; set O_NONBLOCK, which its other duplicates share: the
 *          service only holds its copy to keep early output, it does not read it)
 * @on_done: called once when the copying is over: the master hit EOF or EIO (no process has
 *           the terminal open any more), or, after ctl_pty_child_ended(), it was quiet for a
 *           moment (a background process of the child may keep the terminal open forever)
 *
 * A local terminal on stdin goes into raw mode, so that every key reaches the program (^C, ^Z
 * and ^\ too, which its pty turns into signals for its own foreground process group). When
 * stdin is not a terminal and ends, the pty gets one end-of-file character (VEOF) if it is in
 * canonical mode, so that a program reading it sees the end as it would from a pipe.
 */
CtlPty *ctl_pty_new(int master, CtlPtyFunc on_done, gpointer userdata);

/* The process has ended: stop copying stdin, finish reading what is left. */
void ctl_pty_child_ended(CtlPty *p);

/* Whether the copying is over (on_done was called). */
gboolean ctl_pty_is_done(CtlPty *p);

/* SIGWINCH: gives the pty the size of the local terminal (the kernel then sends SIGWINCH to
 * the pty's foreground process group). */
void ctl_pty_resize(CtlPty *p);

/* Before we stop ourselves (SIGTSTP): the local terminal back to how it was. */
void ctl_pty_suspend(CtlPty *p);
/* After SIGCONT: raw mode again. */
void ctl_pty_resume(CtlPty *p);

/* Stops copying, closes the master, restores the local terminal. NULL is fine. */
void ctl_pty_free(CtlPty *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlPty, ctl_pty_free)
