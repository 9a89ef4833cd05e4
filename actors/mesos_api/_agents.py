"""Mesos' agent endpoints behind every master's gateway, as DC/OS' Admin Router serves
them: ``/agent/{agent_id}/slave(1)/state`` and ``/agent/{agent_id}/state`` (also with
``.json``, and under Admin Router's legacy ``/slave/{agent_id}/``, which the DC/OS CLI's
library reads).

pydcos agents have no HTTP server: any master (a standby too) asks the agent's actor
(``gateway.agent_address`` + ``ask_at`` with ``GetAgentState(detail=True)``) and the
leader's master actor (the frameworks' names, users and roles), and renders Mesos'
agent ``/state`` document (``agent_state_json``, pure). The sandbox files
(``/agent/{agent_id}/files/...``) are the logs service's (``actors.logs``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.agent import GetAgentState
from actors.gateway import MESOS_VERSION
from actors.protocol import GetState
from actors.resources import UNRESERVED, Resources, reserved_resources_json, to_mesos_json
from actors.task_states import is_terminal
from runtime import RuntimeSystemError

COMMAND_EXECUTOR = "Command Executor (Task: {task_id}) (Command: NO EXECUTABLE)"
"""Mesos' name for the built-in command executor of a task."""


def _pid(address: str, name: str) -> str:
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return f"{name}@{hostport}"


def _host(address: str | None) -> str:
    if not address:
        return ""
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return hostport.rsplit(":", 1)[0]


def _task_json(agent_id: str, t: dict[str, Any], wall: float) -> dict[str, Any]:
    res = Resources.from_dict(t.get("resources") or {})
    status: dict[str, Any] = {"state": t["state"], "timestamp": wall}
    if t.get("healthy") is not None:
        status["healthy"] = t["healthy"]
    labels = t.get("labels") or {}
    out: dict[str, Any] = {
        "id": t["task_id"],
        "name": t.get("name", ""),
        "framework_id": t["framework_id"],
        "executor_id": "",
        "slave_id": agent_id,
        "state": t["state"],
        "resources": to_mesos_json(res),
        "statuses": [status],
    }
    if labels:
        out["labels"] = [{"key": k, "value": v} for k, v in sorted(labels.items())]
    if t.get("container_type"):
        out["container"] = {"type": t["container_type"]}
    return out


def _executor_json(
    agent_id: str, t: dict[str, Any], work_dir: str | None, role: str, wall: float
) -> dict[str, Any]:
    task = _task_json(agent_id, t, wall)
    done = is_terminal(str(t["state"]))
    out: dict[str, Any] = {
        "id": t["task_id"],
        "name": COMMAND_EXECUTOR.format(task_id=t["task_id"]),
        "source": t["task_id"],
        "container": "",
        "directory": f"{work_dir}/sandboxes/{t['task_id']}" if work_dir else "",
        "resources": task["resources"],
        "role": role,
        "framework_id": t["framework_id"],
        "type": "COMMAND",
        "tasks": [] if done else [task],
        "queued_tasks": [],
        "completed_tasks": [task] if done else [],
    }
    return out


def agent_state_json(
    agent_id: str,
    agent: dict[str, Any],
    frameworks: list[dict[str, Any]],
    *,
    wall: float,
) -> dict[str, Any]:
    """Mesos' agent ``/state`` from the agent's ``GetAgentState(detail=True)`` answer
    and the leader's ``/master/frameworks`` entries (name, user, roles of each
    framework; a framework the leader no longer knows is rendered from its id).
    ``wall``: now, wall clock (the tasks' status timestamps; pydcos keeps no history)."""
    total = Resources.from_dict(agent.get("resources") or {})
    by_id = {str(f.get("id")): f for f in frameworks}
    tasks_by_fw: dict[str, list[dict[str, Any]]] = {}
    for t in agent.get("task_details") or []:
        tasks_by_fw.setdefault(str(t["framework_id"]), []).append(t)
    out_fws = []
    for fid, tasks in sorted(tasks_by_fw.items()):
        f = by_id.get(fid, {})
        roles = list(f.get("roles") or ["*"])
        execs = [
            _executor_json(agent_id, t, agent.get("work_dir"), roles[0], wall)
            for t in sorted(tasks, key=lambda t: str(t["task_id"]))
        ]
        out_fws.append(
            {
                "id": fid,
                "name": f.get("name", ""),
                "user": f.get("user", "root"),
                "failover_timeout": f.get("failover_timeout", 0.0),
                "checkpoint": True,
                "hostname": f.get("hostname", ""),
                "role": roles[0],
                "roles": roles,
                "capabilities": f.get("capabilities", []),
                "executors": [e for e in execs if e["tasks"]],
                "completed_executors": [e for e in execs if not e["tasks"]],
            }
        )
    address = str(agent.get("address") or "")
    return {
        "version": MESOS_VERSION,
        "id": agent_id,
        "pid": _pid(address, "slave(1)"),
        "hostname": agent.get("hostname", ""),
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "resources": to_mesos_json(total),
        "attributes": dict(agent.get("attributes") or {}),
        "master_hostname": _host(agent.get("master")),
        "flags": {"work_dir": agent.get("work_dir") or ""},
        "frameworks": out_fws,
        "completed_frameworks": [],
        "reserved_resources": reserved_resources_json(total),
        "unreserved_resources": to_mesos_json(total.for_role(UNRESERVED)),
    }


class AgentApiService:
    """The ``NodeService`` "agent-api": every master serves the agents' ``/state``."""

    name = "agent-api"

    def child_specs(self, ctx: Any) -> list[Any]:
        return []

    def routes(self, ctx: Any) -> list[web.RouteDef]:
        async def state(request: web.Request) -> web.StreamResponse:
            agent_id = request.match_info["agent_id"]
            gateway = ctx.gateway
            address = await gateway.agent_address(agent_id)
            try:
                agent = await gateway.ask_at(address, GetAgentState(detail=True))
            except (RuntimeSystemError, TimeoutError) as exc:
                return web.json_response(
                    {"message": f"agent {agent_id!r} did not answer: {exc}"},
                    status=503,
                    headers={"Retry-After": "1"},
                )
            if not isinstance(agent, dict) or "task_details" not in agent:
                return web.json_response(
                    {"message": f"agent {agent_id!r} answered no state (an older agent?)"},
                    status=502,
                )
            frameworks: list[dict[str, Any]] = []
            leader = gateway.leader_master_address()
            if leader is not None:
                try:
                    doc = await gateway.ask_at(leader, GetState("frameworks"))
                    frameworks = list(doc.get("frameworks", []))
                except (RuntimeSystemError, TimeoutError, web.HTTPException):
                    frameworks = []  # names are nice to have; the agent's own facts are not
            wall = ctx.node.clock.wall()
            return web.json_response(agent_state_json(agent_id, agent, frameworks, wall=wall))

        paths = [
            f"/{kind}/{{agent_id}}/{prefix}state{ext}"
            for kind in ("agent", "slave")  # Admin Router's path, and its legacy one
            for prefix in ("slave(1)/", "")
            for ext in ("", ".json")
        ]
        return [web.get(path, state) for path in paths]
