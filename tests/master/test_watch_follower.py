"""``WatchFollower``: following the leading master's state watch, on plain values."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest

from actors.master import WatchFollower, tell_all
from actors.master._watch_follower import PROBE_EVERY, PROBE_FOR
from actors.protocol import MasterEvent, UnwatchMaster, WatchMaster

ME = "tcp://127.0.0.1:5000/dns"
OLD = "tcp://127.0.0.1:6000/master"
NEW = "tcp://127.0.0.1:7000/master"


def subscribed(master_id: str = "m1", heartbeat: Any = 5) -> MasterEvent:
    event = {"type": "SUBSCRIBED", "subscribed": {"heartbeat_interval_seconds": heartbeat}}
    return MasterEvent(event=event, master_id=master_id, seq=1)


def change(seq: int, master_id: str = "m1", kind: str = "TASK_ADDED") -> MasterEvent:
    return MasterEvent(event={"type": kind}, master_id=master_id, seq=seq)


def watch(follower: WatchFollower) -> WatchMaster:
    """The WatchMaster of the follower's current subscription."""
    return WatchMaster(subscriber=ME, episode=follower.episode)


def following(now: float = 0.0) -> WatchFollower:
    """Subscribed to OLD as ``m1`` with a 5 s heartbeat, seq 2 next."""
    follower = WatchFollower(subscribe_retry=1.0, default_heartbeat=15.0, subscriber=ME)
    follower.leader(OLD, now)
    assert follower.accept(subscribed(), now) == "reset"
    return follower


def test_a_new_leader_is_watched_and_the_old_one_unwatched() -> None:
    follower = WatchFollower(subscribe_retry=1.0, subscriber=ME)
    assert follower.leader(OLD, 0.0) == [(OLD, watch(follower))]
    assert (follower.watching, follower.expect, follower.sent_at) == (OLD, 1, 0.0)
    assert follower.leader(OLD, 1.0) == []  # the same leader: nothing to tell
    assert follower.leader(NEW, 2.0) == [
        (OLD, UnwatchMaster(subscriber=ME)),
        (NEW, watch(follower)),
    ]
    assert (follower.watching, follower.sent_at) == (NEW, 2.0)
    assert follower.leader(None, 3.0) == [(NEW, UnwatchMaster(subscriber=ME))]
    assert (follower.watching, follower.expect) == (None, 0)
    assert follower.unwatch() == [] and follower.subscribe(4.0) == [] and follower.tick(99) == []


def test_subscribed_resets_and_records_master_and_heartbeat() -> None:
    follower = following(now=3.0)
    assert (follower.master_id, follower.expect, follower.heartbeat) == ("m1", 2, 5.0)
    assert follower.last_event_at == 3.0 and follower.subscribed
    # a SUBSCRIBED without a usable heartbeat keeps the one known
    for bad in (None, 0, -1, "5"):
        assert follower.accept(subscribed("m2", bad), 4.0) == "reset"
        assert (follower.master_id, follower.heartbeat) == ("m2", 5.0)


def test_events_in_order_apply_and_heartbeats_are_ignored() -> None:
    follower = following()
    assert follower.accept(change(2), 1.0) == "apply"
    assert follower.accept(change(3, kind="HEARTBEAT"), 2.0) == "ignore"
    assert follower.accept(change(4), 3.0) == "apply"
    assert (follower.expect, follower.last_event_at) == (5, 3.0)


def test_events_before_subscribed_or_from_another_master_are_ignored() -> None:
    follower = WatchFollower(subscribe_retry=1.0, subscriber=ME)
    follower.leader(OLD, 0.0)
    assert follower.accept(change(2), 1.0) == "ignore"  # before our SUBSCRIBED
    assert follower.accept(MasterEvent({"type": "HEARTBEAT"}, "m1", 1), 1.0) == "ignore"
    follower.accept(subscribed(), 2.0)
    assert follower.accept(change(2, master_id="m0"), 3.0) == "ignore"
    assert (follower.expect, follower.last_event_at) == (2, 2.0)


def test_a_gap_asks_for_a_fresh_subscription(caplog: pytest.LogCaptureFixture) -> None:
    follower = following()
    follower.label = "dns"
    with caplog.at_level(logging.WARNING):
        assert follower.accept(change(3), 1.0) == "resubscribe"
    assert "dns: event 3 arrived, 2 expected: resubscribing" in caplog.text
    assert follower.last_event_at == 1.0
    assert follower.subscribe(1.0) == [(OLD, watch(follower))]
    assert (follower.expect, follower.subscribed) == (1, False)
    assert follower.accept(change(2), 1.5) == "ignore"  # the old stream, until SUBSCRIBED


def test_tick_retries_an_unanswered_subscribe() -> None:
    follower = following(now=5.0)
    follower.subscribe(10.0)  # a fresh subscription to the same leader
    assert follower.tick(10.9) == []
    assert follower.tick(11.0) == [(OLD, watch(follower))]
    assert follower.sent_at == 11.0 and follower.tick(11.5) == []


def test_a_new_leaders_first_subscribe_is_resent_soon_until_it_answers() -> None:
    """A standby learns of a new leader (ZooKeeper) before that master's actor runs (it
    reads its registry first): the first WatchMaster is a dead letter, nothing says so.
    It is resent every PROBE_EVERY s (same episode: the master answers one) until the
    SUBSCRIBED comes, and no more once it came."""
    follower = following(now=0.0)
    [_, (_, first)] = follower.leader(NEW, 10.0)
    assert follower.tick(10.0 + PROBE_EVERY / 2) == []
    assert follower.tick(10.0 + PROBE_EVERY) == [(NEW, first)]  # the same episode
    assert follower.tick(10.0 + 1.5 * PROBE_EVERY) == []
    assert follower.tick(10.0 + 2 * PROBE_EVERY) == [(NEW, first)]
    assert follower.accept(subscribed("m2"), 11.0) == "reset"
    assert [follower.tick(11.0 + k * PROBE_EVERY) for k in range(1, 6)] == [[]] * 5
    # a later fresh subscription to that same leader backs off as before
    follower.subscribe(12.0)
    assert follower.tick(12.0 + PROBE_EVERY) == []
    assert follower.tick(13.0) == [(NEW, watch(follower))]


def test_tick_resubscribes_after_three_silent_heartbeats() -> None:
    follower = following(now=0.0)  # heartbeat 5 s
    assert follower.accept(change(2, kind="HEARTBEAT"), 10.0) == "ignore"
    assert follower.tick(25.0) == []  # 15 s silent: not more than three heartbeats
    assert follower.tick(25.1) == [(OLD, watch(follower))]
    assert follower.expect == 1


class Ref:
    def __init__(self, sent: list[tuple[str, Any]], fail: bool) -> None:
        self.sent, self.fail, self.address = sent, fail, ""

    def tell(self, message: Any) -> None:
        if self.fail:
            raise OSError("gone")
        self.sent.append((self.address, message))


def test_tell_all_sends_and_a_failed_unwatch_is_only_logged() -> None:
    sent: list[tuple[str, Any]] = []

    def ref(address: str) -> Ref:
        r = Ref(sent, fail=address == OLD)
        r.address = address
        return r

    tells = WatchFollower(1.0, subscriber=ME)
    tells.leader(OLD, 0.0)
    tell_all(ref, tells.leader(NEW, 1.0), logging.getLogger("test"))
    assert sent == [(NEW, watch(tells))]
    with pytest.raises(OSError):
        tell_all(ref, [(OLD, watch(tells))], logging.getLogger("test"))


def test_unanswered_subscribes_back_off_until_a_subscribed_comes() -> None:
    """A new leader busy with a re-registration storm answers late: each retry queued
    behind the storm would cost it a whole SUBSCRIBED state."""
    follower = WatchFollower(subscribe_retry=1.0, subscriber=ME)
    follower.leader(OLD, 0.0)
    sent = []
    now = 0.0
    while now < 70.0:
        now = round(now + 0.1, 1)
        if follower.tick(now):
            sent.append(now)
    probes = [s for s in sent if s < PROBE_FOR]  # its actor may not run yet: see above
    gaps = [b - a for a, b in itertools.pairwise([0.0, *probes])]
    assert probes and all(PROBE_EVERY - 1e-9 <= g <= PROBE_EVERY + 0.1 for g in gaps)  # ticks
    last = probes[-1]
    backoff = [round(s - last, 1) for s in sent[len(probes) :]]
    assert backoff[:5] == pytest.approx([1.0, 3.0, 7.0, 15.0, 31.0], abs=0.11)  # 1, 2, 4, 8, 16
    assert all(b - a <= 16.0 + 0.11 for a, b in itertools.pairwise(sent))  # + a tick
    # A SUBSCRIBED resets the schedule: the next lost subscribe is retried after 1 s.
    follower.accept(subscribed(), now)
    follower.subscribe(now)
    assert follower.tick(now + 0.9) == []
    assert follower.tick(now + 1.0) == [(OLD, watch(follower))]
    # So does a new leader (probed first).
    follower.tick(now + 3.0)
    follower.leader(NEW, now + 3.5)
    assert follower.tick(now + 3.5 + PROBE_EVERY) == [(NEW, watch(follower))]


def test_a_resend_keeps_its_episode_and_a_fresh_subscription_takes_a_new_one() -> None:
    """Resends of an unanswered subscribe carry its episode (a master that answered it
    moments ago skips them); a gap, a silent leader or a new leader ask anew. Two
    followers (an observer restarted at the same address) do not share episodes."""
    follower = WatchFollower(subscribe_retry=1.0, subscriber=ME)
    [(_, first)] = follower.leader(OLD, 0.0)
    [(_, again)] = follower.tick(PROBE_EVERY)
    assert again == first and first.episode == follower.episode
    follower.accept(subscribed(), 1.5)
    assert follower.accept(change(3), 2.0) == "resubscribe"
    [(_, fresh)] = follower.subscribe(2.0)
    assert fresh.episode == first.episode + 1
    [_, (_, other)] = follower.leader(NEW, 3.0)
    assert other.episode == fresh.episode + 1
    starts = {WatchFollower(1.0, subscriber=ME).episode for _ in range(20)}
    assert len(starts) > 1
