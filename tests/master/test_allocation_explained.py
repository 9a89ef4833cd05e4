"""Explaining waiting: the last allocation cycle as ``GetState("allocation")`` JSON.

Pure: a ``MasterCore`` driven by hand on a manual ``now`` (no ZooKeeper, threads or
sockets). Each row of the table is a reason an operator must be able to read off the
master when a framework's tasks wait: the agent has too little left (cpus, mem, only
ports), the framework declined the agent (filter), its role's quota is used up, it
suppressed offers, it is disconnected, the agent is unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MasterCore, PeerDown, Quota, Send, allocation_json
from actors.resources import Resources

AGENT = "tcp://127.0.0.1:7001/agent"
FW = "tcp://127.0.0.1:7100/sched"
WALL = 1_700_000_000.0
"""Wall-clock seconds at ``now == 0``: the core's ``wall_offset``."""


@dataclass
class Master:
    """A master core, one agent and one framework, on a manual clock."""

    core: MasterCore
    now: float = 100.0
    agent_id: str = ""
    fid: str = ""

    def handle(self, msg: Any) -> list[Any]:
        return self.core.handle(msg, self.now, FW)

    def tick(self, dt: float = 0.1) -> list[Any]:
        self.now += dt
        return self.core.tick(self.now)

    def offers(self, dt: float = 0.1) -> list[p.Offer]:
        return [
            o
            for e in self.tick(dt)
            if isinstance(e, Send) and isinstance(e.message, p.Offers)
            for o in e.message.offers
        ]

    def launch(self, offer: p.Offer, resources: str, refuse_seconds: float = 0.0) -> None:
        task = p.TaskInfo(
            task_id=f"t{len(self.core.tasks)}",
            name="t",
            agent_id=offer.agent_id,
            resources=Resources.parse(resources).to_dict(),
            command=p.CommandSpec("sleep 100"),
        )
        op = p.Operation("LAUNCH", [task])
        self.handle(p.Accept(self.fid, [offer.offer_id], [op], refuse_seconds=refuse_seconds))

    def doc(self, **params: Any) -> dict[str, Any]:
        doc = allocation_json(self.core, params or None)
        json.dumps(doc)  # JSON-able as it is: the gateway and the CLI send it unchanged
        return doc


def master(agent: str, roles: tuple[str, ...] = ("*",), **config: Any) -> Master:
    m = Master(MasterCore("m1", MasterConfig(**config), now=100.0, wall_offset=WALL - 0.0))
    out = m.handle(p.RegisterAgent("node-1", AGENT, Resources.parse(agent).to_dict()))
    m.agent_id = next(e.message.agent_id for e in out if isinstance(e, Send))
    info = p.FrameworkInfo("marathon", list(roles), 60.0)
    out = m.handle(p.Subscribe(info, FW))
    m.fid = next(e.message.framework_id for e in out if isinstance(e, Send))
    return m


# -- how each situation arises --------------------------------------------------------


def too_little_cpus(m: Master) -> None:
    """The only agent has a sliver of cpus and not enough mem for any offer."""


def only_ports_left(m: Master) -> None:
    """A task took every cpu and all mem: only ports are free."""
    m.launch(m.offers()[0], "cpus:1;mem:64")


def declined(m: Master) -> None:
    """The framework declined the agent for 10 s (Marathon: nothing to launch)."""
    offer = m.offers()[0]
    m.handle(p.Decline(m.fid, [offer.offer_id], refuse_seconds=10.0))


def quota_used_up(m: Master) -> None:
    """Role ``web`` may use 1 cpu and 32 MB and already does."""
    m.launch(m.offers()[0], "cpus:1;mem:32")


def suppressed(m: Master) -> None:
    m.handle(p.Suppress(m.fid))


def disconnected(m: Master) -> None:
    m.handle(PeerDown(FW))


def unreachable(m: Master) -> None:
    for _ in range(7):  # max_missed_pings 5: the sixth unanswered ping marks it
        m.tick(1.0)


@dataclass(frozen=True)
class Case:
    name: str
    agent: str
    arrange: Callable[[Master], None]
    reason: str
    detail: str
    framework_wide: bool = False
    agent_wide: bool = False
    roles: tuple[str, ...] = ("*",)
    config: tuple[tuple[str, Any], ...] = ()


CASES = [
    Case(
        "agent too small for cpus",
        "cpus:0.005;mem:16",
        too_little_cpus,
        "NO_FREE_RESOURCES",
        "free cpus:0.005;mem:16, below the smallest offer (cpus 0.01 or mem 32)",
        framework_wide=True,
    ),
    Case(
        "agent too small for mem",
        "mem:31",
        too_little_cpus,
        "NO_FREE_RESOURCES",
        "free mem:31, below the smallest offer (cpus 0.01 or mem 32)",
        framework_wide=True,
    ),
    Case(
        "only ports left",
        "cpus:1;mem:64;ports:[31000-31001]",
        only_ports_left,
        "NO_FREE_RESOURCES",
        "free ports:[31000-31001], below the smallest offer (cpus 0.01 or mem 32)",
        framework_wide=True,
    ),
    Case(
        "filtered after a decline",
        "cpus:2;mem:256",
        declined,
        "FILTERED",
        "declined earlier; filtered for 9.9 s more",
    ),
    Case(
        "role quota limit reached",
        "cpus:4;mem:256",
        quota_used_up,
        "QUOTA_LIMIT",
        "role web: nothing left to offer",
        roles=("web",),
        config=(("quotas", {"web": Quota(limit={"cpus": 1, "mem": 32})}),),
    ),
    Case(
        "framework suppressed",
        "cpus:2;mem:256",
        suppressed,
        "FRAMEWORK_SUPPRESSED",
        "role *",
        agent_wide=True,
    ),
    Case(
        "framework disconnected",
        "cpus:2;mem:256",
        disconnected,
        "FRAMEWORK_INACTIVE",
        "",
        agent_wide=True,
    ),
    Case(
        "agent unreachable",
        "cpus:2;mem:256",
        unreachable,
        "AGENT_UNREACHABLE",
        "node-1",
        framework_wide=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_last_cycle_says_why_a_framework_got_nothing(case: Case) -> None:
    m = master(case.agent, case.roles, **dict(case.config))
    case.arrange(m)
    assert m.offers() == []
    doc = m.doc()
    rows = [r for r in doc["rejections"] if r["reason"] == case.reason]
    assert len(rows) == 1, doc["rejections"]
    row = rows[0]
    assert row["detail"] == case.detail
    assert row["framework_id"] == ("*" if case.framework_wide else m.fid)
    assert row["agent_id"] == ("*" if case.agent_wide else m.agent_id)
    if not case.agent_wide:
        assert row["hostname"] == "node-1"
    assert doc["offers"] == []
    assert doc["time"] == pytest.approx(WALL + m.now)


def test_a_filter_row_names_its_role_and_wall_clock_expiry() -> None:
    m = master("cpus:2;mem:256")
    declined(m)
    m.tick()
    row = next(r for r in m.doc()["rejections"] if r["reason"] == "FILTERED")
    assert row["role"] == "*"
    assert row["message"] == "filtered"
    # Declined at now=100.1 for 10 s: the filter ends at wall 100.1 + 10 past WALL.
    assert row["until"] == pytest.approx(WALL + 100.1 + 10.0)


def test_a_filter_row_quotes_the_frameworks_reason_for_declining() -> None:
    m = master("cpus:2;mem:256")
    offer = m.offers()[0]
    why = "InsufficientMemory: app /web needs mem 512, the offer has 256"
    m.handle(p.Decline(m.fid, [offer.offer_id], refuse_seconds=10.0, reason=why))
    m.tick()
    row = next(r for r in m.doc()["rejections"] if r["reason"] == "FILTERED")
    assert row["declined_because"] == why
    assert row["detail"] == f"declined earlier ({why}); filtered for 9.9 s more"


def test_offers_and_the_agents_free_resources_are_shown() -> None:
    m = master("cpus:2;mem:256;ports:[31000-31009]")
    [offer] = m.offers()
    doc = m.doc()
    assert doc["cycle"] == m.core.alloc_cycles == 1
    assert doc["min_allocatable"] == [{"cpus": 0.01}, {"mem": 32.0}]
    assert doc["frameworks"] == [
        {
            "framework_id": m.fid,
            "name": "marathon",
            "roles": ["*"],
            "active": True,
            "suppressed_roles": [],
        }
    ]
    [shown] = doc["offers"]
    assert shown["framework_id"] == m.fid and shown["agent_id"] == offer.agent_id
    assert shown["resources"]["cpus"] == 2.0 and shown["resources"]["ports"] == "[31000-31009]"
    # Free as that cycle saw it (before its own offer): what a task could get there.
    [agent] = doc["agents"]
    assert agent["hostname"] == "node-1" and agent["reachable"] is True
    assert agent["free"]["mem"] == 256.0


def test_framework_id_narrows_to_that_framework_and_wildcards() -> None:
    m = master("cpus:0.005;mem:16")
    other = p.FrameworkInfo("metronome", ["*"], 60.0)
    m.core.handle(p.Subscribe(other, "tcp://127.0.0.1:7200/sched"), m.now)
    m.handle(p.Suppress(m.fid))
    m.tick()
    mine = m.doc(framework_id=m.fid)
    assert {r["framework_id"] for r in mine["rejections"]} == {m.fid, "*"}
    assert [f["framework_id"] for f in mine["frameworks"]] == [m.fid]
    everyone = m.doc()
    assert len(everyone["frameworks"]) == 2


def test_no_cycle_to_show_without_agents_or_frameworks() -> None:
    core = MasterCore("m1", MasterConfig(), now=0.0, wall_offset=WALL)
    core.handle(p.Subscribe(p.FrameworkInfo("marathon", ["*"], 60.0), FW), 0.0)
    core.tick(1.0)
    doc = allocation_json(core)
    assert doc["time"] is None and doc["rejections"] == [] and doc["agents"] == []


def test_a_bad_framework_id_parameter_is_named() -> None:
    m = master("cpus:1;mem:64")
    with pytest.raises(ValueError, match="framework_id 7"):
        allocation_json(m.core, {"framework_id": 7})
