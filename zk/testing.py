"""Helpers for tests that use the real ZooKeeper (no fakes: see STYLE.md, rule 7)."""

from __future__ import annotations

import time
from collections.abc import Callable

from zk._client import expire_session

__all__ = ["expire_session", "wait_for"]


def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> None:
    """Poll ``predicate`` until truthy; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)
