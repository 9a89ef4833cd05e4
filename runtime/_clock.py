"""Injectable clocks: real time for production, manual time for tests.

Supervisors read `now()` for restart intensity and actors schedule their timers
through `call_at()`, so a test can advance time instead of sleeping.

Two readings, never mixed: `now()` is monotonic (timeouts, intervals, deadlines: it
never jumps), `wall()` is seconds since the epoch (every timestamp a user sees:
`lastSuccess`, `stagedAt`, event times). Rendering `now()` as a date gives 1970.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Cancellable", "Clock", "ManualClock", "SystemClock", "real_now"]

log = logging.getLogger("runtime.clock")

real_now = time.monotonic
"""Real monotonic seconds, for how long a THREAD may block: ask timeouts, shutdown
deadlines, the testing kit's polls. These bound real waiting on locks and eventfds, so
they cannot follow an injected clock (a ManualClock does not move while a thread
waits). Decisions read `Clock.now()` / `Clock.wall()` instead. (An alias, not a
wrapper: asks read it on their hot path.)"""


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the runtime needs from time: a monotonic reading, the wall clock and a
    scheduler."""

    def now(self) -> float:
        """Monotonic seconds: for timeouts and intervals only, never shown as a date."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (UTC): for timestamps rendered to users."""
        ...

    def call_at(self, when: float, fn: Callable[[], None]) -> Cancellable: ...

    def call_later(self, delay: float, fn: Callable[[], None]) -> Cancellable: ...


class _Entry:
    __slots__ = ("cancelled", "fn", "seq", "when")

    def __init__(self, when: float, seq: int, fn: Callable[[], None]) -> None:
        self.when = when
        self.seq = seq
        self.fn = fn
        self.cancelled = False

    def __lt__(self, other: _Entry) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


def _run(entry: _Entry) -> None:
    try:
        entry.fn()
    except Exception:
        log.exception("timer callback failed")


class ManualClock:
    """Time moves only when a test calls `advance()`.

    `advance()` fires due callbacks synchronously, in due order, with `now()` set to
    each callback's due time while it runs — so a periodic timer rescheduling itself
    from inside its callback fires the right number of times within one advance.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        """`wall()` moves with `now()`: advancing the clock advances both."""
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_at(self, when: float, fn: Callable[[], None]) -> Cancellable:
        entry = _Entry(when, next(self._seq), fn)
        with self._lock:
            heapq.heappush(self._heap, entry)
        return entry

    def call_later(self, delay: float, fn: Callable[[], None]) -> Cancellable:
        return self.call_at(self._now + delay, fn)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: {seconds!r} is negative")
        target = self._now + seconds
        while True:
            with self._lock:
                if not self._heap or self._heap[0].when > target:
                    break
                entry = heapq.heappop(self._heap)
            if entry.cancelled:
                continue
            self._now = max(self._now, entry.when)
            _run(entry)
        self._now = target

    def pending(self) -> int:
        """Number of scheduled, not cancelled callbacks (lets tests check cleanup)."""
        with self._lock:
            return sum(1 for e in self._heap if not e.cancelled)


class SystemClock:
    """Monotonic wall time; one daemon thread serves every timer of this clock.

    A heap plus one thread costs far less than a `threading.Timer` thread per
    `send_after`, and the thread is a daemon so it never holds the process open.
    """

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def call_at(self, when: float, fn: Callable[[], None]) -> Cancellable:
        entry = _Entry(when, next(self._seq), fn)
        with self._cond:
            if self._closed:
                entry.cancelled = True
                return entry
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="runtime-clock", daemon=True
                )
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def call_later(self, delay: float, fn: Callable[[], None]) -> Cancellable:
        return self.call_at(time.monotonic() + delay, fn)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if self._heap:
                        wait = self._heap[0].when - time.monotonic()
                        if wait <= 0:
                            entry = heapq.heappop(self._heap)
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            if not entry.cancelled:
                _run(entry)
