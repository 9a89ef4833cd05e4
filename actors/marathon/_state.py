"""``MarathonState``: everything Marathon knows, and the small helpers every part of the
core shares (emit an effect, kill an instance, which definition governs an app now).

The core is layered over this one state, each layer in its own file and each adding the
decisions that change together (see README.md, "decision -> file"):

    MarathonState (_state.py) -> Deployments (_deployments.py) -> Views (_render.py)
      -> Operations (_ops.py) -> Loading (_load.py) -> MarathonCore (_core.py: the
      event router, the scheduler's events: subscription, offers, status, tick)
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, is_not
from typing import Any

from actors import protocol as p
from actors.framework import Agent, LaunchBackoff

from ._app import AppDefinition
from ._errors import MarathonError
from ._group import Group
from ._instances import Instance, OfferStats
from ._messages import (
    Acknowledge,
    ApiReply,
    AwaitStored,
    Effect,
    Kill,
    MarathonConfig,
    Publish,
)
from ._paths import ROOT
from ._plan import DeploymentAction, DeploymentPlan, StopApplication
from ._pods_status import task_ids
from ._quarantine import Quarantine
from ._readiness import Readiness
from ._resident import ResidentBook
from ._task_lists import TaskLists
from ._upgrade import RestartState

log = logging.getLogger("actors.marathon")


@dataclass
class Run:
    """One deployment in motion."""

    plan: DeploymentPlan
    restart: tuple[str, ...]
    step: int = 0
    """0-based index of the current step; == len(steps) once finished."""
    done: set[str] = field(default_factory=set)
    """Apps whose action in the current step has finished."""
    started_at: float = 0.0

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.plan.id,
            "version": self.plan.version,
            "original": self.plan.original.to_json(),
            "target": self.plan.target.to_json(),
            "restart": list(self.restart),
            "step": self.step,
        }

    def current(self) -> tuple[DeploymentAction, ...]:
        steps = self.plan.steps
        return steps[self.step].actions if self.step < len(steps) else ()


class Refused(MarathonError):
    """An API request refused with a Marathon-shaped body (4xx)."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


class StoreError(MarathonError):
    """A store effect failed (fed back as ``StoreFailed``), classified by the shell."""

    def __init__(
        self,
        error: Exception,
        *,
        transient: bool = False,
        too_large: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient
        """ZooKeeper did not answer: retry (503 with ``Retry-After``)."""
        self.too_large = too_large
        """(size, limit) when a document exceeds the store's limit (422)."""


def not_found(what: str) -> Refused:
    return Refused(404, {"message": what})


@dataclass
class Deferred:
    """An answer that waits for the store: ``then()`` runs once the store effects
    emitted before it succeeded (it may defer again)."""

    then: Callable[[], Answer]


Answer = ApiReply | Deferred
"""What an operation returns: its reply, or the rest of it after the store."""


@dataclass
class Pending:
    """What the core does once the store effects before ``AwaitStored`` are done."""

    on_stored: Callable[[], None]
    on_failed: Callable[[Exception], None]


class MarathonState:
    """Desired state (root group, versions, deployments), observed state (instances),
    the launch queue and the scheduler's bookkeeping. Not thread-safe: one actor owns
    it; ``now``/``wall`` are the times of the event being handled."""

    def __init__(
        self,
        config: MarathonConfig | None = None,
        *,
        master_address: str = "",
        hostname: str = "localhost",
    ) -> None:
        self.config = config or MarathonConfig()
        self.master_address = master_address
        self.hostname = hostname
        self.http_url = ""
        """This master's HTTP URL (``/v2/info``'s ``leader``); the shell keeps it fresh."""
        self.subscribers = 0
        """Event stream subscribers (a metric); the shell keeps it fresh."""
        self.now = 0.0
        self.wall = 0.0
        self.framework_id: str | None = None
        self.subscribed = False
        self.suppressed = False
        self.revive_wanted = False
        """New work came while not suppressed: revive when ``min_revive_interval`` allows."""
        self.last_revive = -float("inf")
        self.root = Group(id=ROOT)
        self.apps: dict[str, AppDefinition] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.instances: dict[str, Instance] = {}
        self.by_app: dict[str, dict[str, Instance]] = {}
        self.runs: dict[str, Run] = {}
        self.restarts: dict[str, RestartState] = {}
        self.queue: dict[str, int] = {}
        self.queued_since: dict[str, float] = {}
        self.backoff: dict[str, LaunchBackoff] = {}
        self.offer_stats: dict[str, OfferStats] = {}
        self.last_failure: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, Agent] = {}
        self.readiness = Readiness()
        self.resident = ResidentBook()
        """Reservations of resident apps' instances (``_resident``; stored with instances)."""
        """Readiness probes of the deployment steps in motion (never stored)."""
        self.dirty: set[str] = set()
        """Apps to converge at the end of this event."""
        self.touched: set[str] = set()
        """Apps whose instances changed (added, removed, a status update) since the
        deployments were last advanced: with ``dirty``, the runs ``converge`` looks at
        between ticks (each tick looks at every run)."""
        self.sweep_all = True
        """The next ``converge`` advances every deployment (set by each tick)."""
        self.persist_dirty: set[str] = set()
        """Apps whose instance records must be written (at the next tick at the latest)."""
        self.last_reconcile = 0.0
        self.last_tick: float | None = None
        """When the last tick ran (a busy actor gets one tick for several periods)."""
        self.counters: Counter[str] = Counter()
        self.started_wall = 0.0
        self.q = Quarantine()
        self.znode_prefix = "/marathon"
        self.adopting: set[str] = set()
        self.adopt_deadline = 0.0
        self.scale_deferred: set[str] = set()
        """Apps with a surplus left alone until their loaded tasks are heard of (or the
        adoption deadline): see ``_converge_app``."""
        self.out: list[Effect] = []
        """Effects of the event being handled, in order."""
        self.added = 0
        """Instances ever added (``Instance.seq``: the order of ``instances``)."""
        self.kill_timers: list[tuple[float, int, str]] = []
        """Heap of (kill_sent_at, seq, task_id), one pushed whenever an instance starts
        being killed or its ``kill_sent_at`` changes (entries whose time is no longer
        the instance's are stale and skipped): the tick retries what is due without
        walking every instance."""
        self.task_lists = TaskLists()
        """Encoded task lists last served, reused while their tasks are the same."""
        self.unreachable: dict[str, Instance] = {}
        """Instances with ``unreachable_since`` set (the tick's expunge/inactivate)."""
        self.not_live: dict[str, set[str]] = {}
        """App id -> task ids of its instances being killed or inactive (``note_live``):
        the converge counts an app's live instances without walking them."""
        self.not_done: dict[str, str] = {}
        """App id -> task id of an instance last found not yet serving on the deployed
        config: the next check of the deployment action looks at it first."""
        self.pending: Pending | None = None

    # ------------------------------------------------------------------- effects

    def emit(self, effect: Effect) -> None:
        self.out.append(effect)

    def publish(self, event_type: str, **fields: Any) -> None:
        self.out.append(Publish(event_type, fields))

    def await_stored(
        self, on_stored: Callable[[], None], on_failed: Callable[[Exception], None]
    ) -> None:
        """End this batch: carry on with ``on_stored`` once the store effects emitted
        so far succeeded, or ``on_failed`` with the error."""
        self.pending = Pending(on_stored, on_failed)
        self.out.append(AwaitStored())

    def where(self, key: str) -> str:
        """The znode of a store key, for reports."""
        return f"{self.znode_prefix}/{key}"

    def ack(self, update: p.StatusUpdate) -> None:
        if update.uuid and self.subscribed:
            self.emit(Acknowledge(update))

    # ----------------------------------------------------------------- instances

    def add_instance(self, inst: Instance) -> None:
        self.touched.add(inst.app_id)
        old = self.instances.get(inst.task_id)
        if old is not None:
            inst.seq = old.seq  # a dict keeps a replaced key where it was
        else:
            self.added += 1
            inst.seq = self.added
        self.instances[inst.task_id] = inst
        self.by_app.setdefault(inst.app_id, {})[inst.task_id] = inst
        self.task_lists.note(inst)
        self.unreachable.pop(inst.task_id, None)
        self.note_unreachable(inst)
        self.note_live(inst)
        if inst.killing:
            self._kill_timer(inst)

    def add_instances(self, insts: list[Instance]) -> None:
        """``add_instance`` of each of ``insts``, in order, in bulk when they are new
        tasks of one app (a new leader's load of the records a standby built ahead).

        Why: a new leader builds its state while 10,000 agents re-register with it; its
        other threads (master actor, DNS, transport) want the GIL too, and a Python loop
        over 95,000 records gives it up every 5 ms: 0.15 s of CPU took 1.7-3 s of wall
        time (notes/scale/s11-W2). Here the per-record work runs in C (``dict.update``,
        ``map``) which keeps the GIL until done; only the rare instances being killed,
        inactive or unreachable are indexed one by one. Anything else (a task id already
        there or twice in ``insts``, several apps) takes ``add_instance`` one by one."""
        if not insts:
            return
        ids = list(map(_task_id, insts))
        apps = set(map(_app_id, insts))
        if (
            len(apps) != 1
            or len(set(ids)) != len(ids)
            or not self.instances.keys().isdisjoint(ids)
            or not self.unreachable.keys().isdisjoint(ids)
            or not self.not_live.get(next(iter(apps)), set()).isdisjoint(ids)
        ):
            for inst in insts:
                self.add_instance(inst)
            return
        (app_id,) = apps
        self.touched.add(app_id)
        first = self.added + 1
        self.added += len(insts)
        deque(map(setattr, insts, repeat("seq"), range(first, self.added + 1)), maxlen=0)
        self.instances.update(zip(ids, insts, strict=True))
        self.by_app.setdefault(app_id, {}).update(zip(ids, insts, strict=True))
        self.task_lists.note_many(ids, insts)
        if any(map(is_not, map(_unreachable_since, insts), repeat(None))):
            for inst in insts:
                self.note_unreachable(inst)
        if any(map(_killing, insts)) or any(map(_inactive, insts)):
            for inst in insts:
                self.note_live(inst)
                if inst.killing:
                    self._kill_timer(inst)

    def remove_instance(self, inst: Instance) -> None:
        self.touched.add(inst.app_id)
        self.instances.pop(inst.task_id, None)
        self.task_lists.forget(inst)
        self.unreachable.pop(inst.task_id, None)
        self._live_again(inst.app_id, inst.task_id)
        tasks = self.by_app.get(inst.app_id)
        if tasks is not None:
            tasks.pop(inst.task_id, None)
            if not tasks:
                del self.by_app[inst.app_id]

    def kill(self, inst: Instance, reason: str) -> None:
        """Mark ``inst`` as being killed and ask the master (again after
        ``kill_retry_seconds``); unsubscribed, the kill is sent at the next subscription."""
        now = self.now
        if inst.killing and now - inst.kill_sent_at < self.config.kill_retry_seconds:
            return
        inst.killing = True
        inst.kill_reason = reason
        inst._json = None
        self.task_lists.note(inst)
        if self.subscribed:
            inst.kill_sent_at = now
            for task_id in task_ids(self, inst):  # a pod instance: each member
                self.emit(Kill(task_id))
            self.counters["tasks_killed"] += 1
        if self.instances.get(inst.task_id) is inst:
            self._kill_timer(inst)
            self.note_live(inst)

    def _kill_timer(self, inst: Instance) -> None:
        heapq.heappush(self.kill_timers, (inst.kill_sent_at, inst.seq, inst.task_id))

    def retry_kills(self, now: float) -> None:
        """Kill again every instance being killed whose kill was sent
        ``kill_retry_seconds`` ago or more (or never sent), in ``instances`` order: only
        the due timers are looked at (``now - sent`` falls as ``sent`` grows)."""
        timers, retry = self.kill_timers, self.config.kill_retry_seconds
        due: dict[str, Instance] = {}
        while timers and now - timers[0][0] >= retry:
            sent, _, task_id = heapq.heappop(timers)
            inst = self.instances.get(task_id)
            if inst is not None and inst.killing and inst.kill_sent_at == sent:
                due[task_id] = inst
        for inst in sorted(due.values(), key=_seq):
            inst.kill_sent_at = 0.0
            self.kill(inst, inst.kill_reason)

    def resend_kills(self) -> None:
        """Subscribed (again): every kill in progress is sent now."""
        for inst in self.instances.values():
            if inst.killing:
                inst.kill_sent_at = 0.0
                self._kill_timer(inst)
        self.retry_kills(self.now)

    def note_unreachable(self, inst: Instance) -> None:
        """Index ``inst`` for the tick if it is unreachable (``unreachable_since`` set)."""
        if inst.unreachable_since is not None:
            self.unreachable[inst.task_id] = inst
        else:
            self.unreachable.pop(inst.task_id, None)

    def note_live(self, inst: Instance) -> None:
        """Index ``inst`` (the app's current record of its task) as live or not: call
        after ``killing`` or ``inactive`` changes."""
        if self.by_app.get(inst.app_id, {}).get(inst.task_id) is not inst:
            return
        if inst.killing or inst.inactive:
            self.not_live.setdefault(inst.app_id, set()).add(inst.task_id)
        else:
            self._live_again(inst.app_id, inst.task_id)

    def _live_again(self, app_id: str, task_id: str) -> None:
        marks = self.not_live.get(app_id)
        if marks is not None:
            marks.discard(task_id)
            if not marks:
                del self.not_live[app_id]

    def live_count(self, app_id: str) -> int:
        """Instances of ``app_id`` neither being killed nor inactive."""
        return len(self.by_app.get(app_id, ())) - len(self.not_live.get(app_id, ()))

    def agent_of(self, inst: Instance) -> Agent:
        return self.agents.get(inst.agent_id) or Agent(inst.host)

    # --------------------------------------------------------------- governance

    def governing(self, app_id: str) -> tuple[Run | None, DeploymentAction | None, bool]:
        """(run, action, started) of the deployment that owns ``app_id`` now, if any."""
        for run in self.runs.values():
            for index, s in enumerate(run.plan.steps):
                if index < run.step:
                    continue
                for action in s.actions:
                    if action.app.id == app_id:
                        return run, action, index == run.step
        return None, None, False

    def deploying_app(self, app_id: str) -> AppDefinition | None:
        """The definition instances of ``app_id`` should have right now."""
        run, action, started = self.governing(app_id)
        if run is not None and action is not None:
            if not started:
                return run.plan.original.app(app_id)
            if isinstance(action, StopApplication):
                return None
            return action.app
        return self.apps.get(app_id)

    @staticmethod
    def serving(inst: Instance, app: AppDefinition) -> bool:
        """Running, not being killed, and healthy when the app has health checks."""
        if not inst.running or inst.killing:
            return False
        return inst.healthy is True if app.health_checks else True


def _seq(inst: Instance) -> int:
    return inst.seq


_task_id = attrgetter("task_id")
_app_id = attrgetter("app_id")
_unreachable_since = attrgetter("unreachable_since")
_killing = attrgetter("killing")
_inactive = attrgetter("inactive")
