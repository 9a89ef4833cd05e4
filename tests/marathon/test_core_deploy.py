"""MarathonCore, deploying: a change is stored before it is answered, an instance
record before its task is launched, and a store that fails changes nothing."""

from __future__ import annotations

import pytest

from actors.marathon import ApiRequest
from actors.marathon._messages import (
    AwaitStored,
    PersistDeployment,
    PersistInstances,
    PersistRoot,
    PersistVersions,
    Reply,
    Revive,
    StoreFailed,
    Tick,
)
from tests.marathon._core_kit import Sim, app, declined, events, launched, of


def test_create_stores_deployment_versions_and_root_before_replying() -> None:
    sim = Sim()
    effects = sim.request("create_app", body=app(instances=2))
    kinds = [type(e) for e in effects]
    assert kinds.index(PersistDeployment) < kinds.index(PersistVersions) < kinds.index(PersistRoot)
    assert kinds.index(PersistRoot) < kinds.index(AwaitStored) < kinds.index(Reply)
    reply = of(Reply, effects)[0].reply
    assert reply.status == 201 and reply.headers["Location"] == "/v2/apps/web"
    assert sim.core.queue == {"/web": 2}
    assert "deployment_info" in events(effects)


def test_a_store_that_fails_answers_503_and_changes_nothing() -> None:
    sim = Sim()
    sim.store_down = ConnectionError("zookeeper is gone")
    reply = sim.api("create_app", body=app())
    assert reply.status == 503 and reply.headers == {"Retry-After": "1"}
    assert "ConnectionError" in reply.body["message"]
    assert sim.core.apps == {} and sim.core.runs == {} and sim.core.queue == {}
    sim.store_down = None
    assert sim.api("create_app", body=app()).status == 201


def test_a_store_that_fails_for_now_logs_one_warning_line_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A transient failure (ZooKeeper away, a fenced write) is expected during elections:
    a one-line warning naming the app, no traceback; a bug stays an error with one."""
    sim = Sim()
    sim.store_down = ConnectionError("zookeeper is gone")
    with caplog.at_level("WARNING", logger="actors.marathon"):
        assert sim.api("create_app", body=app()).status == 503
    records = [r for r in caplog.records if "create_app" in r.getMessage()]
    assert [r.levelname for r in records] == ["WARNING"]
    assert "/web" in records[0].getMessage() and "zookeeper is gone" in records[0].getMessage()
    assert records[0].exc_info is None


def test_instance_records_are_stored_before_their_tasks_launch() -> None:
    sim = Sim()
    sim.subscribe()
    assert sim.api("create_app", body=app(instances=2)).status == 201
    effects = sim.offers(sim.offer())
    kinds = [type(e) for e in effects]
    first_launch = next(i for i, e in enumerate(effects) if type(e).__name__ == "Launch")
    assert kinds.index(PersistInstances) < kinds.index(AwaitStored) < first_launch
    tasks = launched(effects)
    assert len(tasks) == 2
    stored = {r["taskId"] for r in sim.instances["/web"]}
    assert stored == {t.task_id for t in tasks}
    env = tasks[0].command.env if tasks[0].command else {}
    assert env["MARATHON_APP_ID"] == "/web"


def test_launches_wait_for_the_store_and_decline_every_offer_when_it_fails() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app())
    sim.store_down = ConnectionError("zookeeper is gone")
    o = sim.offer()
    effects = sim.offers(o)
    assert launched(effects) == [] and declined(effects) == [o.offer_id]
    assert sim.core.instances == {} and sim.core.queue == {"/web": 1}
    sim.store_down = None
    assert len(launched(sim.offers(sim.offer()))) == 1


def test_the_deployment_finishes_when_its_instances_run() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=2))
    sim.offers(sim.offer())
    assert sim.core.runs
    out = []
    for task_id in sim.tasks():
        out += sim.update(task_id, "TASK_RUNNING")
    assert "deployment_success" in events(out)
    assert sim.core.runs == {} and sim.core.queue == {}
    assert sim.api("get_app", "/web").body["app"]["tasksRunning"] == 2


def test_new_launch_work_revives_offers_and_no_work_suppresses() -> None:
    sim = Sim()
    out = sim.subscribe()
    assert [type(e).__name__ for e in out].count("Suppress") == 1
    assert of(Revive, sim.request("create_app", body=app()))


def test_revives_for_new_work_are_paced_like_marathons_min_revive_offers_interval() -> None:
    """While work waits (not suppressed), new work revives at most once per
    ``min_revive_interval`` (Marathon: 5 s): each revive clears every decline filter and
    brings back the offer of every agent (at 10,000 agents, one per app POSTed). The
    revive held back is sent once the interval is over, and coming out of suppression
    is never held back."""
    sim = Sim()
    sim.subscribe()
    assert of(Revive, sim.request("create_app", body=app()))  # out of suppression
    assert not of(Revive, sim.request("create_app", body=app(id="/api")))  # 0 s later
    assert not of(Revive, sim.tick(4.0))
    assert of(Revive, sim.tick(1.0))  # 5 s after the first: the held-back revive
    assert not of(Revive, sim.tick(10.0))  # nothing new: nothing to revive for
    assert of(Revive, sim.request("create_app", body=app(id="/db")))  # 15 s since the last


def test_a_document_above_the_store_limit_is_refused_with_422_and_nothing_changes() -> None:
    sim = Sim()
    now, wall = sim.clock.now(), sim.clock.wall()
    batch = sim.core.handle(ApiRequest("create_app", None, {}, app()), now, wall)
    assert isinstance(batch[-1], AwaitStored), "the change waits for the store"
    with pytest.raises(RuntimeError, match="awaits the store"):
        sim.core.handle(Tick(), now, wall)
    failed = StoreFailed(ValueError("too big"), too_large=(2_000_000, 1_048_576))
    (reply,) = of(Reply, sim.core.handle(failed, now, wall))
    assert reply.reply.status == 422
    assert "2000000 bytes in one document" in reply.reply.body["message"]
    assert sim.core.apps == {} and sim.core.runs == {}


def test_a_dependent_app_waits_for_its_dependency_step() -> None:
    sim = Sim()
    sim.subscribe()
    group = {
        "id": "/g",
        "apps": [app("/g/db"), app("/g/web", dependencies=["/g/db"])],
    }
    assert sim.api("put_group", "/g", group).status == 200
    assert sim.core.queue == {"/g/db": 1}, "web's step is not reached yet"
    [db] = launched(sim.offers(sim.offer()))
    out = sim.update(db.task_id, "TASK_RUNNING")
    assert "deployment_step_success" in events(out)
    assert sim.core.queue == {"/g/web": 1}
    [web] = launched(sim.offers(sim.offer()))
    assert "deployment_success" in events(sim.update(web.task_id, "TASK_RUNNING"))
