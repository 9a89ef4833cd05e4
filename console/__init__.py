"""pydcos console: the ``pydcos`` CLI, the local cluster launcher and the dashboard.

See README.md for the map. The public pieces:

* ``Launcher`` / ``UpOptions``: ``cluster up|down|status`` as a library
* ``load_cluster(default_state_dir())``: the local cluster's ``ClusterRecord`` (or None)
* ``ClusterClient`` / ``resolve_target``: which cluster, and HTTP/actor access to it
* ``DashboardApp`` with a ``DataSource`` (``LiveSource`` for a cluster, ``FakeSource``
  for tests), ``Model`` and its events
"""

from typing import Any

# Lazy: `python -m console.cli master` must not pay for Textual's import.
_WHERE = {
    "ConsoleError": "_errors",
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
    # the local cluster's record (what `cluster up` wrote in its state dir)
    "ClusterRecord": "_state",
    "default_state_dir": "_state",
    "load_cluster": "_state",
    # the CLI's login token for a cluster ($PYDCOS_TOKEN, else `auth login`'s)
    "load_token": "_token_store",
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

_RENAMED = {"load_cluster": "load"}
"""Public names that differ from the name in their module."""


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'console' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"console.{_WHERE[name]}")
    return getattr(module, _RENAMED.get(name, name))


__all__ = [
    "ApiError",
    "Apps",
    "ClientError",
    "ClusterClient",
    "ClusterRecord",
    "ConsoleError",
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
    "default_state_dir",
    "load_cluster",
    "resolve_target",
    "screen_text",
]
