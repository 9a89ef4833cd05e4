"""The warm worker pool's decisions, on a manual clock (no I/O)."""

from __future__ import annotations

from typing import Any

from actors import protocol as p
from actors.cluster_actors._core import (
    Assign,
    Decline,
    KillTask,
    Launch,
    Offers,
    Registered,
    RegisterWorker,
    Revive,
    StopWorker,
    Suppress,
    TaskStatus,
    WorkerReady,
)
from actors.cluster_actors._model import ActorState

from .test_core import Sim, offer

WARM = {"warm_per_agent": 1, "warm_cpus": 1.0, "warm_mem": 128.0}


def warm_sim(**cfg: Any) -> Sim:
    return Sim(**{**WARM, **cfg})


def launched(out: list[Any]) -> list[p.TaskInfo]:
    return [t for e in out if isinstance(e, Launch) for t in e.tasks]


def fill(sim: Sim, *agents: str) -> dict[str, str]:
    """Each agent's offer launches its warm worker, which registers: agent -> task id."""
    made = {}
    for agent in agents:
        (task,) = sim.place(agent)
        assert task.task_id.startswith("warm-")
        sim.do(RegisterWorker("", 1, f"tcp://{agent}/actor", f"ctl-{agent}", task_id=task.task_id))
        made[agent] = task.task_id
    return made


def test_no_pool_before_the_first_spawn_and_offers_are_suppressed() -> None:
    sim = warm_sim()
    out = sim.do(Registered())
    assert Suppress() in out
    out = sim.do(Offers((offer("a1"),)))
    assert not launched(out) and isinstance(out[0], Decline)


def test_a_spawn_fills_the_pool_on_each_agent_with_the_warm_size() -> None:
    sim = warm_sim()
    a = sim.spawn(cpus=0.1, mem=64)  # does not fit the warm size: the cold path
    tasks = sim.place("a1")
    assert [t.task_id for t in tasks] == [f"{a}.1", tasks[1].task_id]
    warm = tasks[1]
    assert warm.task_id.startswith("warm-")
    assert warm.command is not None
    argv = list(warm.command.args)
    assert argv[argv.index("--actor-id") + 1] == ""
    assert resources_of(warm) == {"cpus": 1.0, "mem": 128.0}
    assert warm.labels == {"pydcos.actor.warm": "true"}
    # a second offer of the same agent: its pool is full
    sim.run(a)
    out = sim.do(Offers((offer("a1"),)))
    assert not launched(out)
    # another agent gets its own
    (other,) = sim.place("a2")
    assert other.task_id.startswith("warm-") and other.agent_id == "a2"


def resources_of(task: p.TaskInfo) -> dict[str, float]:
    from actors.resources import Resources

    return {k: v for k, v in Resources.from_dict(task.resources).scalars().items() if v}


def test_a_spawn_that_fits_is_assigned_to_an_idle_warm_worker_at_once() -> None:
    sim = warm_sim()
    first = sim.spawn(cpus=0.5, mem=128)
    (cold, warm_task) = sim.place("a1")
    assert cold.task_id == f"{first}.1"
    out = sim.do(RegisterWorker("", 1, "tcp://w/actor", "ctl-w", task_id=warm_task.task_id))
    assert not any(isinstance(e, Assign) for e in out)  # the first actor is already launched
    b = sim.spawn(cpus=1.0, mem=128)
    r = sim.core.actors[b]
    assert r.state is ActorState.STARTING and r.task_id == warm_task.task_id
    assert r.agent_id == "a1" and r.incarnation == 1
    assign = [e for e in sim.effects if isinstance(e, Assign)]
    assert assign[-1] == Assign("ctl-w", b, 1)
    assert Revive() in sim.effects[-6:]  # the pool is refilled through the next offer
    sim.do(WorkerReady(b, 1, "tcp://w/actor"))
    assert sim.core.actors[b].state is ActorState.RUNNING
    assert sim.core.warm == {} and sim.core.stats.warm_assigned == 1
    (refill,) = sim.place("a1")
    assert refill.task_id.startswith("warm-") and refill.task_id != warm_task.task_id
    # the warm task's end is the actor's incarnation ending: restarted per policy
    out = sim.do(TaskStatus(warm_task.task_id, "TASK_FINISHED", "a1"))
    assert sim.state(b) == "STOPPED"  # transient, exited normally


def test_a_spawn_that_does_not_fit_takes_the_cold_path() -> None:
    sim = warm_sim()
    sim.spawn(cpus=0.5, mem=128)
    sim.place("a1")
    fill(sim, "a2")
    for kw in (
        {"mem": 64},  # another memory limit
        {"cpus": 2.0, "mem": 128},  # more cpus than the warm task holds
        {"mem": 128, "constraints": [["zone", "IS", "b"]]},  # a2 has no zone b
        {"mem": 128, "role": "analytics"},
    ):
        a = sim.spawn(**kw)
        assert sim.core.actors[a].state is ActorState.PENDING, kw
    assert len(sim.core.warm) == 2 and sum(1 for w in sim.core.warm.values() if w.control) == 1


def test_a_waiting_actor_takes_a_warm_worker_as_soon_as_it_registers() -> None:
    sim = warm_sim()
    a = sim.spawn(cpus=1.0, mem=128)
    tasks = sim.place("a1", cpus=1.5)  # room for the actor only: no warm worker there
    assert [t.task_id for t in tasks] == [f"{a}.1"]
    sim.advance(11)  # a1 may be asked again
    b = sim.spawn(cpus=1.0, mem=128, placement_timeout=60)
    (warm_task,) = [t for t in sim.place("a2") if t.task_id.startswith("warm-")]
    # b was placed cold on a2 in the same offer; a worker for c registers later
    c = sim.spawn(cpus=1.0, mem=128, placement_timeout=60)
    assert sim.core.actors[c].state is ActorState.PENDING
    out = sim.do(RegisterWorker("", 1, "tcp://w/actor", "ctl", task_id=warm_task.task_id))
    assert Assign("ctl", c, 1) in out
    assert sim.core.actors[b].state is ActorState.STARTING


def test_a_crashed_actor_restarts_in_a_warm_worker_of_its_agent() -> None:
    sim = warm_sim()
    a = sim.spawn(cpus=1.0, mem=128, max_restarts=3)
    tasks = sim.place("a1")
    sim.run(a)
    warm_task = tasks[1]
    sim.do(RegisterWorker("", 1, "tcp://w/actor", "ctl-w", task_id=warm_task.task_id))
    sim.end(a)
    r = sim.core.actors[a]
    assert r.state is ActorState.STARTING and r.task_id == warm_task.task_id
    assert r.incarnation == 2 and r.restarts == 1


def test_a_restart_in_place_does_not_take_another_agents_warm_worker() -> None:
    sim = warm_sim()
    a = sim.spawn(cpus=1.0, mem=128, max_restarts=3)
    sim.place("a1", cpus=1.0)  # the actor only
    sim.run(a)
    fill(sim, "a2")
    sim.end(a)
    assert sim.core.actors[a].state is ActorState.RESTARTING  # waits for a1 (in place)
    sim.advance(3.5)  # the in-place wait is over: any agent, warm ones first
    assert sim.core.actors[a].agent_id == "a2"


def test_a_warm_worker_that_dies_before_registering_is_not_relaunched_at_once() -> None:
    sim = warm_sim(warm_retry_seconds=10.0)
    sim.spawn(cpus=0.5, mem=64)
    (_, warm_task) = sim.place("a1")
    sim.do(TaskStatus(warm_task.task_id, "TASK_FAILED", "a1"))
    assert sim.core.warm == {}
    out = sim.do(Offers((offer("a1"),)))
    assert not launched(out)
    sim.advance(10.5)
    (again,) = sim.place("a1")
    assert again.task_id.startswith("warm-")


def test_an_unknown_warm_worker_is_told_to_stop() -> None:
    sim = warm_sim()
    out = sim.do(RegisterWorker("", 1, "tcp://w/actor", "ctl", task_id="warm-old"))
    assert StopWorker("ctl", "", "this warm worker is not wanted") in out


def test_the_pool_is_retired_after_the_idle_time_and_offers_suppressed() -> None:
    sim = warm_sim(warm_idle_seconds=60.0)
    a = sim.spawn(cpus=0.5, mem=64)
    sim.place("a1")  # the actor and a1's warm worker
    sim.run(a)
    made = fill(sim, "a2")
    sim.advance(61)
    task = made["a2"]
    assert StopWorker("ctl-a2", "", "the warm pool is retired") in sim.effects
    assert KillTask(task, "a2") in sim.effects
    assert sim.core.warm == {}
    out = sim.do(Offers((offer("a1"),)))
    assert not launched(out) and Suppress() in out
    assert sim.state(a) == "RUNNING"


def test_a_warm_worker_that_never_registers_is_killed_after_the_start_timeout() -> None:
    sim = warm_sim(start_timeout=20.0)
    sim.spawn(cpus=0.5, mem=64)
    (_, warm_task) = sim.place("a1")
    sim.advance(21)
    assert KillTask(warm_task.task_id, "a1") in sim.effects
    assert sim.core.warm == {}


def test_warm_rows_show_the_pool_honestly() -> None:
    sim = warm_sim()
    sim.spawn(cpus=0.5, mem=64)
    sim.place("a1")
    fill(sim, "a2")
    rows = {r["node"]: r for r in sim.core.warm_rows()}
    assert rows["host-a1"]["state"] == "STARTING" and rows["host-a2"]["state"] == "IDLE"
    assert rows["host-a2"]["cpus"] == 1.0 and rows["host-a2"]["mem"] == 128.0
    assert rows["host-a2"]["class"] == "(warm worker)"


def test_a_lost_agent_takes_its_warm_workers_with_it() -> None:
    from actors.cluster_actors._core import AgentGone

    sim = warm_sim()
    sim.spawn(cpus=0.5, mem=64)
    sim.place("a1")
    fill(sim, "a2")
    sim.do(AgentGone("a2"))
    assert [w.agent_id for w in sim.core.warm.values()] == ["a1"]
    assert "a2" not in sim.core.warm_agents


def test_a_new_leader_kills_the_previous_leaders_warm_workers() -> None:
    from actors.cluster_actors._core import Reconcile

    sim = warm_sim()
    a = sim.spawn(cpus=0.5, mem=64)
    sim.place("a1", cpus=0.5)
    sim.run(a)
    out = sim.do(Registered())
    assert Reconcile((f"{a}.1",)) in out and Reconcile(()) in out
    out = sim.do(TaskStatus("warm-of-the-old-leader", "TASK_RUNNING", "a1"))
    assert KillTask("warm-of-the-old-leader", "a1") in out


def test_the_master_flags_size_the_pool_and_bad_values_are_named() -> None:
    import pytest

    from actors.cluster_actors._service import warm_pool_config

    cfg = warm_pool_config(2, "0.5:256")
    assert (cfg.warm_per_agent, cfg.warm_cpus, cfg.warm_mem) == (2, 0.5, 256.0)
    assert warm_pool_config(0, "1:128").warm_per_agent == 0
    for workers, size, named in (
        (-1, "1:128", "actors-warm-workers: -1"),
        ("2", "1:128", "actors-warm-workers: '2'"),
        (1, "lots", "actors-warm-size: 'lots'"),
        (1, "1:8", "actors-warm-size: '1:8'"),
    ):
        with pytest.raises(ValueError, match="^" + named):
            warm_pool_config(workers, size)


def test_a_full_agent_is_asked_again_for_its_warm_worker_soon_after() -> None:
    sim = warm_sim(warm_full_seconds=2.0)
    a = sim.spawn(cpus=1.0, mem=64)
    assert [t.task_id for t in sim.place("a1", cpus=1.0)] == [f"{a}.1"]  # no room left
    assert not launched(sim.do(Offers((offer("a1"),))))  # not asked again at once
    out = sim.advance(2.1)
    assert Revive() in out
    (warm,) = sim.place("a1")
    assert warm.task_id.startswith("warm-")


def test_a_lost_worker_is_told_to_stop_after_its_replacement_was_assigned() -> None:
    from actors.cluster_actors._core import WorkerLost

    sim = warm_sim()
    a = sim.spawn(cpus=1.0, mem=128, max_restarts=2)
    sim.place("a1", cpus=1.0)
    sim.run(a)
    fill(sim, "a2")
    out = sim.do(WorkerLost(a, 1, "3 probes unanswered"))
    kinds = [type(e).__name__ for e in out]
    assert kinds.index("Assign") < kinds.index("StopWorker")
    assert sim.core.actors[a].agent_id == "a2"


def test_an_actor_in_a_warm_worker_shows_what_its_task_holds() -> None:
    sim = warm_sim()
    a = sim.spawn(cpus=0.5, mem=128)
    assert len(sim.place("a1")) == 2  # a cold launch and a1's warm worker
    fill(sim, "a2")
    b = sim.spawn(cpus=0.5, mem=128)
    row_a = sim.core.describe(sim.core.actors[a], sim.wall)
    row_b = sim.core.describe(sim.core.actors[b], sim.wall)
    assert (row_a["cpus"], row_a["task_cpus"]) == (0.5, 0.5)
    assert (row_b["cpus"], row_b["task_cpus"], row_b["task_mem"]) == (0.5, 1.0, 128.0)
