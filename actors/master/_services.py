"""Leader services: what runs on the leading master besides the master actor.

Marathon and Metronome are frameworks like any other, but DC/OS runs them on the
masters. Each is a ``LeaderService``: its actors start (in order, under the node's root
supervisor) right after the master actor when this master is elected, and stop (in
reverse) the moment leadership is revoked. Its HTTP routes are mounted on every
master's gateway at start-up as leader-only routes, so a standby redirects them.

```
 MasterProcess
   on_elected:  master actor, then for each service: service.child_specs(ctx)...
   on_revoked:  ...children stopped in reverse order, master actor last
   gateway:     service.routes(ctx) mounted under service.prefixes (leader-only)
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from runtime import ChildSpec, Node


@dataclass
class ServiceContext:
    """What a leader service gets from the master process."""

    node: Node
    """The master's node (the service's actors are spawned on it)."""
    zk: Any
    """The master's started KazooClient (under the cluster chroot)."""
    master_address: str
    """Transport address of this node's master actor (frameworks subscribe to it)."""
    hostname: str
    """This master's host name."""
    http_url: str = ""
    """This master's gateway base URL (set once the gateway listens)."""
    abdicate: Callable[[], None] | None = None
    """Step down as leader (Marathon's ``DELETE /v2/leader``); None if not possible."""
    tenure_left: Callable[[], float] | None = None
    """Seconds before this leader may abdicate (its minimum tenure); None: no floor."""
    gateway: Any = None
    """This master's ``HttpGateway`` (``ask_at``, ``leader_master_address``); set
    before any service's ``routes`` are asked for."""
    leader_address: Callable[[], str | None] = lambda: None
    """The leading master's master-actor address now (``tcp://.../master``), or None
    during an election. Every master knows it, leading or not."""
    fence: Any = None
    """The current term's ``zk.Fence`` (set on election, before ``child_specs``): leader
    services build their state store with ``store(root)`` so a deposed leader's late
    write is refused (``zk.Fenced``). None on a standby."""
    warm: dict[str, Any] = field(default_factory=dict)
    """Store root -> this master's warm copy of it (a ``zk.StoreMirror`` it kept as a
    standby), set on election before ``child_specs``: a leader service takes its own
    (``pop``) and hands it to its store's first load. Empty on a master elected before
    its copy was complete; what is left is closed once the services started."""
    leader_listeners: list[Callable[[str | None], None]] = field(default_factory=list)
    """Called (on ZooKeeper's thread: tell an actor, don't block) with the new leader's
    master-actor address whenever it changes, None while no master leads. Node services
    add theirs in ``child_specs``."""

    def store(self, root: str) -> Any:
        """A ``zk.StateStore`` under ``root`` bound to this term's fence (unfenced
        without one, e.g. in tests that build a context by hand)."""
        from zk import StateStore

        return StateStore(self.zk, root, fence=self.fence)


class LeaderService(Protocol):
    """A component that runs only on the leading master (Marathon, Metronome...)."""

    name: str
    """Short name, used in logs (``marathon``)."""
    prefixes: tuple[str, ...]
    """URL prefixes its routes live under (``/marathon/``); standbys redirect them."""

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        """Actors to start, in order, when this master is elected."""
        ...

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        """HTTP routes, mounted once at start-up on every master's gateway."""
        ...


class NodeService(Protocol):
    """A component that runs on EVERY master, leading or not, for the process' lifetime
    (DC/OS runs DNS and the load balancer on every node): its actors start under the
    node's root supervisor once the gateway listens, before the election, and stop with
    the process; its routes are served by this master itself (never redirected). It
    follows the leader through ``ServiceContext.leader_listeners``."""

    name: str
    """Short name, used in logs (``dns``)."""

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        """Actors to start, in order, when the master process starts."""
        ...

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        """HTTP routes this master serves itself, mounted once at start-up."""
        ...
