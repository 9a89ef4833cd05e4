"""Frameworks: subscription, failover, disconnection, removal, revive and suppress.

Mesos' rules kept here: a framework that re-subscribes with its id keeps its tasks and
loses its outstanding offers (they are rescinded silently, it gets fresh ones), unless
it is the connected framework retrying from the same address (answered again); one that
disconnects keeps its tasks for its ``failover_timeout``, after which (and never during a
master's recovery window) it is removed and its tasks killed; teardown removes at once.
"""

from __future__ import annotations

from typing import Any

from actors import protocol as p
from actors.master import _watch
from actors.master._effects import Effect, PeerDown, Persist, Send, Unpersist, Watch
from actors.master._offers import rescind
from actors.master._state import FrameworkRecord, MasterState, known_framework
from actors.master._tasks import finish_task, master_status
from actors.task_states import TaskReason, TaskState


def recover_framework(s: MasterState, doc: dict[str, Any], now: float) -> None:
    """Add a framework from the registry, disconnected since ``now`` (its failover
    timeout runs from the failover); a corrupt record is skipped and noted."""
    try:
        info = p.FrameworkInfo(
            name=str(doc["name"]),
            roles=[str(r) for r in doc.get("roles") or ["*"]],
            failover_timeout=float(doc.get("failover_timeout", 0.0)),
            framework_id=str(doc["framework_id"]),
            user=str(doc.get("user", "root")),
            hostname=str(doc.get("hostname", "")),
            principal=doc.get("principal"),
        )
        rec = FrameworkRecord(
            framework_id=str(doc["framework_id"]),
            info=info,
            address=str(doc.get("address", "")),
            registered_at=float(doc.get("registered_at", 0.0)),
            connected=False,
            disconnected_at=now,
        )
    except (KeyError, TypeError, ValueError) as exc:
        s.errors.append(f"framework record {doc!r:.200}: {exc}")
        return
    s.frameworks[rec.framework_id] = rec


def with_id(info: p.FrameworkInfo, fid: str) -> p.FrameworkInfo:
    """``info`` carrying the framework id the master assigned (or confirmed)."""
    return p.FrameworkInfo(
        name=info.name,
        roles=list(info.roles),
        failover_timeout=info.failover_timeout,
        framework_id=fid,
        user=info.user,
        hostname=info.hostname,
        principal=info.principal,
    )


def on_subscribe(
    s: MasterState, m: p.Subscribe, now: float, out: list[Effect], sender: str | None = None
) -> None:
    info = m.info
    if not info.name or not info.roles:
        out.append(
            Send(
                m.address,
                p.FrameworkError(
                    f"FrameworkInfo: name {info.name!r} and roles {info.roles!r} must be non-empty",
                    "Subscribe",
                ),
            )
        )
        return
    fid = info.framework_id
    rec = s.frameworks.get(fid) if fid else None
    added = rec is None
    if rec is None:
        fid = fid or f"{s.master_id}-{s.next_id():04d}"
        rec = FrameworkRecord(
            framework_id=fid,
            info=with_id(info, fid),
            address=m.address,
            registered_at=now,
        )
        s.frameworks[fid] = rec
    else:
        # Failover of the scheduler (or of the master): same id, new address; its offers
        # are rescinded. Not for a retry from the connected framework itself (its driver
        # resubscribes until Subscribed arrives, and a busy master answers late) or an
        # UPDATE_FRAMEWORK keeping its roles: answered again, its offers kept. (Rescinding
        # them made its first launch after a failover name an offer it had just been
        # sent: "unknown offer", the tasks dropped.)
        retry = (
            rec.connected and rec.address == m.address and list(info.roles) == list(rec.info.roles)
        )
        if not retry:
            for offer_id in list(rec.offers):
                rescind(s, offer_id, out, notify=False)
        rec.info = with_id(info, rec.framework_id)
        rec.address = m.address
        rec.connected = True
        rec.disconnected_at = None
        rec.suppressed = False
        rec.suppressed_roles.clear()
    out.append(Persist("frameworks", rec.framework_id, rec.durable()))
    out.append(Watch(m.address))
    out.append(
        Send(
            m.address,
            p.Subscribed(rec.framework_id, s.master_id, s.config.heartbeat_interval),
        )
    )
    s.dirty = True
    if added:
        _watch.framework_added(s, rec)
    else:
        _watch.framework_updated(s, rec)


def disconnect_framework(
    s: MasterState, fw: FrameworkRecord, now: float, out: list[Effect]
) -> None:
    """The framework's actor went away: keep its tasks, take back its offers."""
    fw.connected = False
    fw.disconnected_at = now
    for offer_id in list(fw.offers):
        rescind(s, offer_id, out, notify=False)
    s.dirty = True
    _watch.framework_updated(s, fw)


def expire_frameworks(s: MasterState, now: float, out: list[Effect]) -> None:
    """Remove frameworks disconnected for longer than their failover timeout."""
    for fw in list(s.frameworks.values()):
        if (
            not fw.connected
            and fw.disconnected_at is not None
            and now - fw.disconnected_at >= fw.info.failover_timeout
            and s.recovery_deadline is None
        ):
            remove_framework(s, fw, now, out)


def remove_framework(s: MasterState, fw: FrameworkRecord, now: float, out: list[Effect]) -> None:
    """Forget a framework for good: rescind its offers, kill its tasks, unpersist it. A
    connected framework is told (Mesos' "Framework has been removed" error), so one
    torn down by an operator stops instead of calling a master that forgot it."""
    if fw.connected and fw.address:
        out.append(
            Send(
                fw.address,
                p.FrameworkError(f"framework {fw.framework_id} has been removed", "Teardown"),
            )
        )
    for offer_id in list(fw.offers):
        rescind(s, offer_id, out, notify=False)
    for task_id in sorted(fw.tasks):
        t = s.tasks.get((fw.framework_id, task_id))
        if t is None:
            continue
        agent = s.agents.get(t.agent_id)
        if agent is not None and agent.reachable:
            out.append(Send(agent.address, p.KillTask(fw.framework_id, task_id)))
        finish_task(s, t, TaskState.KILLED, TaskReason.FRAMEWORK_REMOVED, now)
        if s.watchers:
            status = master_status(
                s,
                fw.framework_id,
                task_id,
                t.agent_id,
                TaskState.KILLED,
                TaskReason.FRAMEWORK_REMOVED,
                "framework removed",
                now,
            )
            t.last_status = status
            _watch.task_updated(s, t, status)
    del s.frameworks[fw.framework_id]
    fw.connected, fw.disconnected_at = False, now
    s.completed_frameworks.append(fw)
    out.append(Unpersist("frameworks", fw.framework_id))
    s.dirty = True
    _watch.framework_removed(s, fw)


def on_teardown(
    s: MasterState, m: p.Teardown, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Teardown", sender, out)
    if fw is not None:
        remove_framework(s, fw, now, out)


def on_revive(
    s: MasterState, m: p.Revive, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Revive", sender, out)
    if fw is not None and m.roles:  # Mesos 1.9+: revive only these roles
        if _unknown_roles(fw, m.roles, "Revive", out):
            return
        if fw.suppressed:
            fw.suppressed = False
            fw.suppressed_roles = set(fw.info.roles)
        fw.suppressed_roles -= set(m.roles)
        fw.filters = [f for f in fw.filters if f.role is not None and f.role not in m.roles]
        s.filters_removed += 1
        s.dirty = True
    elif fw is not None:
        fw.suppressed = False
        fw.suppressed_roles.clear()
        fw.filters.clear()
        s.filters_removed += 1
        s.dirty = True
    if fw is not None:
        _allocate_on_revive(s, now)


def _allocate_on_revive(s: MasterState, now: float) -> None:
    """A revive is answered with offers at once, as Mesos' allocator does (an
    event-triggered allocation, not the next batch): the ``allocation_interval`` since
    the last cycle is waived, so a framework that revives to launch (an SDK plan just
    started) does not wait for the cycle grid (up to 50 ms + a tick). The measured
    ``alloc_pace`` still holds: at scale, revives cannot make cycles closer than it.
    (A microsecond more than the interval: float rounding must not leave it a hair short.)"""
    s.last_alloc = min(s.last_alloc, now - s.config.allocation_interval - 1e-6)


def _unknown_roles(fw: FrameworkRecord, roles: list[str], call: str, out: list[Effect]) -> bool:
    """Per-role Suppress/Revive must name the framework's roles (FrameworkError if not)."""
    bad = [r for r in roles if r not in fw.info.roles]
    if bad and fw.connected:
        msg = f"roles: {bad!r:.80} are not among the framework's roles {list(fw.info.roles)}"
        out.append(Send(fw.address, p.FrameworkError(msg, call)))
    return bool(bad)


def on_suppress(
    s: MasterState, m: p.Suppress, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Suppress", sender, out)
    if fw is not None and m.roles:  # Mesos 1.9+: suppress only these roles
        if not _unknown_roles(fw, m.roles, "Suppress", out):
            fw.suppressed_roles |= set(m.roles)
            s.dirty = True
    elif fw is not None:
        fw.suppressed = True


def on_peer_down(
    s: MasterState, m: PeerDown, now: float, out: list[Effect], sender: str | None = None
) -> None:
    for fw in s.frameworks.values():
        if fw.address == m.address and fw.connected:
            disconnect_framework(s, fw, now, out)
    _watch.on_peer_down(s, m, now, out, sender)  # a state watcher there is gone too
    # Agents are judged by pings, not by the transport's opinion: a slow agent
    # that answers pings is reachable.
