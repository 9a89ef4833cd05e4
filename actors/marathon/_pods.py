"""Marathon pods (``/v2/pods``): the pod definition, validated as Marathon does.

A pod is several containers launched together on one agent as one Mesos task group
(LAUNCH_GROUP): they share the host network and the pod's ephemeral volumes and live and
die together. Inside the core a pod is a ``PodDefinition``: an ``AppDefinition`` whose
scalars are the sum of its containers' (so deployments, rolling upgrades, constraints,
backoff, the launch queue, persistence and failover treat it exactly as an app) that
carries the normalized pod JSON in ``pod``. What differs lives in the other
``_pods_*.py`` modules: the task group built for an instance (``_pods_tasks``), the
instance state from its members' updates and the ``::status`` JSON (``_pods_status``),
the REST operations (``_pods_ops``).

Pure: no I/O. ``PodDefinition.from_json`` raises ``ValidationFailed`` with every problem
and its JSON path (``/containers/0/resources/cpus``), as Marathon's 422.
"""

from __future__ import annotations

import dataclasses
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors._validation import json_problems
from actors.framework import Constraint

from ._app import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_LAUNCH_DELAY_SECONDS,
    AppDefinition,
    HealthCheck,
    UnreachableStrategy,
    UpgradeStrategy,
    VersionInfo,
)
from ._errors import InvalidPath, ValidationFailed
from ._paths import ROOT, normalize_path

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
"""Container, endpoint and volume names (Marathon's ``strings.Name``)."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
POD_FIELDS = frozenset(
    {
        "id",
        "labels",
        "version",
        "versionInfo",
        "user",
        "environment",
        "containers",
        "volumes",
        "networks",
        "scaling",
        "scheduling",
        "executorResources",
        "secrets",
        "fetch",
    }
)
CONTAINER_FIELDS = frozenset(
    {
        "name",
        "exec",
        "resources",
        "endpoints",
        "image",
        "environment",
        "user",
        "healthCheck",
        "volumeMounts",
        "artifacts",
        "labels",
        "lifecycle",
        "resourceLimits",
    }
)
DEFAULT_CONTAINER_CPUS = 1.0
DEFAULT_CONTAINER_MEM = 128.0
MAX_CONTAINERS = 32
KILL_SELECTIONS = ("YOUNGEST_FIRST", "OLDEST_FIRST")


def is_pod_doc(doc: Any) -> bool:
    """A stored definition is a pod's (``containers``) rather than an app's."""
    return isinstance(doc, Mapping) and "containers" in doc


@dataclass(frozen=True)
class PodDefinition(AppDefinition):
    """A pod: an app to the core (summed resources, instances, constraints, strategy,
    backoff), plus the pod JSON (normalized, without ``id``/``version``/instances)."""

    pod: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, base: str = ROOT, version: str | None = None
    ) -> PodDefinition:
        """Validate ``data`` (Marathon pod JSON) and build the pod with defaults."""
        problems = json_problems(data)
        if problems:
            raise ValidationFailed(problems)
        if not isinstance(data, Mapping):
            raise ValidationFailed.single("/", "a pod must be a JSON object")
        data = {k: v for k, v in data.items() if v is not None}
        v = _Validator()
        pod = v.pod(data, base)
        if v.problems:
            raise ValidationFailed(v.problems)
        return _build(pod, data, version)

    @property
    def containers(self) -> list[dict[str, Any]]:
        return list(self.pod.get("containers", []))

    def to_json(self) -> dict[str, Any]:
        """Marathon's pod JSON (``GET /v2/pods/{id}``), defaults included; stored as is
        (with ``versionInfo``, which the API ignores on input)."""
        out: dict[str, Any] = {"id": self.id}
        for key, value in self.pod.items():
            out[key] = _copy(value)
        out["scaling"] = dict(out.get("scaling") or {}, instances=self.instances)
        if self.version is not None:
            out["version"] = self.version
        if self.version_info is not None:
            out["versionInfo"] = self.version_info.to_json()
        return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def definition_from_json(
    doc: Mapping[str, Any], *, base: str = ROOT, version: str | None = None
) -> AppDefinition:
    """A stored app or pod definition (pods are told apart by ``containers``)."""
    if is_pod_doc(doc):
        return PodDefinition.from_json(doc, base=base, version=version)
    return AppDefinition.from_json(doc, base=base, version=version)


def _build(pod: dict[str, Any], data: Mapping[str, Any], version: str | None) -> PodDefinition:
    scheduling = pod["scheduling"]
    backoff = scheduling["backoff"]
    upgrade = scheduling["upgrade"]
    unreachable = scheduling["unreachableStrategy"]
    info_raw = data.get("versionInfo")
    checks = [c["healthCheck"] for c in pod["containers"] if "healthCheck" in c]
    health: tuple[HealthCheck, ...] = ()
    if checks:
        first = checks[0]
        health = (
            HealthCheck(
                protocol="MESOS_HTTP"
                if "http" in first
                else "TCP"
                if "tcp" in first
                else "COMMAND",
                grace_period_seconds=int(first["gracePeriodSeconds"]),
                interval_seconds=int(first["intervalSeconds"]),
                timeout_seconds=int(first["timeoutSeconds"]),
                max_consecutive_failures=int(first["maxConsecutiveFailures"]),
                delay_seconds=int(first["delaySeconds"]),
            ),
        )
    spec = {k: v for k, v in pod.items() if k != "id"}
    # The instance count lives in ``instances``: a scale is not a config change.
    spec["scaling"] = {k: v for k, v in pod["scaling"].items() if k != "instances"}
    return PodDefinition(
        id=pod["id"],
        user=pod.get("user"),
        cpus=round(sum(c["resources"]["cpus"] for c in pod["containers"]), 6),
        mem=round(sum(c["resources"]["mem"] for c in pod["containers"]), 6),
        disk=round(sum(c["resources"]["disk"] for c in pod["containers"]), 6),
        gpus=sum(int(c["resources"]["gpus"]) for c in pod["containers"]),
        instances=int(pod["scaling"]["instances"]),
        env=dict(pod["environment"]),
        labels=dict(pod["labels"]),
        accepted_resource_roles=(
            tuple(scheduling["placement"]["acceptedResourceRoles"])
            if scheduling["placement"].get("acceptedResourceRoles")
            else None
        ),
        container=None,
        port_definitions=(),
        constraints=tuple(Constraint.from_json(c) for c in scheduling["placement"]["constraints"]),
        health_checks=health,
        upgrade_strategy=UpgradeStrategy(
            upgrade["minimumHealthCapacity"], upgrade["maximumOverCapacity"]
        ),
        backoff_seconds=backoff["backoff"],
        backoff_factor=backoff["backoffFactor"],
        max_launch_delay_seconds=backoff["maxLaunchDelay"],
        kill_selection=scheduling["killSelection"],
        unreachable_strategy=(
            None
            if unreachable == "disabled"
            else UnreachableStrategy(
                unreachable["inactiveAfterSeconds"], unreachable["expungeAfterSeconds"]
            )
        ),
        version=version if version is not None else data.get("version"),
        version_info=(
            VersionInfo(info_raw["lastScalingAt"], info_raw["lastConfigChangeAt"])
            if isinstance(info_raw, Mapping)
            and {"lastScalingAt", "lastConfigChangeAt"} <= info_raw.keys()
            else None
        ),
        pod=spec,
    )


def with_instances(pod: PodDefinition, instances: int) -> PodDefinition:
    return dataclasses.replace(pod, instances=instances)


# --------------------------------------------------------------------- validation


class _Validator:
    """Collects (path, message) problems while normalizing a pod document."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def unknown(self, raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in sorted(set(raw) - allowed):
            self.bad(f"{where}/{key}", f"unknown field {key!r}")

    def obj(self, raw: Any, where: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.bad(where, "must be a JSON object")
            return {}
        return dict(raw)

    def arr(self, raw: Any, where: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.bad(where, "must be a JSON array")
            return []
        return raw

    def num(
        self,
        raw: Mapping[str, Any],
        key: str,
        where: str,
        default: float,
        low: float = 0.0,
        high: float = math.inf,
    ) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(f"{where}/{key}", f"must be a number, got {value!r:.40}")
            return default
        if not low <= value <= high:
            limit = f"between {low:g} and {high:g}" if high != math.inf else f">= {low:g}"
            self.bad(f"{where}/{key}", f"must be {limit}, got {value!r}")
            return default
        return float(value)

    def int_(self, raw: Mapping[str, Any], key: str, where: str, default: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.bad(f"{where}/{key}", f"must be an integer >= 0, got {value!r:.40}")
            return default
        return value

    def text(self, raw: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
        value = raw.get(key)
        if value is None:
            if required:
                self.bad(f"{where}/{key}", "is required")
            return ""
        if not isinstance(value, str) or (required and not value):
            self.bad(f"{where}/{key}", f"must be a non-empty string, got {value!r:.40}")
            return ""
        return value

    def flag(self, raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.bad(f"{where}/{key}", f"must be true or false, got {value!r:.40}")
            return default
        return value

    def strmap(self, raw: Any, where: str, env: bool = False) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.obj(raw, where).items():
            if env and not ENV_NAME.match(str(key)):
                self.bad(f"{where}/{key}", f"{key!r} is not a valid environment variable name")
            if isinstance(value, Mapping) and "secret" in value:
                self.bad(f"{where}/{key}", "secrets are not supported")
            elif not isinstance(value, str):
                self.bad(f"{where}/{key}", f"must be a string, got {value!r:.40}")
            else:
                out[str(key)] = value
        return out

    # ------------------------------------------------------------------- the pod

    def pod(self, data: Mapping[str, Any], base: str) -> dict[str, Any]:
        self.unknown(data, POD_FIELDS, "")
        raw_id = data.get("id")
        pod_id = ""
        if not isinstance(raw_id, str) or not raw_id:
            self.bad("/id", f"a pod needs an id (a path such as /ops/audit), got {raw_id!r:.40}")
        else:
            try:
                pod_id = normalize_path(raw_id, base)
            except InvalidPath as exc:
                self.bad("/id", str(exc))
            if pod_id == ROOT:
                self.bad("/id", "the root group cannot be a pod")
        if data.get("secrets"):
            self.bad("/secrets", "secrets are not supported")
        if data.get("fetch"):
            self.bad("/fetch", "pod-level fetch is not supported: use containers[].artifacts")
        out: dict[str, Any] = {"id": pod_id}
        out["labels"] = self.strmap(data.get("labels"), "/labels")
        if "user" in data:
            out["user"] = self.text(data, "user", "", required=True)
        out["environment"] = self.strmap(data.get("environment"), "/environment", env=True)
        volumes = self.volumes(data.get("volumes"))
        out["volumes"] = volumes
        out["networks"] = self.networks(data.get("networks"))
        names = {v["name"] for v in volumes}
        raw_containers = self.arr(data.get("containers"), "/containers")
        if "containers" not in data or not raw_containers:
            self.bad("/containers", "a pod needs at least one container")
        if len(raw_containers) > MAX_CONTAINERS:
            self.bad(
                "/containers", f"at most {MAX_CONTAINERS} containers, got {len(raw_containers)}"
            )
        containers = [
            self.container(raw, f"/containers/{i}", names) for i, raw in enumerate(raw_containers)
        ]
        seen: set[str] = set()
        ports: set[str] = set()
        host_ports: set[int] = set()
        for i, c in enumerate(containers):
            if c.get("name") in seen:
                self.bad(f"/containers/{i}/name", f"container name {c['name']!r} is used twice")
            seen.add(c.get("name", ""))
            for j, e in enumerate(c.get("endpoints", [])):
                if e["name"] in ports:
                    self.bad(
                        f"/containers/{i}/endpoints/{j}/name",
                        f"endpoint name {e['name']!r} is used twice in the pod",
                    )
                ports.add(e["name"])
                if e.get("hostPort"):
                    if e["hostPort"] in host_ports:
                        self.bad(
                            f"/containers/{i}/endpoints/{j}/hostPort",
                            f"host port {e['hostPort']} is used twice in the pod",
                        )
                    host_ports.add(e["hostPort"])
        out["containers"] = containers
        out["scaling"] = self.scaling(data.get("scaling"))
        out["scheduling"] = self.scheduling(data.get("scheduling"))
        out["executorResources"] = self.executor(data.get("executorResources"))
        return out

    def volumes(self, raw: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, vol in enumerate(self.arr(raw, "/volumes")):
            where = f"/volumes/{i}"
            vol = self.obj(vol, where)
            if "persistent" in vol:
                self.bad(f"{where}/persistent", "persistent volumes are not supported")
                continue
            self.unknown(vol, frozenset({"name", "host"}), where)
            name = self.text(vol, "name", where, required=True)
            if name and not NAME.match(name):
                self.bad(f"{where}/name", f"{name!r} must match {NAME.pattern}")
            if name in seen:
                self.bad(f"{where}/name", f"volume name {name!r} is used twice")
            seen.add(name)
            entry: dict[str, Any] = {"name": name}
            if "host" in vol:
                host = self.text(vol, "host", where, required=True)
                if host and not host.startswith("/"):
                    self.bad(f"{where}/host", f"a host path must be absolute, got {host!r}")
                entry["host"] = host
            out.append(entry)
        return out

    def networks(self, raw: Any) -> list[dict[str, Any]]:
        nets = self.arr(raw, "/networks") or [{"mode": "host"}]
        out = []
        for i, net in enumerate(nets):
            net = self.obj(net, f"/networks/{i}")
            mode = net.get("mode", "container")
            if mode != "host":
                self.bad(
                    f"/networks/{i}/mode",
                    f"network mode {mode!r} is not supported: pods run on the host network",
                )
            out.append({"mode": "host"})
        if len(out) > 1:
            self.bad("/networks", "host networking takes exactly one network entry")
        return out[:1]

    def container(self, raw: Any, where: str, volumes: set[str]) -> dict[str, Any]:
        c = self.obj(raw, where)
        self.unknown(c, CONTAINER_FIELDS, where)
        out: dict[str, Any] = {}
        name = self.text(c, "name", where, required=True)
        if name and not NAME.match(name):
            self.bad(f"{where}/name", f"{name!r} must match {NAME.pattern}")
        out["name"] = name
        res = self.obj(c.get("resources"), f"{where}/resources")
        if "resources" not in c:
            self.bad(f"{where}/resources", "is required")
        self.unknown(res, frozenset({"cpus", "mem", "disk", "gpus"}), f"{where}/resources")
        gpus = self.int_(res, "gpus", f"{where}/resources", 0)
        if gpus:
            self.bad(f"{where}/resources/gpus", "GPUs are not supported")
        out["resources"] = {
            "cpus": self.num(res, "cpus", f"{where}/resources", DEFAULT_CONTAINER_CPUS),
            "mem": self.num(res, "mem", f"{where}/resources", DEFAULT_CONTAINER_MEM),
            "disk": self.num(res, "disk", f"{where}/resources", 0.0),
            "gpus": gpus,
        }
        if out["resources"]["cpus"] <= 0 and out["resources"]["mem"] <= 0:
            self.bad(f"{where}/resources", "a container needs cpus or mem")
        if "resourceLimits" in c:
            out["resourceLimits"] = self.limits(
                c["resourceLimits"], f"{where}/resourceLimits", out["resources"]
            )
        if "exec" in c:
            out["exec"] = self.exec_(c["exec"], f"{where}/exec")
        if "image" in c:
            out["image"] = self.image(c["image"], f"{where}/image")
        if "exec" not in c and "image" not in c:
            self.bad(f"{where}/exec", "a container without an image needs exec.command")
        out["environment"] = self.strmap(c.get("environment"), f"{where}/environment", env=True)
        if "user" in c:
            out["user"] = self.text(c, "user", where, required=True)
        out["labels"] = self.strmap(c.get("labels"), f"{where}/labels")
        out["endpoints"] = [
            self.endpoint(e, f"{where}/endpoints/{i}")
            for i, e in enumerate(self.arr(c.get("endpoints"), f"{where}/endpoints"))
        ]
        if "healthCheck" in c:
            out["healthCheck"] = self.health(
                c["healthCheck"], f"{where}/healthCheck", {e["name"] for e in out["endpoints"]}
            )
        out["volumeMounts"] = [
            self.mount(m, f"{where}/volumeMounts/{i}", volumes)
            for i, m in enumerate(self.arr(c.get("volumeMounts"), f"{where}/volumeMounts"))
        ]
        mounts = [m["mountPath"] for m in out["volumeMounts"]]
        if len(set(mounts)) != len(mounts):
            self.bad(f"{where}/volumeMounts", "two volumes are mounted at the same mountPath")
        out["artifacts"] = [
            self.artifact(a, f"{where}/artifacts/{i}")
            for i, a in enumerate(self.arr(c.get("artifacts"), f"{where}/artifacts"))
        ]
        life = self.obj(c.get("lifecycle"), f"{where}/lifecycle")
        self.unknown(life, frozenset({"killGracePeriodSeconds"}), f"{where}/lifecycle")
        if "killGracePeriodSeconds" in life:
            out["lifecycle"] = {
                "killGracePeriodSeconds": self.num(
                    life, "killGracePeriodSeconds", f"{where}/lifecycle", 3.0
                )
            }
        return out

    def limits(self, raw: Any, where: str, res: Mapping[str, float]) -> dict[str, Any]:
        """A container's ``resourceLimits`` (Marathon 1.10): ``cpus``/``mem``, each
        ``"unlimited"`` or a number >= the container's request."""
        lim = self.obj(raw, where)
        self.unknown(lim, frozenset({"cpus", "mem"}), where)
        out: dict[str, Any] = {}
        for key in ("cpus", "mem"):
            if key not in lim:
                continue
            value = lim[key]
            if value == "unlimited":
                out[key] = value
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.bad(f"{where}/{key}", f"{value!r:.40} must be 'unlimited' or a number")
            elif not value >= res[key]:
                self.bad(
                    f"{where}/{key}",
                    f"{value:g} is below the requested {key} {res[key]:g}: a limit must be "
                    "'unlimited' or >= the request",
                )
            else:
                out[key] = value
        return out

    def exec_(self, raw: Any, where: str) -> dict[str, Any]:
        e = self.obj(raw, where)
        self.unknown(e, frozenset({"command", "overrideEntrypoint"}), where)
        cmd = self.obj(e.get("command"), f"{where}/command")
        self.unknown(cmd, frozenset({"shell", "argv"}), f"{where}/command")
        out: dict[str, Any] = {}
        if "shell" in cmd and "argv" in cmd:
            self.bad(f"{where}/command", "give shell or argv, not both")
        if "shell" in cmd:
            out["command"] = {"shell": self.text(cmd, "shell", f"{where}/command", True)}
        elif "argv" in cmd:
            argv = self.arr(cmd["argv"], f"{where}/command/argv")
            if not argv or not all(isinstance(a, str) for a in argv):
                self.bad(f"{where}/command/argv", "must be a non-empty array of strings")
            out["command"] = {"argv": [str(a) for a in argv]}
        else:
            self.bad(f"{where}/command", "needs shell (a string) or argv (an array)")
        if "overrideEntrypoint" in e:
            out["overrideEntrypoint"] = self.flag(e, "overrideEntrypoint", where, False)
            if "shell" in cmd and out["overrideEntrypoint"] is False:
                self.bad(f"{where}/overrideEntrypoint", "must not be false with command.shell")
        return out

    def image(self, raw: Any, where: str) -> dict[str, Any]:
        im = self.obj(raw, where)
        self.unknown(im, frozenset({"kind", "id", "forcePull", "labels", "pullConfig"}), where)
        kind = im.get("kind", "DOCKER")
        if kind != "DOCKER":
            self.bad(f"{where}/kind", f"image kind {kind!r} is not supported (only DOCKER)")
        out: dict[str, Any] = {"kind": "DOCKER", "id": self.text(im, "id", where, required=True)}
        out["forcePull"] = self.flag(im, "forcePull", where, False)
        return out

    def endpoint(self, raw: Any, where: str) -> dict[str, Any]:
        e = self.obj(raw, where)
        self.unknown(
            e,
            frozenset({"name", "containerPort", "hostPort", "protocol", "labels", "networkNames"}),
            where,
        )
        name = self.text(e, "name", where, required=True)
        if name and not NAME.match(name):
            self.bad(f"{where}/name", f"{name!r} must match {NAME.pattern}")
        out: dict[str, Any] = {"name": name}
        if "containerPort" in e:
            self.bad(f"{where}/containerPort", "containerPort is only for container networking")
        host = e.get("hostPort", 0)
        if isinstance(host, bool) or not isinstance(host, int) or not 0 <= host <= 65535:
            self.bad(f"{where}/hostPort", f"must be a port 0-65535 (0: any), got {host!r:.20}")
            host = 0
        out["hostPort"] = host
        protocols = e.get("protocol", ["tcp"])
        if isinstance(protocols, str):
            protocols = [protocols]
        if not isinstance(protocols, list) or not all(x in ("tcp", "udp") for x in protocols):
            self.bad(f"{where}/protocol", f"must be a list of tcp/udp, got {protocols!r:.40}")
            protocols = ["tcp"]
        out["protocol"] = list(protocols) or ["tcp"]
        out["labels"] = self.strmap(e.get("labels"), f"{where}/labels")
        return out

    def health(self, raw: Any, where: str, endpoints: set[str]) -> dict[str, Any]:
        h = self.obj(raw, where)
        kinds = [k for k in ("http", "tcp", "exec") if k in h]
        self.unknown(
            h,
            frozenset(
                {
                    "http",
                    "tcp",
                    "exec",
                    "gracePeriodSeconds",
                    "intervalSeconds",
                    "maxConsecutiveFailures",
                    "timeoutSeconds",
                    "delaySeconds",
                }
            ),
            where,
        )
        out: dict[str, Any] = {}
        if len(kinds) != 1:
            self.bad(where, "a health check needs exactly one of http, tcp, exec")
        elif kinds[0] in ("http", "tcp"):
            kind = kinds[0]
            spec = self.obj(h[kind], f"{where}/{kind}")
            allowed = {"endpoint", "path", "scheme"} if kind == "http" else {"endpoint"}
            self.unknown(spec, frozenset(allowed), f"{where}/{kind}")
            endpoint = self.text(spec, "endpoint", f"{where}/{kind}", required=True)
            if endpoint and endpoint not in endpoints:
                self.bad(
                    f"{where}/{kind}/endpoint",
                    f"{endpoint!r} is not an endpoint of this container",
                )
            entry: dict[str, Any] = {"endpoint": endpoint}
            if kind == "http":
                entry["path"] = spec.get("path", "/")
                if not isinstance(entry["path"], str) or not entry["path"].startswith("/"):
                    self.bad(f"{where}/http/path", "must be an absolute URL path")
                scheme = spec.get("scheme", "HTTP")
                if scheme not in ("HTTP", "HTTPS"):
                    self.bad(f"{where}/http/scheme", f"must be HTTP or HTTPS, got {scheme!r:.20}")
                entry["scheme"] = scheme
            out[kind] = entry
        else:
            spec = self.obj(h["exec"], f"{where}/exec")
            cmd = self.obj(spec.get("command"), f"{where}/exec/command")
            out["exec"] = {
                "command": {"shell": self.text(cmd, "shell", f"{where}/exec/command", True)}
            }
        out["gracePeriodSeconds"] = int(self.num(h, "gracePeriodSeconds", where, 300))
        out["intervalSeconds"] = int(self.num(h, "intervalSeconds", where, 60, 1))
        out["maxConsecutiveFailures"] = int(self.num(h, "maxConsecutiveFailures", where, 3))
        out["timeoutSeconds"] = int(self.num(h, "timeoutSeconds", where, 20, 1))
        out["delaySeconds"] = int(self.num(h, "delaySeconds", where, 2))
        return out

    def mount(self, raw: Any, where: str, volumes: set[str]) -> dict[str, Any]:
        m = self.obj(raw, where)
        self.unknown(m, frozenset({"name", "mountPath", "readOnly"}), where)
        name = self.text(m, "name", where, required=True)
        if name and name not in volumes:
            self.bad(f"{where}/name", f"{name!r} is not a volume of the pod")
        path = self.text(m, "mountPath", where, required=True)
        norm = posixpath.normpath(path) if path else ""
        if path and not path.startswith("/") and (norm == "." or norm.startswith("..")):
            self.bad(f"{where}/mountPath", f"{path!r} escapes the container's sandbox")
        return {"name": name, "mountPath": path, "readOnly": self.flag(m, "readOnly", where, False)}

    def artifact(self, raw: Any, where: str) -> dict[str, Any]:
        a = self.obj(raw, where)
        self.unknown(a, frozenset({"uri", "extract", "executable", "cache", "destPath"}), where)
        out: dict[str, Any] = {"uri": self.text(a, "uri", where, required=True)}
        out["extract"] = self.flag(a, "extract", where, True)
        out["executable"] = self.flag(a, "executable", where, False)
        out["cache"] = self.flag(a, "cache", where, False)
        if "destPath" in a:
            self.bad(f"{where}/destPath", "destPath is not supported")
        return out

    def scaling(self, raw: Any) -> dict[str, Any]:
        s = self.obj(raw, "/scaling")
        self.unknown(s, frozenset({"kind", "instances", "maxInstances"}), "/scaling")
        kind = s.get("kind", "fixed")
        if kind != "fixed":
            self.bad("/scaling/kind", f"scaling kind {kind!r} is not supported (only fixed)")
        out: dict[str, Any] = {
            "kind": "fixed",
            "instances": self.int_(s, "instances", "/scaling", 1),
        }
        if "maxInstances" in s:
            out["maxInstances"] = self.int_(s, "maxInstances", "/scaling", 0)
            if out["maxInstances"] < out["instances"]:
                self.bad("/scaling/maxInstances", "must be >= instances")
        return out

    def scheduling(self, raw: Any) -> dict[str, Any]:
        s = self.obj(raw, "/scheduling")
        w = "/scheduling"
        self.unknown(
            s,
            frozenset({"backoff", "upgrade", "placement", "killSelection", "unreachableStrategy"}),
            w,
        )
        b = self.obj(s.get("backoff"), f"{w}/backoff")
        self.unknown(b, frozenset({"backoff", "backoffFactor", "maxLaunchDelay"}), f"{w}/backoff")
        backoff = {
            "backoff": self.num(b, "backoff", f"{w}/backoff", DEFAULT_BACKOFF_SECONDS),
            "backoffFactor": self.num(
                b, "backoffFactor", f"{w}/backoff", DEFAULT_BACKOFF_FACTOR, 1
            ),
            "maxLaunchDelay": self.num(
                b, "maxLaunchDelay", f"{w}/backoff", DEFAULT_MAX_LAUNCH_DELAY_SECONDS
            ),
        }
        u = self.obj(s.get("upgrade"), f"{w}/upgrade")
        self.unknown(u, frozenset({"minimumHealthCapacity", "maximumOverCapacity"}), f"{w}/upgrade")
        upgrade = {
            "minimumHealthCapacity": self.num(
                u, "minimumHealthCapacity", f"{w}/upgrade", 1.0, 0, 1
            ),
            "maximumOverCapacity": self.num(u, "maximumOverCapacity", f"{w}/upgrade", 1.0, 0, 1),
        }
        pl = self.obj(s.get("placement"), f"{w}/placement")
        self.unknown(pl, frozenset({"constraints", "acceptedResourceRoles"}), f"{w}/placement")
        constraints: list[list[str]] = []
        for i, c in enumerate(self.arr(pl.get("constraints"), f"{w}/placement/constraints")):
            where = f"{w}/placement/constraints/{i}"
            if isinstance(c, Mapping):
                c = [c.get("fieldName"), c.get("operator")] + (
                    [c["value"]] if c.get("value") is not None else []
                )
            if (
                not isinstance(c, list)
                or not 2 <= len(c) <= 3
                or not all(isinstance(x, str) for x in c)
            ):
                self.bad(where, f"invalid constraint {c!r:.60}: [field, operator(, value)]")
                continue
            try:
                problems = Constraint.from_json(c).problems()
            except Exception as exc:
                problems = [str(exc)]
            if problems:
                self.bad(where, f"invalid constraint {c!r:.60}: {'; '.join(problems)}")
                continue
            constraints.append([str(x) for x in c])
        placement: dict[str, Any] = {"constraints": constraints}
        roles = pl.get("acceptedResourceRoles")
        if roles is not None:
            if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
                self.bad(f"{w}/placement/acceptedResourceRoles", "must be an array of role names")
            else:
                placement["acceptedResourceRoles"] = list(roles)
        kill = s.get("killSelection", "YOUNGEST_FIRST")
        if kill not in KILL_SELECTIONS:
            self.bad(f"{w}/killSelection", f"must be one of {', '.join(KILL_SELECTIONS)}")
            kill = "YOUNGEST_FIRST"
        raw_unreachable = s.get("unreachableStrategy")
        unreachable: Any
        if raw_unreachable == "disabled":
            unreachable = "disabled"
        else:
            un = self.obj(raw_unreachable, f"{w}/unreachableStrategy")
            where = f"{w}/unreachableStrategy"
            self.unknown(un, frozenset({"inactiveAfterSeconds", "expungeAfterSeconds"}), where)
            default = UnreachableStrategy()
            unreachable = {
                "inactiveAfterSeconds": int(
                    self.num(un, "inactiveAfterSeconds", where, default.inactive_after_seconds)
                ),
                "expungeAfterSeconds": int(
                    self.num(un, "expungeAfterSeconds", where, default.expunge_after_seconds)
                ),
            }
        return {
            "backoff": backoff,
            "upgrade": upgrade,
            "placement": placement,
            "killSelection": kill,
            "unreachableStrategy": unreachable,
        }

    def executor(self, raw: Any) -> dict[str, Any]:
        e = self.obj(raw, "/executorResources")
        self.unknown(e, frozenset({"cpus", "mem", "disk"}), "/executorResources")
        return {
            "cpus": self.num(e, "cpus", "/executorResources", 0.1),
            "mem": self.num(e, "mem", "/executorResources", 32.0),
            "disk": self.num(e, "disk", "/executorResources", 10.0),
        }
