"""The console's verbs for logs and metrics (issue 21): task log, node log, node/task metrics."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """Add this area's verbs: ``sub`` is the top-level subparsers, ``groups`` the
    ``node``, ``task`` and ``marathon`` groups' subparsers and ``cluster up``'s parser."""
    from console._metrics_cmds import add_metrics_commands  # H4's verbs (node/task metrics)

    add_metrics_commands(groups)
