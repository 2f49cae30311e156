/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Signals as main loop events (signalfd), for the signals that `run --wait` forwards.
 * g_unix_signal_add() knows only a few signals (not SIGQUIT, SIGCONT, SIGTSTP), and a
 * signal must never reach GDBus's worker thread, where its default action would end us.
 */

#include <glib.h>
#include <signal.h>

typedef void (*CtlSigwatchFunc)(int sig, gpointer userdata);

/* Blocks @signals (n of them) in the calling thread. Call it before the first other thread
 * exists (before connecting to a bus): threads inherit the mask, so none gets them. */
void ctl_sigwatch_block(const int *signals, size_t n);

/*
 * ctl_sigwatch_add() - calls @func in the default main context for each of @signals that
 * arrives (the signals must be blocked, see ctl_sigwatch_block()).
 *
 * Return: the source id (remove it with g_source_remove()), or 0 with errno set.
 */
guint ctl_sigwatch_add(const int *signals, size_t n, CtlSigwatchFunc func, gpointer userdata);
