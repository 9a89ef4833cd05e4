"""Marathon, the long-running service scheduler.

The pure half: app definitions (parse, validate, defaults, render, patch), groups and
dependency order, constraint matching, launch backoff, the deployment planner, the
rolling-upgrade step machine and ``MarathonCore``, the whole scheduler as a step machine
(events in, effects out; no I/O, time passed in). On top: ``MarathonActor`` (the shell
that carries the core's effects out: ZooKeeper, the scheduler driver, the event bus), its
REST API and ``MarathonService``, the leader service that runs both on the leading
master. See README.md for the map.

Names are imported lazily (PEP 562): ``import actors.marathon._plan`` or using
``actors.marathon.AppDefinition`` loads no aiohttp, kazoo or ZeroMQ; only the actor,
the service and the stores do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

_EXPORTS: dict[str, str] = {  # placement and backoff moved to the framework toolkit
    "MARATHON_ACTOR": "_messages",
    "ApiReply": "_messages",
    "ApiRequest": "_messages",
    "MarathonConfig": "_messages",
    "MarathonActor": "_actor",
    "MarathonCore": "_core",
    "Instance": "_instances",
    "OfferPlan": "_offers",
    "match_offers": "_offers",
    "AppDefinition": "_app",
    "Container": "_app",
    "DockerSpec": "_app",
    "FetchUri": "_app",
    "HealthCheck": "_app",
    "PortDefinition": "_app",
    "PortMapping": "_app",
    "UnreachableStrategy": "_app",
    "UpgradeStrategy": "_app",
    "VersionInfo": "_app",
    "Volume": "_app",
    "format_version": "_app",
    "patch_app": "_app",
    "stamp_version": "_app",
    "LaunchBackoff": "actors.framework",
    "Agent": "actors.framework",
    "Constraint": "actors.framework",
    "Match": "actors.framework",
    "match": "actors.framework",
    "match_one": "actors.framework",
    "InvalidPath": "_errors",
    "MarathonError": "_errors",
    "ValidationFailed": "_errors",
    "EVENT_TYPES": "_events",
    "EventBus": "_events",
    "Group": "_group",
    "app_dependencies": "_group",
    "dependency_levels": "_group",
    "normalize_path": "_paths",
    "DeploymentAction": "_plan",
    "DeploymentPlan": "_plan",
    "DeploymentStep": "_plan",
    "RestartApplication": "_plan",
    "ScaleApplication": "_plan",
    "StartApplication": "_plan",
    "StopApplication": "_plan",
    "plan_deployment": "_plan",
    "MarathonService": "_service",
    "MarathonStore": "_store",
    "MemoryMarathonStore": "_store",
    "ZkMarathonStore": "_store",
    "DeploymentActionFinished": "_upgrade",
    "Effect": "_upgrade",
    "Event": "_upgrade",
    "KillTasks": "_upgrade",
    "LaunchTasks": "_upgrade",
    "NewTaskFailed": "_upgrade",
    "NewTaskHealthy": "_upgrade",
    "NewTaskRunning": "_upgrade",
    "OldTaskTerminated": "_upgrade",
    "RestartState": "_upgrade",
    "TaskInfo": "_upgrade",
    "kill_order": "_upgrade",
    "restart_bounds": "_upgrade",
    "scale_effects": "_upgrade",
    "start_restart": "_upgrade",
    "step": "_upgrade",
    "waiting_reason": "_upgrade",
}
"""Public name -> the private module that defines it."""

__all__ = [
    "EVENT_TYPES",
    "MARATHON_ACTOR",
    "Agent",
    "ApiReply",
    "ApiRequest",
    "AppDefinition",
    "Constraint",
    "Container",
    "DeploymentAction",
    "DeploymentActionFinished",
    "DeploymentPlan",
    "DeploymentStep",
    "DockerSpec",
    "Effect",
    "Event",
    "EventBus",
    "FetchUri",
    "Group",
    "HealthCheck",
    "Instance",
    "InvalidPath",
    "KillTasks",
    "LaunchBackoff",
    "LaunchTasks",
    "MarathonActor",
    "MarathonConfig",
    "MarathonCore",
    "MarathonError",
    "MarathonService",
    "MarathonStore",
    "Match",
    "MemoryMarathonStore",
    "NewTaskFailed",
    "NewTaskHealthy",
    "NewTaskRunning",
    "OfferPlan",
    "OldTaskTerminated",
    "PortDefinition",
    "PortMapping",
    "RestartApplication",
    "RestartState",
    "ScaleApplication",
    "StartApplication",
    "StopApplication",
    "TaskInfo",
    "UnreachableStrategy",
    "UpgradeStrategy",
    "ValidationFailed",
    "VersionInfo",
    "Volume",
    "ZkMarathonStore",
    "app_dependencies",
    "dependency_levels",
    "format_version",
    "kill_order",
    "match",
    "match_offers",
    "match_one",
    "normalize_path",
    "patch_app",
    "plan_deployment",
    "restart_bounds",
    "scale_effects",
    "stamp_version",
    "start_restart",
    "step",
    "waiting_reason",
]

if TYPE_CHECKING:
    from actors.framework import Agent, Constraint, LaunchBackoff, Match, match, match_one

    from ._actor import MarathonActor
    from ._app import (
        AppDefinition,
        Container,
        DockerSpec,
        FetchUri,
        HealthCheck,
        PortDefinition,
        PortMapping,
        UnreachableStrategy,
        UpgradeStrategy,
        VersionInfo,
        Volume,
        format_version,
        patch_app,
        stamp_version,
    )
    from ._core import MarathonCore
    from ._errors import InvalidPath, MarathonError, ValidationFailed
    from ._events import EVENT_TYPES, EventBus
    from ._group import Group, app_dependencies, dependency_levels
    from ._instances import Instance
    from ._messages import MARATHON_ACTOR, ApiReply, ApiRequest, MarathonConfig
    from ._offers import OfferPlan, match_offers
    from ._paths import normalize_path
    from ._plan import (
        DeploymentAction,
        DeploymentPlan,
        DeploymentStep,
        RestartApplication,
        ScaleApplication,
        StartApplication,
        StopApplication,
        plan_deployment,
    )
    from ._service import MarathonService
    from ._store import MarathonStore, MemoryMarathonStore, ZkMarathonStore
    from ._upgrade import (
        DeploymentActionFinished,
        Effect,
        Event,
        KillTasks,
        LaunchTasks,
        NewTaskFailed,
        NewTaskHealthy,
        NewTaskRunning,
        OldTaskTerminated,
        RestartState,
        TaskInfo,
        kill_order,
        restart_bounds,
        scale_effects,
        start_restart,
        step,
        waiting_reason,
    )


__getattr__, __dir__ = lazy_exports(
    __name__,
    {n: m if m.startswith("actors.") else f".{m}" for n, m in _EXPORTS.items()},
)
