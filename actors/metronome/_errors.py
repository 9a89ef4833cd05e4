"""Errors of the Metronome package.

One root (`MetronomeError`) so the REST layer can map the family to HTTP answers in one
place. `ValidationFailed` carries the exact 422 body Metronome clients parse
(``{"message": "Object is not valid", "details": [{"path", "errors"}]}``), so the HTTP
layer never rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class MetronomeError(Exception):
    """Root of every error raised by `actors.metronome`."""


class ValidationFailed(MetronomeError):
    """A job or schedule is not valid; `body` is Metronome's HTTP 422 payload.

    Errors for the same path are merged, so a client sees one entry per field.
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

    @property
    def paths(self) -> list[str]:
        """The JSON pointers of the invalid fields, in report order (handy in tests)."""
        return [d["path"] for d in self.details]
