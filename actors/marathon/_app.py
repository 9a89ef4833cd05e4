"""Marathon app definitions: parse, validate, apply defaults, render, patch, version.

`AppDefinition.from_json` is the only way user JSON becomes an app: the JSON schema
rejects bad shapes and unknown fields, then semantic checks reject what a schema cannot
express (cmd vs args, port conflicts, bad regexes, bad dependency paths). Every problem
found is reported at once in Marathon's 422 shape. After that, the rest of pydcos can
trust every field and every default.

Defaults follow Marathon 1.x's `AppDefinition` (cpus 1, mem 128, disk 0, gpus 0,
instances 1, backoff 1 s x 1.15 up to 3600 s, upgradeStrategy {1, 1}, killSelection
YOUNGEST_FIRST, one dynamic port for apps without port mappings).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors._validation import empty_map, frozen_map, json_problems, schema_message
from actors.framework import Constraint
from actors.l4lb import PortLabels, VipUse, port_vips, vip_conflicts
from actors.protocol import volume_problem

from ._errors import InvalidPath, ValidationFailed
from ._paths import ROOT, normalize_path, parent_of
from ._readiness import ReadinessCheck, port_names, readiness_problems
from ._resident import PersistentInfo, resident_defaults, volume_problems
from ._schema import APP_VALIDATOR

DEFAULT_CPUS = 1.0
DEFAULT_MEM = 128.0
DEFAULT_DISK = 0.0
DEFAULT_GPUS = 0
DEFAULT_INSTANCES = 1
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BACKOFF_FACTOR = 1.15
# Marathon 1.x source: `DefaultMaxLaunchDelay = 1.hour` (some docs show 300).
DEFAULT_MAX_LAUNCH_DELAY_SECONDS = 3600.0
DEFAULT_KILL_SELECTION = "YOUNGEST_FIRST"


def format_version(epoch_seconds: float) -> str:
    """Marathon's version string for a moment: ISO-8601 UTC with milliseconds and Z."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _valid_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class PortMapping:
    """A container port published on the host (bridge networking)."""

    container_port: int = 0
    host_port: int = 0
    service_port: int = 0
    protocol: str = "tcp"
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=empty_map)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PortMapping:
        return cls(
            container_port=raw.get("containerPort", 0),
            host_port=raw.get("hostPort", 0),
            service_port=raw.get("servicePort", 0),
            protocol=raw.get("protocol", "tcp"),
            name=raw.get("name"),
            labels=frozen_map(raw.get("labels")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "containerPort": self.container_port,
            "hostPort": self.host_port,
            "servicePort": self.service_port,
            "protocol": self.protocol,
            "labels": dict(self.labels),
        }
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class Volume:
    """A host path mounted into the container, or a local persistent volume."""

    container_path: str
    host_path: str | None
    mode: str
    persistent: PersistentInfo | None = None
    """Set for a local persistent volume (a resident app: ``_resident``)."""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Volume:
        persistent = raw.get("persistent")
        return cls(
            raw["containerPath"],
            raw.get("hostPath"),
            raw["mode"],
            PersistentInfo.from_json(persistent) if persistent is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        if self.persistent is not None:
            return {
                "containerPath": self.container_path,
                "mode": self.mode,
                "persistent": self.persistent.to_json(),
            }
        return {"containerPath": self.container_path, "hostPath": self.host_path, "mode": self.mode}


@dataclass(frozen=True)
class DockerSpec:
    """The Docker part of a container: image and Docker-only switches."""

    image: str | None = None
    force_pull_image: bool = False
    privileged: bool = False
    network: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image": self.image,
            "forcePullImage": self.force_pull_image,
            "privileged": self.privileged,
            "parameters": [{"key": k, "value": v} for k, v in self.parameters],
        }
        if self.network is not None:
            out["network"] = self.network
        return out


@dataclass(frozen=True)
class Container:
    """`container`: MESOS (native runtime, image optional) or DOCKER (image required)."""

    type: str = "MESOS"
    docker: DockerSpec | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    volumes: tuple[Volume, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Container:
        """Port mappings may sit at `container.portMappings` (Marathon 1.5+) or at
        `container.docker.portMappings` (older); both are read, the new place wins."""
        docker_raw = raw.get("docker")
        docker = None
        mappings = raw.get("portMappings")
        if docker_raw is not None:
            docker = DockerSpec(
                image=docker_raw.get("image"),
                force_pull_image=docker_raw.get("forcePullImage", False),
                privileged=docker_raw.get("privileged", False),
                network=docker_raw.get("network"),
                parameters=tuple((p["key"], p["value"]) for p in docker_raw.get("parameters", [])),
            )
            if mappings is None:
                mappings = docker_raw.get("portMappings")
        return cls(
            type=raw.get("type", "DOCKER" if docker_raw is not None else "MESOS"),
            docker=docker,
            port_mappings=tuple(PortMapping.from_json(m) for m in mappings or []),
            volumes=tuple(Volume.from_json(v) for v in raw.get("volumes", [])),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "volumes": [v.to_json() for v in self.volumes],
            "portMappings": [m.to_json() for m in self.port_mappings],
        }
        if self.docker is not None:
            out["docker"] = self.docker.to_json()
        return out


@dataclass(frozen=True)
class PortDefinition:
    """A host port the task needs; 0 means "any free port from the offer"."""

    port: int = 0
    protocol: str = "tcp"
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=empty_map)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PortDefinition:
        return cls(
            port=raw["port"],
            protocol=raw.get("protocol", "tcp"),
            name=raw.get("name"),
            labels=frozen_map(raw.get("labels")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"port": self.port, "protocol": self.protocol}
        if self.name is not None:
            out["name"] = self.name
        out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class HealthCheck:
    """A health check; defaults are Marathon's (grace 300, interval 60, timeout 20, 3)."""

    protocol: str = "HTTP"
    path: str | None = None
    port_index: int | None = None
    port: int | None = None
    command: str | None = None
    grace_period_seconds: int = 300
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3
    delay_seconds: int = 15
    ignore_http1xx: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HealthCheck:
        """HTTP(S) checks default to path "/"; port checks default to portIndex 0."""
        protocol = raw.get("protocol", "HTTP")
        is_http = protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS")
        port_index = raw.get("portIndex")
        if protocol != "COMMAND" and port_index is None and raw.get("port") is None:
            port_index = 0
        command = raw.get("command")
        return cls(
            protocol=protocol,
            path=raw.get("path", "/") if is_http else raw.get("path"),
            port_index=port_index,
            port=raw.get("port"),
            command=command["value"] if command is not None else None,
            grace_period_seconds=raw.get("gracePeriodSeconds", 300),
            interval_seconds=raw.get("intervalSeconds", 60),
            timeout_seconds=raw.get("timeoutSeconds", 20),
            max_consecutive_failures=raw.get("maxConsecutiveFailures", 3),
            delay_seconds=raw.get("delaySeconds", 15),
            ignore_http1xx=raw.get("ignoreHttp1xx", False),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "gracePeriodSeconds": self.grace_period_seconds,
            "intervalSeconds": self.interval_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "maxConsecutiveFailures": self.max_consecutive_failures,
            "delaySeconds": self.delay_seconds,
        }
        if self.path is not None:
            out["path"] = self.path
        if self.port_index is not None:
            out["portIndex"] = self.port_index
        if self.port is not None:
            out["port"] = self.port
        if self.command is not None:
            out["command"] = {"value": self.command}
        if self.protocol in ("HTTP", "HTTPS"):
            out["ignoreHttp1xx"] = self.ignore_http1xx
        return out


@dataclass(frozen=True)
class UpgradeStrategy:
    """How far a rolling upgrade may dip below / rise above `instances` (fractions)."""

    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "minimumHealthCapacity": self.minimum_health_capacity,
            "maximumOverCapacity": self.maximum_over_capacity,
        }


@dataclass(frozen=True)
class UnreachableStrategy:
    """When an unreachable instance is replaced, then forgotten (Marathon defaults)."""

    inactive_after_seconds: int = 300
    expunge_after_seconds: int = 600

    def to_json(self) -> dict[str, Any]:
        return {
            "inactiveAfterSeconds": self.inactive_after_seconds,
            "expungeAfterSeconds": self.expunge_after_seconds,
        }


@dataclass(frozen=True)
class FetchUri:
    """An artifact the Mesos fetcher downloads into the sandbox before the task starts."""

    uri: str
    executable: bool = False
    extract: bool = True
    cache: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "executable": self.executable,
            "extract": self.extract,
            "cache": self.cache,
        }


@dataclass(frozen=True)
class VersionInfo:
    """When the app last changed at all (scaling) and when its config last changed."""

    last_scaling_at: str
    last_config_change_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "lastScalingAt": self.last_scaling_at,
            "lastConfigChangeAt": self.last_config_change_at,
        }


# ------------------------------------------------------------------------------ app

# Fields that are bookkeeping, not configuration: they never make a deployment.
_NOT_CONFIG = ("version", "version_info")


@dataclass(frozen=True)
class AppDefinition:
    """A validated Marathon app with every default applied. Build it with `from_json`."""

    id: str
    cmd: str | None = None
    args: tuple[str, ...] | None = None
    user: str | None = None
    executor: str = ""
    cpus: float = DEFAULT_CPUS
    mem: float = DEFAULT_MEM
    disk: float = DEFAULT_DISK
    gpus: int = DEFAULT_GPUS
    resource_limits: tuple[tuple[str, float], ...] = ()
    """``resourceLimits`` (Marathon 1.10) as Mesos' ``TaskInfo.limits`` pairs (``cpus``,
    ``mem``; ``math.inf`` = ``"unlimited"``): the task reserves cpus/mem, uses up to these."""
    instances: int = DEFAULT_INSTANCES
    env: Mapping[str, str] = field(default_factory=empty_map)
    labels: Mapping[str, str] = field(default_factory=empty_map)
    accepted_resource_roles: tuple[str, ...] | None = None
    container: Container | None = None
    port_definitions: tuple[PortDefinition, ...] = (PortDefinition(),)
    require_ports: bool = False
    constraints: tuple[Constraint, ...] = ()
    health_checks: tuple[HealthCheck, ...] = ()
    readiness_checks: tuple[ReadinessCheck, ...] = ()
    upgrade_strategy: UpgradeStrategy = field(default_factory=UpgradeStrategy)
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    max_launch_delay_seconds: float = DEFAULT_MAX_LAUNCH_DELAY_SECONDS
    kill_selection: str = DEFAULT_KILL_SELECTION
    task_kill_grace_period_seconds: int | None = None
    unreachable_strategy: UnreachableStrategy | None = field(default_factory=UnreachableStrategy)
    """None means `"disabled"`: unreachable instances are never replaced."""
    dependencies: tuple[str, ...] = ()
    fetch: tuple[FetchUri, ...] = ()
    version: str | None = None
    version_info: VersionInfo | None = None

    # ------------------------------------------------------------------ parsing

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, base: str = ROOT, version: str | None = None
    ) -> AppDefinition:
        """Validate `data` (Marathon app JSON) and build the app with defaults.

        Relative ids and dependencies resolve against group `base`. `version` is the
        server's timestamp for this definition; Marathon treats `version` in a request
        as read-only, so a given one wins over the body's. Raises `ValidationFailed`
        carrying every problem found.
        """
        if isinstance(data, Mapping):
            # null means "not given" (as Marathon's readers treat it), which is also what
            # makes a GET response, with its nulls, valid input for a PUT.
            data = {k: v for k, v in data.items() if v is not None}
        # Before the schema: its minimum/maximum let NaN through, and nothing may
        # recurse into a document nested without bound.
        problems = json_problems(data)
        if problems:
            raise ValidationFailed(problems)
        problems = _schema_problems(data)
        if problems:
            raise ValidationFailed(problems)
        problems = []
        try:
            app_id = normalize_path(data["id"], base)
        except InvalidPath as exc:
            # Keep checking the rest so the user sees every problem in one answer.
            problems.append(("/id", str(exc)))
            app_id = "/invalid-id"
        if app_id == ROOT:
            problems.append(("/id", "an app id cannot be the root group /"))
        container = Container.from_json(data["container"]) if "container" in data else None
        ports_given = "portDefinitions" in data or "ports" in data
        if "portDefinitions" in data:
            port_defs = tuple(PortDefinition.from_json(p) for p in data["portDefinitions"])
        elif "ports" in data:
            port_defs = tuple(PortDefinition(port=p) for p in data["ports"])
        elif container is not None and container.port_mappings:
            port_defs = ()
        else:
            port_defs = (PortDefinition(),)
        dependencies: list[str] = []
        for index, dep in enumerate(data.get("dependencies", [])):
            try:
                resolved = normalize_path(dep, parent_of(app_id), climb=True)
            except InvalidPath as exc:
                problems.append((f"/dependencies/{index}", str(exc)))
                continue
            if resolved == app_id:
                problems.append((f"/dependencies/{index}", "an app cannot depend on itself"))
            dependencies.append(resolved)
        unreachable_raw = data.get("unreachableStrategy", {})
        unreachable = (
            None
            if unreachable_raw == "disabled"
            else UnreachableStrategy(
                unreachable_raw.get("inactiveAfterSeconds", 300),
                unreachable_raw.get("expungeAfterSeconds", 600),
            )
        )
        fetch = tuple(
            FetchUri(
                f["uri"], f.get("executable", False), f.get("extract", True), f.get("cache", False)
            )
            for f in data.get("fetch", [])
        ) or tuple(FetchUri(uri) for uri in data.get("uris", []))
        strategy_raw = data.get("upgradeStrategy", {})
        info_raw = data.get("versionInfo")
        app = cls(
            id=app_id,
            cmd=data.get("cmd"),
            args=tuple(data["args"]) if "args" in data else None,
            user=data.get("user"),
            executor=data.get("executor", ""),
            cpus=data.get("cpus", DEFAULT_CPUS),
            mem=data.get("mem", DEFAULT_MEM),
            disk=data.get("disk", DEFAULT_DISK),
            gpus=data.get("gpus", DEFAULT_GPUS),
            resource_limits=limits_from_json(data.get("resourceLimits")),
            instances=data.get("instances", DEFAULT_INSTANCES),
            env=frozen_map(data.get("env")),
            labels=frozen_map(data.get("labels")),
            accepted_resource_roles=(
                tuple(data["acceptedResourceRoles"]) if "acceptedResourceRoles" in data else None
            ),
            container=container,
            port_definitions=port_defs,
            require_ports=data.get("requirePorts", False),
            constraints=tuple(Constraint.from_json(c) for c in data.get("constraints", [])),
            health_checks=tuple(HealthCheck.from_json(h) for h in data.get("healthChecks", [])),
            readiness_checks=tuple(
                ReadinessCheck.from_json(r) for r in data.get("readinessChecks", [])
            ),
            upgrade_strategy=UpgradeStrategy(
                strategy_raw.get("minimumHealthCapacity", 1.0),
                strategy_raw.get("maximumOverCapacity", 1.0),
            ),
            backoff_seconds=data.get("backoffSeconds", DEFAULT_BACKOFF_SECONDS),
            backoff_factor=data.get("backoffFactor", DEFAULT_BACKOFF_FACTOR),
            max_launch_delay_seconds=data.get(
                "maxLaunchDelaySeconds", DEFAULT_MAX_LAUNCH_DELAY_SECONDS
            ),
            kill_selection=data.get("killSelection", DEFAULT_KILL_SELECTION),
            task_kill_grace_period_seconds=data.get("taskKillGracePeriodSeconds"),
            unreachable_strategy=unreachable,
            dependencies=tuple(dependencies),
            fetch=fetch,
            version=version if version is not None else data.get("version"),
            version_info=(
                VersionInfo(info_raw["lastScalingAt"], info_raw["lastConfigChangeAt"])
                if info_raw and {"lastScalingAt", "lastConfigChangeAt"} <= info_raw.keys()
                else None
            ),
        )
        app = resident_defaults(app, data)  # upgradeStrategy 0.5/0, unreachable disabled
        problems.extend(_semantic_problems(app, data, ports_given))
        if problems:
            raise ValidationFailed(problems)
        return app

    # ---------------------------------------------------------------- rendering

    def to_json(self) -> dict[str, Any]:
        """Marathon's response shape (`GET /v2/apps/{id}`), defaults included."""
        out: dict[str, Any] = {
            "id": self.id,
            "cmd": self.cmd,
            "args": list(self.args) if self.args is not None else None,
            "user": self.user,
            "env": dict(self.env),
            "instances": self.instances,
            "cpus": self.cpus,
            "mem": self.mem,
            "disk": self.disk,
            "gpus": self.gpus,
            "executor": self.executor,
            "constraints": [c.to_json() for c in self.constraints],
            "fetch": [f.to_json() for f in self.fetch],
            "backoffSeconds": self.backoff_seconds,
            "backoffFactor": self.backoff_factor,
            "maxLaunchDelaySeconds": self.max_launch_delay_seconds,
            "container": self.container.to_json() if self.container is not None else None,
            "healthChecks": [h.to_json() for h in self.health_checks],
            "dependencies": list(self.dependencies),
            "upgradeStrategy": self.upgrade_strategy.to_json(),
            "labels": dict(self.labels),
            "acceptedResourceRoles": (
                list(self.accepted_resource_roles)
                if self.accepted_resource_roles is not None
                else None
            ),
            "portDefinitions": [p.to_json() for p in self.port_definitions],
            "requirePorts": self.require_ports,
            "killSelection": self.kill_selection,
            "taskKillGracePeriodSeconds": self.task_kill_grace_period_seconds,
            "unreachableStrategy": (
                self.unreachable_strategy.to_json()
                if self.unreachable_strategy is not None
                else "disabled"
            ),
        }
        if self.readiness_checks:  # Marathon's RAML: omitEmpty
            out["readinessChecks"] = [r.to_json() for r in self.readiness_checks]
        if self.resource_limits:  # omitted when none, as Marathon
            out["resourceLimits"] = limits_to_json(self.resource_limits)
        if self.version is not None:
            out["version"] = self.version
        if self.version_info is not None:
            out["versionInfo"] = self.version_info.to_json()
        return out

    @property
    def backoff_key(self) -> str | None:
        """The configuration a launch delay belongs to (``LaunchBackoff``): the app's
        ``lastConfigChangeAt``, so a config change starts afresh and a scale does not."""
        if self.version_info is not None:
            return self.version_info.last_config_change_at
        return self.version

    # ------------------------------------------------------------- comparisons

    def config(self) -> AppDefinition:
        """This app without version bookkeeping: two apps with equal `config()` are the
        same deployment target."""
        return dataclasses.replace(self, version=None, version_info=None)

    def is_upgrade_of(self, other: AppDefinition) -> bool:
        """True if going from `other` to self needs a restart (anything but `instances`
        changed); Marathon calls this `isUpgrade`."""
        return dataclasses.replace(self.config(), instances=other.instances) != other.config()

    def is_only_scaling_of(self, other: AppDefinition) -> bool:
        """True if only `instances` differs: a scale, not a restart."""
        return self.instances != other.instances and not self.is_upgrade_of(other)


# --------------------------------------------------------------------- validation


def _json_pointer(parts: Any) -> str:
    return "/" + "/".join(str(p) for p in parts)


def _schema_problems(data: Any) -> list[tuple[str, str]]:
    """Schema errors as (json-pointer, readable message), unknown fields one per key."""
    problems: list[tuple[str, str]] = []
    for error in APP_VALIDATOR.iter_errors(data):
        path = _json_pointer(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = set(error.schema.get("properties", {}))
            base = "" if path == "/" else path
            for key in sorted(set(error.instance) - known):
                problems.append((f"{base}/{key}", f"unknown field {key!r}"))
        elif error.validator == "oneOf" and "constraints" in error.absolute_path:
            problems.append(
                (
                    path,
                    "a constraint is [field, operator] or [field, operator, value] with "
                    "operator one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS",
                )
            )
        elif error.validator == "oneOf" and "unreachableStrategy" in error.absolute_path:
            problems.append(
                (path, 'must be "disabled" or {"inactiveAfterSeconds", "expungeAfterSeconds"}')
            )
        else:
            problems.append((path, schema_message(error)))
    problems.sort(key=lambda p: p[0])
    return problems


def _duplicates(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    dups: list[Any] = []
    for value in values:
        if value in seen and value not in dups:
            dups.append(value)
        seen.add(value)
    return dups


def limits_from_json(raw: Mapping[str, Any] | None) -> tuple[tuple[str, float], ...]:
    """Schema-checked ``resourceLimits`` as ``TaskInfo.limits`` pairs (``"unlimited"``:
    ``math.inf``), in key order."""
    return tuple(
        (key, math.inf if value == "unlimited" else float(value))
        for key, value in sorted((raw or {}).items())
    )


def limits_to_json(limits: tuple[tuple[str, float], ...]) -> dict[str, Any]:
    """``resourceLimits`` as Marathon renders it: a number, or ``"unlimited"``."""
    return {k: "unlimited" if math.isinf(v) else v for k, v in limits}


def limits_problems(
    limits: tuple[tuple[str, float], ...], cpus: float, mem: float, at: str
) -> list[tuple[str, str]]:
    """Marathon's rule: each limit >= the requested amount; (path, message) per problem."""
    problems = []
    for key, value in limits:
        want = cpus if key == "cpus" else mem
        if value < want:
            problems.append(
                (
                    f"{at}/{key}",
                    f"{value:g} is below the requested {key} {want:g}: a limit "
                    f"must be 'unlimited' or >= the request",
                )
            )
    return problems


def _semantic_problems(
    app: AppDefinition, data: Mapping[str, Any], ports_given: bool
) -> list[tuple[str, str]]:
    """Cross-field rules Marathon enforces that a schema cannot express readably."""
    problems: list[tuple[str, str]] = []
    problems.extend(limits_problems(app.resource_limits, app.cpus, app.mem, "/resourceLimits"))
    image = app.container.docker.image if app.container and app.container.docker else None
    if app.cmd is not None and app.args is not None:
        problems.append(("/", "cmd and args are mutually exclusive: give one of them"))
    if app.cmd is None and app.args is None and image is None:
        problems.append(
            ("/", "an app must contain one of 'cmd' or 'args', and/or a container image")
        )
    if "ports" in data and "portDefinitions" in data:
        problems.append(("/ports", "give either ports or portDefinitions, not both"))
    if "fetch" in data and "uris" in data:
        problems.append(("/uris", "give either uris or fetch, not both"))
    if app.container is not None:
        container = app.container
        if container.type == "DOCKER" and image is None:
            problems.append(("/container/docker/image", "a DOCKER container needs an image"))
        if container.port_mappings and ports_given and app.port_definitions:
            problems.append(
                ("/portDefinitions", "portDefinitions and container portMappings are exclusive")
            )
        mappings = container.port_mappings
        for dup in _duplicates([m.host_port for m in mappings if m.host_port]):
            problems.append(("/container/portMappings", f"hostPort {dup} is used twice"))
        for dup in _duplicates([m.service_port for m in mappings if m.service_port]):
            problems.append(("/container/portMappings", f"servicePort {dup} is used twice"))
        for dup in _duplicates([m.name for m in mappings if m.name]):
            problems.append(("/container/portMappings", f"port name {dup!r} is used twice"))
        problems.extend(volume_problems(app))  # persistent volumes (resident apps)
        for index, volume in enumerate(container.volumes):
            if volume.persistent is not None:
                continue
            if volume.host_path is None:
                problems.append((f"/container/volumes/{index}/hostPath", "hostPath is required"))
            elif (bad := volume_problem(volume.container_path, volume.host_path)) is not None:
                field_name = "containerPath" if bad[0] == "container_path" else "hostPath"
                problems.append((f"/container/volumes/{index}/{field_name}", bad[1]))
        if container.type == "MESOS" and container.docker is not None:
            # The universal runtime runs the image itself: Docker-engine switches would be
            # silently ignored, so they are refused (as Marathon does for MESOS containers).
            for key, given in (
                ("privileged", container.docker.privileged),
                ("parameters", bool(container.docker.parameters)),
            ):
                if given:
                    problems.append(
                        (
                            f"/container/docker/{key}",
                            f"{key} is only supported by DOCKER containers",
                        )
                    )
    for dup in _duplicates([p.port for p in app.port_definitions if p.port]):
        problems.append(("/portDefinitions", f"port {dup} is used twice"))
    for dup in _duplicates([p.name for p in app.port_definitions if p.name]):
        problems.append(("/portDefinitions", f"port name {dup!r} is used twice"))
    if app.require_ports and any(p.port == 0 for p in app.port_definitions):
        problems.append(("/requirePorts", "requirePorts needs every port to be non-zero"))

    port_count = len(app.port_definitions) or (
        len(app.container.port_mappings) if app.container else 0
    )
    for index, check in enumerate(app.health_checks):
        where = f"/healthChecks/{index}"
        if check.protocol == "COMMAND":
            if check.command is None:
                problems.append((f"{where}/command", "a COMMAND health check needs a command"))
        else:
            if check.command is not None:
                problems.append((f"{where}/command", f"{check.protocol} checks take no command"))
            if check.port is not None and "portIndex" in data["healthChecks"][index]:
                problems.append((where, "give either port or portIndex, not both"))
            if (
                check.port is None
                and check.port_index is not None
                and check.port_index >= max(port_count, 0)
            ):
                problems.append(
                    (
                        f"{where}/portIndex",
                        f"portIndex {check.port_index} is out of range: the app has "
                        f"{port_count} port(s)",
                    )
                )
        if check.timeout_seconds >= check.interval_seconds:
            problems.append(
                (f"{where}/timeoutSeconds", "timeoutSeconds must be smaller than intervalSeconds")
            )

    problems.extend(readiness_problems(app.readiness_checks, port_names(app)))
    for index, constraint in enumerate(app.constraints):
        for message in constraint.problems():
            problems.append((f"/constraints/{index}", message))
    unreachable = app.unreachable_strategy
    if unreachable is not None and (
        unreachable.inactive_after_seconds > unreachable.expunge_after_seconds
    ):
        problems.append(
            (
                "/unreachableStrategy",
                "inactiveAfterSeconds must not be greater than expungeAfterSeconds",
            )
        )
    if app.version is not None and not _valid_timestamp(app.version):
        problems.append(("/version", f"version {app.version!r} is not an ISO-8601 timestamp"))
    problems.extend(_nul_problems(app))
    problems.extend(app_vips(app)[1])
    return problems


def app_vips(app: AppDefinition) -> tuple[list[VipUse], list[tuple[str, str]]]:
    """The VIPs (``VIP_n`` port labels) of ``app``'s ports, and the problems of the bad
    ones (see ``actors.l4lb``: port range, name, loopback IP, TCP, balance)."""
    if app.container is not None and app.container.port_mappings:
        ports = [
            PortLabels(f"/container/portMappings/{i}", m.labels, m.protocol)
            for i, m in enumerate(app.container.port_mappings)
        ]
    else:
        ports = [
            PortLabels(f"/portDefinitions/{i}", d.labels, d.protocol)
            for i, d in enumerate(app.port_definitions)
        ]
    return port_vips(ports)


def vip_conflict_problems(
    apps: Mapping[str, AppDefinition], changed: Iterable[str]
) -> list[tuple[str, str]]:
    """Problems of the ``changed`` apps' VIPs against every other app of ``apps`` (the
    whole target): one VIP name used with two ports, or with two balances (422)."""
    mine = {i: app_vips(apps[i])[0] for i in sorted(changed) if i in apps}
    mine = {i: uses for i, uses in mine.items() if uses}
    if not mine:  # the common case: nothing to compare, no walk over every app
        return []
    uses = {app_id: app_vips(app)[0] for app_id, app in apps.items()}
    problems: list[tuple[str, str]] = []
    for app_id, own in mine.items():
        problems.extend(vip_conflicts(app_id, own, uses))
    return problems


def _nul_problems(app: AppDefinition) -> list[tuple[str, str]]:
    """A NUL byte cannot cross execve: such a cmd, arg or env value could never run."""
    problems: list[tuple[str, str]] = []
    if app.cmd is not None and "\x00" in app.cmd:
        problems.append(("/cmd", "cmd contains a NUL character"))
    for index, arg in enumerate(app.args or ()):
        if "\x00" in arg:
            problems.append((f"/args/{index}", "an argument contains a NUL character"))
    for name, value in app.env.items():
        if "\x00" in value:
            problems.append((f"/env/{name}", "the value contains a NUL character"))
    return problems


# ------------------------------------------------------------------- update helpers


def stamp_version(
    app: AppDefinition, previous: AppDefinition | None, version: str
) -> AppDefinition:
    """Give `app` the server's `version` and the matching `versionInfo`.

    A config change moves both timestamps; a pure scale (or a forced restart of an
    unchanged config) only moves `lastScalingAt`, as in Marathon's VersionInfo. The
    backoff and "is this a restart" logic key on `lastConfigChangeAt`.
    """
    if not _valid_timestamp(version):
        raise ValidationFailed.single("/version", f"version {version!r} is not ISO-8601")
    if previous is None or previous.version_info is None or app.is_upgrade_of(previous):
        info = VersionInfo(version, version)
    else:
        info = VersionInfo(version, previous.version_info.last_config_change_at)
    return dataclasses.replace(app, version=version, version_info=info)


def patch_app(existing: AppDefinition, patch: Mapping[str, Any], *, version: str) -> AppDefinition:
    """Apply a partial update (`PATCH /v2/apps/{id}`) and re-validate the result.

    Top-level fields in `patch` replace the existing ones whole (nested objects are not
    deep-merged, matching Marathon's AppUpdate); a field set to null falls back to its
    default. The id may be repeated but not changed. The result is stamped with
    `version` and a versionInfo that knows whether this was only a scale.
    """
    if patch.get("id") is not None:  # null means "not given", as everywhere else
        try:
            patched_id = normalize_path(str(patch["id"]), parent_of(existing.id))
        except InvalidPath as exc:
            raise ValidationFailed.single("/id", str(exc)) from None
        if patched_id != existing.id:
            raise ValidationFailed.single(
                "/id", f"the id of {existing.id} cannot be changed to {patched_id}"
            )
    app = AppDefinition.from_json(merged_app_json(existing, patch), base=parent_of(existing.id))
    return stamp_version(app, existing, version)


def merged_app_json(existing: AppDefinition, patch: Mapping[str, Any]) -> dict[str, Any]:
    """``existing``'s JSON with ``patch``'s top-level fields over it (Marathon's
    AppUpdate: no deep merge; null falls back to the default; ``cmd`` and ``args``
    replace each other; port mappings replace port definitions). Without ``id``,
    ``version`` and ``versionInfo``: the caller decides the id, the version is stamped."""
    merged = existing.to_json()
    for key in ("id", "version", "versionInfo"):
        merged.pop(key, None)
    for key, value in patch.items():
        if key in ("id", "version", "versionInfo"):
            continue
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if "cmd" in patch and patch["cmd"] is not None:
        merged.pop("args", None)
    if "args" in patch and patch["args"] is not None:
        merged.pop("cmd", None)
    if "container" in patch and "portDefinitions" not in patch:
        new_container = patch["container"] or {}
        if new_container.get("portMappings") or (new_container.get("docker") or {}).get(
            "portMappings"
        ):
            merged.pop("portDefinitions", None)
    if "portDefinitions" in patch and patch["portDefinitions"] is not None:
        merged.pop("ports", None)
    merged["id"] = existing.id
    return merged
