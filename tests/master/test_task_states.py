"""Task states: Mesos' terminal set and the 'terminal is final' rule."""

from __future__ import annotations

import dataclasses

import pytest

from actors.task_states import (
    TERMINAL_STATES,
    TaskReason,
    TaskSource,
    TaskState,
    TaskStatus,
    is_terminal,
    transition_allowed,
)

TERMINAL = {"FINISHED", "FAILED", "KILLED", "ERROR", "LOST", "DROPPED", "GONE", "GONE_BY_OPERATOR"}


@pytest.mark.parametrize("state", list(TaskState))
def test_terminal_states_match_mesos_isTerminalState(state: TaskState) -> None:
    """Mesos: UNREACHABLE and UNKNOWN are not terminal, the agent or master may learn more."""
    assert is_terminal(state) == (state.name in TERMINAL)
    assert state.is_terminal == (state in TERMINAL_STATES)


def test_states_use_mesos_wire_names() -> None:
    assert TaskState.RUNNING == "TASK_RUNNING"
    assert TaskState("TASK_GONE_BY_OPERATOR") is TaskState.GONE_BY_OPERATOR
    assert TaskReason.AGENT_REMOVED == "REASON_AGENT_REMOVED"


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (TaskState.STAGING, TaskState.STARTING, True),
        (TaskState.STARTING, TaskState.RUNNING, True),
        (TaskState.RUNNING, TaskState.KILLING, True),
        (TaskState.KILLING, TaskState.KILLED, True),
        (TaskState.RUNNING, TaskState.UNREACHABLE, True),
        # partition-aware: the agent came back and the task is still running
        (TaskState.UNREACHABLE, TaskState.RUNNING, True),
        (TaskState.UNREACHABLE, TaskState.GONE, True),
        (TaskState.UNKNOWN, TaskState.RUNNING, True),
        # terminal is final, even a repeat of the same state (dedup is by uuid)
        (TaskState.FINISHED, TaskState.RUNNING, False),
        (TaskState.KILLED, TaskState.KILLED, False),
        (TaskState.LOST, TaskState.RUNNING, False),
        (TaskState.GONE, TaskState.UNREACHABLE, False),
        (TaskState.ERROR, TaskState.STAGING, False),
    ],
)
def test_transition_allowed_rejects_leaving_a_terminal_state(
    old: TaskState, new: TaskState, allowed: bool
) -> None:
    assert transition_allowed(old, new) is allowed
    assert transition_allowed(old.value, new.value) is allowed


def test_task_status_is_a_frozen_msgpack_friendly_record() -> None:
    msgpack = pytest.importorskip("msgpack")
    status = TaskStatus(
        task_id="web.1",
        state=TaskState.FAILED,
        agent_id="a1",
        timestamp=12.5,
        reason=TaskReason.CONTAINER_LIMITATION_MEMORY,
        message="OOM",
        healthy=False,
        uuid="00ff",
        source=TaskSource.AGENT,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = TaskState.RUNNING  # type: ignore[misc]
    wire = msgpack.unpackb(msgpack.packb(status.to_dict()))
    assert wire["state"] == "TASK_FAILED"
    back = TaskStatus.from_dict(wire)
    assert back == status
    assert back.state is TaskState.FAILED
    assert back.is_terminal


def test_task_status_rejects_unknown_state_names() -> None:
    with pytest.raises(ValueError):
        TaskStatus(task_id="t", state="TASK_EXPLODED")  # type: ignore[arg-type]


def test_every_field_has_a_docstring() -> None:
    import inspect

    source = inspect.getsource(TaskStatus)
    for f in dataclasses.fields(TaskStatus):
        after = source.split(f"\n    {f.name}:", 1)[1].split("\n", 2)[1].strip()
        assert after.startswith('"""'), f.name
