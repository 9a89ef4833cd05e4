"""Where Marathon keeps what must survive a master failover.

```
 /marathon (zk.StateStore under the cluster chroot)
   framework-id              {"id": "..."}                         re-register with it
   root                      the root group, every app with version/versionInfo
   versions/<app>            [app JSON, ...] oldest first, the last 50
   deployments/<id>          {"id","version","original","target","restart","step"}
   instances/<app>           {"instances": [task record, ...]}     written BEFORE launch
```

App ids become keys by turning ``/`` into ``_`` (``_`` is not allowed in Marathon ids,
so the mapping is one to one). Ordering contract for the actor: a change is written
here BEFORE it is acknowledged (HTTP 200/201) or acted upon (a task is launched only
after its instance record is stored), so a new leader never meets a task or app it
does not know about.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from zk import DEFAULT_MAX_BYTES, ZkError, encoded_size

log = logging.getLogger("actors.marathon")

VERSIONS_KEPT = 50
"""App versions kept per app (Marathon's default ``max_versions``)."""


VERSIONS_MAX_BYTES = DEFAULT_MAX_BYTES
"""An app's stored versions, as one document, fit the state store's document limit."""


def keep_versions(
    versions: list[dict[str, Any]], limit: int = VERSIONS_MAX_BYTES
) -> list[dict[str, Any]]:
    """The newest ``VERSIONS_KEPT`` versions, fewer if they would not fit ``limit`` bytes
    as stored JSON: 50 versions of a 1 MiB app would be 50 MiB in ZooKeeper and several
    times that in the leader. The newest is always kept (the store refuses it if it
    alone is too big). The leader keeps in memory what this keeps in the store."""
    versions = versions[-VERSIONS_KEPT:]
    sizes = [encoded_size(v) + 1 for v in versions]  # +1: the comma or bracket
    total = sum(sizes) + 1
    drop = 0
    while total > limit and drop < len(versions) - 1:
        total -= sizes[drop]
        drop += 1
    return versions[drop:]


def app_key(app_id: str) -> str:
    """``/prod/web`` -> ``_prod_web``: one store key segment per app."""
    return app_id.replace("/", "_")


def key_app(key: str) -> str:
    """Inverse of ``app_key``."""
    return key.replace("_", "/")


class MarathonStore(Protocol):
    """Durable state of Marathon; ZooKeeper in production (``ZkMarathonStore``)."""

    def load(self) -> dict[str, Any]:
        """Everything: ``{"framework_id", "root", "versions", "deployments", "instances"}``."""
        ...

    def save_framework_id(self, framework_id: str) -> None: ...

    def save_root(self, root: dict[str, Any]) -> None: ...

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None: ...

    def delete_versions(self, app_id: str) -> None: ...

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None: ...

    def delete_deployment(self, deployment_id: str) -> None: ...

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None: ...


class ZkMarathonStore:
    """``MarathonStore`` on ``zk.StateStore`` (versioned JSON documents)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def load(self) -> dict[str, Any]:
        """Everything stored; a corrupt or foreign document is logged with its path,
        skipped (left in place, never overwritten by this read) and listed in
        ``unreadable`` (store key -> reason) for the leader's quarantine report."""
        unreadable: dict[str, str] = {}
        fid = self._get("framework-id", dict, unreadable)
        root = self._get("root", dict, unreadable)
        deployments = self._all("deployments", dict, unreadable)
        return {
            "framework_id": fid.get("id") if fid is not None else None,
            "root": root,
            "root_unreadable": root is None and self._exists("root"),
            "versions": {
                key_app(k.split("/", 1)[1]): v
                for k, v in self._all("versions", list, unreadable).items()
            },
            "deployments": list(deployments.values()),
            "deployments_by_key": deployments,
            "instances": {
                key_app(k.split("/", 1)[1]): v.get("instances", [])
                for k, v in self._all("instances", dict, unreadable).items()
            },
            "unreadable": unreadable,
        }

    def _all(self, prefix: str, shape: type, unreadable: dict[str, str]) -> dict[str, Any]:
        """Every document under ``prefix``, read pipelined (``get_all``: a new leader's
        thousands of instance and version documents cost about one round trip); one it
        could not read (corrupt, changing) is read again alone, which names the problem
        in ``unreadable``."""
        out: dict[str, Any] = {}
        try:
            docs = self.store.get_all(prefix)
        except ZkError:
            docs = {}
        for name in self.store.list(prefix):
            key = f"{prefix}/{name}"
            doc = docs.get(key)
            if doc is None:
                value = self._get(key, shape, unreadable)
            elif self._shaped(key, doc.value, shape):
                value = doc.value
            else:
                unreadable[key] = f"holds a {type(doc.value).__name__}, not a {shape.__name__}"
                value = None
            if value is not None:
                out[key] = value
        return out

    def _get(self, key: str, shape: type, unreadable: dict[str, str] | None = None) -> Any:
        try:
            doc = self.store.get(key)
        except ZkError as exc:  # CorruptData names the path
            log.error("marathon: %s is unreadable, skipped: %s", self.store.path(key), exc)
            if unreadable is not None:
                unreadable[key] = f"unreadable: {exc}"[:500]
            return None
        if doc is None:
            return None
        if not self._shaped(key, doc.value, shape):
            if unreadable is not None:
                unreadable[key] = f"holds a {type(doc.value).__name__}, not a {shape.__name__}"
            return None
        return doc.value

    def path(self, key: str) -> str:
        """The znode of ``key`` (under the cluster chroot), for reports."""
        return str(self.store.path(key))

    def _shaped(self, key: str, value: Any, shape: type) -> bool:
        if isinstance(value, shape):
            return True
        log.error(
            "marathon: %s holds a %s, not a %s; skipped",
            self.store.path(key),
            type(value).__name__,
            shape.__name__,
        )
        return False

    def _exists(self, key: str) -> bool:
        return bool(self.store.client.exists(self.store.path(key)))

    def save_framework_id(self, framework_id: str) -> None:
        self.store.put("framework-id", {"id": framework_id})

    def save_root(self, root: dict[str, Any]) -> None:
        self.store.put("root", root)

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None:
        key = f"versions/{app_key(app_id)}"
        self.store.put(key, keep_versions(versions, self.store.max_bytes))

    def delete_versions(self, app_id: str) -> None:
        self.store.delete(f"versions/{app_key(app_id)}")

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None:
        self.store.put(f"deployments/{deployment_id}", doc)

    def delete_deployment(self, deployment_id: str) -> None:
        self.store.delete(f"deployments/{deployment_id}")

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        key = f"instances/{app_key(app_id)}"
        if records:
            self.store.put(key, {"instances": records})
        else:
            self.store.delete(key)


class MemoryMarathonStore:
    """A ``MarathonStore`` in memory (unit tests, demos); counts writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.framework_id: str | None = None
        self.root: dict[str, Any] | None = None
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.instances: dict[str, list[dict[str, Any]]] = {}
        self.writes = 0

    def load(self) -> dict[str, Any]:
        with self._lock:
            return {
                "framework_id": self.framework_id,
                "root": self.root,
                "versions": {k: list(v) for k, v in self.versions.items()},
                "deployments": list(self.deployments.values()),
                "instances": {k: list(v) for k, v in self.instances.items()},
            }

    def save_framework_id(self, framework_id: str) -> None:
        with self._lock:
            self.framework_id = framework_id
            self.writes += 1

    def save_root(self, root: dict[str, Any]) -> None:
        with self._lock:
            self.root = root
            self.writes += 1

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None:
        with self._lock:
            self.versions[app_id] = list(versions[-VERSIONS_KEPT:])
            self.writes += 1

    def delete_versions(self, app_id: str) -> None:
        with self._lock:
            self.versions.pop(app_id, None)
            self.writes += 1

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self.deployments[deployment_id] = doc
            self.writes += 1

    def delete_deployment(self, deployment_id: str) -> None:
        with self._lock:
            self.deployments.pop(deployment_id, None)
            self.writes += 1

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        with self._lock:
            if records:
                self.instances[app_id] = list(records)
            else:
                self.instances.pop(app_id, None)
            self.writes += 1
