"""Marathon's REST API (``/marathon/v2/...``) on the master's aiohttp gateway.

Handlers never block the event loop: each request becomes one ``ApiRequest`` asked of
the Marathon actor from the loop's executor, and the (possibly large) answer is
JSON-encoded in the same executor job. The gateway mounts these routes as leader-only,
so a standby answers with a redirect to the leader before any handler runs.

App ids are paths with slashes, so the app routes use ``{id:.+}``; the routes with a
suffix (``/restart``, ``/tasks``, ``/versions``) are registered before the bare
``{id:.+}`` ones, and aiohttp tries routes in registration order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from actors._validation import BadJson, parse_json_body
from actors.gateway import forbidden, permit, principal, reader, send_bytes
from actors.master import ServiceContext

from . import _authz
from ._errors import InvalidPath
from ._events import EventBus, timestamp
from ._messages import MARATHON_ACTOR, ApiReply, ApiRequest
from ._paths import normalize_path
from ._pods_api import pod_routes

log = logging.getLogger("actors.marathon")

P = "/marathon"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    return value is not None and value.lower() in ("", "true", "1", "yes")


def _partial(request: web.Request) -> bool:
    """``partialUpdate``: true unless given as false (Marathon's default for PUT)."""
    value = request.query.get("partialUpdate")
    if value is None:
        return True
    return value.lower() not in ("false", "0", "no")


def _embed(request: web.Request) -> list[str]:
    out: list[str] = []
    for raw in request.query.getall("embed", []):
        out.extend(x.strip() for x in raw.split(",") if x.strip())
    return out


def _bad_json(message: str) -> web.Response:
    return web.json_response(
        {"message": "Invalid JSON", "details": [{"path": "/", "errors": [message]}]},
        status=400,
    )


class _Api:
    def __init__(self, ctx: ServiceContext, bus: EventBus, timeout: float) -> None:
        self.ctx = ctx
        self.bus = bus
        self.timeout = timeout

    # ------------------------------------------------------------------ plumbing

    def _call_sync(
        self, req: ApiRequest, visible: _authz.Visible | None = None
    ) -> tuple[int, bytes | None, dict[str, str]]:
        ref = self.ctx.node.ref(MARATHON_ACTOR)
        reply: ApiReply = ref.ask(req, timeout=self.timeout)
        doc = reply.body
        if visible is not None and reply.status == 200 and req.op in _authz.LIST_FILTERS:
            doc = _authz.LIST_FILTERS[req.op](doc, visible)  # only what the caller may read
            body = None if doc is None else json.dumps(doc).encode()
        elif reply.encode is not None:
            body = reply.encode()  # the tasks' cached texts, encoded here, off the actor
        else:
            body = None if doc is None else json.dumps(doc).encode()
        return reply.status, body, dict(reply.headers)

    async def call(self, req: ApiRequest, visible: _authz.Visible | None = None) -> web.Response:
        """Ask the Marathon actor; ``visible`` (from ``visible()``) narrows list answers
        to what the caller may read."""
        loop = asyncio.get_running_loop()
        status, body, headers = await loop.run_in_executor(None, self._call_sync, req, visible)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, body=body, headers=headers, content_type="application/json"
        )

    async def call_large(
        self, request: web.Request, req: ApiRequest, visible: _authz.Visible | None = None
    ) -> web.StreamResponse:
        """``call`` for answers that may be large (task lists: 42 MB at 100,000 tasks):
        the same status, headers and bytes, written in slices of the bytes object the
        actor's cache holds (``send_bytes``) instead of three whole copies."""
        loop = asyncio.get_running_loop()
        status, body, headers = await loop.run_in_executor(None, self._call_sync, req, visible)
        if body is None:
            return web.Response(status=status, headers=headers)
        return await send_bytes(request, body, status=status, headers=headers)

    async def body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {
                        "message": "Invalid JSON",
                        "details": [{"path": "/", "errors": ["empty body"]}],
                    }
                ),
                content_type="application/json",
            )
        try:
            return parse_json_body(raw)  # finite numbers, bounded depth (issue 30)
        except BadJson as exc:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {
                        "message": "Invalid JSON",
                        "details": [{"path": exc.path, "errors": [exc.reason]}],
                    }
                ),
                content_type="application/json",
            ) from None

    # ------------------------------------------------------------------ permissions

    @staticmethod
    def visible(request: web.Request) -> _authz.Visible | None:
        """What the caller may read (None: everything, auth off or superuser)."""
        return reader(request, _authz.service_rid)

    @staticmethod
    def denied(request: web.Request, paths: list[str], action: str) -> web.Response | None:
        """The 403 when the caller may not ``action`` every one of ``paths``, else None."""
        for path in paths:
            rid = _authz.service_rid(path)
            if not permit(request, rid, action):
                return forbidden(rid, action, principal(request))
        return None

    def app_denied(self, request: web.Request, action: str) -> web.Response | None:
        return self.denied(request, [self.app_id(request)], action)

    async def _ask_doc(self, req: ApiRequest) -> Any:
        loop = asyncio.get_running_loop()
        ref = self.ctx.node.ref(MARATHON_ACTOR)
        reply: ApiReply = await loop.run_in_executor(
            None, lambda: ref.ask(req, timeout=self.timeout)
        )
        return reply.body if reply.status == 200 else None

    async def tasks_denied(self, request: web.Request, body: Any) -> web.Response | None:
        """``POST /v2/tasks/delete``: ``update`` on the app of every task named (tasks
        nobody runs are left to the operation, which answers them)."""
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            return None  # the operation answers the malformed body
        doc = await self._ask_doc(ApiRequest("list_tasks", params={"status": []}))
        app_of: dict[str, str] = {
            str(t.get("id")): str(t["appId"])
            for t in (doc or {}).get("tasks", [])
            if isinstance(t, dict) and isinstance(t.get("appId"), str)
        }
        apps = sorted({app_of[i] for i in ids if isinstance(i, str) and i in app_of})
        return self.denied(request, apps, "update")

    async def deployment_denied(self, request: web.Request, dep_id: str) -> web.Response | None:
        """``DELETE /v2/deployments/<id>``: ``update`` on every app and pod it affects."""
        doc = await self._ask_doc(ApiRequest("deployments", params={"embed": []}))
        for dep in doc if isinstance(doc, list) else []:
            if isinstance(dep, dict) and dep.get("id") == dep_id:
                ids = [*dep.get("affectedApps", []), *dep.get("affectedPods", [])]
                return self.denied(request, [i for i in ids if isinstance(i, str)], "update")
        return None

    @staticmethod
    def admin_denied(request: web.Request, rid: str, action: str) -> web.Response | None:
        if permit(request, rid, action):
            return None
        return forbidden(rid, action, principal(request))

    @staticmethod
    def app_id(request: web.Request) -> str:
        raw = request.match_info.get("id", "")
        try:
            return normalize_path(raw)
        except InvalidPath as exc:
            raise web.HTTPUnprocessableEntity(
                text=json.dumps(
                    {
                        "message": "Object is not valid",
                        "details": [{"path": "/id", "errors": [str(exc)]}],
                    }
                ),
                content_type="application/json",
            ) from None

    # ------------------------------------------------------------------ apps

    async def list_apps(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {"embed": _embed(request)}
        for key in ("id", "label", "cmd"):
            if key in request.query:
                params[key] = request.query[key]
        return await self.call(ApiRequest("list_apps", params=params), self.visible(request))

    async def create_app(self, request: web.Request) -> web.StreamResponse:
        body = await self.body(request)
        if no := self.denied(request, _authz.body_ids(body), "create"):
            return no
        return await self.call(
            ApiRequest("create_app", params={"force": _flag(request, "force")}, body=body)
        )

    async def get_app(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "read"):
            return no
        return await self.call(
            ApiRequest("get_app", self.app_id(request), params={"embed": _embed(request)})
        )

    async def put_app(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        body = await self.body(request)
        params = {"force": _flag(request, "force"), "partial": _partial(request)}
        return await self.call(ApiRequest("put_app", self.app_id(request), params, body))

    async def put_apps(self, request: web.Request) -> web.StreamResponse:
        body = await self.body(request)
        if no := self.denied(request, _authz.body_ids(body), "update"):
            return no
        params = {"force": _flag(request, "force"), "partial": _partial(request)}
        return await self.call(ApiRequest("put_apps", params=params, body=body))

    async def patch_app(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        body = await self.body(request)
        params = {"force": _flag(request, "force"), "partial": True, "patch_only": True}
        return await self.call(ApiRequest("put_app", self.app_id(request), params, body))

    async def delete_app(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "delete"):
            return no
        return await self.call(
            ApiRequest("delete_app", self.app_id(request), {"force": _flag(request, "force")})
        )

    async def restart_app(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        return await self.call(
            ApiRequest("restart_app", self.app_id(request), {"force": _flag(request, "force")})
        )

    async def app_tasks(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "read"):
            return no
        return await self.call_large(request, ApiRequest("app_tasks", self.app_id(request)))

    async def kill_app_tasks(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        params = {
            "scale": _flag(request, "scale"),
            "force": _flag(request, "force"),
            "host": request.query.get("host"),
            "wipe": _flag(request, "wipe"),
        }
        return await self.call(ApiRequest("kill_app_tasks", self.app_id(request), params))

    async def kill_task(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        params = {
            "scale": _flag(request, "scale"),
            "force": _flag(request, "force"),
            "task_id": request.match_info["task_id"],
            "wipe": _flag(request, "wipe"),
        }
        return await self.call(ApiRequest("kill_task", self.app_id(request), params))

    async def versions(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "read"):
            return no
        return await self.call(ApiRequest("versions", self.app_id(request)))

    async def version(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "read"):
            return no
        return await self.call(
            ApiRequest("version", self.app_id(request), {"version": request.match_info["version"]})
        )

    # ------------------------------------------------------------------ tasks

    async def list_tasks(self, request: web.Request) -> web.StreamResponse:
        status = [s for raw in request.query.getall("status", []) for s in raw.split(",") if s]
        return await self.call_large(
            request, ApiRequest("list_tasks", params={"status": status}), self.visible(request)
        )

    async def delete_tasks(self, request: web.Request) -> web.StreamResponse:
        body = await self.body(request)
        # Auth on and not a superuser: whose tasks are they?
        if self.visible(request) is not None and (no := await self.tasks_denied(request, body)):
            return no
        params = {"scale": _flag(request, "scale"), "force": _flag(request, "force")}
        return await self.call(ApiRequest("delete_tasks", params=params, body=body))

    # ------------------------------------------------------------ deployments

    async def deployments(self, request: web.Request) -> web.StreamResponse:
        return await self.call(
            ApiRequest("deployments", params={"embed": _embed(request)}), self.visible(request)
        )

    async def cancel_deployment(self, request: web.Request) -> web.StreamResponse:
        dep_id = request.match_info["id"]
        if self.visible(request) is not None and (
            no := await self.deployment_denied(request, dep_id)
        ):
            return no
        params = {"deployment_id": request.match_info["id"], "force": _flag(request, "force")}
        return await self.call(ApiRequest("cancel_deployment", params=params))

    # ------------------------------------------------------------------ groups

    async def get_group(self, request: web.Request) -> web.StreamResponse:
        group_id = request.match_info.get("id", "/")
        if (group_id or "/").strip("/") and (
            no := self.denied(request, [self.app_id(request)], "read")
        ):
            return no
        return await self.call(
            ApiRequest("get_group", group_id or "/", params={"embed": _embed(request)}),
            self.visible(request),
        )

    async def put_group(self, request: web.Request) -> web.StreamResponse:
        body = await self.body(request)
        params = {
            "force": _flag(request, "force"),
            "create": request.method == "POST",
            "partial": _partial(request),
        }
        group_id = request.match_info.get("id")
        if group_id is not None:
            group_id = self.app_id(request)
        action = "create" if request.method == "POST" else "update"
        if no := self.denied(request, _authz.group_ids(body, group_id), action):
            return no
        return await self.call(ApiRequest("put_group", group_id, params, body))

    async def delete_group(self, request: web.Request) -> web.StreamResponse:
        group_id = request.match_info.get("id", "/")
        path = self.app_id(request) if (group_id or "/").strip("/") else "/"
        if no := self.denied(request, [path], "delete"):
            return no
        return await self.call(
            ApiRequest("delete_group", group_id or "/", {"force": _flag(request, "force")})
        )

    # ------------------------------------------------------------------ queue

    async def queue(self, request: web.Request) -> web.StreamResponse:
        return await self.call(ApiRequest("queue"), self.visible(request))

    async def reset_delay(self, request: web.Request) -> web.StreamResponse:
        if no := self.app_denied(request, "update"):
            return no
        return await self.call(ApiRequest("reset_delay", self.app_id(request)))

    # ------------------------------------------------------------------ misc

    async def info(self, request: web.Request) -> web.StreamResponse:
        return await self.call(ApiRequest("info"))

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return await self.call(ApiRequest("metrics"))

    async def quarantine(self, request: web.Request) -> web.StreamResponse:
        """pydcos: stored records the leader refused to load (not in /v2/info, whose
        shape strict Marathon clients map onto fixed fields)."""
        if no := self.admin_denied(request, _authz.CONFIG, "read"):
            return no
        return await self.call(ApiRequest("quarantine"))

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="pong")

    async def get_leader(self, request: web.Request) -> web.StreamResponse:
        url = self.ctx.http_url
        return web.json_response({"leader": url.removeprefix("http://")})

    async def delete_leader(self, request: web.Request) -> web.StreamResponse:
        if no := self.admin_denied(request, _authz.LEADER, "update"):
            return no
        abdicate = self.ctx.abdicate
        if abdicate is None:
            return web.json_response({"message": "this master cannot abdicate"}, status=503)
        left = self.ctx.tenure_left() if self.ctx.tenure_left is not None else 0.0
        if left > 0:
            wait = max(1, math.ceil(left))
            return web.json_response(
                {
                    "message": "this leader was elected too recently to abdicate "
                    f"(--min-leader-tenure): retry in {wait} s"
                },
                status=429,
                headers={"Retry-After": str(wait)},
            )
        loop = asyncio.get_running_loop()
        # Answer first, then step down (the answer would otherwise race the fencing).
        loop.call_later(0.05, lambda: loop.run_in_executor(None, abdicate))
        return web.json_response({"message": "Leadership abdicated"})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``event: <eventType>`` and ``data: <json>`` per event."""
        if no := self.admin_denied(request, _authz.EVENTS, "read"):
            return no
        wanted = {t for raw in request.query.getall("event_type", []) for t in raw.split(",") if t}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=10_000)
        lost = [0]

        def put(event: dict[str, Any] | None) -> None:
            if queue.full():
                lost[0] += 1
                return
            queue.put_nowait(event)

        def push(event: dict[str, Any] | None) -> None:
            loop.call_soon_threadsafe(put, event)

        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Connection": "keep-alive",
            }
        )
        await response.prepare(request)
        token = self.bus.subscribe(push)
        try:
            attached = {
                "eventType": "event_stream_attached",
                "timestamp": timestamp(self.bus.wall()),
                "remoteAddress": request.remote or "",
            }
            if not wanted or "event_stream_attached" in wanted:
                await response.write(_sse(attached))
            idle = 0.0
            while not _closing(request):
                try:
                    event = await asyncio.wait_for(queue.get(), 0.5)
                except TimeoutError:
                    idle += 0.5
                    if idle >= 15.0:  # keep-alive, as Marathon's stream
                        idle = 0.0
                        await response.write(b"\n")
                    continue
                if event is None:
                    break
                if wanted and event["eventType"] not in wanted:
                    continue
                await response.write(_sse(event))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.bus.unsubscribe(token)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response


def _closing(request: web.Request) -> bool:
    """True once the client left or the server is shutting down (aiohttp then waits
    for running handlers, so a stream must notice and end by itself)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return True
    return bool(getattr(request.protocol, "_force_close", False))


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n".encode()


def api_routes(ctx: ServiceContext, bus: EventBus, timeout: float = 10.0) -> list[web.RouteDef]:
    """Every ``/marathon`` route, suffix routes before the bare ``{id:.+}`` ones."""
    a = _Api(ctx, bus, timeout)
    app = P + "/v2/apps/{id:.+}"
    group = P + "/v2/groups/{id:.+}"
    return [
        web.get(P + "/ping", a.ping),
        web.get(P + "/metrics", a.metrics),
        web.get(P + "/v2/info", a.info),
        web.get(P + "/v2/quarantine", a.quarantine),
        web.get(P + "/v2/leader", a.get_leader),
        web.delete(P + "/v2/leader", a.delete_leader),
        web.get(P + "/v2/events", a.events),
        web.get(P + "/v2/apps", a.list_apps),
        web.get(P + "/v2/apps/", a.list_apps),
        web.post(P + "/v2/apps", a.create_app),
        web.post(P + "/v2/apps/", a.create_app),
        web.put(P + "/v2/apps", a.put_apps),
        web.put(P + "/v2/apps/", a.put_apps),
        web.post(app + "/restart", a.restart_app),
        web.delete(app + "/tasks/{task_id}", a.kill_task),
        web.get(app + "/tasks", a.app_tasks),
        web.delete(app + "/tasks", a.kill_app_tasks),
        web.get(app + "/versions/{version}", a.version),
        web.get(app + "/versions", a.versions),
        web.get(app, a.get_app),
        web.put(app, a.put_app),
        web.patch(app, a.patch_app),
        web.delete(app, a.delete_app),
        web.get(P + "/v2/tasks", a.list_tasks),
        web.post(P + "/v2/tasks/delete", a.delete_tasks),
        web.get(P + "/v2/deployments", a.deployments),
        web.delete(P + "/v2/deployments/{id}", a.cancel_deployment),
        web.get(P + "/v2/groups", a.get_group),
        web.post(P + "/v2/groups", a.put_group),
        web.put(P + "/v2/groups", a.put_group),
        web.delete(P + "/v2/groups", a.delete_group),
        web.get(group, a.get_group),
        web.post(group, a.put_group),
        web.put(group, a.put_group),
        web.delete(group, a.delete_group),
        web.get(P + "/v2/queue", a.queue),
        web.delete(P + "/v2/queue/{id:.+}/delay", a.reset_delay),
        *pod_routes(a),
    ]
