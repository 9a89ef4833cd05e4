"""Reconciliation asked during a new leader's recovery window is answered once per task.

A new Marathon asks explicitly for every task it stored and then implicitly (as real
Marathon does); answered one by one, 95,000 tasks cost 190,000 status updates queued in
its mailbox after the storm. Nothing changes between the deferred answers (one turn), so
the second answer for a task repeated the first: the master now sends each task's once,
keeping every explicit id's answer (TASK_UNKNOWN included) and the implicit one's orphans.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors import protocol as p
from actors.master._master_core import MasterConfig, MasterCore, Send
from actors.master._tasks import on_reconcile
from actors.resources import Resources

AGENT = "tcp://127.0.0.1:7001/agent"
FW = "tcp://127.0.0.1:7100/sched"
RES = "cpus:16;mem:16384"


def _updates(out: list[Any]) -> list[tuple[str, str]]:
    return [
        (e.message.task_id, e.message.state)
        for e in out
        if isinstance(e, Send) and e.to == FW and isinstance(e.message, p.StatusUpdate)
    ]


def _old_leader(n_tasks: int) -> tuple[str, str, list[p.TaskInfo], MasterCore]:
    """A leader with one agent running ``n_tasks`` of one framework."""
    now = 1000.0
    core = MasterCore("m1", MasterConfig(), now=now)
    out = core.handle(p.RegisterAgent("h", AGENT, Resources.parse(RES).to_dict()), now)
    aid = next(e.message for e in out if isinstance(e, Send)).agent_id
    info = p.FrameworkInfo("marathon", ["*"], 60.0)
    out = core.handle(p.Subscribe(info, FW), now)
    fid = next(e.message for e in out if isinstance(e, Send)).framework_id
    offers = [
        o
        for e in out + core.tick(now + 1.0)
        if isinstance(e, Send) and isinstance(e.message, p.Offers)
        for o in e.message.offers
    ]
    tasks = [
        p.TaskInfo(
            task_id=f"app.t{i:02d}",
            name="t",
            agent_id=aid,
            resources=Resources.parse("cpus:0.1;mem:32").to_dict(),
            command=p.CommandSpec("sleep 100"),
        )
        for i in range(n_tasks)
    ]
    core.handle(p.Accept(fid, [offers[0].offer_id], [p.Operation("LAUNCH", tasks)]), now + 1.0)
    assert len(core.tasks) == n_tasks
    return aid, fid, tasks, core


def _new_leader(old: MasterCore, fid: str, now: float) -> MasterCore:
    """A new leader recovering ``old``'s agents and frameworks, Marathon resubscribed."""
    new = MasterCore(
        "m2",
        MasterConfig(agent_reregister_timeout=5.0),
        now=now,
        recovered_agents=[a.durable() for a in old.agents.values()],
        recovered_frameworks=[f.durable() for f in old.frameworks.values()],
    )
    new.handle(p.Subscribe(p.FrameworkInfo("marathon", ["*"], 60.0, framework_id=fid), FW), now)
    return new


@pytest.mark.parametrize("seed", range(8))
def test_deferred_answers_are_the_old_ones_without_repeats(seed: int) -> None:
    rng = random.Random(seed)
    aid, fid, tasks, old = _old_leader(12)
    now = 2000.0
    new = _new_leader(old, fid, now)
    ids = [t.task_id for t in tasks]
    asked: list[p.Reconcile] = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.4:
            m = p.Reconcile(fid)  # implicit
        else:
            pick = rng.sample(ids, rng.randint(1, len(ids))) + ["app.gone"] * rng.randint(0, 2)
            pick += rng.sample(pick, rng.randint(0, 2))  # an id asked twice
            m = p.Reconcile(fid, pick)
        asked.append(m)
        assert _updates(new.handle(m, now)) == []  # deferred: the window is open
    # The agent comes back with some of the tasks (the rest ended while no one led).
    back = [t for t in tasks if rng.random() < 0.8]
    back_out = new.handle(
        p.ReregisterAgent(
            aid,
            "h",
            AGENT,
            Resources.parse(RES).to_dict(),
            tasks=[p.AgentTask(t, fid, "TASK_RUNNING") for t in back],
        ),
        now,
    )
    got = _updates(back_out + new.tick(now + 0.1))  # every agent is back: the window closes
    assert new.recovery_deadline is None
    # The old answers, one by one, on the same state.
    old_way: list[Any] = []
    for m in asked:
        on_reconcile(new, m, now, old_way)
    expected = list(dict.fromkeys(_updates(old_way)))  # first answer per task, in order
    assert got == expected
    assert len({t for t, _ in got}) == len(got)  # once per task
    if any(not m.task_ids for m in asked):
        for t in back:
            assert (t.task_id, "TASK_RUNNING") in got  # implicit: every live task answered
    for m in asked:
        for task_id in m.task_ids or []:
            assert any(t == task_id for t, _ in got)  # every explicit id answered
    if any(m.task_ids and "app.gone" in m.task_ids for m in asked):
        assert ("app.gone", "TASK_UNKNOWN") in got


def test_marathons_explicit_then_implicit_costs_one_update_per_task() -> None:
    """The new Marathon's pair: every stored task once, plus the orphan the implicit one
    finds (a task the master knows and the framework did not name)."""
    aid, fid, tasks, old = _old_leader(6)
    now = 2000.0
    new = _new_leader(old, fid, now)
    stored = [t.task_id for t in tasks[:5]] + ["app.lost"]  # t05: an orphan
    new.handle(p.Reconcile(fid, stored), now)
    new.handle(p.Reconcile(fid), now)
    back_out = new.handle(
        p.ReregisterAgent(
            aid,
            "h",
            AGENT,
            Resources.parse(RES).to_dict(),
            tasks=[p.AgentTask(t, fid, "TASK_RUNNING") for t in tasks],
        ),
        now,
    )
    got = _updates(back_out + new.tick(now + 0.1))
    assert got == [(t, "TASK_RUNNING") for t in stored[:5]] + [
        ("app.lost", "TASK_UNKNOWN"),
        ("app.t05", "TASK_RUNNING"),
    ]
