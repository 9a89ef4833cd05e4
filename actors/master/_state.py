"""The leading master's state: its tunables, its records and the one ``MasterState``.

Every handler module (``_agents``, ``_frameworks``, ``_offers``, ``_tasks``) reads and
changes this one state; ``MasterCore`` is this state plus the router. Nothing here does
I/O or reads a clock: times are the ``now`` the caller passes in.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.master._effects import Effect, Send
from actors.master.allocator import Agent as AllocAgent
from actors.master.allocator import (
    Allocation,
    AllocatorConfig,
    AllocMemo,
    ClusterSnapshot,
    FilterIndex,
    OfferFilter,
    Quota,
)
from actors.resources import Attributes, Resources
from actors.task_states import TaskState

_EMPTY = Resources()

# ------------------------------------------------------------------------------ config


@dataclass(frozen=True, slots=True)
class MasterConfig:
    """Master tunables; the defaults are for development clusters on one machine.

    Mesos' production defaults are slower (15 s pings x 5, 10 min re-registration):
    here an unreachable agent is noticed in about ``ping_interval * max_missed_pings``.
    """

    ping_interval: float = 1.0
    """Seconds between pings to each agent."""
    max_missed_pings: int = 5
    """Unanswered pings after which an agent is unreachable."""
    agent_reregister_timeout: float = 10.0
    """After a failover, how long agents from the registry have to re-register."""
    allocation_interval: float = 0.05
    """Minimum seconds between allocation cycles (the actor batches events into cycles)."""
    offer_timeout: float | None = None
    """Rescind offers older than this; None keeps them until used (Mesos' default)."""
    heartbeat_interval: float = 5.0
    """Told to frameworks in ``Subscribed``."""
    completed_tasks_kept: int = 1000
    """Finished tasks remembered for the state endpoint and reconciliation."""
    completed_frameworks_kept: int = 50
    """Removed frameworks remembered for the state endpoints (Mesos'
    ``--max_completed_frameworks``)."""
    weights: dict[str, float] = field(default_factory=dict)
    """Role weights for DRF."""
    quotas: dict[str, Quota] = field(default_factory=dict)
    """Role quotas."""
    watch_heartbeat_interval: float = 15.0
    """Seconds between HEARTBEAT events to state watchers (Mesos' operator default)."""


# ------------------------------------------------------------------------------ records

_INTERNED: dict[Resources, Resources] = {}


def interned(res: Resources) -> Resources:
    """One shared bag per distinct task shape: 100,000 tasks of a few apps hold a few
    bags, not 100,000 (bytes per task; framework totals sum them by identity). Bounded:
    forgotten past 4,096 shapes (shapes still in use keep their bags, only sharing ends)."""
    known = _INTERNED.get(res)
    if known is not None:
        return known
    if len(_INTERNED) >= 4096:
        _INTERNED.clear()
    _INTERNED[res] = res
    return res


_PARSED: dict[str, Resources] = {}


def parsed_resources(doc: dict[str, Any]) -> Resources:
    """``interned(Resources.from_dict(doc))``, remembered by the document's text: a new
    leader takes in 100,000 tasks of a few shapes from re-registering agents, and
    ``repr`` of a small dict costs an eighth of parsing it again. Bounded like
    ``interned``; a document that does not parse raises as ``from_dict`` does (and is
    not remembered)."""
    key = repr(doc)
    known = _PARSED.get(key)
    if known is None:
        known = interned(Resources.from_dict(doc))
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        _PARSED[key] = known
    return known


@dataclass(slots=True)
class AgentRecord:
    """The master's view of one agent."""

    agent_id: str
    hostname: str
    address: str
    total: Resources
    attributes: Attributes
    registered_at: float
    version: str = ""
    reachable: bool = True
    recovering: bool = False
    """Known from the registry after a failover but not re-registered yet."""
    missed_pings: int = 0
    ping_seq: int = 0
    used: Resources = _EMPTY
    offered: Resources = _EMPTY
    tasks: set[tuple[str, str]] = field(default_factory=set)
    offers: set[str] = field(default_factory=set)
    json_cache: tuple[tuple[Any, ...], str] | None = field(default=None, repr=False, compare=False)
    """Encoded agent JSON and what it was rendered from (as ``TaskRecord.json_cache``)."""
    alloc_view: AllocAgent | None = field(default=None, repr=False, compare=False)
    """The allocator's view of this agent in the last cycle, reused while the fields it
    was built from are the same objects (``_offers.snapshot``): 10,000 agents' free
    resources are not recomputed every cycle when a few changed."""
    alloc_parts: tuple[Resources, Resources] | None = field(default=None, repr=False, compare=False)
    """``(used, offered)`` that ``alloc_view`` was built from."""
    persisted: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """``durable()`` as the registry holds it (recovered or last persisted): an agent
    re-registering unchanged after a failover costs no ZooKeeper write (10,000 of them
    were serial round trips on the leader's actor thread)."""
    reported: int | None = field(default=None, repr=False, compare=False)
    """``task_digest`` of the tasks this agent's last re-registration carried, as taken
    into the books; None until it re-registers under this leadership, and again once it
    is unreachable. The same re-registration again (the agent retried while a busy new
    leader had not answered yet) is only answered (``_agents.on_reregister_agent``)."""
    copy_id: str | None = field(default=None, repr=False, compare=False)
    """``ReregisterAgent.copy_id`` of the copy taken in last (same lifetime as
    ``reported``): a ``ReregisterAgentAgain`` naming it is answered without the tasks."""
    alloc_sink: set[str] | None = field(default=None, repr=False, compare=False)
    """The allocator's changed-agents set (``AgentTable.changed``) once this record is in
    ``MasterState.agents``: setting a field the allocator's view is built from adds this
    agent's id to it (``__setattr__``), so a cycle revisits the agents that changed, not
    all 10,000 (was: an identity check of every agent's view per cycle)."""

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _ALLOC_FIELDS:
            try:
                sink = self.alloc_sink
            except AttributeError:  # still in __init__: the table marks it when added
                return
            if sink is not None:
                sink.add(self.agent_id)

    def durable(self) -> dict[str, Any]:
        """What survives a master failover (Mesos' registry keeps agent info only)."""
        return {
            "agent_id": self.agent_id,
            "hostname": self.hostname,
            "address": self.address,
            "resources": self.total.to_dict(),
            "attributes": self.attributes.to_dict(),
            "registered_at": self.registered_at,
            "version": self.version,
        }


_ALLOC_FIELDS = frozenset(
    {"hostname", "total", "attributes", "reachable", "recovering", "used", "offered"}
)
"""The ``AgentRecord`` fields the allocator's view of an agent is built from."""


class AgentTable(dict[str, AgentRecord]):
    """``MasterState.agents``: a dict that knows which agents changed since the allocator
    last looked (``changed``: ids added, replaced, removed, or whose allocation fields
    were set; the allocator empties it). Records put in it report their own changes."""

    __slots__ = ("changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.changed: set[str] = set()
        self.update(*args, **kwargs)

    def __setitem__(self, key: str, rec: AgentRecord) -> None:
        super().__setitem__(key, rec)
        rec.alloc_sink = self.changed
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.changed.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, AgentRecord]:
        key, rec = super().popitem()
        self.changed.add(key)
        return key, rec

    def setdefault(self, key: str, default: AgentRecord) -> AgentRecord:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, rec in dict(*args, **kwargs).items():
            self[key] = rec

    def clear(self) -> None:
        self.changed.update(self)
        super().clear()

    def __ior__(self, other: Any) -> AgentTable:  # type: ignore[override,misc]
        self.update(other)
        return self


@dataclass(slots=True)
class FrameworkRecord:
    """The master's view of one framework."""

    framework_id: str
    info: p.FrameworkInfo
    address: str
    registered_at: float
    connected: bool = True
    disconnected_at: float | None = None
    suppressed: bool = False
    suppressed_roles: set[str] = field(default_factory=set)
    """Roles suppressed one by one (Mesos 1.9+ ``Suppress.roles``); ``suppressed``: all."""
    filters: list[OfferFilter] = field(default_factory=list)
    filter_index: FilterIndex | None = field(default=None, repr=False, compare=False)
    """``filters`` by agent as of the list object and length it was built from, with a
    heap of expiries (``_offers._filter_index``): allocation cycles index only the
    filters added and expired since."""
    allocation: dict[str, Resources] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)

    def durable(self) -> dict[str, Any]:
        """What survives a master failover: identity and failover timeout."""
        i = self.info
        return {
            "framework_id": self.framework_id,
            "name": i.name,
            "roles": list(i.roles),
            "failover_timeout": i.failover_timeout,
            "user": i.user,
            "hostname": i.hostname,
            "principal": i.principal,
            "address": self.address,
            "registered_at": self.registered_at,
        }

    def add_allocation(self, role: str, res: Resources) -> None:
        self.allocation[role] = self.allocation.get(role, _EMPTY) + res

    def sub_allocation(self, role: str, res: Resources) -> None:
        self.allocation[role] = self.allocation.get(role, _EMPTY).saturating_sub(res)


@dataclass(slots=True)
class OfferRecord:
    """An outstanding offer."""

    offer_id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    created_at: float
    json_text: str | None = field(default=None, repr=False, compare=False)
    """``/master/state``'s encoded offer (an offer never changes): 10,000 outstanding
    offers were re-rendered on every request."""


@dataclass(slots=True)
class TaskRecord:
    """The master's view of one task."""

    task: p.TaskInfo
    framework_id: str
    agent_id: str
    resources: Resources
    role: str
    state: TaskState
    updated_at: float
    reason: str | None = None
    message: str = ""
    healthy: bool | None = None
    last_status: p.StatusUpdate | None = None
    """The last update the master saw or made for the task (its v1 ``TaskStatus``)."""
    json_cache: tuple[tuple[Any, ...], str] | None = field(default=None, repr=False, compare=False)
    """``/master/state``'s encoded task JSON and the fields it was rendered from
    (``_state_json.task_json_text``): 100,000 tasks re-encoded per request cost seconds."""

    @property
    def task_id(self) -> str:
        return self.task.task_id


# ------------------------------------------------------------------------------ state


@dataclass(eq=False)
class MasterState:
    """Agents, frameworks, offers and tasks of the leading master, and the counters of
    its periodic duties. One instance per leadership term; not thread-safe."""

    master_id: str
    """This leadership's id; agent, framework and offer ids are minted under it."""
    config: MasterConfig
    started_at: float
    """``now`` when this master started leading."""
    address: str = ""
    """This master actor's transport address (announced to the registry's peers)."""
    wall_offset: float = 0.0
    """Add to a ``now`` to get wall-clock seconds (for timestamps people read)."""
    agents: AgentTable = field(default_factory=AgentTable)
    """Every agent ever registered under this leadership (or recovered), by id; it tracks
    which changed for the allocator (``AgentTable.changed``)."""
    frameworks: dict[str, FrameworkRecord] = field(default_factory=dict)
    offers: dict[str, OfferRecord] = field(default_factory=dict)
    tasks: dict[tuple[str, str], TaskRecord] = field(default_factory=dict)
    """Live tasks by ``(framework_id, task_id)``."""
    completed: deque[TaskRecord] = field(default_factory=deque)
    """Terminal tasks, newest last, at most ``config.completed_tasks_kept``."""
    completed_frameworks: deque[FrameworkRecord] = field(default_factory=deque)
    """Removed frameworks, newest last, at most ``config.completed_frameworks_kept``."""
    alloc_config: AllocatorConfig = field(default_factory=AllocatorConfig)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """Serial numbers for minted ids."""
    last_ping: float = 0.0
    last_alloc: float = -math.inf
    alloc_pace: float = 0.0
    """Extra minimum seconds between allocation cycles, on top of the configured
    ``allocation_interval``: the actor sets it from the last cycle's measured cost, so a
    cluster whose cycle takes 100 ms is not reallocated every 50 ms (the leader would do
    nothing else). 0 (pure tests, small clusters): the configured interval alone."""
    alloc_cycles: int = 0
    """Allocation cycles run so far (the actor times them)."""
    cycle_clock: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    """The actor's clock (``Clock.now``), to time the cycle alone (``last_cycle_cost``):
    the actor's turn that ran it also pinged agents, expired offers and flushed the
    watch. None (pure tests): not timed."""
    last_cycle_cost: float = 0.0
    """Seconds the last allocation cycle took (``run_allocation`` alone)."""
    offers_made: int = 0
    """Offers sent so far under this leadership (offers/s for the scale bench)."""
    dirty: bool = True
    """Something changed that may change the next allocation."""
    recovery_deadline: float | None = None
    """After a failover: when agents from the registry that did not re-register are
    declared unreachable (None once recovery is over)."""
    deferred_reconcile: list[p.Reconcile] = field(default_factory=list)
    """Reconciliation asked during recovery, answered when it ends."""
    errors: list[str] = field(default_factory=list)
    """Problems found in recovered registry data and refused input (path-free)."""
    last_allocation: Allocation | None = None
    """The last allocation cycle's result: offers made and why the rest got nothing."""
    last_allocation_at: float | None = None
    """``now`` of that cycle."""
    last_snapshot: ClusterSnapshot | None = None
    """What that cycle looked at (each agent's free resources, frameworks' roles)."""
    alloc_memo: AllocMemo = field(default_factory=AllocMemo)
    """What allocation cycles carry over (``allocator.AllocMemo``): each agent's row and
    free resources by view, the cluster total, the agents every wanting framework has
    filtered. A cycle costs the agents that changed and those someone may take."""
    filters_removed: int = 0
    """Bumped whenever a live decline filter is removed (a revive): the allocator's memo
    of agents hidden by filters is then dropped (``AllocMemo.epoch``). Expired filters
    need no bump."""
    weights: dict[str, float] = field(default_factory=dict)
    """Role weights now (the config's, then the registry's and operators' updates)."""
    quotas: dict[str, Quota] = field(default_factory=dict)
    """Role quotas now (as ``weights``)."""
    watchers: dict[str, int] = field(default_factory=dict)
    """State watchers (``WatchMaster``): address -> seq of the last event sent."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """v1 events of changes applied but not yet sent to the watchers (only collected
    while there are watchers; ``_watch.flush`` turns them into ``Send`` effects)."""
    watch_answered: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Watcher -> (``WatchMaster.episode``, ``now``) of the last subscription answered
    (``_watch.on_watch`` skips a resend that crossed it)."""
    watch_heartbeat_at: float = 0.0
    """``now`` of the last HEARTBEAT to the watchers."""
    watch_batched: set[str] = field(default_factory=set)
    """Watchers that asked for ``MasterEvents`` (``WatchMaster.batch``)."""
    watch_pending: list[dict[str, Any]] = field(default_factory=list)
    """Events flushed but not yet sent to the batched watchers (``_watch.send_pending``,
    at each tick)."""
    agents_at: dict[str, list[str]] = field(default_factory=dict)
    """Transport address -> ids of the agents registered from it, oldest first (entries
    may be stale: checked on use). A registration finds its old record in O(1) instead
    of scanning 10,000 agents (a registration storm was quadratic)."""
    recovery_pending: list[str] = field(default_factory=list)
    """Ids of the agents recovered from the registry, in order: the end of the recovery
    window is found by popping those no longer ``recovering`` off the end (each once),
    not by scanning every agent after each re-registration (quadratic in a storm)."""
    registry_pending: bool = False
    """A new leader whose agents' registry is still being read (off the actor thread:
    10,000 records take seconds): agents re-registering meanwhile are taken in at once,
    their registry writes wait for the read (``_agents.merge_registry``), and the
    recovery window cannot close."""
    generation: int = 0
    """Bumped by every message, operator write or periodic duty that may have changed
    what the JSON views show: rendered views are cached under it (``MasterActor``)."""

    def next_id(self) -> int:
        return next(self.ids)


def known_framework(
    s: MasterState, fid: str, call: str, sender: str | None, out: list[Effect]
) -> FrameworkRecord | None:
    """The framework a call names; an unknown id gets a ``FrameworkError`` back to the
    sender (when it named itself) and the call is ignored."""
    fw = s.frameworks.get(fid)
    if fw is None:
        if sender:
            out.append(Send(sender, p.FrameworkError(f"unknown framework_id {fid!r}", call)))
        return None
    return fw
