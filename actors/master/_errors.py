"""The master package's root exception: catch ``MasterError`` to catch any of its own.

Each subclass also derives from the built-in (or ``actors.resources``) error it replaced,
so code that caught that before keeps working.
"""

from __future__ import annotations

from actors.resources import ResourceError


class MasterError(Exception):
    """Root of every exception the master package raises on purpose."""


class BadStateQuery(MasterError, ValueError):
    """A ``GetState`` the master cannot answer: its ``what`` or a parameter is wrong."""


class UnknownStateQuery(BadStateQuery):
    """``GetState.what`` names no document the master serves."""


class AllocatorInputError(MasterError, ResourceError):
    """The allocator was given an impossible quota or weight (named in the message)."""
