"""SUBSCRIBE's bounded buffer, in one process with real parts: a master actor on a
listening node, the HTTP gateway with the operator routes, and a raw TCP client that
subscribes and never reads. The master keeps changing (frameworks re-subscribing with
big names); the stream is cut once its buffer fills, instead of growing without bound,
while a client that reads keeps its stream."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from actors import protocol as p
from actors.gateway import HttpGateway, LeaderInfo
from actors.master import MasterActor, MemoryRegistryStore
from actors.mesos_api._operator import OperatorRelay, operator_routes
from runtime import Node
from runtime.testing import wait_for
from transport import Security

pytestmark = pytest.mark.slow

BUFFER = 512 * 1024


@pytest.fixture
def world() -> Iterator[Any]:
    node = Node("op-stream")
    node.listen(security=Security.plain())
    address = node.actor_address("master")
    master = node.spawn(MasterActor, None, MemoryRegistryStore(), address=address, name="master")
    holder: dict[str, Any] = {}
    gw = HttpGateway(
        leader=lambda: LeaderInfo(holder["url"], address),
        is_leader=lambda: True,
        master=lambda: master,
        resolve=node.ref,
    )
    ctx = SimpleNamespace(node=node, master_address=address, gateway=gw)
    gw.add_routes(operator_routes(ctx, max_stream_bytes=BUFFER))
    gw.start()
    holder["url"] = gw.url
    try:
        yield SimpleNamespace(node=node, master=master, gateway=gw, address=address)
    finally:
        gw.stop()
        node.shutdown(timeout=5)


def subscribe(port: int, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    body = b'{"type": "SUBSCRIBE"}'
    s.sendall(
        b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    return s


def relay_streams(node: Node) -> int:
    relays = [a for a in node.actors() if isinstance(a, OperatorRelay)]
    return sum(len(r.pending) + len(r.active) for r in relays)


def test_a_client_that_never_reads_is_disconnected_when_its_buffer_fills(world: Any) -> None:
    stalled = subscribe(world.gateway.port, rcvbuf=4096)
    reader = subscribe(world.gateway.port)
    wait_for(lambda: relay_streams(world.node) == 2, 10, "both streams joined")
    got = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := reader.recv(1 << 20):
                got.extend(chunk)

    threading.Thread(target=read, daemon=True).start()
    size = 1000  # every FRAMEWORK_ADDED/UPDATED carries the name: ~1 kB per event
    me = world.node.actor_address("nobody")
    sent = 0
    while relay_streams(world.node) == 2 and sent < 20_000:
        for _ in range(20):
            sent += 1
            name = f"{'x' * size}-{sent:08d}"
            info = p.FrameworkInfo(name, ["*"], 60.0, framework_id="fw-1")
            world.master.tell(p.Subscribe(info, me))
        world.master.ask(p.GetState("metrics"))  # the master has applied them
        # Pace the producer on the READER (its backlog stays ~20 kB, far below the
        # bound, however loaded the machine is): only the stalled stream can fill up.
        marker = name.encode()
        wait_for(lambda m=marker: m in got or relay_streams(world.node) != 2, 20, "the reader")
    wait_for(lambda: relay_streams(world.node) == 1, 20, "the stalled stream dropped")
    assert sent * size > 4 * BUFFER  # more than the bound was produced before the cut

    # The stalled client finds its connection closed after what the kernel buffered.
    stalled.settimeout(10)
    total = 0
    with pytest.raises((ConnectionResetError, EOFError)):
        while True:
            chunk = stalled.recv(1 << 20)
            if not chunk:
                raise EOFError
            total += len(chunk)
    # The reading client still has its stream: it got everything, the stalled one less.
    last = f"fw-1-{sent}".encode()
    world.master.tell(p.Subscribe(p.FrameworkInfo(last.decode(), ["*"], 60.0, "fw-1"), me))
    wait_for(lambda: last in got, 10, "the reader's latest event")
    assert total < len(got)
    stalled.close()
    reader.close()
