"""``L4lbService``: named VIPs as a node service of every master.

```
 MasterProcess (every master, leading or not)
   child "l4lb" -> L4lbActor: its own HAProxy (master-worker, PDEATHSIG, stopped by PID),
                   follows the leader (leader_listeners -> L4lbLeaderChanged -> WatchMaster)
   gateway:     GET /networking/api/v1/vips (this master's own table, dcos-net's shape)
```

Every master runs its own HAProxy and they all bind the same VIP addresses: HAProxy
binds with ``SO_REUSEPORT``, so on one machine the kernel spreads new connections over
the masters' HAProxies, and on several machines each node serves its own loopback (as
dcos-net runs on every node). All of them compute the same table from the same events
(addresses are a pure function of the names), so it does not matter which one accepts.
A master that is SIGKILLed takes its HAProxy with it (PDEATHSIG; the worker follows its
master), and the other masters' HAProxies keep answering on the same addresses.

Without ``haproxy`` on the machine the service says so in the log and at the API
(``data_plane: "asyncio"``) and serves VIPs with a small asyncio TCP proxy instead:
the documented fallback, slower and without HAProxy's runtime API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from actors.l4lb._actor import DataPlane, HaproxyPlane, L4lbActor, VipView
from actors.l4lb._fallback import AsyncioPlane
from actors.l4lb._messages import L4LB_ACTOR, L4lbLeaderChanged
from actors.l4lb._process import INSTALL_HINT, find_haproxy
from actors.l4lb._table import cluster_salt, vips_json
from actors.master import ServiceContext
from runtime import ChildSpec

log = logging.getLogger("actors.l4lb")

VIPS_PATH = "/networking/api/v1/vips"
MAX_APP_ID = 512


class L4lbService:
    """The ``NodeService`` named ``l4lb``."""

    name = "l4lb"

    def __init__(self, salt: str = "", haproxy: str | None = None) -> None:
        self.salt = salt
        self.binary = haproxy if haproxy is not None else find_haproxy()
        self.view = VipView()
        if self.binary is None:
            log.warning("l4lb: %s", INSTALL_HINT)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> L4lbService:
        """``pydcos master`` flags -> the service (the salt is the cluster's ``--zk``)."""
        return cls(salt=cluster_salt(str(settings.get("zk") or "")))

    def _plane(self) -> DataPlane:
        if self.binary is None:
            return AsyncioPlane()
        return HaproxyPlane(self.binary)

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        node = ctx.node

        def on_leader(address: str | None) -> None:
            node.ref(L4LB_ACTOR).tell(L4lbLeaderChanged(address))

        ctx.leader_listeners.append(on_leader)
        return [
            ChildSpec(
                L4LB_ACTOR,
                L4lbActor,
                restart="permanent",
                shutdown=5.0,
                kwargs={
                    "salt": self.salt,
                    "leader_address": ctx.leader_address,
                    "view": self.view,
                    "plane": self._plane,
                },
                name=L4LB_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        add = getattr(ctx.gateway, "add_metrics_collector", None)
        if add is not None:
            add(VipCollector(self.view))
        return vip_routes(self.view)


class VipCollector:
    """``/metrics``: VIPs, backends per VIP, HAProxy reloads and restarts (Prometheus)."""

    def __init__(self, view: VipView) -> None:
        self.view = view

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        table, facts = self.view.snapshot()
        yield GaugeMetricFamily("pydcos_l4lb_vips", "VIPs this master serves", value=len(table))
        backends = GaugeMetricFamily(
            "pydcos_l4lb_backends", "Backends of each VIP", labels=["vip", "address"]
        )
        for vip in table.values():
            backends.add_metric(
                [f"{vip.hostname or vip.address}:{vip.port}", vip.ident], len(vip.backends)
            )
        yield backends
        yield CounterMetricFamily(
            "pydcos_l4lb_haproxy_reloads", "HAProxy reloads (VIP set changes)", facts["reloads"]
        )
        yield CounterMetricFamily(
            "pydcos_l4lb_haproxy_restarts", "HAProxy restarts after it died", facts["restarts"]
        )


def vip_routes(view: VipView) -> list[web.RouteDef]:
    """``GET /networking/api/v1/vips[?app=/web]``: every VIP with its backends, in
    dcos-net's ``/v1/vips`` shape (``[{"vip", "protocol", "backend": [{"ip",
    "port"}]}]``) plus ``address``, ``balance``, ``apps`` and each backend's
    ``task_id``, and ``error`` when a VIP is left out (its address is held by another
    program); headers say which data plane serves them."""

    async def vips(request: web.Request) -> web.StreamResponse:
        unknown = sorted(set(request.query) - {"app"})
        if unknown:
            return web.json_response(
                {"message": f"{unknown[0]}: unknown query parameter (known: app)"}, status=400
            )
        app = request.query.get("app")
        if app is not None and (not app.startswith("/") or len(app) > MAX_APP_ID):
            return web.json_response(
                {"message": f"app: {app[:80]!r} is not an app id (/group/app)"}, status=400
            )
        table, facts = view.snapshot()
        if not facts["ready"]:
            return web.json_response(
                {"message": "the load balancer has no state from the leading master yet"},
                status=503,
            )
        body = vips_json(table)
        for entry in body:
            if entry["address"] in facts["errors"]:
                entry["error"] = facts["errors"][entry["address"]]
        if app is not None:
            body = [v for v in body if app.rstrip("/") in v["apps"]]
        headers = {
            "X-Pydcos-Data-Plane": str(facts["data_plane"]),
            "X-Pydcos-Haproxy-Reloads": str(facts["reloads"]),
            "X-Pydcos-Haproxy-Restarts": str(facts["restarts"]),
        }
        return web.json_response(body, headers=headers)

    return [web.get(VIPS_PATH, vips)]
