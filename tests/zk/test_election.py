"""Leader election against the real ZooKeeper.

Incidents these prevent: a cluster left without a leader after failover, and a leader
that keeps leading after losing its session (Marathon #2101, #3848; Mesos master
"commits suicide" when it loses leadership).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import SessionExpiredError

from runtime.testing import wait_for
from tests.zk._procs import ContenderProc
from zk import Election, LeaderInfo, LeaderWatch, expire_session, read_contenders, read_leader

pytestmark = pytest.mark.zk


class Recorder:
    """Leader-only work as timestamps: when it started and when it stopped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.elected: list[float] = []
        self.revoked: list[tuple[str, float]] = []

    def on_elected(self, term: int) -> None:
        self.elected.append(time.monotonic())

    def on_revoked(self, reason: str) -> None:
        self.revoked.append((reason, time.monotonic()))

    @property
    def working(self) -> bool:
        return len(self.elected) > len(self.revoked)


def contender(client: KazooClient, name: str) -> tuple[Election, Recorder]:
    rec = Recorder(name)
    e = Election(
        client,
        LeaderInfo(address=f"tcp://{name}:5050", http_url=f"http://{name}:5050", version="t"),
        on_elected=rec.on_elected,
        on_revoked=rec.on_revoked,
    )
    return e.start(), rec


def test_first_contender_leads_and_everyone_reads_it(
    zk_connect: Callable[..., KazooClient],
) -> None:
    e1, r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    e2, r2 = contender(zk_connect(), "m2")
    wait_for(lambda: len(read_contenders(zk_connect())) == 2, what="two contenders")
    leader = read_leader(e2.client)
    assert leader is not None and leader.address == "tcp://m1:5050"
    assert leader.http_url == "http://m1:5050" and leader.version == "t"
    assert not e2.is_leader and r2.elected == []
    e2.stop()
    e1.stop()
    assert r1.revoked[-1][0] == "stopped"


def test_recheck_acts_on_the_current_line_and_says_who_leads(
    zk_connect: Callable[..., KazooClient],
) -> None:
    e1, _r1 = contender(zk_connect(), "m1")
    e2, r2 = contender(zk_connect(), "m2")
    assert e1.wait_leader(10)
    assert e1.recheck() is True and e2.recheck() is False
    assert e2.node is not None and r2.elected == []  # in line, and it never led
    zk_connect().delete(f"/election/{e1.node}")  # an operator removes the leader's node
    assert e2.recheck() is True  # no waiting for its watch: recheck read the new line
    e1.stop()
    e2.stop()


def test_abdication_hands_over_to_the_next_contender(
    zk_connect: Callable[..., KazooClient],
) -> None:
    seen: list[str | None] = []
    LeaderWatch(zk_connect(), lambda li: seen.append(li.address if li else None))
    e1, r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    e2, r2 = contender(zk_connect(), "m2")
    wait_for(lambda: e2.node is not None, what="m2 in line")
    e1.abdicate()
    assert e2.wait_leader(10)
    assert r1.revoked[0][0] == "abdicated"
    assert r1.revoked[0][1] < r2.elected[0]  # old leader stopped before the new one started
    assert not e1.is_leader
    wait_for(lambda: seen[-1] == "tcp://m2:5050", what="observer sees m2")
    assert seen == [None, "tcp://m1:5050", "tcp://m2:5050"]  # no leader, m1, m2
    # m1 queued up again behind m2.
    wait_for(
        lambda: (
            [c.address for c in read_contenders(e1.client)] == ["tcp://m2:5050", "tcp://m1:5050"]
        ),
        what="m1 behind m2",
    )
    e1.stop()
    e2.stop()


def test_session_expiry_fences_the_old_leader_before_the_new_one_starts(
    zk_connect: Callable[..., KazooClient],
) -> None:
    e1, r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    e2, r2 = contender(zk_connect(), "m2")
    e3, _r3 = contender(zk_connect(), "m3")
    wait_for(lambda: e3.node is not None and e2.node is not None, what="all in line")
    expire_session(e1.client)
    wait_for(lambda: e2.is_leader, what="m2 leads")
    assert not e1.is_leader and not e3.is_leader
    stopped = r1.revoked[0][1]
    assert r1.revoked[0][0] in ("suspended", "session lost")
    assert stopped < r2.elected[0]
    # m1 rejoins with a new session at the back of the line and does not lead.
    wait_for(lambda: len(read_contenders(e2.client)) == 3, what="m1 rejoined")
    assert next(c.address for c in read_contenders(e2.client)) == "tcp://m2:5050"
    assert len(r1.elected) == 1 and not r1.working
    for e in (e1, e2, e3):
        e.stop()


def test_a_leader_that_loses_its_session_alone_leads_again_only_by_winning(
    zk_connect: Callable[..., KazooClient],
) -> None:
    e1, r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    old = e1.node
    expire_session(e1.client)
    wait_for(lambda: len(r1.elected) == 2, what="re-elected")
    assert e1.node != old and e1.term == 2
    assert r1.revoked[0][1] < r1.elected[1]
    e1.stop()


def test_corrupt_leader_znode_and_foreign_children_are_skipped(
    zk_connect: Callable[..., KazooClient], caplog: pytest.LogCaptureFixture
) -> None:
    admin = zk_connect()
    admin.ensure_path("/election")
    admin.create("/election/member_" + "0" * 32 + "_", b"\xffnot json", sequence=True)
    admin.create("/election/lock-by-someone-else", b"{}")
    e1, _r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)  # the corrupt node has a lower sequence but is not a leader
    leader = read_leader(admin)
    assert leader is not None and leader.address == "tcp://m1:5050"
    assert "/election/member_" in caplog.text and "skipped" in caplog.text
    assert "/election/lock-by-someone-else" in caplog.text
    e1.stop()


def test_deleting_the_leaders_node_makes_it_step_down(
    zk_connect: Callable[..., KazooClient],
) -> None:
    e1, r1 = contender(zk_connect(), "m1")
    e2, _r2 = contender(zk_connect(), "m2")
    assert e1.wait_leader(10)
    wait_for(lambda: e2.node is not None, what="m2 in line")
    zk_connect().delete(f"/election/{e1.node}")
    assert e2.wait_leader(10)
    # An operator's forced failover: m1 learns of it from its own watch. ZooKeeper orders
    # nothing between two clients' notifications here, so only "m1 stops" is checked.
    wait_for(lambda: r1.revoked and r1.revoked[0][0] == "node deleted", what="m1 revoked")
    wait_for(lambda: e1.node is not None and not e1.is_leader, what="m1 back in line")
    e1.stop()
    e2.stop()


@pytest.mark.slow
def test_kill_9_of_the_leader_process_yields_exactly_one_new_leader(
    zk_hosts: str, zk_chroot: str, zk_client: KazooClient
) -> None:
    procs = [ContenderProc(zk_hosts, zk_chroot, "m0")]
    try:
        procs[0].wait_event("elected")
        procs += [ContenderProc(zk_hosts, zk_chroot, f"m{i}") for i in (1, 2)]
        wait_for(lambda: len(read_contenders(zk_client)) == 3, what="three contenders")
        assert [p.name for p in procs if p.leading] == ["m0"]
        successor = read_contenders(zk_client)[1].address  # m1 or m2: whoever queued first
        procs[0].kill9()
        wait_for(lambda: any(p.leading for p in procs[1:]), timeout=15, what="a new leader")
        for p in procs[1:]:  # each has acted on the line as ZooKeeper has it now
            p.send("check")
            p.wait_event("checked")
        leaders = [p for p in procs[1:] if p.leading]
        assert len(leaders) == 1
        assert f"tcp://{leaders[0].name}" == successor
        leader = read_leader(zk_client)
        assert leader is not None and leader.address == successor
        other = next(p for p in procs[1:] if p is not leaders[0])
        assert all(ev[0] != "elected" for ev in other.history)
    finally:
        for p in procs:
            p.close()


def test_a_leader_watch_whose_session_expired_reports_the_same_leader_again(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """kazoo calls a children watch after a new session only if the children changed:
    with the same leader throughout, the watch must still report it again (an agent cut
    off by a partition long enough for its session to expire learnt no leader after)."""
    e1, _r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    seen: list[str | None] = []
    watcher = zk_connect()
    LeaderWatch(watcher, lambda li: seen.append(li.address if li else None))
    wait_for(lambda: seen == ["tcp://m1:5050"], what="m1 seen")
    expire_session(watcher)
    wait_for(lambda: seen[-1:] == ["tcp://m1:5050"] and None in seen, what="m1 seen again")
    e1.stop()


def test_a_leader_whose_on_elected_fails_abdicates_to_the_next(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """A leader that could not start its work (its master actor failed to start) must
    not keep the place while doing nothing: the next contender leads."""

    def broken(term: int) -> None:
        raise RuntimeError("master actor failed to start")

    e1 = Election(
        zk_connect(),
        LeaderInfo(address="tcp://m1:5050"),
        on_elected=broken,
    ).start()
    wait_for(lambda: e1.node is not None, what="m1 in line")
    e2, r2 = contender(zk_connect(), "m2")
    wait_for(lambda: e2.is_leader, timeout=20, what="m2 leads after m1 failed to start")
    assert r2.elected and not e1.is_leader
    e1.stop()
    e2.stop()


def test_a_standby_that_gives_its_place_up_late_queues_up_again_at_once(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """The lease heartbeat may judge "give up" (session lost) after the reconnection's
    own check already put the standby back in line. Giving the place up then must queue
    it up again by itself: no later event is sure to come, and its old node would sit in
    line with nobody behind it acting for it (CI: a cluster left leaderless after a
    leader SIGKILL, the first node in line a silent master's)."""
    e1, _r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    e2, r2 = contender(zk_connect(), "m2")
    wait_for(lambda: e2.node is not None, what="m2 in line")
    old = e2.node
    e2._put("give up", wait=10)  # what the heartbeat queues on Acting.ABDICATE
    wait_for(lambda: e2.node not in (None, old), what="m2 back in line with a new node")
    names = [c.node for c in read_contenders(e1.client)]
    assert names == [e1.node, e2.node]  # the old node is gone, no second place held
    e1.stop()
    wait_for(lambda: e2.is_leader, what="m2 leads")
    assert len(r2.elected) == 1
    e2.stop()


def test_a_check_told_session_expired_while_connected_checks_again(
    zk_connect: Callable[..., KazooClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kazoo answers SessionExpired to a request sent while it reconnects; the state
    events may have been handled already, so the contender must look again itself."""
    e1, _r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    e2, r2 = contender(zk_connect(), "m2")
    wait_for(lambda: e2.node is not None, what="m2 in line")
    node = e2.node
    real = e2.client.sync
    faults = [SessionExpiredError()]

    def sync(path: str) -> object:
        if faults and threading.current_thread().name.startswith("election-"):
            raise faults.pop()
        return real(path)

    monkeypatch.setattr(e2.client, "sync", sync)
    assert e2.recheck() is False and not faults  # the check met the fault
    wait_for(lambda: e2.node == node, what="m2 back in line with its own node")
    assert [c.node for c in read_contenders(e1.client)] == [e1.node, node]
    e1.stop()
    wait_for(lambda: e2.is_leader, what="m2 leads")
    assert len(r2.elected) == 1
    e2.stop()


def test_a_standby_whose_watch_event_is_lost_still_takes_over(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """A standby re-reads the line once per session timeout by itself: a notification
    lost (to a race, or a watch that never fires) delays its turn by at most that,
    instead of leaving the cluster leaderless with its node first in line."""
    e1, _r1 = contender(zk_connect(), "m1")
    assert e1.wait_leader(10)
    rec = Recorder("m2")
    e2 = Election(
        zk_connect(),
        LeaderInfo(address="tcp://m2:5050"),
        on_elected=rec.on_elected,
        on_revoked=rec.on_revoked,
        session_timeout=2.0,  # the re-read's pace (the client's own session is longer)
    )
    e2._on_watch = lambda event: None  # type: ignore[method-assign]  # every notification lost
    e2.start()
    wait_for(lambda: e2.node is not None, what="m2 in line")
    e1.stop()
    assert [c.node for c in read_contenders(e2.client)] == [e2.node]  # first in line
    wait_for(lambda: e2.is_leader, timeout=10, what="m2 leads without a notification")
    assert len(rec.elected) == 1
    e2.stop()
