"""The master package's root exception: catch ``MasterError`` to catch any of its own."""

from __future__ import annotations


class MasterError(Exception):
    """Root of every exception the master package raises on purpose."""


class UnknownStateQuery(MasterError, ValueError):
    """``GetState.what`` names no document the master serves (a ``ValueError`` too, as
    before, so callers that caught that keep working)."""
