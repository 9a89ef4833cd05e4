"""Agent resources and attributes: Mesos' value model as immutable value objects.

Why a hand-rolled model: the allocator adds, subtracts and compares resources thousands
of times per cycle, so the representation is three plain dicts keyed by ``(name, role)``:

- scalars (cpus, mem, disk, gpus, ...) as integer *milli-units*: Mesos stores scalars in
  fixed point with three decimal digits, so 0.1 + 0.2 is exactly 0.3 and rounding drift
  can never over-commit an agent;
- ranges (ports) as a sorted tuple of merged, inclusive ``(begin, end)`` pairs;
- sets as frozensets of strings.

A role of ``"*"`` means unreserved; any other role is a static reservation for that role
(Mesos' ``cpus(web):2``). Text syntax follows Mesos' ``--resources`` and
``--attributes`` agent flags. Bad input raises :class:`ResourceError`, naming the field
and the value.

Dynamic reservations and persistent volumes (Mesos' ``Resource.reservations`` of type
DYNAMIC and ``DiskInfo.persistence``/``volume``) keep the same two-part key: the second
part is a *slot*, the role plus what distinguishes the reservation, in Mesos 1.0's text
form (``name(role,principal,{labels})[persistence_id:container_path]``):

- ``cpus(web,alice):2`` reserved dynamically for ``web`` by principal ``alice``;
  ``cpus(web,):2`` has no principal; ``cpus(web,alice,{owner:m,task:t1}):2`` has labels;
- ``disk(web,alice)[data1:data]:100`` a persistent volume of 100 MB with persistence id
  ``data1`` mounted at ``data`` (``[data1:data:RO]`` read-only);
- a volume on statically reserved disk is ``disk(web)[data1:data]:100``.

Principal, label keys/values, ids and paths are percent-encoded where they contain
``%,:;{}()[]=`` or spaces, so every key is one canonical string: two reservations are the
same resource only if role, principal and labels all match (as in Mesos). Every role
method (``roles``, ``for_role``, ``allocatable_to``...) reads the slot's role, so the
allocator offers dynamically reserved resources only to their role with no change. A
volume is atomic: ``contains`` needs the whole volume (Mesos never splits one).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias
from urllib.parse import quote, unquote

__all__ = [
    "MAX_RANGE_VALUE",
    "MAX_SCALAR",
    "UNRESERVED",
    "AttributeValue",
    "Attributes",
    "Reservation",
    "ResourceEntry",
    "ResourceError",
    "Resources",
    "Volume",
    "apply_checkpointed",
    "apply_operation",
    "from_milli",
    "merge_ranges",
    "parse_attributes",
    "parse_resources",
    "reservation_slot",
    "reserved_resources_json",
    "resource_label",
    "resources_from_v1",
    "resources_v1",
    "to_mesos_json",
    "to_milli",
    "v1_resource_label",
]

UNRESERVED = "*"
"""The role of resources that any role may be offered (Mesos' default role)."""

MAX_SCALAR = 1e12
"""Largest accepted scalar: a petabyte of memory in MB; anything above is a typo."""

MAX_RANGE_VALUE = 2**64 - 1
"""Mesos ranges are uint64."""

_MAX_PORT = 65535
_MILLI = 1000
_INTEGRAL = frozenset({"gpus"})  # Mesos rejects fractional GPUs.
_MESOS_SCALARS = ("cpus", "mem", "disk", "gpus")
_KNOWN_TYPES = {"cpus": "scalar", "mem": "scalar", "disk": "scalar", "gpus": "scalar"}
_KNOWN_TYPES["ports"] = "ranges"

_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_ROLE_RE = re.compile(r"(\*|[A-Za-z0-9_.\-/]+)\Z")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_ITEM_RE = re.compile(
    r"(?P<name>[^:()\[\]\s]+)\s*(\((?P<role>[^)]*)\))?\s*(\[(?P<vol>[^\]]*)\])?\s*:(?P<value>.*)\Z",
    re.S,
)
_LABEL_RE = re.compile(r"([^()\[\]]+)(?:\(([^)]*)\))?(?:\[([^\]]*)\])?\Z")
_SAFE = "!$&'*+./@^_`|~-"  # quote() leaves letters, digits and these; the rest is %XX
_VOLUME_MODES = ("RW", "RO")
_TEXT_RE = re.compile(r"[A-Za-z0-9_/.\-]+\Z")

Key: TypeAlias = tuple[str, str]
Ranges: TypeAlias = tuple[tuple[int, int], ...]


_KEYS: dict[Key, Key] = {}


def _key(name: str, slot: str) -> Key:
    """One shared tuple per key: bags parsed apart (an agent's total, a task's resources)
    then share key objects, so the allocator's dict lookups compare by identity."""
    k = (name, slot)
    found = _KEYS.get(k)
    if found is not None:
        return found
    if len(_KEYS) < 65536:  # bounded: keys come from agents and tasks, not per request
        _KEYS[k] = k
    return k


class ResourceError(ValueError):
    """Malformed, out-of-range or insufficient resources; the message names field and value."""


# --------------------------------------------------------------------------- helpers


def to_milli(value: float, field: str = "scalar") -> int:
    """Convert a scalar to fixed-point milli-units, rejecting NaN, inf, negatives and huge."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResourceError(f"{field}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ResourceError(f"{field}: value must be finite, got {value!r}")
    if value < 0:
        raise ResourceError(f"{field}: value must not be negative, got {value!r}")
    if value > MAX_SCALAR:
        raise ResourceError(f"{field}: value {value!r} exceeds the maximum {MAX_SCALAR:g}")
    return round(value * _MILLI)


def from_milli(milli: int) -> float:
    """Back from fixed point to a float for display and JSON."""
    return milli / _MILLI


def _check_name(name: str, field: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ResourceError(f"{field}: invalid resource name {name!r}")
    return name


def _check_role(role: str, field: str) -> str:
    if (
        not isinstance(role, str)
        or not _ROLE_RE.match(role)
        or role in (".", "..")
        or role.startswith("-")
    ):
        raise ResourceError(f"{field}: invalid role {role!r}")
    return role


def resource_label(name: str, role: str) -> str:
    """Mesos' text label of a resource: ``ports``, or ``ports(role)`` when reserved;
    ``role`` may be a slot (``web,alice`` or ``web,alice[id:path]``, see the module)."""
    if role == UNRESERVED:
        return name
    i = role.find("[")
    if i < 0:
        return f"{name}({role})"
    return f"{name}({role[:i]}){role[i:]}"


# --------------------------------------------------------------------------- reservations


@dataclass(frozen=True, slots=True)
class Reservation:
    """A dynamic reservation (Mesos' ``ReservationInfo`` of type DYNAMIC)."""

    role: str
    principal: str = ""
    """Who reserved (the operator's or framework's principal; may be empty)."""
    labels: tuple[tuple[str, str], ...] = ()
    """Sorted ``(key, value)`` pairs (Marathon tags its reservations with them)."""

    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class Volume:
    """A persistent volume on reserved disk (Mesos' ``DiskInfo.persistence``+``volume``)."""

    persistence_id: str
    container_path: str
    """Where the task sees it: relative paths are under the sandbox."""
    mode: str = "RW"
    """``RW`` or ``RO``."""


class _Slot(NamedTuple):
    role: str
    reservation: Reservation | None
    volume: Volume | None


class ResourceEntry(NamedTuple):
    """One resource of a bag with its reservation spelled out (for JSON builders)."""

    name: str
    role: str
    reservation: Reservation | None
    """None: unreserved (role ``*``) or statically reserved."""
    volume: Volume | None
    value: float | Ranges | frozenset[str]
    label: str
    """Its :meth:`Resources.to_dict` key."""


def _enc(text: str) -> str:
    return quote(text, safe=_SAFE)


def _dec(text: str, field: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ResourceError(f"{field}: bad percent-encoding in {text!r}") from None


def reservation_slot(
    role: str, principal: str = "", labels: Mapping[str, str] | None = None
) -> str:
    """The canonical slot of a dynamic reservation (``web,alice,{k:v}``)."""
    _check_role(role, "role")
    if role == UNRESERVED:
        raise ResourceError("role: resources cannot be reserved for role '*'")
    if not isinstance(principal, str) or len(principal) > 256:
        raise ResourceError(f"principal: {principal!r:.60} must be a string of <= 256 chars")
    text = f"{role},{_enc(principal)}"
    if labels:
        items = []
        for k, v in sorted(labels.items()):
            if not isinstance(k, str) or not k or not isinstance(v, str):
                raise ResourceError(f"labels: {k!r:.40}={v!r:.40} must be non-empty text keys")
            items.append(f"{_enc(k)}:{_enc(v)}")
        text += ",{" + ",".join(items) + "}"
    return text


def _volume_text(persistence_id: str, container_path: str, mode: str) -> str:
    if not isinstance(persistence_id, str) or not persistence_id or len(persistence_id) > 255:
        raise ResourceError(f"persistence id {persistence_id!r:.60} must be 1-255 chars")
    if not isinstance(container_path, str) or not container_path or "\0" in container_path:
        raise ResourceError(f"volume container_path {container_path!r:.60} must be non-empty")
    if ".." in container_path.split("/"):
        raise ResourceError(
            f"volume container_path {container_path!r:.60} escapes the sandbox (..)"
        )
    if mode not in _VOLUME_MODES:
        raise ResourceError(f"volume mode {mode!r:.20} must be RW or RO")
    suffix = ":RO" if mode == "RO" else ""
    return f"[{_enc(persistence_id)}:{_enc(container_path)}{suffix}]"


@functools.lru_cache(maxsize=8192)
def _slot(slot: str) -> _Slot:
    """Parse a canonical slot (trusted: built by :func:`_canonical_slot`)."""
    if slot == UNRESERVED or ("," not in slot and "[" not in slot):
        return _Slot(slot, None, None)
    role_part, _, vol_part = slot.partition("[")
    volume = None
    if vol_part:
        bits = vol_part[:-1].split(":")
        mode = bits[2] if len(bits) > 2 else "RW"
        volume = Volume(unquote(bits[0]), unquote(bits[1]), mode)
    role, comma, rest = role_part.partition(",")
    reservation = None
    if comma:
        principal, _, labels_text = rest.partition(",")
        labels: list[tuple[str, str]] = []
        if labels_text:
            for item in labels_text[1:-1].split(","):
                k, _, v = item.partition(":")
                labels.append((unquote(k), unquote(v)))
        reservation = Reservation(role, unquote(principal), tuple(labels))
    return _Slot(role, reservation, volume)


def _slot_role(slot: str) -> str:
    return slot if slot == UNRESERVED else _slot(slot).role


def _canonical_slot(name: str, role_text: str | None, vol_text: str | None, field: str) -> str:
    """Validate the ``(role...)`` and ``[volume]`` parts of a label; the canonical slot."""
    if role_text is None:
        role_part = UNRESERVED
    else:
        role_text = role_text.strip()
        role, comma, rest = role_text.partition(",")
        role = _check_role(role.strip(), field)
        if not comma:
            role_part = role
        else:
            principal_text, comma2, labels_text = rest.partition(",")
            labels: dict[str, str] = {}
            if comma2:
                labels_text = labels_text.strip()
                if not (labels_text.startswith("{") and labels_text.endswith("}")):
                    raise ResourceError(f"{field}: labels must be {{key:value,...}}")
                for item in filter(None, (x.strip() for x in labels_text[1:-1].split(","))):
                    k, colon, v = item.partition(":")
                    if not colon:
                        raise ResourceError(f"{field}: label {item!r} must be key:value")
                    key = _dec(k.strip(), field)
                    if key in labels:
                        raise ResourceError(f"{field}: label {key!r} given twice")
                    labels[key] = _dec(v.strip(), field)
            try:
                role_part = reservation_slot(role, _dec(principal_text.strip(), field), labels)
            except ResourceError as exc:
                raise ResourceError(f"{field}: {exc}") from None
    if vol_text is None:
        return role_part
    if name != "disk":
        raise ResourceError(f"{field}: only disk can be a persistent volume")
    if role_part == UNRESERVED:
        raise ResourceError(f"{field}: a persistent volume needs reserved disk")
    bits = vol_text.strip().split(":")
    if len(bits) not in (2, 3):
        raise ResourceError(f"{field}: volume must be [persistence_id:container_path(:RO)]")
    mode = bits[2].strip() if len(bits) == 3 else "RW"
    try:
        vol = _volume_text(_dec(bits[0].strip(), field), _dec(bits[1].strip(), field), mode)
    except ResourceError as exc:
        raise ResourceError(f"{field}: {exc}") from None
    return role_part + vol


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and coalesce overlapping or adjacent inclusive ranges."""
    out: list[list[int]] = []
    for b, e in sorted(ranges):
        if out and b <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([b, e])
    return tuple((b, e) for b, e in out)


def _ranges_contain(big: Ranges, small: Ranges) -> bool:
    """Every range of ``small`` lies inside one range of ``big`` (both merged, sorted)."""
    i, n = 0, len(big)
    for b, e in small:
        while i < n and big[i][1] < b:
            i += 1
        if i == n or big[i][0] > b or big[i][1] < e:
            return False
    return True


def _ranges_subtract(big: Ranges, small: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    j, m = 0, len(small)
    for b, e in big:
        cur = b
        while j < m and small[j][1] < cur:
            j += 1
        k = j
        while k < m and small[k][0] <= e:
            sb, se = small[k]
            if sb > cur:
                out.append((cur, sb - 1))
            cur = max(cur, se + 1)
            if se > e:
                break
            k += 1
        if cur <= e:
            out.append((cur, e))
    return tuple(out)


def _ranges_text(ranges: Ranges) -> str:
    return "[" + ",".join(f"{b}-{e}" for b, e in ranges) + "]"


def _parse_number(text: str, field: str) -> float:
    text = text.strip()
    if not _NUMBER_RE.match(text):
        raise ResourceError(f"{field}: not a number: {text!r}")
    return float(text)


def _parse_ranges(text: str, field: str, upper: int) -> Ranges:
    inner = text.strip()[1:-1].strip()
    if not inner:
        raise ResourceError(f"{field}: empty range list {text!r}")
    pairs: list[tuple[int, int]] = []
    for part in inner.split(","):
        bounds = part.strip().split("-")
        if len(bounds) != 2 or not all(x.strip().isdigit() for x in bounds):
            raise ResourceError(f"{field}: malformed range {part.strip()!r} in {text!r}")
        b, e = int(bounds[0]), int(bounds[1])
        pairs.append((b, e))
    return _checked_ranges(pairs, field, upper, text)


def _checked_ranges(pairs: Iterable[Any], field: str, upper: int, shown: object) -> Ranges:
    checked: list[tuple[int, int]] = []
    for pair in pairs:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        ):
            raise ResourceError(f"{field}: malformed range {pair!r} in {shown!r}")
        b, e = pair
        if b > e:
            raise ResourceError(f"{field}: range begin > end ({b}-{e}) in {shown!r}")
        if b < 0 or e > upper:
            raise ResourceError(f"{field}: range {b}-{e} outside 0-{upper} in {shown!r}")
        checked.append((b, e))
    checked.sort()
    for (_, e1), (b2, _) in itertools.pairwise(checked):
        if b2 <= e1:
            raise ResourceError(f"{field}: overlapping ranges in {shown!r}")
    return merge_ranges(checked)


def _parse_set(text: str, field: str) -> frozenset[str]:
    inner = text.strip()[1:-1]
    items = [x.strip() for x in inner.split(",")]
    if not items or not all(items):
        raise ResourceError(f"{field}: malformed set {text!r}")
    return frozenset(items)


# --------------------------------------------------------------------------- Resources


class Resources:
    """An immutable bag of resources; see the module docstring for the representation.

    Arithmetic: ``a + b``; ``a - b`` raises :class:`ResourceError` unless ``a.contains(b)``
    (never goes negative); ``a.saturating_sub(b)`` clamps at zero for accounting that
    must survive a buggy report. Values compare and hash by content.
    """

    __slots__ = ("_cache", "_hash", "_ranges", "_scalars", "_sets", "_totals")

    _scalars: dict[Key, int]
    _ranges: dict[Key, Ranges]
    _sets: dict[Key, frozenset[str]]
    _hash: int | None
    _totals: dict[str, int] | None
    _cache: dict[Any, Any] | None
    """Derived bags (per-role views, differences), memoized: a bag is immutable and an
    agent's total lives across allocation cycles, so the allocator computes them once."""

    def __init__(self) -> None:
        """Create an empty bag; use the ``parse``/``from_*`` constructors for content."""
        self._scalars = {}
        self._ranges = {}
        self._sets = {}
        self._hash = None
        self._totals = None
        self._cache = None

    @classmethod
    def _make(
        cls,
        scalars: dict[Key, int],
        ranges: dict[Key, Ranges] | None = None,
        sets: dict[Key, frozenset[str]] | None = None,
    ) -> Resources:
        """Trusted constructor: callers guarantee positive, merged, non-empty content."""
        r = cls.__new__(cls)
        r._scalars = scalars
        r._ranges = ranges if ranges is not None else {}
        r._sets = sets if sets is not None else {}
        r._hash = None
        r._totals = None
        r._cache = None
        return r

    # ------------------------------------------------------------------ constructors

    @classmethod
    def parse(cls, text: str) -> Resources:
        """Parse Mesos' text form, e.g. ``cpus:4;mem:8192;cpus(web):2;ports:[31000-32000]``."""
        return parse_resources(text)

    @classmethod
    def from_scalars(cls, values: Mapping[str, float], role: str = UNRESERVED) -> Resources:
        """Build from ``{"cpus": 4, "mem": 8192}``, all reserved for ``role``."""
        _check_role(role, "role")
        scalars: dict[Key, int] = {}
        for name, value in values.items():
            _check_name(name, "name")
            milli = _checked_scalar(name, value)
            if milli:
                scalars[(name, role)] = milli
        return cls._make(scalars)

    @classmethod
    def from_milli_totals(cls, values: Mapping[str, int], role: str = UNRESERVED) -> Resources:
        """Trusted: build from already fixed-point scalars (allocator bookkeeping)."""
        return cls._make({(n, role): v for n, v in values.items() if v > 0})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resources:
        """Inverse of :meth:`to_dict`; validates like :func:`parse_resources`."""
        if not isinstance(data, Mapping):
            raise ResourceError(f"resources: expected a mapping, got {data!r}")
        scalars: dict[Key, int] = {}
        ranges: dict[Key, Ranges] = {}
        sets: dict[Key, frozenset[str]] = {}
        for label, value in data.items():
            name, role = _split_label(label)
            key = _key(name, role)
            if isinstance(value, int | float) and not isinstance(value, bool):
                _expect_type(name, "scalar", label)
                milli = _checked_scalar(label, value)
                if milli:
                    scalars[key] = milli
            elif isinstance(value, list | tuple) and value and isinstance(value[0], str):
                _expect_type(name, "set", label)
                if not all(isinstance(x, str) and x for x in value):
                    raise ResourceError(f"{label}: malformed set {value!r}")
                sets[key] = frozenset(value)
            elif isinstance(value, list | tuple) and value:
                _expect_type(name, "ranges", label)
                upper = _MAX_PORT if name == "ports" else MAX_RANGE_VALUE
                ranges[key] = _checked_ranges(value, label, upper, value)
            else:
                raise ResourceError(f"{label}: unsupported resource value {value!r}")
        return cls._make(scalars, ranges, sets)

    # ------------------------------------------------------------------ value object

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (
            self._scalars == other._scalars
            and self._ranges == other._ranges
            and self._sets == other._sets
        )

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(
                (
                    frozenset(self._scalars.items()),
                    frozenset(self._ranges.items()),
                    frozenset(self._sets.items()),
                )
            )
        return self._hash

    def __bool__(self) -> bool:
        return bool(self._scalars or self._ranges or self._sets)

    def __repr__(self) -> str:
        return f"Resources({str(self)!r})"

    def __str__(self) -> str:
        """Mesos' text form; :meth:`parse` reads it back."""
        parts = [f"{resource_label(n, r)}:{_fmt(v)}" for (n, r), v in sorted(self._scalars.items())]
        parts += [
            f"{resource_label(n, r)}:{_ranges_text(v)}"
            for (n, r), v in sorted(self._ranges.items())
        ]
        parts += [
            f"{resource_label(n, r)}:{{{','.join(sorted(v))}}}"
            for (n, r), v in sorted(self._sets.items())
        ]
        return ";".join(parts)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other: Resources) -> Resources:
        if not other:
            return self
        if not self:
            return other
        scalars = dict(self._scalars)
        for k, v in other._scalars.items():
            scalars[k] = scalars.get(k, 0) + v
        ranges = self._ranges
        if other._ranges:
            ranges = dict(ranges)
            for k, rv in other._ranges.items():
                ranges[k] = merge_ranges(ranges.get(k, ()) + rv)
        sets = self._sets
        if other._sets:
            sets = dict(sets)
            for k, sv in other._sets.items():
                sets[k] = sets.get(k, frozenset()) | sv
        return Resources._make(scalars, ranges, sets)

    @classmethod
    def sum(cls, items: Iterable[Resources]) -> Resources:
        """``r1 + r2 + ...`` in one pass (the state views sum 100,000 tasks: one
        accumulator instead of a new bag per addition)."""
        scalars: dict[Key, int] = {}
        ranges: dict[Key, list[tuple[int, int]]] = {}
        sets: dict[Key, set[str]] = {}
        counts: dict[int, list[Any]] = {}  # one bag shared by many tasks: counted once
        for r in items:
            seen = counts.get(id(r))
            if seen is None:
                counts[id(r)] = [r, 1]
            else:
                seen[1] += 1
        for r, n in counts.values():
            for k, v in r._scalars.items():
                scalars[k] = scalars.get(k, 0) + v * n
            for k, rv in r._ranges.items():
                ranges.setdefault(k, []).extend(rv)
            for k, sv in r._sets.items():
                sets.setdefault(k, set()).update(sv)
        if not (scalars or ranges or sets):
            return cls()
        return cls._make(
            scalars,
            {k: merge_ranges(v) for k, v in ranges.items()},
            {k: frozenset(v) for k, v in sets.items()},
        )

    def contains(self, other: Resources) -> bool:
        """True when ``other`` can be carved out of ``self`` (same names, same roles)."""
        mine = self._scalars
        for k, v in other._scalars.items():
            have = mine.get(k, 0)
            if have < v or (have != v and "[" in k[1]):
                return False  # a persistent volume is taken whole or not at all
        for k, rv in other._ranges.items():
            if not _ranges_contain(self._ranges.get(k, ()), rv):
                return False
        return all(sv <= self._sets.get(k, frozenset()) for k, sv in other._sets.items())

    def __sub__(self, other: Resources) -> Resources:
        if not other:
            return self
        if not self.contains(other):
            raise ResourceError(f"cannot subtract {other} from {self}: not contained")
        return self._subtract(other)

    def saturating_sub(self, other: Resources) -> Resources:
        """``self - other`` clamped at zero per entry; for free = total - (reported used)."""
        if not other:
            return self
        return self._subtract(other)

    def _memo(self) -> dict[Any, Any]:
        if self._cache is None:
            self._cache = {}
        return self._cache

    def _subtract(self, other: Resources) -> Resources:
        o = other._scalars
        if o:  # one pass over our keys (an agent total may hold a dozen reserved ones)
            get = o.get
            scalars = {k: r for k, v in self._scalars.items() if (r := v - get(k, 0)) > 0}
        else:
            scalars = self._scalars
        ranges = self._ranges
        if other._ranges:
            ranges = dict(ranges)
            for k, rv in other._ranges.items():
                if k in ranges:
                    rest = _ranges_subtract(ranges[k], rv)
                    if rest:
                        ranges[k] = rest
                    else:
                        del ranges[k]
        sets = self._sets
        if other._sets:
            sets = dict(sets)
            for k, sv in other._sets.items():
                if k in sets:
                    rest_set = sets[k] - sv
                    if rest_set:
                        sets[k] = rest_set
                    else:
                        del sets[k]
        return Resources._make(scalars, ranges, sets)

    # ------------------------------------------------------------------ roles

    def roles(self) -> frozenset[str]:
        """Every role that holds something here, ``"*"`` included."""
        keys = [*self._scalars, *self._ranges, *self._sets]
        return frozenset(_slot_role(r) for _, r in keys)

    def has_reservations(self) -> bool:
        """True if any entry is reserved for a role (fast path for the allocator)."""
        for keys in (self._scalars, self._ranges, self._sets):
            for _, r in keys:
                if r != UNRESERVED:
                    return True
        return False

    def has_dynamic(self) -> bool:
        """True if any entry is a dynamic reservation or a persistent volume."""
        return any("," in r or "[" in r for _, r in self._slots())

    def by_role(self) -> dict[str, Resources]:
        """The bag split by role (``"*"``: the unreserved part), memoized."""
        cache = self._memo()
        out: dict[str, Resources] | None = cache.get("by_role")
        if out is None:
            sr = _slot_role
            parts: dict[str, tuple[dict[Key, Any], dict[Key, Any], dict[Key, Any]]] = {}
            sources: tuple[dict[Key, Any], ...] = (self._scalars, self._ranges, self._sets)
            for i, items in enumerate(sources):
                for k, v in items.items():
                    role = sr(k[1])
                    bag = parts.get(role)
                    if bag is None:
                        bag = parts[role] = ({}, {}, {})
                    bag[i][k] = v
            out = cache["by_role"] = {r: Resources._make(*bag) for r, bag in parts.items()}
        return out

    def filter_roles(self, keep: Iterable[str]) -> Resources:
        """Only the entries whose role is in ``keep``."""
        ks = set(keep)
        sr = _slot_role
        return Resources._make(
            {k: v for k, v in self._scalars.items() if sr(k[1]) in ks},
            {k: v for k, v in self._ranges.items() if sr(k[1]) in ks},
            {k: v for k, v in self._sets.items() if sr(k[1]) in ks},
        )

    def for_role(self, role: str) -> Resources:
        """Entries reserved for exactly ``role`` (``"*"``: the unreserved part)."""
        return self.filter_roles((role,))

    def unreserved(self) -> Resources:
        """The part any role may be offered."""
        if not self.has_reservations():
            return self
        cache = self._memo()
        out = cache.get("*")
        if out is None:
            out = cache["*"] = self.for_role(UNRESERVED)
        return out  # type: ignore[no-any-return]

    def reserved(self) -> Resources:
        """Everything reserved for some role (statically or dynamically)."""
        return Resources._make(
            {k: v for k, v in self._scalars.items() if k[1] != UNRESERVED},
            {k: v for k, v in self._ranges.items() if k[1] != UNRESERVED},
            {k: v for k, v in self._sets.items() if k[1] != UNRESERVED},
        )

    def allocatable_to(self, role: str) -> Resources:
        """What Mesos may offer a framework in ``role``: unreserved plus role's reservations."""
        if not self.has_reservations():
            return self
        cache = self._memo()
        out = cache.get(("to", role))
        if out is None:
            out = cache[("to", role)] = self.filter_roles((UNRESERVED, role))
        return out  # type: ignore[no-any-return]

    def reserve(self, role: str) -> Resources:
        """The same quantities statically reserved for ``role`` (``"*"`` unreserves);
        dynamic reservations and volumes are flattened into plain ``role`` entries."""
        _check_role(role, "role")
        scalars: dict[Key, int] = {}
        for (n, _), v in self._scalars.items():
            scalars[(n, role)] = scalars.get((n, role), 0) + v
        ranges: dict[Key, Ranges] = {}
        for (n, _), rv in self._ranges.items():
            ranges[(n, role)] = merge_ranges(ranges.get((n, role), ()) + rv)
        sets: dict[Key, frozenset[str]] = {}
        for (n, _), sv in self._sets.items():
            sets[(n, role)] = sets.get((n, role), frozenset()) | sv
        return Resources._make(scalars, ranges, sets)

    # ------------------------------------------------------------------ dynamic

    def _map_slots(self, fn: Any) -> Resources:
        """Rebuild with every slot passed through ``fn(name, slot) -> slot``."""
        scalars: dict[Key, int] = {}
        for (n, r), v in self._scalars.items():
            k = _key(n, fn(n, r))
            scalars[k] = scalars.get(k, 0) + v
        ranges: dict[Key, Ranges] = {}
        for (n, r), rv in self._ranges.items():
            k = _key(n, fn(n, r))
            ranges[k] = merge_ranges(ranges.get(k, ()) + rv)
        sets: dict[Key, frozenset[str]] = {}
        for (n, r), sv in self._sets.items():
            k = _key(n, fn(n, r))
            sets[k] = sets.get(k, frozenset()) | sv
        return Resources._make(scalars, ranges, sets)

    def _slots(self) -> Iterator[tuple[str, str]]:
        for keys in (self._scalars, self._ranges, self._sets):
            yield from keys

    def entries(self) -> Iterator[ResourceEntry]:
        """Each resource with its reservation and volume spelled out (sorted by label)."""
        rows: list[ResourceEntry] = []
        items: list[tuple[Key, float | Ranges | frozenset[str]]] = [
            *((k, from_milli(v)) for k, v in self._scalars.items()),
            *self._ranges.items(),
            *self._sets.items(),
        ]
        for (n, r), value in items:
            info = _slot(r)
            label = resource_label(n, r)
            rows.append(ResourceEntry(n, info.role, info.reservation, info.volume, value, label))
        rows.sort(key=lambda e: e.label)
        return iter(rows)

    def dynamic(self) -> Resources:
        """Only the dynamically reserved entries (persistent volumes included): what an
        agent checkpoints and the registry keeps (Mesos' checkpointed resources)."""
        return Resources._make(
            {k: v for k, v in self._scalars.items() if _slot(k[1]).reservation},
            {k: v for k, v in self._ranges.items() if _slot(k[1]).reservation},
            {k: v for k, v in self._sets.items() if _slot(k[1]).reservation},
        )

    def reserve_dynamic(
        self, role: str, principal: str = "", labels: Mapping[str, str] | None = None
    ) -> Resources:
        """RESERVE: these unreserved resources, dynamically reserved for ``role``.

        Raises :class:`ResourceError` naming an entry that is not unreserved (Mesos
        reserves from ``*`` only, no refinement here)."""
        slot = reservation_slot(role, principal, labels)
        for n, r in self._slots():
            if r != UNRESERVED:
                raise ResourceError(
                    f"{resource_label(n, r)}: only unreserved resources can be reserved"
                )
        return self._map_slots(lambda n, r: slot)

    def unreserve_dynamic(self) -> Resources:
        """UNRESERVE: the same quantities back to ``*``; every entry must be a dynamic
        reservation without a volume (destroy the volume first)."""
        for n, r in self._slots():
            info = _slot(r)
            if info.reservation is None:
                raise ResourceError(
                    f"{resource_label(n, r)}: not dynamically reserved, cannot unreserve"
                )
            if info.volume is not None:
                raise ResourceError(
                    f"{resource_label(n, r)}: a persistent volume; destroy it before unreserving"
                )
        return self._map_slots(lambda n, r: UNRESERVED)

    def create_volume(
        self, persistence_id: str, container_path: str, mode: str = "RW"
    ) -> Resources:
        """CREATE: this reserved disk as one persistent volume."""
        vol = _volume_text(persistence_id, container_path, mode)
        if self._ranges or self._sets or not self._scalars:
            raise ResourceError(f"volume {persistence_id}: only disk can be a volume, got {self}")
        if len(self._scalars) != 1:
            raise ResourceError(
                f"volume {persistence_id}: needs disk of exactly one reservation, got {self}"
            )
        for n, r in self._scalars:
            if n != "disk":
                raise ResourceError(f"volume {persistence_id}: only disk can be a volume, got {n}")
            if r == UNRESERVED:
                raise ResourceError(
                    f"volume {persistence_id}: disk must be reserved first "
                    "(CREATE without a reservation)"
                )
            if "[" in r:
                raise ResourceError(f"{resource_label(n, r)}: already a persistent volume")
        return self._map_slots(lambda n, r: r + vol)

    def strip_volumes(self) -> Resources:
        """DESTROY: persistent volumes back to the reserved disk they were made of."""
        return self._map_slots(lambda n, r: r.split("[", 1)[0])

    def volumes(self) -> list[ResourceEntry]:
        """The persistent volumes here (``entry.volume`` is set; value in MB)."""
        # A volume's slot holds its ``[id:path]``: without one, no entry is built (the
        # agent asks this of every task it launches; most have no volume).
        if not any("[" in r for d in (self._scalars, self._ranges, self._sets) for _, r in d):
            return []
        return [e for e in self.entries() if e.volume is not None]

    def base_form(self) -> Resources:
        """What these resources were before any RESERVE/CREATE: volumes stripped and
        dynamic reservations back to ``*``; static reservations stay."""
        return self._map_slots(
            lambda n, r: UNRESERVED if _slot(r).reservation else r.split("[", 1)[0]
        )

    # ------------------------------------------------------------------ quantities

    def milli_totals(self) -> dict[str, int]:
        """Scalars summed over roles in milli-units (cached; do not mutate)."""
        if self._totals is None:
            totals: dict[str, int] = {}
            for (n, _), v in self._scalars.items():
                totals[n] = totals.get(n, 0) + v
            self._totals = totals
        return self._totals

    def scalar(self, name: str, role: str | None = None) -> float:
        """Amount of ``name`` (all roles, or just ``role``) as a float."""
        if role is None:
            return from_milli(self.milli_totals().get(name, 0))
        return from_milli(self._scalars.get((name, role), 0))

    def scalars(self) -> dict[str, float]:
        """Scalars summed over roles, as floats."""
        return {n: from_milli(v) for n, v in self.milli_totals().items()}

    def ranges(self, name: str, role: str | None = None) -> Ranges:
        """Merged ranges of ``name`` (all roles, or just ``role``)."""
        if role is not None:
            return self._ranges.get((name, role), ())
        return merge_ranges(p for (n, _), rv in self._ranges.items() if n == name for p in rv)

    def set(self, name: str, role: str | None = None) -> frozenset[str]:
        """Items of set resource ``name`` (all roles, or just ``role``)."""
        if role is not None:
            return self._sets.get((name, role), frozenset())
        out: frozenset[str] = frozenset()
        for (n, _), sv in self._sets.items():
            if n == name:
                out |= sv
        return out

    def shrink_scalars(self, caps: Mapping[str, int], role: str = UNRESERVED) -> Resources:
        """Cap each scalar ``name`` of ``role`` at ``caps[name]`` milli-units.

        Used for quota: Mesos shrinks an offer to a role's remaining headroom instead of
        skipping the agent. Integral resources (gpus) are rounded down to whole units.
        """
        scalars = dict(self._scalars)
        changed = False
        for name, cap in caps.items():
            key = _key(name, role)
            cap = max(cap, 0)
            if name in _INTEGRAL:
                cap -= cap % _MILLI
            if scalars.get(key, 0) > cap:
                changed = True
                if cap > 0:
                    scalars[key] = cap
                else:
                    del scalars[key]
        if not changed:
            return self
        return Resources._make(scalars, self._ranges, self._sets)

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> dict[str, Any]:
        """Plain, msgpack-friendly form: ``{"cpus": 4.0, "cpus(web)": 2.0, "ports": [[a, b]]}``.

        Set resources become sorted lists of strings, so the three kinds stay apart.
        """
        out: dict[str, Any] = {}
        for (n, r), v in self._scalars.items():
            out[resource_label(n, r)] = from_milli(v)
        for (n, r), rv in self._ranges.items():
            out[resource_label(n, r)] = [[b, e] for b, e in rv]
        for (n, r), sv in self._sets.items():
            out[resource_label(n, r)] = sorted(sv)
        return out


def _fmt(milli: int) -> str:
    whole, frac = divmod(milli, _MILLI)
    return str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0")


def _checked_scalar(field: str, value: float) -> int:
    milli = to_milli(value, field)
    name = field.split("(", 1)[0]
    if name in _INTEGRAL and milli % _MILLI:
        raise ResourceError(f"{field}: must be a whole number, got {value!r}")
    return milli


def _expect_type(name: str, kind: str, field: str) -> None:
    known = _KNOWN_TYPES.get(name)
    if known is not None and known != kind:
        raise ResourceError(f"{field}: {name} must be {known}, got {kind}")


def _split_label(label: str) -> Key:
    if not isinstance(label, str):
        raise ResourceError(f"resources: invalid name {label!r}")
    m = _LABEL_RE.match(label.strip())
    if not m:
        raise ResourceError(f"resources: invalid name {label!r}")
    name = _check_name(m.group(1).strip(), label)
    return name, _canonical_slot(name, m.group(2), m.group(3), label)


def parse_resources(text: str) -> Resources:
    """Parse Mesos' ``--resources`` text form.

    ``cpus:4;mem:8192;disk:20000;ports:[31000-32000]``; ranges may list several spans
    (``ports:[31000-31005,32000-32100]``); ``{a,b}`` is a set; ``cpus(web):2`` is reserved
    for role ``web``. Repeated entries add up as in Mesos, but overlapping ranges raise.
    """
    if not isinstance(text, str):
        raise ResourceError(f"resources: expected text, got {text!r}")
    scalars: dict[Key, int] = {}
    ranges: dict[Key, Ranges] = {}
    sets: dict[Key, frozenset[str]] = {}
    for raw in text.split(";"):
        item = raw.strip()
        if not item:
            continue
        m = _ITEM_RE.match(item)
        if not m:
            raise ResourceError(f"resources: cannot parse {item!r} (expected name:value)")
        name = _check_name(m.group("name"), item)
        role = _canonical_slot(name, m.group("role"), m.group("vol"), item)
        field = resource_label(name, role)
        key = _key(name, role)
        value = m.group("value").strip()
        if value.startswith("[") and value.endswith("]"):
            _expect_type(name, "ranges", field)
            upper = _MAX_PORT if name == "ports" else MAX_RANGE_VALUE
            parsed = _parse_ranges(value, field, upper)
            if key in ranges:
                if any(_ranges_subtract(((b, e),), ranges[key]) != ((b, e),) for b, e in parsed):
                    raise ResourceError(f"{field}: overlapping ranges in {value!r}")
                parsed = merge_ranges(ranges[key] + parsed)
            ranges[key] = parsed
        elif value.startswith("{") and value.endswith("}"):
            _expect_type(name, "set", field)
            sets[key] = sets.get(key, frozenset()) | _parse_set(value, field)
        else:
            _expect_type(name, "scalar", field)
            milli = _checked_scalar(field, _parse_number(value, field))
            if milli:
                scalars[key] = scalars.get(key, 0) + milli
                if scalars[key] > MAX_SCALAR * _MILLI:
                    raise ResourceError(f"{field}: total exceeds the maximum {MAX_SCALAR:g}")
    return Resources._make(scalars, ranges, sets)


def apply_checkpointed(base: Resources, checkpointed: Resources) -> Resources:
    """An agent's total: its ``--resources`` with its dynamic reservations and volumes
    applied. Raises :class:`ResourceError` naming what no longer fits (an agent restarted
    with smaller ``--resources`` must refuse to start rather than lose reservations)."""
    if not checkpointed:
        return base
    plain = checkpointed.base_form()
    if not base.contains(plain):
        raise ResourceError(
            f"agent resources {base} no longer hold its reservations and volumes "
            f"{checkpointed} (they need {plain})"
        )
    return (base - plain) + checkpointed


def resources_v1(res: Resources, allocated_to: str | None = None) -> list[dict[str, Any]]:
    """Mesos' ``repeated Resource`` JSON (v1 API and ``*_resources_full``): one entry per
    name and slot, sorted by role; a reservation's ``reservations`` (STATIC, or DYNAMIC
    with ``principal`` and ``labels``), a volume's ``disk.persistence``/``disk.volume``;
    ``allocated_to`` adds ``allocation_info.role``."""
    out: list[dict[str, Any]] = []
    for e in sorted(res.entries(), key=lambda e: e.role):
        entry: dict[str, Any] = {"name": e.name}
        v = e.value
        if isinstance(v, float):
            entry["type"] = "SCALAR"
            entry["scalar"] = {"value": v}
        elif isinstance(v, frozenset):
            entry["type"] = "SET"
            entry["set"] = {"item": sorted(v)}
        else:
            entry["type"] = "RANGES"
            entry["ranges"] = {"range": [{"begin": b, "end": x} for b, x in v]}
        entry["role"] = e.role
        if e.reservation is not None:
            rsv: dict[str, Any] = {"type": "DYNAMIC", "role": e.role}
            if e.reservation.principal:
                rsv["principal"] = e.reservation.principal
            if e.reservation.labels:
                rsv["labels"] = {
                    "labels": [{"key": k, "value": x} for k, x in e.reservation.labels]
                }
            entry["reservations"] = [rsv]
        elif e.role != UNRESERVED:
            entry["reservations"] = [{"type": "STATIC", "role": e.role}]
        if e.volume is not None:
            persistence: dict[str, Any] = {"id": e.volume.persistence_id}
            if e.reservation is not None and e.reservation.principal:
                persistence["principal"] = e.reservation.principal
            entry["disk"] = {
                "persistence": persistence,
                "volume": {"container_path": e.volume.container_path, "mode": e.volume.mode},
            }
        if allocated_to is not None:
            entry["allocation_info"] = {"role": allocated_to}
        out.append(entry)
    return out


def v1_resource_label(r: Mapping[str, Any], where: str) -> str:
    """The :meth:`Resources.to_dict` key of one Mesos ``Resource`` JSON object: its name,
    role, reservation (the last of ``reservations``, or the pre-1.4 ``role`` +
    ``reservation``) and ``disk.persistence``/``disk.volume``. Raises
    :class:`ResourceError` naming the field."""
    name = r.get("name")
    if not isinstance(name, str):
        raise ResourceError(f"{where}.name: {name!r:.60} must be a string")
    _check_name(name, f"{where}.name")
    role: Any = UNRESERVED
    principal: Any = ""
    labels: dict[str, str] = {}
    dynamic = False
    reservations = r.get("reservations")
    if reservations:
        if not isinstance(reservations, list) or not isinstance(reservations[-1], Mapping):
            raise ResourceError(f"{where}.reservations: {reservations!r:.60} must be a list")
        last = reservations[-1]
        role = last.get("role")
        kind = last.get("type", "DYNAMIC" if "principal" in last else "STATIC")
        if kind not in ("STATIC", "DYNAMIC"):
            raise ResourceError(f"{where}.reservations.type: {kind!r:.40} is not STATIC or DYNAMIC")
        dynamic = kind == "DYNAMIC"
        principal = last.get("principal", "")
        labels = _v1_labels(last.get("labels"), f"{where}.reservations.labels")
    elif r.get("role") not in (None, UNRESERVED):
        role = r.get("role")
        old = r.get("reservation")
        if isinstance(old, Mapping):
            dynamic = True
            principal = old.get("principal", "")
            labels = _v1_labels(old.get("labels"), f"{where}.reservation.labels")
    if not isinstance(role, str):
        raise ResourceError(f"{where}.role: {role!r:.60} must be a string")
    if not isinstance(principal, str):
        raise ResourceError(f"{where}: principal {principal!r:.60} must be a string")
    _check_role(role, f"{where}.role")
    try:
        slot = reservation_slot(role, principal, labels) if dynamic else role
    except ResourceError as exc:
        raise ResourceError(f"{where}: {exc}") from None
    disk = r.get("disk")
    if isinstance(disk, Mapping) and disk.get("persistence"):
        pers, vol = disk.get("persistence"), disk.get("volume") or {}
        if not isinstance(pers, Mapping) or not isinstance(vol, Mapping):
            raise ResourceError(f"{where}.disk: {disk!r:.80} is malformed")
        if name != "disk" or slot == UNRESERVED:
            raise ResourceError(f"{where}.disk: a persistent volume needs reserved disk")
        try:
            pid, path = pers.get("id"), vol.get("container_path")
            slot += _volume_text(str(pid or ""), str(path or ""), vol.get("mode") or "RW")
        except ResourceError as exc:
            raise ResourceError(f"{where}.disk: {exc}") from None
    return resource_label(name, slot)


def _v1_labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    items = value.get("labels") if isinstance(value, Mapping) else None
    if not isinstance(items, list):
        raise ResourceError(f"{where}: {value!r:.60} must be {{'labels': [...]}}")
    out: dict[str, str] = {}
    for it in items:
        if not isinstance(it, Mapping) or not isinstance(it.get("key"), str):
            raise ResourceError(f"{where}: {it!r:.60} must be {{'key', 'value'}}")
        out[it["key"]] = str(it.get("value", ""))
    return out


def resources_from_v1(value: Any, where: str = "resources") -> Resources:
    """Mesos' ``repeated Resource`` JSON -> ``Resources`` (entries of one slot add up)."""
    if not isinstance(value, list):
        raise ResourceError(f"{where}: {value!r:.60} must be a list of Resource objects")
    total = Resources()
    for i, r in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(r, Mapping):
            raise ResourceError(f"{at}: {r!r:.60} must be an object")
        label = v1_resource_label(r, at)
        kind = r.get("type", "SCALAR")
        one: Any
        if kind == "SCALAR":
            one = (
                (r.get("scalar") or {}).get("value")
                if isinstance(r.get("scalar"), Mapping)
                else None
            )
        elif kind == "RANGES":
            spans = (
                (r.get("ranges") or {}).get("range")
                if isinstance(r.get("ranges"), Mapping)
                else None
            )
            if not isinstance(spans, list):
                raise ResourceError(f"{at}.ranges.range: {spans!r:.60} must be a list")
            one = [[s.get("begin"), s.get("end")] if isinstance(s, Mapping) else s for s in spans]
        elif kind == "SET":
            one = (r.get("set") or {}).get("item") if isinstance(r.get("set"), Mapping) else None
        else:
            raise ResourceError(f"{at}.type: {kind!r:.40} is not SCALAR, RANGES or SET")
        try:
            total = total + Resources.from_dict({label: one})
        except ResourceError as exc:
            raise ResourceError(f"{at}: {exc}") from None
    return total


def apply_operation(kind: str, res: Resources, available: Resources) -> Resources:
    """What is left of ``available`` (offers) after one RESERVE/UNRESERVE/CREATE/DESTROY
    of ``res`` (in its after-RESERVE/CREATE, resp. current form): the framework-side
    mirror of the master's check, so a LAUNCH in the same ACCEPT can use the reserved
    resources or the volume. Raises :class:`ResourceError` naming the resource."""
    if kind == "RESERVE":
        for e in res.entries():
            if e.reservation is None or e.volume is not None:
                raise ResourceError(f"RESERVE: {e.label} must be a dynamic reservation")
        before = res.base_form()
        if not available.contains(before):
            raise ResourceError(f"RESERVE: {before} exceed the offers ({available})")
        return available - before + res
    if kind == "UNRESERVE":
        after = res.unreserve_dynamic()
        if not available.contains(res):
            raise ResourceError(f"UNRESERVE: {res} are not in the offers ({available})")
        return available - res + after
    if kind == "CREATE":
        if not res or len(res.volumes()) != len(list(res.entries())):
            raise ResourceError(f"CREATE: {res} must be persistent volumes")
        disk = res.strip_volumes()
        if not available.contains(disk):
            raise ResourceError(
                f"CREATE: volume needs reserved disk {disk} not in the offers ({available})"
            )
        return available - disk + res
    if kind == "DESTROY":
        if not res or len(res.volumes()) != len(list(res.entries())):
            raise ResourceError(f"DESTROY: {res} must be persistent volumes")
        if not available.contains(res):
            raise ResourceError(f"DESTROY: volume {res} is not in the offers ({available})")
        return available - res + res.strip_volumes()
    raise ResourceError(f"operation type {kind!r:.40} is not RESERVE/UNRESERVE/CREATE/DESTROY")


def to_mesos_json(resources: Resources) -> dict[str, Any]:
    """The shape of ``/mesos/master/state``: totals over roles, ranges as ``"[a-b,c-d]"``.

    cpus, mem, disk and gpus are always present (Mesos prints ``0.0`` for absent ones).
    """
    out: dict[str, Any] = {n: 0.0 for n in _MESOS_SCALARS}
    out.update(resources.scalars())
    names = {n for n, _ in resources._ranges}
    for n in sorted(names):
        out[n] = _ranges_text(resources.ranges(n))
    for n in sorted({n for n, _ in resources._sets}):
        out[n] = "{" + ",".join(sorted(resources.set(n))) + "}"
    return out


def reserved_resources_json(resources: Resources) -> dict[str, dict[str, Any]]:
    """Mesos' ``reserved_resources`` map: role -> :func:`to_mesos_json` of its share."""
    return {
        role: to_mesos_json(resources.for_role(role))
        for role in sorted(resources.roles())
        if role != UNRESERVED
    }


# --------------------------------------------------------------------------- attributes

AttributeValue: TypeAlias = str | float | Ranges | frozenset[str]
"""TEXT (str), SCALAR (float), RANGES (merged pairs) or SET (frozenset), as in Mesos."""


class Attributes(Mapping[str, AttributeValue]):
    """Immutable agent attributes (``zone:a;rack:r1;ssd:true``), used by constraints.

    Mesos types each value by its shape: ``[..]`` ranges, ``{..}`` set, a number is a
    scalar, anything else text (so ``ssd:true`` is the text ``"true"``).
    """

    __slots__ = ("_items",)
    _items: dict[str, AttributeValue]

    def __init__(self, items: Mapping[str, AttributeValue] | None = None) -> None:
        """Wrap already-typed values (use :func:`parse_attributes` for text)."""
        object.__setattr__(self, "_items", dict(items or {}))

    def __getitem__(self, key: str) -> AttributeValue:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attributes):
            return self._items == other._items
        return NotImplemented

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Attributes is immutable")

    def __repr__(self) -> str:
        return f"Attributes({self.to_text()!r})"

    def to_text(self) -> str:
        """Mesos' ``--attributes`` form; :func:`parse_attributes` reads it back."""
        return ";".join(f"{k}:{_attr_text(v)}" for k, v in self._items.items())

    def to_dict(self) -> dict[str, str | float]:
        """Mesos' JSON shape (also our plain form): text/scalar as is, ranges/sets as text."""
        return {k: (v if isinstance(v, str | float) else _attr_text(v)) for k, v in self.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attributes:
        """Inverse of :meth:`to_dict`; numbers are scalars, strings are parsed by shape."""
        if not isinstance(data, Mapping):
            raise ResourceError(f"attributes: expected a mapping, got {data!r}")
        items: dict[str, AttributeValue] = {}
        for k, v in data.items():
            _check_name(k, "attributes")
            if isinstance(v, int | float) and not isinstance(v, bool):
                if not math.isfinite(v):
                    raise ResourceError(f"attribute {k}: value must be finite, got {v!r}")
                items[k] = float(v)
            elif isinstance(v, str):
                items[k] = _parse_attr_value(k, v)
            else:
                raise ResourceError(f"attribute {k}: unsupported value {v!r}")
        return cls(items)


def _attr_text(v: AttributeValue) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    if isinstance(v, frozenset):
        return "{" + ",".join(sorted(v)) + "}"
    return _ranges_text(v)


def _parse_attr_value(name: str, value: str) -> AttributeValue:
    field = f"attribute {name}"
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return _parse_ranges(value, field, MAX_RANGE_VALUE)
    if value.startswith("{") and value.endswith("}"):
        return _parse_set(value, field)
    if _NUMBER_RE.match(value):
        number = float(value)
        if not math.isfinite(number):
            raise ResourceError(f"{field}: value must be finite, got {value!r}")
        return number
    if not _TEXT_RE.match(value):
        raise ResourceError(f"{field}: invalid text value {value!r}")
    return value


def parse_attributes(text: str) -> Attributes:
    """Parse Mesos' ``--attributes`` text form, e.g. ``zone:a;rack:r1;ssd:true``."""
    if not isinstance(text, str):
        raise ResourceError(f"attributes: expected text, got {text!r}")
    items: dict[str, AttributeValue] = {}
    for raw in text.split(";"):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition(":")
        name = name.strip()
        if not sep:
            raise ResourceError(f"attributes: cannot parse {item!r} (expected name:value)")
        _check_name(name, "attributes")
        if name in items:
            raise ResourceError(f"attribute {name}: given twice in {text!r}")
        items[name] = _parse_attr_value(name, value)
    return Attributes(items)
