"""FakeNetwork: an in-memory network of transports for deterministic tests.

The fake moves the same encoded frames as the real transport and runs them through the
same decoding, counting, error-reply and heartbeat code (``_TransportBase``); only the
sockets are replaced by one FIFO queue. Heartbeats are real frames too, so ``cut``,
``isolate`` and ``drop`` make peers go down exactly as a real partition would.

Two ways to run it:

* ``FakeNetwork()``: a background thread delivers frames and fires heartbeats on the
  real clock (drop-in for ``ZmqTransport`` in runtime tests).
* ``FakeNetwork(manual=True)``: nothing moves until the test calls ``flush()`` (deliver
  everything queued) or ``advance(seconds)`` (move the fake clock, firing heartbeats and
  timeouts on the way). Fully deterministic, including ``drop(probability=...)``, which
  draws from ``random.Random(seed)``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from typing import Any

from transport._base import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_REAP_AFTER,
    OnEnvelope,
    OnPeerDown,
    _TransportBase,
)
from transport._codec import MessageRegistry
from transport._errors import TransportError

# (src, dst, frame, route): route None = arrives on dst's listener; otherwise the frame
# answers dst's own connection to ``route`` (a heartbeat pong).
_Frame = tuple[str, str, bytes, str | None]


class _DropRule:
    __slots__ = ("count", "probability")

    def __init__(self, probability: float | None, count: int | None) -> None:
        self.probability = probability
        self.count = count


class FakeTransport(_TransportBase):
    """Same interface as ZmqTransport; create it with ``FakeNetwork.transport``."""

    def __init__(self, net: FakeNetwork, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._net = net
        self._address = address
        self._running = False
        self._next_tick = 0.0
        self._init_heartbeats()

    def start(self) -> FakeTransport:
        self._net._attach(self)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._net._detach(self)

    def __enter__(self) -> FakeTransport:
        return self.start() if not self._running else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _enqueue(self, peer: str, data: bytes, lazy: bool = False, ask: bool = False) -> bool:
        if self._running:
            self._net._post((self._address, peer, data, None))
        return False

    def _emit(self, peer: str, frames: list[bytes]) -> None:
        for f in frames:
            self._net._post((self._address, peer, f, None))

    def _send_pong(self, reply_path: Any) -> None:
        self._net._post((self._address, reply_path, self._pong, self._address))


class FakeNetwork:
    """In-memory network. See the module docstring."""

    def __init__(self, *, seed: int = 0, manual: bool = False) -> None:
        self.manual = manual
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._queue: deque[_Frame] = deque()
        self._transports: dict[str, FakeTransport] = {}
        self._cuts: set[frozenset[str]] = set()
        self._isolated: set[str] = set()
        self._drops: dict[tuple[str, str], _DropRule] = {}
        self._manual_now = 0.0
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._counters: Counter[str] = Counter()
        self._seq = 0

    # -- building -------------------------------------------------------------------

    def transport(
        self,
        address: str | None = None,
        *,
        on_envelope: OnEnvelope,
        on_peer_down: OnPeerDown | None = None,
        registry: MessageRegistry | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
        reap_after: float = DEFAULT_REAP_AFTER,
    ) -> FakeTransport:
        """A new (not yet started) transport at ``address`` (default ``fake://nodeN``)."""
        if address is None:
            with self._cond:
                self._seq += 1
                address = f"fake://node{self._seq}"
        return FakeTransport(
            self,
            address,
            registry=registry,
            max_message_size=max_message_size,
            on_envelope=on_envelope,
            on_peer_down=on_peer_down,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            reap_after=reap_after,
        )

    @property
    def counters(self) -> dict[str, int]:
        """Frames the network itself lost: ``dropped``, ``cut``, ``undeliverable``."""
        return dict(self._counters)

    def now(self) -> float:
        return self._manual_now if self.manual else time.monotonic()

    # -- faults ---------------------------------------------------------------------

    def drop(
        self, src: str, dst: str, probability: float | None = None, count: int | None = None
    ) -> None:
        """Drop frames from ``src`` to ``dst``: the next ``count`` of them, or each with
        ``probability`` (seeded). Heartbeats are frames too."""
        if (probability is None) == (count is None):
            raise ValueError("pass exactly one of probability= and count=")
        with self._cond:
            self._drops[(src, dst)] = _DropRule(probability, count)

    def cut(self, a: str, b: str) -> None:
        """Partition ``a`` and ``b`` from each other (both directions, in-flight frames too)."""
        with self._cond:
            self._cuts.add(frozenset((a, b)))

    def isolate(self, a: str) -> None:
        """Partition ``a`` from every other node."""
        with self._cond:
            self._isolated.add(a)

    def heal(self) -> None:
        """Remove every cut, isolation and drop rule."""
        with self._cond:
            self._cuts.clear()
            self._isolated.clear()
            self._drops.clear()

    # -- running --------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> None:
        """Deliver every queued frame (manual), or wait until the queue is idle (auto)."""
        if self.manual:
            self._deliver_all()
            return
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TransportError("fake network did not go idle")
                self._cond.wait(min(left, 0.05))

    def advance(self, seconds: float) -> None:
        """Manual mode: move the clock, firing heartbeats and timeouts in order."""
        if not self.manual:
            raise TransportError("advance() needs FakeNetwork(manual=True)")
        target = self._manual_now + seconds
        self._deliver_all()
        while True:
            due = min((t._next_tick for t in self._running()), default=None)
            if due is None or due > target:
                break
            self._manual_now = max(self._manual_now, due)
            self._tick_due()
            self._deliver_all()
        self._manual_now = target
        self._deliver_all()

    def close(self) -> None:
        """Stop the delivery thread (auto mode) and every transport."""
        for t in self._running():
            t.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    # -- internals ------------------------------------------------------------------

    def _running(self) -> list[FakeTransport]:
        with self._cond:
            return list(self._transports.values())

    def _attach(self, t: FakeTransport) -> None:
        with self._cond:
            other = self._transports.get(t.address)
            if other is not None and other is not t:
                raise TransportError(f"address {t.address!r} is already in use")
            t._running = True
            t._now = self.now()
            t._next_tick = t._now + t.heartbeat_interval
            self._transports[t.address] = t
            if not self.manual and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fake-net", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _detach(self, t: FakeTransport) -> None:
        with self._cond:
            t._running = False
            if self._transports.get(t.address) is t:
                del self._transports[t.address]

    def _post(self, frame: _Frame) -> None:
        with self._cond:
            self._queue.append(frame)
            if len(self._queue) == 1:
                self._cond.notify_all()

    def _lost(self, src: str, dst: str) -> str | None:
        """Why a frame from src to dst is lost now, or None. Called with the lock held."""
        rule = self._drops.get((src, dst))
        if rule is not None:
            if rule.count is not None:
                if rule.count > 0:
                    rule.count -= 1
                    return "dropped"
            elif rule.probability is not None and self._rng.random() < rule.probability:
                return "dropped"
        if frozenset((src, dst)) in self._cuts or src in self._isolated or dst in self._isolated:
            return "cut"
        if dst not in self._transports:
            return "undeliverable"
        return None

    def _deliver_one(self) -> bool:
        with self._cond:
            if not self._queue:
                return False
            src, dst, frame, route = self._queue.popleft()
            self._busy = True
            sender = self._transports.get(src)
            if route is None and sender is not None:
                sender._now = self.now()
                sender._track(dst)
            why = self._lost(src, dst)
            if why is not None:
                self._counters[why] += 1
                receiver = None
            else:
                receiver = self._transports[dst]
        try:
            if receiver is not None:
                receiver._now = self.now()
                receiver._handle_frame(frame, route, src if route is None else None)
        finally:
            with self._cond:
                self._busy = False
                if not self._queue:
                    self._cond.notify_all()
        return True

    def _deliver_all(self) -> None:
        while self._deliver_one():
            pass

    def _tick_due(self) -> None:
        now = self.now()
        for t in self._running():
            if t._running and t._next_tick <= now:
                t._now = now
                t._next_tick = now + t.heartbeat_interval
                t._tick()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                if not self._queue:
                    due = min((t._next_tick for t in self._transports.values()), default=None)
                    wait = 0.5 if due is None else max(0.0, due - time.monotonic())
                    self._cond.wait(min(wait, 0.5))
            self._deliver_all()
            self._tick_due()
