"""Resident apps (local persistent volumes) in MarathonCore, on a manual clock:
reserve + create, launch on the reservation, relaunch on the same agent only, scale down
keeps the reservation, delete wipes it; plus Marathon's validation of the definitions."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.marathon import AppDefinition
from actors.marathon._errors import ValidationFailed
from actors.marathon._messages import Load, Operate, Revive, Suppress
from actors.marathon._resident import LABEL_FRAMEWORK, LABEL_RESERVATION, ROLE, labelled_parts
from actors.marathon._resident_offers import match
from actors.resources import Resources
from tests.marathon._core_kit import FID, Sim, app, killed, launched, of

VOLUME = {"containerPath": "data", "mode": "RW", "persistent": {"type": "root", "size": 64}}


def resident(**over: Any) -> dict[str, Any]:
    doc = app("/db", cpus=0.5, mem=64, container={"type": "MESOS", "volumes": [VOLUME]})
    doc.update(over)
    return doc


class Master:
    """Applies Operate effects to an agent's resources, as the master would."""

    def __init__(self, host: str = "agent1", total: str = "cpus:4;mem:4096;disk:1000") -> None:
        self.host = host
        self.free = Resources.parse(total + ";ports:[31000-31009]")
        self.n = 0

    def offer(self) -> p.Offer:
        self.n += 1
        return p.Offer(
            f"{self.host}-o{self.n}",
            FID,
            f"id-{self.host}",
            self.host,
            self.free.to_dict(),
            {},
            ip="",
        )

    def apply(self, op: p.Operation) -> None:
        res = Resources.from_dict(op.resources)
        if op.type == "RESERVE":
            self.free = self.free - res.base_form() + res
        elif op.type == "CREATE":
            self.free = self.free - res.strip_volumes() + res
        elif op.type == "DESTROY":
            self.free = self.free - res + res.strip_volumes()
        elif op.type == "UNRESERVE":
            self.free = self.free - res + res.base_form()

    def take(self, task: p.TaskInfo) -> None:
        self.free = self.free - Resources.from_dict(task.resources)

    def give_back(self, task: p.TaskInfo) -> None:
        self.free = self.free + Resources.from_dict(task.resources)


def _operate(sim: Sim, m: Master, effects: list[Any]) -> list[Operate]:
    ops = of(Operate, effects)
    for o in ops:
        for op in o.operations:
            m.apply(op)
    return ops


def _start(sim: Sim, m: Master) -> p.TaskInfo:
    sim.subscribe()
    sim.api("create_app", body=resident())
    ops = _operate(sim, m, sim.offers(m.offer()))
    assert [op.type for op in ops[0].operations] == ["RESERVE", "CREATE"]
    reserve = Resources.from_dict(ops[0].operations[0].resources)
    entry = next(reserve.entries())
    assert entry.role == ROLE and entry.reservation is not None
    labels = entry.reservation.labels_dict()
    assert labels[LABEL_FRAMEWORK] == FID and labels[LABEL_RESERVATION]
    (task,) = launched(sim.offers(m.offer()))
    m.take(task)
    return task


def test_reserve_create_then_launch_on_the_reservation_with_its_volume() -> None:
    sim, m = Sim(), Master()
    task = _start(sim, m)
    (vol,) = Resources.from_dict(task.resources).volumes()
    assert vol.volume is not None and vol.volume.container_path == "data"
    assert vol.role == ROLE and vol.value == 64
    sim.update(task.task_id, "TASK_RUNNING")
    (shown,) = sim.api("list_tasks", "/db").body["tasks"]
    assert shown["localVolumes"] == [
        {"containerPath": "data", "persistenceId": vol.volume.persistence_id}
    ]
    assert shown["localVolumes"][0]["persistenceId"].startswith("db#data#")


def test_a_failed_instance_relaunches_on_the_same_agent_only() -> None:
    sim, m = Sim(), Master()
    other = Master("agent2")
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    sim.update(task.task_id, "TASK_FAILED")
    m.give_back(task)
    sim.tick(60)  # the backoff is over
    # Another agent with plenty of room: nothing is reserved or launched there.
    effects = sim.offers(other.offer())
    assert not launched(effects) and not of(Operate, effects)
    (again,) = launched(sim.offers(m.offer()))
    assert again.agent_id == "id-agent1" and again.task_id != task.task_id
    assert (
        Resources.from_dict(again.resources).volumes()
        == Resources.from_dict(task.resources).volumes()
    )


def test_scale_down_keeps_the_reservation_and_scale_up_reuses_it() -> None:
    sim, m = Sim(), Master()
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    sim.request("put_app", "/db", {"instances": 0}, partial=True)
    sim.update(task.task_id, "TASK_KILLED")
    m.give_back(task)
    effects = sim.offers(m.offer())
    assert not of(Operate, effects)  # nothing wiped: the app still exists
    assert len(sim.core.resident.by_id) == 1
    sim.request("put_app", "/db", {"instances": 1}, partial=True)
    (again,) = launched(sim.offers(m.offer()))
    assert (
        Resources.from_dict(again.resources).volumes()
        == Resources.from_dict(task.resources).volumes()
    )


def test_delete_destroys_and_unreserves_and_offers_are_whole_again() -> None:
    sim, m = Sim(), Master()
    before = m.free
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    effects = sim.request("delete_app", "/db")
    sim.update(task.task_id, "TASK_KILLED")
    m.give_back(task)
    effects = sim.tick(1)
    assert not of(Suppress, effects) or of(Revive, effects)  # wipes still need offers
    ops = _operate(sim, m, sim.offers(m.offer()))
    assert [op.type for op in ops[0].operations] == ["DESTROY", "UNRESERVE"]
    assert m.free == before
    assert not sim.core.resident.by_id
    sim.tick(1)  # records are flushed at the next tick at the latest
    assert sim.instances["/db"] == []


def test_reservations_survive_a_failover_through_the_store() -> None:
    sim, m = Sim(), Master()
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    records = sim.instances["/db"]
    assert any("reservationId" in r for r in records)
    root = [e for e in sim.stored if type(e).__name__ == "PersistRoot"][-1].root
    fresh = Sim(data={"root": root, "instances": {"/db": records}, "framework-id": FID})
    assert len(fresh.core.resident.by_id) == 1
    (r,) = fresh.core.resident.by_id.values()
    assert r.agent_id == "id-agent1" and r.task_id == task.task_id
    _ = Load  # the store's shape is the one Sim feeds


def test_labelled_resources_nobody_claims_are_wiped() -> None:
    m = Master()
    plain = Resources.from_scalars({"cpus": 1, "disk": 10})
    orphan = plain.reserve_dynamic(ROLE, "marathon", {LABEL_FRAMEWORK: FID, LABEL_RESERVATION: "x"})
    m.free = m.free - plain + orphan
    from actors.marathon._resident import ResidentBook

    plan = match(
        ResidentBook(), [], [m.offer()], framework_id=FID, live_tasks=set(), apps={}, now=0.0
    )
    (op,) = plan.operations
    assert [o.type for o in op.operations] == ["UNRESERVE"]
    assert labelled_parts(Resources.from_dict(m.offer().resources), "other-fw") == {}


@pytest.mark.parametrize(
    ("volume", "over", "field"),
    [
        ({"containerPath": "/data", "mode": "RW", "persistent": {"size": 1}}, {}, "containerPath"),
        ({"containerPath": "a/b", "mode": "RW", "persistent": {"size": 1}}, {}, "containerPath"),
        ({"containerPath": "..", "mode": "RW", "persistent": {"size": 1}}, {}, "containerPath"),
        ({"containerPath": "d", "mode": "RW", "persistent": {}}, {}, "persistent/size"),
        ({"containerPath": "d", "mode": "RO", "persistent": {"size": 1}}, {}, "mode"),
        (
            {"containerPath": "d", "mode": "RW", "persistent": {"size": 1, "type": "mount"}},
            {},
            "persistent/type",
        ),
        (
            {"containerPath": "d", "mode": "RW", "hostPath": "x", "persistent": {"size": 1}},
            {},
            "hostPath",
        ),
        (VOLUME, {"upgradeStrategy": {"minimumHealthCapacity": 1}}, "minimumHealthCapacity"),
        (
            VOLUME,
            {"upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 1}},
            "maximumOverCapacity",
        ),
        (
            VOLUME,
            {"unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2}},
            "unreachableStrategy",
        ),
    ],
)
def test_bad_resident_definitions_are_refused_naming_the_field(
    volume: dict[str, Any], over: dict[str, Any], field: str
) -> None:
    doc = resident(container={"type": "MESOS", "volumes": [volume]}, **over)
    with pytest.raises(ValidationFailed) as err:
        AppDefinition.from_json(doc)
    assert field in str(err.value)
    sim = Sim()
    reply = sim.api("create_app", body=doc)
    assert reply.status == 422 and field in str(reply.body)
    assert "/db" not in sim.core.apps


def test_resident_defaults_and_shape() -> None:
    a = AppDefinition.from_json(resident())
    doc = a.to_json()
    assert doc["upgradeStrategy"] == {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0}
    assert doc["unreachableStrategy"] == "disabled"
    assert doc["container"]["volumes"] == [
        {
            "containerPath": "data",
            "mode": "RW",
            "persistent": {"type": "root", "size": 64, "constraints": []},
        }
    ]
    assert AppDefinition.from_json(doc) == a


def test_what_a_resident_app_reserved_cannot_change() -> None:
    sim = Sim()
    sim.api("create_app", body=resident())
    reply = sim.api("put_app", "/db", {"mem": 128}, partial=True)
    assert reply.status == 422 and "/mem" in str(reply.body)
    other = {"containerPath": "logs", "mode": "RW", "persistent": {"size": 8}}
    container = {"type": "MESOS", "volumes": [VOLUME, other]}
    reply = sim.api("put_app", "/db", {"container": container}, partial=True)
    assert reply.status == 422 and "/container/volumes" in str(reply.body)
    assert sim.api("put_app", "/db", {"instances": 3}, partial=True, force=True).status == 200
    assert sim.core.apps["/db"].mem == 64


def test_jobs_refuse_persistent_volumes_naming_the_field() -> None:
    from actors.metronome._job import JobSpec

    run = {"cmd": "x", "cpus": 0.1, "mem": 32, "disk": 0, "volumes": [VOLUME]}
    with pytest.raises(Exception, match="/run/volumes/0/persistent"):
        JobSpec.from_json({"id": "j", "run": run})


@pytest.mark.parametrize(
    ("value", "ok"),
    [("vol1:/data", True), ("vol1:/data:ro", True), ("/host:/data", False), ("v:data", False)],
)
def test_docker_named_volumes_are_checked_at_create(value: str, ok: bool) -> None:
    doc = app(
        "/d",
        container={
            "type": "DOCKER",
            "docker": {"image": "busybox", "parameters": [{"key": "volume", "value": value}]},
        },
    )
    reply = Sim().api("create_app", body=doc)
    assert (reply.status == 201) is ok, reply.body
    if not ok:
        assert "/container/docker/parameters/0/value" in str(reply.body)


def test_kill_with_wipe_forgets_the_reservation_and_the_replacement_reserves_anew() -> None:
    sim, m = Sim(), Master()
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    reply = sim.api("kill_task", "/db", task_id=task.task_id, wipe=True)
    assert reply.status == 200
    assert not sim.core.resident.by_id
    sim.update(task.task_id, "TASK_KILLED")
    m.give_back(task)
    sim.tick(60)
    (op,) = of(Operate, sim.offers(m.offer()))  # the old reservation: wiped
    assert [o.type for o in op.operations] == ["DESTROY", "UNRESERVE"]
    for o in op.operations:
        m.apply(o)
    ops = _operate(sim, m, sim.offers(m.offer()))  # a new one for the replacement
    assert [o.type for o in ops[0].operations] == ["RESERVE", "CREATE"]
    (again,) = launched(sim.offers(m.offer()))
    old = Resources.from_dict(task.resources).volumes()[0].volume
    new = Resources.from_dict(again.resources).volumes()[0].volume
    assert old is not None and new is not None and old.persistence_id != new.persistence_id


def _volume_ids(task: p.TaskInfo) -> list[str]:
    return [
        v.volume.persistence_id
        for v in Resources.from_dict(task.resources).volumes()
        if v.volume is not None
    ]


@pytest.mark.parametrize(
    ("op", "body"),
    [("restart_app", None), ("put_app", {"cmd": "sleep 2000"})],
    ids=["restart", "upgrade"],
)
def test_a_restart_or_upgrade_relaunches_on_the_same_reservation_and_volume(
    op: str, body: dict[str, Any] | None
) -> None:
    """Marathon's TaskReplaceActor for a resident app: the old task dies FIRST (health
    is sacrificed instead of over-capacity), then the new version launches on the
    reservation it frees, with the same persistence id; nothing is reserved anew."""
    sim, m = Sim(), Master()
    other = Master("agent2")
    task = _start(sim, m)
    sim.update(task.task_id, "TASK_RUNNING")
    params = {"partial": True} if body else {}
    effects = sim.request(op, "/db", body, **params)
    assert killed(effects) == [task.task_id]
    # While the old task dies: no new reservation anywhere, no launch.
    for agent in (m, other):
        effects = sim.offers(agent.offer())
        assert not of(Operate, effects) and not launched(effects)
    sim.update(task.task_id, "TASK_KILLED")
    m.give_back(task)
    effects = sim.offers(other.offer())
    assert not of(Operate, effects) and not launched(effects)
    effects = sim.offers(m.offer())
    assert not of(Operate, effects)
    (again,) = launched(effects)
    assert again.agent_id == "id-agent1" and again.task_id != task.task_id
    assert _volume_ids(again) == _volume_ids(task)
    if body:
        assert "sleep 2000" in str(again.command)
    sim.update(again.task_id, "TASK_RUNNING")
    assert len(sim.core.resident.by_id) == 1
    (r,) = sim.core.resident.by_id.values()
    assert r.task_id == again.task_id
    assert not sim.core.runs  # the deployment finished
    (shown,) = sim.api("list_tasks", "/db").body["tasks"]
    assert [v["persistenceId"] for v in shown["localVolumes"]] == _volume_ids(task)
