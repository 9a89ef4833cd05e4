"""Log figures for bench/observability.py (issue 21), on the cluster it started.

```
 follow  a Marathon task prints its wall time (date +%s.%N) every 50 ms; an SSE client
         (sseclient-py) follows its stdout through the STANDBY master:
         latency = time received - time in the line (one host, one clock)
         targets: p50 <= 100 ms, p99 <= 300 ms
 read    a task writes 8 MiB of 100-byte lines; the same reader (this process, 1 MiB
         reads) takes the whole file once through the standby's API (text/plain) and
         once from `cat` of the sandbox file through a pipe: MB/s ratio >= 0.3
```

``measure(leader_url, standby_url, state_dir) -> dict`` (follow_p50_ms, follow_p99_ms,
read_ratio, and the figures behind them). It removes its apps before returning.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FOLLOW_APP = "/bench-logs-follow"
BULK_APP = "/bench-logs-bulk"
SAMPLES = 300
BULK_BYTES = 8 * 1024 * 1024
"""Under the sandbox log rotation size (10 MiB), so the file holds still while read."""
ROUNDS = 5
TICK = "while true; do date +%s.%N; sleep 0.05; done"
LINE = "x" * 99
BULK = f"yes {LINE} | head -c {BULK_BYTES}; exec sleep 100000"


def _request(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = cond()
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _running_task(leader: str, app: str) -> dict[str, Any]:
    prefix = app.strip("/").replace("/", "_") + "."

    def find() -> dict[str, Any] | None:
        tasks = _request("GET", leader + "/mesos/master/tasks?limit=1000")["tasks"]
        live = [t for t in tasks if t["id"].startswith(prefix) and t["state"] == "TASK_RUNNING"]
        return live[0] if live else None

    return dict(_wait(find, 60, f"{app} running"))


def _start(leader: str, app: str, cmd: str) -> dict[str, Any]:
    body = {"id": app, "cmd": cmd, "cpus": 0.1, "mem": 64, "instances": 1, "portDefinitions": []}
    _request("POST", leader + "/marathon/v2/apps", body)
    return _running_task(leader, app)


def _remove(leader: str, app: str) -> None:
    try:
        _request("DELETE", f"{leader}/marathon/v2/apps{app}?force=true")
    except (OSError, urllib.error.URLError):
        pass


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def follow_latency(standby: str, task_id: str, samples: int = SAMPLES) -> list[float]:
    """Milliseconds from a line's write (its own timestamp) to its SSE event here."""
    import sseclient
    import urllib3

    http = urllib3.PoolManager()
    r = http.request(
        "GET",
        f"{standby}/system/v1/logs/v2/task/{task_id}?cursor=END",
        headers={"Accept": "text/event-stream"},
        preload_content=False,
        timeout=urllib3.Timeout(connect=5, read=30),
    )
    if r.status != 200:
        raise RuntimeError(f"follow through {standby}: HTTP {r.status}")
    out: list[float] = []
    try:
        for ev in sseclient.SSEClient(r).events():
            got = time.time()
            if ev.event != "message":
                continue
            try:
                written = float(ev.data)
            except ValueError:
                continue
            out.append((got - written) * 1000.0)
            if len(out) >= samples:
                break
    finally:
        r.release_conn()
        r.close()
    return out


def _read_api(standby: str, task_id: str) -> tuple[int, float]:
    u = urlsplit(standby)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=60)
    start = time.perf_counter()
    conn.request("GET", f"/system/v1/logs/v2/task/{task_id}", headers={"Accept": "text/plain"})
    r = conn.getresponse()
    n = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    elapsed = time.perf_counter() - start
    conn.close()
    return n, elapsed


def _read_cat(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    n = 0
    while True:
        chunk = proc.stdout.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    proc.wait()
    return n, time.perf_counter() - start


def _sandbox(state_dir: str, task_id: str) -> Path:
    record = json.loads((Path(state_dir) / "cluster.json").read_text())
    for p in record["processes"]:
        if p["kind"] == "agent":
            candidate = Path(p["work_dir"]) / "sandboxes" / task_id / "stdout"
            if candidate.exists():
                return candidate
    raise RuntimeError(f"no sandbox of {task_id} under {state_dir}")


def measure(leader_url: str, standby_url: str, state_dir: str) -> dict[str, Any]:
    leader, standby = leader_url.rstrip("/"), standby_url.rstrip("/")
    out: dict[str, Any] = {}
    try:
        task = _start(leader, FOLLOW_APP, TICK)
        lat = follow_latency(standby, task["id"])
        _remove(leader, FOLLOW_APP)
        out["follow_samples"] = len(lat)
        out["follow_p50_ms"] = round(statistics.median(lat), 1)
        out["follow_p99_ms"] = round(_pct(lat, 0.99), 1)
        out["follow_max_ms"] = round(max(lat), 1)

        bulk = _start(leader, BULK_APP, BULK)
        path = _sandbox(state_dir, bulk["id"])
        _wait(lambda: path.stat().st_size >= BULK_BYTES, 120, "the bulk log written")
        api_rates, cat_rates = [], []
        for _ in range(ROUNDS):  # interleaved, so drift hits both alike
            n, s = _read_api(standby, bulk["id"])
            if n != BULK_BYTES:
                raise RuntimeError(f"the API gave {n} bytes of {BULK_BYTES}")
            api_rates.append(n / s / 1e6)
            n, s = _read_cat(path)
            cat_rates.append(n / s / 1e6)
        api, cat = statistics.median(api_rates), statistics.median(cat_rates)
        out["read_api_mb_s"] = round(api, 1)
        out["read_cat_mb_s"] = round(cat, 1)
        out["read_ratio"] = round(api / cat, 3)
    finally:
        _remove(leader, FOLLOW_APP)
        _remove(leader, BULK_APP)
    out["logs_targets_met"] = (
        out.get("follow_p50_ms", 1e9) <= 100
        and out.get("follow_p99_ms", 1e9) <= 300
        and out.get("read_ratio", 0) >= 0.3
    )
    return out


if __name__ == "__main__":  # by hand, on a running cluster: python bench/_logs.py STATE_DIR
    import sys

    rec = json.loads((Path(sys.argv[1]) / "cluster.json").read_text())
    urls = [p["http_url"] for p in rec["processes"] if p["kind"] == "master"]
    roles: dict[str, str] = {}
    for u in urls:
        snap = _request("GET", u + "/metrics/snapshot")
        roles["leader" if snap.get("master/elected") == 1 else "standby"] = u
    print(json.dumps(measure(roles["leader"], roles["standby"], sys.argv[1])))
