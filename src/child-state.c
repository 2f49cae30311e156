/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "child-state.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "util/macro.h"

static const char *const state_names[_CHILD_STATE_MAX] = {
        [CHILD_STATE_RUNNING] = "running", [CHILD_STATE_STOPPED] = "stopped", [CHILD_STATE_EXITED] = "exited",
        [CHILD_STATE_KILLED] = "killed",   [CHILD_STATE_DUMPED] = "dumped",   [CHILD_STATE_VANISHED] = "vanished",
};

static const char *const event_names[_CHILD_EVENT_MAX] = {
        [CHILD_EVENT_EXITED] = "exited",   [CHILD_EVENT_KILLED] = "killed",
        [CHILD_EVENT_DUMPED] = "dumped",   [CHILD_EVENT_STOPPED] = "stopped",
        [CHILD_EVENT_CONTINUED] = "continued", [CHILD_EVENT_VANISHED] = "vanished",
};

const char *child_state_to_string(ChildState s) {
        return s >= 0 && s < _CHILD_STATE_MAX ? state_names[s] : NULL;
}

const char *child_event_to_string(ChildEvent e) {
        return e >= 0 && e < _CHILD_EVENT_MAX ? event_names[e] : NULL;
}

ChildEvent child_event_option_from_string(const char *s) {
        if (!s)
                return _CHILD_EVENT_INVALID;
        if (strcmp(s, "exited") == 0)
                return CHILD_EVENT_EXITED;
        if (strcmp(s, "stopped") == 0)
                return CHILD_EVENT_STOPPED;
        if (strcmp(s, "continued") == 0)
                return CHILD_EVENT_CONTINUED;
        return _CHILD_EVENT_INVALID;
}

ChildEvent child_event_from_si_code(int code) {
        switch (code) {
        case CLD_EXITED:
                return CHILD_EVENT_EXITED;
        case CLD_KILLED:
                return CHILD_EVENT_KILLED;
        case CLD_DUMPED:
                return CHILD_EVENT_DUMPED;
        case CLD_STOPPED:
                return CHILD_EVENT_STOPPED;
        case CLD_CONTINUED:
                return CHILD_EVENT_CONTINUED;
        default:
                return _CHILD_EVENT_INVALID;
        }
}

ChildEvent child_event_from_wait_status(int wstatus, int *ret_status) {
        if (WIFEXITED(wstatus)) {
                *ret_status = WEXITSTATUS(wstatus);
                return CHILD_EVENT_EXITED;
        }
        if (WIFSIGNALED(wstatus)) {
                *ret_status = WTERMSIG(wstatus);
                return WCOREDUMP(wstatus) ? CHILD_EVENT_DUMPED : CHILD_EVENT_KILLED;
        }
        *ret_status = -1;
        return CHILD_EVENT_VANISHED;
}

bool child_state_apply(ChildState *state, int *exit_status, ChildEvent event, int status) {
        if (child_state_is_terminal(*state))
                return false;

        switch (event) {
        case CHILD_EVENT_EXITED:
                *state = CHILD_STATE_EXITED;
                *exit_status = status;
                return true;
        case CHILD_EVENT_KILLED:
                *state = CHILD_STATE_KILLED;
                *exit_status = status;
                return true;
        case CHILD_EVENT_DUMPED:
                *state = CHILD_STATE_DUMPED;
                *exit_status = status;
                return true;
        case CHILD_EVENT_VANISHED:
                *state = CHILD_STATE_VANISHED;
                *exit_status = -1;
                return true;
        case CHILD_EVENT_STOPPED:
                *state = CHILD_STATE_STOPPED;
                *exit_status = status;
                return true;
        case CHILD_EVENT_CONTINUED:
                /* Also announced when the stop itself was never seen: the kernel said so. */
                *state = CHILD_STATE_RUNNING;
                *exit_status = 0;
                return true;
        default:
                return false;
        }
}
