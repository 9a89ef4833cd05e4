"""Logs and metrics on one real cluster, in one run (issue 21).

```
 pydcos cluster up --masters 2 --agents 1 --no-docker      (the user's cluster)
   logs    bench/_logs.py (H3's): line written by a task -> line received by an SSE
           client through the STANDBY (p50 <= 100 ms, p99 <= 300 ms); bulk read MB/s
           through the API vs `cat` of the same file (>= 0.3x)
 + one more agent ("pydcos agent", cpus:8 mem:16384, attribute bench:big)
   collect 100 native `sleep` tasks (real cgroups) at the default 2 s interval: the
           agent's collection thread CPU (its own counter, pydcos_agent_metrics_collect_
           cpu_seconds_total) over 30 s of wall time (<= 2 % of one core); the agent
           process' whole CPU over the same window is printed beside it
   scrape  200 tasks: GET /system/v1/agent/{id}/metrics/v0/containers through the
           standby, 40 times (p50 <= 100 ms); the leader's and /prometheus beside it
```

Run from the repo root: .venv/bin/python bench/observability.py
"""

from __future__ import annotations

import contextlib
import json
import os
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

try:
    from _logs import measure as measure_logs  # H3's helper
except ImportError:
    measure_logs = None

APP = "/bench-metrics"
COLLECT_TASKS = 100
SCRAPE_TASKS = 200
COLLECT_WINDOW = 30.0
SCRAPES = 40


def cli(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYDCOS_ZK", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def http(method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_json(url: str) -> Any:
    status, body = http("GET", url)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status} {body[:200]!r}")
    return json.loads(body)


def prom(url: str) -> dict[str, Any]:
    status, body = http("GET", url)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status}")
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def wait(cond: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception:
            v = None
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)


def roles(record: dict[str, Any]) -> tuple[str, str]:
    """(leader URL, standby URL) from each master's own /metrics."""

    def split() -> tuple[str, str] | None:
        urls = [p["http_url"] for p in record["processes"] if p["kind"] == "master"]
        lead, stand = [], []
        for u in urls:
            with contextlib.suppress(Exception):
                v = prom(u + "/metrics")["pydcos_master_elected"].samples[0].value
                (lead if v == 1.0 else stand).append(u)
        return (lead[0], stand[0]) if lead and stand else None

    return wait(split, 60, "a leader and a standby")  # type: ignore[no-any-return]


def running(leader: str) -> int:
    status, body = http("GET", leader + "/marathon/v2/apps" + APP)
    return int(json.loads(body)["app"]["tasksRunning"]) if status == 200 else 0


def scale(leader: str, n: int) -> None:
    status, body = http("PUT", leader + "/marathon/v2/apps" + APP + "?force=true", {"instances": n})
    if status not in (200, 201):
        raise RuntimeError(f"scale {APP} to {n}: {status} {body[:300]!r}")
    wait(lambda: running(leader) == n, 300, f"{n} tasks running", every=1.0)


def agent_figures(base: str, agent_id: str) -> tuple[float, float, int]:
    """(collector CPU seconds, passes, containers) from the agent's Prometheus text."""
    fams = prom(f"{base}/system/v1/agent/{agent_id}/metrics/v0/prometheus")
    cpu = fams["pydcos_agent_metrics_collect_cpu_seconds"].samples[0].value
    passes = fams["pydcos_agent_metrics_collect_passes"].samples[0].value
    cores = fams.get("pydcos_container_cpu_usage_seconds")
    containers = len([s for s in cores.samples if s.name.endswith("_total")]) if cores else 0
    return float(cpu), float(passes), containers


def process_cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def reap(root: str) -> None:
    """Whatever the big agent's tasks left (a failed run): SIGKILL the processes of its
    cgroups (ours: that agent started them), then remove the cgroups."""
    for _ in range(2):
        for ctrl in ("memory", "cpu", "cpuacct", "pids"):
            base = Path("/sys/fs/cgroup") / ctrl / root
            for procs in base.glob("*/cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    for pid in procs.read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)
    for ctrl in ("memory", "cpu", "cpuacct", "pids"):
        base = Path("/sys/fs/cgroup") / ctrl / root
        for d in [*base.glob("*/"), base]:
            with contextlib.suppress(OSError):
                d.rmdir()


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="pydcos-bench-obs-"))
    state = tmp / "cluster"
    agent: subprocess.Popen[bytes] | None = None
    agent_id = ""
    leader = standby = ""
    out: dict[str, Any] = {"bench": "observability"}
    up = cli("cluster", "up", "--insecure-dev", "--no-docker", "--no-auth", "--masters", "2",
             "--agents", "1",
             "--state-dir", str(state))  # fmt: skip
    try:
        if up.returncode != 0:
            raise RuntimeError(f"cluster up failed: {up.stdout}\n{up.stderr}")
        record = json.loads((state / "cluster.json").read_text())
        leader, standby = roles(record)
        print(f"leader {leader}, standby {standby}", flush=True)

        if measure_logs is not None:
            try:
                logs = measure_logs(leader, standby, str(state))
            except Exception as exc:  # the metrics figures still count
                logs = {"logs_error": f"{type(exc).__name__}: {exc}"}
            out.update(logs)
            print("logs:", json.dumps(logs), flush=True)
        else:
            print("logs: bench/_logs.py is not there: no follow/read figures", flush=True)

        # the big agent, as `pydcos cluster up` starts its agents
        zk = f"{record['zk_hosts']}{record['chroot']}"
        log = open(tmp / "big-agent.log", "wb")  # noqa: SIM115 (closed with the process)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        agent = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "agent", "--zk", zk, "--insecure-dev",
             "--session-timeout", "2.0",
             "--zk-credentials", str(state / "keys" / "zk.credentials"),
             "--hostname", "127.0.0.1", "--work-dir", str(tmp / "big-agent"),
             "--resources", "cpus:8;mem:16384;disk:8192",  # no ports: none needed
             "--attributes", "bench:big", "--containerizers", "mesos",
             "--cgroup-root", f"pydcos-bench-{os.getpid()}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
        )  # fmt: skip

        def big_agent() -> str | None:
            for a in get_json(leader + "/mesos/master/slaves")["slaves"]:
                if (a.get("attributes") or {}).get("bench") == "big":
                    return str(a["id"])
            return None

        agent_id = wait(big_agent, 60, "the big agent registered")
        app = {
            "id": APP,
            "cmd": "sleep 100000",
            "cpus": 0.01,
            "mem": 32,
            "instances": 0,
            "portDefinitions": [],  # no host port each: 200 tasks, not the range's 100
            "constraints": [["bench", "CLUSTER", "big"]],
        }
        status, body = http("POST", leader + "/marathon/v2/apps", app)
        if status != 201:
            raise RuntimeError(f"create {APP}: {status} {body[:300]!r}")

        # collection cost: 100 tasks, default interval
        t0 = time.monotonic()
        scale(leader, COLLECT_TASKS)
        print(f"{COLLECT_TASKS} tasks running in {time.monotonic() - t0:.1f} s", flush=True)
        wait(
            lambda: agent_figures(standby, agent_id)[2] == COLLECT_TASKS,
            30,
            "every task in the agent's metrics",
        )
        time.sleep(4.0)  # two passes with every task sampled (and its limits read)
        cpu0, passes0, _ = agent_figures(standby, agent_id)
        proc0, w0 = process_cpu(agent.pid), time.monotonic()
        time.sleep(COLLECT_WINDOW)
        cpu1, passes1, n = agent_figures(standby, agent_id)
        proc1, w1 = process_cpu(agent.pid), time.monotonic()
        wall = w1 - w0
        out["collect_cpu_pct"] = round(100.0 * (cpu1 - cpu0) / wall, 3)
        out["collect_ms_per_pass"] = round(1000.0 * (cpu1 - cpu0) / max(1.0, passes1 - passes0), 2)
        out["collect_passes"] = int(passes1 - passes0)
        out["agent_process_cpu_pct"] = round(100.0 * (proc1 - proc0) / wall, 2)
        print(f"collection with {n} tasks: {out['collect_cpu_pct']} % of a core "
              f"({out['collect_ms_per_pass']} ms CPU per pass, {out['collect_passes']} passes; "
              f"whole agent process {out['agent_process_cpu_pct']} %)", flush=True)  # fmt: skip

        # scrape latency: 200 tasks
        t0 = time.monotonic()
        scale(leader, SCRAPE_TASKS)
        print(f"{SCRAPE_TASKS} tasks running in {time.monotonic() - t0:.1f} s", flush=True)
        url = f"/system/v1/agent/{agent_id}/metrics/v0/containers"
        wait(lambda: len(get_json(standby + url)) == SCRAPE_TASKS, 30, "200 containers listed")

        def timed(u: str, n: int = SCRAPES) -> list[float]:
            ms = []
            for _ in range(n):
                t = time.perf_counter()
                status, _ = http("GET", u)
                ms.append((time.perf_counter() - t) * 1000)
                assert status == 200
            return ms

        scr = timed(standby + url)
        out["scrape_200_p50_ms"] = round(statistics.median(scr), 2)
        out["scrape_200_p99_ms"] = round(sorted(scr)[int(len(scr) * 0.99) - 1], 2)
        out["scrape_200_leader_p50_ms"] = round(statistics.median(timed(leader + url)), 2)
        one = get_json(standby + url)[0]
        out["container_doc_p50_ms"] = round(statistics.median(timed(f"{standby}{url}/{one}")), 2)
        prom_url = f"{standby}/system/v1/agent/{agent_id}/metrics/v0/prometheus"
        out["prometheus_200_p50_ms"] = round(statistics.median(timed(prom_url, 10)), 2)
        out["master_metrics_p50_ms"] = round(statistics.median(timed(leader + "/metrics", 10)), 2)
        print(json.dumps(out), flush=True)

    finally:
        if agent is not None:
            # the tasks go with the app, before the agent stops (its tasks outlive it)
            with contextlib.suppress(Exception):
                http("DELETE", leader + "/marathon/v2/apps" + APP + "?force=true")
                wait(
                    lambda: (
                        not get_json(f"{standby}/system/v1/agent/{agent_id}/metrics/v0/containers")
                    ),
                    120,
                    "the bench's tasks gone",
                    every=1.0,
                )
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        cli("cluster", "down", "--state-dir", str(state))
        reap(f"pydcos-bench-{os.getpid()}")

    targets = {
        "follow_p50_ms": lambda v: v is not None and v <= 100,
        "follow_p99_ms": lambda v: v is not None and v <= 300,
        "read_ratio": lambda v: v is not None and v >= 0.3,
        "scrape_200_p50_ms": lambda v: v is not None and v <= 100,
        "collect_cpu_pct": lambda v: v is not None and v <= 2.0,
    }
    for key in targets:
        out.setdefault(key, None)
    out["targets_met"] = all(ok(out[k]) for k, ok in targets.items())
    last = {k: out[k] for k in ("bench", *targets, "targets_met")}
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
