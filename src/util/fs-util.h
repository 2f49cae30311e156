/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* File system checks the service makes before it hands a path to a new process. */

#include <stdbool.h>

/* Whether @path is absolute, a directory, and may be entered by us: a working directory that
 * the new process can have. */
bool is_usable_directory(const char *path);
