/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Idle exit: a bus-activated service that watches nothing and has no call in flight goes
 * after --idle-timeout, giving up its name first so that the bus starts a new one for new
 * callers.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "manager-internal.h"
#include "util/log.h"
#include "util/time-util.h"

static int manager_on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;
        (void) s;
        (void) usec;

        m->idle_source = sd_event_source_disable_unref(m->idle_source);
        log_info("Idle for too long, exiting.");

        /* Give up the name first, so that the bus activates a new instance for new
         * callers, then serve what was queued before the release took effect. */
        r = sd_bus_release_name(m->bus, CW_BUS_NAME);
        if (r < 0 && r != -ESRCH)
                log_warning("Cannot release the bus name: %s", strerror(-r));
        for (unsigned i = 0; i < 1024; i++) {
                r = sd_bus_process(m->bus, NULL);
                if (r <= 0)
                        break;
        }
        if (hashmap_size(&m->children_by_pid) == 0 && hashmap_size(&m->children_by_id) == 0 &&
            m->n_live_trees == 0 && m->n_spawning == 0)
                return sd_event_exit(m->event, 0);

        log_info("A request came in while exiting; serving it without the bus name.");
        return 0;
}

void manager_check_idle(Manager *m) {
        bool idle = hashmap_size(&m->children_by_pid) == 0 && hashmap_size(&m->children_by_id) == 0 &&
                    m->n_live_trees == 0 && m->n_spawning == 0;
        int r;

        if (!idle || m->idle_timeout_usec == 0 || !m->bus) {
                m->idle_source = sd_event_source_disable_unref(m->idle_source);
                return;
        }
        if (m->idle_source)
                return;
        r = sd_event_add_time_relative(m->event, &m->idle_source, CLOCK_MONOTONIC, m->idle_timeout_usec, 0,
                                       manager_on_idle, m);
        if (r < 0)
                log_warning("Cannot arm the idle timer: %s", strerror(-r));
}
