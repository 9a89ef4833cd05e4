"""Dynamic reservations, persistent volumes, quota and per-role suppression on the
master (issue 23): pure scenarios on ``MasterCore`` with a manual clock."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.master._master_core import MasterConfig, MasterCore, Persist, Send
from actors.master.allocator import Quota
from actors.resources import Resources

AGENT = "tcp://127.0.0.1:7001/agent"
WEB = "tcp://127.0.0.1:7100/web"
DB = "tcp://127.0.0.1:7101/db"
R = Resources.parse
RESERVED = "cpus(web,ops):1;mem(web,ops):256;disk(web,ops):100"
VOLUME = "disk(web,ops)[pg:pgdata]:100"


def sends(effects: list[Any], to: str | None = None, kind: type | None = None) -> list[Any]:
    return [
        e.message
        for e in effects
        if isinstance(e, Send)
        and (to is None or e.to == to)
        and (kind is None or isinstance(e.message, kind))
    ]


class Master:
    def __init__(self, core: MasterCore | None = None, now: float = 1000.0) -> None:
        self.now = now
        self.core = core or MasterCore("m1", MasterConfig(), now=now)
        self.fids: dict[str, str] = {}

    def handle(self, msg: Any, sender: str | None = None) -> list[Any]:
        return self.core.handle(msg, self.now, sender)

    def add_agent(self, resources: str = "cpus:4;mem:4096;disk:1000", **kw: Any) -> str:
        out = self.handle(p.RegisterAgent("h1", AGENT, R(resources).to_dict(), **kw))
        return str(sends(out, AGENT, p.AgentRegistered)[0].agent_id)

    def subscribe(self, address: str, role: str, principal: str = "ops") -> str:
        info = p.FrameworkInfo(role, [role], 60.0, principal=principal)
        out = self.handle(p.Subscribe(info, address))
        fid = sends(out, address, p.Subscribed)[0].framework_id
        self.fids[address] = fid
        return str(fid)

    def offers(self, address: str | None = None) -> list[p.Offer]:
        self.now += 1.0
        out = self.core.tick(self.now)
        return [o for b in sends(out, address, p.Offers) for o in b.offers]

    def operator(
        self, call: str, resources: str, agent_id: str
    ) -> tuple[dict[str, Any], list[Any]]:
        body = {"agent_id": agent_id, "resources": R(resources).to_dict()}
        return self.core.operator(p.OperatorCall(call, body), self.now)

    def total(self) -> Resources:
        return next(iter(self.core.agents.values())).total


def task(agent_id: str, task_id: str, resources: str) -> p.TaskInfo:
    return p.TaskInfo(task_id, task_id, agent_id, R(resources).to_dict(), p.CommandSpec("sleep 9"))


def test_reserve_create_launch_in_one_accept_then_offered_back_only_to_the_role() -> None:
    m = Master()
    aid = m.add_agent()
    m.subscribe(WEB, "web")
    (offer,) = m.offers(WEB)
    ops = [
        p.Operation("RESERVE", resources=R(RESERVED).to_dict()),
        p.Operation("CREATE", resources=R(VOLUME).to_dict()),
        p.Operation("LAUNCH", [task(aid, "pg1", f"cpus(web,ops):1;mem(web,ops):256;{VOLUME}")]),
    ]
    out = m.handle(p.Accept(m.fids[WEB], [offer.offer_id], ops, refuse_seconds=0.0))
    assert sends(out, WEB, p.FrameworkError) == []
    (run,) = sends(out, AGENT, p.RunTask)
    assert Resources.from_dict(run.task.resources).volumes()[0].volume.persistence_id == "pg"
    ckpt = sends(out, AGENT, p.CheckpointResources)[-1]
    assert Resources.from_dict(ckpt.resources) == R(VOLUME) + R("cpus(web,ops):1;mem(web,ops):256")
    persisted = [e for e in out if isinstance(e, Persist) and e.kind == "agents"]
    assert persisted and "disk(web,ops)[pg:pgdata]" in persisted[-1].value["resources"]
    # A framework of another role never sees the reservation, even while it is idle.
    m.subscribe(DB, "db")
    for o in m.offers(DB):
        assert not Resources.from_dict(o.resources).reserved()
    # The task ends: the volume and the reservation come back to the web framework.
    m.handle(p.StatusUpdate(m.fids[WEB], "pg1", aid, "TASK_FAILED", "00" * 16, m.now), sender=AGENT)
    back = Resources()
    for o in m.offers(WEB):
        back = back + Resources.from_dict(o.resources)
    assert back.contains(R(VOLUME) + R("cpus(web,ops):1"))


def test_operator_reserve_then_state_and_registry_then_unreserve() -> None:
    m = Master()
    aid = m.add_agent()
    answer, out = m.operator("RESERVE_RESOURCES", RESERVED, aid)
    assert answer == {}
    assert m.total().dynamic() == R(RESERVED)
    kinds = [type(e) for e in out]
    assert kinds.index(Persist) < kinds.index(Send)  # in the registry before told
    answer, out = m.operator("CREATE_VOLUMES", VOLUME, aid)
    assert answer == {} and m.total().volumes()[0].volume.persistence_id == "pg"
    assert m.operator("DESTROY_VOLUMES", VOLUME, aid)[0] == {}
    assert m.operator("UNRESERVE_RESOURCES", RESERVED, aid)[0] == {}
    assert m.total() == R("cpus:4;mem:4096;disk:1000")


@pytest.mark.parametrize(
    ("setup", "call", "resources", "needle"),
    [
        ([], "RESERVE_RESOURCES", "cpus(web,ops):9", "cannot reserve cpus(web,ops):9"),
        ([], "RESERVE_RESOURCES", "cpus:1", "must be a dynamic reservation"),
        ([], "CREATE_VOLUMES", VOLUME, "reserve it first"),
        ([], "UNRESERVE_RESOURCES", "cpus(web,ops):1", "is not reserved"),
        ([], "DESTROY_VOLUMES", VOLUME, "does not exist"),
        (
            [("RESERVE_RESOURCES", RESERVED), ("CREATE_VOLUMES", VOLUME)],
            "CREATE_VOLUMES",
            "disk(web,ops)[pg:other]:50",
            "persistence id 'pg' is already used",
        ),
        (
            [("RESERVE_RESOURCES", RESERVED), ("CREATE_VOLUMES", VOLUME)],
            "UNRESERVE_RESOURCES",
            "disk(web,ops):100",
            "is not reserved",
        ),
        (
            [("RESERVE_RESOURCES", RESERVED), ("CREATE_VOLUMES", VOLUME)],
            "UNRESERVE_RESOURCES",
            VOLUME,
            "destroy it before",
        ),
    ],
)
def test_bad_operator_calls_change_nothing(
    setup: list[tuple[str, str]], call: str, resources: str, needle: str
) -> None:
    m = Master()
    aid = m.add_agent()
    for c, r in setup:
        assert m.operator(c, r, aid)[0] == {}
    before = m.total()
    answer, out = m.operator(call, resources, aid)
    assert needle in answer["error"]
    assert aid in answer["error"] or "resources" in answer["error"]
    assert out == [] and m.total() == before


def test_in_use_reservations_and_volumes_are_refused_by_name() -> None:
    m = Master()
    aid = m.add_agent()
    m.operator("RESERVE_RESOURCES", RESERVED, aid)
    m.operator("CREATE_VOLUMES", VOLUME, aid)
    m.subscribe(WEB, "web")
    (offer,) = m.offers(WEB)
    launch = p.Operation("LAUNCH", [task(aid, "pg1", f"cpus(web,ops):1;{VOLUME}")])
    m.handle(p.Accept(m.fids[WEB], [offer.offer_id], [launch]))
    before = m.total()
    answer, _ = m.operator("DESTROY_VOLUMES", VOLUME, aid)
    assert "volume disk(web,ops)[pg:pgdata]:100 is in use by a task" in answer["error"]
    answer, _ = m.operator("UNRESERVE_RESOURCES", "cpus(web,ops):1", aid)
    assert "in use by a task" in answer["error"]
    assert m.total() == before
    assert m.operator("RESERVE_RESOURCES", "cpus(web,ops):1", "nope")[0] == {
        "error": "reserve_resources.agent_id: unknown agent 'nope'"
    }


@pytest.mark.parametrize(
    ("reserve", "needle"),
    [
        ("cpus(db,ops):1", "role 'db' is not one of the framework's roles"),
        ("cpus(web,mallory):1", "principal 'mallory' is not the framework's principal"),
        ("cpus(web,ops):99", "cannot reserve cpus(web,ops):99"),
    ],
)
def test_a_framework_reserves_only_for_its_role_and_principal(reserve: str, needle: str) -> None:
    m = Master()
    m.add_agent()
    m.subscribe(WEB, "web")
    (offer,) = m.offers(WEB)
    op = p.Operation("RESERVE", resources=R(reserve).to_dict())
    out = m.handle(p.Accept(m.fids[WEB], [offer.offer_id], [op]))
    (err,) = sends(out, WEB, p.FrameworkError)
    assert needle in err.message
    assert not m.total().dynamic() and not sends(out, AGENT, p.CheckpointResources)


def test_reservations_survive_failover_and_an_agent_too_small_is_refused() -> None:
    m = Master()
    aid = m.add_agent()
    m.operator("RESERVE_RESOURCES", RESERVED, aid)
    m.operator("CREATE_VOLUMES", VOLUME, aid)
    docs = [a.durable() for a in m.core.agents.values()]
    new = Master(MasterCore("m2", MasterConfig(), now=m.now, recovered_agents=docs), m.now)
    plain = R("cpus:4;mem:4096;disk:1000").to_dict()
    out = new.handle(p.ReregisterAgent(aid, "h1", AGENT, plain))
    assert sends(out, AGENT, p.AgentRegistered)
    (ckpt,) = sends(out, AGENT, p.CheckpointResources)  # the agent reported none
    assert Resources.from_dict(ckpt.resources) == m.total().dynamic()
    assert new.total() == m.total()
    # Restarted with --resources too small for its reservations: refused, named.
    small = Master(MasterCore("m3", MasterConfig(), now=m.now, recovered_agents=docs), m.now)
    out = small.handle(p.ReregisterAgent(aid, "h1", AGENT, R("cpus:4;mem:4096;disk:50").to_dict()))
    assert not sends(out, AGENT, p.AgentRegistered)
    assert "no longer hold its reservations" in small.core.errors[-1]


def test_an_agents_own_checkpoint_is_adopted_when_the_master_has_none() -> None:
    m = Master()
    ckpt = R(RESERVED).to_dict()
    m.add_agent(checkpointed_resources=ckpt)
    assert m.total().dynamic() == R(RESERVED)


def test_an_agents_host_ports_update_keeps_its_reservations_and_volumes() -> None:
    """``UpdateAgent`` carries the agent's plain ``--resources`` less the ports another
    process holds: the master applies its reservations to it (it once replaced the total,
    and a resident task's reservation vanished from offers and /slaves while it ran)."""
    m = Master()
    aid = m.add_agent("cpus:4;mem:4096;disk:1000;ports:[31000-31009]")
    m.operator("RESERVE_RESOURCES", RESERVED, aid)
    m.operator("CREATE_VOLUMES", VOLUME, aid)
    before = m.total().dynamic()
    fresh = R("cpus:4;mem:4096;disk:1000;ports:[31000-31004]")
    m.handle(p.UpdateAgent(aid, fresh.to_dict()))
    assert m.total().dynamic() == before
    assert m.total() == (fresh - before.base_form()) + before
    # An update too small for the reservations is refused, named; nothing is lost.
    m.handle(p.UpdateAgent(aid, R("cpus:4;mem:4096;disk:10").to_dict()))
    assert m.total().dynamic() == before and "no longer hold" in m.core.errors[-1]


def quota(role: str, force: bool = False, **limits: float) -> p.OperatorCall:
    lim = {k: {"value": v} for k, v in limits.items()}
    cfg = {"role": role, "limits": lim}
    return p.OperatorCall("UPDATE_QUOTA", {"force": force, "quota_configs": [cfg]})


def test_quota_below_consumption_is_refused_unless_forced() -> None:
    m = Master()
    aid = m.add_agent()
    m.operator("RESERVE_RESOURCES", "cpus(web,ops):2", aid)  # unused reservations count
    answer, out = m.core.operator(quota("web", cpus=1.0), m.now)
    assert (
        "limit of cpus for role 'web' (1) is below its current consumption (2)" in answer["error"]
    )
    assert out == [] and "web" not in m.core.quotas
    answer, out = m.core.operator(quota("web", force=True, cpus=1.0), m.now)
    assert answer == {} and m.core.quotas["web"] == Quota(limit={"cpus": 1.0})


@pytest.mark.parametrize(
    ("limit", "expected_cpus"),
    [(None, 4.0), (2.0, 2.0), (0.5, 0.5)],
)
def test_quota_limit_stops_a_roles_framework(limit: float | None, expected_cpus: float) -> None:
    m = Master()
    m.add_agent()
    if limit is not None:
        assert m.core.operator(quota("web", cpus=limit), m.now)[0] == {}
    m.subscribe(WEB, "web")
    got = sum(Resources.from_dict(o.resources).scalar("cpus") for o in m.offers(WEB))
    assert got == expected_cpus


def test_suppress_and_revive_per_role() -> None:
    m = Master()
    m.add_agent("cpus:4;mem:4096;cpus(a):1;cpus(b):1")
    info = p.FrameworkInfo("multi", ["a", "b"], 60.0)
    fid = sends(m.handle(p.Subscribe(info, WEB)), WEB, p.Subscribed)[0].framework_id
    m.handle(p.Suppress(fid, ["a"]))
    roles = {r for o in m.offers(WEB) for r in Resources.from_dict(o.resources).roles()}
    assert "a" not in roles and "b" in roles
    out = m.handle(p.Suppress(fid, ["nope"]))
    assert "nope" in sends(out, WEB, p.FrameworkError)[0].message
    m.handle(p.Decline(fid, [o.offer_id for o in m.core.offers.values()], 0.0))
    m.handle(p.Revive(fid, ["a"]))
    roles = {r for o in m.offers(WEB) for r in Resources.from_dict(o.resources).roles()}
    assert "a" in roles
