"""``MetronomeService``: Metronome as a leader service of the master process.

```
 MasterProcess(services=(MetronomeService(),))
   standby  -> keeps a warm copy of /metronome (zk.StoreMirror, ``warm_stores``)
   elected  -> root supervisor starts "metronome" (MetronomeActor; registered name
               "metronome") after the master actor; it loads the jobs (from the warm
               copy's hand-over when there is one) and subscribes to this node's master
   revoked  -> the actor stops at once (its driver stops with failover: tasks live on)
   gateway  -> /metronome/... and /service/metronome/... (leader-only: standbys redirect)
```

The routes are built once at start-up and read the `ViewBoard` the running actor
publishes to, so a standby or a leader whose actor is not up yet answers 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors.master import ServiceContext
from runtime import ChildSpec

from ._actor import METRONOME_ACTOR, MetronomeActor, MetronomeConfig, prepare_entry
from ._api import PREFIXES, MetronomeApi
from ._store import MIRRORED, STORE_ROOT
from ._view import ViewBoard

MIRROR_INTERVAL = 5.0
"""Seconds between a standby's re-reads of the job documents that changed (Marathon's
copy: 1.5 s). A job's document is written about three times within seconds of its run's
POST (the run, its launch, its task running): read again every 1.5 s, the two standbys'
copies cost 6% of the launch rate at 10k agents / 100k tasks (bench/scale.py: 1,977/s
mean of five runs, against 2,063/s without copies and 2,117/s with 5 s, two runs); what
changed in the last interval is read at the hand-over."""
MIRROR_OPTIONS = {"interval": MIRROR_INTERVAL, "decode_per_round": 1000, "busy_quiet_rounds": 2}
"""The copy's ``StoreMirror`` options: as many jobs checked and built ahead per second as
Marathon's copy builds instance shards (300 per 1.5 s round): with 300 per 5 s round the
5,000 jobs of a launch that ended 8 s before a failover were not ready, and the new
leader's Metronome checked them itself (9.4 s beside the storm, against 0.5 s). A job
unchanged for 2 rounds (10 s) is built ahead while the leader still writes others (its
three writes come within seconds; Marathon's shards are rewritten all along a launch,
hence the default 6): at 6 rounds (30 s) the copy still had ~4,000 jobs of a launch
to build when the leader was killed 8 s after it, and building them took the new
leader's first 7.6-9.4 s beside Marathon's start (bench/scale.py, 2026-12-07)."""


class MetronomeService:
    """The ``LeaderService`` for Metronome (``--services metronome``)."""

    name = "metronome"
    prefixes: tuple[str, ...] = tuple(prefix + "/" for prefix in PREFIXES)
    warm_stores: tuple[tuple[Any, ...], ...] = (
        (STORE_ROOT, MIRRORED, prepare_entry, MIRROR_OPTIONS),
    )
    """(store root, prefixes, prepare, options) a standby master keeps warm
    (``zk.StoreMirror``): a new leader's Metronome reads only the jobs that changed
    since, and takes the entries the standby checked and built ahead."""

    def __init__(
        self,
        config: MetronomeConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
        actor_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """``clock`` is the wall clock cron and deadlines run on (default: the node
        clock's ``wall``; tests inject one);
        ``actor_kwargs`` go to `MetronomeActor` as they are (in-process test clusters)."""
        self.config = config or MetronomeConfig()
        self.clock = clock
        self.actor_kwargs = dict(actor_kwargs or {})
        self.board = ViewBoard()

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return [
            ChildSpec(
                METRONOME_ACTOR,
                MetronomeActor,
                restart="permanent",
                shutdown=10.0,
                args=(ctx.zk,),
                kwargs={
                    "master": ctx.master_address,
                    "board": self.board,
                    "clock": self.clock,
                    "config": self.config,
                    "hostname": ctx.hostname,
                    "fence": ctx.fence,
                    "pin_master": True,
                    "warm": [ctx.warm.pop(STORE_ROOT)] if STORE_ROOT in ctx.warm else None,
                    **self.actor_kwargs,
                },
                name=METRONOME_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        return MetronomeApi(
            self.board, clock=self.clock or ctx.node.clock.wall, now=ctx.node.clock.now
        ).routes()
