/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "proc-stat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"

int proc_stat_parse(const char *text, ProcStat *ret) {
        ProcStat st = {};

        /* comm may hold spaces and parentheses: it ends at the last ')'. */
        const char *open = strchr(text, '(');
        const char *close = strrchr(text, ')');
        if (!open || !close || close < open || close[1] != ' ')
                return -EINVAL;
        size_t len = (size_t) (close - open - 1);
        if (len >= sizeof(st.comm))
                len = sizeof(st.comm) - 1;
        memcpy(st.comm, open + 1, len);
        st.comm[len] = 0;

        int ppid, pgrp, session;
        char state;
        if (sscanf(close + 2, "%c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
                return -EINVAL;
        st.state = state;
        st.ppid = ppid;
        st.pgrp = pgrp;
        st.session = session;

        /* Field 22, starttime, which identifies a process together with its pid (a reused pid
         * starts later): after fields 3 to 21, 19 of them, each ended by a blank. */
        const char *p = close + 2;
        for (unsigned i = 0; i < 19 && p; i++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        uint64_t starttime;
        if (p && parse_u64_n(p, strcspn(p, " \n"), 0, &starttime) >= 0)
                st.starttime = starttime;
        *ret = st;
        return 0;
}

int proc_stat_read(pid_t pid, ProcStat *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[1024];

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return errno == ESRCH ? -ENOENT : -errno;
        buf[n] = 0;
        return proc_stat_parse(buf, ret);
}
