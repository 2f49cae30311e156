/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Orphans. The service is a child subreaper, so descendants of the processes
 * it spawned re-parent to it when their own parent ends. Nothing announces
 * such an arrival; only /proc/self/task/TID/children lists it, and reading
 * that costs ~0.5 µs per child (2.5 ms at 5,000). So the list is read only
 * after a direct child of ours ended (the kernel re-parents a process's
 * children before its end is reported), a few ms later and at most once per
 * SCAN_INTERVAL_USEC (or 20× the last scan's cost): a daemonizing program's
 * grandchild shows up within about that interval. An orphan's own end
 * arrives as a SIGCHLD whose ssi_pid names it: it is taken over in O(1),
 * and the scan mops up those that SIGCHLD coalescing hid.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "manager-internal.h"
#include "spawn-pool.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/time-util.h"

/* Orphan scans: how soon after the triggering exit, and how rarely. */
#define SCAN_DELAY_USEC (5 * UINT64_C(1000))
#define SCAN_INTERVAL_USEC (100 * UINT64_C(1000))
#define SCAN_ACCURACY_USEC (5 * UINT64_C(1000))

/* A direct child nobody watches: an orphan that re-parented to us (or, rarely, a child
 * whose spawn the helper gave up on). Not a spawn helper (each has a source of its own),
 * nor the child of a Spawn whose answer has not been read yet: it may exit, and its SIGCHLD
 * arrive, before its helper's answer; it is registered (and its exit seen through its
 * pidfd) when the answer is read. O(helpers). */
void manager_take_unknown(Manager *m, pid_t pid) {
        Child *c = NULL;
        int r;

        if (pid <= 0 || manager_get_child_by_pid(m, pid) || spawn_pool_owns_pid(m->spawn_pool, pid))
                return;
        r = child_adopt_orphan(m, pid, &c);
        if (r < 0) {
                /* Never leave it a zombie: reap it unannounced rather than not at all. */
                log_warning("Cannot watch orphan %d, reaping it unannounced: %s", (int) pid, strerror(-r));
                siginfo_t si = {};
                (void) waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG);
        }
}

void manager_scan_orphans(Manager *m) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        size_t size = 16384, n = 0;
        uint64_t start, end;

        start = now_usec(CLOCK_MONOTONIC);
        (void) snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_debug("Cannot list our children: %s", strerror(errno));
                return;
        }
        /* The kernel hands out about a page per read(), short of the end: read to EOF. */
        for (;;) {
                if (!buf || size - n < 4096) {
                        if (buf && size > (size_t) 64 << 20)
                                break; /* ~10 M children: we cannot have more */
                        if (buf)
                                size *= 2;
                        char *t = realloc(buf, size + 1);
                        if (!t)
                                return;
                        buf = t;
                }
                ssize_t k = read(fd, buf + n, size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        log_debug("Cannot list our children: %s", strerror(errno));
                        return;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (!buf)
                return;
        buf[n] = 0;

        /* Pids, each followed by a blank. */
        for (char *p = buf; *p;) {
                size_t len = strcspn(p, " \n");
                uint64_t pid;
                if (parse_u64_n(p, len, PARSE_NO_LEADING_ZERO, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                        break;
                manager_take_unknown(m, (pid_t) pid);
                p += len;
                p += strspn(p, " \n");
        }

        end = now_usec(CLOCK_MONOTONIC);
        /* Scans may use at most ~5% of the time. */
        uint64_t gap = (end - start) * 20;
        m->scan_not_before = end + (gap > SCAN_INTERVAL_USEC ? gap : SCAN_INTERVAL_USEC);
        log_debug("Listed %zu bytes of children in %" PRIu64 " us.", n, end - start);
}

static int manager_on_scan(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        manager_scan_orphans(userdata);
        return 0;
}

void manager_schedule_orphan_scan(Manager *m) {
        int enabled = SD_EVENT_OFF;

        if (!m->scan_source || !m->subreaper)
                return;
        if (sd_event_source_get_enabled(m->scan_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* one scan serves every exit until then */
        uint64_t when = now_usec(CLOCK_MONOTONIC) + SCAN_DELAY_USEC;
        if (when < m->scan_not_before)
                when = m->scan_not_before;
        (void) sd_event_source_set_time(m->scan_source, when);
        (void) sd_event_source_set_enabled(m->scan_source, SD_EVENT_ONESHOT);
}

int manager_setup_orphan_scan(Manager *m) {
        sd_event *event = m->event;
        int r;

        r = sd_event_add_time(event, &m->scan_source, CLOCK_MONOTONIC, 0, SCAN_ACCURACY_USEC, manager_on_scan, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->scan_source, SD_EVENT_OFF);
        /* Level with the bus, not below: a stream of calls must not starve it, since
         * orphans that SIGCHLD coalescing hid stay zombies until a scan. */
        (void) sd_event_source_set_priority(m->scan_source, SD_EVENT_PRIORITY_NORMAL);

        return 0;
}
