"""The one ``wait_for`` the suite polls with: a condition, a generous deadline, no sleeps
standing in for a condition (a poll that raises is polled again)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    cond: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    interval: float = 0.02,
    retry_errors: bool = True,
) -> Any:
    """Poll ``cond`` until it returns something truthy, and return that; fail at the deadline.

    ``retry_errors``: a poll that raises (a server restarting, a failover) polls again;
    unit tests of in-process code pass False so that a bug fails at once."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:
            if not retry_errors:
                raise
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r:.300})")
