/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Replays fuzz inputs without libFuzzer, so that every build (gcc, valgrind,
 * sanitizers or not) runs the seed corpus as an ordinary test. Arguments are
 * files or directories (not recursive); each file is one input. No input at
 * all is a failure: an empty corpus would prove nothing.
 */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger inputs are not seeds; refusing them keeps a stray file from taking minutes. */
#define FUZZ_INPUT_MAX (1024 * 1024)

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static int run_file(const char *path) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;

        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        /* One byte more than allowed, to notice an oversized file. */
        buf = malloc(FUZZ_INPUT_MAX + 1);
        if (!buf)
                return -ENOMEM;
        n = fread(buf, 1, FUZZ_INPUT_MAX + 1, f);
        if (ferror(f)) {
                fprintf(stderr, "%s: read error\n", path);
                return -EIO;
        }
        if (n > FUZZ_INPUT_MAX) {
                fprintf(stderr, "%s: larger than %d bytes\n", path, FUZZ_INPUT_MAX);
                return -EFBIG;
        }

        printf("running %s (%zu bytes)\n", path, n);
        fflush(stdout); /* so that the log names the input if it crashes */
        (void) LLVMFuzzerTestOneInput(buf, n);
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static void free_names(char ***names) {
        for (char **n = *names; n && *n; n++)
                free(*n);
        free(*names);
}

/* Runs every regular file of @dir in name order, so that runs are reproducible. */
static int run_directory(const char *dir, unsigned *n_run) {
        _cleanup_(free_names) char **names = NULL;
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return -errno;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char **t = realloc(names, (n + 2) * sizeof(char *));
                if (!t) {
                        closedir(d);
                        return -ENOMEM;
                }
                names = t;
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
                        names[n] = NULL;
                        closedir(d);
                        return -ENOMEM;
                }
                names[++n] = NULL;
        }
        closedir(d);
        if (n == 0)
                return 0;

        qsort(names, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (stat(names[i], &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = run_file(names[i]);
                if (r < 0)
                        return r;
                (*n_run)++;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n_run = 0;
        int r;

        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode))
                        r = run_directory(argv[i], &n_run);
                else {
                        r = run_file(argv[i]);
                        if (r >= 0)
                                n_run++;
                }
                if (r < 0)
                        return EXIT_FAILURE;
        }

        if (n_run == 0) {
                fprintf(stderr, "No input was run.\n");
                return EXIT_FAILURE;
        }
        printf("%u inputs run.\n", n_run);
        return EXIT_SUCCESS;
}
