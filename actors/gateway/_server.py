"""``HttpGateway``: an aiohttp server on its own thread and event loop.

Handlers never block the loop: asks to actors run in the loop's default executor.
Every error is JSON ``{"message": ...}`` with a 4xx/5xx status, naming the bad value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from actors.master._actor import GetState
from runtime import ActorRef, RuntimeSystemError

log = logging.getLogger("actors.gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """What the election publishes about the leader that the gateway needs."""

    http_url: str
    """Base URL of the leader's gateway, e.g. ``http://127.0.0.1:5050``."""
    address: str = ""
    """The leader's master-actor address."""


_ANY_MASTER = frozenset({"/mesos/master/redirect", "/mesos/master/health"})
"""Paths every master answers itself, leading or not (as Mesos does)."""


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"message": message, **extra}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Whatever goes wrong, the client gets JSON, and the server keeps serving."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return json_error(exc.status, exc.reason or exc.text or "error")
        raise
    except TimeoutError:
        return json_error(503, "the leading master did not answer in time")
    except RuntimeSystemError as exc:
        return json_error(503, f"the leading master is not available: {exc}")
    except Exception as exc:
        log.exception("gateway: %s %s failed", request.method, request.path)
        return json_error(500, f"internal error: {type(exc).__name__}: {exc}")


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"message": f"query parameter {name}: {raw!r} is not an integer"}),
            content_type="application/json",
        ) from None
    if not lo <= value <= hi:
        raise web.HTTPBadRequest(
            text=json.dumps({"message": f"query parameter {name}: {value} is not in [{lo}, {hi}]"}),
            content_type="application/json",
        )
    return value


class HttpGateway:
    """Serve the master's HTTP API on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        leader: Callable[[], LeaderInfo | None],
        is_leader: Callable[[], bool],
        master: Callable[[], ActorRef | None],
        ask_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self._leader = leader
        self._is_leader = is_leader
        self._master = master
        self.ask_timeout = ask_timeout
        self.app = web.Application(middlewares=[_errors], client_max_size=8 * 1024 * 1024)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._leader_only_prefixes: list[str] = ["/mesos/master/"]
        self._add_mesos_routes()

    # -- routes -------------------------------------------------------------------

    def add_leader_routes(self, prefixes: tuple[str, ...], routes: list[web.RouteDef]) -> None:
        """Mount routes that only the leader serves (a standby redirects them).

        Call before ``start()``: aiohttp freezes the router once it serves."""
        self._leader_only_prefixes.extend(prefixes)
        self.app.add_routes(routes)

    def _add_mesos_routes(self) -> None:
        r = self.app.router
        for path in ("/mesos/master/state", "/mesos/master/state.json"):
            r.add_get(path, self._state_handler("state"))
        for what in ("slaves", "frameworks", "tasks"):
            r.add_get(f"/mesos/master/{what}", self._state_handler(what))
            r.add_get(f"/mesos/master/{what}.json", self._state_handler(what))
        r.add_get("/mesos/master/redirect", self._redirect)
        r.add_get("/mesos/master/health", self._health)
        r.add_get("/ping", self._ping)
        self.app.middlewares.append(self._standby_middleware)

    @web.middleware
    async def _standby_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.path in _ANY_MASTER or not any(
            request.path.startswith(p) for p in self._leader_only_prefixes
        ):
            return await handler(request)
        if self._is_leader():
            return await handler(request)
        leader = self._leader()
        if leader is None:
            return json_error(503, "no master is leading; an election is in progress")
        if leader.http_url.rstrip("/") == self.url:
            # Published as leader a moment before its leader-only work has started:
            # redirecting would point at ourselves.
            return json_error(503, "this master was just elected and is starting; retry")
        raise web.HTTPTemporaryRedirect(leader.http_url.rstrip("/") + str(request.rel_url))

    def _state_handler(self, what: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            params: dict[str, Any] = {}
            if what == "tasks":
                params["limit"] = _int_param(request, "limit", 100, 0, 1_000_000)
                params["offset"] = _int_param(request, "offset", 0, 0, 1_000_000_000)
                order = request.query.get("order", "des")
                if order not in ("asc", "des"):
                    return json_error(400, f"query parameter order: {order!r} is not asc or des")
                params["order"] = order
                for key in ("framework_id", "task_id"):
                    if key in request.query:
                        params[key] = request.query[key]
            doc = await self.ask_master(GetState(what, params))
            return web.json_response(doc)

        return handler

    async def ask_master(self, message: Any) -> Any:
        ref = self._master()
        if ref is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"message": "this master is not leading yet"}),
                content_type="application/json",
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: ref.ask(message, timeout=self.ask_timeout))

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        leader = self._leader()
        if leader is None:
            return json_error(503, "no master is leading; an election is in progress")
        raise web.HTTPTemporaryRedirect(leader.http_url.rstrip("/") + "/mesos/master")

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)

    async def _ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="pong")

    # -- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> HttpGateway:
        self._thread = threading.Thread(target=self._run, name="http-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"HTTP gateway did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError(
                f"HTTP gateway could not listen on {self.host}:{self.port}: {self._error}"
            )
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self, timeout: float = 5.0) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
