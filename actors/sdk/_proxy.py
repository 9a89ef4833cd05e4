"""``/service/<name>/...`` -> the Marathon app's task: Admin Router's service proxy.

DC/OS' Admin Router proxies ``/service/<name>/<path>`` to the task of the Marathon app
labelled ``DCOS_SERVICE_NAME=<name>`` (its port ``DCOS_SERVICE_PORT_INDEX``, default 0;
``DCOS_SERVICE_SCHEME`` http). That is how the CLI reaches an SDK scheduler's plans API
(``/service/hello/v1/plans``), and any package that labels its app the same way.

A leader service (``--services ...,service_proxy``; leader-only like Marathon, whose
state it reads: a standby redirects). Services mounted by the master itself
(``/service/marathon``, ``/service/metronome``...) keep their own, more specific routes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

log = logging.getLogger("actors.sdk")

PREFIX = "/service/"
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
CACHE_SECONDS = 2.0
"""How long a service's upstream is reused before Marathon is asked again."""


def upstream_of(apps: list[dict[str, Any]], name: str) -> tuple[str, str] | None:
    """(scheme, host:port) of a running task of the app serving ``/service/<name>``:
    labelled ``DCOS_SERVICE_NAME=name`` (else the app whose id is ``/name``). Pure."""
    chosen = [a for a in apps if (a.get("labels") or {}).get("DCOS_SERVICE_NAME") == name]
    if not chosen:
        chosen = [a for a in apps if str(a.get("id", "")).strip("/") == name]
    for app in chosen:
        labels = app.get("labels") or {}
        try:
            index = int(labels.get("DCOS_SERVICE_PORT_INDEX", "0"))
        except ValueError:
            index = 0
        scheme = str(labels.get("DCOS_SERVICE_SCHEME", "http")) or "http"
        for task in app.get("tasks") or ():
            if task.get("state") not in (None, "TASK_RUNNING"):
                continue
            ports = task.get("ports") or []
            if index < len(ports) and task.get("host"):
                return scheme, f"{task['host']}:{ports[index]}"
    return None


class ServiceProxyService:
    """The ``LeaderService`` mounting ``/service/{name}/{path}`` (every method)."""

    name = "service_proxy"
    prefixes: tuple[str, ...] = (PREFIX,)

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.http_url = ""
        self._cache: dict[str, tuple[float, tuple[str, str] | None]] = {}
        self._session: ClientSession | None = None

    def child_specs(self, ctx: Any) -> list[Any]:
        return []

    def routes(self, ctx: Any) -> list[web.RouteDef]:
        self.ctx = ctx
        return [web.route("*", PREFIX + "{name}/{tail:.*}", self._proxy)]

    def _session_now(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(timeout=ClientTimeout(total=self.timeout))
        return self._session

    async def _upstream(self, name: str, request: web.Request) -> tuple[str, str] | None:
        hit = self._cache.get(name)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CACHE_SECONDS and hit[1] is not None:
            return hit[1]
        base = self.ctx.http_url or (self.ctx.gateway.url if self.ctx.gateway else "")
        headers = {}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        async with self._session_now().get(
            f"{base}/marathon/v2/apps", params={"embed": "apps.tasks"}, headers=headers
        ) as resp:
            if resp.status != 200:
                raise web.HTTPBadGateway(
                    text=f'{{"message": "Marathon answered {resp.status} listing apps"}}',
                    content_type="application/json",
                )
            doc = await resp.json()
        found = upstream_of(list(doc.get("apps") or []), name)
        self._cache[name] = (now, found)
        return found

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = await self._upstream(name, request)
        if found is None:
            return web.json_response(
                {
                    "message": f"service {name!r} not found (no running Marathon app labelled "
                    f"DCOS_SERVICE_NAME={name})"
                },
                status=404,
            )
        scheme, where = found
        url = f"{scheme}://{where}/{request.match_info['tail']}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        try:
            async with self._session_now().request(
                request.method,
                url,
                params=request.query,
                headers=headers,
                data=body or None,
                allow_redirects=False,
            ) as resp:
                payload = await resp.read()
                out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
                return web.Response(status=resp.status, body=payload, headers=out)
        except (ClientError, TimeoutError) as exc:
            self._cache.pop(name, None)
            return web.json_response(
                {"message": f"service {name!r} at {where} did not answer: {exc}"}, status=502
            )
