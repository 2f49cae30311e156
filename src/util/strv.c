/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "strv.h"

#include <stdlib.h>
#include <string.h>

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char * const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

char *strv_join(char * const *l, const char *separator) {
        size_t n = 0, k = strlen(separator);
        for (char * const *i = l; i && *i; i++)
                n += strlen(*i) + k;

        char *s = malloc(n + 1), *p = s;
        if (!s)
                return NULL;
        for (char * const *i = l; i && *i; i++) {
                if (i != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *i);
        }
        *p = 0;
        return s;
}
