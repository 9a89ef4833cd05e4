"""Errors of the Metronome package.

One root (`MetronomeError`) so the REST layer can map the family to HTTP answers in one
place. `ValidationFailed` carries the exact 422 body Metronome clients parse
(``{"message": "Object is not valid", "details": [{"path", "errors"}]}``), so the HTTP
layer never rebuilds it.
"""

from __future__ import annotations

from actors._validation import ValidationProblems


class MetronomeError(Exception):
    """Root of every error raised by `actors.metronome`."""


class ValidationFailed(MetronomeError, ValidationProblems):
    """A job or schedule is not valid; `body` is Metronome's HTTP 422 payload.

    Errors for the same path are merged, so a client sees one entry per field.
    """
