"""Brute-force protection for logins: failures counted per uid and per client address.

Pure (``now`` is a parameter, the caller holds the lock). Only FAILED logins count, so a
script that logs in correctly many times is never refused; after ``limit`` failures in
``window`` seconds for one key, logins for it are refused (429) until the oldest failure
leaves the window, with ``Retry-After`` saying when.
"""

from __future__ import annotations

import math
from collections import deque

UID_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = 60.0
MAX_KEYS = 100_000


class FailureWindow:
    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._fails.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fails[key]
            return None
        return q

    def retry_after(self, key: str, now: float) -> int:
        """0: may try; else whole seconds until it may."""
        q = self._recent(key, now)
        if q is None or len(q) < self.limit:
            return 0
        return max(1, math.ceil(q[len(q) - self.limit] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        if len(self._fails) >= MAX_KEYS:
            for k in list(self._fails):
                self._recent(k, now)
            if len(self._fails) >= MAX_KEYS:
                self._fails.clear()
        self._fails.setdefault(key, deque()).append(now)
        q = self._fails[key]
        while len(q) > self.limit:
            q.popleft()


class LoginLimiter:
    """Both windows: per uid (``UID_LIMIT``) and per client address (``ADDRESS_LIMIT``)."""

    def __init__(
        self, uid_limit: int = UID_LIMIT, address_limit: int = ADDRESS_LIMIT, window: float = WINDOW
    ) -> None:
        self.by_uid = FailureWindow(uid_limit, window)
        self.by_address = FailureWindow(address_limit, window)

    def retry_after(self, uid: str, address: str, now: float) -> tuple[int, str]:
        """(seconds, "uid"|"address") to wait, or (0, "")."""
        wait = self.by_uid.retry_after(uid, now)
        if wait:
            return wait, "uid"
        wait = self.by_address.retry_after(address, now)
        return (wait, "address") if wait else (0, "")

    def fail(self, uid: str, address: str, now: float) -> None:
        self.by_uid.fail(uid, now)
        self.by_address.fail(address, now)
