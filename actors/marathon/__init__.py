"""Marathon, the long-running service scheduler: the pure half.

App definitions (parse, validate, defaults, render, patch), groups and dependency
order, constraint matching, launch backoff, the deployment planner and the
rolling-upgrade step machine. No I/O, no threads, time passed in; the Marathon actor
and the REST API sit on top. See README.md for the map.
"""

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
from ._backoff import LaunchBackoff
from ._constraints import Agent, Constraint, Match, match, match_one
from ._errors import InvalidPath, MarathonError, ValidationFailed
from ._group import Group, app_dependencies, dependency_levels
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

__all__ = [
    "Agent",
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
    "FetchUri",
    "Group",
    "HealthCheck",
    "InvalidPath",
    "KillTasks",
    "LaunchBackoff",
    "LaunchTasks",
    "MarathonError",
    "Match",
    "NewTaskFailed",
    "NewTaskHealthy",
    "NewTaskRunning",
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
    "app_dependencies",
    "dependency_levels",
    "format_version",
    "kill_order",
    "match",
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
