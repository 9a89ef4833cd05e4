"""FakeNetwork fault injection, deterministic (manual clock)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from transport import Envelope, FakeNetwork, Kind


class Node:
    def __init__(self, net: FakeNetwork, address: str) -> None:
        self.got: list[Any] = []
        self.downs: list[str] = []
        self.t = net.transport(
            address,
            on_envelope=lambda e: self.got.append(e.body),
            on_peer_down=self.downs.append,
            heartbeat_interval=1.0,
            heartbeat_timeout=3.0,
        ).start()

    def tell(self, peer: Node, body: Any) -> None:
        self.t.send(
            peer.t.address,
            Envelope(sender_node=self.t.address, target="x", kind=Kind.TELL, body=body),
        )


@pytest.fixture
def net() -> Iterator[FakeNetwork]:
    n = FakeNetwork(manual=True, seed=7)
    yield n
    n.close()


def test_drop_count_loses_exactly_the_next_frames(net: FakeNetwork) -> None:
    a, b = Node(net, "a"), Node(net, "b")
    net.drop("a", "b", count=3)
    for i in range(6):
        a.tell(b, i)
    net.flush()
    assert b.got == [3, 4, 5]
    assert net.counters["dropped"] == 3


def test_drop_probability_is_reproducible_with_a_seed() -> None:
    def run() -> list[int]:
        n = FakeNetwork(manual=True, seed=42)
        a, b = Node(n, "a"), Node(n, "b")
        n.drop("a", "b", probability=0.5)
        for i in range(200):
            a.tell(b, i)
        n.flush()
        return list(b.got)

    first = run()
    assert 50 < len(first) < 150
    assert run() == first


def test_cut_partitions_both_ways_and_heal_restores(net: FakeNetwork) -> None:
    a, b, c = Node(net, "a"), Node(net, "b"), Node(net, "c")
    net.cut("a", "b")
    a.tell(b, 1)
    b.tell(a, 2)
    a.tell(c, 3)
    net.flush()
    assert (a.got, b.got, c.got) == ([], [], [3])
    net.heal()
    a.tell(b, 4)
    net.flush()
    assert b.got == [4]


def test_cut_makes_peers_go_down_after_the_heartbeat_timeout(net: FakeNetwork) -> None:
    a, b = Node(net, "a"), Node(net, "b")
    a.tell(b, "hello")  # a now watches b
    net.advance(2.0)
    assert a.downs == []
    net.cut("a", "b")
    net.advance(2.5)
    assert a.downs == []  # not yet: timeout is 3 s of silence
    net.advance(2.0)
    assert a.downs == ["b"]
    net.heal()
    net.advance(2.0)
    assert a.t.counters["peer:up"] == 1
    net.advance(10.0)
    assert a.downs == ["b"]


def test_isolate_cuts_a_node_from_everyone(net: FakeNetwork) -> None:
    a, b, c = Node(net, "a"), Node(net, "b"), Node(net, "c")
    net.isolate("c")
    a.tell(c, 1)
    c.tell(b, 2)
    a.tell(b, 3)
    net.flush()
    assert (b.got, c.got) == ([3], [])
    b.tell(c, 4)
    net.advance(4.0)
    assert b.downs == ["c"]


def test_fake_decodes_strictly_like_the_real_transport(net: FakeNetwork) -> None:
    a, b = Node(net, "a"), Node(net, "b")
    net._post(("a", "b", b"\x93\x01\x02\x03", None))  # a 3-item array is no envelope
    net._post(("a", "b", b"\xdd\xff\xff\xff\xff", None))
    net.flush()
    assert b.t.counters == {"decode:bad_envelope": 1, "decode:huge_length": 1}
    a.tell(b, "ok")
    net.flush()
    assert b.got == ["ok"]
