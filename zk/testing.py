"""Helpers for tests that use the real ZooKeeper (no fakes: see STYLE.md, rule 7).

Polling lives in `runtime.testing.wait_for` (the suite's one poll helper); zk sits
below runtime and cannot import it, so it keeps no poll loop of its own here.
"""

from __future__ import annotations

from zk._client import expire_session

__all__ = ["expire_session"]
