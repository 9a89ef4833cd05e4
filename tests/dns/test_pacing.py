"""The DNS actor's table pacing (``rebuild_wait``): a launch wave's events coalesce into
at most one table per ``MIN_GAP``, and every change is still served within a bounded
time (``MIN_GAP``, or the pacer's gap after a costly table, plus that table's cost)."""

from __future__ import annotations

import itertools
import random

import pytest

from actors.dns._actor import MIN_GAP, rebuild_wait
from actors.master import RebuildPacer


def test_quiet_then_at_once_and_a_stream_is_paced() -> None:
    pacer = RebuildPacer()
    assert rebuild_wait(pacer, 10.0) == 0.0, "never tabled: at once"
    pacer.done(10.0, 10.002)
    assert rebuild_wait(pacer, 10.01) == pytest.approx(MIN_GAP - 0.008)
    assert rebuild_wait(pacer, 10.002 + MIN_GAP) == 0.0, "after a quiet spell: at once"
    pacer.done(20.0, 20.5)  # a costly table: the pacer's gap (capped) wins
    assert rebuild_wait(pacer, 20.5) == pytest.approx(min(pacer.max_gap, 4 * 0.5))


@pytest.mark.parametrize("seed", range(6))
def test_random_event_streams_are_tabled_in_bounded_time(seed: int) -> None:
    """Simulate the actor: an event asks for a table unless one is pending; the table
    runs ``rebuild_wait`` later and takes a random cost. Every event is in a table at
    most ``max(MIN_GAP, pacer gap) + cost`` after it, and tables in a stream are at least
    ``MIN_GAP`` apart (start to start, after the first)."""
    rng = random.Random(seed)
    pacer = RebuildPacer()
    now = 0.0
    pending_at: float | None = None  # when the scheduled table runs
    waiting: list[float] = []  # events not in a table yet
    starts: list[float] = []
    bound = max(MIN_GAP, pacer.max_gap)
    for _ in range(3000):
        now += rng.choice([0.0005, 0.001, 0.003, 0.02, 0.4])
        while pending_at is not None and pending_at <= now:
            start = pending_at
            cost = rng.choice([0.001, 0.005, 0.03, 0.2])
            for t in waiting:
                assert start + cost - t <= bound + cost + 1e-9
            if starts:
                assert start - pacer.ended >= MIN_GAP - 1e-9, "a gap after the last table"
            starts.append(start)
            waiting = []
            pacer.done(start, start + cost)
            pending_at = None
        waiting.append(now)
        if pending_at is None:
            pending_at = now + rebuild_wait(pacer, now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps and min(gaps) >= MIN_GAP - 1e-9, "a stream coalesces: one table per MIN_GAP"
