"""The logs package's one root exception (no imports: every logs module may use it)."""

from __future__ import annotations


class LogsError(Exception):
    """Root of the errors raised by ``actors.logs``: catch it to catch any of them."""


class BadLogQuery(LogsError):
    """A log request's parameter (``skip``, ``limit``, ``cursor``, ``Last-Event-ID``,
    ``offset``, ``length``) is not valid; the message names it and its value (HTTP 400)."""
