"""Where this process' component logs are: the files its output goes to.

A process does not write its own log file: ``pydcos cluster up`` (or systemd, or a
shell) sends its stdout/stderr to one, and tells it where with ``--log-file`` (and a
master the ZooKeeper server's with ``--zk-log-file``). The process registers them here
once, at start, and its file servers serve them as component logs.
"""

from __future__ import annotations

import threading
from pathlib import Path

_lock = threading.Lock()
_logs: dict[str, Path] = {}


def set_component_log(name: str, path: str | Path | None) -> None:
    """Serve ``path`` as component log ``name`` (None: stop serving it)."""
    with _lock:
        if path is None:
            _logs.pop(name, None)
        else:
            _logs[name] = Path(path).absolute()


def component_logs() -> dict[str, Path]:
    """The component logs this process serves, by name."""
    with _lock:
        return dict(_logs)
