"""The scheduler's HTTP API, dcos-commons' paths and shapes (reached through the master
at ``/service/<name>/v1/...``):

| path | answer |
|---|---|
| ``GET /v1/plans`` | plan names (``deploy``, ``update``, ``recovery``, custom plans) |
| ``GET /v1/plans/{plan}`` | PlanInfo; 200 when COMPLETE, else 202 (dcos-commons) |
| ``POST /v1/plans/{plan}/start`` | body ``{"KEY": "value"}``: parameters for the tasks |
| ``POST /v1/plans/{plan}/stop|continue|interrupt`` | |
| ``POST /v1/plans/{plan}/forceComplete|restart`` | ``?phase=&step=`` (names or ids) |
| ``GET /v1/pod``, ``/v1/pod/status`` | instance names; tasks and states per pod |
| ``GET /v1/pod/{name}/info``, ``/status`` | each task's info and status |
| ``POST /v1/pod/{name}/restart`` | kill + relaunch in place |
| ``POST /v1/pod/{name}/replace[?force=true]`` | fresh reservation and volumes (409: a |
| | healthy pod without force) |
| ``GET /v1/configurations[/targetId|/target|/{id}]`` | config ids, the target config |
| ``GET /v1/endpoints[/{name}]`` | named ports: ``address`` host:port, ``dns`` names |

Unknown plans, phases, steps, pods and endpoints: 404 ``{"message"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from actors.sdk._errors import PlanCommandError, PlanNotFound, SdkError

PLAN_COMMANDS = ("start", "stop", "continue", "interrupt", "forceComplete", "restart")


class Shell(Protocol):
    def call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(core)`` under the scheduler's lock, then persist and act."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except PlanNotFound as exc:
        return _error(404, str(exc))
    except PlanCommandError as exc:
        return _error(exc.status, str(exc))
    except SdkError as exc:
        return _error(503, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason or "error")
        raise


class SchedulerApi:
    def __init__(self, shell: Shell, loop_call: Callable[..., Any] | None = None) -> None:
        self.shell = shell

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/v1/health", self.health),
                web.get("/v1/plans", self.plans),
                web.get("/v1/plans/{plan}", self.plan),
                web.post("/v1/plans/{plan}/{command}", self.plan_command),
                web.get("/v1/pod", self.pods),
                web.get("/v1/pod/status", self.pods_status),
                web.get("/v1/pod/{name}/info", self.pod_info),
                web.get("/v1/pod/{name}/status", self.pod_status),
                web.post("/v1/pod/{name}/restart", self.pod_restart),
                web.post("/v1/pod/{name}/replace", self.pod_replace),
                web.get("/v1/configurations", self.configurations),
                web.get("/v1/configurations/targetId", self.target_id),
                web.get("/v1/configurations/target", self.target),
                web.get("/v1/configurations/{id}", self.configuration),
                web.get("/v1/endpoints", self.endpoints),
                web.get("/v1/endpoints/{name}", self.endpoint),
            ]
        )
        return app

    async def health(self, request: web.Request) -> web.Response:
        doc = self.shell.call(lambda core: core.plan_view("deploy"))
        return web.json_response({"deploy": doc["status"]})

    async def plans(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: core.plan_names()))

    async def plan(self, request: web.Request) -> web.Response:
        name = request.match_info["plan"]
        doc = self.shell.call(lambda core: core.plan_view(name))
        return web.json_response(doc, status=200 if doc["status"] == "COMPLETE" else 202)

    async def plan_command(self, request: web.Request) -> web.Response:
        name, command = request.match_info["plan"], request.match_info["command"]
        if command not in PLAN_COMMANDS:
            return _error(404, f"no plan command {command!r} (one of {', '.join(PLAN_COMMANDS)})")
        params: Any = None
        if command == "start" and request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    params = json.loads(raw)
                except ValueError as exc:
                    return _error(400, f"body: not JSON: {exc}")
        phase = request.query.get("phase") or None
        step = request.query.get("step") or None
        if step is not None and phase is None and command not in ("forceComplete", "restart"):
            return _error(400, f"step: {command} takes no step")

        def run(core: Any) -> None:
            core.plan_command(name, command, phase=phase, step=step, params=params)

        self.shell.call(run)
        return web.json_response({"message": f"Received cmd: {command}"})

    async def pods(self, request: web.Request) -> web.Response:
        from actors.sdk._core import all_instances

        return web.json_response(self.shell.call(lambda core: all_instances(core.spec)))

    async def pods_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: core.pod_status()))

    async def pod_info(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.json_response(self.shell.call(lambda core: core.pod_info(name)))

    async def pod_status(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        def status(core: Any) -> dict[str, Any]:
            info = core.pod_info(name)
            return {
                "name": name,
                "tasks": [
                    {
                        "id": t["status"]["taskId"]["value"],
                        "name": t["info"]["name"],
                        "status": t["status"]["state"],
                    }
                    for t in info
                ],
            }

        return web.json_response(self.shell.call(status))

    async def pod_restart(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        killed = self.shell.call(lambda core: core.shell_pod("restart", name, False))
        return web.json_response({"pod": name, "tasks": killed})

    async def pod_replace(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        force = request.query.get("force", "false").lower()
        if force not in ("true", "false"):
            return _error(400, f"force: {force!r} must be true or false")
        killed = self.shell.call(lambda core: core.shell_pod("replace", name, force == "true"))
        return web.json_response({"pod": name, "tasks": killed})

    async def configurations(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: sorted(core.configs)))

    async def target_id(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: core.spec.config_id))

    async def target(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: core.spec.raw))

    async def configuration(self, request: web.Request) -> web.Response:
        cid = request.match_info["id"]

        def get(core: Any) -> Any:
            doc = core.configs.get(cid)
            if doc is None:
                raise PlanNotFound(f"configuration {cid!r} does not exist")
            return doc

        return web.json_response(self.shell.call(get))

    async def endpoints(self, request: web.Request) -> web.Response:
        return web.json_response(self.shell.call(lambda core: sorted(core.endpoints())))

    async def endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        def get(core: Any) -> Any:
            doc = core.endpoints().get(name)
            if doc is None:
                raise PlanNotFound(f"endpoint {name!r} does not exist")
            return doc

        return web.json_response(self.shell.call(get))
