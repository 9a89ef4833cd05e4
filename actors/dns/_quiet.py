"""Which TASK_ADDED / AGENT_ADDED events leave the DNS table as it is. Pure.

After a failover the new leader's SUBSCRIBED lists only the tasks adopted so far; the
DnsActor carries the others (same records) until their agents re-register, and then
gets one TASK_ADDED per task and one AGENT_ADDED per agent: 100,000 events at 10,000
agents, nearly all about a task or agent it already holds, unchanged. Each one asked
for a table rebuild (paced, but each rebuild publishes the whole table): the DnsActor
was 17% of the new leader's recovery CPU (10k/100k). An upsert whose result equals what
the view held changes no record, so it needs no rebuild; and when that key had no change
pending, the index already holds exactly that task (or agent), so the key is taken off
``changes`` too. Tasks with port labels (VIPs) always rebuild: VIP names are read from
the raw v1 Task, which ``TaskView`` equality does not compare.
"""

from __future__ import annotations

from typing import Any

from ._records import Changes, ClusterView, _dict, _value, apply_event


def _port_labels(raw: Any) -> bool:
    """Whether a raw v1 Task has any discovery port label (what VIP names come from)."""
    ports = _dict(_dict(_dict(raw).get("discovery")).get("ports")).get("ports")
    if not isinstance(ports, list):
        return False
    return any(_dict(_dict(p).get("labels")).get("labels") for p in ports if isinstance(p, dict))


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
    held: dict[str, Any] = view.tasks if kind == "task" else view.agents  # type: ignore[assignment]
    pending = changes.tasks if kind == "task" else changes.agents
    before = held.get(key)
    was_pending = key in pending
    apply_event(view, event, master_id, now, carry_for, changes)
    after = held.get(key)
    if before is None or after is None or before != after:
        return True
    if kind == "task" and (_port_labels(before.raw) or _port_labels(after.raw)):
        return True
    if not was_pending:
        pending.discard(key)
    return False


__all__ = ["apply_upsert", "upsert_target"]
