"""Thread hand-offs that never wake a thread into a GIL we still hold.

``queue.SimpleQueue.put`` and ``Lock.release`` wake the sleeping thread while the
waker still holds the GIL. Linux then usually runs the woken thread at once; it finds
the GIL taken and sleeps again on the GIL's condition variable, until the waker lets
the GIL go and wakes it a second time. On a virtual machine each wake-up costs tens of
microseconds, so this doubles the price of every hand-off.

Here a sleeping thread waits on an eventfd, and whoever wakes it writes the eventfd
with the GIL released. A thread that must wake another *and then sleep* (an actor
that replied to a remote ask; a caller that sent a synchronous ask) does both in one
GIL-free call, `hand_off` from the transport's C helper: the woken thread never finds
the GIL held by the one that woke it. That wake-up is "owed" (`owe_wake`) from the
send until the thread next blocks here.

``Inbox`` is an actor's mailbox; ``ThreadWaker`` is one eventfd per thread that blocks
on remote ask replies (`runtime._ref.FdAskFuture`).
"""

from __future__ import annotations

import os
import queue
import select
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from transport import c_hand_off as _c_hand_off
from transport import c_signal as _c_signal
from transport import deferred, write_eventfd

__all__ = [
    "Inbox",
    "LanedInbox",
    "ThreadWaker",
    "bind_inbox",
    "owe_wake",
    "pay_wake",
    "thread_waker",
]

T = TypeVar("T")


class Wakeable(Protocol):
    """What a thread can owe a wake-up to (the transport): an eventfd to write."""

    @property
    def wake_fd(self) -> int: ...


def _signal(fd: int) -> None:
    held = deferred()
    if held is not None:  # the transport's I/O thread: written once it lets the GIL go
        held.append(fd)
        return
    write_eventfd(fd)


def _signal_keeping_gil(fd: int) -> None:
    if _c_signal is None:
        _signal(fd)
        return
    try:
        _c_signal(fd)
    except OSError:  # pragma: no cover - closed at interpreter exit
        pass


def _hand_off(signal_fd: int, wait_fd: int, timeout: float) -> bool:
    """Write 1 to ``signal_fd`` (if >= 0), then wait for ``wait_fd`` (non-blocking
    eventfd) up to ``timeout`` seconds (< 0: for ever) and reset it."""
    if _c_hand_off is not None:
        return bool(_c_hand_off(signal_fd, wait_fd, timeout))
    if signal_fd >= 0:
        _signal(signal_fd)
    p = select.poll()
    p.register(wait_fd, select.POLLIN)
    if not p.poll(None if timeout < 0 else timeout * 1000.0):
        return False
    try:
        os.eventfd_read(wait_fd)
    except BlockingIOError:
        pass
    return True


class _Local(threading.local):
    # Class defaults: a thread that never set them reads these without the
    # AttributeError that getattr(local, name, default) raises and catches (~0.4 us).
    owed: Wakeable | None = None
    inbox: Inbox[Any] | None = None
    waker: ThreadWaker | None = None


_local = _Local()


def owe_wake(target: Wakeable) -> None:
    """The calling thread will wake ``target`` when it next blocks in this module (its
    inbox, or a remote ask's reply). Only for a thread that is about to do so."""
    prev = _local.owed
    if prev is not None and prev is not target:
        _signal_target(prev)
    _local.owed = target


def pay_wake() -> None:
    """Wake now whatever the calling thread owes a wake-up to."""
    owed = _local.owed
    if owed is not None:
        _local.owed = None
        _signal_target(owed)


def _take_owed_fd() -> int:
    owed = _local.owed
    if owed is None:
        return -1
    _local.owed = None
    return owed.wake_fd


def _signal_target(target: Wakeable) -> None:
    fd = target.wake_fd
    if fd >= 0:
        _signal(fd)


def bind_inbox(inbox: Inbox[Any] | None) -> None:
    """Note that the calling thread consumes ``inbox`` (an actor loop, for the life of
    its thread): a wake-up owed by this thread is paid when that inbox next blocks."""
    _local.inbox = inbox


def bound_inbox() -> Inbox[Any] | None:
    """The inbox the calling thread consumes, if it runs an actor loop."""
    return _local.inbox


class Inbox(Generic[T]):
    """A multi-producer, single-consumer queue; the consumer sleeps on an eventfd.

    ``put`` and ``hand_over`` are a deque append, plus one eventfd write when the
    consumer is asleep (they differ in whether that write lets the GIL go). The
    consumer announces it is going to sleep (``_sleeping``) and looks at the deque once
    more before blocking, so a put that races it is never missed; a wake-up that
    arrives after it found work anyway only costs one spurious turn.
    """

    __slots__ = ("__weakref__", "_fd", "_items", "_sleeping", "_sleeps")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._sleeping = False
        self._sleeps = 0
        """Times the consumer went to sleep: counted off the hot path (only before a
        block), it tells `runtime.testing.settle` whether the consumer ran in between."""
        self._fd = -1  # made on the first sleep

    def put(self, item: T) -> None:
        """Queue ``item`` for a producer that goes on working (a tell): the consumer is
        woken but waits for the GIL, so a burst is taken as a batch."""
        self._items.append(item)
        if self._sleeping:
            self._sleeping = False
            _signal_keeping_gil(self._fd)

    def hand_over(self, item: T) -> None:
        """Queue ``item`` for a producer that waits next (an ask's caller, the I/O
        thread): the consumer is woken with the GIL let go, so it runs at once."""
        self._items.append(item)
        if self._sleeping:
            self._sleeping = False
            _signal(self._fd)

    def get(self) -> T:
        """Block until there is an item (no timeout: actors sleep until told)."""
        items = self._items
        while True:
            if items:
                if _local.owed is not None:
                    pay_wake()  # more work first: do not make the owed thread wait
                return items.popleft()
            self._sleep()

    def take_while(self, wanted: Callable[[T], bool], limit: int) -> list[T]:
        """Up to ``limit`` items from the front, in order, while ``wanted(item)``; for
        the consumer only (producers only append, so the front is the consumer's)."""
        lane = self._lane_of(wanted)
        taken: list[T] = []
        while lane and len(taken) < limit and wanted(lane[0]):
            taken.append(lane.popleft())
        return taken

    def _lane_of(self, wanted: Callable[[T], bool]) -> deque[T]:
        """The queue ``take_while`` takes from (there is one)."""
        return self._items

    def get_nowait(self) -> T:
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def idle_mark(self) -> int | None:
        """If the consumer is asleep on an empty queue, how many times it has gone to
        sleep so far (the same number twice means it did not run in between); None
        while it has work or is running. Read from another thread by
        `runtime.testing.settle`."""
        if self._sleeping and self.empty():
            return self._sleeps
        return None

    def _sleep(self) -> None:
        if self._fd < 0:
            self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._sleeps += 1
        self._sleeping = True
        if not self.empty():  # a put came in between: no need to sleep
            self._sleeping = False
            return
        _hand_off(_take_owed_fd(), self._fd, -1.0)

    def __del__(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass


class LanedInbox(Inbox[T]):
    """An ``Inbox`` with two lanes: the items ``urgent(item)`` picks are served before
    the others already waiting, taking turns with them while both lanes hold some (so
    that neither starves); arrival order is kept within each lane. Akka's control-aware
    mailbox, for an actor whose few urgent messages (API requests, offers) must not
    wait behind thousands of routine ones (status updates)."""

    __slots__ = ("_first", "_took_first", "_urgent")

    def __init__(self, urgent: Callable[[T], bool]) -> None:
        super().__init__()
        self._first: deque[T] = deque()
        self._urgent = urgent
        self._took_first = False

    def put(self, item: T) -> None:
        (self._first if self._urgent(item) else self._items).append(item)
        if self._sleeping:
            self._sleeping = False
            _signal_keeping_gil(self._fd)

    def hand_over(self, item: T) -> None:
        (self._first if self._urgent(item) else self._items).append(item)
        if self._sleeping:
            self._sleeping = False
            _signal(self._fd)

    def _pop(self) -> T:
        first = self._first
        if first and not (self._took_first and self._items):
            self._took_first = True
            return first.popleft()
        self._took_first = False
        return self._items.popleft()

    def _lane_of(self, wanted: Callable[[T], bool]) -> deque[T]:
        """``take_while`` takes from the lane whose front is ``wanted`` (urgent first)."""
        first = self._first
        return first if first and wanted(first[0]) else self._items

    def get(self) -> T:
        while True:
            if self._first or self._items:
                if _local.owed is not None:
                    pay_wake()
                return self._pop()
            self._sleep()

    def get_nowait(self) -> T:
        try:
            return self._pop()
        except IndexError:
            raise queue.Empty from None

    def empty(self) -> bool:
        return not (self._first or self._items)

    def qsize(self) -> int:
        return len(self._first) + len(self._items)


class ThreadWaker:
    """One eventfd for one thread to sleep on until another thread signals it."""

    __slots__ = ("__weakref__", "_fd")

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)

    def signal(self) -> None:
        """Wake the owner (from any thread; drops the GIL around the system call)."""
        _signal(self._fd)

    def wait(self, timeout: float) -> None:
        """Owner thread only: pay an owed wake-up, then sleep until signalled or for
        ``timeout`` seconds. May return early (a signal meant for an earlier wait), so
        callers re-check their condition."""
        _hand_off(_take_owed_fd(), self._fd, max(0.0, timeout))

    def __del__(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


def thread_waker() -> ThreadWaker:
    """The calling thread's waker (made on first use, closed when the thread ends)."""
    w = _local.waker
    if w is None:
        w = _local.waker = ThreadWaker()
    return w
