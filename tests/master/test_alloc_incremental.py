"""Incremental allocation cycles (session 10): the master hands the allocator only the
agents that changed (``AgentTable.changed``, marked by ``AgentRecord.__setattr__``), the
allocator visits only those, the agents it offered last time and the filtered agents whose
filter came due (``AllocMemo``), and decline filters leave the index through a heap
(``allocator.FilterIndex``). None of that may change an offer: on random sequences (agents
registering, re-registering with other resources, updating their totals, missing pings;
frameworks subscribing, declining with filters of every length, accepting with refusals,
reviving and suppressing; tasks ending), every cycle the master runs is compared with a
cycle from scratch over a snapshot built from the master's records themselves (fresh
views of every agent, no memo, no filter index): same offers in the same order, same
rejection rows."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MasterCore, _offers
from actors.master._effects import Send
from actors.master._state import AgentTable
from actors.master.allocator import (
    Agent,
    AllocMemo,
    ClusterSnapshot,
    Framework,
    allocate,
)
from actors.resources import Resources

ROLES = ("*", "web")


def _truth(c: MasterCore) -> ClusterSnapshot:
    """What the cluster is, from the records alone (nothing the memo kept)."""
    agents = [
        Agent(
            agent_id=a.agent_id,
            hostname=a.hostname,
            total=a.total,
            allocated=a.used + a.offered,
            attributes=a.attributes,
            reachable=a.reachable and not a.recovering,
        )
        for a in c.agents.values()
    ]
    held: dict[str, dict[str, list[Resources]]] = {}
    for t in c.tasks.values():
        held.setdefault(t.framework_id, {}).setdefault(t.role, []).append(t.resources)
    for o in c.offers.values():
        held.setdefault(o.framework_id, {}).setdefault(o.role, []).append(o.resources)
    frameworks = [
        Framework(
            framework_id=fw.framework_id,
            roles=tuple(fw.info.roles),
            active=fw.connected,
            suppressed_roles=frozenset(fw.info.roles)
            if fw.suppressed
            else frozenset(fw.suppressed_roles),
            filters=tuple(fw.filters),
            # Summed anew from its tasks and outstanding offers (the master's books
            # add and subtract per cycle and per Decline, in batches).
            allocation={
                role: Resources.sum(parts) for role, parts in held.get(fw.framework_id, {}).items()
            },
        )
        for fw in c.frameworks.values()
    ]
    return ClusterSnapshot(agents=agents, frameworks=frameworks, weights=c.weights, quotas=c.quotas)


class World:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.now = 0.0
        self.core = MasterCore(
            "m", MasterConfig(ping_interval=1.0, max_missed_pings=2), now=0.0, address="m"
        )
        self.fids: list[str] = []
        self.offers: list[p.Offer] = []
        self.tasks: list[tuple[str, str, str, dict[str, float]]] = []
        self.seq = 0

    def handle(self, msg: Any) -> None:
        self.take(self.core.handle(msg, self.now))

    def take(self, out: list[Any]) -> None:
        for e in out:
            if isinstance(e, Send) and isinstance(e.message, p.Offers):
                self.offers += e.message.offers
            if isinstance(e, Send) and isinstance(e.message, p.Ping) and self.rnd.random() < 0.97:
                aid = next(a.agent_id for a in self.core.agents.values() if a.address == e.to)
                self.core.handle(p.Pong(aid, e.message.seq), self.now)

    def resources(self) -> dict[str, Any]:
        r = self.rnd
        text = f"cpus:{r.choice((1, 2, 4, 8))};mem:{r.choice((512, 2048, 8192))}"
        text += ";ports:[31000-31009]"
        if r.random() < 0.3:
            text += ";cpus(web):1;mem(web):256"
        return Resources.parse(text).to_dict()

    def step(self) -> None:
        r, c = self.rnd, self.core
        what = r.random()
        if what < 0.07 or not c.agents:
            i = len(c.agents)
            self.handle(p.RegisterAgent(f"h{i}", f"tcp://10.0.0.{i}:5051/agent", self.resources()))
        elif what < 0.09:
            a = r.choice(list(c.agents.values()))
            # Comes back (the record is replaced), perhaps with other resources.
            res = self.resources() if r.random() < 0.5 else a.total.to_dict()
            tasks = [
                p.AgentTask(
                    p.TaskInfo(tid, tid, aid, res, command=p.CommandSpec("x")), fid, "TASK_RUNNING"
                )
                for fid, tid, aid, res in self.tasks
                if aid == a.agent_id
            ]
            self.handle(p.ReregisterAgent(a.agent_id, a.hostname, a.address, res, tasks=tasks))
        elif what < 0.11:
            a = r.choice(list(c.agents.values()))
            self.handle(p.UpdateAgent(a.agent_id, self.resources()))
        elif what < 0.15 and len(self.fids) < 3:
            roles = list(r.sample(ROLES, r.randint(1, 2)))
            out = c.handle(
                p.Subscribe(p.FrameworkInfo(f"f{len(self.fids)}", roles, 60.0), "fw"), self.now
            )
            self.fids += [
                e.message.framework_id
                for e in out
                if isinstance(e, Send) and isinstance(e.message, p.Subscribed)
            ]
            self.take(out)
        elif what < 0.55 and self.offers:
            o = self.offers.pop(r.randrange(len(self.offers)))
            if o.offer_id not in c.offers:
                return
            if r.random() < 0.5:
                ids = [o.offer_id]
                if r.random() < 0.3:  # several at once (Marathon declines in batches)
                    mine = [x for x in self.offers if x.framework_id == o.framework_id]
                    ids += [x.offer_id for x in mine[: r.randint(1, 5)]]
                    self.offers = [x for x in self.offers if x.offer_id not in ids]
                refuse = r.choice((0.0, 0.3, 1.0, 3.0, 30.0))
                self.handle(p.Decline(o.framework_id, ids, refuse))
            else:
                self.seq += 1
                tid = f"t{self.seq}"
                res = {"cpus": min(0.5, o.resources.get("cpus", 0.5) or 0.5), "mem": 64.0}
                task = p.TaskInfo(tid, tid, o.agent_id, res, command=p.CommandSpec("x"))
                refuse = r.choice((0.0, 1.0, 5.0))
                self.handle(
                    p.Accept(o.framework_id, [o.offer_id], [p.Operation("LAUNCH", [task])], refuse)
                )
                self.tasks.append((o.framework_id, tid, o.agent_id, res))
        elif what < 0.7 and self.tasks:
            fid, tid, aid, _ = self.tasks.pop(r.randrange(len(self.tasks)))
            self.seq += 1
            self.handle(p.StatusUpdate(fid, tid, aid, "TASK_FINISHED", f"u{self.seq}", self.now))
        elif what < 0.75 and self.fids:
            fid = r.choice(self.fids)
            roles = c.frameworks[fid].info.roles if fid in c.frameworks else []
            pick = [x for x in roles if r.random() < 0.5]
            self.handle(r.choice((p.Revive, p.Suppress))(fid, pick))
        else:
            self.now += r.choice((0.05, 0.2, 0.5, 1.5))
            self.take(c.tick(self.now))
        effects: list[Any] = []
        before = c.alloc_cycles
        c.maybe_allocate(self.now, effects)
        self.take(effects)
        due = self.now - c.last_alloc >= max(c.config.allocation_interval, c.alloc_pace)
        if c.alloc_cycles == before and due and c.frameworks and c.agents:
            # Skipped (nothing changed, no filter came due): it would offer nothing.
            assert allocate(_truth(c), self.now).offers == ()
            STATS["skipped"] += 1


STATS: Counter[str] = Counter()


def _checked(core: list[MasterCore]) -> Any:
    def run(snap: ClusterSnapshot, now: float, config: Any = None, memo: Any = None) -> Any:
        assert memo is not None
        truth = allocate(_truth(core[0]), now, config)
        STATS["incremental" if snap.changed is not None and memo.synced else "full"] += 1
        before = memo.visits
        result = allocate(snap, now, config, memo)
        STATS["visits"] += memo.visits - before
        STATS["agents"] += len(snap.agents)
        assert result.offers == truth.offers
        assert Counter(result.rejections) == Counter(truth.rejections)
        STATS["cycles"] += 1
        return result

    return run


@pytest.mark.parametrize("seed", range(40))
def test_incremental_cycles_equal_cycles_from_the_records(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = World(seed)
    monkeypatch.setattr(_offers, "allocate", _checked([w.core]))
    for _ in range(500):
        w.step()
    assert isinstance(w.core.agents, AgentTable)


def test_the_cycles_compared_were_incremental_and_visited_few_agents() -> None:
    """The seeds above ran mostly incremental cycles (not the full walk), which visited
    a fraction of the agents they were handed."""
    if STATS["cycles"] == 0:
        pytest.skip("run with the seeds above")
    assert STATS["incremental"] > 3 * STATS["full"]
    assert STATS["visits"] < STATS["agents"] / 2
    assert STATS["skipped"] > 0


def test_records_mark_what_the_allocator_reads() -> None:
    """Setting an allocation field of a record in the table marks the agent; other
    fields do not; records replaced or added are marked; a record outside the table
    marks nothing."""
    w = World(1)
    for _ in range(60):
        w.step()
    table = w.core.agents
    table.changed.clear()
    a = next(iter(table.values()))
    a.missed_pings += 1
    a.json_cache = None
    assert table.changed == set()
    a.used = a.used + Resources.parse("cpus:0.1")
    assert table.changed == {a.agent_id}
    table.changed.clear()
    for name in ("offered", "total", "reachable", "recovering", "attributes", "hostname"):
        setattr(a, name, getattr(a, name))
        assert table.changed == {a.agent_id}, name
        table.changed.clear()
    table[a.agent_id] = a
    assert table.changed == {a.agent_id}
    copy = AgentTable()
    assert copy.changed == set()
    del table[a.agent_id]
    assert a.agent_id in table.changed


def test_a_memo_fed_a_snapshot_without_changes_walks_every_agent() -> None:
    """``changed`` None (a caller that does not track changes) or a memo out of step:
    every view is compared, and the result is the from-scratch one."""
    w = World(5)
    for _ in range(300):
        w.step()
    snap = _truth(w.core)
    memo = AllocMemo()
    first = allocate(snap, w.now, None, memo)
    assert memo.synced
    again = allocate(snap, w.now, None, memo)  # changed None: walk all again
    scratch = allocate(snap, w.now)
    assert first.offers == again.offers == scratch.offers
    assert Counter(again.rejections) == Counter(scratch.rejections)


def test_the_same_snapshot_twice_offers_again() -> None:
    """The allocator's contract holds without the master: handed the same snapshot
    again with nothing marked changed (the offers were not recorded), the agents offered
    last time are visited again and offered the same, as from scratch."""
    agents = [
        Agent(f"a{i}", f"h{i}", Resources.parse("cpus:2;mem:1024"), Resources()) for i in range(4)
    ]
    frameworks = [Framework("f1", ("*",)), Framework("f2", ("*",))]
    snap = ClusterSnapshot(agents=agents, frameworks=frameworks)
    memo = AllocMemo()
    first = allocate(snap, 0.0, None, memo)
    assert len(first.offers) == 4
    same = ClusterSnapshot(
        agents=snap.agents, frameworks=snap.frameworks, weights=snap.weights, changed={}
    )
    again = allocate(same, 0.0, None, memo)
    assert again.offers == first.offers == allocate(snap, 0.0).offers
    assert Counter(again.rejections) == Counter(first.rejections)
