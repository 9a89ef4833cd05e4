"""Mesos' hierarchical DRF allocator as one pure function: ``allocate(snapshot, now)``.

The master actor builds a :class:`ClusterSnapshot` (agents with their free resources,
frameworks with their allocations and decline filters, role weights and quotas), calls
:func:`allocate` and sends the resulting offers. No I/O, no clock: ``now`` is an argument,
so tests drive time by hand (like libprocess' ``Clock::advance`` in Mesos' allocator tests).

Per cycle, as in Mesos' ``HierarchicalAllocatorProcess::__allocate``:

1. *Quota stage* (only when some role's guarantee is unmet): roles below their guarantee
   are offered unreserved resources up to the missing amount.
2. *Fair-share stage*: for each agent (in snapshot order; shuffle it if you want Mesos'
   random spread), roles are visited by lowest *weighted dominant share*
   (dominant share / weight, DRF), and inside a role frameworks by lowest dominant share.
   The first framework that is not filtered gets all of the agent's free resources it may
   use (unreserved plus its role's static reservations) in one offer. Offered resources
   count as allocated at once, so shares move as the cycle goes on. Unreserved resources
   are held back when handing them out would leave too little for other roles' unmet
   guarantees (Mesos' "quota headroom").

Offers never include crumbs: an offer must reach one of the *min allocatable* quantities
(Mesos' default ``cpus:0.01|mem:32``). A role never gets more than its quota *limit*:
the offer is shrunk to the remaining headroom, as Mesos does.

Everything a framework did not get is explained (Nomad-style) by :class:`Rejection` rows,
with ``"*"`` as a wildcard so a fully used cluster costs O(agents), not O(agents x
frameworks). :meth:`Allocation.explain` turns them into one sentence.

Performance: shares live in plain ``dict[str, int]`` of milli-units; roles and frameworks
are kept in small sorted lists updated with ``bisect`` after each offer instead of being
re-sorted per agent; agents without reservations take a fast path with no copying.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from actors.master._errors import AllocatorInputError
from actors.resources import (
    UNRESERVED,
    Attributes,
    Resources,
    to_milli,
)

__all__ = [
    "ANY",
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_REFUSE_SECONDS",
    "MAX_REFUSE_SECONDS",
    "Agent",
    "AllocMemo",
    "Allocation",
    "AllocatorConfig",
    "ClusterSnapshot",
    "FilterIndex",
    "Framework",
    "Offer",
    "OfferFilter",
    "Quota",
    "RejectReason",
    "Rejection",
    "allocate",
    "decline_filter",
    "dominant_share",
]

DEFAULT_REFUSE_SECONDS = 5.0
"""Mesos' ``Filters.refuse_seconds`` default when a framework declines without one."""

MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
"""Mesos caps decline filters at one year."""

DEFAULT_MIN_ALLOCATABLE: tuple[Mapping[str, float], ...] = ({"cpus": 0.01}, {"mem": 32.0})
"""Mesos' default ``--min_allocatable_resources=cpus:0.01|mem:32``: an offer must hold
at least one of these quantities, so frameworks are never offered crumbs."""

ANY = "*"
"""Wildcard in :class:`Rejection`: the reason holds for every framework or every agent."""

_EMPTY = Resources()
_EMPTY_ATTRIBUTES = Attributes()


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class OfferFilter:
    """A decline filter: do not offer ``agent_id`` to this framework again until ``until``.

    As in Mesos' ``RefusedOfferFilter`` the filter only hides offers that are contained in
    the declined ``resources``: if more frees up on the agent, the framework sees it.
    """

    agent_id: str
    """The agent whose offer was declined."""
    until: float
    """Expiry time, on the same clock as ``now``."""
    resources: Resources | None = None
    """Declined resources; None filters any offer of this agent."""
    role: str | None = None
    """Only filter offers for this role (multi-role frameworks); None: every role."""
    reason: str = ""
    """Why the framework declined, as it said (``Decline.reason``), for operators."""

    def applies(self, offered: Resources, role: str, now: float) -> bool:
        """Whether this filter hides an offer of ``offered`` for ``role`` at ``now``."""
        if now >= self.until or (self.role is not None and self.role != role):
            return False
        return self.resources is None or self.resources.contains(offered)


def decline_filter(
    agent_id: str,
    now: float,
    refuse_seconds: float | None = DEFAULT_REFUSE_SECONDS,
    resources: Resources | None = None,
    role: str | None = None,
    reason: str = "",
) -> OfferFilter | None:
    """The filter a decline installs, with Mesos' rules for ``refuse_seconds``.

    None, negative or NaN means the 5 s default; more than a year is capped at a year;
    zero installs no filter (returns None), so the framework may be re-offered at once.
    """
    if refuse_seconds is None or math.isnan(refuse_seconds) or refuse_seconds < 0:
        refuse_seconds = DEFAULT_REFUSE_SECONDS
    if refuse_seconds == 0:
        return None
    seconds = min(refuse_seconds, MAX_REFUSE_SECONDS)
    return OfferFilter(
        agent_id=agent_id, until=now + seconds, resources=resources, role=role, reason=reason
    )


@dataclass(slots=True)
class FilterIndex:
    """One framework's decline filters by agent, kept between cycles by the caller that
    owns the filter list (the master's ``FrameworkRecord.filter_index``), with a heap of
    expiries: a cycle costs the filters added and the filters expired since the last
    one, not every filter (30,000 at 10,000 agents; was a walk of the whole list
    whenever one had expired, i.e. every cycle with Marathon's 1 s refusals)."""

    filters: list[OfferFilter]
    """The list indexed (by identity: a list replaced by someone else is indexed anew)."""
    count: int
    """How many of its filters are indexed (appends since are added)."""
    by_agent: dict[str, list[OfferFilter]] = field(default_factory=dict)
    """The live filters by agent id (expired ones are taken out as they expire)."""
    heap: list[tuple[float, int, OfferFilter]] = field(default_factory=list)
    """``(until, serial, filter)`` of every indexed filter not yet taken out."""
    expired: int = 0
    """Expired filters still in ``filters`` (the list is compacted past half)."""
    serial: int = 0

    @property
    def first_expiry(self) -> float:
        """The earliest expiry of a filter still indexed (inf: none)."""
        return self.heap[0][0] if self.heap else math.inf


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent as the allocator sees it."""

    agent_id: str
    """Master-assigned agent id."""
    hostname: str
    """For offers and explanations."""
    total: Resources
    """Everything the agent has, static reservations carrying their role."""
    allocated: Resources = _EMPTY
    """Used by tasks and executors plus outstanding offers (never offered again)."""
    attributes: Attributes = _EMPTY_ATTRIBUTES
    """Agent attributes (zone, rack, ...), passed through for constraint matching."""
    reachable: bool = True
    """False once the master stopped hearing from it; it gets no offers."""
    free: Resources | None = field(default=None, compare=False, repr=False)
    """``total - allocated`` when the caller already knows it (the master keeps each
    agent's view between cycles and recomputes it only when the agent changed)."""


@dataclass(frozen=True, slots=True)
class Framework:
    """One registered framework as the allocator sees it."""

    framework_id: str
    """Master-assigned framework id."""
    roles: tuple[str, ...]
    """Roles it subscribes with (Mesos MULTI_ROLE); offers carry one of them."""
    active: bool = True
    """False while disconnected or deactivated: no offers."""
    suppressed_roles: frozenset[str] = frozenset()
    """Roles for which it called SUPPRESS: it wants no offers for them."""
    filters: tuple[OfferFilter, ...] = ()
    """Its decline filters; expired ones are ignored, so the caller may prune lazily."""
    filters_by_agent: Mapping[str, Sequence[OfferFilter]] | None = None
    """The same filters by agent id, when the caller keeps them so (expired ones may
    stay: they are ignored): a cycle then does not index 10,000s of filters anew."""
    allocation: Mapping[str, Resources] = field(default_factory=dict)
    """Per role, what it holds cluster-wide (tasks and outstanding offers): its DRF share."""


@dataclass(frozen=True, slots=True)
class Quota:
    """A role's quota on scalar resources (Mesos 1.9+ guarantees and limits)."""

    guarantee: Mapping[str, float] = field(default_factory=dict)
    """Resources the role gets before fair sharing, e.g. ``{"cpus": 4}``."""
    limit: Mapping[str, float] = field(default_factory=dict)
    """The role is never offered beyond this; names not listed are unlimited."""

    def __post_init__(self) -> None:
        for kind, amounts in (("guarantee", self.guarantee), ("limit", self.limit)):
            for name, amount in amounts.items():
                to_milli(amount, f"quota {kind} {name}")
        for name, amount in self.guarantee.items():
            if name in self.limit and self.limit[name] < amount:
                raise AllocatorInputError(
                    f"quota {name}: guarantee {amount!r} exceeds limit {self.limit[name]!r}"
                )


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything one allocation cycle looks at."""

    agents: Sequence[Agent]
    """All known agents; unreachable ones are reported, not offered."""
    frameworks: Sequence[Framework]
    """All registered frameworks."""
    weights: Mapping[str, float] = field(default_factory=dict)
    """Role weights (Mesos ``/weights``); unlisted roles weigh 1."""
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    """Role quotas; unlisted roles have none."""
    changed: Mapping[str, int] | None = None
    """For a caller that allocates with an :class:`AllocMemo`: the agents whose view may
    differ from the memo's last cycle (id -> index in ``agents``; added ones included),
    so a cycle walks those and the agents someone may take, not every agent. None:
    unknown (every view is compared). Ignored without a memo."""


@dataclass(frozen=True, slots=True)
class AllocatorConfig:
    """Tunables that Mesos exposes as master flags."""

    min_allocatable: tuple[Mapping[str, float], ...] = DEFAULT_MIN_ALLOCATABLE
    """An offer must contain at least one of these quantities (empty: any non-empty)."""


# --------------------------------------------------------------------------- outputs


class Offer(NamedTuple):
    """Resources of one agent offered to one framework for one role."""

    framework_id: str
    agent_id: str
    hostname: str
    role: str
    resources: Resources


class RejectReason(StrEnum):
    """Why a framework was not offered an agent this cycle (for operators)."""

    FILTERED = "filtered"
    QUOTA_LIMIT = "role quota limit reached"
    QUOTA_HEADROOM = "held back for other roles' quota guarantees"
    AGENT_UNREACHABLE = "agent unreachable"
    FRAMEWORK_SUPPRESSED = "framework suppressed"
    FRAMEWORK_INACTIVE = "framework inactive"
    NO_FREE_RESOURCES = "no free resources"


class Rejection(NamedTuple):
    """One reason a framework got no offer for an agent; ``"*"`` (ANY) is a wildcard."""

    framework_id: str
    agent_id: str
    reason: RejectReason
    detail: str
    role: str | None = None
    """The role the reason concerns; None: every role of the framework."""
    until: float | None = None
    """For ``FILTERED``: when the filter expires (on the clock of ``now``)."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """The result of one cycle: offers to send and why everything else waits."""

    offers: tuple[Offer, ...]
    """Offers to send, at most one per (framework, agent, role)."""
    rejections: Sequence[Rejection]
    """Reasons, with ``"*"`` wildcards for agent-wide or framework-wide ones (a cycle
    with a memo gives a lazy sequence: 10,000 agents' rows are only listed when read)."""

    def reasons(self, framework_id: str, agent_id: str) -> list[Rejection]:
        """Rejections that concern this framework and agent, wildcards included."""
        return [
            r
            for r in self.rejections
            if r.framework_id in (framework_id, ANY) and r.agent_id in (agent_id, ANY)
        ]

    def explain(self, framework_id: str, agent_id: str) -> str:
        """One sentence for operators: why ``framework_id`` got (or not) ``agent_id``."""
        for o in self.offers:
            if o.agent_id == agent_id and o.framework_id == framework_id:
                return f"offered {o.resources} for role {o.role}"
        found = self.reasons(framework_id, agent_id)
        if found:
            return "; ".join(
                f"{r.reason.value}: {r.detail}" if r.detail else r.reason.value for r in found
            )
        winners = sorted({o.framework_id for o in self.offers if o.agent_id == agent_id})
        if winners:
            return f"offered to {', '.join(winners)} (lower weighted dominant share)"
        return "nothing to offer"


@dataclass(slots=True)
class AllocMemo:
    """What one caller's cycles carry over from cycle to cycle (the master keeps one per
    leadership): a cycle then costs work for the agents that changed and the agents that
    some framework may take, not for every agent and every filter.

    * per agent, its allocator view (compared by identity: the caller hands the SAME
      ``Agent`` object while nothing in it changed) and what the view alone decides: its
      ``AGENT_UNREACHABLE``/``NO_FREE_RESOURCES`` row, or its free resources; the cluster
      total (DRF's denominator) is adjusted by the views that changed;
    * ``blocked``: agents whose last visit offered nothing because every framework that
      wants offers (every active, unsuppressed ``(framework, role)``) had a decline
      filter hiding it. The visit is skipped while the agent's view is the same object,
      the set of wanting ``(framework, role)`` pairs is the same, ``epoch`` (the caller's:
      changed whenever filters are removed, e.g. a revive) is the same, and no filter it
      hit has expired; its rows are reused. A new filter always comes with a new view
      (the declined offer's resources go back to the agent). Not used while quotas are
      set (their caps move with every offer).

    Given the same snapshots, ``allocate`` with a memo makes the same offers in the same
    order as without one, and the same rejection rows (a skipped visit's rows keep the
    framework order of the visit that made them)."""

    epoch: object = None
    """The caller's filter-removal counter (see above)."""
    views: dict[str, tuple[Agent, Rejection | None, Resources]] = field(default_factory=dict)
    """agent id -> (view, its row or None, free resources)."""
    total: dict[str, int] = field(default_factory=dict)
    """Milli totals of the reachable agents in ``views``."""
    wanting: frozenset[tuple[str, str]] | None = None
    """The ``(framework, role)`` pairs that wanted offers when ``blocked`` was filled,
    with the epoch: ``(epoch, pairs)``."""
    key: object = None
    blocked: dict[str, tuple[Agent, float, tuple[Rejection, ...]]] = field(default_factory=dict)
    """agent id -> (view, earliest expiry of the filters that hit, its rows)."""
    visits_skipped: int = 0
    """Visits skipped so far (for tests and benches)."""
    visits: int = 0
    """Agents visited so far (offered or found filtered; for tests and benches)."""
    synced: bool = False
    """The memo followed every agent of the last cycle's snapshot (a cycle may then walk
    only ``ClusterSnapshot.changed`` and the agents below); False: walk every agent."""
    pos: dict[str, int] = field(default_factory=dict)
    """agent id -> index in the snapshot's ``agents`` (the visiting order)."""
    rows: dict[str, tuple[Rejection, ...]] = field(default_factory=dict)
    """agent id -> its rows in the last cycle (its view's row, or its visit's rows)."""
    offered: set[str] = field(default_factory=set)
    """Agents offered something in the last cycle: visited again (a cycle from scratch
    would, whatever the caller did with the offer)."""
    expiries: list[tuple[float, str]] = field(default_factory=list)
    """Heap of ``(expiry, agent id)`` of ``blocked`` agents: due ones are visited again."""
    caller_views: list[Agent] = field(default_factory=list)
    """The caller's (the master's) agent views in snapshot order, kept between cycles."""
    caller_changed: dict[str, int] = field(default_factory=dict)
    """The caller's changes not yet handed to a cycle with this memo (id -> index)."""
    caller_pos: dict[str, int] = field(default_factory=dict)
    """agent id -> index in ``caller_views``."""
    caller_table: object = None
    caller_attributes: dict[str, tuple[Attributes, dict[str, str | float]]] = field(
        default_factory=dict
    )
    """agent id -> (its attributes, their ``to_dict()``): offers of an agent share the
    plain form while the agent's attributes are the same object (read-only by contract:
    no consumer of an ``Offer`` changes it)."""
    """What ``caller_views`` follows (the master's agent table), by identity."""


class _Rows(Sequence[Rejection]):
    """A memo cycle's rejection rows: the frameworks' rows, then each agent's (in
    ``agents`` order) from a copy of the memo's per-agent rows, listed on first read
    (``GET /mesos/master/allocation``), not by every cycle."""

    __slots__ = ("_agents", "_by_agent", "_head", "_rows")

    def __init__(
        self,
        head: Sequence[Rejection],
        agents: Sequence[Agent],
        by_agent: Mapping[str, tuple[Rejection, ...]],
    ) -> None:
        self._head, self._agents, self._by_agent = head, agents, by_agent
        self._rows: tuple[Rejection, ...] | None = None

    def _all(self) -> tuple[Rejection, ...]:
        rows = self._rows
        if rows is None:
            out = list(self._head)
            seen: set[str] = set()
            by_agent = self._by_agent
            for a in self._agents:
                aid = a.agent_id
                if aid not in seen:
                    seen.add(aid)
                    out.extend(by_agent.get(aid, ()))
            rows = self._rows = tuple(out)
        return rows

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, i: int | slice) -> object:  # type: ignore[override]
        return self._all()[i]

    def __iter__(self) -> Iterator[Rejection]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Rows):
            other = other._all()
        return self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


# --------------------------------------------------------------------------- algorithm


def dominant_share(allocated: Mapping[str, int], total: Mapping[str, int]) -> float:
    """DRF: the largest fraction of any cluster resource held (milli-unit inputs)."""
    share = 0.0
    for name, amount in allocated.items():
        t = total.get(name)
        if t:
            s = amount / t
            if s > share:
                share = s
    return share


def _add_into(acc: dict[str, int], amounts: Mapping[str, int]) -> None:
    for name, v in amounts.items():
        acc[name] = acc.get(name, 0) + v


def _allocatable(milli: Mapping[str, int], minimums: Sequence[Mapping[str, int]]) -> bool:
    if not minimums:
        return bool(milli)
    for need in minimums:
        for name, amount in need.items():
            if milli.get(name, 0) < amount:
                break
        else:
            return True
    return False


def _too_small(minimums: Sequence[Mapping[str, float]]) -> str:
    """``", below the smallest offer (cpus 0.01 or mem 32)"``: why some free resources
    are not offered (only ports left, a sliver of cpus, ...)."""
    if not minimums:
        return ""
    alternatives = " or ".join(
        " and ".join(f"{name} {amount:g}" for name, amount in m.items()) for m in minimums
    )
    return f", below the smallest offer ({alternatives})"


class _Cycle:
    """Mutable bookkeeping of one :func:`allocate` call; never escapes it."""

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        now: float,
        config: AllocatorConfig,
        total: dict[str, int] | None = None,
    ) -> None:
        self.now = now
        self.offered = 0
        """Offers recorded so far (a visit that made none may be skipped next time)."""
        self.hit_until = math.inf
        """Earliest expiry among the filters that hid something in the current visit."""
        self.minimums = [
            {n: to_milli(v, f"min_allocatable {n}") for n, v in m.items()}
            for m in config.min_allocatable
        ]
        self.too_small = _too_small(config.min_allocatable)
        """Appended to a ``NO_FREE_RESOURCES`` detail: what an offer needs at least."""
        self.offers: dict[tuple[str, str, str], Resources] = {}
        self.hostnames: dict[str, str] = {}
        self.rejections: list[Rejection] = []
        self.weights: dict[str, float] = {}
        for role, w in snapshot.weights.items():
            if not (isinstance(w, int | float) and math.isfinite(w) and w > 0):
                raise AllocatorInputError(f"weight of role {role}: must be positive, got {w!r}")
            self.weights[role] = float(w)

        # Cluster totals: the DRF denominator (reachable agents only, as Mesos removes
        # unreachable agents from its sorters).
        if total is None:
            total = {}
            for a in snapshot.agents:
                if a.reachable:
                    _add_into(total, a.total.milli_totals())
        self.total = total

        # Role and framework allocations -> shares.
        self.role_alloc: dict[str, dict[str, int]] = {}
        self.fw_alloc: dict[tuple[str, str], dict[str, int]] = {}
        self.role_fws: dict[str, list[tuple[float, str]]] = {}
        self.fw_key: dict[tuple[str, str], float] = {}
        self.filters: dict[str, Mapping[str, Sequence[OfferFilter]]] = {}
        """framework id -> agent id -> its filters on that agent (expired ones included)."""
        for fw in snapshot.frameworks:
            fid = fw.framework_id
            for role, res in fw.allocation.items():
                amounts = res.milli_totals()
                _add_into(self.role_alloc.setdefault(role, {}), amounts)
                _add_into(self.fw_alloc.setdefault((fid, role), {}), amounts)
            if not fw.active:
                self.rejections.append(Rejection(fid, ANY, RejectReason.FRAMEWORK_INACTIVE, ""))
                continue
            for role in fw.roles:
                if role in fw.suppressed_roles:
                    self.rejections.append(
                        Rejection(fid, ANY, RejectReason.FRAMEWORK_SUPPRESSED, f"role {role}", role)
                    )
                    continue
                self.role_fws.setdefault(role, [])
            if fw.filters_by_agent is not None:
                self.filters[fid] = fw.filters_by_agent
            elif fw.filters:
                mine: dict[str, list[OfferFilter]] = {}
                for flt in fw.filters:
                    if flt.until > now:
                        mine.setdefault(flt.agent_id, []).append(flt)
                self.filters[fid] = mine
        for fw in snapshot.frameworks:
            if not fw.active:
                continue
            for role in fw.roles:
                if role in self.role_fws and role not in fw.suppressed_roles:
                    key = dominant_share(self.fw_alloc.get((fw.framework_id, role), {}), total)
                    self.fw_key[(fw.framework_id, role)] = key
                    insort(self.role_fws[role], (key, fw.framework_id))
        self.role_key: dict[str, float] = {}
        self.role_order: list[tuple[float, str]] = []
        for role in self.role_fws:
            key = self._role_share(role)
            self.role_key[role] = key
            self.role_order.append((key, role))
        self.role_order.sort()

        self._init_quota(snapshot)

    def _role_share(self, role: str) -> float:
        share = dominant_share(self.role_alloc.get(role, {}), self.total)
        return share / self.weights.get(role, 1.0)

    # ------------------------------------------------------------------ quota

    def _init_quota(self, snapshot: ClusterSnapshot) -> None:
        """Quota consumption = allocation + unallocated reservations (Mesos 1.9+)."""
        self.limits: dict[str, dict[str, int]] = {}
        self.guarantees: dict[str, dict[str, int]] = {}
        for role, q in snapshot.quotas.items():
            if q.limit:
                self.limits[role] = {n: to_milli(v) for n, v in q.limit.items()}
            if q.guarantee:
                self.guarantees[role] = {n: to_milli(v) for n, v in q.guarantee.items()}
        self.consumed: dict[str, dict[str, int]] = {}
        self.available: dict[str, int] = {}  # unreserved, unallocated, reachable
        if not (self.limits or self.guarantees):
            return
        quota_roles = set(self.limits) | set(self.guarantees)
        for role in quota_roles:
            self.consumed[role] = dict(self.role_alloc.get(role, {}))
        for a in snapshot.agents:
            if not a.reachable:
                continue
            free = a.total.saturating_sub(a.allocated)
            if self.guarantees:
                _add_into(self.available, free.unreserved().milli_totals())
            if free.has_reservations():
                for role in free.roles() & quota_roles:
                    _add_into(self.consumed[role], free.for_role(role).milli_totals())

    def unmet(self, role: str) -> dict[str, int]:
        """What is still missing from ``role``'s guarantee (positive entries only)."""
        g = self.guarantees.get(role)
        if not g:
            return {}
        used = self.consumed.get(role, {})
        return {n: v - used.get(n, 0) for n, v in g.items() if v > used.get(n, 0)}

    def caps(self, role: str, stage1: bool) -> tuple[dict[str, int], RejectReason | None]:
        """Per-name caps on *unreserved* resources offered to ``role`` now, and which rule
        binds hardest (for the rejection message)."""
        caps: dict[str, int] = {}
        binding: RejectReason | None = None
        limit = self.limits.get(role)
        if limit:
            used = self.consumed[role]
            for n, v in limit.items():
                caps[n] = v - used.get(n, 0)
            binding = RejectReason.QUOTA_LIMIT
        if self.guarantees:
            required: dict[str, int] = {}
            for r in self.guarantees:
                if r != role:
                    _add_into(required, self.unmet(r))
            for n, need in required.items():
                cap = self.available.get(n, 0) - need
                if cap < caps.get(n, cap + 1):
                    caps[n] = cap
                    binding = RejectReason.QUOTA_HEADROOM
            if stage1:
                used = self.consumed.get(role, {})
                for n, g in self.guarantees.get(role, {}).items():
                    v = g - used.get(n, 0)
                    if v < caps.get(n, v + 1):
                        caps[n] = v
        return caps, binding

    # ------------------------------------------------------------------ offers

    def offer(
        self, fid: str, role: str, agent: Agent, res: Resources, unreserved: Mapping[str, int]
    ) -> None:
        """Record an offer and move shares, quota consumption and headroom accordingly."""
        self.offered += 1
        key = (fid, agent.agent_id, role)
        prev = self.offers.get(key)
        self.offers[key] = res if prev is None else prev + res
        self.hostnames[agent.agent_id] = agent.hostname
        amounts = res.milli_totals()
        _add_into(self.role_alloc.setdefault(role, {}), amounts)
        _add_into(self.fw_alloc.setdefault((fid, role), {}), amounts)

        fws = self.role_fws[role]
        old = self.fw_key[(fid, role)]
        fws.remove((old, fid))
        new = dominant_share(self.fw_alloc[(fid, role)], self.total)
        self.fw_key[(fid, role)] = new
        insort(fws, (new, fid))

        old = self.role_key[role]
        self.role_order.remove((old, role))
        new = self._role_share(role)
        self.role_key[role] = new
        insort(self.role_order, (new, role))

        if unreserved:
            if role in self.consumed:
                _add_into(self.consumed[role], unreserved)
            if self.guarantees:
                for n, v in unreserved.items():
                    self.available[n] = self.available.get(n, 0) - v

    def visit(self, agent: Agent, free: Resources, roles: Sequence[str], stage1: bool) -> Resources:
        """Offer ``free`` on one agent to ``roles`` in order; return what is left.

        Within a role the first unfiltered framework takes everything the role may use;
        what it could not take (other roles' reservations, quota leftovers) goes on to
        the next role, as in Mesos.
        """
        quota = bool(self.limits or self.guarantees)
        if not quota and free.has_reservations():
            return self._visit_parts(agent, free, roles)
        now = self.now
        aid = agent.agent_id
        for role in roles:
            offerable = free.allocatable_to(role)
            if not offerable:
                continue
            binding: RejectReason | None = None
            unreserved: Mapping[str, int] = {}
            if quota:
                part = offerable.unreserved()
                caps, binding = self.caps(role, stage1)
                shrunk = part.shrink_scalars(caps) if caps else part
                if shrunk is not part:
                    offerable = offerable.saturating_sub(part) + shrunk
                    part = shrunk
                else:
                    binding = None
                unreserved = part.milli_totals()
                if stage1 and not unreserved:
                    continue
            if not _allocatable(offerable.milli_totals(), self.minimums):
                if binding is not None:
                    for _, fid in self.role_fws[role]:
                        self.rejections.append(
                            Rejection(
                                fid, aid, binding, f"role {role}: nothing left to offer", role
                            )
                        )
                continue
            for _, fid in tuple(self.role_fws[role]):
                mine = self.filters.get(fid)
                flts = mine.get(aid) if mine else None
                if flts:
                    hit = [f for f in flts if f.applies(offerable, role, now)]
                    if hit:
                        until = max(f.until for f in hit)
                        first = min(f.until for f in hit)
                        if first < self.hit_until:
                            self.hit_until = first
                        self.rejections.append(
                            Rejection(
                                fid,
                                aid,
                                RejectReason.FILTERED,
                                f"filtered until {until:g}",
                                role,
                                until,
                            )
                        )
                        continue
                self.offer(fid, role, agent, offerable, unreserved)
                free = _EMPTY if offerable is free else free.saturating_sub(offerable)
                break
            if not free:
                break
        return free

    def _visit_parts(self, agent: Agent, free: Resources, roles: Sequence[str]) -> Resources:
        """``visit`` for an agent with reservations and no quota in play: the agent's free
        resources are split by role once (instead of filtered and subtracted per role);
        each role is offered the unreserved part (until someone takes it) plus its own."""
        parts = free.by_role()
        unres = parts.get(UNRESERVED)
        taken: set[str] = set()
        aid = agent.agent_id
        for role in roles:
            own = parts.get(role) if role != UNRESERVED else None
            if unres is None and own is None:
                continue
            if unres is None:
                assert own is not None
                offerable = own
            elif own is None:
                offerable = unres
            else:
                offerable = free.allocatable_to(role) if not taken else unres + own
            if not _allocatable(offerable.milli_totals(), self.minimums):
                continue
            for _, fid in tuple(self.role_fws[role]):
                if self._filtered(fid, aid, offerable, role):
                    continue
                self.offer(fid, role, agent, offerable, {})
                if own is not None:
                    taken.add(role)
                if unres is not None:
                    unres = None
                    taken.add(UNRESERVED)
                break
        if not taken:
            return free
        left = Resources()
        for role, part in parts.items():
            if role not in taken:
                left = left + part
        return left

    def _filtered(self, fid: str, aid: str, offerable: Resources, role: str) -> bool:
        mine = self.filters.get(fid)
        flts = mine.get(aid) if mine else None
        if not flts:
            return False
        hit = [f for f in flts if f.applies(offerable, role, self.now)]
        if not hit:
            return False
        until = max(f.until for f in hit)
        first = min(f.until for f in hit)
        if first < self.hit_until:
            self.hit_until = first
        self.rejections.append(
            Rejection(fid, aid, RejectReason.FILTERED, f"filtered until {until:g}", role, until)
        )
        return True


def allocate(
    snapshot: ClusterSnapshot,
    now: float,
    config: AllocatorConfig | None = None,
    memo: AllocMemo | None = None,
) -> Allocation:
    """Run one allocation cycle over ``snapshot`` at time ``now``; see the module docstring.

    Pure: the snapshot is not modified. The caller turns the offers into messages and adds
    them to the agents' and frameworks' allocations before the next cycle (Mesos counts an
    outstanding offer as allocated). ``memo`` (see :class:`AllocMemo`) carries what the
    next cycle may reuse; the result is the same with or without it.
    """
    config = config or AllocatorConfig()
    if memo is not None and not any(q.limit or q.guarantee for q in snapshot.quotas.values()):
        return _allocate_incremental(snapshot, now, config, memo)
    if memo is None:
        cycle = _Cycle(snapshot, now, config)
        agents: list[tuple[Agent, Resources]] = []
        for agent in snapshot.agents:
            row, free = _agent_row(agent, cycle.minimums, cycle.too_small)
            if row is not None:
                cycle.rejections.append(row)
            else:
                agents.append((agent, free))
    else:
        memo.synced = False  # quotas: every agent is walked (their caps move per offer)
        minimums = [
            {n: to_milli(v, f"min_allocatable {n}") for n, v in m.items()}
            for m in config.min_allocatable
        ]
        rows, agents = _remembered_agents(
            snapshot, memo, minimums, _too_small(config.min_allocatable)
        )
        cycle = _Cycle(snapshot, now, config, total=memo.total)
        cycle.rejections.extend(rows)

    if cycle.role_order:
        if cycle.guarantees:
            for i, (agent, free) in enumerate(agents):
                hungry = [r for _, r in cycle.role_order if cycle.unmet(r)]
                if not hungry:
                    break
                agents[i] = (agent, cycle.visit(agent, free, hungry, stage1=True))
        for agent, free in agents:
            if free:
                cycle.visit(agent, free, [r for _, r in cycle.role_order], stage1=False)
    if memo is not None:
        memo.blocked.clear()
        memo.key = None

    offers = tuple(
        Offer(fid, aid, cycle.hostnames[aid], role, res)
        for (fid, aid, role), res in cycle.offers.items()
    )
    return Allocation(offers=offers, rejections=tuple(cycle.rejections))


def _allocate_incremental(
    snapshot: ClusterSnapshot, now: float, config: AllocatorConfig, memo: AllocMemo
) -> Allocation:
    """``allocate`` with a memo and no quota: a cycle visits only the agents that may be
    offered something a cycle from scratch would offer, in snapshot order:

    * the agents whose view changed (``snapshot.changed``; every agent when the memo is
      not in sync or the caller does not say) and have something allocatable free;
    * the agents offered something by the last cycle (visited again, as from scratch);
    * ``blocked`` agents (every wanting framework had a filter hiding them) once a
      filter that hit expired (a heap), or all of them when the wanting set or the
      caller's filter epoch changed.

    Every other agent's rows are the last cycle's (kept per agent): its view's row
    (unreachable, nothing free) or the filtered rows of its last visit. The rows are
    listed lazily (:class:`_Rows`)."""
    minimums = [
        {n: to_milli(v, f"min_allocatable {n}") for n, v in m.items()}
        for m in config.min_allocatable
    ]
    too_small = _too_small(config.min_allocatable)
    agents = snapshot.agents
    changed = snapshot.changed
    views, rows_of, blocked, pos = memo.views, memo.rows, memo.blocked, memo.pos
    cand: set[str] = set()
    if not memo.synced or changed is None or len(pos) > len(agents):
        # Walk every agent (first cycle, a memo out of step, agents gone).
        ids = {a.agent_id for a in agents}
        if len(ids) != len(agents):
            # One id twice: no memo can stand for both; allocate from scratch.
            memo.views, memo.total, memo.rows, memo.pos = {}, {}, {}, {}
            memo.blocked.clear()
            memo.offered.clear()
            memo.expiries.clear()
            memo.synced, memo.key = False, None
            return allocate(snapshot, now, config)
        if len(views) != len(ids) or any(aid not in ids for aid in views):
            memo.views, memo.total, memo.rows, memo.pos = {}, {}, {}, {}
            memo.blocked.clear()
            memo.expiries.clear()
            memo.key = None
            views, rows_of, blocked, pos = memo.views, memo.rows, memo.blocked, memo.pos
        changed = {a.agent_id: i for i, a in enumerate(agents)}
        pos.clear()
        pos.update(changed)
        memo.offered.clear()
    total = memo.total
    for aid, i in changed.items():
        agent = agents[i]
        pos[aid] = i
        known = views.get(aid)
        if known is None or known[0] is not agent:
            known = _renew_view(views, total, agent, minimums, too_small)
            blocked.pop(aid, None)
        if known[1] is not None:
            rows_of[aid] = (known[1],)
        elif aid not in blocked:
            cand.add(aid)
    if len(views) != len(agents):
        memo.synced = False  # the caller's changes missed an agent: walk all next time
        return _allocate_incremental(snapshot, now, config, memo)
    cand.update(memo.offered)
    memo.offered.clear()
    heap = memo.expiries
    while heap and heap[0][0] <= now:
        cand.add(heapq.heappop(heap)[1])

    cycle = _Cycle(snapshot, now, config, total=total)
    head = list(cycle.rejections)
    if not cycle.role_order:
        blocked.clear()
        memo.key = None
        memo.synced = False  # nobody visited: every agent with free waits for the next
        memo.expiries.clear()
        memo.offered.clear()
        # No visit: an agent's only rows are its view's (a rare state: every framework
        # inactive or suppressed; the next cycle walks every agent again).
        rows_of.clear()
        for aid, (_, row, _) in views.items():
            rows_of[aid] = (row,) if row is not None else ()
        return Allocation(offers=(), rejections=_Rows(head, agents, dict(rows_of)))
    key = (memo.epoch, frozenset(cycle.fw_key))
    if key != memo.key:
        cand.update(blocked)
        blocked.clear()
        heap.clear()
    memo.key = key
    memo.synced = True
    rejections = cycle.rejections
    order = [r for _, r in cycle.role_order]
    offered = memo.offered
    reblocked = 0
    for aid in sorted(cand, key=pos.__getitem__):
        known = views.get(aid)
        if known is None or known[1] is not None:
            continue
        agent, _, free = known
        seen = blocked.get(aid)
        if seen is not None:
            if seen[0] is agent and now < seen[1]:
                continue  # counted below with the others left blocked
            del blocked[aid]
        mark, before = len(rejections), cycle.offered
        cycle.hit_until = math.inf
        memo.visits += 1
        cycle.visit(agent, free, order, stage1=False)
        if cycle.offered != before:
            order = [r for _, r in cycle.role_order]
            offered.add(aid)
            rows_of[aid] = tuple(rejections[mark:])
        else:
            mine = tuple(rejections[mark:])
            blocked[aid] = (agent, cycle.hit_until, mine)
            reblocked += 1
            rows_of[aid] = mine
            if cycle.hit_until < math.inf:
                heapq.heappush(heap, (cycle.hit_until, aid))
    memo.visits_skipped += len(blocked) - reblocked  # hidden by filters, not visited
    offers = tuple(
        Offer(fid, aid, cycle.hostnames[aid], role, res)
        for (fid, aid, role), res in cycle.offers.items()
    )
    return Allocation(offers=offers, rejections=_Rows(head, agents, dict(rows_of)))


def _agent_row(
    agent: Agent, minimums: Sequence[Mapping[str, int]], too_small: str
) -> tuple[Rejection | None, Resources]:
    """What the agent's view alone decides: the row that keeps it out of the cycle
    (unreachable, nothing allocatable free) or None, and its free resources."""
    if not agent.reachable:
        return Rejection(
            ANY, agent.agent_id, RejectReason.AGENT_UNREACHABLE, agent.hostname
        ), _EMPTY
    free = agent.free
    if free is None:
        free = agent.total.saturating_sub(agent.allocated)
    if not _allocatable(free.milli_totals(), minimums):
        detail = f"free {free}{too_small}" if free else "fully allocated"
        return Rejection(ANY, agent.agent_id, RejectReason.NO_FREE_RESOURCES, detail), free
    return None, free


def _renew_view(
    views: dict[str, tuple[Agent, Rejection | None, Resources]],
    total: dict[str, int],
    agent: Agent,
    minimums: Sequence[Mapping[str, int]],
    too_small: str,
) -> tuple[Agent, Rejection | None, Resources]:
    """Replace ``agent``'s remembered view (its row and free resources) with one built
    from this view, moving the cluster ``total`` (reachable agents' totals) from the old
    view's to this one's."""
    known = views.get(agent.agent_id)
    if known is not None and known[0].reachable:
        for name, v in known[0].total.milli_totals().items():
            total[name] -= v
    if agent.reachable:
        _add_into(total, agent.total.milli_totals())
    row, free = _agent_row(agent, minimums, too_small)
    view = views[agent.agent_id] = (agent, row, free)
    return view


def _remembered_agents(
    snapshot: ClusterSnapshot,
    memo: AllocMemo,
    minimums: Sequence[Mapping[str, int]],
    too_small: str,
) -> tuple[list[Rejection], list[tuple[Agent, Resources]]]:
    """The agents' rows and the agents to visit, in snapshot order, from ``memo`` for
    every view seen before (identity), computed for the rest; ``memo.total`` follows the
    changed views. Agents gone from the snapshot (or a memo fed another snapshot's
    agents) rebuild the memo."""
    if not memo.views:
        memo.total = {}
    views, total = memo.views, memo.total
    rows: list[Rejection] = []
    agents: list[tuple[Agent, Resources]] = []
    for agent in snapshot.agents:
        aid = agent.agent_id
        known = views.get(aid)
        if known is None or known[0] is not agent:
            known = _renew_view(views, total, agent, minimums, too_small)
        if known[1] is not None:
            rows.append(known[1])
        else:
            agents.append((agent, known[2]))
    if len(views) != len(snapshot.agents):
        # Agents left (rebuild from this snapshot), or one id twice (no memo can
        # stand for both: start afresh each time, the result is computed anyway).
        memo.views, memo.total, memo.key = {}, {}, None
        memo.blocked.clear()
        if len({a.agent_id for a in snapshot.agents}) == len(snapshot.agents):
            return _remembered_agents(snapshot, memo, minimums, too_small)
        for a in snapshot.agents:
            if a.reachable:
                _add_into(memo.total, a.total.milli_totals())
    return rows, agents
