"""The health-check state machine on a manual clock (Mesos HealthChecker rules)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.agent import HealthCheckSpec, HealthReport, _health

SPEC = HealthCheckSpec(
    grace_period_seconds=10,
    interval_seconds=2,
    timeout_seconds=1,
    max_consecutive_failures=3,
    delay_seconds=1,
)


def test_first_check_after_delay_then_every_interval() -> None:
    s = _health.initial(100.0)
    assert _health.next_check_at(s, SPEC, None) == 101.0
    assert _health.next_check_at(s, SPEC, 101.0) == 103.0


def test_failures_within_grace_period_are_ignored_until_first_success() -> None:
    s = _health.initial(0.0)
    for t in (1.0, 3.0, 5.0, 7.0, 9.0):
        s, eff = _health.on_result(s, SPEC, False, t)
        assert eff == []
    assert s.consecutive_failures == 0 and s.healthy is None


def test_success_makes_healthy_once_and_ends_grace() -> None:
    s = _health.initial(0.0)
    s, eff = _health.on_result(s, SPEC, True, 1.0)
    assert [e.healthy for e in eff] == [True]
    s, eff = _health.on_result(s, SPEC, True, 3.0)
    assert eff == []  # no change, no report
    s, eff = _health.on_result(s, SPEC, False, 5.0)  # inside grace but after a success
    assert [(e.healthy, e.consecutive_failures, e.kill) for e in eff] == [(False, 1, False)]


def test_max_consecutive_failures_after_grace_kills() -> None:
    s = _health.initial(0.0)
    effects = []
    for t in (11.0, 13.0, 15.0):
        s, eff = _health.on_result(s, SPEC, False, t)
        effects += eff
    assert [(e.healthy, e.consecutive_failures, e.kill) for e in effects] == [
        (False, 1, False),
        (False, 3, True),
    ]
    assert s.killed
    s2, eff = _health.on_result(s, SPEC, True, 17.0)
    assert eff == [] and s2 == s  # a killed task stays killed


def test_success_resets_the_failure_count() -> None:
    s = _health.initial(0.0)
    for t in (11.0, 13.0):
        s, _ = _health.on_result(s, SPEC, False, t)
    s, eff = _health.on_result(s, SPEC, True, 15.0)
    assert s.consecutive_failures == 0 and eff[0].healthy
    for t in (17.0, 19.0):
        s, _ = _health.on_result(s, SPEC, False, t)
    assert not s.killed


def test_a_slow_success_counts_as_a_timeout_failure() -> None:
    s = _health.initial(0.0)
    s, eff = _health.on_result(s, SPEC, True, 20.0, duration=1.5)
    assert eff[0].healthy is False and "timed out" in eff[0].message


@given(st.lists(st.booleans(), max_size=40))
def test_kill_exactly_when_max_failures_in_a_row(results: list[bool]) -> None:
    s = _health.initial(0.0)
    run = 0
    should_kill = False
    for i, ok in enumerate(results):
        s, _ = _health.on_result(s, SPEC, ok, 100.0 + i)  # all after grace
        run = 0 if ok else run + 1
        should_kill = should_kill or run >= SPEC.max_consecutive_failures
        assert s.killed == should_kill


# -- several checks per task (Marathon's healthChecks list) ------------------------------
def _r(healthy: bool, failures: int = 0, message: str = "", kill: bool = False) -> HealthReport:
    return HealthReport("t", healthy, failures, message, kill)


def test_combine_is_unknown_until_every_check_reported_and_none_failed() -> None:
    assert _health.combine("t", []) is None
    assert _health.combine("t", [None, None]) is None
    assert _health.combine("t", [_r(True, message="a ok"), None]) is None
    both = _health.combine("t", [_r(True, message="a ok"), _r(True, message="b ok")])
    assert both == HealthReport("t", True, 0, "a ok; b ok")


def test_combine_is_unhealthy_as_soon_as_one_check_fails() -> None:
    one = _health.combine("t", [None, _r(False, 1, "b down")])
    assert one == HealthReport("t", False, 1, "b down")
    worst = _health.combine("t", [_r(False, 2, "a down"), _r(True), _r(False, 5, "c down")])
    assert worst == HealthReport("t", False, 5, "c down")


def test_combine_kills_when_any_failing_check_calls_for_it() -> None:
    out = _health.combine("t", [_r(False, 3, "a dead", kill=True), _r(False, 4, "b down")])
    assert out is not None and out.kill and not out.healthy and out.consecutive_failures == 4
