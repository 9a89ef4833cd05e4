"""``PackagesService``: Cosmos as a leader service of the master process.

```
 MasterProcess (every master)
   gateway: /package/... and /cosmos/package/... (leader-only: standbys redirect)
   on_elected: ChildSpec "packages" -> PackagesActor (repository list from ZooKeeper
               /cosmos, seeded with the bundled Universe the first time)
   on_revoked: the actor stops; installed packages are Marathon apps and live on
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from actors.master import ServiceContext
from runtime import ChildSpec
from zk import StateStore

from ._actor import PACKAGES_ACTOR, PackagesActor
from ._api import PREFIXES, PackagesApi, Repositories
from ._metrics import PackagesMetrics
from ._repos import default_repositories

STORE_ROOT = "/cosmos"
"""The packages service's state store root, under the cluster chroot."""


class PackagesService:
    """The ``LeaderService`` that runs the package manager on the leading master."""

    name = "packages"
    prefixes: tuple[str, ...] = tuple(p + "/" for p in PREFIXES)

    def __init__(self, defaults: list[dict[str, str]] | None = None, timeout: float = 15.0) -> None:
        self.settings: dict[str, Any] = {}
        """The master's flags (``keys``, ``insecure_dev``): the SDK template scope."""
        self.defaults = default_repositories() if defaults is None else list(defaults)
        self.timeout = timeout
        self.repositories = Repositories()
        self.metrics = PackagesMetrics()
        """Counted by the REST layer, read by ``/metrics``."""
        """Fetched repositories, kept across leaderships of this master."""

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return [
            ChildSpec(
                PACKAGES_ACTOR,
                PackagesActor,
                restart="permanent",
                shutdown=5.0,
                args=(StateStore(ctx.zk, STORE_ROOT, fence=ctx.fence), self.defaults),
                name=PACKAGES_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        add = getattr(ctx.gateway, "add_metrics_collector", None)
        if add is not None:
            add(self.metrics)
        api = PackagesApi(ctx, self.repositories, self.timeout, self.metrics)
        api.cluster_scope = lambda: self._cluster_scope(ctx)
        return api.routes()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PackagesService:
        made = cls()
        made.settings = dict(settings)
        return made

    def _cluster_scope(self, ctx: ServiceContext) -> dict[str, Any]:
        from actors.sdk import cluster_scope

        keys = self.settings.get("keys")
        creds = self.settings.get("zk_credentials")
        return cluster_scope(
            ctx.zk,
            str(keys) if keys else None,
            bool(self.settings.get("insecure_dev")),
            str(creds) if creds else None,
        )
