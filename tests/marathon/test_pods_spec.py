"""Pod JSON validation as Marathon does it (422 with the JSON path of every problem),
defaults, round trips, the pod -> task group translation and the ``/v2/pods`` paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actors import protocol as p
from actors.marathon._errors import ValidationFailed
from actors.marathon._group import Group
from actors.marathon._pods import PodDefinition, definition_from_json
from actors.marathon._pods_api import BadPodPath, parse_pod_path
from actors.marathon._pods_tasks import build_pod_group, is_instance_id, pod_demand, split_member
from actors.resources import Resources

BASE: dict[str, Any] = {
    "id": "/shop/duo",
    "volumes": [{"name": "shared"}, {"name": "etc", "host": "/etc"}],
    "containers": [
        {
            "name": "web",
            "resources": {"cpus": 0.5, "mem": 64},
            "exec": {"command": {"shell": "sleep 1000"}},
            "endpoints": [{"name": "http", "hostPort": 0, "labels": {"VIP_0": "/duo:80"}}],
            "healthCheck": {"http": {"endpoint": "http", "path": "/health"}},
            "volumeMounts": [{"name": "shared", "mountPath": "data"}],
        },
        {
            "name": "side",
            "resources": {"cpus": 0.25, "mem": 32, "disk": 10},
            "exec": {"command": {"argv": ["sleep", "1000"]}},
            "volumeMounts": [
                {"name": "shared", "mountPath": "data", "readOnly": True},
                {"name": "etc", "mountPath": "/host-etc", "readOnly": True},
            ],
            "lifecycle": {"killGracePeriodSeconds": 7},
        },
    ],
    "scaling": {"kind": "fixed", "instances": 2},
    "scheduling": {
        "backoff": {"backoff": 2, "backoffFactor": 2, "maxLaunchDelay": 60},
        "upgrade": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
        "placement": {"constraints": [["hostname", "UNIQUE"]]},
        "killSelection": "OLDEST_FIRST",
    },
}


def with_(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    *parents, last = path.strip("/").split("/")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_DELETE = object()


def test_a_valid_pod_is_an_app_to_the_core() -> None:
    pod = PodDefinition.from_json(BASE)
    assert pod.id == "/shop/duo" and pod.instances == 2
    assert (pod.cpus, pod.mem, pod.disk) == (0.75, 96.0, 10.0)
    assert pod.backoff_seconds == 2 and pod.max_launch_delay_seconds == 60
    assert pod.upgrade_strategy.minimum_health_capacity == 0.5
    assert [c.to_json() for c in pod.constraints] == [["hostname", "UNIQUE"]]
    assert pod.kill_selection == "OLDEST_FIRST" and pod.health_checks
    doc = pod.to_json()
    assert doc["scaling"] == {"kind": "fixed", "instances": 2}
    assert doc["networks"] == [{"mode": "host"}]
    assert doc["containers"][0]["healthCheck"]["intervalSeconds"] == 60
    # A GET answer is valid input (a stored record reloads as the same pod).
    assert definition_from_json(doc) == pod
    # Scaling is not a configuration change; anything else is.
    scaled = PodDefinition.from_json(with_("/scaling/instances", 5))
    assert not scaled.is_upgrade_of(pod) and scaled.is_only_scaling_of(pod)
    assert PodDefinition.from_json(with_("/labels", {"a": "b"})).is_upgrade_of(pod)


def test_groups_keep_pods_in_pods() -> None:
    group = Group.from_json({"id": "/shop", "pods": [BASE], "apps": [{"id": "x", "cmd": "y"}]})
    doc = group.to_json()
    assert [a["id"] for a in doc["apps"]] == ["/shop/x"]
    assert [p["id"] for p in doc["pods"]] == ["/shop/duo"]
    assert Group.from_json(doc) == group
    with pytest.raises(ValidationFailed) as exc:
        Group.from_json({"id": "/shop", "pods": [{"id": "/elsewhere/p", "containers": []}]})
    paths = {d["path"] for d in exc.value.details}
    assert "/pods/0/containers" in paths


@pytest.mark.parametrize(
    ("path", "value", "where", "says"),
    [
        ("/id", _DELETE, "/id", "needs an id"),
        ("/id", "/Bad_Id", "/id", ""),
        ("/containers", [], "/containers", "at least one container"),
        ("/containers/0/name", "Web", "/containers/0/name", "must match"),
        ("/containers/1/name", "web", "/containers/1/name", "used twice"),
        ("/containers/0/resources/cpus", -1, "/containers/0/resources/cpus", ">= 0"),
        ("/containers/0/resources/mem", "lots", "/containers/0/resources/mem", "a number"),
        ("/containers/0/resources/gpus", 1, "/containers/0/resources/gpus", "not supported"),
        ("/containers/0/exec", _DELETE, "/containers/0/exec", "needs exec.command"),
        ("/containers/0/exec/command", {}, "/containers/0/exec/command", "shell"),
        ("/containers/0/image", {"kind": "APPC", "id": "x"}, "/containers/0/image/kind", "APPC"),
        ("/containers/0/endpoints/0/hostPort", 70000, "/containers/0/endpoints/0/hostPort", ""),
        (
            "/containers/0/endpoints/0/containerPort",
            80,
            "/containers/0/endpoints/0/containerPort",
            "container networking",
        ),
        (
            "/containers/0/healthCheck",
            {"http": {"endpoint": "nope"}},
            "/containers/0/healthCheck/http/endpoint",
            "not an endpoint",
        ),
        (
            "/containers/0/healthCheck",
            {"http": {"endpoint": "http"}, "tcp": {"endpoint": "http"}},
            "/containers/0/healthCheck",
            "exactly one",
        ),
        (
            "/containers/0/volumeMounts/0/name",
            "ghost",
            "/containers/0/volumeMounts/0/name",
            "not a volume",
        ),
        (
            "/containers/0/volumeMounts/0/mountPath",
            "../up",
            "/containers/0/volumeMounts/0/mountPath",
            "escapes",
        ),
        ("/containers/0/flavour", "x", "/containers/0/flavour", "unknown field"),
        ("/volumes/1/host", "relative", "/volumes/1/host", "absolute"),
        ("/volumes/0", {"name": "p", "persistent": {"size": 1}}, "/volumes/0/persistent", ""),
        ("/networks", [{"mode": "container", "name": "dcos"}], "/networks/0/mode", "host"),
        ("/scaling", {"kind": "auto", "instances": 1}, "/scaling/kind", "fixed"),
        ("/scaling/instances", -2, "/scaling/instances", "integer >= 0"),
        (
            "/scheduling/upgrade/minimumHealthCapacity",
            2,
            "/scheduling/upgrade/minimumHealthCapacity",
            "between 0 and 1",
        ),
        (
            "/scheduling/placement/constraints",
            [["hostname", "BOGUS"]],
            "/scheduling/placement/constraints/0",
            "invalid constraint",
        ),
        ("/scheduling/killSelection", "RANDOM", "/scheduling/killSelection", "one of"),
        ("/environment", {"A": {"secret": "s"}}, "/environment/A", "secrets"),
        ("/environment", {"1BAD": "x"}, "/environment/1BAD", "environment variable"),
        ("/flavour", 1, "/flavour", "unknown field"),
    ],
)
def test_bad_pods_are_refused_naming_the_path(path: str, value: Any, where: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        PodDefinition.from_json(with_(path, value))
    found = {d["path"]: " ".join(d["errors"]) for d in exc.value.details}
    assert where in found, found
    assert says in found[where], found


def test_a_pod_becomes_one_task_group_with_its_resources_split() -> None:
    pod = PodDefinition.from_json(BASE, version="2026-01-01T00:00:00.000Z")
    demand = pod_demand(pod)
    assert (demand.cpus, demand.mem, demand.disk, demand.ports) == (0.75, 96.0, 10.0, (0,))
    offer = p.Offer("o1", "fw", "a1", "host1", {}, {}, ip="10.0.0.1")
    need = Resources.from_dict({"cpus": 0.75, "mem": 96.0, "disk": 10.0, "ports": [[31005, 31005]]})
    tasks, inst = build_pod_group(pod, offer, need, [31005], 1000.0)
    web, side = tasks
    assert is_instance_id(inst.task_id) and inst.task_id.startswith("shop_duo.instance-")
    assert split_member(web.task_id) == (inst.task_id, "web")
    assert {t.group_id for t in tasks} == {inst.task_id}
    assert web.resources == {"cpus": 0.5, "mem": 64.0, "ports": [[31005, 31005]]}
    assert side.resources == {"cpus": 0.25, "mem": 32.0, "disk": 10.0}
    assert Resources.from_dict(web.resources) + Resources.from_dict(side.resources) == need
    assert web.command is not None and web.command.value == "sleep 1000"
    assert side.command is not None and side.command.args == ["sleep", "1000"]
    assert side.command.env["ENDPOINT_HTTP"] == "31005"
    assert web.health_checks[0].path == "/health" and web.health_checks[0].port == 31005
    assert side.kill_grace_period == 7.0
    assert web.discovery is not None
    assert web.discovery.ports[0].labels == {"VIP_0": "/duo:80"}
    assert side.container is not None
    assert [(v.container_path, v.host_path, v.mode) for v in side.container.volumes] == [
        ("data", "volumes/shared", "RO"),
        ("/host-etc", "/etc", "RO"),
    ]
    assert inst.app_id == "/shop/duo" and inst.ports == [31005] and inst.host == "host1"


@pytest.mark.parametrize(
    ("method", "rest", "expected"),
    [
        ("GET", "", ("list_pods", None, {})),
        ("POST", "/", ("create_pod", None, {})),
        ("GET", "/::status", ("all_pod_status", None, {})),
        ("GET", "/shop/duo", ("get_pod", "/shop/duo", {})),
        ("PUT", "/shop/duo", ("put_pod", "/shop/duo", {})),
        ("DELETE", "/shop/duo", ("delete_pod", "/shop/duo", {})),
        ("GET", "/shop/duo::status", ("pod_status", "/shop/duo", {})),
        ("GET", "/duo::versions", ("pod_versions", "/duo", {})),
        ("GET", "/duo::versions/v1", ("pod_version", "/duo", {"version": "v1"})),
        ("DELETE", "/duo::instances/i-1", ("kill_pod_instances", "/duo", {"instance_id": "i-1"})),
        ("DELETE", "/duo::instances", ("kill_pod_instances", "/duo", {})),
    ],
)
def test_pod_paths(
    method: str, rest: str, expected: tuple[str, str | None, dict[str, Any]]
) -> None:
    assert parse_pod_path(method, rest) == expected


@pytest.mark.parametrize(
    ("method", "rest"), [("PUT", ""), ("POST", "/duo::status"), ("GET", "/duo::bogus")]
)
def test_unknown_pod_paths(method: str, rest: str) -> None:
    with pytest.raises(BadPodPath):
        parse_pod_path(method, rest)


@pytest.mark.parametrize(
    ("check", "protocol"),
    [
        ({"http": {"endpoint": "http", "scheme": "HTTPS"}}, "HTTPS"),
        ({"tcp": {"endpoint": "http"}}, "TCP"),
        ({"exec": {"command": {"shell": "test -f ready"}}}, "COMMAND"),
    ],
)
def test_health_checks_become_the_agents_checks(check: dict[str, Any], protocol: str) -> None:
    pod = PodDefinition.from_json(with_("/containers/0/healthCheck", check))
    offer = p.Offer("o1", "fw", "a1", "host1", {}, {}, ip="")
    need = Resources.from_dict({"cpus": 0.75, "mem": 96.0, "disk": 10.0, "ports": [[31005, 31005]]})
    tasks, _ = build_pod_group(pod, offer, need, [31005], 1000.0)
    (hc,) = tasks[0].health_checks
    assert hc.protocol == protocol and not tasks[1].health_checks
    if protocol == "COMMAND":
        assert hc.command == "test -f ready" and hc.port is None
    else:
        assert hc.port == 31005
