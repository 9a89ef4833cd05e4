"""Mesos task states, status-update reasons and the ``TaskStatus`` record.

The one definition of task states for the agent, the master, the frameworks and the
console: ``TaskState`` and the sets below. Being a ``StrEnum``, a member equals its wire
name, so ``"TASK_FAILED" in TERMINAL_STATES`` holds and an unknown name is simply not in
any set.

Everything here is pure and msgpack-friendly: enums are ``StrEnum`` (they encode as their
Mesos names, e.g. ``"TASK_RUNNING"``) and :class:`TaskStatus` coerces plain strings back,
so a decoded message compares equal to the one that was sent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "ENDED_STATES",
    "FAILURE_STATES",
    "TERMINAL_STATES",
    "TaskReason",
    "TaskSource",
    "TaskState",
    "TaskStatus",
    "is_failure",
    "is_terminal",
    "transition_allowed",
]


class TaskState(StrEnum):
    """Mesos' ``TaskState``; the value is the wire/JSON name used by Mesos and Marathon."""

    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    UNREACHABLE = "TASK_UNREACHABLE"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNKNOWN = "TASK_UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """See :func:`is_terminal`."""
        return self in TERMINAL_STATES


TERMINAL_STATES: frozenset[TaskState] = frozenset(
    {
        TaskState.FINISHED,
        TaskState.FAILED,
        TaskState.KILLED,
        TaskState.ERROR,
        TaskState.LOST,
        TaskState.DROPPED,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
    }
)
"""Mesos' ``protobuf::isTerminalState``. UNREACHABLE is *not* terminal: the agent may come
back (partition-aware frameworks); UNKNOWN is not either: the master simply does not know."""


FAILURE_STATES: frozenset[TaskState] = frozenset(
    {
        TaskState.FAILED,
        TaskState.ERROR,
        TaskState.LOST,
        TaskState.DROPPED,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
    }
)
"""Terminal states in which the task failed: neither it finished nor was it killed.
Frameworks add what their own policy counts as a failure (Marathon: FINISHED, since an
app's task must not end; Metronome: KILLED; both: UNKNOWN)."""

ENDED_STATES: frozenset[TaskState] = TERMINAL_STATES | {TaskState.UNKNOWN}
"""States after which a framework counts a task as gone: the terminal ones and UNKNOWN
(the master never heard of it, so it will never report it again)."""


def is_terminal(state: TaskState | str) -> bool:
    """Whether a task in ``state`` is over for good and its resources are released
    (False for a name that is no task state)."""
    return state in TERMINAL_STATES


def is_failure(state: TaskState | str) -> bool:
    """Whether ``state`` is one of ``FAILURE_STATES`` (False for a name that is no task
    state)."""
    return state in FAILURE_STATES


def transition_allowed(old: TaskState | str, new: TaskState | str) -> bool:
    """Whether a status update may move a task from ``old`` to ``new``.

    Mesos' one hard rule: a terminal state is final, so nothing leaves it (not even a
    repeat of the same terminal state; duplicates are recognised by the update ``uuid``,
    not here). Everything else is allowed, because reconciliation and agent re-registration
    legitimately move tasks "backwards", e.g. UNREACHABLE -> RUNNING.
    """
    return TaskState(old) not in TERMINAL_STATES


class TaskSource(StrEnum):
    """Who produced a status update (Mesos ``TaskStatus.Source``)."""

    MASTER = "SOURCE_MASTER"
    AGENT = "SOURCE_AGENT"
    EXECUTOR = "SOURCE_EXECUTOR"


class TaskReason(StrEnum):
    """The Mesos ``TaskStatus.Reason`` codes pydcos produces; values are the Mesos names."""

    COMMAND_EXECUTOR_FAILED = "REASON_COMMAND_EXECUTOR_FAILED"
    CONTAINER_LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
    CONTAINER_LIMITATION = "REASON_CONTAINER_LIMITATION"
    CONTAINER_LIMITATION_DISK = "REASON_CONTAINER_LIMITATION_DISK"
    CONTAINER_LIMITATION_MEMORY = "REASON_CONTAINER_LIMITATION_MEMORY"
    CONTAINER_PREEMPTED = "REASON_CONTAINER_PREEMPTED"
    CONTAINER_UPDATE_FAILED = "REASON_CONTAINER_UPDATE_FAILED"
    EXECUTOR_REGISTRATION_TIMEOUT = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
    EXECUTOR_REREGISTRATION_TIMEOUT = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
    EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
    EXECUTOR_UNREGISTERED = "REASON_EXECUTOR_UNREGISTERED"
    FRAMEWORK_REMOVED = "REASON_FRAMEWORK_REMOVED"
    GC_ERROR = "REASON_GC_ERROR"
    INVALID_FRAMEWORKID = "REASON_INVALID_FRAMEWORKID"
    INVALID_OFFERS = "REASON_INVALID_OFFERS"
    IO_SWITCHBOARD_EXITED = "REASON_IO_SWITCHBOARD_EXITED"
    MASTER_DISCONNECTED = "REASON_MASTER_DISCONNECTED"
    RECONCILIATION = "REASON_RECONCILIATION"
    RESOURCES_UNKNOWN = "REASON_RESOURCES_UNKNOWN"
    AGENT_DISCONNECTED = "REASON_AGENT_DISCONNECTED"
    AGENT_REMOVED = "REASON_AGENT_REMOVED"
    AGENT_REMOVED_BY_OPERATOR = "REASON_AGENT_REMOVED_BY_OPERATOR"
    AGENT_REREGISTERED = "REASON_AGENT_REREGISTERED"
    AGENT_RESTARTED = "REASON_AGENT_RESTARTED"
    AGENT_UNKNOWN = "REASON_AGENT_UNKNOWN"
    TASK_CHECK_STATUS_UPDATED = "REASON_TASK_CHECK_STATUS_UPDATED"
    TASK_HEALTH_CHECK_STATUS_UPDATED = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    TASK_GROUP_INVALID = "REASON_TASK_GROUP_INVALID"
    TASK_GROUP_UNAUTHORIZED = "REASON_TASK_GROUP_UNAUTHORIZED"
    TASK_INVALID = "REASON_TASK_INVALID"
    TASK_KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
    TASK_UNAUTHORIZED = "REASON_TASK_UNAUTHORIZED"
    TASK_UNKNOWN = "REASON_TASK_UNKNOWN"


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One status update for one task, as sent agent -> master -> framework.

    Field types are msgpack-friendly; ``state``/``reason``/``source`` accept their plain
    string names (what the codec decodes) and are normalised to the enums.
    """

    task_id: str
    """The framework-chosen task id."""
    state: TaskState
    """The task's new state."""
    agent_id: str | None = None
    """The agent running the task; None when the master answers for an unknown agent."""
    timestamp: float = 0.0
    """When the update was generated, seconds since the epoch (from the caller's clock)."""
    reason: TaskReason | None = None
    """Why the state changed, when Mesos defines a reason for it."""
    message: str = ""
    """Human-readable detail, e.g. the executor's exit message."""
    healthy: bool | None = None
    """Result of the latest health check; None when the task has no health check."""
    uuid: str | None = None
    """Hex id the framework acknowledges; None for updates that need no ack (reconciliation)."""
    source: TaskSource | None = None
    """Who generated the update (master, agent or executor)."""
    executor_id: str | None = None
    """The executor that ran the task, if any."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TaskState(self.state))
        if self.reason is not None:
            object.__setattr__(self, "reason", TaskReason(self.reason))
        if self.source is not None:
            object.__setattr__(self, "source", TaskSource(self.source))

    @property
    def is_terminal(self) -> bool:
        """Whether this update ends the task (see :func:`is_terminal`)."""
        return self.state in TERMINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with enum fields as their Mesos names (msgpack- and JSON-friendly)."""
        out = dataclasses.asdict(self)
        for key in ("state", "reason", "source"):
            if out[key] is not None:
                out[key] = str(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskStatus:
        """Inverse of :meth:`to_dict`; unknown keys raise TypeError (strict decoding)."""
        return cls(**data)
