"""kazoo's threading handler with a ``select`` on one poll(2) call.

kazoo's connection thread waits in ``handler.select`` before and after every request
(2-3 calls per request). kazoo's own ``selector_select`` builds an epoll selector,
registers the sockets and closes it on every call: ~19 us against ~2 us for a poll
over the same two sockets (this VM), holding the GIL all along. In a leading master
that is ~3% of the process while 100,000 tasks launch (py-spy, issue 29).

Same contract as ``selector_select``: lists of the objects (sockets or fds) given,
readable first (an object ready both ways is listed as readable only), an error or
hang-up counts as ready; a bad timeout or file object raises ``TypeError`` /
``ValueError``.
"""

from __future__ import annotations

import math
import select
from typing import Any

from kazoo.handlers.threading import SequentialThreadingHandler
from kazoo.handlers.utils import fileobj_to_fd

_READ = select.POLLIN | select.POLLPRI
_WRITE = select.POLLOUT


def poll_select(
    rlist: list[Any], wlist: list[Any], xlist: list[Any], timeout: float | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select``'s shape over poll(2) (no FD_SETSIZE limit, nothing to close)."""
    if timeout is not None:
        if not isinstance(timeout, int | float):
            raise TypeError("timeout must be a number")
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    wanted: dict[int, int] = {}
    objs: dict[int, list[Any]] = {}
    for mask, fileobjs in ((_READ, rlist), (_WRITE, wlist)):
        for obj in fileobjs:
            try:
                fd = fileobj_to_fd(obj)
            except (ValueError, OSError) as exc:
                raise ValueError("Invalid event mask or fd") from exc
            wanted[fd] = wanted.get(fd, 0) | mask
            objs.setdefault(fd, []).append(obj)
    poller = select.poll()
    for fd, mask in wanted.items():
        poller.register(fd, mask)
    ms = None if timeout is None else math.ceil(timeout * 1000)
    readable: list[Any] = []
    writable: list[Any] = []
    for fd, got in poller.poll(ms):
        if got & select.POLLNVAL:
            raise ValueError(f"Invalid event mask or fd: {fd} is not open")
        mask = wanted[fd]
        # as selectors does: anything but "writable" wakes a reader, anything but
        # "readable" a writer (errors and hang-ups wake both)
        if mask & _READ and got & ~select.POLLOUT:
            readable.extend(objs[fd])
        elif mask & _WRITE and got & ~_READ:
            writable.extend(objs[fd])
    return readable, writable, []


class PollHandler(SequentialThreadingHandler):  # type: ignore[misc]
    """``SequentialThreadingHandler`` whose ``select`` is ``poll_select``."""

    def select(self, *args: Any, **kwargs: Any) -> tuple[list[Any], list[Any], list[Any]]:
        return poll_select(*args, **kwargs)
