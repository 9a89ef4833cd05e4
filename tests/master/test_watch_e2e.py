"""The master state watch across real processes: a `pydcos master` and a `pydcos agent`
(ZooKeeper, ZeroMQ), a watcher actor and a framework in this process."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import protocol as p
from actors.resources import Resources
from runtime import Actor, connect
from tests.e2e.conftest import SESSION_TIMEOUT, E2ECluster, wait_for

pytestmark = pytest.mark.slow


class Watcher(Actor):
    """Collects the MasterEvents it is sent."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.sink = sink

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.MasterEvent):
            with self.sink.lock:
                self.sink.got.append(message)
        return None


class Sink:
    def __init__(self) -> None:
        self.got: list[p.MasterEvent] = []
        self.lock = threading.Lock()


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", Path(tmp_path_factory.mktemp("w")))
    try:
        c.start(masters=1, agents=1)
        yield c
    finally:
        c.stop_all()


def test_a_watcher_gets_the_state_then_each_change_numbered(cluster: E2ECluster) -> None:
    handle = connect(cluster.url, insecure_dev=True, session_timeout=SESSION_TIMEOUT)
    try:
        watcher = Sink()
        handle.node.spawn(Watcher, watcher, name="watcher")
        me = handle.node.actor_address("watcher")
        handle.actor("master").tell(p.WatchMaster(me))

        def events() -> list[p.MasterEvent]:
            with watcher.lock:
                return list(watcher.got)

        wait_for(lambda: events(), 20, "SUBSCRIBED")
        sub = events()[0]
        assert sub.seq == 1 and sub.event["type"] == "SUBSCRIBED"
        (agent,) = sub.event["subscribed"]["get_state"]["get_agents"]["agents"]
        assert agent["agent_info"]["hostname"] == "agent-1"

        fw = cluster.framework("watched")
        (offer, *_) = fw.wait_offers()
        task = p.TaskInfo(
            "w1",
            "w1",
            offer.agent_id,
            Resources.parse("cpus:0.1;mem:32").to_dict(),
            p.CommandSpec("sleep 100"),
        )
        fw.driver.launch([offer.offer_id], [task])

        def running() -> bool:
            return any(
                e.event["type"] == "TASK_UPDATED"
                and e.event["task_updated"]["state"] == "TASK_RUNNING"
                for e in events()
            )

        wait_for(running, 20, "TASK_UPDATED TASK_RUNNING")
        got = events()
        # Only this test's framework and task: the leader's own services (Marathon,
        # Metronome...) may register at any moment around them.
        mine = [
            e.event["type"]
            for e in got
            if e.event["type"] == "SUBSCRIBED"
            or (
                e.event["type"] == "FRAMEWORK_ADDED"
                and e.event["framework_added"]["framework"]["framework_info"]["name"] == "watched"
            )
            or e.event["type"] == "TASK_ADDED"
        ]
        assert mine[:3] == ["SUBSCRIBED", "FRAMEWORK_ADDED", "TASK_ADDED"]
        assert [e.seq for e in got] == list(range(1, len(got) + 1))
        added = next(e for e in got if e.event["type"] == "TASK_ADDED")
        assert added.event["task_added"]["task"]["task_id"] == {"value": "w1"}

        handle.actor("master").tell(p.UnwatchMaster(me))
        # An answered ask on the same connection: the master has applied the Unwatch
        # (one inbox, in order) before the framework's teardown, which travels on the
        # framework's own connection and could otherwise overtake it.
        handle.actor("master").ask(p.GetState("metrics"), timeout=20)
        fw.close(teardown=True)

        # The teardown is applied (the framework is gone) and nothing more arrives here.
        def removed() -> bool:
            names = [f["name"] for f in cluster.get("frameworks")["frameworks"]]
            return "watched" not in names

        wait_for(removed, 20, "framework removed")
        assert not any(e.event["type"] == "FRAMEWORK_REMOVED" for e in events())
    finally:
        handle.close()
