"""Launch backoff: how long a framework waits before relaunching a failing task.

Without it a crash-looping app (or job) would relaunch as fast as offers arrive and fill
agents' disks with sandboxes. Marathon's rule (RateLimiter): the first failure delays the
next launch by `backoffSeconds`; each further consecutive failure multiplies the delay by
`backoffFactor`, capped at `maxLaunchDelaySeconds`. So after n consecutive failures the
delay is ``min(backoffSeconds * backoffFactor ** (n - 1), maxLaunchDelaySeconds)``.
Metronome's ON_FAILURE restarts use the same rule with the job's ``maxLaunchDelay``.

The delay belongs to one *configuration* (``backoff_key``; Marathon: the app's
`lastConfigChangeAt`): a config change starts afresh, a pure scale does not. It is also
cleared when an instance runs successfully and by `DELETE /v2/queue/{appId}/delay`.
Time is an argument everywhere; the actor owns the clock.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Protocol

from actors.framework._errors import InvalidSpec


class BackoffSettings(Protocol):
    """What ``LaunchBackoff.for_app`` reads of an app (Marathon's ``AppDefinition``)."""

    @property
    def backoff_seconds(self) -> float: ...

    @property
    def backoff_factor(self) -> float: ...

    @property
    def max_launch_delay_seconds(self) -> float: ...

    @property
    def backoff_key(self) -> str | None:
        """The configuration a delay belongs to: a new key starts afresh."""
        ...


@dataclass(frozen=True)
class LaunchBackoff:
    """The backoff state of one app; every transition returns a new value."""

    backoff_seconds: float
    factor: float
    max_launch_delay_seconds: float
    config_version: str | None = None
    """The ``backoff_key`` of the configuration this delay belongs to."""
    failures: int = 0
    """Consecutive failed launches since the last reset."""
    deadline: float | None = None
    """Earliest moment of the next launch; None when not delayed."""

    def __post_init__(self) -> None:
        for name in ("backoff_seconds", "factor", "max_launch_delay_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InvalidSpec(f"LaunchBackoff.{name} must be a number >= 0, got {value!r}")

    @classmethod
    def for_app(cls, app: BackoffSettings) -> LaunchBackoff:
        """A fresh, undelayed state with the app's backoff settings."""
        return cls(
            backoff_seconds=app.backoff_seconds,
            factor=app.backoff_factor,
            max_launch_delay_seconds=app.max_launch_delay_seconds,
            config_version=app.backoff_key,
        )

    def delay_after(self, failures: int) -> float:
        """Delay in seconds after `failures` consecutive failures (0 -> no delay)."""
        if failures <= 0:
            return 0.0
        # Compare in log space: factor ** n overflows long before a real app gives up.
        if self.factor > 1 and self.backoff_seconds > 0:
            exponent = (failures - 1) * math.log(self.factor)
            if exponent + math.log(self.backoff_seconds) >= math.log(
                max(self.max_launch_delay_seconds, 1e-300)
            ):
                return self.max_launch_delay_seconds
        return min(
            self.backoff_seconds * self.factor ** (failures - 1), self.max_launch_delay_seconds
        )

    @property
    def delay_seconds(self) -> float:
        """The delay the current failure streak imposes."""
        return self.delay_after(self.failures)

    def task_failed(self, now: float) -> LaunchBackoff:
        """An instance failed (or was killed for failing health checks): back off more."""
        failures = self.failures + 1
        return dataclasses.replace(
            self, failures=failures, deadline=now + self.delay_after(failures)
        )

    def task_running(self) -> LaunchBackoff:
        """An instance is running (healthy, if checked): the app is not crash-looping."""
        return self.reset()

    def reset(self) -> LaunchBackoff:
        """Clear the delay (`DELETE /v2/queue/{appId}/delay`, restart deployments)."""
        return dataclasses.replace(self, failures=0, deadline=None)

    def app_updated(self, app: BackoffSettings) -> LaunchBackoff:
        """Follow an app update: a new config starts afresh, a scale keeps the delay.

        New backoff settings apply from now on in either case.
        """
        fresh = LaunchBackoff.for_app(app)
        if fresh.config_version != self.config_version:
            return fresh
        return dataclasses.replace(
            self,
            backoff_seconds=fresh.backoff_seconds,
            factor=fresh.factor,
            max_launch_delay_seconds=fresh.max_launch_delay_seconds,
        )

    def next_launch_at(self, now: float) -> float:
        """When the launch queue may launch again: now, or the backoff deadline."""
        return now if self.deadline is None else max(now, self.deadline)

    def is_delayed(self, now: float) -> bool:
        """True while the backoff deadline lies in the future."""
        return self.deadline is not None and self.deadline > now

    def to_json(self, now: float) -> dict[str, Any]:
        """The `delay` object of `GET /v2/queue`: time left and whether it is over."""
        left = 0.0 if self.deadline is None else max(0.0, self.deadline - now)
        return {"timeLeftSeconds": math.ceil(left), "overdue": left == 0.0}
