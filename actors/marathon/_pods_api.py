"""``/marathon/v2/pods`` routes: Marathon's pod paths carry their verb after ``::``
(``/v2/pods/web::status``, ``::instances/<id>``, ``::versions/<v>``), which aiohttp's
path patterns cannot split from a slash-separated id, so one catch-all route parses
them (``parse_pod_path``, pure) and asks the Marathon actor like the app routes do."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from ._errors import InvalidPath, MarathonError
from ._messages import ApiRequest
from ._paths import normalize_path


class _Api(Protocol):
    """What the routes use of ``_api._Api`` (structural: no import cycle)."""

    async def call(self, req: ApiRequest, visible: Any = None) -> web.Response: ...

    def visible(self, request: web.Request) -> Any: ...

    def denied(self, request: web.Request, paths: list[str], action: str) -> Any: ...

    async def body(self, request: web.Request) -> Any: ...


P = "/marathon/v2/pods"


class BadPodPath(MarathonError):
    """A ``/v2/pods/...`` path that names no operation (HTTP 404)."""


def parse_pod_path(method: str, rest: str) -> tuple[str, str | None, dict[str, Any]]:
    """(operation, pod id, params) for ``METHOD /v2/pods/<rest>``; raises
    ``BadPodPath`` (404) or ``InvalidPath`` (422)."""
    rest = rest.strip()
    if rest in ("", "/"):
        ops = {"GET": "list_pods", "POST": "create_pod"}
        if method not in ops:
            raise BadPodPath(f"{method} /v2/pods is not an operation")
        return ops[method], None, {}
    if rest.strip("/") == "::status":
        if method != "GET":
            raise BadPodPath(f"{method} /v2/pods/::status is not an operation")
        return "all_pod_status", None, {}
    path, sep, verb = rest.partition("::")
    pod_id = normalize_path(path)
    if not sep:
        ops = {"GET": "get_pod", "PUT": "put_pod", "DELETE": "delete_pod"}
        if method not in ops:
            raise BadPodPath(f"{method} /v2/pods{pod_id} is not an operation")
        return ops[method], pod_id, {}
    head, _, arg = verb.partition("/")
    if head == "status" and not arg and method == "GET":
        return "pod_status", pod_id, {}
    if head == "versions" and method == "GET":
        return ("pod_version", pod_id, {"version": arg}) if arg else ("pod_versions", pod_id, {})
    if head == "instances" and method == "DELETE":
        return "kill_pod_instances", pod_id, ({"instance_id": arg} if arg else {})
    raise BadPodPath(f"{method} /v2/pods{pod_id}::{verb} is not an operation")


_POD_ACTIONS = {
    "create_pod": "create",
    "get_pod": "read",
    "pod_status": "read",
    "pod_versions": "read",
    "pod_version": "read",
    "put_pod": "update",
    "kill_pod_instances": "update",
    "delete_pod": "delete",
}
"""Pod operation -> the action it needs on the pod's path (the rest are lists)."""


def _pod_body_ids(body: Any) -> list[str]:
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        return [body["id"]]
    return []


def pod_routes(api: _Api) -> list[web.RouteDef]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rest = request.match_info["rest"]
        if rest and not rest.startswith("/"):
            return web.json_response({"message": f"no route {request.path}"}, status=404)
        try:
            op, pod_id, params = parse_pod_path(request.method, rest)
        except BadPodPath as exc:
            return web.json_response({"message": str(exc)}, status=404)
        except InvalidPath as exc:
            return web.json_response(
                {
                    "message": "Object is not valid",
                    "details": [{"path": "/id", "errors": [str(exc)]}],
                },
                status=422,
            )
        params["force"] = request.query.get("force", "").lower() in ("true", "1", "yes")
        body = None
        if op in ("create_pod", "put_pod") or (
            op == "kill_pod_instances" and not params.get("instance_id")
        ):
            body = await api.body(request)
        # DC/OS permissions: the pod's path with the operation's action; lists filtered.
        if op in _POD_ACTIONS:
            paths = [pod_id] if pod_id else _pod_body_ids(body)
            if no := api.denied(request, paths, _POD_ACTIONS[op]):
                return no  # type: ignore[no-any-return]
            return await api.call(ApiRequest(op, pod_id, params, body))
        return await api.call(ApiRequest(op, pod_id, params, body), api.visible(request))

    return [
        web.route(method, P + "{rest:.*}", handle) for method in ("GET", "POST", "PUT", "DELETE")
    ]
