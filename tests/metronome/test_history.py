"""Job history: counters, the recent-runs window, Metronome's embed shapes, and
persistence (Metronome issue #111: finished runs vanished from history)."""

from __future__ import annotations

import dataclasses

from actors.metronome import JobHistory, JobRun, JobSpec, RunStatus, create_run

SPEC = JobSpec.from_json({"id": "etl", "run": {"cmd": "x"}})


def finished(run_id: str, status: RunStatus, created: float, done: float) -> JobRun:
    run = create_run(SPEC, run_id, created)
    return dataclasses.replace(run, status=status, completed_at=done)


def test_history_counts_and_lists_newest_first_in_metronomes_shape() -> None:
    h = JobHistory("etl")
    h = h.record(finished("r1", RunStatus.SUCCESS, 0, 10))
    h = h.record(finished("r2", RunStatus.FAILED, 20, 30))
    h = h.record(finished("r3", RunStatus.SUCCESS, 40, 50))
    body = h.api_json()
    assert body["successCount"] == 2 and body["failureCount"] == 1
    assert body["lastSuccessAt"] == "1970-01-01T00:00:50.000+0000"
    assert body["lastFailureAt"] == "1970-01-01T00:00:30.000+0000"
    assert [r["id"] for r in body["successfulFinishedRuns"]] == ["r3", "r1"]
    assert body["failedFinishedRuns"] == [
        {
            "id": "r2",
            "createdAt": "1970-01-01T00:00:20.000+0000",
            "finishedAt": "1970-01-01T00:00:30.000+0000",
        }
    ]
    assert set(h.summary_json()) == {
        "successCount",
        "failureCount",
        "lastSuccessAt",
        "lastFailureAt",
    }


def test_history_keeps_the_last_n_runs_but_counts_all() -> None:
    h = JobHistory("etl")
    for i in range(30):
        h = h.record(finished(f"r{i}", RunStatus.SUCCESS, i, i + 1), limit=20)
    assert h.success_count == 30 and len(h.successful_runs) == 20
    assert h.successful_runs[0].id == "r29"


def test_recording_a_run_twice_counts_it_once() -> None:
    """A RunFinished replayed after a failover must not count the run again."""
    run = finished("r1", RunStatus.FAILED, 0, 5)
    h = JobHistory("etl").record(run).record(run)
    assert h.failure_count == 1 and len(h.failed_runs) == 1


def test_unfinished_runs_are_not_history() -> None:
    assert JobHistory("etl").record(create_run(SPEC, "r", 0)) == JobHistory("etl")


def test_history_survives_a_failover() -> None:
    """#111: finished runs vanished from history after a restart."""
    h = JobHistory("etl").record(finished("r1", RunStatus.SUCCESS, 0, 1))
    assert JobHistory.from_json(h.to_json()) == h
