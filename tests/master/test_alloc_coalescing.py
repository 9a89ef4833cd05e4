"""Event-triggered allocation is coalesced: a burst of registrations queued behind a
busy master costs one allocation cycle (Mesos batches its allocator the same way), not
one full cycle over every agent per registration; a lone event still gets its offers at
once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MemoryRegistryStore
from actors.resources import Resources
from runtime import Actor, ActorRef, Node
from runtime.testing import wait_for
from tests.master._busy_master import SlowStore, local_node, spawn_master

N = 200


class Peers(Actor):
    """Plays the framework and every agent: notes the offered agent ids."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[str] = []
        self.subscribed = False

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.Subscribed):
            self.subscribed = True
        elif isinstance(message, p.Offers):
            self.offered += [o.agent_id for o in message.offers]
        elif message == "offered":
            return list(self.offered)
        elif message == "subscribed":
            return self.subscribed
        return None


@pytest.fixture
def node() -> Iterator[Node]:
    yield from local_node()


def _master(node: Node, store: MemoryRegistryStore, peers: ActorRef) -> ActorRef:
    # No periodic cycle during the test and no minimum interval: before coalescing,
    # every registration ran its own full cycle.
    config = MasterConfig(ping_interval=60.0, allocation_interval=0.0)
    return spawn_master(node, store, config, peers)


def _metrics(master: ActorRef) -> dict[str, Any]:
    doc = master.ask(p.GetState("metrics"))
    assert isinstance(doc, dict)
    return doc


def test_a_burst_of_registrations_is_one_allocation_cycle(node: Node) -> None:
    store = SlowStore()
    peers = node.spawn(Peers, name="peers")
    master = _master(node, store, peers)
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    store.slow.set()
    master.tell(p.Subscribe(p.FrameworkInfo("fw", failover_timeout=60.0), "tcp://h:2/fake"))
    for i in range(N):  # queued while the framework's record is written
        master.tell(p.RegisterAgent(f"host{i}", f"tcp://10.0.{i // 250}.{i % 250}:5051/fake", res))
    offered = wait_for(lambda: len(peers.ask("offered")) == N and peers.ask("offered"), what="N")
    assert len(set(offered)) == N  # every new agent offered once
    assert _metrics(master)["alloc_cycles"] <= 2  # was N: one full cycle per registration


def test_a_lone_event_is_offered_without_a_tick(node: Node) -> None:
    store = MemoryRegistryStore()
    peers = node.spawn(Peers, name="peers")
    master = _master(node, store, peers)
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    master.tell(p.Subscribe(p.FrameworkInfo("fw", failover_timeout=60.0), "tcp://h:2/fake"))
    wait_for(lambda: peers.ask("subscribed"), what="subscribed")
    for i in range(3):  # one at a time: each gets its offer with no Tick (60 s away)
        master.tell(p.RegisterAgent(f"host{i}", f"tcp://10.0.0.{i}:5051/fake", res))

        def offered(n: int = i + 1) -> bool:
            return len(peers.ask("offered")) == n

        wait_for(offered, what=f"offer {i}")
    assert _metrics(master)["alloc_cycles"] == 3


class Holder(Actor):
    """A framework that holds every offer (and remembers them) and plays every agent."""

    def __init__(self) -> None:
        super().__init__()
        self.framework_id = ""
        self.offer_ids: list[str] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.Subscribed) and not self.framework_id:
            self.framework_id = message.framework_id
        elif isinstance(message, p.Offers):
            self.offer_ids += [o.offer_id for o in message.offers]
        elif message == "seen":
            return self.framework_id, list(self.offer_ids)
        return None


def _one_offer(node: Node, store: MemoryRegistryStore) -> tuple[ActorRef, ActorRef, str, str]:
    """A master with framework "fw" (played by a Holder) holding its one agent's offer:
    (master, holder, framework id, offer id)."""
    holder = node.spawn(Holder, name="holder")
    master = _master(node, store, holder)
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    master.tell(p.Subscribe(p.FrameworkInfo("fw", failover_timeout=60.0), "tcp://h:2/fake"))
    master.tell(p.RegisterAgent("host0", "tcp://10.0.0.1:5051/fake", res))
    fid, (offer_id,) = wait_for(lambda: holder.ask("seen")[1] and holder.ask("seen"), what="offer")
    return master, holder, fid, offer_id


def test_a_master_whose_inbox_never_empties_allocates_when_a_cycle_is_due(node: Node) -> None:
    # Queued behind everything, a busy leader's cycles came one per queue drain (0.8 s
    # apart at 10,000 agents, each taking in 0.8 s of changes); now a change allocates as
    # soon as a cycle is due (the pace: 3x the last turn's cost), queue or not.
    store = SlowStore()
    master, holder, fid, offer_id = _one_offer(node, store)
    store.slow.set()
    # A 0.5 s framework write holds the master: the decline, 20,000 calls that change
    # nothing, and the metrics ask all queue behind it, in this order.
    master.tell(p.Subscribe(p.FrameworkInfo("blocker", failover_timeout=60.0), "tcp://h:3/fake"))
    master.tell(p.Decline(fid, [offer_id], 0.0))
    for _ in range(20_000):
        master.tell(p.Decline(fid, ["no-such-offer"], 0.0))
    metrics = _metrics(master)
    assert metrics["offers_made"] == 2, metrics  # re-offered while the 20,000 were queued
    wait_for(lambda: len(holder.ask("seen")[1]) == 2, what="the re-offer")


def test_metrics_list_the_cycle_times_only_when_asked(node: Node) -> None:
    master, _, _, _ = _one_offer(node, MemoryRegistryStore())
    plain = _metrics(master)
    assert "alloc_cycle_ms_last" not in plain  # `pydcos actor ask master` stays short
    doc = master.ask(p.GetState("metrics", {"cycle_times": True}))
    times = doc["alloc_cycle_ms_last"]
    assert len(times) == doc["alloc_cycles"] >= 1
    assert all(isinstance(t, float) and t >= 0 for t in times)
