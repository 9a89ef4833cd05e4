"""The master state watch (WatchMaster -> MasterEvent), on the pure master core.

Each change the core applies becomes exactly the Mesos v1 operator event a SUBSCRIBE
client would read, sent to every watcher after the change's own effects, numbered per
watcher.
"""

from __future__ import annotations

from typing import Any

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
FW = "tcp://127.0.0.1:7100/sched"
W1 = "tcp://127.0.0.1:7200/dns"
W2 = "tcp://127.0.0.1:7300/l4lb"


def events(out: list[Any], to: str = W1) -> list[p.MasterEvent]:
    return [
        e.message
        for e in out
        if isinstance(e, Send) and e.to == to and isinstance(e.message, p.MasterEvent)
    ]


def types(out: list[Any], to: str = W1) -> list[str]:
    return [m.event["type"] for m in events(out, to)]


class World:
    def __init__(self, **config: Any) -> None:
        self.now = 1000.0
        self.core = MasterCore("m1", MasterConfig(**config), now=self.now, wall_offset=5000.0)
        self.fid = ""
        self.agent_id = ""

    def handle(self, msg: Any) -> list[Any]:
        return self.core.handle(msg, self.now)

    def tick(self, advance: float = 0.1) -> list[Any]:
        self.now += advance
        return self.core.tick(self.now)

    def watch(self, who: str = W1) -> p.MasterEvent:
        out = self.handle(p.WatchMaster(who))
        assert any(isinstance(e, Watch) and e.address == who for e in out)
        (sub,) = events(out, who)
        return sub

    def add_agent(self) -> list[Any]:
        res = Resources.parse("cpus:4;mem:4096;ports:[31000-31009]").to_dict()
        out = self.handle(p.RegisterAgent("h1", AGENT, res, {"zone": "a", "rack": 3.0}))
        self.agent_id = next(
            e.message.agent_id
            for e in out
            if isinstance(e, Send) and isinstance(e.message, p.AgentRegistered)
        )
        return out

    def subscribe(self) -> list[Any]:
        out = self.handle(p.Subscribe(p.FrameworkInfo("marathon", ["*"], 60.0), FW))
        self.fid = next(
            e.message.framework_id
            for e in out
            if isinstance(e, Send) and isinstance(e.message, p.Subscribed)
        )
        return out

    def launch(self, task_id: str = "web.1", **kw: Any) -> list[Any]:
        offers = [
            o
            for e in self.tick()
            if isinstance(e, Send) and isinstance(e.message, p.Offers)
            for o in e.message.offers
        ]
        task = p.TaskInfo(
            task_id=task_id,
            name="web",
            agent_id=self.agent_id,
            resources=Resources.parse("cpus:1;mem:128;ports:[31000-31000]").to_dict(),
            command=p.CommandSpec("sleep 100"),
            labels={"owner": "ops"},
            discovery=p.DiscoveryInfo("web", [p.DiscoveryPort(31000, "http", "tcp")]),
            **kw,
        )
        accept = p.Accept(self.fid, [offers[0].offer_id], [p.Operation("LAUNCH", [task])])
        return self.handle(accept)

    def update(self, task_id: str, state: str, healthy: bool | None = None) -> list[Any]:
        u = p.StatusUpdate(
            self.fid, task_id, self.agent_id, state, "0" * 32, 6000.0, healthy=healthy
        )
        return self.handle(u)


def test_subscribed_carries_the_whole_state_as_get_state() -> None:
    w = World()
    w.add_agent()
    w.subscribe()
    w.launch()
    sub = w.watch()
    assert (sub.seq, sub.master_id) == (1, "m1")
    assert sub.event["type"] == "SUBSCRIBED"
    body = sub.event["subscribed"]
    assert body["heartbeat_interval_seconds"] == 15.0
    state = body["get_state"]
    assert set(state) == {"get_tasks", "get_executors", "get_frameworks", "get_agents"}
    (agent,) = state["get_agents"]["agents"]
    assert agent["agent_info"]["id"] == {"value": w.agent_id}
    assert agent["pid"] == "slave(1)@127.0.0.1:7001"
    (fw,) = state["get_frameworks"]["frameworks"]
    assert fw["framework_info"]["name"] == "marathon" and fw["active"] is True
    (task,) = state["get_tasks"]["tasks"]
    assert task["task_id"] == {"value": "web.1"} and task["state"] == "TASK_STAGING"


def test_nothing_is_collected_while_nobody_watches() -> None:
    w = World()
    w.add_agent()
    w.subscribe()
    out = w.launch()
    assert w.core.events == [] and events(out) == []


def test_task_added_then_updated_on_state_and_health_changes_only() -> None:
    w = World()
    w.add_agent()
    w.subscribe()
    w.watch()
    out = w.launch()
    (added,) = events(out)
    assert added.seq == 2
    task = added.event["task_added"]["task"]
    assert task["framework_id"] == {"value": w.fid}
    assert task["agent_id"] == {"value": w.agent_id}
    assert task["labels"] == {"labels": [{"key": "owner", "value": "ops"}]}
    assert task["state"] == "TASK_STAGING" and task["statuses"] == []  # no update yet
    assert task["discovery"]["ports"]["ports"][0] == {
        "number": 31000,
        "protocol": "tcp",
        "name": "http",
    }
    ports = next(r for r in task["resources"] if r["name"] == "ports")
    assert ports["type"] == "RANGES"
    assert ports["ranges"] == {"range": [{"begin": 31000, "end": 31000}]}
    # The RunTask to the agent leaves before anyone hears about the task.
    kinds = [type(e.message).__name__ for e in out if isinstance(e, Send)]
    assert kinds.index("RunTask") < kinds.index("MasterEvent")

    out = w.update("web.1", "TASK_RUNNING")
    (upd,) = events(out)
    assert upd.seq == 3
    body = upd.event["task_updated"]
    assert body["state"] == "TASK_RUNNING" and body["framework_id"] == {"value": w.fid}
    status = body["status"]
    assert status["task_id"] == {"value": "web.1"} and status["source"] == "SOURCE_AGENT"
    assert status["uuid"] == "AAAAAAAAAAAAAAAAAAAAAA=="  # base64 of 16 zero bytes
    ip = status["container_status"]["network_infos"][0]["ip_addresses"][0]["ip_address"]
    assert ip == "127.0.0.1"

    assert events(w.update("web.1", "TASK_RUNNING")) == []  # nothing changed
    (health,) = events(w.update("web.1", "TASK_RUNNING", healthy=True))
    assert health.event["task_updated"]["status"]["healthy"] is True
    (done,) = events(w.update("web.1", "TASK_FINISHED"))
    assert done.event["task_updated"]["state"] == "TASK_FINISHED"
    assert [m.seq for m in (health, done)] == [4, 5]


def test_agents_added_and_removed_when_unreachable() -> None:
    w = World(ping_interval=1.0, max_missed_pings=2)
    w.watch()
    (added,) = events(w.add_agent())
    agent = added.event["agent_added"]["agent"]
    assert agent["active"] is True
    assert {"name": "zone", "type": "TEXT", "text": {"value": "a"}} in agent["agent_info"][
        "attributes"
    ]
    assert {"name": "rack", "type": "SCALAR", "scalar": {"value": 3.0}} in agent["agent_info"][
        "attributes"
    ]
    w.subscribe()
    w.launch()
    seen: list[str] = []
    for _ in range(5):
        out = w.tick(1.0)
        seen += types(out)
    assert seen.index("TASK_UPDATED") < seen.index("AGENT_REMOVED")
    assert w.core.events == []  # everything collected was sent


def test_frameworks_added_updated_on_disconnect_and_removed_on_teardown() -> None:
    w = World()
    w.add_agent()
    w.watch()
    out = w.subscribe()
    (added,) = events(out)
    fw = added.event["framework_added"]["framework"]
    assert fw["framework_info"]["id"] == {"value": w.fid}
    assert fw["connected"] is True
    w.launch()
    out = w.handle(PeerDown(FW))
    (upd,) = events(out)
    assert upd.event["framework_updated"]["framework"]["connected"] is False
    out = w.handle(p.Teardown(w.fid))
    assert types(out) == ["TASK_UPDATED", "FRAMEWORK_REMOVED"]
    killed, removed = events(out)
    assert killed.event["task_updated"]["state"] == "TASK_KILLED"
    assert killed.event["task_updated"]["status"]["reason"] == "REASON_FRAMEWORK_REMOVED"
    assert removed.event["framework_removed"]["framework_info"]["name"] == "marathon"
    # The master remembers it (bounded), as Mesos' completed_frameworks.
    (done,) = w.core.operator(p.OperatorCall("GET_FRAMEWORKS"), w.now)[0]["get_frameworks"][
        "completed_frameworks"
    ]
    assert done["framework_info"]["id"] == {"value": w.fid} and done["active"] is False
    # The Unpersist of the framework comes before anyone is told it is gone.
    kinds = [type(e) for e in out]
    assert kinds.index(Unpersist) < max(i for i, e in enumerate(out) if isinstance(e, Send))


def test_each_watcher_has_its_own_numbering_and_goes_on_unwatch_or_peer_down() -> None:
    w = World()
    w.watch(W1)
    out = w.add_agent()
    assert [m.seq for m in events(out, W1)] == [2]
    w.watch(W2)
    out = w.subscribe()
    assert [m.seq for m in events(out, W1)] == [3]
    assert [m.seq for m in events(out, W2)] == [2]
    w.handle(p.UnwatchMaster(W1))
    w.handle(PeerDown(W2))
    assert w.core.watchers == {}
    assert w.launch() and w.core.events == []


def test_watching_again_restarts_with_a_fresh_subscribed() -> None:
    w = World()
    w.watch()
    w.add_agent()
    again = w.watch()
    assert (
        again.seq == 1 and len(again.event["subscribed"]["get_state"]["get_agents"]["agents"]) == 1
    )


def test_heartbeat_every_interval() -> None:
    w = World(watch_heartbeat_interval=2.0)
    w.watch()
    assert "HEARTBEAT" not in types(w.tick(1.0))
    out = w.tick(1.5)
    (hb,) = events(out)
    assert hb.event == {"type": "HEARTBEAT"} and hb.seq == 2


def test_a_bad_subscriber_address_is_refused_and_noted() -> None:
    w = World()
    out = w.handle(p.WatchMaster("nowhere"))
    assert out == [] and w.core.watchers == {}
    assert "WatchMaster.subscriber" in w.core.errors[-1]


def test_reregistered_agent_reports_tasks_as_added_after_failover() -> None:
    docs = [
        {
            "agent_id": "old-S1",
            "hostname": "h1",
            "address": AGENT,
            "resources": Resources.parse("cpus:4;mem:4096").to_dict(),
        }
    ]
    core = MasterCore("m2", MasterConfig(), now=0.0, recovered_agents=docs)
    out = core.handle(p.WatchMaster(W1), 0.0)
    sub = events(out)[0].event["subscribed"]["get_state"]["get_agents"]
    assert sub["agents"] == [] and sub["recovered_agents"][0]["id"] == {"value": "old-S1"}
    task = p.TaskInfo("t1", "t1", "old-S1", Resources.parse("cpus:1;mem:32").to_dict())
    at = p.AgentTask(task, "fw1", "TASK_RUNNING", healthy=True)
    out = core.handle(
        p.ReregisterAgent(
            "old-S1", "h1", AGENT, Resources.parse("cpus:4;mem:4096").to_dict(), {}, [at]
        ),
        1.0,
    )
    assert types(out) == ["AGENT_ADDED", "TASK_ADDED"]
    added = events(out)[1].event["task_added"]["task"]
    assert added["state"] == "TASK_RUNNING"
    assert added["statuses"][0]["healthy"] is True
    # Unchanged since the registry's record: no ZooKeeper write (issue 29's storm).
    assert not any(isinstance(e, Persist) for e in out)
    moved = "tcp://127.0.0.1:7009/agent"  # a changed record is written before the answer
    out = core.handle(
        p.ReregisterAgent("old-S1", "h1", moved, Resources.parse("cpus:4;mem:4096").to_dict()),
        2.0,
    )
    written = [
        type(e)
        for e in out
        if isinstance(e, Persist) or (isinstance(e, Send) and type(e.message) is p.AgentRegistered)
    ]
    assert written == [Persist, Send]


def test_task_added_carries_its_health_check_with_the_checked_host_port() -> None:
    w = World()
    w.add_agent()
    w.subscribe()
    w.watch()
    check = p.HealthCheckInfo("MESOS_HTTP", path="/ping", port_index=0, interval_seconds=2.0)
    (added,) = events(w.launch(health_checks=[check]))
    hc = added.event["task_added"]["task"]["health_check"]
    assert hc["type"] == "HTTP" and hc["http"] == {"port": 31000, "path": "/ping"}
    assert hc["interval_seconds"] == 2.0 and hc["consecutive_failures"] == 3


def test_a_recovered_agent_that_never_comes_back_is_removed_when_the_window_closes() -> None:
    docs = [
        {
            "agent_id": "old-S1",
            "hostname": "h1",
            "address": AGENT,
            "resources": Resources.parse("cpus:4;mem:4096").to_dict(),
        }
    ]
    core = MasterCore(
        "m2", MasterConfig(agent_reregister_timeout=5.0), now=0.0, recovered_agents=docs
    )
    core.handle(p.WatchMaster(W1), 0.0)
    assert "AGENT_REMOVED" not in types(core.tick(4.0))
    (removed,) = [m for m in events(core.tick(5.5)) if m.event["type"] == "AGENT_REMOVED"]
    assert removed.event["agent_removed"]["agent_id"] == {"value": "old-S1"}


def test_a_resend_that_crossed_our_subscribed_is_not_answered_again() -> None:
    """A follower re-sends an unanswered subscribe with the same episode; the master
    that answered that episode moments ago builds no second state (a new leader behind
    a storm built one whole state per crossed resend). A fresh episode, a resend past
    the window, or a resend after the watch ended (peer down, unwatch) is answered."""
    core = MasterCore("m1", MasterConfig(), now=0.0)
    assert types(core.handle(p.WatchMaster(W1, episode=7), 0.0)) == ["SUBSCRIBED"]
    assert core.handle(p.WatchMaster(W1, episode=7), 5.0) == []  # crossed: skipped
    assert types(core.handle(p.WatchMaster(W1, episode=8), 6.0)) == ["SUBSCRIBED"]
    assert types(core.handle(p.WatchMaster(W1, episode=8), 6.0 + 30.0)) == ["SUBSCRIBED"]
    core.handle(p.UnwatchMaster(W1), 37.0)
    assert types(core.handle(p.WatchMaster(W1, episode=8), 38.0)) == ["SUBSCRIBED"]
    assert core.handle(p.WatchMaster(W1, episode=8), 38.5) == []
    core.handle(PeerDown(W1), 39.0)
    assert types(core.handle(p.WatchMaster(W1, episode=8), 40.0)) == ["SUBSCRIBED"]
    # Episode 0 (a client that does not number its subscriptions): always answered.
    assert types(core.handle(p.WatchMaster(W1), 41.0)) == ["SUBSCRIBED"]
    assert types(core.handle(p.WatchMaster(W1), 41.0)) == ["SUBSCRIBED"]
