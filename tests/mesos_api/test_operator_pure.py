"""Operator API, pure parts: call parsing (as Mesos' api()), the master's answers and
runtime weights/quota (validated whole, persisted before applied, recovered by the next
leader), the v1 JSON builders, and the agent state document."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import protocol as p
from actors.master import (
    MasterConfig,
    MasterCore,
    MemoryRegistryStore,
    Persist,
    Quota,
    Unpersist,
    uuid_from_v1,
    v1_get_master,
    v1_resources,
    v1_task_status,
    v1_uuid,
)
from actors.mesos_api._agents import agent_state_json
from actors.mesos_api._operator import CallRejected, Stream, parse_call
from actors.resources import Resources

AGENT = "tcp://127.0.0.1:7001/agent"
FW = "tcp://127.0.0.1:7100/sched"


# -- parsing ----------------------------------------------------------------------------


def test_a_json_call_is_parsed() -> None:
    call = parse_call("application/json; charset=utf-8", None, b'{"type": "GET_STATE"}')
    assert call.type == "GET_STATE" and not call.recordio


def test_subscribe_with_recordio_accept() -> None:
    body = b'{"type": "SUBSCRIBE"}'
    assert parse_call("application/json", "application/recordio", body).recordio
    assert not parse_call("application/json", "application/json", body).recordio


@pytest.mark.parametrize(
    ("content_type", "accept", "body", "status", "names"),
    [
        (None, None, b"{}", 400, "Content-Type"),
        ("application/x-protobuf", None, b"\x08\x01", 415, "application/json"),
        ("text/plain", None, b"{}", 415, "text/plain"),
        ("application/json", None, b"{nope", 400, "not JSON"),
        ("application/json", None, b"[1]", 400, "JSON object"),
        ("application/json", None, b'{"type": 3}', 400, "type: 3"),
        ("application/json", None, b'{"type": "GET_NOTHING"}', 400, "'GET_NOTHING'"),
        ("application/json", None, b'{"type": "GET_METRICS"}', 501, "GET_METRICS"),
        ("application/json", None, b'{"type": "UPDATE_WEIGHTS"}', 400, "update_weights"),
        ("application/json", None, b'{"type": "TEARDOWN"}', 400, "teardown.framework_id"),
        ("application/json", "application/x-protobuf", b'{"type": "GET_STATE"}', 406, "Accept"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    content_type: str | None, accept: str | None, body: bytes, status: int, names: str
) -> None:
    with pytest.raises(CallRejected) as err:
        parse_call(content_type, accept, body)
    assert err.value.status == status
    assert names in err.value.message


# -- the master's answers ---------------------------------------------------------------


def core_with_agent(store: MemoryRegistryStore | None = None, **config: Any) -> MasterCore:
    docs = store or MemoryRegistryStore()
    core = MasterCore(
        "m1",
        MasterConfig(**config),
        now=0.0,
        recovered_weights=docs.load("weights"),
        recovered_quotas=docs.load("quotas"),
    )
    res = Resources.parse("cpus:4;mem:4096").to_dict()
    core.handle(p.RegisterAgent("h1", AGENT, res), 0.0)
    return core


def apply(store: MemoryRegistryStore, effects: list[Any]) -> None:
    for e in effects:
        if isinstance(e, Persist):
            store.save(e.kind, e.key, e.value)
        elif isinstance(e, Unpersist):
            store.delete(e.kind, e.key)


def test_reads_answer_v1_responses() -> None:
    core = core_with_agent(weights={"ops": 2.0})
    core.handle(p.Subscribe(p.FrameworkInfo("svc", ["ops"]), FW), 0.0)
    state, _ = core.operator(p.OperatorCall("GET_STATE"), 0.0)
    assert state["type"] == "GET_STATE"
    assert len(state["get_state"]["get_agents"]["agents"]) == 1
    roles, _ = core.operator(p.OperatorCall("GET_ROLES"), 0.0)
    (ops,) = [r for r in roles["get_roles"]["roles"] if r["name"] == "ops"]
    assert ops["weight"] == 2.0 and len(ops["frameworks"]) == 1
    weights, _ = core.operator(p.OperatorCall("GET_WEIGHTS"), 0.0)
    assert weights == {
        "type": "GET_WEIGHTS",
        "get_weights": {"weight_infos": [{"weight": 2.0, "role": "ops"}]},
    }


def test_weights_are_persisted_applied_and_recovered_by_the_next_leader() -> None:
    store = MemoryRegistryStore()
    core = core_with_agent(store)
    body = {"weight_infos": [{"role": "ops", "weight": 3.0}, {"role": "dev", "weight": 0.5}]}
    answer, effects = core.operator(p.OperatorCall("UPDATE_WEIGHTS", body), 0.0)
    assert answer == {}
    assert [(e.kind, e.key) for e in effects if isinstance(e, Persist)] == [
        ("weights", "ops"),
        ("weights", "dev"),
    ]
    assert core.weights == {"ops": 3.0, "dev": 0.5}
    apply(store, effects)
    successor = core_with_agent(store)
    assert successor.weights == {"ops": 3.0, "dev": 0.5}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"weight_infos": []}, "weight_infos"),
        ({"weight_infos": [{"role": "ops", "weight": 0}]}, "weight_infos[0].weight: 0"),
        ({"weight_infos": [{"role": "ops", "weight": "2"}]}, "weight_infos[0].weight"),
        ({"weight_infos": [{"role": "a b", "weight": 1}]}, "weight_infos[0].role"),
        (
            {"weight_infos": [{"role": "ok", "weight": 1}, {"role": "", "weight": 1}]},
            "weight_infos[1].role",
        ),
    ],
)
def test_a_bad_weight_refuses_the_whole_call(body: dict[str, Any], names: str) -> None:
    core = core_with_agent(weights={"ok": 2.0})
    answer, effects = core.operator(p.OperatorCall("UPDATE_WEIGHTS", body), 0.0)
    assert names in answer["error"]
    assert effects == [] and core.weights == {"ok": 2.0}


def test_quota_update_checks_capacity_unless_forced_and_empty_removes() -> None:
    store = MemoryRegistryStore()
    core = core_with_agent(store)
    big = {"quota_configs": [{"role": "ops", "guarantees": {"cpus": {"value": 10}}}]}
    answer, effects = core.operator(p.OperatorCall("UPDATE_QUOTA", big), 0.0)
    assert "exceed the cluster's 4" in answer["error"] and effects == []
    answer, effects = core.operator(p.OperatorCall("UPDATE_QUOTA", {**big, "force": True}), 0.0)
    assert answer == {} and core.quotas == {"ops": Quota(guarantee={"cpus": 10.0})}
    apply(store, effects)
    assert core_with_agent(store).quotas == {"ops": Quota(guarantee={"cpus": 10.0})}
    quota, _ = core.operator(p.OperatorCall("GET_QUOTA"), 0.0)
    assert quota["get_quota"]["status"]["configs"] == [
        {"role": "ops", "guarantees": {"cpus": {"value": 10.0}}, "limits": {}}
    ]
    clear = {"quota_configs": [{"role": "ops", "guarantees": {}, "limits": {}}]}
    answer, effects = core.operator(p.OperatorCall("UPDATE_QUOTA", clear), 0.0)
    assert answer == {} and core.quotas == {}
    assert [type(e) for e in effects] == [Unpersist]


def test_quota_guarantee_above_limit_is_refused() -> None:
    core = core_with_agent()
    body = {
        "quota_configs": [
            {"role": "ops", "guarantees": {"cpus": {"value": 2}}, "limits": {"cpus": {"value": 1}}}
        ]
    }
    answer, _ = core.operator(p.OperatorCall("UPDATE_QUOTA", body), 0.0)
    assert "quota_configs[0]" in answer["error"] and "exceeds limit" in answer["error"]


def test_new_weights_reach_the_next_allocation() -> None:
    core = core_with_agent()
    core.operator(
        p.OperatorCall("UPDATE_WEIGHTS", {"weight_infos": [{"role": "ops", "weight": 4.0}]}),
        0.0,
    )
    core.handle(p.Subscribe(p.FrameworkInfo("svc", ["ops"]), FW), 0.0)
    core.tick(1.0)
    assert core.last_snapshot is not None and core.last_snapshot.weights == {"ops": 4.0}


def test_corrupt_registry_settings_are_skipped_and_noted() -> None:
    core = MasterCore(
        "m1",
        MasterConfig(),
        now=0.0,
        recovered_weights=[{"role": "ops", "weight": -1}, {"role": "ok", "weight": 2}],
        recovered_quotas=[{"nope": 1}],
    )
    assert core.weights == {"ok": 2.0} and core.quotas == {}
    assert len(core.errors) == 2


# -- v1 builders ------------------------------------------------------------------------


def test_v1_resources_scalars_ranges_sets_and_reservations() -> None:
    res = Resources.parse("cpus:2;mem(ops):64;ports:[31000-31002,31005-31005];gpus_types:{a,b}")
    out = v1_resources(res, allocated_to="ops")
    cpus = next(r for r in out if r["name"] == "cpus")
    assert cpus == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 2.0},
        "role": "*",
        "allocation_info": {"role": "ops"},
    }
    mem = next(r for r in out if r["name"] == "mem")
    assert mem["role"] == "ops" and mem["reservations"] == [{"type": "STATIC", "role": "ops"}]
    ports = next(r for r in out if r["name"] == "ports")
    assert ports["ranges"]["range"] == [
        {"begin": 31000, "end": 31002},
        {"begin": 31005, "end": 31005},
    ]
    sets = next(r for r in out if r["name"] == "gpus_types")
    assert sets["type"] == "SET" and sets["set"] == {"item": ["a", "b"]}


def test_status_uuid_round_trips_through_base64() -> None:
    hexid = "0123456789abcdef0123456789abcdef"
    assert uuid_from_v1(v1_uuid(hexid)) == hexid
    assert uuid_from_v1(v1_uuid("not-hex")) == "not-hex"
    with pytest.raises(ValueError, match="uuid"):
        uuid_from_v1("***")


def test_v1_task_status_fields() -> None:
    u = p.StatusUpdate(
        "f1",
        "t1",
        "a1",
        "TASK_FAILED",
        "00" * 16,
        12.5,
        "REASON_COMMAND_EXECUTOR_FAILED",
        "exit 1",
        True,
        "SOURCE_EXECUTOR",
    )
    out = v1_task_status(u, "10.0.0.7")
    assert out["task_id"] == {"value": "t1"} and out["agent_id"] == {"value": "a1"}
    assert out["reason"] == "REASON_COMMAND_EXECUTOR_FAILED" and out["message"] == "exit 1"
    assert out["healthy"] is True and out["timestamp"] == 12.5
    assert out["source"] == "SOURCE_EXECUTOR"
    ips = out["container_status"]["network_infos"][0]["ip_addresses"]
    assert ips == [{"ip_address": "10.0.0.7"}]


def test_get_master_ip_is_mesos_uint32() -> None:
    core = core_with_agent()
    info = {
        "id": "m1",
        "pid": "master@127.0.0.1:5050",
        "port": 5050,
        "hostname": "m",
        "address": {"hostname": "m", "ip": "127.0.0.1", "port": 5050},
    }
    out = v1_get_master(core, info, 1.0)
    assert out["master_info"]["ip"] == 16777343  # 127.0.0.1 as in_addr.s_addr on x86
    assert out["master_info"]["address"]["port"] == 5050 and "elected_time" in out


# -- the relay's stream buffer ----------------------------------------------------------


def test_a_stream_that_is_not_read_is_cut_at_its_bound() -> None:
    async def scenario() -> tuple[bool, bool, list[bytes]]:
        s = Stream(asyncio.get_running_loop(), max_bytes=10)
        aborted: list[bool] = []
        s.abort = lambda: aborted.append(True)
        s.put(b"12345")
        s.put(b"6789")
        first = await s.next()
        s.put(b"abcdefgh")  # 4 + 8 > 10: the client is too slow
        return s.overflowed, bool(aborted), [first or b"", (await s.next()) or b""]

    overflowed, aborted, got = asyncio.run(scenario())
    assert overflowed and aborted and got == [b"12345", b""]


def test_one_record_bigger_than_the_bound_still_goes_out() -> None:
    async def scenario() -> tuple[bool, bytes | None]:
        s = Stream(asyncio.get_running_loop(), max_bytes=10)
        s.put(b"x" * 50)  # a big cluster's SUBSCRIBED
        return s.overflowed, await s.next()

    assert asyncio.run(scenario()) == (False, b"x" * 50)


# -- agent state ------------------------------------------------------------------------


def test_agent_state_groups_tasks_by_framework_with_sandbox_directories() -> None:
    agent = {
        "agent_id": "a1",
        "hostname": "agent-1",
        "address": "tcp://127.0.0.1:7001/agent",
        "master": "tcp://127.0.0.1:5051/master",
        "resources": Resources.parse("cpus:4;mem:1024;ports:[31000-31009]").to_dict(),
        "attributes": {"zone": "a"},
        "work_dir": "/var/pydcos/agent",
        "task_details": [
            {
                "task_id": "web.1",
                "framework_id": "f1",
                "name": "web",
                "state": "TASK_RUNNING",
                "healthy": True,
                "resources": {"cpus": 0.5},
                "labels": {},
                "container_type": None,
            },
            {
                "task_id": "job.1",
                "framework_id": "f1",
                "name": "job",
                "state": "TASK_FINISHED",
                "healthy": None,
                "resources": {"cpus": 0.1},
                "labels": {"k": "v"},
                "container_type": "DOCKER",
            },
        ],
    }
    frameworks = [{"id": "f1", "name": "marathon", "user": "root", "roles": ["slave_public"]}]
    doc = agent_state_json("a1", agent, frameworks, wall=100.0)
    assert doc["id"] == "a1" and doc["pid"] == "slave(1)@127.0.0.1:7001"
    assert doc["hostname"] == "agent-1" and doc["master_hostname"] == "127.0.0.1"
    assert doc["resources"]["ports"] == "[31000-31009]"
    (fw,) = doc["frameworks"]
    assert fw["name"] == "marathon" and fw["role"] == "slave_public"
    (running,) = fw["executors"]
    assert running["directory"] == "/var/pydcos/agent/sandboxes/web.1"
    assert running["tasks"][0]["statuses"][0]["healthy"] is True
    (done,) = fw["completed_executors"]
    assert done["completed_tasks"][0]["container"] == {"type": "DOCKER"}
