"""Errors of the Marathon package.

One root (`MarathonError`) so the future REST layer can map the whole family to HTTP
answers in one place; `ValidationFailed` already carries the exact 422 body Marathon
clients parse, so the HTTP layer never rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class MarathonError(Exception):
    """Root of every error raised by `actors.marathon`."""


class ValidationFailed(MarathonError):
    """An app, group or update is not valid; `body` is Marathon's HTTP 422 payload.

    `details` is a list of ``{"path": "/instances", "errors": ["..."]}``; errors for the
    same path are merged so a client sees one entry per field, like Marathon.
    """

    status = 422

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        merged: dict[str, list[str]] = {}
        for path, message in problems:
            errors = merged.setdefault(path or "/", [])
            if message not in errors:
                errors.append(message)
        self.details: list[dict[str, Any]] = [
            {"path": path, "errors": errors} for path, errors in merged.items()
        ]
        self.body: dict[str, Any] = {"message": "Object is not valid", "details": self.details}
        summary = "; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in self.details)
        super().__init__(f"Object is not valid: {summary}")

    @classmethod
    def single(cls, path: str, message: str) -> ValidationFailed:
        """One problem at one path (the common case for non-schema checks)."""
        return cls([(path, message)])


class InvalidPath(MarathonError, ValueError):
    """A Marathon path id (`/group/app`) is malformed; the message names the value."""
