"""MarathonCore, status updates: health changes and their events, a task killed by its
agent for failing health checks (a failure: backoff and ``lastTaskFailure``), and
Marathon's UnreachableStrategy (inactive, then replaced; expunged later)."""

from __future__ import annotations

from typing import Any

from tests.marathon._core_kit import Sim, app, events, killed, launched

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
