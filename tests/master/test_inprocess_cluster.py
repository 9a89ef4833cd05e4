"""Master, agents and a framework as real actors in one process (local refs).

The network transport is exercised elsewhere; here the actor shells around the pure
cores are: effects carried out in order, acknowledgements end to end, failover.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import AgentActor, GetAgentState
from actors.framework import Scheduler, SchedulerDriver
from actors.master import MasterActor, MasterConfig, MemoryRegistryStore
from actors.protocol import GetState
from actors.resources import Resources
from runtime import ActorRef, Node
from runtime.testing import wait_for as _shared_wait_for

wait_for = functools.partial(_shared_wait_for, retry_errors=False)
"""The suite's one wait_for (runtime.testing); a poll that raises fails at once here."""


@pytest.fixture
def node() -> Iterator[Node]:
    fatal: list[Any] = []
    n = Node("test", on_fatal=fatal.append)
    yield n
    n.shutdown(timeout=5)


def _no_pending_updates(agent: ActorRef) -> bool:
    return bool(agent.ask(GetAgentState())["pending_updates"] == 0)


def resolver(node: Node) -> Callable[[str], ActorRef]:
    return lambda address: node.ref(address.rsplit("/", 1)[1])


class Runner(Scheduler):
    """Launches ``n`` one-shot tasks (they finish at once) and records every update."""

    def __init__(self, n: int, exit_state: str = "TASK_FINISHED") -> None:
        self.n = n
        self.launched = 0
        self.exit_state = exit_state
        self.updates: list[p.StatusUpdate] = []
        self.done = threading.Event()
        self.finished: set[str] = set()
        self.errors: list[str] = []

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        for offer in offers:
            tasks = []
            free = Resources.from_dict(offer.resources)
            need = Resources.parse("cpus:0.5;mem:32")
            while self.launched < self.n and free.contains(need):
                tasks.append(
                    p.TaskInfo(
                        f"task-{self.launched}",
                        "t",
                        offer.agent_id,
                        need.to_dict(),
                        p.CommandSpec("true"),
                        labels={"pydcos.simulated.exit": self.exit_state}
                        if self.exit_state
                        else {},
                    )
                )
                free = free - need
                self.launched += 1
            if tasks:
                driver.launch([offer.offer_id], tasks)
            else:
                driver.decline([offer.offer_id], refuse_seconds=60)

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        self.updates.append(update)
        if update.state == self.exit_state:
            self.finished.add(update.task_id)
            if len(self.finished) == self.n:
                self.done.set()

    def error(self, driver: SchedulerDriver, message: str) -> None:
        self.errors.append(message)


def start_cluster(node: Node, store: MemoryRegistryStore, agents: int = 2) -> list[ActorRef]:
    resolve = resolver(node)
    node.spawn(
        MasterActor,
        "m1",
        store,
        address="tcp://h:1/master",
        config=MasterConfig(ping_interval=0.2),
        resolve=resolve,
        name="master",
    )
    return [
        node.spawn(
            AgentActor,
            hostname=f"agent{i}",
            address=f"tcp://h:1/agent{i}",
            resources=Resources.parse("cpus:2;mem:1024"),
            master="tcp://h:1/master",
            resolve=resolve,
            update_retry_interval=0.2,
            name=f"agent{i}",
        )
        for i in range(agents)
    ]


def test_framework_runs_tasks_to_completion_across_agents(node: Node) -> None:
    store = MemoryRegistryStore()
    agents = start_cluster(node, store)
    sched = Runner(6)
    driver = SchedulerDriver(
        sched,
        p.FrameworkInfo("runner"),
        node,
        master="tcp://h:1/master",
        address="tcp://h:1/fw",
        resolve=resolver(node),
        name="fw",
    ).start()
    assert driver.wait_subscribed(5)
    assert sched.done.wait(10), sched.updates
    # Every update was acknowledged: the agents forget finished tasks.
    for a in agents:
        wait_for(functools.partial(_no_pending_updates, a), what="acks")
    state = node.ref("master").ask(GetState("state"))
    assert state["activated_slaves"] == 2
    assert {s["hostname"] for s in state["slaves"]} == {"agent0", "agent1"}
    assert len(store.load("agents")) == 2 and len(store.load("frameworks")) == 1
    assert sched.errors == []
    driver.stop()


def test_unacknowledged_updates_are_resent_until_acknowledged(node: Node) -> None:
    store = MemoryRegistryStore()
    start_cluster(node, store, agents=1)
    sched = Runner(1, exit_state="TASK_FAILED")
    driver = SchedulerDriver(
        sched,
        p.FrameworkInfo("lazy"),
        node,
        master="tcp://h:1/master",
        address="tcp://h:1/fw",
        resolve=resolver(node),
        name="fw",
        auto_acknowledge=False,
    ).start()
    assert driver.wait_subscribed(5)
    # RUNNING is the head of the task's stream; without an ack it comes again.
    wait_for(
        lambda: len([u for u in sched.updates if u.state == "TASK_RUNNING"]) >= 2, what="resend"
    )
    first = sched.updates[0]
    driver.acknowledge(first)
    driver.acknowledge(first)  # a second ack of the same update is harmless
    wait_for(lambda: any(u.state == "TASK_FAILED" for u in sched.updates), what="next update")
    failed = next(u for u in sched.updates if u.state == "TASK_FAILED")
    driver.acknowledge(failed)
    wait_for(
        lambda: node.ref("agent0").ask(GetAgentState())["pending_updates"] == 0, what="drained"
    )
    driver.stop()


def test_new_master_learns_running_tasks_from_agents_and_the_framework_keeps_its_id(
    node: Node,
) -> None:
    store = MemoryRegistryStore()
    start_cluster(node, store, agents=1)
    sched = Runner(2, exit_state="")  # tasks keep running
    driver = SchedulerDriver(
        sched,
        p.FrameworkInfo("svc", failover_timeout=60),
        node,
        master="tcp://h:1/master",
        address="tcp://h:1/fw",
        resolve=resolver(node),
        name="fw",
    ).start()
    assert driver.wait_subscribed(5)
    wait_for(
        lambda: len([u for u in sched.updates if u.state == "TASK_RUNNING"]) == 2, what="running"
    )
    fid = driver.framework_id
    # The leader dies; a new one starts from the same registry under another name.
    node.stop(node.ref("master"))
    node.spawn(
        MasterActor,
        "m2",
        store,
        address="tcp://h:1/master2",
        config=MasterConfig(ping_interval=0.2, agent_reregister_timeout=5),
        resolve=resolver(node),
        name="master2",
    )
    node.ref("agent0").tell(p.MasterChanged("tcp://h:1/master2"))
    driver.master_changed("tcp://h:1/master2")
    wait_for(lambda: driver.master_id == "m2", what="re-subscription")
    assert driver.framework_id == fid
    state = wait_for(
        lambda: (s := node.ref("master2").ask(GetState("tasks")))["tasks"] and s,
        what="tasks known to the new master",
    )
    assert sorted(t["id"] for t in state["tasks"]) == ["task-0", "task-1"]
    assert {t["state"] for t in state["tasks"]} == {"TASK_RUNNING"}
    driver.stop(failover=True)


def test_a_restarted_master_actor_keeps_agents_tasks_and_framework(node: Node) -> None:
    """The supervisor restarts a crashed master actor with a fresh master id; it announces
    itself, so agents re-register with their tasks and the framework re-subscribes,
    instead of the agents being declared unreachable after the re-registration window."""
    from runtime import ChildSpec

    store = MemoryRegistryStore()
    resolve = resolver(node)
    node.root.start_child(
        ChildSpec(
            "master",
            MasterActor,
            args=(None, store),
            kwargs={
                "address": "tcp://h:1/master",
                "config": MasterConfig(ping_interval=0.1, agent_reregister_timeout=1.0),
                "resolve": resolve,
            },
            name="master",
        )
    )
    node.spawn(
        AgentActor,
        hostname="agent0",
        address="tcp://h:1/agent0",
        resources=Resources.parse("cpus:2;mem:1024"),
        master="tcp://h:1/master",
        resolve=resolve,
        update_retry_interval=0.2,
        register_retry_interval=0.2,
        name="agent0",
    )
    sched = Runner(2, exit_state="")
    driver = SchedulerDriver(
        sched,
        p.FrameworkInfo("svc", failover_timeout=60),
        node,
        master="tcp://h:1/master",
        address="tcp://h:1/fw",
        resolve=resolve,
        name="fw",
    ).start()
    assert driver.wait_subscribed(5)
    wait_for(lambda: sum(u.state == "TASK_RUNNING" for u in sched.updates) == 2, what="running")
    first_master = driver.master_id
    node.stop(node.ref("master"))  # the permanent child comes back as a new instance
    wait_for(lambda: driver.master_id not in (None, first_master), what="re-subscription")
    state = wait_for(
        lambda: (s := node.ref("master").ask(GetState("tasks")))["tasks"] and s,
        what="tasks known to the restarted master",
    )
    assert sorted(t["id"] for t in state["tasks"]) == ["task-0", "task-1"]
    # The re-registration window is over (nothing left to expire: the agent came back),
    # and the agent is still active.
    wait_for(
        lambda: not node.ref("master").ask(GetState("metrics"))["recovering"],
        what="the re-registration window to close",
    )
    slaves = node.ref("master").ask(GetState("slaves"))["slaves"]
    assert [s["active"] for s in slaves] == [True]
    driver.stop(failover=True)
