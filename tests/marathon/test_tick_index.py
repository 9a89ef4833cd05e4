"""The tick acts on what is due (issue 29): kill retries from a heap of kill times,
unreachable instances from an index, instead of walking every instance 4 times a
second. Behaviour must be the walk's, effect for effect: checked against a reference
core that walks everything (the code before the indexes), on random event sequences."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from actors.marathon import MarathonCore
from actors.marathon._messages import Disconnected, Load, Reply, Subscribed

from ._core_kit import FID, Sim, app, killed, launched


class WalkingCore(MarathonCore):
    """The reference: every tick walks every instance, as before the indexes."""

    def retry_kills(self, now: float) -> None:
        for inst in list(self.instances.values()):
            if inst.killing and now - inst.kill_sent_at >= self.config.kill_retry_seconds:
                inst.kill_sent_at = 0.0
                self.kill(inst, inst.kill_reason)

    def _on_tick(self) -> None:
        # The walk's order and membership: every unreachable instance, in dict order.
        for n, inst in enumerate(self.instances.values()):
            inst.seq = n
        self.unreachable = {
            i.task_id: i for i in self.instances.values() if i.unreachable_since is not None
        }
        super()._on_tick()


def _one_running(**over: Any) -> tuple[Sim, str]:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(**over))
    [task] = launched(sim.offers(sim.offer()))
    sim.update(task.task_id, "TASK_RUNNING")
    return sim, task.task_id


def test_a_kill_is_retried_exactly_kill_retry_seconds_later() -> None:
    sim, task_id = _one_running()
    retry = sim.core.config.kill_retry_seconds
    assert killed(sim.request("delete_tasks", body={"ids": [task_id]}, scale=True)) == [task_id]
    assert killed(sim.tick(retry - 0.01)) == []
    assert killed(sim.tick(0.01)) == [task_id], "due at exactly kill_retry_seconds"
    assert killed(sim.tick(retry / 2)) == []
    assert killed(sim.tick(retry / 2)) == [task_id]
    sim.update(task_id, "TASK_KILLED")
    assert killed(sim.tick(retry * 3)) == [], "gone: no more retries"
    assert sim.core.kill_timers == [], "the stale timer was dropped when due"


def test_kills_while_disconnected_are_sent_on_subscription() -> None:
    sim, task_id = _one_running()
    sim.feed(Disconnected())
    sim.request("delete_tasks", body={"ids": [task_id]}, scale=True)
    assert killed(sim.tick(30.0)) == [], "not subscribed: nothing is sent"
    assert killed(sim.feed(Subscribed(FID, "master-2"))) == [task_id]
    assert killed(sim.tick(1.0)) == []
    assert killed(sim.tick(sim.core.config.kill_retry_seconds)) == [task_id]


def test_an_unreachable_instance_is_indexed_until_it_comes_back() -> None:
    strategy = {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 60}
    sim, task_id = _one_running(unreachableStrategy=strategy)
    sim.update(task_id, "TASK_UNREACHABLE")
    assert list(sim.core.unreachable) == [task_id]
    sim.update(task_id, "TASK_RUNNING")
    assert sim.core.unreachable == {}
    sim.update(task_id, "TASK_UNREACHABLE")
    assert killed(sim.tick(60.0)) == [task_id], "expunged"
    assert sim.core.unreachable == {} and sim.tasks() == []


def _comparable(effects: list[Any]) -> list[Any]:
    return [e for e in effects if not isinstance(e, Reply)]


@pytest.mark.parametrize("seed", range(12))
def test_the_indexed_tick_does_what_the_walk_did(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random apps, offers, updates (running, unreachable, killed, failed), kills,
    scale-downs, deletions, disconnections and ticks of random lengths: the indexed core
    emits the same effects as the walking one after every event."""
    rng = random.Random(seed)
    state = {"uuid": 0}

    def uuid4() -> uuid.UUID:
        state["uuid"] += 1
        return uuid.UUID(int=state["uuid"])

    monkeypatch.setattr(uuid, "uuid4", uuid4)
    sims = [Sim(), Sim()]
    sims[1].core = WalkingCore(sims[1].core.config, master_address="test")
    sims[1].feed(Load({}))

    def both(step: Any) -> None:
        start = state["uuid"]
        results = []
        for sim in sims:
            state["uuid"] = start
            results.append(_comparable(step(sim)))
        assert results[0] == results[1]
        assert {
            t: (i.killing, i.kill_sent_at, i.unreachable_since, i.state)
            for t, i in sims[0].core.instances.items()
        } == {
            t: (i.killing, i.kill_sent_at, i.unreachable_since, i.state)
            for t, i in sims[1].core.instances.items()
        }
        assert list(sims[0].core.instances) == list(sims[1].core.instances)

    strategy = {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 20}
    both(lambda s: s.subscribe())
    apps = [f"/a{n}" for n in range(3)]
    for n, app_id in enumerate(apps):
        over = {"unreachableStrategy": strategy} if n != 1 else {}
        both(lambda s, a=app_id, o=over: s.request("create_app", body=app(a, instances=3, **o)))
    for _ in range(150):
        roll = rng.random()
        task_ids = sorted(sims[0].core.instances)
        if roll < 0.15:
            host = f"agent{rng.randrange(4)}"
            both(lambda s, h=host: s.offers(s.offer(h)))
        elif roll < 0.45 and task_ids:
            task_id = rng.choice(task_ids)
            st = rng.choice(
                ["TASK_RUNNING"] * 3 + ["TASK_UNREACHABLE"] * 2 + ["TASK_KILLED", "TASK_FAILED"]
            )
            both(lambda s, t=task_id, x=st: s.update(t, x))
        elif roll < 0.55 and task_ids:
            ids = rng.sample(task_ids, min(len(task_ids), rng.randrange(1, 3)))
            scale = rng.random() < 0.5
            both(lambda s, i=ids, sc=scale: s.request("delete_tasks", body={"ids": i}, scale=sc))
        elif roll < 0.6:
            app_id, count = rng.choice(apps), rng.randrange(0, 5)
            both(
                lambda s, a=app_id, c=count: s.request(
                    "put_app", a, {"instances": c}, partial=True, force=True
                )
            )
        elif roll < 0.63:
            both(lambda s: s.feed(Disconnected()))
        elif roll < 0.66:
            both(lambda s: s.subscribe())
        else:
            seconds = rng.choice([0.25, 0.25, 1.0, 2.5, 5.0, 9.99, 10.0, 0.01])
            both(lambda s, x=seconds: s.tick(x))
