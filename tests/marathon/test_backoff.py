"""Marathon's side of the framework toolkit's launch backoff: an app's delay is keyed by
its last config change (``AppDefinition.backoff_key``). The backoff rules themselves are
tested once, in tests/framework/test_backoff.py."""

from __future__ import annotations

import actors.framework
from actors.marathon import AppDefinition, LaunchBackoff, stamp_version

V1 = "2024-01-01T00:00:00.000Z"
V2 = "2024-01-02T00:00:00.000Z"


def app(**extra: object) -> AppDefinition:
    return stamp_version(AppDefinition.from_json({"id": "/a", "cmd": "x", **extra}), None, V1)


def test_marathon_re_exports_the_toolkit_backoff_and_placement() -> None:
    import actors.marathon as marathon

    assert LaunchBackoff is actors.framework.LaunchBackoff
    for name in ("Agent", "Constraint", "Match", "match", "match_one"):
        assert getattr(marathon, name) is getattr(actors.framework, name), name


def test_config_change_resets_but_scaling_keeps_the_delay() -> None:
    """Marathon keys delays by the app's last config change, not by every version."""
    old = app(backoffSeconds=5)
    backoff = LaunchBackoff.for_app(old).task_failed(0.0)
    scaled = stamp_version(
        AppDefinition.from_json({"id": "/a", "cmd": "x", "backoffSeconds": 5, "instances": 3}),
        old,
        V2,
    )
    assert backoff.app_updated(scaled).is_delayed(1.0)
    changed = stamp_version(
        AppDefinition.from_json({"id": "/a", "cmd": "y", "backoffSeconds": 5}), old, V2
    )
    assert not backoff.app_updated(changed).is_delayed(1.0)
