"""Tasks: launching, status updates, acknowledgements, kills and reconciliation.

Mesos' rules kept here: a terminal status update releases the task's resources at once
(acknowledgements only stop the agent's resending); an update the master makes up itself
(unreachable agent, reconciliation, a refused launch) carries no uuid, so the framework
owes no acknowledgement; a disconnected framework gets agents' updates later, because the
agent resends until acknowledged.
"""

from __future__ import annotations

import dataclasses
import sys

from actors import protocol as p
from actors.master import _render_feed, _watch
from actors.master._effects import Effect, Send
from actors.master._share import shared_task
from actors.master._state import (
    AgentRecord,
    FrameworkRecord,
    MasterState,
    TaskRecord,
    known_framework,
)
from actors.resources import Resources
from actors.task_states import TaskReason, TaskState, is_terminal


def send_update(
    s: MasterState,
    out: list[Effect],
    address: str,
    framework_id: str,
    task_id: str,
    agent_id: str,
    state: TaskState,
    reason: TaskReason | None,
    message: str,
    now: float,
    healthy: bool | None = None,
) -> None:
    """A master-generated update: no uuid, so the framework owes no acknowledgement."""
    out.append(
        Send(
            address,
            master_status(s, framework_id, task_id, agent_id, state, reason, message, now, healthy),
        )
    )


def master_status(
    s: MasterState,
    framework_id: str,
    task_id: str,
    agent_id: str,
    state: TaskState,
    reason: TaskReason | None,
    message: str,
    now: float,
    healthy: bool | None = None,
) -> p.StatusUpdate:
    """A status update the master makes up itself (SOURCE_MASTER, no uuid)."""
    return p.StatusUpdate(
        framework_id=framework_id,
        task_id=task_id,
        agent_id=agent_id,
        state=state.value,
        uuid="",
        timestamp=now + s.wall_offset,
        reason=reason.value if reason else None,
        message=message,
        healthy=healthy,
        source="SOURCE_MASTER",
    )


def reject_task(
    s: MasterState,
    fw: FrameworkRecord,
    t: p.TaskInfo,
    state: TaskState,
    reason: TaskReason,
    message: str,
    now: float,
    out: list[Effect],
) -> None:
    """Tell the framework a task it asked for will not run (TASK_ERROR/TASK_DROPPED)."""
    send_update(
        s,
        out,
        fw.address,
        fw.framework_id,
        str(t.task_id),
        str(t.agent_id),
        state,
        reason,
        message,
        now,
    )


def launch(
    s: MasterState,
    fw: FrameworkRecord,
    agent: AgentRecord,
    t: p.TaskInfo,
    res: Resources,
    role: str,
    now: float,
    out: list[Effect],
    send: bool = True,
) -> None:
    """Record a validated task as STAGING, charge its resources, send it to the agent
    (``send=False``: a task group's member, sent in one ``RunTaskGroup``)."""
    key = (fw.framework_id, t.task_id)
    s.tasks[key] = TaskRecord(
        task=shared_task(fw.framework_id, t),  # one copy of its app's parts
        framework_id=fw.framework_id,
        agent_id=agent.agent_id,
        resources=res,
        role=role,
        state=TaskState.STAGING,
        updated_at=now,
    )
    agent.tasks.add(key)
    agent.used = agent.used + res
    fw.tasks.add(t.task_id)
    fw.add_allocation(role, res)
    _render_feed.moved(s)  # /master/state lists the keys again (S)
    _watch.task_added(s, s.tasks[key])
    if send:
        out.append(Send(agent.address, p.RunTask(fw.framework_id, fw.address, t)))


def finish_task(
    s: MasterState, t: TaskRecord, state: TaskState, reason: str | None, now: float
) -> None:
    """Make ``t`` terminal and release its resources (idempotent)."""
    key = (t.framework_id, t.task_id)
    if s.tasks.pop(key, None) is None:
        return
    t.state, t.reason, t.updated_at = state, reason, now
    agent = s.agents.get(t.agent_id)
    if agent is not None and key in agent.tasks:
        agent.tasks.discard(key)
        agent.used = agent.used.saturating_sub(t.resources)
    fw = s.frameworks.get(t.framework_id)
    if fw is not None:
        fw.tasks.discard(t.task_id)
        fw.sub_allocation(t.role, t.resources)
    s.completed.append(t)
    s.dirty = True
    _render_feed.touched(s, t, now)  # /master/state shows its new fields (S)
    _render_feed.moved(s)  # and lists the keys again


def master_update(
    s: MasterState,
    t: TaskRecord,
    state: TaskState,
    reason: TaskReason | None,
    message: str,
    now: float,
    out: list[Effect],
) -> None:
    """A master-generated update (no acknowledgement needed)."""
    before = (t.state, t.healthy)
    if is_terminal(state):
        finish_task(s, t, state, reason.value if reason else None, now)
    else:
        t.state, t.updated_at = state, now
        t.reason = reason.value if reason else None
    t.message = message
    status = master_status(
        s, t.framework_id, t.task_id, t.agent_id, state, reason, message, now, t.healthy
    )
    t.last_status = status
    _render_feed.touched(s, t, now)  # /master/state shows its new fields (S)
    if (t.state, t.healthy) != before:
        _watch.task_updated(s, t, status)
    fw = s.frameworks.get(t.framework_id)
    if fw is not None and fw.connected:
        out.append(Send(fw.address, status))


def on_status_update(
    s: MasterState, m: p.StatusUpdate, now: float, out: list[Effect], sender: str | None = None
) -> None:
    try:
        state = TaskState(m.state)
    except ValueError:
        s.errors.append(f"status update for {m.task_id}: unknown state {m.state!r}")
        return
    key = (m.framework_id, m.task_id)
    t = s.tasks.get(key)
    if t is not None:
        m = compact_update(m, t, state)
        before = (t.state, t.healthy)
        if is_terminal(state):
            finish_task(s, t, state, m.reason, now)
        else:
            t.state, t.reason, t.updated_at = state, m.reason, now
        t.message = m.message
        if m.healthy is not None:  # None: this update says nothing about health
            t.healthy = m.healthy
        t.last_status = m
        _render_feed.touched(s, t, now)  # /master/state renders it while idle (G)
        if (t.state, t.healthy) != before:
            _watch.task_updated(s, t, m)
    fw = s.frameworks.get(m.framework_id)
    if fw is not None and fw.connected:
        out.append(Send(fw.address, m))
    # A disconnected framework gets it later: the agent resends until acknowledged.


_UPDATE_FIELDS = tuple(f.name for f in dataclasses.fields(p.StatusUpdate))


def compact_update(m: p.StatusUpdate, t: TaskRecord, state: TaskState) -> p.StatusUpdate:
    """``m`` (equal) made of the task record's own ids and interned constants: the master
    keeps the last update of every task (``last_status``) and Marathon its state string,
    and a decoded update holds fresh copies of each (~350 of its ~630 B at 100,000 tasks).
    Built without re-running ``__init__``: ``m`` was validated when decoded."""
    same = {
        "framework_id": t.framework_id,
        "task_id": t.task.task_id,
        "state": state.value,
        "source": sys.intern(m.source),
    }
    if m.agent_id == t.agent_id:
        same["agent_id"] = t.agent_id
    if m.reason:
        same["reason"] = sys.intern(m.reason)
    copy = object.__new__(p.StatusUpdate)
    for f in _UPDATE_FIELDS:
        object.__setattr__(copy, f, same[f] if f in same else getattr(m, f))
    return copy


def on_acknowledge(
    s: MasterState, m: p.Acknowledge, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Acknowledge", sender, out)
    if fw is None or not m.uuid:
        return
    agent = s.agents.get(m.agent_id)
    if agent is None or not agent.reachable:
        return  # The agent will resend after it re-registers; the framework acks again.
    out.append(
        Send(agent.address, p.StatusUpdateAck(m.framework_id, m.agent_id, m.task_id, m.uuid))
    )


def on_kill(
    s: MasterState, m: p.Kill, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Kill", sender, out)
    if fw is None:
        return
    t = s.tasks.get((m.framework_id, m.task_id))
    if t is None:
        if s.recovery_deadline is not None:
            return  # Might be on an agent that has not re-registered; Mesos waits too.
        send_update(
            s,
            out,
            fw.address,
            m.framework_id,
            m.task_id,
            "",
            TaskState.UNKNOWN,
            TaskReason.RECONCILIATION,
            "kill of a task the master does not know",
            now,
        )
        return
    agent = s.agents.get(t.agent_id)
    if agent is not None and agent.reachable:
        out.append(Send(agent.address, p.KillTask(m.framework_id, m.task_id)))


def on_reconcile(
    s: MasterState,
    m: p.Reconcile,
    now: float,
    out: list[Effect],
    sender: str | None = None,
    answered: set[str] | None = None,
) -> None:
    """Answer each task's latest state (explicit ids) or all live ones (implicit);
    during recovery the answer waits until the agents had their chance to come back.
    ``answered``: task ids of this framework already answered in this same turn
    (``answer_deferred``), skipped and then added to."""
    fw = known_framework(s, m.framework_id, "Reconcile", sender, out)
    if fw is None:
        return
    if s.recovery_deadline is not None:
        s.deferred_reconcile.append(m)
        return
    ids = m.task_ids or sorted(fw.tasks)
    for task_id in ids:
        if answered is not None:
            if task_id in answered:
                continue
            answered.add(task_id)
        t = s.tasks.get((m.framework_id, task_id))
        if t is not None:
            state, agent_id, healthy = t.state, t.agent_id, t.healthy
        else:
            done = next(
                (
                    c
                    for c in reversed(s.completed)
                    if c.framework_id == m.framework_id and c.task_id == task_id
                ),
                None,
            )
            if done is not None:
                state, agent_id, healthy = done.state, done.agent_id, done.healthy
            else:
                state, agent_id, healthy = TaskState.UNKNOWN, "", None
        send_update(
            s,
            out,
            fw.address,
            m.framework_id,
            task_id,
            agent_id,
            state,
            TaskReason.RECONCILIATION,
            "",
            now,
            healthy,
        )


def answer_deferred(
    s: MasterState, deferred: list[p.Reconcile], now: float, out: list[Effect]
) -> None:
    """Answer the reconciliations asked while the recovery window was open, each task
    ONCE per framework: nothing changes between the answers (one turn), so a second
    answer would repeat the first. A new Marathon asks explicitly for every task it
    stored, then implicitly (as real Marathon does): answered one by one that was two
    updates per task (190,000 messages for 95,000 tasks, after a 10k-agent storm, queued
    in Marathon's mailbox ahead of its offers); now the implicit one adds only the
    tasks the explicit one did not name (orphans the framework must kill). Every id
    asked explicitly is still answered (TASK_UNKNOWN for a task nobody knows), in the
    order asked, and every live task at least once."""
    answered: dict[str, set[str]] = {}
    for m in deferred:
        on_reconcile(s, m, now, out, answered=answered.setdefault(m.framework_id, set()))
