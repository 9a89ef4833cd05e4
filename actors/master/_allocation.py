"""``GetState("allocation")``: why frameworks wait, from the last allocation cycle (pure).

The allocator explains everything a framework did not get with ``Rejection`` rows
(filtered, quota, suppressed, inactive, agent unreachable, agent's free resources below
the smallest offer). The master keeps the last cycle's rows with what that cycle looked
at, and this module renders them as JSON for people and tools: ``pydcos marathon app
show`` and ``GET /mesos/master/allocation`` (a pydcos path: Mesos has none, and
``/master/state`` stays exactly Mesos' shape for strict clients).

The shape (every time is wall-clock seconds since the epoch)::

    {"cycle": 12,                      # allocation cycles this leader ran (0: none yet)
     "time": 1765000000.5 | null,      # when the cycle shown ran (null: none to show)
     "min_allocatable": [{"cpus": 0.01}, {"mem": 32.0}],   # an offer holds one of these
     "agents": [{"agent_id", "hostname", "reachable": bool,
                 "free": {Mesos resources: "cpus", "mem", "disk", "ports": "[a-b]", ...}}],
     "frameworks": [{"framework_id", "name" | null, "roles": [...], "active": bool,
                     "suppressed_roles": [...]}],
     "offers": [{"framework_id", "agent_id", "hostname", "role", "resources": {...}}],
     "rejections": [{"framework_id": id | "*", "agent_id": id | "*",
                     "hostname": str | null, "role": str | null,
                     "reason": "FILTERED" | "QUOTA_LIMIT" | "QUOTA_HEADROOM" |
                               "AGENT_UNREACHABLE" | "FRAMEWORK_SUPPRESSED" |
                               "FRAMEWORK_INACTIVE" | "NO_FREE_RESOURCES",
                     "message": "filtered" | ..., (the reason in words)
                     "detail": "...",            (which role, which resources, ...)
                     "until": float | null,      (FILTERED: when the filter expires)
                     "declined_because": str | null}]}  (FILTERED: ``Decline.reason``)

``"*"`` is a wildcard (every framework, or every agent), so a fully used cluster costs
one row per agent. ``params={"framework_id": id}`` keeps that framework's offers and the
rows that concern it (wildcards included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.master._errors import BadStateQuery
from actors.master._state import MasterState
from actors.master.allocator import ANY, Rejection, RejectReason
from actors.resources import to_mesos_json


def allocation_json(s: MasterState, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The last allocation cycle of ``s`` as JSON (see the module docstring)."""
    fid = (params or {}).get("framework_id")
    if fid is not None and not isinstance(fid, str):
        raise BadStateQuery(f"GetState allocation: framework_id {fid!r} must be a string")
    result, snap, at = s.last_allocation, s.last_snapshot, s.last_allocation_at
    doc: dict[str, Any] = {
        "cycle": s.alloc_cycles,
        "time": at + s.wall_offset if at is not None and result is not None else None,
        "min_allocatable": [dict(m) for m in s.alloc_config.min_allocatable],
        "agents": [],
        "frameworks": [],
        "offers": [],
        "rejections": [],
    }
    if result is None or snap is None or at is None:
        return doc
    hostnames = {a.agent_id: a.hostname for a in snap.agents}
    doc["agents"] = [
        {
            "agent_id": a.agent_id,
            "hostname": a.hostname,
            "reachable": a.reachable,
            "free": to_mesos_json(a.total.saturating_sub(a.allocated)),
        }
        for a in snap.agents
    ]
    doc["frameworks"] = [
        {
            "framework_id": f.framework_id,
            "name": _framework_name(s, f.framework_id),
            "roles": list(f.roles),
            "active": f.active,
            "suppressed_roles": sorted(f.suppressed_roles),
        }
        for f in snap.frameworks
        if fid is None or f.framework_id == fid
    ]
    doc["offers"] = [
        {
            "framework_id": o.framework_id,
            "agent_id": o.agent_id,
            "hostname": o.hostname,
            "role": o.role,
            "resources": to_mesos_json(o.resources),
        }
        for o in result.offers
        if fid is None or o.framework_id == fid
    ]
    doc["rejections"] = [
        rejection_json(r, hostnames.get(r.agent_id), at, s.wall_offset, _decline_reason(s, r))
        for r in result.rejections
        if fid is None or r.framework_id in (fid, ANY)
    ]
    return doc


def rejection_json(
    r: Rejection,
    hostname: str | None,
    at: float,
    wall_offset: float,
    declined_because: str | None = None,
) -> dict[str, Any]:
    """One row; a filter's expiry becomes wall-clock time and seconds left, and the
    framework's own reason for declining (when it gave one) is quoted."""
    detail = r.detail
    until = None
    if r.reason is RejectReason.FILTERED and r.until is not None:
        until = r.until + wall_offset
        why = f" ({declined_because})" if declined_because else ""
        detail = f"declined earlier{why}; filtered for {max(0.0, r.until - at):.1f} s more"
    return {
        "framework_id": r.framework_id,
        "agent_id": r.agent_id,
        "hostname": hostname,
        "role": r.role,
        "reason": r.reason.name,
        "message": r.reason.value,
        "detail": detail,
        "until": until,
        "declined_because": declined_because or None,
    }


def _decline_reason(s: MasterState, r: Rejection) -> str | None:
    """The reason of the filter behind a ``FILTERED`` row (the latest-expiring one)."""
    if r.reason is not RejectReason.FILTERED:
        return None
    fw = s.frameworks.get(r.framework_id)
    if fw is None:
        return None
    for f in fw.filters:
        if f.agent_id == r.agent_id and f.until == r.until and f.reason:
            return f.reason
    return None


def _framework_name(s: MasterState, framework_id: str) -> str | None:
    fw = s.frameworks.get(framework_id)
    return fw.info.name if fw is not None else None
