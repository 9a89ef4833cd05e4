"""What Marathon's and Metronome's validation share: the HTTP 422 body both APIs use.

Both answer an invalid object with ``{"message": "Object is not valid", "details":
[{"path": "/instances", "errors": ["..."]}]}``; errors for the same path are merged so a
client sees one entry per field. Each package subclasses ``ValidationProblems`` under its
own root error, so its HTTP layer maps its whole family in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Self


class ValidationProblems(Exception):
    """An object is not valid; ``body`` is the HTTP 422 payload clients parse."""

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
    def single(cls, path: str, message: str) -> Self:
        """One problem at one path (the common case for non-schema checks)."""
        return cls([(path, message)])

    @property
    def paths(self) -> list[str]:
        """The JSON pointers of the invalid fields, in report order."""
        return [d["path"] for d in self.details]


def empty_map() -> Mapping[str, str]:
    """An immutable empty mapping (a dataclass field default)."""
    return MappingProxyType({})


def frozen_map(raw: Mapping[str, Any] | None) -> Mapping[str, str]:
    """An immutable copy of ``raw`` (labels, env) for a frozen record."""
    return MappingProxyType(dict(raw or {}))
