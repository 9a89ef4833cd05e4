"""Metronome across real processes: two masters (Metronome as a leader service), one
simulated agent, the real ZooKeeper. Kill -9 the leading master during an active run:
the new leader adopts the run and the agent still runs exactly one task for it.
"""

from __future__ import annotations

import contextlib
import http.client
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

from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

REPO = Path(__file__).resolve().parents[2]
MASTER_MAIN = Path(__file__).with_name("_master_main.py")


class Proc:
    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.argv, self.log = name, argv, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.address = self.url = ""

    def start(self) -> Proc:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        return self

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

        deadline = time.monotonic() + 30
        while not up():
            assert time.monotonic() < deadline, f"{self.name} did not start"
            time.sleep(0.05)
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


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[Proc]]:
    made: list[Proc] = []
    yield made
    for proc in reversed(made):
        proc.stop()


def test_leader_killed_during_an_active_run_leaves_one_task(
    zk_hosts: str, zk_chroot: str, tmp_path: Path, procs: list[Proc]
) -> None:
    zk = f"{zk_hosts}{zk_chroot}"
    masters = []
    for i in range(2):
        m = Proc(
            f"master-{i}",
            [sys.executable, str(MASTER_MAIN), "--zk", zk, "--tick", "0.1"],
            tmp_path / f"master-{i}.log",
        )
        procs.append(m.start())
        masters.append(m.wait_up("master"))
    agent = Proc(
        "agent",
        [
            sys.executable,
            "-m",
            "console.cli",
            "agent",
            "--zk",
            zk,
            "--insecure-dev",
            "--containerizers",
            "simulated",
            "--resources",
            "cpus:4;mem:4096",
            "--work-dir",
            str(tmp_path / "agent"),
        ],
        tmp_path / "agent.log",
    )
    procs.append(agent.start())
    agent.wait_up("agent")

    def leader() -> Proc | None:
        for m in masters:
            if m.popen is not None and m.popen.poll() is None:
                with contextlib.suppress(OSError):
                    if request(m.url + "/metronome/v1/jobs")[0] == 200:
                        return m
        return None

    first = wait_for(leader, timeout=30, what="a leading master with Metronome")
    base = first.url + "/metronome/v1"
    status, _ = request(base + "/jobs", "POST", {"id": "long", "run": {"cmd": "sleep 1000"}})
    assert status == 201
    wait_for(
        lambda: request(first.url + "/mesos/master/slaves")[1]["slaves"], what="agent registered"
    )
    status, run = request(base + "/jobs/long/runs", "POST")
    assert status == 201
    run_url = f"/metronome/v1/jobs/long/runs/{run['id']}"
    wait_for(lambda: request(first.url + run_url)[1]["status"] == "ACTIVE", what="ACTIVE")
    task_id = f"long_{run['id']}.1"

    first.kill9()
    second = wait_for(leader, timeout=30, what="a new leader")
    assert second is not first

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
    time.sleep(1.0)  # a few Metronome ticks: nothing relaunches
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
