"""The Marathon actor: the shell around ``MarathonCore`` on the leading master.

```
  HTTP (/marathon/v2/...) --ApiRequest (ask)--> MarathonActor <-- master: Offers, updates,
                                                     |            Subscribed (one hop, read
                 core.handle(event, now, wall) ------+            by its FrameworkDriver)
                                                     | effects, in order
        MarathonStore (ZooKeeper) <-- Persist*/Delete* (then Stored / StoreFailed back)
        FrameworkDriver --> master: Launch, Decline, Kill, Revive, Suppress, Reconcile, Ack
        EventBus <-- Publish                         HTTP <-- Reply
```

The master reaches this actor directly: its ``FrameworkDriver`` (``actors.framework``)
is embedded, so offers and status updates cross one mailbox and the driver's fields are
only touched on this thread. Every decision is the core's (``_core.py`` and the layers
under it); this shell only turns messages into events, stamps them with the injected
clock, and carries the effects out in the order given (the ordering contract is in
``_messages.py``): a store effect that raises ends its batch and goes back to the core
as ``StoreFailed`` (unless it was ``best_effort``: then it is logged); an
``AwaitStored`` goes back as ``Stored``.
All of it runs on the actor's thread; the HTTP layer only asks (from an executor).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import queue
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import KazooException

from actors import protocol as p
from actors.framework import Disconnected as DriverDisconnected
from actors.framework import FrameworkDriver, Registered
from runtime import Actor
from zk import ValueTooLarge, ZkError

from . import _resident
from ._core import MarathonCore
from ._events import EventBus
from ._instances import Instance
from ._messages import (
    FAILOVER_TIMEOUT,
    MARATHON_ACTOR,
    Acknowledge,
    ApiReply,
    ApiRequest,
    AwaitStored,
    CheckReadiness,
    Decline,
    DeleteDeployment,
    DeleteVersions,
    Disconnected,
    Effect,
    FrameworkError,
    Kill,
    Launch,
    Load,
    MarathonConfig,
    Offers,
    Operate,
    PersistDeployment,
    PersistFrameworkId,
    PersistInstances,
    PersistRoot,
    PersistVersions,
    Publish,
    ReadinessResult,
    Reconcile,
    Reply,
    Revive,
    StatusUpdates,
    Stopping,
    Stored,
    StoreFailed,
    Subscribed,
    Suppress,
    Tick,
)
from ._quarantine import QuarantineKeepingStore
from ._store import MarathonStore

__all__ = [
    "MARATHON_ACTOR",
    "ApiReply",
    "ApiRequest",
    "Instance",
    "MarathonActor",
    "MarathonConfig",
]

log = logging.getLogger("actors.marathon")

SLOW_START = 2.0
"""Seconds of store read and state build above which the start is logged as a warning."""

UPDATE_BATCH = 1000
"""Status updates queued one behind the other handled as one core event, at most."""

OFFER_BATCH = 50
"""Offer messages queued one behind the other matched as one event, at most."""

_STORE_EFFECTS = (
    PersistFrameworkId,
    PersistRoot,
    PersistVersions,
    DeleteVersions,
    PersistDeployment,
    DeleteDeployment,
    PersistInstances,
)


def _joins(effect: Any) -> bool:
    """Whether ``effect`` may share one store write with its neighbours of this kind: a
    change's deployment, versions and root (not a best-effort one: its failure is only
    logged, where theirs fails the batch)."""
    return isinstance(effect, PersistDeployment | PersistVersions | PersistRoot) and not getattr(
        effect, "best_effort", False
    )


class MarathonActor(Actor):
    """Leader-only: carries out what ``MarathonCore`` decides (store, driver, bus, HTTP)."""

    urgent = frozenset(
        {ApiRequest, p.Offers, p.Rescind, p.Subscribed, p.MasterChanged, p.FrameworkError}
    )
    """Served before the status updates already queued (taking turns with them): at
    100,000 tasks tens of thousands of updates queue up at the peak of a launch, and an
    app's POST waited behind them up to 16 s, the offers that launch its tasks as long.
    An update and an offer are independent (an offer with the resources of a task whose
    end is still queued only finds that task counted a little longer); the driver's
    own messages (subscription, master changes) keep their order with the offers."""

    start_timeout = 120.0
    """``started()`` loads every app and instance from ZooKeeper while a new leader also
    takes in the agents' re-registrations: at 5,000 agents / 50,000 tasks it took over
    the runtime's 5 s default, the start failed and the new leader never ran Marathon."""

    def __init__(
        self,
        store: MarathonStore,
        bus: EventBus,
        *,
        master_address: str,
        hostname: str = "localhost",
        http_url: Callable[[], str] | None = None,
        config: MarathonConfig | None = None,
        driver_factory: Callable[[p.FrameworkInfo], FrameworkDriver] | None = None,
        core_factory: Callable[..., MarathonCore] = MarathonCore,
        pin_master: bool = False,
    ) -> None:
        super().__init__()
        self.pin_master = pin_master
        """Inside a master (its leader service): talk to that master only, never follow
        another leader (``FrameworkDriver(pinned=True)``)."""
        self.config = config or MarathonConfig()
        self.core = core_factory(self.config, master_address=master_address, hostname=hostname)
        # Writes keep the records the core quarantined (it owns ``core.q``).
        self.store = QuarantineKeepingStore(store, self.core.q)
        self.bus = bus
        self.master_address = master_address
        self.hostname = hostname
        self.http_url = http_url or (lambda: "")
        self._driver_factory = driver_factory
        self.driver: FrameworkDriver | None = None
        self._checks: _CheckPool | None = None
        """Runs readiness checks off the actor thread (created at the first one)."""

    # ------------------------------------------------------------------ lifecycle

    def started(self) -> None:
        self.bus.wall = self.clock.wall  # event timestamps from this actor's wall clock
        t0 = self.clock.now()
        data = self.store.load()  # ZooKeeper errors raise: the supervisor retries
        t1 = self.clock.now()
        self._feed(Load(data, self._znode_prefix()))
        # A new leader's start, timed (issue 29: at 5k agents / 50k tasks it was most
        # of the time from the election to the first change served); a slow one is a
        # warning, so that it shows in a cluster logging warnings only.
        t2 = self.clock.now()
        note = getattr(self.store, "load_note", "")
        log.log(
            logging.WARNING if t2 - t0 >= SLOW_START else logging.INFO,
            "marathon: started in %.2f s: store read in %.2f s%s, state of %d app(s) and "
            "%d instance(s) built in %.2f s",
            t2 - t0,
            t1 - t0,
            f" ({note})" if isinstance(note, str) and note else "",
            len(self.core.apps),
            len(self.core.instances),
            t2 - t1,
        )
        info = p.FrameworkInfo(
            name="marathon",
            failover_timeout=FAILOVER_TIMEOUT,
            framework_id=self.core.framework_id,
            hostname=self.hostname,
            roles=["*", _resident.ROLE],  # "marathon": resident apps' reservations
        )
        if self._driver_factory is not None:
            self.driver = self._driver_factory(info)
        else:
            self.driver = FrameworkDriver(info, master=self.master_address, pinned=self.pin_master)
        self.driver.start(self)  # the master talks to this actor (its node address + name)
        self.send_interval(self.config.tick_interval, Tick())

    def stopped(self) -> None:
        self.bus.close_all()
        try:
            self._feed(Stopping())
        except Exception:
            pass
        # No teardown: the tasks keep running for the next leader's Marathon, which
        # subscribes with the same framework id (failover_timeout).
        self.driver = None
        if self._checks is not None:
            self._checks.close()
            self._checks = None

    def _znode_prefix(self) -> str:
        try:
            return str(getattr(self.store, "path")("root")).removesuffix("/root")  # noqa: B009
        except Exception:  # not every store has paths
            return "/marathon"

    # -------------------------------------------------------------------- events

    def receive(self, message: Any) -> Any:
        """One message; whatever goes wrong handling it is logged and counted, and
        never stops the actor (a crash loop would take the leader's Marathon down)."""
        if isinstance(message, ApiRequest):
            self.core.http_url = self.http_url()
            self.core.subscribers = self.bus.subscriber_count
            return self._feed(message)
        if type(message) is p.StatusUpdate:
            # A burst of updates is one core event (converged once, not after each).
            more = self.take_queued(p.StatusUpdate, UPDATE_BATCH - 1)
            if more:
                message = StatusUpdates((message, *more))
        elif type(message) is p.Offers and self.driver is not None:
            # Offers queued one behind the other are matched together: one write of
            # each app's new instance records before their launch, not one per batch.
            more = self.take_queued(p.Offers, OFFER_BATCH - 1)
            message = Offers([o for m in (message, *more) for o in m.offers])
        elif self.driver is not None and self.driver.handles(message):
            message = _core_event(self.driver.handle(message))
            if message is None:
                return None
        elif not self.core.handles(message):
            return super().receive(message)
        try:
            self._feed(message)
        except Exception:
            self.core.counters["handler_errors"] += 1
            log.exception("marathon: handling %s failed; carrying on", type(message).__name__)
        return None

    def _feed(self, event: Any) -> ApiReply | None:
        """Hand ``event`` to the core and carry out its effects; feed ``Stored`` /
        ``StoreFailed`` back when a batch awaits the store. Returns the API reply."""
        reply: ApiReply | None = None
        batch = self.core.handle(event, self.clock.now(), self.clock.wall())
        while batch:
            follow: Stored | StoreFailed | None = None
            i = 0
            while i < len(batch):
                effect = batch[i]
                if isinstance(effect, AwaitStored):
                    follow = Stored()
                    break
                if isinstance(effect, Reply):
                    reply = effect.reply
                    i += 1
                    continue
                run: list[Effect] = [effect]
                while _joins(effect) and i + len(run) < len(batch) and _joins(batch[i + len(run)]):
                    run.append(batch[i + len(run)])
                i += len(run)
                try:
                    if len(run) == 1:
                        self._carry_out(effect)
                    else:  # one write for the deployment, versions and root of a change
                        with self._together():
                            for e in run:
                                self._carry_out(e)
                except Exception as exc:
                    if any(
                        isinstance(e, _STORE_EFFECTS) and not getattr(e, "best_effort", False)
                        for e in run
                    ):
                        follow = _store_failed(exc)
                        break
                    self.core.counters["effect_errors"] += 1
                    log.warning("marathon: %s failed: %s", type(effect).__name__, exc)
            if follow is None:
                break
            batch = self.core.handle(follow, self.clock.now(), self.clock.wall())
        return reply

    def _together(self) -> Any:
        """The store's ``together`` (one write for several documents), if it has one."""
        together = getattr(self.store, "together", None)
        return together() if together is not None else contextlib.nullcontext()

    def _carry_out(self, e: Effect) -> None:
        store, driver = self.store, self.driver
        if isinstance(e, Publish):
            self.bus.publish(e.event_type, **e.fields)
        elif isinstance(e, PersistInstances):
            store.save_instances(e.app_id, e.records)
        elif isinstance(e, PersistRoot):
            store.save_root(e.root)
        elif isinstance(e, PersistVersions):
            store.save_versions(e.app_id, e.versions)
        elif isinstance(e, DeleteVersions):
            store.delete_versions(e.app_id)
        elif isinstance(e, PersistDeployment):
            store.save_deployment(e.deployment_id, e.doc)
        elif isinstance(e, DeleteDeployment):
            store.delete_deployment(e.deployment_id)
        elif isinstance(e, PersistFrameworkId):
            store.save_framework_id(e.framework_id)
        elif isinstance(e, CheckReadiness):
            if self._checks is None:
                self._checks = _CheckPool(self._check_readiness)
            self._checks.put(e)
        elif driver is None:
            return  # not started yet, or stopped: the next leader's Marathon does it
        elif isinstance(e, Launch):
            driver.launch([e.offer_id], e.tasks, refuse_seconds=e.refuse_seconds)
        elif isinstance(e, Operate):  # a resident app's RESERVE+CREATE or DESTROY+UNRESERVE
            driver.accept([e.offer_id], e.operations, refuse_seconds=e.refuse_seconds)
        elif isinstance(e, Decline):
            driver.decline(list(e.offer_ids), e.refuse_seconds, e.reason)
        elif isinstance(e, Kill):
            driver.kill(e.task_id)
        elif isinstance(e, Acknowledge):
            try:
                driver.acknowledge(e.update)
            except RuntimeError:
                pass
        elif isinstance(e, Reconcile):
            if e.task_ids is None:
                driver.reconcile()
            else:
                driver.reconcile(list(e.task_ids))
        elif isinstance(e, Revive):
            driver.revive()
        elif isinstance(e, Suppress):
            driver.suppress()

    def _check_readiness(self, e: CheckReadiness) -> None:
        """On a pool thread: run the check, tell the answer to this actor."""
        try:
            status, content_type, body = http_get(e.url, e.timeout)
            result = ReadinessResult(e.task_id, e.seq, status, content_type, body)
        except Exception as exc:
            result = ReadinessResult(e.task_id, e.seq, 0, error=f"{type(exc).__name__}: {exc}")
        try:
            self.ref.tell(result)
        except Exception:  # the actor is gone: nobody waits for the answer
            pass


_CHECK_THREADS = 4
_BODY_BYTES = 16 * 1024


class _CheckPool:
    """A few daemon threads running readiness checks in order of arrival: a check in
    flight never holds the master process open at exit (an executor's threads would)."""

    def __init__(self, run: Callable[[CheckReadiness], None]) -> None:
        self._run = run
        self._queue: queue.SimpleQueue[CheckReadiness | None] = queue.SimpleQueue()
        for n in range(_CHECK_THREADS):
            threading.Thread(target=self._work, name=f"marathon-readiness-{n}", daemon=True).start()

    def put(self, check: CheckReadiness) -> None:
        self._queue.put(check)

    def close(self) -> None:
        for _ in range(_CHECK_THREADS):
            self._queue.put(None)

    def _work(self) -> None:
        while (check := self._queue.get()) is not None:
            try:
                self._run(check)
            except Exception:  # never lose a worker
                log.exception("marathon: readiness check of %s failed", check.task_id)


def http_get(url: str, timeout: float) -> tuple[int, str, str]:
    """GET ``url`` as Marathon's readiness checker: no redirects followed, HTTPS without
    certificate verification, each socket operation bounded by ``timeout``. Returns
    (status, content type, the body's first 16 KiB decoded as UTF-8)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read(_BODY_BYTES)
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
        return response.status, content_type, body.decode("utf-8", "replace")
    finally:
        conn.close()


def _core_event(event: Any) -> Any:
    """The core's event for what the driver made of a master's message (None: nothing
    for Marathon: a rescinded offer was never used, a lost agent's tasks come back as
    TASK_UNREACHABLE/LOST updates)."""
    if isinstance(event, Registered):
        return Subscribed(event.framework_id, event.master_id)
    if isinstance(event, p.Offers):
        return Offers(list(event.offers))
    if isinstance(event, p.StatusUpdate):
        return event
    if isinstance(event, DriverDisconnected):
        return Disconnected()
    if isinstance(event, p.FrameworkError):
        return FrameworkError(event.message)
    return None


def _store_failed(exc: Exception) -> StoreFailed:
    """The store's error, classified for the core (which imports no ZooKeeper client)."""
    if isinstance(exc, ValueTooLarge):
        return StoreFailed(exc, too_large=(exc.size, exc.limit))
    return StoreFailed(exc, transient=isinstance(exc, ZkError | KazooException))
