"""Partition semantics as pure decisions, on a manual clock (table-driven).

* Marathon's ``unreachableStrategy``: keep an UNREACHABLE instance within
  ``inactiveAfterSeconds``, replace it after, forget it after ``expungeAfterSeconds``.
* The master: an agent that comes back under its id with other resources is refused,
  never merged silently; one that comes back unchanged gets its tasks reconciled.
* Metronome: a run whose task is UNREACHABLE stays active (FORBID starts nothing else)
  until the task comes back or is expunged; an expunged task that returns is killed.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.marathon._app import UnreachableStrategy
from actors.marathon._unreachable import UnreachableAction, unreachable_action
from actors.master._master_core import MasterCore
from actors.master._state import MasterConfig
from actors.metronome import (
    JobRun,
    JobSpec,
    KillTask,
    LaunchTask,
    RunEffect,
    RunEvent,
    RunStatus,
    TaskUpdate,
    Tick,
    create_run,
    step,
    task_id_for,
)
from actors.metronome._run import UNREACHABLE_EXPUNGE_SECONDS
from actors.resources import Resources

KEEP, INACTIVATE, EXPUNGE = (
    UnreachableAction.KEEP,
    UnreachableAction.INACTIVATE,
    UnreachableAction.EXPUNGE,
)
S = UnreachableStrategy(inactive_after_seconds=30, expunge_after_seconds=120)


@pytest.mark.parametrize(
    ("since", "inactive", "strategy", "now", "expected"),
    [
        (None, False, S, 1000.0, KEEP),  # reachable
        (100.0, False, S, 100.0, KEEP),  # just unreachable
        (100.0, False, S, 129.9, KEEP),  # inside the grace: counted, not replaced
        (100.0, False, S, 130.0, INACTIVATE),  # replace it
        (100.0, True, S, 150.0, KEEP),  # already replaced
        (100.0, True, S, 219.9, KEEP),
        (100.0, True, S, 220.0, EXPUNGE),  # forget it
        (100.0, False, S, 500.0, EXPUNGE),  # a tick late: expunge wins
        (100.0, False, None, 10_000.0, KEEP),  # "disabled" (resident apps)
        (100.0, False, UnreachableStrategy(0, 0), 100.0, EXPUNGE),
        (100.0, False, UnreachableStrategy(0, 60), 100.0, INACTIVATE),
    ],
)
def test_marathon_unreachable_strategy(
    since: float | None,
    inactive: bool,
    strategy: UnreachableStrategy | None,
    now: float,
    expected: UnreachableAction,
) -> None:
    assert unreachable_action(since, inactive, strategy, now) is expected


# -- the master ------------------------------------------------------------------------

AGENT = "tcp://10.0.0.2:7001/agent"
FW = "tcp://10.0.0.9:7100/sched"
MASTER = "tcp://10.0.0.1:5050/master"


def _sends(out: list[Any], kind: type) -> list[Any]:
    return [e.message for e in out if isinstance(getattr(e, "message", None), kind)]


class _Master:
    def __init__(self) -> None:
        self.now = 0.0
        self.core = MasterCore("m1", MasterConfig(), now=0.0, address=MASTER)

    def handle(self, message: Any) -> list[Any]:
        return list(self.core.handle(message, self.now))

    def tick(self, advance: float) -> list[Any]:
        self.now += advance
        return list(self.core.tick(self.now))


def _registered_agent_with_task(m: _Master) -> tuple[str, str, p.TaskInfo]:
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    out = m.handle(p.RegisterAgent("a1", AGENT, res, {}))
    (reg,) = _sends(out, p.AgentRegistered)
    out = m.handle(p.Subscribe(p.FrameworkInfo("fw", ["*"], 60.0), FW))
    (sub,) = _sends(out, p.Subscribed)
    offers = [o for b in _sends(m.tick(0.1), p.Offers) for o in b.offers]
    offer = next(o for o in offers if o.agent_id == reg.agent_id)
    task = p.TaskInfo(
        "t1", "t1", reg.agent_id, Resources.parse("cpus:1;mem:64").to_dict(), p.CommandSpec("x")
    )
    out = m.handle(p.Accept(sub.framework_id, [offer.offer_id], [p.Operation("LAUNCH", [task])]))
    (run,) = _sends(out, p.RunTask)
    return reg.agent_id, sub.framework_id, run.task


def _partition(m: _Master) -> list[Any]:
    """No pongs until the agent is unreachable; every status update it caused."""
    updates: list[Any] = []
    for _ in range(200):
        updates += _sends(m.tick(m.core.config.ping_interval), p.StatusUpdate)
        if not next(iter(m.core.agents.values())).reachable:
            return updates
    raise AssertionError("the agent never became unreachable")


def test_an_unreachable_agent_that_comes_back_unchanged_gets_its_tasks_reconciled() -> None:
    m = _Master()
    aid, fid, task = _registered_agent_with_task(m)
    ups = _partition(m)
    assert [(u.task_id, u.state) for u in ups] == [("t1", "TASK_UNREACHABLE")]
    # Still probed while unreachable; its first answer after the heal asks it back.
    pings = _sends(m.tick(m.core.config.ping_interval), p.Ping)
    assert pings
    out = m.handle(p.Pong(aid, pings[-1].seq))
    assert _sends(out, p.MasterChanged) == [p.MasterChanged(MASTER)]
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    out = m.handle(
        p.ReregisterAgent(aid, "a1", AGENT, res, {}, [p.AgentTask(task, fid, "TASK_RUNNING")])
    )
    assert [r.agent_id for r in _sends(out, p.AgentRegistered)] == [aid]
    assert [(u.task_id, u.state) for u in _sends(out, p.StatusUpdate)] == [("t1", "TASK_RUNNING")]
    assert m.core.agents[aid].reachable


@pytest.mark.parametrize(
    ("resources", "named"),
    [("cpus:4;mem:1024", "cpus 4 (was 2)"), ("cpus:2;mem:512", "mem 512 (was 1024)")],
)
def test_an_agent_back_with_other_resources_is_refused_not_merged(
    resources: str, named: str
) -> None:
    m = _Master()
    aid, fid, task = _registered_agent_with_task(m)
    _partition(m)
    res = Resources.parse(resources).to_dict()
    out = m.handle(
        p.ReregisterAgent(aid, "a1", AGENT, res, {}, [p.AgentTask(task, fid, "TASK_RUNNING")])
    )
    assert _sends(out, p.AgentRegistered) == [] and _sends(out, p.StatusUpdate) == []
    rec = m.core.agents[aid]
    assert not rec.reachable and rec.total.scalars()["cpus"] == 2.0
    assert any(named in e and "refused" in e for e in m.core.errors)


# -- Metronome -------------------------------------------------------------------------

JOB = "prod.once"
RUN = "20261206120000ABCDE"
T1 = task_id_for(JOB, RUN, 1)
T2 = task_id_for(JOB, RUN, 2)


def _run() -> JobRun:
    spec = JobSpec.from_json({"id": JOB, "run": {"cmd": "x", "restart": {"policy": "ON_FAILURE"}}})
    return create_run(spec, RUN, now=0.0)


def _play(run: JobRun, script: list[tuple[float, RunEvent]]) -> tuple[JobRun, list[RunEffect]]:
    effects: list[RunEffect] = []
    for now, event in script:
        run, produced = step(run, event, now)
        run = JobRun.from_json(run.to_json())  # persisted after every step
        effects.extend(produced)
    return run, effects


X = UNREACHABLE_EXPUNGE_SECONDS


@pytest.mark.parametrize(
    ("script", "status", "launched", "killed"),
    [
        # Unreachable, then back: one task, the run goes on, nothing killed.
        (
            [
                (2, TaskUpdate(T1, "TASK_UNREACHABLE")),
                (60, Tick()),
                (90, TaskUpdate(T1, "TASK_RUNNING")),
            ],
            RunStatus.ACTIVE,
            [T1],
            [],
        ),
        # Unreachable for a long while but inside the expunge window: still active.
        (
            [(2, TaskUpdate(T1, "TASK_UNREACHABLE")), (2 + X - 1, Tick())],
            RunStatus.ACTIVE,
            [T1],
            [],
        ),
        # Expunged: the attempt is lost (retried), and the old task is killed.
        (
            [(2, TaskUpdate(T1, "TASK_UNREACHABLE")), (2 + X, Tick()), (2 + X + 5, Tick())],
            RunStatus.STARTING,
            [T1, T2],
            [T1],
        ),
        # The expunged task comes back after the retry: killed as a stray.
        (
            [
                (2, TaskUpdate(T1, "TASK_UNREACHABLE")),
                (2 + X, Tick()),
                (2 + X + 5, Tick()),
                (2 + X + 6, TaskUpdate(T1, "TASK_RUNNING")),
            ],
            RunStatus.STARTING,
            [T1, T2],
            [T1, T1],
        ),
        # It finishes on the far side and reports when the partition heals.
        (
            [(2, TaskUpdate(T1, "TASK_UNREACHABLE")), (50, TaskUpdate(T1, "TASK_FINISHED"))],
            RunStatus.SUCCESS,
            [T1],
            [],
        ),
    ],
)
def test_metronome_run_across_a_partition(
    script: list[tuple[float, RunEvent]],
    status: RunStatus,
    launched: list[str],
    killed: list[str],
) -> None:
    run, effects = _play(_run(), [(0, Tick()), (1, TaskUpdate(T1, "TASK_RUNNING")), *script])
    assert run.status is status
    assert [e.task_id for e in effects if isinstance(e, LaunchTask)] == launched
    assert [e.task_id for e in effects if isinstance(e, KillTask)] == killed
    # While not finished the run counts as active for FORBID (step_schedule's
    # active_runs): a second run of the job is never started across the partition.
    assert run.status.finished is (status in (RunStatus.SUCCESS, RunStatus.FAILED))


def test_an_agent_back_under_a_new_id_is_a_new_agent_the_old_one_stays_unreachable() -> None:
    m = _Master()
    aid, _fid, _task = _registered_agent_with_task(m)
    _partition(m)
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    out = m.handle(p.RegisterAgent("a1", AGENT, res, {}))  # a wiped work dir: no id
    (reg,) = _sends(out, p.AgentRegistered)
    assert reg.agent_id != aid
    old, new = m.core.agents[aid], m.core.agents[reg.agent_id]
    assert not old.reachable and old.tasks and new.reachable and not new.tasks
