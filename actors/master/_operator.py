"""Operator calls the leading master answers itself (``OperatorCall``), pure.

Reads render the Mesos v1 ``Response`` JSON from the state (``_v1``). The two writes,
UPDATE_WEIGHTS and UPDATE_QUOTA, change the allocator's role weights and quotas at
runtime: the new values are validated whole (one bad entry refuses the call, nothing
changes), then written to the registry (``Persist("weights"|"quotas", role)``) BEFORE
the call is answered, so a new leader after a failover allocates with them
(:func:`recover_settings`). The next allocation cycle uses them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from actors import protocol as p
from actors.master._effects import Effect, Persist, Unpersist
from actors.master._errors import MasterError
from actors.master._offers import rescind
from actors.master._reservations import (
    OPERATOR_STORAGE_CALLS,
    StorageRefused,
    operator_call,
    role_consumption,
)
from actors.master._state import MasterState
from actors.master._v1 import (
    v1_get_agents,
    v1_get_executors,
    v1_get_frameworks,
    v1_get_quota,
    v1_get_roles,
    v1_get_state,
    v1_get_tasks,
    v1_get_weights,
)
from actors.master.allocator import AllocatorInputError, Quota
from actors.resources import Resources

MAX_ROLE_CHARS = 256


class OperatorCallRefused(MasterError):
    """An operator update the master refuses; the message names the field and value."""


def read(s: MasterState, call: str) -> dict[str, Any]:
    """The v1 ``Response`` of a read call (GET_MASTER needs the actor's facts: not here)."""
    body: dict[str, Any]
    if call == "GET_STATE":
        body = v1_get_state(s)
    elif call == "GET_AGENTS":
        body = v1_get_agents(s)
    elif call == "GET_FRAMEWORKS":
        body = v1_get_frameworks(s)
    elif call == "GET_EXECUTORS":
        body = v1_get_executors(s)
    elif call == "GET_TASKS":
        body = v1_get_tasks(s)
    elif call == "GET_ROLES":
        body = v1_get_roles(s, s.weights, s.quotas)
    elif call == "GET_QUOTA":
        body = v1_get_quota(s.quotas)
    elif call == "GET_WEIGHTS":
        body = v1_get_weights(s.weights)
    else:
        raise OperatorCallRefused(f"type: {call!r:.60} is not an operator read this master answers")
    return {"type": call, call.lower(): body}


def check_role(where: str, role: object) -> str:
    """A role name as Mesos accepts it: non-empty, no spaces or control characters,
    not ``.``/``..``, no leading ``-`` or ``/``, at most 256 characters."""
    if not isinstance(role, str) or not role:
        raise OperatorCallRefused(f"{where}: {role!r:.60} must be a non-empty string")
    if (
        len(role) > MAX_ROLE_CHARS
        or role in (".", "..")
        or role[0] in "-/"
        or any(c.isspace() or not c.isprintable() or c == "\\" for c in role)
    ):
        raise OperatorCallRefused(f"{where}: {role!r:.60} is not a valid role name")
    return role


def _number(where: str, value: object, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise OperatorCallRefused(f"{where}: {value!r:.60} must be a finite number")
    if positive and value <= 0:
        raise OperatorCallRefused(f"{where}: {value!r:.60} must be > 0")
    if value < 0:
        raise OperatorCallRefused(f"{where}: {value!r:.60} must be >= 0")
    return float(value)


def parse_weights(body: Mapping[str, Any]) -> dict[str, float]:
    """``update_weights``: ``{"weight_infos": [{"role", "weight"}]}`` -> role -> weight."""
    infos = body.get("weight_infos")
    if not isinstance(infos, list) or not infos:
        raise OperatorCallRefused(
            f"update_weights.weight_infos: {infos!r:.60} must be a non-empty list"
        )
    out: dict[str, float] = {}
    for i, info in enumerate(infos):
        where = f"update_weights.weight_infos[{i}]"
        if not isinstance(info, dict):
            raise OperatorCallRefused(f"{where}: {info!r:.60} must be an object")
        role = check_role(f"{where}.role", info.get("role"))
        if role in out:
            raise OperatorCallRefused(f"{where}.role: {role!r} is listed twice")
        out[role] = _number(f"{where}.weight", info.get("weight"), positive=True)
    return out


def _scalar_map(where: str, value: object) -> dict[str, float]:
    """A ``map<string, Value.Scalar>``: ``{"cpus": {"value": 1.5}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OperatorCallRefused(f"{where}: {value!r:.60} must be an object")
    out: dict[str, float] = {}
    for name, scalar in value.items():
        if not isinstance(name, str) or not name:
            raise OperatorCallRefused(f"{where}: resource name {name!r:.60} is not valid")
        if not isinstance(scalar, dict) or "value" not in scalar:
            raise OperatorCallRefused(f"{where}.{name}: {scalar!r:.60} must be {{'value': n}}")
        out[name] = _number(f"{where}.{name}.value", scalar["value"], positive=False)
    return out


def parse_quotas(body: Mapping[str, Any]) -> tuple[dict[str, Quota | None], bool]:
    """``update_quota``: ``{"force", "quota_configs": [{"role", "guarantees",
    "limits"}]}`` -> role -> Quota (None: no guarantees and no limits, i.e. the default,
    which removes the role's quota), and ``force``."""
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise OperatorCallRefused(f"update_quota.force: {force!r:.60} must be true or false")
    configs = body.get("quota_configs")
    if not isinstance(configs, list) or not configs:
        raise OperatorCallRefused(
            f"update_quota.quota_configs: {configs!r:.60} must be a non-empty list"
        )
    out: dict[str, Quota | None] = {}
    for i, cfg in enumerate(configs):
        where = f"update_quota.quota_configs[{i}]"
        if not isinstance(cfg, dict):
            raise OperatorCallRefused(f"{where}: {cfg!r:.60} must be an object")
        role = check_role(f"{where}.role", cfg.get("role"))
        if role in out:
            raise OperatorCallRefused(f"{where}.role: {role!r} is listed twice")
        guarantees = _scalar_map(f"{where}.guarantees", cfg.get("guarantees"))
        limits = _scalar_map(f"{where}.limits", cfg.get("limits"))
        if not guarantees and not limits:
            out[role] = None
            continue
        try:
            out[role] = Quota(guarantee=guarantees, limit=limits)
        except (AllocatorInputError, ValueError) as exc:
            raise OperatorCallRefused(f"{where}: {exc}") from None
    return out, force


def _check_capacity(s: MasterState, quotas: Mapping[str, Quota]) -> None:
    """Without ``force``, Mesos refuses guarantees the cluster cannot hold."""
    total = Resources()
    for a in s.agents.values():
        if a.reachable:
            total = total + a.total
    wanted: dict[str, float] = {}
    for q in quotas.values():
        for name, amount in q.guarantee.items():
            wanted[name] = wanted.get(name, 0.0) + amount
    for name, amount in sorted(wanted.items()):
        have = total.scalar(name)
        if amount > have + 1e-9:
            raise OperatorCallRefused(
                f"update_quota: the guarantees of {name} ({amount:g}) exceed the cluster's"
                f" {have:g}; set force to true to set them anyway"
            )


def _check_usage(s: MasterState, quotas: Mapping[str, Quota]) -> None:
    """Without ``force``, Mesos 1.9 refuses a limit below what the role consumes now."""
    for role, q in sorted(quotas.items()):
        if not q.limit:
            continue
        used = role_consumption(s, role)
        for name, limit in sorted(q.limit.items()):
            have = used.scalar(name)
            if have > limit + 1e-9:
                raise OperatorCallRefused(
                    f"update_quota: the limit of {name} for role {role!r} ({limit:g}) is below"
                    f" its current consumption ({have:g}); set force to true to set it anyway"
                )


def update_weights(s: MasterState, body: Mapping[str, Any], out: list[Effect]) -> None:
    """Validate, persist, apply (raises ``OperatorCallRefused``: nothing changed)."""
    weights = parse_weights(body)
    for role, weight in weights.items():
        out.append(Persist("weights", role, {"role": role, "weight": weight}))
    s.weights.update(weights)
    s.dirty = True


def update_quota(s: MasterState, body: Mapping[str, Any], out: list[Effect]) -> None:
    """Validate, persist, apply (raises ``OperatorCallRefused``: nothing changed)."""
    updates, force = parse_quotas(body)
    after = dict(s.quotas)
    for role, q in updates.items():
        if q is None:
            after.pop(role, None)
        else:
            after[role] = q
    if not force:
        _check_capacity(s, after)
        _check_usage(s, {r: q for r, q in updates.items() if q is not None})
    for role, q in updates.items():
        if q is None:
            out.append(Unpersist("quotas", role))
        else:
            out.append(Persist("quotas", role, quota_doc(role, q)))
    s.quotas = after
    s.dirty = True


def quota_doc(role: str, q: Quota) -> dict[str, Any]:
    return {"role": role, "guarantee": dict(q.guarantee), "limit": dict(q.limit)}


def recover_settings(
    s: MasterState, weights: Iterable[dict[str, Any]], quotas: Iterable[dict[str, Any]]
) -> None:
    """Apply weights and quotas from the registry over the config's (a corrupt record is
    skipped and noted in ``s.errors``)."""
    for doc in weights:
        try:
            role = check_role("weight.role", doc["role"])
            s.weights[role] = _number("weight.weight", doc["weight"], positive=True)
        except (KeyError, TypeError, OperatorCallRefused) as exc:
            s.errors.append(f"weight record {doc!r:.200}: {exc}")
    for doc in quotas:
        try:
            role = check_role("quota.role", doc["role"])
            s.quotas[role] = Quota(
                guarantee={str(k): float(v) for k, v in dict(doc.get("guarantee") or {}).items()},
                limit={str(k): float(v) for k, v in dict(doc.get("limit") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, OperatorCallRefused) as exc:
            s.errors.append(f"quota record {doc!r:.200}: {exc}")


def answer(s: MasterState, call: p.OperatorCall, out: list[Effect]) -> dict[str, Any]:
    """Answer one operator call: a read's Response, ``{}`` for an applied update,
    ``{"error": ...}`` for a refused call (the state untouched)."""
    try:
        if call.type == "UPDATE_WEIGHTS":
            update_weights(s, _body(call.body), out)
            return {}
        if call.type == "UPDATE_QUOTA":
            update_quota(s, _body(call.body), out)
            return {}
        if call.type in OPERATOR_STORAGE_CALLS:
            operator_call(s, str(call.type), _body(call.body), out, rescind)
            return {}
        return read(s, str(call.type))
    except (OperatorCallRefused, StorageRefused) as exc:
        return {"error": str(exc)}


def _body(body: object) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise OperatorCallRefused(f"call body: {body!r:.60} must be an object")
    return body
