"""Benchmark: the console. ``pydcos cluster up`` (3 masters, 3 agents) until ready,
``cluster down`` until every process is gone, and a dashboard refresh with 1,000 tasks.

Baselines, measured in the same run: starting (and reaping) as many bare
``python -c pass`` processes as ``up`` starts; a plain rich ``Table`` render of the same
1,000 rows. Targets: up <= 10 s, down <= 3 s, refresh <= 100 ms.

Run from the repo root: ``.venv/bin/python bench/console.py``. The last line is JSON.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from console import DashboardApp, FakeSource, Tasks  # noqa: E402

MASTERS, AGENTS = 3, 3


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def bare_processes(n: int) -> float:
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", "pass"]) for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - started


def pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def cluster_times() -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="pydcos-bench-") as tmp:
        state = Path(tmp) / "cluster"
        started = time.perf_counter()
        up = cli(
            "cluster",
            "up",
            "--insecure-dev",
            "--no-docker",
            "--no-auth",
            "--masters",
            str(MASTERS),
            "--agents",
            str(AGENTS),
            "--state-dir",
            str(state),
        )
        up_s = time.perf_counter() - started
        if up.returncode != 0:
            cli("cluster", "down", "--state-dir", str(state))
            raise SystemExit(f"cluster up failed: {up.stderr.strip()}")
        record = json.loads((state / "cluster.json").read_text())
        pids = [p["pid"] for p in record["processes"]]
        pids += [p["child_pid"] for p in record["processes"] if p.get("child_pid", 0) > 0]
        started = time.perf_counter()
        down = cli("cluster", "down", "--state-dir", str(state))
        while any(pid_alive(p) for p in pids) and time.perf_counter() - started < 30:
            time.sleep(0.01)
        down_s = time.perf_counter() - started
        left = [p for p in pids if pid_alive(p)]
        if down.returncode != 0 or left:
            raise SystemExit(f"cluster down failed: {down.stderr.strip()} left={left}")
        return up_s, down_s, len(record["processes"])


def dashboard_refresh_ms(tasks: int = 1000, rounds: int = 7) -> float:
    source = FakeSource(apps=10, tasks=tasks)
    samples: list[float] = []

    async def main() -> None:
        app = DashboardApp(source)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            app.flush()
            await pilot.pause()
            for i in range(rounds):
                rows = source.tasks()
                state = "TASK_STAGING" if i % 2 == 0 else "TASK_RUNNING"
                for t in rows:
                    t["state"] = state
                started = time.perf_counter()
                app.dirty |= app.model.apply(Tasks(rows))
                app.flush()
                await pilot.pause()  # the screen is redrawn
                samples.append((time.perf_counter() - started) * 1000.0)

    asyncio.run(main())
    return statistics.median(samples)


def rich_table_ms(tasks: int = 1000) -> float:
    from rich.console import Console
    from rich.table import Table

    rows = FakeSource(apps=10, tasks=tasks).tasks()
    started = time.perf_counter()
    table = Table("TASK", "SERVICE", "STATE", "HEALTH", "HOST")
    for t in rows:
        table.add_row(t["id"], t["appId"], t["state"], "healthy", t["host"])
    Console(file=io.StringIO(), width=160).print(table)
    return (time.perf_counter() - started) * 1000.0


def main() -> int:
    up_s, down_s, n = cluster_times()
    bare_s = bare_processes(n)
    refresh = dashboard_refresh_ms()
    table = rich_table_ms()
    print(
        f"cluster up ({MASTERS} masters, {AGENTS} agents, ZooKeeper): {up_s:.2f} s "
        f"(bare start of {n} python processes: {bare_s:.2f} s, ratio {up_s / bare_s:.1f}x)"
    )
    print(f"cluster down, every process gone: {down_s:.2f} s")
    print(
        f"dashboard refresh, 1,000 tasks changed (median): {refresh:.1f} ms "
        f"(plain rich Table render of the same rows: {table:.1f} ms, "
        f"ratio {refresh / table:.2f}x)"
    )
    met = up_s <= 10.0 and down_s <= 3.0 and refresh <= 100.0
    print(
        json.dumps(
            {
                "bench": "console",
                "up_s": round(up_s, 3),
                "down_s": round(down_s, 3),
                "dashboard_refresh_ms": round(refresh, 2),
                "baseline_bare_processes_s": round(bare_s, 3),
                "baseline_rich_table_ms": round(table, 2),
                "targets_met": met,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
