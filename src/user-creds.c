/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "user-creds.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/parse.h"
#include "util/strv.h"

/* The PATH of a login, as Debian's /etc/login.defs gives it to users. */
#define USER_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
#define ROOT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Bounds for the retries of the *_r() lookups and of getgrouplist(). */
#define LOOKUP_BUFFER_MAX (1024U * 1024U)
/* NSS modules that talk to a daemon (nss-systemd's varlink) can be interrupted by a signal. */
#define LOOKUP_EINTR_RETRIES 3U

void user_creds_done(UserCreds *c) {
        free(c->groups);
        free(c->name);
        free(c->home);
        free(c->shell);
        *c = (UserCreds) {};
}

/* A decimal id: digits only, no sign, in range, not the (id_t) -1 that means "unchanged". */
static int parse_id(const char *s, unsigned *ret) {
        uint64_t v;
        if (parse_u64_max(s, UINT_MAX - 1, 0, &v) < 0)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int lookup_user(const char *user, uid_t uid, struct passwd *pw, char **buf) {
        struct passwd *result = NULL;
        unsigned id, eintr_retries = 0;
        int r;

        if (user && parse_id(user, &id) >= 0) {
                uid = id;
                user = NULL;
        } else if (user && (*user >= '0' && *user <= '9'))
                return -EINVAL;

        for (size_t size = 4096; size <= LOOKUP_BUFFER_MAX; size *= 2) {
                char *b = realloc(*buf, size);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                r = user ? getpwnam_r(user, pw, b, size, &result) : getpwuid_r(uid, pw, b, size, &result);
                if (r == EINTR && eintr_retries++ < LOOKUP_EINTR_RETRIES) {
                        size /= 2; /* the same size once more */
                        continue;
                }
                if (r != ERANGE)
                        break;
        }
        if (r > 0)
                return -r;
        return result ? 0 : -ESRCH;
}

static int lookup_group(const char *group, gid_t *ret) {
        struct group gr, *result = NULL;
        _cleanup_free_ char *buf = NULL;
        unsigned id, eintr_retries = 0;
        int r = 0;

        if (parse_id(group, &id) >= 0) {
                *ret = id; /* a gid without an entry is still a gid */
                return 0;
        }
        if (*group >= '0' && *group <= '9')
                return -EINVAL;
        for (size_t size = 4096; size <= LOOKUP_BUFFER_MAX; size *= 2) {
                char *b = realloc(buf, size);
                if (!b)
                        return -ENOMEM;
                buf = b;
                r = getgrnam_r(group, &gr, buf, size, &result);
                if (r == EINTR && eintr_retries++ < LOOKUP_EINTR_RETRIES) {
                        size /= 2; /* the same size once more */
                        continue;
                }
                if (r != ERANGE)
                        break;
        }
        if (r > 0)
                return -r;
        if (!result)
                return -ENOENT;
        *ret = result->gr_gid;
        return 0;
}

int user_creds_resolve(const char *user, uid_t uid, const char *group, UserCreds *ret) {
        _cleanup_free_ char *buf = NULL;
        UserCreds c = {};
        struct passwd pw;
        int r;

        r = lookup_user(user, uid, &pw, &buf);
        if (r < 0)
                return r;
        c.uid = pw.pw_uid;
        c.gid = pw.pw_gid;
        c.name = strdup(pw.pw_name);
        c.home = strdup(pw.pw_dir && pw.pw_dir[0] == '/' ? pw.pw_dir : "/");
        c.shell = strdup(pw.pw_shell && pw.pw_shell[0] == '/' ? pw.pw_shell : "/bin/sh");
        if (!c.name || !c.home || !c.shell) {
                user_creds_done(&c);
                return -ENOMEM;
        }

        /* The groups a login gets: the user's primary group and its memberships. */
        int n = 32;
        for (unsigned attempt = 0;; attempt++) {
                gid_t *g = realloc(c.groups, (size_t) n * sizeof(gid_t));
                if (!g) {
                        user_creds_done(&c);
                        return -ENOMEM;
                }
                c.groups = g;
                int want = n;
                if (getgrouplist(c.name, c.gid, c.groups, &want) >= 0) {
                        c.n_groups = (unsigned) want;
                        break;
                }
                if (attempt > 8 || want <= n || want > 65536) {
                        user_creds_done(&c);
                        return -E2BIG;
                }
                n = want;
        }

        if (group) {
                r = lookup_group(group, &c.gid);
                if (r < 0) {
                        user_creds_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

static char *concat(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = malloc(la + lb + 1);
        if (s) {
                memcpy(s, a, la);
                memcpy(s + la, b, lb + 1);
        }
        return s;
}

char **user_creds_environment(const UserCreds *c) {
        char **l = calloc(6, sizeof(char *));
        bool ok = l;

        if (!l)
                return NULL;
        l[0] = concat("PATH=", c->uid == 0 ? ROOT_DEFAULT_PATH : USER_DEFAULT_PATH);
        l[1] = concat("HOME=", c->home);
        l[2] = concat("USER=", c->name);
        l[3] = concat("LOGNAME=", c->name);
        l[4] = concat("SHELL=", c->shell);
        for (size_t i = 0; i < 5; i++)
                ok = ok && l[i];
        if (!ok) {
                for (size_t i = 0; i < 5; i++)
                        free(l[i]);
                free(l);
                return NULL;
        }
        return l;
}
