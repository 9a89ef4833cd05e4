"""One conformance suite, run against real ZeroMQ (two OS processes) and the FakeNetwork."""

from __future__ import annotations

import pytest

from tests.transport._messages import Point, Shape
from tests.transport.conftest import MAX, Harness, wait_for
from transport import Envelope, Kind, MessageTooLarge, RemoteError, new_msg_id


def test_tell_is_delivered(harness: Harness) -> None:
    harness.tell({"op": "echo", "v": "hello"})
    env = harness.recv(lambda e: e.kind is Kind.TELL)
    assert env.body == {"op": "echo", "v": "hello"}
    assert env.sender_node == harness.peer
    assert env.target == "me"


def test_ask_reply_is_matched_by_correlation_id(harness: Harness) -> None:
    asks = [harness.envelope(Kind.ASK, {"op": "echo", "v": i}) for i in range(50)]
    for a in asks:
        harness.local.send(harness.peer, a)
    for a in reversed(asks):  # wait in another order than sent
        reply = harness.recv(lambda e, a=a: e.corr_id == a.msg_id)
        assert reply.kind is Kind.REPLY
        assert reply.body == a.body["v"]
        assert reply.target == "me"


def test_registered_records_roundtrip_between_nodes(harness: Harness) -> None:
    shape = Shape("tri", [Point(1, 2.5), Point(3, 4.0, "c")], {"a": 1}, b"\x00\xff", True)
    reply = harness.ask(shape)  # the peer echoes bodies it does not understand
    assert reply.body == shape
    assert reply.mtype == "test.Shape"


def test_error_reply_carries_remote_error(harness: Harness) -> None:
    reply = harness.ask({"op": "fail"})
    assert reply.kind is Kind.ERROR
    assert reply.body == RemoteError("ValueError", "boom")


def test_handler_exception_becomes_error_reply(harness: Harness) -> None:
    reply = harness.ask({"op": "raise"})
    assert reply.kind is Kind.ERROR
    assert reply.body.type_name == "RuntimeError"
    assert "exploded" in reply.body.message


def test_unknown_target_gets_error_reply(harness: Harness) -> None:
    reply = harness.ask({"op": "echo", "v": 1}, target="nobody")
    assert reply.kind is Kind.ERROR
    assert reply.body.type_name == "UnknownTarget"


def test_order_is_kept_per_peer_pair(harness: Harness) -> None:
    n = 2000
    for i in range(n):
        harness.tell({"op": "echo", "v": i})
    got = [harness.recv(lambda e: e.kind is Kind.TELL).body["v"] for _ in range(n)]
    assert got == list(range(n))


def _sized(harness: Harness, size: int) -> Envelope:
    """An ask whose encoded envelope is exactly ``size`` bytes."""
    pad = size
    for _ in range(5):
        env = harness.envelope(Kind.ASK, {"op": "len", "v": b"x" * pad})
        over = len(harness.local.encode_unchecked(env)) - size
        if over == 0:
            return env
        pad -= over
    raise AssertionError("could not size the envelope")


def test_message_at_limit_is_accepted_and_above_refused(harness: Harness) -> None:
    at = _sized(harness, MAX)
    harness.local.send(harness.peer, at)
    reply = harness.recv(lambda e: e.corr_id == at.msg_id, timeout=10)
    assert reply.kind is Kind.REPLY and reply.body > MAX - 100
    above = _sized(harness, MAX + 1)
    with pytest.raises(MessageTooLarge):
        harness.local.send(harness.peer, above)
    assert harness.ask({"op": "echo", "v": "still fine"}).body == "still fine"


def test_peer_down_is_reported(harness: Harness) -> None:
    assert harness.ask({"op": "echo", "v": 1}).body == 1
    assert harness.downs == []
    harness.kill_peer()
    wait_for(lambda: harness.peer in harness.downs, what="on_peer_down")
    assert harness.downs == [harness.peer]  # once per outage


def test_reconnects_after_peer_restart(harness: Harness) -> None:
    assert harness.ask({"op": "echo", "v": 1}).body == 1
    harness.kill_peer()
    wait_for(lambda: harness.peer in harness.downs, what="on_peer_down")
    harness.restart_peer()
    assert harness.ask_until_answered({"op": "echo", "v": 2}).body == 2
    assert harness.local.counters.get("peer:up", 0) >= 1


def test_a_peer_down_for_long_is_forgotten_then_reached_again(harness: Harness) -> None:
    harness.local.reap_after = 0.5  # read at every heartbeat tick
    assert harness.ask({"op": "echo", "v": 1}).body == 1
    assert harness.local.peers == {harness.peer: True}
    harness.kill_peer()
    wait_for(lambda: harness.local.counters.get("peer:reaped"), what="peer forgotten")
    assert harness.downs == [harness.peer] and harness.local.peers == {}
    harness.restart_peer()
    assert harness.ask_until_answered({"op": "echo", "v": 2}).body == 2
    assert harness.local.peers == {harness.peer: True}


def test_send_ask_is_an_ask_without_a_sender_actor(harness: Harness) -> None:
    msg_id = new_msg_id()
    harness.local.send_ask(harness.peer, msg_id, "echo", Point(1, 2.0))
    reply = harness.recv(lambda e: e.corr_id == msg_id)
    assert reply.kind is Kind.REPLY
    assert reply.body == Point(1, 2.0)
    assert reply.sender_node == harness.peer
    assert reply.target == ""  # the ask named no sender actor
    with pytest.raises(MessageTooLarge):
        harness.local.send_ask(harness.peer, new_msg_id(), "echo", "x" * (MAX + 1))
