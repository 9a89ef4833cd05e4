"""The master actor: a thin shell that moves ``MasterCore`` effects to the world.

It runs only on the leading master (the election starts and stops it). Every incoming
protocol message goes to ``MasterCore.handle``; the returned effects are carried out in
order: ``Persist``/``Unpersist`` synchronously in the registry store (so nothing is
acknowledged before it is durable), ``Send`` as a tell to the address, ``Watch`` as a
monitor whose ``Down`` comes back to the core as ``PeerDown``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from actors import protocol as p
from actors.gateway import MasterAbout, build_info
from actors.master._allocation import allocation_json
from actors.master._errors import UnknownStateQuery
from actors.master._master_core import (
    Effect,
    MasterConfig,
    MasterCore,
    PeerDown,
    Persist,
    Send,
    TaskRecord,
    Unpersist,
    Watch,
    new_master_id,
)
from actors.master._state_json import (
    frameworks_json,
    leader_info_json,
    master_metrics,
    prerender,
    roles_json,
    slaves_json,
    state_json,
    state_json_chunks,
    state_summary_json,
    tasks_json,
)
from actors.master._v1 import v1_get_master
from actors.task_states import TaskState
from runtime import Actor, ActorRef, Down

log = logging.getLogger("actors.master")


class RegistryStore(Protocol):
    """Where the master keeps what must survive a failover (ZooKeeper in production)."""

    def load(self, kind: str) -> list[dict[str, Any]]: ...

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...

    def delete(self, kind: str, key: str) -> None: ...


class MemoryRegistryStore:
    """A registry store in memory, for tests and single-process demos."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def load(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self.docs.get(kind, {}).values()]

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self.docs.setdefault(kind, {})[key] = dict(doc)

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self.docs.get(kind, {}).pop(key, None)

    def save_many(self, docs: list[tuple[str, str, dict[str, Any]]]) -> None:
        for kind, key, doc in docs:
            self.save(kind, key, doc)


REGISTRATION_BATCH = 256
"""Registrations whose registry records are written together at most (one flush)."""

DROP_LOG_INTERVAL = 5.0
"""Seconds between two "not acting" warnings of one master actor (the count goes on)."""


ALLOC_PACE_FACTOR = 3.0
"""Allocation cycles start at least this many times their own measured cost apart (and
never closer than ``allocation_interval``): at 10,000 agents a cycle costs tens of ms,
and a leader reallocating every 50 ms would spend all its time there."""

ALLOC_PACE_MAX = 1.0
"""...but never further apart than Mesos' default ``--allocation_interval`` (1 s): one
cycle that made thousands of offers (after a flood) must not hold back the next one."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Timer message: run the core's periodic duties."""


@dataclass(frozen=True, slots=True)
class AgentsRead:
    """From the registry-reading thread: the agents' records (or why they could not
    be read), and how long the read took."""

    docs: list[dict[str, Any]]
    seconds: float
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class Announce:
    """Self-message from ``started()``: tell the registry's agents and frameworks that
    this master leads (``MasterCore.announce``), behind the re-registrations that
    queued while the registry was read (10,000 agent records take seconds): those agents
    are not asked again."""


@dataclass(frozen=True, slots=True)
class WatchSoon:
    """Self-message: answer the ``WatchMaster``s that were queued behind other messages,
    one SUBSCRIBED per subscriber. An observer re-sends an unanswered WatchMaster; behind
    a new leader's re-registration storm several of its copies queue up, and each would
    cost a whole state (50,000 tasks: a third of the new leader's CPU at 5k/50k)."""


STORM_BATCH = 64
"""Re-registrations applied in one turn of the master actor at most: between two
batches, whatever else queued meanwhile (a framework's SUBSCRIBE or ACCEPT, an
operator's GET) is served, so a new leader launches again while 10,000 agents are
still coming back (each carries its tasks: ~0.3 ms of the leader's thread apiece, more
with observers subscribed)."""

STORM_KINDS: tuple[type, ...] = (p.ReregisterAgent, p.ReregisterAgentAgain)
"""What waits in the storm queue (an agent's resend stays behind its first copy)."""

OVERTAKE_KINDS: frozenset[type] = frozenset(
    {
        p.Subscribe,
        p.Accept,
        p.Decline,
        p.Revive,
        p.Suppress,
        p.WatchMaster,
        p.UnwatchMaster,
        p.GetState,
        p.Ping,
    }
)
"""Messages served ahead of queued re-registrations: a framework's or an observer's,
from other connections than the agents' (their order relative to an agent's messages
was never fixed: they could as well have arrived first), and reads. An agent's own
message (status update, pong, registration) or an operator call waits until the
queued re-registrations are applied, as do the periodic duties once the recovery
window closes (an agent still queued must not be declared unreachable). A KILL,
ACKNOWLEDGE or RECONCILE overtakes only where its answer cannot depend on a queued
re-registration (``_may_overtake``); a TEARDOWN never does."""


@dataclass(frozen=True, slots=True)
class TakeStorm:
    """Self-message: apply the next ``STORM_BATCH`` queued re-registrations."""


@dataclass(frozen=True, slots=True)
class AllocateSoon:
    """Self-message: run one allocation cycle once the messages queued before it are
    handled. A burst of N registrations, status updates or declines costs ONE cycle
    (Mesos' allocator coalesces event-triggered allocations the same way), not N full
    cycles over every agent (O(agents x events): the 5k -> 10k agent flood made the
    leader deaf for minutes)."""


class MasterActor(Actor):
    """Leader-only: agents, frameworks, offers and tasks (see ``MasterCore``)."""

    start_timeout: ClassVar[float] = 120.0
    """A new leader's registry read (10,000 agent documents) used to be in ``started()``
    and outlasted the runtime's 5 s default; only frameworks, weights and quotas are
    read there now, which a ZooKeeper under load may still make slow."""

    def __init__(
        self,
        master_id: str | None,
        store: RegistryStore,
        *,
        address: str,
        hostname: str = "localhost",
        config: MasterConfig | None = None,
        resolve: Callable[[str], ActorRef] | None = None,
        tick_interval: float = 0.02,
        about: MasterAbout | None = None,
        may_act: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self._may_act = may_act
        """The election's lease (``Election.is_leader``): False the moment this master
        may no longer be the only leader (ZooKeeper SUSPENDED, lease run out). Effects
        are then dropped: no launch, kill or registry write before the actor stops."""
        self._held_back = 0
        self._drop_logged_at: float | None = None
        """When the last "not acting" warning was logged (at most one per
        ``DROP_LOG_INTERVAL``: an actor draining a failover's queue without its lease
        logged one line per message, 1.5% of that leader's recovery CPU)."""
        # A fresh id per actor instance: a supervisor restart is a new master to the
        # agents, which then re-register with their tasks.
        self.master_id = master_id or new_master_id()
        self.store = store
        self.address = address
        self.hostname = hostname
        self.config = config or MasterConfig()
        self._resolve = resolve
        self._tick_interval = tick_interval
        self._refs: dict[str, ActorRef] = {}
        self._watched: dict[ActorRef, str] = {}
        self.core: MasterCore | None = None
        self.elected_at: float | None = None
        self.cycle_ms: deque[float] = deque(maxlen=1000)
        """Wall time of recent allocation cycles, for the metrics endpoint."""
        self.turn_ms: deque[float] = deque(maxlen=1000)
        """Whole actor turns that ran a cycle (``_timed``)."""
        self.turn_totals = [0.0, 0.0]
        """Seconds of every turn that ran a cycle so far: [wall, this thread's CPU]."""
        self.about = about
        """This master's facts (flags, cluster, log dir) for ``/master/state``."""
        self.ended: Counter[TaskState] = Counter()
        """Tasks that reached each terminal state under this leader (Mesos' counters)."""
        self._last_completed: TaskRecord | None = None
        self._state_bytes: tuple[int, tuple[bytes, ...]] | None = None
        self._held: list[Effect] = []
        """Effects of registrations waiting for their batch's registry write."""
        self._held_count = 0
        """``/master/state`` encoded, and the core generation it shows."""
        self._alloc_pending = False
        """An ``AllocateSoon`` is queued in this actor's inbox."""
        self._watch_pending: dict[str, p.WatchMaster] = {}
        """WatchMasters to answer on the queued ``WatchSoon``, by subscriber."""
        self._storm: deque[Any] = deque()
        """Re-registrations taken off the inbox, applied ``STORM_BATCH`` at a time."""
        self._storm_agents: Counter[str] = Counter()
        """Agent ids with a message in ``_storm`` (their count)."""
        self._storm_pending = False
        """A ``TakeStorm`` is queued in this actor's inbox."""

    def started(self) -> None:
        # The agents' registry (10,000 records: seconds) is read on a thread of its own
        # (``AgentsRead``): this actor takes re-registrations and serves frameworks
        # meanwhile, and the leader services (Marathon's load) start as soon as this
        # returns. Frameworks, weights and quotas are a few records, read here.
        now = self.clock.now()
        self.core = MasterCore(
            self.master_id,
            self.config,
            now=now,
            recovered_frameworks=self.store.load("frameworks"),
            recovered_weights=self.store.load("weights"),
            recovered_quotas=self.store.load("quotas"),
            wall_offset=self.clock.wall() - now,
            address=self.address,
            agents_pending=True,
        )
        self.core.cycle_clock = self.clock.now
        for problem in self.core.errors:
            log.error("registry: skipped a corrupt record: %s", problem)
        self.elected_at = now
        self.send_interval(self._tick_interval, Tick())
        threading.Thread(target=self._read_agents, name="master-registry", daemon=True).start()

    def _read_agents(self) -> None:
        """Off the actor thread: read the agents' registry, hand it to the actor."""
        started = self.clock.now()
        try:
            docs = self.store.load("agents")
        except Exception as exc:  # the actor raises it: the supervisor restarts it
            self.ref.tell(AgentsRead([], self.clock.now() - started, exc))
            return
        self.ref.tell(AgentsRead(docs, self.clock.now() - started))

    def _agents_read(self, core: MasterCore, m: AgentsRead, now: float) -> None:
        """Merge the agents' registry (``MasterCore.merge_agents``), then announce this
        leader to those not back yet, behind what is queued now (``Announce``)."""
        if m.error is not None:
            raise m.error
        errors = len(core.errors)
        self._apply(core.merge_agents(m.docs, now))
        for problem in core.errors[errors:]:
            log.error("registry: %s", problem)
        self.ref.tell(Announce())
        log.info(
            "master %s leading with %d agents from the registry (read in %.2f s) and %d frameworks",
            self.master_id,
            len(m.docs),
            m.seconds,
            len(core.frameworks),
        )

    def _ref(self, address: str) -> ActorRef:
        ref = self._refs.get(address)
        if ref is None:
            ref = self._resolve(address) if self._resolve else self.node.ref(address)
            self._refs[address] = ref
        return ref

    def receive(self, message: Any) -> Any:
        core = self.core
        assert core is not None
        now = self.clock.now()
        kind = type(message)
        if kind in STORM_KINDS and self._queue_storm(message):
            return None
        if kind is TakeStorm:
            self._storm_pending = False
            self._take_storm(core, now, STORM_BATCH)
            return None
        if self._storm and not self._may_overtake(core, message, now):
            self._take_storm(core, now, len(self._storm))
        if kind is p.RegisterAgent:
            return self._register(core, message, now)
        if self._held:
            self._flush_held()  # everything else sees the registrations durable and told
        if type(message) is AllocateSoon:
            self._alloc_pending = False
            self._allocate(core, now)
            return None
        if type(message) is AgentsRead:
            self._agents_read(core, message, now)
            return None
        if type(message) is Announce:
            self._apply(core.announce(heard=self._storm_agents))
            return None
        if type(message) is p.WatchMaster and self._watch_later(message):
            return None
        if type(message) is WatchSoon:
            pending, self._watch_pending = self._watch_pending, {}
            for watch in pending.values():
                self._apply(core.handle(watch, now, _sender_of(watch)))
            return None
        if type(message) is p.UnwatchMaster:
            self._watch_pending.pop(message.subscriber, None)
        if isinstance(message, Tick):
            self._apply(self._timed(core, core.tick, now))
            self._count_ended(core)
            inbox = getattr(self, "actor_inbox", None)  # None: driven by hand, no runtime
            while inbox is not None and inbox.empty() and prerender(core, now):
                pass  # idle: /master/state's texts of changed tasks, in small batches (G)
            return None
        if isinstance(message, p.GetState):
            return self._state(core, message)
        if isinstance(message, p.OperatorCall):
            return self._operator_call(core, message, now)
        if isinstance(message, Down):
            address = self._watched.pop(message.ref, None)
            if address is not None:
                self._refs.pop(address, None)
                self._apply(core.handle(PeerDown(address), now))
            return None
        if isinstance(message, p.Ping):
            return None
        if not core.handles(message):
            # Anything may arrive over the wire (an untyped msgpack body, another actor's
            # record); raising here would crash the leader's actor and lose its state.
            log.warning("master: dropped a message of unexpected type %s", type(message).__name__)
            return None
        effects = core.handle(message, now, _sender_of(message))
        self._apply(effects)
        self._count_ended(core)
        self._allocate_soon(core, now)
        return None

    def _queue_storm(self, m: Any) -> bool:
        """Take a re-registration (or a resend naming one, behind its agent's queued
        copy) into the storm queue when other messages wait behind it or the queue is
        not empty; False: apply it now (nothing else waits, as when driven by hand)."""
        inbox = getattr(self, "actor_inbox", None)  # None: driven by hand, no runtime
        if inbox is None or (inbox.empty() and not self._storm):
            return False
        if type(m) is p.ReregisterAgentAgain and not self._storm_agents[m.agent_id]:
            # Cheap, and nothing of this agent's is queued: answered now. An agent whose
            # copy was a dead letter then sends it without waiting for the whole storm.
            return False
        self._storm.append(m)
        self._storm_agents[m.agent_id] += 1
        if not self._storm_pending:
            self._storm_pending = True
            self.ref.tell(TakeStorm())
        return True

    def _may_overtake(self, core: MasterCore, m: Any, now: float) -> bool:
        """Whether ``m`` is served before the queued re-registrations (``OVERTAKE_KINDS``,
        our own self-messages, the periodic tick while the recovery window is open, a
        status update, pong or resend from an agent with nothing queued)."""
        kind = type(m)
        if kind in OVERTAKE_KINDS or kind in (AllocateSoon, WatchSoon, Announce, AgentsRead):
            return True
        if kind is Tick:
            deadline = core.recovery_deadline
            return deadline is not None and now < deadline
        if kind is p.Kill:  # a task not known yet may be in a queued re-registration
            return (m.framework_id, m.task_id) in core.tasks
        if kind is p.Reconcile:  # during recovery it waits for the window anyway
            return core.recovery_deadline is not None
        if kind is p.Acknowledge:
            return self._storm_agents[m.agent_id] == 0
        if kind in (p.StatusUpdate, p.Pong, p.UpdateAgent, p.ReregisterAgentAgain):
            return self._storm_agents[m.agent_id] == 0
        return False

    def _take_storm(self, core: MasterCore, now: float, limit: int) -> None:
        """Apply up to ``limit`` queued re-registrations in arrival order; queue the
        next batch behind whatever arrived meanwhile; then allocate (the agents just
        re-registered may be offered at once, as Mesos does)."""
        storm, agents = self._storm, self._storm_agents
        if self._held:
            self._flush_held()
        for _ in range(min(limit, len(storm))):
            m = storm.popleft()
            left = agents[m.agent_id] - 1
            if left:
                agents[m.agent_id] = left
            else:
                del agents[m.agent_id]
            self._apply(core.handle(m, now, _sender_of(m)))
        if storm and not self._storm_pending:
            self._storm_pending = True
            self.ref.tell(TakeStorm())
        self._count_ended(core)
        self._allocate_soon(core, now)

    def _watch_later(self, m: p.WatchMaster) -> bool:
        """Whether ``m`` waits for the ``WatchSoon`` (other messages are queued): copies
        from one subscriber then cost one SUBSCRIBED. Handled now (False) when nothing
        else is queued."""
        inbox = getattr(self, "actor_inbox", None)  # None: driven by hand, no runtime
        if inbox is None or (inbox.empty() and not self._watch_pending):
            return False
        if not self._watch_pending:
            self.ref.tell(WatchSoon())
        self._watch_pending[m.subscriber] = m
        return True

    def _allocate_soon(self, core: MasterCore, now: float, burst: bool = False) -> None:
        """After a change: allocate right away when nothing else is queued (one event ->
        offers within this mailbox turn), else once behind everything queued now (one
        ``AllocateSoon`` at a time), so a burst is one cycle. The periodic ``Tick``
        still allocates when a cycle is due.

        A master whose mailbox never empties (10,000 agents launching 2,000 tasks/s)
        allocates as soon as a cycle is due again (``allocation_interval``, or the pace:
        3x the last turn's cost) rather than behind the whole queue: queued behind it, its
        cycles came 0.8 s apart and each took in 0.8 s of changes (~4,000 offers, 60 ms),
        while the pace alone keeps the allocator to a quarter of the thread. Not for
        registrations and a re-registration storm (``burst``): a flood is still one cycle."""
        inbox = getattr(self, "actor_inbox", None)  # None: driven by hand, no runtime
        due = not burst and core.cycle_wait(now) <= 0
        if inbox is None or inbox.empty() or due:
            self._allocate(core, now)
        elif not self._alloc_pending:
            self._alloc_pending = True
            self.ref.tell(AllocateSoon())

    def _allocate(self, core: MasterCore, now: float) -> None:
        """One allocation cycle if one is due (``MasterCore.maybe_allocate``)."""
        if self._held:
            self._flush_held()  # offers never overtake the registrations' acknowledgements
        out: list[Effect] = []
        before = core.alloc_cycles
        self._timed(core, lambda t: core.maybe_allocate(t, out), now)
        self._apply(out)
        if core.alloc_cycles == before and core.dirty and not self._alloc_pending:
            # Changed but not due yet (within the pace of a cycle that ran inline): one
            # AllocateSoon at the due time, not only the next Tick's check.
            wait = core.cycle_wait(now)
            if wait > 0 and getattr(self, "actor_inbox", None) is not None:
                self._alloc_pending = True
                self.send_after(wait, AllocateSoon())

    def _register(self, core: MasterCore, message: p.RegisterAgent, now: float) -> None:
        """A registration flood (10,000 agents at once, or a cluster growing): the
        effects of consecutive registrations are held while more are queued, then their
        registry records go to ZooKeeper in a few multi transactions and only then are the
        agents told (and offers sent): persist-before-acknowledge holds for the batch,
        and the flood costs a few round trips per ``REGISTRATION_BATCH`` agents instead of
        two per agent on this thread."""
        self._held += core.handle(message, now, _sender_of(message))
        self._held_count += 1
        inbox = getattr(self, "actor_inbox", None)  # None: driven by hand, no runtime
        if self._held_count >= REGISTRATION_BATCH or inbox is None or inbox.empty():
            self._flush_held()
        self._allocate_soon(core, now, burst=True)  # the new agents' offers: once per flood

    def _flush_held(self) -> None:
        effects, self._held, self._held_count = self._held, [], 0
        if self._may_act is not None and not self._may_act():
            self._apply(effects)  # drops and logs them
            return
        persists = [e for e in effects if isinstance(e, Persist)]
        save_many = getattr(self.store, "save_many", None)
        if len(persists) > 1 and save_many is not None:
            save_many([(e.kind, e.key, e.value) for e in persists])
            effects = [e for e in effects if not isinstance(e, Persist)]
        self._apply(effects)

    def _count_ended(self, core: MasterCore) -> None:
        """Count the tasks newly appended to ``core.completed`` (it only ever appends;
        the newest one seen is remembered by identity, so a bounded deque is fine)."""
        last = self._last_completed
        for t in reversed(core.completed):
            if t is last:
                break
            self.ended[t.state] += 1
        if core.completed:
            self._last_completed = core.completed[-1]

    def _timed(self, core: MasterCore, fn: Callable[[float], Any], now: float) -> Any:
        """Run ``fn(now)``; if it ran an allocation cycle, record how long it took.

        Not timed when no cycle is due (most turns: every change calls here): the
        thread's CPU clock is a system call, and it was 2-5% of the leader's samples in
        the 10k-agent bench's launch (py-spy, 2026-12-07)."""
        if core.cycle_wait(now) > 0:
            return fn(now)
        before = core.alloc_cycles
        started = self.clock.now()
        cpu_started = time.thread_time()
        result = fn(now)
        if core.alloc_cycles != before:
            cost = self.clock.now() - started
            # The cycle's own time is the figure (``alloc_cycle_ms_*``); the pace keeps
            # following the whole turn (pings, expiries, the watch's flush beside it), by
            # the CPU it took: its wall time also counts the waits for the GIL while the
            # other threads run (10k agents, 90,000 tasks launching: 12.4-17.3 s of such
            # turns took 7.3-9.0 s of this thread's CPU, bench/scale.py 2026-12-07).
            cpu = time.thread_time() - cpu_started
            self.cycle_ms.append(core.last_cycle_cost * 1000.0)
            self.turn_ms.append(cost * 1000.0)
            self.turn_totals[0] += cost
            self.turn_totals[1] += cpu
            core.alloc_pace = min(ALLOC_PACE_FACTOR * min(cost, cpu), ALLOC_PACE_MAX)
        return result

    def _apply(self, effects: list[Effect]) -> None:
        if effects and self._may_act is not None and not self._may_act():
            self._held_back += len(effects)
            now = self.clock.now()
            last = self._drop_logged_at
            if last is None or now - last >= DROP_LOG_INTERVAL:
                self._drop_logged_at = now
                log.warning(
                    "master: not acting (leadership lease lost): dropped %d effects (%d so far)",
                    len(effects),
                    self._held_back,
                )
            return
        for e in effects:
            if isinstance(e, Send):
                try:
                    self._ref(e.to).tell(e.message)
                except Exception as exc:  # a bad peer address must not crash the master
                    log.warning(
                        "master: cannot send %s to %s: %s", type(e.message).__name__, e.to, exc
                    )
            elif isinstance(e, Persist):
                self.store.save(e.kind, e.key, e.value)
            elif isinstance(e, Unpersist):
                self.store.delete(e.kind, e.key)
            elif isinstance(e, Watch):
                ref = self._ref(e.address)
                if ref not in self._watched:
                    self._watched[ref] = e.address
                    try:
                        self.monitor(ref)
                    except NotImplementedError:
                        pass

    def _operator_call(self, core: MasterCore, m: p.OperatorCall, now: float) -> dict[str, Any]:
        """A Mesos v1 operator call: GET_MASTER from this actor's facts, the rest from
        the core; an update is persisted before it is answered."""
        if m.type == "GET_MASTER":
            about = self.about
            info = leader_info_json(
                core,
                hostname=self.hostname,
                address=self.address,
                http_url=about.http_url if about is not None else "",
            )
            return {"type": "GET_MASTER", "get_master": v1_get_master(core, info, self.elected_at)}
        answer, effects = core.operator(m, now)
        self._apply(effects)
        if "error" not in answer and m.type in p.OPERATOR_WRITES:
            self._allocate_soon(core, now)
        return answer

    def _state(self, core: MasterCore, m: p.GetState) -> dict[str, Any] | tuple[bytes, ...]:
        params = m.params or {}
        if m.what == "slaves":
            return slaves_json(core)
        if m.what == "frameworks":
            return frameworks_json(core)
        if m.what == "tasks":
            return tasks_json(
                core,
                limit=int(params.get("limit", 100)),
                offset=int(params.get("offset", 0)),
                order=str(params.get("order", "des")),
                framework_id=params.get("framework_id"),
                task_id=params.get("task_id"),
            )
        if m.what == "metrics":
            cycles = sorted(self.cycle_ms)
            turns = sorted(self.turn_ms)
            out: dict[str, Any] = {
                "agents": len(core.agents),
                "frameworks": len(core.frameworks),
                "tasks": len(core.tasks),
                "offers": len(core.offers),
                "alloc_cycles": core.alloc_cycles,
                "alloc_cycle_ms_p50": cycles[len(cycles) // 2] if cycles else None,
                "alloc_cycle_ms_p99": cycles[int(len(cycles) * 0.99)] if cycles else None,
                "alloc_cycle_ms_max": cycles[-1] if cycles else None,
                "alloc_turn_ms_p50": turns[len(turns) // 2] if turns else None,
                "alloc_turn_wall_s": self.turn_totals[0],
                "alloc_turn_cpu_s": self.turn_totals[1],
                "offers_made": core.offers_made,
                "recovering": core.recovery_deadline is not None,
            }
            if params.get("cycle_times"):
                # The last (up to 1,000) cycles' times, oldest first: a reader that noted
                # alloc_cycles before a phase takes the phase's own from the end.
                out["alloc_cycle_ms_last"] = list(self.cycle_ms)
            return out
        if m.what == "state":
            about = self.about
            render = state_json_chunks if params.get("encoded") else state_json
            if render is state_json_chunks:
                cached = self._state_bytes
                if cached is not None and cached[0] == core.generation:
                    return cached[1]
            doc = render(
                core,
                hostname=self.hostname,
                address=self.address,
                leader_address=self.address,
                elected_time=self.elected_at,
                about=about,
                build=build_info(),
                http_url=about.http_url if about is not None else "",
            )
            if isinstance(doc, tuple):
                # Encoded once per state generation, shared by every request until
                # the next change (strict clients get the same bytes state_json gives).
                self._state_bytes = (core.generation, doc)
            return doc
        if m.what == "state-summary":
            return state_summary_json(
                core,
                hostname=self.hostname,
                cluster=self.about.cluster if self.about is not None else None,
            )
        if m.what == "roles":
            return roles_json(core)
        if m.what == "allocation":
            return allocation_json(core, params)
        if m.what == "snapshot":
            self._count_ended(core)
            return master_metrics(
                core,
                elected=True,
                uptime_secs=float(params.get("uptime_secs", 0.0)),
                ended=self.ended,
            )
        raise UnknownStateQuery(
            f"GetState.what: {m.what!r} is not one of {', '.join(p.GET_STATE_WHATS)}"
        )


def _sender_of(message: Any) -> str | None:
    """The reply address a message names for itself (used for error replies)."""
    address = getattr(message, "address", None)
    return address if isinstance(address, str) else None
