/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dbus-daemon drops a connection that sends a message above its max_message_size (32 MiB by
 * default, which the system bus keeps), and the service exits when it loses the bus. Objects
 * keep bounded copies of what clients gave (object-bounds.h) and ended objects are capped per
 * user, which bounds a non-root caller's listings in multi-user mode by construction; but
 * root's view, the session bus's 32768 running processes and orphans (which no limit refuses)
 * can still add up beyond it. So every reply that lists objects is sized before it is built,
 * from an upper bound per object, and answered LimitExceeded when it would not fit.
 *
 * GetManagedObjects is built here from the same code as InterfacesAdded (bus-process.c): a
 * message callback on the manager object runs before sd-bus's own ObjectManager handling
 * (bus-objects.c, object_find_and_run(): node callbacks first). sd-bus's version walks its
 * object tree, calls the fallback's find callback and looks up the vtable for each object:
 * 0.9 to 2.1 s for 10,000 objects, during which the service answered nobody. Appending is
 * cheaper (~6 us per object) but still 60 ms at 10,000, so the reply is built LISTING_CHUNK
 * objects per loop iteration, with other callers served in between. It lists the objects the
 * caller could see at the start, each as it is when appended, and at the end those that came
 * since; a signal about an object it has listed already waits until the reply is sent
 * (bus_listing_send()), so the caller never gets a change before a reply that does not show it
 * yet. One listing runs at a time; further calls queue.
 */

#include "bus-managed-objects.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-process.h"
#include "child.h"
#include "client.h"
#include "manager.h"
#include "util/log.h"

/* The fixed part of an introspection of the manager object or the node above the process
 * objects (interfaces, standard interfaces), generously; and what each listed object adds
 * (' <node name="process/18446744073709551615"/>'). */
#define INTROSPECT_BASE_BOUND (64U * 1024U)
#define INTROSPECT_NODE_BOUND 64U

int bus_reply_check_size(Manager *m, size_t size_bound, const char *what, sd_bus_error *error) {
        if (size_bound <= m->max_reply_size)
                return 0;
        log_debug("Refusing %s: the reply might take %zu bytes, more than the %zu the bus takes.", what,
                  size_bound, m->max_reply_size);
        return sd_bus_error_setf(error, CW_ERROR_LIMIT_EXCEEDED,
                                 "The reply of %s would be larger than the bus takes (up to %zu bytes, at most "
                                 "%zu allowed); ask per object, or Release() ended processes.",
                                 what, size_bound, m->max_reply_size);
}

/* The uid whose view the caller of @msg gets: in multi-user mode its own, else all (0). */
static int viewer_uid(Manager *m, sd_bus_message *msg, uid_t *ret) {
        Client *client;
        int r;

        *ret = 0;
        if (!m->multi_user)
                return 0;
        r = client_get(m, msg, &client);
        if (r < 0)
                return r;
        *ret = client->uid;
        return 0;
}

/* How many objects one loop iteration appends: ~1.5 ms of work (~6 us each), so that a Ping
 * waits at most about that long behind a listing that is being built. */
#define LISTING_CHUNK 256U
/* Chunks run when nothing else is to be done (a Ping must not wait for them, nor the writing of
 * a finished reply, which its answer queues behind), but at least this often. */
#define LISTING_STARVE_USEC (50 * UINT64_C(1000))

/* One GetManagedObjects call being answered. */
typedef struct Listing {
        sd_bus_message *call;
        sd_bus_message *reply;
        uid_t uid;
        uint64_t serial;       /* marks the objects it listed (Child.listed) */
        uint64_t *ids;         /* the objects the caller could see at the start, by id */
        size_t n_ids, next;
        uint64_t last_id;      /* the highest id at the start: later ones are new */
        size_t size_bound;
        struct Listing *queue_next;
} Listing;

typedef struct Listings {
        Listing *current;
        Listing *queue_head, *queue_tail;
        sd_event_source *source; /* appends the next chunk when the loop is idle otherwise */
        sd_event_source *timer;  /* or after LISTING_STARVE_USEC at the latest */
        uint64_t next_serial;
        sd_bus_message **held;   /* signals about objects that the current listing has listed */
        size_t n_held, allocated_held;
} Listings;

static Listing *listing_free(Listing *l) {
        if (!l)
                return NULL;
        sd_bus_message_unref(l->call);
        sd_bus_message_unref(l->reply);
        free(l->ids);
        free(l);
        return NULL;
}

static void listings_flush_held(Manager *m) {
        Listings *ls = m->listings;

        for (size_t i = 0; i < ls->n_held; i++) {
                int r = sd_bus_send(m->bus, ls->held[i], NULL);
                if (r < 0)
                        log_debug("Cannot send a signal held back for a listing: %s", strerror(-r));
                sd_bus_message_unref(ls->held[i]);
        }
        ls->n_held = 0;
}

void bus_listings_free(Manager *m) {
        Listings *ls = m->listings;

        if (!ls)
                return;
        listing_free(ls->current);
        ls->current = NULL;
        while (ls->queue_head) {
                Listing *l = ls->queue_head;
                ls->queue_head = l->queue_next;
                listing_free(l);
        }
        listings_flush_held(m);
        free(ls->held);
        sd_event_source_disable_unref(ls->source);
        sd_event_source_disable_unref(ls->timer);
        free(ls);
        m->listings = NULL;
}

int bus_listing_send(Manager *m, Child *c, sd_bus_message *msg) {
        Listings *ls = m->listings;

        if (!ls || !ls->current || c->listed != ls->current->serial)
                return sd_bus_send(m->bus, msg, NULL);
        if (ls->n_held == ls->allocated_held) {
                size_t a = ls->allocated_held ? ls->allocated_held * 2 : 16;
                sd_bus_message **t = realloc(ls->held, a * sizeof(sd_bus_message *));
                if (!t)
                        return -ENOMEM;
                ls->held = t;
                ls->allocated_held = a;
        }
        ls->held[ls->n_held++] = sd_bus_message_ref(msg);
        return 0;
}

static int compare_ids(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int compare_by_id(const void *a, const void *b) {
        const Child *x = *(Child * const *) a, *y = *(Child * const *) b;
        return x->id < y->id ? -1 : x->id > y->id;
}

static int listing_append(Listing *l, Child *c) {
        int r = bus_process_append_managed(c, l->reply);
        if (r < 0)
                return r;
        c->listed = l->serial;
        return 0;
}

/* The objects that came after the start (ids above last_id), in id order: their
 * InterfacesAdded went out before the reply, so the reply shows them too. */
static int listing_append_new(Manager *m, Listing *l, sd_bus_error *error) {
        _cleanup_free_ Child **list = NULL;
        size_t n = 0, size = 0;
        Child *c;
        int r;

        if (m->next_id <= l->last_id)
                return 0;
        list = malloc((hashmap_size(&m->children_by_id) + 1) * sizeof(Child *));
        if (!list)
                return -ENOMEM;
        HASHMAP_FOREACH(c, &m->children_by_id, i)
                if (c->id > l->last_id && manager_may_see(m, l->uid, c)) {
                        list[n++] = c;
                        size += bus_process_size_bound(c);
                }
        r = bus_reply_check_size(m, l->size_bound + size, "GetManagedObjects", error);
        if (r < 0)
                return r;
        qsort(list, n, sizeof(Child *), compare_by_id);
        for (size_t i = 0; i < n; i++) {
                r = listing_append(l, list[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void listings_start_next(Manager *m);

static void listings_arm_timer(Manager *m) {
        uint64_t now;

        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_source_set_time(m->listings->timer, now + LISTING_STARVE_USEC) < 0 ||
            sd_event_source_set_enabled(m->listings->timer, SD_EVENT_ONESHOT) < 0)
                /* Without it a stream of calls could hold the listing back; never idle then. */
                (void) sd_event_source_set_priority(m->listings->source, SD_EVENT_PRIORITY_NORMAL);
}

/* Appends the next chunk of the current listing; the last one sends the reply, then what was
 * held back. Return: whether the listing is done. */
static bool listing_step(Manager *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Listings *ls = m->listings;
        Listing *l = ls->current;
        int r = 0;

        for (size_t k = 0; k < LISTING_CHUNK && l->next < l->n_ids && r >= 0; l->next++) {
                Child *c = manager_get_child_by_id(m, l->ids[l->next]);
                if (!c)
                        continue; /* gone since: its InterfacesRemoved went out before the reply */
                r = listing_append(l, c);
                k++;
        }
        if (r >= 0 && l->next < l->n_ids)
                return false;

        if (r >= 0)
                r = listing_append_new(m, l, &error);
        if (r >= 0)
                r = sd_bus_message_close_container(l->reply);
        if (r >= 0)
                r = sd_bus_send(NULL, l->reply, NULL);
        else if (sd_bus_error_is_set(&error))
                r = sd_bus_reply_method_error(l->call, &error);
        else
                r = sd_bus_reply_method_errno(l->call, r, NULL);
        if (r < 0)
                log_debug("Cannot answer GetManagedObjects: %s", strerror(-r));

        ls->current = listing_free(l);
        listings_flush_held(m);
        return true;
}

static int listings_on_chunk(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        (void) s;

        if (!m->listings->current)
                return 0;
        listings_arm_timer(m);
        if (listing_step(m))
                listings_start_next(m);
        return 0;
}

/* Takes the snapshot of the next queued call and starts appending. Calls that fail here are
 * answered at once. */
static void listings_start_next(Manager *m) {
        Listings *ls = m->listings;

        while (!ls->current && ls->queue_head) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                Listing *l = ls->queue_head;
                size_t size = 64;
                Child *c;
                int r;

                ls->queue_head = l->queue_next;
                if (!ls->queue_head)
                        ls->queue_tail = NULL;
                l->queue_next = NULL;

                l->serial = ++ls->next_serial;
                l->last_id = m->next_id;
                l->ids = malloc((hashmap_size(&m->children_by_id) + 1) * sizeof(uint64_t));
                r = l->ids ? 0 : -ENOMEM;
                if (r >= 0) {
                        HASHMAP_FOREACH(c, &m->children_by_id, i)
                                if (manager_may_see(m, l->uid, c)) {
                                        l->ids[l->n_ids++] = c->id;
                                        size += bus_process_size_bound(c);
                                }
                        l->size_bound = size;
                        r = bus_reply_check_size(m, size, "GetManagedObjects", &error);
                }
                if (r >= 0) {
                        /* In the order of creation, as ListProcesses; sd-bus's was the hash order. */
                        qsort(l->ids, l->n_ids, sizeof(uint64_t), compare_ids);
                        r = sd_bus_message_new_method_return(l->call, &l->reply);
                }
                if (r >= 0)
                        r = sd_bus_message_open_container(l->reply, 'a', "{oa{sa{sv}}}");
                if (r < 0) {
                        int k = sd_bus_error_is_set(&error) ? sd_bus_reply_method_error(l->call, &error)
                                                            : sd_bus_reply_method_errno(l->call, r, NULL);
                        if (k < 0)
                                log_debug("Cannot answer GetManagedObjects: %s", strerror(-k));
                        listing_free(l);
                        continue;
                }
                ls->current = l;
                /* One chunk's worth is built and sent right here: nothing else runs meanwhile,
                 * so no signal is held back, and the order of signals and replies stays as
                 * without listings. Only a larger listing spreads over loop iterations. */
                if (l->n_ids <= LISTING_CHUNK)
                        (void) listing_step(m);
        }
        (void) sd_event_source_set_enabled(ls->source, ls->current ? SD_EVENT_ON : SD_EVENT_OFF);
        if (ls->current)
                listings_arm_timer(m);
        else
                (void) sd_event_source_set_enabled(ls->timer, SD_EVENT_OFF);
}

static int listings_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) usec;
        return listings_on_chunk(s, userdata);
}

static int method_get_managed_objects(Manager *m, sd_bus_message *msg) {
        Listings *ls = m->listings;
        Listing *l;
        uid_t uid;
        int r;

        r = viewer_uid(m, msg, &uid);
        if (r < 0)
                return r;
        if (!ls) {
                ls = calloc(1, sizeof(Listings));
                if (!ls)
                        return -ENOMEM;
                m->listings = ls;
                r = sd_event_add_defer(m->event, &ls->source, listings_on_chunk, m);
                if (r >= 0)
                        r = sd_event_add_time(m->event, &ls->timer, CLOCK_MONOTONIC, 0, 1000, listings_on_timer,
                                              m);
                if (r < 0) {
                        bus_listings_free(m);
                        return r;
                }
                /* Below everything else (the bus, and the SIGCHLD path at NORMAL + 10): see
                 * LISTING_STARVE_USEC; the timer at the bus's level. */
                (void) sd_event_source_set_priority(ls->source, SD_EVENT_PRIORITY_NORMAL + 20);
                (void) sd_event_source_set_enabled(ls->source, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(ls->timer, SD_EVENT_OFF);
        }
        l = calloc(1, sizeof(Listing));
        if (!l)
                return -ENOMEM;
        l->call = sd_bus_message_ref(msg);
        l->uid = uid;
        /* One at a time, in the order they came: a listing holds back signals until its
         * reply, and the next one starts only after those went out. */
        if (ls->queue_tail)
                ls->queue_tail->queue_next = l;
        else
                ls->queue_head = l;
        ls->queue_tail = l;
        listings_start_next(m);
        return 0;
}

/* Introspection of these nodes lists every object the caller may see: sd-bus builds it, so
 * only its size is checked here, before. */
static int check_introspect(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        size_t n = 0;
        uid_t uid;
        Child *c;
        int r;

        /* Cheap without multi-user mode, where every caller sees every object. */
        if (!m->multi_user)
                n = hashmap_size(&m->children_by_id);
        else {
                r = viewer_uid(m, msg, &uid);
                if (r < 0)
                        return r;
                HASHMAP_FOREACH(c, &m->children_by_id, i)
                        if (manager_may_see(m, uid, c))
                                n++;
        }
        r = bus_reply_check_size(m, INTROSPECT_BASE_BOUND + n * INTROSPECT_NODE_BOUND, "Introspect", error);
        return r < 0 ? r : 0; /* 0: sd-bus goes on and introspects */
}

static int on_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path = sd_bus_message_get_path(msg);
        const char *signature = sd_bus_message_get_signature(msg, true);
        int r;

        /* With arguments: sd-bus's own handling answers InvalidArgs, as before. */
        if (signature && signature[0])
                return 0;
        if (sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Introspectable", "Introspect"))
                return check_introspect(m, msg, error);
        if (path && strcmp(path, CW_MANAGER_PATH) == 0 &&
            sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")) {
                r = method_get_managed_objects(m, msg);
                return r < 0 ? r : 1; /* answered, or will be */
        }
        return 0;
}

int bus_managed_objects_register(Manager *m) {
        int r;

        r = sd_bus_add_object(m->bus, NULL, CW_MANAGER_PATH, on_message, m);
        if (r < 0)
                return r;
        return sd_bus_add_object(m->bus, NULL, CHILD_PATH_PREFIX, on_message, m);
}
