"""The framework's state in ZooKeeper (``zk.StateStore`` under ``/cluster_actors``).

```
 framework              {"frameworkId": "..."}             after the first subscription
 actors/<id>            ActorRecord.to_doc()               every state change
 specs/<id>             the wire runtime.ActorSpec         once per actor (class/args blobs)
 names/<ns>/<name>      {"actor_id": ...}                  the name registry (create = claim)
 groups/<id>            Group.to_doc()
 checkpoints/<id>       {"incarnation", "seq", "data"}     the actor's last checkpoint
 code/<sha256>          {"data": base64 tar.gz}            working_dir archives
```

Blobs are base64 in the JSON documents; a document larger than one znode is chunked by
the store. A new leader reads ``actors``, ``specs`` and ``groups`` and rebuilds the
names from the records (the ``names`` documents are the cluster-wide registry other
tools read; the leader rewrites them to match).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
from typing import Any

from runtime import ActorSpec as WireSpec
from zk import DocumentExists, StateStore, ZkError

from ._errors import ActorStoreError, CodeError
from ._model import ActorRecord, Group

log = logging.getLogger("actors.cluster_actors")

STORE_ROOT = "/cluster_actors"
MAX_CODE_BYTES = 6 * 1024 * 1024
"""A packed working_dir above this is refused (it is kept in ZooKeeper)."""
_BLOBS = ("class_blob", "args_blob")


def wire_to_doc(spec: WireSpec) -> dict[str, Any]:
    doc = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    for key in _BLOBS:
        doc[key] = base64.b64encode(doc[key]).decode("ascii")
    return doc


def wire_from_doc(doc: dict[str, Any]) -> WireSpec:
    fields = dict(doc)
    for key in _BLOBS:
        fields[key] = base64.b64decode(fields.get(key, ""))
    return WireSpec(**fields)


def check_code(sha: str, data: bytes) -> None:
    """``data`` is what ``sha`` names, and small enough to keep."""
    if not isinstance(data, bytes | bytearray):
        raise CodeError(f"working_dir {sha[:12]}: data must be bytes")
    if len(data) > MAX_CODE_BYTES:
        raise CodeError(
            f"working_dir {sha[:12]}: {len(data)} bytes is over the limit of {MAX_CODE_BYTES}"
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        raise CodeError(f"working_dir: sha256 {sha!r:.70} does not match its data ({actual})")


class ActorsStore:
    """Reads and writes of the framework's documents (ZooKeeper errors -> ActorStoreError)."""

    def __init__(self, zk: Any, root: str = STORE_ROOT, fence: Any = None) -> None:
        self.store = StateStore(zk, root, fence=fence)
        self.code_cache: dict[str, bytes] = {}

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ZkError as exc:
            raise ActorStoreError(f"{what}: {exc}") from exc

    # -- framework id -------------------------------------------------------------------

    def framework_id(self) -> str | None:
        doc = self._call("framework", self.store.get, "framework")
        return str(doc.value.get("frameworkId")) if doc is not None else None

    def save_framework_id(self, framework_id: str) -> None:
        self._call("framework", self.store.put, "framework", {"frameworkId": framework_id})

    # -- actors -------------------------------------------------------------------------

    def load(self) -> tuple[list[ActorRecord], dict[str, WireSpec], list[Group]]:
        records: list[ActorRecord] = []
        specs: dict[str, WireSpec] = {}
        for key, doc in self._call("actors", self.store.get_all, "actors").items():
            try:
                records.append(ActorRecord.from_doc(doc.value))
            except Exception as exc:
                log.error("cluster actors: stored %s is unreadable, skipped: %s", key, exc)
        for key, doc in self._call("specs", self.store.get_all, "specs").items():
            try:
                specs[key.split("/", 1)[1]] = wire_from_doc(doc.value)
            except Exception as exc:
                log.error("cluster actors: stored %s is unreadable, skipped: %s", key, exc)
        groups: list[Group] = []
        for key, doc in self._call("groups", self.store.get_all, "groups").items():
            try:
                groups.append(Group.from_doc(doc.value))
            except Exception as exc:
                log.error("cluster actors: stored %s is unreadable, skipped: %s", key, exc)
        return records, specs, groups

    def save_actor(self, doc: dict[str, Any]) -> None:
        self._call("actor", self.store.put, f"actors/{doc['actor_id']}", doc)

    def save_spec(self, actor_id: str, spec: WireSpec) -> None:
        self._call("spec", self.store.put, f"specs/{actor_id}", wire_to_doc(spec))

    def forget_actor(self, actor_id: str) -> None:
        for prefix in ("actors", "specs", "checkpoints"):
            self._call("forget", self.store.delete, f"{prefix}/{actor_id}")

    # -- names ----------------------------------------------------------------------------

    def claim_name(self, key: str, actor_id: str) -> None:
        """Register ``key`` (``ns/name``) in ZooKeeper; a stale holder is replaced (the
        leader's core decided the name is free: one leader, one mailbox)."""
        path = f"names/{key}"
        try:
            self.store.create(path, {"actor_id": actor_id})
        except DocumentExists:
            log.info("cluster actors: name %s was held by a finished actor; reclaimed", key)
            self._call("name", self.store.put, path, {"actor_id": actor_id})
        except ZkError as exc:
            raise ActorStoreError(f"name {key}: {exc}") from exc

    def release_name(self, key: str, actor_id: str) -> None:
        path = f"names/{key}"
        doc = self._call("name", self.store.get, path)
        if doc is not None and doc.value.get("actor_id") == actor_id:
            self._call("name", self.store.delete, path, doc.version)

    def names(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ns in self._call("names", self.store.list, "names"):
            for key, doc in self._call("names", self.store.get_all, f"names/{ns}").items():
                out[key.split("/", 1)[1]] = str(doc.value.get("actor_id"))
        return out

    def sync_names(self, live: dict[str, str]) -> None:
        """Make the registry match the adopted actors (a crash between two writes)."""
        stored = self.names()
        for key, actor_id in stored.items():
            if live.get(key) != actor_id:
                self._call("name", self.store.delete, f"names/{key}")
        for key, actor_id in live.items():
            if stored.get(key) != actor_id:
                self._call("name", self.store.put, f"names/{key}", {"actor_id": actor_id})

    # -- groups ---------------------------------------------------------------------------

    def save_group(self, doc: dict[str, Any]) -> None:
        self._call("group", self.store.put, f"groups/{doc['group_id']}", doc)

    def forget_group(self, group_id: str) -> None:
        self._call("group", self.store.delete, f"groups/{group_id}")

    # -- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(self, actor_id: str, incarnation: int, seq: int, data: bytes) -> None:
        doc = {
            "incarnation": incarnation,
            "seq": seq,
            "data": base64.b64encode(data).decode("ascii"),
        }
        self._call("checkpoint", self.store.put, f"checkpoints/{actor_id}", doc)

    def checkpoint(self, actor_id: str) -> bytes | None:
        doc = self._call("checkpoint", self.store.get, f"checkpoints/{actor_id}")
        return base64.b64decode(doc.value["data"]) if doc is not None else None

    # -- code -----------------------------------------------------------------------------

    def put_code(self, sha: str, data: bytes) -> None:
        check_code(sha, data)
        if sha in self.code_cache:
            return
        key = f"code/{sha}"
        if self._call("code", self.store.get, key) is None:
            self._call(
                "code", self.store.put, key, {"data": base64.b64encode(bytes(data)).decode()}
            )
        self.code_cache[sha] = bytes(data)

    def code(self, sha: str) -> bytes | None:
        if sha in self.code_cache:
            return self.code_cache[sha]
        if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            return None
        doc = self._call("code", self.store.get, f"code/{sha}")
        if doc is None:
            return None
        data = base64.b64decode(doc.value["data"])
        self.code_cache[sha] = data
        return data
