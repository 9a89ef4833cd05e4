"""``RebuildPacer``: an observer rebuilds at once after a quiet spell, and during a
stream of changes not sooner than ``factor`` times its last rebuild's cost after it."""

from __future__ import annotations

from actors.master import RebuildPacer


def test_cheap_rebuilds_stay_immediate_and_costly_ones_are_paced() -> None:
    pacer = RebuildPacer(factor=4.0, max_gap=1.0)
    assert pacer.delay(100.0) == 0.0  # never rebuilt: now
    pacer.done(100.0, 100.001)  # 1 ms: the next one may come 4 ms later
    assert abs(pacer.delay(100.001) - 4 * 0.001) < 1e-9
    assert pacer.delay(100.01) == 0.0
    pacer.done(200.0, 200.2)  # 200 ms: 800 ms of pause, a fifth of the time busy
    assert abs(pacer.delay(200.2) - 0.8) < 1e-9
    assert abs(pacer.delay(200.7) - 0.3) < 1e-9
    assert pacer.delay(201.0) == 0.0
    pacer.done(300.0, 302.0)  # 2 s: paced at most max_gap after it
    assert pacer.delay(302.0) == 1.0
