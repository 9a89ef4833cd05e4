"""``DnsActor``: follows the leading master's events and keeps the server's table fresh.

```
 leader listener ──DnsLeaderChanged──> DnsActor ──WatchMaster──> leading master actor
                                          ^                              |
                                          └──── MasterEvent (seq 1 SUBSCRIBED, 2, 3...)
 each event: apply_event(view, changes) ──DnsRebuild (coalesced)──>
   TableIndex.apply (what changed) + publish ──> server.set_table
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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.dns._index import TableIndex
from actors.dns._messages import DNS_ACTOR, DnsLeaderChanged, DnsRebuild, DnsTick
from actors.dns._quiet import apply_upsert, upsert_target
from actors.dns._records import (
    Changes,
    ClusterView,
    DnsConfig,
    RecordTable,
    apply_event,
    build_table,
    expire_carried,
    master_ips,
    record_inputs,
    set_leader,
    updated_key,
)
from actors.dns._server import DnsServer
from actors.dns._vips import VipNames, vip_records, vip_salt
from actors.master import RebuildPacer, WatchFollower, tell_all
from actors.protocol import MasterEvent, UnwatchMaster, WatchMaster
from runtime import Actor

log = logging.getLogger("actors.dns")

SUBSCRIBE_RETRY = 1.0
"""Seconds without SUBSCRIBED after a WatchMaster before it is sent again (a new leader's
ZooKeeper node can appear a moment before its master actor runs: the first is lost)."""
DEFAULT_HEARTBEAT = 15.0
CARRY_FOR = 15.0
"""Seconds the previous leader's tasks are kept after a failover (the master gives agents
10 s to re-register); then a fresh subscription has them all."""
MIN_GAP = 0.05
"""Seconds between two tables during a stream of events (at most 20 tables a second):
a table costs only what changed, but each swap renews the server's answer cache."""
CARRY_GRACE = 5.0
"""Seconds past CARRY_FOR after which carried tasks go even if no fresh state came."""


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
        self.view = ClusterView()
        self.server: DnsServer | None = None
        self.serial = 0
        self.ready = False
        self.follower = WatchFollower(SUBSCRIBE_RETRY, DEFAULT_HEARTBEAT, label="dns", logger=log)
        self._rebuild_pending = False
        self.pacer = RebuildPacer()
        """Coalesces a storm of events (a failover's re-registrations, a launch) into
        fewer tables; each costs what changed since the last one."""
        self.changes = Changes()
        self.index = TableIndex(config)
        salt = vip_salt(extra_records)
        self.vips = VipNames(salt) if salt is not None else None

    def started(self) -> None:
        self.follower.subscriber = self.node.actor_address(self.name or DNS_ACTOR)
        table = build_table(self.view, self.config, self.serial, ready=False)
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
        elif verdict == "reset":
            self.view = apply_event(self.view, event, msg.master_id, now, CARRY_FOR, self.changes)
            self.ready = True
            self._request_rebuild()
        elif verdict == "apply":
            self._apply(event, msg.master_id, now)

    def _apply(self, event: dict[str, Any], master_id: str, now: float) -> None:
        """One change: the table is rebuilt only when something DNS serves changed."""
        target = upsert_target(event)
        if target is not None:  # a failover's re-registrations: mostly nothing new
            if apply_upsert(self.view, event, target, master_id, now, CARRY_FOR, self.changes):
                self._request_rebuild()
            return
        key = updated_key(event)
        before = record_inputs(self.view.tasks.get(key)) if key else None
        self.view = apply_event(self.view, event, master_id, now, CARRY_FOR, self.changes)
        if key and before is not None and before == record_inputs(self.view.tasks.get(key)):
            return  # nothing DNS serves changed: keep the table (and its answer cache)
        self._request_rebuild()

    def _tick(self) -> None:
        now = self.clock.now()
        self.ticks += 1
        if self.ticks % 10 == 0 and self._refresh_masters():
            self._request_rebuild()
        if self.follower.watching is None:
            return
        self._tell(self.follower.tick(now))
        if self.view.carried and min(self.view.carried.values()) <= now:
            if self.follower.subscribed:
                # a fresh state from this leader: every re-registered task
                self._tell(self.follower.subscribe(now))
            elif now - self.follower.sent_at >= SUBSCRIBE_RETRY and expire_carried(
                self.view, now, self.changes
            ):
                self._request_rebuild()

    # -- the table --------------------------------------------------------------------

    def _request_rebuild(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            now = self.clock.now()
            wait = max(self.pacer.delay(now), self.pacer.ended + MIN_GAP - now)
            if wait > 0:  # a stream of changes: one rebuild per pace, not one per event
                self.send_after(wait, DnsRebuild())
            else:
                self.ref.tell(DnsRebuild())

    def _rebuild(self) -> None:
        self._rebuild_pending = False
        self.serial += 1
        started = self.clock.now()
        table = self.table()
        if self.server is not None:
            self.server.set_table(table)
        self.pacer.done(started, self.clock.now())

    def table(self) -> RecordTable:
        """The table for the view now: before the first state a (tiny) full build, then
        the incremental index (equal to ``build_table`` with ``extra_records``)."""
        if not self.ready:
            return build_table(self.view, self.config, self.serial, ready=False)
        touched = self.index.apply(self.view, self.changes)
        if self.vips is None:
            extra: Mapping[str, Iterable[str]] = self.extra_records(self.view)
        else:
            extra = self.vips.follow(self.view, touched)
        return self.index.publish(self.serial, extra, ready=True)
