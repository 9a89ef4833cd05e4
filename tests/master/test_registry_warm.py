"""The master's agent registry loaded from a standby's warm copy (``zk.StoreMirror``)
equals its load from ZooKeeper, after agents written, rewritten and removed while the
copy ran (and a foreign document, skipped both ways). Real ZooKeeper."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from actors.master._process import REGISTRY_MIRRORED, REGISTRY_ROOT, ZkRegistryStore
from runtime.testing import wait_for
from zk import StateStore, StoreMirror

pytestmark = pytest.mark.zk


def _churn(registry: ZkRegistryStore, rng: random.Random, n: int) -> None:
    for _ in range(n):
        agent = f"agent-{rng.randrange(40)}"
        roll = rng.random()
        if roll < 0.6:
            registry.save("agents", agent, {"id": agent, "hostname": f"h{rng.random()}"})
        elif roll < 0.7:
            registry.save_many([("agents", f"agent-{rng.randrange(40, 80)}", {"id": "x"})])
        elif roll < 0.95:
            registry.delete("agents", agent)
        else:
            registry.store.put(f"agents/{agent}", ["not", "an", "object"])


def test_registry_load_from_the_warm_copy_equals_a_load_from_zookeeper(
    zk_connect: Callable[..., KazooClient],
) -> None:
    rng = random.Random(5)
    writer = ZkRegistryStore(StateStore(zk_connect(), REGISTRY_ROOT))
    _churn(writer, rng, 60)
    mirror = StoreMirror(zk_connect(), REGISTRY_ROOT, REGISTRY_MIRRORED, interval=0.05)
    mirror.start()
    wait_for(lambda: mirror.ready, timeout=20)
    _churn(writer, rng, 80)
    warm = ZkRegistryStore(StateStore(zk_connect(), REGISTRY_ROOT), mirror=mirror)
    cold = ZkRegistryStore(StateStore(zk_connect(), REGISTRY_ROOT))
    assert warm.load("agents") == cold.load("agents")
    assert mirror.closed.is_set() and warm.mirror is None
    assert warm.load("frameworks") == cold.load("frameworks") == []
    assert warm.load("agents") == cold.load("agents")  # read from ZooKeeper now
