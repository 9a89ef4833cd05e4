"""The master's side of "tasks keep their health after a failover" (issue 17 item 1),
on the pure MasterCore step machine: health travels with re-registration, is kept
across updates that say nothing about it, and is the answer to reconciliation (Mesos:
a reconciliation answer carries the latest TaskStatus, ``healthy`` included)."""

from __future__ import annotations

from actors import protocol as p
from actors.master import MasterConfig, MasterCore
from actors.resources import Resources
from tests.master.test_master_core import AGENT, FW, Cluster, one, sends


def _running_task(c: Cluster, task_id: str = "t1") -> p.TaskInfo:
    offer = one(c.offers())
    return one(sends(c.launch(offer, task_id, "cpus:1;mem:64"), AGENT, p.RunTask)).task


def _update(fid: str, aid: str, healthy: bool | None, uuid: str) -> p.StatusUpdate:
    return p.StatusUpdate(fid, "t1", aid, "TASK_RUNNING", uuid, 0.0, healthy=healthy)


def test_a_new_leader_answers_reconciliation_with_the_health_agents_bring_back() -> None:
    c = Cluster()
    aid = c.add_agent()
    fid = c.subscribe(failover_timeout=60.0)
    task = _running_task(c)
    new = MasterCore(
        "m2",
        MasterConfig(agent_reregister_timeout=5.0),
        now=c.now,
        recovered_agents=[a.durable() for a in c.core.agents.values()],
        recovered_frameworks=[f.durable() for f in c.core.frameworks.values()],
    )
    c2 = Cluster(core=new)
    c2.now = c.now
    c2.subscribe(fid=fid)
    c2.handle(
        p.ReregisterAgent(
            aid,
            "h",
            AGENT,
            Resources.parse("cpus:4;mem:4096").to_dict(),
            tasks=[p.AgentTask(task, fid, "TASK_RUNNING", healthy=True)],
        )
    )
    answer = one(sends(c2.handle(p.Reconcile(fid, ["t1"])), FW, p.StatusUpdate))
    assert (answer.state, answer.healthy) == ("TASK_RUNNING", True)
    implicit = one(sends(c2.handle(p.Reconcile(fid)), FW, p.StatusUpdate))
    assert implicit.healthy is True


def test_an_update_without_health_keeps_the_last_known_health() -> None:
    c = Cluster()
    aid = c.add_agent()
    fid = c.subscribe()
    _running_task(c)
    c.handle(_update(fid, aid, True, "u1"))
    c.handle(_update(fid, aid, None, "u2"))
    assert one(sends(c.handle(p.Reconcile(fid, ["t1"])), FW, p.StatusUpdate)).healthy is True
    c.handle(_update(fid, aid, False, "u3"))
    assert one(sends(c.handle(p.Reconcile(fid, ["t1"])), FW, p.StatusUpdate)).healthy is False
