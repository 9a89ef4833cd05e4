"""Task descriptions, state names and small records shared by the containerizers.

Everything here is an immutable record so a task supervisor actor can pass it in
messages and a checkpoint can store it as JSON (`to_json` / `from_json`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors._validation import MIN_CPUS as _MIN_CPUS
from actors._validation import MIN_MEM_MB as _MIN_MEM_MB
from actors.agent._errors import AgentError
from actors.task_states import TaskState

# The states a containerizer reports, as the plain wire strings of the one TaskState enum
# (``actors.task_states``: the terminal set and the helpers live there only).
TASK_STARTING = TaskState.STARTING.value
TASK_RUNNING = TaskState.RUNNING.value
TASK_FINISHED = TaskState.FINISHED.value
TASK_FAILED = TaskState.FAILED.value
TASK_KILLED = TaskState.KILLED.value
TASK_ERROR = TaskState.ERROR.value

# Reasons, named as in Mesos' TaskStatus.Reason.
REASON_COMMAND_EXECUTOR_FAILED = "REASON_COMMAND_EXECUTOR_FAILED"
REASON_CONTAINER_LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
REASON_CONTAINER_LIMITATION_MEMORY = "REASON_CONTAINER_LIMITATION_MEMORY"
REASON_EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
REASON_TASK_INVALID = "REASON_TASK_INVALID"
REASON_TASK_HEALTH_CHECK_STATUS_UPDATED = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
REASON_FETCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"  # Mesos reports fetch failures so

MIN_MEM_MB = _MIN_MEM_MB
"""Mesos' MIN_MEMORY: a task asking for less is refused with TASK_ERROR (the one constant
Marathon and Metronome validate against too: actors/_validation.py)."""
MIN_CPUS = _MIN_CPUS
"""Mesos' MIN_CPUS, shared the same way."""

OnUpdate = Callable[[str, "str | None", str], None]
"""on_update(state, reason, message): called from a containerizer thread."""


class FetchError(AgentError):
    """A URI could not be fetched into the sandbox."""


class LaunchError(AgentError):
    """A task could not be started; the message says what and why."""


@dataclass(frozen=True)
class UriSpec:
    """One fetcher URI (Mesos CommandInfo.URI)."""

    uri: str
    """file://, http://, https:// or an absolute path."""
    executable: bool = False
    """chmod +x the fetched file."""
    extract: bool = True
    """unpack .tar.gz/.tgz/.tar/.zip archives into the sandbox (Mesos default: true)."""
    output_file: str | None = None
    """name inside the sandbox; default: the URI's basename."""


HealthCheckSpec = p.HealthCheckInfo
"""A health check the agent runs next to the task: the wire record itself."""
PortMapping = p.PortMapping
"""A Docker BRIDGE port mapping (the wire record); host_port 0 takes the next offered
port (``TaskSpec.resolved_port_mappings``)."""
Volume = p.VolumeInfo
"""A host-path volume (the wire record)."""


@dataclass(frozen=True)
class TaskSpec:
    """What to run. Resources follow Mesos units: cpus (shares), mem and disk in MB."""

    task_id: str
    command: str | None = None
    """run through /bin/sh -c (shell=true)."""
    args: tuple[str, ...] = ()
    """with command None: argv run directly (Docker: appended to the image entrypoint)."""
    container_type: str = "MESOS"
    """MESOS (native) or DOCKER."""
    image: str | None = None
    network: str = "HOST"
    """HOST or BRIDGE (Docker only)."""
    port_mappings: tuple[PortMapping, ...] = ()
    volumes: tuple[Volume, ...] = ()
    force_pull: bool = False
    cpus: float = 0.1
    mem: float = 32.0
    disk: float = 0.0
    ports: tuple[int, ...] = ()
    """host ports offered to and accepted for this task."""
    env: tuple[tuple[str, str], ...] = ()
    uris: tuple[UriSpec, ...] = ()
    health_checks: tuple[HealthCheckSpec, ...] = ()
    kill_grace_period: float = 3.0
    labels: tuple[tuple[str, str], ...] = ()
    named_ports: tuple[tuple[str, int], ...] = ()
    """(name, host port) of the task's named ports (``TaskInfo.discovery``), exported as
    ``PORT_<NAME>``."""
    user: str | None = None
    """Run as this Unix user (the task's own, or the agent's default user); None: as the
    agent's user. Native: switched to before exec (``_user``); Docker: ``--user``."""
    docker_volumes: tuple[tuple[str, str, str], ...] = ()
    """Docker named volumes (name, container path, ``rw``/``ro``): the ``volume`` docker
    parameters (``docker run --volume name:/path``); Docker only."""
    volume_driver: str | None = None
    """Their driver (the ``volume-driver`` docker parameter; None: ``local``)."""
    cpus_limit: float | None = None
    """The CPU quota's cpus (``TaskInfo.limits``): None = ``cpus`` (DC/OS' default hard
    CFS quota), ``math.inf`` = no quota (the task may burst while the host is idle)."""
    mem_limit: float | None = None
    """The memory limit in MB: None = ``mem``, ``math.inf`` = no limit."""

    def host_ports(self) -> tuple[int, ...]:
        """Ports the task uses on the host: mapped host ports in BRIDGE mode, else ports."""
        if self.container_type == "DOCKER" and self.network == "BRIDGE":
            # A port published for tcp and udp is two mappings but one port.
            return tuple(dict.fromkeys(m.host_port for m in self.resolved_port_mappings()))
        return self.ports

    def resolved_port_mappings(self) -> tuple[PortMapping, ...]:
        """Port mappings with host_port 0 replaced by the next unused offered port."""
        used = {m.host_port for m in self.port_mappings if m.host_port}
        free = [p for p in self.ports if p not in used]
        out = []
        for m in self.port_mappings:
            if m.host_port == 0:
                if not free:
                    raise LaunchError(
                        f"port mapping for container port {m.container_port} needs a host "
                        f"port but the task has no more offered ports ({list(self.ports)})"
                    )
                m = dataclasses.replace(m, host_port=free.pop(0))
            out.append(m)
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskSpec:
        """Inverse of ``to_json``; also reads checkpoints of agents before the typed task
        description, whose ``app_id`` (then exported as MARATHON_APP_ID, which Marathon
        now sends in the task's env itself) is dropped."""
        d = dict(d)
        d.pop("app_id", None)
        d["uris"] = tuple(UriSpec(**u) for u in d.get("uris", ()))
        d["health_checks"] = tuple(HealthCheckSpec(**h) for h in d.get("health_checks", ()))
        d["port_mappings"] = tuple(PortMapping(**p) for p in d.get("port_mappings", ()))
        d["volumes"] = tuple(Volume(**v) for v in d.get("volumes", ()))
        for key in ("env", "labels", "named_ports", "docker_volumes"):
            d[key] = tuple(tuple(kv) for kv in d.get(key, ()))
        d["args"] = tuple(d.get("args", ()))
        d["ports"] = tuple(d.get("ports", ()))
        return cls(**d)


@dataclass(frozen=True)
class Usage:
    """Resource usage of one task (Mesos ResourceStatistics, a subset)."""

    cpu_time_s: float
    """user + system CPU seconds since the task started."""
    mem_bytes: int
    """current memory use (cgroup memory usage or Docker stats)."""
    mem_limit_bytes: int | None = None
    cpus_limit: float | None = None


@dataclass(frozen=True)
class RecoveredTask:
    """The outcome of recover() for one checkpointed task."""

    task_id: str
    running: bool
    """True: reattached, `handle` watches it. False: it ended while the agent was away."""
    handle: Any = None
    state: str | None = None
    """terminal state for a task that is gone."""
    reason: str | None = None
    message: str = ""


@dataclass(frozen=True)
class HealthReport:
    """One health result worth a status update (Mesos TaskStatus.healthy)."""

    task_id: str
    healthy: bool
    consecutive_failures: int
    message: str
    kill: bool = False


OnHealth = Callable[[HealthReport], None]


@dataclass
class UpdateLog:
    """A thread-safe recorder of updates; handy for tests and the bench."""

    updates: list[tuple[str, str | None, str]] = field(default_factory=list)

    def __call__(self, state: str, reason: str | None, message: str) -> None:
        self.updates.append((state, reason, message))

    def states(self) -> list[str]:
        return [u[0] for u in list(self.updates)]
