"""Dynamic reservations and persistent volumes on the master (issue 23), pure.

Mesos' offer operations RESERVE, UNRESERVE, CREATE and DESTROY change an agent's
*total*: RESERVE turns unreserved ``cpus`` into ``cpus(web,alice)``, CREATE turns reserved
disk into a volume ``disk(web,alice)[id:path]``, the other two go back. The agent's total
with those applied is what the registry keeps (``AgentRecord.durable``), so they survive a
failover; the dynamic part (``Resources.dynamic()``) is also sent to the agent
(``CheckpointResources``) after every change and at (re-)registration, so an agent
restarted with ``--resources`` that no longer hold them refuses to start.

The same checks serve a framework's ``Accept`` (``available`` = its offers) and the
operator (``available`` = what no task uses; outstanding offers of the agent are rescinded
first, as Mesos does). A refused operation raises :class:`StorageRefused` naming the
resource; nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors import protocol as p
from actors.master import _watch
from actors.master._effects import Effect, Persist, Send
from actors.master._errors import MasterError
from actors.master._state import AgentRecord, FrameworkRecord, MasterState
from actors.resources import (
    ResourceError,
    Resources,
    apply_checkpointed,
    resources_from_v1,
)

STORAGE_OPS = frozenset({"RESERVE", "UNRESERVE", "CREATE", "DESTROY"})
"""Offer operations handled here."""

OPERATOR_STORAGE_CALLS = {
    "RESERVE_RESOURCES": "RESERVE",
    "UNRESERVE_RESOURCES": "UNRESERVE",
    "CREATE_VOLUMES": "CREATE",
    "DESTROY_VOLUMES": "DESTROY",
}
"""Mesos v1 operator calls -> the offer operation they apply."""


class StorageRefused(MasterError):
    """A RESERVE/UNRESERVE/CREATE/DESTROY the master refuses; names the resource."""


# ------------------------------------------------------------------------ pure checks


def plan(
    op: str, agent: AgentRecord, res: Resources, available: Resources, in_use: Resources
) -> tuple[Resources, Resources]:
    """Check one operation on ``agent``; ``(available after, agent total after)``.

    ``available`` is what the operation may consume (offers, or the agent's free part),
    ``in_use`` what tasks on the agent use (to say why something cannot be taken)."""
    where = f"{op} on agent {agent.agent_id}"
    if not res:
        raise StorageRefused(f"{where}: resources must not be empty")
    total = agent.total
    try:
        if op == "RESERVE":
            entries = list(res.entries())
            for e in entries:
                if e.reservation is None or e.volume is not None:
                    raise StorageRefused(
                        f"{where}: {e.label} must be a dynamic reservation "
                        "(name(role,principal)) without a volume"
                    )
            before = res.base_form()
            if not available.contains(before):
                raise StorageRefused(
                    f"{where}: cannot reserve {res}: the agent has only {available.unreserved()}"
                    f" unreserved and available (it needs {before})"
                )
            return available - before + res, total - before + res
        if op == "UNRESERVE":
            after = res.unreserve_dynamic()
            if not total.contains(res):
                raise StorageRefused(f"{where}: {res} is not reserved on the agent")
            if not available.contains(res):
                busy = in_use.dynamic()
                raise StorageRefused(
                    f"{where}: cannot unreserve {res}: in use by a task ({busy or in_use})"
                )
            return available - res + after, total - res + after
        if op == "CREATE":
            vols = res.volumes()
            if len(vols) != len(list(res.entries())):
                raise StorageRefused(
                    f"{where}: {res} must be persistent volumes (disk(role,...)[id:path])"
                )
            seen = {v.volume.persistence_id for v in total.volumes() if v.volume}
            for v in vols:
                assert v.volume is not None
                pid = v.volume.persistence_id
                if pid in seen:
                    raise StorageRefused(
                        f"{where}: persistence id {pid!r} is already used on the agent"
                    )
                seen.add(pid)
            disk = res.strip_volumes()
            if not available.contains(disk):
                ids = ", ".join(str(v.volume.persistence_id) for v in vols if v.volume)
                raise StorageRefused(
                    f"{where}: volume {ids}"
                    f" needs reserved disk {disk} that is not available (reserve it first;"
                    f" available: {available.reserved() or 'no reserved resources'})"
                )
            return available - disk + res, total - disk + res
        if op == "DESTROY":
            vols = res.volumes()
            if not vols or len(vols) != len(list(res.entries())):
                raise StorageRefused(f"{where}: {res} must be persistent volumes")
            if not total.contains(res):
                raise StorageRefused(f"{where}: volume {res} does not exist on the agent")
            if not available.contains(res):
                raise StorageRefused(f"{where}: volume {res} is in use by a task")
            disk = res.strip_volumes()
            return available - res + disk, total - res + disk
    except ResourceError as exc:
        raise StorageRefused(f"{where}: {exc}") from None
    raise StorageRefused(f"operation type {op!r:.40} is not a storage operation")


def check_framework(fw: FrameworkRecord, op: str, res: Resources) -> None:
    """A framework may only touch reservations of its roles, and reserve with its own
    principal (Mesos' authorization of RESERVE without ACLs)."""
    for e in res.entries():
        if e.role not in fw.info.roles:
            raise StorageRefused(
                f"{op}: {e.label}: role {e.role!r} is not one of the framework's roles "
                f"{list(fw.info.roles)}"
            )
        if (
            op == "RESERVE"
            and fw.info.principal
            and e.reservation is not None
            and e.reservation.principal not in ("", fw.info.principal)
        ):
            raise StorageRefused(
                f"{op}: {e.label}: principal {e.reservation.principal!r} is not the "
                f"framework's principal {fw.info.principal!r}"
            )


# ------------------------------------------------------------------------ effects


def commit(s: MasterState, agent: AgentRecord, total: Resources, out: list[Effect]) -> None:
    """Install a new total: persisted before anything is answered, told to the agent."""
    agent.total = total
    s.dirty = True
    agent.persisted = agent.durable()  # what the registry holds from now on
    out.append(Persist("agents", agent.agent_id, agent.persisted))
    if agent.reachable and not agent.recovering:
        out.append(Send(agent.address, checkpoint_message(agent)))
    _watch.agent_added(s, agent)


def checkpoint_message(agent: AgentRecord) -> p.CheckpointResources:
    return p.CheckpointResources(agent.agent_id, agent.total.dynamic().to_dict())


def accept_operation(
    s: MasterState,
    fw: FrameworkRecord,
    agent: AgentRecord,
    op: p.Operation,
    remaining: Resources,
    out: list[Effect],
) -> Resources:
    """One storage operation of an ``Accept``: applied to the offers' ``remaining``
    resources (a LAUNCH in the same call can use what it reserved or created), or
    refused with a ``FrameworkError`` naming the resource. Returns what is left."""
    try:
        try:
            res = Resources.from_dict(op.resources)
        except (ResourceError, TypeError, ValueError) as exc:
            raise StorageRefused(f"{op.type}: resources: {exc}") from None
        check_framework(fw, op.type, res)
        left, total = plan(op.type, agent, res, remaining, agent.used)
    except StorageRefused as exc:
        out.append(Send(fw.address, p.FrameworkError(str(exc), "Accept")))
        return remaining
    commit(s, agent, total, out)
    return left


# ------------------------------------------------------------------------ operator


def operator_call(
    s: MasterState,
    call: str,
    body: Mapping[str, Any],
    out: list[Effect],
    rescind: Callable[[MasterState, str, list[Effect]], None],
) -> None:
    """RESERVE_RESOURCES / UNRESERVE_RESOURCES / CREATE_VOLUMES / DESTROY_VOLUMES.

    ``body``: ``{"agent_id": "<id>" | {"value": "<id>"}, "resources" | "volumes":
    [v1 Resource] | {to_dict form}}``; ``rescind(s, offer_id, out)`` takes back the
    agent's outstanding offers when the operation only fits without them (as Mesos).
    Raises :class:`StorageRefused`."""
    op = OPERATOR_STORAGE_CALLS[call]
    key = call.lower()
    raw_id = body.get("agent_id")
    agent_id = raw_id.get("value") if isinstance(raw_id, Mapping) else raw_id
    if not isinstance(agent_id, str) or not agent_id:
        raise StorageRefused(f"{key}.agent_id: {raw_id!r:.60} must name an agent")
    agent = s.agents.get(agent_id)
    if agent is None:
        raise StorageRefused(f"{key}.agent_id: unknown agent {agent_id!r}")
    field = "volumes" if "volumes" in body else "resources"
    raw = body.get(field)
    try:
        if isinstance(raw, list):
            res = resources_from_v1(raw, f"{key}.{field}")
        elif isinstance(raw, Mapping):
            res = Resources.from_dict(raw)
        else:
            raise StorageRefused(f"{key}.{field}: {raw!r:.60} must be a list of Resource")
    except ResourceError as exc:
        raise StorageRefused(str(exc)) from None
    free = agent.total.saturating_sub(agent.used)
    available = free.saturating_sub(agent.offered)
    try:
        _, total = plan(op, agent, res, available, agent.used)
    except StorageRefused:
        if not agent.offers:
            raise
        plan(op, agent, res, free, agent.used)  # would fit without the offers? else raise
        for offer_id in sorted(agent.offers):
            rescind(s, offer_id, out)
        _, total = plan(op, agent, res, agent.total.saturating_sub(agent.used), agent.used)
    commit(s, agent, total, out)


# ------------------------------------------------------------------------ registration


def registered_total(
    s: MasterState,
    known: AgentRecord | None,
    m: p.RegisterAgent | p.ReregisterAgent,
    plain: Resources,
) -> Resources | None:
    """An agent's total at (re-)registration: its ``--resources`` with its dynamic
    reservations and volumes applied (the registry's copy wins over the agent's
    checkpoint: it is written before anything is answered). None refuses the agent (noted
    in ``s.errors``): its resources no longer hold its reservations."""
    try:
        ckpt = known.total.dynamic() if known is not None else Resources()
        if not ckpt and m.checkpointed_resources:
            ckpt = Resources.from_dict(m.checkpointed_resources).dynamic()
        return apply_checkpointed(plain, ckpt)
    except (ResourceError, TypeError, ValueError) as exc:
        who = getattr(m, "agent_id", "") or m.hostname
        s.errors.append(f"agent {who} ({m.address}) refused: {exc}")
        return None


def sync_agent(
    agent: AgentRecord, m: p.RegisterAgent | p.ReregisterAgent, out: list[Effect]
) -> None:
    """After a (re-)registration: tell the agent its reservations when they differ from
    what it reported."""
    mine = agent.total.dynamic()
    try:
        theirs = Resources.from_dict(m.checkpointed_resources)
    except (ResourceError, TypeError, ValueError):
        theirs = None
    if mine != theirs and (mine or m.checkpointed_resources):
        out.append(Send(agent.address, checkpoint_message(agent)))


# ------------------------------------------------------------------------ quota usage


def role_consumption(s: MasterState, role: str) -> Resources:
    """What ``role`` consumes now, as Mesos 1.9 counts it for quota: its tasks' resources
    plus its reservations that no task uses (flattened to plain quantities)."""
    used = Resources()
    for t in s.tasks.values():
        if t.role == role:
            used = used + t.resources
    reserved = Resources()
    for a in s.agents.values():
        reserved = reserved + a.total.for_role(role)
    unused_reserved = reserved.saturating_sub(used)
    return (used + unused_reserved).reserve("*")
