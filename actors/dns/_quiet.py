"""Which TASK_ADDED / AGENT_ADDED events leave the DNS table as it is. Pure.

After a failover the new leader's SUBSCRIBED lists only the tasks adopted so far; the
DnsActor carries the others (same records) until their agents re-register, and then
gets one TASK_ADDED per task and one AGENT_ADDED per agent: 100,000 events at 10,000
agents, nearly all about a task or agent it already holds, unchanged. Each one asked
for a table rebuild (paced, but each rebuild publishes the whole table): the DnsActor
was 17% of the new leader's recovery CPU (10k/100k). An upsert whose result equals what
the view held changes no record, so it needs no rebuild; and when that key had no change
pending, the index already holds exactly that task (or agent), so the key is taken off
``changes`` too. A task whose DiscoveryInfo changed always rebuilds: VIP names are read
from its raw port labels, which ``TaskView`` equality does not compare. The common case,
the same task re-sent, is told without reading it whole (``unchanged_task``).
"""

from __future__ import annotations

from typing import Any

from ._records import (
    Changes,
    ClusterView,
    TaskView,
    _dict,
    _host_ports,
    _value,
    apply_event,
    status_fields,
)

READ_FIELDS = ("name", "discovery")
"""The fields of a v1 Task that ``task_view`` reads whole besides its ids (the key),
agent, state, statuses and resources (only their host ports: a new leader renders a
re-registered task's resources from the agent's report, role and all, so equal ports
in unequal resources were read whole again: 37% of the DNS' storm cost at 5k/50k), and
that VIP names are read from (``discovery``' port labels): nothing else of a task held
changes a record (labels, container, kill policy...)."""


def unchanged_task(held: TaskView, raw: dict[str, Any]) -> bool:
    """Whether the v1 Task ``raw`` (a TASK_ADDED for ``held``'s key) reads as ``held``
    exactly, without reading it whole (``task_view``: ~60% of a storm event's cost):
    the ``READ_FIELDS`` equal to those of the v1 Task ``held`` was read from (a
    TASK_UPDATED never changes what they give), the same agent, and the same state,
    container IPs and health (``status_fields``). ``held`` keeps its v1 Task then."""
    old = held.raw
    if raw is not old:
        for key in READ_FIELDS:
            if raw.get(key) != old.get(key):
                return False
        resources = raw.get("resources")
        if resources != old.get("resources") and _host_ports(resources) != held.host_ports:
            return False
    if _value(raw, "agent_id") != held.agent_id:
        return False
    return status_fields(raw) == (held.state, held.container_ips, held.healthy)


def upsert_target(event: Any) -> tuple[str, str] | None:
    """``("task", framework/task)`` for a TASK_ADDED, ``("agent", id)`` for an
    AGENT_ADDED, None for any other event."""
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if kind == "TASK_ADDED":
        task = _dict(_dict(event.get("task_added")).get("task"))
        return "task", f"{_value(task, 'framework_id')}/{_value(task, 'task_id')}"
    if kind == "AGENT_ADDED":
        agent = _dict(_dict(event.get("agent_added")).get("agent"))
        return "agent", _value(_dict(agent.get("agent_info")), "id")
    return None


def apply_upsert(
    view: ClusterView,
    event: dict[str, Any],
    target: tuple[str, str],
    master_id: str,
    now: float,
    carry_for: float,
    changes: Changes,
) -> bool:
    """Apply a TASK_ADDED / AGENT_ADDED (``target`` from `upsert_target`) to ``view`` in
    place, as ``apply_event`` does; whether the table may have changed (False: no
    rebuild needed, and ``changes`` holds nothing new)."""
    kind, key = target
    if kind == "task":
        raw = _dict(event.get("task_added")).get("task")
        task = view.tasks.get(key)
        if task is not None and isinstance(raw, dict) and unchanged_task(task, raw):
            view.carried.pop(key, None)  # re-registered: no longer carried
            return False
    held: dict[str, Any] = view.tasks if kind == "task" else view.agents  # type: ignore[assignment]
    pending = changes.tasks if kind == "task" else changes.agents
    before = held.get(key)
    was_pending = key in pending
    apply_event(view, event, master_id, now, carry_for, changes)
    after = held.get(key)
    if before is None or after is None or before != after:
        return True
    if kind == "task" and _dict(before.raw).get("discovery") != _dict(after.raw).get("discovery"):
        return True  # VIP names come from the raw port labels (TaskView equality skips)
    if not was_pending:
        pending.discard(key)
    return False


__all__ = ["apply_upsert", "upsert_target"]
