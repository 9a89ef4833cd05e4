"""The service spec: dcos-commons' ``svc.yml``, rendered, validated, typed. Pure.

``load_spec(yaml_text, options)`` renders the YAML with mustache first (dcos-commons
renders svc.yml with the scheduler's environment, which Cosmos filled from the package
options), parses it, validates it with one JSON schema (a typo in a key is an error, not
a silently ignored setting), then checks what a schema cannot say: plan phases naming
pods that do not exist, phase dependency cycles, steps naming unknown tasks, port names
used twice in a pod. Every error is a ``SpecError`` whose ``path`` is the YAML path of
the bad value (``pods.zk.tasks.server.goal``), so ``pydcos package install`` can say
which line to fix.

``check_update(old, new)`` says what a new target config may not change (volumes, a pod
count below its declared ``quorum``, the service name): dcos-commons' config validators.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.sdk._errors import SpecError, UpdateRefused

GOALS = ("RUNNING", "ONCE", "FINISH")
"""Task goals: RUNNING (kept running: recovered when it dies), ONCE (runs to completion
once in the service's life), FINISH (runs to completion each time its step runs)."""

STRATEGIES = ("serial", "parallel")

_NAME = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
_SCALAR = {"type": "number", "exclusiveMinimum": 0}
_CHECK = {
    "type": "object",
    "properties": {
        "cmd": {"type": "string", "minLength": 1},
        "interval": {"type": "number", "minimum": 0},
        "delay": {"type": "number", "minimum": 0},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "grace-period": {"type": "number", "minimum": 0},
        "max-consecutive-failures": {"type": "integer", "minimum": 0},
    },
    "required": ["cmd"],
    "additionalProperties": False,
}
_VOLUME = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"},
        "type": {"enum": ["ROOT"]},
        "size": {"type": "integer", "minimum": 1},
    },
    "required": ["path", "size"],
    "additionalProperties": False,
}
_VOLUMES = {"type": "object", "patternProperties": {_NAME: _VOLUME}, "additionalProperties": False}
_PORTS = {
    "type": "object",
    "patternProperties": {
        _NAME: {
            "type": "object",
            "properties": {
                "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "env-key": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                "vip": {"type": "object"},
            },
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}
_LIMIT = {
    "type": ["number", "string"],
    "minimum": 0,
    "pattern": r"^(unlimited|[0-9]+(\.[0-9]+)?)$",
}
"""A resource limit: a number (or its text, as a rendered mustache value) or
``unlimited`` (dcos-commons' ResourceLimits)."""
_TASK = {
    "type": "object",
    "properties": {
        "goal": {"enum": [*GOALS, "FINISHED"]},
        "cmd": {"type": "string", "minLength": 1},
        "cpus": _SCALAR,
        "memory": _SCALAR,
        "ports": _PORTS,
        "env": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "resource-set": {"type": "string"},
        "essential": {"type": "boolean"},
        "readiness-check": _CHECK,
        "health-check": _CHECK,
        "configs": {
            "type": "object",
            "patternProperties": {
                _NAME: {
                    "type": "object",
                    "properties": {
                        "template": {"type": "string", "minLength": 1},
                        "dest": {"type": "string", "minLength": 1},
                    },
                    "required": ["template", "dest"],
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "volume": _VOLUME,
        "volumes": _VOLUMES,
        "kill-grace-period": {"type": "number", "minimum": 0},
        "resource-limits": {
            "type": "object",
            "properties": {"cpus": _LIMIT, "memory": _LIMIT},
            "additionalProperties": False,
        },
    },
    "required": ["goal", "cmd"],
    "additionalProperties": False,
}
_PHASE = {
    "type": "object",
    "properties": {
        "strategy": {"enum": list(STRATEGIES)},
        "pod": {"type": "string"},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "patternProperties": {
                    r"^(default|[0-9]+)$": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string"},
                        },
                    }
                },
                "additionalProperties": False,
            },
        },
        "dependencies": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["pod"],
    "additionalProperties": False,
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": _NAME},
        "scheduler": {
            "type": "object",
            "properties": {
                "principal": {"type": "string", "minLength": 1},
                "role": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"},
                "user": {"type": "string", "minLength": 1},
            },
            "additionalProperties": False,
        },
        "pods": {
            "type": "object",
            "minProperties": 1,
            "patternProperties": {
                _NAME: {
                    "type": "object",
                    "properties": {
                        "count": {"type": "integer", "minimum": 0, "maximum": 100},
                        "placement": {"type": ["string", "array"]},
                        "user": {"type": "string", "minLength": 1},
                        "quorum": {"type": "integer", "minimum": 1},
                        "uris": {"type": "array", "items": {"type": "string"}},
                        "volume": _VOLUME,
                        "volumes": _VOLUMES,
                        "resource-sets": {
                            "type": "object",
                            "patternProperties": {
                                _NAME: {
                                    "type": "object",
                                    "properties": {
                                        "cpus": _SCALAR,
                                        "memory": _SCALAR,
                                        "ports": _PORTS,
                                        "volume": _VOLUME,
                                        "volumes": _VOLUMES,
                                    },
                                    "required": ["cpus", "memory"],
                                    "additionalProperties": False,
                                }
                            },
                            "additionalProperties": False,
                        },
                        "tasks": {
                            "type": "object",
                            "minProperties": 1,
                            "patternProperties": {_NAME: _TASK},
                            "additionalProperties": False,
                        },
                    },
                    "required": ["count", "tasks"],
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "plans": {
            "type": "object",
            "patternProperties": {
                _NAME: {
                    "type": "object",
                    "properties": {
                        "strategy": {"enum": list(STRATEGIES)},
                        "phases": {
                            "type": "object",
                            "minProperties": 1,
                            "patternProperties": {_NAME: _PHASE},
                            "additionalProperties": False,
                        },
                    },
                    "required": ["phases"],
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
    },
    "required": ["name", "pods"],
    "additionalProperties": False,
}


# ------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A persistent volume: ``path`` is relative to the sandbox, ``size`` in MB."""

    name: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class PortSpec:
    name: str
    port: int
    """0: any port of the offer, chosen at reservation and kept for the instance's life."""
    env_key: str | None = None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    cmd: str
    interval: float = 5.0
    delay: float = 0.0
    timeout: float = 10.0
    grace_period: float = 30.0
    max_failures: int = 3


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    name: str
    template: str
    """Path relative to the svc.yml's directory."""
    dest: str
    """Path relative to the sandbox."""
    text: str | None = None
    """The template's text (None when the spec was loaded without a base directory)."""


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """Resources tasks share; tasks of one set never run at the same time."""

    name: str
    cpus: float
    memory: float
    ports: tuple[PortSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    goal: str
    cmd: str
    resource_set: str
    env: tuple[tuple[str, str], ...] = ()
    essential: bool = True
    readiness: CheckSpec | None = None
    health: CheckSpec | None = None
    configs: tuple[ConfigSpec, ...] = ()
    kill_grace: float | None = None
    limits: tuple[tuple[str, float], ...] = ()
    """``resource-limits`` as Mesos' ``TaskInfo.limits`` (``cpus``, ``mem``; ``math.inf``
    = unlimited): the task reserves its resource set and may use up to these."""


@dataclass(frozen=True, slots=True)
class PodSpec:
    name: str
    count: int
    tasks: dict[str, TaskSpec]
    resource_sets: dict[str, ResourceSet]
    volumes: tuple[VolumeSpec, ...] = ()
    """Pod-level volumes: every task of the pod mounts them."""
    placement: tuple[tuple[str, ...], ...] = ()
    user: str | None = None
    quorum: int | None = None
    uris: tuple[str, ...] = ()

    def task_volumes(self, task: str) -> tuple[VolumeSpec, ...]:
        return self.volumes + self.resource_sets[self.tasks[task].resource_set].volumes

    def ports(self) -> tuple[PortSpec, ...]:
        return tuple(p for rs in self.resource_sets.values() for p in rs.ports)

    def all_volumes(self) -> tuple[VolumeSpec, ...]:
        return self.volumes + tuple(v for rs in self.resource_sets.values() for v in rs.volumes)

    def conflicts(self, a: str, b: str) -> bool:
        """May tasks ``a`` and ``b`` of one instance NOT run at the same time (a shared
        resource set or volume: a persistent volume is used by one task at a time)?"""
        if a == b:
            return True
        ta, tb = self.tasks[a], self.tasks[b]
        if ta.resource_set == tb.resource_set:
            return True
        return bool(self.volumes)


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step: the tasks of pod instance ``index`` launched together."""

    name: str
    pod: str
    index: int
    tasks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    name: str
    pod: str
    strategy: str
    steps: tuple[StepSpec, ...]
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanSpec:
    name: str
    strategy: str
    phases: tuple[PhaseSpec, ...]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    role: str
    principal: str
    user: str | None
    pods: dict[str, PodSpec]
    plans: dict[str, PlanSpec]
    raw: dict[str, Any] = field(default_factory=dict)
    """The rendered YAML as data (the ``/v1/configurations`` document)."""

    @property
    def config_id(self) -> str:
        """A stable id of this target config (a uuid derived from its content)."""
        text = json.dumps(self.raw, sort_keys=True)
        return str(uuid.UUID(hashlib.sha256(text.encode()).hexdigest()[:32]))

    def task_names(self) -> list[str]:
        """Every ``<pod>-<index>-<task>`` of the spec, in spec order."""
        return [
            f"{pod.name}-{i}-{t}"
            for pod in self.pods.values()
            for i in range(pod.count)
            for t in pod.tasks
        ]


# ------------------------------------------------------------------------------ loading


def render(text: str, options: Mapping[str, Any]) -> str:
    """Mustache as dcos-commons renders svc.yml (missing keys render empty)."""
    import chevron

    return str(chevron.render(text, dict(options)))


def _yaml_path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


def _schema_errors(doc: Any) -> list[SpecError]:
    from jsonschema import Draft202012Validator

    out: list[SpecError] = []
    for err in Draft202012Validator(SCHEMA).iter_errors(doc):
        path = list(err.absolute_path)
        if err.validator == "required":
            m = re.match(r"'([^']+)' is a required property", err.message)
            if m:
                out.append(SpecError(_yaml_path([*path, m.group(1)]), "required"))
                continue
        if err.validator == "additionalProperties":
            found = re.findall(r"'([^']+)'", err.message.split("(")[-1])
            names = found or ["?"]
            out.append(
                SpecError(
                    _yaml_path([*path, names[0]]),
                    "unknown key (or a name that is not lower-case letters, digits and '-')",
                )
            )
            continue
        out.append(SpecError(_yaml_path(path), err.message))
    out.sort(key=lambda e: e.path)
    return out


def load_spec(
    yaml_text: str, options: Mapping[str, Any] | None = None, base_dir: Path | str | None = None
) -> ServiceSpec:
    """The ServiceSpec of ``yaml_text`` rendered with ``options`` (mustache). Config
    templates are read from ``base_dir`` (the svc.yml's directory) when given. Raises
    ``SpecError`` naming the first bad value by YAML path (in path order)."""
    import yaml

    if not isinstance(yaml_text, str):
        raise SpecError("", f"the spec must be YAML text, got {type(yaml_text).__name__}")
    text = render(yaml_text, options or {})
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise SpecError(where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise SpecError("", "the spec must be a YAML mapping (name, pods, plans)")
    _stringify_step_keys(doc)
    errors = _schema_errors(doc)
    if errors:
        raise errors[0]
    return _build(doc, Path(base_dir) if base_dir is not None else None)


def _stringify_step_keys(doc: dict[str, Any]) -> None:
    """``- 0: [[bootstrap]]``: YAML reads the instance index as an int key."""
    plans = doc.get("plans")
    if not isinstance(plans, dict):
        return
    for plan in plans.values():
        phases = plan.get("phases") if isinstance(plan, dict) else None
        for phase in (phases or {}).values() if isinstance(phases, dict) else ():
            steps = phase.get("steps") if isinstance(phase, dict) else None
            if isinstance(steps, list):
                phase["steps"] = [
                    {str(k): v for k, v in st.items()} if isinstance(st, dict) else st
                    for st in steps
                ]


def spec_from_data(doc: dict[str, Any], base_dir: Path | None = None) -> ServiceSpec:
    """A ServiceSpec from already-rendered, stored data (the stored target config),
    validated like ``load_spec``."""
    errors = _schema_errors(doc)
    if errors:
        raise errors[0]
    return _build(doc, base_dir)


def _check(raw: Mapping[str, Any] | None) -> CheckSpec | None:
    if raw is None:
        return None
    return CheckSpec(
        cmd=str(raw["cmd"]),
        interval=float(raw.get("interval", 5)),
        delay=float(raw.get("delay", 0)),
        timeout=float(raw.get("timeout", 10)),
        grace_period=float(raw.get("grace-period", 30)),
        max_failures=int(raw.get("max-consecutive-failures", 3)),
    )


def task_limits(
    raw: Mapping[str, Any] | None, rs: ResourceSet, where: str
) -> tuple[tuple[str, float], ...]:
    """A task's ``resource-limits`` (dcos-commons: ``cpus``, ``memory``: ``unlimited`` or a
    number >= what the task reserves) as ``TaskInfo.limits`` pairs (``cpus``, ``mem``)."""
    out: list[tuple[str, float]] = []
    for key, mesos_key, want in (("cpus", "cpus", rs.cpus), ("memory", "mem", rs.memory)):
        value = (raw or {}).get(key)
        if value is None:
            continue
        limit = math.inf if value == "unlimited" else float(value)
        if limit < want:
            raise SpecError(
                f"{where}.resource-limits.{key}",
                f"{value!r} is below the task's {key} {want:g} (a limit is >= the request)",
            )
        out.append((mesos_key, limit))
    return tuple(out)


def _volumes(raw: Mapping[str, Any], where: str) -> tuple[VolumeSpec, ...]:
    out = []
    if "volume" in raw:
        v = raw["volume"]
        out.append(VolumeSpec("", str(v["path"]), int(v["size"])))
    for name, v in (raw.get("volumes") or {}).items():
        out.append(VolumeSpec(str(name), str(v["path"]), int(v["size"])))
    return tuple(out)


def _ports(raw: Mapping[str, Any] | None) -> tuple[PortSpec, ...]:
    return tuple(
        PortSpec(str(name), int(v.get("port", 0)), v.get("env-key"))
        for name, v in (raw or {}).items()
    )


def _placement(raw: Any, where: str) -> tuple[tuple[str, ...], ...]:
    from actors.framework import Constraint

    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SpecError(where, f"not a JSON list of constraints: {exc.msg}") from None
    if not isinstance(raw, list):
        raise SpecError(where, f"{raw!r:.60} is not a list of constraints")
    out = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, list)
            or not 2 <= len(item) <= 3
            or not all(isinstance(x, str) for x in item)
        ):
            raise SpecError(f"{where}.{i}", f"{item!r:.60} is not [field, OPERATOR(, value)]")
        problems = Constraint.from_json(item).problems()
        if problems:
            raise SpecError(f"{where}.{i}", problems[0])
        out.append(tuple(item))
    return tuple(out)


def _read_template(base: Path | None, rel: str, where: str) -> str | None:
    if base is None:
        return None
    path = (base / rel).resolve()
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(where, f"template {rel!r} cannot be read: {exc.strerror}") from None


def _build(doc: dict[str, Any], base: Path | None) -> ServiceSpec:
    name = str(doc["name"])
    sched = doc.get("scheduler") or {}
    pods: dict[str, PodSpec] = {}
    for pod_name, raw_pod in doc["pods"].items():
        where = f"pods.{pod_name}"
        sets: dict[str, ResourceSet] = {}
        for rs_name, rs in (raw_pod.get("resource-sets") or {}).items():
            sets[rs_name] = ResourceSet(
                rs_name,
                float(rs["cpus"]),
                float(rs["memory"]),
                _ports(rs.get("ports")),
                _volumes(rs, f"{where}.resource-sets.{rs_name}"),
            )
        tasks: dict[str, TaskSpec] = {}
        for task_name, t in raw_pod["tasks"].items():
            tw = f"{where}.tasks.{task_name}"
            rs_name = t.get("resource-set")
            if rs_name is not None:
                if rs_name not in sets:
                    raise SpecError(
                        f"{tw}.resource-set", f"{rs_name!r} is not a resource set of pod {pod_name}"
                    )
                for key in ("cpus", "memory", "ports", "volume", "volumes"):
                    if key in t:
                        raise SpecError(
                            f"{tw}.{key}", f"given by resource set {rs_name!r}: remove it here"
                        )
            else:
                for key in ("cpus", "memory"):
                    if key not in t:
                        raise SpecError(f"{tw}.{key}", "required (or a resource-set)")
                rs_name = f"{task_name}-resource-set"
                sets[rs_name] = ResourceSet(
                    rs_name,
                    float(t["cpus"]),
                    float(t["memory"]),
                    _ports(t.get("ports")),
                    _volumes(t, tw),
                )
            configs = tuple(
                ConfigSpec(
                    cn,
                    str(c["template"]),
                    str(c["dest"]),
                    _read_template(base, str(c["template"]), f"{tw}.configs.{cn}.template"),
                )
                for cn, c in (t.get("configs") or {}).items()
            )
            goal = "FINISH" if t["goal"] == "FINISHED" else str(t["goal"])
            tasks[task_name] = TaskSpec(
                name=task_name,
                goal=goal,
                cmd=str(t["cmd"]),
                resource_set=rs_name,
                env=tuple(sorted((str(k), _env_text(v)) for k, v in (t.get("env") or {}).items())),
                essential=bool(t.get("essential", True)),
                readiness=_check(t.get("readiness-check")),
                health=_check(t.get("health-check")),
                configs=configs,
                kill_grace=float(t["kill-grace-period"]) if "kill-grace-period" in t else None,
                limits=task_limits(t.get("resource-limits"), sets[rs_name], tw),
            )
        pod = PodSpec(
            name=pod_name,
            count=int(raw_pod["count"]),
            tasks=tasks,
            resource_sets=sets,
            volumes=_volumes(raw_pod, where),
            placement=_placement(raw_pod.get("placement"), f"{where}.placement"),
            user=raw_pod.get("user"),
            quorum=raw_pod.get("quorum"),
            uris=tuple(raw_pod.get("uris") or ()),
        )
        _check_pod(pod, where)
        pods[pod_name] = pod
    plans = {
        plan_name: _plan(plan_name, raw, pods)
        for plan_name, raw in (doc.get("plans") or {}).items()
    }
    for default in ("deploy", "update"):
        if default not in plans:
            source = plans.get("deploy")
            plans[default] = (
                PlanSpec(default, source.strategy, source.phases)
                if source is not None
                else _default_plan(default, pods)
            )
    return ServiceSpec(
        name=name,
        role=str(sched.get("role") or f"{name}-role"),
        principal=str(sched.get("principal") or f"{name}-principal"),
        user=sched.get("user"),
        pods=pods,
        plans=plans,
        raw=doc,
    )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_pod(pod: PodSpec, where: str) -> None:
    seen: dict[str, str] = {}
    for rs in pod.resource_sets.values():
        for port in rs.ports:
            if port.name in seen:
                raise SpecError(
                    f"{where}.tasks.{port.name}",
                    f"port name {port.name!r} is used twice in the pod",
                )
            seen[port.name] = rs.name
    paths: set[str] = set()
    for v in pod.all_volumes():
        if v.path in paths:
            raise SpecError(f"{where}.volume", f"volume path {v.path!r} is used twice in the pod")
        paths.add(v.path)
    if pod.quorum is not None and pod.quorum > pod.count:
        raise SpecError(f"{where}.quorum", f"{pod.quorum} is more than the pod's count {pod.count}")


def _default_plan(name: str, pods: Mapping[str, PodSpec]) -> PlanSpec:
    """dcos-commons' default: one serial phase per pod, one step per instance with its
    RUNNING and ONCE tasks."""
    phases = []
    for pod in pods.values():
        tasks = tuple(t.name for t in pod.tasks.values() if t.goal != "FINISH")
        if not tasks:
            continue
        steps = tuple(
            StepSpec(f"{pod.name}-{i}:[{', '.join(tasks)}]", pod.name, i, tasks)
            for i in range(pod.count)
        )
        phases.append(PhaseSpec(f"{pod.name}", pod.name, "serial", steps))
    return PlanSpec(name, "serial", tuple(phases))


def _plan(plan_name: str, raw: Mapping[str, Any], pods: Mapping[str, PodSpec]) -> PlanSpec:
    phases: list[PhaseSpec] = []
    for phase_name, ph in raw["phases"].items():
        where = f"plans.{plan_name}.phases.{phase_name}"
        pod = pods.get(ph["pod"])
        if pod is None:
            raise SpecError(f"{where}.pod", f"{ph['pod']!r} is not a pod of the service")
        steps: list[StepSpec] = []
        entries: dict[str, list[list[str]]] = {}
        for i, entry in enumerate(ph.get("steps") or []):
            ((key, value),) = entry.items()
            if key != "default" and int(key) >= pod.count:
                raise SpecError(
                    f"{where}.steps.{i}.{key}", f"pod {pod.name} has {pod.count} instance(s)"
                )
            for j, group in enumerate(value):
                for task in group:
                    if task not in pod.tasks:
                        raise SpecError(
                            f"{where}.steps.{i}.{key}.{j}",
                            f"{task!r} is not a task of pod {pod.name}",
                        )
                for a in group:
                    for b in group:
                        if a != b and pod.conflicts(a, b):
                            raise SpecError(
                                f"{where}.steps.{i}.{key}.{j}",
                                f"tasks {a} and {b} share resources and cannot run together",
                            )
            entries[str(key)] = value
        default = entries.get("default")
        if not entries:
            default = [[t.name for t in pod.tasks.values() if t.goal != "FINISH"]]
        for index in range(pod.count):
            groups = entries.get(str(index), default)
            if groups is None:
                continue
            for group in groups:
                steps.append(
                    StepSpec(
                        f"{pod.name}-{index}:[{', '.join(group)}]", pod.name, index, tuple(group)
                    )
                )
        phases.append(
            PhaseSpec(
                phase_name,
                pod.name,
                str(ph.get("strategy", "serial")),
                tuple(steps),
                tuple(ph.get("dependencies") or ()),
            )
        )
    names = {ph.name for ph in phases}
    for ph in phases:
        for dep in ph.dependencies:
            if dep not in names:
                raise SpecError(
                    f"plans.{plan_name}.phases.{ph.name}.dependencies",
                    f"{dep!r} is not a phase of the plan",
                )
    cycle = _cycle({ph.name: ph.dependencies for ph in phases})
    if cycle:
        raise SpecError(
            f"plans.{plan_name}.phases.{cycle[0]}.dependencies", "cycle: " + " -> ".join(cycle)
        )
    return PlanSpec(plan_name, str(raw.get("strategy", "serial")), tuple(phases))


def _cycle(graph: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One dependency cycle (``[a, b, a]``), or [] when the graph has none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


# ------------------------------------------------------------------------------ updates


def check_update(old: ServiceSpec, new: ServiceSpec) -> list[str]:
    """Why ``new`` may not replace ``old`` (empty: it may), dcos-commons' config
    validators: the service name, a pod's volumes (path, size) and user, a count below
    the pod's quorum, a removed pod."""
    problems: list[str] = []
    if old.name != new.name:
        problems.append(f"name: cannot change from {old.name!r} to {new.name!r}")
    for pod_name, pod in old.pods.items():
        npod = new.pods.get(pod_name)
        if npod is None:
            problems.append(f"pods.{pod_name}: a pod cannot be removed")
            continue
        olds = sorted((v.name, v.path, v.size) for v in pod.all_volumes())
        news = sorted((v.name, v.path, v.size) for v in npod.all_volumes())
        if olds != news:
            problems.append(
                f"pods.{pod_name}.volume: volumes cannot change ({_vols(olds)} -> {_vols(news)})"
            )
        quorum = npod.quorum or pod.quorum
        if quorum is not None and npod.count < quorum:
            problems.append(
                f"pods.{pod_name}.count: {npod.count} is below the pod's quorum of {quorum}"
            )
        if npod.count < pod.count and npod.quorum is None and pod.quorum is None:
            problems.append(
                f"pods.{pod_name}.count: cannot shrink from {pod.count} to {npod.count} "
                "(the instances hold data; decommission is not supported)"
            )
        if (pod.user or old.user) != (npod.user or new.user):
            problems.append(f"pods.{pod_name}.user: cannot change")
    return problems


def _vols(vols: list[tuple[str, str, int]]) -> str:
    return ", ".join(f"{p}:{s}MB" for _, p, s in vols) or "none"


def refuse_update(old: ServiceSpec, new: ServiceSpec) -> None:
    problems = check_update(old, new)
    if problems:
        raise UpdateRefused("; ".join(problems))
