"""One task builder: the rules Marathon and Metronome share when they describe a task."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.framework import build_task_info, command_spec, container_info, discovery_info
from actors.resources import Resources

COMMAND_ROWS: list[tuple[str, dict[str, Any], p.CommandSpec]] = [
    # (case, command_spec keywords, the CommandSpec)
    ("cmd runs through the shell", {"cmd": "echo hi"}, p.CommandSpec(value="echo hi")),
    (
        "args is an argv",
        {"args": ["sleep", "1"]},
        p.CommandSpec(value=None, args=["sleep", "1"], shell=False),
    ),
    ("neither: the image's entrypoint", {}, p.CommandSpec(value=None, shell=False)),
    (
        "the framework's variables win over the user's",
        {"cmd": "x", "env": {"A": "user", "B": "b"}, "framework_env": {"A": "framework"}},
        p.CommandSpec(value="x", env={"A": "framework", "B": "b"}),
    ),
    (
        "uris and user pass through",
        {"cmd": "x", "uris": [p.UriInfo("http://h/f.tgz")], "user": "nobody"},
        p.CommandSpec(value="x", uris=[p.UriInfo("http://h/f.tgz")], user="nobody"),
    ),
]


@pytest.mark.parametrize(("case", "kwargs", "want"), COMMAND_ROWS, ids=[r[0] for r in COMMAND_ROWS])
def test_command_spec(case: str, kwargs: dict[str, Any], want: p.CommandSpec) -> None:
    assert command_spec(**kwargs) == want


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"cmd": "x", "args": ["y"]}, "cmd and args are mutually exclusive"),
        ({"env": {"A": 1}}, "env: 'A'=1 must map text to text"),
        ({"framework_env": {"": "x"}}, "framework_env: ''='x'"),
    ],
)
def test_command_spec_refuses_bad_input_by_name(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        command_spec(**kwargs)


DOCKER = p.DockerInfo("busybox:1.36")


def test_a_mapping_is_published_on_the_chosen_host_port_in_order() -> None:
    got = container_info(
        "DOCKER",
        docker=DOCKER,
        port_mappings=[p.PortMapping(80, 0, name="http"), p.PortMapping(0, 0, "udp")],
        host_ports=[31005, 31002],
    )
    assert got == p.ContainerInfo(
        type="DOCKER",
        network="BRIDGE",
        docker=DOCKER,
        port_mappings=[
            p.PortMapping(80, 31005, name="http"),
            p.PortMapping(31002, 31002, "udp"),  # container port 0: the host port
        ],
    )


@pytest.mark.parametrize(
    ("kwargs", "network"),
    [
        ({"docker": DOCKER}, "HOST"),
        ({"docker": DOCKER, "network": "NONE"}, "NONE"),
        ({"port_mappings": [p.PortMapping(80, 0)], "host_ports": [31000]}, "HOST"),
    ],
    ids=["docker without mappings", "as asked", "native with mappings"],
)
def test_network_defaults(kwargs: dict[str, Any], network: str) -> None:
    kind = "DOCKER" if "docker" in kwargs else "MESOS"
    assert container_info(kind, **kwargs).network == network


def test_a_mapping_without_a_host_port_is_refused() -> None:
    with pytest.raises(ValueError, match="host_ports: 2 port mapping"):
        container_info(port_mappings=[p.PortMapping(1, 0), p.PortMapping(2, 0)], host_ports=[1])


def test_discovery_keeps_the_task_port_order_and_names() -> None:
    got = discovery_info("web", [31001, 31000], ["http", None], ["tcp,udp"])
    assert got == p.DiscoveryInfo(
        "web", [p.DiscoveryPort(31001, "http", "tcp"), p.DiscoveryPort(31000, None, "tcp")]
    )


def test_build_task_info_assembles_a_typed_task() -> None:
    resources = Resources.from_dict({"cpus": 0.5, "mem": 64, "ports": [[31000, 31000]]})
    task = build_task_info(
        "t1",
        "web",
        "agent-1",
        resources,
        command_spec(cmd="serve"),
        container=container_info(volumes=[p.VolumeInfo("/data", "/srv/data", "RO")]),
        discovery=discovery_info("web", [31000]),
        labels={"tier": 1},
    )
    assert task == p.TaskInfo(
        task_id="t1",
        name="web",
        agent_id="agent-1",
        resources=resources.to_dict(),
        command=p.CommandSpec(value="serve"),
        container=p.ContainerInfo(volumes=[p.VolumeInfo("/data", "/srv/data", "RO")]),
        discovery=p.DiscoveryInfo("web", [p.DiscoveryPort(31000)]),
        kill_grace_period=3.0,
        labels={"tier": "1"},
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"task_id": ""}, "task_id: '' must be a non-empty string"),
        ({"agent_id": None}, "agent_id: None"),
        ({"kill_grace_period": -1}, "kill_grace_period: -1 must be >= 0"),
    ],
)
def test_build_task_info_refuses_bad_input_by_name(kwargs: dict[str, Any], fragment: str) -> None:
    args: dict[str, Any] = {
        "task_id": "t",
        "name": "n",
        "agent_id": "a",
        "resources": Resources.from_scalars({"cpus": 1}),
        "command": command_spec(cmd="x"),
        **kwargs,
    }
    with pytest.raises(ValueError, match=fragment):
        build_task_info(**args)
