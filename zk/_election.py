"""Leader election for masters, with fencing on connection loss.

Each contender creates an ephemeral sequential znode under the election path holding
its JSON-encoded ``LeaderInfo``. The leader is the member with the lowest sequence
number whose data decodes; everyone (contenders and observers) applies the same rule,
so they agree. A contender watches only its predecessor: when that node vanishes, one
notification later it re-reads the members and, if first, leads. No polling.

Fencing (the ordering contract):

* ``is_leader`` is cleared synchronously in the session listener on SUSPENDED or LOST,
  BEFORE ``on_revoked`` runs and before ZooKeeper could let anyone else win (the client
  notices a dead connection after 2/3 of the session timeout; the server expires the
  session only after all of it).
* After SUSPENDED it leads again only by winning again: on reconnect it re-reads the
  members and calls ``on_elected`` with a new term if its node is still first.
* After LOST its node is gone: it rejoins as a new contender at the back of the line.
* The lease (``zk._lease``): the leader acts only while a recently answered heartbeat
  (a ``sync``: it goes through the quorum's leader, while a read may be answered by a
  follower cut off from it) proves its session alive (``is_leader`` goes False when the
  lease runs out, even before the client notices the dead connection: a cut-off
  follower keeps answering pings for a while), and it abdicates (a fresh node at the
  back of the line) when suspended for a whole session timeout, so a partitioned leader
  stops before the servers can expire its session and elect another.
* Fencing of writes: ``fence()`` gives the ``zk.Fence`` of the current term; a
  ``StateStore`` built with it checks the term znode's version in every write
  transaction, so a deposed leader's late write is refused (``zk.Fenced``).
* ``on_elected`` and ``on_revoked`` alternate strictly and run on the election's own
  thread, never concurrently; they should start/stop work and return quickly.

Terms: every win, by any contender, takes the next number of one cluster-wide counter,
the version of the ``<path>-term`` znode (each ``set`` bumps it atomically, so no
read-modify-write can race). Terms only grow across leaders and failovers, so two
leaders' logs never show the same term; a lost reply may leave a gap, never a repeat.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from types import TracebackType
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    KazooException,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.protocol.states import KazooState, WatchedEvent
from kazoo.recipe.watchers import ChildrenWatch

from zk._client import leader_acl
from zk._documents import decode_json, encode_json
from zk._errors import CorruptData, ZkError
from zk._lease import Acting, LeaderLease
from zk._members import decide, find_token, member_prefix, order_members, parse_member
from zk._retry import DEFAULT_RETRY, RetryPolicy
from zk._store import Fence

log = logging.getLogger(__name__)

DEFAULT_ELECTION_PATH = "/election"


@dataclass(frozen=True)
class LeaderInfo:
    """What a contender publishes about itself (Mesos' MasterInfo, as JSON)."""

    address: str
    """Actor address of the master's node, e.g. ``tcp://127.0.0.1:5050``."""
    http_url: str = ""
    """Base URL of the master's HTTP API (gateway), e.g. ``http://127.0.0.1:5050``."""
    hostname: str = field(default_factory=socket.gethostname)
    version: str = ""
    """pydcos version of the contender."""
    started_at: float = field(default_factory=time.time)
    """Wall-clock start time of the contender process (seconds since the epoch)."""
    pid: int = field(default_factory=os.getpid)
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else worth publishing; unknown JSON keys land here when decoding."""
    node: str = field(default="", compare=False)
    """The member znode this was read from (filled in on read, not encoded)."""

    def encode(self) -> bytes:
        d = asdict(self)
        d.pop("node")
        return encode_json(d)

    @classmethod
    def decode(cls, path: str, data: bytes) -> LeaderInfo:
        """Decode a member znode; CorruptData (naming ``path``) if it is not ours."""
        raw = decode_json(path, data)
        if not isinstance(raw, dict):
            raise CorruptData(path, f"expected a JSON object, got {type(raw).__name__}", data)
        if not isinstance(raw.get("address"), str):
            raise CorruptData(path, "no string field 'address'", data)
        known = {f.name for f in fields(cls)} - {"node", "extra"}
        kwargs: dict[str, Any] = {k: raw[k] for k in known if k in raw}
        extra_raw = raw.get("extra") or {}
        if not isinstance(extra_raw, dict):
            raise CorruptData(path, "field 'extra' is not an object", data)
        extra = dict(extra_raw)
        extra.update({k: v for k, v in raw.items() if k not in known and k != "extra"})
        try:
            info = cls(**kwargs, extra=extra, node=path.rsplit("/", 1)[-1])
            float(info.started_at)
            int(info.pid)
        except (TypeError, ValueError) as exc:
            raise CorruptData(path, f"bad field ({exc})", data) from None
        return info


class _Members:
    """Reads the valid, ordered members of an election path, caching decoded data.

    Member data never changes after create, so each znode is read once. Foreign names
    and undecodable data are logged once with their path and left out.
    """

    def __init__(self, client: KazooClient, path: str, retry: RetryPolicy) -> None:
        self._client = client
        self._path = path
        self._retry = retry
        self._cache: dict[str, LeaderInfo | None] = {}
        self._lock = threading.Lock()

    def read(self, children: list[str] | None = None) -> list[LeaderInfo]:
        if children is None:
            try:
                children = self._retry(self._client.get_children, self._path)
            except NoNodeError:
                return []
        with self._lock:
            for name in children:
                if parse_member(name) is None and name not in self._cache:
                    log.warning(
                        "foreign child %s/%s under the election path: skipped", self._path, name
                    )
                    self._cache[name] = None
            out: list[LeaderInfo] = []
            for name in order_members(children):
                if name not in self._cache:
                    info = self._fetch(name)
                    if info is False:
                        continue  # vanished between list and get
                    self._cache[name] = info if isinstance(info, LeaderInfo) else None
                cached = self._cache[name]
                if cached is not None:
                    out.append(cached)
            for gone in set(self._cache) - set(children):
                del self._cache[gone]
            return out

    def _fetch(self, name: str) -> LeaderInfo | bool | None:
        path = f"{self._path}/{name}"
        try:
            data, _ = self._retry(self._client.get, path)
        except NoNodeError:
            return False
        try:
            return LeaderInfo.decode(path, data)
        except CorruptData as exc:
            log.warning("%s: skipped", exc)
            return None


def term_path(path: str = DEFAULT_ELECTION_PATH) -> str:
    """The term counter of the election at ``path``: a sibling, not a child, so
    members are never confused with it (``/election`` -> ``/election-term``)."""
    return (path.rstrip("/") or "/election") + "-term"


def read_term(
    client: KazooClient, path: str = DEFAULT_ELECTION_PATH, retry: RetryPolicy = DEFAULT_RETRY
) -> int:
    """The latest term taken at ``path`` (0 before the first election)."""
    stat = retry(client.exists, term_path(path))
    return int(stat.version) if stat is not None else 0


def read_leader(
    client: KazooClient, path: str = DEFAULT_ELECTION_PATH, retry: RetryPolicy = DEFAULT_RETRY
) -> LeaderInfo | None:
    """The current leader's published info, or None if there is none."""
    members = _Members(client, path, retry).read()
    return members[0] if members else None


def read_contenders(
    client: KazooClient, path: str = DEFAULT_ELECTION_PATH, retry: RetryPolicy = DEFAULT_RETRY
) -> list[LeaderInfo]:
    """Every valid contender in line order (the leader first)."""
    return _Members(client, path, retry).read()


class LeaderWatch:
    """Calls ``callback(leader_or_None)`` whenever the published leader changes.

    Driven by one children watch on the election path: when the leader's ephemeral node
    vanishes, the next member is reported in the same notification. On session loss it
    reports None (leader unknown) and re-reads on reconnect. Callbacks run on kazoo's
    event thread; keep them short.
    """

    def __init__(
        self,
        client: KazooClient,
        callback: Callable[[LeaderInfo | None], Any],
        path: str = DEFAULT_ELECTION_PATH,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._client = client
        self._callback = callback
        self._path = path
        self._members = _Members(client, path, retry)
        self._current: LeaderInfo | None = None
        self._known = False
        self._stopped = False
        self._lock = threading.Lock()
        self._generation = 0
        self._gen_lock = threading.Lock()
        retry(client.ensure_path, path, leader_acl(client))
        client.add_listener(self._on_state)
        self._watch = ChildrenWatch(client, path, self._on_children)

    @property
    def leader(self) -> LeaderInfo | None:
        return self._current

    def stop(self) -> None:
        self._stopped = True
        self._client.remove_listener(self._on_state)

    def _on_children(self, children: list[str]) -> bool | None:
        if self._stopped:
            return False
        try:
            members = self._members.read(children)
        except (ZkError, KazooException) as exc:
            log.warning("reading election members at %s failed: %r", self._path, exc)
            return None
        self._publish(members[0] if members else None)
        return None

    def _on_state(self, state: KazooState) -> None:
        # kazoo's ChildrenWatch re-reads the children after a new session but calls us
        # only if they CHANGED: after an expiry with the same leader it stays silent, and
        # the None published on LOST would stay forever (an agent cut off by a partition
        # never learnt the leader again). So re-read the line ourselves on reconnect;
        # the generation makes a late LOST task never overwrite a newer answer.
        with self._gen_lock:
            self._generation += 1
            gen = self._generation
        if state == KazooState.LOST:
            self._client.handler.spawn(self._publish, None, gen)
        elif state == KazooState.CONNECTED:
            self._client.handler.spawn(self._refresh, gen)

    def _refresh(self, gen: int) -> None:
        try:
            members = self._members.read()
        except (ZkError, KazooException) as exc:
            log.warning("re-reading election members at %s failed: %r", self._path, exc)
            return
        self._publish(members[0] if members else None, gen)

    def _publish(self, leader: LeaderInfo | None, gen: int | None = None) -> None:
        with self._lock:
            if self._stopped or (gen is not None and gen != self._generation):
                return
            node = leader.node if leader is not None else None
            current = self._current.node if self._current is not None else None
            if self._known and node == current:
                return
            self._current = leader
            self._known = True
            try:
                self._callback(leader)
            except Exception:
                log.exception("leader watch callback failed")


_STOP = "stop"
_CHECK = "check"
_SUSPENDED = "suspended"
_LOST = "lost"
_ABDICATE = "abdicate"
_LAPSED = "lapsed"
_GIVE_UP = "give up"


class Election:
    """One contender for leadership. See the module docstring for the fencing contract.

    ``on_elected(term)`` runs when this contender starts leading (term is the
    cluster-wide leadership number, see the module docstring); ``on_revoked(reason)``
    when it stops, with reason one
    of ``suspended``, ``session lost``, ``abdicated``, ``node deleted``, ``stopped``,
    ``error``.
    """

    def __init__(
        self,
        client: KazooClient,
        info: LeaderInfo,
        *,
        path: str = DEFAULT_ELECTION_PATH,
        on_elected: Callable[[int], Any] | None = None,
        on_revoked: Callable[[str], Any] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        session_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.info = info
        self.path = path.rstrip("/") or "/"
        self._on_elected = on_elected
        self._on_revoked = on_revoked
        self._retry = retry
        self._members = _Members(client, self.path, retry)
        self._events: queue.Queue[tuple[str, threading.Event | None, bool]] = queue.Queue()
        self._leading = threading.Event()  # cleared at once on SUSPENDED/LOST
        self._active = False  # on_elected ran and on_revoked has not (worker thread only)
        self._node: str | None = None  # our member name
        self._token = uuid.uuid4().hex
        self._term = 0
        self._stale_node: str | None = None
        self.term_path = term_path(self.path)
        """The znode whose version counts the leaderships of this election."""
        self._thread: threading.Thread | None = None
        self._started = False
        # Set by the session listener; _elect checks it under the lock so a leadership
        # can never begin after SUSPENDED/LOST was seen.
        self._fence_lock = threading.Lock()
        self._disconnected = client.state != KazooState.CONNECTED
        if session_timeout is None:
            session_timeout = float(getattr(client, "_session_timeout", 10_000)) / 1000.0
        self._clock = clock
        self._lease = LeaderLease(session_timeout)
        self._lease_lock = threading.Lock()
        self._lapsed = False  # the lease ran out while leading (worker re-checks on renew)
        self._gave_up = False  # abdicated for the session's sake (until a new session)
        self._beat_stop = threading.Event()
        self._acting_term: int | None = None  # the term last seen acting (heartbeat)

    # -- public API --------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True while leader-only work may run: elected, connected, and the lease on
        the session still held. Leader-only loops (and launches, kills, writes) check it."""
        return self._leading.is_set() and self.acting() is Acting.ACT

    def acting(self) -> Acting:
        """The lease's verdict now (see ``zk._lease``)."""
        with self._lease_lock:
            return self._lease.decide(self._clock())

    def fence(self) -> Fence:
        """The write fence of the current term: a ``StateStore(..., fence=...)`` with it
        refuses writes once this term is over (checked by ZooKeeper in each write's
        transaction, and locally by ``is_leader`` first)."""
        term = self._term

        def active() -> bool:
            return self._term == term and self.is_leader

        return Fence(self.term_path, term, active=active)

    @property
    def term(self) -> int:
        """The term of this contender's current (or last) leadership; 0 before any."""
        return self._term

    @property
    def node(self) -> str | None:
        """Our member znode name while we are in line."""
        return self._node

    def start(self) -> Election:
        """Join the election (non-blocking); ``wait_leader`` waits for a win."""
        if self._started:
            return self
        self._started = True
        self._retry(self.client.ensure_path, self.path, leader_acl(self.client))
        self._thread = threading.Thread(
            target=self._run, name=f"election-{self.info.address}", daemon=True
        )
        self._thread.start()
        self.client.add_listener(self._on_state)
        self._beat_stop.clear()
        threading.Thread(
            target=self._heartbeat, name=f"election-lease-{self.info.address}", daemon=True
        ).start()
        self._put(_CHECK)
        return self

    def wait_leader(self, timeout: float) -> bool:
        """Wait until this contender leads; False on timeout."""
        return self._leading.wait(timeout)

    def leader(self) -> LeaderInfo | None:
        """The published leader (maybe another contender)."""
        return read_leader(self.client, self.path, self._retry)

    def abdicate(self, rejoin: bool = True, timeout: float = 10.0) -> None:
        """Hand leadership over on purpose: stop leader work, then delete our node.

        The next contender is notified by the deletion. With ``rejoin`` this contender
        queues up again at the back of the line (alone, it wins again at once). A no-op
        when not leading.
        """
        self._put(_ABDICATE, wait=timeout, rejoin=rejoin)

    def recheck(self, timeout: float = 10.0) -> bool:
        """Sync with the server, re-read the line and act on it (lead or wait), then
        return whether this contender leads. Once it returns, the contender has acted on
        everything ZooKeeper knew when it was called: a test shows that a contender did
        NOT become leader this way, not by waiting a while."""
        self._retry(self.client.sync, self.path)
        self._put(_CHECK, wait=timeout)
        return self.is_leader

    def stop(self, timeout: float = 10.0) -> None:
        """Leave the election: revoke if leading, delete our node, end the thread."""
        if not self._started:
            return
        self.client.remove_listener(self._on_state)
        self._beat_stop.set()
        self._put(_STOP, wait=timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._started = False

    def __enter__(self) -> Election:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- event plumbing ----------------------------------------------------------------

    def _put(self, kind: str, wait: float | None = None, rejoin: bool = True) -> None:
        if threading.current_thread() is self._thread:
            self._handle(kind, rejoin)  # called from on_elected/on_revoked: do it inline
            if kind == _STOP:
                self._events.put((_STOP, None, False))  # and let the loop end
            return
        done = threading.Event() if wait is not None else None
        self._events.put((kind, done, rejoin))
        if done is not None and not done.wait(wait):
            raise ZkError(f"election at {self.path}: {kind} not done within {wait} s")

    def _on_state(self, state: KazooState) -> None:
        # Runs on kazoo's connection thread: no blocking, just fence and enqueue.
        with self._lease_lock:
            if state == KazooState.SUSPENDED:
                self._lease.suspended(self._clock())
            elif state == KazooState.LOST:
                self._lease.session_lost()
        with self._fence_lock:
            self._disconnected = state != KazooState.CONNECTED
            if self._disconnected:
                self._leading.clear()
        if state == KazooState.SUSPENDED:
            self._events.put((_SUSPENDED, None, True))
        elif state == KazooState.LOST:
            self._events.put((_LOST, None, True))
        else:
            self._events.put((_CHECK, None, True))

    def _heartbeat(self) -> None:
        """Renew the lease with answered syncs while leading; judge it (own thread).

        Only the leader beats fast (a sixth of the session timeout). kazoo checks for an
        unanswered ping only when no request was sent for a third of the session
        timeout, so a client that sends requests more often never notices a dead
        connection by itself: standbys must not beat (they must notice the partition
        and move to a live server), and a lapsed leader beats once per session timeout
        (slow enough for kazoo's check, often enough to lead again after a stall)."""
        fast = self._lease.heartbeat_interval
        slow = self._lease.session_timeout
        last = -slow
        looked = self._clock()
        while not self._beat_stop.wait(fast):
            now = self._clock()
            if not self._leading.is_set() and not self._lapsed and now - looked >= slow:
                # A contender not leading re-reads the line once per session timeout (as
                # slow as a lapsed leader's beat): an event lost to a race or a watch that
                # never fires must not leave its node first in line with nobody acting.
                looked = now
                self._events.put((_CHECK, None, True))
            if self._leading.is_set() or (self._lapsed and now - last >= slow):
                last = now
                # A sync goes through the quorum's leader (a read may be answered by a
                # follower cut off from it, which proves nothing), and never blocks
                # here: the verdict must be judged on time.
                try:
                    result = self.client.sync_async(self.path)
                    result.rawlink(lambda r, sent=now: self._on_beat(r, sent))
                except Exception:  # no connection: the lease simply is not renewed
                    pass
            self._judge()

    def _on_beat(self, result: Any, sent: float) -> None:
        if result.successful():
            with self._lease_lock:
                self._lease.renew(sent)

    def _stopped_acting_at(self) -> float:
        """When acting stopped (monotonic): the lease's end or the suspension,
        whichever came first, else now."""
        now = self._clock()
        with self._lease_lock:
            marks = [self._lease.expires_at(), self._lease.suspended_at]
        past = [m for m in marks if m is not None and m <= now]
        return min(past) if past else now

    def _judge(self) -> None:
        verdict = self.acting()
        leading = self._leading.is_set()
        if leading and verdict is Acting.ACT:
            self._acting_term = self._term
        elif self._acting_term is not None:
            # Logged with the wall time acting stopped: every launch, kill and write
            # checks ``is_leader``, which has been False since then.
            at = self._stopped_acting_at()
            wall = time.time() - (self._clock() - at)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
            log.warning(
                "election %s: %s stopped acting at %s,%03d (term %d, %s)",
                self.path,
                self.info.address,
                stamp,
                int(wall % 1 * 1000),
                self._acting_term,
                verdict.value if leading else "suspended or revoked",
            )
            self._acting_term = None
        if verdict is Acting.ACT:
            if self._lapsed:
                self._lapsed = False
                self._events.put((_CHECK, None, True))  # lead again if still first
            return
        if not self._leading.is_set() and verdict is Acting.STOP:
            return
        if verdict is Acting.ABDICATE and self._gave_up:
            return
        with self._fence_lock:
            self._leading.clear()
        if verdict is Acting.ABDICATE:
            self._gave_up = True
            self._events.put((_GIVE_UP, None, True))
        elif not self._lapsed:
            self._lapsed = True
            self._events.put((_LAPSED, None, True))

    def _on_watch(self, event: WatchedEvent) -> None:
        self._events.put((_CHECK, None, True))

    def _run(self) -> None:
        while True:
            kind, done, rejoin = self._events.get()
            try:
                self._handle(kind, rejoin)
            except Exception:
                log.exception("election %s: handling %s failed", self.path, kind)
                self._revoke("error")
                self._recheck_later()
            finally:
                if done is not None:
                    done.set()
            if kind == _STOP:
                return

    def _handle(self, kind: str, rejoin: bool) -> None:
        if kind == _CHECK:
            self._check()
        elif kind == _SUSPENDED:
            self._revoke("suspended")
        elif kind == _LAPSED:
            self._revoke("lease expired")
        elif kind == _GIVE_UP:
            # Suspended for a whole session timeout: the servers may have expired the
            # session and elected another master. Never resume the old place in line:
            # a new token makes the next check queue a fresh node (the old one is
            # deleted if it is still there).
            self._revoke("session lost")
            self._stale_node, self._node = self._node, None
            self._token = uuid.uuid4().hex
            # Queue up again now: the heartbeat may judge after the reconnection's own
            # check already ran, and no other event would come (connected: the check
            # deletes the old node and joins at the back; not: it waits for CONNECTED).
            self._events.put((_CHECK, None, True))
        elif kind == _LOST:
            self._revoke("session lost")
            self._node = None
            self._gave_up = False
        elif kind == _ABDICATE:
            if not self._active:
                return  # only a leader abdicates
            self._revoke("abdicated")  # leader work stops BEFORE the successor can win
            self._delete_own()
            if rejoin:
                self._check()
        elif kind == _STOP:
            self._revoke("stopped")
            self._delete_own()
            self._started = False

    # -- the election proper (worker thread only) --------------------------------------

    def _revoke(self, reason: str) -> None:
        self._leading.clear()
        if not self._active:
            return
        self._active = False
        log.info("election %s: %s stops leading (%s)", self.path, self.info.address, reason)
        if self._on_revoked is not None:
            try:
                self._on_revoked(reason)
            except Exception:
                log.exception("on_revoked callback failed")

    def _next_term(self) -> int:
        """Take the next cluster-wide term: one atomic ``set`` bumps the counter
        znode's version (its data names the latest leader, for people reading it)."""
        self._retry(self.client.ensure_path, self.term_path, leader_acl(self.client))
        stat = self._retry(self.client.set, self.term_path, self.info.address.encode())
        return int(stat.version)

    def _elect(self, term: int) -> None:
        with self._fence_lock:
            if self._disconnected:
                return  # the CONNECTED event will make us check again
            self._term = term
            self._active = True
            self._leading.set()
        log.info("election %s: %s leads (term %d)", self.path, self.info.address, self._term)
        if self._on_elected is not None:
            try:
                self._on_elected(self._term)
            except Exception:
                # A leader that could not start its work must not keep the place: the
                # others would wait forever behind a leader doing nothing. Step down,
                # and queue up again at the back after a pause (alone, it retries).
                log.exception("on_elected callback failed: abdicating")
                self._revoke("error")
                self._delete_own()
                self._recheck_later(1.0)

    def _delete_own(self) -> None:
        node, self._node = self._node, None
        if node is None or not self.client.connected:
            return
        with contextlib.suppress(NoNodeError, ConnectionLoss, SessionExpiredError, ZkError):
            self._retry(self.client.delete, f"{self.path}/{node}")

    def _create_own(self) -> str:
        """Create our member node, or adopt the one a lost reply already created.

        The token is fixed per Election, so a create retried across a connection loss
        (or a session change) finds its earlier success instead of queueing twice.
        """
        prefix = f"{self.path}/{member_prefix(self._token)}"
        data = self.info.encode()
        for _ in range(20):
            try:
                children = self._retry(self.client.get_children, self.path)
            except NoNodeError:
                self._retry(self.client.ensure_path, self.path, leader_acl(self.client))
                continue
            found = find_token(children, self._token)
            if found is not None:
                stat = self._retry(self.client.exists, f"{self.path}/{found}")
                if stat is not None and stat.ephemeralOwner == self.client.client_id[0]:
                    return found
                if stat is not None:  # left by our expired session: not ours to keep
                    with contextlib.suppress(NoNodeError):
                        self._retry(self.client.delete, f"{self.path}/{found}")
                continue
            try:
                created = self.client.create(
                    prefix, data, acl=leader_acl(self.client), ephemeral=True, sequence=True
                )
            except (ConnectionLoss, NoNodeError):
                continue
            return str(created).rsplit("/", 1)[-1]
        raise ZkError(f"could not create a member node under {self.path}")

    def _check(self) -> None:
        if not self._started or self.client.state != KazooState.CONNECTED:
            return  # the CONNECTED listener event will bring us back
        sent = self._clock()
        try:
            if self._stale_node is not None:
                with contextlib.suppress(NoNodeError):
                    self._retry(self.client.delete, f"{self.path}/{self._stale_node}")
                self._stale_node = None
            if self._node is None:
                self._node = self._create_own()
            self.client.sync(self.path)  # through the quorum's leader: renews the lease
            with self._lease_lock:
                self._lease.renew(sent)
            members = self._members.read()
            self._gave_up = False
            d = decide([m.node for m in members], self._node)
            if not d.present:
                log.warning("election %s: our node %s vanished", self.path, self._node)
                self._revoke("node deleted")
                self._node = None
                self._events.put((_CHECK, None, True))
                return
            if d.leader:
                # Watch our own node too: if someone deletes it we must step down.
                if self.client.exists(f"{self.path}/{self._node}", watch=self._on_watch) is None:
                    self._events.put((_CHECK, None, True))
                    return
                if not self._active:
                    self._elect(self._next_term())
                return
            self._revoke("node deleted")  # not first any more (only after manual edits)
            pred = f"{self.path}/{d.predecessor}"
            if self.client.exists(pred, watch=self._on_watch) is None:
                self._events.put((_CHECK, None, True))  # it went before the watch was set
        except (SessionExpiredError, ConnectionClosedError):
            # kazoo also says SessionExpired for a request sent while it reconnects; the
            # state events may all have been handled before this check: check again
            # (a live session's node is found again by its token).
            self._revoke("session lost")
            self._node = None
            self._recheck_later()
        except (ConnectionLoss, ZkError) as exc:
            log.warning("election %s: ZooKeeper unreachable (%r); waiting", self.path, exc)
            self._revoke("suspended")
            self._recheck_later()

    def _recheck_later(self, delay: float = 0.5) -> None:
        t = threading.Timer(delay, self._events.put, args=((_CHECK, None, True),))
        t.daemon = True
        t.start()
