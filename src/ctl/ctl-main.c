/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * childwatchctl: the global options (bus, --json), the command table, help, and the option
 * parsing that every command shares.
 */

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct CtlCommand {
        const char *name;
        CtlCommandFunc func;
        const char *summary;
} CtlCommand;

static const CtlCommand commands[] = {
        { "run", ctl_cmd_run, "Start a program through the service (--wait: until it ends)" },
        { "list", ctl_cmd_list, "List the process objects" },
        { "status", ctl_cmd_status, "Show the state, pid, argv, owner, times and exit of a process" },
        { "signal", ctl_cmd_signal, "Send a signal to a process" },
        { "kill", ctl_cmd_kill, "Stop a process: its kill signal, then SIGKILL after a grace period" },
        { "wait", ctl_cmd_wait, "Wait until a process ends; exit with its code (128+N if killed)" },
        { "release", ctl_cmd_release, "Drop a process object (the process keeps running)" },
        { "adopt", ctl_cmd_adopt, "Watch a running process that the service did not start" },
        { "monitor", ctl_cmd_monitor, "Print every event live, one line each (--json: JSON lines)" },
};

static const char exit_codes_help[] =
        "Exit status:\n"
        "  0        success\n"
        "  0-255    run --wait, wait: the exit code of the process (it may use the codes\n"
        "           below too; childwatchctl's own failures always print a line on stderr)\n"
        "  128+N    run --wait, wait: the process was killed by signal N or dumped core\n"
        "  64       usage: unknown command or option, bad or missing argument\n"
        "  65       the service rejected an argument (InvalidArgs)\n"
        "  69       no bus, or the service cannot be reached (not activatable, no answer)\n"
        "  70       internal error: unexpected error or reply\n"
        "  71       a local system call failed (pidfd, terminal, signals)\n"
        "  75       the service or the bus went away before it answered or before the\n"
        "           process ended\n"
        "  77       permission denied (AccessDenied)\n"
        "  201      no such process (unknown ID or object, no watched process with that pid)\n"
        "  202      the program could not be started (SpawnFailed)\n"
        "  203      the process has ended already (NotRunning)\n"
        "  204      the process is watched already (AlreadyWatched)\n"
        "  205      a limit of the service is reached (LimitExceeded)\n"
        "  206      the service does not support this (NotSupported, or an older service)\n"
        "  207      run --wait, wait: the process vanished, how it ended is unknown\n";

const char *ctl_exit_codes_help(void) {
        return exit_codes_help;
}

void ctl_log(const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        fprintf(stderr, "childwatchctl: %s\n", message);
}

int ctl_usage_error(const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        fprintf(stderr, "childwatchctl: %s\nTry \"childwatchctl --help\".\n", message);
        return CTL_EXIT_USAGE;
}

/* The global options, bound to @ctl; may follow the command name too. */
static void add_global_entries(GOptionContext *context, Ctl *ctl) {
        const GOptionEntry entries[] = {
                { "user", 0, 0, G_OPTION_ARG_NONE, &ctl->user,
                  "Talk to the service on the session bus (the default)", NULL },
                { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system, "Talk to the service on the system bus",
                  NULL },
                { "address", 0, 0, G_OPTION_ARG_STRING, &ctl->address,
                  "Talk to the service on the bus at ADDRESS", "ADDRESS" },
                { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json, "Print listings, status and events as JSON",
                  NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_option_context_add_main_entries(context, entries, NULL);
}

/* Removes @argv[@i], keeping the array NULL-terminated where it was. */
static void remove_arg(int *argc, char **argv, int i) {
        memmove(argv + i, argv + i + 1, sizeof(char *) * (size_t) (*argc - i));
        (*argc)--;
}

int ctl_parse_options(Ctl *ctl, const char *command, int *argc, char ***argv, const char *parameter_string,
                      const char *summary, const char *description, const GOptionEntry *entries,
                      gboolean strict_posix) {
        g_autoptr(GOptionContext) context = g_option_context_new(parameter_string);
        g_autoptr(GError) error = NULL;
        g_autofree char *prgname = g_strconcat("childwatchctl", command ? " " : "", command, NULL);

        /* GOptionContext's usage line is "PRGNAME [OPTION…] PARAMETERS". */
        g_set_prgname(prgname);

        if (entries)
                g_option_context_add_main_entries(context, entries, NULL);
        add_global_entries(context, ctl);
        g_option_context_set_summary(context, summary);
        if (description)
                g_option_context_set_description(context, description);
        g_option_context_set_strict_posix(context, strict_posix);
        if (!g_option_context_parse(context, argc, argv, &error))
                return ctl_usage_error("%s", error->message);

        /* GOptionContext keeps a "--" in some positions and drops it in others. With
         * strict_posix only the separator can be first; otherwise the first one is it. */
        for (int i = 1; i < *argc; i++) {
                if (strcmp((*argv)[i], "--") == 0) {
                        remove_arg(argc, *argv, i);
                        break;
                }
                if (strict_posix)
                        break;
        }

        if ((ctl->user ? 1 : 0) + (ctl->system ? 1 : 0) + (ctl->address ? 1 : 0) > 1)
                return ctl_usage_error("--user, --system and --address= exclude each other.");
        if (ctl->address && !*ctl->address)
                return ctl_usage_error("Empty --address=.");
        return 0;
}

static char *commands_help(void) {
        g_autoptr(GString) s = g_string_new("Commands:\n");

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
                g_string_append_printf(s, "  %-9s %s\n", commands[i].name, commands[i].summary);
        g_string_append(s, "  help      This help; \"help COMMAND\" (or \"COMMAND --help\"): a command's\n\n"
                           "Processes are named by ID (the number at the end of their object path\n"
                           "/org/childwatch/ChildWatch1/process/ID), by pid:PID (a watched process that\n"
                           "runs), or by the object path.");
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The options before the command (strict POSIX: what follows the command is its own). */
static int parse_top_level(Ctl *ctl, int *argc, char ***argv, gboolean *version) {
        const GOptionEntry entries[] = {
                { "version", 0, 0, G_OPTION_ARG_NONE, version, "Print the version and exit", NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_autofree char *summary = commands_help();
        g_autofree char *description = g_strconcat(
                exit_codes_help,
                "\nThe bus: --user (the default) is the session bus, as in busctl; the service's\n"
                "bus name is " CW_NAME ".\n",
                NULL);

        return ctl_parse_options(ctl, NULL, argc, argv, "COMMAND [ARGUMENT…]", summary, description, entries,
                                 TRUE);
}

static int run_command(Ctl *ctl, int argc, char **argv) {
        const char *name = argv[0];

        if (strcmp(name, "help") == 0) {
                /* Both print the help and exit. */
                if (argc < 2) {
                        char *help_argv[] = { (char *) "childwatchctl", (char *) "--help", NULL };
                        int help_argc = 2;
                        char **p = help_argv;
                        gboolean version = FALSE;
                        return parse_top_level(ctl, &help_argc, &p, &version);
                }
                char *help_argv[] = { argv[1], (char *) "--help", NULL };
                return run_command(ctl, 2, help_argv);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
                if (strcmp(name, commands[i].name) == 0)
                        return commands[i].func(ctl, argc, argv);
        return ctl_usage_error("Unknown command \"%s\".", name);
}

int main(int argc, char *argv[]) {
        Ctl ctl = { 0 };
        gboolean version = FALSE;
        int r;

        setlocale(LC_ALL, "");
        g_set_prgname("childwatchctl");
        /* A closed stdout (`childwatchctl list | head -1`) must give EPIPE, not kill us
         * before we could restore a terminal or forward a signal. */
        (void) signal(SIGPIPE, SIG_IGN);

        r = parse_top_level(&ctl, &argc, &argv, &version);
        if (r != 0)
                goto out;
        if (version) {
                puts(PROJECT_VERSION);
                goto out;
        }
        if (argc < 2) {
                r = ctl_usage_error("No command given.");
                goto out;
        }
        r = run_command(&ctl, argc - 1, argv + 1);
out:
        if (ctl.conn)
                (void) g_dbus_connection_flush_sync(ctl.conn, NULL, NULL);
        g_clear_object(&ctl.conn);
        g_free(ctl.address);
        return r;
}
