"""Exit reasons, the `Down` notification, and the runtime's internal envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime._ref import ActorRef
    from runtime._timers import TimerHandle

__all__ = [
    "KILLED",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Down",
    "Shutdown",
    "is_normal_exit",
]

NORMAL = "normal"
"""The actor stopped by its own choice (`self.stop()`)."""
SHUTDOWN = "shutdown"
"""The actor was asked to stop by its supervisor or its node."""
KILLED = "killed"
"""The actor was killed (brutal_kill, or it missed its shutdown timeout)."""
NOPROC = "noproc"
"""The monitored actor was already gone when the monitor was set up."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """OTP's `{shutdown, Term}`: a normal exit that carries a cause.

    A supervisor that gives up after too many restarts exits with
    `Shutdown(RestartIntensityExceeded(...))`, exactly like supervisor.erl exits
    with `shutdown`: its parent restarts it only if it is a permanent child.
    """

    detail: Any


@dataclass(frozen=True, slots=True)
class RestartIntensityExceeded:
    """Why a supervisor gave up: which child, and the exit that broke the budget."""

    supervisor: str
    child_id: str
    reason: Any


def is_normal_exit(reason: Any) -> bool:
    """OTP's rule: normal, shutdown and {shutdown, _} are normal; all else is a crash."""
    return reason in (NORMAL, SHUTDOWN) or isinstance(reason, Shutdown)


@dataclass(frozen=True, slots=True)
class Down:
    """Sent to a watcher when an actor it monitors stops.

    `ref` is the ref the watcher passed to `monitor()`, so it compares equal to
    what the watcher holds; `reason` is an exit reason (see `is_normal_exit`).
    """

    ref: ActorRef
    name: str | None
    reason: Any


class _Stop:
    """Internal: ask the actor to stop after the messages queued before it."""

    __slots__ = ("reason",)

    def __init__(self, reason: Any) -> None:
        self.reason = reason


class _Wake:
    """Internal: wakes a killed actor's idle thread so it can exit."""

    __slots__ = ()


class _TimerFire:
    """Internal: a timer's message, dropped on arrival if the timer was cancelled."""

    __slots__ = ("handle", "message")

    def __init__(self, handle: TimerHandle, message: Any) -> None:
        self.handle = handle
        self.message = message
