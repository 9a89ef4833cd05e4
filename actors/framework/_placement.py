"""Placement, shared by every framework: may this task run on this offer, and if not, why?

Three pure checks, each of which explains a refusal (Nomad's scheduler records a reason
per rejected node; `pydcos marathon app show`, `GET /v2/queue` and Metronome's runs show
them to the user):

- ``fit``: the offer's free cpus/mem/disk/gpus and ports against a ``Demand``. The reason
  is one of Marathon's codes (InsufficientCpus, InsufficientMemory, InsufficientDisk,
  InsufficientGpus, InsufficientPorts; UnfulfilledRole when the totals fit only with
  resources reserved for a role, since tasks take unreserved ones) plus a detail
  ("cpus: need 2, offer has 1").
- ``containerizer_ok``: an agent that names its containerizers (attribute
  ``containerizers``, e.g. "mesos,docker") must run the task's kind (code
  UnsupportedContainerizer).
- ``match``: placement constraints (``[["hostname", "UNIQUE"]]``) given where the other
  instances run (code UnfulfilledConstraint). Semantics follow Marathon's constraints
  documentation:

  - UNIQUE: no two instances share the field's value.
  - CLUSTER: all instances share one value: the given one, or (without a value) whatever
    value the first instance landed on.
  - GROUP_BY: spread evenly across the field's values; an agent is acceptable if its
    value is not used yet, or if it is one of the least loaded values. An optional value
    is the minimum number of distinct values to spread over before doubling up.
  - LIKE / UNLIKE: the field's value matches / does not match the regex (full match).
  - MAX_PER: at most `value` instances per field value.
  - IS: the field's value equals `value` exactly.

  An agent without the attribute satisfies only UNLIKE (Marathon's rule).

``place`` chains the three in that order (cheapest first) and returns the first refusal.
No I/O, no clock: everything is an argument.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from actors.framework._errors import InvalidSpec
from actors.resources import Resources

if TYPE_CHECKING:  # the protocol module loads the transport (zmq): types only
    from actors import protocol as p


CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
"""Marathon's operators; Metronome reads its EQ as IS."""
HOSTNAME_FIELDS = frozenset({"hostname", "@hostname"})


@dataclass(frozen=True)
class Constraint:
    """One placement rule: `field` (hostname or an agent attribute), operator, value."""

    field: str
    operator: str
    value: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Constraint:
        """Accept the app form `["f", "OP", "v"]` and the pod form `{"fieldName": ...}`.

        Shape is checked by the schema first; this only converts.
        """
        if isinstance(raw, Mapping):
            return cls(str(raw["fieldName"]), str(raw["operator"]), raw.get("value"))
        items = list(raw)
        return cls(str(items[0]), str(items[1]), items[2] if len(items) > 2 else None)

    def to_json(self) -> list[str]:
        """Marathon's app response always uses the array form."""
        out = [self.field, self.operator]
        if self.value is not None:
            out.append(self.value)
        return out

    def label(self) -> str:
        """`hostname:UNIQUE` or `rack:LIKE:r[12]`, the prefix of every reason."""
        return ":".join(self.to_json())

    def problems(self) -> list[str]:
        """Why this constraint is malformed (empty when well-formed)."""
        op, value = self.operator, self.value
        if op not in CONSTRAINT_OPERATORS:
            return [
                f"unknown constraint operator {op!r}; use one of {', '.join(CONSTRAINT_OPERATORS)}"
            ]
        if op == "UNIQUE" and value is not None:
            return [f"UNIQUE takes no value, got {value!r}"]
        if op in ("LIKE", "UNLIKE", "IS", "MAX_PER") and value is None:
            return [f"{op} needs a value"]
        if op in ("LIKE", "UNLIKE") and value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                return [f"{op} value {value!r} is not a valid regular expression: {exc}"]
        if op == "MAX_PER" and not _positive_int(value):
            return [f"MAX_PER value must be a positive integer, got {value!r}"]
        if op == "GROUP_BY" and value is not None and not _positive_int(value):
            return [f"GROUP_BY value must be a positive integer (number of groups), got {value!r}"]
        return []


def _positive_int(value: str | None) -> bool:
    return value is not None and value.isdigit() and int(value) > 0


@dataclass(frozen=True)
class Agent:
    """What the matcher needs of an agent: its hostname and its text attributes."""

    hostname: str
    attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def value_of(self, name: str) -> str | None:
        """The constrained value: the hostname for `hostname`, else the attribute."""
        if name in HOSTNAME_FIELDS:
            return self.hostname
        return self.attributes.get(name)


class Match(NamedTuple):
    """`(ok, reason)`; reason explains a refusal, or is "ok"."""

    ok: bool
    reason: str


def match(constraints: Iterable[Constraint], agent: Agent, placed: Sequence[Agent] = ()) -> Match:
    """May one more instance run on `agent`, given the agents of running instances?

    `placed` holds one entry per running (or launching) instance of the same app. All
    refusals are reported, joined by "; ", so one look tells everything to fix.
    """
    reasons = [r.reason for r in (match_one(c, agent, placed) for c in constraints) if not r.ok]
    return Match(False, "; ".join(reasons)) if reasons else Match(True, "ok")


def _where(name: str, value: str) -> str:
    return f"host {value}" if name in HOSTNAME_FIELDS else f"{name}={value}"


def match_one(constraint: Constraint, agent: Agent, placed: Sequence[Agent] = ()) -> Match:
    """Check one constraint; see the module docstring for each operator's rule."""
    name, op, want = constraint.field, constraint.operator, constraint.value
    label = constraint.label()
    have = agent.value_of(name)
    if have is None:
        if op == "UNLIKE":
            return Match(True, "ok")
        return Match(False, f"{label}: agent {agent.hostname} has no attribute {name}")
    used = Counter(v for v in (other.value_of(name) for other in placed) if v is not None)
    where = _where(name, have)

    if op == "UNIQUE":
        if used[have]:
            return Match(False, f"{label}: {where} already runs an instance")
    elif op == "CLUSTER":
        target = want if want is not None else next(iter(used), None)
        if target is not None and have != target:
            return Match(
                False, f"{label}: instances must run on {_where(name, target)}, not {where}"
            )
    elif op == "GROUP_BY":
        minimum = int(want) if want is not None else 0
        if used[have]:
            if len(used) < minimum:
                return Match(
                    False,
                    f"{label}: only {len(used)} of {minimum} {name} values used yet; "
                    f"waiting for an agent with a new value instead of {where}",
                )
            least = min(used.values())
            if used[have] > least:
                return Match(
                    False,
                    f"{label}: {where} already runs {used[have]} instances, "
                    f"another {name} value runs only {least}",
                )
    elif op == "LIKE":
        if want is None or re.fullmatch(want, have) is None:
            return Match(False, f"{label}: {where} does not match {want}")
    elif op == "UNLIKE":
        if want is not None and re.fullmatch(want, have) is not None:
            return Match(False, f"{label}: {where} matches {want}")
    elif op == "MAX_PER":
        limit = int(want) if want is not None else 0
        if used[have] >= limit:
            return Match(
                False, f"{label}: {where} already runs {used[have]} instances (max {limit})"
            )
    elif op == "IS":
        if have != want:
            return Match(False, f"{label}: {where}, needs exactly {want}")
    else:
        return Match(False, f"{label}: unknown operator {op}")
    return Match(True, "ok")


# ------------------------------------------------------------------- the agent of an offer


def attribute_text(value: Any) -> str:
    """An agent attribute as constraints see it: ``rack:1`` is "1", not "1.0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def agent_of(offer: p.Offer) -> Agent:
    """The matcher's view of the agent behind ``offer``."""
    attributes = {str(k): attribute_text(v) for k, v in (offer.attributes or {}).items()}
    return Agent(offer.hostname, MappingProxyType(attributes))


# ----------------------------------------------------------------------------- resources

INSUFFICIENT_CPUS = "InsufficientCpus"
INSUFFICIENT_MEMORY = "InsufficientMemory"
INSUFFICIENT_DISK = "InsufficientDisk"
INSUFFICIENT_GPUS = "InsufficientGpus"
INSUFFICIENT_PORTS = "InsufficientPorts"
UNFULFILLED_CONSTRAINT = "UnfulfilledConstraint"
UNSUPPORTED_CONTAINERIZER = "UnsupportedContainerizer"
UNFULFILLED_ROLE = "UnfulfilledRole"
"""Reason codes (Marathon's, plus the containerizer one): ``GET /v2/queue`` counts them."""

_SCALARS = (
    ("cpus", INSUFFICIENT_CPUS),
    ("mem", INSUFFICIENT_MEMORY),
    ("disk", INSUFFICIENT_DISK),
    ("gpus", INSUFFICIENT_GPUS),
)
_PORTS_PER_RANGE = 2000
"""About this many ports of one offered range are considered (a whole 0-65535 range
would cost a list of 65k ints per offer for nothing)."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What one task asks of an offer."""

    cpus: float
    """CPU shares."""
    mem: float
    """Memory in MB."""
    disk: float = 0.0
    """Disk in MB."""
    gpus: float = 0.0
    """Whole GPUs."""
    ports: tuple[int, ...] = ()
    """Host ports in the task's order: 0 = any offered port, else exactly that port."""

    def __post_init__(self) -> None:
        for name in ("cpus", "mem", "disk", "gpus"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InvalidSpec(f"Demand.{name} must be a number >= 0, got {value!r}")
        for port in self.ports:
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise InvalidSpec(f"Demand.ports: {port!r} is not a port number (0-65535)")

    def scalars(self) -> dict[str, float]:
        return {"cpus": self.cpus, "mem": self.mem, "disk": self.disk, "gpus": self.gpus}


class Fit(NamedTuple):
    """``fit``'s answer: what to take from the offer, or why it does not fit."""

    resources: Resources | None
    """The resources to launch with (scalars and the chosen ports); None: no fit."""
    ports: list[int]
    """The chosen host ports, in the order of ``Demand.ports``."""
    reason: str = ""
    """A reason code (InsufficientCpus, ...); empty when it fits."""
    detail: str = ""
    """What a user reads: "cpus: need 2, offer has 1"."""

    @property
    def ok(self) -> bool:
        return self.resources is not None


def port_list(free: Resources) -> list[int]:
    """The offered ports, ascending (capped per range, see ``_PORTS_PER_RANGE``)."""
    out: list[int] = []
    for begin, end in free.ranges("ports"):
        out.extend(range(begin, min(end, begin + _PORTS_PER_RANGE) + 1))
    return out


def _refused(reason: str, detail: str) -> Fit:
    return Fit(None, [], reason, detail)


def fit(demand: Demand, free: Resources, free_ports: Sequence[int] | None = None) -> Fit:
    """Does one task of ``demand`` fit in ``free``? Scalars first, then ports.

    ``free_ports`` is ``port_list(free)`` minus the ports already taken from this offer
    (pass it when placing several tasks on one offer; default: computed from ``free``).
    Fixed ports must be offered; each 0 takes the lowest spare port not fixed by the
    same task, so a task's ports keep their order (a fixed port sits at its own index).
    """
    have = free.scalars()
    for name, reason in _SCALARS:
        want = getattr(demand, name)
        if want > 0 and have.get(name, 0.0) + 1e-9 < want:
            return _refused(reason, f"{name}: need {want:g}, offer has {have.get(name, 0.0):g}")
    offered = list(port_list(free) if free_ports is None else free_ports)
    fixed = [port for port in demand.ports if port]
    available = set(offered)
    for port in fixed:
        if port not in available:
            return _refused(INSUFFICIENT_PORTS, f"ports: host port {port} is not offered")
    dynamic = len(demand.ports) - len(fixed)
    spare: list[int] = []
    if dynamic:
        taken = set(fixed)
        spare = [port for port in offered if port not in taken][:dynamic]
        if len(spare) < dynamic:
            return _refused(
                INSUFFICIENT_PORTS, f"ports: need {dynamic} port(s), offer has {len(offered)}"
            )
    spare_iter = iter(spare)
    ports = [port if port else next(spare_iter) for port in demand.ports]
    need = Resources.from_scalars(demand.scalars())
    if ports:
        need = need + Resources.from_dict({"ports": [[x, x] for x in sorted(ports)]})
    if not free.contains(need):  # the totals fit, but not as unreserved resources
        return _refused(
            UNFULFILLED_ROLE, f"resources: {need} fit only with resources reserved for a role"
        )
    return Fit(need, ports)


# ------------------------------------------------------------------------ containerizers

CONTAINERIZERS_ATTRIBUTE = "containerizers"
"""The agent attribute naming its containerizers: "mesos", "mesos,docker", "simulated"."""


def containerizer_ok(kind: str, agent: Agent) -> Match:
    """May a task for containerizer ``kind`` ("mesos" or "docker") run on ``agent``?

    An agent that does not name its containerizers is trusted (in-process test agents),
    and a "simulated" agent runs anything.
    """
    if kind not in ("mesos", "docker"):
        raise InvalidSpec(f"containerizer kind must be 'mesos' or 'docker', got {kind!r}")
    raw = agent.attributes.get(CONTAINERIZERS_ATTRIBUTE)
    if raw is None:
        return Match(True, "ok")
    names = {n.strip() for n in re.split(r"[,/]", str(raw)) if n.strip()}  # agents: "mesos/docker"
    if "simulated" in names or kind in names:
        return Match(True, "ok")
    return Match(
        False,
        f"containerizer: agent {agent.hostname} runs {','.join(sorted(names)) or 'none'}, "
        f"the task needs {kind}",
    )


# --------------------------------------------------------------------------------- chain


def place(
    demand: Demand,
    free: Resources,
    agent: Agent,
    *,
    constraints: Sequence[Constraint] = (),
    placed: Sequence[Agent] = (),
    containerizer: str | None = None,
    free_ports: Sequence[int] | None = None,
) -> Fit:
    """Resources, then the containerizer (when given), then the constraints: the first
    refusal, or what to take. ``placed`` holds the agents of the other instances."""
    got = fit(demand, free, free_ports)
    if not got.ok:
        return got
    if containerizer is not None:
        verdict = containerizer_ok(containerizer, agent)
        if not verdict.ok:
            return _refused(UNSUPPORTED_CONTAINERIZER, verdict.reason)
    if constraints:
        verdict = match(constraints, agent, placed)
        if not verdict.ok:
            return _refused(UNFULFILLED_CONSTRAINT, f"constraint {verdict.reason}")
    return got
