"""A warm copy of a `StateStore`'s documents, kept by a standby for its hand-over.

Why: a new leader used to read its whole state (Marathon: ~1,000 instance shards,
95,000 records at 10k agents) while 10,000 agents re-registered with it: GIL-bound,
kazoo's one connection thread took in a few dozen answers a second and the read took
2-18 s. A standby is a separate process with its own GIL and idle CPU: it keeps the
raw bytes of every document under some prefixes, learns of changes by ZooKeeper
watches, and on election hands over what a fresh ``get_all`` would return, reading
again only the documents that changed since.

How it stays current::

    read (with a data watch)  -> raw bytes + znode version kept
    watch fires (one-shot)    -> key marked dirty (callback thread: a set insert)
    every `interval` s        -> up to `per_round` dirty lists/keys read again, pipelined,
                                 re-arming their watches (a modest pace: a standby must
                                 cost little CPU while the leader launches)
    children watch on each prefix folder -> the list is read again: new names read,
                                 gone names dropped

Consistency at hand-over (the crux). ``hand_over`` must return exactly what
``StateStore.get_all`` would return for each prefix after the election:

1. The old leader's writes are fenced by the election term (``Fence``: each of its
   multis checks the term znode's version), so once the new term is written nothing
   changes the mirrored documents any more (until the new leader writes, which is
   after its load). Chunks are written unfenced, but they are not mirrored: a chunked
   document is read the normal way (``StateStore.get``) at hand-over.
2. A document whose cached copy was read with a data watch, and whose watch did not
   fire, is unchanged since that read: ZooKeeper fires the watch on the next change.
3. ZooKeeper sends a client a watch event before the answer to any later request of
   that client. So after a ``sync`` (the mirror's server has applied everything
   committed before, the new term included) and a read answered after it, every event
   of an earlier change has reached kazoo's connection thread. Kazoo runs watch
   callbacks on its callback thread, after the connection thread set the answer: the
   hand-over therefore also queues a marker on that same (FIFO, single-thread) queue
   and waits until it ran. Then the dirty set is complete.
4. The hand-over then reads every dirty key and every prefix's children list again
   (new names are read, gone ones dropped), and decodes the raw bytes as ``get_all``
   does (folders skipped, foreign data logged and skipped).
5. A watch lives on the session that set it: if the mirror's session was SUSPENDED
   or LOST since the last whole read, events may have been missed, so everything is
   read again (the simplest correct answer); the background loop does the same, paced.

A dirty mark is cleared BEFORE its read is sent: an event firing while the read is in
flight marks it again, so no change is lost between a read and its watch.
"""

from __future__ import annotations

import builtins
import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kazoo.exceptions import KazooException, NoNodeError
from kazoo.protocol.states import Callback, KazooState, WatchedEvent

from zk._documents import decode_json
from zk._errors import CorruptData, ZkError
from zk._store import PIPELINE_WINDOW, Document, StateStore, _chunk_names, _split

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.5
"""Seconds between two rounds of re-reads on a standby."""
DEFAULT_PER_ROUND = 1000
"""Keys (and lists) read again per round at most."""
DEFAULT_DECODE_PER_ROUND = 300
"""Quiet documents decoded ahead per round at most (see `StoreMirror`)."""
QUIET_ROUNDS = 1
"""Rounds a document must go unchanged before it is decoded ahead once the store is
calm (a round found nothing changed): read in an earlier round, not changed since."""
BUSY_QUIET_ROUNDS = 6
"""The same while the leader writes (the last round read something again): a launch
wave rewrites most shards every few seconds, and decoding and building the records of
each shard that paused for 2 rounds was ~70% of a standby's copy's CPU in a 5k/50k
launch (notes/scale/s11-W2); once the writes stop, the next calm round decodes what
is left (up to ``CALM_DECODE_FACTOR`` times ``decode_per_round``)."""
CALM_DECODE_FACTOR = 4
"""How many more documents a calm round decodes than a busy one: the leader is idle or
dead, the standby's CPU is free, and its hand-over may be moments away."""

CALM_BACKLOG_PAUSE = 0.1
"""Seconds between calm rounds while documents are left to decode (not ``interval``):
after a burst of writes the copy is made ready while the leader is idle, not in the
middle of the next failover (10k agents: a new leader whose copy was still preparing
4,000 Metronome jobs took 7.6-9.4 s to hand them over, and Marathon's start beside it
2.3-4.3 s instead of 0.4 s, bench/scale.py 2026-12-07)."""


class MirrorUnavailable(ZkError):
    """The mirror cannot hand over (stopped, session gone): read the store instead."""


@dataclass(frozen=True)
class _Raw:
    data: bytes | None
    """The znode's bytes (empty: a folder); None once decoded into ``doc``."""
    version: int
    mtime: float
    doc: Document | None = None
    read_in: int = 0
    """The round it was read in (decoded ahead only once quiet for ``QUIET_ROUNDS``)."""
    prepared: Any = None
    """``prepare(key, doc.value)``, computed ahead with the decoding (None: none)."""


@dataclass(frozen=True)
class HandOver:
    """What `StoreMirror.hand_over` returns: ``get_all``/``list``/``get`` as the store
    would answer them right after the election, without a round trip."""

    docs: dict[str, dict[str, Document]]
    """prefix -> key -> document (``get_all(prefix)``)."""
    names: dict[str, builtins.list[str]]
    """prefix -> sorted names directly under it (``list(prefix)``)."""
    prepared: dict[str, Any]
    """key -> what the mirror's ``prepare`` made of that document's value, for the
    documents handed over as decoded ahead (the very value in ``docs``)."""
    reused: int
    """Documents taken from the warm copy as they were."""
    reread: int
    """Documents (and children lists) read from ZooKeeper at hand-over."""
    seconds: float
    whole: bool
    """Everything was read again (the mirror's session was interrupted)."""

    def get_all(self, prefix: str = "") -> dict[str, Document]:
        return dict(self.docs[prefix])

    def list(self, prefix: str = "") -> builtins.list[str]:
        return builtins.list(self.names[prefix])

    def get(self, key: str) -> Document | None:
        """The document at ``key`` when it lies directly under a mirrored prefix."""
        prefix, _, _ = key.rpartition("/")
        return self.docs[prefix].get(key)

    def covers(self, key: str) -> bool:
        return key.rpartition("/")[0] in self.docs


class StoreMirror:
    """Raw copies of the documents directly under ``prefixes`` of ``store``'s root,
    kept current by watches on ``client`` (a session of its own: see ``hand_over``).

    Decoding ahead: a document not read again in the last round (quiet: not being
    rewritten) is decoded in the background, ``decode_per_round`` at most per round, and
    kept as the `Document` ``get_all`` would build, its bytes dropped: the standby is
    the process that will lead, so the JSON decoding of ~1,000 instance shards leaves
    the new leader's critical path. A document rewritten meanwhile is read (and
    decoded) again like any other; chunked and foreign ones are decoded at hand-over.
    ``prepare(key, value)``, if given, runs then too (on the standby's idle CPU) and its
    result is handed over with the document (`HandOver.prepared`): the consumer's own
    work per document, done ahead (it must not change ``value``; an exception means
    no prepared result).

    ``start()`` begins the paced background reads; ``hand_over(store)`` (after the
    election) stops them and returns a `HandOver`; ``close()`` ends it (watches
    already set fire once more into a dirty set nobody reads)."""

    def __init__(
        self,
        client: Any,
        root: str,
        prefixes: Iterable[str],
        *,
        interval: float = DEFAULT_INTERVAL,
        per_round: int = DEFAULT_PER_ROUND,
        decode_per_round: int = DEFAULT_DECODE_PER_ROUND,
        busy_quiet_rounds: int = BUSY_QUIET_ROUNDS,
        prepare: Callable[[str, Any], Any] | None = None,
    ) -> None:
        self.client = client
        self.docs_path = f"{root.rstrip('/')}/docs"
        self.prefixes = tuple(dict.fromkeys(prefixes))
        self.interval = interval
        self.per_round = per_round
        self.decode_per_round = decode_per_round
        self.busy_quiet_rounds = busy_quiet_rounds
        """Rounds a document must go unchanged before it is decoded ahead while the
        leader writes (``BUSY_QUIET_ROUNDS`` by default: for documents rewritten every
        few seconds all along a launch, as Marathon's instance shards are)."""
        self.prepare = prepare
        self._backlog = False
        """The last round was calm and left documents to decode: the next one comes
        after ``CALM_BACKLOG_PAUSE``, not ``interval``."""
        self._undecodable: set[str] = set()
        """Keys whose bytes are not decoded ahead (chunked, foreign): at hand-over."""
        self._lock = threading.Lock()
        self._raw: dict[str, _Raw] = {}
        """key -> its bytes as last read (a folder: empty data)."""
        self._names: dict[str, set[str]] = {p: set() for p in self.prefixes}
        self._dirty_keys: set[str] = set()
        self._dirty_lists: set[str] = set(self.prefixes)
        self._whole = True
        """Everything must be read again (start, or the session was interrupted)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = threading.Event()
        """Set by ``close``: whoever handed this mirror out may close its session."""
        self.rounds = 0
        self.decoded = 0
        """Documents decoded ahead so far (those rewritten afterwards were decoded in
        vain: the notes compare it with the number of documents)."""
        self.ready = False
        """Every document was read once (a hand-over reuses most of them); a master
        elected before that reads its store as a fresh leader does."""

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> StoreMirror:
        self.client.add_listener(self._on_state)
        self._thread = threading.Thread(target=self._run, name="zk-mirror", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the background reads (waits for the current round). The session
        listener stays until ``close``: a hand-over after this still learns that the
        session was interrupted meanwhile."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def close(self) -> None:
        """``stop`` and forget the session listener (the mirror is done with)."""
        self.stop()
        try:
            self.client.remove_listener(self._on_state)
        except Exception:  # never added, or the client is gone
            pass
        self.closed.set()

    def _on_state(self, state: str) -> None:
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            with self._lock:
                self._whole = True  # events may have been missed

    def _on_data(self, event: WatchedEvent) -> None:
        key = self._key(event.path)
        if key is not None:
            with self._lock:
                self._dirty_keys.add(key)

    def _on_children(self, event: WatchedEvent) -> None:
        key = self._key(event.path)
        if key is not None and key in self._names:
            with self._lock:
                self._dirty_lists.add(key)

    def _key(self, path: str | None) -> str | None:
        if not path:
            return None  # a session event, not a node's
        if path == self.docs_path:
            return ""
        head = self.docs_path + "/"
        return path[len(head) :] if path.startswith(head) else None

    def _path(self, key: str) -> str:
        return f"{self.docs_path}/{key}" if key else self.docs_path

    # -- background --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round(self.per_round)
            except Exception as exc:  # connection trouble: the next round tries again
                log.debug("zk mirror: round failed: %r", exc)
                self._backlog = False
            self.rounds += 1
            self._stop.wait(CALM_BACKLOG_PAUSE if self._backlog else self.interval)

    def _round(self, budget: int | None) -> tuple[int, int]:
        """Read up to ``budget`` dirty lists and keys again (None: all of them, until
        none is dirty). Returns (lists read, keys read)."""
        lists_read = keys_read = 0
        while True:
            with self._lock:
                if self._whole:
                    self._whole = False
                    self._dirty_lists.update(self.prefixes)
                    self._dirty_keys.update(self._raw)
                lists = sorted(self._dirty_lists)
                self._dirty_lists.clear()
            lists_read += len(lists)
            self._read_lists(lists)
            with self._lock:
                left = None if budget is None else max(0, budget - keys_read)
                keys = sorted(self._dirty_keys)[:left]
                self._dirty_keys.difference_update(keys)
            keys_read += len(keys)
            self._read_keys(keys)
            if budget is not None:
                with self._lock:
                    calm = not (keys or lists or self._dirty_keys)
                self._decode_quiet(set(keys), calm)
            with self._lock:
                if not (self._whole or self._dirty_lists or self._dirty_keys):
                    if not self.ready:
                        log.info(
                            "zk mirror of %s: warm (%d documents)", self.docs_path, len(self._raw)
                        )
                    self.ready = True
                    return lists_read, keys_read
            if budget is not None:
                return lists_read, keys_read

    def _read_lists(self, prefixes: builtins.list[str]) -> None:
        answers = [
            (p, self.client.get_children_async(self._path(p), watch=self._on_children))
            for p in prefixes
        ]
        for prefix, answer in answers:
            try:
                names = set(answer.get(timeout=30))
            except NoNodeError:
                names = set()
                # Not there (yet): an exists watch tells when it is created (and a
                # folder made between the two reads is listed again at once).
                if self.client.exists(self._path(prefix), watch=self._on_children):
                    with self._lock:
                        self._dirty_lists.add(prefix)
            except (KazooException, ZkError, TimeoutError) as exc:
                with self._lock:
                    self._dirty_lists.add(prefix)
                raise ZkError(f"listing {self._path(prefix)}: {exc!r}") from exc
            with self._lock:
                old = self._names[prefix]
                self._names[prefix] = names
                for gone in old - names:
                    key = f"{prefix}/{gone}" if prefix else gone
                    self._raw.pop(key, None)
                    self._dirty_keys.discard(key)
                for new in names - old:
                    self._dirty_keys.add(f"{prefix}/{new}" if prefix else new)

    def _read_keys(self, keys: builtins.list[str]) -> None:
        """Read ``keys`` with a data watch each, ``PIPELINE_WINDOW`` in flight."""
        pending: collections.deque[tuple[str, Any]] = collections.deque()
        it = iter(keys)
        failed: Exception | None = None

        def send() -> None:
            key = next(it, None)
            if key is not None:
                pending.append((key, self.client.get_async(self._path(key), watch=self._on_data)))

        for _ in range(PIPELINE_WINDOW):
            send()
        while pending:
            key, answer = pending.popleft()
            try:
                data, stat = answer.get(timeout=30)
            except NoNodeError:
                with self._lock:
                    self._raw.pop(key, None)  # its list's watch says whether it comes back
            except Exception as exc:
                failed = failed or exc
                with self._lock:
                    self._dirty_keys.add(key)
            else:
                with self._lock:
                    prefix = key.rpartition("/")[0]
                    self._undecodable.discard(key)
                    if key.rpartition("/")[2] in self._names.get(prefix, ()):
                        self._raw[key] = _Raw(
                            bytes(data or b""), stat.version, stat.mtime / 1000.0, None, self.rounds
                        )
            send()
        if failed is not None:
            raise ZkError(f"mirror reads failed: {failed!r}") from failed

    # -- hand-over ---------------------------------------------------------------------

    def hand_over(self, store: StateStore) -> HandOver:
        """What ``store.get_all(prefix)`` and ``store.list(prefix)`` would return now,
        for every mirrored prefix (``store`` must be rooted where this mirror is; it
        reads chunked documents). Call it once the new term is written; it stops the
        background reads. `MirrorUnavailable` if the session is not connected (the
        caller reads the store instead)."""
        t0 = time.monotonic()
        if store.docs != self.docs_path:
            raise ValueError(f"store {store.docs} is not the mirrored {self.docs_path}")
        self.stop()
        if self.client.state != KazooState.CONNECTED:
            raise MirrorUnavailable(f"the mirror's session is {self.client.state}")
        with self._lock:
            whole = self._whole
        try:
            self.client.sync(self.docs_path)
            self._drain_callbacks()
            lists, reread = self._round(None)
        except MirrorUnavailable:
            raise
        except Exception as exc:
            raise MirrorUnavailable(f"hand-over reads failed: {exc!r}") from exc
        if self.client.state != KazooState.CONNECTED:
            raise MirrorUnavailable(f"the mirror's session is {self.client.state}")
        with self._lock:
            if self._whole:
                raise MirrorUnavailable("the mirror's session was interrupted at hand-over")
            raw = dict(self._raw)
            names = {p: sorted(n) for p, n in self._names.items()}
        docs: dict[str, dict[str, Document]] = {}
        prepared: dict[str, Any] = {}
        chunked = 0
        for prefix in self.prefixes:
            out: dict[str, Document] = {}
            for name in names[prefix]:
                key = f"{prefix}/{name}" if prefix else name
                r = raw.get(key)
                try:
                    doc = self._document(store, key, r)
                except CorruptData as exc:
                    log.warning("%s: skipped", exc)
                    doc = None
                if r is not None and r.data and doc is not None and doc.chunked:
                    chunked += 1
                if r is not None and r.prepared is not None and doc is r.doc:
                    prepared[key] = r.prepared
                if doc is not None:
                    out[key] = doc
            docs[prefix] = out
        total = sum(len(d) for d in docs.values())
        return HandOver(
            docs=docs,
            names=names,
            prepared=prepared,
            reused=max(0, total - reread - chunked),
            reread=reread + lists + chunked,
            seconds=time.monotonic() - t0,
            whole=whole,
        )

    def _decode_quiet(self, fresh: set[str], calm: bool = True) -> None:
        """Decode documents not read this round: quiet for ``QUIET_ROUNDS`` when the
        store is ``calm`` (this round read nothing), up to ``CALM_DECODE_FACTOR`` times
        ``decode_per_round``; quiet for ``busy_quiet_rounds`` while the leader writes,
        up to ``decode_per_round``."""
        limit = self.decode_per_round * (CALM_DECODE_FACTOR if calm else 1)
        self._backlog = False
        with self._lock:
            todo = []
            quiet = self.rounds - (QUIET_ROUNDS if calm else self.busy_quiet_rounds)
            for key, raw in self._raw.items():
                if (
                    raw.data
                    and raw.read_in <= quiet
                    and key not in fresh
                    and key not in self._undecodable
                ):
                    todo.append((key, raw))
                    if len(todo) >= limit:
                        self._backlog = calm
                        break
        for key, raw in todo:
            if self._stop.is_set():
                # A hand-over waits for this round: what is left is decoded there (or
                # by the new leader's load), not after a whole round of work.
                self._backlog = False
                break
            assert raw.data is not None
            try:
                doc = self._decoded(key, raw.data, raw)
                if doc is None:
                    raise CorruptData(self._path(key), "chunked: read whole at hand-over")
            except Exception:  # foreign data: decoded (and reported) at hand-over
                with self._lock:
                    if self._raw.get(key) is raw:
                        self._undecodable.add(key)
                continue
            prepared = None
            if self.prepare is not None:
                try:
                    prepared = self.prepare(key, doc.value)
                except Exception:
                    log.debug("zk mirror: preparing %s failed", key, exc_info=True)
            with self._lock:
                if self._raw.get(key) is raw:  # not read again meanwhile
                    self._raw[key] = _Raw(None, raw.version, raw.mtime, doc, raw.read_in, prepared)
            self.decoded += 1

    def _document(self, store: StateStore, key: str, raw: _Raw | None) -> Document | None:
        """As ``StateStore._pipelined`` decodes one read (a chunked one is read whole)."""
        if raw is None:
            return store.get(key)  # listed but not read (cannot happen once drained)
        if raw.doc is not None:
            return raw.doc  # decoded ahead, unchanged since
        if not raw.data:
            return None  # a folder, not a document
        doc = self._decoded(key, raw.data, raw)
        return doc if doc is not None else store.get(key)

    def _decoded(self, key: str, data: bytes, raw: _Raw) -> Document | None:
        """The document in ``data`` as ``StateStore.get`` decodes it; None for a chunked
        one (read whole); CorruptData for foreign data."""
        path = self._path(key)
        header, body = _split(path, data)
        if _chunk_names(header):
            return None
        return Document(
            key=key,
            value=decode_json(path, body),
            version=raw.version,
            size=len(body),
            chunked=False,
            mtime=raw.mtime,
        )

    def _drain_callbacks(self, timeout: float = 30.0) -> None:
        """Wait until kazoo's callback thread ran every watch callback queued so far."""
        done = threading.Event()
        self.client.handler.dispatch_callback(Callback("watch", done.set, ()))
        if not done.wait(timeout):
            raise MirrorUnavailable("kazoo's callback thread did not answer")
