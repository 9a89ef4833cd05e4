"""Health-check decisions as a pure state machine (Mesos' HealthChecker semantics).

`HealthState` + `on_result(state, spec, ok, now, message) -> (state, effects)`; the
runner in `_health_runner.py` does the I/O and feeds results in. Time is an input.

Rules (Mesos src/checks/health_checker.cpp):
- the first check runs `delay_seconds` after the task started, then every
  `interval_seconds`; a check that takes longer than `timeout_seconds` failed;
- failures within `grace_period_seconds` of the start are ignored until the first
  success (after a success the grace period is over);
- a counted failure makes the task unhealthy; after `max_consecutive_failures` in a
  row the task is to be killed; a success resets the count and makes it healthy.
Effects are emitted when health changes and when a kill is due.

A task with several checks (Marathon's ``healthChecks`` is a list) runs each on its own
and is healthy only when all of them are (`combine`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from actors.agent._spec import HealthCheckSpec, HealthReport


@dataclass(frozen=True)
class HealthState:
    started_at: float
    healthy: bool | None = None
    """None until the first counted result."""
    consecutive_failures: int = 0
    initializing: bool = True
    """True until the first success (grace period applies only then)."""
    checks_done: int = 0
    killed: bool = False


@dataclass(frozen=True)
class HealthEffect:
    healthy: bool
    consecutive_failures: int
    message: str
    kill: bool = False


def initial(now: float) -> HealthState:
    return HealthState(started_at=now)


def next_check_at(state: HealthState, spec: HealthCheckSpec, last_check_at: float | None) -> float:
    """When the runner should start the next check."""
    if last_check_at is None:
        return state.started_at + spec.delay_seconds
    return last_check_at + spec.interval_seconds


def on_result(
    state: HealthState,
    spec: HealthCheckSpec,
    ok: bool,
    now: float,
    message: str = "",
    duration: float = 0.0,
) -> tuple[HealthState, list[HealthEffect]]:
    """Fold one check result (finished at `now`, after `duration` s) into the state."""
    if state.killed:
        return state, []
    if ok and duration > spec.timeout_seconds:
        ok = False
        message = f"health check timed out after {spec.timeout_seconds:g}s"
    state = dataclasses.replace(state, checks_done=state.checks_done + 1)
    if ok:
        effects = []
        if state.healthy is not True:
            effects.append(HealthEffect(True, 0, message or "health check passed"))
        return dataclasses.replace(
            state, healthy=True, consecutive_failures=0, initializing=False
        ), effects
    if state.initializing and now - state.started_at <= spec.grace_period_seconds:
        return state, []
    failures = state.consecutive_failures + 1
    # 0 means never (Marathon's maxConsecutiveFailures, HealthCheckInfo's contract).
    kill = 0 < spec.max_consecutive_failures <= failures
    effects = []
    if state.healthy is not False or kill:
        effects.append(HealthEffect(False, failures, message or "health check failed", kill))
    return dataclasses.replace(
        state, healthy=False, consecutive_failures=failures, killed=kill
    ), effects


def combine(task_id: str, latest: Sequence[HealthReport | None]) -> HealthReport | None:
    """The task's health from the latest report of each of its checks (None: that check
    has not reported yet), as Marathon judges a task with several health checks.

    Unhealthy as soon as one check fails (the failing check with the most consecutive
    failures is the one reported; a kill due from any of them kills the task); healthy
    once every check has passed; None (unknown) while some have not reported and none
    has failed.
    """
    failing = [r for r in latest if r is not None and not r.healthy]
    if failing:
        worst = max(failing, key=lambda r: r.consecutive_failures)
        kill = any(r.kill for r in failing)
        return HealthReport(task_id, False, worst.consecutive_failures, worst.message, kill)
    if latest and all(r is not None for r in latest):
        messages = [r.message for r in latest if r is not None]
        return HealthReport(task_id, True, 0, "; ".join(messages))
    return None
