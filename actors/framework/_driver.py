"""``SchedulerDriver``: Mesos' scheduler driver as an actor.

The driver spawns one actor on the caller's node; the master sends it events (Subscribed,
Offers, Rescind, StatusUpdate, FrameworkError, AgentLost) and it calls the user's
``Scheduler`` callbacks on that actor's thread, one at a time, in arrival order. Driver
calls (accept, decline, kill, ...) are tells to the current leader and may be made from
any thread, callbacks included.

Leader changes: whoever watches the election calls ``driver.master_changed(address)``;
the driver re-subscribes with the framework id it was given, as a Mesos scheduler does
after a master failover. Until ``Subscribed`` arrives it retries the subscription every
``resubscribe_interval`` (the first message may race the election).

Status updates are acknowledged automatically after ``status_update`` returns, unless
``auto_acknowledge=False``, in which case call ``driver.acknowledge(update)``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from actors import protocol as p
from runtime import Actor, ActorRef, Node

log = logging.getLogger("actors.framework")


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
class _MasterChanged:
    address: str | None


@dataclass(frozen=True, slots=True)
class _Resubscribe:
    pass


class _FrameworkActor(Actor):
    def __init__(self, driver: SchedulerDriver) -> None:
        super().__init__()
        self.driver = driver

    def started(self) -> None:
        self.send_interval(self.driver.resubscribe_interval, _Resubscribe())
        if self.driver._master_address:
            self.driver._subscribe()

    def receive(self, message: Any) -> Any:
        d = self.driver
        s = d.scheduler
        if isinstance(message, p.Offers):
            s.resource_offers(d, list(message.offers))
        elif isinstance(message, p.StatusUpdate):
            s.status_update(d, message)
            if d.auto_acknowledge and message.uuid:
                d.acknowledge(message)
        elif isinstance(message, p.Rescind):
            s.offer_rescinded(d, message.offer_id)
        elif isinstance(message, p.Subscribed):
            first = d.framework_id is None
            d.framework_id = message.framework_id
            d.master_id = message.master_id
            d._subscribed.set()
            if first:
                s.registered(d, message.framework_id, message.master_id)
            else:
                s.reregistered(d, message.framework_id, message.master_id)
        elif isinstance(message, p.FrameworkError):
            s.error(d, message.message)
        elif isinstance(message, p.AgentLost):
            s.agent_lost(d, message.agent_id)
        elif isinstance(message, p.MasterChanged):
            # A master announced itself (failover or restart): subscribe again to it.
            if message.address:
                if message.address != d._master_address:
                    d._master_address = message.address
                    d._master_ref = None
                d._subscribed.clear()
                d._subscribe()
        elif isinstance(message, _MasterChanged):
            changed = message.address != d._master_address
            d._master_address = message.address
            if changed:
                d._subscribed.clear()
                d._master_ref = None
                s.disconnected(d)
                if message.address:
                    d._subscribe()
        elif isinstance(message, _Resubscribe):
            if not d._subscribed.is_set() and d._master_address:
                d._subscribe()
        else:
            return super().receive(message)
        return None


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
        self.framework_id: str | None = info.framework_id
        self.master_id: str | None = None
        self.auto_acknowledge = auto_acknowledge
        self.resubscribe_interval = resubscribe_interval
        self.name = name or f"framework-{info.name}-{uuid.uuid4().hex[:8]}"
        self._address = address
        self._resolve = resolve
        self._master_address = master
        self._master_ref: ActorRef | None = None
        self._subscribed = threading.Event()
        self._actor: ActorRef | None = None

    # -- lifecycle ----------------------------------------------------------------

    @property
    def address(self) -> str:
        if self._address is None:
            node_address = getattr(self.node, "address", None)
            if not node_address:
                raise RuntimeError("the node has no transport address; pass address=")
            self._address = f"{node_address}/{self.name}"
        return self._address

    def start(self) -> SchedulerDriver:
        self._actor = self.node.spawn(_FrameworkActor, self, name=self.name)
        return self

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self, failover: bool = False) -> None:
        """Stop the driver; without ``failover`` the framework is torn down (its tasks
        are killed), as Mesos' ``driver.stop()``; with it, the tasks keep running for
        the framework's failover timeout."""
        if not failover and self.framework_id and self._master_address:
            self._tell(p.Teardown(self.framework_id))
        if self._actor is not None:
            self.node.stop(self._actor)
            self._actor = None

    def master_changed(self, address: str | None) -> None:
        """Called by the leader watcher: re-subscribe to the new leader."""
        if self._actor is not None:
            self._actor.tell(_MasterChanged(address))
        else:
            self._master_address = address

    # -- calls --------------------------------------------------------------------

    def _master(self) -> ActorRef | None:
        if self._master_ref is None and self._master_address:
            resolve = self._resolve or self.node.ref
            self._master_ref = resolve(self._master_address)
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
            raise RuntimeError("not subscribed yet: wait for registered() or wait_subscribed()")
        return self.framework_id

    def accept(
        self,
        offer_ids: Sequence[str],
        operations: list[p.Operation],
        refuse_seconds: float = 5.0,
    ) -> None:
        self._tell(p.Accept(self._fid(), list(offer_ids), operations, refuse_seconds))

    def launch(
        self, offer_ids: Sequence[str], tasks: Sequence[p.TaskInfo], refuse_seconds: float = 5.0
    ) -> None:
        """Accept ``offer_ids`` with one LAUNCH of ``tasks`` (Mesos' launchTasks)."""
        self.accept(offer_ids, [p.Operation("LAUNCH", list(tasks))], refuse_seconds)

    def decline(self, offer_ids: Sequence[str], refuse_seconds: float = 5.0) -> None:
        self._tell(p.Decline(self._fid(), list(offer_ids), refuse_seconds))

    def kill(self, task_id: str) -> None:
        self._tell(p.Kill(self._fid(), task_id))

    def reconcile(self, task_ids: Sequence[str] = ()) -> None:
        """Explicit for the given ids; implicit (all tasks) when empty."""
        self._tell(p.Reconcile(self._fid(), list(task_ids)))

    def revive(self) -> None:
        self._tell(p.Revive(self._fid()))

    def suppress(self) -> None:
        self._tell(p.Suppress(self._fid()))

    def acknowledge(self, update: p.StatusUpdate) -> None:
        if update.uuid:
            self._tell(p.Acknowledge(self._fid(), update.agent_id, update.task_id, update.uuid))
