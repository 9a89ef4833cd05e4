"""The cluster manager's wire protocol: what agents, masters and frameworks say to each other.

Shaped after Mesos' v1 scheduler and agent APIs (calls SUBSCRIBE, ACCEPT, DECLINE, REVIVE,
SUPPRESS, KILL, ACKNOWLEDGE, RECONCILE, TEARDOWN; events SUBSCRIBED, OFFERS, RESCIND,
UPDATE, ERROR, FAILURE), but carried as actor messages over the transport instead of
HTTP streams.

Every record is a frozen dataclass whose fields are msgpack-friendly (str, int, float,
bool, None, list, dict, nested records), so one codec can carry all of them. Resources
travel as the plain dict form of ``actors.resources.Resources`` and are parsed (and so
validated) at the receiving edge: the master never trusts a peer's arithmetic.

Delivery is at-most-once. Handlers are idempotent; what must not be lost (status
updates) is acknowledged end to end and resent by the agent until acknowledged.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from runtime import register_message
from transport import codec as _transport_codec

# --------------------------------------------------------------------------------------
# Shared records
#
# The typed task description. Each record checks in ``__post_init__`` the values the
# agent acts on, so a bad value fails where it is built (a framework's bug surfaces in
# the framework) or, on the wire, as a ``DecodeError`` naming the field; the agent never
# meets a misspelt key or an unknown network on another machine.

CONTAINER_TYPES = ("MESOS", "DOCKER")
"""``ContainerInfo.type``: native (cgroups) or Docker."""
NETWORK_MODES = ("HOST", "BRIDGE", "NONE", "USER")
"""``ContainerInfo.network``; the agent runs HOST and BRIDGE and fails others as
TASK_ERROR naming the network (Marathon accepts all four, as Mesos' NetworkInfo)."""
VOLUME_MODES = ("RW", "RO")
"""``VolumeInfo.mode``."""
PORT_PROTOCOLS = ("tcp", "udp")
"""``PortMapping.protocol`` and ``DiscoveryPort.protocol``."""
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")
"""``HealthCheckInfo.protocol`` (Marathon's names; ``MESOS_`` ones are aliases)."""


class TaskDescriptionError(ValueError):
    """A task-description field holds a value the agent cannot act on; names both."""


LIMIT_KEYS = ("cpus", "mem")
"""The resources a task may carry limits for (Mesos: cpus and mem only)."""


def limits_problem(
    limits: object, requested: dict[str, float] | None = None
) -> tuple[str, str] | None:
    """Why ``limits`` (``{"cpus"|"mem": number or math.inf}``) are not valid task
    limits, as (key, message), or None. With ``requested`` (the task's own cpus/mem),
    each limit must also be >= its request, as Mesos' and Marathon's validation."""
    if not isinstance(limits, dict):
        return "", f"{limits!r:.60} is not a mapping"
    for key, value in limits.items():
        if key not in LIMIT_KEYS:
            return str(key), f"{key!r:.40} is not one of {', '.join(LIMIT_KEYS)}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            return key, f"{value!r:.60} must be a number >= 0 or unlimited"
        want = (requested or {}).get(key)
        if want is not None and value < want:
            return key, f"{value!r:.60} is below the requested {key} {want:g}"
    return None


def _one_of(where: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise TaskDescriptionError(f"{where}: {value!r:.60} is not one of {', '.join(allowed)}")


def _port(where: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or not 0 <= value <= 65535:
        raise TaskDescriptionError(f"{where}: {value!r:.60} is not a port number (0..65535)")


def _text(where: str, value: object) -> None:
    if type(value) is not str or not value:
        raise TaskDescriptionError(f"{where}: {value!r:.60} must be a non-empty string")


def _not_negative(where: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise TaskDescriptionError(f"{where}: {value!r:.60} must be a number >= 0")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One ``docker run --key=value`` option (Mesos' DockerInfo.Parameter)."""

    key: str
    """The option name without dashes (``memory-swap``)."""
    value: str
    """Its value."""

    def __post_init__(self) -> None:
        _text("Parameter.key", self.key)


@dataclass(frozen=True, slots=True)
class DockerInfo:
    """The Docker part of a container (Mesos' ContainerInfo.DockerInfo)."""

    image: str
    """The image to run (``busybox:1.36``)."""
    privileged: bool = False
    """Run the container privileged."""
    parameters: list[Parameter] = field(default_factory=list)
    """Extra ``docker run`` options."""
    force_pull_image: bool = False
    """Pull the image even when the agent has it."""

    def __post_init__(self) -> None:
        _text("DockerInfo.image", self.image)


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A container port published on a host port (BRIDGE networking)."""

    container_port: int
    """The port inside the container; 0 means "the same as host_port"."""
    host_port: int
    """The host port (one of the task's offered ports; 0: the next unused one)."""
    protocol: str = "tcp"
    """``tcp`` or ``udp`` (a ``tcp,udp`` port is two mappings)."""
    name: str | None = None
    """The port's name, for discovery."""

    def __post_init__(self) -> None:
        _port("PortMapping.container_port", self.container_port)
        _port("PortMapping.host_port", self.host_port)
        _one_of("PortMapping.protocol", self.protocol, PORT_PROTOCOLS)


def volume_problem(container_path: str, host_path: str) -> tuple[str, str] | None:
    """Why a host-path volume may not be mounted, as (field, message), or None.

    Mesos' rules: a relative ``container_path`` is a path in the task's sandbox and a
    relative ``host_path`` a directory of the sandbox (a sandbox volume); neither may
    leave the sandbox (``..``), and no volume may cover the sandbox itself or the root.
    Absolute host paths are the operator's business, as in Mesos and Docker."""
    for name, value in (("container_path", container_path), ("host_path", host_path)):
        if "\0" in value:
            return name, f"{value!r:.80} contains a NUL byte"
        norm = posixpath.normpath(value)
        if value.startswith("/"):
            if name == "container_path" and norm == "/":
                return name, "'/' would cover the container's whole filesystem"
        elif norm == "." and name == "container_path":
            return name, f"{value!r:.80} is the sandbox itself: name a path inside it"
        elif norm == ".." or norm.startswith("../"):
            return name, f"{value!r:.80} escapes the sandbox (relative paths stay inside it)"
    return None


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """A host path mounted into the task's container (Mesos' Volume, host-path kind)."""

    container_path: str
    """Where it appears inside the container; relative: inside the task's sandbox."""
    host_path: str
    """The file or directory on the agent's host; relative: inside the task's sandbox."""
    mode: str = "RW"
    """``RW`` or ``RO``."""

    def __post_init__(self) -> None:
        _text("VolumeInfo.container_path", self.container_path)
        _text("VolumeInfo.host_path", self.host_path)
        _one_of("VolumeInfo.mode", self.mode, VOLUME_MODES)
        bad = volume_problem(self.container_path, self.host_path)
        if bad is not None:
            raise TaskDescriptionError(f"VolumeInfo.{bad[0]}: {bad[1]}")


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """How a task is contained (Mesos' ContainerInfo)."""

    type: str = "MESOS"
    """``MESOS`` (native, cgroups) or ``DOCKER``."""
    network: str = "HOST"
    """``HOST``, ``BRIDGE``, ``NONE`` or ``USER``."""
    docker: DockerInfo | None = None
    """The image and Docker options; required when type is DOCKER."""
    port_mappings: list[PortMapping] = field(default_factory=list)
    """Published ports (BRIDGE)."""
    volumes: list[VolumeInfo] = field(default_factory=list)
    """Host paths mounted into the container."""

    def __post_init__(self) -> None:
        _one_of("ContainerInfo.type", self.type, CONTAINER_TYPES)
        _one_of("ContainerInfo.network", self.network, NETWORK_MODES)
        if self.type == "DOCKER" and self.docker is None:
            raise TaskDescriptionError("ContainerInfo.docker: required when type is DOCKER")


@dataclass(frozen=True, slots=True)
class UriInfo:
    """One file the fetcher puts into the sandbox (Mesos' CommandInfo.URI)."""

    value: str
    """``file://``, ``http://``, ``https://`` or an absolute path."""
    executable: bool = False
    """``chmod +x`` the fetched file."""
    extract: bool = True
    """Unpack ``.tar.gz``/``.tgz``/``.tar``/``.zip`` archives into the sandbox."""

    def __post_init__(self) -> None:
        _text("UriInfo.value", self.value)


@dataclass(frozen=True, slots=True)
class HealthCheckInfo:
    """A health check the agent runs next to the task (Marathon's healthChecks entry)."""

    protocol: str = "HTTP"
    """HTTP, HTTPS, TCP or COMMAND (``MESOS_HTTP``, ``MESOS_HTTPS``, ``MESOS_TCP`` alias)."""
    path: str = "/"
    """The HTTP path."""
    port_index: int | None = 0
    """Index into the task's host ports."""
    port: int | None = None
    """A fixed host port; wins over port_index."""
    command: str | None = None
    """The shell command of a COMMAND check; exit 0 is healthy."""
    grace_period_seconds: float = 300.0
    """Failures in this window after the task starts do not count."""
    interval_seconds: float = 60.0
    """Seconds between checks."""
    timeout_seconds: float = 20.0
    """A check taking longer fails."""
    max_consecutive_failures: int = 3
    """The task is killed after this many failures in a row (0: never)."""
    delay_seconds: float = 15.0
    """Seconds before the first check."""

    def __post_init__(self) -> None:
        _one_of("HealthCheckInfo.protocol", self.protocol, HEALTH_PROTOCOLS)
        if self.port_index is not None and (
            type(self.port_index) is not int or self.port_index < 0
        ):
            raise TaskDescriptionError(
                f"HealthCheckInfo.port_index: {self.port_index!r:.60} must be an int >= 0"
            )
        _port("HealthCheckInfo.port", self.port, optional=True)
        if self.protocol == "COMMAND" and not self.command:
            raise TaskDescriptionError("HealthCheckInfo.command: required for COMMAND checks")
        for name in ("grace_period_seconds", "interval_seconds", "timeout_seconds"):
            _not_negative(f"HealthCheckInfo.{name}", getattr(self, name))
        _not_negative("HealthCheckInfo.delay_seconds", self.delay_seconds)
        if type(self.max_consecutive_failures) is not int or self.max_consecutive_failures < 0:
            raise TaskDescriptionError(
                "HealthCheckInfo.max_consecutive_failures: "
                f"{self.max_consecutive_failures!r:.60} must be an int >= 0"
            )


@dataclass(frozen=True, slots=True)
class DiscoveryPort:
    """One named port of a task (Mesos' DiscoveryInfo Port)."""

    number: int
    """The host port."""
    name: str | None = None
    """Its name; the agent exports it as ``PORT_<NAME>``."""
    protocol: str = "tcp"
    """``tcp`` or ``udp``."""
    labels: dict[str, str] = field(default_factory=dict)
    """The port's labels (Marathon's ``portDefinitions[].labels``, e.g.
    ``{"VIP_0": "/web:80"}``): the load balancer reads its VIPs from them."""

    def __post_init__(self) -> None:
        _port("DiscoveryPort.number", self.number)
        _one_of("DiscoveryPort.protocol", self.protocol, PORT_PROTOCOLS)
        for key, value in self.labels.items():
            if type(key) is not str or type(value) is not str:
                raise TaskDescriptionError(
                    f"DiscoveryPort.labels: {key!r:.60}={value!r:.60} must map text to text"
                )


@dataclass(frozen=True, slots=True)
class DiscoveryInfo:
    """How a task is found (Mesos' DiscoveryInfo; Mesos-DNS reads it)."""

    name: str
    """The service name."""
    ports: list[DiscoveryPort] = field(default_factory=list)
    """The task's ports, in the order of its host ports."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What to run: a shell command, or an argv when ``shell`` is false."""

    value: str | None = None
    """The shell command line (``/bin/sh -c value``) when shell is true."""
    args: list[str] = field(default_factory=list)
    """The argv when shell is false."""
    shell: bool = True
    """Run ``value`` through the shell (Mesos' CommandInfo.shell)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables for the task."""
    uris: list[UriInfo] = field(default_factory=list)
    """What the fetcher downloads into the sandbox before the command starts."""
    user: str | None = None
    """Run as this user, when the agent may switch users."""


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task a framework asks to launch on an offered agent (Mesos' TaskInfo)."""

    task_id: str
    """Unique within the framework; reusing a live id is refused."""
    name: str
    """Human-readable name, shown in UIs and logs."""
    agent_id: str
    """The agent of the offer the task is launched from."""
    resources: dict[str, Any]
    """The resources the task consumes, in ``Resources.to_dict()`` form."""
    command: CommandSpec | None = None
    """The command to run (None only for containers whose image has an entrypoint)."""
    container: ContainerInfo | None = None
    """How to contain it (None: a native MESOS task with host networking)."""
    health_checks: list[HealthCheckInfo] = field(default_factory=list)
    """Health checks the agent runs next to the task."""
    kill_grace_period: float = 3.0
    """Seconds between SIGTERM and SIGKILL when the task is killed."""
    labels: dict[str, str] = field(default_factory=dict)
    """Free-form labels, copied to the container; the agent interprets none of them."""
    discovery: DiscoveryInfo | None = None
    """How the task is found (names its ports: the agent exports ``PORT_<NAME>``)."""
    group_id: str = ""
    """The task group it belongs to (Mesos' executor id of a LAUNCH_GROUP): ``""`` for a
    plain task. The agent starts a group's tasks together and kills them together."""
    limits: dict[str, Any] = field(default_factory=dict)
    """Resource limits (Mesos 1.9+ ``TaskInfo.limits``): ``cpus`` and/or ``mem`` (MB), each
    >= the requested amount, ``math.inf`` for unlimited (a float, as Mesos' Value.Scalar;
    typed Any only because the codec refuses non-finite floats: checked below). The
    agent's cgroup gets its CPU quota and memory limit from them; the requested
    ``resources`` stay what is allocated. Empty: the limits are the requested amounts (a
    hard quota of ``cpus``)."""

    def __post_init__(self) -> None:
        if self.limits:
            problem = limits_problem(self.limits)
            if problem:
                raise TaskDescriptionError(f"TaskInfo.limits.{problem[0]}: {problem[1]}")


# --------------------------------------------------------------------------------------
# Agent <-> master


@dataclass(frozen=True, slots=True)
class RegisterAgent:
    """An agent asks the leading master to admit it (first registration)."""

    hostname: str
    """The agent's host name, as constraints and UIs see it."""
    address: str
    """Transport address of the agent actor (``tcp://host:port/agent``)."""
    resources: dict[str, Any]
    """Total resources the agent offers, in ``Resources.to_dict()`` form."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Agent attributes (``zone``, ``rack``, ``containerizers``...)."""
    version: str = ""
    """The pydcos version the agent runs."""
    checkpointed_resources: dict[str, Any] = field(default_factory=dict)
    """Dynamic reservations and persistent volumes the agent checkpointed (issue 23);
    ``resources`` stays its plain ``--resources``."""


@dataclass(frozen=True, slots=True)
class ReregisterAgent:
    """An agent that has an id already comes back, carrying the tasks it runs."""

    agent_id: str
    """The id the master gave it at first registration."""
    hostname: str
    """The agent's host name."""
    address: str
    """Transport address of the agent actor."""
    resources: dict[str, Any]
    """Total resources."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Agent attributes."""
    tasks: list[AgentTask] = field(default_factory=list)
    """Every task the agent still supervises, so a new leader knows about them."""
    version: str = ""
    """The pydcos version the agent runs."""
    checkpointed_resources: dict[str, Any] = field(default_factory=dict)
    """Dynamic reservations and persistent volumes the agent checkpointed (issue 23)."""
    copy_id: str = ""
    """Names this copy (unique per agent life); a resend of the same facts to the same
    master is a ``ReregisterAgentAgain`` naming it instead of the whole task list."""


@dataclass(frozen=True, slots=True)
class AgentRegistered:
    """The master's answer to (re-)registration."""

    agent_id: str
    """The agent's id, stable across re-registrations."""
    master_id: str
    """The id of the master that admitted it; a change means a failover happened."""
    ping_interval: float
    """How often the master will ping (seconds)."""


@dataclass(frozen=True, slots=True)
class AgentTask:
    """What an agent knows of one task (sent in re-registration)."""

    task: TaskInfo
    """The task as launched."""
    framework_id: str
    """The framework that owns it."""
    state: str
    """The latest state (an ``actors.task_states.TaskState`` value)."""
    healthy: bool | None = None
    """The latest health check result (None: no checks or no result yet). A new leader
    learns health only from this, since agents report health on a change only."""


@dataclass(frozen=True, slots=True)
class Ping:
    """Master -> agent health probe; the agent answers with Pong."""

    master_id: str
    """The pinging master; an agent ignores pings from a master it has not registered with."""
    seq: int
    """Sequence number echoed in the Pong."""


@dataclass(frozen=True, slots=True)
class Pong:
    """Agent -> master answer to a Ping."""

    agent_id: str
    """The answering agent."""
    seq: int
    """The Ping's sequence number."""


@dataclass(frozen=True, slots=True)
class UpdateAgent:
    """Agent -> master: its total resources changed (Mesos' ``UpdateSlaveMessage``), e.g.
    a port in its range is now held by another process on the host. The master rescinds
    the agent's outstanding offers and offers from the new total."""

    agent_id: str
    """The updating agent."""
    resources: dict[str, Any]
    """Its new total, in ``Resources.to_dict()`` form."""


@dataclass(frozen=True, slots=True)
class RunTask:
    """Master -> agent: launch this task for this framework."""

    framework_id: str
    """The owning framework."""
    framework_address: str
    """Where the framework lives (for the agent's records; updates still go via master)."""
    task: TaskInfo
    """The task to launch."""


@dataclass(frozen=True, slots=True)
class KillTask:
    """Master -> agent: kill a task (SIGTERM, grace period, SIGKILL)."""

    framework_id: str
    """The owning framework."""
    task_id: str
    """The task to kill."""
    grace_period: float | None = None
    """Override of the task's kill grace period, in seconds."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A task's state change, agent -> master -> framework, acknowledged end to end."""

    framework_id: str
    """The owning framework."""
    task_id: str
    """The task whose state changed."""
    agent_id: str
    """The agent that runs (ran) the task."""
    state: str
    """The new state (``TASK_RUNNING`` ...)."""
    uuid: str
    """Identifies this update for acknowledgement; empty for master-generated updates
    that need no acknowledgement (reconciliation answers)."""
    timestamp: float
    """When the state changed (wall clock, seconds)."""
    reason: str | None = None
    """Mesos reason code (``REASON_COMMAND_EXECUTOR_FAILED`` ...)."""
    message: str = ""
    """Human-readable detail."""
    healthy: bool | None = None
    """Health check verdict, when the task has checks."""
    source: str = "SOURCE_AGENT"
    """Who generated it: SOURCE_AGENT, SOURCE_MASTER or SOURCE_EXECUTOR."""


@dataclass(frozen=True, slots=True)
class StatusUpdateAck:
    """Framework -> master -> agent: an update was received; stop resending it."""

    framework_id: str
    """The owning framework."""
    agent_id: str
    """The agent that sent the update."""
    task_id: str
    """The task."""
    uuid: str
    """The acknowledged update's uuid."""


# --------------------------------------------------------------------------------------
# Framework (scheduler) <-> master


@dataclass(frozen=True, slots=True)
class FrameworkInfo:
    """Who a framework is (Mesos' FrameworkInfo)."""

    name: str
    """Display name (``marathon``, ``metronome``, ...)."""
    roles: list[str] = field(default_factory=lambda: ["*"])
    """The roles it takes resources as (weighted DRF runs over roles)."""
    failover_timeout: float = 0.0
    """Seconds the master keeps the framework's tasks after it disconnects."""
    framework_id: str | None = None
    """Set when re-subscribing after a failover, to keep the same id."""
    user: str = "root"
    """Default user for its tasks."""
    hostname: str = ""
    """Where the scheduler runs."""
    principal: str | None = None
    """Authentication principal (the IAM issue builds on it)."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Framework -> master: register, or re-register with ``info.framework_id``."""

    info: FrameworkInfo
    """Who the framework is."""
    address: str
    """The framework actor's transport address, for events."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """Master -> framework: registration done."""

    framework_id: str
    """The (possibly new) framework id; persist it to re-register later."""
    master_id: str
    """The leading master's id."""
    heartbeat_interval: float
    """Seconds between master heartbeats to the framework."""


@dataclass(frozen=True, slots=True)
class Offer:
    """A resource offer: one agent's free resources for one framework."""

    offer_id: str
    """Unique id; accept or decline by it."""
    framework_id: str
    """The framework offered to."""
    agent_id: str
    """The agent the resources are on."""
    hostname: str
    """The agent's host name (constraints)."""
    resources: dict[str, Any]
    """What is offered, in ``Resources.to_dict()`` form."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """The agent's attributes (constraints)."""
    ip: str = ""
    """The agent's advertised IP address (Mesos' ``Offer.url.address.ip``), where its
    tasks are reached; empty when the agent advertises a name rather than an IP."""
    port: int = 0
    """The agent's transport port (Mesos' ``Offer.url.address.port``, the port of its
    ``pid``); 0 when unknown."""


@dataclass(frozen=True, slots=True)
class Offers:
    """Master -> framework: a batch of offers."""

    offers: list[Offer]
    """The offers."""


@dataclass(frozen=True, slots=True)
class Rescind:
    """Master -> framework: an offer is no longer valid (agent lost, timeout)."""

    offer_id: str
    """The withdrawn offer."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One offer operation (Mesos' Offer.Operation)."""

    type: str
    """``LAUNCH``, ``LAUNCH_GROUP``, ``RESERVE``, ``UNRESERVE``, ``CREATE``, ``DESTROY``."""
    tasks: list[TaskInfo] = field(default_factory=list)
    """The tasks of a LAUNCH, or the task group of a LAUNCH_GROUP (all with the same
    non-empty ``group_id``: started all or none, on the offers' agent)."""
    resources: dict[str, Any] = field(default_factory=dict)
    """The resources of a RESERVE/UNRESERVE/CREATE/DESTROY in ``Resources.to_dict()`` form,
    as they are AFTER a RESERVE/CREATE (``{"cpus(web,alice)": 1}``, ``{"disk(web,alice)
    [v1:data]": 100}``) and as they are now for UNRESERVE/DESTROY (Mesos' shapes)."""


@dataclass(frozen=True, slots=True)
class Accept:
    """Framework -> master: use offers for operations (LAUNCH; later RESERVE, CREATE...)."""

    framework_id: str
    """The accepting framework."""
    offer_ids: list[str]
    """Offers consumed by this call (all on one agent, as in Mesos)."""
    operations: list[Operation]
    """What to do with the offered resources; only LAUNCH is supported for now."""
    refuse_seconds: float = 5.0
    """Filter for the unused remainder of the offers."""


@dataclass(frozen=True, slots=True)
class Decline:
    """Framework -> master: not interested in these offers for ``refuse_seconds``."""

    framework_id: str
    """The declining framework."""
    offer_ids: list[str]
    """The declined offers."""
    refuse_seconds: float = 5.0
    """Mesos' Filters.refuse_seconds (default 5 s)."""
    reason: str = ""
    """Why the framework declined (free text for logs and FrameworkHarness; Mesos has no
    such field)."""


@dataclass(frozen=True, slots=True)
class Revive:
    """Framework -> master: clear filters and resume offers."""

    framework_id: str
    """The framework."""
    roles: list[str] = field(default_factory=list)
    """Only these of its roles (Mesos 1.9+); empty: all of them."""


@dataclass(frozen=True, slots=True)
class Suppress:
    """Framework -> master: send no offers until Revive."""

    framework_id: str
    """The framework."""
    roles: list[str] = field(default_factory=list)
    """Only these of its roles (Mesos 1.9+); empty: all of them."""


@dataclass(frozen=True, slots=True)
class Kill:
    """Framework -> master: kill one of its tasks."""

    framework_id: str
    """The framework."""
    task_id: str
    """The task."""


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Framework -> master: acknowledge a status update by uuid."""

    framework_id: str
    """The framework."""
    agent_id: str
    """The agent that sent the update."""
    task_id: str
    """The task."""
    uuid: str
    """The update's uuid."""


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Framework -> master: tell me the latest state of these tasks (all, when empty)."""

    framework_id: str
    """The framework."""
    task_ids: list[str] = field(default_factory=list)
    """Explicit reconciliation; empty means implicit (every task of the framework)."""


@dataclass(frozen=True, slots=True)
class Teardown:
    """Framework -> master: unregister and kill all its tasks."""

    framework_id: str
    """The framework."""


@dataclass(frozen=True, slots=True)
class FrameworkError:
    """Master -> framework: a call was refused; ``message`` says what and why."""

    message: str
    """What was wrong, naming the field and the value."""
    call: str = ""
    """The refused call's type name."""


@dataclass(frozen=True, slots=True)
class AgentLost:
    """Master -> framework: an agent became unreachable or was removed."""

    agent_id: str
    """The lost agent."""


@dataclass(frozen=True, slots=True)
class MasterChanged:
    """Local notice (from the leader watcher): the leading master is now at ``address``."""

    address: str | None
    """The leader's master-actor address, or None while no master leads."""
    master_id: str = ""
    """Set when the master itself announces that it leads (to the registry's agents it
    has no re-registration from yet); empty from a leader watch. An agent answers each
    master's announcement once: every copy of a re-registration carries every task the
    agent runs, and a new leader of 10,000 agents answers late (issue 29)."""


CLUSTER_MESSAGES: tuple[type, ...] = (
    Parameter,
    DockerInfo,
    PortMapping,
    VolumeInfo,
    ContainerInfo,
    UriInfo,
    HealthCheckInfo,
    DiscoveryPort,
    DiscoveryInfo,
    CommandSpec,
    TaskInfo,
    RegisterAgent,
    ReregisterAgent,
    AgentRegistered,
    AgentTask,
    Ping,
    Pong,
    UpdateAgent,
    RunTask,
    KillTask,
    StatusUpdate,
    StatusUpdateAck,
    FrameworkInfo,
    Subscribe,
    Subscribed,
    Offer,
    Offers,
    Rescind,
    Operation,
    Accept,
    Decline,
    Revive,
    Suppress,
    Kill,
    Acknowledge,
    Reconcile,
    Teardown,
    FrameworkError,
    AgentLost,
    MasterChanged,
)
"""Every record above, in a stable order, for registration with the transport codec."""

for _cls in CLUSTER_MESSAGES:
    register_message(_cls)


# --------------------------------------------------------------------------------------
# Well-known actor names and the master's state query (owner: actors/master, H4).
# They live here, at the bottom of the import graph, so the gateway, the agent, the
# console and benchmarks can name and ask the master without importing its package.

MASTER_ACTOR = "master"
"""The registered name of the master actor on the leading master's node."""
AGENT_ACTOR = "agent"
"""The registered name of the agent actor on every agent's node."""
MARATHON_ACTOR = "marathon"
"""The registered name of Marathon's actor on the leading master's node."""
METRONOME_ACTOR = "metronome"
"""The registered name of Metronome's actor on the leading master's node."""

GET_STATE_WHATS = (
    "state",
    "state-summary",
    "slaves",
    "frameworks",
    "tasks",
    "roles",
    "snapshot",
    "metrics",
    "allocation",
)
"""What ``GetState.what`` may name, in the order error messages list them."""


@dataclass(frozen=True, slots=True)
class GetState:
    """Client -> master (ask): a Mesos-shaped JSON document about the cluster."""

    what: str = "state"
    """One of ``GET_STATE_WHATS``: ``state``, ``state-summary``, ``slaves``,
    ``frameworks``, ``tasks``, ``roles``, ``snapshot`` (the ``master/*`` metrics),
    ``metrics`` (pydcos' own) or ``allocation`` (the last allocation cycle: offers made
    and why every other framework/agent pair got nothing)."""
    params: dict[str, Any] | None = None
    """Query parameters (``limit``, ``offset``, ``order``, ``framework_id``, ``task_id``)."""


register_message(GetState)


# --------------------------------------------------------------------------------------
# Master state watch and operator calls (owner: H7, issue 22). Observers (DNS, l4lb,
# the operator API's SUBSCRIBE) follow the cluster through the leading master's events,
# exactly the JSON Mesos' operator SUBSCRIBE streams (``actors.master`` builds it).


@dataclass(frozen=True, slots=True)
class WatchMaster:
    """Observer -> leading master actor (tell): stream me the cluster's state and changes.

    The answer is a ``MasterEvent`` SUBSCRIBED (seq 1) with the full state, then one
    event per change; sending it again restarts the subscription (a fresh SUBSCRIBED)."""

    subscriber: str
    """The observer actor's transport address (``tcp://host:port/name``, or a client
    node's ``client:<id>/name``)."""
    episode: int = 0
    """Which subscription this asks for (``WatchFollower``): a resend of an unanswered
    subscribe carries the same episode, and a master that answered that episode
    moments ago (its SUBSCRIBED crossed the resend) does not build the state again.
    0: always answered."""
    batch: bool = False
    """Take the changes as ``MasterEvents`` (several events a message, sent at the
    master's next tick: at most ~20 ms later) instead of one ``MasterEvent`` each; the
    SUBSCRIBED still comes as a ``MasterEvent`` seq 1. The DNS and l4lb actors ask for
    it (issue 29: one message per event per watcher was a tenth of a launching leader's
    CPU); the operator API's SUBSCRIBE does not."""


@dataclass(frozen=True, slots=True)
class UnwatchMaster:
    """Observer -> leading master actor (tell): stop streaming to ``subscriber``."""

    subscriber: str
    """The address given in ``WatchMaster``."""


@dataclass(frozen=True, slots=True)
class MasterEvent:
    """Leading master -> observer: one Mesos v1 operator-API event."""

    event: dict[str, Any]
    """Exactly the JSON Mesos' operator SUBSCRIBE streams (``{"type": "TASK_ADDED",
    "task_added": {...}}``)."""
    master_id: str
    """The leading master's id (a new one after a failover)."""
    seq: int
    """1 (SUBSCRIBED), 2, 3... per subscription; a gap means lost events: re-send
    ``WatchMaster`` for a fresh SUBSCRIBED."""


OPERATOR_READS = (
    "GET_STATE",
    "GET_AGENTS",
    "GET_FRAMEWORKS",
    "GET_EXECUTORS",
    "GET_TASKS",
    "GET_ROLES",
    "GET_MASTER",
    "GET_QUOTA",
    "GET_WEIGHTS",
)
"""The operator calls the leading master answers from its state (``OperatorCall``)."""

OPERATOR_WRITES = (
    "UPDATE_WEIGHTS",
    "UPDATE_QUOTA",
    "RESERVE_RESOURCES",
    "UNRESERVE_RESOURCES",
    "CREATE_VOLUMES",
    "DESTROY_VOLUMES",
)
"""The operator calls that change the allocator's settings (persisted in the registry)."""


@dataclass(frozen=True, slots=True)
class OperatorCall:
    """Client -> leading master actor (ask): one Mesos v1 operator call, already parsed
    and validated by the caller (the master validates again: anything may arrive).

    The answer is the v1 ``Response`` JSON (``{"type": "GET_STATE", "get_state": ...}``)
    for a read, ``{}`` for an accepted update, ``{"error": "<field>: <why>"}`` for a
    refused one (nothing changed)."""

    type: str
    """One of ``OPERATOR_READS`` or ``OPERATOR_WRITES``."""
    body: dict[str, Any] = field(default_factory=dict)
    """The call's own part: ``{"weight_infos": [...]}`` for UPDATE_WEIGHTS,
    ``{"quota_configs": [...]}`` for UPDATE_QUOTA; empty for reads."""


for _cls in (WatchMaster, UnwatchMaster, MasterEvent, OperatorCall):
    register_message(_cls)
# One event goes to every watcher: packed once, its bytes shared (issue 29, H8).
_transport_codec.share_field(MasterEvent, "event")


# --------------------------------------------------------------------------------------
# Sandbox files and logs (issue 21, owner H3). The agent that holds a sandbox serves it
# (``actors/agent/_logs.py``); every master's logs actor (``LOGS_ACTOR``, a node
# service) serves that master's component logs and receives followers' replies. A
# follower pulls: one FollowFile outstanding per reader, each answer at most
# ``MAX_READ_BYTES``, so a slow reader never makes the agent or the master buffer more.

LOGS_ACTOR = "logs"
"""The registered name of the logs actor on every master's node."""

DEFAULT_READ_BYTES = 64 * 1024
"""Bytes a ReadFile/FollowFile returns when it names no ``length``."""
MAX_READ_BYTES = 1024 * 1024
"""The most bytes one ReadFile/FollowFile answer carries (larger lengths are clamped)."""
MAX_FOLLOW_WAIT = 30.0
"""The longest ``FollowFile.wait`` honoured, in seconds (larger waits are clamped)."""

LOG_COMPONENTS = ("master", "agent", "zookeeper", "marathon", "metronome", "iam-audit")
"""Component logs ``/system/v1/logs/v2/component/<name>`` serves."""


@dataclass(frozen=True, slots=True)
class BrowseFiles:
    """Gateway -> agent actor (ask): one directory of a sandbox, as Mesos'
    ``/files/browse``. The reply is a ``FileListing``; nothing outside the sandbox is
    listed (``../``, absolute paths elsewhere, symlinks out: status 403)."""

    path: str = ""
    """Without ``task_id``: an absolute path on the agent inside its sandboxes directory
    (``<work_dir>/sandboxes/<task_id>/...``, what the agent state's ``directory``
    names). With ``task_id``: a path relative to that task's sandbox (``""``: its root)."""
    task_id: str = ""
    """The task whose sandbox ``path`` is relative to; ``""``: ``path`` is absolute."""


@dataclass(frozen=True, slots=True)
class FileListing:
    """Agent -> gateway: the answer to ``BrowseFiles``."""

    status: int
    """200, or the HTTP status of the refusal: 400 bad path, 403 outside the sandbox,
    404 no such directory/task."""
    message: str
    """Why, when ``status`` is not 200 (names the path or task); ``""`` otherwise."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """Mesos' browse entries: ``path`` (absolute on the agent), ``size``, ``mtime``
    (epoch seconds), ``mode`` (``-rw-r--r--``), ``nlink``, ``uid``, ``gid``."""


@dataclass(frozen=True, slots=True)
class ReadFile:
    """Gateway -> agent actor, or -> a master's logs actor for its component logs
    (ask): up to ``length`` bytes of a file from ``offset``. The reply is a
    ``FileChunk``. Paths are confined as in ``BrowseFiles``."""

    path: str = ""
    """As ``BrowseFiles.path`` (``stdout``, ``stderr``, ``logs/app.log`` with a
    ``task_id``); ignored for a ``component``."""
    task_id: str = ""
    """The task whose sandbox ``path`` is relative to; ``""``: ``path`` is absolute."""
    component: str = ""
    """A process log instead of a sandbox file: ``agent`` (agent actor), ``master`` or
    ``zookeeper`` (a master's logs actor; ``marathon``/``metronome`` live in the leading
    master's log)."""
    offset: int = 0
    """Where to start, in bytes; -1: no data, only the size (Mesos' ``offset=-1``)."""
    length: int = DEFAULT_READ_BYTES
    """At most this many bytes (clamped to ``MAX_READ_BYTES``; negative: 400)."""


@dataclass(frozen=True, slots=True)
class FollowFile:
    """Gateway -> agent actor or a master's logs actor (tell): a long-poll ``ReadFile``.
    With data past ``offset`` (or the writer finished) the answer comes at once; else
    as soon as data arrives, or after ``wait`` seconds with no data. The answer is a
    ``FileChunk`` carrying ``request_id``, told to ``reply_to``. A reader keeps one
    outstanding at a time (it pulls), so nothing queues up anywhere."""

    request_id: str
    """Chosen by the reader; echoed in the answer."""
    reply_to: str
    """The transport address of the actor the ``FileChunk`` is told to (a master's
    logs actor: ``tcp://host:port/logs``)."""
    path: str = ""
    """As ``ReadFile.path``."""
    task_id: str = ""
    """As ``ReadFile.task_id``."""
    component: str = ""
    """As ``ReadFile.component``."""
    offset: int = 0
    """Where to read from, in bytes (>= 0)."""
    length: int = DEFAULT_READ_BYTES
    """At most this many bytes (clamped to ``MAX_READ_BYTES``)."""
    wait: float = 10.0
    """Seconds to hold the answer while nothing is past ``offset`` (clamped to
    ``MAX_FOLLOW_WAIT``)."""


@dataclass(frozen=True, slots=True)
class FileChunk:
    """Agent or logs actor -> reader: bytes of a file (the answer to ``ReadFile`` and
    ``FollowFile``)."""

    status: int
    """200, or the HTTP status of the refusal: 400 bad offset/length/path, 403 outside
    the sandbox, 404 no such file, task or component log."""
    message: str
    """Why, when ``status`` is not 200 (names the path, task or component)."""
    offset: int = 0
    """Where ``data`` starts in the file. Less than the asked offset when the file
    shrank under it (rotated: reading restarts at 0); for ``offset=-1``, the size."""
    data: bytes = b""
    """The bytes read (at most ``MAX_READ_BYTES``; empty: nothing new yet)."""
    size: int = 0
    """The file's size when read."""
    done: bool = False
    """The writer has finished (the task is over, or unknown to the agent): no byte
    will follow ``offset + len(data)`` when that is ``size``."""
    request_id: str = ""
    """``FollowFile.request_id``; ``""`` for a ``ReadFile`` answer."""
    read_at: float = 0.0
    """Wall-clock seconds (the reader's node clock) when the bytes were read."""
    path: str = ""
    """The absolute path read, on the serving node (``""`` when refused)."""


LOGS_MESSAGES: tuple[type, ...] = (BrowseFiles, FileListing, ReadFile, FollowFile, FileChunk)
"""The sandbox/log records above, registered with the codec."""

for _cls in LOGS_MESSAGES:
    register_message(_cls)


# --------------------------------------------------------------------------------------
# Agent metrics (owner: H4, issue 21). Any master's gateway asks an agent's actor for
# its metrics (DC/OS' metrics API v0 shapes); the agent samples every --metrics-interval.

METRICS_SCOPES = ("node", "containers", "container", "app", "all", "history")
"""What ``GetMetrics.scope`` may name."""


@dataclass(frozen=True, slots=True)
class GetMetrics:
    """Gateway -> agent actor (ask). Replies, by ``scope``:

    - ``node``: ``{"datapoints": [...], "dimensions": {...}}`` (dcos-metrics' node doc);
    - ``containers``: the running containers' ids (``["task-id", ...]``);
    - ``container`` / ``app``: that container's doc (``app``: no system datapoints), or
      None when the agent runs no such container;
    - ``all``: ``{"node": doc, "containers": {id: doc}, "agent": {collector figures}}``;
    - ``history``: series since ``since`` (epoch seconds) for plots (``_metrics.history``).

    A datapoint: ``{"name", "value", "unit", "timestamp" (RFC 3339), "tags"}``."""

    scope: str
    container_id: str = ""
    since: float = 0.0


register_message(GetMetrics)


# --------------------------------------------------------------------------------------
# Task groups (W3, issue 19: Marathon pods, Mesos' LAUNCH_GROUP)


@dataclass(frozen=True, slots=True)
class RunTaskGroup:
    """Master -> agent: launch a task group (Mesos' RunTaskGroupMessage): every task
    starts or none does; the members share the group's ephemeral volumes and are killed
    together when one fails or is killed (Mesos' default executor)."""

    framework_id: str
    """The owning framework."""
    framework_address: str
    """Where the framework lives (for the agent's records)."""
    group_id: str
    """The group (every task's ``group_id``)."""
    tasks: list[TaskInfo]
    """The members, in launch order."""


register_message(RunTaskGroup)


# --------------------------------------------------------------------------------------
# Storage (S1, issue 23): dynamic reservations and persistent volumes. Reserved resources
# and volumes travel in ``Resources.to_dict()`` form (``cpus(web,alice,{k:v})``,
# ``disk(web,alice)[persistence_id:container_path]``, see actors/resources.py); a task
# that uses a volume lists it in ``TaskInfo.resources``: the agent mounts
# ``<work_dir>/volumes/roles/<role>/<persistence_id>`` at its ``container_path``.


@dataclass(frozen=True, slots=True)
class CheckpointResources:
    """Master -> agent (tell): the agent's complete dynamic reservations and persistent
    volumes now (Mesos' CheckpointResourcesMessage). Sent after every RESERVE, UNRESERVE,
    CREATE or DESTROY on the agent and at (re-)registration. The agent checkpoints them,
    creates the directory of each new volume and deletes those of volumes gone."""

    agent_id: str
    """The agent (its id from the master)."""
    resources: dict[str, Any]
    """``Resources.dynamic()`` of the agent's total, in ``to_dict()`` form."""


register_message(CheckpointResources)


# --------------------------------------------------------------------------------------
# Failover (F, issue 29): an agent resending an unanswered re-registration to a busy new
# leader names the copy it sent instead of carrying every task again (10,000 agents x
# 10 tasks decoded twice or more were a quarter of a new leader's recovery CPU).


@dataclass(frozen=True, slots=True)
class ReregisterAgentAgain:
    """Agent -> master: "my re-registration ``copy_id`` again, nothing changed since".
    The master answers ``AgentRegistered`` if it took that copy in (the agent is
    registered, reachable, not recovering), else ``ReregisterFull``."""

    agent_id: str
    """The agent's id."""
    address: str
    """Transport address of the agent actor."""
    copy_id: str
    """``ReregisterAgent.copy_id`` of the full copy it repeats."""


@dataclass(frozen=True, slots=True)
class ReregisterFull:
    """Master -> agent: send your whole re-registration (the copy a
    ``ReregisterAgentAgain`` named never reached this master, or is out of date)."""

    address: str
    """The asking master's address (an agent ignores a master it no longer follows)."""
    master_id: str
    """The asking master's id."""


register_message(ReregisterAgentAgain)
register_message(ReregisterFull)


# --------------------------------------------------------------------------------------
# Batched state watch (issue 29, session 11, L).


@dataclass(frozen=True, slots=True)
class MasterEvents:
    """Leading master -> observer that watches with ``WatchMaster.batch``: consecutive
    events of its stream, ``events[i]`` numbered ``first_seq + i`` (exactly the
    ``MasterEvent`` s it replaces, in order)."""

    events: list[dict[str, Any]]
    """Mesos v1 operator-API events, as ``MasterEvent.event``."""
    master_id: str
    """The leading master's id."""
    first_seq: int
    """The seq of ``events[0]``."""


register_message(MasterEvents)
# The same batch goes to every batched watcher: packed once, its bytes shared.
_transport_codec.share_field(MasterEvents, "events")
