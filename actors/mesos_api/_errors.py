"""The Mesos v1 HTTP API's errors: one root, a subclass per kind of refusal."""

from __future__ import annotations


class MesosApiError(Exception):
    """Root of every error the package raises."""


class BadCall(MesosApiError, ValueError):
    """A scheduler call (or a part of it) is malformed; the message names the field and
    the value, and becomes a 400 ``{"message": ...}``."""


class BadRecordIO(MesosApiError, ValueError):
    """Bytes that are not RecordIO (a length that is not a number, or too large)."""
