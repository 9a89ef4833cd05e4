"""The run state machine: launch, success, retry until the deadline, NEVER, stop, lost
tasks, and no duplicate task after a failover (Metronome PR #174).
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.metronome import (
    JobRun,
    JobSpec,
    KillTask,
    LaunchTask,
    RunEffect,
    RunEvent,
    RunFinished,
    RunStatus,
    StopRun,
    TaskUpdate,
    Tick,
    create_run,
    launch_delay,
    parse_task_id,
    step,
    task_id_for,
)

JOB = "prod.backup"
RUN = "20240501000000ABCDE"
T1 = task_id_for(JOB, RUN, 1)
T2 = task_id_for(JOB, RUN, 2)


def spec(**restart: Any) -> JobSpec:
    run: dict[str, Any] = {"cmd": "backup.sh", "maxLaunchDelay": 60}
    if restart:
        run["restart"] = restart
    return JobSpec.from_json({"id": JOB, "run": run})


def new_run(**restart: Any) -> JobRun:
    return create_run(spec(**restart), RUN, now=0.0)


def play(run: JobRun, script: list[tuple[float, RunEvent]]) -> tuple[JobRun, list[RunEffect]]:
    """Feed events; persist (JSON round trip) after every step as the actor must."""
    effects: list[RunEffect] = []
    for now, event in script:
        run, produced = step(run, event, now)
        run = JobRun.from_json(run.to_json())
        effects.extend(produced)
    return run, effects


def up(task_id: str, state: str) -> TaskUpdate:
    return TaskUpdate(task_id, state)


def test_task_ids_are_deterministic_and_parse_back() -> None:
    assert T1 == "prod.backup_20240501000000ABCDE.1"
    assert parse_task_id(T2) == (JOB, RUN, 2)
    assert parse_task_id("garbage") is None


def test_a_run_succeeds_on_the_first_try() -> None:
    run, effects = play(
        new_run(),
        [
            (0, Tick()),
            (1, up(T1, "TASK_STAGING")),
            (2, up(T1, "TASK_STARTING")),
            (3, up(T1, "TASK_RUNNING")),
            (9, up(T1, "TASK_FINISHED")),
        ],
    )
    assert effects == [LaunchTask(JOB, RUN, 1, T1), RunFinished(JOB, RUN, RunStatus.SUCCESS)]
    assert (run.status, run.completed_at) == (RunStatus.SUCCESS, 9)
    assert run.api_json() == {
        "id": RUN,
        "jobId": JOB,
        "status": "SUCCESS",
        "createdAt": "1970-01-01T00:00:00.000+0000",
        "completedAt": "1970-01-01T00:00:09.000+0000",
        "tasks": [
            {
                "id": T1,
                "status": "TASK_FINISHED",
                "startedAt": "1970-01-01T00:00:00.000+0000",
                "completedAt": "1970-01-01T00:00:09.000+0000",
            }
        ],
    }


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], RunStatus.INITIAL),
        ([Tick()], RunStatus.STARTING),
        ([Tick(), up(T1, "TASK_STAGING")], RunStatus.STARTING),
        ([Tick(), up(T1, "TASK_RUNNING")], RunStatus.ACTIVE),
        ([Tick(), up(T1, "TASK_RUNNING"), up(T1, "TASK_UNREACHABLE")], RunStatus.ACTIVE),
        ([Tick(), up(T1, "TASK_RUNNING"), up(T1, "TASK_KILLING")], RunStatus.ACTIVE),
        ([Tick(), up(T1, "TASK_FINISHED")], RunStatus.SUCCESS),
        ([Tick(), up(T1, "TASK_FAILED")], RunStatus.FAILED),
        ([Tick(), up(T1, "TASK_RUNNING"), up(T1, "TASK_LOST")], RunStatus.FAILED),
        ([Tick(), up(T1, "TASK_ERROR")], RunStatus.FAILED),
        ([Tick(), up(T1, "TASK_KILLED")], RunStatus.FAILED),
        ([Tick(), up(T1, "TASK_RUNNING"), up(T1, "TASK_GONE")], RunStatus.FAILED),
    ],
)
def test_status_table_with_restart_never(events: list[RunEvent], status: RunStatus) -> None:
    """Metronome's RunStatus per task state; NEVER: the first failure fails the run."""
    run, _ = play(new_run(), [(float(i), e) for i, e in enumerate(events)])
    assert run.status is status


def test_on_failure_relaunches_after_backoff_with_a_new_task_id() -> None:
    run, effects = play(
        new_run(policy="ON_FAILURE"),
        [(0, Tick()), (1, up(T1, "TASK_RUNNING")), (2, up(T1, "TASK_FAILED"))],
    )
    assert run.status is RunStatus.STARTING and run.attempt == 2
    assert run.next_launch_at == 2 + launch_delay(run, 1)
    assert effects == [LaunchTask(JOB, RUN, 1, T1)]
    run, effects = play(run, [(2.5, Tick())])
    assert effects == []  # still backing off
    run, effects = play(run, [(3.0, Tick()), (4, up(T2, "TASK_RUNNING")), (5, Tick())])
    assert effects == [LaunchTask(JOB, RUN, 2, T2)]
    assert run.status is RunStatus.ACTIVE
    assert [t.id for t in run.tasks] == [T1, T2]


def test_backoff_grows_and_is_capped_by_max_launch_delay() -> None:
    run = new_run(policy="ON_FAILURE")
    delays = [launch_delay(run, n) for n in (1, 2, 3, 100)]
    assert delays[0] == 1.0 and delays[1] == pytest.approx(1.15)
    assert delays[2] > delays[1] and delays[3] == 60  # maxLaunchDelay


def test_on_failure_retries_until_the_active_deadline_then_fails() -> None:
    """activeDeadlineSeconds is measured from the run's creation."""
    run = new_run(policy="ON_FAILURE", activeDeadlineSeconds=100)
    now, attempts = 0.0, 0
    while not run.status.finished:
        run, effects = step(run, Tick(), now)
        for effect in effects:
            if isinstance(effect, LaunchTask):
                attempts += 1
                run, _ = step(run, up(effect.task_id, "TASK_FAILED"), now + 1)
        now += 1
    assert run.status is RunStatus.FAILED
    assert 100 <= run.completed_at <= 102  # type: ignore[operator]
    assert attempts > 3
    assert len({t.id for t in run.tasks}) == attempts == len(run.tasks)


def test_a_failure_after_the_active_deadline_is_final() -> None:
    run, effects = play(
        new_run(policy="ON_FAILURE", activeDeadlineSeconds=10),
        [(0, Tick()), (1, up(T1, "TASK_RUNNING")), (50, up(T1, "TASK_FAILED"))],
    )
    assert run.status is RunStatus.FAILED
    assert effects[-1] == RunFinished(JOB, RUN, RunStatus.FAILED)


def test_stop_kills_the_task_and_the_run_ends_failed() -> None:
    """Metronome: stopping (aborting) a run kills its task; the run ends FAILED."""
    run, effects = play(
        new_run(policy="ON_FAILURE"),
        [(0, Tick()), (1, up(T1, "TASK_RUNNING")), (2, StopRun())],
    )
    assert effects[-1] == KillTask(T1) and run.status is RunStatus.ACTIVE
    run, effects = play(run, [(3, StopRun()), (20, Tick()), (40, Tick())])
    assert effects == [KillTask(T1)]  # stop is idempotent; the kill is re-sent after 30 s
    run, effects = play(run, [(41, up(T1, "TASK_KILLED")), (200, Tick())])
    assert effects == [RunFinished(JOB, RUN, RunStatus.FAILED)]  # not retried
    assert run.status is RunStatus.FAILED


def test_stop_before_launch_fails_at_once() -> None:
    _, effects = play(new_run(), [(0, StopRun()), (1, Tick())])
    assert effects == [RunFinished(JOB, RUN, RunStatus.FAILED)]


def test_a_task_that_finishes_before_the_kill_lands_makes_the_run_succeed() -> None:
    run, _ = play(
        new_run(),
        [(0, Tick()), (1, up(T1, "TASK_RUNNING")), (2, StopRun()), (3, up(T1, "TASK_FINISHED"))],
    )
    assert run.status is RunStatus.SUCCESS


def test_a_lost_task_is_a_failure_retried_under_on_failure() -> None:
    run, effects = play(
        new_run(policy="ON_FAILURE"),
        [(0, Tick()), (1, up(T1, "TASK_RUNNING")), (2, up(T1, "TASK_LOST")), (10, Tick())],
    )
    assert effects == [LaunchTask(JOB, RUN, 1, T1), LaunchTask(JOB, RUN, 2, T2)]
    assert run.failures == 1


def test_reload_mid_run_does_not_launch_a_duplicate() -> None:
    """PR #174: after a restart Metronome launched a second task. The launch is
    recorded before it is sent; a reloaded STARTING/ACTIVE run waits for
    reconciliation instead of launching again."""
    run, effects = step(new_run(), Tick(), 0)
    assert effects == (LaunchTask(JOB, RUN, 1, T1),)
    reloaded = JobRun.from_json(run.to_json())  # the leader died right after persisting
    assert reloaded == run
    assert reloaded.live_task_ids() == (T1,)
    for now in (1, 100, 10_000):
        reloaded, effects = step(reloaded, Tick(), now)
        assert effects == ()
    reloaded, effects = step(reloaded, up(T1, "TASK_RUNNING"), 10_001)  # reconciliation
    assert reloaded.status is RunStatus.ACTIVE and effects == ()


@pytest.mark.parametrize("answer", ["TASK_DROPPED", "TASK_UNKNOWN"])
def test_a_launch_that_never_happened_moves_to_a_new_attempt_even_under_never(
    answer: str,
) -> None:
    """Leader died between persisting and launching: reconciliation says the task never
    existed, so a fresh attempt (new task id) runs and no failure is counted."""
    run, _ = step(new_run(), Tick(), 0)
    run = JobRun.from_json(run.to_json())
    run, effects = play(run, [(5, up(T1, answer)), (7, Tick())])
    assert effects == [LaunchTask(JOB, RUN, 2, T2)]
    assert (run.attempt, run.failures, run.status) == (2, 0, RunStatus.STARTING)


def test_a_stray_task_of_an_old_attempt_is_killed() -> None:
    run, _ = play(
        new_run(policy="ON_FAILURE"),
        [(0, Tick()), (1, up(T1, "TASK_UNKNOWN")), (5, Tick())],
    )
    run, effects = play(run, [(6, up(T1, "TASK_RUNNING"))])  # it existed after all
    assert effects == [KillTask(T1)]
    run, effects = play(run, [(7, up("someone_else.1", "TASK_RUNNING"))])
    assert effects == [KillTask("someone_else.1")]


def test_updates_after_the_run_finished_change_nothing() -> None:
    run, _ = play(new_run(), [(0, Tick()), (1, up(T1, "TASK_FINISHED"))])
    again, effects = play(run, [(2, up(T1, "TASK_FINISHED")), (3, Tick()), (4, StopRun())])
    assert effects == [] and again == run


def test_a_scheduled_run_that_cannot_launch_within_its_starting_deadline_fails() -> None:
    run = create_run(spec(), RUN, 0.0, starting_deadline_seconds=60, schedule_id="nightly")
    run, effects = step(run, Tick(), 61)
    assert effects == (RunFinished(JOB, RUN, RunStatus.FAILED),)


def test_an_old_attempts_task_reported_unknown_is_gone_not_killed_again() -> None:
    """A launch lost in a failover: reconciliation answers TASK_UNKNOWN, the run moves to
    attempt 2. The old task is gone for good: it is not reconciled again, and a second
    UNKNOWN for it (the answer to a kill or a reconciliation) changes nothing and kills
    nothing. (It was kept "alive": each UNKNOWN rewrote the run and sent a kill, whose
    answer was UNKNOWN again: a leader spun a core and wrote ZooKeeper without end.)"""
    run, _ = play(new_run(), [(0, Tick()), (1, up(T1, "TASK_UNKNOWN")), (2, Tick())])
    assert run.attempt == 2
    assert run.live_task_ids() == (T2,)
    again, effects = step(run, up(T1, "TASK_UNKNOWN"), 3)
    assert effects == () and again is run
    again, effects = step(run, up(T1, "TASK_DROPPED"), 3)
    assert effects == () and again is run
