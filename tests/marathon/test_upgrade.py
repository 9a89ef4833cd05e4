"""Rolling upgrades and scaling (Marathon's TaskReplaceActor and killSelection rules)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.marathon import (
    AppDefinition,
    DeploymentActionFinished,
    Effect,
    Event,
    KillTasks,
    LaunchTasks,
    NewTaskFailed,
    NewTaskHealthy,
    NewTaskRunning,
    OldTaskTerminated,
    RestartState,
    TaskInfo,
    restart_bounds,
    scale_effects,
    start_restart,
    step,
    waiting_reason,
)


def app(instances: int, mhc: float, moc: float, kill: str = "YOUNGEST_FIRST") -> AppDefinition:
    return AppDefinition.from_json(
        {
            "id": "/a",
            "cmd": "v2",
            "instances": instances,
            "killSelection": kill,
            "upgradeStrategy": {"minimumHealthCapacity": mhc, "maximumOverCapacity": moc},
        }
    )


def old_tasks(count: int, unhealthy: int = 0) -> list[TaskInfo]:
    return [TaskInfo(f"old-{i}", started_at=float(i), healthy=i >= unhealthy) for i in range(count)]


@dataclass
class Run:
    """A simulated cluster where launches and kills complete when `pick` says."""

    state: RestartState
    pending: list[Event] = field(default_factory=list)
    launched: int = 0
    killed: list[str] = field(default_factory=list)
    max_used: int = 0
    min_healthy_seen: int = 10**9
    finished: bool = False

    def apply(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, LaunchTasks):
                for _ in range(effect.count):
                    task = f"new-{self.launched}"
                    self.launched += 1
                    self.pending += [NewTaskRunning(task), NewTaskHealthy(task)]
            elif isinstance(effect, KillTasks):
                self.killed += effect.task_ids
                self.pending += [OldTaskTerminated(t) for t in effect.task_ids]
            elif isinstance(effect, DeploymentActionFinished):
                self.finished = True
        self.observe()

    def observe(self) -> None:
        self.max_used = max(self.max_used, self.state.capacity_used)
        self.min_healthy_seen = min(self.min_healthy_seen, self.state.healthy_count)

    def drain(self, pick: Callable[[int], int], now: float = 0.0) -> None:
        while self.pending:
            event = self.pending.pop(pick(len(self.pending)))
            if isinstance(event, NewTaskHealthy) and NewTaskRunning(event.task_id) in self.pending:
                self.pending.remove(NewTaskRunning(event.task_id))  # running implied
            now += 1.0
            self.state, effects = step(self.state, event, now)
            self.apply(effects)


def run(target: AppDefinition, old: list[TaskInfo], pick: Callable[[int], int]) -> Run:
    state, effects = start_restart(target, old, now=0.0)
    sim = Run(state)
    sim.observe()
    sim.apply(effects)
    sim.drain(pick)
    return sim


def fifo(_: int) -> int:
    return 0


# (strategy, instances 4 over 4 healthy old) -> first kills, first launches, capacity bound
STRATEGY_ROWS = [
    # {1, 1}: keep all 4 healthy, start all 4 new at once (capacity 8).
    ((1.0, 1.0), 0, 4, 8),
    # {1, 0}: min_healthy == max_capacity: Marathon allows one extra instance (5).
    ((1.0, 0.0), 0, 1, 5),
    # {0, 0}: may drop to 0 healthy: kill all old first, start new as they terminate.
    ((0.0, 0.0), 4, 0, 4),
    # {0.5, 0}: keep 2, kill 2 first; new ones start as old ones terminate.
    ((0.5, 0.0), 2, 0, 4),
    # {0, 1}: kill all old and start all new at once.
    ((0.0, 1.0), 4, 4, 8),
    # {0.5, 0.5}: kill 2, start 2 (capacity 6).
    ((0.5, 0.5), 2, 2, 6),
]


@pytest.mark.parametrize(("strategy", "kills", "launches", "capacity"), STRATEGY_ROWS)
def test_upgrade_strategy_corner(
    strategy: tuple[float, float], kills: int, launches: int, capacity: int
) -> None:
    """Marathon upgradeStrategy docs: never below minimumHealthCapacity * instances
    healthy, never above (1 + maximumOverCapacity) * instances in total."""
    target = app(4, *strategy)
    state, effects = start_restart(target, old_tasks(4), now=0.0)
    first_kills = sum(len(e.task_ids) for e in effects if isinstance(e, KillTasks))
    first_launches = sum(e.count for e in effects if isinstance(e, LaunchTasks))
    assert (first_kills, first_launches, state.max_capacity) == (kills, launches, capacity)

    sim = run(target, old_tasks(4), fifo)
    assert sim.finished and sim.state.finished
    assert sorted(sim.killed) == [f"old-{i}" for i in range(4)]
    assert len(sim.state.new_healthy) == 4
    assert sim.max_used <= capacity
    assert sim.min_healthy_seen >= state.min_healthy


def test_one_zero_corner_goes_exactly_one_over() -> None:
    """Marathon: 'maxCapacity == minHealthy: allow temporary over-capacity of one'."""
    sim = run(app(3, 1.0, 0.0), old_tasks(3), fifo)
    assert sim.max_used == 4 and sim.min_healthy_seen == 3


def test_unhealthy_old_tasks_are_killed_first_and_at_once() -> None:
    target = app(4, 1.0, 0.0)
    state, effects = start_restart(target, old_tasks(4, unhealthy=2), now=0.0)
    assert effects[0] == KillTasks("/a", ("old-1", "old-0"), "Upgrading")
    assert state.healthy_count == 2


def test_new_task_failure_is_replaced() -> None:
    target = app(2, 1.0, 1.0)
    state, effects = start_restart(target, old_tasks(2), now=0.0)
    assert effects == (LaunchTasks("/a", 2),)
    state, effects = step(state, NewTaskRunning("n1"), 1.0)
    state, effects = step(state, NewTaskFailed("n1"), 2.0)
    assert effects == (LaunchTasks("/a", 1),)


def test_repeated_events_are_ignored() -> None:
    """Delivery is at-most-once and handlers idempotent: a duplicate changes nothing."""
    state, _ = start_restart(app(2, 1.0, 1.0), old_tasks(2), now=0.0)
    state, first = step(state, NewTaskHealthy("n1"), 1.0)
    assert first == (KillTasks("/a", ("old-1",), "Upgrading"),)
    again, effects = step(state, NewTaskHealthy("n1"), 2.0)
    assert effects == () and again == state
    _, effects = step(state, OldTaskTerminated("nope"), 3.0)
    assert effects == ()


def test_resumes_after_failover_with_new_tasks_already_running() -> None:
    """Marathon reconciles already started new instances after a leader change."""
    target = app(2, 1.0, 0.0)
    new = [TaskInfo("n1", 5.0, healthy=True)]
    state, effects = start_restart(target, old_tasks(2), now=0.0, new_tasks=new)
    assert state.started == 1
    assert KillTasks("/a", ("old-1",), "Upgrading") in effects


def test_scale_to_zero_restart_kills_everything() -> None:
    sim = run(app(0, 1.0, 0.0), old_tasks(3), fifo)
    assert sim.finished and sim.launched == 0 and len(sim.killed) == 3


def test_waiting_reasons_explain_a_stuck_upgrade() -> None:
    state, _ = start_restart(app(2, 1.0, 0.0), old_tasks(2), now=0.0)
    assert waiting_reason(state, 30.0).startswith("waiting for offers to launch 1 new")
    assert "no progress for 30s" in waiting_reason(state, 30.0)
    state, _ = step(state, NewTaskRunning("n1"), 31.0)
    assert waiting_reason(state, 31.0).startswith("waiting for 1 new instance(s) to become healthy")
    state, _ = step(state, NewTaskHealthy("n1"), 32.0)
    assert waiting_reason(state, 32.0).startswith("waiting for 1 old instance(s) to terminate")


def test_restart_bounds_avoid_float_rounding_up() -> None:
    """0.3 * 10 is 3.0000000000000004 in floats; the floor must be 3, not 4."""
    assert restart_bounds(app(10, 0.3, 0.1), 10)[:2] == (3, 11)


# ------------------------------------------------------------------------ scaling


def test_scale_up_launches_the_difference() -> None:
    assert scale_effects(app(5, 1, 1), old_tasks(2)) == (LaunchTasks("/a", 3),)


@pytest.mark.parametrize(
    ("selection", "victims"),
    [("YOUNGEST_FIRST", ("old-3", "old-2")), ("OLDEST_FIRST", ("old-0", "old-1"))],
)
def test_scale_down_kills_by_kill_selection(selection: str, victims: tuple[str, ...]) -> None:
    """Marathon killSelection: YOUNGEST_FIRST (default) or OLDEST_FIRST."""
    assert scale_effects(app(2, 1, 1, selection), old_tasks(4)) == (
        KillTasks("/a", victims, "ScalingApp"),
    )


def test_scale_down_kills_unhealthy_before_kill_selection() -> None:
    tasks = old_tasks(4, unhealthy=1)  # old-0 is unhealthy and oldest
    assert scale_effects(app(3, 1, 1), tasks) == (KillTasks("/a", ("old-0",), "ScalingApp"),)


def test_stop_is_a_scale_to_zero() -> None:
    effects = scale_effects(app(3, 1, 1), old_tasks(2), target=0)
    assert effects == (KillTasks("/a", ("old-1", "old-0"), "DeletingApp"),)


# ---------------------------------------------------------------------- property

fractions = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 1.0])


@settings(max_examples=300, deadline=None)
@given(
    instances=st.integers(0, 12),
    old_count=st.integers(0, 15),
    unhealthy=st.integers(0, 15),
    mhc=fractions,
    moc=fractions,
    seed=st.integers(0, 2**32 - 1),
)
def test_rolling_upgrade_always_reaches_target_within_bounds(
    instances: int, old_count: int, unhealthy: int, mhc: float, moc: float, seed: int
) -> None:
    """With instantly healthy tasks and any interleaving of completions the upgrade
    finishes with `instances` new healthy tasks and no old one; it never exceeds the
    capacity bound (Marathon's floor(n * (1 + moc)), +1 only where min_healthy ==
    max_capacity, or the starting count when that was already higher) and never drops
    below the health floor (ceil(n * mhc), or the healthy old count when fewer)."""
    unhealthy = min(unhealthy, old_count)
    target = app(instances, mhc, moc)
    old = old_tasks(old_count, unhealthy)
    rng = random.Random(seed)
    min_healthy = math.ceil(round(instances * mhc, 9))
    marathon_capacity = math.floor(round(instances * (1 + moc), 9))
    sim = run(target, old, lambda n: rng.randrange(n))
    state = sim.state

    assert sim.finished
    assert len(state.new_healthy) == instances and not state.old_alive
    assert sim.launched == instances
    corner = (
        1
        if instances > 0
        and state.min_healthy == marathon_capacity
        and marathon_capacity <= old_count
        else 0
    )
    assert state.max_capacity == marathon_capacity + corner
    assert sim.max_used <= max(state.max_capacity, old_count)
    assert sim.min_healthy_seen >= min(min_healthy, old_count - unhealthy)
