"""Launch backoff on a manual clock (Marathon's RateLimiter rules), for any framework."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from actors.framework import LaunchBackoff


@dataclass(frozen=True)
class Settings:
    """What an app offers the backoff: its three settings and its config key."""

    backoff_seconds: float = 1.0
    backoff_factor: float = 1.15
    max_launch_delay_seconds: float = 300.0
    backoff_key: str | None = "v1"


def app(**extra: Any) -> Settings:
    names = {
        "backoffSeconds": "backoff_seconds",
        "backoffFactor": "backoff_factor",
        "maxLaunchDelaySeconds": "max_launch_delay_seconds",
    }
    return Settings(**{names[k]: v for k, v in extra.items()})


def test_no_failure_no_delay() -> None:
    backoff = LaunchBackoff.for_app(app())
    assert backoff.next_launch_at(100.0) == 100.0
    assert not backoff.is_delayed(100.0)
    assert backoff.to_json(100.0) == {"timeLeftSeconds": 0, "overdue": True}


def test_delay_grows_by_factor_per_consecutive_failure() -> None:
    """Marathon docs: the backoff period is multiplied by the factor for each
    consecutive failure until it reaches maxLaunchDelaySeconds."""
    backoff = LaunchBackoff.for_app(app(backoffSeconds=2, backoffFactor=2))
    now = 0.0
    delays = []
    for _ in range(4):
        backoff = backoff.task_failed(now)
        delays.append(backoff.next_launch_at(now) - now)
    assert delays == [2, 4, 8, 16]


def test_delay_is_capped_by_max_launch_delay() -> None:
    backoff = LaunchBackoff.for_app(
        app(backoffSeconds=10, backoffFactor=3, maxLaunchDelaySeconds=60)
    )
    for _ in range(5):
        backoff = backoff.task_failed(0.0)
    assert backoff.delay_seconds == 60
    assert backoff.delay_after(10_000) == 60  # no float overflow on long streaks


def test_default_sequence_is_one_second_times_1_15() -> None:
    backoff = LaunchBackoff.for_app(app())
    assert [round(backoff.delay_after(n), 4) for n in (1, 2, 3)] == [1.0, 1.15, 1.3225]


def test_manual_clock_reaches_the_deadline() -> None:
    backoff = LaunchBackoff.for_app(app(backoffSeconds=5)).task_failed(10.0)
    assert backoff.is_delayed(12.0)
    assert backoff.to_json(12.0) == {"timeLeftSeconds": 3, "overdue": False}
    assert backoff.next_launch_at(12.0) == 15.0
    assert not backoff.is_delayed(15.0)
    assert backoff.next_launch_at(20.0) == 20.0


@pytest.mark.parametrize("how", ["task_running", "reset"])
def test_success_or_delete_delay_resets(how: str) -> None:
    """Marathon: DELETE /v2/queue/{appId}/delay resets; so does a running instance."""
    backoff = LaunchBackoff.for_app(app()).task_failed(0.0).task_failed(1.0)
    backoff = getattr(backoff, how)()
    assert backoff.failures == 0 and not backoff.is_delayed(1.0)
    assert backoff.task_failed(2.0).next_launch_at(2.0) == 3.0  # starts over at 1 s


def test_config_change_resets_but_scaling_keeps_the_delay() -> None:
    """Marathon keys delays by the app's last config change, not by every version."""
    backoff = LaunchBackoff.for_app(Settings(backoff_seconds=5)).task_failed(0.0)
    assert backoff.app_updated(Settings(backoff_seconds=5)).is_delayed(1.0)
    rescaled = backoff.app_updated(Settings(backoff_seconds=7))
    assert rescaled.is_delayed(1.0) and rescaled.backoff_seconds == 7
    assert not backoff.app_updated(Settings(backoff_seconds=5, backoff_key="v2")).is_delayed(1.0)


def test_metronome_uses_the_rule_without_an_app() -> None:
    """A job's restart policy: the same rule, its maxLaunchDelay as the cap."""
    backoff = LaunchBackoff(backoff_seconds=1.0, factor=2.0, max_launch_delay_seconds=3.0)
    assert [backoff.delay_after(n) for n in (0, 1, 2, 3)] == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("field", ["backoff_seconds", "factor", "max_launch_delay_seconds"])
def test_a_negative_setting_names_the_field(field: str) -> None:
    kwargs = {"backoff_seconds": 1.0, "factor": 1.0, "max_launch_delay_seconds": 1.0, field: -1}
    with pytest.raises(ValueError, match=f"LaunchBackoff.{field}"):
        LaunchBackoff(**kwargs)
