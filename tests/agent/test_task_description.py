"""The agent's reading of the typed task description, and the one place it builds a
task's environment. Pure: no containerizer, no process, no clock."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import Sandbox, SpecError, StoredTask, TaskSpec, TaskStore, task_spec
from actors.agent._sandbox import task_variables
from actors.agent._task_store import upgrade_v1_task
from actors.resources import Resources
from transport import codec

PORTS = "cpus:0.1;mem:32;ports:[31000-31002]"


def info(
    resources: str = PORTS,
    *,
    env: dict[str, str] | None = None,
    container: p.ContainerInfo | None = None,
    discovery: p.DiscoveryInfo | None = None,
    labels: dict[str, str] | None = None,
) -> p.TaskInfo:
    return p.TaskInfo(
        "web.1",
        "web",
        "a1",
        Resources.parse(resources).to_dict(),
        p.CommandSpec("true", env=env or {}),
        container=container,
        labels=labels or {},
        discovery=discovery,
    )


def env_of(task: p.TaskInfo, tmp_path: Path, host: str = "h1") -> dict[str, str]:
    return Sandbox(tmp_path, task.task_id).environment(task_spec(task), host)


def test_the_agent_builds_the_task_variables_from_typed_fields(tmp_path: Path) -> None:
    discovery = p.DiscoveryInfo(
        "web",
        [
            p.DiscoveryPort(31002, "http-admin"),
            p.DiscoveryPort(31000, "metrics"),
            p.DiscoveryPort(31000, "metrics", "udp"),  # one port, two protocols
        ],
    )
    env = env_of(info(discovery=discovery), tmp_path)
    # the framework's order first (discovery), then the task's other ports in order
    assert [env["PORT0"], env["PORT1"], env["PORT2"]] == ["31002", "31000", "31001"]
    assert env["PORT"] == "31002"
    assert env["PORTS"] == "31002,31000,31001"
    assert env["PORT_HTTP_ADMIN"] == "31002"
    assert env["PORT_METRICS"] == "31000"
    assert env["MESOS_TASK_ID"] == "web.1"
    assert env["HOST"] == "h1"
    assert env["MESOS_SANDBOX"] == env["PYDCOS_SANDBOX"] == env["HOME"]
    assert "PORT3" not in env


def test_task_variables_win_over_the_tasks_env_which_wins_over_the_agents_defaults(
    tmp_path: Path,
) -> None:
    env = env_of(
        info(env={"PORT0": "1", "HOST": "fake", "HOME": "/home/app", "MARATHON_APP_ID": "/web"}),
        tmp_path,
    )
    assert env["PORT0"] == "31000"  # the agent's: the port the task really has
    assert env["HOST"] == "h1"
    assert env["HOME"] == "/home/app"  # a default the task may override
    assert env["MARATHON_APP_ID"] == "/web"  # the framework's own variable, passed through


def test_the_agent_reads_no_framework_label(tmp_path: Path) -> None:
    env = env_of(info(labels={"MARATHON_APP_ID": "/web", "PORT0": "1"}), tmp_path)
    assert "MARATHON_APP_ID" not in env
    assert env["PORT0"] == "31000"


def test_bridge_tasks_export_their_mapped_host_ports_once_each() -> None:
    spec = TaskSpec(
        "t",
        container_type="DOCKER",
        image="x",
        network="BRIDGE",
        ports=(31000, 31001),
        port_mappings=(
            p.PortMapping(53, 31001, "udp"),
            p.PortMapping(53, 31001, "tcp"),
            p.PortMapping(80, 0),
        ),
    )
    env = task_variables(spec, "h")
    assert (env["PORT0"], env["PORT1"], env["PORTS"]) == ("31001", "31000", "31001,31000")


def test_task_spec_copies_the_typed_container_field_by_field() -> None:
    container = p.ContainerInfo(
        "DOCKER",
        "BRIDGE",
        p.DockerInfo("busybox", force_pull_image=True),
        [p.PortMapping(8080, 31000, "tcp", "http")],
        [p.VolumeInfo("/data", "/srv", "RO")],
    )
    spec = task_spec(info(container=container))
    assert (spec.container_type, spec.network, spec.image, spec.force_pull) == (
        "DOCKER",
        "BRIDGE",
        "busybox",
        True,
    )
    assert spec.port_mappings == (p.PortMapping(8080, 31000, "tcp", "http"),)
    assert spec.volumes == (p.VolumeInfo("/data", "/srv", "RO"),)
    assert TaskSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_a_discovery_port_the_task_does_not_have_is_a_spec_error() -> None:
    discovery = p.DiscoveryInfo("web", [p.DiscoveryPort(40000, "http")])
    with pytest.raises(SpecError, match=r"discovery\.ports: \[40000\]"):
        task_spec(info(discovery=discovery))


def test_a_containerizer_checkpoint_of_an_older_agent_still_loads() -> None:
    spec = TaskSpec("t", command="true", ports=(31000,))
    old = spec.to_json()
    del old["named_ports"]
    old["app_id"] = "/web"  # older agents exported it from Marathon's label
    assert TaskSpec.from_json(old) == spec


# ------------------------------------------------------------ stream checkpoints, format 1

V1_TASK: dict[str, Any] = {
    "task_id": "web.1",
    "name": "web",
    "agent_id": "a1",
    "resources": Resources.parse(PORTS).to_dict(),
    "command": {
        "value": "exec httpd",
        "args": [],
        "shell": True,
        "env": {"PORT0": "31000", "MARATHON_APP_ID": "/web"},
        "uris": [{"value": "http://x/a.tgz", "executable": False, "extract": True, "cache": True}],
        "user": None,
    },
    "container": {
        "type": "DOCKER",
        "docker": {
            "image": "busybox",
            "forcePullImage": True,
            "privileged": False,
            "network": "BRIDGE",
            "parameters": [{"key": "memory-swap", "value": "64m"}],
        },
        "portMappings": [{"containerPort": 8080, "hostPort": 31000, "protocol": "tcp"}],
        "volumes": [{"containerPath": "/data", "hostPath": "/srv", "mode": "RO"}],
    },
    "health_checks": [
        {"protocol": "HTTP", "path": "/ping", "portIndex": 0, "gracePeriodSeconds": 5},
        {"protocol": "COMMAND", "command": {"value": "true"}, "maxConsecutiveFailures": 0},
    ],
    "kill_grace_period": 3.0,
    "labels": {"MARATHON_APP_ID": "/web"},
}


def test_a_v1_task_converts_to_the_typed_records() -> None:
    body = upgrade_v1_task(V1_TASK)
    task = codec.decode_body("actors.protocol.TaskInfo", body)
    assert task.container == p.ContainerInfo(
        "DOCKER",
        "BRIDGE",
        p.DockerInfo("busybox", False, [p.Parameter("memory-swap", "64m")], True),
        [p.PortMapping(8080, 31000, "tcp")],
        [p.VolumeInfo("/data", "/srv", "RO")],
    )
    assert task.command.uris == [p.UriInfo("http://x/a.tgz")]
    assert task.health_checks == [
        p.HealthCheckInfo("HTTP", "/ping", 0, grace_period_seconds=5),
        p.HealthCheckInfo("COMMAND", port_index=0, command="true", max_consecutive_failures=0),
    ]
    assert task.discovery is None
    assert task.command.env["PORT0"] == "31000"  # v1 frameworks sent their ports in env


def _write(store: TaskStore, name: str, doc: dict[str, Any]) -> None:
    store.dir.mkdir(parents=True, exist_ok=True)
    (store.dir / f"{name}.json").write_text(json.dumps(doc))


def test_task_store_recovers_a_v1_file_and_skips_one_that_does_not_convert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TaskStore(tmp_path)
    update = p.StatusUpdate("fw", "web.1", "a1", "TASK_RUNNING", "u1", 1.5)
    _write(
        store,
        "web.1",
        {
            "format": 1,
            "framework_id": "fw",
            "task": V1_TASK,
            "state": "TASK_RUNNING",
            "updates": [codec.encode_body(update)[1]],
        },
    )
    broken = dict(V1_TASK, task_id="web.2")
    broken["container"] = dict(V1_TASK["container"], volumes=[{"containerPath": "/d"}])
    _write(
        store,
        "web.2",
        {"format": 1, "framework_id": "fw", "task": broken, "state": "TASK_RUNNING", "updates": []},
    )
    with caplog.at_level(logging.ERROR, logger="actors.agent"):
        loaded = store.load()
    assert [t.info.task_id for t in loaded] == ["web.1"]
    assert loaded[0].updates == (update,)
    assert "web.2.json" in caplog.text and "hostPath" in caplog.text
    # saved again, it is a format-2 file holding the same task
    store.save(loaded[0])
    assert json.loads((store.dir / "web.1.json").read_text())["format"] == 2
    assert store.load()[0] == StoredTask("fw", loaded[0].info, "TASK_RUNNING", (update,))
