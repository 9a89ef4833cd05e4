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
