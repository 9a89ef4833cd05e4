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


def test_services_with_a_warm_copy_start_first_the_others_in_order() -> None:
    """On election Marathon (``warm_stores``) starts before IAM and the rest: the
    supervisor starts them one at a time, and a new leader's Marathon start is on the
    path from the election to the first POST taken."""
    from actors.master._process import _warm_first

    class Plain:
        warm_stores: tuple[object, ...] = ()

        def __init__(self, name: str) -> None:
            self.name = name

    class Warm(Plain):
        warm_stores = (("/x", ("a",), None),)

    given = [Plain("iam"), Warm("marathon"), Plain("metronome"), Warm("other"), Plain("pkg")]
    assert [s.name for s in _warm_first(given)] == ["marathon", "other", "iam", "metronome", "pkg"]
    assert _warm_first([]) == []


def test_a_standby_keeps_each_services_copy_with_the_options_it_declares(
    zk_hosts: str, zk_chroot: str
) -> None:
    """``warm_stores`` entries ``(root, prefixes[, prepare[, options]])``: the standby's
    copies get the prepare and the ``StoreMirror`` options (Metronome's interval)."""
    from actors.marathon import MarathonService
    from actors.master import MasterOptions, MasterProcess
    from actors.metronome import MetronomeService
    from actors.metronome._actor import prepare_entry
    from actors.metronome._service import MIRROR_INTERVAL, MIRROR_OPTIONS
    from transport import Security
    from zk._mirror import DEFAULT_INTERVAL

    options = MasterOptions(
        zk=f"{zk_hosts}{zk_chroot}",
        security=Security.plain(),
        services=(MarathonService(), MetronomeService()),
    )
    proc = MasterProcess(options)
    roots = proc._warm_roots()
    assert roots["/metronome"][1:] == (prepare_entry, MIRROR_OPTIONS)
    assert roots["/marathon"][2] == {} and roots[REGISTRY_ROOT] == (REGISTRY_MIRRORED, None, {})
    proc._connect_args = {"hosts": f"{zk_hosts}{zk_chroot}"}
    proc._start_mirrors()
    try:
        assert proc.mirrors["/metronome"].interval == MIRROR_INTERVAL
        assert proc.mirrors["/metronome"].decode_per_round == MIRROR_OPTIONS["decode_per_round"]
        assert proc.mirrors["/metronome"].prepare is prepare_entry
        assert proc.mirrors["/marathon"].interval == DEFAULT_INTERVAL
    finally:
        proc._close_mirrors()
        proc.node.shutdown(5)
