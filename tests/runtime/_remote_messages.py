"""Message records shared by the remote-ref tests and their peer process."""

from __future__ import annotations

from dataclasses import dataclass

from runtime import register_message


@dataclass(frozen=True, slots=True)
class Bump:
    """Add ``by`` to the counter."""

    by: int


@dataclass(frozen=True, slots=True)
class Count:
    """Ask the counter's total."""


register_message(Bump)
register_message(Count)
