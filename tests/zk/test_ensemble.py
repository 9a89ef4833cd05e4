"""A 3-server ensemble under faults: the masters' view when ZooKeeper itself breaks.

Rule checked (Mesos/Marathon): losing ZooKeeper makes the leader step down; when a
quorum returns, a leader is elected again, and nothing in the state store is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from runtime.testing import wait_for
from zk import Election, LeaderInfo, StateStore, ZooKeeperEnsemble, close_quietly, connect

pytestmark = [pytest.mark.zk, pytest.mark.slow]


@pytest.fixture(scope="module")
def ensemble() -> Iterator[ZooKeeperEnsemble]:
    with ZooKeeperEnsemble(3) as ens:
        yield ens


def test_one_server_down_is_survived_two_down_step_down_back_up_leads_again(
    ensemble: ZooKeeperEnsemble,
) -> None:
    chroot = f"/ens-{time.monotonic_ns()}"
    clients = [connect(ensemble.hosts, chroot=chroot) for _ in range(3)]
    revoked: list[tuple[str, str]] = []

    def recorder(name: str) -> Callable[[str], None]:
        return lambda reason: revoked.append((name, reason))

    elections = [
        Election(c, LeaderInfo(address=f"tcp://m{i}"), on_revoked=recorder(f"m{i}")).start()
        for i, c in enumerate(clients)
    ]
    store = StateStore(clients[0])
    try:
        wait_for(lambda: sum(e.is_leader for e in elections) == 1, what="one leader")
        store.create("apps/web", {"instances": 3})

        # 1 of 3 servers dies (the quorum leader, the worst case): still a quorum.
        victim = ensemble.leader_index()
        assert victim is not None
        ensemble.kill_server(victim)
        doc = store.require("apps/web")
        store.put("apps/web", {"instances": 4}, version=doc.version)
        assert store.require("apps/web").value == {"instances": 4}
        wait_for(lambda: sum(e.is_leader for e in elections) == 1, timeout=20, what="a leader, 2/3")
        leader_before = next(e for e in elections if e.is_leader)

        # A second server dies: no quorum, every master stops leading.
        second = next(i for i, s in enumerate(ensemble.servers) if s.running)
        ensemble.kill_server(second)
        wait_for(lambda: not any(e.is_leader for e in elections), timeout=20, what="step down")
        assert any(name == leader_before.info.address[6:] for name, _ in revoked)

        # Both come back: a leader again, and the document is intact.
        ensemble.start_server(victim, wait=False)
        ensemble.start_server(second, wait=False)
        for i in (victim, second):
            ensemble.servers[i].wait_serving(60)
        wait_for(lambda: sum(e.is_leader for e in elections) == 1, timeout=30, what="leader again")
        assert store.require("apps/web").value == {"instances": 4}
    finally:
        for e in elections:
            e.stop(timeout=15)
        for c in clients:
            close_quietly(c)
