"""A pod instance as a Mesos task group, and its members' ids (pure).

One pod instance = one task group on one agent: each container becomes a member
``TaskInfo`` (task id ``<instance id>.<container name>``, Marathon's own form) sharing
the group id (= the instance id, Mesos' executor id). The offer matcher places the pod
as one demand (its containers' sums and every endpoint's host port); the placed
resources are split back per container here. The pod's ephemeral volumes are sent as
volumes with a relative host path ``volumes/<name>``, which the agent resolves under the
group's sandbox (Mesos' SANDBOX_PATH volume of type PARENT); ``host`` volumes are
plain host paths.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from actors import protocol as p
from actors.framework import Demand, build_task_info, command_spec, discovery_info
from actors.resources import Resources

from ._app import limits_from_json
from ._instances import Instance, config_key
from ._pods import PodDefinition

INSTANCE_MARK = ".instance-"


def instance_id_for(pod_id: str) -> str:
    """A new pod instance id: ``<pod path with / as _>.instance-<uuid>`` (Marathon's)."""
    return f"{pod_id.strip('/').replace('/', '_')}{INSTANCE_MARK}{uuid.uuid4().hex}"


def member_id(instance_id: str, container: str) -> str:
    return f"{instance_id}.{container}"


def split_member(task_id: str) -> tuple[str, str] | None:
    """(instance id, container name) of a pod member's task id, else None."""
    if INSTANCE_MARK not in task_id:
        return None
    head, _, tail = task_id.rpartition(".")
    if INSTANCE_MARK not in "." + head or tail.startswith("instance-"):
        return None
    return head, tail


def is_instance_id(task_id: str) -> bool:
    """A pod instance's own id (never a Mesos task's)."""
    return INSTANCE_MARK in task_id and task_id.rpartition(".")[2].startswith("instance-")


def endpoints(pod: PodDefinition) -> list[tuple[str, dict[str, Any]]]:
    """(container name, endpoint) of every endpoint, in the pod's order."""
    return [(c["name"], e) for c in pod.containers for e in c.get("endpoints", [])]


def pod_demand(pod: PodDefinition) -> Demand:
    """What one instance asks of an offer: the containers' sums and each endpoint's host
    port (0: any offered port)."""
    return Demand(
        pod.cpus,
        pod.mem,
        pod.disk,
        float(pod.gpus),
        tuple(int(e.get("hostPort") or 0) for _, e in endpoints(pod)),
    )


def _split(need: Resources, pod: PodDefinition, ports: Sequence[int]) -> list[dict[str, Any]]:
    """The placed resources, one dict per container (the last takes what rounding left,
    so the members add up exactly to what was placed)."""
    total = need.to_dict()
    keys = {k.split("(")[0]: k for k in total}
    containers = pod.containers
    out: list[dict[str, Any]] = []
    used: dict[str, float] = {}
    at = 0
    for index, c in enumerate(containers):
        res: dict[str, Any] = {}
        for name in ("cpus", "mem", "disk"):
            key = keys.get(name)
            if key is None:
                continue
            if index == len(containers) - 1:
                value = round(float(total[key]) - used.get(name, 0.0), 9)
            else:
                value = float(c["resources"][name])
            used[name] = used.get(name, 0.0) + value
            if value > 0:
                res[key] = value
        mine = [int(x) for x in ports[at : at + len(c.get("endpoints", []))]]
        at += len(mine)
        if mine and "ports" in keys:
            res[keys["ports"]] = [[x, x] for x in mine]
        out.append(res)
    return out


def _health(c: dict[str, Any], ports: dict[str, int]) -> list[p.HealthCheckInfo]:
    h = c.get("healthCheck")
    if not h:
        return []
    common: dict[str, Any] = {
        "grace_period_seconds": float(h["gracePeriodSeconds"]),
        "interval_seconds": float(h["intervalSeconds"]),
        "timeout_seconds": float(h["timeoutSeconds"]),
        "max_consecutive_failures": int(h["maxConsecutiveFailures"]),
        "delay_seconds": float(h["delaySeconds"]),
    }
    if "http" in h:
        return [
            p.HealthCheckInfo(
                protocol=h["http"].get("scheme", "HTTP"),
                path=h["http"].get("path", "/"),
                port_index=None,
                port=ports[h["http"]["endpoint"]],
                **common,
            )
        ]
    if "tcp" in h:
        return [
            p.HealthCheckInfo(
                protocol="TCP", port_index=None, port=ports[h["tcp"]["endpoint"]], **common
            )
        ]
    return [
        p.HealthCheckInfo(
            protocol="COMMAND", port_index=None, command=h["exec"]["command"]["shell"], **common
        )
    ]


def build_pod_group(
    pod: PodDefinition,
    offer: p.Offer,
    need: Resources,
    ports: list[int],
    wall: float,
) -> tuple[list[p.TaskInfo], Instance]:
    """The task group of one new instance of ``pod`` on ``offer`` and its record."""
    instance_id = instance_id_for(pod.id)
    eps = endpoints(pod)
    by_name = {e["name"]: int(ports[i]) for i, (_, e) in enumerate(eps)}
    shared_env = {f"ENDPOINT_{n.upper().replace('-', '_')}": str(x) for n, x in by_name.items()}
    volumes = {v["name"]: v for v in pod.pod.get("volumes", [])}
    tasks: list[p.TaskInfo] = []
    for c, res in zip(pod.containers, _split(need, pod, ports), strict=True):
        name = c["name"]
        task_id = member_id(instance_id, name)
        command = c.get("exec", {}).get("command", {})
        env = dict(pod.env)
        env.update(c.get("environment", {}))
        spec = command_spec(
            cmd=command.get("shell") if "argv" not in command else None,
            args=command.get("argv"),
            env=env,
            framework_env={
                "MARATHON_APP_ID": pod.id,
                "MARATHON_APP_VERSION": pod.version or "",
                "MARATHON_CONTAINER_ID": name,
                "MESOS_EXECUTOR_ID": instance_id,
                **shared_env,
            },
            uris=[
                p.UriInfo(a["uri"], a.get("executable", False), a.get("extract", True))
                for a in c.get("artifacts", [])
            ],
            user=c.get("user") or pod.user,
        )
        if "exec" not in c:
            spec = p.CommandSpec(value=None, env=spec.env, uris=spec.uris, user=spec.user)
        mounts = []
        for m in c.get("volumeMounts", []):
            vol = volumes[m["name"]]
            mode = "RO" if m.get("readOnly") else "RW"
            host = vol["host"] if "host" in vol else f"volumes/{vol['name']}"
            mounts.append(p.VolumeInfo(m["mountPath"], host, mode))
        image = c.get("image")
        container = p.ContainerInfo(
            type="MESOS",
            network="HOST",
            docker=p.DockerInfo(image=image["id"], force_pull_image=bool(image.get("forcePull")))
            if image
            else None,
            volumes=mounts,
        )
        mine = [(e, by_name[e["name"]]) for e in c.get("endpoints", [])]
        labels = dict(pod.labels)
        labels.update(c.get("labels", {}))
        labels["MARATHON_APP_ID"] = pod.id
        labels["MARATHON_APP_VERSION"] = pod.version or ""
        task = build_task_info(
            task_id,
            f"{pod.id.strip('/').replace('/', '.')}.{name}",
            offer.agent_id,
            Resources.from_dict(res),
            spec,
            container=container,
            health_checks=_health(c, by_name),
            discovery=discovery_info(
                "-".join(reversed(pod.id.strip("/").split("/"))),
                [x for _, x in mine],
                [e["name"] for e, _ in mine],
                [",".join(e.get("protocol", ["tcp"])) for e, _ in mine],
                [e.get("labels", {}) for e, _ in mine],
            ),
            kill_grace_period=float(c.get("lifecycle", {}).get("killGracePeriodSeconds", 3.0)),
            labels=labels,
        )
        if c.get("resourceLimits"):  # per container, as Marathon 1.10
            task = dataclasses.replace(task, limits=dict(limits_from_json(c["resourceLimits"])))
        tasks.append(_with_group(task, instance_id))
    inst = Instance(
        task_id=instance_id,
        app_id=pod.id,
        config_version=config_key(pod),
        version=pod.version or "",
        agent_id=offer.agent_id,
        host=offer.hostname,
        ip=offer.ip or offer.hostname,
        ports=list(ports),
        service_ports=[],
        staged_at=wall,
    )
    return tasks, inst


def _with_group(task: p.TaskInfo, group_id: str) -> p.TaskInfo:
    return dataclasses.replace(task, group_id=group_id)


def member_ids(pod: PodDefinition | None, instance_id: str) -> list[str]:
    """The member task ids of an instance launched from ``pod`` (its containers)."""
    if pod is None:
        return []
    return [member_id(instance_id, c["name"]) for c in pod.containers]
