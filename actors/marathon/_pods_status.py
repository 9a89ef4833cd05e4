"""Pod instances from their members' status updates, and Marathon's ``PodStatus`` JSON.

The core keeps one ``Instance`` per pod instance (id ``<pod>.instance-<uuid>``, stored
and adopted like an app's task); Mesos reports each member (``<instance>.<container>``).
``on_member_update`` records the member's state and, when the instance's aggregate
state or health changes, hands the core ONE update for the instance (no uuid: the
member's own update is acknowledged here), so the core's rules for apps (backoff,
``lastTaskFailure``, rolling-upgrade events, replacement) apply unchanged:

- a member that ends (anything but FINISHED) ends the instance with that state (the
  agent kills the rest of the group, the default executor's rule);
- every member RUNNING: the instance is RUNNING; otherwise it is still STAGING;
- health: every member with a check healthy -> healthy; one unhealthy -> unhealthy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from actors import protocol as p
from actors.task_states import ENDED_STATES, TaskState

from ._app import AppDefinition
from ._events import timestamp
from ._instances import Instance
from ._pods import PodDefinition, is_pod_doc
from ._pods_tasks import is_instance_id, member_ids, split_member

RUNNING = TaskState.RUNNING.value
FINISHED = TaskState.FINISHED.value


@dataclass(slots=True)
class Member:
    """What the core knows of one member task of a pod instance."""

    task_id: str
    state: str
    since: float
    healthy: bool | None = None
    message: str = ""


class _Core(Protocol):
    """The part of ``MarathonState`` this module reads."""

    instances: dict[str, Instance]
    apps: dict[str, AppDefinition]
    versions: dict[str, list[dict[str, Any]]]
    wall: float

    def ack(self, update: p.StatusUpdate) -> None: ...


def members_of(core: Any) -> dict[str, dict[str, Member]]:
    """instance id -> container name -> Member (kept on the core, created on first use)."""
    table: dict[str, dict[str, Member]] | None = core.__dict__.get("pod_members")
    if table is None:
        table = core.__dict__["pod_members"] = {}
    return table


MAX_TERMINATIONS = 10
"""Recent instance terminations kept per pod (``PodStatus.terminationHistory``)."""


def terminations_of(core: Any, pod_id: str) -> deque[dict[str, Any]]:
    """The pod's most recent instance terminations, oldest first (in memory only)."""
    table: dict[str, deque[dict[str, Any]]] = core.__dict__.setdefault("pod_terminations", {})
    if pod_id not in table:
        table[pod_id] = deque(maxlen=MAX_TERMINATIONS)
    return table[pod_id]


def pod_of(core: Any, inst: Instance) -> PodDefinition | None:
    """The pod definition an instance was launched from (its version), else the pod's
    current one."""
    cache: dict[tuple[str, str], PodDefinition] = core.__dict__.setdefault("pod_versions", {})
    key = (inst.app_id, inst.version)
    if key in cache:
        return cache[key]
    found: PodDefinition | None = None
    current = core.apps.get(inst.app_id)
    if isinstance(current, PodDefinition) and current.version == inst.version:
        found = current
    else:
        for doc in core.versions.get(inst.app_id, []):
            if doc.get("version") == inst.version and is_pod_doc(doc):
                try:
                    found = PodDefinition.from_json(doc)
                except Exception:
                    found = None
                break
        if found is None and isinstance(current, PodDefinition):
            found = current
    if found is not None:
        if len(cache) > 1000:
            cache.clear()
        cache[key] = found
    return found


def aggregate(
    pod: PodDefinition | None, members: dict[str, Member]
) -> tuple[str, bool | None, str]:
    """(instance state, instance health, message) from its members' states."""
    names = [c["name"] for c in pod.containers] if pod is not None else list(members)
    seen = [members[n] for n in names if n in members]
    for m in seen:
        if m.state in ENDED_STATES and m.state != FINISHED:
            return m.state, None, f"container {m.task_id}: {m.message or m.state}"
    if seen and len(seen) == len(names) and all(m.state == FINISHED for m in seen):
        return FINISHED, None, "every container finished"
    live = [m for m in seen if m.state != FINISHED]
    if len(seen) == len(names) and live and all(m.state == RUNNING for m in live):
        state = RUNNING
    elif any(m.state == TaskState.STARTING.value for m in seen):
        state = TaskState.STARTING.value
    else:
        state = TaskState.STAGING.value
    checked = (
        {c["name"] for c in pod.containers if c.get("healthCheck")} if pod is not None else set()
    )
    healthy: bool | None = None
    if checked:
        results = [members[n].healthy for n in checked if n in members]
        if any(h is False for h in results):
            healthy = False
        elif len(results) == len(checked) and all(h is True for h in results):
            healthy = True
    return state, healthy, ""


def on_member_update(core: Any, u: p.StatusUpdate) -> p.StatusUpdate | None:
    """Route a status update: ``u`` itself (not a pod member's, or a member of an
    instance the core does not know: the core's unknown-task rules apply), the pod
    instance's new aggregate update, or None (nothing changed for the instance)."""
    if is_instance_id(u.task_id):
        # No Mesos task has an instance's id: an explicit reconciliation answer about
        # an id the master never knew. The members' own answers tell the truth.
        core.ack(u)
        return None
    split = split_member(u.task_id)
    if split is None:
        return u
    instance_id, name = split
    inst: Instance | None = core.instances.get(instance_id)
    if inst is None:
        members_of(core).pop(instance_id, None)
        return u
    table = members_of(core).setdefault(instance_id, {})
    old = table.get(name)
    healthy = u.healthy if u.healthy is not None else (old.healthy if old else None)
    since = old.since if old is not None and old.state == u.state else core.wall
    table[name] = Member(u.task_id, u.state, since, healthy, u.message)
    core.ack(u)
    state, inst_healthy, message = aggregate(pod_of(core, inst), table)
    if state in ENDED_STATES:
        members_of(core).pop(instance_id, None)
        terminations_of(core, inst.app_id).append(
            {
                "instanceID": instance_id,
                "startedAt": timestamp(inst.started_at or inst.staged_at),
                "terminatedAt": timestamp(core.wall),
                "message": message or u.message or state,
            }
        )
    elif (
        inst.heard
        and state == inst.state
        and (inst_healthy is None or inst_healthy == inst.healthy)
    ):
        return None
    return p.StatusUpdate(
        framework_id=u.framework_id,
        task_id=instance_id,
        agent_id=u.agent_id,
        state=state,
        uuid="",
        timestamp=u.timestamp,
        reason=u.reason,
        message=message or u.message,
        healthy=inst_healthy,
        source=u.source,
    )


def task_ids(core: Any, inst: Instance) -> list[str]:
    """The Mesos tasks behind an instance: a pod instance's members, else the task."""
    if not is_instance_id(inst.task_id):
        return [inst.task_id]
    known = [m.task_id for m in members_of(core).get(inst.task_id, {}).values()]
    return sorted(set(known) | set(member_ids(pod_of(core, inst), inst.task_id))) or [inst.task_id]


def reconcile_ids(core: Any) -> list[str]:
    """Every Mesos task id the core's instances stand for (explicit reconciliation)."""
    out: list[str] = []
    for inst in core.instances.values():
        out.extend(task_ids(core, inst))
    return out


# ------------------------------------------------------------------------ PodStatus


def instance_status(inst: Instance, pod: PodDefinition, members: dict[str, Member]) -> str:
    """Marathon's PodInstanceState: PENDING, STAGING, STABLE, DEGRADED, TERMINAL."""
    if inst.killing or inst.state in ENDED_STATES:
        return "TERMINAL"
    if inst.state != RUNNING:
        return "STAGING"
    if pod.health_checks and inst.healthy is not True:
        return "DEGRADED"
    return "STABLE"


def _container_json(
    c: dict[str, Any], m: Member | None, inst: Instance, ports: dict[str, int], wall: float
) -> dict[str, Any]:
    since = timestamp(m.since if m is not None else inst.staged_at)
    eps = []
    for e in c.get("endpoints", []):
        doc: dict[str, Any] = {"name": e["name"], "allocatedHostPort": ports.get(e["name"], 0)}
        if c.get("healthCheck") and m is not None and m.healthy is not None:
            doc["healthy"] = m.healthy
        eps.append(doc)
    out: dict[str, Any] = {
        "name": c["name"],
        "status": m.state if m is not None else "TASK_STAGING",
        "statusSince": since,
        "conditions": [],
        "containerId": f"{inst.task_id}.{c['name']}",
        "endpoints": eps,
        "resources": {k: c["resources"][k] for k in ("cpus", "mem", "disk", "gpus")},
        "lastUpdated": timestamp(wall),
        "lastChanged": since,
    }
    if m is not None and m.message:
        out["message"] = m.message
    return out


def pod_instance_json(core: Any, inst: Instance, current: PodDefinition) -> dict[str, Any]:
    pod = pod_of(core, inst) or current
    members = members_of(core).get(inst.task_id, {})
    names = [e["name"] for c in pod.containers for e in c.get("endpoints", [])]
    ports = dict(zip(names, inst.ports, strict=False))
    wall = core.wall
    since = timestamp(inst.started_at or inst.staged_at)
    return {
        "id": inst.task_id,
        "status": instance_status(inst, pod, members),
        "statusSince": since,
        "conditions": [],
        "agentHostname": inst.host,
        "agentId": inst.agent_id,
        "resources": {"cpus": pod.cpus, "mem": pod.mem, "disk": pod.disk, "gpus": pod.gpus},
        "networks": [],
        "containers": [
            _container_json(c, members.get(c["name"]), inst, ports, wall) for c in pod.containers
        ],
        "specReference": f"/v2/pods{pod.id}::versions/{inst.version}",
        "lastUpdated": timestamp(wall),
        "lastChanged": since,
    }


def pod_status_json(
    core: Any, pod: PodDefinition, instances: list[Instance], deleting: bool = False
) -> dict[str, Any]:
    """Marathon's PodStatus (``GET /v2/pods/{id}::status``)."""
    docs = [pod_instance_json(core, i, pod) for i in instances]
    stable = sum(1 for d in docs if d["status"] == "STABLE")
    if deleting:
        status, message = "TERMINAL", "the pod is being deleted"
    elif stable >= pod.instances and len(docs) >= pod.instances:
        status, message = "STABLE", ""
    else:
        status = "DEGRADED"
        message = f"{stable} of {pod.instances} instance(s) stable"
    changed = [i.started_at or i.staged_at for i in instances]
    since = timestamp(max(changed)) if changed else timestamp(core.wall)
    out: dict[str, Any] = {
        "id": pod.id,
        "spec": pod.to_json(),
        "status": status,
        "statusSince": since,
        "instances": docs,
        "terminationHistory": list(reversed(terminations_of(core, pod.id))),
        "lastUpdated": timestamp(core.wall),
        "lastChanged": since,
    }
    if message:
        out["message"] = message
    return out
