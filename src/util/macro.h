/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small language helpers shared by the whole tree: scope-bound cleanup of
 * resources, ownership hand-over, array sizes.
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand over ownership of a pointer: returns it and leaves NULL behind. */
#define steal_ptr(p)                           \
        ({                                     \
                __typeof__(*(p)) _ptr_ = *(p); \
                *(p) = NULL;                   \
                _ptr_;                         \
        })

/* Same for an fd: returns it and leaves -EBADF behind. */
static inline int steal_fd(int *fd) {
        int r = *fd;
        *fd = -EBADF;
        return r;
}

/* Declares name##p(), suitable for _cleanup_(), calling func() on a non-NULL pointer. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)  \
        static inline void func##p(type *p) {    \
                if (*p)                          \
                        func(*p);                \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}

/* Closes an fd, keeping errno intact so that it can be used on error paths. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        safe_close(*fd);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
