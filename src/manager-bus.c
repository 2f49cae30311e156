/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The service on its bus: which bus (the one that activated it, or the command line's), its
 * objects and interfaces registered, then its name taken, and leaving when the bus goes.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-managed-objects.h"
#include "bus-manager.h"
#include "bus-process.h"
#include "manager-internal.h"
#include "util/log.h"
#include "util/macro.h"

extern char **environ;

static int manager_on_disconnect(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        (void) msg;
        (void) error;

        log_info("Disconnected from the bus, exiting.");
        return sd_event_exit(m->event, 0);
}

static int manager_connect(const Config *config, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *address = NULL;
        int r;

        switch (config->bus) {
        case BUS_KIND_SESSION:
                return sd_bus_open_user(ret);
        case BUS_KIND_SYSTEM:
                return sd_bus_open_system(ret);
        case BUS_KIND_ADDRESS:
                address = config->address;
                break;
        default:
                /* The bus that activated us; sd_bus_open() would prefer $DBUS_SESSION_BUS_ADDRESS
                 * over $DBUS_STARTER_ADDRESS when the starter bus type is "session". */
                address = getenv("DBUS_STARTER_ADDRESS");
                if (!address)
                        return sd_bus_open_user(ret);
        }

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = steal_ptr(&bus);
        return 0;
}

/* The activation variables describe our bus, not the children's. */
static const char *const unexported_variables[] = {
        "DBUS_STARTER_ADDRESS",
        "DBUS_STARTER_BUS_TYPE",
};

int manager_start(Manager *m, const Config *config) {
        int r;

        const char *starter = getenv("DBUS_STARTER_BUS_TYPE");
        m->multi_user = config->multi_user ||
                        (config->bus == BUS_KIND_DEFAULT && starter && strcmp(starter, "system") == 0);
        if (m->multi_user)
                log_info("Multi-user mode: callers are isolated, programs run as their callers.");

        r = manager_connect(config, &m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the bus");

        for (size_t i = 0; i < ELEMENTSOF(unexported_variables); i++)
                (void) unsetenv(unexported_variables[i]);
        m->base_environment = environ;

        r = bus_errors_register();
        if (r < 0)
                return log_error_errno(r, "Cannot register the D-Bus errors");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop");

        r = sd_bus_match_signal(m->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", manager_on_disconnect, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch for disconnection");

        r = bus_manager_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the manager object");
        r = bus_process_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the process objects");
        r = sd_bus_add_object_manager(m->bus, NULL, CW_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Cannot register the object manager");
        r = bus_managed_objects_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the object listings");

        /* Last, so no call arrives before the objects exist. */
        r = sd_bus_request_name(m->bus, CW_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s", CW_BUS_NAME);

        manager_check_idle(m);
        log_debug("Serving %s.", CW_BUS_NAME);
        return 0;
}
