"""The framework toolkit's exceptions: one root, two kinds."""

from __future__ import annotations


class FrameworkToolkitError(Exception):
    """Root of every error the framework toolkit raises."""


class InvalidSpec(FrameworkToolkitError, ValueError):
    """A task description, demand or backoff setting is malformed; names field and value."""


class DriverError(FrameworkToolkitError, RuntimeError):
    """A driver call that cannot be made now (not started, not subscribed yet)."""
