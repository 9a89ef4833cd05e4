"""``FrameworkHarness``: a master for testing one framework (Nomad's scheduler Harness).

It plays the master on a test's node: answers the framework's subscription, feeds it
offers and status updates, and records every call it makes (launches, declines with
their reasons, kills, revives, suppresses, reconciliations, acknowledgements,
teardowns), so a test asserts on what a scheduler decided instead of on a cluster.

```
 test ──offer()/update()──► harness master actor ──Offers/StatusUpdate──► framework
 framework ──Subscribe/Accept/Decline/Kill/...──► harness master actor ──► records
```

The framework gets ``harness.address`` as its master and ``harness.resolve`` to turn
addresses into refs (no transport needed: addresses map to actors of the node by their
last segment). Records are read from the test's thread through snapshots; wait for them
with ``runtime.testing.wait_for`` or, on a ``ManualClock``, ``settle(node)``.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actors import protocol as p
from actors.resources import Resources
from runtime import Actor, ActorRef, Node

__all__ = ["Declined", "FrameworkHarness", "Launched"]


@dataclass(frozen=True, slots=True)
class Launched:
    """One LAUNCH the framework accepted an offer with."""

    offer_ids: tuple[str, ...]
    """The offers it used."""
    tasks: tuple[p.TaskInfo, ...]
    """The tasks it launched on them."""
    refuse_seconds: float
    """The filter it set on what remained of the offers."""


@dataclass(frozen=True, slots=True)
class Declined:
    """Offers the framework declined, and why."""

    offer_ids: tuple[str, ...]
    """The declined offers."""
    refuse_seconds: float
    """How long the master should not offer them again."""
    reason: str
    """The framework's reason ("" when it gave none)."""


class _Recorder:
    """What the harness saw, behind a lock: the master actor writes, the test reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Any] = []
        self.framework_address: str | None = None
        self.subscribed = threading.Event()


class _HarnessMaster(Actor):
    def __init__(self, harness: FrameworkHarness) -> None:
        super().__init__()
        self.harness = harness

    def receive(self, message: Any) -> Any:
        h = self.harness
        rec = h._rec
        with rec.lock:
            rec.calls.append(message)
            if isinstance(message, p.Subscribe):
                rec.framework_address = message.address
        if isinstance(message, p.Subscribe):
            fid = message.info.framework_id or h.framework_id
            h.resolve(message.address).tell(p.Subscribed(fid, h.master_id, 15.0))
            rec.subscribed.set()
        return None


class FrameworkHarness:
    """A master for one framework under test, on ``node``."""

    def __init__(
        self,
        node: Node,
        *,
        name: str = "harness-master",
        framework_id: str = "framework-1",
        master_id: str = "harness",
        host: str = "tcp://harness:1",
    ) -> None:
        """``framework_id`` is what a framework subscribing without an id gets."""
        self.node = node
        self.name = name
        self.framework_id = framework_id
        self.master_id = master_id
        self.address = f"{host}/{name}"
        """The master address to give the framework."""
        self._rec = _Recorder()
        self._ids = itertools.count(1)
        self._ref: ActorRef = node.spawn(_HarnessMaster, self, name=name)

    def resolve(self, address: str) -> ActorRef:
        """Any address as a ref to the node's actor named by its last segment."""
        return self.node.ref(address.rsplit("/", 1)[-1])

    def stop(self) -> None:
        self.node.stop(self._ref)

    # -- feeding the framework ----------------------------------------------------

    def _framework(self) -> ActorRef:
        with self._rec.lock:
            address = self._rec.framework_address
        if address is None:
            raise RuntimeError("no framework subscribed to the harness yet")
        return self.resolve(address)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self._rec.subscribed.wait(timeout)

    def offer(
        self,
        resources: str | Mapping[str, Any] | Resources = "cpus:4;mem:4096;disk:1000",
        *,
        agent_id: str = "agent-1",
        hostname: str = "agent1",
        attributes: Mapping[str, Any] | None = None,
        ip: str = "127.0.0.1",
    ) -> p.Offer:
        """Send one offer (resources as ``"cpus:1;mem:64"``, a dict or ``Resources``)."""
        if isinstance(resources, str):
            resources = Resources.parse(resources)
        as_dict = resources.to_dict() if isinstance(resources, Resources) else dict(resources)
        offer = p.Offer(
            offer_id=f"offer-{next(self._ids)}",
            framework_id=self._fid(),
            agent_id=agent_id,
            hostname=hostname,
            resources=as_dict,
            attributes=dict(attributes or {}),
            ip=ip,
        )
        self._framework().tell(p.Offers([offer]))
        return offer

    def update(
        self,
        task_id: str,
        state: str,
        *,
        agent_id: str = "agent-1",
        reason: str | None = None,
        message: str = "",
        healthy: bool | None = None,
    ) -> p.StatusUpdate:
        """Send one status update (with a uuid, so the framework should acknowledge it)."""
        update = p.StatusUpdate(
            framework_id=self._fid(),
            task_id=task_id,
            agent_id=agent_id,
            state=state,
            uuid=uuid.uuid4().hex,
            timestamp=0.0,
            reason=reason,
            message=message,
            healthy=healthy,
        )
        self._framework().tell(update)
        return update

    def rescind(self, offer_id: str) -> None:
        self._framework().tell(p.Rescind(offer_id))

    def fail_over(self, master_id: str) -> None:
        """A new master at the same address: the framework must subscribe again."""
        self.master_id = master_id
        self._rec.subscribed.clear()
        self._framework().tell(p.MasterChanged(self.address))

    def _fid(self) -> str:
        with self._rec.lock:
            for call in reversed(self._rec.calls):
                if isinstance(call, p.Subscribe):
                    return call.info.framework_id or self.framework_id
        return self.framework_id

    # -- what the framework did ---------------------------------------------------

    def calls(self, kind: type | None = None) -> list[Any]:
        """Every message the framework sent (of type ``kind``), oldest first."""
        with self._rec.lock:
            calls = list(self._rec.calls)
        return calls if kind is None else [c for c in calls if isinstance(c, kind)]

    @property
    def launches(self) -> list[Launched]:
        out = []
        for accept in self.calls(p.Accept):
            tasks = tuple(t for op in accept.operations if op.type == "LAUNCH" for t in op.tasks)
            out.append(Launched(tuple(accept.offer_ids), tasks, accept.refuse_seconds))
        return out

    @property
    def launched_tasks(self) -> list[p.TaskInfo]:
        return [t for launch in self.launches for t in launch.tasks]

    @property
    def declines(self) -> list[Declined]:
        return [
            Declined(tuple(d.offer_ids), d.refuse_seconds, d.reason) for d in self.calls(p.Decline)
        ]

    @property
    def kills(self) -> list[str]:
        return [k.task_id for k in self.calls(p.Kill)]

    @property
    def acknowledged(self) -> list[str]:
        """The uuids of the acknowledged updates."""
        return [a.uuid for a in self.calls(p.Acknowledge)]

    def count(self, kind: type) -> int:
        """How many calls of ``kind`` (``p.Revive``, ``p.Suppress``, ``p.Reconcile``...)."""
        return len(self.calls(kind))

    def decided(self, offer_id: str) -> Launched | Declined | None:
        """What the framework did with one offer, if it did anything yet."""
        done: list[Launched | Declined] = [*self.launches, *self.declines]
        return next((d for d in done if offer_id in d.offer_ids), None)

    def waiter(self, offer_id: str) -> Callable[[], Launched | Declined | None]:
        """For ``wait_for``: the decision on ``offer_id`` once made."""
        return lambda: self.decided(offer_id)
