"""Cluster actors (issue 27): pydcos' user actors beside Ray's, in one run.

    .venv/bin/python bench/cluster_actors.py [--spawns 7] [--calls 2000] [--pipelined 20000]
    make bench-ray        # installs ray into the venv first, then runs this

pydcos: one local cluster (``pydcos cluster up --masters 1 --agents 2 --no-docker
--insecure-dev``), this script as the client (``runtime.connect``). Ray (when ``import
ray`` works): ``ray.init()`` on this machine, the same class and the same operations.

1. ``spawn_p50_ms``: ``cluster.spawn(Counter)`` to the first reply of ``incr()``
   (placement through offers, worker start, registration), p50 of ``--spawns``.
   Ray: ``Counter.remote()`` to ``ray.get(c.incr.remote())``. Target <= 200 ms and
   <= 0.5x Ray.
2. ``call_p50_us``: one ``incr()`` round trip at a time (``.result()``), p50 of
   ``--calls``. Ray: ``ray.get(c.incr.remote())``. Target <= 0.5x Ray.
3. ``calls_per_s``: ``--pipelined`` calls issued from one caller, then waited for.
   Ray: the same with ObjectRefs and ``ray.get(list)``. Target >= 2x Ray.
4. ``restart_s``: SIGKILL of the worker process to the first successful call (the
   caller retries on ``ActorRestarting``). Ray: ``max_restarts=-1`` actor, SIGKILL of
   its worker, retry on ``RayActorError``/``ActorUnavailableError``. Target <= 1 s.
5. ``replace_s``: SIGKILL of the agent hosting an actor *and* of the actor's worker
   (the machine is gone) to the first successful call on the other agent. Target
   <= 5 s. Ray on one machine has no second node to lose: null (Ray marks a node dead
   after its health checks fail, ~15 s by default).

Both sides give the actor 1 CPU: pydcos enforces it (a cgroup CPU quota on the worker's
native container: at ``cpus=0.1`` the worker is throttled to a tenth of a core and
pipelined calls drop ~4x), Ray only counts it.

Last line: one JSON object; Ray's figures are null when ray is not installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Counter:
    def __init__(self, start: int = 0) -> None:
        self.n = start

    def incr(self, k: int = 1) -> int:
        self.n += k
        return self.n

    def pid(self) -> int:
        return os.getpid()


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYDCOS_ZK", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )


def p50(values: list[float]) -> float:
    return statistics.median(values)


def retry_call(fn: Any, retry: tuple[type[BaseException], ...], limit: float = 60.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        try:
            return fn()
        except retry:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


# -- pydcos --------------------------------------------------------------------------


def worker_pid(address: str) -> int:
    """The host PID of the worker serving ``address`` (``tcp://127.0.0.1:PORT/actor``):
    the process listening on that port (inside its PID namespace the worker sees
    another PID, and a warm worker's command line names no actor)."""
    import psutil

    port = int(address.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        listening = conn.status == psutil.CONN_LISTEN and conn.laddr
        if listening and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    raise AssertionError(f"no process listens on {address}")


def agent_of(record: dict[str, Any], worker_pid: int) -> dict[str, Any] | None:
    """The agent process (from cluster.json) whose process tree holds ``worker_pid``."""
    import psutil

    agents = {p["pid"]: p for p in record["processes"] if p["kind"] == "agent"}
    try:
        proc: Any = psutil.Process(worker_pid)
        while proc is not None:
            if proc.pid in agents:
                return agents[proc.pid]
            proc = proc.parent()
    except psutil.Error:
        return None
    return None


def bench_pydcos(args: argparse.Namespace) -> dict[str, Any]:
    from runtime import ActorRestarting, connect, remote
    from runtime.errors import AskTimeout

    work = Path(tempfile.mkdtemp(prefix="pydcos-bench-actors-"))
    state = work / "cluster"
    up = cli(state, "cluster", "up", "--insecure-dev", "--no-docker", "--no-auth", "--masters", "1",
             "--agents", "2")  # fmt: skip
    out: dict[str, Any] = {}
    try:
        if up.returncode != 0:
            raise SystemExit(f"bench: cluster up failed: {up.stdout}\n{up.stderr}")
        record = json.loads((state / "cluster.json").read_text())
        zk = f"zk://{record['zk_hosts']}{record['chroot']}"
        rc = remote(cpus=1.0, mem=128, max_restarts=-1)(Counter)
        with connect(zk, insecure_dev=True) as cluster:
            cluster.wait_leader(30)
            warm = cluster.spawn(rc)  # the first spawn also warms the framework's caches
            warm.incr().result(60)
            cluster.kill(warm)

            spawns = []
            for _ in range(args.spawns):
                t0 = time.perf_counter()
                h = cluster.spawn(rc)
                h.incr().result(60)
                spawns.append(time.perf_counter() - t0)
                cluster.kill(h)
            out["spawn_p50_ms"] = round(p50(spawns) * 1000, 1)

            c = cluster.spawn(rc, name="bench-counter")
            c.incr().result(60)
            for _ in range(200):
                c.incr().result(10)
            rtts = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                c.incr().result(10)
                rtts.append(time.perf_counter() - t0)
            out["call_p50_us"] = round(p50(rtts) * 1e6, 1)

            t0 = time.perf_counter()
            futs = [c.incr() for _ in range(args.pipelined)]
            _done, pending = cluster.wait(futs, timeout=120)
            elapsed = time.perf_counter() - t0
            assert not pending and futs[-1].result() > args.pipelined
            out["calls_per_s"] = round(args.pipelined / elapsed)

            restarts = []
            for _ in range(3):
                pid = worker_pid(c.info.address)
                t0 = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                retry_call(lambda: c.incr().result(30), (ActorRestarting, AskTimeout))
                restarts.append(time.perf_counter() - t0)
            out["restart_s"] = round(p50(restarts), 3)

            # Agent loss: the agent and its workers die together (a machine gone).
            c.incr().result(30)
            pid = worker_pid(c.info.address)
            agent = agent_of(record, pid)
            if agent is None:
                out["replace_s"] = None
                out["replace_note"] = "could not find the agent hosting the worker"
            else:
                t0 = time.perf_counter()
                os.kill(agent["pid"], signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                retry_call(lambda: c.incr().result(30), (ActorRestarting, AskTimeout), 120)
                out["replace_s"] = round(time.perf_counter() - t0, 3)
                out["replaced_on"] = c.info.hostname or c.info.agent_id
            cluster.kill(c)
    finally:
        cli(state, "cluster", "down")
    return out


# -- Ray --------------------------------------------------------------------------------


def bench_ray(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import ray
    except ImportError:
        return {"ray": "not installed"}
    ray.init(num_cpus=4, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    out: dict[str, Any] = {"ray_version": ray.__version__}
    try:
        rc: Any = ray.remote(num_cpus=1, max_restarts=-1)(Counter)
        warm = rc.remote()
        ray.get(warm.incr.remote())
        ray.kill(warm)
        spawns = []
        for _ in range(args.spawns):
            t0 = time.perf_counter()
            h = rc.remote()
            ray.get(h.incr.remote())
            spawns.append(time.perf_counter() - t0)
            ray.kill(h)
        out["ray_spawn_p50_ms"] = round(p50(spawns) * 1000, 1)

        c = rc.remote()
        ray.get(c.incr.remote())
        for _ in range(200):
            ray.get(c.incr.remote())
        rtts = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            ray.get(c.incr.remote())
            rtts.append(time.perf_counter() - t0)
        out["ray_call_p50_us"] = round(p50(rtts) * 1e6, 1)

        t0 = time.perf_counter()
        refs = [c.incr.remote() for _ in range(args.pipelined)]
        ray.get(refs)
        out["ray_calls_per_s"] = round(args.pipelined / (time.perf_counter() - t0))

        errors: tuple[type[BaseException], ...] = (ray.exceptions.RayActorError,)
        if hasattr(ray.exceptions, "ActorUnavailableError"):
            errors += (ray.exceptions.ActorUnavailableError,)
        restarts = []
        for _ in range(3):
            pid = ray.get(c.pid.remote())
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            retry_call(lambda: ray.get(c.incr.remote(), timeout=30), errors)
            restarts.append(time.perf_counter() - t0)
        out["ray_restart_s"] = round(p50(restarts), 3)
    finally:
        ray.shutdown()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawns", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--pipelined", type=int, default=20000)
    ap.add_argument("--no-ray", action="store_true", help="skip Ray even when installed")
    ap.add_argument("--ray-only", action="store_true", help="measure Ray alone and stop")
    args = ap.parse_args()

    if args.ray_only:
        print(json.dumps(bench_ray(args)))
        return
    mine = bench_pydcos(args)
    print(f"pydcos: {json.dumps(mine)}", flush=True)
    theirs: dict[str, Any] = {"ray": "skipped"} if args.no_ray else bench_ray(args)
    print(f"ray:    {json.dumps(theirs)}", flush=True)

    ray_spawn = theirs.get("ray_spawn_p50_ms")
    ray_call = theirs.get("ray_call_p50_us")
    ray_rate = theirs.get("ray_calls_per_s")
    checks = [
        mine["spawn_p50_ms"] <= 200,
        mine["restart_s"] <= 1.0,
        mine.get("replace_s") is not None and mine["replace_s"] <= 5.0,
    ]
    if ray_spawn is not None and ray_call is not None and ray_rate is not None:
        checks += [
            mine["spawn_p50_ms"] <= 0.5 * ray_spawn,
            mine["call_p50_us"] <= 0.5 * ray_call,
            mine["calls_per_s"] >= 2 * ray_rate,
        ]
    result = {
        "bench": "cluster_actors",
        "spawn_p50_ms": mine["spawn_p50_ms"],
        "ray_spawn_p50_ms": ray_spawn,
        "call_p50_us": mine["call_p50_us"],
        "ray_call_p50_us": ray_call,
        "calls_per_s": mine["calls_per_s"],
        "ray_calls_per_s": ray_rate,
        "restart_s": mine["restart_s"],
        "ray_restart_s": theirs.get("ray_restart_s"),
        "replace_s": mine.get("replace_s"),
        "ray_measured": ray_spawn is not None,
        "targets_met": all(checks),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
