"""Executing one app's deployment action: the rolling-upgrade step machine and scaling.

`step(state, event, now) -> (state, effects)` does no I/O: the deployment actor feeds
it task events and carries out the effects (queue launches, kill tasks). Ordering
contract for the actor: persist the new state BEFORE carrying out its effects, so a
failover re-derives the same progress (`start_restart` also accepts already-started
new-version tasks, as Marathon's TaskReplaceActor reconciles after a failover).

Rolling upgrade rule (Marathon's TaskReplaceActor), with n = `instances`:

- ``min_healthy = ceil(n * minimumHealthCapacity)``: healthy instances to keep;
- ``max_capacity = floor(n * (1 + maximumOverCapacity))``: old plus new at most;
- at the start, kill ``old - min_healthy`` old instances (more if some old ones are
  unhealthy: killing those costs no health, so they always go first);
- launch new instances while ``old alive + new started < max_capacity``;
- each new instance that turns healthy lets one more old instance be killed; each old
  instance that terminates frees capacity for one more launch;
- done when n new instances are healthy and no old instance is alive.

Corner (Marathon's choice, kept): when ``min_healthy == max_capacity`` (e.g. {1, 0})
nothing could ever start without breaking a bound, so Marathon allows a temporary
over-capacity of one instance. Resident apps (persistent volumes: ``_resident``)
sacrifice health instead: one more old instance is killed at once, since a new
instance can only start on the reservation (and volume) an old one frees, never
beside it. So the health floor is broken by exactly one for resident apps in that
corner, and the over-capacity bound by exactly one for the others; never both.

"Healthy" means healthy for apps with health checks and running for apps without;
the actor decides which event to send.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ._app import AppDefinition
from ._resident import is_resident


@dataclass(frozen=True)
class TaskInfo:
    """What the deployment logic needs to know of one running (or staged) task."""

    id: str
    started_at: float
    healthy: bool = True
    """Healthy (or running, for apps without health checks)."""


def _ceil(x: float) -> int:
    # 0.3 * 10 is 3.0000000000000004 in binary floating point; do not round that to 4.
    return math.ceil(round(x, 9))


def _floor(x: float) -> int:
    return math.floor(round(x, 9))


def kill_order(tasks: Sequence[TaskInfo], kill_selection: str) -> tuple[TaskInfo, ...]:
    """Tasks in the order they should die: unhealthy first, then by `killSelection`.

    YOUNGEST_FIRST (Marathon's default) kills the most recently started, so long-lived,
    warmed-up instances survive a scale-down; OLDEST_FIRST the reverse. Ties break on
    task id so the choice is deterministic.
    """
    youngest_first = kill_selection != "OLDEST_FIRST"
    return tuple(
        sorted(
            tasks,
            key=lambda t: (
                t.healthy,
                -t.started_at if youngest_first else t.started_at,
                t.id,
            ),
        )
    )


# ------------------------------------------------------------------- effects/events


@dataclass(frozen=True)
class LaunchTasks:
    """Queue `count` launches of the app's current version (offers will place them)."""

    app_id: str
    count: int


@dataclass(frozen=True)
class KillTasks:
    """Kill these tasks; `reason` is shown in events and logs."""

    app_id: str
    task_ids: tuple[str, ...]
    reason: Literal["Upgrading", "ScalingApp", "DeletingApp"] = "Upgrading"


@dataclass(frozen=True)
class DeploymentActionFinished:
    """The app reached its target; the deployment may move on."""

    app_id: str


Effect = LaunchTasks | KillTasks | DeploymentActionFinished


@dataclass(frozen=True)
class NewTaskRunning:
    """A queued launch of the new version became a task (not yet healthy)."""

    task_id: str


@dataclass(frozen=True)
class NewTaskHealthy:
    """A new-version task is healthy (or running, without health checks)."""

    task_id: str


@dataclass(frozen=True)
class NewTaskFailed:
    """A new-version task (or a queued launch, by any id) failed; it will be replaced."""

    task_id: str


@dataclass(frozen=True)
class OldTaskTerminated:
    """An old-version task is gone (killed by us or died on its own)."""

    task_id: str


Event = NewTaskRunning | NewTaskHealthy | NewTaskFailed | OldTaskTerminated


# -------------------------------------------------------------------- restart state


@dataclass(frozen=True)
class RestartState:
    """Progress of one RestartApplication; see the module docstring for the rule."""

    app_id: str
    instances: int
    min_healthy: int
    max_capacity: int
    """Bound on old alive + new started; includes the +1 of the {1, 0} corner."""
    kill_queue: tuple[str, ...]
    """Old tasks not yet sentenced, in kill order."""
    old_alive: frozenset[str]
    """Old tasks not yet terminated, sentenced or not."""
    old_healthy: frozenset[str]
    """Old tasks healthy at the start and not sentenced since."""
    started: int
    """New-version launches requested and not failed (pending ones included)."""
    new_running: frozenset[str] = frozenset()
    new_healthy: frozenset[str] = frozenset()
    finished: bool = False
    last_progress_at: float = 0.0

    @property
    def pending_launches(self) -> int:
        """Launches queued but not yet turned into tasks (waiting for offers)."""
        return max(0, self.started - len(self.new_running))

    @property
    def healthy_count(self) -> int:
        """Instances that serve now: unsentenced healthy old ones plus healthy new ones."""
        return len(self.old_healthy) + len(self.new_healthy)

    @property
    def capacity_used(self) -> int:
        """Old alive plus new started: what `max_capacity` bounds."""
        return len(self.old_alive) + self.started


def restart_bounds(app: AppDefinition, running: int) -> tuple[int, int, int]:
    """(min_healthy, max_capacity, kill_now) as Marathon's computeRestartStrategy.

    `kill_now` is Marathon's count, blind to health; `start_restart` refines it (it
    kills unhealthy old tasks first and counts already-healthy new ones).
    """
    n = app.instances
    strategy = app.upgrade_strategy
    min_healthy = _ceil(n * strategy.minimum_health_capacity)
    max_capacity = _floor(n * (1 + strategy.maximum_over_capacity))
    kill_now = max(0, running - min_healthy)
    if _stuck(app, min_healthy, max_capacity, running):
        if is_resident(app):  # Marathon: kill one more, a new one takes its reservation
            kill_now = running - min_healthy + 1
        else:
            max_capacity += 1  # Marathon: temporary over-capacity of one to make progress
    return min_healthy, max_capacity, kill_now


def _stuck(app: AppDefinition, min_healthy: int, max_capacity: int, running: int) -> bool:
    """The {1, 0}-like corner: no instance can start or die without breaking a bound."""
    return app.instances > 0 and min_healthy == max_capacity and max_capacity <= running


def start_restart(
    app: AppDefinition,
    old_tasks: Sequence[TaskInfo],
    now: float,
    new_tasks: Sequence[TaskInfo] = (),
) -> tuple[RestartState, tuple[Effect, ...]]:
    """Begin a rolling upgrade of `app` (the new version) over `old_tasks`.

    `new_tasks` are tasks already running the new version (after a failover). Returns
    the first kills and launches; with `instances == 0` every old task is killed.
    """
    all_running = len(old_tasks) + len(new_tasks)
    min_healthy, max_capacity, _ = restart_bounds(app, all_running)
    # Resident apps in the corner: the floor is one lower (see the module docstring).
    floor = min_healthy
    if is_resident(app) and _stuck(app, min_healthy, max_capacity, all_running):
        floor -= 1
    new_tasks = list(new_tasks)[: app.instances]
    new_healthy = frozenset(t.id for t in new_tasks if t.healthy)
    ordered = kill_order(old_tasks, app.kill_selection)
    # Keep just enough healthy old tasks to hold the floor together with the new ones
    # that are healthy already; unhealthy old tasks hold nothing up and go first.
    keep = 0 if app.instances == 0 else max(0, floor - len(new_healthy))
    kill_now = len(ordered) - min(keep, sum(1 for t in ordered if t.healthy))
    sentenced = tuple(t.id for t in ordered[:kill_now])
    state = RestartState(
        app_id=app.id,
        instances=app.instances,
        min_healthy=min_healthy,
        max_capacity=max_capacity,
        kill_queue=tuple(t.id for t in ordered[kill_now:]),
        old_alive=frozenset(t.id for t in old_tasks),
        old_healthy=frozenset(t.id for t in ordered[kill_now:] if t.healthy),
        started=len(new_tasks),
        new_running=frozenset(t.id for t in new_tasks),
        new_healthy=new_healthy,
        last_progress_at=now,
    )
    effects: list[Effect] = []
    if sentenced:
        effects.append(KillTasks(app.id, sentenced, "Upgrading"))
    state, more = _launch_and_check(state, now)
    effects.extend(more)
    return state, tuple(effects)


def _kill_next_old(state: RestartState) -> tuple[RestartState, tuple[Effect, ...]]:
    if not state.kill_queue:
        return state, ()
    victim, rest = state.kill_queue[0], state.kill_queue[1:]
    state = dataclasses.replace(state, kill_queue=rest, old_healthy=state.old_healthy - {victim})
    return state, (KillTasks(state.app_id, (victim,), "Upgrading"),)


def _launch_and_check(state: RestartState, now: float) -> tuple[RestartState, tuple[Effect, ...]]:
    effects: list[Effect] = []
    left = max(0, state.max_capacity - state.capacity_used)
    to_start = min(max(0, state.instances - state.started), left)
    if to_start > 0:
        state = dataclasses.replace(state, started=state.started + to_start)
        effects.append(LaunchTasks(state.app_id, to_start))
    if not state.finished and len(state.new_healthy) >= state.instances and not state.old_alive:
        state = dataclasses.replace(state, finished=True)
        effects.append(DeploymentActionFinished(state.app_id))
    if effects:
        state = dataclasses.replace(state, last_progress_at=now)
    return state, tuple(effects)


def step(state: RestartState, event: Event, now: float) -> tuple[RestartState, tuple[Effect, ...]]:
    """Advance a rolling upgrade by one task event. Unknown task ids are ignored
    (events are at-most-once and may repeat), so the machine is idempotent."""
    if state.finished:
        return state, ()
    effects: list[Effect] = []
    if isinstance(event, NewTaskRunning):
        if event.task_id in state.new_running or state.pending_launches == 0:
            return state, ()
        state = dataclasses.replace(state, new_running=state.new_running | {event.task_id})
    elif isinstance(event, NewTaskHealthy):
        if event.task_id in state.new_healthy:
            return state, ()
        if event.task_id not in state.new_running:
            if state.pending_launches == 0:
                return state, ()
            state = dataclasses.replace(state, new_running=state.new_running | {event.task_id})
        state = dataclasses.replace(state, new_healthy=state.new_healthy | {event.task_id})
        state, kill = _kill_next_old(state)
        effects.extend(kill)
    elif isinstance(event, NewTaskFailed):
        if event.task_id in state.new_running:
            state = dataclasses.replace(
                state,
                new_running=state.new_running - {event.task_id},
                new_healthy=state.new_healthy - {event.task_id},
                started=state.started - 1,
            )
        elif state.pending_launches > 0:
            state = dataclasses.replace(state, started=state.started - 1)
        else:
            return state, ()
    elif isinstance(event, OldTaskTerminated):
        if event.task_id not in state.old_alive:
            return state, ()
        state = dataclasses.replace(
            state,
            old_alive=state.old_alive - {event.task_id},
            old_healthy=state.old_healthy - {event.task_id},
            kill_queue=tuple(t for t in state.kill_queue if t != event.task_id),
        )
    state, more = _launch_and_check(state, now)
    effects.extend(more)
    return dataclasses.replace(state, last_progress_at=now), tuple(effects)


def waiting_reason(state: RestartState, now: float) -> str:
    """Why the upgrade has not finished, for `pydcos marathon deployment show`."""
    if state.finished:
        return "finished"
    idle = f" (no progress for {now - state.last_progress_at:.0f}s)"
    if state.pending_launches:
        return f"waiting for offers to launch {state.pending_launches} new instance(s){idle}"
    unhealthy = len(state.new_running) - len(state.new_healthy)
    if unhealthy:
        return f"waiting for {unhealthy} new instance(s) to become healthy{idle}"
    sentenced = len(state.old_alive) - len(state.kill_queue)
    if sentenced:
        return f"waiting for {sentenced} old instance(s) to terminate{idle}"
    return (
        f"blocked: {state.capacity_used} of {state.max_capacity} capacity used and "
        f"{state.healthy_count} healthy (floor {state.min_healthy}){idle}"
    )


# ------------------------------------------------------------------------- scaling


def scale_effects(
    app: AppDefinition, tasks: Sequence[TaskInfo], target: int | None = None
) -> tuple[Effect, ...]:
    """Effects that bring the app from `tasks` to `target` (default `app.instances`).

    Scaling up queues the missing launches; scaling down kills the surplus, chosen by
    `kill_order` (unhealthy first, then `killSelection`). Stop is a scale to 0.
    """
    want = app.instances if target is None else target
    have = len(tasks)
    if want > have:
        return (LaunchTasks(app.id, want - have),)
    if want < have:
        victims = kill_order(tasks, app.kill_selection)[: have - want]
        reason: Literal["ScalingApp", "DeletingApp"] = "DeletingApp" if want == 0 else "ScalingApp"
        return (KillTasks(app.id, tuple(t.id for t in victims), reason),)
    return ()
