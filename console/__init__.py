"""pydcos console: the ``pydcos`` CLI, the local cluster launcher and the dashboard.

See README.md for the map. The public pieces:

* ``Launcher`` / ``UpOptions``: ``cluster up|down|status`` as a library
* ``ClusterClient`` / ``resolve_target``: which cluster, and HTTP/actor access to it
* ``DashboardApp`` with a ``DataSource`` (``LiveSource`` for a cluster, ``FakeSource``
  for tests), ``Model`` and its events
"""

from typing import Any

# Lazy: `python -m console.cli master` must not pay for Textual's import.
_WHERE = {
    "ApiError": "_client",
    "ClientError": "_client",
    "ClusterClient": "_client",
    "NoCluster": "_client",
    "Target": "_client",
    "resolve_target": "_client",
    "DashboardApp": "_dashboard",
    "screen_text": "_dashboard",
    "FakeSource": "_fake",
    "DataSource": "_feed",
    "LiveSource": "_feed",
    "Launcher": "_launcher",
    "LauncherError": "_launcher",
    "UpOptions": "_launcher",
    "Model": "_model",
    # the model's events (what a DataSource emits)
    "LeaderChanged": "_model",
    "LeaderLost": "_model",
    "Masters": "_model",
    "Nodes": "_model",
    "Apps": "_model",
    "Tasks": "_model",
    "Deployments": "_model",
    "Jobs": "_model",
    "Quarantined": "_model",
    "MarathonEvent": "_model",
    "FeedNote": "_model",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'console' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"console.{_WHERE[name]}"), name)


__all__ = [
    "ApiError",
    "Apps",
    "ClientError",
    "ClusterClient",
    "DashboardApp",
    "DataSource",
    "Deployments",
    "FakeSource",
    "FeedNote",
    "Jobs",
    "Launcher",
    "LauncherError",
    "LeaderChanged",
    "LeaderLost",
    "LiveSource",
    "MarathonEvent",
    "Masters",
    "Model",
    "NoCluster",
    "Nodes",
    "Quarantined",
    "Target",
    "Tasks",
    "UpOptions",
    "resolve_target",
    "screen_text",
]
