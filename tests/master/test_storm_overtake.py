"""A framework's calls are served while a new leader's re-registration storm is queued.

After a failover 10,000 agents re-register at once, each with its tasks; a framework's
SUBSCRIBE or ACCEPT queued behind them waited until every one was applied (tens of
seconds on 2 cores). The master actor now takes the re-registrations off its inbox and
applies them ``STORM_BATCH`` at a time, serving what queued meanwhile between batches.
In-process (a real runtime node, the master actor, one recorder actor standing for
every agent and framework, so the order in which the master sent things is the order
it records); the master is held in a registry write while everything queues.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterActor, MasterConfig, MemoryRegistryStore
from actors.master._master_core import MasterCore
from actors.master._state_json import tasks_json
from actors.resources import Resources
from runtime import ActorRef, Node
from runtime.testing import wait_for
from tests._recorder import Recorder

RES = Resources.parse("cpus:4;mem:4096").to_dict()
TRES = Resources.parse("cpus:0.5;mem:64").to_dict()
REC = "tcp://h:9/rec"
FW = "tcp://h:2/rec"


class GatedStore(MemoryRegistryStore):
    """A framework's record write waits for ``gate``: what is sent meanwhile queues."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.hold = False

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if kind == "frameworks" and self.hold:
            self.hold = False
            assert self.gate.wait(30), "the test never opened the gate"
        super().save(kind, key, doc)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def _docs(n: int) -> list[dict[str, Any]]:
    return [
        {"agent_id": f"a{i}", "hostname": f"h{i}", "address": f"{REC}#{i}", "resources": RES}
        for i in range(n)
    ]


def _rereg(i: int, fid: str, tasks: int) -> p.ReregisterAgent:
    ts = [
        p.AgentTask(
            p.TaskInfo(f"t{i}.{k}", f"t{i}.{k}", f"a{i}", TRES, p.CommandSpec("x")),
            fid,
            "TASK_RUNNING",
        )
        for k in range(tasks)
    ]
    return p.ReregisterAgent(f"a{i}", f"h{i}", f"{REC}#{i}", RES, tasks=ts, copy_id=f"c{i}")


def _master(
    node: Node,
    store: MemoryRegistryStore,
    resolve: Callable[[str], ActorRef] | None = None,
    name: str = "master",
) -> ActorRef:
    """New leader ``m2`` at ``tcp://h:1/master``, no periodic work (600 s away); an
    address resolves to ``resolve``'s answer, else to the node's actor of that name."""

    def by_name(address: str) -> ActorRef:
        return node.ref(address.rsplit("/", 1)[1].split("#")[0])

    return node.spawn(
        MasterActor,
        "m2",
        store,
        address="tcp://h:1/master",
        config=MasterConfig(ping_interval=600.0, agent_reregister_timeout=600.0),
        tick_interval=600.0,
        resolve=resolve or by_name,
        name=name,
    )


def _kinds(seen: list[Any]) -> list[str]:
    return [type(m).__name__ for m in seen]


def test_a_subscribe_and_an_accept_overtake_a_queued_storm(node: Node) -> None:
    agents = 400
    store = GatedStore()
    for doc in _docs(agents + 1):
        store.save("agents", doc["agent_id"], doc)
    rec = node.spawn(Recorder, name="rec")
    master = _master(node, store)
    # Agent `agents` comes back first, alone; the framework subscribes and is offered it.
    master.tell(_rereg(agents, "", 0))
    master.tell(p.Subscribe(p.FrameworkInfo("marathon", failover_timeout=600.0), FW))
    wait_for(lambda: "Offers" in _kinds(rec.ask("seen")), what="an offer")
    seen = rec.ask("seen")
    fid = next(m.framework_id for m in seen if isinstance(m, p.Subscribed))
    offer = next(m for m in seen if isinstance(m, p.Offers)).offers[0]
    # The master is held in a framework's registry write; the storm queues behind it,
    # then a second framework's SUBSCRIBE and the first one's ACCEPT.
    store.hold = True
    master.tell(p.Subscribe(p.FrameworkInfo("blocker", failover_timeout=600.0), FW))
    for i in range(agents - 1):  # the last one's copy was a dead letter
        master.tell(_rereg(i, fid, 5))
    master.tell(p.ReregisterAgentAgain("a0", f"{REC}#0", "c0"))  # behind a0's copy
    master.tell(p.ReregisterAgentAgain(f"a{agents - 1}", f"{REC}#{agents - 1}", "lost"))
    master.tell(p.Subscribe(p.FrameworkInfo("metronome", failover_timeout=600.0), FW))
    task = p.TaskInfo("probe", "probe", offer.agent_id, TRES, p.CommandSpec("sleep 9"))
    master.tell(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", tasks=[task])]))
    mark = len(rec.ask("seen"))
    store.gate.set()
    wait_for(
        lambda: _kinds(rec.ask("seen")[mark:]).count("AgentRegistered") >= agents,
        what="every queued agent re-registered, a0 twice",
    )
    after = _kinds(rec.ask("seen")[mark:])
    first_registered = after.index("AgentRegistered")
    # Both framework calls were served before ANY queued re-registration was applied,
    # and so was the resend of the agent whose copy never came (asked for it at once).
    assert after.index("RunTask") < first_registered
    assert after.count("Subscribed") == 2
    assert max(i for i, k in enumerate(after) if k == "Subscribed") < first_registered
    assert after.index("ReregisterFull") < first_registered
    assert after.count("ReregisterFull") == 1  # a0's resend waited for its copy
    # Nothing was lost: every task is on the books, plus the probe.
    state = master.ask(p.GetState("tasks", {"limit": 10**6}))
    assert len(state["tasks"]) == (agents - 1) * 5 + 1


def _books(core_tasks: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((t["id"], t["slave_id"], t["state"]) for t in core_tasks["tasks"])


def test_the_batched_storm_ends_with_the_same_books_as_one_by_one(node: Node) -> None:
    """Random storms (copies, resends naming a copy, status updates from agents already
    back, framework calls) through the actor equal the same messages handled one by one
    by a bare core, in order."""
    rng = random.Random(29)
    for round_ in range(3):
        agents = rng.randint(50, 200)
        store = GatedStore()
        for doc in _docs(agents):
            store.save("agents", doc["agent_id"], doc)
        ref = node.spawn(Recorder, name=f"rec{round_}")
        fw_store = {"framework_id": "fw", "name": "marathon", "failover_timeout": 600.0}
        store.save("frameworks", "fw", fw_store)

        def resolve(address: str, _ref: ActorRef = ref) -> ActorRef:
            return _ref

        master = _master(node, store, resolve, name=f"master{round_}")
        core = MasterCore(
            "m2",
            MasterConfig(ping_interval=600.0, agent_reregister_timeout=600.0),
            now=0.0,
            recovered_agents=_docs(agents),
            recovered_frameworks=[fw_store],
            address="tcp://h:1/master",
        )
        msgs: list[Any] = []
        back: set[int] = set()
        for _ in range(agents * 3):
            i = rng.randrange(agents)
            roll = rng.random()
            if roll < 0.6:
                msgs.append(_rereg(i, "fw", rng.randint(0, 4)))
                back.add(i)
            elif roll < 0.75:
                msgs.append(p.ReregisterAgentAgain(f"a{i}", f"{REC}#{i}", f"c{i}"))
            elif roll < 0.85 and back:
                j = rng.choice(sorted(back))
                update = p.StatusUpdate(
                    "fw", f"t{j}.0", f"a{j}", "TASK_FINISHED", f"u{rng.random()}", 1.0
                )
                msgs.append(update)
            else:
                msgs.append(p.Reconcile("fw", [f"t{i}.0"]))
        store.hold = True
        master.tell(p.Subscribe(p.FrameworkInfo("blocker", failover_timeout=600.0), FW))
        for m in msgs:
            master.tell(m)
        store.gate.set()
        # A GetState is served ahead of a queued storm; an operator call waits for it.
        master.ask(p.OperatorCall("GET_ROLES"))
        got = master.ask(p.GetState("tasks", {"limit": 10**6}))
        core.handle(p.Subscribe(p.FrameworkInfo("blocker", failover_timeout=600.0), FW), 0.0)
        for m in msgs:
            core.handle(m, 0.0)
        want = tasks_json(core, limit=10**6)
        assert _books(got) == _books(want)
        node.stop(master)


class GatedLoad(MemoryRegistryStore):
    """The agents' registry read waits for ``gate`` (10,000 records take seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.reading = threading.Event()
        self.writes: list[str] = []

    def load(self, kind: str) -> list[dict[str, Any]]:
        if kind == "agents":
            self.reading.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().load(kind)

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.writes.append(f"{kind}/{key}")
        super().save(kind, key, doc)

    def save_many(self, docs: list[tuple[str, str, dict[str, Any]]]) -> None:
        for kind, key, doc in docs:
            self.save(kind, key, doc)


def test_a_new_leader_serves_while_its_agents_registry_is_read(node: Node) -> None:
    """The agents' registry is read off the master actor's thread: agents that come
    back and a framework are served meanwhile; once read, the agents not back yet are
    recovering (announced to), and nothing identical to the registry is written."""
    store = GatedLoad()
    for doc in _docs(30):
        store.save("agents", doc["agent_id"], doc)
    store.writes.clear()
    rec = node.spawn(Recorder, name="rec")
    master = _master(node, store)  # returns while the read is held
    assert store.reading.wait(10)
    for i in range(20):
        master.tell(_rereg(i, "fw", 2))
    master.tell(p.Subscribe(p.FrameworkInfo("marathon", failover_timeout=600.0), FW))
    wait_for(
        lambda: (
            _kinds(rec.ask("seen")).count("AgentRegistered") == 20
            and "Offers" in _kinds(rec.ask("seen"))
        ),
        what="agents back and offers made while the registry is read",
    )
    assert master.ask(p.GetState("metrics"))["recovering"]  # the window stays open
    store.gate.set()
    wait_for(lambda: _kinds(rec.ask("seen")).count("MasterChanged") == 10, what="announced")
    slaves = master.ask(p.GetState("slaves"))["slaves"]
    assert sorted(s["id"] for s in slaves) == sorted(f"a{i}" for i in range(30))
    assert len(master.ask(p.GetState("tasks", {"limit": 1000}))["tasks"]) == 40
    assert [w for w in store.writes if w.startswith("agents/")] == []


def test_a_kill_of_a_task_in_a_queued_reregistration_waits_for_it(node: Node) -> None:
    """A KILL of a task the master knows overtakes the storm; one of a task that only a
    queued re-registration reports waits for it (else it is dropped as unknown during
    recovery, and the task would go on running)."""
    agents = 60
    store = GatedStore()
    for doc in _docs(agents + 1):
        store.save("agents", doc["agent_id"], doc)
    rec = node.spawn(Recorder, name="rec")
    master = _master(node, store)
    master.tell(p.Subscribe(p.FrameworkInfo("marathon", failover_timeout=600.0), FW))
    wait_for(lambda: "Subscribed" in _kinds(rec.ask("seen")), what="subscribed")
    fid = next(m for m in rec.ask("seen") if isinstance(m, p.Subscribed)).framework_id
    master.tell(_rereg(agents, fid, 1))  # known before the storm: t60.0
    wait_for(lambda: "AgentRegistered" in _kinds(rec.ask("seen")), what="a60 back")
    store.hold = True
    master.tell(p.Subscribe(p.FrameworkInfo("blocker", failover_timeout=600.0), FW))
    for i in range(agents):
        master.tell(_rereg(i, fid, 1))
    master.tell(p.Kill(fid, f"t{agents}.0"))  # known
    master.tell(p.Kill(fid, f"t{agents - 1}.0"))  # in the last queued re-registration
    mark = len(rec.ask("seen"))
    store.gate.set()
    wait_for(
        lambda: sum(isinstance(m, p.KillTask) for m in rec.ask("seen")) == 2, what="both kills"
    )
    after = rec.ask("seen")[mark:]
    kills = [i for i, m in enumerate(after) if isinstance(m, p.KillTask)]
    registered = [i for i, m in enumerate(after) if isinstance(m, p.AgentRegistered)]
    assert after[kills[0]].task_id == f"t{agents}.0" and kills[0] < registered[0]
    assert after[kills[1]].task_id == f"t{agents - 1}.0"
    last = next(i for i in registered if after[i].agent_id == f"a{agents - 1}")
    assert kills[1] > last
