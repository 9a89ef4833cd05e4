"""The typed task description on the wire: every record round-trips through the one codec,
and the strict decoder refuses what a peer on another machine could get wrong (a misspelt
key, a missing field, a wrong type, an out-of-range value) with an error naming the field.

Pure: no transport, no agent, no clock.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actors import protocol as p
from transport import DecodeError, codec


def _wire(obj: Any) -> tuple[str, Any]:
    return codec.encode_body(obj)


def _decode(mtype: str, body: Any) -> Any:
    return codec.decode_body(mtype, body)


DOCKER = p.DockerInfo(
    "busybox:1.36",
    privileged=True,
    parameters=[p.Parameter("memory-swap", "64m")],
    force_pull_image=True,
)
CONTAINER = p.ContainerInfo(
    type="DOCKER",
    network="BRIDGE",
    docker=DOCKER,
    port_mappings=[p.PortMapping(8080, 31000, "tcp", "http"), p.PortMapping(0, 31001, "udp")],
    volumes=[p.VolumeInfo("/data", "/srv/data", "RO")],
)
HEALTH = p.HealthCheckInfo(
    protocol="COMMAND",
    path="/",
    port_index=None,
    port=None,
    command="test -e ok",
    grace_period_seconds=1.5,
    interval_seconds=0.5,
    timeout_seconds=2.0,
    max_consecutive_failures=0,
    delay_seconds=0.0,
)
DISCOVERY = p.DiscoveryInfo("web", [p.DiscoveryPort(31000, "http"), p.DiscoveryPort(31001)])
COMMAND = p.CommandSpec(
    value="exec httpd",
    env={"A": "1"},
    uris=[p.UriInfo("https://x/app.tgz"), p.UriInfo("/opt/run.sh", executable=True, extract=False)],
    user="nobody",
)

RECORDS: list[Any] = [
    p.Parameter("label", "a=b"),
    p.DockerInfo("busybox"),
    DOCKER,
    p.PortMapping(80, 0),
    p.PortMapping(65535, 65535, "udp", "dns"),
    p.VolumeInfo("/data", "/srv/data"),
    p.ContainerInfo(),
    CONTAINER,
    p.UriInfo("file:///tmp/x"),
    p.HealthCheckInfo(),
    p.HealthCheckInfo(protocol="TCP", port=8080, port_index=None),
    HEALTH,
    p.DiscoveryPort(0),
    p.DiscoveryInfo("empty"),
    DISCOVERY,
    COMMAND,
    p.TaskInfo("t1", "t1", "a1", {"cpus": 0.1}),
    p.TaskInfo(
        "t2",
        "web",
        "a1",
        {"cpus": 0.5, "mem": 64.0},
        COMMAND,
        container=CONTAINER,
        health_checks=[HEALTH, p.HealthCheckInfo()],
        kill_grace_period=1.0,
        labels={"k": "v"},
        discovery=DISCOVERY,
    ),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_task_description_record_round_trips(record: Any) -> None:
    mtype, body = _wire(record)
    assert mtype == f"actors.protocol.{type(record).__name__}"
    back = _decode(mtype, body)
    assert back == record
    assert type(back) is type(record)


def _task_body() -> dict[str, Any]:
    return copy.deepcopy(_wire(RECORDS[-1])[1])


def _set(body: dict[str, Any], path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


def _rename(body: dict[str, Any], path: list[Any], new: str) -> None:
    for key in path[:-1]:
        body = body[key]
    body[new] = body.pop(path[-1])


def _drop(body: dict[str, Any], path: list[Any], _: Any = None) -> None:
    for key in path[:-1]:
        body = body[key]
    del body[path[-1]]


# (how to spoil a TaskInfo body, DecodeError reason, text the message must contain)
BAD: list[tuple[str, Any, list[Any], Any, str, list[str]]] = [
    # misspelt keys (a peer writing Marathon's JSON names): the codec names the field
    # the record expects
    (
        "volume containerPath",
        _rename,
        ["container", "volumes", 0, "container_path"],
        "containerPath",
        "missing_field",
        ["VolumeInfo", "container_path"],
    ),
    (
        "mapping hostPort",
        _rename,
        ["container", "port_mappings", 0, "host_port"],
        "hostPort",
        "missing_field",
        ["PortMapping", "host_port"],
    ),
    (
        "docker forcePullImage",
        _rename,
        ["container", "docker", "force_pull_image"],
        "forcePullImage",
        "missing_field",
        ["DockerInfo", "force_pull_image"],
    ),
    (
        "health portIndex",
        _rename,
        ["health_checks", 1, "port_index"],
        "portIndex",
        "missing_field",
        ["HealthCheckInfo", "port_index"],
    ),
    (
        "uri uri",
        _rename,
        ["command", "uris", 0, "value"],
        "uri",
        "missing_field",
        ["UriInfo", "value"],
    ),
    # an extra key: a field this protocol does not have
    (
        "volume readOnly",
        _set,
        ["container", "volumes", 0, "readOnly"],
        True,
        "extra_field",
        ["VolumeInfo", "readOnly"],
    ),
    (
        "docker network",
        _set,
        ["container", "docker", "network"],
        "BRIDGE",
        "extra_field",
        ["DockerInfo", "network"],
    ),
    # missing required fields
    (
        "no host_path",
        _drop,
        ["container", "volumes", 0, "host_path"],
        None,
        "missing_field",
        ["VolumeInfo", "host_path"],
    ),
    (
        "no image",
        _drop,
        ["container", "docker", "image"],
        None,
        "missing_field",
        ["DockerInfo", "image"],
    ),
    (
        "no discovery name",
        _drop,
        ["discovery", "name"],
        None,
        "missing_field",
        ["DiscoveryInfo", "name"],
    ),
    (
        "no network",
        _drop,
        ["container", "network"],
        None,
        "missing_field",
        ["ContainerInfo", "network"],
    ),
    # wrong types
    (
        "port as text",
        _set,
        ["container", "port_mappings", 0, "container_port"],
        "8080",
        "field_type",
        ["PortMapping.container_port", "'8080'"],
    ),
    (
        "container as list",
        _set,
        ["container"],
        [],
        "field_type",
        ["ContainerInfo"],
    ),
    (
        "privileged as text",
        _set,
        ["container", "docker", "privileged"],
        "yes",
        "field_type",
        ["DockerInfo.privileged"],
    ),
    (
        "interval as text",
        _set,
        ["health_checks", 0, "interval_seconds"],
        "fast",
        "field_type",
        ["HealthCheckInfo.interval_seconds"],
    ),
    (
        "uris as dict",
        _set,
        ["command", "uris"],
        {"value": "x"},
        "field_type",
        ["CommandSpec.uris"],
    ),
    # out-of-range / unknown values
    (
        "host port 70000",
        _set,
        ["container", "port_mappings", 0, "host_port"],
        70000,
        "invalid_value",
        ["PortMapping.host_port", "70000"],
    ),
    (
        "container port -1",
        _set,
        ["container", "port_mappings", 1, "container_port"],
        -1,
        "invalid_value",
        ["PortMapping.container_port", "-1"],
    ),
    (
        "protocol sctp",
        _set,
        ["container", "port_mappings", 0, "protocol"],
        "sctp",
        "invalid_value",
        ["PortMapping.protocol", "sctp"],
    ),
    (
        "protocol tcp,udp",
        _set,
        ["discovery", "ports", 0, "protocol"],
        "tcp,udp",
        "invalid_value",
        ["DiscoveryPort.protocol", "tcp,udp"],
    ),
    (
        "mode RX",
        _set,
        ["container", "volumes", 0, "mode"],
        "RX",
        "invalid_value",
        ["VolumeInfo.mode", "RX"],
    ),
    (
        "type RKT",
        _set,
        ["container", "type"],
        "RKT",
        "invalid_value",
        ["ContainerInfo.type", "RKT"],
    ),
    (
        "network lowercase",
        _set,
        ["container", "network"],
        "bridge",
        "invalid_value",
        ["ContainerInfo.network", "bridge"],
    ),
    (
        "DOCKER without docker",
        _set,
        ["container", "docker"],
        None,
        "invalid_value",
        ["ContainerInfo.docker"],
    ),
    (
        "empty image",
        _set,
        ["container", "docker", "image"],
        "",
        "invalid_value",
        ["DockerInfo.image"],
    ),
    (
        "health protocol UDP",
        _set,
        ["health_checks", 1, "protocol"],
        "UDP",
        "invalid_value",
        ["HealthCheckInfo.protocol", "UDP"],
    ),
    (
        "negative timeout",
        _set,
        ["health_checks", 1, "timeout_seconds"],
        -1.0,
        "invalid_value",
        ["HealthCheckInfo.timeout_seconds", "-1.0"],
    ),
    (
        "negative port index",
        _set,
        ["health_checks", 1, "port_index"],
        -2,
        "invalid_value",
        ["HealthCheckInfo.port_index", "-2"],
    ),
    (
        "COMMAND without command",
        _set,
        ["health_checks", 0, "command"],
        None,
        "invalid_value",
        ["HealthCheckInfo.command"],
    ),
    (
        "discovery port 65536",
        _set,
        ["discovery", "ports", 1, "number"],
        65536,
        "invalid_value",
        ["DiscoveryPort.number", "65536"],
    ),
    (
        "empty uri",
        _set,
        ["command", "uris", 1, "value"],
        "",
        "invalid_value",
        ["UriInfo.value"],
    ),
    (
        "empty parameter key",
        _set,
        ["container", "docker", "parameters", 0, "key"],
        "",
        "invalid_value",
        ["Parameter.key"],
    ),
    (
        "NaN grace period",
        _set,
        ["health_checks", 0, "grace_period_seconds"],
        float("nan"),
        "non_finite",
        ["HealthCheckInfo.grace_period_seconds"],
    ),
]


@pytest.mark.parametrize(
    ("spoil", "path", "value", "reason", "names"),
    [b[1:] for b in BAD],
    ids=[b[0] for b in BAD],
)
def test_a_spoilt_task_description_is_refused_naming_the_field(
    spoil: Any, path: list[Any], value: Any, reason: str, names: list[str]
) -> None:
    body = _task_body()
    spoil(body, path, value)
    with pytest.raises(DecodeError) as err:
        _decode("actors.protocol.TaskInfo", body)
    assert err.value.reason == reason
    for name in names:
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda: p.PortMapping(80, 65536), ["PortMapping.host_port", "65536"]),
        (lambda: p.PortMapping(True, 0), ["PortMapping.container_port", "True"]),  # type: ignore[arg-type]
        (lambda: p.VolumeInfo("/d", "/h", "rw"), ["VolumeInfo.mode", "'rw'"]),
        (lambda: p.ContainerInfo(network="OVERLAY"), ["ContainerInfo.network", "OVERLAY"]),
        (lambda: p.ContainerInfo(type="DOCKER"), ["ContainerInfo.docker"]),
        (lambda: p.HealthCheckInfo(port=0.5), ["HealthCheckInfo.port", "0.5"]),  # type: ignore[arg-type]
        (
            lambda: p.HealthCheckInfo(max_consecutive_failures=-1),
            ["HealthCheckInfo.max_consecutive_failures", "-1"],
        ),
        (lambda: p.DiscoveryPort(53, "dns", "UDP"), ["DiscoveryPort.protocol", "UDP"]),
    ],
)
def test_a_framework_building_a_bad_record_fails_where_it_builds_it(
    make: Any, names: list[str]
) -> None:
    with pytest.raises(p.TaskDescriptionError) as err:
        make()
    for name in names:
        assert name in str(err.value)


def test_the_error_is_a_value_error() -> None:
    """Callers that validate input with ``except ValueError`` catch it too."""
    assert issubclass(p.TaskDescriptionError, ValueError)
