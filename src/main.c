/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* childwatchd: argv, signals, limits, then one sd-event loop until told to stop. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "manager.h"
#include "util/log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

static void block_signals(void) {
        sigset_t mask;

        /* SIGCHLD must be blocked before any child exists (sd-event's child sources refuse
         * otherwise); SIGTERM/SIGINT become event sources; SIGPIPE must not kill us when
         * stderr goes away. The spawned programs get an empty mask back. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGPIPE);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
}

static void reset_signal_dispositions(void) {
        /* An ignored signal stays ignored across execve(): do not pass on whatever our
         * own parent left us. Once, here, instead of per spawn. */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
}

static void raise_nofile_limit(void) {
        struct rlimit rl;

        /* One pidfd per watched child. The spawn helper was started before this and
         * keeps the inherited soft limit for the programs it starts. */
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning("Cannot raise RLIMIT_NOFILE: %s", strerror(errno));
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received %s, exiting.", strsignal((int) si->ssi_signo));
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(config_done) Config config = {};
        int r;

        block_signals();
        reset_signal_dispositions();

        r = config_parse_argv(argc, argv, &config);
        if (r < 0)
                return EXIT_FAILURE;
        if (config.show_help) {
                config_print_help(program_invocation_short_name);
                return EXIT_SUCCESS;
        }
        if (config.show_version) {
                puts(PROJECT_VERSION);
                return EXIT_SUCCESS;
        }
        log_set_max_level(config.log_level);

        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop"), EXIT_FAILURE;

        r = sd_event_add_signal(event, NULL, SIGTERM, on_terminate, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_terminate, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot watch SIGTERM/SIGINT"), EXIT_FAILURE;

        r = manager_new(&m, event, &config);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the service"), EXIT_FAILURE;

        raise_nofile_limit();

        r = manager_start(m, &config);
        if (r < 0)
                return EXIT_FAILURE;

        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed"), EXIT_FAILURE;
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
