/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* File system checks (see fs-util.h). */

#include "fs-util.h"

#include <sys/stat.h>
#include <unistd.h>

bool is_usable_directory(const char *path) {
        struct stat st;
        return path && path[0] == '/' && stat(path, &st) >= 0 && S_ISDIR(st.st_mode) && access(path, X_OK) >= 0;
}
