"""MarathonCore, rolling upgrade with health checks (Marathon's TaskReplaceActor): the
health floor ``ceil(n * minimumHealthCapacity)`` holds at every step, old and new
instances stay within ``floor(n * (1 + maximumOverCapacity))``, and an old instance is
only killed for a new one that is healthy."""

from __future__ import annotations

from tests.marathon._core_kit import Sim, app, events, killed, launched

CHECK = [{"protocol": "COMMAND", "command": {"value": "true"}}]


def _healthy_serving(sim: Sim) -> int:
    return sum(
        1
        for i in sim.core.by_app.get("/web", {}).values()
        if i.running and i.healthy is True and not i.killing
    )


def test_rolling_upgrade_keeps_the_health_floor_and_the_capacity_bound() -> None:
    strategy = {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=2, healthChecks=CHECK, upgradeStrategy=strategy))
    old = [t.task_id for t in launched(sim.offers(sim.offer()))]
    for task_id in old:
        sim.update(task_id, "TASK_RUNNING", True)
    assert sim.core.runs == {}

    effects = sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    first_kills = killed(effects)
    assert len(first_kills) == 1 and first_kills[0] in old  # 2 old - floor 1
    seen_events: list[str] = []
    new: list[str] = []
    for _ in range(20):  # drive it: offers, new tasks turning healthy, old ones dying
        assert _healthy_serving(sim) >= 1, "the health floor broke"
        alive = [i for i in sim.core.by_app["/web"].values()]
        assert len(alive) <= 3, "over maximumOverCapacity"
        out = sim.offers(sim.offer())
        for task in launched(out):
            new.append(task.task_id)
            sim.update(task.task_id, "TASK_RUNNING", None)
            assert killed(sim.update(task.task_id, "TASK_RUNNING", False)) == []  # not healthy
            out += sim.update(task.task_id, "TASK_RUNNING", True)
        for inst in list(sim.core.by_app["/web"].values()):
            if inst.killing:
                out += sim.update(inst.task_id, "TASK_KILLED")
        seen_events += events(out)
        if not sim.core.runs:
            break
    assert "deployment_success" in seen_events
    assert sorted(sim.tasks()) == sorted(new) and len(new) == 2
    assert all(sim.core.instances[t].version != "" for t in new)


def test_an_old_instance_that_dies_on_its_own_frees_capacity_for_a_new_one() -> None:
    strategy = {"minimumHealthCapacity": 1, "maximumOverCapacity": 0}
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=2, healthChecks=CHECK, upgradeStrategy=strategy))
    old = [t.task_id for t in launched(sim.offers(sim.offer()))]
    for task_id in old:
        sim.update(task_id, "TASK_RUNNING", True)
    assert killed(sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)) == []
    # {1, 0}: one extra instance (Marathon's corner), nothing killed yet.
    assert sim.core.queue == {"/web": 1}
    sim.update(old[0], "TASK_FAILED")
    assert sim.core.queue == {"/web": 2}


def test_restart_after_failover_counts_tasks_already_on_the_new_config() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=2))
    for task in launched(sim.offers(sim.offer())):
        sim.update(task.task_id, "TASK_RUNNING")
    sim.api("restart_app", "/web")
    new = [t.task_id for t in launched(sim.offers(sim.offer()))]
    assert len(new) == 2  # defaults {1, 1}: every new instance at once, no old one killed
    stored = {
        "framework_id": "fw-1",
        "root": sim.core.root.to_json(),
        "deployments": [run.doc() for run in sim.core.runs.values()],
        "instances": {"/web": [i.record() for i in sim.core.by_app["/web"].values()]},
    }
    again = Sim(data=stored)
    state = again.core.restarts["/web"]
    assert set(new) <= state.new_running and state.pending_launches == 0
    assert again.core.queue == {}, "a new leader must not launch the new instances twice"
