"""Why an app's instances wait to launch: Marathon's launch queue and the master's last
allocation cycle, side by side, per agent (pure: JSON in, JSON out, no I/O).

Each side knows half of the story:

```
 Marathon  GET /v2/queue               an offer came and did not fit: which agent, why
           (lastUnusedOffers,           ("constraint zone:LIKE:nowhere ...",
            rejectSummaryLastOffers,     "InsufficientCpus: ..."), how many were declined
            delay, waitingReason)        for each reason, and whether launches back off
 master    GetState("allocation")       no offer came at all: which agent, why (filtered
           (the last cycle's offers      after Marathon declined it, no free resources,
            and rejections)              quota, agent unreachable, framework suppressed)
```

``explain`` joins them into one document (``pydcos marathon app show --json`` puts it
under ``"waiting"``); ``render`` turns it into lines and one table for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ANY = "*"
"""The master's wildcard in a rejection row: every agent, or every framework."""


@dataclass(frozen=True)
class Rendered:
    """What ``render`` gives a verb to print: lines, then a table of agents."""

    lines: list[str]
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


def queue_entry(queue: Iterable[Any], app_id: str) -> dict[str, Any] | None:
    """The ``/v2/queue`` entry of ``app_id`` that still has instances to launch, if any."""
    for q in queue:
        if not isinstance(q, dict):
            continue
        app = q.get("app")
        if isinstance(app, dict) and app.get("id") == app_id and _int(q.get("count")) > 0:
            return q
    return None


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _str(v: Any) -> str:
    return "" if v is None else str(v)


def marathon_reasons(entry: dict[str, Any]) -> dict[str, str]:
    """agent id -> why Marathon could not use that agent's latest offer (latest wins)."""
    out: dict[str, str] = {}
    for unused in entry.get("lastUnusedOffers") or []:
        if not isinstance(unused, dict):
            continue
        offer = unused.get("offer") or {}
        agent_id = _str(offer.get("agentId") if isinstance(offer, dict) else None)
        reason = unused.get("reason")
        text = "; ".join(map(str, reason)) if isinstance(reason, list) else _str(reason)
        if agent_id and text:
            out[agent_id] = text
    return out


def master_reasons(
    allocation: dict[str, Any], framework_id: str, agent_id: str
) -> tuple[list[str], bool]:
    """(why the master offered ``framework_id`` nothing from ``agent_id`` in its last
    allocation cycle, whether it did offer something). Wildcard rows count for every agent
    or framework, as the allocator means them; a row reads "<message>: <detail>", e.g.
    "filtered: declined earlier; filtered for 4.2 s more" (see actors/master/_allocation)."""
    offered = any(
        isinstance(o, dict)
        and o.get("framework_id") == framework_id
        and o.get("agent_id") == agent_id
        for o in allocation.get("offers") or []
    )
    reasons: list[str] = []
    for r in allocation.get("rejections") or []:
        if not isinstance(r, dict):
            continue
        if r.get("framework_id") not in (framework_id, ANY):
            continue
        if r.get("agent_id") not in (agent_id, ANY):
            continue
        words = _str(r.get("message")) or _str(r.get("reason"))
        detail = _str(r.get("detail"))
        text = f"{words}: {detail}" if words and detail else words or detail
        if text and text not in reasons:
            reasons.append(text)
    if not offered and not reasons:
        # No row for this framework: the allocator gave the agent to another one (DRF).
        names = {
            _str(f.get("framework_id")): _str(f.get("name")) or _str(f.get("framework_id"))
            for f in allocation.get("frameworks") or []
            if isinstance(f, dict)
        }
        winners = sorted(
            {
                names.get(_str(o.get("framework_id"))) or _str(o.get("framework_id"))
                for o in allocation.get("offers") or []
                if isinstance(o, dict) and o.get("agent_id") == agent_id
            }
        )
        if winners:
            reasons.append(f"offered to {', '.join(winners)} instead (fair share)")
    return reasons, offered


SCALARS = ("cpus", "mem", "disk", "gpus")
"""The resources shown in a free-resources cell (ports would not fit)."""


def agent_free(allocation: dict[str, Any], agent_id: str) -> dict[str, Any] | None:
    """The agent's free resources as the master saw them in its last cycle, if listed."""
    for a in allocation.get("agents") or []:
        if isinstance(a, dict) and a.get("agent_id") == agent_id:
            free = a.get("free")
            return free if isinstance(free, dict) else None
    return None


def free_text(free: dict[str, Any] | None) -> str:
    """``{"cpus": 2.0, "mem": 2048.0, ...}`` -> ``cpus 2, mem 2048`` (scalars only; gpus
    when there are some)."""
    if not free:
        return "-"
    parts = [
        f"{name} {free[name]:g}"
        for name in SCALARS
        if isinstance(free.get(name), int | float)
        and not isinstance(free.get(name), bool)
        and (name != "gpus" or free[name] > 0)  # most agents have none: no news
    ]
    return ", ".join(parts) or "-"


def explain(
    app_id: str,
    queue: Iterable[Any],
    agents: Iterable[Any],
    framework_id: str | None,
    allocation: dict[str, Any] | None,
    allocation_error: str | None = None,
) -> dict[str, Any] | None:
    """Why ``app_id``'s instances wait, or None when none waits.

    ``queue`` is ``/v2/queue``'s list, ``agents`` ``/mesos/master/slaves``' list,
    ``framework_id`` Marathon's (``/v2/info``), ``allocation`` the master's
    ``GetState("allocation")`` document (None, with ``allocation_error`` saying why, when
    it could not be had: the Marathon side is still worth showing).
    """
    entry = queue_entry(queue, app_id)
    if entry is None:
        return None
    summary = entry.get("processedOffersSummary") or {}
    declined = [
        {"reason": _str(r.get("reason")), "declined": _int(r.get("declined"))}
        for r in summary.get("rejectSummaryLastOffers") or []
        if isinstance(r, dict) and _int(r.get("declined")) > 0
    ]
    by_marathon = marathon_reasons(entry)
    known: dict[str, str] = {}
    for a in agents:
        if isinstance(a, dict) and a.get("id"):
            known[str(a["id"])] = _str(a.get("hostname"))
    for unused in entry.get("lastUnusedOffers") or []:
        offer = unused.get("offer") if isinstance(unused, dict) else None
        if isinstance(offer, dict) and offer.get("agentId"):
            known.setdefault(str(offer["agentId"]), _str(offer.get("hostname")))
    rows = []
    for agent_id in sorted(known):
        master: list[str] | None = None
        offered = False
        free = None
        if allocation is not None:
            free = agent_free(allocation, agent_id)
            if framework_id:
                master, offered = master_reasons(allocation, framework_id, agent_id)
        rows.append(
            {
                "agentId": agent_id,
                "hostname": known[agent_id],
                "free": free,
                "marathon": by_marathon.get(agent_id),
                "master": master,
                "offered": offered,
            }
        )
    delay = entry.get("delay") if isinstance(entry.get("delay"), dict) else None
    return {
        "appId": app_id,
        "count": _int(entry.get("count")),
        "since": entry.get("since"),
        "reason": _str(entry.get("waitingReason")),
        "delay": delay,
        "declined": declined,
        "frameworkId": framework_id,
        "allocationTime": allocation.get("time") if allocation is not None else None,
        "allocationError": allocation_error if allocation is None else None,
        "agents": rows,
    }


def render(doc: dict[str, Any]) -> Rendered:
    """``explain``'s document for people: a summary, then one row per agent."""
    lines = [f"waiting: {doc['count']} instance(s) of {doc['appId']} to launch"]
    if doc.get("since"):
        lines[0] += f" (queued since {doc['since']})"
    if doc.get("reason"):
        lines.append(f"  marathon: {doc['reason']}")
    if doc.get("declined"):
        counts = ", ".join(f"{d['reason']} x{d['declined']}" for d in doc["declined"])
        lines.append(f"  offers declined for: {counts}")
    delay = doc.get("delay") or {}
    left = delay.get("timeLeftSeconds")
    if isinstance(left, int | float) and left > 0:
        lines.append(f"  launch backoff: next attempt in {left:g} s")
    if doc.get("allocationError"):
        lines.append(f"  master: last allocation not available ({doc['allocationError']})")
    rows: list[tuple[str, ...]] = []
    for a in doc.get("agents") or []:
        if a.get("master") is None:
            master = "-"
        elif a.get("offered"):
            master = "offered to Marathon"
        else:
            master = "; ".join(a["master"]) or "no reason recorded"
        rows.append(
            (
                _str(a.get("agentId")),
                _str(a.get("hostname")),
                free_text(a.get("free")),
                _str(a.get("marathon")) or "no offer seen",
                master,
            )
        )
    columns = ("AGENT", "HOSTNAME", "FREE", "MARATHON (LAST OFFER)", "MASTER (LAST ALLOCATION)")
    return Rendered(lines, columns, rows)
