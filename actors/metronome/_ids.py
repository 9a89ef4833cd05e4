"""Run ids and task ids, both deterministic so failover can never mint a second one.

Run ids keep Metronome's shape, ``20160715130259A34HX``: the UTC creation second plus
five characters. Metronome draws the five at random; here they are a hash of a salt
the caller passes (the actor passes fresh randomness for a manual run; a scheduled run
uses (job, schedule, slot)), so the run of a cron slot has the same id however many
times a failing-over leader computes it.

Task ids are ``{jobId}_{runId}.{attempt}`` (Metronome's ``{jobId}_{runId}.{uuid}`` with
the attempt number in place of the uuid): one id per run attempt, known before the
launch, which is what makes "persist the task id BEFORE launching" possible.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def make_run_id(created_at: float, salt: str) -> str:
    """Metronome-shaped run id for a run created at `created_at` (epoch seconds)."""
    stamp = datetime.fromtimestamp(created_at, tz=UTC).strftime("%Y%m%d%H%M%S")
    digest = hashlib.sha256(salt.encode()).digest()
    return stamp + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])


def run_id_for_slot(job_id: str, schedule_id: str, slot: float) -> str:
    """The one run id a cron slot of a schedule can ever have."""
    return make_run_id(slot, f"{job_id}/{schedule_id}/{slot!r}")


def task_id_for(job_id: str, run_id: str, attempt: int) -> str:
    """The one task id attempt `attempt` (1-based) of a run can ever have."""
    return f"{job_id}_{run_id}.{attempt}"


def parse_task_id(task_id: str) -> tuple[str, str, int] | None:
    """``(job_id, run_id, attempt)`` of a task id made by `task_id_for`, else None."""
    head, _, attempt = task_id.rpartition(".")
    job_id, _, run_id = head.rpartition("_")
    if not job_id or not run_id or not attempt.isdigit():
        return None
    return job_id, run_id, int(attempt)
