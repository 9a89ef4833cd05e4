"""``HttpGateway``: an aiohttp server on its own thread and event loop.

Handlers never block the loop: asks to actors run in the loop's default executor.
Every error is JSON ``{"message": ...}`` with a 4xx/5xx status, naming the bad value.

Mesos paths are served twice, as DC/OS' Admin Router (``/mesos/master/state``) and as a
Mesos master on its own port (``/master/state``, and ``/state`` through libprocess'
delegate). Which master answers follows Mesos: the cluster's state (``state``,
``state-summary``, ``slaves``, ``frameworks``, ``tasks``, ``roles``) only the leader, a
standby redirects it; a master's own facts (``/flags``, ``/version``, ``/health``,
``/metrics/snapshot`` with ``master/elected`` 0 on a standby, ``/redirect``) every master.

One pydcos path sits beside Mesos' (which stay exactly Mesos' shapes, for strict clients):
``/mesos/master/allocation`` (and ``/master/allocation``) answers
``GetState("allocation")``, the last allocation cycle's offers and the reason every other
framework/agent pair got nothing; ``?framework_id=`` narrows it to one framework.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from actors.gateway._about import MasterAbout, build_info, build_json, system_metrics
from actors.gateway._auth import Authenticator
from actors.gateway._auth import check as _auth_check
from actors.gateway._body import send_bytes, send_chunks
from actors.gateway._errors import GatewayStartError
from actors.protocol import AGENT_ACTOR, GetState
from runtime import ActorRef, Clock, RuntimeSystemError, SystemClock
from zk import Fenced

log = logging.getLogger("actors.gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """What the election publishes about the leader that the gateway needs."""

    http_url: str
    """Base URL of the leader's gateway, e.g. ``http://127.0.0.1:5050``."""
    address: str = ""
    """The leader's master-actor address."""


_MESOS_BASES = ("/mesos/master", "/master", "")
"""Where a master's endpoints are: Admin Router's path, the master's own, libprocess'
delegate (``/state`` is ``/master/state`` on a Mesos master's port)."""

_LEADER_DOCS = ("state", "state-summary", "slaves", "frameworks", "tasks", "roles")
"""Master endpoints only the leader answers (a standby redirects, as Mesos)."""

_PYDCOS_DOCS = ("allocation",)
"""pydcos' own leader documents, beside Mesos' (Mesos has no such endpoint)."""

_PYDCOS_BASES = ("/mesos/master", "/master")

_LEADER_PATHS = frozenset(
    f"{base}/{what}{ext}" for base in _MESOS_BASES for what in _LEADER_DOCS for ext in ("", ".json")
) | frozenset(f"{base}/{what}" for base in _PYDCOS_BASES for what in _PYDCOS_DOCS)

_ANY_MASTER = frozenset(
    {f"{base}/{what}" for base in _MESOS_BASES for what in ("redirect", "health", "flags")}
    | {"/mesos/metrics/snapshot", "/metrics/snapshot", "/mesos/version", "/version"}
    | {"/metrics"}
)
"""Paths every master answers itself, leading or not (as Mesos does)."""


def _with_trailing_slashes(routes: list[web.RouteDef]) -> list[web.RouteDef]:
    """Each fixed path also with a trailing slash, as Marathon (Jersey) accepts
    ``GET /v2/groups/`` for ``GET /v2/groups``; paths that already have their slashed
    twin, or end in a variable, are left alone."""
    have = {(r.method, r.path) for r in routes}
    extra = [
        web.RouteDef(r.method, r.path + "/", r.handler, {})
        for r in routes
        if not r.path.endswith(("/", "}")) and (r.method, r.path + "/") not in have
    ]
    return routes + extra


def _service_alias(prefix: str) -> str | None:
    """DC/OS' ``/service/<name>`` path for a service mounted at ``/<name>/``."""
    bare = prefix.rstrip("/")
    if not bare or bare == "/service" or bare.startswith("/service/"):
        return None
    return "/service" + bare


MAX_BODY_BYTES = 1024 * 1024
"""Largest request body, for every API (Marathon apps, groups and pods, Metronome jobs):
1 MiB, Marathon's ``zk_max_node_size`` and aiohttp's own default. Bigger bodies get 413
before any of them is parsed; whatever one body becomes in the state store fits
``zk.DEFAULT_MAX_BYTES`` (8 MiB), which ZooKeeper's heap is sized for (zk/README.md)."""


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    # A 503 here is always "not yet" (election, start-up, failover): say when to retry.
    headers = {"Retry-After": "1"} if status == 503 else None
    return web.json_response({"message": message, **extra}, status=status, headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Whatever goes wrong, the client gets JSON, and the server keeps serving."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        size = f"of {request.content_length} bytes " if request.content_length else ""
        return json_error(
            413,
            f"request body {size}is larger than the limit of {MAX_BODY_BYTES} bytes",
            limit=MAX_BODY_BYTES,
        )
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return json_error(exc.status, exc.reason or exc.text or "error")
        raise
    except TimeoutError:
        return json_error(503, "the leading master did not answer in time")
    except Fenced as exc:
        # A write refused because this master stopped leading (ZooKeeper connection
        # suspended, lease lapsed, a newer term): nothing was written, and the same
        # request succeeds once a master leads again. Marathon answers 503 while it has
        # no leader; its clients (the dcos CLI, marathon-python) retry a 503.
        return json_error(503, f"this master is not leading any more; retry: {exc}")
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


def agent_actor_address(pid: str) -> str:
    """Mesos' agent ``pid`` (``slave(1)@host:port``) -> the agent actor's transport
    address (``tcp://host:port/agent``); empty when ``pid`` has no ``@``."""
    _, at, hostport = pid.partition("@")
    return f"tcp://{hostport}/{AGENT_ACTOR}" if at and hostport else ""


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
        about: MasterAbout | None = None,
        clock: Clock | None = None,
        idle_metrics: Callable[[bool, float], dict[str, float]] | None = None,
        resolve: Callable[[str], ActorRef] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._leader = leader
        self._is_leader = is_leader
        self._master = master
        self.ask_timeout = ask_timeout
        self.about = about
        """This master's facts (flags, start time); the master process sets them once its
        port is known. Until then ``/flags`` is empty and uptime counts from here."""
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._idle_metrics = idle_metrics
        """The ``master/*`` metrics of a master with no master actor (a standby, or a
        leader still starting), given ``(elected, uptime_secs)``; the master process
        passes its own. Without it only ``master/elected`` and ``uptime_secs``."""
        self._resolve = resolve
        """Address (``tcp://host:port/name``) -> ref, for asking actors on other nodes (an
        agent's, or the leader's master actor from a standby); the master process passes
        its node's ``ref``."""
        self._created = self._clock.wall()
        self._agents: dict[str, str] = {}
        self._agents_at = float("-inf")
        self.app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._leader_only_prefixes: list[str] = ["/mesos/master/"]
        self._auth: Authenticator | None = None
        from prometheus_client import CollectorRegistry

        self.metrics_registry = CollectorRegistry()
        """What ``/metrics`` renders (Prometheus text): this gateway's own registry, never
        prometheus_client's global one (tests run several gateways in one process)."""
        self._add_mesos_routes()

    # -- routes -------------------------------------------------------------------

    def add_leader_routes(self, prefixes: tuple[str, ...], routes: list[web.RouteDef]) -> None:
        """Mount routes that only the leader serves (a standby redirects them).

        A service at ``/<name>/`` is also mounted at DC/OS' ``/service/<name>/`` (Admin
        Router's path for every service), unless it mounts that path itself; every fixed
        path also answers with a trailing slash.
        Call before ``start()``: aiohttp freezes the router once it serves."""
        self._leader_only_prefixes.extend(prefixes)
        routes = _with_trailing_slashes(routes)
        self.app.add_routes(routes)
        mounted = {p.rstrip("/") for p in prefixes}
        for prefix in prefixes:
            alias = _service_alias(prefix)
            if alias is None or alias in mounted:
                continue
            bare = prefix.rstrip("/")
            self._leader_only_prefixes.append(alias + "/")
            self.app.add_routes(
                [
                    web.RouteDef(r.method, alias + r.path[len(bare) :], r.handler, {})
                    for r in routes
                    if r.path == bare or r.path.startswith(bare + "/")
                ]
            )

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Mount routes that every master serves itself, leading or not (logs, metrics,
        DNS, VIPs...): a standby answers them, asking the leader's or an agent's actors
        with ``ask_at`` where it must. Call before ``start()``."""
        self.app.add_routes(_with_trailing_slashes(routes))

    def add_metrics_collector(self, collector: Any) -> None:
        """Add a ``prometheus_client`` custom collector (``collect() -> Iterable[Metric]``)
        to this master's ``/metrics``. ``collect`` runs on an executor thread, never on
        the event loop, so it may block briefly (ask an actor)."""
        self.metrics_registry.register(collector)

    async def _prometheus(self, request: web.Request) -> web.StreamResponse:
        """``/metrics``: Prometheus' text format, every master its own (a standby's says
        ``pydcos_master_elected 0``)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, generate_latest, self.metrics_registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _add_mesos_routes(self) -> None:
        r = self.app.router
        for base in _MESOS_BASES:
            for what in _LEADER_DOCS:
                r.add_get(f"{base}/{what}", self._state_handler(what))
                r.add_get(f"{base}/{what}.json", self._state_handler(what))
            r.add_get(f"{base}/redirect", self._redirect)
            r.add_get(f"{base}/health", self._health)
            r.add_get(f"{base}/flags", self._flags)
        for base in _PYDCOS_BASES:
            for what in _PYDCOS_DOCS:
                r.add_get(f"{base}/{what}", self._state_handler(what))
        for path in ("/mesos/metrics/snapshot", "/metrics/snapshot"):
            r.add_get(path, self._metrics)
        for path in ("/mesos/version", "/version"):
            r.add_get(path, self._version)
        r.add_get("/ping", self._ping)
        r.add_get("/metrics", self._prometheus)
        self.app.middlewares.append(self._auth_middleware)
        self.app.middlewares.append(self._standby_middleware)

    def set_auth(self, auth: Authenticator | None) -> None:
        """Require a token and Admin Router permissions on every route but the login
        (``actors.iam.GatewayAuth``); None: an open gateway (``--no-auth``). Call before
        ``start()`` so that no request is ever served unchecked."""
        self._auth = auth

    @property
    def auth(self) -> Authenticator | None:
        """The authenticator in force, or None when auth is off."""
        return self._auth

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # Before the standby redirect: every master verifies tokens itself.
        return await _auth_check(self._auth, request, handler)

    @web.middleware
    async def _standby_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        path = request.path
        if path in _ANY_MASTER or (
            path not in _LEADER_PATHS
            and not any(path.startswith(p) for p in self._leader_only_prefixes)
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
            elif what == "allocation" and "framework_id" in request.query:
                params["framework_id"] = request.query["framework_id"]
            elif what == "state":
                params["encoded"] = True  # pieces encoded once per state change (H8, G)
            doc = await self.ask_master(GetState(what, params))
            if isinstance(doc, tuple):
                return await send_chunks(request, doc, charset="utf-8")  # never joined
            if isinstance(doc, bytes):
                return await send_bytes(request, doc, charset="utf-8")
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

    async def ask_at(self, address: str, message: Any, timeout: float | None = None) -> Any:
        """Ask the actor at ``address`` (any node's) without blocking the event loop;
        ``leader_master_address()`` names the leading master's actor."""
        if self._resolve is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"message": "this gateway cannot reach other nodes"}),
                content_type="application/json",
            )
        ref = self._resolve(address)
        wait = self.ask_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: ref.ask(message, timeout=wait))

    AGENTS_TTL = 2.0
    """Seconds the agents' addresses read from the leader are reused."""

    async def agent_address(self, agent_id: str) -> str:
        """The transport address of agent ``agent_id``'s actor (``tcp://host:port/agent``),
        from the leader's ``slaves`` document, reused for ``AGENTS_TTL``; an unknown agent
        is a 404 naming it. Any master can call it (a standby asks the leader)."""
        now = self._clock.now()
        if agent_id not in self._agents or now - self._agents_at > self.AGENTS_TTL:
            leader = self.leader_master_address()
            if self._is_leader() and self._master() is not None:
                doc = await self.ask_master(GetState("slaves"))
            elif leader is not None:
                doc = await self.ask_at(leader, GetState("slaves"))
            else:
                raise web.HTTPServiceUnavailable(
                    text=json.dumps(
                        {"message": "no master is leading; an election is in progress"}
                    ),
                    content_type="application/json",
                )
            self._agents = {
                str(a.get("id")): agent_actor_address(str(a.get("pid", "")))
                for a in doc.get("slaves", [])
            }
            self._agents_at = now
        address = self._agents.get(agent_id)
        if not address:
            raise web.HTTPNotFound(
                text=json.dumps({"message": f"agent {agent_id!r} is not known to the leader"}),
                content_type="application/json",
            )
        return address

    def leader_http_url(self) -> str | None:
        """The leading master's gateway base URL (``http://host:port``), or None during
        an election; equal to ``url`` on the leader itself."""
        leader = self._leader()
        return leader.http_url.rstrip("/") or None if leader is not None else None

    def is_leading(self) -> bool:
        """Whether this master leads now (its leader-only work may still be starting)."""
        return bool(self._is_leader())

    def leader_master_address(self) -> str | None:
        """The leading master's master-actor address, or None during an election."""
        leader = self._leader()
        return leader.address or None if leader is not None else None

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        """Mesos' ``/master/redirect``: 307 to the leader's base as a protocol-relative
        URL (``//host:port``), from every master, the leader included."""
        leader = self._leader()
        if leader is None:
            return json_error(503, "no master is leading; an election is in progress")
        netloc = urlsplit(leader.http_url).netloc
        if not netloc:
            return json_error(503, f"the leader published no HTTP address: {leader.http_url!r}")
        raise web.HTTPTemporaryRedirect("//" + netloc)

    def _started_at(self) -> float:
        return self.about.started_at if self.about is not None else self._created

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        """``/metrics/snapshot``: every master answers its own (Mesos' metrics are per
        process); only the leader's ``master/*`` gauges count the cluster."""
        uptime = max(0.0, self._clock.wall() - self._started_at())
        elected = self._is_leader()
        doc: dict[str, float] | None = None
        if elected and self._master() is not None:
            doc = await self.ask_master(GetState("snapshot", {"uptime_secs": uptime}))
        if doc is None:
            doc = (
                self._idle_metrics(elected, uptime)
                if self._idle_metrics is not None
                else {"master/elected": 1.0 if elected else 0.0, "master/uptime_secs": uptime}
            )
        loop = asyncio.get_running_loop()
        doc.update(await loop.run_in_executor(None, system_metrics))
        return web.json_response(dict(sorted(doc.items())))

    async def _version(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(build_json(build_info()))

    async def _flags(self, request: web.Request) -> web.StreamResponse:
        """``/flags``: this master's options as strings (``{"flags": {...}}``)."""
        return web.json_response({"flags": dict(self.about.flags) if self.about else {}})

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
            raise GatewayStartError(f"HTTP gateway did not start within {timeout} s")
        if self._error is not None:
            raise GatewayStartError(
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
