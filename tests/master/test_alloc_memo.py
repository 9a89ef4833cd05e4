"""Allocation cycles with the master's memo (``allocator.AllocMemo``, per-framework filter
indexes) decide exactly what a cycle from scratch decides: random sequences of agents
registering, launches, finished tasks, declines with filters of every length, revives
and suppressions, unreachable agents; after each cycle the master ran, the same snapshot
is allocated again without memo or filter index and must give the same offers in the
same order and the same rejection rows."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MasterCore, _offers
from actors.master._effects import Send
from actors.master.allocator import ClusterSnapshot, Rejection, allocate
from actors.resources import Resources

ROLES = ("*", "web")


def _from_scratch(snap: ClusterSnapshot, now: float) -> tuple[Any, Counter[Rejection]]:
    frameworks = [dataclasses.replace(f, filters_by_agent=None) for f in snap.frameworks]
    # Fresh views (new objects) so nothing can be recognised by identity.
    agents = [dataclasses.replace(a) for a in snap.agents]
    result = allocate(dataclasses.replace(snap, agents=agents, frameworks=frameworks), now)
    return result.offers, Counter(result.rejections)


class World:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.now = 0.0
        self.core = MasterCore(
            "m", MasterConfig(ping_interval=1.0, max_missed_pings=2), now=0.0, address="m"
        )
        self.fids: list[str] = []
        self.offers: list[p.Offer] = []
        self.tasks: list[tuple[str, str, str]] = []
        self.seq = 0

    def handle(self, msg: Any) -> None:
        self.take(self.core.handle(msg, self.now))

    def take(self, out: list[Any]) -> None:
        for e in out:
            if isinstance(e, Send) and isinstance(e.message, p.Offers):
                self.offers += e.message.offers
            # An agent now and then misses pings (and becomes unreachable).
            if isinstance(e, Send) and isinstance(e.message, p.Ping) and self.rnd.random() < 0.97:
                aid = next(a.agent_id for a in self.core.agents.values() if a.address == e.to)
                self.core.handle(p.Pong(aid, e.message.seq), self.now)

    def step(self) -> None:
        r, c = self.rnd, self.core
        what = r.random()
        if what < 0.08 or not c.agents:
            i = len(c.agents)
            text = f"cpus:{r.choice((1, 2, 4, 8))};mem:{r.choice((512, 2048, 8192))}"
            text += ";ports:[31000-31009]"
            if r.random() < 0.3:
                text += ";cpus(web):1;mem(web):256"
            res = Resources.parse(text).to_dict()
            self.handle(p.RegisterAgent(f"h{i}", f"tcp://10.0.0.{i}:5051/agent", res))
        elif what < 0.13 and len(self.fids) < 3:
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
                self.handle(
                    p.Decline(o.framework_id, [o.offer_id], r.choice((0.0, 0.3, 1.0, 3.0, 30.0)))
                )
            else:
                self.seq += 1
                tid = f"t{self.seq}"
                res = {"cpus": min(0.5, o.resources.get("cpus", 0.5) or 0.5), "mem": 64.0}
                task = p.TaskInfo(tid, tid, o.agent_id, res, command=p.CommandSpec("x"))
                refuse = r.choice((0.0, 1.0, 5.0))
                self.handle(
                    p.Accept(o.framework_id, [o.offer_id], [p.Operation("LAUNCH", [task])], refuse)
                )
                self.tasks.append((o.framework_id, tid, o.agent_id))
        elif what < 0.7 and self.tasks:
            fid, tid, aid = self.tasks.pop(r.randrange(len(self.tasks)))
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
            # Skipped (nothing dirty, no filter expired): a cycle would offer nothing.
            offers, _ = _from_scratch(_offers.snapshot(c, self.now), self.now)
            assert offers == ()
            SKIPPED_CYCLES[0] += 1


def _checked(seen: list[int]) -> Any:
    """``allocate`` as the master calls it (with its memo), checked against a cycle
    from scratch over the same snapshot, taken before the memo's cycle runs."""

    def run(snap: ClusterSnapshot, now: float, config: Any = None, memo: Any = None) -> Any:
        assert memo is not None  # the master passes its memo
        offers, rows = _from_scratch(snap, now)
        result = allocate(snap, now, config, memo)
        assert result.offers == offers
        assert Counter(result.rejections) == rows
        seen[0] += 1
        return result

    return run


SKIPPED: list[int] = [0]
SKIPPED_CYCLES: list[int] = [0]


@pytest.mark.parametrize("seed", range(40))
def test_memo_cycles_equal_cycles_from_scratch(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = [0]
    monkeypatch.setattr(_offers, "allocate", _checked(seen))
    w = World(seed)
    for _ in range(400):
        w.step()
    assert seen[0] > 20  # many cycles were compared
    SKIPPED[0] += w.core.alloc_memo.visits_skipped


def test_the_memo_did_skip_visits() -> None:
    """Over the seeds above, cycles did skip agents hidden by filters (the path the
    comparison exercises is the memo's, not only the full one), and whole cycles were
    skipped (nothing dirty, no filter expired) where a cycle would have offered nothing."""
    if SKIPPED[0] == 0 or SKIPPED_CYCLES[0] == 0:
        for seed in range(40):
            w = World(seed)
            for _ in range(400):
                w.step()
            SKIPPED[0] += w.core.alloc_memo.visits_skipped
    assert SKIPPED[0] > 0
    assert SKIPPED_CYCLES[0] > 0


def test_a_filter_list_edited_in_place_is_indexed_anew() -> None:
    """The index follows appends and takes expired filters out; a list edited in place
    (same length) is found out when an expired filter is not in the index, and indexed
    again from the list's live filters."""
    from actors.master.allocator import OfferFilter

    w = World(3)
    for _ in range(200):
        w.step()
    fw = next(f for f in w.core.frameworks.values())
    aid = next(iter(w.core.agents))
    fw.filters.append(OfferFilter(aid, until=w.now + 0.1))
    _offers.snapshot(w.core, w.now)  # indexed
    fw.filters[-1] = OfferFilter("elsewhere", until=w.now + 0.1)  # same length, in place
    fw.filters.append(OfferFilter(aid, until=w.now + 100.0))
    by_agent = _offers._filter_index(fw, w.now + 1.0)  # the edited one expired
    live = [f for f in fw.filters if f.until > w.now + 1.0]
    assert by_agent == {f.agent_id: [g for g in live if g.agent_id == f.agent_id] for f in live}
