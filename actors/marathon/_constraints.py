"""Placement constraints (`[["hostname", "UNIQUE"]]`) and the pure matcher.

The matcher answers one question for the offer loop: may one more instance of this app
run on this agent, given where its instances run now? It never does I/O and always says
why not, so `pydcos marathon app show` can tell a user why an app is waiting (Nomad's
scheduler records a reason per rejected node in the same way).

Semantics follow Marathon's constraints documentation:

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
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from ._schema import CONSTRAINT_OPERATORS

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
    used = Counter(v for v in (p.value_of(name) for p in placed) if v is not None)
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
