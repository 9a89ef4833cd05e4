"""Metronome job specs: parse, validate, apply defaults, render.

`JobSpec.from_json` is the only way user JSON becomes a job: the JSON schema rejects
bad shapes, ranges and unknown fields, then semantic checks reject what a schema cannot
express well (a job needs a command or an image, cmd vs args, constraint regexes,
schedule cron/time zone). Every problem is reported at once in Metronome's 422 shape,
each at the JSON pointer of the field to fix. After that the rest of pydcos trusts every
field and default.

Defaults follow Metronome's ``JobRunSpec``/``RestartSpec``/``Artifact``: cpus 1, mem 128,
disk 0, gpus 0, maxLaunchDelay 3600 s, restart NEVER without active deadline, artifacts
extract=true executable=false cache=false, docker forcePullImage=false.

Placement constraints are Metronome's ``{"attribute", "operator", "value"}`` objects but
are held as `actors.framework.Constraint`, so one matcher (the toolkit's) decides placement
for services and jobs alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors._validation import empty_map, frozen_map, json_problems
from actors.framework import Agent, Constraint, Match, match
from actors.protocol import volume_problem

from ._errors import ValidationFailed
from ._schedule import ScheduleSpec, schedule_problems
from ._schema import (
    JOB_ID_PATTERN,
    JOB_VALIDATOR,
    MAX_CMD_LENGTH,
    MAX_CPUS,
    MAX_DISK_MB,
    MAX_ID_LENGTH,
    MAX_MEM_MB,
    MIN_CPUS,
    MIN_MEM,
    schema_problems,
)

DEFAULT_CPUS = 1.0
DEFAULT_MEM = 128.0
DEFAULT_DISK = 0.0
DEFAULT_GPUS = 0
DEFAULT_MAX_LAUNCH_DELAY_SECONDS = 3600
"""Metronome's ``JobRunSpec.DefaultMaxLaunchDelay = 1.hour``."""
DEFAULT_RESTART_POLICY = "NEVER"


def _drop_nulls(value: Any) -> Any:
    """`null` means "not given" (as Metronome's readers treat optional fields)."""
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@dataclass(frozen=True)
class Artifact:
    """A URI the Mesos fetcher downloads into the sandbox before the task starts."""

    uri: str
    executable: bool = False
    extract: bool = True
    cache: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Artifact:
        return cls(
            uri=raw["uri"],
            executable=raw.get("executable", False),
            extract=raw.get("extract", True),
            cache=raw.get("cache", False),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "executable": self.executable,
            "extract": self.extract,
            "cache": self.cache,
        }


@dataclass(frozen=True)
class DockerSpec:
    """Run the job in a Docker image (the Docker runtime)."""

    image: str
    force_pull_image: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "forcePullImage": self.force_pull_image}


@dataclass(frozen=True)
class Volume:
    """A host path mounted into the job's container."""

    container_path: str
    host_path: str
    mode: str

    def to_json(self) -> dict[str, Any]:
        return {"containerPath": self.container_path, "hostPath": self.host_path, "mode": self.mode}


@dataclass(frozen=True)
class RestartSpec:
    """What a run does when its task fails.

    NEVER: the first failure fails the run. ON_FAILURE: relaunch (with backoff) while
    ``now < run.created_at + active_deadline_seconds``; no deadline means forever.
    """

    policy: str = DEFAULT_RESTART_POLICY
    active_deadline_seconds: int | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> RestartSpec:
        raw = raw or {}
        return cls(raw.get("policy", DEFAULT_RESTART_POLICY), raw.get("activeDeadlineSeconds"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy}
        if self.active_deadline_seconds is not None:
            out["activeDeadlineSeconds"] = self.active_deadline_seconds
        return out


def constraint_from_json(raw: Mapping[str, Any]) -> Constraint:
    """Metronome's constraint object as the toolkit's `Constraint` (EQ is read as IS)."""
    operator = "IS" if raw["operator"] == "EQ" else raw["operator"]
    return Constraint(raw["attribute"], operator, raw.get("value"))


def constraint_to_json(constraint: Constraint) -> dict[str, Any]:
    """Metronome's ``{"attribute", "operator", "value"}`` rendering."""
    out: dict[str, Any] = {"attribute": constraint.field, "operator": constraint.operator}
    if constraint.value is not None:
        out["value"] = constraint.value
    return out


@dataclass(frozen=True)
class RunSpec:
    """The `run` part of a job: what one task of one run attempt looks like."""

    cmd: str | None = None
    args: tuple[str, ...] | None = None
    cpus: float = DEFAULT_CPUS
    mem: float = DEFAULT_MEM
    disk: float = DEFAULT_DISK
    gpus: int = DEFAULT_GPUS
    env: Mapping[str, str] = field(default_factory=empty_map)
    user: str | None = None
    artifacts: tuple[Artifact, ...] = ()
    docker: DockerSpec | None = None
    constraints: tuple[Constraint, ...] = ()
    volumes: tuple[Volume, ...] = ()
    restart: RestartSpec = field(default_factory=RestartSpec)
    task_kill_grace_period_seconds: float | None = None
    max_launch_delay_seconds: int = DEFAULT_MAX_LAUNCH_DELAY_SECONDS

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RunSpec:
        """Convert already-validated JSON; use `JobSpec.from_json` for user input."""
        docker = raw.get("docker")
        args = raw.get("args")
        return cls(
            cmd=raw.get("cmd"),
            args=tuple(args) if args is not None else None,
            cpus=float(raw.get("cpus", DEFAULT_CPUS)),
            mem=float(raw.get("mem", DEFAULT_MEM)),
            disk=float(raw.get("disk", DEFAULT_DISK)),
            gpus=int(raw.get("gpus", DEFAULT_GPUS)),
            env=frozen_map(raw.get("env")),
            user=raw.get("user"),
            artifacts=tuple(Artifact.from_json(a) for a in raw.get("artifacts", [])),
            docker=(
                DockerSpec(docker["image"], docker.get("forcePullImage", False))
                if docker is not None
                else None
            ),
            constraints=tuple(
                constraint_from_json(c) for c in raw.get("placement", {}).get("constraints", [])
            ),
            volumes=tuple(
                Volume(v["containerPath"], v["hostPath"], v["mode"]) for v in raw.get("volumes", [])
            ),
            restart=RestartSpec.from_json(raw.get("restart")),
            task_kill_grace_period_seconds=raw.get("taskKillGracePeriodSeconds"),
            max_launch_delay_seconds=int(
                raw.get("maxLaunchDelay", DEFAULT_MAX_LAUNCH_DELAY_SECONDS)
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """Metronome's rendering: every default spelled out, absent optionals omitted."""
        out: dict[str, Any] = {
            "cpus": self.cpus,
            "mem": self.mem,
            "disk": self.disk,
            "gpus": self.gpus,
            "env": dict(self.env),
            "artifacts": [a.to_json() for a in self.artifacts],
            "placement": {"constraints": [constraint_to_json(c) for c in self.constraints]},
            "volumes": [v.to_json() for v in self.volumes],
            "restart": self.restart.to_json(),
            "maxLaunchDelay": self.max_launch_delay_seconds,
        }
        if self.cmd is not None:
            out["cmd"] = self.cmd
        if self.args is not None:
            out["args"] = list(self.args)
        if self.user is not None:
            out["user"] = self.user
        if self.docker is not None:
            out["docker"] = self.docker.to_json()
        if self.task_kill_grace_period_seconds is not None:
            out["taskKillGracePeriodSeconds"] = self.task_kill_grace_period_seconds
        return out

    def placement(self, agent: Agent) -> Match:
        """May this job's task run on `agent`? the shared matcher, with its reasons.

        A run has one task at a time, so no "placed" instances take part (IS, LIKE and
        UNLIKE do not depend on them anyway).
        """
        return match(self.constraints, agent)


_PLAIN_JOB_KEYS = frozenset(("id", "run", "description"))
_PLAIN_RUN_LIMITS = {
    "cpus": (MIN_CPUS, MAX_CPUS),
    "mem": (MIN_MEM, MAX_MEM_MB),
    "disk": (0, MAX_DISK_MB),
}
_JOB_ID = re.compile(JOB_ID_PATTERN)


def plain_job(data: Any) -> bool:
    """Whether ``data`` is ``{"id", "run": {"cmd", "cpus", "mem", "disk"}}`` (and maybe a
    ``description``) with every value as the schema wants it: such a job needs none of
    `JobSpec.from_json_checked`'s other checks (test: random bodies both ways). Anything
    else (a null, a bool, another key, a bad value) is left to the full checks."""
    if type(data) is not dict or not data.keys() <= _PLAIN_JOB_KEYS:
        return False
    job_id = data.get("id")
    if type(job_id) is not str or len(job_id) > MAX_ID_LENGTH or not _JOB_ID.search(job_id):
        return False
    description = data.get("description", "")
    if type(description) is not str or len(description) > 4096:
        return False
    run = data.get("run")
    if type(run) is not dict or "cmd" not in run:
        return False
    for key, value in run.items():
        if key == "cmd":
            if type(value) is not str or not 1 <= len(value) <= MAX_CMD_LENGTH or "\x00" in value:
                return False
            continue
        limits = _PLAIN_RUN_LIMITS.get(key)
        if limits is None or type(value) not in (int, float):
            return False
        if not limits[0] <= value <= limits[1] or not math.isfinite(value):
            return False
    return True


def _run_problems(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    has_image = isinstance(run.get("docker"), Mapping) and bool(run["docker"].get("image"))
    if "cmd" in run and "args" in run:
        problems.append(("/run/args", "cmd and args are mutually exclusive; give one of them"))
    if "cmd" not in run and not has_image:
        problems.append(
            ("/run/cmd", "a job needs run.cmd or run.docker.image (Cmd or docker image)")
        )
    if "\x00" in run.get("cmd", ""):
        problems.append(("/run/cmd", "cmd contains a NUL character"))
    for index, arg in enumerate(run.get("args") or ()):
        if "\x00" in arg:
            problems.append((f"/run/args/{index}", "an argument contains a NUL character"))
    for name, value in (run.get("env") or {}).items():
        if "\x00" in value:
            problems.append((f"/run/env/{name}", "the value contains a NUL character"))
    for index, volume in enumerate(run.get("volumes") or ()):
        # Mesos' rules, the same as Marathon's: relative paths stay in the sandbox.
        bad = volume_problem(volume["containerPath"], volume["hostPath"])
        if bad is not None:
            field_name = "containerPath" if bad[0] == "container_path" else "hostPath"
            problems.append((f"/run/volumes/{index}/{field_name}", bad[1]))
    constraints = run.get("placement", {}).get("constraints", [])
    for index, raw in enumerate(constraints):
        for message in constraint_from_json(raw).problems():
            problems.append((f"/run/placement/constraints/{index}/value", message))
    return problems


@dataclass(frozen=True)
class JobSpec:
    """A Metronome job: identity, metadata, its run spec and its schedules."""

    id: str
    run: RunSpec
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=empty_map)
    schedules: tuple[ScheduleSpec, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> JobSpec:
        """Validate user JSON and build a job, or raise `ValidationFailed` (HTTP 422).

        Also the loader of persisted jobs: `to_json` output is always valid input.
        The plain shape most POSTs have (`plain_job`) skips the JSON-schema walk: 130 of
        the 160 us a job POST costs the event loop; the job built is the same.
        """
        if plain_job(data):
            return cls._build(data)
        return cls.from_json_checked(data)

    @classmethod
    def from_json_checked(cls, data: Any) -> JobSpec:
        """`from_json` through every check, whatever the shape."""
        # Before anything recurses (_drop_nulls, the schema): bounded depth, finite
        # numbers (a schema's minimum lets NaN through).
        problems = json_problems(data)
        if problems:
            raise ValidationFailed(problems)
        data = _drop_nulls(data)
        problems = schema_problems(JOB_VALIDATOR, data)
        if problems:
            raise ValidationFailed(problems)
        problems = _run_problems(data["run"])
        seen: set[str] = set()
        for index, raw in enumerate(data.get("schedules", [])):
            problems.extend(schedule_problems(raw, prefix=f"/schedules/{index}"))
            sid = raw.get("id")
            if isinstance(sid, str):
                if sid in seen:
                    problems.append((f"/schedules/{index}/id", f"duplicate schedule id {sid!r}"))
                seen.add(sid)
        if problems:
            raise ValidationFailed(problems)
        return cls._build(data)

    @classmethod
    def _build(cls, data: Mapping[str, Any]) -> JobSpec:
        return cls(
            id=data["id"],
            run=RunSpec.from_json(data["run"]),
            description=data.get("description"),
            labels=frozen_map(data.get("labels")),
            schedules=tuple(ScheduleSpec.from_json(s) for s in data.get("schedules", [])),
        )

    def to_json(self, *, embed_schedules: bool = True) -> dict[str, Any]:
        """Metronome's job JSON (``GET /v1/jobs/{id}``; schedules as ``embed=schedules``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "labels": dict(self.labels),
            "run": self.run.to_json(),
        }
        if self.description is not None:
            out["description"] = self.description
        if embed_schedules:
            out["schedules"] = [s.to_json() for s in self.schedules]
        return out
