/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The replies that list process objects, kept below the bus's message size: GetManagedObjects
 * (built here, not by sd-bus's tree walk), the size check of ListProcesses, and a check before
 * sd-bus introspects the nodes that list every object.
 */

#include <stddef.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

/* Registers the message callbacks on the manager object and on the node above the process
 * objects; they run before sd-bus's own handling of those paths. */
int bus_managed_objects_register(Manager *m);

/* Drops the listings in progress and queued (without replies) and sends what they held back. */
void bus_listings_free(Manager *m);

typedef struct Child Child;
/**
 * bus_listing_send() - send a signal about @c, in order with a GetManagedObjects in progress.
 *
 * A GetManagedObjects reply is built over several loop iterations, so that other callers are
 * served meanwhile. Its caller must not get a signal about a change that its reply, sent
 * later, does not show yet: signals about objects the reply has listed already wait, in
 * order, until it is sent. Others go out at once (the reply shows their state as of when
 * they are listed, or they are new and come after their InterfacesAdded).
 *
 * Return: 0, or a negative errno.
 */
int bus_listing_send(Manager *m, Child *c, sd_bus_message *msg);

/* 0 when a reply of at most @size_bound bytes fits what the bus takes; else LimitExceeded in
 * @error (naming @what) and its negative errno. */
int bus_reply_check_size(Manager *m, size_t size_bound, const char *what, sd_bus_error *error);
