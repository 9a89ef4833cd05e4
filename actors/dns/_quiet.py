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

from ._records import Changes, ClusterView, _dict, _value, apply_event, unchanged_task


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


__all__ = ["apply_upsert", "unchanged_task", "upsert_target"]
