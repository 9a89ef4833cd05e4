"""Leadership terms are one cluster-wide, growing number (real ZooKeeper).

The incident: after a failover both leaders' logs said "term 1", so logs could not
tell the leaderships apart or order them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import Election, LeaderInfo, expire_session, read_contenders
from zk._election import read_term, term_path

pytestmark = pytest.mark.zk


def contender(client: KazooClient, name: str, terms: list[tuple[str, int]]) -> Election:
    e = Election(
        client,
        LeaderInfo(address=f"tcp://{name}:5050"),
        on_elected=lambda term: terms.append((name, term)),
    )
    return e.start()


def test_terms_grow_across_leaders_and_are_shared(
    zk_connect: Callable[..., KazooClient],
) -> None:
    terms: list[tuple[str, int]] = []
    observer = zk_connect()
    assert read_term(observer) == 0
    e1 = contender(zk_connect(), "m1", terms)
    assert e1.wait_leader(10)
    e2 = contender(zk_connect(), "m2", terms)
    wait_for(lambda: e2.node is not None, what="m2 in line")
    e1.abdicate()  # m1 hands over and queues up again
    assert e2.wait_leader(10)
    wait_for(lambda: len(read_contenders(observer)) == 2, what="m1 back in line")
    expire_session(e2.client)  # m2 loses its session: m1 leads again
    wait_for(lambda: len(terms) == 3, what="a third leadership")
    assert terms == [("m1", 1), ("m2", 2), ("m1", 3)]
    assert (e1.term, e2.term) == (3, 2)
    assert read_term(observer) == 3
    # The counter is a sibling of the members, never mistaken for one.
    assert term_path("/election") == "/election-term"
    assert observer.exists("/election-term").version == 3
    assert "election-term" in observer.get_children("/")
    assert all(name.startswith("member_") for name in observer.get_children("/election"))
    e1.stop()
    e2.stop()


def test_a_leader_reelected_after_losing_its_session_gets_a_new_term(
    zk_connect: Callable[..., KazooClient],
) -> None:
    terms: list[tuple[str, int]] = []
    e1 = contender(zk_connect(), "m1", terms)
    assert e1.wait_leader(10)
    expire_session(e1.client)
    wait_for(lambda: len(terms) == 2, what="re-elected")
    assert [t for _, t in terms] == [1, 2]
    e1.stop()
