/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "env.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

bool env_name_is_valid(const char *name) {
        return name && *name && !strchr(name, '=');
}

bool env_assignment_is_valid(const char *assignment) {
        const char *eq = assignment ? strchr(assignment, '=') : NULL;
        return eq && eq != assignment;
}

static size_t name_length(const char *s) {
        return strcspn(s, "=");
}

typedef struct EnvItem {
        const char *entry;
        size_t name_len;
        size_t seq;
} EnvItem;

static int compare_names(const char *a, size_t la, const char *b, size_t lb) {
        int c = memcmp(a, b, la < lb ? la : lb);
        if (c != 0)
                return c;
        return la < lb ? -1 : la > lb;
}

static int env_item_compare(const void *x, const void *y) {
        const EnvItem *a = x, *b = y;
        int c = compare_names(a->entry, a->name_len, b->entry, b->name_len);
        if (c != 0)
                return c;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int string_compare(const void *x, const void *y) {
        return strcmp(*(char * const *) x, *(char * const *) y);
}

static bool is_unset(char **sorted_unset, size_t n_unset, const char *entry, size_t len) {
        size_t lo = 0, hi = n_unset;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = compare_names(sorted_unset[mid], strlen(sorted_unset[mid]), entry, len);
                if (c == 0)
                        return true;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

int env_merge(char * const *base, char * const *unset, char * const *set, char ***ret) {
        size_t n_base = strv_length(base), n_set = strv_length(set), n_unset = strv_length(unset);
        _cleanup_free_ EnvItem *items = NULL;
        _cleanup_free_ char **sorted_unset = NULL;
        size_t n = 0;

        if (n_base > SIZE_MAX / 2 - n_set)
                return -ENOMEM;

        items = malloc((n_base + n_set + 1) * sizeof(EnvItem));
        sorted_unset = malloc((n_unset + 1) * sizeof(char *));
        if (!items || !sorted_unset)
                return -ENOMEM;

        if (n_unset > 0) {
                memcpy(sorted_unset, unset, n_unset * sizeof(char *));
                qsort(sorted_unset, n_unset, sizeof(char *), string_compare);
        }

        for (size_t i = 0; i < n_base; i++) {
                size_t len = name_length(base[i]);
                if (len == 0 || base[i][len] != '=')
                        continue;
                if (is_unset(sorted_unset, n_unset, base[i], len))
                        continue;
                /* n is read in the initializer, so it is incremented in a statement of its own
                 * (items[n++] = { ..., n } is unsequenced, undefined behaviour). */
                items[n] = (EnvItem) { base[i], len, n };
                n++;
        }
        for (size_t i = 0; i < n_set; i++) {
                items[n] = (EnvItem) { set[i], name_length(set[i]), n };
                n++;
        }

        qsort(items, n, sizeof(EnvItem), env_item_compare);

        char **l = malloc((n + 1) * sizeof(char *));
        if (!l)
                return -ENOMEM;

        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                /* Within a run of equal names the last one sorts last and wins. */
                if (i + 1 < n && compare_names(items[i].entry, items[i].name_len,
                                               items[i + 1].entry, items[i + 1].name_len) == 0)
                        continue;
                l[k++] = (char *) items[i].entry;
        }
        l[k] = NULL;
        *ret = l;
        return 0;
}

const char *env_get(char * const *env, const char *name) {
        size_t len = strlen(name);
        for (char * const *i = env; i && *i; i++)
                if (strncmp(*i, name, len) == 0 && (*i)[len] == '=')
                        return *i + len + 1;
        return NULL;
}
