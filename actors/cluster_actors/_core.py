"""``ActorsCore``: the cluster actors framework's decisions as a step machine. Pure, no I/O.

```
 events                               ActorsCore                     effects, in order
 Spawn, Kill, Supervise,          placement (toolkit ``place``),    SaveActor/ForgetActor,
 Watchers, RegisterWorker,   -->  names, lifetimes, restart     --> Claim/ReleaseName,
 WorkerReady, WorkerFailed,       types, supervision groups,        Save/ForgetGroup, Launch,
 SaveCheckpoint, TaskStatus,      placement and start timeouts      Decline, KillTask, Assign,
 Offers, AgentGone, OwnerDown,                                      StopWorker, Reply, Changed,
 Registered, Tick                                                   Watch, Revive, Reconcile
```

``handle(event, now, wall) -> list[Effect]``: ``now`` is monotonic (delays, timeouts),
``wall`` epoch seconds (what is shown and persisted). The shell carries the effects out
IN ORDER: every state change is saved before the launch, kill or reply that follows it,
so a new leader never launches an incarnation twice nor forgets a name it answered.
``Changed(actor_id)`` follows every visible state change: the shell tells watchers
(``WatchActors``) and answers ``WaitActor`` asks from it.

Rules:

* one leader, one mailbox: two scripts spawning one name are serialised here; the first
  claims it, the second gets it (``get_if_exists``) or ``DuplicateName``;
* a spawn is answered at once (PENDING); it becomes RUNNING when its worker is built
  (``WorkerReady``) or FAILED: placement timeout (naming the resource or constraint no
  offer met), a permanent ``WorkerFailed`` (bad class), or a worker that ended before it
  was ever ready — nothing is left running;
* a crashed worker is restarted per its restart type (permanent: always; transient: after
  an abnormal exit; temporary: never) while ``max_restarts`` allows (-1: no limit), first
  on the same agent (``in_place_wait`` seconds of that agent's offers only), on any
  agent when its agent is lost; a member of a supervision group restarts as the group's
  strategy says (one_for_one, one_for_all, rest_for_one), and a group past its
  intensity (restarts within period) stops all its children (FAILED);
* a warm pool (``warm_per_agent`` idle workers per agent, tasks of ``warm_cpus`` and
  ``warm_mem``, kept ``warm_idle_seconds`` after the last spawn): a spawn or restart
  asking exactly ``warm_mem`` and at most ``warm_cpus`` (no disk, role ``*``, its
  constraints met by the worker's agent) is assigned to an idle one at once, which
  becomes its incarnation (task id ``warm-...``); the pool is refilled through offers;
* owned actors stop when their owner's node goes down (``OwnerDown``); detached ones
  live until killed; terminal actors (STOPPED, FAILED) stay in a bounded ``finished``
  list so late waiters still learn how they ended.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from actors import protocol as p
from actors.framework import Demand, LaunchBackoff, agent_of, build_task_info, command_spec, place
from actors.resources import ResourceError, Resources

from ._model import MAX_CHECKPOINT_BYTES, ActorConfig, ActorRecord, ActorState, Group

# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Spawn:
    request_id: str
    config: ActorConfig
    get_if_exists: bool = False
    actor_id: str = ""
    """Given by the caller (tests, supervision children); empty: the core makes one."""


@dataclass(frozen=True)
class Kill:
    request_id: str
    actor_id: str
    why: str = "killed"


@dataclass(frozen=True)
class Supervise:
    request_id: str
    group: Group
    children: tuple[Spawn, ...]
    """Spawned in order; their actor ids are the group's children."""


@dataclass(frozen=True)
class Watchers:
    """``watcher`` (an actor address) wants ``Changed`` of these actors (or not)."""

    watcher: str
    actor_ids: tuple[str, ...]
    add: bool = True


@dataclass(frozen=True)
class RegisterWorker:
    actor_id: str
    """Empty for a warm worker (launched ahead, waiting for an actor)."""
    incarnation: int
    address: str
    control: str
    ready: bool = False
    task_id: str = ""


@dataclass(frozen=True)
class WorkerReady:
    actor_id: str
    incarnation: int
    address: str


@dataclass(frozen=True)
class WorkerFailed:
    actor_id: str
    incarnation: int
    message: str
    permanent: bool = True


@dataclass(frozen=True)
class WorkerLost:
    """The worker stopped answering the framework's probes while no status said why:
    its agent (and it) are unreachable, or it hangs. Re-placed at once, anywhere."""

    actor_id: str
    incarnation: int
    why: str


@dataclass(frozen=True)
class SaveCheckpoint:
    request_id: str
    actor_id: str
    incarnation: int
    size: int


@dataclass(frozen=True)
class TaskStatus:
    task_id: str
    state: str
    agent_id: str = ""
    reason: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Offers:
    offers: tuple[p.Offer, ...]


@dataclass(frozen=True)
class AgentGone:
    agent_id: str


@dataclass(frozen=True)
class OwnerDown:
    owner: str


@dataclass(frozen=True)
class Registered:
    """The framework (re)subscribed: reconcile what we think runs."""


@dataclass(frozen=True)
class Tick:
    pass


Event: TypeAlias = (
    Spawn
    | Kill
    | Supervise
    | Watchers
    | RegisterWorker
    | WorkerReady
    | WorkerFailed
    | WorkerLost
    | SaveCheckpoint
    | TaskStatus
    | Offers
    | AgentGone
    | OwnerDown
    | Registered
    | Tick
)

# ----------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class SaveActor:
    record: dict[str, Any]


@dataclass(frozen=True)
class ForgetActor:
    actor_id: str


@dataclass(frozen=True)
class ClaimName:
    key: str
    actor_id: str


@dataclass(frozen=True)
class ReleaseName:
    key: str
    actor_id: str


@dataclass(frozen=True)
class SaveGroup:
    group: dict[str, Any]


@dataclass(frozen=True)
class ForgetGroup:
    group_id: str


@dataclass(frozen=True)
class Launch:
    offer_id: str
    tasks: tuple[p.TaskInfo, ...]


@dataclass(frozen=True)
class Decline:
    offer_id: str
    reason: str
    refuse_seconds: float


@dataclass(frozen=True)
class KillTask:
    task_id: str
    agent_id: str = ""


@dataclass(frozen=True)
class Assign:
    """Tell the worker at ``control`` to build ``actor_id`` (spec and checkpoint)."""

    control: str
    actor_id: str
    incarnation: int


@dataclass(frozen=True)
class StopWorker:
    control: str
    actor_id: str
    reason: str


@dataclass(frozen=True)
class Reply:
    """Answer request ``request_id``: ``actor_id`` (or a group id) on success, else
    ``error`` (a kind: DuplicateName, ActorNotFound, InvalidRequest, Stale,
    CheckpointRefused) and ``message``."""

    request_id: str
    actor_id: str | None = None
    error: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Changed:
    """``actor_id`` changed state: tell its watchers, answer its waiters."""

    actor_id: str


@dataclass(frozen=True)
class Watch:
    """Monitor the node of ``address`` (an owner): its loss comes back as OwnerDown."""

    address: str


@dataclass(frozen=True)
class Revive:
    pass


@dataclass(frozen=True)
class Suppress:
    """Nothing waits for a place: ask the master for no offers (Revive undoes it)."""


@dataclass(frozen=True)
class Reconcile:
    task_ids: tuple[str, ...]


Effect: TypeAlias = (
    SaveActor
    | ForgetActor
    | ClaimName
    | ReleaseName
    | SaveGroup
    | ForgetGroup
    | Launch
    | Decline
    | KillTask
    | Assign
    | StopWorker
    | Reply
    | Changed
    | Watch
    | Revive
    | Suppress
    | Reconcile
)

# ----------------------------------------------------------------------------- config

OOM_REASON = "REASON_CONTAINER_LIMITATION_MEMORY"
AGENT_LOST_STATES = frozenset(
    {
        "TASK_LOST",
        "TASK_GONE",
        "TASK_UNREACHABLE",
        "TASK_DROPPED",
        "TASK_GONE_BY_OPERATOR",
        "TASK_UNKNOWN",
    }
)
ENDED = AGENT_LOST_STATES | {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR"}
FINISHED_KEPT = 200
"""Terminal actors remembered (newest last) for ``WaitActor``/``GetActor``/``actor list``."""


@dataclass(frozen=True)
class CoreConfig:
    worker_command: tuple[str, ...] = ("python", "-m", "runtime.worker")
    """The worker's argv up to its per-task flags (the shell puts the master's
    interpreter, the framework address, ZooKeeper and key flags in)."""
    worker_env: tuple[tuple[str, str], ...] = ()
    worker_uris: tuple[str, ...] = ()
    """Fetched (and unpacked) into every worker's sandbox (the keys bundle)."""
    worker_user: str | None = None
    """The user workers run as (default: the agent's task user); the shell sets the
    master's own user so the worker's interpreter is the master's."""
    avoid_seconds: float = 30.0
    """After its worker stopped answering, an actor avoids that agent this long (the
    master may still offer a dead agent's resources until it declares it lost)."""
    in_place_wait: float = 3.0
    """Seconds a restart waits for its own agent's offer before taking any agent."""
    start_timeout: float = 60.0
    """Seconds a launched worker has to become ready before it counts as crashed."""
    immediate_restarts: int = 3
    """Restarts of a crash streak made without delay before the backoff starts."""
    restart_backoff: float = 0.5
    restart_backoff_factor: float = 2.0
    max_restart_delay: float = 10.0
    stable_seconds: float = 10.0
    """An incarnation that ran this long resets the crash streak (no backoff)."""
    decline_seconds: float = 2.0
    idle_decline_seconds: float = 60.0
    kill_grace_period: float = 3.0
    max_checkpoint_bytes: int = MAX_CHECKPOINT_BYTES
    warm_per_agent: int = 1
    """Idle workers kept launched ahead on each agent (0: none), while actors are in
    use: a spawn that fits one is assigned to it at once (no offer, no interpreter
    start) and the pool is refilled through the next offer."""
    warm_cpus: float = 1.0
    """A warm worker's task resources (accounted as the framework's, like any task): it
    serves an actor asking at most ``warm_cpus`` and exactly ``warm_mem`` (its memory
    limit is the cgroup's, so an actor never gets a limit other than the one it asked)."""
    warm_mem: float = 128.0
    warm_idle_seconds: float = 600.0
    """The pool is kept this long after the last spawn, then its workers are stopped (a
    cluster that runs no actors holds no warm workers)."""
    warm_retry_seconds: float = 10.0
    """After a warm worker died before it registered, none is launched on its agent
    for this long (a worker that cannot start must not spin)."""
    warm_full_seconds: float = 2.0
    """After an agent's offer had no room for a warm worker, its offers are not asked
    for one this long (then offers are revived: an actor there may have ended)."""


def restart_wanted(restart: str, normal: bool) -> bool:
    """OTP: permanent always, transient after an abnormal exit, temporary never."""
    if restart == "permanent":
        return True
    if restart == "transient":
        return not normal
    return False


def exit_reason(state: str, reason: str | None, message: str) -> tuple[str, bool, bool]:
    """(what to show, normal exit?, agent lost?) for a task's final status."""
    detail = f": {message}" if message else ""
    if reason == OOM_REASON:
        return f"OOM-killed (memory limit){detail}", False, False
    if state in AGENT_LOST_STATES:
        return f"agent lost ({state}){detail}", False, True
    if state == "TASK_FINISHED":
        return "exited normally", True, False
    return f"{state}{f' ({reason})' if reason else ''}{detail}", False, False


def group_intensity_ok(group: Group, wall: float) -> bool:
    """Record one restart at ``wall``; False when more than ``intensity`` restarts
    happened within ``period`` seconds (OTP's MaxR/MaxT)."""
    recent = [t for t in group.restarts if wall - t < group.period]
    recent.append(wall)
    group.restarts = recent
    return len(recent) <= group.intensity


def task_id_of(actor_id: str, incarnation: int) -> str:
    return f"{actor_id}.{incarnation}"


# ----------------------------------------------------------------------------- core


@dataclass
class Stats:
    spawned: int = 0
    restarts: int = 0
    replaced: int = 0
    spawn_failures: int = 0
    oom_kills: int = 0
    launches: int = 0
    warm_launched: int = 0
    warm_assigned: int = 0


@dataclass
class WarmWorker:
    """An idle worker task launched ahead (``--actor-id ''``): it registers, then waits
    for one ``WorkerAssignment``; assigned, its task becomes the actor's incarnation."""

    task_id: str
    agent_id: str
    hostname: str
    agent: Any
    """The placement toolkit's view of its agent (attributes, for constraints)."""
    resources: Resources
    launched: float
    control: str = ""
    """Its control address once it registered (idle, assignable)."""


class ActorsCore:
    """All actors, names and groups of the framework; ``handle`` is the only mutator."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.actors: dict[str, ActorRecord] = {}
        """Live actors (and STOPPING ones whose task has not ended yet)."""
        self.finished: OrderedDict[str, ActorRecord] = OrderedDict()
        self.names: dict[str, str] = {}
        """``namespace/name`` -> actor id."""
        self.groups: dict[str, Group] = {}
        self.tasks: dict[str, str] = {}
        """Task id of a current incarnation -> actor id."""
        self.watchers: dict[str, set[str]] = {}
        """Actor id -> addresses told of its changes."""
        self.streaks: dict[str, int] = {}
        """Actor id -> consecutive short-lived incarnations (restart backoff)."""
        self.stats = Stats()
        self.offers_seen = 0
        self._order = 0
        self.warm: dict[str, WarmWorker] = {}
        """Task id -> warm worker (launched or idle)."""
        self.warm_agents: dict[str, float] = {}
        """Agents seen in offers -> no warm worker asked of them before (monotonic)."""
        self.warm_wanted_until = float("-inf")
        """The pool is kept until then (monotonic): ``warm_idle_seconds`` after a spawn."""

    # -- restore after a failover ---------------------------------------------------

    def restore(
        self, records: Sequence[ActorRecord], groups: Sequence[Group], now: float
    ) -> list[Effect]:
        """Adopt what a previous leader persisted; running actors keep running."""
        out: list[Effect] = []
        owners: set[str] = set()
        for r in sorted(records, key=lambda r: (r.created, r.actor_id)):
            self._order += 1
            r.order = self._order
            if r.state in (ActorState.STOPPED, ActorState.FAILED):
                self._finish(r)
                continue
            self.actors[r.actor_id] = r
            if r.spec.key and r.state is not ActorState.STOPPING:
                self.names[r.spec.key] = r.actor_id
            if r.task_id and r.state in (
                ActorState.STARTING,
                ActorState.RUNNING,
                ActorState.STOPPING,
            ):
                self.tasks[r.task_id] = r.actor_id
            r.pending_since = now  # placement and start timeouts count from the adoption
            if r.spec.lifetime == "owned" and r.spec.owner:
                owners.add(r.spec.owner)
        for g in groups:
            self.groups[g.group_id] = g
        out.extend(Watch(o) for o in sorted(owners))
        if any(r.state in (ActorState.PENDING, ActorState.RESTARTING) for r in records):
            out.append(Revive())
        return out

    # -- queries ----------------------------------------------------------------------

    def get(self, actor_id: str) -> ActorRecord | None:
        return self.actors.get(actor_id) or self.finished.get(actor_id)

    def find(self, name: str, namespace: str) -> ActorRecord | None:
        actor_id = self.names.get(f"{namespace}/{name}")
        return self.actors.get(actor_id) if actor_id else None

    def resolve(self, ref: str, namespace: str = "default") -> ActorRecord | None:
        """An actor id, ``namespace/name`` or a name in ``namespace`` (live ones first)."""
        if ref in self.actors:
            return self.actors[ref]
        if "/" in ref:
            actor_id = self.names.get(ref)
            if actor_id:
                return self.actors.get(actor_id)
        found = self.find(ref, namespace)
        return found if found is not None else self.finished.get(ref)

    # -- dispatch ---------------------------------------------------------------------

    def handle(self, event: Event, now: float, wall: float) -> list[Effect]:
        out: list[Effect] = []
        if isinstance(event, Spawn):
            self._spawn(event, now, wall, out)
        elif isinstance(event, Offers):
            self._offers(event.offers, now, out)
        elif isinstance(event, TaskStatus):
            self._status(event, now, wall, out)
        elif isinstance(event, RegisterWorker):
            self._register(event, now, wall, out)
        elif isinstance(event, WorkerReady):
            self._ready(event.actor_id, event.incarnation, event.address, now, wall, out)
        elif isinstance(event, WorkerFailed):
            self._worker_failed(event, now, wall, out)
        elif isinstance(event, WorkerLost):
            self._worker_lost(event, now, wall, out)
        elif isinstance(event, Kill):
            self._kill_request(event, out)
        elif isinstance(event, OwnerDown):
            self._owner_down(event.owner, out)
        elif isinstance(event, AgentGone):
            self._agent_gone(event.agent_id, now, wall, out)
        elif isinstance(event, Supervise):
            self._supervise(event, now, wall, out)
        elif isinstance(event, Watchers):
            self._watchers(event, out)
        elif isinstance(event, SaveCheckpoint):
            self._checkpoint(event, wall, out)
        elif isinstance(event, Registered):
            out.append(Reconcile(tuple(sorted(self.tasks))))
            if self.tasks:
                # Implicit too: a previous leader's warm workers (never persisted) come
                # back as unknown running tasks, and unknown tasks are killed.
                out.append(Reconcile(()))
            out.append(Revive() if self._waiting(now) else Suppress())
        elif isinstance(event, Tick):
            self._tick(now, wall, out)
        return out

    # -- spawn ------------------------------------------------------------------------

    def _spawn(self, e: Spawn, now: float, wall: float, out: list[Effect]) -> ActorRecord | None:
        config = e.config
        key = config.key
        if key is not None and key in self.names:
            existing = self.actors[self.names[key]]
            if e.get_if_exists:
                out.append(Reply(e.request_id, existing.actor_id))
            else:
                out.append(
                    Reply(
                        e.request_id,
                        error="DuplicateName",
                        message=f"actor name {key!r} is taken by actor {existing.actor_id} "
                        f"({existing.spec.class_name}, {existing.state})",
                    )
                )
            return None
        stem = (config.name or config.class_name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]).lower()
        actor_id = e.actor_id or f"{stem}-{uuid.uuid4().hex[:10]}"
        if actor_id in self.actors:
            out.append(
                Reply(e.request_id, error="InvalidRequest", message=f"actor id {actor_id} exists")
            )
            return None
        record = ActorRecord(actor_id, config, created=wall, pending_since=now)
        self._order += 1
        record.order = self._order
        self.actors[actor_id] = record
        self.stats.spawned += 1
        out.append(SaveActor(record.to_doc()))
        if key is not None:
            self.names[key] = actor_id
            out.append(ClaimName(key, actor_id))
        if config.lifetime == "owned" and config.owner:
            out.append(Watch(config.owner))
        self.warm_wanted_until = now + self.config.warm_idle_seconds
        self._use_warm(now, out)
        out.append(Revive())
        out.append(Reply(e.request_id, actor_id))
        out.append(Changed(actor_id))
        return record

    # -- offers -----------------------------------------------------------------------

    def _placeable(self, now: float) -> list[ActorRecord]:
        waiting = [
            r
            for r in self.actors.values()
            if r.state in (ActorState.PENDING, ActorState.RESTARTING) and r.not_before <= now
        ]
        waiting.sort(key=lambda r: (r.pending_since or 0.0, r.order))
        return waiting

    def _waiting(self, now: float) -> bool:
        """Does any actor wait for a place (now or after its restart delay), or the warm
        pool for a worker?"""
        return self._pool_short(now) or any(
            r.state in (ActorState.PENDING, ActorState.RESTARTING) for r in self.actors.values()
        )

    # -- the warm pool ------------------------------------------------------------------

    def _pool_wanted(self, now: float) -> bool:
        return self.config.warm_per_agent > 0 and now < self.warm_wanted_until

    def _warm_short_on(self, agent_id: str, now: float) -> bool:
        """Should this agent's next offer launch a warm worker?"""
        if not self._pool_wanted(now) or self.warm_agents.get(agent_id, 0.0) > now:
            return False
        held = sum(1 for w in self.warm.values() if w.agent_id == agent_id)
        return held < self.config.warm_per_agent

    def _pool_short(self, now: float) -> bool:
        """Offers are wanted for the pool: an agent known short, or none known yet."""
        if not self._pool_wanted(now):
            return False
        if not self.warm_agents:
            return True
        return any(self._warm_short_on(a, now) for a in self.warm_agents)

    def warm_fits(self, r: ActorRecord, w: WarmWorker, now: float) -> bool:
        """Can idle warm worker ``w`` host ``r`` now? Same memory limit, enough cpus, no
        disk or role of its own, constraints met by ``w``'s agent, and neither avoided
        nor kept from its own agent by a restart in place."""
        spec = r.spec
        if not w.control or spec.role != "*" or spec.disk > 0:
            return False
        if spec.mem != self.config.warm_mem or spec.cpus > self.config.warm_cpus:
            return False
        if r.avoid.get(w.agent_id, 0.0) > now:
            return False
        if r.prefer_agent and now < r.prefer_until and w.agent_id != r.prefer_agent:
            return False
        got = place(
            Demand(cpus=spec.cpus, mem=spec.mem, disk=spec.disk),
            w.resources,
            w.agent,
            constraints=spec.constraints,
            containerizer="mesos",
        )
        return got.resources is not None

    def _use_warm(self, now: float, out: list[Effect]) -> None:
        """Hand idle warm workers to the actors waiting for a place that they fit."""
        if not any(w.control for w in self.warm.values()):
            return
        for r in self._placeable(now):
            for w in sorted(self.warm.values(), key=lambda w: w.launched):
                if self.warm_fits(r, w, now):
                    self._assign_warm(r, w, now, out)
                    break

    def _assign_warm(self, r: ActorRecord, w: WarmWorker, now: float, out: list[Effect]) -> None:
        del self.warm[w.task_id]
        self.stats.warm_assigned += 1
        self._new_incarnation(r, w.task_id, w.agent_id, w.hostname, w.control, now, out)
        out.append(Assign(w.control, r.actor_id, r.incarnation))
        out.append(Revive())  # refill the pool

    def _warm_task(
        self, offer: p.Offer, agent: Any, resources: Resources, now: float
    ) -> p.TaskInfo:
        cfg = self.config
        task_id = f"warm-{uuid.uuid4().hex[:12]}"
        self.warm[task_id] = WarmWorker(
            task_id, offer.agent_id, offer.hostname, agent, resources, launched=now
        )
        self.stats.warm_launched += 1
        argv = [*cfg.worker_command, "--actor-id", "", "--incarnation", "1", "--task-id", task_id]
        return build_task_info(
            task_id,
            "actor.warm-worker",
            offer.agent_id,
            resources,
            command_spec(
                args=argv,
                framework_env=dict(cfg.worker_env),
                uris=[p.UriInfo(u, extract=True) for u in cfg.worker_uris],
                user=cfg.worker_user,
            ),
            kill_grace_period=cfg.kill_grace_period,
            labels={"pydcos.actor.warm": "true"},
        )

    def _register_warm(self, e: RegisterWorker, now: float, out: list[Effect]) -> None:
        w = self.warm.get(e.task_id)
        if w is None or not self._pool_wanted(now):
            out.append(StopWorker(e.control, "", "this warm worker is not wanted"))
            if w is not None:
                del self.warm[w.task_id]
                out.append(KillTask(w.task_id, w.agent_id))
            return
        w.control = e.control
        self._use_warm(now, out)

    def _warm_status(self, e: TaskStatus, now: float, out: list[Effect]) -> None:
        w = self.warm[e.task_id]
        if e.state not in ENDED:
            return
        del self.warm[e.task_id]
        if not w.control:  # it died young: do not relaunch there at once
            self.warm_agents[w.agent_id] = now + self.config.warm_retry_seconds
        if self._pool_short(now):
            out.append(Revive())

    def _warm_tick(self, now: float, out: list[Effect]) -> None:
        retire = not self._pool_wanted(now)
        if not retire and any(
            until <= now < until + 1.0 and self._warm_short_on(agent, now)
            for agent, until in self.warm_agents.items()
        ):
            out.append(Revive())  # an agent may take its warm worker again
        for w in sorted(self.warm.values(), key=lambda w: w.task_id):
            young = not w.control and now - w.launched >= self.config.start_timeout
            if not (retire or young):
                continue
            del self.warm[w.task_id]
            if w.control:
                out.append(StopWorker(w.control, "", "the warm pool is retired"))
            out.append(KillTask(w.task_id, w.agent_id))
            if young:
                self.warm_agents[w.agent_id] = now + self.config.warm_retry_seconds

    def warm_rows(self) -> list[dict[str, Any]]:
        """The warm workers as ``actor list`` shows them (idle, or starting)."""
        return [
            {
                "id": w.task_id,
                "name": "",
                "namespace": "",
                "class": "(warm worker)",
                "state": "IDLE" if w.control else "STARTING",
                "node": w.hostname,
                "agent_id": w.agent_id,
                "address": "",
                "task_id": w.task_id,
                "incarnation": 0,
                "restarts": 0,
                "cpus": self.config.warm_cpus,
                "mem": self.config.warm_mem,
                "kind": "warm worker",
            }
            for w in sorted(self.warm.values(), key=lambda w: w.launched)
        ]

    def _offers(self, offers: Sequence[p.Offer], now: float, out: list[Effect]) -> None:
        self.offers_seen += len(offers)
        self._offers_each(offers, now, out)
        if not self._waiting(now):
            out.append(Suppress())

    def _offers_each(self, offers: Sequence[p.Offer], now: float, out: list[Effect]) -> None:
        for offer in offers:
            waiting = self._placeable(now)
            self.warm_agents.setdefault(offer.agent_id, 0.0)
            if not waiting and not self._warm_short_on(offer.agent_id, now):
                out.append(
                    Decline(
                        offer.offer_id,
                        "no actor waits for a place",
                        self.config.idle_decline_seconds,
                    )
                )
                continue
            try:
                free = Resources.from_dict(offer.resources)
            except ResourceError as exc:
                out.append(
                    Decline(offer.offer_id, f"offer unreadable: {exc}", self.config.decline_seconds)
                )
                continue
            agent = agent_of(offer)
            where = f"{offer.hostname}/{offer.agent_id.rsplit('-', 1)[-1]}"
            tasks: list[p.TaskInfo] = []
            for r in waiting:
                if r.avoid.get(offer.agent_id, 0.0) > now:
                    r.refusals[where] = "its worker there stopped answering (agent lost?)"
                    continue
                if r.prefer_agent and now < r.prefer_until and offer.agent_id != r.prefer_agent:
                    r.refusals[where] = "waiting for its own agent (restart in place)"
                    continue
                spec = r.spec
                got = place(
                    Demand(cpus=spec.cpus, mem=spec.mem, disk=spec.disk),
                    free,
                    agent,
                    constraints=spec.constraints,
                    containerizer="mesos",
                )
                if got.resources is None:
                    r.refusals[where] = got.detail or got.reason
                    continue
                free = free - got.resources
                tasks.append(self._launch(r, offer, got.resources, now, out))
            cfg = self.config
            while self._warm_short_on(offer.agent_id, now):
                got = place(Demand(cpus=cfg.warm_cpus, mem=cfg.warm_mem), free, agent)
                if got.resources is None:
                    self.warm_agents[offer.agent_id] = now + cfg.warm_full_seconds
                    break
                free = free - got.resources
                tasks.append(self._warm_task(offer, agent, got.resources, now))
            if tasks:
                out.append(Launch(offer.offer_id, tuple(tasks)))
            else:
                details = sorted({r.refusals.get(where, "") for r in waiting} - {""})
                why = "; ".join(details[:3]) or "no room for a warm worker"
                out.append(Decline(offer.offer_id, why, self.config.decline_seconds))

    def _launch(
        self, r: ActorRecord, offer: p.Offer, resources: Resources, now: float, out: list[Effect]
    ) -> p.TaskInfo:
        self.stats.launches += 1
        self._new_incarnation(r, None, offer.agent_id, offer.hostname, "", now, out)
        return self.task_info(r, offer.agent_id, resources)

    def _new_incarnation(
        self,
        r: ActorRecord,
        task_id: str | None,
        agent_id: str,
        hostname: str,
        control: str,
        now: float,
        out: list[Effect],
    ) -> None:
        """Start the next incarnation of ``r`` on ``agent_id``: a launch (``task_id``
        None: a fresh task id, no control yet) and a warm worker's assignment (its task
        and control) differ only there; the start timeout counts from now."""
        if r.task_id:
            self.tasks.pop(r.task_id, None)
        if r.agent_id is not None and r.agent_id != agent_id:
            self.stats.replaced += 1
        r.incarnation += 1
        r.task_id = task_id_of(r.actor_id, r.incarnation) if task_id is None else task_id
        r.agent_id = agent_id
        r.hostname = hostname
        r.address = None
        r.control = control
        r.state = ActorState.STARTING
        r.pending_since = now
        r.prefer_agent = None
        r.refusals.clear()
        self.tasks[r.task_id] = r.actor_id
        out.append(SaveActor(r.to_doc()))
        out.append(Changed(r.actor_id))

    def task_info(self, r: ActorRecord, agent_id: str, resources: Resources) -> p.TaskInfo:
        """The worker task of ``r``'s current incarnation."""
        cfg = self.config
        assert r.task_id is not None
        argv = [
            *cfg.worker_command,
            "--actor-id",
            r.actor_id,
            "--incarnation",
            str(r.incarnation),
            "--task-id",
            r.task_id,
        ]
        env = dict(cfg.worker_env)
        env["PYDCOS_ACTOR_ID"] = r.actor_id
        labels = {"pydcos.actor.id": r.actor_id, "pydcos.actor.class": r.spec.class_name}
        if r.spec.key:
            labels["pydcos.actor.name"] = r.spec.key
        return build_task_info(
            r.task_id,
            f"actor.{r.spec.name or r.actor_id}",
            agent_id,
            resources,
            command_spec(
                args=argv,
                framework_env=env,
                uris=[p.UriInfo(u, extract=True) for u in cfg.worker_uris],
                user=cfg.worker_user,
            ),
            kill_grace_period=cfg.kill_grace_period,
            labels=labels,
        )

    # -- the worker -------------------------------------------------------------------

    def _current(self, actor_id: str, incarnation: int) -> ActorRecord | None:
        r = self.actors.get(actor_id)
        if r is None or r.incarnation != incarnation:
            return None
        return r

    def _register(self, e: RegisterWorker, now: float, wall: float, out: list[Effect]) -> None:
        if not e.actor_id:
            self._register_warm(e, now, out)
            return
        r = self._current(e.actor_id, e.incarnation)
        if r is None or r.state not in (ActorState.STARTING, ActorState.RUNNING):
            out.append(StopWorker(e.control, e.actor_id, "this incarnation is not wanted"))
            return
        r.control = e.control
        if e.ready:  # a new leader learning of a worker that already serves
            self._ready(e.actor_id, e.incarnation, e.address, now, wall, out)
        elif r.state is ActorState.STARTING:
            out.append(Assign(e.control, e.actor_id, e.incarnation))

    def _ready(
        self,
        actor_id: str,
        incarnation: int,
        address: str,
        now: float,
        wall: float,
        out: list[Effect],
    ) -> None:
        r = self._current(actor_id, incarnation)
        if r is None or r.state not in (ActorState.STARTING, ActorState.RUNNING):
            return
        changed = r.state is not ActorState.RUNNING or r.address != address
        if r.state is ActorState.STARTING or r.started_wall is None:
            r.started_wall = wall
        r.state = ActorState.RUNNING
        r.address = address
        r.ready_seen = True
        r.pending_since = None
        if r.ready_at is None:
            r.ready_at = now
        if changed:
            out.append(SaveActor(r.to_doc()))
            out.append(Changed(r.actor_id))

    def _worker_failed(self, e: WorkerFailed, now: float, wall: float, out: list[Effect]) -> None:
        r = self._current(e.actor_id, e.incarnation)
        if r is None or not r.live:
            return
        if e.permanent:
            task_id = r.task_id
            self.stats.spawn_failures += 1
            self._finish_failed(r, f"{r.spec.class_name}: {e.message}", out)
            if task_id:
                out.append(KillTask(task_id, r.agent_id or ""))
            return
        r.last_exit = e.message  # the task's end follows and decides the restart

    def _worker_lost(self, e: WorkerLost, now: float, wall: float, out: list[Effect]) -> None:
        r = self._current(e.actor_id, e.incarnation)
        if r is None or r.state is not ActorState.RUNNING or not r.task_id:
            return
        task_id = r.task_id
        out.append(KillTask(task_id, r.agent_id or ""))  # if its agent still hears us
        self.tasks.pop(task_id, None)
        r.last_reason = "REASON_WORKER_UNREACHABLE"
        if r.agent_id:  # its agent may be gone too, with offers still outstanding
            r.avoid[r.agent_id] = now + self.config.avoid_seconds
        self._ended(r, f"worker unreachable ({e.why})", False, True, now, wall, out)

    def _checkpoint(self, e: SaveCheckpoint, wall: float, out: list[Effect]) -> None:
        r = self._current(e.actor_id, e.incarnation)
        if r is None or not r.live:
            out.append(
                Reply(
                    e.request_id,
                    error="Stale",
                    message=f"{e.actor_id}: incarnation {e.incarnation} is not current",
                )
            )
            return
        limit = self.config.max_checkpoint_bytes
        if not 0 <= e.size <= limit:
            out.append(
                Reply(
                    e.request_id,
                    error="CheckpointRefused",
                    message=f"checkpoint of {e.actor_id}: {e.size} bytes is over the "
                    f"limit of {limit} bytes",
                )
            )
            return
        r.checkpoint_size = e.size
        r.checkpoint_wall = wall
        out.append(SaveActor(r.to_doc()))
        out.append(Reply(e.request_id, r.actor_id))

    # -- task status ------------------------------------------------------------------

    def _status(self, e: TaskStatus, now: float, wall: float, out: list[Effect]) -> None:
        if e.task_id in self.warm:
            self._warm_status(e, now, out)
            return
        actor_id = self.tasks.get(e.task_id)
        r = self.actors.get(actor_id) if actor_id else None
        if r is None or r.task_id != e.task_id:
            if e.state not in ENDED:
                out.append(KillTask(e.task_id, e.agent_id))  # an incarnation nobody wants
            return
        if e.state not in ENDED:
            return
        self.tasks.pop(e.task_id, None)
        why, normal, lost = exit_reason(e.state, e.reason, e.message)
        if e.reason == OOM_REASON:
            self.stats.oom_kills += 1
        r.last_reason = e.reason or ""
        if r.last_exit and not normal and not lost and e.reason != OOM_REASON:
            why = f"{why} ({r.last_exit})" if r.state is not ActorState.STOPPING else why
        self._ended(r, why, normal, lost, now, wall, out)

    def _ended(
        self,
        r: ActorRecord,
        why: str,
        normal: bool,
        lost: bool,
        now: float,
        wall: float,
        out: list[Effect],
    ) -> None:
        """The current incarnation of ``r`` is gone: finish, restart or give up."""
        # Lost: its agent is unreachable, not necessarily its worker: tell the worker to
        # exit so two incarnations never serve (a late one is refused anyway). Told
        # after the re-placement's effects: a tell to a dead node must not delay them.
        stop = (
            StopWorker(r.control, r.actor_id, "its agent was lost; replaced")
            if lost and r.control
            else None
        )
        self._ended_now(r, why, normal, lost, now, wall, out)
        if stop is not None:
            out.append(stop)

    def _ended_now(
        self,
        r: ActorRecord,
        why: str,
        normal: bool,
        lost: bool,
        now: float,
        wall: float,
        out: list[Effect],
    ) -> None:
        r.address = None
        r.control = ""
        if r.state is ActorState.STOPPING:
            if r.restart_after_stop:
                r.restart_after_stop = False
                self._to_restart(
                    r, r.last_exit, now, out, delay=0.0, in_place=not lost, count=False
                )
                return
            if r.stop_as_failed:
                self._finish_failed(r, r.last_exit, out)
            else:
                self._finish_stopped(r, r.last_exit or "killed", out)
            return
        r.last_exit = why
        if not r.ready_seen and not lost:
            self.stats.spawn_failures += 1
            self._finish_failed(
                r, f"the worker of {r.spec.class_name} ended before it was ready: {why}", out
            )
            return
        group = self.groups.get(r.group) if r.group else None
        if group is not None:
            self._group_child_ended(group, r, why, normal, lost, now, wall, out)
            return
        if not r.ready_seen:  # lost with its agent before it ever ran: place it again
            self._to_restart(r, why, now, out, delay=0.0, in_place=False, count=False)
            return
        if self._finished_unwanted(r, why, normal, out):
            return
        if r.spec.max_restarts != -1 and r.restarts >= r.spec.max_restarts:
            self._finish_failed(r, f"{why}; max_restarts={r.spec.max_restarts} reached", out)
            return
        self._to_restart(r, why, now, out, delay=self._delay(r, now), in_place=not lost)

    def _finished_unwanted(self, r: ActorRecord, why: str, normal: bool, out: list[Effect]) -> bool:
        """Finish ``r`` when its restart type wants no restart for this end (an actor
        alone or a group's child alike); True when it did."""
        if restart_wanted(r.spec.restart, normal):
            return False
        if normal:
            self._finish_stopped(r, why, out)
        else:
            self._finish_failed(r, f"{why}; restart type {r.spec.restart}", out)
        return True

    def _delay(self, r: ActorRecord, now: float) -> float:
        stable = r.ready_at is not None and now - r.ready_at >= self.config.stable_seconds
        streak = 0 if stable else self.streaks.get(r.actor_id, 0)
        self.streaks[r.actor_id] = streak + 1
        backoff = LaunchBackoff(
            self.config.restart_backoff,
            self.config.restart_backoff_factor,
            self.config.max_restart_delay,
        )
        # The first crashes of a streak restart at once (as OTP and Ray do); a worker
        # that keeps crashing young backs off (max_restarts -1 must not spin).
        return backoff.delay_after(streak - self.config.immediate_restarts + 1)

    def _to_restart(
        self,
        r: ActorRecord,
        why: str,
        now: float,
        out: list[Effect],
        *,
        delay: float,
        in_place: bool,
        count: bool = True,
    ) -> None:
        if count:
            r.restarts += 1
            self.stats.restarts += 1
        r.state = ActorState.RESTARTING
        r.last_exit = why
        r.pending_since = now
        r.not_before = now + delay
        r.started_wall = None
        r.ready_at = None
        if in_place and r.agent_id:
            r.prefer_agent = r.agent_id
            r.prefer_until = now + delay + self.config.in_place_wait
        else:
            r.prefer_agent = None
        out.append(SaveActor(r.to_doc()))
        out.append(Changed(r.actor_id))
        out.append(Revive())
        self._use_warm(now, out)

    def _finish(self, r: ActorRecord) -> None:
        self.finished[r.actor_id] = r
        self.finished.move_to_end(r.actor_id)
        while len(self.finished) > FINISHED_KEPT:
            self.finished.popitem(last=False)

    def _end(self, r: ActorRecord, state: ActorState, why: str, out: list[Effect]) -> None:
        """The actor is gone for good: off the live tables, its name free, kept in
        ``finished`` for late waiters; its stored documents are deleted."""
        r.state = state
        r.last_exit = why
        r.address = None
        r.started_wall = None
        self.actors.pop(r.actor_id, None)
        if r.task_id:
            self.tasks.pop(r.task_id, None)
        self.streaks.pop(r.actor_id, None)
        self._release_name(r, out)
        self._leave_group(r, out)
        self._finish(r)
        out.append(ForgetActor(r.actor_id))
        out.append(Changed(r.actor_id))

    def _finish_stopped(self, r: ActorRecord, why: str, out: list[Effect]) -> None:
        self._end(r, ActorState.STOPPED, why, out)

    def _finish_failed(self, r: ActorRecord, why: str, out: list[Effect]) -> None:
        self._end(r, ActorState.FAILED, why, out)

    def _release_name(self, r: ActorRecord, out: list[Effect]) -> None:
        key = r.spec.key
        if key and self.names.get(key) == r.actor_id:
            del self.names[key]
            out.append(ReleaseName(key, r.actor_id))

    # -- kills, owners, agents ----------------------------------------------------------

    def _kill_request(self, e: Kill, out: list[Effect]) -> None:
        r = self.actors.get(e.actor_id)
        if r is None:
            done = self.finished.get(e.actor_id)
            if done is not None:
                out.append(Reply(e.request_id, done.actor_id))
                return
            out.append(
                Reply(e.request_id, error="ActorNotFound", message=f"no actor {e.actor_id!r}")
            )
            return
        self._stop(r, e.why, out)
        out.append(Reply(e.request_id, r.actor_id))

    def _stop(self, r: ActorRecord, why: str, out: list[Effect]) -> None:
        """Stop for good: no restart; the name is free at once; STOPPED when the task ends."""
        r.last_exit = why
        r.restart_after_stop = False
        r.stop_as_failed = False
        if r.state in (ActorState.STARTING, ActorState.RUNNING, ActorState.STOPPING) and r.task_id:
            r.state = ActorState.STOPPING
            self._release_name(r, out)
            out.append(SaveActor(r.to_doc()))
            if r.control:
                out.append(StopWorker(r.control, r.actor_id, why))
            out.append(KillTask(r.task_id, r.agent_id or ""))
            out.append(Changed(r.actor_id))
        else:  # PENDING, RESTARTING: nothing runs
            self._finish_stopped(r, why, out)

    def _owner_down(self, owner: str, out: list[Effect]) -> None:
        for r in sorted(self.actors.values(), key=lambda r: r.actor_id):
            if (
                r.spec.lifetime == "owned"
                and r.spec.owner == owner
                and r.state is not ActorState.STOPPING
            ):
                self._stop(r, "its owner script went away", out)
        for watchers in self.watchers.values():
            watchers.discard(owner)

    def _agent_gone(self, agent_id: str, now: float, wall: float, out: list[Effect]) -> None:
        for w in [w for w in self.warm.values() if w.agent_id == agent_id]:
            del self.warm[w.task_id]
        self.warm_agents.pop(agent_id, None)
        for r in sorted(self.actors.values(), key=lambda r: r.actor_id):
            if (
                r.agent_id == agent_id
                and r.task_id in self.tasks
                and r.state in (ActorState.STARTING, ActorState.RUNNING, ActorState.STOPPING)
            ):
                self.tasks.pop(r.task_id or "", None)
                r.last_reason = "REASON_AGENT_REMOVED"
                self._ended(
                    r, f"agent lost ({r.hostname or agent_id})", False, True, now, wall, out
                )

    # -- supervision groups -----------------------------------------------------------

    def _supervise(self, e: Supervise, now: float, wall: float, out: list[Effect]) -> None:
        g = e.group
        if g.group_id in self.groups:
            out.append(
                Reply(
                    e.request_id,
                    error="DuplicateName",
                    message=f"supervision group {g.group_id!r} exists",
                )
            )
            return
        keys = [c.config.key for c in e.children if c.config.key]
        taken = [k for k in keys if k in self.names]
        if taken or len(set(keys)) != len(keys):
            what = f"{taken[0]!r} is taken" if taken else "children share a name"
            out.append(Reply(e.request_id, error="DuplicateName", message=f"children: {what}"))
            return
        children: list[str] = []
        for child in e.children:
            sink: list[Effect] = []
            record = self._spawn(child, now, wall, sink)
            out.extend(x for x in sink if not isinstance(x, Reply))
            assert record is not None
            record.group = g.group_id
            children.append(record.actor_id)
            out.append(SaveActor(record.to_doc()))
        g.children = children
        self.groups[g.group_id] = g
        out.append(SaveGroup(g.to_doc()))
        out.append(Reply(e.request_id, g.group_id))

    def _group_child_ended(
        self,
        g: Group,
        r: ActorRecord,
        why: str,
        normal: bool,
        lost: bool,
        now: float,
        wall: float,
        out: list[Effect],
    ) -> None:
        if self._finished_unwanted(r, why, normal, out):
            return
        if not group_intensity_ok(g, wall):
            reason = (
                f"supervision group {g.group_id} gave up: more than {g.intensity} restarts "
                f"in {g.period:g} s (last: {r.actor_id} {why})"
            )
            self._group_gives_up(g, r, reason, out)
            return
        out.append(SaveGroup(g.to_doc()))
        self._to_restart(r, why, now, out, delay=0.0, in_place=not lost)
        if g.strategy == "one_for_one":
            return
        index = g.children.index(r.actor_id) if r.actor_id in g.children else -1
        if g.strategy == "one_for_all":
            siblings = [c for c in g.children if c != r.actor_id]
        else:
            siblings = g.children[index + 1 :]
        for child in siblings:
            s = self.actors.get(child)
            if (
                s is None
                or s.state not in (ActorState.STARTING, ActorState.RUNNING)
                or not s.task_id
            ):
                continue
            s.state = ActorState.STOPPING
            s.restart_after_stop = True
            s.last_exit = f"restarted with {r.actor_id} ({g.strategy})"
            s.restarts += 1
            self.stats.restarts += 1
            out.append(SaveActor(s.to_doc()))
            if s.control:
                out.append(StopWorker(s.control, s.actor_id, s.last_exit))
            out.append(KillTask(s.task_id, s.agent_id or ""))
            out.append(Changed(s.actor_id))

    def _group_gives_up(
        self, g: Group, crashed: ActorRecord, reason: str, out: list[Effect]
    ) -> None:
        del self.groups[g.group_id]
        out.append(ForgetGroup(g.group_id))
        for child in g.children:
            r = self.actors.get(child)
            if r is None:
                continue
            r.group = None
            if r is crashed or r.state not in (ActorState.STARTING, ActorState.RUNNING):
                self._finish_failed(r, reason, out)
            else:
                self._stop(r, reason, out)
                r.stop_as_failed = True

    def _leave_group(self, r: ActorRecord, out: list[Effect]) -> None:
        g = self.groups.get(r.group) if r.group else None
        if g is None:
            return
        if r.actor_id in g.children:
            g.children.remove(r.actor_id)
        if g.children:
            out.append(SaveGroup(g.to_doc()))
        else:
            del self.groups[g.group_id]
            out.append(ForgetGroup(g.group_id))

    def _watchers(self, e: Watchers, out: list[Effect]) -> None:
        for actor_id in e.actor_ids:
            if e.add:
                self.watchers.setdefault(actor_id, set()).add(e.watcher)
                out.append(Changed(actor_id))  # the current state at once
            else:
                self.watchers.get(actor_id, set()).discard(e.watcher)
        if e.add:
            out.append(Watch(e.watcher))

    # -- time ---------------------------------------------------------------------------

    def _tick(self, now: float, wall: float, out: list[Effect]) -> None:
        self._warm_tick(now, out)
        self._use_warm(now, out)
        revive = False
        for r in sorted(self.actors.values(), key=lambda r: r.actor_id):
            if r.pending_since is None:
                r.pending_since = now
            waited = now - r.pending_since
            if r.state is ActorState.PENDING and waited >= r.spec.placement_timeout:
                self.stats.spawn_failures += 1
                self._finish_failed(r, self.placement_problem(r), out)
                continue
            if r.state is ActorState.RESTARTING and r.not_before <= now < r.not_before + 1.0:
                revive = True  # it just became placeable
            if r.state is ActorState.STARTING and waited >= self.config.start_timeout and r.task_id:
                task_id = r.task_id
                out.append(KillTask(task_id, r.agent_id or ""))
                self.tasks.pop(task_id, None)
                why = f"worker did not become ready within {self.config.start_timeout:g} s"
                self._ended(r, why, False, False, now, wall, out)
        if revive:
            out.append(Revive())

    def placement_problem(self, r: ActorRecord) -> str:
        """Why ``r`` found no place: each agent's last refusal, or that none offered."""
        spec = r.spec
        asks = f"cpus={spec.cpus:g} mem={spec.mem:g}"
        if spec.constraints:
            asks += " constraints=" + ",".join(c.label() for c in spec.constraints)
        head = f"no agent can place {spec.class_name} ({asks}) within {spec.placement_timeout:g} s"
        if not r.refusals:
            return f"{head}: no offer arrived (no agent with free resources?)"
        per_agent = "; ".join(f"{host}: {why}" for host, why in sorted(r.refusals.items()))
        return f"{head}: {per_agent}"

    # -- views --------------------------------------------------------------------------

    def shown_state(self, r: ActorRecord) -> str:
        """The state scripts see (``runtime.ACTOR_STATES``): STOPPING shows as STOPPED,
        or RESTARTING when its group restarts it."""
        if r.state is ActorState.STOPPING:
            return "RESTARTING" if r.restart_after_stop else "STOPPED"
        return r.state.value

    def describe(self, r: ActorRecord, wall: float) -> dict[str, Any]:
        """One actor as ``actor list``/``show`` and the dashboard print it."""
        spec = r.spec
        running = r.state is ActorState.RUNNING and r.started_wall
        return {
            "id": r.actor_id,
            "name": spec.name or "",
            "namespace": spec.namespace,
            "class": spec.class_name,
            "state": self.shown_state(r),
            "node": r.hostname,
            "agent_id": r.agent_id or "",
            "address": r.address or "",
            "task_id": r.task_id or "",
            "incarnation": r.incarnation,
            "restarts": r.restarts,
            "max_restarts": spec.max_restarts,
            "restart": spec.restart,
            "lifetime": spec.lifetime,
            "owner": spec.owner,
            "uptime": round(wall - (r.started_wall or wall), 1) if running else None,
            "started": r.started_wall if running else None,
            "cpus": spec.cpus,
            "mem": spec.mem,
            **self._held(r),
            "constraints": [c.to_json() for c in spec.constraints],
            "group": r.group or "",
            "last_exit": r.last_exit,
            "reason": r.last_reason,
            "checkpoint_bytes": r.checkpoint_size,
            "waiting": dict(r.refusals)
            if r.state in (ActorState.PENDING, ActorState.RESTARTING)
            else {},
            "created": r.created,
        }

    def _held(self, r: ActorRecord) -> dict[str, float]:
        """What its task holds: a warm worker's size when it runs in one (the pool's
        tasks are sized ahead, so an actor asking fewer cpus holds the warm size)."""
        if r.task_id and r.task_id.startswith("warm-"):
            return {"task_cpus": self.config.warm_cpus, "task_mem": self.config.warm_mem}
        return {"task_cpus": r.spec.cpus, "task_mem": r.spec.mem}

    def counts(self) -> dict[str, int]:
        """Actors by shown state (live ones and the remembered finished ones)."""
        out: dict[str, int] = {
            s: 0 for s in ("PENDING", "STARTING", "RUNNING", "RESTARTING", "STOPPED", "FAILED")
        }
        for r in [*self.actors.values(), *self.finished.values()]:
            out[self.shown_state(r)] += 1
        return out
