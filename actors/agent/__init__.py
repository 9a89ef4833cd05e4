"""The agent's process-level half: containerizers, sandboxes, fetcher, health checks.

Plain classes with a threaded API that a task supervisor actor can drive:
`Containerizers(work_dir, ["mesos", "docker"]).launch(spec, None, on_update)`.
See README.md for the picture and the glossary.
"""

from actors.agent._base import TaskHandle
from actors.agent._checkpoint import read_checkpoints, remove_checkpoint, write_checkpoint
from actors.agent._facade import Containerizers
from actors.agent._fetcher import fetch
from actors.agent._health import HealthEffect, HealthState
from actors.agent._health_runner import HealthCheckRunner
from actors.agent._native import NativeContainerizer, NativeTask
from actors.agent._sandbox import Sandbox
from actors.agent._spec import (
    MIN_MEM_MB,
    TASK_ERROR,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_KILLED,
    TASK_RUNNING,
    TASK_STARTING,
    TERMINAL_STATES,
    AgentError,
    FetchError,
    HealthCheckSpec,
    HealthReport,
    LaunchError,
    PortMapping,
    RecoveredTask,
    TaskSpec,
    UriSpec,
    Usage,
    Volume,
)

__all__ = [
    "MIN_MEM_MB",
    "TASK_ERROR",
    "TASK_FAILED",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_RUNNING",
    "TASK_STARTING",
    "TERMINAL_STATES",
    "AgentError",
    "Containerizers",
    "FetchError",
    "HealthCheckRunner",
    "HealthCheckSpec",
    "HealthEffect",
    "HealthReport",
    "HealthState",
    "LaunchError",
    "NativeContainerizer",
    "NativeTask",
    "PortMapping",
    "RecoveredTask",
    "Sandbox",
    "TaskHandle",
    "TaskSpec",
    "UriSpec",
    "Usage",
    "Volume",
    "fetch",
    "read_checkpoints",
    "remove_checkpoint",
    "write_checkpoint",
]
