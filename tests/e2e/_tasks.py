"""Helpers shared by the e2e scenarios: task builders and an offer-driven launcher."""

from __future__ import annotations

import threading
from collections.abc import Callable

from actors import protocol as p
from actors.framework import SchedulerDriver
from actors.resources import Resources

SMALL = Resources.parse("cpus:0.1;mem:32")


def task(
    task_id: str,
    agent_id: str,
    command: str = "sleep 600",
    *,
    resources: Resources | dict[str, object] = SMALL,
    exit_state: str | None = None,
) -> p.TaskInfo:
    """A task; ``exit_state`` makes a simulated agent finish it right after RUNNING."""
    res = resources.to_dict() if isinstance(resources, Resources) else dict(resources)
    labels = {"pydcos.simulated.exit": exit_state} if exit_state else {}
    return p.TaskInfo(
        task_id,
        task_id,
        agent_id,
        res,
        p.CommandSpec(command),
        kill_grace_period=0.5,
        labels=labels,
    )


class Launcher:
    """``on_offers`` that launches ``ids`` in order, ``per_offer`` at a time, and declines
    everything once they are all launched (so no task is ever launched twice)."""

    def __init__(
        self,
        ids: list[str],
        per_offer: int = 1,
        make: Callable[[str, str], p.TaskInfo] | None = None,
    ) -> None:
        self.pending = list(ids)
        self.per_offer = per_offer
        self.make = make or (lambda tid, agent_id: task(tid, agent_id))
        self.placed: dict[str, str] = {}
        """task id -> agent id."""
        self.lock = threading.Lock()

    def __call__(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        for offer in offers:
            with self.lock:
                batch, self.pending = (
                    self.pending[: self.per_offer],
                    self.pending[self.per_offer :],
                )
                for tid in batch:
                    self.placed[tid] = offer.agent_id
            if batch:
                driver.launch([offer.offer_id], [self.make(tid, offer.agent_id) for tid in batch])
            else:
                driver.decline([offer.offer_id], refuse_seconds=3600)
