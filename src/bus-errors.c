/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-errors.h"

#include <errno.h>

/*
 * Each name gets an errno of its own, so a handler may simply return the
 * negative errno and sd-bus answers with the right name.
 */
const sd_bus_error_map childwatch_error_map[] = {
        SD_BUS_ERROR_MAP(CW_ERROR_SPAWN_FAILED, ENOEXEC),
        SD_BUS_ERROR_MAP(CW_ERROR_NO_SUCH_PROCESS, ESRCH),
        SD_BUS_ERROR_MAP(CW_ERROR_NOT_RUNNING, ECHILD),
        SD_BUS_ERROR_MAP(CW_ERROR_ALREADY_WATCHED, EALREADY),
        SD_BUS_ERROR_MAP(CW_ERROR_LIMIT_EXCEEDED, EUSERS),
        SD_BUS_ERROR_MAP_END
};

int bus_errors_register(void) {
        /* sd_bus_error_add_map() is idempotent for the same table (returns 0). */
        int r = sd_bus_error_add_map(childwatch_error_map);
        return r < 0 ? r : 0;
}
