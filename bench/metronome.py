"""Metronome at scale: 1,000 jobs run at once on 100 simulated agents; the job list with
history.

    .venv/bin/python bench/metronome.py [--jobs 1000] [--agents 100] [--history 20]

Three OS processes on loopback with the real ZooKeeper: the leading master with
Metronome as a leader service; a host of N simulated agents (a task labelled
``pydcos.simulated.exit=TASK_FINISHED`` finishes right after RUNNING; Metronome copies
job labels to task labels, so the bench's jobs carry that label); this script as the
HTTP client.

1. ``runs_1000_s``: POST ``/v1/jobs/{id}/runs`` for every job at once (each 201 only
   after the run is in ZooKeeper) until ``GET /v1/jobs?embed=historySummary`` counts
   every run SUCCESS (so: persisted launch decision, offer, launch, RUNNING, FINISHED,
   history written, update acknowledged). Target <= 3 s.
2. More rounds until every job has ``--history`` finished runs, then
   ``get_jobs_history_p50_ms``: ``GET /v1/jobs?embed=history`` p50. Target <= 250 ms.

Baselines, measured in the same run: the same 1,000 runs through the pure run state
machine and history in this process (no I/O); and ``json.dumps`` of the same job list
(the response parsed back into a dict), so the ratios show what the machinery costs.
ZooKeeper write volume: the server's zxid advance during phase 1 (one per transaction;
a multi of many documents counts once). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scheduling import (  # noqa: E402
    _serve_until_stdin_closes,
    role_agents,
    spawn_role,
    stop_processes,
)

LABELS = {"pydcos.simulated.exit": "TASK_FINISHED"}


# ---------------------------------------------------------------------------- roles


def role_master(zk_hosts: str) -> None:
    from actors.master import MasterConfig, MasterOptions, MasterProcess
    from actors.metronome import MetronomeConfig, MetronomeService
    from transport import Security

    proc = MasterProcess(
        MasterOptions(
            zk=zk_hosts,
            security=Security.plain(),
            config=MasterConfig(ping_interval=5.0, max_missed_pings=5),
            services=(MetronomeService(MetronomeConfig(tick_interval=0.5)),),
        )
    ).start()
    print(f"MASTER {proc.address} {proc.gateway.url if proc.gateway else ''}", flush=True)
    _serve_until_stdin_closes()
    proc.stop()


# ---------------------------------------------------------------------------- baselines


def baseline_runs(jobs: int) -> float:
    """Seconds for `jobs` runs through the pure half: create, launch, RUNNING, FINISHED,
    history; the JSON each write would store is built too (no I/O)."""
    from actors.metronome import (
        JobHistory,
        JobSpec,
        TaskUpdate,
        Tick,
        create_run,
        make_run_id,
        step,
    )

    specs = [
        JobSpec.from_json({"id": f"j{i}", "labels": LABELS, "run": {"cmd": "true", "mem": 32}})
        for i in range(jobs)
    ]
    started = time.perf_counter()
    for spec in specs:
        run = create_run(spec, make_run_id(0.0, spec.id), 0.0)
        run, effects = step(run, Tick(), 0.0)
        json.dumps(run.to_json())
        task_id = effects[0].task_id  # type: ignore[union-attr]
        run, _ = step(run, TaskUpdate(task_id, "TASK_RUNNING"), 0.1)
        run, _ = step(run, TaskUpdate(task_id, "TASK_FINISHED"), 0.2)
        json.dumps(JobHistory(spec.id).record(run).to_json())
    return time.perf_counter() - started


def baseline_dumps(doc: Any, repeat: int = 15) -> float:
    """p50 ms of json.dumps over the same job list, from an in-memory structure."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        json.dumps(doc)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


# ---------------------------------------------------------------------------- client


async def _bench(url: str, jobs: int, history: int, zk_port: int) -> dict[str, Any]:
    import aiohttp

    from zk import four_letter_word

    def zxid() -> int:
        for line in four_letter_word("127.0.0.1", zk_port, "srvr").splitlines():
            if line.startswith("Zxid:"):
                return int(line.split()[1], 16) & 0xFFFFFFFF
        raise RuntimeError("no Zxid in srvr output")

    base = url + "/metronome/v1"
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as http:

        async def call(method: str, path: str, body: Any = None, ok: int = 200) -> Any:
            async with http.request(method, base + path, json=body) as r:
                data = await r.read()
                if r.status != ok:
                    raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
                return json.loads(data) if data else None

        deadline = time.monotonic() + 60
        while True:
            try:
                await call("GET", "/jobs")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await asyncio.gather(
            *(
                call(
                    "POST",
                    "/jobs",
                    {
                        "id": f"bench-{i:04d}",
                        "labels": LABELS,
                        "run": {"cmd": "true", "cpus": 0.01, "mem": 32},
                    },
                    ok=201,
                )
                for i in range(jobs)
            )
        )

        async def successes() -> int:
            listed = await call("GET", "/jobs?embed=historySummary")
            return sum(j["historySummary"]["successCount"] for j in listed)

        async def one_round(expect: int) -> float:
            t0 = time.perf_counter()
            await asyncio.gather(
                *(call("POST", f"/jobs/bench-{i:04d}/runs", ok=201) for i in range(jobs))
            )
            while await successes() < expect:
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"runs did not all succeed: {await successes()}/{expect}")
                await asyncio.sleep(0.02)
            return time.perf_counter() - t0

        z0 = zxid()
        runs_s = await one_round(jobs)
        zk_txns = zxid() - z0
        rounds = [runs_s]
        for n in range(2, history + 1):
            rounds.append(await one_round(jobs * n))
        times = []
        body: Any = None
        for _ in range(25):
            t0 = time.perf_counter()
            async with http.get(base + "/jobs?embed=history") as r:
                raw = await r.read()
                assert r.status == 200
            times.append((time.perf_counter() - t0) * 1000)
            body = raw
        listed = json.loads(body)
        assert len(listed) == jobs
        assert all(len(j["history"]["successfulFinishedRuns"]) == min(history, 20) for j in listed)
        return {
            "runs_1000_s": runs_s,
            "round_s_median": statistics.median(rounds),
            "get_p50_ms": statistics.median(times),
            "get_bytes": len(body),
            "doc": listed,
            "zk_txns_phase1": zk_txns,
        }


def run(agents: int, jobs: int, history: int) -> dict[str, Any]:
    from actors.protocol import GetState
    from runtime import connect
    from zk import ZooKeeperServer

    procs: list[subprocess.Popen[str]] = []
    tmp = tempfile.mkdtemp(prefix="pydcos-bench-metronome-")
    # Logs stay only when the run fails (the error names them); a good run cleans up.
    ok = False

    def spawn(*args: str) -> str:
        return spawn_role(__file__, list(args), tmp, procs)[1]

    with ZooKeeperServer() as zk_server:
        try:
            zk_hosts = f"{zk_server.hosts}/pydcos-bench-metronome"
            line = spawn("--role", "master", "--zk", zk_hosts)
            master_addr, url = line.split()[1] + "/master", line.split()[2]
            spawn("--role", "agents", "--master", master_addr, "--agents", str(agents))
            cluster = connect("zk://" + zk_hosts, insecure_dev=True)
            master = cluster.node.ref(master_addr)
            deadline = time.monotonic() + 60
            while master.ask(GetState("metrics"), timeout=30)["agents"] < agents:
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not all register within 60 s")
                time.sleep(0.2)
            port = int(zk_server.hosts.rsplit(":", 1)[1])
            result = asyncio.run(_bench(url, jobs, history, port))
            cluster.close()
            ok = True
            return result
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
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--history", type=int, default=20)
    args = ap.parse_args()
    if args.role == "master":
        role_master(args.zk)
        return
    if args.role == "agents":
        role_agents(args.master, args.agents)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    base_runs = baseline_runs(args.jobs)
    result = run(args.agents, args.jobs, args.history)
    base_get = baseline_dumps(result["doc"])
    runs_s, get_ms = result["runs_1000_s"], result["get_p50_ms"]
    print(f"{'':34}{'measured':>12}{'baseline':>12}{'ratio':>10}")
    rows = [
        ("1,000 runs to SUCCESS (s)", runs_s, base_runs),
        ("GET /v1/jobs?embed=history p50 ms", get_ms, base_get),
    ]
    for label, value, base in rows:
        print(f"{label:34}{value:>12.3f}{base:>12.3f}{value / base:>10.2f}")
    print(f"{'round of 1,000 runs, median (s)':34}{result['round_s_median']:>12.3f}")
    print(f"{'ZooKeeper transactions, phase 1':34}{result['zk_txns_phase1']:>12d}")
    print(f"{'response size (bytes)':34}{result['get_bytes']:>12d}")
    met = runs_s <= 3.0 and get_ms <= 250.0
    print(
        json.dumps(
            {
                "bench": "metronome",
                "runs_1000_s": round(runs_s, 3),
                "runs_ratio_vs_pure": round(runs_s / base_runs, 1),
                "get_jobs_history_p50_ms": round(get_ms, 1),
                "get_ratio_vs_json_dumps": round(get_ms / base_get, 2),
                "zk_txns_1000_runs": result["zk_txns_phase1"],
                "jobs": args.jobs,
                "agents": args.agents,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
