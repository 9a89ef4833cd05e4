"""Mesos' v0 storage and quota endpoints (issue 23), on every master (a standby answers
307 to the leader, as Mesos' ``/master/*`` handlers do).

- ``POST /master/reserve`` and ``/master/unreserve``: ``slaveId=<id>&resources=<JSON
  array of Resource>`` (form-encoded, as ``curl -d`` sends it); 202 when applied.
- ``POST /master/create-volumes`` and ``/master/destroy-volumes``: ``slaveId=<id>&volumes
  =<JSON array of Resource with disk.persistence>``; 202.
- ``GET /master/quota`` (``{"infos": [...], "configs": [...]}``), ``POST /master/quota``
  (``{"role", "guarantee": [Resource], "force"}``: Mesos 1.9 sets guarantee and limit to
  the same value), ``DELETE /master/quota/<role>``.

Also under ``/mesos/master/...`` (Admin Router's prefix). A refused operation answers 409
with ``{"message": ...}`` naming the resource (400 for a malformed request); nothing
changes. The leading master validates and applies (``actors.master._reservations``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from actors import protocol as p

_CALLS = {
    "reserve": ("RESERVE_RESOURCES", "resources"),
    "unreserve": ("UNRESERVE_RESOURCES", "resources"),
    "create-volumes": ("CREATE_VOLUMES", "volumes"),
    "destroy-volumes": ("DESTROY_VOLUMES", "volumes"),
}
_PREFIXES = ("/master", "/mesos/master")


def parse_form(body: str, query: dict[str, str], field: str) -> tuple[str, list[Any]]:
    """``slaveId`` and the JSON array named ``field`` from a form body (or the query);
    raises ``ValueError`` naming the parameter."""
    form = parse_qs(body, keep_blank_values=True)

    def get(name: str) -> str:
        values = form.get(name) or ([query[name]] if name in query else [])
        if not values or not values[0]:
            raise ValueError(f"{name}: missing; send {name}=...")
        return values[0]

    slave_id = get("slaveId")
    raw = get(field)
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{field}: not JSON: {exc}") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"{field}: {raw:.60} must be a non-empty JSON array of Resource")
    return slave_id, value


def quota_request(doc: Any) -> dict[str, Any]:
    """A v0 ``POST /quota`` body -> the UPDATE_QUOTA body (guarantee = limit, Mesos 1.9);
    raises ``ValueError`` naming the field."""
    if not isinstance(doc, dict):
        raise ValueError(f"body: {doc!r:.60} must be a JSON object")
    role = doc.get("role")
    if not isinstance(role, str) or not role:
        raise ValueError(f"role: {role!r:.60} must be a non-empty string")
    items = doc.get("guarantee")
    if not isinstance(items, list) or not items:
        raise ValueError(f"guarantee: {items!r:.60} must be a non-empty array of Resource")
    scalars: dict[str, dict[str, float]] = {}
    for i, r in enumerate(items):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise ValueError(f"guarantee[{i}]: {r!r:.60} must be a Resource with a name")
        if r.get("type", "SCALAR") != "SCALAR":
            raise ValueError(f"guarantee[{i}].type: quota takes SCALAR resources only")
        value = (r.get("scalar") or {}).get("value") if isinstance(r.get("scalar"), dict) else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"guarantee[{i}].scalar.value: {value!r:.40} must be a number")
        scalars[r["name"]] = {"value": float(value)}
    force = doc.get("force", False)
    if not isinstance(force, bool):
        raise ValueError(f"force: {force!r:.40} must be true or false")
    config = {"role": role, "guarantees": scalars, "limits": scalars}
    return {"force": force, "quota_configs": [config]}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


LEGACY_QUOTA_CALLS = ("SET_QUOTA", "REMOVE_QUOTA")
"""Mesos' deprecated v1 quota calls (pymesos' ``setQuota``/``removeQuota``), answered
as UPDATE_QUOTA."""


def legacy_quota_body(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """SET_QUOTA ``{"set_quota": {"quota_request": {role, guarantee, force}}}`` or
    REMOVE_QUOTA ``{"remove_quota": {"role"}}`` -> the UPDATE_QUOTA body; ``ValueError``
    names the field."""
    if kind == "SET_QUOTA":
        part = doc.get("set_quota")
        req = part.get("quota_request") if isinstance(part, dict) else None
        try:
            return quota_request(req)
        except ValueError as exc:
            raise ValueError(f"set_quota.quota_request.{exc}") from None
    part = doc.get("remove_quota")
    role = part.get("role") if isinstance(part, dict) else None
    if not isinstance(role, str) or not role:
        raise ValueError(f"remove_quota.role: {role!r:.60} must be a non-empty string")
    return {"force": True, "quota_configs": [{"role": role}]}


def storage_routes(ctx: Any, _to_leader: Callable[[Any, web.Request], None]) -> list[web.RouteDef]:
    """The v0 routes (``ctx``: the master's ``ServiceContext``; ``_to_leader(gateway,
    request)`` redirects a standby, from the operator module)."""

    async def ask(call: str, body: dict[str, Any]) -> web.Response:
        answer = await ctx.gateway.ask_master(p.OperatorCall(call, body))
        if not isinstance(answer, dict):
            return _error(500, f"the master answered {type(answer).__name__}")
        if "error" in answer:
            return _error(409, str(answer["error"]))
        return web.Response(status=202 if call != "UPDATE_QUOTA" else 200)

    def operation(name: str) -> Any:
        call, field = _CALLS[name]

        async def handler(request: web.Request) -> web.StreamResponse:
            _to_leader(ctx.gateway, request)
            body = (await request.read()).decode("utf-8", errors="replace")
            try:
                slave_id, items = parse_form(body, dict(request.query), field)
            except ValueError as exc:
                return _error(400, str(exc))
            return await ask(call, {"agent_id": slave_id, field: items})

        return handler

    async def quota_get(request: web.Request) -> web.StreamResponse:
        _to_leader(ctx.gateway, request)
        answer = await ctx.gateway.ask_master(p.OperatorCall("GET_QUOTA"))
        if not isinstance(answer, dict) or "error" in answer:
            return _error(500, f"the master answered {answer!r:.100}")
        return web.json_response(answer.get("get_quota", {}).get("status", {}))

    async def quota_post(request: web.Request) -> web.StreamResponse:
        _to_leader(ctx.gateway, request)
        try:
            body = quota_request(json.loads(await request.read() or b"null"))
        except ValueError as exc:
            return _error(400, str(exc))
        return await ask("UPDATE_QUOTA", body)

    async def quota_delete(request: web.Request) -> web.StreamResponse:
        _to_leader(ctx.gateway, request)
        role = request.match_info["role"]
        quotas = await ctx.gateway.ask_master(p.OperatorCall("GET_QUOTA"))
        configs = quotas.get("get_quota", {}).get("status", {}).get("configs", [])
        if role not in {c.get("role") for c in configs}:
            return _error(400, f"role: no quota is set for role {role!r}")
        return await ask("UPDATE_QUOTA", {"force": True, "quota_configs": [{"role": role}]})

    routes: list[web.RouteDef] = []
    for prefix in _PREFIXES:
        for name in _CALLS:
            routes.append(web.post(f"{prefix}/{name}", operation(name)))
        routes.append(web.get(f"{prefix}/quota", quota_get))
        routes.append(web.post(f"{prefix}/quota", quota_post))
        routes.append(web.delete(f"{prefix}/quota/{{role}}", quota_delete))
    return routes
