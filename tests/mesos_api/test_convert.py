"""Mesos v1 JSON <-> pydcos records (actors/mesos_api/_convert.py), pure."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import protocol as p
from actors.mesos_api import BadCall
from actors.mesos_api._convert import (
    framework_info_from_v1,
    master_info,
    offer_role,
    plain_v1_resources,
    resources_from_v1,
    task_from_v1,
    uuid_from_call,
    v1_offer,
    v1_resources,
    v1_status,
)
from actors.resources import Resources


def scalar(name: str, value: float, role: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    if role is not None:
        r["role"] = role
    return r


def base_task(**extra: Any) -> dict[str, Any]:
    return {
        "name": "web",
        "task_id": {"value": "t1"},
        "agent_id": {"value": "A1"},
        "resources": [scalar("cpus", 0.5), scalar("mem", 64)],
        "command": {"value": "echo hi"},
        **extra,
    }


# ---------------------------------------------------------------------- resources


def test_resources_with_ranges_roles_and_sets_round_trip() -> None:
    res = Resources.parse("cpus:2;mem:512;cpus(web):1;ports:[31000-31005,31010-31010];gpus:1")
    entries = v1_resources(res)
    ports = next(e for e in entries if e["name"] == "ports")
    assert ports == {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": 31000, "end": 31005}, {"begin": 31010, "end": 31010}]},
        "role": "*",
    }
    web = next(e for e in entries if e["role"] == "web")
    assert web["reservations"] == [{"type": "STATIC", "role": "web"}]
    assert resources_from_v1(entries, "r") == res


@given(
    st.dictionaries(
        st.sampled_from(["cpus", "mem", "disk"]),
        st.integers(1, 10_000).map(lambda m: m / 1000),
        min_size=1,
    ),
    st.lists(st.tuples(st.integers(1, 60000), st.integers(0, 50)), max_size=4),
)
def test_any_scalars_and_port_ranges_round_trip(
    scalars: dict[str, float], spans: list[tuple[int, int]]
) -> None:
    text = ";".join(f"{k}:{v}" for k, v in scalars.items())
    if spans:
        text += ";ports:[" + ",".join(f"{b}-{min(b + n, 65535)}" for b, n in spans) + "]"
    try:
        res = Resources.parse(text)
    except ValueError:
        return  # overlapping spans: not a valid agent resource to begin with
    assert resources_from_v1(v1_resources(res), "r") == res
    assert plain_v1_resources(res.to_dict(), "*") == v1_resources(res, allocated_to="*")


def test_offers_print_what_the_masters_builder_prints_for_every_kind_and_role() -> None:
    res = Resources.parse("cpus:2;cpus(b):1;mem(a):3;ports:[1-5];ports(a):[7-9];zones:{x,y}")
    assert plain_v1_resources(res.to_dict()) == v1_resources(res)
    assert plain_v1_resources(res.to_dict(), "a") == v1_resources(res, allocated_to="a")


def test_entries_of_one_name_add_up_and_reservations_win_over_role() -> None:
    entries = [
        scalar("cpus", 1),
        scalar("cpus", 0.5),
        {**scalar("mem", 10), "role": "old", "reservations": [{"type": "STATIC", "role": "new"}]},
    ]
    assert resources_from_v1(entries, "r") == Resources.parse("cpus:1.5;mem(new):10")


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([scalar("cpus", -1)], r"r\[0\].scalar.value: -1 must be >= 0"),
        ([{"name": "cpus", "type": "SCALAR"}], r"r\[0\].scalar: None is not a JSON object"),
        ([{"name": "cpus", "type": "BLOB"}], r"r\[0\].type: 'BLOB'"),
        ([{"type": "SCALAR", "scalar": {"value": 1}}], r"r\[0\].name"),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 9, "end": 3}]}}],
            r"r\[0\].ranges.range\[0\]: end 3 is below begin 9",
        ),
        ([scalar("ports", 3)], "ports must be ranges"),
        ("cpus:1", r"r: 'cpus:1' is not a JSON array"),
    ],
)
def test_bad_resources_name_the_field(entries: Any, field: str) -> None:
    with pytest.raises(BadCall, match=field):
        resources_from_v1(entries, "r")


# ---------------------------------------------------------------------- offers


def test_an_offer_is_mesos_offer_json() -> None:
    offer = p.Offer(
        offer_id="M-O1",
        framework_id="M-0001",
        agent_id="M-S1",
        hostname="agent-1",
        resources=Resources.parse("cpus:4;mem:1024;ports:[31000-31099]").to_dict(),
        attributes={"zone": "a", "rack": 3.0},
        ip="127.0.0.1",
        port=5051,
    )
    doc = v1_offer(offer, "*")
    assert doc["id"] == {"value": "M-O1"}
    assert doc["framework_id"] == {"value": "M-0001"}
    assert doc["agent_id"] == {"value": "M-S1"}
    assert doc["hostname"] == "agent-1"
    assert doc["url"] == {
        "scheme": "http",
        "address": {"hostname": "agent-1", "ip": "127.0.0.1", "port": 5051},
        "path": "/slave(1)",
    }
    cpus = next(r for r in doc["resources"] if r["name"] == "cpus")
    assert cpus == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 4.0},
        "role": "*",
        "allocation_info": {"role": "*"},
    }
    assert {"name": "zone", "type": "TEXT", "text": {"value": "a"}} in doc["attributes"]
    assert {"name": "rack", "type": "SCALAR", "scalar": {"value": 3.0}} in doc["attributes"]


def test_an_offer_of_reserved_resources_is_allocated_to_that_role() -> None:
    offer = p.Offer("o", "f", "a", "h", Resources.parse("cpus(web):1").to_dict())
    assert offer_role(offer, ["*", "web"]) == "web"
    assert offer_role(p.Offer("o", "f", "a", "h", {"cpus": 1.0}), ["dev"]) == "dev"


# ---------------------------------------------------------------------- statuses


def test_a_status_update_is_a_task_status_whose_uuid_comes_back_in_acknowledge() -> None:
    u = p.StatusUpdate(
        framework_id="F",
        task_id="t1",
        agent_id="A1",
        state="TASK_RUNNING",
        uuid="0123456789abcdef0123456789abcdef",
        timestamp=1700000000.5,
        reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
        message="healthy",
        healthy=True,
        source="SOURCE_EXECUTOR",
    )
    s = v1_status(u)
    assert s["task_id"] == {"value": "t1"} and s["agent_id"] == {"value": "A1"}
    assert (s["state"], s["source"], s["reason"], s["healthy"]) == (
        "TASK_RUNNING",
        "SOURCE_EXECUTOR",
        "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
        True,
    )
    assert s["timestamp"] == 1700000000.5
    assert uuid_from_call(s["uuid"], "acknowledge.uuid") == u.uuid


def test_a_master_made_update_has_no_uuid_to_acknowledge() -> None:
    u = p.StatusUpdate("F", "t1", "", "TASK_UNKNOWN", "", 1.0, source="SOURCE_MASTER")
    assert "uuid" not in v1_status(u) and "agent_id" not in v1_status(u)


def test_an_acknowledge_with_a_uuid_that_is_not_base64_is_refused() -> None:
    with pytest.raises(BadCall, match=r"acknowledge\.uuid"):
        uuid_from_call("not base64!", "acknowledge.uuid")


def test_master_info_packs_the_ip_as_mesos_does() -> None:
    info = master_info("m1", "master-1", "127.0.0.1", 5050, "1.11.0")
    assert info["ip"] == 16777343  # 127.0.0.1 in network order, as Mesos' MasterInfo.ip
    assert info["address"] == {"hostname": "master-1", "ip": "127.0.0.1", "port": 5050}
    assert info["pid"] == "master@127.0.0.1:5050"


# ---------------------------------------------------------------------- frameworks


def test_framework_info_takes_roles_or_the_old_role_and_the_id() -> None:
    info = framework_info_from_v1(
        {
            "name": "spark",
            "user": "",
            "roles": ["dev", "prod"],
            "failover_timeout": 100,
            "id": {"value": "F1"},
            "capabilities": [{"type": "MULTI_ROLE"}],
        }
    )
    assert (info.name, info.roles, info.failover_timeout, info.framework_id, info.user) == (
        "spark",
        ["dev", "prod"],
        100.0,
        "F1",
        "root",
    )
    assert framework_info_from_v1({"name": "old", "role": "web"}).roles == ["web"]
    assert framework_info_from_v1({"name": "plain"}).roles == ["*"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"user": "x"}, "framework_info.name"),
        ({"name": "a", "roles": []}, "framework_info.roles: must name"),
        ({"name": "a", "failover_timeout": -1}, "failover_timeout"),
        ({"name": "a", "id": {"value": ""}}, r"framework_info.id.value"),
    ],
)
def test_bad_framework_info_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(BadCall, match=field):
        framework_info_from_v1(doc, "subscribe.framework_info")


# ---------------------------------------------------------------------- tasks


def test_a_command_task_converts_field_by_field() -> None:
    lt = task_from_v1(
        base_task(
            command={
                "value": "./serve --port $PORT0",
                "environment": {"variables": [{"name": "MODE", "value": "prod"}]},
                "uris": [{"value": "http://x/app.tgz", "extract": True, "executable": False}],
                "user": "nobody",
            },
            labels={"labels": [{"key": "team", "value": "core"}]},
            kill_policy={"grace_period": {"nanoseconds": 7_500_000_000}},
            health_check={
                "type": "HTTP",
                "http": {"port": 8080, "path": "/health"},
                "consecutive_failures": 2,
                "interval_seconds": 5,
            },
            discovery={
                "visibility": "FRAMEWORK",
                "name": "web",
                "ports": {
                    "ports": [
                        {
                            "number": 31000,
                            "name": "http",
                            "protocol": "tcp",
                            "labels": {"labels": [{"key": "VIP_0", "value": "/web:80"}]},
                        }
                    ]
                },
            },
        ),
        "t",
    )
    t = lt.task
    assert (t.task_id, t.name, t.agent_id, lt.executor_id) == ("t1", "web", "A1", "t1")
    assert Resources.from_dict(t.resources) == Resources.parse("cpus:0.5;mem:64")
    assert t.command == p.CommandSpec(
        value="./serve --port $PORT0",
        shell=True,
        env={"MODE": "prod"},
        uris=[p.UriInfo("http://x/app.tgz", executable=False, extract=True)],
        user="nobody",
    )
    assert t.labels == {"team": "core"}
    assert t.kill_grace_period == 7.5
    (check,) = t.health_checks
    assert (check.protocol, check.port, check.path, check.max_consecutive_failures) == (
        "HTTP",
        8080,
        "/health",
        2,
    )
    assert t.discovery is not None and t.discovery.ports[0].labels == {"VIP_0": "/web:80"}


def test_shell_false_runs_value_with_arguments_as_argv() -> None:
    cmd = {"shell": False, "value": "/bin/echo", "arguments": ["echo", "a b", "c"]}
    t = task_from_v1(base_task(command=cmd), "t").task
    assert t.command is not None and (t.command.shell, t.command.args) == (
        False,
        ["/bin/echo", "a b", "c"],
    )


def test_a_docker_task_keeps_image_network_mappings_and_volumes() -> None:
    container = {
        "type": "DOCKER",
        "docker": {
            "image": "nginx:1.25",
            "network": "BRIDGE",
            "port_mappings": [{"host_port": 31000, "container_port": 80, "protocol": "tcp"}],
            "parameters": [{"key": "memory-swap", "value": "-1"}],
        },
        "volumes": [{"container_path": "/data", "host_path": "/tmp/d", "mode": "RO"}],
    }
    t = task_from_v1(base_task(container=container, command=None), "t").task
    c = t.container
    assert c is not None and c.docker is not None
    assert (c.type, c.network, c.docker.image) == ("DOCKER", "BRIDGE", "nginx:1.25")
    assert c.port_mappings == [p.PortMapping(80, 31000, "tcp")]
    assert c.docker.parameters == [p.Parameter("memory-swap", "-1")]
    assert c.volumes == [p.VolumeInfo("/data", "/tmp/d", "RO")]
    assert t.command is None  # the image's entrypoint runs


def test_a_custom_executor_runs_its_command_with_its_resources_counted() -> None:
    doc = base_task(
        command=None,
        executor={
            "executor_id": {"value": "exec-1"},
            "command": {"value": "./my-executor"},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        },
    )
    lt = task_from_v1(doc, "t")
    assert lt.executor_id == "exec-1"
    assert lt.task.command is not None and lt.task.command.value == "./my-executor"
    assert lt.resources == Resources.parse("cpus:0.6;mem:96")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task_id": None}, r"t.task_id: None is not a JSON object"),
        ({"task_id": {"value": ""}}, r"t.task_id.value"),
        ({"agent_id": None}, r"t.agent_id"),
        ({"resources": [scalar("cpus", -0.5)]}, r"t.resources\[0\].scalar.value: -0.5"),
        ({"resources": []}, r"t.resources: must not be empty"),
        ({"container": {"type": "RKT"}}, r"t.container.type: 'RKT' is not one of MESOS, DOCKER"),
        ({"container": {"type": "DOCKER"}}, r"t.container.docker: None is not a JSON object"),
        (
            {"container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER"}}}},
            r"t.container.mesos.image",
        ),
        ({"command": None}, r"t: needs a command"),
        ({"command": {"shell": True}}, r"t.command.value: required"),
        (
            {"executor": {"executor_id": {"value": "e"}, "command": {"value": "x"}}},
            r"command or executor, not both",
        ),
        ({"health_check": {"type": "GRPC"}}, r"t.health_check.type"),
        ({"health_check": {"type": "TCP", "tcp": {"port": 70000}}}, r"t.health_check.tcp.port"),
        ({"kill_policy": {"grace_period": {"nanoseconds": -1}}}, r"kill_policy.grace_period"),
        ({"labels": {"labels": [{"value": "x"}]}}, r"t.labels.labels\[0\].key"),
        (
            {"discovery": {"ports": {"ports": [{"number": 1, "protocol": "sctp"}]}}},
            r"t.discovery.ports.ports\[0\].protocol",
        ),
    ],
)
def test_a_malformed_task_info_names_the_field(change: dict[str, Any], field: str) -> None:
    doc = base_task(**change)
    with pytest.raises(BadCall, match=field):
        task_from_v1(doc, "t")


def test_the_conversion_modules_load_no_io_library() -> None:
    code = (
        "import sys, actors.mesos_api._convert, actors.mesos_api._recordio\n"
        "print(','.join(m for m in ('zmq', 'kazoo', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_task_limits_convert_to_task_info_limits() -> None:
    """Mesos 1.9+ ``TaskInfo.limits``: ``map<string, Value.Scalar>``; an infinite scalar
    (protobuf JSON ``"Infinity"``) is unlimited."""
    limits = {"cpus": {"value": "Infinity"}, "mem": {"value": 128}}
    t = task_from_v1(base_task(limits=limits), "t").task
    assert t.limits == {"cpus": float("inf"), "mem": 128.0}
    assert task_from_v1(base_task(), "t").task.limits == {}


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"disk": {"value": 10}}, r"t\.limits\.disk: only cpus and mem take limits"),
        ({"cpus": {"value": 0.25}}, r"t\.limits\.cpus\.value: 0\.25 is below the task's cpus 0\.5"),
        ({"mem": {"value": "lots"}}, r"t\.limits\.mem\.value: 'lots' is not a finite number"),
        ({"mem": 64}, r"t\.limits\.mem: 64 is not a JSON object"),
        ([], r"t\.limits: \[\] is not a JSON object"),
    ],
)
def test_bad_task_limits_are_refused_naming_the_field(limits: Any, message: str) -> None:
    with pytest.raises(BadCall, match=message):
        task_from_v1(base_task(limits=limits), "t")
