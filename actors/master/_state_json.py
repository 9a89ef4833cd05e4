"""Mesos' read-only HTTP shapes, rendered from the master core (pure).

``/mesos/master/state``, ``/slaves``, ``/frameworks`` and ``/tasks`` answer with the field
names Mesos 1.x uses, so dashboards and scripts written for Mesos read them unchanged.
Fields pydcos has no equivalent for (``git_sha``, executors) are present and empty.
"""

from __future__ import annotations

from typing import Any

from actors.master._master_core import (
    AgentRecord,
    FrameworkRecord,
    MasterCore,
    OfferRecord,
    TaskRecord,
)
from actors.resources import Resources, reserved_resources_json, to_mesos_json

VERSION = "1.11.0"
"""The Mesos API version whose shapes these follow."""


def _pid(address: str, name: str) -> str:
    """Mesos prints actor addresses as ``name@host:port``."""
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return f"{name}@{hostport}"


def task_json(t: TaskRecord, wall: float = 0.0) -> dict[str, Any]:
    status: dict[str, Any] = {"state": t.state.value, "timestamp": t.updated_at + wall}
    if t.healthy is not None:
        status["healthy"] = t.healthy
    out: dict[str, Any] = {
        "id": t.task_id,
        "name": t.task.name,
        "framework_id": t.framework_id,
        "executor_id": "",
        "slave_id": t.agent_id,
        "agent_id": t.agent_id,
        "state": t.state.value,
        "resources": to_mesos_json(t.resources),
        "role": t.role,
        "statuses": [status],
        "labels": [{"key": k, "value": v} for k, v in sorted(t.task.labels.items())],
    }
    if t.task.container:
        out["container"] = {"type": str(t.task.container.get("type", "MESOS"))}
    if t.message:
        out["message"] = t.message
    if t.reason:
        out["reason"] = t.reason
    return out


def offer_json(o: OfferRecord) -> dict[str, Any]:
    return {
        "id": o.offer_id,
        "framework_id": o.framework_id,
        "slave_id": o.agent_id,
        "resources": to_mesos_json(o.resources),
    }


def agent_json(a: AgentRecord, wall: float = 0.0) -> dict[str, Any]:
    free = a.total.saturating_sub(a.used)
    return {
        "id": a.agent_id,
        "pid": _pid(a.address, "slave(1)"),
        "hostname": a.hostname,
        "port": _port(a.address),
        "registered_time": a.registered_at + wall,
        "resources": to_mesos_json(a.total),
        "used_resources": to_mesos_json(a.used),
        "offered_resources": to_mesos_json(a.offered),
        "reserved_resources": reserved_resources_json(a.total),
        "unreserved_resources": to_mesos_json(a.total.unreserved()),
        "available_resources": to_mesos_json(free),
        "attributes": a.attributes.to_dict(),
        "active": a.reachable and not a.recovering,
        "reachable": a.reachable,
        "version": a.version,
        "capabilities": ["MULTI_ROLE"],
        "task_count": len(a.tasks),
    }


def _port(address: str) -> int:
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    try:
        return int(hostport.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def framework_json(core: MasterCore, fw: FrameworkRecord) -> dict[str, Any]:
    used = Resources()
    tasks = []
    for task_id in sorted(fw.tasks):
        t = core.tasks.get((fw.framework_id, task_id))
        if t is not None:
            used = used + t.resources
            tasks.append(task_json(t, core.wall_offset))
    offered = Resources()
    offers = []
    for offer_id in sorted(fw.offers):
        o = core.offers.get(offer_id)
        if o is not None:
            offered = offered + o.resources
            offers.append(offer_json(o))
    completed = [
        task_json(t, core.wall_offset) for t in core.completed if t.framework_id == fw.framework_id
    ]
    info = fw.info
    return {
        "id": fw.framework_id,
        "name": info.name,
        "pid": _pid(fw.address, "scheduler") if fw.address else "",
        "hostname": info.hostname,
        "user": info.user,
        "principal": info.principal,
        "role": info.roles[0] if info.roles else "*",
        "roles": list(info.roles),
        "failover_timeout": info.failover_timeout,
        "checkpoint": True,
        "active": fw.connected and not fw.suppressed,
        "connected": fw.connected,
        "recovered": False,
        "registered_time": fw.registered_at + core.wall_offset,
        "unregistered_time": 0,
        "used_resources": to_mesos_json(used),
        "offered_resources": to_mesos_json(offered),
        "resources": to_mesos_json(used + offered),
        "capabilities": ["MULTI_ROLE", "PARTITION_AWARE"],
        "webui_url": "",
        "tasks": tasks,
        "completed_tasks": completed,
        "unreachable_tasks": [t for t in tasks if t["state"] == "TASK_UNREACHABLE"],
        "offers": offers,
        "executors": [],
    }


def slaves_json(core: MasterCore) -> dict[str, Any]:
    """``/mesos/master/slaves``."""
    return {
        "slaves": [agent_json(a, core.wall_offset) for a in core.agents.values()],
        "recovered_slaves": [],
    }


def frameworks_json(core: MasterCore) -> dict[str, Any]:
    """``/mesos/master/frameworks``."""
    return {
        "frameworks": [framework_json(core, fw) for fw in core.frameworks.values()],
        "completed_frameworks": [],
        "unregistered_frameworks": [],
    }


def tasks_json(
    core: MasterCore,
    limit: int = 100,
    offset: int = 0,
    order: str = "des",
    framework_id: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """``/mesos/master/tasks`` with Mesos' ``limit``, ``offset``, ``order``,
    ``framework_id`` and ``task_id`` query parameters (live tasks, then completed ones)."""
    records: list[TaskRecord] = list(core.tasks.values()) + list(core.completed)
    if framework_id is not None:
        records = [t for t in records if t.framework_id == framework_id]
    if task_id is not None:
        records = [t for t in records if t.task_id == task_id]
    records.sort(key=lambda t: t.updated_at, reverse=(order != "asc"))
    return {"tasks": [task_json(t, core.wall_offset) for t in records[offset : offset + limit]]}


def state_json(
    core: MasterCore,
    *,
    hostname: str,
    address: str,
    leader_address: str,
    elected_time: float | None,
    flags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``/mesos/master/state``: everything, as one document."""
    agents = list(core.agents.values())
    return {
        "version": VERSION,
        "git_sha": "",
        "build_date": "",
        "build_user": "pydcos",
        "id": core.master_id,
        "pid": _pid(address, "master"),
        "hostname": hostname,
        "start_time": core.started_at + core.wall_offset,
        "elected_time": elected_time + core.wall_offset if elected_time is not None else None,
        "leader": _pid(leader_address, "master"),
        "activated_slaves": sum(1 for a in agents if a.reachable and not a.recovering),
        "deactivated_slaves": 0,
        "unreachable_slaves": sum(1 for a in agents if not a.reachable),
        "flags": flags or {},
        "slaves": [agent_json(a, core.wall_offset) for a in agents],
        "frameworks": [framework_json(core, fw) for fw in core.frameworks.values()],
        "completed_frameworks": [],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }
