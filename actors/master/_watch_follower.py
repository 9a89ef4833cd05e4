"""``WatchFollower``: following the leading master's state watch, as decisions only.

An observer (the DNS and l4lb actors) tells the leading master ``WatchMaster`` and gets
``MasterEvent`` seq 1 SUBSCRIBED (the full state), then 2, 3, ... one per change, with
HEARTBEATs in between. Keeping that stream whole is the same everywhere: on a leader
change unwatch the old leader and watch the new one; take seq 1 SUBSCRIBED as a full
reset (its master id and heartbeat interval); then take only the next seq from that
master (a gap means events were lost: subscribe again for a fresh full state); and
subscribe again when the subscribe went unanswered, or when nothing (not even a
HEARTBEAT) came for three heartbeat intervals. This class holds that bookkeeping and
sends nothing: its methods return the ``(address, message)`` pairs to tell and what to
do with an event, so the actor only sends and applies (and it is tested on plain
values).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Literal, Protocol

from actors.protocol import MasterEvent, MasterEvents, UnwatchMaster, WatchMaster

Tell = tuple[str, WatchMaster | UnwatchMaster]
Verdict = Literal["reset", "apply", "resubscribe", "ignore"]

SILENT_HEARTBEATS = 3
"""Heartbeat intervals without any event after which the leader counts as silent."""

RETRY_BACKOFF_CAP = 16.0
"""An unanswered subscribe is sent again after ``subscribe_retry``, then twice that, four
times... up to this many times ``subscribe_retry``. Why: a new leader taking in 5,000
agents' re-registrations answers a WatchMaster tens of seconds late, and every retry
queued behind them cost it a whole SUBSCRIBED state (50,000 tasks) when it got there:
a third of its CPU in the 5k/50k failover (72 s storm)."""


PROBE_EVERY = 0.4
PROBE_FOR = 10.0
"""After a leader change, the subscribe is sent again every ``PROBE_EVERY`` seconds until
a SUBSCRIBED comes from the new leader, for at most ``PROBE_FOR`` seconds (then the
backoff above). Why: a standby learns of a new leader from ZooKeeper as soon as it won
the election, but that master starts its master actor only once it has read its
registry (seconds at 10,000 agents): a WatchMaster arriving before that is a dead letter,
and a tell that reaches no actor answers nothing. With the backoff alone the standby's
DNS and l4lb asked again after 1, 2, 4... s (the l4lb 2, 4, 8... s), so they subscribed
up to twice the registry read late. Copies are cheap for the master: the ones queued
together cost one SUBSCRIBED (``WatchSoon``), and resends carry their episode, so one
arriving after the answer is skipped (``RESEND_WINDOW``, 30 s > ``PROBE_FOR``)."""


class WatchFollower:
    """The subscription of one observer (``subscriber``: its transport address) to the
    leading master's events. ``subscribe_retry``: seconds without SUBSCRIBED before the
    ``WatchMaster`` is sent again (a new leader's ZooKeeper node can appear a moment
    before its master actor runs: the first is lost). ``label`` prefixes the warnings."""

    def __init__(
        self,
        subscribe_retry: float,
        default_heartbeat: float = 15.0,
        subscriber: str = "",
        label: str = "watch",
        logger: logging.Logger | None = None,
        batch: bool = False,
    ) -> None:
        self.subscribe_retry = subscribe_retry
        self.batch = batch
        """Ask for ``MasterEvents`` (``WatchMaster.batch``): the observer hands each of
        their events to ``accept`` as a ``MasterEvent`` (``unbatched``)."""
        self.subscriber = subscriber
        self.label = label
        self.log = logger or logging.getLogger("actors.master.watch")
        self.watching: str | None = None
        self.master_id = ""
        self.expect = 0
        """Next seq: 1 while waiting for SUBSCRIBED, 0 when not subscribed."""
        self.sent_at = 0.0
        self.retry_in = subscribe_retry
        """Seconds after ``sent_at`` before an unanswered subscribe is sent again."""
        self.probe_until = 0.0
        """Until when an unanswered subscribe to a new leader is resent every
        ``PROBE_EVERY`` s (0 once it answered)."""
        self.last_event_at = 0.0
        self.heartbeat = default_heartbeat
        self.episode = random.getrandbits(30)
        """Numbers this follower's subscriptions (``WatchMaster.episode``); a random
        start, so a restarted observer at the same address is never taken for a resend
        of its previous incarnation's subscription."""

    @property
    def subscribed(self) -> bool:
        """True once a SUBSCRIBED came for the current subscription."""
        return self.expect >= 2

    def leader(self, address: str | None, now: float) -> list[Tell]:
        """The leader is now ``address`` (None: no leader): unwatch the old one and
        watch the new one; nothing when it did not change."""
        if address == self.watching:
            return []
        tells = self.unwatch()
        self.watching = address
        self.expect = 0
        self.retry_in = self.subscribe_retry
        self.probe_until = now + PROBE_FOR
        return tells + self.subscribe(now)

    def subscribe(self, now: float, resend: bool = False) -> list[Tell]:
        """(Re)subscribe to the watched leader: a fresh SUBSCRIBED will follow.
        ``resend``: the same subscription again (the last one went unanswered), which a
        master that has just answered it may skip (``WatchMaster.episode``)."""
        if self.watching is None:
            return []
        if not resend:
            self.episode += 1
        self.expect = 1
        self.sent_at = now
        watch = WatchMaster(subscriber=self.subscriber, episode=self.episode, batch=self.batch)
        return [(self.watching, watch)]

    def unwatch(self) -> list[Tell]:
        """Stop the current subscription (on a leader change, or when stopping)."""
        if self.watching is None:
            return []
        return [(self.watching, UnwatchMaster(subscriber=self.subscriber))]

    def accept(self, msg: MasterEvent, now: float) -> Verdict:
        """What to do with ``msg``: ``reset`` (a SUBSCRIBED: replace the whole view),
        ``apply`` (the next change), ``resubscribe`` (a gap: call ``subscribe``) or
        ``ignore`` (a HEARTBEAT, or an event of a replaced subscription)."""
        event: dict[str, Any] = msg.event if isinstance(msg.event, dict) else {}
        kind = event.get("type")
        if msg.seq == 1 and kind == "SUBSCRIBED":
            self.master_id = msg.master_id
            self.expect = 2
            self.retry_in = self.subscribe_retry
            self.probe_until = 0.0
            hb = (event.get("subscribed") or {}).get("heartbeat_interval_seconds")
            if isinstance(hb, int | float) and hb > 0:
                self.heartbeat = float(hb)
            self.last_event_at = now
            return "reset"
        if self.expect < 2 or msg.master_id != self.master_id:
            return "ignore"  # from a subscription we replaced, or before our SUBSCRIBED
        self.last_event_at = now
        if msg.seq != self.expect:
            self.log.warning(
                "%s: event %d arrived, %d expected: resubscribing", self.label, msg.seq, self.expect
            )
            return "resubscribe"
        self.expect += 1
        return "ignore" if kind == "HEARTBEAT" else "apply"

    def accept_batch(self, msg: MasterEvents, now: float) -> list[Any] | None:
        """A ``MasterEvents`` that continues the stream exactly (this subscription's
        master, ``first_seq`` the next expected, subscribed): taken whole, its events
        returned to apply in order (HEARTBEATs left out). None for any other batch: the
        caller then takes it event by event (``unbatched`` + ``accept``), which handles
        gaps and replaced subscriptions. Why: a re-registration storm is ~110,000
        events; one ``MasterEvent`` made and checked per event was a sixth of the DNS
        actor's storm cost."""
        events = msg.events
        if (
            self.expect < 2
            or msg.master_id != self.master_id
            or msg.first_seq != self.expect
            or not isinstance(events, list)
            or not events
        ):
            return None
        self.expect += len(events)
        self.last_event_at = now
        return [e for e in events if not (isinstance(e, dict) and e.get("type") == "HEARTBEAT")]

    def tick(self, now: float) -> list[Tell]:
        """Subscribe again when the subscribe went unanswered for ``retry_in`` seconds
        (``subscribe_retry``, doubling up to ``RETRY_BACKOFF_CAP`` times it until a
        SUBSCRIBED comes; every ``PROBE_EVERY`` s in the first ``PROBE_FOR`` s of a new
        leader), or when the leader was silent for ``SILENT_HEARTBEATS`` heartbeats."""
        if self.watching is None:
            return []
        if self.expect == 1 and now < self.probe_until:
            if now - self.sent_at >= PROBE_EVERY:  # a new leader's actor may not run yet
                return self.subscribe(now, resend=True)
            return []
        if self.expect == 1 and now - self.sent_at >= self.retry_in:
            self.retry_in = min(2.0 * self.retry_in, RETRY_BACKOFF_CAP * self.subscribe_retry)
            return self.subscribe(now, resend=True)
        silent = now - self.last_event_at
        if self.expect >= 2 and silent > SILENT_HEARTBEATS * self.heartbeat:
            self.log.warning(
                "%s: no event from the leader for %.0f s: resubscribing", self.label, silent
            )
            return self.subscribe(now)
        return []


def unbatched(msg: MasterEvents) -> list[MasterEvent]:
    """The ``MasterEvent`` s a ``MasterEvents`` stands for, in order."""
    events = msg.events if isinstance(msg.events, list) else []
    first = msg.first_seq if isinstance(msg.first_seq, int) else 0
    return [MasterEvent(e, msg.master_id, first + i) for i, e in enumerate(events)]


class _Ref(Protocol):
    def tell(self, message: Any) -> None: ...


def tell_all(ref: Callable[[str], _Ref], tells: list[Tell], log: logging.Logger) -> None:
    """Send ``tells`` through ``ref`` (the actor's ``node.ref``). A failed
    ``UnwatchMaster`` is only logged (the old leader may be gone: its subscription went
    with it); a failed ``WatchMaster`` raises, as the actor's own failure."""
    for address, message in tells:
        if not isinstance(message, UnwatchMaster):
            ref(address).tell(message)
            continue
        try:
            ref(address).tell(message)
        except Exception as exc:
            log.debug("unwatch %s: %s", address, exc)


class RebuildPacer:
    """When an observer may rebuild what it derives from the watch (the DNS table, the
    VIP table): at once after a quiet spell, else not sooner than ``factor`` times the
    last rebuild's own cost after it (at most ``max_gap`` s), so a stream of changes (a
    re-registration storm: one event per agent) costs at most ``1/(1+factor)`` of a
    core instead of one whole rebuild per event. Small tables rebuild in a millisecond
    and stay as fresh as before; decisions only, time passed in."""

    def __init__(self, factor: float = 4.0, max_gap: float = 1.0) -> None:
        self.factor = factor
        self.max_gap = max_gap
        self.cost = 0.0
        """Seconds the last rebuild took."""
        self.ended = float("-inf")
        """When it ended."""

    def delay(self, now: float) -> float:
        """Seconds to wait before the next rebuild (0: now)."""
        gap = min(self.max_gap, self.factor * self.cost)
        return max(0.0, self.ended + gap - now)

    def done(self, started: float, ended: float) -> None:
        """A rebuild ran from ``started`` to ``ended``."""
        self.cost = max(0.0, ended - started)
        self.ended = ended
