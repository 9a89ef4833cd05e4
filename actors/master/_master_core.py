"""The leading master's bookkeeping as a step machine: messages in, effects out, no I/O.

``MasterCore.handle(message, now)`` and ``MasterCore.tick(now)`` mutate the core's own
state and return a list of effects (``Send``, ``Persist``, ``Unpersist``, ``Watch``) for
the master actor to carry out IN ORDER. The ordering is the contract: a ``Persist`` always
comes before the ``Send`` that acknowledges what it records (an agent id is written to
ZooKeeper before ``AgentRegistered`` leaves), so a master that dies between the two never
acknowledged anything it could lose.

Rules follow Mesos where it has one:

* agents are pinged every ``ping_interval``; after ``max_missed_pings`` unanswered pings an
  agent is unreachable, its offers are rescinded and its tasks reported TASK_UNREACHABLE
  (Mesos' ``agent_ping_timeout`` x ``max_agent_ping_timeouts``);
* after a failover, agents found in the registry have ``agent_reregister_timeout`` to come
  back with their tasks before they are marked unreachable; reconciliation questions about
  tasks the master cannot know yet are answered when that window closes;
* a framework that disconnects keeps its tasks for its ``failover_timeout``;
* a terminal status update releases the task's resources at once; acknowledgements only
  stop the agent's resending;
* an invalid launch never reaches an agent: each bad task gets TASK_ERROR (or
  TASK_DROPPED when its offer was invalid) naming what was wrong.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import uuid as uuid_mod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.master.allocator import Agent as AllocAgent
from actors.master.allocator import (
    AllocatorConfig,
    ClusterSnapshot,
    OfferFilter,
    Quota,
    allocate,
    decline_filter,
)
from actors.master.allocator import Framework as AllocFramework
from actors.resources import Attributes, ResourceError, Resources
from actors.task_states import TaskReason, TaskState, is_terminal

_EMPTY = Resources()

# ------------------------------------------------------------------------------ effects


@dataclass(frozen=True, slots=True)
class Send:
    """Deliver ``message`` to the actor at transport address ``to`` (fire and forget)."""

    to: str
    message: Any


@dataclass(frozen=True, slots=True)
class Persist:
    """Write ``value`` as the durable record ``kind``/``key`` before any later effect."""

    kind: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unpersist:
    """Delete the durable record ``kind``/``key``."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Watch:
    """Start watching the actor at ``address``; its loss comes back as ``PeerDown``."""

    address: str


Effect = Send | Persist | Unpersist | Watch


@dataclass(frozen=True, slots=True)
class PeerDown:
    """Event fed back by the actor when a watched address stops answering."""

    address: str


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
    weights: dict[str, float] = field(default_factory=dict)
    """Role weights for DRF."""
    quotas: dict[str, Quota] = field(default_factory=dict)
    """Role quotas."""


# ------------------------------------------------------------------------------ records


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
    filters: list[OfferFilter] = field(default_factory=list)
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

    @property
    def task_id(self) -> str:
        return self.task.task_id


# ------------------------------------------------------------------------------ core


class MasterCore:
    """Agents, frameworks, offers and tasks of the leading master. Not thread-safe: the
    master actor owns it and calls it from its one thread."""

    def __init__(
        self,
        master_id: str,
        config: MasterConfig | None = None,
        *,
        now: float,
        recovered_agents: Iterable[dict[str, Any]] = (),
        recovered_frameworks: Iterable[dict[str, Any]] = (),
        wall_offset: float = 0.0,
        address: str = "",
    ) -> None:
        self.master_id = master_id
        self.address = address
        """This master actor's transport address (announced to the registry's peers)."""
        self.wall_offset = wall_offset
        """Add to a ``now`` to get wall-clock seconds (for timestamps people read)."""
        self.config = config or MasterConfig()
        self.started_at = now
        self.agents: dict[str, AgentRecord] = {}
        self.frameworks: dict[str, FrameworkRecord] = {}
        self.offers: dict[str, OfferRecord] = {}
        self.tasks: dict[tuple[str, str], TaskRecord] = {}
        self.completed: deque[TaskRecord] = deque(maxlen=self.config.completed_tasks_kept)
        self.alloc_config = AllocatorConfig()
        self._ids = itertools.count(1)
        self._last_ping = now
        self._last_alloc = -math.inf
        self.alloc_cycles = 0
        """Allocation cycles run so far (the actor times them)."""
        self._dirty = True
        self.recovery_deadline: float | None = None
        self._deferred_reconcile: list[p.Reconcile] = []
        self.errors: list[str] = []
        """Problems found in recovered registry data (path-free: the actor adds where)."""
        for doc in recovered_agents:
            self._recover_agent(doc)
        for doc in recovered_frameworks:
            self._recover_framework(doc, now)
        if self.agents:
            self.recovery_deadline = now + self.config.agent_reregister_timeout

    # -- recovery ---------------------------------------------------------------------

    def _recover_agent(self, doc: dict[str, Any]) -> None:
        try:
            rec = AgentRecord(
                agent_id=str(doc["agent_id"]),
                hostname=str(doc["hostname"]),
                address=str(doc["address"]),
                total=Resources.from_dict(doc["resources"]),
                attributes=Attributes.from_dict(doc.get("attributes") or {}),
                registered_at=float(doc.get("registered_at", 0.0)),
                version=str(doc.get("version", "")),
                recovering=True,
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.errors.append(f"agent record {doc!r:.200}: {exc}")
            return
        self.agents[rec.agent_id] = rec

    def _recover_framework(self, doc: dict[str, Any], now: float) -> None:
        try:
            info = p.FrameworkInfo(
                name=str(doc["name"]),
                roles=[str(r) for r in doc.get("roles") or ["*"]],
                failover_timeout=float(doc.get("failover_timeout", 0.0)),
                framework_id=str(doc["framework_id"]),
                user=str(doc.get("user", "root")),
                hostname=str(doc.get("hostname", "")),
                principal=doc.get("principal"),
            )
            rec = FrameworkRecord(
                framework_id=str(doc["framework_id"]),
                info=info,
                address=str(doc.get("address", "")),
                registered_at=float(doc.get("registered_at", 0.0)),
                connected=False,
                disconnected_at=now,
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.errors.append(f"framework record {doc!r:.200}: {exc}")
            return
        self.frameworks[rec.framework_id] = rec

    # -- entry points -----------------------------------------------------------------

    @staticmethod
    def handles(msg: Any) -> bool:
        """Whether ``msg`` is a message ``handle`` knows (else it raises TypeError)."""
        return type(msg) in _HANDLERS

    def announce(self) -> list[Effect]:
        """After a failover or a restart: tell every agent and framework from the registry
        that this master leads, so they re-register now instead of after a timeout."""
        out: list[Effect] = []
        here = p.MasterChanged(self.address) if self.address else None
        if here is None:
            return out
        for rec in self.agents.values():
            out.append(Send(rec.address, here))
        for fw in self.frameworks.values():
            if fw.address:
                out.append(Send(fw.address, here))
        return out

    def handle(self, msg: Any, now: float, sender: str | None = None) -> list[Effect]:
        """Apply one incoming message; return the effects to carry out in order."""
        out: list[Effect] = []
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            raise TypeError(f"master: unexpected message type {type(msg).__name__}")
        handler(self, msg, now, out, sender)
        return out

    def tick(self, now: float) -> list[Effect]:
        """Periodic duties: pings, unreachable agents, recovery deadline, framework
        failover timeouts, offer timeouts, and an allocation cycle when one is due."""
        out: list[Effect] = []
        if now - self._last_ping >= self.config.ping_interval:
            self._last_ping = now
            self._ping_agents(now, out)
        if self.recovery_deadline is not None and now >= self.recovery_deadline:
            self._end_recovery(now, out)
        self._expire_frameworks(now, out)
        self._expire_offers(now, out)
        self.maybe_allocate(now, out)
        return out

    # -- agents -----------------------------------------------------------------------

    def _on_register_agent(
        self, m: p.RegisterAgent, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        try:
            total = Resources.from_dict(m.resources)
            attrs = Attributes.from_dict(m.attributes)
        except (ResourceError, TypeError, ValueError) as exc:
            self.errors.append(f"agent {m.hostname} ({m.address}) refused: {exc}")
            return
        # An agent that registers again from the same address (it lost our answer)
        # gets its old id back instead of a second entry.
        for rec in self.agents.values():
            if rec.address == m.address and not rec.tasks:
                rec.total, rec.attributes, rec.hostname = total, attrs, m.hostname
                rec.reachable, rec.recovering, rec.missed_pings = True, False, 0
                out.append(Persist("agents", rec.agent_id, rec.durable()))
                out.append(Send(m.address, self._registered(rec)))
                self._dirty = True
                return
        agent_id = f"{self.master_id}-S{next(self._ids)}"
        rec = AgentRecord(
            agent_id=agent_id,
            hostname=m.hostname,
            address=m.address,
            total=total,
            attributes=attrs,
            registered_at=now,
            version=m.version,
        )
        self.agents[agent_id] = rec
        out.append(Persist("agents", agent_id, rec.durable()))
        out.append(Watch(m.address))
        out.append(Send(m.address, self._registered(rec)))
        self._dirty = True

    def _registered(self, rec: AgentRecord) -> p.AgentRegistered:
        return p.AgentRegistered(
            agent_id=rec.agent_id,
            master_id=self.master_id,
            ping_interval=self.config.ping_interval,
        )

    def _on_reregister_agent(
        self, m: p.ReregisterAgent, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        try:
            total = Resources.from_dict(m.resources)
            attrs = Attributes.from_dict(m.attributes)
        except (ResourceError, TypeError, ValueError) as exc:
            self.errors.append(f"agent {m.agent_id} ({m.address}) refused: {exc}")
            return
        rec = self.agents.get(m.agent_id)
        was_unreachable = rec is not None and not rec.reachable
        if rec is None:
            rec = AgentRecord(
                agent_id=m.agent_id,
                hostname=m.hostname,
                address=m.address,
                total=total,
                attributes=attrs,
                registered_at=now,
                version=m.version,
            )
            self.agents[m.agent_id] = rec
        else:
            rec.hostname, rec.address, rec.total, rec.attributes = (
                m.hostname,
                m.address,
                total,
                attrs,
            )
            rec.version = m.version
        rec.reachable, rec.recovering, rec.missed_pings = True, False, 0
        reported: set[tuple[str, str]] = set()
        for at in m.tasks:
            key = (at.framework_id, at.task.task_id)
            reported.add(key)
            self._adopt_task(rec, at, now, out, announce=was_unreachable)
        # Tasks we believed were on the agent but it no longer has: gone for good.
        for key in list(rec.tasks - reported):
            t = self.tasks.get(key)
            if t is not None:
                self._master_update(
                    t,
                    TaskState.LOST,
                    TaskReason.AGENT_REREGISTERED,
                    "task was not reported by the re-registered agent",
                    now,
                    out,
                )
        out.append(Persist("agents", rec.agent_id, rec.durable()))
        out.append(Watch(m.address))
        out.append(Send(m.address, self._registered(rec)))
        self._dirty = True
        if self.recovery_deadline is not None and not any(
            a.recovering for a in self.agents.values()
        ):
            self._end_recovery(now, out)

    def _adopt_task(
        self, rec: AgentRecord, at: p.AgentTask, now: float, out: list[Effect], announce: bool
    ) -> None:
        key = (at.framework_id, at.task.task_id)
        try:
            state = TaskState(at.state)
            res = Resources.from_dict(at.task.resources)
        except (ValueError, TypeError) as exc:
            self.errors.append(f"agent {rec.agent_id} task {at.task.task_id}: {exc}")
            return
        if is_terminal(state):
            return
        t = self.tasks.get(key)
        if t is None:
            fw = self.frameworks.get(at.framework_id)
            role = fw.info.roles[0] if fw and fw.info.roles else "*"
            t = TaskRecord(
                task=at.task,
                framework_id=at.framework_id,
                agent_id=rec.agent_id,
                resources=res,
                role=role,
                state=state,
                updated_at=now,
            )
            self.tasks[key] = t
            rec.tasks.add(key)
            rec.used = rec.used + res
            if fw is not None:
                fw.tasks.add(at.task.task_id)
                fw.add_allocation(role, res)
        else:
            t.state = state
            t.updated_at = now
        # The agent's latest health for the task: a new leader has no other source
        # (health is reported on a change only), and reconciliation answers with it.
        if at.healthy is not None:
            t.healthy = at.healthy
        if announce:
            self._master_update(t, state, TaskReason.AGENT_REREGISTERED, "", now, out)

    def _on_pong(self, m: p.Pong, now: float, out: list[Effect], sender: str | None = None) -> None:
        rec = self.agents.get(m.agent_id)
        if rec is not None:
            rec.missed_pings = 0

    def _on_update_agent(
        self, m: p.UpdateAgent, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        """The agent's total changed (ports another process on its host holds): offers
        made from the old total are rescinded; the next cycle offers from the new one."""
        rec = self.agents.get(m.agent_id)
        if rec is None or not rec.reachable or rec.recovering:
            return  # its (re-)registration will carry the current total
        try:
            total = Resources.from_dict(m.resources)
        except (ResourceError, TypeError, ValueError) as exc:
            self.errors.append(f"agent {m.agent_id} update refused: {exc}")
            return
        if total == rec.total:
            return
        rec.total = total
        for offer_id in list(rec.offers):
            self._rescind(offer_id, out)
        self._dirty = True

    def _ping_agents(self, now: float, out: list[Effect]) -> None:
        for rec in self.agents.values():
            if rec.recovering:
                # Not judged yet: a ping tells it this master exists, so it re-registers.
                rec.ping_seq += 1
                out.append(Send(rec.address, p.Ping(self.master_id, rec.ping_seq)))
                continue
            if not rec.reachable:
                continue
            rec.missed_pings += 1
            if rec.missed_pings > self.config.max_missed_pings:
                self._mark_unreachable(
                    rec, now, out, f"missed {self.config.max_missed_pings} pings"
                )
                continue
            rec.ping_seq += 1
            out.append(Send(rec.address, p.Ping(self.master_id, rec.ping_seq)))

    def _mark_unreachable(self, rec: AgentRecord, now: float, out: list[Effect], why: str) -> None:
        rec.reachable = False
        rec.recovering = False
        for offer_id in list(rec.offers):
            self._rescind(offer_id, out)
        for key in sorted(rec.tasks):
            t = self.tasks.get(key)
            if t is not None and t.state is not TaskState.UNREACHABLE:
                self._master_update(
                    t,
                    TaskState.UNREACHABLE,
                    TaskReason.AGENT_DISCONNECTED,
                    f"agent {rec.hostname} unreachable: {why}",
                    now,
                    out,
                )
        for fw in self.frameworks.values():
            if fw.connected:
                out.append(Send(fw.address, p.AgentLost(rec.agent_id)))
        self._dirty = True

    def _end_recovery(self, now: float, out: list[Effect]) -> None:
        self.recovery_deadline = None
        for rec in self.agents.values():
            if rec.recovering:
                self._mark_unreachable(rec, now, out, "did not re-register after failover")
        deferred, self._deferred_reconcile = self._deferred_reconcile, []
        for m in deferred:
            self._on_reconcile(m, now, out)

    def _on_peer_down(
        self, m: PeerDown, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        for fw in self.frameworks.values():
            if fw.address == m.address and fw.connected:
                self._disconnect_framework(fw, now, out)
        # Agents are judged by pings, not by the transport's opinion: a slow agent
        # that answers pings is reachable.

    # -- frameworks -------------------------------------------------------------------

    def _on_subscribe(
        self, m: p.Subscribe, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        info = m.info
        if not info.name or not info.roles:
            out.append(
                Send(
                    m.address,
                    p.FrameworkError(
                        f"FrameworkInfo: name {info.name!r} and roles {info.roles!r} "
                        "must be non-empty",
                        "Subscribe",
                    ),
                )
            )
            return
        fid = info.framework_id
        rec = self.frameworks.get(fid) if fid else None
        if rec is None:
            fid = fid or f"{self.master_id}-{next(self._ids):04d}"
            rec = FrameworkRecord(
                framework_id=fid,
                info=_with_id(info, fid),
                address=m.address,
                registered_at=now,
            )
            self.frameworks[fid] = rec
        else:
            # Failover of the scheduler (or of the master): same id, new address.
            for offer_id in list(rec.offers):
                self._rescind(offer_id, out, notify=False)
            rec.info = _with_id(info, rec.framework_id)
            rec.address = m.address
            rec.connected = True
            rec.disconnected_at = None
            rec.suppressed = False
        out.append(Persist("frameworks", rec.framework_id, rec.durable()))
        out.append(Watch(m.address))
        out.append(
            Send(
                m.address,
                p.Subscribed(rec.framework_id, self.master_id, self.config.heartbeat_interval),
            )
        )
        self._dirty = True

    def _framework(
        self, fid: str, call: str, sender: str | None, out: list[Effect]
    ) -> FrameworkRecord | None:
        fw = self.frameworks.get(fid)
        if fw is None:
            if sender:
                out.append(Send(sender, p.FrameworkError(f"unknown framework_id {fid!r}", call)))
            return None
        return fw

    def _disconnect_framework(self, fw: FrameworkRecord, now: float, out: list[Effect]) -> None:
        fw.connected = False
        fw.disconnected_at = now
        for offer_id in list(fw.offers):
            self._rescind(offer_id, out, notify=False)
        self._dirty = True

    def _expire_frameworks(self, now: float, out: list[Effect]) -> None:
        for fw in list(self.frameworks.values()):
            if (
                not fw.connected
                and fw.disconnected_at is not None
                and now - fw.disconnected_at >= fw.info.failover_timeout
                and self.recovery_deadline is None
            ):
                self._remove_framework(fw, now, out)

    def _remove_framework(self, fw: FrameworkRecord, now: float, out: list[Effect]) -> None:
        for offer_id in list(fw.offers):
            self._rescind(offer_id, out, notify=False)
        for task_id in sorted(fw.tasks):
            t = self.tasks.get((fw.framework_id, task_id))
            if t is None:
                continue
            agent = self.agents.get(t.agent_id)
            if agent is not None and agent.reachable:
                out.append(Send(agent.address, p.KillTask(fw.framework_id, task_id)))
            self._finish_task(t, TaskState.KILLED, TaskReason.FRAMEWORK_REMOVED, now)
        del self.frameworks[fw.framework_id]
        out.append(Unpersist("frameworks", fw.framework_id))
        self._dirty = True

    def _on_teardown(
        self, m: p.Teardown, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Teardown", sender, out)
        if fw is not None:
            self._remove_framework(fw, now, out)

    def _on_revive(
        self, m: p.Revive, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Revive", sender, out)
        if fw is not None:
            fw.suppressed = False
            fw.filters.clear()
            self._dirty = True

    def _on_suppress(
        self, m: p.Suppress, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Suppress", sender, out)
        if fw is not None:
            fw.suppressed = True

    # -- offers -----------------------------------------------------------------------

    def maybe_allocate(self, now: float, out: list[Effect]) -> None:
        """Run an allocation cycle if something changed (or filters may have expired)
        and the last cycle is at least ``allocation_interval`` old."""
        if now - self._last_alloc < self.config.allocation_interval:
            return
        has_filters = any(fw.filters for fw in self.frameworks.values())
        if not self._dirty and not has_filters:
            return
        self._last_alloc = now
        self._dirty = False
        self.allocate(now, out)

    def snapshot(self, now: float) -> ClusterSnapshot:
        """The allocator's input: agents and frameworks as they stand."""
        agents = [
            AllocAgent(
                agent_id=a.agent_id,
                hostname=a.hostname,
                total=a.total,
                allocated=a.used + a.offered,
                attributes=a.attributes,
                reachable=a.reachable and not a.recovering,
            )
            for a in self.agents.values()
        ]
        frameworks = []
        for fw in self.frameworks.values():
            if fw.filters:
                fw.filters = [f for f in fw.filters if f.until > now]
            frameworks.append(
                AllocFramework(
                    framework_id=fw.framework_id,
                    roles=tuple(fw.info.roles),
                    active=fw.connected,
                    suppressed_roles=frozenset(fw.info.roles) if fw.suppressed else frozenset(),
                    filters=tuple(fw.filters),
                    allocation=fw.allocation,
                )
            )
        return ClusterSnapshot(
            agents=agents,
            frameworks=frameworks,
            weights=self.config.weights,
            quotas=self.config.quotas,
        )

    def allocate(self, now: float, out: list[Effect]) -> None:
        """One allocation cycle; offers are batched into one ``Offers`` per framework."""
        if not self.frameworks or not self.agents:
            return
        self.alloc_cycles += 1
        result = allocate(self.snapshot(now), now, self.alloc_config)
        batches: dict[str, list[p.Offer]] = {}
        for o in result.offers:
            agent = self.agents[o.agent_id]
            fw = self.frameworks[o.framework_id]
            offer_id = f"{self.master_id}-O{next(self._ids)}"
            self.offers[offer_id] = OfferRecord(
                offer_id, o.framework_id, o.agent_id, o.role, o.resources, now
            )
            agent.offered = agent.offered + o.resources
            agent.offers.add(offer_id)
            fw.offers.add(offer_id)
            fw.add_allocation(o.role, o.resources)
            batches.setdefault(fw.address, []).append(
                p.Offer(
                    offer_id=offer_id,
                    framework_id=o.framework_id,
                    agent_id=o.agent_id,
                    hostname=agent.hostname,
                    resources=o.resources.to_dict(),
                    attributes=agent.attributes.to_dict(),
                    ip=address_ip(agent.address),
                )
            )
        for address, offers in batches.items():
            out.append(Send(address, p.Offers(offers)))

    def _release_offer(self, offer_id: str) -> OfferRecord | None:
        o = self.offers.pop(offer_id, None)
        if o is None:
            return None
        agent = self.agents.get(o.agent_id)
        if agent is not None:
            agent.offered = agent.offered.saturating_sub(o.resources)
            agent.offers.discard(offer_id)
        fw = self.frameworks.get(o.framework_id)
        if fw is not None:
            fw.offers.discard(offer_id)
            fw.sub_allocation(o.role, o.resources)
        self._dirty = True
        return o

    def _rescind(self, offer_id: str, out: list[Effect], notify: bool = True) -> None:
        o = self._release_offer(offer_id)
        if o is None or not notify:
            return
        fw = self.frameworks.get(o.framework_id)
        if fw is not None and fw.connected:
            out.append(Send(fw.address, p.Rescind(offer_id)))

    def _expire_offers(self, now: float, out: list[Effect]) -> None:
        timeout = self.config.offer_timeout
        if timeout is None:
            return
        for o in [o for o in self.offers.values() if now - o.created_at >= timeout]:
            self._rescind(o.offer_id, out)

    def _on_decline(
        self, m: p.Decline, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Decline", sender, out)
        if fw is None:
            return
        for offer_id in m.offer_ids:
            o = self.offers.get(offer_id)
            if o is None or o.framework_id != fw.framework_id:
                continue  # Mesos ignores declines of unknown offers (they raced a rescind).
            self._release_offer(offer_id)
            f = decline_filter(o.agent_id, now, m.refuse_seconds, o.resources, o.role)
            if f is not None:
                fw.filters.append(f)

    def _on_accept(
        self, m: p.Accept, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Accept", sender, out)
        if fw is None:
            return
        tasks = [t for op in m.operations if op.type == "LAUNCH" for t in op.tasks]
        problem = self._check_offers(fw, m)
        if problem is None:
            for op in m.operations:
                if op.type != "LAUNCH":
                    problem = f"operations: type {op.type!r} is not supported (only LAUNCH)"
                    break
        if problem is not None:
            out.append(Send(fw.address, p.FrameworkError(problem, "Accept")))
            for t in tasks:
                if isinstance(t, p.TaskInfo):
                    self._reject_task(
                        fw, t, TaskState.DROPPED, TaskReason.INVALID_OFFERS, problem, now, out
                    )
            # Valid offers named in a bad call go back to the pool (Mesos does the same).
            for offer_id in m.offer_ids:
                o = self.offers.get(offer_id)
                if o is not None and o.framework_id == fw.framework_id:
                    self._release_offer(offer_id)
            return
        offers = [self.offers[i] for i in m.offer_ids]
        agent = self.agents[offers[0].agent_id]
        remaining = _EMPTY
        for o in offers:
            remaining = remaining + o.resources
            self._release_offer(o.offer_id)
        role = offers[0].role
        seen: set[str] = set()
        for t in tasks:
            if not isinstance(t, p.TaskInfo):
                out.append(
                    Send(
                        fw.address,
                        p.FrameworkError(f"LAUNCH: task {t!r:.80} is not a TaskInfo", "Accept"),
                    )
                )
                continue
            error = self._check_task(fw, agent, t, seen)
            res: Resources | None = None
            if error is None:
                try:
                    res = Resources.from_dict(t.resources)
                except (ResourceError, TypeError, ValueError) as exc:
                    error = f"task {t.task_id}: resources: {exc}"
            if error is None and res is not None:
                if not res:
                    error = f"task {t.task_id}: resources are empty"
                elif not remaining.contains(res):
                    error = (
                        f"task {t.task_id}: resources {res} exceed what is left of the "
                        f"offers ({remaining})"
                    )
            if error is not None or res is None:
                self._reject_task(
                    fw, t, TaskState.ERROR, TaskReason.TASK_INVALID, error or "", now, out
                )
                continue
            seen.add(t.task_id)
            remaining = remaining - res
            self._launch(fw, agent, t, res, role, now, out)
        f = decline_filter(agent.agent_id, now, m.refuse_seconds, remaining, role)
        if remaining and f is not None:
            fw.filters.append(f)
        self._dirty = True

    def _check_offers(self, fw: FrameworkRecord, m: p.Accept) -> str | None:
        if not m.offer_ids:
            return "offer_ids: must name at least one offer"
        agent_ids = set()
        for offer_id in m.offer_ids:
            o = self.offers.get(offer_id)
            if o is None:
                return f"offer_ids: unknown offer {offer_id!r} (rescinded, used or never made)"
            if o.framework_id != fw.framework_id:
                return f"offer_ids: offer {offer_id!r} was made to another framework"
            agent_ids.add(o.agent_id)
        if len(agent_ids) > 1:
            return f"offer_ids: offers span several agents {sorted(agent_ids)}"
        if len(set(m.offer_ids)) != len(m.offer_ids):
            return "offer_ids: an offer is named twice"
        return None

    def _check_task(
        self, fw: FrameworkRecord, agent: AgentRecord, t: p.TaskInfo, seen: set[str]
    ) -> str | None:
        if not t.task_id or not isinstance(t.task_id, str) or len(t.task_id) > 255:
            return f"task_id: {t.task_id!r} must be a non-empty string of at most 255 chars"
        if t.task_id in seen or (fw.framework_id, t.task_id) in self.tasks:
            return f"task_id: {t.task_id!r} is already used by a live task"
        if t.agent_id != agent.agent_id:
            return (
                f"task {t.task_id}: agent_id {t.agent_id!r} is not the offer's agent "
                f"{agent.agent_id!r}"
            )
        if t.command is None and not t.container:
            return f"task {t.task_id}: needs a command or a container"
        if not math.isfinite(t.kill_grace_period) or t.kill_grace_period < 0:
            return f"task {t.task_id}: kill_grace_period {t.kill_grace_period!r} must be >= 0"
        return None

    def _send_update(
        self,
        out: list[Effect],
        address: str,
        framework_id: str,
        task_id: str,
        agent_id: str,
        state: TaskState,
        reason: TaskReason | None,
        message: str,
        now: float,
        healthy: bool | None = None,
    ) -> None:
        """A master-generated update: no uuid, so the framework owes no acknowledgement."""
        out.append(
            Send(
                address,
                p.StatusUpdate(
                    framework_id=framework_id,
                    task_id=task_id,
                    agent_id=agent_id,
                    state=state.value,
                    uuid="",
                    timestamp=now + self.wall_offset,
                    reason=reason.value if reason else None,
                    message=message,
                    healthy=healthy,
                    source="SOURCE_MASTER",
                ),
            )
        )

    def _reject_task(
        self,
        fw: FrameworkRecord,
        t: p.TaskInfo,
        state: TaskState,
        reason: TaskReason,
        message: str,
        now: float,
        out: list[Effect],
    ) -> None:
        self._send_update(
            out,
            fw.address,
            fw.framework_id,
            str(t.task_id),
            str(t.agent_id),
            state,
            reason,
            message,
            now,
        )

    def _launch(
        self,
        fw: FrameworkRecord,
        agent: AgentRecord,
        t: p.TaskInfo,
        res: Resources,
        role: str,
        now: float,
        out: list[Effect],
    ) -> None:
        key = (fw.framework_id, t.task_id)
        self.tasks[key] = TaskRecord(
            task=t,
            framework_id=fw.framework_id,
            agent_id=agent.agent_id,
            resources=res,
            role=role,
            state=TaskState.STAGING,
            updated_at=now,
        )
        agent.tasks.add(key)
        agent.used = agent.used + res
        fw.tasks.add(t.task_id)
        fw.add_allocation(role, res)
        out.append(Send(agent.address, p.RunTask(fw.framework_id, fw.address, t)))

    # -- tasks ------------------------------------------------------------------------

    def _finish_task(self, t: TaskRecord, state: TaskState, reason: str | None, now: float) -> None:
        """Make ``t`` terminal and release its resources (idempotent)."""
        key = (t.framework_id, t.task_id)
        if self.tasks.pop(key, None) is None:
            return
        t.state, t.reason, t.updated_at = state, reason, now
        agent = self.agents.get(t.agent_id)
        if agent is not None and key in agent.tasks:
            agent.tasks.discard(key)
            agent.used = agent.used.saturating_sub(t.resources)
        fw = self.frameworks.get(t.framework_id)
        if fw is not None:
            fw.tasks.discard(t.task_id)
            fw.sub_allocation(t.role, t.resources)
        self.completed.append(t)
        self._dirty = True

    def _master_update(
        self,
        t: TaskRecord,
        state: TaskState,
        reason: TaskReason | None,
        message: str,
        now: float,
        out: list[Effect],
    ) -> None:
        """A master-generated update (no acknowledgement needed)."""
        if is_terminal(state):
            self._finish_task(t, state, reason.value if reason else None, now)
        else:
            t.state, t.updated_at = state, now
            t.reason = reason.value if reason else None
        t.message = message
        fw = self.frameworks.get(t.framework_id)
        if fw is not None and fw.connected:
            self._send_update(
                out,
                fw.address,
                t.framework_id,
                t.task_id,
                t.agent_id,
                state,
                reason,
                message,
                now,
                t.healthy,
            )

    def _on_status_update(
        self, m: p.StatusUpdate, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        try:
            state = TaskState(m.state)
        except ValueError:
            self.errors.append(f"status update for {m.task_id}: unknown state {m.state!r}")
            return
        key = (m.framework_id, m.task_id)
        t = self.tasks.get(key)
        if t is not None:
            if is_terminal(state):
                self._finish_task(t, state, m.reason, now)
            else:
                t.state, t.reason, t.updated_at = state, m.reason, now
            t.message = m.message
            if m.healthy is not None:  # None: this update says nothing about health
                t.healthy = m.healthy
        fw = self.frameworks.get(m.framework_id)
        if fw is not None and fw.connected:
            out.append(Send(fw.address, m))
        # A disconnected framework gets it later: the agent resends until acknowledged.

    def _on_acknowledge(
        self, m: p.Acknowledge, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Acknowledge", sender, out)
        if fw is None or not m.uuid:
            return
        agent = self.agents.get(m.agent_id)
        if agent is None or not agent.reachable:
            return  # The agent will resend after it re-registers; the framework acks again.
        out.append(
            Send(agent.address, p.StatusUpdateAck(m.framework_id, m.agent_id, m.task_id, m.uuid))
        )

    def _on_kill(self, m: p.Kill, now: float, out: list[Effect], sender: str | None = None) -> None:
        fw = self._framework(m.framework_id, "Kill", sender, out)
        if fw is None:
            return
        t = self.tasks.get((m.framework_id, m.task_id))
        if t is None:
            if self.recovery_deadline is not None:
                return  # Might be on an agent that has not re-registered; Mesos waits too.
            self._send_update(
                out,
                fw.address,
                m.framework_id,
                m.task_id,
                "",
                TaskState.UNKNOWN,
                TaskReason.RECONCILIATION,
                "kill of a task the master does not know",
                now,
            )
            return
        agent = self.agents.get(t.agent_id)
        if agent is not None and agent.reachable:
            out.append(Send(agent.address, p.KillTask(m.framework_id, m.task_id)))

    def _on_reconcile(
        self, m: p.Reconcile, now: float, out: list[Effect], sender: str | None = None
    ) -> None:
        fw = self._framework(m.framework_id, "Reconcile", sender, out)
        if fw is None:
            return
        if self.recovery_deadline is not None:
            self._deferred_reconcile.append(m)
            return
        ids = m.task_ids or sorted(fw.tasks)
        for task_id in ids:
            t = self.tasks.get((m.framework_id, task_id))
            if t is not None:
                state, agent_id, healthy = t.state, t.agent_id, t.healthy
            else:
                done = next(
                    (
                        c
                        for c in reversed(self.completed)
                        if c.framework_id == m.framework_id and c.task_id == task_id
                    ),
                    None,
                )
                if done is not None:
                    state, agent_id, healthy = done.state, done.agent_id, done.healthy
                else:
                    state, agent_id, healthy = TaskState.UNKNOWN, "", None
            self._send_update(
                out,
                fw.address,
                m.framework_id,
                task_id,
                agent_id,
                state,
                TaskReason.RECONCILIATION,
                "",
                now,
                healthy,
            )


def address_ip(address: str) -> str:
    """The IP in a transport address (``tcp://10.0.0.5:5050/agent`` -> ``10.0.0.5``);
    empty when the host part is a name (``tcp://agent-1:5050``) or is missing."""
    rest = address.split("://", 1)[-1].split("/", 1)[0]
    host = rest[1 : rest.find("]")] if rest.startswith("[") else rest.rsplit(":", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return ""


def _with_id(info: p.FrameworkInfo, fid: str) -> p.FrameworkInfo:
    return p.FrameworkInfo(
        name=info.name,
        roles=list(info.roles),
        failover_timeout=info.failover_timeout,
        framework_id=fid,
        user=info.user,
        hostname=info.hostname,
        principal=info.principal,
    )


def new_master_id() -> str:
    """A master id unique across runs, so ids minted by different leaders never clash."""
    return uuid_mod.uuid4().hex[:12]


_HANDLERS: dict[type, Any] = {
    p.RegisterAgent: MasterCore._on_register_agent,
    p.ReregisterAgent: MasterCore._on_reregister_agent,
    p.Pong: MasterCore._on_pong,
    p.UpdateAgent: MasterCore._on_update_agent,
    p.StatusUpdate: MasterCore._on_status_update,
    p.Subscribe: MasterCore._on_subscribe,
    p.Accept: MasterCore._on_accept,
    p.Decline: MasterCore._on_decline,
    p.Revive: MasterCore._on_revive,
    p.Suppress: MasterCore._on_suppress,
    p.Kill: MasterCore._on_kill,
    p.Acknowledge: MasterCore._on_acknowledge,
    p.Reconcile: MasterCore._on_reconcile,
    p.Teardown: MasterCore._on_teardown,
    PeerDown: MasterCore._on_peer_down,
}
