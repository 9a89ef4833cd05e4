"""A NaN on the wire is dropped, counted and answered; the receiver keeps serving.

Issue 30: a NaN cpus accepted at the edge later crashed every master. The codec refuses a
non-finite ``float`` field (DecodeError "non_finite"); this checks the real ZeroMQ
transport's handling of it: the frame is dropped with ``decode:non_finite`` counted, an
ask gets a DecodeError reply naming the field, and the next good message is delivered.
"""

from __future__ import annotations

import queue

import msgpack
import zmq

from tests.transport._peer import Echo
from tests.transport.conftest import wait_for
from transport import PROTOCOL_VERSION, Envelope, Kind, Security, ZmqTransport


def test_a_nan_field_is_counted_answered_and_the_transport_keeps_serving() -> None:
    echo = Echo()
    server = ZmqTransport(security=Security.plain(), on_envelope=echo)
    echo.transport = server
    server.start()
    replies: queue.Queue[Envelope] = queue.Queue()
    sink = ZmqTransport(security=Security.plain(), on_envelope=replies.put)
    sink.start()
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    try:
        dealer.connect(server.address)
        me = sink.address
        for msg_id, value in enumerate([float("nan"), float("inf"), float("-inf")], 1):
            bad = {"x": 1, "y": value, "label": None}
            frame = [PROTOCOL_VERSION, msg_id, None, me, "me", "echo", int(Kind.ASK)]
            dealer.send(msgpack.packb([*frame, "test.Point", bad]))

        def error_replies() -> list[Envelope]:
            got = []
            while True:
                try:
                    got.append(replies.get(timeout=0.05))
                except queue.Empty:
                    return got

        seen: list[Envelope] = []
        wait_for(lambda: seen.extend(error_replies()) or len(seen) >= 3, what="3 error replies")
        assert sorted(e.corr_id or 0 for e in seen) == [1, 2, 3]
        for e in seen:
            assert e.kind is Kind.ERROR, e
            assert "non_finite" in str(e.body) and "Point.y" in str(e.body), e.body
        assert server.counters.get("decode:non_finite") == 3, server.counters

        ask = Envelope(
            sender_node=me,
            sender_actor="me",
            target="echo",
            kind=Kind.ASK,
            body={"op": "echo", "v": "alive"},
        )
        sink.send(server.address, ask)
        answer = wait_for(
            lambda: next((e for e in error_replies() if e.corr_id == ask.msg_id), None),
            what="a normal ask answered after the NaNs",
        )
        assert answer.body == "alive"
        assert "io:crashed" not in server.counters and "decode:internal" not in server.counters
    finally:
        dealer.close()
        ctx.term()
        server.stop()
        sink.stop()
