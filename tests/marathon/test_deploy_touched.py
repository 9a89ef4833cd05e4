"""Deployments advance only for the runs whose apps were touched or dirtied (and every
run after a tick): on random operations the core's deployments, queue and effects are
the same, message after message, as a core that advances every run at every converge
(the behaviour before issue 29's change)."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

import pytest

from actors.marathon._messages import CheckReadiness, Launch, ReadinessResult
from tests.marathon._core_kit import Sim, app, of

CHECK = {"path": "/ready", "intervalSeconds": 1, "timeoutSeconds": 1}
HEALTH = [{"protocol": "COMMAND", "command": {"value": "true"}}]


class SweepAlways(Sim):
    """The reference: every converge looks at every deployment."""

    def feed(self, event: Any) -> list[Any]:
        self.core.sweep_all = True
        return super().feed(event)


def _snapshot(sim: Sim) -> Any:
    core = sim.core
    runs = [(r.step, sorted(r.done), len(r.plan.steps)) for r in core.runs.values()]
    return runs, sorted(core.queue.items()), len(core.instances), core.suppressed


def _shape(effects: list[Any]) -> list[str]:
    return sorted(type(e).__name__ for e in effects)


def _run(sim: Sim, seed: int) -> list[Any]:
    """One random sequence of operations (ids minted from 1: the same for both cores);
    what the core looked like, and the kinds of effects, after each."""
    rng = random.Random(seed)
    sim.subscribe()
    ids = [f"/g/app{i}" for i in range(5)]
    pending: list[CheckReadiness] = []
    seen: list[Any] = []
    for _ in range(160):
        roll = rng.random()
        app_id = rng.choice(ids)
        if roll < 0.12:
            over: dict[str, Any] = {"instances": rng.randrange(0, 5)}
            if rng.random() < 0.4:
                over["readinessChecks"] = [dict(CHECK)]
                over["portDefinitions"] = [{"port": 0, "name": "http"}]
            if rng.random() < 0.3:
                over["healthChecks"] = HEALTH
            if rng.random() < 0.5:
                over["cmd"] = f"sleep {rng.randrange(100, 103)}"
            out = sim.request("put_app", app_id, body=app(app_id, **over), force=True)
        elif roll < 0.16:
            out = sim.request("delete_app", app_id, force=True)
        elif roll < 0.2:
            out = sim.request("restart_app", app_id, force=True)
        elif roll < 0.45:
            out = sim.offers(sim.offer(f"agent{rng.randrange(3)}"))
        elif roll < 0.75:
            if not sim.core.instances:
                continue
            task_id = list(sim.core.instances)[rng.randrange(len(sim.core.instances))]
            state = rng.choice(["TASK_RUNNING"] * 4 + ["TASK_FAILED", "TASK_KILLED"])
            out = sim.update(task_id, state, healthy=rng.choice([True, None, False]))
        elif roll < 0.85 and pending:
            check = pending.pop(rng.randrange(len(pending)))
            status = rng.choice([200, 200, 503])
            out = sim.feed(ReadinessResult(check.task_id, check.seq, status))
        else:
            out = sim.tick(rng.choice([0.25, 1.0, 3.0]))
        pending += of(CheckReadiness, out)
        seen.append((_snapshot(sim), _shape(out), len(of(Launch, out))))
    seen.append(sim.core.counters["deployments_succeeded"])
    return seen


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_match_advancing_every_run(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for cls in (Sim, SweepAlways):
        ids = itertools.count(1)
        monkeypatch.setattr(uuid, "uuid4", lambda ids=ids: uuid.UUID(int=next(ids)))
        results.append(_run(cls(), seed))
    assert results[0][-1] > 0, "some deployments finished"
    for step, (got, want) in enumerate(zip(*results, strict=True)):
        assert got == want, step
