/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Signal names, durations, and how to present the end of a process. */

#include "ctl-util.h"

#include <signal.h>
#include <string.h>

#include "ctl.h"

int ctl_signal_from_string(const char *s) {
        guint64 n;

        if (!s || !*s)
                return -1;
        if (g_ascii_isdigit(*s)) {
                if (!g_ascii_string_to_unsigned(s, 10, 1, (guint64) SIGRTMAX, &n, NULL))
                        return -1;
                return (int) n;
        }
        if (g_ascii_strncasecmp(s, "SIG", 3) == 0)
                s += 3;

        /* SIGRTMIN and SIGRTMAX are not constants (the C library keeps a few for itself). */
        gboolean rtmin = g_ascii_strncasecmp(s, "RTMIN", 5) == 0;
        gboolean rtmax = g_ascii_strncasecmp(s, "RTMAX", 5) == 0;
        if (rtmin || rtmax) {
                const char *rest = s + 5;
                int base = rtmin ? SIGRTMIN : SIGRTMAX;
                if (!*rest)
                        return base;
                if (*rest != (rtmin ? '+' : '-') ||
                    !g_ascii_string_to_unsigned(rest + 1, 10, 1, (guint64) (SIGRTMAX - SIGRTMIN), &n, NULL))
                        return -1;
                return rtmin ? base + (int) n : base - (int) n;
        }
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *name = sigabbrev_np(sig);
                if (name && g_ascii_strcasecmp(s, name) == 0)
                        return sig;
        }
        return -1;
}

char *ctl_signal_to_string(int sig) {
        const char *name = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

        if (name)
                return g_strdup(name);
        if (sig == SIGRTMIN)
                return g_strdup("RTMIN");
        if (sig > SIGRTMIN && sig <= SIGRTMAX)
                return g_strdup_printf("RTMIN+%d", sig - SIGRTMIN);
        return g_strdup_printf("%d", sig);
}

gboolean ctl_parse_seconds(const char *s, guint64 *ret_usec) {
        guint64 whole = 0, frac = 0;
        const char *p = s;
        unsigned digits = 0;

        if (!s || !g_ascii_isdigit(*s))
                return FALSE;
        for (; g_ascii_isdigit(*p); p++) {
                if (whole > (G_MAXUINT64 / G_USEC_PER_SEC - 9) / 10)
                        return FALSE;
                whole = whole * 10 + (guint64) (*p - '0');
        }
        if (*p == '.') {
                p++;
                if (!g_ascii_isdigit(*p))
                        return FALSE;
                for (; g_ascii_isdigit(*p); p++, digits++) {
                        if (digits >= 6)
                                return FALSE;
                        frac = frac * 10 + (guint64) (*p - '0');
                }
                for (; digits < 6; digits++)
                        frac *= 10;
        }
        if (*p)
                return FALSE;
        *ret_usec = whole * G_USEC_PER_SEC + frac;
        return TRUE;
}

gboolean ctl_parse_size(const char *s, guint32 *ret_rows, guint32 *ret_columns) {
        g_auto(GStrv) parts = s ? g_strsplit(s, "x", 3) : NULL;
        guint64 rows, columns;

        if (!parts || g_strv_length(parts) != 2 || !g_ascii_isdigit(parts[0][0]) ||
            !g_ascii_isdigit(parts[1][0]) ||
            !g_ascii_string_to_unsigned(parts[0], 10, 1, G_MAXUINT16, &rows, NULL) ||
            !g_ascii_string_to_unsigned(parts[1], 10, 1, G_MAXUINT16, &columns, NULL))
                return FALSE;
        *ret_rows = (guint32) rows;
        *ret_columns = (guint32) columns;
        return TRUE;
}

gboolean ctl_state_is_terminal(const char *state) {
        return g_strcmp0(state, "exited") == 0 || g_strcmp0(state, "killed") == 0 ||
               g_strcmp0(state, "dumped") == 0 || g_strcmp0(state, "vanished") == 0;
}

int ctl_exit_code_for_state(const char *state, int status) {
        if (g_strcmp0(state, "exited") == 0)
                return status & 0xff;
        if (g_strcmp0(state, "killed") == 0 || g_strcmp0(state, "dumped") == 0)
                return 128 + status;
        return CTL_EXIT_PROCESS_VANISHED;
}

char *ctl_describe_state(const char *state, int status) {
        g_autofree char *name = ctl_signal_to_string(status);

        if (g_strcmp0(state, "exited") == 0)
                return g_strdup_printf("exited with code %d", status);
        if (g_strcmp0(state, "killed") == 0)
                return g_strdup_printf("killed by signal %d (%s)", status, name);
        if (g_strcmp0(state, "dumped") == 0)
                return g_strdup_printf("dumped core on signal %d (%s)", status, name);
        if (g_strcmp0(state, "stopped") == 0)
                return g_strdup_printf("stopped by signal %d (%s)", status, name);
        if (g_strcmp0(state, "vanished") == 0)
                return g_strdup("vanished (how it ended is unknown)");
        return g_strdup(state);
}

char *ctl_format_timestamp(guint64 usec) {
        if (usec == 0)
                return g_strdup("-");
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_local((gint64) (usec / G_USEC_PER_SEC));
        if (!t)
                return g_strdup_printf("%" G_GUINT64_FORMAT, usec);
        g_autofree char *base = g_date_time_format(t, "%Y-%m-%d %H:%M:%S");
        g_autofree char *zone = g_date_time_format(t, "%z");
        return g_strdup_printf("%s.%03u %s", base, (unsigned) (usec % G_USEC_PER_SEC / 1000), zone);
}

/* Whether @s can be typed to a shell as it is. */
static gboolean shell_safe(const char *s) {
        if (!*s)
                return FALSE;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("-_./=:,+@%", *p))
                        return FALSE;
        return TRUE;
}

char *ctl_join_argv(const char *const *argv) {
        g_autoptr(GString) out = g_string_new(NULL);

        for (const char *const *a = argv; a && *a; a++) {
                if (out->len)
                        g_string_append_c(out, ' ');
                if (shell_safe(*a))
                        g_string_append(out, *a);
                else {
                        g_autofree char *q = g_shell_quote(*a);
                        g_string_append(out, q);
                }
        }
        return g_string_free(g_steal_pointer(&out), FALSE);
}

char *ctl_printable(const char *s) {
        char *out = g_strdup(s ? s : "");

        for (char *p = out; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return out;
}
