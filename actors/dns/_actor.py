"""``DnsActor``: follows the leading master's events and keeps the server's table fresh.

```
 leader listener ──DnsLeaderChanged──> DnsActor ──WatchMaster──> leading master actor
                                          ^                              |
                                          └──── MasterEvent (seq 1 SUBSCRIBED, 2, 3...)
 each event: LiveTable.apply (view + changes; False: nothing served changed)
   ──DnsRebuild (coalesced)──> LiveTable.table: TableIndex.apply (what changed) +
   publish ──> server.set_table
```

The table is kept change by change (``actors.dns._index``): a status update costs the
records of its task, not a walk over every task (a third of the leader's CPU at 100,000
tasks); a fresh subscription rebuilds it from scratch. The VIP names likewise
(``VipNames``): each task's VIP hostnames are counted, addresses re-allocated only when
the set of hostnames changes.

Ordering rules: the old table keeps serving until the new one is complete (never an
empty table in between); a subscription answers with a full SUBSCRIBED before any
change, and a gap in ``seq`` or a silent leader means a fresh subscription (the old
table still serves meanwhile). Before the first SUBSCRIBED the zones answer SERVFAIL,
never NXDOMAIN, so a resolver tries another master instead of caching a negative.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from actors.dns._live import LiveTable
from actors.dns._messages import DNS_ACTOR, DnsLeaderChanged, DnsRebuild, DnsTick
from actors.dns._records import ClusterView, DnsConfig, master_ips, set_leader
from actors.dns._server import DnsServer
from actors.dns._vips import vip_records
from actors.master import RebuildPacer, WatchFollower, tell_all, unbatched
from actors.protocol import MasterEvent, MasterEvents, UnwatchMaster, WatchMaster
from runtime import Actor

log = logging.getLogger("actors.dns")

SUBSCRIBE_RETRY = 1.0
"""Seconds without SUBSCRIBED after a WatchMaster before it is sent again (a new leader's
ZooKeeper node can appear a moment before its master actor runs: the first is lost)."""
DEFAULT_HEARTBEAT = 15.0
CARRY_FOR = 15.0
"""Seconds the previous leader's tasks are kept after a failover (the master gives agents
10 s to re-register); then those the new leader did not stream go."""
MIN_GAP = 0.25
"""Seconds between two tables during a stream of events (at most 4 tables a second;
the first change after a quiet spell is tabled at once). A table costs what changed
plus, for each name that changed, its whole answer (an app of 1,000 instances: 1,000
values), and each swap renews the server's answer cache: at 10k agents / 100k tasks
launching 1,700 tasks/s, 50 ms gave 932 tables in the wave and 114 CPU-ms per 1,000
tasks, 250 ms 193 tables and 82 ms (notes/scale/s11-L). Mesos-DNS itself refreshes
every 60 s; a name waits at most this (plus a table's cost) here."""


def rebuild_wait(pacer: RebuildPacer, now: float, min_gap: float = MIN_GAP) -> float:
    """Seconds before the next table: 0 after a quiet spell (the last table ended
    ``min_gap`` ago or more and the pacer allows it), else until both allow it; never
    more than ``max(min_gap, pacer.max_gap)``."""
    return max(pacer.delay(now), pacer.ended + min_gap - now, 0.0)


class DnsActor(Actor):
    """One per master. ``port_of()`` is the port to bind (0 at first: a free one; the
    service remembers the bound one, so a restarted actor serves the same address);
    ``publish(server)`` is called once the server listens."""

    def __init__(
        self,
        config: DnsConfig,
        host: str,
        port_of: Callable[[], int],
        upstreams: list[tuple[str, int]],
        leader_address: Callable[[], str | None],
        publish: Callable[[DnsServer], None] = lambda server: None,
        extra_records: Callable[[ClusterView], Mapping[str, list[str]]] = vip_records,
        masters: Callable[[], list[str]] = list,
    ) -> None:
        super().__init__()
        self.config = config
        self.host, self.port_of, self.upstreams = host, port_of, upstreams
        self.leader_address = leader_address
        self.publish = publish
        self.extra_records = extra_records
        self.masters = masters
        """Every master's transport address (the election's contenders), for master.mesos."""
        self.other_masters: tuple[str, ...] = ()
        self.ticks = 0
        self.live = LiveTable(config, extra_records, CARRY_FOR)
        """The table's state and its incremental index (pure: ``actors.dns._live``)."""
        self.server: DnsServer | None = None
        self.serial = 0
        self.follower = WatchFollower(
            SUBSCRIBE_RETRY, DEFAULT_HEARTBEAT, label="dns", logger=log, batch=True
        )
        self._rebuild_pending = False
        self.pacer = RebuildPacer()
        """Coalesces a storm of events (a failover's re-registrations, a launch) into
        fewer tables; each costs what changed since the last one."""

    @property
    def view(self) -> ClusterView:
        return self.live.view

    def started(self) -> None:
        self.follower.subscriber = self.node.actor_address(self.name or DNS_ACTOR)
        table = self.live.table(self.serial)  # not ready yet: SERVFAIL in our zones
        self.server = DnsServer(table, self.host, self.port_of(), self.upstreams).start()
        log.info("dns: serving on %s (udp+tcp), upstreams %s", self.server.address, self.upstreams)
        self.publish(self.server)
        self.send_interval(0.5, DnsTick())
        self._leader(self.leader_address())

    def stopped(self) -> None:
        self._tell(self.follower.unwatch())
        if self.server is not None:
            self.server.stop()

    def receive(self, message: Any) -> Any:
        if isinstance(message, MasterEvent):
            self._event(message)
        elif isinstance(message, MasterEvents):  # WatchMaster.batch: several in order
            events = self.follower.accept_batch(message, self.clock.now())
            if events is None:  # not the next in the stream: event by event
                for event in unbatched(message):
                    self._event(event)
            else:
                self._apply_all(events, message.master_id)
        elif isinstance(message, DnsRebuild):
            self._rebuild()
        elif isinstance(message, DnsTick):
            self._tick()
        elif isinstance(message, DnsLeaderChanged):
            self._leader(message.address)
        else:
            return super().receive(message)
        return None

    # -- following the leader ---------------------------------------------------------

    def _refresh_masters(self) -> bool:
        """Re-read the election's contenders; True when the set of master IPs changed."""
        try:
            found = master_ips(self.masters())
        except Exception as exc:
            log.debug("dns: reading the masters: %s", exc)
            return False
        if found == self.other_masters:
            return False
        self.other_masters = found
        leader = self.view.leader[0] if self.view.leader else None
        ips = [ip for ip in (leader, self.host, *found) if ip]
        self.view.masters = tuple(dict.fromkeys(ips))
        return True

    def _leader(self, address: str | None) -> None:
        if address is not None:
            # During an election leader.mesos keeps naming the last leader (no NXDOMAIN).
            set_leader(self.view, address, self.host, self.other_masters)
            self._refresh_masters()
        self._tell(self.follower.leader(address, self.clock.now()))
        self._request_rebuild()

    def _tell(self, tells: list[tuple[str, WatchMaster | UnwatchMaster]]) -> None:
        tell_all(self.node.ref, tells, log)

    def _event(self, msg: MasterEvent) -> None:
        now = self.clock.now()
        verdict = self.follower.accept(msg, now)
        event = msg.event if isinstance(msg.event, dict) else {}
        if verdict == "resubscribe":
            self._tell(self.follower.subscribe(now))
        elif verdict in ("reset", "apply") and self.live.apply(event, msg.master_id, now):
            # (else nothing DNS serves changed: the table and its answer cache stay)
            self._request_rebuild()

    def _apply_all(self, events: list[Any], master_id: str) -> None:
        """A batch the follower took whole (``accept_batch``): one rebuild request."""
        now = self.clock.now()
        apply = self.live.apply
        changed = False
        for event in events:
            if isinstance(event, dict) and apply(event, master_id, now):
                changed = True
        if changed:
            self._request_rebuild()

    def _tick(self) -> None:
        now = self.clock.now()
        self.ticks += 1
        if self.ticks % 10 == 0 and self._refresh_masters():
            self._request_rebuild()
        if self.follower.watching is None:
            return
        self._tell(self.follower.tick(now))
        if (
            self.live.carried_due(now)
            # subscribed: the leader streamed every task and agent it took in since its
            # state, so what is still carried it lacks (a fresh state to learn that was a
            # whole v1 state of 100,000 tasks for the new leader to build, mid-recovery)
            and (self.follower.subscribed or now - self.follower.sent_at >= SUBSCRIBE_RETRY)
            and self.live.expire(now)
        ):
            self._request_rebuild()

    # -- the table --------------------------------------------------------------------

    def _request_rebuild(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            now = self.clock.now()
            wait = rebuild_wait(self.pacer, now)
            if wait > 0:  # a stream of changes: one rebuild per pace, not one per event
                self.send_after(wait, DnsRebuild())
            else:
                self.ref.tell(DnsRebuild())

    def _rebuild(self) -> None:
        self._rebuild_pending = False
        self.serial += 1
        started = self.clock.now()
        table = self.live.table(self.serial)
        if self.server is not None:
            self.server.set_table(table)
        self.pacer.done(started, self.clock.now())
