"""Metronome across real processes: masters (tests/metronome/_master_main.py, Metronome as
a leader service), agents (``python -m console.cli agent``), the real ZooKeeper.

* a run started now of a native job ends SUCCESS and lands in the job's history;
* a failing native job (ON_FAILURE) is retried until its activeDeadlineSeconds, then
  FAILED with every attempt's task in the run;
* a schedule fires on an accelerated clock (``PYDCOS_TEST_METRONOME_CLOCK``, read only by
  _master_main.py) once per slot; disabled, it stops firing and stays disabled after
  the leader is SIGKILLed;
* kill -9 of the leader during an active run: the new leader adopts the run and the
  agent still runs exactly one task for it.

Every process is stopped by PID at teardown; native tasks left behind are killed
through the agent's checkpoints and the test's private cgroup root is removed.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import FINISH, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

REPO = Path(__file__).resolve().parents[2]
MASTER_MAIN = Path(__file__).with_name("_master_main.py")
TEST_CLOCK_ENV = "PYDCOS_TEST_METRONOME_CLOCK"  # _master_main.TEST_CLOCK_ENV
SCALE = 60.0
"""Accelerated clock for the schedule test: a cron minute lasts about a real second."""
_ROOTS = itertools.count(1)


class Proc:
    def __init__(
        self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name, self.argv, self.log = name, argv, log
        self.env = dict(env or {})
        self.popen: subprocess.Popen[bytes] | None = None
        self.address = self.url = ""

    def start(self) -> Proc:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **self.env)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_up(self, banner: str) -> Proc:
        def up() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            for line in self.log.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == banner and words[1].startswith("tcp://"):
                    self.address = words[1]
                    self.url = words[3] if len(words) >= 4 else ""
                    return True
            return False

        wait_for(up, 30, f"{self.name} up", interval=0.05, retry_errors=False)
        return self

    def kill9(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.kill9()


def request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split("/", 1)[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw
    finally:
        conn.close()


class Cluster:
    """The processes of one test, all in one ZooKeeper chroot; `stop` cleans up."""

    def __init__(self, zk: str, tmp: Path) -> None:
        self.zk, self.tmp = zk, tmp
        self.procs: list[Proc] = []
        self.masters: list[Proc] = []
        self.work_dirs: list[Path] = []
        self.cgroup_root = f"pydcos-e2e-metronome-{os.getpid()}-{next(_ROOTS)}"
        """A private parent cgroup for this test's native tasks, removed at teardown."""

    def master(self, env: dict[str, str] | None = None) -> Proc:
        name = f"master-{len(self.masters)}"
        argv = [sys.executable, str(MASTER_MAIN), "--zk", self.zk, "--tick", "0.1"]
        m = Proc(name, argv, self.tmp / f"{name}.log", env)
        self.procs.append(m.start())
        self.masters.append(m)
        return m.wait_up("master")

    def agent(self, containerizers: str = "simulated") -> Proc:
        name = f"agent-{len(self.work_dirs)}"
        work = self.tmp / name
        self.work_dirs.append(work)
        argv = [
            sys.executable,
            "-m",
            "console.cli",
            "agent",
            "--zk",
            self.zk,
            "--insecure-dev",
            "--hostname",
            name,
            "--containerizers",
            containerizers,
            "--resources",
            "cpus:4;mem:4096",
            "--work-dir",
            str(work),
            "--cgroup-root",
            self.cgroup_root,
        ]
        a = Proc(name, argv, self.tmp / f"{name}.log")
        self.procs.append(a.start())
        return a.wait_up("agent")

    def leader(self) -> Proc | None:
        """The master whose Metronome answers (standbys redirect, or 503 while starting)."""
        for m in self.masters:
            if m.alive:
                with contextlib.suppress(OSError):
                    if request(m.url + "/metronome/v1/jobs")[0] == 200:
                        return m
        return None

    def wait_leader(self) -> Proc:
        leader: Proc = wait_for(self.leader, timeout=30, what="a leading master with Metronome")
        return leader

    def wait_agents(self, url: str, count: int = 1) -> None:
        wait_for(
            lambda: len(request(url + "/mesos/master/slaves")[1]["slaves"]) >= count,
            timeout=30,
            what="agents registered",
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        from tests.e2e.conftest import kill_native_tasks, remove_cgroup_root

        for work in self.work_dirs:
            with contextlib.suppress(Exception):
                kill_native_tasks(work)
        remove_cgroup_root(self.cgroup_root, self.tmp)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.log.read_text(errors='replace')[-3000:]}"
            for p in self.procs
            if p.log.exists()
        )


@pytest.fixture
def cluster(zk_hosts: str, zk_chroot: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(f"{zk_hosts}{zk_chroot}", tmp_path)
    try:
        yield c
    finally:
        c.stop()


def _ok(status_body: tuple[int, Any], status: int = 200) -> Any:
    got, body = status_body
    assert got == status, (got, body)
    return body


def job_with_history(url: str, job_id: str) -> dict[str, Any]:
    """One snapshot of the job: its active runs and its history (one view, no race)."""
    body: dict[str, Any] = _ok(
        request(f"{url}/metronome/v1/jobs/{job_id}?embed=history&embed=activeRuns")
    )
    return body


def run_ids(doc: dict[str, Any]) -> list[str]:
    """Every run the snapshot names: active and finished."""
    h = doc["history"]
    runs = [*doc["activeRuns"], *h["successfulFinishedRuns"], *h["failedFinishedRuns"]]
    return [r["id"] for r in runs]


# ----------------------------------------------------------------------- native runs


def test_run_now_of_a_native_job_succeeds_and_lands_in_history(cluster: Cluster) -> None:
    url = cluster.master().url
    cluster.agent("mesos")
    cluster.wait_leader()
    cluster.wait_agents(url)
    base = url + "/metronome/v1"
    spec = {"id": "hello", "run": {"cmd": "/bin/echo metronome-e2e-ok", "cpus": 0.1, "mem": 32}}
    assert _ok(request(base + "/jobs", "POST", spec), 201)["id"] == "hello"
    run = _ok(request(base + "/jobs/hello/runs", "POST"), 201)
    assert run["jobId"] == "hello" and run["status"] in ("INITIAL", "STARTING")

    def succeeded() -> Any:
        doc = job_with_history(url, "hello")
        return doc["history"]["successCount"] == 1 and doc

    doc = wait_for(succeeded, timeout=30, what="the run in history")
    h = doc["history"]
    assert h["failureCount"] == 0 and h["lastSuccessAt"] is not None
    assert [r["id"] for r in h["successfulFinishedRuns"]] == [run["id"]]
    assert h["failedFinishedRuns"] == [] and doc["activeRuns"] == []
    done = _ok(request(f"{base}/jobs/hello/runs/{run['id']}"))
    assert done["status"] == "SUCCESS"
    assert [(t["id"], t["status"]) for t in done["tasks"]] == [
        (f"hello_{run['id']}.1", "TASK_FINISHED")
    ]
    # The command really ran on the agent: its output is in the task's sandbox.
    outputs = [p.read_text(errors="replace") for p in cluster.work_dirs[0].rglob("stdout")]
    assert any("metronome-e2e-ok" in out for out in outputs), outputs


def test_failing_native_job_is_retried_until_its_active_deadline(cluster: Cluster) -> None:
    url = cluster.master().url
    cluster.agent("mesos")
    cluster.wait_leader()
    cluster.wait_agents(url)
    base = url + "/metronome/v1"
    spec = {
        "id": "flaky",
        "run": {
            "cmd": "exit 1",
            "cpus": 0.1,
            "mem": 32,
            "restart": {"policy": "ON_FAILURE", "activeDeadlineSeconds": 5},
        },
    }
    _ok(request(base + "/jobs", "POST", spec), 201)
    run = _ok(request(base + "/jobs/flaky/runs", "POST"), 201)
    run_url = f"{base}/jobs/flaky/runs/{run['id']}"

    def failed() -> Any:
        body = _ok(request(run_url))
        return body["status"] == "FAILED" and body

    final = wait_for(failed, timeout=30, what="the run FAILED after its deadline")
    ids = [t["id"] for t in final["tasks"]]
    assert len(ids) >= 2, final  # retried: more than one attempt
    assert ids == [f"flaky_{run['id']}.{n}" for n in range(1, len(ids) + 1)]  # one per attempt
    assert {t["status"] for t in final["tasks"]} == {"TASK_FAILED"}
    h = wait_for(
        lambda: (h := job_with_history(url, "flaky")["history"])["failureCount"] == 1 and h,
        what="the failed run in history",
    )
    assert h["successCount"] == 0
    assert [r["id"] for r in h["failedFinishedRuns"]] == [run["id"]]
    assert _ok(request(base + "/jobs/flaky/runs")) == []


# ---------------------------------------------------------------- schedules, failover


def test_schedule_fires_once_per_slot_and_stays_disabled_across_a_leader_kill(
    cluster: Cluster,
) -> None:
    """On a clock 60x faster than wall time shared by both masters."""
    env = {TEST_CLOCK_ENV: f"{SCALE}@{time.time()!r}"}
    for _ in range(2):
        cluster.master(env)
    cluster.agent("simulated")
    first = cluster.wait_leader()
    cluster.wait_agents(first.url)
    base = first.url + "/metronome/v1"
    every_minute = [{"id": "m", "cron": "* * * * *"}]
    for job_id in ("tick", "pulse"):  # "pulse" keeps firing: proof that minutes pass
        spec = {
            "id": job_id,
            "run": {"cmd": "true", "cpus": 0.1, "mem": 32},
            "labels": FINISH,
            "schedules": every_minute,
        }
        _ok(request(base + "/jobs", "POST", spec), 201)

    tick = wait_for(
        lambda: (d := job_with_history(first.url, "tick"))["history"]["successCount"] >= 2 and d,
        timeout=30,
        what="two scheduled runs",
    )
    ids = run_ids(tick)
    assert len(set(ids)) == len(ids)
    # A scheduled run id starts with its slot (YYYYmmddHHMMSS): one run per slot, and
    # the slots (newest first in history) strictly increase.
    slots = [r["id"][:14] for r in tick["history"]["successfulFinishedRuns"]][::-1]
    assert slots == sorted(set(slots)), slots
    assert all(s.endswith("00") for s in slots), slots  # whole minutes: cron slots

    # Disable: the PUT answers after the write, so the runs it lets through are known.
    r = request(base + "/jobs/tick/schedules/m", "PUT", {**every_minute[0], "enabled": False})
    assert _ok(r)["enabled"] is False
    frozen = set(run_ids(job_with_history(first.url, "tick")))

    def pulse_runs(url: str) -> int:
        count: int = job_with_history(url, "pulse")["history"]["successCount"]
        return count

    def minutes_pass(url: str, n: int) -> None:
        start = pulse_runs(url)
        wait_for(lambda: pulse_runs(url) >= start + n, timeout=30, what=f"{n} more minutes")

    minutes_pass(first.url, 2)
    assert set(run_ids(job_with_history(first.url, "tick"))) == frozen

    first.kill9()
    second = wait_for(
        lambda: (m := cluster.leader()) is not None and m is not first and m,
        timeout=30,
        what="a new leader",
    )
    sched = _ok(request(second.url + "/metronome/v1/jobs/tick/schedules/m"))
    assert sched["enabled"] is False
    minutes_pass(second.url, 2)  # the new leader's scheduler runs (pulse fires) ...
    doc = job_with_history(second.url, "tick")
    assert set(run_ids(doc)) == frozen  # ... and the disabled schedule stays quiet
    assert doc["activeRuns"] == []
    assert _ok(request(second.url + "/metronome/v1/jobs/tick/schedules/m"))["enabled"] is False


def test_leader_killed_during_an_active_run_leaves_one_task(cluster: Cluster) -> None:
    masters = [cluster.master() for _ in range(2)]
    cluster.agent("simulated")
    first = cluster.wait_leader()
    assert first in masters
    base = first.url + "/metronome/v1"
    status, _ = request(base + "/jobs", "POST", {"id": "long", "run": {"cmd": "sleep 1000"}})
    assert status == 201
    cluster.wait_agents(first.url)
    status, run = request(base + "/jobs/long/runs", "POST")
    assert status == 201
    run_url = f"/metronome/v1/jobs/long/runs/{run['id']}"
    wait_for(lambda: request(first.url + run_url)[1]["status"] == "ACTIVE", what="ACTIVE")
    task_id = f"long_{run['id']}.1"

    first.kill9()
    second = wait_for(
        lambda: (m := cluster.leader()) is not None and m is not first and m,
        timeout=30,
        what="a new leader",
    )

    def reconciled() -> Any:
        status, body = request(second.url + run_url)
        if status != 200 or body["status"] != "ACTIVE":
            return None
        return body["tasks"][0]["status"] == "TASK_RUNNING" and body

    body = wait_for(reconciled, timeout=30, what="the run adopted by the new leader")
    assert [t["id"] for t in body["tasks"]] == [task_id]

    def agent_tasks() -> list[str]:
        status, doc = request(second.url + "/mesos/master/tasks")
        assert status == 200
        return [t["id"] for t in doc["tasks"] if t["id"].startswith("long_")]

    wait_for(lambda: agent_tasks() == [task_id], what="the task known to the new master")

    def ticks() -> int:
        status, doc = request(second.url + "/metronome/v1/metrics")
        assert status == 200
        return int(doc["counters"]["metronome.ticks.counter"]["count"])

    seen = ticks()
    wait_for(lambda: ticks() >= seen + 3, what="three Metronome ticks")  # nothing relaunches
    assert agent_tasks() == [task_id]

    status, _ = request(second.url + run_url + "/actions/stop", "POST")
    assert status == 200
    wait_for(
        lambda: (
            request(second.url + "/metronome/v1/jobs/long?embed=history")[1]["history"][
                "failureCount"
            ]
            == 1
        ),
        what="the stopped run in history",
    )


def test_a_launch_lost_in_a_failover_is_not_killed_again_and_again(cluster: Cluster) -> None:
    """A run that could not launch (no agent fits it) has its task recorded, never
    reported. The second leader reconciles it, hears TASK_UNKNOWN and moves the run to a
    second attempt. The third leader must take that UNKNOWN task as gone: it was kept
    alive, reconciled, answered UNKNOWN and killed, whose answer was UNKNOWN again: a
    loop that rewrote the job in ZooKeeper about 10,000 times a second on an idle
    cluster."""
    masters = [cluster.master() for _ in range(3)]
    cluster.agent("simulated")  # cpus:4;mem:4096: the run below never fits
    first = cluster.wait_leader()
    assert first in masters
    body = {"id": "huge", "run": {"cmd": "sleep 1000", "mem": 8192}}
    assert request(first.url + "/metronome/v1/jobs", "POST", body)[0] == 201
    status, run = request(first.url + "/metronome/v1/jobs/huge/runs", "POST")
    assert status == 201
    run_url = f"/metronome/v1/jobs/huge/runs/{run['id']}"
    t1, t2 = f"huge_{run['id']}.1", f"huge_{run['id']}.2"
    wait_for(lambda: request(first.url + run_url)[1]["tasks"], what="the launch recorded")

    def next_leader(*old: Proc) -> Proc:
        leader: Proc = wait_for(
            lambda: (m := cluster.leader()) is not None and m not in old and m,
            timeout=30,
            what="a new leader",
        )
        return leader

    first.kill9()
    second = next_leader(first)

    def tasks(url: str) -> dict[str, str]:
        status, doc = request(url + run_url)
        return {t["id"]: t["status"] for t in doc["tasks"]} if status == 200 else {}

    wait_for(
        lambda: tasks(second.url) == {t1: "TASK_UNKNOWN", t2: "TASK_STAGING"},
        what="attempt 1 UNKNOWN, attempt 2 recorded",
    )
    second.kill9()
    third = next_leader(first, second)

    def counters() -> dict[str, Any]:
        status, doc = request(third.url + "/metronome/v1/metrics")
        assert status == 200
        return {k: v["count"] for k, v in doc["counters"].items()}

    seen = counters()["metronome.ticks.counter"]
    wait_for(lambda: counters()["metronome.ticks.counter"] >= seen + 5, what="five ticks")
    before = counters()
    wait_for(
        lambda: counters()["metronome.ticks.counter"] >= before["metronome.ticks.counter"] + 10,
        what="ten more ticks",
    )
    after = counters()
    assert after["metronome.docs_written.counter"] - before["metronome.docs_written.counter"] <= 2
    t3 = f"huge_{run['id']}.3"  # t2 never launched either: a third attempt waits
    assert tasks(third.url) == {t1: "TASK_UNKNOWN", t2: "TASK_UNKNOWN", t3: "TASK_STAGING"}
