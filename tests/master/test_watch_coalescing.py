"""WatchMasters queued behind a busy master cost one SUBSCRIBED per subscriber.

An observer (DNS, l4lb) re-sends an unanswered WatchMaster. Behind a new leader's
re-registration storm several copies queue up, and each used to cost a whole state
(v1 GET_STATE of every task): a third of a new leader's CPU at 5,000 agents / 50,000
tasks. A lone WatchMaster is still answered at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from runtime import Actor, Node
from runtime.testing import wait_for
from tests.master._busy_master import SlowStore, local_node, spawn_master


class Observer(Actor):
    """Counts the SUBSCRIBED events it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed = 0
        self.events = 0

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.MasterEvent):
            self.events += 1
            if message.seq == 1 and message.event.get("type") == "SUBSCRIBED":
                self.subscribed += 1
        elif message == "count":
            return self.subscribed
        return None


@pytest.fixture
def node() -> Iterator[Node]:
    yield from local_node()


def test_queued_copies_of_a_watch_cost_one_subscribed_each_subscriber(node: Node) -> None:
    store = SlowStore()
    dns = node.spawn(Observer, name="dns")
    l4lb = node.spawn(Observer, name="l4lb")
    master = spawn_master(node, store)
    store.slow.set()
    master.tell(p.Subscribe(p.FrameworkInfo("fw", failover_timeout=60.0), "tcp://h:2/dns"))
    for _ in range(5):  # queued while the framework's record is written
        master.tell(p.WatchMaster("tcp://h:3/dns"))
        master.tell(p.WatchMaster("tcp://h:3/l4lb"))
    wait_for(lambda: dns.ask("count") >= 1 and l4lb.ask("count") >= 1, what="subscribed")
    master.ask(p.GetState("metrics"))  # everything queued before it is handled
    assert (dns.ask("count"), l4lb.ask("count")) == (1, 1)
    # Later, alone: answered at once, a fresh SUBSCRIBED.
    master.tell(p.WatchMaster("tcp://h:3/dns"))
    wait_for(lambda: dns.ask("count") == 2, what="second subscribed")


def test_an_unwatch_queued_after_a_watch_wins(node: Node) -> None:
    store = SlowStore()
    dns = node.spawn(Observer, name="dns")
    master = spawn_master(node, store)
    store.slow.set()
    master.tell(p.Subscribe(p.FrameworkInfo("fw", failover_timeout=60.0), "tcp://h:2/dns"))
    master.tell(p.WatchMaster("tcp://h:3/dns"))
    master.tell(p.UnwatchMaster("tcp://h:3/dns"))
    master.ask(p.GetState("metrics"))
    assert dns.ask("count") == 0
