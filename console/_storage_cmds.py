"""The console's quota verbs (issue 23): ``pydcos quota list|set|remove``, as DC/OS 2's
``dcos quota``.

Quota is Mesos 1.9's: per role, a *limit* the role's frameworks are never offered beyond
and an optional *guarantee*. ``set`` sends the operator API's UPDATE_QUOTA (``POST
/mesos/api/v1``); the master refuses a limit below what the role consumes now unless
``--force``, naming the resource. Values are persisted in ZooKeeper by the master.
"""

from __future__ import annotations

import math
from typing import Any

from console._client import ClientError, ClusterClient
from console._output import Out, fmt_num

RESOURCES = ("cpus", "mem", "disk", "gpus")


def quota_rows(status: dict[str, Any]) -> list[tuple[str, str, str]]:
    """One row per role: ``ROLE``, ``LIMIT``, ``GUARANTEE`` as ``cpus:1 mem:512``."""

    def text(values: dict[str, Any]) -> str:
        parts = [f"{n}:{fmt_num(float(v.get('value', 0)))}" for n, v in sorted(values.items())]
        return " ".join(parts) or "-"

    rows = []
    for cfg in sorted(status.get("configs") or [], key=lambda c: str(c.get("role"))):
        rows.append(
            (str(cfg.get("role")), text(cfg.get("limits") or {}), text(cfg.get("guarantees") or {}))
        )
    return rows


def quota_body(
    role: str, amounts: dict[str, float | None], guarantee: bool, force: bool
) -> dict[str, Any]:
    """The UPDATE_QUOTA call for ``quota set``; ``ClientError`` names a bad value."""
    role = role.strip()
    if not role or role in (".", "..") or role.startswith(("-", "/")) or " " in role:
        raise ClientError(f"quota set: ROLE {role!r} is not a valid role name")
    limits: dict[str, dict[str, float]] = {}
    for name, value in amounts.items():
        if value is None:
            continue
        if not math.isfinite(value) or value < 0:
            raise ClientError(f"quota set: --{name} {value!r} must be a number >= 0")
        limits[name] = {"value": value}
    if not limits:
        raise ClientError("quota set: give at least one of --cpus, --mem, --disk, --gpus")
    config: dict[str, Any] = {"role": role, "limits": limits}
    if guarantee:
        config["guarantees"] = limits
    return {"type": "UPDATE_QUOTA", "update_quota": {"force": force, "quota_configs": [config]}}


def _status(c: ClusterClient) -> dict[str, Any]:
    doc = c.request("POST", "/mesos/api/v1", body={"type": "GET_QUOTA"}, what="quota")
    return dict(doc.get("get_quota", {}).get("status", {}))


def quota_list(c: ClusterClient, out: Out, args: Any) -> int:
    status = _status(c)
    if out.as_json:
        out.json(status.get("configs") or [])
        return 0
    out.table(("ROLE", "LIMIT", "GUARANTEE"), quota_rows(status), "Quota")
    return 0


def quota_set(c: ClusterClient, out: Out, args: Any) -> int:
    amounts = {n: getattr(args, n) for n in RESOURCES}
    body = quota_body(args.role, amounts, args.guarantee, args.force)
    c.request("POST", "/mesos/api/v1", body=body, what=f"quota of role {args.role}", ok=(200,))
    cfg = body["update_quota"]["quota_configs"][0]
    shown = " ".join(f"{n}:{fmt_num(v['value'])}" for n, v in sorted(cfg["limits"].items()))
    out.result(cfg, f"Quota of role {cfg['role']} set: {shown}")
    return 0


def quota_remove(c: ClusterClient, out: Out, args: Any) -> int:
    role = str(args.role).strip()
    if role not in {str(cfg.get("role")) for cfg in _status(c).get("configs") or []}:
        raise ClientError(f"quota remove: role {role!r} has no quota (see 'pydcos quota list')")
    body = {
        "type": "UPDATE_QUOTA",
        "update_quota": {"force": True, "quota_configs": [{"role": role}]},
    }
    c.request("POST", "/mesos/api/v1", body=body, what=f"quota of role {role}", ok=(200,))
    out.result({"role": role, "removed": True}, f"Quota of role {role} removed")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    leaf, group = groups["leaf"], groups["group"]
    q = group(sub, "quota", "role quotas (Mesos 1.9 limits and guarantees)")
    leaf(q, "list", "every role's quota", quota_list)
    st = leaf(q, "set", "set a role's quota limit (and guarantee)", quota_set)
    st.add_argument("role", metavar="ROLE", help="the role (e.g. 'web')")
    for name in RESOURCES:
        st.add_argument(f"--{name}", type=float, default=None, help=f"{name} limit")
    st.add_argument("--guarantee", action="store_true", help="also guarantee these amounts")
    st.add_argument("--force", action="store_true", help="even below current consumption")
    rm = leaf(q, "remove", "remove a role's quota", quota_remove)
    rm.add_argument("role", metavar="ROLE", help="the role")
