/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* The fields of /proc/PID/stat that the service uses. */
typedef struct ProcStat {
        char comm[17]; /* TASK_COMM_LEN + 1 */
        char state;
        pid_t ppid;
        pid_t pgrp;
        pid_t session;
        unsigned long long starttime; /* clock ticks after boot; 0 when the text ends before it */
} ProcStat;

/* Parses the text of a /proc/PID/stat file. Return: 0 or -EINVAL. */
int proc_stat_parse(const char *text, ProcStat *ret);
/* Reads /proc/@pid/stat. Return: 0, -ENOENT (-ESRCH) when it is gone, or another negative errno. */
int proc_stat_read(pid_t pid, ProcStat *ret);
