"""Resident task relaunch latency, for bench/storage.py (``from _resident import measure``).

One ``pydcos cluster up`` (1 master, 2 agents, native containers) and one resident
Marathon app (a 16 MB persistent volume, ``backoffSeconds`` 0.1: Marathon's launch
backoff would otherwise add its 1 s default to every relaunch, whatever the platform
does). Each round SIGKILLs the app's task and times, from just before the kill to the
replacement's TASK_RUNNING (the agent's own status timestamp, read from the master's
state: no polling error in the figure); the replacement must be on the same agent with
the same volume, else the round counts as a failure.

``measure(rounds=7)`` -> the median in seconds, or None when the cluster could not run
it; it prints the samples. Run alone: ``.venv/bin/python bench/_resident.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 7
APP = {
    "id": "/bench-resident",
    "cmd": "while true; do date +%s >> data/beats; sleep 1; done",
    "cpus": 0.1,
    "mem": 32,
    "instances": 1,
    "backoffSeconds": 0.1,
    "container": {
        "type": "MESOS",
        "volumes": [
            {"containerPath": "data", "mode": "RW", "persistent": {"type": "root", "size": 16}}
        ],
    },
}


def _http(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
    return json.loads(raw) if raw else None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def _running(base: str, not_id: str, deadline: float) -> dict[str, Any] | None:
    """The app's RUNNING task other than ``not_id`` with its TASK_RUNNING timestamp."""
    while time.time() < deadline:
        state = _http(base + "/mesos/master/state") or {}
        for fw in state.get("frameworks", []):
            for t in fw.get("tasks", []):
                if not t["id"].startswith("bench-resident.") or t["id"] == not_id:
                    continue
                if t.get("state") != "TASK_RUNNING":
                    continue
                stamps = [
                    s["timestamp"] for s in t.get("statuses", []) if s["state"] == "TASK_RUNNING"
                ]
                if stamps:
                    return {"id": t["id"], "agent": t["slave_id"], "at": min(stamps)}
        time.sleep(0.02)
    return None


def _work_dir(state: Path, agent_id: str) -> Path | None:
    for d in (state / "agents").iterdir():
        f = d / "meta" / "agent_id"
        if f.exists() and f.read_text().strip() == agent_id:
            return d
    return None


def _base(up_stdout: str) -> str | None:
    for line in up_stdout.splitlines():
        if line.startswith("Marathon"):
            return line.split()[1].split("/marathon")[0]
    return None


def measure(rounds: int = ROUNDS) -> float | None:
    state = Path(tempfile.mkdtemp(prefix="bench-resident-"))
    up = _cli(
        "cluster", "up", "--insecure-dev", "--no-docker", "--no-auth", "--masters", "1",
        "--agents", "2",
        "--state-dir", str(state),
    )  # fmt: skip
    try:
        base = _base(up.stdout)
        if up.returncode != 0 or base is None:
            print(f"resident: cluster up failed: {up.stderr[-500:]}", file=sys.stderr)
            return None
        _http(base + "/marathon/v2/apps", "POST", APP)
        task = _running(base, "", time.time() + 60)
        if task is None:
            print("resident: the app never ran", file=sys.stderr)
            return None
        samples: list[float] = []
        failures = 0
        for _ in range(rounds):
            work = _work_dir(state, task["agent"])
            assert work is not None, task
            cp = json.loads((work / "meta" / "tasks" / f"{task['id']}.json").read_text())
            time.sleep(0.5)  # a steady state: the previous relaunch's updates are acked
            t0 = time.time()
            os.kill(int(cp["pid"]), signal.SIGKILL)
            nxt = _running(base, task["id"], time.time() + 60)
            if nxt is None or nxt["agent"] != task["agent"]:
                failures += 1
                print(f"resident: round failed: {nxt}", file=sys.stderr)
                if nxt is None:
                    break
            else:
                samples.append(max(0.0, nxt["at"] - t0))
            task = nxt
        _http(base + "/marathon/v2/apps/bench-resident", "DELETE")
        if not samples:
            return None
        p50 = statistics.median(samples)
        print(
            f"resident relaunch (kill -9 -> replacement RUNNING, same agent): "
            f"p50 {p50 * 1000:.0f} ms, samples {[round(s * 1000) for s in samples]} ms, "
            f"failed rounds {failures}, app backoffSeconds {APP['backoffSeconds']}"
        )
        return p50
    finally:
        _cli("cluster", "down", "--state-dir", str(state))
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps({"resident_relaunch_p50_s": measure()}))
