"""Mesos v1 JSON <-> pydcos' records, both ways, pure (no I/O, no clock).

Outbound (events): ``v1_offer``, ``v1_status``, shaped as Mesos' ``mesos.proto``/
``scheduler.proto`` JSON (``{"value": ...}`` ids, typed ``Resource`` entries, base64
``uuid``) with the master's v1 builders (``actors.master.v1_resources``...), so the
operator API and the scheduler API print one shape. Inbound (calls): ``framework_info_from_v1``,
``task_from_v1``, ``resources_from_v1``... validate as they convert: a bad value raises
``BadCall`` naming its JSON path (``task_infos[0].resources[1].scalar.value``) and the
value, so the scheduler API answers 400 and launches nothing.

What pydcos cannot run is refused, never silently dropped. A ``LAUNCH_GROUP`` is a task
group the agent runs as Mesos' default executor does (``launch_group_from_v1``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.master import uuid_from_v1, v1_attributes, v1_id, v1_resources, v1_task_status
from actors.mesos_api._errors import BadCall
from actors.resources import Attributes, ResourceError, Resources, v1_resource_label

__all__ = [
    "LaunchedTask",
    "framework_info_from_v1",
    "id_value",
    "launch_group_from_v1",
    "master_info",
    "offer_role",
    "plain_v1_resources",
    "resources_from_v1",
    "task_from_v1",
    "uuid_from_call",
    "v1_attributes",
    "v1_offer",
    "v1_resources",
    "v1_status",
]

# ------------------------------------------------------------------------ helpers


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadCall(f"{where}: {value!r:.80} is not a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadCall(f"{where}: {value!r:.80} is not a JSON array")
    return value


def _str(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise BadCall(f"{where}: {value!r:.80} must be a non-empty string")
    return value


def _num(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadCall(f"{where}: {value!r:.80} is not a finite number")
    if value < minimum:
        raise BadCall(f"{where}: {value!r} must be >= {minimum:g}")
    return float(value)


def _int(value: Any, where: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    # proto3 JSON may carry 64-bit integers as strings.
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadCall(f"{where}: {value!r:.80} is not an integer in [{lo}, {hi}]")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadCall(f"{where}: {value!r:.80} is not true or false")
    return value


def id_value(value: Any, where: str) -> str:
    """Mesos' ``{"value": "..."}`` id -> the string."""
    return _str(_obj(value, where).get("value"), f"{where}.value")


def _one_of(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadCall(f"{where}: {value!r:.60} is not one of {', '.join(allowed)}")
    return str(value)


# ------------------------------------------------------------------------ resources


def resources_from_v1(value: Any, where: str) -> Resources:
    """Mesos' ``repeated Resource`` JSON -> ``Resources``; entries of one name and role
    add up (ranges merge), as in Mesos."""
    scalars: dict[str, float] = {}
    ranges: dict[str, list[list[int]]] = {}
    sets: dict[str, set[str]] = {}
    for i, raw in enumerate(_list(value, where)):
        at = f"{where}[{i}]"
        r = _obj(raw, at)
        name = _str(r.get("name"), f"{at}.name")
        role = "*"
        if r.get("reservations"):
            res = _list(r["reservations"], f"{at}.reservations")
            last = _obj(res[-1], f"{at}.reservations[{len(res) - 1}]")
            role = _str(last.get("role"), f"{at}.reservations[{len(res) - 1}].role")
        elif r.get("role") is not None:
            role = _str(r["role"], f"{at}.role")
        label = name if role == "*" else f"{name}({role})"
        try:  # dynamic reservations and persistent volumes (issue 23)
            label = v1_resource_label(r, at)
        except ResourceError as exc:
            raise BadCall(str(exc)) from None
        kind = r.get("type", "SCALAR")
        if kind == "SCALAR":
            v = _num(_obj(r.get("scalar"), f"{at}.scalar").get("value"), f"{at}.scalar.value")
            scalars[label] = scalars.get(label, 0.0) + v
        elif kind == "RANGES":
            rs = _list(_obj(r.get("ranges"), f"{at}.ranges").get("range"), f"{at}.ranges.range")
            for j, span in enumerate(rs):
                s = _obj(span, f"{at}.ranges.range[{j}]")
                b = _int(s.get("begin"), f"{at}.ranges.range[{j}].begin")
                e = _int(s.get("end"), f"{at}.ranges.range[{j}].end")
                if e < b:
                    raise BadCall(f"{at}.ranges.range[{j}]: end {e} is below begin {b}")
                ranges.setdefault(label, []).append([b, e])
        elif kind == "SET":
            items = _list(_obj(r.get("set"), f"{at}.set").get("item"), f"{at}.set.item")
            sets.setdefault(label, set()).update(
                _str(x, f"{at}.set.item[{k}]") for k, x in enumerate(items)
            )
        else:
            raise BadCall(f"{at}.type: {kind!r:.40} is not one of SCALAR, RANGES, SET")
    doc: dict[str, Any] = dict(scalars)
    doc.update({k: sorted(v) for k, v in ranges.items()})
    doc.update({k: sorted(v) for k, v in sets.items()})
    try:
        return Resources.from_dict(doc)
    except ResourceError as exc:
        raise BadCall(f"{where}: {exc}") from None


# ------------------------------------------------------------------------ events


def v1_offer(offer: p.Offer, role: str) -> dict[str, Any]:
    """One ``p.Offer`` -> Mesos' ``Offer`` JSON, allocated to ``role``. ``url`` is the
    agent's ``slave(1)`` endpoint at its advertised address (port 0 when the offer
    carries none)."""
    ip = offer.ip or "127.0.0.1"
    port = offer.port
    return {
        "id": v1_id(offer.offer_id),
        "framework_id": v1_id(offer.framework_id),
        "agent_id": v1_id(offer.agent_id),
        "hostname": offer.hostname,
        "url": {
            "scheme": "http",
            "address": {"hostname": offer.hostname, "ip": ip, "port": port},
            "path": "/slave(1)",
        },
        "resources": plain_v1_resources(offer.resources, allocated_to=role),
        "attributes": v1_attributes(Attributes.from_dict(offer.attributes))
        if offer.attributes
        else [],
        "allocation_info": {"role": role},
    }


def plain_v1_resources(
    resources: dict[str, Any], allocated_to: str | None = None
) -> list[dict[str, Any]]:
    """``actors.master.v1_resources`` straight from the ``Resources.to_dict()`` form an
    offer travels in (the same entries in the same order), without parsing it into a
    ``Resources`` first: an OFFERS event of 150 agents costs ~1 ms instead of ~4 ms on
    the way to the framework. The master already validated what it offers."""
    if any("," in label or "[" in label for label in resources):  # reserved/volumes
        return v1_resources(Resources.from_dict(resources), allocated_to)
    out: list[tuple[str, dict[str, Any]]] = []
    for label, value in resources.items():
        name, paren, rest = label.partition("(")
        role = rest[:-1] if paren else "*"
        if isinstance(value, list):
            if value and isinstance(value[0], str):
                entry: dict[str, Any] = {"name": name, "type": "SET", "set": {"item": value}}
            else:
                spans = [{"begin": b, "end": e} for b, e in value]
                entry = {"name": name, "type": "RANGES", "ranges": {"range": spans}}
        else:
            entry = {"name": name, "type": "SCALAR", "scalar": {"value": float(value)}}
        entry["role"] = role
        if role != "*":
            entry["reservations"] = [{"type": "STATIC", "role": role}]
        if allocated_to is not None:
            entry["allocation_info"] = {"role": allocated_to}
        out.append((role, entry))
    out.sort(key=lambda pair: pair[0])  # stable: by role, kinds in to_dict order within
    return [entry for _, entry in out]


def offer_role(offer: p.Offer, roles: list[str]) -> str:
    """The role an offer is allocated to: its reservation's, else the framework's first."""
    for label in offer.resources:
        if "(" in label:
            return label.partition("(")[2].partition(")")[0].partition(",")[0]
    return roles[0] if roles else "*"


def uuid_from_call(value: Any, where: str) -> str:
    """An ACKNOWLEDGE's base64 ``uuid`` -> the update's; anything else is a ``BadCall``."""
    try:
        return uuid_from_v1(_str(value, where))
    except ValueError as exc:
        raise BadCall(f"{where}: {exc}") from None


def v1_status(u: p.StatusUpdate) -> dict[str, Any]:
    """A ``p.StatusUpdate`` -> Mesos' ``TaskStatus`` JSON (``uuid`` only when the update
    must be acknowledged, as Mesos)."""
    return v1_task_status(u)


def master_info(master_id: str, hostname: str, ip: str, port: int, version: str) -> dict[str, Any]:
    """Mesos' ``MasterInfo`` JSON (SUBSCRIBED, and the ZooKeeper entry pymesos reads)."""
    packed = 0
    try:
        a, b, c, d = (int(x) for x in ip.split("."))
        packed = a | b << 8 | c << 16 | d << 24  # network order, as Mesos stores it
    except ValueError:
        pass
    return {
        "id": master_id,
        "ip": packed,
        "port": port,
        "pid": f"master@{ip}:{port}",
        "hostname": hostname,
        "version": version,
        "address": {"hostname": hostname, "ip": ip, "port": port},
    }


# ------------------------------------------------------------------------ framework


def framework_info_from_v1(value: Any, where: str = "subscribe.framework_info") -> p.FrameworkInfo:
    """Mesos' ``FrameworkInfo`` JSON -> ``p.FrameworkInfo``: ``roles`` (MULTI_ROLE) or the
    old single ``role``; ``failover_timeout`` in seconds; the id when re-subscribing."""
    d = _obj(value, where)
    name = _str(d.get("name"), f"{where}.name")
    user = _str(d.get("user") or "root", f"{where}.user")  # "" (pymesos' default): root
    if d.get("roles") is not None:
        roles = [
            _str(r, f"{where}.roles[{i}]")
            for i, r in enumerate(_list(d["roles"], f"{where}.roles"))
        ]
        if not roles:
            raise BadCall(f"{where}.roles: must name at least one role")
    else:
        roles = [_str(d.get("role", "*"), f"{where}.role")]
    timeout = _num(d.get("failover_timeout", 0.0), f"{where}.failover_timeout")
    fid = id_value(d["id"], f"{where}.id") if d.get("id") is not None else None
    hostname = d.get("hostname", "")
    principal = d.get("principal")
    return p.FrameworkInfo(
        name=name,
        roles=roles,
        failover_timeout=timeout,
        framework_id=fid,
        user=user,
        hostname=_str(hostname, f"{where}.hostname", empty=True),
        principal=_str(principal, f"{where}.principal") if principal is not None else None,
    )


# ------------------------------------------------------------------------ tasks


def _labels(value: Any, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    items = _list(_obj(value, where).get("labels", []), f"{where}.labels")
    for i, item in enumerate(items):
        kv = _obj(item, f"{where}.labels[{i}]")
        key = _str(kv.get("key"), f"{where}.labels[{i}].key")
        out[key] = _str(kv.get("value", ""), f"{where}.labels[{i}].value", empty=True)
    return out


def _command(value: Any, where: str) -> p.CommandSpec:
    d = _obj(value, where)
    shell = _bool(d.get("shell", True), f"{where}.shell")
    cmd = d.get("value")
    if cmd is not None:
        _str(cmd, f"{where}.value", empty=not shell)
    arguments = [
        _str(a, f"{where}.arguments[{i}]", empty=True)
        for i, a in enumerate(_list(d.get("arguments", []), f"{where}.arguments"))
    ]
    env: dict[str, str] = {}
    envd = d.get("environment")
    if envd is not None:
        vs = _list(
            _obj(envd, f"{where}.environment").get("variables", []),
            f"{where}.environment.variables",
        )
        for i, v in enumerate(vs):
            at = f"{where}.environment.variables[{i}]"
            var = _obj(v, at)
            if var.get("type", "VALUE") != "VALUE":
                raise BadCall(f"{at}.type: {var.get('type')!r:.40} is not supported (only VALUE)")
            env[_str(var.get("name"), f"{at}.name")] = _str(
                var.get("value", ""), f"{at}.value", empty=True
            )
    uris = []
    for i, u in enumerate(_list(d.get("uris", []), f"{where}.uris")):
        at = f"{where}.uris[{i}]"
        ud = _obj(u, at)
        uris.append(
            p.UriInfo(
                value=_str(ud.get("value"), f"{at}.value"),
                executable=_bool(ud.get("executable", False), f"{at}.executable"),
                extract=_bool(ud.get("extract", True), f"{at}.extract"),
            )
        )
    user = d.get("user")
    if user is not None:
        _str(user, f"{where}.user")
    if shell:
        if not cmd:
            raise BadCall(f"{where}.value: required when shell is true")
        return p.CommandSpec(value=cmd, shell=True, env=env, uris=uris, user=user)
    # shell=false: Mesos execs ``value`` with ``arguments`` as argv (argv[0] first).
    argv = [cmd, *arguments[1:]] if cmd else arguments
    if not argv:
        raise BadCall(f"{where}: shell false needs a value or arguments")
    return p.CommandSpec(value=None, args=argv, shell=False, env=env, uris=uris, user=user)


_HEALTH_TYPES = ("COMMAND", "HTTP", "TCP")


def _health_check(value: Any, where: str) -> p.HealthCheckInfo:
    d = _obj(value, where)
    kind = _one_of(d.get("type"), f"{where}.type", _HEALTH_TYPES)
    common: dict[str, Any] = {
        "delay_seconds": _num(d.get("delay_seconds", 15.0), f"{where}.delay_seconds"),
        "interval_seconds": _num(d.get("interval_seconds", 10.0), f"{where}.interval_seconds"),
        "timeout_seconds": _num(d.get("timeout_seconds", 20.0), f"{where}.timeout_seconds"),
        "grace_period_seconds": _num(
            d.get("grace_period_seconds", 10.0), f"{where}.grace_period_seconds"
        ),
        "max_consecutive_failures": _int(
            d.get("consecutive_failures", 3), f"{where}.consecutive_failures", 0, 1_000_000
        ),
    }
    if kind == "COMMAND":
        c = _command(d.get("command"), f"{where}.command")
        line = c.value if c.shell else " ".join(c.args)
        return p.HealthCheckInfo(protocol="COMMAND", command=line, port_index=None, **common)
    if kind == "HTTP":
        h = _obj(d.get("http"), f"{where}.http")
        scheme = _one_of(h.get("scheme", "http"), f"{where}.http.scheme", ("http", "https"))
        return p.HealthCheckInfo(
            protocol="HTTPS" if scheme == "https" else "HTTP",
            path=_str(h.get("path", "/"), f"{where}.http.path"),
            port=_int(h.get("port"), f"{where}.http.port", 1, 65535),
            port_index=None,
            **common,
        )
    t = _obj(d.get("tcp"), f"{where}.tcp")
    return p.HealthCheckInfo(
        protocol="TCP",
        port=_int(t.get("port"), f"{where}.tcp.port", 1, 65535),
        port_index=None,
        **common,
    )


_CONTAINER_TYPES = ("MESOS", "DOCKER")
_DOCKER_NETWORKS = ("HOST", "BRIDGE", "NONE", "USER")


def _container(value: Any, where: str) -> p.ContainerInfo:
    d = _obj(value, where)
    kind = _one_of(d.get("type", "MESOS"), f"{where}.type", _CONTAINER_TYPES)
    volumes = []
    for i, v in enumerate(_list(d.get("volumes", []), f"{where}.volumes")):
        at = f"{where}.volumes[{i}]"
        vd = _obj(v, at)
        volumes.append(
            p.VolumeInfo(
                container_path=_str(vd.get("container_path"), f"{at}.container_path"),
                host_path=_str(vd.get("host_path"), f"{at}.host_path"),
                mode=_one_of(vd.get("mode", "RW"), f"{at}.mode", ("RW", "RO")),
            )
        )
    if kind == "MESOS":
        if d.get("docker") is not None:
            raise BadCall(f"{where}.docker: only for type DOCKER (type is MESOS)")
        mesos = d.get("mesos")
        image = None
        if mesos is not None and _obj(mesos, f"{where}.mesos").get("image") is not None:
            image = _ucr_image(mesos["image"], f"{where}.mesos.image")
        return p.ContainerInfo(type="MESOS", network="HOST", docker=image, volumes=volumes)
    dk = _obj(d.get("docker"), f"{where}.docker")
    network = _one_of(dk.get("network", "HOST"), f"{where}.docker.network", _DOCKER_NETWORKS)
    mappings = []
    for i, m in enumerate(_list(dk.get("port_mappings", []), f"{where}.docker.port_mappings")):
        at = f"{where}.docker.port_mappings[{i}]"
        md = _obj(m, at)
        mappings.append(
            p.PortMapping(
                container_port=_int(md.get("container_port"), f"{at}.container_port", 0, 65535),
                host_port=_int(md.get("host_port"), f"{at}.host_port", 0, 65535),
                protocol=_one_of(md.get("protocol", "tcp"), f"{at}.protocol", ("tcp", "udp")),
            )
        )
    params = []
    for i, prm in enumerate(_list(dk.get("parameters", []), f"{where}.docker.parameters")):
        at = f"{where}.docker.parameters[{i}]"
        pd = _obj(prm, at)
        params.append(
            p.Parameter(
                _str(pd.get("key"), f"{at}.key"),
                _str(pd.get("value", ""), f"{at}.value", empty=True),
            )
        )
    docker = p.DockerInfo(
        image=_str(dk.get("image"), f"{where}.docker.image"),
        privileged=_bool(dk.get("privileged", False), f"{where}.docker.privileged"),
        parameters=params,
        force_pull_image=_bool(
            dk.get("force_pull_image", False), f"{where}.docker.force_pull_image"
        ),
    )
    return p.ContainerInfo(
        type="DOCKER", network=network, docker=docker, port_mappings=mappings, volumes=volumes
    )


def _ucr_image(value: Any, where: str) -> p.DockerInfo:
    """Mesos' Image of a MESOS container (the universal runtime runs it, no Docker
    engine): a DOCKER image by ``docker.name``, pulled again when ``cached`` is false.
    APPC images are not run."""
    d = _obj(value, where)
    _one_of(d.get("type"), f"{where}.type", ("DOCKER",))
    name = _str(_obj(d.get("docker"), f"{where}.docker").get("name"), f"{where}.docker.name")
    cached = _bool(d.get("cached", True), f"{where}.cached")
    return p.DockerInfo(image=name, force_pull_image=not cached)


def _discovery(value: Any, where: str) -> p.DiscoveryInfo:
    d = _obj(value, where)
    ports = []
    pd = d.get("ports")
    if pd is not None:
        for i, port in enumerate(
            _list(_obj(pd, f"{where}.ports").get("ports", []), f"{where}.ports.ports")
        ):
            at = f"{where}.ports.ports[{i}]"
            pp = _obj(port, at)
            name = pp.get("name")
            ports.append(
                p.DiscoveryPort(
                    number=_int(pp.get("number"), f"{at}.number", 0, 65535),
                    name=_str(name, f"{at}.name") if name is not None else None,
                    protocol=_one_of(pp.get("protocol", "tcp"), f"{at}.protocol", ("tcp", "udp")),
                    labels=_labels(pp["labels"], f"{at}.labels") if pp.get("labels") else {},
                )
            )
    return p.DiscoveryInfo(name=_str(d.get("name", ""), f"{where}.name", empty=True), ports=ports)


@dataclass(frozen=True, slots=True)
class LaunchedTask:
    """A converted task and what the scheduler API remembers of it."""

    task: p.TaskInfo
    """The task to launch (its resources include its executor's)."""
    executor_id: str
    """Mesos' executor id: the custom executor's, else the task id (command executor)."""
    resources: Resources = field(default_factory=Resources)
    """What it takes from the offers."""


def task_from_v1(value: Any, where: str, group_id: str = "") -> LaunchedTask:
    """Mesos' ``TaskInfo`` JSON -> ``p.TaskInfo``. A task with a custom ``executor`` and
    no command runs the executor's command in the task's place (pydcos agents have no
    executor API: the executor process is the task); its resources add to the task's.
    ``group_id``: a member of a LAUNCH_GROUP (no executor of its own, as Mesos)."""
    if group_id and isinstance(value, dict) and value.get("executor") is not None:
        raise BadCall(f"{where}.executor: a task of a task group has no executor (as Mesos)")
    try:
        lt = _task_from_v1(value, where)
    except p.TaskDescriptionError as exc:
        raise BadCall(f"{where}: {exc}") from None
    if not group_id:
        return lt
    return LaunchedTask(dataclasses.replace(lt.task, group_id=group_id), group_id, lt.resources)


def launch_group_from_v1(op: dict[str, Any], at: str) -> tuple[str, list[Any], Resources]:
    """A v1 ``LAUNCH_GROUP`` operation -> (group id = its executor id, the task JSONs,
    the executor's resources)."""
    lg = _obj(op.get("launch_group"), f"{at}.launch_group")
    ex = _obj(lg.get("executor"), f"{at}.launch_group.executor")
    group_id = id_value(ex.get("executor_id"), f"{at}.launch_group.executor.executor_id")
    kind = ex.get("type", "DEFAULT")
    if kind != "DEFAULT":
        raise BadCall(f"{at}.launch_group.executor.type: {kind!r:.40}: only DEFAULT runs groups")
    res = resources_from_v1(ex.get("resources", []), f"{at}.launch_group.executor.resources")
    tg = _obj(lg.get("task_group"), f"{at}.launch_group.task_group")
    tasks = _list(tg.get("tasks"), f"{at}.launch_group.task_group.tasks")
    if not tasks:
        raise BadCall(f"{at}.launch_group.task_group.tasks: a task group needs a task")
    return group_id, tasks, res


def _task_from_v1(value: Any, where: str) -> LaunchedTask:
    d = _obj(value, where)
    task_id = id_value(d.get("task_id"), f"{where}.task_id")
    agent_id = id_value(d.get("agent_id"), f"{where}.agent_id")
    name = _str(d.get("name", task_id), f"{where}.name", empty=True) or task_id
    res = resources_from_v1(d.get("resources", []), f"{where}.resources")
    command = _command(d["command"], f"{where}.command") if d.get("command") is not None else None
    container = (
        _container(d["container"], f"{where}.container") if d.get("container") is not None else None
    )
    executor_id = task_id
    ex = d.get("executor")
    if ex is not None:
        if command is not None:
            raise BadCall(f"{where}: set command or executor, not both (as Mesos)")
        exd = _obj(ex, f"{where}.executor")
        executor_id = id_value(exd.get("executor_id"), f"{where}.executor.executor_id")
        command = _command(exd.get("command"), f"{where}.executor.command")
        if exd.get("container") is not None and container is None:
            container = _container(exd["container"], f"{where}.executor.container")
        if exd.get("resources"):
            res = res + resources_from_v1(exd["resources"], f"{where}.executor.resources")
    if command is None and (container is None or container.docker is None):
        raise BadCall(f"{where}: needs a command, an executor, or a container image")
    if not res:
        raise BadCall(f"{where}.resources: must not be empty")
    checks = []
    if d.get("health_check") is not None:
        checks.append(_health_check(d["health_check"], f"{where}.health_check"))
    grace = 3.0
    kp = d.get("kill_policy")
    if kp is not None:
        gp = _obj(
            _obj(kp, f"{where}.kill_policy").get("grace_period"),
            f"{where}.kill_policy.grace_period",
        )
        grace = _int(gp.get("nanoseconds"), f"{where}.kill_policy.grace_period.nanoseconds") / 1e9
    labels = _labels(d["labels"], f"{where}.labels") if d.get("labels") is not None else {}
    discovery = (
        _discovery(d["discovery"], f"{where}.discovery") if d.get("discovery") is not None else None
    )
    limits = _limits(d["limits"], f"{where}.limits", res) if d.get("limits") is not None else {}
    task = p.TaskInfo(
        task_id=task_id,
        name=name,
        agent_id=agent_id,
        resources=res.to_dict(),
        command=command,
        container=container,
        health_checks=checks,
        kill_grace_period=grace,
        labels=labels,
        discovery=discovery,
        limits=limits,
    )
    return LaunchedTask(task, executor_id, res)


_INFINITY = ("Infinity", "inf", "infinity")
"""How a JSON client writes an unlimited ``Value.Scalar`` (protobuf's JSON mapping of a
double infinity is the string ``"Infinity"``)."""


def _limits(value: Any, where: str, res: Resources) -> dict[str, float]:
    """``TaskInfo.limits`` (Mesos 1.9+: ``map<string, Value.Scalar>``, as JSON
    ``{"cpus": {"value": 2}, "mem": {"value": "Infinity"}}``): only cpus and mem, each
    >= the task's request (Mesos' master validation)."""
    out: dict[str, float] = {}
    for key, scalar in _obj(value, where).items():
        at = f"{where}.{key}"
        if key not in p.LIMIT_KEYS:
            raise BadCall(f"{at}: only {' and '.join(p.LIMIT_KEYS)} take limits (as Mesos)")
        raw = _obj(scalar, at).get("value")
        limit = math.inf if raw in _INFINITY else _num(raw, f"{at}.value")
        want = res.scalar(key)
        if limit < want:
            raise BadCall(f"{at}.value: {limit:g} is below the task's {key} {want:g}")
        out[key] = limit
    return out
