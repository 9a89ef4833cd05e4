"""Metronome, the job scheduler: the pure half.

Job and schedule specs (parse, validate, defaults, render), cron evaluation in IANA
time zones, the scheduler step (which slots start runs, which are skipped and why), the
run state machine (launch, retry, stop, failover-safe task ids) and per-job history.
No I/O, no threads, time passed in; the Metronome actor and the ``/metronome/v1`` REST
API sit on top. See README.md for the map.
"""

from ._errors import MetronomeError, ValidationFailed
from ._history import DEFAULT_HISTORY_LIMIT, JobHistory, RunInfo
from ._ids import make_run_id, parse_task_id, run_id_for_slot, task_id_for
from ._job import Artifact, DockerSpec, JobSpec, RestartSpec, RunSpec, Volume
from ._run import (
    JobRun,
    KillTask,
    LaunchTask,
    RunEffect,
    RunEvent,
    RunFinished,
    RunStatus,
    RunTask,
    StopRun,
    TaskUpdate,
    Tick,
    create_run,
    launch_delay,
    step,
)
from ._schedule import (
    ScheduleEffect,
    ScheduleSpec,
    ScheduleState,
    SkipReason,
    SlotSkipped,
    StartRun,
    next_fire,
    scheduler_step,
    slots_between,
    step_schedule,
)
from ._time import format_time

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "Artifact",
    "DockerSpec",
    "JobHistory",
    "JobRun",
    "JobSpec",
    "KillTask",
    "LaunchTask",
    "MetronomeError",
    "RestartSpec",
    "RunEffect",
    "RunEvent",
    "RunFinished",
    "RunInfo",
    "RunSpec",
    "RunStatus",
    "RunTask",
    "ScheduleEffect",
    "ScheduleSpec",
    "ScheduleState",
    "SkipReason",
    "SlotSkipped",
    "StartRun",
    "StopRun",
    "TaskUpdate",
    "Tick",
    "ValidationFailed",
    "Volume",
    "create_run",
    "format_time",
    "launch_delay",
    "make_run_id",
    "next_fire",
    "parse_task_id",
    "run_id_for_slot",
    "scheduler_step",
    "slots_between",
    "step",
    "step_schedule",
    "task_id_for",
]
