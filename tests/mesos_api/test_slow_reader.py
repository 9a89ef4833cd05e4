"""A subscriber that never reads its stream cannot grow the master: past the bound its
stream is cut and its bridge stopped (so the master disconnects the framework).

Real pieces: the scheduler endpoint on an aiohttp server, a bridge actor on a node with
the real ZeroMQ transport, a TCP client with a tiny receive buffer that stops reading.
The master is ``FrameworkHarness`` (it plays the master for one framework), which lets
the test push thousands of status updates at the stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from actors.framework.testing import FrameworkHarness
from actors.mesos_api._scheduler import SchedulerApi
from runtime import Node
from runtime.testing import wait_for
from transport import Security

BOUND = 16 * 1024


@pytest.fixture
def endpoint() -> Iterator[tuple[SchedulerApi, FrameworkHarness, int]]:
    node = Node("slow-reader")
    node.listen("tcp://127.0.0.1:0", security=Security.plain())
    assert node.address is not None
    harness = FrameworkHarness(node, host=node.address)
    api = SchedulerApi(
        node,
        harness.address,
        hostname="test",
        http_url=lambda: "http://127.0.0.1:1",
        version="1.11.0",
        max_queued_bytes=BOUND,
    )
    api.start_leading()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.add_routes(api.routes())
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(runner.addresses[0][1])
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield api, harness, port[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        node.shutdown(10)


def subscribe_and_stop_reading(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    body = json.dumps(
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "sleepy", "user": "x"}}}
    )
    s.sendall(
        (
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)  # the headers only; then the client reads nothing more
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def test_a_client_that_never_reads_is_cut_off_and_its_framework_let_go(
    endpoint: tuple[SchedulerApi, FrameworkHarness, int],
) -> None:
    api, harness, port = endpoint
    client = subscribe_and_stop_reading(port)
    try:
        assert harness.wait_subscribed(10)
        (sub,) = wait_for(lambda: list(api.streams.values()), 10, "the stream")
        biggest: list[int] = [0]
        sent = 0

        def flood() -> Any:
            nonlocal sent
            for _ in range(200):
                harness.update(f"task-{sent}", "TASK_RUNNING", message="x" * 200)
                sent += 1
            biggest[0] = max(biggest[0], sub.queued)
            return sub.closed

        reason = wait_for(flood, 60, "the stream to be cut off", interval=0.01)
        assert "read too slowly" in reason
        assert biggest[0] <= BOUND + 1024  # never more than the bound and one event
        wait_for(lambda: not api.streams, 10, "the stream to be forgotten")
        wait_for(lambda: sub.bridge is None, 10, "the bridge to be stopped")
    finally:
        client.close()
