"""The deployment planner: from the current root group to the wanted one.

`plan_deployment` is pure: it diffs two trees and orders the work so dependencies hold
at every step. Its result is what `GET /v2/deployments` shows and what the deployment
actor executes step by step (each step's actions run in parallel; a step starts only
when the previous one finished).

Ordering, as in Marathon's DeploymentPlan:
1. apps that disappear are stopped first, dependents before what they depend on
   (reverse dependency order of the *current* tree);
2. then, per dependency level of the *wanted* tree, new apps start, changed apps
   restart (rolling upgrade) and apps whose only change is `instances` scale. An app
   whose dependencies change therefore waits for them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from ._app import AppDefinition
from ._group import Group, dependency_levels
from ._pods import PodDefinition


@dataclass(frozen=True)
class DeploymentAction:
    """One thing to do to one app; `action` is Marathon's name for it in JSON."""

    action: ClassVar[str] = "DeploymentAction"
    app: AppDefinition

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.app, PodDefinition):  # Marathon's StartPod, ScalePod... {"pod": id}
            return {"action": self.action.replace("Application", "Pod"), "pod": self.app.id}
        return {"action": self.action, "app": self.app.id}


@dataclass(frozen=True)
class StartApplication(DeploymentAction):
    """A new app: launch `app.instances` instances."""

    action: ClassVar[str] = "StartApplication"


@dataclass(frozen=True)
class ScaleApplication(DeploymentAction):
    """Same config, new instance count: launch or kill the difference."""

    action: ClassVar[str] = "ScaleApplication"
    scale_from: int = 0


@dataclass(frozen=True)
class RestartApplication(DeploymentAction):
    """New config: replace every old instance, honouring `upgradeStrategy`."""

    action: ClassVar[str] = "RestartApplication"


@dataclass(frozen=True)
class StopApplication(DeploymentAction):
    """The app is gone from the wanted tree: kill all its instances."""

    action: ClassVar[str] = "StopApplication"


@dataclass(frozen=True)
class DeploymentStep:
    """Actions that may run in parallel."""

    actions: tuple[DeploymentAction, ...]

    def to_json(self) -> dict[str, Any]:
        return {"actions": [a.to_json() for a in self.actions]}


@dataclass(frozen=True)
class DeploymentPlan:
    """The ordered work to turn `original` into `target`."""

    id: str
    version: str
    original: Group
    target: Group
    steps: tuple[DeploymentStep, ...]

    @property
    def affected_apps(self) -> tuple[str, ...]:
        """Ids of apps touched by any step, sorted (Marathon's `affectedApps`)."""
        return tuple(sorted({a.app.id for s in self.steps for a in s.actions}))

    @property
    def affected_pods(self) -> tuple[str, ...]:
        """The pods among ``affected_apps`` (Marathon's ``affectedPods``)."""
        return tuple(
            sorted(
                {
                    a.app.id
                    for s in self.steps
                    for a in s.actions
                    if isinstance(a.app, PodDefinition)
                }
            )
        )

    @property
    def is_empty(self) -> bool:
        """True when the trees need no work (Marathon answers such a PUT with no plan)."""
        return not self.steps

    def to_json(self, current_step: int = 1) -> dict[str, Any]:
        """Marathon's `/v2/deployments` entry; `current_step` is 1-based."""
        current = (
            self.steps[current_step - 1].actions if 0 < current_step <= len(self.steps) else ()
        )
        return {
            "id": self.id,
            "version": self.version,
            "affectedApps": [a for a in self.affected_apps if a not in self.affected_pods],
            "affectedPods": list(self.affected_pods),
            "steps": [s.to_json() for s in self.steps],
            "currentActions": [{**a.to_json(), "readinessCheckResults": []} for a in current],
            "currentStep": current_step,
            "totalSteps": len(self.steps),
        }


def _level_of(levels: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {app_id: index for index, level in enumerate(levels) for app_id in level}


def plan_deployment(
    original: Group,
    target: Group,
    *,
    plan_id: str,
    version: str,
    restart: Collection[str] = (),
) -> DeploymentPlan:
    """Diff two root groups into an ordered `DeploymentPlan`.

    `plan_id` (a UUID) and `version` (the new root version) are given in so the planner
    stays deterministic. `restart` names apps to restart although their config did not
    change (`POST /v2/apps/{id}/restart`). A dependency cycle in `target` raises
    `ValidationFailed`.
    """
    before = original.transitive_apps()
    after = target.transitive_apps()
    target_levels = dependency_levels(target)
    original_levels = dependency_levels(original)

    steps: list[DeploymentStep] = []
    stop_level = _level_of(original_levels)
    removed = [a for a in before if a not in after]
    for depth in sorted({stop_level[a] for a in removed}, reverse=True):
        stops = tuple(StopApplication(before[a]) for a in sorted(removed) if stop_level[a] == depth)
        steps.append(DeploymentStep(stops))

    for level in target_levels:
        actions: list[DeploymentAction] = []
        for app_id in level:
            wanted = after[app_id]
            current = before.get(app_id)
            if current is None:
                actions.append(StartApplication(wanted))
            elif wanted.is_upgrade_of(current) or app_id in restart:
                actions.append(RestartApplication(wanted))
            elif wanted.instances != current.instances:
                actions.append(ScaleApplication(wanted, scale_from=current.instances))
        if actions:
            steps.append(DeploymentStep(tuple(actions)))

    return DeploymentPlan(
        id=plan_id, version=version, original=original, target=target, steps=tuple(steps)
    )
