"""A peer that stays down is forgotten: no pings, no socket, no backlog kept for it;
sending to it again starts over."""

from __future__ import annotations

import queue

import pytest
import zmq

from tests.transport.conftest import tell_from, wait_for
from transport import Envelope, FakeNetwork, Kind, Security, TransportError, ZmqTransport

FAST = {"heartbeat_interval": 0.05, "heartbeat_timeout": 0.25}


def _listen(got: queue.Queue[Envelope], bind: str = "tcp://127.0.0.1:0") -> ZmqTransport:
    def bound() -> ZmqTransport | None:
        try:
            t = ZmqTransport(bind, security=Security.plain(), on_envelope=got.put, **FAST)
            return t.start()
        except TransportError:
            return None  # a port just given up may linger for a moment

    result: ZmqTransport = wait_for(bound, timeout=10, what=f"{bind} to bind", interval=0.1)
    return result


def test_a_dead_peer_is_forgotten_and_reached_again_on_the_next_send() -> None:
    got: queue.Queue[Envelope] = queue.Queue()
    downs: list[str] = []
    a = ZmqTransport(
        security=Security.plain(),
        on_envelope=lambda e: None,
        on_peer_down=downs.append,
        reap_after=0.3,
        **FAST,
    ).start()
    b = _listen(got)
    addr = b.address
    try:
        a.send(addr, tell_from(a, 1))
        assert got.get(timeout=5).body == 1
        assert a.peers == {addr: True}
        b.stop()
        wait_for(lambda: a.counters.get("peer:reaped"), what="the dead peer to be forgotten")
        assert downs == [addr]  # declared down first, once
        assert a.peers == {}
        assert not a._routes and not a._by_sock  # its DEALER socket is closed
        b = _listen(got, addr)  # the same address comes back
        a.send(addr, tell_from(a, 2))
        assert got.get(timeout=5).body == 2
        assert a.peers == {addr: True}
    finally:
        a.stop()
        b.stop()


def test_a_connect_only_client_that_left_is_no_longer_pinged() -> None:
    server: ZmqTransport
    server = ZmqTransport(
        security=Security.plain(),
        on_envelope=lambda e: server.reply(e, e.body),
        reap_after=0.2,
        **FAST,
    ).start()
    answers: queue.Queue[Envelope] = queue.Queue()
    client = ZmqTransport(None, security=Security.plain(), on_envelope=answers.put, **FAST)
    client.start()
    try:
        client.send(
            server.address,
            Envelope(sender_node=client.address, target="x", kind=Kind.ASK, body="hi"),
        )
        assert answers.get(timeout=5).body == "hi"
        client.stop()
        wait_for(lambda: server.counters.get("peer:reaped"), what="the client to be forgotten")
        assert client.address not in server.peers
        unreachable = server.counters.get("send:unreachable", 0)
        ticks = server.ticks
        wait_for(lambda: server.ticks >= ticks + 5, what="five more heartbeat rounds")
        assert server.counters.get("send:unreachable", 0) == unreachable  # no more pings
    finally:
        server.stop()
        client.stop()


def test_the_fake_network_forgets_a_dead_peer_at_the_same_time() -> None:
    net = FakeNetwork(manual=True)
    downs: list[str] = []
    a = net.transport(
        "fake://a", on_envelope=lambda e: None, on_peer_down=downs.append, reap_after=5.0
    ).start()
    b = net.transport("fake://b", on_envelope=lambda e: None).start()
    a.send("fake://b", tell_from(a, 1))
    net.advance(0.5)
    assert a.peers == {"fake://b": True}
    b.stop()
    net.advance(a.heartbeat_timeout + 1.0)
    assert downs == ["fake://b"] and a.peers == {"fake://b": False}
    net.advance(5.0)
    assert a.peers == {} and a.counters["peer:reaped"] == 1
    net.close()


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_reap_after_must_be_a_duration(bad: float) -> None:
    with pytest.raises(ValueError, match="reap_after"):
        ZmqTransport(security=Security.plain(), on_envelope=lambda e: None, reap_after=bad)


def test_zmq_sockets_of_forgotten_peers_are_closed() -> None:
    """Many peers that never answer cost nothing once forgotten: every DEALER is closed."""
    a = ZmqTransport(
        security=Security.plain(), on_envelope=lambda e: None, reap_after=0.1, **FAST
    ).start()
    ctx = zmq.Context.instance()
    # Listeners that accept and never answer. (A port closed again instead can be taken
    # by a DEALER's own outgoing connection to it: TCP connects it to itself, and it
    # hears its own pings.)
    mute = [ctx.socket(zmq.ROUTER) for _ in range(20)]
    try:
        for s in mute:
            s.linger = 0
            port = s.bind_to_random_port("tcp://127.0.0.1")
            a.send(f"tcp://127.0.0.1:{port}", tell_from(a, port))
        wait_for(lambda: a.counters.get("peer:reaped", 0) == 20, what="20 peers forgotten")
        assert a.peers == {} and not a._routes and not a._by_sock
        assert list(a._handle) == [a._router]  # only the listener is left
    finally:
        a.stop()
        for s in mute:
            s.close()
