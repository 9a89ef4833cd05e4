"""Job runs: the run record and its state machine.

``step(run, event, now) -> (run, effects)`` does no I/O. Events are task status
updates (`TaskUpdate`, also the answers of reconciliation), a user's `StopRun`, and
`Tick`s; effects are `LaunchTask`, `KillTask` and `RunFinished` for the actor to carry
out.

Exactly one task per run attempt, even across a failover (Metronome PR #174 fixed
duplicate tasks after a restart). The protocol:

1. The task id is a function of (job id, run id, attempt) (`task_id_for`).
2. `LaunchTask` is emitted only when the run has no task recorded for its current
   attempt, and the step that emits it records the task (status None: "launch
   decided, no update yet") in the returned run.
3. The actor persists that run BEFORE sending the launch. A leader that dies in
   between leaves a recorded task that may or may not exist.
4. After a reload, a STARTING/ACTIVE run with a task for its attempt never launches
   again: the actor reconciles `live_task_ids(run)` with the master and feeds the
   answers in as `TaskUpdate`s. A task that never reported and comes back
   TASK_DROPPED or TASK_UNKNOWN provably never ran: the run moves to the next attempt
   (a fresh task id) without counting a failure. Any other answer is handled as usual.
5. Updates for a task that is not the current attempt's (a stray) are answered with
   `KillTask` if the task is still alive.

Statuses: INITIAL (created, nothing launched) -> STARTING (task launched or waiting to
relaunch) -> ACTIVE (task running) -> SUCCESS | FAILED. Restart policy NEVER: the first
task failure fails the run. ON_FAILURE: relaunch after Marathon's launch backoff
(1 s x 1.15 per failure, capped by the job's ``maxLaunchDelay``) while
``now < created_at + activeDeadlineSeconds`` (no deadline: forever). A stop kills the
live task and the run ends FAILED once the task is gone (Metronome: an aborted run is
failed); a task that reports FINISHED before the kill lands still makes the run SUCCESS,
since its work is done. UNREACHABLE is not terminal (the agent may come back): the run
keeps waiting, and stays active (a FORBID job starts no other run meanwhile: its task
may be running on the far side of a partition), until the task comes back or has been
unreachable for ``UNREACHABLE_EXPUNGE_SECONDS``: then the attempt is lost (a failure)
and the task is killed should it ever come back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from actors.framework import LaunchBackoff
from actors.task_states import ENDED_STATES, TaskState

from ._ids import task_id_for
from ._job import JobSpec
from ._time import format_optional, format_time

BACKOFF_SECONDS = 1.0
BACKOFF_FACTOR = 1.15
UNREACHABLE_EXPUNGE_SECONDS = 600.0
"""How long a run waits for its UNREACHABLE task to come back before it gives the attempt
up (Marathon's default ``expungeAfterSeconds``)."""
KILL_RETRY_SECONDS = 30.0
"""A stop re-sends its kill this often until the task is confirmed gone."""

_LOST_LAUNCH = frozenset({TaskState.DROPPED, TaskState.UNKNOWN})
_FAILURE = ENDED_STATES - {TaskState.FINISHED}
"""A task that ended without finishing (KILLED included: a job's task is not killed
unless its run is stopped) fails its attempt."""


class RunStatus(StrEnum):
    """Metronome's JobRunStatus."""

    INITIAL = "INITIAL"
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCESS, RunStatus.FAILED)


@dataclass(frozen=True)
class RunTask:
    """The one task of one attempt."""

    id: str
    attempt: int
    started_at: float
    """When the launch was decided (and recorded)."""
    status: str | None = None
    """Last reported Mesos state (``TASK_RUNNING``...); None until the first update."""
    completed_at: float | None = None
    unreachable_at: float | None = None
    """Since when it is UNREACHABLE (None otherwise)."""

    @property
    def alive(self) -> bool:
        """Not known to have ended: TASK_UNKNOWN counts as gone (the master knows no
        such task), or reconciling it would be answered UNKNOWN again and again."""
        return self.status is None or self.status not in ENDED_STATES

    def api_json(self) -> dict[str, Any]:
        """Metronome's run task: an unreported launch shows as TASK_STAGING."""
        return {
            "id": self.id,
            "status": self.status or TaskState.STAGING.value,
            "startedAt": format_time(self.started_at),
            "completedAt": format_optional(self.completed_at),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "attempt": self.attempt,
            "startedAt": self.started_at,
            "status": self.status,
            "completedAt": self.completed_at,
            "unreachableAt": self.unreachable_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunTask:
        return cls(
            data["id"],
            data["attempt"],
            data["startedAt"],
            data["status"],
            data["completedAt"],
            data.get("unreachableAt"),
        )


# ------------------------------------------------------------------ events/effects


@dataclass(frozen=True)
class Tick:
    """Time passed: launch when due, give up when a deadline passed, re-send kills."""


@dataclass(frozen=True)
class TaskUpdate:
    """A status update (or reconciliation answer) for `task_id`."""

    task_id: str
    state: TaskState | str


@dataclass(frozen=True)
class StopRun:
    """A user stopped the run (``POST /v1/jobs/{id}/runs/{runId}/actions/stop``)."""


RunEvent = Tick | TaskUpdate | StopRun


@dataclass(frozen=True)
class LaunchTask:
    """Launch `task_id` for this attempt; the run naming it is already persisted."""

    job_id: str
    run_id: str
    attempt: int
    task_id: str


@dataclass(frozen=True)
class KillTask:
    """Kill this task (idempotent; the actor may send it again)."""

    task_id: str


@dataclass(frozen=True)
class RunFinished:
    """The run is over; record it in the job's history and drop it from active runs."""

    job_id: str
    run_id: str
    status: RunStatus


RunEffect = LaunchTask | KillTask | RunFinished


# ------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class JobRun:
    """One run of a job, with the job spec it was started from (Metronome's JobRun)."""

    id: str
    job: JobSpec
    created_at: float
    status: RunStatus = RunStatus.INITIAL
    completed_at: float | None = None
    attempt: int = 1
    failures: int = 0
    tasks: tuple[RunTask, ...] = ()
    next_launch_at: float | None = None
    """Earliest launch of the current attempt (backoff); None means now."""
    starting_deadline_seconds: float | None = None
    """A scheduled run that could not launch this long after creation fails."""
    schedule_id: str | None = None
    stop_requested_at: float | None = None
    last_kill_at: float | None = None

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def current_task(self) -> RunTask | None:
        """The task of the current attempt, if its launch was decided."""
        for task in self.tasks:
            if task.attempt == self.attempt:
                return task
        return None

    def live_task_ids(self) -> tuple[str, ...]:
        """Tasks to reconcile after a failover (alive as far as this record knows)."""
        return tuple(t.id for t in self.tasks if t.alive)

    def api_json(self) -> dict[str, Any]:
        """Metronome's run JSON (``GET /v1/jobs/{id}/runs/{runId}``)."""
        return {
            "id": self.id,
            "jobId": self.job_id,
            "status": self.status.value,
            "createdAt": format_time(self.created_at),
            "completedAt": format_optional(self.completed_at),
            "tasks": [t.api_json() for t in self.tasks],
        }

    def to_json(self) -> dict[str, Any]:
        """Persisted form (ZooKeeper); `from_json` restores an equal run."""
        return {
            "id": self.id,
            "job": self.job.to_json(),
            "createdAt": self.created_at,
            "status": self.status.value,
            "completedAt": self.completed_at,
            "attempt": self.attempt,
            "failures": self.failures,
            "tasks": [t.to_json() for t in self.tasks],
            "nextLaunchAt": self.next_launch_at,
            "startingDeadlineSeconds": self.starting_deadline_seconds,
            "scheduleId": self.schedule_id,
            "stopRequestedAt": self.stop_requested_at,
            "lastKillAt": self.last_kill_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRun:
        return cls(
            id=data["id"],
            job=JobSpec.from_json(data["job"]),
            created_at=data["createdAt"],
            status=RunStatus(data["status"]),
            completed_at=data["completedAt"],
            attempt=data["attempt"],
            failures=data["failures"],
            tasks=tuple(RunTask.from_json(t) for t in data["tasks"]),
            next_launch_at=data["nextLaunchAt"],
            starting_deadline_seconds=data["startingDeadlineSeconds"],
            schedule_id=data["scheduleId"],
            stop_requested_at=data["stopRequestedAt"],
            last_kill_at=data["lastKillAt"],
        )


def create_run(
    job: JobSpec,
    run_id: str,
    now: float,
    *,
    starting_deadline_seconds: float | None = None,
    schedule_id: str | None = None,
) -> JobRun:
    """A new INITIAL run; the first `Tick` launches its first attempt."""
    return JobRun(
        id=run_id,
        job=job,
        created_at=now,
        starting_deadline_seconds=starting_deadline_seconds,
        schedule_id=schedule_id,
    )


def launch_delay(run: JobRun, failures: int) -> float:
    """Marathon's launch backoff with the job's ``maxLaunchDelay`` as the cap."""
    backoff = LaunchBackoff(
        BACKOFF_SECONDS, BACKOFF_FACTOR, float(run.job.run.max_launch_delay_seconds)
    )
    return backoff.delay_after(failures)


def _may_retry(run: JobRun, now: float) -> bool:
    restart = run.job.run.restart
    if restart.policy != "ON_FAILURE":
        return False
    deadline = restart.active_deadline_seconds
    return deadline is None or now < run.created_at + deadline


def _finish(run: JobRun, status: RunStatus, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    done = dataclasses.replace(run, status=status, completed_at=now, next_launch_at=None)
    return done, (RunFinished(run.job_id, run.id, status),)


def _launch(run: JobRun, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    task_id = task_id_for(run.job_id, run.id, run.attempt)
    task = RunTask(task_id, run.attempt, started_at=now)
    launched = dataclasses.replace(
        run, tasks=(*run.tasks, task), status=RunStatus.STARTING, next_launch_at=None
    )
    return launched, (LaunchTask(run.job_id, run.id, run.attempt, task_id),)


def _next_attempt(run: JobRun, now: float, failures: int) -> tuple[JobRun, tuple[RunEffect, ...]]:
    delay = launch_delay(run, max(failures, 1))
    waiting = dataclasses.replace(
        run,
        attempt=run.attempt + 1,
        failures=failures,
        status=RunStatus.STARTING,
        next_launch_at=now + delay,
    )
    return (_launch(waiting, now)) if delay <= 0 else (waiting, ())


def _replace_task(run: JobRun, task: RunTask) -> JobRun:
    return dataclasses.replace(run, tasks=tuple(task if t.id == task.id else t for t in run.tasks))


TICK = Tick()
"""The one ``Tick`` the actor steps runs with (a new one per run per second was a
measurable share of the tick at 5,000 runs)."""


def tick_is_noop(run: JobRun) -> bool:
    """Whether ``step(run, Tick(), now)`` is ``(run, ())`` whatever ``now``: the run is
    over, or its attempt's task is launched and waits for updates (no stop asked, not
    unreachable). The tick steps only the other runs (issue 29); mirrors the early
    returns of ``step`` and ``_on_tick``."""
    if run.status.finished:
        return True
    if run.stop_requested_at is not None:
        return False
    task = run.current_task
    return task is not None and task.status != TaskState.UNREACHABLE.value


def step(run: JobRun, event: RunEvent, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    """Advance `run` by one event. Persist the returned run BEFORE doing its effects."""
    if isinstance(event, TaskUpdate):
        return _on_update(run, event, now)
    if run.status.finished:
        return run, ()
    if isinstance(event, StopRun):
        return _on_stop(run, now)
    return _on_tick(run, now)


def _on_tick(run: JobRun, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    task = run.current_task
    if run.stop_requested_at is not None:
        last = run.last_kill_at if run.last_kill_at is not None else run.stop_requested_at
        if task is not None and task.alive and now >= last + KILL_RETRY_SECONDS:
            return dataclasses.replace(run, last_kill_at=now), (KillTask(task.id),)
        return run, ()
    if task is not None:
        if (
            task.status == TaskState.UNREACHABLE.value
            and task.unreachable_at is not None
            and now >= task.unreachable_at + UNREACHABLE_EXPUNGE_SECONDS
        ):
            # Gone too long: the attempt is lost; kill it should it come back.
            lost, effects = _on_update(run, TaskUpdate(task.id, TaskState.LOST), now)
            return lost, (KillTask(task.id), *effects)
        return run, ()  # launched (maybe before a failover): wait for updates
    if run.status is RunStatus.INITIAL:
        deadline = run.starting_deadline_seconds
        if deadline is not None and now > run.created_at + deadline:
            return _finish(run, RunStatus.FAILED, now)
    elif not _may_retry(run, now) and run.failures > 0:
        return _finish(run, RunStatus.FAILED, now)  # activeDeadlineSeconds passed
    if run.next_launch_at is not None and now < run.next_launch_at:
        return run, ()
    return _launch(run, now)


def _on_stop(run: JobRun, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    if run.stop_requested_at is not None:
        return run, ()
    task = run.current_task
    if task is None or not task.alive:
        return _finish(run, RunStatus.FAILED, now)
    stopping = dataclasses.replace(run, stop_requested_at=now, last_kill_at=now)
    return stopping, (KillTask(task.id),)


def _on_update(run: JobRun, event: TaskUpdate, now: float) -> tuple[JobRun, tuple[RunEffect, ...]]:
    state = TaskState(event.state)
    task = next((t for t in run.tasks if t.id == event.task_id), None)
    if task is None or task.attempt != run.attempt or run.status.finished:
        # Not this run's current task: a stray. Record what we know, kill it if alive.
        gone = state in ENDED_STATES  # UNKNOWN too: nothing the master could kill
        if task is not None and task.alive:
            completed = now if gone else None
            run = _replace_task(
                run, dataclasses.replace(task, status=state.value, completed_at=completed)
            )
        return run, () if gone else (KillTask(event.task_id),)
    if not task.alive:
        return run, ()  # duplicate of a terminal update
    never_reported = task.status is None
    terminal = state in ENDED_STATES
    unreachable_at = (task.unreachable_at or now) if state is TaskState.UNREACHABLE else None
    updated = dataclasses.replace(
        task,
        status=state.value,
        completed_at=now if terminal else None,
        unreachable_at=unreachable_at,
    )
    run = _replace_task(run, updated)
    if state is TaskState.RUNNING:
        return dataclasses.replace(run, status=RunStatus.ACTIVE), ()
    if state in (TaskState.STAGING, TaskState.STARTING):
        return dataclasses.replace(run, status=RunStatus.STARTING), ()
    if state is TaskState.FINISHED:
        return _finish(run, RunStatus.SUCCESS, now)
    if state not in _FAILURE:
        return run, ()  # KILLING, UNREACHABLE: not over yet
    if run.stop_requested_at is not None:
        return _finish(run, RunStatus.FAILED, now)
    if never_reported and state in _LOST_LAUNCH:
        return _next_attempt(run, now, run.failures)  # the launch never happened
    if _may_retry(run, now):
        return _next_attempt(run, now, run.failures + 1)
    return _finish(run, RunStatus.FAILED, now)
