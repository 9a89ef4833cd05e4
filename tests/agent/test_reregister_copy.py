"""An agent resending its re-registration names the copy instead of every task.

A real ``AgentActor`` on a runtime node; the master is a recorder actor the test answers
for (so which message the agent sends, and when, is what it records): after a master
change the agent sends its whole re-registration once; a ping from the new master while
unanswered is answered with ``ReregisterAgentAgain`` naming that copy; ``ReregisterFull``
brings the whole one again (new copy id); a task that changed meanwhile makes the next
resend whole; an answer ends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import AgentActor, GetAgentState
from actors.resources import Resources
from runtime import ActorRef, Node
from runtime.testing import wait_for
from tests._recorder import Recorder

NEW = "tcp://h:1/newmaster"


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def _sent(master: ActorRef, kind: type) -> list[Any]:
    return [m for m in master.ask("seen") if isinstance(m, kind)]


def test_resends_name_the_copy_until_asked_for_the_whole_one(node: Node) -> None:
    old = node.spawn(Recorder, name="oldmaster")
    new = node.spawn(Recorder, name="newmaster")

    def resolve(address: str) -> ActorRef:
        return node.ref(address.rsplit("/", 1)[1])

    agent = node.spawn(
        AgentActor,
        hostname="agent0",
        address="tcp://h:1/agent0",
        resources=Resources.parse("cpus:2;mem:1024"),
        master="tcp://h:1/oldmaster",
        resolve=resolve,
        register_retry_interval=600.0,  # resends only when the test asks (pings)
        name="agent0",
    )
    wait_for(lambda: _sent(old, p.RegisterAgent), what="registration")
    agent.tell(p.AgentRegistered("a0", "m1", 60.0))
    task = p.TaskInfo("t1", "t1", "a0", {"cpus": 0.5, "mem": 32}, p.CommandSpec("sleep 9"))
    agent.tell(p.RunTask("fw", "tcp://h:2/fw", task))
    wait_for(lambda: _sent(old, p.StatusUpdate), what="the task running")
    # Failover: the leader watch names the new master; the whole re-registration goes.
    agent.tell(p.MasterChanged(NEW))
    wait_for(lambda: _sent(new, p.ReregisterAgent), what="a re-registration")
    first = _sent(new, p.ReregisterAgent)[0]
    assert [at.task.task_id for at in first.tasks] == ["t1"] and first.copy_id
    # Unanswered; the new master announces itself: the resend names the copy.
    agent.tell(p.MasterChanged(NEW, "m2"))
    wait_for(lambda: _sent(new, p.ReregisterAgentAgain), what="a resend")
    again = _sent(new, p.ReregisterAgentAgain)[0]
    assert (again.agent_id, again.address, again.copy_id) == (
        "a0",
        "tcp://h:1/agent0",
        first.copy_id,
    )
    assert len(_sent(new, p.ReregisterAgent)) == 1
    # The master never got that copy: it asks for the whole one.
    agent.tell(p.ReregisterFull(NEW, "m2"))
    wait_for(lambda: len(_sent(new, p.ReregisterAgent)) == 2, what="the whole copy again")
    second = _sent(new, p.ReregisterAgent)[1]
    assert second.copy_id != first.copy_id and len(second.tasks) == 1
    # A ReregisterFull from a master the agent no longer follows is ignored.
    agent.tell(p.ReregisterFull("tcp://h:1/oldmaster", "m1"))
    agent.tell(p.AgentRegistered("a0", "m2", 60.0))
    wait_for(lambda: bool(agent.ask(GetAgentState())["registered"]), what="registered")
    assert len(_sent(new, p.ReregisterAgent)) == 2
