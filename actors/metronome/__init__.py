"""Metronome, the job scheduler: the pure half.

Job and schedule specs (parse, validate, defaults, render), cron evaluation in IANA
time zones, the scheduler step (which slots start runs, which are skipped and why), the
run state machine (launch, retry, stop, failover-safe task ids) and per-job history.
No I/O, no threads, time passed in. On top: the Metronome actor (``_actor.py``), its
ZooKeeper persistence (``_store.py``), the ``/metronome/v1`` REST API (``_api.py``) and
``MetronomeService``, the leader service that runs them on the leading master. See
README.md for the map.

Imports are lazy (PEP 562): importing a pure module (``actors.metronome._run``) or a
pure name loads no aiohttp, kazoo or zmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.metronome._actor import (
        METRONOME_ACTOR,
        MetronomeActor,
        MetronomeConfig,
    )
    from actors.metronome._api import (
        MetronomeApi,
    )
    from actors.metronome._errors import (
        MetronomeError,
        ValidationFailed,
    )
    from actors.metronome._history import (
        DEFAULT_HISTORY_LIMIT,
        JobHistory,
        RunInfo,
    )
    from actors.metronome._ids import (
        make_run_id,
        parse_task_id,
        run_id_for_slot,
        task_id_for,
    )
    from actors.metronome._job import (
        Artifact,
        DockerSpec,
        JobSpec,
        RestartSpec,
        RunSpec,
        Volume,
    )
    from actors.metronome._offers import (
        task_info,
    )
    from actors.metronome._run import (
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
    from actors.metronome._schedule import (
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
    from actors.metronome._service import (
        MetronomeService,
    )
    from actors.metronome._store import (
        MetronomeStore,
    )
    from actors.metronome._time import (
        format_time,
    )
    from actors.metronome._view import (
        JobEntry,
        MetronomeView,
        ViewBoard,
        Waiting,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "actors.metronome._actor": (
        "METRONOME_ACTOR",
        "MetronomeActor",
        "MetronomeConfig",
    ),
    "actors.metronome._api": ("MetronomeApi",),
    "actors.metronome._errors": (
        "MetronomeError",
        "ValidationFailed",
    ),
    "actors.metronome._history": (
        "DEFAULT_HISTORY_LIMIT",
        "JobHistory",
        "RunInfo",
    ),
    "actors.metronome._ids": (
        "make_run_id",
        "parse_task_id",
        "run_id_for_slot",
        "task_id_for",
    ),
    "actors.metronome._job": (
        "Artifact",
        "DockerSpec",
        "JobSpec",
        "RestartSpec",
        "RunSpec",
        "Volume",
    ),
    "actors.metronome._run": (
        "JobRun",
        "KillTask",
        "LaunchTask",
        "RunEffect",
        "RunEvent",
        "RunFinished",
        "RunStatus",
        "RunTask",
        "StopRun",
        "TaskUpdate",
        "Tick",
        "create_run",
        "launch_delay",
        "step",
    ),
    "actors.metronome._schedule": (
        "ScheduleEffect",
        "ScheduleSpec",
        "ScheduleState",
        "SkipReason",
        "SlotSkipped",
        "StartRun",
        "next_fire",
        "scheduler_step",
        "slots_between",
        "step_schedule",
    ),
    "actors.metronome._service": ("MetronomeService",),
    "actors.metronome._store": ("MetronomeStore",),
    "actors.metronome._time": ("format_time",),
    "actors.metronome._view": (
        "JobEntry",
        "MetronomeView",
        "ViewBoard",
        "Waiting",
    ),
    "actors.metronome._offers": ("task_info",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

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
    "Waiting",
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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
