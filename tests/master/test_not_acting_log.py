"""A master actor without its lease drops every effect (fencing) and says so, but at
most once per ``DROP_LOG_INTERVAL``: draining a failover's queue of re-registrations
without the lease logged one warning per message (1.5% of that leader's CPU)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from actors import protocol as p
from actors.master import MasterActor, MasterConfig, MemoryRegistryStore
from actors.master._actor import DROP_LOG_INTERVAL
from actors.resources import Resources
from runtime import Node
from runtime._clock import ManualClock

RES = Resources.parse("cpus:1;mem:64").to_dict()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
def node(clock: ManualClock) -> Iterator[Node]:
    n = Node("test", clock, on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def test_drops_are_counted_and_logged_once_per_interval(
    node: Node, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryRegistryStore()
    master = node.spawn(
        MasterActor,
        "m1",
        store,
        address="tcp://h:1/master",
        config=MasterConfig(ping_interval=60.0),
        may_act=lambda: False,
        name="master",
    )

    def register(i: int) -> None:
        master.tell(p.RegisterAgent(f"h{i}", f"tcp://127.0.0.1:{7000 + i}/agent", RES))
        master.ask(p.GetState("metrics"), timeout=10)  # handled (and dropped) by now

    caplog.set_level(logging.WARNING, logger="actors.master")
    for i in range(20):
        register(i)
    warned = [r.getMessage() for r in caplog.records if "not acting" in r.getMessage()]
    assert len(warned) == 1, warned
    assert store.docs.get("agents", {}) == {}, "nothing was written without the lease"
    clock.advance(DROP_LOG_INTERVAL)
    register(20)
    warned = [r.getMessage() for r in caplog.records if "not acting" in r.getMessage()]
    assert len(warned) == 2, warned
    assert warned[1].endswith("so far)") and "(" in warned[1]
    so_far = int(warned[1].rsplit("(", 1)[1].split()[0])
    assert so_far >= 2 * 21, "every dropped effect was counted (a Persist and a Send each)"
