"""Stateful services built on the SDK (``actors.sdk``): each one a ``svc.yml``, its config
templates and a small task module, packaged in the bundled Universe.

- ``zookeeper``: an ensemble of 3 (the real ZooKeeper), grown one member at a time;
  task module ``zookeeper.node``.
- ``redis``: a primary and 2 replicas (Debian ``redis-server``), backup and restore
  plans; task module ``redis.node``.

The tasks run natively with the host's binaries (java + ZooKeeper's jars, redis-server):
no image registry is needed.
"""

from __future__ import annotations

from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parent
SERVICES = ("zookeeper", "redis")


def service_dir(name: str) -> Path:
    """Where a bundled service's ``svc.yml`` and templates live."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; bundled: {', '.join(SERVICES)}")
    return SERVICES_DIR / name
