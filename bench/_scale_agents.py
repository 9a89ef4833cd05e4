"""The scale bench's agent host: thousands of simulated agents in one OS process.

    python bench/_scale_agents.py --zk HOSTS/CHROOT --count 2500 --first 0

Each agent is a real ``AgentActor`` (its own actor thread, registration, pings, status
update streams with acknowledgements and retries), all on one ``Node`` and so one ZeroMQ
transport, as bench/scheduling.py's agents are. Tasks "run" with ``SimulatedRunner``
(no process). Like ``pydcos agent`` (actors/agent/_process.py) the host follows the
leader through ZooKeeper (``LeaderWatch``) and tells every agent ``MasterChanged``, so
after a leader SIGKILL every agent re-registers with the new leader on its own: that is
the re-registration storm the bench measures.

What differs from a real agent, and why: the per-host timers that look at a real machine
(sandbox GC, port checks, node metrics sampling) run once an hour, since a simulated
agent has no sandboxes, ports or host of its own; 10,000 of them ticking every few
seconds would measure this process, not the leader.

Prints ``AGENTS <address>`` when every agent actor is spawned; serves a ``stats`` actor
(``"stats"`` -> running tasks, launches and kills so far, summed over this host's
agents; ``"full"`` also asks every agent for its state: registered, pending updates);
exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import collections
import gc
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENT_RES = "cpus:16;mem:65536"
HOST_TIMER_S = 3600.0
LAUNCH_TIMES_KEPT = 256
"""Launch times each simulated agent keeps (``"launched_since:T"``)."""
"""Sandbox GC, port checks and metrics sampling of a simulated agent (see the docstring)."""
GC_THRESHOLDS = (100_000, 2, 2500)
"""This process's ``gc.set_threshold``, as a master's (actors/master/_process.py), once its
agents are spawned and their objects frozen out of the collector. Why: 2,500 agent actors
in one process are a heap no single real agent has; with CPython's defaults (700, 10,
10) an agent host spent 3.6 of its 9.8 CPU-s in the cycle collector while 25,000 tasks
launched (gc.callbacks, 2026-12-07: 7 full collections 2.1 s, 80 middle ones 0.7 s),
the machine's CPU the leader then lacked. Records die by reference counting here too."""


def make_runner_class() -> Any:
    from actors.agent import SimulatedRunner

    class CountingRunner(SimulatedRunner):  # type: ignore[misc]
        """``SimulatedRunner`` that also counts launches and kills (the agent host's
        ground truth for tasks launched/s and for "nothing restarted after a failover")."""

        def __init__(self) -> None:
            super().__init__()
            self.launches = 0
            self.kills = 0
            self.last_launches: collections.deque[float] = collections.deque(
                maxlen=LAUNCH_TIMES_KEPT
            )
            """When (``time.monotonic``: one clock for every process of the machine) the
            latest launches happened: the failover's "launching again" is the moment the
            probe's last task was launched, not when the bench's poll noticed it."""

        def launch(self, framework_id: str, task: Any, report: Any) -> None:
            self.launches += 1
            self.last_launches.append(time.monotonic())
            super().launch(framework_id, task, report)

        def kill(self, task_id: str, grace: float | None, report: Any) -> None:
            if task_id in self.running:
                self.kills += 1
            super().kill(task_id, grace, report)

    return CountingRunner


def serve(zk: str, count: int, first: int, register_retry: float) -> None:
    from actors import protocol as p
    from actors.agent import AgentActor, GetAgentState
    from actors.protocol import MASTER_ACTOR
    from actors.resources import Resources
    from runtime import Actor, Node
    from transport import Security
    from zk import LeaderInfo, LeaderWatch, close_quietly, connect

    # 10,000 threads: a small stack each keeps the address space modest (the actor loop
    # and the handlers are shallow).
    threading.stack_size(512 * 1024)
    node = Node(f"agents{first}", on_fatal=lambda reason: None)
    node.listen(security=Security.plain())
    res = Resources.parse(AGENT_RES)
    runner_cls = make_runner_class()
    runners: list[Any] = []
    refs = []
    for i in range(first, first + count):
        name = f"agent{i}"
        runner = runner_cls()
        runners.append(runner)
        refs.append(
            node.spawn(
                AgentActor,
                hostname=f"sim-{i:05d}",
                address=node.actor_address(name),
                resources=res,
                runner=runner,
                master=None,
                update_retry_interval=10.0,
                register_retry_interval=register_retry,
                gc_interval=HOST_TIMER_S,
                port_check_interval=HOST_TIMER_S,
                metrics_interval=HOST_TIMER_S,
                name=name,
            )
        )

    class Stats(Actor):
        def receive(self, message: Any) -> Any:
            out: dict[str, Any] = {
                "agents": len(refs),
                "running": sum(len(r.running) for r in runners),
                "launches": sum(r.launches for r in runners),
                "kills": sum(r.kills for r in runners),
            }
            if isinstance(message, str) and message.startswith("launched_since:"):
                since = float(message.partition(":")[2])
                return sorted(t for r in runners for t in r.last_launches if t >= since)
            if message == "full":
                states = [r.ask(GetAgentState(), timeout=60) for r in refs]
                out["registered"] = sum(1 for s in states if s["registered"])
                out["pending_updates"] = sum(s["pending_updates"] for s in states)
            return out

    node.spawn(Stats, name="stats")

    def on_leader(leader: LeaderInfo | None) -> None:
        address = f"{leader.address}/{MASTER_ACTOR}" if leader is not None else None
        for ref in refs:
            ref.tell(p.MasterChanged(address))

    gc.collect()
    gc.freeze()  # the agents, their actors and threads: long-lived, never garbage
    gc.set_threshold(*GC_THRESHOLDS)
    client = connect(zk, session_timeout=10.0)
    watch = LeaderWatch(client, on_leader)
    print(f"AGENTS {node.address}", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.stdin.close())
    try:
        sys.stdin.read()
    except (OSError, ValueError):
        pass
    watch.stop()
    close_quietly(client)
    node.shutdown(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zk", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--register-retry", type=float, default=5.0)
    args = ap.parse_args()
    if args.count < 1:
        raise SystemExit(f"--count: {args.count!r} must be at least 1")
    serve(args.zk, args.count, args.first, args.register_retry)


if __name__ == "__main__":
    main()
