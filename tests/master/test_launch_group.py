"""Mesos' LAUNCH_GROUP at the master: one all-or-nothing launch on one agent, recorded
per task (each member is a task: TASK_ADDED, resources, state), sent as one
``RunTaskGroup``."""

from __future__ import annotations

from typing import Any

from actors import protocol as p
from actors.resources import Resources

from .test_master_core import AGENT, FW, Cluster, one, sends


def member(offer: p.Offer, task_id: str, res: str, group: str = "pod.instance-1") -> p.TaskInfo:
    return p.TaskInfo(
        task_id=task_id,
        name=task_id,
        agent_id=offer.agent_id,
        resources=Resources.parse(res).to_dict(),
        command=p.CommandSpec("sleep 100"),
        group_id=group,
    )


def accept(c: Cluster, offer: p.Offer, tasks: list[p.TaskInfo]) -> list[Any]:
    op = p.Operation("LAUNCH_GROUP", tasks)
    return c.handle(p.Accept(c.fid, [offer.offer_id], [op], 5.0), FW)


def test_a_group_goes_to_the_agent_in_one_message_and_every_member_is_a_task() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    tasks = [
        member(offer, "pod.instance-1.a", "cpus:1;mem:64"),
        member(offer, "pod.instance-1.b", "cpus:2;mem:64"),
    ]
    out = accept(c, offer, tasks)
    run = one(sends(out, AGENT, p.RunTaskGroup))
    assert run.group_id == "pod.instance-1" and [t.task_id for t in run.tasks] == [
        "pod.instance-1.a",
        "pod.instance-1.b",
    ]
    assert not sends(out, AGENT, p.RunTask)
    assert {tid for (_, tid) in c.core.tasks} == {"pod.instance-1.a", "pod.instance-1.b"}
    agent = next(iter(c.core.agents.values()))
    assert agent.used.scalar("cpus") == 3.0


def test_a_group_that_does_not_fit_launches_nothing() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    tasks = [member(offer, "g.a", "cpus:3;mem:64", "g"), member(offer, "g.b", "cpus:3;mem:64", "g")]
    out = accept(c, offer, tasks)
    assert not sends(out, AGENT)
    updates = sends(out, FW, p.StatusUpdate)
    assert sorted((u.task_id, u.state) for u in updates) == [
        ("g.a", "TASK_ERROR"),
        ("g.b", "TASK_ERROR"),
    ]
    assert "resources exceed" in updates[0].message
    assert not c.core.tasks


def test_members_must_share_one_group_id() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    tasks = [member(offer, "x.a", "cpus:1;mem:64", "x"), member(offer, "y.b", "cpus:1;mem:64", "y")]
    out = accept(c, offer, tasks)
    assert "group_id" in one(sends(out, FW, p.FrameworkError)).message
    assert not c.core.tasks
