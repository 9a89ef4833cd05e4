"""The tick steps only runs with something due (issue 29): ``tick_is_noop(run)`` must
mean that ``step(run, Tick(), now)`` changes nothing at any ``now``. Checked on every
run a random walk of updates, stops and ticks reaches, at many times."""

from __future__ import annotations

import random

import pytest

from actors.metronome import JobRun, StopRun, TaskUpdate, Tick, step
from actors.metronome._run import tick_is_noop
from tests.metronome.test_run import new_run

STATES = [
    "TASK_RUNNING",
    "TASK_STARTING",
    "TASK_UNREACHABLE",
    "TASK_FAILED",
    "TASK_FINISHED",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_UNKNOWN",
    "TASK_KILLING",
    "TASK_KILLED",
]
TIMES = [0.0, 0.5, 1.0, 5.0, 30.0, 61.0, 600.0, 3600.0, 10**6]


def _runs(seed: int) -> list[JobRun]:
    rng = random.Random(seed)
    restart = rng.choice(
        [{}, {"policy": "ON_FAILURE"}, {"policy": "ON_FAILURE", "activeDeadlineSeconds": 100}]
    )
    run, now, seen = new_run(**restart), 0.0, []
    for _ in range(40):
        seen.append(run)
        now += rng.choice([0.0, 0.5, 2.0, 30.0, 400.0])
        roll = rng.random()
        if roll < 0.6 and run.tasks:
            event = TaskUpdate(rng.choice(run.tasks).id, rng.choice(STATES))
            run, _ = step(run, event, now)
        elif roll < 0.7:
            run, _ = step(run, StopRun(), now)
        else:
            run, _ = step(run, Tick(), now)
    return seen


@pytest.mark.parametrize("seed", range(20))
def test_a_skipped_run_is_one_a_tick_would_not_change(seed: int) -> None:
    skipped = stepped = 0
    for run in _runs(seed):
        if not tick_is_noop(run):
            stepped += 1
            continue
        skipped += 1
        for now in TIMES:
            new, effects = step(run, Tick(), run.created_at + now)
            assert new is run and effects == (), (run, now)
    assert skipped and stepped


def test_what_the_tick_still_steps() -> None:
    run = new_run()
    assert not tick_is_noop(run), "nothing launched yet: the tick launches"
    run, _ = step(run, Tick(), 0.0)
    task = run.tasks[0].id
    assert tick_is_noop(run), "launched: waits for updates"
    run, _ = step(run, TaskUpdate(task, "TASK_UNREACHABLE"), 1.0)
    assert not tick_is_noop(run), "unreachable: expunged when too long"
    run, _ = step(run, TaskUpdate(task, "TASK_RUNNING"), 2.0)
    assert tick_is_noop(run)
    run, _ = step(run, StopRun(), 3.0)
    assert not tick_is_noop(run), "stopping: the kill is re-sent"
