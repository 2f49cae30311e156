/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A signalfd as a GLib source. */

#include "ctl-sigwatch.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct Sigwatch {
        int fd;
        CtlSigwatchFunc func;
        gpointer userdata;
} Sigwatch;

static void make_set(const int *signals, size_t n, sigset_t *ret) {
        sigemptyset(ret);
        for (size_t i = 0; i < n; i++)
                sigaddset(ret, signals[i]);
}

void ctl_sigwatch_block(const int *signals, size_t n) {
        sigset_t set;

        make_set(signals, n, &set);
        (void) pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static gboolean sigwatch_on_readable(int fd, GIOCondition condition, gpointer userdata) {
        Sigwatch *w = userdata;
        struct signalfd_siginfo si;
        ssize_t k = read(fd, &si, sizeof(si));

        if (k == (ssize_t) sizeof(si))
                w->func((int) si.ssi_signo, w->userdata);
        else if (k < 0 && errno != EAGAIN && errno != EINTR)
                return G_SOURCE_REMOVE;
        return G_SOURCE_CONTINUE;
}

static void sigwatch_free(gpointer userdata) {
        Sigwatch *w = userdata;

        if (w->fd >= 0)
                (void) close(w->fd);
        g_free(w);
}

guint ctl_sigwatch_add(const int *signals, size_t n, CtlSigwatchFunc func, gpointer userdata) {
        sigset_t set;
        int fd;

        make_set(signals, n, &set);
        fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return 0;

        Sigwatch *w = g_new0(Sigwatch, 1);
        w->fd = fd;
        w->func = func;
        w->userdata = userdata;
        return g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, G_IO_IN, sigwatch_on_readable, w, sigwatch_free);
}
