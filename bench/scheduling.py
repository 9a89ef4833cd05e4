"""Scheduling throughput: 1,000 simulated agents, one framework, 10,000 tasks.

    .venv/bin/python bench/scheduling.py [--agents 1000] [--tasks 10000]

Three OS processes on loopback, over the real transport, with the real ZooKeeper
electing the master: the leading master; a host of N simulated agents (cpus:8,
mem:16384 each; tasks "run" with no process); and this script as the framework,
which launches every task (0.1 cpus, 32 MB) from the offers it gets. The clock runs
from the framework's subscription until every task is RUNNING and every update is
acknowledged back to its agent.

Baseline, measured in the same run: the same workload through the master's pure
bookkeeping core (``MasterCore``) in this process, with no actors, codec or network,
so the ratio shows what the distributed machinery costs.

Targets (issue "Cluster manager"): >= 2,000 tasks/s end to end; allocation cycle over
1,000 agents <= 50 ms; master peak RSS <= 500 MB. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENT_RES = "cpus:8;mem:16384"
TASK_RES = "cpus:0.1;mem:32"


# ---------------------------------------------------------------------------- roles


def role_master(zk_hosts: str) -> None:
    from actors.master import MasterConfig, MasterOptions, MasterProcess
    from transport import Security

    proc = MasterProcess(
        MasterOptions(
            zk=zk_hosts,
            security=Security.plain(),
            # Mesos pings every 15 s; 5 s keeps 1,000 agents' pings off the hot path
            # while still being a live failure detector.
            config=MasterConfig(ping_interval=5.0, max_missed_pings=5),
        )
    ).start()
    print(f"MASTER {proc.address} {proc.gateway.url if proc.gateway else ''}", flush=True)
    _serve_until_stdin_closes()
    proc.stop()


def role_agents(master: str, count: int) -> None:
    from actors.agent import AgentActor, GetAgentState, SimulatedRunner
    from actors.resources import Resources
    from runtime import Actor, Node
    from transport import Security

    node = Node("agents", on_fatal=lambda reason: None)
    node.listen(security=Security.plain())
    res = Resources.parse(AGENT_RES)
    refs = []
    for i in range(count):
        name = f"agent{i}"
        refs.append(
            node.spawn(
                AgentActor,
                hostname=f"sim-{i:04d}",
                address=node.actor_address(name),
                resources=res,
                runner=SimulatedRunner(),
                master=master,
                update_retry_interval=10.0,
                register_retry_interval=2.0,
                name=name,
            )
        )

    class Stats(Actor):
        def receive(self, message: Any) -> Any:
            states = [r.ask(GetAgentState(), timeout=30) for r in refs]
            return {
                "registered": sum(1 for s in states if s["registered"]),
                "running": sum(
                    sum(1 for st in s["tasks"].values() if st == "TASK_RUNNING") for s in states
                ),
                "pending_updates": sum(s["pending_updates"] for s in states),
            }

    node.spawn(Stats, name="stats")
    print(f"AGENTS {node.address}", flush=True)
    _serve_until_stdin_closes()
    node.shutdown(10)


def spawn_role(
    script: str, args: list[str], log_dir: str, procs: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], str]:
    """Start ``script --role ...`` as a child (added to ``procs`` at once, so a failure
    later still stops it); returns it and the first line it prints (its addresses)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYDCOS_LOG="WARNING")
    log = open(Path(log_dir) / f"{args[1]}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        raise RuntimeError(f"{args[1]} did not start; see {log.name}")
    return proc, line


def launch_all(tasks: int, need: Any, prefix: str) -> Any:
    """A framework that launches ``tasks`` tasks of ``need`` from whatever it is offered
    and sets ``.done`` when all are RUNNING (the bare-framework baseline and workload)."""
    from actors import protocol as p
    from actors.framework import Scheduler, SchedulerDriver
    from actors.resources import Resources

    class LaunchAll(Scheduler):
        def __init__(self) -> None:
            self.launched = 0
            self.running = 0
            self.done = threading.Event()

        def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
            for offer in offers:
                free, batch = Resources.from_dict(offer.resources), []
                while self.launched < tasks and free.contains(need):
                    batch.append(
                        p.TaskInfo(
                            f"{prefix}{self.launched}",
                            prefix,
                            offer.agent_id,
                            need.to_dict(),
                            p.CommandSpec("true"),
                        )
                    )
                    free = free - need
                    self.launched += 1
                if batch:
                    driver.launch([offer.offer_id], batch, refuse_seconds=60)
                else:
                    driver.decline([offer.offer_id], refuse_seconds=60)

        def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
            if update.state == "TASK_RUNNING":
                self.running += 1
                if self.running == tasks:
                    self.done.set()

    return LaunchAll()


def stop_processes(procs: list[subprocess.Popen[str]]) -> None:
    """Stop every child by PID: close its stdin (the roles exit on EOF), then kill
    whatever has not exited within 15 s."""
    for proc in procs:
        if proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _serve_until_stdin_closes() -> None:
    signal.signal(signal.SIGTERM, lambda *a: sys.stdin.close())
    try:
        sys.stdin.read()
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------- baseline


def baseline_core(agents: int, tasks: int) -> dict[str, float]:
    """The same workload through the pure MasterCore: tasks/s and cycle time."""
    from actors import protocol as p
    from actors.master import MasterConfig, MasterCore, Send
    from actors.resources import Resources

    core = MasterCore("bench", MasterConfig(ping_interval=1e9), now=0.0)
    res = Resources.parse(AGENT_RES).to_dict()
    agent_ids = []
    for i in range(agents):
        out = core.handle(p.RegisterAgent(f"sim-{i}", f"tcp://a:1/agent{i}", res), 0.0)
        agent_ids.append(next(e.message.agent_id for e in out if isinstance(e, Send)))
    out = core.handle(p.Subscribe(p.FrameworkInfo("bench"), "tcp://f:1/fw"), 0.0)
    fid = next(e.message.framework_id for e in out if isinstance(e, Send))
    need = Resources.parse(TASK_RES)
    launched = running = 0
    now = 0.0
    cycles: list[float] = []
    started = time.perf_counter()
    while running < tasks:
        now += 0.05
        t0 = time.perf_counter()
        effects = core.tick(now)
        cycles.append((time.perf_counter() - t0) * 1000)
        for e in effects:
            if not (isinstance(e, Send) and isinstance(e.message, p.Offers)):
                continue
            for offer in e.message.offers:
                free, batch = Resources.from_dict(offer.resources), []
                while launched < tasks and free.contains(need):
                    batch.append(
                        p.TaskInfo(
                            f"t{launched}",
                            "t",
                            offer.agent_id,
                            need.to_dict(),
                            p.CommandSpec("true"),
                        )
                    )
                    free, launched = free - need, launched + 1
                if not batch:
                    core.handle(p.Decline(fid, [offer.offer_id], 60), now)
                    continue
                core.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", batch)]), now)
                for t in batch:
                    u = p.StatusUpdate(
                        fid, t.task_id, offer.agent_id, "TASK_RUNNING", t.task_id, now
                    )
                    core.handle(u, now)
                    core.handle(p.Acknowledge(fid, offer.agent_id, t.task_id, t.task_id), now)
                    running += 1
    elapsed = time.perf_counter() - started
    cycles.sort()
    return {"tasks_per_s": tasks / elapsed, "cycle_ms_p50": cycles[len(cycles) // 2]}


# ---------------------------------------------------------------------------- framework


def run(agents: int, tasks: int) -> dict[str, Any]:
    from actors import protocol as p
    from actors.framework import SchedulerDriver
    from actors.protocol import GetState
    from actors.resources import Resources
    from runtime import connect
    from zk import ZooKeeperServer

    procs: list[subprocess.Popen[str]] = []
    tmp = tempfile.mkdtemp(prefix="pydcos-bench-sched-")
    # Logs stay only when the run fails (the error names them); a good run cleans up.
    ok = False

    def spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
        return spawn_role(__file__, list(args), tmp, procs)

    with ZooKeeperServer() as zk_server:
        try:
            zk_hosts = f"{zk_server.hosts}/pydcos-bench"
            master_proc, line = spawn("--role", "master", "--zk", zk_hosts)
            master_addr = line.split()[1] + "/master"
            _, line = spawn("--role", "agents", "--master", master_addr, "--agents", str(agents))
            agents_addr = line.split()[1]
            cluster = connect("zk://" + zk_hosts, insecure_dev=True)
            stats = cluster.node.ref(f"{agents_addr}/stats")
            master = cluster.node.ref(master_addr)
            deadline = time.monotonic() + 120
            while master.ask(GetState("metrics"), timeout=30)["agents"] < agents:
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not all register within 120 s")
                time.sleep(0.2)

            bench = launch_all(tasks, Resources.parse(TASK_RES), "t")
            started = time.perf_counter()
            driver = SchedulerDriver(
                bench, p.FrameworkInfo("bench"), cluster.node, master=master_addr
            ).start()
            if not bench.done.wait(300):
                raise RuntimeError(f"only {bench.running}/{tasks} RUNNING after 300 s")
            while stats.ask("stats", timeout=60)["pending_updates"] > 0:
                if time.perf_counter() - started > 300:
                    raise RuntimeError("acknowledgements did not drain")
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            metrics = master.ask(GetState("metrics"), timeout=30)
            rss_mb = _peak_rss_mb(master_proc.pid)
            driver.stop(failover=True)
            cluster.close()
            ok = True
            return {
                "elapsed_s": elapsed,
                "tasks_per_s": tasks / elapsed,
                "alloc_cycle_ms": metrics["alloc_cycle_ms_p50"],
                "alloc_cycle_ms_max": metrics["alloc_cycle_ms_max"],
                "alloc_cycles": metrics["alloc_cycles"],
                "master_rss_mb": rss_mb,
            }
        finally:
            stop_processes(procs)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)


def _peak_rss_mb(pid: int) -> float:
    """VmHWM: the process' peak resident set, from the kernel."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["bench", "master", "agents"], default="bench")
    ap.add_argument("--zk", default="")
    ap.add_argument("--master", default="")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=10000)
    args = ap.parse_args()
    if args.role == "master":
        role_master(args.zk)
        return
    if args.role == "agents":
        role_agents(args.master, args.agents)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    base = baseline_core(args.agents, args.tasks)
    result = run(args.agents, args.tasks)
    ratio = result["tasks_per_s"] / base["tasks_per_s"]
    print(f"{'':28}{'end to end':>14}{'core only':>14}")
    print(f"{'tasks/s':28}{result['tasks_per_s']:>14.0f}{base['tasks_per_s']:>14.0f}")
    cyc, base_cyc = result["alloc_cycle_ms"], base["cycle_ms_p50"]
    print(f"{'allocation cycle p50 (ms)':28}{cyc:>14.2f}{base_cyc:>14.2f}")
    print(f"{'allocation cycle max (ms)':28}{result['alloc_cycle_ms_max']:>14.2f}")
    print(f"{'master peak RSS (MB)':28}{result['master_rss_mb']:>14.1f}")
    print(f"{'elapsed (s)':28}{result['elapsed_s']:>14.2f}")
    met = (
        result["tasks_per_s"] >= 2000
        and result["alloc_cycle_ms"] <= 50
        and result["master_rss_mb"] <= 500
    )
    print(
        json.dumps(
            {
                "bench": "scheduling",
                "tasks_per_s": round(result["tasks_per_s"], 1),
                "tasks_per_s_ratio_vs_core": round(ratio, 3),
                "alloc_cycle_ms": round(result["alloc_cycle_ms"], 2),
                "master_rss_mb": round(result["master_rss_mb"], 1),
                "agents": args.agents,
                "tasks": args.tasks,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
