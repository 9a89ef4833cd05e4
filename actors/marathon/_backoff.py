"""Launch backoff: how long the launch queue waits before relaunching a failing app.

Without it a crash-looping app would relaunch as fast as offers arrive and fill agents'
disks with sandboxes. Marathon's rule (RateLimiter): the first failure delays the next
launch by `backoffSeconds`; each further consecutive failure multiplies the delay by
`backoffFactor`, capped at `maxLaunchDelaySeconds`. So after n consecutive failures the
delay is ``min(backoffSeconds * backoffFactor ** (n - 1), maxLaunchDelaySeconds)``.

The delay belongs to one app *configuration* (keyed by `lastConfigChangeAt`): a config
change starts afresh, a pure scale does not. It is also cleared when an instance runs
successfully and by `DELETE /v2/queue/{appId}/delay`. Time is an argument everywhere;
the actor owns the clock.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ._app import AppDefinition


def _config_key(app: AppDefinition) -> str | None:
    return app.version_info.last_config_change_at if app.version_info else app.version


@dataclass(frozen=True)
class LaunchBackoff:
    """The backoff state of one app; every transition returns a new value."""

    backoff_seconds: float
    factor: float
    max_launch_delay_seconds: float
    config_version: str | None = None
    failures: int = 0
    """Consecutive failed launches since the last reset."""
    deadline: float | None = None
    """Earliest moment of the next launch; None when not delayed."""

    @classmethod
    def for_app(cls, app: AppDefinition) -> LaunchBackoff:
        """A fresh, undelayed state with the app's backoff settings."""
        return cls(
            backoff_seconds=app.backoff_seconds,
            factor=app.backoff_factor,
            max_launch_delay_seconds=app.max_launch_delay_seconds,
            config_version=_config_key(app),
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

    def app_updated(self, app: AppDefinition) -> LaunchBackoff:
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
