"""Wake-ups a thread holds back until it stops holding the GIL.

A thread that wakes another while it still holds the GIL makes the woken thread sleep
again at once, on the GIL, until the waker lets go of it; that second sleep and wake
cost as much as the first on a virtual machine. The transport's I/O thread wakes actors
and ask callers, then goes on with Python work before it waits. So, on that thread,
eventfd writes are held back (`defer_wakes`) and done by the C helper's ``wait`` once
it has let go of the GIL, right before it polls: the woken thread finds the GIL free.
``runtime._inbox`` asks `deferred` before each wake-up it makes.

`c_hand_off` and `c_signal` are the C helper's GIL-free wake-ups (None when the helper
did not build): exported here so the runtime reaches them through ``transport``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["c_hand_off", "c_signal", "defer_wakes", "deferred", "write_eventfd"]

try:
    from transport import _spin
except ImportError:  # pragma: no cover - the C helper did not build
    _spin = None

c_hand_off: Callable[[int, int, float], bool] | None = getattr(_spin, "hand_off", None)
"""``c_hand_off(signal_fd, wait_fd, timeout)``: write 1 to ``signal_fd`` (if >= 0), then
wait for ``wait_fd`` up to ``timeout`` s (< 0: for ever), all with the GIL let go."""
c_signal: Callable[[int], None] | None = getattr(_spin, "signal", None)
"""``c_signal(fd)``: write 1 to the eventfd ``fd`` keeping the GIL (a tell's wake-up)."""


class _Local(threading.local):
    deferred: list[int] | None = None  # class default: no AttributeError to catch


_local = _Local()


def defer_wakes(into: list[int] | None) -> None:
    """From now on, the calling thread's wake-ups go into ``into`` (None: done at once).
    Only for a thread that hands that list to ``transport._spin.wait`` before it blocks."""
    _local.deferred = into


def deferred() -> list[int] | None:
    """The calling thread's list of held-back wake-ups, or None."""
    return _local.deferred


def write_eventfd(fd: int) -> None:
    """Add 1 to the eventfd ``fd`` now; a saturated counter (its reader is awake
    anyway) or a descriptor closed at shutdown is not an error."""
    try:
        os.eventfd_write(fd, 1)
    except OSError:
        pass
