/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* user-creds.c: who a spawned program runs as, from the user database (root and nobody exist
 * everywhere Debian runs; their entries are read back with getpwnam() to compare). */

#include <errno.h>
#include <glib.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "user-creds.h"

static void assert_matches_passwd(const UserCreds *c, const char *name) {
        struct passwd *pw = getpwnam(name);
        g_assert_nonnull(pw);
        g_assert_cmpuint(c->uid, ==, pw->pw_uid);
        g_assert_cmpuint(c->gid, ==, pw->pw_gid);
        g_assert_cmpstr(c->name, ==, name);
        g_assert_cmpstr(c->home, ==, pw->pw_dir);
        g_assert_cmpstr(c->shell, ==, pw->pw_shell);

        /* As initgroups(): the primary group is among the groups, and so is every group
         * that lists the user as a member. */
        gboolean primary = FALSE;
        for (unsigned i = 0; i < c->n_groups; i++)
                primary = primary || c->groups[i] == pw->pw_gid;
        g_assert_true(primary);
        setgrent();
        for (struct group *gr; (gr = getgrent());)
                for (char **m = gr->gr_mem; m && *m; m++)
                        if (strcmp(*m, name) == 0) {
                                gboolean found = FALSE;
                                for (unsigned i = 0; i < c->n_groups; i++)
                                        found = found || c->groups[i] == gr->gr_gid;
                                if (!found)
                                        g_error("%s is a member of %s, missing from its groups", name, gr->gr_name);
                        }
        endgrent();
}

static void test_by_name_and_number(void) {
        static const char *const names[] = { "root", "nobody" };
        UserCreds c = {};

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
                g_assert_cmpint(user_creds_resolve(names[i], 4242, NULL, &c), ==, 0);
                assert_matches_passwd(&c, names[i]);
                uid_t uid = c.uid;
                user_creds_done(&c);

                /* The same user by number, and by the fallback uid. */
                g_autofree char *number = g_strdup_printf("%u", (unsigned) uid);
                g_assert_cmpint(user_creds_resolve(number, 4242, NULL, &c), ==, 0);
                assert_matches_passwd(&c, names[i]);
                user_creds_done(&c);
                g_assert_cmpint(user_creds_resolve(NULL, uid, NULL, &c), ==, 0);
                assert_matches_passwd(&c, names[i]);
                user_creds_done(&c);
        }
        /* done() leaves a zeroed struct: a second call is harmless. */
        user_creds_done(&c);
        g_assert_null(c.groups);
}

static void test_group(void) {
        struct group *gr = getgrgid(0);
        UserCreds c = {};

        g_assert_nonnull(gr);
        g_autofree char *root_group = g_strdup(gr->gr_name);
        g_assert_cmpint(user_creds_resolve("nobody", 0, root_group, &c), ==, 0);
        g_assert_cmpuint(c.gid, ==, 0);
        user_creds_done(&c);
        g_assert_cmpint(user_creds_resolve("nobody", 0, "4242", &c), ==, 0);
        g_assert_cmpuint(c.gid, ==, 4242); /* a number needs no entry */
        user_creds_done(&c);
}

static void test_errors(void) {
        UserCreds c = {};

        g_assert_cmpint(user_creds_resolve("no-such-user-childwatch", 0, NULL, &c), ==, -ESRCH);
        g_assert_cmpint(user_creds_resolve(NULL, 4000000000U, NULL, &c), ==, -ESRCH);
        g_assert_cmpint(user_creds_resolve("12abc", 0, NULL, &c), ==, -EINVAL);
        g_assert_cmpint(user_creds_resolve("4294967295", 0, NULL, &c), ==, -EINVAL); /* (uid_t) -1 */
        g_assert_cmpint(user_creds_resolve("-1", 0, NULL, &c), ==, -ESRCH);
        g_assert_cmpint(user_creds_resolve("root", 0, "no-such-group-childwatch", &c), ==, -ENOENT);
        g_assert_cmpint(user_creds_resolve("root", 0, "7x", &c), ==, -EINVAL);
        g_assert_null(c.name); /* nothing half-made on failure */
}

static void test_environment(void) {
        UserCreds c = {};

        g_assert_cmpint(user_creds_resolve("nobody", 0, NULL, &c), ==, 0);
        g_auto(GStrv) env = user_creds_environment(&c);
        g_assert_nonnull(env);
        g_assert_cmpuint(g_strv_length(env), ==, 5);
        g_autofree char *home = g_strconcat("HOME=", c.home, NULL);
        g_autofree char *shell = g_strconcat("SHELL=", c.shell, NULL);
        const char *want[] = { "USER=nobody", "LOGNAME=nobody", home, shell, NULL };
        for (const char **w = want; *w; w++)
                g_assert_true(g_strv_contains((const char *const *) env, *w));
        g_assert_true(g_str_has_prefix(env[0], "PATH=/"));
        g_assert_null(strstr(env[0], "sbin")); /* a user's PATH, not root's */
        user_creds_done(&c);

        g_assert_cmpint(user_creds_resolve("root", 0, NULL, &c), ==, 0);
        g_auto(GStrv) root_env = user_creds_environment(&c);
        g_assert_nonnull(strstr(root_env[0], "/usr/sbin"));
        user_creds_done(&c);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/user-creds/by-name-and-number", test_by_name_and_number);
        g_test_add_func("/user-creds/group", test_group);
        g_test_add_func("/user-creds/errors", test_errors);
        g_test_add_func("/user-creds/environment", test_environment);
        return g_test_run();
}
