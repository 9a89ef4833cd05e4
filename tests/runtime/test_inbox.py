"""Hand-offs without the GIL: the actor inbox, thread wakers, owed wake-ups, C helper."""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from typing import Any

import pytest

from runtime import _inbox
from runtime._inbox import Inbox, ThreadWaker, bind_inbox, owe_wake, pay_wake, thread_waker
from runtime.testing import wait_for


class _Target:
    """Something a thread can owe a wake-up to: an eventfd we can read back."""

    def __init__(self) -> None:
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    @property
    def wake_fd(self) -> int:
        return self.fd

    def signalled(self) -> int:
        try:
            return os.eventfd_read(self.fd)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def target() -> _Target:
    t = _Target()
    yield t
    t.close()


@pytest.fixture(params=["c", "python"])
def hand_off_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C helper, and again with the pure-Python fallback."""
    if request.param == "python":
        monkeypatch.setattr(_inbox, "_c_hand_off", None)
    elif _inbox._c_hand_off is None:
        pytest.skip("transport._spin was not built")
    return str(request.param)


def test_inbox_is_fifo_and_reports_empty() -> None:
    box: Inbox[int] = Inbox()
    assert box.empty() and box.qsize() == 0
    for i in range(5):
        box.put(i)
    assert box.qsize() == 5
    assert [box.get() for _ in range(3)] == [0, 1, 2]
    assert box.get_nowait() == 3
    assert box.get_nowait() == 4
    with pytest.raises(queue.Empty):
        box.get_nowait()


def _sleeping_consumer(box: Inbox[Any], got: list[Any]) -> threading.Thread:
    """A thread that takes one item from ``box`` into ``got``, once it is asleep on it."""
    t = threading.Thread(target=lambda: got.append(box.get()))
    t.start()
    wait_for(lambda: box._sleeping, timeout=5, what="the consumer asleep", interval=0.001)
    return t


def test_inbox_get_sleeps_until_a_put_from_another_thread(hand_off_impl: str) -> None:
    box: Inbox[str] = Inbox()
    got: list[str] = []
    t = _sleeping_consumer(box, got)
    box.put("hello")
    t.join(5)
    assert got == ["hello"]


def test_inbox_loses_no_message_between_many_producers(hand_off_impl: str) -> None:
    box: Inbox[tuple[int, int]] = Inbox()
    producers, per = 4, 3000
    got: list[tuple[int, int]] = []

    def consume() -> None:
        for _ in range(producers * per):
            got.append(box.get())

    c = threading.Thread(target=consume)
    c.start()
    ps = [
        threading.Thread(target=lambda p=p: [box.put((p, i)) for i in range(per)])
        for p in range(producers)
    ]
    for p in ps:
        p.start()
    for p in ps:
        p.join(10)
    c.join(30)
    assert not c.is_alive(), f"consumer stuck after {len(got)} messages"
    for p in range(producers):  # every message, in order per producer
        assert [i for q, i in got if q == p] == list(range(per))


def test_thread_waker_wait_returns_on_signal_or_timeout(hand_off_impl: str) -> None:
    w = ThreadWaker()
    t0 = time.monotonic()
    w.wait(0.05)  # nobody signals: times out
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.02, w.signal).start()
    t0 = time.monotonic()
    w.wait(5.0)
    assert time.monotonic() - t0 < 4.0
    w.signal()
    w.signal()
    w.wait(5.0)  # both signals are consumed by one wait
    t0 = time.monotonic()
    w.wait(0.05)
    assert time.monotonic() - t0 >= 0.04


def test_thread_waker_is_per_thread() -> None:
    mine = thread_waker()
    assert thread_waker() is mine
    other: list[ThreadWaker] = []
    t = threading.Thread(target=lambda: other.append(thread_waker()))
    t.start()
    t.join()
    assert other and other[0] is not mine


def test_owed_wake_is_paid_when_the_thread_blocks(hand_off_impl: str, target: _Target) -> None:
    owe_wake(target)
    assert target.signalled() == 0  # owed, not yet paid
    thread_waker().wait(0.0)
    assert target.signalled() == 1
    thread_waker().wait(0.0)
    assert target.signalled() == 0  # paid once only


def test_owed_wake_is_paid_by_pay_wake(target: _Target) -> None:
    owe_wake(target)
    pay_wake()
    assert target.signalled() == 1
    pay_wake()
    assert target.signalled() == 0


def test_owing_a_second_target_pays_the_first(target: _Target) -> None:
    second = _Target()
    try:
        owe_wake(target)
        owe_wake(second)
        assert target.signalled() == 1
        assert second.signalled() == 0
        pay_wake()
        assert second.signalled() == 1
    finally:
        second.close()


def test_inbox_pays_an_owed_wake_before_the_next_message(target: _Target) -> None:
    box: Inbox[int] = Inbox()
    box.put(1)
    bind_inbox(box)
    try:
        owe_wake(target)
        assert box.get() == 1
        assert target.signalled() == 1
    finally:
        bind_inbox(None)


def test_inbox_pays_an_owed_wake_as_it_goes_to_sleep(hand_off_impl: str, target: _Target) -> None:
    box: Inbox[int] = Inbox()
    seen: list[int] = []

    def consumer() -> None:
        bind_inbox(box)
        owe_wake(target)
        seen.append(box.get())

    t = threading.Thread(target=consumer)
    t.start()
    p = select.poll()
    p.register(target.fd, select.POLLIN)
    assert p.poll(5000), "the sleeping consumer never paid its wake-up"
    assert target.signalled() == 1
    box.put(7)
    t.join(5)
    assert seen == [7]


@pytest.mark.skipif(_inbox._c_hand_off is None, reason="transport._spin was not built")
def test_spin_wait_reports_ready_fds_and_times_out() -> None:
    from transport._spin import wait

    ep = select.epoll()
    fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    try:
        ep.register(fd, select.EPOLLIN)
        t0 = time.monotonic()
        assert wait(ep.fileno(), 0.03, 200_000) == []  # spins, then sleeps, then times out
        assert time.monotonic() - t0 >= 0.02
        assert wait(ep.fileno(), 0.0, 0) == []
        os.eventfd_write(fd, 1)
        assert wait(ep.fileno(), 5.0, 100_000) == [(fd, select.EPOLLIN)]
        with pytest.raises(ValueError):
            wait(-1, 0.0, 0)
        with pytest.raises(OSError):
            wait(fd, 0.0, 0)  # an eventfd is not an epoll fd
    finally:
        ep.close()
        os.close(fd)


@pytest.mark.skipif(_inbox._c_hand_off is None, reason="transport._spin was not built")
def test_hand_off_rejects_bad_arguments() -> None:
    from transport._spin import hand_off

    with pytest.raises(TypeError):
        hand_off("x", 1, 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hand_off(-1, -1, 0.0)
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        hand_off(-1, r, 0.0)  # a wait fd that is not open


@pytest.mark.skipif(_inbox._c_signal is None, reason="transport._spin was not built")
def test_signal_keeping_the_gil_wakes_and_reports_a_bad_fd(target: _Target) -> None:
    from transport._spin import signal

    signal(target.fd)
    signal(target.fd)
    assert target.signalled() == 2
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        signal(w)


@pytest.mark.skipif(_inbox._c_hand_off is None, reason="transport._spin was not built")
def test_spin_wait_writes_the_held_wakes_first_and_empties_the_list(target: _Target) -> None:
    from transport._spin import wait

    ep = select.epoll()
    try:
        held = [target.fd, target.fd]
        assert wait(ep.fileno(), 0.0, 0, held) == []
        assert held == []  # taken: the caller reuses the list
        assert target.signalled() == 2
        many = [target.fd] * 100  # more than the helper's stack buffer
        wait(ep.fileno(), 0.0, 0, many)
        assert many == [] and target.signalled() == 100
        assert wait(ep.fileno(), 0.0, 0, None) == []
        with pytest.raises(TypeError):
            wait(ep.fileno(), 0.0, 0, (target.fd,))  # a list, not any sequence
        bad = [target.fd, "x"]
        with pytest.raises(TypeError):
            wait(ep.fileno(), 0.0, 0, bad)
        assert bad == [target.fd, "x"]  # nothing taken, nothing written
        assert target.signalled() == 0
    finally:
        ep.close()


def test_a_thread_that_defers_wakes_holds_them_until_it_waits(target: _Target) -> None:
    from transport._wakes import defer_wakes, deferred

    box: Inbox[int] = Inbox()
    got: list[int] = []
    consumer = _sleeping_consumer(box, got)
    held: list[int] = []
    defer_wakes(held)
    try:
        assert deferred() is held
        box.hand_over(1)  # the consumer is asleep: its wake-up is held back, not written
        thread_waker().signal()
        assert len(held) == 2
        consumer.join(0.2)
        assert consumer.is_alive() and got == []
    finally:
        defer_wakes(None)
    assert deferred() is None
    for fd in held:  # what the transport's wait does, without the GIL
        os.eventfd_write(fd, 1)
    consumer.join(5)
    assert got == [1]
    assert thread_waker()._fd in held
    thread_waker().wait(0)  # reset this thread's waker for the other tests


def test_laned_inbox_serves_urgent_items_first_taking_turns_with_the_rest() -> None:
    box: _inbox.LanedInbox[str] = _inbox.LanedInbox(lambda s: s.isupper())
    for item in ["a", "b", "c", "X", "d", "Y", "Z"]:
        box.put(item)
    assert box.qsize() == 7 and not box.empty()
    taken = [box.get() for _ in range(7)]
    # urgent first, then turns while both lanes wait; each lane in arrival order
    assert taken == ["X", "a", "Y", "b", "Z", "c", "d"]
    assert box.empty()
    with pytest.raises(queue.Empty):
        box.get_nowait()
    box.hand_over("Q")
    box.put("e")
    assert box.take_while(str.isupper, 5) == ["Q"], "from the lane whose front is wanted"
    assert box.take_while(str.islower, 5) == ["e"]


def test_laned_inbox_wakes_its_sleeping_consumer(hand_off_impl: str) -> None:
    box: _inbox.LanedInbox[str] = _inbox.LanedInbox(lambda s: s.isupper())
    got: list[str] = []
    consumer = threading.Thread(target=lambda: got.extend([box.get(), box.get()]))
    consumer.start()
    wait_for(lambda: box.idle_mark() is not None, 5, "the consumer asleep")
    box.put("a")
    wait_for(lambda: box.idle_mark() is not None or got, 5, "the consumer asleep again")
    box.hand_over("B")
    consumer.join(5)
    assert got == ["a", "B"]
