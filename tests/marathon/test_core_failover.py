"""MarathonCore, leader change: a new leader loads what the old one stored, answers
reads only once the tasks not stored as running were heard of, re-subscribes with the
same framework id, reconciles (explicitly, then implicitly), adopts its tasks, kills
tasks it never launched and replaces tasks the master does not know."""

from __future__ import annotations

from typing import Any

from actors.marathon._messages import Disconnected, PersistFrameworkId, Reconcile
from tests.marathon._core_kit import FID, Sim, app, events, killed, launched, of


def _old_leader(instances: int = 2) -> tuple[dict[str, Any], list[str]]:
    """What a leader that launched ``instances`` tasks (the first one running) stored."""
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=instances))
    tasks = [t.task_id for t in launched(sim.offers(sim.offer()))]
    sim.update(tasks[0], "TASK_RUNNING")
    sim.tick(1.0)  # the running state is flushed
    stored = {
        "framework_id": FID,
        "root": sim.core.root.to_json(),
        "versions": dict(sim.core.versions),
        "instances": dict(sim.instances),
    }
    return stored, tasks


def test_a_new_leader_adopts_its_tasks_before_serving_reads() -> None:
    stored, tasks = _old_leader()
    sim = Sim(data=stored)
    assert sim.core.framework_id == FID
    reply = sim.api("list_apps")
    assert reply.status == 503 and reply.headers == {"Retry-After": "1"}
    assert sim.api("info").status == 200, "status operations are always served"
    effects = sim.subscribe()
    assert not of(PersistFrameworkId, effects), "same framework id: nothing to store"
    asked = [None if r.task_ids is None else set(r.task_ids) for r in of(Reconcile, effects)]
    assert asked == [set(tasks), None], "explicit for what it knows, then implicit"
    assert "scheduler_reregistered_event" in events(effects)
    sim.update(tasks[1], "TASK_RUNNING")  # the reconciliation answer
    apps = sim.api("list_apps", embed=["apps.tasks"]).body["apps"]
    assert apps[0]["tasksRunning"] == 2 and sim.core.queue == {}


def test_reads_are_served_after_the_adoption_timeout_even_if_a_task_stays_silent() -> None:
    stored, _tasks = _old_leader()
    sim = Sim(data=stored)
    sim.tick(sim.core.config.adoption_timeout)
    assert sim.api("list_apps").status == 200


def test_a_task_the_master_does_not_know_is_replaced() -> None:
    stored, tasks = _old_leader()
    sim = Sim(data=stored)
    sim.subscribe()
    sim.update(tasks[1], "TASK_UNKNOWN")
    assert tasks[1] not in sim.core.instances and sim.core.queue == {"/web": 1}
    sim.tick(1.0)  # a lost task counts as a failure: the default backoff is 1 s
    assert len(launched(sim.offers(sim.offer()))) == 1


def test_a_running_task_marathon_never_launched_is_killed() -> None:
    sim = Sim()
    sim.subscribe()
    assert killed(sim.update("stranger.1", "TASK_RUNNING")) == ["stranger.1"]
    assert killed(sim.update("stranger.2", "TASK_FINISHED")) == []


def test_the_first_subscription_stores_the_framework_id_before_reconciling() -> None:
    sim = Sim()
    effects = sim.subscribe("fw-new")
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("PersistFrameworkId") < kinds.index("Reconcile")
    assert "scheduler_registered_event" in events(effects)


def test_kills_wait_for_the_subscription_and_are_sent_then() -> None:
    stored, tasks = _old_leader()
    sim = Sim(data=stored)
    sim.tick(sim.core.config.adoption_timeout)  # not subscribed yet: serving anyway
    reply = sim.api("delete_app", "/web")
    assert reply.status == 200
    assert all(sim.core.instances[t].killing for t in tasks)
    assert sorted(killed(sim.subscribe())) == sorted(tasks)


def test_disconnection_stops_launching_until_subscribed_again() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app())
    assert "scheduler_disconnected_event" in events(sim.feed(Disconnected()))
    assert launched(sim.offers(sim.offer())) == []
    assert (
        sim.api("queue").body["queue"][0]["waitingReason"].startswith("waiting for the framework")
    )
    sim.subscribe()
    assert len(launched(sim.offers(sim.offer()))) == 1


def _stored_surplus() -> tuple[dict[str, Any], list[str]]:
    """What a leader left when its last write was fenced off as it stepped down: the
    root says 1 instance while the instance records still list 2 (tasks[0] stored as
    running, tasks[1] as staging)."""
    stored, tasks = _old_leader(instances=2)
    stored["root"]["apps"][0]["instances"] = 1
    return stored, tasks


def test_a_new_leader_chooses_a_surplus_only_once_its_tasks_are_heard_of() -> None:
    stored, tasks = _stored_surplus()
    sim = Sim(data=stored)
    effects = sim.subscribe()
    assert killed(effects) == [], "no kill on stored states that may lag the tasks"
    # The task stored as running is gone, the one stored as staging runs: keep it.
    assert killed(sim.update(tasks[1], "TASK_RUNNING")) == []
    assert killed(sim.update(tasks[0], "TASK_UNKNOWN")) == []
    assert sim.tasks() == [tasks[1]] and sim.core.queue == {}


def test_a_surplus_of_tasks_heard_of_is_killed_after_the_election() -> None:
    stored, tasks = _stored_surplus()
    sim = Sim(data=stored)
    sim.subscribe()
    assert killed(sim.update(tasks[0], "TASK_RUNNING")) == []
    dead = killed(sim.update(tasks[1], "TASK_RUNNING"))
    assert len(dead) == 1 and dead[0] in tasks


def test_a_silent_surplus_is_killed_at_the_adoption_deadline() -> None:
    stored, tasks = _stored_surplus()
    sim = Sim(data=stored)
    sim.subscribe()
    assert killed(sim.update(tasks[0], "TASK_RUNNING")) == []
    dead = killed(sim.tick(sim.core.config.adoption_timeout))
    assert len(dead) == 1 and dead[0] in tasks


# -- changes served while adopting (a new leader carries out what cannot act wrongly) --


def _adopting() -> tuple[Sim, list[str]]:
    """A new leader, subscribed, with ``tasks[1]`` (stored as staging) not heard of."""
    stored, tasks = _old_leader()
    sim = Sim(data=stored)
    sim.subscribe()
    assert sim.core.adopting == {tasks[1]}
    return sim, tasks


def test_a_new_app_is_accepted_and_launched_while_old_tasks_are_adopting() -> None:
    sim, tasks = _adopting()
    reply = sim.api("create_app", body=app("/probe", instances=2))
    assert reply.status == 201, reply.body
    assert sim.api("list_apps").status == 503, "views with task states still wait"
    assert sim.api("deployments").status == 200
    new = launched(sim.offers(sim.offer()))
    assert sorted(t.task_id.split(".")[0] for t in new) == ["probe", "probe"]
    assert sim.core.queue.get("/web", 0) == 0, "a task not heard of is never replaced"
    assert sim.tasks("/web") == sorted(tasks) and sim.core.adopting == {tasks[1]}
    sim.tick(sim.core.config.adoption_timeout)  # it stays silent: served, not replaced
    assert sim.api("list_apps").status == 200 and sim.tasks("/web") == sorted(tasks)


def test_a_restart_of_an_app_with_tasks_adopting_waits_other_changes_do_not() -> None:
    sim, tasks = _adopting()
    for op, body in (("restart_app", None), ("put_app", {"cmd": "sleep 2000"})):
        reply = sim.api(op, "/web", body=body, partial=True)
        assert reply.status == 503 and reply.headers == {"Retry-After": "1"}, (op, reply)
        assert "/web" in reply.body["message"]
    assert sim.core.runs == {} and sim.core.apps["/web"].cmd == "sleep 1000"
    assert sim.api("kill_task", "/web", task_id=tasks[1]).status == 503, "its answer shows it"
    assert sim.api("kill_task", "/web", task_id=tasks[0]).status == 200, "heard of: killed"
    sim.update(tasks[1], "TASK_RUNNING")  # the reconciliation answer
    assert sim.api("put_app", "/web", body={"cmd": "sleep 2000"}, partial=True).status == 200


def test_a_scale_down_while_adopting_waits_for_the_answers_before_choosing() -> None:
    sim, tasks = _adopting()
    sim.update(tasks[0], "TASK_RUNNING")  # one answer: still adopting tasks[1]
    effects = sim.request("put_app", "/web", body={"instances": 1}, partial=True)
    assert killed(effects) == [], "which one dies is chosen once both were heard of"
    effects = sim.update(tasks[1], "TASK_RUNNING")
    assert len(killed(effects)) == 1


def test_an_app_deleted_while_adopting_has_every_task_killed() -> None:
    sim, tasks = _adopting()
    effects = sim.request("delete_app", "/web")
    assert sorted(killed(effects)) == sorted(tasks)
