"""Metronome, the job scheduler: the pure half.

Job and schedule specs (parse, validate, defaults, render), cron evaluation in IANA
time zones, the scheduler step (which slots start runs, which are skipped and why), the
run state machine (launch, retry, stop, failover-safe task ids) and per-job history.
No I/O, no threads, time passed in. On top: the Metronome actor (``_actor.py``), its
ZooKeeper persistence (``_store.py``), the ``/metronome/v1`` REST API (``_api.py``) and
``MetronomeService``, the leader service that runs them on the leading master. See
README.md for the map.
"""

from ._actor import METRONOME_ACTOR, MetronomeActor, MetronomeConfig, task_info
from ._api import MetronomeApi
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
from ._service import MetronomeService
from ._store import MetronomeStore
from ._time import format_time
from ._view import JobEntry, MetronomeView, ViewBoard

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "METRONOME_ACTOR",
    "Artifact",
    "DockerSpec",
    "JobEntry",
    "JobHistory",
    "JobRun",
    "JobSpec",
    "KillTask",
    "LaunchTask",
    "MetronomeActor",
    "MetronomeApi",
    "MetronomeConfig",
    "MetronomeError",
    "MetronomeService",
    "MetronomeStore",
    "MetronomeView",
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
    "ViewBoard",
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
    "task_info",
]
