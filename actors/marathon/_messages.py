"""What goes into ``MarathonCore.handle`` (events) and what comes out (effects).

Every record is frozen: the core decides, the actor shell (``_actor.py``) carries the
effects out IN ORDER. Ordering contract (the master's, ``actors/master/_master_core.py``):

* a store effect (``Persist*``/``Delete*``) comes before anything that tells the world
  about what it records: an instance record is written before its task is launched, a
  deployment, its versions and the root are written before the HTTP answer;
* a batch that must not go on unless its store effects succeeded ends with
  ``AwaitStored``: the shell then feeds ``Stored()`` back at once (the core carries on:
  commits the change, launches, replies), or ``StoreFailed(error)`` when one of them
  raised (the shell skips the rest of the batch; the core answers the error, declines
  the offers, keeps the records dirty...). Nothing else is handled in between;
* a store effect marked ``best_effort`` may fail alone: the shell logs it and goes on
  (deployment progress is re-derived after a failover anyway);
* status updates are acknowledged once handled, without waiting for their instance
  records: those are written in one batch per tick (writing every update would cost a
  ZooKeeper write of the app's whole instance table each time), and a new leader
  re-learns anything newer from the reconciliation it starts with.

No I/O, no clock and no threads here: time comes in as ``now`` (monotonic, for delays)
and ``wall`` (epoch seconds, for what people read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p

from ._ports import DEFAULT_PORT_RANGE

MARATHON_ACTOR = "marathon"
"""Registered name of the Marathon actor on the leading master's node."""

MARATHON_VERSION = "1.11.0-pydcos"
FAILOVER_TIMEOUT = 604800.0
"""Marathon's default framework failover timeout (one week)."""


@dataclass
class MarathonConfig:
    """Tunables of the Marathon actor (Marathon's command-line flags, dev-sized)."""

    tick_interval: float = 0.25
    """Housekeeping period: backoff expiry, unreachable instances, kill retries, flush."""
    decline_refuse_seconds: float = 5.0
    """Filter on an offer declined while launches wait (it may fit after a change)."""
    idle_refuse_seconds: float = 120.0
    """Filter on an offer declined with nothing to launch (Marathon's 120 s default)."""
    min_revive_interval: float = 5.0
    """Seconds between two revives for new work while not suppressed (Marathon's
    ``--min_revive_offers_interval``, 5 s): a revive clears every decline filter, so each
    one brings back the offers of every agent. Coming out of suppression is not held
    back: nothing else would bring offers."""
    reconcile_interval: float = 600.0
    """Seconds between implicit reconciliations (Marathon's ``--reconciliation_interval``,
    10 minutes). Each asks the master for the state of every task: at 100,000 tasks,
    100,000 status updates more for the master and Marathon, which every 60 s (the
    earlier setting) fell in the middle of a 10k/100k launch. A new subscription
    reconciles at once, whatever this is."""
    kill_retry_seconds: float = 10.0
    """Resend a kill when the task is still alive after this long."""
    local_port_min: int = DEFAULT_PORT_RANGE[0]
    """Lowest service port Marathon assigns (Marathon's ``--local_port_min``)."""
    local_port_max: int = DEFAULT_PORT_RANGE[1]
    """Highest service port Marathon assigns (Marathon's ``--local_port_max``)."""
    ask_timeout: float = 10.0
    adoption_timeout: float = 15.0
    """After an election, reads wait (503, Retry-After) until every loaded task not
    stored as running has been heard of (reconciled), at most this long."""
    failures_to_quarantine: int = 3
    """Consecutive converge failures after which an app is quarantined."""


# ------------------------------------------------------------------------- the API


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """HTTP layer -> actor (local ask): one REST operation; the answer is an ApiReply."""

    op: str
    """Operation name (``create_app``, ``list_tasks``...)."""
    app_id: str | None = None
    """The path id of the app or group the operation is about, if any."""
    params: dict[str, Any] = field(default_factory=dict)
    """Query parameters and path parts (``force``, ``embed``, ``task_id``...)."""
    body: Any = None
    """The parsed JSON request body, if any."""


@dataclass(frozen=True, slots=True)
class ApiReply:
    """Actor -> HTTP layer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    encode: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)
    """``json.dumps(body).encode()``, faster (tasks' cached texts), safe to call off the
    actor's thread; None: encode ``body``. Lists of 100,000 tasks take seconds otherwise."""


# -------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Load:
    """The actor started: everything stored under /marathon, as ``MarathonStore.load``."""

    data: dict[str, Any]
    znode_prefix: str = "/marathon"
    """Where the store keeps its records (quarantine reports name the znode)."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The master (re)registered us as a framework."""

    framework_id: str
    master_id: str


@dataclass(frozen=True, slots=True)
class Offers:
    """Resource offers from the master."""

    offers: list[p.Offer]


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The framework lost its master (a new leader is being elected)."""


@dataclass(frozen=True, slots=True)
class FrameworkError:
    """The master refused one of our calls."""

    message: str


@dataclass(frozen=True, slots=True)
class StatusUpdates:
    """Status updates that reached the actor one behind the other, handled as one event
    (each as a lone ``p.StatusUpdate`` would be; the deployments are looked at once
    after all of them). At 100,000 tasks they arrive in bursts of thousands, and looking
    at the deployments after each one kept the acknowledgements seconds behind."""

    updates: tuple[p.StatusUpdate, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """Housekeeping period (``MarathonConfig.tick_interval``)."""


@dataclass(frozen=True, slots=True)
class Stopping:
    """The actor stops (leadership lost): write what is still dirty, best effort."""


@dataclass(frozen=True, slots=True)
class Stored:
    """Fed back by the shell: every store effect up to ``AwaitStored`` succeeded."""


@dataclass(frozen=True, slots=True)
class StoreFailed:
    """Fed back by the shell: a store effect before ``AwaitStored`` raised ``error``."""

    error: Exception
    transient: bool = False
    """ZooKeeper did not answer (a retry may succeed)."""
    too_large: tuple[int, int] | None = None
    """(size, limit): the document exceeds the store's limit; nothing was written."""


@dataclass(frozen=True, slots=True)
class ReadinessResult:
    """Fed back by the shell: the answer to ``CheckReadiness`` ``seq`` (``error`` when
    the request failed: refused, timed out...; then ``status`` is 0)."""

    task_id: str
    seq: int
    status: int
    content_type: str = ""
    body: str = ""
    error: str = ""


Event = (
    ApiRequest
    | Load
    | Subscribed
    | Offers
    | p.StatusUpdate
    | Disconnected
    | FrameworkError
    | Tick
    | Stopping
    | Stored
    | StoreFailed
    | ReadinessResult
)


# ------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class PersistFrameworkId:
    """Store the framework id the master gave us (``/marathon/framework-id``)."""

    framework_id: str


@dataclass(frozen=True, slots=True)
class PersistRoot:
    """Store the root group (``/marathon/root``)."""

    root: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PersistVersions:
    """Store an app's version history (``/marathon/versions/<app>``)."""

    app_id: str
    versions: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class DeleteVersions:
    """Delete an app's version history (the app is gone)."""

    app_id: str


@dataclass(frozen=True, slots=True)
class PersistDeployment:
    """Store a deployment in motion (``/marathon/deployments/<id>``)."""

    deployment_id: str
    doc: dict[str, Any]
    best_effort: bool = False


@dataclass(frozen=True, slots=True)
class DeleteDeployment:
    """Delete a finished (or cancelled) deployment."""

    deployment_id: str
    best_effort: bool = False


@dataclass(frozen=True, slots=True)
class PersistInstances:
    """Store every instance record of one app (``/marathon/instances/<app>``)."""

    app_id: str
    records: list[dict[str, Any]]
    best_effort: bool = False


@dataclass(frozen=True, slots=True)
class AwaitStored:
    """Last effect of a batch: feed back ``Stored()`` or ``StoreFailed(error)`` now."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Launch ``tasks`` on ``offer_id`` (its instance records are stored already)."""

    offer_id: str
    tasks: list[p.TaskInfo]
    refuse_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class Operate:
    """Accept ``offer_id`` with these operations only (a resident app's RESERVE+CREATE,
    or DESTROY+UNRESERVE of a reservation nobody needs: ``_resident``)."""

    offer_id: str
    operations: list[p.Operation]
    refuse_seconds: float = 0.0
    """0: the rest of the offer (the reservation just made) comes straight back."""
    why: str = ""


@dataclass(frozen=True, slots=True)
class Decline:
    """Decline offers with a filter of ``refuse_seconds``; ``reason`` says why."""

    offer_ids: tuple[str, ...]
    refuse_seconds: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Kill:
    """Ask the master to kill a task."""

    task_id: str


@dataclass(frozen=True, slots=True)
class Revive:
    """Clear our offer filters and un-suppress: there is launch work."""


@dataclass(frozen=True, slots=True)
class Suppress:
    """Stop offers: nothing to launch."""


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Ask the master for the state of these tasks (None: implicit, every task)."""

    task_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Acknowledge a status update (after what it changed is handled and stored)."""

    update: p.StatusUpdate


@dataclass(frozen=True, slots=True)
class Publish:
    """An event on ``/v2/events`` (the bus stamps ``eventType`` and ``timestamp``)."""

    event_type: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the ``ApiRequest`` being handled."""

    reply: ApiReply


@dataclass(frozen=True, slots=True)
class CheckReadiness:
    """GET ``url`` off the actor thread (HTTPS unverified, no redirects followed, at most
    ``timeout`` seconds) and feed back ``ReadinessResult(task_id, seq, ...)``."""

    task_id: str
    check_name: str
    url: str
    timeout: float
    seq: int


StoreEffect = (
    PersistFrameworkId
    | PersistRoot
    | PersistVersions
    | DeleteVersions
    | PersistDeployment
    | DeleteDeployment
    | PersistInstances
)
Effect = (
    StoreEffect
    | AwaitStored
    | Launch
    | Operate
    | Decline
    | Kill
    | Revive
    | Suppress
    | Reconcile
    | Acknowledge
    | Publish
    | Reply
    | CheckReadiness
)
