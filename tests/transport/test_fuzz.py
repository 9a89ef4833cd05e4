"""Hostile input: the I/O thread survives anything a peer can send and keeps serving."""

from __future__ import annotations

import queue
from typing import Any

import msgpack
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transport._peer import Echo
from tests.transport.conftest import wait_for
from transport import PROTOCOL_VERSION, Envelope, Kind, Security, ZmqTransport

MAX = 64 * 1024

# Kept shallow on purpose: generation speed decides how long 10,000 cases take.
scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
native = (
    scalar
    | st.lists(scalar, max_size=3)
    | st.dictionaries(st.sampled_from(["x", "y", "label", "name", "z"]), scalar, max_size=3)
)


def _serve() -> tuple[ZmqTransport, ZmqTransport, queue.Queue[Envelope]]:
    echo = Echo()
    server = ZmqTransport(security=Security.plain(), on_envelope=echo, max_message_size=MAX)
    echo.transport = server
    server.start()
    replies: queue.Queue[Envelope] = queue.Queue()
    sink = ZmqTransport(security=Security.plain(), on_envelope=replies.put, max_message_size=MAX)
    sink.start()
    return server, sink, replies


def test_fuzzed_frames_never_kill_the_transport() -> None:
    server, sink, replies = _serve()
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.sndhwm = 0
    dealer.linger = 0
    dealer.connect(server.address)
    me = sink.address
    addr_end: dict[bytes, int] = {}

    def valid(kind: int, mtype: str, body: Any) -> bytes:
        return msgpack.packb([PROTOCOL_VERSION, 1, None, me, "fuzz", "echo", kind, mtype, body])

    envelopes = st.builds(
        valid,
        st.sampled_from([1, 2, 2, 3, 4, 5, 0, 9]),
        st.sampled_from(["", "", "test.Point", "test.Shape", "nope", "transport.RemoteError"]),
        native,
    )

    @st.composite
    def mutated(draw: Any) -> bytes:
        data = draw(envelopes)
        start = addr_end.setdefault(data, data.index(me.encode()) + len(me))  # keep the address
        op = draw(st.sampled_from(["truncate", "flip", "insert", "append"]))
        i = draw(st.integers(start, len(data)))
        if op == "truncate":
            return data[: draw(st.integers(0, len(data) - 1))]
        if op == "flip" and i < len(data):
            return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]

    def structured(items: list[Any]) -> bytes:
        items[3] = me
        return msgpack.packb(items)

    frames = st.one_of(
        st.binary(max_size=64),
        mutated(),
        st.tuples(*[scalar] * 8, native).map(lambda t: structured(list(t))),
        st.lists(native, max_size=10).map(msgpack.packb),
        envelopes,
    )
    sent = [0]

    @settings(
        max_examples=10000,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(frame=frames)
    def run(frame: bytes) -> None:
        dealer.send(frame)
        sent[0] += 1

    try:
        run()
        # declared-huge lengths and a frame above MAXMSGSIZE (libzmq drops the connection)
        for bad in (b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xf0", b"x" * (MAX + 1)):
            dealer.send(bad)
        assert sent[0] >= 10000
        # afterwards the transport still answers a normal ask
        ask = Envelope(
            sender_node=me,
            sender_actor="me",
            target="echo",
            kind=Kind.ASK,
            body={"op": "echo", "v": "alive"},
        )
        sink.send(server.address, ask)

        def answered() -> bool:
            while True:
                try:
                    e = replies.get(timeout=0.05)
                except queue.Empty:
                    return False
                if e.corr_id == ask.msg_id:
                    return e.body == "alive"

        wait_for(answered, timeout=30, what="a normal ask answered after the fuzz")
        c = server.counters
        decode_errors = sum(v for k, v in c.items() if k.startswith("decode:"))
        assert decode_errors > 1000, c
        for r in (
            "decode:truncated",
            "decode:bad_envelope",
            "decode:unknown_type",
            "decode:field_type",
        ):
            assert c.get(r, 0) > 0, (r, c)
        assert c.get("error_reply:sent", 0) > 0, c
        assert "io:crashed" not in c and "decode:internal" not in c, c
    finally:
        dealer.close()
        ctx.term()
        server.stop()
        sink.stop()
