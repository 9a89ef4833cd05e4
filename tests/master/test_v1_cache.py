"""The v1 resource lists a master keeps by resources (``_v1.v1_resources``, shared by
the tasks of one app) give exactly the state a build from scratch gives, whatever
changed in between (launches, status updates with and without health, tasks ended and
relaunched under the same id, an agent re-registering from another address, adopted
tasks, the memo cleared when full), and the in-process readers of the shared lists
(DNS, l4lb) leave them as they were."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from actors import protocol as p
from actors.dns import ClusterView, apply_event
from actors.l4lb import VipTable
from actors.master import MasterConfig, MasterCore, _v1
from actors.master._watch import subscribed_event
from actors.resources import Resources
from tests.master.test_master_core import AGENT, AGENT2, Cluster


def _from_scratch(core: MasterCore) -> dict[str, Any]:
    """``v1_get_state`` with every resource list, labels and container built anew."""
    memo, by_identity = _v1.v1_resources, _v1._V1_BY_IDENTITY
    _v1.v1_resources = _v1.v1_resources_uncached  # type: ignore[assignment]
    _v1._V1_BY_IDENTITY = {}
    try:
        return _v1.v1_get_state(core)
    finally:
        _v1.v1_resources = memo  # type: ignore[assignment]
        _v1._V1_BY_IDENTITY = by_identity


_LABELS = [{"MARATHON_APP_ID": "/a"}, {"MARATHON_APP_ID": "/b", "x": "1"}]
_CONTAINERS = [
    p.ContainerInfo(),
    p.ContainerInfo("DOCKER", "BRIDGE", p.DockerInfo("nginx:1")),
]


def _launch(c: Cluster, rng: random.Random, offer: p.Offer, name: str) -> None:
    """A task whose labels/container are the pool's objects (shared, as the master's
    ``shared_task`` makes them), equal copies, or other ones."""
    roll = rng.random()
    labels = rng.choice(_LABELS)
    container: p.ContainerInfo | None = rng.choice(_CONTAINERS)
    if roll < 0.3:
        labels = dict(labels)
    elif roll < 0.4:
        labels, container = {"only": name}, None
    task = p.TaskInfo(
        task_id=name,
        name=f"app{len(labels)}",
        agent_id=offer.agent_id,
        resources=Resources.parse("cpus:0.1;mem:8").to_dict(),
        command=p.CommandSpec("sleep 100"),
        labels=labels,
        container=container,
    )
    c.handle(p.Accept(c.fid, [offer.offer_id], [p.Operation("LAUNCH", [task])], refuse_seconds=0))


@pytest.mark.parametrize("seed", range(6))
def test_cached_state_equals_a_build_from_scratch(seed: int, monkeypatch: Any) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(_v1, "V1_RESOURCES_KEPT", rng.choice([1, 3, 4096]))
    _v1._V1_RESOURCES.clear()
    _v1._V1_BY_IDENTITY.clear()
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    c.add_agent(AGENT2, "cpus:64;mem:65536")
    fid = c.subscribe()
    live: dict[str, str] = {}
    ended: list[str] = []
    reused = 0
    pending: list[p.Offer] = []
    for _ in range(80):
        roll = rng.random()
        if roll < 0.45:
            for offer in [*pending, *c.offers()]:
                name = f"{rng.choice('abxy')}{rng.randrange(100):02d}"
                if rng.random() < 0.3 and ended:
                    name = rng.choice(ended)
                if name not in live:
                    _launch(c, rng, offer, name)
                    if (fid, name) in c.core.tasks:  # not a rescinded offer
                        live[name] = offer.agent_id
            pending = []
        elif roll < 0.7 and live:
            task_id = rng.choice(sorted(live))
            state = rng.choice(["TASK_RUNNING"] * 4 + ["TASK_FINISHED", "TASK_FAILED"])
            healthy = rng.choice([None, True, False])
            u = f"u{rng.randrange(10**9)}"
            c.now += rng.choice([0.0, 0.5])
            c.handle(p.StatusUpdate(fid, task_id, live[task_id], state, u, c.now, healthy=healthy))
            if state != "TASK_RUNNING":
                del live[task_id]
                ended.append(task_id)
        elif roll < 0.8:
            # the agent comes back from another port: its tasks' IP may change
            address = rng.choice([AGENT, AGENT2, "tcp://127.0.0.9:7001/agent"])
            agent_id = c.agent_ids[AGENT]
            tasks = [
                p.AgentTask(c.core.tasks[(fid, t)].task, fid, "TASK_RUNNING")
                for t, a in sorted(live.items())
                if a == agent_id
            ]
            c.handle(
                p.ReregisterAgent(
                    agent_id, "host-a", address, {"cpus": 64.0, "mem": 65536.0}, tasks=tasks
                )
            )
        else:
            pending = c.offers(rng.choice([0.1, 5.0]))
        before = {id(x[1]) for x in _v1._V1_RESOURCES.values()}
        state = _v1.v1_get_state(c.core)
        assert state == _from_scratch(c.core)
        reused += sum(id(t["resources"]) in before for t in state["get_tasks"]["tasks"])
    assert reused > 50 or _v1.V1_RESOURCES_KEPT < 4096, "lists were served from the memo"


def test_tasks_of_equal_resources_share_one_list_and_other_ones_do_not() -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    c.subscribe()
    [offer] = c.offers()
    c.launch(offer, "a", "cpus:1;mem:64", refuse_seconds=0)
    [offer] = c.offers()
    c.launch(offer, "b", "cpus:1;mem:64", refuse_seconds=0)
    [offer] = c.offers()
    c.launch(offer, "c", "cpus:2;mem:64", refuse_seconds=0)
    tasks = {t["task_id"]["value"]: t for t in _v1.v1_get_state(c.core)["get_tasks"]["tasks"]}
    assert tasks["a"]["resources"] is tasks["b"]["resources"]
    assert tasks["c"]["resources"] is not tasks["a"]["resources"]
    assert tasks["c"]["resources"] == _v1.v1_resources_uncached(
        c.core.tasks[(c.fid, "c")].resources, "*"
    )


def test_the_dns_and_l4lb_readers_do_not_mutate_the_shared_dicts() -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    for i, offer in enumerate(c.offers()):
        c.launch(offer, f"t{i}", "cpus:1;mem:64", refuse_seconds=0)
        c.handle(p.StatusUpdate(fid, f"t{i}", offer.agent_id, "TASK_RUNNING", f"u{i}", c.now))
    event = subscribed_event(c.core)
    frozen = copy.deepcopy(event)
    view = apply_event(ClusterView(), event, "m1", 0.0, 5.0)
    assert view.tasks
    table = VipTable()
    table.apply(event, carry_until=10.0)
    table.apply(
        {
            "type": "TASK_UPDATED",
            "task_updated": {"status": {"task_id": {"value": "t0"}}, "state": "TASK_KILLED"},
        }
    )
    assert event == frozen  # whatever the readers hold, the event is unchanged


def test_equal_resources_built_in_another_order_keep_their_own_order() -> None:
    """Resources compare by content, but their v1 lists follow their own entry order:
    the memo is by object, never by equality (hypothesis found this in
    tests/mesos_api/test_convert.py)."""
    first = Resources.parse("cpus:0.124;mem:0.124;disk:0.001")
    second = Resources.parse("mem:0.124;cpus:0.124;disk:0.001")
    assert first == second
    a = _v1.v1_resources(first, "*")
    b = _v1.v1_resources(second, "*")
    assert a == _v1.v1_resources_uncached(first, "*")
    assert b == _v1.v1_resources_uncached(second, "*")
    assert _v1.v1_resources(first, "*") is a
