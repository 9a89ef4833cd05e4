"""Driving ``MarathonCore`` by hand: no ZooKeeper, HTTP, driver or threads.

``Sim`` plays the actor shell's part: it feeds events stamped with a ``ManualClock``,
answers ``AwaitStored`` with ``Stored()`` (or ``StoreFailed`` when a test says the
store is down), keeps what was "stored", and hands back every effect in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, TypeVar

from actors import protocol as p
from actors.marathon import ApiReply, ApiRequest, MarathonConfig, MarathonCore
from actors.marathon._messages import (
    AwaitStored,
    Decline,
    Kill,
    Launch,
    Load,
    Offers,
    PersistInstances,
    PersistRoot,
    Publish,
    Reply,
    Stored,
    StoreFailed,
    Subscribed,
    Tick,
)
from runtime import ManualClock

E = TypeVar("E")

FID = "fw-1"


def app(app_id: str = "/web", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": app_id, "cmd": "sleep 1000", "cpus": 0.5, "mem": 64}
    doc.update(over)
    return doc


class Sim:
    """A MarathonCore with a manual clock and an in-memory record of the store."""

    def __init__(self, config: MarathonConfig | None = None, data: dict[str, Any] | None = None):
        self.clock = ManualClock()
        self.core = MarathonCore(config or MarathonConfig(), master_address="test")
        self.store_down: Exception | None = None
        self.stored: list[Any] = []
        """Store effects carried out, in order."""
        self.instances: dict[str, list[dict[str, Any]]] = {}
        """What the store holds under instances/<app> (as the shell would write it)."""
        self._offers = itertools.count(1)
        self._updates = itertools.count(1)
        self.feed(Load(data or {}))

    # ------------------------------------------------------------------ feeding

    def feed(self, event: Any) -> list[Any]:
        out: list[Any] = []
        batch = self.core.handle(event, self.clock.now(), self.clock.wall())
        while True:
            follow: Any = None
            for effect in batch:
                out.append(effect)
                if isinstance(effect, AwaitStored):
                    follow = Stored()
                    break
                if type(effect).__name__.startswith(("Persist", "Delete")):
                    if self.store_down is not None and not getattr(effect, "best_effort", False):
                        follow = StoreFailed(self.store_down, transient=True)
                        break
                    self.stored.append(effect)
                    if isinstance(effect, PersistInstances):
                        self.instances[effect.app_id] = effect.records
            if follow is None:
                return out
            batch = self.core.handle(follow, self.clock.now(), self.clock.wall())

    def request(
        self, op: str, app_id: str | None = None, body: Any = None, **params: Any
    ) -> list[Any]:
        """Every effect of one REST operation."""
        return self.feed(ApiRequest(op, app_id, params, body))

    def api(self, op: str, app_id: str | None = None, body: Any = None, **params: Any) -> ApiReply:
        replies = of(Reply, self.request(op, app_id, body, **params))
        assert len(replies) == 1, replies
        return replies[0].reply

    def subscribe(self, fid: str = FID) -> list[Any]:
        return self.feed(Subscribed(fid, "master-1"))

    def offer(
        self,
        host: str = "agent1",
        res: str = "cpus:4;mem:4096;ports:[31000-31009]",
        attrs: dict[str, Any] | None = None,
    ) -> p.Offer:
        from actors.resources import Resources

        n = next(self._offers)
        return p.Offer(
            f"o{n}", FID, f"id-{host}", host, Resources.parse(res).to_dict(), attrs or {}, ip=""
        )

    def offers(self, *offers: p.Offer) -> list[Any]:
        return self.feed(Offers(list(offers)))

    def update(self, task_id: str, state: str, healthy: bool | None = None) -> list[Any]:
        inst = self.core.instances.get(task_id)
        agent = inst.agent_id if inst is not None else "id-agent1"
        u = p.StatusUpdate(
            FID,
            task_id,
            agent,
            state,
            f"u{next(self._updates)}",
            self.clock.wall(),
            healthy=healthy,
        )
        return self.feed(u)

    def tick(self, seconds: float = 0.0) -> list[Any]:
        self.clock.advance(seconds)
        return self.feed(Tick())

    # ---------------------------------------------------------------- reading

    def tasks(self, app_id: str = "/web") -> list[str]:
        return sorted(self.core.by_app.get(app_id, {}))

    def run_all(self, app_id: str = "/web", healthy: bool | None = None) -> None:
        for task_id in self.tasks(app_id):
            if not self.core.instances[task_id].running:
                self.update(task_id, "TASK_RUNNING", healthy)


def of(kind: type[E], effects: Iterable[Any]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]


def launched(effects: Iterable[Any]) -> list[p.TaskInfo]:
    return [t for e in of(Launch, effects) for t in e.tasks]


def killed(effects: Iterable[Any]) -> list[str]:
    return [e.task_id for e in of(Kill, effects)]


def declined(effects: Iterable[Any]) -> list[str]:
    return [o for e in of(Decline, effects) for o in e.offer_ids]


def events(effects: Iterable[Any]) -> list[str]:
    return [e.event_type for e in of(Publish, effects)]


def roots(effects: Iterable[Any]) -> list[PersistRoot]:
    return of(PersistRoot, effects)
