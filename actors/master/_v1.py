"""Mesos v1 JSON (``mesos/v1/mesos.proto``, ``mesos/v1/master/master.proto``), pure.

The operator API (``POST /api/v1``), its SUBSCRIBE stream and the scheduler API all
speak these shapes, so one module builds them from the master core's records: a
``Task``, ``TaskStatus``, ``Resource`` list, ``Agent`` (``Response.GetAgents.Agent``),
``Framework`` (``Response.GetFrameworks.Framework``), and the ``Response.Get*``
documents over a ``MasterState``. Field names are the protobuf names, as Mesos' JSON
rendering prints them: ids are ``{"value": ...}``, times of ``TimeInfo`` are
``{"nanoseconds": ...}``, ``TaskStatus.timestamp`` is seconds, bytes (``uuid``) are
base64. Optional fields pydcos has no value for are left out, as protobuf does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from actors import protocol as p
from actors.gateway import MESOS_VERSION
from actors.master._state import AgentRecord, FrameworkRecord, MasterState, TaskRecord
from actors.master.allocator import Quota
from actors.resources import UNRESERVED, Attributes, Resources, resources_v1
from actors.task_states import TaskState

__all__ = [
    "uuid_from_v1",
    "v1_agent",
    "v1_agent_info",
    "v1_attributes",
    "v1_container",
    "v1_discovery",
    "v1_framework",
    "v1_framework_info",
    "v1_get_agents",
    "v1_get_frameworks",
    "v1_get_master",
    "v1_get_quota",
    "v1_get_roles",
    "v1_get_state",
    "v1_get_tasks",
    "v1_get_weights",
    "v1_health_check",
    "v1_id",
    "v1_labels",
    "v1_resources",
    "v1_task",
    "v1_task_status",
    "v1_time",
    "v1_uuid",
]


def v1_id(value: str) -> dict[str, str]:
    """An ``AgentID``/``FrameworkID``/``TaskID``/``OfferID``: ``{"value": ...}``."""
    return {"value": value}


def v1_time(seconds: float) -> dict[str, int]:
    """A ``TimeInfo`` (wall-clock seconds -> ``{"nanoseconds": ...}``)."""
    return {"nanoseconds": int(seconds * 1e9)}


def v1_uuid(uuid: str) -> str:
    """A status update's uuid as Mesos' JSON prints ``bytes``: base64 of the 16 bytes of
    a UUID (the agent mints ``uuid4().hex``), of the text otherwise; "" stays ""."""
    if not uuid:
        return ""
    try:
        raw = bytes.fromhex(uuid) if len(uuid) == 32 else uuid.encode()
    except ValueError:
        raw = uuid.encode()
    return base64.b64encode(raw).decode("ascii")


def uuid_from_v1(text: str) -> str:
    """The inverse of :func:`v1_uuid` (an ACKNOWLEDGE's ``uuid`` -> the agent's);
    raises ``ValueError`` naming the value when it is not base64."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"uuid: {text!r:.60} is not base64") from exc
    if len(raw) == 16:
        return raw.hex()
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"uuid: {text!r:.60} is not a status update uuid") from exc


def _resource_name(label: str, role: str) -> str:
    return label if role == UNRESERVED else label[: -len(role) - 2]


_V1_RESOURCES: dict[tuple[int, str | None], tuple[Resources, list[dict[str, Any]]]] = {}
"""`v1_resources` by (the Resources object's identity, allocated_to), with the object
itself (an id is never taken for another object's), at most ``V1_RESOURCES_KEPT``. A
recorded task's Resources is shared by every task of that shape (``parsed_resources``),
and rebuilding their lists was 75% of a v1 state's build (a whole state per observer's
SUBSCRIBED after a failover: 16% of the new leader's recovery CPU at 5k agents / 50k
tasks). Identity, not equality: equal Resources built in another order list their
entries in that order. The lists are shared by every state and event that shows them:
their readers (DNS, l4lb, the operator API) never mutate them
(tests/master/test_v1_cache.py)."""

V1_RESOURCES_KEPT = 4096


_V1_BY_IDENTITY: dict[tuple[str, int], tuple[Any, Any]] = {}
"""A task's v1 ``labels`` / ``container`` by the identity of its TaskInfo's part (the
tasks of one app share those objects: ``_share.shared_task``), with the part itself so
an id is never taken for another object's; at most ``V1_RESOURCES_KEPT``. Shared like
`v1_resources`' lists: never mutated by their readers."""


def _by_identity(kind: str, part: Any, build: Callable[[Any], Any]) -> Any:
    key = (kind, id(part))
    hit = _V1_BY_IDENTITY.get(key)
    if hit is not None and hit[0] is part:
        return hit[1]
    out = build(part)
    if len(_V1_BY_IDENTITY) >= V1_RESOURCES_KEPT:
        _V1_BY_IDENTITY.clear()
    _V1_BY_IDENTITY[key] = (part, out)
    return out


def v1_resources(res: Resources, allocated_to: str | None = None) -> list[dict[str, Any]]:
    """A ``Resource`` list: one entry per name and role, ``type`` SCALAR, RANGES or SET.

    A reserved resource carries its ``role`` and a STATIC ``reservations`` entry (Mesos
    1.x prints both); ``allocated_to`` adds ``allocation_info.role`` (a task's or an
    offer's resources). Resources are immutable: the list of one object is kept in
    ``_V1_RESOURCES`` (shared: never mutate the answer)."""
    key = (id(res), allocated_to)
    hit = _V1_RESOURCES.get(key)
    if hit is not None and hit[0] is res:
        return hit[1]
    out = v1_resources_uncached(res, allocated_to)
    if len(_V1_RESOURCES) >= V1_RESOURCES_KEPT:
        _V1_RESOURCES.clear()
    _V1_RESOURCES[key] = (res, out)
    return out


def v1_resources_uncached(res: Resources, allocated_to: str | None = None) -> list[dict[str, Any]]:
    """`v1_resources` built from scratch."""
    if res.has_dynamic():  # dynamic reservations and volumes (issue 23)
        return resources_v1(res, allocated_to)
    out: list[dict[str, Any]] = []
    for role in sorted(res.roles()):
        for label, value in res.for_role(role).to_dict().items():
            entry: dict[str, Any] = {"name": _resource_name(label, role)}
            if isinstance(value, float | int):
                entry["type"] = "SCALAR"
                entry["scalar"] = {"value": float(value)}
            elif value and isinstance(value[0], list):
                entry["type"] = "RANGES"
                entry["ranges"] = {"range": [{"begin": b, "end": e} for b, e in value]}
            else:
                entry["type"] = "SET"
                entry["set"] = {"item": list(value)}
            entry["role"] = role
            if role != UNRESERVED:
                entry["reservations"] = [{"type": "STATIC", "role": role}]
            if allocated_to is not None:
                entry["allocation_info"] = {"role": allocated_to}
            out.append(entry)
    return out


def v1_attributes(attrs: Attributes) -> list[dict[str, Any]]:
    """An ``Attribute`` list (TEXT, SCALAR, RANGES or SET, by the value's kind)."""
    out: list[dict[str, Any]] = []
    for name, value in sorted(attrs.items()):
        if isinstance(value, str):
            out.append({"name": name, "type": "TEXT", "text": {"value": value}})
        elif isinstance(value, float | int):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        elif isinstance(value, frozenset):
            out.append({"name": name, "type": "SET", "set": {"item": sorted(value)}})
        else:
            ranges = [{"begin": b, "end": e} for b, e in value]
            out.append({"name": name, "type": "RANGES", "ranges": {"range": ranges}})
    return out


def v1_labels(labels: Mapping[str, str]) -> dict[str, Any]:
    """``Labels``: ``{"labels": [{"key", "value"}]}``, sorted by key."""
    return {"labels": [{"key": k, "value": v} for k, v in sorted(labels.items())]}


def v1_discovery(d: p.DiscoveryInfo) -> dict[str, Any]:
    """``DiscoveryInfo`` with its named ports and their labels (VIPs live there)."""
    ports = []
    for port in d.ports:
        entry: dict[str, Any] = {"number": port.number, "protocol": port.protocol}
        if port.name:
            entry["name"] = port.name
        labels = getattr(port, "labels", None) or {}
        if labels:
            entry["labels"] = v1_labels(labels)
        ports.append(entry)
    return {"visibility": "FRAMEWORK", "name": d.name, "ports": {"ports": ports}}


def v1_container(c: p.ContainerInfo) -> dict[str, Any]:
    """``ContainerInfo``: type, the Docker image and its network and port mappings,
    host-path volumes."""
    out: dict[str, Any] = {"type": c.type}
    if c.type == "MESOS" and c.docker is not None:
        # An image run by the universal runtime: Mesos' ContainerInfo.MesosInfo.image.
        image = {"name": c.docker.image}
        cached = not c.docker.force_pull_image
        out["mesos"] = {"image": {"type": "DOCKER", "docker": image, "cached": cached}}
    elif c.docker is not None:
        docker: dict[str, Any] = {
            "image": c.docker.image,
            "network": c.network if c.network in ("HOST", "BRIDGE", "NONE", "USER") else "HOST",
            "privileged": c.docker.privileged,
            "force_pull_image": c.docker.force_pull_image,
        }
        if c.docker.parameters:
            docker["parameters"] = [{"key": x.key, "value": x.value} for x in c.docker.parameters]
        if c.port_mappings:
            docker["port_mappings"] = [
                {
                    "host_port": m.host_port,
                    "container_port": m.container_port,
                    "protocol": m.protocol,
                }
                for m in c.port_mappings
            ]
        out["docker"] = docker
    if c.volumes:
        out["volumes"] = [
            {"container_path": v.container_path, "host_path": v.host_path, "mode": v.mode}
            for v in c.volumes
        ]
    return out


def v1_health_check(hc: p.HealthCheckInfo, ports: list[int]) -> dict[str, Any]:
    """A ``HealthCheck``: ``type`` HTTP (``http.scheme`` https for HTTPS), TCP or
    COMMAND, the checked port (a fixed ``port``, else the task's host port at
    ``port_index``), and the timings."""
    kind = hc.protocol.removeprefix("MESOS_")
    port = hc.port
    if port is None and hc.port_index is not None and hc.port_index < len(ports):
        port = ports[hc.port_index]
    out: dict[str, Any] = {}
    if kind == "COMMAND":
        out["type"] = "COMMAND"
        out["command"] = {"shell": True, "value": hc.command or ""}
    elif kind == "TCP":
        out["type"] = "TCP"
        out["tcp"] = {"port": port or 0}
    else:
        out["type"] = "HTTP"
        http: dict[str, Any] = {"port": port or 0, "path": hc.path}
        if kind == "HTTPS":
            http["scheme"] = "https"
        out["http"] = http
    out.update(
        {
            "delay_seconds": float(hc.delay_seconds),
            "interval_seconds": float(hc.interval_seconds),
            "timeout_seconds": float(hc.timeout_seconds),
            "consecutive_failures": hc.max_consecutive_failures,
            "grace_period_seconds": float(hc.grace_period_seconds),
        }
    )
    return out


def v1_task_status(u: p.StatusUpdate, agent_ip: str | None = None) -> dict[str, Any]:
    """A ``TaskStatus`` from a status update; ``agent_ip`` adds
    ``container_status.network_infos`` (tasks on the host network have the agent's IP)."""
    out: dict[str, Any] = {
        "task_id": v1_id(u.task_id),
        "state": u.state,
        "source": u.source,
    }
    if u.reason:
        out["reason"] = u.reason
    if u.message:
        out["message"] = u.message
    if u.agent_id:
        out["agent_id"] = v1_id(u.agent_id)
    out["timestamp"] = float(u.timestamp)
    if u.uuid:
        out["uuid"] = v1_uuid(u.uuid)
    if u.healthy is not None:
        out["healthy"] = u.healthy
    if agent_ip:
        out["container_status"] = {"network_infos": [{"ip_addresses": [{"ip_address": agent_ip}]}]}
    return out


def _ip(address: str) -> str:
    """The host part of ``tcp://host:port/name`` (an IP on pydcos' loopback clusters)."""
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return hostport.rsplit(":", 1)[0] if ":" in hostport else hostport


def _port(address: str) -> int:
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    try:
        return int(hostport.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def agent_ip(s: MasterState, agent_id: str) -> str | None:
    """The IP of the agent a task runs on, when the master knows the agent."""
    rec = s.agents.get(agent_id)
    return _ip(rec.address) if rec is not None and rec.address else None


def task_status_of(s: MasterState, t: TaskRecord) -> dict[str, Any]:
    """The task's latest ``TaskStatus``: the last update the master saw for it, else
    one made from the record (a task adopted after a failover)."""
    u = t.last_status
    if u is None or u.state != t.state.value:
        u = p.StatusUpdate(
            framework_id=t.framework_id,
            task_id=t.task_id,
            agent_id=t.agent_id,
            state=t.state.value,
            uuid="",
            timestamp=t.updated_at + s.wall_offset,
            reason=t.reason,
            message=t.message,
            healthy=t.healthy,
            source="SOURCE_MASTER",
        )
    elif t.healthy is not None and u.healthy is None:
        u = p.StatusUpdate(**{**_fields(u), "healthy": t.healthy})
    return v1_task_status(u, agent_ip(s, t.agent_id))


def _fields(u: p.StatusUpdate) -> dict[str, Any]:
    return {name: getattr(u, name) for name in u.__slots__}


def v1_task(s: MasterState, t: TaskRecord) -> dict[str, Any]:
    """A ``Task``: what was launched, where, its state and latest status."""
    info = t.task
    out: dict[str, Any] = {
        "name": info.name,
        "task_id": v1_id(t.task_id),
        "framework_id": v1_id(t.framework_id),
        "agent_id": v1_id(t.agent_id),
        "state": t.state.value,
        "resources": v1_resources(t.resources, t.role),
        # Mesos lists no status for a task still staging (no update yet).
        "statuses": []
        if t.last_status is None and t.state is TaskState.STAGING
        else [task_status_of(s, t)],
    }
    if info.group_id:  # a task group's member: its (default) executor's id, as Mesos
        out["executor_id"] = v1_id(info.group_id)
    if info.labels:
        out["labels"] = _by_identity("labels", info.labels, v1_labels)
    if info.discovery is not None:
        out["discovery"] = v1_discovery(info.discovery)
    if info.container is not None:
        out["container"] = _by_identity("container", info.container, v1_container)
    if info.health_checks:
        ports = [n for b, e in t.resources.ranges("ports") for n in range(b, e + 1)]
        out["health_check"] = v1_health_check(info.health_checks[0], ports)
    if info.command is not None and info.command.user:
        out["user"] = info.command.user
    out["kill_policy"] = {"grace_period": {"nanoseconds": int(info.kill_grace_period * 1e9)}}
    return out


def v1_agent_info(a: AgentRecord) -> dict[str, Any]:
    """An ``AgentInfo``."""
    return {
        "hostname": a.hostname,
        "port": _port(a.address),
        "resources": v1_resources(a.total),
        "attributes": v1_attributes(a.attributes),
        "id": v1_id(a.agent_id),
    }


def _pid(address: str, name: str) -> str:
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return f"{name}@{hostport}"


def v1_agent(s: MasterState, a: AgentRecord) -> dict[str, Any]:
    """A ``Response.GetAgents.Agent`` (also ``AGENT_ADDED``'s ``agent``)."""
    return {
        "agent_info": v1_agent_info(a),
        "active": a.reachable and not a.recovering,
        "deactivated": False,
        "version": a.version,
        "pid": _pid(a.address, "slave(1)"),
        "registered_time": v1_time(a.registered_at + s.wall_offset),
        "total_resources": v1_resources(a.total),
        "allocated_resources": v1_resources(a.used),
        "offered_resources": v1_resources(a.offered),
        "capabilities": [{"type": "MULTI_ROLE"}],
    }


def v1_framework_info(fw: FrameworkRecord) -> dict[str, Any]:
    """A ``FrameworkInfo``."""
    i = fw.info
    out: dict[str, Any] = {
        "user": i.user,
        "name": i.name,
        "id": v1_id(fw.framework_id),
        "failover_timeout": float(i.failover_timeout),
        "checkpoint": True,
        "roles": list(i.roles),
        "hostname": i.hostname,
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
    }
    if i.principal:
        out["principal"] = i.principal
    return out


def v1_framework(s: MasterState, fw: FrameworkRecord) -> dict[str, Any]:
    """A ``Response.GetFrameworks.Framework`` (also FRAMEWORK_ADDED/UPDATED's)."""
    allocated = Resources()
    for task_id in fw.tasks:
        t = s.tasks.get((fw.framework_id, task_id))
        if t is not None:
            allocated = allocated + t.resources
    offers = []
    offered = Resources()
    for offer_id in sorted(fw.offers):
        o = s.offers.get(offer_id)
        if o is None:
            continue
        offered = offered + o.resources
        agent = s.agents.get(o.agent_id)
        offers.append(
            {
                "id": v1_id(o.offer_id),
                "framework_id": v1_id(o.framework_id),
                "agent_id": v1_id(o.agent_id),
                "hostname": agent.hostname if agent is not None else "",
                "resources": v1_resources(o.resources, o.role),
            }
        )
    out: dict[str, Any] = {
        "framework_info": v1_framework_info(fw),
        "active": fw.connected,
        "connected": fw.connected,
        "recovered": False,
        "registered_time": v1_time(fw.registered_at + s.wall_offset),
        "offers": offers,
        "allocated_resources": v1_resources(allocated),
        "offered_resources": v1_resources(offered),
    }
    if fw.disconnected_at is not None:
        out["unregistered_time"] = v1_time(fw.disconnected_at + s.wall_offset)
    return out


# ------------------------------------------------------------------------ Response.Get*


def v1_get_tasks(s: MasterState) -> dict[str, Any]:
    """``Response.GetTasks``: live tasks, unreachable ones apart, then completed ones."""
    live = [t for t in s.tasks.values() if t.state is not TaskState.UNREACHABLE]
    unreachable = [t for t in s.tasks.values() if t.state is TaskState.UNREACHABLE]
    return {
        "tasks": [v1_task(s, t) for t in live],
        "unreachable_tasks": [v1_task(s, t) for t in unreachable],
        "completed_tasks": [v1_task(s, t) for t in s.completed],
    }


def v1_get_agents(s: MasterState) -> dict[str, Any]:
    """``Response.GetAgents``: registered agents; ``recovered_agents`` are those from the
    registry that have not re-registered since a failover (unreachable ones are gone,
    as in Mesos, where they are removed)."""
    return {
        "agents": [v1_agent(s, a) for a in s.agents.values() if a.reachable and not a.recovering],
        "recovered_agents": [v1_agent_info(a) for a in s.agents.values() if a.recovering],
    }


def v1_get_frameworks(s: MasterState) -> dict[str, Any]:
    """``Response.GetFrameworks``: live frameworks, then the last removed ones."""
    return {
        "frameworks": [v1_framework(s, fw) for fw in s.frameworks.values()],
        "completed_frameworks": [v1_framework(s, fw) for fw in s.completed_frameworks],
    }


def v1_get_executors(s: MasterState) -> dict[str, Any]:
    """``Response.GetExecutors``: pydcos runs every task under the agent's built-in
    command executor, which Mesos does not list either."""
    return {"executors": []}


def v1_get_state(s: MasterState) -> dict[str, Any]:
    """``Response.GetState``: tasks, executors, frameworks and agents."""
    return {
        "get_tasks": v1_get_tasks(s),
        "get_executors": v1_get_executors(s),
        "get_frameworks": v1_get_frameworks(s),
        "get_agents": v1_get_agents(s),
    }


def _scalar_map(amounts: Mapping[str, float]) -> dict[str, dict[str, float]]:
    return {name: {"value": float(v)} for name, v in sorted(amounts.items())}


def v1_get_weights(weights: Mapping[str, float]) -> dict[str, Any]:
    """``Response.GetWeights``: the configured role weights (unlisted roles weigh 1)."""
    return {"weight_infos": [{"weight": float(w), "role": r} for r, w in sorted(weights.items())]}


def v1_quota_config(role: str, q: Quota) -> dict[str, Any]:
    """A ``QuotaConfig``: ``guarantees``/``limits`` maps of name -> ``{"value"}``."""
    return {"role": role, "guarantees": _scalar_map(q.guarantee), "limits": _scalar_map(q.limit)}


def v1_get_quota(quotas: Mapping[str, Quota]) -> dict[str, Any]:
    """``Response.GetQuota``: ``status.configs`` (and the deprecated ``infos``, with the
    guarantee as a Resource list, for older clients)."""
    configs = [v1_quota_config(r, q) for r, q in sorted(quotas.items())]
    infos = [
        {
            "role": r,
            "guarantee": [
                {"name": n, "type": "SCALAR", "scalar": {"value": float(v)}}
                for n, v in sorted(q.guarantee.items())
            ],
        }
        for r, q in sorted(quotas.items())
    ]
    return {"status": {"infos": infos, "configs": configs}}


def v1_get_roles(
    s: MasterState, weights: Mapping[str, float], quotas: Mapping[str, Quota]
) -> dict[str, Any]:
    """``Response.GetRoles``: every role the master knows (frameworks subscribed to it,
    a weight or quota configured, reservations on agents) with its weight, frameworks
    and ``resources`` (allocated plus offered), Mesos' ``Role``."""
    names: set[str] = set(weights) | set(quotas)
    members: dict[str, list[str]] = {}
    for fw in s.frameworks.values():
        for role in fw.info.roles:
            names.add(role)
            members.setdefault(role, []).append(fw.framework_id)
    for a in s.agents.values():
        names.update(r for r in a.total.roles() if r != UNRESERVED)
    used: dict[str, Resources] = {}
    for t in s.tasks.values():
        used[t.role] = used.get(t.role, Resources()) + t.resources
    for o in s.offers.values():
        used[o.role] = used.get(o.role, Resources()) + o.resources
    return {
        "roles": [
            {
                "name": name,
                "weight": float(weights.get(name, 1.0)),
                "frameworks": [v1_id(f) for f in sorted(members.get(name, []))],
                "resources": v1_resources(used.get(name, Resources()), name),
            }
            for name in sorted(names)
        ]
    }


def v1_get_master(
    s: MasterState, leader_info: Mapping[str, Any], elected_at: float | None
) -> dict[str, Any]:
    """``Response.GetMaster`` from the leader's ``leader_info`` (``/master/state``'s):
    ``MasterInfo`` with ``ip`` as Mesos' uint32 (the IPv4 bytes in network order read
    as a little-endian integer, as ``in_addr.s_addr`` on x86), ``start_time``,
    ``elected_time`` (seconds)."""
    address = dict(leader_info.get("address") or {})
    ip_text = str(address.get("ip") or "")
    try:
        ip_int = int.from_bytes(ipaddress.IPv4Address(ip_text).packed, "little")
    except ValueError:
        ip_int = 0
    info: dict[str, Any] = {
        "id": str(leader_info.get("id", s.master_id)),
        "ip": ip_int,
        "port": int(leader_info.get("port") or 0),
        "pid": str(leader_info.get("pid", "")),
        "hostname": str(leader_info.get("hostname", "")),
        "version": MESOS_VERSION,
        "address": address,
        "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}],
    }
    out: dict[str, Any] = {"master_info": info, "start_time": s.started_at + s.wall_offset}
    if elected_at is not None:
        out["elected_time"] = elected_at + s.wall_offset
    return out
