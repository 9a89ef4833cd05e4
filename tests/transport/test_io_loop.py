"""The I/O loop's hand-off rules: lazy sends, the spin setting, both wait paths."""

from __future__ import annotations

import errno
import os
import queue
import select
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from tests.transport.conftest import tell_from, wait_for
from transport import Envelope, Kind, Security, TransportError, ZmqTransport, _zmq

SLOW_HB = {"heartbeat_interval": 30.0, "heartbeat_timeout": 60.0}


def _pair(**kw: object) -> Iterator[tuple[ZmqTransport, ZmqTransport, queue.Queue[Envelope]]]:
    got: queue.Queue[Envelope] = queue.Queue()
    a = ZmqTransport(security=Security.plain(), on_envelope=lambda e: None, **SLOW_HB, **kw)
    b = ZmqTransport(security=Security.plain(), on_envelope=got.put, **SLOW_HB, **kw)
    a.start()
    b.start()
    try:
        yield a, b, got
    finally:
        a.stop()
        b.stop()


@pytest.fixture(params=["spin", "no-spin", "pyzmq-calls", "no-c-helper"])
def pair(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ZmqTransport, ZmqTransport, queue.Queue[Envelope]]]:
    if request.param == "no-c-helper":
        monkeypatch.setattr(_zmq, "spin_wait", None)
        monkeypatch.setattr(_zmq, "_direct", False)
    elif _zmq.spin_wait is None:
        pytest.skip("transport._spin was not built")
    elif request.param == "pyzmq-calls":
        monkeypatch.setattr(_zmq, "_direct", False)
    elif not _zmq._direct:
        pytest.skip("the C helper is not bound to libzmq")
    yield from _pair(spin_us=0.0 if request.param == "no-spin" else 200.0)


def test_lazy_send_is_delivered_once_the_owed_wake_is_paid(pair: tuple) -> None:
    a, b, got = pair
    assert a.send(b.address, tell_from(a, 0)) is False  # an eager send wakes the I/O thread
    assert got.get(timeout=5).body == 0
    # Heartbeats come every 30 s: only the wake-up the lazy sender owes moves this one.
    assert a.send(b.address, tell_from(a, 1), lazy=True) is True
    assert a.send(b.address, tell_from(a, 2), lazy=True) is False  # already owed
    assert a.wake_fd >= 0
    os.eventfd_write(a.wake_fd, 1)
    assert [got.get(timeout=5).body for _ in range(2)] == [1, 2]


def test_asks_and_replies_keep_flowing_in_every_wait_mode(pair: tuple) -> None:
    a, b, got = pair
    for i in range(300):
        a.send(b.address, tell_from(a, i))
    assert [got.get(timeout=5).body for _ in range(300)] == list(range(300))


def test_spin_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYDCOS_IO_SPIN_US", "25")
    t = ZmqTransport(security=Security.plain(), on_envelope=lambda e: None)
    assert t.spin_ns == 25_000
    monkeypatch.setenv("PYDCOS_IO_SPIN_US", "0")
    assert ZmqTransport(security=Security.plain(), on_envelope=lambda e: None).spin_ns == 0
    monkeypatch.delenv("PYDCOS_IO_SPIN_US")
    t = ZmqTransport(security=Security.plain(), on_envelope=lambda e: None)
    assert t.spin_ns == int(_zmq.DEFAULT_SPIN_US * 1000)


@pytest.mark.parametrize("bad", ["fast", "-1", "1e9", "nan"])
def test_a_bad_spin_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("PYDCOS_IO_SPIN_US", bad)
    with pytest.raises(TransportError, match=r"PYDCOS_IO_SPIN_US: .*" + bad):
        ZmqTransport(security=Security.plain(), on_envelope=lambda e: None)


def test_a_lazily_sent_ask_is_delivered_and_the_sender_loop_goes_on(pair: tuple) -> None:
    """A lazy ASK also makes the I/O thread poll for the reply before it sleeps."""
    a, b, got = pair
    for i in range(50):
        ask = Envelope(sender_node=a.address, target="x", kind=Kind.ASK, body=i)
        owed = a.send(b.address, ask, lazy=True)
        if owed:
            os.eventfd_write(a.wake_fd, 1)
        assert got.get(timeout=5).body == i
    a.send(b.address, tell_from(a, "after"))
    assert got.get(timeout=5).body == "after"


def test_the_io_thread_holds_back_its_wakes_until_it_waits(pair: tuple) -> None:
    from transport._wakes import deferred

    a, b, _got = pair
    seen: list[object] = []
    b._on_envelope = lambda env: seen.append(deferred())
    a.send(b.address, tell_from(a, 0))
    wait_for(lambda: seen, timeout=5, what="the envelope delivered", interval=0.001)
    assert len(seen) == 1
    # With the C helper the I/O thread holds its wake-ups for its GIL-free wait;
    # without it there is no such wait, and wake-ups are written at once.
    assert (seen[0] is not None) == (_zmq.spin_wait is not None)
    assert deferred() is None  # only the I/O thread defers


def test_multipart_and_batched_frames_arrive_in_every_mode(pair: tuple) -> None:
    a, b, got = pair
    # A raw DEALER talks to b's ROUTER with extra parts: each part is a frame.
    env = [a.encode(tell_from(a, i)) for i in range(3)]
    ctx = zmq.Context.instance()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    try:
        d.connect(b.address)
        d.send_multipart([env[0], env[1] + env[2]])
        assert [got.get(timeout=5).body for _ in range(3)] == [0, 1, 2]
    finally:
        d.close()


def test_a_backlog_of_single_messages_is_read_whole_in_every_mode(pair: tuple) -> None:
    """With libzmq bound, an fd event reads one message and the C wait's look finds the
    rest: none is left behind until the next heartbeat (30 s away)."""
    a, b, got = pair
    ctx = zmq.Context.instance()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    try:
        d.connect(b.address)
        for i in range(500):  # one message each, sent faster than one is read
            d.send(a.encode(tell_from(a, i)))
        assert [got.get(timeout=5).body for _ in range(500)] == list(range(500))
    finally:
        d.close()


@pytest.fixture
def zmq_pair() -> Iterator[tuple[Any, Any]]:
    if not _zmq._direct:
        pytest.skip("the C helper is not bound to libzmq")
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.bind("inproc://direct")
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.IDENTITY, b"d1")
    dealer.connect("inproc://direct")
    try:
        yield router, dealer
    finally:
        ctx.destroy(linger=0)


def test_direct_libzmq_calls_move_messages_and_report_errors(zmq_pair: tuple[Any, Any]) -> None:
    zmq_bind, zmq_events = _zmq.zmq_bind, _zmq.zmq_events
    zmq_recv_all, zmq_send = _zmq.zmq_recv_all, _zmq.zmq_send
    router, dealer = zmq_pair
    r, d = router.underlying, dealer.underlying
    assert zmq_recv_all(r, 10) == ([], True)  # nothing yet: drained
    assert zmq_events(d) & zmq.POLLOUT
    assert zmq_send(d, b"one") == 0
    dealer.send_multipart([b"two", b"three"])
    wait_for(lambda: zmq_events(r) & zmq.POLLIN, timeout=5, what="POLLIN", interval=0.001)
    msgs, drained = zmq_recv_all(r, 1)  # one message at most: maybe more left
    assert msgs == [[b"d1", b"one"]] and drained is False
    msgs, drained = zmq_recv_all(r, 10)
    assert msgs == [[b"d1", b"two", b"three"]] and drained is True
    assert zmq_send(r, b"back", b"d1") == 0  # a ROUTER's [ident, data]
    assert dealer.recv() == b"back"
    assert zmq_send(r, b"lost", b"nobody") == errno.EHOSTUNREACH  # no exception: an errno
    with pytest.raises(ValueError):
        zmq_events(0)
    with pytest.raises(TypeError):
        zmq_send(d, "not bytes")  # type: ignore[arg-type]
    assert zmq_bind("/nonexistent/libzmq.so") is False


def test_the_c_wait_looks_at_sockets_after_paying_the_held_wakes(
    zmq_pair: tuple[Any, Any],
) -> None:
    """``check``: each socket handle is looked at (ZMQ_EVENTS) once the held wake-ups are
    written, and a readable one ends the wait at once as ``(handle, 0)``."""

    router, dealer = zmq_pair
    r, d = router.underlying, dealer.underlying
    ep = select.epoll()  # nothing registered: only a look can end a wait early
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        held = [fd]
        assert _zmq.spin_wait(ep.fileno(), 0.0, 0, held, [r, d]) == []  # nothing to read
        assert held == [] and os.eventfd_read(fd) == 1  # the wake was paid all the same
        dealer.send(b"hello")
        wait_for(lambda: _zmq.zmq_events(r) & zmq.POLLIN, timeout=5, what="POLLIN", interval=0.001)
        # A 30 s wait that returns the handle did not wait: the look found the message.
        assert _zmq.spin_wait(ep.fileno(), 30.0, 0, [], [d, r]) == [(r, 0)]
        assert _zmq.spin_wait(ep.fileno(), 30.0, 10_000, [], [r]) == [(r, 0)]  # no spin
        assert _zmq.zmq_recv_all(r, 10) == ([[b"d1", b"hello"]], True)
        with pytest.raises(TypeError):
            _zmq.spin_wait(ep.fileno(), 0.0, 0, [], (r,))
        with pytest.raises(ValueError):
            _zmq.spin_wait(ep.fileno(), 0.0, 0, [], [0])
        with pytest.raises(ValueError):
            _zmq.spin_wait(ep.fileno(), 0.0, 0, [], [r] * 65)
    finally:
        os.close(fd)
        ep.close()


def test_the_io_thread_never_polls_when_work_is_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply sent from inside on_envelope waits in the queue for the next turn: that
    turn's wait must only look (timeout 0, no polling), then send it."""
    if _zmq.spin_wait is None:
        pytest.skip("transport._spin was not built")
    calls: list[tuple[float, int]] = []
    real = _zmq.spin_wait

    def recording(epfd: int, timeout: float, spin: int, held: list[int], check: Any) -> Any:
        calls.append((timeout, spin))
        return real(epfd, timeout, spin, held, check)

    monkeypatch.setattr(_zmq, "spin_wait", recording)
    replies: queue.Queue[Envelope] = queue.Queue()
    b: ZmqTransport
    a = ZmqTransport(security=Security.plain(), on_envelope=replies.put, **SLOW_HB)
    b = ZmqTransport(security=Security.plain(), on_envelope=lambda e: b.reply(e, e.body), **SLOW_HB)
    with a, b:
        for i in range(20):
            a.send(b.address, Envelope(sender_node=a.address, target="x", kind=Kind.ASK, body=i))
            assert replies.get(timeout=5).body == i
    assert any(spin for _, spin in calls)  # it does poll after handing over an ask
    assert not [c for c in calls if c[0] == 0.0 and c[1]]
