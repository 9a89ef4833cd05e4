"""A revive is answered with offers at once (Mesos' allocator runs an event-triggered
allocation on revive), not at the next cycle of the ``allocation_interval`` grid; the
measured ``alloc_pace`` (a large cluster's cycle cost) still spaces cycles out."""

from __future__ import annotations

import time
from typing import Any

from actors import protocol as p
from tests.master.test_master_core import FW, Cluster, one, sends


def offers_now(c: Cluster) -> list[p.Offer]:
    """What an allocation attempt at ``c.now`` offers (the actor's ``_allocate_soon``)."""
    out: list[Any] = []
    c.core.maybe_allocate(c.now, out)
    return [o for batch in sends(out, FW, p.Offers) for o in batch.offers]


def declined_everything(c: Cluster) -> None:
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())  # a cycle at c.now
    c.handle(p.Decline(c.fid, [offer.offer_id], refuse_seconds=15.0))
    c.now += 0.01  # 10 ms later: well inside the 50 ms allocation interval
    assert offers_now(c) == []


def test_a_revive_inside_the_allocation_interval_is_answered_at_once() -> None:
    c = Cluster(allocation_interval=0.05)
    declined_everything(c)
    c.handle(p.Revive(c.fid))
    assert len(offers_now(c)) == 1


def test_a_role_revive_is_answered_at_once_too() -> None:
    c = Cluster(allocation_interval=0.05)
    declined_everything(c)
    c.handle(p.Revive(c.fid, ["*"]))
    assert len(offers_now(c)) == 1


def test_a_revive_does_not_beat_the_measured_allocation_pace() -> None:
    c = Cluster(allocation_interval=0.05)
    declined_everything(c)
    c.core.alloc_pace = 0.2  # cycles cost ~70 ms here: at most one per 200 ms
    c.handle(p.Revive(c.fid))
    assert offers_now(c) == []
    c.now += 0.2
    assert len(offers_now(c)) == 1


def test_a_revive_of_an_unknown_framework_changes_no_timing() -> None:
    c = Cluster(allocation_interval=0.05)
    declined_everything(c)
    before = c.core.last_alloc
    c.handle(p.Revive("no-such-framework"))
    assert c.core.last_alloc == before
    assert offers_now(c) == []


def test_the_pace_follows_the_cpu_a_cycle_took_not_its_waits() -> None:
    """A turn that ran a cycle but waited most of its wall time (for the GIL, while the
    other threads of a busy leader ran) spaces the next cycle by the CPU it took."""
    from collections import deque
    from types import SimpleNamespace

    from actors.master._actor import ALLOC_PACE_FACTOR, MasterActor
    from runtime import SystemClock

    c = Cluster(allocation_interval=0.05)
    me = SimpleNamespace(
        clock=SystemClock(), cycle_ms=deque(), turn_ms=deque(), turn_totals=[0.0, 0.0]
    )

    def waiting_cycle(now: float) -> None:
        c.core.alloc_cycles += 1
        time.sleep(0.2)  # waits: no CPU

    MasterActor._timed(me, c.core, waiting_cycle, c.now)  # type: ignore[arg-type]
    wall, cpu = me.turn_totals
    assert wall >= 0.2 and cpu < 0.05
    assert c.core.alloc_pace == ALLOC_PACE_FACTOR * cpu < 0.15
