"""An SDK readiness check is a COMMAND check with ``max_consecutive_failures=0``: it
reports readiness (and its loss) but never kills the task (HealthCheckInfo's "0: never",
Marathon's maxConsecutiveFailures 0). A ZooKeeper member briefly not ready during its
ensemble's re-election must not be killed for it."""

from __future__ import annotations

from actors.agent import HealthCheckSpec, _health


def test_zero_max_failures_reports_unready_but_never_kills() -> None:
    spec = HealthCheckSpec(
        grace_period_seconds=0,
        interval_seconds=1,
        timeout_seconds=1,
        max_consecutive_failures=0,
        delay_seconds=0,
    )
    s = _health.initial(0.0)
    s, effects = _health.on_result(s, spec, True, 1.0)
    assert [e.healthy for e in effects] == [True]
    for t in range(2, 50):
        s, effects = _health.on_result(s, spec, False, float(t))
        assert not any(e.kill for e in effects)
    assert s.healthy is False and not s.killed
