"""A resent re-registration names the copy it repeats instead of carrying every task.

After a failover an agent resends its unanswered re-registration (backoff, a ping or an
announcement from the new leader): at 5,000 agents the new leader decoded 10,646 of
them, each with every task. Now a resend of the same facts to the same master is a
``ReregisterAgentAgain`` naming the copy; the master answers it as it answered the copy,
or asks for the whole one (``ReregisterFull``) when the copy never reached it.
Decisions only: the master core and the agent's pure rules (``_register_backoff``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.agent._register_backoff import CopySent, facts_digest, repeat_of
from actors.master import _agents
from actors.master._master_core import MasterCore, Send
from actors.master._state_json import tasks_json
from actors.resources import Resources
from tests.master._storm_kit import FID, RES, new_leader
from tests.master._storm_kit import agent_address as _addr

TRES = Resources.parse("cpus:0.5;mem:64").to_dict()
MASTER = "tcp://127.0.0.1:5050/master"


def _new_leader(agents: int) -> MasterCore:
    return new_leader(agents, reregister_timeout=600.0, address=MASTER)


def _task(i: int, tid: str, state: str = "TASK_RUNNING") -> p.AgentTask:
    return p.AgentTask(p.TaskInfo(tid, tid, f"a{i}", TRES, p.CommandSpec("x")), FID, state)


def _sent(out: list[Any]) -> list[Any]:
    return [e.message for e in out if isinstance(e, Send)]


def test_a_resend_naming_the_copy_taken_in_is_answered() -> None:
    core = _new_leader(2)
    full = p.ReregisterAgent("a0", "h0", _addr(0), RES, tasks=[_task(0, "t1")], copy_id="c1")
    core.handle(full, 1.0)
    out = core.handle(p.ReregisterAgentAgain("a0", _addr(0), "c1"), 2.0)
    assert [type(m) for m in _sent(out)] == [p.AgentRegistered]
    assert core.agents["a0"].used == Resources.from_dict(TRES)  # not adopted twice


def test_a_resend_naming_a_copy_never_taken_in_asks_for_the_whole_one() -> None:
    core = _new_leader(2)
    # a1's copy was a dead letter (sent before this leader's actor ran): still recovering.
    out = core.handle(p.ReregisterAgentAgain("a1", _addr(1), "c9"), 1.0)
    assert _sent(out) == [p.ReregisterFull(MASTER, "m2")]
    assert core.agents["a1"].recovering
    # An older copy than the one taken in, an unknown agent, an empty copy id: the same.
    core.handle(p.ReregisterAgent("a0", "h0", _addr(0), RES, copy_id="c2"), 2.0)
    for again in (
        p.ReregisterAgentAgain("a0", _addr(0), "c1"),
        p.ReregisterAgentAgain("zz", _addr(5), "c2"),
        p.ReregisterAgentAgain("a0", _addr(0), ""),
    ):
        assert _sent(core.handle(again, 3.0)) == [p.ReregisterFull(MASTER, "m2")]


def test_an_unreachable_agent_must_send_its_whole_reregistration() -> None:
    core = _new_leader(1)
    core.handle(p.ReregisterAgent("a0", "h0", _addr(0), RES, copy_id="c1"), 1.0)
    out: list[Any] = []
    _agents.mark_unreachable(core, core.agents["a0"], 2.0, out, "test")
    again = core.handle(p.ReregisterAgentAgain("a0", _addr(0), "c1"), 3.0)
    assert _sent(again) == [p.ReregisterFull(MASTER, "m2")]


def test_a_bad_address_is_refused_with_a_clear_error() -> None:
    core = _new_leader(1)
    out = core.handle(p.ReregisterAgentAgain("a0", 7, "c1"), 1.0)  # type: ignore[arg-type]
    assert _sent(out) == []
    assert any("ReregisterAgentAgain.address: 7" in e for e in core.errors)


def test_the_agent_names_a_copy_only_to_its_master_and_for_the_same_facts() -> None:
    d1 = facts_digest(RES, {}, {}, [(FID, "t1", "TASK_RUNNING", None)])
    d2 = facts_digest(RES, {}, {}, [(FID, "t1", "TASK_FINISHED", None)])
    last = CopySent(MASTER, "c1", d1)
    assert repeat_of(last, MASTER, d1) == "c1"
    assert repeat_of(last, MASTER, d2) is None  # a task changed: the whole copy
    assert repeat_of(last, "tcp://other:1/master", d1) is None  # another master
    assert repeat_of(None, MASTER, d1) is None


@dataclass
class _Agent:
    """The agent's side of (re-)registration, by the rules ``AgentActor`` applies."""

    i: int
    tasks: dict[str, str]
    registered: bool = False
    copy: CopySent | None = None
    fulls: int = 0

    def message(self, again_allowed: bool) -> Any:
        tasks = [_task(self.i, tid, st) for tid, st in sorted(self.tasks.items())]
        digest = facts_digest(
            RES, {}, {}, ((t.framework_id, t.task.task_id, t.state, t.healthy) for t in tasks)
        )
        repeat = repeat_of(self.copy, MASTER, digest) if again_allowed else None
        if repeat is not None:
            return p.ReregisterAgentAgain(f"a{self.i}", _addr(self.i), repeat)
        self.fulls += 1
        copy_id = f"a{self.i}-{self.fulls}"
        self.copy = CopySent(MASTER, copy_id, digest)
        return p.ReregisterAgent(
            f"a{self.i}", f"h{self.i}", _addr(self.i), RES, tasks=tasks, copy_id=copy_id
        )


@dataclass
class _World:
    core: MasterCore
    agents: list[_Agent]
    again_allowed: bool
    wire: list[Any] = field(default_factory=list)

    def deliver(self, m: Any, now: float) -> None:
        for reply in _sent(self.core.handle(m, now)):
            if isinstance(reply, p.AgentRegistered):
                a = self.agents[int(reply.agent_id[1:])]
                a.registered, a.copy = True, None
            elif isinstance(reply, p.ReregisterFull):
                a = self.agents[int(m.agent_id[1:])]
                a.registered, a.copy = False, None
                self.wire.append(a.message(self.again_allowed))


def _books(core: MasterCore) -> list[tuple[str, str, str]]:
    doc = tasks_json(core, limit=10**6)
    return sorted((t["id"], t["slave_id"], t["state"]) for t in doc["tasks"])


def test_random_storms_end_with_the_same_books_with_and_without_naming_copies() -> None:
    """Random resends, losses (a dead letter) and task changes while waiting: the
    master's books end equal whether resends name their copy or carry every task, and
    every agent ends registered; naming copies sends fewer whole copies."""
    fulls = {False: 0, True: 0}
    for seed in range(20):
        rng = random.Random(seed)
        n = rng.randint(3, 12)
        plans = [{f"t{i}.{k}": "TASK_RUNNING" for k in range(rng.randint(0, 4))} for i in range(n)]
        script = [
            (rng.randrange(n), rng.random(), rng.random(), rng.random()) for _ in range(n * 8)
        ]
        worlds = []
        for again_allowed in (False, True):
            w = _World(_new_leader(n), [_Agent(i, dict(plans[i])) for i in range(n)], again_allowed)
            now = 1.0
            for i, roll, lose, pick in script:
                a = w.agents[i]
                now += 0.1
                if roll < 0.2 and a.tasks and not a.registered:
                    tid = sorted(a.tasks)[int(pick * len(a.tasks))]
                    a.tasks[tid] = "TASK_FINISHED"  # reported (unacknowledged) while waiting
                elif not a.registered:
                    m = a.message(again_allowed)
                    if lose >= 0.25:  # else: a dead letter
                        w.wire.append(m)
                while w.wire:
                    w.deliver(w.wire.pop(0), now)
            for a in w.agents:  # the backoff resends until answered
                while not a.registered:
                    w.wire.append(a.message(again_allowed))
                    while w.wire:
                        w.deliver(w.wire.pop(0), now)
            worlds.append(w)
        old, new = worlds
        assert _books(new.core) == _books(old.core), seed
        assert all(not a.recovering for a in new.core.agents.values())
        for w in worlds:
            fulls[w.again_allowed] += sum(a.fulls for a in w.agents)
    assert fulls[True] < fulls[False], fulls
