"""``MetricsService``: the NodeService ``metrics`` every master runs.

Routes (every master answers them itself, asking the agent's actor with ``ask_at``; a
standby is as good as the leader, as DC/OS' Admin Router on any master):

```
GET /system/v1/agent/{agent_id}/metrics/v0/node                  dcos-metrics node doc
GET /system/v1/agent/{agent_id}/metrics/v0/containers            ["container-id", ...]
GET /system/v1/agent/{agent_id}/metrics/v0/containers/{id}       container doc
GET /system/v1/agent/{agent_id}/metrics/v0/containers/{id}/app   app doc (no system points)
GET /system/v1/agent/{agent_id}/metrics/v0/prometheus            Prometheus text
GET /system/v1/agent/{agent_id}/metrics/v0/history?seconds=N     pydcos: series for plots
```

and the ``MasterCollector`` behind this master's ``/metrics`` (registered with
``gateway.add_metrics_collector``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric

from actors.metrics._errors import BadMetricsDocument
from actors.metrics._prom import agent_families, master_families, render
from actors.protocol import GetMetrics, GetState
from runtime import ChildSpec, RuntimeSystemError

log = logging.getLogger("actors.metrics")

BASE = "/system/v1/agent/{agent_id}/metrics/v0"
MAX_HISTORY_SECONDS = 600
"""The agents keep 10 minutes of samples: a longer ``seconds`` is refused (400)."""
AGENT_TIMEOUT = 5.0
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def with_cluster(doc: Any, cluster: str) -> Any:
    """dcos-metrics' ``dimensions.cluster_id``: the agent does not know the cluster's
    name, the master does (``--cluster``)."""
    if isinstance(doc, dict) and isinstance(doc.get("dimensions"), dict):
        doc["dimensions"]["cluster_id"] = cluster or ""
    return doc


class MetricsService:
    """The ``metrics`` node service (``actors.master``'s NODE_SERVICES)."""

    name = "metrics"

    def __init__(self) -> None:
        self.collector: MasterCollector | None = None

    def child_specs(self, ctx: Any) -> list[ChildSpec]:
        if self.collector is not None:
            ctx.leader_listeners.append(self.collector.on_leader)
        return []

    def routes(self, ctx: Any) -> list[web.RouteDef]:
        gateway = ctx.gateway
        self.collector = MasterCollector(ctx)
        gateway.add_metrics_collector(self.collector)

        async def ask(request: web.Request, query: GetMetrics) -> tuple[str, Any]:
            agent_id = request.match_info["agent_id"]
            address = await gateway.agent_address(agent_id)
            try:
                reply = await gateway.ask_at(address, query, timeout=AGENT_TIMEOUT)
            except (TimeoutError, RuntimeSystemError) as exc:
                raise web.HTTPServiceUnavailable(
                    text=json.dumps(
                        {"message": f"agent {agent_id!r} did not answer ({address}): {exc}"}
                    ),
                    content_type="application/json",
                ) from None
            return agent_id, with_cluster(reply, getattr(gateway.about, "cluster", ""))

        async def node(request: web.Request) -> web.StreamResponse:
            _, doc = await ask(request, GetMetrics("node"))
            return web.json_response(doc)

        async def containers(request: web.Request) -> web.StreamResponse:
            _, ids = await ask(request, GetMetrics("containers"))
            return web.json_response(ids)

        def container(scope: str) -> Any:
            async def handler(request: web.Request) -> web.StreamResponse:
                cid = request.match_info["container_id"]
                agent_id, doc = await ask(request, GetMetrics(scope, container_id=cid))
                if doc is None:
                    return _error(404, f"container {cid!r} is not running on agent {agent_id!r}")
                return web.json_response(doc)

            return handler

        async def prometheus(request: web.Request) -> web.StreamResponse:
            agent_id, doc = await ask(request, GetMetrics("all"))
            try:
                body = render(agent_families(doc, agent_id))
            except BadMetricsDocument as exc:
                return _error(502, f"agent {agent_id!r} sent a bad metrics document: {exc}")
            return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})

        async def history(request: web.Request) -> web.StreamResponse:
            raw = request.query.get("seconds", "300")
            try:
                seconds = float(raw)
            except ValueError:
                return _error(400, f"query parameter seconds: {raw!r} is not a number")
            if not 0 < seconds <= MAX_HISTORY_SECONDS:
                return _error(
                    400, f"query parameter seconds: {raw} is not in (0, {MAX_HISTORY_SECONDS}]"
                )
            since = ctx.node.clock.wall() - seconds
            _, doc = await ask(request, GetMetrics("history", since=since))
            return web.json_response(doc)

        return [
            web.get(BASE + "/node", node),
            web.get(BASE + "/containers", containers),
            web.get(BASE + "/containers/{container_id}", container("container")),
            web.get(BASE + "/containers/{container_id}/app", container("app")),
            web.get(BASE + "/prometheus", prometheus),
            web.get(BASE + "/history", history),
        ]


class MasterCollector:
    """This master's figures for ``/metrics``: whether it leads, and, when it does, the
    master's state (``GetState("snapshot")``, ``("metrics")``) and Marathon's and
    Metronome's own ``/metrics``. Runs on the gateway's executor thread (blocking asks
    and loopback HTTP are fine there)."""

    def __init__(self, ctx: Any, timeout: float = 2.0) -> None:
        self.ctx = ctx
        self.timeout = timeout
        self.started = ctx.node.clock.wall()
        self.leader_changes = 0
        self._last_leader: str | None = None
        self._lock = threading.Lock()

    def on_leader(self, address: str | None) -> None:
        """A leader listener (ZooKeeper's thread): count changes of leader."""
        with self._lock:
            if address is not None and address != self._last_leader:
                self.leader_changes += 1
            self._last_leader = address if address is not None else self._last_leader

    def facts(self) -> dict[str, Any]:
        ctx = self.ctx
        about = getattr(ctx.gateway, "about", None)
        started = getattr(about, "started_at", None) or self.started
        elected = ctx.leader_address() == ctx.master_address
        facts: dict[str, Any] = {
            "elected": elected,
            "uptime_seconds": max(0.0, ctx.node.clock.wall() - started),
            "leader_changes": self.leader_changes,
            "term": self._term(),
        }
        if elected:
            master = ctx.node.ref(ctx.master_address)
            facts["snapshot"] = self._try(
                lambda: master.ask(
                    GetState("snapshot", {"uptime_secs": facts["uptime_seconds"]}),
                    timeout=self.timeout,
                )
            )
            facts["metrics"] = self._try(
                lambda: master.ask(GetState("metrics"), timeout=self.timeout)
            )
            facts["marathon"] = self._try(lambda: self._get("/marathon/metrics"))
            facts["metronome"] = self._try(lambda: self._get("/metronome/v1/metrics"))
        return facts

    def _term(self) -> int | None:
        """The leader's election znode sequence number (``member_0000000007`` -> 7)."""

        def read() -> int | None:
            from zk import read_leader

            leader = read_leader(self.ctx.zk)
            found = re.search(r"(\d+)$", leader.node if leader else "")
            return int(found.group(1)) if found else None

        value = self._try(read)
        return value if isinstance(value, int) else None

    def _get(self, path: str) -> Any:
        from actors.gateway import forward_headers

        url = str(self.ctx.http_url).rstrip("/") + path
        req = urllib.request.Request(url, headers=forward_headers())  # this master's own
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read())

    @staticmethod
    def _try(fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:
            log.debug("metrics: %s", exc)
            return None

    def collect(self) -> Iterable[Metric]:
        return master_families(self.facts())
