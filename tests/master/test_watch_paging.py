"""A big state reaches an observer on another node as a SUBSCRIBED with at most
``SUBSCRIBED_MAX_*`` agents and tasks, then AGENT_ADDED/TASK_ADDED for the rest (one
frame of 10,000 tasks was over the transport's limit); observers folding the events
(DNS, l4lb) end with the same view as from one whole SUBSCRIBED; an observer in the
leader's own process gets the whole state at once."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.dns._records import ClusterView, apply_event
from actors.l4lb._table import VipTable
from actors.master import MasterConfig, MasterCore, Send, _watch
from actors.resources import Resources

REMOTE = "tcp://127.0.0.1:7200/dns"
LOCAL = "tcp://127.0.0.1:5050/operator-relay"
FW = "tcp://127.0.0.1:7100/sched"


def busy_core() -> MasterCore:
    core = MasterCore("m1", MasterConfig(), now=0.0, address="tcp://127.0.0.1:5050/master")
    res = Resources.parse("cpus:4;mem:4096").to_dict()
    for i in range(4):
        core.handle(p.RegisterAgent(f"h{i}", f"tcp://127.0.0.{i + 2}:5051/agent", res), 0.0)
    out = core.handle(p.Subscribe(p.FrameworkInfo("marathon"), FW), 0.0)
    fid = next(
        e.message.framework_id
        for e in out
        if isinstance(e, Send) and isinstance(e.message, p.Subscribed)
    )
    offers = [
        o
        for e in core.tick(1.0)
        if isinstance(e, Send) and isinstance(e.message, p.Offers)
        for o in e.message.offers
    ]
    n = 0
    for offer in offers:
        tasks = []
        for _ in range(3):
            n += 1
            tasks.append(
                p.TaskInfo(
                    f"web.{n}",
                    "web",
                    offer.agent_id,
                    Resources.parse("cpus:0.5;mem:64").to_dict(),
                    p.CommandSpec("sleep 100"),
                )
            )
        core.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", tasks)]), 1.0)
        for t in tasks:
            core.handle(
                p.StatusUpdate(fid, t.task_id, offer.agent_id, "TASK_RUNNING", t.task_id, 1.0), 1.0
            )
    return core


def stream(core: MasterCore, who: str) -> list[p.MasterEvent]:
    out = core.handle(p.WatchMaster(who), 2.0)
    return [e.message for e in out if isinstance(e, Send) and e.to == who]


def test_a_remote_observer_gets_the_state_in_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = stream(busy_core(), REMOTE)
    assert len(whole) == 1  # under the limits: one SUBSCRIBED, as before
    monkeypatch.setattr(_watch, "SUBSCRIBED_MAX_AGENTS", 1)
    monkeypatch.setattr(_watch, "SUBSCRIBED_MAX_TASKS", 2)
    core = busy_core()
    paged = stream(core, REMOTE)
    kinds = [m.event["type"] for m in paged]
    assert kinds == ["SUBSCRIBED"] + ["AGENT_ADDED"] * 3 + ["TASK_ADDED"] * 10
    assert [m.seq for m in paged] == list(range(1, 15))
    sub = paged[0].event["subscribed"]["get_state"]
    assert len(sub["get_agents"]["agents"]) == 1 and len(sub["get_tasks"]["tasks"]) == 2
    # the next change is numbered after the pages
    t = next(iter(core.tasks.values()))
    u = p.StatusUpdate(t.framework_id, t.task_id, t.agent_id, "TASK_FINISHED", "u-9", 3.0)
    later = [e.message for e in core.handle(u, 3.0) if isinstance(e, Send) and e.to == REMOTE]
    assert [(m.event["type"], m.seq) for m in later] == [("TASK_UPDATED", 15)]
    # DNS and l4lb views: the same as from the whole SUBSCRIBED
    views: list[Any] = []
    tables: list[Any] = []
    for events in (whole, paged):
        view = ClusterView()
        table = VipTable(salt="")
        for m in events:
            view = apply_event(view, m.event, m.master_id)
            table.apply(m.event)
        views.append((sorted(view.tasks), sorted(view.agents), sorted(view.frameworks)))
        tables.append((sorted(table.tasks), sorted(table.agents.items())))
    assert views[0] == views[1] and len(views[0][0]) == 12
    assert tables[0] == tables[1]
    # in the leader's own process: the whole state in one event
    assert len(stream(core, LOCAL)) == 1
