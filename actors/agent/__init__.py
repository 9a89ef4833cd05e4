"""The agent: its actor, its process, and the containerizers that run its tasks.

Plain classes with a threaded API that a task supervisor actor can drive:
`Containerizers(work_dir, ["mesos", "docker"]).launch(spec, None, on_update)`.
See README.md for the picture and the glossary.

Everything other packages (console, bench, tests) use is exported here. Names are
imported lazily (PEP 562): importing ``actors.agent`` or one of its pure modules
(``_spec``, ``_health``, ``_gc``, ``_task_store``) does not load the Docker client, psutil
or the agent actor; the first use of a name loads its module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

_EXPORTS: dict[str, str] = {
    # errors (one root)
    "AgentError": "_errors",
    "FetchError": "_spec",
    "LaunchError": "_spec",
    "SpecError": "_runner",
    "DockerDaemonError": "_dockerd",
    "UserError": "_user",
    "ImageError": "_layers",
    # task description and records
    "MIN_CPUS": "_spec",
    "MIN_MEM_MB": "_spec",
    "TASK_ERROR": "_spec",
    "TASK_FAILED": "_spec",
    "TASK_FINISHED": "_spec",
    "TASK_KILLED": "_spec",
    "TASK_RUNNING": "_spec",
    "TASK_STARTING": "_spec",
    "REASON_COMMAND_EXECUTOR_FAILED": "_spec",
    "REASON_CONTAINER_LAUNCH_FAILED": "_spec",
    "REASON_CONTAINER_LIMITATION_MEMORY": "_spec",
    "REASON_EXECUTOR_TERMINATED": "_spec",
    "REASON_TASK_INVALID": "_spec",
    "HealthCheckSpec": "_spec",
    "HealthReport": "_spec",
    "PortMapping": "_spec",
    "RecoveredTask": "_spec",
    "TaskSpec": "_spec",
    "UpdateLog": "_spec",
    "UriSpec": "_spec",
    "Usage": "_spec",
    "Volume": "_spec",
    "task_spec": "_runner",
    "validate_spec": "_base",
    # containerizers, sandboxes, health
    "Containerizers": "_facade",
    "NativeContainerizer": "_native",
    "NativeTask": "_native",
    "DockerContainerizer": "_docker",
    "LABEL_AGENT": "_docker",
    "LABEL_TASK": "_docker",
    "DockerDaemon": "_dockerd",
    "TEST_IMAGE": "_dockerd",
    "TaskHandle": "_base",
    "Sandbox": "_sandbox",
    "copytruncate": "_sandbox",
    "fetch": "_fetcher",
    "HealthEffect": "_health",
    "HealthState": "_health",
    "HealthCheckRunner": "_health_runner",
    "Cgroup": "_cgroups",
    "CGROUP_ROOT": "_cgroups",
    # the universal runtime's image store (issue 19)
    "IMAGE_REGISTRY_ENV": "_images",
    "ImageConfig": "_images",
    "ImageStore": "_images",
    "Rootfs": "_images",
    "import_image": "_images",
    "inspect_image": "_images",
    "list_images": "_images",
    "normalize_name": "_images",
    "parse_reference": "_images",
    "remove_image": "_images",
    "release_image_roots": "_images",
    # checkpoints and recovery
    "atomic_write_json": "_checkpoint",
    "checkpoint_dir": "_checkpoint",
    "read_checkpoints": "_checkpoint",
    "remove_checkpoint": "_checkpoint",
    "write_checkpoint": "_checkpoint",
    "StoredTask": "_task_store",
    "TaskStore": "_task_store",
    "plan_recovery": "_task_store",
    "DEFAULT_GC_DELAY": "_gc",
    "DEFAULT_GC_DISK_HEADROOM": "_gc",
    # the actor and the process
    "AGENT_ACTOR": "_agent_actor",
    "AgentActor": "_agent_actor",
    "GetAgentState": "_agent_actor",
    "GetUsage": "_agent_actor",
    "SimulatedRunner": "_agent_actor",
    "TaskRunner": "_agent_actor",
    "ContainerRunner": "_runner",
    "TASKS_SUPERVISOR": "_runner",
    "TaskSupervisor": "_task_supervisor",
    "AgentOptions": "_process",
    "AgentProcess": "_process",
    "check_default_user": "_process",
    "default_resources": "_process",
    "default_task_user": "_process",
    "parse_agent_attributes": "_process",
    "check_checkpointed_resources": "_volumes",
    "VolumeBook": "_volumes",
    "volume_path": "_volumes",
    "parse_docker_volume": "_volumes",
}
"""Public name -> the private module defining it."""

_RENAMED = {"validate_spec": "validate", "release_image_roots": "release_all"}
"""Public names that differ from the name in their module."""

__all__ = [
    "AGENT_ACTOR",
    "CGROUP_ROOT",
    "DEFAULT_GC_DELAY",
    "DEFAULT_GC_DISK_HEADROOM",
    "IMAGE_REGISTRY_ENV",
    "LABEL_AGENT",
    "LABEL_TASK",
    "MIN_CPUS",
    "MIN_MEM_MB",
    "REASON_COMMAND_EXECUTOR_FAILED",
    "REASON_CONTAINER_LAUNCH_FAILED",
    "REASON_CONTAINER_LIMITATION_MEMORY",
    "REASON_EXECUTOR_TERMINATED",
    "REASON_TASK_INVALID",
    "TASKS_SUPERVISOR",
    "TASK_ERROR",
    "TASK_FAILED",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_RUNNING",
    "TASK_STARTING",
    "TEST_IMAGE",
    "AgentActor",
    "AgentError",
    "AgentOptions",
    "AgentProcess",
    "Cgroup",
    "ContainerRunner",
    "Containerizers",
    "DockerContainerizer",
    "DockerDaemon",
    "DockerDaemonError",
    "FetchError",
    "GetAgentState",
    "GetUsage",
    "HealthCheckRunner",
    "HealthCheckSpec",
    "HealthEffect",
    "HealthReport",
    "HealthState",
    "ImageConfig",
    "ImageError",
    "ImageStore",
    "LaunchError",
    "NativeContainerizer",
    "NativeTask",
    "PortMapping",
    "RecoveredTask",
    "Rootfs",
    "Sandbox",
    "SimulatedRunner",
    "SpecError",
    "StoredTask",
    "TaskHandle",
    "TaskRunner",
    "TaskSpec",
    "TaskStore",
    "TaskSupervisor",
    "UpdateLog",
    "UriSpec",
    "Usage",
    "UserError",
    "Volume",
    "VolumeBook",
    "atomic_write_json",
    "check_checkpointed_resources",
    "check_default_user",
    "checkpoint_dir",
    "copytruncate",
    "default_resources",
    "default_task_user",
    "fetch",
    "import_image",
    "inspect_image",
    "list_images",
    "normalize_name",
    "parse_agent_attributes",
    "parse_docker_volume",
    "parse_reference",
    "plan_recovery",
    "read_checkpoints",
    "release_image_roots",
    "remove_checkpoint",
    "remove_image",
    "task_spec",
    "validate_spec",
    "volume_path",
    "write_checkpoint",
]


__getattr__, __dir__ = lazy_exports(
    __name__, {name: f".{module}" for name, module in _EXPORTS.items()}, _RENAMED
)


if TYPE_CHECKING:  # the static view of the lazy names above
    from actors.agent._agent_actor import (
        AGENT_ACTOR,
        AgentActor,
        GetAgentState,
        GetUsage,
        SimulatedRunner,
        TaskRunner,
    )
    from actors.agent._base import TaskHandle
    from actors.agent._base import validate as validate_spec
    from actors.agent._cgroups import CGROUP_ROOT, Cgroup
    from actors.agent._checkpoint import (
        atomic_write_json,
        checkpoint_dir,
        read_checkpoints,
        remove_checkpoint,
        write_checkpoint,
    )
    from actors.agent._docker import LABEL_AGENT, LABEL_TASK, DockerContainerizer
    from actors.agent._dockerd import TEST_IMAGE, DockerDaemon, DockerDaemonError
    from actors.agent._errors import AgentError
    from actors.agent._facade import Containerizers
    from actors.agent._fetcher import fetch
    from actors.agent._gc import DEFAULT_GC_DELAY, DEFAULT_GC_DISK_HEADROOM
    from actors.agent._health import HealthEffect, HealthState
    from actors.agent._health_runner import HealthCheckRunner
    from actors.agent._images import (
        IMAGE_REGISTRY_ENV,
        ImageConfig,
        ImageStore,
        Rootfs,
        import_image,
        inspect_image,
        list_images,
        normalize_name,
        parse_reference,
        remove_image,
    )
    from actors.agent._images import release_all as release_image_roots
    from actors.agent._layers import ImageError
    from actors.agent._native import NativeContainerizer, NativeTask
    from actors.agent._process import (
        AgentOptions,
        AgentProcess,
        check_default_user,
        default_resources,
        default_task_user,
        parse_agent_attributes,
    )
    from actors.agent._runner import TASKS_SUPERVISOR, ContainerRunner, SpecError, task_spec
    from actors.agent._sandbox import Sandbox, copytruncate
    from actors.agent._spec import (
        MIN_CPUS,
        MIN_MEM_MB,
        REASON_COMMAND_EXECUTOR_FAILED,
        REASON_CONTAINER_LAUNCH_FAILED,
        REASON_CONTAINER_LIMITATION_MEMORY,
        REASON_EXECUTOR_TERMINATED,
        REASON_TASK_INVALID,
        TASK_ERROR,
        TASK_FAILED,
        TASK_FINISHED,
        TASK_KILLED,
        TASK_RUNNING,
        TASK_STARTING,
        FetchError,
        HealthCheckSpec,
        HealthReport,
        LaunchError,
        PortMapping,
        RecoveredTask,
        TaskSpec,
        UpdateLog,
        UriSpec,
        Usage,
        Volume,
    )
    from actors.agent._task_store import StoredTask, TaskStore, plan_recovery
    from actors.agent._task_supervisor import TaskSupervisor
    from actors.agent._user import UserError
