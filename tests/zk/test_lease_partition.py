"""A leader cut off from ZooKeeper stops acting before another can be elected.

The partition is real traffic loss: the leader's client talks to the real server
through a loopback relay that, when frozen, silently drops everything in both
directions (no FIN, no RST: what a network partition looks like to both ends). The
order is what matters, not timings: the cut-off leader's ``is_leader`` is False and
its ``on_revoked`` ran before the other contender's ``on_elected``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import Election, LeaderInfo, close_quietly, connect

pytestmark = pytest.mark.zk


class Relay:
    """A TCP relay from a free loopback port to ``target``; ``freeze()`` drops traffic."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.frozen.is_set():
                continue  # a partitioned host's new connections go nowhere either
            server = socket.create_connection(self.target)
            self.socks += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.frozen.is_set():
                continue  # dropped on the floor
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for s in self.socks:
            s.close()


def test_a_leader_partitioned_from_zookeeper_stops_before_the_next_one_starts(
    zk_hosts: str, zk_chroot: str, zk_connect: Callable[..., KazooClient]
) -> None:
    host, port = zk_hosts.split(",")[0].rsplit(":", 1)
    relay = Relay((host, int(port)))
    c1: KazooClient | None = None
    events: list[tuple[str, str, float]] = []
    try:
        c1 = connect(f"127.0.0.1:{relay.port}", chroot=zk_chroot)
        e1 = Election(
            c1,
            LeaderInfo(address="tcp://m1:5050"),
            on_elected=lambda t: events.append(("m1", "elected", time.monotonic())),
            on_revoked=lambda r: events.append(("m1", f"revoked:{r}", time.monotonic())),
        ).start()
        assert e1.wait_leader(10) and e1.is_leader
        e2 = Election(
            zk_connect(),
            LeaderInfo(address="tcp://m2:5050"),
            on_elected=lambda t: events.append(("m2", "elected", time.monotonic())),
        ).start()
        wait_for(lambda: e2.node is not None, what="m2 in line")
        fence = e1.fence()

        relay.frozen.set()
        wait_for(lambda: e2.is_leader, timeout=30, what="m2 elected after m1's session expired")
        stopped = next(t for who, what, t in events if who == "m1" and what.startswith("revoked"))
        elected = next(t for who, what, t in events if who == "m2" and what == "elected")
        assert stopped < elected  # never two leaders acting at once
        assert not e1.is_leader and fence.active is not None and not fence.active()
        e2.stop()
    finally:
        relay.close()
        if c1 is not None:
            close_quietly(c1)
