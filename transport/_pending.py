"""PendingAsks: correlation-id bookkeeping for asks awaiting a reply.

Offered to the runtime; it owns the futures, this owns the rules: a reply resolves the
ask with its ``corr_id`` exactly once; a late or unknown reply is dropped (counted);
an ask fails at its deadline or when its peer goes down. Time is an input.
"""

from __future__ import annotations

import heapq
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class PendingAsks(Generic[T]):
    """Thread-safe map ``msg_id -> (peer, deadline, token)``; ``token`` is the caller's future."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asks: dict[int, tuple[str, float, T]] = {}
        self._deadlines: list[tuple[float, int]] = []
        self.late_replies = 0
        """Replies that matched no pending ask (answered after timeout, or duplicates)."""

    def __len__(self) -> int:
        return len(self._asks)

    def add(self, msg_id: int, peer: str, deadline: float, token: T) -> None:
        with self._lock:
            self._asks[msg_id] = (peer, deadline, token)
            heapq.heappush(self._deadlines, (deadline, msg_id))

    def resolve(self, corr_id: int | None) -> T | None:
        """The token waiting for this reply, removed; None for a late or unknown reply."""
        with self._lock:
            entry = self._asks.pop(corr_id, None) if corr_id is not None else None
            if entry is None:
                self.late_replies += 1
                return None
            return entry[2]

    def cancel(self, msg_id: int) -> T | None:
        with self._lock:
            entry = self._asks.pop(msg_id, None)
            return None if entry is None else entry[2]

    def expire(self, now: float) -> list[T]:
        """Remove and return the tokens of asks whose deadline is at or before ``now``."""
        out: list[T] = []
        with self._lock:
            dl = self._deadlines
            while dl and dl[0][0] <= now:
                deadline, msg_id = heapq.heappop(dl)
                entry = self._asks.get(msg_id)
                if entry is not None and entry[1] == deadline:
                    del self._asks[msg_id]
                    out.append(entry[2])
        return out

    def next_deadline(self) -> float | None:
        with self._lock:
            while self._deadlines and self._deadlines[0][1] not in self._asks:
                heapq.heappop(self._deadlines)
            return self._deadlines[0][0] if self._deadlines else None

    def fail_peer(self, peer: str) -> list[T]:
        """Remove and return the tokens of every ask sent to ``peer`` (call on_peer_down)."""
        with self._lock:
            ids = [i for i, (p, _, _) in self._asks.items() if p == peer]
            return [self._asks.pop(i)[2] for i in ids]
