/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The life of one watched process as a pure state machine: which kernel
 * report becomes which event, which state and ExitStatus, and that a
 * terminal state is reached exactly once.
 */

#include <errno.h>
#include <stdbool.h>

typedef enum ChildState {
        CHILD_STATE_RUNNING,
        CHILD_STATE_STOPPED,
        CHILD_STATE_EXITED,
        CHILD_STATE_KILLED,
        CHILD_STATE_DUMPED,
        CHILD_STATE_VANISHED,
        _CHILD_STATE_MAX,
        _CHILD_STATE_INVALID = -EINVAL,
} ChildState;

typedef enum ChildEvent {
        CHILD_EVENT_EXITED,
        CHILD_EVENT_KILLED,
        CHILD_EVENT_DUMPED,
        CHILD_EVENT_STOPPED,
        CHILD_EVENT_CONTINUED,
        CHILD_EVENT_VANISHED,
        _CHILD_EVENT_MAX,
        _CHILD_EVENT_INVALID = -EINVAL,
} ChildEvent;

#define CHILD_EVENT_MASK(e) (1U << (e))
/* "exited" in the events option stands for every terminal event. */
#define CHILD_EVENTS_TERMINAL                                                                      \
        (CHILD_EVENT_MASK(CHILD_EVENT_EXITED) | CHILD_EVENT_MASK(CHILD_EVENT_KILLED) |              \
         CHILD_EVENT_MASK(CHILD_EVENT_DUMPED) | CHILD_EVENT_MASK(CHILD_EVENT_VANISHED))
#define CHILD_EVENTS_STOP_CONTINUE (CHILD_EVENT_MASK(CHILD_EVENT_STOPPED) | CHILD_EVENT_MASK(CHILD_EVENT_CONTINUED))
#define CHILD_EVENTS_DEFAULT (CHILD_EVENTS_TERMINAL | CHILD_EVENTS_STOP_CONTINUE)

const char *child_state_to_string(ChildState s);
const char *child_event_to_string(ChildEvent e);
/* Parses a name of the "events" option: "exited", "stopped" or "continued". */
ChildEvent child_event_option_from_string(const char *s);

/* Maps a siginfo_t si_code (CLD_*) to an event; CLD_TRAPPED and unknown codes are invalid. */
ChildEvent child_event_from_si_code(int code);

/* Maps a wait(2) status (as PIDFD_GET_INFO reports it) to a terminal event and its status. */
ChildEvent child_event_from_wait_status(int wstatus, int *ret_status);

static inline bool child_state_is_terminal(ChildState s) {
        return s >= CHILD_STATE_EXITED;
}

static inline bool child_event_is_terminal(ChildEvent e) {
        return (CHILD_EVENTS_TERMINAL & CHILD_EVENT_MASK(e)) != 0;
}

/**
 * child_state_apply() - feed one event into the machine.
 * @state: current state, updated in place
 * @exit_status: current ExitStatus, updated in place
 * @event: what the kernel reported
 * @status: its si_status (exit code or signal number)
 *
 * Return: true if the event is news that must be announced, false if it
 * arrives after the terminal state (never announced twice).
 */
bool child_state_apply(ChildState *state, int *exit_status, ChildEvent event, int status);
