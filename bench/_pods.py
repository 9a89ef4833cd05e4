"""Pod launch vs single task launch, for bench/ucr.py (``from _pods import measure``).

One ``pydcos cluster up`` (1 master, 1 agent, native containers). In rounds (alternating
which goes first): POST a single-task app (``sleep``) and a 2-container pod (two
``sleep`` containers sharing an ephemeral volume), each timed from just before the POST
to the moment the LAST of its tasks is TASK_RUNNING (the agents' own status timestamps,
read from the master's state: no polling error in the figure), then removed and waited
gone, and the cluster left to settle. The offer cycle (an allocation every 50 ms) is
most of the noise: hence medians of many rounds.

``measure()`` -> median(pod) / median(single task), or None when the cluster could not
run them; it prints the medians. Run alone: ``.venv/bin/python bench/_pods.py``.
"""

from __future__ import annotations

import json
import shutil
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
ROUNDS = 15
SETTLE = 0.3
"""Seconds between rounds: each launch starts from the same quiet cluster."""


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


def _running_at(base: str, prefix: str, count: int, deadline: float) -> float | None:
    """The wall time the last of ``count`` tasks whose id starts with ``prefix`` became
    RUNNING (its TASK_RUNNING status timestamp), once they all are."""
    while time.time() < deadline:
        state = _http(base + "/mesos/master/state")
        stamps = []
        for fw in state.get("frameworks", []):
            for t in fw.get("tasks", []):
                if t["id"].startswith(prefix) and t["state"] == "TASK_RUNNING":
                    stamps += [
                        s["timestamp"]
                        for s in t.get("statuses", [])
                        if s["state"] == "TASK_RUNNING"
                    ][:1]
        if len(stamps) >= count:
            return max(stamps)
        time.sleep(0.02)
    return None


def _gone(base: str, prefix: str, deadline: float) -> None:
    while time.time() < deadline:
        state = _http(base + "/mesos/master/state")
        live = [
            t
            for fw in state.get("frameworks", [])
            for t in fw.get("tasks", [])
            if t["id"].startswith(prefix)
        ]
        deps = _http(base + "/marathon/v2/deployments")
        if not live and not deps:
            return
        time.sleep(0.05)


def _one(base: str, kind: str, n: int) -> float | None:
    sleeper = {"shell": "exec sleep 3600"}
    if kind == "app":
        app_id = f"/bench-pods/single-{n}"
        body: dict[str, Any] = {"id": app_id, "cmd": sleeper["shell"], "cpus": 0.1, "mem": 32}
        url, prefix, count = base + "/marathon/v2/apps", f"bench-pods_single-{n}.", 1
        remove = f"{base}/marathon/v2/apps{app_id}"
    else:
        pod_id = f"/bench-pods/pod-{n}"
        body = {
            "id": pod_id,
            "volumes": [{"name": "v"}],
            "containers": [
                {
                    "name": name,
                    "resources": {"cpus": 0.1, "mem": 32},
                    "exec": {"command": sleeper},
                    "volumeMounts": [{"name": "v", "mountPath": "v"}],
                }
                for name in ("a", "b")
            ],
        }
        url, prefix, count = base + "/marathon/v2/pods", f"bench-pods_pod-{n}.instance-", 2
        remove = f"{base}/marathon/v2/pods{pod_id}"
    t0 = time.time()
    _http(url, "POST", body)
    at = _running_at(base, prefix, count, t0 + 60)
    _http(remove, "DELETE")
    _gone(base, prefix, time.time() + 60)
    time.sleep(SETTLE)  # the freed resources' offers come and go before the next POST
    return None if at is None else at - t0


def measure(rounds: int = ROUNDS) -> float | None:
    state = Path(tempfile.mkdtemp(prefix="pydcos-bench-pods-"))
    up = _cli(
        "cluster",
        "up",
        "--insecure-dev",
        "--no-docker",
        "--no-auth",
        "--masters",
        "1",
        "--agents",
        "1",
        "--state-dir",
        str(state),
    )
    try:
        if up.returncode != 0:
            print(f"pods bench: cluster up failed: {up.stderr.strip()[-300:]}")
            return None
        record = json.loads((state / "cluster.json").read_text())
        base = next(p["http_url"] for p in record["processes"] if p["kind"] == "master")
        singles: list[float] = []
        pods: list[float] = []
        _one(base, "app", -1)  # warm-up: the framework's first offers, code paths
        for n in range(rounds):
            order = [("app", singles), ("pod", pods)]
            for kind, out in order if n % 2 == 0 else order[::-1]:  # no order bias
                took = _one(base, kind, n)
                if took is not None:
                    out.append(took)
        if not singles or not pods:
            print("pods bench: launches did not reach RUNNING")
            return None
        single, pod = statistics.median(singles), statistics.median(pods)
        print(
            f"single task to RUNNING p50 {single * 1e3:.1f} ms; "
            f"2-container pod to RUNNING p50 {pod * 1e3:.1f} ms ({len(pods)} rounds)"
        )
        return pod / single
    finally:
        _cli("cluster", "down", "--state-dir", str(state))
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps({"pod_ratio": measure()}))
