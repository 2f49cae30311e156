/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The environment a spawned program gets: what survives from the base, what
 * "unset-environment" removes and that "environment" wins. The result
 * borrows its strings, so the tests compare pointers, not only contents.
 */

#include <glib.h>
#include <string.h>

#include "util/env.h"

/* Frees only the array, as env_merge() wants. */
typedef char *BorrowedStrv;
static void borrowed_strv_free(BorrowedStrv *l) {
        g_free(l);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BorrowedStrv, borrowed_strv_free)

static gsize count_name(char **env, const char *name) {
        gsize n = 0, len = strlen(name);
        for (char **e = env; *e; e++)
                if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
                        n++;
        return n;
}

/* Asserts that @env holds exactly @expected (as a set), compared by pointer. */
static void assert_env_is(char **env, char * const *expected, gsize n_expected) {
        g_assert_nonnull(env);
        g_assert_cmpuint(g_strv_length(env), ==, n_expected);
        for (gsize i = 0; i < n_expected; i++) {
                gsize found = 0;
                for (char **e = env; *e; e++)
                        if (*e == expected[i])
                                found++;
                if (found != 1)
                        g_error("expected entry '%s' found %zu times", expected[i], found);
        }
}

static void test_merge_empty(void) {
        g_autoptr(BorrowedStrv) env = NULL;
        char *empty[] = { NULL };

        g_assert_cmpint(env_merge(NULL, NULL, NULL, &env), ==, 0);
        assert_env_is(env, NULL, 0);
        g_clear_pointer(&env, borrowed_strv_free);

        g_assert_cmpint(env_merge(empty, empty, empty, &env), ==, 0);
        assert_env_is(env, NULL, 0);
}

static void test_merge_base(void) {
        char *base[] = { "A=1", "NOEQUALS", "=nameless", "B=", "C=x=y", NULL };
        g_autoptr(BorrowedStrv) env = NULL;

        g_assert_cmpint(env_merge(base, NULL, NULL, &env), ==, 0);
        /* Entries without '=' or without a name cannot be set in a child: dropped. */
        char *expected[] = { base[0], base[3], base[4] };
        assert_env_is(env, expected, G_N_ELEMENTS(expected));
        g_assert_cmpstr(env_get(env, "C"), ==, "x=y");
        g_assert_cmpstr(env_get(env, "B"), ==, "");
}

static void test_merge_unset(void) {
        char *base[] = { "A=1", "AB=2", "B=3", "HOME=/root", "PATH=/bin", NULL };
        char *unset[] = { "A", "PATH", "NOT_THERE", "HOM", NULL };
        g_autoptr(BorrowedStrv) env = NULL;

        g_assert_cmpint(env_merge(base, unset, NULL, &env), ==, 0);
        /* Whole names only: unsetting A keeps AB, HOM keeps HOME. */
        char *expected[] = { base[1], base[2], base[3] };
        assert_env_is(env, expected, G_N_ELEMENTS(expected));
}

static void test_merge_set(void) {
        char *base[] = { "A=base", "B=base", "C=base", NULL };
        char *unset[] = { "B", "C", NULL };
        char *set[] = { "C=set", "D=1", "D=2", "A=set1", "D=3", "A=set2", NULL };
        g_autoptr(BorrowedStrv) env = NULL;

        g_assert_cmpint(env_merge(base, unset, set, &env), ==, 0);
        /* set overrides base; unset applies to base only, so C comes back from set;
         * among repeated names the last one wins. */
        char *expected[] = { set[0], set[4], set[5] };
        assert_env_is(env, expected, G_N_ELEMENTS(expected));
        g_assert_cmpstr(env_get(env, "A"), ==, "set2");
        g_assert_cmpstr(env_get(env, "C"), ==, "set");
        g_assert_cmpstr(env_get(env, "D"), ==, "3");
        g_assert_null(env_get(env, "B"));
}

static void test_merge_base_duplicates(void) {
        char *base[] = { "X=1", "Y=1", "X=2", NULL };
        char *set[] = { "Y=2", NULL };
        g_autoptr(BorrowedStrv) env = NULL;

        g_assert_cmpint(env_merge(base, NULL, set, &env), ==, 0);
        /* A child must never see a name twice, whatever the base looked like. */
        g_assert_cmpuint(count_name(env, "X"), ==, 1);
        g_assert_cmpuint(count_name(env, "Y"), ==, 1);
        g_assert_cmpuint(g_strv_length(env), ==, 2);
        g_assert_cmpstr(env_get(env, "Y"), ==, "2");
}

static void test_merge_large(void) {
        /* Clients may send lists this long; a quadratic merge would take minutes. */
        enum { N = 100000 };
        g_autoptr(GPtrArray) base = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) unset = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) set = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(BorrowedStrv) env = NULL;

        for (guint i = 0; i < N; i++) {
                g_ptr_array_add(base, g_strdup_printf("VAR_%u=base", i));
                /* Every third base name is unset, every second one is set again. */
                if (i % 3 == 0)
                        g_ptr_array_add(unset, g_strdup_printf("VAR_%u", i));
                if (i % 2 == 0)
                        g_ptr_array_add(set, g_strdup_printf("VAR_%u=set", i));
                g_ptr_array_add(set, g_strdup_printf("NEW_%u=%u", N - i, i));
        }
        g_ptr_array_add(base, NULL);
        g_ptr_array_add(unset, NULL);
        g_ptr_array_add(set, NULL);

        g_assert_cmpint(env_merge((char **) base->pdata, (char **) unset->pdata, (char **) set->pdata, &env),
                        ==, 0);

        /* Base names survive unless unset and not set again; all NEW_ names are there. */
        guint expected = N;
        for (guint i = 0; i < N; i++)
                if (i % 3 == 0 && i % 2 != 0)
                        expected--;
        expected += N;
        g_assert_cmpuint(g_strv_length(env), ==, expected);

        g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (char **e = env; *e; e++) {
                g_autofree char *name = g_strndup(*e, strcspn(*e, "="));
                g_assert_false(g_hash_table_contains(names, name));
                g_hash_table_add(names, g_steal_pointer(&name));
        }

        /* Spot checks; env_get() is linear, so only a few. */
        g_assert_cmpstr(env_get(env, "VAR_0"), ==, "set");
        g_assert_null(env_get(env, "VAR_3"));
        g_assert_cmpstr(env_get(env, "VAR_6"), ==, "set");
        g_assert_cmpstr(env_get(env, "VAR_1"), ==, "base");
        g_assert_cmpstr(env_get(env, "NEW_1"), ==, "99999");
}

static void test_name_is_valid(void) {
        g_assert_true(env_name_is_valid("A"));
        g_assert_true(env_name_is_valid("PATH"));
        g_assert_true(env_name_is_valid("with space"));
        g_assert_false(env_name_is_valid(NULL));
        g_assert_false(env_name_is_valid(""));
        g_assert_false(env_name_is_valid("A=B"));
        g_assert_false(env_name_is_valid("="));
        g_assert_false(env_name_is_valid("A="));
}

static void test_assignment_is_valid(void) {
        g_assert_true(env_assignment_is_valid("A=B"));
        g_assert_true(env_assignment_is_valid("A="));
        g_assert_true(env_assignment_is_valid("A=B=C"));
        g_assert_true(env_assignment_is_valid("A==")); /* value "=" */
        g_assert_false(env_assignment_is_valid(NULL));
        g_assert_false(env_assignment_is_valid(""));
        g_assert_false(env_assignment_is_valid("A"));
        g_assert_false(env_assignment_is_valid("=B"));
        g_assert_false(env_assignment_is_valid("="));
}

static void test_get(void) {
        char *env[] = { "PATHX=/x", "PATH=/bin", "EMPTY=", "P=first", "P=second", NULL };
        char *empty[] = { NULL };

        g_assert_cmpstr(env_get(env, "PATH"), ==, "/bin");
        g_assert_cmpstr(env_get(env, "PATHX"), ==, "/x");
        g_assert_cmpstr(env_get(env, "EMPTY"), ==, "");
        g_assert_true(env_get(env, "PATH") == env[1] + strlen("PATH="));
        /* The first match, as getenv() does. */
        g_assert_cmpstr(env_get(env, "P"), ==, "first");
        g_assert_null(env_get(env, "PAT"));
        g_assert_null(env_get(env, "MISSING"));
        g_assert_null(env_get(empty, "PATH"));
        g_assert_null(env_get(NULL, "PATH"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/env/merge/empty", test_merge_empty);
        g_test_add_func("/env/merge/base", test_merge_base);
        g_test_add_func("/env/merge/unset", test_merge_unset);
        g_test_add_func("/env/merge/set", test_merge_set);
        g_test_add_func("/env/merge/base-duplicates", test_merge_base_duplicates);
        g_test_add_func("/env/merge/large", test_merge_large);
        g_test_add_func("/env/name-is-valid", test_name_is_valid);
        g_test_add_func("/env/assignment-is-valid", test_assignment_is_valid);
        g_test_add_func("/env/get", test_get);

        return g_test_run();
}
