/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a process object keeps of argv and description (src/object-bounds.c). */

#include <glib.h>
#include <string.h>

#include "object-bounds.h"

static gsize kept_bytes(char **l) {
        gsize n = 0;
        for (gsize i = 0; l[i]; i++)
                n += strlen(l[i]) + 1;
        return n;
}

static void test_argv_small(void) {
        char *argv[] = { "/bin/echo", "hello", "", "wörld", NULL };
        bool truncated = true;
        g_autofree char **copy = object_argv_copy(argv, &truncated);

        g_assert_false(truncated);
        g_assert_cmpuint(g_strv_length(copy), ==, 4);
        for (gsize i = 0; i < 4; i++)
                g_assert_cmpstr(copy[i], ==, argv[i]);
}

static void test_argv_bytes(void) {
        g_autofree char *big = g_strnfill(10000, 'a');
        char *argv[] = { "/bin/true", big, "next", NULL };
        bool truncated = false;
        g_autofree char **copy = object_argv_copy(argv, &truncated);

        /* "/bin/true" whole, then what is left of 4096 bytes of the big one; "next" left out. */
        g_assert_true(truncated);
        g_assert_cmpuint(g_strv_length(copy), ==, 2);
        g_assert_cmpstr(copy[0], ==, "/bin/true");
        g_assert_cmpuint(strlen(copy[1]), ==, OBJECT_ARGV_KEEP_BYTES - 10 - 1);
        g_assert_cmpuint(kept_bytes(copy), ==, OBJECT_ARGV_KEEP_BYTES);
}

static void test_argv_exact_fit(void) {
        /* Exactly 4096 bytes with the NULs: kept whole, nothing cut. */
        g_autofree char *a = g_strnfill(OBJECT_ARGV_KEEP_BYTES - 3, 'x');
        char *argv[] = { "p", a, NULL };
        bool truncated = true;
        g_autofree char **copy = object_argv_copy(argv, &truncated);

        g_assert_false(truncated);
        g_assert_cmpstr(copy[1], ==, a);
        g_assert_cmpuint(kept_bytes(copy), ==, OBJECT_ARGV_KEEP_BYTES);

        /* Then nothing of a further argument fits: it is left out. */
        char *argv2[] = { "p", a, "z", NULL };
        g_autofree char **copy2 = object_argv_copy(argv2, &truncated);
        g_assert_true(truncated);
        g_assert_cmpuint(g_strv_length(copy2), ==, 2);
}

static void test_argv_entries(void) {
        g_autofree char **argv = g_new0(char *, 1001);
        for (gsize i = 0; i < 1000; i++)
                argv[i] = "a";
        bool truncated = false;
        g_autofree char **copy = object_argv_copy(argv, &truncated);

        g_assert_true(truncated);
        g_assert_cmpuint(g_strv_length(copy), ==, OBJECT_ARGV_KEEP_ENTRIES);
}

static void test_argv_character_boundary(void) {
        /* "é" is two bytes: a cut after an odd number of bytes would split one. */
        GString *s = g_string_new(NULL);
        while (s->len < 8000)
                g_string_append(s, "\xc3\xa9");
        char *argv[] = { "ab", s->str, NULL };
        g_autofree char **copy = object_argv_copy(argv, NULL);

        /* 4096 - 3 ("ab" and its NUL) - 1 (the NUL of the cut one) = 4092 bytes: 2046 characters. */
        g_assert_cmpuint(strlen(copy[1]), ==, 4092);
        g_assert_true(g_utf8_validate(copy[1], -1, NULL));
        g_string_free(s, TRUE);
}

static void test_argv_invalid_utf8(void) {
        /* What /proc/PID/cmdline may hold. */
        char bad[] = { 'a', (char) 0xff, 'b', (char) 0xc3, 0 };
        char *argv[] = { bad, "\xed\xa0\x80", "\xc0\x80", "\xef\xbf\xbe", NULL };
        g_autofree char **copy = object_argv_copy(argv, NULL);

        g_assert_cmpstr(copy[0], ==, "a?b?");
        g_assert_cmpstr(copy[1], ==, "???");   /* a surrogate */
        g_assert_cmpstr(copy[2], ==, "??");    /* an overlong NUL */
        g_assert_cmpstr(copy[3], ==, "???");   /* U+FFFE, which sd-bus refuses */
        for (gsize i = 0; copy[i]; i++)
                g_assert_true(utf8_is_valid_dbus(copy[i], strlen(copy[i])));
}

static void test_description(void) {
        g_autofree char *shortdesc = object_description_copy("a job");
        g_assert_cmpstr(shortdesc, ==, "a job");

        GString *s = g_string_new("D");
        while (s->len < 2000)
                g_string_append(s, "\xc3\xa9");
        g_autofree char *cut = object_description_copy(s->str);
        /* 'D' and 255 "é" = 511 bytes: the next character would end at byte 513. */
        g_assert_cmpuint(strlen(cut), ==, 511);
        g_assert_true(strncmp(cut, s->str, 511) == 0);
        g_assert_true(g_utf8_validate(cut, -1, NULL));

        char *inplace = g_strdup(s->str);
        object_description_bound(inplace);
        g_assert_cmpstr(inplace, ==, cut);
        g_free(inplace);
        object_description_bound(NULL);
        g_string_free(s, TRUE);
}

static void test_prefix_length(void) {
        g_assert_cmpuint(utf8_prefix_length("abc", 10), ==, 3);
        g_assert_cmpuint(utf8_prefix_length("abc", 3), ==, 3);
        g_assert_cmpuint(utf8_prefix_length("abc", 2), ==, 2);
        g_assert_cmpuint(utf8_prefix_length("a\xe2\x82\xac", 3), ==, 1); /* "a€": € is 3 bytes */
        g_assert_cmpuint(utf8_prefix_length("a\xe2\x82\xac", 4), ==, 4);
        g_assert_cmpuint(utf8_prefix_length("\xf0\x9f\x98\x80", 3), ==, 0);
}

static void test_valid_dbus(void) {
        g_assert_true(utf8_is_valid_dbus("", 0));
        g_assert_true(utf8_is_valid_dbus("h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
        g_assert_false(utf8_is_valid_dbus("\xef\xb7\x90", 3));       /* U+FDD0 */
        g_assert_false(utf8_is_valid_dbus("\xf4\x90\x80\x80", 4));   /* above U+10FFFF */
        g_assert_false(utf8_is_valid_dbus("\xe0\x80\xaf", 3));       /* overlong */
        g_assert_false(utf8_is_valid_dbus("a\0b", 3));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/object-bounds/argv/small", test_argv_small);
        g_test_add_func("/object-bounds/argv/bytes", test_argv_bytes);
        g_test_add_func("/object-bounds/argv/exact-fit", test_argv_exact_fit);
        g_test_add_func("/object-bounds/argv/entries", test_argv_entries);
        g_test_add_func("/object-bounds/argv/character-boundary", test_argv_character_boundary);
        g_test_add_func("/object-bounds/argv/invalid-utf8", test_argv_invalid_utf8);
        g_test_add_func("/object-bounds/description", test_description);
        g_test_add_func("/object-bounds/prefix-length", test_prefix_length);
        g_test_add_func("/object-bounds/valid-dbus", test_valid_dbus);
        return g_test_run();
}
