"""The VIP table as a function of the leader's v1 events and instance health (issue 20:
"backends are the app's healthy instances (running ones when it has no health check),
added when they turn healthy and removed the moment they are killed, unhealthy or
lost"), and named VIPs' addresses. Pure."""

from __future__ import annotations

import ipaddress
from typing import Any

from actors.l4lb import (
    NAMED_NETWORK,
    Backend,
    VipTable,
    allocate,
    cluster_salt,
    vip_dns_records,
    vips_json,
)

WEB = "web.marathon.l4lb.thisdcos.directory"


def v1_task(
    task_id: str,
    state: str = "TASK_RUNNING",
    *,
    port: int = 31000,
    vip: str | None = "/web:80",
    agent: str = "a1",
    healthy: bool | None = None,
    health_check: bool = False,
    balance: str | None = None,
    app: str = "/web",
) -> dict[str, Any]:
    labels = [{"key": "VIP_0", "value": vip}] if vip else []
    if balance:
        labels.append({"key": "L4LB_BALANCE", "value": balance})
    status: dict[str, Any] = {"task_id": {"value": task_id}, "state": state}
    if healthy is not None:
        status["healthy"] = healthy
    task: dict[str, Any] = {
        "name": "web",
        "task_id": {"value": task_id},
        "framework_id": {"value": "fw"},
        "agent_id": {"value": agent},
        "state": state,
        "statuses": [status],
        "labels": {"labels": [{"key": "MARATHON_APP_ID", "value": app}]},
        "discovery": {
            "visibility": "FRAMEWORK",
            "name": "web",
            "ports": {"ports": [{"number": port, "protocol": "tcp", "labels": {"labels": labels}}]},
        },
    }
    if health_check:
        task["health_check"] = {"type": "HTTP"}
    return task


def subscribed(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "get_state": {
                "get_tasks": {"tasks": list(tasks)},
                "get_agents": {
                    "agents": [
                        {
                            "agent_info": {"id": {"value": "a1"}, "hostname": "h1"},
                            "pid": "slave(1)@127.0.0.1:5051",
                        },
                        {"agent_info": {"id": {"value": "a2"}, "hostname": "127.0.0.2"}},
                    ]
                },
                "get_frameworks": {
                    "frameworks": [{"framework_info": {"id": {"value": "fw"}, "name": "marathon"}}]
                },
            },
            "heartbeat_interval_seconds": 15.0,
        },
    }


def updated(task_id: str, state: str, healthy: bool | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"task_id": {"value": task_id}, "state": state}
    if healthy is not None:
        status["healthy"] = healthy
    return {
        "type": "TASK_UPDATED",
        "task_updated": {"framework_id": {"value": "fw"}, "status": status, "state": state},
    }


def backends(table: VipTable) -> set[str]:
    [vip] = table.vips().values()
    return {b.addr for b in vip.backends}


def test_running_tasks_without_health_checks_back_their_vip() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001, agent="a2")))
    [vip] = table.vips().values()
    assert vip.hostname == WEB and vip.port == 80
    assert ipaddress.IPv4Address(vip.address) in NAMED_NETWORK
    assert vip.backends == {Backend("127.0.0.1", 31000, "t1"), Backend("127.0.0.2", 31001, "t2")}
    assert vip.apps == ("/web",)


def test_health_checked_tasks_join_when_healthy_and_leave_when_unhealthy() -> None:
    table = VipTable()
    table.apply(subscribed())
    table.apply(
        {
            "type": "TASK_ADDED",
            "task_added": {"task": v1_task("t1", "TASK_STAGING", health_check=True)},
        }
    )
    assert backends(table) == set()  # the VIP exists (name stays put), no backend yet
    table.apply(updated("t1", "TASK_RUNNING"))
    assert backends(table) == set()  # running but not checked yet
    table.apply(updated("t1", "TASK_RUNNING", healthy=True))
    assert backends(table) == {"127.0.0.1:31000"}
    table.apply(updated("t1", "TASK_RUNNING", healthy=False))
    assert backends(table) == set()


def test_a_task_that_reported_health_is_health_checked_even_without_the_field() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1", healthy=True)))
    assert backends(table) == {"127.0.0.1:31000"}
    table.apply(updated("t1", "TASK_RUNNING", healthy=False))
    assert backends(table) == set()


def test_killed_killing_lost_and_unreachable_tasks_leave_at_once() -> None:
    for state in ("TASK_KILLING", "TASK_KILLED", "TASK_LOST", "TASK_UNREACHABLE", "TASK_FAILED"):
        table = VipTable()
        table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001)))
        table.apply(updated("t1", state))
        assert backends(table) == {"127.0.0.1:31001"}, state


def test_the_last_task_gone_removes_the_vip() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1")))
    table.apply(updated("t1", "TASK_KILLED"))
    assert table.vips() == {}


def test_subscribed_is_a_full_reset() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001)))
    table.apply(subscribed(v1_task("t2", port=31001)))
    assert backends(table) == {"127.0.0.1:31001"}


def test_agent_removed_and_added_change_the_backend_ip() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1", agent="a3")))
    assert backends(table) == set()  # unknown agent: no address to send to
    agent = {"agent_info": {"id": {"value": "a3"}}, "pid": "slave(1)@127.0.0.3:5051"}
    table.apply({"type": "AGENT_ADDED", "agent_added": {"agent": agent}})
    assert backends(table) == {"127.0.0.3:31000"}


def test_two_apps_sharing_one_vip_back_it_together_and_ip_vips_keep_their_address() -> None:
    table = VipTable()
    table.apply(
        subscribed(
            v1_task("t1", app="/a"),
            v1_task("t2", port=31001, app="/b"),
            v1_task("t3", port=31002, vip="127.0.0.9:5432", app="/db", balance="leastconn"),
        )
    )
    vips = {v.hostname or v.address: v for v in table.vips().values()}
    assert vips[WEB].apps == ("/a", "/b") and len(vips[WEB].backends) == 2
    assert vips["127.0.0.9"].balance == "leastconn" and vips["127.0.0.9"].ident == "127.0.0.9:5432"
    shapes = vips_json(table.vips())
    assert shapes[0]["vip"] == "127.0.0.9:5432"
    assert shapes[1]["vip"] == f"{WEB}:80" and shapes[1]["protocol"] == "tcp"
    assert {b["port"] for b in shapes[1]["backend"]} == {31000, 31001}


def test_addresses_are_deterministic_distinct_and_salted_by_cluster() -> None:
    names = [f"app{i}.marathon.l4lb.thisdcos.directory" for i in range(2000)]
    one = allocate(names, "s")
    assert allocate(reversed(names), "s") == one
    assert len(set(one.values())) == len(names)
    assert all(ipaddress.IPv4Address(a) in NAMED_NETWORK for a in one.values())
    assert allocate(names, "other") != one
    # a name keeps its address when other names come and go (no collision here)
    assert allocate(names[:10], "s") == {n: one[n] for n in names[:10]}


def test_colliding_names_probe_to_the_next_free_address() -> None:
    from actors.l4lb import _table

    real = _table._home
    try:
        _table._home = lambda salt, fqdn: 7  # type: ignore[assignment]
        got = allocate(["b", "a", "c"])
    finally:
        _table._home = real
    first = int(NAMED_NETWORK.network_address) + 1
    assert got == {n: str(ipaddress.IPv4Address(first + 7 + i)) for i, n in enumerate("abc")}


def test_cluster_salt_ignores_host_order_and_spelling() -> None:
    assert cluster_salt("zk://b:2,localhost:1/pydcos/") == cluster_salt("127.0.0.1:1,b:2/pydcos")
    assert cluster_salt("127.0.0.1:1/a") != cluster_salt("127.0.0.1:1/b")


def test_dns_records_match_the_load_balancer_addresses() -> None:
    tasks = [
        v1_task("t1"),
        v1_task("t2", "TASK_KILLED", vip="/gone:80"),
        v1_task("t3", vip="/db:5432"),
    ]
    table = VipTable(salt="s")
    table.apply(subscribed(*tasks))
    records = vip_dns_records(tasks, {"fw": "marathon"}, salt="s")
    assert records == {v.hostname: v.address for v in table.vips().values()}
    assert set(records) == {WEB, "db.marathon.l4lb.thisdcos.directory"}


def test_a_new_leader_missing_tasks_keeps_them_for_the_carry_period() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001)))
    # the new leader's first state: t2's agent has not re-registered yet
    table.apply(subscribed(v1_task("t1")), carry_until=10.0)
    assert backends(table) == {"127.0.0.1:31000", "127.0.0.1:31001"}
    assert not table.expire(9.0)
    table.apply({"type": "TASK_ADDED", "task_added": {"task": v1_task("t2", port=31001)}})
    table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001)), carry_until=20.0)
    table.apply(subscribed(v1_task("t1")), carry_until=30.0)
    assert table.expire(30.0)
    assert backends(table) == {"127.0.0.1:31000"}


def test_a_recovering_leader_keeps_carried_tasks_on_their_agents_addresses() -> None:
    table = VipTable()
    table.apply(subscribed(v1_task("t1"), v1_task("t2", port=31001, agent="a2")))
    recovering = subscribed()
    state = recovering["subscribed"]["get_state"]
    state["get_agents"] = {"agents": [], "recovered_agents": [{"id": {"value": "a1"}}]}
    table.apply(recovering, carry_until=10.0)
    assert backends(table) == {"127.0.0.1:31000", "127.0.0.2:31001"}
