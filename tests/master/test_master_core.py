"""Scenario tests of the master's bookkeeping step machine (no I/O, manual time).

Each test reads like the incident it prevents and names the Mesos rule it checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.master._master_core import (
    MasterConfig,
    MasterCore,
    PeerDown,
    Persist,
    Send,
    Unpersist,
    Watch,
)
from actors.resources import Resources

AGENT = "tcp://127.0.0.1:7001/agent"
AGENT2 = "tcp://127.0.0.1:7002/agent"
FW = "tcp://127.0.0.1:7100/sched"


def sends(effects: list[Any], to: str | None = None, kind: type | None = None) -> list[Any]:
    return [
        e.message
        for e in effects
        if isinstance(e, Send)
        and (to is None or e.to == to)
        and (kind is None or isinstance(e.message, kind))
    ]


def one(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


class Cluster:
    """A master core plus helpers that play the agents and one framework."""

    def __init__(self, core: MasterCore | None = None, **config: Any) -> None:
        self.now = 1000.0
        self.core = core or MasterCore("m1", MasterConfig(**config), now=self.now)
        self.agent_ids: dict[str, str] = {}
        self.fid = ""

    def handle(self, msg: Any, sender: str | None = None) -> list[Any]:
        return self.core.handle(msg, self.now, sender)

    def tick(self, advance: float = 0.1) -> list[Any]:
        self.now += advance
        return self.core.tick(self.now)

    def add_agent(self, address: str = AGENT, resources: str = "cpus:4;mem:4096") -> str:
        res = Resources.parse(resources).to_dict()
        out = self.handle(p.RegisterAgent("host-" + address[-10:-6], address, res, {"zone": "a"}))
        reg = one(sends(out, address, p.AgentRegistered))
        self.agent_ids[address] = reg.agent_id
        return reg.agent_id

    def subscribe(self, failover_timeout: float = 60.0, fid: str | None = None) -> str:
        info = p.FrameworkInfo("test", ["*"], failover_timeout, framework_id=fid)
        out = self.handle(p.Subscribe(info, FW))
        self.fid = one(sends(out, FW, p.Subscribed)).framework_id
        return self.fid

    def offers(self, advance: float = 0.1) -> list[p.Offer]:
        return [o for batch in sends(self.tick(advance), FW, p.Offers) for o in batch.offers]

    def launch(self, offer: p.Offer, task_id: str, resources: str, **kw: Any) -> list[Any]:
        task = p.TaskInfo(
            task_id=task_id,
            name=task_id,
            agent_id=offer.agent_id,
            resources=Resources.parse(resources).to_dict(),
            command=p.CommandSpec("sleep 100"),
        )
        return self.handle(
            p.Accept(self.fid, [offer.offer_id], [p.Operation("LAUNCH", [task])], **kw)
        )


def test_agent_id_is_persisted_before_the_agent_is_told() -> None:
    c = Cluster()
    res = Resources.parse("cpus:2;mem:1024").to_dict()
    out = c.handle(p.RegisterAgent("h1", AGENT, res))
    kinds = [type(e) for e in out]
    assert kinds.index(Persist) < kinds.index(Send)
    assert any(isinstance(e, Watch) and e.address == AGENT for e in out)


def test_framework_is_offered_the_whole_free_agent() -> None:
    c = Cluster()
    aid = c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    assert offer.agent_id == aid
    assert Resources.from_dict(offer.resources) == Resources.parse("cpus:4;mem:4096")
    assert offer.attributes == {"zone": "a"}


def test_launch_goes_to_the_agent_and_the_remainder_is_offered_after_the_filter() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    out = c.launch(offer, "t1", "cpus:1;mem:1024", refuse_seconds=1.0)
    run = one(sends(out, AGENT, p.RunTask))
    assert run.task.task_id == "t1" and run.framework_id == c.fid
    assert c.offers() == []  # remainder filtered for 1 s (Mesos Filters.refuse_seconds)
    again = one(c.offers(advance=1.0))
    assert Resources.from_dict(again.resources) == Resources.parse("cpus:3;mem:3072")


def test_unknown_offer_id_is_refused_with_task_dropped() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    bogus = p.Offer("nope", c.fid, offer.agent_id, "h", offer.resources)
    out = c.launch(bogus, "t1", "cpus:1;mem:32")
    err = one(sends(out, FW, p.FrameworkError))
    assert "'nope'" in err.message
    upd = one(sends(out, FW, p.StatusUpdate))
    assert (upd.task_id, upd.state, upd.reason) == ("t1", "TASK_DROPPED", "REASON_INVALID_OFFERS")
    assert sends(out, AGENT) == []


def test_task_exceeding_the_offer_is_an_error_and_the_agent_is_never_overcommitted() -> None:
    c = Cluster()
    c.add_agent(resources="cpus:1;mem:512")
    c.subscribe()
    offer = one(c.offers())
    out = c.launch(offer, "big", "cpus:2;mem:64")
    upd = one(sends(out, FW, p.StatusUpdate))
    assert upd.state == "TASK_ERROR" and "exceed" in upd.message and "big" in upd.message
    assert sends(out, AGENT) == []
    agent = next(iter(c.core.agents.values()))
    assert agent.total.contains(agent.used + agent.offered)


def test_task_id_used_twice_is_refused() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64", refuse_seconds=0)
    out = c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    upd = one(sends(out, FW, p.StatusUpdate))
    assert upd.state == "TASK_ERROR" and "already used" in upd.message


@pytest.mark.parametrize(
    "resources",
    [
        {"cpus": -1.0, "mem": 32.0},
        {"cpus": float("nan")},
        {"mem": 1e30},
        {"cpus": "lots"},
    ],
)
def test_absurd_task_resources_are_refused_and_the_master_carries_on(
    resources: dict[str, Any],
) -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    task = p.TaskInfo("t1", "t1", offer.agent_id, resources, p.CommandSpec("true"))
    out = c.handle(p.Accept(c.fid, [offer.offer_id], [p.Operation("LAUNCH", [task])]))
    upd = one(sends(out, FW, p.StatusUpdate))
    assert upd.state == "TASK_ERROR" and "resources" in upd.message
    assert c.core.tasks == {}


def test_unsupported_operation_is_refused_by_name() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    out = c.handle(p.Accept(c.fid, [offer.offer_id], [p.Operation("GROW_VOLUME")]))
    assert "'GROW_VOLUME'" in one(sends(out, FW, p.FrameworkError)).message


def test_calls_from_an_unknown_framework_get_an_error() -> None:
    c = Cluster()
    out = c.handle(p.Kill("ghost", "t1"), sender=FW)
    assert "'ghost'" in one(sends(out, FW, p.FrameworkError)).message


def test_status_updates_are_relayed_and_acknowledgements_reach_the_agent() -> None:
    c = Cluster()
    aid = c.add_agent()
    c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    upd = p.StatusUpdate(c.fid, "t1", aid, "TASK_RUNNING", "u-1", c.now)
    assert one(sends(c.handle(upd), FW, p.StatusUpdate)) == upd
    out = c.handle(p.Acknowledge(c.fid, aid, "t1", "u-1"))
    ack = one(sends(out, AGENT, p.StatusUpdateAck))
    assert ack.uuid == "u-1"
    # Acknowledging twice is harmless (the agent ignores an unknown uuid).
    assert one(sends(c.handle(p.Acknowledge(c.fid, aid, "t1", "u-1")), AGENT)).uuid == "u-1"


def test_terminal_update_releases_the_tasks_resources() -> None:
    c = Cluster()
    aid = c.add_agent(resources="cpus:1;mem:128")
    c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:128")
    assert c.offers(advance=10) == []
    c.handle(p.StatusUpdate(c.fid, "t1", aid, "TASK_FINISHED", "u-2", c.now))
    offer = one(c.offers())
    assert Resources.from_dict(offer.resources) == Resources.parse("cpus:1;mem:128")
    assert c.core.completed[-1].task_id == "t1"


def test_decline_filters_the_agent_for_refuse_seconds() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    c.handle(p.Decline(c.fid, [offer.offer_id], refuse_seconds=5.0))
    assert c.offers(advance=4.0) == []
    assert len(c.offers(advance=1.5)) == 1


def test_suppress_stops_offers_and_revive_resumes_them() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    c.handle(p.Suppress(c.fid))
    c.handle(p.Decline(c.fid, [offer.offer_id], refuse_seconds=0))
    assert c.offers() == []
    c.handle(p.Revive(c.fid))
    assert len(c.offers()) == 1


def test_agent_that_stops_answering_pings_is_unreachable_with_its_tasks() -> None:
    c = Cluster(ping_interval=1.0, max_missed_pings=3)
    aid = c.add_agent()
    c.add_agent(AGENT2)
    c.subscribe()
    offers = c.offers()
    mine = next(o for o in offers if o.agent_id == aid)
    c.launch(mine, "t1", "cpus:1;mem:64")
    updates: list[Any] = []
    rescinds: list[Any] = []
    lost: list[Any] = []
    for _ in range(5):
        out = c.tick(advance=1.0)
        c.handle(p.Pong(c.agent_ids[AGENT2], 0))  # only agent 2 answers
        updates += sends(out, FW, p.StatusUpdate)
        rescinds += sends(out, FW, p.Rescind)
        lost += sends(out, FW, p.AgentLost)
    upd = one(updates)
    assert (upd.task_id, upd.state) == ("t1", "TASK_UNREACHABLE")
    assert one(lost).agent_id == aid
    assert c.core.agents[aid].reachable is False
    assert c.core.agents[c.agent_ids[AGENT2]].reachable is True
    assert rescinds == [] or all(r.offer_id != mine.offer_id for r in rescinds)


def test_framework_failover_within_timeout_keeps_id_and_tasks() -> None:
    c = Cluster()
    c.add_agent()
    fid = c.subscribe(failover_timeout=30.0)
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    c.handle(PeerDown(FW))
    c.tick(advance=10.0)
    assert (fid, "t1") in c.core.tasks
    assert c.subscribe(fid=fid) == fid
    c.tick(advance=60.0)
    assert (fid, "t1") in c.core.tasks


def test_a_subscribe_retried_by_the_connected_framework_keeps_its_offers() -> None:
    """The driver resubscribes until Subscribed arrives; a busy master (a new leader in
    the re-registration storm) may take both Subscribes, and its offers went out in
    between. The retry is answered again and the offers stay good: the framework's
    launch on one is not refused as an unknown offer (its tasks dropped)."""
    c = Cluster()
    c.add_agent()
    fid = c.subscribe(failover_timeout=30.0)
    offer = one(c.offers())
    assert c.subscribe(fid=fid) == fid  # the retry, same address
    out = c.launch(offer, "t1", "cpus:1;mem:64")
    assert sends(out, FW, p.FrameworkError) == []
    assert one(sends(out, AGENT, p.RunTask)).task.task_id == "t1"


def test_a_framework_failing_over_to_a_new_address_loses_its_offers() -> None:
    """Mesos: a scheduler failover (same id, new address) gets fresh offers; the old
    ones are rescinded (silently: the old address is gone)."""
    c = Cluster()
    c.add_agent()
    fid = c.subscribe(failover_timeout=30.0)
    offer = one(c.offers())
    info = p.FrameworkInfo("test", ["*"], 30.0, framework_id=fid)
    out = c.handle(p.Subscribe(info, "tcp://127.0.0.1:7200/sched2"))
    assert one(sends(out, "tcp://127.0.0.1:7200/sched2", p.Subscribed)).framework_id == fid
    out = c.handle(
        p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", [])]),
    )
    assert "unknown offer" in one(sends(out, kind=p.FrameworkError)).message


def test_framework_gone_past_its_failover_timeout_is_torn_down() -> None:
    c = Cluster()
    c.add_agent()
    fid = c.subscribe(failover_timeout=5.0)
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    c.handle(PeerDown(FW))
    out = c.tick(advance=6.0)
    assert one(sends(out, AGENT, p.KillTask)).task_id == "t1"
    assert any(isinstance(e, Unpersist) and e.key == fid for e in out)
    assert fid not in c.core.frameworks


def test_new_leader_relearns_tasks_from_reregistering_agents() -> None:
    """Mesos failover: the registry holds agents and frameworks, agents bring the tasks."""
    c = Cluster()
    aid = c.add_agent()
    aid2 = c.add_agent(AGENT2)
    fid = c.subscribe(failover_timeout=60.0)
    offer = next(o for o in c.offers() if o.agent_id == aid)
    task = one(sends(c.launch(offer, "t1", "cpus:1;mem:64"), AGENT, p.RunTask)).task
    agents = [a.durable() for a in c.core.agents.values()]
    fws = [f.durable() for f in c.core.frameworks.values()]

    new = MasterCore(
        "m2",
        MasterConfig(agent_reregister_timeout=5.0),
        now=c.now,
        recovered_agents=agents,
        recovered_frameworks=fws,
    )
    c2 = Cluster(core=new)
    c2.now = c.now
    # The framework asks about its task before the agent is back: no answer yet.
    c2.fid = c2.subscribe(fid=fid)
    assert sends(c2.handle(p.Reconcile(fid, ["t1"])), FW, p.StatusUpdate) == []
    out = c2.handle(
        p.ReregisterAgent(
            aid,
            "h",
            AGENT,
            Resources.parse("cpus:4;mem:4096").to_dict(),
            tasks=[p.AgentTask(task, fid, "TASK_RUNNING")],
        )
    )
    assert one(sends(out, AGENT, p.AgentRegistered)).master_id == "m2"
    assert new.tasks[(fid, "t1")].state.value == "TASK_RUNNING"
    # Agent 2 never comes back: after the window it is unreachable, and the deferred
    # reconciliation is answered.
    out = c2.tick(advance=6.0)
    assert new.agents[aid2].reachable is False
    upd = one(sends(out, FW, p.StatusUpdate))
    assert (upd.task_id, upd.state, upd.reason) == ("t1", "TASK_RUNNING", "REASON_RECONCILIATION")
    # The re-registered agent's used resources are accounted: the offer excludes t1's.
    offer2 = one(one(sends(out, FW, p.Offers)).offers)
    assert Resources.from_dict(offer2.resources) == Resources.parse("cpus:3;mem:4032")


def test_corrupt_registry_records_are_reported_and_skipped() -> None:
    core = MasterCore(
        "m3",
        now=0.0,
        recovered_agents=[{"agent_id": "a"}, {"garbage": 1}],
        recovered_frameworks=[{"framework_id": "f", "name": "x", "failover_timeout": "soon"}],
    )
    assert core.agents == {} and core.frameworks == {}
    assert len(core.errors) == 3


def test_implicit_reconciliation_reports_every_task() -> None:
    c = Cluster()
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    task_a = p.TaskInfo(
        "a", "a", offer.agent_id, Resources.parse("cpus:1;mem:32").to_dict(), p.CommandSpec("true")
    )
    task_b = p.TaskInfo(
        "b", "b", offer.agent_id, Resources.parse("cpus:1;mem:32").to_dict(), p.CommandSpec("true")
    )
    c.handle(p.Accept(c.fid, [offer.offer_id], [p.Operation("LAUNCH", [task_a, task_b])]))
    out = c.handle(p.Reconcile(c.fid))
    assert sorted(u.task_id for u in sends(out, FW, p.StatusUpdate)) == ["a", "b"]
    unknown = one(sends(c.handle(p.Reconcile(c.fid, ["zzz"])), FW, p.StatusUpdate))
    assert unknown.state == "TASK_UNKNOWN"


def test_teardown_kills_tasks_and_forgets_the_framework() -> None:
    c = Cluster()
    c.add_agent()
    fid = c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    out = c.handle(p.Teardown(fid))
    assert one(sends(out, AGENT, p.KillTask)).task_id == "t1"
    assert fid not in c.core.frameworks and c.core.tasks == {}


def test_state_json_has_mesos_field_names() -> None:
    from actors.master._state_json import frameworks_json, slaves_json, state_json, tasks_json

    c = Cluster()
    aid = c.add_agent()
    fid = c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    state = state_json(
        c.core,
        hostname="h",
        address="tcp://127.0.0.1:5050/master",
        leader_address="tcp://127.0.0.1:5050/master",
        elected_time=1.0,
    )
    assert state["leader"] == "master@127.0.0.1:5050"
    assert state["activated_slaves"] == 1
    slave = one(state["slaves"])
    assert slave["id"] == aid and slave["used_resources"]["cpus"] == 1.0
    fw = one(state["frameworks"])
    assert fw["id"] == fid and one(fw["tasks"])["state"] == "TASK_STAGING"
    assert one(tasks_json(c.core)["tasks"])["slave_id"] == aid
    assert one(slaves_json(c.core)["slaves"])["resources"]["mem"] == 4096.0
    assert one(frameworks_json(c.core)["frameworks"])["name"] == "test"


def test_the_cycle_is_timed_alone_by_the_injected_clock() -> None:
    # The actor reports the allocation cycle's own time (alloc_cycle_ms_*): the clock is
    # read right around run_allocation, not around the tick's pings, expiries and flush.
    c = Cluster()
    c.add_agent()
    c.subscribe()
    reads: list[float] = [10.0, 10.25]
    c.core.cycle_clock = lambda: reads.pop(0)
    before = c.core.alloc_cycles
    offers = c.offers()
    assert c.core.alloc_cycles == before + 1 and offers
    assert c.core.last_cycle_cost == pytest.approx(0.25)
    assert reads == []  # read twice, for the one cycle
    c.tick()  # nothing changed: no cycle, the clock is not read
    assert c.core.alloc_cycles == before + 1
