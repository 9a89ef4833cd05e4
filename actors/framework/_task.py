"""One task builder for every framework: a typed ``p.TaskInfo`` from a framework's spec.

Marathon's apps and Metronome's jobs describe the same things in their own JSON (a
command or an argv, fetched URIs, a Docker image, host volumes, port mappings, health
checks); each framework converts its spec's pieces to the protocol's records and this
module assembles the task and owns the rules both must follow:

- ``cmd`` runs through the shell, ``args`` is an argv (shell off); giving both is an
  error, giving neither means "the image's entrypoint" (argv empty, shell off).
- the environment is the user's ``env`` with the framework's OWN variables on top
  (``MARATHON_APP_ID``, ...). The task's ports, ``HOST``, ``MESOS_TASK_ID``,
  ``MESOS_SANDBOX`` are the agent's business: it builds them from the typed fields
  (``discovery`` carries the ports in the task's order and their names).
- a container with port mappings publishes mapping i on host port i; a container port
  of 0 means "the same as the host port"; Docker networking defaults to BRIDGE when
  ports are mapped, else HOST.
- labels are text.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actors import protocol as p
from actors.framework._errors import InvalidSpec
from actors.resources import Resources

DEFAULT_KILL_GRACE_PERIOD = 3.0
"""Seconds between SIGTERM and SIGKILL when a task does not say (Mesos' default)."""


def command_spec(
    *,
    cmd: str | None = None,
    args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    framework_env: Mapping[str, str] | None = None,
    uris: Sequence[p.UriInfo] = (),
    user: str | None = None,
) -> p.CommandSpec:
    """What to run (see the module docstring for the cmd/args and environment rules)."""
    if cmd is not None and args is not None:
        raise InvalidSpec(
            f"cmd and args are mutually exclusive: cmd={cmd!r:.60}, args={args!r:.60}"
        )
    merged: dict[str, str] = {}
    for where, values in (("env", env), ("framework_env", framework_env)):
        for key, value in (values or {}).items():
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise InvalidSpec(f"{where}: {key!r:.60}={value!r:.60} must map text to text")
            merged[key] = value
    if cmd is not None:
        return p.CommandSpec(value=cmd, env=merged, uris=list(uris), user=user)
    return p.CommandSpec(
        value=None, args=list(args or ()), shell=False, env=merged, uris=list(uris), user=user
    )


def container_info(
    type: str = "MESOS",
    *,
    docker: p.DockerInfo | None = None,
    network: str | None = None,
    port_mappings: Sequence[p.PortMapping] = (),
    host_ports: Sequence[int] = (),
    volumes: Sequence[p.VolumeInfo] = (),
) -> p.ContainerInfo:
    """The container, with mapping i published on ``host_ports[i]`` (the ports ``fit``
    chose) and Docker's network defaulted (BRIDGE when ports are mapped, else HOST)."""
    if len(host_ports) < len(port_mappings):
        raise InvalidSpec(
            f"host_ports: {len(port_mappings)} port mapping(s) need as many host ports, "
            f"got {list(host_ports)!r:.80}"
        )
    mappings = [
        p.PortMapping(
            container_port=m.container_port or host_ports[i],
            host_port=host_ports[i],
            protocol=m.protocol,
            name=m.name,
        )
        for i, m in enumerate(port_mappings)
    ]
    if network is None:
        network = "BRIDGE" if docker is not None and mappings else "HOST"
    return p.ContainerInfo(
        type=type, network=network, docker=docker, port_mappings=mappings, volumes=list(volumes)
    )


def discovery_info(
    name: str,
    ports: Sequence[int],
    names: Sequence[str | None] = (),
    protocols: Sequence[str] = (),
    labels: Sequence[Mapping[str, str]] = (),
) -> p.DiscoveryInfo:
    """The task's host ports in its own order, with their names (the agent exports
    ``PORT<i>`` and ``PORT_<NAME>`` from it) and labels (``VIP_0``: the load balancer
    and DNS read the task's VIPs there, as dcos-net reads Mesos' port labels). A
    protocol like ``tcp,udp`` is read as its first entry."""
    out = []
    for i, port in enumerate(ports):
        name_i = names[i] if i < len(names) else None
        proto = protocols[i].split(",")[0].strip() if i < len(protocols) else "tcp"
        labels_i = {str(k): str(v) for k, v in labels[i].items()} if i < len(labels) else {}
        out.append(
            p.DiscoveryPort(
                number=port, name=name_i or None, protocol=proto or "tcp", labels=labels_i
            )
        )
    return p.DiscoveryInfo(name=name, ports=out)


def build_task_info(
    task_id: str,
    name: str,
    agent_id: str,
    resources: Resources,
    command: p.CommandSpec,
    *,
    container: p.ContainerInfo | None = None,
    health_checks: Sequence[p.HealthCheckInfo] = (),
    discovery: p.DiscoveryInfo | None = None,
    kill_grace_period: float | None = None,
    labels: Mapping[str, Any] | None = None,
) -> p.TaskInfo:
    """The task to launch on ``agent_id`` with ``resources`` (what ``fit`` took).

    ``command`` comes from ``command_spec``, ``container`` from ``container_info``,
    ``discovery`` from ``discovery_info``; ``kill_grace_period`` None is Mesos'
    default (``DEFAULT_KILL_GRACE_PERIOD``)."""
    for field_name, value in (("task_id", task_id), ("name", name), ("agent_id", agent_id)):
        if not isinstance(value, str) or not value:
            raise InvalidSpec(f"{field_name}: {value!r:.60} must be a non-empty string")
    grace = DEFAULT_KILL_GRACE_PERIOD if kill_grace_period is None else float(kill_grace_period)
    if not grace >= 0:
        raise InvalidSpec(f"kill_grace_period: {kill_grace_period!r} must be >= 0 seconds")
    return p.TaskInfo(
        task_id=task_id,
        name=name,
        agent_id=agent_id,
        resources=resources.to_dict(),
        command=command,
        container=container,
        health_checks=list(health_checks),
        discovery=discovery,
        kill_grace_period=grace,
        labels={str(k): str(v) for k, v in (labels or {}).items()},
    )
