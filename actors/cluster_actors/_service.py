"""``ClusterActorsService``: the leader service ``actors`` (users' actors on the cluster).

```
 MasterProcess(services=(..., ClusterActorsService.from_settings(vars(args))))
   elected  -> "cluster_actors" (ClusterActorsActor) after the master actor; it
               subscribes to this node's master as framework "actors"
   revoked  -> the actor stops at once (no teardown: the workers live on)
   gateway  -> /actors/v1/... (leader-only: standbys redirect)
                 GET    /actors/v1/actors[?all=true]        every actor (CLI, dashboard)
                 GET    /actors/v1/actors/{ref}             one actor (id or [ns/]name)
                 DELETE /actors/v1/actors/{ref}             kill it
                 POST   /actors/v1/actors/{ref}/call        {"method", "args", "kwargs"}
                 GET    /actors/v1/code/{sha256}.tar.gz     a stored working_dir
   /metrics -> pydcos_cluster_actors_* (actors by state, restarts, re-placements,
               OOM kills, spawn failures, calls through the API)
```
"""

from __future__ import annotations

import asyncio
import io
import json
import pickle
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

import runtime
from actors.master import ServiceContext
from runtime import ChildSpec

from ._actor import CLUSTER_ACTORS_ACTOR, ActorsBoard, ClusterActorsActor, FrameworkSettings
from ._core import CoreConfig

PREFIX = "/actors/v1"
_SAFE_BUILTINS = frozenset(
    {
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "int",
        "float",
        "str",
        "bytes",
        "bool",
        "complex",
        "NoneType",
        "bytearray",
    }
)


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class _Unpickler(pickle.Unpickler):
    """Results of user methods as plain data only: the master never runs user code."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if module in ("collections",) and name in ("OrderedDict",):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"result of type {module}.{name} is not plain data")


def plain_result(blob: bytes) -> Any:
    return _Unpickler(io.BytesIO(blob)).load()


def zk_url_of(client: Any) -> str:
    """``zk://h:p,h2:p2/chroot`` of a started KazooClient (what workers connect to)."""
    hosts = ",".join(f"{h}:{p}" for h, p in getattr(client, "hosts", []))
    chroot = getattr(client, "chroot", "") or ""
    return f"zk://{hosts}{chroot}" if hosts else ""


def warm_pool_config(workers: Any, size: Any) -> CoreConfig:
    """The core's warm pool from ``--actors-warm-workers N --actors-warm-size CPUS:MEM``
    (a ValueError names the flag and the value)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or not 0 <= workers <= 16:
        raise ValueError(f"actors-warm-workers: {workers!r} must be an integer in [0, 16]")
    cpus_text, _, mem_text = str(size).partition(":")
    try:
        cpus, mem = float(cpus_text), float(mem_text)
    except ValueError:
        cpus = mem = -1.0
    if not (0.01 <= cpus <= 1024 and 16 <= mem <= 1 << 20):
        raise ValueError(
            f"actors-warm-size: {size!r} must be CPUS:MEM (cpus >= 0.01, mem >= 16 MB)"
        )
    return CoreConfig(warm_per_agent=workers, warm_cpus=cpus, warm_mem=mem)


class ClusterActorsService:
    """The ``LeaderService`` for cluster actors (``--services actors``)."""

    name = "actors"
    prefixes: tuple[str, ...] = ("/actors/",)

    def __init__(
        self,
        settings: FrameworkSettings | None = None,
        *,
        actor_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.actor_kwargs = dict(actor_kwargs or {})
        self.board = ActorsBoard()
        self.calls = 0
        self.call_errors = 0
        self.node: Any = None
        self.wall: Any = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ClusterActorsService:
        """From the ``pydcos master`` flags: workers use the same keys (or plain)."""
        keys = settings.get("keys")
        insecure = bool(settings.get("insecure_dev"))
        core = warm_pool_config(
            settings.get("actors_warm_workers", 1), settings.get("actors_warm_size", "1:128")
        )
        return cls(
            FrameworkSettings(keys=str(keys) if keys else None, insecure_dev=insecure, core=core)
        )

    def _settings(self, ctx: ServiceContext) -> FrameworkSettings:
        import dataclasses

        s = self.settings or FrameworkSettings(insecure_dev=True)
        if not s.zk_url:
            s = dataclasses.replace(s, zk_url=zk_url_of(ctx.zk))
        if not s.keys and not s.insecure_dev:
            s = dataclasses.replace(s, insecure_dev=True)
        return s

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return [
            ChildSpec(
                CLUSTER_ACTORS_ACTOR,
                ClusterActorsActor,
                restart="permanent",
                shutdown=10.0,
                args=(ctx.zk,),
                kwargs={
                    "master": ctx.master_address,
                    "settings": self._settings(ctx),
                    "board": self.board,
                    "hostname": ctx.hostname,
                    "fence": ctx.fence,
                    "pin_master": True,
                    **self.actor_kwargs,
                },
                name=CLUSTER_ACTORS_ACTOR,
            )
        ]

    # -- HTTP -------------------------------------------------------------------------

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        self.node = ctx.node
        self.wall = ctx.node.clock.wall
        if ctx.gateway is not None and hasattr(ctx.gateway, "add_metrics_collector"):
            ctx.gateway.add_metrics_collector(_Collector(self))
        return [
            web.get(f"{PREFIX}/actors", self._list),
            web.get(PREFIX + "/actors/{ref:[^/]+(?:/[^/]+)?}", self._show),
            web.delete(PREFIX + "/actors/{ref:[^/]+(?:/[^/]+)?}", self._kill),
            web.post(PREFIX + "/actors/{ref:[^/]+(?:/[^/]+)?}/call", self._call),
            web.get(PREFIX + "/code/{sha:[0-9a-f]{64}}.tar.gz", self._code),
        ]

    def _ref(self) -> Any:
        ref = self.board.ref
        if ref is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps(
                    {"message": "the cluster actors framework is not running here yet"}
                ),
                content_type="application/json",
            )
        return ref

    def rows(self) -> list[dict[str, Any]]:
        """The published actors, their uptime as of now."""
        now = self.wall() if self.wall is not None else None
        out = []
        for row in self.board.actors:
            started = row.get("started")
            if now is not None and started:
                row = {**row, "uptime": round(max(0.0, now - started), 1)}
            out.append(row)
        return out

    def _find(self, ref: str) -> dict[str, Any]:
        self._ref()
        rows = self.rows()
        ns, _, name = ref.rpartition("/")
        for row in rows:
            if row["id"] == ref:
                return row
        for row in rows:  # live ones come first
            if row["name"] == name and row["namespace"] == (ns or "default"):
                return row
        raise web.HTTPNotFound(
            text=json.dumps({"message": f"no actor {ref!r} (an id, NAME or NAMESPACE/NAME)"}),
            content_type="application/json",
        )

    async def _list(self, request: web.Request) -> web.Response:
        self._ref()
        everything = request.query.get("all", "false")
        if everything not in ("true", "false"):
            return _json_error(400, f"all: {everything!r} must be true or false")
        rows = [
            r
            for r in self.rows()
            if everything == "true" or r["state"] not in ("STOPPED", "FAILED")
        ]
        ns = request.query.get("namespace")
        if ns:
            rows = [r for r in rows if r["namespace"] == ns]
        return web.json_response(
            {
                "actors": rows,
                "warm": list(self.board.warm),
                "counts": dict(self.board.counts),
                "stats": dict(self.board.stats),
                "frameworkId": self.board.framework_id,
            }
        )

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response(self._find(request.match_info["ref"].rstrip("/")))

    async def _kill(self, request: web.Request) -> web.Response:
        row = self._find(request.match_info["ref"])
        ref = self._ref()
        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(
                None, lambda: ref.ask(runtime.KillActor(actor_id=row["id"]), timeout=10.0)
            )
        except Exception as exc:
            return _json_error(503, f"kill {row['id']}: {exc}")
        return web.json_response(
            {"id": info.actor_id, "state": info.state, "message": info.message}
        )

    async def _call(self, request: web.Request) -> web.Response:
        row = self._find(request.match_info["ref"])
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, 'body: not JSON (want {"method": ..., "args": [...]})')
        if not isinstance(body, dict):
            return _json_error(400, "body: must be a JSON object")
        method, args, kwargs = body.get("method"), body.get("args", []), body.get("kwargs", {})
        if not isinstance(method, str) or not method.isidentifier() or method.startswith("_"):
            return _json_error(400, f"method: {method!r:.60} must be a public method name")
        if not isinstance(args, list):
            return _json_error(400, f"args: {args!r:.60} must be a JSON list")
        if not isinstance(kwargs, dict):
            return _json_error(400, f"kwargs: {kwargs!r:.60} must be a JSON object")
        timeout = request.query.get("timeout", "10")
        try:
            seconds = float(timeout)
            if not 0 < seconds <= 300:
                raise ValueError
        except ValueError:
            return _json_error(400, f"timeout: {timeout!r} must be seconds in (0, 300]")
        if row["state"] != "RUNNING" or not row["address"]:
            return _json_error(
                409, f"actor {row['id']} is {row['state']}: {row['last_exit'] or 'not serving'}"
            )
        self.calls += 1
        message = runtime.ActorCall(row["id"], method, pickle.dumps((tuple(args), kwargs)))
        try:
            reply = await self._ask(row["address"], message, seconds)
        except Exception as exc:
            self.call_errors += 1
            return _json_error(502, f"{row['id']}.{method}: {type(exc).__name__}: {exc}")
        if not isinstance(reply, bytes | bytearray):
            self.call_errors += 1
            type_name = getattr(reply, "type_name", type(reply).__name__)
            return web.json_response(
                {
                    "message": f"{type_name}: {getattr(reply, 'message', reply)}",
                    "error": type_name,
                    "traceback": getattr(reply, "traceback", ""),
                },
                status=422,
            )
        try:
            value = plain_result(bytes(reply))
            text = json.dumps({"id": row["id"], "method": method, "result": value}, default=repr)
        except Exception as exc:
            return web.json_response(
                {"id": row["id"], "method": method, "result": None, "note": str(exc)}
            )
        return web.Response(text=text, content_type="application/json")

    async def _ask(self, address: str, message: Any, timeout: float) -> Any:
        node = self.node
        if node is None:
            raise RuntimeError("no node to reach the worker from")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: node.ref(address).ask(message, timeout=timeout)
        )

    async def _code(self, request: web.Request) -> web.Response:
        sha = request.match_info["sha"]
        ref = self._ref()
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(
                None,
                lambda: ref.ask(runtime.GetWorkingDir(sha), timeout=10.0),
            )
        except Exception as exc:
            return _json_error(404, f"working_dir {sha}: {exc}")
        return web.Response(body=data, content_type="application/gzip")


class _Collector:
    """Prometheus figures of the framework (read from the board, no actor asked)."""

    def __init__(self, service: ClusterActorsService) -> None:
        self.service = service

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        board = self.service.board
        if board.ref is None:
            return
        states = GaugeMetricFamily(
            "pydcos_cluster_actors",
            "User actors by state (cluster actors framework)",
            labels=["state"],
        )
        for state, n in sorted(board.counts.items()):
            states.add_metric([state], n)
        yield states
        stats = board.stats
        for key, help_text in (
            ("restarts", "Worker restarts (in place, re-placed, group restarts)"),
            ("replaced", "Incarnations placed on another agent than the previous one"),
            ("oom_kills", "Workers killed for exceeding their memory"),
            ("spawn_failures", "Spawns that failed (placement timeout, bad class, early exit)"),
            ("spawned", "Actors spawned"),
            ("launches", "Worker tasks launched"),
        ):
            counter = CounterMetricFamily(f"pydcos_cluster_actors_{key}", help_text)
            counter.add_metric([], stats.get(key, 0))
            yield counter
        served = CounterMetricFamily(
            "pydcos_cluster_actors_calls",
            "Method calls served by the workers (from their liveness probes; rate() = calls/s)",
        )
        served.add_metric([], stats.get("calls", 0))
        yield served
        calls = CounterMetricFamily(
            "pydcos_cluster_actors_api_calls", "Method calls made through /actors/v1 (CLI, HTTP)"
        )
        calls.add_metric([], self.service.calls)
        yield calls
