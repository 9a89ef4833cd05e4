"""DnsActor against fake leading masters on one real node: subscription, the table
served, seq gaps, and a failover that must not flush the records."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest

from actors.dns import DnsActor, DnsConfig, DnsLeaderChanged
from actors.protocol import MasterEvent, WatchMaster
from runtime import Actor, ActorRef, Node
from runtime.testing import wait_for
from tests.dns._events import subscribed, task_added, task_updated, v1_task
from transport import Security


class FakeMaster(Actor):
    """Records who watches; the test decides what is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.watchers: list[str] = []
        self.lock = threading.Lock()

    def receive(self, message: Any) -> Any:
        if isinstance(message, WatchMaster):
            with self.lock:
                self.watchers.append(message.subscriber)
            return None
        return super().receive(message)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("dns-test")
    n.listen(security=Security.plain(), heartbeat_interval=0.2, heartbeat_timeout=1.0)
    yield n
    n.shutdown(5)


def spawn_dns(node: Node, leader_address: Callable[[], str | None], **kw: Any) -> ActorRef:
    """A DnsActor named ``dns`` on a free port, no upstream."""
    return node.spawn(
        DnsActor,
        name="dns",
        config=DnsConfig(),
        host="127.0.0.1",
        port_of=lambda: 0,
        upstreams=[],
        leader_address=leader_address,
        **kw,
    )


def srv(port: int) -> tuple[str, list[int]]:
    q = dns.message.make_query("_web-shop._tcp.marathon.mesos", "SRV")
    reply = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    return dns.rcode.to_text(reply.rcode()), sorted(rd.port for rr in reply.answer for rd in rr)


def test_follows_the_leader_through_gaps_and_a_failover(node: Node) -> None:
    m1 = node.spawn(FakeMaster, name="master-a")
    m2 = node.spawn(FakeMaster, name="master-b")
    a1, a2 = node.actor_address("master-a"), node.actor_address("master-b")
    servers: list[Any] = []
    spawn_dns(node, lambda: a1, publish=servers.append)
    fake1: FakeMaster = m1._actor  # type: ignore[attr-defined]
    fake2: FakeMaster = m2._actor  # type: ignore[attr-defined]
    me = wait_for(lambda: fake1.watchers and fake1.watchers[0], 5, "WatchMaster")
    port = servers[0].port
    # no state yet: SERVFAIL, never NXDOMAIN
    assert srv(port)[0] == "SERVFAIL"

    dns_ref = node.ref(me)
    tasks = [v1_task(f"w.{i}", ports=(31000 + i,)) for i in range(3)]
    dns_ref.tell(MasterEvent(subscribed(tasks), "m1", 1))
    wait_for(lambda: srv(port) == ("NOERROR", [31000, 31001, 31002]), 5, "3 SRV records")
    dns_ref.tell(MasterEvent(task_updated("w.1", "TASK_KILLED"), "m1", 2))
    wait_for(lambda: srv(port)[1] == [31000, 31002], 5, "w.1 gone")

    # a gap (seq 3 lost): the actor asks for a fresh subscription; old table still serves
    n_before = len(fake1.watchers)
    dns_ref.tell(MasterEvent(task_added(v1_task("w.9", ports=(31009,))), "m1", 4))
    wait_for(lambda: len(fake1.watchers) > n_before, 5, "a new WatchMaster after the gap")
    assert srv(port)[1] == [31000, 31002]
    dns_ref.tell(MasterEvent(subscribed([tasks[0], tasks[2]]), "m1", 1))

    # failover: the new leader's first state knows no task yet (agents re-registering)
    node.ref("dns").tell(DnsLeaderChanged(a2))
    wait_for(lambda: fake2.watchers, 5, "WatchMaster to the new leader")
    dns_ref.tell(MasterEvent(subscribed([], agents=[]), "m2", 1))
    # events of the old subscription are ignored from now on
    dns_ref.tell(MasterEvent(task_updated("w.0", "TASK_KILLED"), "m1", 2))
    dns_ref.tell(MasterEvent(task_added(v1_task("w.2", ports=(31002,))), "m2", 2))
    wait_for(lambda: srv(port) == ("NOERROR", [31000, 31002]), 5, "names kept over the failover")
    dns_ref.tell(MasterEvent(task_updated("w.2", "TASK_KILLED"), "m2", 3))
    wait_for(lambda: srv(port)[1] == [31000], 5, "w.2 killed under the new leader")


def test_a_subscribe_that_found_no_master_actor_is_sent_again(node: Node) -> None:
    """A standby learns of a new leader before that master's actor runs (it reads its
    registry first): the first WatchMaster is a dead letter. The DNS sends the same
    subscription again (``WatchFollower`` probes a new leader) until one arrives."""
    late = node.actor_address("master-late")
    actor: DnsActor = spawn_dns(node, lambda: late)._actor  # type: ignore[attr-defined]
    wait_for(lambda: actor.follower.watching == late, 5, "a first WatchMaster (lost)")
    master = node.spawn(FakeMaster, name="master-late")
    fake: FakeMaster = master._actor  # type: ignore[attr-defined]
    wait_for(lambda: fake.watchers, 10, "the WatchMaster sent again to the late master")
