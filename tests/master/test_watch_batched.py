"""``WatchMaster.batch``: a batched watcher gets exactly the events an unbatched one
gets, in the same order and numbering, as ``MasterEvents`` sent at each tick (or once
``BATCH_MAX`` are held), and ``WatchFollower`` takes them as the ``MasterEvent`` s they
stand for; the SUBSCRIBED is still one ``MasterEvent`` seq 1."""

from __future__ import annotations

import random
from typing import Any

from actors import protocol as p
from actors.master import WatchFollower, unbatched
from actors.master._master_core import PeerDown, Send
from actors.master._watch import BATCH_MAX
from tests.master.test_watch import W1, W2, World

W3 = "tcp://127.0.0.1:7400/dns"


def stream(out: list[Any], to: str) -> list[p.MasterEvent]:
    """What ``to`` was sent, batches expanded."""
    got: list[p.MasterEvent] = []
    for e in out:
        if isinstance(e, Send) and e.to == to:
            if isinstance(e.message, p.MasterEvent):
                got.append(e.message)
            elif isinstance(e.message, p.MasterEvents):
                got += unbatched(e.message)
    return got


def launch(w: World, task_id: str) -> list[Any]:
    """Launch ``task_id`` (no ports) on the next offer; [] when none comes."""
    out: list[Any] = []
    for _ in range(3):
        w.now += 6.0  # past the decline filter of the last accept's rest
        out += w.core.tick(w.now)
        offers = [
            o
            for e in out
            if isinstance(e, Send) and isinstance(e.message, p.Offers)
            for o in e.message.offers
        ]
        if offers:
            task = p.TaskInfo(
                task_id=task_id,
                name="web",
                agent_id=w.agent_id,
                resources={"cpus": 0.1, "mem": 16.0},
                command=p.CommandSpec("sleep 100"),
            )
            op = p.Operation("LAUNCH", [task])
            return out + w.handle(p.Accept(w.fid, [offers[0].offer_id], [op], 0.0))
    return out


def test_batched_events_equal_the_unbatched_stream_on_random_changes() -> None:
    for seed in range(8):
        rng = random.Random(seed)
        w = World()
        w.add_agent()
        w.subscribe()
        out: list[Any] = []
        out += w.handle(p.WatchMaster(W1))  # one MasterEvent per event
        out += w.handle(p.WatchMaster(W2, batch=True))
        out += w.handle(p.WatchMaster(W3, batch=True))
        launched: list[str] = []
        for n in range(60):
            roll = rng.random()
            if roll < 0.3:
                out += launch(w, f"t{n}")
                launched.append(f"t{n}")
            elif roll < 0.7 and launched:
                state = rng.choice(["TASK_RUNNING", "TASK_FAILED", "TASK_KILLED"])
                out += w.update(rng.choice(launched), state, healthy=rng.choice([True, None]))
            else:
                w.now += rng.choice([0.01, 0.02, 20.0])  # 20 s: a HEARTBEAT
                out += w.core.tick(w.now)
            batches = [
                e for e in out if isinstance(e, Send) and isinstance(e.message, p.MasterEvents)
            ]
            assert all(0 < len(b.message.events) <= BATCH_MAX for b in batches)
        out += w.core.tick(w.now + 0.02)  # the held ones go at the tick
        assert w.core.watch_pending == []
        plain = stream(out, W1)
        assert plain[0].event["type"] == "SUBSCRIBED" and len(plain) > 20
        for who in (W2, W3):
            got = stream(out, who)
            assert [(m.seq, m.master_id) for m in got] == [(m.seq, m.master_id) for m in plain]
            assert [m.event for m in got] == [m.event for m in plain]
        assert any(
            isinstance(e, Send) and isinstance(e.message, p.MasterEvents) and e.to == W2
            for e in out
        )
        assert not any(
            isinstance(e, Send) and isinstance(e.message, p.MasterEvents) and e.to == W1
            for e in out
        ), "a watcher that did not ask gets one MasterEvent per event"


def test_held_events_go_before_a_new_subscribed_and_stop_with_the_watch() -> None:
    w = World()
    w.add_agent()
    w.subscribe()
    w.handle(p.WatchMaster(W2, batch=True))
    out = w.handle(p.RegisterAgent("h2", "tcp://127.0.0.1:7002/agent", {"cpus": 1.0}, {}))
    assert stream(out, W2) == [], "held for the tick"
    out = w.handle(p.WatchMaster(W2, batch=True))  # watching again: held ones first
    kinds = [m.event["type"] for m in stream(out, W2)]
    assert kinds[-1] == "SUBSCRIBED" and "AGENT_ADDED" in kinds[:-1]
    w.handle(PeerDown(W2))
    out = w.handle(p.RegisterAgent("h3", "tcp://127.0.0.1:7003/agent", {"cpus": 1.0}, {}))
    out += w.tick()
    assert stream(out, W2) == [] and w.core.watch_batched == set()
    assert w.core.watch_pending == [], "nobody batched: nothing held"


def test_a_follower_with_batch_asks_for_it_and_accepts_the_expanded_events() -> None:
    f = WatchFollower(1.0, batch=True, subscriber=W2)
    (tell,) = f.leader("tcp://127.0.0.1:5050/master", 0.0)
    assert isinstance(tell[1], p.WatchMaster) and tell[1].batch is True
    assert f.accept(p.MasterEvent({"type": "SUBSCRIBED", "subscribed": {}}, "m1", 1), 0.0) == (
        "reset"
    )
    batch = p.MasterEvents([{"type": "TASK_ADDED"}, {"type": "HEARTBEAT"}], "m1", 2)
    assert [f.accept(m, 0.1) for m in unbatched(batch)] == ["apply", "ignore"]
    gap = p.MasterEvents([{"type": "TASK_ADDED"}], "m1", 9)
    assert [f.accept(m, 0.2) for m in unbatched(gap)] == ["resubscribe"]
    assert WatchFollower(1.0).subscribe(0.0) == [], "not watching: nothing"


def test_accept_batch_takes_the_next_batch_whole_and_nothing_else() -> None:
    """``accept_batch`` gives what ``accept`` event by event would have applied, for a
    batch continuing the stream; any other batch is left to the event-by-event path
    (and leaves the follower as it was)."""
    rng = random.Random(7)
    for _ in range(200):
        whole = WatchFollower(1.0, batch=True, subscriber=W2)
        single = WatchFollower(1.0, batch=True, subscriber=W2)
        subscribed = rng.random() < 0.9
        for f in (whole, single):
            f.leader("tcp://127.0.0.1:5050/master", 0.0)
            if subscribed:
                f.accept(p.MasterEvent({"type": "SUBSCRIBED", "subscribed": {}}, "m1", 1), 0.0)
        kinds = ["TASK_ADDED", "HEARTBEAT", "AGENT_ADDED", "TASK_UPDATED"]
        events: list[Any] = [{"type": rng.choice(kinds), "n": i} for i in range(rng.randrange(4))]
        first = rng.choice([2, 2, 2, 3, 1])
        batch = p.MasterEvents(events, rng.choice(["m1", "m1", "m2"]), first)
        got = whole.accept_batch(batch, 0.5)
        verdicts = [(single.accept(m, 0.5), m.event) for m in unbatched(batch)]
        if got is None:
            assert whole.expect in (0, 1, 2) and whole.last_event_at == 0.0
            continue
        assert all(v in ("apply", "ignore") for v, _ in verdicts)
        assert got == [e for v, e in verdicts if v == "apply"]
        assert whole.expect == single.expect and whole.last_event_at == single.last_event_at
