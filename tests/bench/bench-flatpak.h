/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * bench-flatpak: the nearest peer, flatpak-session-helper's
 * org.freedesktop.Flatpak.Development.HostCommand -> HostCommandExited, run
 * on the same private bus as childwatchd and measured through the same client
 * code path (bench_call_start() + a signal subscription, same timing points).
 *
 * bench_flatpak_prepare() comes before that bus is up: it writes an activation
 * file for the helper into a temporary directory (to be added to the bus) and
 * gives the helper a runtime directory of its own there, so nothing of the
 * user's session is touched. When the helper is not installed the peer is
 * skipped, which is not an error.
 */

#include "bench-util.h"

typedef struct BenchFlatpak BenchFlatpak;

/**
 * bench_flatpak_prepare() - find the helper and write its activation file
 * @ret: the peer, or NULL when the helper is not installed (the reason is printed)
 *
 * Sets XDG_RUNTIME_DIR for the buses started after it.
 *
 * Return: FALSE on error (a skip is not one).
 */
gboolean bench_flatpak_prepare(BenchFlatpak **ret);
/* The directory to pass as BenchServiceOptions.extra_service_dir. */
const char *bench_flatpak_service_dir(BenchFlatpak *f);
/* Activates the helper on @s's bus and subscribes to HostCommandExited. */
gboolean bench_flatpak_up(BenchFlatpak *f, BenchService *s);
/* HostCommand(/bin/true) until its HostCommandExited: ns, or -1 on error. */
gint64 bench_flatpak_measure(BenchFlatpak *f);
/* Stops the helper (before its bus goes down), removes the temporary files; NULL-safe. */
void bench_flatpak_free(BenchFlatpak *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchFlatpak, bench_flatpak_free)
