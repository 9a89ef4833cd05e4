"""Marathon at scale: 100 simulated agents, 1,000 instances of one app, 10,000 tasks.

    .venv/bin/python bench/marathon.py [--agents 100] [--instances 1000] [--apps 10]

Three OS processes on loopback with the real ZooKeeper: the leading master running
Marathon (``MarathonService``); a host of N simulated agents (bench/scheduling.py's
``role_agents``: cpus:8, mem:16384 each, tasks "run" with no process); and this script,
which talks to Marathon only over its REST API, like any Marathon client.

1. ``POST /v2/apps`` with 1,000 instances; the clock runs until ``tasksRunning`` is
   1,000 (target <= 2 s; Marathon 0.15 needed 14 s for 500).
   Baseline, same run, same cluster: a raw framework (``SchedulerDriver``, no REST, no
   persistence, no deployment) launching the same 1,000 tasks.
2. Scale to 10,000 tasks across 10 apps; p50 latency of
   ``GET /v2/apps?embed=apps.tasks`` and ``GET /v2/tasks`` (target <= 250 ms each;
   Marathon 0.15's /v2/apps took 12 s at 1,000 tasks).
   Baseline: ``json.dumps`` of the same document from an in-memory dict.

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scheduling import launch_all, spawn_role, stop_processes  # noqa: E402

TASK_CPUS, TASK_MEM = 0.05, 32.0  # mem: the minimum Marathon accepts (actors/_validation)
TASK: dict[str, Any] = {"cpus": TASK_CPUS, "mem": TASK_MEM, "portDefinitions": []}


# ---------------------------------------------------------------------------- roles


def role_master(zk_hosts: str) -> None:
    from actors.marathon import MarathonService
    from actors.master import MasterConfig, MasterOptions, MasterProcess
    from bench.scheduling import _serve_until_stdin_closes
    from transport import Security

    proc = MasterProcess(
        MasterOptions(
            zk=zk_hosts,
            security=Security.plain(),
            config=MasterConfig(ping_interval=5.0, max_missed_pings=5),
            services=(MarathonService(),),
        )
    ).start()
    print(f"MASTER {proc.address} {proc.gateway.url if proc.gateway else ''}", flush=True)
    _serve_until_stdin_closes()
    proc.stop()


def role_agents(master: str, count: int) -> None:
    from bench.scheduling import role_agents as scheduling_agents

    scheduling_agents(master, count)


# ---------------------------------------------------------------------------- http


def http(method: str, url: str, body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


def get_json(url: str) -> Any:
    return json.loads(http("GET", url)[1])


def wait(cond: Any, timeout: float, what: str, interval: float = 0.01) -> None:
    """``runtime.testing.wait_for``, failing at once on an error (a benchmark's poll
    must not hide a broken endpoint)."""
    from runtime.testing import wait_for

    wait_for(cond, timeout, what, interval=interval, retry_errors=False)


def agents_idle(base: str) -> bool:
    """No agent runs anything (the raw framework's teardown has freed them all)."""
    slaves = get_json(f"{base}/mesos/master/slaves")["slaves"]
    return all(not s["used_resources"].get("cpus") for s in slaves)


def running(base: str, app_id: str) -> int:
    apps = get_json(f"{base}/marathon/v2/apps?id={app_id}")["apps"]
    return sum(a["tasksRunning"] for a in apps if a["id"] == app_id)


# ---------------------------------------------------------------------------- baseline


def raw_framework(cluster: Any, master_addr: str, tasks: int) -> float:
    """Seconds for a bare SchedulerDriver to get ``tasks`` tasks RUNNING."""
    from actors import protocol as p
    from actors.framework import SchedulerDriver
    from actors.resources import Resources

    raw = launch_all(tasks, Resources.from_scalars({"cpus": TASK_CPUS, "mem": TASK_MEM}), "raw")
    started = time.perf_counter()
    driver = SchedulerDriver(
        raw, p.FrameworkInfo("raw-baseline"), cluster.node, master=master_addr
    ).start()
    if not raw.done.wait(120):
        raise RuntimeError(f"raw framework: only {raw.running}/{tasks} RUNNING")
    elapsed = time.perf_counter() - started
    driver.stop(failover=False)  # teardown: its tasks are killed, resources freed
    return elapsed


def p50_ms(fn: Any, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


# ---------------------------------------------------------------------------- run


def run(agents: int, instances: int, apps: int, samples: int) -> dict[str, Any]:
    from actors.protocol import GetState
    from runtime import connect
    from zk import ZooKeeperServer

    procs: list[subprocess.Popen[str]] = []
    tmp = tempfile.mkdtemp(prefix="pydcos-bench-marathon-")
    # Logs stay only when the run fails (the error names them); a good run cleans up.
    ok = False

    def spawn(*args: str) -> str:
        return spawn_role(__file__, list(args), tmp, procs)[1]

    with ZooKeeperServer() as zk_server:
        try:
            zk_hosts = f"{zk_server.hosts}/pydcos-bench"
            _, master_addr, base = spawn("--role", "master", "--zk", zk_hosts).split()
            master_addr += "/master"
            agents_addr = spawn(
                "--role", "agents", "--master", master_addr, "--agents", str(agents)
            )
            del agents_addr
            cluster = connect("zk://" + zk_hosts, insecure_dev=True)
            master = cluster.node.ref(master_addr)
            wait(
                lambda: master.ask(GetState("metrics"), timeout=30)["agents"] >= agents,
                120,
                "agents to register",
                0.2,
            )
            wait(
                lambda: get_json(f"{base}/marathon/v2/info")["frameworkId"],
                30,
                "Marathon to subscribe",
                0.1,
            )

            raw_s = raw_framework(cluster, master_addr, instances)
            # The teardown's kills free the agents before Marathon's turn.
            wait(lambda: agents_idle(base), 30, "the raw framework's tasks gone", 0.05)

            app = {"id": "/bench/app-0", "cmd": "sleep 1000", "instances": instances, **TASK}
            started = time.perf_counter()
            status, _ = http("POST", f"{base}/marathon/v2/apps", app)
            assert status == 201, status
            wait(lambda: running(base, "/bench/app-0") >= instances, 120, "1,000 RUNNING", 0.005)
            scale_s = time.perf_counter() - started

            for i in range(1, apps):
                body = {**app, "id": f"/bench/app-{i}"}
                status, _ = http("POST", f"{base}/marathon/v2/apps", body)
                assert status == 201, status
            total = instances * apps
            wait(
                lambda: (
                    len(get_json(f"{base}/marathon/v2/tasks")["tasks"]) >= total
                    and not get_json(f"{base}/marathon/v2/deployments")
                ),
                300,
                f"{total} tasks",
                0.5,
            )

            apps_url = f"{base}/marathon/v2/apps?embed=apps.tasks"
            tasks_url = f"{base}/marathon/v2/tasks"
            get_apps_ms = p50_ms(lambda: http("GET", apps_url), samples)
            get_tasks_ms = p50_ms(lambda: http("GET", tasks_url), samples)
            apps_doc = json.loads(http("GET", apps_url)[1])
            tasks_doc = json.loads(http("GET", tasks_url)[1])
            n_tasks = sum(len(a["tasks"]) for a in apps_doc["apps"])
            base_apps_ms = p50_ms(lambda: json.dumps(apps_doc).encode(), samples)
            base_tasks_ms = p50_ms(lambda: json.dumps(tasks_doc).encode(), samples)
            cluster.close()
            ok = True
            return {
                "scale_1000_s": scale_s,
                "raw_1000_s": raw_s,
                "get_apps_10k_p50_ms": get_apps_ms,
                "get_tasks_10k_p50_ms": get_tasks_ms,
                "json_apps_10k_p50_ms": base_apps_ms,
                "json_tasks_10k_p50_ms": base_tasks_ms,
                "tasks_seen": n_tasks,
            }
        finally:
            stop_processes(procs)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["bench", "master", "agents"], default="bench")
    ap.add_argument("--zk", default="")
    ap.add_argument("--master", default="")
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--apps", type=int, default=10)
    ap.add_argument("--samples", type=int, default=21)
    args = ap.parse_args()
    if args.role == "master":
        role_master(args.zk)
        return
    if args.role == "agents":
        role_agents(args.master, args.agents)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    r = run(args.agents, args.instances, args.apps, args.samples)
    print(f"{'':36}{'marathon':>12}{'baseline':>12}")
    print(f"{'1,000 instances RUNNING (s)':36}{r['scale_1000_s']:>12.2f}{r['raw_1000_s']:>12.2f}")
    print(
        f"{'GET /v2/apps?embed=apps.tasks p50 ms':36}{r['get_apps_10k_p50_ms']:>12.1f}"
        f"{r['json_apps_10k_p50_ms']:>12.1f}"
    )
    print(
        f"{'GET /v2/tasks p50 ms':36}{r['get_tasks_10k_p50_ms']:>12.1f}"
        f"{r['json_tasks_10k_p50_ms']:>12.1f}"
    )
    print(
        f"(baselines: a raw SchedulerDriver; json.dumps of the same document; "
        f"{r['tasks_seen']} tasks)"
    )
    met = (
        r["scale_1000_s"] <= 2.0
        and r["get_apps_10k_p50_ms"] <= 250
        and r["get_tasks_10k_p50_ms"] <= 250
    )
    print(
        json.dumps(
            {
                "bench": "marathon",
                "scale_1000_s": round(r["scale_1000_s"], 3),
                "scale_ratio_vs_raw_framework": round(r["scale_1000_s"] / r["raw_1000_s"], 2),
                "get_apps_10k_p50_ms": round(r["get_apps_10k_p50_ms"], 1),
                "get_apps_ratio_vs_json_dumps": round(
                    r["get_apps_10k_p50_ms"] / r["json_apps_10k_p50_ms"], 2
                ),
                "get_tasks_10k_p50_ms": round(r["get_tasks_10k_p50_ms"], 1),
                "get_tasks_ratio_vs_json_dumps": round(
                    r["get_tasks_10k_p50_ms"] / r["json_tasks_10k_p50_ms"], 2
                ),
                "agents": args.agents,
                "tasks": r["tasks_seen"],
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
