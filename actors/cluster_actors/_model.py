"""What the cluster actors framework knows about each user actor. Pure, no I/O.

```
 ActorConfig  what the script asked (immutable): class, resources, constraints, name,
              restart policy, lifetime, owner; validated by ``ActorConfig.checked``
              (the wire ``runtime.ActorSpec`` with its class/args blobs is the shell's)
 ActorRecord  one actor's life: state, incarnation (task), agent, worker address,
              restarts, checkpoint facts; ``to_doc``/``from_doc`` for ZooKeeper
 Group        a supervision group: strategy, intensity/period, children in start order
```

States (``ActorState``)::

  PENDING ──launch──► STARTING ──worker ready──► RUNNING
     ▲                    │ task ended                │ task ended (crash, OOM, agent lost)
     └──── RESTARTING ◄───┴───────────────────────────┘  (policy allows a restart)
  kill / owner gone ──► STOPPING ──task ended──► STOPPED (finished list)
  policy refuses a restart, placement timeout, bad class ──► FAILED (finished list)

Names are ``namespace/name``; an actor without a name is reachable by its id only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from actors.framework import Constraint

from ._errors import InvalidActorSpec

RESTART_TYPES = ("permanent", "transient", "temporary")
"""OTP restart types: always / only after an abnormal exit / never."""
LIFETIMES = ("owned", "detached")
"""``owned``: stopped when the spawning script disconnects; ``detached``: lives on."""
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
DEFAULT_NAMESPACE = "default"
MAX_CHECKPOINT_BYTES = 1024 * 1024
"""A checkpoint larger than this is refused (it lives in ZooKeeper)."""
DEFAULT_PLACEMENT_TIMEOUT = 30.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class ActorState(StrEnum):
    PENDING = "PENDING"
    """Waiting for an offer (first placement or a re-placement)."""
    STARTING = "STARTING"
    """Its task is launched; the worker has not registered yet."""
    RUNNING = "RUNNING"
    """The worker registered: calls reach it."""
    RESTARTING = "RESTARTING"
    """Its task ended; waiting for the restart delay or an offer of its agent."""
    STOPPING = "STOPPING"
    """Killed (by a user, its owner leaving, its supervision group); task still alive."""
    STOPPED = "STOPPED"
    """Killed, its owner gone, or it exited normally (terminal)."""
    FAILED = "FAILED"
    """Its policy refused another restart, no agent could place it, or its class could
    not be built (terminal)."""

    def __str__(self) -> str:
        return self.value


LIVE_STATES = frozenset(
    {ActorState.PENDING, ActorState.STARTING, ActorState.RUNNING, ActorState.RESTARTING}
)


def _number(where: str, value: Any, *, minimum: float = 0.0) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value >= minimum:
        raise InvalidActorSpec(f"{where}: {value!r:.60} must be a number >= {minimum:g}")
    return float(value)


def check_name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidActorSpec(
            f"{where}: {value!r:.60} must be 1-128 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return value


@dataclass(frozen=True)
class ActorConfig:
    """What a script asked for one actor."""

    class_name: str
    cpus: float = 0.1
    mem: float = 64.0
    disk: float = 0.0
    constraints: tuple[Constraint, ...] = ()
    role: str = "*"
    name: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    max_restarts: int = 0
    """How many times it may be restarted (-1: without limit)."""
    restart: str = "transient"
    lifetime: str = "owned"
    owner: str = ""
    """The spawning script's actor address (watched for ``owned`` actors)."""
    code_sha: str | None = None
    """sha256 of the working_dir archive the worker's sandbox receives, if any."""
    placement_timeout: float = DEFAULT_PLACEMENT_TIMEOUT
    max_concurrency: int = 1

    @classmethod
    def checked(cls, **kw: Any) -> ActorConfig:
        """A spec from a request's fields, every one validated (message names it)."""
        class_name = kw.get("class_name")
        if not isinstance(class_name, str) or not class_name or len(class_name) > 200:
            raise InvalidActorSpec(f"class_name: {class_name!r:.60} must be a non-empty string")
        cpus = _number("cpus", kw.get("cpus", 0.1), minimum=0.01)
        mem = _number("mem", kw.get("mem", 64.0), minimum=16.0)
        disk = _number("disk", kw.get("disk", 0.0))
        raw_constraints = kw.get("constraints") or ()
        if not isinstance(raw_constraints, Sequence) or isinstance(raw_constraints, str):
            raise InvalidActorSpec(f"constraints: {raw_constraints!r:.60} must be a list of lists")
        constraints: list[Constraint] = []
        for i, raw in enumerate(raw_constraints):
            ok_shape = (
                isinstance(raw, Sequence)
                and not isinstance(raw, str)
                and 2 <= len(raw) <= 3
                and all(isinstance(x, str) for x in raw)
            )
            if not ok_shape:
                raise InvalidActorSpec(
                    f"constraints[{i}]: {raw!r:.60} must be [field, OPERATOR] or "
                    "[field, OPERATOR, value] of strings"
                )
            c = Constraint.from_json(raw)
            problems = c.problems()
            if problems:
                raise InvalidActorSpec(f"constraints[{i}]: {problems[0]}")
            constraints.append(c)
        role = kw.get("role") or "*"
        if not isinstance(role, str) or not role or role.startswith("/") or len(role) > 128:
            raise InvalidActorSpec(f"role: {role!r:.60} must be a role name")
        name = kw.get("name")
        if name is not None:
            check_name("name", name)
        namespace = check_name("namespace", kw.get("namespace") or DEFAULT_NAMESPACE)
        max_restarts = kw.get("max_restarts", 0)
        if not isinstance(max_restarts, int) or isinstance(max_restarts, bool) or max_restarts < -1:
            raise InvalidActorSpec(f"max_restarts: {max_restarts!r:.60} must be an integer >= -1")
        restart = kw.get("restart") or "transient"
        if restart not in RESTART_TYPES:
            raise InvalidActorSpec(
                f"restart: {restart!r:.60} is not one of {', '.join(RESTART_TYPES)}"
            )
        lifetime = kw.get("lifetime") or "owned"
        if lifetime == "non_detached":
            lifetime = "owned"
        if lifetime not in LIFETIMES:
            raise InvalidActorSpec(
                f"lifetime: {lifetime!r:.60} is not one of {', '.join(LIFETIMES)}"
            )
        owner = kw.get("owner") or ""
        if not isinstance(owner, str):
            raise InvalidActorSpec(f"owner: {owner!r:.60} must be an actor address")
        if lifetime == "owned" and not owner:
            raise InvalidActorSpec(
                "owner: an owned actor needs its script's address (or lifetime='detached')"
            )
        code_sha = kw.get("code_sha")
        if code_sha is not None and (not isinstance(code_sha, str) or not _SHA.match(code_sha)):
            raise InvalidActorSpec(f"code_sha: {code_sha!r:.80} is not a sha256 hex digest")
        timeout = _number(
            "placement_timeout", kw.get("placement_timeout", DEFAULT_PLACEMENT_TIMEOUT), minimum=0.1
        )
        conc = kw.get("max_concurrency", 1)
        if not isinstance(conc, int) or isinstance(conc, bool) or conc < 1:
            raise InvalidActorSpec(f"max_concurrency: {conc!r:.60} must be an integer >= 1")
        return cls(
            class_name=class_name,
            cpus=cpus,
            mem=mem,
            disk=disk,
            constraints=tuple(constraints),
            role=role,
            name=name,
            namespace=namespace,
            max_restarts=max_restarts,
            restart=restart,
            lifetime=lifetime,
            owner=owner,
            code_sha=code_sha,
            placement_timeout=timeout,
            max_concurrency=conc,
        )

    @property
    def key(self) -> str | None:
        """``namespace/name`` or None for an anonymous actor."""
        return f"{self.namespace}/{self.name}" if self.name else None

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["constraints"] = [c.to_json() for c in self.constraints]
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ActorConfig:
        return cls.checked(**dict(doc))


@dataclass
class ActorRecord:
    """One actor's life as the framework tracks it (mutated only by the core)."""

    actor_id: str
    spec: ActorConfig
    created: float
    """Wall-clock seconds."""
    state: ActorState = ActorState.PENDING
    incarnation: int = 0
    """Bumped at every launch; the task id is ``<actor id>.<incarnation>``."""
    task_id: str | None = None
    agent_id: str | None = None
    hostname: str = ""
    address: str | None = None
    """The worker's actor address once it registered (``tcp://host:port/name``)."""
    restarts: int = 0
    started_wall: float | None = None
    """When the current incarnation registered (wall clock): uptime."""
    last_exit: str = ""
    """Why the previous incarnation ended (``OOM-killed``, ``agent lost``...)."""
    last_reason: str = ""
    """Mesos reason code of the previous incarnation's end, when known."""
    group: str | None = None
    checkpoint_size: int = 0
    checkpoint_wall: float | None = None
    # -- not persisted: decisions in flight (monotonic ``now``) ------------------------
    pending_since: float | None = None
    not_before: float = 0.0
    """Restart delay: no launch before this (monotonic)."""
    prefer_agent: str | None = None
    """Restart in place: only this agent's offers until ``prefer_until``."""
    prefer_until: float = 0.0
    avoid: dict[str, float] = field(default_factory=dict)
    """Agent id -> until when (monotonic) this actor refuses its offers."""
    order: int = 0
    """Spawn order: the placement queue's tie-breaker."""
    refusals: dict[str, str] = field(default_factory=dict)
    """Agent hostname -> why its last offer could not take this actor."""
    control: str = ""
    """The worker's control address (assignments, StopWorker); not persisted."""
    ready_seen: bool = False
    """A worker of this actor registered at least once (a failure before: spawn failed)."""
    ready_at: float | None = None
    """When the current incarnation registered (monotonic): crash streaks."""
    restart_after_stop: bool = False
    """Stopped by its group's strategy: restart when the task has ended."""
    stop_as_failed: bool = False
    """Stopped because its group gave up: FAILED (not STOPPED) when the task has ended."""

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def task_id_for(self, incarnation: int) -> str:
        return f"{self.actor_id}.{incarnation}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor_id,
            "spec": self.spec.to_doc(),
            "created": self.created,
            "state": self.state.value,
            "incarnation": self.incarnation,
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "hostname": self.hostname,
            "address": self.address,
            "restarts": self.restarts,
            "started_wall": self.started_wall,
            "last_exit": self.last_exit,
            "last_reason": self.last_reason,
            "group": self.group,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_wall": self.checkpoint_wall,
            "ready_seen": self.ready_seen,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ActorRecord:
        try:
            return cls(
                actor_id=str(doc["actor_id"]),
                spec=ActorConfig.from_doc(doc["spec"]),
                created=float(doc["created"]),
                state=ActorState(doc["state"]),
                incarnation=int(doc.get("incarnation", 0)),
                task_id=doc.get("task_id"),
                agent_id=doc.get("agent_id"),
                hostname=str(doc.get("hostname", "")),
                address=doc.get("address"),
                restarts=int(doc.get("restarts", 0)),
                started_wall=doc.get("started_wall"),
                last_exit=str(doc.get("last_exit", "")),
                last_reason=str(doc.get("last_reason", "")),
                group=doc.get("group"),
                checkpoint_size=int(doc.get("checkpoint_size", 0)),
                checkpoint_wall=doc.get("checkpoint_wall"),
                ready_seen=bool(doc.get("ready_seen", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidActorSpec(f"stored actor {doc.get('actor_id')!r:.60}: {exc}") from None


@dataclass
class Group:
    """A supervision group: OTP's strategy over children that may live anywhere."""

    group_id: str
    strategy: str
    intensity: int
    period: float
    children: list[str]
    """Actor ids in start order (rest_for_one restarts the ones after the crashed one)."""
    owner: str = ""
    restarts: list[float] = field(default_factory=list)
    """Wall-clock times of the group's recent restarts (intensity bookkeeping)."""

    @classmethod
    def checked(
        cls,
        group_id: Any,
        strategy: Any,
        intensity: Any,
        period: Any,
        children: Any,
        owner: str = "",
    ) -> Group:
        check_name("group_id", group_id)
        if strategy not in STRATEGIES:
            raise InvalidActorSpec(
                f"strategy: {strategy!r:.60} is not one of {', '.join(STRATEGIES)}"
            )
        if not isinstance(intensity, int) or isinstance(intensity, bool) or intensity < 0:
            raise InvalidActorSpec(f"intensity: {intensity!r:.60} must be an integer >= 0")
        per = _number("period", period, minimum=0.001)
        if not isinstance(children, Sequence) or isinstance(children, str) or not children:
            raise InvalidActorSpec(
                f"children: {children!r:.60} must be a non-empty list of actor ids"
            )
        if not all(isinstance(c, str) and c for c in children) or len(set(children)) != len(
            children
        ):
            raise InvalidActorSpec(f"children: {children!r:.80} must be distinct actor ids")
        return cls(group_id, strategy, intensity, per, list(children), owner)

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Group:
        g = cls.checked(
            doc["group_id"],
            doc["strategy"],
            doc["intensity"],
            doc["period"],
            doc["children"],
            doc.get("owner", ""),
        )
        g.restarts = [float(t) for t in doc.get("restarts", [])]
        return g
