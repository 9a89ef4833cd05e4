"""The console's verbs for Mesos frameworks (issue 22): service list|shutdown."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """Add this area's verbs: ``sub`` is the top-level subparsers, ``groups`` the
    ``node``, ``task`` and ``marathon`` groups' subparsers and ``cluster up``'s parser."""
