/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Who a spawned program runs as, from the user database: uid, primary gid,
 * supplementary groups (as initgroups() would set them), and the login
 * environment that multi-user mode gives it instead of the service's own.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "util/macro.h"

typedef struct UserCreds {
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        unsigned n_groups;
        char *name;
        char *home;
        char *shell;
} UserCreds;

void user_creds_done(UserCreds *c);

/**
 * user_creds_resolve() - look a user (and a group) up.
 * @user: name or decimal uid; NULL: @uid
 * @group: name or decimal gid to use as the primary group; NULL: the user's own
 *
 * Return: 0; -ESRCH when the user has no entry in the user database; -ENOENT
 * when the group has none; -EINVAL for a malformed number; another negative errno.
 */
int user_creds_resolve(const char *user, uid_t uid, const char *group, UserCreds *ret);

/* PATH, HOME, USER, LOGNAME and SHELL as a login of @c would have them (NULL-terminated). */
char **user_creds_environment(const UserCreds *c);


