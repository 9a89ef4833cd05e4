"""The record table as a pure function of the leader's v1 operator events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.dns import ClusterView, DnsConfig, apply_event, build_table, set_leader
from actors.dns._records import expire_carried
from tests.dns._events import (
    subscribed,
    task_added,
    task_updated,
    v1_agent,
    v1_framework,
    v1_task,
)

CONFIG = DnsConfig(ttl=5, ns_ip="127.0.0.1")


def table_of(*events: dict, view: ClusterView | None = None, master_id: str = "m1"):  # type: ignore[no-untyped-def]
    view = view or ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    for ev in events:
        view = apply_event(view, ev, master_id)
    return view, build_table(view, CONFIG, 1)


def test_three_instances_of_shop_web_give_one_a_name_and_three_srv_targets() -> None:
    tasks = [v1_task(f"shop_web.{i}", ports=(31000 + i,)) for i in range(3)]
    _, t = table_of(subscribed(tasks))
    assert t.a["web-shop.marathon.mesos."] == ("127.0.0.2",)
    assert t.a["web-shop.marathon.slave.mesos."] == ("127.0.0.2",)
    srv = t.srv["_web-shop._tcp.marathon.mesos."]
    assert sorted(s.port for s in srv) == [31000, 31001, 31002]
    # each target is a canonical name that resolves
    for s in srv:
        assert s.target.startswith("web-shop-") and s.target.endswith("-s0.marathon.mesos.")
        assert t.a[s.target] == ("127.0.0.2",)
    # host-port SRV records under .slave, tcp and udp (Mesos-DNS' table)
    assert len(t.srv["_web-shop._udp.marathon.slave.mesos."]) == 3
    # with DiscoveryInfo, no host-port SRV directly under the framework for udp
    assert "_web-shop._udp.marathon.mesos." not in t.srv


def test_task_without_discovery_info_is_named_from_its_task_name() -> None:
    _, t = table_of(subscribed([v1_task("x.1", name="Api_Server.v2", discovery=None)]))
    assert "api-server-v2.marathon.mesos." in t.a
    assert {s.port for s in t.srv["_api-server-v2._tcp.marathon.mesos."]} == {31000}
    assert {s.port for s in t.srv["_api-server-v2._udp.marathon.mesos."]} == {31000}


def test_container_ip_wins_for_the_task_name_and_agent_ip_for_slave_names() -> None:
    task = v1_task("c.1", container_ip="10.0.4.1", ports=())
    _, t = table_of(subscribed([task]))
    assert t.a["web-shop.marathon.mesos."] == ("10.0.4.1",)
    assert t.a["web-shop.marathon.slave.mesos."] == ("127.0.0.2",)
    dcos = ".marathon.{}.dcos.thisdcos.directory."
    assert t.a["web-shop" + dcos.format("autoip")] == ("10.0.4.1",)
    assert t.a["web-shop" + dcos.format("agentip")] == ("127.0.0.2",)
    assert t.a["web-shop" + dcos.format("containerip")] == ("10.0.4.1",)


def test_only_running_tasks_have_records() -> None:
    view, t = table_of(subscribed([v1_task("a.1", state="TASK_STAGING")]))
    assert "web-shop.marathon.mesos." not in t.a
    view = apply_event(view, task_updated("a.1", "TASK_RUNNING"), "m1")
    assert build_table(view, CONFIG, 2).a["web-shop.marathon.mesos."] == ("127.0.0.2",)


def test_a_killed_task_disappears_and_its_siblings_stay() -> None:
    tasks = [v1_task(f"w.{i}", ports=(31000 + i,)) for i in range(3)]
    view, _ = table_of(subscribed(tasks))
    view = apply_event(view, task_updated("w.1", "TASK_KILLED"), "m1")
    t = build_table(view, CONFIG, 2)
    assert sorted(s.port for s in t.srv["_web-shop._tcp.marathon.mesos."]) == [31000, 31002]
    for state in ("TASK_KILLED", "TASK_LOST", "TASK_FAILED"):
        view = apply_event(view, task_updated("w.0", state), "m1")
        view = apply_event(view, task_updated("w.2", state), "m1")
    t = build_table(view, CONFIG, 3)
    assert "web-shop.marathon.mesos." not in t.a and not t.exists("web-shop.marathon.mesos.")


def test_task_added_later_appears() -> None:
    view, _ = table_of(subscribed([]))
    view = apply_event(view, task_added(v1_task("n.1")), "m1")
    assert "web-shop.marathon.mesos." in build_table(view, CONFIG, 2).a


def test_agent_removed_takes_its_tasks_names_away_and_agent_names_follow() -> None:
    agents = [v1_agent("ag-S0", "127.0.0.2"), v1_agent("ag-S1", "127.0.0.3")]
    tasks = [v1_task("a.1"), v1_task("b.1", agent="ag-S1", ports=(31001,))]
    view, t = table_of(subscribed(tasks, agents=agents))
    assert sorted(t.a["slave.mesos."]) == ["127.0.0.2", "127.0.0.3"]
    assert t.a["agent.mesos."] == t.a["slave.mesos."]
    assert sorted(t.a["web-shop.marathon.mesos."]) == ["127.0.0.2", "127.0.0.3"]
    view = apply_event(
        view, {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": "ag-S1"}}}
    )
    t = build_table(view, CONFIG, 2)
    assert t.a["slave.mesos."] == ("127.0.0.2",)
    assert t.a["web-shop.marathon.mesos."] == ("127.0.0.2",)
    view = apply_event(
        view, {"type": "AGENT_ADDED", "agent_added": {"agent": v1_agent("ag-S2", "127.0.0.9")}}
    )
    assert "127.0.0.9" in build_table(view, CONFIG, 3).a["slave.mesos."]


def test_framework_names_come_from_framework_events() -> None:
    fws = [v1_framework("fw-1", "marathon"), v1_framework("fw-2", "Jobs.Prod")]
    view, t = table_of(
        subscribed(
            [v1_task("j.1", framework="fw-2", discovery=None, name="nightly")], frameworks=fws
        )
    )
    assert "nightly.jobs.prod.mesos." in t.a
    view = apply_event(
        view,
        {
            "type": "FRAMEWORK_REMOVED",
            "framework_removed": {"framework_info": {"id": {"value": "fw-2"}}},
        },
    )
    assert "nightly.jobs.prod.mesos." not in build_table(view, CONFIG, 2).a


def test_leader_master_soa_ns_and_srv_of_the_leader() -> None:
    _, t = table_of(subscribed([]))
    assert t.a["leader.mesos."] == ("127.0.0.1",)
    assert t.a["master.mesos."] == ("127.0.0.1",)
    assert t.srv["_leader._tcp.mesos."][0].port == 5050
    assert t.srv["_leader._udp.mesos."][0].target == "leader.mesos."
    assert t.a["ns1.mesos."] == ("127.0.0.1",)
    assert t.exists("mesos.") and t.exists("thisdcos.directory.")


def test_empty_non_terminals_exist_and_unknown_names_do_not() -> None:
    _, t = table_of(subscribed([v1_task("a.1")]))
    assert t.exists("marathon.mesos.") and t.exists("slave.mesos.")
    assert not t.exists("nope.marathon.mesos.")


def test_enumerate_has_mesos_dns_shape() -> None:
    _, t = table_of(subscribed([v1_task("a.1")]))
    fw = t.enumerate["frameworks"][0]
    assert fw["name"] == "marathon"
    task = fw["tasks"][0]
    assert task["id"] == "a.1" and task["name"] == "web.shop"
    assert {"name": "web-shop.marathon.mesos.", "host": "127.0.0.2", "rtype": "A"} in task[
        "records"
    ]
    assert any(r["rtype"] == "SRV" and r["host"].endswith(":31000") for r in task["records"])


def test_extra_names_such_as_vips_are_served() -> None:
    view, _ = table_of(subscribed([]))
    t = build_table(view, CONFIG, 1, {"web.marathon.l4lb.thisdcos.directory": ["127.1.0.7"]})
    assert t.a["web.marathon.l4lb.thisdcos.directory."] == ("127.1.0.7",)
    assert t.exists("l4lb.thisdcos.directory.")


def test_a_fresh_subscription_is_a_full_reset() -> None:
    view, _ = table_of(subscribed([v1_task("a.1")]))
    view = apply_event(view, subscribed([v1_task("b.1", name="other", discovery="other")]), "m1")
    t = build_table(view, CONFIG, 2)
    assert "other.marathon.mesos." in t.a and "web-shop.marathon.mesos." not in t.a


def test_after_failover_tasks_of_agents_not_yet_reregistered_are_carried() -> None:
    """dcos/dcos#6267: records flushed on Mesos failover. The new leader's first state
    knows no tasks until their agents re-register: the names must keep resolving."""
    view, _ = table_of(subscribed([v1_task("a.1"), v1_task("b.1", ports=(31001,))]))
    view = apply_event(view, subscribed([], agents=[]), "m2", now=100.0, carry_for=15.0)
    t = build_table(view, CONFIG, 2)
    assert t.a["web-shop.marathon.mesos."] == ("127.0.0.2",)
    assert len(t.srv["_web-shop._tcp.marathon.mesos."]) == 2
    # the agent re-registers and reports a.1; b.1 was killed meanwhile
    view = apply_event(view, task_added(v1_task("a.1")), "m2")
    view = apply_event(view, task_updated("b.1", "TASK_KILLED"), "m2")
    assert "fw-1/a.1" not in view.carried
    t = build_table(view, CONFIG, 3)
    assert [s.port for s in t.srv["_web-shop._tcp.marathon.mesos."]] == [31000]
    # nothing carried is kept past its time
    view2, _ = table_of(subscribed([v1_task("c.1")]))
    view2 = apply_event(view2, subscribed([]), "m2", now=0.0, carry_for=15.0)
    assert not expire_carried(view2, 10.0)
    assert expire_carried(view2, 15.0) and not view2.tasks


def test_expiry_leaves_what_a_fresh_state_would_give() -> None:
    """Past the carry time the view holds what a fresh state from the new leader holds:
    the tasks, agents and frameworks it streamed since its SUBSCRIBED, and no more (an
    agent that never came back no longer answers ``slave.mesos``)."""
    agents = [v1_agent("ag-1", "127.0.0.2"), v1_agent("ag-2", "127.0.0.3")]
    fws = [v1_framework("fw-1"), v1_framework("fw-2", "metronome")]
    old = subscribed([v1_task("a.1", agent="ag-1"), v1_task("b.1", agent="ag-2")], agents, fws)
    view, _ = table_of(old)
    view = apply_event(view, subscribed([], [], []), "m2", now=0.0, carry_for=15.0)
    assert set(view.carried_agents) == {"ag-1", "ag-2"} and set(view.carried_frameworks) == {"fw-1"}
    stream = [  # ag-1 re-registers with a.1; ag-2 never comes back; fw-1 re-subscribes
        {"type": "AGENT_ADDED", "agent_added": {"agent": agents[0]}},
        task_added(v1_task("a.1", agent="ag-1")),
        {"type": "FRAMEWORK_ADDED", "framework_added": {"framework": fws[0]}},
    ]
    for ev in stream:
        view = apply_event(view, ev, "m2", now=1.0, carry_for=15.0)
    # not while re-registrations come in (the last AGENT_ADDED at 1.0: until 16.0)
    assert not expire_carried(view, 15.0)
    assert expire_carried(view, 16.0)
    fresh = apply_event(
        ClusterView(leader=view.leader, masters=view.masters),
        subscribed([v1_task("a.1", agent="ag-1")], [agents[0]], [fws[0]]),
        "m2",
    )
    assert view.tasks == fresh.tasks and view.agents == fresh.agents
    assert view.frameworks == fresh.frameworks
    assert not (view.carried or view.carried_agents or view.carried_frameworks)
    assert build_table(view, CONFIG, 3).a["slave.mesos."] == ("127.0.0.2",)


def test_same_master_resubscribing_carries_nothing() -> None:
    view, _ = table_of(subscribed([v1_task("a.1")]))
    view = apply_event(view, subscribed([]), "m1", now=0.0, carry_for=15.0)
    assert not view.tasks and not view.carried


def test_malformed_events_change_nothing() -> None:
    view, before = table_of(subscribed([v1_task("a.1")]))
    for ev in (
        {},
        {"type": "TASK_ADDED"},
        {"type": "TASK_ADDED", "task_added": {"task": {"name": 3}}},
        {"type": "TASK_UPDATED", "task_updated": {"status": "x"}},
        {"type": "AGENT_ADDED", "agent_added": {"agent": {"pid": "garbage"}}},
        {"type": "WHATEVER"},
        {"type": "FRAMEWORK_ADDED", "framework_added": None},
    ):
        view = apply_event(view, ev, "m1")  # type: ignore[arg-type]
    after = build_table(view, CONFIG, 1)
    assert dict(after.a) == dict(before.a) and dict(after.srv) == dict(before.srv)


def test_a_health_result_alone_needs_no_new_table_but_a_state_change_does() -> None:
    from actors.dns._records import record_inputs, updated_key

    view, _ = table_of(subscribed([v1_task("a.1"), v1_task("v.1", vip="/web:80", ports=(31001,))]))
    health = task_updated("a.1", "TASK_RUNNING")
    health["task_updated"]["status"]["healthy"] = False
    key = updated_key(health)
    assert key == "fw-1/a.1"
    before = record_inputs(view.tasks[key])
    view = apply_event(view, health, "m1")
    assert record_inputs(view.tasks[key]) == before
    # a VIP task's health matters (the load balancer's names may follow it)
    vip_health = task_updated("v.1", "TASK_RUNNING")
    vip_health["task_updated"]["status"]["healthy"] = False
    before = record_inputs(view.tasks["fw-1/v.1"])
    view = apply_event(view, vip_health, "m1")
    assert record_inputs(view.tasks["fw-1/v.1"]) != before
    killed = task_updated("a.1", "TASK_KILLED")
    view = apply_event(view, killed, "m1")
    assert record_inputs(view.tasks.get("fw-1/a.1")) is None
    assert updated_key(task_added(v1_task("x"))) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_kinds = st.sampled_from(
    [
        "SUBSCRIBED",
        "TASK_ADDED",
        "TASK_UPDATED",
        "AGENT_ADDED",
        "AGENT_REMOVED",
        "FRAMEWORK_ADDED",
        "FRAMEWORK_UPDATED",
        "FRAMEWORK_REMOVED",
        "HEARTBEAT",
        "X",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_kinds, _json), max_size=6))
def test_any_event_shapes_never_break_the_view_or_the_table(events: list) -> None:  # type: ignore[type-arg]
    view, _ = table_of(subscribed([v1_task("a.1")]))
    for kind, body in events:
        key = kind.lower()
        view = apply_event(view, {"type": kind, key: body}, "m1")
    build_table(view, CONFIG, 9)


def test_master_mesos_lists_every_contender_once() -> None:
    from actors.dns._records import master_ips

    view = ClusterView()
    others = master_ips(
        ["tcp://127.0.0.1:5050", "tcp://127.0.0.2:5050", "garbage", "tcp://127.0.0.3:1"]
    )
    assert others == ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    set_leader(view, "tcp://127.0.0.2:5050/master", "127.0.0.3", others)
    view = apply_event(view, subscribed([]), "m1")
    t = build_table(view, CONFIG, 1)
    assert t.a["leader.mesos."] == ("127.0.0.2",)
    assert sorted(t.a["master.mesos."]) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
