/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Process-group trees whose leader has ended: a process group says nothing when its last
 * member goes, so while any such tree runs, its group is asked now and then.
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

/* How often the group of a process-group tree whose leader ended is checked for members. */
#define GROUP_POLL_USEC (100 * UINT64_C(1000))

static int manager_on_group_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        Child *c, **list;
        size_t n = 0;
        (void) usec;

        /* child_check_tree() may free c, so collect first. */
        list = calloc(hashmap_size(&m->leaders) + 1, sizeof(Child *));
        if (list) {
                HASHMAP_FOREACH(c, &m->leaders, i)
                        if (c->tree_running && !child_is_running(c))
                                list[n++] = c;
                for (size_t i = 0; i < n; i++)
                        child_check_tree(list[i]);
                free(list);
        }
        if (m->n_group_polls > 0)
                (void) sd_event_source_set_time_relative(s, GROUP_POLL_USEC);
        return 0;
}

void manager_group_poll_ref(Manager *m) {
        if (m->n_group_polls++ > 0 || !m->group_poll_source)
                return;
        (void) sd_event_source_set_time_relative(m->group_poll_source, GROUP_POLL_USEC);
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_ON);
}

void manager_group_poll_unref(Manager *m) {
        if (m->n_group_polls == 0 || --m->n_group_polls > 0 || !m->group_poll_source)
                return;
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_OFF);
}

int manager_setup_group_poll(Manager *m) {
        sd_event *event = m->event;
        int r;

        r = sd_event_add_time(event, &m->group_poll_source, CLOCK_MONOTONIC, 0, 10 * 1000, manager_on_group_poll,
                              m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->group_poll_source, SD_EVENT_OFF);

        return 0;
}
