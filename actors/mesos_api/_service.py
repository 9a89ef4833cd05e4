"""``MesosApiService``: Mesos' v1 HTTP APIs as a leader service of the master process.

```
 MasterProcess(services=(..., MesosApiService()))
   gateway  -> POST /api/v1/scheduler, /mesos/api/v1/scheduler (leader-only: a standby
               answers 307 with the leader's Location, which Mesos clients follow)
   elected  -> "mesos-api" (MesosApiActor): the scheduler API serves; the master's
               MasterInfo is published at <chroot>/mesos/json.info_NNNNNNNNNN, where
               Mesos' own masters put it, so clients given zk://.../mesos find the leader
   revoked  -> every scheduler stream ends; the entry disappears (also with the session)
```

pymesos and the other Mesos clients find the leading master in ZooKeeper exactly as
with Mesos: the lowest ``json.info_`` child of the path they are given, whose JSON has
``address.ip``/``address.port``. Only the leader writes one, so the lowest is it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from actors.gateway import MESOS_VERSION
from actors.master import ServiceContext
from actors.mesos_api._convert import master_info
from actors.mesos_api._scheduler import SchedulerApi
from runtime import Actor, ChildSpec
from zk import leader_acl

log = logging.getLogger("actors.mesos_api")

MESOS_ZK_PATH = "/mesos"
"""Where, under the cluster's chroot, the leader publishes Mesos' MasterInfo JSON."""

API_ACTOR = "mesos-api"


class MesosApiActor(Actor):
    """Leader-only: turns the scheduler API on, and publishes the leader's MasterInfo."""

    def __init__(self, api: SchedulerApi, zk: Any, hostname: str, http_url: str) -> None:
        super().__init__()
        self.api = api
        self.zk = zk
        self.hostname = hostname
        self.http_url = http_url
        self.znode: str | None = None

    def started(self) -> None:
        self.api.start_leading()
        if self.zk is None:
            return
        u = urlsplit(self.http_url)
        info = master_info(
            self.api.node.name, self.hostname, u.hostname or "", u.port or 0, MESOS_VERSION
        )
        try:
            # World-readable (as Mesos' EVERYONE_READ_CREATOR_ALL): frameworks find the
            # leader with no ZooKeeper credentials, as they find Mesos' masters.
            acl = leader_acl(self.zk)
            self.zk.ensure_path(MESOS_ZK_PATH, acl=acl)
            self.znode = self.zk.create(
                f"{MESOS_ZK_PATH}/json.info_",
                json.dumps(info).encode(),
                acl=acl,
                ephemeral=True,
                sequence=True,
            )
        except Exception as exc:  # ZooKeeper trouble must not stop the API itself
            log.warning("mesos api: cannot publish the master info in ZooKeeper: %s", exc)

    def stopped(self) -> None:
        self.api.stop_leading()
        if self.znode is not None and self.zk is not None:
            try:
                self.zk.delete(self.znode)
            except Exception as exc:
                log.info(
                    "mesos api: %s not deleted (%s); it goes with the session", self.znode, exc
                )
            self.znode = None


class SchedulerApiMetrics:
    """``/metrics`` for the scheduler API (a ``prometheus_client`` custom collector):
    calls by type and status, open streams, events streamed, streams cut off."""

    def __init__(self, api: SchedulerApi) -> None:
        self.api = api

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        api = self.api
        calls = CounterMetricFamily(
            "pydcos_mesos_api_calls",
            "Scheduler API calls answered, by call type and HTTP status",
            labels=["call", "code"],
        )
        for (call, code), n in sorted(dict(api.calls).items()):
            calls.add_metric([call, str(code)], n)
        yield calls
        yield GaugeMetricFamily(
            "pydcos_mesos_api_streams", "Open scheduler API event streams", value=len(api.streams)
        )
        yield CounterMetricFamily(
            "pydcos_mesos_api_events", "Events streamed to frameworks", value=api.events_streamed
        )
        yield CounterMetricFamily(
            "pydcos_mesos_api_streams_cut",
            "Streams closed because their client read too slowly",
            value=api.streams_cut,
        )


class MesosApiService:
    """The ``LeaderService`` serving Mesos' v1 APIs (``--services mesos_api``)."""

    name = "mesos_api"
    prefixes: tuple[str, ...] = ("/api/v1/", "/mesos/api/v1/")
    """Leader-only below these (the scheduler API). ``POST /api/v1`` itself (the operator
    API) is not under them: every master answers it, redirecting what it must."""

    def __init__(self, max_queued_bytes: int | None = None) -> None:
        self.max_queued_bytes = max_queued_bytes
        self.api: SchedulerApi | None = None

    def _api(self, ctx: ServiceContext) -> SchedulerApi:
        if self.api is None:
            kwargs = (
                {} if self.max_queued_bytes is None else {"max_queued_bytes": self.max_queued_bytes}
            )
            self.api = SchedulerApi(
                ctx.node,
                ctx.master_address,
                hostname=ctx.hostname,
                http_url=lambda: ctx.http_url,
                version=MESOS_VERSION,
                **kwargs,
            )
        return self.api

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return [
            ChildSpec(
                API_ACTOR,
                MesosApiActor,
                restart="permanent",
                shutdown=5.0,
                args=(self._api(ctx), ctx.zk, ctx.hostname, ctx.http_url),
                name=API_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        add_collector = getattr(ctx.gateway, "add_metrics_collector", None)
        if add_collector is not None:
            add_collector(SchedulerApiMetrics(self._api(ctx)))
        routes = self._api(ctx).routes()
        try:
            from actors.mesos_api._operator import operator_routes  # H7's operator API
        except ImportError:
            return routes
        return routes + operator_routes(ctx)
