"""Marathon, the long-running service scheduler.

The pure half: app definitions (parse, validate, defaults, render, patch), groups and
dependency order, constraint matching, launch backoff, the deployment planner and the
rolling-upgrade step machine (no I/O, time passed in). On top: ``MarathonActor`` (a
framework on the cluster manager, persisted in ZooKeeper), its REST API and
``MarathonService``, the leader service that runs both on the leading master. See
README.md for the map.
"""

from ._actor import (
    MARATHON_ACTOR,
    ApiReply,
    ApiRequest,
    Instance,
    MarathonActor,
    MarathonConfig,
)
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
from ._events import EVENT_TYPES, EventBus
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
    "MarathonError",
    "MarathonService",
    "MarathonStore",
    "Match",
    "MemoryMarathonStore",
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
    "ZkMarathonStore",
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
