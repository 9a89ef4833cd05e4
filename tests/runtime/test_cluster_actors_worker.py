"""Cluster actors over the real transport: the script API against real worker processes
(``python -m runtime.worker``), driven by the test's minimal framework (no cluster).
The full cluster (placement through offers, agents, ZooKeeper) is tests/cluster_actors/."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import ActorMethodError, ActorRestarting, ActorStopped, monitor, remote
from runtime.testing import wait_for

from ._mini_framework import MiniCluster, start_framework

pytestmark = pytest.mark.slow


@remote(mem=64, max_restarts=3)
class Store:
    def __init__(self, **initial: int) -> None:
        self.d = dict(initial)

    def put(self, k: str, v: int) -> int:
        self.d[k] = v
        return len(self.d)

    def get(self, k: str) -> int | None:
        return self.d.get(k)

    def pid(self) -> int:
        return os.getpid()

    def fail(self) -> None:
        raise LookupError(f"nothing at {sorted(self.d)}")

    def read_through(self, other: object) -> int:
        return other.get("a").result(10)  # type: ignore[attr-defined]

    def __checkpoint__(self) -> dict[str, int]:
        return self.d

    def __restore__(self, state: dict[str, int]) -> None:
        self.d = state


class Waiter:
    def __init__(self) -> None:
        self.inside = 0
        self.peak = 0

    async def hold(self, seconds: float) -> int:
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        await asyncio.sleep(seconds)
        self.inside -= 1
        return self.peak


class Threads:
    def __init__(self) -> None:
        self.inside = 0
        self.peak = 0

    def hold(self, seconds: float) -> int:
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        time.sleep(seconds)
        self.inside -= 1
        return self.peak


class Broken:
    def __init__(self) -> None:
        raise RuntimeError("no database")

    def ping(self) -> str:
        return "pong"


@pytest.fixture(scope="module")
def cluster() -> Iterator[MiniCluster]:
    node, ref = start_framework()
    c = MiniCluster(node)
    c.framework_actor = ref._current()  # type: ignore[attr-defined]
    yield c
    c.close()
    ref._current().stop_all()
    node.shutdown(2)


def test_calls_errors_tell_and_handles_passed_along(cluster: MiniCluster) -> None:
    s = cluster.spawn(Store, name="store", a=1)
    assert s.put("b", 2).result(30) == 2
    futs = [s.put(f"k{i}", i) for i in range(200)]
    _done, pending = cluster.wait(futs, timeout=30)
    assert pending == [] and futs[-1].result() == 202
    with pytest.raises(LookupError) as caught:
        s.fail().result(10)
    assert "raise LookupError" in caught.value.remote_traceback  # type: ignore[attr-defined]
    s.put.tell("c", 3)
    wait_for(lambda: s.get("c").result(10) == 3, what="one-way put applied")
    reader = cluster.spawn(Store)
    assert reader.read_through(s).result(30) == 1
    assert cluster.get_actor("store").get("b").result(10) == 2


def test_async_methods_and_max_concurrency(cluster: MiniCluster) -> None:
    w = cluster.spawn(Waiter, max_concurrency=4)
    futs = [w.hold(0.3) for _ in range(4)]
    assert max(f.result(30) for f in futs) == 4
    t = cluster.spawn(Threads, max_concurrency=3)
    futs = [t.hold(0.3) for _ in range(3)]
    assert max(f.result(30) for f in futs) == 3

    async def main() -> int:
        return await w.hold(0.01)

    assert asyncio.run(main()) >= 1


def test_worker_sigkill_restarts_and_restores_the_checkpoint(cluster: MiniCluster) -> None:
    s = cluster.spawn(Store, name="durable")
    assert s.put("x", 41).result(30) == 1
    assert s.put("y", 42).result(30) == 2
    pid = s.pid().result(10)
    slow = s.get("x")
    slow.result(10)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        try:
            assert s.get("y").result(30) == 42
            break
        except ActorRestarting:
            assert time.monotonic() < deadline
    assert s.pid().result(10) != pid and s.info.incarnation == 2 and s.info.restarts == 1


def test_broken_constructor_fails_the_actor_with_its_reason(cluster: MiniCluster) -> None:
    b = cluster.spawn(Broken)
    with pytest.raises(ActorStopped, match=r"Broken\.__init__ raised RuntimeError: no database"):
        b.ping().result(30)


def test_kill_delivers_down_and_stops_calls(cluster: MiniCluster) -> None:
    s = cluster.spawn(Store, name="victim")
    assert s.put("a", 1).result(30) == 1
    down = monitor(s)
    cluster.kill(s)
    assert down.result(10).reason == "killed"
    with pytest.raises(ActorStopped):
        s.get("a").result(10)


def test_class_from_a_module_beside_the_script_travels_as_working_dir(
    cluster: MiniCluster, tmp_path: Path
) -> None:
    (tmp_path / "beside_mod.py").write_text(
        "class Greeter:\n    def hi(self, who):\n        return f'hi {who} from ' + __name__\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import beside_mod  # type: ignore[import-not-found]

        g = cluster.spawn(beside_mod.Greeter)
        assert g.hi("bob").result(30) == "hi bob from beside_mod"
    finally:
        sys.path.remove(str(tmp_path))


def test_the_framework_can_probe_a_worker_faster_than_heartbeats(cluster: MiniCluster) -> None:
    from runtime import PingWorker, WorkerStatus

    s = cluster.spawn(Store, name="probed")
    assert s.put("a", 1).result(30) == 1
    control = cluster.framework_actor.actors[s.actor_id].control  # type: ignore[attr-defined]
    status = cluster.node.ref(control).ask(PingWorker(s.actor_id), timeout=5)
    assert status == WorkerStatus(s.actor_id, 1, True, 1)


class Quitter:
    def quit(self, code: int) -> None:
        sys.exit(code)

    async def quit_async(self, code: int) -> None:
        sys.exit(code)

    def ping(self) -> str:
        return "pong"


def test_sys_exit_in_a_method_ends_the_worker_and_the_framework_restarts_it(
    cluster: MiniCluster,
) -> None:
    q = cluster.spawn(Quitter, max_restarts=2)
    assert q.ping().result(30) == "pong"
    with pytest.raises(ActorMethodError, match="SystemExit") as caught:  # never exits us
        q.quit(3).result(30)
    assert not isinstance(caught.value, SystemExit)
    wait_for(lambda: q.info.incarnation == 2, timeout=30, what="restarted after its exit")
    assert q.ping().result(30) == "pong"
    with pytest.raises(ActorMethodError, match="SystemExit"):  # on the asyncio loop too
        q.quit_async(4).result(30)
    wait_for(lambda: q.info.incarnation == 3, timeout=30, what="restarted again")


def test_a_warm_worker_takes_the_next_actor(cluster: MiniCluster) -> None:
    fw = cluster.framework_actor  # type: ignore[attr-defined]
    proc = fw.start_warm()
    wait_for(lambda: len(fw.warm) == 1, timeout=30, what="warm worker registered")
    s = cluster.spawn(Store, name="on-warm", a=7)
    assert s.get("a").result(30) == 7
    assert fw.actors[s.actor_id].proc is proc and fw.warm == []
    cluster.kill(s)
