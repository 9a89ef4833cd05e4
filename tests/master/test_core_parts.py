"""The master core's parts, each over a bare ``MasterState`` (no router, no I/O).

``MasterCore`` is the state plus a routing table; the decisions live in ``_agents``,
``_frameworks``, ``_offers`` and ``_tasks``. These tests call those functions directly,
so a rule can be read and checked where it lives.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.master import _agents, _frameworks, _offers, _tasks
from actors.master._master_core import _HANDLERS
from actors.master._state import (
    AgentRecord,
    FrameworkRecord,
    MasterConfig,
    MasterState,
    OfferRecord,
    known_framework,
)
from actors.master.allocator import OfferFilter
from actors.resources import Attributes, Resources
from actors.task_states import TaskState

AGENT = "tcp://127.0.0.1:7001/agent"
FW = "tcp://127.0.0.1:7100/sched"


def state() -> MasterState:
    """One agent (cpus 4, mem 1024), one framework, one outstanding offer of it all."""
    s = MasterState(master_id="m1", config=MasterConfig(), started_at=0.0)
    total = Resources.parse("cpus:4;mem:1024")
    s.agents["a1"] = AgentRecord("a1", "h1", AGENT, total, Attributes(), registered_at=0.0)
    s.agents["a2"] = AgentRecord("a2", "h2", AGENT + "2", total, Attributes(), registered_at=0.0)
    info = p.FrameworkInfo("fw", ["*"], 60.0, framework_id="f1")
    s.frameworks["f1"] = FrameworkRecord("f1", info, FW, registered_at=0.0)
    offer(s, "o1", "a1", total)
    return s


def offer(s: MasterState, offer_id: str, agent_id: str, res: Resources, fid: str = "f1") -> None:
    s.offers[offer_id] = OfferRecord(offer_id, fid, agent_id, "*", res, 0.0)
    s.agents[agent_id].offered = s.agents[agent_id].offered + res
    s.agents[agent_id].offers.add(offer_id)
    if fid in s.frameworks:
        s.frameworks[fid].offers.add(offer_id)
        s.frameworks[fid].add_allocation("*", res)


def task(task_id: str = "t1", agent_id: str = "a1", **kw: Any) -> p.TaskInfo:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "name": task_id,
        "agent_id": agent_id,
        "resources": Resources.parse("cpus:1;mem:128").to_dict(),
        "command": p.CommandSpec("sleep 1"),
    }
    fields.update(kw)
    return p.TaskInfo(**fields)


def test_the_router_sends_each_message_to_the_module_that_owns_it() -> None:
    owners = {t.__name__: h.__module__.rsplit(".", 1)[-1] for t, h in _HANDLERS.items()}
    assert owners == {
        "RegisterAgent": "_agents",
        "ReregisterAgent": "_agents",
        "ReregisterAgentAgain": "_agents",
        "Pong": "_agents",
        "UpdateAgent": "_agents",
        "Subscribe": "_frameworks",
        "Revive": "_frameworks",
        "Suppress": "_frameworks",
        "Teardown": "_frameworks",
        "PeerDown": "_frameworks",
        "Accept": "_offers",
        "Decline": "_offers",
        "StatusUpdate": "_tasks",
        "Kill": "_tasks",
        "Acknowledge": "_tasks",
        "Reconcile": "_tasks",
        "WatchMaster": "_watch",
        "UnwatchMaster": "_watch",
    }


# -- offers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer_ids", "problem"),
    [
        ([], "offer_ids: must name at least one offer"),
        (["nope"], "offer_ids: unknown offer 'nope' (rescinded, used or never made)"),
        (["theirs"], "offer_ids: offer 'theirs' was made to another framework"),
        (["o1", "o2"], "offer_ids: offers span several agents ['a1', 'a2']"),
        (["o1", "o1"], "offer_ids: an offer is named twice"),
        (["o1"], None),
    ],
)
def test_check_offers(offer_ids: list[str], problem: str | None) -> None:
    s = state()
    offer(s, "o2", "a2", Resources.parse("cpus:1"))
    offer(s, "theirs", "a2", Resources.parse("cpus:1"), fid="f2")
    fw = s.frameworks["f1"]
    assert _offers.check_offers(s, fw, p.Accept("f1", offer_ids, [])) == problem


@pytest.mark.parametrize(
    ("t", "problem"),
    [
        (task(""), "task_id: '' must be a non-empty string of at most 255 chars"),
        (task("x" * 256), "must be a non-empty string of at most 255 chars"),
        (task("seen"), "task_id: 'seen' is already used by a live task"),
        (task(agent_id="a2"), "agent_id 'a2' is not the offer's agent 'a1'"),
        (task(command=None), "task t1: needs a command or a container"),
        (task(kill_grace_period=-1.0), "kill_grace_period -1.0 must be >= 0"),
        (task(), None),
    ],
)
def test_check_task(t: p.TaskInfo, problem: str | None) -> None:
    s = state()
    found = _offers.check_task(s, s.frameworks["f1"], s.agents["a1"], t, {"seen"})
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_release_offer_gives_the_resources_back_once() -> None:
    s = state()
    s.dirty = False
    assert _offers.release_offer(s, "o1") is not None
    assert not s.agents["a1"].offered and not s.agents["a1"].offers
    assert not s.frameworks["f1"].allocation["*"] and s.dirty
    assert _offers.release_offer(s, "o1") is None


def test_rescind_tells_only_a_connected_framework() -> None:
    s = state()
    out: list[Any] = []
    _offers.rescind(s, "o1", out)
    assert [e.message for e in out] == [p.Rescind("o1")]
    offer(s, "o2", "a1", Resources.parse("cpus:1"))
    s.frameworks["f1"].connected = False
    out = []
    _offers.rescind(s, "o2", out)
    assert out == [] and "o2" not in s.offers


def test_decline_installs_a_filter_on_what_was_declined() -> None:
    s = state()
    _offers.on_decline(s, p.Decline("f1", ["o1"], refuse_seconds=5.0), 10.0, [])
    [f] = s.frameworks["f1"].filters
    assert f == OfferFilter("a1", 15.0, Resources.parse("cpus:4;mem:1024"), "*")


def test_snapshot_prunes_expired_filters_and_hides_recovering_agents() -> None:
    s = state()
    s.frameworks["f1"].filters = [OfferFilter("a1", 5.0), OfferFilter("a2", 50.0)]
    s.agents["a2"].recovering = True
    snap = _offers.snapshot(s, 10.0)
    assert [f.agent_id for f in snap.frameworks[0].filters] == ["a2"]
    assert [a.reachable for a in snap.agents] == [True, False]
    assert snap.agents[0].allocated == Resources.parse("cpus:4;mem:1024")


@pytest.mark.parametrize(
    ("address", "ip"),
    [
        ("tcp://10.0.0.5:5050/agent", "10.0.0.5"),
        ("tcp://[::1]:5050/agent", "::1"),
        ("tcp://agent-1:5050", ""),
        ("", ""),
    ],
)
def test_address_ip(address: str, ip: str) -> None:
    assert _offers.address_ip(address) == ip


# -- tasks ----------------------------------------------------------------------------


def test_launch_then_finish_charges_and_releases_once() -> None:
    s = state()
    fw, agent = s.frameworks["f1"], s.agents["a1"]
    out: list[Any] = []
    res = Resources.parse("cpus:1;mem:128")
    _tasks.launch(s, fw, agent, task(), res, "*", 1.0, out)
    assert [type(e.message) for e in out] == [p.RunTask]
    assert agent.used == res and fw.tasks == {"t1"}
    t = s.tasks[("f1", "t1")]
    _tasks.finish_task(s, t, TaskState.FINISHED, None, 2.0)
    _tasks.finish_task(s, t, TaskState.FINISHED, None, 3.0)  # idempotent
    assert not agent.used and not fw.tasks and list(s.completed) == [t]
    assert t.updated_at == 2.0


def test_master_updates_carry_no_uuid_and_wall_time() -> None:
    s = state()
    s.wall_offset = 1_000.0
    out: list[Any] = []
    _tasks.send_update(s, out, FW, "f1", "t1", "a1", TaskState.LOST, None, "gone", 5.0)
    [e] = out
    assert e.message.uuid == "" and e.message.timestamp == 1_005.0
    assert e.message.source == "SOURCE_MASTER"


def test_reconcile_waits_for_the_recovery_window() -> None:
    s = state()
    s.recovery_deadline = 10.0
    out: list[Any] = []
    _tasks.on_reconcile(s, p.Reconcile("f1", ["t1"]), 1.0, out)
    assert out == [] and len(s.deferred_reconcile) == 1
    _agents.end_recovery(s, 10.0, out)
    [e] = [e for e in out if isinstance(e.message, p.StatusUpdate)]
    assert (e.message.task_id, e.message.state) == ("t1", "TASK_UNKNOWN")


# -- frameworks and agents ------------------------------------------------------------


def test_unknown_framework_is_told_only_when_it_named_itself() -> None:
    s = state()
    out: list[Any] = []
    assert known_framework(s, "nope", "Kill", None, out) is None and out == []
    assert known_framework(s, "nope", "Kill", FW, out) is None
    assert [e.message for e in out] == [p.FrameworkError("unknown framework_id 'nope'", "Kill")]


def test_disconnect_keeps_tasks_and_expiry_removes_them_after_failover_timeout() -> None:
    s = state()
    fw = s.frameworks["f1"]
    _tasks.launch(s, fw, s.agents["a2"], task(agent_id="a2"), Resources.parse("cpus:1"), "*", 0, [])
    out: list[Any] = []
    _frameworks.disconnect_framework(s, fw, 1.0, out)
    assert not fw.connected and not s.offers and fw.tasks == {"t1"}
    _frameworks.expire_frameworks(s, 60.9, out)
    assert "f1" in s.frameworks
    _frameworks.expire_frameworks(s, 61.0, out)
    assert "f1" not in s.frameworks
    assert [type(e.message) for e in out if hasattr(e, "message")] == [p.KillTask]
    assert s.completed[-1].state is TaskState.KILLED


def test_with_id_keeps_everything_but_the_id() -> None:
    info = p.FrameworkInfo("fw", ["a", "b"], 7.0, user="u", hostname="h", principal="pr")
    got = _frameworks.with_id(info, "f9")
    assert got == p.FrameworkInfo("fw", ["a", "b"], 7.0, "f9", "u", "h", "pr")


def test_a_corrupt_registry_record_is_skipped_and_named() -> None:
    s = MasterState(master_id="m1", config=MasterConfig(), started_at=0.0)
    _agents.recover_agent(s, {"agent_id": "a1"})
    _frameworks.recover_framework(s, {"name": "fw"}, 0.0)
    assert not s.agents and not s.frameworks
    assert len(s.errors) == 2 and "hostname" in s.errors[0]


def test_ping_marks_an_agent_unreachable_after_the_allowed_misses() -> None:
    s = state()
    s.config = MasterConfig(max_missed_pings=2)
    out: list[Any] = []
    for _ in range(3):
        _agents.ping_agents(s, 0.0, out)
    assert not s.agents["a1"].reachable and "o1" not in s.offers
    assert any(isinstance(e.message, p.AgentLost) for e in out)
