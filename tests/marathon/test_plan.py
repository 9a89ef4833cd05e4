"""Deployment planner: what to do, in which order, in /v2/deployments' shape."""

from __future__ import annotations

from typing import Any

import pytest

from actors.marathon import (
    AppDefinition,
    Group,
    ScaleApplication,
    ValidationFailed,
    plan_deployment,
)

V = "2024-01-01T00:00:00.000Z"


def root(*apps: dict[str, Any]) -> Group:
    group = Group()
    for raw in apps:
        group = group.put_app(AppDefinition.from_json({"cmd": "run", **raw}))
    return group


def shape(original: Group, target: Group, **kw: Any) -> list[list[tuple[str, str]]]:
    plan = plan_deployment(original, target, plan_id="p-1", version=V, **kw)
    return [[(a.action, a.app.id) for a in s.actions] for s in plan.steps]


def test_new_app_is_started() -> None:
    assert shape(root(), root({"id": "/a"})) == [[("StartApplication", "/a")]]


def test_instance_change_only_is_a_scale() -> None:
    """Marathon: a change of instances alone scales; it never restarts tasks."""
    plan = plan_deployment(
        root({"id": "/a"}), root({"id": "/a", "instances": 5}), plan_id="p", version=V
    )
    action = plan.steps[0].actions[0]
    assert isinstance(action, ScaleApplication)
    assert action.scale_from == 1 and action.app.instances == 5


def test_config_change_is_a_rolling_restart() -> None:
    assert shape(root({"id": "/a"}), root({"id": "/a", "cmd": "new"})) == [
        [("RestartApplication", "/a")]
    ]


def test_config_and_scale_change_together_is_a_restart() -> None:
    assert shape(root({"id": "/a"}), root({"id": "/a", "cmd": "new", "instances": 3})) == [
        [("RestartApplication", "/a")]
    ]


def test_unchanged_tree_needs_no_steps() -> None:
    plan = plan_deployment(root({"id": "/a"}), root({"id": "/a"}), plan_id="p", version=V)
    assert plan.is_empty and plan.to_json()["totalSteps"] == 0


def test_forced_restart_of_unchanged_app() -> None:
    """POST /v2/apps/{id}/restart restarts without a config change."""
    assert shape(root({"id": "/a"}), root({"id": "/a"}), restart={"/a"}) == [
        [("RestartApplication", "/a")]
    ]


CHAIN = (
    {"id": "/db"},
    {"id": "/api", "dependencies": ["/db"]},
    {"id": "/web", "dependencies": ["/api"]},
)


def test_new_apps_start_in_dependency_order() -> None:
    """Marathon docs: /a relies on /b relies on /c -> /c starts first, then /b, /a."""
    assert shape(root(), root(*CHAIN)) == [
        [("StartApplication", "/db")],
        [("StartApplication", "/api")],
        [("StartApplication", "/web")],
    ]


def test_removed_apps_stop_in_reverse_dependency_order() -> None:
    """Stops run dependents first so nothing loses what it depends on while running."""
    assert shape(root(*CHAIN), root()) == [
        [("StopApplication", "/web")],
        [("StopApplication", "/api")],
        [("StopApplication", "/db")],
    ]


def test_app_goes_after_its_changed_dependency() -> None:
    changed = ({"id": "/db", "cmd": "v2"}, {"id": "/api", "cmd": "v2", "dependencies": ["/db"]})
    assert shape(root(*CHAIN[:2]), root(*changed)) == [
        [("RestartApplication", "/db")],
        [("RestartApplication", "/api")],
    ]


def test_independent_apps_share_a_step_and_stops_come_first() -> None:
    original = root({"id": "/old"}, {"id": "/x"})
    target = root({"id": "/x", "instances": 2}, {"id": "/y"})
    assert shape(original, target) == [
        [("StopApplication", "/old")],
        [("ScaleApplication", "/x"), ("StartApplication", "/y")],
    ]


def test_cyclic_target_is_refused() -> None:
    target = root({"id": "/a", "dependencies": ["/b"]}, {"id": "/b", "dependencies": ["/a"]})
    with pytest.raises(ValidationFailed):
        plan_deployment(root(), target, plan_id="p", version=V)


def test_json_matches_v2_deployments() -> None:
    plan = plan_deployment(root(), root(*CHAIN[:2]), plan_id="p-1", version=V)
    body = plan.to_json(current_step=2)
    assert body == {
        "id": "p-1",
        "version": V,
        "affectedApps": ["/api", "/db"],
        "affectedPods": [],
        "steps": [
            {"actions": [{"action": "StartApplication", "app": "/db"}]},
            {"actions": [{"action": "StartApplication", "app": "/api"}]},
        ],
        "currentActions": [
            {"action": "StartApplication", "app": "/api", "readinessCheckResults": []}
        ],
        "currentStep": 2,
        "totalSteps": 2,
    }
