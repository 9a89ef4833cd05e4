"""A MasterActor on one in-process node, made busy on demand: what queues in its inbox
meanwhile arrives as a burst (coalescing tests: watches, allocations)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from actors.master import MasterActor, MasterConfig, MemoryRegistryStore
from runtime import ActorRef, Node


class SlowStore(MemoryRegistryStore):
    """Once ``slow`` is set, the next framework record takes 0.5 s to write: whatever is
    sent to the master meanwhile queues in its inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = threading.Event()

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if kind == "frameworks" and self.slow.is_set():
            self.slow.clear()
            time.sleep(0.5)
        super().save(kind, key, doc)


def local_node() -> Iterator[Node]:
    """A node for a test (yield from it in a fixture), shut down after."""
    node = Node("test", on_fatal=lambda reason: None)
    yield node
    node.shutdown(timeout=5)


def spawn_master(
    node: Node,
    store: MemoryRegistryStore,
    config: MasterConfig | None = None,
    peers: ActorRef | None = None,
) -> ActorRef:
    """The master at ``tcp://h:1/master``, no periodic tick (60 s away); an address with
    ``/fake`` resolves to ``peers`` (one actor playing frameworks and agents), any other
    to the node's actor of that name."""

    def resolve(address: str) -> ActorRef:
        if peers is not None and "/fake" in address:
            return peers
        return node.ref(address.rsplit("/", 1)[1])

    return node.spawn(
        MasterActor,
        "m1",
        store,
        address="tcp://h:1/master",
        config=config or MasterConfig(ping_interval=60.0),
        tick_interval=60.0,
        resolve=resolve,
        name="master",
    )
