"""The one set of task states: every state's membership in the shared sets, as a table,
and the agent's wire strings being those of the one enum. Pure."""

from __future__ import annotations

import pytest

from actors import agent
from actors.task_states import (
    ENDED_STATES,
    FAILURE_STATES,
    TERMINAL_STATES,
    TaskState,
    is_failure,
    is_terminal,
)

# state: (terminal, failure, ended)
TABLE = {
    TaskState.STAGING: (False, False, False),
    TaskState.STARTING: (False, False, False),
    TaskState.RUNNING: (False, False, False),
    TaskState.KILLING: (False, False, False),
    TaskState.FINISHED: (True, False, True),
    TaskState.FAILED: (True, True, True),
    TaskState.KILLED: (True, False, True),
    TaskState.ERROR: (True, True, True),
    TaskState.LOST: (True, True, True),
    TaskState.DROPPED: (True, True, True),
    TaskState.UNREACHABLE: (False, False, False),
    TaskState.GONE: (True, True, True),
    TaskState.GONE_BY_OPERATOR: (True, True, True),
    TaskState.UNKNOWN: (False, False, True),
}


def test_the_table_covers_every_state() -> None:
    assert set(TABLE) == set(TaskState)


@pytest.mark.parametrize(("state", "row"), list(TABLE.items()), ids=lambda x: str(x))
def test_each_state_in_the_shared_sets(state: TaskState, row: tuple[bool, bool, bool]) -> None:
    terminal, failure, _ = row
    for name in (state, state.value):  # the enum member and its wire string alike
        assert is_terminal(name) is terminal
        assert is_failure(name) is failure
        assert (name in TERMINAL_STATES, name in FAILURE_STATES, name in ENDED_STATES) == row


@pytest.mark.parametrize("name", ["", "RUNNING", "task_running", "TASK_BOGUS"])
def test_a_name_that_is_no_state_is_in_no_set(name: str) -> None:
    assert not is_terminal(name)
    assert not is_failure(name)
    assert name not in ENDED_STATES


def test_the_agents_state_names_are_the_enums_wire_strings() -> None:
    pairs = {
        agent.TASK_STARTING: TaskState.STARTING,
        agent.TASK_RUNNING: TaskState.RUNNING,
        agent.TASK_FINISHED: TaskState.FINISHED,
        agent.TASK_FAILED: TaskState.FAILED,
        agent.TASK_KILLED: TaskState.KILLED,
        agent.TASK_ERROR: TaskState.ERROR,
    }
    for name, state in pairs.items():
        assert type(name) is str  # plain strings: they go into JSON and msgpack as they are
        assert name == state.value
