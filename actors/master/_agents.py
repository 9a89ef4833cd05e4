"""Agents: registration, re-registration with tasks, pings, reachability, recovery.

Mesos' rules kept here: agents are pinged every ``ping_interval``; after
``max_missed_pings`` unanswered pings an agent is unreachable, its offers are rescinded
and its tasks reported TASK_UNREACHABLE (``agent_ping_timeout`` x
``max_agent_ping_timeouts``). After a failover, agents found in the registry have
``agent_reregister_timeout`` to come back with their tasks before they are marked
unreachable; reconciliation asked meanwhile is answered when that window closes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors import protocol as p
from actors.master import _render_feed, _reservations, _watch
from actors.master._effects import Effect, Persist, Send, Watch
from actors.master._offers import rescind
from actors.master._share import shared_task
from actors.master._state import AgentRecord, MasterState, TaskRecord, parsed_resources
from actors.master._tasks import answer_deferred, master_status, master_update
from actors.resources import Attributes, ResourceError, Resources, apply_checkpointed
from actors.task_states import TaskReason, TaskState, is_terminal


def _from_registry(s: MasterState, doc: dict[str, Any]) -> AgentRecord | None:
    """An agent's registry record as a ``recovering`` ``AgentRecord``; None (noted in
    ``s.errors``) for a corrupt one."""
    try:
        return AgentRecord(
            agent_id=str(doc["agent_id"]),
            hostname=str(doc["hostname"]),
            address=str(doc["address"]),
            total=Resources.from_dict(doc["resources"]),
            attributes=Attributes.from_dict(doc.get("attributes") or {}),
            registered_at=float(doc.get("registered_at", 0.0)),
            version=str(doc.get("version", "")),
            recovering=True,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        s.errors.append(f"agent record {doc!r:.200}: {exc}")
        return None


def recover_agent(s: MasterState, doc: dict[str, Any]) -> None:
    """Add an agent from the registry, ``recovering`` until it re-registers; a corrupt
    record is skipped and noted."""
    rec = _from_registry(s, doc)
    if rec is None:
        return
    s.agents[rec.agent_id] = rec
    s.recovery_pending.append(rec.agent_id)
    rec.persisted = rec.durable()
    note_address(s, rec)


def persist_agent(rec: AgentRecord, out: list[Effect]) -> None:
    """``Persist`` the agent's registry record unless the registry holds it already."""
    doc = rec.durable()
    if doc != rec.persisted:
        out.append(Persist("agents", rec.agent_id, doc))
        rec.persisted = doc


def note_address(s: MasterState, rec: AgentRecord) -> None:
    """Index ``rec`` under its address (``MasterState.agents_at``)."""
    ids = s.agents_at.setdefault(rec.address, [])
    if rec.agent_id not in ids:
        ids.append(rec.agent_id)


def registered(s: MasterState, rec: AgentRecord) -> p.AgentRegistered:
    """The answer to a (re-)registration."""
    return p.AgentRegistered(
        agent_id=rec.agent_id,
        master_id=s.master_id,
        ping_interval=s.config.ping_interval,
    )


def _parsed(
    s: MasterState, m: p.RegisterAgent | p.ReregisterAgent, who: str
) -> tuple[Resources, Attributes] | None:
    """The agent's resources and attributes, or None (the refusal noted in ``s.errors``)."""
    try:
        return Resources.from_dict(m.resources), Attributes.from_dict(m.attributes)
    except (ResourceError, TypeError, ValueError) as exc:
        s.errors.append(f"agent {who} ({m.address}) refused: {exc}")
        return None


def _new_record(
    agent_id: str,
    m: p.RegisterAgent | p.ReregisterAgent,
    total: Resources,
    attrs: Attributes,
    now: float,
) -> AgentRecord:
    return AgentRecord(
        agent_id=agent_id,
        hostname=m.hostname,
        address=m.address,
        total=total,
        attributes=attrs,
        registered_at=now,
        version=m.version,
    )


def on_register_agent(
    s: MasterState, m: p.RegisterAgent, now: float, out: list[Effect], sender: str | None = None
) -> None:
    parsed = _parsed(s, m, m.hostname)
    if parsed is None:
        return
    total, attrs = parsed
    # An agent that registers again from the same address (it lost our answer)
    # gets its old id back instead of a second entry.
    for known in s.agents_at.get(m.address, ()):
        rec = s.agents[known]
        if rec.address == m.address and not rec.tasks:
            with_ckpt = _reservations.registered_total(s, rec, m, total)
            if with_ckpt is None:
                return
            rec.total, rec.attributes, rec.hostname = with_ckpt, attrs, m.hostname
            rec.reachable, rec.recovering, rec.missed_pings = True, False, 0
            persist_agent(rec, out)
            out.append(Send(m.address, registered(s, rec)))
            _reservations.sync_agent(rec, m, out)
            s.dirty = True
            _watch.agent_added(s, rec)
            return
    with_ckpt = _reservations.registered_total(s, None, m, total)
    if with_ckpt is None:
        return
    agent_id = f"{s.master_id}-S{s.next_id()}"
    rec = s.agents[agent_id] = _new_record(agent_id, m, with_ckpt, attrs, now)
    note_address(s, rec)
    persist_agent(rec, out)
    out.append(Watch(m.address))
    out.append(Send(m.address, registered(s, rec)))
    _reservations.sync_agent(rec, m, out)
    s.dirty = True
    _watch.agent_added(s, rec)


def reregistration_digest(m: p.ReregisterAgent) -> int:
    """What identifies a re-registration's content: who the agent is, what it offers,
    and each task it reports with its state and health (not the tasks' whole specs: a
    task id names one launch). Equal digests from one agent = the same facts sent
    again. Kept in memory only (``hash`` of strings differs between processes)."""
    return hash(
        (
            m.agent_id,
            m.hostname,
            m.address,
            m.version,
            repr(m.resources),
            repr(m.attributes),
            repr(m.checkpointed_resources),
            tuple((at.framework_id, at.task.task_id, at.state, at.healthy) for at in m.tasks),
        )
    )


def is_repeat(rec: AgentRecord | None, digest: int) -> bool:
    """Whether a re-registration only repeats the last one this leader took in from
    a registered, reachable agent. Agents retry an unanswered re-registration (a new
    leader busy with 10,000 of them answers late): the repeat is answered, never
    re-applied. Applying it again would cost the whole adoption once more, and would
    also report LOST every task launched on the agent since the first one (the repeat
    was sent before that launch reached the agent)."""
    return rec is not None and rec.reported == digest and rec.reachable and not rec.recovering


def on_reregister_agent(
    s: MasterState, m: p.ReregisterAgent, now: float, out: list[Effect], sender: str | None = None
) -> None:
    digest = reregistration_digest(m)
    known = s.agents.get(m.agent_id)
    if is_repeat(known, digest):
        assert known is not None
        known.copy_id = m.copy_id or None
        out.append(Send(m.address, registered(s, known)))
        return
    parsed = _parsed(s, m, m.agent_id)
    if parsed is None:
        return
    total, attrs = parsed
    with_ckpt = _reservations.registered_total(s, s.agents.get(m.agent_id), m, total)
    if with_ckpt is None:
        return
    total = with_ckpt
    rec = s.agents.get(m.agent_id)
    if rec is not None:
        changed = reregistration_change(rec, total)
        if changed is not None:
            # Never merged silently: its tasks and offers were accounted against the old
            # facts. The agent stays unreachable; a fresh work dir registers it anew.
            s.errors.append(
                f"agent {m.agent_id} ({m.address}) refused: it re-registered with {changed}; "
                "restart it with an empty work dir to register as a new agent"
            )
            return
    was_unreachable = rec is not None and not rec.reachable
    if rec is None:
        rec = s.agents[m.agent_id] = _new_record(m.agent_id, m, total, attrs, now)
    else:
        rec.hostname, rec.address, rec.total, rec.attributes = (
            m.hostname,
            m.address,
            total,
            attrs,
        )
        rec.version = m.version
    note_address(s, rec)
    rec.reachable, rec.recovering, rec.missed_pings = True, False, 0
    _watch.agent_added(s, rec)
    reported: set[tuple[str, str]] = set()
    for at in m.tasks:
        key = (at.framework_id, at.task.task_id)
        reported.add(key)
        adopt_task(s, rec, at, now, out, announce=was_unreachable)
    # Tasks we believed were on the agent but it no longer has: gone for good.
    for key in list(rec.tasks - reported):
        t = s.tasks.get(key)
        if t is not None:
            master_update(
                s,
                t,
                TaskState.LOST,
                TaskReason.AGENT_REREGISTERED,
                "task was not reported by the re-registered agent",
                now,
                out,
            )
    rec.reported = digest
    rec.copy_id = m.copy_id or None
    if not s.registry_pending:  # else once the registry is read (merge_registry)
        persist_agent(rec, out)
    out.append(Watch(m.address))
    out.append(Send(m.address, registered(s, rec)))
    _reservations.sync_agent(rec, m, out)
    s.dirty = True
    if s.recovery_deadline is not None and recovery_done(s):
        end_recovery(s, now, out)


def on_reregister_again(
    s: MasterState,
    m: p.ReregisterAgentAgain,
    now: float,
    out: list[Effect],
    sender: str | None = None,
) -> None:
    """A resend naming the copy it repeats: answered as that copy was (``is_repeat``)
    when this leader took it in, else the agent is asked for the whole one. An agent's
    messages reach the master in order, so the copy it names either came first or never
    will (sent before this leader's actor ran: a dead letter)."""
    if not isinstance(m.address, str) or not m.address:
        s.errors.append(f"ReregisterAgentAgain.address: {m.address!r:.80} is not an address")
        return
    rec = s.agents.get(m.agent_id)
    if (
        rec is not None
        and m.copy_id
        and rec.copy_id == m.copy_id
        and rec.address == m.address
        and rec.reachable
        and not rec.recovering
    ):
        out.append(Send(m.address, registered(s, rec)))
        return
    if s.address:
        out.append(Send(m.address, p.ReregisterFull(s.address, s.master_id)))


def recovery_done(s: MasterState) -> bool:
    """Whether every agent recovered from the registry has re-registered (or been
    declared unreachable): amortized O(1) per re-registration (each recovered id is
    popped once), where a scan of all agents per re-registration made a 10,000-agent
    storm quadratic."""
    if s.registry_pending:
        return False  # the registry's agents are not known yet
    pending = s.recovery_pending
    while pending:
        rec = s.agents.get(pending[-1])
        if rec is not None and rec.recovering:
            return False
        pending.pop()
    return True


def merge_registry(
    s: MasterState, docs: Iterable[dict[str, Any]], now: float, out: list[Effect]
) -> None:
    """The agents' registry, read while this new leader already took re-registrations
    in: an agent not back yet is added ``recovering`` (as ``recover_agent``); one that
    came back keeps what it re-registered with, and its record is written only where
    it differs from the registry's (the write its re-registration held back). Ends the
    recovery window at once when every agent is back."""
    s.registry_pending = False
    for doc in docs:
        rec = s.agents.get(str(doc.get("agent_id", ""))) if isinstance(doc, dict) else None
        if rec is None:
            recover_agent(s, doc)
            continue
        stored = _from_registry(s, doc)
        if stored is None:
            continue
        changed = reregistration_change(stored, rec.total)
        if changed is not None:
            s.errors.append(
                f"agent {rec.agent_id} ({rec.address}) re-registered with {changed} "
                "before the registry was read: kept as it re-registered"
            )
        rec.registered_at = stored.registered_at
        rec.persisted = stored.durable()
    for rec in list(s.agents.values()):
        if not rec.recovering and rec.reachable:
            persist_agent(rec, out)
    s.dirty = True
    if s.recovery_deadline is not None and recovery_done(s):
        end_recovery(s, now, out)


def reregistration_change(rec: AgentRecord, total: Resources) -> str | None:
    """What differs between a known agent and the one re-registering under its id, or
    None. Its scalar resources (cpus, mem, disk, gpus) must match: tasks and offers were
    accounted against them. Ports may differ (another process on the host may hold some,
    see ``UpdateAgent``), and so may its address (a restarted agent listens anew)."""
    theirs, ours = total.scalars(), rec.total.scalars()
    if theirs != ours:
        diff = ", ".join(
            f"{k} {theirs.get(k, 0):g} (was {ours.get(k, 0):g})"
            for k in sorted(set(theirs) | set(ours))
            if theirs.get(k, 0) != ours.get(k, 0)
        )
        return f"different resources: {diff}"
    return None


def adopt_task(
    s: MasterState,
    rec: AgentRecord,
    at: p.AgentTask,
    now: float,
    out: list[Effect],
    announce: bool,
) -> None:
    """Take a task a re-registering agent reports into the master's books (after a
    failover the agents are the only source of the live tasks)."""
    key = (at.framework_id, at.task.task_id)
    try:
        state = TaskState(at.state)
        res = parsed_resources(at.task.resources)
    except (ValueError, TypeError) as exc:
        s.errors.append(f"agent {rec.agent_id} task {at.task.task_id}: {exc}")
        return
    if is_terminal(state):
        return
    t = s.tasks.get(key)
    if t is None:
        fw = s.frameworks.get(at.framework_id)
        role = fw.info.roles[0] if fw and fw.info.roles else "*"
        t = TaskRecord(
            task=shared_task(at.framework_id, at.task),  # one copy of its app's parts
            framework_id=at.framework_id,
            agent_id=rec.agent_id,
            resources=res,
            role=role,
            state=state,
            updated_at=now,
        )
        s.tasks[key] = t
        rec.tasks.add(key)
        rec.used = rec.used + res
        if fw is not None:
            fw.tasks.add(at.task.task_id)
            fw.add_allocation(role, res)
        if at.healthy is not None:
            t.healthy = at.healthy
        _watch.task_added(s, t)
        _render_feed.moved(s)  # /master/state lists the keys again (S)
    else:
        before = (t.state, t.healthy)
        t.state = state
        t.updated_at = now
        if at.healthy is not None:
            t.healthy = at.healthy
        if (t.state, t.healthy) != before:
            status = master_status(
                s, t.framework_id, t.task_id, t.agent_id, state, None, "", now, t.healthy
            )
            t.last_status = status
            _watch.task_updated(s, t, status)
        _render_feed.touched(s, t, now)  # /master/state shows its new fields (S)
    # The agent's latest health for the task: a new leader has no other source
    # (health is reported on a change only), and reconciliation answers with it.
    if announce:
        master_update(s, t, state, TaskReason.AGENT_REREGISTERED, "", now, out)


def on_pong(
    s: MasterState, m: p.Pong, now: float, out: list[Effect], sender: str | None = None
) -> None:
    rec = s.agents.get(m.agent_id)
    if rec is not None:
        rec.missed_pings = 0
        if not rec.reachable and not rec.recovering and s.address:
            # An unreachable agent answers again (the partition healed): it still thinks
            # it is registered, so ask it to re-register with its tasks (Mesos' agent
            # notices the missing pings itself; this master tells it instead).
            out.append(Send(rec.address, p.MasterChanged(s.address)))


def on_update_agent(
    s: MasterState, m: p.UpdateAgent, now: float, out: list[Effect], sender: str | None = None
) -> None:
    """The agent's total changed (ports another process on its host holds): offers
    made from the old total are rescinded; the next cycle offers from the new one.
    The agent sends its plain resources: its dynamic reservations and volumes (the
    master's books) are applied to them, never dropped."""
    rec = s.agents.get(m.agent_id)
    if rec is None or not rec.reachable or rec.recovering:
        return  # its (re-)registration will carry the current total
    try:
        plain = Resources.from_dict(m.resources)
        total = apply_checkpointed(plain, rec.total.dynamic())
    except (ResourceError, TypeError, ValueError) as exc:
        s.errors.append(f"agent {m.agent_id} update refused: {exc}")
        return
    if total == rec.total:
        return
    rec.total = total
    for offer_id in list(rec.offers):
        rescind(s, offer_id, out)
    s.dirty = True


def ping_agents(s: MasterState, now: float, out: list[Effect]) -> None:
    """Ping every agent; one that missed too many pings becomes unreachable."""
    for rec in s.agents.values():
        if rec.recovering:
            # Not judged yet: a ping tells it this master exists, so it re-registers.
            rec.ping_seq += 1
            out.append(Send(rec.address, p.Ping(s.master_id, rec.ping_seq)))
            continue
        if not rec.reachable:
            # Keep probing: its Pong after a partition heals triggers re-registration.
            rec.ping_seq += 1
            out.append(Send(rec.address, p.Ping(s.master_id, rec.ping_seq)))
            continue
        rec.missed_pings += 1
        if rec.missed_pings > s.config.max_missed_pings:
            mark_unreachable(s, rec, now, out, f"missed {s.config.max_missed_pings} pings")
            continue
        rec.ping_seq += 1
        out.append(Send(rec.address, p.Ping(s.master_id, rec.ping_seq)))


def mark_unreachable(
    s: MasterState, rec: AgentRecord, now: float, out: list[Effect], why: str
) -> None:
    """Rescind the agent's offers, report its tasks TASK_UNREACHABLE, tell frameworks."""
    rec.reachable = False
    rec.recovering = False
    rec.reported = None
    rec.copy_id = None
    for offer_id in list(rec.offers):
        rescind(s, offer_id, out)
    for key in sorted(rec.tasks):
        t = s.tasks.get(key)
        if t is not None and t.state is not TaskState.UNREACHABLE:
            master_update(
                s,
                t,
                TaskState.UNREACHABLE,
                TaskReason.AGENT_DISCONNECTED,
                f"agent {rec.hostname} unreachable: {why}",
                now,
                out,
            )
    _watch.agent_removed(s, rec)
    for fw in s.frameworks.values():
        if fw.connected:
            out.append(Send(fw.address, p.AgentLost(rec.agent_id)))
    s.dirty = True


def end_recovery(s: MasterState, now: float, out: list[Effect]) -> None:
    """The re-registration window closed: agents that did not come back are
    unreachable, and reconciliation asked meanwhile is answered now."""
    s.recovery_deadline = None
    for rec in s.agents.values():
        if rec.recovering:
            mark_unreachable(s, rec, now, out, "did not re-register after failover")
    deferred, s.deferred_reconcile = s.deferred_reconcile, []
    answer_deferred(s, deferred, now, out)  # each task once per framework (R)
