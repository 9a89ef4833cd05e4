"""Per-job history of finished runs (Metronome's JobHistory).

Counters and last-success/failure times cover the job's whole life; the lists of
finished runs keep the newest `limit` of each kind (pydcos default 20; Metronome's
``metronome.history.count`` was 10 in early releases and 1000 later). `record` is
idempotent per run id, so a `RunFinished` replayed after a failover does not count a
run twice; the history is persisted with every change, so finished runs do not vanish
from it on restart (Metronome issue #111).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._run import JobRun, RunStatus
from ._time import format_optional, format_time

DEFAULT_HISTORY_LIMIT = 20


@dataclass(frozen=True)
class RunInfo:
    """A finished run as history keeps it."""

    id: str
    created_at: float
    finished_at: float

    def api_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": format_time(self.created_at),
            "finishedAt": format_time(self.finished_at),
        }

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "createdAt": self.created_at, "finishedAt": self.finished_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunInfo:
        return cls(data["id"], data["createdAt"], data["finishedAt"])


@dataclass(frozen=True)
class JobHistory:
    """Success/failure counters and the recent finished runs of one job (newest first)."""

    job_id: str
    success_count: int = 0
    failure_count: int = 0
    last_success_at: float | None = None
    last_failure_at: float | None = None
    successful_runs: tuple[RunInfo, ...] = ()
    failed_runs: tuple[RunInfo, ...] = ()

    def knows(self, run_id: str) -> bool:
        return any(r.id == run_id for r in (*self.successful_runs, *self.failed_runs))

    def record(self, run: JobRun, limit: int = DEFAULT_HISTORY_LIMIT) -> JobHistory:
        """Add a finished run (SUCCESS or FAILED); a run already listed is ignored."""
        if not run.status.finished or self.knows(run.id):
            return self
        finished_at = run.completed_at if run.completed_at is not None else run.created_at
        info = RunInfo(run.id, run.created_at, finished_at)
        if run.status is RunStatus.SUCCESS:
            return dataclasses.replace(
                self,
                success_count=self.success_count + 1,
                last_success_at=_latest(self.last_success_at, finished_at),
                successful_runs=(info, *self.successful_runs)[:limit],
            )
        return dataclasses.replace(
            self,
            failure_count=self.failure_count + 1,
            last_failure_at=_latest(self.last_failure_at, finished_at),
            failed_runs=(info, *self.failed_runs)[:limit],
        )

    def summary_json(self) -> dict[str, Any]:
        """Metronome's ``historySummary`` (``GET /v1/jobs?embed=historySummary``)."""
        return {
            "successCount": self.success_count,
            "failureCount": self.failure_count,
            "lastSuccessAt": format_optional(self.last_success_at),
            "lastFailureAt": format_optional(self.last_failure_at),
        }

    def api_json(self) -> dict[str, Any]:
        """Metronome's ``history`` (``embed=history``)."""
        return {
            **self.summary_json(),
            "successfulFinishedRuns": [r.api_json() for r in self.successful_runs],
            "failedFinishedRuns": [r.api_json() for r in self.failed_runs],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "successCount": self.success_count,
            "failureCount": self.failure_count,
            "lastSuccessAt": self.last_success_at,
            "lastFailureAt": self.last_failure_at,
            "successfulRuns": [r.to_json() for r in self.successful_runs],
            "failedRuns": [r.to_json() for r in self.failed_runs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobHistory:
        return cls(
            job_id=data["jobId"],
            success_count=data["successCount"],
            failure_count=data["failureCount"],
            last_success_at=data["lastSuccessAt"],
            last_failure_at=data["lastFailureAt"],
            successful_runs=tuple(RunInfo.from_json(r) for r in data["successfulRuns"]),
            failed_runs=tuple(RunInfo.from_json(r) for r in data["failedRuns"]),
        )


def _latest(old: float | None, new: float) -> float:
    return new if old is None else max(old, new)
