"""Versioned JSON documents in ZooKeeper, with compare-and-set and large-value chunks.

Layout under the client's chroot (``/pydcos``)::

    <root>/docs/<key>            header line + JSON body          (one znode per document)
    <root>/docs/<key>            header line naming chunks        (a chunked document)
    <root>/chunks/<wid>-<n>      raw slices of a large body       (immutable once written)

A document's version is the znode version of its ``docs`` node: every write, inline or
chunked, changes that one znode once, so compare-and-set works the same for both.

Writing a value larger than one znode (ZooKeeper refuses requests above jute.maxbuffer,
about 1 MB, and a multi-op transaction counts as ONE request) goes in two steps:

1. write every chunk as its own new znode under a fresh write id (invisible: nothing
   points at them yet);
2. in ONE small transaction, compare-and-set the header to point at them and delete the
   chunks of the previous value.

Readers only follow the header, so they see the old value or the new one, never a mix;
the header carries the body's size and sha256, checked on read. A writer that dies
between the steps leaves unreferenced chunks behind, never a half-written document
(``collect_garbage`` removes them).

Fencing: a store built with ``fence=Fence(term_znode, term)`` (the leader's, see
``Election.fence``) adds ``check(term_znode, term)`` to every write transaction (inline
and chunked header commits, deletes, ``write_many`` batches), so a deposed leader's late
write fails with ``Fenced`` instead of overwriting its successor's state. Chunks are
written unfenced: nothing references them until a fenced header commit does.
"""

from __future__ import annotations

import builtins
import collections
import hashlib
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RolledBackError,
    SessionExpiredError,
)
from kazoo.protocol.serialization import Transaction
from kazoo.protocol.states import ZnodeStat
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from zk._documents import DEFAULT_MAX_BYTES, Delete, Put, decode_json, encode_json
from zk._errors import (
    BatchFailed,
    CorruptData,
    DocumentExists,
    Fenced,
    InvalidKey,
    NoDocument,
    ValueTooLarge,
    VersionConflict,
    ZkError,
)
from zk._retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger(__name__)

MAGIC = "pydcos.doc/1"
"""The ``pydcos`` key of every document header: data without it is foreign (reported
and skipped as `CorruptData`, never decoded)."""
DEFAULT_NODE_LIMIT = 128 * 1024
"""Largest write sent to ZooKeeper in one request (an inline document, a chunk, a batch).

Far below jute.maxbuffer (1 MiB) on purpose: ZooKeeper keeps its last 500 committed
transactions in memory, each about three times over (the request, the transaction, its
serialised copy), and refills them when it replays its log at start-up. At 128 KiB that
is at most ~190 MiB whatever is written; at ~1 MB per chunk it was ~1.4 GB, and a 7 MB
app updated a few times ran the 256 MB development heap out of memory (issue 30)."""
DEFAULT_CHUNK_SIZE = 120 * 1024


def check_key(key: str) -> str:
    """Validate a document key: relative, ``/``-separated, no empty/dot segments."""
    if not isinstance(key, str) or not key:
        raise InvalidKey(str(key), "empty")
    if key.startswith("/") or key.endswith("/"):
        raise InvalidKey(key, "must not start or end with '/'")
    for seg in key.split("/"):
        if seg in ("", ".", "..") or "\x00" in seg:
            raise InvalidKey(key, f"bad segment {seg!r}")
        if seg == "zookeeper":
            raise InvalidKey(key, "'zookeeper' is reserved")
    return key


@dataclass(frozen=True)
class Document:
    """One stored value and the version to pass back for compare-and-set."""

    key: str
    value: Any
    version: int
    """ZooKeeper znode version of the document (0 after create, +1 per write)."""
    size: int
    """Encoded body size in bytes."""
    chunked: bool
    mtime: float
    """Last write, seconds since the epoch (from ZooKeeper)."""


@dataclass(frozen=True)
class Fence:
    """The writer's election term: writes succeed only while the znode at ``path`` is at
    ``version`` (every new leadership bumps it, see ``zk._election``).

    ``active`` is a local gate checked before each write (the election's "still leading"
    flag, cleared the moment the connection is SUSPENDED): a writer that knows it stopped
    leading fails at once, without a round trip to a ZooKeeper it may not reach."""

    path: str
    version: int
    active: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    def guard(self, doc_path: str) -> None:
        """Raise ``Fenced`` if the local gate says the term is over."""
        if self.active is not None and not self.active():
            raise Fenced(doc_path, self.version, "this writer stopped leading")


@dataclass(frozen=True)
class _Raw:
    header: dict[str, Any] | None  # None: an empty folder node, not a document
    body: bytes
    stat: ZnodeStat


class StoreWatch:
    """Handle for a watch; ``stop()`` ends it (kazoo drops it at the next event)."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


PIPELINE_WINDOW = 128
"""Reads ``StateStore.get_all`` keeps in flight on the session (see there why not all)."""

BATCH_BYTES = 100_000
"""Payload per multi transaction: a multi is one request, kept under DEFAULT_NODE_LIMIT."""
BATCH_OPS = 500
"""Operations per multi transaction."""


class StateStore:
    """Versioned JSON documents under ``root`` (relative to the client's chroot)."""

    def __init__(
        self,
        client: KazooClient,
        root: str = "/state",
        *,
        chunking: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        node_limit: int = DEFAULT_NODE_LIMIT,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        retry: RetryPolicy = DEFAULT_RETRY,
        fence: Fence | None = None,
    ) -> None:
        if chunk_size > node_limit:
            raise ValueError(f"chunk_size {chunk_size} is above node_limit {node_limit}")
        self.client = client
        self.root = root.rstrip("/")
        self.docs = f"{self.root}/docs"
        self.chunks = f"{self.root}/chunks"
        self.chunking = chunking
        self.max_bytes = max_bytes
        self.node_limit = node_limit
        self.chunk_size = chunk_size
        self.retry = retry
        self.fence = fence
        """Leader term every write is checked against (None: unfenced, e.g. tests)."""
        self._parents: set[str] = set()
        """Parents ``write_many``'s creates found or made: not ensured again per batch
        (a round trip each); a create meeting NoNode ensures them and tries once more."""
        retry(client.ensure_path, self.docs)
        retry(client.ensure_path, self.chunks)

    def path(self, key: str) -> str:
        return f"{self.docs}/{check_key(key)}"

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> Document | None:
        """The document at ``key``, or None. CorruptData if it holds foreign data."""
        path = self.path(key)
        for _ in range(10):
            raw = self._read_raw(path)
            if raw is None or raw.header is None:
                return None
            doc = self._assemble(key, path, raw)
            if doc is not None:
                return doc
        raise ZkError(f"document at {path} kept changing while being read")

    def require(self, key: str) -> Document:
        doc = self.get(key)
        if doc is None:
            raise NoDocument(self.path(key))
        return doc

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Names directly under ``prefix`` (documents and folders), sorted."""
        base = self.path(prefix) if prefix else self.docs
        try:
            return sorted(self.retry(self.client.get_children, base))
        except NoNodeError:
            return []

    def get_all(self, prefix: str = "") -> dict[str, Document]:
        """Documents directly under ``prefix`` by key; corrupt ones are logged and skipped.

        Pipelined: up to ``PIPELINE_WINDOW`` reads are in flight at once (kazoo sends
        them on one connection), so a new leader loading 10,000 agent records pays about
        10,000 / window round trips, not 10,000. Not all at once: ZooKeeper answers a
        session's requests in order, so the leader's lease heartbeat (a ``sync`` on the
        same session) sent during a 10,000-read burst waited behind every answer, which
        a GIL-bound new leader took seconds to take in, and its lease lapsed 4 s after
        its election (bench/scale.py at 10k agents). A chunked document, or a read that
        failed, takes the one-by-one path (``get``: chunks, retries, changes while
        reading)."""
        keys = iter([f"{prefix}/{name}" if prefix else name for name in self.list(prefix)])
        pending: collections.deque[tuple[str, Any]] = collections.deque()

        def send(key: str) -> None:
            try:
                pending.append((key, self.client.get_async(self.path(key))))
            except (ConnectionLoss, SessionExpiredError, OperationTimeoutError):
                pending.append((key, None))

        for key in itertools.islice(keys, PIPELINE_WINDOW):
            send(key)
        out: dict[str, Document] = {}
        while pending:
            key, answer = pending.popleft()
            try:
                doc = self._pipelined(key, answer)
            except CorruptData as exc:
                log.warning("%s: skipped", exc)
                doc = None
            if doc is not None:
                out[key] = doc
            following = next(keys, None)
            if following is not None:
                send(following)
        return out

    def _pipelined(self, key: str, answer: Any) -> Document | None:
        """The document from a pipelined read, else from ``get`` (chunked, or the read
        failed). CorruptData for foreign data, as ``get``."""
        path = self.path(key)
        if answer is not None:
            try:
                data, stat = answer.get(timeout=self.retry.deadline or 10.0)
            except NoNodeError:
                return None
            except Exception:  # connection trouble: the retrying path decides
                return self.get(key)
            if not data:
                return None  # a folder, not a document
            header, body = _split(path, data)
            if not _chunk_names(header):
                return Document(
                    key=key,
                    value=decode_json(path, body),
                    version=int(stat.version),
                    size=len(body),
                    chunked=False,
                    mtime=stat.mtime / 1000.0,
                )
        return self.get(key)

    # -- writes ------------------------------------------------------------------------

    def create(self, key: str, value: Any) -> Document:
        """Store a new document; DocumentExists if one is there."""
        return self._write(key, value, expect=-1)

    def put(self, key: str, value: Any, version: int | None = None) -> Document:
        """Store ``value``. With ``version``: only if the document is still at it
        (compare-and-set, else VersionConflict). Without: last write wins."""
        return self._write(key, value, expect=version)

    def update(self, key: str, fn: Callable[[Any], Any], tries: int = 100) -> Document:
        """Read-modify-write: ``fn(old_value_or_None) -> new value``, retried on conflicts
        with a short jittered pause; ``fn`` may run several times and must be pure."""
        path = self.path(key)
        last: ZkError | None = None
        for attempt in range(tries):
            try:
                cur = self.get(key)
            except CorruptData as exc:
                raise CorruptData(path, f"cannot update: {exc.reason}") from exc
            try:
                if cur is None:
                    return self.create(key, fn(None))
                return self.put(key, fn(cur.value), version=cur.version)
            except (VersionConflict, DocumentExists) as exc:
                last = exc
                time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
        assert last is not None
        raise last

    def delete(self, key: str, version: int | None = None) -> bool:
        """Delete the document and its chunks atomically; False if there was none."""
        path = self.path(key)
        for _ in range(20):
            raw = self._read_raw(path, tolerate_corrupt=True)
            if raw is None or raw.header is None:
                if version is not None:
                    raise VersionConflict(path, version, None)
                return False
            if version is not None and raw.stat.version != version:
                raise VersionConflict(path, version, raw.stat.version)
            txn = self._transaction(path)
            for name in self._existing_chunks(raw.header):
                txn.delete(f"{self.chunks}/{name}")
            txn.delete(path, version=raw.stat.version)
            results = self._run_txn(txn, path)
            if results is None:
                continue
            self._check_fence(path, results)
            err = _first_error(results)
            if err is None:
                return True
            if isinstance(err, NotEmptyError):
                raise ZkError(f"cannot delete {path}: it has child documents")
            if version is not None and isinstance(err, BadVersionError | NoNodeError):
                actual = self._version(path)
                raise VersionConflict(path, version, actual)
        raise ZkError(f"document at {path} kept changing while being deleted")

    def collect_garbage(self, older_than: float = 600.0) -> int:
        """Delete chunks no document references, older than ``older_than`` seconds
        (younger ones may belong to a write in progress). Returns how many went."""
        referenced: set[str] = set()
        self._walk_refs(self.docs, referenced)
        removed = 0
        now = time.time()
        for name in self.retry(self.client.get_children, self.chunks):
            if name in referenced:
                continue
            try:
                _, stat = self.retry(self.client.get, f"{self.chunks}/{name}")
                if now - stat.mtime / 1000.0 < older_than:
                    continue
                self.retry(self.client.delete, f"{self.chunks}/{name}")
                removed += 1
            except NoNodeError:
                continue
        return removed

    # -- watches -----------------------------------------------------------------------

    def watch(self, key: str, callback: Callable[[Document | None], Any]) -> StoreWatch:
        """Call ``callback(doc_or_None)`` now and after every change of ``key``.

        Corrupt data is logged with its path and not reported. Runs on kazoo's event
        thread; changes in quick succession may be coalesced into the latest value.
        """
        path = self.path(key)
        handle = StoreWatch()

        def on_data(data: bytes | None, stat: ZnodeStat | None, event: object = None) -> bool:
            if handle.stopped:
                return False
            try:
                doc = self.get(key)
            except CorruptData as exc:
                log.warning("%s: skipped", exc)
                return True
            except ZkError as exc:
                log.warning("watch on %s: read failed: %r", path, exc)
                return True
            try:
                callback(doc)
            except Exception:
                log.exception("state store watch callback for %s failed", path)
            return True

        DataWatch(self.client, path, on_data)
        return handle

    def watch_children(
        self, prefix: str, callback: Callable[[builtins.list[str]], Any]
    ) -> StoreWatch:
        """Call ``callback(sorted_names)`` now and whenever names under ``prefix`` change."""
        base = self.path(prefix) if prefix else self.docs
        self.retry(self.client.ensure_path, base)
        handle = StoreWatch()

        def on_children(children: builtins.list[str]) -> bool:
            if handle.stopped:
                return False
            try:
                callback(sorted(children))
            except Exception:
                log.exception("state store children callback for %s failed", base)
            return True

        ChildrenWatch(self.client, base, on_children)
        return handle

    # -- internals ---------------------------------------------------------------------

    def _read_raw(self, path: str, tolerate_corrupt: bool = False) -> _Raw | None:
        try:
            data, stat = self.retry(self.client.get, path)
        except NoNodeError:
            return None
        if not data:
            return _Raw(None, b"", stat)
        try:
            header, body = _split(path, data)
        except CorruptData:
            if not tolerate_corrupt:
                raise
            return _Raw({"pydcos": "corrupt"}, b"", stat)
        return _Raw(header, body, stat)

    def _version(self, path: str) -> int | None:
        stat = self.retry(self.client.exists, path)
        return None if stat is None else int(stat.version)

    def _assemble(self, key: str, path: str, raw: _Raw) -> Document | None:
        """Decode ``raw``; None means the document changed under us (read again)."""
        header = raw.header or {}
        names = _chunk_names(header)
        if names:
            parts: builtins.list[bytes] = []
            for name in names:
                try:
                    part, _ = self.retry(self.client.get, f"{self.chunks}/{name}")
                except NoNodeError:
                    if self._version(path) != raw.stat.version:
                        return None  # rewritten meanwhile: its old chunks went with it
                    raise CorruptData(path, f"chunk {self.chunks}/{name} is missing") from None
                parts.append(part)
            body = b"".join(parts)
            digest = hashlib.sha256(body).hexdigest()
            if len(body) != header.get("size") or digest != header.get("sha256"):
                if self._version(path) != raw.stat.version:
                    return None
                raise CorruptData(path, "chunks do not match the header's size/sha256")
        else:
            body = raw.body
        value = decode_json(path, body)
        return Document(
            key=key,
            value=value,
            version=int(raw.stat.version),
            size=len(body),
            chunked=bool(names),
            mtime=raw.stat.mtime / 1000.0,
        )

    def _write(self, key: str, value: Any, expect: int | None) -> Document:
        """expect: None = any, -1 = must not exist, n = must be at version n."""
        path = self.path(key)
        try:
            body = encode_json(value)
        except (TypeError, ValueError) as exc:
            raise ZkError(f"value for {path} is not JSON-encodable: {exc}") from None
        if len(body) > self.max_bytes:
            raise ValueTooLarge(path, len(body), self.max_bytes)
        inline = _join({"pydcos": MAGIC}, body)
        new_chunks: builtins.list[str] = []
        if len(inline) + len(path) > self.node_limit:
            if not self.chunking:
                raise ValueTooLarge(path, len(inline), self.node_limit)
            new_chunks = self._write_chunks(body)
            data = _join(
                {
                    "pydcos": MAGIC,
                    "chunks": new_chunks,
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                },
                b"",
            )
        else:
            data = inline
        try:
            return self._commit(key, path, value, data, len(body), new_chunks, expect)
        except BaseException:
            self._drop_chunks(new_chunks)
            raise

    def _commit(
        self,
        key: str,
        path: str,
        value: Any,
        data: bytes,
        size: int,
        new_chunks: builtins.list[str],
        expect: int | None,
    ) -> Document:
        parent = path.rsplit("/", 1)[0]
        for _ in range(50):
            raw = self._read_raw(path, tolerate_corrupt=True)
            exists = raw is not None and raw.header is not None
            if expect == -1 and exists:
                raise DocumentExists(path)
            if expect is not None and expect >= 0:
                if not exists:
                    raise VersionConflict(path, expect, None)
                assert raw is not None
                if raw.stat.version != expect:
                    raise VersionConflict(path, expect, raw.stat.version)
            txn = self._transaction(path)
            if raw is None:
                self.retry(self.client.ensure_path, parent)
                txn.create(path, data)
            else:
                txn.set_data(path, data, version=raw.stat.version)
                for name in self._existing_chunks(raw.header or {}):
                    txn.delete(f"{self.chunks}/{name}")
            results = self._run_txn(txn, path)
            if results is None:
                continue
            self._check_fence(path, results)
            err = _first_error(results)
            if err is None:
                version = 0 if raw is None else raw.stat.version + 1
                return Document(key, value, version, size, bool(new_chunks), time.time())
            if isinstance(err, NodeExistsError | BadVersionError | NoNodeError):
                continue  # someone else wrote in between: re-check the expectation
            raise ZkError(f"writing {path} failed: {err!r}")
        raise ZkError(f"document at {path} kept changing while being written")

    def write_many(
        self, ops: builtins.list[Put | Delete], in_order: bool = False
    ) -> dict[str, int | None]:
        """Write many documents with few round trips: compare-and-set ``multi``
        transactions of up to ``BATCH_OPS`` ops / ``BATCH_BYTES`` each.

        Returns each key's new version (None: deleted). A document too large for one
        znode goes through ``put``/``create`` on its own (they chunk it), before the
        others unless ``in_order``. A document that was stored chunked and is now
        written inline (or deleted) leaves its old chunks behind for
        ``collect_garbage``: reading every document first would cost the round trips
        batching saves. Raises ``BatchFailed`` (with what was done) when a version check
        fails or ZooKeeper does not answer; each multi is atomic, the batch is not.
        Consecutive multis of puts are sent together (`_waves`); ``in_order``: each
        write waits for every one before it (a caller whose later documents must not
        land without the earlier ones: the first failure stops the batch).
        """
        done: dict[str, int | None] = {}
        inline: builtins.list[tuple[Put | Delete, bytes]] = []
        try:
            for op in ops:
                if isinstance(op, Delete):
                    inline.append((op, b""))
                    continue
                body = encode_json(op.value)
                data = _join({"pydcos": MAGIC}, body)
                if len(data) + len(self.path(op.key)) > self.node_limit:
                    if in_order:
                        self._commit_inline(inline, done, in_order)
                        inline = []
                    doc = (
                        self.create(op.key, op.value)
                        if op.version is None
                        else self.put(op.key, op.value, version=op.version)
                    )
                    done[op.key] = doc.version
                else:
                    inline.append((op, data))
            self._commit_inline(inline, done, in_order)
        except BatchFailed as exc:
            exc.done = done
            raise
        except Fenced:
            raise
        except (VersionConflict, DocumentExists, NoDocument) as exc:
            raise BatchFailed(str(exc), done, conflict=True) from exc
        except (ZkError, ConnectionLoss, OperationTimeoutError, SessionExpiredError) as exc:
            raise BatchFailed(f"ZooKeeper did not answer: {exc!r}", done, conflict=False) from exc
        return done

    def _commit_inline(
        self,
        inline: builtins.list[tuple[Put | Delete, bytes]],
        done: dict[str, int | None],
        in_order: bool,
    ) -> None:
        """The inline documents in multis of at most ``BATCH_BYTES`` / ``BATCH_OPS``."""
        groups = _groups(inline)
        for wave in [[g] for g in groups] if in_order else _waves(groups):
            self._commit_wave(wave, done)

    def _commit_wave(
        self,
        wave: builtins.list[builtins.list[tuple[Put | Delete, bytes]]],
        done: dict[str, int | None],
    ) -> None:
        """One multi, or several of puts sent at once and their answers read in order:
        one round trip's wait instead of one per multi (an app's instance shards, ~3
        multis of 100 KB, kept Marathon's thread waiting 30% of a 10k/100k launch). Each
        multi is atomic, the wave is not; every multi that landed is in ``done`` before
        the first failure is raised."""
        assumed = [self._ensure_parents(group) for group in wave]
        txns = [self._group_txn(group) for group in wave]  # Fenced: nothing sent
        pending = [txn.commit_async() for txn in txns]
        first: BaseException | None = None
        for group, was, answer in zip(wave, assumed, pending, strict=True):
            try:
                results = self._fenced_results(group, list(answer.get()))
                self._group_done(group, self._parents_again(group, was, results), done)
            except Exception as exc:  # the first is raised once every answer is in
                first = first or exc
        if first is not None:
            raise first

    def _ensure_parents(self, group: builtins.list[tuple[Put | Delete, bytes]]) -> set[str]:
        """Create the parents of the group's new documents not known to exist; returns
        the ones assumed to exist (known from before)."""
        parents = {
            self.path(op.key).rsplit("/", 1)[0]
            for op, _ in group
            if isinstance(op, Put) and op.version is None
        }
        assumed = parents & self._parents
        for parent in parents - assumed:
            self.retry(self.client.ensure_path, parent)
        self._parents |= parents
        return assumed

    def _parents_again(
        self,
        group: builtins.list[tuple[Put | Delete, bytes]],
        assumed: set[str],
        results: builtins.list[Any],
    ) -> builtins.list[Any]:
        """The group's results, committed once more when a parent assumed to exist was
        gone (the multi was atomic: nothing was written)."""
        if assumed and any(
            isinstance(r, NoNodeError) and isinstance(op, Put) and op.version is None
            for (op, _), r in zip(group, results, strict=False)
        ):
            self._parents -= assumed
            for parent in assumed:
                self.retry(self.client.ensure_path, parent)
            self._parents |= assumed
            return self._commit_txn(group)
        return results

    def _group_done(
        self,
        group: builtins.list[tuple[Put | Delete, bytes]],
        results: builtins.list[Any],
        done: dict[str, int | None],
    ) -> None:
        """Record the group's new versions in ``done``, or raise ``BatchFailed``."""
        for (op, _), r in zip(group, results, strict=False):
            if isinstance(r, BaseException) and not isinstance(r, RolledBackError):
                path = self.path(op.key)
                if isinstance(r, BadVersionError | NodeExistsError | NoNodeError):
                    raise BatchFailed(
                        f"{path}: {type(r).__name__} (another writer?)", done, conflict=True
                    )
                raise BatchFailed(f"{path}: {r!r}", done, conflict=False)
        for op, _ in group:
            done[op.key] = (
                None if isinstance(op, Delete) else (0 if op.version is None else op.version + 1)
            )

    def write_many_async(
        self,
        ops: builtins.list[Put | Delete],
        on_done: Callable[[dict[str, int | None], ZkError | None], None],
    ) -> bool:
        """`write_many` without waiting: the multis are sent and ``on_done(done, error)``
        is called once all have been answered, ON THE ZOOKEEPER CLIENT'S THREAD (the
        reader of its socket): keep it short, never block in it, never call ZooKeeper
        synchronously from it. ``done`` maps each key written to its new version (None:
        deleted); ``error`` is None, a `BatchFailed` (``conflict`` as in `write_many`) or
        `Fenced`.

        Why: a synchronous write costs its caller two thread wake-ups after ZooKeeper
        answered (the client's reader thread, then the caller, each waiting for the GIL
        on a busy process); here the answer is acted upon where it is read.

        Returns False (nothing sent) when a document must be chunked: use `write_many`.
        A parent never written under is created first, synchronously (once per parent).
        Raises `Fenced` at once when the fence's local gate is closed.
        """
        call = getattr(self.client, "_call", None)
        if call is None:
            return False
        inline: builtins.list[tuple[Put | Delete, bytes]] = []
        for op in ops:
            if isinstance(op, Delete):
                inline.append((op, b""))
                continue
            data = _join({"pydcos": MAGIC}, encode_json(op.value))
            if len(data) + len(self.path(op.key)) > self.node_limit:
                return False
            inline.append((op, data))
        groups = _groups(inline)
        if not groups:
            on_done({}, None)
            return True
        parents = {
            self.path(op.key).rsplit("/", 1)[0]
            for op, _ in inline
            if isinstance(op, Put) and op.version is None
        }
        for parent in parents - self._parents:
            self.retry(self.client.ensure_path, parent)
        self._parents |= parents
        txns = [self._group_txn(group) for group in groups]  # Fenced: nothing sent
        batch = _AsyncBatch(self, groups, on_done)
        for i, txn in enumerate(txns):
            txn.committed = True
            call(Transaction(txn.operations), _MultiSlot(batch, i))
        return True

    def _group_txn(self, group: builtins.list[tuple[Put | Delete, bytes]]) -> Any:
        """The multi of ``group`` (after the fence's term check), not sent yet."""
        txn = self._transaction(self.path(group[0][0].key))
        for op, data in group:
            path = self.path(op.key)
            if isinstance(op, Delete):
                txn.delete(path, version=op.version)
            elif op.version is None:
                txn.create(path, data)
            else:
                txn.set_data(path, data, version=op.version)
        return txn

    def _commit_txn(self, group: builtins.list[tuple[Put | Delete, bytes]]) -> builtins.list[Any]:
        """One multi of ``group``; its results past the fence check (Fenced if that failed)."""
        return self._fenced_results(group, list(self._group_txn(group).commit()))

    def _fenced_results(
        self, group: builtins.list[tuple[Put | Delete, bytes]], results: builtins.list[Any]
    ) -> builtins.list[Any]:
        """A multi's results past the fence's term check (Fenced if that failed)."""
        self._check_fence(self.path(group[0][0].key), results)
        return results[1:] if self.fence is not None else results

    def _transaction(self, path: str) -> Any:
        """A transaction whose first op checks the writer's term (when fenced)."""
        txn = self.client.transaction()
        if self.fence is not None:
            self.fence.guard(path)
            txn.check(self.fence.path, self.fence.version)
        return txn

    def _check_fence(self, path: str, results: builtins.list[Any]) -> None:
        """Raise ``Fenced`` when the transaction's term check failed."""
        if self.fence is None or not results:
            return
        first = results[0]
        if isinstance(first, BadVersionError | NoNodeError):
            stat = self.retry(self.client.exists, self.fence.path)
            now = "its term znode is gone" if stat is None else f"now at term {stat.version}"
            raise Fenced(path, self.fence.version, f"{self.fence.path} is {now}")

    def _existing_chunks(self, header: dict[str, Any]) -> builtins.list[str]:
        """Chunks of the old value still present (a damaged document may lack some; the
        version check on the header keeps this race-free)."""
        return [
            n
            for n in _chunk_names(header)
            if self.retry(self.client.exists, f"{self.chunks}/{n}") is not None
        ]

    def _run_txn(self, txn: Any, path: str) -> builtins.list[Any] | None:
        """Commit once; None if the connection dropped (the caller re-reads and decides:
        a committed transaction shows up as a changed version)."""
        try:
            return list(txn.commit())
        except (ConnectionLoss, OperationTimeoutError):
            self.retry(self.client.exists, path)  # wait for the connection to return
            return None

    def _write_chunks(self, body: bytes) -> builtins.list[str]:
        wid = uuid.uuid4().hex
        names: builtins.list[str] = []
        try:
            for i, off in enumerate(range(0, len(body), self.chunk_size)):
                name = f"{wid}-{i:05d}"
                try:
                    self.retry(
                        self.client.create,
                        f"{self.chunks}/{name}",
                        body[off : off + self.chunk_size],
                    )
                except NodeExistsError:
                    pass  # our own create, retried after a lost reply
                names.append(name)
        except BaseException:
            self._drop_chunks(names)
            raise
        return names

    def _drop_chunks(self, names: builtins.list[str]) -> None:
        for name in names:
            try:
                self.retry(self.client.delete, f"{self.chunks}/{name}")
            except (NoNodeError, ZkError):
                pass  # garbage collection will get it

    def _walk_refs(self, path: str, out: set[str]) -> None:
        try:
            data, _ = self.retry(self.client.get, path)
            children = self.retry(self.client.get_children, path)
        except NoNodeError:
            return
        if data and path != self.docs:
            try:
                header, _ = _split(path, data)
                out.update(_chunk_names(header))
            except CorruptData:
                pass
        for c in children:
            self._walk_refs(f"{path}/{c}", out)


def _join(header: dict[str, Any], body: bytes) -> bytes:
    return json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + body


def _split(path: str, data: bytes) -> tuple[dict[str, Any], bytes]:
    head, sep, body = data.partition(b"\n")
    if not sep:
        raise CorruptData(path, "no pydcos document header", data)
    header = decode_json(path, head)
    if not isinstance(header, dict) or header.get("pydcos") != MAGIC:
        raise CorruptData(path, f"header is not {MAGIC!r}", data)
    return header, body


def _groups(
    inline: builtins.list[tuple[Put | Delete, bytes]],
) -> builtins.list[builtins.list[tuple[Put | Delete, bytes]]]:
    """Inline documents (op, encoded bytes) in multis of at most ``BATCH_BYTES`` /
    ``BATCH_OPS``, in order."""
    groups: builtins.list[builtins.list[tuple[Put | Delete, bytes]]] = []
    size = 0
    for item in inline:
        if not groups or size + len(item[1]) > BATCH_BYTES or len(groups[-1]) >= BATCH_OPS:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += len(item[1]) + 200
    return groups


def _waves(
    groups: builtins.list[builtins.list[tuple[Put | Delete, bytes]]],
) -> builtins.list[builtins.list[builtins.list[tuple[Put | Delete, bytes]]]]:
    """The multis of a batch in the waves they may be sent in: consecutive multis of
    puts go together; a multi with a delete waits for every multi before it (a caller
    that moves records puts them in their new place before deleting the old one, and a
    put that failed must leave the old one where it was)."""
    waves: builtins.list[builtins.list[builtins.list[tuple[Put | Delete, bytes]]]] = []
    joinable = False  # whether the last wave is of puts only
    for group in groups:
        puts_only = not any(isinstance(op, Delete) for op, _ in group)
        if puts_only and joinable:
            waves[-1].append(group)
        else:
            waves.append([group])
        joinable = puts_only
    return waves


def _chunk_names(header: dict[str, Any]) -> list[str]:
    names = header.get("chunks") or []
    return [n for n in names if isinstance(n, str)]


def _first_error(results: list[Any]) -> BaseException | None:
    errors = [r for r in results if isinstance(r, BaseException)]
    real = [e for e in errors if not isinstance(e, RolledBackError)]
    chosen = real or errors
    return chosen[0] if chosen else None


class _MultiSlot:
    """Where kazoo's reader thread puts one multi's answer (``client._call``'s async
    object): straight into its batch, without kazoo's completion-worker thread."""

    __slots__ = ("_batch", "_index")

    def __init__(self, batch: _AsyncBatch, index: int) -> None:
        self._batch = batch
        self._index = index

    def set(self, value: Any = None) -> None:
        self._batch.landed(self._index, value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._batch.landed(self._index, None, exc)


class _AsyncBatch:
    """The multis of one `StateStore.write_many_async`; the last answer calls
    ``on_done`` with the same outcome `write_many` would have had (each multi is atomic,
    the batch is not: a later multi may succeed after an earlier one failed)."""

    def __init__(
        self,
        store: StateStore,
        groups: builtins.list[builtins.list[tuple[Put | Delete, bytes]]],
        on_done: Callable[[dict[str, int | None], ZkError | None], None],
    ) -> None:
        self.store = store
        self.groups = groups
        self.on_done = on_done
        self.answers: builtins.list[tuple[Any, BaseException | None] | None] = [None] * len(groups)
        self.left = len(groups)
        self.lock = threading.Lock()

    def landed(self, index: int, value: Any, exc: BaseException | None) -> None:
        with self.lock:
            if self.answers[index] is not None:
                return  # answered twice (kazoo failing a request it already answered)
            self.answers[index] = (value, exc)
            self.left -= 1
            if self.left:
                return
        try:
            done, error = self.outcome()
        except Exception as bad:  # never into kazoo's reader thread
            log.exception("zk: judging a batch's answers failed")
            done, error = {}, BatchFailed(f"unreadable answer: {bad!r}", {}, conflict=False)
        try:
            self.on_done(done, error)
        except Exception:
            log.exception("zk: a write_many_async callback failed")

    def outcome(self) -> tuple[dict[str, int | None], ZkError | None]:
        store = self.store
        done: dict[str, int | None] = {}
        error: ZkError | None = None
        for group, answer in zip(self.groups, self.answers, strict=True):
            assert answer is not None
            value, exc = answer
            failure = _multi_failure(store, group, value, exc)
            if failure is None:
                for op, _ in group:
                    done[op.key] = (
                        None
                        if isinstance(op, Delete)
                        else (0 if op.version is None else op.version + 1)
                    )
            elif error is None or (
                isinstance(failure, BatchFailed)
                and failure.conflict
                and not (isinstance(error, BatchFailed) and error.conflict)
            ):
                error = failure  # the worst one: a conflict over an unanswered multi
        if isinstance(error, BatchFailed):
            error.done = done
        return done, error


def _multi_failure(
    store: StateStore,
    group: builtins.list[tuple[Put | Delete, bytes]],
    value: Any,
    exc: BaseException | None,
) -> ZkError | None:
    """Why one multi of an async batch failed (None: it was applied), as `write_many`
    would have said it, without a synchronous round trip (this runs on kazoo's thread)."""
    first = store.path(group[0][0].key)
    if exc is not None:
        return BatchFailed(f"ZooKeeper did not answer: {exc!r}", {}, conflict=False)
    results = list(value or [])
    if store.fence is not None:
        if results and isinstance(results[0], BadVersionError | NoNodeError):
            fence = store.fence
            return Fenced(first, fence.version, f"{fence.path} is no longer at that term")
        results = results[1:]
    for (op, _), r in zip(group, results, strict=False):
        if isinstance(r, BaseException) and not isinstance(r, RolledBackError):
            path = store.path(op.key)
            if isinstance(r, NoNodeError) and isinstance(op, Put) and op.version is None:
                # its parent is gone (the multi was atomic: nothing was written): made
                # again before the next write, which the caller retries
                store._parents.discard(path.rsplit("/", 1)[0])
                return BatchFailed(f"{path}: its parent is gone", {}, conflict=False)
            if isinstance(r, BadVersionError | NodeExistsError | NoNodeError):
                return BatchFailed(
                    f"{path}: {type(r).__name__} (another writer?)", {}, conflict=True
                )
            return BatchFailed(f"{path}: {r!r}", {}, conflict=False)
    return None
