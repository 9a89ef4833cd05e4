"""Ephemeral membership: agents, frameworks and named actors with their addresses.

Each entry is an ephemeral znode ``<root>/<kind>/<name>`` holding JSON. It lives as
long as the registering process's ZooKeeper session: a crashed agent disappears from
the registry when its session expires. Entries this Registry created are re-created
after the session is lost and a new one established, so a process that survives a
ZooKeeper outage shows up again by itself.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch

from zk._documents import decode_json, encode_json
from zk._errors import CorruptData, InvalidKey, ZkError
from zk._retry import DEFAULT_RETRY, RetryPolicy
from zk._store import StoreWatch

log = logging.getLogger(__name__)


def _check_segment(what: str, value: str) -> str:
    if not value or "/" in value or value in (".", "..") or "\x00" in value:
        raise InvalidKey(value, f"a registry {what} must be one non-empty path segment")
    return value


@dataclass(frozen=True)
class Entry:
    """One registered member."""

    kind: str
    name: str
    data: dict[str, Any]
    owner: int
    """ZooKeeper session id that owns the ephemeral node."""


class Registry:
    """Ephemeral entries grouped by kind (``agents``, ``frameworks``, ``actors``, ...)."""

    def __init__(
        self, client: KazooClient, root: str = "/registry", retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        self.client = client
        self.root = root.rstrip("/")
        self.retry = retry
        self._own: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._lost = False
        retry(client.ensure_path, self.root)
        client.add_listener(self._on_state)

    def path(self, kind: str, name: str | None = None) -> str:
        base = f"{self.root}/{_check_segment('kind', kind)}"
        return base if name is None else f"{base}/{_check_segment('name', name)}"

    def register(self, kind: str, name: str, data: Mapping[str, Any]) -> Entry:
        """Publish ``data`` under ``kind/name`` for as long as this session lives.

        An entry left by an earlier session of the same member (say, an agent that was
        restarted before its old session expired) is replaced: the newest registration
        wins, as an agent re-registering with Mesos does.
        """
        path = self.path(kind, name)
        payload = dict(data)
        raw = encode_json(payload)
        self.retry(self.client.ensure_path, self.path(kind))
        with self._lock:
            self._own[(kind, name)] = payload
        for _ in range(10):
            try:
                self.retry(self.client.create, path, raw, ephemeral=True)
                break
            except NodeExistsError:
                try:
                    _, stat = self.retry(self.client.get, path)
                    if stat.ephemeralOwner == self.client.client_id[0]:
                        self.retry(self.client.set, path, raw)
                        break
                    self.retry(self.client.delete, path)
                except NoNodeError:
                    continue
        else:
            raise ZkError(f"could not register {path}: it keeps being re-created")
        return Entry(kind, name, payload, self.client.client_id[0])

    def unregister(self, kind: str, name: str) -> bool:
        path = self.path(kind, name)
        with self._lock:
            self._own.pop((kind, name), None)
        try:
            self.retry(self.client.delete, path)
            return True
        except NoNodeError:
            return False

    def get(self, kind: str, name: str) -> Entry | None:
        """The entry, or None. CorruptData if it holds foreign data."""
        path = self.path(kind, name)
        try:
            data, stat = self.retry(self.client.get, path)
        except NoNodeError:
            return None
        value = decode_json(path, data)
        if not isinstance(value, dict):
            raise CorruptData(path, f"expected a JSON object, got {type(value).__name__}", data)
        return Entry(kind, name, value, int(stat.ephemeralOwner))

    def list(self, kind: str) -> dict[str, Entry]:
        """Every entry of ``kind`` by name; corrupt ones are logged and skipped."""
        try:
            names = self.retry(self.client.get_children, self.path(kind))
        except NoNodeError:
            return {}
        return self._entries(kind, names)

    def watch(self, kind: str, callback: Callable[[dict[str, Entry]], Any]) -> StoreWatch:
        """Call ``callback(entries_by_name)`` now and whenever members of ``kind`` change."""
        base = self.path(kind)
        self.retry(self.client.ensure_path, base)
        handle = StoreWatch()

        def on_children(children: builtins.list[str]) -> bool:
            if handle.stopped:
                return False
            try:
                callback(self._entries(kind, children))
            except Exception:
                log.exception("registry watch callback for %s failed", base)
            return True

        ChildrenWatch(self.client, base, on_children)
        return handle

    def close(self) -> None:
        """Remove this process's entries now (instead of at session expiry)."""
        self.client.remove_listener(self._on_state)
        with self._lock:
            own = list(self._own)
        for kind, name in own:
            try:
                self.unregister(kind, name)
            except ZkError as exc:
                log.warning("unregistering %s/%s failed: %r", kind, name, exc)

    def _entries(self, kind: str, names: builtins.list[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for name in sorted(names):
            try:
                entry = self.get(kind, name)
            except CorruptData as exc:
                log.warning("%s: skipped", exc)
                continue
            except InvalidKey:
                continue
            if entry is not None:
                out[name] = entry
        return out

    def _on_state(self, state: KazooState) -> None:
        if state == KazooState.LOST:
            self._lost = True
        elif state == KazooState.CONNECTED and self._lost:
            self._lost = False
            self.client.handler.spawn(self._reregister)

    def _reregister(self) -> None:
        with self._lock:
            own = dict(self._own)
        for (kind, name), data in own.items():
            try:
                self.register(kind, name, data)
            except Exception as exc:
                log.warning("re-registering %s/%s failed: %r", kind, name, exc)
