"""The Metronome actor: a framework on the cluster manager, a thin shell over the pure half.

```
 HTTP handlers ──Command(op, future)──►┐            ┌──► ZooKeeper (write_batch: multi, CAS)
 master ──Offers/StatusUpdate/...─────►│ Metronome  │      then, in order:
 timer ──_Tick (scheduler_step, Tick)─►┘  actor     └──► futures (HTTP 201/200), launches,
                                                          kills, acknowledgements, revive
 (the master talks to this actor itself: its FrameworkDriver is embedded, one mailbox)
```

Ordering contract (README of the pure half):

* every change goes into the job's ONE document (`_store.py`): a schedule cursor and
  the run it starts, a finished run and its history record, are one write;
* nothing leaves the actor before the write that explains it: an HTTP reply, a task
  launch (its task id is recorded in the run first), a kill, and the acknowledgement of
  a status update all wait in ``_after`` until the flush that persisted the change;
* writes are coalesced: the actor flushes when its inbox is empty, after
  ``flush_max_dirty`` changed jobs, or ``flush_max_delay`` seconds after the first
  change, so a burst of 1,000 status updates costs a few ZooKeeper multis;
* a write does not block the actor (`MetronomeStore.write_batch_async`): kazoo's reader
  thread, when ZooKeeper answered, publishes the write's view and completes its HTTP
  futures (a GIL hand-off sooner than through the actor), then tells the actor
  (``_Landed``), which runs the write's other effects. Up to ``max_writes_in_flight``
  writes of different jobs fly at once; a job in flight stays dirty until its version
  is back, and a write of nothing goes after every write in flight.

After a (re)start the actor reloads every job, subscribes with the persisted framework
id, and reconciles every task its runs think may be alive; a recorded task is never
launched again (the run state machine moves a provably-never-launched task to a new
attempt when the master answers TASK_UNKNOWN/TASK_DROPPED).

Offers are matched by the pure ``_offers.match_queue`` (the framework toolkit's
placement: resources, containerizer, constraints) against the launch queue kept by
demand class (``_queue.py``: an offer costs O(classes + launches)); every attempt an
offer cannot take gets a reason, shown in its run's JSON as ``waiting`` until it
launches (refreshed once per tick). An offer no waiting attempt can use is declined for
``decline_seconds`` (Marathon's ``decline_offer_duration``): the master's filter hides
only offers contained in the declined one, so an agent that frees resources is offered
again, and a new attempt of a class the filters were not proven useless for revives.

Time: wall-clock ``clock()`` (default: the node clock's ``wall``) for cron slots, run
deadlines and timestamps, injectable for tests; the node clock's ``now()`` for flush
and reconcile intervals; the tick period is a separate setting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from actors import protocol as p
from actors._validation import reason_of
from actors.framework import Disconnected, FrameworkDriver, FrameworkEvent, Registered
from actors.task_states import TaskState, is_terminal
from runtime import Actor, ActorRef

from ._errors import MetronomeError
from ._history import DEFAULT_HISTORY_LIMIT
from ._ids import make_run_id, parse_task_id
from ._job import JobSpec
from ._offers import ClassKey, class_key, match_queue
from ._queue import LaunchQueue
from ._run import (
    TICK,
    JobRun,
    KillTask,
    LaunchTask,
    RunEffect,
    RunFinished,
    StopRun,
    TaskUpdate,
    Tick,
    create_run,
    step,
    tick_is_noop,
)
from ._schedule import ScheduleSpec, ScheduleState, SlotSkipped, StartRun, next_fire, step_schedule
from ._store import (
    JOBS,
    Delete,
    MetronomeStore,
    Op,
    Put,
    StoreConflict,
    StoreError,
    Written,
    job_key,
    record_problem,
)
from ._store import unavailable as _unavailable
from ._time import format_time
from ._view import (
    EMBEDS,
    RECENT_FINISHED,
    SKIPS_KEPT,
    JobEntry,
    MetronomeView,
    ViewBoard,
)

log = logging.getLogger("actors.metronome")

METRONOME_ACTOR = p.METRONOME_ACTOR
"""The registered name of the Metronome actor on the leading master's node."""
FRAMEWORK_NAME = "metronome"
SIMULATED_EXIT_LABEL = "pydcos.simulated.exit"
"""A job label copied to its tasks like every label; simulated agents obey it."""


@dataclass(frozen=True)
class MetronomeConfig:
    """Settings of the Metronome actor."""

    tick_interval: float = 1.0
    """Real seconds between scheduler/run ticks (tests use ~0.05 with a manual clock)."""
    reconcile_interval: float = 300.0
    """Real seconds between periodic explicit reconciliations of live tasks."""
    failover_timeout: float = 604800.0
    """The framework's failover timeout: a week, so a failover never kills jobs."""
    history_limit: int = DEFAULT_HISTORY_LIMIT
    flush_max_dirty: int = 512
    flush_max_delay: float = 0.05
    max_writes_in_flight: int = 4
    """Writes of different jobs sent before the first is answered (1: one at a time)."""
    decline_seconds: float = 120.0
    """Filter for offers declined while nothing waits to launch, or that fit none of the
    waiting launches (revive clears it; more resources on the agent lift it)."""
    retry_decline_seconds: float = 1.0
    """Filter for offers whose resources could not be read."""
    revive_interval: float = 1.0
    """Seconds at least between two revives (Marathon's ``min_revive_offers_interval``):
    a revive clears every decline filter, so the master offers this framework every
    agent again; launches queued meanwhile are revived for by the tick."""
    linger_seconds: float = 5.0
    """After a run was queued, for this long: keep up to ``linger_offers`` agents' offers
    coming back every ``linger_refuse_seconds`` (declined with that short filter, not
    ``decline_seconds``) and stay unsuppressed, so that a stream of runs launches on
    them instead of reviving once per ``revive_interval`` (each revive brings every
    agent's offer: at 10,000 agents, 40 offers per run). 0 turns it off."""
    linger_offers: int = 16
    linger_refuse_seconds: float = 0.5
    linger_revive_interval: float = 5.0
    """While lingering, seconds at least between two revives (Marathon's default
    ``min_revive_offers_interval``): the lingering agents take the runs meanwhile, as
    far as other frameworks leave them free."""
    role: str = "*"
    failures_to_quarantine: int = 3
    """Consecutive failures handling one job after which it is quarantined."""


# ------------------------------------------------------------------------ messages


@dataclass(frozen=True)
class Command:
    """An HTTP request for the actor; ``reply`` gets ``(status, body)`` once persisted.

    With ``loop``, ``reply`` is an asyncio future of that event loop and the actor hands
    every answer a write released to the loop in ONE ``call_soon_threadsafe``: on a busy
    leader each wake-up of the loop (a socket write) costs the actor a GIL hand-back, and
    one per answer made the next group commit wait behind them. Without ``loop`` it is a
    thread-safe `concurrent.futures.Future` (tests, in-process callers)."""

    op: str
    args: tuple[Any, ...]
    reply: concurrent.futures.Future[tuple[int, Any]] | asyncio.Future[tuple[int, Any]]
    loop: asyncio.AbstractEventLoop | None = None
    sent: float | None = None
    """When the HTTP side told the actor (node clock ``now()``): hop timings only."""


class PostHops:
    """Where the time of the answers that waited for a write went (``/v1/metrics``,
    microsecond totals), hop by hop: ``queue`` (HTTP handler -> actor), ``wait``
    (actor -> its write sent: own work and the write before it), ``write`` (sent ->
    answered by ZooKeeper, read on the client's thread), ``answer`` (-> the event loop
    completed the future). Each total is added to by one thread only; ``*_max_us`` is
    the longest, ``*_slow`` counts the answers that spent over 20 ms in that hop."""

    HOPS = ("queue", "wait", "write", "answer")
    SLOW = 0.020

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.timed = 0
        self.answered = 0
        self.us = dict.fromkeys(self.HOPS, 0)
        self.max_us = dict.fromkeys(self.HOPS, 0)
        self.slow = dict.fromkeys(self.HOPS, 0)

    def add(self, hop: str, seconds: float, count: int = 1) -> None:
        us = round(1e6 * seconds)
        self.us[hop] += us * count
        if us > self.max_us[hop]:
            self.max_us[hop] = us
        if seconds > self.SLOW:
            self.slow[hop] += count

    def delivered(self, count: int, landed: float) -> None:
        self.answered += count
        self.add("answer", self.now() - landed, count)

    def counters(self) -> dict[str, int]:
        out = {"post_timed": self.timed, "post_answered": self.answered}
        for hop in self.HOPS:
            out[f"post_{hop}_us"] = self.us[hop]
            out[f"post_{hop}_max_us"] = self.max_us[hop]
            out[f"post_{hop}_slow"] = self.slow[hop]
        return out


def deliver(
    answers: list[tuple[Command, tuple[int, Any]]],
    landed: float | None = None,
    hops: PostHops | None = None,
) -> None:
    """Complete the futures of ``answers`` (on their loop for asyncio futures); a
    future already done (the HTTP side gave up: cancelled) is left as it is."""
    for cmd, result in answers:
        if not cmd.reply.done():
            try:
                cmd.reply.set_result(result)
            except (asyncio.InvalidStateError, concurrent.futures.InvalidStateError):
                pass  # answered meanwhile from another thread (a 503 on shutdown)
    if hops is not None and landed is not None:
        hops.delivered(len(answers), landed)


def send_answers(
    answers: list[tuple[Command, tuple[int, Any]]],
    landed: float | None = None,
    hops: PostHops | None = None,
) -> None:
    """Hand ``answers`` over from any thread: thread-safe futures at once, the rest in
    one callback per event loop (``landed`` and ``hops``: time the last hop)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Command, tuple[int, Any]]]] = {}
    direct: list[tuple[Command, tuple[int, Any]]] = []
    for answer in answers:
        loop = answer[0].loop
        if loop is None:
            direct.append(answer)
        else:
            by_loop.setdefault(loop, []).append(answer)
    if direct:
        deliver(direct, landed, hops)
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(deliver, batch, landed, hops)
        except RuntimeError:  # the loop closed: nobody waits for these any more
            log.debug("metronome: %d answers for a closed event loop dropped", len(batch))


@dataclass(eq=False)
class _Write:
    """One flush in flight: what it writes and what waits for it."""

    ops: list[Op]
    puts: set[str]
    """Job ids whose document it writes."""
    deletes: set[str]
    after: list[Callable[[], None]]
    replies: list[tuple[Command, tuple[int, Any], float]]
    """Answers it releases, with when the actor received their command."""
    view: MetronomeView
    """What readers see once it landed (the entries it persists)."""
    issued: float
    landed: float = 0.0
    written: dict[str, Written] = dataclasses.field(default_factory=dict)
    error: StoreError | None = None


@dataclass(frozen=True)
class _Landed:
    """A write sent by `MetronomeActor._flush` was answered (told by the ZooKeeper
    client's thread, which already published its view and sent its answers)."""

    write: _Write


@dataclass(frozen=True)
class _Tick:
    pass


class ApiError(MetronomeError):
    """An HTTP answer other than success, with Metronome's JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, **extra}


def unknown_job(job_id: str) -> ApiError:
    return ApiError(404, f"Job '{job_id}' does not exist")


# ------------------------------------------------------------------------- the actor


class MetronomeActor(Actor):
    """Leader-only: jobs, schedules, runs; a framework of the cluster manager."""

    start_timeout = 60.0
    """Loading thousands of jobs from ZooKeeper takes a while."""

    def __init__(
        self,
        zk: Any,
        *,
        master: str,
        board: ViewBoard | None = None,
        clock: Callable[[], float] | None = None,
        config: MetronomeConfig | None = None,
        hostname: str = "",
        resolve: Callable[[str], ActorRef] | None = None,
        address: str | None = None,
        fence: Any = None,
        pin_master: bool = False,
        warm: list[Any] | None = None,
    ) -> None:
        """``pin_master``: inside a master (its leader service), talk to that master only.
        ``warm``: a list holding this master's warm copy of the store (a standby's
        ``zk.StoreMirror``), taken out by the first start only (a restarted actor reads
        ZooKeeper: the copy is handed over once).
        ``master`` is the master actor's address; ``fence`` the leader term's
        ``zk.Fence`` (writes of a deposed leader refused); ``clock`` the wall clock (default:
        the node clock's ``wall``); ``resolve`` and ``address`` (where the master reaches
        this actor) are for in-process clusters without a transport (tests)."""
        super().__init__()
        self.zk = zk
        self.fence = fence
        self._warm = warm
        self.pin_master = pin_master
        self.master = master
        self.board = board if board is not None else ViewBoard()
        self._wall = clock
        self.now: Callable[[], float] = clock or (lambda: self.clock.wall())
        self.config = config or MetronomeConfig()
        self.hostname = hostname
        self._resolve = resolve
        self._address = address
        self.store: MetronomeStore | None = None
        self.driver: FrameworkDriver | None = None
        self.framework_id: str | None = None
        self.entries: dict[str, JobEntry] = {}
        self.versions: dict[str, tuple[int | None, bool]] = {}
        """Job id -> (znode version, chunked) of its stored document."""
        self.unreadable: set[str] = set()
        self.pending = LaunchQueue()
        """Task id -> (job id, run id): persisted launch decisions waiting for an offer."""
        self.subscribed = False
        self.suppressed = False
        self._hides: frozenset[ClassKey] | None = None
        """None while no decline filter is out since the last revive; else the classes
        every filter out is known to hide only useless offers from (a decline while
        nothing waited, or of an unreadable offer, hides offers any class may use)."""
        self._want_revive = False
        self._last_revive = -float("inf")
        self._linger_until = -float("inf")
        """Node-clock time until which a few offers are kept coming back (see
        ``MetronomeConfig.linger_seconds``)."""
        self._linger_agents: set[str] = set()
        """Agents whose offers were declined with the short linger filter."""
        self._served: dict[ClassKey, set[str]] = {}
        """Class -> the lingering agents whose offers launched a run of it and did not
        refuse it since: while a waiting class has one, its runs wait for those offers,
        no revive (a revive brings every agent's offer: 10,000 at 10k agents, each one
        declined). A lingering agent whose offer no waiting run can use (it is full)
        stops lingering, so that a revive's offers bring a fresh one."""
        self._dirty: set[str] = set()
        self._deletes: set[str] = set()
        """Deleted jobs whose document goes at the next write (at the version known
        then: a command may run while a write of that job is in flight)."""
        self._after: list[Callable[[], None]] = []
        self._replies: list[tuple[Command, tuple[int, Any], float]] = []
        """Answers waiting for the next write (503 if it fails for good), with when
        their command was received."""
        self._inflight: list[_Write] = []
        """Writes sent and not yet answered, oldest first; the actor goes on handling
        messages meanwhile. Several at once only for different jobs: a job in flight
        stays dirty until that write returned its version (see `_may_send`)."""
        self._flying: dict[str, int] = {}
        """Job id -> how many writes in flight write or delete its document."""
        self._held = False
        """A write failed: the next one waits for the tick (no retry storm)."""
        self._stale_view = False
        """The entries changed without a write while one was in flight: publish after."""
        self._closed = False
        self._land_lock = threading.Lock()
        """Orders `stopped`'s unpublish against a landing write's publish."""
        self.hops = PostHops(lambda: self.clock.now())
        self._first_dirty: float | None = None
        self._last_reconcile = 0.0
        self._next_slot: dict[tuple[str, ScheduleSpec, float], float] = {}
        self.stats = {
            "flushes": 0,
            "docs_written": 0,
            "launched": 0,
            "ticks": 0,
            "flush_write_ms": 0,
            "flush_write_max_ms": 0,
            "in_flight_max": 0,
            "revives": 0,
            "offers_received": 0,
            "offers_declined": 0,
        }
        self.quarantined: dict[str, dict[str, Any]] = {}
        """Job id -> report of a job document this leader refused to use (kept in
        ZooKeeper, left alone, listed by ``GET /v1/quarantine``)."""
        self.errors: dict[str, int] = {}
        """Exceptions caught per place (``tick``, ``update``, ``command``...): /v1/metrics."""
        self._failures: dict[str, int] = {}

    # -- lifecycle ------------------------------------------------------------------

    def started(self) -> None:
        t0 = self.clock.now()
        mirror = self._warm.pop() if self._warm else None
        self.store = MetronomeStore(self.zk, fence=self.fence, mirror=mirror)
        docs, unreadable = self.store.load_jobs_checked()
        for job_id, reason in unreadable.items():
            self._quarantine(job_id, reason)
        now = self.now()
        ahead = self.store.prepared
        for job_id, (doc, version, chunked) in docs.items():
            entry = ahead.get(job_id)
            if not isinstance(entry, JobEntry):
                try:
                    entry = _checked_entry(job_id, doc, now)
                except Exception as exc:
                    self._quarantine(job_id, reason_of(exc))
                    continue
            self.entries[job_id] = entry
            self.versions[job_id] = (version, chunked)
        self.framework_id = self.store.framework_id()
        info = p.FrameworkInfo(
            name=FRAMEWORK_NAME,
            roles=[self.config.role],
            failover_timeout=self.config.failover_timeout,
            framework_id=self.framework_id,
            hostname=self.hostname,
        )
        self.driver = FrameworkDriver(
            info,
            master=self.master,
            address=self._address,
            resolve=self._resolve,
            pinned=self.pin_master,
        )
        self.driver.start(self)
        self._publish()
        self.send_interval(self.config.tick_interval, _Tick())
        runs = sum(len(e.runs) for e in self.entries.values())
        log.info(
            "metronome: %d jobs, %d active runs loaded in %.2f s (%s); framework id %s; "
            "%d quarantined",
            len(self.entries),
            runs,
            self.clock.now() - t0,
            self.store.load_note,
            self.framework_id,
            len(self.quarantined),
        )

    # -- quarantine -----------------------------------------------------------------

    def _quarantine(self, job_id: str, reason: str) -> None:
        """Leave a job alone for good (until an operator deletes it): its document
        stays in ZooKeeper untouched, its tasks are neither adopted nor killed."""
        path = self.store.path(job_id) if self.store is not None else job_id
        log.error(
            "metronome: QUARANTINED job %s (%s): %s (kept in ZooKeeper, not acted upon)",
            job_id,
            path,
            reason,
        )
        self.quarantined[job_id] = {
            "path": path,
            "kind": "job",
            "id": job_id,
            "reason": reason[:500],
            "since": format_time(self.now()),
        }
        self.unreadable.add(job_id)
        if self.entries.pop(job_id, None) is not None:
            self._dirty.discard(job_id)
            self.pending.drop_job(job_id)
            self._publish_if_persisted()

    def _error(self, where: str) -> None:
        self.errors[where] = self.errors.get(where, 0) + 1

    def _job_failed(self, job_id: str, where: str, exc: BaseException) -> None:
        """Log and count an exception while handling ``job_id``; quarantine the job
        after ``failures_to_quarantine`` of them in a row."""
        log.error("metronome: %s of job %s failed: %r", where, job_id, exc, exc_info=exc)
        self._error(where)
        n = self._failures.get(job_id, 0) + 1
        self._failures[job_id] = n
        if n >= self.config.failures_to_quarantine and job_id in self.entries:
            self._quarantine(job_id, f"{where} failed {n} times in a row: {reason_of(exc)}")

    def _job_ok(self, job_id: str) -> None:
        if self._failures:
            self._failures.pop(job_id, None)

    def stopped(self) -> None:
        with self._land_lock:
            self._closed = True  # a write landing later answers its own requests
            self.board.publish(None)
        failed = [r for w in self._inflight if w.error is not None for r in w.replies]
        self._fail_waiting("Metronome stopped (leadership lost?); retry", failed)
        # No teardown: the tasks keep running and the next leader adopts them.
        self.driver = None

    # -- dispatch -------------------------------------------------------------------

    def receive(self, message: Any) -> Any:
        """One message. An exception is logged and counted and never stops the actor
        (each handler also guards each job on its own); only `StoreConflict` crashes
        it on purpose, to reload from what ZooKeeper holds."""
        if message == "stats":
            return {**self.stats, "pending": len(self.pending), "jobs": len(self.entries)}
        driver = self.driver
        framework = driver is not None and driver.handles(message)
        if not framework and not isinstance(message, Command | _Tick | _Landed):
            return super().receive(message)
        try:
            if framework:
                assert driver is not None
                self._on_framework(driver.handle(message))
            elif isinstance(message, Command):
                self._on_command(message)
            elif isinstance(message, _Landed):
                if any(w is message.write for w in self._inflight):
                    self._land(message.write)  # (else an earlier incarnation's)
            else:
                self._on_tick()
        except StoreConflict:
            raise
        except Exception:
            self._error("handler")
            log.exception("metronome: handling %s failed; carrying on", type(message).__name__)
        self._maybe_flush()
        return None

    def _on_framework(self, event: FrameworkEvent | None) -> None:
        """What the master said, as the embedded driver hands it over."""
        if isinstance(event, p.StatusUpdate):
            self._on_update(event)
        elif isinstance(event, p.Offers):
            self._on_offers(event.offers)
        elif isinstance(event, Registered):
            self._on_subscribed(event.framework_id)
        elif isinstance(event, p.FrameworkError):
            log.warning("metronome: the master refused a call: %s", event.message)
        elif isinstance(event, Disconnected):
            log.info("metronome: the leading master went away; subscribing again")
        # Rescind, AgentLost: nothing to do (offers are used at once; updates follow)

    # -- persistence ----------------------------------------------------------------

    def _touch(self, job_id: str) -> None:
        self._dirty.add(job_id)
        if self._first_dirty is None:
            self._first_dirty = self.clock.now()

    def _later(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)
        if self._first_dirty is None:
            self._first_dirty = self.clock.now()

    def _maybe_flush(self) -> None:
        if not (self._dirty or self._deletes or self._after or self._replies) or self._held:
            return
        if (
            self.actor_inbox.empty()
            or len(self._dirty) >= self.config.flush_max_dirty
            or self.clock.now() - (self._first_dirty or 0.0) >= self.config.flush_max_delay
        ):
            self._flush()

    def _ops(self) -> tuple[list[Op], set[str], set[str]]:
        """The write of every changed job (versions as the last landed write left them)."""
        ops: list[Op] = []
        puts: set[str] = set()
        for job_id in list(self._dirty):
            entry = self.entries.get(job_id)
            if entry is None:
                continue
            try:
                doc = entry.to_doc()
            except Exception as exc:  # cannot be stored: never write half of it
                self._error("flush")
                self._quarantine(job_id, f"its state cannot be stored: {reason_of(exc)}")
                continue
            version, chunked = self.versions.get(job_id, (None, False))
            ops.append(Put(job_key(job_id), doc, version, chunked))
            puts.add(job_id)
        deletes: set[str] = set()
        for job_id in self._deletes:
            version, chunked = self.versions.get(job_id, (None, False))
            if version is not None:  # else never stored: nothing to delete
                ops.append(Delete(job_key(job_id), version, chunked))
                deletes.add(job_id)
        return ops, puts, deletes

    def _may_send(self) -> bool:
        """Whether a write may go out now, beside those in flight: it needs the versions
        of the jobs it writes (none of them in flight), and a write of nothing (effects
        and answers that wait for no job, or for a job in flight) comes after all of
        them. At most ``max_writes_in_flight``."""
        flying = self._inflight
        if not flying:
            return True
        if len(flying) >= self.config.max_writes_in_flight:
            return False
        if not (self._dirty or self._deletes):
            return False
        busy = self._flying
        return not any(j in busy for j in self._dirty) and not any(j in busy for j in self._deletes)

    def _flush(self) -> None:
        """Send the write of every changed job; what waited for it is carried out once
        ZooKeeper answered (`_on_written`, `_land`), never before."""
        assert self.store is not None
        if not self._may_send():
            return  # a landing flushes again
        self._held = False
        ops, puts, deletes = self._ops()
        after, self._after = self._after, []
        replies, self._replies = self._replies, []
        self._dirty.clear()
        self._deletes.clear()
        self._first_dirty = None
        write = _Write(
            ops,
            puts,
            deletes,
            after,
            replies,
            MetronomeView(MappingProxyType(dict(self.entries))),
            self.clock.now(),
        )
        if not ops:  # nothing to write: release at once (after every write in flight)
            if self._inflight:
                self._after = after + self._after
                self._replies = replies + self._replies
                return
            self._on_written(write, {}, None, tell=False)
            self._land(write)
            return
        self._inflight.append(write)
        if len(self._inflight) > self.stats["in_flight_max"]:
            self.stats["in_flight_max"] = len(self._inflight)
        for job_id in (*puts, *deletes):
            self._flying[job_id] = self._flying.get(job_id, 0) + 1
        try:
            sent = self.store.write_batch_async(ops, partial(self._on_written, write))
        except Exception as exc:  # fenced, or ZooKeeper failed making a parent
            sent = True
            self._on_written(write, {}, _unavailable(exc), tell=False)
            self._land(write)
        if not sent:  # a document to chunk: the synchronous batch
            try:
                written = self.store.write_batch(ops)
            except StoreError as exc:
                self._on_written(write, exc.done, exc, tell=False)
            except Exception as exc:
                self._on_written(write, {}, _unavailable(exc), tell=False)
            else:
                self._on_written(write, written, None, tell=False)
            self._land(write)

    def _on_written(
        self,
        write: _Write,
        written: dict[str, Written],
        error: StoreError | None,
        tell: bool = True,
    ) -> None:
        """ZooKeeper answered ``write`` (on the ZooKeeper client's thread unless ``tell``
        is False): if it landed, publish its view and answer its requests from here,
        a GIL hand-off sooner than through the actor; then tell the actor."""
        write.landed = self.clock.now()
        write.written = written
        write.error = error
        if error is None:
            with self._land_lock:
                if not self._closed:
                    self.board.publish(write.view, self.ref)
            send_answers([(c, r) for c, r, _ in write.replies], write.landed, self.hops)
        elif self._closed:  # nobody retries it any more
            message = "Metronome stopped (leadership lost?); retry"
            send_answers([(c, (503, {"message": message})) for c, _, _ in write.replies])
            write.replies = []
        if tell:
            self.ref.tell(_Landed(write))

    def _land(self, write: _Write) -> None:
        """The actor's half of a write's answer: versions, then the effects that waited
        for it (launches, kills, acknowledgements); a failed write is retried."""
        if any(w is write for w in self._inflight):
            self._inflight = [w for w in self._inflight if w is not write]
            for job_id in (*write.puts, *write.deletes):
                left = self._flying[job_id] - 1
                if left:
                    self._flying[job_id] = left
                else:
                    del self._flying[job_id]
        error = write.error
        self._record_written(write.written)
        if isinstance(error, StoreConflict):
            log.error("metronome: its state changed under it, restarting: %s", error)
            self._fail_waiting(f"Metronome's state changed under it: {error}", write.replies)
            raise error  # crash: the supervisor restarts us from what ZooKeeper holds
        if error is not None:
            log.warning("metronome: ZooKeeper write failed, retrying at the next tick: %s", error)
            for job_id in write.puts:
                if job_key(job_id) not in write.written and job_id in self.entries:
                    self._dirty.add(job_id)
            for job_id in write.deletes:
                if job_key(job_id) not in write.written and job_id not in self.entries:
                    self._deletes.add(job_id)
            self._after = write.after + self._after
            self._replies = write.replies + self._replies
            if self._first_dirty is None:
                self._first_dirty = self.clock.now()
            self._held = True
            return
        if write.ops:
            self.stats["flushes"] += 1
            self.stats["docs_written"] += len(write.ops)
            took = round(1000 * (write.landed - write.issued))
            self.stats["flush_write_ms"] += took  # /v1/metrics: what a reply waits for
            self.stats["flush_write_max_ms"] = max(self.stats["flush_write_max_ms"], took)
        hops = self.hops
        for cmd, _, received in write.replies:
            hops.timed += 1
            if cmd.sent is not None:
                hops.add("queue", received - cmd.sent)
            hops.add("wait", write.issued - received)
            hops.add("write", write.landed - write.issued)
        for fn in write.after:
            try:
                fn()
            except Exception:
                log.exception("metronome: an effect after a write failed")
        if self._want_revive:
            self._want_revive = False
            self._revive()
        if self._stale_view:
            self._publish_if_persisted()

    def _record_written(self, written: dict[str, Any]) -> None:
        for key, w in written.items():
            job_id = key.split("/", 1)[1]
            if w.version is None:
                self.versions.pop(job_id, None)
            else:
                self.versions[job_id] = (w.version, w.chunked)

    def _fail_waiting(
        self, message: str, also: list[tuple[Command, tuple[int, Any], float]] | None = None
    ) -> None:
        """Answer 503 to every HTTP request still waiting for a write (and ``also``)."""
        waiting = [*(also or []), *self._replies]
        send_answers([(cmd, (503, {"message": message})) for cmd, _, _ in waiting])
        self._replies.clear()

    def _publish(self) -> None:
        self._stale_view = False
        self.board.publish(MetronomeView(MappingProxyType(dict(self.entries))), self.ref)

    def _publish_if_persisted(self) -> None:
        """Publish the entries if they are what ZooKeeper holds (nothing changed waits
        for a write); else the next write's landing publishes them."""
        if not (self._inflight or self._dirty or self._deletes):
            self._publish()
        else:
            self._stale_view = True

    # -- entries ----------------------------------------------------------------------

    def _replace_run(
        self, job_id: str, old: JobRun, new: JobRun, effects: tuple[RunEffect, ...]
    ) -> None:
        """Store the stepped run and queue its effects to run after the write."""
        entry = self.entries[job_id]
        runs = tuple(new if r is old else r for r in entry.runs)
        history = entry.hist
        recent = entry.recent
        for effect in effects:
            if isinstance(effect, LaunchTask):
                self._later(partial(self._queue_launch, effect))
            elif isinstance(effect, KillTask):
                self._later(partial(self._kill, effect.task_id))
            elif isinstance(effect, RunFinished):
                runs = tuple(r for r in runs if r.id != new.id)
                if new.id in entry.waiting:
                    entry = dataclasses.replace(
                        entry,
                        waiting=MappingProxyType(
                            {k: v for k, v in entry.waiting.items() if k != new.id}
                        ),
                    )
                history = history.record(new, self.config.history_limit)
                recent = (new, *recent)[:RECENT_FINISHED]
                log.info("metronome: run %s of %s %s", new.id, job_id, effect.status.value)
        self.entries[job_id] = dataclasses.replace(entry, runs=runs, history=history, recent=recent)
        self._touch(job_id)

    def _add_run(self, job_id: str, run: JobRun, now: float) -> JobRun:
        """A new run, launched at once (its task recorded before the launch)."""
        entry = self.entries[job_id]
        self.entries[job_id] = dataclasses.replace(entry, runs=(*entry.runs, run))
        launched, effects = step(run, Tick(), now)
        self._replace_run(job_id, run, launched, effects)
        return launched

    # -- launching --------------------------------------------------------------------

    def _queue_launch(self, effect: LaunchTask) -> None:
        key = self._class_of(effect.job_id, effect.run_id)
        self.pending.add(effect.task_id, (effect.job_id, effect.run_id), key)
        if self.config.linger_seconds > 0:
            self._linger_until = self.clock.now() + self.config.linger_seconds
        if self.suppressed or not self.subscribed or self._hidden_from(key):
            self._want_revive = True

    def _class_of(self, job_id: str, run_id: str) -> ClassKey:
        entry = self.entries.get(job_id)
        run = entry.run(run_id) if entry is not None else None
        if run is None:
            return None  # gone already: dropped at the next offer
        try:
            return class_key(run.job)
        except Exception:
            return None  # placing it fails again, counted against the job there

    def _hidden_from(self, key: ClassKey) -> bool:
        """May a decline filter out hide an offer class ``key`` could use?"""
        return self._hides is not None and key not in self._hides

    def _declined(self, useless_for: frozenset[ClassKey]) -> None:
        self._hides = useless_for if self._hides is None else self._hides & useless_for

    def _not_served_by(self, key: ClassKey, agent_id: str) -> None:
        agents = self._served.get(key)
        if agents is not None:
            agents.discard(agent_id)
            if not agents:
                del self._served[key]

    def _stop_lingering(self, agent_id: str) -> None:
        self._linger_agents.discard(agent_id)
        for key in [k for k, agents in self._served.items() if agent_id in agents]:
            self._not_served_by(key, agent_id)

    def _end_lingering(self) -> None:
        self._linger_agents.clear()
        self._served.clear()

    def _lingering(self) -> bool:
        return self.clock.now() < self._linger_until

    def _linger(self, agent_id: str) -> bool:
        """Keep this agent's offer coming back (short filter) instead of hiding it? Yes
        while runs came lately, for up to ``linger_offers`` agents."""
        if not self._lingering():
            self._end_lingering()
            return False
        if agent_id not in self._linger_agents:
            if len(self._linger_agents) >= self.config.linger_offers:
                return False
            self._linger_agents.add(agent_id)
        return True

    def _suppress_if_idle(self) -> None:
        """No run waits and none came lately: no offers until a run revives."""
        if self.pending or self.suppressed or not self.subscribed or self._lingering():
            return
        if self.driver is not None:
            self.driver.suppress()
            self.suppressed = True
            self._end_lingering()

    def _revive(self) -> None:
        if self.driver is None or not self.subscribed:
            return
        if self.suppressed or self._hides is not None:
            now = self.clock.now()
            if now - self._last_revive < self.config.revive_interval:
                return  # the tick revives once the interval is over
            if not self.suppressed and self._linger_agents and self._lingering():
                if now - self._last_revive < self.config.linger_revive_interval:
                    return  # the lingering offers take runs meanwhile; the tick revives later
                if all(self._served.get(k) for k in self.pending.classes()):
                    return  # and they launched each waiting class: they serve it
            self._last_revive = now
            self.driver.revive()
            self.stats["revives"] += 1
            self.suppressed = False
            self._hides = None

    def _kill(self, task_id: str) -> None:
        if self.pending.pop(task_id, None) is not None:
            log.info("metronome: %s was never launched; asking the master anyway", task_id)
        if self.driver is not None and self.subscribed:
            self.driver.kill(task_id)

    def _launchable(self, task_id: str, where: tuple[str, str]) -> JobRun | None:
        entry = self.entries.get(where[0])
        run = entry.run(where[1]) if entry is not None else None
        if run is None or run.stop_requested_at is not None:
            return None
        task = run.current_task
        if task is None or task.id != task_id or task.status is not None:
            return None
        return run

    def _on_offers(self, offers: list[p.Offer]) -> None:
        driver = self.driver
        if driver is None:
            return
        stamp: str | None = None
        explained = False
        declines: dict[tuple[float, str], list[str]] = {}
        """(refuse seconds, reason) -> offer ids: one Decline per kind and batch of
        offers, not one per offer (a revive brings every agent's offer at once)."""
        self.stats["offers_received"] += len(offers)
        for offer in offers:
            if not self.pending:
                if self._linger(offer.agent_id):
                    declines.setdefault(
                        (self.config.linger_refuse_seconds, "no run waits yet (lingering)"), []
                    ).append(offer.offer_id)
                    continue
                declines.setdefault(
                    (self.config.decline_seconds, "no run waits to launch"), []
                ).append(offer.offer_id)
                self._declined(frozenset())
                continue
            plan = match_queue(offer, self.pending.heads(), self._launchable)
            for task_id in plan.stale:
                self.pending.pop(task_id)
            if plan.unreadable is not None:
                log.warning("metronome: offer %s unreadable: %s", offer.offer_id, plan.unreadable)
                declines.setdefault(
                    (self.config.retry_decline_seconds, plan.decline_reason), []
                ).append(offer.offer_id)
                self._declined(frozenset())
                continue
            for task_id, exc in plan.failed:
                failed = self.pending.pop(task_id)
                if failed is not None:
                    self._job_failed(failed[0], "launch", exc)
            agent = offer.agent_id
            lingering = agent in self._linger_agents
            if plan.refused:
                stamp = stamp or format_time(self.now())
                for key, reason, detail in plan.refused:
                    self.pending.refused(key, offer, reason, detail, stamp)
                    if lingering:
                        self._not_served_by(key, agent)
            if lingering and not plan.launches:
                self._stop_lingering(agent)  # declined long below: useless to what waits
            if plan.launches:
                for task_id, _ in plan.launches:
                    where = self.pending.pop(task_id)
                    explained |= where is not None and self._launched(where)
                    key = self._class_of(*where) if lingering and where is not None else None
                    if key is not None:
                        self._served.setdefault(key, set()).add(agent)
                refuse = 0.0 if self.pending else 5.0
                if not self.pending and self._linger(offer.agent_id):
                    refuse = self.config.linger_refuse_seconds  # what is left comes back
                driver.launch(
                    [offer.offer_id], [task for _, task in plan.launches], refuse_seconds=refuse
                )
                self.stats["launched"] += len(plan.launches)
            else:
                # No waiting attempt can use it: every class was refused (or is gone).
                reason = plan.decline_reason or "no run waits to launch"
                declines.setdefault((self.config.decline_seconds, reason), []).append(
                    offer.offer_id
                )
                self._declined(frozenset(key for key, _, _ in plan.refused))
        for (seconds, reason), offer_ids in declines.items():
            driver.decline(offer_ids, seconds, reason)
            self.stats["offers_declined"] += len(offer_ids)
        self._suppress_if_idle()
        if explained:
            self._publish_if_persisted()  # the view stays a persisted snapshot

    def _show_waiting(self) -> bool:
        """Refresh the ``waiting`` of runs whose class was refused offers since the last
        refresh. True if an entry changed."""
        updates = self.pending.waiting_updates()
        for job_id, runs in updates.items():
            entry = self.entries.get(job_id)
            if entry is None:
                continue
            waiting = {**entry.waiting, **{r: w for r, w in runs.items() if entry.run(r)}}
            self.entries[job_id] = dataclasses.replace(entry, waiting=MappingProxyType(waiting))
        return bool(updates)

    def _launched(self, where: tuple[str, str]) -> bool:
        """The run's attempt has an offer: it no longer waits. True if it did."""
        entry = self.entries.get(where[0])
        if entry is None or where[1] not in entry.waiting:
            return False
        waiting = {k: v for k, v in entry.waiting.items() if k != where[1]}
        self.entries[where[0]] = dataclasses.replace(entry, waiting=MappingProxyType(waiting))
        return True

    # -- status updates ---------------------------------------------------------------

    def _acknowledge(self, update: p.StatusUpdate) -> None:
        if update.uuid and self.driver is not None and self.subscribed:
            self.driver.acknowledge(update)

    def _on_update(self, update: p.StatusUpdate) -> None:
        parsed = parse_task_id(update.task_id)
        if parsed is not None and parsed[0] in self.quarantined:
            self._later(partial(self._acknowledge, update))  # neither adopted nor killed
            return
        try:
            self._on_job_update(update, parsed)
        except Exception as exc:
            self._job_failed(parsed[0] if parsed else update.task_id, "status update", exc)
            self._later(partial(self._acknowledge, update))  # or the agent resends forever
        else:
            if parsed is not None:
                self._job_ok(parsed[0])

    def _on_job_update(self, update: p.StatusUpdate, parsed: tuple[str, str, int] | None) -> None:
        entry = self.entries.get(parsed[0]) if parsed else None
        run = entry.run(parsed[1]) if entry is not None and parsed else None
        try:
            state = TaskState(update.state)
        except ValueError:
            log.warning("metronome: %s: unknown state %r", update.task_id, update.state)
            self._later(partial(self._acknowledge, update))
            return
        if run is None or entry is None:
            # Not an active run's task (finished run, deleted job, foreign task).
            if not is_terminal(state) and state is not TaskState.UNKNOWN:
                log.info("metronome: killing stray task %s (%s)", update.task_id, state.value)
                self._later(partial(self._kill, update.task_id))
            self._later(partial(self._acknowledge, update))
            return
        new, effects = step(run, TaskUpdate(update.task_id, state), self.now())
        if new is not run or effects:
            self._replace_run(entry.job_id, run, new, effects)
        self._later(partial(self._acknowledge, update))

    def _on_subscribed(self, framework_id: str) -> None:
        assert self.store is not None and self.driver is not None
        self.subscribed = True
        if framework_id != self.framework_id:
            self.store.save_framework_id(framework_id)  # rare: write it at once
            self.framework_id = framework_id
            log.info("metronome: registered as framework %s", framework_id)
        self._reconcile()
        if self.pending or self._want_revive:
            self.driver.revive()
            self._last_revive = self.clock.now()
            self.suppressed = False
            self._hides = None
        else:
            self.driver.suppress()
            self.suppressed = True

    def _reconcile(self) -> None:
        ids = [
            t
            for e in self.entries.values()
            for r in e.runs
            for t in r.live_task_ids()
            if t not in self.pending
        ]
        self._last_reconcile = self.clock.now()
        if ids and self.driver is not None and self.subscribed:
            self.driver.reconcile(ids)

    # -- time -------------------------------------------------------------------------

    def _on_tick(self) -> None:
        now = self.now()
        self.stats["ticks"] += 1  # /v1/metrics: lets a test wait for ticks, not sleep
        for job_id in list(self.entries):
            try:
                entry = self.entries[job_id]
                if entry.job.schedules:
                    self._tick_schedules(entry, now)
                for run in self.entries[job_id].runs:
                    if tick_is_noop(run):
                        continue  # waits for its task's updates: nothing due
                    new, effects = step(run, TICK, now)
                    if new is not run or effects:
                        self._replace_run(job_id, run, new, effects)
            except Exception as exc:  # this job only: the others still run on time
                self._job_failed(job_id, "tick", exc)
            else:
                self._job_ok(job_id)
        if (
            self.subscribed
            and self.clock.now() - self._last_reconcile >= self.config.reconcile_interval
        ):
            self._reconcile()
        if (
            self.pending
            and self.subscribed
            and (self.suppressed or any(self._hidden_from(k) for k in self.pending.classes()))
        ):
            self._revive()
        if self._linger_until > -float("inf"):
            self._suppress_if_idle()  # lingering over (before any, only offers suppress)
        if self._show_waiting():
            self._publish_if_persisted()  # else the write's landing publishes
        if self._dirty or self._deletes or self._after or self._replies:
            self._flush()  # also retries a failed write

    def _due(self, job_id: str, spec: ScheduleSpec, cursor: float, now: float) -> bool:
        if not spec.enabled:
            return False
        key = (job_id, spec, cursor)
        slot = self._next_slot.get(key)
        if slot is None:
            if len(self._next_slot) > 100_000:
                self._next_slot.clear()
            slot = next_fire(spec, cursor)
            self._next_slot[key] = slot
        return slot <= now

    def _tick_schedules(self, entry: JobEntry, now: float) -> None:
        job_id = entry.job_id
        for spec in entry.job.schedules:
            cursor = entry.cursors.get(spec.id, now)
            if not self._due(job_id, spec, cursor, now):
                continue
            entry = self.entries[job_id]
            state = ScheduleState(job_id, spec, cursor)
            new_state, effects = step_schedule(state, now, len(entry.runs))
            # One document: the cursor and the runs it starts are written together.
            cursors = {**entry.cursors, spec.id: new_state.last_fired_slot}
            skipped = list(entry.skipped)
            self.entries[job_id] = dataclasses.replace(entry, cursors=MappingProxyType(cursors))
            self._touch(job_id)
            for effect in effects:
                if isinstance(effect, SlotSkipped):
                    log.warning(
                        "metronome: %s schedule %s skipped slot %s: %s (%s)",
                        job_id,
                        spec.id,
                        format_time(effect.slot),
                        effect.reason.value,
                        effect.detail,
                    )
                    skipped.insert(
                        0,
                        {
                            "scheduleId": spec.id,
                            "slot": format_time(effect.slot),
                            "reason": effect.reason.value,
                            "detail": effect.detail,
                        },
                    )
                elif isinstance(effect, StartRun):
                    cur = self.entries[job_id]
                    if cur.run(effect.run_id) is not None or cur.hist.knows(effect.run_id):
                        continue  # this slot's run exists already (deterministic id)
                    run = create_run(
                        cur.job,
                        effect.run_id,
                        now,
                        starting_deadline_seconds=spec.starting_deadline_seconds,
                        schedule_id=spec.id,
                    )
                    log.info("metronome: %s schedule %s starts run %s", job_id, spec.id, run.id)
                    self._add_run(job_id, run, now)
            if len(skipped) != len(entry.skipped):
                cur = self.entries[job_id]
                self.entries[job_id] = dataclasses.replace(cur, skipped=tuple(skipped[:SKIPS_KEPT]))

    # -- commands (HTTP) ----------------------------------------------------------------

    def _on_command(self, cmd: Command) -> None:
        if cmd.reply.done():
            return  # the HTTP side gave up already
        received = self.clock.now()
        try:
            result = getattr(self, f"_cmd_{cmd.op}")(*cmd.args)
        except ApiError as exc:
            send_answers([(cmd, (exc.status, exc.body))])
            return
        except Exception as exc:
            about = _job_of(cmd)
            log.exception("metronome: %s%s failed", cmd.op, f" of job {about}" if about else "")
            self._error("command")
            message = f"{cmd.op}{f' of job {about}' if about else ''} failed: {reason_of(exc)}"
            send_answers([(cmd, (500, {"message": message}))])
            return
        # after the write that the answer reports; sent with that write's others
        self._replies.append((cmd, result, received))
        if self._first_dirty is None:
            self._first_dirty = received

    def _entry(self, job_id: str) -> JobEntry:
        entry = self.entries.get(job_id)
        if entry is None:
            if job_id in self.quarantined:
                raise ApiError(
                    409,
                    f"Job '{job_id}' is quarantined: {self.quarantined[job_id]['reason']}; "
                    "delete it with DELETE /v1/jobs/{id}; see GET /v1/quarantine",
                )
            raise unknown_job(job_id)
        return entry

    def _cmd_quarantine(self) -> tuple[int, Any]:
        """``GET /v1/quarantine``: job documents this leader refused to use, and why."""
        return 200, {"quarantined": [self.quarantined[k] for k in sorted(self.quarantined)]}

    def _cmd_metrics(self) -> tuple[int, Any]:
        """``GET /v1/metrics`` (Dropwizard-shaped, like Metronome's): counters of the
        exceptions caught per place, and the actor's gauges."""
        gauges = {
            "jobs": len(self.entries),
            "runs.active": sum(len(e.runs) for e in self.entries.values()),
            "launch-queue": len(self.pending),
            "quarantined": len(self.quarantined),
        }
        counters = {
            **{k: v for k, v in self.stats.items()},
            **self.hops.counters(),
            **dict(
                zip(
                    ("post_http", "post_http_us", "post_http_max_us", "post_http_slow"),
                    self.board.http_hop,
                    strict=True,
                )
            ),
            **{f"errors.{k}": v for k, v in sorted(self.errors.items())},
        }
        return 200, {
            "version": "4.0.0",
            "gauges": {f"metronome.{k}.gauge": {"value": v} for k, v in gauges.items()},
            "counters": {f"metronome.{k}.counter": {"count": v} for k, v in counters.items()},
        }

    def _cmd_create_job(self, job: JobSpec) -> tuple[int, Any]:
        if job.id in self.quarantined:
            raise ApiError(
                409,
                f"Job with id '{job.id}' already exists and is quarantined "
                f"({self.quarantined[job.id]['reason']}); delete it first",
            )
        if job.id in self.entries or job.id in self.unreadable:
            raise ApiError(409, f"Job with id '{job.id}' already exists")
        now = self.now()
        self.entries[job.id] = JobEntry(
            job=job, cursors=MappingProxyType({s.id: now for s in job.schedules})
        )
        self._deletes.discard(job.id)
        self._touch(job.id)
        return 201, job.to_json(embed_schedules=bool(job.schedules))

    def _cmd_update_job(self, job: JobSpec) -> tuple[int, Any]:
        entry = self._entry(job.id)
        # Metronome: PUT /v1/jobs/{id} replaces the spec but keeps the schedules.
        job = dataclasses.replace(job, schedules=entry.job.schedules)
        self.entries[job.id] = dataclasses.replace(entry, job=job)
        self._touch(job.id)
        return 200, job.to_json(embed_schedules=False)

    def _cmd_delete_job(self, job_id: str, stop_runs: bool) -> tuple[int, Any]:
        if job_id in self.quarantined and job_id not in self.entries:
            assert self.store is not None
            self.store.delete_quarantined(job_id)  # the way out without zkCli
            self.quarantined.pop(job_id, None)
            self.unreadable.discard(job_id)
            self._failures.pop(job_id, None)
            log.warning("metronome: quarantined job %s deleted on request", job_id)
            return 200, {"id": job_id}
        entry = self._entry(job_id)
        if entry.runs and not stop_runs:
            raise ApiError(409, "There are active job runs. Override with stopCurrentJobRuns=true")
        for run in entry.runs:
            for task_id in run.live_task_ids():
                self._later(partial(self._kill, task_id))
        del self.entries[job_id]
        self._dirty.discard(job_id)
        self._deletes.add(job_id)  # its version is looked up when written
        if self._first_dirty is None:
            self._first_dirty = self.clock.now()
        return 200, entry.job.to_json(embed_schedules=False)

    def _set_schedules(
        self, entry: JobEntry, schedules: tuple[ScheduleSpec, ...], cursors: dict[str, float]
    ) -> None:
        job = dataclasses.replace(entry.job, schedules=schedules)
        self.entries[job.id] = dataclasses.replace(
            entry, job=job, cursors=MappingProxyType(cursors)
        )
        self._touch(job.id)

    def _cmd_create_schedule(self, job_id: str, spec: ScheduleSpec) -> tuple[int, Any]:
        entry = self._entry(job_id)
        if any(s.id == spec.id for s in entry.job.schedules):
            raise ApiError(409, f"Schedule with id '{spec.id}' already exists")
        cursors = {**entry.cursors, spec.id: self.now()}
        self._set_schedules(entry, (*entry.job.schedules, spec), cursors)
        return 201, spec.api_json(self.now())

    def _cmd_update_schedule(self, job_id: str, spec: ScheduleSpec) -> tuple[int, Any]:
        entry = self._entry(job_id)
        old = next((s for s in entry.job.schedules if s.id == spec.id), None)
        if old is None:
            raise ApiError(404, f"Schedule '{spec.id}' does not exist")
        now = self.now()
        state = ScheduleState(job_id, old, entry.cursors.get(spec.id, now)).updated(spec, now)
        cursors = {**entry.cursors, spec.id: state.last_fired_slot}
        schedules = tuple(spec if s.id == spec.id else s for s in entry.job.schedules)
        self._set_schedules(entry, schedules, cursors)
        return 200, spec.api_json(now)

    def _cmd_delete_schedule(self, job_id: str, schedule_id: str) -> tuple[int, Any]:
        entry = self._entry(job_id)
        if not any(s.id == schedule_id for s in entry.job.schedules):
            raise ApiError(404, f"Schedule '{schedule_id}' does not exist")
        cursors = {k: v for k, v in entry.cursors.items() if k != schedule_id}
        schedules = tuple(s for s in entry.job.schedules if s.id != schedule_id)
        self._set_schedules(entry, schedules, cursors)
        return 200, None

    def _cmd_start_run(self, job_id: str) -> tuple[int, Any]:
        entry = self._entry(job_id)
        now = self.now()
        run_id = make_run_id(now, uuid.uuid4().hex)
        while entry.run(run_id) is not None:
            run_id = make_run_id(now, uuid.uuid4().hex)
        run = self._add_run(job_id, create_run(entry.job, run_id, now), now)
        return 201, run.api_json()

    def _cmd_stop_run(self, job_id: str, run_id: str) -> tuple[int, Any]:
        entry = self._entry(job_id)
        run = entry.run(run_id)
        if run is None:
            raise ApiError(404, f"Job Run '{run_id}' does not exist")
        new, effects = step(run, StopRun(), self.now())
        if new is not run or effects:
            self._replace_run(job_id, run, new, effects)
        return 200, new.api_json()


# ---------------------------------------------------------------------- quarantine


def _job_of(cmd: Command) -> str | None:
    first = cmd.args[0] if cmd.args else None
    if isinstance(first, JobSpec):
        return first.id
    return first if isinstance(first, str) else None


def prepare_entry(key: str, value: Any) -> JobEntry | None:
    """A standby's work ahead (``zk.StoreMirror``'s ``prepare``, on its idle CPU): a job
    document as the entry a new leader's load makes of it, checked the same way (an
    exception: nothing prepared, the load checks it itself). At 5,000 jobs the checks
    took 2.3 s of CPU of the new leader's Metronome start, 9 s of wall time beside the
    agents' re-registration storm (bench/scale.py at 10k agents)."""
    prefix, _, job_id = key.partition("/")
    if prefix != JOBS or not job_id:
        return None
    return _checked_entry(job_id, value, time.time())


def _checked_entry(job_id: str, doc: Any, now: float) -> JobEntry:
    """A stored job document as an entry, after trying what the actor will do with
    it (schedule slots, a tick of each run, rendering, storing); raises on a poison
    record so the caller can quarantine it instead of crashing every leader."""
    if not isinstance(doc, dict):
        raise ValueError(f"a job document must be a JSON object, not {type(doc).__name__}")
    problem = record_problem(doc)
    if problem is not None:
        raise ValueError(problem)
    entry = JobEntry.from_doc(doc)
    if entry.job_id != job_id:
        raise ValueError(f"/job/id: {entry.job_id!r} is stored under {job_id!r}")
    for spec in entry.job.schedules:
        next_fire(spec, entry.cursors.get(spec.id, now))
    for run in entry.runs:
        step(run, Tick(), now)
    entry.api_json(EMBEDS, now)
    entry.to_doc()
    return entry
