"""Errors of the Marathon package.

One root (`MarathonError`) so the future REST layer can map the whole family to HTTP
answers in one place; `ValidationFailed` already carries the exact 422 body Marathon
clients parse, so the HTTP layer never rebuilds it.
"""

from __future__ import annotations

from actors._validation import ValidationProblems


class MarathonError(Exception):
    """Root of every error raised by `actors.marathon`."""


class ValidationFailed(MarathonError, ValidationProblems):
    """An app, group or update is not valid; `body` is Marathon's HTTP 422 payload.

    `details` is a list of ``{"path": "/instances", "errors": ["..."]}``; errors for the
    same path are merged so a client sees one entry per field, like Marathon.
    """


class InvalidPath(MarathonError, ValueError):
    """A Marathon path id (`/group/app`) is malformed; the message names the value."""
