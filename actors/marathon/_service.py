"""``MarathonService``: Marathon as a leader service of the master process.

```
 MasterProcess (every master)
   gateway: /marathon/... routes (leader-only: standbys redirect)      at start-up
   standby:    keeps a warm copy of /marathon (zk.StoreMirror, ``warm_stores``)
   on_elected: ChildSpec "marathon" -> MarathonActor (loads ZooKeeper /marathon, from
               the warm copy's hand-over when there is one; subscribes as framework
               "marathon" with its persisted id)
   on_revoked: the actor stops at once; its tasks keep running (failover_timeout)
```
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.master import ServiceContext
from runtime import ChildSpec
from zk import StateStore

from ._actor import MarathonActor
from ._api import api_routes
from ._events import EventBus
from ._load import prebuild_instances
from ._messages import MARATHON_ACTOR, MarathonConfig
from ._store import MIRRORED, ZkMarathonStore

STORE_ROOT = "/marathon"
"""Marathon's state store root, under the cluster chroot."""


class MarathonService:
    """The ``LeaderService`` that runs Marathon on the leading master."""

    name = "marathon"
    prefixes: tuple[str, ...] = ("/marathon/",)
    warm_stores: tuple[tuple[Any, ...], ...] = ((STORE_ROOT, MIRRORED, prebuild_instances),)
    """(store root, prefixes, prepare) a standby master keeps warm for this service
    (``zk.StoreMirror``): a new leader's Marathon reads only what changed since, and
    takes the instance records the standby validated and built ahead."""

    def __init__(self, config: MarathonConfig | None = None) -> None:
        self.config = config or MarathonConfig()
        self.bus = EventBus()
        """Shared by the actor (publishes) and the HTTP layer (SSE streams)."""

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        store = ZkMarathonStore(
            StateStore(ctx.zk, STORE_ROOT, fence=ctx.fence),
            mirror=ctx.warm.pop(STORE_ROOT, None),
        )
        return [
            ChildSpec(
                MARATHON_ACTOR,
                MarathonActor,
                restart="permanent",
                shutdown=5.0,
                args=(store, self.bus),
                kwargs={
                    "master_address": ctx.master_address,
                    "hostname": ctx.hostname,
                    "http_url": lambda: ctx.http_url,
                    "config": self.config,
                    "pin_master": True,
                },
                name=MARATHON_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        return api_routes(ctx, self.bus, timeout=self.config.ask_timeout)
