"""Cluster actors end to end (issue 27, the cluster side): two real masters running the
``actors`` leader service, two real agents running native tasks, the real ZooKeeper, and
scripts using the public script API (``runtime.connect`` + ``@remote``).

One cluster for the module. In order: spawn, call, named lookup from a second script,
names unique (DuplicateName / get_if_exists), unplaceable resources fail naming them;
``kill -9`` of a worker: restarted in place with its checkpoint; ``kill -9`` of an
agent: re-placed on the other agent; one_for_all across the two agents; an owner
script that exits stops its owned actor, not the detached one; OOM reported and
restarted; leader SIGKILL during calls: the actors keep running, names and handles
keep working. Every wait is a condition (no timing asserted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime import ActorStopped, DuplicateName, connect
from runtime.testing import wait_for
from tests.e2e.conftest import REPO, E2ECluster, http_request

from ._e2e_actors import Counter, Hog

pytestmark = [pytest.mark.slow, pytest.mark.zk]


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", tmp_path_factory.mktemp("actors"))
    try:
        for _ in range(2):
            c.add_master("--services", "actors", "--node-services", "")
        for zone in ("zone-a", "zone-b"):
            c.add_agent(
                "mesos",
                "cpus:2;mem:1024;disk:100;ports:[31000-31100]",
                "--attributes",
                f"zone:{zone}",
            )
        for proc in c.masters + c.agents:
            proc.wait_up()
        c.wait_agents(2)
        yield c
    finally:
        c.stop_all()


@pytest.fixture(scope="module")
def script(cluster: E2ECluster) -> Iterator[Any]:
    handle = connect(cluster.url, insecure_dev=True, session_timeout=5.0)
    try:
        yield handle
    finally:
        handle.close()


def actors_api(cluster: E2ECluster, path: str = "", method: str = "GET", body: Any = None) -> Any:
    lead = cluster.leader()
    data = json.dumps(body).encode() if body is not None else None
    r = http_request(f"{lead.http_url}/actors/v1/actors{path}", method, data)
    return r.status, (r.json() if r.body else None)


def row(cluster: E2ECluster, actor_id: str) -> dict[str, Any]:
    status, body = actors_api(cluster, f"/{actor_id}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def worker_pid(task_id: str) -> int:
    """The host pid of the worker running ``task_id`` (its own ``os.getpid()`` is in the
    container's pid namespace): found by its command line."""
    want = f"--task-id\x00{task_id}\x00".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        argv = cmdline.split(b"\x00")
        if argv[1:3] == [b"-m", b"runtime.worker"] and want in cmdline + b"\x00":
            return int(entry.name)  # the python worker itself, not its container's init
    raise AssertionError(f"no worker process for {task_id}")


def kill_worker(cluster: E2ECluster, actor_id: str) -> int:
    pid = worker_pid(row(cluster, actor_id)["task_id"])
    os.kill(pid, signal.SIGKILL)
    return pid


def agent_of(cluster: E2ECluster, actor_id: str) -> str:
    return str(row(cluster, actor_id)["agent_id"])


def metrics(cluster: E2ECluster) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The leader's pydcos_cluster_actors_* samples, read with prometheus_client's parser."""
    text = http_request(f"{cluster.leader().http_url}/metrics").body.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith("pydcos_cluster_actors")
    }


def test_spawn_call_lookup_names_and_kill(cluster: E2ECluster, script: Any) -> None:
    c = script.spawn(Counter, 10, name="counter", constraints=[["zone", "IS", "zone-a"]])
    assert c.incr(5).result(30) == 15
    futs = [c.incr() for _ in range(200)]
    script.wait(futs)
    assert c.value().result(10) == 215
    info = row(cluster, c.actor_id)
    assert info["state"] == "RUNNING" and info["class"].endswith("Counter")
    assert info["node"] == "agent-1" and info["cpus"] == 0.1

    with connect(cluster.url, insecure_dev=True) as other:
        same = other.get_actor("counter")
        assert same.value().result(10) == 215
        with pytest.raises(DuplicateName):
            other.spawn(Counter, name="counter")
        again = other.spawn(Counter, name="counter", get_if_exists=True)
        assert again.actor_id == c.actor_id

    # The HTTP API the CLI uses: call a method, then kill by name.
    status, body = actors_api(cluster, "/counter/call", "POST", {"method": "incr", "args": [5]})
    assert (status, body["result"]) == (200, 220)
    status, body = actors_api(cluster, "/counter", "DELETE")
    assert status == 200 and body["state"] == "STOPPED"
    wait_for(lambda: row(cluster, c.actor_id)["state"] == "STOPPED", 20, "the kill")
    status, _ = actors_api(cluster, "/default/counter")
    assert status == 404 or row(cluster, c.actor_id)["state"] == "STOPPED"


def test_resources_no_agent_has_fail_the_spawn_naming_them(script: Any) -> None:
    with pytest.raises(ActorStopped, match=r"mem=4096.*agent-\d/S\d+: mem: need 4096"):
        h = script.spawn(Counter, mem=4096, placement_timeout=2)
        h.value().result(30)
    with pytest.raises(ActorStopped, match="constraint zone:IS:mars"):
        h = script.spawn(Counter, constraints=[["zone", "IS", "mars"]], placement_timeout=2)
        h.value().result(30)


def test_a_killed_worker_restarts_in_place_with_its_checkpoint(
    cluster: E2ECluster, script: Any
) -> None:
    c = script.spawn(Counter, 1, max_restarts=3)
    assert c.incr(41).result(30) == 42
    # The incarnation counts launches: one lost before it ran (its agent unreachable a
    # moment under load) is placed again, uncounted as a restart. So compare with the
    # incarnation that served, not with 1.
    before = row(cluster, c.actor_id)
    pid = kill_worker(cluster, c.actor_id)
    wait_for(lambda: c.value().result(10) == 42, 30, "the restarted incarnation", retry_errors=True)
    info = row(cluster, c.actor_id)
    assert info["restarts"] == 1, (pid, info)
    assert info["agent_id"] == before["agent_id"], (before, info)
    assert info["incarnation"] > before["incarnation"], (before, info)
    assert worker_pid(info["task_id"]) != pid
    script.kill(c)


def test_one_for_all_across_two_agents(cluster: E2ECluster, script: Any) -> None:
    a = Counter.child(0, constraints=[["zone", "IS", "zone-a"]], name="sup-a")
    b = Counter.child(0, constraints=[["zone", "IS", "zone-b"]], name="sup-b")
    sup = script.supervise(strategy="one_for_all", children=[a, b], intensity=5, period=60)
    ha, hb = sup.children  # handles, in order
    assert ha.incr().result(30) == 1 and hb.incr(2).result(30) == 2
    assert agent_of(cluster, ha.actor_id) != agent_of(cluster, hb.actor_id)
    pid_b = worker_pid(row(cluster, hb.actor_id)["task_id"])
    served = {h.actor_id: row(cluster, h.actor_id)["incarnation"] for h in (ha, hb)}
    kill_worker(cluster, ha.actor_id)

    def restarted(h: Any) -> bool:
        # One read per check: incarnation and state of the same answer. The group's
        # children come back one by one (each placed and started on its own agent), so
        # the sibling RUNNING says nothing about the killed one: wait for each. A later
        # incarnation than the one that served (a launch lost before it ran is placed
        # again, so the number is not always 2).
        r = row(cluster, h.actor_id)
        return bool(r["incarnation"] > served[h.actor_id] and r["state"] == "RUNNING")

    wait_for(lambda: restarted(hb), 30, "the sibling restarted too")
    wait_for(lambda: restarted(ha), 30, "the killed child restarted")
    assert hb.value().result(30) == 2 and ha.value().result(30) == 1  # from checkpoints
    assert worker_pid(row(cluster, hb.actor_id)["task_id"]) != pid_b
    for h in (ha, hb):
        script.kill(h)


OWNER_SCRIPT = """
from runtime import connect
from tests.cluster_actors._e2e_actors import Counter
with connect({url!r}, insecure_dev=True) as c:
    owned = c.spawn(Counter, name="owned-by-script")
    detached = c.spawn(Counter, name="detached-one", lifetime="detached")
    print(owned.incr().result(30), detached.incr().result(30), flush=True)
"""


def test_an_owner_exiting_stops_its_owned_actors_only(cluster: E2ECluster, script: Any) -> None:
    code = OWNER_SCRIPT.format(url=cluster.url)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=90, cwd=REPO
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.split() == [b"1", b"1"]
    detached = script.get_actor("detached-one")
    assert detached.incr().result(10) == 2

    def owned_gone() -> bool:
        _, body = actors_api(cluster, "?all=true")
        states = {r["name"]: r["state"] for r in body["actors"]}
        return states.get("owned-by-script") == "STOPPED"

    wait_for(owned_gone, 30, "the owned actor stopped")
    script.kill(detached)


def test_an_oom_kill_is_reported_and_the_actor_restarted(cluster: E2ECluster, script: Any) -> None:
    h = script.spawn(Hog, mem=64, max_restarts=1)
    assert h.ping().result(30) == "pong"
    # Calls go straight to the workers; the framework counts them from its probes.
    calls = ("pydcos_cluster_actors_calls_total", ())
    wait_for(lambda: metrics(cluster).get(calls, 0) > 0, 20, "calls counted")
    with pytest.raises(Exception) as info:
        h.eat(256).result(60)
    assert "memory" in str(info.value).lower()
    wait_for(lambda: row(cluster, h.actor_id)["state"] == "RUNNING", 30, "the restart")
    r = row(cluster, h.actor_id)
    assert r["restarts"] == 1 and r["last_exit"].startswith("OOM-killed")
    script.kill(h)
    samples = metrics(cluster)
    assert samples[("pydcos_cluster_actors_oom_kills_total", ())] >= 1
    assert samples[("pydcos_cluster_actors_restarts_total", ())] >= 1
    assert ("pydcos_cluster_actors", (("state", "RUNNING"),)) in samples


def test_agent_loss_replaces_the_actor_on_the_other_agent(cluster: E2ECluster, script: Any) -> None:
    c = script.spawn(Counter, 7, name="survivor", lifetime="detached", max_restarts=3)
    assert c.incr().result(30) == 8
    first = agent_of(cluster, c.actor_id)
    victim = next(a for a in cluster.agents if a.name == row(cluster, c.actor_id)["node"])
    worker = worker_pid(row(cluster, c.actor_id)["task_id"])
    victim.kill9()  # the machine is gone: its agent and the worker on it
    os.kill(worker, signal.SIGKILL)

    def replaced() -> bool:
        r = row(cluster, c.actor_id)  # one read: state and agent of the same answer
        return bool(r["state"] == "RUNNING" and r["agent_id"] != first)

    wait_for(replaced, 60, "re-placement on the other agent")
    assert c.incr().result(30) == 9  # its checkpoint came along
    cluster.restart(victim)


def test_leader_failover_during_calls(cluster: E2ECluster, script: Any) -> None:
    c = script.get_actor("survivor")
    before = c.value().result(10)
    incarnation = row(cluster, c.actor_id)["incarnation"]
    lead = cluster.leader()
    futs = [c.incr() for _ in range(50)]
    lead.kill9()
    script.wait(futs, timeout=60)
    assert c.value().result(30) == before + 50  # the worker never stopped
    wait_for(lambda: actors_api(cluster)[0] == 200, 30, "the new leader serving /actors")
    assert cluster.leader() is not lead
    wait_for(
        lambda: row(cluster, c.actor_id)["state"] == "RUNNING", 30, "adopted by the new leader"
    )
    with connect(cluster.url, insecure_dev=True) as other:
        assert other.get_actor("survivor").incr().result(30) == before + 51
    assert row(cluster, c.actor_id)["incarnation"] == incarnation  # adopted, not relaunched
    script.kill(c)
    cluster.restart(lead)


def test_tests_dir_is_importable() -> None:
    assert Path(REPO / "tests" / "cluster_actors" / "_e2e_actors.py").exists()
