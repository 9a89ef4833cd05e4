"""The Metronome actor in an in-process cluster: real ZooKeeper, real gateway, simulated
agents (tasks labelled ``pydcos.simulated.exit`` finish at once, others run until
killed), a manual wall clock for cron and deadlines.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.metronome import JobEntry, MetronomeStore
from actors.metronome._store import Put, job_key
from zk import StateStore

from .conftest import FAIL, FINISH, MiniCluster, wait_for

pytestmark = pytest.mark.zk


def job(job_id: str, labels: dict[str, str] | None = None, **run: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": job_id, "run": {"cmd": "sleep 1", "cpus": 0.1, "mem": 32, **run}}
    if labels:
        spec["labels"] = labels
    return spec


def create(c: MiniCluster, spec: dict[str, Any]) -> Any:
    r = c.http("POST", "/v1/jobs", spec)
    assert r.status == 201, r.body
    return r.json()


def start_run(c: MiniCluster, job_id: str) -> dict[str, Any]:
    r = c.http("POST", f"/v1/jobs/{job_id}/runs")
    assert r.status == 201, r.body
    body: dict[str, Any] = r.json()
    return body


def history(c: MiniCluster, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = c.get(f"/v1/jobs/{job_id}?embed=history")["history"]
    return body


def ticks_of(c: MiniCluster) -> int:
    """Metronome's tick counter (``/v1/metrics``)."""
    counters = c.get("/v1/metrics")["counters"]
    return int(counters["metronome.ticks.counter"]["count"])


def stored(c: MiniCluster, job_id: str) -> JobEntry | None:
    doc = StateStore(c.zk, "/metronome").get(job_key(job_id))
    return None if doc is None else JobEntry.from_doc(doc.value)


# ------------------------------------------------------------------------------ runs


def test_run_now_succeeds_and_lands_in_history_and_zookeeper(cluster: MiniCluster) -> None:
    c = cluster
    created = create(c, job("backup", labels=FINISH))
    assert created["id"] == "backup" and created["run"]["cpus"] == 0.1
    run = start_run(c, "backup")
    assert run["jobId"] == "backup" and run["status"] in ("STARTING", "INITIAL")
    # The 201 came after the write: the run (with its task id) is already stored.
    entry = stored(c, "backup")
    assert entry is not None
    assert [r.id for r in entry.runs] in ([run["id"]], [])
    h = wait_for(lambda: (h := history(c, "backup"))["successCount"] == 1 and h, what="success")
    assert h["failureCount"] == 0 and h["lastSuccessAt"] is not None
    assert [r["id"] for r in h["successfulFinishedRuns"]] == [run["id"]]
    done = c.run_json("backup", run["id"])
    assert done["status"] == "SUCCESS" and len(done["tasks"]) == 1
    assert done["tasks"][0]["status"] == "TASK_FINISHED"
    assert done["tasks"][0]["id"] == f"backup_{run['id']}.1"
    assert c.get("/v1/jobs/backup/runs") == []
    entry = wait_for(lambda: (e := stored(c, "backup")) and e.hist.success_count == 1 and e)
    assert entry.runs == ()
    # Same API under DC/OS's other prefix; the summary embed too.
    r = c.http("GET", "/service/metronome/v1/jobs?embed=historySummary&embed=activeRuns")
    assert r.status == 200
    [listed] = r.json()
    assert listed["historySummary"]["successCount"] == 1 and listed["activeRuns"] == []


def test_failing_job_is_retried_until_its_active_deadline(cluster: MiniCluster) -> None:
    c = cluster
    create(
        c,
        job(
            "flaky",
            labels=FAIL,
            restart={"policy": "ON_FAILURE", "activeDeadlineSeconds": 120},
            maxLaunchDelay=5,
        ),
    )
    run = start_run(c, "flaky")

    def failed_attempts() -> int:
        tasks = c.run_json("flaky", run["id"]).get("tasks", [])
        return sum(1 for t in tasks if t["status"] == "TASK_FAILED")

    # Each attempt fails at once; the next waits for its backoff (capped at 5 s), so
    # each 10 s step of the manual clock lets exactly one more attempt launch.
    seen = wait_for(failed_attempts, what="first attempt failed")
    while c.clock.wall() + 10 < 1_700_000_000 + 120:
        c.clock.advance(10)
        before = seen
        seen = wait_for(lambda: (k := failed_attempts()) > before and k, what="a retry")  # noqa: B023
    c.clock.advance(20)  # past activeDeadlineSeconds: no more attempts
    final = wait_for(
        lambda: (r := c.run_json("flaky", run["id"]))["status"] == "FAILED" and r, what="FAILED"
    )
    assert len(final["tasks"]) >= 3
    assert all(t["status"] == "TASK_FAILED" for t in final["tasks"])
    ids = [t["id"] for t in final["tasks"]]
    assert len(set(ids)) == len(ids)  # one task per attempt
    h = history(c, "flaky")
    assert (h["successCount"], h["failureCount"]) == (0, 1)


def test_stop_action_kills_the_run_and_it_ends_failed(cluster: MiniCluster) -> None:
    c = cluster
    create(c, job("daemonish"))  # no exit label: the task runs until killed
    run = start_run(c, "daemonish")
    wait_for(lambda: c.run_json("daemonish", run["id"])["status"] == "ACTIVE", what="ACTIVE")
    r = c.http("POST", f"/v1/jobs/daemonish/runs/{run['id']}/actions/stop")
    assert r.status == 200, r.body
    assert r.json()["id"] == run["id"]
    final = wait_for(
        lambda: (r := c.run_json("daemonish", run["id"]))["status"] == "FAILED" and r,
        what="FAILED",
    )
    assert final["tasks"][0]["status"] == "TASK_KILLED"
    assert history(c, "daemonish")["failureCount"] == 1
    assert c.http("POST", "/v1/jobs/daemonish/runs/nope/actions/stop").status == 404


# ------------------------------------------------------------------------- schedules


def test_schedule_fires_once_per_slot_on_a_manual_clock(cluster: MiniCluster) -> None:
    c = cluster
    spec = job("tick", labels=FINISH)
    spec["schedules"] = [{"id": "every-minute", "cron": "* * * * *"}]
    create(c, spec)
    sched = c.get("/v1/jobs/tick/schedules/every-minute")
    assert sched["enabled"] is True and sched["nextRunAt"].endswith("+0000")
    c.clock.advance(60)
    wait_for(lambda: history(c, "tick")["successCount"] == 1, what="first slot")
    c.clock.advance(1)  # same slot: nothing new
    c.clock.advance(60)
    wait_for(lambda: history(c, "tick")["successCount"] == 2, what="second slot")
    h = history(c, "tick")
    assert h["successCount"] == 2 and h["failureCount"] == 0


def test_forbid_never_starts_a_second_concurrent_run(cluster: MiniCluster) -> None:
    c = cluster
    spec = job("exclusive")  # runs until killed
    spec["schedules"] = [{"id": "m", "cron": "* * * * *", "concurrencyPolicy": "FORBID"}]
    create(c, spec)
    c.clock.advance(60)
    wait_for(lambda: len(c.get("/v1/jobs/exclusive/runs")) == 1, what="first run")

    def skips() -> int:
        entry = stored(c, "exclusive")
        return 0 if entry is None else len(entry.skipped)

    for i in range(3):
        c.clock.advance(60)
        wait_for(lambda: skips() >= i + 1, what="a skip")  # noqa: B023 - used at once
    runs = c.get("/v1/jobs/exclusive/runs")
    assert len(runs) == 1
    entry = stored(c, "exclusive")
    assert entry is not None
    assert {s["reason"] for s in entry.skipped} == {"CONCURRENCY_FORBID"}
    # DELETE with an active run: 409 unless stopCurrentJobRuns=true (Metronome).
    r = c.http("DELETE", "/v1/jobs/exclusive")
    assert r.status == 409 and "stopCurrentJobRuns" in r.json()["message"]
    assert c.http("DELETE", "/v1/jobs/exclusive?stopCurrentJobRuns=true").status == 200
    assert c.http("GET", "/v1/jobs/exclusive").status == 404
    wait_for(lambda: "TASK_RUNNING" not in c.agent_tasks().values(), what="task killed")
    assert stored(c, "exclusive") is None


def test_disabled_schedule_stays_disabled_across_a_failover(cluster: MiniCluster) -> None:
    c = cluster
    spec = job("quiet", labels=FINISH)
    spec["schedules"] = [{"id": "m", "cron": "* * * * *", "enabled": False}]
    create(c, spec)
    c.stop_metronome()  # the leader goes; a new one starts on the same store
    c.start_metronome()
    sched = c.get("/v1/jobs/quiet/schedules/m")
    assert sched["enabled"] is False
    ticks = ticks_of(c)
    c.clock.advance(180)
    wait_for(lambda: stored(c, "quiet") is not None)
    # Three ticks after the advance saw the missed minutes and started nothing.
    wait_for(lambda: ticks_of(c) >= ticks + 3, what="three Metronome ticks")
    assert history(c, "quiet")["successCount"] == 0
    assert c.get("/v1/jobs/quiet/runs") == []
    # Enabling it starts from now: the three missed minutes are not replayed.
    r = c.http("PUT", "/v1/jobs/quiet/schedules/m", {"id": "m", "cron": "* * * * *"})
    assert r.status == 200 and r.json()["enabled"] is True
    c.clock.advance(60)
    wait_for(lambda: history(c, "quiet")["successCount"] == 1, what="one run after enabling")


def test_failover_during_an_active_run_keeps_one_task(cluster: MiniCluster) -> None:
    c = cluster
    create(c, job("long"))
    run = start_run(c, "long")
    wait_for(lambda: c.run_json("long", run["id"])["status"] == "ACTIVE", what="ACTIVE")
    c.stop_metronome()
    c.start_metronome()
    # Reconciliation brings the run back to ACTIVE with the same single task.
    again = wait_for(
        lambda: (
            (r := c.run_json("long", run["id"]))["status"] == "ACTIVE"
            and r["tasks"][0]["status"] == "TASK_RUNNING"
            and r
        ),
        what="reconciled",
    )
    assert [t["id"] for t in again["tasks"]] == [f"long_{run['id']}.1"]
    tasks = [t for t in c.agent_tasks() if t.startswith("long_")]
    assert tasks == [f"long_{run['id']}.1"]
    c.http("POST", f"/v1/jobs/long/runs/{run['id']}/actions/stop")
    wait_for(lambda: history(c, "long")["failureCount"] == 1, what="stopped")


# ----------------------------------------------------------------------- API errors


def test_invalid_jobs_get_422_naming_each_field_and_nothing_is_stored(
    cluster: MiniCluster,
) -> None:
    c = cluster
    bad = {
        "id": "bad",
        "run": {"cpus": 0.001, "mem": 10},
        "schedules": [{"id": "s", "cron": "61 * * * *", "timezone": "Mars/Olympus"}],
    }
    r = c.http("POST", "/v1/jobs", bad)
    assert r.status == 422
    body = r.json()
    assert body["message"] == "Object is not valid"
    paths = {d["path"] for d in body["details"]}
    assert {"/run/cpus", "/run/mem"} <= paths
    bad["run"] = {"cpus": 1, "mem": 64}
    paths = {d["path"] for d in c.http("POST", "/v1/jobs", bad).json()["details"]}
    assert {"/run/cmd", "/schedules/0/cron", "/schedules/0/timezone"} <= paths
    r = c.http("POST", "/v1/jobs", raw=b"{not json")
    assert r.status == 400 and "Invalid JSON" in r.json()["message"]
    create(c, job("ok"))
    r = c.http("POST", "/v1/jobs/ok/schedules", {"id": "x", "cron": "* * *"})
    assert r.status == 422 and r.json()["details"][0]["path"] == "/cron"
    r = c.http("PUT", "/v1/jobs/ok", {"run": {"cmd": "x", "cpus": -1}})
    assert r.status == 422 and r.json()["details"][0]["path"] == "/run/cpus"
    assert [j["id"] for j in c.get("/v1/jobs")] == ["ok"]
    assert c.get("/v1/jobs/ok")["run"]["cpus"] == 0.1
    assert StateStore(c.zk, "/metronome").list("jobs") == ["ok"]


def test_not_found_and_conflict_shapes(cluster: MiniCluster) -> None:
    c = cluster
    r = c.http("GET", "/v1/jobs/ghost")
    assert r.status == 404 and r.json() == {"message": "Job 'ghost' does not exist"}
    assert c.http("POST", "/v1/jobs/ghost/runs").json() == {"message": "Job 'ghost' does not exist"}
    assert c.http("DELETE", "/v1/jobs/ghost").status == 404
    create(c, job("dup"))
    r = c.http("POST", "/v1/jobs", job("dup"))
    assert r.status == 409 and "already exists" in r.json()["message"]
    r = c.http("POST", "/v1/jobs/dup/schedules", {"id": "s", "cron": "0 * * * *"})
    assert r.status == 201 and r.json()["id"] == "s"
    assert c.http("POST", "/v1/jobs/dup/schedules", {"id": "s", "cron": "0 * * * *"}).status == 409
    assert c.http("GET", "/v1/jobs/dup/schedules/nope").status == 404
    assert c.http("GET", "/v1/jobs/dup/runs/nope").status == 404
    assert c.http("GET", "/v1/jobs?embed=bogus").status == 400
    # PUT keeps the schedules (Metronome) and the path names the job.
    r = c.http("PUT", "/v1/jobs/dup", {"id": "other", "run": {"cmd": "true"}})
    assert r.status == 200 and r.json()["id"] == "dup"
    assert [s["id"] for s in c.get("/v1/jobs/dup/schedules")] == ["s"]
    assert c.http("DELETE", "/v1/jobs/dup/schedules/s").status == 200
    assert c.get("/v1/jobs/dup/schedules") == []
    assert c.http("GET", "/metronome/ping").body == b"pong"
    info = c.http("GET", "/service/metronome/info").json()
    assert set(info) == {"version", "libVersion"}


def test_batch_writes_are_plain_state_store_documents(zk_client: Any) -> None:
    store = MetronomeStore(zk_client)
    written = store.write_batch([Put(job_key(f"j{i}"), {"n": i}, None) for i in range(5)])
    assert {w.version for w in written.values()} == {0}
    state = StateStore(zk_client, "/metronome")
    assert state.require("jobs/j3").value == {"n": 3}
    written = store.write_batch([Put("jobs/j3", {"n": 33}, 0)])
    assert state.require("jobs/j3").value == {"n": 33} and written["jobs/j3"].version == 1
    big = {"blob": "x" * 1_500_000}
    store.write_batch([Put("jobs/j4", big, 0)])
    assert state.require("jobs/j4").value == big and state.require("jobs/j4").chunked
