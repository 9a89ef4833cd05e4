"""Errors raised by the actor runtime.

One root (`RuntimeSystemError`) so callers can catch "anything the runtime refused"
without also swallowing errors raised by actor code itself.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActorDead",
    "ActorNotFound",
    "AskTimeout",
    "DuplicateName",
    "InvalidChildSpec",
    "RuntimeSystemError",
    "StartFailed",
    "SupervisorError",
    "UnknownMessage",
]


class RuntimeSystemError(Exception):
    """Root of every error the runtime itself raises."""


class AskTimeout(RuntimeSystemError, TimeoutError):
    """No reply arrived within the ask's timeout; a reply arriving later is dropped."""


class ActorNotFound(RuntimeSystemError, LookupError):
    """No actor is registered under the name (or the node does not know it)."""


class ActorDead(RuntimeSystemError):
    """The referenced actor has stopped (or died before handling the message)."""


class DuplicateName(RuntimeSystemError, ValueError):
    """A name is already registered on this node; names are unique per node."""


class InvalidChildSpec(RuntimeSystemError, ValueError):
    """A child spec or supervisor flag was refused when built.

    The message names the field and the offending value so the mistake can be
    fixed without reading the runtime's source.
    """

    def __init__(self, field: str, value: Any, expected: str) -> None:
        super().__init__(f"{field}: {value!r} {expected}")
        self.field = field
        self.value = value


class StartFailed(RuntimeSystemError):
    """An actor's `started()` hook raised, or did not finish within `start_timeout`.

    `reason` holds the original exception (also chained as `__cause__`).
    """

    def __init__(self, what: str, reason: Any) -> None:
        super().__init__(f"{what} failed to start: {reason!r}")
        self.reason = reason


class SupervisorError(RuntimeSystemError):
    """A supervisor refused a child operation (unknown id, already present, running)."""


class UnknownMessage(RuntimeSystemError):
    """The actor has no handler for a message of this shape.

    Raising it from `receive()` never crashes the actor: an ask gets it as its
    error reply, a tell is logged and counted in `Node.unhandled`.
    """

    def __init__(self, actor: str, message: Any) -> None:
        super().__init__(f"{actor} does not handle {type(message).__name__}: {message!r}")
        self.message = message
