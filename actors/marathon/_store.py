"""Where Marathon keeps what must survive a master failover.

```
 /marathon (zk.StateStore under the cluster chroot)
   framework-id              {"id": "..."}                         re-register with it
   root                      the root group, every app with version/versionInfo
   versions/<app>            [app JSON, ...] oldest first, the last 50
   deployments/<id>          {"id","version","original","target","restart","step"}
   instances/<app>+<n>       {"instances": [task record, ...]}     written BEFORE launch
   instances/<app>           the same, all of an app's records (an older layout: read,
                             replaced by shards at the app's next write)
```

An app's instance records are spread over shards of up to 100 records (``_shards.py``)
and a write stores only the shards whose records changed, in multi transactions
(``StateStore.write_many``, compare-and-set on the versions this store last read or
wrote).

App ids become keys by turning ``/`` into ``_`` (``_`` is not allowed in Marathon ids,
so the mapping is one to one). Ordering contract for the actor: a change is written
here BEFORE it is acknowledged (HTTP 200/201) or acted upon (a task is launched only
after its instance record is stored), so a new leader never meets a task or app it
does not know about.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from itertools import chain, repeat
from operator import is_not
from typing import Any, Protocol

from zk import (
    DEFAULT_MAX_BYTES,
    BatchFailed,
    Delete,
    Put,
    ValueTooLarge,
    ZkError,
    encoded_size,
    take_hand_over,
)

from ._shards import Shards, parse_name, plan_write, shard_name, stored_records

log = logging.getLogger("actors.marathon")

MIRRORED = ("", "deployments", "instances", "versions")
"""The store prefixes ``load`` reads: what a standby master keeps warm (``zk.StoreMirror``)
so that a new leader reads only what changed since (``ZkMarathonStore(mirror=...)``)."""

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

    def __init__(self, store: Any, mirror: Any = None) -> None:
        self.store = store
        self.mirror = mirror
        """A standby's warm copy of this store (``zk.StoreMirror`` over ``MIRRORED``):
        the first ``load`` takes its hand-over instead of reading everything (then it is
        gone: a later load, e.g. after a restart of the actor, reads ZooKeeper)."""
        self._reader: Any = store
        self.prebuilt: dict[int, tuple[Any, Any]] = {}
        """id(record) -> (record, instance) a standby built ahead, for the records of a
        warm ``load`` (``_load.prebuild_instances``), returned as its ``prebuilt``."""
        self.prebuilt_apps: dict[str, list[Any]] = {}
        """App id -> its instances built ahead, in the order of its records, for the
        apps of a warm ``load`` whose records were all built ahead (``prebuilt_apps``)."""
        self.load_note = ""
        """How the last ``load`` read the store (``"warm: N reused, M read again"``),
        for the actor's start-up line."""
        """Where ``load`` reads: the store, or the mirror's ``zk.HandOver`` (which
        answers ``get_all``/``list``/``get`` exactly as the store would)."""
        self.shards: dict[str, Shards] = {}
        """App key -> its records as stored (loaded or last written), per shard."""
        self.versions: dict[str, int] = {}
        """Store key -> version of the instance documents this store read or wrote."""
        self.stale: set[str] = set()
        """App keys whose stored shards are unknown (a write failed part way): read
        again before the next write."""
        self.wholes: set[str] = set()
        """App keys with a whole-app document (the older layout, readable or not): the
        app's next write replaces it by shards."""
        self.doc_versions: dict[str, int] = {}
        """Store key -> version of the other documents (root, versions, deployments,
        framework id) as this store read or wrote them: a write of one is a single
        compare-and-set multi (``_put``), not a read, a parent check and a commit."""
        self.loaded = False
        """``load()`` read every app's instance documents: an app it did not find has
        none (no read before its first write)."""
        self._deferred: list[Put] | None = None
        """Inside ``together``: the documents ``_put`` left for its one write."""

    def load(self) -> dict[str, Any]:
        """Everything stored; a corrupt or foreign document is logged with its path,
        skipped (left in place, never overwritten by this read) and listed in
        ``unreadable`` (store key -> reason) for the leader's quarantine report."""
        unreadable: dict[str, str] = {}
        self.doc_versions.clear()
        self._reader = self._hand_over()
        try:
            fid = self._get("framework-id", dict, unreadable)
            root = self._get("root", dict, unreadable)
            deployments = self._all("deployments", dict, unreadable)
            instances = self._load_instances(unreadable)
            versions = self._all("versions", list, unreadable)
        finally:
            self._reader = self.store
        prebuilt, self.prebuilt = self.prebuilt, {}
        apps, self.prebuilt_apps = self.prebuilt_apps, {}
        ahead = len(prebuilt) + sum(map(len, apps.values()))
        if ahead:
            self.load_note += f", {ahead} record(s) built ahead"
        return {
            **({"prebuilt": prebuilt} if prebuilt else {}),
            **({"prebuilt_apps": apps} if apps else {}),
            "framework_id": fid.get("id") if fid is not None else None,
            "root": root,
            "root_unreadable": root is None and self._exists("root"),
            "versions": {key_app(k.split("/", 1)[1]): v for k, v in versions.items()},
            "deployments": list(deployments.values()),
            "deployments_by_key": deployments,
            "instances": instances,
            "unreadable": unreadable,
        }

    def _hand_over(self) -> Any:
        """The mirror's hand-over (once), else the store itself (``zk.take_hand_over``:
        a hand-over that fails is a warning, and the store is read as a fresh leader
        reads it)."""
        mirror, self.mirror = self.mirror, None
        reader, self.load_note = take_hand_over(mirror, self.store, "marathon")
        return reader

    def _load_instances(self, unreadable: dict[str, str]) -> dict[str, list[Any]]:
        """Every app's records, from its shards (and a whole-app document of the older
        layout); remembers what is stored, so that writes store only changes."""
        by_app: dict[str, tuple[list[Any] | None, dict[int, list[Any]], set[int]]] = {}
        prepared = getattr(self._reader, "prepared", None) or {}
        built: dict[str, dict[int | None, tuple[list[Any], list[Any]]]] = {}
        self.prebuilt = {}
        self.prebuilt_apps = {}
        self.shards.clear()
        self.versions.clear()
        self.stale.clear()
        self.wholes.clear()
        for key, doc in self._all_docs("instances", dict, unreadable).items():
            akey, n = parse_name(key.split("/", 1)[1])
            whole, docs, reserved = by_app.setdefault(akey, (None, {}, set()))
            recs = doc.value.get("instances", []) if doc is not None else None
            if doc is not None:
                self.versions[key] = doc.version
            pre = prepared.get(key)
            if isinstance(recs, list) and isinstance(pre, list) and len(pre) == len(recs):
                built.setdefault(akey, {})[n] = (recs, pre)
            if n is None:
                self.wholes.add(akey)
                by_app[akey] = (recs if isinstance(recs, list) else None, docs, reserved)
                if doc is not None and not isinstance(recs, list):
                    unreadable[key] = f"its instances are a {type(recs).__name__}, not a list"
            elif doc is None or not isinstance(recs, list):
                reserved.add(n)  # unreadable: replaced by the app's next write only
                if doc is not None:
                    unreadable[key] = f"its instances are a {type(recs).__name__}, not a list"
            else:
                docs[n] = recs
        out: dict[str, list[Any]] = {}
        for akey, (whole, docs, reserved) in by_app.items():
            self.shards[akey] = Shards.of(docs, reserved)
            records = stored_records(whole, docs)
            if records or whole is not None or docs:
                out[key_app(akey)] = records
            self._prebuilt(key_app(akey), whole, docs, built.get(akey, {}))
        self.loaded = True
        return out

    def _prebuilt(
        self,
        app_id: str,
        whole: list[Any] | None,
        docs: dict[int, list[Any]],
        built: dict[int | None, tuple[list[Any], list[Any]]],
    ) -> None:
        """Note what a standby built ahead of ``app_id``'s records (``built``: shard ->
        (its records, their instances or None each)). Every shard's records all built
        (the usual case): the app's instances in ``stored_records`` order, one list
        (``prebuilt_apps``: no per-record work here, where a new leader's GIL is busy);
        else each record's own (``prebuilt``, by the record's identity)."""
        if (
            whole is None
            and docs
            and all(built.get(n, ((), ()))[0] is docs[n] for n in docs)
            and all(all(map(is_not, built[n][1], repeat(None))) for n in docs)
        ):
            self.prebuilt_apps[app_id] = list(
                chain.from_iterable(built[n][1] for n in sorted(docs))
            )
            return
        for recs, pre in built.values():
            for rec, inst in zip(recs, pre, strict=True):
                if inst is not None:
                    self.prebuilt[id(rec)] = (rec, inst)

    def _all(self, prefix: str, shape: type, unreadable: dict[str, str]) -> dict[str, Any]:
        """Every readable document's value under ``prefix`` (``_all_docs``)."""
        docs = self._all_docs(prefix, shape, unreadable)
        self.doc_versions.update((k, d.version) for k, d in docs.items() if d)
        return {k: d.value for k, d in docs.items() if d}

    def _all_docs(self, prefix: str, shape: type, unreadable: dict[str, str]) -> dict[str, Any]:
        """Every document under ``prefix``, read pipelined (``get_all``: a new leader's
        thousands of instance and version documents cost about one round trip); one it
        could not read (corrupt, changing) is read again alone, which names the problem
        in ``unreadable`` and maps it to None here. Folders and vanished ones are left
        out."""
        out: dict[str, Any] = {}
        try:
            docs = self._reader.get_all(prefix)
        except ZkError:
            docs = {}
        for name in self._reader.list(prefix):
            key = f"{prefix}/{name}"
            doc = docs.get(key)
            if doc is None:
                doc = self._get_doc(key, shape, unreadable)
                if doc is None and key not in unreadable:
                    continue
            elif not self._shaped(key, doc.value, shape):
                unreadable[key] = f"holds a {type(doc.value).__name__}, not a {shape.__name__}"
                doc = None
            out[key] = doc
        return out

    def _get(self, key: str, shape: type, unreadable: dict[str, str] | None = None) -> Any:
        doc = self._get_doc(key, shape, unreadable)
        if doc is not None:
            self.doc_versions[key] = doc.version
        return None if doc is None else doc.value

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """The documents written meanwhile (root, versions, deployments) go in one write
        when it ends, in the order given (``write_many(in_order=True)``: one multi when
        they fit, and a later one never lands without the earlier ones): an app's POST
        wrote three one after the other (deployment, versions, root), each a round trip
        on the Marathon thread. A failure is raised when it ends; nothing is written if
        the block itself raised."""
        if self._deferred is not None:
            yield
            return
        self._deferred = []
        try:
            yield
            self._flush_deferred()
        finally:
            self._deferred = None

    def _flush_deferred(self) -> None:
        ops, self._deferred = self._deferred or [], []
        if ops:
            self._write_docs(ops)

    def _write_docs(self, ops: list[Put]) -> None:
        """Write documents with the versions this store last saw, in order; those whose
        version was not the stored one again with the reading ``put`` (any version)."""
        try:
            done = self.store.write_many(ops, in_order=True)
        except BatchFailed as exc:
            self._written_docs(exc.done)
            left = [op for op in ops if op.key not in exc.done]
            for op in left:
                self.doc_versions.pop(op.key, None)
            _unwrap_too_large(exc)
            if not exc.conflict:
                raise
            for op in left:  # a version this store did not expect: as ``_put`` does
                self.doc_versions[op.key] = self.store.put(op.key, op.value).version
            return
        self._written_docs(done)

    def _written_docs(self, done: dict[str, int | None]) -> None:
        for key, version in done.items():
            if version is not None:
                self.doc_versions[key] = version

    def _put(self, key: str, value: Any) -> None:
        """Write one document (any version, as ``StateStore.put``): one multi with the
        version this store last saw (None: create, for a key ``load`` did not find);
        the reading ``put`` when that version is unknown or was not the stored one.
        Inside ``together``: left for its write when the version is known."""
        deferred = self._deferred
        if deferred is not None:
            if (key in self.doc_versions or self.loaded) and all(op.key != key for op in deferred):
                deferred.append(Put(key, value, self.doc_versions.get(key)))
                return
            self._flush_deferred()  # what came before goes first
        if key in self.doc_versions or self.loaded:
            self._write_docs([Put(key, value, self.doc_versions.get(key))])
        else:
            self.doc_versions[key] = self.store.put(key, value).version

    def _delete(self, key: str) -> None:
        if self._deferred:
            self._flush_deferred()
        self.doc_versions.pop(key, None)
        self.store.delete(key)  # chunks and all

    def _read(self, key: str) -> Any:
        """``store.get(key)``, from the hand-over during a warm ``load``: a document it
        lacks although its name is listed (foreign data, a folder) is read from the
        store, which names the problem as a fresh leader's read does."""
        reader = self._reader
        if reader is not self.store and reader.covers(key):
            doc = reader.get(key)
            prefix, _, name = key.rpartition("/")
            if doc is not None or name not in reader.list(prefix):
                return doc
        return self.store.get(key)

    def _get_doc(self, key: str, shape: type, unreadable: dict[str, str] | None = None) -> Any:
        try:
            doc = self._read(key)
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
        return doc

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
        self._put("framework-id", {"id": framework_id})

    def save_root(self, root: dict[str, Any]) -> None:
        self._put("root", root)

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None:
        key = f"versions/{app_key(app_id)}"
        self._put(key, keep_versions(versions, self.store.max_bytes))

    def delete_versions(self, app_id: str) -> None:
        self._delete(f"versions/{app_key(app_id)}")

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None:
        self._put(f"deployments/{deployment_id}", doc)

    def delete_deployment(self, deployment_id: str) -> None:
        self._delete(f"deployments/{deployment_id}")

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        """Store ``records`` as the app's records: only the shards that changed, then
        the deletes (emptied shards, the whole-app document of the older layout), so a
        write cut short leaves each record stored at least once."""
        if self._deferred:
            self._flush_deferred()
        akey = app_key(app_id)
        if akey in self.stale or (akey not in self.shards and not self.loaded):
            self._read_app(akey)
        elif akey not in self.shards:
            self.shards[akey] = Shards()  # loaded: nothing is stored for it
        old = self.shards[akey]
        plan = plan_write(old, records)
        ops: list[Any] = []
        for n, recs in plan.puts.items():
            key = f"instances/{shard_name(akey, n)}"
            ops.append(Put(key, {"instances": recs}, self.versions.get(key)))
        for n in plan.deletes:
            key = f"instances/{shard_name(akey, n)}"
            ops.append(Delete(key, self.versions[key]))
        self.stale.add(akey)  # until the whole write landed
        try:
            done = self.store.write_many(ops) if ops else {}
        except BatchFailed as exc:
            self._written(exc.done)
            _unwrap_too_large(exc)
            raise
        self._written(done)
        # Replaced by this write, as the older layout's write replaced its whole
        # document: the shards that could not be read, the whole-app document.
        replaced = [f"instances/{shard_name(akey, n)}" for n in sorted(old.reserved)]
        if akey in self.wholes:
            replaced.append(f"instances/{akey}")
        for key in replaced:
            self.store.put(key, {"instances": []})  # over whatever it holds
            self.store.delete(key)  # chunks and all
            self.versions.pop(key, None)
        self.wholes.discard(akey)
        plan.after.reserved.clear()
        self.shards[akey] = plan.after
        self.stale.discard(akey)

    def _written(self, done: dict[str, int | None]) -> None:
        for key, version in done.items():
            if version is None:
                self.versions.pop(key, None)
            else:
                self.versions[key] = version

    def _read_app(self, akey: str) -> None:
        """What is stored for one app, read again (first write of an app this store did
        not load, or after a failed write)."""
        prefix = f"{akey}+"
        docs: dict[int, list[Any]] = {}
        reserved: set[int] = set()
        for key in [k for k in self.versions if k.startswith(f"instances/{prefix}")]:
            self.versions.pop(key)
        self.wholes.discard(akey)
        for name in self.store.list("instances"):
            base, n = parse_name(name)
            if base != akey:
                continue
            key = f"instances/{name}"
            if n is None:
                self.wholes.add(akey)
            try:
                doc = self.store.get(key)
            except ZkError:
                doc = None
                if n is not None:
                    reserved.add(n)
            if doc is None:
                continue
            self.versions[key] = doc.version
            recs = doc.value.get("instances") if isinstance(doc.value, dict) else None
            if n is not None:
                if isinstance(recs, list):
                    docs[n] = recs
                else:
                    reserved.add(n)
        self.shards[akey] = Shards.of(docs, reserved)
        self.stale.discard(akey)


def _unwrap_too_large(exc: BatchFailed) -> None:
    """``write_many`` wraps every store error in ``BatchFailed``; a document above the
    limit must stay ``ValueTooLarge`` (the API answers it 422 naming size and limit)."""
    if isinstance(exc.__cause__, ValueTooLarge):
        raise exc.__cause__ from None


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
