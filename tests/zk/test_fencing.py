"""Fencing of leader writes against the real ZooKeeper: a deposed leader's late write
is refused by the server (the term check inside the write's transaction), whatever
kind of write it is, and nothing it tried is visible."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import (
    Delete,
    Election,
    Fence,
    Fenced,
    LeaderInfo,
    Put,
    StateStore,
    expire_session,
    read_term,
)

pytestmark = pytest.mark.zk


def _contender(client: KazooClient, name: str) -> Election:
    return Election(client, LeaderInfo(address=f"tcp://{name}:5050")).start()


def test_a_deposed_leaders_late_writes_are_refused_and_leave_nothing(
    zk_connect: Callable[..., KazooClient],
) -> None:
    c1, c2 = zk_connect(), zk_connect()
    e1 = _contender(c1, "m1")
    assert e1.wait_leader(10)
    e2 = _contender(c2, "m2")
    wait_for(lambda: e2.node is not None, what="m2 in line")
    old = e1.fence()
    assert old.version == e1.term == read_term(c1)
    s1 = StateStore(c1, "/st", fence=old)
    s1.create("apps/web", {"instances": 1})
    s1.create("apps/db", {"instances": 1})
    s1.put("apps/big", {"blob": "x" * 300_000})  # chunked

    expire_session(c1)  # m1 is cut off; m2 wins with the next term
    wait_for(lambda: e2.is_leader, what="m2 leads")
    assert not e1.is_leader and e2.term > old.version
    s2 = StateStore(c2, "/st", fence=e2.fence())
    s2.put("apps/web", {"instances": 5})

    # The old leader's late writes, from code that has not seen the revocation yet
    # (no local gate): ZooKeeper refuses each one in the same transaction.
    late = StateStore(c1, "/st", fence=Fence(old.path, old.version))
    attempts: list[Callable[[], object]] = [
        lambda: late.put("apps/web", {"instances": 0}),
        lambda: late.create("apps/new", {"instances": 9}),
        lambda: late.delete("apps/db"),
        lambda: late.update("apps/web", lambda v: {"instances": 0}),
        lambda: late.put("apps/big", {"blob": "y" * 300_000}),
        lambda: late.write_many([Put("apps/web", {"instances": 0}, None), Delete("apps/db", 0)]),
    ]
    for attempt in attempts:
        with pytest.raises(Fenced, match=f"term {old.version} is over"):
            attempt()
    reader = StateStore(c2, "/st")
    assert reader.require("apps/web").value == {"instances": 5}
    assert reader.require("apps/db").value == {"instances": 1}
    assert reader.get("apps/new") is None
    assert reader.require("apps/big").value == {"blob": "x" * 300_000}
    # The local gate: the old leader's own fence refuses before any round trip.
    with pytest.raises(Fenced, match="stopped leading"):
        StateStore(c1, "/st", fence=old).put("apps/web", {"instances": 0})
    # The new leader writes on, inline, chunked and batched.
    s2.put("apps/big", {"blob": "z" * 300_000})
    assert s2.write_many([Delete("apps/db", 0)]) == {"apps/db": None}
    e1.stop()
    e2.stop()


def test_a_fence_on_a_missing_term_znode_refuses(
    zk_client: KazooClient,
) -> None:
    store = StateStore(zk_client, "/st", fence=Fence("/no-such-term", 3))
    with pytest.raises(Fenced, match="term znode is gone"):
        store.create("k", 1)
    assert StateStore(zk_client, "/st").get("k") is None
