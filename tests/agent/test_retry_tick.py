"""The agent's retry tick runs only while something waits for the master.

An ``AgentActor`` on a real ``Node`` with a recording master: registered and idle, it
has no tick armed; an unacknowledged status update arms it and is sent again after
``update_retry_interval``; the acknowledgement disarms it; losing the master arms it for
the registration retries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import AgentActor, GetAgentState, SimulatedRunner
from actors.resources import Resources
from runtime import ActorRef, Node
from tests._wait import wait_for as _shared_wait_for
from tests.agent.conftest import RecordingMaster

wait_for = functools.partial(_shared_wait_for, retry_errors=False)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test")
    yield n
    n.shutdown(timeout=5)


def _updates(log: list[Any], task_id: str) -> list[p.StatusUpdate]:
    return [m for m in list(log) if isinstance(m, p.StatusUpdate) and m.task_id == task_id]


def test_the_retry_tick_is_armed_only_while_the_master_owes_an_answer(node: Node) -> None:
    log: list[Any] = []
    node.spawn(RecordingMaster, log, name="master")
    agent: ActorRef = node.spawn(
        AgentActor,
        hostname="h",
        address="tcp://h:1/agent",
        resources=Resources.parse("cpus:4;mem:4096"),
        runner=SimulatedRunner(),
        master="tcp://h:1/master",
        resolve=lambda address: node.ref(address.rsplit("/", 1)[1]),
        update_retry_interval=0.4,
        register_retry_interval=0.2,
        name="agent",
    )

    def state() -> dict[str, Any]:
        return agent.ask(GetAgentState(), timeout=5)  # type: ignore[no-any-return]

    wait_for(lambda: state()["registered"], 5, "registration")
    wait_for(lambda: not state()["retrying"], 5, "the tick disarmed once registered and idle")

    res = Resources.parse("cpus:0.1;mem:32").to_dict()
    task = p.TaskInfo("t1", "t1", "agent-1", res, p.CommandSpec("sleep 600"))
    agent.tell(p.RunTask("fw-1", "tcp://fw:1/fw", task))
    first = wait_for(lambda: _updates(log, "t1"), 5, "the first update")[0]
    assert state()["retrying"]
    # not acknowledged: the same update (same uuid) comes again
    wait_for(lambda: sum(u.uuid == first.uuid for u in _updates(log, "t1")) >= 2, 5, "a resend")

    # acknowledge everything the agent sends until it has nothing left to say
    def settled() -> bool:
        for u in _updates(log, "t1"):
            agent.tell(p.StatusUpdateAck(u.framework_id, u.agent_id, u.task_id, u.uuid))
        s = state()
        return s["pending_updates"] == 0 and not s["retrying"]

    wait_for(settled, 5, "acknowledged and disarmed")
    sent = len(log)
    # losing the master arms the tick for the registration retries
    agent.tell(p.MasterChanged(None))
    wait_for(lambda: state()["retrying"] and not state()["registered"], 5, "armed unregistered")
    agent.tell(p.MasterChanged("tcp://h:1/master"))
    wait_for(lambda: state()["registered"], 5, "registered again")
    wait_for(lambda: not state()["retrying"], 5, "disarmed again")
    assert any(isinstance(m, p.ReregisterAgent) for m in log[sent:])


def test_an_unacknowledged_update_is_resent_with_a_doubling_wait_up_to_the_max() -> None:
    """Mesos' status update manager: the first resend after ``update_retry_interval``,
    then twice as long each time up to ``update_retry_max``; a new head (the previous one
    acknowledged) starts again from the interval."""
    from actors.agent._agent_actor import retry_wait

    waits = [retry_wait(0.0, 10.0, 60.0, again=False)]
    for _ in range(5):
        waits.append(retry_wait(waits[-1], 10.0, 60.0, again=True))
    assert waits == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    assert retry_wait(60.0, 10.0, 60.0, again=False) == 10.0  # the next head
    assert retry_wait(0.0, 10.0, 5.0, again=True) == 10.0  # a max below the interval
