"""Wire records of cluster actors (issue 27): script <-> placing framework <-> worker.

They live in ``runtime`` (not ``actors.protocol``) because scripts and the worker
process import only ``runtime``; the placing framework (``actors.cluster_actors``, a
leader service registered as the actor ``cluster_actors`` on the leading master)
imports them from here. Pure: dataclasses and the codec registration only.

```
 script (client node)                 framework "cluster_actors"         worker node
  SpawnActor ----------------ask----->  ActorInfo (PENDING)
  WaitActor(id, incarnation) -ask----->  ActorInfo (RUNNING, address)      <- WorkerReady
  WatchActors(subscriber) ----tell---->  ActorEvent(info) ... -> subscriber
                                         (launch task: python -m runtime.worker ...)
                                                       <--tell- RegisterWorker
                                         WorkerAssignment -tell->  (spec + checkpoint)
                                                       <--tell- WorkerReady | WorkerFailed
                                                       <--ask-- SaveCheckpoint
  ActorCall(actor_id, method, payload) ---------ask------------------------> bytes | CallFailed
  ActorTell(actor_id, method, payload) ---------tell----------------------->
  KillActor / GetActor / ListActors / Supervise / OwnerGone -> framework
                                         StopWorker ------------------------> (exits)
```

Payloads (class, args, results, checkpoints) are pickles (``cloudpickle`` for classes
defined in ``__main__``): the codec carries them as opaque ``bytes`` and only the two
ends that run user code unpickle them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transport import register as register_message

__all__ = [
    "ACTOR_STATES",
    "FRAMEWORK_ACTOR",
    "LIFETIMES",
    "RESTART_TYPES",
    "SUPERVISE_STRATEGIES",
    "WORKER_ACTOR",
    "ActorCall",
    "ActorEvent",
    "ActorInfo",
    "ActorList",
    "ActorSpec",
    "ActorTell",
    "CallFailed",
    "CheckpointSaved",
    "GetActor",
    "GetWorkingDir",
    "KillActor",
    "ListActors",
    "OwnerGone",
    "PingWorker",
    "PutWorkingDir",
    "RegisterWorker",
    "SaveCheckpoint",
    "SpawnActor",
    "StopWorker",
    "Supervise",
    "SupervisionInfo",
    "UnwatchActors",
    "WaitActor",
    "WatchActors",
    "WorkerAssignment",
    "WorkerFailed",
    "WorkerReady",
    "WorkerStatus",
    "spec_problem",
]

FRAMEWORK_ACTOR = "cluster_actors"
"""Name of the placing framework's actor on the leading master."""
WORKER_ACTOR = "actor"
"""Name of the hosted user actor on a worker node (``tcp://host:port/actor``)."""

RESTART_TYPES = ("permanent", "transient", "temporary")
LIFETIMES = ("owned", "detached")
SUPERVISE_STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
ACTOR_STATES = ("PENDING", "STARTING", "RUNNING", "RESTARTING", "STOPPED", "FAILED")
"""PENDING: waiting for an offer; STARTING: worker launched, not ready; RUNNING: serving
at ``address``; RESTARTING: its worker died, a new incarnation is on its way; STOPPED
(killed, owner gone, normal exit) and FAILED (restarts exhausted, unplaceable, class
unusable) are terminal."""


def spec_problem(spec: ActorSpec) -> str | None:
    """What is wrong with a spec (a message naming the field), or None."""
    if not spec.class_name:
        return "class_name: empty"
    if not spec.cpus > 0 or spec.cpus > 1024:
        return f"cpus: {spec.cpus!r} must be in (0, 1024]"
    if not spec.mem >= 16 or spec.mem > 1 << 20:
        return f"mem: {spec.mem!r} MB must be in [16, 1048576]"
    if spec.disk < 0:
        return f"disk: {spec.disk!r} must be >= 0"
    if spec.max_restarts < -1:
        return f"max_restarts: {spec.max_restarts!r} must be >= -1 (-1: unbounded)"
    if spec.restart not in RESTART_TYPES:
        return f"restart: {spec.restart!r} is not one of {RESTART_TYPES}"
    if not 1 <= spec.max_concurrency <= 1000:
        return f"max_concurrency: {spec.max_concurrency!r} must be in [1, 1000]"
    for c in spec.constraints:
        if not 2 <= len(c) <= 3:
            return f"constraints: {c!r} is not [field, OPERATOR(, value)]"
    if not spec.role:
        return "role: empty"
    return None


# -- what to run ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """Everything a worker needs to build the actor, and the framework to place it."""

    class_name: str
    """``module:QualName`` (shown everywhere; the import path when ``class_blob`` is empty)."""
    class_blob: bytes
    """cloudpickle of the class (classes defined in ``__main__``), else b""."""
    args_blob: bytes
    """pickle of ``(args, kwargs)`` for ``__init__``."""
    methods: list[str]
    """Public method names (the handle refuses others at once)."""
    async_methods: list[str]
    """The subset defined with ``async def`` (run on the worker's asyncio loop)."""
    cpus: float = 0.1
    mem: float = 64.0
    """MB (the worker's cgroup limit: past it the agent reports an OOM kill)."""
    disk: float = 0.0
    constraints: list[list[str]] = field(default_factory=list)
    """Marathon-style ``[["zone", "IS", "zone-a"], ...]``."""
    role: str = "*"
    max_restarts: int = 3
    """-1: unbounded. Counted over the actor's life (Ray's rule)."""
    restart: str = "permanent"
    """OTP restart type: permanent | transient | temporary."""
    max_concurrency: int = 1
    working_dir: str = ""
    """sha256 of the packed working dir (``PutWorkingDir``), or "" for none."""
    python_path: list[str] = field(default_factory=list)
    """Entries (relative to the unpacked working dir) to put on the worker's sys.path."""

    def __post_init__(self) -> None:
        problem = spec_problem(self)
        if problem is not None:
            raise ValueError(problem)


@dataclass(frozen=True, slots=True)
class SpawnActor:
    """Script -> framework (ask): place an actor. Reply ``ActorInfo`` (usually PENDING)
    as soon as the name is taken; errors: ``DuplicateName`` (a RemoteError type name),
    ``ValueError`` for a bad field."""

    spec: ActorSpec
    name: str = ""
    """"" for an anonymous actor (the framework gives it an id only)."""
    namespace: str = "default"
    lifetime: str = "owned"
    """owned: stopped when ``owner``'s node goes away (or OwnerGone); detached: lives on."""
    owner: str = ""
    """The spawning script's node address (``client:...`` or ``tcp://...``)."""
    get_if_exists: bool = False
    """A live actor of that name is returned instead of DuplicateName."""
    placement_timeout: float = 30.0
    """Seconds without an offer that fits before the actor is FAILED with a message
    naming the resource or constraint no agent can meet."""

    def __post_init__(self) -> None:
        if self.lifetime not in LIFETIMES:
            raise ValueError(f"lifetime: {self.lifetime!r} is not one of {LIFETIMES}")
        if self.name and ("/" in self.name or len(self.name) > 200):
            raise ValueError(f"name: {self.name!r} must be <= 200 characters without '/'")
        if not self.namespace or "/" in self.namespace:
            raise ValueError(f"namespace: {self.namespace!r} must be non-empty without '/'")
        if not 0 < self.placement_timeout <= 3600:
            raise ValueError(f"placement_timeout: {self.placement_timeout!r} not in (0, 3600]")


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """One actor as the framework knows it (reply and event payload)."""

    actor_id: str
    name: str
    namespace: str
    class_name: str
    methods: list[str]
    async_methods: list[str]
    state: str
    """One of ACTOR_STATES."""
    address: str = ""
    """``tcp://host:port/actor`` of the current incarnation while RUNNING, else ""."""
    incarnation: int = 0
    """1 for the first worker, +1 on each restart or re-placement."""
    restarts: int = 0
    max_restarts: int = 3
    restart: str = "permanent"
    lifetime: str = "owned"
    owner: str = ""
    agent_id: str = ""
    hostname: str = ""
    task_id: str = ""
    cpus: float = 0.0
    mem: float = 0.0
    started: float = 0.0
    """Wall time the current incarnation became RUNNING (0 until then)."""
    message: str = ""
    """Why the last incarnation ended (e.g. ``OOM: ...``, ``agent lost``) or why FAILED."""
    reason: str = ""
    """Mesos reason code of the last worker end when known
    (``REASON_CONTAINER_LIMITATION_MEMORY`` for an OOM kill)."""
    supervisor: str = ""
    """Supervision group id when the actor is a child of ``Supervise``."""


@dataclass(frozen=True, slots=True)
class WaitActor:
    """Script -> framework (ask): reply ``ActorInfo`` once the actor is RUNNING with
    ``incarnation >= min_incarnation``, or at once if it is STOPPED/FAILED, or its
    current state after ``timeout`` seconds (the caller decides to ask again)."""

    actor_id: str
    min_incarnation: int = 1
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class GetActor:
    """Script -> framework (ask): the live actor called ``name``; reply ``ActorInfo``,
    error type ``ActorNotFound`` if none. ``actor_id`` instead of a name also works."""

    name: str = ""
    namespace: str = "default"
    actor_id: str = ""


@dataclass(frozen=True, slots=True)
class KillActor:
    """Script/CLI -> framework (ask): stop it for good (no restart, name freed).
    Reply the final ``ActorInfo`` (STOPPED)."""

    actor_id: str = ""
    name: str = ""
    namespace: str = "default"


@dataclass(frozen=True, slots=True)
class ListActors:
    """-> framework (ask): reply ``ActorList``. Empty filters match everything."""

    namespace: str = ""
    owner: str = ""
    include_stopped: bool = False


@dataclass(frozen=True, slots=True)
class ActorList:
    actors: list[ActorInfo]


@dataclass(frozen=True, slots=True)
class WatchActors:
    """Script -> framework (tell): send ``ActorEvent`` to ``subscriber`` (an actor
    address) whenever one of ``actor_ids`` changes state (restart, re-placement,
    stop). Re-sent after a leader change; the framework answers each with the
    current ``ActorEvent`` of every listed actor."""

    subscriber: str
    actor_ids: list[str]


@dataclass(frozen=True, slots=True)
class UnwatchActors:
    subscriber: str
    actor_ids: list[str]


@dataclass(frozen=True, slots=True)
class ActorEvent:
    """Framework -> subscriber (tell): ``info`` is the actor's new state."""

    info: ActorInfo


@dataclass(frozen=True, slots=True)
class OwnerGone:
    """Script -> framework (tell) on ``cluster.close()``: stop ``owner``'s owned actors
    now (the framework also does it when the owner's node misses heartbeats)."""

    owner: str


@dataclass(frozen=True, slots=True)
class Supervise:
    """Script -> framework (ask): an OTP supervisor over ``children`` (spawned in order,
    possibly on different agents). Restarts follow ``strategy`` within ``intensity``
    restarts per ``period`` seconds; past it every child is stopped and the group
    FAILED. Reply ``SupervisionInfo``."""

    strategy: str
    children: list[SpawnActor]
    intensity: int = 3
    period: float = 5.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.strategy not in SUPERVISE_STRATEGIES:
            raise ValueError(f"strategy: {self.strategy!r} is not one of {SUPERVISE_STRATEGIES}")
        if self.intensity < 0:
            raise ValueError(f"intensity: {self.intensity!r} must be >= 0")
        if not self.period > 0:
            raise ValueError(f"period: {self.period!r} must be > 0")
        if not self.children:
            raise ValueError("children: a supervisor needs at least one child")


@dataclass(frozen=True, slots=True)
class SupervisionInfo:
    group_id: str
    strategy: str
    state: str
    """RUNNING | FAILED | STOPPED."""
    children: list[ActorInfo]
    message: str = ""


# -- code shipping ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PutWorkingDir:
    """Script -> framework (ask): store a packed working dir (``tar.gz``), content
    addressed. Reply the sha256 hex (str). The framework serves it to workers."""

    sha256: str
    data: bytes


@dataclass(frozen=True, slots=True)
class GetWorkingDir:
    """Worker -> framework (ask): reply the ``tar.gz`` bytes of ``sha256``."""

    sha256: str


# -- worker protocol ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterWorker:
    """Worker -> framework (tell), once its node listens, and again (``ready=True``)
    after every leader change. The framework answers with a ``WorkerAssignment`` told
    to ``control`` (at once, or later for a warm worker registered with
    ``actor_id=""``), or ``StopWorker`` if this incarnation is no longer wanted."""

    actor_id: str
    """"" for a warm worker waiting for any actor."""
    incarnation: int
    address: str
    """The worker's call address (``tcp://host:port/actor``)."""
    control: str
    """The worker's control address (``tcp://host:port/worker``)."""
    pid: int
    task_id: str = ""
    ready: bool = False
    """Already serving this actor (re-registration after a failover)."""


@dataclass(frozen=True, slots=True)
class WorkerAssignment:
    """Framework -> worker control (tell): build this actor."""

    actor_id: str
    incarnation: int
    spec: ActorSpec
    name: str
    namespace: str
    checkpoint: bytes | None = None
    """The last saved checkpoint, given to ``__restore__`` instead of ``__init__``."""
    max_checkpoint_bytes: int = 1 << 20


@dataclass(frozen=True, slots=True)
class WorkerReady:
    """Worker -> framework (tell): the instance is built; serve calls at ``address``."""

    actor_id: str
    incarnation: int
    address: str


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    """Worker -> framework (tell): the actor could not be built (class not importable
    or unpicklable, ``__init__``/``__restore__`` raised). ``permanent``: retrying
    cannot help (bad class): the framework marks the actor FAILED, nothing is left
    running. The worker exits after sending it."""

    actor_id: str
    incarnation: int
    message: str
    traceback: str = ""
    permanent: bool = True


@dataclass(frozen=True, slots=True)
class SaveCheckpoint:
    """Worker -> framework (ask): store ``data`` (the pickled ``__checkpoint__()``) for
    ``actor_id``; ``seq`` grows per incarnation. Reply ``CheckpointSaved``; error
    ``ValueError`` if larger than the framework's bound."""

    actor_id: str
    incarnation: int
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CheckpointSaved:
    actor_id: str
    seq: int
    size: int


@dataclass(frozen=True, slots=True)
class StopWorker:
    """Framework -> worker (tell): exit now (killed, owner gone, superseded)."""

    actor_id: str
    reason: str = "killed"


@dataclass(frozen=True, slots=True)
class PingWorker:
    """Framework -> worker control (ask): a liveness probe faster than the transport's
    5 s heartbeat timeout (agent loss re-placement). Reply ``WorkerStatus``."""

    actor_id: str = ""


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    actor_id: str
    incarnation: int
    ready: bool
    calls: int
    """Calls served by this incarnation (a rate for Prometheus)."""


# -- calls (script -> worker, direct) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorCall:
    """Caller -> worker (ask). Reply: ``bytes`` (pickled result) or ``CallFailed``.
    A worker hosting another actor id answers ``CallFailed(type_name="WrongActor")``."""

    actor_id: str
    method: str
    payload: bytes
    """pickle of ``(args, kwargs)``."""


@dataclass(frozen=True, slots=True)
class ActorTell:
    """Caller -> worker (tell): one-way call; an exception is logged by the worker."""

    actor_id: str
    method: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The method raised: its type, message, remote traceback text, and the pickled
    exception when it pickles (so the caller can re-raise the same type)."""

    type_name: str
    message: str
    traceback: str = ""
    exc_blob: bytes = b""


ACTOR_RECORDS: tuple[type, ...] = (
    ActorSpec,
    SpawnActor,
    ActorInfo,
    WaitActor,
    GetActor,
    KillActor,
    ListActors,
    ActorList,
    WatchActors,
    UnwatchActors,
    ActorEvent,
    OwnerGone,
    Supervise,
    SupervisionInfo,
    PutWorkingDir,
    GetWorkingDir,
    RegisterWorker,
    WorkerAssignment,
    WorkerReady,
    WorkerFailed,
    SaveCheckpoint,
    CheckpointSaved,
    StopWorker,
    PingWorker,
    WorkerStatus,
    ActorCall,
    ActorTell,
    CallFailed,
)

for _cls in ACTOR_RECORDS:
    register_message(_cls, name=f"runtime.{_cls.__name__}")
