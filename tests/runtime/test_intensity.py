"""Restart intensity: the pure rule, and a real supervisor obeying it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import (
    ChildSpec,
    ManualClock,
    Node,
    RestartIntensityExceeded,
    Shutdown,
    Supervisor,
    SupervisorRef,
    add_restart,
)

from .conftest import Watcher, Worker, wait_until

FAIL = "fail"
events = st.lists(
    st.one_of(st.just(FAIL), st.floats(min_value=0.0, max_value=4.0, allow_nan=False)),
    max_size=25,
)


@pytest.mark.parametrize(
    ("history", "now", "allowed", "kept"),
    [
        ((), 0.0, True, (0.0,)),
        ((1.0, 0.0), 2.0, True, (2.0, 1.0, 0.0)),
        ((2.0, 1.0, 0.0), 3.0, False, (3.0, 2.0, 1.0, 0.0)),  # the 4th within 5 s
        ((2.0, 1.0, 0.0), 5.0, False, (5.0, 2.0, 1.0, 0.0)),  # window edge is inclusive
        ((2.0, 1.0, 0.0), 5.5, True, (5.5, 2.0, 1.0)),  # the oldest has expired
    ],
)
def test_add_restart_examples(
    history: tuple[float, ...], now: float, allowed: bool, kept: tuple[float, ...]
) -> None:
    assert add_restart(history, now, 3, 5.0) == (allowed, kept)


def _model(seq: list[Any], intensity: int, period: float) -> list[tuple[float, bool]]:
    """Run the pure rule over a sequence; return (time, allowed) per failure, to escalation."""
    now, history, out = 0.0, (), []
    for ev in seq:
        if ev == FAIL:
            ok, history = add_restart(history, now, intensity, period)
            out.append((now, ok))
            if not ok:
                break
        else:
            now += ev
    return out


@given(seq=events, intensity=st.integers(0, 4), period=st.floats(0.5, 10.0))
def test_restarts_in_any_window_never_exceed_intensity(
    seq: list[Any], intensity: int, period: float
) -> None:
    outcomes = _model(seq, intensity, period)
    allowed = [t for t, ok in outcomes if ok]
    for t in allowed:
        assert sum(1 for u in allowed if t - period <= u <= t) <= intensity
    if outcomes and not outcomes[-1][1]:  # escalation is never premature
        t = outcomes[-1][0]
        assert sum(1 for u in allowed if t - period <= u <= t) == intensity


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seq=st.lists(
        st.one_of(st.just(FAIL), st.sampled_from([0.0, 0.5, 1.0, 2.5])), min_size=1, max_size=10
    ),
    intensity=st.integers(0, 3),
    period=st.sampled_from([1.0, 2.0, 5.0]),
)
def test_supervisor_on_manual_clock_escalates_exactly_when_the_rule_says(
    seq: list[Any], intensity: int, period: float
) -> None:
    clock = ManualClock()
    node = Node("prop", clock=clock, on_fatal=lambda _r: None)
    try:
        watcher = node.spawn(Watcher)
        sup = SupervisorRef(
            node.spawn(Supervisor, [ChildSpec("w", Worker)], intensity=intensity, period=period)
        )
        watcher.ask(("monitor", sup.ref))
        expected = _model(seq, intensity, period)
        escalated = False
        for ev in seq:
            if ev != FAIL:
                clock.advance(ev)
                continue
            child = sup.which_children()[0].ref
            assert child is not None
            child.tell("crash")
            assert child.join()
            ok = expected.pop(0)[1]
            if not ok:
                downs = wait_until(lambda: watcher.ask("downs"), what="supervisor exit")
                reason = downs[0].reason
                assert isinstance(reason, Shutdown)
                assert isinstance(reason.detail, RestartIntensityExceeded)
                escalated = True
                break
            new = sup.which_children()[0].ref
            assert new is not None and new != child
        assert escalated == (
            FAIL in seq and not all(ok for _t, ok in _model(seq, intensity, period))
        )
    finally:
        node.shutdown()
