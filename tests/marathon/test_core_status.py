"""MarathonCore, status updates: health changes and their events, a task killed by its
agent for failing health checks (a failure: backoff and ``lastTaskFailure``), and
Marathon's UnreachableStrategy (inactive, then replaced; expunged later)."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.marathon import MarathonCore
from actors.marathon._messages import Acknowledge, StatusUpdates
from tests.marathon._core_kit import Sim, app, events, killed, launched, of

CHECK = [{"protocol": "COMMAND", "command": {"value": "true"}}]


def _one_running(**over: Any) -> tuple[Sim, str]:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(**over))
    [task] = launched(sim.offers(sim.offer()))
    sim.update(task.task_id, "TASK_RUNNING", True if over.get("healthChecks") else None)
    return sim, task.task_id


def test_health_changes_publish_events_and_show_in_the_task() -> None:
    sim, task_id = _one_running(healthChecks=CHECK)
    out = sim.update(task_id, "TASK_RUNNING", False)
    assert events(out).count("health_status_changed_event") == 1
    assert "failed_health_check_event" in events(out)
    [task] = sim.api("app_tasks", "/web").body["tasks"]
    assert task["healthCheckResults"][0]["alive"] is False
    assert task["healthCheckResults"][0]["consecutiveFailures"] == 1
    assert (
        events(sim.update(task_id, "TASK_RUNNING", False)).count("health_status_changed_event") == 0
    )


def test_a_task_killed_for_failing_health_checks_is_a_failure_and_is_replaced() -> None:
    sim, task_id = _one_running(healthChecks=CHECK, backoffSeconds=30)
    sim.update(task_id, "TASK_RUNNING", False)
    out = sim.update(task_id, "TASK_KILLED")
    assert "unhealthy_instance_kill_event" in events(out)
    assert sim.core.queue == {"/web": 1}
    app_json = sim.api("get_app", "/web").body["app"]
    assert app_json["lastTaskFailure"]["state"] == "TASK_KILLED"
    assert launched(sim.offers(sim.offer())) == [], "backoff: 30 s"


def test_a_task_killed_through_the_api_is_no_failure() -> None:
    sim, task_id = _one_running()
    assert sim.api("kill_task", "/web", task_id=task_id).status == 200
    sim.update(task_id, "TASK_KILLED")
    assert "lastTaskFailure" not in sim.api("get_app", "/web").body["app"]
    assert len(launched(sim.offers(sim.offer()))) == 1, "replaced at once, no backoff"


def test_an_unreachable_task_is_replaced_when_inactive_and_expunged_later() -> None:
    strategy = {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 60}
    sim, task_id = _one_running(unreachableStrategy=strategy)
    sim.update(task_id, "TASK_UNREACHABLE")
    assert sim.core.queue == {}
    sim.tick(10.0)
    assert sim.core.queue == {"/web": 1}, "inactive: a replacement is launched"
    [replacement] = launched(sim.offers(sim.offer("agent2")))
    sim.update(replacement.task_id, "TASK_RUNNING")
    assert killed(sim.tick(50.0)) == [task_id], "expunged"
    assert sim.tasks() == [replacement.task_id]
    assert [r["taskId"] for r in sim.instances["/web"]] == [replacement.task_id]


def test_an_unreachable_task_that_comes_back_is_kept() -> None:
    strategy = {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 60}
    sim, task_id = _one_running(unreachableStrategy=strategy)
    sim.update(task_id, "TASK_UNREACHABLE")
    sim.tick(5.0)
    sim.update(task_id, "TASK_RUNNING")
    assert killed(sim.tick(100.0)) == [] and sim.core.queue == {}
    assert sim.tasks() == [task_id]


def _update(sim: Sim, task_id: str, state: str, uuid: str) -> p.StatusUpdate:
    inst = sim.core.instances.get(task_id)
    agent = inst.agent_id if inst is not None else "id-agent1"
    return p.StatusUpdate(sim.core.framework_id or "", task_id, agent, state, uuid, 0.0)


def test_a_burst_of_updates_is_one_event_handled_as_each_alone_would_be(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=3))
    tasks = [t.task_id for t in launched(sim.offers(sim.offer("agent1"), sim.offer("agent2")))]
    assert len(tasks) == 3
    (deployment,) = sim.api("deployments").body
    burst = [_update(sim, t, "TASK_RUNNING", f"b{i}") for i, t in enumerate(tasks)]
    burst.insert(1, _update(sim, "ghost.1", "TASK_RUNNING", "g"))  # a task nobody knows
    burst.append(_update(sim, tasks[0], "TASK_RUNNING", "b0"))  # a resend of the first
    broken = _update(sim, tasks[2], "TASK_RUNNING", "boom")
    burst.insert(3, broken)
    real = MarathonCore._on_status

    def on_status(core: MarathonCore, u: p.StatusUpdate) -> None:
        if u is broken:
            raise RuntimeError("one bad update")
        real(core, u)

    monkeypatch.setattr(MarathonCore, "_on_status", on_status)
    out = sim.feed(StatusUpdates(tuple(burst)))
    acked = [e.update.uuid for e in of(Acknowledge, out)]
    assert acked == ["b0", "g", "b1", "b2", "b0"], "every update but the broken one, in order"
    assert killed(out) == ["ghost.1"]
    assert sim.core.counters["handler_errors"] == 1
    assert all(sim.core.instances[t].running for t in tasks)
    assert sim.api("deployments").body == [], f"{deployment['id']} done after the burst"
