"""The testing kit shipped with the runtime: wait on conditions, never on the clock.

* `wait_for(cond)` polls a condition until it holds (integration tests: real ZooKeeper,
  sockets, processes), with a generous deadline and the last value in the failure.
* `ManualClock` is time that moves only when the test says so: `now()` (monotonic) and
  `wall()` (epoch seconds, from ``wall_start``) move together on `advance(dt)`, which
  fires the timers that fall due, in order.
* `settle(node)` waits until every actor of the node has handled everything in its
  mailbox, including the timer messages `advance` just posted and whatever those
  handlers sent to other actors of the node. So a test says
  ``clock.advance(30); settle(node)`` and then asserts — also that something did NOT
  happen, which no poll can show and a bare sleep only makes likely.

Nothing here imports pytest, so any package's own ``testing`` module can build on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime._clock import ManualClock, real_now

if TYPE_CHECKING:
    from runtime._node import Node

__all__ = ["ManualClock", "settle", "wait_for"]


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
    deadline = real_now() + timeout
    last: Any = None
    while real_now() < deadline:
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


def settle(*nodes: Node, timeout: float = 10.0) -> None:
    """Return once every actor of ``nodes`` is idle: asleep on an empty mailbox, with no
    timer of a `ManualClock` due at the clock's current time.

    Quiet is seen twice in a row with no actor having run in between (each mailbox
    counts how often its actor went to sleep), so a message one actor sent another just
    before going idle is never missed. What settle cannot see: messages still on the
    network, and threads that are not actors (an HTTP server, a ZooKeeper watch) —
    wait for those with `wait_for`. An actor blocked in a handler (an ask, an I/O call)
    is busy; if one stays busy past ``timeout`` the test fails naming it.
    """
    if not nodes:
        raise ValueError("settle: give at least one Node")
    clocks = {id(n.clock): n.clock for n in nodes if isinstance(n.clock, ManualClock)}
    deadline = real_now() + timeout
    previous: dict[int, int] | None = None
    while True:
        for clock in clocks.values():
            clock.advance(0.0)  # timers a handler scheduled for "now"
        marks, busy = _marks(nodes)
        if not busy:
            if marks == previous:
                return
            previous = marks
            continue  # look again at once: quiet must hold across two looks
        previous = None
        if real_now() >= deadline:
            raise AssertionError(
                f"settle: after {timeout} s still busy: {', '.join(busy[:10])}"
                + (f" and {len(busy) - 10} more" if len(busy) > 10 else "")
            )
        time.sleep(0.0005)


def _marks(nodes: tuple[Node, ...]) -> tuple[dict[int, int], list[str]]:
    """Each live actor's sleep count if all are idle, and the labels of the busy ones."""
    marks: dict[int, int] = {}
    busy: list[str] = []
    for node in nodes:
        for actor in node.actors():
            if actor._rt_dead:
                continue
            mark = actor.actor_inbox.idle_mark()
            if mark is None:
                busy.append(f"{actor} ({actor.actor_inbox.qsize()} queued)")
            else:
                marks[id(actor)] = mark
    return marks, busy
