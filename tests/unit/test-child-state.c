/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The state machine behind State, ExitStatus and StateChanged (API.md): which
 * kernel report becomes which event, what State and ExitStatus it leaves, and
 * that a terminal state is reached exactly once, whatever arrives later.
 */

#include <glib.h>
#include <signal.h>
#include <string.h>

#include "child-state.h"

static void test_si_code(void) {
        g_assert_cmpint(child_event_from_si_code(CLD_EXITED), ==, CHILD_EVENT_EXITED);
        g_assert_cmpint(child_event_from_si_code(CLD_KILLED), ==, CHILD_EVENT_KILLED);
        g_assert_cmpint(child_event_from_si_code(CLD_DUMPED), ==, CHILD_EVENT_DUMPED);
        g_assert_cmpint(child_event_from_si_code(CLD_STOPPED), ==, CHILD_EVENT_STOPPED);
        g_assert_cmpint(child_event_from_si_code(CLD_CONTINUED), ==, CHILD_EVENT_CONTINUED);
        /* ptrace stops are not ours to report. */
        g_assert_cmpint(child_event_from_si_code(CLD_TRAPPED), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_from_si_code(0), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_from_si_code(-1), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_from_si_code(SI_USER), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_from_si_code(1000), ==, _CHILD_EVENT_INVALID);
}

static void test_terminal_classes(void) {
        g_assert_false(child_state_is_terminal(CHILD_STATE_RUNNING));
        g_assert_false(child_state_is_terminal(CHILD_STATE_STOPPED));
        g_assert_true(child_state_is_terminal(CHILD_STATE_EXITED));
        g_assert_true(child_state_is_terminal(CHILD_STATE_KILLED));
        g_assert_true(child_state_is_terminal(CHILD_STATE_DUMPED));
        g_assert_true(child_state_is_terminal(CHILD_STATE_VANISHED));

        g_assert_true(child_event_is_terminal(CHILD_EVENT_EXITED));
        g_assert_true(child_event_is_terminal(CHILD_EVENT_KILLED));
        g_assert_true(child_event_is_terminal(CHILD_EVENT_DUMPED));
        g_assert_true(child_event_is_terminal(CHILD_EVENT_VANISHED));
        g_assert_false(child_event_is_terminal(CHILD_EVENT_STOPPED));
        g_assert_false(child_event_is_terminal(CHILD_EVENT_CONTINUED));

        /* The default "events" option reports everything (API.md). */
        for (ChildEvent e = 0; e < _CHILD_EVENT_MAX; e++)
                g_assert_true(CHILD_EVENTS_DEFAULT & CHILD_EVENT_MASK(e));
}

typedef struct Expect {
        ChildEvent event;
        int status;
        ChildState state;
        int exit_status;
} Expect;

static void test_apply_terminal(void) {
        /* API.md: exited gives the code, killed/dumped the signal, vanished -1. */
        static const Expect cases[] = {
                { CHILD_EVENT_EXITED, 0, CHILD_STATE_EXITED, 0 },
                { CHILD_EVENT_EXITED, 7, CHILD_STATE_EXITED, 7 },
                { CHILD_EVENT_EXITED, 255, CHILD_STATE_EXITED, 255 },
                { CHILD_EVENT_KILLED, SIGKILL, CHILD_STATE_KILLED, SIGKILL },
                { CHILD_EVENT_KILLED, SIGTERM, CHILD_STATE_KILLED, SIGTERM },
                { CHILD_EVENT_DUMPED, SIGSEGV, CHILD_STATE_DUMPED, SIGSEGV },
                { CHILD_EVENT_VANISHED, 0, CHILD_STATE_VANISHED, -1 },
                { CHILD_EVENT_VANISHED, 3, CHILD_STATE_VANISHED, -1 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
                for (ChildState from = CHILD_STATE_RUNNING; from <= CHILD_STATE_STOPPED; from++) {
                        ChildState state = from;
                        int exit_status = from == CHILD_STATE_STOPPED ? SIGSTOP : 0;

                        g_assert_true(child_state_apply(&state, &exit_status, cases[i].event, cases[i].status));
                        g_assert_cmpint(state, ==, cases[i].state);
                        g_assert_cmpint(exit_status, ==, cases[i].exit_status);
                }
}

static void test_terminal_once(void) {
        /* After any terminal state, no event is news and nothing changes. */
        static const Expect terminal[] = {
                { CHILD_EVENT_EXITED, 3, CHILD_STATE_EXITED, 3 },
                { CHILD_EVENT_KILLED, SIGKILL, CHILD_STATE_KILLED, SIGKILL },
                { CHILD_EVENT_DUMPED, SIGABRT, CHILD_STATE_DUMPED, SIGABRT },
                { CHILD_EVENT_VANISHED, 0, CHILD_STATE_VANISHED, -1 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(terminal); i++) {
                ChildState state = CHILD_STATE_RUNNING;
                int exit_status = 0;

                g_assert_true(child_state_apply(&state, &exit_status, terminal[i].event, terminal[i].status));
                for (ChildEvent later = 0; later < _CHILD_EVENT_MAX; later++) {
                        g_assert_false(child_state_apply(&state, &exit_status, later, 99));
                        g_assert_cmpint(state, ==, terminal[i].state);
                        g_assert_cmpint(exit_status, ==, terminal[i].exit_status);
                }
                g_assert_false(child_state_apply(&state, &exit_status, _CHILD_EVENT_INVALID, 99));
                g_assert_cmpint(state, ==, terminal[i].state);
                g_assert_cmpint(exit_status, ==, terminal[i].exit_status);
        }
}

static void test_stop_continue(void) {
        ChildState state = CHILD_STATE_RUNNING;
        int exit_status = 0;

        /* stopped: ExitStatus is the stop signal; continued: back to running and 0. */
        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_STOPPED, SIGSTOP));
        g_assert_cmpint(state, ==, CHILD_STATE_STOPPED);
        g_assert_cmpint(exit_status, ==, SIGSTOP);

        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_CONTINUED, SIGCONT));
        g_assert_cmpint(state, ==, CHILD_STATE_RUNNING);
        g_assert_cmpint(exit_status, ==, 0);

        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_STOPPED, SIGTSTP));
        g_assert_cmpint(state, ==, CHILD_STATE_STOPPED);
        g_assert_cmpint(exit_status, ==, SIGTSTP);

        /* A second stop (another signal) while stopped is still reported. */
        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_STOPPED, SIGTTIN));
        g_assert_cmpint(state, ==, CHILD_STATE_STOPPED);
        g_assert_cmpint(exit_status, ==, SIGTTIN);

        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_CONTINUED, SIGCONT));
        g_assert_cmpint(state, ==, CHILD_STATE_RUNNING);
        g_assert_cmpint(exit_status, ==, 0);

        /* SIGCHLD coalesces: a continue whose stop was never seen is still reported. */
        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_CONTINUED, SIGCONT));
        g_assert_cmpint(state, ==, CHILD_STATE_RUNNING);
        g_assert_cmpint(exit_status, ==, 0);

        g_assert_true(child_state_apply(&state, &exit_status, CHILD_EVENT_EXITED, 0));
        g_assert_cmpint(state, ==, CHILD_STATE_EXITED);
        g_assert_false(child_state_apply(&state, &exit_status, CHILD_EVENT_CONTINUED, SIGCONT));
        g_assert_false(child_state_apply(&state, &exit_status, CHILD_EVENT_STOPPED, SIGSTOP));
        g_assert_cmpint(state, ==, CHILD_STATE_EXITED);
        g_assert_cmpint(exit_status, ==, 0);
}

static void test_invalid_event(void) {
        ChildState state = CHILD_STATE_STOPPED;
        int exit_status = SIGSTOP;

        g_assert_false(child_state_apply(&state, &exit_status, _CHILD_EVENT_INVALID, 1));
        g_assert_false(child_state_apply(&state, &exit_status, _CHILD_EVENT_MAX, 1));
        g_assert_cmpint(state, ==, CHILD_STATE_STOPPED);
        g_assert_cmpint(exit_status, ==, SIGSTOP);
}

static void test_strings(void) {
        /* The names are API (State property, StateChanged's event). */
        static const char *const states[_CHILD_STATE_MAX] = {
                [CHILD_STATE_RUNNING] = "running", [CHILD_STATE_STOPPED] = "stopped",
                [CHILD_STATE_EXITED] = "exited",   [CHILD_STATE_KILLED] = "killed",
                [CHILD_STATE_DUMPED] = "dumped",   [CHILD_STATE_VANISHED] = "vanished",
        };
        static const char *const events[_CHILD_EVENT_MAX] = {
                [CHILD_EVENT_EXITED] = "exited",       [CHILD_EVENT_KILLED] = "killed",
                [CHILD_EVENT_DUMPED] = "dumped",       [CHILD_EVENT_STOPPED] = "stopped",
                [CHILD_EVENT_CONTINUED] = "continued", [CHILD_EVENT_VANISHED] = "vanished",
        };

        for (ChildState s = 0; s < _CHILD_STATE_MAX; s++)
                g_assert_cmpstr(child_state_to_string(s), ==, states[s]);
        g_assert_null(child_state_to_string(_CHILD_STATE_MAX));
        g_assert_null(child_state_to_string(_CHILD_STATE_INVALID));

        for (ChildEvent e = 0; e < _CHILD_EVENT_MAX; e++)
                g_assert_cmpstr(child_event_to_string(e), ==, events[e]);
        g_assert_null(child_event_to_string(_CHILD_EVENT_MAX));
        g_assert_null(child_event_to_string(_CHILD_EVENT_INVALID));

        /* Each terminal event leads to the state of the same name. */
        for (ChildEvent e = 0; e < _CHILD_EVENT_MAX; e++) {
                ChildState state = CHILD_STATE_RUNNING;
                int exit_status = 0;

                g_assert_true(child_state_apply(&state, &exit_status, e, 1));
                if (child_event_is_terminal(e))
                        g_assert_cmpstr(child_state_to_string(state), ==, child_event_to_string(e));
        }
}

static void test_option_names(void) {
        /* Only these three are names of the "events" option (API.md); the rest come with "exited". */
        static const ChildEvent option_events[] = { CHILD_EVENT_EXITED, CHILD_EVENT_STOPPED,
                                                    CHILD_EVENT_CONTINUED };

        for (gsize i = 0; i < G_N_ELEMENTS(option_events); i++)
                g_assert_cmpint(child_event_option_from_string(child_event_to_string(option_events[i])), ==,
                                option_events[i]);

        g_assert_cmpint(child_event_option_from_string("killed"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("dumped"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("vanished"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("running"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("Exited"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("exited "), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string("exit"), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string(""), ==, _CHILD_EVENT_INVALID);
        g_assert_cmpint(child_event_option_from_string(NULL), ==, _CHILD_EVENT_INVALID);
}

/* Wait statuses as PIDFD_GET_INFO reports them for adopted processes. */
static void test_wait_status(void) {
        int status = 0;

        g_assert_cmpint(child_event_from_wait_status(0x700, &status), ==, CHILD_EVENT_EXITED);
        g_assert_cmpint(status, ==, 7);
        g_assert_cmpint(child_event_from_wait_status(0, &status), ==, CHILD_EVENT_EXITED);
        g_assert_cmpint(status, ==, 0);
        g_assert_cmpint(child_event_from_wait_status(SIGKILL, &status), ==, CHILD_EVENT_KILLED);
        g_assert_cmpint(status, ==, SIGKILL);
        g_assert_cmpint(child_event_from_wait_status(SIGSEGV | 0x80, &status), ==, CHILD_EVENT_DUMPED);
        g_assert_cmpint(status, ==, SIGSEGV);
        /* A stop status is no end: nothing the kernel could report after a reap. */
        g_assert_cmpint(child_event_from_wait_status(0x137f, &status), ==, CHILD_EVENT_VANISHED);
        g_assert_cmpint(status, ==, -1);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/child-state/si-code", test_si_code);
        g_test_add_func("/child-state/terminal-classes", test_terminal_classes);
        g_test_add_func("/child-state/apply-terminal", test_apply_terminal);
        g_test_add_func("/child-state/terminal-once", test_terminal_once);
        g_test_add_func("/child-state/stop-continue", test_stop_continue);
        g_test_add_func("/child-state/invalid-event", test_invalid_event);
        g_test_add_func("/child-state/strings", test_strings);
        g_test_add_func("/child-state/option-names", test_option_names);

        g_test_add_func("/child-state/wait-status", test_wait_status);
        return g_test_run();
}
