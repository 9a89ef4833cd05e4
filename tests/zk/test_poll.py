"""``zk._poll``: kazoo's ``select`` by one ``poll(2)`` (real sockets; a real server in the
last test)."""

from __future__ import annotations

import socket
import time

import pytest

from zk import ZooKeeperServer, connect
from zk._poll import PollHandler, poll_select


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_nothing_to_read_times_out_empty(pair):
    a, _ = pair
    t0 = time.monotonic()
    assert poll_select([a], [], [], 0.05) == ([], [], [])
    assert time.monotonic() - t0 >= 0.04


def test_readable_and_writable_as_select_answers(pair):
    a, b = pair
    assert poll_select([a], [a], [], 1.0) == ([], [a], [])  # nothing to read, room to write
    b.sendall(b"x")
    assert poll_select([a], [a], [], 1.0) == ([a], [], [])  # readable wins, as kazoo's
    assert poll_select([a.fileno()], [], [], 0) == ([a.fileno()], [], [])


def test_a_closed_peer_is_readable_so_the_read_says_so(pair):
    a, b = pair
    b.close()
    assert poll_select([a], [], [], 1.0) == ([a], [], [])
    assert a.recv(1) == b""


def test_bad_arguments_are_refused(pair):
    a, _ = pair
    with pytest.raises(ValueError, match="non-negative"):
        poll_select([a], [], [], -1)
    with pytest.raises(TypeError, match="number"):
        poll_select([a], [], [], "1")  # type: ignore[arg-type]
    closed = socket.socket()
    closed.close()
    with pytest.raises(ValueError, match="Invalid file descriptor"):
        poll_select([closed], [], [], 0)


def test_descriptors_past_select_s_limit():
    """``select(2)`` cannot watch a descriptor numbered 1024 or more; ``poll(2)`` can."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"descriptor limit {hard}")
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    a, b = socket.socketpair()
    high = os.dup2(a.fileno(), 1500)
    try:
        b.sendall(b"x")
        assert poll_select([high], [], [], 1.0) == ([high], [], [])
    finally:
        os.close(high)
        a.close()
        b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_client_works_through_it():
    with ZooKeeperServer() as server:
        client = connect(server.hosts)
        try:
            assert isinstance(client.handler, PollHandler)
            client.create("/poll", b"v")
            got = [client.get_async("/poll") for _ in range(200)]
            assert {r.get(timeout=10)[0] for r in got} == {b"v"}
        finally:
            client.stop()
            client.close()
