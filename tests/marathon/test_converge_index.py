"""The converge after each event costs what the event touched (issue 29): an app's live
instances are counted from an index (``MarathonState.not_live``), and a deployment
action's "every instance serves" check starts from the instance found not serving last
time, instead of walking the app's instances per update (an app of 1,000 instances:
1,000,000 checks to start it). Behaviour must be the walk's, effect for effect: checked
against a reference core that walks (the code before), on random event sequences."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from actors.marathon import MarathonCore
from actors.marathon._instances import config_key
from actors.marathon._messages import Disconnected, Load, Reply

from ._core_kit import Sim, app


class WalkingCore(MarathonCore):
    """The reference: live instances counted and deployment actions checked by walking
    every instance of the app, as before the index."""

    def live_count(self, app_id: str) -> int:
        tasks = self.by_app.get(app_id, {})
        return len([i for i in tasks.values() if not i.killing and not i.inactive])

    def _action_done(self, run: Any, action: Any) -> bool:
        app = action.app
        tasks = self.by_app.get(app.id, {})
        if type(action).__name__ in ("StopApplication", "RestartApplication"):
            return super()._action_done(run, action)
        if len(tasks) != app.instances:
            return False
        key = config_key(app)
        return all(
            self.serving(i, app) and i.config_version == key and self.readiness_ok(i, app)
            for i in reversed(tasks.values())
        )


def _comparable(effects: list[Any]) -> list[Any]:
    return [e for e in effects if not isinstance(e, Reply)]


@pytest.mark.parametrize("seed", range(12))
def test_the_indexed_converge_does_what_the_walk_did(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random apps (health checks, unreachable strategies), offers, updates (running,
    healthy or not, unreachable, killed, failed), kills, scale changes, restarts,
    deletions, disconnections and ticks: the indexed core emits the same effects as the
    walking one after every event, and its live count is the walk's for every app."""
    rng = random.Random(seed)
    state = {"uuid": 0}

    def uuid4() -> uuid.UUID:
        state["uuid"] += 1
        return uuid.UUID(int=state["uuid"])

    monkeypatch.setattr(uuid, "uuid4", uuid4)
    sims = [Sim(), Sim()]
    sims[1].core = WalkingCore(sims[1].core.config, master_address="test")
    sims[1].feed(Load({}))
    walker = sims[1].core

    def both(step: Any) -> None:
        start = state["uuid"]
        results = []
        for sim in sims:
            state["uuid"] = start
            results.append(_comparable(step(sim)))
        assert results[0] == results[1]
        core = sims[0].core
        assert list(core.instances) == list(walker.instances)
        for app_id in set(core.by_app) | set(core.apps):
            assert core.live_count(app_id) == walker.live_count(app_id), app_id
        assert set(core.not_live) <= set(core.by_app)

    strategy = {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 20}
    checks = [{"protocol": "COMMAND", "command": {"value": "true"}, "gracePeriodSeconds": 1}]
    both(lambda s: s.subscribe())
    apps = [f"/a{n}" for n in range(3)]
    for n, app_id in enumerate(apps):
        over: dict[str, Any] = {"unreachableStrategy": strategy} if n != 1 else {}
        if n == 2:
            over["healthChecks"] = checks
        both(lambda s, a=app_id, o=over: s.request("create_app", body=app(a, instances=4, **o)))
    for _ in range(200):
        roll = rng.random()
        task_ids = sorted(sims[0].core.instances)
        if roll < 0.15:
            host = f"agent{rng.randrange(4)}"
            both(lambda s, h=host: s.offers(s.offer(h)))
        elif roll < 0.5 and task_ids:
            task_id = rng.choice(task_ids)
            st = rng.choice(
                ["TASK_RUNNING"] * 4 + ["TASK_UNREACHABLE"] * 2 + ["TASK_KILLED", "TASK_FAILED"]
            )
            healthy = rng.choice([None, True, False]) if st == "TASK_RUNNING" else None
            both(lambda s, t=task_id, x=st, h=healthy: s.update(t, x, h))
        elif roll < 0.58 and task_ids:
            ids = rng.sample(task_ids, min(len(task_ids), rng.randrange(1, 3)))
            scale = rng.random() < 0.5
            both(lambda s, i=ids, sc=scale: s.request("delete_tasks", body={"ids": i}, scale=sc))
        elif roll < 0.65:
            app_id, count = rng.choice(apps), rng.randrange(0, 6)
            both(
                lambda s, a=app_id, c=count: s.request(
                    "put_app", a, {"instances": c}, partial=True, force=True
                )
            )
        elif roll < 0.68:
            app_id = rng.choice(apps)
            both(lambda s, a=app_id: s.request("restart_app", a, force=True))
        elif roll < 0.7:
            app_id = rng.choice(apps)
            cmd = f"sleep {rng.randrange(100, 200)}"
            both(
                lambda s, a=app_id, c=cmd: s.request(
                    "put_app", a, {"cmd": c}, partial=True, force=True
                )
            )
        elif roll < 0.72:
            both(lambda s: s.feed(Disconnected()))
        elif roll < 0.75:
            both(lambda s: s.subscribe())
        else:
            seconds = rng.choice([0.25, 0.25, 1.0, 2.5, 5.0, 9.99, 10.0, 0.01])
            both(lambda s, x=seconds: s.tick(x))
