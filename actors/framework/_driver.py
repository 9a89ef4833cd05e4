"""The scheduler API: Mesos' scheduler driver, with ONE mailbox between master and framework.

```
 master ──Offers/StatusUpdate/Subscribed/...──► owning actor's mailbox
                                                  receive(): driver.handle(msg) -> event
 owning actor's thread ──driver.launch/decline/kill/...──► master   (ref.tell)
 leader watcher ──p.MasterChanged(address)──► owning actor's mailbox
```

``FrameworkDriver`` is not an actor: it is embedded in the actor that owns the framework
(Marathon, Metronome, the ``_FrameworkActor`` behind ``SchedulerDriver``). The master
sends its messages to that actor's own address; its ``receive`` hands each one to
``driver.handle`` and gets back a typed event (``Registered``, ``Disconnected``, or the
protocol's ``Offers``/``Rescind``/``StatusUpdate``/``AgentLost``/``FrameworkError``) or
None. Outbound calls (accept, decline, kill, ...) are made on the same thread. So every
field of the driver is read and written by one thread only, and an offer crosses one
mailbox, not two.

Leader changes arrive as ``p.MasterChanged(address)`` in the same mailbox, from the
leader watcher or from a restarted master announcing itself: the driver re-subscribes
with the framework id it was given, as a Mesos scheduler does after a master failover
(a new address is also reported as ``Disconnected``). Until ``Subscribed`` arrives it
retries every ``resubscribe_interval`` (the first message may race the election).

``Scheduler``/``SchedulerDriver`` keep Mesos' callback API for scripts on top of it:
callbacks run on the driver's actor thread one at a time; driver calls may be made from
any thread (from another thread they are handed to that actor). Status updates are
acknowledged after ``status_update`` returns unless ``auto_acknowledge=False``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from actors import protocol as p
from actors.framework._errors import DriverError, InvalidSpec
from runtime import Actor, ActorRef, Node

log = logging.getLogger("actors.framework")


# ------------------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class Registered:
    """The master accepted the subscription."""

    framework_id: str
    """The framework's id (the one given back after a failover)."""
    master_id: str
    """The id of the master that accepted it."""
    reregistered: bool
    """False only for the very first subscription of a new framework."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The leading master went away (or another one leads); re-subscription is under way."""


FrameworkEvent: TypeAlias = (
    Registered
    | Disconnected
    | p.Offers
    | p.Rescind
    | p.StatusUpdate
    | p.AgentLost
    | p.FrameworkError
)
"""What ``FrameworkDriver.handle`` hands the owning actor."""

_PASSED_ON = (p.Offers, p.Rescind, p.StatusUpdate, p.AgentLost, p.FrameworkError)


@dataclass(frozen=True, slots=True)
class _Resubscribe:
    """The driver's retry tick (a timer of the owning actor)."""


_HANDLED = (*_PASSED_ON, p.Subscribed, p.MasterChanged, _Resubscribe)


# ------------------------------------------------------------------------------ driver


class FrameworkDriver:
    """Mesos' scheduler driver, embedded in the actor that owns the framework.

    Every method must be called on that actor's thread: ``start`` from its
    ``started()``, ``handles``/``handle`` from its ``receive``, calls from its handlers.
    """

    def __init__(
        self,
        info: p.FrameworkInfo,
        *,
        master: str | None = None,
        address: str | None = None,
        resolve: Callable[[str], ActorRef] | None = None,
        resubscribe_interval: float = 1.0,
        pinned: bool = False,
    ) -> None:
        """``master`` is the leader's master-actor address (``tcp://host:port/master``),
        or None until a ``p.MasterChanged`` says. ``address`` is where the master reaches
        the owning actor (default: its node's address and its name); ``resolve`` turns
        an address into a ref (default: the node's).

        ``pinned``: a framework that runs inside a master as its leader service
        (Marathon, Metronome, cluster actors) only ever talks to that master. When
        another master leads, this one's services are about to stop: following the new
        leader would subscribe a deposed copy of the framework there and take the
        framework's offers away from the new leader's own copy (seen in the soak: a
        leader cut off by a partition came back and its Marathon re-subscribed)."""
        if not isinstance(info, p.FrameworkInfo):
            raise InvalidSpec(f"info: {info!r:.80} is not a FrameworkInfo")
        if not resubscribe_interval > 0:
            raise InvalidSpec(f"resubscribe_interval: {resubscribe_interval!r} must be > 0")
        self.info = info
        self.framework_id: str | None = info.framework_id
        self.master_id: str | None = None
        self.master_address = master
        self.subscribed = False
        self.resubscribe_interval = resubscribe_interval
        self.pinned = pinned
        self._address = address
        self._resolve = resolve
        self._master_ref: ActorRef | None = None

    # -- lifecycle (owning actor's thread) ----------------------------------------

    @property
    def address(self) -> str:
        if self._address is None:
            raise DriverError("the driver has no address yet: call start(owner) first")
        return self._address

    def start(self, owner: Actor) -> None:
        """From the owner's ``started()``: learn its address, start the retry timer and
        subscribe to the master, if one is known."""
        if self._address is None:
            node_address = getattr(owner.node, "address", None)
            if not node_address or not owner.name:
                raise DriverError(
                    f"{owner}: no transport address or no registered name; pass address="
                )
            self._address = f"{node_address}/{owner.name}"
        if self._resolve is None:
            self._resolve = owner.node.ref
        owner.send_interval(self.resubscribe_interval, _Resubscribe())
        if self.master_address:
            self._subscribe()

    def handles(self, message: Any) -> bool:
        """Is ``message`` the driver's (from the master, the leader watcher or its timer)?"""
        return isinstance(message, _HANDLED)

    def handle(self, message: Any) -> FrameworkEvent | None:
        """One of the driver's messages: update the subscription, return the event for
        the owner (None when there is nothing for it to do)."""
        if isinstance(message, _PASSED_ON):
            return message
        if isinstance(message, p.Subscribed):
            reregistered = self.framework_id is not None
            self.framework_id = message.framework_id
            self.master_id = message.master_id
            self.subscribed = True
            return Registered(message.framework_id, message.master_id, reregistered)
        if isinstance(message, p.MasterChanged):
            return self._master_changed(message.address)
        if isinstance(message, _Resubscribe):
            if not self.subscribed and self.master_address:
                self._subscribe()
            return None
        raise DriverError(f"not a framework driver message: {type(message).__name__}")

    def _master_changed(self, address: str | None) -> FrameworkEvent | None:
        if self.pinned and self.master_address and address != self.master_address:
            # Another master leads: this master's leader services stop soon; never
            # subscribe this copy of the framework to the new leader.
            log.info(
                "framework %s: %s leads now; staying with its own master %s",
                self.info.name,
                address,
                self.master_address,
            )
            was = self.subscribed
            self.subscribed = False
            return Disconnected() if was else None
        moved = address != self.master_address
        if moved:
            self.master_address = address
            self._master_ref = None
        self.subscribed = False
        if address:
            self._subscribe()  # a restarted master at the same address: subscribe again
        return Disconnected() if moved else None

    # -- calls (owning actor's thread) --------------------------------------------

    def _master(self) -> ActorRef | None:
        if self._master_ref is None and self.master_address:
            resolve = self._resolve
            if resolve is None:
                raise DriverError("the driver is not started: call start(owner) first")
            self._master_ref = resolve(self.master_address)
        return self._master_ref

    def _tell(self, message: Any) -> None:
        ref = self._master()
        if ref is None:
            log.warning(
                "framework %s: no leading master; dropped %s",
                self.info.name,
                type(message).__name__,
            )
            return
        ref.tell(message)

    def _subscribe(self) -> None:
        info = self.info
        if self.framework_id and info.framework_id != self.framework_id:
            info = p.FrameworkInfo(
                name=info.name,
                roles=list(info.roles),
                failover_timeout=info.failover_timeout,
                framework_id=self.framework_id,
                user=info.user,
                hostname=info.hostname,
                principal=info.principal,
            )
        self._tell(p.Subscribe(info, self.address))

    def _fid(self) -> str:
        if self.framework_id is None:
            raise DriverError("not subscribed yet: wait for Registered")
        return self.framework_id

    def accept(
        self, offer_ids: Sequence[str], operations: list[p.Operation], refuse_seconds: float = 5.0
    ) -> None:
        self._tell(p.Accept(self._fid(), list(offer_ids), operations, refuse_seconds))

    def launch(
        self, offer_ids: Sequence[str], tasks: Sequence[p.TaskInfo], refuse_seconds: float = 5.0
    ) -> None:
        """Accept ``offer_ids`` with one LAUNCH of ``tasks`` (Mesos' launchTasks); tasks
        with a ``group_id`` go in one LAUNCH_GROUP per group (all or none start)."""
        plain = [t for t in tasks if not t.group_id]
        groups: dict[str, list[p.TaskInfo]] = {}
        for t in tasks:
            if t.group_id:
                groups.setdefault(t.group_id, []).append(t)
        ops = [p.Operation("LAUNCH", plain)] if plain or not groups else []
        ops.extend(p.Operation("LAUNCH_GROUP", members) for members in groups.values())
        self.accept(offer_ids, ops, refuse_seconds)

    def decline(
        self, offer_ids: Sequence[str], refuse_seconds: float = 5.0, reason: str = ""
    ) -> None:
        """Decline ``offer_ids``; ``reason`` says why (logs, ``FrameworkHarness``)."""
        if reason:
            log.debug("framework %s declines %s: %s", self.info.name, list(offer_ids), reason)
        self._tell(p.Decline(self._fid(), list(offer_ids), refuse_seconds, reason))

    def kill(self, task_id: str) -> None:
        self._tell(p.Kill(self._fid(), task_id))

    def reconcile(self, task_ids: Sequence[str] = ()) -> None:
        """Explicit for the given ids; implicit (all tasks) when empty."""
        self._tell(p.Reconcile(self._fid(), list(task_ids)))

    def revive(self, roles: Sequence[str] = ()) -> None:
        """Offers again (only for ``roles``, Mesos 1.9+, when given)."""
        self._tell(p.Revive(self._fid(), list(roles)))

    def suppress(self, roles: Sequence[str] = ()) -> None:
        """No offers until revive (only for ``roles``, Mesos 1.9+, when given)."""
        self._tell(p.Suppress(self._fid(), list(roles)))

    def acknowledge(self, update: p.StatusUpdate) -> None:
        if update.uuid:
            self._tell(p.Acknowledge(self._fid(), update.agent_id, update.task_id, update.uuid))

    def teardown(self) -> None:
        """Unregister: the master kills every task of the framework (Mesos' stop())."""
        if self.framework_id and self.master_address:
            self._tell(p.Teardown(self.framework_id))


# ----------------------------------------------------------------- callbacks for scripts


class Scheduler:
    """Override the callbacks you need; each runs on the driver's actor thread."""

    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        """First subscription accepted."""

    def reregistered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        """Subscribed again (after a master failover or a scheduler restart)."""

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        """New offers: accept (launch) or decline each one."""

    def offer_rescinded(self, driver: SchedulerDriver, offer_id: str) -> None:
        """An offer is void; don't use it."""

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        """A task changed state."""

    def agent_lost(self, driver: SchedulerDriver, agent_id: str) -> None:
        """An agent became unreachable."""

    def error(self, driver: SchedulerDriver, message: str) -> None:
        """The master refused a call; ``message`` names the field and value."""

    def disconnected(self, driver: SchedulerDriver) -> None:
        """The leader went away; the driver re-subscribes when a new one appears."""


@dataclass(frozen=True, slots=True)
class _Call:
    """A driver call made off the actor's thread, to be made on it."""

    method: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Seen:
    """What other threads may read of the driver: replaced whole, never mutated."""

    framework_id: str | None
    master_id: str | None


_here = threading.local()
"""On a ``_FrameworkActor``'s thread: ``owner`` is its ``SchedulerDriver``."""


class _FrameworkActor(Actor):
    def __init__(self, facade: SchedulerDriver, driver: FrameworkDriver) -> None:
        super().__init__()
        self.facade = facade
        self.driver = driver

    def started(self) -> None:
        _here.owner = self.facade
        self.driver.start(self)

    def receive(self, message: Any) -> Any:
        if isinstance(message, _Call):
            try:
                getattr(self.driver, message.method)(*message.args)
            except Exception:
                log.exception("framework %s: %s failed", self.driver.info.name, message.method)
            return None
        if not self.driver.handles(message):
            return super().receive(message)
        driver = self.driver
        event = driver.handle(message)
        if driver.subscribed != self.facade.wait_subscribed(0) or (isinstance(event, Registered)):
            seen = _Seen(driver.framework_id, driver.master_id if driver.subscribed else None)
            self.facade._publish(seen, subscribed=driver.subscribed)
        if event is not None:
            self._dispatch(event)
        return None

    def _dispatch(self, event: FrameworkEvent) -> None:
        d, s = self.facade, self.facade.scheduler
        if isinstance(event, p.Offers):
            s.resource_offers(d, list(event.offers))
        elif isinstance(event, p.StatusUpdate):
            s.status_update(d, event)
            if d.auto_acknowledge and event.uuid:
                self.driver.acknowledge(event)
        elif isinstance(event, p.Rescind):
            s.offer_rescinded(d, event.offer_id)
        elif isinstance(event, Registered):
            if event.reregistered:
                s.reregistered(d, event.framework_id, event.master_id)
            else:
                s.registered(d, event.framework_id, event.master_id)
        elif isinstance(event, p.FrameworkError):
            s.error(d, event.message)
        elif isinstance(event, p.AgentLost):
            s.agent_lost(d, event.agent_id)
        elif isinstance(event, Disconnected):
            s.disconnected(d)


class SchedulerDriver:
    """Registers ``scheduler`` as framework ``info`` with the leading master."""

    def __init__(
        self,
        scheduler: Scheduler,
        info: p.FrameworkInfo,
        node: Node,
        *,
        master: str | None = None,
        auto_acknowledge: bool = True,
        resubscribe_interval: float = 1.0,
        name: str | None = None,
        address: str | None = None,
        resolve: Callable[[str], ActorRef] | None = None,
    ) -> None:
        """``master`` is the leader's master-actor address (``tcp://host:port/master``),
        or None until ``master_changed`` tells it. ``address`` is where the master can
        reach this driver's actor; it defaults to the node's own address plus ``name``."""
        self.scheduler = scheduler
        self.info = info
        self.node = node
        self.auto_acknowledge = auto_acknowledge
        self.resubscribe_interval = resubscribe_interval
        self.name = name or f"framework-{info.name}-{uuid.uuid4().hex[:8]}"
        self._address = address
        self._resolve = resolve
        self._master = master
        self._seen = _Seen(info.framework_id, None)
        self._subscribed = threading.Event()
        self._actor: ActorRef | None = None
        self._driver: FrameworkDriver | None = None

    # -- what other threads may read ----------------------------------------------

    @property
    def framework_id(self) -> str | None:
        return self._seen.framework_id

    @property
    def master_id(self) -> str | None:
        return self._seen.master_id

    def _publish(self, seen: _Seen, *, subscribed: bool) -> None:
        self._seen = seen  # one reference swap of an immutable record
        if subscribed:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    # -- lifecycle ----------------------------------------------------------------

    @property
    def address(self) -> str:
        if self._address is None:
            node_address = getattr(self.node, "address", None)
            if not node_address:
                raise DriverError("the node has no transport address; pass address=")
            self._address = f"{node_address}/{self.name}"
        return self._address

    def start(self) -> SchedulerDriver:
        driver = FrameworkDriver(
            self.info,
            master=self._master,
            address=self.address,
            resolve=self._resolve,
            resubscribe_interval=self.resubscribe_interval,
        )
        self._driver = driver  # touched only on the actor's thread (see _call)
        self._actor = self.node.spawn(_FrameworkActor, self, driver, name=self.name)
        return self

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self, failover: bool = False) -> None:
        """Stop the driver; without ``failover`` the framework is torn down (its tasks
        are killed), as Mesos' ``driver.stop()``; with it, the tasks keep running for
        the framework's failover timeout."""
        actor, self._actor = self._actor, None
        if actor is None:
            return
        if not failover:
            self._call("teardown", actor=actor)
        self.node.stop(actor)

    def master_changed(self, address: str | None) -> None:
        """Called by the leader watcher: re-subscribe to the new leader."""
        if self._actor is not None:
            self._actor.tell(p.MasterChanged(address))
        else:
            self._master = address

    # -- calls --------------------------------------------------------------------

    def _call(self, method: str, *args: Any, actor: ActorRef | None = None) -> None:
        """Make the call on the driver's actor thread: at once from a callback (already
        there), else handed to the actor in its mailbox."""
        if getattr(_here, "owner", None) is self and self._driver is not None:
            getattr(self._driver, method)(*args)
            return
        target = actor or self._actor
        if target is None:
            raise DriverError(f"{method}: the driver is not started (or stopped)")
        target.tell(_Call(method, args))

    def _fid(self) -> str:
        fid = self.framework_id
        if fid is None:
            raise DriverError("not subscribed yet: wait for registered() or wait_subscribed()")
        return fid

    def accept(
        self,
        offer_ids: Sequence[str],
        operations: list[p.Operation],
        refuse_seconds: float = 5.0,
    ) -> None:
        self._fid()
        self._call("accept", list(offer_ids), operations, refuse_seconds)

    def launch(
        self, offer_ids: Sequence[str], tasks: Sequence[p.TaskInfo], refuse_seconds: float = 5.0
    ) -> None:
        """Mesos' launchTasks (see ``FrameworkDriver.launch``)."""
        self._fid()
        self._call("launch", list(offer_ids), list(tasks), refuse_seconds)

    def decline(
        self, offer_ids: Sequence[str], refuse_seconds: float = 5.0, reason: str = ""
    ) -> None:
        self._fid()
        self._call("decline", list(offer_ids), refuse_seconds, reason)

    def kill(self, task_id: str) -> None:
        self._fid()
        self._call("kill", task_id)

    def reconcile(self, task_ids: Sequence[str] = ()) -> None:
        """Explicit for the given ids; implicit (all tasks) when empty."""
        self._fid()
        self._call("reconcile", list(task_ids))

    def revive(self, roles: Sequence[str] = ()) -> None:
        self._fid()
        self._call("revive", list(roles))

    def suppress(self, roles: Sequence[str] = ()) -> None:
        self._fid()
        self._call("suppress", list(roles))

    def acknowledge(self, update: p.StatusUpdate) -> None:
        if update.uuid:
            self._fid()
            self._call("acknowledge", update)
