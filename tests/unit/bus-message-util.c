/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-message-util.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "util/macro.h"

int test_bus_new(sd_bus **ret) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int peer = -EBADF;
        int pair[2], r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;
        peer = pair[1];

        r = sd_bus_set_fd(bus, pair[0], pair[0]);
        if (r < 0) {
                (void) safe_close(pair[0]);
                return r;
        }

        /* Non-blocking: this only queues the AUTH line on the socket, which is why the
         * peer must still be open here (a write to a closed peer fails the start). */
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        *ret = steal_ptr(&bus);
        return 0;
}

int test_message_new(sd_bus *bus, sd_bus_message **ret) {
        return sd_bus_message_new_method_call(bus, ret, "org.childwatch.Test", "/org/childwatch/Test",
                                              "org.childwatch.Test", "Call");
}

int test_message_seal(sd_bus_message *m) {
        int r;

        /* A sealed message gives -EPERM: it is ready already, only rewind it. */
        r = sd_bus_message_seal(m, 1, 0);
        if (r < 0 && r != -EPERM)
                return r;

        r = sd_bus_message_rewind(m, true);
        return r < 0 ? r : 0;
}
