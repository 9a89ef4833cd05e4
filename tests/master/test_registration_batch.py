"""A registration flood: the master writes the new agents' registry records in a few
multi writes (``save_many``) and tells every agent only once its record is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterActor, MasterConfig, MemoryRegistryStore
from actors.resources import Resources
from runtime import Actor, ActorRef, Node
from runtime.testing import wait_for


class SlowStore(MemoryRegistryStore):
    """Records how records arrive; the first write is slow, so a flood queues behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.first = threading.Event()

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if kind == "agents" and not self.first.is_set():
            self.first.set()
            time.sleep(0.5)
        self.batches.append(1)
        super().save(kind, key, doc)

    def save_many(self, docs: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.batches.append(len(docs))
        for kind, key, doc in docs:
            MemoryRegistryStore.save(self, kind, key, doc)


class Agents(Actor):
    """Plays every agent: notes each ``AgentRegistered`` and whether its record was
    already stored when it came."""

    def __init__(self, store: SlowStore) -> None:
        super().__init__()
        self.store = store
        self.told: list[tuple[str, bool]] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.AgentRegistered):
            stored = message.agent_id in self.store.docs.get("agents", {})
            self.told.append((message.agent_id, stored))
        elif message == "told":
            return list(self.told)
        return None


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def test_a_flood_is_written_in_batches_and_told_after_its_records(node: Node) -> None:
    store = SlowStore()
    agents = node.spawn(Agents, store, name="agents")

    def resolve(address: str) -> ActorRef:
        return agents if "/fake" in address else node.ref(address.rsplit("/", 1)[1])

    master = node.spawn(
        MasterActor,
        "m1",
        store,
        address="tcp://h:1/master",
        config=MasterConfig(ping_interval=60.0),
        resolve=resolve,
        name="master",
    )
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    for i in range(300):
        master.tell(p.RegisterAgent(f"host{i}", f"tcp://10.0.{i // 250}.{i % 250}:5051/fake", res))
    told = wait_for(lambda: len(agents.ask("told")) == 300 and agents.ask("told"), what="300")
    assert all(stored for _, stored in told)  # every agent told after its record
    assert len(store.docs["agents"]) == 300
    assert max(store.batches) > 1 and len(store.batches) < 300  # batched while queued


@pytest.mark.slow
def test_the_zookeeper_registry_writes_many_records_and_existing_ones(zk_client: Any) -> None:
    from actors.master import ZkRegistryStore
    from zk import StateStore

    reg = ZkRegistryStore(StateStore(zk_client, "/registry"))
    reg.save("agents", "a-S1", {"agent_id": "a-S1", "n": 0})  # exists: written on its own
    docs = [("agents", f"a-S{i}", {"agent_id": f"a-S{i}", "n": i}) for i in range(1, 400)]
    reg.save_many(docs)
    loaded = {d["agent_id"]: d["n"] for d in reg.load("agents")}
    assert loaded == {f"a-S{i}": i for i in range(1, 400)}
