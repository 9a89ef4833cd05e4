"""``Bridge``: one HTTP subscription's stand-in before the master actor.

```
 master actor ──Subscribed/Offers/StatusUpdate/Rescind/AgentLost/FrameworkError──► Bridge
                                                       (actor on the leader's node)
 Bridge.receive ──post(kind, payload)──► the gateway's event loop (call_soon_threadsafe)
                                          Subscription: JSON event -> RecordIO -> stream
 HTTP calls (ACCEPT, KILL...) ─────────────────────────────────► master actor (tell)
```

To the master a bridge is an ordinary framework at its own transport address (it
subscribes with ``p.Subscribe`` as ``actors.framework``'s driver does), so HTTP and
actor frameworks share the allocator, roles, weights, failover rules and
``/mesos/master/state``. When the HTTP stream ends the bridge is stopped; the master's
monitor sees it go (``PeerDown``) and disconnects the framework: its offers are
rescinded, its tasks kept for its ``failover_timeout``, as Mesos does.

The bridge only forwards: every decision about the stream (framing, bounds, which
offers are outstanding) is made on the event loop by ``Subscription``, one thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors import protocol as p
from runtime import Actor, Down

log = logging.getLogger("actors.mesos_api")


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """The bridge's timer: time for a HEARTBEAT event."""


@dataclass(frozen=True, slots=True)
class Resubscribe:
    """Loop -> bridge: UPDATE_FRAMEWORK: subscribe again with this info (same id)."""

    info: p.FrameworkInfo


_FORWARDED: dict[type, str] = {
    p.Offers: "offers",
    p.Rescind: "rescind",
    p.StatusUpdate: "update",
    p.AgentLost: "failure",
    p.FrameworkError: "error",
}


class Bridge(Actor):
    """Subscribes ``info`` to the master at ``master``; posts what it hears to ``post``."""

    def __init__(
        self,
        info: p.FrameworkInfo,
        *,
        master: str,
        post: Callable[[str, Any], None],
    ) -> None:
        super().__init__()
        self.info = info
        self.master_address = master
        self.post = post
        """Thread-safe: hands ``(kind, payload)`` to the subscription's event loop."""
        self.subscribed = False
        self._updating = False

    @property
    def address(self) -> str:
        return f"{self.node.address}/{self.name}"

    def started(self) -> None:
        master = self.node.ref(self.master_address)
        self.monitor(master)
        master.tell(p.Subscribe(self.info, self.address))

    def receive(self, message: Any) -> Any:
        kind = _FORWARDED.get(type(message))
        if kind is not None:
            # Offers carry when the allocation cycle's output reached the bridge (the
            # node clock's monotonic now), for the offer-latency figures.
            self.post(kind, (message, self.clock.now()) if kind == "offers" else message)
            return None
        if isinstance(message, p.Subscribed):
            if self.subscribed:
                # UPDATE_FRAMEWORK (or a repeated answer): the stream stays as it is.
                self.post("updated", message)
                self._updating = False
                return None
            self.subscribed = True
            self.info = _with_id(self.info, message.framework_id)
            self.send_interval(message.heartbeat_interval, _Heartbeat())
            self.post("subscribed", message)
            return None
        if isinstance(message, _Heartbeat):
            self.post("heartbeat", None)
            return None
        if isinstance(message, Resubscribe):
            self.info = message.info
            self._updating = True
            self.node.ref(self.master_address).tell(p.Subscribe(message.info, self.address))
            return None
        if isinstance(message, p.MasterChanged | Down):
            # The master actor went away (revoked, crashed, restarted): end the stream;
            # the client reconnects and is sent to whoever leads now.
            self.post("close", "the leading master changed")
            return None
        return super().receive(message)


def _with_id(info: p.FrameworkInfo, fid: str) -> p.FrameworkInfo:
    return p.FrameworkInfo(
        name=info.name,
        roles=list(info.roles),
        failover_timeout=info.failover_timeout,
        framework_id=fid,
        user=info.user,
        hostname=info.hostname,
        principal=info.principal,
    )
